/* http: the analysts' workbench beyond the plain lookups. GET /v1/runs and
 * /v1/runs/{id} (with the diff against the previous run), GET /v1/audit
 * (who asked for labels, erasures and rescorings), communities formed
 * online (live-N) at /v1/clusters/{id}, and the one cluster id form every
 * answer uses: "c<N>" for a run's cluster, "live-<N>" for a live one. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

#define RUNS_MAX  200 /* runs listed */
#define AUDIT_MAX 500 /* audit entries listed */

json_t *rw_http_cluster_ref(uint32_t id) {
    char t[24];
    snprintf(t, sizeof t, "c%u", id);
    return id ? json_string(t) : json_null();
}

/* Parses a whole number from 1 to max that fills s; 0 when it is not one. */
static uint64_t whole(const char *s, uint64_t max) {
    if (!*s || *s < '0' || *s > '9' || (*s == '0')) return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    return *end || errno || v > max ? 0 : (uint64_t)v;
}

int rw_http_cluster_id(rw_http_ctx *c, size_t i, uint32_t *batch, uint32_t *live) {
    size_t len = 0;
    char *text = rw_http_param(c, i, "id", &len);
    *batch = 0, *live = 0;
    if (!text) return -1;
    if (text[0] == 'c')
        *batch = (uint32_t)whole(text + 1, UINT32_MAX);
    else if (!strncmp(text, "live-", 5))
        *live = (uint32_t)whole(text + 5, UINT32_MAX);
    else /* the bare number, as answers gave it before the "c" form */
        *batch = (uint32_t)whole(text, UINT32_MAX);
    free(text);
    if (*batch || *live) return 0;
    rw_http_problem(c->out, RW_PROB_INVALID_PATH, json_pack("{ss}", "parameter", "id"),
                    "id: expected a cluster id as answers give it (\"c12\", or \"live-3\" for a community formed "
                    "since the newest run)");
    return -1;
}

int rw_http_run_param(rw_http_ctx *c, int64_t *run) {
    const char *v = rw_http_query(c, "run");
    *run = 0;
    if (!v) return 0;
    *run = (int64_t)whole(v, (uint64_t)9e15);
    if (!*run) {
        rw_http_problem(c->out, RW_PROB_INVALID_PARAMETER, json_pack("{ss}", "parameter", "run"),
                        "run: expected a run id (a whole number from 1)");
        return -1;
    }
    rw_err err = {{0}};
    rw_status st = rw_engine_run_exists(c->srv->e, *run, &err);
    if (st != RW_OK) {
        rw_http_problem(c->out, rw_problem_of_status(st), json_pack("{ss}", "parameter", "run"),
                        "%s; GET /v1/runs lists them", err.msg);
        return -1;
    }
    return 0;
}

static json_t *time_json(int64_t ts) {
    if (ts <= 0) return json_null();
    char t[32];
    rw_time_format(t, sizeof t, ts);
    return json_string(t);
}

static json_t *text_json(const char *text) {
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    return v ? v : json_object();
}

static json_t *run_json(const rw_run_row *r) {
    return json_pack("{sIsososIsisoso}", "id", (json_int_t)r->id, "started_at", time_json(r->started_at), "finished_at",
                     time_json(r->finished_at), "events", (json_int_t)r->events, "model_version", r->model_version,
                     "params", text_json(r->params), "summary", text_json(r->summary));
}

static rw_status run_row(void *ctx, const rw_run_row *r) {
    return json_array_append_new(ctx, run_json(r)) == 0 ? RW_OK : RW_ERR_NOMEM;
}

void rw_h_runs(rw_http_ctx *c) {
    json_t *rows = json_array();
    rw_err err = {{0}};
    rw_status st = rw_engine_runs(c->srv->e, RUNS_MAX, run_row, rows, &err);
    if (st != RW_OK) {
        json_decref(rows);
        rw_http_problem(c->out, rw_problem_of_status(st), NULL, "%s", err.msg);
        return;
    }
    rw_http_json(c->out, 200, json_pack("{so}", "runs", rows));
}

/* The flagged clusters of a run: id -> accounts, as a JSON object. */
static rw_status flagged_row(void *ctx, const rw_cluster_row *r) {
    char k[16];
    snprintf(k, sizeof k, "c%u", r->id);
    return json_object_set_new(ctx, k, json_integer(r->accounts)) == 0 ? RW_OK : RW_ERR_NOMEM;
}

json_t *rw_http_flagged_of(rw_http_server *s, int64_t run, rw_err *err) {
    json_t *m = json_object();
    rw_cluster_filter f = {.min_score = -1, .flagged = 1, .labelled = -1};
    if (run > 0 && rw_engine_clusters_filtered(s->e, run, &f, 0, 0, 0, flagged_row, m, err) != RW_OK) {
        json_decref(m);
        return NULL;
    }
    return m;
}

const char *rw_http_change(json_t *prev, const char *id, uint32_t accounts) {
    if (!prev) return NULL;
    json_t *was = json_object_get(prev, id);
    if (!was) return "new";
    return (json_int_t)accounts > json_integer_value(was) ? "grown" : NULL;
}

/* The diff of run (flagged clusters, as the rescoring's summary counts
 * them) against the run before it. */
static json_t *run_diff(rw_http_server *s, int64_t run, int64_t prev, rw_err *err) {
    json_t *now = rw_http_flagged_of(s, run, err), *was = prev ? rw_http_flagged_of(s, prev, err) : json_object();
    json_t *diff = NULL;
    if (!now || !was) goto done;
    diff = json_pack("{sos[]s[]s[]}", "previous", prev ? json_integer(prev) : json_null(), "new", "grown", "dissolved");
    const char *k;
    json_t *v;
    json_object_foreach(now, k, v) {
        const char *ch = rw_http_change(was, k, (uint32_t)json_integer_value(v));
        if (ch) json_array_append_new(json_object_get(diff, ch), json_string(k));
    }
    json_object_foreach(was, k, v) {
        if (!json_object_get(now, k)) json_array_append_new(json_object_get(diff, "dissolved"), json_string(k));
    }
done:
    json_decref(now);
    json_decref(was);
    return diff;
}

typedef struct {
    int64_t want, prev;
    json_t *doc;
} find_run;

static rw_status find_row(void *ctx, const rw_run_row *r) {
    find_run *f = ctx;
    if (r->id == f->want)
        f->doc = run_json(r);
    else if (r->id < f->want && !f->prev)
        f->prev = r->id;
    return RW_OK;
}

int64_t rw_http_prev_run(rw_http_server *s, int64_t run) {
    find_run f = {.want = run};
    rw_err err = {{0}};
    if (rw_engine_runs(s->e, 0, find_row, &f, &err) != RW_OK) return -1;
    json_decref(f.doc);
    return f.prev;
}

/* The weight of name in a model's text ("name value" lines), or NAN. */
static double model_weight(const char *text, const char *name) {
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (!strncmp(p, name, n) && p[n] == ' ') return strtod(p + n + 1, NULL);
    }
    return NAN;
}

json_t *rw_http_score_parts(rw_http_server *s, int64_t run, json_t *features) {
    find_run f = {.want = run};
    char text[4096];
    int version = -1;
    rw_err err = {{0}};
    if (rw_engine_runs(s->e, 0, find_row, &f, &err) != RW_OK || !f.doc ||
        rw_engine_model_text(s->e, &version, text, sizeof text, &err) != RW_OK ||
        json_integer_value(json_object_get(f.doc, "model_version")) != version || !json_is_object(features)) {
        json_decref(f.doc);
        return json_null();
    }
    json_decref(f.doc);
    json_t *weights = json_object(), *parts = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(features, k, v) {
        double w = model_weight(text, k);
        if (isnan(w) || !json_is_number(v)) continue; /* a count shown beside the features, not an input */
        json_object_set_new(weights, k, json_real(w));
        json_object_set_new(parts, k, json_real(w * json_number_value(v)));
    }
    return json_pack("{sisfsfsoso}", "model_version", version, "bias", model_weight(text, "bias"), "threshold",
                     model_weight(text, "threshold"), "weights", weights, "parts", parts);
}

void rw_h_run(rw_http_ctx *c) {
    size_t len;
    char *text = rw_http_param(c, 0, "id", &len);
    if (!text) return;
    find_run f = {.want = (int64_t)whole(text, (uint64_t)9e15)};
    free(text);
    rw_err err = {{0}};
    rw_status st = f.want ? rw_engine_runs(c->srv->e, 0, find_row, &f, &err) : RW_OK;
    if (st == RW_OK && !f.doc) {
        rw_http_problem(c->out, RW_PROB_NOT_FOUND, NULL, "id: no such run; GET /v1/runs lists them");
        return;
    }
    json_t *diff = st == RW_OK ? run_diff(c->srv, f.want, f.prev, &err) : NULL;
    if (!diff) {
        json_decref(f.doc);
        rw_http_problem(c->out, RW_PROB_UNAVAILABLE, NULL, "%s", err.msg[0] ? err.msg : "reading runs failed");
        return;
    }
    json_object_set_new(f.doc, "diff", diff);
    rw_http_json(c->out, 200, f.doc);
}

static rw_status audit_row(void *ctx, const rw_audit_row *r) {
    json_t *o = json_pack("{sIsosssososo}", "id", (json_int_t)r->id, "at", time_json(r->at), "action", r->action,
                          "actor", r->actor ? json_string(r->actor) : json_null(), "target",
                          r->target ? json_string(r->target) : json_null(), "detail", text_json(r->detail));
    return json_array_append_new(ctx, o) == 0 ? RW_OK : RW_ERR_NOMEM;
}

void rw_h_audit(rw_http_ctx *c) {
    json_t *rows = json_array();
    rw_err err = {{0}};
    rw_status st = rw_engine_audit(c->srv->e, AUDIT_MAX, audit_row, rows, &err);
    if (st != RW_OK) {
        json_decref(rows);
        rw_http_problem(c->out, rw_problem_of_status(st), NULL, "%s", err.msg);
        return;
    }
    rw_http_json(c->out, 200, json_pack("{so}", "entries", rows));
}

void rw_h_live_cluster(rw_http_ctx *c, uint32_t live_no) {
    rw_live_cluster_view *v = malloc(sizeof *v);
    rw_err err = {{0}};
    rw_status st = v ? rw_engine_live_cluster(c->srv->e, live_no, v, &err) : RW_ERR_NOMEM;
    if (st != RW_OK) {
        rw_http_problem(c->out, rw_problem_of_status(st), NULL, "%s", err.msg);
        free(v);
        return;
    }
    static const char *const labels[] = {NULL, "fraud", "benign"};
    char id[24];
    snprintf(id, sizeof id, "live-%u", live_no);
    json_t *accounts = json_array(), *attrs = json_array();
    for (uint32_t i = 0; i < v->naccounts; i++) json_array_append_new(accounts, json_string(v->accounts[i]));
    for (uint32_t i = 0; i < v->nattrs; i++) json_array_append_new(attrs, json_string(v->attrs[i]));
    const char *label = v->label >= 0 && v->label < 3 ? labels[v->label] : NULL;
    json_t *doc = json_pack("{sssbsIsfsososo}", "id", id, "live", 1, "accounts", (json_int_t)v->size, "signups_day",
                            v->signups_day, "label", label ? json_string(label) : json_null(), "member_list", accounts,
                            "attribute_list", attrs);
    free(v);
    rw_http_json(c->out, 200, doc);
}
