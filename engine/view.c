/* A signup's neighbourhood gathered once: the edges of its account and, per
 * attribute, kind, degree, subnet and velocity. Each later step (placing,
 * subnet counts, features, stops) used to fetch the account's
 * edges and ask the graph for each attribute again. */
#include <stdlib.h>

#include "live.h"
#include "view.h"

void rw_view_init(rw_view *v) {
    v->n = 0;
    v->edge = v->inline_edges;
    v->cap = RW_VIEW_INLINE;
    v->comm = 0;
    v->subnet_v6 = 0;
}

void rw_view_free(rw_view *v) {
    if (v->edge != v->inline_edges) free(v->edge);
    rw_view_init(v);
}

static int room(rw_view *v, uint32_t n) {
    if (n <= v->cap) return 0;
    rw_view_edge *p = malloc((size_t)n * sizeof *p);
    if (!p) return -1;
    if (v->edge != v->inline_edges) free(v->edge);
    v->edge = p;
    v->cap = n;
    return 0;
}

int rw_view_gather(rw_view *v, const rw_engine *e, uint32_t a, int64_t ts, int with_velocity) {
    const rw_graph *g = e->graph;
    const rw_live *L = &e->live;
    uint32_t nedges = 0;
    const rw_edge *ed = rw_graph_account_edges(g, a, &nedges);
    v->account = a;
    v->ts = ts;
    v->n = 0;
    if (room(v, nedges) != 0) return -1;
    for (uint32_t i = 0; i < nedges; i++) {
        rw_view_edge *x = &v->edge[i];
        x->attr = ed[i].attr;
        x->first_seen = ed[i].first_seen;
        int64_t born = rw_graph_first_seen(g, x->attr);
        x->born = born > 0 && born < (int64_t)x->first_seen ? (uint32_t)born : x->first_seen;
        x->degree = rw_graph_degree(g, x->attr);
        x->parent = rw_graph_parent(g, x->attr);
        x->kind = (uint8_t)rw_graph_kind(g, x->attr);
        int cleared = (L->flags[x->attr] & RW_LIVE_CLEARED) != 0;
        if (with_velocity && !cleared) rw_graph_velocity(g, x->attr, ts, x->vel);
        x->crowd = x->degree > L->hub_degree && !(with_velocity && !cleared && rw_live_burst(L, x->degree, x->vel, ts));
    }
    v->n = nedges;
    return 0;
}
