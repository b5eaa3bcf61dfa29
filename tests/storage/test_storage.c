/* storage: schema, write path, snapshot load, refusal of foreign files. */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"
#include "tu_sql.h"
#include "tu_tmp.h"

TestSuite(storage, .init = tu_tmp_init, .fini = tu_tmp_fini);

typedef struct {
    int order[16];
    int n;
    int events;
    uint32_t last_attr[3];
    char ext[64];
} seen;

static rw_status on_account(void *ctx, uint32_t id, const char *ext, size_t len, int64_t first_seen) {
    seen *s = ctx;
    s->order[s->n++] = (int)id;
    snprintf(s->ext, sizeof s->ext, "%.*s", (int)len, ext);
    cr_expect_eq(first_seen, 100);
    return RW_OK;
}
static rw_status on_attribute(void *ctx, uint32_t id, rw_kind kind, const rw_hash *h, uint32_t parent,
                              int64_t first_seen) {
    seen *s = ctx;
    s->order[s->n++] = (int)id;
    cr_expect_eq(h->b[0], (uint8_t)id);
    if (kind == RW_KIND_IP) cr_expect_eq(parent, 1u);
    return RW_OK;
}
static rw_status on_event(void *ctx, int64_t ts, rw_event_type type, uint32_t account,
                          const uint32_t attr[RW_EVENT_ATTRS]) {
    seen *s = ctx;
    s->events++;
    memcpy(s->last_attr, attr, sizeof s->last_attr);
    cr_expect_eq(account, 0u);
    return RW_OK;
}

static void fill(rw_store *s) {
    rw_err err;
    rw_hash h = {{0}};
    cr_assert_eq(rw_store_begin(s, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_account(s, 0, "acct-1", 6, 100, &err), RW_OK, "%s", err.msg);
    h.b[0] = 1;
    cr_assert_eq(rw_store_put_attribute(s, 1, RW_KIND_SUBNET, &h, RW_STORE_NONE, 100, &err), RW_OK, "%s", err.msg);
    h.b[0] = 2;
    cr_assert_eq(rw_store_put_attribute(s, 2, RW_KIND_IP, &h, 1, 100, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_account(s, 3, "acct-2", 6, 100, &err), RW_OK, "%s", err.msg);
    uint32_t attr[3] = {2, RW_STORE_NONE, RW_STORE_NONE};
    cr_assert_eq(rw_store_put_event(s, 100, RW_EV_SIGNUP, 0, attr, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_event(s, 200, RW_EV_LOGIN, 0, attr, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_commit(s, 1, &err), RW_OK, "%s", err.msg);
}

/* Commits of n accounts with long ids (pages for the WAL), ids from *next. */
static void put_accounts(rw_store *s, uint32_t *next, int n) {
    rw_err err;
    char ext[200];
    cr_assert_eq(rw_store_begin(s, &err), RW_OK, "%s", err.msg);
    for (int i = 0; i < n; i++, (*next)++) {
        int len = snprintf(ext, sizeof ext, "account-%08u-%0160u", *next, *next);
        cr_assert_eq(rw_store_put_account(s, *next, ext, (size_t)len, 100, &err), RW_OK, "%s", err.msg);
    }
    cr_assert_eq(rw_store_commit(s, 1, &err), RW_OK, "%s", err.msg);
}

Test(storage, background_checkpoints_leave_the_wal_to_another_connection) {
    rw_store *s = NULL;
    rw_err err;
    cr_assert_eq(rw_store_open(&s, tu_db(), 0, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_background_checkpoints(s, &err), RW_OK, "%s", err.msg);
    uint32_t next = 0;
    uint32_t due = rw_store_wal_checkpoint_pages();
    /* Past a checkpoint's worth, and the connection has not copied it. */
    for (int c = 0; c < 60 && rw_store_wal_pages(s) < due + 200; c++) put_accounts(s, &next, 400);
    uint32_t before = rw_store_wal_pages(s);
    cr_assert_geq(before, due + 200, "%u pages in the WAL", before);
    /* A run lock and unlock must not turn SQLite's own checkpoints back on. */
    cr_assert_eq(rw_store_run_lock(s, &err), RW_OK, "%s", err.msg);
    rw_store_run_unlock(s);
    put_accounts(s, &next, 10);
    cr_expect_gt(rw_store_wal_pages(s), before);

    rw_checkpointer *c = NULL;
    cr_assert_eq(rw_checkpointer_open(s, &c, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_checkpointer_run(c, &err), RW_OK, "%s", err.msg);
    put_accounts(s, &next, 10); /* committed while the copy ran */
    cr_assert_eq(rw_store_checkpoint_tail(s, &err), RW_OK, "%s", err.msg);
    put_accounts(s, &next, 10);
    cr_expect_lt(rw_store_wal_pages(s), 100, "the WAL did not start over: %u pages", rw_store_wal_pages(s));
    rw_checkpointer_close(c);
    rw_store_close(s);
    cr_expect_eq(tu_sql_int(tu_db(), 0, "SELECT count(*) FROM accounts"), (int64_t)next);
}

Test(storage, roundtrip_in_id_order) {
    rw_store *s = NULL;
    rw_err err;
    cr_assert_eq(rw_store_open(&s, tu_db(), 0, &err), RW_OK, "%s", err.msg);
    fill(s);
    rw_store_close(s);
    cr_assert_eq(rw_store_open(&s, tu_db(), RW_STORE_READONLY, &err), RW_OK, "%s", err.msg);
    seen sn = {0};
    rw_store_loader cb = {on_account, on_attribute, on_event};
    cr_assert_eq(rw_store_load(s, &cb, &sn, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(sn.n, 4);
    for (int i = 0; i < 4; i++) cr_expect_eq(sn.order[i], i);
    cr_expect_eq(sn.events, 2);
    cr_expect_eq(sn.last_attr[0], 2u);
    cr_expect_eq(sn.last_attr[1], RW_STORE_NONE);
    cr_expect_str_eq(sn.ext, "acct-2");
    rw_store_counts c;
    cr_assert_eq(rw_store_count(s, &c, &err), RW_OK);
    cr_expect_eq(c.accounts, 2);
    cr_expect_eq(c.attributes, 2);
    cr_expect_eq(c.events, 2);
    cr_expect_eq(rw_store_integrity_check(s, &err), RW_OK, "%s", err.msg);
    rw_store_close(s);
}

Test(storage, edges_view_derives_from_log) {
    rw_store *s = NULL;
    rw_err err;
    cr_assert_eq(rw_store_open(&s, tu_db(), 0, &err), RW_OK, "%s", err.msg);
    fill(s);
    rw_store_close(s);
    char *out = NULL;
    tu_run(&out, "sqlite3 '%s' 'SELECT account, attribute, first_seen, last_seen, count FROM edges'", tu_db());
    cr_expect(strstr(out, "0|2|100|200|2") != NULL, "edges view: %s", out);
    free(out);
}

Test(storage, rollback_keeps_nothing) {
    rw_store *s = NULL;
    rw_err err;
    cr_assert_eq(rw_store_open(&s, tu_db(), 0, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_begin(s, &err), RW_OK);
    cr_assert_eq(rw_store_put_account(s, 0, "a", 1, 100, &err), RW_OK);
    rw_store_rollback(s);
    rw_store_counts c;
    cr_assert_eq(rw_store_count(s, &c, &err), RW_OK);
    cr_expect_eq(c.accounts, 0);
    rw_store_close(s);
}

Test(storage, refuses_garbage_file) {
    const char junk[] = "this is not a database, just some bytes that look nothing like SQLite";
    char big[8192];
    for (size_t i = 0; i < sizeof big; i++) big[i] = junk[i % (sizeof junk - 1)];
    cr_assert_eq(tu_write_file(tu_db(), big, sizeof big), 0);
    rw_store *s = NULL;
    rw_err err;
    cr_expect_eq(rw_store_open(&s, tu_db(), 0, &err), RW_ERR_CORRUPT);
    cr_expect(strstr(err.msg, "not a ringwatch database") != NULL, "%s", err.msg);
    size_t len;
    char *after = tu_read_file(tu_db(), &len);
    cr_expect_eq(len, sizeof big);
    cr_expect(memcmp(after, big, len) == 0, "the file was modified");
    free(after);
}

Test(storage, refuses_foreign_sqlite) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(tu_db(), &db), SQLITE_OK);
    sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", NULL, NULL, NULL);
    sqlite3_close(db);
    rw_store *s = NULL;
    rw_err err;
    cr_expect_eq(rw_store_open(&s, tu_db(), 0, &err), RW_ERR_CORRUPT);
    cr_expect(strstr(err.msg, "another program") != NULL, "%s", err.msg);
}

Test(storage, refuses_newer_schema) {
    rw_store *s = NULL;
    rw_err err;
    cr_assert_eq(rw_store_open(&s, tu_db(), 0, &err), RW_OK, "%s", err.msg);
    rw_store_close(s);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(tu_db(), &db), SQLITE_OK);
    sqlite3_exec(db, "INSERT INTO schema_version VALUES (999)", NULL, NULL, NULL);
    sqlite3_close(db);
    cr_expect_eq(rw_store_open(&s, tu_db(), 0, &err), RW_ERR_CORRUPT);
    cr_expect(strstr(err.msg, "newer") != NULL, "%s", err.msg);
}

Test(storage, readonly_missing_file) {
    rw_store *s = NULL;
    rw_err err;
    cr_expect_eq(rw_store_open(&s, tu_db(), RW_STORE_READONLY, &err), RW_ERR_NOTFOUND);
    cr_expect_null(s);
}

Test(storage, schema_version_recorded) {
    rw_store *s = NULL;
    rw_err err;
    cr_assert_eq(rw_store_open(&s, tu_db(), 0, &err), RW_OK, "%s", err.msg);
    rw_store_close(s);
    char *out = NULL;
    tu_run(&out, "sqlite3 '%s' 'SELECT max(version) FROM schema_version; PRAGMA journal_mode;'", tu_db());
    char want[64];
    snprintf(want, sizeof want, "%d\nwal", rw_store_schema_version());
    cr_expect(strstr(out, want) != NULL, "%s", out);
    free(out);
}

static rw_status on_account_event(void *ctx, const rw_event_row *ev) {
    rw_event_row *rows = ctx;
    int n = 0;
    while (rows[n].ts) n++;
    rows[n] = *ev;
    return RW_OK;
}

/* An event with no attributes, as the signup path stores it. */
typedef struct {
    int64_t ts;
    rw_event_type type;
    uint32_t account;
    double score;
    int stopped;
} scored_event;

/* A store holding what fill() writes, then ev[0..n) in one transaction. */
static rw_store *filled_with(const scored_event *ev, size_t n) {
    rw_store *s = NULL;
    rw_err err;
    cr_assert_eq(rw_store_open(&s, tu_db(), 0, &err), RW_OK, "%s", err.msg);
    fill(s);
    uint32_t attr[3] = {RW_STORE_NONE, RW_STORE_NONE, RW_STORE_NONE};
    cr_assert_eq(rw_store_begin(s, &err), RW_OK, "%s", err.msg);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(
            rw_store_put_event_scored(s, ev[i].ts, ev[i].type, ev[i].account, attr, ev[i].score, ev[i].stopped, &err),
            RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_commit(s, 1, &err), RW_OK, "%s", err.msg);
    return s;
}

/* Accounts reported by rw_store_stopped_accounts, in order. */
typedef struct {
    uint32_t account[8];
    int n;
} stopped_seen;

static void on_stopped(void *ctx, uint32_t account) {
    stopped_seen *sc = ctx;
    if (sc->n < 8) sc->account[sc->n] = account;
    sc->n++;
}

Test(storage, stopped_accounts_are_each_account_with_a_stopped_signup_once_in_order) {
    static const scored_event ev[] = {{300, RW_EV_SIGNUP, 3, 0.75, 1},
                                      {310, RW_EV_LOGIN, 3, 0.25, 0},
                                      {315, RW_EV_SIGNUP, 3, 0.8, 1},
                                      {320, RW_EV_LOGIN, 0, 0.5, 0},
                                      {330, RW_EV_SIGNUP, 2, 0.9, 1}};
    rw_store *s = filled_with(ev, sizeof ev / sizeof ev[0]);
    rw_err err;
    stopped_seen sc;
    memset(&sc, 0, sizeof sc);
    cr_assert_eq(rw_store_stopped_accounts(s, on_stopped, &sc, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(sc.n, 2, "one row per stopped account, none for a scored one never stopped");
    cr_expect_eq(sc.account[0], 2u);
    cr_expect_eq(sc.account[1], 3u);
    rw_store_close(s);
}

Test(storage, an_accounts_events_newest_first_through_its_index) {
    static const scored_event ev[] = {{300, RW_EV_PAYMENT, 3, 0.25, 0}};
    rw_store *s = filled_with(ev, 1);
    rw_err err;
    rw_event_row rows[8] = {{0}};
    cr_assert_eq(rw_store_account_events(s, 0, 0, on_account_event, rows, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(rows[0].ts, 200);
    cr_expect_eq(rows[0].type, RW_EV_LOGIN);
    cr_expect_eq(rows[0].attr[0], 2u);
    cr_expect_eq(rows[0].attr[1], RW_STORE_NONE);
    cr_expect(isnan(rows[0].score));
    cr_expect_eq(rows[1].ts, 100);
    cr_expect_eq(rows[2].ts, 0, "account 3's event listed for account 0");
    memset(rows, 0, sizeof rows);
    cr_assert_eq(rw_store_account_events(s, 0, 1, on_account_event, rows, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(rows[0].ts, 200);
    cr_expect_eq(rows[1].ts, 0, "limit 1 gave more");
    memset(rows, 0, sizeof rows);
    cr_assert_eq(rw_store_account_events(s, 3, 0, on_account_event, rows, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(rows[0].type, RW_EV_PAYMENT);
    cr_expect_eq(rows[0].score, 0.25);
    rw_store_close(s);
    /* The read is an index search, not a scan of the log. */
    char plan[256];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open(tu_db(), &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT seq FROM events WHERE account = 0 ORDER BY seq DESC",
                                    -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(plan, sizeof plan, "%s", (const char *)sqlite3_column_text(st, 3));
    cr_expect(strstr(plan, "events_by_account"), "%s", plan);
    sqlite3_finalize(st);
    sqlite3_close(db);
}
