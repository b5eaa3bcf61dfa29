/* Snapshot of the graph in compressed sparse rows, for the batch detectors
 * to work on without holding the writer's lock. */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "graph.h"

void rw_graph_snap_trim(rw_graph_snap *s) {
    free(s->first_seen), free(s->last_seen), free(s->parent), free(s->eid), free(s->edge_account), free(s->edges);
    free(s->glue);
    s->first_seen = s->last_seen = s->parent = s->eid = s->edge_account = NULL;
    s->edges = NULL;
    s->glue = NULL;
}

void rw_graph_snap_free(rw_graph_snap *s) {
    if (!s) return;
    free(s->kind);
    free(s->first_seen);
    free(s->last_seen);
    free(s->parent);
    free(s->off);
    free(s->nbr);
    free(s->eid);
    free(s->edge_account);
    free(s->edges);
    free(s->degree);
    free(s->glue);
    free(s);
}

/* Large arrays go on transparent huge pages where the kernel offers them
 * (madvise mode): on a virtual machine each first touch of a 4 KiB page
 * costs microseconds, and a snapshot at a million accounts is 30,000 of
 * them. */
#define HUGE_PAGE (2u << 20)

static void *big_alloc(size_t size) {
    if (size < 2 * HUGE_PAGE) return malloc(size ? size : 1);
    size_t rounded = (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *p = aligned_alloc(HUGE_PAGE, rounded);
    if (p) madvise(p, rounded, MADV_HUGEPAGE); /* advice only: fine if refused */
    return p;
}

/* Grows *p from old to want elements of size bytes (a no-op when it fits);
 * -1 when out of memory (*p unchanged). */
static int grow(void **p, size_t size, uint64_t old, uint64_t want) {
    if (want <= old) return 0;
    void *q = big_alloc(want * size);
    if (!q) return -1;
    if (*p) memcpy(q, *p, old * size);
    free(*p);
    *p = q;
    return 0;
}

/* The arrays a copy fills: one element per node (n + 1 of them, for off)
 * or per edge (m + 1). */
typedef struct {
    size_t field; /* offset of the array's pointer in rw_graph_snap */
    size_t size;  /* of an element */
    int per_edge;
} copied_array;

static const copied_array copied[] = {
    {offsetof(rw_graph_snap, kind), sizeof(uint8_t), 0},
    {offsetof(rw_graph_snap, first_seen), sizeof(uint32_t), 0},
    {offsetof(rw_graph_snap, last_seen), sizeof(uint32_t), 0},
    {offsetof(rw_graph_snap, parent), sizeof(uint32_t), 0},
    {offsetof(rw_graph_snap, off), sizeof(uint64_t), 0},
    {offsetof(rw_graph_snap, edge_account), sizeof(uint32_t), 1},
    {offsetof(rw_graph_snap, edges), sizeof(rw_edge), 1},
};
#define NCOPIED (sizeof copied / sizeof copied[0])

static void **array_of(rw_graph_snap *s, const copied_array *a) {
    return (void **)(void *)((char *)s + a->field);
}

/* Makes room for n nodes and m edges (one more of each: off has n + 1). */
static int snap_room(rw_graph_snap *s, uint32_t n, uint64_t m) {
    uint64_t have[2] = {s->cap_n ? (uint64_t)s->cap_n + 1 : 0, s->cap_m ? s->cap_m + 1 : 0};
    uint64_t want[2] = {(uint64_t)n + 1, m + 1};
    for (size_t i = 0; i < NCOPIED; i++)
        if (grow(array_of(s, &copied[i]), copied[i].size, have[copied[i].per_edge], want[copied[i].per_edge]))
            return -1;
    if (n > s->cap_n) s->cap_n = n;
    if (m > s->cap_m) s->cap_m = m;
    return 0;
}

/* Room for n nodes and m edges; with touch, every page written once (so
 * that a copy made later, under a lock, does not fault). */
static rw_status snap_alloc(rw_graph_snap **out, uint32_t n, uint64_t m, int touch, rw_err *err) {
    *out = NULL;
    rw_graph_snap *s = calloc(1, sizeof *s);
    if (!s || snap_room(s, n, m) != 0) {
        rw_graph_snap_free(s);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for a snapshot of %u nodes and %llu edges", n,
                       (unsigned long long)m);
    }
    *out = s;
    for (size_t i = 0; touch && i < NCOPIED; i++)
        memset(*array_of(s, &copied[i]), 0, (copied[i].per_edge ? m + 1 : (uint64_t)n + 1) * copied[i].size);
    return RW_OK;
}

rw_status rw_graph_snap_reserve(rw_graph_snap **out, uint32_t n, uint64_t m, rw_err *err) {
    return snap_alloc(out, n, m, 1, err);
}

/* Below this many nodes a thread costs more than the copy. */
#define PARALLEL_NODES 65536

typedef struct {
    const rw_graph *g;
    rw_graph_arrays a;
} copy_job;

static void *copy_nodes_main(void *arg) {
    copy_job *j = arg;
    rw_graph_copy(j->g, &j->a);
    return NULL;
}

rw_status rw_graph_snapshot_fill(const rw_graph *g, rw_graph_snap *s, rw_err *err) {
    uint32_t n = rw_graph_node_count(g);
    uint64_t m = rw_graph_edge_count(g);
    /* Grown more than the caller's slack since it reserved: grow here. */
    if (snap_room(s, n, m) != 0)
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for a snapshot of %u nodes and %llu edges", n,
                       (unsigned long long)m);
    s->n = n;
    s->m = m;
    s->off[0] = 0;
    /* Node fields and degrees (into off[v + 1]) on a thread of their own,
     * beside the edges (numbered in account order): two readers of the
     * graph whose outputs do not overlap, so the writers wait for the
     * longer of the two instead of both (at a million accounts 50-57 ms
     * instead of 75-97). */
    copy_job nodes = {g, {s->kind, s->first_seen, s->last_seen, s->parent, s->off + 1, NULL, NULL, 0}};
    rw_graph_arrays edges = {NULL, NULL, NULL, NULL, NULL, s->edges, s->edge_account, m};
    pthread_t t;
    int threaded = n >= PARALLEL_NODES && pthread_create(&t, NULL, copy_nodes_main, &nodes) == 0;
    if (!threaded) rw_graph_copy(g, &nodes.a);
    uint64_t j = rw_graph_copy(g, &edges);
    if (threaded) pthread_join(t, NULL);
    if (j != m)
        return rw_fail(err, RW_ERR_INTERNAL, "snapshot: edge counts disagree (%llu vs %llu)", (unsigned long long)j,
                       (unsigned long long)m);
    return RW_OK;
}

rw_status rw_graph_snapshot_copy(const rw_graph *g, rw_graph_snap **out, rw_err *err) {
    /* Filled at once: touching the room first would only write it twice. */
    rw_status st = snap_alloc(out, rw_graph_node_count(g), rw_graph_edge_count(g), 0, err);
    if (st == RW_OK && (st = rw_graph_snapshot_fill(g, *out, err)) != RW_OK) {
        rw_graph_snap_free(*out);
        *out = NULL;
    }
    return st;
}

rw_status rw_graph_snap_index(rw_graph_snap *s, rw_err *err) {
    uint32_t n = s->n;
    uint64_t m = s->m;
    for (uint32_t v = 0; v < n; v++) s->off[v + 1] += s->off[v];
    if (s->off[n] != 2 * m)
        return rw_fail(err, RW_ERR_INTERNAL, "snapshot: degrees add up to %llu, not twice %llu edges",
                       (unsigned long long)s->off[n], (unsigned long long)m);
    s->nbr = malloc((2 * m + 1) * sizeof(uint32_t));
    s->eid = malloc((2 * m + 1) * sizeof(uint32_t));
    uint64_t *fill = malloc(((size_t)n + 1) * sizeof(uint64_t));
    if (!s->nbr || !s->eid || !fill) {
        free(fill);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for a snapshot of %u nodes and %llu edges", n,
                       (unsigned long long)m);
    }
    /* Both directions of every edge, accounts' side in edge order and
     * attributes' side in account order. */
    memcpy(fill, s->off, ((size_t)n + 1) * sizeof(uint64_t));
    for (uint64_t e = 0; e < m; e++) {
        uint32_t a = s->edge_account[e], b = s->edges[e].attr;
        s->nbr[fill[a]] = b;
        s->eid[fill[a]++] = (uint32_t)e;
        s->nbr[fill[b]] = a;
        s->eid[fill[b]++] = (uint32_t)e;
    }
    free(fill);
    return RW_OK;
}

rw_status rw_graph_snapshot(const rw_graph *g, rw_graph_snap **out, rw_err *err) {
    rw_status st = rw_graph_snapshot_copy(g, out, err);
    if (st == RW_OK && (st = rw_graph_snap_index(*out, err)) != RW_OK) {
        rw_graph_snap_free(*out);
        *out = NULL;
    }
    return st;
}
