/* detectors: global truncated SVD of the degree-normalised account x
 * attribute matrix M = D_r^-1/2 A_w D_c^-1/2 by randomised range finding
 * (Halko, Martinsson, Tropp 2011): Gaussian sketch of width l = k + 10, two
 * power iterations with re-orthonormalisation, a small dense SVD, and the
 * account vectors lifted back.
 *
 * Everything runs on the account side. An attribute of one account (most of
 * them: private devices, cards, home IPs) is a column with one entry; all
 * such columns of a row add only a diagonal term p_i to M M^T. So with M_s
 * the columns of shared attributes, M M^T = M_s M_s^T + diag(p): the same
 * singular values and account vectors, with sparse products over shared
 * attributes only and no tall matrix on the attribute side. On a machine
 * where first-touching memory runs at about 300 MB/s, the footprint is the
 * cost: one rows x l buffer plus one (shared columns) x l. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detectors_int.h"

#define NONE        UINT32_MAX
#define PRIVATE     (UINT32_MAX - 1)
#define OVERSAMPLE  10
#define POWER_ITERS 2

typedef struct {
    rw_csr ms;         /* rows x shared columns */
    double *p;         /* [rows] the private columns' diagonal term of M M^T */
    uint32_t *rownode; /* [rows] node of each row */
    uint32_t rank_cap; /* columns of M after folding: an upper bound on its rank */
} svd_matrix;

/* M_s and p from the snapshot: rows are accounts, columns attributes, each
 * with a positive weighted degree. */
static rw_status build_matrix(const rw_graph_snap *s, const double *w, svd_matrix *x, rw_err *err) {
    rw_status st = RW_OK;
    double *deg = calloc((size_t)s->n + 1, sizeof *deg);
    uint32_t *loc = malloc(((size_t)s->n + 1) * sizeof *loc);
    if (!deg || !loc) goto nomem;
    for (uint64_t e = 0; e < s->m; e++) {
        if (!(w[e] > 0.0)) continue;
        deg[s->edge_account[e]] += w[e];
        deg[s->edges[e].attr] += w[e];
    }
    uint32_t rows = 0, cols = 0;
    uint64_t nnz = 0;
    for (uint32_t v = 0; v < s->n; v++) {
        loc[v] = NONE;
        if (!(deg[v] > 0.0)) continue;
        if (s->kind[v] == RW_KIND_ACCOUNT) {
            loc[v] = rows++;
            continue;
        }
        uint32_t used = 0;
        for (uint64_t k = s->off[v]; k < s->off[v + 1] && used < 2; k++) used += w[s->eid[k]] > 0.0;
        loc[v] = used >= 2 ? cols++ : PRIVATE;
        if (used >= 2) nnz += rw_detect_degree(s, v);
    }
    x->ms.rows = rows;
    x->ms.cols = cols;
    x->ms.rp = malloc(((size_t)rows + 1) * sizeof *x->ms.rp);
    x->ms.ci = malloc((nnz ? nnz : 1) * sizeof *x->ms.ci);
    x->ms.val = malloc((nnz ? nnz : 1) * sizeof *x->ms.val);
    x->p = calloc((size_t)rows + 1, sizeof *x->p);
    x->rownode = malloc(((size_t)rows + 1) * sizeof *x->rownode);
    if (!x->ms.rp || !x->ms.ci || !x->ms.val || !x->p || !x->rownode) goto nomem;
    uint64_t k2 = 0;
    uint32_t with_private = 0;
    x->ms.rp[0] = 0;
    for (uint32_t v = 0; v < s->n; v++) {
        if (loc[v] == NONE || s->kind[v] != RW_KIND_ACCOUNT) continue;
        uint32_t i = loc[v];
        x->rownode[i] = v;
        for (uint64_t k = s->off[v]; k < s->off[v + 1]; k++) {
            double wt = w[s->eid[k]];
            if (!(wt > 0.0)) continue;
            uint32_t a = s->nbr[k];
            if (loc[a] == PRIVATE) {
                /* (w / sqrt(d_i w))^2: the column's only entry, squared. */
                x->p[i] += wt / deg[v];
            } else {
                x->ms.ci[k2] = loc[a];
                x->ms.val[k2++] = wt / sqrt(deg[v] * deg[a]);
            }
        }
        with_private += x->p[i] > 0.0;
        x->ms.rp[i + 1] = k2;
    }
    x->rank_cap = cols + with_private;
    goto done;
nomem:
    st = rw_fail(err, RW_ERR_NOMEM, "svd: out of memory for %u nodes", s->n);
done:
    free(deg);
    free(loc);
    return st;
}

/* Householder QR (dgeqrf + dorgqr) of the row-major rows x l matrix q, via a
 * column-major copy: LAPACK wants this tall matrix column-major (on 400k x
 * 18 that is 0.11 s against 1.0 s through LAPACK_ROW_MAJOR). */
static rw_status householder(double *q, uint32_t rows, int l, double *tau, rw_err *err) {
    size_t L = (size_t)l;
    double *cm = malloc((size_t)rows * L * sizeof *cm);
    if (!cm) return rw_fail(err, RW_ERR_NOMEM, "svd: out of memory for a %u x %d QR", rows, l);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < L; j++) cm[j * rows + i] = q[i * L + j];
    lapack_int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (lapack_int)rows, l, cm, (lapack_int)rows, tau);
    if (info == 0) info = LAPACKE_dorgqr(LAPACK_COL_MAJOR, (lapack_int)rows, l, l, cm, (lapack_int)rows, tau);
    if (info == 0)
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < L; j++) q[i * L + j] = cm[j * rows + i];
    free(cm);
    if (info != 0) return rw_fail(err, RW_ERR_INTERNAL, "svd: Householder QR failed (info %d)", (int)info);
    return RW_OK;
}

/* Orthonormalises the columns of the row-major rows x l matrix q in place.
 * CholeskyQR2 (Gram by dsyrk, Cholesky, triangular solve, twice) is all
 * BLAS-3 and needs no second tall buffer; it is exact to rounding while
 * cond(q) < ~1e7, which the sketch of a large graph is. When the Cholesky
 * factor says otherwise (rank-deficient sketch, tiny graph), Householder. */
static rw_status orthonormalise(double *q, uint32_t rows, int l, double *g, double *tau, rw_err *err) {
    size_t L = (size_t)l;
    for (int pass = 0; pass < 2; pass++) {
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, l, (int)rows, 1.0, q, l, 0.0, g, l);
        lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', l, g, l);
        double lo = INFINITY, hi = 0.0;
        for (size_t j = 0; j < L && info == 0; j++) {
            double d = fabs(g[j * L + j]);
            if (d < lo) lo = d;
            if (d > hi) hi = d;
        }
        if (info != 0 || !(lo > 1e-7 * hi)) return householder(q, rows, l, tau, err);
        cblas_dtrsm(CblasRowMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, (int)rows, l, 1.0, g, l, q, l);
    }
    return RW_OK;
}

/* q <- M M^T q = M_s (M_s^T q) + p o q, with w = M_s^T q as scratch; each
 * row of the result only needs its own row of q, so it is done in place. */
static void gram_apply(const svd_matrix *x, double *q, double *w, int l, double *acc) {
    size_t L = (size_t)l;
    rw_csr_tmul(&x->ms, q, l, w);
    for (uint32_t i = 0; i < x->ms.rows; i++) {
        double *qi = q + (size_t)i * L;
        for (size_t t = 0; t < L; t++) acc[t] = x->p[i] * qi[t];
        for (uint64_t k = x->ms.rp[i]; k < x->ms.rp[i + 1]; k++) {
            const double *wj = w + (size_t)x->ms.ci[k] * L;
            double v = x->ms.val[k];
            for (size_t t = 0; t < L; t++) acc[t] += v * wj[t];
        }
        memcpy(qi, acc, L * sizeof *acc);
    }
}

rw_status rw_detect_svd(const rw_graph_snap *s, const double *w, int k, uint64_t seed, double *sigma, float *u,
                        rw_err *err) {
    if (k <= 0) return rw_fail(err, RW_ERR_INVALID, "svd: k must be positive, not %d", k);
    memset(sigma, 0, (size_t)k * sizeof *sigma);
    memset(u, 0, (size_t)s->n * (size_t)k * sizeof *u);
    rw_status st = RW_OK;
    svd_matrix x = {0};
    double *q = NULL, *wk = NULL, *g = NULL, *tau = NULL, *sv = NULL, *us = NULL, *vt = NULL, *acc = NULL;

    if (s->n == 0) return RW_OK;
    if ((st = build_matrix(s, w, &x, err)) != RW_OK) goto done;
    uint32_t rows = x.ms.rows;
    uint32_t cap = rows < x.rank_cap ? rows : x.rank_cap;
    if (cap == 0) goto done;

    /* Sketch width: k plus oversampling, never more than the rank can be. */
    int l = k + OVERSAMPLE;
    if ((uint32_t)l > cap) l = (int)cap;
    size_t L = (size_t)l;
    q = malloc((size_t)rows * L * sizeof *q);
    wk = malloc(((size_t)x.ms.cols + 1) * L * sizeof *wk);
    g = malloc(L * L * sizeof *g);
    tau = malloc(L * sizeof *tau);
    sv = malloc(L * sizeof *sv);
    us = malloc(L * L * sizeof *us);
    vt = malloc(L * L * sizeof *vt);
    acc = malloc(L * sizeof *acc);
    if (!q || !wk || !g || !tau || !sv || !us || !vt || !acc) {
        st = rw_fail(err, RW_ERR_NOMEM, "svd: out of memory for %u x %d", rows, l);
        goto done;
    }

    /* Y = M Omega. The private columns of row i add sum_j m_ij g_j, a normal
     * vector with variance p_i per entry: drawn as sqrt(p_i) times a fresh
     * Gaussian, which is the same distribution as the full sketch. All draws
     * come from rw_rng, so a seed gives the same answer everywhere. */
    rw_rng rng;
    rw_rng_seed(&rng, seed);
    rw_detect_gauss_fill(&rng, wk, (size_t)x.ms.cols * L);
    rw_csr_mul(&x.ms, wk, l, q);
    for (uint32_t i = 0; i < rows; i++) {
        if (!(x.p[i] > 0.0)) continue;
        double sp = sqrt(x.p[i]);
        rw_detect_gauss_fill(&rng, acc, L);
        for (size_t t = 0; t < L; t++) q[(size_t)i * L + t] += sp * acc[t];
    }
    if ((st = orthonormalise(q, rows, l, g, tau, err)) != RW_OK) goto done;
    for (int it = 0; it < POWER_ITERS; it++) {
        /* One power iteration applies M M^T, re-orthonormalised each time:
         * the span of (M M^T)^q M Omega, as in HMT Algorithm 4.4. Skipping
         * the QR between M^T and M only costs accuracy in singular values
         * below sqrt(eps) * sigma_1, far under the k we keep. */
        gram_apply(&x, q, wk, l, acc);
        if ((st = orthonormalise(q, rows, l, g, tau, err)) != RW_OK) goto done;
    }

    /* The small problem: B = Q^T M (l x cols) has B B^T = Q^T M M^T Q, an
     * l x l matrix whose SVD (symmetric, so U = V) gives U_b and sigma^2. */
    rw_csr_tmul(&x.ms, q, l, wk);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, l, (int)x.ms.cols, 1.0, wk, l, 0.0, g, l);
    for (uint32_t i = 0; i < rows; i++) {
        double pi = x.p[i];
        if (!(pi > 0.0)) continue;
        const double *qi = q + (size_t)i * L;
        for (size_t a = 0; a < L; a++)
            for (size_t b = a; b < L; b++) g[a * L + b] += pi * qi[a] * qi[b];
    }
    for (size_t a = 0; a < L; a++)
        for (size_t b = 0; b < a; b++) g[a * L + b] = g[b * L + a];
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'A', l, l, g, l, sv, us, l, vt, l);
    if (info != 0) {
        st = rw_fail(err, RW_ERR_INTERNAL, "svd: LAPACKE_dgesdd failed (info %d)", (int)info);
        goto done;
    }
    int kk = k < l ? k : l;
    for (int i = 0; i < kk; i++) sigma[i] = sqrt(sv[i] > 0.0 ? sv[i] : 0.0);

    /* Account vectors Q U_b[:, :kk], straight into u (row-major us). */
    for (uint32_t i = 0; i < rows; i++) {
        const double *qi = q + (size_t)i * L;
        float *dst = u + (size_t)x.rownode[i] * (size_t)k;
        for (int c = 0; c < kk; c++) {
            double d = 0.0;
            for (size_t t = 0; t < L; t++) d += qi[t] * us[t * L + (size_t)c];
            dst[c] = (float)d;
        }
    }
    /* Singular vectors have no sign of their own: make the largest entry of
     * each positive so that runs and seeds compare. */
    for (int c = 0; c < kk; c++) {
        float best = 0.0f;
        for (uint32_t i = 0; i < rows; i++) {
            float v = u[(size_t)x.rownode[i] * (size_t)k + (size_t)c];
            if (fabsf(v) > fabsf(best)) best = v;
        }
        if (best < 0.0f)
            for (uint32_t i = 0; i < rows; i++) {
                float *v = &u[(size_t)x.rownode[i] * (size_t)k + (size_t)c];
                *v = -*v;
            }
    }

done:
    rw_csr_free(&x.ms);
    free(x.p);
    free(x.rownode);
    free(q);
    free(wk);
    free(g);
    free(tau);
    free(sv);
    free(us);
    free(vt);
    free(acc);
    return st;
}
