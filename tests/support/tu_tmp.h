/* tests: the per-test folder. Criterion runs each test in a process of its
 * own and calls a suite's .init and .fini in that process, so the folder of
 * the test running is held here and read through tu_dir() and friends. */
#ifndef TU_TMP_H
#define TU_TMP_H

#include <stddef.h>
#include <stdio.h>

#include "testutil.h"

/* A suite's .init: a fresh /tmp/rwtest-XXXXXX (fails the test when none can
 * be made). */
void tu_tmp_init(void);
/* A suite's .fini: removes the folder (files made read-only by the test
 * included). */
void tu_tmp_fini(void);

/* The folder; its database dir/ringwatch.db (the name the binary uses by
 * default); an input file dir/in.jsonl. Valid until tu_tmp_fini. */
const char *tu_dir(void);
const char *tu_db(void);
const char *tu_input(void);
/* Makes tu_db() dir/name from now on (a test with several databases). */
void tu_db_use(const char *name);
/* Opens tu_input() for writing (the caller closes it or hands it to
 * tu_ingest_input); fails the test when it cannot. */
FILE *tu_input_begin(void);
/* dir/name, in one of a few buffers used in rotation (per thread), so that
 * several may appear in one call. */
const char *tu_path(const char *name);

/* Writes text to dir/name, mode 0600; fails the test when it cannot. */
void tu_write_in(const char *name, const char *text);
/* The whole of dir/name (caller frees); fails the test when unreadable. */
char *tu_read_in(const char *name, size_t *len);
/* Whether the bytes of needle occur in the database db, its WAL or its
 * shared memory (what an erasure must leave none of). */
int tu_in_db_files(const char *db, const char *needle);

/* One timeout for every suite of a test program: Criterion's runner leaks
 * 48 bytes (LeakSanitizer fails the run) when suites with different
 * timeouts run in parallel. The engine's longest test (embed) needs about
 * a minute under the sanitizers. */
#define RW_ENGINE_SUITE_TIMEOUT 300

#endif
