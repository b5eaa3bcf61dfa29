/* graph: 32-byte node records by node id with a kind directory, adjacency in
 * a size-class arena, bucketed indexes with 16-bit tags, lazy velocity
 * counters and a software prefetch pipeline, on huge-page chunks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

static const double vel_tau[RW_VEL_COUNT] = {3600.0, 86400.0, 604800.0};

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

/* ---- chunks --------------------------------------------------------------- */

static size_t round_up(size_t x, size_t to) {
    return (x + to - 1) / to * to;
}

/* size bytes (a multiple of HUGE_PAGE) of zeroed memory aligned to a huge
 * page and advised for transparent huge pages, or NULL. */
static void *map_huge(size_t size) {
    size_t span = size + HUGE_PAGE;
    char *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    char *a = p + (HUGE_PAGE - (uintptr_t)p % HUGE_PAGE) % HUGE_PAGE;
    size_t head = (size_t)(a - p), tail = span - head - size;
    if (head) munmap(p, head);
    if (tail) munmap(a + size, tail);
#ifdef MADV_HUGEPAGE
    madvise(a, size, MADV_HUGEPAGE); /* a hint: without THP the memory works the same */
#endif
    return a;
}

static void unmap_huge(void *p, size_t size) {
    UNPOISON(p, size); /* the next mapping at this address must not inherit the poison */
    munmap(p, size);
}

/* bytes of zeroed memory aligned to a page of the OS, carved from the
 * current chunk (never freed before the graph), or NULL. */
static void *carve(chunks *m, size_t bytes) {
    bytes = round_up(bytes, OS_PAGE); /* everything carved is a multiple of OS pages, so stays page-aligned */
    if (!m->n || m->c[m->n - 1].size - m->c[m->n - 1].used < bytes) {
        if (m->n == m->cap) {
            uint32_t cap = m->cap ? m->cap * 2 : 8;
            chunk *t = realloc(m->c, cap * sizeof *t);
            if (!t) return NULL;
            m->c = t;
            m->cap = cap;
        }
        size_t size = bytes > CHUNK_BYTES ? round_up(bytes, HUGE_PAGE) : CHUNK_BYTES;
        char *base = map_huge(size);
        if (!base) return NULL;
        POISON(base, size);
        m->c[m->n++] = (chunk){base, size, 0};
    }
    chunk *c = &m->c[m->n - 1];
    char *p = c->base + c->used;
    c->used += bytes;
    UNPOISON(p, bytes);
    return p;
}

/* The carved part of each chunk, in whole pages of the OS: the rest of a
 * chunk is address space that was never touched, so it is not resident.
 * (With transparent huge pages the kernel may back the rest of the huge page
 * being carved as well: at most 2 MiB more.) */
static size_t chunks_bytes(const chunks *m) {
    if (!m->c) return 0;
    size_t b = m->cap * sizeof *m->c + MALLOC_OVERHEAD;
    for (uint32_t i = 0; i < m->n; i++) b += round_up(m->c[i].used, OS_PAGE);
    return b;
}

static void chunks_free(chunks *m) {
    for (uint32_t i = 0; i < m->n; i++) unmap_huge(m->c[i].base, m->c[i].size);
    free(m->c);
}

/* ---- paged arrays --------------------------------------------------------- */

static void *at(const pages *p, uint32_t i, unsigned shift, size_t size) {
    return (char *)p->page[i >> shift] + (size_t)(i & ((1u << shift) - 1)) * size;
}

/* Makes element i addressable; i is at most one past the last page. */
static int ensure(pages *p, chunks *m, uint32_t i, unsigned shift, size_t size) {
    if ((i >> shift) < p->n) return 0;
    if (p->n == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 8;
        void **t = realloc(p->page, cap * sizeof *t);
        if (!t) return -1;
        p->page = t;
        p->cap = cap;
    }
    void *pg = carve(m, size << shift);
    if (!pg) return -1;
    p->page[p->n++] = pg;
    return 0;
}

static size_t pages_bytes(const pages *p) {
    return p->page ? p->cap * sizeof *p->page + MALLOC_OVERHEAD : 0;
}

/* ---- nodes ---------------------------------------------------------------- */

static node_block *block_at(const rw_graph *g, uint32_t blk) {
    return at(&g->blocks, blk, BLOCK_SHIFT, sizeof(node_block));
}

static node_rec *rec(const rw_graph *g, uint32_t v) {
    uint32_t blk = v / BLOCK_NODES;
    return &block_at(g, blk)->rec[v - blk * BLOCK_NODES];
}

static dir_line *dir_of(const rw_graph *g, uint32_t v) {
    return &block_at(g, v / BLOCK_NODES)->dir;
}

static unsigned code_of(const rw_graph *g, uint32_t v) {
    const dir_line *d = dir_of(g, v);
    unsigned s = v % BLOCK_NODES, w = s >> 6, b = s & 63;
    return (unsigned)((d->plane[0][w] >> b) & 1) | (unsigned)((d->plane[1][w] >> b) & 1) << 1 |
           (unsigned)((d->plane[2][w] >> b) & 1) << 2;
}

static void set_code(rw_graph *g, uint32_t v, unsigned code) {
    dir_line *d = dir_of(g, v);
    unsigned s = v % BLOCK_NODES, w = s >> 6, b = s & 63;
    for (unsigned j = 0; j < 3; j++) {
        if (code >> j & 1)
            d->plane[j][w] |= 1ull << b;
        else
            d->plane[j][w] &= ~(1ull << b);
    }
}

static unsigned kind_of_code(unsigned code) {
    return code == CODE_SUB ? RW_KIND_SUBNET : code & 3;
}

/* The IPs (codes 1 and 5: low bits 01) before IP v. */
static uint32_t ip_rank(const rw_graph *g, uint32_t v) {
    const dir_line *d = dir_of(g, v);
    unsigned s = v % BLOCK_NODES, w = s >> 6, b = s & 63;
    uint32_t r = d->ips_before;
    if (w) r += (uint32_t)__builtin_popcountll(d->plane[0][0] & ~d->plane[1][0]);
    uint64_t below = b ? ~0ull >> (64 - b) : 0;
    return r + (uint32_t)__builtin_popcountll(d->plane[0][w] & ~d->plane[1][w] & below);
}

static uint32_t *parent_at(const rw_graph *g, uint32_t r) {
    return at(&g->parent, r, SLOT_SHIFT, sizeof(uint32_t));
}

static unsigned char *id_at(const rw_graph *g, uint32_t off) {
    return at(&g->ids, off, ID_SHIFT, 1);
}

/* An account's id and its length. */
static const char *account_id(const rw_graph *g, const node_rec *r, size_t *len) {
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

static int is_gap(const rw_graph *g, uint32_t v) {
    return rec(g, v)->aux == GAP_MARK;
}

/* The code of node v, or NONE when v is out of range or a placeholder. */
static unsigned code_or_none(const rw_graph *g, uint32_t v) {
    if (!g || v >= g->n) return NONE;
    unsigned c = code_of(g, v);
    return c == CODE_SUB && is_gap(g, v) ? NONE : c;
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
    a->huge_bytes += (size_t)words * sizeof *mem + MALLOC_OVERHEAD;
    return RW_OK;
}

static rw_status arena_alloc(arena *a, chunks *m, uint32_t *off, unsigned c, rw_err *err) {
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
        uint32_t *mem = carve(m, ARENA_PAGE * sizeof *mem);
        if (!mem) return rw_fail(err, RW_ERR_NOMEM, "graph: out of memory for adjacency");
        if (a->bump != NONE) arena_spill(a);
        a->page[a->n] = mem;
        a->bump = a->n++;
        a->used = 0;
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
        a->huge_bytes -= (size_t)class_words(c) * sizeof(uint32_t) + MALLOC_OVERHEAD;
        return;
    }
}

static void arena_free(arena *a) {
    for (uint32_t i = 0; i < a->nhuge; i++) {
        if (a->huge[i].live) free(a->page[a->huge[i].first]);
    }
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
        unmap_huge(t->b, t->bytes);
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
        t->b = map_huge(t->bytes);
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

/* A mapped table counts the pages its buckets use: the rest of its last huge
 * page is never touched. */
static size_t table_bytes(const table *t) {
    if (!t->b) return 0;
    return t->mapped ? round_up((size_t)t->nb * sizeof(bucket), OS_PAGE) : t->bytes + MALLOC_OVERHEAD;
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
    arena_free(&g->adj);
    table_free(&g->by_attr);
    table_free(&g->by_account);
    chunks_free(&g->mem);
    free(g);
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
    if (ensure(&g->blocks, &g->mem, g->n / BLOCK_NODES, BLOCK_SHIFT, sizeof(node_block)))
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
        if (ensure(&g->ids, &g->mem, g->ids.n << ID_SHIFT, ID_SHIFT, 1))
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
    if (kind == RW_KIND_IP && ensure(&g->parent, &g->mem, r, SLOT_SHIFT, sizeof(uint32_t)))
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
    if (grow_a && (st = arena_alloc(m, &g->mem, &na, ca2, err)) != RW_OK) return st;
    if (grow_b && (st = arena_alloc(m, &g->mem, &nb, cb2, err)) != RW_OK) {
        if (grow_a) arena_release(m, na, ca2);
        return st;
    }
    if (grow_a) {
        if (a->aux) {
            memcpy(word_at(m, na), word_at(m, a->off), (size_t)a->aux * sizeof(rw_edge));
            arena_release(m, a->off, ca);
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
                arena_release(m, b->off, cb);
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

void rw_graph_velocity(const rw_graph *g, uint32_t attr, int64_t now, double out[RW_VEL_COUNT]) {
    for (int i = 0; i < RW_VEL_COUNT; i++) out[i] = 0;
    unsigned code = code_or_none(g, attr);
    if (code == 0 || code == CODE_SUB || code == NONE) return;
    vel_rec r = vel_of(g, rec(g, attr), code);
    double dt = now > (int64_t)r.last ? (double)(now - (int64_t)r.last) : 0.0;
    for (int i = 0; i < RW_VEL_COUNT; i++) out[i] = (double)r.v[i] * decay(dt, i);
}

size_t rw_graph_memory(const rw_graph *g) {
    if (!g) return 0;
    size_t b = sizeof *g + MALLOC_OVERHEAD + chunks_bytes(&g->mem);
    b += pages_bytes(&g->blocks) + pages_bytes(&g->parent) + pages_bytes(&g->ids);
    b += g->adj.huge_bytes;
    if (g->adj.page) b += g->adj.cap * sizeof *g->adj.page + MALLOC_OVERHEAD;
    if (g->adj.huge) b += g->adj.caphuge * sizeof *g->adj.huge + MALLOC_OVERHEAD;
    b += table_bytes(&g->by_attr) + table_bytes(&g->by_account);
    return b;
}
