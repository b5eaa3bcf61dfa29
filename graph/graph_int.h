/* graph: what its source files share and nothing outside graph/ sees: the
 * layout of the graph's memory (node records, directory, adjacency arena,
 * index tables), the small accessors every part inlines, and the memory
 * primitives of graph_mem.c. graph.c keeps the lookup and growth paths in
 * one unit, so their helpers inline into them. */
#ifndef RW_GRAPH_INT_H
#define RW_GRAPH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "graph.h"

#if defined(__SANITIZE_ADDRESS__)
#define RW_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RW_ASAN 1
#endif
#endif
#ifdef RW_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* The writer is bound by memory latency: on the virtual machines we target a
 * dependent miss costs 250-400 ns, an independent one (several in flight)
 * 10-15 ns, and a 4 KiB page fault about 12 us. So: a lookup decides a miss
 * from one index line, a hit costs that line plus the node's record, and the
 * record also holds what rw_graph_observe needs next; the prefetch API walks
 * that chain ahead of the writer, turning dependent misses into independent
 * ones; storage comes from 2 MiB-aligned chunks advised for transparent huge
 * pages, which makes 512 times fewer page faults. Storage is paged, never
 * realloc'd: pages never move, so hashes and account ids stay valid until
 * the graph is freed (graph.h). */
#define HUGE_PAGE   ((size_t)2 << 20)
#define CHUNK_BYTES ((size_t)16 << 20)
#define OS_PAGE     ((size_t)4096)
#define BLOCK_SHIFT 7  /* node blocks (4 KiB) per page */
#define SLOT_SHIFT  14 /* parents per page */
#define ID_SHIFT    16 /* bytes per page of long account ids */
#define ID_PAGES    (1u << (32 - ID_SHIFT))
#define ID_INLINE   14 /* longer account ids live in the id pages */
#define ARENA_SHIFT 14 /* u32 words per adjacency page */
#define ARENA_PAGE  (1u << ARENA_SHIFT)
#define ARENA_PAGES (1u << (32 - ARENA_SHIFT))
/* Block sizes in words are 1, 2, 3, 4, 6, 8, 12, ...: powers of two and the
 * half steps between them. Half steps matter: a typical account has three
 * edges (12 words), which a pure power of two would round up to 16. */
#define NCLASS     60                /* up to 2^30 words */
#define HUGE_CLASS (2 * ARENA_SHIFT) /* first class larger than a page */
#define NONE       RW_NODE_NONE
#define EDGE_WORDS (sizeof(rw_edge) / sizeof(uint32_t))
#define VEL_WORDS  4 /* the velocity header of an attribute's block */
/* What malloc adds to each allocation, so rw_graph_memory is not flattering. */
#define MALLOC_OVERHEAD 16

/* Every node has one 32-byte record at its id, two to a cache line:
 * - account: key = its id when at most ID_INLINE bytes (a byte len, the
 *   bytes, a NUL, zeros), else a 0 byte and at key + 4 the offset of the id
 *   in the id pages (a byte len-1, the bytes, a NUL); off = its edge block,
 *   aux = its degree.
 * - ip, device, payment: key = the hash. Degree 0: off = NONE, aux = 0.
 *   Degree 1: off = the account (so rw_graph_attr_accounts can point at it)
 *   and aux = the time of that edge; the velocity of one new account at aux
 *   is known without storing it. Degree 2 and more ("big", marked in the
 *   directory): off = a block of VEL_WORDS of velocity and the accounts,
 *   aux = the degree. About 85% of attributes keep degree 1, so velocity
 *   costs nothing for them.
 * - subnet: key = the hash; off and aux unused. */
typedef struct {
    union {
        rw_hash hash;
        uint8_t id[16];
    } key;
    uint32_t first, last; /* Unix seconds */
    uint32_t off, aux;
} node_rec;

/* The kind directory: one cache line per block of 126 nodes holding each
 * node's 3-bit code as bit planes (0 account, 1-3 ip/device/payment, 4
 * subnet, 5-7 a big ip/device/payment), and the IPs before the block, for the
 * parent array. It heads the 4 KiB page of the block's records, so a node's
 * kind and record are two lines of one page (fetched together by the
 * prefetch pipeline), at half a byte per node. */
#define BLOCK_NODES 126
#define CODE_BIG    4u
#define CODE_SUB    4u
/* A placeholder for an erased node has the subnet code (no edges, not an IP)
 * and this in aux, which a real subnet never sets: queries treat it as out of
 * range, and it is in no index. */
#define GAP_MARK UINT32_MAX
typedef struct {
    uint64_t plane[3][2];
    uint32_t ips_before;
    uint32_t unused[3];
} dir_line;

typedef struct {
    float v[RW_VEL_COUNT];
    uint32_t last; /* time the values refer to */
} vel_rec;

typedef struct {
    dir_line dir;
    node_rec rec[BLOCK_NODES];
} node_block;

_Static_assert(sizeof(node_rec) == 32, "node records are half a cache line");
_Static_assert(sizeof(dir_line) == 64, "directory lines are one cache line");
_Static_assert(sizeof(node_block) == 4096, "a node block is one page");
_Static_assert(sizeof(vel_rec) == VEL_WORDS * sizeof(uint32_t), "velocity header");

typedef struct {
    char *base;
    size_t size, used;
} chunk;

typedef struct {
    chunk *c;
    uint32_t n, cap;
} chunks;

typedef struct {
    void **page;
    uint32_t n, cap;
} pages;

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
    size_t huge_bytes;
} arena;

/* An index bucket is one cache line of ten slots, filled in order. A key
 * goes to its home bucket; when that is full, to a second bucket in the same
 * 4 KiB page (and on from there while full), and the home bucket is marked.
 * At the loads kept (42 to 85%) 0.5 to 8% of keys leave home, so a lookup
 * nearly always reads one line, and the 16-bit tag from the key's hash
 * decides nearly every miss without looking at a record. */
#define BUCKET_SLOTS 10
#define GROUP        64 /* buckets per page */
#define LEFT_HOME    1u /* a key whose home this is went to its second bucket */
#define PASSED_ON    2u /* a key went past this bucket, full, to the next one */
typedef struct {
    uint16_t tag[BUCKET_SLOTS]; /* slots fill in order */
    uint16_t n;                 /* slots used */
    uint16_t flags;
    uint32_t node[BUCKET_SLOTS];
} bucket;
_Static_assert(sizeof(bucket) == 64, "buckets are one cache line");

typedef struct {
    bucket *b;
    uint32_t nb, count, limit;
    size_t bytes;
    int mapped;
} table;

/* The prefetch pipeline: a key's bucket is fetched when it is announced,
 * its record PF_LAG1 announcements later, its adjacency PF_LAG2 after that.
 * Each step reads only what the one before fetched, so none waits on memory
 * (at about 4 announcements per event, 8 events ahead leaves 2 or 3 events
 * of work between steps); longer or shorter lags measured the same. */
#define PF_LAG1 12
#define PF_LAG2 8
typedef struct {
    uint64_t h;
    uint32_t table; /* 0 empty, 1 accounts, 2 attributes */
} pf_entry;

struct rw_graph {
    uint32_t n;
    uint64_t edges;
    uint32_t nkind[RW_KIND_COUNT];
    uint32_t ngap; /* placeholders of erased nodes */
    chunks mem;
    pages blocks; /* node_block per BLOCK_NODES nodes */
    pages parent; /* uint32_t per IP, by rank */
    pages ids;    /* long account ids */
    uint32_t id_used;
    arena adj;
    table by_attr, by_account;
    pf_entry pf1[PF_LAG1];
    uint32_t pf2[PF_LAG2];
    uint32_t pf1_at, pf2_at;
};

/* ---- memory (graph_mem.c) ---------------------------------------------------- */

void *rw_gm_map_huge(size_t size);
void rw_gm_unmap_huge(void *p, size_t size);
void *rw_gm_carve(chunks *m, size_t bytes);
size_t rw_gm_chunks_bytes(const chunks *m);
void rw_gm_chunks_free(chunks *m);
int rw_gm_ensure(pages *p, chunks *m, uint32_t i, unsigned shift, size_t size);
size_t rw_gm_pages_bytes(const pages *p);
rw_status rw_gm_arena_reserve(arena *a, uint32_t more, rw_err *err);
rw_status rw_gm_arena_alloc(arena *a, chunks *m, uint32_t *off, unsigned c, rw_err *err);
void rw_gm_arena_release(arena *a, uint32_t off, unsigned c);
void rw_gm_arena_free(arena *a);

/* ---- small accessors, inlined where used ----------------------------------- */

static inline size_t round_up(size_t x, size_t to) {
    return (x + to - 1) / to * to;
}

static inline void *at(const pages *p, uint32_t i, unsigned shift, size_t size) {
    return (char *)p->page[i >> shift] + (size_t)(i & ((1u << shift) - 1)) * size;
}

static inline node_block *block_at(const rw_graph *g, uint32_t blk) {
    return at(&g->blocks, blk, BLOCK_SHIFT, sizeof(node_block));
}

static inline node_rec *rec(const rw_graph *g, uint32_t v) {
    uint32_t blk = v / BLOCK_NODES;
    return &block_at(g, blk)->rec[v - blk * BLOCK_NODES];
}

static inline dir_line *dir_of(const rw_graph *g, uint32_t v) {
    return &block_at(g, v / BLOCK_NODES)->dir;
}

static inline unsigned code_of(const rw_graph *g, uint32_t v) {
    const dir_line *d = dir_of(g, v);
    unsigned s = v % BLOCK_NODES, w = s >> 6, b = s & 63;
    return (unsigned)((d->plane[0][w] >> b) & 1) | (unsigned)((d->plane[1][w] >> b) & 1) << 1 |
           (unsigned)((d->plane[2][w] >> b) & 1) << 2;
}

static inline void set_code(rw_graph *g, uint32_t v, unsigned code) {
    dir_line *d = dir_of(g, v);
    unsigned s = v % BLOCK_NODES, w = s >> 6, b = s & 63;
    for (unsigned j = 0; j < 3; j++) {
        if (code >> j & 1)
            d->plane[j][w] |= 1ull << b;
        else
            d->plane[j][w] &= ~(1ull << b);
    }
}

static inline unsigned kind_of_code(unsigned code) {
    return code == CODE_SUB ? RW_KIND_SUBNET : code & 3;
}

/* The IPs (codes 1 and 5: low bits 01) before IP v. */
static inline uint32_t ip_rank(const rw_graph *g, uint32_t v) {
    const dir_line *d = dir_of(g, v);
    unsigned s = v % BLOCK_NODES, w = s >> 6, b = s & 63;
    uint32_t r = d->ips_before;
    if (w) r += (uint32_t)__builtin_popcountll(d->plane[0][0] & ~d->plane[1][0]);
    uint64_t below = b ? ~0ull >> (64 - b) : 0;
    return r + (uint32_t)__builtin_popcountll(d->plane[0][w] & ~d->plane[1][w] & below);
}

static inline uint32_t *parent_at(const rw_graph *g, uint32_t r) {
    return at(&g->parent, r, SLOT_SHIFT, sizeof(uint32_t));
}

static inline unsigned char *id_at(const rw_graph *g, uint32_t off) {
    return at(&g->ids, off, ID_SHIFT, 1);
}

/* An account's id and its length. */
static inline const char *account_id(const rw_graph *g, const node_rec *r, size_t *len) {
    if (r->key.id[0]) {
        *len = r->key.id[0];
        return (const char *)r->key.id + 1;
    }
    uint32_t off;
    memcpy(&off, r->key.id + 4, sizeof off);
    const unsigned char *p = id_at(g, off);
    *len = (size_t)p[0] + 1;
    return (const char *)p + 1;
}

static inline int is_gap(const rw_graph *g, uint32_t v) {
    return rec(g, v)->aux == GAP_MARK;
}

/* The code of node v, or NONE when v is out of range or a placeholder. */
static inline unsigned code_or_none(const rw_graph *g, uint32_t v) {
    if (!g || v >= g->n) return NONE;
    unsigned c = code_of(g, v);
    return c == CODE_SUB && is_gap(g, v) ? NONE : c;
}

static inline uint32_t clamp_ts(int64_t ts) {
    if (ts < 0) return 0;
    if (ts > (int64_t)UINT32_MAX) return UINT32_MAX;
    return (uint32_t)ts;
}

static inline uint32_t class_words(unsigned c) {
    if (c == 0) return 1;
    return (c & 1) ? 1u << ((c + 1) / 2) : 3u << ((c - 2) / 2);
}

/* The smallest class of at least words words. */
static inline unsigned class_of(uint64_t words) {
    if (words <= 1) return 0;
    unsigned k = 63u - (unsigned)__builtin_clzll(words - 1); /* 2^k < words <= 2^(k+1) */
    if (k >= 1 && words <= (3ull << (k - 1))) return 2 * k;
    return 2 * k + 1;
}

static inline uint32_t *word_at(const arena *a, uint32_t off) {
    return a->page[off >> ARENA_SHIFT] + (off & (ARENA_PAGE - 1));
}

#endif
