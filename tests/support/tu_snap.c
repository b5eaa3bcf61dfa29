/* tests: graph snapshots built by hand (see tu_snap.h). */
#include "tu_snap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void need(int ok, const char *what) {
    if (ok) return;
    fprintf(stderr, "tu_snap: %s\n", what);
    abort();
}

uint32_t tu_snap_node(tu_snap_builder *b, rw_kind k) {
    if (b->n == b->ncap) {
        b->ncap = b->ncap ? 2 * b->ncap : 1024;
        b->kind = realloc(b->kind, b->ncap);
        need(b->kind != NULL, "out of memory");
    }
    b->kind[b->n] = (uint8_t)k;
    return b->n++;
}

void tu_snap_edge(tu_snap_builder *b, uint32_t account, uint32_t attr) {
    need(b->kind[account] == RW_KIND_ACCOUNT && b->kind[attr] != RW_KIND_ACCOUNT,
         "an edge joins an account to an attribute");
    if (b->m == b->mcap) {
        b->mcap = b->mcap ? 2 * b->mcap : 1024;
        b->e = realloc(b->e, b->mcap * sizeof *b->e);
        need(b->e != NULL, "out of memory");
    }
    b->e[b->m][0] = account;
    b->e[b->m++][1] = attr;
}

static int cmp_pair(const void *x, const void *y) {
    const uint32_t *a = x, *b = y;
    if (a[0] != b[0]) return a[0] < b[0] ? -1 : 1;
    return (a[1] > b[1]) - (a[1] < b[1]);
}

rw_graph_snap *tu_snap_build(tu_snap_builder *b) {
    qsort(b->e, b->m, sizeof *b->e, cmp_pair);
    uint64_t m = 0;
    for (uint64_t i = 0; i < b->m; i++)
        if (m == 0 || cmp_pair(b->e[i], b->e[m - 1]) != 0) memcpy(b->e[m++], b->e[i], sizeof b->e[0]);
    rw_graph_snap *s = calloc(1, sizeof *s);
    uint32_t n = b->n;
    s->n = n;
    s->m = m;
    s->kind = b->kind;
    s->first_seen = calloc(n + 1, sizeof *s->first_seen);
    s->last_seen = calloc(n + 1, sizeof *s->last_seen);
    s->parent = malloc((n + 1) * sizeof *s->parent);
    s->off = calloc(n + 1, sizeof *s->off);
    s->nbr = malloc((2 * m + 1) * sizeof *s->nbr);
    s->eid = malloc((2 * m + 1) * sizeof *s->eid);
    s->edge_account = malloc((m + 1) * sizeof *s->edge_account);
    s->edges = calloc(m + 1, sizeof *s->edges);
    for (uint32_t v = 0; v < n; v++) {
        s->parent[v] = RW_NODE_NONE;
        s->first_seen[v] = 1000 + v;
        s->last_seen[v] = 2000 + v;
    }
    for (uint64_t e = 0; e < m; e++) {
        s->off[b->e[e][0] + 1]++;
        s->off[b->e[e][1] + 1]++;
    }
    for (uint32_t v = 0; v < n; v++) s->off[v + 1] += s->off[v];
    uint64_t *fill = malloc((n + 1) * sizeof *fill);
    memcpy(fill, s->off, n * sizeof *fill);
    for (uint64_t e = 0; e < m; e++) {
        uint32_t a = b->e[e][0], t = b->e[e][1];
        s->edge_account[e] = a;
        s->edges[e] = (rw_edge){.attr = t, .first_seen = 1000, .last_seen = 2000, .count = 1};
        s->nbr[fill[a]] = t;
        s->eid[fill[a]++] = (uint32_t)e;
        s->nbr[fill[t]] = a;
        s->eid[fill[t]++] = (uint32_t)e;
    }
    free(fill);
    free(b->e);
    memset(b, 0, sizeof *b);
    return s;
}
