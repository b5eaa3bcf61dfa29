/* ringwatch export: one cluster, the top clusters or a whole run as files
 * for notebooks (GraphML, CSV, node-link JSON, a Jupyter notebook) and
 * pictures (SVG). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "engine.h"
#include "export.h"

static const char export_help[] =
    "usage: ringwatch export (--cluster ID | --top N | --run R) --out DIR [--format LIST]\n"
    "                        [--db PATH] [--max-nodes N] [--max-edges N]\n\n"
    "Writes the subgraph of one cluster, of the N highest-scoring clusters, or of every\n"
    "cluster of a run (its accounts, every attribute they use and the links between\n"
    "them) into DIR, creating it if needed:\n"
    "  graphml   graph.graphml (networkx, python-igraph, Gephi)\n"
    "  csv       nodes.csv, edges.csv, clusters.csv (pandas)\n"
    "  json      graph.json, node-link (networkx 3.4 and later: node_link_graph(data, edges=\"links\"))\n"
    "  ipynb     notebook.ipynb, which loads the CSV and GraphML files (written with it)\n"
    "  svg       graph.svg and timeline.svg (signups over time)\n"
    "LIST is comma-separated (default graphml,csv,json,ipynb).\n\n"
    "  --run R          the run to read (default: the newest); alone, the whole run\n"
    "  --max-nodes N    refuse a larger export (default 20000)\n"
    "  --max-edges N    refuse a larger export (default 100000)\n";

typedef struct {
    const char *db, *out, *formats;
    rw_cg_request req;
    int have_cluster, have_top;
} export_args;

static int parse_args(export_args *a, int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"cluster", required_argument, 0, 'c'},
                                         {"top", required_argument, 0, 't'},
                                         {"run", required_argument, 0, 'r'},
                                         {"out", required_argument, 0, 'o'},
                                         {"format", required_argument, 0, 'f'},
                                         {"max-nodes", required_argument, 0, 'N'},
                                         {"max-edges", required_argument, 0, 'E'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    uint64_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'd':
                a->db = optarg;
                break;
            case 'o':
                a->out = optarg;
                break;
            case 'f':
                a->formats = optarg;
                break;
            case 'c':
                if (rw_cli_parse_u64(optarg, &v) || !v || v > UINT32_MAX) return -1;
                a->req.id = (uint32_t)v, a->have_cluster = 1;
                break;
            case 't':
                if (rw_cli_parse_u64(optarg, &v) || !v || v > UINT32_MAX) return -1;
                a->req.top = (uint32_t)v, a->have_top = 1;
                break;
            case 'r':
                if (rw_cli_parse_u64(optarg, &v) || !v || v > INT64_MAX) return -1;
                a->req.run = (int64_t)v;
                break;
            case 'N':
                if (rw_cli_parse_u64(optarg, &v) || !v) return -1;
                a->req.max_nodes = v;
                break;
            case 'E':
                if (rw_cli_parse_u64(optarg, &v) || !v) return -1;
                a->req.max_edges = v;
                break;
            case 'h':
                return 1;
            default:
                return -1;
        }
    }
    if (optind != argc || !a->out || a->have_cluster + a->have_top > 1) return -1;
    if (!a->have_cluster && !a->have_top && !a->req.run) return -1;
    a->req.scope = a->have_cluster ? RW_CG_CLUSTER : a->have_top ? RW_CG_TOP : RW_CG_RUN;
    return 0;
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
    export_args a = {.formats = "graphml,csv,json,ipynb"};
    int pr = parse_args(&a, argc, argv);
    if (pr != 0) {
        fputs(export_help, pr > 0 ? stdout : stderr);
        return pr > 0 ? RW_EXIT_OK : RW_EXIT_USAGE;
    }
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
    a.req.layout = 1;
    rw_status st = rw_engine_cluster_graph(e, &g, &a.req, &err);
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
