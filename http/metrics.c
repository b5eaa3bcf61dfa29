/* http: Prometheus metrics (text format 0.0.4). Counters and histograms are
 * plain integers updated with relaxed atomics, so the signup path takes no
 * lock; labels are route patterns, methods, classes and verdicts, never an
 * identifier. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

static const double latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
static const double score_bounds[] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
static const double rescore_bounds[] = {0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
#define N(a) (sizeof(a) / sizeof(a)[0])
_Static_assert(N(latency_bounds) <= RW_HIST_MAX, "histogram too wide");

static const char *const methods[] = {"GET", "POST", "other"};
static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};

static void hist_init(rw_hist *h, const double *bounds, size_t n) {
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nbounds = n;
}

void rw_metrics_init(rw_http_metrics *m) {
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i <= RW_ROUTES_MAX; i++) hist_init(&m->route[i], latency_bounds, N(latency_bounds));
    hist_init(&m->score, score_bounds, N(score_bounds));
    hist_init(&m->rescore, rescore_bounds, N(rescore_bounds));
}

void rw_hist_observe(rw_hist *h, double v) {
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i]) i++;
    __atomic_fetch_add(&h->bucket[i], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->sum_micro, (uint64_t)(v > 0 ? v * 1e6 + 0.5 : 0), __ATOMIC_RELAXED);
}

void rw_metrics_request(rw_http_metrics *m, int route, const char *method, unsigned status, double seconds) {
    size_t mi = !strcmp(method, "GET") ? 0 : !strcmp(method, "POST") ? 1 : 2;
    size_t ci = status >= 100 && status < 600 ? status / 100 - 1 : 5;
    __atomic_fetch_add(&m->requests[mi][ci], 1, __ATOMIC_RELAXED);
    rw_hist_observe(&m->route[route >= 0 && route < RW_ROUTES_MAX ? route : RW_ROUTES_MAX], seconds);
}

typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...) {
    for (int tries = 0; tries < 2 && !b->failed; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

static uint64_t load(const uint64_t *p) {
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* One histogram's series; labels is "" or `route="...",method="..."`. */
static void put_hist(buf *b, const char *name, const char *labels, const rw_hist *h) {
    uint64_t cum = 0;
    const char *sep = *labels ? "," : "";
    for (size_t i = 0; i < h->nbounds; i++) {
        cum += load(&h->bucket[i]);
        put(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, h->bounds[i], (unsigned long long)cum);
    }
    cum += load(&h->bucket[h->nbounds]);
    put(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
    put(b, "%s_sum%s%s%s %.6f\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
        (double)load(&h->sum_micro) / 1e6);
    put(b, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
        (unsigned long long)load(&h->count));
}

static void put_counter(buf *b, const char *name, const char *help, const char *type, uint64_t v) {
    put(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, (unsigned long long)v);
}

/* The signup model: version in force, shadow agreement, decisions, drift. */
static void put_learn(buf *b, rw_engine *e) {
    rw_learn_status ls;
    rw_engine_learn_status(e, &ls);
    put_counter(b, "ringwatch_signup_model_version", "Signup model in force (0: the shipped one).", "gauge",
                (uint64_t)ls.in_force);
    put_counter(b, "ringwatch_signup_model_shadow_version", "Candidate scoring in shadow (0: none).", "gauge",
                (uint64_t)ls.shadow);
    put_counter(b, "ringwatch_signup_model_shadow_scored_total", "Signups the candidate scored in shadow.", "counter",
                ls.shadow_scored);
    put_counter(b, "ringwatch_signup_model_shadow_agreed_total",
                "Of them, given the same verdict as the model in force.", "counter", ls.shadow_agree);
    put_counter(b, "ringwatch_signup_model_promotions_total", "Candidates the nightly job promoted.", "counter",
                ls.promotions);
    put_counter(b, "ringwatch_signup_model_rejections_total", "Candidates the nightly job rejected.", "counter",
                ls.rejections);
    if (!ls.have_drift) return;
    put(b, "# HELP ringwatch_signup_feature_psi Population stability of the last day against the training window.\n"
           "# TYPE ringwatch_signup_feature_psi gauge\n");
    for (int i = 0; i < ls.features; i++)
        put(b, "ringwatch_signup_feature_psi{feature=\"%s\"} %.4f\n", rw_engine_feature_name(i), ls.psi[i]);
    put(b, "ringwatch_signup_feature_psi{feature=\"score\"} %.4f\n", ls.psi_score);
}

static size_t open_untrusted(rw_http_server *s) {
    pthread_mutex_lock(&s->guard.mu);
    size_t n = s->guard.untrusted;
    pthread_mutex_unlock(&s->guard.mu);
    return n;
}

char *rw_metrics_render(rw_http_server *s, size_t *len) {
    const rw_http_metrics *m = &s->metrics;
    buf b = {0};
    char labels[160];
    put(&b, "# HELP ringwatch_http_request_duration_seconds Time to answer a request, by route pattern.\n"
            "# TYPE ringwatch_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < s->nroutes; i++) {
        snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\"", s->routes[i].pattern, s->routes[i].method);
        put_hist(&b, "ringwatch_http_request_duration_seconds", labels, &m->route[i]);
    }
    put_hist(&b, "ringwatch_http_request_duration_seconds", "route=\"(none)\",method=\"any\"",
             &m->route[RW_ROUTES_MAX]);
    put(&b, "# HELP ringwatch_http_requests_total Requests answered, by method and status class.\n"
            "# TYPE ringwatch_http_requests_total counter\n");
    for (size_t mi = 0; mi < N(methods); mi++)
        for (size_t ci = 0; ci < N(classes); ci++)
            put(&b, "ringwatch_http_requests_total{method=\"%s\",code=\"%s\"} %llu\n", methods[mi], classes[ci],
                (unsigned long long)load(&m->requests[mi][ci]));
    put(&b, "# HELP ringwatch_signup_decisions_total Signup decisions, by verdict.\n"
            "# TYPE ringwatch_signup_decisions_total counter\n");
    for (int v = 0; v < 3; v++)
        put(&b, "ringwatch_signup_decisions_total{verdict=\"%s\"} %llu\n", rw_verdict_name((rw_verdict)v),
            (unsigned long long)load(&m->decisions[v]));
    put(&b, "# HELP ringwatch_signup_score Scores given to signups.\n# TYPE ringwatch_signup_score histogram\n");
    put_hist(&b, "ringwatch_signup_score", "", &m->score);
    put_counter(&b, "ringwatch_http_events_accepted_total", "Events of POST /v1/events recorded.", "counter",
                load(&m->events_accepted));
    put_counter(&b, "ringwatch_http_events_rejected_total", "Events of POST /v1/events refused as invalid.", "counter",
                load(&m->events_rejected));
    put(&b, "# HELP ringwatch_rescore_duration_seconds Duration of finished rescorings.\n"
            "# TYPE ringwatch_rescore_duration_seconds histogram\n");
    put_hist(&b, "ringwatch_rescore_duration_seconds", "", &m->rescore);
    uint64_t bits = load(&m->rescore_last_bits);
    double last;
    memcpy(&last, &bits, sizeof last);
    put(&b,
        "# HELP ringwatch_rescore_last_duration_seconds Duration of the last finished rescoring.\n"
        "# TYPE ringwatch_rescore_last_duration_seconds gauge\nringwatch_rescore_last_duration_seconds %.3f\n",
        last);
    put(&b,
        "# HELP ringwatch_rescores_total Rescoring jobs finished, by result.\n"
        "# TYPE ringwatch_rescores_total counter\n"
        "ringwatch_rescores_total{result=\"done\"} %llu\nringwatch_rescores_total{result=\"failed\"} %llu\n"
        "ringwatch_rescores_total{result=\"cancelled\"} %llu\n",
        (unsigned long long)load(&m->rescores[0]), (unsigned long long)load(&m->rescores[1]),
        (unsigned long long)load(&m->rescores[2]));
    put(&b,
        "# HELP ringwatch_http_connections_refused_total Connections closed at accept, by the limit they met "
        "(trusted_clients are never refused).\n# TYPE ringwatch_http_connections_refused_total counter\n"
        "ringwatch_http_connections_refused_total{limit=\"per_ip\"} %llu\n"
        "ringwatch_http_connections_refused_total{limit=\"total\"} %llu\n",
        (unsigned long long)load(&m->refused_per_ip), (unsigned long long)load(&m->refused_limit));
    put_counter(&b, "ringwatch_http_request_timeouts_total",
                "Connections closed because a request did not arrive whole within request_timeout_seconds.", "counter",
                load(&m->timed_out));
    put_counter(&b, "ringwatch_http_bad_framing_total",
                "Requests refused (400, connection closed) for ambiguous framing: Content-Length twice, with "
                "Transfer-Encoding, HTTP/1.1 without Host.",
                "counter", load(&m->bad_framing));
    put_counter(&b, "ringwatch_http_analyst_rejected_total",
                "Pictures and exports answered 503: the analysts' pool and its queue were full.", "counter",
                load(&m->pool_rejected));
    put_counter(&b, "ringwatch_http_connections_open", "Connections open now from untrusted clients.", "gauge",
                (uint64_t)open_untrusted(s));
    rw_engine_counters k;
    rw_engine_get_counters(s->e, &k);
    char *conventional = rw_metrics_conventional(s, &k);
    if (conventional)
        put(&b, "%s", conventional);
    else
        b.failed = 1;
    free(conventional);
    put_counter(&b, "ringwatch_engine_commits_total", "Group commits of the signup path.", "counter", k.commits);
    put_counter(&b, "ringwatch_engine_commit_failures_total", "Group commits that failed.", "counter",
                k.commit_failures);
    put_counter(&b, "ringwatch_engine_checkpoints_total",
                "WAL checkpoints run beside the signup path (the committer only finishes them).", "counter",
                k.checkpoints);
    put_counter(&b, "ringwatch_engine_checkpoint_failures_total",
                "WAL checkpoints that failed (the WAL grows until one succeeds).", "counter", k.checkpoint_failures);
    put_counter(&b, "ringwatch_graph_events", "Events in the log.", "gauge", k.events);
    put_counter(&b, "ringwatch_graph_accounts", "Account nodes.", "gauge", k.accounts);
    put_counter(&b, "ringwatch_graph_attributes", "Attribute nodes.", "gauge", k.attributes);
    put_counter(&b, "ringwatch_graph_edges", "Account-attribute edges.", "gauge", k.edges);
    put_counter(&b, "ringwatch_run", "The run online scoring uses (0: none).", "gauge", (uint64_t)k.run);
    put_counter(&b, "ringwatch_store_ok", "1 while the last commit succeeded.", "gauge", (uint64_t)(k.store_ok != 0));
    put_counter(&b, "ringwatch_erasures_pending",
                "Erasures whose old pages are still in the database files (a reader holds the WAL).", "gauge",
                (uint64_t)rw_engine_erasures_pending(s->e));
    put_learn(&b, s->e);
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    *len = b.len;
    return b.s;
}
