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

/* An edge as seen from its account. Times are Unix seconds; the graph stores
 * every time as uint32, clamping an int64 to [0, UINT32_MAX]. */
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
/* Gives back the index of nodes by key: g then finds no node by key and
 * must take no new ones, only be read by node (a snapshot) and freed. For
 * a caller that copies the graph once and frees it, so that the copy and
 * the whole graph are not held together. */
void rw_graph_drop_index(rw_graph *g);

/* ---- index -------------------------------------------------------------- */

/* The node of an account id, or RW_NODE_NONE. */
uint32_t rw_graph_find_account(const rw_graph *g, const char *ext, size_t len);
/* The node of an attribute (ip, device, payment, subnet), or RW_NODE_NONE. */
uint32_t rw_graph_find_attr(const rw_graph *g, rw_kind kind, const rw_hash *h);

/* ---- prefetch (writer) -------------------------------------------------- */

/* Hints for the writer's software pipeline: announce the keys of the event a
 * few events ahead (8 is about right) before applying the current one. A key
 * whose node exists has its index bucket fetched now, its record about 12
 * announcements later and its adjacency about 8 after that, so that the find
 * and rw_graph_observe calls for it find everything in cache. They change no
 * result and accept any input (bad kinds, lengths or ids are ignored), but
 * they advance a small queue kept in the graph: call them only where a write
 * is allowed (under the writer's lock). Announce the subnet of an IP as an
 * attribute of kind RW_KIND_SUBNET. */
void rw_graph_prefetch_account(rw_graph *g, const char *ext, size_t len);
void rw_graph_prefetch_attr(rw_graph *g, rw_kind kind, const rw_hash *h);
/* The same for a node known by id (rw_graph_observe by id, as when loading):
 * its record now, its adjacency about 8 announcements later. */
void rw_graph_prefetch_node(rw_graph *g, uint32_t node);

/* ---- growth (writer) ---------------------------------------------------- */

/* Sizes the indexes for that many more accounts and attributes, so adding
 * them does not rebuild an index (loading from the store knows the counts).
 * RW_ERR_NOMEM, RW_ERR_LIMIT. */
rw_status rw_graph_reserve(rw_graph *g, uint32_t accounts, uint32_t attributes, rw_err *err);

/* Adds an account; its id is the next node id. ts is its first-seen time.
 * RW_ERR_INVALID for an id of 0 or more than RW_ACCOUNT_MAX bytes,
 * RW_ERR_EXISTS when present (the caller normally checked), RW_ERR_NOMEM. */
rw_status rw_graph_add_account(rw_graph *g, uint32_t *out, const char *ext, size_t len, int64_t ts, rw_err *err);
/* Adds an attribute node; parent is the subnet node of an IP, else
 * RW_NODE_NONE. RW_ERR_INVALID for a non-attribute kind or a parent that is
 * not a subnet (or on a kind other than ip), RW_ERR_EXISTS, RW_ERR_NOMEM. */
rw_status rw_graph_add_attr(rw_graph *g, uint32_t *out, rw_kind kind, const rw_hash *h, uint32_t parent, int64_t ts,
                            rw_err *err);
/* Records that account was seen with attr at ts: creates the edge (and sets
 * *is_new to 1, counting a new account in attr's velocity) or updates its
 * first/last seen and count. Also updates both nodes' first/last seen.
 * RW_ERR_INVALID unless account is an account and attr an ip, device or
 * payment (subnets take no edges); RW_ERR_NOMEM leaves the graph unchanged. */
rw_status rw_graph_observe(rw_graph *g, int *is_new, uint32_t account, uint32_t attr, int64_t ts, rw_err *err);
/* Appends a placeholder for an erased node, so the ids after it keep their
 * place (the store never renumbers): no kind (rw_graph_kind gives
 * RW_KIND_COUNT, as for an id out of range), no key, no index entry, no
 * edges, and no node can use it as a parent or take an edge to it.
 * RW_ERR_NOMEM, RW_ERR_LIMIT. */
rw_status rw_graph_add_gap(rw_graph *g, uint32_t *out, rw_err *err);
/* Placeholders in the graph (counted in rw_graph_node_count, in no kind). */
uint32_t rw_graph_gap_count(const rw_graph *g);
/* Records an event time on an account without attributes (first/last seen).
 * A node id out of range is ignored. */
void rw_graph_touch(rw_graph *g, uint32_t node, int64_t ts);

/* ---- queries ------------------------------------------------------------ */

/* Queries take any node id: out of range (or of the wrong kind) they return
 * 0, RW_NODE_NONE, NULL or, for rw_graph_kind, RW_KIND_COUNT. */

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
/* An account's edges in insertion order (NULL when none); borrowed, valid
 * until the next write. */
const rw_edge *rw_graph_account_edges(const rw_graph *g, uint32_t account, uint32_t *n);
/* The accounts of an attribute in insertion order (NULL when none);
 * borrowed, valid until the next write. */
const uint32_t *rw_graph_attr_accounts(const rw_graph *g, uint32_t attr, uint32_t *n);
/* Velocity counters of an attribute, decayed to time now (a now before the
 * last update gives the stored values). Zeros for subnets and non-attributes. */
void rw_graph_velocity(const rw_graph *g, uint32_t attr, int64_t now, double out[RW_VEL_COUNT]);
/* Bytes held by the graph (allocations of its own, including unused
 * capacity, free blocks and an estimate of malloc's per-chunk overhead). */
size_t rw_graph_memory(const rw_graph *g);

/* ---- igraph ------------------------------------------------------------- */

struct igraph_s;
/* Builds an undirected igraph_t whose vertex i is node i and whose edge j is
 * the j-th edge in account order; weights (may be NULL) receives one double
 * per edge from weight_fn (NULL: 1.0). The igraph_t is caller-owned
 * (igraph_destroy); on failure it is not initialised. weights is
 * caller-allocated with rw_graph_edge_count entries. Call igraph from one
 * thread at a time. */
typedef double (*rw_graph_weight_fn)(void *ctx, const rw_graph *g, uint32_t account, const rw_edge *e);
rw_status rw_graph_to_igraph(const rw_graph *g, struct igraph_s *out, double *weights, rw_graph_weight_fn weight_fn,
                             void *ctx, rw_err *err);

/* ---- snapshot ------------------------------------------------------------ */

/* The graph as arrays, for copying it while writers wait. With kind, for
 * every node v < rw_graph_node_count(g): what rw_graph_kind, _first_seen,
 * _last_seen, _parent and _degree return. With edges: every account's edges, accounts
 * in id order and each one's in rw_graph_account_edges order, edge_account[j]
 * the account of edges[j], at most edge_cap of them. */
typedef struct {
    uint8_t *kind; /* NULL: edges only (then first, last, parent and degree unused) */
    uint32_t *first, *last, *parent;
    uint64_t *degree;
    rw_edge *edges; /* NULL: nodes only */
    uint32_t *edge_account;
    uint64_t edge_cap;
} rw_graph_arrays;
/* Fills out by node block, the nodes in one pass and the edges in another
 * that asks for the next block's lists before it copies a block's (at a
 * million accounts: 64-87 ms instead of 94-109, the lists' cache misses
 * having been most of the copy). Returns the number of account edges (more
 * than edge_cap: only edge_cap were copied). */
uint64_t rw_graph_copy(const rw_graph *g, const rw_graph_arrays *out);

/* A read-only copy of the graph in compressed sparse rows for the batch
 * detectors: copied under the writer's lock (nodes and edges on two
 * threads from 65,536 nodes on), then indexed and
 * used without it while signups keep flowing. Edge j is the j-th edge in
 * account order (the same order as rw_graph_to_igraph). */
typedef struct {
    uint32_t n;             /* nodes */
    uint64_t m;             /* edges */
    uint8_t *kind;          /* [n] rw_kind */
    uint32_t *first_seen;   /* [n] */
    uint32_t *last_seen;    /* [n] */
    uint32_t *parent;       /* [n] subnet of an IP node, else RW_NODE_NONE */
    uint64_t *off;          /* [n + 1] node v's neighbours are nbr[off[v] .. off[v + 1]) */
    uint32_t *nbr;          /* [2m] an account's attributes; an attribute's accounts */
    uint32_t *eid;          /* [2m] the edge of each adjacency entry */
    uint32_t *edge_account; /* [m] */
    rw_edge *edges;         /* [m] attr, first/last seen, count */
    uint32_t cap_n;         /* room reserved for this many nodes and edges (rw_graph_snap_reserve) */
    uint64_t cap_m;
    /* [n] or NULL. A shard of a larger graph holds a hub with its edges to
     * the shard's accounts only, yet must see it as the hub it is: then
     * degree[v] is v's degree in the whole graph (freed with the snapshot). */
    uint32_t *degree;
    /* [n] or NULL. Which hubs still glue their accounts (rw_detect_hub_glue),
     * decided once on the whole graph: a shard sees neither a hub's every
     * account nor the graph's span and degree spread that the verdict rests
     * on (NULL: judged on this snapshot; freed with the snapshot). */
    uint8_t *glue;
} rw_graph_snap;

/* Degree of node v in a snapshot (in the whole graph, for a shard's). */
static inline uint32_t rw_graph_snap_degree(const rw_graph_snap *s, uint32_t v) {
    return s->degree ? s->degree[v] : (uint32_t)(s->off[v + 1] - s->off[v]);
}

/* Copies the graph into a snapshot. Caller owns *out (rw_graph_snap_free). */
rw_status rw_graph_snapshot(const rw_graph *g, rw_graph_snap **out, rw_err *err);
/* The same in two steps, so that only the copy holds up writers: the copy
 * (node fields, degrees in off[v + 1], the edges), under the writer's lock,
 * then the index (off summed, nbr and eid), which reads the snapshot only.
 * The snapshot is usable once indexed. */
rw_status rw_graph_snapshot_copy(const rw_graph *g, rw_graph_snap **out, rw_err *err);
/* The copy itself in two steps, so that the lock is held for copying only:
 * rw_graph_snap_reserve allocates and touches room for n nodes and m edges
 * (no graph needed: before taking the lock; give slack for what writers add
 * meanwhile), then rw_graph_snapshot_fill copies g into it under the lock
 * (growing it if the slack was short). Caller owns *out. */
rw_status rw_graph_snap_reserve(rw_graph_snap **out, uint32_t n, uint64_t m, rw_err *err);
rw_status rw_graph_snapshot_fill(const rw_graph *g, rw_graph_snap *s, rw_err *err);
rw_status rw_graph_snap_index(rw_graph_snap *s, rw_err *err);
/* Gives back all but n, m, kind, off, nbr and degree: what reading a
 * node's neighbours and degree needs, once nothing reads edges, times or
 * parents any more (the rest is freed and NULL). */
void rw_graph_snap_trim(rw_graph_snap *s);
void rw_graph_snap_free(rw_graph_snap *s);

#endif
