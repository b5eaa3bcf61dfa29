/* e2e: every id an answer gives opens at its own endpoint. Walks a served
 * world from the cluster list through clusters, accounts, attributes (by
 * pseudonym, as answers show them), live communities and runs; a run that
 * does not exist is 404 everywhere; labels and the audit trail carry the
 * name of the token that asked. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tu_run.h"
#include "tu_serve.h"

#define SIGNUP "signup-token-0123456789"
#define ALICE  "alice-token-0123456789ab"
#define BOB    "bob-token-0123456789abcd"
#define ADMIN  "admin-token-0123456789"

static tu_server srv;

static void setup(void) {
    tu_serve_init();
    tu_world(3000, 5);
    tu_write_in("rw.ini", "[server]\nlisten = 127.0.0.1:0\ntoken_signup = " SIGNUP "\ntoken_analyst = alice:" ALICE
                          ", bob:" BOB "\ntoken_admin = ops:" ADMIN "\n");
    tu_serve_up(&srv, "--config rw.ini --db ringwatch.db");
}

static void teardown(void) {
    tu_serve_fini(&srv);
}
TestSuite(ids, .init = setup, .fini = teardown, .timeout = 180);

#define req(...) tu_req_text(&srv, __VA_ARGS__)

/* GET path (printf format) as alice; the answer (caller decrefs), which
 * must be 200. */
static json_t *open_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *open_ok(const char *fmt, ...) {
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    long st;
    json_t *d = req(&st, "GET", path, ALICE, NULL, NULL);
    cr_expect_eq(st, 200, "GET %s: %ld", path, st);
    return d;
}

static void open_attrs(json_t *list, const char *field) {
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a) {
        const char *p = json_string_value(field ? json_object_get(a, field) : a);
        cr_assert(p && strchr(p, ':'), "a pseudonym: %s", p ? p : "(none)");
        char kind[16];
        snprintf(kind, sizeof kind, "%.*s", (int)(strchr(p, ':') - p), p);
        json_t *v = open_ok("/v1/attributes/%s/%s", kind, p);
        cr_expect_str_eq(json_string_value(json_object_get(v, "pseudonym")), p);
        const char *c = json_string_value(json_object_get(v, "cluster"));
        if (c) json_decref(open_ok("/v1/clusters/%s", c));
        json_decref(v);
        if (i >= 4) break; /* a few per list keep the walk short */
    }
}

static void open_account(const char *id) {
    json_t *a = open_ok("/v1/accounts/%s", id);
    const char *live = json_string_value(json_object_get(json_object_get(a, "live"), "cluster"));
    const char *run = json_string_value(json_object_get(json_object_get(a, "run"), "cluster"));
    if (live) json_decref(open_ok("/v1/clusters/%s", live));
    if (run) json_decref(open_ok("/v1/clusters/%s", run));
    cr_expect(json_is_array(json_object_get(a, "labels")));
    open_attrs(json_object_get(a, "attributes"), "pseudonym");
    json_decref(a);
    /* its events' attributes, each kind that is there */
    json_t *evs = open_ok("/v1/accounts/%s/events?limit=5", id), *ev;
    size_t i;
    json_array_foreach(json_object_get(evs, "events"), i, ev) {
        json_t *seen = json_array();
        static const char *const kinds[] = {"ip", "device", "payment"};
        for (size_t k = 0; k < 3; k++)
            if (json_is_string(json_object_get(ev, kinds[k]))) json_array_append(seen, json_object_get(ev, kinds[k]));
        open_attrs(seen, NULL);
        json_decref(seen);
    }
    json_decref(evs);
}

Test(ids, every_id_in_every_answer_opens) {
    json_t *list = open_ok("/v1/clusters?page_size=10");
    json_t *rows = json_object_get(list, "clusters"), *c;
    cr_assert_gt(json_array_size(rows), 0, "the default lists the flagged clusters");
    size_t i;
    json_array_foreach(rows, i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        cr_assert(id && id[0] == 'c', "a cluster id: %s", id ? id : "(none)");
        cr_expect(json_is_true(json_object_get(c, "flagged")));
        json_t *d = open_ok("/v1/clusters/%s", id);
        cr_expect_str_eq(json_string_value(json_object_get(d, "id")), id);
        json_t *attrs = json_object_get(d, "attribute_list");
        cr_expect_eq(json_integer_value(json_object_get(d, "attributes")), (json_int_t)json_array_size(attrs),
                     "%s: the count and the list agree", id);
        open_attrs(attrs, "pseudonym");
        json_t *m = json_array_get(json_object_get(d, "members"), 0);
        if (m) open_account(json_string_value(json_object_get(m, "account")));
        json_decref(d);
        if (i >= 3) break;
    }
    json_decref(list);

    /* A community formed online: the signup answer's id opens. */
    long st;
    char body[256];
    const char *live = NULL;
    json_t *s = NULL;
    for (int k = 0; k < 3; k++) {
        json_decref(s);
        snprintf(body, sizeof body,
                 "{\"account\":\"walk-%d\",\"ts\":%lld,\"ip\":\"198.51.100.%d\",\"device\":\"walk-dev\"}", k,
                 (long long)time(NULL), k + 1);
        s = req(&st, "POST", "/v1/signups", SIGNUP, "application/json", body);
        cr_assert_eq(st, 200);
        live = json_string_value(json_object_get(s, "cluster"));
    }
    cr_assert(live && !strncmp(live, "live-", 5), "a live community: %s", live ? live : "(none)");
    json_t *lv = open_ok("/v1/clusters/%s", live);
    cr_expect(json_is_true(json_object_get(lv, "live")));
    cr_expect_eq(json_integer_value(json_object_get(lv, "accounts")), 3);
    open_attrs(json_object_get(lv, "attribute_list"), NULL);
    json_decref(lv);
    open_account("walk-2");
    json_decref(s);

    /* Runs: each opens, and so does each id of its diff. */
    json_t *runs = open_ok("/v1/runs"), *r;
    json_array_foreach(json_object_get(runs, "runs"), i, r) {
        json_t *one = open_ok("/v1/runs/%lld", (long long)json_integer_value(json_object_get(r, "id")));
        cr_expect(json_is_object(json_object_get(one, "diff")));
        json_decref(one);
    }
    json_decref(runs);
}

Test(ids, a_missing_run_is_404_everywhere) {
    static const char *const paths[] = {"/v1/clusters?run=99",
                                        "/v1/clusters/c1?run=99",
                                        "/v1/clusters/c1/export?format=json&run=99",
                                        "/v1/clusters/c1/graph.svg?run=99",
                                        "/v1/clusters/c1/timeline.svg?run=99",
                                        "/v1/runs/99"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        long st;
        json_t *d = req(&st, "GET", paths[i], ALICE, NULL, NULL);
        cr_expect_eq(st, 404, "GET %s: %ld", paths[i], st);
        json_decref(d);
    }
}

Test(ids, labels_and_the_audit_name_who_asked) {
    json_t *list = open_ok("/v1/clusters?page_size=1&labelled=false");
    const char *id = json_string_value(json_object_get(json_array_get(json_object_get(list, "clusters"), 0), "id"));
    cr_assert(id);
    char path[64], cluster[32];
    snprintf(cluster, sizeof cluster, "%s", id);
    json_decref(list);
    snprintf(path, sizeof path, "/v1/clusters/%s/label", cluster);
    long st;
    json_t *l = req(&st, "POST", path, ALICE, "application/json", "{\"label\":\"fraud\",\"note\":\"same device\"}");
    cr_assert_eq(st, 201);
    cr_expect_str_eq(json_string_value(json_object_get(l, "author")), "alice");
    cr_expect_str_eq(json_string_value(json_object_get(l, "target")), cluster);
    json_decref(l);
    /* bob sees who labelled it, with the note, and it left the unreviewed */
    snprintf(path, sizeof path, "/v1/clusters/%s", cluster);
    json_t *d = req(&st, "GET", path, BOB, NULL, NULL);
    json_t *first = json_array_get(json_object_get(d, "labels"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(first, "author")), "alice");
    cr_expect_str_eq(json_string_value(json_object_get(first, "note")), "same device");
    cr_expect_str_eq(json_string_value(json_object_get(d, "label")), "fraud");
    json_decref(d);
    json_t *un = req(&st, "GET", "/v1/clusters?page_size=500&labelled=false", BOB, NULL, NULL);
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(un, "clusters"), i, c)
        cr_expect(strcmp(json_string_value(json_object_get(c, "id")), cluster), "%s still unreviewed", cluster);
    json_decref(un);
    json_t *rs = req(&st, "POST", "/v1/rescore", ADMIN, NULL, NULL);
    cr_expect_eq(st, 202);
    json_decref(tu_wait_job(&srv, ADMIN, json_string_value(json_object_get(rs, "job"))));
    json_decref(rs);
    json_t *au = req(&st, "GET", "/v1/audit", ADMIN, NULL, NULL);
    cr_assert_eq(st, 200);
    int saw_label = 0, saw_rescore = 0;
    json_array_foreach(json_object_get(au, "entries"), i, c) {
        const char *action = json_string_value(json_object_get(c, "action"));
        const char *actor = json_string_value(json_object_get(c, "actor"));
        saw_label |= !strcmp(action, "label") && actor && !strcmp(actor, "alice");
        saw_rescore |= !strcmp(action, "rescore") && actor && !strcmp(actor, "ops");
    }
    cr_expect(saw_label && saw_rescore);
    json_decref(au);
    json_decref(req(&st, "GET", "/v1/audit", ALICE, NULL, NULL));
    cr_expect_eq(st, 403, "the audit is for operators");
}
