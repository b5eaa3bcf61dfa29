/* detectors: the two largest singular values of one set of accounts'
 * weighted biadjacency block: exact dense SVD for small blocks, a block
 * Krylov method on the Gram matrix of the smaller side for large ones. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detectors_int.h"

/* Dense LAPACK while min(r,c)^2 * max(r,c) (about the cost of a bidiagonal
 * SVD) stays well under a millisecond: exact, and the only way to see a
 * sigma2 near 0 to full precision (the Gram matrix squares it). */
#define DENSE_FLOPS 1e6
#define DENSE_CELLS (1u << 16)

/* sigma1 alone (rw_detect_sigma1): the largest eigenvalue of the Gram
 * matrix of the smaller side, formed dense, while that side has at most
 * GRAM_MAX entries. Exact to rounding (sigma1^2 is the top of the Gram
 * spectrum, where squaring loses nothing), and a fraction of a bidiagonal
 * SVD or a Krylov run: a community's block has far more attributes than
 * accounts or the reverse. */
#define GRAM_MAX 400

/* Krylov basis size: top-2 Ritz values of a block Krylov space converge in
 * a few dozen vectors; with dim <= KRYLOV_MAX the space is the whole one and
 * the answer is exact. */
#define KRYLOV_MAX  80
#define KRYLOV_SEED 0x5eed5eedu

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static double dot(const double *a, const double *b, size_t n) {
    /* Four partial sums: independent chains the compiler can pipeline. */
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* Removes from v its components along the k rows of q (each dim long) by
 * classical Gram-Schmidt, repeated once when the first pass cancelled most
 * of v (the DGKS criterion): as good as modified Gram-Schmidt, at half the
 * cost when the new direction is well away from the old ones. Two dgemv
 * calls a pass (OpenBLAS is single-threaded while we are here, see
 * rw_detect_spectral). c has k entries; returns the norm of v. */
static double orthogonalise(double *v, const double *q, uint32_t k, size_t dim, double *c) {
    double before = sqrt(dot(v, v, dim)), after = before;
    for (int pass = 0; pass < 2 && k > 0; pass++) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)k, (int)dim, 1.0, q, (int)dim, v, 1, 0.0, c, 1);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)k, (int)dim, -1.0, q, (int)dim, c, 1, 1.0, v, 1);
        after = sqrt(dot(v, v, dim));
        if (after > 0.7071 * before) break;
        before = after;
    }
    return after;
}

/* y = G x with G = B B^T (rowside) or B^T B; tmp has the other side's size. */
static void gram_apply(const rw_csr *b, int rowside, const double *x, double *tmp, double *y) {
    if (rowside) {
        rw_csr_tmul(b, x, 1, tmp);
        rw_csr_mul(b, tmp, 1, y);
    } else {
        rw_csr_mul(b, x, 1, tmp);
        rw_csr_tmul(b, tmp, 1, y);
    }
}

/* The two largest eigenvalues of the symmetric k x k matrix t (column-major,
 * leading dimension ld); a is scratch of k * k. */
static rw_status top2_eig(const double *t, uint32_t k, uint32_t ld, double *a, double *l1, double *l2, rw_err *err) {
    for (uint32_t j = 0; j < k; j++)
        for (uint32_t i = 0; i < k; i++) a[(size_t)j * k + i] = 0.5 * (t[(size_t)j * ld + i] + t[(size_t)i * ld + j]);
    /* All eigenvalues ('A' goes through dsterf): cheaper at this size than
     * picking two by bisection ('I'). */
    double wv[KRYLOV_MAX], z = 0;
    lapack_int found = 0, isuppz[2 * KRYLOV_MAX];
    lapack_int info = LAPACKE_dsyevr(LAPACK_COL_MAJOR, 'N', 'A', 'U', (lapack_int)k, a, (lapack_int)k, 0.0, 0.0, 0, 0,
                                     0.0, &found, wv, &z, 1, isuppz);
    if (info != 0) return rw_fail(err, RW_ERR_INTERNAL, "spectral: LAPACKE_dsyevr failed (info %d)", (int)info);
    /* Ascending: the largest is last. */
    *l1 = found >= 1 ? wv[found - 1] : 0.0;
    *l2 = found >= 2 ? wv[found - 2] : 0.0;
    return RW_OK;
}

/* Top two eigenvalues of the Gram matrix of the smaller side of b by
 * Rayleigh-Ritz on a block Krylov space (block size 2, so that a repeated
 * top value, e.g. two identical disjoint blocks, is still seen twice). */
static rw_status krylov_top2(const rw_csr *b, double *l1, double *l2, rw_err *err) {
    rw_status st = RW_OK;
    int rowside = b->rows <= b->cols;
    size_t dim = rowside ? b->rows : b->cols, other = rowside ? b->cols : b->rows;
    uint32_t kmax = dim < KRYLOV_MAX ? (uint32_t)dim : KRYLOV_MAX;
    double *q = malloc(kmax * dim * sizeof *q);
    /* G q_j is needed once to fill T and once more to expand the basis
     * two steps later (block size 2): a ring of three holds them. */
    double *z = malloc(3 * dim * sizeof *z);
    double *t = calloc((size_t)kmax * kmax, sizeof *t);
    double *a = malloc((size_t)kmax * kmax * sizeof *a);
    double *tmp = malloc(other * sizeof *tmp);
    double *v = malloc(dim * sizeof *v);
    double *c = malloc(kmax * sizeof *c);
    if (!q || !z || !t || !a || !tmp || !v || !c) {
        st = rw_fail(err, RW_ERR_NOMEM, "spectral: out of memory for a %u x %u block", b->rows, b->cols);
        goto done;
    }
    rw_rng rng;
    rw_rng_seed(&rng, KRYLOV_SEED);
    uint32_t k = 0, expand = 0, done_at = 0;
    double p1 = -1.0, p2 = -1.0;
    *l1 = *l2 = 0.0;
    while (k < kmax) {
        if (k < 2) {
            rw_detect_gauss_fill(&rng, v, dim);
        } else {
            memcpy(v, z + (size_t)(expand++ % 3) * dim, dim * sizeof *v);
        }
        double ref = sqrt(dot(v, v, dim));
        double nrm = orthogonalise(v, q, k, dim, c);
        if (!(nrm > 1e-10 * ref)) {
            /* The space found so far is invariant: continue from a random
             * direction outside it. */
            rw_detect_gauss_fill(&rng, v, dim);
            ref = sqrt(dot(v, v, dim));
            nrm = orthogonalise(v, q, k, dim, c);
            if (!(nrm > 1e-10 * ref)) break;
        }
        double *qk = q + (size_t)k * dim, *zk = z + (size_t)(k % 3) * dim;
        for (size_t i = 0; i < dim; i++) qk[i] = v[i] / nrm;
        gram_apply(b, rowside, qk, tmp, zk);
        /* Column k of the projection Q^T G Q. */
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)k + 1, (int)dim, 1.0, q, (int)dim, zk, 1, 0.0, c, 1);
        for (uint32_t i = 0; i <= k; i++) t[(size_t)k * kmax + i] = t[(size_t)i * kmax + k] = c[i];
        k++;
        if ((k >= 2 && k % 4 == 0) || k == kmax) {
            st = top2_eig(t, k, kmax, a, l1, l2, err);
            if (st != RW_OK) goto done;
            done_at = k;
            /* Ritz values grow towards the truth, slowly when the top of
             * the spectrum is a cluster (communities of look-alike
             * households: 60 vectors to settle the 10th digit). Scores
             * need a few digits: stop when four more vectors moved
             * sigma1^2 by under 1e-7 and sigma2^2 by under 1e-5 of
             * sigma1^2. */
            if (fabs(*l1 - p1) <= 1e-7 * *l1 && fabs(*l2 - p2) <= 1e-5 * *l1) break;
            p1 = *l1;
            p2 = *l2;
        }
    }
    if (done_at != k) st = top2_eig(t, k, kmax, a, l1, l2, err);
done:
    free(q);
    free(z);
    free(t);
    free(a);
    free(tmp);
    free(v);
    free(c);
    return st;
}

/* The largest eigenvalue of the Gram matrix of the smaller side of b
 * (dim <= GRAM_MAX): the upper triangle summed from each shared column (or
 * row) of b, then LAPACK's bisection for the top one only. */
static rw_status gram_top1(const rw_csr *b, double *l1, rw_err *err) {
    int rowside = b->rows <= b->cols;
    uint32_t dim = rowside ? b->rows : b->cols, other = rowside ? b->cols : b->rows;
    uint64_t nnz = b->rp[b->rows];
    /* g, then the eigenvalue array dsyevr fills: dim entries, not one.
     * Its bisection finds every copy of a repeated top eigenvalue (a
     * lockstep block of identical rows has many) before it keeps the one
     * asked for, and writes them all there. */
    double *g = calloc((size_t)dim * dim + dim, sizeof *g);
    uint32_t *start = calloc((size_t)other + 1, sizeof *start), *idx = malloc((nnz + 1) * sizeof *idx);
    double *val = malloc((nnz + 1) * sizeof *val);
    rw_status st = RW_OK;
    if (!g || !start || !idx || !val) {
        st = rw_fail(err, RW_ERR_NOMEM, "spectral: out of memory for a %u x %u block", b->rows, b->cols);
        goto done;
    }
    /* The entries grouped by the larger side: each group adds the products
     * of its pairs to g. */
    for (uint32_t i = 0; i < b->rows; i++)
        for (uint64_t k = b->rp[i]; k < b->rp[i + 1]; k++) start[(rowside ? b->ci[k] : i) + 1]++;
    for (uint32_t o = 0; o < other; o++) start[o + 1] += start[o];
    for (uint32_t i = 0; i < b->rows; i++)
        for (uint64_t k = b->rp[i]; k < b->rp[i + 1]; k++) {
            uint32_t o = rowside ? b->ci[k] : i, at = start[o]++;
            idx[at] = rowside ? i : b->ci[k];
            val[at] = b->val[k];
        }
    for (uint32_t o = other; o > 0; o--) start[o] = start[o - 1];
    start[0] = 0;
    for (uint32_t o = 0; o < other; o++)
        for (uint32_t p = start[o]; p < start[o + 1]; p++)
            for (uint32_t q = p; q < start[o + 1]; q++) {
                uint32_t lo = idx[p] < idx[q] ? idx[p] : idx[q], hi = idx[p] ^ idx[q] ^ lo;
                g[(size_t)hi * dim + lo] += val[p] * val[q];
            }
    double *eig = g + (size_t)dim * dim, z = 0;
    lapack_int found = 0, isuppz[2];
    lapack_int info = LAPACKE_dsyevr(LAPACK_COL_MAJOR, 'N', 'I', 'U', (lapack_int)dim, g, (lapack_int)dim, 0.0, 0.0,
                                     (lapack_int)dim, (lapack_int)dim, 0.0, &found, eig, &z, 1, isuppz);
    if (info != 0) st = rw_fail(err, RW_ERR_INTERNAL, "spectral: LAPACKE_dsyevr failed (info %d)", (int)info);
    *l1 = found == 1 ? eig[0] : 0.0;
done:
    free(g);
    free(start);
    free(idx);
    free(val);
    return st;
}

static rw_status spectral(const rw_graph_snap *s, const double *w, const uint32_t *accounts, uint32_t n_accounts,
                          int want_sigma2, rw_spectral *out, rw_err *err) {
    memset(out, 0, sizeof *out);
    rw_status st = RW_OK;
    uint32_t *sorted = NULL, *cols = NULL;
    double *dense = NULL;
    rw_csr b = {0};
    if (n_accounts == 0) return RW_OK;

    for (uint32_t i = 0; i < n_accounts; i++) {
        uint32_t v = accounts[i];
        if (v >= s->n || s->kind[v] != RW_KIND_ACCOUNT)
            return rw_fail(err, RW_ERR_INVALID, "spectral: node %u is not an account", v);
    }
    /* A repeated row would change the singular values: refuse it. */
    sorted = malloc((size_t)n_accounts * sizeof *sorted);
    if (!sorted) goto nomem;
    memcpy(sorted, accounts, (size_t)n_accounts * sizeof *sorted);
    qsort(sorted, n_accounts, sizeof *sorted, cmp_u32);
    for (uint32_t i = 1; i < n_accounts; i++) {
        if (sorted[i] == sorted[i - 1]) {
            st = rw_fail(err, RW_ERR_INVALID, "spectral: account %u listed twice", sorted[i]);
            goto done;
        }
    }

    /* Columns: the distinct attributes of these accounts, hubs included
     * (their weight is 0, so they only count in cols). */
    uint64_t nnz = 0;
    for (uint32_t i = 0; i < n_accounts; i++) nnz += rw_detect_degree(s, accounts[i]);
    cols = malloc((nnz ? nnz : 1) * sizeof *cols);
    b.rp = malloc(((size_t)n_accounts + 1) * sizeof *b.rp);
    b.ci = malloc((nnz ? nnz : 1) * sizeof *b.ci);
    b.val = malloc((nnz ? nnz : 1) * sizeof *b.val);
    if (!cols || !b.rp || !b.ci || !b.val) goto nomem;
    uint64_t nc = 0;
    for (uint32_t i = 0; i < n_accounts; i++) {
        uint32_t v = accounts[i];
        for (uint64_t k = s->off[v]; k < s->off[v + 1]; k++) cols[nc++] = s->nbr[k];
    }
    qsort(cols, nc, sizeof *cols, cmp_u32);
    uint64_t uc = 0;
    for (uint64_t i = 0; i < nc; i++)
        if (uc == 0 || cols[i] != cols[uc - 1]) cols[uc++] = cols[i];

    b.rows = n_accounts;
    b.cols = (uint32_t)uc;
    uint64_t e = 0;
    double frob2 = 0.0;
    b.rp[0] = 0;
    for (uint32_t i = 0; i < n_accounts; i++) {
        uint32_t v = accounts[i];
        for (uint64_t k = s->off[v]; k < s->off[v + 1]; k++) {
            double x = w[s->eid[k]];
            if (x == 0.0) continue;
            const uint32_t *hit = bsearch(&s->nbr[k], cols, uc, sizeof *cols, cmp_u32);
            b.ci[e] = (uint32_t)(hit - cols);
            b.val[e++] = x;
            frob2 += x * x;
        }
        b.rp[i + 1] = e;
    }
    out->rows = b.rows;
    out->cols = b.cols;
    out->frob2 = frob2;
    if (frob2 == 0.0) goto done;

    uint32_t mn = b.rows < b.cols ? b.rows : b.cols, mx = b.rows < b.cols ? b.cols : b.rows;
    double s1 = 0.0, s2 = 0.0;
    if (mn <= 1) {
        /* A single row or column: its norm is the only singular value. */
        s1 = sqrt(frob2);
    } else if (!want_sigma2 && mn <= GRAM_MAX) {
        double l1 = 0;
        st = gram_top1(&b, &l1, err);
        if (st != RW_OK) goto done;
        s1 = sqrt(l1 > 0 ? l1 : 0);
    } else if ((double)mn * mn * mx <= DENSE_FLOPS && (uint64_t)b.rows * b.cols <= DENSE_CELLS) {
        size_t r = b.rows;
        dense = calloc(r * b.cols + mn, sizeof *dense);
        if (!dense) goto nomem;
        for (uint32_t i = 0; i < b.rows; i++)
            for (uint64_t k = b.rp[i]; k < b.rp[i + 1]; k++) dense[(size_t)b.ci[k] * r + i] = b.val[k];
        double *sv = dense + r * b.cols, dummy = 0;
        lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (lapack_int)b.rows, (lapack_int)b.cols, dense,
                                         (lapack_int)r, sv, &dummy, 1, &dummy, 1);
        if (info != 0) {
            st = rw_fail(err, RW_ERR_INTERNAL, "spectral: LAPACKE_dgesdd failed (info %d)", (int)info);
            goto done;
        }
        s1 = sv[0];
        s2 = sv[1];
    } else {
        double l1 = 0, l2 = 0;
        st = krylov_top2(&b, &l1, &l2, err);
        if (st != RW_OK) goto done;
        s1 = sqrt(l1 > 0 ? l1 : 0);
        s2 = sqrt(l2 > 0 ? l2 : 0);
    }
    out->sigma1 = s1;
    out->sigma2 = want_sigma2 ? s2 : 0.0;
    out->lockstep = s1 * s1 / frob2;
    /* Rounding can push a perfect block a hair above 1. */
    if (out->lockstep > 1.0) out->lockstep = 1.0;
    goto done;

nomem:
    st = rw_fail(err, RW_ERR_NOMEM, "spectral: out of memory for %u accounts", n_accounts);
done:
    free(sorted);
    free(cols);
    free(dense);
    rw_csr_free(&b);
    return st;
}

rw_status rw_detect_spectral(const rw_graph_snap *s, const double *w, const uint32_t *accounts, uint32_t n_accounts,
                             rw_spectral *out, rw_err *err) {
    return spectral(s, w, accounts, n_accounts, 1, out, err);
}

rw_status rw_detect_sigma1(const rw_graph_snap *s, const double *w, const uint32_t *accounts, uint32_t n_accounts,
                           rw_spectral *out, rw_err *err) {
    return spectral(s, w, accounts, n_accounts, 0, out, err);
}
