/* tests: graph snapshots built by hand, as rw_graph_snapshot lays them out
 * (edges in account order, duplicates dropped, CSR adjacency of both sides,
 * times made up). Free of Criterion, so bench/ builds its worlds with it
 * too; a failed allocation or an edge between two attributes aborts. */
#ifndef TU_SNAP_H
#define TU_SNAP_H

#include <stdint.h>

#include "graph.h"

typedef struct {
    uint32_t n, ncap;
    uint8_t *kind;
    uint64_t m, mcap;
    uint32_t (*e)[2]; /* (account, attribute) */
} tu_snap_builder;

/* A new node of kind k; its id. */
uint32_t tu_snap_node(tu_snap_builder *b, rw_kind k);
/* An edge from an account to an attribute. */
void tu_snap_edge(tu_snap_builder *b, uint32_t account, uint32_t attr);
/* The snapshot (caller frees with rw_graph_snap_free); empties the builder. */
rw_graph_snap *tu_snap_build(tu_snap_builder *b);

#endif
