/* The event log: the append-only write path, and the read path that
 * rebuilds the in-memory graph from it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_int.h"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_ACCOUNT] = "INSERT INTO accounts(id, ext, first_seen) VALUES (?1, ?2, ?3)",
    [ST_ATTRIBUTE] = "INSERT INTO attributes(id, kind, hash, parent, first_seen) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_EVENT] = ("INSERT INTO events(ts, type, account, ip, device, payment, score, stopped)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
};

rw_status rw_events_prepare(rw_store *s, rw_err *err) {
    for (int i = 0; i < ST_COUNT; i++) {
        int rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
        if (rc != SQLITE_OK) return rw_db_fail(s, err, rc, "preparing statements");
    }
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
    return rw_db_step_insert(s, st, "insert account", err);
}

rw_status rw_store_put_attribute(rw_store *s, uint32_t id, rw_kind kind, const rw_hash *h, uint32_t parent,
                                 int64_t first_seen, rw_err *err) {
    if (s->key_state == RW_KEY_PENDING) {
        rw_status res = rw_key_write(s, err);
        if (res != RW_OK) return res;
    }
    sqlite3_stmt *st = s->stmt[ST_ATTRIBUTE];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, (int)kind);
    sqlite3_bind_blob(st, 3, h->b, RW_HASH_BYTES, SQLITE_STATIC);
    bind_node(st, 4, parent);
    sqlite3_bind_int64(st, 5, first_seen);
    return rw_db_step_insert(s, st, "insert attribute", err);
}

rw_status rw_store_put_event_scored(rw_store *s, int64_t ts, rw_event_type type, uint32_t account,
                                    const uint32_t attr[RW_EVENT_ATTRS], double score, int stopped, rw_err *err) {
    sqlite3_stmt *st = s->stmt[ST_EVENT];
    sqlite3_bind_int64(st, 1, ts);
    sqlite3_bind_int(st, 2, (int)type);
    sqlite3_bind_int64(st, 3, account);
    for (int i = 0; i < RW_EVENT_ATTRS; i++) bind_node(st, 4 + i, attr[i]);
    if (isnan(score))
        sqlite3_bind_null(st, 7);
    else
        sqlite3_bind_double(st, 7, score);
    if (stopped)
        sqlite3_bind_int(st, 8, 1);
    else
        sqlite3_bind_null(st, 8);
    return rw_db_step_insert(s, st, "insert event", err);
}

rw_status rw_store_put_event(rw_store *s, int64_t ts, rw_event_type type, uint32_t account,
                             const uint32_t attr[RW_EVENT_ATTRS], rw_err *err) {
    return rw_store_put_event_scored(s, ts, type, account, attr, NAN, 0, err);
}

static uint32_t column_node(sqlite3_stmt *st, int col) {
    if (sqlite3_column_type(st, col) == SQLITE_NULL) return RW_STORE_NONE;
    sqlite3_int64 v = sqlite3_column_int64(st, col);
    return v < 0 || v >= (sqlite3_int64)RW_STORE_NONE ? RW_STORE_NONE - 1 : (uint32_t)v;
}

static rw_status load_nodes(rw_store *s, const rw_store_loader *cb, void *ctx, rw_err *err) {
    sqlite3_stmt *acc = NULL, *att = NULL;
    rw_status st = RW_OK;
    int rc = sqlite3_prepare_v2(s->db, "SELECT id, ext, first_seen FROM accounts ORDER BY id", -1, &acc, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->db, "SELECT id, kind, hash, parent, first_seen FROM attributes ORDER BY id", -1,
                                &att, NULL);
    if (rc != SQLITE_OK) {
        st = rw_db_fail(s, err, rc, "loading nodes");
        goto done;
    }
    int ha = rw_db_next_row(acc, &rc), hb = ha < 0 ? 0 : rw_db_next_row(att, &rc);
    while (ha > 0 || hb > 0) {
        sqlite3_int64 ida = ha > 0 ? sqlite3_column_int64(acc, 0) : INT64_MAX;
        sqlite3_int64 idb = hb > 0 ? sqlite3_column_int64(att, 0) : INT64_MAX;
        if (ida < idb) {
            const char *ext = (const char *)sqlite3_column_text(acc, 1);
            int len = sqlite3_column_bytes(acc, 1);
            st = cb->account(ctx, (uint32_t)ida, ext ? ext : "", (size_t)len, sqlite3_column_int64(acc, 2));
            ha = rw_db_next_row(acc, &rc);
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
            hb = rw_db_next_row(att, &rc);
        }
        if (st != RW_OK) goto done;
        if (ha < 0 || hb < 0) break;
    }
    if (ha < 0 || hb < 0) st = rw_db_fail(s, err, rc, "loading nodes");
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
    if (rc != SQLITE_OK) return rw_db_fail(s, err, rc, "loading events");
    int have;
    while ((have = rw_db_next_row(ev, &rc)) > 0) {
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
    if (have < 0) st = rw_db_fail(s, err, rc, "loading events");
done:
    sqlite3_finalize(ev);
    return st;
}

rw_status rw_store_load(rw_store *s, const rw_store_loader *cb, void *ctx, rw_err *err) {
    rw_status st = rw_db_exec(s, "BEGIN", err);
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
        rw_status st = rw_db_query_int(s, sql[i], &v[i], err);
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
    if (rc != SQLITE_OK) return rw_db_fail(s, err, rc, "integrity_check");
    rw_status res = RW_OK;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        if (!r || strcmp(r, "ok") != 0) res = rw_fail(err, RW_ERR_CORRUPT, "integrity_check: %s", r ? r : "?");
    } else {
        res = rw_db_fail(s, err, rc, "integrity_check");
    }
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_stopped_accounts(rw_store *s, void (*cb)(void *ctx, uint32_t account), void *ctx, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res =
        rw_db_prepare(s, &st, "SELECT DISTINCT account FROM events WHERE stopped IS NOT NULL ORDER BY account", err);
    if (res != RW_OK) return res;
    int rc, have;
    while ((have = rw_db_next_row(st, &rc)) > 0) cb(ctx, (uint32_t)sqlite3_column_int64(st, 0));
    if (have < 0) res = rw_db_fail(s, err, rc, "reading the stopped signups");
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_account_events(rw_store *s, uint32_t account, uint64_t limit,
                                  rw_status (*cb)(void *ctx, const rw_event_row *ev), void *ctx, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = rw_db_prepare(s, &st,
                                  "SELECT seq, ts, type, ip, device, payment, score FROM events"
                                  " WHERE account = ?1 ORDER BY seq DESC LIMIT ?2",
                                  err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, account);
    sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : -1);
    int rc, have;
    while ((have = rw_db_next_row(st, &rc)) > 0) {
        rw_event_row ev = {.seq = sqlite3_column_int64(st, 0),
                           .ts = sqlite3_column_int64(st, 1),
                           .type = sqlite3_column_int(st, 2),
                           .score = sqlite3_column_type(st, 6) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 6)};
        for (int i = 0; i < RW_EVENT_ATTRS; i++) ev.attr[i] = column_node(st, 3 + i);
        res = cb(ctx, &ev);
        if (res != RW_OK) break;
    }
    if (res == RW_OK && have < 0) res = rw_db_fail(s, err, rc, "reading an account's events");
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_events_index(rw_store *s, int on, rw_err *err) {
    return rw_db_exec(s,
                      on ? "CREATE INDEX IF NOT EXISTS events_by_account ON events(account);"
                         : "DROP INDEX IF EXISTS events_by_account;",
                      err);
}
