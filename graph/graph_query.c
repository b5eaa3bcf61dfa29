/* graph: queries: counts, a node's kind, degree, times, parent, key and
 * edges, the copy of the whole graph into flat arrays (rw_graph_copy), and
 * its memory. */
#include <stdlib.h>
#include <string.h>

#include "graph_int.h"

/* A mapped table counts the pages its buckets use: the rest of its last huge
 * page is never touched. */
static size_t table_bytes(const table *t) {
    if (!t->b) return 0;
    return t->mapped ? round_up((size_t)t->nb * sizeof(bucket), OS_PAGE) : t->bytes + MALLOC_OVERHEAD;
}

uint32_t rw_graph_node_count(const rw_graph *g) {
    return g ? g->n : 0;
}

uint64_t rw_graph_edge_count(const rw_graph *g) {
    return g ? g->edges : 0;
}

uint32_t rw_graph_kind_count(const rw_graph *g, rw_kind kind) {
    return g && (unsigned)kind < RW_KIND_COUNT ? g->nkind[kind] : 0;
}

rw_kind rw_graph_kind(const rw_graph *g, uint32_t node) {
    unsigned code = code_or_none(g, node);
    return code == NONE ? RW_KIND_COUNT : (rw_kind)kind_of_code(code);
}

uint32_t rw_graph_degree(const rw_graph *g, uint32_t node) {
    unsigned code = code_or_none(g, node);
    if (code == NONE || code == CODE_SUB) return 0;
    const node_rec *r = rec(g, node);
    if (code == 0 || code > CODE_BIG) return r->aux;
    return r->off != NONE;
}

int64_t rw_graph_first_seen(const rw_graph *g, uint32_t node) {
    return g && node < g->n ? (int64_t)rec(g, node)->first : 0;
}

int64_t rw_graph_last_seen(const rw_graph *g, uint32_t node) {
    return g && node < g->n ? (int64_t)rec(g, node)->last : 0;
}

uint32_t rw_graph_parent(const rw_graph *g, uint32_t node) {
    unsigned code = code_or_none(g, node);
    return code == RW_KIND_IP || code == (RW_KIND_IP | CODE_BIG) ? *parent_at(g, ip_rank(g, node)) : NONE;
}

/* Nodes in block blk of a graph of n nodes. */
static uint32_t block_nodes(uint32_t blk, uint32_t n) {
    uint32_t v0 = blk * BLOCK_NODES;
    return n - v0 < BLOCK_NODES ? n - v0 : BLOCK_NODES;
}

/* The accounts (code 0: every plane clear) of a block, as a bit mask. */
static void accounts_of(const node_block *b, uint64_t acc[2]) {
    for (int w = 0; w < 2; w++) acc[w] = ~(b->dir.plane[0][w] | b->dir.plane[1][w] | b->dir.plane[2][w]);
}

/* Slot s of a block holds an account with edges. */
static int has_edges(const node_block *b, const uint64_t acc[2], uint32_t s) {
    return (acc[s >> 6] >> (s & 63) & 1) && b->rec[s].aux;
}

uint64_t rw_graph_copy(const rw_graph *g, const rw_graph_arrays *out) {
    /* By block: each block's directory and records are looked up once, and
     * the IP rank (the parent array's index) is counted along instead of
     * recounted per node. Same answers as the accessors. */
    uint32_t n = g ? g->n : 0, rank = 0;
    for (uint32_t blk = 0; out->kind && blk * BLOCK_NODES < n; blk++) {
        const node_block *b = block_at(g, blk);
        uint32_t v0 = blk * BLOCK_NODES, end = block_nodes(blk, n);
        for (uint32_t s = 0; s < end; s++) {
            uint32_t v = v0 + s;
            unsigned w = s >> 6, bit = s & 63;
            unsigned code = (unsigned)((b->dir.plane[0][w] >> bit) & 1) |
                            (unsigned)((b->dir.plane[1][w] >> bit) & 1) << 1 |
                            (unsigned)((b->dir.plane[2][w] >> bit) & 1) << 2;
            const node_rec *r = &b->rec[s];
            int gap = code == CODE_SUB && r->aux == GAP_MARK;
            out->kind[v] = gap ? RW_KIND_COUNT : (uint8_t)kind_of_code(code);
            out->first[v] = r->first;
            out->last[v] = r->last;
            out->parent[v] = NONE;
            if ((code & 3) == RW_KIND_IP && code != CODE_SUB) out->parent[v] = *parent_at(g, rank++);
            out->degree[v] = gap || code == CODE_SUB ? 0 : code == 0 || code > CODE_BIG ? r->aux : r->off != NONE;
        }
    }
    if (!out->edges) return 0;
    /* Edges in a pass of their own, the next block's lists asked for before
     * this block's are copied: the fetches overlap instead of each one
     * waiting (at a million accounts they were most of the copy). */
    uint64_t j = 0;
    for (uint32_t blk = 0; blk * BLOCK_NODES < n; blk++) {
        const node_block *b = block_at(g, blk);
        uint32_t v0 = blk * BLOCK_NODES, end = block_nodes(blk, n);
        uint64_t acc[2];
        if ((blk + 1) * BLOCK_NODES < n) {
            const node_block *nb = block_at(g, blk + 1);
            accounts_of(nb, acc);
            for (uint32_t s = 0, nend = block_nodes(blk + 1, n); s < nend; s++)
                if (has_edges(nb, acc, s)) __builtin_prefetch(word_at(&g->adj, nb->rec[s].off));
        }
        accounts_of(b, acc);
        for (uint32_t s = 0; s < end; s++) {
            if (!has_edges(b, acc, s)) continue;
            const node_rec *r = &b->rec[s];
            const rw_edge *e = (const rw_edge *)word_at(&g->adj, r->off);
            for (uint32_t i = 0; i < r->aux; i++, j++)
                if (j < out->edge_cap) {
                    out->edges[j] = e[i];
                    out->edge_account[j] = v0 + s;
                }
        }
    }
    return j;
}

const char *rw_graph_account_id(const rw_graph *g, uint32_t node, size_t *len) {
    size_t n = 0;
    const char *s = code_or_none(g, node) == 0 ? account_id(g, rec(g, node), &n) : NULL;
    if (len) *len = n;
    return s;
}

const rw_hash *rw_graph_attr_hash(const rw_graph *g, uint32_t node) {
    unsigned code = code_or_none(g, node);
    return code == 0 || code == NONE ? NULL : &rec(g, node)->key.hash;
}

const rw_edge *rw_graph_account_edges(const rw_graph *g, uint32_t account, uint32_t *n) {
    if (n) *n = 0;
    if (code_or_none(g, account) != 0) return NULL;
    const node_rec *r = rec(g, account);
    if (r->aux == 0) return NULL;
    if (n) *n = r->aux;
    return (const rw_edge *)word_at(&g->adj, r->off);
}

const uint32_t *rw_graph_attr_accounts(const rw_graph *g, uint32_t attr, uint32_t *n) {
    if (n) *n = 0;
    unsigned code = code_or_none(g, attr);
    if (code == 0 || code == CODE_SUB || code == NONE) return NULL;
    const node_rec *r = rec(g, attr);
    if (code > CODE_BIG) {
        if (n) *n = r->aux;
        return word_at(&g->adj, r->off) + VEL_WORDS;
    }
    if (r->off == NONE) return NULL;
    if (n) *n = 1;
    return &r->off;
}

size_t rw_graph_memory(const rw_graph *g) {
    if (!g) return 0;
    size_t b = sizeof *g + MALLOC_OVERHEAD + rw_gm_chunks_bytes(&g->mem);
    b += rw_gm_pages_bytes(&g->blocks) + rw_gm_pages_bytes(&g->parent) + rw_gm_pages_bytes(&g->ids);
    b += g->adj.huge_bytes;
    if (g->adj.page) b += g->adj.cap * sizeof *g->adj.page + MALLOC_OVERHEAD;
    if (g->adj.huge) b += g->adj.caphuge * sizeof *g->adj.huge + MALLOC_OVERHEAD;
    b += table_bytes(&g->by_attr) + table_bytes(&g->by_account);
    return b;
}
