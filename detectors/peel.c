/* detectors: dense blocks by greedy peeling on the FRAUDAR objective (Hooi et
 * al., KDD 2016): g(S) = f(S) / |S|, f the sum over edges inside S of the
 * column weight 1 / log(degree + 5), which discounts popular attributes.
 *
 * Three departures from the paper's loop, all for a graph where most
 * attributes belong to one account and rings touch popular ones: (1)
 * attributes of degree 1 are left out, since they join no two accounts, yet
 * at weight 1 / log 6 they would make every ordinary account with private
 * attributes a "block" of density about 0.5; (2) the best S of a peel is
 * split into connected pieces, each one block (a peel's optimum is often a
 * union of disjoint pieces of equal density, e.g. several rings); (3) an
 * attribute of S with most of its accounts outside S (a carrier NAT) joins
 * no piece and no block (see split).
 *
 * Cost: one peel is O((n + m) log n) for the n nodes and m edges among the
 * candidates (every node leaves an indexed binary heap once, every edge
 * lowers one key once, each a sift of O(log n)); one peel yields every
 * qualifying piece of its best S, and peels repeat until max_blocks or no
 * piece has min_accounts accounts. Each peel's S is within a factor 2 of
 * the densest subgraph of what is left. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detectors_int.h"

#define NONE UINT32_MAX

/* See split: an attribute with under 1 / LOOSE_SHARE_INV of its remaining
 * accounts in S joins no piece. */
#define LOOSE_SHARE_INV 5

/* A min-heap of nodes keyed by their current marginal contribution, with
 * node id as tie-break so the peel order is deterministic. */
typedef struct {
    const double *key;
    uint32_t *a;   /* heap array of nodes */
    uint32_t *pos; /* [n] index of a node in a, or NONE */
    uint32_t size;
} heap;

static int before(const heap *h, uint32_t x, uint32_t y) {
    double kx = h->key[x], ky = h->key[y];
    return kx < ky || (kx == ky && x < y);
}

static void sift_up(heap *h, uint32_t i) {
    uint32_t x = h->a[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!before(h, x, h->a[p])) break;
        h->a[i] = h->a[p];
        h->pos[h->a[i]] = i;
        i = p;
    }
    h->a[i] = x;
    h->pos[x] = i;
}

static void sift_down(heap *h, uint32_t i) {
    uint32_t x = h->a[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->size) break;
        if (c + 1 < h->size && before(h, h->a[c + 1], h->a[c])) c++;
        if (!before(h, h->a[c], x)) break;
        h->a[i] = h->a[c];
        h->pos[h->a[i]] = i;
        i = c;
    }
    h->a[i] = x;
    h->pos[x] = i;
}

static uint32_t pop(heap *h) {
    uint32_t top = h->a[0];
    h->pos[top] = NONE;
    if (--h->size > 0) {
        h->a[0] = h->a[h->size];
        sift_down(h, 0);
    }
    return top;
}

typedef struct {
    const rw_graph_snap *s;
    const double *colw; /* [n] 1 / log(deg + 5) of attributes, 0 for accounts */
    uint8_t *alive;     /* [n] candidate, not yet in a block, not of degree 1 */
    double *prio;       /* [n] weight of a node's edges inside S */
    uint32_t *ord;      /* [n] peel order; the best S is a suffix */
    heap h;
} peel_ctx;

/* One peel over the alive nodes. On return ord[*from .. *len) is the best S
 * found and *best its g. */
static void peel_once(peel_ctx *c, uint32_t *from, uint32_t *len, double *best) {
    const rw_graph_snap *s = c->s;
    double f = 0.0;
    uint32_t size = 0;
    c->h.size = 0;
    for (uint32_t v = 0; v < s->n; v++) {
        c->h.pos[v] = NONE;
        if (!c->alive[v]) continue;
        double pv = 0.0;
        int any = 0;
        for (uint64_t k = s->off[v]; k < s->off[v + 1]; k++) {
            uint32_t x = s->nbr[k];
            if (!c->alive[x]) continue;
            pv += c->colw[v] + c->colw[x]; /* one of the two is 0 */
            any = 1;
        }
        /* A node with no edge among the candidates could only lower g. */
        if (!any) continue;
        c->prio[v] = pv;
        if (s->kind[v] == RW_KIND_ACCOUNT) f += pv;
        c->h.a[c->h.size] = v;
        c->h.pos[v] = c->h.size++;
        size++;
    }
    for (uint32_t i = c->h.size / 2; i-- > 0;) sift_down(&c->h, i);

    *best = size ? f / size : 0.0;
    *from = 0;
    *len = size;
    uint32_t t = 0;
    while (c->h.size > 0) {
        uint32_t u = pop(&c->h);
        c->ord[t++] = u;
        f -= c->prio[u];
        size--;
        for (uint64_t k = s->off[u]; k < s->off[u + 1]; k++) {
            uint32_t x = s->nbr[k];
            uint32_t i = c->h.pos[x];
            if (i == NONE) continue;
            c->prio[x] -= c->colw[u] + c->colw[x];
            if (c->prio[x] < 0.0) c->prio[x] = 0.0; /* rounding */
            sift_up(&c->h, i);
        }
        if (size > 0 && f / size > *best) {
            *best = f / size;
            *from = t;
        }
    }
}

/* A connected piece of a peel's best S: nodes[first .. first + size). */
typedef struct {
    uint32_t first, size, accounts, low; /* low: smallest node id */
    double g;
} piece;

static int piece_cmp(const void *a, const void *b) {
    const piece *x = a, *y = b;
    if (x->g != y->g) return x->g > y->g ? -1 : 1;
    return (x->low > y->low) - (x->low < y->low);
}

/* Splits S = ord[from .. len) into connected pieces. An attribute of S
 * with under a fifth of its remaining (candidate, not yet in a block)
 * accounts in S (a NAT or office IP a ring also used, for camouflage or by
 * accident: 50 of 7500, 5 of 60) is left out: it belongs to no block, and
 * does not join the pieces it touches, which would otherwise make every
 * ring that once used one carrier NAT a single block. A ring's own device
 * or card has a third or more of its accounts in the ring's densest core
 * (half was too strict: cores fell apart into single accounts). nodes
 * receives the pieces' nodes piece by piece; in_s is zeroed scratch of n
 * bytes (left zeroed); returns the number of pieces, densest first. */
static uint32_t split(peel_ctx *c, uint32_t from, uint32_t len, uint8_t *in_s, uint32_t *nodes, piece *pc) {
    enum { OUT = 0, IN = 1, SEEN = 2, LOOSE = 3 };
    const rw_graph_snap *s = c->s;
    for (uint32_t i = from; i < len; i++) in_s[c->ord[i]] = IN;
    for (uint32_t i = from; i < len; i++) {
        uint32_t v = c->ord[i];
        if (s->kind[v] == RW_KIND_ACCOUNT) continue;
        uint32_t inside = 0, alive = 0;
        for (uint64_t k = s->off[v]; k < s->off[v + 1]; k++) {
            inside += in_s[s->nbr[k]] != OUT;
            alive += c->alive[s->nbr[k]];
        }
        if ((uint64_t)LOOSE_SHARE_INV * inside < alive) in_s[v] = LOOSE;
    }
    uint32_t np = 0, tail = 0;
    for (uint32_t i = from; i < len; i++) {
        uint32_t root = c->ord[i];
        if (in_s[root] != IN) continue;
        piece *p = &pc[np++];
        *p = (piece){.first = tail, .low = root};
        double f = 0.0;
        uint32_t head = tail;
        nodes[tail++] = root;
        in_s[root] = SEEN;
        while (head < tail) {
            uint32_t v = nodes[head++];
            if (v < p->low) p->low = v;
            if (s->kind[v] == RW_KIND_ACCOUNT) p->accounts++;
            for (uint64_t k = s->off[v]; k < s->off[v + 1]; k++) {
                uint32_t x = s->nbr[k];
                if (in_s[x] == OUT || in_s[x] == LOOSE) continue;
                if (s->kind[v] == RW_KIND_ACCOUNT) f += c->colw[x];
                if (in_s[x] == IN) {
                    in_s[x] = SEEN;
                    nodes[tail++] = x;
                }
            }
        }
        p->size = tail - p->first;
        p->g = f / p->size;
    }
    for (uint32_t i = from; i < len; i++) in_s[c->ord[i]] = OUT;
    qsort(pc, np, sizeof *pc, piece_cmp);
    return np;
}

rw_status rw_detect_dense_blocks(const rw_graph_snap *s, const uint8_t *candidate, int max_blocks,
                                 uint32_t min_accounts, uint32_t *block, double *score, int *nblocks, rw_err *err) {
    *nblocks = 0;
    const uint32_t n = s->n;
    for (uint32_t v = 0; v < n; v++) block[v] = NONE;
    if (max_blocks <= 0 || n == 0) return RW_OK;
    memset(score, 0, (size_t)max_blocks * sizeof *score);
    if (min_accounts == 0) min_accounts = 1;

    rw_status st = RW_OK;
    double *colw = malloc((size_t)n * sizeof *colw);
    peel_ctx c = {.s = s, .colw = colw};
    c.alive = malloc(n);
    c.prio = malloc((size_t)n * sizeof *c.prio);
    c.ord = malloc((size_t)n * sizeof *c.ord);
    c.h.key = c.prio;
    c.h.a = malloc((size_t)n * sizeof *c.h.a);
    c.h.pos = malloc((size_t)n * sizeof *c.h.pos);
    uint8_t *in_s = calloc(n, 1);
    uint32_t *nodes = malloc((size_t)n * sizeof *nodes);
    piece *pc = malloc((size_t)n * sizeof *pc);
    if (!colw || !c.alive || !c.prio || !c.ord || !c.h.a || !c.h.pos || !in_s || !nodes || !pc) {
        st = rw_fail(err, RW_ERR_NOMEM, "dense blocks: out of memory for %u nodes", n);
        goto done;
    }
    for (uint32_t v = 0; v < n; v++) {
        uint32_t d = rw_detect_degree(s, v);
        int acct = s->kind[v] == RW_KIND_ACCOUNT;
        /* The degree is the whole graph's: an attribute many accounts
         * share is weak evidence even if few of them are candidates. */
        colw[v] = acct ? 0.0 : 1.0 / log((double)d + 5.0);
        c.alive[v] = (candidate ? candidate[v] != 0 : 1) && (acct || d >= 2);
    }

    int b = 0;
    while (b < max_blocks) {
        uint32_t from = 0, len = 0;
        double g = 0.0;
        peel_once(&c, &from, &len, &g);
        if (len == 0 || !(g > 0.0)) break;
        uint32_t np = split(&c, from, len, in_s, nodes, pc);
        int emitted = 0;
        for (uint32_t i = 0; i < np && b < max_blocks; i++) {
            if (pc[i].accounts < min_accounts || !(pc[i].g > 0.0)) continue;
            /* Blocks are disjoint: the nodes of this one leave the graph. */
            for (uint32_t k = pc[i].first; k < pc[i].first + pc[i].size; k++) {
                block[nodes[k]] = (uint32_t)b;
                c.alive[nodes[k]] = 0;
            }
            score[b++] = pc[i].g;
            emitted = 1;
        }
        if (!emitted) break;
    }
    *nblocks = b;

done:
    free(colw);
    free(c.alive);
    free(c.prio);
    free(c.ord);
    free(c.h.a);
    free(c.h.pos);
    free(in_s);
    free(nodes);
    free(pc);
    return st;
}
