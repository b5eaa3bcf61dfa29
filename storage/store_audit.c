/* The audit trail: who asked for labels, erasures and rescorings, and the
 * list of runs with what each one found. Labels keep their author in their
 * own row (so an erasure, which deletes an account's labels, takes the trail
 * of them too); the rest go to the audit table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_int.h"

rw_status rw_audit_columns(rw_store *s, rw_err *err) {
    /* Idempotent, so a database migrated by a branch that numbered this
     * step differently is brought to the same shape. */
    rw_status st = rw_db_exec(s,
                              "CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
                              " actor TEXT, action TEXT NOT NULL, target TEXT, detail TEXT)",
                              err);
    return st == RW_OK ? rw_db_add_column(s, "labels", "author", "TEXT", err) : st;
}

rw_status rw_store_put_audit(rw_store *s, const char *actor, const char *action, const char *target, const char *detail,
                             rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = rw_store_begin(s, err);
    if (res != RW_OK) return res;
    res = rw_db_prepare(
        s, &st, "INSERT INTO audit(at, actor, action, target, detail) VALUES (unixepoch(), ?1, ?2, ?3, ?4)", err);
    if (res == RW_OK) {
        sqlite3_bind_text(st, 1, actor && *actor ? actor : NULL, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, target, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, detail, -1, SQLITE_STATIC);
        res = rw_db_step_insert(s, st, "insert audit entry", err);
        sqlite3_finalize(st);
    }
    if (res == RW_OK) res = rw_store_commit(s, 1, err);
    if (res != RW_OK) rw_store_rollback(s);
    return res;
}

rw_status rw_store_audit(rw_store *s, uint64_t limit, rw_status (*cb)(void *ctx, const rw_audit_row *r), void *ctx,
                         rw_err *err) {
    sqlite3_stmt *st = NULL;
    /* Labels name their target by the id the API answers with. */
    rw_status res = rw_db_prepare(
        s, &st,
        "SELECT id, at, actor, action, target, detail FROM ("
        " SELECT l.id AS id, l.created_at AS at, l.author AS actor, 'label' AS action,"
        "  CASE l.target_kind WHEN 'cluster' THEN 'cluster:c' || l.target ELSE 'account:' || a.ext END AS target,"
        "  json_object('label', l.label, 'note', l.note, 'run', l.run) AS detail, 0 AS src"
        " FROM labels l LEFT JOIN accounts a ON l.target_kind = 'account' AND a.id = l.target"
        " UNION ALL SELECT id, at, actor, action, target, detail, 1 FROM audit)"
        " ORDER BY at DESC, src DESC, id DESC LIMIT ?1",
        err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, limit ? (int64_t)limit : -1);
    int rc, have;
    while ((have = rw_db_next_row(st, &rc)) > 0) {
        rw_audit_row r = {sqlite3_column_int64(st, 0),
                          sqlite3_column_int64(st, 1),
                          (const char *)sqlite3_column_text(st, 2),
                          (const char *)sqlite3_column_text(st, 3),
                          (const char *)sqlite3_column_text(st, 4),
                          (const char *)sqlite3_column_text(st, 5)};
        res = cb(ctx, &r);
        if (res != RW_OK) break;
    }
    if (res == RW_OK && have < 0) res = rw_db_fail(s, err, rc, "reading the audit trail");
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_runs(rw_store *s, uint64_t limit, rw_status (*cb)(void *ctx, const rw_run_row *r), void *ctx,
                        rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = rw_db_prepare(s, &st,
                                  "SELECT id, started_at, finished_at, events, coalesce(model_version, 0), params,"
                                  " summary FROM runs ORDER BY id DESC LIMIT ?1",
                                  err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, limit ? (int64_t)limit : -1);
    int rc, have;
    while ((have = rw_db_next_row(st, &rc)) > 0) {
        rw_run_row r = {.id = sqlite3_column_int64(st, 0),
                        .started_at = sqlite3_column_int64(st, 1),
                        .finished_at = sqlite3_column_int64(st, 2),
                        .events = (uint64_t)sqlite3_column_int64(st, 3),
                        .model_version = sqlite3_column_int(st, 4),
                        .params = (const char *)sqlite3_column_text(st, 5),
                        .summary = (const char *)sqlite3_column_text(st, 6)};
        res = cb(ctx, &r);
        if (res != RW_OK) break;
    }
    if (res == RW_OK && have < 0) res = rw_db_fail(s, err, rc, "reading runs");
    sqlite3_finalize(st);
    return res;
}
