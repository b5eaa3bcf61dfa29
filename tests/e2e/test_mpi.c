/* End to end under mpirun: `rescore --mpi` on 1, 2 and 3 ranks writes the
 * run plain `rescore` writes, and a rank lost mid-job fails the job with
 * the previous run in force and the database sound. Skipped (passing) when
 * the binary was built without MPI or mpirun is missing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tu_run.h"
#include "tu_sql.h"

TestSuite(mpi, .init = tu_tmp_init, .fini = tu_tmp_fini, .timeout = 120);

/* Open MPI refuses root without these, and wants --oversubscribe for more
 * ranks than cores. */
#define MPIRUN                                                                                                         \
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader ASAN_OPTIONS=detect_leaks=0 "   \
    "mpirun -x ASAN_OPTIONS --oversubscribe -np"

/* A copy of the world's database (and its key) as name. */
static void copy_db(const char *name) {
    int rc = tu_run(NULL, "cd '%s' && cp ringwatch.db %s && cp ringwatch.db.key %s.key", tu_dir(), name, name);
    cr_assert_eq(rc, 0);
}

static char *scores_of(const char *db) {
    char *out = NULL;
    int rc = tu_rw(&out, "scores --db %s", db);
    cr_assert_eq(rc, 0, "%s", out);
    return out;
}

Test(mpi, ranks_write_the_run_of_one_process) {
    TU_NEED_MPI();
    tu_world(3000, 11); /* run 1, and run 2 below is warm-started from it */
    char *out = NULL;
    int rc = tu_rw(&out,
                   "simulate --accounts 3000 --seed 12 --out more.jsonl --truth more.csv && '%s' ingest --quiet "
                   "more.jsonl",
                   tu_bin());
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    const char *names[] = {"np1.db", "np2.db", "np3.db"};
    for (int i = 0; i < 3; i++) copy_db(names[i]);
    rc = tu_rw(&out, "rescore --quiet");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    char *want = scores_of("ringwatch.db");
    cr_assert_gt(strlen(want), 1000);
    for (int i = 0; i < 3; i++) {
        rc = tu_run(&out, "cd '%s' && " MPIRUN " %d '%s' rescore --mpi --db %s", tu_dir(), i + 1, tu_bin(), names[i]);
        cr_assert_eq(rc, 0, "%s", out);
        cr_expect(strstr(out, "run 2: "), "%s", out);
        cr_expect(i == 0 || strstr(out, "rank 1 peak RSS"), "%s", out);
        free(out);
        char *got = scores_of(names[i]);
        cr_expect(strcmp(got, want) == 0, "scores with %d ranks differ from one process", i + 1);
        free(got);
    }
    free(want);
}

Test(mpi, a_rank_killed_mid_job_fails_the_job_and_keeps_the_run) {
    TU_NEED_MPI();
    tu_world(3000, 13);
    char *out = NULL;
    int rc = tu_rw(&out,
                   "simulate --accounts 2000 --seed 14 --out more.jsonl --truth more.csv && '%s' ingest --quiet "
                   "more.jsonl",
                   tu_bin());
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    rc = tu_run(&out, "cd '%s' && RINGWATCH_TEST_KILL_RANK=1 " MPIRUN " 2 '%s' rescore --mpi", tu_dir(), tu_bin());
    cr_expect_neq(rc, 0, "the job succeeded with rank 1 killed:\n%s", out);
    free(out);
    sqlite3_stmt *q =
        tu_sql_row(tu_db(), "SELECT max(id), (SELECT count(*) FROM run_accounts WHERE run > 1) FROM runs");
    cr_expect_eq(sqlite3_column_int64(q, 0), 1, "the newest run is %lld", (long long)sqlite3_column_int64(q, 0));
    cr_expect_eq(sqlite3_column_int64(q, 1), 0, "rows of an unpublished run left behind");
    tu_sql_done(q);
    q = tu_sql_row(tu_db(), "PRAGMA integrity_check");
    cr_expect_str_eq((const char *)sqlite3_column_text(q, 0), "ok");
    tu_sql_done(q);
    /* The job can be run again, whole. */
    rc = tu_run(&out, "cd '%s' && " MPIRUN " 2 '%s' rescore --quiet --mpi", tu_dir(), tu_bin());
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "run 2: "), "%s", out);
    free(out);
}
