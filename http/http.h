/* http: the ringwatch HTTP server (libmicrohttpd + jansson) and its
 * configuration. The only public header of http. Requests are answered by
 * rw_http_dispatch, a function of (method, path, query, headers, body) that
 * needs no socket, so tests and fuzzers drive it directly. */
#ifndef RW_HTTP_H
#define RW_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "engine.h"

/* ---- configuration -------------------------------------------------------- */

#define RW_CONFIG_TEXT  1024 /* bytes of a path or listen address, NUL included */
#define RW_CONFIG_TOKEN 4096 /* bytes of a comma-separated token list, NUL included */

typedef enum { RW_LOG_ERROR = 0, RW_LOG_INFO = 1, RW_LOG_DEBUG = 2 } rw_log_level;

/* Every setting of `ringwatch serve`. Plain values, no pointers: a config is
 * copied freely and needs no free. */
typedef struct {
    char listen[RW_CONFIG_TEXT]; /* "HOST:PORT", "[V6]:PORT"; port 0 picks a free one */
    char db[RW_CONFIG_TEXT];
    char key_file[RW_CONFIG_TEXT]; /* "": "<db>.key" */
    uint32_t threads;              /* MHD thread pool */
    uint32_t connection_limit;
    uint32_t per_ip_connection_limit;
    uint32_t timeout_seconds;             /* idle connection timeout */
    uint32_t request_timeout_seconds;     /* a whole request (line, headers, body) at most; 0: no bound */
    char trusted_clients[RW_CONFIG_TEXT]; /* CIDR list accepted beyond the limits, "" for none */
    uint32_t trusted_reserve;             /* connections kept for trusted clients beyond connection_limit */
    uint32_t analyst_threads;             /* threads for pictures and exports */
    uint32_t rescore_threads;             /* the rescoring's detector workers (0: one per processor) */
    uint32_t analyst_queue;               /* such requests waiting at most; more answer 503 */
    uint64_t max_body_bytes;
    uint64_t connection_memory_bytes; /* MHD per-connection memory pool */
    uint32_t max_batch_events;        /* events in one POST /v1/events */
    double review_threshold, block_threshold;
    int rescore_at;          /* minutes after local midnight; -1: no nightly rescoring */
    uint32_t retention_days; /* the nightly job first erases what was not seen for this long; 0: keep forever */
    char rescore_command[RW_CONFIG_TEXT];
    char signup_base_model[RW_CONFIG_TEXT];
    /* "": the shipped signup model is version 0 */ /* "": rescore in this process; else run it on a copy (sh -c) */
    int distill; /* the nightly job fits, shadows and promotes signup models (rw_learn_params) */
    uint32_t feature_log_days, min_ring_rows, min_other_rows;
    double shadow_hours, review_jump, drift_level, min_history_days, benign_budget;
    char token_signup[RW_CONFIG_TOKEN];
    char token_analyst[RW_CONFIG_TOKEN];
    char token_admin[RW_CONFIG_TOKEN];
    char token_metrics[RW_CONFIG_TOKEN];
    int auth;  /* 0: no authentication at all (auth = off) */
    int fsync; /* 0: a signup is acknowledged once written, not synced (rw_engine_set_fsync) */
    rw_log_level log_level;
} rw_config;

/* One documented setting, for --help and the README. */
typedef struct {
    const char *key;     /* "max_body_bytes"; env RINGWATCH_MAX_BODY_BYTES */
    const char *def;     /* the default as text ("" for empty) */
    const char *summary; /* one line */
} rw_config_doc;

/* The i-th documented setting (static), NULL past the last. */
const rw_config_doc *rw_config_doc_at(size_t i);

/* Fills c with the defaults. */
void rw_config_defaults(rw_config *c);

/* Sets one setting from its text. RW_ERR_INVALID with "key: what is wrong"
 * for an unknown key or a bad value; c is unchanged then. */
rw_status rw_config_set(rw_config *c, const char *key, const char *value, rw_err *err);

/* Applies an INI text (len bytes, need not be NUL-terminated): `key = value`
 * lines, `#` and `;` comments, blank lines, an optional `[server]` section,
 * values optionally in double quotes. A key given twice: the last wins.
 * RW_ERR_INVALID with "NAME:LINE: key: what is wrong" (name names the file in
 * messages); settings before the bad line stay applied. */
rw_status rw_config_parse(rw_config *c, const char *name, const char *text, size_t len, rw_err *err);

/* As rw_config_parse, for a file whose permission bits are mode (st_mode):
 * a file that sets a token and that its group or others may read is
 * refused (RW_ERR_PERM, "NAME: holds tokens and is readable by ...;
 * chmod 600 NAME"), before any of it is applied. */
rw_status rw_config_parse_file(rw_config *c, const char *name, const char *text, size_t len, unsigned mode,
                               rw_err *err);

/* Applies RINGWATCH_<KEY> variables looked up with get (getenv in the
 * server; a table in tests). Errors read "RINGWATCH_KEY: what is wrong". */
rw_status rw_config_env(rw_config *c, const char *(*get)(const char *name), rw_err *err);

/* Checks settings that only make sense together (thresholds ordered, some
 * token configured unless auth is off). "key: what is wrong". */
rw_status rw_config_check(const rw_config *c, rw_err *err);

/* A body produced piece by piece (an export streamed to the client): read
 * copies the next at most size bytes into buf and sets *n, 0 at the end;
 * close frees ctx (called once, whether or not the body was read). */
typedef struct {
    rw_status (*read)(void *ctx, char *buf, size_t size, size_t *n);
    void (*close)(void *ctx);
    void *ctx;
} rw_http_stream;

/* Exports and pictures of a cluster, provided by whoever wires the server
 * (the CLI, from the notebooks-export module, which http may not use).
 * open produces format ("graphml", "nodes.csv", "graph.svg", ...) of cluster
 * id of run (0: the newest) into *out, with its media type (static) and a
 * file name for Content-Disposition. RW_ERR_INVALID for an unknown format,
 * RW_ERR_NOTFOUND, RW_ERR_LIMIT (err says which limit). */
typedef struct {
    rw_status (*open)(void *ctx, rw_engine *e, uint32_t id, int64_t run, const char *format, rw_http_stream *out,
                      const char **media_type, char *file_name, size_t name_size, rw_err *err);
    void *ctx;
} rw_http_exporter;

/* ---- the server ------------------------------------------------------------ */

typedef struct rw_http_server rw_http_server;

/* A server over engine e (borrowed, must outlive the server) with a copy of
 * cfg. Nothing listens before rw_http_start. Caller owns *out. */
rw_status rw_http_create(rw_http_server **out, rw_engine *e, const rw_config *cfg, rw_err *err);
/* Binds the listen address and starts the thread pool and, when rescore_at
 * is set, the nightly scheduler. RW_ERR_IO when the address cannot be bound. */
rw_status rw_http_start(rw_http_server *s, rw_err *err);
/* The bound port (useful with port 0); 0 before start. */
uint16_t rw_http_port(const rw_http_server *s);
/* Serves exports and pictures through x (copied; its ctx is borrowed and
 * must outlive the server). Without one those routes answer 503. Call
 * before rw_http_start. */
void rw_http_set_exporter(rw_http_server *s, const rw_http_exporter *x);
/* Stops accepting, lets requests in flight finish, stops the scheduler and
 * waits for a running rescoring job. Idempotent. */
void rw_http_stop(rw_http_server *s);
/* Stops (if needed) and frees; NULL is a no-op. */
void rw_http_free(rw_http_server *s);

/* ---- dispatch without sockets -------------------------------------------- */

/* A request as it came off the wire. Everything is borrowed for the call;
 * path and query are raw (still percent-encoded); NULL header means absent. */
typedef struct {
    const char *method;
    const char *path;          /* "/v1/accounts/a%2Fb" without the query */
    const char *query;         /* "min_score=0.5&page_size=10" or NULL */
    const char *authorization; /* the Authorization header */
    const char *content_type;
    const char *body;
    size_t body_len;
    double t0; /* rw_now() when the request began (0: at dispatch) */
} rw_http_request;

#define RW_HTTP_ALLOW_MAX 32

/* An answer that waits for a group commit (a signup): see rw_http_dispatch_async. */
typedef struct rw_http_defer rw_http_defer;

/* An answer. body is caller owns (free with rw_http_response_free, or hand
 * it to MHD with MHD_RESPMEM_MUST_FREE: it is malloc'd). */
typedef struct {
    unsigned status;
    const char *content_type; /* static */
    char *body;
    size_t body_len;
    char allow[RW_HTTP_ALLOW_MAX]; /* Allow header for 405, else "" */
    const char *www_authenticate;  /* static, or NULL */
    char location[64];             /* Location header, else "" */
    rw_http_defer *defer;          /* non-NULL: valid only once the commit settles (rw_http_defer_*) */
    char disposition[128];         /* Content-Disposition header, else "" */
    rw_http_stream stream;         /* read non-NULL: the body comes from it (body is unused); owned */
    const char *csp;               /* Content-Security-Policy header (static), or NULL */
    unsigned retry_after;          /* Retry-After seconds, 0: none */
    int close;                     /* close the connection after this answer */
} rw_http_response;

/* Answers one request; never fails (errors are problem+json answers). out is
 * set on entry. Thread-safe. */
void rw_http_dispatch(rw_http_server *s, const rw_http_request *req, rw_http_response *out);
/* As rw_http_dispatch, but a signup's answer may come back with out->defer
 * set: its event is recorded and scored, and out holds the answer to send
 * once its group commit is durable. The caller then either waits
 * (rw_http_defer_wait) or registers a wake-up (rw_http_defer_arm) and sends
 * later; either way it ends with rw_http_defer_finish. The libmicrohttpd
 * side uses this so no thread blocks on an fsync. */
void rw_http_dispatch_async(rw_http_server *s, const rw_http_request *req, rw_http_response *out);
/* Blocks until the commit settles. */
void rw_http_defer_wait(rw_http_defer *d);
/* Calls wake(ctx) once the commit settles, from the engine's commit thread;
 * returns 0 when it has already settled (wake is then not called). */
int rw_http_defer_arm(rw_http_defer *d, void (*wake)(void *ctx), void *ctx);
/* After settling: turns out into a 503 problem if the commit failed, records
 * the request's metrics and frees the defer (out->defer becomes NULL). */
void rw_http_defer_finish(rw_http_server *s, rw_http_response *out);
/* Frees the body, or closes the stream. */
void rw_http_response_free(rw_http_response *r);

#endif
