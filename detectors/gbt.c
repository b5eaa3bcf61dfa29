/* Gradient-boosted trees for the online scorer: oblivious-free, fixed-depth
 * regression trees on logistic loss, fitted from histograms of quantile bins.
 * The signup figures interact (a shared device is benign at home and not from
 * a proxy farm), which a linear model cannot express. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detectors.h"

#define NBINS  32
#define LAMBDA 1.0 /* L2 on leaf values */
/* The largest Newton step of a leaf, before the learning rate. A leaf of
 * rows the trees already score confidently wrong has hessians near zero,
 * and G / (H + LAMBDA) is then their gradient count: continuing the
 * shipped trees on a deployment's labels gave leaves of hundreds and logits
 * in the thousands, swinging from tree to tree. A step of 20 is already
 * certainty (e^-20); the shipped trees' fit never reaches it. */
#define MAX_STEP 20.0

static double tree_value(const rw_gbt_tree *tr, const double *f) {
    int node = 0;
    for (int d = 0; d < RW_GBT_DEPTH; d++) node = 2 * node + 1 + (f[tr->feature[node]] > tr->threshold[node]);
    return tr->leaf[node - RW_GBT_SPLITS];
}

double rw_gbt_logit(const rw_gbt *m, const double *f) {
    double z = m->bias;
    for (int t = 0; t < m->ntrees; t++) z += tree_value(&m->tree[t], f);
    return z;
}

void rw_gbt_contributions(const rw_gbt *m, const double *f, int p, double *out) {
    double g[RW_GBT_MAXF];
    memcpy(g, f, (size_t)p * sizeof *g);
    uint32_t nonzero = 0;
    for (int i = 0; i < p; i++) {
        out[i] = 0;
        if (f[i] != 0) nonzero |= 1u << i;
    }
    /* Only the trees that split on a feature change when it is zeroed. */
    for (int t = 0; t < m->ntrees; t++) {
        const rw_gbt_tree *tr = &m->tree[t];
        uint32_t todo = tr->used & nonzero;
        if (!todo) continue;
        /* Zeroing a feature changes this tree only if it turns a decision
         * on the path taken: a walk that stays on the path ends in the same
         * leaf. Only those features are walked again. */
        uint32_t flips = 0;
        int node = 0;
        for (int d = 0; d < RW_GBT_DEPTH; d++) {
            int i = tr->feature[node];
            int right = f[i] > tr->threshold[node];
            if (right != (0 > tr->threshold[node])) flips |= 1u << i;
            node = 2 * node + 1 + right;
        }
        todo &= flips;
        if (!todo) continue;
        double v = tr->leaf[node - RW_GBT_SPLITS];
        for (; todo; todo &= todo - 1) {
            int i = __builtin_ctz(todo);
            g[i] = 0;
            out[i] += v - tree_value(tr, g);
            g[i] = f[i];
        }
    }
}

double rw_gbt_score(const rw_gbt *m, const double *f) {
    return 1.0 / (1.0 + exp(-rw_gbt_logit(m, f)));
}

/* Bin edges of one feature: up to NBINS - 1 thresholds at quantiles. */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int make_edges(const double *x, size_t n, int p, int j, double *edges, double *tmp) {
    size_t step = n > 20000 ? n / 20000 : 1, k = 0;
    for (size_t i = 0; i < n; i += step) tmp[k++] = x[i * (size_t)p + (size_t)j];
    qsort(tmp, k, sizeof *tmp, cmp_double);
    int ne = 0;
    for (int b = 1; b < NBINS; b++) {
        double v = tmp[(k - 1) * (size_t)b / NBINS];
        if (ne == 0 || v > edges[ne - 1]) edges[ne++] = v;
    }
    /* The largest value as an edge splits nothing off. */
    if (ne && edges[ne - 1] >= tmp[k - 1]) ne--;
    return ne;
}

static rw_status fit(rw_gbt *m, int more, const double *x, const double *y, const double *w, size_t n, int p,
                     int ntrees, double rate, rw_err *err);

rw_status rw_gbt_fit(rw_gbt *m, const double *x, const double *y, size_t n, int p, int ntrees, double rate,
                     rw_err *err) {
    return rw_gbt_fit_weighted(m, x, y, NULL, n, p, ntrees, rate, err);
}

rw_status rw_gbt_fit_weighted(rw_gbt *m, const double *x, const double *y, const double *w, size_t n, int p, int ntrees,
                              double rate, rw_err *err) {
    return fit(m, 0, x, y, w, n, p, ntrees, rate, err);
}

rw_status rw_gbt_fit_more(rw_gbt *m, const double *x, const double *y, const double *w, size_t n, int p, int ntrees,
                          double rate, rw_err *err) {
    return fit(m, 1, x, y, w, n, p, ntrees, rate, err);
}

/* Fits ntrees more trees: on m's own trees (more), else from the base rate. */
static rw_status fit(rw_gbt *m, int more, const double *x, const double *y, const double *w, size_t n, int p,
                     int ntrees, double rate, rw_err *err) {
    rw_status st = RW_OK;
    if (p > RW_GBT_MAXF || p <= 0) return rw_fail(err, RW_ERR_INTERNAL, "gbt: %d features", p);
    int from = more ? m->ntrees : 0;
    if (from + ntrees > RW_GBT_MAXTREES) ntrees = RW_GBT_MAXTREES - from;
    if (n < 10) return rw_fail(err, RW_ERR_INVALID, "gbt: %zu rows are too few to fit", n);
    double *edges = malloc((size_t)p * NBINS * sizeof *edges), *tmp = malloc((n + 1) * sizeof *tmp);
    int *nedges = calloc((size_t)p, sizeof *nedges);
    uint8_t *bin = malloc(n * (size_t)p);
    double *z = malloc(n * sizeof *z), *g = malloc(n * sizeof *g), *h = malloc(n * sizeof *h);
    int *node = malloc(n * sizeof *node);
    /* Histograms for the nodes of one level: [node][feature][bin] (G, H). */
    double *hist = malloc((size_t)(1 << (RW_GBT_DEPTH - 1)) * (size_t)p * NBINS * 2 * sizeof *hist);
    if (!edges || !tmp || !nedges || !bin || !z || !g || !h || !node || !hist) {
        st = rw_fail(err, RW_ERR_NOMEM, "gbt: out of memory for %zu rows", n);
        goto done;
    }
    for (int j = 0; j < p; j++) nedges[j] = make_edges(x, n, p, j, edges + (size_t)j * NBINS, tmp);
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < p; j++) {
            const double *e = edges + (size_t)j * NBINS;
            double v = x[i * (size_t)p + (size_t)j];
            int b = 0;
            while (b < nedges[j] && v > e[b]) b++;
            bin[i * (size_t)p + (size_t)j] = (uint8_t)b;
        }
    if (more) {
        for (size_t i = 0; i < n; i++) z[i] = rw_gbt_logit(m, x + i * (size_t)p);
    } else {
        double pos = 0, total = 0;
        for (size_t i = 0; i < n; i++) pos += y[i] * (w ? w[i] : 1), total += w ? w[i] : 1;
        double base = (pos + 0.5) / (total + 1.0);
        memset(m, 0, sizeof *m);
        m->bias = log(base / (1 - base));
        for (size_t i = 0; i < n; i++) z[i] = m->bias;
    }
    for (int t = from; t < from + ntrees; t++) {
        rw_gbt_tree *tr = &m->tree[t];
        memset(tr, 0, sizeof *tr);
        for (size_t i = 0; i < n; i++) {
            double pr = 1.0 / (1.0 + exp(-z[i]));
            g[i] = pr - y[i];
            h[i] = pr * (1 - pr);
            if (w) g[i] *= w[i], h[i] *= w[i];
            node[i] = 0;
        }
        for (int d = 0; d < RW_GBT_DEPTH; d++) {
            int first = (1 << d) - 1, count = 1 << d;
            memset(hist, 0, (size_t)count * (size_t)p * NBINS * 2 * sizeof *hist);
            for (size_t i = 0; i < n; i++) {
                double *hn = hist + (size_t)(node[i] - first) * (size_t)p * NBINS * 2;
                const uint8_t *bi = bin + i * (size_t)p;
                for (int j = 0; j < p; j++) {
                    double *c = hn + ((size_t)j * NBINS + bi[j]) * 2;
                    c[0] += g[i];
                    c[1] += h[i];
                }
            }
            for (int k = 0; k < count; k++) {
                const double *hn = hist + (size_t)k * (size_t)p * NBINS * 2;
                double G = 0, H = 0;
                for (int b = 0; b < NBINS; b++) G += hn[b * 2], H += hn[b * 2 + 1];
                double parent = G * G / (H + LAMBDA), best = 1e-9;
                int bf = 0;
                double bt = INFINITY; /* no split: everything goes left */
                for (int j = 0; j < p; j++) {
                    double gl = 0, hl = 0;
                    for (int b = 0; b < nedges[j]; b++) {
                        gl += hn[((size_t)j * NBINS + (size_t)b) * 2];
                        hl += hn[((size_t)j * NBINS + (size_t)b) * 2 + 1];
                        double gr = G - gl, hr = H - hl;
                        if (hl < 1e-3 || hr < 1e-3) continue;
                        double gain = gl * gl / (hl + LAMBDA) + gr * gr / (hr + LAMBDA) - parent;
                        if (gain > best) best = gain, bf = j, bt = edges[(size_t)j * NBINS + (size_t)b];
                    }
                }
                tr->feature[first + k] = (uint8_t)bf;
                tr->threshold[first + k] = bt;
            }
            for (size_t i = 0; i < n; i++) {
                int nd = node[i];
                node[i] = 2 * nd + 1 + (x[i * (size_t)p + tr->feature[nd]] > tr->threshold[nd]);
            }
        }
        double G[RW_GBT_LEAVES] = {0}, H[RW_GBT_LEAVES] = {0};
        for (size_t i = 0; i < n; i++) G[node[i] - RW_GBT_SPLITS] += g[i], H[node[i] - RW_GBT_SPLITS] += h[i];
        for (int l = 0; l < RW_GBT_LEAVES; l++)
            tr->leaf[l] = -rate * fmax(-MAX_STEP, fmin(MAX_STEP, G[l] / (H[l] + LAMBDA)));
        for (int k = 0; k < RW_GBT_SPLITS; k++) tr->used |= 1u << tr->feature[k];
        for (size_t i = 0; i < n; i++) z[i] += tr->leaf[node[i] - RW_GBT_SPLITS];
        m->ntrees = t + 1;
    }
done:
    free(edges), free(tmp), free(nedges), free(bin), free(z), free(g), free(h), free(node), free(hist);
    return st;
}

size_t rw_gbt_format(const rw_gbt *m, const char *const *names, char *out, size_t size) {
    size_t at = (size_t)snprintf(out, size, "online.bias %.6g\n", m->bias);
#define OUT (out + (at < size ? at : size)), (at < size ? size - at : 0)
    for (int t = 0; t < m->ntrees; t++) {
        const rw_gbt_tree *tr = &m->tree[t];
        at += (size_t)snprintf(OUT, "online.tree");
        for (int k = 0; k < RW_GBT_SPLITS; k++) {
            if (isinf(tr->threshold[k]))
                at += (size_t)snprintf(OUT, " %s inf", names[tr->feature[k]]);
            else
                at += (size_t)snprintf(OUT, " %s %.6g", names[tr->feature[k]], tr->threshold[k]);
        }
        for (int l = 0; l < RW_GBT_LEAVES; l++) at += (size_t)snprintf(OUT, " %.6g", tr->leaf[l]);
        at += (size_t)snprintf(OUT, "\n");
    }
#undef OUT
    return at;
}

static int feature_index(const char *const *names, int p, const char *s, size_t len) {
    for (int j = 0; j < p; j++)
        if (strlen(names[j]) == len && !memcmp(names[j], s, len)) return j;
    return -1;
}

rw_status rw_gbt_parse(rw_gbt *m, const char *const *names, int p, const char *text, rw_err *err) {
    rw_gbt out;
    memset(&out, 0, sizeof out);
    int have_bias = 0, line = 0;
    const char *s = text;
    while (*s) {
        line++;
        const char *eol = strchr(s, '\n');
        size_t len = eol ? (size_t)(eol - s) : strlen(s);
        char buf[4096];
        if (len >= sizeof buf) return rw_fail(err, RW_ERR_INVALID, "line %d: too long", line);
        memcpy(buf, s, len);
        buf[len] = 0;
        s += len + (eol ? 1 : 0);
        char *tok = strtok(buf, " \t\r");
        if (!tok || tok[0] == '#') continue;
        if (!strcmp(tok, "online.bias")) {
            char *v = strtok(NULL, " \t\r"), *end = NULL;
            out.bias = v ? strtod(v, &end) : 0;
            if (!v || *end || !isfinite(out.bias))
                return rw_fail(err, RW_ERR_INVALID, "line %d: online.bias: expected a number", line);
            have_bias = 1;
        } else if (!strcmp(tok, "online.tree")) {
            if (out.ntrees == RW_GBT_MAXTREES)
                return rw_fail(err, RW_ERR_INVALID, "line %d: more than %d trees", line, RW_GBT_MAXTREES);
            rw_gbt_tree *tr = &out.tree[out.ntrees++];
            for (int k = 0; k < RW_GBT_SPLITS; k++) {
                char *f = strtok(NULL, " \t\r"), *v = strtok(NULL, " \t\r"), *end = NULL;
                int j = f ? feature_index(names, p, f, strlen(f)) : -1;
                if (j < 0) return rw_fail(err, RW_ERR_INVALID, "line %d: split %d: unknown feature", line, k + 1);
                tr->feature[k] = (uint8_t)j;
                tr->threshold[k] = v ? strtod(v, &end) : 0;
                if (!v || *end || isnan(tr->threshold[k]))
                    return rw_fail(err, RW_ERR_INVALID, "line %d: split %d: expected a threshold", line, k + 1);
            }
            for (int l = 0; l < RW_GBT_LEAVES; l++) {
                char *v = strtok(NULL, " \t\r"), *end = NULL;
                tr->leaf[l] = v ? strtod(v, &end) : 0;
                if (!v || *end || !isfinite(tr->leaf[l]))
                    return rw_fail(err, RW_ERR_INVALID, "line %d: leaf %d: expected a number", line, l + 1);
            }
            if (strtok(NULL, " \t\r")) return rw_fail(err, RW_ERR_INVALID, "line %d: trailing text", line);
            for (int k = 0; k < RW_GBT_SPLITS; k++) tr->used |= 1u << tr->feature[k];
        } else {
            return rw_fail(err, RW_ERR_INVALID, "line %d: unknown key %s", line, tok);
        }
    }
    if (!have_bias) return rw_fail(err, RW_ERR_INVALID, "online.bias missing");
    *m = out;
    return RW_OK;
}
