/* engine: the subgraph of some clusters of a run, for the notebooks export
 * and the pictures. Membership comes from the run (the store), nodes and
 * edges from the graph, copied in one pass under the read lock; the layout
 * runs afterwards, outside every engine lock. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

#define EMPTY UINT32_MAX

/* Open addressing from a node id to a value; node ids are dense and
 * spread well under a multiplicative hash. */
typedef struct {
    uint32_t *key, *val;
    size_t cap, n; /* cap a power of two, at most half full */
} u32map;

static size_t slot(const u32map *m, uint32_t k) {
    return (size_t)(((uint64_t)k * 0x9E3779B97F4A7C15ull) >> 32) & (m->cap - 1);
}

static uint32_t map_get(const u32map *m, uint32_t k) {
    if (!m->cap) return EMPTY;
    for (size_t i = slot(m, k);; i = (i + 1) & (m->cap - 1)) {
        if (m->key[i] == k) return m->val[i];
        if (m->key[i] == EMPTY) return EMPTY;
    }
}

static rw_status map_put(u32map *m, uint32_t k, uint32_t v) {
    if (2 * (m->n + 1) > m->cap) {
        u32map g = {NULL, NULL, m->cap ? 2 * m->cap : 1024, 0};
        g.key = malloc(g.cap * sizeof *g.key);
        g.val = malloc(g.cap * sizeof *g.val);
        if (!g.key || !g.val) {
            free(g.key);
            free(g.val);
            return RW_ERR_NOMEM;
        }
        memset(g.key, 0xff, g.cap * sizeof *g.key);
        for (size_t i = 0; i < m->cap; i++)
            if (m->key[i] != EMPTY) map_put(&g, m->key[i], m->val[i]);
        free(m->key);
        free(m->val);
        *m = g;
    }
    size_t i = slot(m, k);
    while (m->key[i] != EMPTY && m->key[i] != k) i = (i + 1) & (m->cap - 1);
    m->n += m->key[i] == EMPTY;
    m->key[i] = k;
    m->val[i] = v;
    return RW_OK;
}

static void map_free(u32map *m) {
    free(m->key);
    free(m->val);
}

/* Strings are gathered in one buffer by offset (it moves as it grows) and
 * turned into pointers at the end. */
typedef struct {
    rw_cluster_graph *g;
    const rw_cg_request *req;
    uint64_t max_nodes, max_edges;
    size_t cap_nodes, cap_edges, cap_clusters;
    size_t *label_off;   /* [cap_nodes] */
    size_t *cluster_off; /* [2 * cap_clusters] features, reasons */
    size_t tlen, tcap;
    u32map index;     /* node id -> index in g->nodes */
    u32map attr_clus; /* attribute node id -> exported cluster */
    char what[64];    /* "cluster 12 of run 3", for messages */
    rw_err *err;
} builder;

static rw_status nomem(builder *b) {
    return rw_fail(b->err, RW_ERR_NOMEM, "%s: out of memory", b->what);
}

static rw_status text_add(builder *b, const char *s, size_t len, size_t *off) {
    if (b->tlen + len + 1 > b->tcap) {
        size_t cap = b->tcap ? b->tcap : 4096;
        while (cap < b->tlen + len + 1) cap *= 2;
        char *t = realloc(b->g->text_, cap);
        if (!t) return nomem(b);
        b->g->text_ = t;
        b->tcap = cap;
    }
    memcpy(b->g->text_ + b->tlen, s, len);
    b->g->text_[b->tlen + len] = 0;
    *off = b->tlen;
    b->tlen += len + 1;
    return RW_OK;
}

static rw_status too_large(builder *b) {
    return rw_fail(b->err, RW_ERR_LIMIT,
                   "%s: more than %llu nodes or %llu edges (accounts, their attributes and the links between "
                   "them), above the export limit; export fewer clusters or raise the limit",
                   b->what, (unsigned long long)b->max_nodes, (unsigned long long)b->max_edges);
}

/* Appends a node; *idx receives its index. */
static rw_status add_node(builder *b, uint32_t node, rw_kind kind, const char *label, size_t len, uint32_t *idx) {
    rw_cluster_graph *g = b->g;
    if (g->nnodes >= b->max_nodes) return too_large(b);
    if (g->nnodes == b->cap_nodes) {
        size_t cap = b->cap_nodes ? 2 * b->cap_nodes : 256;
        rw_cg_node *n = realloc(g->nodes, cap * sizeof *n);
        if (n) g->nodes = n;
        size_t *o = realloc(b->label_off, cap * sizeof *o);
        if (o) b->label_off = o;
        if (!n || !o) return nomem(b);
        b->cap_nodes = cap;
    }
    rw_status st = text_add(b, label, len, &b->label_off[g->nnodes]);
    if (st == RW_OK && map_put(&b->index, node, (uint32_t)g->nnodes) != RW_OK) st = nomem(b);
    if (st != RW_OK) return st;
    rw_cg_node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->node = node;
    n->kind = kind;
    n->score = NAN;
    n->x = n->y = NAN;
    *idx = (uint32_t)g->nnodes++;
    return RW_OK;
}

static rw_status on_cluster(void *ctx, const rw_cluster_row *c) {
    builder *b = ctx;
    rw_cluster_graph *g = b->g;
    if (g->nclusters == b->cap_clusters) {
        size_t cap = b->cap_clusters ? 2 * b->cap_clusters : 16;
        rw_cluster_row *r = realloc(g->clusters, cap * sizeof *r);
        if (r) g->clusters = r;
        size_t *o = realloc(b->cluster_off, 2 * cap * sizeof *o);
        if (o) b->cluster_off = o;
        if (!r || !o) return nomem(b);
        b->cap_clusters = cap;
    }
    size_t i = g->nclusters;
    const char *f = c->features ? c->features : "{}", *r = c->reasons ? c->reasons : "[]";
    rw_status st = text_add(b, f, strlen(f), &b->cluster_off[2 * i]);
    if (st == RW_OK) st = text_add(b, r, strlen(r), &b->cluster_off[2 * i + 1]);
    if (st != RW_OK) return st;
    g->clusters[i] = *c;
    g->nclusters++;
    return RW_OK;
}

static rw_status on_member(void *ctx, const rw_score_row *r) {
    builder *b = ctx;
    if (!r->cluster) return RW_OK; /* a whole run's scores include accounts in no cluster */
    const char *ext = r->ext ? r->ext : "";
    uint32_t idx;
    rw_status st = add_node(b, r->account, RW_KIND_ACCOUNT, ext, strlen(ext), &idx);
    if (st != RW_OK) return st;
    rw_cg_node *n = &b->g->nodes[idx];
    n->cluster = r->cluster;
    n->score = r->score;
    n->flagged = r->flagged;
    return RW_OK;
}

typedef struct {
    builder *b;
    uint32_t cluster;
} attr_ctx;

static rw_status on_cluster_attr(void *ctx, uint32_t attribute) {
    attr_ctx *a = ctx;
    return map_put(&a->b->attr_clus, attribute, a->cluster) == RW_OK ? RW_OK : nomem(a->b);
}

static void on_membership(void *ctx, uint32_t node, uint32_t cluster) {
    builder *b = ctx;
    /* A failed insert only leaves an attribute's cluster at 0. */
    if (cluster) (void)map_put(&b->attr_clus, node, cluster);
}

/* The run's side, under store_mu: clusters, their accounts, and which
 * cluster each attribute was put in. */
static rw_status read_run(rw_engine *e, builder *b) {
    const rw_cg_request *q = b->req;
    rw_cluster_graph *g = b->g;
    int64_t run = q->run;
    rw_status st = RW_OK;
    if (!run) {
        st = rw_store_latest_run(e->store, &run, b->err);
        if (st != RW_OK) return st;
        if (!run) return rw_fail(b->err, RW_ERR_NOTFOUND, "no run yet: run `ringwatch rescore` first");
    } else {
        rw_run_row rr;
        char params[64], summary[64];
        st = rw_store_get_run(e->store, run, &rr, params, summary, sizeof params, b->err);
        if (st != RW_OK) return st;
    }
    g->run = run;
    switch (q->scope) {
        case RW_CG_CLUSTER:
            snprintf(b->what, sizeof b->what, "cluster %u of run %lld", q->id, (long long)run);
            break;
        case RW_CG_TOP:
            snprintf(b->what, sizeof b->what, "the top %u clusters of run %lld", q->top, (long long)run);
            break;
        default:
            snprintf(b->what, sizeof b->what, "run %lld", (long long)run);
    }
    uint32_t id = q->scope == RW_CG_CLUSTER ? q->id : 0;
    uint64_t limit = q->scope == RW_CG_TOP ? q->top : q->scope == RW_CG_CLUSTER ? 1 : 0;
    st = rw_store_run_clusters(e->store, run, -1.0, id, limit, on_cluster, b, b->err);
    if (st != RW_OK) return st;
    if (q->scope == RW_CG_CLUSTER && !g->nclusters)
        return rw_fail(b->err, RW_ERR_NOTFOUND, "no cluster %u in run %lld", q->id, (long long)run);
    if (q->scope == RW_CG_RUN) {
        /* One pass over the run's accounts instead of a query per cluster. */
        st = rw_store_run_scores(e->store, run, on_member, b, b->err);
        if (st == RW_OK) st = rw_store_run_membership(e->store, run, on_membership, b, b->err);
        return st;
    }
    for (size_t i = 0; i < g->nclusters && st == RW_OK; i++) {
        attr_ctx a = {b, g->clusters[i].id};
        st = rw_store_cluster_members(e->store, run, a.cluster, 0, on_member, b, b->err);
        if (st == RW_OK) st = rw_store_cluster_attributes(e->store, run, a.cluster, on_cluster_attr, &a, b->err);
    }
    return st;
}

static rw_status add_edge(builder *b, uint32_t account, uint32_t attr, const rw_edge *ed) {
    rw_cluster_graph *g = b->g;
    if (g->nedges >= b->max_edges) return too_large(b);
    if (g->nedges == b->cap_edges) {
        size_t cap = b->cap_edges ? 2 * b->cap_edges : 512;
        rw_cg_edge *v = realloc(g->edges, cap * sizeof *v);
        if (!v) return nomem(b);
        g->edges = v;
        b->cap_edges = cap;
    }
    g->edges[g->nedges++] = (rw_cg_edge){account, attr, ed->first_seen, ed->last_seen, ed->count};
    return RW_OK;
}

/* The graph's side, under the read lock: the accounts' facts, their
 * attributes and edges. */
static rw_status read_graph(rw_engine *e, builder *b) {
    rw_cluster_graph *g = b->g;
    const rw_graph *gr = e->graph;
    g->hub_degree = e->live.hub_degree ? e->live.hub_degree : 200;
    size_t naccounts = g->nnodes;
    rw_status st = RW_OK;
    for (size_t i = 0; i < naccounts && st == RW_OK; i++) {
        uint32_t a = g->nodes[i].node;
        g->nodes[i].first_seen = rw_graph_first_seen(gr, a);
        g->nodes[i].last_seen = rw_graph_last_seen(gr, a);
        g->nodes[i].degree = rw_graph_degree(gr, a);
        uint32_t k = 0;
        const rw_edge *ed = rw_graph_account_edges(gr, a, &k);
        for (uint32_t j = 0; j < k && st == RW_OK; j++) {
            uint32_t x = map_get(&b->index, ed[j].attr);
            if (x == EMPTY) {
                char pseudonym[40] = "";
                rw_kind kind = rw_graph_kind(gr, ed[j].attr);
                const rw_hash *h = rw_graph_attr_hash(gr, ed[j].attr);
                if (h) rw_hash_pseudonym(pseudonym, sizeof pseudonym, kind, h);
                st = add_node(b, ed[j].attr, kind, pseudonym, strlen(pseudonym), &x);
                if (st != RW_OK) break;
                rw_cg_node *n = &g->nodes[x];
                uint32_t c = map_get(&b->attr_clus, ed[j].attr);
                n->cluster = c == EMPTY ? 0 : c;
                n->first_seen = rw_graph_first_seen(gr, ed[j].attr);
                n->last_seen = rw_graph_last_seen(gr, ed[j].attr);
                n->degree = rw_graph_degree(gr, ed[j].attr);
                n->hub = n->degree > g->hub_degree;
            }
            st = add_edge(b, (uint32_t)i, x, &ed[j]);
        }
    }
    return st;
}

static rw_status lay_out(rw_cluster_graph *g, rw_err *err) {
    if (g->nnodes > RW_CG_LAYOUT_MAX || g->nnodes == 0) return RW_OK;
    uint32_t *pairs = malloc((2 * g->nedges + 1) * sizeof *pairs);
    double *xy = malloc(2 * g->nnodes * sizeof *xy);
    rw_status st = RW_OK;
    if (!pairs || !xy) {
        st = rw_fail(err, RW_ERR_NOMEM, "layout: out of memory");
        goto done;
    }
    for (size_t j = 0; j < g->nedges; j++) {
        pairs[2 * j] = g->edges[j].account;
        pairs[2 * j + 1] = g->edges[j].attr;
    }
    st = rw_detect_layout(pairs, g->nedges, (uint32_t)g->nnodes, 1, xy, err);
    if (st != RW_OK) goto done;
    for (size_t i = 0; i < g->nnodes; i++) {
        g->nodes[i].x = xy[2 * i];
        g->nodes[i].y = xy[2 * i + 1];
    }
    g->laid_out = 1;
done:
    free(pairs);
    free(xy);
    return st;
}

void rw_engine_cluster_graph_free(rw_cluster_graph *g) {
    if (!g) return;
    free(g->nodes);
    free(g->edges);
    free(g->clusters);
    free(g->text_);
    free(g);
}

rw_status rw_engine_cluster_graph(rw_engine *e, rw_cluster_graph **out, const rw_cg_request *req, rw_err *err) {
    *out = NULL;
    rw_status st = rw_engine_need_graph(e, err);
    if (st != RW_OK) return st;
    if (req->scope == RW_CG_CLUSTER && !req->id) return rw_fail(err, RW_ERR_INVALID, "cluster: an id is required");
    if (req->scope == RW_CG_TOP && !req->top) return rw_fail(err, RW_ERR_INVALID, "top: must be at least 1");
    if (req->scope != RW_CG_CLUSTER && req->scope != RW_CG_TOP && req->scope != RW_CG_RUN)
        return rw_fail(err, RW_ERR_INVALID, "scope: must be a cluster, the top clusters or a run");
    builder b = {.req = req, .err = err, .what = "export"};
    b.max_nodes = req->max_nodes ? req->max_nodes : RW_CG_MAX_NODES;
    b.max_edges = req->max_edges ? req->max_edges : RW_CG_MAX_EDGES;
    if (b.max_nodes > UINT32_MAX - 1) b.max_nodes = UINT32_MAX - 1; /* indexes are uint32 */
    if (!(b.g = calloc(1, sizeof *b.g))) return rw_fail(err, RW_ERR_NOMEM, "out of memory");

    rw_engine_store_lock(e);
    st = read_run(e, &b);
    rw_engine_store_unlock(e);
    if (st != RW_OK) goto done;

    pthread_rwlock_rdlock(&e->lock);
    st = read_graph(e, &b);
    pthread_rwlock_unlock(&e->lock);
    if (st != RW_OK) goto done;

    rw_cluster_graph *g = b.g;
    for (size_t j = 0; j < g->nedges; j++) {
        g->nodes[g->edges[j].account].sub_degree++;
        g->nodes[g->edges[j].attr].sub_degree++;
    }
    for (size_t i = 0; i < g->nnodes; i++) g->nodes[i].label = g->text_ + b.label_off[i];
    for (size_t i = 0; i < g->nclusters; i++) {
        g->clusters[i].features = g->text_ + b.cluster_off[2 * i];
        g->clusters[i].reasons = g->text_ + b.cluster_off[2 * i + 1];
    }
    if (req->layout) st = lay_out(g, err);

done:
    free(b.label_off);
    free(b.cluster_off);
    map_free(&b.index);
    map_free(&b.attr_clus);
    if (st != RW_OK) {
        rw_engine_cluster_graph_free(b.g);
        return st;
    }
    *out = b.g;
    return RW_OK;
}
