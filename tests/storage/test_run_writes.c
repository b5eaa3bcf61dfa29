/* storage: a run written in chunks (rw_store_run_reserve ... publish) is
 * invisible to every reader until published, whole after; what a write that
 * never published left is removed (by rw_store_run_drop_unpublished, a
 * bounded number of rows at a time, and by a writable open when no process
 * holds the run lock) and its id is handed out again; erasure reaches it. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"
#include "tu_sql.h"
#include "tu_store.h"
#include "tu_tmp.h"

TestSuite(run_writes, .init = tu_tmp_init, .fini = tu_tmp_fini);

static rw_store *open_store(int flags) {
    return tu_store_open(tu_db(), flags);
}

#define sql_int(...) tu_sql_int(tu_db(), 0, __VA_ARGS__)

#define ACCOUNTS 6

/* Accounts 0..ACCOUNTS-1, each with one event. */
static void accounts(rw_store *s) {
    rw_err err = {{0}};
    cr_assert_eq(rw_store_begin(s, &err), RW_OK, "%s", err.msg);
    for (uint32_t i = 0; i < ACCOUNTS; i++) {
        char ext[16];
        int n = snprintf(ext, sizeof ext, "u%u", i);
        cr_assert_eq(rw_store_put_account(s, i, ext, (size_t)n, 100, &err), RW_OK, "%s", err.msg);
        uint32_t attr[RW_EVENT_ATTRS] = {RW_STORE_NONE, RW_STORE_NONE, RW_STORE_NONE};
        cr_assert_eq(rw_store_put_event(s, 100 + i, RW_EV_SIGNUP, i, attr, &err), RW_OK, "%s", err.msg);
    }
    cr_assert_eq(rw_store_commit(s, 1, &err), RW_OK, "%s", err.msg);
}

/* Reserves a run and writes cluster 7 (accounts 0-2 and attribute 100) and
 * every account, in many unsynced transactions as a chunked writer would;
 * returns the run id. */
static int64_t write_unpublished(rw_store *s) {
    rw_err err = {{0}};
    cr_assert_eq(rw_store_run_lock(s, &err), RW_OK, "%s", err.msg);
    int done = 0;
    cr_assert_eq(rw_store_run_drop_unpublished(s, 0, &done, &err), RW_OK, "%s", err.msg);
    int64_t run = 0;
    cr_assert_eq(rw_store_run_reserve(s, 1000, &run, &err), RW_OK, "%s", err.msg);
    rw_cluster_row c = {.id = 7,
                        .score = 0.9,
                        .flagged = 1,
                        .accounts = 3,
                        .attributes = 1,
                        .first_seen = 100,
                        .last_seen = 102,
                        .features = "{}",
                        .reasons = "[]"};
    cr_assert_eq(rw_store_begin(s, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_cluster(s, run, &c, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_run_attribute(s, run, 100, 7, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_commit(s, 0, &err), RW_OK, "%s", err.msg);
    for (uint32_t i = 0; i < ACCOUNTS; i++) {
        cr_assert_eq(rw_store_begin_unsynced(s, &err), RW_OK, "%s", err.msg);
        cr_assert_eq(rw_store_put_run_account(s, run, i, i < 3 ? 7 : 0, i < 3 ? 0.9 : 0.1, i < 3, NULL, &err), RW_OK,
                     "%s", err.msg);
        cr_assert_eq(rw_store_commit(s, 0, &err), RW_OK, "%s", err.msg);
    }
    cr_assert_eq(rw_store_begin_unsynced(s, &err), RW_OK, "%s", err.msg);
    for (uint32_t i = 0; i < 3; i++) cr_assert_eq(rw_store_put_run_member(s, run, 7, i, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_run_member(s, run, 7, 100, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_commit(s, 0, &err), RW_OK, "%s", err.msg);
    return run;
}

static rw_status count_cluster(void *ctx, const rw_cluster_row *c) {
    (void)c;
    (*(int *)ctx)++;
    return RW_OK;
}

static rw_status count_score(void *ctx, const rw_score_row *r) {
    (void)r;
    (*(int *)ctx)++;
    return RW_OK;
}

static rw_status count_attr(void *ctx, uint32_t a) {
    (void)a;
    (*(int *)ctx)++;
    return RW_OK;
}

static void count_member(void *ctx, uint32_t node, uint32_t cluster) {
    (void)node, (void)cluster;
    (*(int *)ctx)++;
}

/* What every reader of run sees: clusters, pages, scores, members,
 * attributes, membership rows, and whether account 0 has a row. */
static int rows_seen(rw_store *s, int64_t run) {
    rw_err err = {{0}};
    int n = 0;
    cr_assert_eq(rw_store_run_clusters(s, run, -1.0, 0, 0, count_cluster, &n, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_run_clusters_page(s, run, -1.0, 0, 0, 10, count_cluster, &n, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_run_scores(s, run, count_score, &n, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_cluster_members(s, run, 7, 0, count_score, &n, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_cluster_attributes(s, run, 7, count_attr, &n, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_run_membership(s, run, count_member, &n, &err), RW_OK, "%s", err.msg);
    rw_score_row r;
    char reasons[64];
    rw_status st = rw_store_run_account(s, run, 0, &r, reasons, sizeof reasons, &err);
    cr_assert(st == RW_OK || st == RW_ERR_NOTFOUND, "%s", err.msg);
    return n + (st == RW_OK);
}

static void publish(rw_store *s, int64_t run) {
    rw_err err = {{0}};
    rw_run_row r = {.id = run, .started_at = 1000, .finished_at = 1001, .params = "{}", .summary = "{\"x\":1}"};
    cr_assert_eq(rw_store_run_publish(s, &r, &err), RW_OK, "%s", err.msg);
}

Test(run_writes, invisible_until_published_then_whole) {
    rw_store *s = open_store(0);
    accounts(s);
    rw_err err = {{0}};
    int64_t run = write_unpublished(s);
    cr_expect_eq(run, 1);
    int64_t latest = -1;
    cr_assert_eq(rw_store_latest_run(s, &latest, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(latest, 0, "an unpublished run is the newest");
    uint32_t max_id = 99;
    cr_assert_eq(rw_store_max_cluster_id(s, &max_id, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(max_id, 0, "an unpublished run's cluster ids count");
    cr_expect_eq(rows_seen(s, run), 0, "rows of an unpublished run are seen");
    rw_run_row rr;
    char params[64], summary[64];
    cr_expect_eq(rw_store_get_run(s, run, &rr, params, summary, sizeof params, &err), RW_ERR_NOTFOUND);
    /* The rows are there, committed, in the file. */
    cr_expect_eq(sql_int("SELECT count(*) FROM run_accounts WHERE run = %lld", (long long)run), ACCOUNTS);
    cr_expect_eq(sql_int("SELECT count(*) FROM runs"), 0);

    publish(s, run);
    cr_assert_eq(rw_store_latest_run(s, &latest, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(latest, run);
    cr_assert_eq(rw_store_max_cluster_id(s, &max_id, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(max_id, 7);
    /* 1 cluster twice (list and page), 6 scores, 3 members, 1 attribute,
     * 3 + 1 membership rows, account 0's row. */
    cr_expect_eq(rows_seen(s, run), 1 + 1 + ACCOUNTS + 3 + 1 + 4 + 1);
    cr_assert_eq(rw_store_get_run(s, run, &rr, params, summary, sizeof params, &err), RW_OK, "%s", err.msg);
    cr_expect_str_eq(rr.summary, "{\"x\":1}");
    cr_expect_eq(rr.finished_at, 1001);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_writes"), 0);

    /* The lock was released: the next run takes it at once, and the next id. */
    int64_t next = write_unpublished(s);
    cr_expect_eq(next, run + 1);
    publish(s, next);
    rw_store_close(s);
}

Test(run_writes, publishing_an_unreserved_run_publishes_nothing) {
    rw_store *s = open_store(0);
    rw_err err = {{0}};
    cr_assert_eq(rw_store_run_lock(s, &err), RW_OK, "%s", err.msg);
    rw_run_row r = {.id = 5, .started_at = 1, .finished_at = 2, .params = "{}", .summary = "{}"};
    cr_expect_eq(rw_store_run_publish(s, &r, &err), RW_ERR_NOTFOUND);
    cr_expect(strstr(err.msg, "not reserved"), "%s", err.msg);
    cr_expect_eq(sql_int("SELECT count(*) FROM runs"), 0);
    rw_store_run_unlock(s);
    rw_store_close(s);
}

Test(run_writes, a_crashed_write_is_invisible_then_removed_at_the_next_open) {
    rw_store *s = open_store(0);
    accounts(s);
    int64_t first = write_unpublished(s);
    publish(s, first);
    int64_t run = write_unpublished(s);
    cr_expect_eq(run, 2);
    /* While the writer holds the run lock (a live write), another open
     * leaves its rows alone. */
    rw_store *other = open_store(0);
    rw_store_close(other);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_writes"), 1, "a live write's rows were removed");
    /* A process that dies here leaves the rows and the reservation; the
     * kernel drops its lock (closing does the same). */
    rw_store_close(s);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_writes"), 1);

    /* Read-only: nothing is removed, nothing is seen. */
    s = open_store(RW_STORE_READONLY);
    rw_err err = {{0}};
    int64_t latest = 0;
    cr_assert_eq(rw_store_latest_run(s, &latest, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(latest, first, "the previous run is no longer the newest");
    cr_expect_eq(rows_seen(s, run), 0);
    rw_store_close(s);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_accounts WHERE run = %lld", (long long)run), ACCOUNTS);

    /* A writable open with the lock free removes them. */
    s = open_store(0);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_writes"), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_accounts WHERE run = %lld", (long long)run), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM clusters WHERE run = %lld", (long long)run), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_attributes WHERE run = %lld", (long long)run), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_members WHERE run = %lld", (long long)run), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_accounts WHERE run = %lld", (long long)first), ACCOUNTS);
    /* The id is handed out again: no gap. */
    int64_t next = write_unpublished(s);
    cr_expect_eq(next, first + 1);
    publish(s, next);
    cr_expect_eq(sql_int("SELECT count(*) FROM runs"), 2);
    rw_store_close(s);
}

Test(run_writes, dropping_goes_a_bounded_number_of_rows_at_a_time) {
    rw_store *s = open_store(0);
    accounts(s);
    int64_t run = write_unpublished(s); /* 1 cluster, 1 attribute, 6 accounts, 4 members: 12 rows */
    rw_err err = {{0}};
    int done = 0, calls = 0;
    while (!done) {
        cr_assert_eq(rw_store_run_drop_unpublished(s, 3, &done, &err), RW_OK, "%s", err.msg);
        calls++;
        int64_t left =
            sql_int("SELECT (SELECT count(*) FROM clusters WHERE run = %lld) + (SELECT count(*) FROM"
                    " run_accounts WHERE run = %lld) + (SELECT count(*) FROM run_attributes WHERE run = %lld)"
                    " + (SELECT count(*) FROM run_members WHERE run = %lld)",
                    (long long)run, (long long)run, (long long)run, (long long)run);
        cr_expect_geq(left, 12 - 3 * calls, "call %d removed more than 3 rows", calls);
        cr_assert_lt(calls, 10);
    }
    cr_expect_eq(calls, 5, "12 rows, 3 at a time: 5 calls (the last finds none left and drops the reservation)");
    cr_expect_eq(sql_int("SELECT count(*) FROM run_writes"), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_accounts"), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_members"), 0);
    /* Without the lock it refuses. */
    rw_store_run_unlock(s);
    cr_expect_eq(rw_store_run_drop_unpublished(s, 3, &done, &err), RW_ERR_INTERNAL);
    rw_store_close(s);
}

Test(run_writes, erasure_reaches_an_unpublished_run) {
    rw_store *s = open_store(0);
    accounts(s);
    int64_t run = write_unpublished(s);
    rw_store_run_unlock(s); /* as a crashed writer's */
    uint32_t gone = 1;
    rw_store_erased n;
    rw_err err = {{0}};
    cr_assert_eq(rw_store_erase(s, &gone, 1, NULL, 0, INT64_MIN, ACCOUNTS + 101, &n, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(n.accounts, 1);
    cr_expect_eq(n.run_rows, 1);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_accounts WHERE run = %lld AND account = 1", (long long)run), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_members WHERE run = %lld AND node = 1", (long long)run), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_members WHERE run = %lld", (long long)run), 3);
    rw_store_close(s);
}

/* Many rows at once: full statements of RW_STORE_PUT_MANY rows and the rest
 * one by one give the same rows as putting each alone, reasons and NULLs
 * included. */
Test(run_writes, many_rows_at_once_are_the_rows_one_at_a_time) {
    rw_store *s = open_store(0);
    rw_err err = {{0}};
    const size_t n = 2 * RW_STORE_PUT_MANY + 5;
    rw_run_account_put acc[2 * RW_STORE_PUT_MANY + 5];
    rw_run_node_put node[2 * RW_STORE_PUT_MANY + 5];
    char why[2 * RW_STORE_PUT_MANY + 5][24];
    for (size_t i = 0; i < n; i++) {
        snprintf(why[i], sizeof why[i], "[\"reason %zu\"]", i);
        acc[i] = (rw_run_account_put){.account = (uint32_t)i,
                                      .cluster = (uint32_t)(i % 3 ? 0 : i / 3 + 1),
                                      .score = (double)i / (double)n,
                                      .flagged = i % 5 == 0,
                                      .reasons = i % 2 ? NULL : why[i]};
        node[i] = (rw_run_node_put){.node = (uint32_t)(1000 + i), .cluster = (uint32_t)(i / 4 + 1)};
    }
    cr_assert_eq(rw_store_begin(s, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_run_accounts(s, 1, acc, n, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_run_attributes(s, 1, node, n, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_run_members(s, 1, node, n, &err), RW_OK, "%s", err.msg);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(rw_store_put_run_account(s, 2, acc[i].account, acc[i].cluster, acc[i].score, acc[i].flagged,
                                              acc[i].reasons, &err),
                     RW_OK, "%s", err.msg);
        cr_assert_eq(rw_store_put_run_attribute(s, 2, node[i].node, node[i].cluster, &err), RW_OK, "%s", err.msg);
        cr_assert_eq(rw_store_put_run_member(s, 2, node[i].cluster, node[i].node, &err), RW_OK, "%s", err.msg);
    }
    cr_assert_eq(rw_store_put_run_accounts(s, 3, acc, 0, &err), RW_OK, "nothing to put: %s", err.msg);
    cr_assert_eq(rw_store_commit(s, 1, &err), RW_OK, "%s", err.msg);
    rw_store_close(s);
    static const char *const tables[3] = {"run_accounts", "run_attributes", "run_members"};
    static const char *const cols[3] = {"account, cluster, score, flagged, reasons", "attribute, cluster",
                                        "cluster, node"};
    for (int t = 0; t < 3; t++) {
        cr_expect_eq(sql_int("SELECT count(*) FROM %s WHERE run = 1", tables[t]), (int64_t)n, "%s", tables[t]);
        cr_expect_eq(sql_int("SELECT count(*) FROM %s WHERE run = 2", tables[t]), (int64_t)n, "%s", tables[t]);
        /* EXCEPT takes NULL for NULL */
        cr_expect_eq(sql_int("SELECT count(*) FROM (SELECT %s FROM %s WHERE run = 1 EXCEPT SELECT %s FROM %s"
                             " WHERE run = 2)",
                             cols[t], tables[t], cols[t], tables[t]),
                     0, "%s: rows that differ", tables[t]);
    }
    cr_expect_eq(sql_int("SELECT count(*) FROM run_accounts WHERE run = 1 AND reasons IS NULL"), (int64_t)(n / 2));
    cr_expect_eq(sql_int("SELECT count(*) FROM run_accounts WHERE run = 3"), 0);
}
