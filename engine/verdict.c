/* Batch verdicts on the online path: an account the newest run flagged, and
 * a device, card or IP address its flagged accounts hold, are evidence
 * against every later event that touches them, whatever the online model.
 *
 * The rule, applied after the model and the analysts' labels:
 *
 * - An account the run flagged is reviewed at each later event (login,
 *   payment), blocked when its run score reaches the block threshold: the
 *   run judged it with the whole graph in view, which one event cannot
 *   outweigh.
 * - An attribute is judged by the share of its users the run flagged,
 *   counted among the users the run judged (accounts that arrive later do
 *   not dilute it, or a ring could wash its card by signing up more), and
 *   by how many they are. Review when most of its users were flagged, two
 *   of them at least for a card (a household shares a card, and one false
 *   positive of the run would stop the family's next signup); block when
 *   most were and at least three of them, and their mean run score
 *   reaches the block threshold. A device with one flagged user is
 *   evidence beside another kind. IP addresses are shared by carrier NAT,
 *   offices and campuses and handed from one customer to the next, so the
 *   bar is higher: five flagged users and four in five of the address's;
 *   a ring's few accounts behind a NAT of thousands are a tiny share and
 *   mark no one.
 * - A card decides alone. A device fingerprint does not identify a person:
 *   one phone model and OS build give strangers the same fingerprint, and a
 *   run on a young graph flags the crowd on such a fingerprint as a device
 *   farm (its few days of history hide that the crowd keeps coming). How
 *   its users arrived tells the two apart, not how many they are, which
 *   the attacker chooses: a farm's accounts come in a burst, a crowd's over
 *   the whole history. So a device decides alone only on strong evidence
 *   whose users came in a burst: ten flagged users or more, nine in ten of
 *   its judged users, at a mean run score at the block threshold, and
 *   their signups within a fifth of the time the run's accounts span
 *   (RW_VERDICT_BURST; relative to the run's history, so a young graph's
 *   runs, where everything is recent, pass nothing by it), or the device
 *   itself came late for its many users: a stock fingerprint's strangers
 *   were arriving from the start of the history, a farm's device appears
 *   when the farm starts and gathers its accounts from then on, at any pace
 *   (RW_VERDICT_LATE: a slow farm paces itself out of a burst, not out of
 *   its own start). Weaker device
 *   evidence, and an address, decide only beside evidence of another kind;
 *   alone they are named in the reasons and the verdict stays the model's.
 * - Only accounts the run did not judge (signups since) take evidence from
 *   their attributes: for the others the run's own verdict stands.
 * - The verdict rises, the score stays the model's (with the analysts'
 *   labels): see rw_verdict_apply.
 * - A benign label clears the evidence: on the account (its attributes are
 *   cleared with it), on the cluster the flagged users belong to, or on the
 *   attribute (RW_LIVE_CLEARED); the answer says the label cleared it.
 *
 * Counts are kept per node (struct rw_vnode) and rebuilt with each run; the
 * attributes an account takes up after the run are counted at its next
 * recorded event (rw_verdict_touch) or at a restart. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verdict.h"

/* When a kind decides by itself. */
enum { NEVER_ALONE = 0, ALONE, ALONE_WHEN_STRONG };

/* The bar per attribute kind (noun NULL: not evidence). */
typedef struct {
    const char *noun;
    uint16_t review_flagged, block_flagged; /* flagged users at least */
    double review_share, block_share;       /* share of its users flagged at least */
    int alone;
    /* ALONE_WHEN_STRONG: flagged users and their share at least, at a
     * blocking mean score, and a burst or a late start. */
    uint16_t strong_flagged;
    double strong_share;
} kind_rule;

static const kind_rule rules[RW_KIND_COUNT] = {
    [RW_KIND_IP] = {"IP address", 5, 5, 0.8, 0.8, NEVER_ALONE, 0, 0},
    [RW_KIND_DEVICE] = {"device", 1, 3, 0.5, 0.5, ALONE_WHEN_STRONG, 10, 0.9},
    [RW_KIND_PAYMENT] = {"card", 2, 3, 0.5, 0.5, ALONE, 0, 0},
};

static uint16_t sat16(uint64_t v) {
    return (uint16_t)(v > UINT16_MAX ? UINT16_MAX : v);
}

/* Counts a flagged account (community comm, run score) on attribute x;
 * while building, users is the tally of a majority vote for the community
 * (settled into the user count afterwards). */
static void vote(struct rw_vnode *x, uint32_t comm, float score) {
    if (x->flagged < UINT16_MAX) {
        x->flagged++;
        x->score += (score - x->score) / x->flagged;
    }
    if (x->comm == comm)
        x->users = sat16((uint64_t)x->users + 1);
    else if (x->users == 0)
        x->comm = comm, x->users = 1;
    else
        x->users--;
}

/* Signup times seen: the earliest and the latest. */
typedef struct {
    int64_t lo, hi;
} span;

static void span_add(span *sp, int64_t t) {
    if (t < sp->lo) sp->lo = t;
    if (t > sp->hi) sp->hi = t;
}

/* Did the signups of sp happen within RW_VERDICT_BURST of the run's span? */
static uint8_t burst(const span *sp, const span *run) {
    return sp->hi >= sp->lo && run->hi > run->lo && (double)(sp->hi - sp->lo) <= RW_VERDICT_BURST * (run->hi - run->lo);
}

#define SPAN_EMPTY                                                                                                     \
    { INT64_MAX, INT64_MIN }

/* The run's accounts' signup times, sorted: where in the history a node
 * first appeared. t NULL (no memory): no node is late. */
typedef struct {
    int64_t *t;
    size_t n;
} arrivals;

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void arrivals_sort(arrivals *ar) {
    if (ar->t) qsort(ar->t, ar->n, sizeof *ar->t, cmp_i64);
}

/* Did a node first seen at first, with users judged users, come late (see
 * RW_VERDICT_LATE)? */
static uint8_t late(const arrivals *ar, int64_t first, uint16_t users) {
    if (!ar->t || !ar->n || first < ar->t[0] + RW_HISTORY_SETTLE_HOURS * 3600) return 0;
    size_t lo = 0, hi = ar->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ar->t[mid] < first)
            lo = mid + 1;
        else
            hi = mid;
    }
    double q = (double)lo / (double)ar->n;
    return q < 1 && (double)users * -log1p(-q) >= RW_VERDICT_LATE;
}

void rw_verdict_build_snap(rw_live *L, const rw_graph_snap *s, const double *ascore, double threshold) {
    struct rw_vnode *V = L->vnode;
    span run = SPAN_EMPTY;
    arrivals ar = {malloc(((size_t)s->n + 1) * sizeof(int64_t)), 0};
    for (uint32_t v = 0; v < s->n && v < L->cap; v++) {
        if (s->kind[v] != RW_KIND_ACCOUNT) continue;
        span_add(&run, s->first_seen[v]);
        if (ar.t) ar.t[ar.n++] = s->first_seen[v];
        V[v].users = sat16(1 + (uint64_t)rw_graph_snap_degree(s, v));
        if (!ascore || ascore[v] < threshold) continue;
        V[v].flagged = 1, V[v].score = (float)ascore[v], V[v].comm = L->comm[v];
        for (uint64_t k = s->off[v]; k < s->off[v + 1]; k++)
            if (s->nbr[k] < L->cap) vote(&V[s->nbr[k]], L->comm[v], (float)ascore[v]);
    }
    for (uint32_t x = 0; x < s->n && x < L->cap; x++) {
        if (s->kind[x] == RW_KIND_ACCOUNT || !V[x].flagged) continue;
        uint32_t deg = rw_graph_snap_degree(s, x);
        V[x].users = sat16(deg > V[x].flagged ? deg : V[x].flagged);
        span sp = SPAN_EMPTY;
        for (uint64_t k = s->off[x]; k < s->off[x + 1]; k++)
            if (s->nbr[k] < L->cap && V[s->nbr[k]].flagged) span_add(&sp, s->first_seen[s->nbr[k]]);
        V[x].burst = burst(&sp, &run);
    }
    arrivals_sort(&ar);
    for (uint32_t x = 0; x < s->n && x < L->cap; x++)
        if (s->kind[x] != RW_KIND_ACCOUNT && V[x].flagged) V[x].late = late(&ar, s->first_seen[x], V[x].users);
    free(ar.t);
}

void rw_verdict_add_account(rw_live *L, const rw_graph *g, uint32_t a, int flagged, double score) {
    if (!L->vnode || a >= L->cap) return;
    struct rw_vnode *V = L->vnode;
    uint32_t n = 0;
    const rw_edge *ed = rw_graph_account_edges(g, a, &n);
    V[a].users = sat16(1 + (uint64_t)n);
    if (!flagged) return;
    V[a].flagged = 1, V[a].score = (float)score, V[a].comm = L->comm[a];
    for (uint32_t i = 0; i < n; i++)
        if (ed[i].attr < L->cap) vote(&V[ed[i].attr], L->comm[a], (float)score);
}

/* Users of attribute x the run judged (accounts with a figure of their
 * own); with sp, the span of its flagged users' signups. */
static uint16_t judged_users(const rw_live *L, const rw_graph *g, uint32_t x, span *sp) {
    uint32_t n = 0;
    const uint32_t *acc = rw_graph_attr_accounts(g, x, &n);
    uint64_t judged = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (acc[i] >= L->cap || !L->vnode[acc[i]].users) continue;
        judged++;
        if (sp && L->vnode[acc[i]].flagged) span_add(sp, rw_graph_first_seen(g, acc[i]));
    }
    return sat16(judged);
}

void rw_verdict_settle(rw_live *L, const rw_graph *g) {
    if (!L->vnode) return;
    uint32_t n = rw_graph_node_count(g);
    span run = SPAN_EMPTY;
    arrivals ar = {malloc(((size_t)n + 1) * sizeof(int64_t)), 0};
    for (uint32_t a = 0; a < n && a < L->cap; a++) {
        if (!L->vnode[a].users || rw_graph_kind(g, a) != RW_KIND_ACCOUNT) continue;
        int64_t t = rw_graph_first_seen(g, a);
        span_add(&run, t);
        if (ar.t) ar.t[ar.n++] = t;
    }
    arrivals_sort(&ar);
    for (uint32_t x = 0; x < n && x < L->cap; x++) {
        struct rw_vnode *v = &L->vnode[x];
        if (!v->flagged || rw_graph_kind(g, x) == RW_KIND_ACCOUNT) continue;
        span sp = SPAN_EMPTY;
        uint16_t u = judged_users(L, g, x, &sp);
        v->users = u > v->flagged ? u : v->flagged;
        v->burst = burst(&sp, &run);
        v->late = late(&ar, rw_graph_first_seen(g, x), v->users);
    }
    free(ar.t);
}

void rw_verdict_touch(rw_live *L, const rw_graph *g, uint32_t a) {
    if (!L->vnode || a >= L->cap) return;
    struct rw_vnode *va = &L->vnode[a];
    /* Not judged by the run (nothing to count), or too many edges to track. */
    if (va->users == 0 || va->users == UINT16_MAX) return;
    uint32_t n = 0;
    const rw_edge *ed = rw_graph_account_edges(g, a, &n);
    for (uint32_t i = va->users - 1u; i < n; i++) {
        uint32_t x = ed[i].attr;
        if (x >= L->cap) continue;
        struct rw_vnode *vx = &L->vnode[x];
        if (va->flagged) {
            if (!vx->flagged) {
                /* Evidence the run did not see as such: never a burst. */
                vx->users = judged_users(L, g, x, NULL); /* a among them */
                vx->comm = va->comm, vx->score = 0, vx->burst = 0, vx->late = 0;
            } else {
                vx->users = sat16((uint64_t)vx->users + 1);
            }
            if (vx->flagged < UINT16_MAX) {
                vx->flagged++;
                vx->score += (va->score - vx->score) / vx->flagged;
            }
        } else if (vx->flagged) {
            vx->users = sat16((uint64_t)vx->users + 1);
        }
    }
    va->users = sat16(1 + (uint64_t)n);
}

/* ---- the rule ------------------------------------------------------------- */

enum { NONE = 0, REVIEW = 1, BLOCK = 2 };

/* The strongest piece of evidence, or a cleared one. */
typedef struct {
    int level;
    uint32_t node; /* the account itself or one of its attributes */
    uint16_t flagged;
    int alone; /* decides without evidence of another kind */
} evidence;

static int attr_level(const kind_rule *r, const struct rw_vnode *x, double block) {
    double users = x->users > x->flagged ? x->users : x->flagged;
    double share = x->flagged / users;
    if (x->flagged >= r->block_flagged && share >= r->block_share && x->score >= block) return BLOCK;
    if (x->flagged >= r->review_flagged && share >= r->review_share) return REVIEW;
    return NONE;
}

/* Does attribute evidence x of a kind with rule r decide by itself? */
static int attr_alone(const rw_live *L, const kind_rule *r, const struct rw_vnode *x) {
    if (r->alone != ALONE_WHEN_STRONG) return r->alone == ALONE;
    double users = x->users > x->flagged ? x->users : x->flagged;
    return (x->burst || x->late) && x->flagged >= r->strong_flagged && x->flagged / users >= r->strong_share &&
           x->score >= L->block;
}

static int stronger(const evidence *a, const evidence *b) {
    return a->level > b->level || (a->level == b->level && a->flagged > b->flagged);
}

/* "cluster c12" or "" for a node's run community. */
static void of_cluster(const rw_live *L, uint32_t comm, const char *pre, char *out, size_t size) {
    if (comm && comm < L->nc && L->c[comm].batch_id)
        snprintf(out, size, "%scluster c%u", pre, L->c[comm].batch_id);
    else
        out[0] = 0;
}

static int comm_benign(const rw_live *L, uint32_t comm) {
    return comm && comm < L->nc && L->c[comm].label == RW_LIVE_LABEL_BENIGN;
}

const char *rw_verdict_noun(rw_kind k) {
    return k < RW_KIND_COUNT ? rules[k].noun : NULL;
}

int rw_verdict_open(const rw_live *L, uint32_t a, const rw_decision *d) {
    return d->verdict == RW_ALLOW && a < L->cap && !(L->flags[a] & RW_LIVE_CLEARED);
}

void rw_verdict_review(rw_decision *d, rw_raised by, const char *text) {
    d->verdict = RW_REVIEW;
    d->raised = by;
    rw_verdict_put_reason(d, text, 1);
}

void rw_verdict_put_reason(rw_decision *d, const char *text, int first) {
    size_t n = d->nreasons < RW_REASONS_MAX ? d->nreasons : RW_REASONS_MAX;
    if (n == RW_REASONS_MAX) n--;
    if (first) {
        memmove(d->reasons[1], d->reasons[0], n * sizeof d->reasons[0]);
        n = 0;
    }
    snprintf(d->reasons[n], sizeof d->reasons[0], "%s", text);
    d->nreasons = (d->nreasons < RW_REASONS_MAX ? d->nreasons : RW_REASONS_MAX - 1) + 1;
}

static void say(const rw_live *L, rw_kind k, const evidence *ev, int cleared, char *out, size_t size) {
    const struct rw_vnode *v = &L->vnode[ev->node];
    char cl[40];
    if (k == RW_KIND_ACCOUNT) {
        of_cluster(L, v->comm, ", in ", cl, sizeof cl);
        if (cleared)
            snprintf(out, size, "an analyst's benign label clears the nightly run's flag on this account%s", cl);
        else
            snprintf(out, size, "the nightly run flagged this account at %.2f%s", v->score, cl);
        return;
    }
    of_cluster(L, v->comm, " of ", cl, sizeof cl);
    unsigned users = v->users > v->flagged ? v->users : v->flagged;
    if (cleared)
        snprintf(out, size, "an analyst's benign label clears what the nightly run flagged on its %s (%u accounts%s)",
                 rules[k].noun, v->flagged, cl);
    else
        snprintf(out, size, "its %s is used by %u accounts%s flagged by the nightly run at %.2f (%u of its %u users)",
                 rules[k].noun, v->flagged, cl, v->score, v->flagged, users);
}

/* Evidence on the attributes in v (an account the run did not judge): the
 * strongest that decides in *best (alone, or two kinds together), the
 * strongest a label cleared in *cleared, and the strongest that cannot
 * decide alone in *weak. */
static void attr_evidence(const rw_live *L, const rw_view *v, evidence *best, evidence *cleared, evidence *weak) {
    evidence by_kind[RW_KIND_COUNT] = {{0}};
    for (uint32_t i = 0; i < v->n; i++) {
        uint32_t x = v->edge[i].attr;
        rw_kind k = (rw_kind)v->edge[i].kind;
        if (x >= L->cap || !L->vnode[x].flagged || k >= RW_KIND_COUNT || !rules[k].noun) continue;
        const struct rw_vnode *vx = &L->vnode[x];
        evidence ev = {attr_level(&rules[k], vx, L->block), x, vx->flagged, 0};
        if (ev.level == NONE) continue;
        ev.alone = attr_alone(L, &rules[k], vx);
        int off = (L->flags[x] & RW_LIVE_CLEARED) || comm_benign(L, vx->comm);
        evidence *into = off ? cleared : &by_kind[k];
        /* Of one kind, the evidence that decides alone first. */
        if (ev.level > into->level || (ev.level == into->level && ev.alone > into->alone) ||
            (ev.level == into->level && ev.alone == into->alone && ev.flagged > into->flagged))
            *into = ev;
    }
    int kinds = 0;
    for (int k = 0; k < RW_KIND_COUNT; k++) kinds += by_kind[k].level != NONE;
    for (int k = 0; k < RW_KIND_COUNT; k++) {
        if (by_kind[k].level == NONE) continue;
        evidence *into = by_kind[k].alone || kinds >= 2 ? best : weak;
        if (stronger(&by_kind[k], into)) *into = by_kind[k];
    }
}

void rw_verdict_apply(const rw_engine *e, const rw_view *v, rw_decision *d) {
    const rw_live *L = &e->live;
    uint32_t a = v->account;
    if (!L->vnode || a >= L->cap) return;
    const struct rw_vnode *va = &L->vnode[a];
    evidence best = {0}, cleared = {0}, weak = {0};
    int account_cleared = (L->flags[a] & RW_LIVE_CLEARED) != 0;
    if (va->flagged) {
        evidence ev = {va->score >= L->block ? BLOCK : REVIEW, a, 1, 1};
        if (account_cleared || comm_benign(L, va->comm))
            cleared = ev;
        else
            best = ev;
    }
    /* An account an analyst vouched for is not judged by its attributes. */
    if (va->users == 0 && !account_cleared) attr_evidence(L, v, &best, &cleared, &weak);
    char text[160];
    if (best.level != NONE) {
        /* The verdict, not the score: the score is logged as the model's
         * (the shadow comparison and distillation read it), and the run's
         * evidence already stands wherever it holds. */
        if ((int)d->verdict < best.level) {
            d->verdict = (rw_verdict)best.level;
            d->raised = RW_RAISED_BATCH_VERDICT;
        }
        say(L, rw_graph_kind(e->graph, best.node), &best, 0, text, sizeof text);
        rw_verdict_put_reason(d, text, 1);
    } else if (cleared.level != NONE) {
        say(L, rw_graph_kind(e->graph, cleared.node), &cleared, 1, text, sizeof text);
        rw_verdict_put_reason(d, text, 0);
    } else if (weak.level != NONE) {
        say(L, rw_graph_kind(e->graph, weak.node), &weak, 0, text, sizeof text);
        size_t at = strlen(text);
        snprintf(text + at, sizeof text - at, "; alone not enough");
        rw_verdict_put_reason(d, text, 0);
    }
}
