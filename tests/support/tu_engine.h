/* tests: an engine on a database file, and the steps the engine suites take
 * on one (record a line, ingest a file, rescore), each failing the test with
 * the library's message when it does not succeed. */
#ifndef TU_ENGINE_H
#define TU_ENGINE_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"

/* An engine on db, read-only or not (caller closes). */
rw_engine *tu_engine_open(const char *db, int readonly);

/* Parses one JSON line built from fmt into ev. */
void tu_event(rw_event_raw *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records one event built from fmt (durable or not) and returns its
 * decision. */
rw_decision tu_record(rw_engine *e, int durable, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
rw_decision tu_vrecord(rw_engine *e, int durable, const char *fmt, va_list ap);

/* Ingests the file at path (named in.jsonl in messages); with all_good,
 * every line must be good. */
rw_ingest_stats tu_ingest(rw_engine *e, const char *path, int all_good);

/* Closes f (opened by tu_input_begin) and ingests tu_input(); every line
 * must be good. */
rw_ingest_stats tu_ingest_input(rw_engine *e, FILE *f);

/* One rescoring with rp (NULL: the defaults); its summary. */
rw_rescore_summary tu_rescore(rw_engine *e, const rw_rescore_params *rp);

#endif
