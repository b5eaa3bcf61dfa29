/* The signup path: each event is applied to the graph, placed in the live
 * state, scored on its neighbourhood (gathered once) and its rows queued for
 * the group commit; a ring's score rises as it grows, before any batch run. */
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "commit.h"
#include "learn.h"
#include "live.h"
#include "score.h"
#include "stops.h"
#include "view.h"

/* Is the event's IP an IPv6 address? Its subnet text ends in "/48". */
static int subnet_v6(const rw_hevent *h) {
    return h->subnet_len >= 3 && memcmp(h->subnet + h->subnet_len - 3, "/48", 3) == 0;
}

/* Places and scores account a after its event was applied, and remembers
 * the score. Under the write lock; v is the caller's scratch. */
static rw_status place_and_score(rw_engine *e, const rw_event_raw *ev, const rw_hevent *h, uint32_t a, int signup,
                                 rw_view *v, rw_decision *d, int *stopped, rw_err *err) {
    if (rw_view_gather(v, e, a, ev->ts, 1) != 0) return rw_fail(err, RW_ERR_NOMEM, "out of memory for online scoring");
    v->subnet_v6 = (h->mask & (1u << (RW_KIND_IP - 1))) && subnet_v6(h);
    if (signup) {
        e->signups_recorded++;
        rw_live_count_subnets(&e->live, v);
    }
    rw_live_place(e, v, signup);
    e->live.placed = rw_graph_node_count(e->graph);
    if (e->live.flags[a] & RW_LIVE_FRAUD_ACCOUNT) rw_live_taint(&e->live, v);
    v->comm = e->live.comm[a];
    *stopped = rw_engine_live_score(e, v, signup, d) && signup;
    if (*stopped) rw_stops_count(&e->live, e->graph, a);
    if (signup && d->raised != RW_RAISED_NONE) e->signups_raised[d->raised]++;
    return RW_OK;
}

/* Applies, places and scores one event and queues its rows. Under the write
 * lock and gc_mu. */
static rw_status record_one(rw_engine *e, const rw_event_raw *ev, const rw_hevent *h, rw_view *v, rw_decision *d,
                            rw_err *err) {
    size_t nacc = e->pending.nacc;
    uint32_t a;
    rw_apply_delta delta = {0};
    rw_status st = rw_engine_apply(e, h, ev->account, &a, &e->pending, &delta, err);
    if (st != RW_OK) return st;
    if (e->pending.nacc > nacc) {
        /* The row must outlive the caller's buffer: point it at the
         * graph's copy, which lives until the graph is rebuilt (and a
         * rebuild waits for the pending rows first). */
        size_t len;
        e->pending.acc[nacc].ext = rw_graph_account_id(e->graph, a, &len);
    }
    if (rw_live_grow(&e->live, rw_graph_node_count(e->graph)) != 0)
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for online scoring");
    int signup = ev->type == RW_EV_SIGNUP || delta.new_accounts;
    int stopped = 0;
    st = place_and_score(e, ev, h, a, signup, v, d, &stopped, err);
    if (st != RW_OK) return st;
    d->new_account = delta.new_accounts != 0;
    if (signup) rw_learn_signup(e, a, ev->ts, d);
    e->pending.ev[e->pending.nev - 1].score = (float)d->score;
    e->pending.ev[e->pending.nev - 1].stopped = (uint8_t)stopped;
    if ((unsigned)ev->type < RW_EV_TYPE_COUNT) e->events_recorded[ev->type]++;
    return RW_OK;
}

/* Applies and scores n events and queues their rows; with cb, registers it
 * to be called once they are settled (only when it returns RW_OK). *seq
 * receives the last event's sequence number. */
static rw_status record_events(rw_engine *e, const rw_event_raw *ev, size_t n, rw_decision *out, rw_record_cb cb,
                               void *ctx, int unwatched, uint64_t *seq_out, rw_err *err) {
    *seq_out = 0;
    rw_status st = rw_engine_need_graph(e, err);
    if (st != RW_OK) return st;
    if (!e->committer_running || !e->hasher)
        return rw_fail(err, RW_ERR_PERM, "the database is open read-only: events cannot be recorded");
    if (n == 0) return RW_OK;
    rw_hevent one, *hev = n == 1 ? &one : malloc(n * sizeof *hev);
    if (!hev) return rw_fail(err, RW_ERR_NOMEM, "out of memory for %zu events", n);
    /* Keyed hashing is the costly part: done before taking the lock. */
    for (size_t i = 0; i < n; i++) {
        rw_engine_hash_event(e->hasher, &ev[i], &hev[i]);
        hev[i].account_len = (uint16_t)ev[i].account_len;
    }
    rw_view v;
    rw_view_init(&v);
    pthread_rwlock_wrlock(&e->lock);
    pthread_mutex_lock(&e->gc_mu);
    size_t applied = 0;
    /* Accounts a bulk ingest added since are placed before this one. */
    if (e->live.placed < rw_graph_node_count(e->graph) && rw_live_place_rest(e, e->live.placed) != 0)
        st = rw_fail(err, RW_ERR_NOMEM, "out of memory for online scoring");
    for (size_t i = 0; st == RW_OK && i < n; i++) {
        rw_decision scratch, *d = out ? &out[i] : &scratch;
        /* An event applied counts even when scoring it ran out of memory:
         * its rows are queued, and the graph holds it. */
        size_t nev = e->pending.nev;
        st = record_one(e, &ev[i], &hev[i], &v, d, err);
        applied += e->pending.nev > nev;
    }
    uint64_t seq = rw_engine_commit_queue(e, applied, unwatched, cb, ctx, &st, err);
    pthread_mutex_unlock(&e->gc_mu);
    pthread_rwlock_unlock(&e->lock);
    rw_view_free(&v);
    if (hev != &one) free(hev);
    *seq_out = seq;
    return st;
}

rw_status rw_engine_record(rw_engine *e, const rw_event_raw *ev, size_t n, rw_decision *out, int durable, rw_err *err) {
    uint64_t seq;
    rw_status st = record_events(e, ev, n, out, NULL, NULL, !durable, &seq, err);
    if (st != RW_OK) return st;
    return durable ? rw_engine_commit_wait(e, seq, err) : RW_OK;
}

rw_status rw_engine_record_async(rw_engine *e, const rw_event_raw *ev, size_t n, rw_decision *out, rw_record_cb cb,
                                 void *ctx, rw_err *err) {
    uint64_t seq;
    return record_events(e, ev, n, out, cb, ctx, 0, &seq, err);
}
