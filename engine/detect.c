/* engine stage: what the detectors find on a snapshot (or a shard of one):
 * edge weights, communities, features, the model's scores, mixed
 * communities split, evidence from flagged neighbours. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"

void rw_detection_free(rw_detection *d) {
    free(d->w);
    free(d->membership);
    free(d->feat);
    free(d->cscore);
    free(d->links);
    free(d->af);
    free(d->ascore);
    free(d->prop);
    free(d->via);
    free(d->strong);
    free(d->strong_via);
    free(d->abits);
    memset(d, 0, sizeof *d);
}

/* The defaults with the caller's overrides; returns the community density
 * (the resolution itself depends on the graph's total weight). */
double rw_engine_configured_params(const rw_rescore_params *rp, rw_community_params *p) {
    rw_community_defaults(p);
    if (rp && rp->hub_degree > 0) p->hub_degree = rp->hub_degree;
    return rp && rp->density > 0 ? rp->density : RW_DEFAULT_DENSITY;
}

/* Dense community ids from a previous labelling, in order of first node;
 * a label >= n (a node new since) becomes a singleton. */
static rw_status relabel(uint32_t n, const uint32_t *init, uint32_t *membership, uint32_t *ncomm, rw_err *err) {
    uint32_t *map = malloc(((size_t)n + 1) * sizeof *map);
    if (!map) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i <= n; i++) map[i] = UINT32_MAX;
    uint32_t k = 0;
    for (uint32_t v = 0; v < n; v++) {
        uint32_t l = init[v];
        if (l >= n) {
            membership[v] = k++;
        } else {
            if (map[l] == UINT32_MAX) map[l] = k++;
            membership[v] = map[l];
        }
    }
    free(map);
    *ncomm = k;
    return RW_OK;
}

/* Features computed beside Leiden: those of the communities it cannot
 * change (rw_communities_early), started as soon as they are known. */
typedef struct {
    const rw_graph_snap *s;
    rw_detection *d;
    uint32_t *pre, npre;
    uint8_t *which;            /* [npre + 1] every label but npre */
    rw_cluster_features *feat; /* [npre + 1] */
    rw_features_job *job;      /* NULL: not started (or nothing to do) */
    rw_status st;
    rw_err err;
} early_features;

static void early_ready(void *ctx, uint32_t npre) {
    early_features *o = ctx;
    rw_detection *d = o->d;
    o->npre = npre;
    o->which = malloc((size_t)npre + 1);
    o->feat = malloc(((size_t)npre + 1) * sizeof *o->feat);
    if (!o->which || !o->feat) {
        o->st = rw_fail(&o->err, RW_ERR_NOMEM, "out of memory for %u communities' features", npre);
        return;
    }
    memset(o->which, 1, npre);
    o->which[npre] = 0;
    memset(d->links, 0, o->s->n); /* as rw_detect_features does: with which, it leaves them */
    o->st = rw_detect_features_start(&o->job, o->s, d->w, d->p.hub_degree, o->pre, npre + 1, o->which, o->feat,
                                     d->links, d->af, d->workers, &o->err);
}

/* The rest of the communities' features (those Leiden made) computed on
 * the workers, while this thread moves the early ones where they belong. */
static rw_status late_features(early_features *o, rw_err *err) {
    const rw_graph_snap *s = o->s;
    rw_detection *d = o->d;
    uint8_t *which = malloc((size_t)d->ncomm + 1);
    uint32_t *from = malloc(((size_t)d->ncomm + 1) * sizeof *from); /* the early label of a community */
    if (!which || !from) {
        free(which), free(from);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for %u communities", d->ncomm);
    }
    memset(which, 1, d->ncomm);
    for (uint32_t v = 0; v < s->n; v++) {
        uint32_t l = o->pre[v], c = d->membership[v];
        if (s->kind[v] != RW_KIND_ACCOUNT || l >= o->npre) continue;
        which[c] = 0;
        from[c] = l;
    }
    rw_features_job *job = NULL;
    rw_status st = rw_detect_features_start(&job, s, d->w, d->p.hub_degree, d->membership, d->ncomm, which, d->feat,
                                            d->links, d->af, d->workers, err);
    for (uint32_t c = 0; st == RW_OK && c < d->ncomm; c++)
        if (!which[c]) d->feat[c] = o->feat[from[c]];
    rw_status fst = rw_detect_features_finish(job, err); /* always: its workers may be running */
    if (st == RW_OK) st = fst;
    free(which);
    free(from);
    return st;
}

/* The communities' features and scores, allocated once ncomm is known. */
static rw_status cluster_arrays(rw_detection *d, rw_err *err) {
    d->feat = malloc(((size_t)d->ncomm + 1) * sizeof *d->feat);
    d->cscore = malloc(((size_t)d->ncomm + 1) * sizeof *d->cscore);
    if (!d->feat || !d->cscore) return rw_fail(err, RW_ERR_NOMEM, "out of memory for %u communities", d->ncomm);
    return RW_OK;
}

/* Every community's features at once. */
static rw_status all_features(const rw_graph_snap *s, rw_detection *d, rw_err *err) {
    rw_status st = cluster_arrays(d, err);
    if (st != RW_OK) return st;
    return rw_detect_features_some(s, d->w, d->p.hub_degree, d->membership, d->ncomm, NULL, d->feat, d->links, d->af,
                                   d->workers, err);
}

/* Communities, and the features of those Leiden cannot change computed
 * beside it on the other workers; then the rest of the features. */
static rw_status communities_and_features(const rw_graph_snap *s, const uint32_t *init, rw_detection *d, rw_err *err) {
    early_features o = {.s = s, .d = d, .st = RW_OK};
    o.pre = malloc(((size_t)s->n + 1) * sizeof *o.pre);
    if (!o.pre) return rw_fail(err, RW_ERR_NOMEM, "out of memory for %u nodes", s->n);
    rw_communities_early early = {.pre = o.pre, .ready = early_ready, .ctx = &o};
    rw_status st = rw_detect_communities_early(s, &d->p, d->w, init, d->membership, &d->ncomm, &early, err);
    rw_status fst = rw_detect_features_finish(o.job, &o.err); /* always: its workers may be running */
    if (st == RW_OK && o.st != RW_OK) st = rw_fail(err, o.st, "%s", o.err.msg);
    if (st == RW_OK && fst != RW_OK) st = rw_fail(err, fst, "%s", o.err.msg);
    /* no early labels (nothing to detect): every community's features now */
    if (st == RW_OK && !o.feat)
        st = all_features(s, d, err);
    else if (st == RW_OK && (st = cluster_arrays(d, err)) == RW_OK)
        st = late_features(&o, err);
    free(o.pre);
    free(o.which);
    free(o.feat);
    return st;
}

unsigned rw_engine_workers(unsigned threads) {
    return threads ? threads : rw_par_cpus();
}

rw_status rw_engine_detect(const rw_graph_snap *s, const rw_rescore_params *rp, const rw_weight_totals *totals,
                           const uint32_t *init, int keep_init, rw_detection *d, rw_err *err) {
    double density = rw_engine_configured_params(rp, &d->p);
    d->workers = rw_engine_workers(rp ? rp->threads : 0);
    int weighed = d->w != NULL;
    if (!weighed) d->w = malloc((s->m + 1) * sizeof *d->w);
    d->membership = malloc(((size_t)s->n + 1) * sizeof *d->membership);
    d->links = malloc((size_t)s->n + 1);
    d->af = malloc(((size_t)s->n + 1) * RW_A_COUNT * sizeof *d->af);
    d->ascore = calloc((size_t)s->n + 1, sizeof *d->ascore);
    d->prop = malloc(((size_t)s->n + 1) * sizeof *d->prop);
    d->via = malloc(((size_t)s->n + 1) * sizeof *d->via);
    d->strong = malloc(((size_t)s->n + 1) * sizeof *d->strong);
    d->strong_via = malloc(((size_t)s->n + 1) * sizeof *d->strong_via);
    if (!d->w || !d->membership || !d->links || !d->af || !d->ascore || !d->prop || !d->via || !d->strong ||
        !d->strong_via)
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for %u nodes", s->n);
    rw_status st = weighed ? RW_OK : rw_detect_edge_weights(s, &d->p, d->w, err);
    if (st != RW_OK) return st;
    /* Modularity's resolution limit grows with the graph: at a fixed
     * resolution, communities on a large graph swallow rings whole. A fixed
     * density (resolution / 2W) keeps community sizes independent of the
     * graph's size. */
    rw_weight_totals own;
    if (!totals) {
        rw_detect_weight_totals(s, &d->p, d->w, &own.all, &own.kept);
        totals = &own;
    }
    d->p.kept_total = (double)totals->kept / RW_WEIGHT_UNIT;
    d->p.resolution = density * 2.0 * ((double)totals->all / RW_WEIGHT_UNIT);
    if (d->p.resolution < 1.0) d->p.resolution = 1.0;
    if (!(keep_init && init)) return communities_and_features(s, init, d, err);
    st = relabel(s->n, init, d->membership, &d->ncomm, err);
    return st == RW_OK ? all_features(s, d, err) : st;
}

/* The model's score, raised to the threshold for a cluster that shows the
 * block-ring signature: the logistic model weighs its shared addresses as an
 * office's or a household's and cannot see that all of the signature's
 * conditions hold at once. */
static double cluster_score(const rw_model *m, const rw_detection *d, const rw_cluster_features *f) {
    double p = rw_model_score(m, f);
    if (d->rescore_rules && p < m->threshold && f->accounts >= m->min_accounts && rw_cluster_block_ring(f))
        p = m->threshold;
    return p;
}

static void score_clusters(const rw_model *m, rw_detection *d, uint32_t from) {
    for (uint32_t c = from; c < d->ncomm; c++)
        d->cscore[c] = d->feat[c].accounts >= 2 ? cluster_score(m, d, &d->feat[c]) : 0;
}

/* Mixed communities: modularity glues a ring to the households whose home
 * addresses its proxies borrowed, and the mixture scores low. Each such
 * community is split into the parts that share devices or cards among
 * themselves; a part the cluster model flags becomes a community of its
 * own, the rest stays together. Needs the cluster scores. */
static rw_status split_mixed(const rw_graph_snap *s, const rw_model *m, rw_detection *d, rw_err *err) {
    rw_status st = RW_OK;
    uint32_t ncomm = d->ncomm, nparts = 0, kept = 0;
    uint8_t *split = calloc((size_t)ncomm + 1, 1), *which = NULL;
    uint32_t *parts = malloc(((size_t)s->n + 1) * sizeof *parts), *newid = NULL;
    if (!split || !parts) goto nomem;
    for (uint32_t c = 0; c < ncomm; c++)
        split[c] = d->feat[c].accounts >= SPLIT_MIN_ACCOUNTS && d->cscore[c] < m->threshold;
    st = rw_detect_strong_parts(s, d->p.hub_degree, SPLIT_MIN_COHERENCE, d->membership, ncomm, split, parts, &nparts,
                                err);
    if (st != RW_OK || nparts == ncomm) goto done;
    rw_cluster_features *feat = realloc(d->feat, ((size_t)nparts + 1) * sizeof *feat);
    if (!feat) goto nomem;
    d->feat = feat;
    double *cscore = realloc(d->cscore, ((size_t)nparts + 1) * sizeof *cscore);
    if (!cscore) goto nomem;
    d->cscore = cscore;
    which = calloc((size_t)nparts + 1, 1);
    newid = malloc(((size_t)nparts + 1) * sizeof *newid);
    if (!which || !newid) goto nomem;
    for (uint32_t j = ncomm; j < nparts; j++) which[j] = 1;
    st = rw_detect_features_some(s, d->w, d->p.hub_degree, parts, nparts, which, d->feat, NULL, NULL, d->workers, err);
    if (st != RW_OK) goto done;
    /* What a part's community was: any of its accounts tells. */
    for (uint32_t v = 0; v < s->n; v++)
        if (s->kind[v] == RW_KIND_ACCOUNT && parts[v] >= ncomm) newid[parts[v]] = d->membership[v];
    memset(which, 0, (size_t)nparts + 1);
    for (uint32_t j = ncomm; j < nparts; j++) {
        if (d->feat[j].accounts < m->min_accounts || cluster_score(m, d, &d->feat[j]) < m->threshold) continue;
        which[newid[j]] = 1; /* what is left of it changes */
        d->feat[ncomm + kept] = d->feat[j];
        which[ncomm + kept] = 1;
        newid[j] = ncomm + kept++;
    }
    for (uint32_t v = 0; v < s->n; v++) d->membership[v] = parts[v] >= ncomm ? newid[parts[v]] : parts[v];
    d->ncomm = ncomm + kept;
    st = rw_detect_features_some(s, d->w, d->p.hub_degree, d->membership, d->ncomm, which, d->feat, d->links, d->af,
                                 d->workers, err);
    if (st == RW_OK) score_clusters(m, d, 0);
    goto done;
nomem:
    st = rw_fail(err, RW_ERR_NOMEM, "out of memory splitting communities");
done:
    free(split);
    free(parts);
    free(which);
    free(newid);
    return st;
}

/* The most other members of v's cluster on one of v's devices or cards
 * (hubs aside). */
static uint32_t members_beside(const rw_graph_snap *s, const rw_detection *d, uint32_t v) {
    uint32_t c = d->membership[v], best = 0;
    for (uint64_t k = s->off[v]; k < s->off[v + 1]; k++) {
        uint32_t t = s->nbr[k], n = 0;
        if ((s->kind[t] != RW_KIND_DEVICE && s->kind[t] != RW_KIND_PAYMENT) ||
            rw_graph_snap_degree(s, t) > d->p.hub_degree)
            continue;
        for (uint64_t j = s->off[t]; j < s->off[t + 1]; j++) n += s->nbr[j] != v && d->membership[s->nbr[j]] == c;
        if (n > best) best = n;
    }
    return best;
}

/* A member of a flagged cluster of a ring's size that uses a device or a
 * card with two or more other members is one of the ring's: the account
 * model scores each member apart and leaves those of a cluster flagged near
 * the threshold below it (a residential-proxy ring of 82 accounts at 0.79,
 * eleven accounts on each emulator, three of each eleven flagged). Below
 * RW_CARD_RING_MIN accounts a flagged cluster is as often a family or an
 * office team on one tablet or company card, whose members the account
 * model rightly keeps apart; and a member tied only by an address is as
 * often a household whose line the ring borrowed. */
static int strong_member(const rw_graph_snap *s, const rw_detection *d, const rw_model *m, uint32_t v) {
    uint32_t c = d->membership[v];
    return d->cscore[c] >= m->threshold && d->feat[c].accounts >= RW_CARD_RING_MIN && members_beside(s, d, v) >= 2;
}

/* Does member v carry its cluster's score by a rule of rescoring: in a
 * block ring, every member sharing an attribute with another (the account
 * model learned from clusters flagged for their devices and cards), and a
 * strong member of a flagged cluster? */
static int carries_cluster_score(const rw_graph_snap *s, const rw_detection *d, const rw_model *m, uint32_t v) {
    uint32_t c = d->membership[v];
    return (d->links[v] && rw_cluster_block_ring(&d->feat[c])) || strong_member(s, d, m, v);
}

/* What apply_model's workers share: each account's row is its own. */
typedef struct {
    const rw_graph_snap *s;
    const rw_model *m;
    rw_detection *d;
    double *logit; /* [ncomm] the model's own cluster score as a logit */
} model_job;

/* Does the model score community c and its accounts (two or more, and
 * at least the model's smallest)? */
static int scored(const rw_model *m, const rw_detection *d, uint32_t c) {
    return d->feat[c].accounts >= 2 && d->feat[c].accounts >= m->min_accounts;
}

static rw_status cluster_logits(void *ctx, unsigned worker, uint64_t from, uint64_t to, rw_err *err) {
    (void)worker, (void)err;
    const model_job *x = ctx;
    for (uint64_t c = from; c < to; c++) {
        if (!scored(x->m, x->d, (uint32_t)c)) continue;
        /* The model's own cluster score, not one the block-ring signature
         * raised: the account model is fitted on these features, and what it
         * learns for every other cluster must not move with a rule. */
        double p = rw_model_score(x->m, &x->d->feat[c]);
        p = p < 1e-6 ? 1e-6 : p > 1 - 1e-6 ? 1 - 1e-6 : p;
        x->logit[c] = log(p / (1 - p));
    }
    return RW_OK;
}

static rw_status account_scores(void *ctx, unsigned worker, uint64_t from, uint64_t to, rw_err *err) {
    (void)worker, (void)err;
    const model_job *x = ctx;
    const rw_graph_snap *s = x->s;
    rw_detection *d = x->d;
    for (uint64_t v = from; v < to; v++) {
        if (s->kind[v] != RW_KIND_ACCOUNT) continue;
        uint32_t c = d->membership[v];
        double *af = d->af + v * RW_A_COUNT;
        if (!scored(x->m, d, c)) {
            d->ascore[v] = 0;
            continue;
        }
        af[RW_A_CLUSTER_LOGIT] = x->logit[c];
        d->ascore[v] = rw_model_account_score(x->m, af);
        if (d->rescore_rules && d->ascore[v] < d->cscore[c] && carries_cluster_score(s, d, x->m, (uint32_t)v))
            d->ascore[v] = d->cscore[c];
    }
    return RW_OK;
}

/* Cluster and account scores under a model, on the detection's workers. */
static rw_status apply_model(const rw_graph_snap *s, const rw_model *m, rw_detection *d, rw_err *err) {
    score_clusters(m, d, 0);
    model_job x = {.s = s, .m = m, .d = d, .logit = malloc(((size_t)d->ncomm + 1) * sizeof *x.logit)};
    if (!x.logit) return rw_fail(err, RW_ERR_NOMEM, "out of memory for %u communities", d->ncomm);
    rw_status st = rw_par_run(d->workers, d->ncomm, 4096, cluster_logits, &x, err);
    if (st == RW_OK) st = rw_par_run(d->workers, s->n, 16384, account_scores, &x, err);
    free(x.logit);
    return st;
}

/* An account's own score and the evidence of a device or card it shares
 * with flagged accounts, neither at the threshold alone, flag it when
 * together (rw_detect_combine) they reach this, the shipped threshold,
 * whatever a stored model's: the account model already weighs what the
 * account shares, so the two together must reach what a score alone
 * must. A ring member that the account model left at 0.3-0.6 in a cluster
 * half households, on a device three of whose four users are flagged. On
 * seeds 2-8 (model fit on seed 1): F1 +0.001 to +0.004 on every seed, 0 to 4
 * more benign accounts flagged a seed, no tactic's recall lower; at 0.7,
 * 4 to 9 more benign. Through IP addresses too, 10 to 19 more benign. */
#define COMBINED_MIN 0.75

/* Scores under a model, with mixed communities split first; then an
 * account the model left below the threshold but whose device, card or IP
 * address is used mostly by flagged accounts takes that evidence as its
 * score, or, short of that, its own score and a device's or card's evidence
 * combined when they reach COMBINED_MIN (one step, no cascade: both read the
 * scores before either raises any). */
/* What an account's reasons say of it, from its account features: kept
 * instead of them once the model has run (a byte, not RW_A_COUNT doubles,
 * per node on the rank that writes the run). */
static rw_status account_bits(const rw_graph_snap *s, rw_detection *d, rw_err *err) {
    free(d->abits);
    d->abits = calloc((size_t)s->n + 1, 1);
    if (!d->abits) return rw_fail(err, RW_ERR_NOMEM, "out of memory for %u nodes", s->n);
    static const struct {
        int feature;
        uint8_t bit;
    } bits[] = {{RW_A_DEVICE, RW_ABIT_DEVICE},
                {RW_A_CARD, RW_ABIT_CARD},
                {RW_A_IP, RW_ABIT_IP},
                {RW_A_IN_BURST, RW_ABIT_BURST}};
    for (uint32_t v = 0; v < s->n; v++) {
        if (s->kind[v] != RW_KIND_ACCOUNT || d->feat[d->membership[v]].accounts < 2) continue;
        const double *af = d->af + (size_t)v * RW_A_COUNT;
        for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
            if (af[bits[i].feature] > 0) d->abits[v] |= bits[i].bit;
    }
    return RW_OK;
}

rw_status rw_engine_detect_model(const rw_graph_snap *s, const rw_model *m, rw_detection *d, rw_err *err) {
    score_clusters(m, d, 0);
    rw_status st = split_mixed(s, m, d, err);
    if (st != RW_OK) return st;
    st = apply_model(s, m, d, err);
    if (st != RW_OK) return st;
    st = rw_detect_propagate(s, d->p.hub_degree, d->ascore, m->threshold, d->prop, d->via, d->strong, d->strong_via,
                             err);
    if (st != RW_OK) return st;
    for (uint32_t v = 0; v < s->n; v++) {
        double both = rw_detect_combine(d->ascore[v], d->strong[v]);
        if (s->kind[v] != RW_KIND_ACCOUNT || d->ascore[v] >= m->threshold) {
            d->via[v] = RW_NODE_NONE;
        } else if (d->prop[v] >= m->threshold) {
            d->ascore[v] = d->prop[v];
        } else if (both >= COMBINED_MIN) {
            d->ascore[v] = both;
            d->via[v] = d->strong_via[v];
        } else {
            d->via[v] = RW_NODE_NONE;
        }
    }
    return account_bits(s, d, err);
}
