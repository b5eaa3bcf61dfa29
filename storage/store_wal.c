/* Checkpoints: copying the WAL into the database file, on the writer's
 * connection or on a connection of their own beside it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_int.h"

/* SQLite's default: a commit that leaves this many pages in the WAL
 * checkpoints it. */
#define WAL_AUTOCHECKPOINT 1000

/* While a run is written, this connection leaves checkpoints to the
 * writer's own (rw_store_run_checkpoint): a commit here would otherwise copy
 * the run's pages into the database while holding the caller's lock on the
 * connection, which is what the group commit waits for. */
void rw_wal_autocheckpoint(rw_store *s, int on) {
    if (s->bg_ckpt || on == !s->no_autockpt) return;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint=%d", on ? WAL_AUTOCHECKPOINT : 0);
    if (rw_db_exec(s, sql, NULL) == RW_OK) s->no_autockpt = !on;
}

static int on_wal_commit(void *ctx, sqlite3 *db, const char *name, int pages) {
    (void)db, (void)name;
    rw_store *s = ctx;
    __atomic_store_n(&s->wal_pages, pages, __ATOMIC_RELAXED);
    return SQLITE_OK;
}

rw_status rw_store_background_checkpoints(rw_store *s, rw_err *err) {
    if (s->readonly) return RW_OK;
    rw_status st = rw_db_exec(s, "PRAGMA wal_autocheckpoint=0", err);
    if (st != RW_OK) return st;
    /* Set after the pragma, which installs SQLite's own hook (or none). */
    sqlite3_wal_hook(s->db, on_wal_commit, s);
    s->bg_ckpt = 1;
    s->no_autockpt = 1;
    return RW_OK;
}

uint32_t rw_store_wal_pages(const rw_store *s) {
    int n = __atomic_load_n(&s->wal_pages, __ATOMIC_RELAXED);
    return n > 0 ? (uint32_t)n : 0;
}

uint32_t rw_store_wal_checkpoint_pages(void) {
    return WAL_AUTOCHECKPOINT;
}

/* Copies the whole WAL into the database file and truncates it to nothing,
 * waiting at most wait_ms for readers (a reader's snapshot may need the old
 * pages: nothing can be copied over them until it ends). 1 when done. */
static int truncate_wal(sqlite3 *db, int wait_ms) {
    sqlite3_busy_timeout(db, wait_ms);
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    return rc == SQLITE_OK;
}

int rw_wal_scrub(rw_store *s, int wait_ms) {
    int done = truncate_wal(s->db, wait_ms);
    sqlite3_busy_timeout(s->db, RW_STORE_BUSY_MS);
    if (done) {
        rw_db_exec(s, "DELETE FROM meta WHERE key = 'wal_scrub'", NULL); /* a page of meta: no account id */
        __atomic_store_n(&s->scrub_pending, 0, __ATOMIC_RELEASE);
    }
    return done;
}

void rw_wal_retry_scrub(rw_store *s) {
    if (__atomic_load_n(&s->scrub_pending, __ATOMIC_ACQUIRE) && !s->in_txn) rw_wal_scrub(s, 0);
}

rw_status rw_wal_scrub_at_open(rw_store *s) {
    int64_t marked = 0;
    rw_status st = rw_db_query_int(s, "SELECT count(*) FROM meta WHERE key = 'wal_scrub'", &marked, NULL);
    if (st == RW_OK && marked && !rw_wal_scrub(s, 0)) __atomic_store_n(&s->scrub_pending, 1, __ATOMIC_RELEASE);
    return st;
}

int rw_store_erasure_pending(const rw_store *s) {
    return __atomic_load_n(&s->scrub_pending, __ATOMIC_ACQUIRE);
}

static rw_status open_checkpoint_connection(const char *path, sqlite3 **out, rw_err *err) {
    int rc = sqlite3_open_v2(path, out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(*out, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    if (rc == SQLITE_OK) return RW_OK;
    rw_status st = rw_fail(err, rw_db_status(rc), "opening a connection for checkpoints: %s",
                           *out ? sqlite3_errmsg(*out) : sqlite3_errstr(rc));
    sqlite3_close(*out);
    *out = NULL;
    return st;
}

/* Passive: copies what it can without waiting for readers or writers. */
static rw_status checkpoint_passive(sqlite3 *db, rw_err *err) {
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        return rw_fail(err, rw_db_status(rc), "checkpoint: %s", sqlite3_errmsg(db));
    return RW_OK;
}

rw_status rw_checkpointer_open(rw_store *s, rw_checkpointer **out, rw_err *err) {
    *out = NULL;
    if (s->readonly) return rw_fail(err, RW_ERR_PERM, "the database is open read-only");
    rw_checkpointer *c = calloc(1, sizeof *c);
    if (!c) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    rw_status st = open_checkpoint_connection(s->path, &c->db, err);
    if (st != RW_OK) {
        free(c);
        return st;
    }
    sqlite3_busy_timeout(c->db, 0);
    c->scrub = &s->scrub_pending;
    *out = c;
    return RW_OK;
}

rw_status rw_store_checkpoint_tail(rw_store *s, rw_err *err) {
    if (s->readonly) return RW_OK;
    rw_status st = checkpoint_passive(s->db, err);
    rw_wal_retry_scrub(s);
    return st;
}

rw_status rw_checkpointer_run(rw_checkpointer *c, rw_err *err) {
    rw_status st = checkpoint_passive(c->db, err);
    if (__atomic_load_n(c->scrub, __ATOMIC_ACQUIRE) && truncate_wal(c->db, 0)) {
        __atomic_store_n(c->scrub, 0, __ATOMIC_RELEASE);
        /* The mark goes with a write beside the writer's: when that is busy,
         * the next writable open truncates once more, which costs nothing. */
        sqlite3_exec(c->db, "DELETE FROM meta WHERE key = 'wal_scrub'", NULL, NULL, NULL);
    }
    return st;
}

void rw_checkpointer_close(rw_checkpointer *c) {
    if (!c) return;

    sqlite3_close(c->db);
    free(c);
}

rw_status rw_store_run_checkpoint(rw_store *s, rw_err *err) {
    if (s->run_lock < 0) return rw_fail(err, RW_ERR_INTERNAL, "a run's checkpoint needs the run lock");
    if (!s->ckpt) {
        rw_status st = open_checkpoint_connection(s->path, &s->ckpt, err);
        if (st != RW_OK) return st;
    }
    return checkpoint_passive(s->ckpt, err);
}
