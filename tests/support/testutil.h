/* Test helpers shared by the Criterion suites: temporary directories, running
 * the real binary, reading files. */
#ifndef RW_TESTUTIL_H
#define RW_TESTUTIL_H

#include <stddef.h>

/* Creates a fresh temporary directory and returns its path (static storage
 * per call site is not used: caller frees with free()). */
char *tu_tmpdir(void);
/* Removes a directory tree (rm -rf); ignores errors. */
void tu_rmtree(const char *path);
/* Path to the built ringwatch binary (RW_BIN, else ./build/ringwatch). */
const char *tu_bin(void);
/* Runs a shell command; stores combined stdout+stderr in *out (caller frees,
 * may be NULL to discard) and returns its exit status (-1 on failure). */
int tu_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads a whole file (caller frees); NULL on error. *len may be NULL. */
char *tu_read_file(const char *path, size_t *len);
/* Writes a whole file; returns 0 on success. */
int tu_write_file(const char *path, const char *data, size_t len);
/* Returns 1 if needle occurs in the len bytes at hay. */
int tu_contains(const void *hay, size_t len, const void *needle, size_t nlen);

/* ---- the HTTP server, for end-to-end tests --------------------------------- */

#include <sys/types.h>

typedef struct {
    pid_t pid;
    unsigned port;        /* where requests go: prism's port when run through it */
    unsigned direct_port; /* the server's own port */
    char log[512];        /* its stderr */
} tu_server;

/* Starts `ringwatch serve ARGS` in dir (stderr to dir/serve.log, which must
 * not exist yet or is appended to) and waits for its "listening on
 * HOST:PORT" line. Returns 0 on success; on failure the log says why.
 * With RW_PRISM_PORT and RW_PRISM_UPSTREAM set (tests/browser/
 * openapi-prism.mjs), port is that of `prism proxy`, which validates every
 * request and answer against http/openapi.json, and the server's port is
 * written to the file RW_PRISM_UPSTREAM names, where prism's relay reads it. */
int tu_serve_start(tu_server *s, const char *dir, const char *args);
/* Sends sig and waits for the server; returns its exit code, or 128 + the
 * signal that ended it. Unless sig is SIGKILL, a non-zero end prints the
 * tail of the server's log to stderr (a sanitizer's report lands there). */
int tu_serve_stop(tu_server *s, int sig);

typedef struct {
    long status;
    char *body; /* NUL-terminated; caller frees with tu_resp_free */
    size_t len;
    char *headers; /* raw response headers */
} tu_resp;

/* One request to the server (a new connection). token NULL: no
 * Authorization; ctype NULL: no Content-Type. Returns 0 when an answer came. */
int tu_http(tu_resp *r, const tu_server *s, const char *method, const char *path, const char *token, const char *ctype,
            const char *body, size_t len);
void tu_resp_free(tu_resp *r);

#endif
