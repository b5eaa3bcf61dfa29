/* Unit tests of problem+json answers and of rw_http_dispatch without
 * sockets: routing errors, roles, bad input classes, the OpenAPI document. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch_util.h"

Test(problem, members_and_extensions) {
    rw_http_response out = {0};
    rw_http_problem(&out, RW_PROB_BAD_JSON, json_pack("{sisi}", "line", 2, "column", 7), "body: %s at line %d", "x", 2);
    cr_expect_eq(out.status, 400);
    cr_expect_str_eq(out.content_type, "application/problem+json");
    json_t *doc = json_loadb(out.body, out.body_len, 0, NULL);
    cr_assert(doc);
    cr_expect_str_eq(json_string_value(json_object_get(doc, "type")), "urn:ringwatch:problem:bad-json");
    cr_expect(json_string_value(json_object_get(doc, "title")));
    cr_expect_eq(json_integer_value(json_object_get(doc, "status")), 400);
    cr_expect_str_eq(json_string_value(json_object_get(doc, "detail")), "body: x at line 2");
    cr_expect_eq(json_integer_value(json_object_get(doc, "line")), 2);
    cr_expect_eq(json_integer_value(json_object_get(doc, "column")), 7);
    cr_expect(!strncmp(out.body, "{\"type\"", 7), "standard members first: %s", out.body);
    json_decref(doc);
    /* invalid UTF-8 in a detail does not lose the answer */
    rw_http_problem(&out, RW_PROB_NOT_FOUND, NULL, "id: %s", "\xff\xfe");
    cr_expect_eq(out.status, 404);
    cr_expect(strstr(out.body, "invalid UTF-8") != NULL, "%s", out.body);
    rw_http_response_free(&out);
    for (int p = 0; p < RW_PROB_COUNT; p++) cr_expect(rw_problem_status((rw_problem)p) >= 400);
    cr_expect_eq(rw_problem_status(rw_problem_of_status(RW_ERR_FULL)), 503);
    cr_expect_eq(rw_problem_status(rw_problem_of_status(RW_ERR_NOTFOUND)), 404);
    cr_expect_eq(rw_problem_status(rw_problem_of_status(RW_ERR_NOMEM)), 500);
}

/* A server over an engine on an empty database; nothing listens. */
static rw_engine *eng;
static rw_http_server *srv;

static void setup(void) {
    static const char *const settings[] = {"token_metrics", "metrics-token-0123456789", NULL};
    dispatch_up(&eng, &srv, settings);
}
static void teardown(void) {
    dispatch_down(eng, srv);
}
TestSuite(dispatch, .init = setup, .fini = teardown);

#define METRICS "Bearer metrics-token-0123456789"

/* Dispatches and returns the status; the body parsed as JSON in *doc when
 * doc is not NULL (caller decrefs). */
static unsigned call(json_t **doc, const char *method, const char *path, const char *query, const char *auth,
                     const char *ctype, const char *body) {
    rw_http_request req = {.method = method,
                           .path = path,
                           .query = query,
                           .authorization = auth,
                           .content_type = ctype,
                           .body = body,
                           .body_len = body ? strlen(body) : 0};
    rw_http_response out;
    rw_http_dispatch(srv, &req, &out);
    unsigned st = out.status;
    if (st >= 400) cr_expect_str_eq(out.content_type, "application/problem+json", "%s %s", method, path);
    if (doc) {
        *doc = json_loadb(out.body, out.body_len, 0, NULL);
        cr_assert(*doc, "not JSON: %.*s", (int)out.body_len, out.body);
    }
    rw_http_response_free(&out);
    return st;
}

static const char *str(json_t *doc, const char *key) {
    const char *s = json_string_value(json_object_get(doc, key));
    return s ? s : "";
}

Test(dispatch, roles) {
    struct {
        const char *method, *path, *auth;
        unsigned want;
    } cases[] = {
        {"GET", "/livez", NULL, 200},
        {"GET", "/readyz", NULL, 200},
        {"GET", "/v1/openapi.json", NULL, 200},
        {"GET", "/", NULL, 200},
        {"GET", "/assets/app.js", NULL, 200},
        {"GET", "/assets/app.css", NULL, 200},
        {"POST", "/", ANALYST, 405},
        {"GET", "/assets/other.js", NULL, 404},
        {"GET", "/metrics", NULL, 401},
        {"GET", "/metrics", SIGNUP, 403},
        {"GET", "/metrics", ANALYST, 403},
        {"GET", "/metrics", METRICS, 200},
        {"GET", "/metrics", ADMIN, 200},
        {"GET", "/v1/accounts/nobody", SIGNUP, 403},
        {"GET", "/v1/accounts/nobody", METRICS, 403},
        {"GET", "/v1/accounts/nobody", ANALYST, 404},
        {"GET", "/v1/accounts/nobody", ADMIN, 404},
        {"GET", "/v1/accounts/nobody", "Bearer wrong-token-0123456789", 401},
        {"GET", "/v1/accounts/nobody", "Basic abc", 401},
        {"GET", "/v1/jobs/1", ANALYST, 403},
        {"GET", "/v1/jobs/1", ADMIN, 404},
        {"POST", "/v1/signups", ANALYST, 403},
        {"POST", "/v1/rescore", ANALYST, 403},
        {"POST", "/v1/rescore", SIGNUP, 403},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(call(NULL, cases[i].method, cases[i].path, NULL, cases[i].auth, NULL, NULL), cases[i].want,
                     "case %zu: %s %s", i, cases[i].method, cases[i].path);
}

Test(dispatch, routing_and_parameters) {
    json_t *d;
    cr_expect_eq(call(&d, "GET", "/nope", NULL, ADMIN, NULL, NULL), 404);
    cr_expect_str_eq(str(d, "type"), "urn:ringwatch:problem:no-route");
    json_decref(d);
    cr_expect_eq(call(&d, "PUT", "/v1/signups", NULL, ADMIN, NULL, NULL), 405);
    json_decref(d);
    cr_expect_eq(call(&d, "GET", "/v1/clusters", "color=red", ANALYST, NULL, NULL), 400);
    cr_expect_str_eq(str(d, "parameter"), "color");
    json_decref(d);
    cr_expect_eq(call(&d, "GET", "/v1/clusters", "page_size=0", ANALYST, NULL, NULL), 400);
    cr_expect_str_eq(str(d, "parameter"), "page_size");
    json_decref(d);
    cr_expect_eq(call(&d, "GET", "/v1/clusters", "min_score=abc", ANALYST, NULL, NULL), 400);
    cr_expect_str_eq(str(d, "parameter"), "min_score");
    json_decref(d);
    cr_expect_eq(call(&d, "GET", "/v1/clusters", "page_size=5&page_size=6", ANALYST, NULL, NULL), 400);
    json_decref(d);
    cr_expect_eq(call(&d, "GET", "/v1/clusters", "page_token=zzz", ANALYST, NULL, NULL), 400);
    cr_expect_str_eq(str(d, "parameter"), "page_token");
    json_decref(d);
    cr_expect_eq(call(&d, "GET", "/v1/clusters", NULL, ANALYST, NULL, NULL), 404); /* no run yet */
    json_decref(d);
    cr_expect_eq(call(&d, "GET", "/v1/accounts/a%zz", NULL, ANALYST, NULL, NULL), 400);
    cr_expect_str_eq(str(d, "parameter"), "id");
    json_decref(d);
    cr_expect_eq(call(&d, "GET", "/v1/attributes/shoe/x", NULL, ANALYST, NULL, NULL), 400);
    cr_expect_str_eq(str(d, "parameter"), "kind");
    json_decref(d);
    cr_expect_eq(call(&d, "GET", "/v1/clusters/abc", NULL, ANALYST, NULL, NULL), 400);
    json_decref(d);
}

Test(dispatch, signup_and_bad_bodies) {
    json_t *d;
    cr_assert_eq(call(&d, "POST", "/v1/signups", NULL, SIGNUP, "application/json",
                      "{\"account\":\"u1\",\"ts\":1790000000,\"ip\":\"203.0.113.9\",\"device\":\"d-1\"}"),
                 200);
    cr_expect_str_eq(str(d, "account"), "u1");
    cr_expect(strstr("allow review block", str(d, "decision")) && *str(d, "decision"));
    cr_expect(json_is_array(json_object_get(d, "reasons")));
    json_decref(d);
    cr_expect_eq(call(&d, "POST", "/v1/signups", NULL, SIGNUP, "application/json", "{\"account\":\"u1\",\n\"ts\":}"),
                 400);
    cr_expect_str_eq(str(d, "type"), "urn:ringwatch:problem:bad-json");
    cr_expect_eq(json_integer_value(json_object_get(d, "line")), 2);
    json_decref(d);
    cr_expect_eq(call(&d, "POST", "/v1/signups", NULL, SIGNUP, "application/json", "{\"account\":5,\"ts\":1}"), 400);
    cr_expect_str_eq(str(d, "field"), "account");
    json_decref(d);
    cr_expect_eq(call(&d, "POST", "/v1/signups", NULL, SIGNUP, "text/html", "{}"), 415);
    json_decref(d);
    cr_expect_eq(call(&d, "POST", "/v1/events", NULL, SIGNUP, "application/x-ndjson",
                      "{\"account\":\"u2\",\"ts\":1}\n{\"account\":\"u3\",\"ts\":1,\"ip\":\"x\"}\n"),
                 207);
    cr_expect_eq(json_integer_value(json_object_get(d, "accepted")), 1);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(json_object_get(d, "errors"), 0), "line")), 2);
    json_decref(d);
    cr_expect_eq(call(&d, "POST", "/v1/events", NULL, SIGNUP, "application/json",
                      "[{\"account\":\"u4\",\"ts\":1},{\"account\":\"u5\",\"ts\":2}]"),
                 200);
    cr_expect_eq(json_integer_value(json_object_get(d, "accepted")), 2);
    json_decref(d);
    cr_expect_eq(call(&d, "POST", "/v1/events", NULL, SIGNUP, "application/json", "[1, 2]"), 400);
    cr_expect_eq(json_integer_value(json_object_get(d, "rejected")), 2);
    json_decref(d);
    cr_expect_eq(call(&d, "GET", "/v1/accounts/u4", NULL, ANALYST, NULL, NULL), 200);
    cr_expect_str_eq(str(d, "account"), "u4");
    json_decref(d);
    cr_expect_eq(call(&d, "POST", "/v1/accounts/u4/label", NULL, ANALYST, "application/json",
                      "{\"label\":\"benign\",\"note\":\"known customer\"}"),
                 201, "%s", json_dumps(d, 0));
    cr_expect(json_integer_value(json_object_get(d, "id")) > 0);
    json_decref(d);
    cr_expect_eq(call(&d, "POST", "/v1/accounts/u4/label", NULL, ANALYST, NULL, "{\"label\":\"maybe\"}"), 400);
    cr_expect_str_eq(str(d, "field"), "label");
    json_decref(d);
}

Test(dispatch, openapi_lists_every_route) {
    json_t *d;
    cr_assert_eq(call(&d, "GET", "/v1/openapi.json", NULL, NULL, NULL, NULL), 200);
    cr_expect_str_eq(str(d, "openapi"), "3.1.0");
    json_t *paths = json_object_get(d, "paths");
    size_t n;
    const rw_route *t = rw_http_routes(&n);
    for (size_t i = 0; i < n; i++) {
        char m[8] = {0};
        for (size_t k = 0; t[i].method[k] && k < 7; k++) m[k] = (char)(t[i].method[k] - 'A' + 'a');
        cr_expect(json_object_get(json_object_get(paths, t[i].pattern), m), "%s %s undocumented", t[i].method,
                  t[i].pattern);
    }
    json_decref(d);
}

/* Code generators name functions after operationIds; clients resolve a
 * relative server against where they fetched the document. */
Test(dispatch, openapi_operation_ids_required_and_relative_server) {
    json_t *d, *ops = json_object();
    cr_assert_eq(call(&d, "GET", "/v1/openapi.json", NULL, NULL, NULL, NULL), 200);
    const char *url = json_string_value(json_object_get(json_array_get(json_object_get(d, "servers"), 0), "url"));
    cr_expect(url && url[0] == '/', "servers[0].url: %s", url ? url : "(none)");
    const char *path, *method, *code;
    json_t *item, *op, *resp;
    json_object_foreach(json_object_get(d, "paths"), path, item) {
        json_object_foreach(item, method, op) {
            const char *id = json_string_value(json_object_get(op, "operationId"));
            cr_expect(id && *id, "%s %s: no operationId", method, path);
            if (id) {
                cr_expect(!json_object_get(ops, id), "operationId %s twice", id);
                json_object_set_new(ops, id, json_true());
            }
        }
    }
    json_decref(ops);
    /* Every object schema of an answer says which members it always has. */
    json_t *schemas = json_object_get(json_object_get(d, "components"), "schemas");
    json_object_foreach(schemas, code, resp) {
        if (json_object_get(resp, "properties"))
            cr_expect(json_is_array(json_object_get(resp, "required")), "schema %s: no required", code);
    }
    json_decref(d);
}

Test(dispatch, dashboard_files) {
    static const struct {
        const char *path, *type, *needle;
    } files[] = {
        {"/", "text/html; charset=utf-8", "<script src=\"/assets/app.js\""},
        {"/assets/app.js", "text/javascript; charset=utf-8", "sessionStorage"},
        {"/assets/app.css", "text/css; charset=utf-8", "body"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        rw_http_request req = {.method = "GET", .path = files[i].path};
        rw_http_response out;
        rw_http_dispatch(srv, &req, &out);
        cr_expect_eq(out.status, 200, "%s", files[i].path);
        cr_expect_str_eq(out.content_type, files[i].type);
        cr_expect(out.csp && strstr(out.csp, "default-src 'self'") && !strstr(out.csp, "unsafe-inline"), "%s",
                  files[i].path);
        cr_expect(out.body && memmem(out.body, out.body_len, files[i].needle, strlen(files[i].needle)), "%s",
                  files[i].path);
        cr_expect(!out.body || !memmem(out.body, out.body_len, "localStorage.setItem", 20), "%s", files[i].path);
        rw_http_response_free(&out);
    }
}
