/* detectors: planted rings in a month of benign accounts, through weights,
 * communities, features and the shipped model: a card ring on rotating
 * addresses of one /24, a farm grown past the hub degree, a carrier NAT of
 * strangers and a campus onboarding in a week. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detectors.h"

#define DAY 86400u
#define T0  1000000u

/* A snapshot built from (account, attribute, time) triples; an account's
 * first-seen time is its earliest edge's. */
typedef struct {
    uint32_t n, ncap;
    uint8_t *kind;
    uint32_t *parent;
    uint64_t m, mcap;
    uint32_t (*e)[3];
    rw_rng r;
} world;

static uint32_t node(world *w, rw_kind k) {
    if (w->n == w->ncap) {
        w->ncap = w->ncap ? 2 * w->ncap : 4096;
        w->kind = realloc(w->kind, w->ncap);
        w->parent = realloc(w->parent, w->ncap * sizeof *w->parent);
        cr_assert(w->kind && w->parent);
    }
    w->kind[w->n] = (uint8_t)k;
    w->parent[w->n] = RW_NODE_NONE;
    return w->n++;
}

static void edge(world *w, uint32_t account, uint32_t attr, uint32_t t) {
    if (w->m == w->mcap) {
        w->mcap = w->mcap ? 2 * w->mcap : 4096;
        w->e = realloc(w->e, w->mcap * sizeof *w->e);
        cr_assert_not_null(w->e);
    }
    w->e[w->m][0] = account;
    w->e[w->m][1] = attr;
    w->e[w->m++][2] = t;
}

static int cmp_edge(const void *x, const void *y) {
    const uint32_t *a = x, *b = y;
    if (a[0] != b[0]) return a[0] < b[0] ? -1 : 1;
    return (a[1] > b[1]) - (a[1] < b[1]);
}

static rw_graph_snap *build(world *w) {
    qsort(w->e, w->m, sizeof *w->e, cmp_edge);
    uint64_t m = 0; /* one edge per pair, at its earliest time */
    for (uint64_t i = 0; i < w->m; i++) {
        if (m && cmp_edge(w->e[i], w->e[m - 1]) == 0) {
            if (w->e[i][2] < w->e[m - 1][2]) w->e[m - 1][2] = w->e[i][2];
            continue;
        }
        memcpy(w->e[m++], w->e[i], sizeof w->e[0]);
    }
    rw_graph_snap *s = calloc(1, sizeof *s);
    uint32_t n = w->n;
    s->n = n;
    s->m = m;
    s->kind = w->kind;
    s->parent = w->parent;
    s->first_seen = malloc((n + 1) * sizeof *s->first_seen);
    s->last_seen = malloc((n + 1) * sizeof *s->last_seen);
    s->off = calloc(n + 1, sizeof *s->off);
    s->nbr = malloc((2 * m + 1) * sizeof *s->nbr);
    s->eid = malloc((2 * m + 1) * sizeof *s->eid);
    s->edge_account = malloc((m + 1) * sizeof *s->edge_account);
    s->edges = calloc(m + 1, sizeof *s->edges);
    for (uint32_t v = 0; v < n; v++) s->first_seen[v] = UINT32_MAX, s->last_seen[v] = 0;
    for (uint64_t e = 0; e < m; e++) {
        uint32_t a = w->e[e][0], t = w->e[e][1], ts = w->e[e][2];
        s->off[a + 1]++;
        s->off[t + 1]++;
        for (int i = 0; i < 2; i++) {
            uint32_t v = w->e[e][i];
            if (ts < s->first_seen[v]) s->first_seen[v] = ts;
            if (ts > s->last_seen[v]) s->last_seen[v] = ts;
        }
    }
    for (uint32_t v = 0; v < n; v++) s->off[v + 1] += s->off[v];
    uint64_t *fill = malloc((n + 1) * sizeof *fill);
    memcpy(fill, s->off, n * sizeof *fill);
    for (uint64_t e = 0; e < m; e++) {
        uint32_t a = w->e[e][0], t = w->e[e][1];
        s->edge_account[e] = a;
        s->edges[e] = (rw_edge){.attr = t, .first_seen = w->e[e][2], .last_seen = w->e[e][2], .count = 1};
        s->nbr[fill[a]] = t;
        s->eid[fill[a]++] = (uint32_t)e;
        s->nbr[fill[t]] = a;
        s->eid[fill[t]++] = (uint32_t)e;
    }
    free(fill);
    free(w->e);
    memset(w, 0, sizeof *w);
    return s;
}

static void init_once(void) {
    rw_err err;
    cr_assert_eq(rw_detect_init(2, &err), RW_OK, "%s", err.msg);
}

TestSuite(rings, .init = init_once);

static uint32_t when(world *w, uint32_t start, uint32_t span) {
    return start + (uint32_t)rw_rng_below(&w->r, span ? span : 1);
}

/* Benign people over a month: a phone each, a card of their own for half;
 * families of three sharing a home address, a tablet and a card. */
static void benign(world *w, uint32_t people, uint32_t families) {
    for (uint32_t i = 0; i < people; i++) {
        uint32_t a = node(w, RW_KIND_ACCOUNT), t = when(w, T0, 30 * DAY);
        edge(w, a, node(w, RW_KIND_IP), t);
        edge(w, a, node(w, RW_KIND_DEVICE), t);
        if (i % 2) edge(w, a, node(w, RW_KIND_PAYMENT), t);
    }
    for (uint32_t f = 0; f < families; f++) {
        uint32_t home = node(w, RW_KIND_IP), tablet = node(w, RW_KIND_DEVICE), card = node(w, RW_KIND_PAYMENT);
        for (uint32_t i = 0; i < 3; i++) {
            uint32_t a = node(w, RW_KIND_ACCOUNT), t = when(w, T0, 30 * DAY);
            edge(w, a, home, t);
            edge(w, a, node(w, RW_KIND_DEVICE), t);
            edge(w, a, tablet, t + 3600);
            edge(w, a, card, t + 7200);
        }
    }
}

/* The pipeline as a rescoring runs it, up to the cluster scores: membership
 * and features of every community. */
typedef struct {
    double *w;
    uint32_t *memb, ncomm;
    rw_cluster_features *feat;
} run;

static void detect(const rw_graph_snap *s, run *out) {
    rw_community_params p;
    rw_community_defaults(&p);
    rw_err err;
    out->w = malloc((s->m + 1) * sizeof *out->w);
    out->memb = malloc((s->n + 1) * sizeof *out->memb);
    cr_assert(out->w && out->memb);
    cr_assert_eq(rw_detect_edge_weights(s, &p, out->w, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_detect_communities(s, &p, out->w, NULL, out->memb, &out->ncomm, &err), RW_OK, "%s", err.msg);
    out->feat = malloc((out->ncomm + 1) * sizeof *out->feat);
    cr_assert_not_null(out->feat);
    cr_assert_eq(rw_detect_features(s, out->w, p.hub_degree, out->memb, out->ncomm, out->feat, NULL, NULL, &err), RW_OK,
                 "%s", err.msg);
}

static void run_free(run *r) {
    free(r->w);
    free(r->memb);
    free(r->feat);
}

static double score(const run *r, uint32_t c) {
    rw_model m;
    rw_model_defaults(&m);
    return rw_model_score(&m, &r->feat[c]);
}

static int flagged(const run *r, uint32_t account) {
    rw_model m;
    rw_model_defaults(&m);
    return score(r, r->memb[account]) >= m.threshold;
}

/* Accounts of acc (n) in flagged clusters. */
static uint32_t count_flagged(const run *r, const uint32_t *acc, uint32_t n) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) k += (uint32_t)flagged(r, acc[i]);
    return k;
}

/* Benign accounts (every account not in skip) in flagged clusters. */
static uint32_t benign_flagged(const rw_graph_snap *s, const run *r, const uint8_t *skip) {
    uint32_t k = 0;
    for (uint32_t v = 0; v < s->n; v++)
        if (s->kind[v] == RW_KIND_ACCOUNT && !skip[v] && flagged(r, v)) {
            const rw_cluster_features *f = &r->feat[r->memb[v]];
            if (getenv("RW_DEBUG")) {
                fprintf(stderr, "flagged benign %u: %u accounts score %.3f:", v, f->accounts, score(r, r->memb[v]));
                for (int i = 0; i < RW_F_COUNT; i++) fprintf(stderr, " %s=%.2f", rw_feature_name(i), f->f[i]);
                fprintf(stderr, "\n");
            }
            k++;
        }
    return k;
}

static void mark(uint8_t *skip, const uint32_t *acc, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) skip[acc[i]] = 1;
}

/* A card ring: 36 accounts over three days from one /24, a different
 * address every four accounts, a fresh device each, six stolen cards
 * serving six accounts each. */
static void card_ring(world *w, uint32_t *acc, uint32_t n) {
    uint32_t sub = node(w, RW_KIND_SUBNET), ip = 0, card = 0, start = T0 + 10 * DAY;
    for (uint32_t i = 0; i < n; i++) {
        if (i % 4 == 0) {
            ip = node(w, RW_KIND_IP);
            w->parent[ip] = sub;
        }
        if (i % 6 == 0) card = node(w, RW_KIND_PAYMENT);
        acc[i] = node(w, RW_KIND_ACCOUNT);
        uint32_t t = start + i * (3 * DAY / n);
        edge(w, acc[i], ip, t);
        edge(w, acc[i], node(w, RW_KIND_DEVICE), t);
        edge(w, acc[i], card, t + 1800);
    }
}

Test(rings, card_ring_on_rotating_addresses_is_flagged) {
    world w = {0};
    rw_rng_seed(&w.r, 7);
    benign(&w, 3000, 150);
    uint32_t acc[36];
    card_ring(&w, acc, 36);
    rw_graph_snap *s = build(&w);
    run r;
    detect(s, &r);
    uint32_t c = r.memb[acc[0]], big = 0;
    for (uint32_t i = 0; i < 36; i++) big += r.feat[r.memb[acc[i]]].accounts >= 6;
    const double *f = r.feat[c].f;
    cr_expect_eq(big, 36, "the ring is in communities of six or more (%u of 36)", big);
    cr_expect_geq(count_flagged(&r, acc, 36), 30,
                  "ring flagged: score %.3f card_ring %.2f homeless %.2f cards/payer %.2f own devices %.2f "
                  "subnet %.2f span %.2f ip_linked %.2f",
                  score(&r, c), f[RW_F_CARD_RING], f[RW_F_CARD_HOMELESS], f[RW_F_CARDS_PER_PAYER], f[RW_F_OWN_DEVICES],
                  f[RW_F_SUBNET_SHARE], f[RW_F_SPAN_DAYS], f[RW_F_IP_LINKED]);
    uint8_t *skip = calloc(s->n, 1);
    mark(skip, acc, 36);
    cr_expect_eq(benign_flagged(s, &r, skip), 0, "families sharing a card, a tablet and a home stay benign");
    free(skip);
    run_free(&r);
    rw_graph_snap_free(s);
}

/* A farm: accounts within hours on 2 addresses and 3 devices (each account
 * on two of them, at signup and a login), nothing else. */
static void farm(world *w, uint32_t *acc, uint32_t n) {
    uint32_t ip[2] = {node(w, RW_KIND_IP), node(w, RW_KIND_IP)};
    uint32_t dev[3] = {node(w, RW_KIND_DEVICE), node(w, RW_KIND_DEVICE), node(w, RW_KIND_DEVICE)};
    for (uint32_t i = 0; i < n; i++) {
        acc[i] = node(w, RW_KIND_ACCOUNT);
        uint32_t t = when(w, T0 + 12 * DAY, 5 * 3600);
        uint32_t d = (uint32_t)rw_rng_below(&w->r, 3);
        edge(w, acc[i], ip[rw_rng_below(&w->r, 2)], t);
        edge(w, acc[i], ip[rw_rng_below(&w->r, 2)], t + 1800);
        edge(w, acc[i], dev[d], t);
        edge(w, acc[i], dev[(d + 1 + rw_rng_below(&w->r, 2)) % 3], t + 1800);
    }
}

/* A carrier NAT address: strangers over the month, each with a phone of
 * their own. Returns the address. */
static uint32_t nat(world *w, uint32_t *acc, uint32_t n) {
    uint32_t ip = node(w, RW_KIND_IP);
    for (uint32_t i = 0; i < n; i++) {
        acc[i] = node(w, RW_KIND_ACCOUNT);
        uint32_t t = when(w, T0, 30 * DAY);
        edge(w, acc[i], ip, t);
        edge(w, acc[i], node(w, RW_KIND_DEVICE), t);
    }
    return ip;
}

Test(rings, farm_past_the_hub_degree_glues_and_nat_does_not) {
    world w = {0};
    rw_rng_seed(&w.r, 11);
    benign(&w, 2000, 100);
    uint32_t *fa = malloc(1000 * sizeof *fa), *na = malloc(5000 * sizeof *na);
    farm(&w, fa, 1000);
    uint32_t ip = nat(&w, na, 5000);
    rw_graph_snap *s = build(&w);
    run r;
    detect(s, &r);
    uint32_t c = r.memb[fa[0]], same = 0;
    for (uint32_t i = 0; i < 1000; i++) same += r.memb[fa[i]] == c;
    cr_expect_eq(same, 1000, "the farm is one community (%u of 1000; weight of its first address %g)", same,
                 r.w[s->eid[s->off[s->nbr[s->off[fa[0]]]]]]);
    cr_expect_eq(count_flagged(&r, fa, 1000), 1000, "the farm is flagged (score %.3f)", score(&r, c));
    cr_expect_eq(r.w[s->eid[s->off[ip]]], 0.0, "the NAT glues nothing");
    uint32_t big = 0;
    for (uint32_t i = 0; i < 5000; i++) {
        const rw_cluster_features *f = &r.feat[r.memb[na[i]]];
        big += f->accounts > 1;
    }
    cr_expect_eq(big, 0, "NAT users stay apart (%u in a community of two or more)", big);
    uint8_t *skip = calloc(s->n, 1);
    mark(skip, fa, 1000);
    cr_expect_eq(benign_flagged(s, &r, skip), 0, "nothing benign flagged");
    free(skip);
    run_free(&r);
    rw_graph_snap_free(s);
    free(fa);
    free(na);
}

/* A campus /24: 400 new accounts in one week behind six addresses and a
 * gateway everyone uses, each with a device and a card of their own. */
static void campus(world *w, uint32_t *acc, uint32_t n) {
    uint32_t sub = node(w, RW_KIND_SUBNET), gw = node(w, RW_KIND_IP), ip[6];
    w->parent[gw] = sub;
    for (int j = 0; j < 6; j++) ip[j] = node(w, RW_KIND_IP), w->parent[ip[j]] = sub;
    for (uint32_t i = 0; i < n; i++) {
        acc[i] = node(w, RW_KIND_ACCOUNT);
        uint32_t t = when(w, T0 + 5 * DAY, 7 * DAY);
        edge(w, acc[i], gw, t);
        edge(w, acc[i], ip[rw_rng_below(&w->r, 6)], t + 600);
        edge(w, acc[i], node(w, RW_KIND_DEVICE), t);
        edge(w, acc[i], node(w, RW_KIND_PAYMENT), t + 3600);
    }
}

Test(rings, campus_week_is_not_flagged) {
    world w = {0};
    rw_rng_seed(&w.r, 13);
    benign(&w, 2000, 100);
    uint32_t acc[400];
    campus(&w, acc, 400);
    rw_graph_snap *s = build(&w);
    run r;
    detect(s, &r);
    uint32_t k = count_flagged(&r, acc, 400);
    cr_expect_eq(k, 0, "campus accounts flagged: %u (score of the first's community %.3f, %u accounts)", k,
                 score(&r, r.memb[acc[0]]), r.feat[r.memb[acc[0]]].accounts);
    uint8_t *none = calloc(s->n, 1);
    cr_expect_eq(benign_flagged(s, &r, none), 0, "nothing flagged");
    free(none);
    run_free(&r);
    rw_graph_snap_free(s);
}

/* A month of benign accounts with a card ring and a farm of 300, detected
 * into r. */
static rw_graph_snap *mixed_world(run *r) {
    world w = {0};
    rw_rng_seed(&w.r, 5);
    benign(&w, 3000, 150);
    uint32_t ring[36], fa[300];
    card_ring(&w, ring, 36);
    farm(&w, fa, 300);
    rw_graph_snap *s = build(&w);
    detect(s, r);
    return s;
}

/* The features of every community are the same whichever thread computed
 * them: with 1, 2 and 5 workers, byte for byte, links and account features
 * included. */
Test(rings, features_do_not_depend_on_the_number_of_workers) {
    run r;
    rw_graph_snap *s = mixed_world(&r);
    cr_assert_gt(r.ncomm, 1000, "enough communities for every worker to take blocks (%u)", r.ncomm);
    rw_cluster_features *f[3];
    uint8_t *links[3];
    double *af[3];
    const unsigned workers[3] = {1, 2, 5};
    for (int k = 0; k < 3; k++) {
        f[k] = calloc(r.ncomm + 1, sizeof *f[k]);
        links[k] = calloc(s->n + 1, 1);
        af[k] = calloc((s->n + 1) * (size_t)RW_A_COUNT, sizeof *af[k]);
        cr_assert(f[k] && links[k] && af[k]);
        rw_err err;
        cr_assert_eq(
            rw_detect_features_some(s, r.w, 200, r.memb, r.ncomm, NULL, f[k], links[k], af[k], workers[k], &err), RW_OK,
            "%s", err.msg);
    }
    for (int k = 1; k < 3; k++) {
        cr_expect_eq(memcmp(f[0], f[k], r.ncomm * sizeof *f[0]), 0, "features with %u workers", workers[k]);
        cr_expect_eq(memcmp(links[0], links[k], s->n), 0, "links with %u workers", workers[k]);
        cr_expect_eq(memcmp(af[0], af[k], s->n * (size_t)RW_A_COUNT * sizeof *af[0]), 0,
                     "account features with %u workers", workers[k]);
    }
    cr_expect_eq(memcmp(f[0], r.feat, r.ncomm * sizeof *f[0]), 0, "the same as rw_detect_features");
    for (int k = 0; k < 3; k++) free(f[k]), free(links[k]), free(af[k]);
    run_free(&r);
    rw_graph_snap_free(s);
}

typedef struct {
    uint32_t npre;
    int calls;
} early_seen;

static void early_ready(void *ctx, uint32_t npre) {
    early_seen *e = ctx;
    e->npre = npre;
    e->calls++;
}

/* What rw_detect_communities_early tells before Leiden runs holds after
 * it: the accounts of each early label are exactly one final community,
 * and the accounts left to Leiden share no community with them; the
 * communities are those of rw_detect_communities. */
Test(rings, early_labels_are_final_communities) {
    run r;
    rw_graph_snap *s = mixed_world(&r);
    rw_community_params p;
    rw_community_defaults(&p);
    uint32_t *pre = malloc(s->n * sizeof *pre), *memb = malloc(s->n * sizeof *memb), ncomm = 0;
    cr_assert(pre && memb);
    early_seen seen = {0};
    rw_communities_early early = {.pre = pre, .ready = early_ready, .ctx = &seen};
    rw_err err;
    cr_assert_eq(rw_detect_communities_early(s, &p, r.w, NULL, memb, &ncomm, &early, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(seen.calls, 1);
    cr_expect_eq(ncomm, r.ncomm);
    cr_expect_eq(memcmp(memb, r.memb, s->n * sizeof *memb), 0, "the same communities as rw_detect_communities");
    /* community -> its early label (UINT32_MAX - 1: none yet) */
    uint32_t *label = malloc((ncomm + 1) * sizeof *label), *owner = malloc((seen.npre + 1) * sizeof *owner);
    cr_assert(label && owner);
    for (uint32_t c = 0; c < ncomm; c++) label[c] = UINT32_MAX - 1;
    for (uint32_t l = 0; l <= seen.npre; l++) owner[l] = UINT32_MAX;
    uint32_t left = 0, wrong = 0;
    for (uint32_t v = 0; v < s->n; v++) {
        if (s->kind[v] != RW_KIND_ACCOUNT) {
            wrong += pre[v] != RW_NODE_NONE;
            continue;
        }
        uint32_t c = memb[v], l = pre[v];
        cr_assert_leq(l, seen.npre);
        left += l == seen.npre;
        if (label[c] == UINT32_MAX - 1) label[c] = l;
        wrong += label[c] != l; /* one label per community */
        if (l == seen.npre) continue;
        if (owner[l] == UINT32_MAX) owner[l] = c;
        wrong += owner[l] != c; /* one community per label */
    }
    cr_expect_eq(wrong, 0, "%u nodes against their early labels", wrong);
    cr_expect_gt(left, 0, "some accounts were left to Leiden");
    cr_expect_lt(left, 3000, "most accounts were not (%u)", left);
    free(label), free(owner), free(pre), free(memb);
    run_free(&r);
    rw_graph_snap_free(s);
}
