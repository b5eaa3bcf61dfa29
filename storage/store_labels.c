/* Analysts' labels on accounts and clusters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_int.h"

rw_status rw_store_put_label(rw_store *s, const char *target_kind, int64_t target, int64_t run, const char *label,
                             const char *note, int64_t *id, rw_err *err) {
    return rw_store_put_label_by(s, target_kind, target, run, label, note, NULL, id, err);
}

rw_status rw_store_put_label_by(rw_store *s, const char *target_kind, int64_t target, int64_t run, const char *label,
                                const char *note, const char *author, int64_t *id, rw_err *err) {
    sqlite3_stmt *st = NULL;
    *id = 0;
    rw_status res = rw_store_begin(s, err);
    if (res != RW_OK) return res;
    res = rw_db_prepare(s, &st,
                        "INSERT INTO labels(target_kind, target, run, label, note, created_at, author)"
                        " VALUES (?1, ?2, nullif(?3, 0), ?4, ?5, unixepoch(), ?6)",
                        err);
    if (res == RW_OK) {
        sqlite3_bind_text(st, 1, target_kind, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, target);
        sqlite3_bind_int64(st, 3, run);
        sqlite3_bind_text(st, 4, label, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, note ? note : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, author && *author ? author : NULL, -1, SQLITE_STATIC);
        res = rw_db_step_insert(s, st, "insert label", err);
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
        rw_db_prepare(s, &st, "SELECT target_kind = 'cluster', target, label = 'fraud' FROM labels ORDER BY id", err);
    if (res != RW_OK) return res;
    int rc, have;
    while ((have = rw_db_next_row(st, &rc)) > 0) {
        res = cb(ctx, sqlite3_column_int(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int(st, 2));
        if (res != RW_OK) break;
    }
    if (res == RW_OK && have < 0) res = rw_db_fail(s, err, rc, "reading labels");
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_target_labels(rw_store *s, const char *target_kind, int64_t target, uint64_t limit,
                                 rw_status (*cb)(void *ctx, const rw_label_row *l), void *ctx, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = rw_db_prepare(s, &st,
                                  "SELECT id, coalesce(run, 0), created_at, label = 'fraud', note, author FROM labels"
                                  " WHERE target_kind = ?1 AND target = ?2 ORDER BY id DESC LIMIT ?3",
                                  err);
    if (res != RW_OK) return res;
    sqlite3_bind_text(st, 1, target_kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, target);
    sqlite3_bind_int64(st, 3, limit ? (int64_t)limit : -1);
    int rc, have;
    while ((have = rw_db_next_row(st, &rc)) > 0) {
        rw_label_row l = {sqlite3_column_int64(st, 0),
                          sqlite3_column_int64(st, 1),
                          sqlite3_column_int64(st, 2),
                          sqlite3_column_int(st, 3),
                          (const char *)sqlite3_column_text(st, 4),
                          (const char *)sqlite3_column_text(st, 5)};
        res = cb(ctx, &l);
        if (res != RW_OK) break;
    }
    if (res == RW_OK && have < 0) res = rw_db_fail(s, err, rc, "reading labels");
    sqlite3_finalize(st);
    return res;
}
