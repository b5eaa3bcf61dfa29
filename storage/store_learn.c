/* What the signup model learns from: the features each signup was scored on
 * (logged in the group commit's transaction) and the models the nightly job
 * fitted, with their shadow trials and the decisions on them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "storage_int.h"

/* Steps a statement that returns no row. */
static rw_status run(rw_store *s, sqlite3_stmt *st, const char *what, rw_err *err) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? RW_OK : rw_db_fail(s, err, rc, what);
}

static void bind_text_or_null(sqlite3_stmt *st, int col, const char *s) {
    if (s)
        sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, col);
}

rw_status rw_store_featlog_put(rw_store *s, const rw_featlog_row *rows, size_t n, rw_err *err) {
    if (!n) return RW_OK;
    sqlite3 *db = s->db;
    /* Kept prepared: every group commit with a signup runs it, and parsing
     * it anew cost each commit more than a few rows' inserts. */
    if (!s->featlog_stmt) {
        int rc = sqlite3_prepare_v3(db,
                                    "INSERT INTO signup_features(ts, account, model, score, shadow_model, shadow, f)"
                                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                    -1, SQLITE_PREPARE_PERSISTENT, &s->featlog_stmt, NULL);
        if (rc != SQLITE_OK) return rw_db_fail(s, err, rc, "preparing the feature log's insert");
    }
    sqlite3_stmt *st = s->featlog_stmt;
    rw_status res = RW_OK;
    for (size_t i = 0; res == RW_OK && i < n; i++) {
        const rw_featlog_row *r = &rows[i];
        sqlite3_bind_int64(st, 1, r->ts);
        sqlite3_bind_int64(st, 2, r->account);
        sqlite3_bind_int(st, 3, r->model);
        sqlite3_bind_double(st, 4, r->score);
        sqlite3_bind_int(st, 5, r->shadow_model);
        if (isnan(r->shadow))
            sqlite3_bind_null(st, 6);
        else
            sqlite3_bind_double(st, 6, r->shadow);
        sqlite3_bind_blob(st, 7, r->blob, (int)r->len, SQLITE_STATIC);
        res = run(s, st, "logging signup features", err);
    }
    /* The blob is bound SQLITE_STATIC: no pointer to the caller's rows may
     * outlive the call. */
    sqlite3_clear_bindings(st);
    return res;
}

rw_status rw_store_featlog_scan(rw_store *s, int64_t from, int64_t to,
                                rw_status (*cb)(void *ctx, const rw_featlog_row *r), void *ctx, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = rw_db_prepare(s, &st,
                                  "SELECT ts, account, model, score, shadow_model, shadow, f FROM signup_features"
                                  " WHERE ts >= ?1 AND ts < ?2 ORDER BY ts, rowid",
                                  err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    int rc;
    while (res == RW_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rw_featlog_row r = {.ts = sqlite3_column_int64(st, 0),
                            .account = (uint32_t)sqlite3_column_int64(st, 1),
                            .model = sqlite3_column_int(st, 2),
                            .score = sqlite3_column_double(st, 3),
                            .shadow_model = sqlite3_column_int(st, 4),
                            .shadow = sqlite3_column_type(st, 5) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 5),
                            .blob = sqlite3_column_blob(st, 6),
                            .len = (size_t)sqlite3_column_bytes(st, 6)};
        res = cb(ctx, &r);
    }
    if (res == RW_OK && rc != SQLITE_DONE) res = rw_db_fail(s, err, rc, "reading signup features");
    sqlite3_finalize(st);
    return res;
}

static rw_status count_query(rw_store *s, const char *sql, int64_t arg, uint64_t *out, rw_err *err) {
    sqlite3 *db = s->db;
    sqlite3_stmt *st = NULL;
    *out = 0;
    rw_status res = rw_db_prepare(s, &st, sql, err);
    if (res != RW_OK) return res;
    if (sqlite3_bind_parameter_count(st)) sqlite3_bind_int64(st, 1, arg);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        res = rw_db_fail(s, err, rc, sql);
    else
        *out = (uint64_t)sqlite3_changes64(db);
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_featlog_prune(rw_store *s, int64_t before, uint64_t *deleted, rw_err *err) {
    uint64_t n = 0;
    rw_status st = count_query(s, "DELETE FROM signup_features WHERE ts < ?1", before, &n, err);
    if (deleted) *deleted = n;
    return st;
}

rw_status rw_store_featlog_count(rw_store *s, uint64_t *n, rw_err *err) {
    return count_query(s, "SELECT count(*) FROM signup_features", 0, n, err);
}

rw_status rw_store_featlog_last(rw_store *s, uint64_t *ts, rw_err *err) {
    return count_query(s, "SELECT coalesce(max(ts), 0) FROM signup_features", 0, ts, err);
}

rw_status rw_store_online_model_add(rw_store *s, const rw_online_model_row *m, int *version, rw_err *err) {
    sqlite3 *db = s->db;
    sqlite3_stmt *st = NULL;
    *version = 0;
    rw_status res =
        rw_db_prepare(s, &st,
                      "INSERT INTO online_models(created_at, state, train_from, train_to, positives, negatives,"
                      " validation, shadow_from, model) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                      err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, m->created_at);
    sqlite3_bind_text(st, 2, m->state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, m->train_from);
    sqlite3_bind_int64(st, 4, m->train_to);
    sqlite3_bind_int64(st, 5, (int64_t)m->positives);
    sqlite3_bind_int64(st, 6, (int64_t)m->negatives);
    sqlite3_bind_text(st, 7, m->validation ? m->validation : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, m->shadow_from);
    sqlite3_bind_text(st, 9, m->model, -1, SQLITE_STATIC);
    res = run(s, st, "storing a signup model", err);
    if (res == RW_OK) *version = (int)sqlite3_last_insert_rowid(db);
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_online_model_decide(rw_store *s, int version, const char *state, int64_t at, const char *decision,
                                       int replaced, rw_err *err) {
    sqlite3 *db = s->db;
    sqlite3_stmt *st = NULL;
    rw_status res = rw_db_prepare(s, &st,
                                  "UPDATE online_models SET state = ?2, decided_at = ?3, decision = ?4,"
                                  " replaced = CASE WHEN ?5 > 0 THEN ?5 ELSE replaced END WHERE version = ?1",
                                  err);
    if (res != RW_OK) return res;
    sqlite3_bind_int(st, 1, version);
    sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, at);
    bind_text_or_null(st, 4, decision);
    sqlite3_bind_int(st, 5, replaced);
    res = run(s, st, "recording a decision on a signup model", err);
    sqlite3_finalize(st);
    if (res == RW_OK && sqlite3_changes(db) == 0)
        res = rw_fail(err, RW_ERR_NOTFOUND, "signup model %d does not exist", version);
    return res;
}

static const char *col_text(sqlite3_stmt *st, int col) {
    return sqlite3_column_type(st, col) == SQLITE_NULL ? NULL : (const char *)sqlite3_column_text(st, col);
}

rw_status rw_store_online_models(rw_store *s, int version, rw_status (*cb)(void *ctx, const rw_online_model_row *m),
                                 void *ctx, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res =
        rw_db_prepare(s, &st,
                      "SELECT version, created_at, state, train_from, train_to, positives, negatives, validation,"
                      " coalesce(shadow_from, 0), coalesce(decided_at, 0), decision, coalesce(replaced, 0), model"
                      " FROM online_models WHERE ?1 = 0 OR version = ?1 ORDER BY version DESC",
                      err);
    if (res != RW_OK) return res;
    sqlite3_bind_int(st, 1, version);
    int rc, rows = 0;
    while (res == RW_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rw_online_model_row m = {.version = sqlite3_column_int(st, 0),
                                 .created_at = sqlite3_column_int64(st, 1),
                                 .state = col_text(st, 2),
                                 .train_from = sqlite3_column_int64(st, 3),
                                 .train_to = sqlite3_column_int64(st, 4),
                                 .positives = (uint64_t)sqlite3_column_int64(st, 5),
                                 .negatives = (uint64_t)sqlite3_column_int64(st, 6),
                                 .validation = col_text(st, 7),
                                 .shadow_from = sqlite3_column_int64(st, 8),
                                 .decided_at = sqlite3_column_int64(st, 9),
                                 .decision = col_text(st, 10),
                                 .replaced = sqlite3_column_int(st, 11),
                                 .model = col_text(st, 12)};
        rows++;
        res = cb(ctx, &m);
    }
    if (res == RW_OK && rc != SQLITE_DONE) res = rw_db_fail(s, err, rc, "reading signup models");
    sqlite3_finalize(st);
    if (res == RW_OK && version > 0 && rows == 0)
        res = rw_fail(err, RW_ERR_NOTFOUND, "signup model %d does not exist", version);
    return res;
}

rw_status rw_store_online_in_force(rw_store *s, int *version, rw_err *err) {
    uint64_t v = 0;
    rw_status st =
        count_query(s, "SELECT coalesce((SELECT value FROM meta WHERE key = 'online_model'), 0)", 0, &v, err);
    *version = (int)v;
    return st;
}

rw_status rw_store_online_set_in_force(rw_store *s, int version, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = rw_db_prepare(s, &st, "INSERT OR REPLACE INTO meta(key, value) VALUES ('online_model', ?1)", err);
    if (res != RW_OK) return res;
    sqlite3_bind_int(st, 1, version);
    res = run(s, st, "setting the signup model in force", err);
    sqlite3_finalize(st);
    return res;
}
