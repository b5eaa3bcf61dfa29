/* End to end: the server's rescoring run out of process (rescore_command)
 * on a copy of its database, with plain `ringwatch rescore` and, when this
 * build and machine have Open MPI, under mpirun; a command that fails or a
 * rank that dies fails the job with the run in force kept; DELETE
 * /v1/jobs/{id} cancels in process and out of process. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tu_run.h"
#include "tu_serve.h"
#include "tu_sql.h"

static tu_server srv;
static void init(void) {
    tu_serve_init();
}
static void fini(void) {
    tu_serve_fini(&srv);
}
TestSuite(rescore_command, .init = init, .fini = fini, .timeout = 180);

#define ADMIN  "admin-token-0123456789abcdef"
#define SIGNUP "signup-token-0123456789abcdef"
#define MPIRUN                                                                                                         \
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader ASAN_OPTIONS=detect_leaks=0 "   \
    "mpirun -x ASAN_OPTIONS --oversubscribe -np 2"

/* A world (run 1), and the server on it with rescore_command = command. */
static void serve_with(const char *command) {
    char ini[2048];
    snprintf(ini, sizeof ini,
             "listen = 127.0.0.1:0\ntoken_admin = " ADMIN "\ntoken_signup = " SIGNUP "\nrescore_command = %s\n",
             command);
    tu_write_in("rw.ini", ini);
    tu_serve_up(&srv, "--config rw.ini");
}

static json_t *start_job(char *id, size_t size) {
    long st;
    json_t *d = tu_req(&srv, &st, "POST", "/v1/rescore", ADMIN, "application/json", "{}");
    cr_assert_eq(st, 202, "%s", json_dumps(d, 0));
    snprintf(id, size, "%s", tu_str(d, "job"));
    return d;
}

static void stop_and_check_sound(int64_t newest_run) {
    cr_expect_eq(tu_serve_stop(&srv, SIGTERM), 0, "the server did not stop cleanly");
    char ok[32];
    tu_sql_text(tu_db(), ok, sizeof ok, "PRAGMA integrity_check");
    cr_expect_str_eq(ok, "ok");
    cr_expect_eq(tu_sql_int(tu_db(), 0, "SELECT max(id) FROM runs"), newest_run);
    cr_expect_eq(tu_sql_int(tu_db(), 0, "SELECT count(*) FROM run_writes"), 0, "an unpublished run is left");
    cr_expect_eq(tu_run(NULL, "ls '%s'/*.rescore-copy* 2>/dev/null | grep -q .", tu_dir()), 1, "the copy is left");
}

/* The server's run through command equals an in-process rescoring's of the
 * same events (a copy of the database rescored by the CLI). */
static void same_scores_as_in_process(const char *command) {
    tu_world(3000, 21);
    char *out = NULL;
    int rc = tu_run(&out, "cd '%s' && cp ringwatch.db ref.db && cp ringwatch.db.key ref.db.key", tu_dir());
    cr_assert_eq(rc, 0);
    free(out);
    rc = tu_rw(&out, "rescore --quiet --db ref.db");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    serve_with(command);
    char id[32];
    json_decref(start_job(id, sizeof id));
    json_t *d = tu_wait_job(&srv, ADMIN, id);
    cr_assert_str_eq(tu_str(d, "status"), "done", "%s", json_dumps(d, 0));
    cr_expect_eq(tu_num(d, "run"), 2);
    cr_expect_eq(tu_num(json_object_get(d, "summary"), "accounts"), 3000);
    json_decref(d);
    stop_and_check_sound(2);
    char *want = NULL, *got = NULL;
    cr_assert_eq(tu_rw(&want, "scores --db ref.db"), 0);
    cr_assert_eq(tu_rw(&got, "scores"), 0);
    cr_expect_gt(strlen(want), 1000);
    cr_expect(strcmp(got, want) == 0, "the command's run differs from an in-process rescoring's");
    free(want), free(got);
}

Test(rescore_command, plain_rescore_gives_the_in_process_scores) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' rescore", tu_bin());
    same_scores_as_in_process(cmd);
}

Test(rescore_command, mpirun_gives_the_in_process_scores) {
    TU_NEED_MPI();
    char cmd[1200];
    snprintf(cmd, sizeof cmd, MPIRUN " '%s' rescore --mpi", tu_bin());
    same_scores_as_in_process(cmd);
}

/* One signup answered 200; its time in seconds. */
static double signup(int i) {
    char body[160];
    snprintf(body, sizeof body, "{\"account\":\"during-%d\",\"ts\":%lld,\"ip\":\"10.77.%d.%d\"}", i,
             (long long)time(NULL), i / 200, i % 200 + 1);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    long st;
    json_t *d = tu_req(&srv, &st, "POST", "/v1/signups", SIGNUP, "application/json", body);
    clock_gettime(CLOCK_MONOTONIC, &b);
    cr_expect_eq(st, 200, "signup %d during the job: %s", i, json_dumps(d, 0));
    json_decref(d);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

Test(rescore_command, signups_are_answered_while_the_command_runs) {
    tu_world(3000, 22);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "sleep 1; '%s' rescore", tu_bin());
    serve_with(cmd);
    char id[32];
    json_decref(start_job(id, sizeof id));
    double worst = 0;
    for (int i = 0; i < 50; i++) {
        double t = signup(i);
        if (t > worst) worst = t;
    }
    json_t *d = tu_wait_job(&srv, ADMIN, id);
    cr_assert_str_eq(tu_str(d, "status"), "done", "%s", json_dumps(d, 0));
    json_decref(d);
    cr_expect_lt(worst, 2.0, "a signup waited %.2f s during the job", worst);
    long st;
    d = tu_req(&srv, &st, "GET", "/v1/accounts/during-49", ADMIN, NULL, NULL);
    cr_expect_eq(st, 200, "a signup made during the job was lost");
    json_decref(d);
    stop_and_check_sound(2);
    /* The run covers what the copy held: at most the signups before it. */
    cr_expect_leq(tu_sql_int(tu_db(), 0, "SELECT events FROM runs WHERE id = 2"),
                  tu_sql_int(tu_db(), 0, "SELECT count(*) FROM events") - 1);
}

static void failing_command_fails_the_job(const char *command, const char *message) {
    tu_world(2000, 23);
    serve_with(command);
    char id[32];
    json_decref(start_job(id, sizeof id));
    json_t *d = tu_wait_job(&srv, ADMIN, id);
    cr_expect_str_eq(tu_str(d, "status"), "failed", "%s", json_dumps(d, 0));
    cr_expect(strstr(tu_str(d, "error"), message), "%s", json_dumps(d, 0));
    json_decref(d);
    long st;
    d = tu_req_text(&srv, &st, "GET", "/metrics", ADMIN, NULL, NULL);
    cr_expect(strstr(json_string_value(d), "ringwatch_rescores_total{result=\"failed\"} 1\n"), "%s",
              json_string_value(d));
    json_decref(d);
    d = tu_req(&srv, &st, "GET", "/readyz", NULL, NULL, NULL);
    cr_expect_eq(tu_num(d, "run"), 1, "the run in force changed");
    json_decref(d);
    stop_and_check_sound(1);
}

Test(rescore_command, a_failing_command_fails_the_job_with_its_last_words) {
    failing_command_fails_the_job("echo first line >&2; echo the disk is on fire >&2; exit 3",
                                  "rescore_command exited with status 3: first line | the disk is on fire");
}

Test(rescore_command, a_command_that_publishes_nothing_fails_the_job) {
    failing_command_fails_the_job("true", "published no run");
}

Test(rescore_command, a_rank_killed_fails_the_job) {
    TU_NEED_MPI();
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "RINGWATCH_TEST_KILL_RANK=1 " MPIRUN " '%s' rescore --mpi", tu_bin());
    failing_command_fails_the_job(cmd, "rescore_command exited with status");
}

static void cancel_running_job(void) {
    char id[32], path[64];
    json_decref(start_job(id, sizeof id));
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    long st;
    json_t *d = tu_req(&srv, &st, "DELETE", path, ADMIN, NULL, NULL);
    cr_expect_eq(st, 200, "%s", json_dumps(d, 0));
    cr_expect_str_eq(tu_str(d, "status"), "cancelled", "%s", json_dumps(d, 0));
    json_decref(d);
    d = tu_req(&srv, &st, "DELETE", path, ADMIN, NULL, NULL);
    cr_expect_eq(st, 409, "cancelling a finished job: %s", json_dumps(d, 0));
    json_decref(d);
    d = tu_req_text(&srv, &st, "GET", "/metrics", ADMIN, NULL, NULL);
    cr_expect(strstr(json_string_value(d), "ringwatch_rescores_total{result=\"cancelled\"} 1\n"));
    json_decref(d);
    d = tu_req(&srv, &st, "GET", "/readyz", NULL, NULL, NULL);
    cr_expect_eq(tu_num(d, "run"), 1, "the run in force changed");
    json_decref(d);
    stop_and_check_sound(1);
}

Test(rescore_command, delete_cancels_the_command) {
    tu_world(2000, 24);
    serve_with("sleep 60; exit 0");
    cancel_running_job();
}

Test(rescore_command, delete_cancels_an_in_process_rescoring) {
    tu_world(2000, 25);
    setenv("RINGWATCH_TEST_STAGE_DELAY_MS", "1500", 1); /* a stage ends, then the job waits: cancelled then */
    tu_write_in("rw.ini", "listen = 127.0.0.1:0\ntoken_admin = " ADMIN "\n");
    tu_serve_up(&srv, "--config rw.ini");
    cancel_running_job();
}
