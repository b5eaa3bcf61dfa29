/* Lookups the server answers from memory and the store (an account, an
 * attribute by raw value, a cluster's members and attributes), and analysts'
 * labels, which take effect on online scoring at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "score.h"

static void brief(const rw_graph *g, uint32_t x, rw_attr_brief *b) {
    memset(b, 0, sizeof *b);
    b->kind = rw_graph_kind(g, x);
    const rw_hash *h = rw_graph_attr_hash(g, x);
    if (h) rw_hash_pseudonym(b->pseudonym, sizeof b->pseudonym, b->kind, h);
    b->degree = rw_graph_degree(g, x);
    b->first_seen = rw_graph_first_seen(g, x);
    b->last_seen = rw_graph_last_seen(g, x);
}

rw_status rw_engine_account_view(rw_engine *e, const char *ext, size_t len, rw_account_view *out, rw_err *err) {
    memset(out, 0, sizeof *out);
    rw_status st = rw_engine_need_graph(e, err);
    if (st != RW_OK) return st;
    rw_engine_online_catch_up(e);
    pthread_rwlock_rdlock(&e->lock);
    uint32_t a = rw_graph_find_account(e->graph, ext, len);
    if (a == RW_NODE_NONE) {
        pthread_rwlock_unlock(&e->lock);
        return rw_fail(err, RW_ERR_NOTFOUND, "no account with that id");
    }
    out->first_seen = rw_graph_first_seen(e->graph, a);
    out->last_seen = rw_graph_last_seen(e->graph, a);
    uint32_t n = 0;
    const rw_edge *ed = rw_graph_account_edges(e->graph, a, &n);
    out->attributes = n;
    for (uint32_t i = 0; i < n && i < RW_VIEW_ATTRS; i++) {
        brief(e->graph, ed[i].attr, &out->attr[i]);
        out->attr[i].count = ed[i].count;
    }
    if (a < e->live.placed) rw_engine_live_decision(e, a, out->last_seen, &out->now);
    /* Everything else comes from memory too: a lookup never waits for the
     * store, which a group commit may hold during its fsync. */
    const rw_live *L = &e->live;
    out->run = L->run;
    if (L->run && a < L->run_nodes && a < L->cap) {
        out->run_score = L->run_score[a];
        out->run_flagged = L->run_flagged[a] != 0;
        uint32_t c = L->comm[a];
        out->run_cluster = c ? L->c[c].batch_id : 0;
    }
    if (a < L->cap)
        snprintf(out->label, sizeof out->label, "%s",
                 L->flags[a] & RW_LIVE_FRAUD_ACCOUNT ? "fraud"
                 : L->flags[a] & RW_LIVE_CLEARED     ? "benign"
                                                     : "");
    pthread_rwlock_unlock(&e->lock);
    return st;
}

/* Fills out for attribute node x; the caller holds the read lock. */
void rw_engine_describe_attr(rw_engine *e, uint32_t x, rw_attr_view *out) {
    brief(e->graph, x, &out->a);
    rw_graph_velocity(e->graph, x, out->a.last_seen, out->velocity);
    out->hub = out->a.degree > e->live.hub_degree;
    if (x < e->live.cap) {
        out->cleared = (e->live.flags[x] & RW_LIVE_CLEARED) != 0;
        uint32_t c = e->live.comm[x];
        if (c && e->live.c[c].batch_id)
            snprintf(out->cluster, sizeof out->cluster, "c%u", e->live.c[c].batch_id);
        else if (c)
            snprintf(out->cluster, sizeof out->cluster, "live-%u", e->live.c[c].live_no);
    }
    uint32_t n = 0;
    const uint32_t *acc = rw_graph_attr_accounts(e->graph, x, &n);
    for (uint32_t i = 0; i < n && out->naccounts < RW_VIEW_ACCOUNTS; i++) {
        size_t l = 0;
        const char *id = rw_graph_account_id(e->graph, acc[i], &l);
        if (!id || l > RW_ACCOUNT_MAX) continue;
        memcpy(out->accounts[out->naccounts], id, l);
        out->accounts[out->naccounts++][l] = 0;
    }
}

rw_status rw_engine_attr_view(rw_engine *e, rw_kind kind, const char *value, size_t len, rw_attr_view *out,
                              rw_err *err) {
    memset(out, 0, sizeof *out);
    rw_status st = rw_engine_need_graph(e, err);
    if (st != RW_OK) return st;
    if (kind != RW_KIND_IP && kind != RW_KIND_DEVICE && kind != RW_KIND_PAYMENT)
        return rw_fail(err, RW_ERR_INVALID, "kind: must be ip, device or payment");
    if (!e->hasher) return rw_fail(err, RW_ERR_PERM, "no key file: raw values cannot be looked up");
    if (len == 0 || len > RW_ATTR_MAX) return rw_fail(err, RW_ERR_INVALID, "value: must be 1 to %d bytes", RW_ATTR_MAX);
    if (!rw_utf8_valid(value, len)) return rw_fail(err, RW_ERR_INVALID, "value: not valid UTF-8");
    char ip[64];
    if (kind == RW_KIND_IP) {
        if (rw_ip_normalise(ip, sizeof ip, NULL, value, len) != RW_OK)
            return rw_fail(err, RW_ERR_INVALID, "value: not an IP address");
        value = ip;
        len = strlen(ip);
    }
    rw_hash h;
    rw_hasher_hash(e->hasher, kind, value, len, &h);
    rw_engine_online_catch_up(e);
    pthread_rwlock_rdlock(&e->lock);
    uint32_t x = rw_graph_find_attr(e->graph, kind, &h);
    if (x == RW_NODE_NONE) {
        pthread_rwlock_unlock(&e->lock);
        return rw_fail(err, RW_ERR_NOTFOUND, "no %s with that value has been seen", rw_kind_name(kind));
    }
    rw_engine_describe_attr(e, x, out);
    pthread_rwlock_unlock(&e->lock);
    return RW_OK;
}

static rw_status newest(rw_engine *e, int64_t *run, rw_err *err) {
    if (*run) return RW_OK;
    return rw_store_latest_run(e->store, run, err);
}

rw_status rw_engine_clusters_page(rw_engine *e, int64_t run, double min_score, double after_score, uint32_t after_id,
                                  uint64_t limit, rw_status (*cb)(void *ctx, const rw_cluster_row *c), void *ctx,
                                  rw_err *err) {
    rw_engine_store_lock(e);
    rw_status st = newest(e, &run, err);
    if (st == RW_OK && run)
        st = rw_store_run_clusters_page(e->store, run, min_score, after_score, after_id, limit, cb, ctx, err);
    rw_engine_store_unlock(e);
    return st;
}

rw_status rw_engine_cluster_members(rw_engine *e, int64_t run, uint32_t id, uint64_t limit,
                                    rw_status (*cb)(void *ctx, const rw_score_row *r), void *ctx, rw_err *err) {
    rw_engine_store_lock(e);
    rw_status st = newest(e, &run, err);
    if (st == RW_OK && run) st = rw_store_cluster_members(e->store, run, id, limit, cb, ctx, err);
    rw_engine_store_unlock(e);
    return st;
}

typedef struct {
    uint32_t *v;
    size_t n, cap;
} node_list;

static rw_status collect_node(void *ctx, uint32_t node) {
    node_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        uint32_t *v = realloc(l->v, cap * sizeof *v);
        if (!v) return RW_ERR_NOMEM;
        l->v = v, l->cap = cap;
    }
    l->v[l->n++] = node;
    return RW_OK;
}

static int by_degree_desc(const void *x, const void *y) {
    const rw_attr_brief *a = x, *b = y;
    return a->degree < b->degree ? 1 : a->degree > b->degree ? -1 : strcmp(a->pseudonym, b->pseudonym);
}

rw_status rw_engine_cluster_attrs(rw_engine *e, int64_t run, uint32_t id, uint64_t limit,
                                  rw_status (*cb)(void *ctx, const rw_attr_brief *a), void *ctx, rw_err *err) {
    rw_status st = rw_engine_need_graph(e, err);
    if (st != RW_OK) return st;
    node_list l = {0};
    rw_attr_brief *b = NULL;
    rw_engine_store_lock(e);
    st = newest(e, &run, err);
    if (st == RW_OK && run) st = rw_store_cluster_attributes(e->store, run, id, collect_node, &l, err);
    rw_engine_store_unlock(e);
    if (st == RW_ERR_NOMEM) rw_fail(err, st, "out of memory");
    if (st != RW_OK || !l.n) goto done;
    b = malloc(l.n * sizeof *b);
    if (!b) {
        st = rw_fail(err, RW_ERR_NOMEM, "out of memory");
        goto done;
    }
    pthread_rwlock_rdlock(&e->lock);
    for (size_t i = 0; i < l.n; i++) brief(e->graph, l.v[i], &b[i]);
    pthread_rwlock_unlock(&e->lock);
    qsort(b, l.n, sizeof *b, by_degree_desc);
    for (size_t i = 0; i < l.n && (!limit || i < limit) && st == RW_OK; i++) st = cb(ctx, &b[i]);
done:
    free(l.v);
    free(b);
    return st;
}

rw_status rw_engine_cluster_labels(rw_engine *e, uint32_t id, uint64_t limit,
                                   rw_status (*cb)(void *ctx, const rw_label_row *l), void *ctx, rw_err *err) {
    pthread_mutex_lock(&e->store_mu);
    rw_status st = rw_store_target_labels(e->store, "cluster", id, limit, cb, ctx, err);
    pthread_mutex_unlock(&e->store_mu);
    return st;
}

static rw_status cluster_exists(void *ctx, const rw_cluster_row *c) {
    (void)c;
    *(int *)ctx = 1;
    return RW_OK;
}

rw_status rw_engine_label(rw_engine *e, int on_cluster, const char *target, size_t len, rw_label label,
                          const char *note, int64_t *id, rw_err *err) {
    return rw_engine_label_by(e, on_cluster, target, len, label, note, NULL, id, err);
}

rw_status rw_engine_label_by(rw_engine *e, int on_cluster, const char *target, size_t len, rw_label label,
                             const char *note, const char *author, int64_t *id, rw_err *err) {
    *id = 0;
    rw_status st = rw_engine_need_graph(e, err);
    if (st != RW_OK) return st;
    if (label != RW_LABEL_FRAUD && label != RW_LABEL_BENIGN)
        return rw_fail(err, RW_ERR_INVALID, "label: must be fraud or benign");
    if (note && strlen(note) > 4096) return rw_fail(err, RW_ERR_INVALID, "note: longer than 4096 bytes");
    int64_t node = 0, run = 0;
    if (on_cluster) {
        char buf[16];
        uint64_t v = 0;
        if (len == 0 || len >= sizeof buf) return rw_fail(err, RW_ERR_NOTFOUND, "no such cluster");
        memcpy(buf, target, len);
        buf[len] = 0;
        for (size_t i = 0; i < len; i++) {
            if (buf[i] < '0' || buf[i] > '9') return rw_fail(err, RW_ERR_NOTFOUND, "no such cluster");
            v = v * 10 + (uint64_t)(buf[i] - '0');
        }
        if (v == 0 || v > UINT32_MAX) return rw_fail(err, RW_ERR_NOTFOUND, "no such cluster");
        node = (int64_t)v;
        int found = 0;
        rw_engine_store_lock(e);
        st = rw_store_latest_run(e->store, &run, err);
        if (st == RW_OK && run)
            st = rw_store_run_clusters(e->store, run, -1.0, (uint32_t)v, 1, cluster_exists, &found, err);
        rw_engine_store_unlock(e);
        if (st != RW_OK) return st;
        if (!found) return rw_fail(err, RW_ERR_NOTFOUND, "no cluster %llu in the newest run", (unsigned long long)v);
    } else {
        pthread_rwlock_rdlock(&e->lock);
        uint32_t a = rw_graph_find_account(e->graph, target, len);
        pthread_rwlock_unlock(&e->lock);
        if (a == RW_NODE_NONE) return rw_fail(err, RW_ERR_NOTFOUND, "no account with that id");
        node = a;
    }
    /* The write lock is held across the store and the live state, so a
     * signup sees the label either nowhere or everywhere. */
    pthread_rwlock_wrlock(&e->lock);
    rw_engine_store_lock(e);
    st = rw_store_put_label_by(e->store, on_cluster ? "cluster" : "account", node, run,
                               label == RW_LABEL_FRAUD ? "fraud" : "benign", note, author, id, err);
    rw_engine_store_unlock(e);
    if (st == RW_OK) rw_engine_live_label(e, on_cluster, (uint32_t)node, label == RW_LABEL_FRAUD);
    pthread_rwlock_unlock(&e->lock);
    return st;
}
