/* Reading runs (scores, clusters, members) and models; rows of an
 * unpublished run are never seen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_int.h"

/* Rows of a run are seen only once it is published (its runs row
 * inserted): a run written in chunks is invisible until whole. ?1 is the
 * run. */
#define PUBLISHED " AND EXISTS (SELECT 1 FROM runs WHERE runs.id = ?1)"

rw_status rw_store_latest_run(rw_store *s, int64_t *run, rw_err *err) {
    return rw_db_query_int(s, "SELECT coalesce(max(id), 0) FROM runs", run, err);
}

rw_status rw_store_run_exists(rw_store *s, int64_t run, int *exists, rw_err *err) {
    char sql[96];
    int64_t n = 0;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE id = %lld", (long long)run);
    rw_status st = rw_db_query_int(s, sql, &n, err);
    *exists = n > 0;
    return st;
}

rw_status rw_store_max_cluster_id(rw_store *s, uint32_t *out, rw_err *err) {
    int64_t v = 0;
    rw_status st =
        rw_db_query_int(s, "SELECT coalesce(max(id), 0) FROM clusters WHERE run IN (SELECT id FROM runs)", &v, err);
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
        rw_status res = rw_db_prepare(s, &st, sql[q], err);
        if (res != RW_OK) return res;
        sqlite3_bind_int64(st, 1, run);
        int rc, have;
        while ((have = rw_db_next_row(st, &rc)) > 0)
            cb(ctx, (uint32_t)sqlite3_column_int64(st, 0), (uint32_t)sqlite3_column_int64(st, 1));
        sqlite3_finalize(st);
        if (have < 0) return rw_db_fail(s, err, rc, "reading a run's membership");
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
    while ((have = rw_db_next_row(st, &rc)) > 0) {
        rw_score_row r = {.account = (uint32_t)sqlite3_column_int64(st, 0),
                          .ext = (const char *)sqlite3_column_text(st, 1),
                          .score = sqlite3_column_double(st, 2),
                          .flagged = sqlite3_column_int(st, 3),
                          .cluster = (uint32_t)sqlite3_column_int64(st, 4),
                          .reasons = (const char *)sqlite3_column_text(st, 5)};
        res = cb(ctx, &r);
        if (res != RW_OK) break;
    }
    if (res == RW_OK && have < 0) res = rw_db_fail(s, err, rc, what);
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_run_scores(rw_store *s, int64_t run, rw_status (*cb)(void *ctx, const rw_score_row *r), void *ctx,
                              rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res =
        rw_db_prepare(s, &st,
                      "SELECT " SCORE_COLS " FROM run_accounts r"
                      " JOIN accounts a ON a.id = r.account WHERE r.run = ?1" PUBLISHED " ORDER BY r.account",
                      err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, run);
    return emit_scores(s, st, cb, ctx, "reading scores", err);
}

/* The attributes counted are the ones a cluster's attribute list shows:
 * the /24 and /48 subnets the run also put in it are not listed anywhere. */
#define CLUSTER_COLS                                                                                                   \
    "id, score, flagged, accounts,"                                                                                    \
    " (SELECT count(*) FROM run_members m JOIN attributes t ON t.id = m.node WHERE m.run = clusters.run"               \
    "  AND m.cluster = clusters.id AND t.kind != 4),"                                                                  \
    " first_seen, last_seen, features, reasons,"                                                                       \
    " (SELECT label FROM labels WHERE target_kind = 'cluster' AND target = clusters.id ORDER BY id DESC LIMIT 1)"

/* Steps a prepared statement over clusters rows (CLUSTER_COLS), calling cb
 * for each; finalizes it. */
static rw_status emit_clusters(rw_store *s, sqlite3_stmt *st, rw_status (*cb)(void *ctx, const rw_cluster_row *c),
                               void *ctx, rw_err *err) {
    rw_status res = RW_OK;
    int rc, have;
    while ((have = rw_db_next_row(st, &rc)) > 0) {
        rw_cluster_row c = {.id = (uint32_t)sqlite3_column_int64(st, 0),
                            .score = sqlite3_column_double(st, 1),
                            .flagged = sqlite3_column_int(st, 2),
                            .accounts = (uint32_t)sqlite3_column_int64(st, 3),
                            .attributes = (uint32_t)sqlite3_column_int64(st, 4),
                            .first_seen = sqlite3_column_int64(st, 5),
                            .last_seen = sqlite3_column_int64(st, 6),
                            .features = (const char *)sqlite3_column_text(st, 7),
                            .reasons = (const char *)sqlite3_column_text(st, 8),
                            .label = (const char *)sqlite3_column_text(st, 9)};
        res = cb(ctx, &c);
        if (res != RW_OK) break;
    }
    if (res == RW_OK && have < 0) res = rw_db_fail(s, err, rc, "reading clusters");
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_run_clusters(rw_store *s, int64_t run, double min_score, uint32_t cluster_id, uint64_t limit,
                                rw_status (*cb)(void *ctx, const rw_cluster_row *c), void *ctx, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = rw_db_prepare(s, &st,
                                  "SELECT " CLUSTER_COLS
                                  " FROM clusters WHERE run = ?1 AND score >= ?2 AND (?3 = 0 OR id = ?3)" PUBLISHED
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
    rw_status res = rw_db_prepare(
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
        res = rw_db_fail(s, err, rc, "reading a run");
    }
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_run_clusters_page(rw_store *s, int64_t run, double min_score, double after_score, uint32_t after_id,
                                     uint64_t limit, rw_status (*cb)(void *ctx, const rw_cluster_row *c), void *ctx,
                                     rw_err *err) {
    rw_cluster_filter f = {.min_score = min_score, .flagged = -1, .labelled = -1};
    return rw_store_run_clusters_filtered(s, run, &f, after_score, after_id, limit, cb, ctx, err);
}

rw_status rw_store_run_clusters_filtered(rw_store *s, int64_t run, const rw_cluster_filter *f, double after_score,
                                         uint32_t after_id, uint64_t limit,
                                         rw_status (*cb)(void *ctx, const rw_cluster_row *c), void *ctx, rw_err *err) {
    sqlite3_stmt *st = NULL;
    /* Keyset pagination on (score DESC, id ASC): stable while other runs are
     * written, and no OFFSET scan. */
    rw_status res = rw_db_prepare(s, &st,
                                  "SELECT " CLUSTER_COLS " FROM clusters WHERE run = ?1 AND score >= ?2"
                                  " AND (?4 = 0 OR score < ?3 OR (score = ?3 AND id > ?4))"
                                  " AND (?6 < 0 OR flagged = ?6) AND (?7 < 0 OR ?7 = EXISTS (SELECT 1 FROM labels"
                                  " WHERE target_kind = 'cluster' AND target = clusters.id))"
                                  " AND (?8 = 0 OR last_seen >= ?8) AND (?9 = 0 OR first_seen < ?9)" PUBLISHED
                                  " ORDER BY score DESC, id LIMIT ?5",
                                  err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_double(st, 2, f->min_score);
    sqlite3_bind_double(st, 3, after_score);
    sqlite3_bind_int64(st, 4, after_id);
    sqlite3_bind_int64(st, 5, limit ? (sqlite3_int64)limit : -1);
    sqlite3_bind_int(st, 6, f->flagged);
    sqlite3_bind_int(st, 7, f->labelled);
    sqlite3_bind_int64(st, 8, f->since);
    sqlite3_bind_int64(st, 9, f->until);
    return emit_clusters(s, st, cb, ctx, err);
}

rw_status rw_store_cluster_members(rw_store *s, int64_t run, uint32_t cluster, uint64_t limit,
                                   rw_status (*cb)(void *ctx, const rw_score_row *r), void *ctx, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = rw_db_prepare(
        s, &st,
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
        rw_db_prepare(s, &st,
                      "SELECT m.node FROM run_members m JOIN run_attributes t ON t.run = m.run AND t.attribute = m.node"
                      " WHERE m.run = ?1 AND m.cluster = ?2" PUBLISHED " ORDER BY m.node",
                      err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, cluster);
    int rc, have;
    while ((have = rw_db_next_row(st, &rc)) > 0) {
        res = cb(ctx, (uint32_t)sqlite3_column_int64(st, 0));
        if (res != RW_OK) break;
    }
    if (res == RW_OK && have < 0) res = rw_db_fail(s, err, rc, "reading a cluster's attributes");
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_run_account(rw_store *s, int64_t run, uint32_t account, rw_score_row *out, char *reasons,
                               size_t size, rw_err *err) {
    memset(out, 0, sizeof *out);
    if (size) reasons[0] = 0;
    sqlite3_stmt *st = NULL;
    rw_status res = rw_db_prepare(
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
        res = rw_db_fail(s, err, rc, "reading an account's score");
    }
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_model_latest(rw_store *s, int *version, char *text, size_t size, rw_err *err) {
    *version = 0;
    if (size) text[0] = 0;
    sqlite3_stmt *st = NULL;
    rw_status res = rw_db_prepare(s, &st, "SELECT version, weights FROM models ORDER BY version DESC LIMIT 1", err);
    if (res != RW_OK) return res;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int(st, 0);
        const char *w = (const char *)sqlite3_column_text(st, 1);
        snprintf(text, size, "%s", w ? w : "");
    } else if (rc != SQLITE_DONE) {
        res = rw_db_fail(s, err, rc, "reading the model");
    }
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_model_put(rw_store *s, const char *text, const char *note, int *version, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = rw_store_begin(s, err);
    if (res != RW_OK) return res;
    res = rw_db_prepare(s, &st, "INSERT INTO models(created_at, weights, note) VALUES (unixepoch(), ?1, ?2)", err);
    if (res == RW_OK) {
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, note ? note : "", -1, SQLITE_STATIC);
        res = rw_db_step_insert(s, st, "insert model", err);
        *version = (int)sqlite3_last_insert_rowid(s->db);
        sqlite3_finalize(st);
    }
    if (res == RW_OK) return rw_store_commit(s, 1, err);
    rw_store_rollback(s);
    return res;
}
