/* export: signups over time as SVG: the accounts' first-seen times in at
 * most 60 bins of a round width (a minute to a month), flagged accounts
 * stacked on top in red, a tooltip per bin. */
#include <stdlib.h>
#include <string.h>

#include "export_int.h"

#define WIDTH  900
#define HEIGHT 300
#define LEFT   60
#define RIGHT  20
#define TOP    40
#define PLOT_H 210
#define MAXBIN 60

/* Round bin widths, smallest first: the first that fits the span in
 * MAXBIN bins is used. */
static const struct {
    int64_t seconds;
    const char *name;
} widths[] = {
    {60, "1 minute"},      {300, "5 minutes"}, {900, "15 minutes"},   {3600, "1 hour"},        {3 * 3600, "3 hours"},
    {6 * 3600, "6 hours"}, {86400, "1 day"},   {7 * 86400, "1 week"}, {30 * 86400, "30 days"}, {365 * 86400, "1 year"},
};
#define NWIDTHS (sizeof widths / sizeof widths[0])

typedef struct {
    int64_t start, width;
    const char *width_name;
    int nbins;
    uint32_t every[MAXBIN + 1], flagged[MAXBIN + 1];
    size_t accounts, nflagged;
} bins;

/* Whole bins from a multiple of the width (UTC), so edges fall on round times. */
static void count(bins *b, const rw_cluster_graph *g) {
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < g->nnodes; i++) {
        const rw_cg_node *n = &g->nodes[i];
        if (n->kind != RW_KIND_ACCOUNT) continue;
        lo = n->first_seen < lo ? n->first_seen : lo;
        hi = n->first_seen > hi ? n->first_seen : hi;
        b->accounts++;
    }
    if (!b->accounts) return;
    size_t w = 0;
    while (w + 1 < NWIDTHS && (hi / widths[w].seconds - lo / widths[w].seconds) >= MAXBIN) w++;
    b->width = widths[w].seconds;
    b->width_name = widths[w].name;
    b->start = lo - lo % b->width;
    int64_t nb = (hi - b->start) / b->width + 1;
    b->nbins = nb > MAXBIN + 1 ? MAXBIN + 1 : (int)nb;
    for (size_t i = 0; i < g->nnodes; i++) {
        const rw_cg_node *n = &g->nodes[i];
        if (n->kind != RW_KIND_ACCOUNT) continue;
        int64_t k = (n->first_seen - b->start) / b->width;
        if (k >= b->nbins) k = b->nbins - 1;
        b->every[k]++;
        if (n->flagged) b->flagged[k]++, b->nflagged++;
    }
}

static void when(char *out, size_t size, int64_t ts) {
    rw_time_format(out, size, ts);
    char *t = strchr(out, 'T');
    if (t) *t = ' ';
}

static rw_status step(rw_export_stream *s, rw_err *err) {
    const bins *b = s->priv;
    double plot_w = WIDTH - LEFT - RIGHT;
    rw_xprintf(
        s,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
        " font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
        WIDTH, HEIGHT, WIDTH, HEIGHT);
    if (!b->accounts) {
        rw_xprintf(s, "<text x=\"%d\" y=\"%d\">No signups.</text>\n</svg>\n", LEFT, TOP + PLOT_H / 2);
        s->done = 1;
        return RW_OK;
    }
    rw_xprintf(s,
               "<text x=\"%d\" y=\"24\" font-size=\"15\">Signups over time: %zu accounts (%zu flagged), bins of %s, "
               "UTC</text>\n",
               LEFT, b->accounts, b->nflagged, b->width_name);
    uint32_t max = 1;
    for (int k = 0; k < b->nbins; k++) max = b->every[k] > max ? b->every[k] : max;
    double bw = plot_w / b->nbins;
    rw_xprintf(s, "<g class=\"bars\" transform=\"translate(%d,%d)\">\n", LEFT, TOP);
    for (int k = 0; k < b->nbins; k++) {
        if (!b->every[k]) continue;
        double h = (double)b->every[k] / max * PLOT_H, hf = (double)b->flagged[k] / max * PLOT_H;
        char from[32];
        when(from, sizeof from, b->start + (int64_t)k * b->width);
        rw_xprintf(s,
                   "<g><title>%s: %u signups, %u flagged</title>"
                   "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#4c72b0\"/>",
                   from, b->every[k], b->flagged[k], k * bw + 0.5, PLOT_H - h, bw - 1 > 0.5 ? bw - 1 : 0.5, h - hf);
        if (b->flagged[k])
            rw_xprintf(
                s, "<rect class=\"flagged\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#c44e52\"/>",
                k * bw + 0.5, PLOT_H - h, bw - 1 > 0.5 ? bw - 1 : 0.5, hf);
        rw_xputs(s, "</g>\n");
    }
    /* Axes: the count at the top, and times at both ends and the middle. */
    rw_xprintf(
        s,
        "<line x1=\"0\" y1=\"%d\" x2=\"%.0f\" y2=\"%d\" stroke=\"#333333\"/>"
        "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"%d\" stroke=\"#333333\"/>\n"
        "<text x=\"-6\" y=\"4\" text-anchor=\"end\">%u</text><text x=\"-6\" y=\"%d\" text-anchor=\"end\">0</text>\n",
        PLOT_H, plot_w, PLOT_H, PLOT_H, max, PLOT_H + 4);
    for (int t = 0; t < 3; t++) {
        int k = t * b->nbins / 2;
        char at[32];
        when(at, sizeof at, b->start + (int64_t)k * b->width);
        rw_xprintf(s, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">%s</text>\n", k * bw, PLOT_H + 18,
                   t == 0   ? "start"
                   : t == 1 ? "middle"
                            : "end",
                   at);
    }
    rw_xprintf(s,
               "</g>\n<g class=\"legend\" transform=\"translate(%d,%d)\">"
               "<rect width=\"12\" height=\"12\" fill=\"#4c72b0\"/><text x=\"16\" y=\"10\">not flagged</text>"
               "<rect x=\"110\" width=\"12\" height=\"12\" fill=\"#c44e52\"/><text x=\"126\" y=\"10\">flagged</text>"
               "</g>\n</svg>\n",
               WIDTH - RIGHT - 190, 12);
    s->done = 1;
    return RW_OK;
}

rw_status rw_xtimeline_svg_open(rw_export_stream *s, rw_err *err) {
    bins *b = calloc(1, sizeof *b);
    if (!b) return rw_fail(err, RW_ERR_NOMEM, "timeline: out of memory");
    count(b, s->g);
    s->priv = b;
    s->free_priv = free;
    s->step = step;
    return RW_OK;
}
