/* The live state of online scoring: the communities accounts join as they
 * sign up (batch clusters of the newest run, or ones formed online since),
 * subnet velocities, analysts' labels, the stops of the signup path; its
 * rebuild from the store, and a new run's part built outside the lock and
 * swapped in. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "load.h"
#include "stops.h"
#include "verdict.h"

#define DEFAULT_REVIEW RW_ONLINE_REVIEW
#define DEFAULT_BLOCK  RW_ONLINE_BLOCK

/* The per-node arrays of the live state, as a table: growing and freeing
 * them is one loop. */
typedef struct {
    size_t off;  /* of the pointer in rw_live */
    size_t size; /* of an element */
    int per_run; /* a new run replaces it (built outside the lock); the others carry over */
} node_array;

static const node_array node_arrays[] = {
    {offsetof(rw_live, comm), sizeof(uint32_t), 1},
    {offsetof(rw_live, flags), sizeof(uint8_t), 0},
    {offsetof(rw_live, run_score), sizeof(float), 1},
    {offsetof(rw_live, sub_hour), sizeof(float), 0},
    {offsetof(rw_live, sub_day), sizeof(float), 0},
    {offsetof(rw_live, sub_ts), sizeof(uint32_t), 0},
    {offsetof(rw_live, run_flagged), sizeof(uint8_t), 1},
    {offsetof(rw_live, vnode), sizeof(struct rw_vnode), 1}, /* verdict.h */
    {offsetof(rw_live, stopped), sizeof(uint16_t), 0},      /* stops.h */
    {offsetof(rw_live, sub_stops), sizeof(float), 0},       /* stops.h */
};
#define NODE_ARRAYS (sizeof node_arrays / sizeof node_arrays[0])

static void **node_array_at(rw_live *L, size_t i) {
    return (void **)((char *)L + node_arrays[i].off);
}

void rw_live_free(rw_live *L) {
    for (size_t i = 0; i < NODE_ARRAYS; i++) free(*node_array_at(L, i));
    free(L->c);
    memset(L, 0, sizeof *L);
}

/* Grows *p from old to cap (>= old) elements of size bytes, the new ones
 * zero. Returns 0 on success (*p unchanged on failure). */
static int array_grow(void **p, size_t size, uint32_t old, uint32_t cap) {
    if (cap <= old && *p) return 0;
    char *q = realloc(*p, (size_t)cap * size);
    if (!q) return -1;
    memset(q + (size_t)old * size, 0, (size_t)(cap - old) * size);
    *p = q;
    return 0;
}

/* Makes room for nodes [0, n); new entries are zero. Returns 0 on success. */
int rw_live_grow(rw_live *L, uint32_t n) {
    if (n <= L->cap) return 0;
    uint32_t cap = L->cap ? L->cap : 1024;
    while (cap < n) cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
    for (size_t i = 0; i < NODE_ARRAYS; i++)
        if (array_grow(node_array_at(L, i), node_arrays[i].size, L->cap, cap) != 0)
            return -1; /* the grown ones are kept; cap is not raised */
    L->cap = cap;
    return 0;
}

/* Appends a community; returns its index, 0 when out of memory. */
static uint32_t comm_add(rw_live *L, const rw_live_comm *c) {
    if (L->nc + 1 >= L->ccap) {
        uint32_t cap = L->ccap ? L->ccap * 2 : 1024;
        rw_live_comm *n = realloc(L->c, (size_t)cap * sizeof *n);
        if (!n) return 0;
        L->c = n;
        L->ccap = cap;
        if (L->nc == 0) {
            memset(&L->c[0], 0, sizeof L->c[0]);
            L->nc = 1;
        }
    }
    L->c[L->nc] = *c;
    return L->nc++;
}

static void comm_count_signup(rw_live_comm *c, int64_t ts, double weight) {
    c->day = (float)(rw_live_decay(c->day, c->day_ts, ts, RW_TAU_DAY) + weight);
    if (ts > (int64_t)c->day_ts) c->day_ts = (uint32_t)(ts < 0 ? 0 : ts > UINT32_MAX ? UINT32_MAX : ts);
}

/* Evidence of a shared attribute by kind: a card says more than an address. */
static const double kind_weight[RW_KIND_COUNT] = {0, 1.0, 2.0, 3.0, 0};

/* An attribute that may tie accounts together online. */
static int linking(const rw_live *L, const rw_view_edge *x) {
    return x->degree >= 2 && !x->crowd && !(L->flags[x->attr] & RW_LIVE_CLEARED);
}

/* The community the account's linking attributes vote for (0: none), and
 * the strongest linking attribute in no community yet (*seed). */
static uint32_t vote(const rw_engine *e, const rw_view *v, uint32_t *seed) {
    const rw_live *L = &e->live;
    enum { MAXC = 16 };
    uint32_t cand[MAXC], ncand = 0, cur = 0;
    double votes[MAXC], seed_w = 0;
    *seed = RW_NODE_NONE;
    for (uint32_t i = 0; i < v->n; i++) {
        const rw_view_edge *x = &v->edge[i];
        if (!linking(L, x)) continue;
        double w = kind_weight[x->kind] / log(2.0 + x->degree);
        uint32_t c = L->comm[x->attr];
        if (!c) {
            if (w > seed_w) seed_w = w, *seed = x->attr;
            continue;
        }
        uint32_t k = 0;
        while (k < ncand && cand[k] != c) k++;
        if (k == ncand) {
            if (ncand == MAXC) continue;
            cand[ncand] = c, votes[ncand++] = 0;
        }
        votes[k] += w;
    }
    double best = 0;
    for (uint32_t k = 0; k < ncand; k++)
        if (votes[k] > best) cur = cand[k], best = votes[k];
    return cur;
}

/* A new community of the accounts behind the strongest shared attribute;
 * their signups count in its growth by their age. Returns it (0: out of
 * memory). */
static uint32_t found(rw_engine *e, uint32_t a, int64_t ts, uint32_t seed) {
    rw_live *L = &e->live;
    rw_live_comm nc = {.live_no = ++L->next_live};
    uint32_t cur = comm_add(L, &nc);
    if (!cur) return 0;
    uint32_t nacc = 0;
    const uint32_t *acc = rw_graph_attr_accounts(e->graph, seed, &nacc);
    for (uint32_t i = 0; i < nacc; i++) {
        uint32_t b = acc[i];
        if (L->comm[b] && b != a) continue;
        L->comm[b] = cur;
        L->c[cur].size++;
        int64_t first = rw_graph_first_seen(e->graph, b);
        comm_count_signup(&L->c[cur], first, 1.0);
    }
    comm_count_signup(&L->c[cur], ts, 0.0);
    L->comm[seed] = cur;
    return cur;
}

void rw_live_place(rw_engine *e, const rw_view *v, int signup) {
    rw_live *L = &e->live;
    uint32_t a = v->account, cur = L->comm[a];
    if (v->ts > 0 && (!L->epoch || v->ts < L->epoch)) L->epoch = v->ts;
    if (!cur) {
        uint32_t seed;
        cur = vote(e, v, &seed);
        if (cur) {
            L->comm[a] = cur;
            L->c[cur].size++;
            if (signup) comm_count_signup(&L->c[cur], v->ts, 1.0);
        } else if (seed != RW_NODE_NONE) {
            cur = found(e, a, v->ts, seed);
        }
    }
    rw_verdict_touch(L, e->graph, a); /* verdict.h: the edges it took up since the run */
    if (!cur) return;
    for (uint32_t i = 0; i < v->n; i++) {
        const rw_view_edge *x = &v->edge[i];
        if (!L->comm[x->attr] && linking(L, x)) L->comm[x->attr] = cur;
    }
}

/* Counts a signup on its IP's subnet. */
static void subnet_signup(rw_live *L, uint32_t subnet, int64_t ts) {
    uint32_t t = (uint32_t)(ts < 0 ? 0 : ts > UINT32_MAX ? UINT32_MAX : ts);
    L->sub_hour[subnet] = (float)(rw_live_decay(L->sub_hour[subnet], L->sub_ts[subnet], t, RW_TAU_HOUR) + 1);
    L->sub_day[subnet] = (float)(rw_live_decay(L->sub_day[subnet], L->sub_ts[subnet], t, RW_TAU_DAY) + 1);
    L->sub_stops[subnet] = (float)rw_live_decay(L->sub_stops[subnet], L->sub_ts[subnet], t, RW_TAU_DAY);
    if (t > L->sub_ts[subnet]) L->sub_ts[subnet] = t;
}

/* (The signup path compares event times as uint32, as the edges keep them.) */
void rw_live_count_subnets(rw_live *L, const rw_view *v) {
    for (uint32_t k = 0; k < v->n; k++)
        if (v->edge[k].parent != RW_NODE_NONE && v->edge[k].first_seen == (uint32_t)v->ts)
            subnet_signup(L, v->edge[k].parent, v->ts);
}

void rw_live_taint(rw_live *L, const rw_view *v) {
    for (uint32_t i = 0; i < v->n; i++)
        if (!v->edge[i].crowd) L->flags[v->edge[i].attr] |= RW_LIVE_FRAUD_ATTR;
}

/* ---- runs and labels into the live state ------------------------------------ */

typedef struct {
    rw_live *L;
    uint32_t *by_id; /* batch id -> community index */
    uint32_t nid;
} install_ctx;

static rw_status on_cluster_row(void *ctx, const rw_cluster_row *c) {
    install_ctx *ic = ctx;
    if (c->id >= ic->nid) return RW_OK;
    rw_live_comm nc = {
        .batch_id = c->id, .size = c->accounts, .run_score = (float)c->score, .run_flagged = (uint8_t)c->flagged};
    uint32_t idx = comm_add(ic->L, &nc);
    if (!idx) return RW_ERR_NOMEM;
    ic->by_id[c->id] = idx;
    return RW_OK;
}

static void on_member(void *ctx, uint32_t node, uint32_t cluster) {
    install_ctx *ic = ctx;
    if (node < ic->L->cap && cluster < ic->nid) ic->L->comm[node] = ic->by_id[cluster];
}

typedef struct {
    rw_engine *e;
    rw_live *L;
} label_ctx;

static void label_cluster(rw_engine *e, rw_live *L, uint32_t batch_id, int fraud) {
    uint32_t n = rw_graph_node_count(e->graph);
    for (uint32_t c = 1; c < L->nc; c++) {
        if (L->c[c].batch_id != batch_id) continue;
        L->c[c].label = fraud ? RW_LIVE_LABEL_FRAUD : RW_LIVE_LABEL_BENIGN;
        if (fraud) return;
        /* Benign: its shared attributes stop counting against signups. */
        for (uint32_t v = 0; v < n && v < L->cap; v++)
            if (L->comm[v] == c && rw_graph_kind(e->graph, v) != RW_KIND_ACCOUNT) L->flags[v] |= RW_LIVE_CLEARED;
    }
}

static void label_account(rw_engine *e, rw_live *L, uint32_t a, int fraud) {
    if (a >= L->cap) return;
    uint32_t nedges = 0;
    const rw_edge *ed = rw_graph_account_edges(e->graph, a, &nedges);
    if (fraud) {
        L->flags[a] = (uint8_t)((L->flags[a] & ~RW_LIVE_CLEARED) | RW_LIVE_FRAUD_ACCOUNT);
        for (uint32_t i = 0; i < nedges; i++)
            if (rw_graph_degree(e->graph, ed[i].attr) <= L->hub_degree) L->flags[ed[i].attr] |= RW_LIVE_FRAUD_ATTR;
    } else {
        L->flags[a] = (uint8_t)((L->flags[a] & ~RW_LIVE_FRAUD_ACCOUNT) | RW_LIVE_CLEARED);
        for (uint32_t i = 0; i < nedges; i++) L->flags[ed[i].attr] |= RW_LIVE_CLEARED;
    }
}

static rw_status on_label(void *ctx, int on_cluster, int64_t target, int fraud) {
    label_ctx *lc = ctx;
    if (target < 0 || target > UINT32_MAX) return RW_OK;
    if (on_cluster)
        label_cluster(lc->e, lc->L, (uint32_t)target, fraud);
    else
        label_account(lc->e, lc->L, (uint32_t)target, fraud);
    return RW_OK;
}

int rw_live_place_rest(rw_engine *e, uint32_t from) {
    uint32_t n = rw_graph_node_count(e->graph);
    if (rw_live_grow(&e->live, n + 1) != 0) return -1;
    rw_view v;
    rw_view_init(&v);
    for (uint32_t a = from; a < n; a++)
        if (rw_graph_kind(e->graph, a) == RW_KIND_ACCOUNT && !e->live.comm[a] &&
            rw_view_gather(&v, e, a, rw_graph_first_seen(e->graph, a), 0) == 0)
            rw_live_place(e, &v, 1);
    rw_view_free(&v);
    e->live.placed = n;
    return 0;
}

/* Marks the linking attributes of an account the run flagged. */
static void mark_run_flagged(const rw_engine *e, rw_live *L, uint32_t a) {
    uint32_t nedges = 0;
    const rw_edge *ed = rw_graph_account_edges(e->graph, a, &nedges);
    for (uint32_t i = 0; i < nedges; i++)
        if (ed[i].attr < L->cap) L->run_flagged[ed[i].attr] = 1; /* crowds are told apart at each signup */
}

typedef struct {
    const rw_engine *e;
    rw_live *L;
} flagged_ctx;

static rw_status on_run_score(void *ctx, const rw_score_row *r) {
    flagged_ctx *fc = ctx;
    if (r->account >= fc->L->cap) return RW_OK;
    fc->L->run_score[r->account] = (float)r->score;
    rw_verdict_add_account(fc->L, fc->e->graph, r->account, r->flagged, r->score); /* verdict.h */
    if (r->flagged) {
        fc->L->run_flagged[r->account] = 1;
        mark_run_flagged(fc->e, fc->L, r->account);
    }
    return RW_OK;
}

/* Builds a fresh live state from the store's newest run and the labels into
 * L (the caller swaps it in). The caller holds the write lock and store_mu. */
static rw_status live_build(rw_engine *e, rw_live *L, rw_err *err) {
    uint32_t max_id = 0;
    int64_t run = 0;
    rw_status st = rw_store_latest_run(e->store, &run, err);
    if (st == RW_OK) st = rw_store_max_cluster_id(e->store, &max_id, err);
    if (st != RW_OK) return st;
    if (rw_live_grow(L, rw_graph_node_count(e->graph) + 1) != 0) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    install_ctx ic = {L, calloc((size_t)max_id + 1, sizeof(uint32_t)), max_id + 1};
    if (!ic.by_id) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    L->run = run;
    L->run_nodes = rw_graph_node_count(e->graph); /* covers at most what the run saw; newer accounts are not in it */
    if (run) {
        st = rw_store_run_clusters(e->store, run, -1.0, 0, 0, on_cluster_row, &ic, err);
        if (st == RW_OK) st = rw_store_run_membership(e->store, run, on_member, &ic, err);
        flagged_ctx fc = {e, L};
        if (st == RW_OK) st = rw_store_run_scores(e->store, run, on_run_score, &fc, err);
        if (st == RW_OK) rw_verdict_settle(L, e->graph); /* verdict.h */
    }
    free(ic.by_id);
    return st;
}

static void on_stopped(void *ctx, uint32_t account) {
    rw_engine *e = ctx;
    rw_live *L = &e->live;
    if (account >= L->cap || rw_graph_kind(e->graph, account) != RW_KIND_ACCOUNT) return;
    rw_stops_count(L, e->graph, account);
}

/* Rebuilds what online scoring learned from the stream itself (community
 * growth, subnet velocities, the signups stopped) by walking the accounts in
 * the order they arrived, then applies the labels: a restart answers as the
 * process before it would have. The caller holds the write lock and
 * store_mu. */
static rw_status rebuild_history(rw_engine *e, rw_err *err) {
    rw_live *L = &e->live;
    uint32_t n = rw_graph_node_count(e->graph);
    /* Members the run placed are counted here; the others when placed (a
     * new group counts all its accounts at once). */
    uint8_t *from_run = calloc((size_t)n + 1, 1);
    rw_view v;
    rw_view_init(&v);
    if (!from_run || rw_live_grow(L, n + 1) != 0) {
        free(from_run);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for online scoring");
    }
    for (uint32_t a = 0; a < n; a++) from_run[a] = L->comm[a] != 0;
    L->epoch = 0; /* the graph's history begins with its first account */
    for (uint32_t a = 0; a < n; a++) {
        if (rw_graph_kind(e->graph, a) != RW_KIND_ACCOUNT) continue;
        int64_t t = rw_graph_first_seen(e->graph, a);
        if (t > 0 && (!L->epoch || t < L->epoch)) L->epoch = t;
        if (rw_view_gather(&v, e, a, t, 0) != 0) continue; /* out of memory: left unplaced */
        for (uint32_t i = 0; i < v.n; i++)
            if (v.edge[i].parent != RW_NODE_NONE && (int64_t)v.edge[i].first_seen == t)
                subnet_signup(L, v.edge[i].parent, t);
        if (from_run[a])
            comm_count_signup(&L->c[L->comm[a]], t, 1.0);
        else if (!L->comm[a])
            rw_live_place(e, &v, 1);
    }
    rw_view_free(&v);
    free(from_run);
    L->placed = n;
    rw_status st = rw_store_stopped_accounts(e->store, on_stopped, e, err);
    label_ctx lc = {e, L};
    if (st == RW_OK) st = rw_store_labels(e->store, on_label, &lc, err);
    return st;
}

void rw_live_defaults(rw_live *L, const rw_live *prev) {
    /* The shipped trees are parsed from text once, at open; every new run
     * or reload copies the model in force (an operator's base model may
     * have no trees at all). */
    if (prev)
        L->model = prev->model;
    else
        rw_online_defaults(&L->model);
    L->review = prev && prev->review > 0 ? prev->review : DEFAULT_REVIEW;
    L->block = prev && prev->block > 0 ? prev->block : DEFAULT_BLOCK;
    L->hub_degree = RW_HUB_DEGREE;
    L->next_live = prev ? prev->next_live : 0;
    L->epoch = prev ? prev->epoch : 0;
}

/* Swaps in L (the state rebuilt from the store). */
static void live_swap(rw_engine *e, rw_live *L) {
    rw_live_free(&e->live);
    e->live = *L;
    memset(L, 0, sizeof *L);
}

rw_status rw_engine_online_reload(rw_engine *e, rw_err *err) {
    rw_live L = {0};
    rw_live_defaults(&L, &e->live);
    rw_status st = live_build(e, &L, err);
    if (st != RW_OK) {
        rw_live_free(&L);
        return st;
    }
    live_swap(e, &L);
    return rebuild_history(e, err);
}

rw_status rw_engine_reload_graph(rw_engine *e, rw_err *err) {
    rw_graph *g = NULL;
    uint64_t events = 0;
    rw_engine_store_lock(e);
    rw_status st = rw_engine_load_graph(e->store, &g, &events, err);
    if (st == RW_OK) {
        rw_graph_free(e->graph);
        e->graph = g;
        e->events = events;
        st = rw_engine_online_reload(e, err);
    }
    rw_engine_store_unlock(e);
    return st;
}

/* A new run's share of the live state, built outside the engine's lock from
 * the run and its snapshot: what the run decides (batch communities,
 * membership, run scores and flags). What signups keep changing (labels and
 * other per-node flags, stops, subnet velocities, community
 * growth) is carried over under the lock, mostly by moving pointers. */
typedef struct {
    rw_live L;         /* the per-run arrays and c built; the carried-over arrays NULL */
    uint32_t *flagged; /* the accounts the run flagged */
    uint32_t nflagged;
    uint32_t *by_id; /* [nid] cluster id -> index in L.c (0: none) */
    uint32_t nid;
    uint32_t *first; /* [L.nc + 1] attributes of community k: attrs[first[k] .. first[k + 1]) */
    uint32_t *attrs;
} run_part;

static void run_part_free(run_part *p) {
    rw_live_free(&p->L);
    free(p->flagged);
    free(p->by_id);
    free(p->first);
    free(p->attrs);
    memset(p, 0, sizeof *p);
}

/* The run's clusters of two accounts or more as communities of p->L, and
 * p->by_id; by_comm[c]: community c's index. Returns 0, -1 out of memory. */
static int run_part_comms(run_part *p, const rw_online_run *r, uint32_t *by_comm) {
    uint32_t max_id = 0;
    for (uint32_t c = 0; c < r->ncomm; c++)
        if (r->size[c] >= 2 && r->ids[c] > max_id) max_id = r->ids[c];
    p->nid = max_id + 1;
    p->by_id = calloc(p->nid, sizeof *p->by_id);
    if (!p->by_id) return -1;
    for (uint32_t c = 0; c < r->ncomm; c++) {
        if (r->size[c] < 2) continue;
        rw_live_comm nc = {.batch_id = r->ids[c], .size = r->size[c], .run_score = (float)r->score[c]};
        nc.run_flagged = r->score[c] >= r->threshold;
        if (!(by_comm[c] = comm_add(&p->L, &nc))) return -1;
        p->by_id[r->ids[c]] = by_comm[c];
    }
    return 0;
}

/* Each community's attributes (for a benign label carried over), as
 * compressed rows: counts, their running sums, the fill (which moves
 * first[k] to where k + 1 starts), and a shift back. */
static int run_part_attrs(run_part *p, const rw_graph_snap *s, uint32_t nattr) {
    rw_live *L = &p->L;
    uint32_t n = s->n;
    p->first = calloc((size_t)L->nc + 1, sizeof *p->first);
    p->attrs = malloc(((size_t)nattr + 1) * sizeof *p->attrs);
    if (!p->first || !p->attrs) return -1;
    for (uint32_t v = 0; v < n; v++)
        if (L->comm[v] && s->kind[v] != RW_KIND_ACCOUNT) p->first[L->comm[v]]++;
    for (uint32_t k = 0, at = 0; k <= L->nc; k++) {
        uint32_t cnt = k < L->nc ? p->first[k] : 0;
        p->first[k] = at;
        at += cnt;
    }
    for (uint32_t v = 0; v < n; v++)
        if (L->comm[v] && s->kind[v] != RW_KIND_ACCOUNT) p->attrs[p->first[L->comm[v]]++] = v;
    for (uint32_t k = L->nc; k > 0; k--) p->first[k] = p->first[k - 1];
    p->first[0] = 0;
    return 0;
}

/* Account scores, and the flagged accounts with their attributes. */
static int run_part_flags(run_part *p, const rw_online_run *r) {
    rw_live *L = &p->L;
    const rw_graph_snap *s = r->snap;
    const double *ascore = r->ascore;
    uint32_t n = s->n, nflag = 0;
    for (uint32_t v = 0; ascore && v < n; v++)
        if (s->kind[v] == RW_KIND_ACCOUNT) { /* every account has a score (flagged neighbours) */
            L->run_score[v] = (float)ascore[v];
            nflag += ascore[v] >= r->threshold;
        }
    p->flagged = malloc(((size_t)nflag + 1) * sizeof *p->flagged);
    if (!p->flagged) return -1;
    for (uint32_t v = 0; ascore && v < n; v++) {
        if (s->kind[v] != RW_KIND_ACCOUNT || ascore[v] < r->threshold) continue;
        p->flagged[p->nflagged++] = v;
        L->run_flagged[v] = 1;
        for (uint64_t k = s->off[v]; k < s->off[v + 1]; k++)
            L->run_flagged[s->nbr[k]] = 1; /* crowds are told apart at each signup */
    }
    return 0;
}

/* Builds p without the engine's lock. cap: the live arrays' size now (so
 * the swap need not grow them). Membership as a restart builds it from the
 * stored run (rw_store_run_membership): accounts of clusters, and their
 * attributes the snapshot saw with two accounts or more. */
static rw_status run_part_build(run_part *p, uint32_t cap, const rw_online_run *r, rw_err *err) {
    rw_live *L = &p->L;
    const rw_graph_snap *s = r->snap;
    uint32_t n = s->n, *by_comm = NULL;
    if (cap < n + 1) cap = n + 1;
    L->cap = cap;
    for (size_t i = 0; i < NODE_ARRAYS; i++)
        if (node_arrays[i].per_run && !(*node_array_at(L, i) = calloc(cap, node_arrays[i].size))) goto nomem;
    by_comm = calloc((size_t)r->ncomm + 1, sizeof *by_comm);
    if (!by_comm || run_part_comms(p, r, by_comm) != 0) goto nomem;
    uint32_t nattr = 0;
    for (uint32_t v = 0; v < n; v++) {
        uint32_t c = r->membership[v];
        if (c >= r->ncomm || !by_comm[c] || s->kind[v] == RW_KIND_SUBNET) continue;
        if (s->kind[v] == RW_KIND_ACCOUNT) {
            L->comm[v] = by_comm[c];
            /* Its growth from its members' signups, as a restart counts it
             * (rebuild_history): a cluster of the new run is not the old
             * run's cluster of the same id, whose growth it would take. */
            comm_count_signup(&L->c[by_comm[c]], s->first_seen[v], 1.0);
        } else if (rw_graph_snap_degree(s, v) >= 2) {
            L->comm[v] = by_comm[c];
            nattr++;
        }
    }
    if (run_part_attrs(p, s, nattr) != 0 || run_part_flags(p, r) != 0) goto nomem;
    rw_verdict_build_snap(L, s, r->ascore, r->threshold); /* verdict.h */
    free(by_comm);
    return RW_OK;
nomem:
    free(by_comm);
    return rw_fail(err, RW_ERR_NOMEM, "out of memory for online scoring");
}

/* Under the write lock: gives p's arrays and the carried-over ones one
 * capacity, then moves the carried-over ones into p->L (old keeps the rest,
 * to be freed). Returns 0 on success; on failure nothing has moved. */
static int run_part_adopt(run_part *p, rw_live *old, uint32_t nodes) {
    uint32_t cap = p->L.cap > old->cap ? p->L.cap : old->cap;
    if (cap < nodes + 1) cap = nodes + 1;
    for (size_t i = 0; i < NODE_ARRAYS; i++) {
        rw_live *from = node_arrays[i].per_run ? &p->L : old;
        if (array_grow(node_array_at(from, i), node_arrays[i].size, from->cap, cap) != 0) return -1;
    }
    old->cap = p->L.cap = cap; /* every array of both holds cap now */
    for (size_t i = 0; i < NODE_ARRAYS; i++) {
        if (node_arrays[i].per_run) continue;
        *node_array_at(&p->L, i) = *node_array_at(old, i);
        *node_array_at(old, i) = NULL;
    }
    return 0;
}

/* Labels carry over by cluster id; returns whether any carried-over label is
 * benign. */
static int carry_over(const run_part *p, rw_live *L, const rw_live *old) {
    int benign = 0;
    for (uint32_t c = 1; c < old->nc; c++) {
        const rw_live_comm *o = &old->c[c];
        uint32_t k = o->batch_id && o->batch_id < p->nid ? p->by_id[o->batch_id] : 0;
        if (!k) continue;
        L->c[k].label = o->label;
        benign |= o->label == RW_LIVE_LABEL_BENIGN;
    }
    return benign;
}

/* A benign label covers the attributes its cluster has now: the run's
 * (communities below run_nc), and those the accounts placed since (from
 * node n on) brought to it. */
static void benign_cover(rw_engine *e, const run_part *p, uint32_t run_nc, uint32_t n) {
    rw_live *L = &e->live;
    for (uint32_t k = 1; k < run_nc; k++)
        if (L->c[k].label == RW_LIVE_LABEL_BENIGN)
            for (uint32_t i = p->first[k]; i < p->first[k + 1]; i++) L->flags[p->attrs[i]] |= RW_LIVE_CLEARED;
    for (uint32_t a = n; a < L->placed && a < L->cap; a++) {
        if (rw_graph_kind(e->graph, a) != RW_KIND_ACCOUNT) continue;
        uint32_t nedges = 0;
        const rw_edge *ed = rw_graph_account_edges(e->graph, a, &nedges);
        for (uint32_t i = 0; i < nedges; i++) {
            uint32_t c = L->comm[ed[i].attr];
            if (c && L->c[c].label == RW_LIVE_LABEL_BENIGN) L->flags[ed[i].attr] |= RW_LIVE_CLEARED;
        }
    }
}

/* Under the write lock: swaps p's part in, the carried-over arrays moved
 * into it; *gone receives what is left of the old state, to be freed
 * after the lock. */
static rw_status run_part_swap(rw_engine *e, run_part *p, const rw_online_run *r, rw_live *gone, rw_err *err) {
    rw_live *old = &e->live, *L = &p->L;
    uint32_t n = r->snap->n, nodes = rw_graph_node_count(e->graph);
    if (run_part_adopt(p, old, nodes) != 0) return rw_fail(err, RW_ERR_NOMEM, "out of memory for online scoring");
    rw_live_defaults(L, old);
    L->run = r->run;
    L->run_nodes = n;
    int benign = carry_over(p, L, old);
    uint32_t run_nc = L->nc;
    *gone = *old; /* what is left of it: the old run's arrays */
    e->live = *L;
    memset(L, 0, sizeof *L);
    rw_live_place_rest(e, n); /* out of memory leaves them unplaced: scored without a community */
    if (benign) benign_cover(e, p, run_nc, n);
    return RW_OK;
}

/* Flagged accounts looked at per hold of the write lock, after the swap. */
#define MARK_SLICE 4096

/* Attributes a flagged account took up since the snapshot are the run's
 * too (a restart marks them from the graph): in slices of the lock, as
 * looking at every flagged account takes milliseconds. */
static void mark_since(rw_engine *e, const run_part *p, const rw_graph_snap *s, double *locked) {
    for (uint32_t i = 0; i < p->nflagged;) {
        pthread_rwlock_wrlock(&e->lock);
        double t1 = rw_now();
        for (uint32_t end = i + MARK_SLICE; i < p->nflagged && i < end; i++) {
            uint32_t a = p->flagged[i];
            if (rw_graph_degree(e->graph, a) != rw_graph_snap_degree(s, a)) mark_run_flagged(e, &e->live, a);
            rw_verdict_touch(&e->live, e->graph, a); /* verdict.h: the edges it took up since the snapshot */
        }
        double held = rw_now() - t1;
        pthread_rwlock_unlock(&e->lock);
        if (held > *locked) *locked = held;
    }
}

rw_status rw_engine_online_install(rw_engine *e, const rw_online_run *r, double *locked, rw_err *err) {
    run_part p = {0};
    rw_live gone = {0}; /* the old run's arrays, freed once the lock is released */
    *locked = 0;
    if (e->batch_only) return RW_OK; /* no online state to switch */
    pthread_rwlock_rdlock(&e->lock);
    uint32_t cap = e->live.cap; /* only grows: read once, so the swap rarely grows an array */
    pthread_rwlock_unlock(&e->lock);
    rw_status st = run_part_build(&p, cap, r, err);
    if (st != RW_OK) {
        run_part_free(&p);
        return st;
    }
    pthread_rwlock_wrlock(&e->lock);
    double t0 = rw_now();
    st = run_part_swap(e, &p, r, &gone, err);
    *locked = rw_now() - t0;
    pthread_rwlock_unlock(&e->lock);
    rw_live_free(&gone);
    if (st == RW_OK) mark_since(e, &p, r->snap, locked);
    run_part_free(&p);
    return st;
}

void rw_engine_live_label(rw_engine *e, int on_cluster, uint32_t target, int fraud) {
    if (rw_live_grow(&e->live, rw_graph_node_count(e->graph) + 1) != 0) return; /* applied at the next reload */
    if (on_cluster)
        label_cluster(e, &e->live, target, fraud);
    else
        label_account(e, &e->live, target, fraud);
}

void rw_engine_online_catch_up(rw_engine *e) {
    if (!e->graph || !e->online_ready) return;
    pthread_rwlock_rdlock(&e->lock);
    int behind = e->live.placed < rw_graph_node_count(e->graph);
    pthread_rwlock_unlock(&e->lock);
    if (!behind) return;
    pthread_rwlock_wrlock(&e->lock);
    if (e->live.placed < rw_graph_node_count(e->graph)) rw_live_place_rest(e, e->live.placed);
    pthread_rwlock_unlock(&e->lock);
}
