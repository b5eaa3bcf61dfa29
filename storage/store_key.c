/* The key check: the database keeps its hashing key's check value (never
 * the key) in meta, so that a key file of another database is refused before
 * anything is hashed with it. Hashes made with two keys would split every
 * identity in two for good. */
#include <stdio.h>
#include <string.h>

#include "storage_int.h"

static void to_hex(const uint8_t *b, size_t n, char *out) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = 0;
}

/* The stored check value into out (hex, "" when there is none). */
static rw_status stored_check(rw_store *s, char out[2 * RW_KEY_CHECK_BYTES + 1], rw_err *err) {
    out[0] = 0;
    sqlite3_stmt *st = NULL;
    rw_status res = rw_db_prepare(s, &st, "SELECT value FROM meta WHERE key = 'key_check' AND value IS NOT NULL", err);
    if (res != RW_OK) return res;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        snprintf(out, 2 * RW_KEY_CHECK_BYTES + 1, "%s", v ? v : "");
    } else if (rc != SQLITE_DONE) {
        res = rw_db_fail(s, err, rc, "reading the key check value");
    }
    sqlite3_finalize(st);
    return res;
}

rw_status rw_key_verify(rw_store *s, const rw_store_key *key, int *stored, rw_err *err) {
    char have[2 * RW_KEY_CHECK_BYTES + 1], want[2 * RW_KEY_CHECK_BYTES + 1];
    *stored = 0;
    rw_status st = stored_check(s, have, err);
    if (st != RW_OK || !have[0]) return st;
    *stored = 1;
    to_hex(key->check, RW_KEY_CHECK_BYTES, want);
    if (strcmp(have, want) == 0) return RW_OK;
    return rw_fail(err, RW_ERR_PERM,
                   "key file %s is not the key of database %s: its attributes were hashed with another key, and "
                   "hashing with this one would split every identity in two. Nothing was written. Give the "
                   "database's own key file (--key-file; by default %s.key beside it), or use a new database "
                   "for this key",
                   key->path ? key->path : "(given)", s->path, s->path);
}

rw_status rw_key_write(rw_store *s, rw_err *err) {
    char hex[2 * RW_KEY_CHECK_BYTES + 1], sql[160];
    to_hex(s->key_check, RW_KEY_CHECK_BYTES, hex);
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO meta(key, value) VALUES ('key_check', '%s')", hex);
    rw_status st = rw_db_exec(s, sql, err);
    if (st == RW_OK) s->key_state = RW_KEY_IN_TXN;
    return st;
}

/* A database without a check value takes key's: at once when it holds
 * hashed attributes already (written by a build that kept none), else with
 * its first attribute (rw_store_put_attribute). */
rw_status rw_store_use_key(rw_store *s, const rw_store_key *key, rw_err *err) {
    int stored = 0;
    rw_status st = rw_key_verify(s, key, &stored, err);
    if (st != RW_OK || stored || s->readonly) return st;
    memcpy(s->key_check, key->check, RW_KEY_CHECK_BYTES);
    int64_t hashed = 0;
    st = rw_db_query_int(s, "SELECT EXISTS (SELECT 1 FROM attributes)", &hashed, err);
    if (st != RW_OK) return st;
    s->key_state = RW_KEY_PENDING;
    if (!hashed) return RW_OK;
    st = rw_store_begin(s, err);
    if (st == RW_OK) st = rw_key_write(s, err);
    if (st == RW_OK) return rw_store_commit(s, 1, err);
    rw_store_rollback(s);
    return st;
}
