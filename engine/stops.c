/* What the signup path itself stopped, as evidence for the next signup on
 * the same device, card or address (stops.h).
 *
 * A farm's score at signup falls as it grows: the more accounts its few
 * devices and addresses gather, the more they look like a popular stock
 * fingerprint or a carrier NAT to the model, and a nightly run judges only
 * what it saw. But the signup path saw the farm's first accounts and
 * stopped them. Counting on each attribute the signups stopped on their own
 * evidence, against all of its accounts, tells a farm's device (a large
 * share stopped) from a crowd's (strangers, stopped about one in a
 * thousand) without a threshold on size, which the attacker chooses.
 *
 * Counts are kept per attribute in the live state (rw_live.stopped) and
 * carry over runs; each stopped signup is stored with its event (the
 * events table's stopped column), so a restart counts them again. A benign
 * label on the attribute stops it counting against anyone; one on the
 * account allows it whatever its attributes say. */
#include <math.h>
#include <stdio.h>

#include "stops.h"
#include "verdict.h"

static void count_on(rw_live *L, uint32_t x) {
    if (x < L->cap && L->stopped[x] < UINT16_MAX) L->stopped[x]++;
}

/* Marks account a stopped; 0 when it already was (counted once). */
static int mark(rw_live *L, uint32_t a) {
    if (a >= L->cap || (L->flags[a] & RW_LIVE_STOPPED)) return 0;
    L->flags[a] |= RW_LIVE_STOPPED;
    return 1;
}

/* A stop at event time t on subnet s, as seen at the subnet's last update
 * (its signup counted, live; or every signup of the store, at a restart). */
static void count_on_subnet(rw_live *L, uint32_t s, uint32_t t) {
    if (s >= L->cap) return;
    L->sub_stops[s] += (float)rw_live_decay(1.0, t, L->sub_ts[s], RW_TAU_DAY);
}

void rw_stops_count(rw_live *L, const rw_graph *g, uint32_t a) {
    if (!L->stopped || !mark(L, a)) return;
    uint32_t born = (uint32_t)rw_graph_first_seen(g, a), n = 0;
    const rw_edge *ed = rw_graph_account_edges(g, a, &n);
    for (uint32_t i = 0; i < n; i++) {
        if (ed[i].first_seen != born) continue;
        count_on(L, ed[i].attr);
        uint32_t s = rw_graph_parent(g, ed[i].attr);
        if (s != RW_NODE_NONE) count_on_subnet(L, s, born);
    }
}

/* The attribute rule (stops.h): the reason for the attribute of v with the
 * most stopped signups that passes the bar into text; 0 when none does. */
static int stopped_attribute(const rw_live *L, const rw_view *v, char *text, size_t size) {
    const rw_view_edge *best = NULL;
    uint32_t best_users = 0;
    for (uint32_t i = 0; i < v->n; i++) {
        const rw_view_edge *x = &v->edge[i];
        if (x->attr >= L->cap || !rw_verdict_noun((rw_kind)x->kind) || (L->flags[x->attr] & RW_LIVE_CLEARED)) continue;
        uint32_t stopped = L->stopped[x->attr];
        /* The accounts on it before this one (its degree counts it). */
        uint32_t users = x->degree > 1 ? x->degree - 1 : 1;
        if (stopped < RW_STOPS_MIN || stopped < RW_STOPS_SHARE * users) continue;
        if (!best || stopped > L->stopped[best->attr]) best = x, best_users = users;
    }
    if (!best) return 0;
    unsigned stopped = L->stopped[best->attr];
    snprintf(text, size, "its %s has %u earlier accounts, %u of them (%.0f%%) reviewed or blocked at signup",
             rw_verdict_noun((rw_kind)best->kind), best_users, stopped, 100.0 * stopped / best_users);
    return 1;
}

/* The subnet rule (stops.h), over about the last day: the reason for the
 * subnet of v's IPs with the most stopped signups that passes the bar into
 * text; 0 when none does. */
static int stopped_subnet(const rw_live *L, const rw_view *v, char *text, size_t size) {
    double stops = 0, others = 0;
    for (uint32_t i = 0; i < v->n; i++) {
        const rw_view_edge *x = &v->edge[i];
        uint32_t s = x->parent;
        if (s == RW_NODE_NONE || s >= L->cap || ((L->flags[x->attr] | L->flags[s]) & RW_LIVE_CLEARED)) continue;
        double st = rw_live_decay(L->sub_stops[s], L->sub_ts[s], v->ts, RW_TAU_DAY);
        /* The subnet's signups count this one already. */
        double n = rw_live_decay(L->sub_day[s], L->sub_ts[s], v->ts, RW_TAU_DAY) - 1;
        if (st < RW_STOPS_SUBNET_MIN || st < RW_STOPS_SUBNET_SHARE * n || st <= stops) continue;
        stops = st, others = n;
    }
    if (stops == 0) return 0;
    snprintf(text, size,
             "its %s had about %.0f other signups in the last day, %.0f of them reviewed or blocked at signup",
             v->subnet_v6 ? "/48" : "/24", others, fmin(stops, others));
    return 1;
}

void rw_stops_apply(const rw_live *L, const rw_view *v, rw_decision *d) {
    if (!L->stopped || !rw_verdict_open(L, v->account, d)) return;
    char text[sizeof d->reasons[0]];
    if (stopped_attribute(L, v, text, sizeof text) || stopped_subnet(L, v, text, sizeof text))
        rw_verdict_review(d, RW_RAISED_STOPPED_ATTRIBUTE, text);
}
