/* End to end: erasure and retention on a small simulated world. An account
 * recorded through the server, rescored and labelled is erased with DELETE
 * /v1/accounts/{id} (admin only): its id's bytes are gone from the database,
 * its WAL and shared memory, and the server goes on answering (beside a
 * reader of an older snapshot, once it leaves); `ringwatch
 * erase` and `ringwatch retain --days 7 --now END` do the same offline, and
 * the server starts again on what they left. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "tu_run.h"
#include "tu_serve.h"
#include "tu_sql.h"

#define ACCOUNTS 1000
#define SIGNUP   "signup-token-0123456789"
#define ANALYST  "analyst-token-0123456789"
#define ADMIN    "admin-token-0123456789"
#define VICTIM   "erase-me-7f3c9a"

static tu_server srv;

#define start_server() tu_serve_up(&srv, "--config rw.ini --db ringwatch.db")

static void setup(void) {
    tu_serve_init();
    tu_world(ACCOUNTS, 7);
    const char *ini = "[server]\nlisten = 127.0.0.1:0\nthreads = 2\ntoken_signup = " SIGNUP "\ntoken_analyst = " ANALYST
                      "\ntoken_admin = " ADMIN "\n";
    tu_write_in("rw.ini", ini);
    start_server();
}

static void teardown(void) {
    tu_serve_fini(&srv);
}
TestSuite(erase_e2e, .init = setup, .fini = teardown, .timeout = 180);

/* One request; the answer's JSON (caller decrefs) and status. */
static json_t *req(long *status, const char *method, const char *path, const char *token, const char *body) {
    return tu_req(&srv, status, method, path, token, body ? "application/json" : NULL, body);
}

static long status_of(const char *method, const char *path, const char *token, const char *body) {
    long st;
    json_decref(req(&st, method, path, token, body));
    return st;
}

#define sql_int(...) tu_sql_int(tu_db(), -1, __VA_ARGS__)

/* A text query's first value into out. */
#define sql_text(out, size, sql) tu_sql_text(tu_db(), out, size, sql)

static void assert_integrity(void) {
    char r[64];
    sql_text(r, sizeof r, "PRAGMA integrity_check");
    cr_assert_str_eq(r, "ok");
}

/* Whether the bytes of needle occur in the database, its WAL or its -shm. */
#define in_files(needle) tu_in_db_files(tu_db(), needle)
#define wait_job(id)     tu_wait_job(&srv, ADMIN, id)

/* Whether the n bytes at needle occur in the database, its WAL or its -shm. */
static int bytes_in_files(const void *needle, size_t n) {
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s%s", tu_db(), suffix[i]);
        size_t len = 0;
        char *data = tu_read_file(path, &len);
        int hit = data && tu_contains(data, len, needle, n);
        free(data);
        if (hit) return 1;
    }
    return 0;
}

/* The value of gauge name in /metrics (-1 when absent). */
static long long gauge(const char *name) {
    tu_resp r;
    cr_assert_eq(tu_http(&r, &srv, "GET", "/metrics", ADMIN, NULL, NULL, 0), 0);
    cr_assert_eq(r.status, 200);
    long long v = -1;
    char line[128];
    snprintf(line, sizeof line, "\n%s ", name);
    const char *at = strstr(r.body, line);
    if (at) v = atoll(at + strlen(line));
    tu_resp_free(&r);
    return v;
}

Test(erase_e2e, delete_through_the_server) {
    long st;
    json_t *d = req(&st, "POST", "/v1/signups", SIGNUP,
                    "{\"account\":\"" VICTIM "\",\"ts\":1790900000,\"ip\":\"203.0.113.77\","
                    "\"device\":\"dev-" VICTIM "\",\"payment\":\"tok-" VICTIM "\"}");
    cr_assert_eq(st, 200, "%s", json_dumps(d, 0));
    json_decref(d);
    cr_assert_eq(
        status_of("POST", "/v1/events", SIGNUP, "[{\"account\":\"" VICTIM "\",\"ts\":1790900500,\"type\":\"login\"}]"),
        200);
    d = req(&st, "POST", "/v1/rescore", ADMIN, NULL);
    cr_assert_eq(st, 202);
    json_t *job = wait_job(json_string_value(json_object_get(d, "job")));
    cr_assert_str_eq(json_string_value(json_object_get(job, "status")), "done", "%s", json_dumps(job, 0));
    json_decref(job);
    json_decref(d);
    cr_assert_eq(status_of("POST", "/v1/accounts/" VICTIM "/label", ANALYST,
                           "{\"label\":\"fraud\",\"note\":\"" VICTIM " looked odd\"}"),
                 201);
    int64_t node = sql_int("SELECT id FROM accounts WHERE ext = '" VICTIM "'");
    cr_assert_geq(node, 0);
    cr_assert_eq(sql_int("SELECT count(*) FROM events WHERE account = %lld", (long long)node), 2);
    cr_assert_eq(sql_int("SELECT count(*) FROM run_accounts WHERE account = %lld", (long long)node), 1);
    cr_assert_eq(
        sql_int("SELECT count(*) FROM labels WHERE target_kind = 'account' AND target = %lld", (long long)node), 1);
    cr_assert(in_files(VICTIM), "the id should be in the files before the erasure");
    char other[64];
    sql_text(other, sizeof other, "SELECT ext FROM accounts ORDER BY id LIMIT 1 OFFSET 17");
    int64_t accounts = sql_int("SELECT count(*) FROM accounts"), events = sql_int("SELECT count(*) FROM events");

    cr_assert_eq(status_of("DELETE", "/v1/accounts/" VICTIM, ANALYST, NULL), 403);
    cr_assert_eq(status_of("DELETE", "/v1/accounts/" VICTIM, SIGNUP, NULL), 403);
    cr_assert_eq(status_of("DELETE", "/v1/accounts/" VICTIM, NULL, NULL), 401);
    cr_assert_eq(status_of("DELETE", "/v1/accounts/no-such-account-here", ADMIN, NULL), 404);
    d = req(&st, "DELETE", "/v1/accounts/" VICTIM, ADMIN, NULL);
    cr_assert_eq(st, 200, "%s", json_dumps(d, 0));
    cr_expect(json_is_true(json_object_get(d, "erased")));
    cr_expect_eq(json_integer_value(json_object_get(d, "events")), 2);
    cr_expect_geq(json_integer_value(json_object_get(d, "attributes")), 3); /* its IP, device and card at least */
    cr_expect_eq(json_integer_value(json_object_get(d, "labels")), 1);
    cr_expect_geq(json_integer_value(json_object_get(d, "run_rows")), 1);
    json_decref(d);

    cr_assert(!in_files(VICTIM), "the id's bytes are still in the database files");
    cr_assert_eq(sql_int("SELECT count(*) FROM accounts"), accounts - 1);
    cr_assert_eq(sql_int("SELECT count(*) FROM events"), events - 2);
    cr_assert_eq(sql_int("SELECT count(*) FROM events WHERE account = %lld", (long long)node), 0);
    cr_assert_eq(sql_int("SELECT count(*) FROM run_accounts WHERE account = %lld", (long long)node), 0);
    cr_assert_eq(
        sql_int("SELECT count(*) FROM labels WHERE target_kind = 'account' AND target = %lld", (long long)node), 0);
    assert_integrity();

    /* the server goes on: lookups, signups, readiness; the account is unknown */
    cr_assert_eq(status_of("GET", "/v1/accounts/" VICTIM, ANALYST, NULL), 404);
    cr_assert_eq(status_of("DELETE", "/v1/accounts/" VICTIM, ADMIN, NULL), 404);
    char path[128];
    snprintf(path, sizeof path, "/v1/accounts/%s", other);
    cr_assert_eq(status_of("GET", path, ANALYST, NULL), 200);
    d = req(&st, "POST", "/v1/signups", SIGNUP,
            "{\"account\":\"after-erasure\",\"ts\":1790901000,\"ip\":\"203.0.113.78\",\"device\":\"dev-after\"}");
    cr_assert_eq(st, 200, "%s", json_dumps(d, 0));
    cr_expect(json_is_true(json_object_get(d, "new_account")));
    json_decref(d);
    cr_assert_eq(status_of("GET", "/v1/accounts/after-erasure", ANALYST, NULL), 200);
    cr_assert_eq(status_of("GET", "/readyz", NULL, NULL), 200);
    cr_assert(!in_files(VICTIM));
    cr_assert_eq(tu_serve_stop(&srv, SIGTERM), 0);
    cr_assert(!in_files(VICTIM));
}

/* A connection reading a snapshot from before the erasure holds the old
 * pages in the files (its snapshot needs them): the answer says the erasure
 * is durable and the WAL pending (202, not a failure), /metrics counts it,
 * and the next commit after the reader leaves takes the account's id and
 * its attributes' hashes out of every file. */
Test(erase_e2e, delete_while_another_connection_reads) {
    long st;
    json_t *d = req(&st, "POST", "/v1/signups", SIGNUP,
                    "{\"account\":\"" VICTIM "\",\"ts\":1790900000,\"ip\":\"198.51.100.201\","
                    "\"device\":\"dev-" VICTIM "\",\"payment\":\"tok-" VICTIM "\"}");
    cr_assert_eq(st, 200, "%s", json_dumps(d, 0));
    json_decref(d);
    int64_t node = sql_int("SELECT id FROM accounts WHERE ext = '" VICTIM "'");
    /* every attribute's hash, to find those the erasure takes (the ones
     * only the victim used) */
    int64_t nattr = sql_int("SELECT count(*) FROM attributes");
    unsigned char(*hash)[16] = calloc((size_t)nattr, 16);
    int64_t *ids = calloc((size_t)nattr, sizeof *ids);
    cr_assert(hash && ids);
    sqlite3_stmt *q = tu_sql_row(tu_db(), "SELECT id, hash FROM attributes ORDER BY id");
    for (int64_t i = 0; i < nattr; i++) {
        ids[i] = sqlite3_column_int64(q, 0);
        cr_assert_eq(sqlite3_column_bytes(q, 1), 16);
        memcpy(hash[i], sqlite3_column_blob(q, 1), 16);
        cr_assert_eq(sqlite3_step(q), i + 1 < nattr ? SQLITE_ROW : SQLITE_DONE);
    }
    tu_sql_done(q);
    cr_assert(in_files(VICTIM));

    sqlite3 *reader = NULL;
    cr_assert_eq(sqlite3_open_v2(tu_db(), &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM accounts;", NULL, NULL, NULL), SQLITE_OK);
    d = req(&st, "DELETE", "/v1/accounts/" VICTIM, ADMIN, NULL);
    cr_assert_eq(st, 202, "%s", json_dumps(d, 0));
    cr_expect(json_is_true(json_object_get(d, "erased")));
    json_t *pending = json_object_get(d, "pending");
    cr_expect(json_array_size(pending) == 1 && !strcmp(json_string_value(json_array_get(pending, 0)), "wal"), "%s",
              json_dumps(d, 0));
    int64_t erased = json_integer_value(json_object_get(d, "attributes"));
    cr_expect_geq(erased, 3, "its IP, device and card at least");
    json_decref(d);
    cr_expect_eq(gauge("ringwatch_erasures_pending"), 1);
    /* durable and gone for every new reader */
    cr_assert_eq(sql_int("SELECT count(*) FROM accounts WHERE ext = '" VICTIM "'"), 0);
    cr_assert_eq(sql_int("SELECT count(*) FROM events WHERE account = %lld", (long long)node), 0);
    cr_assert_eq(status_of("GET", "/v1/accounts/" VICTIM, ANALYST, NULL), 404);

    cr_assert_eq(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_close(reader), SQLITE_OK);
    cr_assert_eq(status_of("POST", "/v1/signups", SIGNUP,
                           "{\"account\":\"after-the-reader\",\"ts\":1790901000,\"ip\":\"192.0.2.202\"}"),
                 200);
    cr_expect_eq(gauge("ringwatch_erasures_pending"), 0);
    cr_assert(!in_files(VICTIM), "the id's bytes are still in the database files");
    int64_t gone = 0;
    for (int64_t i = 0; i < nattr; i++) {
        if (sql_int("SELECT count(*) FROM attributes WHERE id = %lld", (long long)ids[i])) continue;
        gone++;
        cr_assert(!bytes_in_files(hash[i], 16), "erased attribute %lld's hash is still in the files",
                  (long long)ids[i]);
    }
    cr_assert_eq(gone, erased);
    assert_integrity();
    cr_assert_eq(tu_serve_stop(&srv, SIGTERM), 0);
    cr_assert(!in_files(VICTIM));
    free(hash);
    free(ids);
}

Test(erase_e2e, cli_erase) {
    /* an account of a run, with several events */
    char acct[64];
    sql_text(acct, sizeof acct,
             "SELECT a.ext FROM accounts a JOIN run_accounts r ON r.account = a.id"
             " ORDER BY (SELECT count(*) FROM events v WHERE v.account = a.id) DESC, a.id LIMIT 1");
    cr_assert_eq(sql_int("SELECT count(*) FROM accounts WHERE instr(ext, '%s') > 0", acct), 1);
    int64_t accounts = sql_int("SELECT count(*) FROM accounts");
    cr_assert(in_files(acct));
    /* While the server holds the database, writing commands are refused
     * (it would keep the erased account in memory, or hand out the ids a
     * CLI ingest took) and nothing changes. */
    char *out = NULL;
    static const char *const writers[] = {"erase --db ringwatch.db '%s'", "retain --db ringwatch.db --days 1",
                                          "rescore --quiet --db ringwatch.db"};
    for (size_t i = 0; i < sizeof writers / sizeof writers[0]; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "cd '%%s' && '%%s' %s 2>&1", writers[i]);
        int rc = tu_run(&out, cmd, tu_dir(), tu_bin(), acct);
        cr_expect_eq(rc, 1, "%s: %s", writers[i], out);
        cr_expect(strstr(out, "in use by another ringwatch process (ringwatch serve, pid "), "%s: %s", writers[i], out);
        free(out);
    }
    cr_assert_eq(sql_int("SELECT count(*) FROM accounts"), accounts);
    cr_assert_eq(tu_serve_stop(&srv, SIGTERM), 0);
    int rc = tu_rw(&out, "erase --db ringwatch.db '%s'", acct);
    cr_assert_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "erase: 1 accounts"), "%s", out);
    free(out);
    cr_assert(!in_files(acct), "the id's bytes are still in the database files");
    cr_assert_eq(sql_int("SELECT count(*) FROM accounts"), accounts - 1);
    assert_integrity();
    rc = tu_rw(&out, "erase --db ringwatch.db '%s'", acct);
    cr_assert_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "no account"), "%s", out);
    free(out);
    rc = tu_rw(&out, "erase --db ringwatch.db");
    cr_assert_eq(rc, 2, "%s", out);
    free(out);
    /* the server loads the database with its gap and answers */
    start_server();
    char other[64], path[128];
    sql_text(other, sizeof other, "SELECT ext FROM accounts ORDER BY id DESC LIMIT 1");
    snprintf(path, sizeof path, "/v1/accounts/%s", other);
    cr_assert_eq(status_of("GET", path, ANALYST, NULL), 200);
    snprintf(path, sizeof path, "/v1/accounts/%s", acct);
    cr_assert_eq(status_of("GET", path, ANALYST, NULL), 404);
}

Test(erase_e2e, cli_retain) {
    cr_assert_eq(tu_serve_stop(&srv, SIGTERM), 0);
    int64_t end = sql_int("SELECT max(ts) FROM events"), cutoff = end - 7 * 86400;
    const char *last_seen = "coalesce((SELECT max(ts) FROM events v WHERE v.account = a.id), a.first_seen)";
    int64_t accounts = sql_int("SELECT count(*) FROM accounts");
    int64_t old = sql_int("SELECT count(*) FROM accounts a WHERE %s < %lld", last_seen, (long long)cutoff);
    cr_assert_gt(old, 0);
    cr_assert_lt(old, accounts);
    char gone[64], sql[512];
    snprintf(sql, sizeof sql, "SELECT ext FROM accounts a WHERE %s < %lld ORDER BY id DESC LIMIT 1", last_seen,
             (long long)cutoff);
    sql_text(gone, sizeof gone, sql);
    char *out = NULL;
    int rc = tu_rw(&out, "retain --db ringwatch.db --days 7 --now %lld", (long long)end);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    cr_assert_eq(sql_int("SELECT count(*) FROM accounts"), accounts - old);
    cr_assert_eq(sql_int("SELECT count(*) FROM accounts a WHERE %s < %lld", last_seen, (long long)cutoff), 0);
    cr_assert_eq(sql_int("SELECT count(*) FROM events WHERE ts < %lld", (long long)cutoff), 0);
    cr_assert_eq(sql_int("SELECT count(*) FROM attributes t WHERE kind != 4 AND NOT EXISTS (SELECT 1 FROM events v"
                         " WHERE v.ip = t.id OR v.device = t.id OR v.payment = t.id)"),
                 0);
    cr_assert_eq(sql_int("SELECT count(*) FROM run_accounts WHERE account NOT IN (SELECT id FROM accounts)"), 0);
    cr_assert_eq(sql_int("SELECT count(*) FROM accounts WHERE instr(ext, '%s') > 0", gone), 0);
    cr_assert(!in_files(gone), "an aged-out id's bytes are still in the database files");
    assert_integrity();
    rc = tu_rw(&out, "retain --db ringwatch.db --days 7 --now %lld", (long long)end);
    cr_assert_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "retain: 0 accounts, 0 events"), "%s", out);
    free(out);
    rc = tu_rw(&out, "retain --db ringwatch.db");
    cr_assert_eq(rc, 2, "%s", out);
    free(out);
    rc = tu_rw(&out, "stats --db ringwatch.db && '%s' rescore --quiet", tu_bin());
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    /* a run over the graph with its gaps has rows for the nodes that are, only */
    cr_assert_eq(sql_int("SELECT count(*) FROM run_accounts WHERE run = (SELECT max(id) FROM runs)"), accounts - old);
    cr_assert_eq(sql_int("SELECT count(*) FROM run_attributes WHERE attribute NOT IN (SELECT id FROM attributes)"), 0);
    start_server();
    char kept[64], path[128];
    sql_text(kept, sizeof kept, "SELECT ext FROM accounts ORDER BY id LIMIT 1");
    snprintf(path, sizeof path, "/v1/accounts/%s", kept);
    cr_assert_eq(status_of("GET", path, ANALYST, NULL), 200);
    cr_assert_eq(status_of("POST", "/v1/signups", SIGNUP, "{\"account\":\"new-after-retention\",\"ts\":1790999999}"),
                 200);
}
