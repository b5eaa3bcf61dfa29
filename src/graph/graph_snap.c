/* Snapshot of the graph in compressed sparse rows, for the batch detectors
 * to work on without holding the writer's lock. */
#include <stdlib.h>
#include <string.h>

#include "graph.h"

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
    free(s);
}

rw_status rw_graph_snapshot_copy(const rw_graph *g, rw_graph_snap **out, rw_err *err) {
    *out = NULL;
    rw_graph_snap *s = calloc(1, sizeof *s);
    if (!s) return rw_fail(err, RW_ERR_NOMEM, "out of memory for a snapshot");
    uint32_t n = rw_graph_node_count(g);
    uint64_t m = rw_graph_edge_count(g);
    s->n = n;
    s->m = m;
    s->kind = malloc((size_t)n + 1);
    s->first_seen = malloc(((size_t)n + 1) * sizeof(uint32_t));
    s->last_seen = malloc(((size_t)n + 1) * sizeof(uint32_t));
    s->parent = malloc(((size_t)n + 1) * sizeof(uint32_t));
    s->off = calloc((size_t)n + 1, sizeof(uint64_t));
    s->edge_account = malloc((m + 1) * sizeof(uint32_t));
    s->edges = malloc((m + 1) * sizeof(rw_edge));
    if (!s->kind || !s->first_seen || !s->last_seen || !s->parent || !s->off || !s->edge_account || !s->edges) {
        rw_graph_snap_free(s);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for a snapshot of %u nodes and %llu edges", n,
                       (unsigned long long)m);
    }
    /* Node fields and degrees; edges numbered in account order. */
    uint64_t j = 0;
    for (uint32_t v = 0; v < n; v++) {
        s->kind[v] = (uint8_t)rw_graph_kind(g, v);
        int64_t f = rw_graph_first_seen(g, v), l = rw_graph_last_seen(g, v);
        s->first_seen[v] = (uint32_t)(f < 0 ? 0 : f > UINT32_MAX ? UINT32_MAX : f);
        s->last_seen[v] = (uint32_t)(l < 0 ? 0 : l > UINT32_MAX ? UINT32_MAX : l);
        s->parent[v] = rw_graph_parent(g, v);
        s->off[v + 1] = rw_graph_degree(g, v);
        if (s->kind[v] != RW_KIND_ACCOUNT) continue;
        uint32_t k;
        const rw_edge *e = rw_graph_account_edges(g, v, &k);
        for (uint32_t i = 0; i < k && j < m; i++, j++) {
            s->edges[j] = e[i];
            s->edge_account[j] = v;
        }
    }
    if (j != m) {
        rw_graph_snap_free(s);
        return rw_fail(err, RW_ERR_INTERNAL, "snapshot: edge counts disagree (%llu vs %llu)", (unsigned long long)j,
                       (unsigned long long)m);
    }
    *out = s;
    return RW_OK;
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
