/* engine: recording events through the group commit: durability, shared
 * transactions, durable = 0 then flush, checkpoints beside commits,
 * read-only refusal, failed commits. */
#include "online_util.h"

ONLINE_SUITE(commit);

/* ---- 1. durability -------------------------------------------------------- */

Test(commit, durable_record_survives_reopen) {
    rw_engine *e = open_engine(0);
    const char *lines[] = {
        "{\"account\":\"a1\",\"ts\":1790000000,\"type\":\"signup\",\"ip\":\"203.0.113.5\",\"device\":\"d-1\"}",
        "{\"account\":\"a2\",\"ts\":1790000060,\"type\":\"signup\",\"ip\":\"203.0.113.6\",\"device\":\"d-2\"}",
        "{\"account\":\"a1\",\"ts\":1790000120,\"type\":\"login\",\"ip\":\"203.0.113.5\"}",
        "{\"account\":\"a3\",\"ts\":1790000180,\"type\":\"signup\",\"payment\":\"tok-3\"}",
        "{\"account\":\"a2\",\"ts\":1790000240,\"type\":\"payment\",\"payment\":\"tok-2\"}",
    };
    const int want_new[] = {1, 1, 0, 1, 0};
    for (int i = 0; i < 5; i++) {
        rw_decision d = rec(e, 1, "%s", lines[i]);
        cr_expect_eq(d.new_account, want_new[i], "event %d: new_account %d", i, d.new_account);
        /* Returned durable: another connection already sees it. */
        cr_expect_eq(sql_int("SELECT count(*) FROM events"), i + 1, "event %d not committed on return", i);
    }
    rw_engine_counters c = counters(e);
    cr_expect_eq(c.events, 5);
    cr_expect_eq(c.accounts, 3);
    cr_expect_eq(c.signups_recorded, 3);
    cr_expect_eq(c.commit_failures, 0);
    cr_expect_geq(c.commits, 1);
    cr_expect_eq(c.store_ok, 1);
    rw_engine_close(e);

    cr_expect_eq(sql_int("SELECT count(*) FROM events"), 5);
    cr_expect_eq(sql_int("SELECT count(*) FROM accounts"), 3);
    cr_expect_eq(sql_int("SELECT count(*) FROM events WHERE type = 1"), 1); /* one login */

    e = open_engine(0);
    c = counters(e);
    cr_expect_eq(c.events, 5, "after reopen: %llu events", (unsigned long long)c.events);
    cr_expect_eq(c.accounts, 3);
    const char *ids[] = {"a1", "a2", "a3"};
    const int64_t first[] = {1790000000, 1790000060, 1790000180}, last[] = {1790000120, 1790000240, 1790000180};
    const uint32_t nattr[] = {2, 3, 1};
    for (int i = 0; i < 3; i++) {
        rw_account_view *v = view(e, ids[i]);
        cr_expect_eq(v->first_seen, first[i], "%s first_seen %lld", ids[i], (long long)v->first_seen);
        cr_expect_eq(v->last_seen, last[i], "%s last_seen %lld", ids[i], (long long)v->last_seen);
        cr_expect_eq(v->attributes, nattr[i], "%s has %u attributes", ids[i], v->attributes);
        free(v);
    }
    rw_account_view v;
    rw_err err = {{0}};
    cr_expect_eq(rw_engine_account_view(e, "a4", 2, &v, &err), RW_ERR_NOTFOUND);
    rw_engine_close(e);
}

/* Events recorded without waiting are written when the engine closes. */
Test(commit, close_writes_what_is_queued) {
    rw_engine *e = open_engine(0);
    for (int i = 0; i < 20; i++)
        rec(e, 0, "{\"account\":\"q%02d\",\"ts\":%lld,\"ip\":\"203.0.113.%d\"}", i, (long long)(T0 + i), i + 1);
    rw_engine_close(e);
    cr_expect_eq(sql_int("SELECT count(*) FROM events"), 20);
    e = open_engine(0);
    cr_expect_eq(counters(e).events, 20);
    cr_expect_eq(counters(e).accounts, 20);
    rw_engine_close(e);
}

/* ---- 2. group commit ------------------------------------------------------ */

#define GC_THREADS 8
#define GC_EACH    200

typedef struct {
    rw_engine *e;
    int t;
    int failures;
    rw_status first_bad;
    char msg[1024];
} gc_arg;

static void *gc_worker(void *p) {
    gc_arg *a = p;
    rw_event_raw *ev = malloc(sizeof *ev);
    rw_decision d;
    for (int i = 0; ev && i < GC_EACH; i++) {
        char line[256];
        snprintf(line, sizeof line,
                 "{\"account\":\"t%d-%03d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"10.%d.%d.%d\",\"device\":"
                 "\"dev-t%d-%d\"}",
                 a->t, i, (long long)(T0 + a->t * 1000 + i), a->t, i / 250, i % 250 + 1, a->t, i);
        rw_err err = {{0}};
        rw_status st = rw_event_parse(ev, line, strlen(line), &err);
        if (st == RW_OK) st = rw_engine_record(a->e, ev, 1, &d, 1, &err);
        if (st == RW_OK && !d.new_account) st = RW_ERR_INTERNAL, snprintf(err.msg, sizeof err.msg, "not new");
        if (st != RW_OK && a->failures++ == 0) {
            a->first_bad = st;
            snprintf(a->msg, sizeof a->msg, "%s: %s", line, err.msg);
        }
    }
    if (!ev) a->failures++;
    free(ev);
    return NULL;
}

Test(commit, group_commit_shares_transactions) {
    rw_engine *e = open_engine(0);
    pthread_t th[GC_THREADS];
    gc_arg args[GC_THREADS];
    for (int t = 0; t < GC_THREADS; t++) {
        args[t] = (gc_arg){.e = e, .t = t};
        cr_assert_eq(pthread_create(&th[t], NULL, gc_worker, &args[t]), 0);
    }
    for (int t = 0; t < GC_THREADS; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < GC_THREADS; t++)
        cr_expect_eq(args[t].failures, 0, "thread %d: %d failures, first %s: %s", t, args[t].failures,
                     rw_status_str(args[t].first_bad), args[t].msg);
    const uint64_t total = GC_THREADS * GC_EACH;
    /* Every durable=1 call returned after its commit: visible elsewhere now. */
    cr_expect_eq(sql_int("SELECT count(*) FROM events"), (int64_t)total);
    cr_expect_eq(sql_int("SELECT count(*) FROM accounts"), (int64_t)total);
    rw_engine_counters c = counters(e);
    cr_expect_eq(c.events, total);
    cr_expect_eq(c.accounts, total);
    cr_expect_eq(c.signups_recorded, total);
    cr_expect_eq(c.commit_failures, 0);
    cr_expect_eq(c.store_ok, 1);
    cr_expect_geq(c.commits, 1);
    cr_expect_lt(c.commits, total, "%llu commits for %llu events: no batch was shared", (unsigned long long)c.commits,
                 (unsigned long long)total);
    rw_engine_close(e);

    e = open_engine(0);
    cr_expect_eq(counters(e).events, total);
    cr_expect_eq(counters(e).accounts, total);
    rw_account_view *v = view(e, "t7-199");
    cr_expect_eq(v->attributes, 2);
    free(v);
    rw_engine_close(e);
}

/* ---- 4. durable = 0, then flush ------------------------------------------- */

Test(commit, flush_makes_queued_events_durable) {
    rw_engine *e = open_engine(0);
    enum { N = 300 };
    rw_event_raw *ev = calloc(N, sizeof *ev);
    cr_assert(ev);
    for (int i = 0; i < N; i++)
        parse(&ev[i], "{\"account\":\"f%03d\",\"ts\":%lld,\"ip\":\"203.0.%d.%d\",\"device\":\"dev-f%d\"}", i % 150,
              (long long)(T0 + i), 113 + i % 2, i % 200 + 1, i % 150);
    rw_err err = {{0}};
    /* In one call, without decisions, then one at a time. */
    cr_assert_eq(rw_engine_record(e, ev, N / 2, NULL, 0, &err), RW_OK, "%s", err.msg);
    for (int i = N / 2; i < N; i++) cr_assert_eq(rw_engine_record(e, &ev[i], 1, NULL, 0, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_engine_record(e, ev, 0, NULL, 0, &err), RW_OK, "n = 0");
    free(ev);
    flush(e);
    cr_expect_eq(sql_int("SELECT count(*) FROM events"), N);
    cr_expect_eq(sql_int("SELECT count(*) FROM accounts"), 150);
    rw_engine_counters c = counters(e);
    cr_expect_eq(c.events, N);
    cr_expect_eq(c.accounts, 150);
    cr_expect_eq(c.commit_failures, 0);
    cr_expect_geq(c.commits, 1);
    /* A second flush with nothing queued returns at once. */
    flush(e);
    cr_expect_eq(counters(e).commits, c.commits);
    rw_engine_close(e);
    e = open_engine(0);
    cr_expect_eq(counters(e).events, N);
    rw_engine_close(e);
}

/* The group commit never copies the WAL into the database itself: a thread
 * of its own does, and the WAL starts over instead of growing. */
Test(commit, checkpoints_run_beside_the_group_commit) {
    rw_engine *e = open_engine(0);
    enum { CHUNKS = 150, EACH = 100 };
    rw_event_raw *ev = calloc(EACH, sizeof *ev);
    cr_assert(ev);
    rw_err err = {{0}};
    off_t wal_max = 0;
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", tu_db());
    for (int c = 0; c < CHUNKS; c++) {
        for (int i = 0; i < EACH; i++)
            parse(&ev[i],
                  "{\"account\":\"ck-%05d-with-a-longer-id-to-fill-pages\",\"ts\":%lld,\"ip\":\"198.%d.%d.%d\","
                  "\"device\":\"dev-ck-%05d\"}",
                  c * EACH + i, (long long)(T0 + c * EACH + i), 18 + c % 2, c, i + 1, c * EACH + i);
        cr_assert_eq(rw_engine_record(e, ev, EACH, NULL, 0, &err), RW_OK, "%s", err.msg);
        flush(e);
        struct stat sb;
        if (stat(wal, &sb) == 0 && sb.st_size > wal_max) wal_max = sb.st_size;
    }
    free(ev);
    rw_engine_counters k = counters(e);
    cr_expect_eq(k.commit_failures, 0);
    cr_expect_geq(k.checkpoints, 1, "no checkpoint ran beside the commits");
    cr_expect_eq(k.checkpoint_failures, 0);
    /* A WAL's worth (1000 pages) plus what the commits added while the
     * checkpoint ran: not the whole log. */
    cr_expect_lt(wal_max, 3000 * 4120, "the WAL grew to %lld bytes", (long long)wal_max);
    cr_expect_eq(sql_int("SELECT count(*) FROM events"), CHUNKS * EACH);
    rw_engine_close(e);
    e = open_engine(0);
    cr_expect_eq(counters(e).events, CHUNKS * EACH);
    rw_engine_close(e);
}

/* ---- 5. read-only ---------------------------------------------------------- */

Test(commit, readonly_engine_refuses_writes) {
    rw_engine *e = open_engine(0);
    rec(e, 1, "{\"account\":\"a1\",\"ts\":%lld,\"ip\":\"203.0.113.5\",\"device\":\"d-1\"}", (long long)T0);
    rw_engine_close(e);

    e = open_engine(1);
    rw_event_raw ev;
    parse(&ev, "{\"account\":\"a2\",\"ts\":%lld,\"ip\":\"203.0.113.6\"}", (long long)T0 + 5);
    rw_decision d;
    rw_err err = {{0}};
    cr_expect_eq(rw_engine_record(e, &ev, 1, &d, 1, &err), RW_ERR_PERM);
    cr_expect(strstr(err.msg, "read-only"), "%s", err.msg);
    cr_expect_eq(rw_engine_record(e, &ev, 1, NULL, 0, &err), RW_ERR_PERM);
    cr_expect_eq(rw_engine_flush(e, &err), RW_OK);
    int64_t id = -1;
    cr_expect_eq(rw_engine_label(e, 0, "a1", 2, RW_LABEL_FRAUD, NULL, &id, &err), RW_ERR_PERM, "label: %s", err.msg);
    /* Reads still work and nothing changed. */
    rw_account_view *v = view(e, "a1");
    cr_expect_eq(v->attributes, 2);
    cr_expect_str_eq(v->label, "");
    free(v);
    rw_account_view v2;
    cr_expect_eq(rw_engine_account_view(e, "a2", 2, &v2, &err), RW_ERR_NOTFOUND);
    cr_expect_eq(counters(e).events, 1);
    rw_engine_close(e);
    cr_expect_eq(sql_int("SELECT count(*) FROM events"), 1);
    cr_expect_eq(sql_int("SELECT count(*) FROM labels"), 0);
}

/* Read-only without the key file: raw values cannot be hashed, so lookups by
 * raw value are refused too; lookups by account id still work. */
Test(commit, readonly_without_key_refuses_raw_lookups) {
    rw_engine *e = open_engine(0);
    rec(e, 1, "{\"account\":\"a1\",\"ts\":%lld,\"ip\":\"203.0.113.5\",\"device\":\"d-1\"}", (long long)T0);
    rw_engine_close(e);
    char nokey[600];
    snprintf(nokey, sizeof nokey, "%s/absent.key", tu_dir());
    rw_engine_config cfg = {.db_path = tu_db(), .key_path = nokey, .readonly = 1};
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_open(&e, &cfg, &err), RW_OK, "%s", err.msg);
    rw_attr_view av;
    cr_expect_eq(rw_engine_attr_view(e, RW_KIND_DEVICE, "d-1", 3, &av, &err), RW_ERR_PERM);
    rw_event_raw ev;
    parse(&ev, "{\"account\":\"a2\",\"ts\":%lld}", (long long)T0 + 5);
    cr_expect_eq(rw_engine_record(e, &ev, 1, NULL, 1, &err), RW_ERR_PERM);
    rw_account_view *v = view(e, "a1");
    cr_expect_eq(v->attributes, 2);
    free(v);
    rw_engine_close(e);
    cr_expect_eq(access(nokey, F_OK), -1, "a read-only open created a key file");
}

/* ---- store failures -------------------------------------------------------- */

/* Makes the store refuse events at ts == 1234567 (a trigger added through
 * another connection): a deterministic failed commit. */
static void arm_failure(void) {
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open(tu_db(), &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    char *msg = NULL;
    int rc = sqlite3_exec(h,
                          "CREATE TRIGGER inject_failure BEFORE INSERT ON events WHEN NEW.ts = 1234567"
                          " BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
                          NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s", msg ? msg : "?");
    sqlite3_close(h);
}

static void wait_failures(rw_engine *e, uint64_t n) {
    for (int i = 0; i < 500 && counters(e).commit_failures < n; i++) usleep(10000);
    cr_assert_eq(counters(e).commit_failures, n, "the injected failure did not happen");
}

Test(commit, failed_commit_keeps_nothing_of_the_call) {
    rw_engine *e = open_engine(0);
    rec(e, 1, "{\"account\":\"a1\",\"ts\":%lld,\"ip\":\"203.0.113.5\",\"device\":\"d-1\"}", (long long)T0);
    arm_failure();
    rw_event_raw ev;
    parse(&ev, "{\"account\":\"bad\",\"ts\":1234567,\"ip\":\"203.0.113.9\",\"device\":\"d-1\"}");
    rw_decision d;
    rw_err err = {{0}};
    rw_status st = rw_engine_record(e, &ev, 1, &d, 1, &err);
    cr_expect_eq(st, RW_ERR_DB, "%s (%s)", rw_status_str(st), err.msg);
    cr_expect(strstr(err.msg, "injected failure"), "%s", err.msg);
    rw_engine_counters c = counters(e);
    cr_expect_eq(c.commit_failures, 1);
    cr_expect_eq(c.store_ok, 0);
    cr_expect_eq(c.events, 1, "the graph kept the failed event: %llu events", (unsigned long long)c.events);
    cr_expect_eq(c.accounts, 1);
    rw_account_view v;
    cr_expect_eq(rw_engine_account_view(e, "bad", 3, &v, &err), RW_ERR_NOTFOUND);
    rw_attr_view av;
    cr_expect_eq(rw_engine_attr_view(e, RW_KIND_IP, "203.0.113.9", 11, &av, &err), RW_ERR_NOTFOUND);
    cr_assert_eq(rw_engine_attr_view(e, RW_KIND_DEVICE, "d-1", 3, &av, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(av.a.degree, 1);
    /* The next commit succeeds and readiness comes back. */
    rw_decision ok =
        rec(e, 1, "{\"account\":\"a2\",\"ts\":%lld,\"ip\":\"203.0.113.6\",\"device\":\"d-1\"}", (long long)T0 + 10);
    cr_expect_eq(ok.new_account, 1);
    c = counters(e);
    cr_expect_eq(c.store_ok, 1);
    cr_expect_eq(c.events, 2);
    cr_expect_eq(c.accounts, 2);
    cr_expect_eq(sql_int("SELECT count(*) FROM events"), 2);
    cr_expect_eq(sql_int("SELECT count(*) FROM accounts WHERE ext = 'bad'"), 0);
    rw_engine_close(e);
    e = open_engine(0);
    cr_expect_eq(counters(e).events, 2);
    cr_expect_eq(rw_engine_account_view(e, "bad", 3, &v, &err), RW_ERR_NOTFOUND);
    rw_engine_close(e);
}

/* Regression (fixed): rw_engine_flush promises to wait "until
 * every recorded event is durable", but an event recorded with durable = 0
 * whose commit failed is forgotten once a later commit succeeds: flush then
 * returns RW_OK although the event was never stored. wait_settled() only
 * looks at the newest failed range, and flush() waits for seq_queued only. */
Test(commit, flush_reports_an_earlier_failed_commit) {
    rw_engine *e = open_engine(0);
    rec(e, 1, "{\"account\":\"a1\",\"ts\":%lld,\"device\":\"d-1\"}", (long long)T0);
    arm_failure();
    rec(e, 0, "{\"account\":\"lost\",\"ts\":1234567,\"device\":\"d-2\"}");
    wait_failures(e, 1);
    rec(e, 0, "{\"account\":\"a2\",\"ts\":%lld,\"device\":\"d-3\"}", (long long)T0 + 10);
    rw_err err = {{0}};
    rw_status st = rw_engine_flush(e, &err);
    rw_account_view v;
    cr_expect_eq(rw_engine_account_view(e, "lost", 4, &v, &err), RW_ERR_NOTFOUND);
    cr_expect_eq(sql_int("SELECT count(*) FROM accounts WHERE ext = 'lost'"), 0, "the event was stored after all");
    cr_expect_neq(st, RW_OK, "flush returned RW_OK but the event of account 'lost' was never stored");
    rw_engine_close(e);
}
