/* graph: 32-byte node records by node id with a kind directory, adjacency in
 * a size-class arena, bucketed indexes with 16-bit tags, lazy velocity
 * counters and a software prefetch pipeline, on huge-page chunks. This file
 * keeps the lookup and growth paths in one unit (their helpers inline);
 * memory is graph_mem.c's, queries and the copy graph_query.c's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "graph_int.h"

static const double vel_tau[RW_VEL_COUNT] = {3600.0, 86400.0, 604800.0};

/* ---- indexes -------------------------------------------------------------- */

static uint64_t mix64(uint64_t x) {
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

/* The hash is a keyed BLAKE2b, so its first 8 bytes are already uniform; the
 * mix only guards against hand-made hashes (tests, tools). */
static uint64_t attr_code(unsigned kind, const rw_hash *h) {
    uint64_t x;
    memcpy(&x, h->b, sizeof x);
    return mix64(x ^ (uint64_t)kind * 0x9e3779b97f4a7c15ull);
}

/* Word-at-a-time multiply-xorshift: ids are the caller's own, so speed over
 * resistance to crafted collisions. */
static uint64_t id_code(const char *s, size_t len) {
    const uint64_t m = 0x9fb21c651e98df25ull;
    uint64_t h = 0x243f6a8885a308d3ull ^ (len * m), w;
    for (; len >= 8; s += 8, len -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * m;
        h ^= h >> 29;
    }
    w = 0;
    memcpy(&w, s, len);
    return mix64((h ^ w) * m);
}

/* Where a key of hash code h may be: its home bucket from the low 32 bits;
 * its second bucket (in the home bucket's page) and its tag from the top
 * bits of h times an odd constant, which depend on all of h, so that keys
 * sharing a bucket rarely share a tag. */
typedef struct {
    uint32_t b1, b2;
    uint16_t tag;
} probe;

static probe probe_of(const table *t, uint64_t h) {
    uint64_t h2 = h * 0x9e3779b97f4a7c15ull; /* its top bits depend on all of h */
    probe p;
    p.b1 = (uint32_t)(((uint64_t)(uint32_t)h * t->nb) >> 32);
    p.b2 = (p.b1 & ~(uint32_t)(GROUP - 1)) | (uint32_t)(h2 >> 42 & (GROUP - 1));
    p.tag = (uint16_t)(h2 >> 48);
    return p;
}

/* The used slots of b whose tag is tag, as bits 2i and 2i + 1 for slot i. */
static uint32_t tag_match(const bucket *b, uint16_t tag) {
    uint32_t m;
#ifdef __SSE2__
    __m128i t = _mm_set1_epi16((short)tag);
    m = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_loadu_si128((const __m128i *)(const void *)b->tag), t));
    m |= (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_loadu_si128((const __m128i *)(const void *)(b->tag + 2)), t))
         << 4;
#else
    m = 0;
    for (unsigned i = 0; i < BUCKET_SLOTS; i++) m |= (uint32_t)(b->tag[i] == tag) * 3u << 2 * i;
#endif
    return m & ((1u << 2 * b->n) - 1);
}

static uint32_t next_bucket(const table *t, uint32_t i) {
    return i + 1 == t->nb ? 0 : i + 1;
}

/* Key comparison for a lookup: the account id as stored inline (id[0] = 0
 * for a long id), or the attribute's kind and hash. */
typedef struct {
    const rw_graph *g;
    const char *ext;
    size_t len;
    uint8_t id[16];
    const rw_hash *hash;
    unsigned kind;
} want;

static int is_account(const want *w, uint32_t v) {
    const node_rec *r = rec(w->g, v);
    if (w->id[0]) return memcmp(r->key.id, w->id, sizeof w->id) == 0;
    if (r->key.id[0]) return 0;
    size_t len;
    const char *s = account_id(w->g, r, &len);
    return len == w->len && memcmp(s, w->ext, len) == 0;
}

static int is_attr(const want *w, uint32_t v) {
    return memcmp(&rec(w->g, v)->key.hash, w->hash, sizeof *w->hash) == 0 && kind_of_code(code_of(w->g, v)) == w->kind;
}

/* The slot of b whose tag is tag and whose node matches, or NONE. */
static inline uint32_t scan(const bucket *b, uint16_t tag, int (*match)(const want *, uint32_t), const want *w) {
    for (uint32_t m = tag_match(b, tag) & 0x55555u; m; m &= m - 1) {
        uint32_t v = b->node[__builtin_ctz(m) / 2];
        if (match(w, v)) return v;
    }
    return NONE;
}

/* The home bucket, and only where marked the second one and its chain. */
static inline uint32_t table_find(const table *t, uint64_t h, int (*match)(const want *, uint32_t), const want *w) {
    if (!t->nb) return NONE;
    probe p = probe_of(t, h);
    const bucket *b = &t->b[p.b1];
    uint32_t v = scan(b, p.tag, match, w);
    if (v != NONE || !(b->flags & LEFT_HOME)) return v;
    for (uint32_t k = p.b2;; k = next_bucket(t, k)) {
        b = &t->b[k];
        if ((v = scan(b, p.tag, match, w)) != NONE || !(b->flags & PASSED_ON)) return v;
    }
}

static void table_put(table *t, uint64_t h, uint32_t v) {
    probe p = probe_of(t, h);
    bucket *b = &t->b[p.b1];
    if (b->n == BUCKET_SLOTS) {
        b->flags |= LEFT_HOME;
        uint32_t k = p.b2;
        for (b = &t->b[k]; b->n == BUCKET_SLOTS; b = &t->b[k]) {
            b->flags |= PASSED_ON;
            k = next_bucket(t, k);
        }
    }
    b->tag[b->n] = p.tag;
    b->node[b->n++] = v;
    t->count++;
}

static void table_free(table *t) {
    if (t->mapped)
        rw_gm_unmap_huge(t->b, t->bytes);
    else
        free(t->b);
}

/* Allocates an empty table of nb buckets (a multiple of GROUP), page-aligned;
 * large ones on huge pages. */
static int table_init(table *t, uint64_t nb) {
    size_t bytes = (size_t)nb * sizeof(bucket);
    uint64_t limit = nb * BUCKET_SLOTS * 85 / 100;
    *t = (table){.nb = (uint32_t)nb, .limit = limit < UINT32_MAX ? (uint32_t)limit : UINT32_MAX};
    if (bytes >= HUGE_PAGE) {
        t->bytes = round_up(bytes, HUGE_PAGE);
        t->b = rw_gm_map_huge(t->bytes);
        t->mapped = 1;
    } else {
        t->bytes = bytes;
        t->b = aligned_alloc(OS_PAGE, bytes);
        if (t->b) memset(t->b, 0, bytes);
    }
    return t->b ? 0 : -1;
}

static uint64_t node_code(const rw_graph *g, uint32_t v, int accounts) {
    const node_rec *r = rec(g, v);
    if (!accounts) return attr_code(kind_of_code(code_of(g, v)), &r->key.hash);
    size_t len;
    const char *s = account_id(g, r, &len);
    return id_code(s, len);
}

/* Rebuilds t with nb buckets from the nodes (in id order, which reads the
 * records sequentially), a batch at a time so the bucket misses overlap. */
static rw_status table_rebuild(rw_graph *g, table *t, uint64_t nb, int accounts, rw_err *err) {
    enum { BATCH = 32 };
    if (nb > (1u << 29)) return rw_fail(err, RW_ERR_LIMIT, "graph: index is full"); /* 4.5G keys */
    table nt;
    if (table_init(&nt, nb))
        return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory for an index of %llu buckets", (unsigned long long)nb);
    uint64_t hs[BATCH];
    uint32_t vs[BATCH], k = 0;
    for (uint32_t first = 0; first < g->n; first += BLOCK_NODES) {
        const dir_line *d = dir_of(g, first);
        uint32_t nodes = g->n - first < BLOCK_NODES ? g->n - first : BLOCK_NODES;
        for (unsigned w = 0; w < 2; w++) {
            uint64_t any = d->plane[0][w] | d->plane[1][w] | d->plane[2][w];
            uint64_t m = accounts ? ~any : any;
            uint32_t base = first + 64 * w, lanes = nodes > 64 * w ? nodes - 64 * w : 0;
            m &= lanes >= 64 ? ~0ull : (1ull << lanes) - 1;
            for (; m; m &= m - 1) {
                uint32_t v = base + (uint32_t)__builtin_ctzll(m);
                if (!accounts && code_of(g, v) == CODE_SUB && is_gap(g, v)) continue; /* placeholders are in no index */
                hs[k] = node_code(g, v, accounts);
                vs[k] = v;
                __builtin_prefetch(&nt.b[probe_of(&nt, hs[k]).b1], 1);
                if (++k == BATCH) {
                    for (uint32_t i = 0; i < k; i++) table_put(&nt, hs[i], vs[i]);
                    k = 0;
                }
            }
        }
    }
    for (uint32_t i = 0; i < k; i++) table_put(&nt, hs[i], vs[i]);
    table_free(t);
    *t = nt;
    return RW_OK;
}

/* Makes room for more keys: doubles (each rebuild rehashes every key, so
 * rebuilds cost about one insertion per key in all), so the load stays
 * between 42 and 85%. */
static rw_status table_reserve(rw_graph *g, table *t, uint32_t more, int accounts, rw_err *err) {
    if ((uint64_t)t->count + more <= t->limit) return RW_OK;
    uint64_t nb = t->nb ? t->nb : GROUP;
    while (((uint64_t)t->count + more) * 100 > nb * BUCKET_SLOTS * 85) nb *= 2;
    return table_rebuild(g, t, nb, accounts, err);
}

/* ---- life cycle ----------------------------------------------------------- */

rw_status rw_graph_create(rw_graph **out, rw_err *err) {
    *out = NULL;
    rw_graph *g = calloc(1, sizeof *g);
    if (!g) return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory");
    g->adj.bump = NONE;
    for (unsigned c = 0; c < HUGE_CLASS; c++) g->adj.head[c] = NONE;
    for (unsigned i = 0; i < PF_LAG2; i++) g->pf2[i] = NONE;
    *out = g;
    return RW_OK;
}

void rw_graph_free(rw_graph *g) {
    if (!g) return;
    free(g->blocks.page);
    free(g->parent.page);
    free(g->ids.page);
    rw_gm_arena_free(&g->adj);
    table_free(&g->by_attr);
    table_free(&g->by_account);
    rw_gm_chunks_free(&g->mem);
    free(g);
}

void rw_graph_drop_index(rw_graph *g) {
    table_free(&g->by_attr);
    table_free(&g->by_account);
    g->by_attr = (table){0};
    g->by_account = (table){0};
}

/* ---- index ---------------------------------------------------------------- */

static uint32_t find_account(const rw_graph *g, uint64_t h, const char *ext, size_t len) {
    want w = {.g = g, .ext = ext, .len = len};
    if (len <= ID_INLINE) {
        w.id[0] = (uint8_t)len;
        memcpy(w.id + 1, ext, len);
    }
    return table_find(&g->by_account, h, is_account, &w);
}

static uint32_t find_attr(const rw_graph *g, uint64_t h, rw_kind kind, const rw_hash *hash) {
    want w = {.g = g, .hash = hash, .kind = (unsigned)kind};
    return table_find(&g->by_attr, h, is_attr, &w);
}

uint32_t rw_graph_find_account(const rw_graph *g, const char *ext, size_t len) {
    if (!g || len == 0 || len > RW_ACCOUNT_MAX || !ext) return NONE;
    return find_account(g, id_code(ext, len), ext, len);
}

uint32_t rw_graph_find_attr(const rw_graph *g, rw_kind kind, const rw_hash *h) {
    if (!g || !h || (unsigned)kind >= RW_KIND_COUNT || kind == RW_KIND_ACCOUNT) return NONE;
    return find_attr(g, attr_code(kind, h), kind, h);
}

/* ---- prefetch ------------------------------------------------------------- */

/* Stage 3: the adjacency rw_graph_observe will read or append to. */
static void pf_adjacency(const rw_graph *g, uint32_t v) {
    if (v == NONE) return;
    const node_rec *r = rec(g, v);
    unsigned code = code_of(g, v);
    if (code == 0) {
        if (!r->key.id[0]) {
            uint32_t off;
            memcpy(&off, r->key.id + 4, sizeof off);
            __builtin_prefetch(id_at(g, off));
        }
        if (r->aux) {
            __builtin_prefetch(word_at(&g->adj, r->off));
            __builtin_prefetch(word_at(&g->adj, r->off + r->aux * (uint32_t)EDGE_WORDS - 1));
        }
    } else if (code > CODE_BIG) {
        __builtin_prefetch(word_at(&g->adj, r->off));
        __builtin_prefetch(word_at(&g->adj, r->off + VEL_WORDS + r->aux - 1));
    }
}

/* Queues v for stage 3 and runs stage 3 for the node queued PF_LAG2 ago. */
static void pf_node(rw_graph *g, uint32_t v) {
    if (v != NONE) {
        __builtin_prefetch(rec(g, v));
        __builtin_prefetch(dir_of(g, v));
    }
    uint32_t old = g->pf2[g->pf2_at];
    g->pf2[g->pf2_at] = v;
    g->pf2_at = (g->pf2_at + 1) % PF_LAG2;
    pf_adjacency(g, old);
}

/* Stage 2: the home bucket is cached by now; the first slot whose tag
 * matches is (almost always) the key's node, whose record and directory line
 * are fetched without being compared. A key that left home has its second
 * bucket fetched instead. */
static void pf_record(rw_graph *g, pf_entry e) {
    const table *t = e.table == 1 ? &g->by_account : &g->by_attr;
    if (!e.table || !t->nb) return;
    probe p = probe_of(t, e.h);
    const bucket *b = &t->b[p.b1];
    uint32_t m = tag_match(b, p.tag);
    if (m)
        pf_node(g, b->node[__builtin_ctz(m) / 2]);
    else if (b->flags & LEFT_HOME)
        __builtin_prefetch(&t->b[p.b2]);
}

/* Stage 1: fetches the home bucket of a key and advances the pipeline. */
static void pf_key(rw_graph *g, uint64_t h, uint32_t which) {
    const table *t = which == 1 ? &g->by_account : &g->by_attr;
    if (t->nb) __builtin_prefetch(&t->b[probe_of(t, h).b1]);
    pf_entry old = g->pf1[g->pf1_at];
    g->pf1[g->pf1_at] = (pf_entry){h, which};
    g->pf1_at = (g->pf1_at + 1) % PF_LAG1;
    pf_record(g, old);
}

void rw_graph_prefetch_account(rw_graph *g, const char *ext, size_t len) {
    if (!g || !ext || len == 0 || len > RW_ACCOUNT_MAX) return;
    pf_key(g, id_code(ext, len), 1);
}

void rw_graph_prefetch_attr(rw_graph *g, rw_kind kind, const rw_hash *h) {
    if (!g || !h || (unsigned)kind >= RW_KIND_COUNT || kind == RW_KIND_ACCOUNT) return;
    pf_key(g, attr_code(kind, h), 2);
}

void rw_graph_prefetch_node(rw_graph *g, uint32_t node) {
    if (g && node < g->n) pf_node(g, node);
}

/* ---- growth --------------------------------------------------------------- */

/* Allocates the pages a new node needs. */
static rw_status node_reserve(rw_graph *g, rw_err *err) {
    if (g->n >= NONE) return rw_fail(err, RW_ERR_LIMIT, "graph: too many nodes");
    if (rw_gm_ensure(&g->blocks, &g->mem, g->n / BLOCK_NODES, BLOCK_SHIFT, sizeof(node_block)))
        return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory for nodes");
    return RW_OK;
}

/* Appends the node; its record is already written at id n. */
static uint32_t node_add(rw_graph *g, rw_kind kind) {
    uint32_t v = g->n++;
    if (v % BLOCK_NODES == 0) dir_of(g, v)->ips_before = g->nkind[RW_KIND_IP];
    set_code(g, v, kind == RW_KIND_SUBNET ? CODE_SUB : (unsigned)kind);
    g->nkind[kind]++;
    return v;
}

rw_status rw_graph_add_account(rw_graph *g, uint32_t *out, const char *ext, size_t len, int64_t ts, rw_err *err) {
    *out = NONE;
    if (len == 0 || len > RW_ACCOUNT_MAX || !ext)
        return rw_fail(err, RW_ERR_INVALID, "graph: account id of %zu bytes (1 to %d allowed)", len, RW_ACCOUNT_MAX);
    uint64_t h = id_code(ext, len);
    uint32_t dup = find_account(g, h, ext, len);
    if (dup != NONE) return rw_fail(err, RW_ERR_EXISTS, "graph: the account exists (node %u)", (unsigned)dup);
    rw_status st = node_reserve(g, err);
    if (st != RW_OK) return st;
    /* A long id never straddles pages, so it can be returned as one string. */
    if (len > ID_INLINE && (g->ids.n == 0 || g->id_used + len + 2 > (1u << ID_SHIFT))) {
        if (g->ids.n == ID_PAGES) return rw_fail(err, RW_ERR_LIMIT, "graph: account id space is full");
        if (rw_gm_ensure(&g->ids, &g->mem, g->ids.n << ID_SHIFT, ID_SHIFT, 1))
            return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory for account ids");
        g->id_used = 0;
    }
    st = table_reserve(g, &g->by_account, 1, 1, err);
    if (st != RW_OK) return st;

    uint32_t t = clamp_ts(ts);
    node_rec *r = rec(g, g->n);
    *r = (node_rec){.first = t, .last = t};
    if (len <= ID_INLINE) {
        r->key.id[0] = (uint8_t)len;
        memcpy(r->key.id + 1, ext, len);
    } else {
        uint32_t off = (g->ids.n - 1) << ID_SHIFT | g->id_used;
        unsigned char *p = id_at(g, off);
        p[0] = (unsigned char)(len - 1);
        memcpy(p + 1, ext, len);
        p[len + 1] = 0;
        g->id_used += (uint32_t)len + 2;
        memcpy(r->key.id + 4, &off, sizeof off);
    }
    *out = node_add(g, RW_KIND_ACCOUNT);
    table_put(&g->by_account, h, *out);
    return RW_OK;
}

rw_status rw_graph_add_attr(rw_graph *g, uint32_t *out, rw_kind kind, const rw_hash *h, uint32_t parent, int64_t ts,
                            rw_err *err) {
    *out = NONE;
    if ((unsigned)kind >= RW_KIND_COUNT || kind == RW_KIND_ACCOUNT)
        return rw_fail(err, RW_ERR_INVALID, "graph: %d is not an attribute kind", (int)kind);
    if (!h) return rw_fail(err, RW_ERR_INVALID, "graph: attribute without a hash");
    if (parent != NONE && (kind != RW_KIND_IP || code_or_none(g, parent) != CODE_SUB))
        return rw_fail(err, RW_ERR_INVALID, "graph: node %u cannot be the parent of a %s", (unsigned)parent,
                       rw_kind_name(kind));
    uint64_t code = attr_code(kind, h);
    uint32_t dup = find_attr(g, code, kind, h);
    if (dup != NONE)
        return rw_fail(err, RW_ERR_EXISTS, "graph: the %s exists (node %u)", rw_kind_name(kind), (unsigned)dup);
    rw_status st = node_reserve(g, err);
    if (st != RW_OK) return st;
    uint32_t r = g->nkind[RW_KIND_IP];
    if (kind == RW_KIND_IP && rw_gm_ensure(&g->parent, &g->mem, r, SLOT_SHIFT, sizeof(uint32_t)))
        return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory for attributes");
    st = table_reserve(g, &g->by_attr, 1, 0, err);
    if (st != RW_OK) return st;

    uint32_t t = clamp_ts(ts);
    *rec(g, g->n) = (node_rec){.key.hash = *h, .first = t, .last = t, .off = NONE};
    if (kind == RW_KIND_IP) *parent_at(g, r) = parent;
    *out = node_add(g, kind);
    table_put(&g->by_attr, code, *out);
    return RW_OK;
}

rw_status rw_graph_add_gap(rw_graph *g, uint32_t *out, rw_err *err) {
    *out = NONE;
    rw_status st = node_reserve(g, err);
    if (st != RW_OK) return st;
    *rec(g, g->n) = (node_rec){.off = NONE, .aux = GAP_MARK};
    uint32_t v = g->n++;
    if (v % BLOCK_NODES == 0) dir_of(g, v)->ips_before = g->nkind[RW_KIND_IP];
    set_code(g, v, CODE_SUB);
    g->ngap++;
    *out = v;
    return RW_OK;
}

uint32_t rw_graph_gap_count(const rw_graph *g) {
    return g ? g->ngap : 0;
}

rw_status rw_graph_reserve(rw_graph *g, uint32_t accounts, uint32_t attributes, rw_err *err) {
    rw_status st = table_reserve(g, &g->by_account, accounts, 1, err);
    return st == RW_OK ? table_reserve(g, &g->by_attr, attributes, 0, err) : st;
}

/* exp(-dt / tau) for dt >= 0. Far past the float range the answer is 0;
 * asking libm would take its slow underflow path. */
static double decay(double dt, int i) {
    double x = dt / vel_tau[i];
    return x > 120.0 ? 0.0 : exp(-x);
}

/* Counts one new account at t. A late event (before the last update) adds
 * its already-decayed weight instead of winding the clock back. */
static void vel_add(vel_rec *r, uint32_t t) {
    if (t >= r->last) {
        uint32_t dt = t - r->last;
        for (int i = 0; i < RW_VEL_COUNT; i++)
            r->v[i] = (dt ? (float)((double)r->v[i] * decay(dt, i)) : r->v[i]) + 1.0f;
        r->last = t;
    } else {
        for (int i = 0; i < RW_VEL_COUNT; i++) r->v[i] += (float)decay(r->last - t, i);
    }
}

/* The counters of an attribute of the given code; zeros without edges. A
 * single account, counted from zero at time aux, left exactly 1.0 at aux. */
static vel_rec vel_of(const rw_graph *g, const node_rec *r, unsigned code) {
    vel_rec v = {{0}, 0};
    if (code > CODE_BIG)
        memcpy(&v, word_at(&g->adj, r->off), sizeof v);
    else if (r->off != NONE)
        v = (vel_rec){{1.0f, 1.0f, 1.0f}, r->aux};
    return v;
}

static void seen(node_rec *r, uint32_t t) {
    if (t < r->first) r->first = t;
    if (t > r->last) r->last = t;
}

/* Appends the edge to both lists. Both new blocks are allocated before
 * anything changes, so a failure leaves the graph as it was. */
static rw_status add_edge(rw_graph *g, node_rec *a, node_rec *b, unsigned code, uint32_t account, uint32_t attr,
                          uint32_t t, rw_err *err) {
    arena *m = &g->adj;
    int big = code > CODE_BIG;
    uint32_t blen = big ? b->aux : b->off != NONE;
    if (a->aux == UINT32_MAX || blen == UINT32_MAX) return rw_fail(err, RW_ERR_LIMIT, "graph: adjacency list too long");
    unsigned ca = a->aux ? class_of((uint64_t)a->aux * EDGE_WORDS) : NCLASS;
    unsigned ca2 = class_of(((uint64_t)a->aux + 1) * EDGE_WORDS);
    unsigned cb = big ? class_of(VEL_WORDS + (uint64_t)blen) : NCLASS;
    unsigned cb2 = class_of(VEL_WORDS + (uint64_t)blen + 1);
    int grow_a = ca2 != ca, grow_b = blen >= 1 && cb2 != cb;
    uint32_t na = 0, nb = 0;
    rw_status st = RW_OK;
    if (grow_a && (st = rw_gm_arena_alloc(m, &g->mem, &na, ca2, err)) != RW_OK) return st;
    if (grow_b && (st = rw_gm_arena_alloc(m, &g->mem, &nb, cb2, err)) != RW_OK) {
        if (grow_a) rw_gm_arena_release(m, na, ca2);
        return st;
    }
    if (grow_a) {
        if (a->aux) {
            memcpy(word_at(m, na), word_at(m, a->off), (size_t)a->aux * sizeof(rw_edge));
            rw_gm_arena_release(m, a->off, ca);
        }
        a->off = na;
    }
    ((rw_edge *)word_at(m, a->off))[a->aux++] = (rw_edge){attr, t, t, 1};

    if (blen == 0) {
        b->off = account; /* the first account: its velocity is implied by aux */
        b->aux = t;
    } else {
        vel_rec v = vel_of(g, b, code);
        if (grow_b) {
            uint32_t *w = word_at(m, nb);
            if (big) {
                memcpy(w, word_at(m, b->off), ((size_t)VEL_WORDS + blen) * sizeof *w);
                rw_gm_arena_release(m, b->off, cb);
            } else {
                w[VEL_WORDS] = b->off;
                set_code(g, attr, code | CODE_BIG);
            }
            b->off = nb;
        }
        vel_add(&v, t);
        uint32_t *w = word_at(m, b->off);
        memcpy(w, &v, sizeof v);
        w[VEL_WORDS + blen] = account;
        b->aux = blen + 1;
    }
    g->edges++;
    return RW_OK;
}

rw_status rw_graph_observe(rw_graph *g, int *is_new, uint32_t account, uint32_t attr, int64_t ts, rw_err *err) {
    if (is_new) *is_new = 0;
    if (code_or_none(g, account) != 0)
        return rw_fail(err, RW_ERR_INVALID, "graph: node %u is not an account", (unsigned)account);
    unsigned code = code_or_none(g, attr);
    if (code == 0 || code == CODE_SUB || code == NONE)
        return rw_fail(err, RW_ERR_INVALID, "graph: node %u is not an ip, device or payment", (unsigned)attr);
    uint32_t t = clamp_ts(ts);
    node_rec *a = rec(g, account), *b = rec(g, attr);
    rw_edge *e = a->aux ? (rw_edge *)word_at(&g->adj, a->off) : NULL;
    uint32_t i = 0;
    while (i < a->aux && e[i].attr != attr) i++;
    if (i < a->aux) {
        e += i;
        if (t < e->first_seen) e->first_seen = t;
        if (t > e->last_seen) e->last_seen = t;
        if (e->count < UINT32_MAX) e->count++;
    } else {
        rw_status st = add_edge(g, a, b, code, account, attr, t, err);
        if (st != RW_OK) return st;
        if (is_new) *is_new = 1;
    }
    seen(a, t);
    seen(b, t);
    return RW_OK;
}

void rw_graph_touch(rw_graph *g, uint32_t node, int64_t ts) {
    if (code_or_none(g, node) != NONE) seen(rec(g, node), clamp_ts(ts));
}

void rw_graph_velocity(const rw_graph *g, uint32_t attr, int64_t now, double out[RW_VEL_COUNT]) {
    for (int i = 0; i < RW_VEL_COUNT; i++) out[i] = 0;
    unsigned code = code_or_none(g, attr);
    if (code == 0 || code == CODE_SUB || code == NONE) return;
    vel_rec r = vel_of(g, rec(g, attr), code);
    double dt = now > (int64_t)r.last ? (double)(now - (int64_t)r.last) : 0.0;
    for (int i = 0; i < RW_VEL_COUNT; i++) out[i] = (double)r.v[i] * decay(dt, i);
}
