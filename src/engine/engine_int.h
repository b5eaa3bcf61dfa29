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
    /* The store's connection is used by one thread at a time: ingest's
     * store stage, a rescoring's run write, queries. */
    pthread_mutex_t store_mu;
    uint64_t events; /* events in the log */
    char *db_path;
};

#define RW_SUBNET_TEXT 24 /* "ffff:ffff:ffff::/48" and "255.255.255.0/24" fit */

/* One event after parsing and hashing: what the writer needs, no raw values
 * except the caller's own account id (kept in the batch's arena). */
typedef struct {
    int64_t ts;
    uint32_t account_off; /* into the owning batch's arena */
    uint16_t account_len;
    uint8_t type;
    uint8_t mask; /* bit i: attribute kind i + 1 present */
    rw_hash attr[RW_EVENT_ATTRS];
    /* The IP's subnet as text ("203.0.113.0/24"), hashed by the writer only
     * when the IP is new: most events reuse a known IP, and keyed hashing is
     * the costliest step of parsing. Transient, like the batch itself. */
    uint8_t subnet_len;
    char subnet[RW_SUBNET_TEXT];
} rw_hevent;

/* Hashes a parsed event into ev (account text is not copied). */
void rw_engine_hash_event(const rw_hasher *h, const rw_event_raw *raw, rw_hevent *ev);

typedef struct {
    uint64_t new_accounts, new_attributes, new_edges;
} rw_apply_delta;

/* Rows for the store, produced by the graph writer and written by whoever
 * owns the transaction (the ingest's store thread, or the signup group
 * commit), so SQLite work overlaps graph work. ext pointers are borrowed
 * from the events' owner and must outlive the write. */
typedef struct {
    uint32_t id;
    uint16_t len;
    const char *ext;
    int64_t ts;
} rw_op_account;

typedef struct {
    uint32_t id, parent;
    uint8_t kind;
    rw_hash hash;
    int64_t ts;
} rw_op_attr;

typedef struct {
    int64_t ts;
    uint32_t account;
    uint32_t attr[RW_EVENT_ATTRS];
    uint8_t type;
} rw_op_event;

typedef struct {
    rw_op_account *acc;
    rw_op_attr *attr;
    rw_op_event *ev;
    size_t nacc, nattr, nev;
    size_t cap_acc, cap_attr, cap_ev;
} rw_store_ops;

void rw_store_ops_clear(rw_store_ops *ops);
void rw_store_ops_free(rw_store_ops *ops);
/* Writes the rows inside the store's open transaction. */
rw_status rw_engine_write_ops(rw_store *s, const rw_store_ops *ops, rw_err *err);

/* Applies one event to the graph and appends the rows it creates to ops. On
 * failure the graph may be ahead of the store: the caller drops the
 * transaction and calls rw_engine_reload_graph. Call with the write lock. */
rw_status rw_engine_apply(rw_engine *e, const rw_hevent *ev, const char *account, uint32_t *account_node,
                          rw_store_ops *ops, rw_apply_delta *d, rw_err *err);

/* RW_OK when the engine holds a graph, else why not (opened store-only). */
rw_status rw_engine_need_graph(const rw_engine *e, rw_err *err);

/* Announces an event's keys to the graph a few events before applying it. */
void rw_engine_prefetch(rw_engine *e, const rw_hevent *ev, const char *account);

/* Rebuilds the graph from the store (after a failed transaction). */
rw_status rw_engine_reload_graph(rw_engine *e, rw_err *err);

#endif
