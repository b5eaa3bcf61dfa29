/* The group commit: record() appends the store rows of its events to
 * pending and waits (or registers a callback); the committer thread writes
 * everything pending in one transaction and wakes the waiters. A failed
 * commit fails everything not yet durable and rebuilds the graph from the
 * store. Checkpoints run on a thread of their own, beside the commits. */
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "commit.h"
#include "live.h"

/* Calls, outside the lock, the waiters whose events are settled: up to
 * upto, with st (RW_OK: durable). Called by the committer with gc_mu held;
 * returns with it held. */
static void settle_waiters(rw_engine *e, uint64_t upto, rw_status st, const rw_err *err) {
    size_t k = 0;
    while (k < e->nwaiters && e->waiters[k].seq <= upto) k++;
    if (!k) return;
    rw_waiter stack[64], *w = k <= 64 ? stack : malloc(k * sizeof *w);
    if (!w) w = stack, k = 64; /* out of memory: settle in slices of 64 */
    memcpy(w, e->waiters, k * sizeof *w);
    memmove(e->waiters, e->waiters + k, (e->nwaiters - k) * sizeof *w);
    e->nwaiters -= k;
    pthread_mutex_unlock(&e->gc_mu);
    for (size_t i = 0; i < k; i++) w[i].cb(w[i].ctx, st, err);
    if (w != stack) free(w);
    pthread_mutex_lock(&e->gc_mu);
    settle_waiters(e, upto, st, err); /* any left by the out-of-memory slice */
}

/* A commit failed: memory is ahead of disk. Fails everything not yet
 * durable and rebuilds the graph from the store, so what was acknowledged
 * is exactly what is kept. Called without gc_mu; returns with it held. */
static void commit_failed(rw_engine *e, rw_status st, size_t feats, rw_err *err) {
    pthread_rwlock_wrlock(&e->lock);
    pthread_mutex_lock(&e->gc_mu);
    e->feat_done += feats + e->pending.nfeat; /* lost with the commit, or dropped below */
    e->feat_inflight = 0;
    rw_fail_range fr = {e->seq_done, e->seq_queued, st, *err};
    e->fails[e->nfails++ % RW_FAILS_KEPT] = fr;
    /* Only events nobody waits on (durable = 0) are flush's to
     * report; every waiter was told just below. */
    if (e->unflushed.st == RW_OK && e->unwatched > fr.lo && e->unwatched <= fr.hi) e->unflushed = fr;
    e->seq_done = e->seq_queued;
    rw_store_ops_clear(&e->pending);
    e->store_ok = 0;
    e->commit_failures++;
    pthread_cond_broadcast(&e->gc_done);
    rw_err_prefix(err, "not stored: ");
    settle_waiters(e, e->seq_queued, st, err);
    pthread_mutex_unlock(&e->gc_mu);
    rw_err ignored;
    rw_engine_reload_graph(e, &ignored);
    pthread_rwlock_unlock(&e->lock);
    pthread_mutex_lock(&e->gc_mu);
}

/* Writes ops in one transaction; its status. */
static rw_status commit_ops(rw_engine *e, const rw_store_ops *ops, rw_err *err) {
    rw_engine_store_lock(e);
    rw_status st = rw_store_begin(e->store, err);
    if (st == RW_OK) {
        st = rw_engine_write_ops(e->store, ops, err);
        if (st == RW_OK)
            /* Not asked durable: the store's own safety level (fsync
             * unless rw_engine_set_fsync turned it off) decides. */
            st = rw_store_commit(e->store, 0, err);
        else
            rw_store_rollback(e->store);
    }
    rw_engine_store_unlock(e);
    return st;
}

/* A commit succeeded up to upto: settles it, asks for a checkpoint once the
 * WAL is large, and copies the pages committed during one. Called and
 * returns with gc_mu held. */
static void commit_done(rw_engine *e, uint64_t upto) {
    e->seq_done = upto;
    e->store_ok = 1;
    e->commits++;
    if (e->checkpointer_running && e->ckpt_state == CKPT_IDLE &&
        rw_store_wal_pages(e->store) >= (e->ckpt_pages ? e->ckpt_pages : rw_store_wal_checkpoint_pages())) {
        e->ckpt_state = CKPT_RUNNING;
        pthread_cond_signal(&e->ckpt_wake);
    }
    pthread_cond_broadcast(&e->gc_done);
    settle_waiters(e, upto, RW_OK, NULL);
    if (e->ckpt_state == CKPT_TAIL) {
        /* After the waiters are told: the next group waits for it, as
         * it would for a commit, but no one waits for it twice. */
        rw_err err;
        pthread_mutex_unlock(&e->gc_mu);
        rw_engine_store_lock(e);
        if (rw_store_checkpoint_tail(e->store, &err) != RW_OK) e->checkpoint_failures++;
        rw_engine_store_unlock(e);
        pthread_mutex_lock(&e->gc_mu);
        e->ckpt_state = CKPT_IDLE;
    }
}

/* A successful commit's latency into the histogram. Under gc_mu. */
static void observe_commit(rw_engine *e, double seconds) {
    static const double bounds[RW_COMMIT_BOUNDS_COUNT] = RW_COMMIT_BOUNDS;
    size_t i = 0;
    while (i < RW_COMMIT_BOUNDS_COUNT && seconds > bounds[i]) i++;
    e->commit_hist[i]++;
    e->commit_seconds += seconds;
}

/* Are the pending feature rows due (commit.h says when)? Under gc_mu. */
static int feat_due(const rw_engine *e) {
    const rw_store_ops *p = &e->pending;
    if (!p->nfeat) return 0;
    return p->nfeat >= RW_FEATLOG_BATCH || e->feat_syncs || e->gc_stop || rw_now() - e->feat_since >= RW_FEATLOG_WAIT;
}

static int has_work(const rw_engine *e) {
    return e->pending.nev || e->pending.nacc || e->pending.nattr || (e->pending.nfeat && (e->feat_syncs || e->gc_stop));
}

/* Takes what pending holds into writing (empty), leaving feature rows that
 * are not due in pending. Under gc_mu. */
static void take_pending(rw_engine *e, rw_store_ops *writing) {
    int feats = feat_due(e);
    rw_store_ops t = *writing;
    *writing = e->pending;
    e->pending = t;
    rw_store_ops_clear(&e->pending);
    if (!feats) {
        rw_op_feat *f = e->pending.feat;
        size_t cap = e->pending.cap_feat;
        e->pending.feat = writing->feat, e->pending.nfeat = writing->nfeat, e->pending.cap_feat = writing->cap_feat;
        writing->feat = f, writing->nfeat = 0, writing->cap_feat = cap;
    }
    e->feat_inflight = writing->nfeat > 0;
}

static void *committer_main(void *arg) {
    rw_engine *e = arg;
    rw_store_ops writing = {0};
    pthread_mutex_lock(&e->gc_mu);
    for (;;) {
        while (!has_work(e) && !e->gc_stop) pthread_cond_wait(&e->gc_wake, &e->gc_mu);
        if (!has_work(e)) break;
        take_pending(e, &writing);
        uint64_t upto = e->seq_queued;
        pthread_mutex_unlock(&e->gc_mu);
        rw_err err = {{0}};
        double t0 = rw_now();
        rw_status st = commit_ops(e, &writing, &err);
        double took = rw_now() - t0;
        size_t feats = writing.nfeat;
        rw_store_ops_clear(&writing);
        if (st != RW_OK) {
            commit_failed(e, st, feats, &err);
            continue;
        }
        pthread_mutex_lock(&e->gc_mu);
        e->feat_done += feats;
        e->feat_inflight = 0;
        observe_commit(e, took);
        commit_done(e, upto);
    }
    pthread_mutex_unlock(&e->gc_mu);
    rw_store_ops_free(&writing);
    return NULL;
}

static void *checkpointer_main(void *arg) {
    rw_engine *e = arg;
    pthread_mutex_lock(&e->gc_mu);
    for (;;) {
        while (e->ckpt_state != CKPT_RUNNING && !e->gc_stop) pthread_cond_wait(&e->ckpt_wake, &e->gc_mu);
        if (e->gc_stop) break;
        pthread_mutex_unlock(&e->gc_mu);
        rw_err err;
        rw_status st = rw_checkpointer_run(e->ckpt, &err);
        pthread_mutex_lock(&e->gc_mu);
        e->checkpoints++;
        if (st != RW_OK) e->checkpoint_failures++;
        e->ckpt_state = st == RW_OK ? CKPT_TAIL : CKPT_IDLE;
    }
    pthread_mutex_unlock(&e->gc_mu);
    return NULL;
}

/* Stops one of the engine's threads (gc_stop: the committer writes what is
 * queued first) and joins it; a no-op unless *running. */
static void stop_thread(rw_engine *e, int *running, pthread_cond_t *wake, pthread_t t) {
    if (!*running) return;
    pthread_mutex_lock(&e->gc_mu);
    e->gc_stop = 1;
    pthread_cond_signal(wake);
    pthread_mutex_unlock(&e->gc_mu);
    pthread_join(t, NULL);
    *running = 0;
}

/* Moves the store's checkpoints to a thread of their own. Without it (no
 * second connection) the store keeps checkpointing on commit. */
static void start_checkpointer(rw_engine *e) {
    rw_err err;
    if (rw_checkpointer_open(e->store, &e->ckpt, &err) != RW_OK) return;
    int running = pthread_create(&e->checkpointer, NULL, checkpointer_main, e) == 0;
    rw_engine_store_lock(e);
    /* Only with the thread running: a connection that never checkpoints
     * and no one who does would let the WAL grow without bound. */
    if (running && rw_store_background_checkpoints(e->store, &err) == RW_OK) {
        rw_engine_store_unlock(e);
        e->checkpointer_running = 1;
        return;
    }
    rw_engine_store_unlock(e);
    stop_thread(e, &running, &e->ckpt_wake, e->checkpointer);
    e->gc_stop = 0; /* nothing else runs yet: the committer starts after */
    rw_checkpointer_close(e->ckpt);
    e->ckpt = NULL;
}

/* Waits until sequence number seq is settled; its status. */
rw_status rw_engine_commit_wait(rw_engine *e, uint64_t seq, rw_err *err) {
    rw_status st = RW_OK;
    pthread_mutex_lock(&e->gc_mu);
    while (e->seq_done < seq) pthread_cond_wait(&e->gc_done, &e->gc_mu);
    /* Failures are rare and each fails everything queued; the newest ones
     * are kept, enough for any waiter still asleep. */
    uint64_t kept = e->nfails < RW_FAILS_KEPT ? e->nfails : RW_FAILS_KEPT;
    for (uint64_t k = 0; k < kept && st == RW_OK; k++) {
        const rw_fail_range *f = &e->fails[(e->nfails - 1 - k) % RW_FAILS_KEPT];
        if (seq > f->lo && seq <= f->hi) {
            st = f->st;
            if (err) *err = f->err;
            rw_err_prefix(err, "not stored: ");
        }
    }
    pthread_mutex_unlock(&e->gc_mu);
    return st;
}

rw_status rw_engine_flush(rw_engine *e, rw_err *err) {
    if (!e->committer_running) return RW_OK;
    pthread_mutex_lock(&e->gc_mu);
    uint64_t seq = e->seq_queued;
    pthread_mutex_unlock(&e->gc_mu);
    rw_status st = rw_engine_commit_wait(e, seq, err);
    pthread_mutex_lock(&e->gc_mu);
    if (st == RW_OK && e->unflushed.st != RW_OK) {
        st = e->unflushed.st;
        if (err) *err = e->unflushed.err;
        rw_err_prefix(err, "events recorded since the last flush were not stored: ");
    }
    e->unflushed.st = RW_OK;
    pthread_mutex_unlock(&e->gc_mu);
    rw_engine_featlog_sync(e);
    return st;
}

static int has_account(const uint32_t *acc, size_t n, uint32_t a) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (acc[mid] < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && acc[lo] == a;
}

void rw_engine_featlog_drop(rw_engine *e, const uint32_t *acc, size_t n, int64_t before) {
    pthread_mutex_lock(&e->gc_mu);
    rw_store_ops *p = &e->pending;
    size_t k = 0;
    for (size_t i = 0; i < p->nfeat; i++) {
        if (p->feat[i].ts < before || has_account(acc, n, p->feat[i].account)) continue;
        if (k != i) p->feat[k] = p->feat[i];
        k++;
    }
    e->feat_done += p->nfeat - k;
    p->nfeat = k;
    pthread_mutex_unlock(&e->gc_mu);
}

void rw_engine_featlog_sync(rw_engine *e) {
    if (!e->committer_running) return;
    pthread_mutex_lock(&e->gc_mu);
    /* The rows queued by now, not any queued while waiting: under steady
     * signups the pending rows never run out. */
    uint64_t upto = e->feat_queued;
    e->feat_syncs++;
    pthread_cond_signal(&e->gc_wake);
    while (e->feat_done < upto) pthread_cond_wait(&e->gc_done, &e->gc_mu);
    e->feat_syncs--;
    pthread_mutex_unlock(&e->gc_mu);
}

rw_status rw_engine_probe_store(rw_engine *e, rw_err *err) {
    if (!e->committer_running) return RW_OK;
    pthread_mutex_lock(&e->gc_mu);
    int ok = e->store_ok;
    pthread_mutex_unlock(&e->gc_mu);
    if (ok) return RW_OK;
    /* After a failed commit nothing may be written until a client tries,
     * and a balancer that stops sending on 503 never would: a one-row
     * durable write tells whether space (or the disk) is back. */
    rw_engine_store_lock(e);
    rw_status st = rw_store_begin(e->store, err);
    if (st == RW_OK) st = rw_store_probe(e->store, err);
    if (st == RW_OK)
        st = rw_store_commit(e->store, 1, err);
    else
        rw_store_rollback(e->store);
    rw_engine_store_unlock(e);
    if (st == RW_OK) {
        pthread_mutex_lock(&e->gc_mu);
        e->store_ok = 1;
        pthread_mutex_unlock(&e->gc_mu);
    }
    return st;
}

void rw_engine_test_checkpoint_pages(rw_engine *e, uint32_t pages) {
    pthread_mutex_lock(&e->gc_mu);
    e->ckpt_pages = pages;
    pthread_mutex_unlock(&e->gc_mu);
}

rw_status rw_engine_set_fsync(rw_engine *e, int on, rw_err *err) {
    if (!e->committer_running) return RW_OK; /* nothing is recorded */
    rw_engine_store_lock(e);
    rw_status st = rw_store_set_sync_full(e->store, on, err);
    rw_engine_store_unlock(e);
    return st;
}

void rw_engine_commit_init(rw_engine *e) {
    pthread_mutex_init(&e->gc_mu, NULL);
    pthread_cond_init(&e->gc_wake, NULL);
    pthread_cond_init(&e->gc_done, NULL);
    pthread_cond_init(&e->ckpt_wake, NULL); /* destroyed by close whether or not a checkpointer started */
    e->store_ok = 1;
}

rw_status rw_engine_commit_start(rw_engine *e, rw_err *err) {
    rw_status st = rw_store_set_sync_full(e->store, 1, err);
    if (st != RW_OK) return st;
    start_checkpointer(e);
    if (pthread_create(&e->committer, NULL, committer_main, e) != 0)
        return rw_fail(err, RW_ERR_INTERNAL, "cannot start the commit thread");
    e->committer_running = 1;
    return RW_OK;
}

void rw_engine_commit_close(rw_engine *e) {
    /* The committer first: its last commits may still ask for a checkpoint. */
    stop_thread(e, &e->committer_running, &e->gc_wake, e->committer);
    stop_thread(e, &e->checkpointer_running, &e->ckpt_wake, e->checkpointer);
    rw_checkpointer_close(e->ckpt);
    e->ckpt = NULL;
    rw_store_ops_free(&e->pending);
    free(e->waiters);
    e->waiters = NULL;
    pthread_mutex_destroy(&e->gc_mu);
    pthread_cond_destroy(&e->gc_wake);
    pthread_cond_destroy(&e->gc_done);
    pthread_cond_destroy(&e->ckpt_wake);
}

uint64_t rw_engine_commit_queue(rw_engine *e, size_t applied, int unwatched, rw_record_cb cb, void *ctx, rw_status *st,
                                rw_err *err) {
    e->seq_queued += applied;
    uint64_t seq = e->seq_queued;
    /* Marked before the committer can see them: a commit failing at once
     * must know that no one waits to be told, so flush reports it. */
    if (unwatched && applied && seq > e->unwatched) e->unwatched = seq;
    if (*st == RW_OK && cb) {
        if (e->nwaiters == e->waiters_cap) {
            size_t cap = e->waiters_cap ? e->waiters_cap * 2 : 64;
            rw_waiter *w = realloc(e->waiters, cap * sizeof *w);
            if (w) e->waiters = w, e->waiters_cap = cap;
        }
        if (e->nwaiters < e->waiters_cap)
            e->waiters[e->nwaiters++] = (rw_waiter){seq, cb, ctx};
        else
            *st = rw_fail(err, RW_ERR_NOMEM, "out of memory"); /* the events are kept; the caller is not told when */
    }
    if (applied) pthread_cond_signal(&e->gc_wake);
    return seq;
}
