/* Strong-tie parts of communities: a community that modularity glued
 * together through weak ties (a ring on residential proxies whose exits are
 * live households' home addresses) splits into the groups of accounts that
 * share a device or a payment token with each other. */
#include <stdlib.h>
#include <string.h>

#include "detectors_int.h"

static uint32_t find(uint32_t *par, uint32_t x) {
    while (par[x] != x) {
        par[x] = par[par[x]];
        x = par[x];
    }
    return x;
}

/* Union keeping the smallest node id as the root, so parts come out
 * numbered in order of their smallest account. */
static void unite(uint32_t *par, uint32_t a, uint32_t b) {
    a = find(par, a);
    b = find(par, b);
    if (a < b)
        par[b] = a;
    else if (b < a)
        par[a] = b;
}

static int strong_kind(uint8_t kind) {
    return kind == RW_KIND_DEVICE || kind == RW_KIND_PAYMENT;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

rw_status rw_detect_strong_parts(const rw_graph_snap *s, uint32_t hub_degree, double min_coherence,
                                 const uint32_t *membership, uint32_t ncomm, const uint8_t *split, uint32_t *parts,
                                 uint32_t *nparts, rw_err *err) {
    rw_status st = RW_OK;
    uint32_t *par = malloc(((size_t)s->n + 1) * sizeof *par);
    uint32_t *size = calloc((size_t)s->n + 1, sizeof *size);
    uint32_t *first = malloc(((size_t)ncomm + 1) * sizeof *first);
    uint32_t *stamp = malloc(((size_t)ncomm + 1) * sizeof *stamp);
    uint32_t *buf = malloc(((size_t)hub_degree + 1) * sizeof *buf);
    *nparts = ncomm;
    if (!par || !size || !first || !stamp || !buf) {
        st = rw_fail(err, RW_ERR_NOMEM, "strong parts: out of memory for %u nodes", s->n);
        goto done;
    }
    for (uint32_t v = 0; v < s->n; v++) {
        par[v] = v;
        if (membership[v] >= ncomm) {
            st = rw_fail(err, RW_ERR_INVALID, "strong parts: node %u has community %u of %u", v, membership[v], ncomm);
            goto done;
        }
    }
    for (uint32_t c = 0; c < ncomm; c++) stamp[c] = UINT32_MAX;
    /* Accounts of one split community that share a strong attribute: each
     * joins the first such account met on the attribute. */
    for (uint32_t t = 0; t < s->n; t++) {
        uint32_t deg = rw_detect_degree(s, t);
        if (!strong_kind(s->kind[t]) || deg < 2 || deg > hub_degree) continue;
        /* A tail stock fingerprint is shared by strangers over weeks, a
         * ring's devices and cards are taken up together. */
        if (rw_detect_coherence(s, t, buf) < min_coherence) continue;
        for (uint64_t k = s->off[t]; k < s->off[t + 1]; k++) {
            uint32_t a = s->nbr[k], c = membership[a];
            if (!split[c]) continue;
            if (stamp[c] != t) {
                stamp[c] = t;
                first[c] = a;
            } else {
                unite(par, first[c], a);
            }
        }
    }
    for (uint32_t v = 0; v < s->n; v++)
        if (s->kind[v] == RW_KIND_ACCOUNT && split[membership[v]]) size[find(par, v)]++;
    /* Parts of two or more accounts get fresh ids in order of their root;
     * a lone account stays with what is left of its community. */
    uint32_t next = ncomm;
    for (uint32_t v = 0; v < s->n; v++) {
        if (s->kind[v] != RW_KIND_ACCOUNT) continue;
        uint32_t c = membership[v];
        if (!split[c]) {
            parts[v] = c;
            continue;
        }
        uint32_t r = find(par, v);
        if (size[r] < 2) {
            parts[v] = c;
        } else if (r == v) {
            parts[v] = next++;
        } else {
            parts[v] = parts[r]; /* r < v: already numbered */
        }
    }
    /* An attribute goes where most of its accounts of its community went
     * (ties: the smaller id); hubs and others stay where they were. */
    for (uint32_t t = 0; t < s->n; t++) {
        if (s->kind[t] == RW_KIND_ACCOUNT) continue;
        uint32_t c = membership[t], deg = rw_detect_degree(s, t), nb = 0;
        parts[t] = c;
        if (!split[c] || deg > hub_degree) continue;
        for (uint64_t k = s->off[t]; k < s->off[t + 1]; k++)
            if (membership[s->nbr[k]] == c) buf[nb++] = parts[s->nbr[k]];
        if (!nb) continue;
        qsort(buf, nb, sizeof *buf, cmp_u32);
        uint32_t best = buf[0], bestn = 0;
        for (uint32_t i = 0; i < nb;) {
            uint32_t j = i;
            while (j < nb && buf[j] == buf[i]) j++;
            if (j - i > bestn) best = buf[i], bestn = j - i;
            i = j;
        }
        parts[t] = best;
    }
    *nparts = next;
done:
    free(par);
    free(size);
    free(first);
    free(stamp);
    free(buf);
    return st;
}

rw_status rw_detect_propagate(const rw_graph_snap *s, uint32_t hub_degree, const double *score, double threshold,
                              double *out, uint32_t *via, double *strong, uint32_t *strong_via, rw_err *err) {
    (void)err;
    for (uint32_t v = 0; v < s->n; v++) out[v] = 0, via[v] = RW_NODE_NONE;
    if (strong)
        for (uint32_t v = 0; v < s->n; v++) strong[v] = 0, strong_via[v] = RW_NODE_NONE;
    for (uint32_t t = 0; t < s->n; t++) {
        uint32_t deg = rw_detect_degree(s, t);
        int is_strong = strong_kind(s->kind[t]);
        if (!(is_strong || s->kind[t] == RW_KIND_IP) || deg < 2 || deg > hub_degree) continue;
        double sum = 0;
        for (uint64_t k = s->off[t]; k < s->off[t + 1]; k++)
            if (score[s->nbr[k]] >= threshold) sum += score[s->nbr[k]];
        if (sum <= 0) continue;
        /* The flagged co-users' scores over all the attribute's users: an
         * account of its own counts as one unflagged user, so one flagged
         * partner never suffices and a popular device needs many. */
        for (uint64_t k = s->off[t]; k < s->off[t + 1]; k++) {
            uint32_t a = s->nbr[k];
            double own = score[a] >= threshold ? score[a] : 0;
            double e = (sum - own) / deg;
            if (e > out[a]) out[a] = e, via[a] = t;
            if (strong && is_strong && e > strong[a]) strong[a] = e, strong_via[a] = t;
        }
    }
    return RW_OK;
}

double rw_detect_combine(double own, double neighbours) {
    return 1 - (1 - own) * (1 - neighbours);
}
