/* graph: its memory: 2 MiB-aligned chunks advised for huge pages, paged
 * arrays carved from them, and the size-class arena of adjacency blocks. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "graph_int.h"

/* size bytes (a multiple of HUGE_PAGE) of zeroed memory aligned to a huge
 * page and advised for transparent huge pages, or NULL. */
void *rw_gm_map_huge(size_t size) {
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

void rw_gm_unmap_huge(void *p, size_t size) {
    UNPOISON(p, size); /* the next mapping at this address must not inherit the poison */
    munmap(p, size);
}

/* bytes of zeroed memory aligned to a page of the OS, carved from the
 * current chunk (never freed before the graph), or NULL. */
void *rw_gm_carve(chunks *m, size_t bytes) {
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
        char *base = rw_gm_map_huge(size);
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
size_t rw_gm_chunks_bytes(const chunks *m) {
    if (!m->c) return 0;
    size_t b = m->cap * sizeof *m->c + MALLOC_OVERHEAD;
    for (uint32_t i = 0; i < m->n; i++) b += round_up(m->c[i].used, OS_PAGE);
    return b;
}

void rw_gm_chunks_free(chunks *m) {
    for (uint32_t i = 0; i < m->n; i++) rw_gm_unmap_huge(m->c[i].base, m->c[i].size);
    free(m->c);
}

/* Makes element i addressable; i is at most one past the last page. */
int rw_gm_ensure(pages *p, chunks *m, uint32_t i, unsigned shift, size_t size) {
    if ((i >> shift) < p->n) return 0;
    if (p->n == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 8;
        void **t = realloc(p->page, cap * sizeof *t);
        if (!t) return -1;
        p->page = t;
        p->cap = cap;
    }
    void *pg = rw_gm_carve(m, size << shift);
    if (!pg) return -1;
    p->page[p->n++] = pg;
    return 0;
}

size_t rw_gm_pages_bytes(const pages *p) {
    return p->page ? p->cap * sizeof *p->page + MALLOC_OVERHEAD : 0;
}

rw_status rw_gm_arena_reserve(arena *a, uint32_t more, rw_err *err) {
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
        rw_status st = rw_gm_arena_reserve(a, np, err);
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

rw_status rw_gm_arena_alloc(arena *a, chunks *m, uint32_t *off, unsigned c, rw_err *err) {
    if (c >= NCLASS) return rw_fail(err, RW_ERR_LIMIT, "graph: adjacency list too long");
    if (c >= HUGE_CLASS) return alloc_huge(a, off, c, err);
    if (a->head[c] != NONE) {
        *off = a->head[c];
        a->head[c] = *word_at(a, *off);
        return RW_OK;
    }
    uint32_t words = class_words(c);
    if (a->bump == NONE || a->used + words > ARENA_PAGE) {
        rw_status st = rw_gm_arena_reserve(a, 1, err);
        if (st != RW_OK) return st;
        uint32_t *mem = rw_gm_carve(m, ARENA_PAGE * sizeof *mem);
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

void rw_gm_arena_release(arena *a, uint32_t off, unsigned c) {
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

void rw_gm_arena_free(arena *a) {
    for (uint32_t i = 0; i < a->nhuge; i++) {
        if (a->huge[i].live) free(a->page[a->huge[i].first]);
    }
    free(a->page);
    free(a->huge);
}
