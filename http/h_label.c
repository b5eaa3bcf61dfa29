/* http: POST /v1/clusters/{id}/label and /v1/accounts/{id}/label, an
 * analyst's verdict, applied to online scoring at once by the engine. */
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

#define NOTE_MAX 2000 /* bytes of a label's note */

static const struct {
    const char *name;
    rw_label label;
} labels[] = {{"fraud", RW_LABEL_FRAUD}, {"benign", RW_LABEL_BENIGN}};

static void label(rw_http_ctx *c, int on_cluster) {
    size_t len = 0;
    uint32_t batch = 0, live = 0;
    char num[16], *target = NULL;
    json_t *body = NULL;
    if (on_cluster && rw_http_cluster_id(c, 0, &batch, &live) < 0) return;
    if (live) { /* its members are labelled one by one; the next run gives it an id */
        rw_http_problem(c->out, RW_PROB_CONFLICT, json_pack("{ss}", "parameter", "id"),
                        "id: a community formed online cannot be labelled until a rescoring gives it a cluster id; "
                        "label its accounts");
        return;
    }
    if (on_cluster) {
        len = (size_t)snprintf(num, sizeof num, "%u", batch);
        target = strdup(num);
        if (!target) {
            rw_http_problem(c->out, RW_PROB_INTERNAL, NULL, "out of memory");
            return;
        }
    } else {
        target = rw_http_param(c, 0, "id", &len);
    }
    body = target ? rw_http_body_object(c) : NULL;
    if (!body) goto done;
    const char *key;
    json_t *value;
    json_object_foreach(body, key, value) {
        if (strcmp(key, "label") && strcmp(key, "note")) {
            rw_http_problem(c->out, RW_PROB_INVALID_BODY, json_pack("{ss}", "field", key),
                            "%.64s: unknown field (expected label and note)", key);
            goto done;
        }
    }
    const char *name = json_string_value(json_object_get(body, "label"));
    size_t i = 0;
    while (name && i < sizeof labels / sizeof labels[0] && strcmp(name, labels[i].name)) i++;
    if (!name || i == sizeof labels / sizeof labels[0]) {
        rw_http_problem(c->out, RW_PROB_INVALID_BODY, json_pack("{ss}", "field", "label"),
                        "label: expected \"fraud\" or \"benign\"");
        goto done;
    }
    json_t *nv = json_object_get(body, "note");
    if (nv && !json_is_null(nv) &&
        (!json_is_string(nv) || json_string_length(nv) > NOTE_MAX ||
         strlen(json_string_value(nv)) != json_string_length(nv))) {
        rw_http_problem(c->out, RW_PROB_INVALID_BODY, json_pack("{ss}", "field", "note"),
                        "note: expected a string of at most %d bytes without NUL", NOTE_MAX);
        goto done;
    }
    const char *note = nv && json_is_string(nv) ? json_string_value(nv) : "";
    int64_t id = 0;
    rw_err err = {{0}};
    rw_status st = rw_engine_label_by(c->srv->e, on_cluster, target, len, labels[i].label, note, c->who, &id, &err);
    if (st == RW_ERR_NOTFOUND) {
        rw_http_problem(c->out, RW_PROB_NOT_FOUND, NULL,
                        on_cluster ? "id: no such cluster in the newest run" : "id: no such account");
        goto done;
    }
    if (st != RW_OK) {
        rw_http_log(c->srv, RW_LOG_ERROR, "labelling failed: %s", rw_status_str(st));
        rw_http_problem(c->out, rw_problem_of_status(st), NULL, "%s", err.msg);
        goto done;
    }
    json_t *doc = json_pack("{sIsssssoso}", "id", (json_int_t)id, "label", labels[i].name, "target_kind",
                            on_cluster ? "cluster" : "account", "target",
                            on_cluster ? rw_http_cluster_ref(batch) : json_stringn(target, len), "author",
                            c->who[0] ? json_string(c->who) : json_null());
    rw_http_json(c->out, 201, doc);
done:
    json_decref(body);
    free(target);
}

void rw_h_label_cluster(rw_http_ctx *c) {
    label(c, 1);
}

void rw_h_label_account(rw_http_ctx *c) {
    label(c, 0);
}
