/* Bulk ingest: a reader thread splits, parses and hashes lines into batches;
 * the calling thread applies them to the graph and the store and commits.
 * Two stages because parsing plus keyed hashing costs about as much as the
 * writes, and the machine has two cores. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_int.h"

#define BATCH_EVENTS 8192
#define QUEUE_DEPTH 4
#define READ_CHUNK (4u << 20)
#define COMMIT_EVERY 131072 /* events per (non-fsynced) transaction */

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
} batch;

typedef struct {
    rw_engine *e;
    int fd;
    const char *name;
    /* queue from reader to writer, and free batches back */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    batch *head, *tail, *free_list;
    size_t queued;
    int done;       /* reader finished (EOF or error) */
    int stop;       /* writer asks the reader to stop */
    rw_status read_status;
    rw_err read_err;
} pipeline;

static void batch_free(batch *b) {
    if (!b) return;
    for (size_t i = 0; i < b->nbad; i++) free(b->bad[i].msg);
    free(b->bad);
    free(b->ev);
    free(b->arena);
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

/* Hands a full batch to the writer and takes a free one (blocking while the
 * queue is full). Returns NULL when the writer asked us to stop or memory
 * ran out. */
static batch *push_batch(pipeline *p, batch *b) {
    pthread_mutex_lock(&p->mu);
    while (p->queued >= QUEUE_DEPTH && !p->stop) pthread_cond_wait(&p->cv, &p->mu);
    if (p->stop) {
        pthread_mutex_unlock(&p->mu);
        batch_free(b);
        return NULL;
    }
    b->next = NULL;
    if (p->tail)
        p->tail->next = b;
    else
        p->head = b;
    p->tail = b;
    p->queued++;
    batch *nb = p->free_list;
    if (nb) p->free_list = nb->next;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (!nb) nb = batch_new();
    else batch_reset(nb);
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
            r.line++;
            r.b->lines++;
            r.b->bytes += have;
            char msg[96];
            snprintf(msg, sizeof msg, "line: longer than %u bytes, skipped", RW_LINE_MAX);
            if (batch_add_bad(r.b, r.line, p->name, msg) != 0) goto stopped;
            have = 0;
            skipping = 1;
        }
    }
    if (have > 0 && !skipping && take_line(&r, buf, have) != 0) goto stopped; /* last line without newline */
    if (r.b && (r.b->n || r.b->nbad || r.b->lines)) {
        r.b = push_batch(p, r.b);
    }
stopped:
    if (r.b == NULL && !p->stop && p->read_status == RW_OK)
        p->read_status = rw_fail(&p->read_err, RW_ERR_NOMEM, "out of memory while reading %s", p->name);
done:
    batch_free(r.b);
    free(buf);
    pthread_mutex_lock(&p->mu);
    p->done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Takes the next batch, or NULL when the reader is done and the queue empty. */
static batch *pop_batch(pipeline *p) {
    pthread_mutex_lock(&p->mu);
    while (!p->head && !p->done) pthread_cond_wait(&p->cv, &p->mu);
    batch *b = p->head;
    if (b) {
        p->head = b->next;
        if (!p->head) p->tail = NULL;
        p->queued--;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return b;
}

static void recycle(pipeline *p, batch *b) {
    pthread_mutex_lock(&p->mu);
    b->next = p->free_list;
    p->free_list = b;
    pthread_mutex_unlock(&p->mu);
}

typedef struct {
    rw_engine *e;
    const rw_ingest_opts *opts;
    rw_ingest_stats *stats;
    uint64_t uncommitted;
    int in_txn;
    double last_progress;
} writer;

static rw_status apply_batch(writer *w, const batch *b, rw_err *err) {
    rw_status st = RW_OK;
    rw_apply_delta d = {0};
    if (!w->in_txn) {
        st = rw_store_begin(w->e->store, err);
        if (st != RW_OK) return st;
        w->in_txn = 1;
    }
    for (size_t i = 0; i < b->n; i++) {
        uint32_t node;
        st = rw_engine_apply(w->e, &b->ev[i], b->arena + b->ev[i].account_off, &node, &d, err);
        if (st != RW_OK) return st;
    }
    w->stats->events += b->n;
    w->stats->new_accounts += d.new_accounts;
    w->stats->new_attributes += d.new_attributes;
    w->stats->new_edges += d.new_edges;
    w->uncommitted += b->n;
    if (!w->opts->strict && w->uncommitted >= COMMIT_EVERY) {
        st = rw_store_commit(w->e->store, 0, err);
        w->in_txn = 0;
        if (st == RW_OK) w->uncommitted = 0;
    }
    return st;
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

rw_status rw_engine_ingest_fd(rw_engine *e, rw_ingest_stats *out, int fd, const char *name,
                              const rw_ingest_opts *opts, rw_err *err) {
    memset(out, 0, sizeof *out);
    if (!e->hasher) return rw_fail(err, RW_ERR_PERM, "the engine is read-only");
    rw_ingest_opts none = {0};
    if (!opts) opts = &none;
    double t0 = rw_now();
    rw_status st = RW_OK;
    pipeline p = {.e = e, .fd = fd, .name = name};
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    writer w = {.e = e, .opts = opts, .stats = out};
    batch *held = NULL, **held_tail = &held; /* strict mode keeps batches until EOF */
    pthread_t th;
    if (pthread_create(&th, NULL, reader_main, &p) != 0) {
        st = rw_fail(err, RW_ERR_INTERNAL, "cannot start the reader thread");
        goto cleanup;
    }
    pthread_rwlock_wrlock(&e->lock);
    batch *b;
    while ((b = pop_batch(&p)) != NULL) {
        count_batch(&w, b);
        if (st == RW_OK && opts->strict && b->nbad) {
            st = rw_fail(err, RW_ERR_INVALID, "%s (strict: nothing of %s was stored)", b->bad[0].msg, name);
        } else if (st == RW_OK && opts->max_bad_lines && out->bad_lines >= opts->max_bad_lines) {
            st = rw_fail(err, RW_ERR_LIMIT, "%s: %llu bad lines, giving up", name,
                         (unsigned long long)out->bad_lines);
        }
        if (st != RW_OK) {
            /* Drain without applying so the reader can finish. */
            pthread_mutex_lock(&p.mu);
            p.stop = 1;
            pthread_cond_broadcast(&p.cv);
            pthread_mutex_unlock(&p.mu);
            batch_free(b);
            continue;
        }
        if (opts->strict) {
            b->next = NULL;
            *held_tail = b;
            held_tail = &b->next;
            continue;
        }
        st = apply_batch(&w, b, err);
        recycle(&p, b);
    }
    for (batch *h = held; st == RW_OK && h; h = h->next) st = apply_batch(&w, h, err);
    if (st == RW_OK && p.read_status != RW_OK) {
        st = p.read_status;
        if (err) *err = p.read_err;
    }
    if (st == RW_OK && w.in_txn) {
        st = rw_store_commit(e->store, 1, err);
        w.in_txn = 0;
        if (st == RW_OK) w.uncommitted = 0;
    }
    if (st != RW_OK && w.uncommitted) {
        /* The graph already holds the uncommitted events: rebuild it from
         * what the store kept, so memory never claims more than disk. */
        rw_store_rollback(e->store);
        out->events -= w.uncommitted;
        rw_err ignored;
        if (rw_engine_reload_graph(e, &ignored) != RW_OK) {
            /* leave the old graph; the caller should reopen */
        }
    }
    pthread_rwlock_unlock(&e->lock);
    pthread_join(th, NULL);
cleanup:
    while (held) {
        batch *n = held->next;
        batch_free(held);
        held = n;
    }
    while ((b = p.head) != NULL) {
        p.head = b->next;
        batch_free(b);
    }
    while ((b = p.free_list) != NULL) {
        p.free_list = b->next;
        batch_free(b);
    }
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    out->seconds = rw_now() - t0;
    if (opts->on_progress) opts->on_progress(opts->ctx, out, opts->bytes_total);
    return st;
}
