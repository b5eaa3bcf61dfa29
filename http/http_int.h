/* http internals shared by its .c files (and its unit tests): the route
 * table, the request context, problems, page tokens, metrics and jobs. */
#ifndef RW_HTTP_INT_H
#define RW_HTTP_INT_H

#include <stdarg.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sys/socket.h>

#include "http.h"

#define RW_AUTH_NAME 32 /* characters of a token's name ("alice" in "alice:TOKEN") */

/* ---- roles and routes ------------------------------------------------------ */

/* Who may call a route: a bit set of roles; a token holds one or more. */
enum {
    RW_ROLE_SIGNUP = 1u << 0,
    RW_ROLE_ANALYST = 1u << 1,
    RW_ROLE_ADMIN = 1u << 2,
    RW_ROLE_METRICS = 1u << 3,
    RW_ROLE_PUBLIC = 1u << 4, /* no token needed */
};

typedef struct rw_http_ctx rw_http_ctx;
typedef void (*rw_http_handler)(rw_http_ctx *c);

#define RW_ROUTE_PARAMS 2

typedef struct {
    const char *method;
    const char *pattern; /* "/v1/clusters/{id}": {name} matches one non-empty segment */
    unsigned roles;
    const char *query; /* allowed query parameters, space-separated ("" for none) */
    rw_http_handler fn;
    unsigned flags; /* RW_ROUTE_* */
} rw_route;

enum {
    /* Built on the analysts' pool (pictures, exports): seconds of CPU that
     * must never hold a thread answering signups. */
    RW_ROUTE_POOL = 1u << 0,
};

/* A captured path segment, raw (still percent-encoded); borrowed from the
 * request path. */
typedef struct {
    const char *s;
    size_t len;
} rw_span;

typedef struct {
    size_t n;
    rw_span p[RW_ROUTE_PARAMS];
} rw_route_params;

/* The server's routes (static); *n receives their count. */
const rw_route *rw_http_routes(size_t *n);

enum { RW_ROUTE_NOTFOUND = -1, RW_ROUTE_BADMETHOD = -2 };
/* Index of the route in t matching method and path, with its captures in
 * *p. RW_ROUTE_NOTFOUND when no pattern matches the path; RW_ROUTE_BADMETHOD
 * when some do but not with this method: allow then receives the methods that
 * would ("GET, POST"). */
int rw_route_match(const rw_route *t, size_t n, const char *method, const char *path, rw_route_params *p, char *allow,
                   size_t allow_size);

/* Percent-decodes in[0..len) into out (size bytes, NUL-terminated); plus
 * turns '+' into a space (query strings). RW_ERR_INVALID for a bad escape,
 * an encoded NUL or a result that does not fit. *outlen gets the length. */
rw_status rw_http_unescape(char *out, size_t size, size_t *outlen, const char *in, size_t len, int plus);

/* ---- page tokens ------------------------------------------------------------ */

/* Where a page of clusters ended: the run it pins, its last row and the
 * digest of the filters it was issued for (rw_page_filter_digest). */
typedef struct {
    int64_t run;
    double score;
    uint32_t id;
    uint32_t filters;
} rw_page_cursor;

#define RW_PAGE_TOKEN_LEN 39 /* characters, without the NUL */

/* A digest of every filter of a cluster list, so a token is refused with
 * other filters than its first page's. */
uint32_t rw_page_filter_digest(const rw_cluster_filter *f);

/* Writes the cursor as an opaque URL-safe token into out. */
void rw_page_token_encode(char out[RW_PAGE_TOKEN_LEN + 1], const rw_page_cursor *c);
/* RW_ERR_INVALID ("not a page token ...") for anything encode did not make. */
rw_status rw_page_token_decode(rw_page_cursor *out, const char *s, size_t len, rw_err *err);

/* ---- answers ------------------------------------------------------------- */

/* The classes of error answer; each has a type URI, a title and a status. */
typedef enum {
    RW_PROB_BAD_JSON,
    RW_PROB_BAD_REQUEST,
    RW_PROB_INVALID_EVENT,
    RW_PROB_INVALID_BODY,
    RW_PROB_INVALID_PARAMETER,
    RW_PROB_INVALID_PATH,
    RW_PROB_UNAUTHORIZED,
    RW_PROB_FORBIDDEN,
    RW_PROB_NOT_FOUND,
    RW_PROB_NO_ROUTE,
    RW_PROB_METHOD,
    RW_PROB_CONFLICT,
    RW_PROB_TOO_LARGE,
    RW_PROB_MEDIA_TYPE,
    RW_PROB_EXPORT_LIMIT,
    RW_PROB_UNAVAILABLE,
    RW_PROB_INTERNAL,
    RW_PROB_COUNT
} rw_problem;

/* Status code of a problem class. */
unsigned rw_problem_status(rw_problem p);
/* Sets out to an application/problem+json answer of class p with a detail
 * (printf format); extra (may be NULL) holds extension members and the
 * function takes ownership of it. */
void rw_http_problem(rw_http_response *out, rw_problem p, json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets out to a JSON answer; takes ownership of doc. */
void rw_http_json(rw_http_response *out, unsigned status, json_t *doc);
/* Answers the text of w (application/json), taking it from the writer; an
 * unfinished or failed writer answers 500. */
void rw_http_jw(rw_http_response *out, unsigned status, rw_jw *w);
/* Writes a live decision's members (decision, score, cluster, reasons) into
 * the open object of w. */
void rw_http_jw_decision(rw_jw *w, const rw_decision *d);
/* Sets out to a text answer (copied). */
void rw_http_text(rw_http_response *out, unsigned status, const char *content_type, const char *text, size_t len);
/* The problem class for a failed engine call (NOTFOUND 404, FULL/IO/DB 503,
 * INVALID 400, EXISTS 409, others 500). */
rw_problem rw_problem_of_status(rw_status st);

/* ---- the request context ------------------------------------------------- */

#define RW_QUERY_MAX 16

struct rw_http_ctx {
    rw_http_server *srv;
    int route_index;
    double t0;
    const rw_http_request *req;
    const rw_route *route;
    rw_route_params params;
    rw_http_response *out;
    size_t nq;
    struct {
        const char *key, *value; /* decoded; borrowed from qbuf */
    } q[RW_QUERY_MAX];
    char *qbuf;
    char who[RW_AUTH_NAME + 1]; /* the caller's token's name ("" unnamed) */
};

/* The decoded value of query parameter key, or NULL when absent. */
const char *rw_http_query(const rw_http_ctx *c, const char *key);
/* Decodes path capture i into a malloc'd NUL-terminated string (caller owns)
 * and its length; NULL after answering 400 when the escape is bad. */
char *rw_http_param(rw_http_ctx *c, size_t i, const char *name, size_t *len);
/* Parses the body as one JSON object; NULL after answering 400 (with the
 * line and column of a syntax error). Caller owns the result. */
json_t *rw_http_body_object(rw_http_ctx *c);

/* Handlers, one per route (files h_*.c). */
void rw_h_signup(rw_http_ctx *c);
void rw_h_events(rw_http_ctx *c);
void rw_h_account(rw_http_ctx *c);
void rw_h_account_events(rw_http_ctx *c);
void rw_h_attribute(rw_http_ctx *c);
void rw_h_clusters(rw_http_ctx *c);
void rw_h_cluster(rw_http_ctx *c);
void rw_h_label_cluster(rw_http_ctx *c);
void rw_h_label_account(rw_http_ctx *c);
void rw_h_rescore(rw_http_ctx *c);
void rw_h_job(rw_http_ctx *c);
void rw_h_job_cancel(rw_http_ctx *c);
void rw_h_livez(rw_http_ctx *c);
void rw_h_readyz(rw_http_ctx *c);
void rw_h_metrics(rw_http_ctx *c);
void rw_h_openapi(rw_http_ctx *c);
void rw_h_models(rw_http_ctx *c);
void rw_h_model_promote(rw_http_ctx *c);
void rw_h_model_rollback(rw_http_ctx *c);
void rw_h_erase_account(rw_http_ctx *c);
void rw_h_cluster_export(rw_http_ctx *c);
void rw_h_cluster_graph_svg(rw_http_ctx *c);
void rw_h_cluster_timeline_svg(rw_http_ctx *c);
void rw_h_runs(rw_http_ctx *c);
void rw_h_run(rw_http_ctx *c);
void rw_h_audit(rw_http_ctx *c);
void rw_h_dash_index(rw_http_ctx *c);
void rw_h_dash_js(rw_http_ctx *c);
void rw_h_dash_css(rw_http_ctx *c);

/* ---- ids as answers give them (h_workbench.c) ---------------------------- */

/* "c<id>" (JSON null for 0): the one form of a run's cluster id. */
json_t *rw_http_cluster_ref(uint32_t id);
/* Parses path capture i as a cluster id: "c12" (or a bare 12) sets *batch,
 * "live-3" sets *live. -1 after answering 400. */
int rw_http_cluster_id(rw_http_ctx *c, size_t i, uint32_t *batch, uint32_t *live);
/* The query's run (0 when absent); -1 after answering 400 for a bad one or
 * 404 for a run that does not exist. */
int rw_http_run_param(rw_http_ctx *c, int64_t *run);
/* The flagged clusters of run as {"c12": accounts, ...} (caller owns; an
 * empty object for run 0); NULL on failure (err). */
json_t *rw_http_flagged_of(rw_http_server *s, int64_t run, rw_err *err);
/* "new" or "grown" for a flagged cluster id with accounts against prev
 * (rw_http_flagged_of of the run before, an empty object for the first
 * run), NULL for neither or no prev. */
const char *rw_http_change(json_t *prev, const char *id, uint32_t accounts);
/* The run published before run (0: none, -1: reading failed). */
int64_t rw_http_prev_run(rw_http_server *s, int64_t run);
/* Each feature's part in a cluster's score in run: the model's weight
 * times the feature's value (features: the cluster's "features" object), with
 * the bias and threshold; null when the run was scored by a model other than
 * the one in force (only its weights are at hand). A new reference. */
json_t *rw_http_score_parts(rw_http_server *s, int64_t run, json_t *features);
/* Answers GET /v1/clusters/live-N. */
void rw_h_live_cluster(rw_http_ctx *c, uint32_t live_no);

/* The OpenAPI document, compiled in from http/openapi.json by CMake. */
extern const unsigned char rw_http_openapi_json[];
extern const size_t rw_http_openapi_json_len;
/* The dashboard's files, compiled in from http/assets/. */
extern const unsigned char rw_http_asset_index_html[], rw_http_asset_app_js[], rw_http_asset_app_css[];
extern const size_t rw_http_asset_index_html_len, rw_http_asset_app_js_len, rw_http_asset_app_css_len;

/* ---- deferred answers (group commit) ----------------------------------------- */

struct rw_http_defer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int settled;
    rw_status st; /* RW_OK: durable */
    rw_err err;
    void (*wake)(void *ctx); /* armed: called when settled */
    void *wake_ctx;
    int route; /* for the metrics at the end */
    const char *method;
    double t0;
};

/* A defer for the request being handled, or NULL (out of memory: answered). */
rw_http_defer *rw_http_defer_new(rw_http_ctx *c);
/* The engine's callback (rw_record_cb) for a defer. */
void rw_http_defer_settled(void *ctx, rw_status st, const rw_err *err);
/* Frees a defer that was never handed to the engine. */
void rw_http_defer_free(rw_http_defer *d);

/* ---- metrics --------------------------------------------------------------- */

#define RW_HIST_MAX   16 /* finite buckets; +Inf is implicit */
#define RW_ROUTES_MAX 32

/* A Prometheus histogram updated with relaxed atomics (no lock on the hot
 * path); bounds are static. */
typedef struct {
    const double *bounds;
    size_t nbounds;
    uint64_t bucket[RW_HIST_MAX + 1];
    uint64_t count;
    uint64_t sum_micro; /* sum of observations in millionths */
} rw_hist;

typedef struct {
    rw_hist route[RW_ROUTES_MAX + 1]; /* the last one: no route matched */
    uint64_t requests[3][6];          /* method (GET, POST, other) x status class (1xx..5xx, other) */
    uint64_t decisions[3];            /* by rw_verdict */
    rw_hist score;                    /* scores of signups */
    uint64_t events_accepted, events_rejected;
    rw_hist rescore;            /* seconds of finished rescorings */
    uint64_t rescore_last_bits; /* the last duration, a double's bits */
    uint64_t rescores[3];       /* done, failed, cancelled */
    uint64_t refused_per_ip;    /* connections refused: their address was at per_ip_connection_limit */
    uint64_t refused_limit;     /* ... the server was at connection_limit */
    uint64_t timed_out;         /* connections closed at request_timeout_seconds */
    uint64_t bad_framing;       /* requests refused for ambiguous framing (closed) */
    uint64_t pool_rejected;     /* pictures and exports answered 503: the pool's queue was full */
} rw_http_metrics;

void rw_metrics_init(rw_http_metrics *m);
void rw_hist_observe(rw_hist *h, double v);
void rw_metrics_request(rw_http_metrics *m, int route, const char *method, unsigned status, double seconds);
/* The Prometheus text (caller owns, malloc'd) or NULL when out of memory. */
char *rw_metrics_render(rw_http_server *s, size_t *len);
/* The conventional series (metrics_process.c): process_*, build info, the
 * last successful rescoring, commit latency and queue, the run's flagged
 * counts, events by type; k is the engine's counters read for this scrape.
 * Caller owns the text; NULL when out of memory. */
char *rw_metrics_conventional(rw_http_server *s, const rw_engine_counters *k);

/* ---- jobs ------------------------------------------------------------------ */

typedef enum { RW_JOB_QUEUED, RW_JOB_RUNNING, RW_JOB_DONE, RW_JOB_FAILED, RW_JOB_CANCELLED } rw_job_state;
typedef enum { RW_JOB_API, RW_JOB_SCHEDULE } rw_job_trigger;

typedef struct {
    uint64_t id;
    rw_job_state state;
    rw_job_trigger trigger;
    int64_t created, started, finished; /* Unix seconds; 0: not yet */
    rw_rescore_params rp;
    rw_rescore_summary summary;
    uint32_t retention_days; /* retention before the rescoring (nightly jobs); 0: none */
    rw_erase_stats retained; /* what it erased */
    char error[600];
} rw_job;

#define RW_JOBS_MAX 64 /* jobs remembered; the oldest finished are forgotten */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* wakes the scheduler on stop */
    rw_job job[RW_JOBS_MAX];
    size_t njobs;
    uint64_t next_id;
    int busy;          /* a rescoring job is queued or running */
    int cancel;        /* the running job is to stop (atomic: read by the engine and the command's watcher) */
    int worker_joined; /* the last worker thread has been joined */
    pthread_t worker;
    int sched_live;
    pthread_t sched;
    int stopping;
} rw_http_jobs;

void rw_jobs_init(rw_http_jobs *j);
/* Starts a rescoring in a background thread; *id receives the job id.
 * RW_ERR_EXISTS when one is queued or running, RW_ERR_PERM when stopping. */
rw_status rw_jobs_start(rw_http_server *s, rw_job_trigger trigger, const rw_rescore_params *rp, uint64_t *id,
                        rw_err *err);
/* Records who started job id (who NULL: the nightly schedule) in the audit
 * trail. */
void rw_jobs_audit(rw_http_server *s, const char *who, uint64_t id, const rw_rescore_params *rp);
/* Records who asked job id to stop. */
void rw_jobs_audit_cancel(rw_http_server *s, const char *who, uint64_t id);
/* Copies job id into *out; RW_ERR_NOTFOUND when unknown or forgotten. */
rw_status rw_jobs_get(rw_http_server *s, uint64_t id, rw_job *out, rw_err *err);
/* Asks running job id to stop: RW_OK once asked (it ends cancelled unless
 * its run was published already), RW_ERR_NOTFOUND for an unknown id,
 * RW_ERR_EXISTS when it has finished (*state its state). */
rw_status rw_jobs_cancel(rw_http_server *s, uint64_t id, rw_job_state *state, rw_err *err);
/* Runs the rescore_command on copy (jobs_command.c), rw_rescore_external's
 * run: its own process group, killed when *cancel becomes 1; a failure
 * carries the command's last lines of stderr. */
typedef struct {
    rw_http_server *s;
    const rw_rescore_params *rp;
    const int *cancel;
} rw_job_command;
rw_status rw_jobs_run_command(void *ctx, const char *copy, rw_err *err);
/* Starts the nightly scheduler thread (rescore_at must be set). */
rw_status rw_jobs_start_scheduler(rw_http_server *s, rw_err *err);
/* Stops the scheduler and waits for a running job. */
void rw_jobs_stop(rw_http_server *s);
void rw_jobs_destroy(rw_http_jobs *j);
/* Seconds from now (local time t, tm of now) to the next hh:mm; always > 0. */
int64_t rw_jobs_seconds_until(int64_t now, int minutes);

/* ---- connection guard: limits, trusted clients, request deadline -------------- */

#define RW_TRUSTED_MAX 32

typedef struct {
    unsigned char addr[16]; /* IPv4 as ::ffff:a.b.c.d */
    unsigned bits;          /* prefix length over the 16 bytes */
} rw_cidr;

/* Parses "10.0.0.0/8, ::1, 192.0.2.7" into at most max networks (*n of
 * them); RW_ERR_INVALID naming the bad item. "" gives none. */
rw_status rw_cidr_parse(rw_cidr *out, size_t max, size_t *n, const char *text, rw_err *err);
/* Is the 16-byte address in one of the n networks? */
int rw_cidr_match(const rw_cidr *nets, size_t n, const unsigned char addr[16]);

typedef struct rw_conn rw_conn; /* one open connection (guard.c) */
typedef struct rw_addr_count rw_addr_count;

#define RW_GUARD_BUCKETS 4096

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rw_conn *conns; /* every open connection, a doubly linked list */
    size_t untrusted;
    rw_addr_count *bucket[RW_GUARD_BUCKETS]; /* open connections per address */
    rw_cidr trusted[RW_TRUSTED_MAX];
    size_t ntrusted;
    uint32_t limit, per_ip; /* in force (limit may be lowered to the open-file limit) */
    int sweeper_live, stopping;
    pthread_t sweeper;
} rw_http_guard;

/* Sets up the guard from s->cfg (limits, trusted networks). */
rw_status rw_guard_init(rw_http_server *s, rw_err *err);
/* Raises the open-file limit for the connections configured; lowers
 * g->limit when the hard limit is too low (said on the log). Returns the
 * connection limit to give libmicrohttpd. */
unsigned rw_guard_fit_files(rw_http_server *s);
/* Starts the thread closing connections past their request deadline. */
rw_status rw_guard_start(rw_http_server *s, rw_err *err);
void rw_guard_stop(rw_http_server *s);
void rw_guard_destroy(rw_http_guard *g);
/* libmicrohttpd callbacks (cls: the server). */
enum MHD_Result rw_guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
void rw_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe);
void *rw_guard_uri_seen(void *cls, const char *uri, struct MHD_Connection *c);
/* The request on c has fully arrived (no deadline while it is answered). */
void rw_guard_request_in(struct MHD_Connection *c);
/* The answer on c has been sent: the connection idles, bounded by the idle
 * timeout plus the request deadline. */
void rw_guard_request_done(rw_http_server *s, struct MHD_Connection *c);

/* ---- the analysts' pool ------------------------------------------------------- */

#define RW_POOL_THREADS_MAX 16

typedef struct rw_pool_task rw_pool_task;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv, idle;
    rw_pool_task *head, *tail;
    size_t waiting, running, reserved;
    pthread_t th[RW_POOL_THREADS_MAX];
    size_t nth;
    int stopping;
} rw_http_pool;

rw_status rw_pool_start(rw_http_server *s, rw_err *err);
/* Stops the threads after the tasks queued are done. */
void rw_pool_stop(rw_http_server *s);
/* Queues a task for the request (copied: method, path, query, headers,
 * body) whose answer the pool builds. NULL when the queue is full (a 503
 * with Retry-After is set in *out) or out of memory (500). */
rw_pool_task *rw_pool_submit(rw_http_server *s, const rw_http_request *req, rw_http_response *out);
/* Calls wake(ctx) from the pool thread once the answer is built; returns 0
 * when it already is (wake is then not called). */
int rw_pool_arm(rw_pool_task *t, rw_http_server *s, void (*wake)(void *ctx), void *ctx);
/* Blocks until it has. */
void rw_pool_wait(rw_pool_task *t, rw_http_server *s);
/* Moves the answer into *out and frees the task (once done). */
void rw_pool_take(rw_pool_task *t, rw_http_server *s, rw_http_response *out);

/* ---- the server ------------------------------------------------------------ */

#define RW_AUTH_HASH 32

typedef struct {
    unsigned char hash[RW_AUTH_HASH]; /* BLAKE2b of the token */
    unsigned roles;
    char name[RW_AUTH_NAME + 1]; /* "alice" for "alice:TOKEN"; "" unnamed */
} rw_auth_token;

/* Splits a configured token item[0..n) "NAME:TOKEN" into its name's length
 * and the offset of the token; an item without ':' is an unnamed token
 * (tokens never hold ':'). -1 when the name is empty, too long or has
 * other characters than A-Z a-z 0-9 - . _ */
int rw_auth_split(const char *item, size_t n, size_t *name_len, size_t *token_at);

struct rw_http_server {
    rw_engine *e;
    rw_config cfg;
    struct MHD_Daemon *daemon;
    uint16_t port;
    int stopping; /* read and written with atomics: readiness drops first */
    int stopped;
    int inflight; /* requests begun and not completed (atomics) */
    rw_auth_token *tokens;
    size_t ntokens;
    const rw_route *routes;
    size_t nroutes;
    rw_http_metrics metrics;
    rw_http_jobs jobs;
    rw_http_exporter exporter; /* open NULL: none */
    rw_http_guard guard;
    rw_http_pool pool;
};

/* Builds the token table from the configuration. */
rw_status rw_auth_init(rw_http_server *s, rw_err *err);
/* The roles held by the bearer token in an Authorization header: 0 when it
 * matches none; -1 when the header is missing or not "Bearer ...". Every
 * configured token is compared, in constant time, whatever matches. */
int rw_auth_roles(const rw_http_server *s, const char *authorization);
/* rw_auth_roles that also copies the matching token's name into who ("" for
 * an unnamed token or none), still comparing every token. */
int rw_auth_who(const rw_http_server *s, const char *authorization, char who[RW_AUTH_NAME + 1]);

/* "ringwatch serve: ..." on stderr when level is enabled. */
void rw_http_log(const rw_http_server *s, rw_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes fmt into out with every string argument replaced by "[redacted]"
 * and numbers kept: libmicrohttpd quotes request lines, paths and header
 * values through %s, and those hold raw identifiers. Returns 0 at a
 * conversion it does not know (the rest of the line is dropped: its
 * arguments cannot be stepped over safely). */
int rw_http_redact(char *out, size_t size, const char *fmt, va_list ap);

#endif
