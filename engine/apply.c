/* engine stage: an event into the graph (nodes and edges it brings) and
 * into rows for the store, written by whoever owns the transaction. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"

void rw_engine_hash_event(const rw_hasher *h, const rw_event_raw *raw, rw_hevent *ev) {
    ev->ts = raw->ts;
    ev->type = (uint8_t)raw->type;
    ev->mask = 0;
    for (int i = 0; i < RW_EVENT_ATTRS; i++) {
        if (!raw->attr_len[i]) continue;
        ev->mask |= (uint8_t)(1u << i);
        rw_hasher_hash(h, (rw_kind)(i + 1), raw->attr[i], raw->attr_len[i], &ev->attr[i]);
    }
    if (raw->attr_len[RW_KIND_IP - 1]) {
        ev->subnet_len = 0;
        if (rw_ip_subnet(ev->subnet, sizeof ev->subnet, raw->attr[RW_KIND_IP - 1]) == RW_OK)
            ev->subnet_len = (uint8_t)strlen(ev->subnet);
    }
}

/* Grows one ops array; returns 0 on success. */
static int ops_reserve(void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap * 2 : 1024;
    while (c < need) c *= 2;
    void *n = realloc(*arr, c * elem);
    if (!n) return -1;
    *arr = n;
    *cap = c;
    return 0;
}

void rw_store_ops_clear(rw_store_ops *ops) {
    ops->nacc = ops->nattr = ops->nev = ops->nfeat = 0;
}

void rw_store_ops_free(rw_store_ops *ops) {
    free(ops->acc);
    free(ops->attr);
    free(ops->ev);
    free(ops->feat);
    memset(ops, 0, sizeof *ops);
}

rw_status rw_engine_write_ops(rw_store *s, const rw_store_ops *ops, rw_err *err) {
    rw_status st = RW_OK;
    for (size_t i = 0; st == RW_OK && i < ops->nacc; i++)
        st = rw_store_put_account(s, ops->acc[i].id, ops->acc[i].ext, ops->acc[i].len, ops->acc[i].ts, err);
    for (size_t i = 0; st == RW_OK && i < ops->nattr; i++) {
        const rw_op_attr *a = &ops->attr[i];
        st = rw_store_put_attribute(s, a->id, (rw_kind)a->kind, &a->hash, a->parent, a->ts, err);
    }
    for (size_t i = 0; st == RW_OK && i < ops->nev; i++) {
        const rw_op_event *ev = &ops->ev[i];
        st = rw_store_put_event_scored(s, ev->ts, (rw_event_type)ev->type, ev->account, ev->attr, ev->score,
                                       ev->stopped, err);
    }
    if (st == RW_OK && ops->nfeat) st = rw_engine_featlog_write(s, ops->feat, ops->nfeat, err);
    return st;
}

#define OPS_RESERVE(ops, arr, n, cap) ops_reserve((void **)&(ops)->arr, &(ops)->cap, (ops)->n + 1, sizeof *(ops)->arr)

/* Finds or creates the attribute node (and, for an IP, its subnet). */
static rw_status attr_node(rw_engine *e, uint32_t *out, rw_kind kind, const rw_hash *h, const rw_hevent *ev, int64_t ts,
                           rw_store_ops *ops, rw_apply_delta *d, rw_err *err) {
    uint32_t n = rw_graph_find_attr(e->graph, kind, h);
    *out = n;
    if (n != RW_NODE_NONE) return RW_OK;
    uint32_t parent = RW_NODE_NONE;
    rw_status st;
    if (kind == RW_KIND_IP) {
        rw_hash sh;
        rw_hasher_hash(e->hasher, RW_KIND_SUBNET, ev->subnet, ev->subnet_len, &sh);
        st = attr_node(e, &parent, RW_KIND_SUBNET, &sh, NULL, ts, ops, d, err);
        if (st != RW_OK) return st;
    }
    if (OPS_RESERVE(ops, attr, nattr, cap_attr) != 0) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    st = rw_graph_add_attr(e->graph, &n, kind, h, parent, ts, err);
    if (st != RW_OK) return st;
    ops->attr[ops->nattr++] = (rw_op_attr){.id = n,
                                           .parent = parent == RW_NODE_NONE ? RW_STORE_NONE : parent,
                                           .kind = (uint8_t)kind,
                                           .hash = *h,
                                           .ts = ts};
    d->new_attributes++;
    *out = n;
    return RW_OK;
}

void rw_engine_prefetch(rw_engine *e, const rw_hevent *ev, const char *account) {
    rw_graph_prefetch_account(e->graph, account, ev->account_len);
    for (int i = 0; i < RW_EVENT_ATTRS; i++)
        if (ev->mask & (1u << i)) rw_graph_prefetch_attr(e->graph, (rw_kind)(i + 1), &ev->attr[i]);
}

rw_status rw_engine_apply(rw_engine *e, const rw_hevent *ev, const char *account, uint32_t *account_node,
                          rw_store_ops *ops, rw_apply_delta *d, rw_err *err) {
    rw_status st = RW_OK;
    if (OPS_RESERVE(ops, ev, nev, cap_ev) != 0 || OPS_RESERVE(ops, acc, nacc, cap_acc) != 0)
        return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    uint32_t a = rw_graph_find_account(e->graph, account, ev->account_len);
    if (a == RW_NODE_NONE) {
        st = rw_graph_add_account(e->graph, &a, account, ev->account_len, ev->ts, err);
        if (st != RW_OK) return st;
        ops->acc[ops->nacc++] = (rw_op_account){.id = a, .len = ev->account_len, .ext = account, .ts = ev->ts};
        d->new_accounts++;
    }
    *account_node = a;
    rw_op_event *row = &ops->ev[ops->nev];
    row->ts = ev->ts;
    row->type = ev->type;
    row->score = NAN;
    row->stopped = 0;
    row->account = a;
    for (int i = 0; i < RW_EVENT_ATTRS; i++) {
        row->attr[i] = RW_STORE_NONE;
        if (!(ev->mask & (1u << i))) continue;
        uint32_t n;
        st = attr_node(e, &n, (rw_kind)(i + 1), &ev->attr[i], ev, ev->ts, ops, d, err);
        if (st != RW_OK) return st;
        int is_new = 0;
        st = rw_graph_observe(e->graph, &is_new, a, n, ev->ts, err);
        if (st != RW_OK) return st;
        d->new_edges += (uint64_t)is_new;
        row->attr[i] = n;
    }
    if (!ev->mask) rw_graph_touch(e->graph, a, ev->ts);
    ops->nev++;
    e->events++;
    return RW_OK;
}
