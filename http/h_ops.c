/* http: what operators call. POST /v1/rescore, GET and DELETE
 * /v1/jobs/{id} (the background rescoring), /livez, /readyz, /metrics and /v1/openapi.json. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_int.h"

static const char *const state_names[] = {"queued", "running", "done", "failed", "cancelled"};

void rw_h_rescore(rw_http_ctx *c) {
    rw_rescore_params rp = {0};
    json_t *body = NULL;
    if (c->req->body_len) { /* optional {"density": x, "hub_degree": n} */
        if (!(body = rw_http_body_object(c))) return;
        const char *key;
        json_t *v;
        json_object_foreach(body, key, v) {
            if (!strcmp(key, "density") && json_is_number(v) && json_number_value(v) > 0 && json_number_value(v) < 1) {
                rp.density = json_number_value(v);
            } else if (!strcmp(key, "hub_degree") && json_is_integer(v) && json_integer_value(v) >= 2 &&
                       json_integer_value(v) <= UINT32_MAX) {
                rp.hub_degree = (uint32_t)json_integer_value(v);
            } else {
                rw_http_problem(c->out, RW_PROB_INVALID_BODY, json_pack("{ss}", "field", key),
                                "%.64s: expected density (a number in (0, 1)) or hub_degree (a whole number >= 2)",
                                key);
                json_decref(body);
                return;
            }
        }
        json_decref(body);
    }
    uint64_t id = 0;
    rw_err err = {{0}};
    rw_status st = rw_jobs_start(c->srv, RW_JOB_API, &rp, &id, &err);
    if (st == RW_ERR_EXISTS) {
        rw_http_problem(c->out, RW_PROB_CONFLICT, NULL, "%s", err.msg);
        return;
    }
    if (st == RW_ERR_PERM) {
        rw_http_problem(c->out, RW_PROB_UNAVAILABLE, NULL, "%s", err.msg);
        return;
    }
    if (st != RW_OK) {
        rw_http_problem(c->out, rw_problem_of_status(st), NULL, "%s", err.msg);
        return;
    }
    rw_jobs_audit(c->srv, c->who, id, &rp);
    char ids[24];
    snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
    snprintf(c->out->location, sizeof c->out->location, "/v1/jobs/%s", ids);
    rw_http_json(c->out, 202, json_pack("{ssss}", "job", ids, "status", "running"));
}

static json_t *time_or_null(int64_t ts) {
    char t[32];
    if (ts <= 0) return json_null();
    rw_time_format(t, sizeof t, ts);
    return json_string(t);
}

/* The job id of the path; 0 (answered) when it is not a job id. */
static uint64_t job_id(rw_http_ctx *c) {
    size_t len;
    char *idtext = rw_http_param(c, 0, "id", &len), *end = NULL;
    if (!idtext) return 0;
    errno = 0;
    unsigned long long id = strtoull(idtext, &end, 10);
    int ok = len && *end == 0 && !errno && idtext[0] >= '0' && idtext[0] <= '9' && id;
    free(idtext);
    if (!ok)
        rw_http_problem(c->out, RW_PROB_NOT_FOUND, NULL, "id: no such job (jobs are kept in memory, the last %d)",
                        RW_JOBS_MAX);
    return ok ? id : 0;
}

static void job_doc(rw_http_ctx *c, const rw_job *jp, unsigned status);

void rw_h_job(rw_http_ctx *c) {
    uint64_t id = job_id(c);
    rw_job j;
    rw_err err = {{0}};
    if (!id) return;
    if (rw_jobs_get(c->srv, id, &j, &err) != RW_OK) {
        rw_http_problem(c->out, RW_PROB_NOT_FOUND, NULL, "id: no such job (jobs are kept in memory, the last %d)",
                        RW_JOBS_MAX);
        return;
    }
    job_doc(c, &j, 200);
}

/* How long DELETE waits for the job to stop before answering "cancelling":
 * in process the stage under way ends first; a command gets SIGTERM, then
 * SIGKILL 5 s later. */
#define CANCEL_WAIT_SECONDS 8.0

void rw_h_job_cancel(rw_http_ctx *c) {
    uint64_t id = job_id(c);
    rw_job j;
    rw_job_state state;
    rw_err err = {{0}};
    if (!id) return;
    rw_status st = rw_jobs_cancel(c->srv, id, &state, &err);
    if (st == RW_ERR_NOTFOUND) {
        rw_http_problem(c->out, RW_PROB_NOT_FOUND, NULL, "id: no such job (jobs are kept in memory, the last %d)",
                        RW_JOBS_MAX);
        return;
    }
    if (st != RW_OK) {
        rw_http_problem(c->out, RW_PROB_CONFLICT, NULL, "job %llu has already %s; nothing to cancel",
                        (unsigned long long)id, state_names[state]);
        return;
    }
    rw_jobs_audit_cancel(c->srv, c->who, id);
    double until = rw_now() + CANCEL_WAIT_SECONDS;
    do {
        if (rw_jobs_get(c->srv, id, &j, &err) != RW_OK) break;
        if (j.state != RW_JOB_QUEUED && j.state != RW_JOB_RUNNING) {
            job_doc(c, &j, 200);
            return;
        }
        usleep(20 * 1000);
    } while (rw_now() < until);
    char ids[24];
    snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
    snprintf(c->out->location, sizeof c->out->location, "/v1/jobs/%s", ids);
    rw_http_json(c->out, 202, json_pack("{ssss}", "job", ids, "status", "cancelling"));
}

static void job_doc(rw_http_ctx *c, const rw_job *jp, unsigned status) {
    rw_job j = *jp;
    char ids[24];
    snprintf(ids, sizeof ids, "%llu", (unsigned long long)j.id);
    json_t *doc =
        json_pack("{sssssssssososo}", "job", ids, "kind", "rescore", "status", state_names[j.state], "trigger",
                  j.trigger == RW_JOB_SCHEDULE ? "schedule" : "api", "created", time_or_null(j.created), "started",
                  time_or_null(j.started), "finished", time_or_null(j.finished));
    if (j.state == RW_JOB_DONE) {
        const rw_rescore_summary *s = &j.summary;
        json_object_set_new(doc, "run", json_integer(s->run));
        json_object_set_new(doc, "summary",
                            json_pack("{sIsIsIsIsIsIsIsIsIsf}", "accounts", (json_int_t)s->accounts, "clusters",
                                      (json_int_t)s->clusters, "flagged_clusters", (json_int_t)s->flagged_clusters,
                                      "flagged_accounts", (json_int_t)s->flagged_accounts, "new_flagged",
                                      (json_int_t)s->new_flagged, "grown", (json_int_t)s->grown, "dissolved",
                                      (json_int_t)s->dissolved, "kept_ids", (json_int_t)s->kept_ids, "prev_clusters",
                                      (json_int_t)s->prev_clusters, "seconds", s->seconds));
    }
    if (j.retention_days)
        json_object_set_new(doc, "retention",
                            json_pack("{sIsIsIsIsf}", "days", (json_int_t)j.retention_days, "accounts",
                                      (json_int_t)j.retained.accounts, "events", (json_int_t)j.retained.events,
                                      "attributes", (json_int_t)j.retained.attributes, "seconds", j.retained.seconds));
    if (j.state == RW_JOB_FAILED || j.state == RW_JOB_CANCELLED)
        json_object_set_new(doc, "error", json_string(j.error));
    rw_http_json(c->out, status, doc);
}

void rw_h_livez(rw_http_ctx *c) {
    rw_http_json(c->out, 200, json_pack("{ss}", "status", "ok"));
}

void rw_h_readyz(rw_http_ctx *c) {
    rw_engine_counters k;
    rw_engine_get_counters(c->srv->e, &k);
    if (__atomic_load_n(&c->srv->stopping, __ATOMIC_ACQUIRE)) {
        rw_http_problem(c->out, RW_PROB_UNAVAILABLE, NULL, "server: shutting down");
        return;
    }
    rw_err err = {{0}};
    if (!k.store_ok && rw_engine_probe_store(c->srv->e, &err) != RW_OK) {
        rw_http_problem(c->out, RW_PROB_UNAVAILABLE, NULL,
                        "store: the last commit failed and a test write still fails (%s)", err.msg);
        return;
    }
    json_t *doc = json_pack("{sssI}", "status", "ready", "run", (json_int_t)k.run);
    /* Drift does not stop signups: the server stays ready and says so. */
    rw_learn_status ls;
    rw_engine_learn_status(c->srv->e, &ls);
    if (ls.drifted) {
        json_t *moved = json_array();
        for (int i = 0; i < ls.features; i++)
            if (ls.psi[i] > ls.drift_level) json_array_append_new(moved, json_string(rw_engine_feature_name(i)));
        if (ls.psi_score > ls.drift_level) json_array_append_new(moved, json_string("score"));
        json_object_set_new(doc, "drift", json_pack("{sfso}", "level", ls.drift_level, "moved", moved));
    }
    rw_http_json(c->out, 200, doc);
}

void rw_h_metrics(rw_http_ctx *c) {
    size_t len = 0;
    char *text = rw_metrics_render(c->srv, &len);
    if (!text) {
        rw_http_problem(c->out, RW_PROB_INTERNAL, NULL, "out of memory");
        return;
    }
    c->out->status = 200;
    c->out->content_type = "text/plain; version=0.0.4; charset=utf-8";
    c->out->body = text;
    c->out->body_len = len;
}

void rw_h_openapi(rw_http_ctx *c) {
    rw_http_text(c->out, 200, "application/json", (const char *)rw_http_openapi_json, rw_http_openapi_json_len);
}
