/* export: nodes and relationships as neo4j-admin database import reads them
 * (typed headers: id:ID, :LABEL, :START_ID, :END_ID, :TYPE; times as
 * datetime in ISO 8601 UTC with their Unix seconds beside them). Ids are the
 * same "n<node>" as in every other file. */
#include <math.h>

#include "export_int.h"

/* Neo4j labels by kind: accounts and the attributes they were seen with. */
static const char *const labels[RW_KIND_COUNT] = {
    [RW_KIND_ACCOUNT] = "Account",         [RW_KIND_IP] = "Attribute;IP",
    [RW_KIND_DEVICE] = "Attribute;Device", [RW_KIND_PAYMENT] = "Attribute;Payment",
    [RW_KIND_SUBNET] = "Attribute;Subnet",
};

static rw_status nodes_step(rw_export_stream *s, rw_err *err) {
    const rw_cluster_graph *g = s->g;
    int64_t r = rw_xrow(s, g->nnodes);
    if (r == RW_XROW_HEADER) {
        rw_xputs(s, "id:ID,:LABEL,label,kind,cluster:long,first_seen:datetime,last_seen:datetime,"
                    "first_seen_unix:long,last_seen_unix:long,degree:long,sub_degree:long,score:double,"
                    "flagged:boolean,hub:boolean,x:double,y:double\n");
    }
    if (r < 0) return RW_OK;
    const rw_cg_node *n = &g->nodes[r];
    char id[16], first[32], last[32];
    rw_xnode_id(id, n);
    rw_xiso(first, n->first_seen);
    rw_xiso(last, n->last_seen);
    const char *label = (unsigned)n->kind < RW_KIND_COUNT ? labels[n->kind] : "Attribute";
    rw_xprintf(s, "%s,%s%s,", id, label, n->kind == RW_KIND_ACCOUNT && n->flagged ? ";Flagged" : "");
    rw_xcsv_text(s, n->label);
    rw_xprintf(s, ",%s,%u,%s,%s,%lld,%lld,%u,%u,", rw_xkind_name(n->kind), n->cluster, first, last,
               (long long)n->first_seen, (long long)n->last_seen, n->degree, n->sub_degree);
    if (!isnan(n->score)) rw_xprintf(s, "%.6g", n->score);
    rw_xprintf(s, ",%s,%s,", n->flagged ? "true" : "false", n->hub ? "true" : "false");
    if (!isnan(n->x))
        rw_xprintf(s, "%.5f,%.5f", n->x, n->y);
    else
        rw_xputs(s, ",");
    rw_xputs(s, "\n");
    return RW_OK;
}

static rw_status rels_step(rw_export_stream *s, rw_err *err) {
    const rw_cluster_graph *g = s->g;
    int64_t r = rw_xrow(s, g->nedges);
    if (r == RW_XROW_HEADER) {
        rw_xputs(s, ":START_ID,:END_ID,:TYPE,first_seen:datetime,last_seen:datetime,first_seen_unix:long,"
                    "last_seen_unix:long,count:long\n");
    }
    if (r < 0) return RW_OK;
    const rw_cg_edge *e = &g->edges[r];
    char a[16], b[16], first[32], last[32];
    rw_xnode_id(a, &g->nodes[e->account]);
    rw_xnode_id(b, &g->nodes[e->attr]);
    rw_xiso(first, e->first_seen);
    rw_xiso(last, e->last_seen);
    rw_xprintf(s, "%s,%s,SEEN_WITH,%s,%s,%lld,%lld,%u\n", a, b, first, last, (long long)e->first_seen,
               (long long)e->last_seen, e->count);
    return RW_OK;
}

rw_status rw_xneo4j_nodes_open(rw_export_stream *s, rw_err *err) {
    s->step = nodes_step;
    return RW_OK;
}

rw_status rw_xneo4j_rels_open(rw_export_stream *s, rw_err *err) {
    s->step = rels_step;
    return RW_OK;
}
