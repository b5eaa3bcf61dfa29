/* storage: what its source files share and nothing outside storage/ sees:
 * the store's fields and the SQL helpers over its connection. Each
 * store_*.c includes only this header (which includes storage.h). */
#ifndef RW_STORAGE_INT_H
#define RW_STORAGE_INT_H

#include <sqlite3.h>

#include "storage.h"

enum { ST_ACCOUNT, ST_ATTRIBUTE, ST_EVENT, ST_COUNT };

/* Where the key check value stands (store_key.c). */
enum {
    RW_KEY_NONE,    /* stored already, or no key given */
    RW_KEY_PENDING, /* to be written with the first attribute */
    RW_KEY_IN_TXN,  /* written in the open transaction: pending again if it rolls back */
};

struct rw_store {
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
    /* Inserts into run accounts, attributes, members and clusters (store_runs.c's many[]) of one row and of
     * RW_STORE_PUT_MANY rows: prepared on first use. */
    sqlite3_stmt *run_stmt[4], *run_many[4];
    sqlite3_stmt *featlog_stmt; /* the feature log's insert, run by every group commit: prepared on first use */
    int in_txn;
    int readonly;
    int sync_full; /* every commit is fsynced (synchronous=FULL) */
    int run_lock;  /* fd of DB.runlock while this handle holds its lock (a run is being written), else -1 */
    char *run_lock_path;
    char *path;
    int unsynced;      /* the open transaction commits without an fsync (rw_store_begin_unsynced) */
    int no_autockpt;   /* wal_autocheckpoint is off while a run is written (rw_store_run_checkpoint) */
    sqlite3 *ckpt;     /* the run writer's own connection for checkpoints (opened on first use) */
    int bg_ckpt;       /* checkpoints are another thread's (rw_store_background_checkpoints) */
    int wal_pages;     /* pages in the WAL after this connection's last commit (atomic: read by others) */
    int scrub_pending; /* erasures whose WAL truncation is still to be done (atomic: read by others) */
    int key_state;     /* RW_KEY_* */
    uint8_t key_check[RW_KEY_CHECK_BYTES];
};

struct rw_checkpointer {
    sqlite3 *db;
    int *scrub; /* its store's scrub_pending */
};

/* How long a statement waits for another connection's lock. */
#define RW_STORE_BUSY_MS 10000

/* ---- the learning tables (store_learn.c) ----------------------------------- */

/* The features each signup was scored on, as logged at the signup (f: a
 * bit mask of the nonzero features then their values as doubles), and the
 * signup models the deployment fitted, with their shadow trials. Indexed by
 * time: the nightly job reads the last days and drops older rows. */
#define RW_STORE_LEARN_SCHEMA                                                                                          \
    "CREATE TABLE signup_features(ts INTEGER NOT NULL, account INTEGER NOT NULL, model INTEGER NOT NULL,"              \
    "  score REAL NOT NULL, shadow_model INTEGER NOT NULL, shadow REAL, f BLOB NOT NULL);"                             \
    "CREATE INDEX signup_features_by_ts ON signup_features(ts);"                                                       \
    "CREATE TABLE online_models(version INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, state TEXT NOT NULL,"        \
    "  train_from INTEGER NOT NULL, train_to INTEGER NOT NULL, positives INTEGER NOT NULL,"                            \
    "  negatives INTEGER NOT NULL, validation TEXT NOT NULL, shadow_from INTEGER, decided_at INTEGER,"                 \
    "  decision TEXT, replaced INTEGER, model TEXT NOT NULL);"

/* Erasure (?1: the retention cutoff): the logged features of erased
 * accounts and of signups older than the cutoff. */
#define RW_STORE_LEARN_ERASE                                                                                           \
    "DELETE FROM signup_features WHERE ts < ?1 OR account IN (SELECT id FROM temp.rw_erase_acc)"

/* ---- SQL helpers (store_db.c) ---------------------------------------------- */

/* Maps an SQLite result code to our status. */
rw_status rw_db_status(int rc);
/* Fails with what, SQLite's message and what an operator does about it. */
rw_status rw_db_fail(rw_store *s, rw_err *err, int rc, const char *what);
/* Runs one or more statements without results. */
rw_status rw_db_exec(rw_store *s, const char *sql, rw_err *err);
/* The first column of the first row of sql (0 when there is none). */
rw_status rw_db_query_int(rw_store *s, const char *sql, int64_t *out, rw_err *err);
/* ALTER TABLE table ADD COLUMN column decl, unless the table has it (a
 * migration step a branch may have numbered differently). */
rw_status rw_db_add_column(rw_store *s, const char *table, const char *column, const char *decl, rw_err *err);
/* Prepares a statement used once per run or query, not per event. */
rw_status rw_db_prepare(rw_store *s, sqlite3_stmt **st, const char *sql, rw_err *err);

/* Steps an insert (or another statement without rows) and resets it. */
static inline rw_status rw_db_step_insert(rw_store *s, sqlite3_stmt *st, const char *what, rw_err *err) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return rw_db_fail(s, err, rc, what);
    return RW_OK;
}

/* Steps a cursor; returns 1 on a row, 0 at the end, -1 on error (rc set). */
static inline int rw_db_next_row(sqlite3_stmt *st, int *rc) {
    *rc = sqlite3_step(st);
    if (*rc == SQLITE_ROW) return 1;
    if (*rc == SQLITE_DONE) return 0;
    return -1;
}

/* ---- the parts rw_store_open puts together --------------------------------- */

/* store_schema.c: checks the file is ours (or empty), then key (when not
 * NULL) against its check value, and only then brings its schema up to
 * date. */
/* The audit table and the labels' author column, added when missing
 * (store_audit.c; the migration's step). */
rw_status rw_audit_columns(rw_store *s, rw_err *err);
rw_status rw_schema_migrate(rw_store *s, const char *path, const rw_store_key *key, rw_err *err);
/* store_key.c: compares key with the database's check value (RW_ERR_PERM,
 * naming both files, on a mismatch); *stored 0 when it has none. Reads
 * only. */
rw_status rw_key_verify(rw_store *s, const rw_store_key *key, int *stored, rw_err *err);
/* store_key.c: writes the check value kept in s, in the open transaction. */
rw_status rw_key_write(rw_store *s, rw_err *err);
/* store_events.c: prepares the write path's statements. */
rw_status rw_events_prepare(rw_store *s, rw_err *err);
/* store_runs.c: at a writable open, removes what runs that crashed while
 * being written left, when no process is writing one now. */
rw_status rw_runs_drop_crashed(rw_store *s, rw_err *err);
/* store_wal.c: turns this connection's own checkpoints on or off while a
 * run is written (a no-op with background checkpoints). */
void rw_wal_autocheckpoint(rw_store *s, int on);
/* store_wal.c: an erasure's old pages leave the files only once the WAL is
 * copied into the database file and truncated, which waits for every reader
 * of an older snapshot. rw_wal_scrub tries (waiting at most wait_ms) and
 * returns 1 when done, else leaves it pending; rw_wal_retry_scrub tries
 * again without waiting when one is pending (after commits and
 * checkpoints); rw_wal_scrub_at_open when a process stopped before its
 * erasure's truncation (the 'wal_scrub' mark in meta). */
int rw_wal_scrub(rw_store *s, int wait_ms);
void rw_wal_retry_scrub(rw_store *s);
rw_status rw_wal_scrub_at_open(rw_store *s);

#endif
