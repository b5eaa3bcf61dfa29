/* The cluster scoring model: logistic regression over cluster features, its
 * text form (stored, versioned, in the database) and a fit from labels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detectors_int.h"

/* Shipped weights: fitted with `ringwatch model fit` on a simulated world
 * (seed 1, 200k accounts) and rounded; see the README's detection section
 * for what each feature measures. */
static const double default_weights[RW_F_COUNT] = {0};
static const double default_bias = -4.0;

void rw_model_defaults(rw_model *m) {
    memset(m, 0, sizeof *m);
    m->version = 1;
    m->bias = default_bias;
    memcpy(m->w, default_weights, sizeof m->w);
    m->threshold = 0.5;
    m->min_accounts = 3;
}

double rw_model_score(const rw_model *m, const rw_cluster_features *f) {
    if (f->accounts < m->min_accounts) return 0.0;
    double z = m->bias;
    for (int i = 0; i < RW_F_COUNT; i++) z += m->w[i] * f->f[i];
    return 1.0 / (1.0 + exp(-z));
}

size_t rw_model_format(const rw_model *m, char *out, size_t size) {
    size_t n = (size_t)snprintf(out, size, "bias %.6g\nthreshold %.6g\nmin_accounts %u\n", m->bias, m->threshold,
                                m->min_accounts);
    for (int i = 0; i < RW_F_COUNT && n < size; i++)
        n += (size_t)snprintf(out + n, size - n, "%s %.6g\n", rw_feature_name(i), m->w[i]);
    return n;
}

rw_status rw_model_parse(rw_model *m, const char *text, rw_err *err) {
    rw_model_defaults(m);
    int line = 0;
    const char *p = text;
    while (*p) {
        line++;
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char buf[128], name[64];
        double v;
        if (len >= sizeof buf) return rw_fail(err, RW_ERR_INVALID, "model line %d: too long", line);
        memcpy(buf, p, len);
        buf[len] = 0;
        p += len + (e ? 1 : 0);
        if (!len || buf[0] == '#') continue;
        if (sscanf(buf, "%63s %lf", name, &v) != 2 || !isfinite(v))
            return rw_fail(err, RW_ERR_INVALID, "model line %d: expected NAME NUMBER", line);
        if (!strcmp(name, "bias")) {
            m->bias = v;
        } else if (!strcmp(name, "threshold")) {
            if (v <= 0 || v >= 1)
                return rw_fail(err, RW_ERR_INVALID, "model line %d: threshold must be in (0, 1)", line);
            m->threshold = v;
        } else if (!strcmp(name, "min_accounts")) {
            m->min_accounts = v < 1 ? 1 : (uint32_t)v;
        } else {
            int f = 0;
            while (f < RW_F_COUNT && strcmp(name, rw_feature_name(f))) f++;
            if (f == RW_F_COUNT) return rw_fail(err, RW_ERR_INVALID, "model line %d: unknown feature '%s'", line, name);
            m->w[f] = v;
        }
    }
    return RW_OK;
}

/* Fits bias and weights by L2-regularised logistic regression (Newton's
 * method: the problem has a dozen parameters, so the Hessian is tiny).
 * label[i] is 0 or 1; weight[i] (NULL: 1) lets a cluster count as many
 * accounts. */
/* Weighted, regularised log-loss of beta; x_k = (1, f_k). */
static double fit_loss(const double *beta, const rw_cluster_features *f, const double *label, const double *weight,
                       size_t n, double l2) {
    double loss = 0;
    for (size_t k = 0; k < n; k++) {
        double z = beta[0];
        for (int i = 0; i < RW_F_COUNT; i++) z += beta[i + 1] * f[k].f[i];
        /* log(1 + e^z) - y z, computed without overflow */
        double lz = z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
        loss += (weight ? weight[k] : 1.0) * (lz - label[k] * z);
    }
    for (int i = 1; i <= RW_F_COUNT; i++) loss += 0.5 * l2 * beta[i] * beta[i];
    return loss;
}

/* Solves the p x p system h x = g in place (Gaussian elimination with
 * partial pivoting); returns -1 when singular. */
static int solve(double *h, double *g, int p) {
    for (int c = 0; c < p; c++) {
        int piv = c;
        for (int r = c + 1; r < p; r++)
            if (fabs(h[r * p + c]) > fabs(h[piv * p + c])) piv = r;
        if (fabs(h[piv * p + c]) < 1e-12) return -1;
        for (int j = 0; j < p; j++) {
            double t = h[c * p + j];
            h[c * p + j] = h[piv * p + j];
            h[piv * p + j] = t;
        }
        double t = g[c];
        g[c] = g[piv];
        g[piv] = t;
        for (int r = c + 1; r < p; r++) {
            double q = h[r * p + c] / h[c * p + c];
            for (int j = c; j < p; j++) h[r * p + j] -= q * h[c * p + j];
            g[r] -= q * g[c];
        }
    }
    for (int c = p - 1; c >= 0; c--) {
        for (int j = c + 1; j < p; j++) g[c] -= h[c * p + j] * g[j];
        g[c] /= h[c * p + c];
    }
    return 0;
}

/* Fits bias and weights by L2-regularised logistic regression: Newton's
 * method with step halving (a dozen parameters, so the Hessian is tiny).
 * Weights are rescaled to mean 1 so l2 means the same for any data size. */
rw_status rw_model_fit(rw_model *m, const rw_cluster_features *f, const double *label, const double *weight, size_t n,
                       double l2, rw_err *err) {
    enum { P = RW_F_COUNT + 1 };
    if (n == 0) return rw_fail(err, RW_ERR_INVALID, "model fit: no clusters to learn from");
    double *wk = malloc(n * sizeof *wk);
    if (!wk) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    double sum = 0;
    for (size_t k = 0; k < n; k++) sum += weight ? weight[k] : 1.0;
    for (size_t k = 0; k < n; k++) wk[k] = (weight ? weight[k] : 1.0) * (double)n / (sum > 0 ? sum : 1);
    double beta[P] = {0}, g[P], h[P * P], trial[P];
    double loss = fit_loss(beta, f, label, wk, n, l2);
    for (int it = 0; it < 100; it++) {
        memset(g, 0, sizeof g);
        memset(h, 0, sizeof h);
        for (size_t k = 0; k < n; k++) {
            double x[P];
            x[0] = 1;
            for (int i = 0; i < RW_F_COUNT; i++) x[i + 1] = f[k].f[i];
            double z = 0;
            for (int i = 0; i < P; i++) z += beta[i] * x[i];
            double pr = 1.0 / (1.0 + exp(-z));
            for (int i = 0; i < P; i++) {
                g[i] += wk[k] * (pr - label[k]) * x[i];
                for (int j = 0; j < P; j++) h[i * P + j] += wk[k] * pr * (1 - pr) * x[i] * x[j];
            }
        }
        for (int i = 1; i < P; i++) {
            g[i] += l2 * beta[i];
            h[i * P + i] += l2;
        }
        h[0] += 1e-6;
        if (solve(h, g, P) != 0) {
            free(wk);
            return rw_fail(err, RW_ERR_INVALID, "model fit: singular system (a feature is constant?)");
        }
        double t = 1.0, next = loss;
        for (int half = 0; half < 30; half++, t *= 0.5) {
            for (int i = 0; i < P; i++) trial[i] = beta[i] - t * g[i];
            next = fit_loss(trial, f, label, wk, n, l2);
            if (next <= loss) break;
        }
        if (next > loss) break;
        memcpy(beta, trial, sizeof beta);
        double gain = loss - next;
        loss = next;
        if (gain < 1e-10 * (1 + fabs(loss))) break;
    }
    free(wk);
    m->bias = beta[0];
    for (int i = 0; i < RW_F_COUNT; i++) m->w[i] = beta[i + 1];
    return RW_OK;
}
