/* export: the table of file kinds, the pull stream every writer fills, its
 * output helpers (XML and CSV escaping) and the format lists of the CLI. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export_int.h"

typedef struct {
    const char *name, *file, *media;
    rw_status (*open)(rw_export_stream *s, rw_err *err);
} kind_info;

static const kind_info kinds[RW_EXPORT_KIND_COUNT] = {
    [RW_EXPORT_GRAPHML] = {"graphml", "graph.graphml", "application/graphml+xml", rw_xgraphml_open},
    [RW_EXPORT_NODES_CSV] = {"nodes.csv", "nodes.csv", "text/csv; charset=utf-8", rw_xnodes_csv_open},
    [RW_EXPORT_EDGES_CSV] = {"edges.csv", "edges.csv", "text/csv; charset=utf-8", rw_xedges_csv_open},
    [RW_EXPORT_CLUSTERS_CSV] = {"clusters.csv", "clusters.csv", "text/csv; charset=utf-8", rw_xclusters_csv_open},
    [RW_EXPORT_JSON] = {"json", "graph.json", "application/json", rw_xjson_open},
    [RW_EXPORT_IPYNB] = {"ipynb", "notebook.ipynb", "application/x-ipynb+json", rw_xipynb_open},
    [RW_EXPORT_GRAPH_SVG] = {"graph.svg", "graph.svg", "image/svg+xml", rw_xgraph_svg_open},
    [RW_EXPORT_TIMELINE_SVG] = {"timeline.svg", "timeline.svg", "image/svg+xml", rw_xtimeline_svg_open},
    [RW_EXPORT_NEO4J_NODES] = {"neo4j-nodes.csv", "neo4j-nodes.csv", "text/csv; charset=utf-8", rw_xneo4j_nodes_open},
    [RW_EXPORT_NEO4J_RELS] = {"neo4j-relationships.csv", "neo4j-relationships.csv", "text/csv; charset=utf-8",
                              rw_xneo4j_rels_open},
    [RW_EXPORT_BUNDLE] = {"bundle", "bundle.zip", "application/zip", rw_xbundle_open},
};

#define BIT(k) (1u << (k))
#define CSV    (BIT(RW_EXPORT_NODES_CSV) | BIT(RW_EXPORT_EDGES_CSV) | BIT(RW_EXPORT_CLUSTERS_CSV))

/* Formats of the command line: a group of files each. The notebook loads
 * the CSV and GraphML files, so it brings them along. */
static const struct {
    const char *name;
    unsigned mask;
} formats[] = {
    {"graphml", BIT(RW_EXPORT_GRAPHML)},
    {"csv", CSV},
    {"json", BIT(RW_EXPORT_JSON)},
    {"ipynb", BIT(RW_EXPORT_IPYNB) | CSV | BIT(RW_EXPORT_GRAPHML)},
    {"svg", BIT(RW_EXPORT_GRAPH_SVG) | BIT(RW_EXPORT_TIMELINE_SVG)},
    {"neo4j", BIT(RW_EXPORT_NEO4J_NODES) | BIT(RW_EXPORT_NEO4J_RELS)},
};

const char *rw_export_name(rw_export_kind k) {
    return (unsigned)k < RW_EXPORT_KIND_COUNT ? kinds[k].name : NULL;
}

const char *rw_export_file_name(rw_export_kind k) {
    return (unsigned)k < RW_EXPORT_KIND_COUNT ? kinds[k].file : NULL;
}

const char *rw_export_media_type(rw_export_kind k) {
    return (unsigned)k < RW_EXPORT_KIND_COUNT ? kinds[k].media : NULL;
}

rw_status rw_export_kind_parse(rw_export_kind *out, const char *name, size_t len) {
    for (int k = 0; k < RW_EXPORT_KIND_COUNT; k++) {
        if (strlen(kinds[k].name) == len && !memcmp(kinds[k].name, name, len)) {
            *out = (rw_export_kind)k;
            return RW_OK;
        }
    }
    return RW_ERR_INVALID;
}

rw_status rw_export_formats_parse(unsigned *mask, const char *list, rw_err *err) {
    *mask = 0;
    const char *p = list;
    while (1) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        unsigned m = 0;
        for (size_t i = 0; i < sizeof formats / sizeof formats[0] && !m; i++)
            if (strlen(formats[i].name) == len && !memcmp(formats[i].name, p, len)) m = formats[i].mask;
        rw_export_kind k;
        if (!m && rw_export_kind_parse(&k, p, len) == RW_OK) m = BIT(k);
        if (!m)
            return rw_fail(err, RW_ERR_INVALID,
                           "unknown format '%.*s' (graphml, csv, json, ipynb, svg, neo4j, bundle, or a file kind "
                           "such as nodes.csv)",
                           (int)len, p);
        *mask |= m;
        if (!end) break;
        p = end + 1;
    }
    return RW_OK;
}

/* ---- output helpers -------------------------------------------------------- */

static int reserve(rw_export_stream *s, size_t more) {
    if (s->nomem) return 0;
    if (s->len + more + 1 <= s->cap) return 1;
    size_t cap = s->cap ? s->cap : 8192;
    while (cap < s->len + more + 1) cap *= 2;
    char *b = realloc(s->buf, cap);
    if (!b) {
        s->nomem = 1;
        return 0;
    }
    s->buf = b;
    s->cap = cap;
    return 1;
}

void rw_xout(rw_export_stream *s, const char *text, size_t len) {
    if (!reserve(s, len)) return;
    memcpy(s->buf + s->len, text, len);
    s->len += len;
}

void rw_xputs(rw_export_stream *s, const char *text) {
    rw_xout(s, text, strlen(text));
}

void rw_xprintf(rw_export_stream *s, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        rw_xout(s, small, (size_t)n);
        return;
    }
    if (!reserve(s, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(s->buf + s->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

void rw_xml_text(rw_export_stream *s, const char *text) {
    for (const char *p = text; *p; p++) {
        unsigned char c = (unsigned char)*p;
        switch (c) {
            case '&':
                rw_xputs(s, "&amp;");
                break;
            case '<':
                rw_xputs(s, "&lt;");
                break;
            case '>':
                rw_xputs(s, "&gt;");
                break;
            case '"':
                rw_xputs(s, "&quot;");
                break;
            case '\'':
                rw_xputs(s, "&apos;");
                break;
            default:
                if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                    rw_xputs(s, "\xEF\xBF\xBD");
                else
                    rw_xout(s, p, 1);
        }
    }
}

void rw_csv_field(rw_export_stream *s, const char *text) {
    rw_xout(s, "\"", 1);
    for (const char *p = text; *p; p++) {
        if (*p == '"') rw_xout(s, "\"", 1);
        rw_xout(s, p, 1);
    }
    rw_xout(s, "\"", 1);
}

const char *rw_xkind_name(rw_kind k) {
    const char *n = rw_kind_name(k);
    return n ? n : "unknown";
}

void rw_xnode_id(char out[16], const rw_cg_node *n) {
    snprintf(out, 16, "n%u", n->node);
}

void rw_xiso(char out[32], int64_t t) {
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(out, 32, "%s", "");
}

const char *rw_xkind_colour(rw_kind k) {
    static const char *const colour[RW_KIND_COUNT] = {
        [RW_KIND_ACCOUNT] = "#4c72b0", [RW_KIND_IP] = "#55a868",     [RW_KIND_DEVICE] = "#dd8452",
        [RW_KIND_PAYMENT] = "#8172b3", [RW_KIND_SUBNET] = "#8c8c8c",
    };
    return (unsigned)k < RW_KIND_COUNT ? colour[k] : "#8c8c8c";
}

/* ---- the stream ------------------------------------------------------------- */

rw_status rw_export_open(rw_export_stream **out, rw_export_kind k, const rw_cluster_graph *g, rw_err *err) {
    *out = NULL;
    if ((unsigned)k >= RW_EXPORT_KIND_COUNT) return rw_fail(err, RW_ERR_INVALID, "export: no such kind %d", (int)k);
    rw_export_stream *s = calloc(1, sizeof *s);
    if (!s) return rw_fail(err, RW_ERR_NOMEM, "export: out of memory");
    s->g = g;
    rw_status st = kinds[k].open(s, err);
    if (st != RW_OK) {
        rw_export_close(s);
        return st;
    }
    *out = s;
    return RW_OK;
}

void rw_export_close(rw_export_stream *s) {
    if (!s) return;
    if (s->free_priv) s->free_priv(s->priv);
    free(s->buf);
    free(s);
}

rw_status rw_export_read(rw_export_stream *s, char *buf, size_t size, size_t *n, rw_err *err) {
    *n = 0;
    if (s->pos == s->len) s->pos = s->len = 0; /* drained: reuse the buffer from its start */
    while (s->len - s->pos < size && !s->done && !s->nomem) {
        rw_status st = s->step(s, err);
        if (st != RW_OK) return st;
    }
    if (s->nomem) return rw_fail(err, RW_ERR_NOMEM, "export: out of memory");
    size_t k = s->len - s->pos < size ? s->len - s->pos : size;
    memcpy(buf, s->buf + s->pos, k);
    s->pos += k;
    *n = k;
    return RW_OK;
}

rw_status rw_export_write(FILE *f, rw_export_kind k, const rw_cluster_graph *g, rw_err *err) {
    rw_export_stream *s = NULL;
    char *buf = malloc(65536);
    rw_status st = buf ? rw_export_open(&s, k, g, err) : rw_fail(err, RW_ERR_NOMEM, "export: out of memory");
    size_t n = 0;
    while (st == RW_OK) {
        st = rw_export_read(s, buf, 65536, &n, err);
        if (st != RW_OK || n == 0) break;
        if (fwrite(buf, 1, n, f) != n) st = rw_fail(err, RW_ERR_IO, "export: write failed");
    }
    rw_export_close(s);
    free(buf);
    return st;
}
