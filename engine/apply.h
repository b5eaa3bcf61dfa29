/* engine stage: one event into the graph, and the rows it makes for the
 * store. */
#ifndef RW_ENGINE_APPLY_H
#define RW_ENGINE_APPLY_H

#include "engine_int.h"

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

void rw_store_ops_clear(rw_store_ops *ops);
void rw_store_ops_free(rw_store_ops *ops);
/* Writes n logged signups' features (engine/featlog.c). */
rw_status rw_engine_featlog_write(rw_store *s, const rw_op_feat *f, size_t n, rw_err *err);
/* Writes the rows inside the store's open transaction. */
rw_status rw_engine_write_ops(rw_store *s, const rw_store_ops *ops, rw_err *err);

/* Applies one event to the graph and appends the rows it creates to ops. On
 * failure the graph may be ahead of the store: the caller drops the
 * transaction and calls rw_engine_reload_graph. Call with the write lock. */
rw_status rw_engine_apply(rw_engine *e, const rw_hevent *ev, const char *account, uint32_t *account_node,
                          rw_store_ops *ops, rw_apply_delta *d, rw_err *err);

/* Announces an event's keys to the graph a few events before applying it. */
void rw_engine_prefetch(rw_engine *e, const rw_hevent *ev, const char *account);

#endif
