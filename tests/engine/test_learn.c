/* engine: the signup model learns from the deployment. The training rows are
 * byte for byte the features logged at each signup (no hindsight); a
 * candidate fitted on shuffled labels is rejected and the model in force
 * stays; a model in force reviewing many more benign signups than the
 * shipped one is rolled back; operators promote and roll back; the
 * features do not depend on the model in force; the feature log goes with
 * its account and with retention. */
#include "tu_sql.h"
/* after tu_sql.h, whose parameters the fixture's globals would shadow */
#include "commit.h"
#include "learn.h"
#include "online_util.h"

ONLINE_SUITE(learn);

/* Signups of day `day`: n benign ones on devices of their own, a few a day
 * from each /24, and rings of 8 on one device and card each; *ring[i]
 * whether signup i is a ring's. */
static void day_of_signups(rw_engine *e, int day, int n, rw_decision *d, int *ring) {
    for (int i = 0; i < n; i++) {
        int r = i % 5 == 0, g = i / 40;
        ring[i] = r;
        long long ts = T0 + day * DAY + i * 30LL;
        if (r)
            d[i] = rec(e, 0,
                       "{\"account\":\"d%d-r%d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"198.51.%d.%d\","
                       "\"device\":\"farm-%d-%d\",\"payment\":\"tok-farm-%d-%d\"}",
                       day, i, ts, 100 + g % 100, i % 250, day, g, day, g);
        else
            d[i] = rec(e, 0,
                       "{\"account\":\"d%d-b%d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"10.%d.%d.%d\","
                       "\"device\":\"dev-%d-%d\",\"payment\":\"tok-%d-%d\"}",
                       day, i, ts, day, i % 250, 1 + i / 250, day, i, day, i);
    }
}

/* A run that labels every node as label_of says (1: flagged). */
typedef struct {
    uint8_t *kind;
    double *ascore;
    uint32_t *membership, csize[1];
    rw_learn_run r;
} fake_run;

static void fake_run_init(fake_run *f, rw_engine *e) {
    uint32_t n = rw_graph_node_count(e->graph);
    f->kind = calloc(n, 1);
    f->ascore = calloc(n, sizeof *f->ascore);
    f->membership = calloc(n, sizeof *f->membership);
    cr_assert(f->kind && f->ascore && f->membership);
    f->csize[0] = 1;
    f->r = (rw_learn_run){1, n, f->kind, f->ascore, 0.5, f->membership, f->csize};
}

static void fake_run_free(fake_run *f) {
    free(f->kind), free(f->ascore), free(f->membership);
}

/* Labels account ext (1: flagged by the fake run). */
static void label(rw_engine *e, fake_run *f, const char *ext, int flagged) {
    uint32_t a = rw_graph_find_account(e->graph, ext, strlen(ext));
    cr_assert_neq(a, RW_NODE_NONE, "%s", ext);
    f->ascore[a] = flagged;
}

Test(learn, training_rows_are_the_logged_rows_byte_for_byte) {
    enum { N = 300 };
    rw_engine *e = open_engine(0);
    rw_decision *d = calloc(N, sizeof *d);
    int ring[N];
    day_of_signups(e, 0, N, d, ring);
    flush(e);
    cr_expect_eq(sql_int("SELECT count(*) FROM signup_features"), N);
    fake_run f;
    fake_run_init(&f, e);
    rw_learn_rows rows;
    rw_err err = {{0}};
    cr_assert_eq(rw_learn_read_rows(e, &f.r, 0, INT64_MAX, &rows, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rows.n, N);
    for (int i = 0; i < N; i++) {
        cr_expect_eq(memcmp(rows.x + (size_t)i * RW_O_COUNT, d[i].features, RW_O_COUNT * sizeof(double)), 0,
                     "row %d differs from the features scored at its signup", i);
        cr_expect_eq(rows.score[i], d[i].score);
        cr_expect_eq(rows.ts[i], T0 + i * 30LL);
    }
    /* The ring's signups had features worth learning from. */
    int shared = 0;
    for (int i = 0; i < N; i++) shared += ring[i] && d[i].features[RW_O_DEVICE_SHARED] > 0;
    cr_expect_gt(shared, N / 10);
    rw_learn_rows_free(&rows);
    fake_run_free(&f);
    free(d);
    rw_engine_close(e);
}

/* A fake run labelling the signups of days 0..day by their ring, or, when
 * shuffle, by a coin unrelated to them. */
static void label_days(rw_engine *e, fake_run *f, int days, int n, int shuffle) {
    char ext[64];
    unsigned seed = 12345;
    for (int day = 0; day < days; day++)
        for (int i = 0; i < n; i++) {
            int r = i % 5 == 0;
            snprintf(ext, sizeof ext, "d%d-%c%d", day, r ? 'r' : 'b', i);
            label(e, f, ext, shuffle ? (int)(rand_r(&seed) % 2) : r);
        }
}

Test(learn, candidate_on_shuffled_labels_is_rejected_and_the_model_in_force_stays) {
    enum { N = 1000 };
    rw_engine *e = open_engine(0);
    rw_learn_params lp = {.min_positives = 50, .min_negatives = 200, .shadow_hours = 1, .min_history_days = 0.01};
    rw_engine_set_learn(e, &lp);
    rw_decision *d = calloc(N, sizeof *d);
    int *ring = calloc(N, sizeof *ring);
    day_of_signups(e, 0, N, d, ring);
    flush(e);
    rw_online_model before = e->live.model;

    fake_run f;
    fake_run_init(&f, e);
    label_days(e, &f, 1, N, 1);
    char note[512];
    rw_err err = {{0}};
    cr_assert_eq(rw_learn_nightly(e, &f.r, note, sizeof note, &err), RW_OK, "%s", err.msg);
    cr_log_info("night 1: %s", note);
    rw_learn_status ls;
    rw_engine_learn_status(e, &ls);
    cr_assert_eq(ls.shadow, 1, "a candidate is in shadow: %s", note);
    fake_run_free(&f);

    day_of_signups(e, 1, N, d, ring);
    flush(e);
    rw_engine_learn_status(e, &ls);
    cr_expect_eq(ls.shadow_scored, N, "every signup of the day was scored in shadow");
    cr_expect_eq(sql_int("SELECT count(*) FROM signup_features WHERE shadow_model = 1 AND shadow IS NOT NULL"), N);

    fake_run_init(&f, e);
    label_days(e, &f, 2, N, 0);
    cr_assert_eq(rw_learn_nightly(e, &f.r, note, sizeof note, &err), RW_OK, "%s", err.msg);
    cr_log_info("night 2: %s", note);
    rw_engine_learn_status(e, &ls);
    cr_expect_eq(ls.in_force, 0, "the shipped model stays in force: %s", note);
    cr_expect_eq(ls.rejections, 1);
    cr_expect_eq(ls.promotions, 0);
    cr_expect_eq(memcmp(&e->live.model, &before, sizeof before), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM online_models WHERE version = 1 AND state = 'rejected'"
                         " AND json_extract(decision, '$.promoted') = 0"),
                 1);
    cr_expect_eq(sql_int("SELECT count(*) FROM meta WHERE key = 'online_model' AND value != 0"), 0);
    fake_run_free(&f);
    free(d);
    free(ring);
    rw_engine_close(e);
}

/* An engine whose day-0 signups (n, their decisions in d and whether each
 * is a ring's in ring) a fake run labelled, by their ring or (shuffle) by
 * coin tosses, and whose nightly job fitted candidate 1 on them. */
static rw_engine *with_candidate(int n, double shadow_hours, int shuffle, rw_decision *d, int *ring) {
    rw_engine *e = open_engine(0);
    rw_learn_params lp = {
        .min_positives = 50, .min_negatives = 200, .shadow_hours = shadow_hours, .min_history_days = 0.01};
    rw_engine_set_learn(e, &lp);
    day_of_signups(e, 0, n, d, ring);
    flush(e);
    fake_run f;
    fake_run_init(&f, e);
    label_days(e, &f, 1, n, shuffle);
    char note[512];
    rw_err err = {{0}};
    cr_assert_eq(rw_learn_nightly(e, &f.r, note, sizeof note, &err), RW_OK, "%s", err.msg);
    fake_run_free(&f);
    return e;
}

/* with_candidate's engine, a day of shadow, with candidate 1 put in force
 * by hand as an operator would. */
static rw_engine *with_learnt_in_force(int n, int shuffle, rw_decision *d, int *ring) {
    rw_engine *e = with_candidate(n, 24, shuffle, d, ring);
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_model_promote(e, 1, &err), RW_OK, "%s", err.msg);
    return e;
}

/* The shipped model back in force, model 1 stored as rolled back with the
 * decision also says (an SQL condition on the online_models row). */
static void expect_rolled_back(rw_engine *e, const char *note, const char *also) {
    rw_learn_status ls;
    rw_engine_learn_status(e, &ls);
    cr_expect_eq(ls.in_force, 0, "rolled back to the shipped model: %s", note);
    cr_expect_eq(sql_int("SELECT count(*) FROM online_models WHERE version = 1 AND state = 'rolled back' AND %s", also),
                 1);
}

Test(learn, promote_and_rollback_put_models_in_force_and_survive_a_restart) {
    enum { N = 1000 };
    rw_decision *d = calloc(N, sizeof *d);
    int *ring = calloc(N, sizeof *ring);
    rw_engine *e = with_candidate(N, 0, 0, d, ring);
    rw_err err = {{0}};
    int v = 0;
    cr_expect_eq(rw_engine_model_rollback(e, &v, &err), RW_ERR_NOTFOUND, "the shipped model: nothing to roll back");
    cr_assert_eq(rw_engine_model_promote(e, 1, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(rw_engine_model_promote(e, 1, &err), RW_ERR_EXISTS);
    cr_expect_eq(rw_engine_model_promote(e, 7, &err), RW_ERR_NOTFOUND);
    rw_learn_status ls;
    rw_engine_learn_status(e, &ls);
    cr_expect_eq(ls.in_force, 1);
    cr_expect_eq(ls.shadow, 0, "the candidate promoted by hand left the shadow");
    rw_online_model fitted = e->live.model;
    rw_engine_close(e);

    e = open_engine(0);
    rw_engine_learn_status(e, &ls);
    cr_expect_eq(ls.in_force, 1, "in force after a restart");
    cr_expect_eq(memcmp(&e->live.model.g.tree, &fitted.g.tree, sizeof fitted.g.tree), 0);
    cr_assert_eq(rw_engine_model_rollback(e, &v, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(v, 0);
    rw_engine_learn_status(e, &ls);
    cr_expect_eq(ls.in_force, 0);
    rw_online_model shipped;
    rw_online_defaults(&shipped);
    cr_expect_eq(memcmp(&e->live.model, &shipped, sizeof shipped), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM online_models WHERE version = 1 AND state = 'rolled back'"), 1);
    free(d);
    free(ring);
    rw_engine_close(e);
}

/* Shadow rows for rw_learn_decide: n signups after the candidate's shadow
 * began, every 33rd a ring's; the model in force reviews `force_ring` ring
 * and 2 benign ones, the candidate those ring ones and more up to
 * `cand_ring`, and `cand_benign` benign ones. Features are zeros, which the
 * shipped model reviews none of. */
static void shadow_rows(rw_learn_rows *r, const rw_engine *e, size_t n, int force_ring, int cand_ring,
                        int cand_benign) {
    *r = (rw_learn_rows){.n = n};
    r->x = calloc(n * RW_O_COUNT, sizeof *r->x), r->y = calloc(n, sizeof *r->y), r->w = calloc(n, sizeof *r->w);
    r->score = calloc(n, sizeof *r->score), r->shadow = calloc(n, sizeof *r->shadow);
    r->ts = calloc(n, sizeof *r->ts), r->shadow_model = calloc(n, sizeof *r->shadow_model);
    cr_assert(r->x && r->y && r->w && r->score && r->shadow && r->ts && r->shadow_model);
    int ring = 0, benign = 0;
    for (size_t i = 0; i < n; i++) {
        int y = i % 33 == 0, k = y ? ring++ : benign++;
        r->y[i] = y, r->w[i] = 1, r->ts[i] = e->learn->shadow_from + 1 + (int64_t)i;
        r->shadow_model[i] = e->learn->shadow_version;
        r->score[i] = (y ? k < force_ring : k < 2) ? 0.9 : 0.01;
        r->shadow[i] = (y ? k < cand_ring : k < cand_benign) ? 0.9 : 0.01;
    }
}

/* The benign budget: a candidate that catches many more ring signups for a
 * few more benign reviews than a model in force reviewing almost none is
 * promoted while within the budget (0.1% of the run's other signups), and
 * rejected beyond it. */
Test(learn, a_candidate_may_spend_the_benign_budget_for_more_rings) {
    enum { N = 1000, ROWS = 10000 };
    const int cand_benign[2] = {6, 30}, promoted[2] = {1, 0};
    for (int c = 0; c < 2; c++) {
        rw_decision *d = calloc(N, sizeof *d);
        int *ring = calloc(N, sizeof *ring);
        rw_engine *e = with_candidate(N, 24, 0, d, ring);
        rw_learn_rows rows;
        shadow_rows(&rows, e, ROWS, 150, 250, cand_benign[c]);
        int version = e->learn->shadow_version, before = e->learn->in_force;
        rw_online_model shipped;
        rw_online_defaults(&shipped);
        char note[768] = "";
        rw_err err = {{0}};
        cr_assert_eq(rw_learn_decide(e, &rows, &shipped, rows.ts[ROWS - 1], note, sizeof note, &err), RW_OK, "%s",
                     err.msg);
        cr_log_info("%d benign: %s", cand_benign[c], note);
        rw_learn_status ls;
        rw_engine_learn_status(e, &ls);
        cr_expect_eq(ls.in_force, promoted[c] ? version : before, "%d benign reviewed: %s", cand_benign[c], note);
        cr_expect(strstr(note, promoted[c] ? "promoted" : "rejected (it reviewed more benign accounts)"), "%s", note);
        rw_learn_rows_free(&rows);
        free(d);
        free(ring);
        rw_engine_close(e);
    }
}

/* The shipped model's text cut to its first `trees` trees, its bias set
 * to bias, into out. */
static void cut_model(rw_engine *e, int trees, double bias, char *out, size_t size) {
    static char text[1 << 20];
    size_t len = 0;
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_model_online_text(e, 0, text, sizeof text, &len, &err), RW_OK, "%s", err.msg);
    size_t at = (size_t)snprintf(out, size, "online.bias %g\n", bias);
    int kept = 0;
    for (char *line = strtok(text, "\n"); line && kept < trees; line = strtok(NULL, "\n"))
        if (!strncmp(line, "online.tree ", 12)) at += (size_t)snprintf(out + at, size - at, "%s\n", line), kept++;
    cr_assert_lt(at, size);
}

/* An operator's base model is version 0 everywhere: in force at once, the
 * text of model 0, and the trees a candidate continues; a bad one is
 * refused and changes nothing. */
Test(learn, a_base_model_is_version_zero) {
    enum { N = 1000, TREES = 10 };
    rw_engine *e = open_engine(0);
    rw_learn_params lp = {.min_positives = 50, .min_negatives = 200, .shadow_hours = 24, .min_history_days = 0.01};
    rw_engine_set_learn(e, &lp);
    static char base[1 << 20], back[1 << 20];
    cut_model(e, TREES, -7.5, base, sizeof base);
    rw_err err = {{0}};
    cr_expect_neq(rw_engine_set_base_model(e, "online.bias x\n", &err), RW_OK);
    cr_expect_eq(e->live.model.g.ntrees, 250, "a refused model changed the one in force");
    cr_assert_eq(rw_engine_set_base_model(e, base, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(e->live.model.g.ntrees, TREES);
    cr_expect_eq(e->live.model.g.bias, -7.5);
    size_t len = 0;
    cr_assert_eq(rw_engine_model_online_text(e, 0, back, sizeof back, &len, &err), RW_OK, "%s", err.msg);
    cr_expect(strstr(back, "online.bias -7.5"), "%.200s", back);

    rw_decision *d = calloc(N, sizeof *d);
    int *ring = calloc(N, sizeof *ring);
    day_of_signups(e, 0, N, d, ring);
    flush(e);
    fake_run f;
    fake_run_init(&f, e);
    label_days(e, &f, 1, N, 0);
    char note[768];
    cr_assert_eq(rw_learn_nightly(e, &f.r, note, sizeof note, &err), RW_OK, "%s", err.msg);
    cr_assert_neq(e->learn->shadow_version, 0, "no candidate: %s", note);
    const rw_online_model *c = &e->learn->shadow;
    cr_expect_eq(c->g.ntrees, TREES + RW_ONLINE_MORE_TREES);
    cr_expect_eq(memcmp(c->g.tree, e->live.model.g.tree, TREES * sizeof c->g.tree[0]), 0,
                 "the candidate does not continue the base model");
    fake_run_free(&f);
    free(d);
    free(ring);
    rw_engine_close(e);
}

/* A model fitted on coin tosses, put in force by hand, reviews benign
 * signups the shipped model lets through: the next nightly job, judging
 * the day's signups by the new run, rolls it back to the shipped model and
 * says why. */
Test(learn, a_model_in_force_reviewing_many_more_benign_signups_than_the_shipped_one_is_rolled_back) {
    enum { N = 1000 };
    rw_decision *d = calloc(N, sizeof *d);
    int *ring = calloc(N, sizeof *ring);
    rw_engine *e = with_learnt_in_force(N, 1, d, ring);
    char note[768];
    rw_err err = {{0}};
    fake_run f;

    day_of_signups(e, 1, N, d, ring);
    flush(e);
    int benign_reviewed = 0;
    for (int i = 0; i < N; i++) benign_reviewed += !ring[i] && d[i].verdict != RW_ALLOW;
    cr_log_info("the coin-toss model reviewed %d of %d benign signups", benign_reviewed, N * 4 / 5);
    cr_assert_gt(benign_reviewed, 20, "the model fitted on coin tosses reviews benign signups");

    fake_run_init(&f, e);
    label_days(e, &f, 2, N, 0);
    cr_assert_eq(rw_learn_nightly(e, &f.r, note, sizeof note, &err), RW_OK, "%s", err.msg);
    cr_log_info("night 2: %s", note);
    expect_rolled_back(e, note, "json_extract(decision, '$.by') = 'nightly'");
    cr_expect(strstr(note, "model 1 rolled back to the shipped one"), "%s", note);
    rw_online_model shipped;
    rw_online_defaults(&shipped);
    cr_expect_eq(memcmp(&e->live.model, &shipped, sizeof shipped), 0);
    fake_run_free(&f);
    free(d);
    free(ring);
    rw_engine_close(e);
}

/* Day `day`'s signups on addresses no earlier day used: rings of 8 on one
 * device and card each, each from an address of its own, between benign
 * signups on devices of their own. */
static void fresh_signups(rw_engine *e, int day, int n, rw_decision *d) {
    for (int i = 0; i < n; i++) {
        long long ts = T0 + day * DAY + i * 30LL;
        if (i % 5 == 0)
            d[i] = rec(e, 0,
                       "{\"account\":\"f%d-r%d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"203.0.%d.%d\","
                       "\"device\":\"ffarm-%d\",\"payment\":\"tok-ffarm-%d\"}",
                       day, i, ts, i / 250, i % 250, i / 40, i / 40);
        else
            d[i] = rec(e, 0,
                       "{\"account\":\"f%d-b%d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"172.16.%d.%d\","
                       "\"device\":\"fdev-%d\",\"payment\":\"ftok-%d\"}",
                       day, i, ts, i / 250, i % 250, i, i);
    }
}

/* No feature depends on the signup path's own decisions: the same history
 * and the same day of signups give byte-for-byte the same features whether
 * the shipped model or one fitted on coin tosses is in force (which scores
 * them differently). So a candidate in shadow meets the very features it
 * would meet in force, and a model cannot feed its own scores back into
 * its inputs (docs/DETECTION.md). */
Test(learn, features_do_not_depend_on_the_model_in_force) {
    enum { N = 600 };
    rw_decision *shipped = calloc(N, sizeof *shipped), *learnt = calloc(N, sizeof *learnt);
    int *ring = calloc(N, sizeof *ring);
    cr_assert(shipped && learnt && ring);
    tu_db_use("shipped.db");
    rw_engine *e = with_candidate(N, 24, 1, shipped, ring);
    fresh_signups(e, 1, N, shipped);
    rw_engine_close(e);
    tu_db_use("learnt.db");
    e = with_learnt_in_force(N, 1, learnt, ring);
    fresh_signups(e, 1, N, learnt);
    rw_engine_close(e);
    int scored_apart = 0;
    for (int i = 0; i < N; i++) {
        cr_expect_eq(memcmp(shipped[i].features, learnt[i].features, sizeof shipped[i].features), 0,
                     "signup %d: its features changed with the model in force", i);
        scored_apart += fabs(shipped[i].score - learnt[i].score) > 0.05;
    }
    cr_expect_gt(scored_apart, N / 10, "the two models scored alike (%d of %d apart)", scored_apart, N);
    free(shipped), free(learnt), free(ring);
}

/* The watch on the ring side, on rows built by hand: a learnt model in
 * force whose logged scores let through ring signups that the shipped
 * model, scoring their logged features, reviews (and no benign one more)
 * is rolled back, with the reason. */
Test(learn, a_model_in_force_letting_through_the_rings_the_shipped_one_reviews_is_rolled_back) {
    enum { N = 1000 };
    rw_decision *d = calloc(N, sizeof *d);
    int *ring = calloc(N, sizeof *ring);
    rw_engine *e = with_learnt_in_force(N, 0, d, ring); /* day 0 scored by the shipped model */
    char note[768];
    rw_err err = {{0}};

    /* The day's rows: each signup's features as scored, its label, and a
     * logged score of 0 (the model in force reviewed none of them). */
    rw_learn_rows rows = {0};
    rows.n = N;
    rows.x = calloc((size_t)N * RW_O_COUNT, sizeof *rows.x);
    rows.y = calloc(N, sizeof *rows.y);
    rows.score = calloc(N, sizeof *rows.score);
    rows.ts = calloc(N, sizeof *rows.ts);
    cr_assert(rows.x && rows.y && rows.score && rows.ts);
    int shipped_ring = 0;
    for (int i = 0; i < N; i++) {
        memcpy(rows.x + (size_t)i * RW_O_COUNT, d[i].features, RW_O_COUNT * sizeof(double));
        rows.y[i] = ring[i];
        rows.ts[i] = T0 + i * 30LL;
        shipped_ring += ring[i] && d[i].score >= RW_ONLINE_REVIEW;
    }
    cr_assert_gt(shipped_ring, 20, "the shipped model reviews the day's rings (%d)", shipped_ring);
    note[0] = 0;
    rw_online_model shipped_model;
    rw_online_defaults(&shipped_model);
    cr_assert_eq(rw_learn_watch(e, &rows, &shipped_model, T0 + N * 30LL, note, sizeof note, &err), RW_OK, "%s",
                 err.msg);
    cr_log_info("watch: %s", note);
    expect_rolled_back(e, note, "json_extract(decision, '$.reason') LIKE 'it let through%'");
    cr_expect(strstr(note, "it let through ring accounts the shipped model reviews"), "%s", note);
    free(rows.x), free(rows.y), free(rows.score), free(rows.ts);
    free(d);
    free(ring);
    rw_engine_close(e);
}

Test(learn, feature_log_goes_with_its_account_and_with_retention) {
    rw_engine *e = open_engine(0);
    rec(e, 0, "{\"account\":\"old\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"192.0.2.1\",\"device\":\"d-old\"}",
        (long long)T0);
    rec(e, 0, "{\"account\":\"victim\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"192.0.2.2\",\"device\":\"d-v\"}",
        (long long)(T0 + 10 * DAY));
    rec(e, 0, "{\"account\":\"stays\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"192.0.2.3\",\"device\":\"d-s\"}",
        (long long)(T0 + 10 * DAY + 5));
    /* A login is not a signup: not logged. */
    rec(e, 0, "{\"account\":\"stays\",\"ts\":%lld,\"type\":\"login\",\"ip\":\"192.0.2.3\"}",
        (long long)(T0 + 10 * DAY + 60));
    flush(e);
    cr_assert_eq(sql_int("SELECT count(*) FROM signup_features"), 3);
    uint32_t victim = rw_graph_find_account(e->graph, "victim", 6);
    rw_erase_stats es;
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_erase_account(e, "victim", 6, &es, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(sql_int("SELECT count(*) FROM signup_features WHERE account = %u", victim), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM signup_features"), 2);
    cr_assert_eq(rw_engine_retain(e, T0 + 5 * DAY, &es, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(sql_int("SELECT count(*) FROM signup_features"), 1, "the older signup aged out");
    cr_expect_eq(sql_int("SELECT count(*) FROM signup_features WHERE ts = %lld", (long long)(T0 + 10 * DAY + 5)), 1);
    rw_engine_close(e);
}

/* Feature rows wait for a batch, not for a flush: a full batch rides the
 * next commit, and the rows still waiting are written when the engine
 * closes. */
Test(learn, feature_log_rows_are_written_by_the_batch_and_at_close) {
    rw_engine *e = open_engine(0);
    for (int i = 0; i < RW_FEATLOG_BATCH; i++)
        rec(e, 1, "{\"account\":\"b%d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"192.0.2.%d\",\"device\":\"d-%d\"}", i,
            (long long)T0 + i, i % 250 + 1, i);
    cr_expect_eq(sql_int("SELECT count(*) FROM signup_features"), RW_FEATLOG_BATCH,
                 "a full batch is written with the commit of its last signup");
    rec(e, 1, "{\"account\":\"late\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"192.0.2.1\",\"device\":\"d-late\"}",
        (long long)T0 + RW_FEATLOG_BATCH);
    rw_engine_close(e);
    cr_expect_eq(sql_int("SELECT count(*) FROM signup_features"), RW_FEATLOG_BATCH + 1);
    cr_expect_eq(sql_int("SELECT count(*) FROM signup_features WHERE ts = %lld", (long long)T0 + RW_FEATLOG_BATCH), 1,
                 "the row still waiting is written at close");
}

/* An account erased while its features wait for their batch: they are
 * dropped, not written after the erasure. */
Test(learn, features_waiting_for_their_batch_go_with_an_erased_account) {
    rw_engine *e = open_engine(0);
    rec(e, 1, "{\"account\":\"victim\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"192.0.2.2\",\"device\":\"d-v\"}",
        (long long)T0);
    rec(e, 1, "{\"account\":\"stays\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"192.0.2.3\",\"device\":\"d-s\"}",
        (long long)T0 + 5);
    uint32_t victim = rw_graph_find_account(e->graph, "victim", 6);
    rw_erase_stats es;
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_erase_account(e, "victim", 6, &es, &err), RW_OK, "%s", err.msg);
    flush(e);
    cr_expect_eq(sql_int("SELECT count(*) FROM signup_features WHERE account = %u", victim), 0);
    cr_expect_eq(sql_int("SELECT count(*) FROM signup_features"), 1);
    rw_engine_close(e);
}
