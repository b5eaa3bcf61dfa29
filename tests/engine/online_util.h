/* engine tests of the online API: the fixture (a fresh folder and database
 * per test) and the helpers the test_online_*.c files share. Included once
 * per test file; a file uses some of the helpers. */
#ifndef ONLINE_UTIL_H
#define ONLINE_UTIL_H

#include <criterion/criterion.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"
#include "engine_int.h"
#include "testutil.h"

#define ONLINE_HELPER __attribute__((unused)) static

static char *dir;
static char db[512], input[512];

ONLINE_HELPER void setup(void) {
    dir = tu_tmpdir();
    cr_assert(dir);
    snprintf(db, sizeof db, "%s/o.db", dir);
    snprintf(input, sizeof input, "%s/in.jsonl", dir);
}
ONLINE_HELPER void teardown(void) {
    tu_rmtree(dir);
    free(dir);
}

/* ---- helpers -------------------------------------------------------------- */

#define T0  1790000000LL
#define DAY 86400LL

ONLINE_HELPER rw_engine *open_engine(int readonly) {
    rw_engine *e = NULL;
    rw_err err = {{0}};
    rw_engine_config cfg = {.db_path = db, .readonly = readonly};
    cr_assert_eq(rw_engine_open(&e, &cfg, &err), RW_OK, "open: %s", err.msg);
    return e;
}

/* Parses one JSON line built from fmt into ev. */
ONLINE_HELPER void vparse(rw_event_raw *ev, const char *fmt, va_list ap) {
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    rw_err err = {{0}};
    cr_assert_eq(rw_event_parse(ev, line, strlen(line), &err), RW_OK, "%s: %s", line, err.msg);
}

ONLINE_HELPER void parse(rw_event_raw *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ONLINE_HELPER void parse(rw_event_raw *ev, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vparse(ev, fmt, ap);
    va_end(ap);
}

/* Records one event (built from fmt) and returns its decision. */
ONLINE_HELPER rw_decision rec(rw_engine *e, int durable, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
ONLINE_HELPER rw_decision rec(rw_engine *e, int durable, const char *fmt, ...) {
    rw_event_raw *ev = malloc(sizeof *ev);
    cr_assert(ev);
    va_list ap;
    va_start(ap, fmt);
    vparse(ev, fmt, ap);
    va_end(ap);
    rw_decision d;
    memset(&d, 0xa5, sizeof d);
    rw_err err = {{0}};
    rw_status st = rw_engine_record(e, ev, 1, &d, durable, &err);
    free(ev);
    cr_assert_eq(st, RW_OK, "record: %s (%s)", rw_status_str(st), err.msg);
    return d;
}

/* (with tu_sql.h, included by the files that read the database) */
#define sql_int(...) tu_sql_int(db, 0, __VA_ARGS__)

ONLINE_HELPER rw_engine_counters counters(rw_engine *e) {
    rw_engine_counters c;
    rw_engine_get_counters(e, &c);
    return c;
}

ONLINE_HELPER rw_account_view *view(rw_engine *e, const char *ext) {
    rw_account_view *v = malloc(sizeof *v);
    cr_assert(v);
    rw_err err = {{0}};
    rw_status st = rw_engine_account_view(e, ext, strlen(ext), v, &err);
    cr_assert_eq(st, RW_OK, "account_view %s: %s (%s)", ext, rw_status_str(st), err.msg);
    return v;
}

ONLINE_HELPER int has_reason(const rw_decision *d, const char *needle) {
    for (size_t i = 0; i < d->nreasons && i < RW_REASONS_MAX; i++)
        if (strstr(d->reasons[i], needle)) return 1;
    return 0;
}

/* The reasons as one line; a few buffers in rotation, so that two calls can
 * share one message. */
ONLINE_HELPER const char *reasons_text(const rw_decision *d) {
    static __thread char bufs[4][RW_REASONS_MAX * 164];
    static __thread unsigned next;
    char *buf = bufs[next++ % 4];
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < d->nreasons && i < RW_REASONS_MAX; i++)
        at += (size_t)snprintf(buf + at, sizeof bufs[0] - at, "%s[%s]", i ? " " : "", d->reasons[i]);
    return buf;
}

ONLINE_HELPER FILE *begin_input(void) {
    FILE *f = fopen(input, "w");
    cr_assert(f, "cannot write %s", input);
    return f;
}

ONLINE_HELPER void ingest_input(rw_engine *e, FILE *f) {
    cr_assert_eq(fclose(f), 0);
    int fd = open(input, O_RDONLY);
    cr_assert(fd >= 0);
    rw_ingest_stats s;
    rw_err err = {{0}};
    rw_status st = rw_engine_ingest_fd(e, &s, fd, "in.jsonl", NULL, &err);
    close(fd);
    cr_assert_eq(st, RW_OK, "%s", err.msg);
    cr_assert_eq(s.bad_lines, 0);
}

/* Private singletons: own /24, device and card. */
ONLINE_HELPER void w_singletons(FILE *f, int n, int64_t t) {
    for (int i = 0; i < n; i++)
        fprintf(f,
                "{\"account\":\"b%04d\",\"ts\":%lld,\"ip\":\"100.%d.%d.7\",\"device\":\"dev-b%04d\","
                "\"payment\":\"tok-b%04d\"}\n",
                i, (long long)(t + (int64_t)i * 3607), i / 200, i % 200, i, i);
}

/* Households of three on one home IP, own devices and cards, days apart. */
ONLINE_HELPER void w_households(FILE *f, int n, int64_t t) {
    for (int h = 0; h < n; h++)
        for (int k = 0; k < 3; k++)
            fprintf(f,
                    "{\"account\":\"hh%03d-%d\",\"ts\":%lld,\"ip\":\"101.%d.%d.1\",\"device\":\"dev-hh%03d-%d\","
                    "\"payment\":\"tok-hh%03d-%d\"}\n",
                    h, k, (long long)(t + h * 5000LL + k * 3 * DAY), h / 200, h % 200, h, k, h, k);
}

/* Ring r, member k: one of two ring devices, the ring's card, an IP of its
 * own /24, signups 280 s apart (as in test_rescore.c). */
ONLINE_HELPER void w_ring_member(FILE *f, int r, int k, int64_t t) {
    fprintf(f,
            "{\"account\":\"r%d-%02d\",\"ts\":%lld,\"ip\":\"198.51.%d.%d\",\"device\":\"dev-r%d-%d\","
            "\"payment\":\"tok-r%d\"}\n",
            r, k, (long long)(t + k * 280LL), r, k + 10, r, k % 2, r);
}

ONLINE_HELPER rw_decision rec_ring_member(rw_engine *e, int r, int k, int64_t t) {
    return rec(e, 0,
               "{\"account\":\"r%d-%02d\",\"ts\":%lld,\"ip\":\"198.51.%d.%d\",\"device\":\"dev-r%d-%d\","
               "\"payment\":\"tok-r%d\"}",
               r, k, (long long)(t + k * 280LL), r, k + 10, r, k % 2, r);
}

ONLINE_HELPER rw_rescore_summary rescore(rw_engine *e) {
    rw_rescore_summary s;
    rw_err err = {{0}};
    rw_status st = rw_engine_rescore(e, NULL, &s, NULL, NULL, &err);
    cr_assert_eq(st, RW_OK, "rescore: %s", err.msg);
    return s;
}

ONLINE_HELPER void flush(rw_engine *e) {
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_flush(e, &err), RW_OK, "flush: %s", err.msg);
}

#define RING 12

ONLINE_HELPER rw_engine *open_engine_at(const char *name) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    rw_engine *e = NULL;
    rw_err err = {{0}};
    rw_engine_config cfg = {.db_path = p};
    cr_assert_eq(rw_engine_open(&e, &cfg, &err), RW_OK, "open: %s", err.msg);
    return e;
}

typedef struct {
    uint32_t id[256];
    double score[256];
    size_t n;
} page_acc;

ONLINE_HELPER rw_status on_page_row(void *ctx, const rw_cluster_row *c) {
    page_acc *p = ctx;
    if (p->n < 256) p->id[p->n] = c->id, p->score[p->n] = c->score;
    p->n++;
    return RW_OK;
}

ONLINE_HELPER page_acc walk_pages(rw_engine *e, double min_score, uint64_t limit) {
    page_acc all = {0};
    double after_score = 0;
    uint32_t after_id = 0;
    for (int guard = 0; guard < 1000; guard++) {
        page_acc pg = {0};
        rw_err err = {{0}};
        cr_assert_eq(rw_engine_clusters_page(e, 0, min_score, after_score, after_id, limit, on_page_row, &pg, &err),
                     RW_OK, "%s", err.msg);
        cr_assert_leq(pg.n, limit);
        for (size_t i = 0; i < pg.n; i++) {
            cr_assert_lt(all.n, 256);
            all.id[all.n] = pg.id[i], all.score[all.n++] = pg.score[i];
        }
        if (pg.n < limit) return all;
        after_score = pg.score[pg.n - 1];
        after_id = pg.id[pg.n - 1];
    }
    cr_assert_fail("pagination does not end");
    return all;
}

typedef struct {
    char ext[64][32];
    double score[64];
    uint32_t cluster[64];
    size_t n;
} member_acc;

ONLINE_HELPER rw_status on_member_row(void *ctx, const rw_score_row *r) {
    member_acc *m = ctx;
    if (m->n < 64) {
        snprintf(m->ext[m->n], sizeof m->ext[0], "%s", r->ext ? r->ext : "(null)");
        m->score[m->n] = r->score;
        m->cluster[m->n] = r->cluster;
    }
    m->n++;
    return RW_OK;
}

/* Each test file's suite: a fresh folder per test. */
#define ONLINE_SUITE(name) TestSuite(name, .init = setup, .fini = teardown, .timeout = 120)

#endif
