/* libFuzzer target for rw_http_dispatch: a request made of the input's first
 * five lines (method, path, query, Authorization, Content-Type) and the rest
 * as its body, answered by a server over an engine on a scratch database.
 * No input may crash or leak, and every answer is JSON or metrics text. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set once for the process, as libFuzzer targets do. */
static rw_http_server *srv;
static char tmpl[] = "/dev/shm/rwfuzz-XXXXXX";

/* The scratch database goes with the process. */
static void remove_scratch(void) {
    static const char *const files[] = {"f.db", "f.db-wal", "f.db-shm", "f.db.key"};
    char p[96];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmpl, files[i]);
        unlink(p);
    }
    rmdir(tmpl);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char db[64];
    if (!mkdtemp(tmpl)) abort();
    atexit(remove_scratch);
    snprintf(db, sizeof db, "%s/f.db", tmpl);
    rw_engine *e = NULL;
    rw_engine_config ec = {.db_path = db};
    rw_config cfg;
    rw_config_defaults(&cfg);
    if (rw_engine_open(&e, &ec, NULL) != RW_OK || rw_config_set(&cfg, "token_admin", "fuzz-admin-token-0123", NULL) ||
        rw_config_set(&cfg, "token_signup", "fuzz-signup-token-0123", NULL) ||
        rw_config_set(&cfg, "log_level", "error", NULL) || rw_http_create(&srv, e, &cfg, NULL) != RW_OK)
        abort();
    return 0;
}

/* The next line of [*p, end) as a NUL-terminated copy (caller frees). */
static char *line(const char **p, const char *end) {
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    char *s = malloc(n + 1);
    memcpy(s, *p, n);
    s[n] = 0;
    *p += n + (nl != NULL);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data, *end = p + size;
    char *f[5];
    for (int i = 0; i < 5; i++) f[i] = line(&p, end);
    /* a rescoring per input would spend the run on igraph, not on us */
    int skip = strstr(f[1], "rescore") != NULL;
    if (!skip) {
        rw_http_request req = {.method = f[0],
                               .path = f[1],
                               .query = *f[2] ? f[2] : NULL,
                               .authorization = *f[3] ? f[3] : NULL,
                               .content_type = *f[4] ? f[4] : NULL,
                               .body = p,
                               .body_len = (size_t)(end - p)};
        rw_http_response out;
        rw_http_dispatch(srv, &req, &out);
        if (out.status < 200 || out.status > 599 || !out.content_type || (!out.body && !out.stream.read)) abort();
        /* JSON answers (and every problem) must parse; the dashboard's
         * files, metrics text and streamed exports are other types. */
        if (!strncmp(out.content_type, "application/json", 16) ||
            !strncmp(out.content_type, "application/problem+json", 24)) {
            json_t *doc = out.body ? json_loadb(out.body, out.body_len, 0, NULL) : NULL;
            if (!doc) abort();
            json_decref(doc);
        } else if (out.status >= 400) {
            abort(); /* an error that is not problem+json */
        }
        rw_http_response_free(&out);
    }
    for (int i = 0; i < 5; i++) free(f[i]);
    return 0;
}
