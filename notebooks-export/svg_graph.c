/* export: the picture of a cluster as SVG: accounts and attributes at their
 * igraph layout, coloured by kind with a legend, sized by their links in the
 * picture, flagged accounts ringed in red and hubs dashed; a tooltip (title)
 * per node. Edges go into one path, so 2,000 nodes stay a small file. With
 * more than one cluster, each cluster's accounts are outlined by a circle in
 * a colour of its own, labelled with the cluster's id. */
#include <math.h>
#include <stdlib.h>

#include "export_int.h"

#define WIDTH  1000
#define HEIGHT 860
#define PLOT   800 /* the graph's square, below the title */
#define TOP    40
#define MARGIN 20

/* Drawing order: attributes under accounts. */
static const struct {
    rw_kind kind;
    const char *colour, *label;
} kinds[] = {
    {RW_KIND_IP, "#55a868", "IP address"},
    {RW_KIND_DEVICE, "#dd8452", "device"},
    {RW_KIND_PAYMENT, "#8172b3", "payment token"},
    {RW_KIND_ACCOUNT, "#4c72b0", "account"},
};
#define NKINDS      (sizeof kinds / sizeof kinds[0])
#define FLAG_COLOUR "#c44e52"
#define EDGES_STEP  256 /* edges appended per step */

static double px(double v) {
    return MARGIN + v * (PLOT - 2 * MARGIN);
}

/* Circles shrink as the picture fills, so 2,000 nodes do not cover it. */
static double radius(const rw_cluster_graph *g, const rw_cg_node *n) {
    double k = g->nnodes > 300 ? fmax(0.35, sqrt(300.0 / (double)g->nnodes)) : 1.0;
    return fmin(18.0, k * (2.0 + 1.2 * sqrt((double)n->sub_degree)));
}

static void header(rw_export_stream *s) {
    const rw_cluster_graph *g = s->g;
    size_t accounts = 0, flagged = 0;
    for (size_t i = 0; i < g->nnodes; i++) {
        accounts += g->nodes[i].kind == RW_KIND_ACCOUNT;
        flagged += g->nodes[i].kind == RW_KIND_ACCOUNT && g->nodes[i].flagged;
    }
    rw_xprintf(s,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
               " font-family=\"sans-serif\" font-size=\"13\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n<text x=\"%d\" y=\"26\" font-size=\"16\">",
               WIDTH, HEIGHT, WIDTH, HEIGHT, MARGIN);
    if (g->nclusters == 1)
        rw_xprintf(s, "cluster %u, run %lld, score %.3f: ", g->clusters[0].id, (long long)g->run, g->clusters[0].score);
    else
        rw_xprintf(s, "%zu clusters of run %lld: ", g->nclusters, (long long)g->run);
    rw_xprintf(s, "%zu accounts (%zu flagged), %zu attributes</text>\n", accounts, flagged, g->nnodes - accounts);
    rw_xprintf(s, "<g transform=\"translate(0,%d)\">\n", TOP);
    if (!g->laid_out)
        rw_xprintf(s, "<text x=\"%d\" y=\"%d\">Not laid out: %zu nodes is more than a picture shows.</text>\n", MARGIN,
                   PLOT / 2, g->nnodes);
    else if (g->nedges)
        rw_xputs(s, "<path class=\"edges\" fill=\"none\" stroke=\"#8c8c8c\" stroke-opacity=\"0.45\""
                    " stroke-width=\"0.7\" d=\"");
}

static void edges(rw_export_stream *s) {
    const rw_cluster_graph *g = s->g;
    for (size_t k = 0; k < EDGES_STEP && s->i < g->nedges; k++, s->i++) {
        const rw_cg_node *a = &g->nodes[g->edges[s->i].account], *b = &g->nodes[g->edges[s->i].attr];
        rw_xprintf(s, "M%.1f %.1fL%.1f %.1f", px(a->x), px(a->y), px(b->x), px(b->y));
    }
}

/* Outline colours (Tableau 10 without the kinds' own), repeating. */
static const char *const outline_colours[] = {"#e15759", "#76b7b2", "#edc948", "#b07aa1",
                                              "#ff9da7", "#9c755f", "#59a14f", "#f28e2b"};
#define NOUTLINE (sizeof outline_colours / sizeof outline_colours[0])

typedef struct {
    uint32_t id;
    size_t index;
} id_index;

static int by_id(const void *a, const void *b) {
    uint32_t x = ((const id_index *)a)->id, y = ((const id_index *)b)->id;
    return (x > y) - (x < y);
}

/* A circle round each cluster's accounts: centred on their mean, reaching
 * the farthest. Two passes over the nodes; clusters found by binary search. */
static void outlines(rw_export_stream *s) {
    const rw_cluster_graph *g = s->g;
    size_t k = g->nclusters;
    id_index *ids = malloc(k * sizeof *ids);
    double *acc = calloc(k * 4, sizeof *acc); /* sum x, sum y, count, radius */
    if (!ids || !acc) {
        s->nomem = 1;
        goto done;
    }
    for (size_t c = 0; c < k; c++) ids[c] = (id_index){g->clusters[c].id, c};
    qsort(ids, k, sizeof *ids, by_id);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < g->nnodes; i++) {
            const rw_cg_node *n = &g->nodes[i];
            id_index key = {n->cluster, 0}, *hit;
            if (n->kind != RW_KIND_ACCOUNT || !(hit = bsearch(&key, ids, k, sizeof *ids, by_id))) continue;
            double *a = acc + 4 * hit->index;
            if (pass == 0) {
                a[0] += px(n->x), a[1] += px(n->y), a[2] += 1;
            } else {
                double d = hypot(px(n->x) - a[0] / a[2], px(n->y) - a[1] / a[2]) + radius(g, n);
                a[3] = fmax(a[3], d);
            }
        }
    }
    rw_xputs(s, "<g class=\"clusters\" fill=\"none\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\">\n");
    for (size_t c = 0; c < k; c++) {
        const double *a = acc + 4 * c;
        if (!a[2]) continue;
        const char *colour = outline_colours[c % NOUTLINE];
        double cx = a[0] / a[2], cy = a[1] / a[2], r = a[3] + 4;
        rw_xprintf(s,
                   "<circle class=\"cluster\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" stroke=\"%s\"><title>cluster %u: "
                   "%.0f accounts, score %.3f</title></circle>"
                   "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\" stroke=\"none\" font-size=\"12\">c%u</text>\n",
                   cx, cy, r, colour, g->clusters[c].id, a[2], g->clusters[c].score, cx - r * 0.7, cy - r * 0.7, colour,
                   g->clusters[c].id);
    }
    rw_xputs(s, "</g>\n");
done:
    free(ids);
    free(acc);
}

static void node(rw_export_stream *s, const rw_cg_node *n) {
    char id[16];
    rw_xnode_id(id, n);
    rw_xprintf(s, "<circle id=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"", id, px(n->x), px(n->y), radius(s->g, n));
    /* Rings scale with the circle, or they would fill small ones. */
    double ring = fmin(2.0, fmax(0.6, 0.35 * radius(s->g, n)));
    if (n->kind == RW_KIND_ACCOUNT && n->flagged)
        rw_xprintf(s, " class=\"flagged\" stroke=\"" FLAG_COLOUR "\" stroke-width=\"%.1f\"", ring);
    else if (n->hub)
        rw_xprintf(s, " class=\"hub\" stroke=\"#333333\" stroke-width=\"%.1f\" stroke-dasharray=\"2 1.5\"", ring);
    rw_xputs(s, "><title>");
    rw_xml_text(s, n->label);
    rw_xprintf(s, " (%s): %u links here, %u in all", rw_xkind_name(n->kind), n->sub_degree, n->degree);
    if (n->kind == RW_KIND_ACCOUNT && !isnan(n->score))
        rw_xprintf(s, ", score %.3f%s, cluster %u", n->score, n->flagged ? " (flagged)" : "", n->cluster);
    if (n->hub) rw_xputs(s, ", a hub");
    rw_xputs(s, "</title></circle>\n");
}

static void legend(rw_export_stream *s) {
    const rw_cluster_graph *g = s->g;
    int x = PLOT + 10, y = 20;
    rw_xprintf(s, "<g class=\"legend\" transform=\"translate(%d,0)\">\n", x);
    for (size_t k = 0; k < NKINDS; k++, y += 24) {
        size_t count = 0;
        for (size_t i = 0; i < g->nnodes; i++) count += g->nodes[i].kind == kinds[k].kind;
        rw_xprintf(s, "<circle cx=\"8\" cy=\"%d\" r=\"7\" fill=\"%s\"/><text x=\"22\" y=\"%d\">%s (%zu)</text>\n", y,
                   kinds[k].colour, y + 5, kinds[k].label, count);
    }
    rw_xprintf(s,
               "<circle cx=\"8\" cy=\"%d\" r=\"7\" fill=\"#4c72b0\" stroke=\"" FLAG_COLOUR "\" stroke-width=\"2\"/>"
               "<text x=\"22\" y=\"%d\">flagged account</text>\n",
               y, y + 5);
    y += 24;
    rw_xprintf(s,
               "<circle cx=\"8\" cy=\"%d\" r=\"7\" fill=\"#55a868\" stroke=\"#333333\" stroke-width=\"1.2\""
               " stroke-dasharray=\"2 1.5\"/><text x=\"22\" y=\"%d\">hub (over %u accounts)</text>\n",
               y, y + 5, g->hub_degree);
    y += 24;
    rw_xprintf(s, "<text x=\"0\" y=\"%d\" fill=\"#555555\">size: links in this picture</text>\n</g>\n", y + 5);
}

static rw_status step(rw_export_stream *s, rw_err *err) {
    const rw_cluster_graph *g = s->g;
    if (s->phase == 0) {
        header(s);
        s->phase = g->laid_out ? 1 : 2 + (int)NKINDS;
        s->i = 0;
    } else if (s->phase == 1) {
        edges(s);
        if (s->i >= g->nedges) {
            if (g->nedges) rw_xputs(s, "\"/>\n");
            if (g->nclusters > 1) outlines(s);
            s->phase = 2, s->i = 0;
        }
    } else if (s->phase < 2 + (int)NKINDS) {
        size_t k = (size_t)(s->phase - 2);
        if (s->i == 0) rw_xprintf(s, "<g class=\"%s\" fill=\"%s\">\n", rw_xkind_name(kinds[k].kind), kinds[k].colour);
        /* One node per step, skipping those of other kinds. */
        while (s->i < g->nnodes && g->nodes[s->i].kind != kinds[k].kind) s->i++;
        if (s->i < g->nnodes) {
            node(s, &g->nodes[s->i++]);
        } else {
            rw_xputs(s, "</g>\n");
            s->phase++, s->i = 0;
        }
    } else {
        rw_xputs(s, "</g>\n");
        legend(s);
        rw_xputs(s, "</svg>\n");
        s->done = 1;
    }
    return RW_OK;
}

rw_status rw_xgraph_svg_open(rw_export_stream *s, rw_err *err) {
    s->step = step;
    return RW_OK;
}
