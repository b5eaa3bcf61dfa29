/* Unit tests, without sockets, of DELETE /v1/accounts/{id} (roles, 404,
 * the summary, lookups after) and of retention_days: the setting, its check
 * against rescore_at, and a nightly job that erases what is older before it
 * rescores. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dispatch_util.h"

static rw_engine *eng;
static rw_http_server *srv;

static void setup(void) {
    static const char *const settings[] = {"rescore_at", "03:00", "retention_days", "7", NULL};
    dispatch_up(&eng, &srv, settings);
}
static void teardown(void) {
    dispatch_down(eng, srv);
}
TestSuite(erase_http, .init = setup, .fini = teardown, .timeout = 60);

static unsigned call(json_t **doc, const char *method, const char *path, const char *auth, const char *body) {
    rw_http_request req = {.method = method,
                           .path = path,
                           .authorization = auth,
                           .content_type = body ? "application/json" : NULL,
                           .body = body,
                           .body_len = body ? strlen(body) : 0};
    rw_http_response out;
    rw_http_dispatch(srv, &req, &out);
    unsigned st = out.status;
    if (doc) {
        *doc = json_loadb(out.body, out.body_len, 0, NULL);
        cr_assert(*doc, "not JSON: %.*s", (int)out.body_len, out.body);
    }
    rw_http_response_free(&out);
    return st;
}

static void signup(const char *account, long long ts, const char *device) {
    char body[256];
    snprintf(body, sizeof body, "{\"account\":\"%s\",\"ts\":%lld,\"device\":\"%s\"}", account, ts, device);
    json_t *d;
    cr_assert_eq(call(&d, "POST", "/v1/signups", SIGNUP, body), 200, "%s", json_dumps(d, 0));
    json_decref(d);
}

Test(erase_http, delete_account) {
    long long now = (long long)time(NULL);
    signup("erase/me 1", now, "dev-a");
    signup("stays", now, "dev-a");
    json_t *d;
    cr_assert_eq(call(NULL, "DELETE", "/v1/accounts/erase%2Fme%201", NULL, NULL), 401);
    cr_assert_eq(call(NULL, "DELETE", "/v1/accounts/erase%2Fme%201", ANALYST, NULL), 403);
    cr_assert_eq(call(NULL, "DELETE", "/v1/accounts/erase%2Fme%201", SIGNUP, NULL), 403);
    cr_assert_eq(call(&d, "DELETE", "/v1/accounts/nobody", ADMIN, NULL), 404);
    cr_expect(strstr(json_string_value(json_object_get(d, "detail")), "no such account"));
    json_decref(d);
    cr_assert_eq(call(&d, "DELETE", "/v1/accounts/erase%2Fme%201", ADMIN, NULL), 200, "%s", json_dumps(d, 0));
    cr_expect(json_is_true(json_object_get(d, "erased")));
    cr_expect_eq(json_integer_value(json_object_get(d, "events")), 1);
    cr_expect_eq(json_integer_value(json_object_get(d, "attributes")), 0); /* dev-a is still used */
    json_decref(d);
    cr_assert_eq(call(NULL, "GET", "/v1/accounts/erase%2Fme%201", ANALYST, NULL), 404);
    cr_assert_eq(call(NULL, "DELETE", "/v1/accounts/erase%2Fme%201", ADMIN, NULL), 404);
    cr_assert_eq(call(&d, "GET", "/v1/accounts/stays", ANALYST, NULL), 200);
    cr_expect_eq(json_integer_value(json_object_get(d, "attribute_count")), 1);
    json_decref(d);
    /* both methods are listed for the pattern */
    rw_http_request req = {.method = "PUT", .path = "/v1/accounts/stays", .authorization = ADMIN};
    rw_http_response out;
    rw_http_dispatch(srv, &req, &out);
    cr_expect_eq(out.status, 405);
    cr_expect(strstr(out.allow, "GET") && strstr(out.allow, "DELETE"), "%s", out.allow);
    rw_http_response_free(&out);
    signup("stays", now + 1, "dev-b");
}

Test(erase_http, nightly_job_applies_retention_first) {
    long long now = (long long)time(NULL), day = 86400;
    signup("gone-after-a-month", now - 30 * day, "dev-old");
    signup("kept-recent", now - 1 * day, "dev-new");
    uint64_t id = 0;
    rw_err err = {{0}};
    rw_rescore_params rp = {0};
    cr_assert_eq(rw_jobs_start(srv, RW_JOB_SCHEDULE, &rp, &id, &err), RW_OK, "%s", err.msg);
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%llu", (unsigned long long)id);
    json_t *d = NULL;
    for (int i = 0; i < 3000; i++) {
        cr_assert_eq(call(&d, "GET", path, ADMIN, NULL), 200);
        const char *st = json_string_value(json_object_get(d, "status"));
        if (!strcmp(st, "done") || !strcmp(st, "failed")) break;
        json_decref(d);
        d = NULL;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert(d);
    cr_assert_str_eq(json_string_value(json_object_get(d, "status")), "done", "%s", json_dumps(d, 0));
    json_t *r = json_object_get(d, "retention");
    cr_assert(json_is_object(r), "%s", json_dumps(d, 0));
    cr_expect_eq(json_integer_value(json_object_get(r, "days")), 7);
    cr_expect_eq(json_integer_value(json_object_get(r, "accounts")), 1);
    cr_expect_eq(json_integer_value(json_object_get(r, "attributes")), 1);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(d, "summary"), "accounts")), 1);
    json_decref(d);
    cr_assert_eq(call(NULL, "GET", "/v1/accounts/gone-after-a-month", ANALYST, NULL), 404);
    cr_assert_eq(call(NULL, "GET", "/v1/accounts/kept-recent", ANALYST, NULL), 200);
    /* a job started through the API does not apply retention */
    cr_assert_eq(call(&d, "POST", "/v1/rescore", ADMIN, NULL), 202);
    json_decref(d);
}

Test(erase_http, retention_days_setting) {
    rw_config c;
    rw_err err = {{0}};
    rw_config_defaults(&c);
    cr_assert_eq(c.retention_days, 0);
    cr_assert_eq(rw_config_set(&c, "token_admin", "admin-token-0123456789", &err), RW_OK);
    cr_assert_eq(rw_config_set(&c, "retention_days", "-1", &err), RW_ERR_INVALID);
    cr_assert_eq(rw_config_set(&c, "retention_days", "1.5", &err), RW_ERR_INVALID);
    cr_assert_eq(rw_config_set(&c, "retention_days", "90", &err), RW_OK);
    cr_assert_eq(c.retention_days, 90);
    cr_assert_eq(rw_config_check(&c, &err), RW_ERR_INVALID);
    cr_expect(strstr(err.msg, "retention_days") && strstr(err.msg, "rescore_at"), "%s", err.msg);
    cr_assert_eq(rw_config_set(&c, "rescore_at", "02:30", &err), RW_OK);
    cr_assert_eq(rw_config_check(&c, &err), RW_OK, "%s", err.msg);
    const char *ini = "[server]\nretention_days = 30\n";
    cr_assert_eq(rw_config_parse(&c, "x.ini", ini, strlen(ini), &err), RW_OK, "%s", err.msg);
    cr_assert_eq(c.retention_days, 30);
}
