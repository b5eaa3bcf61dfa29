/* detectors: the layout of small graphs for pictures: the unit square,
 * leaves beside their neighbour, determinism, bad input, and the igraph lock
 * holding while two threads lay out at once. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "detectors.h"

/* A star of k accounts around one device, each account with two leaves (its
 * own IPs): 1 + k + 2k nodes. */
static uint32_t star(uint32_t k, uint32_t *edges) {
    uint32_t n = 1, m = 0;
    for (uint32_t a = 0; a < k; a++) {
        uint32_t acc = n++;
        edges[2 * m] = acc, edges[2 * m + 1] = 0, m++;
        for (int l = 0; l < 2; l++) edges[2 * m] = acc, edges[2 * m + 1] = n++, m++;
    }
    return m;
}

Test(layout, unit_square_leaves_near_their_account) {
    uint32_t edges[2 * 60];
    uint32_t m = star(20, edges), n = 61;
    double xy[2 * 61];
    rw_err err = {{0}};
    cr_assert_eq(rw_detect_layout(edges, m, n, 1, xy, &err), RW_OK, "%s", err.msg);
    double far = 0, near = 0;
    for (uint32_t v = 0; v < n; v++)
        cr_expect(xy[2 * v] >= 0 && xy[2 * v] <= 1 && xy[2 * v + 1] >= 0 && xy[2 * v + 1] <= 1);
    for (uint32_t j = 0; j < m; j++) {
        uint32_t a = edges[2 * j], b = edges[2 * j + 1];
        double d = hypot(xy[2 * a] - xy[2 * b], xy[2 * a + 1] - xy[2 * b + 1]);
        if (b == 0)
            far += d / 20;
        else
            near += d / 40;
    }
    cr_expect_lt(near, far, "leaves sit closer to their account (%g) than accounts to the hub (%g)", near, far);
    double again[2 * 61];
    cr_assert_eq(rw_detect_layout(edges, m, n, 1, again, &err), RW_OK);
    for (uint32_t i = 0; i < 2 * n; i++) cr_expect_eq(xy[i], again[i]);
}

Test(layout, degenerate_and_bad_input) {
    double xy[4] = {-1, -1, -1, -1};
    rw_err err = {{0}};
    cr_expect_eq(rw_detect_layout(NULL, 0, 0, 1, xy, &err), RW_OK);
    cr_expect_eq(rw_detect_layout(NULL, 0, 1, 1, xy, &err), RW_OK);
    cr_expect(xy[0] == 0.5 && xy[1] == 0.5, "one node sits in the middle");
    uint32_t pair[2] = {0, 1};
    cr_expect_eq(rw_detect_layout(pair, 1, 2, 1, xy, &err), RW_OK, "%s", err.msg);
    uint32_t bad[2] = {0, 5};
    cr_expect_eq(rw_detect_layout(bad, 1, 2, 1, xy, &err), RW_ERR_INVALID);
    cr_expect_eq(rw_detect_layout(NULL, 0, RW_LAYOUT_MAX + 1, 1, xy, &err), RW_ERR_LIMIT);
}

static void *lay_out_many(void *arg) {
    uint32_t edges[2 * 300];
    uint32_t m = star(100, edges);
    double *xy = malloc(2 * 301 * sizeof *xy);
    rw_status st = RW_OK;
    for (int i = 0; i < 5 && st == RW_OK; i++) st = rw_detect_layout(edges, m, 301, 7, xy, NULL);
    if (arg) ((double *)arg)[0] = xy[0];
    free(xy);
    return (void *)(intptr_t)st;
}

/* Without the lock igraph's global error stack and RNG would be shared. */
Test(layout, two_threads_get_the_same_answer) {
    pthread_t t[2];
    double first[2] = {0, 0};
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, lay_out_many, &first[i]);
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(t[i], &r);
        cr_expect_eq((intptr_t)r, RW_OK);
    }
    cr_expect_eq(first[0], first[1]);
}
