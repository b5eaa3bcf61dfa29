/* The schema and its migrations: a file is checked to be ours (or empty)
 * and brought up to this build's version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_int.h"

/* 'RWCH': marks a file as ours so a foreign SQLite database is never
 * migrated into a ringwatch one. */
#define APPLICATION_ID 0x52574348

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
    /* 6: the hashing key's check value, in meta as 'key_check' (hex). SQL
     * cannot compute it: the first open with the key fills it in
     * (rw_store_use_key). The version itself is the point: a build that does
     * not compare the key refuses this database instead of writing into it
     * with another database's key. */
    "INSERT OR IGNORE INTO meta(key, value) VALUES ('key_check', NULL);",
    /* 7: the signup model learns from the deployment (store_learn.c). */
    RW_STORE_LEARN_SCHEMA,
    /* 8: who asked: labels' author and the audit table (rw_audit_columns
     * adds them when missing, whatever version a branch gave this step). */
    "",
    /* 9: an account's events are listed (GET /v1/accounts/{id}/events) and
     * erased through this index instead of a scan of the whole log. Account
     * ids are mostly recent ones, so inserts land near the index's end;
     * what it costs bulk ingest is in docs/DESIGN.md. */
    "CREATE INDEX IF NOT EXISTS events_by_account ON events(account);",
    /* 10: events.stopped, whether a signup was reviewed or blocked on its
     * own evidence (NULL: not, or not scored), so a restart counts the
     * stopped signups on each attribute as the process before it did
     * (engine/stops.c). Added by stopped_column: a database migrated back
     * and forth keeps the column and must still migrate. */
    "",
};
#define MIGRATION_COUNT ((int)(sizeof migrations / sizeof migrations[0]))

int rw_store_schema_version(void) {
    return MIGRATION_COUNT;
}

static rw_status stopped_column(rw_store *s, rw_err *err) {
    return rw_db_add_column(s, "events", "stopped", "INTEGER", err);
}

/* Steps done in code after a version's SQL (columns SQLite cannot add
 * only when missing). */
static const struct {
    int version;
    rw_status (*run)(rw_store *s, rw_err *err);
} coded_steps[] = {
    {8, rw_audit_columns},
    {10, stopped_column},
};

/* Checks the file is ours (or empty) and brings its schema up to date. */
rw_status rw_schema_migrate(rw_store *s, const char *path, const rw_store_key *key, rw_err *err) {
    int64_t app = 0, tables = 0, version = 0;
    rw_status st = rw_db_query_int(s, "PRAGMA application_id", &app, err);
    if (st == RW_ERR_CORRUPT || st == RW_ERR_DB)
        return rw_fail(err, RW_ERR_CORRUPT, "%s is not a ringwatch database (or is corrupt): %s", path,
                       sqlite3_errmsg(s->db));
    if (st != RW_OK) return st;
    st = rw_db_query_int(s, "SELECT count(*) FROM sqlite_schema", &tables, err);
    if (st != RW_OK) {
        /* err already says what to do about a damaged file; keep it. */
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return rw_fail(err, RW_ERR_CORRUPT, "%s is unreadable: %s", path, why);
    }
    if (app != APPLICATION_ID && tables > 0)
        return rw_fail(err, RW_ERR_CORRUPT, "%s is an SQLite database of another program; refusing to touch it", path);
    if (tables > 0) {
        st = rw_db_query_int(s, "SELECT max(version) FROM schema_version", &version, err);
        if (st != RW_OK) return rw_fail(err, RW_ERR_CORRUPT, "%s has no schema_version table", path);
    }
    if (version > MIGRATION_COUNT)
        return rw_fail(err, RW_ERR_CORRUPT, "%s has schema version %lld, newer than this build's %d; upgrade ringwatch",
                       path, (long long)version, MIGRATION_COUNT);
    int stored = 0;
    if (key && tables > 0) st = rw_key_verify(s, key, &stored, err); /* meta exists from version 1 */
    if (st != RW_OK || version == MIGRATION_COUNT) return st;
    if (s->readonly)
        return rw_fail(err, RW_ERR_PERM, "%s needs a schema migration (version %lld to %d) but was opened read-only",
                       path, (long long)version, MIGRATION_COUNT);
    st = rw_db_exec(s, "BEGIN IMMEDIATE", err);
    if (st != RW_OK) return st;
    if (tables == 0) {
        char sql[128];
        snprintf(sql, sizeof sql, "PRAGMA application_id=%d; CREATE TABLE schema_version(version INTEGER NOT NULL);",
                 APPLICATION_ID);
        st = rw_db_exec(s, sql, err);
    }
    for (int v = (int)version; st == RW_OK && v < MIGRATION_COUNT; v++) {
        st = rw_db_exec(s, migrations[v], err);
        for (size_t k = 0; st == RW_OK && k < sizeof coded_steps / sizeof coded_steps[0]; k++)
            if (coded_steps[k].version == v + 1) st = coded_steps[k].run(s, err);
        if (st == RW_OK) {
            char sql[96];
            snprintf(sql, sizeof sql, "INSERT INTO schema_version(version) VALUES (%d)", v + 1);
            st = rw_db_exec(s, sql, err);
        }
    }
    if (st == RW_OK) return rw_db_exec(s, "COMMIT", err);
    rw_err_prefix(err, "migrating %s: ", path);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}
