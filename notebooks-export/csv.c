/* export: nodes.csv, edges.csv and clusters.csv for pandas. Times are Unix
 * seconds (pd.to_datetime(..., unit="s")); an empty field is a missing
 * value (an attribute's score, positions not laid out). */
#include <math.h>
#include <string.h>

#include "export_int.h"

/* A text cell, always quoted. One that a spreadsheet would take for a
 * formula (it begins with = + - @, a tab or a carriage return: OWASP's CSV
 * injection guidance) gets a ' in front, inside the quotes, which the
 * spreadsheet shows as text. Only text goes through here: numbers are
 * written unquoted and stay numbers, negative ones included. */
static void text_cell(rw_export_stream *s, const char *text) {
    if (text && *text && strchr("=+-@\t\r", *text)) {
        rw_xout(s, "\"'", 2);
        for (const char *p = text; *p; p++) {
            if (*p == '"') rw_xout(s, "\"", 1);
            rw_xout(s, p, 1);
        }
        rw_xout(s, "\"", 1);
        return;
    }
    rw_csv_field(s, text ? text : "");
}

static rw_status nodes_step(rw_export_stream *s, rw_err *err) {
    const rw_cluster_graph *g = s->g;
    if (s->phase == 0) {
        rw_xputs(s, "id,kind,label,cluster,first_seen,last_seen,degree,sub_degree,score,flagged,hub,x,y\n");
        s->phase = 1;
        return RW_OK;
    }
    if (s->i >= g->nnodes) {
        s->done = 1;
        return RW_OK;
    }
    const rw_cg_node *n = &g->nodes[s->i++];
    char id[16];
    rw_xnode_id(id, n);
    rw_xprintf(s, "%s,%s,", id, rw_xkind_name(n->kind));
    text_cell(s, n->label);
    rw_xprintf(s, ",%u,%lld,%lld,%u,%u,", n->cluster, (long long)n->first_seen, (long long)n->last_seen, n->degree,
               n->sub_degree);
    if (!isnan(n->score)) rw_xprintf(s, "%.6g", n->score);
    rw_xprintf(s, ",%d,%d,", n->flagged, n->hub);
    if (!isnan(n->x))
        rw_xprintf(s, "%.5f,%.5f", n->x, n->y);
    else
        rw_xputs(s, ",");
    rw_xputs(s, "\n");
    return RW_OK;
}

static rw_status edges_step(rw_export_stream *s, rw_err *err) {
    const rw_cluster_graph *g = s->g;
    if (s->phase == 0) {
        rw_xputs(s, "source,target,first_seen,last_seen,count\n");
        s->phase = 1;
        return RW_OK;
    }
    if (s->i >= g->nedges) {
        s->done = 1;
        return RW_OK;
    }
    const rw_cg_edge *e = &g->edges[s->i++];
    char a[16], b[16];
    rw_xnode_id(a, &g->nodes[e->account]);
    rw_xnode_id(b, &g->nodes[e->attr]);
    rw_xprintf(s, "%s,%s,%lld,%lld,%u\n", a, b, (long long)e->first_seen, (long long)e->last_seen, e->count);
    return RW_OK;
}

/* Features and reasons stay JSON text in one field each: the notebook
 * expands them with json.loads. */
static rw_status clusters_step(rw_export_stream *s, rw_err *err) {
    const rw_cluster_graph *g = s->g;
    if (s->phase == 0) {
        rw_xputs(s, "cluster,run,score,flagged,accounts,attributes,first_signup,last_signup,reasons,features\n");
        s->phase = 1;
        return RW_OK;
    }
    if (s->i >= g->nclusters) {
        s->done = 1;
        return RW_OK;
    }
    const rw_cluster_row *c = &g->clusters[s->i++];
    rw_xprintf(s, "%u,%lld,%.6g,%d,%u,%u,%lld,%lld,", c->id, (long long)g->run, c->score, c->flagged, c->accounts,
               c->attributes, (long long)c->first_seen, (long long)c->last_seen);
    text_cell(s, c->reasons);
    rw_xputs(s, ",");
    text_cell(s, c->features);
    rw_xputs(s, "\n");
    return RW_OK;
}

rw_status rw_xnodes_csv_open(rw_export_stream *s, rw_err *err) {
    s->step = nodes_step;
    return RW_OK;
}

rw_status rw_xedges_csv_open(rw_export_stream *s, rw_err *err) {
    s->step = edges_step;
    return RW_OK;
}

rw_status rw_xclusters_csv_open(rw_export_stream *s, rw_err *err) {
    s->step = clusters_step;
    return RW_OK;
}
