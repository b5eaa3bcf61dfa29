/* http: the signup models (admin). GET /v1/models lists them with the model
 * in force, the shadow agreement and the drift; POST
 * /v1/models/{version}/promote and POST /v1/models/rollback change the
 * model in force, recorded as the CLI's would be. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

static json_t *time_or_null(int64_t ts) {
    char t[32];
    if (ts <= 0) return json_null();
    rw_time_format(t, sizeof t, ts);
    return json_string(t);
}

/* A stored JSON text as a value (null when empty or not JSON). */
static json_t *embedded(const char *text) {
    json_t *v = text[0] ? json_loads(text, 0, NULL) : NULL;
    return v ? v : json_null();
}

static rw_status on_model(void *ctx, const rw_model_info *m) {
    json_t *list = ctx;
    json_array_append_new(
        list, json_pack("{sisssbsosososIsIsosososi}", "version", m->version, "state", m->state, "in_force", m->in_force,
                        "created", time_or_null(m->created_at), "train_from", time_or_null(m->train_from), "train_to",
                        time_or_null(m->train_to), "positives", (json_int_t)m->positives, "negatives",
                        (json_int_t)m->negatives, "validation", embedded(m->validation), "shadow_from",
                        time_or_null(m->shadow_from), "decision", embedded(m->decision), "replaced", m->replaced));
    return RW_OK;
}

/* The drift figures: per feature and for the score (null until measured). */
static json_t *drift_doc(const rw_learn_status *ls) {
    if (!ls->have_drift) return json_null();
    json_t *f = json_object();
    for (int i = 0; i < ls->features; i++) json_object_set_new(f, rw_engine_feature_name(i), json_real(ls->psi[i]));
    return json_pack("{sfsosfsi}", "level", ls->drift_level, "features", f, "score", ls->psi_score, "drifted",
                     ls->drifted);
}

void rw_h_models(rw_http_ctx *c) {
    rw_learn_status ls;
    rw_engine_learn_status(c->srv->e, &ls);
    json_t *list = json_array();
    rw_err err = {{0}};
    rw_status st = rw_engine_models(c->srv->e, 0, on_model, list, &err);
    if (st != RW_OK) {
        json_decref(list);
        rw_http_problem(c->out, rw_problem_of_status(st), NULL, "%s", err.msg);
        return;
    }
    double agree = ls.shadow_scored ? (double)ls.shadow_agree / (double)ls.shadow_scored : 1.0;
    rw_http_json(c->out, 200,
                 json_pack("{sisssisfsIsIsIsfsoso}", "in_force", ls.in_force, "version_0",
                           ls.base_model ? "base" : "shipped", "shadow", ls.shadow, "shadow_agreement", agree,
                           "shadow_scored", (json_int_t)ls.shadow_scored, "promotions", (json_int_t)ls.promotions,
                           "rejections", (json_int_t)ls.rejections, "benign_budget", ls.benign_budget, "drift",
                           drift_doc(&ls), "models", list));
}

static void changed(rw_http_ctx *c, rw_status st, const rw_err *err) {
    if (st != RW_OK) {
        rw_http_problem(c->out, rw_problem_of_status(st), NULL, "%s", err->msg);
        return;
    }
    rw_learn_status ls;
    rw_engine_learn_status(c->srv->e, &ls);
    rw_http_json(c->out, 200, json_pack("{si}", "in_force", ls.in_force));
}

void rw_h_model_promote(rw_http_ctx *c) {
    size_t len;
    char *text = rw_http_param(c, 0, "version", &len), *end = NULL;
    if (!text) return;
    errno = 0;
    long v = strtol(text, &end, 10);
    int ok = len && *end == 0 && !errno && text[0] >= '0' && text[0] <= '9' && v < 1L << 30;
    free(text);
    if (!ok) {
        rw_http_problem(c->out, RW_PROB_NOT_FOUND, json_pack("{ss}", "field", "version"),
                        "version: expected a model version (0 for the shipped model)");
        return;
    }
    rw_err err = {{0}};
    changed(c, rw_engine_model_promote(c->srv->e, (int)v, &err), &err);
}

void rw_h_model_rollback(rw_http_ctx *c) {
    rw_err err = {{0}};
    int v = 0;
    changed(c, rw_engine_model_rollback(c->srv->e, &v, &err), &err);
}
