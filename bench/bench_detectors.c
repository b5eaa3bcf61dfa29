/* bench: the batch detectors on a synthetic world (households sharing IPs,
 * carrier NAT hubs, offices, planted rings), stage by stage, beside their
 * peer in the same run: igraph's Leiden alone (modularity, node weights =
 * strengths, resolution 1/(2m), the same edge weights, two iterations) on
 * the same graph. Usage: bench_detectors [ACCOUNTS] (default 200000). */
#include <igraph/igraph.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detectors.h"
#include "tu_snap.h"

#define CHECK(x)                                                                                                       \
    do {                                                                                                               \
        if (!(x)) {                                                                                                    \
            fprintf(stderr, "bench_detectors: %s failed (line %d)\n", #x, __LINE__);                                   \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

/* ---- the synthetic world (as tests/detectors builds its snapshots) ------- */

/* accounts with households sharing IPs, carrier NAT hubs, office IPs, a few
 * shared devices and family cards, and planted rings of 20..60 accounts. */
static rw_graph_snap *synthetic(uint32_t accounts, uint32_t nrings, uint32_t **ring_acc, uint32_t **ring_of) {
    rw_rng r;
    rw_rng_seed(&r, 2024);
    tu_snap_builder b = {0};
    uint32_t nat[40];
    for (int i = 0; i < 40; i++) nat[i] = tu_snap_node(&b, RW_KIND_IP);
    const double office_share = 0.3;
    uint32_t noffice = (uint32_t)(accounts * office_share / 60) + 1;
    uint32_t *office = malloc(noffice * sizeof *office);
    for (uint32_t i = 0; i < noffice; i++) office[i] = tu_snap_node(&b, RW_KIND_IP);
    uint32_t cur_ip = 0, left_ip = 0, cur_dev = 0, left_dev = 0;
    uint32_t total_ring = 0, sizes[4096];
    for (uint32_t k = 0; k < nrings; k++) total_ring += sizes[k] = 20 + (uint32_t)rw_rng_below(&r, 41);
    *ring_acc = malloc((total_ring + 1) * sizeof **ring_acc);
    *ring_of = malloc((total_ring + 1) * sizeof **ring_of);
    uint32_t benign = accounts - total_ring;
    for (uint32_t i = 0; i < benign; i++) {
        uint32_t a = tu_snap_node(&b, RW_KIND_ACCOUNT);
        if (left_ip == 0) {
            cur_ip = tu_snap_node(&b, RW_KIND_IP);
            left_ip = 1 + (uint32_t)(rw_rng_unit(&r) < 0.4 ? rw_rng_below(&r, 5) : 0);
        }
        tu_snap_edge(&b, a, cur_ip);
        left_ip--;
        if (rw_rng_unit(&r) < 0.3) tu_snap_edge(&b, a, nat[rw_rng_below(&r, 40)]);
        /* Offices and campuses: IPs of about 60 accounts (under the hub
         * threshold) that tie households into one giant component. */
        if (rw_rng_unit(&r) < office_share) tu_snap_edge(&b, a, office[rw_rng_below(&r, noffice)]);
        if (left_dev == 0) {
            cur_dev = tu_snap_node(&b, RW_KIND_DEVICE);
            left_dev = rw_rng_unit(&r) < 0.1 ? 2 : 1;
        }
        tu_snap_edge(&b, a, cur_dev);
        left_dev--;
        if (rw_rng_unit(&r) < 0.6) tu_snap_edge(&b, a, tu_snap_node(&b, RW_KIND_PAYMENT));
    }
    uint32_t t = 0;
    for (uint32_t k = 0; k < nrings; k++) {
        uint32_t nd = 2 + (uint32_t)rw_rng_below(&r, 3), ncard = 1 + (uint32_t)rw_rng_below(&r, 3), nip = 3;
        uint32_t at[10];
        for (uint32_t j = 0; j < nd; j++) at[j] = tu_snap_node(&b, RW_KIND_DEVICE);
        for (uint32_t j = 0; j < ncard; j++) at[nd + j] = tu_snap_node(&b, RW_KIND_PAYMENT);
        for (uint32_t j = 0; j < nip; j++) at[nd + ncard + j] = tu_snap_node(&b, RW_KIND_IP);
        for (uint32_t i = 0; i < sizes[k]; i++) {
            uint32_t a = tu_snap_node(&b, RW_KIND_ACCOUNT);
            (*ring_acc)[t] = a;
            (*ring_of)[t++] = k;
            tu_snap_edge(&b, a, at[rw_rng_below(&r, nd)]);
            tu_snap_edge(&b, a, at[nd + rw_rng_below(&r, ncard)]);
            tu_snap_edge(&b, a, at[nd + ncard + rw_rng_below(&r, nip)]);
            if (rw_rng_unit(&r) < 0.5) tu_snap_edge(&b, a, at[rw_rng_below(&r, nd)]);
            if (rw_rng_unit(&r) < 0.2) tu_snap_edge(&b, a, nat[rw_rng_below(&r, 40)]); /* camouflage */
        }
    }
    (*ring_acc)[t] = UINT32_MAX;
    free(office);
    return tu_snap_build(&b);
}

/* The peer: igraph_community_leiden on every edge of s with weights w. */
static double igraph_leiden_seconds(const rw_graph_snap *s, const double *w, igraph_integer_t *nc) {
    igraph_vector_int_t ev;
    igraph_vector_t wv, strength;
    igraph_vector_int_t memb;
    igraph_t g;
    CHECK(igraph_vector_int_init(&ev, (igraph_integer_t)(2 * s->m)) == IGRAPH_SUCCESS);
    CHECK(igraph_vector_init(&wv, (igraph_integer_t)s->m) == IGRAPH_SUCCESS);
    double total = 0;
    for (uint64_t e = 0; e < s->m; e++) {
        VECTOR(ev)[2 * e] = s->edge_account[e];
        VECTOR(ev)[2 * e + 1] = s->edges[e].attr;
        VECTOR(wv)[e] = w[e];
        total += w[e];
    }
    double t0 = rw_now();
    CHECK(igraph_create(&g, &ev, (igraph_integer_t)s->n, IGRAPH_UNDIRECTED) == IGRAPH_SUCCESS);
    CHECK(igraph_vector_init(&strength, 0) == IGRAPH_SUCCESS);
    CHECK(igraph_strength(&g, &strength, igraph_vss_all(), IGRAPH_ALL, IGRAPH_LOOPS, &wv) == IGRAPH_SUCCESS);
    CHECK(igraph_vector_int_init(&memb, 0) == IGRAPH_SUCCESS);
    igraph_real_t quality;
    CHECK(igraph_community_leiden(&g, &wv, &strength, 1.0 / (2 * total), 0.01, 0, 2, &memb, nc, &quality) ==
          IGRAPH_SUCCESS);
    double dt = rw_now() - t0;
    igraph_vector_int_destroy(&memb);
    igraph_vector_destroy(&strength);
    igraph_destroy(&g);
    igraph_vector_destroy(&wv);
    igraph_vector_int_destroy(&ev);
    return dt;
}

int main(int argc, char **argv) {
    uint32_t accounts = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 200000;
    uint32_t nrings = accounts / 2000 < 4000 ? accounts / 2000 : 4000;
    rw_err err = {{0}};
    CHECK(rw_detect_init(2, &err) == RW_OK);
    uint32_t *ra, *rof;
    rw_graph_snap *s = synthetic(accounts, nrings, &ra, &rof);
    rw_community_params p;
    rw_community_defaults(&p);
    double *w = malloc((s->m + 1) * sizeof *w);
    uint32_t *memb = malloc(s->n * sizeof *memb), *memb2 = malloc(s->n * sizeof *memb2),
             *blk = malloc(s->n * sizeof *blk);
    CHECK(w && memb && memb2 && blk);
    double t0 = rw_now();
    CHECK(rw_detect_edge_weights(s, &p, w, &err) == RW_OK);
    double t1 = rw_now();
    uint32_t nc, nc2;
    CHECK(rw_detect_communities(s, &p, w, NULL, memb, &nc, &err) == RW_OK);
    double t2 = rw_now();
    CHECK(rw_detect_communities(s, &p, w, memb, memb2, &nc2, &err) == RW_OK);
    double t3 = rw_now();
    double score[1];
    int nb;
    CHECK(rw_detect_dense_blocks(s, NULL, 1, 5, blk, score, &nb, &err) == RW_OK);
    double t4 = rw_now();
    enum { K = 8 };
    double sigma[K];
    float *u = malloc((size_t)s->n * K * sizeof *u);
    CHECK(u && rw_detect_svd(s, w, K, 1, sigma, u, &err) == RW_OK);
    double t5 = rw_now();
    igraph_integer_t inc = 0;
    double peer = igraph_leiden_seconds(s, w, &inc);
    printf("detectors: %u accounts, %u nodes, %llu edges, %u rings\n", accounts, s->n, (unsigned long long)s->m,
           nrings);
    printf(
        "  weights %.3f s | communities %.3f s (%u) | warm start %.3f s (%u) | dense block %.3f s | svd k=%d %.3f s\n",
        t1 - t0, t2 - t1, nc, t3 - t2, nc2, t4 - t3, K, t5 - t4);
    printf("  peer: igraph_community_leiden alone, 2 iterations, %.3f s (%lld communities)\n", peer, (long long)inc);
    printf("RESULT detectors: %u accounts: communities %.3f s, igraph Leiden alone %.3f s, ratio %.2f; warm start "
           "%.3f s, ratio %.2f\n",
           accounts, t2 - t1, peer, (t2 - t1) / peer, t3 - t2, (t3 - t2) / peer);
    free(u);
    free(blk);
    free(memb2);
    free(memb);
    free(w);
    free(ra);
    free(rof);
    return 0;
}
