/* http: what analysts read. GET /v1/accounts/{id} (and its events), /v1/attributes/{kind}/{value}
 * (answered by pseudonym, never the raw value), /v1/clusters (paged by an
 * opaque token pinned to one run) and /v1/clusters/{id}. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

#define PAGE_DEFAULT 50
#define PAGE_MAX     500
#define DETAIL_ROWS  200 /* members and attributes listed with a cluster */

static json_t *time_json(int64_t ts) {
    if (ts <= 0) return json_null();
    char t[32];
    rw_time_format(t, sizeof t, ts);
    return json_string(t);
}

static json_t *attr_json(const rw_attr_brief *a, int with_count) {
    json_t *o =
        json_pack("{sssssIsoso}", "pseudonym", a->pseudonym, "kind", rw_kind_name(a->kind), "degree",
                  (json_int_t)a->degree, "first_seen", time_json(a->first_seen), "last_seen", time_json(a->last_seen));
    if (o && with_count) json_object_set_new(o, "count", json_integer(a->count));
    return o;
}

/* Answers a failed engine call; detail names what was looked up. */
static void engine_failure(rw_http_ctx *c, rw_status st, const rw_err *err, const char *what) {
    if (st == RW_ERR_NOTFOUND) {
        rw_http_problem(c->out, RW_PROB_NOT_FOUND, NULL, "%s", what);
        return;
    }
    rw_http_log(c->srv, RW_LOG_ERROR, "%s %s: %s", c->route->method, c->route->pattern, rw_status_str(st));
    rw_http_problem(c->out, rw_problem_of_status(st), NULL, "%s", err->msg[0] ? err->msg : rw_status_str(st));
}

#define LABELS_LISTED 50

static rw_status label_jw(void *ctx, const rw_label_row *l) {
    rw_jw *w = ctx;
    rw_jw_object(w);
    rw_jw_kint(w, "id", l->id);
    rw_jw_kcstr(w, "label", l->fraud ? "fraud" : "benign");
    rw_jw_kcstr(w, "note", l->note);
    rw_jw_key(w, "run");
    if (l->run)
        rw_jw_int(w, l->run);
    else
        rw_jw_null(w);
    rw_jw_ktime(w, "created_at", l->created_at);
    rw_jw_kcstr(w, "author", l->author);
    rw_jw_end(w);
    return RW_OK;
}

/* Written by hand (rw_jw): the lookup is the analysts' hot path. */
void rw_h_account(rw_http_ctx *c) {
    size_t len;
    char *id = rw_http_param(c, 0, "id", &len);
    if (!id) return;
    rw_account_view *v = malloc(sizeof *v);
    rw_err err = {{0}};
    rw_status st = v ? rw_engine_account_view(c->srv->e, id, len, v, &err) : RW_ERR_NOMEM;
    if (st != RW_OK) {
        engine_failure(c, st, &err, "id: no such account");
        goto done;
    }
    rw_jw w;
    rw_jw_init(&w);
    rw_jw_object(&w);
    rw_jw_key(&w, "account");
    rw_jw_str(&w, id, len);
    rw_jw_ktime(&w, "first_seen", v->first_seen);
    rw_jw_ktime(&w, "last_seen", v->last_seen);
    rw_jw_kint(&w, "attribute_count", v->attributes);
    rw_jw_key(&w, "attributes");
    rw_jw_array(&w);
    for (uint32_t i = 0; i < v->attributes && i < RW_VIEW_ATTRS; i++) {
        const rw_attr_brief *a = &v->attr[i];
        rw_jw_object(&w);
        rw_jw_kcstr(&w, "pseudonym", a->pseudonym);
        rw_jw_kcstr(&w, "kind", rw_kind_name(a->kind));
        rw_jw_kint(&w, "degree", a->degree);
        rw_jw_ktime(&w, "first_seen", a->first_seen);
        rw_jw_ktime(&w, "last_seen", a->last_seen);
        rw_jw_kint(&w, "count", a->count);
        rw_jw_end(&w);
    }
    rw_jw_end(&w);
    rw_jw_key(&w, "live");
    rw_jw_object(&w);
    rw_http_jw_decision(&w, &v->now);
    rw_jw_end(&w);
    rw_jw_key(&w, "run");
    if (v->run) {
        rw_jw_object(&w);
        rw_jw_kint(&w, "id", v->run);
        rw_jw_knum(&w, "score", v->run_score);
        rw_jw_kbool(&w, "flagged", v->run_flagged);
        rw_jw_key(&w, "cluster");
        if (v->run_cluster) {
            char ref[16];
            int n = snprintf(ref, sizeof ref, "c%u", v->run_cluster);
            rw_jw_str(&w, ref, (size_t)n);
        } else {
            rw_jw_null(&w);
        }
        rw_jw_end(&w);
    } else {
        rw_jw_null(&w);
    }
    rw_jw_kcstr(&w, "label", v->label[0] ? v->label : NULL);
    /* Its label history: a store read, only for an account the live state
     * knows as labelled. A lookup otherwise never takes the store, which a
     * group commit holds through its fsync (and the read cost an unlabelled
     * lookup two thirds of its speed). */
    rw_jw_key(&w, "labels");
    rw_jw_array(&w);
    if (v->label[0]) st = rw_engine_account_labels(c->srv->e, id, len, LABELS_LISTED, label_jw, &w, &err);
    rw_jw_end(&w);
    rw_jw_end(&w);
    if (st != RW_OK) {
        free(rw_jw_take(&w, &len));
        engine_failure(c, st, &err, "id: no such account");
        goto done;
    }
    rw_http_jw(c->out, 200, &w);
done:
    free(v);
    free(id);
}

void rw_h_attribute(rw_http_ctx *c) {
    size_t klen, vlen;
    char *kind = rw_http_param(c, 0, "kind", &klen), *value = kind ? rw_http_param(c, 1, "value", &vlen) : NULL;
    rw_attr_view *v = NULL;
    rw_kind k;
    if (!value) goto done;
    if (rw_kind_parse(&k, kind) != RW_OK || k < RW_KIND_IP || k > RW_KIND_PAYMENT) {
        rw_http_problem(c->out, RW_PROB_INVALID_PATH, json_pack("{ss}", "parameter", "kind"),
                        "kind: expected ip, device or payment");
        goto done;
    }
    v = malloc(sizeof *v);
    rw_err err = {{0}};
    /* A pseudonym of this kind ("device:338d57bd76") is what analysts see
     * everywhere; a raw value is hashed. */
    int pseudo = !strncmp(value, kind, klen) && value[klen] == ':' && rw_engine_is_pseudonym(value, vlen);
    rw_status st = !v       ? RW_ERR_NOMEM
                   : pseudo ? rw_engine_attr_view_pseudonym(c->srv->e, value, vlen, v, &err)
                            : rw_engine_attr_view(c->srv->e, k, value, vlen, v, &err);
    if (st == RW_ERR_INVALID) { /* "value: what"; it describes the value, it does not quote it */
        rw_http_problem(c->out, RW_PROB_INVALID_PATH, json_pack("{ss}", "parameter", "value"), "%s", err.msg);
        goto done;
    }
    if (st != RW_OK) {
        engine_failure(c, st, &err, "value: never seen");
        goto done;
    }
    json_t *accounts = json_array();
    for (uint32_t i = 0; i < v->naccounts && i < RW_VIEW_ACCOUNTS; i++)
        json_array_append_new(accounts, json_string(v->accounts[i]));
    json_t *doc = attr_json(&v->a, 0);
    json_object_set_new(doc, "velocity",
                        json_pack("{sfsfsf}", "hour", v->velocity[0], "day", v->velocity[1], "week", v->velocity[2]));
    json_object_set_new(doc, "hub", json_boolean(v->hub));
    json_object_set_new(doc, "cleared", json_boolean(v->cleared));
    json_object_set_new(doc, "cluster", v->cluster[0] ? json_string(v->cluster) : json_null());
    json_object_set_new(doc, "accounts", accounts);
    rw_http_json(c->out, 200, doc);
done:
    if (value) explicit_bzero(value, vlen); /* a raw identifier */
    free(v);
    free(value);
    free(kind);
}

/* Parses query parameter name as a number in [lo, hi]; whole when integral.
 * Returns 1 when present and valid, 0 when absent, -1 after answering 400. */
static int query_number(rw_http_ctx *c, const char *name, double lo, double hi, int integral, double *out) {
    const char *v = rw_http_query(c, name);
    if (!v) return 0;
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(d) || d < lo || d > hi || (integral && d != floor(d))) {
        rw_http_problem(c->out, RW_PROB_INVALID_PARAMETER, json_pack("{ss}", "parameter", name),
                        "%s: expected %s from %g to %g", name, integral ? "a whole number" : "a number", lo, hi);
        return -1;
    }
    *out = d;
    return 1;
}

static json_t *cluster_json(const rw_cluster_row *r) {
    json_t *features = r->features ? json_loads(r->features, 0, NULL) : NULL;
    json_t *reasons = r->reasons ? json_loads(r->reasons, 0, NULL) : NULL;
    return json_pack("{sosfsbsIsIsosososososn}", "id", rw_http_cluster_ref(r->id), "score", r->score, "flagged",
                     r->flagged, "accounts", (json_int_t)r->accounts, "attributes", (json_int_t)r->attributes,
                     "first_seen", time_json(r->first_seen), "last_seen", time_json(r->last_seen), "features",
                     features ? features : json_null(), "reasons", reasons ? reasons : json_array(), "label",
                     r->label ? json_string(r->label) : json_null(), "change");
}

typedef struct {
    json_t *rows;
    uint64_t n;
    json_t *prev; /* the previous run's flagged clusters (NULL: no previous run) */
} page;

static rw_status page_row(void *ctx, const rw_cluster_row *r) {
    page *p = ctx;
    p->n++;
    json_t *o = cluster_json(r);
    char id[16];
    snprintf(id, sizeof id, "c%u", r->id);
    const char *ch = r->flagged ? rw_http_change(p->prev, id, r->accounts) : NULL;
    if (o && ch) json_object_set_new(o, "change", json_string(ch));
    return json_array_append_new(p->rows, o) == 0 ? RW_OK : RW_ERR_NOMEM;
}

/* flagged=true|false, labelled=true|false: 1 or 0, def when absent; -2
 * after answering 400. */
static int query_bool(rw_http_ctx *c, const char *name, int def) {
    const char *v = rw_http_query(c, name);
    if (!v) return def;
    if (!strcmp(v, "true")) return 1;
    if (!strcmp(v, "false")) return 0;
    rw_http_problem(c->out, RW_PROB_INVALID_PARAMETER, json_pack("{ss}", "parameter", name),
                    "%s: expected true or false", name);
    return -2;
}

/* since=, until=: Unix seconds, an ISO 8601 date (midnight UTC) or an RFC
 * 3339 time; 1 with *out set, 0 when absent, -1 after answering 400. */
static int query_time(rw_http_ctx *c, const char *name, int64_t *out) {
    const char *v = rw_http_query(c, name);
    if (!v) return 0;
    size_t n = strlen(v);
    char iso[40];
    int ok = n > 0 && n < 20 && strspn(v, "0123456789") == n;
    if (ok) {
        *out = (int64_t)strtoll(v, NULL, 10);
    } else if (n == 10) { /* a date alone: the day starts at midnight UTC */
        snprintf(iso, sizeof iso, "%sT00:00:00Z", v);
        ok = rw_time_parse_rfc3339(out, iso, strlen(iso)) == RW_OK;
    } else {
        ok = rw_time_parse_rfc3339(out, v, n) == RW_OK;
    }
    if (!ok || *out <= 0) {
        rw_http_problem(c->out, RW_PROB_INVALID_PARAMETER, json_pack("{ss}", "parameter", name),
                        "%s: expected Unix seconds or an ISO 8601 date or time after 1970 (2026-09-21 or "
                        "2026-09-21T14:03:00Z)",
                        name);
        return -1;
    }
    return 1;
}

static void bad_token(rw_http_ctx *c, const char *why) {
    rw_http_problem(c->out, RW_PROB_INVALID_PARAMETER, json_pack("{ss}", "parameter", "page_token"), "page_token: %s",
                    why);
}

/* The list's query: filter, page size, run and cursor. A page token holds
 * a digest of the filters it was issued for, and a request whose filters
 * differ is refused rather than paged through a different list. -1 after
 * answering 400 or 404. */
static int clusters_query(rw_http_ctx *c, rw_cluster_filter *f, double *size, int64_t *run, rw_page_cursor *cur) {
    *f = (rw_cluster_filter){.min_score = 0};
    /* Triage starts with the flagged clusters: the default; flagged=false
     * lists the others, and labelled= picks the reviewed or unreviewed. */
    f->flagged = query_bool(c, "flagged", 1);
    f->labelled = query_bool(c, "labelled", -1);
    if (f->flagged == -2 || f->labelled == -2 || query_number(c, "min_score", 0, 1, 0, &f->min_score) < 0 ||
        query_number(c, "page_size", 1, PAGE_MAX, 1, size) < 0 || query_time(c, "since", &f->since) < 0 ||
        query_time(c, "until", &f->until) < 0 || rw_http_run_param(c, run) < 0)
        return -1;
    if (f->since && f->until && f->until <= f->since) {
        rw_http_problem(c->out, RW_PROB_INVALID_PARAMETER, json_pack("{ss}", "parameter", "until"),
                        "until: must be later than since (the range is [since, until))");
        return -1;
    }
    rw_err err = {{0}};
    const char *tok = rw_http_query(c, "page_token");
    char why[sizeof err.msg + 80];
    if (!tok) return 0;
    if (rw_page_token_decode(cur, tok, strlen(tok), &err) != RW_OK) {
        snprintf(why, sizeof why, "%s; pass the next_page_token of the previous page unchanged", err.msg);
    } else if (*run && *run != cur->run) {
        snprintf(why, sizeof why, "issued for run %lld, not run %lld", (long long)cur->run, (long long)*run);
    } else if (cur->filters != rw_page_filter_digest(f)) {
        snprintf(why, sizeof why,
                 "issued for other filters; repeat the first page's flagged, labelled, min_score, since and until "
                 "with it, or start again without page_token");
    } else {
        *run = cur->run; /* pinned: later runs do not reshuffle the pages */
        return 0;
    }
    bad_token(c, why);
    return -1;
}

void rw_h_clusters(rw_http_ctx *c) {
    double size = PAGE_DEFAULT;
    int64_t run = 0;
    rw_cluster_filter f;
    rw_page_cursor cur = {0};
    if (clusters_query(c, &f, &size, &run, &cur) < 0) return;
    rw_err err = {{0}};
    rw_status st = run ? RW_OK : rw_engine_latest_run(c->srv->e, &run, &err);
    if (st == RW_OK && !run) st = rw_fail(&err, RW_ERR_NOTFOUND, "no run yet: POST /v1/rescore first");
    page p = {.rows = json_array()};
    /* The first run's flagged clusters are all new, as its diff says. */
    int64_t prev = st == RW_OK ? rw_http_prev_run(c->srv, run) : -1;
    if (prev >= 0 && !(p.prev = rw_http_flagged_of(c->srv, prev, &err))) st = RW_ERR_DB;
    /* One row more than asked tells whether another page exists. */
    if (st == RW_OK)
        st = rw_engine_clusters_filtered(c->srv->e, run, &f, cur.score, cur.id, (uint64_t)size + 1, page_row, &p, &err);
    json_decref(p.prev);
    if (st != RW_OK) {
        json_decref(p.rows);
        engine_failure(c, st, &err, err.msg);
        return;
    }
    json_t *doc = json_pack("{sI}", "run", (json_int_t)run);
    if (p.n > (uint64_t)size) {
        json_array_remove(p.rows, (size_t)size);
        json_t *lastrow = json_array_get(p.rows, (size_t)size - 1);
        const char *lastid = json_string_value(json_object_get(lastrow, "id"));
        rw_page_cursor next = {run, json_real_value(json_object_get(lastrow, "score")),
                               (uint32_t)strtoul(lastid ? lastid + 1 : "0", NULL, 10), rw_page_filter_digest(&f)};
        char t[RW_PAGE_TOKEN_LEN + 1];
        rw_page_token_encode(t, &next);
        json_object_set_new(doc, "next_page_token", json_string(t));
    }
    json_object_set_new(doc, "clusters", p.rows);
    rw_http_json(c->out, 200, doc);
}

typedef struct {
    json_t *arr;
} rows;

static rw_status member_row(void *ctx, const rw_score_row *r) {
    rows *k = ctx;
    json_t *reasons = r->reasons ? json_loads(r->reasons, 0, NULL) : NULL;
    json_t *o = json_pack("{sssfsbso}", "account", r->ext ? r->ext : "", "score", r->score, "flagged", r->flagged,
                          "reasons", reasons ? reasons : json_array());
    return json_array_append_new(k->arr, o) == 0 ? RW_OK : RW_ERR_NOMEM;
}

/* Subnets are left out: they group IP addresses, and the count a
 * cluster gives is of the attributes listed. */
static rw_status attr_row(void *ctx, const rw_attr_brief *a) {
    rows *k = ctx;
    if (a->kind == RW_KIND_SUBNET) return RW_OK;
    return json_array_append_new(k->arr, attr_json(a, 0)) == 0 ? RW_OK : RW_ERR_NOMEM;
}

static rw_status one_cluster(void *ctx, const rw_cluster_row *r) {
    *(json_t **)ctx = cluster_json(r);
    return RW_OK;
}

static rw_status label_row(void *ctx, const rw_label_row *l) {
    rows *r = ctx;
    json_t *note = l->note ? json_string(l->note) : json_null();
    json_t *o = json_pack("{sIsssosososo}", "id", (json_int_t)l->id, "label", l->fraud ? "fraud" : "benign", "note",
                          note ? note : json_null(), "run", l->run ? json_integer(l->run) : json_null(), "created_at",
                          time_json(l->created_at), "author", l->author ? json_string(l->author) : json_null());
    return json_array_append_new(r->arr, o) == 0 ? RW_OK : RW_ERR_NOMEM;
}

void rw_h_cluster(rw_http_ctx *c) {
    json_t *doc = NULL;
    rows members = {json_array()}, attrs = {json_array()}, labels = {json_array()};
    uint32_t id = 0, live = 0;
    int64_t run = 0;
    if (rw_http_cluster_id(c, 0, &id, &live) < 0) goto done;
    if (live) {
        rw_h_live_cluster(c, live);
        goto done;
    }
    if (rw_http_run_param(c, &run) < 0) goto done;
    rw_err err = {{0}};
    rw_status st = run ? RW_OK : rw_engine_latest_run(c->srv->e, &run, &err);
    if (st == RW_OK && !run) st = rw_fail(&err, RW_ERR_NOTFOUND, "no run yet");
    if (st == RW_OK) st = rw_engine_clusters(c->srv->e, run, -1, id, 1, one_cluster, &doc, &err);
    if (st == RW_OK && !doc) st = rw_fail(&err, RW_ERR_NOTFOUND, "id: no cluster c%u in run %lld", id, (long long)run);
    if (st == RW_OK) st = rw_engine_cluster_members(c->srv->e, run, id, DETAIL_ROWS, member_row, &members, &err);
    if (st == RW_OK) st = rw_engine_cluster_attrs(c->srv->e, run, id, 0, attr_row, &attrs, &err);
    if (st == RW_OK) st = rw_engine_cluster_labels(c->srv->e, id, DETAIL_ROWS, label_row, &labels, &err);
    if (st != RW_OK) {
        engine_failure(c, st, &err, err.msg);
        goto done;
    }
    while (json_array_size(attrs.arr) > DETAIL_ROWS) json_array_remove(attrs.arr, DETAIL_ROWS);
    int64_t prev = rw_http_prev_run(c->srv, run);
    json_t *was = prev >= 0 ? rw_http_flagged_of(c->srv, prev, &err) : NULL;
    const char *ch = was && json_is_true(json_object_get(doc, "flagged"))
                         ? rw_http_change(was, json_string_value(json_object_get(doc, "id")),
                                          (uint32_t)json_integer_value(json_object_get(doc, "accounts")))
                         : NULL;
    if (ch) json_object_set_new(doc, "change", json_string(ch));
    json_decref(was);
    json_object_set_new(doc, "run", json_integer(run));
    json_object_set_new(doc, "score_parts", rw_http_score_parts(c->srv, run, json_object_get(doc, "features")));
    json_object_set(doc, "members", members.arr);
    json_object_set(doc, "attribute_list", attrs.arr);
    json_object_set(doc, "labels", labels.arr);
    rw_http_json(c->out, 200, doc);
    doc = NULL;
done:
    json_decref(doc);
    json_decref(members.arr);
    json_decref(attrs.arr);
    json_decref(labels.arr);
}

#define EVENTS_DEFAULT 100

/* GET /v1/accounts/{id}/events: its events, newest first, with their
 * attributes by pseudonym. */
void rw_h_account_events(rw_http_ctx *c) {
    size_t len, n = 0;
    int more = 0;
    double limit = EVENTS_DEFAULT;
    rw_account_event *ev = NULL;
    char *id = rw_http_param(c, 0, "id", &len);
    if (!id || query_number(c, "limit", 1, RW_ACCOUNT_EVENTS_MAX, 1, &limit) < 0) goto done;
    rw_err err = {{0}};
    ev = malloc((size_t)limit * sizeof *ev);
    rw_status st = ev ? rw_engine_account_events(c->srv->e, id, len, ev, (size_t)limit, &n, &more, &err) : RW_ERR_NOMEM;
    if (st != RW_OK) {
        engine_failure(c, st, &err, "id: no such account");
        goto done;
    }
    static const char *const keys[RW_EVENT_ATTRS] = {"ip", "device", "payment"};
    rw_jw w;
    rw_jw_init(&w);
    rw_jw_object(&w);
    rw_jw_key(&w, "account");
    rw_jw_str(&w, id, len);
    rw_jw_key(&w, "events");
    rw_jw_array(&w);
    for (size_t i = 0; i < n; i++) {
        rw_jw_object(&w);
        rw_jw_ktime(&w, "time", ev[i].ts);
        rw_jw_kcstr(&w, "type", rw_event_type_name(ev[i].type));
        for (int k = 0; k < RW_EVENT_ATTRS; k++) rw_jw_kcstr(&w, keys[k], ev[i].attr[k][0] ? ev[i].attr[k] : NULL);
        rw_jw_key(&w, "score");
        if (isnan(ev[i].score))
            rw_jw_null(&w);
        else
            rw_jw_num(&w, ev[i].score);
        rw_jw_end(&w);
    }
    rw_jw_end(&w);
    rw_jw_kbool(&w, "more", more);
    rw_jw_end(&w);
    rw_http_jw(c->out, 200, &w);
done:
    free(ev);
    free(id);
}
