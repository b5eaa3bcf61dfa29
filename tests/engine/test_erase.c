/* engine: erasure and retention through the library. Erasing an account
 * removes exactly its rows (events, run rows, labels) and the attributes no
 * one else uses, leaves every other node's id, events and view as they were,
 * leaves no byte of its id in the database or WAL, and recording goes on
 * right after; retention erases what was not seen since the cutoff. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "tu_engine.h"
#include "tu_sql.h"
#include "tu_tmp.h"

TestSuite(erase, .init = tu_tmp_init, .fini = tu_tmp_fini, .timeout = RW_ENGINE_SUITE_TIMEOUT);

#define T0     1790000000LL
#define DAY    86400LL
#define VICTIM "erase-me-7f3c9a"

#define open_engine(readonly) tu_engine_open(tu_db(), readonly)
/* Records one event (built from fmt), durably. */
#define rec(e, ...) ((void)tu_record(e, 1, __VA_ARGS__))

#define sql_int(...) tu_sql_int(tu_db(), 0, __VA_ARGS__)

static uint32_t node_of(rw_engine *e, const char *ext) {
    rw_account_info info;
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_account(e, ext, &info, &err), RW_OK, "%s: %s", ext, err.msg);
    return info.node;
}

static rw_engine_stats stats(rw_engine *e) {
    rw_engine_stats s;
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_get_stats(e, &s, &err), RW_OK, "%s", err.msg);
    return s;
}

static rw_account_view *view(rw_engine *e, const char *ext) {
    rw_account_view *v = calloc(1, sizeof *v);
    cr_assert(v);
    rw_err err = {{0}};
    rw_status st = rw_engine_account_view(e, ext, strlen(ext), v, &err);
    cr_assert_eq(st, RW_OK, "view %s: %s", ext, err.msg);
    return v;
}

/* Whether needle occurs in the database file, its WAL or its shared memory. */
#define in_files(needle) tu_in_db_files(tu_db(), needle)

static void assert_views_equal(const rw_account_view *a, const rw_account_view *b) {
    cr_assert_eq(a->first_seen, b->first_seen);
    cr_assert_eq(a->last_seen, b->last_seen);
    cr_assert_eq(a->attributes, b->attributes);
    for (uint32_t i = 0; i < a->attributes && i < RW_VIEW_ATTRS; i++) {
        cr_assert_str_eq(a->attr[i].pseudonym, b->attr[i].pseudonym);
        cr_assert_eq(a->attr[i].count, b->attr[i].count);
    }
    cr_assert_eq(a->run, b->run);
    cr_assert_eq(a->run_score, b->run_score);
    cr_assert_eq(a->run_flagged, b->run_flagged);
    cr_assert_eq(a->run_cluster, b->run_cluster);
    cr_assert_str_eq(a->label, b->label);
}

/* Three accounts sharing a device and a card (one of them the victim), the
 * victim's own IP, device and card, a login without attributes, and a few
 * households around them; then a run and labels. */
static void build_world(rw_engine *e) {
    for (int i = 0; i < 12; i++)
        rec(e, "{\"account\":\"hh-%d\",\"ts\":%lld,\"ip\":\"203.0.%d.1\",\"device\":\"dev-hh-%d\"}", i, T0 + i * 600,
            100 + i / 3, i);
    rec(e,
        "{\"account\":\"keep-1\",\"ts\":%lld,\"ip\":\"198.51.100.1\",\"device\":\"dev-shared\",\"payment\":\"tok-s\"}",
        T0 + 10);
    rec(e,
        "{\"account\":\"keep-2\",\"ts\":%lld,\"ip\":\"198.51.100.2\",\"device\":\"dev-shared\",\"payment\":\"tok-s\"}",
        T0 + 20);
    rec(e,
        "{\"account\":\"" VICTIM "\",\"ts\":%lld,\"ip\":\"192.0.2.9\",\"device\":\"dev-shared\",\"payment\":\"tok-s\"}",
        T0 + 30);
    rec(e, "{\"account\":\"" VICTIM "\",\"ts\":%lld,\"device\":\"dev-victim-own\",\"payment\":\"tok-victim-own\"}",
        T0 + 40);
    rec(e, "{\"account\":\"" VICTIM "\",\"ts\":%lld,\"type\":\"login\"}", T0 + 50);
    rec(e, "{\"account\":\"keep-1\",\"ts\":%lld,\"type\":\"login\",\"device\":\"dev-shared\"}", T0 + 60);
    rw_rescore_summary sum;
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_rescore(e, NULL, &sum, NULL, NULL, &err), RW_OK, "rescore: %s", err.msg);
    int64_t id;
    cr_assert_eq(rw_engine_label(e, 0, VICTIM, strlen(VICTIM), RW_LABEL_FRAUD, "note on " VICTIM, &id, &err), RW_OK,
                 "%s", err.msg);
    cr_assert_eq(rw_engine_label(e, 0, "keep-1", 6, RW_LABEL_BENIGN, "fine", &id, &err), RW_OK, "%s", err.msg);
}

Test(erase, account_and_its_orphans_go_the_rest_stays) {
    rw_engine *e = open_engine(0);
    build_world(e);
    uint32_t victim = node_of(e, VICTIM), k1 = node_of(e, "keep-1"), k2 = node_of(e, "keep-2");
    uint32_t hh = node_of(e, "hh-11");
    cr_assert(in_files(VICTIM), "the world should hold the id before");
    cr_assert_eq(sql_int("SELECT count(*) FROM events WHERE account = %u", victim), 3);
    cr_assert_eq(sql_int("SELECT count(*) FROM run_accounts WHERE account = %u", victim), 1);
    int64_t events = sql_int("SELECT count(*) FROM events"), accounts = sql_int("SELECT count(*) FROM accounts");
    int64_t attributes = sql_int("SELECT count(*) FROM attributes");
    int64_t others = sql_int("SELECT count(*) FROM events WHERE account != %u", victim);
    int64_t other_run_rows = sql_int("SELECT count(*) FROM run_accounts WHERE account != %u", victim);
    rw_engine_stats before = stats(e);
    rw_account_view *v1 = view(e, "keep-1"), *v2 = view(e, "keep-2");

    rw_erase_stats es;
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_erase_account(e, VICTIM, strlen(VICTIM), &es, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(es.accounts, 1);
    cr_assert_eq(es.events, 3);
    /* its own IP, that IP's /24, its own device and card; not the shared ones */
    cr_assert_eq(es.attributes, 4);
    cr_assert_eq(es.labels, 1);
    cr_assert_geq(es.run_rows, 1);

    cr_assert(!in_files(VICTIM), "the id is still in the database files");
    cr_assert_eq(sql_int("SELECT count(*) FROM accounts"), accounts - 1);
    cr_assert_eq(sql_int("SELECT count(*) FROM attributes"), attributes - 4);
    cr_assert_eq(sql_int("SELECT count(*) FROM events"), events - 3);
    cr_assert_eq(sql_int("SELECT count(*) FROM events WHERE account != %u", victim), others);
    cr_assert_eq(sql_int("SELECT count(*) FROM run_accounts WHERE account = %u", victim), 0);
    cr_assert_eq(sql_int("SELECT count(*) FROM run_accounts"), other_run_rows);
    cr_assert_eq(sql_int("SELECT count(*) FROM labels"), 1);
    cr_assert_eq(sql_int("SELECT count(*) FROM labels WHERE target = %u", k1), 1);
    cr_assert_eq(sql_int("SELECT count(*) FROM attributes a WHERE NOT EXISTS (SELECT 1 FROM events v WHERE"
                         " v.ip = a.id OR v.device = a.id OR v.payment = a.id) AND a.kind != 4"),
                 0);
    cr_assert_eq(sql_int("SELECT count(*) FROM run_attributes WHERE attribute NOT IN (SELECT id FROM attributes)"), 0);
    cr_assert_eq(sql_int("SELECT value FROM meta WHERE key = 'next_node'"),
                 before.nodes[0] + before.nodes[1] + before.nodes[2] + before.nodes[3] + before.nodes[4]);
    int64_t wal = sql_int("SELECT 0"); /* opening a reader must not bring the bytes back */
    (void)wal;
    cr_assert(!in_files(VICTIM));

    /* the graph: counts down by exactly what went, the others' ids and views unchanged */
    rw_engine_stats after = stats(e);
    cr_assert_eq(after.nodes[RW_KIND_ACCOUNT], before.nodes[RW_KIND_ACCOUNT] - 1);
    cr_assert_eq(after.nodes[RW_KIND_IP], before.nodes[RW_KIND_IP] - 1);
    cr_assert_eq(after.nodes[RW_KIND_SUBNET], before.nodes[RW_KIND_SUBNET] - 1);
    cr_assert_eq(after.nodes[RW_KIND_DEVICE], before.nodes[RW_KIND_DEVICE] - 1);
    cr_assert_eq(after.nodes[RW_KIND_PAYMENT], before.nodes[RW_KIND_PAYMENT] - 1);
    cr_assert_eq(after.edges, before.edges - 5);
    cr_assert_eq(after.events, before.events - 3);
    cr_assert_eq(node_of(e, "keep-1"), k1);
    cr_assert_eq(node_of(e, "keep-2"), k2);
    cr_assert_eq(node_of(e, "hh-11"), hh);
    rw_account_view *w1 = view(e, "keep-1"), *w2 = view(e, "keep-2");
    assert_views_equal(v1, w1);
    assert_views_equal(v2, w2);
    rw_engine_counters c;
    rw_engine_get_counters(e, &c);
    cr_assert_eq(c.accounts, after.nodes[RW_KIND_ACCOUNT]);
    cr_assert_eq(c.attributes, after.nodes[1] + after.nodes[2] + after.nodes[3] + after.nodes[4]);
    cr_assert(c.store_ok);

    /* gone for every lookup; erasing again is "not found" */
    rw_account_view *gone = calloc(1, sizeof *gone);
    cr_assert_eq(rw_engine_account_view(e, VICTIM, strlen(VICTIM), gone, &err), RW_ERR_NOTFOUND);
    free(gone);
    rw_attr_view *av = calloc(1, sizeof *av);
    cr_assert_eq(rw_engine_attr_view(e, RW_KIND_DEVICE, "dev-victim-own", 14, av, &err), RW_ERR_NOTFOUND);
    cr_assert_eq(rw_engine_attr_view(e, RW_KIND_DEVICE, "dev-shared", 10, av, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(av->a.degree, 2);
    free(av);
    cr_assert_eq(rw_engine_erase_account(e, VICTIM, strlen(VICTIM), &es, &err), RW_ERR_NOTFOUND);
    cr_assert_eq(es.accounts, 0);
    cr_assert_eq(rw_engine_erase_account(e, "", 0, &es, &err), RW_ERR_NOTFOUND);

    /* recording goes on at once, and new nodes never reuse an erased id */
    uint32_t top = (uint32_t)sql_int("SELECT value FROM meta WHERE key = 'next_node'");
    rec(e, "{\"account\":\"keep-1\",\"ts\":%lld,\"device\":\"dev-shared\",\"ip\":\"198.51.100.1\"}", T0 + 100);
    rec(e, "{\"account\":\"" VICTIM "\",\"ts\":%lld,\"device\":\"dev-victim-own\"}", T0 + 200);
    uint32_t again = node_of(e, VICTIM);
    cr_assert_geq(again, top);
    cr_assert_neq(again, victim);
    rw_account_view *w3 = view(e, "keep-1");
    cr_assert_eq(w3->last_seen, T0 + 100);
    free(w3);
    rw_engine_close(e);

    /* and the store with its gaps loads again, to the same graph */
    e = open_engine(1);
    cr_assert_eq(node_of(e, "keep-1"), k1);
    cr_assert_eq(node_of(e, VICTIM), again);
    rw_engine_stats reopened = stats(e);
    cr_assert_eq(reopened.nodes[RW_KIND_ACCOUNT], after.nodes[RW_KIND_ACCOUNT] + 1);
    cr_assert_eq(reopened.events, after.events + 2);
    rw_engine_close(e);
    free(v1), free(v2), free(w1), free(w2);
}

Test(erase, last_node_erased_and_readonly_refused) {
    rw_engine *e = open_engine(0);
    rec(e, "{\"account\":\"first\",\"ts\":%lld,\"ip\":\"198.51.100.1\"}", T0);
    rec(e, "{\"account\":\"tail-acct-91b2\",\"ts\":%lld,\"device\":\"dev-tail\"}", T0 + 1);
    uint32_t tail = node_of(e, "tail-acct-91b2");
    rw_erase_stats es;
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_erase_account(e, "tail-acct-91b2", 14, &es, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(es.attributes, 1);
    cr_assert(!in_files("tail-acct-91b2"));
    rec(e, "{\"account\":\"later\",\"ts\":%lld}", T0 + 2);
    cr_assert_gt(node_of(e, "later"), tail + 1); /* the tail's ids stay unused */
    rw_engine_close(e);
    e = open_engine(1);
    cr_assert_eq(rw_engine_erase_account(e, "first", 5, &es, &err), RW_ERR_PERM);
    cr_assert_eq(rw_engine_retain(e, T0 + DAY, &es, &err), RW_ERR_PERM);
    rw_engine_close(e);
}

Test(erase, retention_ages_out_accounts_and_edges) {
    rw_engine *e = open_engine(0);
    long long cutoff = T0 + 10 * DAY, late = T0 + 20 * DAY;
    rec(e, "{\"account\":\"old-acct-a1b2\",\"ts\":%lld,\"ip\":\"10.0.0.1\",\"device\":\"dev-old\"}", T0);
    rec(e, "{\"account\":\"old-acct-c3d4\",\"ts\":%lld,\"payment\":\"tok-x\"}", T0 + DAY);
    rec(e, "{\"account\":\"active\",\"ts\":%lld,\"ip\":\"10.0.0.1\"}", T0 + 2 * DAY);
    rec(e, "{\"account\":\"active\",\"ts\":%lld,\"device\":\"dev-new\"}", late);
    rec(e, "{\"account\":\"new-1\",\"ts\":%lld,\"device\":\"dev-new\",\"ip\":\"10.0.1.5\",\"payment\":\"tok-x\"}",
        late + 5);
    rec(e, "{\"account\":\"edge-case\",\"ts\":%lld}", cutoff); /* seen exactly at the cutoff: kept */
    uint32_t active = node_of(e, "active"), new1 = node_of(e, "new-1");
    rw_engine_stats before = stats(e);
    cr_assert_eq(before.nodes[RW_KIND_ACCOUNT], 5);
    cr_assert_eq(before.edges, 8);

    rw_erase_stats es;
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_retain(e, cutoff, &es, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(es.accounts, 2);
    cr_assert_eq(es.events, 3);
    cr_assert_eq(es.attributes, 3); /* dev-old, 10.0.0.1 and its /24 */
    cr_assert(!in_files("old-acct-a1b2"));
    cr_assert(!in_files("old-acct-c3d4"));
    cr_assert_eq(sql_int("SELECT count(*) FROM events WHERE ts < %lld", (long long)cutoff), 0);
    cr_assert_eq(sql_int("SELECT count(*) FROM accounts"), 3);

    rw_engine_stats after = stats(e);
    cr_assert_eq(after.nodes[RW_KIND_ACCOUNT], 3);
    cr_assert_eq(after.nodes[RW_KIND_IP], 1);
    cr_assert_eq(after.nodes[RW_KIND_SUBNET], 1);
    cr_assert_eq(after.nodes[RW_KIND_DEVICE], 1);
    cr_assert_eq(after.nodes[RW_KIND_PAYMENT], 1);
    cr_assert_eq(after.edges, 4); /* active's old edge to 10.0.0.1 aged out */
    cr_assert_eq(after.events, 3);
    cr_assert_eq(node_of(e, "active"), active);
    cr_assert_eq(node_of(e, "new-1"), new1);
    rw_account_view *v = view(e, "active");
    cr_assert_eq(v->attributes, 1);
    cr_assert_eq(v->last_seen, late);
    free(v);
    rw_attr_view *av = calloc(1, sizeof *av);
    cr_assert_eq(rw_engine_attr_view(e, RW_KIND_PAYMENT, "tok-x", 5, av, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(av->a.degree, 1);
    free(av);

    /* nothing left to age out: nothing changes */
    cr_assert_eq(rw_engine_retain(e, cutoff, &es, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(es.accounts + es.events + es.attributes, 0);
    rec(e, "{\"account\":\"after\",\"ts\":%lld,\"device\":\"dev-new\"}", late + 60);
    av = calloc(1, sizeof *av);
    cr_assert_eq(rw_engine_attr_view(e, RW_KIND_DEVICE, "dev-new", 7, av, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(av->a.degree, 3);
    free(av);
    rw_engine_close(e);
    e = open_engine(1);
    cr_assert_eq(stats(e).nodes[RW_KIND_ACCOUNT], 4);
    cr_assert_eq(node_of(e, "new-1"), new1);
    rw_engine_close(e);
}
