/* Ground-truth table for eval and model fitting. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "truth.h"

typedef struct {
    char *account;
    uint8_t ring, tactic;
    uint32_t ring_id; /* 1-based index of the ring's name; 0 for none */
} entry;

struct rw_truth {
    entry *e;
    size_t n, cap;
    uint32_t *slot; /* index + 1; 0 empty */
    size_t mask;
    char *tactic[RW_TRUTH_MAX_TACTICS];
    int ntactics;
    char **ring; /* ring names, ring_id - 1 */
    uint32_t nrings, ring_cap, last_ring;
};

/* The id of a ring name (members are usually contiguous, so the last one
 * is tried first); 0 when out of memory. */
static uint32_t ring_index(rw_truth *t, const char *name) {
    if (t->last_ring && !strcmp(t->ring[t->last_ring - 1], name)) return t->last_ring;
    for (uint32_t i = 0; i < t->nrings; i++)
        if (!strcmp(t->ring[i], name)) return t->last_ring = i + 1;
    if (t->nrings == t->ring_cap) {
        uint32_t cap = t->ring_cap ? t->ring_cap * 2 : 64;
        char **n = realloc(t->ring, cap * sizeof *n);
        if (!n) return 0;
        t->ring = n, t->ring_cap = cap;
    }
    if (!(t->ring[t->nrings] = strdup(name))) return 0;
    return t->last_ring = ++t->nrings;
}

static uint64_t str_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h ^ (h >> 29);
}

void rw_truth_free(rw_truth *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) free(t->e[i].account);
    for (int i = 0; i < t->ntactics; i++) free(t->tactic[i]);
    for (uint32_t i = 0; i < t->nrings; i++) free(t->ring[i]);
    free(t->ring);
    free(t->e);
    free(t->slot);
    free(t);
}

static int tactic_index(rw_truth *t, const char *name) {
    for (int i = 0; i < t->ntactics; i++)
        if (!strcmp(t->tactic[i], name)) return i;
    if (t->ntactics == RW_TRUTH_MAX_TACTICS) return -1;
    t->tactic[t->ntactics] = strdup(name);
    return t->tactic[t->ntactics] ? t->ntactics++ : -1;
}

static int build_index(rw_truth *t) {
    size_t size = 16;
    while (size < t->n * 2) size <<= 1;
    t->slot = calloc(size, sizeof *t->slot);
    if (!t->slot) return -1;
    t->mask = size - 1;
    for (size_t i = 0; i < t->n; i++) {
        size_t k = str_hash(t->e[i].account) & t->mask;
        while (t->slot[k]) k = (k + 1) & t->mask;
        t->slot[k] = (uint32_t)(i + 1);
    }
    return 0;
}

rw_status rw_truth_load(rw_truth **out, const char *path, rw_err *err) {
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return rw_fail(err, RW_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    rw_truth *t = calloc(1, sizeof *t);
    rw_status st = RW_OK;
    char line[1024];
    long ln = 0;
    if (!t) {
        st = rw_fail(err, RW_ERR_NOMEM, "out of memory");
        goto done;
    }
    while (fgets(line, sizeof line, f)) {
        ln++;
        size_t len = strcspn(line, "\r\n");
        line[len] = 0;
        if (ln == 1 && !strncmp(line, "account,", 8)) continue;
        if (!len) continue;
        char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        if (!c1 || !c2) {
            st = rw_fail(err, RW_ERR_INVALID, "%s:%ld: expected account,ring,tactic", path, ln);
            goto done;
        }
        *c1 = *c2 = 0;
        int tac = tactic_index(t, c2 + 1);
        if (tac < 0) {
            st = rw_fail(err, RW_ERR_INVALID, "%s:%ld: tactic: more than %d tactics", path, ln, RW_TRUTH_MAX_TACTICS);
            goto done;
        }
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 4096;
            entry *ne = realloc(t->e, cap * sizeof *ne);
            if (!ne) {
                st = rw_fail(err, RW_ERR_NOMEM, "out of memory");
                goto done;
            }
            t->e = ne;
            t->cap = cap;
        }
        t->e[t->n].account = strdup(line);
        if (!t->e[t->n].account) {
            st = rw_fail(err, RW_ERR_NOMEM, "out of memory");
            goto done;
        }
        t->e[t->n].ring = c1[1] != 0;
        t->e[t->n].ring_id = 0;
        if (c1[1] && !(t->e[t->n].ring_id = ring_index(t, c1 + 1))) {
            free(t->e[t->n].account);
            st = rw_fail(err, RW_ERR_NOMEM, "out of memory");
            goto done;
        }
        t->e[t->n].tactic = (uint8_t)tac;
        t->n++;
    }
    if (build_index(t) != 0) st = rw_fail(err, RW_ERR_NOMEM, "out of memory");
done:
    fclose(f);
    if (st != RW_OK) {
        rw_truth_free(t);
        return st;
    }
    *out = t;
    return RW_OK;
}

long rw_truth_find(const rw_truth *t, const char *account, int *ring, int *tactic) {
    size_t k = str_hash(account) & t->mask;
    while (t->slot[k]) {
        const entry *e = &t->e[t->slot[k] - 1];
        if (!strcmp(e->account, account)) {
            *ring = e->ring;
            *tactic = e->tactic;
            return (long)(t->slot[k] - 1);
        }
        k = (k + 1) & t->mask;
    }
    return -1;
}

size_t rw_truth_count(const rw_truth *t) {
    return t->n;
}

void rw_truth_entry(const rw_truth *t, size_t i, int *ring, int *tactic) {
    *ring = t->e[i].ring;
    *tactic = t->e[i].tactic;
}

int rw_truth_tactics(const rw_truth *t) {
    return t->ntactics;
}

const char *rw_truth_tactic_name(const rw_truth *t, int tactic) {
    return tactic >= 0 && tactic < t->ntactics ? t->tactic[tactic] : "";
}

uint32_t rw_truth_ring_id(const rw_truth *t, size_t i) {
    return i < t->n ? t->e[i].ring_id : 0;
}

uint32_t rw_truth_rings(const rw_truth *t) {
    return t->nrings;
}
