/* engine stage: a signup's neighbourhood, read from the graph once. */
#ifndef RW_ENGINE_VIEW_H
#define RW_ENGINE_VIEW_H

#include "engine_int.h"

/* One attribute of the account, with what placing and scoring read of it. */
typedef struct {
    uint32_t attr;
    uint32_t first_seen; /* of the edge: the account's first use of the attribute */
    uint32_t born;       /* the attribute's first use by anyone */
    uint32_t degree;     /* accounts on the attribute */
    uint32_t parent;     /* an IP's subnet, else RW_NODE_NONE */
    uint8_t kind;        /* rw_kind */
    /* Decayed signups on the attribute at ts (rw_graph_velocity): gathered
     * with_velocity, for the attributes scoring reads it of (not cleared by
     * a benign label); else unset. */
    double vel[RW_VEL_COUNT];
    /* A crowd: more accounts than the hub degree that arrived as strangers
     * do, over the graph's history (rw_live_crowd). It ties no one together
     * online. A hub whose accounts came in a burst is no crowd: its size is
     * the attacker's choice. Without velocity every hub is a crowd. */
    uint8_t crowd;
} rw_view_edge;

#define RW_VIEW_INLINE 16 /* edges held without an allocation: nearly every account */

/* The account's neighbourhood at ts: placing it in a community, counting its
 * subnets' signups, scoring it and remembering its score all read this
 * instead of asking the graph again. Valid while the graph is unchanged (one
 * event under the write lock, or a read under the read lock). */
typedef struct {
    uint32_t account;
    int64_t ts;
    uint32_t n;         /* edges */
    rw_view_edge *edge; /* [n]: inline, or allocated for an account with many attributes */
    uint32_t cap;       /* of edge */
    uint32_t comm;      /* the account's community once placed (set by the caller; 0: none) */
    int subnet_v6;      /* the signup's own IP is an IPv6 address (its subnet is a /48) */
    rw_view_edge inline_edges[RW_VIEW_INLINE];
} rw_view;

/* An empty view (call before the first gather; free with rw_view_free). */
void rw_view_init(rw_view *v);
/* Reads account a's edges and each attribute's kind, degree and subnet, and
 * with_velocity its velocity at ts. Reuses v's room. Returns 0, or -1 when
 * out of memory (v then holds no edges). Under the engine's lock. */
int rw_view_gather(rw_view *v, const rw_engine *e, uint32_t a, int64_t ts, int with_velocity);
void rw_view_free(rw_view *v);

#endif
