/* http: the route table (method, pattern, roles, query parameters, handler)
 * and the matcher that walks it; percent-decoding of paths and queries. */
#include <string.h>

#include "http_int.h"

#define ANALYST (RW_ROLE_ANALYST | RW_ROLE_ADMIN)

/* Routes sharing a pattern are adjacent so 405 answers list every method. */
static const rw_route routes[] = {
    {"POST", "/v1/signups", RW_ROLE_SIGNUP | RW_ROLE_ADMIN, "", rw_h_signup, 0},
    {"POST", "/v1/events", RW_ROLE_SIGNUP | RW_ROLE_ADMIN, "", rw_h_events, 0},
    {"GET", "/v1/accounts/{id}", ANALYST, "", rw_h_account, 0},
    {"DELETE", "/v1/accounts/{id}", RW_ROLE_ADMIN, "", rw_h_erase_account, 0},
    {"GET", "/v1/accounts/{id}/events", ANALYST, "limit", rw_h_account_events, 0},
    {"POST", "/v1/accounts/{id}/label", ANALYST, "", rw_h_label_account, 0},
    {"GET", "/v1/attributes/{kind}/{value}", ANALYST, "", rw_h_attribute, 0},
    {"GET", "/v1/clusters", ANALYST, "min_score run page_size page_token flagged labelled since until", rw_h_clusters,
     0},
    {"GET", "/v1/clusters/{id}", ANALYST, "run", rw_h_cluster, 0},
    {"POST", "/v1/clusters/{id}/label", ANALYST, "", rw_h_label_cluster, 0},
    {"GET", "/v1/clusters/{id}/export", ANALYST, "format run", rw_h_cluster_export, RW_ROUTE_POOL},
    {"GET", "/v1/clusters/{id}/graph.svg", ANALYST, "run", rw_h_cluster_graph_svg, RW_ROUTE_POOL},
    {"GET", "/v1/clusters/{id}/timeline.svg", ANALYST, "run", rw_h_cluster_timeline_svg, RW_ROUTE_POOL},
    {"GET", "/v1/runs", ANALYST, "", rw_h_runs, 0},
    {"GET", "/v1/runs/{id}", ANALYST, "", rw_h_run, 0},
    {"GET", "/v1/audit", RW_ROLE_ADMIN, "", rw_h_audit, 0},
    {"POST", "/v1/rescore", RW_ROLE_ADMIN, "", rw_h_rescore, 0},
    {"GET", "/v1/jobs/{id}", RW_ROLE_ADMIN, "", rw_h_job, 0},
    /* Waits a few seconds for the job to stop: off the signup threads. */
    {"DELETE", "/v1/jobs/{id}", RW_ROLE_ADMIN, "", rw_h_job_cancel, RW_ROUTE_POOL},
    {"GET", "/v1/models", RW_ROLE_ADMIN, "", rw_h_models, 0},
    {"POST", "/v1/models/rollback", RW_ROLE_ADMIN, "", rw_h_model_rollback, 0},
    {"POST", "/v1/models/{version}/promote", RW_ROLE_ADMIN, "", rw_h_model_promote, 0},
    {"GET", "/v1/openapi.json", RW_ROLE_PUBLIC, "", rw_h_openapi, 0},
    {"GET", "/livez", RW_ROLE_PUBLIC, "", rw_h_livez, 0},
    {"GET", "/readyz", RW_ROLE_PUBLIC, "", rw_h_readyz, 0},
    {"GET", "/metrics", RW_ROLE_ADMIN | RW_ROLE_METRICS, "", rw_h_metrics, 0},
    {"GET", "/", RW_ROLE_PUBLIC, "", rw_h_dash_index, 0},
    {"GET", "/assets/app.js", RW_ROLE_PUBLIC, "", rw_h_dash_js, 0},
    {"GET", "/assets/app.css", RW_ROLE_PUBLIC, "", rw_h_dash_css, 0},
};
#define NROUTES (sizeof routes / sizeof routes[0])
_Static_assert(NROUTES <= RW_ROUTES_MAX, "raise RW_ROUTES_MAX: metrics keep one histogram per route");

const rw_route *rw_http_routes(size_t *n) {
    *n = NROUTES;
    return routes;
}

/* Matches path against pattern segment by segment; captures {name} spans. */
static int match_pattern(const char *pattern, const char *path, rw_route_params *p) {
    p->n = 0;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/') return 0;
        pattern++, path++;
        const char *pe = strchr(pattern, '/'), *se = strchr(path, '/');
        size_t pn = pe ? (size_t)(pe - pattern) : strlen(pattern);
        size_t sn = se ? (size_t)(se - path) : strlen(path);
        if (pn >= 2 && pattern[0] == '{' && pattern[pn - 1] == '}') {
            if (sn == 0 || p->n == RW_ROUTE_PARAMS) return 0;
            p->p[p->n].s = path;
            p->p[p->n].len = sn;
            p->n++;
        } else if (pn != sn || memcmp(pattern, path, pn) != 0) {
            return 0;
        }
        pattern += pn;
        path += sn;
    }
    return !*pattern && !*path;
}

static void allow_add(char *allow, size_t allow_size, const char *method) {
    size_t used = strlen(allow), need = strlen(method) + (used ? 2 : 0);
    if (!strstr(allow, method) && used + need < allow_size) {
        if (used) strcat(allow, ", ");
        strcat(allow, method);
    }
}

int rw_route_match(const rw_route *t, size_t n, const char *method, const char *path, rw_route_params *p, char *allow,
                   size_t allow_size) {
    int found = RW_ROUTE_NOTFOUND;
    rw_route_params tmp;
    if (allow_size) allow[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (!match_pattern(t[i].pattern, path, &tmp)) continue;
        /* HEAD is a GET without its body (MHD leaves the body out). */
        if (!strcmp(t[i].method, method) || (!strcmp(method, "HEAD") && !strcmp(t[i].method, "GET"))) {
            *p = tmp;
            return (int)i;
        }
        found = RW_ROUTE_BADMETHOD;
        allow_add(allow, allow_size, t[i].method);
        if (!strcmp(t[i].method, "GET")) allow_add(allow, allow_size, "HEAD");
    }
    return found;
}

static int hexval(int ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

rw_status rw_http_unescape(char *out, size_t size, size_t *outlen, const char *in, size_t len, int plus) {
    size_t o = 0;
    *outlen = 0;
    if (!size) return RW_ERR_INVALID;
    out[0] = 0;
    for (size_t i = 0; i < len; i++) {
        int ch = (unsigned char)in[i];
        if (ch == '%') {
            if (i + 2 >= len) return RW_ERR_INVALID;
            int hi = hexval((unsigned char)in[i + 1]), lo = hexval((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0) return RW_ERR_INVALID;
            ch = hi * 16 + lo;
            if (ch == 0) return RW_ERR_INVALID;
            i += 2;
        } else if (ch == '+' && plus) {
            ch = ' ';
        } else if (ch == 0) {
            return RW_ERR_INVALID;
        }
        if (o + 1 >= size) return RW_ERR_INVALID;
        out[o++] = (char)ch;
    }
    out[o] = 0;
    *outlen = o;
    return RW_OK;
}
