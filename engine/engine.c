/* The engine: opening, loading the graph from the store, applying events,
 * statistics. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_int.h"

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

static rw_status load_graph(rw_store *s, rw_graph **out, uint64_t *events, rw_err *err) {
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

static char *default_key_path(const char *db) {
    size_t n = strlen(db);
    char *p = malloc(n + 5);
    if (p) {
        memcpy(p, db, n);
        memcpy(p + n, ".key", 5);
    }
    return p;
}

/* One writer at a time: a second process writing the same database (an
 * ingest or an erasure beside a running server) would hand out the node ids
 * the first holds in memory, and leave its graph stale. The lock is an flock
 * on "<db>.lock", not on the database: closing any descriptor of the
 * database would drop SQLite's own POSIX locks. Where the file cannot be
 * made (a read-only directory) SQLite's own error says more. */
static rw_status take_writer_lock(rw_engine *e, const char *db, const char *writer, rw_err *err) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s.lock", db) >= (int)sizeof path)
        return rw_fail(err, RW_ERR_INVALID, "database path too long");
    rw_status st = rw_lock_file(path, 0, &e->lock_fd, err);
    if (st == RW_ERR_PERM) return RW_OK;
    if (st != RW_OK) return st;
    if (e->lock_fd < 0) { /* held: the file names the holder */
        char who[128] = {0};
        ssize_t n = -1;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            n = read(fd, who, sizeof who - 1);
            close(fd);
        }
        if (n > 0 && who[n - 1] == '\n') who[n - 1] = 0;
        return rw_fail(err, RW_ERR_EXISTS,
                       "%s is in use by another ringwatch process (%s); stop it first, or use the running "
                       "server's API",
                       db, n > 0 ? who : "unknown");
    }
    char who[128];
    int n = snprintf(who, sizeof who, "ringwatch %s, pid %ld\n", writer, (long)getpid());
    /* Who holds it, for the next one's message; a failure loses only that. */
    if (ftruncate(e->lock_fd, 0) == 0) (void)!pwrite(e->lock_fd, who, (size_t)n, 0);
    return RW_OK;
}

/* The key before the store, which compares it with the check value it keeps
 * before writing anything: another database's key file would split every
 * identity in two. A missing key is created only for a database without
 * hashed attributes (a new key would not match them), then given to the
 * store. Read-only, a missing key leaves lookups by raw value unavailable. */
static rw_status open_store_with_key(rw_engine *e, const rw_engine_config *cfg, const char *db, const char *key_path,
                                     rw_err *err) {
    rw_status st = rw_hasher_open(&e->hasher, key_path, 0, err);
    if (st != RW_OK && st != RW_ERR_NOTFOUND) return st;
    rw_store_key key = {.path = key_path};
    if (e->hasher) rw_hasher_key_check(e->hasher, key.check);
    st = rw_store_open_keyed(&e->store, db, cfg->readonly ? RW_STORE_READONLY : 0, e->hasher ? &key : NULL, err);
    if (st != RW_OK || e->hasher || cfg->readonly) return st;
    rw_store_counts n;
    st = rw_store_count(e->store, &n, err);
    if (st == RW_OK && n.attributes > 0)
        return rw_fail(err, RW_ERR_NOTFOUND,
                       "key file %s is missing but %s holds %llu hashed attributes; restore the key file "
                       "(a new key would not match them)",
                       key_path, db, (unsigned long long)n.attributes);
    if (st == RW_OK) st = rw_hasher_open(&e->hasher, key_path, 1, err);
    if (st != RW_OK) return st;
    rw_hasher_key_check(e->hasher, key.check);
    return rw_store_use_key(e->store, &key, err);
}

rw_status rw_engine_open(rw_engine **out, const rw_engine_config *cfg, rw_err *err) {
    *out = NULL;
    rw_status st = RW_OK;
    char *key_path = NULL;
    const char *db = cfg->db_path ? cfg->db_path : "ringwatch.db";
    rw_engine *e = calloc(1, sizeof *e);
    if (!e || !(e->db_path = strdup(db))) {
        free(e);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    }
    e->lock_fd = -1;
    pthread_rwlock_init(&e->lock, NULL);
    pthread_mutex_init(&e->store_mu, NULL);
    pthread_mutex_init(&e->turn_mu, NULL);
    pthread_cond_init(&e->turn_cv, NULL);
    if (cfg->key_path) {
        key_path = strdup(cfg->key_path);
    } else {
        key_path = default_key_path(db);
    }
    if (!key_path) {
        st = rw_fail(err, RW_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* The key comes first: a database whose key is lost cannot hash new
     * values consistently, so refuse to write rather than fork identities. */
    if (cfg->writer && !cfg->readonly) st = take_writer_lock(e, db, cfg->writer, err);
    if (st != RW_OK) goto done;
    st = open_store_with_key(e, cfg, db, key_path, err);
    if (st != RW_OK) goto done;
    /* Loading the graph replays the whole log (seconds at a million
     * accounts); queries of stored runs do not need it. */
    if (!cfg->store_only) st = load_graph(e->store, &e->graph, &e->events, err);
    e->readonly = cfg->readonly;
    e->batch_only = cfg->batch_only;
    if (st == RW_OK) {
        e->online_ready = 1;
        st = rw_engine_online_open(e, err);
    }
done:
    free(key_path);
    if (st != RW_OK) {
        rw_engine_close(e);
        return st;
    }
    *out = e;
    return RW_OK;
}

void rw_engine_close(rw_engine *e) {
    if (!e) return;
    if (e->online_ready) rw_engine_online_close(e);
    rw_graph_free(e->graph);
    rw_store_close(e->store);
    rw_hasher_free(e->hasher);
    pthread_rwlock_destroy(&e->lock);
    pthread_mutex_destroy(&e->store_mu);
    pthread_mutex_destroy(&e->turn_mu);
    pthread_cond_destroy(&e->turn_cv);
    if (e->lock_fd >= 0) close(e->lock_fd); /* releases the writer lock */
    free(e->db_path);
    free(e);
}

void rw_engine_store_lock(rw_engine *e) {
    pthread_mutex_lock(&e->turn_mu);
    e->store_asks++;
    pthread_mutex_unlock(&e->turn_mu);
    pthread_mutex_lock(&e->store_mu);
    pthread_mutex_lock(&e->turn_mu);
    e->store_gets++;
    pthread_cond_broadcast(&e->turn_cv);
    pthread_mutex_unlock(&e->turn_mu);
}

void rw_engine_store_unlock(rw_engine *e) {
    pthread_mutex_unlock(&e->store_mu);
}

void rw_engine_store_hand_over(rw_engine *e) {
    pthread_mutex_lock(&e->turn_mu);
    /* Read with the store held: every ask counted and not yet served is a
     * thread queued for it now. Waiting for that many grants (not for no
     * one asking) keeps a stream of commits from starving the writer. */
    uint64_t want = e->store_asks;
    pthread_mutex_unlock(&e->store_mu);
    while (e->store_gets < want) pthread_cond_wait(&e->turn_cv, &e->turn_mu);
    pthread_mutex_unlock(&e->turn_mu);
    rw_engine_store_lock(e);
}

void rw_engine_test_chunks(rw_engine *e, uint32_t rows, rw_status (*fn)(void *ctx, int64_t run, uint64_t chunk),
                           void *ctx) {
    e->chunk_rows = rows;
    e->chunk_fn = fn;
    e->chunk_ctx = ctx;
}

rw_status rw_engine_need_graph(const rw_engine *e, rw_err *err) {
    if (e->graph) return RW_OK;
    return rw_fail(err, RW_ERR_INTERNAL, "the engine was opened without its graph (store_only)");
}

rw_status rw_engine_reload_graph(rw_engine *e, rw_err *err) {
    rw_graph *g = NULL;
    uint64_t events = 0;
    rw_engine_store_lock(e);
    rw_status st = load_graph(e->store, &g, &events, err);
    if (st == RW_OK) {
        rw_graph_free(e->graph);
        e->graph = g;
        e->events = events;
        st = rw_engine_online_reload(e, err);
    }
    rw_engine_store_unlock(e);
    return st;
}

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
    ops->nacc = ops->nattr = ops->nev = 0;
}

void rw_store_ops_free(rw_store_ops *ops) {
    free(ops->acc);
    free(ops->attr);
    free(ops->ev);
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
        st = rw_store_put_event_scored(s, ev->ts, (rw_event_type)ev->type, ev->account, ev->attr, ev->score, err);
    }
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

/* ---- statistics --------------------------------------------------------- */

static int degree_bucket(uint32_t d) {
    int b = 0;
    while (d > 1 && b < RW_DEGREE_BUCKETS - 1) {
        d >>= 1;
        b++;
    }
    return b;
}

rw_status rw_engine_get_stats(rw_engine *e, rw_engine_stats *out, rw_err *err) {
    memset(out, 0, sizeof *out);
    rw_status need = rw_engine_need_graph(e, err);
    if (need != RW_OK) return need;
    pthread_rwlock_rdlock(&e->lock);
    const rw_graph *g = e->graph;
    uint32_t n = rw_graph_node_count(g);
    for (uint32_t v = 0; v < n; v++) {
        rw_kind k = rw_graph_kind(g, v);
        if ((unsigned)k >= RW_KIND_COUNT) continue; /* the placeholder of an erased node */
        uint32_t d = rw_graph_degree(g, v);
        out->nodes[k]++;
        out->degree_hist[k][degree_bucket(d)]++;
        if (d > out->max_degree[k]) out->max_degree[k] = d;
    }
    out->edges = rw_graph_edge_count(g);
    out->events = e->events;
    out->graph_bytes = rw_graph_memory(g);
    pthread_rwlock_unlock(&e->lock);
    return RW_OK;
}

/* A min-heap on degree keeps the top n in one pass over the nodes. */
static void heap_sift(rw_hub *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].degree < h[m].degree) m = l;
        if (r < n && h[r].degree < h[m].degree) m = r;
        if (m == i) return;
        rw_hub t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static int hub_cmp(const void *a, const void *b) {
    const rw_hub *x = a, *y = b;
    return x->degree < y->degree ? 1 : x->degree > y->degree ? -1 : strcmp(x->pseudonym, y->pseudonym);
}

size_t rw_engine_top_hubs(rw_engine *e, rw_hub *out, size_t n) {
    size_t have = 0;
    if (!n || !e->graph) return 0;
    pthread_rwlock_rdlock(&e->lock);
    const rw_graph *g = e->graph;
    uint32_t nodes = rw_graph_node_count(g);
    for (uint32_t v = 0; v < nodes; v++) {
        rw_kind k = rw_graph_kind(g, v);
        if (k == RW_KIND_ACCOUNT || k == RW_KIND_SUBNET || (unsigned)k >= RW_KIND_COUNT) continue;
        uint32_t d = rw_graph_degree(g, v);
        if (have == n && d <= out[0].degree) continue;
        rw_hub hub = {
            .kind = k, .degree = d, .first_seen = rw_graph_first_seen(g, v), .last_seen = rw_graph_last_seen(g, v)};
        rw_hash_pseudonym(hub.pseudonym, sizeof hub.pseudonym, k, rw_graph_attr_hash(g, v));
        if (have < n) {
            out[have++] = hub;
            if (have == n)
                for (size_t i = n / 2 + 1; i-- > 0;) heap_sift(out, n, i);
        } else {
            out[0] = hub;
            heap_sift(out, n, 0);
        }
    }
    pthread_rwlock_unlock(&e->lock);
    qsort(out, have, sizeof *out, hub_cmp);
    return have;
}
