/* engine internals shared by its .c files. */
#ifndef RW_ENGINE_INT_H
#define RW_ENGINE_INT_H

#include <pthread.h>

#include "engine.h"
#include "graph.h"
#include "storage.h"

struct rw_engine {
    rw_store *store;
    rw_graph *graph;
    rw_hasher *hasher; /* NULL when read-only and no key file exists */
    /* Writers (ingest, signups) take it exclusively; lookups share it. */
    pthread_rwlock_t lock;
    uint64_t events; /* events in the log */
    char *db_path;
};

/* One event after parsing and hashing: what the writer needs, no raw values
 * except the caller's own account id (kept in the batch's arena). */
typedef struct {
    int64_t ts;
    uint32_t account_off; /* into the owning batch's arena */
    uint16_t account_len;
    uint8_t type;
    uint8_t mask; /* bit i: attribute kind i + 1 present */
    rw_hash attr[RW_EVENT_ATTRS];
    rw_hash subnet; /* of the IP, when present */
} rw_hevent;

/* Hashes a parsed event into ev (account text is not copied). */
void rw_engine_hash_event(const rw_hasher *h, const rw_event_raw *raw, rw_hevent *ev);

typedef struct {
    uint64_t new_accounts, new_attributes, new_edges;
} rw_apply_delta;

/* Applies one event to the graph and the store inside the caller's open
 * transaction. On failure the graph may be ahead of the store: the caller
 * rolls back and calls rw_engine_reload_graph. Call with the write lock. */
rw_status rw_engine_apply(rw_engine *e, const rw_hevent *ev, const char *account, uint32_t *account_node,
                          rw_apply_delta *d, rw_err *err);

/* Rebuilds the graph from the store (after a failed transaction). */
rw_status rw_engine_reload_graph(rw_engine *e, rw_err *err);

#endif
