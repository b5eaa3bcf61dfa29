/* The SQLite store: schema and migrations, the append-only write path and the
 * snapshot read path that rebuilds the in-memory graph. */
#include <sqlite3.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage.h"
#include "learn_int.h"

/* 'RWCH': marks a file as ours so a foreign SQLite database is never
 * migrated into a ringwatch one. */
#define APPLICATION_ID 0x52574348

enum { ST_ACCOUNT, ST_ATTRIBUTE, ST_EVENT, ST_COUNT };

struct rw_store {
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
    sqlite3_stmt *run_stmt[4]; /* clusters, run accounts, run attributes, run members: prepared on first use */
    int in_txn;
    int readonly;
    int sync_full; /* every commit is fsynced (synchronous=FULL) */
    int run_lock;  /* fd of DB.runlock while this handle holds its lock (a run is being written), else -1 */
    char *run_lock_path;
    char *path;
    int unsynced;    /* the open transaction commits without an fsync (rw_store_begin_unsynced) */
    int no_autockpt; /* wal_autocheckpoint is off while a run is written (rw_store_run_checkpoint) */
    sqlite3 *ckpt;   /* the run writer's own connection for checkpoints (opened on first use) */
    int bg_ckpt;     /* checkpoints are another thread's (rw_store_background_checkpoints) */
    int wal_pages;   /* pages in the WAL after this connection's last commit (atomic: read by others) */
};

struct rw_checkpointer {
    sqlite3 *db;
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_ACCOUNT] = "INSERT INTO accounts(id, ext, first_seen) VALUES (?1, ?2, ?3)",
    [ST_ATTRIBUTE] = "INSERT INTO attributes(id, kind, hash, parent, first_seen) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_EVENT] =
        "INSERT INTO events(ts, type, account, ip, device, payment, score) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
};

/* Migration i brings the schema from version i to i + 1. Never edit a
 * shipped entry; append a new one. */
static const char *const migrations[] = {
    /* 1: the event log and the nodes it introduces. Ids are graph node ids
     * (accounts and attributes share one id space). No unique index on the
     * account text or attribute hash: the single writer's in-memory index
     * guarantees uniqueness, and a random-key index would cap ingest. */
    "CREATE TABLE accounts(id INTEGER PRIMARY KEY, ext TEXT NOT NULL, first_seen INTEGER NOT NULL);"
    "CREATE TABLE attributes(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, hash BLOB NOT NULL,"
    "  parent INTEGER, first_seen INTEGER NOT NULL);"
    "CREATE TABLE events(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, type INTEGER NOT NULL,"
    "  account INTEGER NOT NULL, ip INTEGER, device INTEGER, payment INTEGER);"
    "CREATE TABLE kinds(kind INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
    "INSERT INTO kinds VALUES (0,'account'),(1,'ip'),(2,'device'),(3,'payment'),(4,'subnet');"
    /* Edges and last-seen times are derived from the log rather than
     * updated in place on every event; these views give them to SQL users. */
    "CREATE VIEW edges(account, attribute, first_seen, last_seen, count) AS"
    "  SELECT account, attr, min(ts), max(ts), count(*) FROM ("
    "    SELECT account, ip AS attr, ts FROM events WHERE ip IS NOT NULL UNION ALL"
    "    SELECT account, device, ts FROM events WHERE device IS NOT NULL UNION ALL"
    "    SELECT account, payment, ts FROM events WHERE payment IS NOT NULL)"
    "  GROUP BY account, attr;"
    "CREATE VIEW account_activity(account, first_seen, last_seen, events) AS"
    "  SELECT account, min(ts), max(ts), count(*) FROM events GROUP BY account;",
    /* 2: batch runs. A run is written in one transaction, so a reader sees
     * a whole run or none. Cluster ids are stable across runs (matched by
     * overlap), so (run, id) is the key and the same id recurs. */
    "CREATE TABLE models(version INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, weights TEXT NOT NULL,"
    "  note TEXT);"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL,"
    "  events INTEGER NOT NULL, model_version INTEGER, params TEXT NOT NULL, summary TEXT NOT NULL);"
    "CREATE TABLE clusters(run INTEGER NOT NULL, id INTEGER NOT NULL, score REAL NOT NULL,"
    "  flagged INTEGER NOT NULL, accounts INTEGER NOT NULL, attributes INTEGER NOT NULL,"
    "  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, features TEXT NOT NULL, reasons TEXT NOT NULL,"
    "  PRIMARY KEY(run, id)) WITHOUT ROWID;"
    "CREATE INDEX clusters_by_score ON clusters(run, score DESC);"
    "CREATE TABLE run_accounts(run INTEGER NOT NULL, account INTEGER NOT NULL, cluster INTEGER NOT NULL,"
    "  score REAL NOT NULL, flagged INTEGER NOT NULL, reasons TEXT,"
    "  PRIMARY KEY(run, account)) WITHOUT ROWID;"
    "CREATE TABLE run_attributes(run INTEGER NOT NULL, attribute INTEGER NOT NULL, cluster INTEGER NOT NULL,"
    "  PRIMARY KEY(run, attribute)) WITHOUT ROWID;"
    "CREATE TABLE labels(id INTEGER PRIMARY KEY, target_kind TEXT NOT NULL CHECK (target_kind IN"
    "  ('account','cluster')), target INTEGER NOT NULL, run INTEGER, label TEXT NOT NULL CHECK (label IN"
    "  ('fraud','benign')), note TEXT, created_at INTEGER NOT NULL);"
    "CREATE INDEX labels_by_target ON labels(target_kind, target);",
    /* 3: the server lists a cluster's members and attributes. */
    ("CREATE INDEX run_accounts_by_cluster ON run_accounts(run, cluster) WHERE cluster != 0;"
     "CREATE INDEX run_attributes_by_cluster ON run_attributes(run, cluster);"),
    /* 4: the online score answered for each event (NULL for bulk ingest),
     * so a restart rebuilds the evidence online scoring keeps. */
    "ALTER TABLE events ADD COLUMN score REAL;",
    /* 5: a large run is written in many short transactions, so the group
     * commit is not held up for seconds: its rows go in under an id reserved
     * here, and its runs row is inserted last, in one small transaction that
     * also drops the reservation. runs keeps holding only whole runs, and a
     * reservation left behind marks rows a crash left, to be removed.
     * Each transaction rewrites every b-tree page it touched, and rows
     * written in account order land all over an index by cluster: the two
     * by-cluster indexes made a million-account run write 1.8 GB of WAL in
     * 8 ms transactions (213 MB in one). run_members replaces them, a table
     * the writer fills in its own pass in (cluster, node) order; here it is
     * filled from the stored runs, sorted once. */
    "CREATE TABLE run_writes(id INTEGER PRIMARY KEY, started_at INTEGER NOT NULL);"
    "CREATE TABLE run_members(run INTEGER NOT NULL, cluster INTEGER NOT NULL, node INTEGER NOT NULL,"
    "  PRIMARY KEY(run, cluster, node)) WITHOUT ROWID;"
    "INSERT INTO run_members(run, cluster, node) SELECT run, cluster, account FROM run_accounts WHERE cluster != 0"
    "  UNION ALL SELECT run, cluster, attribute FROM run_attributes ORDER BY 1, 2, 3;"
    "DROP INDEX run_accounts_by_cluster;"
    "DROP INDEX run_attributes_by_cluster;",
    /* 6: the signup model learns from the deployment (storage/learn.c). */
    RW_STORE_LEARN_SCHEMA,
};
#define MIGRATION_COUNT ((int)(sizeof migrations / sizeof migrations[0]))

int rw_store_schema_version(void) {
    return MIGRATION_COUNT;
}

/* Maps an SQLite result code to our status; full disks and read-only files
 * get their own codes because operators act on them differently. */
static rw_status db_status(int rc) {
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

static rw_status db_fail(rw_store *s, rw_err *err, int rc, const char *what) {
    char h[1100];
    hint(s, rc, h, sizeof h);
    return rw_fail(err, db_status(rc), "%s: %s%s", what, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc), h);
}

static rw_status exec(rw_store *s, const char *sql, rw_err *err) {
    char *msg = NULL, h[1100];
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK) return RW_OK;
    hint(s, rc, h, sizeof h);
    rw_status st = rw_fail(err, db_status(rc), "%s%s", msg ? msg : sqlite3_errstr(rc), h);
    sqlite3_free(msg);
    return st;
}

static rw_status query_int(rw_store *s, const char *sql, int64_t *out, rw_err *err) {
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
    rw_status res = rc == SQLITE_OK ? RW_OK : db_fail(s, err, rc, sql);
    sqlite3_finalize(st);
    return res;
}

/* Checks the file is ours (or empty) and brings its schema up to date. */
static rw_status check_and_migrate(rw_store *s, const char *path, rw_err *err) {
    int64_t app = 0, tables = 0, version = 0;
    rw_status st = query_int(s, "PRAGMA application_id", &app, err);
    if (st == RW_ERR_CORRUPT || st == RW_ERR_DB)
        return rw_fail(err, RW_ERR_CORRUPT, "%s is not a ringwatch database (or is corrupt): %s", path,
                       sqlite3_errmsg(s->db));
    if (st != RW_OK) return st;
    st = query_int(s, "SELECT count(*) FROM sqlite_schema", &tables, err);
    if (st != RW_OK) return rw_fail(err, RW_ERR_CORRUPT, "%s is unreadable: %s", path, sqlite3_errmsg(s->db));
    if (app != APPLICATION_ID && tables > 0)
        return rw_fail(err, RW_ERR_CORRUPT, "%s is an SQLite database of another program; refusing to touch it", path);
    if (tables > 0) {
        st = query_int(s, "SELECT max(version) FROM schema_version", &version, err);
        if (st != RW_OK) return rw_fail(err, RW_ERR_CORRUPT, "%s has no schema_version table", path);
    }
    if (version > MIGRATION_COUNT)
        return rw_fail(err, RW_ERR_CORRUPT, "%s has schema version %lld, newer than this build's %d; upgrade ringwatch",
                       path, (long long)version, MIGRATION_COUNT);
    if (version == MIGRATION_COUNT) return RW_OK;
    if (s->readonly)
        return rw_fail(err, RW_ERR_PERM, "%s needs a schema migration (version %lld to %d) but was opened read-only",
                       path, (long long)version, MIGRATION_COUNT);
    st = exec(s, "BEGIN IMMEDIATE", err);
    if (st != RW_OK) return st;
    if (tables == 0) {
        char sql[128];
        snprintf(sql, sizeof sql, "PRAGMA application_id=%d; CREATE TABLE schema_version(version INTEGER NOT NULL);",
                 APPLICATION_ID);
        st = exec(s, sql, err);
    }
    for (int v = (int)version; st == RW_OK && v < MIGRATION_COUNT; v++) {
        st = exec(s, migrations[v], err);
        if (st == RW_OK) {
            char sql[96];
            snprintf(sql, sizeof sql, "INSERT INTO schema_version(version) VALUES (%d)", v + 1);
            st = exec(s, sql, err);
        }
    }
    if (st == RW_OK) return exec(s, "COMMIT", err);
    rw_err_prefix(err, "migrating %s: ", path);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

static rw_status drop_crashed_runs(rw_store *s, rw_err *err);

rw_status rw_store_open(rw_store **out, const char *path, int flags, rw_err *err) {
    *out = NULL;
    rw_status st = RW_OK;
    rw_store *s = calloc(1, sizeof *s);
    if (!s) return rw_fail(err, RW_ERR_NOMEM, "out of memory opening %s", path);
    s->run_lock = -1;
    s->readonly = (flags & RW_STORE_READONLY) != 0;
    size_t plen = strlen(path);
    if (!(s->run_lock_path = malloc(plen + sizeof ".runlock"))) {
        free(s);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory opening %s", path);
    }
    memcpy(s->run_lock_path, path, plen);
    memcpy(s->run_lock_path + plen, ".runlock", sizeof ".runlock");
    if (!(s->path = strdup(path))) {
        free(s->run_lock_path);
        free(s);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory opening %s", path);
    }
    if (s->readonly) {
        struct stat sb;
        if (stat(path, &sb) != 0) {
            st = rw_fail(err, RW_ERR_NOTFOUND, "database %s does not exist", path);
            goto done;
        }
    }
    int oflags = s->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        st = rw_fail(err, db_status(rc), "cannot open database %s: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto done;
    }
    sqlite3_busy_timeout(s->db, 10000);
    sqlite3_extended_result_codes(s->db, 1);
    st = check_and_migrate(s, path, err);
    if (st != RW_OK) goto done;
    /* WAL lets readers (stats, exports) run beside the writer; NORMAL
     * syncs at checkpoints, and a commit that must survive power loss asks
     * for FULL explicitly (rw_store_commit durable). */
    if (!s->readonly) {
        st = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err);
        if (st != RW_OK) goto done;
        /* A process that stopped between an erasure's commit and its WAL
         * truncation (rw_store_erase) left the old pages in the WAL: cut it
         * now. */
        int64_t scrub = 0;
        if (query_int(s, "SELECT count(*) FROM meta WHERE key = 'wal_scrub'", &scrub, NULL) == RW_OK && scrub &&
            sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) == SQLITE_OK)
            exec(s, "DELETE FROM meta WHERE key = 'wal_scrub'", NULL);
        /* Best effort: the rows are invisible, and the next rescoring
         * removes them if this cannot (a full disk). */
        drop_crashed_runs(s, NULL);
    }
    st = exec(s, "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;", err);
    if (st != RW_OK) goto done;
    if (!s->readonly) {
        for (int i = 0; i < ST_COUNT; i++) {
            rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
            if (rc != SQLITE_OK) {
                st = db_fail(s, err, rc, "preparing statements");
                goto done;
            }
        }
    }
done:
    if (st != RW_OK) {
        rw_store_close(s);
        return st;
    }
    *out = s;
    return RW_OK;
}

void rw_store_close(rw_store *s) {
    if (!s) return;
    rw_store_rollback(s);
    rw_store_run_unlock(s);
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(s->stmt[i]);
    for (int i = 0; i < 4; i++) sqlite3_finalize(s->run_stmt[i]);
    sqlite3_close(s->ckpt);
    sqlite3_close(s->db);
    free(s->run_lock_path);
    free(s->path);
    free(s);
}

rw_status rw_store_begin(rw_store *s, rw_err *err) {
    if (s->readonly) return rw_fail(err, RW_ERR_PERM, "the database is open read-only");
    rw_status st = exec(s, "BEGIN IMMEDIATE", err);
    if (st == RW_OK) s->in_txn = 1;
    return st;
}

/* The safety level cannot change inside a transaction: it is lowered before
 * an unsynced one begins and raised again once it ends. */
static void end_unsynced(rw_store *s) {
    if (!s->unsynced) return;
    s->unsynced = 0;
    exec(s, "PRAGMA synchronous=FULL", NULL);
}

rw_status rw_store_begin_unsynced(rw_store *s, rw_err *err) {
    if (s->sync_full) {
        rw_status st = exec(s, "PRAGMA synchronous=NORMAL", err);
        if (st != RW_OK) return st;
        s->unsynced = 1;
    }
    rw_status st = rw_store_begin(s, err);
    if (st != RW_OK) end_unsynced(s);
    return st;
}

rw_status rw_store_commit(rw_store *s, int durable, rw_err *err) {
    rw_status st = exec(s, "COMMIT", err);
    if (st != RW_OK) {
        rw_err_prefix(err, "commit: ");
        rw_store_rollback(s);
        return st;
    }
    s->in_txn = 0;
    end_unsynced(s);
    if (!durable || s->sync_full) return RW_OK;
    /* The safety level cannot change inside a transaction, so a durable
     * commit is followed by a one-row transaction at synchronous=FULL: its
     * fsync of the WAL makes every frame before it durable too. */
    st = exec(s,
              "PRAGMA synchronous=FULL; BEGIN IMMEDIATE;"
              "INSERT OR REPLACE INTO meta(key, value) VALUES ('last_durable_commit', unixepoch()); COMMIT;",
              err);
    exec(s, "PRAGMA synchronous=NORMAL", NULL);
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
    end_unsynced(s);
}

static rw_status step_insert(rw_store *s, sqlite3_stmt *st, const char *what, rw_err *err) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return db_fail(s, err, rc, what);
    return RW_OK;
}

static void bind_node(sqlite3_stmt *st, int col, uint32_t id) {
    if (id == RW_STORE_NONE)
        sqlite3_bind_null(st, col);
    else
        sqlite3_bind_int64(st, col, id);
}

rw_status rw_store_put_account(rw_store *s, uint32_t id, const char *ext, size_t len, int64_t first_seen, rw_err *err) {
    sqlite3_stmt *st = s->stmt[ST_ACCOUNT];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, ext, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, first_seen);
    return step_insert(s, st, "insert account", err);
}

rw_status rw_store_put_attribute(rw_store *s, uint32_t id, rw_kind kind, const rw_hash *h, uint32_t parent,
                                 int64_t first_seen, rw_err *err) {
    sqlite3_stmt *st = s->stmt[ST_ATTRIBUTE];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, (int)kind);
    sqlite3_bind_blob(st, 3, h->b, RW_HASH_BYTES, SQLITE_STATIC);
    bind_node(st, 4, parent);
    sqlite3_bind_int64(st, 5, first_seen);
    return step_insert(s, st, "insert attribute", err);
}

rw_status rw_store_put_event_scored(rw_store *s, int64_t ts, rw_event_type type, uint32_t account,
                                    const uint32_t attr[RW_EVENT_ATTRS], double score, rw_err *err) {
    sqlite3_stmt *st = s->stmt[ST_EVENT];
    sqlite3_bind_int64(st, 1, ts);
    sqlite3_bind_int(st, 2, (int)type);
    sqlite3_bind_int64(st, 3, account);
    for (int i = 0; i < RW_EVENT_ATTRS; i++) bind_node(st, 4 + i, attr[i]);
    if (isnan(score))
        sqlite3_bind_null(st, 7);
    else
        sqlite3_bind_double(st, 7, score);
    return step_insert(s, st, "insert event", err);
}

rw_status rw_store_put_event(rw_store *s, int64_t ts, rw_event_type type, uint32_t account,
                             const uint32_t attr[RW_EVENT_ATTRS], rw_err *err) {
    return rw_store_put_event_scored(s, ts, type, account, attr, NAN, err);
}

/* ---- read path ---------------------------------------------------------- */

static uint32_t column_node(sqlite3_stmt *st, int col) {
    if (sqlite3_column_type(st, col) == SQLITE_NULL) return RW_STORE_NONE;
    sqlite3_int64 v = sqlite3_column_int64(st, col);
    return v < 0 || v >= (sqlite3_int64)RW_STORE_NONE ? RW_STORE_NONE - 1 : (uint32_t)v;
}

/* Steps a cursor; returns 1 on a row, 0 at the end, -1 on error (rc set). */
static int next_row(sqlite3_stmt *st, int *rc) {
    *rc = sqlite3_step(st);
    if (*rc == SQLITE_ROW) return 1;
    if (*rc == SQLITE_DONE) return 0;
    return -1;
}

static rw_status load_nodes(rw_store *s, const rw_store_loader *cb, void *ctx, rw_err *err) {
    sqlite3_stmt *acc = NULL, *att = NULL;
    rw_status st = RW_OK;
    int rc = sqlite3_prepare_v2(s->db, "SELECT id, ext, first_seen FROM accounts ORDER BY id", -1, &acc, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->db, "SELECT id, kind, hash, parent, first_seen FROM attributes ORDER BY id", -1,
                                &att, NULL);
    if (rc != SQLITE_OK) {
        st = db_fail(s, err, rc, "loading nodes");
        goto done;
    }
    int ha = next_row(acc, &rc), hb = ha < 0 ? 0 : next_row(att, &rc);
    while (ha > 0 || hb > 0) {
        sqlite3_int64 ida = ha > 0 ? sqlite3_column_int64(acc, 0) : INT64_MAX;
        sqlite3_int64 idb = hb > 0 ? sqlite3_column_int64(att, 0) : INT64_MAX;
        if (ida < idb) {
            const char *ext = (const char *)sqlite3_column_text(acc, 1);
            int len = sqlite3_column_bytes(acc, 1);
            st = cb->account(ctx, (uint32_t)ida, ext ? ext : "", (size_t)len, sqlite3_column_int64(acc, 2));
            ha = next_row(acc, &rc);
        } else {
            int kind = sqlite3_column_int(att, 1);
            const void *blob = sqlite3_column_blob(att, 2);
            if (kind <= RW_KIND_ACCOUNT || kind >= RW_KIND_COUNT || !blob ||
                sqlite3_column_bytes(att, 2) != RW_HASH_BYTES) {
                st = rw_fail(err, RW_ERR_CORRUPT, "attribute %lld has a bad kind or hash", (long long)idb);
                goto done;
            }
            rw_hash h;
            memcpy(h.b, blob, RW_HASH_BYTES);
            st =
                cb->attribute(ctx, (uint32_t)idb, (rw_kind)kind, &h, column_node(att, 3), sqlite3_column_int64(att, 4));
            hb = next_row(att, &rc);
        }
        if (st != RW_OK) goto done;
        if (ha < 0 || hb < 0) break;
    }
    if (ha < 0 || hb < 0) st = db_fail(s, err, rc, "loading nodes");
done:
    sqlite3_finalize(acc);
    sqlite3_finalize(att);
    return st;
}

static rw_status load_events(rw_store *s, const rw_store_loader *cb, void *ctx, rw_err *err) {
    sqlite3_stmt *ev = NULL;
    rw_status st = RW_OK;
    int rc = sqlite3_prepare_v2(s->db, "SELECT ts, type, account, ip, device, payment FROM events ORDER BY seq", -1,
                                &ev, NULL);
    if (rc != SQLITE_OK) return db_fail(s, err, rc, "loading events");
    int have;
    while ((have = next_row(ev, &rc)) > 0) {
        int type = sqlite3_column_int(ev, 1);
        if (type < 0 || type >= RW_EV_TYPE_COUNT) {
            st = rw_fail(err, RW_ERR_CORRUPT, "an event has an unknown type %d", type);
            goto done;
        }
        uint32_t attr[RW_EVENT_ATTRS];
        for (int i = 0; i < RW_EVENT_ATTRS; i++) attr[i] = column_node(ev, 3 + i);
        st = cb->event(ctx, sqlite3_column_int64(ev, 0), (rw_event_type)type, column_node(ev, 2), attr);
        if (st != RW_OK) goto done;
    }
    if (have < 0) st = db_fail(s, err, rc, "loading events");
done:
    sqlite3_finalize(ev);
    return st;
}

rw_status rw_store_load(rw_store *s, const rw_store_loader *cb, void *ctx, rw_err *err) {
    rw_status st = exec(s, "BEGIN", err);
    if (st != RW_OK) return st;
    st = load_nodes(s, cb, ctx, err);
    if (st == RW_OK) st = load_events(s, cb, ctx, err);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return st;
}

rw_status rw_store_count(rw_store *s, rw_store_counts *out, rw_err *err) {
    memset(out, 0, sizeof *out);
    int64_t v[3];
    static const char *const sql[3] = {"SELECT count(*) FROM accounts", "SELECT count(*) FROM attributes",
                                       "SELECT count(*) FROM events"};
    for (int i = 0; i < 3; i++) {
        rw_status st = query_int(s, sql[i], &v[i], err);
        if (st != RW_OK) return st;
    }
    out->accounts = (uint64_t)v[0];
    out->attributes = (uint64_t)v[1];
    out->events = (uint64_t)v[2];
    return RW_OK;
}

rw_status rw_store_integrity_check(rw_store *s, rw_err *err) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc != SQLITE_OK) return db_fail(s, err, rc, "integrity_check");
    rw_status res = RW_OK;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        if (!r || strcmp(r, "ok") != 0) res = rw_fail(err, RW_ERR_CORRUPT, "integrity_check: %s", r ? r : "?");
    } else {
        res = db_fail(s, err, rc, "integrity_check");
    }
    sqlite3_finalize(st);
    return res;
}

/* ---- runs, models ------------------------------------------------------- */

/* Rows of a run are seen only once it is published (its runs row
 * inserted): a run written in chunks is invisible until whole. ?1 is the
 * run. */
#define PUBLISHED " AND EXISTS (SELECT 1 FROM runs WHERE runs.id = ?1)"

/* Prepares a statement used once per run or query, not per event. */
static rw_status prepare(rw_store *s, sqlite3_stmt **st, const char *sql, rw_err *err) {
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? RW_OK : db_fail(s, err, rc, sql);
}

static rw_status run_stmt(rw_store *s, sqlite3_stmt **slot, const char *sql, rw_err *err) {
    if (*slot) {
        sqlite3_reset(*slot);
        return RW_OK;
    }
    return prepare(s, slot, sql, err);
}

/* The next run id: after every published run and every reservation. */
#define NEXT_RUN_ID                                                                                                    \
    "(SELECT max(m) + 1 FROM (SELECT coalesce(max(id), 0) AS m FROM runs"                                              \
    " UNION ALL SELECT coalesce(max(id), 0) FROM run_writes))"

/* Inserts the runs row of run (with id run->id, or the next one when it is 0);
 * *id the id it got. */
static rw_status insert_run(rw_store *s, const rw_run_row *run, int64_t *id, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = prepare(s, &st,
                            "INSERT INTO runs(id, started_at, finished_at, events, model_version, params, summary)"
                            " VALUES (coalesce(nullif(?7, 0), " NEXT_RUN_ID "), ?1, ?2, ?3, ?4, ?5, ?6)",
                            err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, run->started_at);
    sqlite3_bind_int64(st, 2, run->finished_at);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)run->events);
    sqlite3_bind_int(st, 4, run->model_version);
    sqlite3_bind_text(st, 5, run->params, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, run->summary, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, run->id);
    res = step_insert(s, st, "insert run", err);
    if (res == RW_OK) *id = sqlite3_last_insert_rowid(s->db);
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_put_run(rw_store *s, rw_run_row *run, rw_err *err) {
    run->id = 0;
    return insert_run(s, run, &run->id, err);
}

rw_status rw_store_put_cluster(rw_store *s, int64_t run, const rw_cluster_row *c, rw_err *err) {
    rw_status res = run_stmt(s, &s->run_stmt[0],
                             "INSERT INTO clusters(run, id, score, flagged, accounts, attributes, first_seen,"
                             " last_seen, features, reasons) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                             err);
    if (res != RW_OK) return res;
    sqlite3_stmt *st = s->run_stmt[0];
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, c->id);
    sqlite3_bind_double(st, 3, c->score);
    sqlite3_bind_int(st, 4, c->flagged);
    sqlite3_bind_int64(st, 5, c->accounts);
    sqlite3_bind_int64(st, 6, c->attributes);
    sqlite3_bind_int64(st, 7, c->first_seen);
    sqlite3_bind_int64(st, 8, c->last_seen);
    sqlite3_bind_text(st, 9, c->features, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, c->reasons, -1, SQLITE_STATIC);
    return step_insert(s, st, "insert cluster", err);
}

rw_status rw_store_put_run_account(rw_store *s, int64_t run, uint32_t account, uint32_t cluster, double score,
                                   int flagged, const char *reasons, rw_err *err) {
    rw_status res = run_stmt(s, &s->run_stmt[1],
                             "INSERT INTO run_accounts(run, account, cluster, score, flagged, reasons)"
                             " VALUES (?1,?2,?3,?4,?5,?6)",
                             err);
    if (res != RW_OK) return res;
    sqlite3_stmt *st = s->run_stmt[1];
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, account);
    sqlite3_bind_int64(st, 3, cluster);
    sqlite3_bind_double(st, 4, score);
    sqlite3_bind_int(st, 5, flagged);
    if (reasons)
        sqlite3_bind_text(st, 6, reasons, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 6);
    return step_insert(s, st, "insert run account", err);
}

rw_status rw_store_put_run_member(rw_store *s, int64_t run, uint32_t cluster, uint32_t node, rw_err *err) {
    rw_status res = run_stmt(s, &s->run_stmt[3], "INSERT INTO run_members(run, cluster, node) VALUES (?1,?2,?3)", err);
    if (res != RW_OK) return res;
    sqlite3_stmt *st = s->run_stmt[3];
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, cluster);
    sqlite3_bind_int64(st, 3, node);
    return step_insert(s, st, "insert run member", err);
}

rw_status rw_store_put_run_attribute(rw_store *s, int64_t run, uint32_t attribute, uint32_t cluster, rw_err *err) {
    rw_status res =
        run_stmt(s, &s->run_stmt[2], "INSERT INTO run_attributes(run, attribute, cluster) VALUES (?1,?2,?3)", err);
    if (res != RW_OK) return res;
    sqlite3_stmt *st = s->run_stmt[2];
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, attribute);
    sqlite3_bind_int64(st, 3, cluster);
    return step_insert(s, st, "insert run attribute", err);
}

/* ---- a run written in chunks ---------------------------------------------- */

/* How long rw_store_run_lock waits for another process's run write. */
#define RUN_LOCK_WAIT_SECONDS 120

/* Takes (wait non-zero: waiting for it) or tries the flock of DB.runlock. A
 * lock file rather than a row: the kernel drops the lock when its process
 * dies, so a reservation whose lock is free is certainly a dead write's,
 * whatever pids were reused. */
static rw_status run_lock(rw_store *s, int wait, int *got, rw_err *err) {
    *got = 0;
    if (s->run_lock >= 0) {
        *got = 1;
        return RW_OK;
    }
    if (s->readonly) return rw_fail(err, RW_ERR_PERM, "the database is open read-only");
    int fd = -1;
    rw_status st = rw_lock_file(s->run_lock_path, wait ? RUN_LOCK_WAIT_SECONDS : 0, &fd, err);
    if (st != RW_OK) return st;
    if (fd >= 0) {
        s->run_lock = fd;
        *got = 1;
        return RW_OK;
    }
    if (!wait) return RW_OK;
    return rw_fail(err, RW_ERR_EXISTS, "another process has held %s (writing a run) for over %d s", s->run_lock_path,
                   RUN_LOCK_WAIT_SECONDS);
}

rw_status rw_store_run_lock(rw_store *s, rw_err *err) {
    int got;
    return run_lock(s, 1, &got, err);
}

/* SQLite's default: a commit that leaves this many pages in the WAL
 * checkpoints it. */
#define WAL_AUTOCHECKPOINT 1000

/* While a run is written, this connection leaves checkpoints to the
 * writer's own (rw_store_run_checkpoint): a commit here would otherwise copy
 * the run's pages into the database while holding the caller's lock on the
 * connection, which is what the group commit waits for. */
static void autocheckpoint(rw_store *s, int on) {
    if (s->bg_ckpt || on == !s->no_autockpt) return;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint=%d", on ? WAL_AUTOCHECKPOINT : 0);
    if (exec(s, sql, NULL) == RW_OK) s->no_autockpt = !on;
}

void rw_store_run_unlock(rw_store *s) {
    if (!s || s->run_lock < 0) return;
    autocheckpoint(s, 1);
    close(s->run_lock); /* drops the flock */
    s->run_lock = -1;
}

static int on_wal_commit(void *ctx, sqlite3 *db, const char *name, int pages) {
    (void)db, (void)name;
    rw_store *s = ctx;
    __atomic_store_n(&s->wal_pages, pages, __ATOMIC_RELAXED);
    return SQLITE_OK;
}

rw_status rw_store_background_checkpoints(rw_store *s, rw_err *err) {
    if (s->readonly) return RW_OK;
    rw_status st = exec(s, "PRAGMA wal_autocheckpoint=0", err);
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

static rw_status open_checkpoint_connection(const char *path, sqlite3 **out, rw_err *err) {
    int rc = sqlite3_open_v2(path, out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(*out, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    if (rc == SQLITE_OK) return RW_OK;
    rw_status st = rw_fail(err, db_status(rc), "opening a connection for checkpoints: %s",
                           *out ? sqlite3_errmsg(*out) : sqlite3_errstr(rc));
    sqlite3_close(*out);
    *out = NULL;
    return st;
}

/* Passive: copies what it can without waiting for readers or writers. */
static rw_status checkpoint_passive(sqlite3 *db, rw_err *err) {
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) return rw_fail(err, db_status(rc), "checkpoint: %s", sqlite3_errmsg(db));
    return RW_OK;
}

rw_status rw_checkpointer_open(const rw_store *s, rw_checkpointer **out, rw_err *err) {
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
    *out = c;
    return RW_OK;
}

rw_status rw_store_checkpoint_tail(rw_store *s, rw_err *err) {
    if (s->readonly) return RW_OK;
    return checkpoint_passive(s->db, err);
}

rw_status rw_checkpointer_run(rw_checkpointer *c, rw_err *err) {
    return checkpoint_passive(c->db, err);
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

/* Deletes up to *budget rows (-1: all) of run from table, whose key within
 * a run is cols (a primary key lookup each); takes what it deleted off
 * *budget. */
static rw_status drop_rows(rw_store *s, const char *table, const char *cols, int64_t run, int64_t *budget,
                           rw_err *err) {
    char sql[256];
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE run = ?1 AND (%s) IN (SELECT %s FROM %s WHERE run = ?1 LIMIT ?2)",
             table, cols, cols, table);
    sqlite3_stmt *st = NULL;
    rw_status res = prepare(s, &st, sql, err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, *budget);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        res = db_fail(s, err, rc, "removing an unpublished run");
    else if (*budget >= 0)
        *budget -= sqlite3_changes64(s->db);
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_run_drop_unpublished(rw_store *s, uint64_t max_rows, int *done, rw_err *err) {
    *done = 0;
    if (s->run_lock < 0) return rw_fail(err, RW_ERR_INTERNAL, "removing unpublished runs needs the run lock");
    int64_t run = 0;
    rw_status st = query_int(s, "SELECT coalesce(min(id), 0) FROM run_writes", &run, err);
    if (st != RW_OK) return st;
    if (!run) {
        *done = 1;
        return RW_OK;
    }
    int64_t budget = max_rows ? (int64_t)max_rows : -1;
    autocheckpoint(s, 0);
    st = rw_store_begin_unsynced(s, err);
    if (st == RW_OK) st = drop_rows(s, "clusters", "id", run, &budget, err);
    if (st == RW_OK && budget) st = drop_rows(s, "run_accounts", "account", run, &budget, err);
    if (st == RW_OK && budget) st = drop_rows(s, "run_attributes", "attribute", run, &budget, err);
    if (st == RW_OK && budget) st = drop_rows(s, "run_members", "cluster, node", run, &budget, err);
    /* Budget left over: the run has no rows any more. */
    if (st == RW_OK && budget) {
        sqlite3_stmt *del = NULL;
        st = prepare(s, &del, "DELETE FROM run_writes WHERE id = ?1", err);
        if (st == RW_OK) {
            sqlite3_bind_int64(del, 1, run);
            st = step_insert(s, del, "removing a run reservation", err);
            sqlite3_finalize(del);
        }
    }
    if (st == RW_OK) st = rw_store_commit(s, 0, err);
    if (st != RW_OK) {
        rw_store_rollback(s);
        return st;
    }
    int64_t left = 0;
    st = query_int(s, "SELECT count(*) FROM run_writes", &left, err);
    *done = st == RW_OK && left == 0;
    return st;
}

rw_status rw_store_run_reserve(rw_store *s, int64_t started_at, int64_t *run, rw_err *err) {
    *run = 0;
    if (s->run_lock < 0) return rw_fail(err, RW_ERR_INTERNAL, "reserving a run id needs the run lock");
    sqlite3_stmt *st = NULL;
    autocheckpoint(s, 0);
    /* Unsynced: the WAL keeps commits in order, so a chunk that survives a
     * power loss comes with its reservation. */
    rw_status res = rw_store_begin_unsynced(s, err);
    if (res == RW_OK) res = prepare(s, &st, "INSERT INTO run_writes(id, started_at) VALUES (" NEXT_RUN_ID ", ?1)", err);
    if (res == RW_OK) {
        sqlite3_bind_int64(st, 1, started_at);
        res = step_insert(s, st, "reserve a run id", err);
        if (res == RW_OK) *run = sqlite3_last_insert_rowid(s->db);
        sqlite3_finalize(st);
    }
    if (res == RW_OK) res = rw_store_commit(s, 0, err);
    if (res == RW_OK) return RW_OK;
    *run = 0;
    rw_store_rollback(s);
    return res;
}

rw_status rw_store_run_publish(rw_store *s, const rw_run_row *run, rw_err *err) {
    sqlite3_stmt *st = NULL;
    int64_t id = 0;
    rw_status res = rw_store_begin(s, err);
    if (res == RW_OK) res = prepare(s, &st, "DELETE FROM run_writes WHERE id = ?1", err);
    if (res == RW_OK) {
        sqlite3_bind_int64(st, 1, run->id);
        res = step_insert(s, st, "publish a run", err);
        /* Only a reservation's rows are whole enough to publish. */
        if (res == RW_OK && sqlite3_changes64(s->db) != 1)
            res = rw_fail(err, RW_ERR_NOTFOUND, "run %lld is not reserved; nothing was published", (long long)run->id);
        sqlite3_finalize(st);
    }
    if (res == RW_OK) res = insert_run(s, run, &id, err);
    if (res == RW_OK) res = rw_store_commit(s, 1, err);
    if (res != RW_OK) {
        rw_store_rollback(s);
        return res;
    }
    rw_store_run_unlock(s);
    return RW_OK;
}

/* At a writable open: removes what runs crashed while being written left,
 * when no process is writing one now (one transaction: nobody waits yet). */
static rw_status drop_crashed_runs(rw_store *s, rw_err *err) {
    int64_t n = 0;
    rw_status st = query_int(s, "SELECT count(*) FROM run_writes", &n, err);
    if (st != RW_OK || !n) return st;
    int got = 0, done = 0;
    st = run_lock(s, 0, &got, err);
    if (st != RW_OK || !got) return st;
    while (st == RW_OK && !done) st = rw_store_run_drop_unpublished(s, 0, &done, err);
    rw_store_run_unlock(s);
    return st;
}

rw_status rw_store_latest_run(rw_store *s, int64_t *run, rw_err *err) {
    return query_int(s, "SELECT coalesce(max(id), 0) FROM runs", run, err);
}

rw_status rw_store_run_exists(rw_store *s, int64_t run, int *exists, rw_err *err) {
    char sql[96];
    int64_t n = 0;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE id = %lld", (long long)run);
    rw_status st = query_int(s, sql, &n, err);
    *exists = n > 0;
    return st;
}

rw_status rw_store_max_cluster_id(rw_store *s, uint32_t *out, rw_err *err) {
    int64_t v = 0;
    rw_status st =
        query_int(s, "SELECT coalesce(max(id), 0) FROM clusters WHERE run IN (SELECT id FROM runs)", &v, err);
    *out = (uint32_t)v;
    return st;
}

rw_status rw_store_run_membership(rw_store *s, int64_t run, void (*cb)(void *ctx, uint32_t node, uint32_t cluster),
                                  void *ctx, rw_err *err) {
    static const char *const sql[2] = {
        "SELECT account, cluster FROM run_accounts WHERE run = ?1 AND cluster != 0" PUBLISHED,
        "SELECT attribute, cluster FROM run_attributes WHERE run = ?1" PUBLISHED};
    for (int q = 0; q < 2; q++) {
        sqlite3_stmt *st = NULL;
        rw_status res = prepare(s, &st, sql[q], err);
        if (res != RW_OK) return res;
        sqlite3_bind_int64(st, 1, run);
        int rc, have;
        while ((have = next_row(st, &rc)) > 0)
            cb(ctx, (uint32_t)sqlite3_column_int64(st, 0), (uint32_t)sqlite3_column_int64(st, 1));
        sqlite3_finalize(st);
        if (have < 0) return db_fail(s, err, rc, "reading a run's membership");
    }
    return RW_OK;
}

#define SCORE_COLS "r.account, a.ext, r.score, r.flagged, r.cluster, r.reasons"

/* Steps a prepared statement over run_accounts rows joined with accounts
 * (SCORE_COLS), calling cb for each; finalizes it. */
static rw_status emit_scores(rw_store *s, sqlite3_stmt *st, rw_status (*cb)(void *ctx, const rw_score_row *r),
                             void *ctx, const char *what, rw_err *err) {
    rw_status res = RW_OK;
    int rc, have;
    while ((have = next_row(st, &rc)) > 0) {
        rw_score_row r = {.account = (uint32_t)sqlite3_column_int64(st, 0),
                          .ext = (const char *)sqlite3_column_text(st, 1),
                          .score = sqlite3_column_double(st, 2),
                          .flagged = sqlite3_column_int(st, 3),
                          .cluster = (uint32_t)sqlite3_column_int64(st, 4),
                          .reasons = (const char *)sqlite3_column_text(st, 5)};
        res = cb(ctx, &r);
        if (res != RW_OK) break;
    }
    if (res == RW_OK && have < 0) res = db_fail(s, err, rc, what);
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_run_scores(rw_store *s, int64_t run, rw_status (*cb)(void *ctx, const rw_score_row *r), void *ctx,
                              rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = prepare(s, &st,
                            "SELECT " SCORE_COLS " FROM run_accounts r"
                            " JOIN accounts a ON a.id = r.account WHERE r.run = ?1" PUBLISHED " ORDER BY r.account",
                            err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, run);
    return emit_scores(s, st, cb, ctx, "reading scores", err);
}

#define CLUSTER_COLS "id, score, flagged, accounts, attributes, first_seen, last_seen, features, reasons"

/* Steps a prepared statement over clusters rows (CLUSTER_COLS), calling cb
 * for each; finalizes it. */
static rw_status emit_clusters(rw_store *s, sqlite3_stmt *st, rw_status (*cb)(void *ctx, const rw_cluster_row *c),
                               void *ctx, rw_err *err) {
    rw_status res = RW_OK;
    int rc, have;
    while ((have = next_row(st, &rc)) > 0) {
        rw_cluster_row c = {.id = (uint32_t)sqlite3_column_int64(st, 0),
                            .score = sqlite3_column_double(st, 1),
                            .flagged = sqlite3_column_int(st, 2),
                            .accounts = (uint32_t)sqlite3_column_int64(st, 3),
                            .attributes = (uint32_t)sqlite3_column_int64(st, 4),
                            .first_seen = sqlite3_column_int64(st, 5),
                            .last_seen = sqlite3_column_int64(st, 6),
                            .features = (const char *)sqlite3_column_text(st, 7),
                            .reasons = (const char *)sqlite3_column_text(st, 8)};
        res = cb(ctx, &c);
        if (res != RW_OK) break;
    }
    if (res == RW_OK && have < 0) res = db_fail(s, err, rc, "reading clusters");
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_run_clusters(rw_store *s, int64_t run, double min_score, uint32_t cluster_id, uint64_t limit,
                                rw_status (*cb)(void *ctx, const rw_cluster_row *c), void *ctx, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res =
        prepare(s, &st,
                "SELECT " CLUSTER_COLS " FROM clusters WHERE run = ?1 AND score >= ?2 AND (?3 = 0 OR id = ?3)" PUBLISHED
                " ORDER BY score DESC, accounts DESC, id LIMIT ?4",
                err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_double(st, 2, min_score);
    sqlite3_bind_int64(st, 3, cluster_id);
    sqlite3_bind_int64(st, 4, limit ? (sqlite3_int64)limit : -1);
    return emit_clusters(s, st, cb, ctx, err);
}

rw_status rw_store_get_run(rw_store *s, int64_t run, rw_run_row *out, char *params, char *summary, size_t text_size,
                           rw_err *err) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    rw_status res = prepare(
        s, &st, "SELECT id, started_at, finished_at, events, model_version, summary, params FROM runs WHERE id = ?1",
        err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, run);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        out->started_at = sqlite3_column_int64(st, 1);
        out->finished_at = sqlite3_column_int64(st, 2);
        out->events = (uint64_t)sqlite3_column_int64(st, 3);
        out->model_version = sqlite3_column_int(st, 4);
        const char *sm = (const char *)sqlite3_column_text(st, 5);
        const char *pm = (const char *)sqlite3_column_text(st, 6);
        snprintf(summary, text_size, "%s", sm ? sm : "{}");
        snprintf(params, text_size, "%s", pm ? pm : "{}");
        out->summary = summary;
        out->params = params;
    } else if (rc == SQLITE_DONE) {
        res = rw_fail(err, RW_ERR_NOTFOUND, "no run %lld", (long long)run);
    } else {
        res = db_fail(s, err, rc, "reading a run");
    }
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_model_latest(rw_store *s, int *version, char *text, size_t size, rw_err *err) {
    *version = 0;
    if (size) text[0] = 0;
    sqlite3_stmt *st = NULL;
    rw_status res = prepare(s, &st, "SELECT version, weights FROM models ORDER BY version DESC LIMIT 1", err);
    if (res != RW_OK) return res;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int(st, 0);
        const char *w = (const char *)sqlite3_column_text(st, 1);
        snprintf(text, size, "%s", w ? w : "");
    } else if (rc != SQLITE_DONE) {
        res = db_fail(s, err, rc, "reading the model");
    }
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_model_put(rw_store *s, const char *text, const char *note, int *version, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = rw_store_begin(s, err);
    if (res != RW_OK) return res;
    res = prepare(s, &st, "INSERT INTO models(created_at, weights, note) VALUES (unixepoch(), ?1, ?2)", err);
    if (res == RW_OK) {
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, note ? note : "", -1, SQLITE_STATIC);
        res = step_insert(s, st, "insert model", err);
        *version = (int)sqlite3_last_insert_rowid(s->db);
        sqlite3_finalize(st);
    }
    if (res == RW_OK) return rw_store_commit(s, 1, err);
    rw_store_rollback(s);
    return res;
}

rw_status rw_store_set_sync_full(rw_store *s, int on, rw_err *err) {
    rw_status st = exec(s, on ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", err);
    if (st == RW_OK) s->sync_full = on != 0;
    return st;
}

rw_status rw_store_run_clusters_page(rw_store *s, int64_t run, double min_score, double after_score, uint32_t after_id,
                                     uint64_t limit, rw_status (*cb)(void *ctx, const rw_cluster_row *c), void *ctx,
                                     rw_err *err) {
    sqlite3_stmt *st = NULL;
    /* Keyset pagination on (score DESC, id ASC): stable while other runs are
     * written, and no OFFSET scan. */
    rw_status res =
        prepare(s, &st,
                "SELECT " CLUSTER_COLS " FROM clusters WHERE run = ?1 AND score >= ?2"
                " AND (?4 = 0 OR score < ?3 OR (score = ?3 AND id > ?4))" PUBLISHED " ORDER BY score DESC, id LIMIT ?5",
                err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_double(st, 2, min_score);
    sqlite3_bind_double(st, 3, after_score);
    sqlite3_bind_int64(st, 4, after_id);
    sqlite3_bind_int64(st, 5, limit ? (sqlite3_int64)limit : -1);
    return emit_clusters(s, st, cb, ctx, err);
}

rw_status rw_store_cluster_members(rw_store *s, int64_t run, uint32_t cluster, uint64_t limit,
                                   rw_status (*cb)(void *ctx, const rw_score_row *r), void *ctx, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res =
        prepare(s, &st,
                "SELECT " SCORE_COLS " FROM run_members m JOIN run_accounts r ON r.run = m.run AND r.account = m.node"
                " JOIN accounts a ON a.id = r.account WHERE m.run = ?1 AND m.cluster = ?2 AND m.cluster != 0" PUBLISHED
                " ORDER BY r.score DESC, r.account LIMIT ?3",
                err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, cluster);
    sqlite3_bind_int64(st, 3, limit ? (sqlite3_int64)limit : -1);
    return emit_scores(s, st, cb, ctx, "reading a cluster's members", err);
}

rw_status rw_store_cluster_attributes(rw_store *s, int64_t run, uint32_t cluster,
                                      rw_status (*cb)(void *ctx, uint32_t attribute), void *ctx, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res =
        prepare(s, &st,
                "SELECT m.node FROM run_members m JOIN run_attributes t ON t.run = m.run AND t.attribute = m.node"
                " WHERE m.run = ?1 AND m.cluster = ?2" PUBLISHED " ORDER BY m.node",
                err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, cluster);
    int rc, have;
    while ((have = next_row(st, &rc)) > 0) {
        res = cb(ctx, (uint32_t)sqlite3_column_int64(st, 0));
        if (res != RW_OK) break;
    }
    if (res == RW_OK && have < 0) res = db_fail(s, err, rc, "reading a cluster's attributes");
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_run_account(rw_store *s, int64_t run, uint32_t account, rw_score_row *out, char *reasons,
                               size_t size, rw_err *err) {
    memset(out, 0, sizeof *out);
    if (size) reasons[0] = 0;
    sqlite3_stmt *st = NULL;
    rw_status res = prepare(
        s, &st, "SELECT score, flagged, cluster, reasons FROM run_accounts WHERE run = ?1 AND account = ?2" PUBLISHED,
        err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, account);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->account = account;
        out->score = sqlite3_column_double(st, 0);
        out->flagged = sqlite3_column_int(st, 1);
        out->cluster = (uint32_t)sqlite3_column_int64(st, 2);
        const char *r = (const char *)sqlite3_column_text(st, 3);
        snprintf(reasons, size, "%s", r ? r : "[]");
        out->reasons = reasons;
    } else if (rc == SQLITE_DONE) {
        res = rw_fail(err, RW_ERR_NOTFOUND, "account not in run %lld", (long long)run);
    } else {
        res = db_fail(s, err, rc, "reading an account's score");
    }
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_put_label(rw_store *s, const char *target_kind, int64_t target, int64_t run, const char *label,
                             const char *note, int64_t *id, rw_err *err) {
    sqlite3_stmt *st = NULL;
    *id = 0;
    rw_status res = rw_store_begin(s, err);
    if (res != RW_OK) return res;
    res = prepare(s, &st,
                  "INSERT INTO labels(target_kind, target, run, label, note, created_at)"
                  " VALUES (?1, ?2, nullif(?3, 0), ?4, ?5, unixepoch())",
                  err);
    if (res == RW_OK) {
        sqlite3_bind_text(st, 1, target_kind, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, target);
        sqlite3_bind_int64(st, 3, run);
        sqlite3_bind_text(st, 4, label, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, note ? note : "", -1, SQLITE_STATIC);
        res = step_insert(s, st, "insert label", err);
        if (res == RW_OK) *id = sqlite3_last_insert_rowid(s->db);
        sqlite3_finalize(st);
    }
    if (res == RW_OK) res = rw_store_commit(s, 1, err);
    if (res == RW_OK) return RW_OK;
    *id = 0;
    rw_store_rollback(s);
    return res;
}

rw_status rw_store_labels(rw_store *s, rw_status (*cb)(void *ctx, int on_cluster, int64_t target, int fraud), void *ctx,
                          rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res =
        prepare(s, &st, "SELECT target_kind = 'cluster', target, label = 'fraud' FROM labels ORDER BY id", err);
    if (res != RW_OK) return res;
    int rc, have;
    while ((have = next_row(st, &rc)) > 0) {
        res = cb(ctx, sqlite3_column_int(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int(st, 2));
        if (res != RW_OK) break;
    }
    if (res == RW_OK && have < 0) res = db_fail(s, err, rc, "reading labels");
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_target_labels(rw_store *s, const char *target_kind, int64_t target, uint64_t limit,
                                 rw_status (*cb)(void *ctx, const rw_label_row *l), void *ctx, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = prepare(s, &st,
                            "SELECT id, coalesce(run, 0), created_at, label = 'fraud', note FROM labels"
                            " WHERE target_kind = ?1 AND target = ?2 ORDER BY id DESC LIMIT ?3",
                            err);
    if (res != RW_OK) return res;
    sqlite3_bind_text(st, 1, target_kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, target);
    sqlite3_bind_int64(st, 3, limit ? (int64_t)limit : -1);
    int rc, have;
    while ((have = next_row(st, &rc)) > 0) {
        rw_label_row l = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
                          sqlite3_column_int(st, 3), (const char *)sqlite3_column_text(st, 4)};
        res = cb(ctx, &l);
        if (res != RW_OK) break;
    }
    if (res == RW_OK && have < 0) res = db_fail(s, err, rc, "reading labels");
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_event_scores(rw_store *s, void (*cb)(void *ctx, uint32_t account, double score), void *ctx,
                                rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res =
        prepare(s, &st, "SELECT account, max(score) FROM events WHERE score IS NOT NULL GROUP BY account", err);
    if (res != RW_OK) return res;
    int rc, have;
    while ((have = next_row(st, &rc)) > 0) cb(ctx, (uint32_t)sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1));
    if (have < 0) res = db_fail(s, err, rc, "reading online scores");
    sqlite3_finalize(st);
    return res;
}

/* ---- erasure and retention ----------------------------------------------- */

/* Creates temp.name (empty) and fills it with ids. */
static rw_status temp_ids(rw_store *s, const char *name, const uint32_t *ids, size_t n, rw_err *err) {
    char sql[160];
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS temp.%s; CREATE TEMP TABLE %s(id INTEGER PRIMARY KEY);", name,
             name);
    rw_status st = exec(s, sql, err);
    if (st != RW_OK) return st;
    snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO temp.%s(id) VALUES (?1)", name);
    sqlite3_stmt *ins = NULL;
    st = prepare(s, &ins, sql, err);
    for (size_t i = 0; st == RW_OK && i < n; i++) {
        sqlite3_bind_int64(ins, 1, ids[i]);
        st = step_insert(s, ins, "erasure: collecting ids", err);
    }
    sqlite3_finalize(ins);
    return st;
}

/* Runs one statement with ?1 = v (when it has one); adds the rows it changed
 * to *changes (may be NULL). */
static rw_status exec_changes(rw_store *s, const char *sql, int64_t v, uint64_t *changes, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = prepare(s, &st, sql, err);
    if (res != RW_OK) return res;
    if (sqlite3_bind_parameter_count(st) > 0) sqlite3_bind_int64(st, 1, v);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        res = db_fail(s, err, rc, sql);
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
    rw_status res = prepare(s, &st, "SELECT id FROM runs UNION SELECT id FROM run_writes ORDER BY id", err);
    if (res != RW_OK) return res;
    size_t cap = 0;
    int rc, have;
    while ((have = next_row(st, &rc)) > 0) {
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
    if (res == RW_OK && have < 0) res = db_fail(s, err, rc, "reading runs");
    sqlite3_finalize(st);
    return res;
}

/* The deletions, inside the open transaction. */
static rw_status erase_rows(rw_store *s, int64_t cutoff, uint32_t next_node, rw_store_erased *n, rw_err *err) {
    /* No index on events.account: one scan of the log (a random-key index
     * would cost every insert; erasures are rare). */
    rw_status st = exec_changes(s, "DELETE FROM events WHERE ts < ?1 OR account IN (SELECT id FROM temp.rw_erase_acc)",
                                cutoff, &n->events, err);
    /* An attribute is erased only when no event names it any more, and a
     * subnet only when no IP has it as parent: the caller worked that out
     * from the graph; this checks it, since a dangling id would make the
     * database unloadable. */
    int64_t dangling = 0;
    if (st == RW_OK)
        st = query_int(s,
                       "SELECT count(*) FROM events WHERE ip IN (SELECT id FROM temp.rw_erase_attr)"
                       " OR device IN (SELECT id FROM temp.rw_erase_attr)"
                       " OR payment IN (SELECT id FROM temp.rw_erase_attr)",
                       &dangling, err);
    if (st == RW_OK && dangling == 0)
        st = query_int(s,
                       "SELECT count(*) FROM attributes WHERE parent IN (SELECT id FROM temp.rw_erase_attr)"
                       " AND id NOT IN (SELECT id FROM temp.rw_erase_attr)",
                       &dangling, err);
    if (st == RW_OK && dangling)
        return rw_fail(err, RW_ERR_INTERNAL, "erasure: %lld rows would still name an erased node; nothing was erased",
                       (long long)dangling);
    int64_t *runs = NULL;
    size_t nruns = 0;
    if (st == RW_OK) st = run_ids(s, &runs, &nruns, err);
    /* Per run, so each deletion is a primary-key lookup; members first,
     * found through the rows that name their cluster. */
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
        st = exec(s,
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
    if (st == RW_OK) st = exec(s, "INSERT OR REPLACE INTO meta(key, value) VALUES ('wal_scrub', 1)", err);
    if (st == RW_OK) st = exec(s, "DROP TABLE temp.rw_erase_acc; DROP TABLE temp.rw_erase_attr;", err);
    return st;
}

rw_status rw_store_erase(rw_store *s, const uint32_t *accounts, size_t naccounts, const uint32_t *attributes,
                         size_t nattributes, int64_t cutoff, uint32_t next_node, rw_store_erased *out, rw_err *err) {
    memset(out, 0, sizeof *out);
    if (s->readonly) return rw_fail(err, RW_ERR_PERM, "the database is open read-only");
    int64_t secure_was = 0;
    rw_status st = query_int(s, "PRAGMA secure_delete", &secure_was, err);
    if (st == RW_OK) st = exec(s, "PRAGMA secure_delete=ON", err);
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
        exec(s, "DROP TABLE IF EXISTS temp.rw_erase_acc; DROP TABLE IF EXISTS temp.rw_erase_attr;", NULL);
    }
    exec(s, secure_was ? "PRAGMA secure_delete=ON" : "PRAGMA secure_delete=OFF", NULL);
    if (st != RW_OK) return st;
    *out = n;
    out->committed = 1;
    /* The WAL still holds the pages as they were before: copy the new ones
     * into the database and truncate it to nothing. */
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    if (rc != SQLITE_OK)
        return rw_fail(err, RW_ERR_DB,
                       "erased, but the WAL could not be truncated (%s): another process is reading the database; "
                       "the old pages stay in %s-wal until its next checkpoint",
                       sqlite3_errstr(rc), sqlite3_db_filename(s->db, "main"));
    exec(s, "DELETE FROM meta WHERE key = 'wal_scrub'", NULL); /* a page of meta: no account id */
    return RW_OK;
}

rw_status rw_store_next_node(rw_store *s, uint32_t *out, rw_err *err) {
    int64_t v = 0;
    rw_status st = query_int(s, "SELECT coalesce(max(value), 0) FROM meta WHERE key = 'next_node'", &v, err);
    *out = v < 0 ? 0 : v > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    return st;
}

rw_status rw_store_probe(rw_store *s, rw_err *err) {
    return exec(s, "INSERT OR REPLACE INTO meta(key, value) VALUES ('last_probe', unixepoch())", err);
}

sqlite3 *rw_store_sqlite(rw_store *s) {
    return s->db;
}
