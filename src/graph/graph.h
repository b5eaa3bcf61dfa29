/* graph: the in-memory bipartite graph of accounts and attributes. Dense
 * integer node ids, a hash index from (kind, hash) and from account id to
 * node, adjacency that grows incrementally, first/last seen per node and per
 * edge, and event-time velocity counters per attribute. Single writer; readers
 * need the writer's lock (the graph does no locking of its own). */
#ifndef RW_GRAPH_H
#define RW_GRAPH_H

#include "common.h"

typedef struct rw_graph rw_graph;

#define RW_NODE_NONE UINT32_MAX

/* An edge as seen from its account. Times are Unix seconds. */
typedef struct {
    uint32_t attr;
    uint32_t first_seen;
    uint32_t last_seen;
    uint32_t count; /* events that carried this pair (saturates) */
} rw_edge;

/* Velocity windows: exponentially decayed counts of new accounts per
 * attribute with time constants of about 1 hour, 1 day and 7 days. */
enum { RW_VEL_HOUR = 0, RW_VEL_DAY = 1, RW_VEL_WEEK = 2, RW_VEL_COUNT = 3 };

rw_status rw_graph_create(rw_graph **out, rw_err *err);
void rw_graph_free(rw_graph *g);

/* ---- index -------------------------------------------------------------- */

/* The node of an account id, or RW_NODE_NONE. */
uint32_t rw_graph_find_account(const rw_graph *g, const char *ext, size_t len);
/* The node of an attribute (ip, device, payment, subnet), or RW_NODE_NONE. */
uint32_t rw_graph_find_attr(const rw_graph *g, rw_kind kind, const rw_hash *h);

/* ---- growth (writer) ---------------------------------------------------- */

/* Adds an account; its id is the next node id. The caller has checked it is
 * not present. ts is its first-seen time. */
rw_status rw_graph_add_account(rw_graph *g, uint32_t *out, const char *ext, size_t len, int64_t ts, rw_err *err);
/* Adds an attribute node; parent is the subnet node of an IP, else
 * RW_NODE_NONE. */
rw_status rw_graph_add_attr(rw_graph *g, uint32_t *out, rw_kind kind, const rw_hash *h, uint32_t parent, int64_t ts,
                            rw_err *err);
/* Records that account was seen with attr at ts: creates the edge (and sets
 * *is_new to 1, counting a new account in attr's velocity) or updates its
 * last seen and count. Also updates both nodes' first/last seen. */
rw_status rw_graph_observe(rw_graph *g, int *is_new, uint32_t account, uint32_t attr, int64_t ts, rw_err *err);
/* Records an event time on an account without attributes (last seen). */
void rw_graph_touch(rw_graph *g, uint32_t node, int64_t ts);

/* ---- queries ------------------------------------------------------------ */

uint32_t rw_graph_node_count(const rw_graph *g);
uint64_t rw_graph_edge_count(const rw_graph *g);
/* Nodes of one kind. */
uint32_t rw_graph_kind_count(const rw_graph *g, rw_kind kind);
rw_kind rw_graph_kind(const rw_graph *g, uint32_t node);
uint32_t rw_graph_degree(const rw_graph *g, uint32_t node);
int64_t rw_graph_first_seen(const rw_graph *g, uint32_t node);
int64_t rw_graph_last_seen(const rw_graph *g, uint32_t node);
/* The subnet of an IP node, else RW_NODE_NONE. */
uint32_t rw_graph_parent(const rw_graph *g, uint32_t node);
/* An account's external id; borrowed, valid until the graph is freed. */
const char *rw_graph_account_id(const rw_graph *g, uint32_t node, size_t *len);
/* An attribute's hash; borrowed, valid until the graph is freed. */
const rw_hash *rw_graph_attr_hash(const rw_graph *g, uint32_t node);
/* An account's edges; borrowed, valid until the next write. */
const rw_edge *rw_graph_account_edges(const rw_graph *g, uint32_t account, uint32_t *n);
/* The accounts of an attribute; borrowed, valid until the next write. */
const uint32_t *rw_graph_attr_accounts(const rw_graph *g, uint32_t attr, uint32_t *n);
/* Velocity counters of an attribute, decayed to time now. */
void rw_graph_velocity(const rw_graph *g, uint32_t attr, int64_t now, double out[RW_VEL_COUNT]);
/* Bytes held by the graph (allocations of its own, including slack). */
size_t rw_graph_memory(const rw_graph *g);

/* ---- igraph ------------------------------------------------------------- */

struct igraph_s;
/* Builds an undirected igraph_t whose vertex i is node i and whose edge j is
 * the j-th edge in account order; weights (may be NULL) receives one double
 * per edge from weight_fn (NULL: 1.0). The igraph_t is caller-owned
 * (igraph_destroy); weights is caller-allocated with rw_graph_edge_count
 * entries. */
typedef double (*rw_graph_weight_fn)(void *ctx, const rw_graph *g, uint32_t account, const rw_edge *e);
rw_status rw_graph_to_igraph(const rw_graph *g, struct igraph_s *out, double *weights, rw_graph_weight_fn weight_fn,
                             void *ctx, rw_err *err);

#endif
