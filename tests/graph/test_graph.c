/* Tests of graph: the indexes, growth, adjacency storage, velocity counters,
 * bad node ids, prefetching, a random comparison against a plain model, the
 * igraph conversion and memory per edge. */
#include <criterion/criterion.h>
#include <igraph.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

static rw_hash mkhash(uint64_t x) {
    rw_hash h;
    for (int i = 0; i < 2; i++) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        memcpy(h.b + 8 * i, &z, 8);
    }
    return h;
}

static rw_graph *mkgraph(void) {
    rw_graph *g = NULL;
    rw_err err = {{0}};
    cr_assert_eq(rw_graph_create(&g, &err), RW_OK, "%s", err.msg);
    return g;
}

static uint32_t add_account(rw_graph *g, const char *id, int64_t ts) {
    uint32_t v;
    rw_err err = {{0}};
    cr_assert_eq(rw_graph_add_account(g, &v, id, strlen(id), ts, &err), RW_OK, "%s", err.msg);
    return v;
}

static uint32_t add_attr(rw_graph *g, rw_kind kind, uint64_t x, uint32_t parent, int64_t ts) {
    uint32_t v;
    rw_err err = {{0}};
    rw_hash h = mkhash(x);
    cr_assert_eq(rw_graph_add_attr(g, &v, kind, &h, parent, ts, &err), RW_OK, "%s", err.msg);
    return v;
}

static int observe(rw_graph *g, uint32_t account, uint32_t attr, int64_t ts) {
    int is_new = -1;
    rw_err err = {{0}};
    cr_assert_eq(rw_graph_observe(g, &is_new, account, attr, ts, &err), RW_OK, "%s", err.msg);
    return is_new;
}

static void assert_near(double got, double want) {
    cr_assert(fabs(got - want) <= 1e-5 * fmax(1.0, fabs(want)), "got %.9g, want %.9g", got, want);
}

Test(graph, free_null_and_empty_queries) {
    rw_graph_free(NULL);
    rw_graph *g = mkgraph();
    cr_assert_eq(rw_graph_node_count(g), 0);
    cr_assert_eq(rw_graph_edge_count(g), 0);
    cr_assert_eq(rw_graph_find_account(g, "a", 1), RW_NODE_NONE);
    rw_hash h = mkhash(1);
    cr_assert_eq(rw_graph_find_attr(g, RW_KIND_IP, &h), RW_NODE_NONE);
    cr_assert_gt(rw_graph_memory(g), 0);
    rw_graph_free(g);
}

Test(graph, accounts_by_id) {
    rw_graph *g = mkgraph();
    cr_assert_eq(add_account(g, "alice", 100), 0);
    cr_assert_eq(add_account(g, "bob", 200), 1);
    cr_assert_eq(rw_graph_find_account(g, "alice", 5), 0);
    cr_assert_eq(rw_graph_find_account(g, "bob", 3), 1);
    cr_assert_eq(rw_graph_find_account(g, "ali", 3), RW_NODE_NONE);
    cr_assert_eq(rw_graph_find_account(g, "bobby", 5), RW_NODE_NONE);
    size_t len = 0;
    const char *s = rw_graph_account_id(g, 0, &len);
    cr_assert_eq(len, 5);
    cr_assert_str_eq(s, "alice");
    cr_assert_eq(rw_graph_kind(g, 1), RW_KIND_ACCOUNT);
    cr_assert_eq(rw_graph_first_seen(g, 1), 200);
    cr_assert_eq(rw_graph_last_seen(g, 1), 200);
    cr_assert_eq(rw_graph_kind_count(g, RW_KIND_ACCOUNT), 2);

    /* a duplicate, empty and too long ids are refused without a change */
    uint32_t v = 7;
    rw_err err = {{0}};
    cr_assert_eq(rw_graph_add_account(g, &v, "bob", 3, 0, &err), RW_ERR_EXISTS);
    cr_assert_eq(v, RW_NODE_NONE);
    cr_assert_eq(rw_graph_add_account(g, &v, "", 0, 0, &err), RW_ERR_INVALID);
    char big[RW_ACCOUNT_MAX + 1];
    memset(big, 'x', sizeof big);
    cr_assert_eq(rw_graph_add_account(g, &v, big, sizeof big, 0, &err), RW_ERR_INVALID);
    cr_assert_eq(rw_graph_node_count(g), 2);
    /* the longest id fits, and binary ids are fine */
    cr_assert_eq(rw_graph_add_account(g, &v, big, RW_ACCOUNT_MAX, 0, &err), RW_OK);
    cr_assert_eq(rw_graph_find_account(g, big, RW_ACCOUNT_MAX), v);
    cr_assert_eq(rw_graph_add_account(g, &v, "a\0b", 3, 0, &err), RW_OK);
    cr_assert_eq(rw_graph_find_account(g, "a\0b", 3), v);
    cr_assert_eq(rw_graph_find_account(g, "a", 1), RW_NODE_NONE);
    /* negative and far-future times are clamped to 32 bits */
    cr_assert_eq(rw_graph_add_account(g, &v, "clamp", 5, -5, &err), RW_OK);
    cr_assert_eq(rw_graph_first_seen(g, v), 0);
    rw_graph_touch(g, v, INT64_MAX);
    cr_assert_eq(rw_graph_last_seen(g, v), (int64_t)UINT32_MAX);
    rw_graph_free(g);
}

Test(graph, attributes_by_kind_and_hash) {
    rw_graph *g = mkgraph();
    uint32_t a = add_account(g, "a", 10);
    uint32_t subnet = add_attr(g, RW_KIND_SUBNET, 5, RW_NODE_NONE, 10);
    uint32_t ip = add_attr(g, RW_KIND_IP, 42, subnet, 10);
    uint32_t dev = add_attr(g, RW_KIND_DEVICE, 42, RW_NODE_NONE, 11); /* same hash, another kind */
    uint32_t b = add_account(g, "b", 12);
    uint32_t pay = add_attr(g, RW_KIND_PAYMENT, 43, RW_NODE_NONE, 12);
    /* dense ids in insertion order, kinds interleaved */
    cr_assert_eq(a, 0);
    cr_assert_eq(subnet, 1);
    cr_assert_eq(ip, 2);
    cr_assert_eq(dev, 3);
    cr_assert_eq(b, 4);
    cr_assert_eq(pay, 5);
    rw_hash h42 = mkhash(42), h43 = mkhash(43);
    cr_assert_eq(rw_graph_find_attr(g, RW_KIND_IP, &h42), ip);
    cr_assert_eq(rw_graph_find_attr(g, RW_KIND_DEVICE, &h42), dev);
    cr_assert_eq(rw_graph_find_attr(g, RW_KIND_PAYMENT, &h42), RW_NODE_NONE);
    cr_assert_eq(rw_graph_find_attr(g, RW_KIND_PAYMENT, &h43), pay);
    cr_assert_eq(rw_graph_find_attr(g, RW_KIND_ACCOUNT, &h42), RW_NODE_NONE);
    cr_assert_eq(memcmp(rw_graph_attr_hash(g, dev), &h42, sizeof h42), 0);
    cr_assert_eq(rw_graph_parent(g, ip), subnet);
    cr_assert_eq(rw_graph_parent(g, dev), RW_NODE_NONE);
    cr_assert_eq(rw_graph_parent(g, subnet), RW_NODE_NONE);
    cr_assert_eq(rw_graph_kind(g, subnet), RW_KIND_SUBNET);
    cr_assert_eq(rw_graph_kind_count(g, RW_KIND_ACCOUNT), 2);
    cr_assert_eq(rw_graph_kind_count(g, RW_KIND_IP), 1);
    cr_assert_eq(rw_graph_kind_count(g, RW_KIND_DEVICE), 1);
    cr_assert_eq(rw_graph_kind_count(g, RW_KIND_PAYMENT), 1);
    cr_assert_eq(rw_graph_kind_count(g, RW_KIND_SUBNET), 1);
    cr_assert_eq(rw_graph_kind_count(g, RW_KIND_COUNT), 0);
    cr_assert_eq(rw_graph_first_seen(g, dev), 11);

    uint32_t v = 0;
    rw_err err = {{0}};
    cr_assert_eq(rw_graph_add_attr(g, &v, RW_KIND_IP, &h42, RW_NODE_NONE, 0, &err), RW_ERR_EXISTS);
    cr_assert_eq(v, RW_NODE_NONE);
    rw_hash h = mkhash(99);
    cr_assert_eq(rw_graph_add_attr(g, &v, RW_KIND_ACCOUNT, &h, RW_NODE_NONE, 0, &err), RW_ERR_INVALID);
    cr_assert_eq(rw_graph_add_attr(g, &v, (rw_kind)17, &h, RW_NODE_NONE, 0, &err), RW_ERR_INVALID);
    cr_assert_eq(rw_graph_add_attr(g, &v, RW_KIND_IP, NULL, RW_NODE_NONE, 0, &err), RW_ERR_INVALID);
    /* a parent must be a subnet, and only an IP has one */
    cr_assert_eq(rw_graph_add_attr(g, &v, RW_KIND_IP, &h, ip, 0, &err), RW_ERR_INVALID);
    cr_assert_eq(rw_graph_add_attr(g, &v, RW_KIND_IP, &h, 1000, 0, &err), RW_ERR_INVALID);
    cr_assert_eq(rw_graph_add_attr(g, &v, RW_KIND_DEVICE, &h, subnet, 0, &err), RW_ERR_INVALID);
    cr_assert_eq(rw_graph_node_count(g), 6);
    cr_assert_eq(rw_graph_find_attr(g, RW_KIND_IP, &h), RW_NODE_NONE);
    rw_graph_free(g);
}

Test(graph, observe_new_and_existing_edges) {
    rw_graph *g = mkgraph();
    uint32_t a = add_account(g, "a", 1000);
    uint32_t b = add_account(g, "b", 1000);
    uint32_t ip = add_attr(g, RW_KIND_IP, 1, RW_NODE_NONE, 1000);
    uint32_t dev = add_attr(g, RW_KIND_DEVICE, 2, RW_NODE_NONE, 1000);

    cr_assert_eq(observe(g, a, ip, 1000), 1);
    cr_assert_eq(observe(g, a, dev, 1000), 1);
    cr_assert_eq(observe(g, a, ip, 1500), 0);
    cr_assert_eq(observe(g, a, ip, 900), 0); /* late event */
    cr_assert_eq(observe(g, b, ip, 2000), 1);
    cr_assert_eq(rw_graph_edge_count(g), 3);
    cr_assert_eq(rw_graph_degree(g, a), 2);
    cr_assert_eq(rw_graph_degree(g, b), 1);
    cr_assert_eq(rw_graph_degree(g, ip), 2);
    cr_assert_eq(rw_graph_degree(g, dev), 1);

    uint32_t n = 0;
    const rw_edge *e = rw_graph_account_edges(g, a, &n);
    cr_assert_eq(n, 2);
    cr_assert_eq(e[0].attr, ip);
    cr_assert_eq(e[0].first_seen, 900);
    cr_assert_eq(e[0].last_seen, 1500);
    cr_assert_eq(e[0].count, 3);
    cr_assert_eq(e[1].attr, dev);
    cr_assert_eq(e[1].count, 1);
    const uint32_t *acc = rw_graph_attr_accounts(g, ip, &n);
    cr_assert_eq(n, 2);
    cr_assert_eq(acc[0], a);
    cr_assert_eq(acc[1], b);
    acc = rw_graph_attr_accounts(g, dev, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(acc[0], a);

    /* nodes take the min of first seen and the max of last seen */
    cr_assert_eq(rw_graph_first_seen(g, a), 900);
    cr_assert_eq(rw_graph_last_seen(g, a), 1500);
    cr_assert_eq(rw_graph_first_seen(g, ip), 900);
    cr_assert_eq(rw_graph_last_seen(g, ip), 2000);
    cr_assert_eq(rw_graph_first_seen(g, b), 1000);
    cr_assert_eq(rw_graph_last_seen(g, b), 2000);
    rw_graph_touch(g, b, 3000);
    rw_graph_touch(g, b, 50);
    cr_assert_eq(rw_graph_first_seen(g, b), 50);
    cr_assert_eq(rw_graph_last_seen(g, b), 3000);
    /* an account without edges */
    uint32_t c = add_account(g, "c", 5);
    cr_assert_null(rw_graph_account_edges(g, c, &n));
    cr_assert_eq(n, 0);
    rw_graph_free(g);
}

Test(graph, account_with_many_edges) {
    rw_graph *g = mkgraph();
    uint32_t a = add_account(g, "many", 0);
    enum { N = 300 };
    uint32_t attrs[N];
    for (uint32_t i = 0; i < N; i++) attrs[i] = add_attr(g, RW_KIND_IP, i, RW_NODE_NONE, 0);
    for (uint32_t i = 0; i < N; i++) cr_assert_eq(observe(g, a, attrs[i], i), 1);
    for (uint32_t i = 0; i < N; i++) cr_assert_eq(observe(g, a, attrs[N - 1 - i], 10000 + i), 0);
    uint32_t n = 0;
    const rw_edge *e = rw_graph_account_edges(g, a, &n);
    cr_assert_eq(n, N);
    for (uint32_t i = 0; i < N; i++) {
        cr_assert_eq(e[i].attr, attrs[i]);
        cr_assert_eq(e[i].first_seen, i);
        cr_assert_eq(e[i].last_seen, 10000 + N - 1 - i);
        cr_assert_eq(e[i].count, 2);
    }
    cr_assert_eq(rw_graph_edge_count(g), N);
    rw_graph_free(g);
}

Test(graph, velocity_decay) {
    const int64_t t0 = 1790000000;
    rw_graph *g = mkgraph();
    uint32_t a = add_account(g, "a", t0), b = add_account(g, "b", t0), c = add_account(g, "c", t0);
    uint32_t ip = add_attr(g, RW_KIND_IP, 1, RW_NODE_NONE, t0);
    double v[RW_VEL_COUNT];

    rw_graph_velocity(g, ip, t0, v);
    for (int i = 0; i < RW_VEL_COUNT; i++) cr_assert_eq(v[i], 0.0);
    observe(g, a, ip, t0);
    rw_graph_velocity(g, ip, t0, v);
    for (int i = 0; i < RW_VEL_COUNT; i++) assert_near(v[i], 1.0);
    rw_graph_velocity(g, ip, t0 + 3600, v);
    assert_near(v[RW_VEL_HOUR], exp(-1.0));
    assert_near(v[RW_VEL_DAY], exp(-3600.0 / 86400.0));
    assert_near(v[RW_VEL_WEEK], exp(-3600.0 / 604800.0));
    /* a query before the last update returns the stored values */
    rw_graph_velocity(g, ip, t0 - 100, v);
    assert_near(v[RW_VEL_HOUR], 1.0);

    /* an existing edge is not a new account */
    observe(g, a, ip, t0 + 60);
    rw_graph_velocity(g, ip, t0, v);
    assert_near(v[RW_VEL_HOUR], 1.0);

    /* a second account an hour later: decayed first one plus one */
    observe(g, b, ip, t0 + 3600);
    rw_graph_velocity(g, ip, t0 + 3600, v);
    assert_near(v[RW_VEL_HOUR], 1.0 + exp(-1.0));
    assert_near(v[RW_VEL_DAY], 1.0 + exp(-1.0 / 24.0));
    /* a late third account (30 minutes after t0) adds its decayed weight */
    observe(g, c, ip, t0 + 1800);
    rw_graph_velocity(g, ip, t0 + 3600, v);
    assert_near(v[RW_VEL_HOUR], 1.0 + exp(-1.0) + exp(-0.5));
    assert_near(v[RW_VEL_WEEK], 1.0 + exp(-3600.0 / 604800.0) + exp(-1800.0 / 604800.0));
    /* and a day later everything has decayed by one more day */
    rw_graph_velocity(g, ip, t0 + 3600 + 86400, v);
    assert_near(v[RW_VEL_HOUR], (1.0 + exp(-1.0) + exp(-0.5)) * exp(-24.0));
    assert_near(v[RW_VEL_DAY], (1.0 + exp(-1.0 / 24.0) + exp(-0.5 / 24.0)) * exp(-1.0));

    /* subnets and accounts have none */
    uint32_t s = add_attr(g, RW_KIND_SUBNET, 2, RW_NODE_NONE, t0);
    rw_graph_velocity(g, s, t0, v);
    cr_assert_eq(v[RW_VEL_HOUR], 0.0);
    rw_graph_velocity(g, a, t0, v);
    cr_assert_eq(v[RW_VEL_DAY], 0.0);
    rw_graph_free(g);
}

/* ---- the counters as the graph stored them before they became lazy ------ */

typedef struct {
    float v[RW_VEL_COUNT];
    uint32_t last;
} ref_vel;

static const double ref_tau[RW_VEL_COUNT] = {3600.0, 86400.0, 604800.0};

static double ref_decay(double dt, int i) {
    double x = dt / ref_tau[i];
    return x > 120.0 ? 0.0 : exp(-x);
}

/* The arithmetic of the 16-byte counters every attribute used to carry. */
static void ref_vel_add(ref_vel *r, uint32_t t) {
    if (t >= r->last) {
        uint32_t dt = t - r->last;
        for (int i = 0; i < RW_VEL_COUNT; i++)
            r->v[i] = (dt ? (float)((double)r->v[i] * ref_decay(dt, i)) : r->v[i]) + 1.0f;
        r->last = t;
    } else {
        for (int i = 0; i < RW_VEL_COUNT; i++) r->v[i] += (float)ref_decay(r->last - t, i);
    }
}

static uint32_t clamp32(int64_t t) {
    return t < 0 ? 0 : t > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

/* The lazy counters must give exactly the stored ones, not just close. */
static void assert_velocity(const rw_graph *g, uint32_t attr, const ref_vel *r, int64_t now) {
    double got[RW_VEL_COUNT], want[RW_VEL_COUNT];
    rw_graph_velocity(g, attr, now, got);
    double dt = now > (int64_t)r->last ? (double)(now - (int64_t)r->last) : 0.0;
    for (int i = 0; i < RW_VEL_COUNT; i++) {
        want[i] = (double)r->v[i] * ref_decay(dt, i);
        if (got[i] != want[i])
            cr_assert_fail("node %u window %d at %lld: got %.17g, want %.17g", (unsigned)attr, i, (long long)now,
                           got[i], want[i]);
    }
}

Test(graph, velocity_of_degree_one_and_two_is_unchanged) {
    /* the times of the first three accounts of an attribute */
    static const int64_t cases[][3] = {
        {1000, 500, 2000},                                               /* the second one earlier than the first */
        {1000, 1000, 1000},                                              /* all at once */
        {1000, 1000 + 3600, 900},                                        /* in order, then a late one */
        {5000, 0, 1},                                                    /* back to time 0 */
        {-7, 100, 4000000000000},                                        /* clamped at both ends */
        {4000000000000, 5, 4000000000001},                               /* from the end of time back */
        {1790000000, 1790000000 - 86400 * 30, 1790000000 + 86400 * 400}, /* months apart: decayed to 0 */
    };
    const int64_t probes[] = {0,    1,     499,        500,        999,        1000,     1001,
                              5000, 90000, 1790000000, 1800000000, UINT32_MAX, INT64_MAX};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        rw_graph *g = mkgraph();
        uint32_t acct[3];
        char id[16];
        for (int i = 0; i < 3; i++) {
            snprintf(id, sizeof id, "a%d", i);
            acct[i] = add_account(g, id, 0);
        }
        uint32_t dev = add_attr(g, RW_KIND_DEVICE, c, RW_NODE_NONE, 3000);
        ref_vel r = {{0}, 0};
        uint32_t first = 1;
        for (int k = 0; k < 3; k++) {
            for (size_t p = 0; p < sizeof probes / sizeof *probes; p++) assert_velocity(g, dev, &r, probes[p]);
            cr_assert_eq(rw_graph_degree(g, dev), (uint32_t)k);
            cr_assert_eq(observe(g, acct[k], dev, cases[c][k]), 1);
            ref_vel_add(&r, clamp32(cases[c][k]));
            /* seeing an existing pair again, earlier or later, or touching the
             * attribute, moves its first and last seen but counts no account */
            cr_assert_eq(observe(g, acct[k], dev, cases[c][k] - 50), 0);
            cr_assert_eq(observe(g, acct[0], dev, cases[c][k] + 50), 0);
            rw_graph_touch(g, dev, 1);
            if (clamp32(cases[c][k] - 50) < first) first = clamp32(cases[c][k] - 50);
            uint32_t n = 0;
            const uint32_t *accs = rw_graph_attr_accounts(g, dev, &n);
            cr_assert_eq(n, (uint32_t)k + 1);
            for (int i = 0; i <= k; i++) cr_assert_eq(accs[i], acct[i]);
            cr_assert_eq(rw_graph_first_seen(g, dev), first);
        }
        for (size_t p = 0; p < sizeof probes / sizeof *probes; p++) assert_velocity(g, dev, &r, probes[p]);
        rw_graph_free(g);
    }
}

/* ---- a random history, checked against a plain model ------------------- */

typedef struct {
    rw_kind kind;
    uint32_t first, last, parent;
    uint32_t n, cap;
    uint32_t *accounts; /* of an attribute */
    rw_edge *edges;     /* of an account */
    ref_vel vel;
    uint64_t x; /* an attribute's hash is mkhash(x) */
    size_t len; /* an account's id */
    char id[RW_ACCOUNT_MAX];
} ref_node;

typedef struct {
    ref_node *node;
    uint32_t n, cap;
    uint32_t *linked; /* ip, device and payment nodes */
    uint32_t nlinked;
    uint32_t *subnets;
    uint32_t nsubnets;
    uint32_t *accts;
    uint32_t naccts;
    uint64_t rng;
    uint32_t serial;
    int64_t now;
} model;

static uint64_t model_rand(model *m) {
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}

static void *grow(void *p, uint32_t *cap, uint32_t need, size_t size) {
    if (need <= *cap) return p;
    uint32_t c = *cap ? *cap * 2 : 16;
    while (c < need) c *= 2;
    p = realloc(p, c * size);
    cr_assert_not_null(p);
    *cap = c;
    return p;
}

static void push(uint32_t **a, uint32_t *n, uint32_t v) {
    if ((*n & (*n - 1)) == 0) {
        *a = realloc(*a, (*n ? *n * 2 : 1) * sizeof **a);
        cr_assert_not_null(*a);
    }
    (*a)[(*n)++] = v;
}

static ref_node *model_add(model *m, uint32_t v, rw_kind kind, int64_t ts) {
    cr_assert_eq(v, m->n, "node ids are dense");
    m->node = grow(m->node, &m->cap, m->n + 1, sizeof *m->node);
    ref_node *r = &m->node[m->n++];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->first = r->last = clamp32(ts);
    r->parent = RW_NODE_NONE;
    return r;
}

/* Short ids, ids of 14 and 15 bytes and long ones, with any byte but '#'
 * before a '#' and a serial number, so they are distinct. */
static void model_add_account(model *m, rw_graph *g) {
    char id[RW_ACCOUNT_MAX];
    char tail[16];
    int tl = snprintf(tail, sizeof tail, "#%u", m->serial++);
    static const size_t lens[] = {0, 1, 3, 9, 13, 14, 15, 30, 36, 100, RW_ACCOUNT_MAX};
    size_t len = lens[model_rand(m) % (sizeof lens / sizeof *lens)];
    if (len < (size_t)tl) len = (size_t)tl;
    for (size_t i = 0; i + tl < len; i++) {
        id[i] = (char)(model_rand(m) % 256);
        if (id[i] == '#') id[i] = 0;
    }
    memcpy(id + len - tl, tail, (size_t)tl);
    uint32_t v;
    cr_assert_eq(rw_graph_add_account(g, &v, id, len, m->now, NULL), RW_OK);
    ref_node *r = model_add(m, v, RW_KIND_ACCOUNT, m->now);
    memcpy(r->id, id, len);
    r->len = len;
    push(&m->accts, &m->naccts, v);
}

static void model_add_attr(model *m, rw_graph *g) {
    rw_kind kind = (rw_kind)(1 + model_rand(m) % 4);
    uint32_t parent = RW_NODE_NONE;
    if (kind == RW_KIND_IP && m->nsubnets && model_rand(m) % 2) parent = m->subnets[model_rand(m) % m->nsubnets];
    uint64_t x = 1000000 + m->serial++;
    rw_hash h = mkhash(x);
    uint32_t v;
    cr_assert_eq(rw_graph_add_attr(g, &v, kind, &h, parent, m->now, NULL), RW_OK);
    ref_node *r = model_add(m, v, kind, m->now);
    r->x = x;
    r->parent = parent;
    if (kind == RW_KIND_SUBNET)
        push(&m->subnets, &m->nsubnets, v);
    else
        push(&m->linked, &m->nlinked, v);
}

static void model_seen(ref_node *r, uint32_t t) {
    if (t < r->first) r->first = t;
    if (t > r->last) r->last = t;
}

static void model_observe(model *m, rw_graph *g) {
    uint32_t a = m->accts[model_rand(m) % m->naccts];
    /* a fifth of the edges go to a few hubs */
    uint32_t pick = model_rand(m) % 5 == 0 ? (uint32_t)(model_rand(m) % (m->nlinked < 12 ? m->nlinked : 12))
                                           : (uint32_t)(model_rand(m) % m->nlinked);
    uint32_t b = m->linked[pick];
    int64_t ts = m->now;
    uint64_t r = model_rand(m) % 100;
    if (r < 15) ts -= (int64_t)(model_rand(m) % 2000000); /* late */
    if (r == 99) ts = model_rand(m) % 2 ? -1 : (int64_t)1 << 40;
    uint32_t t = clamp32(ts);
    ref_node *ra = &m->node[a], *rb = &m->node[b];
    uint32_t i = 0;
    while (i < ra->n && ra->edges[i].attr != b) i++;
    int want_new = i == ra->n;
    if (want_new) {
        uint32_t cap = ra->cap;
        ra->edges = grow(ra->edges, &cap, ra->n + 1, sizeof *ra->edges);
        ra->cap = cap;
        ra->edges[ra->n++] = (rw_edge){b, t, t, 1};
        cap = rb->cap;
        rb->accounts = grow(rb->accounts, &cap, rb->n + 1, sizeof *rb->accounts);
        rb->cap = cap;
        rb->accounts[rb->n++] = a;
        ref_vel_add(&rb->vel, t);
    } else {
        rw_edge *e = &ra->edges[i];
        if (t < e->first_seen) e->first_seen = t;
        if (t > e->last_seen) e->last_seen = t;
        e->count++;
    }
    model_seen(ra, t);
    model_seen(rb, t);
    cr_assert_eq(observe(g, a, b, ts), want_new);
}

/* Announces keys and nodes, existing or not, valid or not. */
static void model_prefetch(model *m, rw_graph *g) {
    uint32_t v = (uint32_t)(model_rand(m) % (m->n + 3));
    ref_node *r = v < m->n ? &m->node[v] : NULL;
    rw_hash h = mkhash(r && r->kind != RW_KIND_ACCOUNT ? r->x : model_rand(m));
    switch (model_rand(m) % 6) {
        case 0:
            rw_graph_prefetch_account(g, r ? r->id : "nobody", r && r->len ? r->len : 6);
            break;
        case 1:
            rw_graph_prefetch_attr(g, r ? r->kind : RW_KIND_IP, &h);
            break;
        case 2:
            rw_graph_prefetch_attr(g, (rw_kind)(model_rand(m) % 7), &h);
            break;
        case 3:
            rw_graph_prefetch_node(g, v);
            break;
        case 4:
            rw_graph_prefetch_account(g, "x", model_rand(m) % 2 ? 0 : RW_ACCOUNT_MAX + 1);
            break;
        default:
            rw_graph_prefetch_node(g, RW_NODE_NONE);
            rw_graph_prefetch_attr(g, RW_KIND_DEVICE, NULL);
            rw_graph_prefetch_account(g, NULL, 3);
            break;
    }
}

static void model_check(const model *m, const rw_graph *g) {
    cr_assert_eq(rw_graph_node_count(g), m->n);
    uint64_t edges = 0;
    uint32_t kinds[RW_KIND_COUNT] = {0};
    const int64_t probes[] = {0, 1790000000, 1790500000, 1800000000};
    for (uint32_t v = 0; v < m->n; v++) {
        const ref_node *r = &m->node[v];
        kinds[r->kind]++;
        if (rw_graph_kind(g, v) != r->kind) cr_assert_fail("kind of %u", v);
        if (rw_graph_first_seen(g, v) != r->first || rw_graph_last_seen(g, v) != r->last)
            cr_assert_fail("seen of %u: %lld..%lld, want %u..%u", v, (long long)rw_graph_first_seen(g, v),
                           (long long)rw_graph_last_seen(g, v), r->first, r->last);
        if (rw_graph_degree(g, v) != r->n) cr_assert_fail("degree of %u: %u, want %u", v, rw_graph_degree(g, v), r->n);
        if (rw_graph_parent(g, v) != r->parent) cr_assert_fail("parent of %u", v);
        uint32_t n = 7;
        if (r->kind == RW_KIND_ACCOUNT) {
            edges += r->n;
            size_t len = 0;
            const char *id = rw_graph_account_id(g, v, &len);
            if (len != r->len || memcmp(id, r->id, len) != 0 || id[len] != 0) cr_assert_fail("id of %u", v);
            if (rw_graph_find_account(g, r->id, r->len) != v) cr_assert_fail("account %u not found", v);
            const rw_edge *e = rw_graph_account_edges(g, v, &n);
            if (n != r->n || (n && memcmp(e, r->edges, n * sizeof *e) != 0)) cr_assert_fail("edges of %u", v);
            cr_assert_null(rw_graph_attr_hash(g, v));
        } else {
            rw_hash h = mkhash(r->x);
            if (memcmp(rw_graph_attr_hash(g, v), &h, sizeof h) != 0) cr_assert_fail("hash of %u", v);
            if (rw_graph_find_attr(g, r->kind, &h) != v) cr_assert_fail("attribute %u not found", v);
            const uint32_t *acc = rw_graph_attr_accounts(g, v, &n);
            if (n != r->n || (n && memcmp(acc, r->accounts, n * sizeof *acc) != 0))
                cr_assert_fail("accounts of %u: %u, want %u", v, n, r->n);
            for (size_t p = 0; p < sizeof probes / sizeof *probes; p++) assert_velocity(g, v, &r->vel, probes[p]);
        }
    }
    cr_assert_eq(rw_graph_edge_count(g), edges);
    for (int k = 0; k < RW_KIND_COUNT; k++) cr_assert_eq(rw_graph_kind_count(g, (rw_kind)k), kinds[k]);
}

static void model_free(model *m) {
    for (uint32_t v = 0; v < m->n; v++) {
        free(m->node[v].accounts);
        free(m->node[v].edges);
    }
    free(m->node);
    free(m->linked);
    free(m->subnets);
    free(m->accts);
}

/* Grows through index rebuilds, several pages of nodes, degree 1 to 2
 * transitions, hubs, long and binary ids, late and clamped times; with
 * prefetch calls sprinkled in, the graph must be exactly the same. */
static void run_model(int prefetch) {
    enum { OPS = 150000, CHECK_EVERY = 37500 };
    rw_graph *g = mkgraph();
    model m = {.rng = 0x2545f4914f6cdd1dull, .now = 1790000000};
    for (int i = 0; i < 4; i++) {
        model_add_account(&m, g);
        model_add_attr(&m, g);
    }
    for (int op = 1; op <= OPS; op++) {
        m.now += (int64_t)(model_rand(&m) % 40);
        uint64_t r = model_rand(&m) % 100;
        if (prefetch) model_prefetch(&m, g);
        if (r < 10)
            model_add_account(&m, g);
        else if (r < 19)
            model_add_attr(&m, g);
        else if (r < 95 && m.nlinked)
            model_observe(&m, g);
        else {
            uint32_t v = (uint32_t)(model_rand(&m) % m.n);
            int64_t ts = m.now - (int64_t)(model_rand(&m) % 3000000);
            rw_graph_touch(g, v, ts);
            model_seen(&m.node[v], clamp32(ts));
        }
        if (op % CHECK_EVERY == 0) model_check(&m, g);
    }
    model_free(&m);
    rw_graph_free(g);
}

Test(graph, random_history_matches_a_plain_model, .timeout = 120) {
    run_model(0);
}

Test(graph, prefetching_changes_nothing, .timeout = 120) {
    run_model(1);
    rw_graph_prefetch_account(NULL, "a", 1);
    rw_graph_prefetch_attr(NULL, RW_KIND_IP, NULL);
    rw_graph_prefetch_node(NULL, 0);
    /* on an empty graph, and across the first index allocation */
    rw_graph *g = mkgraph();
    rw_hash h = mkhash(1);
    rw_graph_prefetch_account(g, "a", 1);
    rw_graph_prefetch_attr(g, RW_KIND_IP, &h);
    rw_graph_prefetch_node(g, 0);
    uint32_t a = add_account(g, "a", 0), ip = add_attr(g, RW_KIND_IP, 1, RW_NODE_NONE, 0);
    for (int i = 0; i < 40; i++) {
        rw_graph_prefetch_account(g, "a", 1);
        rw_graph_prefetch_attr(g, RW_KIND_IP, &h);
        rw_graph_prefetch_node(g, (uint32_t)i % 3);
    }
    cr_assert_eq(rw_graph_find_account(g, "a", 1), a);
    cr_assert_eq(rw_graph_find_attr(g, RW_KIND_IP, &h), ip);
    cr_assert_eq(observe(g, a, ip, 5), 1);
    rw_graph_free(g);
}

Test(graph, long_ids_stay_put) {
    enum { N = 20000 };
    rw_graph *g = mkgraph();
    const char *ptr[N];
    char id[64];
    for (uint32_t i = 0; i < N; i++) {
        /* 36 bytes, like a UUID, so they spill out of the node records */
        snprintf(id, sizeof id, "%08x-0000-4000-8000-%012u", i * 2654435761u, i);
        cr_assert_eq(add_account(g, id, i), i);
        ptr[i] = rw_graph_account_id(g, i, NULL);
    }
    for (uint32_t i = 0; i < N; i++) {
        snprintf(id, sizeof id, "%08x-0000-4000-8000-%012u", i * 2654435761u, i);
        size_t len = 0;
        if (rw_graph_find_account(g, id, 36) != i) cr_assert_fail("id %u not found", i);
        if (rw_graph_account_id(g, i, &len) != ptr[i] || len != 36 || strcmp(ptr[i], id) != 0)
            cr_assert_fail("id %u moved or changed", i);
        id[35] ^= 1;
        if (rw_graph_find_account(g, id, 36) == i) cr_assert_fail("id %u found by another", i);
        if (rw_graph_find_account(g, id, 35) != RW_NODE_NONE) cr_assert_fail("prefix of id %u found", i);
    }
    rw_graph_free(g);
}

Test(graph, reserve_sizes_the_indexes) {
    enum { N = 50000 };
    rw_graph *g = mkgraph();
    rw_err err = {{0}};
    cr_assert_eq(rw_graph_reserve(g, 0, 0, &err), RW_OK);
    uint32_t first = add_account(g, "first", 0);
    cr_assert_eq(rw_graph_reserve(g, N, 2 * N, &err), RW_OK, "%s", err.msg);
    size_t before = rw_graph_memory(g);
    char id[32];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(id, sizeof id, "acct-%u", i);
        add_account(g, id, i);
        add_attr(g, RW_KIND_DEVICE, 2 * i, RW_NODE_NONE, i);
        add_attr(g, RW_KIND_PAYMENT, 2 * i + 1, RW_NODE_NONE, i);
    }
    /* nothing but the nodes themselves was allocated: no index grew */
    size_t nodes = (size_t)3 * N * 32;
    cr_assert_lt(rw_graph_memory(g) - before, nodes + nodes / 8);
    cr_assert_eq(rw_graph_find_account(g, "first", 5), first);
    for (uint32_t i = 0; i < N; i += 7) {
        snprintf(id, sizeof id, "acct-%u", i);
        rw_hash h = mkhash(2 * i + 1);
        cr_assert_eq(rw_graph_find_account(g, id, strlen(id)), 1 + 3 * i);
        cr_assert_eq(rw_graph_find_attr(g, RW_KIND_PAYMENT, &h), 3 + 3 * i);
    }
    rw_graph_free(g);
}

/* Adds n accounts, each with a hub (when not NONE) and its own device and
 * card; with edges 0 only the nodes, so that the memory difference between
 * two such graphs is what the adjacency takes. */
static void add_customers(rw_graph *g, uint32_t base, uint32_t n, uint32_t hub, int edges) {
    char id[32];
    for (uint32_t i = base; i < base + n; i++) {
        snprintf(id, sizeof id, "acct-%07u", i);
        uint32_t a = add_account(g, id, i);
        uint32_t dev = add_attr(g, RW_KIND_DEVICE, 2 * i, RW_NODE_NONE, i);
        uint32_t pay = add_attr(g, RW_KIND_PAYMENT, 2 * i + 1, RW_NODE_NONE, i);
        if (!edges) continue;
        if (hub != RW_NODE_NONE) cr_assert_eq(observe(g, a, hub, i), 1);
        cr_assert_eq(observe(g, a, dev, i), 1);
        cr_assert_eq(observe(g, a, pay, i), 1);
    }
}

Test(graph, hub_grows_through_size_classes_and_blocks_are_reused) {
    enum { N = 100000 };
    rw_graph *g = mkgraph(), *nodes_only = mkgraph();
    uint32_t hub[2];
    for (int h = 0; h < 2; h++) {
        hub[h] = add_attr(g, RW_KIND_IP, 1000000 + h, RW_NODE_NONE, 0);
        add_attr(nodes_only, RW_KIND_IP, 1000000 + h, RW_NODE_NONE, 0);
    }
    /* Each hub takes 100000 accounts, growing through every size class up to
     * the huge ones; every account grows from 4 to 8 to 12 words. */
    size_t adj[2];
    for (int h = 0; h < 2; h++) {
        add_customers(g, h * N, N, hub[h], 1);
        add_customers(nodes_only, h * N, N, RW_NODE_NONE, 0);
        adj[h] = rw_graph_memory(g) - rw_graph_memory(nodes_only);
    }
    cr_assert_eq(rw_graph_node_count(g), rw_graph_node_count(nodes_only));
    for (int h = 0; h < 2; h++) {
        uint32_t n = 0;
        const uint32_t *acc = rw_graph_attr_accounts(g, hub[h], &n);
        cr_assert_eq(n, N);
        cr_assert_eq(rw_graph_degree(g, hub[h]), N);
        for (uint32_t i = 0; i < N; i++) {
            if (acc[i] != 2 + 3 * (h * N + i)) cr_assert_fail("hub %d entry %u is %u", h, i, acc[i]);
        }
        double v[RW_VEL_COUNT];
        rw_graph_velocity(g, hub[h], (h + 1) * N, v);
        cr_assert_gt(v[RW_VEL_WEEK], 0.8 * N);
    }
    for (uint32_t i = 0; i < 2 * N; i += 997) {
        uint32_t n = 0, a = 2 + 3 * i;
        const rw_edge *e = rw_graph_account_edges(g, a, &n);
        cr_assert_eq(n, 3);
        cr_assert_eq(e[0].attr, hub[i / N]);
        cr_assert_eq(e[1].attr, a + 1);
        cr_assert_eq(e[2].attr, a + 2);
        cr_assert_eq(rw_graph_attr_accounts(g, a + 1, &n)[0], a);
    }
    /* The entries need 16 bytes per edge on the account side and 4 per hub
     * entry (devices and cards of degree 1 keep theirs inline). Without reuse,
     * each account would leave 4- and 8-word blocks behind (48 bytes more per
     * account) and each hub its old blocks. The second hub reuses the first
     * one's: the total grows by the same amount again, not more. */
    size_t need = (size_t)rw_graph_edge_count(g) * sizeof(rw_edge) + 2 * N * sizeof(uint32_t);
    printf("hub test: adjacency %.2f MB after one hub, %.2f MB after two, for %.2f MB of entries (%.3fx)\n",
           adj[0] / 1e6, adj[1] / 1e6, need / 1e6, (double)adj[1] / (double)need);
    cr_assert_lt(adj[1], need * 11 / 10);
    cr_assert_lt(adj[1] - adj[0], adj[0] * 21 / 20);
    rw_graph_free(g);
    rw_graph_free(nodes_only);
}

Test(graph, index_grows_to_a_million_accounts) {
    enum { N = 1000000 };
    rw_graph *g = mkgraph();
    char id[32];
    for (uint32_t i = 0; i < N; i++) {
        int len = snprintf(id, sizeof id, "user%u", i * 7919u);
        uint32_t v;
        cr_assert_eq(rw_graph_add_account(g, &v, id, (size_t)len, i, NULL), RW_OK);
        if (v != i) cr_assert_fail("id %u for account %u", v, i);
    }
    for (uint32_t i = 0; i < N; i++) {
        int len = snprintf(id, sizeof id, "user%u", i * 7919u);
        if (rw_graph_find_account(g, id, (size_t)len) != i) cr_assert_fail("account %u not found", i);
        len = snprintf(id, sizeof id, "user%u", i * 7919u + 1);
        if (rw_graph_find_account(g, id, (size_t)len) != RW_NODE_NONE) cr_assert_fail("phantom account %u", i);
    }
    size_t len = 0;
    const char *s = rw_graph_account_id(g, N - 1, &len);
    snprintf(id, sizeof id, "user%u", (N - 1) * 7919u);
    cr_assert_eq(len, strlen(id));
    cr_assert_str_eq(s, id);
    cr_assert_eq(rw_graph_kind_count(g, RW_KIND_ACCOUNT), N);
    rw_graph_free(g);
}

Test(graph, attribute_index_grows_and_pointers_stay_valid) {
    enum { N = 200000 };
    rw_graph *g = mkgraph();
    /* graph.h promises hashes and account ids stay where they are until the
     * graph is freed, however much it grows */
    uint32_t first_attr = add_attr(g, RW_KIND_SUBNET, 7, RW_NODE_NONE, 0);
    uint32_t first_acct = add_account(g, "first", 0);
    const rw_hash *h0 = rw_graph_attr_hash(g, first_attr);
    const char *id0 = rw_graph_account_id(g, first_acct, NULL);
    char id[32];
    for (uint32_t i = 0; i < N; i++) {
        rw_hash h = mkhash(i);
        uint32_t v;
        cr_assert_eq(rw_graph_add_attr(g, &v, (rw_kind)(1 + i % 3), &h, RW_NODE_NONE, 0, NULL), RW_OK);
        if (i % 4 == 0) {
            snprintf(id, sizeof id, "a%u", i);
            add_account(g, id, 0);
        }
    }
    for (uint32_t i = 0; i < N; i++) {
        rw_hash h = mkhash(i);
        uint32_t v = rw_graph_find_attr(g, (rw_kind)(1 + i % 3), &h);
        if (rw_graph_kind(g, v) != (rw_kind)(1 + i % 3)) cr_assert_fail("attribute %u not found", i);
        if (memcmp(rw_graph_attr_hash(g, v), &h, sizeof h) != 0) cr_assert_fail("hash of %u", i);
        if (rw_graph_find_attr(g, (rw_kind)(1 + (i + 1) % 3), &h) != RW_NODE_NONE) cr_assert_fail("wrong kind %u", i);
    }
    rw_hash h7 = mkhash(7);
    cr_assert_eq(rw_graph_attr_hash(g, first_attr), h0);
    cr_assert_eq(memcmp(h0, &h7, sizeof h7), 0);
    cr_assert_eq(rw_graph_account_id(g, first_acct, NULL), id0);
    cr_assert_str_eq(id0, "first");
    rw_graph_free(g);
}

Test(graph, invalid_ids_do_not_crash) {
    rw_graph *g = mkgraph();
    uint32_t a = add_account(g, "a", 0);
    uint32_t s = add_attr(g, RW_KIND_SUBNET, 1, RW_NODE_NONE, 0);
    uint32_t ip = add_attr(g, RW_KIND_IP, 2, s, 0);
    int is_new = 5;
    rw_err err = {{0}};
    const uint32_t bad[] = {3, 1000, RW_NODE_NONE, UINT32_MAX - 1};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(rw_graph_observe(g, &is_new, bad[i], ip, 0, &err), RW_ERR_INVALID);
        cr_assert_eq(is_new, 0);
        cr_assert_eq(rw_graph_observe(g, &is_new, a, bad[i], 0, &err), RW_ERR_INVALID);
        cr_assert_eq(rw_graph_kind(g, bad[i]), RW_KIND_COUNT);
        cr_assert_eq(rw_graph_degree(g, bad[i]), 0);
        cr_assert_eq(rw_graph_first_seen(g, bad[i]), 0);
        cr_assert_eq(rw_graph_last_seen(g, bad[i]), 0);
        cr_assert_eq(rw_graph_parent(g, bad[i]), RW_NODE_NONE);
        size_t len = 9;
        cr_assert_null(rw_graph_account_id(g, bad[i], &len));
        cr_assert_eq(len, 0);
        cr_assert_null(rw_graph_attr_hash(g, bad[i]));
        uint32_t n = 9;
        cr_assert_null(rw_graph_account_edges(g, bad[i], &n));
        cr_assert_eq(n, 0);
        cr_assert_null(rw_graph_attr_accounts(g, bad[i], &n));
        double v[RW_VEL_COUNT] = {1, 1, 1};
        rw_graph_velocity(g, bad[i], 0, v);
        cr_assert_eq(v[0] + v[1] + v[2], 0.0);
        rw_graph_touch(g, bad[i], 5);
    }
    /* wrong kinds: an attribute as the account, an account or a subnet as the attribute */
    cr_assert_eq(rw_graph_observe(g, &is_new, ip, ip, 0, &err), RW_ERR_INVALID);
    cr_assert_eq(rw_graph_observe(g, &is_new, a, a, 0, &err), RW_ERR_INVALID);
    cr_assert_eq(rw_graph_observe(g, &is_new, a, s, 0, &err), RW_ERR_INVALID);
    cr_assert_neq(err.msg[0], 0);
    cr_assert_null(rw_graph_account_id(g, ip, NULL));
    cr_assert_null(rw_graph_attr_hash(g, a));
    cr_assert_null(rw_graph_account_edges(g, ip, NULL));
    cr_assert_null(rw_graph_attr_accounts(g, a, NULL));
    cr_assert_eq(rw_graph_edge_count(g), 0);
    cr_assert_eq(rw_graph_observe(g, NULL, a, ip, 0, &err), RW_OK);
    cr_assert_eq(rw_graph_edge_count(g), 1);
    /* a NULL graph is answered like an empty one */
    cr_assert_eq(rw_graph_node_count(NULL), 0);
    cr_assert_eq(rw_graph_find_account(NULL, "a", 1), RW_NODE_NONE);
    cr_assert_eq(rw_graph_memory(NULL), 0);
    rw_graph_free(g);
}

static double weight_of(void *ctx, const rw_graph *g, uint32_t account, const rw_edge *e) {
    (void)g;
    *(int *)ctx += 1;
    return (double)account * 100.0 + (double)e->count;
}

Test(graph, to_igraph) {
    igraph_set_error_handler(igraph_error_handler_printignore);
    rw_graph *g = mkgraph();
    uint32_t ip = add_attr(g, RW_KIND_IP, 1, RW_NODE_NONE, 0);
    uint32_t a = add_account(g, "a", 0);
    uint32_t dev = add_attr(g, RW_KIND_DEVICE, 2, RW_NODE_NONE, 0);
    uint32_t b = add_account(g, "b", 0);
    add_attr(g, RW_KIND_SUBNET, 3, RW_NODE_NONE, 0); /* isolated vertex */
    observe(g, b, ip, 1);
    observe(g, a, dev, 1);
    observe(g, a, ip, 2);
    observe(g, a, dev, 3);

    igraph_t ig;
    double w[3];
    int calls = 0;
    rw_err err = {{0}};
    cr_assert_eq(rw_graph_to_igraph(g, &ig, w, weight_of, &calls, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(igraph_vcount(&ig), 5);
    cr_assert_eq(igraph_ecount(&ig), 3);
    cr_assert(!igraph_is_directed(&ig));
    cr_assert_eq(calls, 3);
    /* account order: a's edges (dev, ip), then b's (ip) */
    const igraph_integer_t want[3][2] = {{a, dev}, {a, ip}, {b, ip}};
    for (igraph_integer_t e = 0; e < 3; e++) {
        igraph_integer_t from, to;
        cr_assert_eq(igraph_edge(&ig, e, &from, &to), IGRAPH_SUCCESS);
        cr_assert_eq(from < to ? from : to, want[e][0] < want[e][1] ? want[e][0] : want[e][1]);
        cr_assert_eq(from < to ? to : from, want[e][0] < want[e][1] ? want[e][1] : want[e][0]);
    }
    cr_assert_eq(w[0], a * 100.0 + 2);
    cr_assert_eq(w[1], a * 100.0 + 1);
    cr_assert_eq(w[2], b * 100.0 + 1);
    igraph_destroy(&ig);

    /* no weight function: 1.0; no weights array: fine too */
    cr_assert_eq(rw_graph_to_igraph(g, &ig, w, NULL, NULL, &err), RW_OK);
    cr_assert_eq(w[0] + w[1] + w[2], 3.0);
    igraph_destroy(&ig);
    cr_assert_eq(rw_graph_to_igraph(g, &ig, NULL, weight_of, &calls, &err), RW_OK);
    cr_assert_eq(calls, 3);
    igraph_destroy(&ig);
    rw_graph_free(g);

    g = mkgraph();
    cr_assert_eq(rw_graph_to_igraph(g, &ig, NULL, NULL, NULL, &err), RW_OK);
    cr_assert_eq(igraph_vcount(&ig), 0);
    igraph_destroy(&ig);
    rw_graph_free(g);
}

/* A synthetic world shaped like the target one (1M accounts, about 1.7M
 * attributes, 3 to 5M edges), scaled to 300k accounts with about 3 edges each:
 * every signup carries an IP (households share, a few NAT hubs), a device
 * and a card; a tenth of the accounts also log in from a second IP. This is
 * the hard end of the range: the fixed 16 bytes per edge, 32 per node and
 * about 10 per index key are most of the 64 (the index doubles, so its load
 * is between 42 and 85%; here the account index has just doubled), and each
 * 0.1 more attributes per account costs about 1.4 bytes per edge. */
static uint32_t find_or_add(rw_graph *g, rw_kind kind, uint64_t x, uint32_t parent, int64_t ts) {
    rw_hash h = mkhash(x * 8 + (uint64_t)kind);
    uint32_t v = rw_graph_find_attr(g, kind, &h);
    if (v != RW_NODE_NONE) return v;
    cr_assert_eq(rw_graph_add_attr(g, &v, kind, &h, parent, ts, NULL), RW_OK);
    return v;
}

static uint64_t next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static uint32_t ip_node(rw_graph *g, uint64_t *s, int64_t ts) {
    uint64_t ip = next(s) % 100 == 0 ? next(s) % 50 : 50 + next(s) % 200000;
    uint32_t subnet = find_or_add(g, RW_KIND_SUBNET, ip / 4, RW_NODE_NONE, ts);
    return find_or_add(g, RW_KIND_IP, ip, subnet, ts);
}

Test(graph, memory_per_edge, .timeout = 120) {
    enum { N = 300000 };
    rw_graph *g = mkgraph();
    uint64_t s = 88172645463325252ull;
    char id[32];
    int64_t t0 = 1790000000;
    double start = rw_now();
    uint64_t observes = 0;
    for (uint32_t i = 0; i < N; i++) {
        int64_t ts = t0 + i * 8;
        snprintf(id, sizeof id, "acct-%07u", i);
        uint32_t acct = add_account(g, id, ts);
        uint32_t attrs[4] = {ip_node(g, &s, ts), find_or_add(g, RW_KIND_DEVICE, next(&s) % 210000, RW_NODE_NONE, ts),
                             find_or_add(g, RW_KIND_PAYMENT, next(&s) % 180000, RW_NODE_NONE, ts), RW_NODE_NONE};
        if (next(&s) % 10 == 0) attrs[3] = ip_node(g, &s, ts + 3600);
        for (int k = 0; k < 4; k++) {
            if (attrs[k] == RW_NODE_NONE) continue;
            observe(g, acct, attrs[k], ts);
            observe(g, acct, attrs[k], ts + 60);
            observes += 2;
        }
    }
    double secs = rw_now() - start;
    uint64_t edges = rw_graph_edge_count(g);
    uint32_t attrs = rw_graph_node_count(g) - N;
    double per_edge = (double)rw_graph_memory(g) / (double)edges;
    printf("memory test: %u accounts, %u attributes (%.2f per account: ip %u, subnet %u, device %u, payment %u), "
           "%llu edges (%.2f per account): %.1f MB, %.1f bytes/edge; %.0f ns per observe call incl. lookups, adds and "
           "generating events\n",
           (unsigned)N, attrs, (double)attrs / N, rw_graph_kind_count(g, RW_KIND_IP),
           rw_graph_kind_count(g, RW_KIND_SUBNET), rw_graph_kind_count(g, RW_KIND_DEVICE),
           rw_graph_kind_count(g, RW_KIND_PAYMENT), (unsigned long long)edges, (double)edges / N,
           rw_graph_memory(g) / 1e6, per_edge, secs * 1e9 / (double)observes);
    cr_assert_leq(per_edge, 64.0);
    rw_graph_free(g);
}

/* Adds accounts [from, to), each on a shared IP and a device of its own. */
static void add_accounts(rw_graph *g, uint32_t ip, int from, int to) {
    for (int i = from; i < to; i++) {
        char id[32];
        snprintf(id, sizeof id, "snap-%d", i);
        uint32_t a = add_account(g, id, 100 + i);
        observe(g, a, ip, 100 + i);
        observe(g, a, add_attr(g, RW_KIND_DEVICE, 5000 + (uint64_t)i, RW_NODE_NONE, 100 + i), 100 + i);
    }
}

/* A subnet, an IP in it, and accounts 0..n-1 on it; the IP. */
static uint32_t snap_world(rw_graph *g, int n) {
    uint32_t sub = add_attr(g, RW_KIND_SUBNET, 1, RW_NODE_NONE, 100);
    uint32_t ip = add_attr(g, RW_KIND_IP, 2, sub, 100);
    add_accounts(g, ip, 0, n);
    return ip;
}

/* Every node and account edge of s as the accessors say. */
static void assert_like_accessors(const rw_graph *g, const rw_graph_snap *s) {
    cr_assert_eq(s->n, rw_graph_node_count(g));
    cr_assert_eq(s->m, rw_graph_edge_count(g));
    uint64_t j = 0;
    for (uint32_t v = 0; v < s->n; v++) {
        cr_assert_eq(s->kind[v], (uint8_t)rw_graph_kind(g, v), "node %u", v);
        cr_assert_eq(rw_graph_snap_degree(s, v), rw_graph_degree(g, v), "node %u", v);
        cr_assert_eq(s->parent[v], rw_graph_parent(g, v), "node %u", v);
        cr_assert_eq(s->first_seen[v], (uint32_t)rw_graph_first_seen(g, v), "node %u", v);
        cr_assert_eq(s->last_seen[v], (uint32_t)rw_graph_last_seen(g, v), "node %u", v);
        uint32_t k = 0;
        const rw_edge *e = rw_graph_account_edges(g, v, &k);
        for (uint32_t i = 0; i < k; i++, j++) {
            cr_assert_eq(s->edge_account[j], v, "edge %llu", (unsigned long long)j);
            cr_assert_eq(s->edges[j].attr, e[i].attr, "edge %llu", (unsigned long long)j);
        }
    }
    cr_assert_eq(j, s->m);
}

static void assert_same_snapshot(const rw_graph_snap *a, const rw_graph_snap *b) {
    cr_assert_eq(a->n, b->n);
    cr_assert_eq(a->m, b->m);
    cr_assert_eq(memcmp(a->kind, b->kind, a->n), 0);
    cr_assert_eq(memcmp(a->first_seen, b->first_seen, a->n * sizeof(uint32_t)), 0);
    cr_assert_eq(memcmp(a->parent, b->parent, a->n * sizeof(uint32_t)), 0);
    cr_assert_eq(memcmp(a->off, b->off, (a->n + 1) * sizeof(uint64_t)), 0);
    cr_assert_eq(memcmp(a->nbr, b->nbr, 2 * a->m * sizeof(uint32_t)), 0);
    cr_assert_eq(memcmp(a->edge_account, b->edge_account, a->m * sizeof(uint32_t)), 0);
    for (uint64_t j = 0; j < a->m; j++) cr_assert_eq(a->edges[j].attr, b->edges[j].attr);
}

/* Room reserved before the lock, filled under it: the same snapshot as a
 * direct copy, whether the graph stayed within the room or outgrew it. */
Test(graph, reserved_snapshot_fills_like_a_copy) {
    rw_graph *g = mkgraph();
    rw_err err = {{0}};
    uint32_t ip = snap_world(g, 50);
    rw_graph_snap *roomy = NULL, *tight = NULL, *direct = NULL;
    cr_assert_eq(rw_graph_snap_reserve(&roomy, rw_graph_node_count(g) + 1000, rw_graph_edge_count(g) + 1000, &err),
                 RW_OK, "%s", err.msg);
    cr_assert_eq(rw_graph_snap_reserve(&tight, rw_graph_node_count(g), rw_graph_edge_count(g), &err), RW_OK, "%s",
                 err.msg);
    add_accounts(g, ip, 50, 400); /* signups between the reservation and the lock */
    cr_assert_eq(rw_graph_snapshot_fill(g, roomy, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_graph_snapshot_fill(g, tight, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_graph_snap_index(roomy, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_graph_snap_index(tight, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_graph_snapshot(g, &direct, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(direct->n, 2 + 400 * 2);
    cr_assert_eq(direct->m, 800);
    cr_assert_eq(rw_graph_snap_degree(direct, ip), 400);
    assert_like_accessors(g, direct);
    assert_same_snapshot(roomy, direct);
    assert_same_snapshot(tight, direct);
    rw_graph_snap_free(roomy);
    rw_graph_snap_free(tight);
    rw_graph_snap_free(direct);
    rw_graph_free(g);
}

/* From 65,536 nodes on, the snapshot copies the nodes on a thread of its
 * own beside the edges: the same answers as the accessors. */
Test(graph, large_snapshot_copies_nodes_beside_edges) {
    rw_graph *g = mkgraph();
    rw_err err = {{0}};
    snap_world(g, 40000);
    rw_graph_snap *s = NULL;
    cr_assert_eq(rw_graph_snapshot(g, &s, &err), RW_OK, "%s", err.msg);
    cr_assert_gt(s->n, 65536);
    assert_like_accessors(g, s);
    rw_graph_snap_free(s);
    rw_graph_free(g);
}

/* Without its index the graph copies into the same snapshot; trimmed, a
 * snapshot keeps what writing a run reads: kinds, offsets, neighbours. */
Test(graph, snapshot_without_the_index_and_trimmed) {
    rw_graph *g = mkgraph();
    rw_err err = {{0}};
    uint32_t ip = snap_world(g, 50);
    add_accounts(g, ip, 50, 400);
    rw_graph_snap *before = NULL, *after = NULL;
    cr_assert_eq(rw_graph_snapshot(g, &before, &err), RW_OK, "%s", err.msg);
    rw_graph_drop_index(g);
    cr_assert_eq(rw_graph_snapshot(g, &after, &err), RW_OK, "%s", err.msg);
    assert_same_snapshot(before, after);
    rw_graph_snap_trim(after);
    cr_assert(!after->first_seen && !after->last_seen && !after->parent && !after->eid && !after->edge_account &&
              !after->edges && !after->glue);
    cr_assert_eq(after->n, before->n);
    cr_assert_eq(memcmp(after->kind, before->kind, before->n), 0);
    cr_assert_eq(memcmp(after->off, before->off, (before->n + 1) * sizeof(uint64_t)), 0);
    cr_assert_eq(memcmp(after->nbr, before->nbr, 2 * before->m * sizeof(uint32_t)), 0);
    cr_assert_eq(rw_graph_snap_degree(after, ip), 400);
    rw_graph_snap_free(before);
    rw_graph_snap_free(after);
    rw_graph_free(g);
}
