/* engine: the subgraph of a cluster for exports and pictures, on a small
 * hand-written world (a ring of 12 on one device and a card, one member
 * also behind a NAT hub that 210 strangers use): members, attributes, hubs,
 * edges, pseudonyms only, the size caps and the layout. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "tu_engine.h"
#include "tu_tmp.h"

static rw_engine *eng;
static uint32_t ring_cluster;

#define T0     1790000000LL
#define DAY    86400LL
#define RING   12
#define NAT    210
#define NAT_IP "100.64.0.1"

static FILE *write_world(void) {
    FILE *f = tu_input_begin();
    for (int k = 0; k < RING; k++)
        fprintf(f,
                "{\"account\":\"ring-%02d\",\"ts\":%lld,\"ip\":\"198.51.100.%d\",\"device\":\"dev-ring\","
                "\"payment\":\"tok-ring\"}\n",
                k, (long long)(T0 + k * 300), k + 10);
    /* One member also logs in from the carrier NAT. */
    fprintf(f, "{\"account\":\"ring-00\",\"ts\":%lld,\"type\":\"login\",\"ip\":\"" NAT_IP "\"}\n",
            (long long)(T0 + DAY));
    for (int i = 0; i < NAT; i++)
        fprintf(f, "{\"account\":\"nat-%03d\",\"ts\":%lld,\"ip\":\"" NAT_IP "\",\"device\":\"dev-nat-%03d\"}\n", i,
                (long long)(T0 + i * 3607), i);
    return f;
}

static void setup(void) {
    tu_tmp_init();
    FILE *f = write_world();
    eng = tu_engine_open(tu_db(), 0);
    tu_ingest_input(eng, f);
    tu_rescore(eng, NULL);
    rw_err err = {{0}};
    rw_account_view *v = calloc(1, sizeof *v);
    cr_assert_eq(rw_engine_account_view(eng, "ring-03", 7, v, &err), RW_OK, "%s", err.msg);
    ring_cluster = v->run_cluster;
    free(v);
    cr_assert(ring_cluster, "the ring formed no cluster");
}

static void teardown(void) {
    rw_engine_close(eng);
    tu_tmp_fini();
}

TestSuite(export_graph, .init = setup, .fini = teardown, .timeout = RW_ENGINE_SUITE_TIMEOUT);

static rw_cluster_graph *get(rw_cg_request q) {
    rw_cluster_graph *g = NULL;
    rw_err err = {{0}};
    rw_status st = rw_engine_cluster_graph(eng, &g, &q, &err);
    cr_assert_eq(st, RW_OK, "%s", err.msg);
    return g;
}

static const rw_cg_node *find(const rw_cluster_graph *g, const char *label) {
    for (size_t i = 0; i < g->nnodes; i++)
        if (!strcmp(g->nodes[i].label, label)) return &g->nodes[i];
    return NULL;
}

Test(export_graph, ring_members_attributes_and_edges) {
    rw_cluster_graph *g = get((rw_cg_request){.scope = RW_CG_CLUSTER, .id = ring_cluster});
    cr_assert_eq(g->nclusters, 1);
    cr_expect_eq(g->clusters[0].id, ring_cluster);
    cr_expect_gt(g->run, 0);
    size_t accounts = 0, hubs = 0, in_cluster = 0;
    uint64_t degree_sum = 0;
    for (size_t i = 0; i < g->nnodes; i++) {
        const rw_cg_node *n = &g->nodes[i];
        if (n->kind == RW_KIND_ACCOUNT) {
            accounts++;
            cr_expect_eq(n->cluster, ring_cluster);
            cr_expect(strncmp(n->label, "ring-", 5) == 0, "member %s", n->label);
            cr_expect(!isnan(n->score));
            cr_expect_eq(n->sub_degree, n->degree, "every edge of a member is exported");
            degree_sum += n->degree;
        } else {
            cr_expect(isnan(n->score));
            /* Pseudonyms only: "<kind>:<10 hex digits>". */
            const char *kind = rw_kind_name(n->kind);
            size_t k = strlen(kind);
            cr_expect(strncmp(n->label, kind, k) == 0 && n->label[k] == ':' && strlen(n->label) == k + 11, "%s",
                      n->label);
            cr_expect(strstr(n->label, "198.51") == NULL && strstr(n->label, "dev-") == NULL);
            hubs += n->hub;
            in_cluster += n->cluster == ring_cluster;
        }
        cr_expect_leq(n->first_seen, n->last_seen);
    }
    cr_expect_eq(accounts, RING);
    /* 12 IPs, the device, the card, the NAT. */
    cr_expect_eq(g->nnodes - accounts, RING + 1 + 1 + 1);
    cr_expect_eq(g->nedges, degree_sum);
    cr_expect_eq(hubs, 1, "the NAT is marked as a hub");
    cr_expect_eq(in_cluster, 2, "the shared devices and card belong to the cluster");
    for (size_t j = 0; j < g->nedges; j++) {
        cr_assert_lt(g->edges[j].account, g->nnodes);
        cr_assert_lt(g->edges[j].attr, g->nnodes);
        cr_expect_eq(g->nodes[g->edges[j].account].kind, RW_KIND_ACCOUNT);
        cr_expect_neq(g->nodes[g->edges[j].attr].kind, RW_KIND_ACCOUNT);
        cr_expect_geq(g->edges[j].count, 1);
    }
    const rw_cg_node *m = find(g, "ring-00");
    cr_assert(m);
    cr_expect_eq(m->degree, 4, "ip, device, card and the NAT");
    cr_expect_eq(g->laid_out, 0);
    cr_expect(isnan(m->x));
    rw_engine_cluster_graph_free(g);
}

Test(export_graph, layout_in_unit_square_and_deterministic) {
    rw_cluster_graph *a = get((rw_cg_request){.scope = RW_CG_CLUSTER, .id = ring_cluster, .layout = 1});
    rw_cluster_graph *b = get((rw_cg_request){.scope = RW_CG_CLUSTER, .id = ring_cluster, .layout = 1});
    cr_assert(a->laid_out && b->laid_out);
    cr_assert_eq(a->nnodes, b->nnodes);
    for (size_t i = 0; i < a->nnodes; i++) {
        cr_expect(a->nodes[i].x >= 0 && a->nodes[i].x <= 1 && a->nodes[i].y >= 0 && a->nodes[i].y <= 1, "%g %g",
                  a->nodes[i].x, a->nodes[i].y);
        cr_expect_eq(a->nodes[i].x, b->nodes[i].x);
        cr_expect_eq(a->nodes[i].y, b->nodes[i].y);
    }
    rw_engine_cluster_graph_free(a);
    rw_engine_cluster_graph_free(b);
}

Test(export_graph, top_and_whole_run) {
    rw_cluster_graph *top = get((rw_cg_request){.scope = RW_CG_TOP, .top = 1});
    cr_expect_eq(top->nclusters, 1);
    rw_cluster_graph *run = get((rw_cg_request){.scope = RW_CG_RUN});
    cr_expect_geq(run->nclusters, 1);
    for (size_t i = 1; i < run->nclusters; i++) cr_expect_geq(run->clusters[i - 1].score, run->clusters[i].score);
    size_t accounts = 0;
    for (size_t i = 0; i < run->nnodes; i++) {
        if (run->nodes[i].kind != RW_KIND_ACCOUNT) continue;
        accounts++;
        cr_expect_neq(run->nodes[i].cluster, 0, "only accounts in clusters");
    }
    uint64_t want = 0;
    for (size_t i = 0; i < run->nclusters; i++) want += run->clusters[i].accounts;
    cr_expect_eq(accounts, want);
    rw_engine_cluster_graph_free(top);
    rw_engine_cluster_graph_free(run);
}

Test(export_graph, size_caps_refuse_with_a_message) {
    rw_cluster_graph *g = (rw_cluster_graph *)1;
    rw_err err = {{0}};
    rw_cg_request q = {.scope = RW_CG_CLUSTER, .id = ring_cluster, .max_nodes = 5};
    cr_expect_eq(rw_engine_cluster_graph(eng, &g, &q, &err), RW_ERR_LIMIT);
    cr_expect_null(g);
    cr_expect(strstr(err.msg, "more than 5 nodes") && strstr(err.msg, "limit"), "%s", err.msg);
    q.max_nodes = 0;
    q.max_edges = 10;
    cr_expect_eq(rw_engine_cluster_graph(eng, &g, &q, &err), RW_ERR_LIMIT, "%s", err.msg);
}

Test(export_graph, unknown_cluster_or_run) {
    rw_cluster_graph *g = NULL;
    rw_err err = {{0}};
    rw_cg_request q = {.scope = RW_CG_CLUSTER, .id = 999999};
    cr_expect_eq(rw_engine_cluster_graph(eng, &g, &q, &err), RW_ERR_NOTFOUND);
    cr_expect(strstr(err.msg, "no cluster 999999"), "%s", err.msg);
    q = (rw_cg_request){.scope = RW_CG_RUN, .run = 77};
    cr_expect_eq(rw_engine_cluster_graph(eng, &g, &q, &err), RW_ERR_NOTFOUND, "%s", err.msg);
    q = (rw_cg_request){.scope = RW_CG_CLUSTER};
    cr_expect_eq(rw_engine_cluster_graph(eng, &g, &q, &err), RW_ERR_INVALID);
    q = (rw_cg_request){.scope = RW_CG_TOP};
    cr_expect_eq(rw_engine_cluster_graph(eng, &g, &q, &err), RW_ERR_INVALID);
}
