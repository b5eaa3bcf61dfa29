/* Cluster features: what a community looks like, in figures a model can
 * weigh and an analyst can read back as reasons. One pass over the edges of
 * each community, with scratch arrays shared across communities. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detectors_int.h"

#define BURST_WINDOW (6 * 3600) /* signups this close together count as one burst */

static const char *const feature_names[RW_F_COUNT] = {
    [RW_F_LOG_ACCOUNTS] = "log_accounts",
    [RW_F_DEVICE_LINKED] = "device_linked",
    [RW_F_CARD_LINKED] = "card_linked",
    [RW_F_IP_LINKED] = "ip_linked",
    [RW_F_MAX_DEVICE_SHARE] = "max_device_share",
    [RW_F_MAX_CARD_SHARE] = "max_card_share",
    [RW_F_EXCLUSIVE] = "exclusive",
    [RW_F_BURST] = "burst",
    [RW_F_SUBNET_SHARE] = "subnet_share",
    [RW_F_PRIVATE_ATTRS] = "private_attrs",
    [RW_F_IP_DIVERSITY] = "ip_diversity",
    [RW_F_HUB_CONTACT] = "hub_contact",
    [RW_F_LOCKSTEP] = "lockstep",
    [RW_F_LATER_LOGINS] = "later_logins",
    [RW_F_MULTI_SHARED] = "multi_shared",
    [RW_F_COHERENCE] = "coherence",
    [RW_F_CARD_HOMELESS] = "card_homeless",
    [RW_F_CARDS_PER_PAYER] = "cards_per_payer",
    [RW_F_OWN_DEVICES] = "own_devices",
    [RW_F_SPAN_DAYS] = "span_days",
    [RW_F_CARD_RING] = "card_ring",
    [RW_F_HOUSEHOLD] = "household",
};

static const char *const account_feature_names[RW_A_COUNT] = {
    [RW_A_CLUSTER_LOGIT] = "cluster_logit",
    [RW_A_DEVICE] = "device",
    [RW_A_CARD] = "card",
    [RW_A_IP] = "ip",
    [RW_A_SHARED] = "shared",
    [RW_A_IN_BURST] = "in_burst",
    [RW_A_PRIVATE] = "private",
    [RW_A_HUB] = "hub",
    [RW_A_PEERS] = "peers",
};

const char *rw_account_feature_name(int f) {
    return f >= 0 && f < RW_A_COUNT ? account_feature_names[f] : NULL;
}

const char *rw_feature_name(int f) {
    return f >= 0 && f < RW_F_COUNT ? feature_names[f] : NULL;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Largest number of times within any window of the given width; sorts t. */
static uint32_t densest_window(uint32_t *t, uint32_t n, uint32_t width, uint32_t *start) {
    qsort(t, n, sizeof *t, cmp_u32);
    uint32_t best = 0, j = 0;
    *start = n ? t[0] : 0;
    for (uint32_t i = 0; i < n; i++) {
        while (t[i] - t[j] > width) j++;
        if (i - j + 1 > best) {
            best = i - j + 1;
            *start = t[j];
        }
    }
    return best;
}

typedef struct {
    const rw_graph_snap *s;
    const double *w;
    uint32_t hub_degree;
    uint32_t *cnt;  /* [n] accounts of the community touching node v */
    uint32_t *mark; /* [n] last account (+1) that counted v, for per-account dedupe */
    uint32_t *touched;
    uint32_t *times;
    uint8_t *links;        /* [n] or NULL */
    uint32_t *coh_scratch; /* [largest degree of a non-hub + 1] */
    double *af;            /* [n * RW_A_COUNT] or NULL */
    uint32_t *member;      /* [n] community stamp of accounts (tick of its cluster) */
    uint32_t *peer;        /* [n] last account stamp that counted this peer */
    uint32_t *home;        /* [n] accounts of one shared card on each address or device */
    uint32_t *home_list;   /* the nodes whose home count is set */
    uint32_t tick, cluster_tick;
} scratch;

static int is_hub(const scratch *x, uint32_t v) {
    return rw_detect_is_hub(x->s, x->w, x->hub_degree, v);
}

/* Does the shared card t have a home: an address or device (not a hub)
 * that all of its member accounts use, as a family's card has its home
 * line or tablet? A ring rotating addresses spreads a card's accounts over
 * several. Members are stamped. */
static int card_has_home(scratch *x, uint32_t t) {
    const rw_graph_snap *s = x->s;
    uint32_t members = 0, nl = 0, best = 0;
    for (uint64_t k = s->off[t]; k < s->off[t + 1]; k++) {
        uint32_t b = s->nbr[k];
        if (x->member[b] != x->cluster_tick) continue;
        members++;
        for (uint64_t q = s->off[b]; q < s->off[b + 1]; q++) {
            uint32_t u = s->nbr[q];
            if (s->kind[u] == RW_KIND_PAYMENT || is_hub(x, u)) continue;
            if (x->home[u]++ == 0) x->home_list[nl++] = u;
            if (x->home[u] > best) best = x->home[u];
        }
    }
    for (uint32_t i = 0; i < nl; i++) x->home[x->home_list[i]] = 0;
    return best == members;
}

/* Card and device figures: payers and their distinct cards, members on a
 * shared card without a home, members on devices of their own. Needs
 * x->cnt (members per attribute) and the member stamps. */
static void card_figures(scratch *x, const uint32_t *acc, uint32_t n, uint32_t nt, rw_cluster_features *out,
                         uint32_t *own_devices) {
    const rw_graph_snap *s = x->s;
    uint32_t tag = ++x->tick;
    out->cards = out->payers = out->homeless_card_accounts = *own_devices = 0;
    for (uint32_t i = 0; i < nt; i++) {
        uint32_t t = x->touched[i];
        if (s->kind[t] != RW_KIND_PAYMENT) continue;
        out->cards++;
        if (x->cnt[t] < 2 || card_has_home(x, t)) continue;
        for (uint64_t k = s->off[t]; k < s->off[t + 1]; k++) {
            uint32_t b = s->nbr[k];
            if (x->member[b] != x->cluster_tick || x->peer[b] == tag) continue;
            x->peer[b] = tag;
            out->homeless_card_accounts++;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = acc[i], pays = 0, devs = 0, shared_devs = 0;
        for (uint64_t k = s->off[a]; k < s->off[a + 1]; k++) {
            uint32_t t = s->nbr[k];
            pays |= s->kind[t] == RW_KIND_PAYMENT;
            if (s->kind[t] != RW_KIND_DEVICE) continue;
            devs++;
            shared_devs += rw_detect_degree(s, t) > 1;
        }
        out->payers += pays;
        *own_devices += devs > 0 && shared_devs == 0;
    }
}

/* Arrival window: days between the signups of sorted times once the
 * earliest and the latest tenth are set aside (the same count from each
 * end, so below ten accounts the whole span: dropping only the last would
 * read a household's three signups over five days as the first two's
 * hour, and every pair as one moment). */
static double span_days(const uint32_t *sorted, uint32_t n) {
    uint32_t lo = sorted[n / 10], hi = sorted[n - 1 - n / 10];
    return hi > lo ? (double)(hi - lo) / 86400.0 : 0.0;
}

static double clamp01(double v) {
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* Arrival within about two coherence windows counts in full; a month (a
 * family, an office) counts for little. span_feature: RW_F_SPAN_DAYS. */
static double arrived_together(double span_feature) {
    double days = expm1(span_feature), window = 2.0 * RW_COHERENCE_WINDOW / 86400.0;
    return days <= window ? 1.0 : window / days;
}

/* Do all members share one address and one device (neither a hub): a
 * home line and a family tablet? A card ring's piece of that size shares an
 * address but has a fresh device per account. Needs x->cnt (members per
 * attribute). */
static int all_at_home(const scratch *x, uint32_t n, uint32_t nt) {
    const rw_graph_snap *s = x->s;
    int line = 0, tablet = 0;
    for (uint32_t i = 0; i < nt; i++) {
        uint32_t t = x->touched[i];
        if (x->cnt[t] != n || is_hub(x, t)) continue;
        line |= s->kind[t] == RW_KIND_IP;
        tablet |= s->kind[t] == RW_KIND_DEVICE;
    }
    return line && tablet;
}

double rw_cluster_card_ring_strength(const rw_cluster_features *f) {
    const double *x = f->f;
    /* Several cards: one card for everyone is a company's, unless that one
     * card alone serves a ring's worth of accounts with no home in common
     * (a company card's team shares the office address). Community
     * detection cuts a long ring of rotating addresses into pieces that
     * may hold a single card each. */
    if (f->accounts < RW_CARD_RING_MIN) return 0.0;
    if (f->shared[RW_KIND_PAYMENT] < 2 && f->homeless_card_accounts < RW_CARD_RING_MIN) return 0.0;
    double soon = arrived_together(x[RW_F_SPAN_DAYS]);
    return clamp01(x[RW_F_CARD_HOMELESS]) * clamp01(1.0 - x[RW_F_CARDS_PER_PAYER]) * clamp01(x[RW_F_OWN_DEVICES]) *
           clamp01(x[RW_F_SUBNET_SHARE]) * clamp01(x[RW_F_EXCLUSIVE]) * soon;
}

/* Features of one community given its accounts. */
static rw_status one_cluster(scratch *x, const uint32_t *acc, uint32_t n, rw_cluster_features *out, rw_err *err) {
    const rw_graph_snap *s = x->s;
    memset(out, 0, sizeof *out);
    out->accounts = n;
    uint32_t nt = 0;
    uint64_t edges = 0, hub_accounts = 0, private_attrs = 0, ips = 0, later = 0;
    uint32_t first = UINT32_MAX, last = 0;
    x->cluster_tick = ++x->tick;
    for (uint32_t i = 0; i < n; i++) x->member[acc[i]] = x->cluster_tick;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = acc[i];
        uint32_t signup = s->first_seen[a];
        x->times[i] = signup;
        if (signup < first) first = signup;
        if (signup > last) last = signup;
        int touches_hub = 0;
        for (uint64_t k = s->off[a]; k < s->off[a + 1]; k++) {
            uint32_t t = s->nbr[k];
            const rw_edge *e = &s->edges[s->eid[k]];
            edges++;
            if (s->kind[t] == RW_KIND_IP) ips++;
            if (e->first_seen > signup + 3600) later++;
            if (is_hub(x, t)) {
                touches_hub = 1;
                continue;
            }
            if (rw_detect_degree(s, t) == 1) private_attrs++;
            if (x->cnt[t]++ == 0) x->touched[nt++] = t;
            /* subnets: count each account once per subnet */
            uint32_t p = s->kind[t] == RW_KIND_IP ? s->parent[t] : RW_NODE_NONE;
            if (p != RW_NODE_NONE && x->mark[p] != i + 1) {
                x->mark[p] = i + 1;
                if (x->cnt[p]++ == 0) x->touched[nt++] = p;
            }
        }
        hub_accounts += (uint64_t)touches_hub;
    }
    /* Shared attributes: which accounts are linked to another through them. */
    uint64_t inside = 0, total = 0;
    double coh_sum = 0, coh_w = 0;
    uint32_t max_share[RW_KIND_COUNT] = {0};
    for (uint32_t i = 0; i < nt; i++) {
        uint32_t t = x->touched[i], k = x->cnt[t];
        rw_kind kind = (rw_kind)s->kind[t];
        if (kind == RW_KIND_SUBNET) {
            if (k > out->top_subnet_accounts) out->top_subnet_accounts = k;
            continue;
        }
        if (k > max_share[kind]) max_share[kind] = k;
        if (k < 2) continue;
        out->shared[kind]++;
        inside += k;
        total += rw_detect_degree(s, t);
        coh_sum += k * rw_detect_coherence(s, t, x->coh_scratch);
        coh_w += k;
    }
    /* The densest signup window first: the account loop below asks who
     * signed up inside it. */
    out->burst_accounts = densest_window(x->times, n, BURST_WINDOW, &out->burst_start);
    uint32_t linked[RW_KIND_COUNT] = {0}, multi = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = acc[i];
        int got[RW_KIND_COUNT] = {0}, nshared = 0;
        for (uint64_t k = s->off[a]; k < s->off[a + 1]; k++) {
            uint32_t t = s->nbr[k];
            if (!is_hub(x, t) && x->cnt[t] >= 2) got[s->kind[t]] = 1, nshared++;
        }
        multi += nshared >= 2;
        if (x->af) {
            double *af = x->af + (size_t)a * RW_A_COUNT;
            int priv = 0, hub = 0;
            for (uint64_t k = s->off[a]; k < s->off[a + 1]; k++) {
                uint32_t t = s->nbr[k];
                if (is_hub(x, t))
                    hub = 1;
                else if (rw_detect_degree(s, t) == 1)
                    priv++;
            }
            uint32_t su = s->first_seen[a];
            af[RW_A_CLUSTER_LOGIT] = 0;
            af[RW_A_DEVICE] = got[RW_KIND_DEVICE];
            af[RW_A_CARD] = got[RW_KIND_PAYMENT];
            af[RW_A_IP] = got[RW_KIND_IP];
            af[RW_A_SHARED] = (nshared > 5 ? 5 : nshared) / 5.0;
            af[RW_A_IN_BURST] = su >= out->burst_start && su - out->burst_start <= BURST_WINDOW;
            af[RW_A_PRIVATE] = (priv > 5 ? 5 : priv) / 5.0;
            af[RW_A_HUB] = hub;
            /* Peers who came together with it: a ring's members sign up
             * close to those they share a device or card with; a household
             * glued to a ring through one residential IP does not. */
            uint32_t me = ++x->tick, peers = 0;
            for (uint64_t k = s->off[a]; k < s->off[a + 1] && peers < 5; k++) {
                uint32_t t = s->nbr[k];
                if (is_hub(x, t) || x->cnt[t] < 2) continue;
                for (uint64_t q = s->off[t]; q < s->off[t + 1] && peers < 5; q++) {
                    uint32_t b = s->nbr[q];
                    if (b == a || x->member[b] != x->cluster_tick || x->peer[b] == me) continue;
                    x->peer[b] = me;
                    uint32_t sb = s->first_seen[b];
                    if ((sb > su ? sb - su : su - sb) <= RW_COHERENCE_WINDOW) peers++;
                }
            }
            af[RW_A_PEERS] = peers / 5.0;
        }
        uint8_t bits = 0;
        for (int kind = 0; kind < RW_KIND_COUNT; kind++) {
            linked[kind] += (uint32_t)got[kind];
            bits |= (uint8_t)(got[kind] << kind);
        }
        if (x->links) x->links[a] = bits;
    }
    uint32_t own_devices = 0;
    card_figures(x, acc, n, nt, out, &own_devices);
    int home = n < RW_CARD_RING_MIN && all_at_home(x, n, nt);
    for (uint32_t i = 0; i < nt; i++) x->cnt[x->touched[i]] = 0, x->mark[x->touched[i]] = 0;
    out->attributes = nt;
    out->first_signup = first;
    out->last_signup = last;
    out->linked_devices = linked[RW_KIND_DEVICE];
    out->linked_cards = linked[RW_KIND_PAYMENT];
    out->max_device_accounts = max_share[RW_KIND_DEVICE];
    out->max_card_accounts = max_share[RW_KIND_PAYMENT];
    double dn = (double)n;
    double *f = out->f;
    f[RW_F_LOG_ACCOUNTS] = log(dn);
    f[RW_F_DEVICE_LINKED] = linked[RW_KIND_DEVICE] / dn;
    f[RW_F_CARD_LINKED] = linked[RW_KIND_PAYMENT] / dn;
    f[RW_F_IP_LINKED] = linked[RW_KIND_IP] / dn;
    f[RW_F_MAX_DEVICE_SHARE] = max_share[RW_KIND_DEVICE] / dn;
    f[RW_F_MAX_CARD_SHARE] = max_share[RW_KIND_PAYMENT] / dn;
    f[RW_F_EXCLUSIVE] = total ? (double)inside / (double)total : 0;
    f[RW_F_BURST] = out->burst_accounts / dn;
    f[RW_F_SUBNET_SHARE] = out->top_subnet_accounts / dn;
    f[RW_F_PRIVATE_ATTRS] = (double)private_attrs / dn;
    f[RW_F_IP_DIVERSITY] = (double)ips / dn;
    f[RW_F_HUB_CONTACT] = (double)hub_accounts / dn;
    f[RW_F_LATER_LOGINS] = edges ? (double)later / (double)edges : 0;
    f[RW_F_MULTI_SHARED] = multi / dn;
    f[RW_F_COHERENCE] = coh_w > 0 ? coh_sum / coh_w : 0;
    f[RW_F_CARD_HOMELESS] = out->homeless_card_accounts / dn;
    f[RW_F_CARDS_PER_PAYER] = out->payers ? (double)out->cards / out->payers : 1.0;
    f[RW_F_OWN_DEVICES] = own_devices / dn;
    f[RW_F_SPAN_DAYS] = log1p(span_days(x->times, n));
    f[RW_F_CARD_RING] = rw_cluster_card_ring_strength(out);
    /* A family: a few accounts at one home (a line and a tablet). Arrival
     * times do not tell them from a ring's piece: with three members, two
     * often sign up on one evening. */
    f[RW_F_HOUSEHOLD] = home;
    if (n >= 3) {
        rw_spectral sp;
        rw_status st = rw_detect_sigma1(s, x->w, acc, n, &sp, err);
        if (st != RW_OK) return st;
        f[RW_F_LOCKSTEP] = sp.lockstep;
        out->sigma1 = sp.sigma1;
    }
    return RW_OK;
}

rw_status rw_detect_features(const rw_graph_snap *s, const double *w, uint32_t hub_degree, const uint32_t *membership,
                             uint32_t ncomm, rw_cluster_features *out, uint8_t *links, double *account_features,
                             rw_err *err) {
    return rw_detect_features_some(s, w, hub_degree, membership, ncomm, NULL, out, links, account_features, 1, err);
}

static void scratch_free(scratch *x) {
    free(x->cnt);
    free(x->mark);
    free(x->touched);
    free(x->times);
    free(x->coh_scratch);
    free(x->member);
    free(x->peer);
    free(x->home);
    free(x->home_list);
}

/* A worker's scratch: per-node counters and stamps, each reset (or
 * stamped anew) after every community. */
static rw_status scratch_alloc(scratch *x, uint32_t maxd, rw_err *err) {
    size_t n = (size_t)x->s->n + 1;
    x->cnt = calloc(n, sizeof *x->cnt);
    x->mark = calloc(n, sizeof *x->mark);
    x->touched = malloc(n * sizeof *x->touched);
    x->times = malloc(n * sizeof *x->times);
    x->coh_scratch = malloc(((size_t)maxd + 1) * sizeof *x->coh_scratch);
    x->member = calloc(n, sizeof *x->member);
    x->peer = calloc(n, sizeof *x->peer);
    x->home = calloc(n, sizeof *x->home);
    x->home_list = malloc(n * sizeof *x->home_list);
    if (!x->cnt || !x->mark || !x->touched || !x->times || !x->coh_scratch || !x->member || !x->peer || !x->home ||
        !x->home_list)
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for cluster features");
    return RW_OK;
}

/* One features job: the communities grouped (start[c]..start[c + 1] of
 * order) and each worker's scratch. */
struct rw_features_job {
    scratch x[RW_PAR_MAX];
    unsigned workers;
    uint32_t *start, *order;
    const uint8_t *which;
    rw_cluster_features *out;
    rw_par *par;
};

static rw_status features_block(void *ctx, unsigned worker, uint64_t from, uint64_t to, rw_err *err) {
    rw_features_job *j = ctx;
    for (uint64_t c = from; c < to; c++) {
        uint32_t n = j->start[c + 1] - j->start[c];
        if (j->which && !j->which[c]) continue;
        if (n == 0) {
            memset(&j->out[c], 0, sizeof j->out[c]);
            continue;
        }
        rw_status st = one_cluster(&j->x[worker], j->order + j->start[c], n, &j->out[c], err);
        if (st != RW_OK) return st;
    }
    return RW_OK;
}

static void features_job_free(rw_features_job *j) {
    free(j->start);
    free(j->order);
    for (unsigned k = 0; k < j->workers; k++) scratch_free(&j->x[k]);
    free(j);
}

/* Communities per block a worker takes: small enough to even out the
 * workers' shares, large enough that taking one costs nothing. */
#define FEATURES_BLOCK 64

/* The job's input: scratch for each worker and the accounts grouped by
 * community (a counting sort, stable in node order). */
static rw_status features_prepare(rw_features_job *j, const rw_graph_snap *s, const double *w, uint32_t hub_degree,
                                  const uint32_t *membership, uint32_t ncomm, uint8_t *links, double *account_features,
                                  rw_err *err) {
    uint32_t maxd = 0;
    for (uint32_t v = 0; v < s->n; v++) {
        uint32_t d = rw_detect_degree(s, v);
        if (s->kind[v] != RW_KIND_ACCOUNT && !rw_detect_is_hub(s, w, hub_degree, v) && d > maxd) maxd = d;
    }
    j->start = calloc((size_t)ncomm + 1, sizeof *j->start);
    j->order = malloc(((size_t)s->n + 1) * sizeof *j->order);
    if (!j->start || !j->order) return rw_fail(err, RW_ERR_NOMEM, "out of memory for cluster features");
    rw_status st = RW_OK;
    for (unsigned k = 0; k < j->workers && st == RW_OK; k++) {
        j->x[k] = (scratch){.s = s, .w = w, .hub_degree = hub_degree, .links = links, .af = account_features};
        st = scratch_alloc(&j->x[k], maxd, err);
    }
    if (st != RW_OK) return st;
    for (uint32_t v = 0; v < s->n; v++)
        if (s->kind[v] == RW_KIND_ACCOUNT) j->start[membership[v] + 1]++;
    for (uint32_t c = 0; c < ncomm; c++) j->start[c + 1] += j->start[c];
    uint32_t *fill = malloc(((size_t)ncomm + 1) * sizeof *fill);
    if (!fill) return rw_fail(err, RW_ERR_NOMEM, "out of memory for cluster features");
    memcpy(fill, j->start, ((size_t)ncomm + 1) * sizeof *fill);
    for (uint32_t v = 0; v < s->n; v++)
        if (s->kind[v] == RW_KIND_ACCOUNT) j->order[fill[membership[v]]++] = v;
    free(fill);
    return RW_OK;
}

rw_status rw_detect_features_start(rw_features_job **out, const rw_graph_snap *s, const double *w, uint32_t hub_degree,
                                   const uint32_t *membership, uint32_t ncomm, const uint8_t *which,
                                   rw_cluster_features *feat, uint8_t *links, double *account_features,
                                   unsigned workers, rw_err *err) {
    rw_features_job *j = calloc(1, sizeof *j);
    *out = NULL;
    if (!j) return rw_fail(err, RW_ERR_NOMEM, "out of memory for cluster features");
    workers = workers < 1 ? 1 : workers > RW_PAR_MAX ? RW_PAR_MAX : workers;
    /* no more workers than blocks: scratch is per node, not free */
    j->workers = workers > ncomm / FEATURES_BLOCK + 1 ? ncomm / FEATURES_BLOCK + 1 : workers;
    j->which = which;
    j->out = feat;
    if (links && !which) memset(links, 0, s->n);
    rw_status st = features_prepare(j, s, w, hub_degree, membership, ncomm, links, account_features, err);
    if (st == RW_OK) st = rw_par_start(&j->par, j->workers, ncomm, FEATURES_BLOCK, features_block, j, err);
    if (st != RW_OK) {
        features_job_free(j);
        return st;
    }
    *out = j;
    return RW_OK;
}

rw_status rw_detect_features_finish(rw_features_job *j, rw_err *err) {
    if (!j) return RW_OK;
    rw_status st = rw_par_finish(j->par, err);
    features_job_free(j);
    return st;
}

rw_status rw_detect_features_some(const rw_graph_snap *s, const double *w, uint32_t hub_degree,
                                  const uint32_t *membership, uint32_t ncomm, const uint8_t *which,
                                  rw_cluster_features *out, uint8_t *links, double *account_features, unsigned workers,
                                  rw_err *err) {
    rw_features_job *j = NULL;
    rw_status st = rw_detect_features_start(&j, s, w, hub_degree, membership, ncomm, which, out, links,
                                            account_features, workers, err);
    return st == RW_OK ? rw_detect_features_finish(j, err) : st;
}

static void fmt_hours(char *out, size_t size, uint32_t seconds) {
    if (seconds < 2 * 3600)
        snprintf(out, size, "%u minutes", (seconds + 59) / 60);
    else if (seconds < 3 * 86400)
        snprintf(out, size, "%u hours", (seconds + 1800) / 3600);
    else
        snprintf(out, size, "%u days", (seconds + 43200) / 86400);
}

/* Thresholds of the block-ring signature, with room on seeds 1-4: the
 * benign clusters nearest to it (households glued by one residential /24)
 * miss it on two or more conditions. */
static const struct {
    uint32_t min_accounts;
    double min_exclusive, min_subnet_share, min_coherence, max_private_attrs, min_ip_diversity;
} block_ring = {7, 0.9, 0.8, 0.6, 0.7, 2.2};

int rw_cluster_block_ring(const rw_cluster_features *f) {
    const double *x = f->f;
    return f->accounts >= block_ring.min_accounts && x[RW_F_EXCLUSIVE] >= block_ring.min_exclusive &&
           x[RW_F_SUBNET_SHARE] >= block_ring.min_subnet_share && x[RW_F_COHERENCE] >= block_ring.min_coherence &&
           x[RW_F_PRIVATE_ATTRS] < block_ring.max_private_attrs && x[RW_F_IP_DIVERSITY] >= block_ring.min_ip_diversity;
}

size_t rw_cluster_reasons(const rw_cluster_features *f, char reasons[][160], size_t max) {
    size_t n = 0;
    if (f->accounts < 2) return 0;
    if (n < max && rw_cluster_block_ring(f))
        snprintf(reasons[n++], 160,
                 "%u of %u accounts came from one subnet whose shared addresses no one else used, within two days, "
                 "with few attributes of their own",
                 f->top_subnet_accounts, f->accounts);
    if (n < max && f->f[RW_F_CARD_RING] >= 0.3)
        snprintf(reasons[n++], 160,
                 "%u of %u accounts share %u payment cards with accounts they share no home with, on devices of "
                 "their own",
                 f->homeless_card_accounts, f->accounts, f->shared[RW_KIND_PAYMENT]);
    if (n < max && f->linked_devices >= 2)
        snprintf(reasons[n++], 160, "%u accounts share %u device%s (up to %u accounts on one)", f->linked_devices,
                 f->shared[RW_KIND_DEVICE], f->shared[RW_KIND_DEVICE] == 1 ? "" : "s", f->max_device_accounts);
    if (n < max && f->linked_cards >= 2)
        snprintf(reasons[n++], 160, "%u accounts share %u payment card%s (up to %u accounts on one)", f->linked_cards,
                 f->shared[RW_KIND_PAYMENT], f->shared[RW_KIND_PAYMENT] == 1 ? "" : "s", f->max_card_accounts);
    if (n < max && f->burst_accounts >= 3 && f->f[RW_F_BURST] >= 0.5) {
        char span[32];
        fmt_hours(span, sizeof span, BURST_WINDOW);
        snprintf(reasons[n++], 160, "%u of %u accounts signed up within %s", f->burst_accounts, f->accounts, span);
    }
    if (n < max && f->top_subnet_accounts >= 3 && f->f[RW_F_SUBNET_SHARE] >= 0.5)
        snprintf(reasons[n++], 160, "%u of %u accounts came from one /24 subnet", f->top_subnet_accounts, f->accounts);
    if (n < max && f->f[RW_F_EXCLUSIVE] >= 0.8 && (f->shared[RW_KIND_DEVICE] + f->shared[RW_KIND_PAYMENT]) > 0)
        snprintf(reasons[n++], 160, "%.0f%% of the uses of its shared devices and cards are by its own members",
                 100 * f->f[RW_F_EXCLUSIVE]);
    if (n < max && f->f[RW_F_PRIVATE_ATTRS] < 0.5)
        snprintf(reasons[n++], 160, "members have few attributes of their own (%.1f each)", f->f[RW_F_PRIVATE_ATTRS]);
    if (n < max && f->f[RW_F_LOCKSTEP] >= 0.8 && f->accounts >= 3)
        snprintf(reasons[n++], 160, "members use the same attributes in lockstep (sigma1^2/||B||^2 = %.2f)",
                 f->f[RW_F_LOCKSTEP]);
    return n;
}
