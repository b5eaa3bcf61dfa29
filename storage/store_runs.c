/* Writing runs: in one transaction, or in chunks under the run lock, with
 * unpublished rows invisible until the run is published. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage_int.h"

/* The next run id: after every published run and every reservation. */
#define NEXT_RUN_ID                                                                                                    \
    "(SELECT max(m) + 1 FROM (SELECT coalesce(max(id), 0) AS m FROM runs"                                              \
    " UNION ALL SELECT coalesce(max(id), 0) FROM run_writes))"

/* Inserts the runs row of run (with id run->id, or the next one when it is 0);
 * *id the id it got. */
static rw_status insert_run(rw_store *s, const rw_run_row *run, int64_t *id, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res =
        rw_db_prepare(s, &st,
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
    res = rw_db_step_insert(s, st, "insert run", err);
    if (res == RW_OK) *id = sqlite3_last_insert_rowid(s->db);
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_put_run(rw_store *s, rw_run_row *run, rw_err *err) {
    run->id = 0;
    return insert_run(s, run, &run->id, err);
}

/* ---- rows of a run: one, or many at once ------------------------------------ */

static void bind_cluster(sqlite3_stmt *q, int b, int64_t run, const void *row) {
    const rw_cluster_row *c = row;
    sqlite3_bind_int64(q, b + 1, run);
    sqlite3_bind_int64(q, b + 2, c->id);
    sqlite3_bind_double(q, b + 3, c->score);
    sqlite3_bind_int(q, b + 4, c->flagged);
    sqlite3_bind_int64(q, b + 5, c->accounts);
    sqlite3_bind_int64(q, b + 6, c->attributes);
    sqlite3_bind_int64(q, b + 7, c->first_seen);
    sqlite3_bind_int64(q, b + 8, c->last_seen);
    sqlite3_bind_text(q, b + 9, c->features, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, b + 10, c->reasons, -1, SQLITE_STATIC);
}

static void bind_account(sqlite3_stmt *q, int b, int64_t run, const void *row) {
    const rw_run_account_put *r = row;
    sqlite3_bind_int64(q, b + 1, run);
    sqlite3_bind_int64(q, b + 2, r->account);
    sqlite3_bind_int64(q, b + 3, r->cluster);
    sqlite3_bind_double(q, b + 4, r->score);
    sqlite3_bind_int(q, b + 5, r->flagged);
    if (r->reasons)
        sqlite3_bind_text(q, b + 6, r->reasons, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, b + 6);
}

static void bind_attribute(sqlite3_stmt *q, int b, int64_t run, const void *row) {
    const rw_run_node_put *r = row;
    sqlite3_bind_int64(q, b + 1, run);
    sqlite3_bind_int64(q, b + 2, r->node);
    sqlite3_bind_int64(q, b + 3, r->cluster);
}

static void bind_member(sqlite3_stmt *q, int b, int64_t run, const void *row) {
    const rw_run_node_put *r = row;
    sqlite3_bind_int64(q, b + 1, run);
    sqlite3_bind_int64(q, b + 2, r->cluster);
    sqlite3_bind_int64(q, b + 3, r->node);
}

/* The run's tables, rows put from parameter b + 1 on (index: rw_store's
 * run_stmt and run_many). */
static const struct {
    const char *head, *row, *what;
    int columns;
    size_t size; /* of one row as the caller gives it */
    void (*bind)(sqlite3_stmt *q, int b, int64_t run, const void *row);
} many[4] = {
    {"INSERT INTO run_accounts(run, account, cluster, score, flagged, reasons) VALUES ", "(?,?,?,?,?,?)",
     "insert run accounts", 6, sizeof(rw_run_account_put), bind_account},
    {"INSERT INTO run_attributes(run, attribute, cluster) VALUES ", "(?,?,?)", "insert run attributes", 3,
     sizeof(rw_run_node_put), bind_attribute},
    {"INSERT INTO run_members(run, cluster, node) VALUES ", "(?,?,?)", "insert run members", 3, sizeof(rw_run_node_put),
     bind_member},
    {"INSERT INTO clusters(run, id, score, flagged, accounts, attributes, first_seen, last_seen, features, reasons)"
     " VALUES ",
     "(?,?,?,?,?,?,?,?,?,?)", "insert clusters", 10, sizeof(rw_cluster_row), bind_cluster},
};

/* The statement inserting rows rows of table t, prepared on first use
 * into *slot, reset otherwise. */
static rw_status many_stmt(rw_store *s, sqlite3_stmt **slot, int t, int rows, rw_err *err) {
    if (*slot) {
        sqlite3_reset(*slot);
        return RW_OK;
    }
    size_t hl = strlen(many[t].head), rl = strlen(many[t].row), size = hl + (size_t)rows * (rl + 1) + 1;
    char *sql = malloc(size);
    if (!sql) return rw_fail(err, RW_ERR_NOMEM, "out of memory for a statement");
    memcpy(sql, many[t].head, hl);
    size_t at = hl;
    for (int i = 0; i < rows; i++) {
        if (i) sql[at++] = ',';
        memcpy(sql + at, many[t].row, rl);
        at += rl;
    }
    sql[at] = 0;
    rw_status st = rw_db_prepare(s, slot, sql, err);
    free(sql);
    return st;
}

/* n rows of table t: RW_STORE_PUT_MANY to a statement, then the rest one
 * at a time. */
static rw_status put_many(rw_store *s, int t, int64_t run, const void *rows, size_t n, rw_err *err) {
    const uint8_t *at = rows;
    rw_status st = RW_OK;
    size_t i = 0;
    for (; st == RW_OK && n - i >= RW_STORE_PUT_MANY; i += RW_STORE_PUT_MANY) {
        st = many_stmt(s, &s->run_many[t], t, RW_STORE_PUT_MANY, err);
        for (int k = 0; st == RW_OK && k < RW_STORE_PUT_MANY; k++)
            many[t].bind(s->run_many[t], many[t].columns * k, run, at + (i + k) * many[t].size);
        if (st == RW_OK) st = rw_db_step_insert(s, s->run_many[t], many[t].what, err);
    }
    for (; st == RW_OK && i < n; i++) {
        st = many_stmt(s, &s->run_stmt[t], t, 1, err);
        if (st == RW_OK) many[t].bind(s->run_stmt[t], 0, run, at + i * many[t].size);
        if (st == RW_OK) st = rw_db_step_insert(s, s->run_stmt[t], many[t].what, err);
    }
    return st;
}

rw_status rw_store_put_run_accounts(rw_store *s, int64_t run, const rw_run_account_put *rows, size_t n, rw_err *err) {
    return put_many(s, 0, run, rows, n, err);
}

rw_status rw_store_put_run_attributes(rw_store *s, int64_t run, const rw_run_node_put *rows, size_t n, rw_err *err) {
    return put_many(s, 1, run, rows, n, err);
}

rw_status rw_store_put_run_members(rw_store *s, int64_t run, const rw_run_node_put *rows, size_t n, rw_err *err) {
    return put_many(s, 2, run, rows, n, err);
}

rw_status rw_store_put_clusters(rw_store *s, int64_t run, const rw_cluster_row *rows, size_t n, rw_err *err) {
    return put_many(s, 3, run, rows, n, err);
}

rw_status rw_store_put_cluster(rw_store *s, int64_t run, const rw_cluster_row *c, rw_err *err) {
    return put_many(s, 3, run, c, 1, err);
}

rw_status rw_store_put_run_account(rw_store *s, int64_t run, uint32_t account, uint32_t cluster, double score,
                                   int flagged, const char *reasons, rw_err *err) {
    rw_run_account_put r = {
        .account = account, .cluster = cluster, .score = score, .flagged = flagged, .reasons = reasons};
    return put_many(s, 0, run, &r, 1, err);
}

rw_status rw_store_put_run_attribute(rw_store *s, int64_t run, uint32_t attribute, uint32_t cluster, rw_err *err) {
    rw_run_node_put r = {.node = attribute, .cluster = cluster};
    return put_many(s, 1, run, &r, 1, err);
}

rw_status rw_store_put_run_member(rw_store *s, int64_t run, uint32_t cluster, uint32_t node, rw_err *err) {
    rw_run_node_put r = {.node = node, .cluster = cluster};
    return put_many(s, 2, run, &r, 1, err);
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

void rw_store_run_unlock(rw_store *s) {
    if (!s || s->run_lock < 0) return;
    rw_wal_autocheckpoint(s, 1);
    close(s->run_lock); /* drops the flock */
    s->run_lock = -1;
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
    rw_status res = rw_db_prepare(s, &st, sql, err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, *budget);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        res = rw_db_fail(s, err, rc, "removing an unpublished run");
    else if (*budget >= 0)
        *budget -= sqlite3_changes64(s->db);
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_run_drop_unpublished(rw_store *s, uint64_t max_rows, int *done, rw_err *err) {
    *done = 0;
    if (s->run_lock < 0) return rw_fail(err, RW_ERR_INTERNAL, "removing unpublished runs needs the run lock");
    int64_t run = 0;
    rw_status st = rw_db_query_int(s, "SELECT coalesce(min(id), 0) FROM run_writes", &run, err);
    if (st != RW_OK) return st;
    if (!run) {
        *done = 1;
        return RW_OK;
    }
    int64_t budget = max_rows ? (int64_t)max_rows : -1;
    rw_wal_autocheckpoint(s, 0);
    st = rw_store_begin_unsynced(s, err);
    if (st == RW_OK) st = drop_rows(s, "clusters", "id", run, &budget, err);
    if (st == RW_OK && budget) st = drop_rows(s, "run_accounts", "account", run, &budget, err);
    if (st == RW_OK && budget) st = drop_rows(s, "run_attributes", "attribute", run, &budget, err);
    if (st == RW_OK && budget) st = drop_rows(s, "run_members", "cluster, node", run, &budget, err);
    /* Budget left over: the run has no rows any more. */
    if (st == RW_OK && budget) {
        sqlite3_stmt *del = NULL;
        st = rw_db_prepare(s, &del, "DELETE FROM run_writes WHERE id = ?1", err);
        if (st == RW_OK) {
            sqlite3_bind_int64(del, 1, run);
            st = rw_db_step_insert(s, del, "removing a run reservation", err);
            sqlite3_finalize(del);
        }
    }
    if (st == RW_OK) st = rw_store_commit(s, 0, err);
    if (st != RW_OK) {
        rw_store_rollback(s);
        return st;
    }
    int64_t left = 0;
    st = rw_db_query_int(s, "SELECT count(*) FROM run_writes", &left, err);
    *done = st == RW_OK && left == 0;
    return st;
}

rw_status rw_store_run_reserve(rw_store *s, int64_t started_at, int64_t *run, rw_err *err) {
    *run = 0;
    if (s->run_lock < 0) return rw_fail(err, RW_ERR_INTERNAL, "reserving a run id needs the run lock");
    sqlite3_stmt *st = NULL;
    rw_wal_autocheckpoint(s, 0);
    /* Unsynced: the WAL keeps commits in order, so a chunk that survives a
     * power loss comes with its reservation. */
    rw_status res = rw_store_begin_unsynced(s, err);
    if (res == RW_OK)
        res = rw_db_prepare(s, &st, "INSERT INTO run_writes(id, started_at) VALUES (" NEXT_RUN_ID ", ?1)", err);
    if (res == RW_OK) {
        sqlite3_bind_int64(st, 1, started_at);
        res = rw_db_step_insert(s, st, "reserve a run id", err);
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
    if (res == RW_OK) res = rw_db_prepare(s, &st, "DELETE FROM run_writes WHERE id = ?1", err);
    if (res == RW_OK) {
        sqlite3_bind_int64(st, 1, run->id);
        res = rw_db_step_insert(s, st, "publish a run", err);
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
rw_status rw_runs_drop_crashed(rw_store *s, rw_err *err) {
    int64_t n = 0;
    rw_status st = rw_db_query_int(s, "SELECT count(*) FROM run_writes", &n, err);
    if (st != RW_OK || !n) return st;
    int got = 0, done = 0;
    st = run_lock(s, 0, &got, err);
    if (st != RW_OK || !got) return st;
    while (st == RW_OK && !done) st = rw_store_run_drop_unpublished(s, 0, &done, err);
    rw_store_run_unlock(s);
    return st;
}
