/* storage: the key check value (written with the first attribute, written
 * again after a rollback, compared before anything is written, another key
 * refused naming both files) and an erasure beside a reader of an older
 * snapshot (durable at once, its truncation pending until the reader leaves
 * and the next commit). */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"
#include "testutil.h"
#include "tu_sql.h"

static char *dir;
static char path[512];

static void setup(void) {
    dir = tu_tmpdir();
    snprintf(path, sizeof path, "%s/t.db", dir);
}
static void teardown(void) {
    tu_rmtree(dir);
    free(dir);
}
TestSuite(trust, .init = setup, .fini = teardown);

static rw_store_key key_of(uint8_t fill, const char *file) {
    rw_store_key k = {.path = file};
    memset(k.check, fill, sizeof k.check);
    return k;
}

static int64_t stored_checks(void) {
    return tu_sql_int(path, -1, "SELECT count(*) FROM meta WHERE key = 'key_check' AND value IS NOT NULL");
}

static void put_attribute(rw_store *s, uint32_t id, int commit) {
    rw_err err = {{0}};
    rw_hash h = {{(uint8_t)id, 7}};
    cr_assert_eq(rw_store_begin(s, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_attribute(s, id, RW_KIND_DEVICE, &h, RW_STORE_NONE, 100, &err), RW_OK, "%s", err.msg);
    if (commit)
        cr_assert_eq(rw_store_commit(s, 0, &err), RW_OK, "%s", err.msg);
    else
        rw_store_rollback(s);
}

Test(trust, key_check_written_with_the_first_attribute_and_compared_before_writing) {
    rw_store_key k1 = key_of(1, "one.key"), k2 = key_of(2, "two.key");
    rw_store *s = NULL;
    rw_err err = {{0}};
    cr_assert_eq(rw_store_open_keyed(&s, path, 0, &k1, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(stored_checks(), 0, "nothing hashed yet");
    put_attribute(s, 0, 0);
    cr_expect_eq(stored_checks(), 0, "rolled back with its attribute");
    put_attribute(s, 0, 1);
    cr_expect_eq(stored_checks(), 1);
    char hex[80];
    tu_sql_text(path, hex, sizeof hex, "SELECT value FROM meta WHERE key = 'key_check'");
    cr_expect_str_eq(hex, "0101010101010101010101010101010101010101010101010101010101010101");
    rw_store_close(s);

    int64_t version = tu_sql_int(path, -1, "SELECT count(*) FROM schema_version");
    cr_assert_eq(rw_store_open_keyed(&s, path, 0, &k2, &err), RW_ERR_PERM);
    cr_expect(strstr(err.msg, "key file two.key is not the key of database") && strstr(err.msg, path), "%s", err.msg);
    cr_assert_eq(rw_store_open_keyed(&s, path, RW_STORE_READONLY, &k2, &err), RW_ERR_PERM);
    /* refused before a migration too: an older schema stays as it was */
    cr_assert_eq(tu_run(NULL,
                        "sqlite3 '%s' 'DELETE FROM schema_version WHERE version >= 6;"
                        " DROP TABLE signup_features; DROP TABLE online_models'",
                        path),
                 0);
    cr_assert_eq(rw_store_open_keyed(&s, path, 0, &k2, &err), RW_ERR_PERM);
    cr_expect_eq(tu_sql_int(path, -1, "SELECT count(*) FROM schema_version"), 5);
    cr_assert_eq(rw_store_open_keyed(&s, path, 0, &k1, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(tu_sql_int(path, -1, "SELECT count(*) FROM schema_version"), version);
    /* a key given after the open is compared the same way */
    cr_expect_eq(rw_store_use_key(s, &k2, &err), RW_ERR_PERM);
    cr_expect_eq(rw_store_use_key(s, &k1, &err), RW_OK, "%s", err.msg);
    rw_store_close(s);
}

Test(trust, a_database_with_hashes_and_no_check_value_takes_the_first_key_at_once) {
    rw_store *s = NULL;
    rw_err err = {{0}};
    cr_assert_eq(rw_store_open(&s, path, 0, &err), RW_OK, "%s", err.msg);
    put_attribute(s, 0, 1);
    rw_store_close(s);
    cr_expect_eq(stored_checks(), 0);
    rw_store_key k1 = key_of(1, "one.key"), k2 = key_of(2, "two.key");
    cr_assert_eq(rw_store_open_keyed(&s, path, 0, &k1, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(stored_checks(), 1);
    rw_store_close(s);
    cr_expect_eq(rw_store_open_keyed(&s, path, 0, &k2, &err), RW_ERR_PERM);
}

/* Whether the bytes of needle occur in the database or its WAL. */
static int in_files(const char *needle) {
    static const char *const suffix[] = {"", "-wal"};
    for (size_t i = 0; i < 2; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        size_t len = 0;
        char *data = tu_read_file(p, &len);
        int hit = data && tu_contains(data, len, needle, strlen(needle));
        free(data);
        if (hit) return 1;
    }
    return 0;
}

Test(trust, erasure_beside_a_reader_is_durable_and_pending_until_the_next_commit) {
    rw_store *s = NULL;
    rw_err err = {{0}};
    cr_assert_eq(rw_store_open(&s, path, 0, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_begin(s, &err), RW_OK);
    for (uint32_t i = 0; i < 50; i++) {
        char ext[32];
        int n = snprintf(ext, sizeof ext, "erasable-account-%02u", i);
        cr_assert_eq(rw_store_put_account(s, i, ext, (size_t)n, 100, &err), RW_OK, "%s", err.msg);
    }
    cr_assert_eq(rw_store_commit(s, 1, &err), RW_OK);
    cr_assert(in_files("erasable-account-17"));

    sqlite3 *reader = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM accounts;", NULL, NULL, NULL), SQLITE_OK);
    uint32_t victim = 17;
    rw_store_erased n;
    cr_assert_eq(rw_store_erase(s, &victim, 1, NULL, 0, INT64_MIN, 50, &n, &err), RW_OK, "%s", err.msg);
    cr_expect(n.committed && n.wal_pending && n.accounts == 1);
    cr_expect_eq(rw_store_erasure_pending(s), 1);
    cr_expect_eq(tu_sql_int(path, -1, "SELECT count(*) FROM accounts WHERE id = 17"), 0);

    /* while the reader stays, commits try and leave it pending */
    cr_assert_eq(rw_store_begin(s, &err), RW_OK);
    cr_assert_eq(rw_store_probe(s, &err), RW_OK);
    cr_assert_eq(rw_store_commit(s, 0, &err), RW_OK);
    cr_expect_eq(rw_store_erasure_pending(s), 1);

    cr_assert_eq(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(reader);
    cr_assert_eq(rw_store_begin(s, &err), RW_OK);
    cr_assert_eq(rw_store_probe(s, &err), RW_OK);
    cr_assert_eq(rw_store_commit(s, 0, &err), RW_OK);
    cr_expect_eq(rw_store_erasure_pending(s), 0);
    cr_expect(!in_files("erasable-account-17"), "the erased id is still in the files");
    cr_expect(in_files("erasable-account-18"));
    cr_expect_eq(tu_sql_int(path, -1, "SELECT count(*) FROM meta WHERE key = 'wal_scrub'"), 0);
    rw_store_close(s);
}
