/* Tests of the graph's placeholders for erased nodes: they keep later ids in
 * place, answer like an id out of range, take no edges, are in no index (also
 * after the index is rebuilt), and show in snapshots as nodes of no kind. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"

static rw_hash hash_of(unsigned x) {
    rw_hash h;
    memset(&h, 0, sizeof h);
    memcpy(h.b, &x, sizeof x);
    h.b[15] = 0x5a;
    return h;
}

static rw_graph *mkgraph(void) {
    rw_graph *g = NULL;
    rw_err err = {{0}};
    cr_assert_eq(rw_graph_create(&g, &err), RW_OK, "%s", err.msg);
    return g;
}

static uint32_t gap(rw_graph *g) {
    uint32_t v = 7;
    rw_err err = {{0}};
    cr_assert_eq(rw_graph_add_gap(g, &v, &err), RW_OK, "%s", err.msg);
    return v;
}

Test(graph_gap, placeholders_keep_ids_and_answer_like_out_of_range) {
    rw_graph *g = mkgraph();
    rw_err err = {{0}};
    uint32_t a, s, ip, dev, b;
    cr_assert_eq(rw_graph_add_account(g, &a, "acct-a", 6, 100, &err), RW_OK);
    uint32_t g1 = gap(g);
    rw_hash hs = hash_of(1), hi = hash_of(2), hd = hash_of(3);
    cr_assert_eq(rw_graph_add_attr(g, &s, RW_KIND_SUBNET, &hs, RW_NODE_NONE, 100, &err), RW_OK);
    uint32_t g2 = gap(g);
    cr_assert_eq(rw_graph_add_attr(g, &ip, RW_KIND_IP, &hi, s, 100, &err), RW_OK);
    cr_assert_eq(rw_graph_add_attr(g, &dev, RW_KIND_DEVICE, &hd, RW_NODE_NONE, 100, &err), RW_OK);
    cr_assert_eq(rw_graph_add_account(g, &b, "acct-b", 6, 200, &err), RW_OK);
    cr_assert_eq(a, 0);
    cr_assert_eq(g1, 1);
    cr_assert_eq(s, 2);
    cr_assert_eq(g2, 3);
    cr_assert_eq(ip, 4);
    cr_assert_eq(b, 6);
    cr_assert_eq(rw_graph_node_count(g), 7);
    cr_assert_eq(rw_graph_gap_count(g), 2);
    cr_assert_eq(rw_graph_kind_count(g, RW_KIND_ACCOUNT), 2);
    cr_assert_eq(rw_graph_kind_count(g, RW_KIND_SUBNET), 1);
    cr_assert_eq(rw_graph_parent(g, ip), s);

    int is_new = 0;
    cr_assert_eq(rw_graph_observe(g, &is_new, a, ip, 150, &err), RW_OK);
    cr_assert_eq(rw_graph_observe(g, &is_new, b, dev, 250, &err), RW_OK);
    const uint32_t gaps[] = {g1, g2};
    for (size_t i = 0; i < 2; i++) {
        uint32_t v = gaps[i];
        cr_assert_eq(rw_graph_kind(g, v), RW_KIND_COUNT);
        cr_assert_eq(rw_graph_degree(g, v), 0);
        cr_assert_eq(rw_graph_first_seen(g, v), 0);
        cr_assert_eq(rw_graph_last_seen(g, v), 0);
        cr_assert_eq(rw_graph_parent(g, v), RW_NODE_NONE);
        cr_assert_null(rw_graph_account_id(g, v, NULL));
        cr_assert_null(rw_graph_attr_hash(g, v));
        cr_assert_null(rw_graph_account_edges(g, v, NULL));
        cr_assert_null(rw_graph_attr_accounts(g, v, NULL));
        /* no edge to or from a placeholder, and it is no parent */
        cr_assert_eq(rw_graph_observe(g, &is_new, v, ip, 300, &err), RW_ERR_INVALID);
        cr_assert_eq(rw_graph_observe(g, &is_new, a, v, 300, &err), RW_ERR_INVALID);
        uint32_t x;
        rw_hash hx = hash_of(100 + (unsigned)i);
        cr_assert_eq(rw_graph_add_attr(g, &x, RW_KIND_IP, &hx, v, 300, &err), RW_ERR_INVALID);
        rw_graph_touch(g, v, 300);
        cr_assert_eq(rw_graph_last_seen(g, v), 0);
    }
    cr_assert_eq(rw_graph_edge_count(g), 2);

    /* The zero key of a placeholder is found by no lookup, also after both
     * indexes are rebuilt by growth. */
    rw_hash zero;
    memset(&zero, 0, sizeof zero);
    cr_assert_eq(rw_graph_find_attr(g, RW_KIND_SUBNET, &zero), RW_NODE_NONE);
    for (unsigned i = 0; i < 3000; i++) {
        char id[32];
        uint32_t v;
        snprintf(id, sizeof id, "more-%u", i);
        cr_assert_eq(rw_graph_add_account(g, &v, id, strlen(id), 400, &err), RW_OK, "%s", err.msg);
        rw_hash h = hash_of(1000 + i);
        cr_assert_eq(rw_graph_add_attr(g, &v, i % 2 ? RW_KIND_SUBNET : RW_KIND_PAYMENT, &h, RW_NODE_NONE, 400, &err),
                     RW_OK, "%s", err.msg);
        if (i % 500 == 0) gap(g);
    }
    cr_assert_eq(rw_graph_find_attr(g, RW_KIND_SUBNET, &zero), RW_NODE_NONE);
    cr_assert_eq(rw_graph_find_account(g, "acct-b", 6), b);
    cr_assert_eq(rw_graph_find_attr(g, RW_KIND_IP, &hi), ip);
    cr_assert_eq(rw_graph_gap_count(g), 8);
    cr_assert_eq(rw_graph_kind_count(g, RW_KIND_ACCOUNT) + rw_graph_kind_count(g, RW_KIND_IP) +
                     rw_graph_kind_count(g, RW_KIND_DEVICE) + rw_graph_kind_count(g, RW_KIND_PAYMENT) +
                     rw_graph_kind_count(g, RW_KIND_SUBNET) + rw_graph_gap_count(g),
                 rw_graph_node_count(g));
    /* IPs after placeholders keep their parents (the parent array is by IP rank) */
    uint32_t ip2;
    rw_hash h2 = hash_of(9999);
    cr_assert_eq(rw_graph_add_attr(g, &ip2, RW_KIND_IP, &h2, s, 500, &err), RW_OK);
    cr_assert_eq(rw_graph_parent(g, ip2), s);
    cr_assert_eq(rw_graph_parent(g, ip), s);

    /* The one-pass copy agrees with the accessors on every node: accounts,
     * small and big attributes, IPs with parents, subnets, placeholders. */
    uint32_t nn = rw_graph_node_count(g);
    uint8_t *kind = malloc(nn);
    uint32_t *first = malloc(nn * sizeof *first), *last = malloc(nn * sizeof *last);
    uint32_t *parent = malloc(nn * sizeof *parent);
    uint64_t *degree = malloc(nn * sizeof *degree);
    uint64_t m = rw_graph_edge_count(g);
    rw_edge *edges = malloc((m + 1) * sizeof *edges);
    uint32_t *edge_account = malloc((m + 1) * sizeof *edge_account);
    cr_assert(kind && first && last && parent && degree && edges && edge_account);
    rw_graph_arrays out = {kind, first, last, parent, degree, NULL, NULL, 0};
    cr_assert_eq(rw_graph_copy(g, &out), 0, "no edges asked for, none counted");
    for (uint32_t v = 0; v < nn; v++) {
        cr_assert_eq(kind[v], (uint8_t)rw_graph_kind(g, v), "node %u", v);
        cr_assert_eq(first[v], (uint32_t)rw_graph_first_seen(g, v), "node %u", v);
        cr_assert_eq(last[v], (uint32_t)rw_graph_last_seen(g, v), "node %u", v);
        cr_assert_eq(parent[v], rw_graph_parent(g, v), "node %u", v);
        cr_assert_eq(degree[v], rw_graph_degree(g, v), "node %u", v);
    }
    /* With edges: every account's, in id order, as the accessor gives them;
     * a smaller room gets a prefix and the count of all. */
    out.edges = edges, out.edge_account = edge_account, out.edge_cap = m;
    cr_assert_eq(rw_graph_copy(g, &out), m);
    uint64_t j = 0;
    for (uint32_t v = 0; v < nn; v++) {
        uint32_t k = 0;
        const rw_edge *e = rw_graph_account_edges(g, v, &k);
        for (uint32_t i = 0; i < k; i++, j++) {
            cr_assert_lt(j, m);
            cr_assert_eq(edge_account[j], v, "edge %llu", (unsigned long long)j);
            cr_assert_eq(memcmp(&edges[j], &e[i], sizeof e[i]), 0, "edge %llu", (unsigned long long)j);
        }
    }
    cr_assert_eq(j, m);
    cr_assert_gt(m, 1);
    edges[m - 1].attr = 12345;
    out.edge_cap = m - 1;
    cr_assert_eq(rw_graph_copy(g, &out), m);
    cr_assert_eq(edges[m - 1].attr, 12345, "nothing past the room");
    free(kind), free(first), free(last), free(parent), free(degree), free(edges), free(edge_account);

    rw_graph_snap *snap = NULL;
    cr_assert_eq(rw_graph_snapshot(g, &snap, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(snap->n, rw_graph_node_count(g));
    cr_assert_eq(snap->kind[g1], RW_KIND_COUNT);
    cr_assert_eq(snap->kind[g2], RW_KIND_COUNT);
    cr_assert_eq(rw_graph_snap_degree(snap, g1), 0);
    cr_assert_eq(snap->kind[b], RW_KIND_ACCOUNT);
    cr_assert_eq(snap->m, 2);
    rw_graph_snap_free(snap);
    rw_graph_free(g);
}
