/* Online path: recording events with group commit, and scoring each against
 * the live graph and the communities of the newest run, which new accounts
 * join at once (so a ring's score rises as it grows, before any batch run). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

#define DEFAULT_REVIEW RW_ONLINE_REVIEW
#define DEFAULT_BLOCK  RW_ONLINE_BLOCK
#define HUB_DEGREE     200 /* as the batch detectors: above it an attribute glues nothing */
/* Scores from this share of the review threshold up carry the model's reasons. */
#define RW_EXPLAIN_SHARE 0.5
#define TAU_HOUR         3600.0
#define TAU_DAY          86400.0
#define MAX_FAILS        16

const char *rw_verdict_name(rw_verdict v) {
    static const char *const names[] = {"allow", "review", "block"};
    return (unsigned)v < 3 ? names[v] : "allow";
}

/* ---- live state ----------------------------------------------------------- */

static double decay(double value, int64_t from, int64_t to, double tau) {
    if (to <= from) return value;
    return value * exp(-(double)(to - from) / tau);
}

/* The per-node arrays of the live state, as a table: growing and freeing
 * them is one loop. */
typedef struct {
    size_t off;  /* of the pointer in rw_live */
    size_t size; /* of an element */
    int per_run; /* a new run replaces it (built outside the lock); the others carry over */
} node_array;

static const node_array node_arrays[] = {
    {offsetof(rw_live, comm), sizeof(uint32_t), 1},    {offsetof(rw_live, flags), sizeof(uint8_t), 0},
    {offsetof(rw_live, seen_score), sizeof(float), 0}, {offsetof(rw_live, run_score), sizeof(float), 1},
    {offsetof(rw_live, sub_hour), sizeof(float), 0},   {offsetof(rw_live, sub_day), sizeof(float), 0},
    {offsetof(rw_live, sub_ts), sizeof(uint32_t), 0},  {offsetof(rw_live, run_flagged), sizeof(uint8_t), 1},
};
#define NODE_ARRAYS (sizeof node_arrays / sizeof node_arrays[0])

static void **node_array_at(rw_live *L, size_t i) {
    return (void **)((char *)L + node_arrays[i].off);
}

static void live_free(rw_live *L) {
    for (size_t i = 0; i < NODE_ARRAYS; i++) free(*node_array_at(L, i));
    free(L->c);
    memset(L, 0, sizeof *L);
}

/* Grows *p from old to cap (>= old) elements of size bytes, the new ones
 * zero. Returns 0 on success (*p unchanged on failure). */
static int array_grow(void **p, size_t size, uint32_t old, uint32_t cap) {
    if (cap <= old && *p) return 0;
    char *q = realloc(*p, (size_t)cap * size);
    if (!q) return -1;
    memset(q + (size_t)old * size, 0, (size_t)(cap - old) * size);
    *p = q;
    return 0;
}

/* Makes room for nodes [0, n); new entries are zero. Returns 0 on success. */
static int live_grow(rw_live *L, uint32_t n) {
    if (n <= L->cap) return 0;
    uint32_t cap = L->cap ? L->cap : 1024;
    while (cap < n) cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
    for (size_t i = 0; i < NODE_ARRAYS; i++)
        if (array_grow(node_array_at(L, i), node_arrays[i].size, L->cap, cap) != 0)
            return -1; /* the grown ones are kept; cap is not raised */
    L->cap = cap;
    return 0;
}

/* Appends a community; returns its index, 0 when out of memory. */
static uint32_t comm_add(rw_live *L, const rw_live_comm *c) {
    if (L->nc + 1 >= L->ccap) {
        uint32_t cap = L->ccap ? L->ccap * 2 : 1024;
        rw_live_comm *n = realloc(L->c, (size_t)cap * sizeof *n);
        if (!n) return 0;
        L->c = n;
        L->ccap = cap;
        if (L->nc == 0) {
            memset(&L->c[0], 0, sizeof L->c[0]);
            L->nc = 1;
        }
    }
    L->c[L->nc] = *c;
    return L->nc++;
}

static void comm_count_signup(rw_live_comm *c, int64_t ts, double weight) {
    c->day = (float)(decay(c->day, c->day_ts, ts, TAU_DAY) + weight);
    if (ts > (int64_t)c->day_ts) c->day_ts = (uint32_t)(ts < 0 ? 0 : ts > UINT32_MAX ? UINT32_MAX : ts);
}

/* Evidence of a shared attribute by kind: a card says more than an address. */
static const double kind_weight[RW_KIND_COUNT] = {0, 1.0, 2.0, 3.0, 0};

/* An attribute that may tie accounts together online. */
static int linking(const rw_engine *e, uint32_t x, uint32_t *deg) {
    const rw_live *L = &e->live;
    *deg = rw_graph_degree(e->graph, x);
    return *deg >= 2 && *deg <= L->hub_degree && !(L->flags[x] & RW_LIVE_CLEARED);
}

/* Puts account a (and its linking attributes) into a community: the one its
 * attributes vote for, else a new one formed with the accounts it shares an
 * attribute with. Called under the write lock after the event is applied. */
static void live_place(rw_engine *e, uint32_t a, int64_t ts, int signup) {
    rw_live *L = &e->live;
    uint32_t nedges = 0;
    const rw_edge *ed = rw_graph_account_edges(e->graph, a, &nedges);
    uint32_t cur = L->comm[a];
    if (!cur) {
        enum { MAXC = 16 };
        uint32_t cand[MAXC], ncand = 0, seed = RW_NODE_NONE;
        double vote[MAXC], seed_w = 0;
        for (uint32_t i = 0; i < nedges; i++) {
            uint32_t x = ed[i].attr, deg;
            if (!linking(e, x, &deg)) continue;
            double w = kind_weight[rw_graph_kind(e->graph, x)] / log(2.0 + deg);
            uint32_t c = L->comm[x];
            if (!c) {
                if (w > seed_w) seed_w = w, seed = x;
                continue;
            }
            uint32_t k = 0;
            while (k < ncand && cand[k] != c) k++;
            if (k == ncand) {
                if (ncand == MAXC) continue;
                cand[ncand] = c, vote[ncand++] = 0;
            }
            vote[k] += w;
        }
        double best = 0;
        for (uint32_t k = 0; k < ncand; k++)
            if (vote[k] > best) cur = cand[k], best = vote[k];
        if (cur) {
            L->comm[a] = cur;
            L->c[cur].size++;
            if (signup) comm_count_signup(&L->c[cur], ts, 1.0);
        } else if (seed != RW_NODE_NONE) {
            /* A new community of the accounts behind the strongest shared
             * attribute; their signups count in its growth by their age. */
            rw_live_comm nc = {.live_no = ++L->next_live};
            cur = comm_add(L, &nc);
            if (!cur) return;
            uint32_t nacc = 0;
            const uint32_t *acc = rw_graph_attr_accounts(e->graph, seed, &nacc);
            for (uint32_t i = 0; i < nacc; i++) {
                uint32_t b = acc[i];
                if (L->comm[b] && b != a) continue;
                L->comm[b] = cur;
                L->c[cur].size++;
                int64_t first = rw_graph_first_seen(e->graph, b);
                comm_count_signup(&L->c[cur], first, 1.0);
            }
            comm_count_signup(&L->c[cur], ts, 0.0);
            L->comm[seed] = cur;
        }
    }
    if (!cur) return;
    for (uint32_t i = 0; i < nedges; i++) {
        uint32_t x = ed[i].attr, deg;
        if (!L->comm[x] && linking(e, x, &deg)) L->comm[x] = cur;
    }
}

/* Counts a signup on its IP's subnet (the subnet nodes carry no edges, so
 * their velocity lives here rather than in the graph). */
static void subnet_signup(rw_live *L, uint32_t subnet, int64_t ts) {
    uint32_t t = (uint32_t)(ts < 0 ? 0 : ts > UINT32_MAX ? UINT32_MAX : ts);
    L->sub_hour[subnet] = (float)(decay(L->sub_hour[subnet], L->sub_ts[subnet], t, TAU_HOUR) + 1);
    L->sub_day[subnet] = (float)(decay(L->sub_day[subnet], L->sub_ts[subnet], t, TAU_DAY) + 1);
    if (t > L->sub_ts[subnet]) L->sub_ts[subnet] = t;
}

/* Raw figures behind the features, kept for the reasons. */
typedef struct {
    double shared[RW_KIND_COUNT], day[RW_KIND_COUNT], hour[RW_KIND_COUNT];
    double foreign; /* accounts on its device never seen on its subnet */
    int cleared;    /* kinds (bit per rw_kind) of its attributes a benign label cleared */
    double seen;    /* the highest online score seen on its attributes */
    double sub_hour, sub_day;
    int fraud_attr;
} raw_figures;

static void cluster_text(const rw_live *L, uint32_t c, char *out) {
    if (!c)
        out[0] = 0;
    else if (L->c[c].batch_id)
        snprintf(out, RW_CLUSTER_TEXT, "c%u", L->c[c].batch_id);
    else
        snprintf(out, RW_CLUSTER_TEXT, "live-%u", L->c[c].live_no);
}

/* "1 account", "3 accounts" (counts are decayed, so rounded first). */
static const char *plural(double n, const char *one, const char *many) {
    return n >= 0.5 && n < 1.5 ? one : many;
}

static void reason_text(const rw_live *L, uint32_t c, int f, const raw_figures *r, char *out) {
    static const rw_live_comm none = {0};
    const rw_live_comm *cm = c ? &L->c[c] : &none;
    double n, m;
    switch (f) {
        case RW_O_DEVICE_SHARED:
        case RW_O_DEVICE_DAY:
        case RW_O_DEVICE_BURST:
        case RW_O_DEVICE_DAY2:
            n = r->shared[RW_KIND_DEVICE], m = fmax(0, r->day[RW_KIND_DEVICE]);
            snprintf(out, 160, "its device is shared with %.0f other %s, %.0f of them new in the last day", n,
                     plural(n, "account", "accounts"), m);
            break;
        case RW_O_DEVICE_FOREIGN:
            snprintf(out, 160, "%.0f other %s on its device came from other networks (an emulator or device farm?)",
                     r->foreign, plural(r->foreign, "account", "accounts"));
            break;
        case RW_O_ATTR_FLAGGED:
            snprintf(out, 160, "shares a device, card or address with an account the last batch run flagged");
            break;
        case RW_O_ATTR_ONLINE:
            snprintf(out, 160, "shares a device, card or address with an account that scored %.2f at its signup",
                     r->seen);
            break;
        case RW_O_CARD_SHARED:
        case RW_O_CARD_DAY:
            n = r->shared[RW_KIND_PAYMENT], m = fmax(0, r->day[RW_KIND_PAYMENT]);
            snprintf(out, 160, "its card is used by %.0f other %s, %.0f of them new in the last day", n,
                     plural(n, "account", "accounts"), m);
            break;
        case RW_O_IP_SHARED:
        case RW_O_IP_HOUR:
            n = r->shared[RW_KIND_IP], m = fmax(0, r->hour[RW_KIND_IP]);
            snprintf(out, 160, "its IP address is shared with %.0f other %s, %.0f of them new in the last hour", n,
                     plural(n, "account", "accounts"), m);
            break;
        case RW_O_SUBNET_OTHER:
        case RW_O_SUBNET_DAY:
            n = fmax(0, r->sub_hour), m = fmax(0, r->sub_day);
            snprintf(out, 160, "%.0f other %s from its /24 in the last hour, %.0f in the last day", n,
                     plural(n, "signup", "signups"), m);
            break;
        case RW_O_COMM_SCORE:
        case RW_O_COMM_FLAGGED:
            snprintf(out, 160, "joins cluster c%u (score %.2f%s, %u accounts)", cm->batch_id, cm->run_score,
                     cm->run_flagged ? ", flagged by the batch run" : "", cm->size);
            break;
        case RW_O_COMM_SIZE:
        case RW_O_COMM_DAY:
            if (cm->batch_id)
                snprintf(out, 160, "joins cluster c%u: %u accounts, %.0f signups in the last day", cm->batch_id,
                         cm->size, (double)cm->day);
            else
                snprintf(out, 160,
                         "in a group of %u accounts formed since the last batch run, %.0f new in the last day",
                         cm->size, (double)cm->day);
            break;
        default:
            snprintf(out, 160, "%s", rw_online_feature_name(f));
    }
}

/* Does account b have an IP in one of the subnets in sub[0..n)? */
static int seen_on(const rw_graph *g, uint32_t b, const uint32_t *sub, uint32_t n) {
    uint32_t nb = 0;
    const rw_edge *eb = rw_graph_account_edges(g, b, &nb);
    for (uint32_t j = 0; j < nb; j++) {
        uint32_t p = rw_graph_parent(g, eb[j].attr);
        for (uint32_t k = 0; p != RW_NODE_NONE && k < n; k++)
            if (p == sub[k]) return 1;
    }
    return 0;
}

/* The most accounts on one of a's (non-hub) devices that were never seen on
 * any of a's subnets: people share a tablet at home, farms share an
 * emulator image across proxies. Bounded by the hub degree. */
static double foreign_accounts(const rw_engine *e, uint32_t a, const rw_edge *ed, uint32_t nedges) {
    enum { MAXSUB = 8 };
    uint32_t sub[MAXSUB], ns = 0;
    for (uint32_t i = 0; i < nedges && ns < MAXSUB; i++) {
        uint32_t p = rw_graph_parent(e->graph, ed[i].attr);
        if (p != RW_NODE_NONE) sub[ns++] = p;
    }
    double best = 0;
    for (uint32_t i = 0; i < nedges; i++) {
        uint32_t x = ed[i].attr;
        if (rw_graph_kind(e->graph, x) != RW_KIND_DEVICE || (e->live.flags[x] & RW_LIVE_CLEARED)) continue;
        uint32_t n = 0;
        const uint32_t *acc = rw_graph_attr_accounts(e->graph, x, &n);
        if (n < 2 || n > e->live.hub_degree) continue;
        double count = 0;
        for (uint32_t k = 0; k < n; k++)
            if (acc[k] != a && !seen_on(e->graph, acc[k], sub, ns)) count++;
        if (count > best) best = count;
    }
    return best;
}

/* Features that one sentence explains together. Every feature is listed: an
 * omitted one would share device_shared's key (0) and hide its sentence. */
static const int sentence[RW_O_COUNT] = {
    [RW_O_DEVICE_SHARED] = RW_O_DEVICE_SHARED,
    [RW_O_DEVICE_DAY] = RW_O_DEVICE_SHARED,
    [RW_O_DEVICE_BURST] = RW_O_DEVICE_SHARED,
    [RW_O_DEVICE_DAY2] = RW_O_DEVICE_SHARED,
    [RW_O_DEVICE_FOREIGN] = RW_O_DEVICE_FOREIGN,
    [RW_O_CARD_SHARED] = RW_O_CARD_SHARED,
    [RW_O_CARD_DAY] = RW_O_CARD_SHARED,
    [RW_O_IP_SHARED] = RW_O_IP_SHARED,
    [RW_O_IP_HOUR] = RW_O_IP_SHARED,
    [RW_O_SUBNET_OTHER] = RW_O_SUBNET_OTHER,
    [RW_O_SUBNET_DAY] = RW_O_SUBNET_OTHER,
    [RW_O_IP_HUB] = RW_O_IP_HUB,
    [RW_O_DEVICE_HUB] = RW_O_DEVICE_HUB,
    [RW_O_COMM_SCORE] = RW_O_COMM_SCORE,
    [RW_O_COMM_FLAGGED] = RW_O_COMM_SCORE,
    [RW_O_COMM_SIZE] = RW_O_COMM_SIZE,
    [RW_O_COMM_DAY] = RW_O_COMM_SIZE,
    [RW_O_ATTR_FLAGGED] = RW_O_ATTR_FLAGGED,
    [RW_O_ATTR_ONLINE] = RW_O_ATTR_ONLINE,
};

/* Scores account a after an event at ts. Under the engine's lock. */
static void live_score(const rw_engine *e, uint32_t a, int64_t ts, int signup, rw_decision *d) {
    const rw_live *L = &e->live;
    double f[RW_O_COUNT] = {0};
    raw_figures r;
    memset(&r, 0, sizeof r);
    uint32_t nedges = 0;
    const rw_edge *ed = rw_graph_account_edges(e->graph, a, &nedges);
    for (uint32_t i = 0; i < nedges; i++) {
        uint32_t x = ed[i].attr;
        rw_kind k = rw_graph_kind(e->graph, x);
        if (L->flags[x] & RW_LIVE_CLEARED) {
            r.cleared |= 1 << k;
            continue;
        }
        if (L->flags[x] & RW_LIVE_FRAUD_ATTR) r.fraud_attr = 1;
        uint32_t deg = rw_graph_degree(e->graph, x);
        if (deg <= L->hub_degree) {
            if (L->run_flagged[x]) f[RW_O_ATTR_FLAGGED] = 1;
            if (L->seen_score[x] > f[RW_O_ATTR_ONLINE]) f[RW_O_ATTR_ONLINE] = L->seen_score[x];
        }
        if (deg > L->hub_degree) {
            if (k == RW_KIND_IP) f[RW_O_IP_HUB] = 1;
            if (k == RW_KIND_DEVICE) f[RW_O_DEVICE_HUB] = 1;
            continue;
        }
        double vel[RW_VEL_COUNT];
        rw_graph_velocity(e->graph, x, ts, vel);
        /* The account itself counts in the velocity from its first use. */
        double age = ts > (int64_t)ed[i].first_seen ? (double)(ts - (int64_t)ed[i].first_seen) : 0;
        double hour = vel[RW_VEL_HOUR] - exp(-age / TAU_HOUR), day = vel[RW_VEL_DAY] - exp(-age / TAU_DAY);
        double others = deg - 1.0;
        if (others > r.shared[k]) r.shared[k] = others;
        if (day > r.day[k]) r.day[k] = day;
        if (hour > r.hour[k]) r.hour[k] = hour;
        uint32_t sub = rw_graph_parent(e->graph, x);
        if (k == RW_KIND_IP && sub != RW_NODE_NONE && sub < L->cap) {
            double sh = decay(L->sub_hour[sub], L->sub_ts[sub], ts, TAU_HOUR) - (signup ? 1 : 0);
            double sd = decay(L->sub_day[sub], L->sub_ts[sub], ts, TAU_DAY) - (signup ? 1 : 0);
            if (sh > r.sub_hour) r.sub_hour = sh;
            if (sd > r.sub_day) r.sub_day = sd;
        }
    }
    r.foreign = foreign_accounts(e, a, ed, nedges);
    r.seen = f[RW_O_ATTR_ONLINE];
    f[RW_O_DEVICE_FOREIGN] = log1p(r.foreign);
    f[RW_O_DEVICE_SHARED] = log1p(r.shared[RW_KIND_DEVICE]);
    f[RW_O_DEVICE_DAY] = log1p(r.day[RW_KIND_DEVICE] > 0 ? r.day[RW_KIND_DEVICE] : 0);
    f[RW_O_DEVICE_BURST] = r.shared[RW_KIND_DEVICE] > 0 && r.day[RW_KIND_DEVICE] > 0
                               ? fmin(1.0, r.day[RW_KIND_DEVICE] / r.shared[RW_KIND_DEVICE])
                               : 0;
    f[RW_O_DEVICE_DAY2] = r.day[RW_KIND_DEVICE] >= 1.5;
    f[RW_O_CARD_SHARED] = log1p(r.shared[RW_KIND_PAYMENT]);
    f[RW_O_CARD_DAY] = log1p(r.day[RW_KIND_PAYMENT] > 0 ? r.day[RW_KIND_PAYMENT] : 0);
    f[RW_O_IP_SHARED] = log1p(r.shared[RW_KIND_IP]);
    f[RW_O_IP_HOUR] = log1p(r.hour[RW_KIND_IP] > 0 ? r.hour[RW_KIND_IP] : 0);
    double other = r.sub_hour - (r.hour[RW_KIND_IP] > 0 ? r.hour[RW_KIND_IP] : 0);
    f[RW_O_SUBNET_OTHER] = log1p(other > 0 ? other : 0);
    f[RW_O_SUBNET_DAY] = log1p(r.sub_day > 0 ? r.sub_day : 0);
    uint32_t c = L->comm[a];
    const rw_live_comm *cm = c ? &L->c[c] : NULL;
    if (cm && cm->label != RW_LIVE_LABEL_BENIGN) {
        double day = decay(cm->day, cm->day_ts, ts, TAU_DAY) - (signup ? 1 : 0);
        f[RW_O_COMM_SCORE] = cm->run_score;
        f[RW_O_COMM_FLAGGED] = cm->run_flagged;
        f[RW_O_COMM_SIZE] = log1p(cm->size > 1 ? cm->size - 1 : 0);
        f[RW_O_COMM_DAY] = log1p(day > 0 ? day : 0);
    }
    d->score = rw_online_score(&L->model, f);
    _Static_assert(RW_O_COUNT <= sizeof d->features / sizeof d->features[0], "rw_decision.features is too small");
    memcpy(d->features, f, sizeof f);
    cluster_text(L, c, d->cluster);
    d->nreasons = 0;
    /* Analysts' labels override the model, and say so. */
    if (L->flags[a] & RW_LIVE_CLEARED) {
        d->score = 0;
        snprintf(d->reasons[d->nreasons++], 160, "the account is labelled benign by an analyst");
    } else if (cm && cm->label == RW_LIVE_LABEL_FRAUD) {
        if (d->score < L->block) d->score = L->block;
        snprintf(d->reasons[d->nreasons++], 160, "joins %s, labelled fraud by an analyst", d->cluster);
    } else if (r.fraud_attr) {
        if (d->score < L->review) d->score = L->review;
        snprintf(d->reasons[d->nreasons++], 160, "shares an attribute with an account labelled fraud");
    }
    if (cm && cm->label == RW_LIVE_LABEL_BENIGN && d->nreasons < RW_REASONS_MAX)
        snprintf(d->reasons[d->nreasons++], 160, "its group %s is labelled benign by an analyst", d->cluster);
    else if (r.cleared && d->nreasons < RW_REASONS_MAX && !(L->flags[a] & RW_LIVE_CLEARED))
        snprintf(d->reasons[d->nreasons++], 160,
                 "an analyst's benign label covers its%s%s%s, so they do not count against it",
                 r.cleared & (1 << RW_KIND_DEVICE) ? " device" : "", r.cleared & (1 << RW_KIND_PAYMENT) ? " card" : "",
                 r.cleared & (1 << RW_KIND_IP) ? " IP address" : "");
    /* The model's reasons explain scores worth a look: the attribution
     * costs more than the score itself, and the bulk of signups, scored
     * near zero, have nothing to explain. */
    if (!(L->flags[a] & RW_LIVE_CLEARED) && d->score >= RW_EXPLAIN_SHARE * L->review) {
        int top[RW_O_COUNT];
        size_t nt = rw_online_top(&L->model, f, top, RW_O_COUNT);
        int said[RW_O_COUNT] = {0};
        for (size_t i = 0; i < nt && d->nreasons < RW_REASONS_MAX; i++) {
            /* Features that share one sentence say it once. */
            int key = sentence[top[i]];
            if (key == RW_O_IP_HUB || key == RW_O_DEVICE_HUB) continue; /* not evidence by itself */
            if (key == RW_O_COMM_SCORE && !(cm && cm->batch_id)) continue;
            if (said[key]) continue;
            said[key] = 1;
            reason_text(L, c, top[i], &r, d->reasons[d->nreasons++]);
        }
    }
    d->verdict = d->score >= L->block ? RW_BLOCK : d->score >= L->review ? RW_REVIEW : RW_ALLOW;
}

/* An account labelled fraud taints every attribute it uses, later ones too. */
static void taint_attributes(rw_engine *e, uint32_t a) {
    uint32_t nedges = 0;
    const rw_edge *ed = rw_graph_account_edges(e->graph, a, &nedges);
    for (uint32_t i = 0; i < nedges; i++)
        if (rw_graph_degree(e->graph, ed[i].attr) <= e->live.hub_degree)
            e->live.flags[ed[i].attr] |= RW_LIVE_FRAUD_ATTR;
}

/* Remembers a's score on its attributes, as evidence for the next account
 * that shares one. */
static void remember_score(rw_engine *e, uint32_t a, double score) {
    rw_live *L = &e->live;
    uint32_t nedges = 0;
    const rw_edge *ed = rw_graph_account_edges(e->graph, a, &nedges);
    for (uint32_t i = 0; i < nedges; i++)
        if (L->seen_score[ed[i].attr] < (float)score) L->seen_score[ed[i].attr] = (float)score;
}

/* The online figures of an account in a snapshot (for the features file
 * of the replay and the account view). Under the engine's lock. */
void rw_engine_live_decision(const rw_engine *e, uint32_t a, int64_t ts, rw_decision *d) {
    memset(d, 0, sizeof *d);
    if (a < e->live.cap) live_score(e, a, ts, 0, d);
}

static int place_rest(rw_engine *e, uint32_t from);
static void settle_waiters(rw_engine *e, uint64_t upto, rw_status st, const rw_err *err);

/* ---- group commit --------------------------------------------------------- */

typedef struct {
    uint64_t lo, hi;
    rw_status st;
    rw_err err;
} failure;

static void *committer_main(void *arg) {
    rw_engine *e = arg;
    rw_store_ops writing = {0};
    pthread_mutex_lock(&e->gc_mu);
    for (;;) {
        while (!e->pending.nev && !e->pending.nacc && !e->pending.nattr && !e->gc_stop)
            pthread_cond_wait(&e->gc_wake, &e->gc_mu);
        if (!e->pending.nev && !e->pending.nacc && !e->pending.nattr) break;
        rw_store_ops t = writing;
        writing = e->pending;
        e->pending = t;
        rw_store_ops_clear(&e->pending);
        uint64_t upto = e->seq_queued;
        pthread_mutex_unlock(&e->gc_mu);

        rw_err err = {{0}};
        rw_engine_store_lock(e);
        rw_status st = rw_store_begin(e->store, &err);
        if (st == RW_OK) {
            st = rw_engine_write_ops(e->store, &writing, &err);
            if (st == RW_OK)
                /* Not asked durable: the store's own safety level (fsync
                 * unless rw_engine_set_fsync turned it off) decides. */
                st = rw_store_commit(e->store, 0, &err);
            else
                rw_store_rollback(e->store);
        }
        rw_engine_store_unlock(e);
        rw_store_ops_clear(&writing);
        if (st != RW_OK) {
            /* Memory is ahead of disk: fail everything not yet durable and
             * rebuild the graph from the store, so what was acknowledged is
             * exactly what is kept. */
            pthread_rwlock_wrlock(&e->lock);
            pthread_mutex_lock(&e->gc_mu);
            rw_fail_range fr = {e->seq_done, e->seq_queued, st, err};
            e->fails[e->nfails++ % RW_FAILS_KEPT] = fr;
            /* Only events nobody waits on (durable = 0) are flush's to
             * report; every waiter was told just below. */
            if (e->unflushed.st == RW_OK && e->unwatched > fr.lo && e->unwatched <= fr.hi) e->unflushed = fr;
            e->seq_done = e->seq_queued;
            rw_store_ops_clear(&e->pending);
            e->store_ok = 0;
            e->commit_failures++;
            pthread_cond_broadcast(&e->gc_done);
            rw_err_prefix(&err, "not stored: ");
            settle_waiters(e, e->seq_queued, st, &err);
            pthread_mutex_unlock(&e->gc_mu);
            rw_err ignored;
            rw_engine_reload_graph(e, &ignored);
            pthread_rwlock_unlock(&e->lock);
            pthread_mutex_lock(&e->gc_mu);
            continue;
        }
        pthread_mutex_lock(&e->gc_mu);
        e->seq_done = upto;
        e->store_ok = 1;
        e->commits++;
        if (e->checkpointer_running && e->ckpt_state == CKPT_IDLE &&
            rw_store_wal_pages(e->store) >= (e->ckpt_pages ? e->ckpt_pages : rw_store_wal_checkpoint_pages())) {
            e->ckpt_state = CKPT_RUNNING;
            pthread_cond_signal(&e->ckpt_wake);
        }
        pthread_cond_broadcast(&e->gc_done);
        settle_waiters(e, upto, RW_OK, NULL);
        if (e->ckpt_state == CKPT_TAIL) {
            /* After the waiters are told: the next group waits for it, as
             * it would for a commit, but no one waits for it twice. */
            pthread_mutex_unlock(&e->gc_mu);
            rw_engine_store_lock(e);
            if (rw_store_checkpoint_tail(e->store, &err) != RW_OK) e->checkpoint_failures++;
            rw_engine_store_unlock(e);
            pthread_mutex_lock(&e->gc_mu);
            e->ckpt_state = CKPT_IDLE;
        }
    }
    pthread_mutex_unlock(&e->gc_mu);
    rw_store_ops_free(&writing);
    return NULL;
}

static void *checkpointer_main(void *arg) {
    rw_engine *e = arg;
    pthread_mutex_lock(&e->gc_mu);
    for (;;) {
        while (e->ckpt_state != CKPT_RUNNING && !e->gc_stop) pthread_cond_wait(&e->ckpt_wake, &e->gc_mu);
        if (e->gc_stop) break;
        pthread_mutex_unlock(&e->gc_mu);
        rw_err err;
        rw_status st = rw_checkpointer_run(e->ckpt, &err);
        pthread_mutex_lock(&e->gc_mu);
        e->checkpoints++;
        if (st != RW_OK) e->checkpoint_failures++;
        e->ckpt_state = st == RW_OK ? CKPT_TAIL : CKPT_IDLE;
    }
    pthread_mutex_unlock(&e->gc_mu);
    return NULL;
}

/* Stops one of the engine's threads (gc_stop: the committer writes what is
 * queued first) and joins it; a no-op unless *running. */
static void stop_thread(rw_engine *e, int *running, pthread_cond_t *wake, pthread_t t) {
    if (!*running) return;
    pthread_mutex_lock(&e->gc_mu);
    e->gc_stop = 1;
    pthread_cond_signal(wake);
    pthread_mutex_unlock(&e->gc_mu);
    pthread_join(t, NULL);
    *running = 0;
}

/* Moves the store's checkpoints to a thread of their own. Without it (no
 * second connection) the store keeps checkpointing on commit. */
static void start_checkpointer(rw_engine *e) {
    rw_err err;
    if (rw_checkpointer_open(e->store, &e->ckpt, &err) != RW_OK) return;
    int running = pthread_create(&e->checkpointer, NULL, checkpointer_main, e) == 0;
    rw_engine_store_lock(e);
    /* Only with the thread running: a connection that never checkpoints
     * and no one who does would let the WAL grow without bound. */
    if (running && rw_store_background_checkpoints(e->store, &err) == RW_OK) {
        rw_engine_store_unlock(e);
        e->checkpointer_running = 1;
        return;
    }
    rw_engine_store_unlock(e);
    stop_thread(e, &running, &e->ckpt_wake, e->checkpointer);
    e->gc_stop = 0; /* nothing else runs yet: the committer starts after */
    rw_checkpointer_close(e->ckpt);
    e->ckpt = NULL;
}

/* Waits until sequence number seq is settled; its status. */
static rw_status wait_settled(rw_engine *e, uint64_t seq, rw_err *err) {
    rw_status st = RW_OK;
    pthread_mutex_lock(&e->gc_mu);
    while (e->seq_done < seq) pthread_cond_wait(&e->gc_done, &e->gc_mu);
    /* Failures are rare and each fails everything queued; the newest ones
     * are kept, enough for any waiter still asleep. */
    uint64_t kept = e->nfails < RW_FAILS_KEPT ? e->nfails : RW_FAILS_KEPT;
    for (uint64_t k = 0; k < kept && st == RW_OK; k++) {
        const rw_fail_range *f = &e->fails[(e->nfails - 1 - k) % RW_FAILS_KEPT];
        if (seq > f->lo && seq <= f->hi) {
            st = f->st;
            if (err) *err = f->err;
            rw_err_prefix(err, "not stored: ");
        }
    }
    pthread_mutex_unlock(&e->gc_mu);
    return st;
}

rw_status rw_engine_flush(rw_engine *e, rw_err *err) {
    if (!e->committer_running) return RW_OK;
    pthread_mutex_lock(&e->gc_mu);
    uint64_t seq = e->seq_queued;
    pthread_mutex_unlock(&e->gc_mu);
    rw_status st = wait_settled(e, seq, err);
    pthread_mutex_lock(&e->gc_mu);
    if (st == RW_OK && e->unflushed.st != RW_OK) {
        st = e->unflushed.st;
        if (err) *err = e->unflushed.err;
        rw_err_prefix(err, "events recorded since the last flush were not stored: ");
    }
    e->unflushed.st = RW_OK;
    pthread_mutex_unlock(&e->gc_mu);
    return st;
}

/* Applies and scores n events and queues their rows; with cb, registers it
 * to be called once they are settled (only when it returns RW_OK). *seq
 * receives the last event's sequence number. */
static rw_status record_events(rw_engine *e, const rw_event_raw *ev, size_t n, rw_decision *out, rw_record_cb cb,
                               void *ctx, int unwatched, uint64_t *seq_out, rw_err *err) {
    *seq_out = 0;
    rw_status st = rw_engine_need_graph(e, err);
    if (st != RW_OK) return st;
    if (!e->committer_running || !e->hasher)
        return rw_fail(err, RW_ERR_PERM, "the database is open read-only: events cannot be recorded");
    if (n == 0) return RW_OK;
    rw_hevent one, *hev = n == 1 ? &one : malloc(n * sizeof *hev);
    if (!hev) return rw_fail(err, RW_ERR_NOMEM, "out of memory for %zu events", n);
    /* Keyed hashing is the costly part: done before taking the lock. */
    for (size_t i = 0; i < n; i++) {
        rw_engine_hash_event(e->hasher, &ev[i], &hev[i]);
        hev[i].account_len = (uint16_t)ev[i].account_len;
    }
    uint64_t seq = 0;
    pthread_rwlock_wrlock(&e->lock);
    pthread_mutex_lock(&e->gc_mu);
    size_t applied = 0;
    /* Accounts a bulk ingest added since are placed before this one. */
    if (e->live.placed < rw_graph_node_count(e->graph) && place_rest(e, e->live.placed) != 0)
        st = rw_fail(err, RW_ERR_NOMEM, "out of memory for online scoring");
    for (size_t i = 0; st == RW_OK && i < n; i++) {
        size_t nacc = e->pending.nacc;
        uint32_t a;
        rw_apply_delta delta = {0};
        st = rw_engine_apply(e, &hev[i], ev[i].account, &a, &e->pending, &delta, err);
        if (st != RW_OK) break;
        applied++;
        if (e->pending.nacc > nacc) {
            /* The row must outlive the caller's buffer: point it at the
             * graph's copy, which lives until the graph is rebuilt (and a
             * rebuild waits for the pending rows first). */
            size_t len;
            e->pending.acc[nacc].ext = rw_graph_account_id(e->graph, a, &len);
        }
        if (live_grow(&e->live, rw_graph_node_count(e->graph)) != 0) {
            st = rw_fail(err, RW_ERR_NOMEM, "out of memory for online scoring");
            break;
        }
        int signup = ev[i].type == RW_EV_SIGNUP || delta.new_accounts;
        if (signup) {
            e->signups_recorded++;
            uint32_t nedges = 0;
            const rw_edge *ed = rw_graph_account_edges(e->graph, a, &nedges);
            for (uint32_t k = 0; k < nedges; k++) {
                uint32_t sub = rw_graph_parent(e->graph, ed[k].attr);
                if (sub != RW_NODE_NONE && ed[k].first_seen == (uint32_t)ev[i].ts)
                    subnet_signup(&e->live, sub, ev[i].ts);
            }
        }
        live_place(e, a, ev[i].ts, signup);
        e->live.placed = rw_graph_node_count(e->graph);
        if (e->live.flags[a] & RW_LIVE_FRAUD_ACCOUNT) taint_attributes(e, a);
        rw_decision scratch, *d = out ? &out[i] : &scratch;
        live_score(e, a, ev[i].ts, signup, d);
        d->new_account = delta.new_accounts != 0;
        remember_score(e, a, d->score);
        e->pending.ev[e->pending.nev - 1].score = (float)d->score;
    }
    e->seq_queued += applied;
    seq = e->seq_queued;
    /* Marked before the committer can see them: a commit failing at once
     * must know that no one waits to be told, so flush reports it. */
    if (unwatched && applied && seq > e->unwatched) e->unwatched = seq;
    if (st == RW_OK && cb) {
        if (e->nwaiters == e->waiters_cap) {
            size_t cap = e->waiters_cap ? e->waiters_cap * 2 : 64;
            rw_waiter *w = realloc(e->waiters, cap * sizeof *w);
            if (w) e->waiters = w, e->waiters_cap = cap;
        }
        if (e->nwaiters < e->waiters_cap)
            e->waiters[e->nwaiters++] = (rw_waiter){seq, cb, ctx};
        else
            st = rw_fail(err, RW_ERR_NOMEM, "out of memory"); /* the events are kept; the caller is not told when */
    }
    if (applied) pthread_cond_signal(&e->gc_wake);
    pthread_mutex_unlock(&e->gc_mu);
    pthread_rwlock_unlock(&e->lock);
    if (hev != &one) free(hev);
    *seq_out = seq;
    return st;
}

rw_status rw_engine_record(rw_engine *e, const rw_event_raw *ev, size_t n, rw_decision *out, int durable, rw_err *err) {
    uint64_t seq;
    rw_status st = record_events(e, ev, n, out, NULL, NULL, !durable, &seq, err);
    if (st != RW_OK) return st;
    return durable ? wait_settled(e, seq, err) : RW_OK;
}

rw_status rw_engine_probe_store(rw_engine *e, rw_err *err) {
    if (!e->committer_running) return RW_OK;
    pthread_mutex_lock(&e->gc_mu);
    int ok = e->store_ok;
    pthread_mutex_unlock(&e->gc_mu);
    if (ok) return RW_OK;
    /* After a failed commit nothing may be written until a client tries,
     * and a balancer that stops sending on 503 never would: a one-row
     * durable write tells whether space (or the disk) is back. */
    rw_engine_store_lock(e);
    rw_status st = rw_store_begin(e->store, err);
    if (st == RW_OK) st = rw_store_probe(e->store, err);
    if (st == RW_OK)
        st = rw_store_commit(e->store, 1, err);
    else
        rw_store_rollback(e->store);
    rw_engine_store_unlock(e);
    if (st == RW_OK) {
        pthread_mutex_lock(&e->gc_mu);
        e->store_ok = 1;
        pthread_mutex_unlock(&e->gc_mu);
    }
    return st;
}

rw_status rw_engine_record_async(rw_engine *e, const rw_event_raw *ev, size_t n, rw_decision *out, rw_record_cb cb,
                                 void *ctx, rw_err *err) {
    uint64_t seq;
    return record_events(e, ev, n, out, cb, ctx, 0, &seq, err);
}

/* Calls, outside the lock, the waiters whose events are settled: up to
 * upto, with st (RW_OK: durable). Called by the committer with gc_mu held;
 * returns with it held. */
static void settle_waiters(rw_engine *e, uint64_t upto, rw_status st, const rw_err *err) {
    size_t k = 0;
    while (k < e->nwaiters && e->waiters[k].seq <= upto) k++;
    if (!k) return;
    rw_waiter stack[64], *w = k <= 64 ? stack : malloc(k * sizeof *w);
    if (!w) w = stack, k = 64; /* out of memory: settle in slices of 64 */
    memcpy(w, e->waiters, k * sizeof *w);
    memmove(e->waiters, e->waiters + k, (e->nwaiters - k) * sizeof *w);
    e->nwaiters -= k;
    pthread_mutex_unlock(&e->gc_mu);
    for (size_t i = 0; i < k; i++) w[i].cb(w[i].ctx, st, err);
    if (w != stack) free(w);
    pthread_mutex_lock(&e->gc_mu);
    settle_waiters(e, upto, st, err); /* any left by the out-of-memory slice */
}

void rw_engine_test_checkpoint_pages(rw_engine *e, uint32_t pages) {
    pthread_mutex_lock(&e->gc_mu);
    e->ckpt_pages = pages;
    pthread_mutex_unlock(&e->gc_mu);
}

rw_status rw_engine_set_fsync(rw_engine *e, int on, rw_err *err) {
    if (!e->committer_running) return RW_OK; /* nothing is recorded */
    rw_engine_store_lock(e);
    rw_status st = rw_store_set_sync_full(e->store, on, err);
    rw_engine_store_unlock(e);
    return st;
}

void rw_engine_set_online(rw_engine *e, const rw_online_params *p) {
    pthread_rwlock_wrlock(&e->lock);
    e->live.review = p->review > 0 ? p->review : DEFAULT_REVIEW;
    e->live.block = p->block > 0 ? p->block : DEFAULT_BLOCK;
    pthread_rwlock_unlock(&e->lock);
}

/* ---- runs and labels into the live state ------------------------------------ */

typedef struct {
    rw_live *L;
    uint32_t *by_id; /* batch id -> community index */
    uint32_t nid;
} install_ctx;

static rw_status on_cluster_row(void *ctx, const rw_cluster_row *c) {
    install_ctx *ic = ctx;
    if (c->id >= ic->nid) return RW_OK;
    rw_live_comm nc = {
        .batch_id = c->id, .size = c->accounts, .run_score = (float)c->score, .run_flagged = (uint8_t)c->flagged};
    uint32_t idx = comm_add(ic->L, &nc);
    if (!idx) return RW_ERR_NOMEM;
    ic->by_id[c->id] = idx;
    return RW_OK;
}

static void on_member(void *ctx, uint32_t node, uint32_t cluster) {
    install_ctx *ic = ctx;
    if (node < ic->L->cap && cluster < ic->nid) ic->L->comm[node] = ic->by_id[cluster];
}

typedef struct {
    rw_engine *e;
    rw_live *L;
} label_ctx;

static void label_cluster(rw_engine *e, rw_live *L, uint32_t batch_id, int fraud) {
    uint32_t n = rw_graph_node_count(e->graph);
    for (uint32_t c = 1; c < L->nc; c++) {
        if (L->c[c].batch_id != batch_id) continue;
        L->c[c].label = fraud ? RW_LIVE_LABEL_FRAUD : RW_LIVE_LABEL_BENIGN;
        if (fraud) return;
        /* Benign: its shared attributes stop counting against signups. */
        for (uint32_t v = 0; v < n && v < L->cap; v++)
            if (L->comm[v] == c && rw_graph_kind(e->graph, v) != RW_KIND_ACCOUNT) L->flags[v] |= RW_LIVE_CLEARED;
    }
}

static void label_account(rw_engine *e, rw_live *L, uint32_t a, int fraud) {
    if (a >= L->cap) return;
    uint32_t nedges = 0;
    const rw_edge *ed = rw_graph_account_edges(e->graph, a, &nedges);
    if (fraud) {
        L->flags[a] = (uint8_t)((L->flags[a] & ~RW_LIVE_CLEARED) | RW_LIVE_FRAUD_ACCOUNT);
        for (uint32_t i = 0; i < nedges; i++)
            if (rw_graph_degree(e->graph, ed[i].attr) <= L->hub_degree) L->flags[ed[i].attr] |= RW_LIVE_FRAUD_ATTR;
    } else {
        L->flags[a] = (uint8_t)((L->flags[a] & ~RW_LIVE_FRAUD_ACCOUNT) | RW_LIVE_CLEARED);
        for (uint32_t i = 0; i < nedges; i++) L->flags[ed[i].attr] |= RW_LIVE_CLEARED;
    }
}

static rw_status on_label(void *ctx, int on_cluster, int64_t target, int fraud) {
    label_ctx *lc = ctx;
    if (target < 0 || target > UINT32_MAX) return RW_OK;
    if (on_cluster)
        label_cluster(lc->e, lc->L, (uint32_t)target, fraud);
    else
        label_account(lc->e, lc->L, (uint32_t)target, fraud);
    return RW_OK;
}

/* Places the accounts no run covers (newer than its snapshot) in node order,
 * as if they had just signed up. */
static int place_rest(rw_engine *e, uint32_t from) {
    uint32_t n = rw_graph_node_count(e->graph);
    if (live_grow(&e->live, n + 1) != 0) return -1;
    for (uint32_t v = from; v < n; v++)
        if (rw_graph_kind(e->graph, v) == RW_KIND_ACCOUNT && !e->live.comm[v])
            live_place(e, v, rw_graph_first_seen(e->graph, v), 1);
    e->live.placed = n;
    return 0;
}

/* Marks the linking attributes of an account the run flagged. */
static void mark_run_flagged(const rw_engine *e, rw_live *L, uint32_t a) {
    uint32_t nedges = 0;
    const rw_edge *ed = rw_graph_account_edges(e->graph, a, &nedges);
    for (uint32_t i = 0; i < nedges; i++)
        if (ed[i].attr < L->cap && rw_graph_degree(e->graph, ed[i].attr) <= L->hub_degree)
            L->run_flagged[ed[i].attr] = 1;
}

typedef struct {
    const rw_engine *e;
    rw_live *L;
} flagged_ctx;

static rw_status on_run_score(void *ctx, const rw_score_row *r) {
    flagged_ctx *fc = ctx;
    if (r->account >= fc->L->cap) return RW_OK;
    fc->L->run_score[r->account] = (float)r->score;
    if (r->flagged) {
        fc->L->run_flagged[r->account] = 1;
        mark_run_flagged(fc->e, fc->L, r->account);
    }
    return RW_OK;
}

/* Builds a fresh live state from the store's newest run and the labels into
 * L (the caller swaps it in). The caller holds the write lock and store_mu. */
static rw_status live_build(rw_engine *e, rw_live *L, rw_err *err) {
    uint32_t max_id = 0;
    int64_t run = 0;
    rw_status st = rw_store_latest_run(e->store, &run, err);
    if (st == RW_OK) st = rw_store_max_cluster_id(e->store, &max_id, err);
    if (st != RW_OK) return st;
    if (live_grow(L, rw_graph_node_count(e->graph) + 1) != 0) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    install_ctx ic = {L, calloc((size_t)max_id + 1, sizeof(uint32_t)), max_id + 1};
    if (!ic.by_id) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    L->run = run;
    L->run_nodes = rw_graph_node_count(e->graph); /* covers at most what the run saw; newer accounts are not in it */
    if (run) {
        st = rw_store_run_clusters(e->store, run, -1.0, 0, 0, on_cluster_row, &ic, err);
        if (st == RW_OK) st = rw_store_run_membership(e->store, run, on_member, &ic, err);
        flagged_ctx fc = {e, L};
        if (st == RW_OK) st = rw_store_run_scores(e->store, run, on_run_score, &fc, err);
    }
    free(ic.by_id);
    return st;
}

static void on_event_score(void *ctx, uint32_t account, double score) {
    rw_engine *e = ctx;
    if (account < e->live.cap && rw_graph_kind(e->graph, account) == RW_KIND_ACCOUNT) remember_score(e, account, score);
}

/* Rebuilds what online scoring learned from the stream itself (community
 * growth, subnet velocities, the scores answered) by walking the accounts in
 * the order they arrived, then applies the labels: a restart answers as the
 * process before it would have. The caller holds the write lock and
 * store_mu. */
static rw_status rebuild_history(rw_engine *e, rw_err *err) {
    rw_live *L = &e->live;
    uint32_t n = rw_graph_node_count(e->graph);
    /* Members the run placed are counted here; the others when placed (a
     * new group counts all its accounts at once). */
    uint8_t *from_run = calloc((size_t)n + 1, 1);
    if (!from_run || live_grow(L, n + 1) != 0) {
        free(from_run);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for online scoring");
    }
    for (uint32_t v = 0; v < n; v++) from_run[v] = L->comm[v] != 0;
    for (uint32_t v = 0; v < n; v++) {
        if (rw_graph_kind(e->graph, v) != RW_KIND_ACCOUNT) continue;
        int64_t t = rw_graph_first_seen(e->graph, v);
        uint32_t nedges = 0;
        const rw_edge *ed = rw_graph_account_edges(e->graph, v, &nedges);
        for (uint32_t i = 0; i < nedges; i++) {
            uint32_t sub = rw_graph_parent(e->graph, ed[i].attr);
            if (sub != RW_NODE_NONE && (int64_t)ed[i].first_seen == t) subnet_signup(L, sub, t);
        }
        if (from_run[v])
            comm_count_signup(&L->c[L->comm[v]], t, 1.0);
        else if (!L->comm[v])
            live_place(e, v, t, 1);
    }
    free(from_run);
    L->placed = n;
    rw_status st = rw_store_event_scores(e->store, on_event_score, e, err);
    label_ctx lc = {e, L};
    if (st == RW_OK) st = rw_store_labels(e->store, on_label, &lc, err);
    return st;
}

static void live_defaults(rw_live *L, const rw_live *prev) {
    /* The shipped trees are parsed from text once, at open; every new run
     * or reload copies them. */
    if (prev && prev->model.g.ntrees)
        L->model = prev->model;
    else
        rw_online_defaults(&L->model);
    L->review = prev && prev->review > 0 ? prev->review : DEFAULT_REVIEW;
    L->block = prev && prev->block > 0 ? prev->block : DEFAULT_BLOCK;
    L->hub_degree = HUB_DEGREE;
    L->next_live = prev ? prev->next_live : 0;
}

/* Swaps in L (the state rebuilt from the store). */
static void live_swap(rw_engine *e, rw_live *L) {
    live_free(&e->live);
    e->live = *L;
    memset(L, 0, sizeof *L);
}

rw_status rw_engine_online_reload(rw_engine *e, rw_err *err) {
    rw_live L = {0};
    live_defaults(&L, &e->live);
    rw_status st = live_build(e, &L, err);
    if (st != RW_OK) {
        live_free(&L);
        return st;
    }
    live_swap(e, &L);
    return rebuild_history(e, err);
}

/* A new run's share of the live state, built outside the engine's lock from
 * the run and its snapshot: what the run decides (batch communities,
 * membership, run scores and flags). What signups keep changing (labels and
 * other per-node flags, remembered scores, subnet velocities, community
 * growth) is carried over under the lock, mostly by moving pointers. */
typedef struct {
    rw_live L;         /* the per-run arrays and c built; the carried-over arrays NULL */
    uint32_t *flagged; /* the accounts the run flagged */
    uint32_t nflagged;
    uint32_t *by_id; /* [nid] cluster id -> index in L.c (0: none) */
    uint32_t nid;
    uint32_t *first; /* [L.nc + 1] attributes of community k: attrs[first[k] .. first[k + 1]) */
    uint32_t *attrs;
} run_part;

static void run_part_free(run_part *p) {
    live_free(&p->L);
    free(p->flagged);
    free(p->by_id);
    free(p->first);
    free(p->attrs);
    memset(p, 0, sizeof *p);
}

/* Builds p without the engine's lock. cap: the live arrays' size now (so
 * the swap need not grow them). Membership as a restart builds it from the
 * stored run (rw_store_run_membership): accounts of clusters, and their
 * attributes the snapshot saw with two accounts or more. */
static rw_status run_part_build(run_part *p, uint32_t cap, const rw_graph_snap *s, const uint32_t *membership,
                                uint32_t ncomm, const uint32_t *ids, const uint32_t *size, const double *score,
                                double threshold, const double *ascore, rw_err *err) {
    rw_live *L = &p->L;
    uint32_t n = s->n, *by_comm = NULL;
    if (cap < n + 1) cap = n + 1;
    L->cap = cap;
    for (size_t i = 0; i < NODE_ARRAYS; i++)
        if (node_arrays[i].per_run && !(*node_array_at(L, i) = calloc(cap, node_arrays[i].size))) goto nomem;
    by_comm = calloc((size_t)ncomm + 1, sizeof *by_comm);
    uint32_t max_id = 0;
    for (uint32_t c = 0; c < ncomm; c++)
        if (size[c] >= 2 && ids[c] > max_id) max_id = ids[c];
    p->nid = max_id + 1;
    p->by_id = calloc(p->nid, sizeof *p->by_id);
    if (!by_comm || !p->by_id) goto nomem;
    for (uint32_t c = 0; c < ncomm; c++) {
        if (size[c] < 2) continue;
        rw_live_comm nc = {.batch_id = ids[c], .size = size[c], .run_score = (float)score[c]};
        nc.run_flagged = score[c] >= threshold;
        if (!(by_comm[c] = comm_add(L, &nc))) goto nomem;
        p->by_id[ids[c]] = by_comm[c];
    }
    uint32_t nattr = 0;
    for (uint32_t v = 0; v < n; v++) {
        uint32_t c = membership[v];
        if (c >= ncomm || !by_comm[c] || s->kind[v] == RW_KIND_SUBNET) continue;
        if (s->kind[v] == RW_KIND_ACCOUNT) {
            L->comm[v] = by_comm[c];
        } else if (rw_graph_snap_degree(s, v) >= 2) {
            L->comm[v] = by_comm[c];
            nattr++;
        }
    }
    /* Each community's attributes (for a benign label carried over), as
     * compressed rows: counts, their running sums, the fill (which moves
     * first[k] to where k + 1 starts), and a shift back. */
    p->first = calloc((size_t)L->nc + 1, sizeof *p->first);
    p->attrs = malloc(((size_t)nattr + 1) * sizeof *p->attrs);
    if (!p->first || !p->attrs) goto nomem;
    for (uint32_t v = 0; v < n; v++)
        if (L->comm[v] && s->kind[v] != RW_KIND_ACCOUNT) p->first[L->comm[v]]++;
    for (uint32_t k = 0, at = 0; k <= L->nc; k++) {
        uint32_t cnt = k < L->nc ? p->first[k] : 0;
        p->first[k] = at;
        at += cnt;
    }
    for (uint32_t v = 0; v < n; v++)
        if (L->comm[v] && s->kind[v] != RW_KIND_ACCOUNT) p->attrs[p->first[L->comm[v]]++] = v;
    for (uint32_t k = L->nc; k > 0; k--) p->first[k] = p->first[k - 1];
    p->first[0] = 0;
    uint32_t nflag = 0;
    for (uint32_t v = 0; ascore && v < n; v++)
        if (s->kind[v] == RW_KIND_ACCOUNT) { /* every account has a score (flagged neighbours) */
            L->run_score[v] = (float)ascore[v];
            nflag += ascore[v] >= threshold;
        }
    p->flagged = malloc(((size_t)nflag + 1) * sizeof *p->flagged);
    if (!p->flagged) goto nomem;
    for (uint32_t v = 0; ascore && v < n; v++) {
        if (s->kind[v] != RW_KIND_ACCOUNT || ascore[v] < threshold) continue;
        p->flagged[p->nflagged++] = v;
        L->run_flagged[v] = 1;
        for (uint64_t k = s->off[v]; k < s->off[v + 1]; k++)
            if (rw_graph_snap_degree(s, s->nbr[k]) <= HUB_DEGREE) L->run_flagged[s->nbr[k]] = 1;
    }
    free(by_comm);
    return RW_OK;
nomem:
    free(by_comm);
    return rw_fail(err, RW_ERR_NOMEM, "out of memory for online scoring");
}

/* Under the write lock: gives p's arrays and the carried-over ones one
 * capacity, then moves the carried-over ones into p->L (old keeps the rest,
 * to be freed). Returns 0 on success; on failure nothing has moved. */
static int run_part_adopt(run_part *p, rw_live *old, uint32_t nodes) {
    uint32_t cap = p->L.cap > old->cap ? p->L.cap : old->cap;
    if (cap < nodes + 1) cap = nodes + 1;
    for (size_t i = 0; i < NODE_ARRAYS; i++) {
        rw_live *from = node_arrays[i].per_run ? &p->L : old;
        if (array_grow(node_array_at(from, i), node_arrays[i].size, from->cap, cap) != 0) return -1;
    }
    old->cap = p->L.cap = cap; /* every array of both holds cap now */
    for (size_t i = 0; i < NODE_ARRAYS; i++) {
        if (node_arrays[i].per_run) continue;
        *node_array_at(&p->L, i) = *node_array_at(old, i);
        *node_array_at(old, i) = NULL;
    }
    return 0;
}

/* Flagged accounts looked at per hold of the write lock, after the swap. */
#define MARK_SLICE 4096

rw_status rw_engine_online_install(rw_engine *e, int64_t run, const rw_graph_snap *s, const uint32_t *membership,
                                   uint32_t ncomm, const uint32_t *ids, const uint32_t *size, const double *score,
                                   double threshold, const double *ascore, double *locked, rw_err *err) {
    run_part p = {0};
    rw_live gone = {0}; /* the old run's arrays, freed once the lock is released */
    *locked = 0;
    if (e->batch_only) return RW_OK; /* no online state to switch */
    pthread_rwlock_rdlock(&e->lock);
    uint32_t cap = e->live.cap; /* only grows: read once, so the swap rarely grows an array */
    pthread_rwlock_unlock(&e->lock);
    rw_status st = run_part_build(&p, cap, s, membership, ncomm, ids, size, score, threshold, ascore, err);
    if (st != RW_OK) {
        run_part_free(&p);
        return st;
    }
    uint32_t n = s->n;
    pthread_rwlock_wrlock(&e->lock);
    double t0 = rw_now();
    rw_live *old = &e->live, *L = &p.L;
    uint32_t nodes = rw_graph_node_count(e->graph);
    if (run_part_adopt(&p, old, nodes) != 0) {
        st = rw_fail(err, RW_ERR_NOMEM, "out of memory for online scoring");
        goto done;
    }
    live_defaults(L, old);
    L->run = run;
    L->run_nodes = n;
    /* Recent growth and labels carry over by cluster id. */
    int benign = 0;
    for (uint32_t c = 1; c < old->nc; c++) {
        const rw_live_comm *o = &old->c[c];
        uint32_t k = o->batch_id && o->batch_id < p.nid ? p.by_id[o->batch_id] : 0;
        if (!k) continue;
        L->c[k].day = o->day, L->c[k].day_ts = o->day_ts, L->c[k].label = o->label;
        benign |= o->label == RW_LIVE_LABEL_BENIGN;
    }
    uint32_t run_nc = L->nc;
    gone = *old; /* what is left of it: the old run's arrays */
    e->live = *L;
    memset(L, 0, sizeof *L);
    L = &e->live;
    place_rest(e, n); /* out of memory leaves them unplaced: scored without a community */
    /* A benign label covers the attributes its cluster has now: the run's,
     * and those the accounts placed since brought to it. */
    for (uint32_t k = 1; benign && k < run_nc; k++)
        if (L->c[k].label == RW_LIVE_LABEL_BENIGN)
            for (uint32_t i = p.first[k]; i < p.first[k + 1]; i++) L->flags[p.attrs[i]] |= RW_LIVE_CLEARED;
    for (uint32_t a = n; benign && a < L->placed && a < L->cap; a++) {
        if (rw_graph_kind(e->graph, a) != RW_KIND_ACCOUNT) continue;
        uint32_t nedges = 0;
        const rw_edge *ed = rw_graph_account_edges(e->graph, a, &nedges);
        for (uint32_t i = 0; i < nedges; i++) {
            uint32_t c = L->comm[ed[i].attr];
            if (c && L->c[c].label == RW_LIVE_LABEL_BENIGN) L->flags[ed[i].attr] |= RW_LIVE_CLEARED;
        }
    }
done:
    *locked = rw_now() - t0;
    pthread_rwlock_unlock(&e->lock);
    live_free(&gone);
    /* Attributes a flagged account took up since the snapshot are the run's
     * too (a restart marks them from the graph): in slices of the lock, as
     * looking at every flagged account takes milliseconds. */
    for (uint32_t i = 0; st == RW_OK && i < p.nflagged;) {
        pthread_rwlock_wrlock(&e->lock);
        double t1 = rw_now();
        for (uint32_t end = i + MARK_SLICE; i < p.nflagged && i < end; i++) {
            uint32_t a = p.flagged[i];
            if (rw_graph_degree(e->graph, a) != rw_graph_snap_degree(s, a)) mark_run_flagged(e, &e->live, a);
        }
        double held = rw_now() - t1;
        pthread_rwlock_unlock(&e->lock);
        if (held > *locked) *locked = held;
    }
    run_part_free(&p);
    return st;
}

rw_status rw_engine_online_open(rw_engine *e, rw_err *err) {
    pthread_mutex_init(&e->gc_mu, NULL);
    pthread_cond_init(&e->gc_wake, NULL);
    pthread_cond_init(&e->gc_done, NULL);
    pthread_cond_init(&e->ckpt_wake, NULL); /* destroyed by close whether or not a checkpointer started */
    e->store_ok = 1;
    live_defaults(&e->live, NULL);
    /* Replaying the whole log into the live state takes seconds at a
     * million accounts; a batch rescoring from the CLI has no use for it. */
    if (!e->graph || e->batch_only) return RW_OK;
    rw_status st = RW_OK;
    pthread_rwlock_wrlock(&e->lock);
    rw_engine_store_lock(e);
    st = rw_engine_online_reload(e, err);
    rw_engine_store_unlock(e);
    pthread_rwlock_unlock(&e->lock);
    if (st != RW_OK || !e->hasher || e->readonly) return st;
    st = rw_store_set_sync_full(e->store, 1, err);
    if (st != RW_OK) return st;
    start_checkpointer(e);
    if (pthread_create(&e->committer, NULL, committer_main, e) != 0)
        return rw_fail(err, RW_ERR_INTERNAL, "cannot start the commit thread");
    e->committer_running = 1;
    return RW_OK;
}

void rw_engine_online_close(rw_engine *e) {
    /* The committer first: its last commits may still ask for a checkpoint. */
    stop_thread(e, &e->committer_running, &e->gc_wake, e->committer);
    stop_thread(e, &e->checkpointer_running, &e->ckpt_wake, e->checkpointer);
    rw_checkpointer_close(e->ckpt);
    e->ckpt = NULL;
    rw_store_ops_free(&e->pending);
    free(e->waiters);
    live_free(&e->live);
    pthread_mutex_destroy(&e->gc_mu);
    pthread_cond_destroy(&e->gc_wake);
    pthread_cond_destroy(&e->gc_done);
    pthread_cond_destroy(&e->ckpt_wake);
}

void rw_engine_get_counters(rw_engine *e, rw_engine_counters *out) {
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&e->lock);
    if (e->graph) {
        out->accounts = rw_graph_kind_count(e->graph, RW_KIND_ACCOUNT);
        out->attributes = rw_graph_node_count(e->graph) - rw_graph_gap_count(e->graph) - (uint32_t)out->accounts;
        out->edges = rw_graph_edge_count(e->graph);
    }
    out->events = e->events;
    out->run = e->live.run;
    pthread_rwlock_unlock(&e->lock);
    pthread_mutex_lock(&e->gc_mu);
    out->signups_recorded = e->signups_recorded;
    out->commits = e->commits;
    out->commit_failures = e->commit_failures;
    out->checkpoints = e->checkpoints;
    out->checkpoint_failures = e->checkpoint_failures;
    out->store_ok = e->store_ok;
    pthread_mutex_unlock(&e->gc_mu);
}

void rw_engine_live_label(rw_engine *e, int on_cluster, uint32_t target, int fraud) {
    if (live_grow(&e->live, rw_graph_node_count(e->graph) + 1) != 0) return; /* applied at the next reload */
    if (on_cluster)
        label_cluster(e, &e->live, target, fraud);
    else
        label_account(e, &e->live, target, fraud);
}

void rw_engine_online_catch_up(rw_engine *e) {
    if (!e->graph || !e->online_ready) return;
    pthread_rwlock_rdlock(&e->lock);
    int behind = e->live.placed < rw_graph_node_count(e->graph);
    pthread_rwlock_unlock(&e->lock);
    if (!behind) return;
    pthread_rwlock_wrlock(&e->lock);
    if (e->live.placed < rw_graph_node_count(e->graph)) place_rest(e, e->live.placed);
    pthread_rwlock_unlock(&e->lock);
}
