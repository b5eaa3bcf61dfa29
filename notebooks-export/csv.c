/* export: nodes.csv, edges.csv and clusters.csv for pandas. Times are ISO
 * 8601 UTC, each with its Unix seconds beside it (first_seen_unix) for tools
 * that want numbers; an empty field is a missing value (an attribute's
 * score, positions not laid out). clusters.csv has one column per feature. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "export_int.h"

/* A text cell, always quoted. One that a spreadsheet would take for a
 * formula (it begins with = + - @, a tab or a carriage return: OWASP's CSV
 * injection guidance) gets a ' in front, inside the quotes, which the
 * spreadsheet shows as text. Only text goes through here: numbers are
 * written unquoted and stay numbers, negative ones included. */
void rw_xcsv_text(rw_export_stream *s, const char *text) {
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

int64_t rw_xrow(rw_export_stream *s, size_t n) {
    if (s->phase == 0) {
        s->phase = 1;
        return RW_XROW_HEADER;
    }
    if (s->i >= n) {
        s->done = 1;
        return RW_XROW_DONE;
    }
    return (int64_t)s->i++;
}

static rw_status nodes_step(rw_export_stream *s, rw_err *err) {
    const rw_cluster_graph *g = s->g;
    int64_t r = rw_xrow(s, g->nnodes);
    if (r == RW_XROW_HEADER) {
        rw_xputs(s, "id,kind,label,cluster,first_seen,last_seen,first_seen_unix,last_seen_unix,degree,sub_degree,score,"
                    "flagged,hub,x,y\n");
    }
    if (r < 0) return RW_OK;
    const rw_cg_node *n = &g->nodes[r];
    char id[16];
    rw_xnode_id(id, n);
    rw_xprintf(s, "%s,%s,", id, rw_xkind_name(n->kind));
    rw_xcsv_text(s, n->label);
    char first[32], last[32];
    rw_xiso(first, n->first_seen);
    rw_xiso(last, n->last_seen);
    rw_xprintf(s, ",%u,%s,%s,%lld,%lld,%u,%u,", n->cluster, first, last, (long long)n->first_seen,
               (long long)n->last_seen, n->degree, n->sub_degree);
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
    int64_t r = rw_xrow(s, g->nedges);
    if (r == RW_XROW_HEADER) {
        rw_xputs(s, "source,target,first_seen,last_seen,first_seen_unix,last_seen_unix,count\n");
    }
    if (r < 0) return RW_OK;
    const rw_cg_edge *e = &g->edges[r];
    char a[16], b[16];
    rw_xnode_id(a, &g->nodes[e->account]);
    rw_xnode_id(b, &g->nodes[e->attr]);
    char first[32], last[32];
    rw_xiso(first, e->first_seen);
    rw_xiso(last, e->last_seen);
    rw_xprintf(s, "%s,%s,%s,%s,%lld,%lld,%u\n", a, b, first, last, (long long)e->first_seen, (long long)e->last_seen,
               e->count);
    return RW_OK;
}

/* clusters.csv: the feature names every cluster's features JSON holds, in
 * order of first appearance, become columns (feature_<name>); reasons are
 * one text cell, joined by "; ". */
typedef struct {
    json_t *names; /* array of feature names */
} clusters_priv;

static void clusters_free(void *p) {
    clusters_priv *c = p;
    if (c) json_decref(c->names);
    free(c);
}

static void clusters_header(rw_export_stream *s, const clusters_priv *cp) {
    rw_xputs(s, "cluster,run,score,flagged,accounts,attributes,first_signup,last_signup,first_signup_unix,"
                "last_signup_unix,reasons");
    for (size_t i = 0; i < json_array_size(cp->names); i++) {
        rw_xputs(s, ",");
        char col[160];
        snprintf(col, sizeof col, "feature_%s", json_string_value(json_array_get(cp->names, i)));
        rw_xcsv_text(s, col);
    }
    rw_xputs(s, "\n");
}

static void reasons_cell(rw_export_stream *s, const char *reasons) {
    json_t *r = reasons ? json_loads(reasons, 0, NULL) : NULL;
    if (!json_is_array(r)) { /* not the JSON list the run stores: kept as it is */
        json_decref(r);
        rw_xcsv_text(s, reasons);
        return;
    }
    size_t len = 0;
    for (size_t i = 0; i < json_array_size(r); i++) {
        const char *t = json_string_value(json_array_get(r, i));
        if (t) len += strlen(t) + 2;
    }
    char *text = malloc(len + 1);
    if (text) {
        text[0] = 0;
        for (size_t i = 0, at = 0; i < json_array_size(r); i++) {
            const char *t = json_string_value(json_array_get(r, i));
            if (t) at += (size_t)sprintf(text + at, "%s%s", at ? "; " : "", t);
        }
        rw_xcsv_text(s, text);
    } else {
        s->nomem = 1;
    }
    free(text);
    json_decref(r);
}

static void feature_cells(rw_export_stream *s, const clusters_priv *cp, const char *features) {
    json_t *f = features ? json_loads(features, 0, NULL) : NULL;
    for (size_t i = 0; i < json_array_size(cp->names); i++) {
        json_t *v = json_object_get(f, json_string_value(json_array_get(cp->names, i)));
        rw_xputs(s, ",");
        if (json_is_number(v) && isfinite(json_number_value(v)))
            rw_xprintf(s, "%.10g", json_number_value(v));
        else if (json_is_boolean(v))
            rw_xputs(s, json_is_true(v) ? "1" : "0");
        else if (json_is_string(v))
            rw_xcsv_text(s, json_string_value(v));
    }
    json_decref(f);
}

static rw_status clusters_step(rw_export_stream *s, rw_err *err) {
    const rw_cluster_graph *g = s->g;
    const clusters_priv *cp = s->priv;
    int64_t r = rw_xrow(s, g->nclusters);
    if (r == RW_XROW_HEADER) {
        clusters_header(s, cp);
    }
    if (r < 0) return RW_OK;
    const rw_cluster_row *c = &g->clusters[r];
    char first[32], last[32];
    rw_xiso(first, c->first_seen);
    rw_xiso(last, c->last_seen);
    rw_xprintf(s, "%u,%lld,%.6g,%d,%u,%u,%s,%s,%lld,%lld,", c->id, (long long)g->run, c->score, c->flagged, c->accounts,
               c->attributes, first, last, (long long)c->first_seen, (long long)c->last_seen);
    reasons_cell(s, c->reasons);
    feature_cells(s, cp, c->features);
    rw_xputs(s, "\n");
    return RW_OK;
}

/* Collects the feature names of every cluster (a missing or malformed
 * features text contributes none: its cells stay empty). */
static rw_status clusters_names(clusters_priv *cp, const rw_cluster_graph *g, rw_err *err) {
    for (size_t i = 0; i < g->nclusters; i++) {
        json_t *f = g->clusters[i].features ? json_loads(g->clusters[i].features, 0, NULL) : NULL;
        const char *key;
        json_t *v;
        json_object_foreach(f, key, v) {
            int seen = 0;
            for (size_t k = 0; k < json_array_size(cp->names) && !seen; k++)
                seen = !strcmp(json_string_value(json_array_get(cp->names, k)), key);
            if (!seen && json_array_append_new(cp->names, json_string(key))) {
                json_decref(f);
                return rw_fail(err, RW_ERR_NOMEM, "clusters.csv: out of memory");
            }
        }
        json_decref(f);
    }
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
    clusters_priv *cp = calloc(1, sizeof *cp);
    if (cp) cp->names = json_array();
    if (!cp || !cp->names) {
        clusters_free(cp);
        return rw_fail(err, RW_ERR_NOMEM, "clusters.csv: out of memory");
    }
    s->priv = cp;
    s->free_priv = clusters_free;
    s->step = clusters_step;
    return clusters_names(cp, s->g, err);
}
