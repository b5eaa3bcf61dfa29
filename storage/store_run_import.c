/* A consistent copy of the database for a rescoring run by another process,
 * and the run it published brought back: rows copied from the attached copy
 * in bounded chunks under a run id reserved here, then published whole. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "storage_int.h"

#define COPY_SCHEMA "rw_copy"

rw_status rw_store_copy_to(const char *db, const char *dst, rw_err *err) {
    sqlite3 *src = NULL, *out = NULL;
    rw_status st = RW_OK;
    /* A private file (its -wal and -shm take its mode), fresh. */
    unlink(dst);
    int fd = open(dst, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return rw_fail(err, errno == EACCES || errno == EROFS ? RW_ERR_PERM : RW_ERR_IO, "cannot create %s: %s", dst,
                       strerror(errno));
    close(fd);
    int rc = sqlite3_open_v2(db, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_open_v2(dst, &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        st = rw_fail(err, rw_db_status(rc), "copying %s to %s: %s", db, dst, sqlite3_errstr(rc));
        goto done;
    }
    sqlite3_busy_timeout(src, RW_STORE_BUSY_MS);
    sqlite3_busy_timeout(out, RW_STORE_BUSY_MS);
    /* One step over every page: one read transaction on the source, so the
     * copy is one consistent state of it. In WAL mode a reader holds up no
     * writer: signups go on being committed meanwhile. */
    sqlite3_backup *b = sqlite3_backup_init(out, "main", src, "main");
    if (!b) {
        st = rw_fail(err, RW_ERR_DB, "copying %s to %s: %s", db, dst, sqlite3_errmsg(out));
        goto done;
    }
    rc = sqlite3_backup_step(b, -1);
    int frc = sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE || frc != SQLITE_OK)
        st = rw_fail(err, rw_db_status(rc != SQLITE_DONE ? rc : frc), "copying %s to %s: %s", db, dst,
                     sqlite3_errstr(rc != SQLITE_DONE ? rc : frc));
done:
    sqlite3_close(src);
    sqlite3_close(out);
    if (st != RW_OK) rw_store_copy_remove(dst);
    return st;
}

void rw_store_copy_remove(const char *dst) {
    static const char *const tails[] = {"", "-wal", "-shm", "-journal", ".lock", ".runlock"};
    char path[4200];
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++)
        if (snprintf(path, sizeof path, "%s%s", dst, tails[i]) < (int)sizeof path) unlink(path);
}

rw_status rw_store_import_attach(rw_store *s, const char *copy, rw_err *err) {
    sqlite3_stmt *st = NULL;
    rw_status res = rw_db_prepare(s, &st, "ATTACH DATABASE ?1 AS " COPY_SCHEMA, err);
    if (res != RW_OK) return res;
    sqlite3_bind_text(st, 1, copy, -1, SQLITE_STATIC);
    res = rw_db_step_insert(s, st, "attaching the rescoring's copy", err);
    sqlite3_finalize(st);
    return res;
}

void rw_store_import_detach(rw_store *s) {
    sqlite3_exec(s->db, "DETACH DATABASE " COPY_SCHEMA, NULL, NULL, NULL);
}

/* The run tables in the order a run is written, each with its key within
 * a run (one or two columns: k1, k2) and the rows it keeps: the rows of
 * nodes erased since the copy was taken are not brought back. */
typedef struct {
    const char *table, *k1, *k2, *cols, *keep;
} import_table;

static const import_table tables[] = {
    {"clusters", "id", NULL, "id, score, flagged, accounts, attributes, first_seen, last_seen, features, reasons", "1"},
    {"run_accounts", "account", NULL, "account, cluster, score, flagged, reasons",
     "EXISTS (SELECT 1 FROM main.accounts a WHERE a.id = r.account)"},
    {"run_attributes", "attribute", NULL, "attribute, cluster",
     "EXISTS (SELECT 1 FROM main.attributes a WHERE a.id = r.attribute)"},
    {"run_members", "cluster", "node", "cluster, node",
     "(EXISTS (SELECT 1 FROM main.accounts a WHERE a.id = r.node) OR"
     " EXISTS (SELECT 1 FROM main.attributes a WHERE a.id = r.node))"},
};
#define NTABLES (sizeof tables / sizeof tables[0])

/* The key of the last of the next max_rows rows of the copy's table after
 * im->after; *found 0 when there are none. */
static rw_status chunk_end_key(rw_store *s, const rw_run_import *im, const import_table *t, uint32_t max_rows,
                               int64_t last[2], int *found, rw_err *err) {
    char sql[512], order[64];
    const char *k2 = t->k2 ? t->k2 : "0";
    snprintf(order, sizeof order, "%s%s%s", t->k1, t->k2 ? ", " : "", t->k2 ? t->k2 : "");
    snprintf(sql, sizeof sql,
             "SELECT k1, k2 FROM (SELECT %s AS k1, %s AS k2 FROM " COPY_SCHEMA
             ".%s WHERE run = ?1 AND (%s, %s) > (?2, ?3)"
             " ORDER BY %s LIMIT ?4) ORDER BY k1 DESC, k2 DESC LIMIT 1",
             t->k1, k2, t->table, t->k1, k2, order);
    sqlite3_stmt *st = NULL;
    rw_status res = rw_db_prepare(s, &st, sql, err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, im->src_run);
    sqlite3_bind_int64(st, 2, im->after[0]);
    sqlite3_bind_int64(st, 3, im->after[1]);
    sqlite3_bind_int64(st, 4, max_rows);
    int rc;
    *found = rw_db_next_row(st, &rc);
    if (*found == 1) last[0] = sqlite3_column_int64(st, 0), last[1] = sqlite3_column_int64(st, 1);
    if (*found < 0) res = rw_db_fail(s, err, rc, "reading the rescoring's copy");
    sqlite3_finalize(st);
    return res;
}

/* Copies the rows with keys in (im->after, last] into the reserved run. */
static rw_status chunk_copy(rw_store *s, rw_run_import *im, const import_table *t, const int64_t last[2], rw_err *err) {
    char sql[1024];
    const char *k2 = t->k2 ? t->k2 : "0";
    snprintf(sql, sizeof sql,
             "INSERT INTO main.%s(run, %s) SELECT ?1, %s FROM " COPY_SCHEMA
             ".%s r WHERE run = ?2 AND (%s, %s) > (?3, ?4) AND (%s, %s) <= (?5, ?6) AND %s ORDER BY %s%s%s",
             t->table, t->cols, t->cols, t->table, t->k1, k2, t->k1, k2, t->keep, t->k1, t->k2 ? ", " : "",
             t->k2 ? t->k2 : "");
    sqlite3_stmt *st = NULL;
    rw_status res = rw_db_prepare(s, &st, sql, err);
    if (res != RW_OK) return res;
    sqlite3_bind_int64(st, 1, im->dst_run);
    sqlite3_bind_int64(st, 2, im->src_run);
    sqlite3_bind_int64(st, 3, im->after[0]);
    sqlite3_bind_int64(st, 4, im->after[1]);
    sqlite3_bind_int64(st, 5, last[0]);
    sqlite3_bind_int64(st, 6, last[1]);
    res = rw_db_step_insert(s, st, "bringing the run back from the rescoring's copy", err);
    if (res == RW_OK) im->rows += (uint64_t)sqlite3_changes64(s->db);
    sqlite3_finalize(st);
    return res;
}

rw_status rw_store_run_import_chunk(rw_store *s, rw_run_import *im, uint32_t max_rows, int *done, rw_err *err) {
    *done = 0;
    if (s->run_lock < 0) return rw_fail(err, RW_ERR_INTERNAL, "bringing a run back needs the run lock");
    while (im->table < (int)NTABLES) {
        const import_table *t = &tables[im->table];
        int64_t last[2];
        int found = 0;
        rw_status st = chunk_end_key(s, im, t, max_rows, last, &found, err);
        if (st != RW_OK) return st;
        if (found) {
            st = chunk_copy(s, im, t, last, err);
            if (st == RW_OK) im->after[0] = last[0], im->after[1] = last[1];
            return st;
        }
        im->table++; /* this table is done: the next one from its start */
        im->after[0] = im->after[1] = -1;
    }
    *done = 1;
    return RW_OK;
}
