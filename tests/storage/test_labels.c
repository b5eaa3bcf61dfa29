/* storage: analysts' labels (round trip, CHECK constraints), keyset pages of
 * a run's clusters (ties broken by id), a cluster's members, attributes and
 * one account's row, and the schema migrations (to version 10: run_members, the key check, the
 * learning tables, the audit, the index of events by account, the stopped
 * signups). */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"
#include "tu_sql.h"
#include "tu_store.h"
#include "tu_tmp.h"

TestSuite(labels, .init = tu_tmp_init, .fini = tu_tmp_fini);

static rw_store *open_store(int flags) {
    return tu_store_open(tu_db(), flags);
}

/* Runs sql on a separate connection; its SQLite result code. */
#define sql_exec(sql) tu_sql_exec(tu_db(), sql)

#define sql_int(...) tu_sql_int(tu_db(), 0, __VA_ARGS__)

/* ---- labels --------------------------------------------------------------- */

typedef struct {
    int on_cluster[16];
    int64_t target[16];
    int fraud[16];
    int n;
} label_list;

static rw_status on_label(void *ctx, int on_cluster, int64_t target, int fraud) {
    label_list *l = ctx;
    if (l->n < 16) l->on_cluster[l->n] = on_cluster, l->target[l->n] = target, l->fraud[l->n] = fraud;
    l->n++;
    return RW_OK;
}

Test(labels, roundtrip_in_order) {
    rw_store *s = open_store(0);
    rw_err err = {{0}};
    label_list none = {0};
    cr_assert_eq(rw_store_labels(s, on_label, &none, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(none.n, 0);

    struct {
        const char *kind;
        int64_t target, run;
        const char *label;
    } in[] = {
        {"account", 5, 1, "fraud"},  {"cluster", 7, 1, "benign"}, {"account", 5, 2, "benign"},
        {"cluster", 42, 0, "fraud"}, {"account", 0, 3, "fraud"},
    };
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(rw_store_put_label(s, in[i].kind, in[i].target, in[i].run, in[i].label, i == 1 ? NULL : "why",
                                        &ids[i], &err),
                     RW_OK, "label %d: %s", i, err.msg);
        if (i) cr_expect_gt(ids[i], ids[i - 1]);
    }
    label_list l = {0};
    cr_assert_eq(rw_store_labels(s, on_label, &l, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(l.n, 5);
    for (int i = 0; i < 5; i++) {
        cr_expect_eq(l.on_cluster[i], !strcmp(in[i].kind, "cluster"), "row %d", i);
        cr_expect_eq(l.target[i], in[i].target, "row %d", i);
        cr_expect_eq(l.fraud[i], !strcmp(in[i].label, "fraud"), "row %d", i);
    }
    rw_store_close(s);
    /* Durable and as given: run 0 is stored as NULL, a NULL note as ''. */
    cr_expect_eq(sql_int("SELECT count(*) FROM labels"), 5);
    cr_expect_eq(sql_int("SELECT count(*) FROM labels WHERE run IS NULL"), 1);
    cr_expect_eq(sql_int("SELECT target FROM labels WHERE run IS NULL"), 42);
    cr_expect_eq(sql_int("SELECT count(*) FROM labels WHERE note = 'why'"), 4);
    cr_expect_eq(sql_int("SELECT count(*) FROM labels WHERE created_at > 1700000000"), 5);
    /* And after reopening, read-only. */
    s = open_store(RW_STORE_READONLY);
    label_list again = {0};
    cr_assert_eq(rw_store_labels(s, on_label, &again, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(again.n, 5);
    int64_t id;
    cr_expect_eq(rw_store_put_label(s, "account", 1, 0, "fraud", NULL, &id, &err), RW_ERR_PERM);
    rw_store_close(s);
}

static rw_status stop_after_two(void *ctx, int on_cluster, int64_t target, int fraud) {
    int *n = ctx;
    return ++*n == 2 ? RW_ERR_LIMIT : RW_OK;
}

Test(labels, callback_stops_the_walk) {
    rw_store *s = open_store(0);
    rw_err err = {{0}};
    int64_t id;
    for (int i = 0; i < 4; i++)
        cr_assert_eq(rw_store_put_label(s, "account", i, 0, "fraud", NULL, &id, &err), RW_OK, "%s", err.msg);
    int n = 0;
    cr_expect_eq(rw_store_labels(s, stop_after_two, &n, &err), RW_ERR_LIMIT);
    cr_expect_eq(n, 2);
    rw_store_close(s);
}

Test(labels, check_constraints_refuse_bad_values) {
    rw_store *s = open_store(0);
    rw_err err = {{0}};
    int64_t id = -1, first = 0;
    cr_assert_eq(rw_store_put_label(s, "cluster", 9, 0, "fraud", NULL, &first, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(first, 1);
    /* Through the API: refused, nothing kept, the store still usable. */
    rw_status st = rw_store_put_label(s, "account", 1, 0, "spam", NULL, &id, &err);
    cr_expect_eq(st, RW_ERR_DB, "bad label: %s (%s)", rw_status_str(st), err.msg);
    cr_expect(strstr(err.msg, "CHECK"), "%s", err.msg);
    /* On failure *id is 0, not the previous insert's row id (it was at
     * c8bf8b5; fixed in 74a9b1f). */
    cr_expect_eq(id, 0, "a refused label reports row id %lld", (long long)id);
    id = -1;
    st = rw_store_put_label(s, "node", 1, 0, "fraud", NULL, &id, &err);
    cr_expect_eq(st, RW_ERR_DB, "bad kind: %s (%s)", rw_status_str(st), err.msg);
    cr_expect_eq(id, 0, "a refused label reports row id %lld", (long long)id);
    cr_expect_eq(rw_store_put_label(s, "account", 1, 0, "fraud", NULL, &id, &err), RW_OK, "after refusals: %s",
                 err.msg);
    cr_expect_eq(id, 2);
    rw_store_close(s);
    cr_expect_eq(sql_int("SELECT count(*) FROM labels"), 2);

    /* Through SQL directly. */
    cr_expect_eq(sql_exec("INSERT INTO labels(target_kind, target, label, created_at) VALUES ('user', 1, 'fraud', 1)"),
                 SQLITE_CONSTRAINT);
    cr_expect_eq(
        sql_exec("INSERT INTO labels(target_kind, target, label, created_at) VALUES ('account', 1, 'maybe', 1)"),
        SQLITE_CONSTRAINT);
    cr_expect_eq(
        sql_exec("INSERT INTO labels(target_kind, target, label, created_at) VALUES ('Account', 1, 'fraud', 1)"),
        SQLITE_CONSTRAINT);
    cr_expect_eq(sql_exec("INSERT INTO labels(target_kind, target, label, created_at) VALUES (NULL, 1, 'fraud', 1)"),
                 SQLITE_CONSTRAINT);
    cr_expect_eq(sql_exec("UPDATE labels SET label = 'unsure'"), SQLITE_CONSTRAINT);
    cr_expect_eq(
        sql_exec("INSERT INTO labels(target_kind, target, label, created_at) VALUES ('cluster', 3, 'benign', 1)"),
        SQLITE_OK);
    cr_expect_eq(sql_int("SELECT count(*) FROM labels"), 3);
    cr_expect_eq(sql_int("SELECT count(*) FROM labels WHERE label = 'fraud'"), 2);
}

/* ---- cluster pages -------------------------------------------------------- */

static void put_cluster(rw_store *s, int64_t run, uint32_t id, double score, uint32_t accounts) {
    rw_err err = {{0}};
    rw_cluster_row c = {.id = id,
                        .score = score,
                        .flagged = score >= 0.5,
                        .accounts = accounts,
                        .attributes = 2,
                        .first_seen = 1000 + id,
                        .last_seen = 2000 + id,
                        .features = "{}",
                        .reasons = "[]"};
    cr_assert_eq(rw_store_put_cluster(s, run, &c, &err), RW_OK, "%s", err.msg);
}

static int64_t put_run(rw_store *s) {
    rw_err err = {{0}};
    rw_run_row r = {.started_at = 1, .finished_at = 2, .events = 0, .params = "{}", .summary = "{}"};
    cr_assert_eq(rw_store_put_run(s, &r, &err), RW_OK, "%s", err.msg);
    return r.id;
}

typedef struct {
    uint32_t id[64];
    double score[64];
    uint32_t accounts[64];
    size_t n;
} rows;

static rw_status on_row(void *ctx, const rw_cluster_row *c) {
    rows *r = ctx;
    if (r->n < 64) r->id[r->n] = c->id, r->score[r->n] = c->score, r->accounts[r->n] = c->accounts;
    r->n++;
    return RW_OK;
}

static rows walk(rw_store *s, int64_t run, double min_score, uint64_t limit) {
    rows all = {0};
    double after_score = 0;
    uint32_t after_id = 0;
    for (int guard = 0; guard < 100; guard++) {
        rows pg = {0};
        rw_err err = {{0}};
        cr_assert_eq(rw_store_run_clusters_page(s, run, min_score, after_score, after_id, limit, on_row, &pg, &err),
                     RW_OK, "%s", err.msg);
        cr_assert_leq(pg.n, limit);
        for (size_t i = 0; i < pg.n; i++)
            all.id[all.n] = pg.id[i], all.score[all.n] = pg.score[i], all.accounts[all.n++] = pg.accounts[i];
        if (pg.n < limit) return all;
        after_score = pg.score[pg.n - 1];
        after_id = pg.id[pg.n - 1];
    }
    cr_assert_fail("pagination does not end");
    return all;
}

/* Clusters of run 1, inserted out of order; run 2 holds others. */
static void fill_clusters(rw_store *s, int64_t *run1, int64_t *run2) {
    rw_err err = {{0}};
    cr_assert_eq(rw_store_begin(s, &err), RW_OK, "%s", err.msg);
    *run1 = put_run(s);
    *run2 = put_run(s);
    static const uint32_t ids[] = {12, 3, 7, 40, 5, 9, 21, 2};
    static const double sc[] = {0.5, 0.9, 0.5, 0.2, 0.5, 0.9, 0.75, 0.2};
    for (int i = 0; i < 8; i++) put_cluster(s, *run1, ids[i], sc[i], 10 + ids[i]);
    put_cluster(s, *run2, 4, 0.95, 3);
    put_cluster(s, *run2, 3, 0.5, 3);
    cr_assert_eq(rw_store_commit(s, 0, &err), RW_OK, "%s", err.msg);
}

Test(labels, cluster_pages_break_ties_by_id) {
    rw_store *s = open_store(0);
    int64_t run1, run2;
    fill_clusters(s, &run1, &run2);
    static const uint32_t want_id[] = {3, 9, 21, 5, 7, 12, 2, 40};
    static const double want_score[] = {0.9, 0.9, 0.75, 0.5, 0.5, 0.5, 0.2, 0.2};
    for (uint64_t limit = 1; limit <= 9; limit++) {
        rows r = walk(s, run1, -1.0, limit);
        cr_assert_eq(r.n, 8, "page size %llu: %zu rows", (unsigned long long)limit, r.n);
        for (size_t i = 0; i < 8; i++) {
            cr_expect_eq(r.id[i], want_id[i], "page size %llu, row %zu: id %u, want %u", (unsigned long long)limit, i,
                         r.id[i], want_id[i]);
            cr_expect_eq(r.score[i], want_score[i]);
            cr_expect_eq(r.accounts[i], 10 + want_id[i]);
        }
    }
    /* min_score cuts the tail; ties at the cut are all kept. */
    rows top = walk(s, run1, 0.5, 2);
    cr_expect_eq(top.n, 6);
    cr_expect_eq(top.id[5], 12);
    rows none = walk(s, run1, 0.99, 2);
    cr_expect_eq(none.n, 0);
    /* A cursor in the middle of a tie, and one between scores. */
    rows r = {0};
    rw_err err = {{0}};
    cr_assert_eq(rw_store_run_clusters_page(s, run1, -1, 0.5, 5, 2, on_row, &r, &err), RW_OK, "%s", err.msg);
    cr_expect(r.n == 2 && r.id[0] == 7 && r.id[1] == 12, "after (0.5, 5): %zu rows, %u %u", r.n, r.id[0], r.id[1]);
    r = (rows){0};
    cr_assert_eq(rw_store_run_clusters_page(s, run1, -1, 0.6, 1, 0, on_row, &r, &err), RW_OK, "%s", err.msg);
    cr_expect(r.n == 5 && r.id[0] == 5 && r.id[4] == 40, "after (0.6, 1), no limit: %zu rows, first %u", r.n, r.id[0]);
    /* Each run its own. */
    rows r2 = walk(s, run2, -1.0, 1);
    cr_expect(r2.n == 2 && r2.id[0] == 4 && r2.id[1] == 3, "run 2: %zu rows", r2.n);
    rows r3 = walk(s, run2 + 1, -1.0, 1);
    cr_expect_eq(r3.n, 0);
    rw_store_close(s);
}

/* ---- members, attributes, one account ------------------------------------- */

typedef struct {
    uint32_t account[16];
    char ext[16][16];
    double score[16];
    size_t n;
} mrows;

static rw_status on_mrow(void *ctx, const rw_score_row *r) {
    mrows *m = ctx;
    if (m->n < 16) {
        m->account[m->n] = r->account;
        snprintf(m->ext[m->n], sizeof m->ext[0], "%s", r->ext ? r->ext : "");
        m->score[m->n] = r->score;
    }
    m->n++;
    return RW_OK;
}

static rw_status on_attr(void *ctx, uint32_t a) {
    mrows *m = ctx;
    if (m->n < 16) m->account[m->n] = a;
    m->n++;
    return RW_OK;
}

Test(labels, members_attributes_and_one_account) {
    rw_store *s = open_store(0);
    rw_err err = {{0}};
    cr_assert_eq(rw_store_begin(s, &err), RW_OK, "%s", err.msg);
    const char *ext[] = {"u0", "u1", "u2", "u3", "u4"};
    for (uint32_t i = 0; i < 5; i++)
        cr_assert_eq(rw_store_put_account(s, i, ext[i], 2, 100, &err), RW_OK, "%s", err.msg);
    int64_t run = put_run(s);
    put_cluster(s, run, 8, 0.7, 3);
    /* Accounts 1, 3 and 4 in cluster 8 (4 and 1 tie on score); 0 and 2 in none. */
    cr_assert_eq(rw_store_put_run_account(s, run, 0, 0, 0.0, 0, NULL, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_run_account(s, run, 1, 8, 0.6, 1, "[\"x\"]", &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_run_account(s, run, 2, 0, 0.1, 0, NULL, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_run_account(s, run, 3, 8, 0.8, 1, "[\"y\"]", &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_run_account(s, run, 4, 8, 0.6, 1, NULL, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_run_attribute(s, run, 10, 8, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_run_attribute(s, run, 11, 8, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_run_attribute(s, run, 12, 9, &err), RW_OK, "%s", err.msg);
    const uint32_t member[][2] = {{8, 1}, {8, 3}, {8, 4}, {8, 10}, {8, 11}, {9, 12}};
    for (size_t i = 0; i < sizeof member / sizeof member[0]; i++)
        cr_assert_eq(rw_store_put_run_member(s, run, member[i][0], member[i][1], &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_commit(s, 1, &err), RW_OK, "%s", err.msg);

    mrows m = {0};
    cr_assert_eq(rw_store_cluster_members(s, run, 8, 0, on_mrow, &m, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(m.n, 3);
    cr_expect(m.account[0] == 3 && m.account[1] == 1 && m.account[2] == 4, "order %u %u %u", m.account[0], m.account[1],
              m.account[2]);
    cr_expect_str_eq(m.ext[0], "u3");
    cr_expect_eq(m.score[0], 0.8);
    m = (mrows){0};
    cr_assert_eq(rw_store_cluster_members(s, run, 8, 1, on_mrow, &m, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(m.n, 1);
    m = (mrows){0};
    cr_assert_eq(rw_store_cluster_members(s, run, 0, 0, on_mrow, &m, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(m.n, 0, "cluster 0 means none: %zu rows", m.n);

    m = (mrows){0};
    cr_assert_eq(rw_store_cluster_attributes(s, run, 8, on_attr, &m, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(m.n, 2);
    cr_expect((m.account[0] == 10 && m.account[1] == 11) || (m.account[0] == 11 && m.account[1] == 10));

    rw_score_row row;
    char reasons[64];
    cr_assert_eq(rw_store_run_account(s, run, 3, &row, reasons, sizeof reasons, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(row.account, 3);
    cr_expect_eq(row.cluster, 8);
    cr_expect_eq(row.flagged, 1);
    cr_expect_eq(row.score, 0.8);
    cr_expect_str_eq(reasons, "[\"y\"]");
    cr_assert_eq(rw_store_run_account(s, run, 2, &row, reasons, sizeof reasons, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(row.cluster, 0);
    cr_expect_str_eq(reasons, "[]");
    cr_expect_eq(rw_store_run_account(s, run, 77, &row, reasons, sizeof reasons, &err), RW_ERR_NOTFOUND);
    cr_expect_eq(rw_store_run_account(s, run + 1, 3, &row, reasons, sizeof reasons, &err), RW_ERR_NOTFOUND);
    rw_store_close(s);
}

/* ---- schema --------------------------------------------------------------- */

Test(labels, schema_version_10_with_key_check_run_members_scores_run_writes_learning_audit_events_by_account_stopped) {
    cr_expect_eq(rw_store_schema_version(), 10);
    rw_store *s = open_store(0);
    rw_err err = {{0}};
    cr_expect_eq(rw_store_set_sync_full(s, 1, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(rw_store_set_sync_full(s, 0, &err), RW_OK, "%s", err.msg);
    rw_store_close(s);
    cr_expect_eq(sql_int("SELECT max(version) FROM schema_version"), 10);
    cr_expect_eq(sql_int("SELECT count(*) FROM schema_version"), 10);
    cr_expect_eq(sql_int("SELECT count(*) FROM pragma_table_info('labels') WHERE name = 'author'"), 1);
    cr_expect_eq(sql_int("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'audit'"), 1);
    cr_expect_eq(sql_int("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
                         " ('signup_features', 'online_models')"),
                 2);
    cr_expect_eq(sql_int("SELECT count(*) FROM pragma_table_info('events') WHERE name = 'score'"), 1);
    cr_expect_eq(sql_int("SELECT count(*) FROM pragma_table_info('events') WHERE name = 'stopped'"), 1);
    cr_expect_eq(sql_int("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'labels_by_target'"), 1);
    cr_expect_eq(sql_int("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'events_by_account'"), 1);
    cr_expect_eq(sql_int("SELECT count(*) FROM sqlite_schema WHERE name LIKE '%%by_cluster'"), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
                         " ('run_writes', 'run_members')"),
                 2);
    cr_expect_eq(sql_int("SELECT count(*) FROM meta WHERE key = 'key_check' AND value IS NULL"), 1);

    /* A version 6 database (key check, no learning tables, no audit) gains them and
     * keeps what it held. */
    cr_assert_eq(sql_exec("DROP TABLE signup_features; DROP TABLE online_models;"
                          "DELETE FROM schema_version WHERE version >= 7;"
                          "UPDATE meta SET value = 'ab' WHERE key = 'key_check';"),
                 SQLITE_OK);
    cr_expect_eq(rw_store_open(&s, tu_db(), RW_STORE_READONLY, &err), RW_ERR_PERM);
    s = open_store(0);
    rw_store_close(s);
    cr_expect_eq(sql_int("SELECT max(version) FROM schema_version"), 10);
    cr_expect_eq(sql_int("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
                         " ('signup_features', 'online_models')"),
                 2);
    cr_expect_eq(sql_int("SELECT count(*) FROM meta WHERE key = 'key_check' AND value = 'ab'"), 1);
    cr_assert_eq(sql_exec("UPDATE meta SET value = NULL WHERE key = 'key_check';"), SQLITE_OK);

    /* A version 4 database (as the previous release left it, with a run) is
     * migrated: the by-cluster indexes become run_members rows. */
    cr_assert_eq(
        sql_exec("DROP TABLE run_writes; DROP TABLE run_members; DROP TABLE signup_features; DROP TABLE online_models;"
                 "DELETE FROM schema_version WHERE version >= 5;"
                 "CREATE INDEX run_accounts_by_cluster ON run_accounts(run, cluster) WHERE cluster != 0;"
                 "CREATE INDEX run_attributes_by_cluster ON run_attributes(run, cluster);"
                 "INSERT INTO runs VALUES (1, 1, 2, 0, 0, '{}', '{}');"
                 "INSERT INTO run_accounts VALUES (1, 0, 0, 0.1, 0, NULL), (1, 1, 7, 0.9, 1, NULL),"
                 "  (1, 2, 7, 0.8, 1, NULL), (1, 3, 5, 0.2, 0, NULL);"
                 "INSERT INTO run_attributes VALUES (1, 10, 7), (1, 11, 5);"),
        SQLITE_OK);
    cr_expect_eq(rw_store_open(&s, tu_db(), RW_STORE_READONLY, &err), RW_ERR_PERM);
    s = open_store(0);
    rw_store_close(s);
    cr_expect_eq(sql_int("SELECT max(version) FROM schema_version"), 10);
    cr_expect_eq(sql_int("SELECT count(*) FROM sqlite_schema WHERE name LIKE '%%by_cluster'"), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_members"), 5);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_members WHERE run = 1 AND cluster = 7 AND node IN (1, 2, 10)"), 3);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_members WHERE run = 1 AND cluster = 5 AND node IN (3, 11)"), 2);

    /* So is a version 2 database. */
    cr_assert_eq(sql_exec("ALTER TABLE events DROP COLUMN score; DROP TABLE run_writes; DROP TABLE run_members;"
                          " DROP TABLE signup_features; DROP TABLE online_models;"
                          " DELETE FROM schema_version WHERE version >= 3;"),
                 SQLITE_OK);
    cr_expect_eq(sql_int("SELECT max(version) FROM schema_version"), 2);
    /* Read-only opening refuses to migrate. */
    cr_expect_eq(rw_store_open(&s, tu_db(), RW_STORE_READONLY, &err), RW_ERR_PERM);
    s = open_store(0);
    rw_store_close(s);
    cr_expect_eq(sql_int("SELECT max(version) FROM schema_version"), 10);
    cr_expect_eq(sql_int("SELECT count(*) FROM pragma_table_info('events') WHERE name = 'score'"), 1);
    cr_expect_eq(sql_int("SELECT count(*) FROM sqlite_schema WHERE name LIKE '%%by_cluster'"), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_members"), 5);
    cr_expect_eq(sql_int("SELECT count(*) FROM pragma_table_info('labels') WHERE name = 'author'"), 1);

    /* A version 8 database gains the index of events by account. */
    cr_assert_eq(sql_exec("DROP INDEX events_by_account; DELETE FROM schema_version WHERE version >= 9;"), SQLITE_OK);
    s = open_store(0);
    rw_store_close(s);
    cr_expect_eq(sql_int("SELECT max(version) FROM schema_version"), 10);
    cr_expect_eq(sql_int("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'events_by_account'"), 1);

    /* The audit step is idempotent: a database whose labels already have
     * their author (a branch that numbered the step otherwise) migrates. */
    cr_assert_eq(sql_exec("DELETE FROM schema_version WHERE version >= 8;"), SQLITE_OK);
    s = open_store(0);
    rw_store_close(s);
    cr_expect_eq(sql_int("SELECT max(version) FROM schema_version"), 10);
    cr_expect_eq(sql_int("SELECT count(*) FROM pragma_table_info('labels') WHERE name = 'author'"), 1);

    /* A version 9 database gains the stopped column. */
    cr_assert_eq(sql_exec("ALTER TABLE events DROP COLUMN stopped; DELETE FROM schema_version WHERE version >= 10;"),
                 SQLITE_OK);
    s = open_store(0);
    rw_store_close(s);
    cr_expect_eq(sql_int("SELECT max(version) FROM schema_version"), 10);
    cr_expect_eq(sql_int("SELECT count(*) FROM pragma_table_info('events') WHERE name = 'stopped'"), 1);
}
