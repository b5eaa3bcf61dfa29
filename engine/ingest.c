/* Bulk ingest, a pipeline of three stages that hand batches along: a reader
 * thread splits, parses and hashes lines; the calling thread applies them to
 * the graph (assigning node ids) and turns them into rows; a store thread
 * writes the rows and commits. Parsing with keyed hashing, graph updates and
 * SQLite inserts each cost about the same, so overlapping them is what makes
 * ingest fast on two cores. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "live.h"

#define BATCH_EVENTS  8192
#define MAX_IN_FLIGHT 8 /* batches between the three stages */
#define READ_CHUNK    (4u << 20)
#define COMMIT_EVERY  131072 /* events per (non-fsynced) transaction */

typedef struct {
    uint64_t line;
    char *msg;
} bad_line;

typedef struct batch {
    struct batch *next;
    rw_hevent *ev;
    size_t n;
    char *arena; /* account ids */
    size_t arena_len, arena_cap;
    bad_line *bad;
    size_t nbad, bad_cap;
    uint64_t lines, bytes, unknown_keys;
    uint64_t first_line; /* line number before this batch */
    rw_store_ops ops;    /* rows the graph writer produced for the store */
} batch;

typedef struct {
    batch *head, *tail;
} bqueue;

typedef struct {
    rw_engine *e;
    int fd;
    const char *name;
    int strict;
    /* One lock for the hand-offs: batches are thousands of events, so the
     * lock is taken a few hundred times a second. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bqueue parsed;  /* reader -> graph writer */
    bqueue applied; /* graph writer -> store */
    batch *free_list;
    size_t in_flight; /* batches allocated and not freed */
    int read_done;    /* reader finished (EOF or error) */
    int apply_done;   /* graph writer will send no more */
    int stop;         /* a later stage failed: earlier ones stop */
    rw_status read_status, store_status;
    rw_err read_err, store_err;
    uint64_t committed; /* events the store has committed */
} pipeline;

static void q_push(bqueue *q, batch *b) {
    b->next = NULL;
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
}

static batch *q_pop(bqueue *q) {
    batch *b = q->head;
    if (b) {
        q->head = b->next;
        if (!q->head) q->tail = NULL;
    }
    return b;
}

static void batch_free(batch *b) {
    if (!b) return;
    for (size_t i = 0; i < b->nbad; i++) free(b->bad[i].msg);
    free(b->bad);
    free(b->ev);
    free(b->arena);
    rw_store_ops_free(&b->ops);
    free(b);
}

static batch *batch_new(void) {
    batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->ev = malloc(BATCH_EVENTS * sizeof *b->ev);
    b->arena_cap = BATCH_EVENTS * 24;
    b->arena = malloc(b->arena_cap);
    if (!b->ev || !b->arena) {
        batch_free(b);
        return NULL;
    }
    return b;
}

static void batch_reset(batch *b) {
    for (size_t i = 0; i < b->nbad; i++) free(b->bad[i].msg);
    b->n = b->nbad = b->arena_len = 0;
    rw_store_ops_clear(&b->ops);
    b->lines = b->bytes = b->unknown_keys = 0;
}

static int batch_add_bad(batch *b, uint64_t line, const char *name, const char *msg) {
    if (b->nbad == b->bad_cap) {
        size_t cap = b->bad_cap ? b->bad_cap * 2 : 16;
        bad_line *nb = realloc(b->bad, cap * sizeof *nb);
        if (!nb) return -1;
        b->bad = nb;
        b->bad_cap = cap;
    }
    size_t need = strlen(name) + strlen(msg) + 32;
    char *m = malloc(need);
    if (!m) return -1;
    snprintf(m, need, "%s:%llu: %s", name, (unsigned long long)line, msg);
    b->bad[b->nbad++] = (bad_line){line, m};
    return 0;
}

static int batch_add_event(batch *b, const rw_event_raw *raw, const rw_hasher *h) {
    if (b->arena_len + raw->account_len > b->arena_cap) {
        size_t cap = b->arena_cap * 2;
        char *na = realloc(b->arena, cap);
        if (!na) return -1;
        b->arena = na;
        b->arena_cap = cap;
    }
    rw_hevent *ev = &b->ev[b->n++];
    rw_engine_hash_event(h, raw, ev);
    ev->account_off = (uint32_t)b->arena_len;
    ev->account_len = (uint16_t)raw->account_len;
    memcpy(b->arena + b->arena_len, raw->account, raw->account_len);
    b->arena_len += raw->account_len;
    return 0;
}

static int stopped(pipeline *p) {
    pthread_mutex_lock(&p->mu);
    int s = p->stop;
    pthread_mutex_unlock(&p->mu);
    return s;
}

/* Hands a full batch to the graph writer and takes a free one, waiting while
 * MAX_IN_FLIGHT batches are already on their way. Returns NULL when a later
 * stage asked us to stop or memory ran out. */
static batch *push_batch(pipeline *p, batch *b) {
    pthread_mutex_lock(&p->mu);
    q_push(&p->parsed, b);
    pthread_cond_broadcast(&p->cv);
    while (!p->free_list && p->in_flight >= MAX_IN_FLIGHT && !p->stop) pthread_cond_wait(&p->cv, &p->mu);
    batch *nb = NULL;
    if (!p->stop) {
        nb = p->free_list;
        if (nb)
            p->free_list = nb->next;
        else
            p->in_flight++;
    }
    int stop = p->stop;
    pthread_mutex_unlock(&p->mu);
    if (stop) return NULL;
    if (!nb) {
        nb = batch_new();
        if (!nb) {
            pthread_mutex_lock(&p->mu);
            p->in_flight--;
            pthread_mutex_unlock(&p->mu);
        }
    } else {
        batch_reset(nb);
    }
    return nb;
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

typedef struct {
    pipeline *p;
    batch *b;
    uint64_t line;
    rw_event_raw raw;
} reader;

/* Parses one complete line into the current batch. Returns -1 to stop. */
static int take_line(reader *r, const char *s, size_t n) {
    r->line++;
    r->b->lines++;
    r->b->bytes += n + 1;
    if (is_blank(s, n)) return 0;
    rw_err perr;
    if (rw_event_parse(&r->raw, s, n, &perr) != RW_OK) {
        if (batch_add_bad(r->b, r->line, r->p->name, perr.msg) != 0) return -1;
    } else {
        r->b->unknown_keys += r->raw.unknown_keys;
        if (batch_add_event(r->b, &r->raw, r->p->e->hasher) != 0) return -1;
    }
    if (r->b->n == BATCH_EVENTS || r->b->nbad >= 1024) {
        uint64_t line = r->line;
        r->b = push_batch(r->p, r->b);
        if (!r->b) return -1;
        r->b->first_line = line;
    }
    return 0;
}

static void *reader_main(void *arg) {
    pipeline *p = arg;
    reader r = {.p = p};
    char *buf = malloc(READ_CHUNK + RW_LINE_MAX + 1);
    size_t have = 0;
    int skipping = 0; /* inside an overlong line: discard to its newline */
    r.b = batch_new();
    pthread_mutex_lock(&p->mu);
    p->in_flight++;
    pthread_mutex_unlock(&p->mu);
    if (!buf || !r.b) {
        p->read_status = rw_fail(&p->read_err, RW_ERR_NOMEM, "out of memory for the read buffer");
        goto done;
    }
    for (;;) {
        ssize_t got = read(p->fd, buf + have, READ_CHUNK);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            p->read_status = rw_fail(&p->read_err, RW_ERR_IO, "%s: read error: %s", p->name, strerror(errno));
            goto done;
        }
        size_t end = have + (size_t)got, start = 0;
        for (;;) {
            char *nl = memchr(buf + start, '\n', end - start);
            if (!nl) break;
            size_t len = (size_t)(nl - (buf + start));
            if (skipping) {
                skipping = 0;
                r.b->bytes += len + 1;
            } else if (take_line(&r, buf + start, len) != 0) {
                goto stopped;
            }
            start += len + 1;
        }
        have = end - start;
        memmove(buf, buf + start, have);
        if (got == 0) break;
        if (have > RW_LINE_MAX) {
            /* Refuse the line rather than buffer it whole: report it once and
             * drop bytes until its newline. */
            if (!skipping) {
                r.line++;
                r.b->lines++;
                char msg[96];
                snprintf(msg, sizeof msg, "line: longer than %u bytes, skipped", RW_LINE_MAX);
                if (batch_add_bad(r.b, r.line, p->name, msg) != 0) goto stopped;
                skipping = 1;
            }
            r.b->bytes += have;
            have = 0;
        }
    }
    if (have > 0 && !skipping && take_line(&r, buf, have) != 0) goto stopped; /* last line without newline */
    if (r.b && (r.b->n || r.b->nbad || r.b->lines)) {
        /* The last batch goes without taking a new one. */
        pthread_mutex_lock(&p->mu);
        q_push(&p->parsed, r.b);
        pthread_mutex_unlock(&p->mu);
        r.b = NULL;
        goto done;
    }
stopped:
    if (r.b == NULL && !stopped(p) && p->read_status == RW_OK)
        p->read_status = rw_fail(&p->read_err, RW_ERR_NOMEM, "out of memory while reading %s", p->name);
done:
    batch_free(r.b);
    free(buf);
    pthread_mutex_lock(&p->mu);
    p->read_done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Blocks for the next batch of q; NULL once *done is set and q is empty. */
static batch *take(pipeline *p, bqueue *q, const int *done) {
    pthread_mutex_lock(&p->mu);
    while (!q->head && !*done) pthread_cond_wait(&p->cv, &p->mu);
    batch *b = q_pop(q);
    pthread_mutex_unlock(&p->mu);
    return b;
}

static void give(pipeline *p, bqueue *q, batch *b) {
    pthread_mutex_lock(&p->mu);
    q_push(q, b);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void recycle(pipeline *p, batch *b) {
    pthread_mutex_lock(&p->mu);
    b->next = p->free_list;
    p->free_list = b;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void stop_all(pipeline *p) {
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* The store stage: writes each batch's rows, commits every COMMIT_EVERY
 * events (strict: once, at the end) and fsyncs the last commit. After a
 * failure it rolls back and only recycles what still arrives. */
static void *store_main(void *arg) {
    pipeline *p = arg;
    rw_store *s = p->e->store;
    rw_err *err = &p->store_err;
    uint64_t pending = 0;
    int in_txn = 0;
    batch *b;
    rw_engine_store_lock(p->e);
    while ((b = take(p, &p->applied, &p->apply_done)) != NULL) {
        if (p->store_status == RW_OK) {
            rw_status st = RW_OK;
            if (!in_txn) {
                st = rw_store_begin(s, err);
                in_txn = st == RW_OK;
            }
            if (st == RW_OK) st = rw_engine_write_ops(s, &b->ops, err);
            pending += b->ops.nev;
            if (st == RW_OK && !p->strict && pending >= COMMIT_EVERY) {
                in_txn = 0;
                st = rw_store_commit(s, 0, err);
                if (st == RW_OK) p->committed += pending, pending = 0;
            }
            if (st != RW_OK) {
                p->store_status = st;
                if (in_txn) rw_store_rollback(s);
                in_txn = 0;
                stop_all(p);
            }
        }
        recycle(p, b);
    }
    if (p->store_status == RW_OK && in_txn) {
        p->store_status = rw_store_commit(s, 1, err);
        if (p->store_status == RW_OK) p->committed += pending;
    } else if (in_txn) {
        rw_store_rollback(s);
    }
    rw_engine_store_unlock(p->e);
    return NULL;
}

typedef struct {
    rw_engine *e;
    const rw_ingest_opts *opts;
    rw_ingest_stats *stats;
    double last_progress;
} writer;

#define PREFETCH_AHEAD 8

/* Applies a batch to the graph, producing its rows in b->ops. */
static rw_status apply_batch(writer *w, batch *b, rw_err *err) {
    rw_apply_delta d = {0};
    rw_store_ops_clear(&b->ops);
    for (size_t i = 0; i < b->n; i++) {
        /* The graph is memory-latency bound: announce the keys of an event
         * a few ahead so its index slots and records are in cache when it is
         * applied. */
        if (i + PREFETCH_AHEAD < b->n) {
            const rw_hevent *ahead = &b->ev[i + PREFETCH_AHEAD];
            rw_engine_prefetch(w->e, ahead, b->arena + ahead->account_off);
        }
        uint32_t node;
        rw_status st = rw_engine_apply(w->e, &b->ev[i], b->arena + b->ev[i].account_off, &node, &b->ops, &d, err);
        if (st != RW_OK) return st;
    }
    w->stats->events += b->n;
    w->stats->new_accounts += d.new_accounts;
    w->stats->new_attributes += d.new_attributes;
    w->stats->new_edges += d.new_edges;
    return RW_OK;
}

static void count_batch(writer *w, const batch *b) {
    w->stats->lines += b->lines;
    w->stats->bytes += b->bytes;
    w->stats->unknown_keys += b->unknown_keys;
    w->stats->bad_lines += b->nbad;
    for (size_t i = 0; i < b->nbad; i++)
        if (w->opts->on_bad_line) w->opts->on_bad_line(w->opts->ctx, b->bad[i].msg);
    double now = rw_now();
    if (w->opts->on_progress && now - w->last_progress >= 0.1) {
        w->last_progress = now;
        w->opts->on_progress(w->opts->ctx, w->stats, w->opts->bytes_total);
    }
}

static void free_list(batch *b) {
    while (b) {
        batch *n = b->next;
        batch_free(b);
        b = n;
    }
}

/* Applies the parsed batches as they come (strict: holds them until every
 * line was read and good) and hands them to the store thread. *touched:
 * the graph took some of them. Under the write lock. */
static rw_status apply_all(pipeline *p, writer *w, const char *name, int *touched, rw_err *err) {
    const rw_ingest_opts *opts = w->opts;
    rw_ingest_stats *out = w->stats;
    bqueue held = {0}; /* strict mode applies nothing before EOF */
    rw_status st = RW_OK;
    batch *b;
    while ((b = take(p, &p->parsed, &p->read_done)) != NULL) {
        count_batch(w, b);
        if (st == RW_OK && stopped(p)) st = RW_ERR_IO; /* the store failed; its message comes below */
        if (st == RW_OK && opts->strict && b->nbad) {
            st = rw_fail(err, RW_ERR_INVALID, "%s (strict: nothing of %s was stored)", b->bad[0].msg, name);
        } else if (st == RW_OK && opts->max_bad_lines && out->bad_lines >= opts->max_bad_lines) {
            st = rw_fail(err, RW_ERR_LIMIT, "%s: %llu bad lines, giving up", name, (unsigned long long)out->bad_lines);
        }
        if (st != RW_OK) {
            stop_all(p);
            recycle(p, b);
            continue;
        }
        if (opts->strict) {
            q_push(&held, b);
            continue;
        }
        *touched = 1;
        st = apply_batch(w, b, err);
        give(p, &p->applied, b);
    }
    while (st == RW_OK && (b = q_pop(&held)) != NULL) {
        *touched = 1;
        st = apply_batch(w, b, err);
        give(p, &p->applied, b);
    }
    free_list(held.head);
    return st;
}

/* Tells the store thread that nothing more comes and waits for it. */
static void end_store(pipeline *p, pthread_t store_th) {
    pthread_mutex_lock(&p->mu);
    p->apply_done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(store_th, NULL);
}

rw_status rw_engine_ingest_fd(rw_engine *e, rw_ingest_stats *out, int fd, const char *name, const rw_ingest_opts *opts,
                              rw_err *err) {
    memset(out, 0, sizeof *out);
    if (!e->hasher) return rw_fail(err, RW_ERR_PERM, "the engine is read-only");
    rw_status need = rw_engine_need_graph(e, err);
    if (need != RW_OK) return need;
    rw_ingest_opts none = {0};
    if (!opts) opts = &none;
    double t0 = rw_now();
    /* Signups recorded before are made durable first: a failed ingest
     * rebuilds the graph, which needs nothing pending. */
    rw_status st = rw_engine_flush(e, err);
    if (st != RW_OK) return st;
    /* Into an empty log, the account index is built once at the end. */
    int bulk = e->events == 0;
    if (bulk) {
        rw_engine_store_lock(e);
        st = rw_store_events_index(e->store, 0, err);
        rw_engine_store_unlock(e);
        if (st != RW_OK) return st;
    }
    pipeline p = {.e = e, .fd = fd, .name = name, .strict = opts->strict};
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    writer w = {.e = e, .opts = opts, .stats = out};
    pthread_t reader_th, store_th;
    int have_reader = 0, have_store = 0;
    if (pthread_create(&reader_th, NULL, reader_main, &p) != 0) {
        st = rw_fail(err, RW_ERR_INTERNAL, "cannot start the reader thread");
        goto cleanup;
    }
    have_reader = 1;
    if (pthread_create(&store_th, NULL, store_main, &p) != 0) {
        stop_all(&p);
        st = rw_fail(err, RW_ERR_INTERNAL, "cannot start the store thread");
        goto cleanup;
    }
    have_store = 1;
    pthread_rwlock_wrlock(&e->lock);
    uint64_t applied_before = e->events;
    int graph_touched = 0;
    st = apply_all(&p, &w, name, &graph_touched, err);
    end_store(&p, store_th);
    have_store = 0;
    if (p.store_status != RW_OK) {
        st = p.store_status;
        if (err) *err = p.store_err;
    } else if (st == RW_OK && p.read_status != RW_OK) {
        st = p.read_status;
        if (err) *err = p.read_err;
    }
    out->events = p.committed;
    if (graph_touched && e->events - applied_before != p.committed) {
        /* The graph holds events the store did not keep: rebuild it from
         * what the store has, so memory never claims more than disk. */
        rw_err ignored;
        rw_engine_reload_graph(e, &ignored);
    }
    pthread_rwlock_unlock(&e->lock);
cleanup:
    if (have_store) end_store(&p, store_th);
    if (have_reader) pthread_join(reader_th, NULL);
    free_list(p.parsed.head);
    free_list(p.applied.head);
    free_list(p.free_list);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    if (bulk) {
        rw_err ierr;
        rw_engine_store_lock(e);
        rw_status ist = rw_store_events_index(e->store, 1, &ierr);
        rw_engine_store_unlock(e);
        if (st == RW_OK && ist != RW_OK) {
            st = ist;
            if (err) *err = ierr;
        }
    }
    out->seconds = rw_now() - t0;
    if (opts->on_progress) opts->on_progress(opts->ctx, out, opts->bytes_total);
    return st;
}
