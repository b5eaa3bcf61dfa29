/* http: the libmicrohttpd side. Collects a request (two-phase: the first
 * call only sets *con_cls, or MHD answers every request with Connection:
 * close), bounds its body, hands it to rw_http_dispatch and queues the
 * answer; starts and drains the daemon. */
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_int.h"

#define DISCARD_MAX   ((uint64_t)16 << 20) /* bytes of a too-large body read before hanging up */
#define DRAIN_SECONDS 10.0                 /* how long stop waits for requests in flight */

typedef struct {
    double t0;
    char *body;
    size_t len, cap;
    int too_large;
    uint64_t discarded;
    int waiting;             /* suspended until the group commit settles */
    rw_http_response answer; /* the answer held meanwhile */
    rw_pool_task *task;      /* suspended while the analysts' pool builds the answer */
} conn_state;

/* Resumes a connection suspended for its group commit (from the engine's
 * commit thread); MHD then calls on_request again to send the answer. */
static void resume(void *ctx) {
    MHD_resume_connection(ctx);
}

void rw_http_set_exporter(rw_http_server *s, const rw_http_exporter *x) {
    s->exporter = *x;
}

rw_status rw_http_create(rw_http_server **out, rw_engine *e, const rw_config *cfg, rw_err *err) {
    *out = NULL;
    rw_http_server *s = calloc(1, sizeof *s);
    if (!s) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    s->e = e;
    s->cfg = *cfg;
    s->routes = rw_http_routes(&s->nroutes);
    rw_metrics_init(&s->metrics);
    rw_jobs_init(&s->jobs);
    pthread_mutex_init(&s->pool.mu, NULL);
    pthread_cond_init(&s->pool.cv, NULL);
    pthread_cond_init(&s->pool.idle, NULL);
    rw_status st = rw_guard_init(s, err);
    if (st == RW_OK) st = rw_auth_init(s, err);
    if (st != RW_OK) {
        rw_http_free(s);
        return st;
    }
    st = rw_engine_set_fsync(e, cfg->fsync, err);
    if (st != RW_OK) {
        rw_http_free(s);
        return st;
    }
    rw_online_params op = {.review = cfg->review_threshold, .block = cfg->block_threshold};
    rw_engine_set_online(e, &op);
    rw_learn_params lp = {.distill_off = !cfg->distill,
                          .feature_log_days = cfg->feature_log_days,
                          .shadow_hours = cfg->shadow_hours,
                          .min_positives = cfg->min_ring_rows,
                          .min_negatives = cfg->min_other_rows,
                          .min_history_days = cfg->min_history_days,
                          .review_jump = cfg->review_jump,
                          .drift_level = cfg->drift_level,
                          .benign_budget = cfg->benign_budget};
    rw_engine_set_learn(e, &lp);
    *out = s;
    return RW_OK;
}

/* MHD would percent-decode the path and query before we see them, so an
 * account id holding "%2F" would split the path; keep them raw and decode
 * each segment and parameter after routing. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s) {
    return strlen(s);
}

typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} qbuf;

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    qbuf *q = cls;
    size_t need = strlen(key) + (value ? strlen(value) + 1 : 0) + 2;
    if (q->len + need > q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        while (cap < q->len + need) cap *= 2;
        char *n = realloc(q->s, cap);
        if (!n) {
            q->failed = 1;
            return MHD_NO;
        }
        q->s = n;
        q->cap = cap;
    }
    q->len += (size_t)sprintf(q->s + q->len, "%s%s%s%s", q->len ? "&" : "", key, value ? "=" : "", value ? value : "");
    return MHD_YES;
}

/* A streamed body: MHD pulls it piece by piece from its own threads. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    rw_http_stream *st = cls;
    size_t n = 0;
    if (st->read(st->ctx, buf, max, &n) != RW_OK) return MHD_CONTENT_READER_END_WITH_ERROR;
    return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void stream_free(void *cls) {
    rw_http_stream *st = cls;
    if (st->close) st->close(st->ctx);
    free(st);
}

static struct MHD_Response *make_response(rw_http_response *out) {
    if (!out->stream.read) {
        struct MHD_Response *r = MHD_create_response_from_buffer(out->body_len, out->body, MHD_RESPMEM_MUST_FREE);
        if (r) out->body = NULL; /* MHD frees it */
        return r;
    }
    rw_http_stream *st = malloc(sizeof *st);
    if (!st) return NULL;
    *st = out->stream;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, st, stream_free);
    if (!r) {
        free(st);
        return NULL;
    }
    out->stream = (rw_http_stream){0}; /* MHD closes it */
    return r;
}

static enum MHD_Result send_answer(rw_http_server *s, struct MHD_Connection *c, rw_http_response *out) {
    struct MHD_Response *r = make_response(out);
    if (!r) {
        rw_http_response_free(out);
        return MHD_NO;
    }
    rw_http_response_free(out); /* whatever MHD did not take */
    if (out->disposition[0]) MHD_add_response_header(r, "Content-Disposition", out->disposition);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, out->content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (out->csp) MHD_add_response_header(r, "Content-Security-Policy", out->csp);
    if (out->allow[0]) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, out->allow);
    if (out->www_authenticate) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, out->www_authenticate);
    if (out->location[0]) MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, out->location);
    if (out->retry_after) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", out->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    /* Stopping: clients reconnect to whoever replaces us. */
    if (out->close || __atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, out->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result too_large(rw_http_server *s, struct MHD_Connection *c, const char *method, const char *url,
                                 double t0) {
    rw_http_response out = {0};
    rw_route_params p;
    int route = rw_route_match(s->routes, s->nroutes, method, url, &p, out.allow, sizeof out.allow);
    out.allow[0] = 0;
    rw_http_problem(&out, RW_PROB_TOO_LARGE, NULL, "body: larger than max_body_bytes (%llu bytes)",
                    (unsigned long long)s->cfg.max_body_bytes);
    rw_metrics_request(&s->metrics, route, method, out.status, rw_now() - t0);
    return send_answer(s, c, &out);
}

/* ---- framing: what a proxy in front could read differently ------------------ */

typedef struct {
    unsigned lengths, encodings, hosts;
    const char *length, *encoding;
    int lengths_differ;
} framing;

static enum MHD_Result see_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    framing *f = cls;
    (void)kind;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        if (f->lengths++ && strcmp(f->length, value ? value : "")) f->lengths_differ = 1;
        if (!f->length) f->length = value ? value : "";
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        f->encodings++;
        f->encoding = value ? value : "";
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_HOST)) {
        f->hosts++;
    }
    return MHD_YES;
}

/* What is wrong with the request's framing, or NULL. A request that two
 * HTTP readers could split differently (a proxy and us) is refused, and its
 * connection closed, since where its body ends is unknown. */
static const char *framing_fault(struct MHD_Connection *c, const char *version) {
    framing f = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, see_header, &f);
    if (f.lengths_differ) return "Content-Length: given more than once with different values";
    if (f.lengths && f.encodings) return "Content-Length and Transfer-Encoding: only one may frame the body";
    if (f.encodings > 1 || (f.encodings && strcasecmp(f.encoding, "chunked")))
        return "Transfer-Encoding: only a single 'chunked' is supported";
    if (f.hosts > 1) return "Host: given more than once";
    if (!f.hosts && !strcmp(version, MHD_HTTP_VERSION_1_1)) return "Host: required in an HTTP/1.1 request";
    return NULL;
}

static enum MHD_Result refuse_framing(rw_http_server *s, struct MHD_Connection *c, const char *method,
                                      const char *fault, double t0) {
    rw_http_response out = {0};
    rw_http_problem(&out, RW_PROB_BAD_REQUEST, NULL, "%s", fault);
    out.close = 1;
    __atomic_fetch_add(&s->metrics.bad_framing, 1, __ATOMIC_RELAXED);
    rw_metrics_request(&s->metrics, -1, method, out.status, rw_now() - t0);
    return send_answer(s, c, &out);
}

/* ---- requests -------------------------------------------------------------------- */

/* The first call for a request: headers are in, the body is not. */
static enum MHD_Result begin(rw_http_server *s, struct MHD_Connection *c, const char *url, const char *method,
                             const char *version, void **con_cls) {
    conn_state *r = calloc(1, sizeof *r);
    if (!r) return MHD_NO;
    r->t0 = rw_now();
    *con_cls = r;
    __atomic_fetch_add(&s->inflight, 1, __ATOMIC_SEQ_CST);
    const char *fault = framing_fault(c, version);
    if (fault) return refuse_framing(s, c, method, fault, r->t0);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body_bytes) {
        r->too_large = 1;
        /* A client waiting for 100 Continue gets the refusal instead. */
        if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT))
            return too_large(s, c, method, url, r->t0);
    }
    return MHD_YES;
}

/* A piece of the body: kept, or dropped past max_body_bytes. */
static enum MHD_Result take_body(rw_http_server *s, struct MHD_Connection *c, conn_state *r, const char *method,
                                 const char *url, const char *data, size_t n) {
    uint64_t max = s->cfg.max_body_bytes;
    if (!r->too_large && r->len + n > max) {
        r->too_large = 1;
        free(r->body);
        r->body = NULL;
        r->len = r->cap = 0;
    }
    if (r->too_large) { /* read and drop, so the client can read our 413 */
        r->discarded += n;
        return r->discarded > DISCARD_MAX ? too_large(s, c, method, url, r->t0) : MHD_YES;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n) cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) return MHD_NO;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return MHD_YES;
}

/* Hands a picture or an export to the analysts' pool and suspends the
 * connection until it is built (a full queue answers 503 at once). */
static enum MHD_Result to_pool(rw_http_server *s, struct MHD_Connection *c, conn_state *r, const rw_http_request *req) {
    rw_http_response out;
    r->task = rw_pool_submit(s, req, &out);
    if (!r->task) return send_answer(s, c, &out);
    /* Suspend first, then arm, as for a group commit. */
    MHD_suspend_connection(c);
    if (!rw_pool_arm(r->task, s, resume, c)) MHD_resume_connection(c);
    return MHD_YES;
}

static enum MHD_Result answer(rw_http_server *s, struct MHD_Connection *c, conn_state *r, const char *url,
                              const char *method) {
    qbuf q = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &q);
    if (q.failed) {
        free(q.s);
        return MHD_NO;
    }
    rw_http_request req = {
        .method = method,
        .path = url,
        .query = q.s,
        .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .body = r->body,
        .body_len = r->len,
        .t0 = r->t0,
    };
    rw_route_params p;
    char allow[RW_HTTP_ALLOW_MAX];
    int route = rw_route_match(s->routes, s->nroutes, method, url, &p, allow, sizeof allow);
    if (route >= 0 && (s->routes[route].flags & RW_ROUTE_POOL) && s->pool.nth) {
        enum MHD_Result ret = to_pool(s, c, r, &req);
        free(q.s);
        return ret;
    }
    rw_http_response out;
    rw_http_dispatch_async(s, &req, &out);
    free(q.s);
    if (out.defer && __atomic_load_n(&s->stopping, __ATOMIC_SEQ_CST)) {
        /* Stopping: the drain may already have seen no request in flight
         * (a keep-alive client sent this one after it looked), and
         * MHD_stop_daemon aborts on a suspended connection; wait here. */
        rw_http_defer_wait(out.defer);
        rw_http_defer_finish(s, &out);
        return send_answer(s, c, &out);
    }
    if (out.defer) {
        /* Suspend first, then arm: a commit settling in between resumes a
         * connection that is already suspended, never one about to be. */
        r->answer = out;
        r->waiting = 1;
        MHD_suspend_connection(c);
        if (!rw_http_defer_arm(out.defer, resume, c)) MHD_resume_connection(c);
        return MHD_YES;
    }
    return send_answer(s, c, &out);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    rw_http_server *s = cls;
    conn_state *r = *con_cls;
    if (!r) return begin(s, c, url, method, version, con_cls);
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return take_body(s, c, r, method, url, upload_data, n);
    }
    rw_guard_request_in(c); /* all of it has arrived: no deadline while it is answered */
    if (r->too_large) return too_large(s, c, method, url, r->t0);
    if (r->waiting) { /* resumed: the commit has settled */
        r->waiting = 0;
        rw_http_defer_finish(s, &r->answer);
        return send_answer(s, c, &r->answer);
    }
    if (r->task) { /* resumed: the pool has built the answer */
        rw_http_response out;
        rw_pool_take(r->task, s, &out);
        r->task = NULL;
        return send_answer(s, c, &out);
    }
    return answer(s, c, r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    rw_http_server *s = cls;
    conn_state *r = *con_cls;
    (void)toe;
    rw_guard_request_done(s, c);
    if (!r) return;
    if (r->waiting) { /* closed while suspended (daemon stopping): wait it out */
        rw_http_defer_wait(r->answer.defer);
        rw_http_defer_finish(s, &r->answer);
    }
    if (r->task) { /* closed while the pool builds: the pool still holds it */
        rw_http_response out;
        rw_pool_wait(r->task, s);
        rw_pool_take(r->task, s, &out);
        rw_http_response_free(&out);
    }
    rw_http_response_free(&r->answer);
    if (r->body) explicit_bzero(r->body, r->len); /* it held raw identifiers */
    free(r->body);
    free(r);
    *con_cls = NULL;
    __atomic_fetch_sub(&s->inflight, 1, __ATOMIC_ACQ_REL);
}

int rw_http_redact(char *out, size_t size, const char *fmt, va_list ap) {
    size_t o = 0;
    char num[64];
#define PUT(str)                                                                                                       \
    do {                                                                                                               \
        for (const char *q_ = (str); *q_ && o + 1 < size; q_++) out[o++] = *q_;                                        \
    } while (0)
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            if (o + 1 < size) out[o++] = *p;
            continue;
        }
        p++;
        while (*p && strchr("-+ #0'", *p)) p++;
        for (int part = 0; part < 2; part++) { /* width, then .precision */
            if (part && *p == '.')
                p++;
            else if (part)
                break;
            if (*p == '*') (void)va_arg(ap, int), p++;
            while (*p >= '0' && *p <= '9') p++;
        }
        int longs = 0, size_t_ = 0;
        for (; *p && strchr("hlzjtL", *p); p++) {
            if (*p == 'l') longs++;
            if (*p == 'z' || *p == 'j' || *p == 't') size_t_ = 1;
        }
        if (!*p) break;
        if (*p == '%')
            snprintf(num, sizeof num, "%%");
        else if (*p == 's')
            snprintf(num, sizeof num, "[redacted]"), (void)va_arg(ap, const char *);
        else if (*p == 'p')
            snprintf(num, sizeof num, "%p", va_arg(ap, void *));
        else if (*p == 'f' || *p == 'g' || *p == 'e')
            snprintf(num, sizeof num, "%g", va_arg(ap, double));
        else if (strchr("di", *p))
            snprintf(num, sizeof num, "%lld",
                     size_t_ || longs ? (longs > 1 ? va_arg(ap, long long) : va_arg(ap, long)) : va_arg(ap, int));
        else if (strchr("uxXoc", *p))
            snprintf(num, sizeof num, "%llu",
                     size_t_ || longs ? (longs > 1 ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned long))
                                      : va_arg(ap, unsigned));
        else {
            out[o] = 0;
            return 0;
        }
        PUT(num);
    }
#undef PUT
    out[o] = 0;
    return 1;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    const rw_http_server *s = cls;
    if (s->cfg.log_level < RW_LOG_DEBUG) return;
    char line[512];
    int whole = rw_http_redact(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = 0;
    rw_http_log(s, RW_LOG_DEBUG, "libmicrohttpd: %s%s", line, whole ? "" : " [...]");
}

/* Splits "host:port" or "[v6]:port" and resolves it (numeric or a name). */
static rw_status resolve(struct sockaddr_storage *out, socklen_t *outlen, const char *listen, rw_err *err) {
    char host[256];
    const char *colon = strrchr(listen, ':');
    const char *h = listen;
    size_t hn = colon ? (size_t)(colon - listen) : 0;
    if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') h++, hn -= 2;
    if (!colon || !hn || hn >= sizeof host || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        strtoul(colon + 1, NULL, 10) > 65535)
        return rw_fail(err, RW_ERR_INVALID, "listen: expected HOST:PORT or [IPV6]:PORT, got '%.200s'", listen);
    memcpy(host, h, hn);
    host[hn] = 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0 || !ai || ai->ai_addrlen > sizeof *out) {
        if (ai) freeaddrinfo(ai);
        return rw_fail(err, RW_ERR_INVALID, "listen: cannot resolve '%.200s': %s", host, gai_strerror(rc));
    }
    memcpy(out, ai->ai_addr, ai->ai_addrlen);
    *outlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return RW_OK;
}

rw_status rw_http_start(rw_http_server *s, rw_err *err) {
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    rw_status st = resolve(&sa, &salen, s->cfg.listen, err);
    if (st != RW_OK) return st;
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (sa.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* MHD's limit is the hard one, trusted clients' room included; the
     * accept policy holds everyone else to connection_limit and
     * per_ip_connection_limit. */
    unsigned limit = rw_guard_fit_files(s);
    st = rw_pool_start(s, err);
    if (st == RW_OK) st = rw_guard_start(s, err);
    if (st != RW_OK) return st;
    s->daemon = MHD_start_daemon(
        flags, 0, rw_guard_accept, s, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->cfg.threads, MHD_OPTION_CONNECTION_LIMIT,
        limit, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.timeout_seconds, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)s->cfg.connection_memory_bytes, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, rw_guard_notify, s, MHD_OPTION_URI_LOG_CALLBACK, rw_guard_uri_seen, s,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL, MHD_OPTION_END);
    if (!s->daemon)
        return rw_fail(err, RW_ERR_IO, "listen: cannot listen on %s (in use, or not an address of this host?)",
                       s->cfg.listen);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    if (s->cfg.rescore_at >= 0) {
        st = rw_jobs_start_scheduler(s, err);
        if (st != RW_OK) return st;
    }
    char host[RW_CONFIG_TEXT];
    snprintf(host, sizeof host, "%s", s->cfg.listen);
    char *colon = strrchr(host, ':');
    if (colon) *colon = 0;
    rw_http_log(s, RW_LOG_INFO,
                "listening on %s:%u (%u threads, %u for pictures and exports, %u connections, %u per address, "
                "auth %s, nightly rescoring %s)",
                host, (unsigned)s->port, s->cfg.threads, (unsigned)s->pool.nth, s->guard.limit, s->guard.per_ip,
                s->cfg.auth ? "on" : "OFF", s->cfg.rescore_at >= 0 ? "on" : "off");
    return RW_OK;
}

uint16_t rw_http_port(const rw_http_server *s) {
    return s->port;
}

void rw_http_stop(rw_http_server *s) {
    if (!s || s->stopped) return;
    s->stopped = 1;
    __atomic_store_n(&s->stopping, 1, __ATOMIC_SEQ_CST); /* /readyz answers 503 from now on */
    if (s->daemon) {
        MHD_socket fd = MHD_quiesce_daemon(s->daemon); /* no new connections */
        double t0 = rw_now();
        /* Requests in flight finish and are answered; idle keep-alive
         * connections are not waited for. */
        while (__atomic_load_n(&s->inflight, __ATOMIC_SEQ_CST) > 0 && rw_now() - t0 < DRAIN_SECONDS) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        /* Every picture or export queued is built and its connection
         * resumed before MHD goes: the pool must not resume into a freed
         * daemon. */
        rw_pool_stop(s);
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
        if (fd != MHD_INVALID_SOCKET) close(fd);
    }
    rw_pool_stop(s);
    rw_guard_stop(s);
    rw_jobs_stop(s);
}

void rw_http_free(rw_http_server *s) {
    if (!s) return;
    rw_http_stop(s);
    rw_jobs_destroy(&s->jobs);
    rw_guard_destroy(&s->guard);
    pthread_mutex_destroy(&s->pool.mu);
    pthread_cond_destroy(&s->pool.cv);
    pthread_cond_destroy(&s->pool.idle);
    free(s->tokens);
    free(s);
}
