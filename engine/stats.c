/* Statistics of the graph and counters of the engine, for /metrics and the
 * CLI. */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

static int degree_bucket(uint32_t d) {
    int b = 0;
    while (d > 1 && b < RW_DEGREE_BUCKETS - 1) {
        d >>= 1;
        b++;
    }
    return b;
}

rw_status rw_engine_get_stats(rw_engine *e, rw_engine_stats *out, rw_err *err) {
    memset(out, 0, sizeof *out);
    rw_status need = rw_engine_need_graph(e, err);
    if (need != RW_OK) return need;
    pthread_rwlock_rdlock(&e->lock);
    const rw_graph *g = e->graph;
    uint32_t n = rw_graph_node_count(g);
    for (uint32_t v = 0; v < n; v++) {
        rw_kind k = rw_graph_kind(g, v);
        if ((unsigned)k >= RW_KIND_COUNT) continue; /* the placeholder of an erased node */
        uint32_t d = rw_graph_degree(g, v);
        out->nodes[k]++;
        out->degree_hist[k][degree_bucket(d)]++;
        if (d > out->max_degree[k]) out->max_degree[k] = d;
    }
    out->edges = rw_graph_edge_count(g);
    out->events = e->events;
    out->graph_bytes = rw_graph_memory(g);
    pthread_rwlock_unlock(&e->lock);
    return RW_OK;
}

/* A min-heap on degree keeps the top n in one pass over the nodes. */
static void heap_sift(rw_hub *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].degree < h[m].degree) m = l;
        if (r < n && h[r].degree < h[m].degree) m = r;
        if (m == i) return;
        rw_hub t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static int hub_cmp(const void *a, const void *b) {
    const rw_hub *x = a, *y = b;
    return x->degree < y->degree ? 1 : x->degree > y->degree ? -1 : strcmp(x->pseudonym, y->pseudonym);
}

size_t rw_engine_top_hubs(rw_engine *e, rw_hub *out, size_t n) {
    size_t have = 0;
    if (!n || !e->graph) return 0;
    pthread_rwlock_rdlock(&e->lock);
    const rw_graph *g = e->graph;
    uint32_t nodes = rw_graph_node_count(g);
    for (uint32_t v = 0; v < nodes; v++) {
        rw_kind k = rw_graph_kind(g, v);
        if (k == RW_KIND_ACCOUNT || k == RW_KIND_SUBNET || (unsigned)k >= RW_KIND_COUNT) continue;
        uint32_t d = rw_graph_degree(g, v);
        if (have == n && d <= out[0].degree) continue;
        rw_hub hub = {
            .kind = k, .degree = d, .first_seen = rw_graph_first_seen(g, v), .last_seen = rw_graph_last_seen(g, v)};
        rw_hash_pseudonym(hub.pseudonym, sizeof hub.pseudonym, k, rw_graph_attr_hash(g, v));
        if (have < n) {
            out[have++] = hub;
            if (have == n)
                for (size_t i = n / 2 + 1; i-- > 0;) heap_sift(out, n, i);
        } else {
            out[0] = hub;
            heap_sift(out, n, 0);
        }
    }
    pthread_rwlock_unlock(&e->lock);
    qsort(out, have, sizeof *out, hub_cmp);
    return have;
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
    memcpy(out->events_recorded, e->events_recorded, sizeof out->events_recorded);
    memcpy(out->signups_raised, e->signups_raised, sizeof out->signups_raised);
    memcpy(out->commit_hist, e->commit_hist, sizeof out->commit_hist);
    out->commit_seconds = e->commit_seconds;
    out->commit_queue = e->pending.nev;
    out->checkpoints = e->checkpoints;
    out->checkpoint_failures = e->checkpoint_failures;
    out->store_ok = e->store_ok;
    pthread_mutex_unlock(&e->gc_mu);
}
