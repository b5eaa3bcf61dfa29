/* The ingest ceiling: one small row per event into SQLite with a prepared
 * statement in large transactions, WAL, same pragmas as ringwatch. Reads the
 * events file only to count its lines, so the figure is pure SQLite. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: bench_sqlite_ceiling EVENTS.jsonl DB\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) return perror(argv[1]), 1;
    long n = 0;
    char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < got; i++) n += buf[i] == '\n';
    fclose(f);
    remove(argv[2]);
    sqlite3 *db;
    sqlite3_stmt *st;
    if (sqlite3_open(argv[2], &db) != SQLITE_OK) return 1;
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;"
                 "CREATE TABLE events(seq INTEGER PRIMARY KEY, ts INTEGER, account INTEGER, attr INTEGER)",
                 NULL, NULL, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO events(ts, account, attr) VALUES (?1, ?2, ?3)", -1, &st, NULL);
    double t0 = rw_now();
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (long i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, 1790000000 + i);
        sqlite3_bind_int64(st, 2, i / 2);
        sqlite3_bind_int64(st, 3, i * 7);
        if (sqlite3_step(st) != SQLITE_DONE) return fprintf(stderr, "%s\n", sqlite3_errmsg(db)), 1;
        sqlite3_reset(st);
        if (i % 131072 == 131071) {
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
            sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        }
    }
    sqlite3_exec(db, "PRAGMA synchronous=FULL; COMMIT", NULL, NULL, NULL);
    double dt = rw_now() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    printf("ceiling_rows=%ld ceiling_seconds=%.3f ceiling_rows_per_s=%.0f\n", n, dt, (double)n / dt);
    return 0;
}
