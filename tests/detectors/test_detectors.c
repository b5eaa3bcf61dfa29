/* detectors: communities, spectral figures, truncated SVD and dense-block
 * peeling on hand-built snapshots with known answers, and ring recovery on a
 * synthetic 20k-account graph. */
#include <criterion/criterion.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detectors.h"
#include "tu_snap.h"

/* ---- building snapshots by hand ------------------------------------------ */

static double *weights(const rw_graph_snap *s, const rw_community_params *p) {
    double *w = malloc((s->m + 1) * sizeof *w);
    cr_assert_not_null(w);
    cr_assert_eq(rw_detect_edge_weights(s, p, w, NULL), RW_OK);
    return w;
}

static void init_once(void) {
    rw_err err;
    cr_assert_eq(rw_detect_init(2, &err), RW_OK, "%s", err.msg);
}

TestSuite(detectors, .init = init_once);

/* ---- worlds ---------------------------------------------------------------- */

/* Accounts with a private IP and device each; pairs of them share a device. */
static void background(tu_snap_builder *b, rw_rng *r, uint32_t accounts, uint32_t pairs, uint32_t *first) {
    *first = b->n;
    uint32_t *acc = malloc(accounts * sizeof *acc);
    for (uint32_t i = 0; i < accounts; i++) {
        acc[i] = tu_snap_node(b, RW_KIND_ACCOUNT);
        tu_snap_edge(b, acc[i], tu_snap_node(b, RW_KIND_IP));
        tu_snap_edge(b, acc[i], tu_snap_node(b, RW_KIND_DEVICE));
        if (rw_rng_below(r, 2)) tu_snap_edge(b, acc[i], tu_snap_node(b, RW_KIND_PAYMENT));
    }
    for (uint32_t i = 0; i < pairs; i++) {
        uint32_t d = tu_snap_node(b, RW_KIND_DEVICE);
        tu_snap_edge(b, acc[2 * i], d);
        tu_snap_edge(b, acc[2 * i + 1], d);
    }
    free(acc);
}

/* A ring: accounts sharing ndev devices and ncard cards, each with a private
 * IP. ids receives the accounts, attrs the shared attributes. */
static void ring(tu_snap_builder *b, uint32_t accounts, uint32_t ndev, uint32_t ncard, uint32_t *ids, uint32_t *attrs) {
    for (uint32_t j = 0; j < ndev; j++) attrs[j] = tu_snap_node(b, RW_KIND_DEVICE);
    for (uint32_t j = 0; j < ncard; j++) attrs[ndev + j] = tu_snap_node(b, RW_KIND_PAYMENT);
    for (uint32_t i = 0; i < accounts; i++) {
        ids[i] = tu_snap_node(b, RW_KIND_ACCOUNT);
        tu_snap_edge(b, ids[i], tu_snap_node(b, RW_KIND_IP));
        for (uint32_t j = 0; j < ndev + ncard; j++) tu_snap_edge(b, ids[i], attrs[j]);
    }
}

/* One NAT IP behind which accounts otherwise only have private devices. */
static uint32_t nat_star(tu_snap_builder *b, uint32_t accounts, uint32_t *ids) {
    uint32_t ip = tu_snap_node(b, RW_KIND_IP);
    for (uint32_t i = 0; i < accounts; i++) {
        ids[i] = tu_snap_node(b, RW_KIND_ACCOUNT);
        tu_snap_edge(b, ids[i], ip);
        tu_snap_edge(b, ids[i], tu_snap_node(b, RW_KIND_DEVICE));
    }
    return ip;
}

/* ---- parameters and weights ------------------------------------------------ */

Test(detectors, defaults_and_weights) {
    rw_community_params p;
    rw_community_defaults(&p);
    cr_expect_eq(p.kind_weight[RW_KIND_ACCOUNT], 0.0);
    cr_expect_eq(p.kind_weight[RW_KIND_IP], 1.0);
    cr_expect_eq(p.kind_weight[RW_KIND_DEVICE], 2.0);
    cr_expect_eq(p.kind_weight[RW_KIND_PAYMENT], 3.0);
    cr_expect_eq(p.kind_weight[RW_KIND_SUBNET], 0.0);
    cr_expect_eq(p.degree_offset, 2.0);
    cr_expect_eq(p.hub_degree, 200);
    cr_expect_eq(p.resolution, 1.0);
    cr_expect_eq(p.iterations, 10);
    cr_expect_eq(p.seed, 1);

    tu_snap_builder b = {0};
    uint32_t a0 = tu_snap_node(&b, RW_KIND_ACCOUNT), a1 = tu_snap_node(&b, RW_KIND_ACCOUNT);
    uint32_t card = tu_snap_node(&b, RW_KIND_PAYMENT), dev = tu_snap_node(&b, RW_KIND_DEVICE);
    tu_snap_edge(&b, a0, card);
    tu_snap_edge(&b, a1, card);
    tu_snap_edge(&b, a0, dev);
    uint32_t star[201];
    uint32_t ip = nat_star(&b, 201, star);
    rw_graph_snap *s = tu_snap_build(&b);
    double *w = weights(s, &p);
    for (uint64_t e = 0; e < s->m; e++) {
        uint32_t t = s->edges[e].attr;
        if (t == card)
            cr_expect_float_eq(w[e], 3.0 / log(4.0), 1e-12);
        else if (t == dev)
            cr_expect_float_eq(w[e], 2.0 / log(3.0), 1e-12);
        else if (t == ip)
            cr_expect_eq(w[e], 0.0, "hub edge must weigh 0");
        else
            cr_expect_float_eq(w[e], 2.0 / log(3.0), 1e-12); /* private devices of the star */
    }
    free(w);
    rw_graph_snap_free(s);
}

/* ---- (a) planted block ------------------------------------------------------ */

static int same_community(const uint32_t *memb, const uint32_t *ids, uint32_t k) {
    for (uint32_t i = 1; i < k; i++)
        if (memb[ids[i]] != memb[ids[0]]) return 0;
    return 1;
}

Test(detectors, planted_block_is_one_community_and_block_zero) {
    rw_rng r;
    rw_rng_seed(&r, 7);
    tu_snap_builder b = {0};
    uint32_t bg0, ids[30], attrs[5];
    background(&b, &r, 1000, 10, &bg0);
    ring(&b, 30, 3, 2, ids, attrs);
    uint32_t bg1;
    background(&b, &r, 1000, 10, &bg1);
    rw_graph_snap *s = tu_snap_build(&b);

    rw_community_params p;
    rw_community_defaults(&p);
    double *w = weights(s, &p);
    uint32_t *memb = malloc(s->n * sizeof *memb), ncomm = 0;
    rw_err err;
    cr_assert_eq(rw_detect_communities(s, &p, w, NULL, memb, &ncomm, &err), RW_OK, "%s", err.msg);
    cr_expect(same_community(memb, ids, 30), "ring split across communities");
    for (int j = 0; j < 5; j++) cr_expect_eq(memb[attrs[j]], memb[ids[0]]);
    uint32_t members = 0;
    for (uint32_t v = 0; v < s->n; v++) members += memb[v] == memb[ids[0]];
    /* 30 accounts, 5 shared attributes, 30 private IPs that follow them. */
    cr_expect_eq(members, 65, "ring community has %u nodes", members);
    /* Dense ids, first seen in node order. */
    cr_expect_eq(memb[0], 0);
    uint32_t top = 0;
    for (uint32_t v = 0; v < s->n; v++) {
        cr_assert(memb[v] <= top + 1 && memb[v] < ncomm);
        if (memb[v] > top) top = memb[v];
    }
    cr_expect_eq(top + 1, ncomm);
    /* A background pair shares a device: one community with both private
     * IPs and devices. */
    uint32_t pa = bg0, pb = bg0 + 3;
    while (s->kind[pb] != RW_KIND_ACCOUNT) pb++;
    cr_expect_eq(memb[pa], memb[pb]);

    uint32_t *blk = malloc(s->n * sizeof *blk);
    double score[3];
    int nb = 0;
    cr_assert_eq(rw_detect_dense_blocks(s, NULL, 3, 5, blk, score, &nb, &err), RW_OK, "%s", err.msg);
    cr_assert_geq(nb, 1);
    uint32_t in0 = 0;
    for (uint32_t v = 0; v < s->n; v++) in0 += blk[v] == 0;
    for (int i = 0; i < 30; i++) cr_expect_eq(blk[ids[i]], 0);
    for (int j = 0; j < 5; j++) cr_expect_eq(blk[attrs[j]], 0);
    cr_expect_eq(in0, 35, "block 0 has %u nodes", in0);
    /* g = 30 * 5 edges * 1 / log(30 + 5) over 35 nodes */
    cr_expect_float_eq(score[0], 150.0 / log(35.0) / 35.0, 1e-9);
    cr_expect_eq(nb, 1, "pairs are below min_accounts and end the search");

    free(blk);
    free(memb);
    free(w);
    rw_graph_snap_free(s);
}

/* ---- (b) NAT hub star -------------------------------------------------------- */

Test(detectors, nat_star_is_not_grouped) {
    rw_rng r;
    rw_rng_seed(&r, 11);
    tu_snap_builder b = {0};
    uint32_t bg, ids[30], attrs[5];
    uint32_t *star = malloc(1000 * sizeof *star);
    background(&b, &r, 500, 10, &bg);
    nat_star(&b, 1000, star);
    ring(&b, 30, 3, 2, ids, attrs);
    rw_graph_snap *s = tu_snap_build(&b);

    rw_community_params p;
    rw_community_defaults(&p);
    double *w = weights(s, &p);
    uint32_t *memb = malloc(s->n * sizeof *memb), ncomm = 0;
    rw_err err;
    cr_assert_eq(rw_detect_communities(s, &p, w, NULL, memb, &ncomm, &err), RW_OK, "%s", err.msg);
    uint8_t *seen = calloc(ncomm, 1);
    for (int i = 0; i < 1000; i++) {
        cr_expect_not(seen[memb[star[i]]], "two NAT accounts share a community");
        seen[memb[star[i]]] = 1;
    }
    cr_expect(same_community(memb, ids, 30));

    uint32_t *blk = malloc(s->n * sizeof *blk);
    double score[4];
    int nb = 0;
    cr_assert_eq(rw_detect_dense_blocks(s, NULL, 4, 2, blk, score, &nb, &err), RW_OK, "%s", err.msg);
    cr_assert_geq(nb, 1);
    cr_expect_eq(blk[ids[0]], 0, "the ring is block 0");
    for (int i = 0; i < 1000; i++) {
        uint32_t k = blk[star[i]];
        if (k != UINT32_MAX) cr_expect_lt(score[k], score[0] / 2, "NAT block scores near the ring");
    }

    free(seen);
    free(blk);
    free(memb);
    free(w);
    free(star);
    rw_graph_snap_free(s);
}

/* candidate restricts the peel: without the ring's nodes, block 0 is not it. */
Test(detectors, dense_blocks_respect_candidates) {
    rw_rng r;
    rw_rng_seed(&r, 3);
    tu_snap_builder b = {0};
    uint32_t bg, ids[30], attrs[5], ids2[12], attrs2[3];
    background(&b, &r, 300, 0, &bg);
    ring(&b, 30, 3, 2, ids, attrs);
    ring(&b, 12, 2, 1, ids2, attrs2);
    rw_graph_snap *s = tu_snap_build(&b);
    uint8_t *cand = malloc(s->n);
    memset(cand, 1, s->n);
    for (int i = 0; i < 30; i++) cand[ids[i]] = 0;
    uint32_t *blk = malloc(s->n * sizeof *blk);
    double score[2];
    int nb = 0;
    rw_err err;
    cr_assert_eq(rw_detect_dense_blocks(s, cand, 2, 5, blk, score, &nb, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(nb, 1);
    for (int i = 0; i < 30; i++) cr_expect_eq(blk[ids[i]], UINT32_MAX);
    for (int i = 0; i < 12; i++) cr_expect_eq(blk[ids2[i]], 0);
    cr_expect_float_eq(score[0], 36.0 / log(17.0) / 15.0, 1e-9);
    /* No blocks asked for: none given, every node unassigned. */
    blk[0] = 0;
    cr_assert_eq(rw_detect_dense_blocks(s, NULL, 0, 5, blk, score, &nb, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(nb, 0);
    cr_expect_eq(blk[0], UINT32_MAX);
    free(blk);
    free(cand);
    rw_graph_snap_free(s);
}

/* ---- (c) spectral figures ---------------------------------------------------- */

/* A complete bipartite block of r accounts and c attributes. */
static rw_graph_snap *complete(uint32_t r, uint32_t c, uint32_t *acc) {
    tu_snap_builder b = {0};
    uint32_t at[64];
    for (uint32_t j = 0; j < c; j++) at[j] = tu_snap_node(&b, RW_KIND_DEVICE);
    for (uint32_t i = 0; i < r; i++) {
        acc[i] = tu_snap_node(&b, RW_KIND_ACCOUNT);
        for (uint32_t j = 0; j < c; j++) tu_snap_edge(&b, acc[i], at[j]);
    }
    return tu_snap_build(&b);
}

Test(detectors, spectral_all_ones_block) {
    uint32_t acc[4];
    rw_graph_snap *s = complete(4, 3, acc);
    double *w = malloc(s->m * sizeof *w);
    for (uint64_t e = 0; e < s->m; e++) w[e] = 1.0;
    rw_spectral sp;
    rw_err err;
    cr_assert_eq(rw_detect_spectral(s, w, acc, 4, &sp, &err), RW_OK, "%s", err.msg);
    cr_expect_float_eq(sp.sigma1, sqrt(12.0), 1e-12);
    cr_expect_float_eq(sp.sigma2, 0.0, 1e-9);
    cr_expect_float_eq(sp.frob2, 12.0, 1e-12);
    cr_expect_float_eq(sp.lockstep, 1.0, 1e-12);
    cr_expect_eq(sp.rows, 4);
    cr_expect_eq(sp.cols, 3);
    /* One account: its row norm. */
    cr_assert_eq(rw_detect_spectral(s, w, acc + 2, 1, &sp, &err), RW_OK, "%s", err.msg);
    cr_expect_float_eq(sp.sigma1, sqrt(3.0), 1e-12);
    cr_expect_eq(sp.sigma2, 0.0);
    /* Not an account; twice the same account. */
    uint32_t bad[2] = {0, acc[0]};
    cr_expect_eq(rw_detect_spectral(s, w, bad, 1, &sp, &err), RW_ERR_INVALID);
    bad[0] = acc[0];
    cr_expect_eq(rw_detect_spectral(s, w, bad, 2, &sp, &err), RW_ERR_INVALID);
    free(w);
    rw_graph_snap_free(s);
}

Test(detectors, spectral_diagonal) {
    tu_snap_builder b = {0};
    uint32_t acc[3];
    for (int i = 0; i < 3; i++) {
        acc[i] = tu_snap_node(&b, RW_KIND_ACCOUNT);
        tu_snap_edge(&b, acc[i], tu_snap_node(&b, RW_KIND_PAYMENT));
    }
    /* A hub column with weight 0 touches all three: counted, contributes
     * nothing. */
    uint32_t hub = tu_snap_node(&b, RW_KIND_IP);
    for (int i = 0; i < 3; i++) tu_snap_edge(&b, acc[i], hub);
    rw_graph_snap *s = tu_snap_build(&b);
    double *w = malloc(s->m * sizeof *w);
    for (uint64_t e = 0; e < s->m; e++) w[e] = s->edges[e].attr == hub ? 0.0 : 1.0 + s->edge_account[e] / 2;
    rw_spectral sp;
    rw_err err;
    cr_assert_eq(rw_detect_spectral(s, w, acc, 3, &sp, &err), RW_OK, "%s", err.msg);
    cr_expect_float_eq(sp.sigma1, 3.0, 1e-12);
    cr_expect_float_eq(sp.sigma2, 2.0, 1e-12);
    cr_expect_float_eq(sp.frob2, 14.0, 1e-12);
    cr_expect_float_eq(sp.lockstep, 9.0 / 14.0, 1e-12);
    cr_expect_eq(sp.cols, 4);
    free(w);
    rw_graph_snap_free(s);
}

/* Singular values of a dense row-major r x c matrix, descending. */
static void dense_sv(const double *a, int r, int c, double *sv) {
    double *t = malloc((size_t)r * c * sizeof *t);
    memcpy(t, a, (size_t)r * c * sizeof *t);
    double dummy;
    /* Row-major r x c is column-major c x r: same singular values (and
     * LAPACKE's row-major path insists on a V^T array even for 'N'). */
    cr_assert_eq(LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', c, r, t, c, sv, &dummy, 1, &dummy, 1), 0);
    free(t);
}

/* A random sparse block big enough for the Krylov path, against LAPACK. */
Test(detectors, spectral_large_block_matches_lapack) {
    enum { R = 700, C = 500 };
    rw_rng r;
    rw_rng_seed(&r, 5);
    tu_snap_builder b = {0};
    uint32_t *acc = malloc(R * sizeof *acc), *at = malloc(C * sizeof *at);
    for (int j = 0; j < C; j++) at[j] = tu_snap_node(&b, RW_KIND_DEVICE);
    for (int i = 0; i < R; i++) acc[i] = tu_snap_node(&b, RW_KIND_ACCOUNT);
    for (int i = 0; i < R; i++)
        for (int t = 0; t < 8; t++) tu_snap_edge(&b, acc[i], at[rw_rng_below(&r, C)]);
    rw_graph_snap *s = tu_snap_build(&b);
    double *w = malloc(s->m * sizeof *w);
    double *dense = calloc((size_t)R * C, sizeof *dense);
    for (uint64_t e = 0; e < s->m; e++) {
        w[e] = 0.5 + rw_rng_unit(&r);
        dense[(size_t)(s->edge_account[e] - C) * C + s->edges[e].attr] = w[e];
    }
    double sv[C];
    dense_sv(dense, R, C, sv);
    rw_spectral sp;
    rw_err err;
    cr_assert_eq(rw_detect_spectral(s, w, acc, R, &sp, &err), RW_OK, "%s", err.msg);
    cr_expect_float_eq(sp.sigma1, sv[0], 1e-9 * sv[0], "%.12g vs %.12g", sp.sigma1, sv[0]);
    cr_expect_float_eq(sp.sigma2, sv[1], 1e-7 * sv[0], "%.12g vs %.12g", sp.sigma2, sv[1]);
    free(dense);
    free(w);
    free(acc);
    free(at);
    rw_graph_snap_free(s);
}

/* rw_detect_sigma1 against LAPACK on random blocks of every shape: more
 * accounts than attributes, fewer, and a smaller side above the size where
 * the Gram matrix is formed (the path rw_detect_spectral takes); sigma1 and
 * lockstep as rw_detect_spectral's. */
Test(detectors, sigma1_matches_lapack_and_spectral) {
    const int shapes[][3] = {{3, 7, 2}, {40, 300, 5}, {300, 40, 3}, {120, 120, 6}, {450, 600, 4}, {2, 2, 1}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int R = shapes[k][0], C = shapes[k][1], per = shapes[k][2];
        rw_rng r;
        rw_rng_seed(&r, 11 + k);
        tu_snap_builder b = {0};
        uint32_t *acc = malloc(R * sizeof *acc), *at = malloc(C * sizeof *at);
        for (int j = 0; j < C; j++) at[j] = tu_snap_node(&b, RW_KIND_DEVICE);
        for (int i = 0; i < R; i++) acc[i] = tu_snap_node(&b, RW_KIND_ACCOUNT);
        for (int i = 0; i < R; i++)
            for (int t = 0; t < per; t++) tu_snap_edge(&b, acc[i], at[rw_rng_below(&r, C)]);
        rw_graph_snap *s = tu_snap_build(&b);
        double *w = malloc(s->m * sizeof *w), *dense = calloc((size_t)R * C, sizeof *dense);
        for (uint64_t e = 0; e < s->m; e++) {
            w[e] = 0.5 + rw_rng_unit(&r);
            dense[(size_t)(s->edge_account[e] - C) * C + s->edges[e].attr] = w[e];
        }
        double *sv = malloc((R < C ? R : C) * sizeof *sv);
        dense_sv(dense, R, C, sv);
        rw_spectral one, both;
        rw_err err;
        cr_assert_eq(rw_detect_sigma1(s, w, acc, R, &one, &err), RW_OK, "%s", err.msg);
        cr_assert_eq(rw_detect_spectral(s, w, acc, R, &both, &err), RW_OK, "%s", err.msg);
        cr_expect_float_eq(one.sigma1, sv[0], 1e-9 * sv[0], "%d x %d: %.12g vs %.12g", R, C, one.sigma1, sv[0]);
        cr_expect_float_eq(one.lockstep, both.lockstep, 1e-9, "%d x %d", R, C);
        cr_expect_float_eq(one.frob2, both.frob2, 1e-12 * both.frob2);
        cr_expect(one.rows == both.rows && one.cols == both.cols);
        cr_expect_eq(one.sigma2, 0.0, "sigma2 is left 0");
        free(sv), free(dense), free(w), free(acc), free(at);
        rw_graph_snap_free(s);
    }
}

/* A top singular value of high multiplicity: fifty identical disjoint
 * 2 x 2 blocks of weight 1.5. LAPACK's bisection finds every copy of a
 * repeated eigenvalue before it keeps the one asked for, writing them all
 * to its eigenvalue array: an array of one, as it once was, overflowed
 * into the caller's frame and crashed a rescoring. */
Test(detectors, sigma1_of_a_repeated_top_value) {
    enum { BLOCKS = 50 };
    tu_snap_builder b = {0};
    uint32_t acc[2 * BLOCKS];
    for (int k = 0; k < BLOCKS; k++) {
        uint32_t d0 = tu_snap_node(&b, RW_KIND_DEVICE), d1 = tu_snap_node(&b, RW_KIND_PAYMENT);
        for (int i = 0; i < 2; i++) {
            acc[2 * k + i] = tu_snap_node(&b, RW_KIND_ACCOUNT);
            tu_snap_edge(&b, acc[2 * k + i], d0);
            tu_snap_edge(&b, acc[2 * k + i], d1);
        }
    }
    rw_graph_snap *s = tu_snap_build(&b);
    double *w = malloc(s->m * sizeof *w);
    for (uint64_t e = 0; e < s->m; e++) w[e] = 1.5;
    for (int rep = 0; rep < 20; rep++) {
        rw_spectral one;
        rw_err err;
        cr_assert_eq(rw_detect_sigma1(s, w, acc, 2 * BLOCKS, &one, &err), RW_OK, "%s", err.msg);
        cr_expect_float_eq(one.sigma1, 3.0, 1e-9, "%.12g", one.sigma1);
        cr_expect_float_eq(one.lockstep, 1.0 / BLOCKS, 1e-9, "%.12g", one.lockstep);
    }
    free(w);
    rw_graph_snap_free(s);
}

/* Two identical disjoint blocks: sigma2 == sigma1, which a single-vector
 * Krylov method would miss. */
Test(detectors, spectral_repeated_top_value) {
    enum { R = 400, C = 300 };
    rw_rng r;
    tu_snap_builder b = {0};
    uint32_t *acc = malloc(2 * R * sizeof *acc), *at = malloc(C * sizeof *at);
    for (int copy = 0; copy < 2; copy++) {
        rw_rng_seed(&r, 9);
        for (int j = 0; j < C; j++) at[j] = tu_snap_node(&b, RW_KIND_DEVICE);
        for (int i = 0; i < R; i++) {
            acc[copy * R + i] = tu_snap_node(&b, RW_KIND_ACCOUNT);
            for (int t = 0; t < 6; t++) tu_snap_edge(&b, acc[copy * R + i], at[rw_rng_below(&r, C)]);
        }
    }
    rw_graph_snap *s = tu_snap_build(&b);
    double *w = malloc(s->m * sizeof *w);
    for (uint64_t e = 0; e < s->m; e++) w[e] = 1.0;
    rw_spectral sp;
    rw_err err;
    cr_assert_eq(rw_detect_spectral(s, w, acc, 2 * R, &sp, &err), RW_OK, "%s", err.msg);
    cr_expect_float_eq(sp.sigma2, sp.sigma1, 1e-8 * sp.sigma1, "%.12g vs %.12g", sp.sigma2, sp.sigma1);
    free(w);
    free(acc);
    free(at);
    rw_graph_snap_free(s);
}

/* ---- (c) truncated SVD against a dense SVD of the same normalised matrix -- */

/* A connected random bipartite graph; dense receives D_r^-1/2 A D_c^-1/2
 * (rows: accounts in node order, columns: attributes in node order). */
static rw_graph_snap *svd_world(int R, int C, int groups, int per, uint64_t seed, double **w, double **dense) {
    rw_rng r;
    rw_rng_seed(&r, seed);
    tu_snap_builder b = {0};
    for (int j = 0; j < C; j++) tu_snap_node(&b, RW_KIND_DEVICE);
    for (int i = 0; i < R; i++) {
        uint32_t a = tu_snap_node(&b, RW_KIND_ACCOUNT);
        if (i % 8 == 0) {
            /* a sparse spanning path keeps it connected */
            tu_snap_edge(&b, a, (uint32_t)(i / 8 % C));
            tu_snap_edge(&b, a, (uint32_t)((i / 8 + 1) % C));
        }
        /* Groups of accounts that mostly use their own group's attributes
         * give a spectrum with a few large values above a bulk. */
        for (int t = 0; t < per; t++) {
            uint32_t j = (uint32_t)rw_rng_below(&r, (uint64_t)C / groups) * groups + (uint32_t)(i % groups);
            if (rw_rng_unit(&r) < 0.05) j = (uint32_t)rw_rng_below(&r, C);
            tu_snap_edge(&b, a, j < (uint32_t)C ? j : (uint32_t)C - 1);
        }
    }
    rw_graph_snap *s = tu_snap_build(&b);
    *w = malloc(s->m * sizeof **w);
    double *dr = calloc(s->n, sizeof *dr);
    for (uint64_t e = 0; e < s->m; e++) {
        (*w)[e] = 0.5 + 1.5 * rw_rng_unit(&r);
        dr[s->edge_account[e]] += (*w)[e];
        dr[s->edges[e].attr] += (*w)[e];
    }
    *dense = calloc((size_t)R * C, sizeof **dense);
    for (uint64_t e = 0; e < s->m; e++) {
        uint32_t a = s->edge_account[e], t = s->edges[e].attr;
        (*dense)[(size_t)(a - C) * C + t] = (*w)[e] / sqrt(dr[a] * dr[t]);
    }
    free(dr);
    return s;
}

Test(detectors, svd_exact_when_sketch_covers_the_rank) {
    enum { R = 40, C = 25, K = 20 };
    double *w, *dense;
    rw_graph_snap *s = svd_world(R, C, 1, 3, 21, &w, &dense);
    double sv[C], sigma[K];
    dense_sv(dense, R, C, sv);
    float *u = malloc((size_t)s->n * K * sizeof *u);
    rw_err err;
    cr_assert_eq(rw_detect_svd(s, w, K, 1, sigma, u, &err), RW_OK, "%s", err.msg);
    cr_expect_float_eq(sigma[0], 1.0, 1e-10, "connected: top singular value is 1");
    for (int i = 0; i < K; i++)
        cr_expect_float_eq(sigma[i], sv[i], 1e-10, "sigma[%d] %.12g vs %.12g", i, sigma[i], sv[i]);
    /* Attribute rows are zero; account columns have unit norm and satisfy
     * M M^T u = sigma^2 u. */
    for (int j = 0; j < C; j++)
        for (int c = 0; c < K; c++) cr_expect_eq(u[(size_t)j * K + c], 0.0f);
    for (int c = 0; c < 3; c++) {
        double nrm = 0, res = 0;
        for (int i = 0; i < R; i++) nrm += (double)u[(size_t)(C + i) * K + c] * u[(size_t)(C + i) * K + c];
        for (int i = 0; i < R; i++) {
            double mmu = 0;
            for (int i2 = 0; i2 < R; i2++) {
                double g = 0;
                for (int j = 0; j < C; j++) g += dense[i * C + j] * dense[i2 * C + j];
                mmu += g * u[(size_t)(C + i2) * K + c];
            }
            double d = mmu - sigma[c] * sigma[c] * u[(size_t)(C + i) * K + c];
            res += d * d;
        }
        cr_expect_float_eq(nrm, 1.0, 1e-5);
        cr_expect_lt(sqrt(res), 1e-5, "column %d residual %g", c, sqrt(res));
    }
    /* More values than the rank: the rest are 0. */
    enum { K2 = C + 5 };
    double sigma2[K2];
    float *u2 = malloc((size_t)s->n * K2 * sizeof *u2);
    cr_assert_eq(rw_detect_svd(s, w, K2, 1, sigma2, u2, &err), RW_OK, "%s", err.msg);
    for (int i = 0; i < C; i++) cr_expect_float_eq(sigma2[i], sv[i], 1e-9);
    for (int i = C; i < K2; i++) cr_expect_eq(sigma2[i], 0.0);
    cr_expect_eq(rw_detect_svd(s, w, 0, 1, sigma2, u2, &err), RW_ERR_INVALID);
    free(u2);
    free(u);
    free(w);
    free(dense);
    rw_graph_snap_free(s);
}

Test(detectors, svd_randomised_top_values) {
    enum { R = 600, C = 400, K = 4 };
    double *w, *dense;
    rw_graph_snap *s = svd_world(R, C, 4, 24, 33, &w, &dense);
    double sv[C], sigma[K], sigma2[K];
    dense_sv(dense, R, C, sv);
    float *u = malloc((size_t)s->n * K * sizeof *u), *u2 = malloc((size_t)s->n * K * sizeof *u2);
    rw_err err;
    cr_assert_eq(rw_detect_svd(s, w, K, 1, sigma, u, &err), RW_OK, "%s", err.msg);
    for (int i = 0; i < K + 2; i++) cr_log_info("sigma[%d] %.6f exact %.6f", i, i < K ? sigma[i] : 0.0, sv[i]);
    /* Two power iterations against a bulk near 0.4: Ritz values within
     * about (0.4)^10 relative, far tighter than any bug would be. */
    for (int i = 0; i < K; i++)
        cr_expect_float_eq(sigma[i], sv[i], 1e-3 * sv[i], "sigma[%d] %.6f vs %.6f", i, sigma[i], sv[i]);
    for (int i = 0; i < K; i++) cr_expect_leq(sigma[i], sv[i] + 1e-9, "Ritz values never exceed the truth");
    /* Same seed, same answer. */
    cr_assert_eq(rw_detect_svd(s, w, K, 1, sigma2, u2, &err), RW_OK, "%s", err.msg);
    cr_expect_arr_eq(sigma, sigma2, sizeof sigma);
    cr_expect_arr_eq(u, u2, (size_t)s->n * K * sizeof *u);
    free(u);
    free(u2);
    free(w);
    free(dense);
    rw_graph_snap_free(s);
}

/* ---- (d) determinism and warm start ------------------------------------------ */

/* Rings joined in a chain by IPs shared between one account of each: one
 * component that Leiden has to split. */
static rw_graph_snap *chain_world(uint32_t rings, uint32_t size, uint32_t **ring_ids, uint32_t **leaves) {
    rw_rng r;
    rw_rng_seed(&r, 17);
    tu_snap_builder b = {0};
    uint32_t bg;
    background(&b, &r, 2000, 40, &bg);
    uint32_t attrs[4];
    *ring_ids = malloc(rings * size * sizeof **ring_ids);
    for (uint32_t k = 0; k < rings; k++) ring(&b, size, 2, 1, *ring_ids + k * size, attrs);
    for (uint32_t k = 0; k + 1 < rings; k++) {
        uint32_t ip = tu_snap_node(&b, RW_KIND_IP);
        tu_snap_edge(&b, (*ring_ids)[k * size + size - 1], ip);
        tu_snap_edge(&b, (*ring_ids)[(k + 1) * size], ip);
    }
    /* Leaves: per ring, two accounts seen only with a device of one of the
     * ring's accounts (one kept edge each; Leiden sees them merged). */
    *leaves = malloc(2 * rings * sizeof **leaves);
    for (uint32_t k = 0; k < rings; k++) {
        uint32_t dev = tu_snap_node(&b, RW_KIND_DEVICE);
        tu_snap_edge(&b, (*ring_ids)[k * size + 1], dev);
        for (int j = 0; j < 2; j++) {
            (*leaves)[2 * k + j] = tu_snap_node(&b, RW_KIND_ACCOUNT);
            tu_snap_edge(&b, (*leaves)[2 * k + j], dev);
        }
    }
    return tu_snap_build(&b);
}

Test(detectors, communities_deterministic_and_warm_start) {
    uint32_t *rid, *leaf;
    enum { RINGS = 10, SIZE = 20 };
    rw_graph_snap *s = chain_world(RINGS, SIZE, &rid, &leaf);
    rw_community_params p;
    rw_community_defaults(&p);
    double *w = weights(s, &p);
    uint32_t *m1 = malloc(s->n * sizeof *m1), *m2 = malloc(s->n * sizeof *m2), *m3 = malloc(s->n * sizeof *m3);
    uint32_t n1, n2, n3;
    rw_err err;
    cr_assert_eq(rw_detect_communities(s, &p, w, NULL, m1, &n1, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_detect_communities(s, &p, w, NULL, m2, &n2, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(n1, n2);
    cr_expect_arr_eq(m1, m2, s->n * sizeof *m1, "two runs differ");
    /* Each ring is its own community, with its leaves. */
    for (uint32_t k = 0; k < RINGS; k++) {
        cr_expect(same_community(m1, rid + k * SIZE, SIZE), "ring %u split", k);
        cr_expect_eq(m1[leaf[2 * k]], m1[rid[k * SIZE]], "leaf of ring %u elsewhere", k);
        cr_expect_eq(m1[leaf[2 * k + 1]], m1[rid[k * SIZE]], "leaf of ring %u elsewhere", k);
        if (k > 0) cr_expect_neq(m1[rid[k * SIZE]], m1[rid[(k - 1) * SIZE]], "rings %u and %u merged", k - 1, k);
    }
    /* Warm start from the answer: the same partition (or very nearly). */
    cr_assert_eq(rw_detect_communities(s, &p, w, m1, m3, &n3, &err), RW_OK, "%s", err.msg);
    uint32_t diff = 0;
    for (uint32_t v = 0; v < s->n; v++) diff += m1[v] != m3[v];
    cr_expect_leq(diff, s->n / 100, "warm start moved %u of %u nodes", diff, s->n);
    cr_log_info("warm start: %u of %u nodes differ, %u vs %u communities", diff, s->n, n3, n1);
    /* A different seed still finds the rings. */
    p.seed = 99;
    cr_assert_eq(rw_detect_communities(s, &p, w, NULL, m2, &n2, &err), RW_OK, "%s", err.msg);
    for (uint32_t k = 0; k < RINGS; k++) cr_expect(same_community(m2, rid + k * SIZE, SIZE));
    free(m1);
    free(m2);
    free(m3);
    free(w);
    free(rid);
    free(leaf);
    rw_graph_snap_free(s);
}

Test(detectors, communities_edge_cases) {
    tu_snap_builder b = {0};
    uint32_t lone = tu_snap_node(&b, RW_KIND_ACCOUNT);
    uint32_t sub = tu_snap_node(&b, RW_KIND_SUBNET);
    uint32_t a = tu_snap_node(&b, RW_KIND_ACCOUNT), dev = tu_snap_node(&b, RW_KIND_DEVICE);
    tu_snap_edge(&b, a, dev);
    rw_graph_snap *s = tu_snap_build(&b);
    rw_community_params p;
    rw_community_defaults(&p);
    double *w = weights(s, &p);
    uint32_t memb[4], nc;
    rw_err err;
    cr_assert_eq(rw_detect_communities(s, &p, w, NULL, memb, &nc, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(nc, 3);
    cr_expect_eq(memb[lone], 0);
    cr_expect_eq(memb[sub], 1);
    cr_expect_eq(memb[a], 2);
    cr_expect_eq(memb[dev], 2, "a private device follows its account");
    p.resolution = -1;
    cr_expect_eq(rw_detect_communities(s, &p, w, NULL, memb, &nc, &err), RW_ERR_INVALID);
    free(w);
    rw_graph_snap_free(s);
}

/* ---- (e) a synthetic world ------------------------------------------------------ */

/* accounts with households sharing IPs, carrier NAT hubs, office IPs, a few
 * shared devices and family cards, and planted rings of 20..60 accounts. */
static rw_graph_snap *synthetic(uint32_t accounts, uint32_t nrings, uint32_t **ring_acc, uint32_t **ring_of) {
    rw_rng r;
    rw_rng_seed(&r, 2024);
    tu_snap_builder b = {0};
    uint32_t nat[40];
    for (int i = 0; i < 40; i++) nat[i] = tu_snap_node(&b, RW_KIND_IP);
    const double office_share = 0.3;
    uint32_t noffice = (uint32_t)(accounts * office_share / 60) + 1;
    uint32_t *office = malloc(noffice * sizeof *office);
    for (uint32_t i = 0; i < noffice; i++) office[i] = tu_snap_node(&b, RW_KIND_IP);
    uint32_t cur_ip = 0, left_ip = 0, cur_dev = 0, left_dev = 0;
    uint32_t total_ring = 0, sizes[4096];
    for (uint32_t k = 0; k < nrings; k++) total_ring += sizes[k] = 20 + (uint32_t)rw_rng_below(&r, 41);
    *ring_acc = malloc((total_ring + 1) * sizeof **ring_acc);
    *ring_of = malloc((total_ring + 1) * sizeof **ring_of);
    uint32_t benign = accounts - total_ring;
    for (uint32_t i = 0; i < benign; i++) {
        uint32_t a = tu_snap_node(&b, RW_KIND_ACCOUNT);
        if (left_ip == 0) {
            cur_ip = tu_snap_node(&b, RW_KIND_IP);
            left_ip = 1 + (uint32_t)(rw_rng_unit(&r) < 0.4 ? rw_rng_below(&r, 5) : 0);
        }
        tu_snap_edge(&b, a, cur_ip);
        left_ip--;
        if (rw_rng_unit(&r) < 0.3) tu_snap_edge(&b, a, nat[rw_rng_below(&r, 40)]);
        /* Offices and campuses: IPs of about 60 accounts (under the hub
         * threshold) that tie households into one giant component. */
        if (rw_rng_unit(&r) < office_share) tu_snap_edge(&b, a, office[rw_rng_below(&r, noffice)]);
        if (left_dev == 0) {
            cur_dev = tu_snap_node(&b, RW_KIND_DEVICE);
            left_dev = rw_rng_unit(&r) < 0.1 ? 2 : 1;
        }
        tu_snap_edge(&b, a, cur_dev);
        left_dev--;
        if (rw_rng_unit(&r) < 0.6) tu_snap_edge(&b, a, tu_snap_node(&b, RW_KIND_PAYMENT));
    }
    uint32_t t = 0;
    for (uint32_t k = 0; k < nrings; k++) {
        uint32_t nd = 2 + (uint32_t)rw_rng_below(&r, 3), ncard = 1 + (uint32_t)rw_rng_below(&r, 3), nip = 3;
        uint32_t at[10];
        for (uint32_t j = 0; j < nd; j++) at[j] = tu_snap_node(&b, RW_KIND_DEVICE);
        for (uint32_t j = 0; j < ncard; j++) at[nd + j] = tu_snap_node(&b, RW_KIND_PAYMENT);
        for (uint32_t j = 0; j < nip; j++) at[nd + ncard + j] = tu_snap_node(&b, RW_KIND_IP);
        for (uint32_t i = 0; i < sizes[k]; i++) {
            uint32_t a = tu_snap_node(&b, RW_KIND_ACCOUNT);
            (*ring_acc)[t] = a;
            (*ring_of)[t++] = k;
            tu_snap_edge(&b, a, at[rw_rng_below(&r, nd)]);
            tu_snap_edge(&b, a, at[nd + rw_rng_below(&r, ncard)]);
            tu_snap_edge(&b, a, at[nd + ncard + rw_rng_below(&r, nip)]);
            if (rw_rng_unit(&r) < 0.5) tu_snap_edge(&b, a, at[rw_rng_below(&r, nd)]);
            if (rw_rng_unit(&r) < 0.2) tu_snap_edge(&b, a, nat[rw_rng_below(&r, 40)]); /* camouflage */
        }
    }
    (*ring_acc)[t] = UINT32_MAX;
    free(office);
    return tu_snap_build(&b);
}

/* Most planted rings come out as a community of about their size; the
 * stage timings of a larger world are bench/bench_detectors. */
Test(detectors, synthetic_rings_recovered, .timeout = 120) {
    uint32_t accounts = 20000, nrings = accounts / 2000;
    uint32_t *ra, *rof;
    rw_graph_snap *s = synthetic(accounts, nrings, &ra, &rof);
    rw_community_params p;
    rw_community_defaults(&p);
    rw_err err;
    double *w = weights(s, &p);
    uint32_t *memb = malloc(s->n * sizeof *memb), nc;
    cr_assert_eq(rw_detect_communities(s, &p, w, NULL, memb, &nc, &err), RW_OK, "%s", err.msg);
    uint32_t *cnt = calloc(nc + 1, sizeof *cnt);
    for (uint32_t v = 0; v < s->n; v++)
        if (s->kind[v] == RW_KIND_ACCOUNT) cnt[memb[v]]++;
    /* a ring is recovered when most of its accounts share one community of
     * about its size */
    uint32_t found = 0, t = 0;
    for (uint32_t k = 0; k < nrings; k++) {
        uint32_t from = t;
        while (ra[t] != UINT32_MAX && rof[t] == k) t++;
        uint32_t c = memb[ra[from]], same = 0;
        for (uint32_t i = from; i < t; i++) same += memb[ra[i]] == c;
        if (same * 10 >= (t - from) * 9 && cnt[c] <= 2 * (t - from)) found++;
    }
    cr_expect_geq(found * 10, nrings * 8, "only %u of %u rings recovered", found, nrings);
    free(cnt);
    free(memb);
    free(w);
    free(ra);
    free(rof);
    rw_graph_snap_free(s);
}

/* ---- strong-tie parts and propagation -------------------------------------- */

Test(detectors, strong_parts_split_along_coherent_devices_and_cards) {
    tu_snap_builder b = {0};
    uint32_t acc[10], other[3];
    for (int i = 0; i < 10; i++) acc[i] = tu_snap_node(&b, RW_KIND_ACCOUNT);
    for (int i = 0; i < 3; i++) other[i] = tu_snap_node(&b, RW_KIND_ACCOUNT);
    uint32_t ip = tu_snap_node(&b, RW_KIND_IP), dev = tu_snap_node(&b, RW_KIND_DEVICE),
             card = tu_snap_node(&b, RW_KIND_PAYMENT);
    uint32_t late = tu_snap_node(&b, RW_KIND_DEVICE), odev = tu_snap_node(&b, RW_KIND_DEVICE);
    for (int i = 0; i < 10; i++) tu_snap_edge(&b, acc[i], ip); /* one home address glues them all */
    for (int i = 0; i < 4; i++) tu_snap_edge(&b, acc[i], dev);
    tu_snap_edge(&b, acc[4], card);
    tu_snap_edge(&b, acc[5], card);
    tu_snap_edge(&b, acc[6], late); /* shared, but taken up ten days apart */
    tu_snap_edge(&b, acc[7], late);
    tu_snap_edge(&b, acc[8], late);
    for (int i = 0; i < 3; i++) tu_snap_edge(&b, other[i], odev);
    rw_graph_snap *s = tu_snap_build(&b);
    for (uint64_t k = s->off[late]; k < s->off[late + 1]; k++)
        if (s->nbr[k] != acc[6]) s->edges[s->eid[k]].first_seen = 1000 + (s->nbr[k] - acc[6]) * 10 * 86400;
    uint32_t *memb = calloc(s->n, sizeof *memb), *parts = malloc(s->n * sizeof *parts), nparts = 0;
    for (int i = 0; i < 3; i++) memb[other[i]] = 1;
    memb[odev] = 1;
    uint8_t split[2] = {1, 0};
    rw_err err;
    cr_assert_eq(rw_detect_strong_parts(s, 200, 0.5, memb, 2, split, parts, &nparts, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(nparts, 4);
    for (int i = 0; i < 4; i++) cr_expect_eq(parts[acc[i]], 2, "account %d", i);
    cr_expect_eq(parts[acc[4]], 3);
    cr_expect_eq(parts[acc[5]], 3);
    for (int i = 6; i < 10; i++) cr_expect_eq(parts[acc[i]], 0, "account %d stays", i);
    cr_expect_eq(parts[dev], 2);
    cr_expect_eq(parts[card], 3);
    cr_expect_eq(parts[ip], 0, "4 accounts left and 4 in the device part: the tie goes to the smaller id");
    for (int i = 0; i < 3; i++) cr_expect_eq(parts[other[i]], 1, "a community not split keeps its id");
    cr_expect_eq(parts[odev], 1);
    memb[acc[0]] = 7;
    cr_expect_eq(rw_detect_strong_parts(s, 200, 0.5, memb, 2, split, parts, &nparts, &err), RW_ERR_INVALID);
    free(memb);
    free(parts);
    rw_graph_snap_free(s);
}

Test(detectors, propagate_discounts_by_users) {
    tu_snap_builder b = {0};
    uint32_t a[6];
    for (int i = 0; i < 6; i++) a[i] = tu_snap_node(&b, RW_KIND_ACCOUNT);
    uint32_t dev = tu_snap_node(&b, RW_KIND_DEVICE), card = tu_snap_node(&b, RW_KIND_PAYMENT),
             ip = tu_snap_node(&b, RW_KIND_IP);
    uint32_t sub = tu_snap_node(&b, RW_KIND_SUBNET);
    tu_snap_edge(&b, a[0], dev), tu_snap_edge(&b, a[1], dev), tu_snap_edge(&b, a[2], dev);
    tu_snap_edge(&b, a[2], card), tu_snap_edge(&b, a[3], card);
    tu_snap_edge(&b, a[0], ip), tu_snap_edge(&b, a[4], ip);
    tu_snap_edge(&b, a[5], sub), tu_snap_edge(&b, a[1], sub);
    rw_graph_snap *s = tu_snap_build(&b);
    double score[16] = {0}, out[16];
    uint32_t via[16];
    score[a[0]] = 0.9, score[a[1]] = 0.95, score[a[2]] = 0.1, score[a[3]] = 0.1, score[a[4]] = 0.2;
    rw_err err;
    cr_assert_eq(rw_detect_propagate(s, 200, score, 0.65, out, via, NULL, NULL, &err), RW_OK);
    cr_expect_float_eq(out[a[2]], (0.9 + 0.95) / 3, 1e-12);
    cr_expect_eq(via[a[2]], dev);
    cr_expect_float_eq(out[a[0]], 0.95 / 3, 1e-12, "its own score does not count");
    cr_expect_float_eq(out[a[4]], 0.9 / 2, 1e-12, "one flagged partner of two gives half");
    cr_expect_eq(via[a[4]], ip);
    cr_expect_float_eq(out[a[3]], 0, 1e-12, "the card's other user is not flagged");
    cr_expect_eq(via[a[3]], RW_NODE_NONE);
    cr_expect_eq(via[a[5]], RW_NODE_NONE, "subnets carry nothing");
    cr_expect_eq(via[dev], RW_NODE_NONE);
    rw_graph_snap_free(s);
}

Test(detectors, propagate_strong_only_and_combine) {
    tu_snap_builder b = {0};
    uint32_t a[5];
    for (int i = 0; i < 5; i++) a[i] = tu_snap_node(&b, RW_KIND_ACCOUNT);
    uint32_t dev = tu_snap_node(&b, RW_KIND_DEVICE), ip = tu_snap_node(&b, RW_KIND_IP);
    for (int i = 0; i < 4; i++) tu_snap_edge(&b, a[i], dev);
    tu_snap_edge(&b, a[0], ip), tu_snap_edge(&b, a[1], ip), tu_snap_edge(&b, a[4], ip);
    rw_graph_snap *s = tu_snap_build(&b);
    double score[16] = {0}, out[16], strong[16];
    uint32_t via[16], strong_via[16];
    score[a[0]] = 0.9, score[a[1]] = 0.9, score[a[2]] = 0.5, score[a[4]] = 0.5;
    rw_err err;
    cr_assert_eq(rw_detect_propagate(s, 200, score, 0.65, out, via, strong, strong_via, &err), RW_OK);
    cr_expect_float_eq(strong[a[2]], 1.8 / 4, 1e-12, "two flagged of the device's four users");
    cr_expect_eq(strong_via[a[2]], dev);
    cr_expect_float_eq(strong[a[4]], 0, 1e-12, "an address carries nothing through devices and cards only");
    cr_expect_eq(strong_via[a[4]], RW_NODE_NONE);
    cr_expect_float_eq(out[a[4]], 1.8 / 3, 1e-12, "with addresses, as rw_detect_propagate");
    cr_expect_eq(via[a[4]], ip);
    /* Its own 0.5 and the device's 0.45: neither at 0.65, together 0.725. */
    cr_expect_float_eq(rw_detect_combine(0.5, 1.8 / 4), 1 - 0.5 * (1 - 1.8 / 4), 1e-12);
    cr_expect_float_eq(rw_detect_combine(0.5, 0.5), 0.75, 1e-12);
    cr_expect_float_eq(rw_detect_combine(0, 0.3), 0.3, 1e-12, "no score of its own adds nothing");
    cr_expect_float_eq(rw_detect_combine(0.3, 0), 0.3, 1e-12, "no flagged neighbour adds nothing");
    rw_graph_snap_free(s);
}

/* ---- the block-ring signature ---------------------------------------------- */

/* accounts accounts, each on two of nip shared addresses of one /24 (of
 * different /24s when spread), on a carrier NAT hub and on priv attributes
 * of its own; days apart (0: all taken up at once); outside other accounts
 * on each shared address. Returns the snapshot; acc receives the accounts. */
static rw_graph_snap *block_world(uint32_t accounts, uint32_t nip, uint32_t priv, uint32_t days, uint32_t outside,
                                  int spread, uint32_t *acc) {
    tu_snap_builder b = {0};
    uint32_t sub = tu_snap_node(&b, RW_KIND_SUBNET), hub = tu_snap_node(&b, RW_KIND_IP), ip[4];
    for (uint32_t j = 0; j < nip; j++) ip[j] = tu_snap_node(&b, RW_KIND_IP);
    for (uint32_t i = 0; i < 12; i++)
        tu_snap_edge(&b, tu_snap_node(&b, RW_KIND_ACCOUNT), hub); /* the NAT's other users */
    for (uint32_t j = 0; j < nip; j++)
        for (uint32_t i = 0; i < outside; i++) tu_snap_edge(&b, tu_snap_node(&b, RW_KIND_ACCOUNT), ip[j]);
    for (uint32_t i = 0; i < accounts; i++) {
        acc[i] = tu_snap_node(&b, RW_KIND_ACCOUNT);
        tu_snap_edge(&b, acc[i], ip[i % nip]);
        tu_snap_edge(&b, acc[i], ip[(i + 1) % nip]);
        tu_snap_edge(&b, acc[i], hub);
        for (uint32_t k = 0; k < priv; k++) tu_snap_edge(&b, acc[i], tu_snap_node(&b, RW_KIND_IP));
    }
    rw_graph_snap *s = tu_snap_build(&b);
    for (uint32_t j = 0; j < nip; j++) s->parent[ip[j]] = spread ? RW_NODE_NONE : sub;
    for (uint32_t i = 0; i < accounts; i++) {
        uint32_t a = acc[i];
        s->first_seen[a] = 1000 + i * days * 86400;
        for (uint64_t k = s->off[a]; k < s->off[a + 1]; k++) s->edges[s->eid[k]].first_seen = s->first_seen[a];
    }
    return s;
}

/* Features of the community of acc (everyone else apart) under hub degree 10. */
static rw_cluster_features block_features(const rw_graph_snap *s, const uint32_t *acc, uint32_t accounts) {
    uint32_t *memb = calloc(s->n, sizeof *memb);
    cr_assert_not_null(memb);
    for (uint32_t v = 0; v < s->n; v++) memb[v] = v;
    for (uint32_t i = 0; i < accounts; i++) memb[acc[i]] = acc[0];
    rw_cluster_features *f = malloc((s->n + 1) * sizeof *f);
    rw_community_params p;
    rw_community_defaults(&p);
    p.hub_degree = 10;
    double *w = weights(s, &p);
    rw_err err;
    cr_assert_eq(rw_detect_features(s, w, 10, memb, s->n, f, NULL, NULL, &err), RW_OK, "%s", err.msg);
    rw_cluster_features out = f[acc[0]];
    free(memb);
    free(f);
    free(w);
    return out;
}

Test(detectors, block_ring_signature) {
    uint32_t acc[16];
    struct {
        uint32_t accounts, nip, priv, days, outside;
        int spread, want;
        const char *what;
    } cases[] = {
        {8, 3, 0, 0, 0, 0, 1, "thin accounts hopping over a block of their own and a carrier NAT"},
        {6, 3, 0, 0, 0, 0, 0, "six accounts: a household's size"},
        {8, 3, 1, 0, 0, 0, 0, "an address of their own each: people, not disposable accounts"},
        {8, 3, 0, 5, 0, 0, 0, "taken up over weeks: an office or a family"},
        {8, 1, 0, 0, 0, 0, 0, "one shared address and the NAT: an office behind its gateway"},
        {8, 3, 0, 0, 1, 0, 0, "addresses others use too: a public hotspot"},
        {8, 3, 0, 0, 0, 1, 0, "addresses of different subnets: not one block"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rw_graph_snap *s = block_world(cases[c].accounts, cases[c].nip, cases[c].priv, cases[c].days, cases[c].outside,
                                       cases[c].spread, acc);
        rw_cluster_features f = block_features(s, acc, cases[c].accounts);
        cr_expect_eq(rw_cluster_block_ring(&f), cases[c].want,
                     "%s: accounts %u subnet %.2f exclusive %.2f coherence %.2f "
                     "private %.2f ips %.2f",
                     cases[c].what, f.accounts, f.f[RW_F_SUBNET_SHARE], f.f[RW_F_EXCLUSIVE], f.f[RW_F_COHERENCE],
                     f.f[RW_F_PRIVATE_ATTRS], f.f[RW_F_IP_DIVERSITY]);
        char reasons[8][160];
        size_t n = rw_cluster_reasons(&f, reasons, 8);
        cr_expect_eq(n > 0 && strstr(reasons[0], "no one else used") != NULL, cases[c].want, "%s: reason",
                     cases[c].what);
        rw_graph_snap_free(s);
    }
}

/* The arrival window sets aside as many of the earliest signups as of the
 * latest: a family of three over four days spans four days, not the first
 * two's moment, and a pair spans its gap. */
Test(detectors, arrival_window_trims_both_ends_alike) {
    uint32_t acc[20];
    struct {
        uint32_t accounts, days;
        double span;
    } cases[] = {{2, 3, 3.0}, {3, 2, 4.0}, {9, 1, 8.0}, {10, 1, 7.0}, {20, 1, 15.0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rw_graph_snap *s = block_world(cases[c].accounts, 1, 0, cases[c].days, 0, 0, acc);
        rw_cluster_features f = block_features(s, acc, cases[c].accounts);
        cr_expect_float_eq(f.f[RW_F_SPAN_DAYS], log1p(cases[c].span), 1e-9, "%u accounts %u days apart: %g days",
                           cases[c].accounts, cases[c].days, expm1(f.f[RW_F_SPAN_DAYS]));
        rw_graph_snap_free(s);
    }
}
