/* export: node-link JSON as networkx's json_graph.node_link_graph reads it
 * ("nodes" and "links"; networkx 3.4 and later need edges="links"), one
 * node or link per step, each serialised by jansson. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "export_int.h"

/* Appends j (taking it) as compact JSON. */
static void dump(rw_export_stream *s, json_t *j) {
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!t) {
        s->nomem = 1;
        return;
    }
    rw_xputs(s, t);
    free(t);
}

/* Labels are valid UTF-8 (ingest checks account ids; pseudonyms are
 * ASCII); should one not be, the node keeps a placeholder, not broken JSON. */
static json_t *text(const char *s) {
    json_t *j = json_string(s);
    return j ? j : json_string("\xEF\xBF\xBD");
}

static void header(rw_export_stream *s) {
    const rw_cluster_graph *g = s->g;
    json_t *ids = json_array();
    for (size_t i = 0; i < g->nclusters && ids; i++) json_array_append_new(ids, json_integer(g->clusters[i].id));
    json_t *graph =
        json_pack("{s:I,s:o,s:I}", "run", (json_int_t)g->run, "clusters", ids, "hub_degree", (json_int_t)g->hub_degree);
    rw_xputs(s, "{\"directed\":false,\"multigraph\":false,\"graph\":");
    dump(s, graph);
    rw_xputs(s, ",\n\"nodes\":[\n");
}

static void node(rw_export_stream *s, const rw_cg_node *n, int first) {
    char id[16];
    rw_xnode_id(id, n);
    char t0[32], t1[32];
    rw_xiso(t0, n->first_seen);
    rw_xiso(t1, n->last_seen);
    json_t *o =
        json_pack("{s:s,s:s,s:o,s:I,s:s,s:s,s:I,s:I,s:I,s:I,s:b,s:b}", "id", id, "kind", rw_xkind_name(n->kind),
                  "label", text(n->label), "cluster", (json_int_t)n->cluster, "first_seen", t0, "last_seen", t1,
                  "first_seen_unix", (json_int_t)n->first_seen, "last_seen_unix", (json_int_t)n->last_seen, "degree",
                  (json_int_t)n->degree, "sub_degree", (json_int_t)n->sub_degree, "flagged", n->flagged, "hub", n->hub);
    if (o && !isnan(n->score)) json_object_set_new(o, "score", json_real(n->score));
    if (o && !isnan(n->x)) {
        json_object_set_new(o, "x", json_real(n->x));
        json_object_set_new(o, "y", json_real(n->y));
    }
    if (!first) rw_xputs(s, ",\n");
    dump(s, o);
}

static void link_out(rw_export_stream *s, const rw_cg_edge *e, int first) {
    char a[16], b[16];
    rw_xnode_id(a, &s->g->nodes[e->account]);
    rw_xnode_id(b, &s->g->nodes[e->attr]);
    char t0[32], t1[32];
    rw_xiso(t0, e->first_seen);
    rw_xiso(t1, e->last_seen);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "source", a, "target", b, "first_seen", t0, "last_seen", t1,
                          "first_seen_unix", (json_int_t)e->first_seen, "last_seen_unix", (json_int_t)e->last_seen,
                          "count", (json_int_t)e->count);
    if (!first) rw_xputs(s, ",\n");
    dump(s, o);
}

static rw_status step(rw_export_stream *s, rw_err *err) {
    const rw_cluster_graph *g = s->g;
    switch (s->phase) {
        case 0:
            header(s);
            s->phase = 1;
            break;
        case 1:
            if (s->i < g->nnodes) {
                node(s, &g->nodes[s->i], s->i == 0);
                s->i++;
            } else {
                rw_xputs(s, "\n],\n\"links\":[\n");
                s->phase = 2, s->i = 0;
            }
            break;
        default:
            if (s->i < g->nedges) {
                link_out(s, &g->edges[s->i], s->i == 0);
                s->i++;
            } else {
                rw_xputs(s, "\n]}\n");
                s->done = 1;
            }
    }
    return RW_OK;
}

rw_status rw_xjson_open(rw_export_stream *s, rw_err *err) {
    s->step = step;
    return RW_OK;
}
