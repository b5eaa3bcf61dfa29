/* The online scorer: a logistic model over the figures of one signup that the
 * live graph gives in microseconds (sharing and velocity of its attributes,
 * the burst on its subnet, its community's batch score and growth). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "detectors.h"

static const char *const names[RW_O_COUNT] = {
    "device_shared", "device_day", "device_burst", "device_day2",  "device_foreign", "card_shared",
    "card_day",      "ip_shared",  "ip_hour",      "subnet_other", "subnet_day",     "ip_hub",
    "device_hub",    "comm_score", "comm_flagged", "comm_size",    "comm_day",
};

const char *rw_online_feature_name(int f) {
    return f >= 0 && f < RW_O_COUNT ? names[f] : NULL;
}

/* Fitted with `ringwatch model fit-online` on replays of simulated worlds
 * (seed 1, 200,000 accounts); see the README. */
static const double default_w[RW_O_COUNT] = {
    1.5924, -1.8153, 6.4115, 0.8831, -0.8884, 3.2312, 0.6165,  -0.1740, -0.4048,
    0.8379, 0.4209,  1.1955, 0.2133, 2.5014,  0.3371, -0.3362, 0.1561,
};
static const double default_bias = -4.2069;

void rw_online_defaults(rw_online_model *m) {
    m->bias = default_bias;
    memcpy(m->w, default_w, sizeof m->w);
}

double rw_online_logit(const rw_online_model *m, const double *f) {
    double z = m->bias;
    for (int i = 0; i < RW_O_COUNT; i++) z += m->w[i] * f[i];
    return z;
}

double rw_online_score(const rw_online_model *m, const double *f) {
    return 1.0 / (1.0 + exp(-rw_online_logit(m, f)));
}

size_t rw_online_top(const rw_online_model *m, const double *f, int *idx, size_t max) {
    size_t n = 0;
    for (int i = 0; i < RW_O_COUNT; i++) {
        double c = m->w[i] * f[i];
        if (c <= 0.05) continue;
        /* insertion into the top max, largest contribution first */
        size_t at = n < max ? n : max;
        while (at > 0 && m->w[idx[at - 1]] * f[idx[at - 1]] < c) {
            if (at < max) idx[at] = idx[at - 1];
            at--;
        }
        if (at < max) {
            idx[at] = i;
            if (n < max) n++;
        }
    }
    return n;
}

size_t rw_online_format(const rw_online_model *m, char *out, size_t size) {
    size_t at = (size_t)snprintf(out, size, "online.bias %.4f\n", m->bias);
    for (int i = 0; i < RW_O_COUNT; i++)
        at += (size_t)snprintf(out + (at < size ? at : size), at < size ? size - at : 0, "online.%s %.4f\n", names[i],
                               m->w[i]);
    return at;
}

rw_status rw_online_fit(rw_online_model *m, const double *x, const double *label, size_t n, double l2, rw_err *err) {
    double beta[RW_O_COUNT + 1];
    rw_status st = rw_logit_fit(beta, RW_O_COUNT + 1, x, label, NULL, n, l2, err);
    if (st != RW_OK) return st;
    m->bias = beta[0];
    memcpy(m->w, beta + 1, sizeof m->w);
    return RW_OK;
}
