/* Online scoring of one account: features from its neighbourhood (a view
 * gathered once) and the live state, the model's score, analysts' labels
 * over it, and the reasons in sentences. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "score.h"
#include "stops.h"
#include "verdict.h"
#include "young.h"

/* Scores from this share of the review threshold up carry the model's reasons. */
#define RW_EXPLAIN_SHARE 0.5

const char *rw_verdict_name(rw_verdict v) {
    static const char *const names[] = {"allow", "review", "block"};
    return (unsigned)v < 3 ? names[v] : "allow";
}

const char *rw_raised_name(rw_raised r) {
    static const char *const names[RW_RAISED_COUNT] = {
        [RW_RAISED_NONE] = "none",
        [RW_RAISED_BATCH_VERDICT] = "batch_verdict",
        [RW_RAISED_NEW_DEVICE] = "new_device",
        [RW_RAISED_STOPPED_ATTRIBUTE] = "stopped_attribute",
    };
    return (unsigned)r < RW_RAISED_COUNT ? names[r] : "none";
}

/* Raw figures behind the features, kept for the reasons. */
typedef struct {
    double shared[RW_KIND_COUNT], day[RW_KIND_COUNT], hour[RW_KIND_COUNT];
    double foreign; /* accounts on its device never seen on its subnet */
    int cleared;    /* kinds (bit per rw_kind) of its attributes a benign label cleared */
    double sub_hour, sub_day;
    int fraud_attr;
    int subnet_v6;                   /* the signup's IP is IPv6: its subnet is a /48, not a /24 */
    double rate[RW_KIND_COUNT];      /* velocity against the attribute's usual rate */
    double age_hours[RW_KIND_COUNT]; /* since its most shared attribute of each kind was first seen */
    double new_share, flag_share, label_share;
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
        case RW_O_ATTR_FLAG_SHARE:
            snprintf(out, 160, "shares a device, card or address with an account the last batch run flagged");
            break;
        case RW_O_ATTR_NEW_SHARE:
            snprintf(out, 160, "%.0f%% of the accounts on one of its devices, cards or addresses are new this day",
                     100 * r->new_share);
            break;
        case RW_O_ATTR_LABEL_SHARE:
            snprintf(out, 160, "%.0f%% of the accounts on one of its devices, cards or addresses are labelled fraud",
                     100 * r->label_share);
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
            snprintf(out, 160, "%.0f other %s from its %s in the last hour, %.0f in the last day", n,
                     plural(n, "signup", "signups"), r->subnet_v6 ? "/48" : "/24", m);
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
    [RW_O_DEVICE_RATE] = RW_O_DEVICE_SHARED,
    [RW_O_DEVICE_AGE] = RW_O_DEVICE_SHARED,
    [RW_O_CARD_RATE] = RW_O_CARD_SHARED,
    [RW_O_IP_RATE] = RW_O_IP_SHARED,
    [RW_O_SUBNET_RATE] = RW_O_SUBNET_OTHER,
    [RW_O_ATTR_NEW_SHARE] = RW_O_ATTR_NEW_SHARE,
    [RW_O_ATTR_FLAG_SHARE] = RW_O_ATTR_FLAGGED,
    [RW_O_ATTR_LABEL_SHARE] = RW_O_ATTR_LABEL_SHARE,
    [RW_O_COMM_NEW_SHARE] = RW_O_COMM_SIZE,
    [RW_O_CARD_AGE] = RW_O_CARD_SHARED,
    [RW_O_IP_AGE] = RW_O_IP_SHARED,
};

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

/* A farm's device or address can hold thousands of accounts: the figures
 * that look at an attribute's accounts one by one look at its newest
 * RW_SCAN_MAX (the graph keeps them in order of arrival). */
#define RW_SCAN_MAX 1024

/* The most accounts on one of the account's (non-crowd) devices that were
 * never seen on any of its subnets: people share a tablet at home, farms
 * share an emulator image across proxies. */
static double foreign_accounts(const rw_engine *e, const rw_view *v) {
    enum { MAXSUB = 8 };
    uint32_t sub[MAXSUB], ns = 0;
    for (uint32_t i = 0; i < v->n && ns < MAXSUB; i++)
        if (v->edge[i].parent != RW_NODE_NONE) sub[ns++] = v->edge[i].parent;
    double best = 0;
    for (uint32_t i = 0; i < v->n; i++) {
        uint32_t x = v->edge[i].attr;
        if (v->edge[i].kind != RW_KIND_DEVICE || v->edge[i].crowd || (e->live.flags[x] & RW_LIVE_CLEARED)) continue;
        uint32_t n = 0;
        const uint32_t *acc = rw_graph_attr_accounts(e->graph, x, &n);
        if (n < 2) continue;
        double count = 0;
        for (uint32_t k = n > RW_SCAN_MAX ? n - RW_SCAN_MAX : 0; k < n; k++)
            if (acc[k] != v->account && !seen_on(e->graph, acc[k], sub, ns)) count++;
        if (count > best) best = count;
    }
    return best;
}

/* The figures of one (uncleared, non-crowd) attribute: sharing, velocity, and
 * for an IP its subnet's velocity. */
static void attr_figures(const rw_live *L, const rw_view_edge *x, int64_t ts, int signup, raw_figures *r) {
    rw_kind k = (rw_kind)x->kind;
    /* The account itself counts in the velocity from its first use. */
    double age = ts > (int64_t)x->first_seen ? (double)(ts - (int64_t)x->first_seen) : 0;
    double life = ts > (int64_t)x->born ? (double)(ts - (int64_t)x->born) : 0; /* the attribute's */
    double hour = x->vel[RW_VEL_HOUR] - exp(-age / RW_TAU_HOUR), day = x->vel[RW_VEL_DAY] - exp(-age / RW_TAU_DAY);
    double others = x->degree - 1.0;
    if (others > r->shared[k] || (others == r->shared[k] && life / 3600 > r->age_hours[k])) {
        r->shared[k] = others;
        r->age_hours[k] = life / 3600;
    }
    /* Its usual rate: the accounts it had before, over its life in days
     * (at least one), against the last day's (an IP's: hour's). */
    double usual = others / fmax(1.0, life / 86400), rate = fmax(0, day) / (1 + usual);
    if (k == RW_KIND_IP) rate = fmax(0, hour) / (1 + usual / 24);
    if (rate > r->rate[k]) r->rate[k] = rate;
    if (x->degree > 1 && fmax(0, day) / others > r->new_share) r->new_share = fmin(1, fmax(0, day) / others);
    if (day > r->day[k]) r->day[k] = day;
    if (hour > r->hour[k]) r->hour[k] = hour;
    uint32_t sub = x->parent;
    if (k == RW_KIND_IP && sub != RW_NODE_NONE && sub < L->cap) {
        double sh = rw_live_decay(L->sub_hour[sub], L->sub_ts[sub], ts, RW_TAU_HOUR) - (signup ? 1 : 0);
        double sd = rw_live_decay(L->sub_day[sub], L->sub_ts[sub], ts, RW_TAU_DAY) - (signup ? 1 : 0);
        if (sh > r->sub_hour) r->sub_hour = sh;
        if (sd > r->sub_day) r->sub_day = sd;
    }
}

/* The shares of a shared attribute's other accounts the newest run flagged
 * and analysts labelled fraud (of its newest RW_SCAN_MAX). */
static void verdict_shares(const rw_engine *e, const rw_view_edge *x, uint32_t self, raw_figures *r) {
    if (x->degree < 2) return;
    const rw_live *L = &e->live;
    uint32_t n = 0;
    const uint32_t *acc = rw_graph_attr_accounts(e->graph, x->attr, &n);
    double flagged = 0, fraud = 0, others = 0;
    for (uint32_t k = n > RW_SCAN_MAX ? n - RW_SCAN_MAX : 0; k < n; k++) {
        if (acc[k] == self || acc[k] >= L->cap) continue;
        others++;
        flagged += L->run_flagged[acc[k]] != 0;
        fraud += (L->flags[acc[k]] & RW_LIVE_FRAUD_ACCOUNT) != 0;
    }
    if (others > 0 && flagged / others > r->flag_share) r->flag_share = flagged / others;
    if (others > 0 && fraud / others > r->label_share) r->label_share = fraud / others;
}

/* The raw figures of the account's attributes, and the features that are
 * flags of them (flagged or scored neighbours, crowds). */
static void edge_figures(const rw_engine *e, const rw_view *v, int signup, double *f, raw_figures *r) {
    const rw_live *L = &e->live;
    for (uint32_t i = 0; i < v->n; i++) {
        const rw_view_edge *x = &v->edge[i];
        rw_kind k = (rw_kind)x->kind;
        if (L->flags[x->attr] & RW_LIVE_CLEARED) {
            r->cleared |= 1 << k;
            continue;
        }
        if (L->flags[x->attr] & RW_LIVE_FRAUD_ATTR) r->fraud_attr = 1;
        if (!x->crowd) {
            if (L->run_flagged[x->attr]) f[RW_O_ATTR_FLAGGED] = 1;
        }
        if (x->crowd) {
            if (k == RW_KIND_IP) f[RW_O_IP_HUB] = 1;
            if (k == RW_KIND_DEVICE) f[RW_O_DEVICE_HUB] = 1;
            continue;
        }
        attr_figures(L, x, v->ts, signup, r);
        verdict_shares(e, x, v->account, r);
    }
    r->foreign = foreign_accounts(e, v);
    r->subnet_v6 = v->subnet_v6;
}

/* The features computed from the raw figures. */
static void figure_features(const raw_figures *r, double *f) {
    f[RW_O_DEVICE_FOREIGN] = log1p(r->foreign);
    f[RW_O_DEVICE_SHARED] = log1p(r->shared[RW_KIND_DEVICE]);
    f[RW_O_DEVICE_DAY] = log1p(r->day[RW_KIND_DEVICE] > 0 ? r->day[RW_KIND_DEVICE] : 0);
    f[RW_O_DEVICE_BURST] = r->shared[RW_KIND_DEVICE] > 0 && r->day[RW_KIND_DEVICE] > 0
                               ? fmin(1.0, r->day[RW_KIND_DEVICE] / r->shared[RW_KIND_DEVICE])
                               : 0;
    f[RW_O_DEVICE_DAY2] = r->day[RW_KIND_DEVICE] >= 1.5;
    f[RW_O_CARD_SHARED] = log1p(r->shared[RW_KIND_PAYMENT]);
    f[RW_O_CARD_DAY] = log1p(r->day[RW_KIND_PAYMENT] > 0 ? r->day[RW_KIND_PAYMENT] : 0);
    f[RW_O_IP_SHARED] = log1p(r->shared[RW_KIND_IP]);
    f[RW_O_IP_HOUR] = log1p(r->hour[RW_KIND_IP] > 0 ? r->hour[RW_KIND_IP] : 0);
    double other = r->sub_hour - (r->hour[RW_KIND_IP] > 0 ? r->hour[RW_KIND_IP] : 0);
    f[RW_O_SUBNET_OTHER] = log1p(other > 0 ? other : 0);
    f[RW_O_SUBNET_DAY] = log1p(r->sub_day > 0 ? r->sub_day : 0);
    f[RW_O_DEVICE_RATE] = log1p(r->rate[RW_KIND_DEVICE]);
    f[RW_O_DEVICE_AGE] = r->shared[RW_KIND_DEVICE] > 0 ? log1p(r->age_hours[RW_KIND_DEVICE]) : 0;
    f[RW_O_CARD_AGE] = r->shared[RW_KIND_PAYMENT] > 0 ? log1p(r->age_hours[RW_KIND_PAYMENT]) : 0;
    f[RW_O_IP_AGE] = r->shared[RW_KIND_IP] > 0 ? log1p(r->age_hours[RW_KIND_IP]) : 0;
    f[RW_O_CARD_RATE] = log1p(r->rate[RW_KIND_PAYMENT]);
    f[RW_O_IP_RATE] = log1p(r->rate[RW_KIND_IP]);
    f[RW_O_SUBNET_RATE] = log1p(fmax(0, r->sub_hour) / (1 + fmax(0, r->sub_day) / 24));
    f[RW_O_ATTR_NEW_SHARE] = r->new_share;
    f[RW_O_ATTR_FLAG_SHARE] = r->flag_share;
    f[RW_O_ATTR_LABEL_SHARE] = r->label_share;
}

/* The features of the account's community (none when labelled benign). */
static void comm_features(const rw_live_comm *cm, int64_t ts, int signup, double *f) {
    if (!cm || cm->label == RW_LIVE_LABEL_BENIGN) return;
    double day = rw_live_decay(cm->day, cm->day_ts, ts, RW_TAU_DAY) - (signup ? 1 : 0);
    f[RW_O_COMM_SCORE] = cm->run_score;
    f[RW_O_COMM_FLAGGED] = cm->run_flagged;
    f[RW_O_COMM_SIZE] = log1p(cm->size > 1 ? cm->size - 1 : 0);
    f[RW_O_COMM_DAY] = log1p(day > 0 ? day : 0);
    f[RW_O_COMM_NEW_SHARE] = cm->size > 1 ? fmin(1, fmax(0, day) / (cm->size - 1)) : 0;
}

/* Analysts' labels override the model, and say so. */
static void label_reasons(const rw_live *L, uint32_t a, const rw_live_comm *cm, const raw_figures *r, rw_decision *d) {
    if (L->flags[a] & RW_LIVE_CLEARED) {
        d->score = 0;
        snprintf(d->reasons[d->nreasons++], 160, "the account is labelled benign by an analyst");
    } else if (cm && cm->label == RW_LIVE_LABEL_FRAUD) {
        if (d->score < L->block) d->score = L->block;
        snprintf(d->reasons[d->nreasons++], 160, "joins %s, labelled fraud by an analyst", d->cluster);
    } else if (r->fraud_attr) {
        if (d->score < L->review) d->score = L->review;
        snprintf(d->reasons[d->nreasons++], 160, "shares an attribute with an account labelled fraud");
    }
    if (cm && cm->label == RW_LIVE_LABEL_BENIGN && d->nreasons < RW_REASONS_MAX)
        snprintf(d->reasons[d->nreasons++], 160, "its group %s is labelled benign by an analyst", d->cluster);
    else if (r->cleared && d->nreasons < RW_REASONS_MAX && !(L->flags[a] & RW_LIVE_CLEARED))
        snprintf(d->reasons[d->nreasons++], 160,
                 "an analyst's benign label covers its%s%s%s, so they do not count against it",
                 r->cleared & (1 << RW_KIND_DEVICE) ? " device" : "",
                 r->cleared & (1 << RW_KIND_PAYMENT) ? " card" : "",
                 r->cleared & (1 << RW_KIND_IP) ? " IP address" : "");
}

/* The model's reasons explain scores worth a look: the attribution costs
 * more than the score itself, and the bulk of signups, scored near zero,
 * have nothing to explain. */
static void model_reasons(const rw_live *L, uint32_t c, const double *f, const raw_figures *r, rw_decision *d) {
    const rw_live_comm *cm = c ? &L->c[c] : NULL;
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
        reason_text(L, c, key, r, d->reasons[d->nreasons++]);
    }
}

int rw_engine_live_score(const rw_engine *e, const rw_view *v, int signup, rw_decision *d) {
    const rw_live *L = &e->live;
    double f[RW_O_COUNT] = {0};
    raw_figures r;
    memset(&r, 0, sizeof r);
    edge_figures(e, v, signup, f, &r);
    figure_features(&r, f);
    uint32_t c = v->comm;
    const rw_live_comm *cm = c ? &L->c[c] : NULL;
    comm_features(cm, v->ts, signup, f);
    d->score = rw_online_score(&L->model, f);
    _Static_assert(RW_O_COUNT <= sizeof d->features / sizeof d->features[0], "rw_decision.features is too small");
    memcpy(d->features, f, sizeof f);
    cluster_text(L, c, d->cluster);
    d->nreasons = 0;
    d->raised = RW_RAISED_NONE;
    label_reasons(L, v->account, cm, &r, d);
    if (!(L->flags[v->account] & RW_LIVE_CLEARED) && d->score >= RW_EXPLAIN_SHARE * L->review)
        model_reasons(L, c, f, &r, d);
    d->verdict = d->score >= L->block ? RW_BLOCK : d->score >= L->review ? RW_REVIEW : RW_ALLOW;
    rw_verdict_apply(e, v, d);                     /* verdict.h: the newest run's flags, after any model */
    if (signup) rw_young_apply(L, e->graph, v, d); /* young.h: a device that came with its accounts */
    int own = d->verdict != RW_ALLOW;
    if (signup) rw_stops_apply(L, v, d); /* stops.h: what the signup path stopped on its attributes */
    return own;
}

/* The online figures of an account in a snapshot (for the features file
 * of the replay and the account view). Under the engine's lock. */
void rw_engine_live_decision(const rw_engine *e, uint32_t a, int64_t ts, rw_decision *d) {
    memset(d, 0, sizeof *d);
    if (a >= e->live.cap) return;
    rw_view v;
    rw_view_init(&v);
    /* Out of memory (an account with very many attributes): no figures. */
    if (rw_view_gather(&v, e, a, ts, 1) == 0) {
        v.comm = e->live.comm[a];
        rw_engine_live_score(e, &v, 0, d);
    }
    rw_view_free(&v);
}

void rw_engine_set_online(rw_engine *e, const rw_online_params *p) {
    pthread_rwlock_wrlock(&e->lock);
    e->live.review = p->review > 0 ? p->review : RW_ONLINE_REVIEW;
    e->live.block = p->block > 0 ? p->block : RW_ONLINE_BLOCK;
    pthread_rwlock_unlock(&e->lock);
}
