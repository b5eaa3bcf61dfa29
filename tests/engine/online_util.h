/* engine tests of the online API: the helpers the test_commit, test_score,
 * test_live, test_lookup and test_runs files share, over the fixtures of
 * tests/support (a fresh folder and database per test). Included once per
 * test file; a file uses some of the helpers. */
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
#include "tu_engine.h"
#include "tu_sql.h"
#include "tu_tmp.h"

#define ONLINE_HELPER __attribute__((unused)) static

/* ---- helpers -------------------------------------------------------------- */

#define T0  1790000000LL
#define DAY 86400LL

ONLINE_HELPER rw_engine *open_engine(int readonly) {
    return tu_engine_open(tu_db(), readonly);
}

/* The engine, with review and block thresholds the model does not reach:
 * what stops a signup is then one of the rules after the model (verdict.h,
 * stops.h, young.h). */
ONLINE_HELPER rw_engine *open_engine_rules_only(void) {
    rw_engine *e = open_engine(0);
    rw_online_params p = {.review = 0.995, .block = 0.999};
    rw_engine_set_online(e, &p);
    return e;
}

/* Parses one JSON line built from fmt into ev. */
#define parse(...) tu_event(__VA_ARGS__)
/* Records one event (built from fmt) and returns its decision. */
#define rec(...) tu_record(__VA_ARGS__)

#define sql_int(...) tu_sql_int(tu_db(), 0, __VA_ARGS__)

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

/* The node of kind k of account ext. */
ONLINE_HELPER uint32_t attr_of(rw_engine *e, const char *ext, rw_kind kind) {
    uint32_t a = rw_graph_find_account(e->graph, ext, strlen(ext)), n = 0;
    cr_assert_neq(a, RW_NODE_NONE);
    const rw_edge *ed = rw_graph_account_edges(e->graph, a, &n);
    for (uint32_t i = 0; i < n; i++)
        if (rw_graph_kind(e->graph, ed[i].attr) == kind) return ed[i].attr;
    cr_assert_fail("%s has no attribute of kind %d", ext, (int)kind);
    return RW_NODE_NONE;
}

#define begin_input()      tu_input_begin()
#define ingest_input(e, f) ((void)tu_ingest_input(e, f))

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

#define rescore(e) tu_rescore(e, NULL)

ONLINE_HELPER void flush(rw_engine *e) {
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_flush(e, &err), RW_OK, "flush: %s", err.msg);
}

#define RING 12

ONLINE_HELPER rw_engine *open_engine_at(const char *name) {
    return tu_engine_open(tu_path(name), 0);
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
#define ONLINE_SUITE(name) TestSuite(name, .init = tu_tmp_init, .fini = tu_tmp_fini, .timeout = RW_ENGINE_SUITE_TIMEOUT)

#endif
