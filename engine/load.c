/* engine stage: loading the graph from the store (at open, and to rebuild
 * it after a failed transaction). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- reading and building on two threads --------------------------------- */

/* The store's rows are read and decoded on a thread of their own while this
 * one builds the graph from them, a batch at a time: reading is about a
 * quarter of a load, and building waits on memory rather than the CPU. */
#define BATCH_RECS 8192
#define BATCH_TEXT (BATCH_RECS * 24)
#define BATCHES    3

enum { REC_ACCOUNT, REC_ATTRIBUTE, REC_EVENT };

/* One row as the store's callback gave it. */
typedef struct {
    int64_t ts;                 /* first seen, or the event's time */
    uint32_t id;                /* the node, or the event's account */
    uint32_t a[RW_EVENT_ATTRS]; /* the event's attributes; an attribute's parent in a[0] */
    uint32_t text, len;         /* an account's id: its place in the batch's text */
    uint8_t what, code;         /* REC_*; the attribute's kind or the event's type */
    rw_hash h;
} rec;

typedef struct {
    rec r[BATCH_RECS];
    char text[BATCH_TEXT];
    uint32_t n, used;
} batch;

typedef struct {
    rw_store *s;
    batch *b; /* [BATCHES]: batch k % BATCHES is the k-th filled */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t filled, built; /* batches handed over by the reader, given back by the builder */
    int done;               /* the reader is through (st says how) */
    int stop;               /* the builder failed: the reader stops at its next batch */
    rw_status st;
    rw_err err;
} piped;

/* Hands the batch being filled over; waits for the next to be free.
 * RW_ERR_CANCELLED once the builder stopped. */
static rw_status hand_over(piped *p) {
    pthread_mutex_lock(&p->mu);
    p->filled++;
    pthread_cond_broadcast(&p->cv);
    while (!p->stop && p->filled - p->built >= BATCHES) pthread_cond_wait(&p->cv, &p->mu);
    int stop = p->stop;
    pthread_mutex_unlock(&p->mu);
    if (stop) return RW_ERR_CANCELLED;
    batch *b = &p->b[p->filled % BATCHES];
    b->n = b->used = 0;
    return RW_OK;
}

/* The next record of the batch being filled, with room for len bytes of
 * text; NULL once the builder stopped. */
static rec *next_rec(piped *p, size_t len) {
    batch *b = &p->b[p->filled % BATCHES];
    if ((b->n == BATCH_RECS || b->used + len > BATCH_TEXT) && hand_over(p) != RW_OK) return NULL;
    b = &p->b[p->filled % BATCHES];
    return &b->r[b->n++];
}

static rw_status pipe_account(void *ctx, uint32_t id, const char *ext, size_t len, int64_t first_seen) {
    piped *p = ctx;
    if (len > BATCH_TEXT) return rw_fail(&p->err, RW_ERR_CORRUPT, "account %u has an id of %zu bytes", id, len);
    rec *r = next_rec(p, len);
    if (!r) return RW_ERR_CANCELLED;
    batch *b = &p->b[p->filled % BATCHES];
    *r = (rec){.ts = first_seen, .id = id, .text = b->used, .len = (uint32_t)len, .what = REC_ACCOUNT};
    memcpy(b->text + b->used, ext, len);
    b->used += (uint32_t)len;
    return RW_OK;
}

static rw_status pipe_attribute(void *ctx, uint32_t id, rw_kind kind, const rw_hash *h, uint32_t parent,
                                int64_t first_seen) {
    rec *r = next_rec(ctx, 0);
    if (!r) return RW_ERR_CANCELLED;
    *r = (rec){.ts = first_seen, .id = id, .a = {parent}, .what = REC_ATTRIBUTE, .code = (uint8_t)kind, .h = *h};
    return RW_OK;
}

static rw_status pipe_event(void *ctx, int64_t ts, rw_event_type type, uint32_t account,
                            const uint32_t attr[RW_EVENT_ATTRS]) {
    rec *r = next_rec(ctx, 0);
    if (!r) return RW_ERR_CANCELLED;
    *r = (rec){.ts = ts, .id = account, .what = REC_EVENT, .code = (uint8_t)type};
    memcpy(r->a, attr, sizeof r->a);
    return RW_OK;
}

static void *reader_main(void *arg) {
    piped *p = arg;
    rw_store_loader cb = {.account = pipe_account, .attribute = pipe_attribute, .event = pipe_event};
    rw_status st = rw_store_load(p->s, &cb, p, &p->err);
    pthread_mutex_lock(&p->mu);
    p->filled++; /* the last batch, full or not */
    p->done = 1;
    p->st = st;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static rw_status build_batch(load_ctx *c, const batch *b) {
    rw_status st = RW_OK;
    for (uint32_t i = 0; i < b->n && st == RW_OK; i++) {
        const rec *r = &b->r[i];
        if (r->what == REC_ACCOUNT)
            st = load_account(c, r->id, b->text + r->text, r->len, r->ts);
        else if (r->what == REC_ATTRIBUTE)
            st = load_attribute(c, r->id, (rw_kind)r->code, &r->h, r->a[0], r->ts);
        else
            st = load_event(c, r->ts, (rw_event_type)r->code, r->id, r->a);
    }
    return st;
}

/* Builds from the reader's batches until it is through or a batch fails;
 * a failure stops the reader. */
static rw_status build_piped(load_ctx *c, piped *p) {
    rw_status st = RW_OK;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->built == p->filled && !p->done) pthread_cond_wait(&p->cv, &p->mu);
        int have = p->built < p->filled;
        pthread_mutex_unlock(&p->mu);
        if (!have) break;
        st = build_batch(c, &p->b[p->built % BATCHES]);
        pthread_mutex_lock(&p->mu);
        p->built++;
        if (st != RW_OK) p->stop = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (st != RW_OK) break;
    }
    return st;
}

/* rw_store_load into the graph, reading on a second thread when one can
 * be had. */
static rw_status load_rows(rw_store *s, load_ctx *c, rw_err *err) {
    piped *p = calloc(1, sizeof *p);
    batch *b = p ? malloc(BATCHES * sizeof *b) : NULL;
    pthread_t th;
    if (b) {
        *p = (piped){.s = s, .b = b, .st = RW_OK};
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        b[0].n = b[0].used = 0;
    }
    if (!b || pthread_create(&th, NULL, reader_main, p) != 0) {
        if (b) pthread_mutex_destroy(&p->mu), pthread_cond_destroy(&p->cv);
        free(b), free(p);
        rw_store_loader cb = {.account = load_account, .attribute = load_attribute, .event = load_event};
        return rw_store_load(s, &cb, c, err);
    }
    rw_status st = build_piped(c, p);
    pthread_join(th, NULL);
    /* the builder's failure first: the reader's is then its cancellation */
    if (st == RW_OK && p->st != RW_OK) {
        st = p->st;
        if (err) *err = p->err;
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(b);
    free(p);
    return st;
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
    st = load_rows(s, &c, err);
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
