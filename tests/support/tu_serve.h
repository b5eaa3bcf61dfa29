/* tests: a served instance of the real binary in the test's folder
 * (tu_tmp.h), on a free loopback port, and JSON requests to it. The server
 * itself (tu_server, tu_serve_start/stop, tu_http) is in testutil.h. */
#ifndef TU_SERVE_H
#define TU_SERVE_H

#include <jansson.h>

#include "tu_tmp.h"

/* A suite's .init for server tests: the folder, and libcurl's global state
 * set up before any client thread starts. */
void tu_serve_init(void);
/* The matching .fini: kills s when it still runs, then undoes the init. */
void tu_serve_fini(tu_server *s);

/* Starts `ringwatch serve ARGS` in the folder; fails the test with the
 * server's log when it does not start. */
void tu_serve_up(tu_server *s, const char *args);

/* One request (token NULL: no Authorization; ctype NULL: none); the answer
 * parsed as JSON (caller decrefs) and its status in *status. Fails the test
 * when no answer comes or it is not JSON. */
json_t *tu_req(const tu_server *s, long *status, const char *method, const char *path, const char *token,
               const char *ctype, const char *body);
/* The same, but an answer that is not JSON (/metrics) comes back as a JSON
 * string. */
json_t *tu_req_text(const tu_server *s, long *status, const char *method, const char *path, const char *token,
                    const char *ctype, const char *body);

/* A member of o as text ("" when missing) or as a number (0 when missing). */
const char *tu_str(json_t *o, const char *key);
long tu_num(json_t *o, const char *key);

/* Polls /v1/jobs/ID (with token) until the job is done, failed or cancelled; its last
 * document (caller decrefs). Fails the test after a minute. */
json_t *tu_wait_job(const tu_server *s, const char *token, const char *id);

/* Through `prism proxy` (the openapi_prism test; see tu_serve_start), a
 * request the OpenAPI document rules out is answered by prism itself, not
 * the server: the server's own answer to it is tested in the direct run.
 * tu_prism: requests go through prism. tu_prism_refused: body is such a
 * refusal and want, what the test expected, is a client error too. */
int tu_prism(void);
int tu_prism_refused(const char *body, long want);
/* s as reached on the server's own port: for what the document does not
 * describe (transport limits, a server run without tokens). */
tu_server tu_direct(const tu_server *s);

#endif
