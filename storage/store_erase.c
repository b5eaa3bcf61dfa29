/* Erasure and retention: deleting nodes and events so that no copy of an
 * erased identifier stays in the database's files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_int.h"

/* How long an erasure waits for readers before it answers with its
 * truncation pending: a reader that is just finishing is waited for, one
 * that holds its snapshot open is not. */
#define ERASE_READER_WAIT_MS 500

/* Creates temp.name (empty) and fills it with ids. */
static rw_status temp_ids(rw_store *s, const char *name, const uint32_t *ids, size_t n, rw_err *err) {
    char sql[160];
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS temp.%s; CREATE TEMP TABLE %s(id INTEGER PRIMARY KEY);", name,
             name);
    rw_status st = rw_db_exec(s, sql, err);
    if (st != RW_OK) return st;
    snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO temp.%s(id) VALUES (?1)", name);
    sqlite3_stmt *ins = NULL;
    st = rw_db_prepare(s, &ins, sql, err);
    for (size_t i = 0; st == RW_OK && i < n; i++) {
        sqlite3_bind_int64(ins, 1, ids[i]);
        st = rw_db_step_insert(s, ins, "erasure: collecting ids", err);
    }
    sqlite3_finalize(ins);
    return st;
}

/* Runs one statement with ?1 = v (when it has one); adds the rows it changed
 * to *changes (may be NULL). */
static rw_status exec_changes(rw_store *s, const char *sql, int64_t v, uint64_t *changes, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = rw_db_prepare(s, &st, sql, err);
    if (res != RW_OK) return res;
    if (sqlite3_bind_parameter_count(st) > 0) sqlite3_bind_int64(st, 1, v);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        res = rw_db_fail(s, err, rc, sql);
    else if (changes)
        *changes += (uint64_t)sqlite3_changes64(s->db);
    sqlite3_finalize(st);
    return res;
}

/* The ids of every run (caller frees *out). */
static rw_status run_ids(rw_store *s, int64_t **out, size_t *n, rw_err *err) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    /* Unpublished runs too: a run a crash left half-written may hold the
     * erased nodes' rows. */
    rw_status res = rw_db_prepare(s, &st, "SELECT id FROM runs UNION SELECT id FROM run_writes ORDER BY id", err);
    if (res != RW_OK) return res;
    size_t cap = 0;
    int rc, have;
    while ((have = rw_db_next_row(st, &rc)) > 0) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            int64_t *t = realloc(*out, cap * sizeof *t);
            if (!t) {
                res = rw_fail(err, RW_ERR_NOMEM, "out of memory");
                break;
            }
            *out = t;
        }
        (*out)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    if (res == RW_OK && have < 0) res = rw_db_fail(s, err, rc, "reading runs");
    sqlite3_finalize(st);
    return res;
}

/* An attribute is erased only when no event names it any more, and a
 * subnet only when no IP has it as parent: the caller worked that out from
 * the graph; this checks it, since a dangling id would make the database
 * unloadable. */
static rw_status check_dangling(rw_store *s, rw_err *err) {
    int64_t dangling = 0;
    rw_status st = rw_db_query_int(s,
                                   "SELECT count(*) FROM events WHERE ip IN (SELECT id FROM temp.rw_erase_attr)"
                                   " OR device IN (SELECT id FROM temp.rw_erase_attr)"
                                   " OR payment IN (SELECT id FROM temp.rw_erase_attr)",
                                   &dangling, err);
    if (st == RW_OK && dangling == 0)
        st = rw_db_query_int(s,
                             "SELECT count(*) FROM attributes WHERE parent IN (SELECT id FROM temp.rw_erase_attr)"
                             " AND id NOT IN (SELECT id FROM temp.rw_erase_attr)",
                             &dangling, err);
    if (st == RW_OK && dangling)
        return rw_fail(err, RW_ERR_INTERNAL, "erasure: %lld rows would still name an erased node; nothing was erased",
                       (long long)dangling);
    return st;
}

/* The erased nodes' rows in every run. Per run, so each deletion is a
 * primary-key lookup; members first, found through the rows that name their
 * cluster. */
static rw_status erase_run_rows(rw_store *s, rw_store_erased *n, rw_err *err) {
    int64_t *runs = NULL;
    size_t nruns = 0;
    rw_status st = run_ids(s, &runs, &nruns, err);
    for (size_t i = 0; st == RW_OK && i < nruns; i++) {
        st = exec_changes(s,
                          "DELETE FROM run_members WHERE run = ?1 AND (cluster, node) IN ("
                          "SELECT cluster, account FROM run_accounts WHERE run = ?1 AND cluster != 0"
                          " AND account IN (SELECT id FROM temp.rw_erase_acc) UNION ALL"
                          " SELECT cluster, attribute FROM run_attributes WHERE run = ?1"
                          " AND attribute IN (SELECT id FROM temp.rw_erase_attr))",
                          runs[i], NULL, err);
        if (st == RW_OK)
            st = exec_changes(
                s, "DELETE FROM run_accounts WHERE run = ?1 AND account IN (SELECT id FROM temp.rw_erase_acc)", runs[i],
                &n->run_rows, err);
        if (st == RW_OK)
            st = exec_changes(
                s, "DELETE FROM run_attributes WHERE run = ?1 AND attribute IN (SELECT id FROM temp.rw_erase_attr)",
                runs[i], &n->run_rows, err);
    }
    free(runs);
    return st;
}

/* The deletions, inside the open transaction. */
static rw_status erase_rows(rw_store *s, int64_t cutoff, uint32_t next_node, rw_store_erased *n, rw_err *err) {
    /* One scan of the log for the retention cutoff in any case; the index
     * on events.account serves the reads of a single account. */
    rw_status st = exec_changes(s, "DELETE FROM events WHERE ts < ?1 OR account IN (SELECT id FROM temp.rw_erase_acc)",
                                cutoff, &n->events, err);
    if (st == RW_OK) st = check_dangling(s, err);
    if (st == RW_OK) st = erase_run_rows(s, n, err);
    if (st == RW_OK) st = exec_changes(s, RW_STORE_LEARN_ERASE, cutoff, &n->feature_rows, err);
    if (st == RW_OK)
        st = exec_changes(s,
                          "DELETE FROM labels WHERE target_kind = 'account'"
                          " AND target IN (SELECT id FROM temp.rw_erase_acc)",
                          0, &n->labels, err);
    if (st == RW_OK)
        st = exec_changes(s, "DELETE FROM accounts WHERE id IN (SELECT id FROM temp.rw_erase_acc)", 0, &n->accounts,
                          err);
    if (st == RW_OK)
        st = exec_changes(s, "DELETE FROM attributes WHERE id IN (SELECT id FROM temp.rw_erase_attr)", 0,
                          &n->attributes, err);
    /* secure_delete zeroes what a deletion frees, but a page split made
     * earlier may have left an old copy of a row in another page's free
     * space. Rewriting the tables that hold account ids (labels: a note may
     * name one) into pages zeroed on allocation leaves none. */
    if (st == RW_OK && (n->accounts || n->labels))
        st = rw_db_exec(
            s,
            "CREATE TEMP TABLE rw_keep AS SELECT id, ext, first_seen FROM accounts; DELETE FROM accounts;"
            "INSERT INTO accounts(id, ext, first_seen) SELECT id, ext, first_seen FROM temp.rw_keep ORDER BY id;"
            "DROP TABLE temp.rw_keep;"
            "CREATE TEMP TABLE rw_keep AS SELECT * FROM labels; DELETE FROM labels;"
            "INSERT INTO labels SELECT * FROM temp.rw_keep ORDER BY id; DROP TABLE temp.rw_keep;",
            err);
    if (st == RW_OK)
        st = exec_changes(s,
                          "INSERT INTO meta(key, value) VALUES ('next_node', ?1)"
                          " ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
                          next_node, NULL, err);
    /* Until the WAL is truncated: the next open truncates it if we stop first. */
    if (st == RW_OK) st = rw_db_exec(s, "INSERT OR REPLACE INTO meta(key, value) VALUES ('wal_scrub', 1)", err);
    if (st == RW_OK) st = rw_db_exec(s, "DROP TABLE temp.rw_erase_acc; DROP TABLE temp.rw_erase_attr;", err);
    return st;
}

rw_status rw_store_erase(rw_store *s, const uint32_t *accounts, size_t naccounts, const uint32_t *attributes,
                         size_t nattributes, int64_t cutoff, uint32_t next_node, rw_store_erased *out, rw_err *err) {
    memset(out, 0, sizeof *out);
    if (s->readonly) return rw_fail(err, RW_ERR_PERM, "the database is open read-only");
    int64_t secure_was = 0;
    rw_status st = rw_db_query_int(s, "PRAGMA secure_delete", &secure_was, err);
    if (st == RW_OK) st = rw_db_exec(s, "PRAGMA secure_delete=ON", err);
    if (st != RW_OK) return st;
    rw_store_erased n = {0};
    st = rw_store_begin(s, err);
    if (st == RW_OK) st = temp_ids(s, "rw_erase_acc", accounts, naccounts, err);
    if (st == RW_OK) st = temp_ids(s, "rw_erase_attr", attributes, nattributes, err);
    if (st == RW_OK) st = erase_rows(s, cutoff, next_node, &n, err);
    if (st == RW_OK) {
        st = rw_store_commit(s, 1, err);
    } else {
        rw_err_prefix(err, "erasure: ");
        rw_store_rollback(s);
        rw_db_exec(s, "DROP TABLE IF EXISTS temp.rw_erase_acc; DROP TABLE IF EXISTS temp.rw_erase_attr;", NULL);
    }
    rw_db_exec(s, secure_was ? "PRAGMA secure_delete=ON" : "PRAGMA secure_delete=OFF", NULL);
    if (st != RW_OK) return st;
    *out = n;
    out->committed = 1;
    /* The WAL and the database file still hold the pages as they were
     * before: copy the new ones into the file and truncate the WAL to
     * nothing. A reader of an older snapshot holds that off; then it is
     * pending, and retried after every later commit and checkpoint. */
    out->wal_pending = !rw_wal_scrub(s, ERASE_READER_WAIT_MS);
    if (out->wal_pending) __atomic_fetch_add(&s->scrub_pending, 1, __ATOMIC_RELEASE);
    return RW_OK;
}

rw_status rw_store_next_node(rw_store *s, uint32_t *out, rw_err *err) {
    int64_t v = 0;
    rw_status st = rw_db_query_int(s, "SELECT coalesce(max(value), 0) FROM meta WHERE key = 'next_node'", &v, err);
    *out = v < 0 ? 0 : v > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    return st;
}
