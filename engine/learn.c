/* The signup model's learning state: settings, the models in force and in
 * shadow, the signup hook that scores in shadow and logs features, and the
 * operators' list, promote and rollback. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "learn.h"

void rw_learn_fill(rw_learn_params *p) {
    if (p->feature_log_days <= 0) p->feature_log_days = RW_LEARN_DAYS;
    if (p->shadow_hours <= 0) p->shadow_hours = 24;
    if (!p->min_positives) p->min_positives = RW_LEARN_MIN_POS;
    if (!p->min_negatives) p->min_negatives = RW_LEARN_MIN_NEG;
    if (p->min_history_days <= 0) p->min_history_days = RW_LEARN_MIN_HISTORY;
    if (p->review_jump <= 0) p->review_jump = RW_LEARN_REVIEW_JUMP;
    if (p->drift_level <= 0) p->drift_level = RW_LEARN_DRIFT_LEVEL;
    if (p->benign_budget <= 0) p->benign_budget = RW_LEARN_BENIGN_BUDGET;
}

void rw_engine_set_learn(rw_engine *e, const rw_learn_params *p) {
    if (!e->learn) return;
    pthread_rwlock_wrlock(&e->lock);
    e->learn->p = *p;
    rw_learn_fill(&e->learn->p);
    pthread_rwlock_unlock(&e->lock);
}

const char *rw_engine_feature_name(int f) {
    return rw_online_feature_name(f);
}

void rw_learn_base(const rw_engine *e, rw_online_model *m) {
    if (e->learn && e->learn->have_base)
        *m = e->learn->base;
    else
        rw_online_defaults(m);
}

rw_status rw_engine_set_base_model(rw_engine *e, const char *text, rw_err *err) {
    if (!e->learn) return rw_fail(err, RW_ERR_INVALID, "no signup path here (read-only or batch-only)");
    rw_online_model *m = malloc(sizeof *m);
    if (!m) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    rw_status st = rw_online_parse(m, text, err);
    if (st == RW_OK && m->g.ntrees + RW_ONLINE_MORE_TREES > RW_GBT_MAXTREES)
        st = rw_fail(err, RW_ERR_INVALID, "%d trees: at most %d, so that candidates can continue it", m->g.ntrees,
                     RW_GBT_MAXTREES - RW_ONLINE_MORE_TREES);
    if (st == RW_OK) {
        pthread_rwlock_wrlock(&e->lock);
        e->learn->base = *m;
        e->learn->have_base = 1;
        if (e->learn->in_force == 0) e->live.model = *m;
        pthread_rwlock_unlock(&e->lock);
    }
    free(m);
    return st;
}

rw_status rw_learn_install(rw_engine *e, int version, const char *text, rw_err *err) {
    rw_online_model m;
    if (version == 0)
        rw_learn_base(e, &m);
    else if (rw_online_parse(&m, text, err) != RW_OK) {
        rw_err_prefix(err, "signup model %d: ", version);
        return RW_ERR_CORRUPT;
    }
    e->live.model = m;
    e->learn->in_force = version;
    return RW_OK;
}

typedef struct {
    rw_engine *e;
    int in_force;
    rw_status st;
    rw_err *err;
} load_ctx;

/* Installs the model in force and the candidate in shadow. */
static rw_status on_model(void *ctx, const rw_online_model_row *m) {
    load_ctx *c = ctx;
    rw_learn *l = c->e->learn;
    if (m->version == c->in_force) return rw_learn_install(c->e, m->version, m->model, c->err);
    if (!strcmp(m->state, "shadow") && !l->shadow_version) {
        if (rw_online_parse(&l->shadow, m->model, c->err) != RW_OK) return RW_ERR_CORRUPT;
        l->shadow_version = m->version;
        l->shadow_from = m->shadow_from;
    }
    return RW_OK;
}

rw_status rw_learn_open(rw_engine *e, rw_err *err) {
    if (!e->learn && !(e->learn = calloc(1, sizeof *e->learn))) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    rw_learn *l = e->learn;
    rw_learn_fill(&l->p);
    int in_force = 0;
    rw_status st = rw_store_online_in_force(e->store, &in_force, err);
    load_ctx c = {e, in_force, RW_OK, err};
    if (st == RW_OK) st = rw_store_online_models(e->store, 0, on_model, &c, err);
    uint64_t last = 0;
    if (st == RW_OK) st = rw_store_featlog_last(e->store, &last, err);
    l->last_ts = (int64_t)last;
    return st;
}

void rw_learn_close(rw_engine *e) {
    free(e->learn);
    e->learn = NULL;
}

void rw_learn_signup(rw_engine *e, uint32_t a, int64_t ts, const rw_decision *d) {
    rw_learn *l = e->learn;
    if (!l) return;
    rw_store_ops *ops = &e->pending;
    if (ops->nfeat == ops->cap_feat) {
        size_t cap = ops->cap_feat ? ops->cap_feat * 2 : 256;
        rw_op_feat *n = realloc(ops->feat, cap * sizeof *n);
        if (!n) return; /* a row short in the log: the signup itself is not refused */
        ops->feat = n, ops->cap_feat = cap;
    }
    if (!ops->nfeat) e->feat_since = rw_now();
    e->feat_queued++;
    rw_op_feat *f = &ops->feat[ops->nfeat++];
    f->ts = ts;
    f->account = a;
    f->model = l->in_force;
    f->score = d->score;
    f->shadow_model = l->shadow_version;
    f->shadow = NAN;
    if (l->shadow_version) {
        f->shadow = rw_online_score(&l->shadow, d->features);
        l->shadow_scored++;
        l->shadow_agree += (f->shadow >= e->live.review) == (d->score >= e->live.review);
    }
    f->len = rw_featlog_encode(d->features, f->blob);
    if (ts > l->last_ts) l->last_ts = ts;
}

void rw_engine_learn_status(rw_engine *e, rw_learn_status *out) {
    memset(out, 0, sizeof *out);
    out->features = RW_O_COUNT;
    if (!e->learn) return;
    pthread_rwlock_rdlock(&e->lock);
    const rw_learn *l = e->learn;
    out->in_force = l->in_force;
    out->shadow = l->shadow_version;
    out->shadow_scored = l->shadow_scored;
    out->shadow_agree = l->shadow_agree;
    out->promotions = l->promotions;
    out->rejections = l->rejections;
    out->have_drift = l->have_drift;
    out->drift_level = l->p.drift_level;
    out->base_model = l->have_base;
    out->benign_budget = l->p.benign_budget;
    for (int i = 0; i < RW_O_COUNT; i++) {
        out->psi[i] = l->psi[i];
        out->drifted += l->have_drift && l->psi[i] > l->p.drift_level;
    }
    out->psi_score = l->psi_score;
    out->drifted += l->have_drift && l->psi_score > l->p.drift_level;
    pthread_rwlock_unlock(&e->lock);
}
