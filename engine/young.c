/* Devices that came with their accounts (young.h).
 *
 * A farm signs up its accounts on a few emulator images within hours. To
 * the model, the more accounts a device gathers the more it looks like a
 * popular stock fingerprint, and a nightly run has not seen it yet. What
 * tells them apart is how the device's accounts arrived, not how many
 * there are: a stock fingerprint or a family tablet was there before and
 * is also used by accounts that existed before it (a new phone, a login
 * from home), while every account on a farm's device was created on it,
 * soon after it first appeared. Size plays no part beyond the first few
 * accounts, so a farm cannot hide by growing. */
#include <stdio.h>

#include "verdict.h"
#include "young.h"

/* A device's newest accounts are looked at one by one; a farm's device
 * holding more within its first hours is judged by these. */
#define RW_YOUNG_SCAN 1024

/* Was account b created on device x: is its first use of x its own first
 * sighting? */
static int created_on(const rw_graph *g, uint32_t b, uint32_t x) {
    uint32_t n = 0, born = (uint32_t)rw_graph_first_seen(g, b);
    const rw_edge *ed = rw_graph_account_edges(g, b, &n);
    for (uint32_t i = 0; i < n; i++)
        if (ed[i].attr == x) return ed[i].first_seen == born;
    return 0;
}

/* Were the accounts on x other than self all created on it? */
static int all_created_on(const rw_graph *g, uint32_t x, uint32_t self) {
    uint32_t n = 0;
    const uint32_t *acc = rw_graph_attr_accounts(g, x, &n);
    for (uint32_t k = n > RW_YOUNG_SCAN ? n - RW_YOUNG_SCAN : 0; k < n; k++)
        if (acc[k] != self && !created_on(g, acc[k], x)) return 0;
    return 1;
}

void rw_young_apply(const rw_live *L, const rw_graph *g, const rw_view *v, rw_decision *d) {
    if (!L->epoch || !rw_verdict_open(L, v->account, d)) return;
    const int64_t window = (int64_t)RW_YOUNG_HOURS * 3600;
    for (uint32_t i = 0; i < v->n; i++) {
        const rw_view_edge *x = &v->edge[i];
        if (x->kind != RW_KIND_DEVICE || x->attr >= L->cap || (L->flags[x->attr] & RW_LIVE_CLEARED)) continue;
        uint32_t before = x->degree > 1 ? x->degree - 1 : 0; /* its degree counts this account */
        int64_t born = (int64_t)x->born, age = v->ts - born;
        if (before < RW_YOUNG_MIN || born - L->epoch < (int64_t)RW_HISTORY_SETTLE_HOURS * 3600 || age > window)
            continue;
        if (!all_created_on(g, x->attr, v->account)) continue;
        char text[sizeof d->reasons[0]];
        snprintf(text, sizeof text,
                 "its device first appeared %.0f hours ago, and all %u accounts on it were created on it since",
                 (double)age / 3600.0, before);
        rw_verdict_review(d, RW_RAISED_NEW_DEVICE, text);
        return;
    }
}
