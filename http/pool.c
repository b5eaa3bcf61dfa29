/* http: the analysts' pool. Pictures and exports lay out and write whole
 * subgraphs, seconds of CPU that would hold an MHD thread every signup
 * queued behind it waits for; they run here instead, on a few threads of
 * lower priority, while their connections stay suspended in MHD.
 *
 * A task carries copies of its request; the pool thread dispatches it (the
 * handler, then the whole body read into memory, so nothing heavy is left
 * for MHD's thread to pull), marks it done and calls the wake-up that
 * resumes the connection. The queue is bounded: a full one answers 503
 * with Retry-After at once. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http_int.h"

#define POOL_NICE   10 /* below the threads answering signups */
#define RETRY_AFTER 2  /* seconds */

struct rw_pool_task {
    rw_pool_task *next;
    rw_http_request req;
    char *copy; /* method, path, query, headers and body, one allocation */
    rw_http_response out;
    int done; /* under the pool's mutex */
    void (*wake)(void *ctx);
    void *ctx;
};

/* Reads a streamed answer into its body, so MHD only copies bytes. */
static void drain(rw_http_response *out) {
    if (!out->stream.read) return;
    size_t len = 0, cap = 64 * 1024;
    char *b = malloc(cap);
    rw_status st = b ? RW_OK : RW_ERR_NOMEM;
    for (size_t n = 1; st == RW_OK && n;) {
        if (len == cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                st = RW_ERR_NOMEM;
                break;
            }
            b = nb, cap *= 2;
        }
        st = out->stream.read(out->stream.ctx, b + len, cap - len, &n);
        len += n;
    }
    unsigned status = out->status;
    const char *type = out->content_type;
    rw_http_response_free(out); /* closes the stream */
    if (st != RW_OK) {
        free(b);
        rw_http_problem(out, RW_PROB_INTERNAL, NULL, "the export failed while being written");
        return;
    }
    out->status = status;
    out->content_type = type;
    out->body = b;
    out->body_len = len;
}

static void *work(void *arg) {
    rw_http_server *s = arg;
    rw_http_pool *p = &s->pool;
    /* Linux sets a thread's nice value by its thread id. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), POOL_NICE);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping) pthread_cond_wait(&p->cv, &p->mu);
        if (!p->head) break;
        rw_pool_task *t = p->head;
        p->head = t->next;
        if (!p->head) p->tail = NULL;
        p->waiting--;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        rw_http_dispatch(s, &t->req, &t->out);
        drain(&t->out);
        pthread_mutex_lock(&p->mu);
        t->done = 1;
        p->running--;
        /* Woken under the lock: the connection's owner frees the task only
         * after taking it, so the wake-up never reaches a freed task. */
        if (t->wake) t->wake(t->ctx);
        pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

rw_status rw_pool_start(rw_http_server *s, rw_err *err) {
    rw_http_pool *p = &s->pool;
    size_t n = s->cfg.analyst_threads ? s->cfg.analyst_threads : 1;
    if (n > RW_POOL_THREADS_MAX) n = RW_POOL_THREADS_MAX;
    for (; p->nth < n; p->nth++) {
        int rc = pthread_create(&p->th[p->nth], NULL, work, s);
        if (rc) return rw_fail(err, RW_ERR_INTERNAL, "analyst thread: %s", strerror(rc));
    }
    return RW_OK;
}

void rw_pool_stop(rw_http_server *s) {
    rw_http_pool *p = &s->pool;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->nth; i++) pthread_join(p->th[i], NULL);
    p->nth = 0;
}

/* Copies the request's strings into one allocation owned by t. */
static int copy_request(rw_pool_task *t, const rw_http_request *req) {
    const char *src[] = {req->method, req->path, req->query, req->authorization, req->content_type};
    size_t need = req->body_len + 1;
    for (size_t i = 0; i < 5; i++) need += src[i] ? strlen(src[i]) + 1 : 0;
    if (!(t->copy = malloc(need))) return -1;
    char *w = t->copy;
    const char *dst[5] = {0};
    for (size_t i = 0; i < 5; i++)
        if (src[i]) {
            size_t n = strlen(src[i]) + 1;
            memcpy(w, src[i], n);
            dst[i] = w;
            w += n;
        }
    if (req->body_len) memcpy(w, req->body, req->body_len);
    t->req = (rw_http_request){.method = dst[0],
                               .path = dst[1],
                               .query = dst[2],
                               .authorization = dst[3],
                               .content_type = dst[4],
                               .body = req->body_len ? w : NULL,
                               .body_len = req->body_len,
                               .t0 = req->t0};
    return 0;
}

rw_pool_task *rw_pool_submit(rw_http_server *s, const rw_http_request *req, rw_http_response *out) {
    rw_http_pool *p = &s->pool;
    memset(out, 0, sizeof *out);
    rw_pool_task *t = calloc(1, sizeof *t);
    if (!t || copy_request(t, req) != 0) {
        free(t);
        rw_http_problem(out, RW_PROB_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    pthread_mutex_lock(&p->mu);
    int full = p->stopping || p->waiting >= s->cfg.analyst_queue + (p->nth - p->running);
    if (!full) {
        if (p->tail)
            p->tail->next = t;
        else
            p->head = t;
        p->tail = t;
        p->waiting++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (!full) return t;
    free(t->copy);
    free(t);
    __atomic_fetch_add(&s->metrics.pool_rejected, 1, __ATOMIC_RELAXED);
    rw_http_problem(out, RW_PROB_UNAVAILABLE, NULL,
                    "pictures and exports: %u are being built or waiting (analyst_threads, analyst_queue); retry "
                    "in %d s",
                    s->cfg.analyst_threads + s->cfg.analyst_queue, RETRY_AFTER);
    out->retry_after = RETRY_AFTER;
    return NULL;
}

int rw_pool_arm(rw_pool_task *t, rw_http_server *s, void (*wake)(void *ctx), void *ctx) {
    pthread_mutex_lock(&s->pool.mu);
    int pending = !t->done;
    if (pending) t->wake = wake, t->ctx = ctx;
    pthread_mutex_unlock(&s->pool.mu);
    return pending;
}

void rw_pool_wait(rw_pool_task *t, rw_http_server *s) {
    pthread_mutex_lock(&s->pool.mu);
    while (!t->done) pthread_cond_wait(&s->pool.idle, &s->pool.mu);
    pthread_mutex_unlock(&s->pool.mu);
}

void rw_pool_take(rw_pool_task *t, rw_http_server *s, rw_http_response *out) {
    pthread_mutex_lock(&s->pool.mu); /* waits out a wake-up still in delivery */
    pthread_mutex_unlock(&s->pool.mu);
    *out = t->out;
    free(t->copy);
    free(t);
}
