/* End to end: the database's trust in its key file and the modes of its
 * files. A database keeps its hashing key's check value, so every command
 * that opens it with another database's key file (ingest, erase, retain,
 * replay, stats, serve) exits non-zero before writing anything, naming both
 * files; a database written before the check value existed takes its key's
 * on the first open with it. Database, WAL, shared memory and key files are
 * created 0600 under umask 022. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "tu_sql.h"

static char *dir;
static tu_server srv;

#define RW(out, ...) tu_run(out, "cd '%s' && '%s' " __VA_ARGS__)

static void setup(void) {
    dir = tu_tmpdir();
    cr_assert(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/rw.ini", dir);
    const char ini[] = "listen = 127.0.0.1:0\nthreads = 2\ntoken_admin = keys-admin-token-0123456789\n";
    cr_assert_eq(tu_write_file(path, ini, sizeof ini - 1), 0);
    cr_assert_eq(chmod(path, 0600), 0); /* it holds a token: serve refuses it otherwise */
    char *out = NULL;
    int rc = RW(&out,
                "simulate --accounts 400 --seed 5 --out ev.jsonl --truth truth.csv > /dev/null"
                " && head -n 600 ev.jsonl > first.jsonl && tail -n +601 ev.jsonl > rest.jsonl"
                " && '%s' ingest --quiet --db a.db first.jsonl && '%s' ingest --quiet --db b.db ev.jsonl",
                dir, tu_bin(), tu_bin(), tu_bin());
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
}

static void teardown(void) {
    if (srv.pid) tu_serve_stop(&srv, SIGKILL);
    tu_rmtree(dir);
    free(dir);
}
TestSuite(keys, .init = setup, .fini = teardown, .timeout = 180);

static char *path_of(const char *name) {
    static char p[4][600];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
    return p[i];
}

static char *read_all(const char *name, size_t *len) {
    char *b = tu_read_file(path_of(name), len);
    cr_assert(b, "cannot read %s", name);
    return b;
}

static void expect_refused(int rc, const char *out, const char *what) {
    cr_expect_eq(rc, 1, "%s: exit %d: %s", what, rc, out);
    cr_expect(out && strstr(out, "key file b.db.key is not the key of database a.db") && strstr(out, "a.db.key"),
              "%s: %s", what, out);
}

Test(keys, another_databases_key_file_is_refused_before_anything_is_written) {
    int64_t attributes = tu_sql_int(path_of("a.db"), -1, "SELECT count(*) FROM attributes");
    int64_t events = tu_sql_int(path_of("a.db"), -1, "SELECT count(*) FROM events");
    char acct[64];
    tu_sql_text(path_of("a.db"), acct, sizeof acct, "SELECT ext FROM accounts ORDER BY id LIMIT 1");
    size_t len = 0;
    char *before = read_all("a.db", &len);
    struct stat sb;
    cr_assert(stat(path_of("a.db-wal"), &sb) != 0 || sb.st_size == 0, "a clean close leaves no WAL");

    static const char *const cmds[] = {
        "ingest --quiet --db a.db --key-file b.db.key rest.jsonl",
        "erase --db a.db --key-file b.db.key '%s'",
        "retain --db a.db --key-file b.db.key --days 1",
        "replay --db a.db --key-file b.db.key rest.jsonl --out decisions.csv --rescore-at off",
        "stats --db a.db --key-file b.db.key",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char cmd[512], *out = NULL;
        snprintf(cmd, sizeof cmd, "cd '%%s' && '%%s' %s 2>&1", cmds[i]);
        int rc = tu_run(&out, cmd, dir, tu_bin(), acct);
        expect_refused(rc, out, cmds[i]);
        free(out);
    }
    char *out = NULL;
    int rc = tu_run(&out, "cd '%s' && timeout 60 '%s' serve --config rw.ini --db a.db --key-file b.db.key 2>&1", dir,
                    tu_bin());
    expect_refused(rc, out, "serve");
    cr_log_info("serve with another key: exit %d: %s", rc, out ? out : "");
    free(out);

    size_t now_len = 0;
    char *now = read_all("a.db", &now_len);
    cr_expect(now_len == len && memcmp(now, before, len) == 0, "a.db was modified");
    free(now);
    free(before);
    cr_expect(stat(path_of("a.db-wal"), &sb) != 0 || sb.st_size == 0, "a WAL was written");
    cr_expect_eq(tu_sql_int(path_of("a.db"), -1, "SELECT count(*) FROM attributes"), attributes);
    cr_expect_eq(tu_sql_int(path_of("a.db"), -1, "SELECT count(*) FROM events"), events);

    /* its own key goes on as before */
    rc = RW(&out, "ingest --quiet --db a.db rest.jsonl 2>&1", dir, tu_bin());
    cr_expect_eq(rc, 0, "%s", out);
    free(out);
    cr_expect_gt(tu_sql_int(path_of("a.db"), -1, "SELECT count(*) FROM events"), events);
}

Test(keys, a_database_from_before_the_check_value_takes_its_keys_on_first_open) {
    char check[80];
    tu_sql_text(path_of("a.db"), check, sizeof check, "SELECT value FROM meta WHERE key = 'key_check'");
    cr_assert_eq(strlen(check), 64, "a hex check value: %s", check);
    /* A schema 5 database: no check value (the key itself is never stored). */
    size_t klen = 0;
    char *key = read_all("a.db.key", &klen);
    size_t dlen = 0;
    char *db = read_all("a.db", &dlen);
    cr_expect(!tu_contains(db, dlen, key, klen), "the key is in the database");
    free(db);
    free(key);
    cr_assert_eq(tu_run(NULL,
                        "sqlite3 '%s' \"DELETE FROM meta WHERE key = 'key_check';"
                        " DELETE FROM schema_version WHERE version >= 6;"
                        " DROP TABLE signup_features; DROP TABLE online_models;\"",
                        path_of("a.db")),
                 0);
    char *out = NULL;
    int rc = RW(&out, "ingest --quiet --db a.db rest.jsonl 2>&1", dir, tu_bin());
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    char again[80];
    tu_sql_text(path_of("a.db"), again, sizeof again, "SELECT value FROM meta WHERE key = 'key_check'");
    cr_expect_str_eq(again, check);
    cr_expect_geq(tu_sql_int(path_of("a.db"), -1, "SELECT max(version) FROM schema_version"),
                  6); /* past the key check */
    int64_t attributes = tu_sql_int(path_of("a.db"), -1, "SELECT count(*) FROM attributes");
    rc = RW(&out, "ingest --quiet --db a.db --key-file b.db.key first.jsonl 2>&1", dir, tu_bin());
    expect_refused(rc, out, "ingest after the migration");
    free(out);
    cr_expect_eq(tu_sql_int(path_of("a.db"), -1, "SELECT count(*) FROM attributes"), attributes);
}

static unsigned mode_of(const char *name) {
    struct stat sb;
    cr_assert_eq(stat(path_of(name), &sb), 0, "%s does not exist", name);
    return (unsigned)(sb.st_mode & 0777);
}

Test(keys, files_are_created_private_whatever_the_umask) {
    mode_t was = umask(022);
    char *out = NULL;
    int rc = RW(&out, "ingest --quiet --db c.db first.jsonl 2>&1", dir, tu_bin());
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    int started = tu_serve_start(&srv, dir, "--config rw.ini --db c.db");
    umask(was);
    cr_assert_eq(started, 0, "the server did not start");
    static const char *const files[] = {"c.db", "c.db-wal", "c.db-shm", "c.db.key", "c.db.lock"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        cr_expect_eq(mode_of(files[i]), 0600, "%s has mode %03o", files[i], mode_of(files[i]));
    cr_assert_eq(tu_serve_stop(&srv, SIGTERM), 0);
}
