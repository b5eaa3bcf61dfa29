/* The graph's lookup path, by itself: builds a world of the given size
 * (accounts, three attributes each drawn from pools a third as large, so
 * attributes are shared) the way ingest does (find, add when missing,
 * observe), then looks up every account and attribute in a shuffled order,
 * plus as many misses. Prints the build rate and ns per lookup; for
 * comparing builds of graph/ (alternate them: the machine is shared).
 *   bench_graph [ACCOUNTS (200000)] [ROUNDS (5)] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void hash_of(rw_hash *h, unsigned kind, uint32_t i) {
    uint64_t x = (uint64_t)kind << 40 | i, y = x * 0x9e3779b97f4a7c15ull;
    memcpy(h->b, &x, 8);
    memcpy(h->b + 8, &y, 8);
}

static int name_of(char *out, size_t size, uint32_t i) {
    return snprintf(out, size, "acct-%08u-%u", i, i * 2654435761u);
}

static const rw_kind kinds[3] = {RW_KIND_IP, RW_KIND_DEVICE, RW_KIND_PAYMENT};

static rw_status build(rw_graph *g, uint32_t n, rw_err *err) {
    uint32_t pool = n / 3 + 1;
    for (uint32_t i = 0; i < n; i++) {
        char name[64];
        int len = name_of(name, sizeof name, i);
        uint32_t a = rw_graph_find_account(g, name, (size_t)len);
        rw_status st = a == RW_NODE_NONE ? rw_graph_add_account(g, &a, name, (size_t)len, i, err) : RW_OK;
        for (int k = 0; st == RW_OK && k < 3; k++) {
            rw_hash h;
            hash_of(&h, (unsigned)k, (uint32_t)(next() % pool));
            uint32_t v = rw_graph_find_attr(g, kinds[k], &h);
            if (v == RW_NODE_NONE) st = rw_graph_add_attr(g, &v, kinds[k], &h, RW_NODE_NONE, i, err);
            int is_new = 0;
            if (st == RW_OK) st = rw_graph_observe(g, &is_new, a, v, i, err);
        }
        if (st != RW_OK) return st;
    }
    return RW_OK;
}

/* ns per lookup over every account (shuffled), as many misses and as many
 * attributes; the keys are made beforehand. */
typedef struct {
    char (*name)[32]; /* hits, then misses */
    int *len;
    rw_hash *hash;
} keys;

static int make_keys(keys *k, const uint32_t *order, uint32_t n) {
    k->name = malloc(2 * (size_t)n * sizeof *k->name);
    k->len = malloc(2 * (size_t)n * sizeof *k->len);
    k->hash = malloc((size_t)n * sizeof *k->hash);
    if (!k->name || !k->len || !k->hash) return -1;
    for (uint32_t j = 0; j < n; j++) {
        k->len[2 * j] = name_of(k->name[2 * j], sizeof k->name[0], order[j]);
        k->len[2 * j + 1] = name_of(k->name[2 * j + 1], sizeof k->name[0], n + order[j]);
        hash_of(&k->hash[j], j % 3, order[j] / 3);
    }
    return 0;
}

static double lookups(const rw_graph *g, const keys *k, uint32_t n, uint64_t *found) {
    double t0 = now();
    for (uint32_t j = 0; j < n; j++) {
        *found += rw_graph_find_account(g, k->name[2 * j], (size_t)k->len[2 * j]) != RW_NODE_NONE;
        *found += rw_graph_find_account(g, k->name[2 * j + 1], (size_t)k->len[2 * j + 1]) != RW_NODE_NONE;
        *found += rw_graph_find_attr(g, kinds[j % 3], &k->hash[j]) != RW_NODE_NONE;
    }
    return (now() - t0) * 1e9 / (3.0 * n);
}

int main(int argc, char **argv) {
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 200000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    rw_graph *g = NULL;
    rw_err err = {{0}};
    if (n == 0 || rw_graph_create(&g, &err) != RW_OK) return 1;
    double t0 = now();
    if (build(g, n, &err) != RW_OK) {
        fprintf(stderr, "bench_graph: %s\n", err.msg);
        return 1;
    }
    double built = now() - t0;
    uint32_t *order = malloc(n * sizeof *order);
    if (!order) return 1;
    for (uint32_t i = 0; i < n; i++) order[i] = i;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(next() % (i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    printf("build: %u accounts, %u nodes, %llu edges in %.3f s (%.0f accounts/s)\n", n, rw_graph_node_count(g),
           (unsigned long long)rw_graph_edge_count(g), built, n / built);
    keys k = {0};
    if (make_keys(&k, order, n) != 0) return 1;
    uint64_t found = 0;
    for (int r = 0; r < rounds; r++) printf("lookup round %d: %.1f ns\n", r + 1, lookups(g, &k, n, &found));
    printf("found %llu\n", (unsigned long long)found);
    free(k.name);
    free(k.len);
    free(k.hash);
    free(order);
    rw_graph_free(g);
    return 0;
}
