/* graph: nodes with per-kind records found by rank, adjacency in a size-class
 * arena, open-addressing indexes over node ids, velocity counters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

/* Storage is paged rather than realloc'd: pages never move, so attribute
 * hashes and account ids stay valid until the graph is freed (as graph.h
 * promises), growth copies nothing (no stall on the signup path) and unused
 * capacity is at most one page per array. Pages stay below glibc's 128 KiB
 * mmap threshold, so they cost no page rounding. */
#define NODE_SHIFT 12 /* nodes per page of kinds */
#define NODE_MASK  ((1u << NODE_SHIFT) - 1)
/* A node's data lives in a record of its kind, found by the node's rank among
 * the nodes of that kind: a directory entry per block of 64 nodes (one cache
 * line of kinds) holds the counts before the block. That costs 0.3 bytes a
 * node instead of a 4-byte slot, and kinds and directory are small enough to
 * stay in cache. An attribute's hash, seen times, adjacency and velocity share
 * one 48-byte record, so the index probe that compares the hash also brings
 * in what rw_graph_observe touches next: random misses cost 150-500 ns on the
 * machines this was measured on, and dominate everything else. */
#define BLOCK        64
#define DIR_SHIFT    (NODE_SHIFT - 6)
#define SLOT_SHIFT   12 /* entries per page of small per-kind arrays */
#define ID_SHIFT     16 /* bytes per account-id page */
#define ID_PAGES     (1u << (32 - ID_SHIFT))
#define ID_GROUP     4 /* accounts per stored id offset; the others are walked to */
#define ID_GROUP_MAX (ID_GROUP * (RW_ACCOUNT_MAX + 2))
#define ARENA_SHIFT  14 /* u32 words per adjacency page */
#define ARENA_PAGE   (1u << ARENA_SHIFT)
#define ARENA_PAGES  (1u << (32 - ARENA_SHIFT))
/* Block sizes in words are 1, 2, 3, 4, 6, 8, 12, ...: powers of two and the
 * half steps between them. Half steps matter: a typical account has three
 * edges (12 words), which a pure power of two would round up to 16. */
#define NCLASS     60                /* up to 2^30 words */
#define HUGE_CLASS (2 * ARENA_SHIFT) /* first class larger than a page */
#define NONE       RW_NODE_NONE
#define EDGE_WORDS (sizeof(rw_edge) / sizeof(uint32_t))
/* What malloc adds to each allocation, so rw_graph_memory is not flattering. */
#define MALLOC_OVERHEAD 16

static const double vel_tau[RW_VEL_COUNT] = {3600.0, 86400.0, 604800.0};

typedef struct {
    uint32_t first, last; /* Unix seconds */
} seen_rec;

/* An account's record, and the head of an attribute's. */
typedef struct {
    seen_rec seen;
    /* Arena offset of the adjacency block; for an attribute of degree 1 the
     * one account itself, which saves a block for most devices and cards. */
    uint32_t off;
    uint32_t len;
} adj_rec;

typedef struct {
    float v[RW_VEL_COUNT];
    uint32_t last; /* time the values refer to */
} vel_rec;

/* An ip, device or payment. */
typedef struct {
    adj_rec adj;
    rw_hash hash;
    vel_rec vel;
} attr_rec;

/* A subnet takes no edges. */
typedef struct {
    seen_rec seen;
    rw_hash hash;
} subnet_rec;

/* What each kind stores. Every record starts with its seen_rec. */
static const struct {
    uint8_t attr;   /* an attribute: has a hash and is in the (kind, hash) index */
    uint8_t linked; /* takes edges (attr_rec, or adj_rec for accounts) */
    uint8_t shift;  /* records per page, log2 */
    uint8_t size;   /* bytes per record */
} kinds[RW_KIND_COUNT] = {
    [RW_KIND_ACCOUNT] = {0, 1, 12, sizeof(adj_rec)},   [RW_KIND_IP] = {1, 1, 10, sizeof(attr_rec)},
    [RW_KIND_DEVICE] = {1, 1, 10, sizeof(attr_rec)},   [RW_KIND_PAYMENT] = {1, 1, 10, sizeof(attr_rec)},
    [RW_KIND_SUBNET] = {1, 0, 11, sizeof(subnet_rec)},
};

typedef struct {
    void **page;
    uint32_t n, cap;
} pages;

typedef struct {
    uint32_t before[RW_KIND_COUNT]; /* nodes of each kind before the block */
} dir_rec;

typedef struct {
    uint32_t first, np; /* page range */
    uint32_t live;
} huge_range;

typedef struct {
    uint32_t **page; /* a huge block spans consecutive entries into one allocation */
    uint32_t n, cap;
    uint32_t bump, used;       /* page being carved (NONE before the first) and words used in it */
    uint32_t head[HUGE_CLASS]; /* free lists, linked through each block's first word */
    /* Huge blocks are allocated one by one and freed when they move, which
     * leaves their page range empty; the next huge block of that size reuses
     * the range, so a growing hub does not exhaust the 32-bit offsets. */
    huge_range *huge;
    uint32_t nhuge, caphuge;
    size_t bytes;
} arena;

typedef struct {
    uint32_t *slot; /* node ids; NONE marks an empty slot */
    uint32_t mask, count;
} table;

struct rw_graph {
    uint32_t n;
    uint64_t edges;
    uint32_t nkind[RW_KIND_COUNT];
    pages kind;                /* uint8_t per node, pages aligned to cache lines */
    pages dir;                 /* dir_rec per BLOCK nodes */
    pages recs[RW_KIND_COUNT]; /* records by rank */
    pages parent;              /* uint32_t per IP, by rank */
    pages idoff;               /* uint32_t per ID_GROUP accounts: where the first one's id is */
    pages ids;                 /* account ids: a byte len-1, the bytes, a NUL */
    uint32_t id_used;          /* bytes used in the last id page */
    arena adj;
    table by_attr, by_account;
};

/* ---- paged arrays --------------------------------------------------------- */

static void *at(const pages *p, uint32_t i, unsigned shift, size_t size) {
    return (char *)p->page[i >> shift] + (size_t)(i & ((1u << shift) - 1)) * size;
}

/* Makes element i addressable; i is at most one past the last page. Zeroed
 * pages are aligned to cache lines. */
static int ensure(pages *p, uint32_t i, unsigned shift, size_t size, int zeroed) {
    if ((i >> shift) < p->n) return 0;
    if (p->n == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 8;
        void **t = realloc(p->page, cap * sizeof *t);
        if (!t) return -1;
        p->page = t;
        p->cap = cap;
    }
    void *pg = zeroed ? aligned_alloc(BLOCK, size << shift) : malloc(size << shift);
    if (!pg) return -1;
    if (zeroed) memset(pg, 0, size << shift);
    p->page[p->n++] = pg;
    return 0;
}

static size_t pages_bytes(const pages *p, unsigned shift, size_t size) {
    size_t b = (size_t)p->n * ((size << shift) + MALLOC_OVERHEAD);
    if (p->page) b += p->cap * sizeof *p->page + MALLOC_OVERHEAD;
    return b;
}

static void pages_free(pages *p) {
    for (uint32_t i = 0; i < p->n; i++) free(p->page[i]);
    free(p->page);
}

static unsigned node_kind(const rw_graph *g, uint32_t v) {
    return *(const uint8_t *)at(&g->kind, v, NODE_SHIFT, 1);
}

/* Bytes of x that are zero. */
static uint32_t zero_bytes(uint64_t x) {
    const uint64_t lo7 = 0x7f7f7f7f7f7f7f7full;
    uint64_t y = ~(((x & lo7) + lo7) | x | lo7); /* the high bit of each zero byte */
    return (uint32_t)(((y >> 7) * 0x0101010101010101ull) >> 56);
}

/* Sets the bytes at memory positions m..7 of a loaded word. */
static uint64_t tail_mask(unsigned m) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return ~0ull >> (8 * m);
#else
    return ~0ull << (8 * m);
#endif
}

/* The number of nodes of kind k (v's kind) before v. */
static uint32_t rank_of(const rw_graph *g, uint32_t v, unsigned k) {
    const unsigned char *blk = (const unsigned char *)g->kind.page[v >> NODE_SHIFT] + (v & NODE_MASK & ~(BLOCK - 1u));
    uint32_t r = ((const dir_rec *)at(&g->dir, v / BLOCK, DIR_SHIFT, sizeof(dir_rec)))->before[k];
    unsigned n = v & (BLOCK - 1), i = 0;
    uint64_t pat = 0x0101010101010101ull * k, w;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, blk + i, 8);
        r += zero_bytes(w ^ pat);
    }
    if (n & 7) {
        memcpy(&w, blk + i, 8);
        r += zero_bytes((w ^ pat) | tail_mask(n & 7));
    }
    return r;
}

static void *rec_at(const rw_graph *g, unsigned k, uint32_t r) {
    return at(&g->recs[k], r, kinds[k].shift, kinds[k].size);
}

/* The record of node v < n; *k receives its kind. */
static void *rec_of(const rw_graph *g, uint32_t v, unsigned *k) {
    *k = node_kind(g, v);
    return rec_at(g, *k, rank_of(g, v, *k));
}

static rw_hash *hash_of(void *rec, unsigned k) {
    return kinds[k].linked ? &((attr_rec *)rec)->hash : &((subnet_rec *)rec)->hash;
}

static uint32_t *parent_at(const rw_graph *g, uint32_t r) {
    return at(&g->parent, r, SLOT_SHIFT, sizeof(uint32_t));
}

static unsigned char *id_at(const rw_graph *g, uint32_t off) {
    return at(&g->ids, off, ID_SHIFT, 1);
}

/* The stored id of the account of rank r: a byte len-1, the bytes, a NUL. */
static const unsigned char *account_id_at(const rw_graph *g, uint32_t r) {
    const unsigned char *p = id_at(g, *(const uint32_t *)at(&g->idoff, r / ID_GROUP, SLOT_SHIFT, sizeof(uint32_t)));
    for (uint32_t i = r % ID_GROUP; i > 0; i--) p += p[0] + 3u;
    return p;
}

static int is_kind(const rw_graph *g, uint32_t v, rw_kind k) {
    return g && v < g->n && node_kind(g, v) == (unsigned)k;
}

/* The kind of an attribute node, or 0 (account) when v is not one. */
static unsigned attr_kind(const rw_graph *g, uint32_t v) {
    if (!g || v >= g->n) return 0;
    unsigned k = node_kind(g, v);
    return kinds[k].attr ? k : 0;
}

static uint32_t clamp_ts(int64_t ts) {
    if (ts < 0) return 0;
    if (ts > (int64_t)UINT32_MAX) return UINT32_MAX;
    return (uint32_t)ts;
}

/* ---- adjacency arena ------------------------------------------------------ */

static uint32_t class_words(unsigned c) {
    if (c == 0) return 1;
    return (c & 1) ? 1u << ((c + 1) / 2) : 3u << ((c - 2) / 2);
}

/* The smallest class of at least words words. */
static unsigned class_of(uint64_t words) {
    if (words <= 1) return 0;
    unsigned k = 63u - (unsigned)__builtin_clzll(words - 1); /* 2^k < words <= 2^(k+1) */
    if (k >= 1 && words <= (3ull << (k - 1))) return 2 * k;
    return 2 * k + 1;
}

static uint32_t *word_at(const arena *a, uint32_t off) {
    return a->page[off >> ARENA_SHIFT] + (off & (ARENA_PAGE - 1));
}

static rw_status arena_reserve(arena *a, uint32_t more, rw_err *err) {
    if (more > ARENA_PAGES - a->n) return rw_fail(err, RW_ERR_LIMIT, "graph: adjacency arena is full");
    if (a->n + more <= a->cap) return RW_OK;
    uint64_t cap = a->cap ? a->cap : 16;
    while (cap < (uint64_t)a->n + more) cap *= 2;
    uint32_t **t = realloc(a->page, (size_t)cap * sizeof *t);
    if (!t) return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory for the adjacency page table");
    a->page = t;
    a->cap = (uint32_t)cap;
    return RW_OK;
}

static void arena_push(arena *a, uint32_t off, unsigned c) {
    *word_at(a, off) = a->head[c];
    a->head[c] = off;
}

/* Hands the unused tail of the page being carved to the free lists, so a
 * block that does not fit wastes nothing. */
static void arena_spill(arena *a) {
    while (a->used < ARENA_PAGE) {
        uint32_t r = ARENA_PAGE - a->used;
        unsigned c = class_of(r);
        if (class_words(c) > r) c--;
        arena_push(a, a->bump << ARENA_SHIFT | a->used, c);
        a->used += class_words(c);
    }
}

static rw_status alloc_huge(arena *a, uint32_t *off, unsigned c, rw_err *err) {
    uint32_t words = class_words(c), np = (words + ARENA_PAGE - 1) >> ARENA_SHIFT;
    huge_range *r = NULL;
    for (uint32_t i = 0; i < a->nhuge && !r; i++) {
        if (!a->huge[i].live && a->huge[i].np == np) r = &a->huge[i];
    }
    if (!r) {
        rw_status st = arena_reserve(a, np, err);
        if (st != RW_OK) return st;
        if (a->nhuge == a->caphuge) {
            uint32_t cap = a->caphuge ? a->caphuge * 2 : 8;
            huge_range *t = realloc(a->huge, cap * sizeof *t);
            if (!t) return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory for adjacency");
            a->huge = t;
            a->caphuge = cap;
        }
        r = &a->huge[a->nhuge];
        *r = (huge_range){a->n, np, 0};
    }
    uint32_t *mem = malloc((size_t)words * sizeof *mem);
    if (!mem) return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory for an adjacency block of %u words", words);
    if (r == &a->huge[a->nhuge]) {
        a->n += np;
        a->nhuge++;
    }
    a->page[r->first] = mem;
    for (uint32_t i = 1; i < np; i++) a->page[r->first + i] = mem + (size_t)i * ARENA_PAGE;
    r->live = 1;
    *off = r->first << ARENA_SHIFT;
    a->bytes += (size_t)words * sizeof *mem + MALLOC_OVERHEAD;
    return RW_OK;
}

static rw_status arena_alloc(arena *a, uint32_t *off, unsigned c, rw_err *err) {
    if (c >= NCLASS) return rw_fail(err, RW_ERR_LIMIT, "graph: adjacency list too long");
    if (c >= HUGE_CLASS) return alloc_huge(a, off, c, err);
    if (a->head[c] != NONE) {
        *off = a->head[c];
        a->head[c] = *word_at(a, *off);
        return RW_OK;
    }
    uint32_t words = class_words(c);
    if (a->bump == NONE || a->used + words > ARENA_PAGE) {
        rw_status st = arena_reserve(a, 1, err);
        if (st != RW_OK) return st;
        uint32_t *mem = malloc(ARENA_PAGE * sizeof *mem);
        if (!mem) return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory for adjacency");
        if (a->bump != NONE) arena_spill(a);
        a->page[a->n] = mem;
        a->bump = a->n++;
        a->used = 0;
        a->bytes += ARENA_PAGE * sizeof *mem + MALLOC_OVERHEAD;
    }
    *off = a->bump << ARENA_SHIFT | a->used;
    a->used += words;
    return RW_OK;
}

static void arena_release(arena *a, uint32_t off, unsigned c) {
    if (c < HUGE_CLASS) {
        arena_push(a, off, c);
        return;
    }
    uint32_t p = off >> ARENA_SHIFT;
    for (uint32_t i = 0; i < a->nhuge; i++) {
        huge_range *r = &a->huge[i];
        if (r->first != p || !r->live) continue;
        free(a->page[p]);
        memset(&a->page[p], 0, r->np * sizeof *a->page);
        r->live = 0;
        a->bytes -= (size_t)class_words(c) * sizeof(uint32_t) + MALLOC_OVERHEAD;
        return;
    }
}

static void arena_free(arena *a) {
    for (uint32_t i = 0; i < a->nhuge; i++) {
        huge_range *r = &a->huge[i];
        if (!r->live) continue;
        free(a->page[r->first]);
        memset(&a->page[r->first], 0, r->np * sizeof *a->page);
    }
    for (uint32_t p = 0; p < a->n; p++) free(a->page[p]);
    free(a->page);
    free(a->huge);
}

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

static void table_put(table *t, uint64_t code, uint32_t v) {
    uint32_t i = (uint32_t)code & t->mask;
    while (t->slot[i] != NONE) i = (i + 1) & t->mask;
    t->slot[i] = v;
    t->count++;
}

/* Makes room for one more key (load stays at most 0.7). A rehash walks the
 * nodes in id order, which reads the keys sequentially. */
static rw_status table_reserve(rw_graph *g, table *t, int accounts, rw_err *err) {
    uint64_t cap = t->slot ? (uint64_t)t->mask + 1 : 0;
    if ((uint64_t)(t->count + 1) * 10 <= cap * 7) return RW_OK;
    cap = cap ? cap * 2 : 1024;
    if (cap > (1ull << 31)) return rw_fail(err, RW_ERR_LIMIT, "graph: index is full");
    uint32_t *slot = malloc(cap * sizeof *slot);
    if (!slot)
        return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory for an index of %llu slots", (unsigned long long)cap);
    memset(slot, 0xff, cap * sizeof *slot);
    free(t->slot);
    t->slot = slot;
    t->mask = (uint32_t)(cap - 1);
    t->count = 0;
    uint32_t rank[RW_KIND_COUNT] = {0};
    for (uint32_t v = 0; v < g->n; v++) {
        unsigned k = node_kind(g, v);
        uint32_t r = rank[k]++;
        if (k == RW_KIND_ACCOUNT && accounts) {
            const unsigned char *p = account_id_at(g, r);
            table_put(t, id_code((const char *)p + 1, (size_t)p[0] + 1), v);
        } else if (k != RW_KIND_ACCOUNT && !accounts) {
            table_put(t, attr_code(k, hash_of(rec_at(g, k, r), k)), v);
        }
    }
    return RW_OK;
}

static size_t table_bytes(const table *t) {
    return t->slot ? ((size_t)t->mask + 1) * sizeof *t->slot + MALLOC_OVERHEAD : 0;
}

/* ---- life cycle ----------------------------------------------------------- */

rw_status rw_graph_create(rw_graph **out, rw_err *err) {
    *out = NULL;
    rw_graph *g = calloc(1, sizeof *g);
    if (!g) return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory");
    g->adj.bump = NONE;
    for (unsigned c = 0; c < HUGE_CLASS; c++) g->adj.head[c] = NONE;
    *out = g;
    return RW_OK;
}

void rw_graph_free(rw_graph *g) {
    if (!g) return;
    pages_free(&g->kind);
    pages_free(&g->dir);
    for (unsigned k = 0; k < RW_KIND_COUNT; k++) pages_free(&g->recs[k]);
    pages_free(&g->parent);
    pages_free(&g->idoff);
    pages_free(&g->ids);
    arena_free(&g->adj);
    free(g->by_attr.slot);
    free(g->by_account.slot);
    free(g);
}

/* ---- index ---------------------------------------------------------------- */

uint32_t rw_graph_find_account(const rw_graph *g, const char *ext, size_t len) {
    if (!g || !g->by_account.slot || len == 0 || len > RW_ACCOUNT_MAX || !ext) return NONE;
    const table *t = &g->by_account;
    for (uint32_t i = (uint32_t)id_code(ext, len) & t->mask;; i = (i + 1) & t->mask) {
        uint32_t v = t->slot[i];
        if (v == NONE) return NONE;
        const unsigned char *p = account_id_at(g, rank_of(g, v, RW_KIND_ACCOUNT));
        if ((size_t)p[0] + 1 == len && memcmp(p + 1, ext, len) == 0) return v;
    }
}

uint32_t rw_graph_find_attr(const rw_graph *g, rw_kind kind, const rw_hash *h) {
    if (!g || !g->by_attr.slot || !h || (unsigned)kind >= RW_KIND_COUNT || !kinds[kind].attr) return NONE;
    const table *t = &g->by_attr;
    for (uint32_t i = (uint32_t)attr_code(kind, h) & t->mask;; i = (i + 1) & t->mask) {
        uint32_t v = t->slot[i];
        if (v == NONE) return NONE;
        if (node_kind(g, v) != (unsigned)kind) continue;
        if (memcmp(hash_of(rec_at(g, kind, rank_of(g, v, kind)), kind), h, sizeof *h) == 0) return v;
    }
}

/* ---- growth --------------------------------------------------------------- */

/* Allocates the pages a new node of kind k needs. */
static rw_status node_reserve(rw_graph *g, unsigned k, rw_err *err) {
    if (g->n >= NONE) return rw_fail(err, RW_ERR_LIMIT, "graph: too many nodes");
    if (ensure(&g->kind, g->n, NODE_SHIFT, 1, 1) || ensure(&g->dir, g->n / BLOCK, DIR_SHIFT, sizeof(dir_rec), 0) ||
        ensure(&g->recs[k], g->nkind[k], kinds[k].shift, kinds[k].size, 0))
        return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory for nodes");
    return RW_OK;
}

/* Appends the node; its record is already written at rank nkind[kind]. */
static uint32_t node_add(rw_graph *g, rw_kind kind) {
    uint32_t v = g->n++;
    if (v % BLOCK == 0) memcpy(at(&g->dir, v / BLOCK, DIR_SHIFT, sizeof(dir_rec)), g->nkind, sizeof g->nkind);
    *(uint8_t *)at(&g->kind, v, NODE_SHIFT, 1) = (uint8_t)kind;
    g->nkind[kind]++;
    return v;
}

rw_status rw_graph_add_account(rw_graph *g, uint32_t *out, const char *ext, size_t len, int64_t ts, rw_err *err) {
    *out = NONE;
    if (len == 0 || len > RW_ACCOUNT_MAX || !ext)
        return rw_fail(err, RW_ERR_INVALID, "graph: account id of %zu bytes (1 to %d allowed)", len, RW_ACCOUNT_MAX);
    uint32_t dup = rw_graph_find_account(g, ext, len);
    if (dup != NONE) return rw_fail(err, RW_ERR_EXISTS, "graph: the account exists (node %u)", (unsigned)dup);
    rw_status st = node_reserve(g, RW_KIND_ACCOUNT, err);
    if (st != RW_OK) return st;
    /* A group of ids never straddles pages, so an id can be returned as one
     * string and found by walking from its group's offset. */
    uint32_t r = g->nkind[RW_KIND_ACCOUNT];
    if (r % ID_GROUP == 0) {
        if (ensure(&g->idoff, r / ID_GROUP, SLOT_SHIFT, sizeof(uint32_t), 0))
            return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory for account ids");
        if (g->ids.n == 0 || g->id_used + ID_GROUP_MAX > (1u << ID_SHIFT)) {
            if (g->ids.n == ID_PAGES) return rw_fail(err, RW_ERR_LIMIT, "graph: account id space is full");
            if (ensure(&g->ids, g->ids.n << ID_SHIFT, ID_SHIFT, 1, 0))
                return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory for account ids");
            g->id_used = 0;
        }
    }
    st = table_reserve(g, &g->by_account, 1, err);
    if (st != RW_OK) return st;

    uint32_t off = (g->ids.n - 1) << ID_SHIFT | g->id_used;
    if (r % ID_GROUP == 0) *(uint32_t *)at(&g->idoff, r / ID_GROUP, SLOT_SHIFT, sizeof(uint32_t)) = off;
    unsigned char *p = id_at(g, off);
    p[0] = (unsigned char)(len - 1);
    memcpy(p + 1, ext, len);
    p[len + 1] = 0;
    g->id_used += (uint32_t)len + 2;
    uint32_t t = clamp_ts(ts);
    *(adj_rec *)rec_at(g, RW_KIND_ACCOUNT, r) = (adj_rec){{t, t}, 0, 0};
    *out = node_add(g, RW_KIND_ACCOUNT);
    table_put(&g->by_account, id_code(ext, len), *out);
    return RW_OK;
}

rw_status rw_graph_add_attr(rw_graph *g, uint32_t *out, rw_kind kind, const rw_hash *h, uint32_t parent, int64_t ts,
                            rw_err *err) {
    *out = NONE;
    if ((unsigned)kind >= RW_KIND_COUNT || !kinds[kind].attr)
        return rw_fail(err, RW_ERR_INVALID, "graph: %d is not an attribute kind", (int)kind);
    if (!h) return rw_fail(err, RW_ERR_INVALID, "graph: attribute without a hash");
    if (parent != NONE && (kind != RW_KIND_IP || !is_kind(g, parent, RW_KIND_SUBNET)))
        return rw_fail(err, RW_ERR_INVALID, "graph: node %u cannot be the parent of a %s", (unsigned)parent,
                       rw_kind_name(kind));
    uint32_t dup = rw_graph_find_attr(g, kind, h);
    if (dup != NONE)
        return rw_fail(err, RW_ERR_EXISTS, "graph: the %s exists (node %u)", rw_kind_name(kind), (unsigned)dup);
    rw_status st = node_reserve(g, kind, err);
    if (st != RW_OK) return st;
    uint32_t r = g->nkind[kind];
    if (kind == RW_KIND_IP && ensure(&g->parent, r, SLOT_SHIFT, sizeof(uint32_t), 0))
        return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory for attributes");
    st = table_reserve(g, &g->by_attr, 0, err);
    if (st != RW_OK) return st;

    uint32_t t = clamp_ts(ts);
    void *rec = rec_at(g, kind, r);
    if (kinds[kind].linked)
        *(attr_rec *)rec = (attr_rec){{{t, t}, 0, 0}, *h, {{0}, 0}};
    else
        *(subnet_rec *)rec = (subnet_rec){{t, t}, *h};
    if (kind == RW_KIND_IP) *parent_at(g, r) = parent;
    *out = node_add(g, kind);
    table_put(&g->by_attr, attr_code(kind, h), *out);
    return RW_OK;
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

static void seen(seen_rec *r, uint32_t t) {
    if (t < r->first) r->first = t;
    if (t > r->last) r->last = t;
}

/* Appends the edge to both lists. Both new blocks are allocated before
 * anything changes, so a failure leaves the graph as it was. */
static rw_status add_edge(rw_graph *g, adj_rec *a, attr_rec *ar, uint32_t account, uint32_t attr, uint32_t t,
                          rw_err *err) {
    arena *m = &g->adj;
    adj_rec *b = &ar->adj;
    if (a->len == UINT32_MAX || b->len == UINT32_MAX)
        return rw_fail(err, RW_ERR_LIMIT, "graph: adjacency list too long");
    unsigned ca = a->len ? class_of((uint64_t)a->len * EDGE_WORDS) : NCLASS;
    unsigned ca2 = class_of(((uint64_t)a->len + 1) * EDGE_WORDS);
    unsigned cb = b->len >= 2 ? class_of(b->len) : NCLASS;
    unsigned cb2 = class_of((uint64_t)b->len + 1);
    int grow_a = ca2 != ca, grow_b = b->len >= 1 && cb2 != cb;
    uint32_t na = 0, nb = 0;
    rw_status st = RW_OK;
    if (grow_a && (st = arena_alloc(m, &na, ca2, err)) != RW_OK) return st;
    if (grow_b && (st = arena_alloc(m, &nb, cb2, err)) != RW_OK) {
        if (grow_a) arena_release(m, na, ca2);
        return st;
    }
    if (grow_a) {
        if (a->len) {
            memcpy(word_at(m, na), word_at(m, a->off), (size_t)a->len * sizeof(rw_edge));
            arena_release(m, a->off, ca);
        }
        a->off = na;
    }
    if (grow_b) {
        if (b->len == 1) {
            *word_at(m, nb) = b->off;
        } else {
            memcpy(word_at(m, nb), word_at(m, b->off), (size_t)b->len * sizeof(uint32_t));
            arena_release(m, b->off, cb);
        }
        b->off = nb;
    }
    ((rw_edge *)word_at(m, a->off))[a->len++] = (rw_edge){attr, t, t, 1};
    if (b->len == 0)
        b->off = account;
    else
        word_at(m, b->off)[b->len] = account;
    b->len++;
    vel_add(&ar->vel, t);
    g->edges++;
    return RW_OK;
}

rw_status rw_graph_observe(rw_graph *g, int *is_new, uint32_t account, uint32_t attr, int64_t ts, rw_err *err) {
    if (is_new) *is_new = 0;
    if (!is_kind(g, account, RW_KIND_ACCOUNT))
        return rw_fail(err, RW_ERR_INVALID, "graph: node %u is not an account", (unsigned)account);
    unsigned k = attr_kind(g, attr);
    if (!k || !kinds[k].linked)
        return rw_fail(err, RW_ERR_INVALID, "graph: node %u is not an ip, device or payment", (unsigned)attr);
    uint32_t t = clamp_ts(ts);
    adj_rec *a = rec_at(g, RW_KIND_ACCOUNT, rank_of(g, account, RW_KIND_ACCOUNT));
    attr_rec *b = rec_at(g, k, rank_of(g, attr, k));
    rw_edge *e = a->len ? (rw_edge *)word_at(&g->adj, a->off) : NULL;
    uint32_t i = 0;
    while (i < a->len && e[i].attr != attr) i++;
    if (i < a->len) {
        e += i;
        if (t < e->first_seen) e->first_seen = t;
        if (t > e->last_seen) e->last_seen = t;
        if (e->count < UINT32_MAX) e->count++;
    } else {
        rw_status st = add_edge(g, a, b, account, attr, t, err);
        if (st != RW_OK) return st;
        if (is_new) *is_new = 1;
    }
    seen(&a->seen, t);
    seen(&b->adj.seen, t);
    return RW_OK;
}

void rw_graph_touch(rw_graph *g, uint32_t node, int64_t ts) {
    unsigned k;
    if (g && node < g->n) seen(rec_of(g, node, &k), clamp_ts(ts));
}

/* ---- queries -------------------------------------------------------------- */

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
    return g && node < g->n ? (rw_kind)node_kind(g, node) : RW_KIND_COUNT;
}

uint32_t rw_graph_degree(const rw_graph *g, uint32_t node) {
    unsigned k;
    if (!g || node >= g->n) return 0;
    void *rec = rec_of(g, node, &k);
    return kinds[k].linked ? ((const adj_rec *)rec)->len : 0;
}

int64_t rw_graph_first_seen(const rw_graph *g, uint32_t node) {
    unsigned k;
    return g && node < g->n ? (int64_t)((const seen_rec *)rec_of(g, node, &k))->first : 0;
}

int64_t rw_graph_last_seen(const rw_graph *g, uint32_t node) {
    unsigned k;
    return g && node < g->n ? (int64_t)((const seen_rec *)rec_of(g, node, &k))->last : 0;
}

uint32_t rw_graph_parent(const rw_graph *g, uint32_t node) {
    return is_kind(g, node, RW_KIND_IP) ? *parent_at(g, rank_of(g, node, RW_KIND_IP)) : NONE;
}

const char *rw_graph_account_id(const rw_graph *g, uint32_t node, size_t *len) {
    if (len) *len = 0;
    if (!is_kind(g, node, RW_KIND_ACCOUNT)) return NULL;
    const unsigned char *p = account_id_at(g, rank_of(g, node, RW_KIND_ACCOUNT));
    if (len) *len = (size_t)p[0] + 1;
    return (const char *)p + 1;
}

const rw_hash *rw_graph_attr_hash(const rw_graph *g, uint32_t node) {
    unsigned k = attr_kind(g, node);
    return k ? hash_of(rec_at(g, k, rank_of(g, node, k)), k) : NULL;
}

const rw_edge *rw_graph_account_edges(const rw_graph *g, uint32_t account, uint32_t *n) {
    if (n) *n = 0;
    if (!is_kind(g, account, RW_KIND_ACCOUNT)) return NULL;
    const adj_rec *r = rec_at(g, RW_KIND_ACCOUNT, rank_of(g, account, RW_KIND_ACCOUNT));
    if (r->len == 0) return NULL;
    if (n) *n = r->len;
    return (const rw_edge *)word_at(&g->adj, r->off);
}

const uint32_t *rw_graph_attr_accounts(const rw_graph *g, uint32_t attr, uint32_t *n) {
    if (n) *n = 0;
    unsigned k = attr_kind(g, attr);
    if (!k || !kinds[k].linked) return NULL;
    const adj_rec *r = &((const attr_rec *)rec_at(g, k, rank_of(g, attr, k)))->adj;
    if (r->len == 0) return NULL;
    if (n) *n = r->len;
    return r->len == 1 ? &r->off : word_at(&g->adj, r->off);
}

void rw_graph_velocity(const rw_graph *g, uint32_t attr, int64_t now, double out[RW_VEL_COUNT]) {
    for (int i = 0; i < RW_VEL_COUNT; i++) out[i] = 0;
    unsigned k = attr_kind(g, attr);
    if (!k || !kinds[k].linked) return;
    const vel_rec *r = &((const attr_rec *)rec_at(g, k, rank_of(g, attr, k)))->vel;
    double dt = now > (int64_t)r->last ? (double)(now - (int64_t)r->last) : 0.0;
    for (int i = 0; i < RW_VEL_COUNT; i++) out[i] = (double)r->v[i] * decay(dt, i);
}

size_t rw_graph_memory(const rw_graph *g) {
    if (!g) return 0;
    size_t b = sizeof *g + MALLOC_OVERHEAD;
    b += pages_bytes(&g->kind, NODE_SHIFT, 1);
    b += pages_bytes(&g->dir, DIR_SHIFT, sizeof(dir_rec));
    for (unsigned k = 0; k < RW_KIND_COUNT; k++) b += pages_bytes(&g->recs[k], kinds[k].shift, kinds[k].size);
    b += pages_bytes(&g->parent, SLOT_SHIFT, sizeof(uint32_t));
    b += pages_bytes(&g->idoff, SLOT_SHIFT, sizeof(uint32_t));
    b += pages_bytes(&g->ids, ID_SHIFT, 1);
    b += g->adj.bytes;
    if (g->adj.page) b += g->adj.cap * sizeof *g->adj.page + MALLOC_OVERHEAD;
    if (g->adj.huge) b += g->adj.caphuge * sizeof *g->adj.huge + MALLOC_OVERHEAD;
    b += table_bytes(&g->by_attr) + table_bytes(&g->by_account);
    return b;
}
