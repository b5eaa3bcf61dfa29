/* Hubs judged by how their accounts arrived. An attribute with more accounts
 * than the hub degree glues nothing, unless its accounts came as a farm's
 * do: most of them within one coherence window, far more than strangers
 * arriving over the graph's span would, and most of them with nothing of
 * their own besides (no private phone, no home line, no card of their own).
 * A carrier NAT, a VPN exit or a stock fingerprint gathers strangers over
 * weeks, each with a life of its own; a farm's address or device gathers
 * hundreds of new accounts within hours that have little else. Size alone
 * would let a ring hide by growing past the hub degree. */
#include <stdlib.h>
#include <string.h>

#include "detectors_int.h"

/* Share of a hub's accounts that must have come within one window, and
 * share that must have nothing of their own: majorities, not tuned values.
 * The window share must also be at least BURST_OVER_CHANCE times what
 * strangers spread over the graph's span would give. */
#define BURST_MIN         0.5
#define BARE_MIN          0.5
#define BURST_OVER_CHANCE 4.0
/* An attribute as small as this share of the shared (two or more accounts)
 * attributes of the graph is household-sized: a life of one's own. */
#define OWN_QUANTILE 0.9

typedef struct {
    const rw_graph_snap *s;
    uint32_t hub_degree;
    uint32_t own_degree; /* household-sized attributes: at most this many accounts */
    double burst_min;
    uint32_t *stamp; /* [n] the hub whose accounts are being looked at, per account */
    uint32_t *scratch;
} judge;

/* The degree at or below which OWN_QUANTILE of the shared attributes lie. */
static uint32_t own_degree(const rw_graph_snap *s, uint32_t hub_degree) {
    enum { CAP = 64 };
    uint64_t hist[CAP + 1] = {0}, total = 0;
    for (uint32_t v = 0; v < s->n; v++) {
        uint32_t d = rw_detect_degree(s, v);
        if (s->kind[v] == RW_KIND_ACCOUNT || s->kind[v] >= RW_KIND_COUNT || d < 2 || d > hub_degree) continue;
        hist[d < CAP ? d : CAP]++;
        total++;
    }
    uint64_t sum = 0;
    for (uint32_t d = 2; d <= CAP; d++) {
        sum += hist[d];
        if ((double)sum >= OWN_QUANTILE * (double)total) return d;
    }
    return CAP;
}

/* Does account u have an attribute of its own besides hub a: one of a
 * single account, or household-sized with most of its other accounts
 * elsewhere than on a (a family's tablet, a home line)? */
static int has_own(const judge *j, uint32_t u, uint32_t a) {
    const rw_graph_snap *s = j->s;
    for (uint64_t k = s->off[u]; k < s->off[u + 1]; k++) {
        uint32_t t = s->nbr[k], d = rw_detect_degree(s, t);
        if (t == a || d > j->own_degree) continue;
        if (d == 1) return 1;
        uint32_t on = 0;
        for (uint64_t q = s->off[t]; q < s->off[t + 1]; q++) {
            uint32_t b = s->nbr[q];
            on += b != u && j->stamp[b] == a;
        }
        if (2 * on < d - 1) return 1;
    }
    return 0;
}

static int glues(judge *j, uint32_t a) {
    const rw_graph_snap *s = j->s;
    uint32_t d = rw_detect_degree(s, a);
    if (rw_detect_coherence(s, a, j->scratch) < j->burst_min) return 0;
    for (uint64_t k = s->off[a]; k < s->off[a + 1]; k++) j->stamp[s->nbr[k]] = a;
    uint32_t bare = 0;
    for (uint64_t k = s->off[a]; k < s->off[a + 1]; k++) bare += !has_own(j, s->nbr[k], a);
    return (double)bare >= BARE_MIN * (double)d;
}

/* The window share strangers would reach: the window over the span of
 * the accounts' first-seen times (1 when the graph is younger). */
static double chance_share(const rw_graph_snap *s) {
    uint32_t lo = UINT32_MAX, hi = 0;
    for (uint32_t v = 0; v < s->n; v++) {
        if (s->kind[v] != RW_KIND_ACCOUNT) continue;
        if (s->first_seen[v] < lo) lo = s->first_seen[v];
        if (s->first_seen[v] > hi) hi = s->first_seen[v];
    }
    if (hi <= lo || hi - lo <= RW_COHERENCE_WINDOW) return 1.0;
    return (double)RW_COHERENCE_WINDOW / (double)(hi - lo);
}

rw_status rw_detect_hub_glue(const rw_graph_snap *s, uint32_t hub_degree, uint8_t *glue, rw_err *err) {
    memset(glue, 0, s->n);
    uint32_t maxd = 0, nhub = 0;
    for (uint32_t v = 0; v < s->n; v++) {
        uint32_t d = rw_detect_degree(s, v);
        if (s->kind[v] == RW_KIND_ACCOUNT || s->kind[v] >= RW_KIND_COUNT || d <= hub_degree) continue;
        nhub++;
        if (d > maxd) maxd = d;
    }
    if (!nhub) return RW_OK;
    judge j = {.s = s, .hub_degree = hub_degree, .own_degree = own_degree(s, hub_degree)};
    double chance = BURST_OVER_CHANCE * chance_share(s);
    j.burst_min = chance > BURST_MIN ? chance : BURST_MIN;
    if (j.burst_min > 1.0) return RW_OK; /* too young a graph to tell a burst from a month */
    j.stamp = malloc(((size_t)s->n + 1) * sizeof *j.stamp);
    j.scratch = malloc(((size_t)maxd + 1) * sizeof *j.scratch);
    if (!j.stamp || !j.scratch) {
        free(j.stamp);
        free(j.scratch);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory judging %u hubs", nhub);
    }
    for (uint32_t v = 0; v < s->n; v++) j.stamp[v] = RW_NODE_NONE;
    for (uint32_t v = 0; v < s->n; v++) {
        if (s->kind[v] == RW_KIND_ACCOUNT || s->kind[v] >= RW_KIND_COUNT) continue;
        if (rw_detect_degree(s, v) > hub_degree) glue[v] = (uint8_t)glues(&j, v);
    }
    free(j.stamp);
    free(j.scratch);
    return RW_OK;
}
