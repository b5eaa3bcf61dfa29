/* tests: a served instance of the real binary (see tu_serve.h). */
#include "tu_serve.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void tu_serve_init(void) {
    tu_tmp_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void tu_serve_fini(tu_server *s) {
    if (s && s->pid) tu_serve_stop(s, SIGKILL);
    curl_global_cleanup();
    tu_tmp_fini();
}

void tu_serve_up(tu_server *s, const char *args) {
    if (tu_serve_start(s, tu_dir(), args) != 0) {
        char *log = tu_read_file(s->log, NULL);
        cr_assert_fail("server did not start:\n%s", log ? log : "(no log)");
    }
}

static json_t *request(const tu_server *s, long *status, const char *method, const char *path, const char *token,
                       const char *ctype, const char *body, int text_ok) {
    tu_resp r;
    int rc = tu_http(&r, s, method, path, token, ctype, body, body ? strlen(body) : 0);
    cr_assert_eq(rc, 0, "%s %s: no answer", method, path);
    *status = r.status;
    json_t *doc = json_loadb(r.body, r.len, 0, NULL);
    if (!doc && text_ok) doc = json_string(r.body);
    cr_assert(doc, "%s %s: not JSON: %s", method, path, r.body);
    tu_resp_free(&r);
    return doc;
}

json_t *tu_req(const tu_server *s, long *status, const char *method, const char *path, const char *token,
               const char *ctype, const char *body) {
    return request(s, status, method, path, token, ctype, body, 0);
}

json_t *tu_req_text(const tu_server *s, long *status, const char *method, const char *path, const char *token,
                    const char *ctype, const char *body) {
    return request(s, status, method, path, token, ctype, body, 1);
}

const char *tu_str(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

long tu_num(json_t *o, const char *key) {
    return (long)json_integer_value(json_object_get(o, key));
}

json_t *tu_wait_job(const tu_server *s, const char *token, const char *id) {
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    for (int i = 0; i < 6000; i++) {
        long st;
        json_t *j = tu_req(s, &st, "GET", path, token, NULL, NULL);
        cr_assert_eq(st, 200);
        const char *state = tu_str(j, "status");
        if (!strcmp(state, "done") || !strcmp(state, "failed") || !strcmp(state, "cancelled")) return j;
        json_decref(j);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert_fail("job %s never finished", id);
    return NULL;
}

int tu_prism(void) {
    const char *p = getenv("RW_PRISM_PORT");
    return p && *p;
}

int tu_prism_refused(const char *body, long want) {
    return tu_prism() && want >= 400 && want < 500 && body && strstr(body, "https://stoplight.io/prism/errors#") &&
           !strstr(body, "errors#VIOLATIONS");
}

tu_server tu_direct(const tu_server *s) {
    tu_server d = *s;
    d.port = s->direct_port;
    return d;
}
