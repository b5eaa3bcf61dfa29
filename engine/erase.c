/* Erasure and retention: picks the nodes to erase from the graph, erases
 * them from the store in one durable transaction, then rebuilds the graph
 * and the online state from the store. Erased ids leave placeholders in the
 * graph (rw_graph_add_gap), so no other node changes its id. */
#include <stdlib.h>
#include <string.h>

#include "commit.h"
#include "live.h"

typedef struct {
    uint32_t *v;
    size_t n, cap;
} id_list;

static int push(id_list *l, uint32_t v) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        uint32_t *t = realloc(l->v, cap * sizeof *t);
        if (!t) return -1;
        l->v = t;
        l->cap = cap;
    }
    l->v[l->n++] = v;
    return 0;
}

/* Takes the write lock once nothing is queued for, or being written by, the
 * group commit: the graph then holds exactly what the store holds, and the
 * rebuild after the erasure loses nothing. Feature-log rows waiting for
 * their batch may stay queued (the caller drops the erased ones), but none
 * are being written: they could land after the erasure. */
static void lock_quiet(rw_engine *e) {
    for (;;) {
        pthread_mutex_lock(&e->gc_mu);
        while (e->committer_running && (e->seq_done < e->seq_queued || e->feat_inflight))
            pthread_cond_wait(&e->gc_done, &e->gc_mu);
        pthread_mutex_unlock(&e->gc_mu);
        pthread_rwlock_wrlock(&e->lock);
        pthread_mutex_lock(&e->gc_mu);
        int quiet = e->seq_done == e->seq_queued && !e->feat_inflight;
        pthread_mutex_unlock(&e->gc_mu);
        if (quiet) return;
        pthread_rwlock_unlock(&e->lock); /* a failed commit needs the lock to rebuild: let it */
    }
}

/* The nodes to erase: account only (RW_NODE_NONE: every account last seen
 * before cutoff), then each attribute with no edge left from a kept account
 * seen with it at or after cutoff, and each subnet no kept IP belongs to. */
static rw_status select_nodes(const rw_graph *g, uint32_t only, int64_t cutoff, id_list *acc, id_list *attr,
                              rw_err *err) {
    uint32_t n = rw_graph_node_count(g);
    uint8_t *keep = calloc((size_t)n + 1, 1);
    if (!keep) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    rw_status st = RW_OK;
    for (uint32_t v = 0; v < n; v++) {
        if (rw_graph_kind(g, v) != RW_KIND_ACCOUNT) continue;
        int gone = only != RW_NODE_NONE ? v == only : rw_graph_last_seen(g, v) < cutoff;
        if (gone) {
            if (push(acc, v) != 0) goto nomem;
            continue;
        }
        uint32_t k = 0;
        const rw_edge *ed = rw_graph_account_edges(g, v, &k);
        for (uint32_t i = 0; i < k; i++)
            if ((int64_t)ed[i].last_seen >= cutoff) keep[ed[i].attr] = 1;
    }
    for (uint32_t v = 0; v < n; v++) {
        uint32_t p = rw_graph_parent(g, v);
        if (keep[v] && p != RW_NODE_NONE) keep[p] = 1;
    }
    for (uint32_t v = 0; v < n; v++) {
        rw_kind k = rw_graph_kind(g, v);
        if (k == RW_KIND_ACCOUNT || (unsigned)k >= RW_KIND_COUNT || keep[v]) continue;
        if (push(attr, v) != 0) goto nomem;
    }
    free(keep);
    return st;
nomem:
    free(keep);
    return rw_fail(err, RW_ERR_NOMEM, "out of memory");
}

/* Erases the account ext (NULL: retention, every account last seen before
 * cutoff) and what goes with it. */
static rw_status erase(rw_engine *e, const char *ext, size_t len, int64_t cutoff, rw_erase_stats *out, rw_err *err) {
    memset(out, 0, sizeof *out);
    double t0 = rw_now();
    rw_status st = rw_engine_need_graph(e, err);
    if (st != RW_OK) return st;
    if (e->readonly || !e->hasher) return rw_fail(err, RW_ERR_PERM, "the database is open read-only");
    /* A rescoring writes the run of a snapshot taken before: it would bring
     * back the rows of an account erased meanwhile. */
    pthread_mutex_lock(&e->gc_mu);
    int busy = e->rescoring;
    e->rescoring = 1;
    pthread_mutex_unlock(&e->gc_mu);
    if (busy) return rw_fail(err, RW_ERR_EXISTS, "a rescoring is running; erase once it has finished");
    id_list acc = {0}, attr = {0};
    lock_quiet(e);
    uint32_t only = RW_NODE_NONE;
    if (ext) {
        only = rw_graph_find_account(e->graph, ext, len);
        if (only == RW_NODE_NONE) st = rw_fail(err, RW_ERR_NOTFOUND, "no account with that id");
    }
    if (st == RW_OK) st = select_nodes(e->graph, only, cutoff, &acc, &attr, err);
    rw_store_erased n = {0};
    if (st == RW_OK) {
        rw_engine_featlog_drop(e, acc.v, acc.n, cutoff);
        rw_engine_store_lock(e);
        st = rw_store_erase(e->store, acc.v, acc.n, attr.v, attr.n, cutoff, rw_graph_node_count(e->graph), &n, err);
        rw_engine_store_unlock(e);
    }
    /* Whatever the WAL truncation said, a committed erasure is rebuilt into
     * memory: the old graph would hand the erased ids out as live nodes. */
    if (n.committed && (n.accounts || n.attributes || n.events)) {
        rw_err rerr = {{0}};
        rw_status rst = rw_engine_reload_graph(e, &rerr);
        if (rst != RW_OK) {
            pthread_mutex_lock(&e->gc_mu);
            e->store_ok = 0; /* not ready: memory no longer matches the store */
            pthread_mutex_unlock(&e->gc_mu);
            if (st == RW_OK) {
                st = rst;
                if (err) *err = rerr;
                rw_err_prefix(err, "erased, but rebuilding the graph failed: ");
            }
        }
    }
    pthread_rwlock_unlock(&e->lock);
    pthread_mutex_lock(&e->gc_mu);
    e->rescoring = 0;
    pthread_mutex_unlock(&e->gc_mu);
    free(acc.v);
    free(attr.v);
    *out = (rw_erase_stats){.accounts = n.accounts,
                            .attributes = n.attributes,
                            .events = n.events,
                            .run_rows = n.run_rows,
                            .labels = n.labels,
                            .seconds = rw_now() - t0,
                            .wal_pending = n.wal_pending};
    return st;
}

rw_status rw_engine_erase_account(rw_engine *e, const char *ext, size_t len, rw_erase_stats *out, rw_err *err) {
    if (!ext || len == 0 || len > RW_ACCOUNT_MAX) {
        memset(out, 0, sizeof *out);
        return rw_fail(err, RW_ERR_NOTFOUND, "no account with that id");
    }
    return erase(e, ext, len, INT64_MIN, out, err);
}

rw_status rw_engine_retain(rw_engine *e, int64_t cutoff, rw_erase_stats *out, rw_err *err) {
    return erase(e, NULL, 0, cutoff, out, err);
}

int rw_engine_erasures_pending(rw_engine *e) {
    return e->store ? rw_store_erasure_pending(e->store) : 0;
}
