/* bench_svg: the picture of about 2,000 nodes, timed the way
 * GET /v1/clusters/{id}/graph.svg produces it (the engine's subgraph copy,
 * the igraph layout and the SVG writer), against its ceiling of one second,
 * on two worlds:
 *   farm   one cluster: 190 accounts on one device, each seen from 10 IPs of
 *          its own (rotating proxies): 2,091 nodes, most of them leaves;
 *   dense  the worst case for the layout: 970 accounts each on 4 of 60
 *          devices and one IP of its own, all its clusters in one picture:
 *          2,000 nodes, half of them of degree two or more.
 * Usage: bench_svg WORK_DIR */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "export.h"

#define REPEATS 5
#define CEILING 1.0 /* seconds */

static void farm(FILE *f) {
    for (int k = 0; k < 190; k++)
        for (int i = 0; i < 10; i++) {
            int ip = k * 10 + i;
            fprintf(f,
                    "{\"account\":\"farm-%03d\",\"ts\":%lld,\"type\":\"%s\",\"ip\":\"10.%d.%d.9\","
                    "\"device\":\"dev-farm\"}\n",
                    k, 1790000000LL + k * 60 + i * 5, i ? "login" : "signup", ip / 250, ip % 250);
        }
}

/* Devices drawn by a small LCG, so every platform builds the same world. */
static void dense(FILE *f) {
    uint64_t x = 5;
    for (int k = 0; k < 970; k++)
        for (int i = 0; i < 4; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            fprintf(f,
                    "{\"account\":\"dense-%03d\",\"ts\":%lld,\"type\":\"%s\",\"ip\":\"10.%d.%d.9\",\"device\":\"dev-%"
                    "d\"}\n",
                    k, 1790000000LL + k * 60 + i * 5, i ? "login" : "signup", k / 250, k % 250, (int)((x >> 33) % 60));
        }
}

static const struct {
    const char *name;
    void (*write)(FILE *f);
    rw_cg_scope scope; /* the biggest cluster, or every cluster of the run */
} worlds[] = {{"farm", farm, RW_CG_CLUSTER}, {"dense", dense, RW_CG_RUN}};

static rw_status biggest(void *ctx, const rw_cluster_row *c) {
    rw_cluster_row *best = ctx;
    if (c->accounts > best->accounts) best->id = c->id, best->accounts = c->accounts;
    return RW_OK;
}

/* Builds the world's database and times its picture; prints its RESULT. */
static int run_world(const char *dir, size_t w) {
    char db[4096], events[4096];
    snprintf(db, sizeof db, "%s/svg-%s.db", dir, worlds[w].name);
    snprintf(events, sizeof events, "%s/svg-%s.jsonl", dir, worlds[w].name);
    unlink(db);
    FILE *f = fopen(events, "w");
    if (!f) return fprintf(stderr, "bench_svg: cannot write %s\n", events), 1;
    worlds[w].write(f);
    fclose(f);

    rw_err err = {{0}};
    rw_engine *e = NULL;
    rw_engine_config cfg = {.db_path = db};
    rw_status st = rw_engine_open(&e, &cfg, &err);
    int fd = st == RW_OK ? open(events, O_RDONLY) : -1;
    rw_ingest_stats is;
    if (st == RW_OK) st = fd < 0 ? RW_ERR_IO : rw_engine_ingest_fd(e, &is, fd, events, NULL, &err);
    if (fd >= 0) close(fd);
    rw_rescore_summary rs;
    if (st == RW_OK) st = rw_engine_rescore(e, NULL, &rs, NULL, NULL, &err);
    rw_cluster_row best = {0};
    if (st == RW_OK) st = rw_engine_clusters(e, 0, -1.0, 0, 0, biggest, &best, &err);
    if (st == RW_OK && !best.id) st = rw_fail(&err, RW_ERR_NOTFOUND, "no cluster");

    double total = 1e9, graph = 0, write = 0;
    size_t nodes = 0, edges = 0, core = 0, bytes = 0, clusters = 0;
    rw_cg_request q = {.scope = worlds[w].scope, .id = best.id, .layout = 1};
    for (int r = 0; r < REPEATS && st == RW_OK; r++) {
        rw_cluster_graph *g = NULL;
        char *svg = NULL;
        size_t len = 0;
        double t0 = rw_now();
        st = rw_engine_cluster_graph(e, &g, &q, &err);
        double t1 = rw_now();
        FILE *m = st == RW_OK ? open_memstream(&svg, &len) : NULL;
        if (st == RW_OK) st = m ? rw_export_write(m, RW_EXPORT_GRAPH_SVG, g, &err) : RW_ERR_NOMEM;
        if (m) fclose(m);
        double t2 = rw_now();
        if (st == RW_OK && t2 - t0 < total) total = t2 - t0, graph = t1 - t0, write = t2 - t1;
        if (g) {
            nodes = g->nnodes, edges = g->nedges, clusters = g->nclusters, core = 0;
            for (size_t i = 0; i < g->nnodes; i++) core += g->nodes[i].sub_degree >= 2;
        }
        bytes = len;
        free(svg);
        rw_engine_cluster_graph_free(g);
    }
    rw_engine_close(e);
    if (st != RW_OK) return fprintf(stderr, "bench_svg %s: %s\n", worlds[w].name, err.msg), 1;
    printf("RESULT svg %s: graph.svg of %zu nodes (%zu of degree >= 2), %zu links, %zu cluster%s, %zu bytes, in "
           "%.3f s (subgraph and layout %.3f s, writing %.3f s; best of %d), ceiling %.1f s, ratio %.2f\n",
           worlds[w].name, nodes, core, edges, clusters, clusters == 1 ? "" : "s", bytes, total, graph, write, REPEATS,
           CEILING, total / CEILING);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: bench_svg WORK_DIR\n");
        return 2;
    }
    mkdir(argv[1], 0755);
    int rc = 0;
    for (size_t w = 0; w < sizeof worlds / sizeof worlds[0]; w++) rc |= run_world(argv[1], w);
    return rc;
}
