/* End to end through the real binary and server: the signup models a
 * replay's nightly jobs fitted are listed with their training window, row
 * counts, validation figures and decisions; operators (only they) promote
 * and roll back through the CLI and the API; drift is reported when the
 * second half of a replay comes from another kind of world. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tu_run.h"
#include "tu_serve.h"

#define SIGNUP  "signup-token-0123456789"
#define ANALYST "analyst-token-0123456789"
#define ADMIN   "admin-token-0123456789"
#define METRICS "metrics-token-0123456789"

/* The simulator's first second (simulate --start's default). */
#define START 1788220800LL
#define DAY   86400LL

static tu_server srv;

static void fini(void) {
    tu_serve_fini(&srv);
}
TestSuite(models, .init = tu_serve_init, .fini = fini, .timeout = 300);

static void run_ok(const char *what, char **out, int rc) {
    cr_assert_eq(rc, 0, "%s: exit %d:\n%s", what, rc, out && *out ? *out : "");
}

/* A 12,000-account world of 20 days replayed with the nightly schedule:
 * enough labelled signups for several candidates. */
static void replayed_world(void) {
    char *out = NULL;
    run_ok("simulate", &out, tu_rw(&out, "simulate --accounts 12000 --seed 3 --days 20 --out ev.jsonl 2>&1"));
    free(out);
    run_ok("replay", &out, tu_rw(&out, "replay ev.jsonl --out decisions.csv 2>&1"));
    cr_expect(strstr(out, "candidate 1 fitted on"), "no candidate was fitted:\n%s", out);
    free(out);
}

static void serve(void) {
    tu_write_in("rw.ini", "listen = 127.0.0.1:0\ntoken_signup = " SIGNUP "\ntoken_analyst = " ANALYST
                          "\ntoken_admin = " ADMIN "\ntoken_metrics = " METRICS "\n");
    tu_serve_up(&srv, "--config rw.ini --db ringwatch.db");
}

static long in_force(const char *token) {
    long st;
    json_t *d = tu_req(&srv, &st, "GET", "/v1/models", token, NULL, NULL);
    cr_assert_eq(st, 200);
    long v = tu_num(d, "in_force");
    json_decref(d);
    return v;
}

Test(models, list_show_promote_and_rollback_through_the_cli) {
    replayed_world();
    char *out = NULL;
    run_ok("model list", &out, tu_rw(&out, "model list"));
    cr_expect(strstr(out, "version\tstate\tfitted\ttraining window\tring rows\tother rows\n") == out, "%s", out);
    long versions = 0;
    for (const char *p = strchr(out, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        int v;
        char state[32], from[32], to[32];
        unsigned long pos, neg;
        cr_assert_eq(sscanf(p + 1, "%d\t%31s\t%*s\t%31[^.]..%31s\t%lu\t%lu", &v, state, from, to, &pos, &neg), 6, "%s",
                     p + 1);
        cr_expect(strcmp(from, to) < 0, "training window %s..%s", from, to);
        cr_expect(pos > 0 && neg > pos, "rows %lu and %lu", pos, neg);
        versions++;
    }
    cr_assert_geq(versions, 2, "%s", out);
    free(out);

    run_ok("model show 1", &out, tu_rw(&out, "model show 1"));
    cr_expect(strstr(out, "# signup model 1: ") && strstr(out, "# validation {\"train_rows\":") &&
                  strstr(out, "\"recall\":") && strstr(out, "decided 20"),
              "%s", out);
    free(out);

    run_ok("model promote 2", &out, tu_rw(&out, "model promote 2"));
    cr_expect(strstr(out, "signup model 2 is in force"), "%s", out);
    free(out);
    run_ok("model list", &out, tu_rw(&out, "model list"));
    const char *row = strstr(out, "\n2\t");
    cr_expect(row && strstr(row, "(in force)") && strstr(row, "(in force)") < strchr(row + 1, '\n'), "%s", out);
    free(out);
    run_ok("model rollback", &out, tu_rw(&out, "model rollback"));
    cr_expect(strstr(out, "rolled back: signup model 0 is in force"), "%s", out);
    free(out);
    /* nothing left to roll back to, and no such version */
    cr_expect_eq(tu_rw(&out, "model rollback 2>&1"), 1, "%s", out);
    free(out);
    cr_expect_eq(tu_rw(&out, "model promote 999 2>&1"), 1);
    cr_expect(strstr(out, "999"), "%s", out);
    free(out);
    cr_expect_eq(tu_rw(&out, "model promote x1 2>&1"), 2);
    cr_expect(strstr(out, "'x1' is not a model version"), "%s", out);
    free(out);
}

Test(models, the_api_lists_models_and_only_operators_change_them) {
    replayed_world();
    serve();
    long st;
    json_t *d = tu_req(&srv, &st, "GET", "/v1/models", ADMIN, NULL, NULL);
    cr_assert_eq(st, 200);
    cr_expect_eq(tu_num(d, "in_force"), 0);
    cr_expect_str_eq(tu_str(d, "version_0"), "shipped");
    json_t *list = json_object_get(d, "models");
    cr_assert(json_is_array(list) && json_array_size(list) >= 2, "%s", json_dumps(d, 0));
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) {
        cr_expect(json_is_string(json_object_get(m, "train_from")) && json_is_string(json_object_get(m, "train_to")));
        cr_expect_gt(tu_num(m, "positives"), 0);
        cr_expect_gt(tu_num(m, "negatives"), 0);
        json_t *val = json_object_get(m, "validation");
        cr_expect(json_is_number(json_object_get(val, "recall")) &&
                      json_is_number(json_object_get(val, "benign_reviewed")),
                  "validation of %ld", tu_num(m, "version"));
        /* every version but the newest was decided on, with its figures */
        if (i > 0) {
            cr_expect(!strcmp(tu_str(m, "state"), "rejected") || !strcmp(tu_str(m, "state"), "promoted"), "%s",
                      tu_str(m, "state"));
            cr_expect(json_is_object(json_object_get(m, "decision")), "decision of %ld", tu_num(m, "version"));
        }
    }
    json_decref(d);

    /* other roles are refused and change nothing */
    const char *others[] = {SIGNUP, ANALYST, METRICS};
    for (size_t k = 0; k < 3; k++) {
        json_decref(tu_req(&srv, &st, "GET", "/v1/models", others[k], NULL, NULL));
        cr_expect_eq(st, 403);
        json_decref(tu_req(&srv, &st, "POST", "/v1/models/1/promote", others[k], NULL, NULL));
        cr_expect_eq(st, 403);
        json_decref(tu_req(&srv, &st, "POST", "/v1/models/rollback", others[k], NULL, NULL));
        cr_expect_eq(st, 403);
    }
    json_decref(tu_req(&srv, &st, "POST", "/v1/models/1/promote", NULL, NULL, NULL));
    cr_expect_eq(st, 401);
    cr_expect_eq(in_force(ADMIN), 0);

    d = tu_req(&srv, &st, "POST", "/v1/models/1/promote", ADMIN, NULL, NULL);
    cr_expect_eq(st, 200);
    cr_expect_eq(tu_num(d, "in_force"), 1);
    json_decref(d);
    cr_expect_eq(in_force(ADMIN), 1);
    d = tu_req_text(&srv, &st, "GET", "/metrics", METRICS, NULL, NULL);
    cr_expect(strstr(json_string_value(d), "\nringwatch_signup_model_version 1\n"), "%s", json_string_value(d));
    json_decref(d);

    d = tu_req(&srv, &st, "POST", "/v1/models/999/promote", ADMIN, NULL, NULL);
    cr_expect_eq(st, 404);
    json_decref(d);
    d = tu_req(&srv, &st, "POST", "/v1/models/x/promote", ADMIN, NULL, NULL);
    cr_expect_eq(st, 404);
    cr_expect_str_eq(tu_str(d, "field"), "version");
    json_decref(d);

    d = tu_req(&srv, &st, "POST", "/v1/models/rollback", ADMIN, NULL, NULL);
    cr_expect_eq(st, 200);
    cr_expect_eq(tu_num(d, "in_force"), 0);
    json_decref(d);
    cr_expect_eq(in_force(ADMIN), 0);
    d = tu_req(&srv, &st, "POST", "/v1/models/rollback", ADMIN, NULL, NULL);
    cr_expect_eq(st, 404, "the shipped model has nothing to roll back to");
    json_decref(d);
}

/* An operator's own signup model in place of the shipped one (here one
 * constant that blocks every signup): replay and serve decide by it, after
 * nightly runs too, and a model file with a bad line is refused, naming
 * the file and the line, before anything is written; a missing one stops
 * the server, naming it. */
Test(models, a_base_model_takes_the_shipped_ones_place) {
    char *out = NULL;
    tu_write_in("all.model", "# blocks every signup\nonline.bias 20\n");
    tu_write_in("bad.model", "online.bias 20\nonline.tree nonsense\n");
    run_ok("simulate", &out, tu_rw(&out, "simulate --accounts 2000 --seed 3 --days 4 --out ev.jsonl 2>&1"));
    free(out);
    cr_expect_eq(tu_rw(&out, "replay --db bad.db --base-model bad.model ev.jsonl --out bad.csv 2>&1"), 1, "%s", out);
    cr_expect(strstr(out, "bad.model: line 2"), "%s", out);
    cr_expect_neq(access(tu_path("bad.db"), F_OK), 0, "a refused model wrote a database");
    free(out);

    run_ok("replay", &out, tu_rw(&out, "replay --db all.db --base-model all.model ev.jsonl --out all.csv 2>&1"));
    cr_expect(strstr(out, "4 batch runs"), "%s", out);
    free(out);
    FILE *f = fopen(tu_path("all.csv"), "r");
    cr_assert(f);
    char line[512];
    int signups = 0, blocked = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, ",signup,")) signups++, blocked += strstr(line, ",block,") != NULL;
    fclose(f);
    cr_expect_eq(signups, 2000);
    cr_expect_eq(blocked, signups, "%d of %d signups blocked", blocked, signups);

    tu_write_in("gone.ini", "listen = 127.0.0.1:0\nauth = off\nsignup_base_model = gone.model\n");
    cr_expect_eq(tu_rw(&out, "serve --config gone.ini --db all.db 2>&1"), 1, "%s", out);
    cr_expect(strstr(out, "signup_base_model: gone.model: cannot open"), "%s", out);
    free(out);
    tu_write_in("rw.ini", "listen = 127.0.0.1:0\ntoken_signup = " SIGNUP "\ntoken_admin = " ADMIN
                          "\nsignup_base_model = all.model\n");
    tu_serve_up(&srv, "--config rw.ini --db all.db");
    long st;
    json_t *d = tu_req(&srv, &st, "POST", "/v1/signups", SIGNUP, "application/json",
                       "{\"account\":\"late-1\",\"ts\":1788600000,\"ip\":\"198.51.100.7\"}");
    cr_expect_eq(st, 200);
    cr_expect_str_eq(tu_str(d, "decision"), "block");
    json_decref(d);
    d = tu_req(&srv, &st, "GET", "/v1/models", ADMIN, NULL, NULL);
    cr_expect_eq(st, 200);
    cr_expect_str_eq(tu_str(d, "version_0"), "base", "operators see whose model version 0 is");
    cr_expect_eq(json_real_value(json_object_get(d, "benign_budget")), 0.001);
    json_decref(d);
}

/* How many figures (features and the score) each night of a replay's log
 * names above the drift level ("replay: run N: ... drift above the level:
 * a 0.40, b 0.31; ..."), 0 when it names none. */
static void drifted(const char *log, int *count, int nights) {
    for (int n = 0; n < nights; n++) count[n] = 0;
    for (const char *p = strstr(log, "replay: run "); p; p = strstr(p + 1, "replay: run ")) {
        int run = atoi(p + 12);
        const char *eol = strchr(p, '\n'), *d = strstr(p, "drift above the level:");
        if (run < 1 || run > nights || !d || (eol && d > eol)) continue;
        const char *end = strchr(d, ';');
        if (!end || (eol && end > eol)) end = eol ? eol : d + strlen(d);
        for (const char *q = d; q < end; q++) count[run - 1] += *q == '.';
    }
}

/* Twelve days of the default world, then twelve of another: `bigfarms`
 * (the mix changes) or the default with another seed (it does not). */
static char *replay_two_halves(const char *second, const char *db, int *count, int nights) {
    char *out = NULL;
    run_ok("simulate", &out,
           tu_rw(&out,
                 "simulate --accounts 12000 --seed 3 --days 12 --out a.jsonl 2>&1 && '%s' simulate --accounts 12000 "
                 "--seed 4 --days 12 --start %lld %s --out b.jsonl 2>&1 && cat a.jsonl b.jsonl > %s.jsonl",
                 tu_bin(), START + 12 * DAY, second, db));
    free(out);
    /* Distillation off: the model in force stays the same through the
     * replay, so what moves is the signups, not the model. */
    run_ok("replay", &out, tu_rw(&out, "replay --distill off --db %s.db %s.jsonl --out %s.csv 2>&1", db, db, db));
    drifted(out, count, nights);
    return out;
}

Test(models, drift_is_reported_when_the_second_half_changes_its_mix) {
    enum { NIGHTS = 24 };
    int plain[NIGHTS], mixed[NIGHTS];
    free(replay_two_halves("", "plain", plain, NIGHTS));
    char *log = replay_two_halves("--variant bigfarms", "mixed", mixed, NIGHTS);
    /* A few nights after the change (the last day must hold the new mix,
     * and the model's window still the old one), clearly more of the
     * signups' figures have moved than on the same nights of the unchanged
     * world (a young simulated world moves a few figures every night). */
    int moved = 0;
    for (int n = 17; n < NIGHTS; n++) moved += mixed[n] >= plain[n] + 2;
    cr_expect_geq(
        moved, 5,
        "figures above the level on nights 18-24, changed: %d %d %d %d %d %d %d, unchanged: %d %d %d %d %d %d %d\n%s",
        mixed[17], mixed[18], mixed[19], mixed[20], mixed[21], mixed[22], mixed[23], plain[17], plain[18], plain[19],
        plain[20], plain[21], plain[22], plain[23], log);
    free(log);

    /* the server's nightly job reports it in GET /v1/models, /metrics and
     * /readyz (which stays ready) */
    tu_write_in("rw.ini", "listen = 127.0.0.1:0\ntoken_admin = " ADMIN "\n");
    tu_serve_up(&srv, "--config rw.ini --db mixed.db");
    long st;
    json_t *d = tu_req(&srv, &st, "POST", "/v1/rescore", ADMIN, "application/json", "{}");
    cr_assert_eq(st, 202, "%s", json_dumps(d, 0));
    json_decref(tu_wait_job(&srv, ADMIN, tu_str(d, "job")));
    json_decref(d);
    d = tu_req(&srv, &st, "GET", "/v1/models", ADMIN, NULL, NULL);
    json_t *drift = json_object_get(d, "drift");
    cr_assert(json_is_object(drift), "%s", json_dumps(d, 0));
    cr_expect(json_is_number(json_object_get(drift, "score")), "%s", json_dumps(drift, 0));
    cr_expect_gt(tu_num(drift, "drifted"), 0);
    json_decref(d);
    d = tu_req(&srv, &st, "GET", "/readyz", NULL, NULL, NULL);
    cr_expect_eq(st, 200);
    json_t *moved_list = json_object_get(json_object_get(d, "drift"), "moved");
    cr_expect_gt(json_array_size(moved_list), 0, "%s", json_dumps(d, 0));
    json_decref(d);
    d = tu_req_text(&srv, &st, "GET", "/metrics", ADMIN, NULL, NULL);
    cr_expect(strstr(json_string_value(d), "ringwatch_signup_feature_psi{feature=\"score\"} "), "no score PSI");
    json_decref(d);
}
