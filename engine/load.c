/* engine stage: loading the graph from the store (at open, and to rebuild
 * it after a failed transaction). */
#include "load.h"

typedef struct {
    rw_graph *g;
    uint64_t events;
    rw_err *err;
} load_ctx;

/* Ids of erased nodes are missing from the store: each gets a placeholder in
 * the graph, so the ids after it (which events name) stay where they are. */
static rw_status pad_gaps(load_ctx *c, uint32_t id) {
    rw_status st = RW_OK;
    uint32_t v;
    while (st == RW_OK && rw_graph_node_count(c->g) < id) st = rw_graph_add_gap(c->g, &v, c->err);
    return st;
}

static rw_status load_account(void *ctx, uint32_t id, const char *ext, size_t len, int64_t first_seen) {
    load_ctx *c = ctx;
    uint32_t got;
    rw_status st = pad_gaps(c, id);
    if (st == RW_OK) st = rw_graph_add_account(c->g, &got, ext, len, first_seen, c->err);
    if (st == RW_OK && got != id)
        st = rw_fail(c->err, RW_ERR_CORRUPT, "account ids are not dense (expected node %u, found %u)", got, id);
    return st;
}

static rw_status load_attribute(void *ctx, uint32_t id, rw_kind kind, const rw_hash *h, uint32_t parent,
                                int64_t first_seen) {
    load_ctx *c = ctx;
    uint32_t got;
    if (parent != RW_STORE_NONE && (parent >= id || rw_graph_kind(c->g, parent) != RW_KIND_SUBNET))
        return rw_fail(c->err, RW_ERR_CORRUPT, "attribute %u has a bad parent %u", id, parent);
    rw_status st = pad_gaps(c, id);
    if (st == RW_OK)
        st =
            rw_graph_add_attr(c->g, &got, kind, h, parent == RW_STORE_NONE ? RW_NODE_NONE : parent, first_seen, c->err);
    if (st == RW_OK && got != id)
        st = rw_fail(c->err, RW_ERR_CORRUPT, "attribute ids are not dense (expected node %u, found %u)", got, id);
    return st;
}

static rw_status load_event(void *ctx, int64_t ts, rw_event_type type, uint32_t account,
                            const uint32_t attr[RW_EVENT_ATTRS]) {
    load_ctx *c = ctx;
    uint32_t n = rw_graph_node_count(c->g);
    if (account >= n || rw_graph_kind(c->g, account) != RW_KIND_ACCOUNT)
        return rw_fail(c->err, RW_ERR_CORRUPT, "an event names node %u, which is not an account", account);
    int any = 0;
    for (int i = 0; i < RW_EVENT_ATTRS; i++) {
        if (attr[i] == RW_STORE_NONE) continue;
        if (attr[i] >= n || rw_graph_kind(c->g, attr[i]) != (rw_kind)(i + 1))
            return rw_fail(c->err, RW_ERR_CORRUPT, "an event names node %u as its %s", attr[i],
                           rw_kind_name((rw_kind)(i + 1)));
        int is_new;
        rw_status st = rw_graph_observe(c->g, &is_new, account, attr[i], ts, c->err);
        if (st != RW_OK) return st;
        any = 1;
    }
    if (!any) rw_graph_touch(c->g, account, ts);
    c->events++;
    return RW_OK;
}

rw_status rw_engine_load_graph(rw_store *s, rw_graph **out, uint64_t *events, rw_err *err) {
    *out = NULL;
    *events = 0;
    rw_graph *g = NULL;
    rw_status st = rw_graph_create(&g, err);
    if (st != RW_OK) return st;
    /* Sizing the indexes up front saves rebuilding them while loading. */
    rw_store_counts counts;
    st = rw_store_count(s, &counts, err);
    if (st == RW_OK && counts.accounts + counts.attributes > 0)
        st = rw_graph_reserve(g, (uint32_t)counts.accounts, (uint32_t)counts.attributes, err);
    if (st != RW_OK) {
        rw_graph_free(g);
        return st;
    }
    load_ctx c = {.g = g, .err = err};
    rw_store_loader cb = {.account = load_account, .attribute = load_attribute, .event = load_event};
    st = rw_store_load(s, &cb, &c, err);
    /* Ids erased at the end are not handed out again either. */
    uint32_t next = 0;
    if (st == RW_OK) st = rw_store_next_node(s, &next, err);
    if (st == RW_OK) st = pad_gaps(&c, next);
    if (st != RW_OK) {
        rw_err_prefix(err, "loading the graph: ");
        rw_graph_free(g);
        return st;
    }
    *out = g;
    *events = c.events;
    return RW_OK;
}
