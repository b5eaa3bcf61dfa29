/* detectors: the small sparse-matrix kit behind the spectral figures and the
 * randomised SVD (CSR products with several right-hand sides at once) and a
 * reproducible Gaussian sampler. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detectors_int.h"

double rw_detect_gauss(rw_rng *r) {
    /* 1 - u is in (0, 1], so the logarithm is finite. */
    double u = 1.0 - rw_rng_unit(r);
    double v = rw_rng_unit(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

void rw_detect_gauss_fill(rw_rng *r, double *out, size_t n) {
    /* Marsaglia's polar method: two draws per accepted pair, one log and
     * one sqrt, no trigonometry; about four times faster than calling
     * rw_detect_gauss for the millions of entries of an SVD sketch. */
    size_t i = 0;
    while (i < n) {
        double a = 2.0 * rw_rng_unit(r) - 1.0, b = 2.0 * rw_rng_unit(r) - 1.0;
        double q = a * a + b * b;
        if (q >= 1.0 || q == 0.0) continue;
        double f = sqrt(-2.0 * log(q) / q);
        out[i++] = a * f;
        if (i < n) out[i++] = b * f;
    }
}

void rw_csr_free(rw_csr *a) {
    if (!a) return;
    free(a->rp);
    free(a->ci);
    free(a->val);
    memset(a, 0, sizeof *a);
}

void rw_csr_mul(const rw_csr *a, const double *x, int l, double *y) {
    size_t L = (size_t)l;
    for (uint32_t i = 0; i < a->rows; i++) {
        double *yi = y + (size_t)i * L;
        memset(yi, 0, L * sizeof *yi);
        for (uint64_t k = a->rp[i]; k < a->rp[i + 1]; k++) {
            const double *xj = x + (size_t)a->ci[k] * L;
            double v = a->val[k];
            for (size_t t = 0; t < L; t++) yi[t] += v * xj[t];
        }
    }
}

void rw_csr_tmul(const rw_csr *a, const double *x, int l, double *y) {
    size_t L = (size_t)l;
    memset(y, 0, (size_t)a->cols * L * sizeof *y);
    /* Scatter row by row: the rows of x and y stay contiguous, which beats
     * building a transposed copy for the two or three products we need. */
    for (uint32_t i = 0; i < a->rows; i++) {
        const double *xi = x + (size_t)i * L;
        for (uint64_t k = a->rp[i]; k < a->rp[i + 1]; k++) {
            double *yj = y + (size_t)a->ci[k] * L;
            double v = a->val[k];
            for (size_t t = 0; t < L; t++) yj[t] += v * xi[t];
        }
    }
}
