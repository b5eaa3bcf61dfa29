/* The SQLite store's connection: opening and closing it, the SQL helpers
 * every part uses, and transactions. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage_int.h"

/* Maps an SQLite result code to our status; full disks and read-only files
 * get their own codes because operators act on them differently. */
rw_status rw_db_status(int rc) {
    switch (rc & 0xff) {
        case SQLITE_NOMEM:
            return RW_ERR_NOMEM;
        case SQLITE_FULL:
            return RW_ERR_FULL;
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_CANTOPEN:
            return RW_ERR_PERM;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return RW_ERR_CORRUPT;
        case SQLITE_IOERR:
            return RW_ERR_IO;
        default:
            return RW_ERR_DB;
    }
}

/* What an operator does about a failure that is the file's or the disk's,
 * naming the file: SQLite's own words name neither. Empty for the rest. */
static void hint(const rw_store *s, int rc, char *out, size_t size) {
    static const char *const what[] = {
        [SQLITE_CORRUPT] = "%s is damaged: restore it from a backup, or salvage its rows with `sqlite3 %s .recover`",
        [SQLITE_NOTADB] = "%s is damaged: restore it from a backup, or salvage its rows with `sqlite3 %s .recover`",
        [SQLITE_FULL] = "%s: free space on its file system%.0s",
        [SQLITE_IOERR] = "%s: check the disk and the file system it is on%.0s",
        [SQLITE_READONLY] = "%s: check that the file and its directory are writable by this user%.0s",
        [SQLITE_CANTOPEN] = "%s: check that the file and its directory exist and are accessible%.0s",
        [SQLITE_PERM] = "%s: check the file's permissions%.0s",
    };
    const char *path = s->db ? sqlite3_db_filename(s->db, "main") : NULL;
    unsigned k = (unsigned)rc & 0xff;
    out[0] = 0;
    if (path && *path && k < sizeof what / sizeof what[0] && what[k]) {
        char text[1024];
        snprintf(text, sizeof text, what[k], path, path);
        snprintf(out, size, " (%s)", text);
    }
}

rw_status rw_db_fail(rw_store *s, rw_err *err, int rc, const char *what) {
    char h[1100];
    hint(s, rc, h, sizeof h);
    return rw_fail(err, rw_db_status(rc), "%s: %s%s", what, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc), h);
}

rw_status rw_db_exec(rw_store *s, const char *sql, rw_err *err) {
    char *msg = NULL, h[1100];
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK) return RW_OK;
    hint(s, rc, h, sizeof h);
    rw_status st = rw_fail(err, rw_db_status(rc), "%s%s", msg ? msg : sqlite3_errstr(rc), h);
    sqlite3_free(msg);
    return st;
}

rw_status rw_db_query_int(rw_store *s, const char *sql, int64_t *out, rw_err *err) {
    sqlite3_stmt *st = NULL;
    *out = 0;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    rw_status res = rc == SQLITE_OK ? RW_OK : rw_db_fail(s, err, rc, sql);
    sqlite3_finalize(st);
    return res;
}

rw_status rw_db_add_column(rw_store *s, const char *table, const char *column, const char *decl, rw_err *err) {
    char sql[160];
    int64_t has = 0;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pragma_table_info('%s') WHERE name = '%s'", table, column);
    rw_status st = rw_db_query_int(s, sql, &has, err);
    if (st != RW_OK || has) return st;
    snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", table, column, decl);
    return rw_db_exec(s, sql, err);
}

/* Prepares a statement used once per run or query, not per event. */
rw_status rw_db_prepare(rw_store *s, sqlite3_stmt **st, const char *sql, rw_err *err) {
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? RW_OK : rw_db_fail(s, err, rc, sql);
}

/* A store with its paths and no connection yet. */
static rw_store *store_new(const char *path, int flags) {
    rw_store *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->run_lock = -1;
    s->readonly = (flags & RW_STORE_READONLY) != 0;
    size_t plen = strlen(path);
    s->run_lock_path = malloc(plen + sizeof ".runlock");
    s->path = strdup(path);
    if (!s->run_lock_path || !s->path) {
        free(s->run_lock_path);
        free(s->path);
        free(s);
        return NULL;
    }
    memcpy(s->run_lock_path, path, plen);
    memcpy(s->run_lock_path + plen, ".runlock", sizeof ".runlock");
    return s;
}

/* A new database file is created here, mode 0600 whatever the umask:
 * SQLite gives its -wal and -shm files the database file's mode, so they
 * are private too. An existing file is left as it is. */
static rw_status create_private(const char *path, rw_err *err) {
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return RW_OK;
        return rw_fail(err, errno == EACCES || errno == EROFS ? RW_ERR_PERM : RW_ERR_IO,
                       "cannot open database %s: cannot create it: %s (check that its directory exists and is "
                       "writable by this user)",
                       path, strerror(errno));
    }
    int bad = fchmod(fd, 0600) != 0;
    int e = errno;
    close(fd);
    if (!bad) return RW_OK;
    unlink(path);
    return rw_fail(err, RW_ERR_IO, "cannot make database %s private (mode 0600): %s", path, strerror(e));
}

static rw_status open_connection(rw_store *s, const char *path, rw_err *err) {
    if (s->readonly) {
        struct stat sb;
        if (stat(path, &sb) != 0) return rw_fail(err, RW_ERR_NOTFOUND, "database %s does not exist", path);
    } else {
        rw_status st = create_private(path, err);
        if (st != RW_OK) return st;
    }
    int oflags = s->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return rw_fail(err, rw_db_status(rc), "cannot open database %s: %s", path,
                       s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    sqlite3_busy_timeout(s->db, RW_STORE_BUSY_MS);
    sqlite3_extended_result_codes(s->db, 1);
    return RW_OK;
}

/* What a writable open does once the schema is current. WAL lets readers
 * (stats, exports) run beside the writer; NORMAL syncs at checkpoints, and a
 * commit that must survive power loss asks for FULL explicitly
 * (rw_store_commit durable). */
static rw_status open_writer(rw_store *s, rw_err *err) {
    rw_status st = rw_db_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err);
    /* A bulk load that stopped before it rebuilt the index
     * (rw_store_events_index) left the log without it. */
    if (st == RW_OK) st = rw_store_events_index(s, 1, err);
    if (st != RW_OK) return st;
    /* A process that stopped between an erasure's commit and its WAL
     * truncation (rw_store_erase) left the old pages in the WAL: cut it
     * now. */
    rw_wal_scrub_at_open(s);
    /* Best effort: the rows are invisible, and the next rescoring
     * removes them if this cannot (a full disk). */
    rw_runs_drop_crashed(s, NULL);
    return RW_OK;
}

rw_status rw_store_open_keyed(rw_store **out, const char *path, int flags, const rw_store_key *key, rw_err *err) {
    *out = NULL;
    rw_store *s = store_new(path, flags);
    if (!s) return rw_fail(err, RW_ERR_NOMEM, "out of memory opening %s", path);
    rw_status st = open_connection(s, path, err);
    if (st == RW_OK) st = rw_schema_migrate(s, path, key, err);
    if (st == RW_OK && !s->readonly) st = open_writer(s, err);
    if (st == RW_OK) st = rw_db_exec(s, "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;", err);
    if (st == RW_OK && !s->readonly) st = rw_events_prepare(s, err);
    if (st == RW_OK && key) st = rw_store_use_key(s, key, err);
    if (st != RW_OK) {
        rw_store_close(s);
        return st;
    }
    *out = s;
    return RW_OK;
}

rw_status rw_store_open(rw_store **out, const char *path, int flags, rw_err *err) {
    return rw_store_open_keyed(out, path, flags, NULL, err);
}

void rw_store_close(rw_store *s) {
    if (!s) return;
    rw_store_rollback(s);
    rw_store_run_unlock(s);
    if (s->db && !s->readonly) rw_wal_retry_scrub(s);
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(s->stmt[i]);
    for (int i = 0; i < 4; i++) sqlite3_finalize(s->run_stmt[i]);
    for (int i = 0; i < 4; i++) sqlite3_finalize(s->run_many[i]);
    sqlite3_finalize(s->featlog_stmt);
    sqlite3_close(s->ckpt);
    sqlite3_close(s->db);
    free(s->run_lock_path);
    free(s->path);
    free(s);
}

rw_status rw_store_begin(rw_store *s, rw_err *err) {
    if (s->readonly) return rw_fail(err, RW_ERR_PERM, "the database is open read-only");
    rw_status st = rw_db_exec(s, "BEGIN IMMEDIATE", err);
    if (st == RW_OK) s->in_txn = 1;
    return st;
}

/* The safety level cannot change inside a transaction: it is lowered before
 * an unsynced one begins and raised again once it ends. */
static void end_unsynced(rw_store *s) {
    if (!s->unsynced) return;
    s->unsynced = 0;
    rw_db_exec(s, "PRAGMA synchronous=FULL", NULL);
}

rw_status rw_store_begin_unsynced(rw_store *s, rw_err *err) {
    if (s->sync_full) {
        rw_status st = rw_db_exec(s, "PRAGMA synchronous=NORMAL", err);
        if (st != RW_OK) return st;
        s->unsynced = 1;
    }
    rw_status st = rw_store_begin(s, err);
    if (st != RW_OK) end_unsynced(s);
    return st;
}

rw_status rw_store_commit(rw_store *s, int durable, rw_err *err) {
    rw_status st = rw_db_exec(s, "COMMIT", err);
    if (st != RW_OK) {
        rw_err_prefix(err, "commit: ");
        rw_store_rollback(s);
        return st;
    }
    s->in_txn = 0;
    if (s->key_state == RW_KEY_IN_TXN) s->key_state = RW_KEY_NONE;
    end_unsynced(s);
    rw_wal_retry_scrub(s);
    if (!durable || s->sync_full) return RW_OK;
    /* The safety level cannot change inside a transaction, so a durable
     * commit is followed by a one-row transaction at synchronous=FULL: its
     * fsync of the WAL makes every frame before it durable too. */
    st = rw_db_exec(s,
                    "PRAGMA synchronous=FULL; BEGIN IMMEDIATE;"
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('last_durable_commit', unixepoch()); COMMIT;",
                    err);
    rw_db_exec(s, "PRAGMA synchronous=NORMAL", NULL);
    if (st != RW_OK) {
        rw_err_prefix(err, "durable commit: ");
        rw_store_rollback(s);
    }
    return st;
}

void rw_store_rollback(rw_store *s) {
    if (!s || !s->db) return;
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_txn = 0;
    if (s->key_state == RW_KEY_IN_TXN) s->key_state = RW_KEY_PENDING;
    end_unsynced(s);
}

rw_status rw_store_set_sync_full(rw_store *s, int on, rw_err *err) {
    rw_status st = rw_db_exec(s, on ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", err);
    if (st == RW_OK) s->sync_full = on != 0;
    return st;
}

rw_status rw_store_probe(rw_store *s, rw_err *err) {
    return rw_db_exec(s, "INSERT OR REPLACE INTO meta(key, value) VALUES ('last_probe', unixepoch())", err);
}
