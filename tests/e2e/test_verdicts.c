/* End to end through `ringwatch serve`: the nightly run's verdicts reach
 * the signup path. A simulated world is ingested and rescored; the flagged
 * clusters and their members are read through the API, their raw devices
 * and cards from the simulator's events file (the database holds only
 * hashes). A new signup on a device, and one on a card, that flagged
 * accounts of one cluster hold, and a login by a flagged account, are
 * reviewed or blocked with a reason naming the cluster; after a benign
 * label on the cluster the same signup is allowed and the reason says the
 * label cleared it. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tu_run.h"
#include "tu_serve.h"

#define ACCOUNTS 30000
#define SIGNUP   "signup-token-0123456789"
#define ANALYST  "analyst-token-0123456789"
#define LATER    "2026-10-20T12:00:00Z" /* after the simulated month */

static tu_server srv;

static void setup(void) {
    tu_serve_init();
    tu_world(ACCOUNTS, 11);
    tu_write_in("rw.ini", "[server]\nlisten = 127.0.0.1:0\ntoken_signup = " SIGNUP "\ntoken_analyst = " ANALYST "\n");
    tu_serve_up(&srv, "--config rw.ini --db ringwatch.db");
}

static void teardown(void) {
    tu_serve_fini(&srv);
}
TestSuite(verdicts, .init = setup, .fini = teardown, .timeout = 240);

/* flagged: account -> cluster id, for the members of flagged clusters the
 * run flagged. */
static json_t *flagged_members(void) {
    long st;
    json_t *list = tu_req(&srv, &st, "GET", "/v1/clusters?min_score=0.85&page_size=100", ANALYST, NULL, NULL);
    cr_assert_eq(st, 200, "%s", json_dumps(list, 0));
    json_t *rows = json_object_get(list, "clusters"), *out = json_object();
    cr_assert_gt(json_array_size(rows), 0, "no flagged cluster");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        char path[64];
        const char *cid = tu_str(row, "id"); /* "c828" */
        long num = atol(cid + (*cid == 'c'));
        snprintf(path, sizeof path, "/v1/clusters/%s", cid);
        json_t *d = tu_req(&srv, &st, "GET", path, ANALYST, NULL, NULL);
        cr_assert_eq(st, 200, "%s: %s", path, json_dumps(d, 0));
        size_t j;
        json_t *m;
        json_array_foreach(json_object_get(d, "members"), j, m) {
            if (json_is_true(json_object_get(m, "flagged")))
                json_object_set_new(out, tu_str(m, "account"), json_integer(num));
        }
        json_decref(d);
    }
    json_decref(list);
    return out;
}

/* The raw value of kind key ("device", "payment") that most flagged
 * accounts of one cluster used in the events file, among those that nine
 * in ten of their users do (a stock fingerprint that a ring also uses is
 * not the ring's): *value, *cluster, and how many (an account counted once
 * per value). */
typedef struct {
    char value[128];
    long cluster;
    long count, users;
} held;

static held most_held(json_t *flagged, const char *key) {
    char *text = tu_read_in("ev.jsonl", NULL);
    json_t *seen = json_object(), *count = json_object(), *users = json_object();
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *ev = json_loads(line, 0, NULL);
        cr_assert(ev, "ev.jsonl: %s", line);
        const char *acc = tu_str(ev, "account"), *v = tu_str(ev, key);
        char pair[256];
        snprintf(pair, sizeof pair, "%s\n%s", acc, v);
        if (*v && !json_object_get(seen, pair)) {
            json_object_set_new(seen, pair, json_true());
            json_object_set_new(users, v, json_integer(tu_num(users, v) + 1));
            json_t *c = json_object_get(flagged, acc);
            char k[160];
            snprintf(k, sizeof k, "%lld\n%s", c ? (long long)json_integer_value(c) : 0LL, v);
            if (c) json_object_set_new(count, k, json_integer(tu_num(count, k) + 1));
        }
        json_decref(ev);
    }
    held best = {{0}, 0, 0, 0};
    const char *k;
    json_t *n;
    json_object_foreach(count, k, n) {
        const char *v = strchr(k, '\n') + 1;
        long c = (long)json_integer_value(n), u = tu_num(users, v);
        if (c > best.count && 10 * c >= 9 * u) {
            best.count = c, best.users = u, best.cluster = atol(k);
            snprintf(best.value, sizeof best.value, "%s", v);
        }
    }
    json_decref(seen);
    json_decref(count);
    json_decref(users);
    free(text);
    return best;
}

/* A new account's signup at LATER on device and card (NULL: its own) from
 * an address of a /24 of its own (several from one /24 within the second
 * would be a burst, evidence of its own); the answer (caller decrefs). */
static json_t *signup(const char *account, const char *device, const char *card) {
    char body[512], own[64];
    static int next;
    next++;
    snprintf(own, sizeof own, "tok-%s", account);
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"ts\":\"" LATER "\",\"ip\":\"198.18.%d.7\",\"device\":\"%s\",\"payment\":\"%s\"}",
             account, next, device ? device : account, card ? card : own);
    long st;
    json_t *d = tu_req(&srv, &st, "POST", "/v1/signups", SIGNUP, "application/json", body);
    cr_assert_eq(st, 200, "%s", json_dumps(d, 0));
    return d;
}

/* Does a reason of decision d contain needle? */
static int reason_has(json_t *d, const char *needle) {
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(d, "reasons"), i, r) {
        if (json_is_string(r) && strstr(json_string_value(r), needle)) return 1;
    }
    return 0;
}

static int stopped(json_t *d) {
    return !strcmp(tu_str(d, "decision"), "review") || !strcmp(tu_str(d, "decision"), "block");
}

/* The decision, with its reasons, for messages (caller frees). */
#define TEXT(d) json_dumps(d, JSON_COMPACT)

Test(verdicts, flagged_clusters_stop_signups_and_logins_until_labelled_benign) {
    json_t *flagged = flagged_members();
    held dev = most_held(flagged, "device"), card = most_held(flagged, "payment");
    cr_log_info("device held by %ld flagged accounts of cluster %ld (of %ld); card by %ld of cluster %ld (of %ld)",
                dev.count, dev.cluster, dev.users, card.count, card.cluster, card.users);
    cr_assert_geq(dev.count, 10, "no device many flagged accounts of one cluster hold");
    cr_assert_geq(card.count, 2, "no card flagged accounts of one cluster share");
    char want[48];

    /* A new signup on the device, with its own address and card. */
    json_t *d = signup("vd-new-1", dev.value, NULL);
    snprintf(want, sizeof want, "cluster c%ld", dev.cluster);
    cr_expect(stopped(d), "a signup on the cluster's device: %s", TEXT(d));
    cr_expect(reason_has(d, want), "no reason names %s: %s", want, TEXT(d));
    cr_expect(reason_has(d, "flagged by the nightly run"), "%s", TEXT(d));
    json_decref(d);

    /* A new signup on the card, on a device of its own. */
    d = signup("vd-new-2", NULL, card.value);
    snprintf(want, sizeof want, "cluster c%ld", card.cluster);
    cr_expect(stopped(d), "a signup on the cluster's card: %s", TEXT(d));
    cr_expect(reason_has(d, want), "no reason names %s: %s", want, TEXT(d));
    json_decref(d);

    /* A login by a flagged account of the device's cluster (POST /v1/signups
     * answers any one event with its decision). */
    const char *member = NULL;
    const char *acc;
    json_t *c;
    json_object_foreach(flagged, acc, c) {
        if (json_integer_value(c) == dev.cluster) member = acc;
    }
    cr_assert(member);
    char body[256];
    snprintf(body, sizeof body, "{\"account\":\"%s\",\"ts\":\"" LATER "\",\"type\":\"login\",\"ip\":\"192.0.2.200\"}",
             member);
    long st;
    d = tu_req(&srv, &st, "POST", "/v1/signups", SIGNUP, "application/json", body);
    cr_assert_eq(st, 200, "%s", json_dumps(d, 0));
    cr_expect(stopped(d), "a login by flagged %s: %s", member, TEXT(d));
    cr_expect(reason_has(d, "the nightly run flagged this account"), "%s", TEXT(d));
    json_decref(d);

    /* A benign label on the cluster: the same signup is allowed, and says why. */
    char path[64];
    snprintf(path, sizeof path, "/v1/clusters/%ld/label", dev.cluster);
    d = tu_req(&srv, &st, "POST", path, ANALYST, "application/json", "{\"label\":\"benign\",\"note\":\"e2e\"}");
    cr_assert_eq(st, 201, "%s", json_dumps(d, 0));
    json_decref(d);
    d = signup("vd-new-3", dev.value, NULL);
    cr_expect_str_eq(tu_str(d, "decision"), "allow", "after the benign label: %s", TEXT(d));
    cr_expect(reason_has(d, "benign label clears"), "%s", TEXT(d));
    json_decref(d);
    json_decref(flagged);
}
