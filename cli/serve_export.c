/* ringwatch serve: the exporter the HTTP server streams cluster exports and
 * pictures from. http may not use the notebooks-export module, so the CLI,
 * which wires objects together, hands it one: the engine's subgraph of the
 * cluster, written by the export module piece by piece as MHD pulls. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "export.h"
#include "http.h"

/* A picture of more nodes takes seconds to lay out and shows a blot. */
#define PICTURE_MAX_NODES 5000u

typedef struct {
    rw_cluster_graph *g;
    rw_export_stream *s;
} open_export;

static rw_status x_read(void *ctx, char *buf, size_t size, size_t *n) {
    open_export *o = ctx;
    return rw_export_read(o->s, buf, size, n, NULL);
}

static void x_close(void *ctx) {
    open_export *o = ctx;
    rw_export_close(o->s);
    rw_engine_cluster_graph_free(o->g);
    free(o);
}

static rw_status x_open(void *ctx, rw_engine *e, uint32_t id, int64_t run, const char *format, rw_http_stream *out,
                        const char **media_type, char *file_name, size_t name_size, rw_err *err) {
    rw_export_kind k;
    if (rw_export_kind_parse(&k, format, strlen(format)) != RW_OK)
        return rw_fail(err, RW_ERR_INVALID,
                       "format: '%.40s' is not one of graphml, nodes.csv, edges.csv, clusters.csv, json, ipynb, "
                       "neo4j-nodes.csv, neo4j-relationships.csv, bundle, graph.svg, timeline.svg",
                       format);
    /* Positions go into the graph files too (x, y), not into the timeline
     * or the clusters table. */
    rw_cg_request q = {.scope = RW_CG_CLUSTER,
                       .id = id,
                       .run = run,
                       .layout = k != RW_EXPORT_TIMELINE_SVG && k != RW_EXPORT_CLUSTERS_CSV,
                       .max_nodes = k == RW_EXPORT_GRAPH_SVG ? PICTURE_MAX_NODES : 0};
    open_export *o = calloc(1, sizeof *o);
    if (!o) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    rw_status st = rw_engine_cluster_graph(e, &o->g, &q, err);
    if (st == RW_OK) st = rw_export_open(&o->s, k, o->g, err);
    if (st != RW_OK) {
        x_close(o);
        return st;
    }
    *out = (rw_http_stream){x_read, x_close, o};
    *media_type = rw_export_media_type(k);
    snprintf(file_name, name_size, "cluster-%u-%s", id, rw_export_file_name(k));
    return RW_OK;
}

const rw_http_exporter *rw_cli_exporter(void) {
    static const rw_http_exporter x = {x_open, NULL};
    return &x;
}
