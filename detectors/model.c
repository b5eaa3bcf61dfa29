/* The cluster scoring model: logistic regression over cluster features, its
 * text form (stored, versioned, in the database) and a fit from labels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detectors_int.h"

/* Shipped weights: fitted with `ringwatch model fit` (l2 1) on the disjoint
 * union of simulated worlds of 40,000 accounts each, every variant (default,
 * bigfarms, cardring, slowdrip, crowds, wide) of seeds 1-3
 * (bench/fitworld.py), and rounded; the threshold was chosen on seed 4 and
 * quality is reported on other seeds (docs/DETECTION.md, "Fitting").
 * Refitted whenever features or rescoring change what fit returns (last: the
 * arrival window of clusters under ten accounts, which had left out their
 * last signup).
 * `ringwatch model fit` on labelled data of your own replaces them. */
static const double default_weights[RW_F_COUNT] = {
    [RW_F_LOG_ACCOUNTS] = 0.793,
    [RW_F_DEVICE_LINKED] = 4.632,
    [RW_F_CARD_LINKED] = 1.325,
    [RW_F_IP_LINKED] = -10.42,
    [RW_F_MAX_DEVICE_SHARE] = -4.934,
    [RW_F_MAX_CARD_SHARE] = -0.2583,
    [RW_F_EXCLUSIVE] = 1.197,
    [RW_F_BURST] = -1.481,
    [RW_F_SUBNET_SHARE] = -1.693,
    [RW_F_PRIVATE_ATTRS] = -2.048,
    [RW_F_IP_DIVERSITY] = 1.711,
    [RW_F_HUB_CONTACT] = -5.635,
    [RW_F_LOCKSTEP] = 2.067,
    [RW_F_LATER_LOGINS] = -1.741,
    [RW_F_MULTI_SHARED] = 3.611,
    [RW_F_COHERENCE] = 5.079,
    [RW_F_CARD_HOMELESS] = 2.286,
    [RW_F_CARDS_PER_PAYER] = -3.886,
    [RW_F_OWN_DEVICES] = -1.462,
    [RW_F_SPAN_DAYS] = -1.129,
    [RW_F_CARD_RING] = 1.467,
    /* Set, not fitted: a family of three sharing its home line, a tablet
     * and a card reads to the fitted weights as a tight ring (0.7-0.9), and
     * the simulator's families so rarely share all three that the fit
     * gives household about -1. -5 keeps such a family below the threshold
     * (a family that arrived within a day scores 0.76 at -3); a ring's
     * piece that small rarely shares both an address and a device. */
    [RW_F_HOUSEHOLD] = -5.0,
};
static const double default_bias = 6.331;
static const double default_account_weights[RW_A_COUNT] = {
    [RW_A_CLUSTER_LOGIT] = 0.5602, [RW_A_DEVICE] = -0.887,    [RW_A_CARD] = 0.7985,    [RW_A_IP] = -1.077,
    [RW_A_SHARED] = 1.875,         [RW_A_IN_BURST] = -0.1427, [RW_A_PRIVATE] = -2.644, [RW_A_HUB] = -0.1351,
    [RW_A_PEERS] = 1.599,
};
static const double default_account_bias = -0.4835;

void rw_model_defaults(rw_model *m) {
    memset(m, 0, sizeof *m);
    m->version = 1;
    m->bias = default_bias;
    memcpy(m->w, default_weights, sizeof m->w);
    /* The lowest threshold at which the six variant worlds of seed 4 flag at
     * most 0.05% of their benign accounts on average (0.70: 0.054%). */
    m->threshold = 0.75;
    m->min_accounts = 3;
    m->abias = default_account_bias;
    memcpy(m->aw, default_account_weights, sizeof m->aw);
}

double rw_model_account_score(const rw_model *m, const double *af) {
    double z = m->abias;
    for (int i = 0; i < RW_A_COUNT; i++) z += m->aw[i] * af[i];
    return 1.0 / (1.0 + exp(-z));
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
    if (n < size) n += (size_t)snprintf(out + n, size - n, "account.bias %.6g\n", m->abias);
    for (int i = 0; i < RW_A_COUNT && n < size; i++)
        n += (size_t)snprintf(out + n, size - n, "account.%s %.6g\n", rw_account_feature_name(i), m->aw[i]);
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
        int name_end = 0;
        if (sscanf(buf, "%63s%n", name, &name_end) != 1)
            return rw_fail(err, RW_ERR_INVALID, "model line %d: expected NAME NUMBER", line);
        char *end = NULL;
        v = strtod(buf + name_end, &end);
        while (end && (*end == ' ' || *end == '\t' || *end == '\r')) end++;
        if (end == buf + name_end || !end || *end || !isfinite(v))
            return rw_fail(err, RW_ERR_INVALID, "model line %d: expected NAME NUMBER", line);
        if (!strcmp(name, "bias")) {
            m->bias = v;
        } else if (!strcmp(name, "threshold")) {
            if (v <= 0 || v >= 1)
                return rw_fail(err, RW_ERR_INVALID, "model line %d: threshold must be in (0, 1)", line);
            m->threshold = v;
        } else if (!strcmp(name, "min_accounts")) {
            if (!(v >= 1 && v <= 1e6))
                return rw_fail(err, RW_ERR_INVALID, "model line %d: min_accounts must be 1 to 1000000", line);
            m->min_accounts = (uint32_t)v;
        } else if (!strcmp(name, "account.bias")) {
            m->abias = v;
        } else if (!strncmp(name, "account.", 8)) {
            int f = 0;
            while (f < RW_A_COUNT && strcmp(name + 8, rw_account_feature_name(f))) f++;
            if (f == RW_A_COUNT)
                return rw_fail(err, RW_ERR_INVALID, "model line %d: unknown account feature '%s'", line, name);
            m->aw[f] = v;
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
/* Weighted, regularised log-loss of beta (beta[0] the intercept) over rows
 * x_k of p - 1 features. */
static double fit_loss(const double *beta, int p, const double *x, const double *label, const double *wk, size_t n,
                       double l2) {
    double loss = 0;
    for (size_t k = 0; k < n; k++) {
        const double *xk = x + k * (size_t)(p - 1);
        double z = beta[0];
        for (int i = 1; i < p; i++) z += beta[i] * xk[i - 1];
        /* log(1 + e^z) - y z, computed without overflow */
        double lz = z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
        loss += wk[k] * (lz - label[k] * z);
    }
    for (int i = 1; i < p; i++) loss += 0.5 * l2 * beta[i] * beta[i];
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

/* L2-regularised logistic regression by Newton's method with step halving
 * (a dozen parameters: the Hessian is tiny). beta has p entries, beta[0]
 * the unpenalised intercept; x is n rows of p - 1 features. Weights are
 * rescaled to mean 1 so l2 means the same for any data size. */
static rw_status logit_fit(double *beta, int p, const double *x, const double *label, const double *weight, size_t n,
                           double l2, rw_err *err) {
    enum { PMAX = 32 };
    if (n == 0) return rw_fail(err, RW_ERR_INVALID, "model fit: nothing labelled to learn from");
    if (p > PMAX) return rw_fail(err, RW_ERR_INTERNAL, "model fit: too many features");
    double *wk = malloc(n * sizeof *wk);
    if (!wk) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    double sum = 0;
    for (size_t k = 0; k < n; k++) sum += weight ? weight[k] : 1.0;
    for (size_t k = 0; k < n; k++) wk[k] = (weight ? weight[k] : 1.0) * (double)n / (sum > 0 ? sum : 1);
    double g[PMAX], h[PMAX * PMAX], trial[PMAX];
    memset(beta, 0, (size_t)p * sizeof *beta);
    double loss = fit_loss(beta, p, x, label, wk, n, l2);
    for (int it = 0; it < 100; it++) {
        memset(g, 0, sizeof g);
        memset(h, 0, sizeof h);
        for (size_t k = 0; k < n; k++) {
            double xk[PMAX];
            xk[0] = 1;
            memcpy(xk + 1, x + k * (size_t)(p - 1), (size_t)(p - 1) * sizeof *xk);
            double z = 0;
            for (int i = 0; i < p; i++) z += beta[i] * xk[i];
            double pr = 1.0 / (1.0 + exp(-z));
            for (int i = 0; i < p; i++) {
                g[i] += wk[k] * (pr - label[k]) * xk[i];
                for (int j = 0; j < p; j++) h[i * p + j] += wk[k] * pr * (1 - pr) * xk[i] * xk[j];
            }
        }
        for (int i = 1; i < p; i++) {
            g[i] += l2 * beta[i];
            h[i * p + i] += l2;
        }
        h[0] += 1e-6;
        if (solve(h, g, p) != 0) {
            free(wk);
            return rw_fail(err, RW_ERR_INVALID, "model fit: singular system (a feature is constant?)");
        }
        double t = 1.0, next = loss;
        for (int half = 0; half < 30; half++, t *= 0.5) {
            for (int i = 0; i < p; i++) trial[i] = beta[i] - t * g[i];
            next = fit_loss(trial, p, x, label, wk, n, l2);
            if (next <= loss) break;
        }
        if (next > loss) break;
        memcpy(beta, trial, (size_t)p * sizeof *beta);
        double gain = loss - next;
        loss = next;
        if (gain < 1e-10 * (1 + fabs(loss))) break;
    }
    free(wk);
    return RW_OK;
}

rw_status rw_model_fit(rw_model *m, const rw_cluster_features *f, const double *label, const double *weight, size_t n,
                       double l2, rw_err *err) {
    double *x = malloc((n + 1) * RW_F_COUNT * sizeof *x), beta[RW_F_COUNT + 1];
    if (!x) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) memcpy(x + k * RW_F_COUNT, f[k].f, sizeof f[k].f);
    rw_status st = logit_fit(beta, RW_F_COUNT + 1, x, label, weight, n, l2, err);
    free(x);
    if (st != RW_OK) return st;
    m->bias = beta[0];
    for (int i = 0; i < RW_F_COUNT; i++) m->w[i] = beta[i + 1];
    return RW_OK;
}

rw_status rw_model_fit_accounts(rw_model *m, const double *af, const double *label, size_t n, double l2, rw_err *err) {
    double beta[RW_A_COUNT + 1];
    rw_status st = logit_fit(beta, RW_A_COUNT + 1, af, label, NULL, n, l2, err);
    if (st != RW_OK) return st;
    m->abias = beta[0];
    for (int i = 0; i < RW_A_COUNT; i++) m->aw[i] = beta[i + 1];
    return RW_OK;
}
