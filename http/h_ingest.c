/* http: POST /v1/signups (one event, answered with the decision once it is
 * durable) and POST /v1/events (a batch, JSON lines or a JSON array). Both
 * go through rw_event_parse, the one event parser. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"

#define ERRORS_LISTED 100 /* per-line errors listed in a batch answer */

/* Does the Content-Type start with one of the space-separated types? */
static int type_is(const char *ct, const char *types) {
    for (const char *p = types; *p;) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (!strncasecmp(ct, p, n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ')) return 1;
        p += n + (end != NULL);
    }
    return 0;
}

/* Sets "field" from a parser message "field: what". */
static json_t *field_of(const char *msg) {
    const char *colon = strstr(msg, ": ");
    json_t *extra = json_object();
    if (colon && colon - msg < 64) json_object_set_new(extra, "field", json_stringn(msg, (size_t)(colon - msg)));
    return extra;
}

static void answer_record_failure(rw_http_ctx *c, rw_status st, const rw_err *err) {
    rw_problem p = st == RW_ERR_INVALID ? RW_PROB_INVALID_EVENT : rw_problem_of_status(st);
    rw_http_log(c->srv, RW_LOG_ERROR, "recording failed: %s", rw_status_str(st));
    rw_http_problem(c->out, p, NULL, "%s", err->msg[0] ? err->msg : rw_status_str(st));
}

void rw_h_signup(rw_http_ctx *c) {
    const rw_http_request *req = c->req;
    if (req->content_type && !type_is(req->content_type, "application/json")) {
        rw_http_problem(c->out, RW_PROB_MEDIA_TYPE, NULL, "Content-Type: expected application/json");
        return;
    }
    rw_event_raw ev;
    rw_err err = {{0}};
    rw_decision d;
    if (rw_event_parse(&ev, req->body ? req->body : "", req->body_len, &err) != RW_OK) {
        if (!strncmp(err.msg, "json:", 5)) {
            /* jansson says where, by line and column, in a multi-line body */
            json_t *doc = rw_http_body_object(c);
            if (!doc) goto done;
            json_decref(doc);
        }
        rw_http_problem(c->out, RW_PROB_INVALID_EVENT, field_of(err.msg), "%s", err.msg);
        goto done;
    }
    rw_http_defer *defer = rw_http_defer_new(c);
    if (!defer) goto done;
    /* The answer is built now and sent once the commit is durable; a failed
     * commit turns it into a 503 (rw_http_defer_finish). */
    rw_status st = rw_engine_record_async(c->srv->e, &ev, 1, &d, rw_http_defer_settled, defer, &err);
    if (st != RW_OK) {
        rw_http_defer_free(defer);
        answer_record_failure(c, st, &err);
        goto done;
    }
    rw_http_metrics *m = &c->srv->metrics;
    __atomic_fetch_add(&m->decisions[(unsigned)d.verdict < 3 ? d.verdict : 0], 1, __ATOMIC_RELAXED);
    rw_hist_observe(&m->score, d.score);
    rw_jw w;
    rw_jw_init(&w);
    rw_jw_object(&w);
    rw_http_jw_decision(&w, &d);
    rw_jw_kbool(&w, "new_account", d.new_account);
    rw_jw_key(&w, "account"); /* valid UTF-8: the parser checked */
    rw_jw_str(&w, ev.account, ev.account_len);
    rw_jw_end(&w);
    rw_http_jw(c->out, 200, &w);
    c->out->defer = defer;
done:
    explicit_bzero(&ev, sizeof ev); /* raw identifiers do not outlive the request */
}

typedef struct {
    rw_event_raw *ev;
    size_t n, cap;
    size_t rejected;
    json_t *errors;
} batch;

/* Parses one event of the batch; where is "line" or "index". */
static void batch_add(batch *b, const char *text, size_t len, const char *where, size_t at) {
    rw_err err = {{0}};
    if (rw_event_parse(&b->ev[b->n], text, len, &err) == RW_OK) {
        b->n++;
        return;
    }
    b->rejected++;
    if (json_array_size(b->errors) < ERRORS_LISTED)
        json_array_append_new(b->errors, json_pack("{sIss}", where, (json_int_t)at, "detail", err.msg));
}

/* Counts the events of a JSON-lines body (non-blank lines). */
static size_t count_lines(const char *s, size_t len) {
    size_t n = 0;
    int blank = 1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n') {
            n += !blank;
            blank = 1;
        } else if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
            blank = 0;
        }
    }
    return n + !blank;
}

void rw_h_events(rw_http_ctx *c) {
    const rw_http_request *req = c->req;
    const char *body = req->body ? req->body : "";
    size_t len = req->body_len, skip = 0;
    while (skip < len && strchr(" \t\r\n", body[skip])) skip++;
    int array;
    if (!req->content_type)
        array = skip < len && body[skip] == '[';
    else if (type_is(req->content_type, "application/json"))
        array = 1;
    else if (type_is(req->content_type, "application/x-ndjson application/jsonl application/jsonlines text/plain"))
        array = 0;
    else {
        rw_http_problem(c->out, RW_PROB_MEDIA_TYPE, NULL,
                        "Content-Type: expected application/x-ndjson (JSON lines) or application/json (an array)");
        return;
    }
    batch b = {0};
    json_t *doc = NULL;
    size_t total = 0;
    if (array) {
        json_error_t je;
        doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
        if (!doc) {
            rw_http_problem(c->out, RW_PROB_BAD_JSON, json_pack("{sisi}", "line", je.line, "column", je.column),
                            "body: %s at line %d, column %d", je.text, je.line, je.column);
            goto done;
        }
        if (json_is_object(doc)) { /* one event: a batch of one */
            json_t *one = json_pack("[o]", doc);
            doc = one;
        }
        if (!json_is_array(doc)) {
            rw_http_problem(c->out, RW_PROB_INVALID_BODY, NULL, "body: expected a JSON array of events");
            goto done;
        }
        total = json_array_size(doc);
    } else {
        total = count_lines(body, len);
    }
    if (total == 0) {
        rw_http_problem(c->out, RW_PROB_INVALID_BODY, NULL, "body: no events");
        goto done;
    }
    if (total > c->srv->cfg.max_batch_events) {
        rw_http_problem(c->out, RW_PROB_TOO_LARGE, NULL, "body: %zu events, more than max_batch_events (%u)", total,
                        c->srv->cfg.max_batch_events);
        goto done;
    }
    b.cap = total;
    b.ev = malloc(total * sizeof *b.ev);
    b.errors = json_array();
    if (!b.ev || !b.errors) {
        rw_http_problem(c->out, RW_PROB_INTERNAL, NULL, "out of memory");
        goto done;
    }
    if (array) {
        for (size_t i = 0; i < total; i++) {
            /* Re-serialised so there is one event parser and one set of
             * messages; an item that is not an object fails there too. */
            char *item = json_dumps(json_array_get(doc, i), JSON_COMPACT | JSON_ENCODE_ANY);
            batch_add(&b, item ? item : "", item ? strlen(item) : 0, "index", i);
            if (item) {
                explicit_bzero(item, strlen(item));
                free(item);
            }
        }
    } else {
        size_t line = 0;
        for (size_t pos = 0; pos < len && b.n + b.rejected < total;) {
            const char *nl = memchr(body + pos, '\n', len - pos);
            size_t n = nl ? (size_t)(nl - (body + pos)) : len - pos;
            line++;
            size_t k = 0;
            while (k < n && strchr(" \t\r", body[pos + k])) k++;
            if (k < n) batch_add(&b, body + pos, n, "line", line);
            pos += n + 1;
        }
    }
    rw_http_metrics *m = &c->srv->metrics;
    __atomic_fetch_add(&m->events_rejected, b.rejected, __ATOMIC_RELAXED);
    json_t *answer =
        json_pack("{sIsIso}", "accepted", (json_int_t)b.n, "rejected", (json_int_t)b.rejected, "errors", b.errors);
    b.errors = NULL;
    if (b.n == 0) {
        rw_http_problem(c->out, RW_PROB_INVALID_BODY, answer, "body: none of the %zu events is valid", b.rejected);
        goto done;
    }
    rw_err err = {{0}};
    /* Like a signup, the answer waits for the group commit without holding
     * a server thread. */
    rw_http_defer *defer = rw_http_defer_new(c);
    if (!defer) {
        json_decref(answer);
        goto done;
    }
    rw_status st = rw_engine_record_async(c->srv->e, b.ev, b.n, NULL, rw_http_defer_settled, defer, &err);
    if (st != RW_OK) {
        rw_http_defer_free(defer);
        json_decref(answer);
        answer_record_failure(c, st, &err);
        goto done;
    }
    __atomic_fetch_add(&m->events_accepted, b.n, __ATOMIC_RELAXED);
    rw_http_json(c->out, b.rejected ? 207 : 200, answer);
    c->out->defer = defer;
done:
    if (b.ev) {
        explicit_bzero(b.ev, b.cap * sizeof *b.ev);
        free(b.ev);
    }
    json_decref(b.errors);
    json_decref(doc);
}
