/* graph: conversion to an igraph_t for the batch detectors. The only file of
 * the module that includes igraph. */
#include <igraph.h>

#include "graph.h"

static rw_status status_of(rw_err *err, igraph_error_t e, const char *what) {
    return rw_fail(err, e == IGRAPH_ENOMEM ? RW_ERR_NOMEM : RW_ERR_INTERNAL, "graph: igraph %s: %s", what,
                   igraph_strerror(e));
}

rw_status rw_graph_to_igraph(const rw_graph *g, struct igraph_s *out, double *weights, rw_graph_weight_fn weight_fn,
                             void *ctx, rw_err *err) {
    igraph_vector_int_t el;
    int have_el = 0;
    rw_status st = RW_OK;
    uint32_t n = rw_graph_node_count(g);
    uint64_t m = rw_graph_edge_count(g);
    if (m > (uint64_t)(IGRAPH_INTEGER_MAX / 2)) return rw_fail(err, RW_ERR_LIMIT, "graph: too many edges for igraph");

    igraph_error_t e = igraph_vector_int_init(&el, (igraph_integer_t)(2 * m));
    if (e != IGRAPH_SUCCESS) {
        st = status_of(err, e, "edge list");
        goto done;
    }
    have_el = 1;
    /* Filled in place: one pass over the accounts, no intermediate copy. */
    igraph_integer_t *p = VECTOR(el);
    uint64_t j = 0;
    for (uint32_t v = 0; v < n; v++) {
        uint32_t k = 0;
        const rw_edge *ed = rw_graph_account_edges(g, v, &k);
        if (j + k > m) break;
        for (uint32_t i = 0; i < k; i++, j++) {
            p[2 * j] = v;
            p[2 * j + 1] = ed[i].attr;
            if (weights) weights[j] = weight_fn ? weight_fn(ctx, g, v, &ed[i]) : 1.0;
        }
    }
    if (j != m) {
        st = rw_fail(err, RW_ERR_INTERNAL, "graph: edge count %llu but %llu edges found", (unsigned long long)m,
                     (unsigned long long)j);
        goto done;
    }
    e = igraph_create(out, &el, (igraph_integer_t)n, IGRAPH_UNDIRECTED);
    if (e != IGRAPH_SUCCESS) {
        st = status_of(err, e, "create");
        goto done;
    }

done:
    if (have_el) igraph_vector_int_destroy(&el);
    return st;
}
