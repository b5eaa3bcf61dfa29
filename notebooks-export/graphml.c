/* export: GraphML (graphml.graphdrawing.org) as networkx, python-igraph and
 * Gephi read it: typed keys for every node and edge attribute, ids "n<node>",
 * one node or edge per step. */
#include <math.h>

#include "export_int.h"

/* Keys; node and edge keys share attribute names, so ids carry the domain. */
static const char *const keys[][4] = {
    {"v_kind", "node", "kind", "string"},
    {"v_label", "node", "label", "string"},
    {"v_cluster", "node", "cluster", "long"},
    {"v_first_seen", "node", "first_seen", "long"},
    {"v_last_seen", "node", "last_seen", "long"},
    {"v_degree", "node", "degree", "long"},
    {"v_sub_degree", "node", "sub_degree", "long"},
    {"v_score", "node", "score", "double"},
    {"v_flagged", "node", "flagged", "boolean"},
    {"v_hub", "node", "hub", "boolean"},
    {"v_x", "node", "x", "double"},
    {"v_y", "node", "y", "double"},
    {"e_first_seen", "edge", "first_seen", "long"},
    {"e_last_seen", "edge", "last_seen", "long"},
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

static void node(rw_export_stream *s, const rw_cg_node *n) {
    char id[16];
    rw_xnode_id(id, n);
    rw_xprintf(s, "    <node id=\"%s\"><data key=\"v_kind\">%s</data><data key=\"v_label\">", id,
               rw_xkind_name(n->kind));
    rw_xml_text(s, n->label);
    rw_xprintf(s,
               "</data><data key=\"v_cluster\">%u</data><data key=\"v_first_seen\">%lld</data>"
               "<data key=\"v_last_seen\">%lld</data><data key=\"v_degree\">%u</data>"
               "<data key=\"v_sub_degree\">%u</data>",
               n->cluster, (long long)n->first_seen, (long long)n->last_seen, n->degree, n->sub_degree);
    if (!isnan(n->score)) rw_xprintf(s, "<data key=\"v_score\">%.6g</data>", n->score);
    rw_xprintf(s, "<data key=\"v_flagged\">%s</data><data key=\"v_hub\">%s</data>", n->flagged ? "true" : "false",
               n->hub ? "true" : "false");
    if (!isnan(n->x)) rw_xprintf(s, "<data key=\"v_x\">%.5f</data><data key=\"v_y\">%.5f</data>", n->x, n->y);
    rw_xputs(s, "</node>\n");
}

static void edge(rw_export_stream *s, const rw_cg_edge *e) {
    char a[16], b[16];
    rw_xnode_id(a, &s->g->nodes[e->account]);
    rw_xnode_id(b, &s->g->nodes[e->attr]);
    rw_xprintf(s,
               "    <edge source=\"%s\" target=\"%s\"><data key=\"e_first_seen\">%lld</data>"
               "<data key=\"e_last_seen\">%lld</data><data key=\"e_count\">%u</data></edge>\n",
               a, b, (long long)e->first_seen, (long long)e->last_seen, e->count);
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
