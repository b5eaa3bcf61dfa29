/* tests: SQL on a database file for the Criterion suites, each query on a
 * connection of its own closed at once (an open reader would hold the WAL an
 * erasure truncates). Kept out of testutil.c: that is also linked into the
 * TSan program, which has neither Criterion nor SQLite. */
#ifndef TU_SQL_H
#define TU_SQL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Opens db read-only and steps the query sql to its first row (failing the
 * test when there is none); the caller reads it, then tu_sql_done, which
 * finalizes it and closes its connection. */
sqlite3_stmt *tu_sql_row(const char *db, const char *sql);
void tu_sql_done(sqlite3_stmt *st);

/* The first column of the first row of the query fmt on database db (opened
 * read-only); if_null when that value is NULL. Fails the test when the query
 * fails or has no row. */
int64_t tu_sql_int(const char *db, int64_t if_null, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same as text, into out (size bytes). */
void tu_sql_text(const char *db, char *out, size_t size, const char *sql);
/* Runs sql on a read-write connection; its SQLite result code. */
int tu_sql_exec(const char *db, const char *sql);

#endif
