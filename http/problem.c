/* http: answers. Errors are RFC 9457 problem details (application/problem+json)
 * from one table of classes; successes are compact JSON. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

typedef struct {
    const char *slug; /* type is "urn:ringwatch:problem:<slug>" */
    const char *title;
    unsigned status;
} problem_class;

static const problem_class classes[RW_PROB_COUNT] = {
    [RW_PROB_BAD_JSON] = {"bad-json", "The body is not valid JSON", 400},
    [RW_PROB_BAD_REQUEST] = {"bad-request", "The request's framing is ambiguous or incomplete", 400},
    [RW_PROB_INVALID_EVENT] = {"invalid-event", "The event is not valid", 400},
    [RW_PROB_INVALID_BODY] = {"invalid-body", "The body is not valid", 400},
    [RW_PROB_INVALID_PARAMETER] = {"invalid-parameter", "A query parameter is not valid", 400},
    [RW_PROB_INVALID_PATH] = {"invalid-path", "A path segment is not valid", 400},
    [RW_PROB_UNAUTHORIZED] = {"unauthorized", "A valid bearer token is required", 401},
    [RW_PROB_FORBIDDEN] = {"forbidden", "The token's role may not call this endpoint", 403},
    [RW_PROB_NOT_FOUND] = {"not-found", "No such resource", 404},
    [RW_PROB_NO_ROUTE] = {"no-route", "No such endpoint", 404},
    [RW_PROB_METHOD] = {"method-not-allowed", "Method not allowed on this endpoint", 405},
    [RW_PROB_CONFLICT] = {"conflict", "The request conflicts with work in progress", 409},
    [RW_PROB_TOO_LARGE] = {"too-large", "The request body is too large", 413},
    [RW_PROB_MEDIA_TYPE] = {"unsupported-media-type", "Unsupported content type", 415},
    [RW_PROB_EXPORT_LIMIT] = {"export-too-large", "The export is larger than the server allows", 422},
    [RW_PROB_UNAVAILABLE] = {"unavailable", "The service cannot store or serve this now", 503},
    [RW_PROB_INTERNAL] = {"internal", "Internal error", 500},
};

unsigned rw_problem_status(rw_problem p) {
    return (unsigned)p < RW_PROB_COUNT ? classes[p].status : 500;
}

/* The last resort when even building an answer fails. */
static void out_of_memory(rw_http_response *out) {
    static const char body[] = "{\"type\":\"urn:ringwatch:problem:internal\",\"title\":\"Internal error\","
                               "\"status\":500,\"detail\":\"out of memory\"}";
    out->status = 500;
    out->content_type = "application/problem+json";
    out->body = malloc(sizeof body - 1);
    out->body_len = out->body ? sizeof body - 1 : 0;
    if (out->body) memcpy(out->body, body, sizeof body - 1);
}

static void set_json(rw_http_response *out, unsigned status, const char *type, json_t *doc) {
    free(out->body);
    out->body = NULL;
    out->body_len = 0;
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(doc);
    if (!text) {
        out_of_memory(out);
        return;
    }
    out->status = status;
    out->content_type = type;
    out->body = text;
    out->body_len = strlen(text);
}

void rw_http_problem(rw_http_response *out, rw_problem p, json_t *extra, const char *fmt, ...) {
    if ((unsigned)p >= RW_PROB_COUNT) p = RW_PROB_INTERNAL;
    char detail[1024], type[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(type, sizeof type, "urn:ringwatch:problem:%s", classes[p].slug);
    /* A detail quoting bad input may hold invalid UTF-8, which jansson
     * refuses; say so rather than lose the answer. */
    json_t *d = json_string(detail);
    if (!d) d = json_string("(the detail held invalid UTF-8)");
    json_t *doc =
        json_pack("{sssssiso}", "type", type, "title", classes[p].title, "status", (int)classes[p].status, "detail", d);
    if (doc && extra) json_object_update_missing(doc, extra); /* the standard members come first */
    json_decref(extra);
    set_json(out, classes[p].status, "application/problem+json", doc);
}

void rw_http_json(rw_http_response *out, unsigned status, json_t *doc) {
    set_json(out, status, "application/json", doc);
}

void rw_http_jw(rw_http_response *out, unsigned status, rw_jw *w) {
    free(out->body);
    out->body = NULL;
    out->body_len = 0;
    size_t len = 0;
    char *text = rw_jw_take(w, &len);
    if (!text) {
        out_of_memory(out);
        return;
    }
    out->status = status;
    out->content_type = "application/json";
    out->body = text;
    out->body_len = len;
}

void rw_http_jw_decision(rw_jw *w, const rw_decision *d) {
    rw_jw_kcstr(w, "decision", rw_verdict_name(d->verdict));
    rw_jw_knum(w, "score", d->score);
    rw_jw_kcstr(w, "cluster", d->cluster[0] ? d->cluster : NULL);
    rw_jw_key(w, "reasons");
    rw_jw_array(w);
    for (size_t i = 0; i < d->nreasons && i < RW_REASONS_MAX; i++) rw_jw_cstr(w, d->reasons[i]);
    rw_jw_end(w);
}

void rw_http_text(rw_http_response *out, unsigned status, const char *content_type, const char *text, size_t len) {
    free(out->body);
    out->body = malloc(len ? len : 1);
    if (!out->body) {
        out_of_memory(out);
        return;
    }
    memcpy(out->body, text, len);
    out->body_len = len;
    out->status = status;
    out->content_type = content_type;
}

rw_problem rw_problem_of_status(rw_status st) {
    switch (st) {
        case RW_ERR_NOTFOUND:
            return RW_PROB_NOT_FOUND;
        case RW_ERR_INVALID:
            return RW_PROB_INVALID_BODY;
        case RW_ERR_EXISTS:
            return RW_PROB_CONFLICT;
        case RW_ERR_FULL:
        case RW_ERR_IO:
        case RW_ERR_DB:
            return RW_PROB_UNAVAILABLE;
        default:
            return RW_PROB_INTERNAL;
    }
}

void rw_http_response_free(rw_http_response *r) {
    if (!r) return;
    if (r->stream.close) r->stream.close(r->stream.ctx);
    r->stream = (rw_http_stream){0};
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}
