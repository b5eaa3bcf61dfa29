/* http: a cluster's exports and pictures, GET /v1/clusters/{id}/export,
 * /graph.svg and /timeline.svg, streamed from the exporter the server was
 * given (the notebooks-export module, wired in by the CLI). */
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

/* The cluster id of the path and the run of the query (0: the newest);
 * 0 after answering (400 for a bad one, 404 for a run that does not exist,
 * 409 for a community formed online, which no run has exported yet). */
static uint32_t cluster_and_run(rw_http_ctx *c, int64_t *run) {
    uint32_t id = 0, live = 0;
    *run = 0;
    if (rw_http_cluster_id(c, 0, &id, &live) < 0) return 0;
    if (live) {
        rw_http_problem(c->out, RW_PROB_CONFLICT, json_pack("{ss}", "parameter", "id"),
                        "id: a community formed online has no export until a rescoring gives it a cluster id; GET "
                        "/v1/clusters/live-%u shows what is known of it",
                        live);
        return 0;
    }
    return rw_http_run_param(c, run) < 0 ? 0 : id;
}

static void answer(rw_http_ctx *c, const char *format, int attachment) {
    int64_t run = 0;
    uint32_t id = cluster_and_run(c, &run);
    if (!id) return;
    const rw_http_exporter *x = &c->srv->exporter;
    if (!x->open) {
        rw_http_problem(c->out, RW_PROB_UNAVAILABLE, NULL, "exports are not available from this server");
        return;
    }
    rw_http_stream st = {0};
    const char *media = NULL;
    char name[96] = "";
    rw_err err = {{0}};
    rw_status s = x->open(x->ctx, c->srv->e, id, run, format, &st, &media, name, sizeof name, &err);
    if (s != RW_OK) {
        rw_problem p = s == RW_ERR_INVALID    ? RW_PROB_INVALID_PARAMETER
                       : s == RW_ERR_LIMIT    ? RW_PROB_EXPORT_LIMIT
                       : s == RW_ERR_NOTFOUND ? RW_PROB_NOT_FOUND
                                              : rw_problem_of_status(s);
        if (p == RW_PROB_INTERNAL) rw_http_log(c->srv, RW_LOG_ERROR, "export of cluster %u: %s", id, err.msg);
        rw_http_problem(c->out, p, NULL, "%s", err.msg[0] ? err.msg : rw_status_str(s));
        return;
    }
    c->out->status = 200;
    c->out->content_type = media;
    c->out->stream = st;
    /* Pictures show inline in the dashboard; files download. The name is
     * ours ("cluster-12-nodes.csv"), never the caller's text. */
    snprintf(c->out->disposition, sizeof c->out->disposition, "%s; filename=\"%s\"",
             attachment ? "attachment" : "inline", name);
}

void rw_h_cluster_export(rw_http_ctx *c) {
    const char *f = rw_http_query(c, "format");
    if (!f || !*f) {
        rw_http_problem(c->out, RW_PROB_INVALID_PARAMETER, NULL,
                        "format: required (graphml, nodes.csv, edges.csv, clusters.csv, json, ipynb, "
                        "neo4j-nodes.csv, neo4j-relationships.csv, bundle)");
        return;
    }
    answer(c, f, 1);
}

void rw_h_cluster_graph_svg(rw_http_ctx *c) {
    answer(c, "graph.svg", 0);
}

void rw_h_cluster_timeline_svg(rw_http_ctx *c) {
    answer(c, "timeline.svg", 0);
}
