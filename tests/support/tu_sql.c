/* tests: SQL on a database file (see tu_sql.h). */
#include "tu_sql.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>

/* A connection of its own per query, closed by tu_sql_done. */
sqlite3_stmt *tu_sql_row(const char *db, const char *sql) {
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(h));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(h));
    return st;
}

void tu_sql_done(sqlite3_stmt *st) {
    sqlite3 *h = sqlite3_db_handle(st);
    sqlite3_finalize(st);
    sqlite3_close(h);
}

int64_t tu_sql_int(const char *db, int64_t if_null, const char *fmt, ...) {
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    sqlite3_stmt *st = tu_sql_row(db, sql);
    int64_t v = sqlite3_column_type(st, 0) == SQLITE_NULL ? if_null : sqlite3_column_int64(st, 0);
    tu_sql_done(st);
    return v;
}

void tu_sql_text(const char *db, char *out, size_t size, const char *sql) {
    sqlite3_stmt *st = tu_sql_row(db, sql);
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    tu_sql_done(st);
}

int tu_sql_exec(const char *db, const char *sql) {
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    int rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
    sqlite3_close(h);
    return rc;
}
