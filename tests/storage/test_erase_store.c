/* storage: rw_store_erase deletes exactly the rows asked for (events by
 * account and by age, node rows, run rows and members, labels), refuses to leave an event
 * or an IP naming an erased node, keeps the id high-water mark, and leaves no
 * copy of an erased account id in the database or its WAL. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"
#include "tu_store.h"
#include "tu_tmp.h"

TestSuite(store_erase, .init = tu_tmp_init, .fini = tu_tmp_fini);

#define N 400 /* accounts: enough for page splits in the accounts table */

static rw_store *open_store(void) {
    return tu_store_open(tu_db(), 0);
}

/* Accounts 0..N-1 ("account-number-NNNN"), then subnet N, IP N+1 (in it) and
 * device N+2; account i has an event at time 100 + i, accounts 0 and 1 use
 * the IP, account 0 also the device; one run with every account; a label on
 * account 0 and one on account 2. */
static void fill(rw_store *s) {
    rw_err err = {{0}};
    /* Accounts in a scrambled order through a connection without
     * secure_delete (the default of many SQLite builds), so pages split in
     * the middle and balancing leaves old copies of rows in free space (rows
     * written in id order would not): the erasure must not leave those. */
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(tu_db(), &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "PRAGMA secure_delete=OFF; BEGIN", NULL, NULL, NULL), SQLITE_OK);
    for (uint32_t k = 0; k < N; k++) {
        uint32_t i = (k * 7919u) % N;
        char sql[160];
        snprintf(sql, sizeof sql, "INSERT INTO accounts(id, ext, first_seen) VALUES (%u, 'account-number-%04u', %u)", i,
                 i, 100 + i);
        cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    }
    cr_assert_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    cr_assert_eq(rw_store_begin(s, &err), RW_OK);
    rw_hash h = {{1}};
    cr_assert_eq(rw_store_put_attribute(s, N, RW_KIND_SUBNET, &h, RW_STORE_NONE, 100, &err), RW_OK);
    h.b[0] = 2;
    cr_assert_eq(rw_store_put_attribute(s, N + 1, RW_KIND_IP, &h, N, 100, &err), RW_OK);
    h.b[0] = 3;
    cr_assert_eq(rw_store_put_attribute(s, N + 2, RW_KIND_DEVICE, &h, RW_STORE_NONE, 100, &err), RW_OK);
    for (uint32_t i = 0; i < N; i++) {
        uint32_t attr[RW_EVENT_ATTRS] = {i < 2 ? N + 1 : RW_STORE_NONE, i == 0 ? N + 2 : RW_STORE_NONE, RW_STORE_NONE};
        cr_assert_eq(rw_store_put_event(s, 100 + i, RW_EV_SIGNUP, i, attr, &err), RW_OK);
    }
    rw_run_row run = {.started_at = 1, .finished_at = 2, .params = "{}", .summary = "{}"};
    cr_assert_eq(rw_store_put_run(s, &run, &err), RW_OK);
    for (uint32_t i = 0; i < N; i++)
        cr_assert_eq(rw_store_put_run_account(s, run.id, i, i < 2 ? 1 : 0, 0.5, 0, NULL, &err), RW_OK);
    cr_assert_eq(rw_store_put_run_attribute(s, run.id, N + 1, 1, &err), RW_OK);
    for (uint32_t node = 0; node < 2; node++) cr_assert_eq(rw_store_put_run_member(s, run.id, 1, node, &err), RW_OK);
    cr_assert_eq(rw_store_put_run_member(s, run.id, 1, N + 1, &err), RW_OK);
    cr_assert_eq(rw_store_commit(s, 1, &err), RW_OK);
    int64_t id;
    cr_assert_eq(rw_store_put_label(s, "account", 0, run.id, "fraud", "about account-number-0000", &id, &err), RW_OK);
    cr_assert_eq(rw_store_put_label(s, "account", 2, run.id, "benign", "", &id, &err), RW_OK);
}

static int in_files(const char *needle) {
    return tu_in_db_files(tu_db(), needle);
}

/* The nodes of run_members, as "1,401" (ascending). */
static char *members(void) {
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(tu_db(), &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT coalesce(group_concat(node), '') FROM (SELECT node FROM run_members"
                                    " ORDER BY node)",
                                    -1, &q, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    char *v = strdup((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

/* Whether the erasure's mark "WAL not yet truncated" is set. */
static int scrub_mark(const char *base) {
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(base, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM meta WHERE key = 'wal_scrub'", -1, &q, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    int n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

Test(store_erase, exact_rows_and_no_bytes_left) {
    rw_store *s = open_store();
    fill(s);
    cr_assert(in_files("account-number-0000"));
    rw_err err = {{0}};
    rw_store_erased n;
    /* the IP is still used by account 1: erasing it would leave a dangling event */
    const uint32_t acc0[] = {0}, bad[] = {N + 1, N + 2};
    cr_assert_eq(rw_store_erase(s, acc0, 1, bad, 2, INT64_MIN, N + 3, &n, &err), RW_ERR_INTERNAL);
    cr_assert(!n.committed);
    rw_store_counts c;
    cr_assert_eq(rw_store_count(s, &c, &err), RW_OK);
    cr_assert_eq(c.accounts, N);
    cr_assert_eq(c.events, N);
    /* nor may a subnet go while an IP in it stays */
    const uint32_t sub[] = {N};
    cr_assert_eq(rw_store_erase(s, NULL, 0, sub, 1, INT64_MIN, N + 3, &n, &err), RW_ERR_INTERNAL);

    /* account 6 is one whose row balancing copied (see fill) */
    cr_assert(in_files("account-number-0006"));
    const uint32_t acc06[] = {0, 6}, dev[] = {N + 2};
    cr_assert_eq(rw_store_erase(s, acc06, 2, dev, 1, INT64_MIN, N + 3, &n, &err), RW_OK, "%s", err.msg);
    cr_assert(n.committed);
    cr_assert_eq(n.accounts, 2);
    cr_assert_eq(n.attributes, 1);
    cr_assert_eq(n.events, 2);
    cr_assert_eq(n.run_rows, 2);
    cr_assert_eq(n.labels, 1);
    char *m = members(), want[32];
    snprintf(want, sizeof want, "1,%u", N + 1);
    cr_expect_str_eq(m, want, "members left: %s", m);
    free(m);
    cr_assert(!in_files("account-number-0000"));
    cr_assert(!in_files("account-number-0006"));
    cr_assert_eq(scrub_mark(tu_db()), 0);
    cr_assert(in_files("account-number-0001"));
    cr_assert_eq(rw_store_count(s, &c, &err), RW_OK);
    cr_assert_eq(c.accounts, N - 2);
    cr_assert_eq(c.attributes, 2);
    cr_assert_eq(c.events, N - 2);
    uint32_t next = 0;
    cr_assert_eq(rw_store_next_node(s, &next, &err), RW_OK);
    cr_assert_eq(next, N + 3);
    cr_assert_eq(rw_store_integrity_check(s, &err), RW_OK, "%s", err.msg);

    /* by age: events before 110 go (accounts 1..9); the accounts asked for too */
    const uint32_t old[] = {1, 2, 3, 4, 5, 7, 8, 9}, ipsub[] = {N + 1, N};
    cr_assert_eq(rw_store_erase(s, old, 8, ipsub, 2, 110, N + 3, &n, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(n.accounts, 8);
    cr_assert_eq(n.events, 8);
    cr_assert_eq(n.attributes, 2);
    cr_assert_eq(n.run_rows, 9); /* eight accounts and the IP */
    cr_assert_eq(n.labels, 1);
    m = members();
    cr_expect_str_eq(m, "", "members left: %s", m);
    free(m);
    cr_assert_eq(rw_store_count(s, &c, &err), RW_OK);
    cr_assert_eq(c.accounts, N - 10);
    cr_assert_eq(c.attributes, 0);
    cr_assert_eq(c.events, N - 10);
    cr_assert(!in_files("account-number-0005"));
    cr_assert(in_files("account-number-0010"));
    /* a smaller node count never lowers the mark */
    cr_assert_eq(rw_store_erase(s, NULL, 0, NULL, 0, INT64_MIN, 5, &n, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_next_node(s, &next, &err), RW_OK);
    cr_assert_eq(next, N + 3);
    rw_store_close(s);
}

static void copy_file(const char *from, const char *to) {
    size_t len = 0;
    char *data = tu_read_file(from, &len);
    cr_assert(data, "cannot read %s", from);
    cr_assert_eq(tu_write_file(to, data, len), 0);
    free(data);
}

/* A process stopped between an erasure's commit and its WAL truncation
 * leaves the old pages in the WAL and the mark the erasure commits with;
 * the next writable open truncates it. */
Test(store_erase, open_truncates_a_wal_left_behind) {
    rw_store *s = open_store();
    rw_store_close(s);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(tu_db(), &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "PRAGMA secure_delete=ON;"
                              "INSERT INTO accounts(id, ext, first_seen) VALUES (0, 'left-in-the-wal-5e1d', 1);"
                              "BEGIN; DELETE FROM accounts;"
                              "INSERT INTO meta(key, value) VALUES ('wal_scrub', 1); COMMIT;",
                              NULL, NULL, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    /* the files as a crash would leave them, while the writer still has them open */
    char copy[540], from[600], to[600];
    snprintf(copy, sizeof copy, "%s/copy.db", tu_dir());
    copy_file(tu_db(), copy);
    snprintf(from, sizeof from, "%s-wal", tu_db());
    snprintf(to, sizeof to, "%s-wal", copy);
    copy_file(from, to);
    sqlite3_close(db);
    cr_assert(tu_in_db_files(copy, "left-in-the-wal-5e1d"));
    rw_err err = {{0}};
    cr_assert_eq(rw_store_open(&s, copy, 0, &err), RW_OK, "%s", err.msg);
    cr_assert(!tu_in_db_files(copy, "left-in-the-wal-5e1d"));
    rw_store_counts c;
    cr_assert_eq(rw_store_count(s, &c, &err), RW_OK);
    cr_assert_eq(c.accounts, 0);
    rw_store_close(s);
    cr_assert_eq(scrub_mark(copy), 0, "the mark is cleared once the WAL is cut");
}
