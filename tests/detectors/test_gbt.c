/* detectors: the boosted trees of the online scorer: they learn an
 * interaction a linear model cannot, their text form round-trips, the
 * per-feature contributions equal zeroing each feature, a fitted model can
 * be continued on new rows without losing its trees, and the shipped
 * online model parses. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detectors.h"

/* y = 1 when exactly one of x0 > 0.5, x1 > 0.5 (XOR), x2 is noise. */
static void xor_data(double *x, double *y, size_t n, rw_rng *r) {
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < 3; j++) x[i * 3 + (size_t)j] = rw_rng_unit(r);
        y[i] = (x[i * 3] > 0.5) != (x[i * 3 + 1] > 0.5);
    }
}

static const char *const names3[] = {"a", "b", "noise"};

/* n rows of three uniform features, y = a > 0.5. */
static void a_decides(double *x, double *y, size_t n, uint64_t seed) {
    rw_rng r;
    rw_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < 3; j++) x[i * 3 + (size_t)j] = rw_rng_unit(&r);
        y[i] = x[i * 3] > 0.5;
    }
}

Test(gbt, learns_an_interaction) {
    size_t n = 4000;
    double *x = malloc(n * 3 * sizeof *x), *y = malloc(n * sizeof *y);
    rw_rng r;
    rw_rng_seed(&r, 7);
    xor_data(x, y, n, &r);
    static rw_gbt m;
    rw_err err;
    cr_assert_eq(rw_gbt_fit(&m, x, y, n, 3, 60, 0.3, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(m.ntrees, 60);
    xor_data(x, y, n, &r); /* fresh rows */
    size_t right = 0;
    for (size_t i = 0; i < n; i++) right += (rw_gbt_score(&m, x + i * 3) >= 0.5) == (y[i] != 0);
    cr_expect_gt((double)right / (double)n, 0.95, "accuracy %.3f on XOR", (double)right / (double)n);
    free(x);
    free(y);
}

/* Trees fitted on a only (y = a > 0.5), then continued on rows where b
 * decides (y = b > 0.5): the first trees stay as they were, the new ones
 * learn b, and the count adds up. */
Test(gbt, continues_a_model_on_new_rows) {
    size_t n = 3000;
    double *x = malloc(n * 3 * sizeof *x), *y = malloc(n * sizeof *y);
    a_decides(x, y, n, 11);
    static rw_gbt m, base;
    rw_err err;
    cr_assert_eq(rw_gbt_fit(&m, x, y, n, 3, 30, 0.3, &err), RW_OK, "%s", err.msg);
    base = m;
    for (size_t i = 0; i < n; i++) y[i] = x[i * 3 + 1] > 0.5;
    size_t before = 0, after = 0;
    for (size_t i = 0; i < n; i++) before += (rw_gbt_score(&m, x + i * 3) >= 0.5) == (y[i] != 0);
    cr_assert_eq(rw_gbt_fit_more(&m, x, y, NULL, n, 3, 40, 0.3, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(m.ntrees, 70);
    cr_expect_eq(memcmp(m.tree, base.tree, 30 * sizeof m.tree[0]), 0, "the first 30 trees changed");
    cr_expect_eq(m.bias, base.bias);
    for (size_t i = 0; i < n; i++) after += (rw_gbt_score(&m, x + i * 3) >= 0.5) == (y[i] != 0);
    cr_expect_lt((double)before / (double)n, 0.6, "the base model knew b already: %zu of %zu", before, n);
    cr_expect_gt((double)after / (double)n, 0.9, "continued: %zu of %zu right", after, n);
    /* At most RW_GBT_MAXTREES in all. */
    cr_assert_eq(rw_gbt_fit_more(&m, x, y, NULL, n, 3, RW_GBT_MAXTREES, 0.3, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(m.ntrees, RW_GBT_MAXTREES);
    free(x);
    free(y);
}

/* Continued on labels its trees have exactly wrong (a deployment whose
 * rings the shipped model scores at nothing): every row's hessian is near
 * zero, and uncapped Newton steps of hundreds sent logits into the
 * thousands. The continuation must learn the labels with logits of a sane
 * size. */
Test(gbt, continues_a_confidently_wrong_model_in_bounded_steps) {
    size_t n = 3000;
    double *x = malloc(n * 3 * sizeof *x), *y = malloc(n * sizeof *y);
    a_decides(x, y, n, 5);
    static rw_gbt m;
    rw_err err;
    cr_assert_eq(rw_gbt_fit(&m, x, y, n, 3, 120, 0.3, &err), RW_OK, "%s", err.msg);
    for (size_t i = 0; i < n; i++) y[i] = !(y[i] != 0);
    cr_assert_eq(rw_gbt_fit_more(&m, x, y, NULL, n, 3, 100, 0.15, &err), RW_OK, "%s", err.msg);
    double worst = 0;
    size_t right = 0;
    for (size_t i = 0; i < n; i++) {
        double z = rw_gbt_logit(&m, x + i * 3);
        worst = fmax(worst, fabs(z));
        right += (z >= 0) == (y[i] != 0);
    }
    cr_expect_lt(worst, 100, "a logit of %g", worst);
    cr_expect_gt((double)right / (double)n, 0.9, "continued: %zu of %zu right", right, n);
    for (int t = 120; t < m.ntrees; t++)
        for (int l = 0; l < RW_GBT_LEAVES; l++) cr_expect_leq(fabs(m.tree[t].leaf[l]), 0.15 * 20 + 1e-9);
    free(x);
    free(y);
}

Test(gbt, text_round_trip_and_contributions) {
    size_t n = 2000;
    double *x = malloc(n * 3 * sizeof *x), *y = malloc(n * sizeof *y);
    rw_rng r;
    rw_rng_seed(&r, 3);
    xor_data(x, y, n, &r);
    static rw_gbt m, back;
    rw_err err;
    cr_assert_eq(rw_gbt_fit(&m, x, y, n, 3, 20, 0.3, &err), RW_OK, "%s", err.msg);
    static char text[65536];
    size_t len = rw_gbt_format(&m, names3, text, sizeof text);
    cr_assert_lt(len, sizeof text);
    cr_assert_eq(rw_gbt_parse(&back, names3, 3, text, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(back.ntrees, m.ntrees);
    for (size_t i = 0; i < 50; i++)
        cr_expect(fabs(rw_gbt_logit(&back, x + i * 3) - rw_gbt_logit(&m, x + i * 3)) < 1e-4);
    /* contributions: the logit's fall when each feature alone is zeroed */
    for (size_t i = 0; i < 50; i++) {
        double c[3], g[3];
        rw_gbt_contributions(&m, x + i * 3, 3, c);
        for (int j = 0; j < 3; j++) {
            memcpy(g, x + i * 3, sizeof g);
            g[j] = 0;
            double want = rw_gbt_logit(&m, x + i * 3) - rw_gbt_logit(&m, g);
            cr_expect(fabs(c[j] - want) < 1e-9, "row %zu feature %d: %g, want %g", i, j, c[j], want);
        }
    }
    free(x);
    free(y);
}

Test(gbt, bad_text_names_the_line) {
    static rw_gbt m;
    rw_err err = {{0}};
    cr_expect_eq(rw_gbt_parse(&m, names3, 3, "online.bias x\n", &err), RW_ERR_INVALID);
    cr_expect(strstr(err.msg, "line 1"), "%s", err.msg);
    cr_expect_eq(rw_gbt_parse(&m, names3, 3, "online.bias 1\nonline.tree a 1\n", &err), RW_ERR_INVALID);
    cr_expect(strstr(err.msg, "line 2"), "%s", err.msg);
    cr_expect_eq(rw_gbt_parse(&m, names3, 3, "online.tree zz 1\n", &err), RW_ERR_INVALID);
    cr_expect_eq(rw_gbt_parse(&m, names3, 3, "", &err), RW_ERR_INVALID, "no bias");
}

Test(gbt, shipped_online_model_parses_and_ranks) {
    static rw_online_model m;
    rw_online_defaults(&m);
    cr_expect_gt(m.g.ntrees, 100, "the shipped trees did not parse");
    double lone[RW_O_COUNT] = {0}, farm[RW_O_COUNT] = {0};
    /* a device shared with 8 accounts, all new today, from other networks */
    farm[RW_O_DEVICE_SHARED] = log1p(8), farm[RW_O_DEVICE_DAY] = log1p(8), farm[RW_O_DEVICE_BURST] = 1;
    farm[RW_O_DEVICE_DAY2] = 1, farm[RW_O_DEVICE_FOREIGN] = log1p(8), farm[RW_O_COMM_SIZE] = log1p(8);
    farm[RW_O_COMM_DAY] = log1p(8);
    cr_expect_lt(rw_online_score(&m, lone), 0.2, "a signup sharing nothing");
    cr_expect_gt(rw_online_score(&m, farm), rw_online_score(&m, lone) + 0.3, "a device-farm signup: %.3f against %.3f",
                 rw_online_score(&m, farm), rw_online_score(&m, lone));
    int top[RW_O_COUNT];
    size_t nt = rw_online_top(&m, farm, top, 3);
    cr_expect_gt(nt, 0);
}
