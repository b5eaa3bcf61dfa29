/* engine stage: the snapshot cut into components (hubs aside), dealt to
 * shards, each shard's graph and detection, and the shards' results merged
 * into one detection as if the whole snapshot had been scored at once.
 *
 * Why the result does not depend on the number of shards: a component
 * holds every non-hub attribute with all of its accounts, and every
 * detector works within a component (Leiden one component at a time from
 * one seed, features and scores per community, evidence through non-hub
 * attributes); a shard's nodes keep their relative order, weight totals are
 * exact sums of the whole graph, hubs keep their whole-graph degree
 * (rw_graph_snap.degree) and the whole graph's verdict on whether they glue
 * (rw_graph_snap.glue; a hub that glues holds its accounts in one
 * component), and communities are renumbered here in order of
 * their smallest node. Plain rescoring takes the same path with one shard. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "shard.h"

#define NONE        UINT32_MAX
#define SHARD_MAGIC 0x52575348u /* "RWSH" */
#define NODES_MAGIC 0x5257534eu /* "RWSN" */
#define COMMS_MAGIC 0x52575343u /* "RWSC" */
/* A shard's output goes in parts of at most so many nodes or communities,
 * about 13 and 17 MB (see emit_nodes). */
#define NODE_SLICE (1u << 19)
#define COMM_SLICE (1u << 16)

/* What a shard's input starts with; the arrays follow (see shard_input). */
typedef struct {
    uint32_t magic, n;
    uint64_t m;
    uint32_t keep_init, has_init, rescore_rules, hub_degree;
    uint32_t node_slice, comm_slice; /* its output's parts, as rw_shard_plan's */
    double density;
    rw_weight_totals totals;
    rw_model model;
} shard_head;

/* What each part of a shard's output starts with. */
typedef struct {
    uint32_t magic, n, ncomm; /* the shard's nodes and communities */
    uint32_t first;           /* the part's first node or community */
} out_head;

static uint32_t uf_find(uint32_t *par, uint32_t x) {
    while (par[x] != x) {
        par[x] = par[par[x]];
        x = par[x];
    }
    return x;
}

/* Components of s once the hubs that glue nothing are cut: every node but
 * hubs and attributes of no account is in one, named by its smallest node.
 * A hub that glues joins its accounts yet stays in none, as every hub: a
 * border of the one shard that holds all of its accounts. */
static rw_status components(rw_shard_plan *pl, const rw_graph_snap *s, uint32_t hub_degree, rw_err *err) {
    uint32_t *par = malloc(((size_t)s->n + 1) * sizeof *par);
    pl->unit = malloc(((size_t)s->n + 1) * sizeof *pl->unit);
    if (!par || !pl->unit) {
        free(par);
        return rw_fail(err, RW_ERR_NOMEM, "shards: out of memory for %u nodes", s->n);
    }
    for (uint32_t v = 0; v < s->n; v++) par[v] = v;
    for (uint64_t e = 0; e < s->m; e++) {
        uint32_t a = uf_find(par, s->edge_account[e]), b = s->edges[e].attr;
        if (rw_graph_snap_degree(s, b) > hub_degree && !(pl->glue && pl->glue[b])) continue;
        b = uf_find(par, b);
        if (a < b)
            par[b] = a;
        else if (b < a)
            par[a] = b;
    }
    pl->nunits = 0;
    for (uint32_t v = 0; v < s->n; v++) {
        int in = s->kind[v] == RW_KIND_ACCOUNT ||
                 (rw_graph_snap_degree(s, v) >= 1 && rw_graph_snap_degree(s, v) <= hub_degree);
        uint32_t r = uf_find(par, v);
        pl->unit[v] = !in ? NONE : r == v ? pl->nunits++ : pl->unit[r];
    }
    free(par);
    return RW_OK;
}

static int load_cmp(const void *a, const void *b) {
    const uint64_t *x = a, *y = b; /* {edges, unit} */
    if (x[0] != y[0]) return x[0] > y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Whole components to shards, largest first, each to the least loaded. */
static rw_status deal(rw_shard_plan *pl, const rw_graph_snap *s, rw_err *err) {
    uint64_t *units = calloc(((size_t)pl->nunits + 1) * 2, sizeof *units);
    uint64_t *accts = calloc((size_t)pl->nunits + 1, sizeof *accts);
    pl->shard_of = malloc(((size_t)pl->nunits + 1) * sizeof *pl->shard_of);
    if (!units || !accts || !pl->shard_of) {
        free(units), free(accts);
        return rw_fail(err, RW_ERR_NOMEM, "shards: out of memory for %u components", pl->nunits);
    }
    for (uint32_t u = 0; u < pl->nunits; u++) units[2 * u + 1] = u;
    for (uint32_t v = 0; v < s->n; v++) {
        if (s->kind[v] != RW_KIND_ACCOUNT) continue;
        units[2 * pl->unit[v]] += rw_graph_snap_degree(s, v);
        accts[pl->unit[v]]++;
    }
    qsort(units, pl->nunits, 2 * sizeof *units, load_cmp);
    if (pl->nunits) {
        pl->largest_edges = units[0];
        pl->largest_accounts = accts[units[1]];
    }
    /* Rank 0 also holds, beside its shard, what the merge and the write
     * read (the snapshot trimmed to kinds and neighbours, the plan's node
     * lists) for the whole graph: it starts with a sixth of the edges as its
     * load whatever the number of shards, about what those weigh against a
     * shard's detectors, so that the largest component goes elsewhere when
     * there is an elsewhere and two ranks peak alike (docs/SCALING.md). */
    if (pl->shards > 1) pl->load[0] = s->m / 6;
    for (uint32_t i = 0; i < pl->nunits; i++) {
        int best = 0;
        for (int k = 1; k < pl->shards; k++)
            if (pl->load[k] < pl->load[best]) best = k;
        pl->load[best] += units[2 * i] + 1;
        pl->shard_of[units[2 * i + 1]] = (uint32_t)best;
    }
    free(units), free(accts);
    return RW_OK;
}

rw_status rw_shard_plan_make(rw_shard_plan *pl, const rw_graph_snap *s, uint32_t hub_degree, const uint8_t *glue,
                             int shards, rw_err *err) {
    memset(pl, 0, sizeof *pl);
    pl->glue = glue;
    pl->node_slice = NODE_SLICE;
    pl->comm_slice = COMM_SLICE;
    if (shards < 1) return rw_fail(err, RW_ERR_INVALID, "shards: %d shards", shards);
    pl->shards = shards;
    pl->load = calloc((size_t)shards, sizeof *pl->load);
    pl->nodes = calloc((size_t)shards, sizeof *pl->nodes);
    pl->nnodes = calloc((size_t)shards, sizeof *pl->nnodes);
    pl->local = malloc(((size_t)s->n + 1) * sizeof *pl->local);
    if (!pl->load || !pl->nodes || !pl->nnodes || !pl->local)
        return rw_fail(err, RW_ERR_NOMEM, "shards: out of memory for %d shards", shards);
    for (uint32_t v = 0; v < s->n; v++) pl->local[v] = NONE;
    rw_status st = components(pl, s, hub_degree, err);
    if (st == RW_OK) st = deal(pl, s, err);
    return st;
}

void rw_shard_plan_free(rw_shard_plan *pl) {
    for (int k = 0; pl->nodes && k < pl->shards; k++) free(pl->nodes[k]);
    free(pl->nodes);
    free(pl->nnodes);
    free(pl->load);
    free(pl->unit);
    free(pl->shard_of);
    free(pl->local);
    memset(pl, 0, sizeof *pl);
}

/* What only cutting, making inputs, merging nodes and numbering read. */
static void plan_drop_nodes(rw_shard_plan *pl) {
    for (int k = 0; pl->nodes && k < pl->shards; k++) free(pl->nodes[k]), pl->nodes[k] = NULL;
    free(pl->unit), free(pl->shard_of), free(pl->local);
    pl->unit = NULL, pl->shard_of = NULL, pl->local = NULL;
}

static int in_shard(const rw_shard_plan *pl, uint32_t v, int k) {
    return pl->unit[v] != NONE && pl->shard_of[pl->unit[v]] == (uint32_t)k;
}

/* Shard k's nodes in node order: its components', and the hubs and subnets
 * they touch (borders: kept for what their members see of them, scored by
 * no shard). Sets pl->nodes[k] and pl->local for them. */
static rw_status shard_nodes(rw_shard_plan *pl, const rw_graph_snap *s, int k, uint64_t *m, rw_err *err) {
    uint8_t *mark = calloc((size_t)s->n + 1, 1);
    if (!mark) return rw_fail(err, RW_ERR_NOMEM, "shards: out of memory");
    uint32_t count = 0;
    *m = 0;
    for (uint32_t v = 0; v < s->n; v++) {
        if (!in_shard(pl, v, k)) continue;
        mark[v] = 1;
        if (s->kind[v] != RW_KIND_ACCOUNT) continue;
        *m += rw_graph_snap_degree(s, v);
        for (uint64_t j = s->off[v]; j < s->off[v + 1]; j++) {
            uint32_t t = s->nbr[j], p = s->kind[t] == RW_KIND_IP ? s->parent[t] : RW_NODE_NONE;
            if (pl->unit[t] == NONE) mark[t] = 1;
            if (p != RW_NODE_NONE && p < s->n && !in_shard(pl, p, k)) {
                if (pl->unit[p] != NONE) { /* a subnet with edges of its own would be cut in two */
                    free(mark);
                    return rw_fail(err, RW_ERR_INTERNAL, "shards: subnet %u has edges", p);
                }
                mark[p] = 1;
            }
        }
    }
    for (uint32_t v = 0; v < s->n; v++) count += mark[v];
    free(pl->nodes[k]);
    pl->nodes[k] = malloc(((size_t)count + 1) * sizeof *pl->nodes[k]);
    if (!pl->nodes[k]) {
        free(mark);
        return rw_fail(err, RW_ERR_NOMEM, "shards: out of memory for %u nodes", count);
    }
    pl->nnodes[k] = 0;
    for (uint32_t v = 0; v < s->n; v++)
        if (mark[v]) pl->local[v] = pl->nnodes[k], pl->nodes[k][pl->nnodes[k]++] = v;
    free(mark);
    return RW_OK;
}

/* Appends size bytes to a buffer whose room was computed beforehand. */
static void put(uint8_t **at, const void *p, size_t size) {
    memcpy(*at, p, size);
    *at += size;
}

rw_status rw_shard_input(rw_shard_plan *pl, const rw_graph_snap *s, const rw_shard_job *job, int k, void **buf,
                         size_t *len, rw_err *err) {
    *buf = NULL;
    *len = 0;
    uint64_t m = 0;
    rw_status st = shard_nodes(pl, s, k, &m, err);
    if (st != RW_OK) return st;
    const uint32_t n = pl->nnodes[k], *nodes = pl->nodes[k];
    shard_head h = {.magic = SHARD_MAGIC,
                    .n = n,
                    .m = m,
                    .keep_init = (uint32_t)job->keep_init,
                    .has_init = job->init != NULL,
                    .rescore_rules = (uint32_t)job->rescore_rules,
                    .hub_degree = job->hub_degree,
                    .node_slice = pl->node_slice,
                    .comm_slice = pl->comm_slice,
                    .density = job->density,
                    .totals = job->totals,
                    .model = job->model};
    size_t per_node = 2 + 4 * sizeof(uint32_t) + (h.has_init ? sizeof(uint32_t) : 0);
    *len = sizeof h + (size_t)n * per_node + (size_t)m * (sizeof(uint32_t) + sizeof(rw_edge));
    uint8_t *at = *buf = malloc(*len);
    uint32_t *dense = h.has_init ? malloc(((size_t)job->max_label + 2) * sizeof *dense) : NULL;
    if (!at || (h.has_init && !dense)) {
        free(*buf), free(dense);
        *buf = NULL;
        return rw_fail(err, RW_ERR_NOMEM, "shards: out of memory for a shard of %u nodes", n);
    }
    put(&at, &h, sizeof h);
    for (uint32_t i = 0; i < n; i++) put(&at, &s->kind[nodes[i]], 1);
    for (uint32_t i = 0; i < n; i++) put(&at, &s->first_seen[nodes[i]], 4);
    for (uint32_t i = 0; i < n; i++) put(&at, &s->last_seen[nodes[i]], 4);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = s->parent[nodes[i]];
        p = p == RW_NODE_NONE || p >= s->n ? RW_NODE_NONE : pl->local[p];
        put(&at, &p, 4);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t d = rw_graph_snap_degree(s, nodes[i]);
        put(&at, &d, 4);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint8_t g = pl->glue ? pl->glue[nodes[i]] : 0;
        put(&at, &g, 1);
    }
    if (h.has_init) {
        /* Previous cluster ids (0: none), dense in order of first node; n marks a
         * node that is new since. */
        memset(dense, 0, ((size_t)job->max_label + 2) * sizeof *dense);
        uint32_t next = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t l = job->init[nodes[i]], out = n;
            if (l && l <= job->max_label) {
                if (!dense[l]) dense[l] = ++next;
                out = dense[l] - 1;
            }
            put(&at, &out, 4);
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v = nodes[i];
        if (s->kind[v] != RW_KIND_ACCOUNT || !in_shard(pl, v, k)) continue;
        for (uint64_t j = s->off[v]; j < s->off[v + 1]; j++) put(&at, &i, 4);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v = nodes[i];
        if (s->kind[v] != RW_KIND_ACCOUNT || !in_shard(pl, v, k)) continue;
        for (uint64_t j = s->off[v]; j < s->off[v + 1]; j++) {
            rw_edge e = s->edges[s->eid[j]];
            e.attr = pl->local[e.attr];
            put(&at, &e, sizeof e);
        }
    }
    free(dense);
    for (uint32_t i = 0; i < n; i++) pl->local[nodes[i]] = NONE;
    return RW_OK;
}

/* Reads size bytes, or fails when the input is short. */
static int take(const uint8_t **at, const uint8_t *end, void *p, size_t size) {
    if ((size_t)(end - *at) < size) return -1;
    memcpy(p, *at, size);
    *at += size;
    return 0;
}

/* The shard's snapshot from its input (after the head). */
static rw_status shard_snap(const shard_head *h, const uint8_t **at, const uint8_t *end, rw_graph_snap **out,
                            uint32_t **init, rw_err *err) {
    rw_graph_snap *s = calloc(1, sizeof *s);
    size_t n1 = (size_t)h->n + 1, m1 = (size_t)h->m + 1;
    if (!s) return rw_fail(err, RW_ERR_NOMEM, "shard: out of memory");
    *out = s;
    s->n = h->n;
    s->m = h->m;
    s->kind = malloc(n1);
    s->first_seen = malloc(n1 * 4);
    s->last_seen = malloc(n1 * 4);
    s->parent = malloc(n1 * 4);
    s->degree = malloc(n1 * 4);
    s->glue = malloc(n1);
    s->off = calloc(n1 + 1, sizeof *s->off);
    s->edge_account = malloc(m1 * 4);
    s->edges = malloc(m1 * sizeof *s->edges);
    *init = h->has_init ? malloc(n1 * 4) : NULL;
    if (!s->kind || !s->first_seen || !s->last_seen || !s->parent || !s->degree || !s->glue || !s->off ||
        !s->edge_account || !s->edges || (h->has_init && !*init))
        return rw_fail(err, RW_ERR_NOMEM, "shard: out of memory for %u nodes", h->n);
    if (take(at, end, s->kind, h->n) || take(at, end, s->first_seen, h->n * 4ull) ||
        take(at, end, s->last_seen, h->n * 4ull) || take(at, end, s->parent, h->n * 4ull) ||
        take(at, end, s->degree, h->n * 4ull) || take(at, end, s->glue, h->n) ||
        (h->has_init && take(at, end, *init, h->n * 4ull)) || take(at, end, s->edge_account, h->m * 4) ||
        take(at, end, s->edges, h->m * sizeof *s->edges) || *at != end)
        return rw_fail(err, RW_ERR_INVALID, "shard: input of the wrong length");
    for (uint64_t e = 0; e < s->m; e++) {
        uint32_t a = s->edge_account[e], b = s->edges[e].attr;
        if (a >= s->n || b >= s->n)
            return rw_fail(err, RW_ERR_INVALID, "shard: edge %llu out of range", (unsigned long long)e);
        s->off[a + 1]++;
        s->off[b + 1]++;
    }
    for (uint32_t v = 0; v < s->n; v++)
        if (s->parent[v] != RW_NODE_NONE && s->parent[v] >= s->n)
            return rw_fail(err, RW_ERR_INVALID, "shard: parent of %u out of range", v);
    return rw_graph_snap_index(s, err);
}

/* A shard's output goes back as a stream of parts, each at most a slice,
 * so that rank 0 holds one part at a time and a shard no copy of its
 * output: first per node its scores, community, evidence and reason bits
 * (at least one part, which tells the shard's communities), then per
 * community its features and score, which rank 0 places only once every
 * shard's nodes have numbered the communities. 8-byte fields come first,
 * so that a reader may point into the bytes. */
#define NODE_BYTES (8 + 8 + 4 + 4 + 1)
#define COMM_BYTES (sizeof(rw_cluster_features) + 8)

static uint32_t slice_count(uint32_t count, uint32_t slice) {
    return count / slice + (count % slice != 0);
}

static uint32_t slice_len(uint32_t count, uint32_t first, uint32_t slice) {
    return count - first < slice ? count - first : slice;
}

/* The per-node parts, each built in buf (room for a slice) and emitted. */
static rw_status emit_nodes(uint32_t n, const rw_detection *d, uint32_t slice, uint8_t *buf, rw_shard_emit emit,
                            void *ctx, rw_err *err) {
    rw_status st = RW_OK;
    uint32_t first = 0;
    do {
        uint32_t count = slice_len(n, first, slice);
        out_head h = {NODES_MAGIC, n, d->ncomm, first};
        uint8_t *at = buf;
        put(&at, &h, sizeof h);
        put(&at, d->ascore + first, (size_t)count * 8);
        put(&at, d->prop + first, (size_t)count * 8);
        put(&at, d->membership + first, (size_t)count * 4);
        put(&at, d->via + first, (size_t)count * 4);
        put(&at, d->abits + first, count);
        st = emit(ctx, buf, (size_t)(at - buf), err);
        first += count;
    } while (st == RW_OK && first < n);
    return st;
}

/* The per-community parts, the same way. */
static rw_status emit_comms(uint32_t n, const rw_detection *d, uint32_t slice, uint8_t *buf, rw_shard_emit emit,
                            void *ctx, rw_err *err) {
    rw_status st = RW_OK;
    uint32_t count = 0;
    for (uint32_t first = 0; st == RW_OK && first < d->ncomm; first += count) {
        count = slice_len(d->ncomm, first, slice);
        out_head h = {COMMS_MAGIC, n, d->ncomm, first};
        uint8_t *at = buf;
        put(&at, &h, sizeof h);
        put(&at, d->feat + first, (size_t)count * sizeof *d->feat);
        put(&at, d->cscore + first, (size_t)count * 8);
        st = emit(ctx, buf, (size_t)(at - buf), err);
    }
    return st;
}

/* The detectors' working arrays, which no output carries. */
static void drop_working(rw_detection *d) {
    free(d->w), free(d->links), free(d->af), free(d->strong), free(d->strong_via);
    d->w = NULL, d->links = NULL, d->af = NULL, d->strong = NULL, d->strong_via = NULL;
}

/* Shard 0's per-node results, once merged. */
static void drop_nodes(rw_detection *d) {
    free(d->membership), free(d->ascore), free(d->prop), free(d->via), free(d->abits);
    d->membership = NULL, d->ascore = NULL, d->prop = NULL, d->via = NULL, d->abits = NULL;
}

/* A shard's detection from its input (takes in), *n its nodes, slice[2]
 * its output's parts' (nodes, communities). What the
 * output does not carry (the shard's snapshot, the working arrays) goes
 * back before the output is sent or merged, which then adds nothing to
 * the detectors' peak. */
static rw_status shard_detect(void *in, size_t len, rw_detection *d, uint32_t *n, uint32_t slice[2], rw_err *err) {
    const uint8_t *at = in, *end = at + len;
    shard_head h = {0};
    rw_graph_snap *s = NULL;
    uint32_t *init = NULL;
    rw_status st = rw_detect_init(1, err);
    if (st == RW_OK && (take(&at, end, &h, sizeof h) || h.magic != SHARD_MAGIC || !h.node_slice ||
                        h.node_slice > NODE_SLICE || !h.comm_slice || h.comm_slice > COMM_SLICE))
        st = rw_fail(err, RW_ERR_INVALID, "shard: not a shard's input (%zu bytes)", len);
    slice[0] = h.node_slice, slice[1] = h.comm_slice;
    if (st == RW_OK) st = shard_snap(&h, &at, end, &s, &init, err);
    free(in);
    rw_rescore_params rp = {.density = h.density, .hub_degree = h.hub_degree};
    d->rescore_rules = (int)h.rescore_rules;
    if (st == RW_OK) st = rw_engine_detect(s, &rp, &h.totals, init, (int)h.keep_init, d, err);
    if (st == RW_OK) st = rw_engine_detect_model(s, &h.model, d, err);
    *n = s ? s->n : 0;
    rw_graph_snap_free(s);
    free(init);
    drop_working(d);
    return st;
}

rw_status rw_engine_shard_work(void *in, size_t len, rw_shard_emit emit, void *ctx, rw_err *err) {
    rw_detection d = {0};
    uint32_t n = 0;
    uint32_t slice[2] = {0, 0};
    rw_status st = shard_detect(in, len, &d, &n, slice, err);
    size_t nodes = (size_t)slice[0] * NODE_BYTES, comms = (size_t)slice[1] * COMM_BYTES;
    uint8_t *buf = st == RW_OK ? malloc(sizeof(out_head) + (nodes > comms ? nodes : comms)) : NULL;
    if (st == RW_OK && !buf) st = rw_fail(err, RW_ERR_NOMEM, "shard: out of memory for its output");
    if (st == RW_OK) st = emit_nodes(n, &d, slice[0], buf, emit, ctx, err);
    if (st == RW_OK) st = emit_comms(n, &d, slice[1], buf, emit, ctx, err);
    free(buf);
    rw_detection_free(&d);
    return st;
}

/* One shard's communities, between its nodes' merge and its features'. */
typedef struct {
    uint32_t ncomm;
    uint32_t *map; /* [ncomm] its communities' numbers in the merged run */
} shard_result;

static rw_status result_start(shard_result *r, int k, uint32_t ncomm, rw_err *err) {
    r->ncomm = ncomm;
    r->map = malloc(((size_t)ncomm + 1) * sizeof *r->map);
    if (!r->map) return rw_fail(err, RW_ERR_NOMEM, "shard %d: out of memory", k);
    for (uint32_t c = 0; c < ncomm; c++) r->map[c] = NONE;
    return RW_OK;
}

/* A slice of a shard's per-node results where they lie: in a part's
 * bytes, or in shard 0's detection (nodes NULL: node i is node i). */
typedef struct {
    uint32_t n, first, count; /* the shard's nodes; the slice's [first, first + count) */
    const uint32_t *nodes;
    const double *ascore, *prop; /* [count], as the rest */
    const uint32_t *membership, *via;
    const uint8_t *abits;
} shard_view;

/* A per-node part of shard k's: its head is checked against the plan, the
 * communities its first part told (ncomm) and the node it should start
 * at. */
static rw_status view_nodes(shard_view *x, const rw_shard_plan *pl, int k, uint32_t first, const void *buf, size_t len,
                            uint32_t *ncomm, rw_err *err) {
    const uint8_t *at = buf, *end = at + len;
    out_head h;
    if (take(&at, end, &h, sizeof h) || h.magic != NODES_MAGIC || h.n != pl->nnodes[k] || h.first != first ||
        (first && h.ncomm != *ncomm))
        return rw_fail(err, RW_ERR_INVALID, "shard %d: not its output (%zu bytes)", k, len);
    uint32_t count = slice_len(h.n, first, pl->node_slice);
    if ((size_t)(end - at) != (size_t)count * NODE_BYTES)
        return rw_fail(err, RW_ERR_INVALID, "shard %d: output of the wrong length", k);
    *ncomm = h.ncomm;
    *x = (shard_view){.n = h.n, .first = first, .count = count, .nodes = pl->nodes[k]};
    x->ascore = (const void *)at;
    x->prop = x->ascore + count;
    x->membership = (const void *)(x->prop + count);
    x->via = x->membership + count;
    x->abits = (const void *)(x->via + count);
    return RW_OK;
}

/* A per-community part of shard k's, the one that starts at first. */
static rw_status view_comms(const rw_shard_plan *pl, int k, const shard_result *r, uint32_t first, const void *buf,
                            size_t len, const rw_cluster_features **feat, const double **cscore, rw_err *err) {
    const uint8_t *at = buf, *end = at + len;
    out_head h;
    if (take(&at, end, &h, sizeof h) || h.magic != COMMS_MAGIC || h.n != pl->nnodes[k] || h.ncomm != r->ncomm ||
        h.first != first)
        return rw_fail(err, RW_ERR_INVALID, "shard %d: not its output (%zu bytes)", k, len);
    uint32_t count = slice_len(h.ncomm, first, pl->comm_slice);
    if ((size_t)(end - at) != (size_t)count * COMM_BYTES)
        return rw_fail(err, RW_ERR_INVALID, "shard %d: output of the wrong length", k);
    *feat = (const void *)at;
    *cscore = (const void *)(*feat + count);
    return RW_OK;
}

/* Takes a slice of shard k's per-node results into d, its communities
 * still the shard's own numbers (number renumbers them). */
static rw_status merge_nodes(const rw_shard_plan *pl, int k, const shard_view *x, rw_detection *d,
                             const shard_result *r, rw_err *err) {
    for (uint32_t i = 0; i < x->count; i++) {
        uint32_t at = x->first + i, v = x->nodes ? x->nodes[at] : at, c = x->membership[i], t = x->via[i];
        if (!in_shard(pl, v, k)) continue; /* a border: scored by no shard */
        if (c >= r->ncomm || (t != RW_NODE_NONE && t >= x->n))
            return rw_fail(err, RW_ERR_INVALID, "shard %d: node %u out of range", k, at);
        d->membership[v] = c;
        d->ascore[v] = x->ascore[i];
        d->prop[v] = x->prop[i];
        d->via[v] = t == RW_NODE_NONE ? RW_NODE_NONE : x->nodes ? x->nodes[t] : t;
        d->abits[v] = x->abits[i];
    }
    return RW_OK;
}

/* Communities numbered in order of their smallest node (a node of no
 * component is one of its own, with no accounts), in d->membership where
 * each shard's own numbers were. */
static rw_status number(const rw_shard_plan *pl, uint32_t n, shard_result *r, rw_detection *d, rw_err *err) {
    uint64_t total = 0;
    for (int k = 0; k < pl->shards; k++) total += r[k].ncomm;
    for (uint32_t v = 0; v < n; v++) total += pl->unit[v] == NONE;
    if (total >= NONE) return rw_fail(err, RW_ERR_LIMIT, "shards: %llu communities", (unsigned long long)total);
    uint32_t next = 0;
    for (uint32_t v = 0; v < n; v++) {
        if (pl->unit[v] == NONE) {
            d->membership[v] = next++;
            continue;
        }
        shard_result *x = &r[pl->shard_of[pl->unit[v]]];
        uint32_t c = d->membership[v];
        if (x->map[c] == NONE) x->map[c] = next++;
        d->membership[v] = x->map[c];
    }
    d->ncomm = next;
    return RW_OK;
}

#define MOVED  1 /* the community first at this place has left it */
#define PLACED 2 /* the community numbered this place is in it */

/* Shard 0's communities to their numbers in place: its arrays grow to
 * every community's and each community moves to its number, following
 * the chain of those it displaces, so that shard 0's features and the
 * merged ones are never held both. A community with no number is dropped;
 * a place no community of shard 0's takes is zeroed (another shard's comes
 * later; one of no component keeps zero features). */
static rw_status place_local(const shard_result *r, rw_detection *local, rw_detection *d, rw_err *err) {
    uint32_t n0 = r->ncomm, room = d->ncomm > n0 ? d->ncomm : n0;
    rw_cluster_features *feat = realloc(local->feat, ((size_t)room + 1) * sizeof *feat);
    if (feat) local->feat = feat;
    double *cscore = realloc(local->cscore, ((size_t)room + 1) * sizeof *cscore);
    if (cscore) local->cscore = cscore;
    uint8_t *mark = calloc((size_t)room + 1, 1);
    if (!feat || !cscore || !mark) {
        free(mark);
        return rw_fail(err, RW_ERR_NOMEM, "shards: out of memory for %u communities", room);
    }
    for (uint32_t c = 0; c < n0; c++) {
        if (mark[c] & MOVED) continue;
        rw_cluster_features f = feat[c];
        double cs = cscore[c];
        mark[c] |= MOVED;
        /* f is the community first at src, on its way to its number. */
        for (uint32_t src = c, to = r->map[c]; to != NONE; src = to, to = r->map[src]) {
            if (to >= n0 || (mark[to] & MOVED)) { /* a free place: the chain ends */
                feat[to] = f, cscore[to] = cs;
                mark[to] |= PLACED;
                break;
            }
            rw_cluster_features fo = feat[to];
            double co = cscore[to];
            feat[to] = f, cscore[to] = cs;
            mark[to] |= MOVED | PLACED;
            f = fo, cs = co;
        }
    }
    for (uint32_t c = 0; c < d->ncomm; c++)
        if (!(mark[c] & PLACED)) memset(&feat[c], 0, sizeof feat[c]), cscore[c] = 0;
    free(mark);
    d->feat = feat, d->cscore = cscore;
    local->feat = NULL, local->cscore = NULL;
    return RW_OK;
}

/* A shard's communities [first, first + count) to their numbers; one with
 * no number held border nodes only, which no shard scores. */
static void place(const shard_result *r, uint32_t first, uint32_t count, const rw_cluster_features *feat,
                  const double *cscore, rw_detection *d) {
    for (uint32_t i = 0; i < count; i++) {
        uint32_t c = r->map[first + i];
        if (c == NONE) continue;
        d->feat[c] = feat[i];
        d->cscore[c] = cscore[i];
    }
}

static rw_status merged_alloc(rw_detection *d, uint32_t n, rw_err *err) {
    d->membership = malloc(((size_t)n + 1) * sizeof *d->membership);
    d->ascore = calloc((size_t)n + 1, sizeof *d->ascore);
    d->prop = calloc((size_t)n + 1, sizeof *d->prop);
    d->via = malloc(((size_t)n + 1) * sizeof *d->via);
    d->abits = calloc((size_t)n + 1, 1);
    if (!d->membership || !d->ascore || !d->prop || !d->via || !d->abits)
        return rw_fail(err, RW_ERR_NOMEM, "shards: out of memory for %u nodes", n);
    for (uint32_t v = 0; v < n; v++) d->via[v] = RW_NODE_NONE;
    return RW_OK;
}

/* The previous cluster ids as labels for the whole snapshot (see
 * rw_shard_input): into *buf (caller frees; NULL when out of memory). */
static const uint32_t *whole_init(const rw_graph_snap *s, const rw_shard_job *job, void **buf, rw_err *err) {
    uint32_t *init = malloc(((size_t)s->n + 1) * sizeof *init);
    uint32_t *dense = calloc((size_t)job->max_label + 2, sizeof *dense);
    *buf = init;
    if (!init || !dense) {
        free(init), free(dense);
        *buf = NULL;
        rw_fail(err, RW_ERR_NOMEM, "out of memory for %u nodes", s->n);
        return NULL;
    }
    uint32_t next = 0;
    for (uint32_t v = 0; v < s->n; v++) {
        uint32_t l = job->init[v];
        init[v] = s->n;
        if (l && l <= job->max_label) {
            if (!dense[l]) dense[l] = ++next;
            init[v] = dense[l] - 1;
        }
    }
    free(dense);
    return init;
}

/* Shard 0's detection, here: from the same bytes as any other's input, or,
 * when it is the only one, on the snapshot itself (nothing copied: its extra
 * nodes, of no component, are scored by no shard either). Its results are
 * merged from the detection itself, not through an output's bytes. */
static rw_status run_local(int shards, rw_shard_plan *pl, rw_graph_snap *s, const rw_shard_job *job,
                           rw_detection *local, rw_err *err) {
    void *in = NULL;
    size_t len = 0;
    uint32_t n = 0;
    rw_status st;
    local->rescore_rules = job->rescore_rules;
    if (shards == 1) { /* pl is being made meanwhile (plan_beside): not read here */
        rw_rescore_params rp = {.density = job->density, .hub_degree = job->hub_degree, .threads = job->threads};
        st = rw_engine_detect(s, &rp, &job->totals, job->init ? whole_init(s, job, &in, err) : NULL, job->keep_init,
                              local, err);
        if (st == RW_OK && job->init && !in) st = RW_ERR_NOMEM;
        if (st == RW_OK) st = rw_engine_detect_model(s, &job->model, local, err);
        drop_working(local);
        free(in);
        return st;
    }
    st = rw_shard_input(pl, s, job, 0, &in, &len, err);
    /* Every input is made: what only they read goes back before shard 0's
     * detectors run here beside the snapshot. */
    free(pl->local);
    pl->local = NULL;
    if (job->trim) {
        rw_graph_snap_trim(s);
        pl->glue = NULL; /* it was s->glue */
    }
    uint32_t slice[2];
    if (st == RW_OK)
        st = shard_detect(in, len, local, &n, slice, err); /* takes in */
    else
        free(in);
    if (st == RW_OK && n != pl->nnodes[0])
        st = rw_fail(err, RW_ERR_INTERNAL, "shard 0: %u nodes of %u", n, pl->nnodes[0]);
    return st;
}

/* Shard k's per-community parts, each received, placed and given back. */
static rw_status recv_comms(const rw_shard_plan *pl, const rw_shard_transport *t, int k, const shard_result *r,
                            rw_detection *d, uint64_t *bytes, rw_err *err) {
    rw_status st = RW_OK;
    for (uint32_t p = 0; st == RW_OK && p < slice_count(r->ncomm, pl->comm_slice); p++) {
        void *buf = NULL;
        size_t len = 0;
        const rw_cluster_features *feat = NULL;
        const double *cscore = NULL;
        uint32_t first = p * pl->comm_slice;
        st = t->recv(t->ctx, k, &buf, &len, err);
        if (st != RW_OK) rw_err_prefix(err, "shard %d: ", k);
        if (st == RW_OK) st = view_comms(pl, k, r, first, buf, len, &feat, &cscore, err);
        if (st == RW_OK) place(r, first, slice_len(r->ncomm, first, pl->comm_slice), feat, cscore, d);
        *bytes += len;
        free(buf);
    }
    return st;
}

/* Shard k's per-node parts, each received, merged and given back. */
static rw_status recv_nodes(const rw_shard_plan *pl, const rw_shard_transport *t, int k, shard_result *r,
                            rw_detection *d, uint64_t *bytes, rw_err *err) {
    rw_status st = RW_OK;
    uint32_t first = 0, ncomm = 0;
    do {
        void *buf = NULL;
        size_t len = 0;
        shard_view x;
        st = t->recv(t->ctx, k, &buf, &len, err);
        if (st != RW_OK) rw_err_prefix(err, "shard %d: ", k);
        if (st == RW_OK) st = view_nodes(&x, pl, k, first, buf, len, &ncomm, err);
        if (st == RW_OK && !first) st = result_start(r, k, ncomm, err);
        if (st == RW_OK) st = merge_nodes(pl, k, &x, d, r, err);
        if (st == RW_OK) first += x.count;
        *bytes += len;
        free(buf);
    } while (st == RW_OK && first < pl->nnodes[k]);
    return st;
}

/* Shard 0's per-node results into d: they go back once merged, its
 * communities' stay in local until numbered. */
static rw_status merge_local(const rw_shard_plan *pl, uint32_t n, rw_detection *local, rw_detection *d, shard_result *r,
                             rw_err *err) {
    uint32_t count = pl->shards == 1 ? n : pl->nnodes[0];
    shard_view x = {.n = count,
                    .count = count,
                    .nodes = pl->shards == 1 ? NULL : pl->nodes[0],
                    .ascore = local->ascore,
                    .prop = local->prop,
                    .membership = local->membership,
                    .via = local->via,
                    .abits = local->abits};
    rw_status st = result_start(r, 0, local->ncomm, err);
    if (st == RW_OK) st = merge_nodes(pl, 0, &x, d, r, err);
    drop_nodes(local);
    return st;
}

/* The plan made on a thread of its own. With one shard the detectors do not
 * read it (the components only number the merged communities, and give
 * the run's figures): it is made beside them. */
typedef struct {
    rw_shard_plan *pl;
    const rw_graph_snap *s;
    uint32_t hub_degree;
    const uint8_t *glue;
    pthread_t th;
    rw_status st;
    rw_err err;
} plan_beside;

/* What the job and the run's figures take from a made plan. */
static void plan_done(rw_shard_plan *pl, const rw_shard_job *job, rw_rescore_summary *out) {
    if (job->node_slice && job->node_slice < pl->node_slice) pl->node_slice = job->node_slice;
    if (job->comm_slice && job->comm_slice < pl->comm_slice) pl->comm_slice = job->comm_slice;
    out->components = pl->nunits;
    out->largest_accounts = pl->largest_accounts;
    out->largest_edges = pl->largest_edges;
}

static void *plan_main(void *arg) {
    plan_beside *p = arg;
    p->st = rw_shard_plan_make(p->pl, p->s, p->hub_degree, p->glue, 1, &p->err);
    return NULL;
}

rw_status rw_shard_detect(rw_graph_snap *s, const rw_shard_job *job, const rw_shard_transport *t, rw_detection *d,
                          rw_rescore_summary *out, rw_err *err) {
    rw_shard_plan pl = {0};
    int shards = t ? t->shards : 1;
    /* Shard 0 alone is the whole snapshot, weighed already; other shards
     * weigh their own. */
    rw_detection local = {.w = shards == 1 ? job->weights : NULL};
    if (shards != 1) free(job->weights);
    shard_result *r = calloc((size_t)(shards > 0 ? shards : 1), sizeof *r);
    uint8_t *own = s->glue ? NULL : malloc((size_t)s->n + 1); /* the whole snapshot's verdicts */
    if (!r || (!s->glue && !own)) {
        free(r), free(own);
        rw_detection_free(&local);
        return rw_fail(err, RW_ERR_NOMEM, "shards: out of memory");
    }
    rw_status st = own ? rw_detect_hub_glue(s, job->hub_degree_used, own, err) : RW_OK;
    plan_beside pb = {.pl = &pl, .s = s, .hub_degree = job->hub_degree_used, .glue = s->glue ? s->glue : own};
    int beside = st == RW_OK && shards == 1 && pthread_create(&pb.th, NULL, plan_main, &pb) == 0;
    if (st == RW_OK && !beside) st = rw_shard_plan_make(&pl, s, job->hub_degree_used, pb.glue, shards, err);
    if (!beside) plan_done(&pl, job, out);
    for (int k = 1; st == RW_OK && k < shards; k++) {
        void *in = NULL;
        size_t len = 0;
        st = rw_shard_input(&pl, s, job, k, &in, &len, err);
        if (st == RW_OK) st = t->send(t->ctx, k, in, len, err);
        out->shard_bytes += len;
        free(in);
        if (st != RW_OK) rw_err_prefix(err, "shard %d: ", k);
    }
    /* The merged arrays are allocated once shard 0's detectors are done,
     * so that they do not add to the detectors' peak. Then every shard's
     * nodes, the numbering, and every shard's communities, each part given
     * back as soon as it is merged. */
    if (st == RW_OK) st = run_local(shards, &pl, s, job, &local, err);
    if (beside) {
        pthread_join(pb.th, NULL);
        if (st == RW_OK && pb.st != RW_OK) st = rw_fail(err, pb.st, "%s", pb.err.msg);
        plan_done(&pl, job, out);
    }
    if (st == RW_OK) st = merged_alloc(d, s->n, err);
    d->workers = rw_engine_workers(job->threads); /* for what the caller does with d */
    if (st == RW_OK) st = merge_local(&pl, s->n, &local, d, &r[0], err);
    for (int k = 1; st == RW_OK && k < shards; k++) st = recv_nodes(&pl, t, k, &r[k], d, &out->shard_bytes, err);
    if (st == RW_OK) st = number(&pl, s->n, r, d, err);
    if (st == RW_OK) st = place_local(&r[0], &local, d, err);
    rw_detection_free(&local);
    plan_drop_nodes(&pl); /* numbered: placing reads the maps */
    for (int k = 1; st == RW_OK && k < shards; k++) st = recv_comms(&pl, t, k, &r[k], d, &out->shard_bytes, err);
    for (int k = 0; k < shards; k++) free(r[k].map);
    free(r);
    free(own);
    rw_shard_plan_free(&pl);
    return st;
}
