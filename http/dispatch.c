/* http: one request in, one answer out, without sockets: route, check the
 * bearer token's role and the query parameters, run the handler, count. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

void rw_http_log(const rw_http_server *s, rw_log_level level, const char *fmt, ...) {
    if (level > s->cfg.log_level) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "ringwatch serve: %s\n", line); /* one write: lines from threads do not interleave */
}

const char *rw_http_query(const rw_http_ctx *c, const char *key) {
    for (size_t i = 0; i < c->nq; i++)
        if (!strcmp(c->q[i].key, key)) return c->q[i].value;
    return NULL;
}

/* Is name one of the space-separated words of list? */
static int listed(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !memcmp(p, name, n)) return 1;
        p += len + (end != NULL);
    }
    return 0;
}

/* Decodes the query into c->q; answers 400 and returns -1 on a bad one. */
static int parse_query(rw_http_ctx *c) {
    const char *q = c->req->query;
    if (!q || !*q) return 0;
    size_t len = strlen(q);
    c->qbuf = malloc(len + 1);
    if (!c->qbuf) {
        rw_http_problem(c->out, RW_PROB_INTERNAL, NULL, "out of memory");
        return -1;
    }
    char *w = c->qbuf;
    for (const char *p = q; *p;) {
        const char *end = strchr(p, '&');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t kn = eq ? (size_t)(eq - p) : n, used;
        if (n) {
            json_t *extra = json_object();
            char *key = w;
            if (rw_http_unescape(key, len + 1 - (size_t)(w - c->qbuf), &used, p, kn, 1) != RW_OK) {
                rw_http_problem(c->out, RW_PROB_INVALID_PARAMETER, extra, "query: bad percent-escape in a name");
                return -1;
            }
            w += used + 1;
            json_object_set_new(extra, "parameter", json_string(key));
            if (!listed(c->route->query, key)) {
                rw_http_problem(c->out, RW_PROB_INVALID_PARAMETER, extra, "%s: unknown query parameter%s%s", key,
                                *c->route->query ? "; this endpoint takes: " : "; this endpoint takes none",
                                c->route->query);
                return -1;
            }
            if (rw_http_query(c, key) || c->nq == RW_QUERY_MAX) {
                rw_http_problem(c->out, RW_PROB_INVALID_PARAMETER, extra, "%s: given more than once", key);
                return -1;
            }
            char *value = w;
            if (rw_http_unescape(value, len + 1 - (size_t)(w - c->qbuf), &used, eq ? eq + 1 : p + n,
                                 eq ? n - kn - 1 : 0, 1) != RW_OK) {
                rw_http_problem(c->out, RW_PROB_INVALID_PARAMETER, extra, "%s: bad percent-escape", key);
                return -1;
            }
            json_decref(extra);
            w += used + 1;
            c->q[c->nq].key = key;
            c->q[c->nq].value = value;
            c->nq++;
        }
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

char *rw_http_param(rw_http_ctx *c, size_t i, const char *name, size_t *len) {
    const rw_span *sp = &c->params.p[i];
    char *s = malloc(sp->len + 1);
    if (!s) {
        rw_http_problem(c->out, RW_PROB_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    if (rw_http_unescape(s, sp->len + 1, len, sp->s, sp->len, 0) != RW_OK) {
        free(s);
        json_t *extra = json_pack("{ss}", "parameter", name);
        rw_http_problem(c->out, RW_PROB_INVALID_PATH, extra, "%s: bad percent-escape in the path", name);
        return NULL;
    }
    return s;
}

json_t *rw_http_body_object(rw_http_ctx *c) {
    json_error_t je;
    json_t *doc = json_loadb(c->req->body ? c->req->body : "", c->req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        json_t *extra = json_pack("{sisi}", "line", je.line, "column", je.column);
        rw_http_problem(c->out, RW_PROB_BAD_JSON, extra, "body: %s at line %d, column %d", je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        rw_http_problem(c->out, RW_PROB_INVALID_BODY, NULL, "body: expected a JSON object");
        return NULL;
    }
    return doc;
}

/* Answers 401/403 and returns -1 unless the request may call route r. */
static int authorise(rw_http_ctx *c) {
    const rw_http_server *s = c->srv;
    if (!s->cfg.auth || (c->route->roles & RW_ROLE_PUBLIC)) return 0;
    int roles = rw_auth_who(s, c->req->authorization, c->who);
    if (roles <= 0) {
        rw_http_problem(c->out, RW_PROB_UNAUTHORIZED, NULL,
                        roles < 0 ? "Authorization: expected 'Bearer TOKEN'" : "Authorization: unknown token");
        c->out->www_authenticate =
            roles < 0 ? "Bearer realm=\"ringwatch\"" : "Bearer realm=\"ringwatch\", error=\"invalid_token\"";
        return -1;
    }
    if (!((unsigned)roles & c->route->roles)) {
        rw_http_problem(c->out, RW_PROB_FORBIDDEN, NULL, "Authorization: this token's role may not call %s %s",
                        c->route->method, c->route->pattern);
        return -1;
    }
    return 0;
}

void rw_http_dispatch(rw_http_server *s, const rw_http_request *req, rw_http_response *out) {
    rw_http_dispatch_async(s, req, out);
    if (out->defer) {
        rw_http_defer_wait(out->defer);
        rw_http_defer_finish(s, out);
    }
}

void rw_http_dispatch_async(rw_http_server *s, const rw_http_request *req, rw_http_response *out) {
    memset(out, 0, sizeof *out);
    double t0 = req->t0 > 0 ? req->t0 : rw_now();
    rw_http_ctx c = {.srv = s, .req = req, .out = out, .t0 = t0, .route_index = -1};
    const char *method = req->method ? req->method : "";
    int r = rw_route_match(s->routes, s->nroutes, method, req->path ? req->path : "", &c.params, out->allow,
                           sizeof out->allow);
    /* Neither the path nor the query is echoed: they may hold raw
     * identifiers. */
    if (r == RW_ROUTE_NOTFOUND) {
        rw_http_problem(out, RW_PROB_NO_ROUTE, NULL, "path: no endpoint here; GET /v1/openapi.json lists them");
    } else if (r == RW_ROUTE_BADMETHOD) {
        rw_http_problem(out, RW_PROB_METHOD, NULL, "method: %.16s is not allowed here; allowed: %s", method,
                        out->allow);
    } else {
        c.route = &s->routes[r];
        c.route_index = r;
        if (authorise(&c) == 0 && parse_query(&c) == 0) c.route->fn(&c);
    }
    free(c.qbuf);
    if (!out->body && !out->stream.read) rw_http_problem(out, RW_PROB_INTERNAL, NULL, "the handler gave no answer");
    if (out->defer) return; /* metrics and the log line when it settles */
    double dt = rw_now() - t0;
    rw_metrics_request(&s->metrics, r < 0 ? -1 : r, method, out->status, dt);
    rw_http_log(s, RW_LOG_DEBUG, "%.8s %s %u %.3f ms", method, r < 0 ? "(no route)" : c.route->pattern, out->status,
                dt * 1e3);
}

/* ---- deferred answers ------------------------------------------------------ */

rw_http_defer *rw_http_defer_new(rw_http_ctx *c) {
    rw_http_defer *d = calloc(1, sizeof *d);
    if (!d) {
        rw_http_problem(c->out, RW_PROB_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    d->route = c->route_index;
    d->method = c->route ? c->route->method : "";
    d->t0 = c->t0;
    return d;
}

void rw_http_defer_free(rw_http_defer *d) {
    if (!d) return;
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
}

void rw_http_defer_settled(void *ctx, rw_status st, const rw_err *err) {
    rw_http_defer *d = ctx;
    pthread_mutex_lock(&d->mu);
    d->settled = 1;
    d->st = st;
    if (err) d->err = *err;
    void (*wake)(void *) = d->wake;
    void *wctx = d->wake_ctx;
    pthread_cond_broadcast(&d->cv);
    /* Woken under the lock, so the owner cannot finish (and free d) while
     * the wake-up is still being delivered. */
    if (wake) wake(wctx);
    pthread_mutex_unlock(&d->mu);
}

void rw_http_defer_wait(rw_http_defer *d) {
    pthread_mutex_lock(&d->mu);
    while (!d->settled) pthread_cond_wait(&d->cv, &d->mu);
    pthread_mutex_unlock(&d->mu);
}

int rw_http_defer_arm(rw_http_defer *d, void (*wake)(void *ctx), void *ctx) {
    pthread_mutex_lock(&d->mu);
    int pending = !d->settled;
    if (pending) d->wake = wake, d->wake_ctx = ctx;
    pthread_mutex_unlock(&d->mu);
    return pending;
}

void rw_http_defer_finish(rw_http_server *s, rw_http_response *out) {
    rw_http_defer *d = out->defer;
    if (!d) return;
    /* Taking the lock once more waits out a wake-up still in delivery. */
    pthread_mutex_lock(&d->mu);
    pthread_mutex_unlock(&d->mu);
    out->defer = NULL;
    if (d->st != RW_OK) {
        rw_http_response_free(out);
        rw_http_log(s, RW_LOG_ERROR, "recording failed: %s", rw_status_str(d->st));
        rw_http_problem(out, rw_problem_of_status(d->st), NULL, "%s",
                        d->err.msg[0] ? d->err.msg : rw_status_str(d->st));
    }
    double dt = rw_now() - d->t0;
    rw_metrics_request(&s->metrics, d->route, d->method, out->status, dt);
    rw_http_log(s, RW_LOG_DEBUG, "%.8s (deferred) %u %.3f ms", d->method, out->status, dt * 1e3);
    rw_http_defer_free(d);
}
