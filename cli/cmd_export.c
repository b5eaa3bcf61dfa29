/* ringwatch export: one cluster, the top clusters or a whole run as files
 * for notebooks (GraphML, CSV, node-link JSON, a Jupyter notebook) and
 * pictures (SVG). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "engine.h"
#include "export.h"

typedef struct {
    const char *db, *out, *formats;
    uint64_t cluster, top, run, max_nodes, max_edges;
} export_opts;

static const rw_cli_opt export_tab[] = {
    {.name = "cluster",
     .arg = "ID",
     .help = "one cluster",
     .kind = RW_OPT_U64,
     .at = offsetof(export_opts, cluster),
     .lo = 1,
     .hi = UINT32_MAX},
    {.name = "top",
     .arg = "N",
     .help = "the N highest-scoring clusters",
     .kind = RW_OPT_U64,
     .at = offsetof(export_opts, top),
     .lo = 1,
     .hi = UINT32_MAX},
    {.name = "run",
     .arg = "R",
     .help = "the run to read (default: the newest); alone, the whole run",
     .kind = RW_OPT_U64,
     .at = offsetof(export_opts, run),
     .lo = 1,
     .hi = (double)INT64_MAX},
    {.name = "out",
     .arg = "DIR",
     .help = "the folder to write into (created if needed)",
     .kind = RW_OPT_TEXT,
     .at = offsetof(export_opts, out),
     .required = 1},
    {.name = "format",
     .arg = "LIST",
     .help = "comma-separated: graphml, csv, json, ipynb, svg, neo4j, bundle (default graphml,csv,json,ipynb)",
     .kind = RW_OPT_TEXT,
     .at = offsetof(export_opts, formats)},
    RW_OPT_DB(export_opts, db),
    {.name = "max-nodes",
     .arg = "N",
     .help = "refuse a larger export (default 20000)",
     .kind = RW_OPT_U64,
     .at = offsetof(export_opts, max_nodes),
     .lo = 1},
    {.name = "max-edges",
     .arg = "N",
     .help = "refuse a larger export (default 100000)",
     .kind = RW_OPT_U64,
     .at = offsetof(export_opts, max_edges),
     .lo = 1},
    {.name = NULL}};

const rw_cli_spec rw_spec_export = {
    "export",
    NULL,
    "Writes the subgraph of one cluster (--cluster), of the N highest-scoring clusters\n"
    "(--top), or of every cluster of a run (--run alone): its accounts, every attribute\n"
    "they use and the links between them, into DIR:\n"
    "  graphml   graph.graphml (networkx, python-igraph, Gephi)\n"
    "  csv       nodes.csv, edges.csv, clusters.csv (pandas)\n"
    "  json      graph.json, node-link (networkx 3.4 and later: node_link_graph(data, edges=\"links\"))\n"
    "  ipynb     notebook.ipynb, which loads the CSV and GraphML files (written with it)\n"
    "  svg       graph.svg and timeline.svg (signups over time)\n"
    "  neo4j     neo4j-nodes.csv, neo4j-relationships.csv (neo4j-admin database import)\n"
    "  bundle    bundle.zip: the notebook, the files it opens and the pictures in one folder\n\n"
    "Times are ISO 8601 UTC, with Unix seconds beside them (first_seen_unix). The\n"
    "GraphML carries Gephi's x, y, size, r, g, b and start/end attributes.\n"
    "Text cells of the CSV files that a spreadsheet would read as a formula (they\n"
    "begin with = + - @, a tab or a carriage return) start with a ' added.\n",
    export_tab,
    0,
    0,
    NULL};

/* Fills req from the options; returns -1 to go on, else the exit code. */
static int parse_args(export_opts *a, rw_cg_request *req, int argc, char **argv) {
    int nargs, rc = rw_cli_parse(&rw_spec_export, a, argc, argv, &nargs);
    if (rc >= 0) return rc;
    if (a->cluster && a->top) return rw_cli_usage(&rw_spec_export, "--cluster and --top exclude each other");
    if (!a->cluster && !a->top && !a->run)
        return rw_cli_usage(&rw_spec_export, "what to export: --cluster ID, --top N or --run R");
    *req = (rw_cg_request){.id = (uint32_t)a->cluster,
                           .top = (uint32_t)a->top,
                           .run = (int64_t)a->run,
                           .max_nodes = a->max_nodes,
                           .max_edges = a->max_edges};
    req->scope = a->cluster ? RW_CG_CLUSTER : a->top ? RW_CG_TOP : RW_CG_RUN;
    return -1;
}

/* Writes one file through a temporary name, so DIR never holds half a file. */
static rw_status write_kind(const char *dir, rw_export_kind k, const rw_cluster_graph *g, rw_err *err) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, rw_export_file_name(k));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return rw_fail(err, RW_ERR_IO, "%s: %s", tmp, strerror(errno));
    rw_status st = rw_export_write(f, k, g, err);
    if (fclose(f) != 0 && st == RW_OK) st = rw_fail(err, RW_ERR_IO, "%s: %s", tmp, strerror(errno));
    if (st == RW_OK && rename(tmp, path) != 0) st = rw_fail(err, RW_ERR_IO, "%s: %s", path, strerror(errno));
    if (st != RW_OK) remove(tmp);
    return st;
}

int rw_cmd_export(int argc, char **argv) {
    export_opts a = {.formats = "graphml,csv,json,ipynb"};
    rw_cg_request req;
    int pr = parse_args(&a, &req, argc, argv);
    if (pr >= 0) return pr;
    rw_err err = {{0}};
    unsigned mask = 0;
    if (rw_export_formats_parse(&mask, a.formats, &err) != RW_OK) {
        rw_cli_error("export", "--format: %s", err.msg);
        return RW_EXIT_USAGE;
    }
    if (mkdir(a.out, 0755) != 0 && errno != EEXIST) {
        rw_cli_error("export", "%s: %s", a.out, strerror(errno));
        return RW_EXIT_FAIL;
    }
    rw_engine *e = rw_cli_open_engine("export", a.db, NULL, RW_CLI_READONLY);
    if (!e) return RW_EXIT_FAIL;
    rw_cluster_graph *g = NULL;
    req.layout = 1;
    rw_status st = rw_engine_cluster_graph(e, &g, &req, &err);
    rw_engine_close(e);
    for (int k = 0; k < RW_EXPORT_KIND_COUNT && st == RW_OK; k++)
        if (mask & (1u << k)) st = write_kind(a.out, (rw_export_kind)k, g, &err);
    if (st != RW_OK) {
        rw_cli_error("export", "%s%s", err.msg, st == RW_ERR_LIMIT ? " (--max-nodes, --max-edges)" : "");
        rw_engine_cluster_graph_free(g);
        return RW_EXIT_FAIL;
    }
    size_t accounts = 0;
    for (size_t i = 0; i < g->nnodes; i++) accounts += g->nodes[i].kind == RW_KIND_ACCOUNT;
    printf("exported %zu cluster%s of run %lld: %zu accounts, %zu attributes, %zu links into %s:", g->nclusters,
           g->nclusters == 1 ? "" : "s", (long long)g->run, accounts, g->nnodes - accounts, g->nedges, a.out);
    for (int k = 0; k < RW_EXPORT_KIND_COUNT; k++)
        if (mask & (1u << k)) printf(" %s", rw_export_file_name((rw_export_kind)k));
    printf("\n");
    rw_engine_cluster_graph_free(g);
    return RW_EXIT_OK;
}
