/* export: GraphML (graphml.graphdrawing.org) as networkx, python-igraph and
 * Gephi read it: typed keys for every node and edge attribute, ids "n<node>",
 * one node or edge per step. Times are ISO 8601 UTC with their Unix seconds
 * beside them. Gephi's GraphML importer takes the attributes named x, y,
 * size, r, g, b as each node's position, size and colour, and start/end
 * (ISO times) give its timeline an interval per node and edge. */
#include <math.h>
#include <stdlib.h>

#include "export_int.h"

/* Keys; node and edge keys share attribute names, so ids carry the domain. */
static const char *const keys[][4] = {
    {"v_kind", "node", "kind", "string"},
    {"v_label", "node", "label", "string"},
    {"v_cluster", "node", "cluster", "long"},
    {"v_first_seen", "node", "first_seen", "string"},
    {"v_last_seen", "node", "last_seen", "string"},
    {"v_first_seen_unix", "node", "first_seen_unix", "long"},
    {"v_last_seen_unix", "node", "last_seen_unix", "long"},
    {"v_start", "node", "start", "string"},
    {"v_end", "node", "end", "string"},
    {"v_degree", "node", "degree", "long"},
    {"v_sub_degree", "node", "sub_degree", "long"},
    {"v_score", "node", "score", "double"},
    {"v_flagged", "node", "flagged", "boolean"},
    {"v_hub", "node", "hub", "boolean"},
    {"v_x", "node", "x", "double"},
    {"v_y", "node", "y", "double"},
    {"v_size", "node", "size", "double"},
    {"v_r", "node", "r", "int"},
    {"v_g", "node", "g", "int"},
    {"v_b", "node", "b", "int"},
    {"e_first_seen", "edge", "first_seen", "string"},
    {"e_last_seen", "edge", "last_seen", "string"},
    {"e_first_seen_unix", "edge", "first_seen_unix", "long"},
    {"e_last_seen_unix", "edge", "last_seen_unix", "long"},
    {"e_start", "edge", "start", "string"},
    {"e_end", "edge", "end", "string"},
    {"e_count", "edge", "count", "long"},
    {"g_run", "graph", "run", "long"},
    {"g_clusters", "graph", "clusters", "string"},
    {"g_hub_degree", "graph", "hub_degree", "long"},
};

static void header(rw_export_stream *s) {
    const rw_cluster_graph *g = s->g;
    rw_xputs(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\""
                " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
                " xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns"
                " http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">\n");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        rw_xprintf(s, "  <key id=\"%s\" for=\"%s\" attr.name=\"%s\" attr.type=\"%s\"/>\n", keys[i][0], keys[i][1],
                   keys[i][2], keys[i][3]);
    rw_xprintf(s, "  <graph id=\"G\" edgedefault=\"undirected\">\n    <data key=\"g_run\">%lld</data>\n",
               (long long)g->run);
    rw_xputs(s, "    <data key=\"g_clusters\">");
    for (size_t i = 0; i < g->nclusters; i++) rw_xprintf(s, "%s%u", i ? "," : "", g->clusters[i].id);
    rw_xprintf(s, "</data>\n    <data key=\"g_hub_degree\">%u</data>\n", g->hub_degree);
}

/* Positions in Gephi's units: the unit square stretched to GEPHI_SPAN
 * (nodes are about 10 across there), y pointing up as Gephi draws it. */
#define GEPHI_SPAN 1000.0

static void times(rw_export_stream *s, char dom, int64_t first_seen, int64_t last_seen) {
    char first[32], last[32];
    rw_xiso(first, first_seen);
    rw_xiso(last, last_seen);
    rw_xprintf(s,
               "<data key=\"%c_first_seen\">%s</data><data key=\"%c_last_seen\">%s</data>"
               "<data key=\"%c_first_seen_unix\">%lld</data><data key=\"%c_last_seen_unix\">%lld</data>"
               "<data key=\"%c_start\">%s</data><data key=\"%c_end\">%s</data>",
               dom, first, dom, last, dom, (long long)first_seen, dom, (long long)last_seen, dom, first, dom, last);
}

/* Colour as the pictures use it: by kind, flagged accounts red. */
static void viz(rw_export_stream *s, const rw_cg_node *n) {
    const char *hex = n->kind == RW_KIND_ACCOUNT && n->flagged ? RW_XFLAG_COLOUR : rw_xkind_colour(n->kind);
    unsigned long rgb = strtoul(hex + 1, NULL, 16);
    rw_xprintf(s,
               "<data key=\"v_size\">%.2f</data><data key=\"v_r\">%lu</data><data key=\"v_g\">%lu</data>"
               "<data key=\"v_b\">%lu</data>",
               4.0 + 2.0 * sqrt((double)n->sub_degree), (rgb >> 16) & 0xFF, (rgb >> 8) & 0xFF, rgb & 0xFF);
    if (!isnan(n->x))
        rw_xprintf(s, "<data key=\"v_x\">%.3f</data><data key=\"v_y\">%.3f</data>", n->x * GEPHI_SPAN,
                   (1.0 - n->y) * GEPHI_SPAN);
}

static void node(rw_export_stream *s, const rw_cg_node *n) {
    char id[16];
    rw_xnode_id(id, n);
    rw_xprintf(s, "    <node id=\"%s\"><data key=\"v_kind\">%s</data><data key=\"v_label\">", id,
               rw_xkind_name(n->kind));
    rw_xml_text(s, n->label);
    rw_xprintf(s, "</data><data key=\"v_cluster\">%u</data>", n->cluster);
    times(s, 'v', n->first_seen, n->last_seen);
    rw_xprintf(s, "<data key=\"v_degree\">%u</data><data key=\"v_sub_degree\">%u</data>", n->degree, n->sub_degree);
    if (!isnan(n->score)) rw_xprintf(s, "<data key=\"v_score\">%.6g</data>", n->score);
    rw_xprintf(s, "<data key=\"v_flagged\">%s</data><data key=\"v_hub\">%s</data>", n->flagged ? "true" : "false",
               n->hub ? "true" : "false");
    viz(s, n);
    rw_xputs(s, "</node>\n");
}

static void edge(rw_export_stream *s, const rw_cg_edge *e) {
    char a[16], b[16];
    rw_xnode_id(a, &s->g->nodes[e->account]);
    rw_xnode_id(b, &s->g->nodes[e->attr]);
    rw_xprintf(s, "    <edge source=\"%s\" target=\"%s\">", a, b);
    times(s, 'e', e->first_seen, e->last_seen);
    rw_xprintf(s, "<data key=\"e_count\">%u</data></edge>\n", e->count);
}

static rw_status step(rw_export_stream *s, rw_err *err) {
    const rw_cluster_graph *g = s->g;
    switch (s->phase) {
        case 0:
            header(s);
            s->phase = 1;
            break;
        case 1:
            if (s->i < g->nnodes)
                node(s, &g->nodes[s->i++]);
            else
                s->phase = 2, s->i = 0;
            break;
        case 2:
            if (s->i < g->nedges)
                edge(s, &g->edges[s->i++]);
            else
                s->phase = 3;
            break;
        default:
            rw_xputs(s, "  </graph>\n</graphml>\n");
            s->done = 1;
    }
    return RW_OK;
}

rw_status rw_xgraphml_open(rw_export_stream *s, rw_err *err) {
    s->step = step;
    return RW_OK;
}
