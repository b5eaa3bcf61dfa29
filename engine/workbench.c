/* What the analysts' workbench asks beyond the plain lookups: attributes by
 * pseudonym, communities formed online since the newest run, the runs and
 * the audit trail of who asked for what. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"

/* "device:338d57bd76" into its kind and the five hash bytes it shows. */
static int parse_pseudonym(const char *p, size_t len, rw_kind *kind, uint8_t prefix[5]) {
    const char *colon = memchr(p, ':', len);
    if (!colon || (size_t)(p + len - colon - 1) != 10) return -1;
    char name[16];
    size_t n = (size_t)(colon - p);
    if (n == 0 || n >= sizeof name) return -1;
    memcpy(name, p, n);
    name[n] = 0;
    if (rw_kind_parse(kind, name) != RW_OK || *kind < RW_KIND_IP || *kind > RW_KIND_PAYMENT) return -1;
    for (int i = 0; i < 10; i++) {
        int ch = (unsigned char)colon[1 + i];
        int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (v < 0) return -1;
        if (i % 2 == 0)
            prefix[i / 2] = (uint8_t)(v << 4);
        else
            prefix[i / 2] |= (uint8_t)v;
    }
    return 0;
}

int rw_engine_is_pseudonym(const char *p, size_t len) {
    rw_kind k;
    uint8_t prefix[5];
    return parse_pseudonym(p, len, &k, prefix) == 0;
}

rw_status rw_engine_attr_view_pseudonym(rw_engine *e, const char *pseudonym, size_t len, rw_attr_view *out,
                                        rw_err *err) {
    memset(out, 0, sizeof *out);
    rw_status st = rw_engine_need_graph(e, err);
    if (st != RW_OK) return st;
    rw_kind kind;
    uint8_t prefix[5];
    if (parse_pseudonym(pseudonym, len, &kind, prefix) != 0)
        return rw_fail(err, RW_ERR_INVALID, "value: not a pseudonym (expected KIND:10 hex digits)");
    rw_engine_online_catch_up(e);
    pthread_rwlock_rdlock(&e->lock);
    /* A scan: pseudonyms are not indexed, and analysts open one at a time
     * (a million nodes take milliseconds). The first match wins; 40 bits
     * rarely collide below hundreds of thousands of attributes of a kind. */
    uint32_t n = rw_graph_node_count(e->graph), x = RW_NODE_NONE;
    for (uint32_t v = 0; v < n && x == RW_NODE_NONE; v++) {
        if (rw_graph_kind(e->graph, v) != kind) continue;
        const rw_hash *h = rw_graph_attr_hash(e->graph, v);
        if (h && !memcmp(h->b, prefix, sizeof prefix)) x = v;
    }
    if (x == RW_NODE_NONE) {
        pthread_rwlock_unlock(&e->lock);
        return rw_fail(err, RW_ERR_NOTFOUND, "no %s with that pseudonym", rw_kind_name(kind));
    }
    rw_engine_describe_attr(e, x, out);
    pthread_rwlock_unlock(&e->lock);
    return RW_OK;
}

rw_status rw_engine_live_cluster(rw_engine *e, uint32_t live_no, rw_live_cluster_view *out, rw_err *err) {
    memset(out, 0, sizeof *out);
    rw_status st = rw_engine_need_graph(e, err);
    if (st != RW_OK) return st;
    rw_engine_online_catch_up(e);
    pthread_rwlock_rdlock(&e->lock);
    const rw_live *L = &e->live;
    uint32_t c = 0;
    for (uint32_t i = 1; i < L->nc && !c; i++)
        if (!L->c[i].batch_id && L->c[i].live_no == live_no) c = i;
    if (!c) {
        pthread_rwlock_unlock(&e->lock);
        return rw_fail(err, RW_ERR_NOTFOUND, "id: no community live-%u (gone with the last rescoring?)", live_no);
    }
    out->live_no = live_no;
    out->size = L->c[c].size;
    out->signups_day = L->c[c].day;
    out->label = L->c[c].label;
    for (uint32_t v = 0; v < L->cap && v < L->placed; v++) {
        if (L->comm[v] != c) continue;
        rw_kind k = rw_graph_kind(e->graph, v);
        if (k == RW_KIND_ACCOUNT && out->naccounts < RW_VIEW_ACCOUNTS) {
            size_t l = 0;
            const char *id = rw_graph_account_id(e->graph, v, &l);
            if (!id || l > RW_ACCOUNT_MAX) continue;
            memcpy(out->accounts[out->naccounts], id, l);
            out->accounts[out->naccounts++][l] = 0;
        } else if (k != RW_KIND_ACCOUNT && k != RW_KIND_SUBNET && out->nattrs < RW_VIEW_ATTRS) {
            const rw_hash *h = rw_graph_attr_hash(e->graph, v);
            if (h) rw_hash_pseudonym(out->attrs[out->nattrs++], sizeof out->attrs[0], k, h);
        }
    }
    pthread_rwlock_unlock(&e->lock);
    return RW_OK;
}

rw_status rw_engine_audit_put(rw_engine *e, const char *actor, const char *action, const char *target,
                              const char *detail, rw_err *err) {
    rw_engine_store_lock(e);
    rw_status st = rw_store_put_audit(e->store, actor, action, target, detail, err);
    rw_engine_store_unlock(e);
    return st;
}

rw_status rw_engine_audit(rw_engine *e, uint64_t limit, rw_status (*cb)(void *ctx, const rw_audit_row *r), void *ctx,
                          rw_err *err) {
    rw_engine_store_lock(e);
    rw_status st = rw_store_audit(e->store, limit, cb, ctx, err);
    rw_engine_store_unlock(e);
    return st;
}

rw_status rw_engine_runs(rw_engine *e, uint64_t limit, rw_status (*cb)(void *ctx, const rw_run_row *r), void *ctx,
                         rw_err *err) {
    rw_engine_store_lock(e);
    rw_status st = rw_store_runs(e->store, limit, cb, ctx, err);
    rw_engine_store_unlock(e);
    return st;
}

rw_status rw_engine_run_exists(rw_engine *e, int64_t run, rw_err *err) {
    int exists = 0;
    rw_engine_store_lock(e);
    rw_status st = rw_store_run_exists(e->store, run, &exists, err);
    rw_engine_store_unlock(e);
    if (st == RW_OK && !exists) st = rw_fail(err, RW_ERR_NOTFOUND, "run: no run %lld", (long long)run);
    return st;
}

rw_status rw_engine_clusters_filtered(rw_engine *e, int64_t run, const rw_cluster_filter *f, double after_score,
                                      uint32_t after_id, uint64_t limit,
                                      rw_status (*cb)(void *ctx, const rw_cluster_row *c), void *ctx, rw_err *err) {
    rw_engine_store_lock(e);
    rw_status st = RW_OK;
    if (!run) st = rw_store_latest_run(e->store, &run, err);
    if (st == RW_OK && run)
        st = rw_store_run_clusters_filtered(e->store, run, f, after_score, after_id, limit, cb, ctx, err);
    rw_engine_store_unlock(e);
    return st;
}

rw_status rw_engine_account_labels(rw_engine *e, const char *ext, size_t len, uint64_t limit,
                                   rw_status (*cb)(void *ctx, const rw_label_row *l), void *ctx, rw_err *err) {
    rw_status st = rw_engine_need_graph(e, err);
    if (st != RW_OK) return st;
    pthread_rwlock_rdlock(&e->lock);
    uint32_t a = rw_graph_find_account(e->graph, ext, len);
    pthread_rwlock_unlock(&e->lock);
    if (a == RW_NODE_NONE) return rw_fail(err, RW_ERR_NOTFOUND, "no account with that id");
    rw_engine_store_lock(e);
    st = rw_store_target_labels(e->store, "account", a, limit, cb, ctx, err);
    rw_engine_store_unlock(e);
    return st;
}

typedef struct {
    rw_event_row *rows;
    size_t n, cap;
} event_rows;

static rw_status keep_event(void *ctx, const rw_event_row *ev) {
    event_rows *r = ctx;
    if (r->n < r->cap) r->rows[r->n++] = *ev;
    return RW_OK;
}

/* The attribute node's pseudonym into out; the caller holds the read lock. */
static void event_attr(const rw_graph *g, uint32_t node, char out[40]) {
    out[0] = 0;
    const rw_hash *h = node == RW_STORE_NONE ? NULL : rw_graph_attr_hash(g, node);
    if (h) rw_hash_pseudonym(out, 40, rw_graph_kind(g, node), h);
}

rw_status rw_engine_account_events(rw_engine *e, const char *ext, size_t len, rw_account_event *out, size_t limit,
                                   size_t *n, int *more, rw_err *err) {
    *n = 0;
    *more = 0;
    if (limit < 1 || limit > RW_ACCOUNT_EVENTS_MAX)
        return rw_fail(err, RW_ERR_INVALID, "limit: expected 1 to %d", RW_ACCOUNT_EVENTS_MAX);
    rw_status st = rw_engine_need_graph(e, err);
    if (st != RW_OK) return st;
    pthread_rwlock_rdlock(&e->lock);
    uint32_t a = rw_graph_find_account(e->graph, ext, len);
    pthread_rwlock_unlock(&e->lock);
    if (a == RW_NODE_NONE) return rw_fail(err, RW_ERR_NOTFOUND, "no account with that id");
    /* One row more than asked tells whether older ones exist. The store and
     * the graph are never held together. */
    event_rows r = {.rows = malloc((limit + 1) * sizeof *r.rows), .cap = limit + 1};
    if (!r.rows) return rw_fail(err, RW_ERR_NOMEM, "listing an account's events");
    rw_engine_store_lock(e);
    st = rw_store_account_events(e->store, a, limit + 1, keep_event, &r, err);
    rw_engine_store_unlock(e);
    if (st == RW_OK) {
        *more = r.n > limit;
        *n = r.n > limit ? limit : r.n;
        pthread_rwlock_rdlock(&e->lock);
        for (size_t i = 0; i < *n; i++) {
            out[i] =
                (rw_account_event){.ts = r.rows[i].ts, .type = (rw_event_type)r.rows[i].type, .score = r.rows[i].score};
            for (int k = 0; k < RW_EVENT_ATTRS; k++) event_attr(e->graph, r.rows[i].attr[k], out[i].attr[k]);
        }
        pthread_rwlock_unlock(&e->lock);
    }
    free(r.rows);
    return st;
}
