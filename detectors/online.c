/* The online scorer: boosted trees over the figures of one signup that the
 * live graph gives in microseconds (sharing and velocity of its attributes,
 * the burst on its subnet, its community's batch score and growth). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "detectors.h"

static const char *const names[RW_O_COUNT] = {
    "device_shared",  "device_day",      "device_burst",     "device_day2",    "device_foreign", "card_shared",
    "card_day",       "ip_shared",       "ip_hour",          "subnet_other",   "subnet_day",     "ip_hub",
    "device_hub",     "comm_score",      "comm_flagged",     "comm_size",      "comm_day",       "attr_flagged",
    "attr_online",    "device_rate",     "device_age",       "card_rate",      "ip_rate",        "subnet_rate",
    "attr_new_share", "attr_flag_share", "attr_label_share", "comm_new_share", "card_age",       "ip_age",
};

const char *rw_online_feature_name(int f) {
    return f >= 0 && f < RW_O_COUNT ? names[f] : NULL;
}

/* Fitted with `ringwatch model fit-online` on a replay of the seed-1
 * simulated world (200,000 accounts); see the README. */
static const char default_model[] =
#include "online_model.inc"
    ;

void rw_online_defaults(rw_online_model *m) {
    rw_err err;
    if (rw_gbt_parse(&m->g, names, RW_O_COUNT, default_model, &err) != RW_OK) {
        /* The shipped text is checked by a unit test; never reached. */
        memset(m, 0, sizeof *m);
        m->g.bias = -5;
    }
}

double rw_online_logit(const rw_online_model *m, const double *f) {
    return rw_gbt_logit(&m->g, f);
}

double rw_online_score(const rw_online_model *m, const double *f) {
    return rw_gbt_score(&m->g, f);
}

size_t rw_online_top(const rw_online_model *m, const double *f, int *idx, size_t max) {
    double c[RW_O_COUNT];
    rw_gbt_contributions(&m->g, f, RW_O_COUNT, c);
    size_t n = 0;
    for (int i = 0; i < RW_O_COUNT; i++) {
        if (c[i] <= 0.1) continue;
        size_t at = n < max ? n : max;
        while (at > 0 && c[idx[at - 1]] < c[i]) {
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
    return rw_gbt_format(&m->g, names, out, size);
}

rw_status rw_online_parse(rw_online_model *m, const char *text, rw_err *err) {
    return rw_gbt_parse(&m->g, names, RW_O_COUNT, text, err);
}

rw_status rw_online_fit(rw_online_model *m, const double *x, const double *label, size_t n, rw_err *err) {
    return rw_gbt_fit(&m->g, x, label, n, RW_O_COUNT, 250, 0.15, err);
}

rw_status rw_online_fit_weighted(rw_online_model *m, const double *x, const double *label, const double *w, size_t n,
                                 rw_err *err) {
    return rw_gbt_fit_weighted(&m->g, x, label, w, n, RW_O_COUNT, 250, 0.15, err);
}

rw_status rw_online_fit_more(rw_online_model *m, const double *x, const double *label, const double *w, size_t n,
                             rw_err *err) {
    return rw_gbt_fit_more(&m->g, x, label, w, n, RW_O_COUNT, RW_ONLINE_MORE_TREES, 0.15, err);
}
