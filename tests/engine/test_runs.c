/* engine: runs beside signups: one rescoring at a time, and a run written
 * in chunks while signups commit (invisible until whole, removed when a
 * failure or a crash leaves it half-written). */
#include "online_util.h"

ONLINE_SUITE(runs);

/* ---- 8. one rescoring at a time ------------------------------------------- */

typedef struct {
    rw_engine *e;
    int calls;
    rw_status second;
    char msg[512];
    rw_status recorded;
    rw_decision d;
} overlap_ctx;

static void *second_rescore(void *p) {
    overlap_ctx *c = p;
    rw_rescore_summary s;
    rw_err err = {{0}};
    c->second = rw_engine_rescore(c->e, NULL, &s, NULL, NULL, &err);
    snprintf(c->msg, sizeof c->msg, "%s", err.msg);
    return NULL;
}

static void *late_signup(void *p) {
    overlap_ctx *c = p;
    rw_event_raw *ev = malloc(sizeof *ev);
    const char *line = "{\"account\":\"r0-late\",\"ts\":1790900000,\"ip\":\"192.0.2.99\",\"device\":\"dev-r0-1\","
                       "\"payment\":\"tok-late\"}";
    rw_err err = {{0}};
    c->recorded = ev ? rw_event_parse(ev, line, strlen(line), &err) : RW_ERR_NOMEM;
    if (c->recorded == RW_OK) c->recorded = rw_engine_record(c->e, ev, 1, &c->d, 1, &err);
    free(ev);
    return NULL;
}

/* Called by the first rescoring after its snapshot: a second rescoring from
 * another thread is refused, and a signup can still be recorded. */
static void on_stage(void *ctx, const char *stage, double seconds) {
    overlap_ctx *c = ctx;
    if (strcmp(stage, "snapshot") != 0 || c->calls++) return;
    pthread_t t;
    if (pthread_create(&t, NULL, second_rescore, c) == 0) pthread_join(t, NULL);
    if (pthread_create(&t, NULL, late_signup, c) == 0) pthread_join(t, NULL);
}

/* 40 singletons and ring 0, ingested; no run yet. */
static rw_engine *ring_world(void) {
    rw_engine *e = open_engine(0);
    FILE *f = begin_input();
    w_singletons(f, 40, T0);
    for (int k = 0; k < RING; k++) w_ring_member(f, 0, k, T0 + 10 * DAY);
    ingest_input(e, f);
    return e;
}

Test(runs, second_rescore_while_running_is_refused) {
    rw_engine *e = ring_world();
    overlap_ctx c = {.e = e, .second = RW_OK, .recorded = RW_ERR_INTERNAL};
    rw_rescore_summary s;
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_rescore(e, NULL, &s, on_stage, &c, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(c.calls, 1, "the snapshot stage was reported %d times", c.calls);
    cr_expect_eq(c.second, RW_ERR_EXISTS, "second rescoring: %s (%s)", rw_status_str(c.second), c.msg);
    cr_expect_eq(c.recorded, RW_OK, "a signup during the rescoring: %s", rw_status_str(c.recorded));
    cr_expect_eq(s.run, 1);
    cr_expect_eq(s.accounts, 40 + RING, "the run covers the snapshot: %llu accounts", (unsigned long long)s.accounts);
    /* The signup made during the run joins the new cluster of the ring
     * members on its device (dev-r0-1: the odd members). */
    rw_account_view *v = view(e, "r0-01");
    char want[RW_CLUSTER_TEXT];
    snprintf(want, sizeof want, "c%u", v->run_cluster);
    cr_expect_neq(v->run_cluster, 0);
    free(v);
    v = view(e, "r0-late");
    cr_expect_str_eq(v->now.cluster, want, "the signup made during the run is in '%s', the ring in '%s' (%s)",
                     v->now.cluster, want, reasons_text(&v->now));
    cr_expect_eq(v->run_cluster, 0, "not in the run's snapshot");
    free(v);
    /* Once it is over, rescoring works again. */
    rw_rescore_summary s2 = rescore(e);
    cr_expect_eq(s2.run, 2);
    cr_expect_eq(s2.accounts, 40 + RING + 1);
    rw_engine_close(e);
}

/* ---- 10. a run written in chunks ---------------------------------------------- */

/* A world for the chunk tests, rescored once (run 1). */
static rw_engine *chunk_world(void) {
    rw_engine *e = ring_world();
    cr_assert_eq(rescore(e).run, 1);
    return e;
}

typedef struct {
    rw_engine *e;
    uint64_t chunks;
    int64_t run;
    pthread_t t;
    int started;
    rw_status recorded;
    int queued;      /* the committer was waiting for the store at chunk 1 */
    int64_t durable; /* the signup's account row, seen at chunk 2 */
    int64_t partial; /* the run's rows in the file at chunk 2 (chunk 1's) */
    int64_t newest;  /* the newest run at chunk 2, through the engine */
    int64_t newest_sql;
    int seen;         /* clusters of the run being written, through the engine (-1: the query failed) */
    uint64_t fail_at; /* fail this chunk (0: none) */
    int exit_at;      /* end the process at this chunk, as a crash (0: none) */
} chunk_ctx;

static void *signup_during_write(void *p) {
    chunk_ctx *c = p;
    rw_event_raw *ev = malloc(sizeof *ev);
    const char *line = "{\"account\":\"mid-write\",\"ts\":1790900000,\"ip\":\"192.0.2.77\",\"device\":\"dev-mid\"}";
    rw_err err = {{0}};
    rw_decision d;
    c->recorded = ev ? rw_event_parse(ev, line, strlen(line), &err) : RW_ERR_NOMEM;
    if (c->recorded == RW_OK) c->recorded = rw_engine_record(c->e, ev, 1, &d, 1, &err);
    free(ev);
    return NULL;
}

static rw_status count_rows(void *ctx, const rw_cluster_row *c) {
    (void)c;
    (*(int *)ctx)++;
    return RW_OK;
}

/* Rows of run in the file: clusters, accounts and attributes. */
static int64_t run_rows(int64_t run) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM clusters WHERE run = %lld) + (SELECT count(*) FROM run_accounts WHERE"
             " run = %lld) + (SELECT count(*) FROM run_attributes WHERE run = %lld)",
             (long long)run, (long long)run, (long long)run);
    return sql_int("%s", sql);
}

/* Called at the end of each chunk, with the store held, before its commit. */
static rw_status on_chunk(void *ctx, int64_t run, uint64_t chunk) {
    chunk_ctx *c = ctx;
    c->chunks = chunk;
    c->run = run;
    if (c->exit_at && chunk == (uint64_t)c->exit_at) _exit(0); /* no cleanup at all: a crash */
    if (chunk == c->fail_at) return RW_ERR_FULL;
    if (chunk == 1 && !c->fail_at && !c->exit_at) {
        /* A signup now must wait for the store, which this chunk holds. */
        c->started = pthread_create(&c->t, NULL, signup_during_write, c) == 0;
        for (int i = 0; i < 2000 && !c->queued; i++) {
            pthread_mutex_lock(&c->e->turn_mu);
            c->queued = c->e->store_asks > c->e->store_gets;
            pthread_mutex_unlock(&c->e->turn_mu);
            if (!c->queued) usleep(5000);
        }
    } else if (chunk == 2 && !c->fail_at && !c->exit_at) {
        /* The store was handed over between the chunks: the signup is
         * durable, the run half-written and invisible. */
        c->durable = sql_int("SELECT count(*) FROM accounts WHERE ext = 'mid-write'");
        c->partial = run_rows(run);
        c->newest_sql = sql_int("SELECT max(id) FROM runs");
        rw_engine *r = NULL;
        rw_err err = {{0}};
        rw_engine_config cfg = {.db_path = tu_db(), .readonly = 1, .store_only = 1};
        if (rw_engine_open(&r, &cfg, &err) == RW_OK) {
            rw_engine_latest_run(r, &c->newest, &err);
            /* an unpublished run does not exist for readers */
            if (rw_engine_clusters(r, run, -1.0, 0, 0, count_rows, &c->seen, &err) != RW_ERR_NOTFOUND) c->seen = -1;
            rw_engine_close(r);
        }
    }
    return RW_OK;
}

Test(runs, a_signup_commits_while_a_run_is_written) {
    rw_engine *e = chunk_world();
    chunk_ctx c = {.e = e, .newest = -1};
    rw_engine_test_chunks(e, 4, on_chunk, &c);
    rw_rescore_summary s = rescore(e);
    if (c.started) pthread_join(c.t, NULL);
    cr_assert(c.started);
    cr_expect(c.queued, "the signup's commit never waited for the store");
    cr_expect_eq(c.recorded, RW_OK, "the signup: %s", rw_status_str(c.recorded));
    cr_expect_eq(c.durable, 1, "the signup was not durable before the run's second chunk");
    cr_expect_eq(c.partial, 4, "chunk 1 (4 rows) committed: %lld rows of run 2 in the file", (long long)c.partial);
    cr_expect_eq(c.newest_sql, 1, "the half-written run is in runs");
    cr_expect_eq(c.newest, 1, "the half-written run is the newest");
    cr_expect_eq(c.seen, 0, "the half-written run was found (%d clusters seen)", c.seen);
    cr_expect_eq(s.run, 2);
    cr_expect_eq(c.run, 2);
    /* 40 singletons and the ring's accounts, their clusters and attributes:
     * many chunks of 4 rows, all of them in the run once published. */
    cr_expect_gt(c.chunks, 10);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_accounts WHERE run = 2"), 40 + RING);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_writes"), 0);
    cr_expect_eq(counters(e).run, 2);
    rw_engine_close(e);
}

Test(runs, a_failed_run_write_leaves_nothing_and_the_next_takes_its_id) {
    rw_engine *e = chunk_world();
    chunk_ctx c = {.e = e, .fail_at = 3};
    rw_engine_test_chunks(e, 4, on_chunk, &c);
    rw_rescore_summary s;
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_rescore(e, NULL, &s, NULL, NULL, &err), RW_ERR_FULL, "%s", err.msg);
    cr_expect(strstr(err.msg, "chunk 3"), "%s", err.msg);
    cr_expect_eq(sql_int("SELECT max(id) FROM runs"), 1);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_writes"), 0, "the reservation was left");
    cr_expect_eq(run_rows(2), 0, "chunks 1-2 were left");
    cr_expect_eq(counters(e).run, 1, "online scoring moved to the failed run");
    rw_engine_test_chunks(e, 0, NULL, NULL);
    cr_expect_eq(rescore(e).run, 2);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_accounts WHERE run = 2"), 40 + RING);
    rw_engine_close(e);
}

Test(runs, a_run_half_written_by_a_crash_is_invisible_then_removed) {
    /* The world in this process; the rescorings in a child that dies in the
     * middle of writing run 2 (this process starts no BLAS threads before
     * the fork). */
    rw_engine *e = ring_world();
    rw_engine_close(e);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        rw_engine *ce = NULL;
        rw_err err = {{0}};
        rw_engine_config cfg = {.db_path = tu_db()};
        rw_rescore_summary s;
        if (rw_engine_open(&ce, &cfg, &err) != RW_OK || rw_engine_rescore(ce, NULL, &s, NULL, NULL, &err) != RW_OK)
            _exit(2);
        chunk_ctx c = {.e = ce, .exit_at = 3};
        rw_engine_test_chunks(ce, 4, on_chunk, &c);
        rw_engine_rescore(ce, NULL, &s, NULL, NULL, &err);
        _exit(3); /* the write finished: the crash did not happen */
    }
    int wst = 0;
    cr_assert_eq(waitpid(pid, &wst, 0), pid);
    cr_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "child: %d", WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
    /* Chunks 1 and 2 are in the file, unpublished. */
    cr_expect_eq(run_rows(2), 8);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_writes"), 1);
    cr_expect_eq(sql_int("SELECT max(id) FROM runs"), 1);
    /* Read-only: run 1 is the newest and run 2 shows nothing. */
    rw_engine *r = open_engine(1);
    int64_t newest = 0;
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_latest_run(r, &newest, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(newest, 1);
    int n = 0;
    cr_expect_eq(rw_engine_clusters(r, 2, -1.0, 0, 0, count_rows, &n, &err), RW_ERR_NOTFOUND, "%s", err.msg);
    cr_expect_eq(n, 0, "%d clusters of the half-written run", n);
    cr_expect_eq(counters(r).run, 1);
    rw_engine_close(r);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_writes"), 1, "a read-only open changed the file");
    /* The next writable open removes the rows; the next run is run 2. */
    e = open_engine(0);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_writes"), 0);
    cr_expect_eq(run_rows(2), 0);
    cr_expect_eq(counters(e).run, 1);
    cr_expect_eq(rescore(e).run, 2);
    cr_expect_eq(sql_int("SELECT count(*) FROM run_accounts WHERE run = 2"), 40 + RING);
    rw_engine_close(e);
}
