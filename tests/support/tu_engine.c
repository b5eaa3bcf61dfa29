/* tests: an engine on a database file (see tu_engine.h). */
#include "tu_engine.h"

#include "tu_tmp.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

rw_engine *tu_engine_open(const char *db, int readonly) {
    rw_engine *e = NULL;
    rw_err err = {{0}};
    rw_engine_config cfg = {.db_path = db, .readonly = readonly};
    cr_assert_eq(rw_engine_open(&e, &cfg, &err), RW_OK, "open: %s", err.msg);
    return e;
}

static void vevent(rw_event_raw *ev, const char *fmt, va_list ap) {
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    rw_err err = {{0}};
    cr_assert_eq(rw_event_parse(ev, line, strlen(line), &err), RW_OK, "%s: %s", line, err.msg);
}

void tu_event(rw_event_raw *ev, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vevent(ev, fmt, ap);
    va_end(ap);
}

rw_decision tu_vrecord(rw_engine *e, int durable, const char *fmt, va_list ap) {
    rw_event_raw *ev = malloc(sizeof *ev); /* large: not on a worker thread's stack */
    cr_assert(ev);
    vevent(ev, fmt, ap);
    rw_decision d;
    memset(&d, 0xa5, sizeof d);
    rw_err err = {{0}};
    rw_status st = rw_engine_record(e, ev, 1, &d, durable, &err);
    free(ev);
    cr_assert_eq(st, RW_OK, "record: %s (%s)", rw_status_str(st), err.msg);
    return d;
}

rw_decision tu_record(rw_engine *e, int durable, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    rw_decision d = tu_vrecord(e, durable, fmt, ap);
    va_end(ap);
    return d;
}

rw_ingest_stats tu_ingest(rw_engine *e, const char *path, int all_good) {
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0, "cannot open %s", path);
    rw_ingest_stats s;
    rw_err err = {{0}};
    rw_status st = rw_engine_ingest_fd(e, &s, fd, "in.jsonl", NULL, &err);
    close(fd);
    cr_assert_eq(st, RW_OK, "%s", err.msg);
    if (all_good) cr_assert_eq(s.bad_lines, 0);
    return s;
}

rw_ingest_stats tu_ingest_input(rw_engine *e, FILE *f) {
    cr_assert_eq(fclose(f), 0);
    return tu_ingest(e, tu_input(), 1);
}

rw_rescore_summary tu_rescore(rw_engine *e, const rw_rescore_params *rp) {
    rw_rescore_summary s;
    rw_err err = {{0}};
    rw_status st = rw_engine_rescore(e, rp, &s, NULL, NULL, &err);
    cr_assert_eq(st, RW_OK, "rescore: %s", err.msg);
    return s;
}
