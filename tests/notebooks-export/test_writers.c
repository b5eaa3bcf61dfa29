/* export: every writer on a small hand-built subgraph: counts, escaping
 * (XML, CSV, JSON), well-formed SVG and GraphML, a notebook nbformat
 * accepts the shape of, streaming in small pieces, and format lists. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

#define WEIRD "we<ird>&\"quote\",comma'\x01"

static rw_cg_node nodes[5];
static rw_cg_edge edges[4] = {{0, 2, 100, 200, 2}, {0, 3, 100, 100, 1}, {1, 3, 4000, 4000, 1}, {1, 4, 4000, 9000, 3}};
static rw_cluster_row clusters[1];
static rw_cluster_graph graph;

static void setup(void) {
    static const struct {
        rw_kind kind;
        const char *label;
    } def[5] = {{RW_KIND_ACCOUNT, "plain-0"},
                {RW_KIND_ACCOUNT, WEIRD},
                {RW_KIND_IP, "ip:0123456789"},
                {RW_KIND_DEVICE, "device:abcdefabcd"},
                {RW_KIND_PAYMENT, "payment:0000011111"}};
    for (int i = 0; i < 5; i++) {
        nodes[i] = (rw_cg_node){.node = 10u + (uint32_t)i,
                                .kind = def[i].kind,
                                .label = def[i].label,
                                .cluster = i < 4 ? 7 : 0,
                                .first_seen = 100 + i * 3600,
                                .last_seen = 9000 + i,
                                .degree = 2,
                                .sub_degree = i == 3 ? 2 : (i < 2 ? 2 : 1),
                                .score = i < 2 ? 0.5 + 0.25 * i : NAN,
                                .flagged = i == 1,
                                .hub = i == 4,
                                .x = 0.2 * i,
                                .y = 1.0 - 0.2 * i};
    }
    clusters[0] = (rw_cluster_row){.id = 7,
                                   .score = 0.93,
                                   .flagged = 1,
                                   .accounts = 2,
                                   .attributes = 2,
                                   .first_seen = 100,
                                   .last_seen = 3700,
                                   .features = "{\"burst\":0.5,\"log_accounts\":0.69}",
                                   .reasons = "[\"2 accounts share 1 device\",\"a \\\"quoted\\\" reason\"]"};
    graph = (rw_cluster_graph){.run = 3,
                               .hub_degree = 200,
                               .nnodes = 5,
                               .nedges = 4,
                               .nclusters = 1,
                               .nodes = nodes,
                               .edges = edges,
                               .clusters = clusters,
                               .laid_out = 1};
}

TestSuite(writers, .init = setup);

/* The whole output of kind k, read through the stream in pieces of size. */
static char *produce(rw_export_kind k, size_t piece, size_t *len) {
    rw_export_stream *s = NULL;
    rw_err err = {{0}};
    cr_assert_eq(rw_export_open(&s, k, &graph, &err), RW_OK, "%s", err.msg);
    size_t cap = 1 << 16, n = 0, got;
    char *out = malloc(cap + 1);
    cr_assert(out);
    char *buf = malloc(piece);
    do {
        cr_assert_eq(rw_export_read(s, buf, piece, &got, &err), RW_OK, "%s", err.msg);
        cr_assert_leq(got, piece);
        if (n + got > cap) out = realloc(out, (cap *= 2) + 1);
        memcpy(out + n, buf, got);
        n += got;
    } while (got);
    out[n] = 0;
    free(buf);
    rw_export_close(s);
    if (len) *len = n;
    return out;
}

static size_t count(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* A small well-formedness check: tags balance, one root, entities known,
 * no raw '<' or '&' in text. */
static int well_formed(const char *x, const char **why) {
    const char *stack[64];
    char names[64][32];
    int depth = 0, roots = 0;
    for (const char *p = x; *p; p++) {
        if (*p == '&') {
            static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
            int ok = 0;
            for (int i = 0; i < 5; i++) ok |= !strncmp(p, ents[i], strlen(ents[i]));
            if (!ok) return *why = p, 0;
            continue;
        }
        if (*p != '<') continue;
        if (p[1] == '?' || p[1] == '!') {
            p = strchr(p, '>');
            if (!p) return *why = "unterminated declaration", 0;
            continue;
        }
        const char *end = strchr(p, '>');
        if (!end) return *why = p, 0;
        if (memchr(p + 1, '<', (size_t)(end - p - 1))) return *why = p, 0;
        int closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t len = strcspn(name, " \t\n/>");
        if (!len || len >= 32) return *why = p, 0;
        if (closing) {
            if (!depth || strlen(names[depth - 1]) != len || strncmp(names[depth - 1], name, len)) return *why = p, 0;
            depth--;
        } else if (end[-1] != '/') {
            if (depth == 0) roots++;
            if (depth == 64) return *why = "too deep", 0;
            memcpy(names[depth], name, len);
            names[depth][len] = 0;
            stack[depth++] = p;
        } else if (depth == 0) {
            roots++;
        }
        p = end;
    }
    (void)stack;
    if (depth) return *why = "unclosed element", 0;
    if (roots != 1) return *why = "not one root element", 0;
    return 1;
}

Test(writers, graphml_counts_escaping_and_types) {
    char *x = produce(RW_EXPORT_GRAPHML, 4096, NULL);
    const char *why = NULL;
    cr_expect(well_formed(x, &why), "not well-formed at: %.60s", why);
    cr_expect_eq(count(x, "<node "), 5);
    cr_expect_eq(count(x, "<edge "), 4);
    cr_expect(strstr(x, "we&lt;ird&gt;&amp;&quot;quote&quot;,comma&apos;\xEF\xBF\xBD"), "escaped label");
    cr_expect(strstr(x, "attr.name=\"flagged\" attr.type=\"boolean\""));
    cr_expect(strstr(x, "<edge source=\"n10\" target=\"n12\">"));
    cr_expect_eq(count(x, "key=\"v_score\""), 2, "scores of accounts only");
    cr_expect(strstr(x, "<data key=\"g_clusters\">7</data>"));
    /* Gephi's names for position, size and colour, and its interval. */
    static const char *const viz[] = {"x", "y", "size", "r", "g", "b", "start", "end"};
    for (size_t i = 0; i < sizeof viz / sizeof viz[0]; i++) {
        char key[64];
        snprintf(key, sizeof key, "for=\"node\" attr.name=\"%s\"", viz[i]);
        cr_expect(strstr(x, key), "no %s key", viz[i]);
    }
    cr_expect_eq(count(x, "key=\"v_r\""), 5, "a colour for every node");
    cr_expect(strstr(x, "<data key=\"v_first_seen\">1970-01-01T"), "ISO times");
    free(x);
}

Test(writers, csv_rows_and_quoting) {
    char *n = produce(RW_EXPORT_NODES_CSV, 4096, NULL);
    cr_expect_eq(count(n, "\n"), 6);
    cr_expect(!strncmp(n, "id,kind,label,cluster,first_seen,", 33), "%s", n);
    cr_expect(strstr(n, "n11,account,\"we<ird>&\"\"quote\"\",comma'\x01\",7,"), "%s", n);
    cr_expect(strstr(n, "n12,ip,\"ip:0123456789\",7,1970-01-01T02:01:40Z,1970-01-01T02:30:02Z,7300,9002,2,1,,0,0,"),
              "attribute without a score: %s", n);
    free(n);
    char *e = produce(RW_EXPORT_EDGES_CSV, 4096, NULL);
    cr_expect_eq(count(e, "\n"), 5);
    cr_expect(strstr(e, "n11,n14,1970-01-01T01:06:40Z,1970-01-01T02:30:00Z,4000,9000,3\n"), "%s", e);
    free(e);
    char *c = produce(RW_EXPORT_CLUSTERS_CSV, 4096, NULL);
    /* One column per feature, reasons as text: no JSON in cells. */
    cr_expect(strstr(c, ",last_signup_unix,reasons,\"feature_burst\",\"feature_log_accounts\"\n"), "%s", c);
    cr_expect(strstr(c, "7,3,0.93,1,2,2,1970-01-01T00:01:40Z,1970-01-01T01:01:40Z,100,3700,"
                        "\"2 accounts share 1 device; a \"\"quoted\"\" reason\",0.5,0.69\n"),
              "%s", c);
    free(c);
}

/* Text cells a spreadsheet would run as a formula start with ' (inside the
 * quotes); numbers, negative ones included, stay bare numbers. */
Test(writers, csv_formula_cells_neutralised) {
    static const struct {
        const char *label, *cell;
    } cases[] = {
        {"=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\""},
        {"+1+2", "\"'+1+2\""},
        {"-2+3", "\"'-2+3\""},
        {"@SUM(A1)", "\"'@SUM(A1)\""},
        {"\tx", "\"'\tx\""},
        {"\rx", "\"'\rx\""},
        {"a=b", "\"a=b\""},
        {"", "\"\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nodes[0].label = cases[i].label;
        nodes[0].x = -0.5; /* a negative number in a numeric column */
        char *n = produce(RW_EXPORT_NODES_CSV, 4096, NULL);
        char want[128];
        snprintf(want, sizeof want, "n10,account,%s,7,", cases[i].cell);
        cr_expect(strstr(n, want), "label '%s': want %s in\n%s", cases[i].label, want, n);
        cr_expect(strstr(n, ",-0.50000,1.00000\n"), "the negative x stays a number:\n%s", n);
        free(n);
    }
    clusters[0].reasons = "-1 reason";
    char *c = produce(RW_EXPORT_CLUSTERS_CSV, 4096, NULL);
    cr_expect(strstr(c, ",\"'-1 reason\","), "%s", c);
    free(c);
}

Test(writers, node_link_json) {
    char *t = produce(RW_EXPORT_JSON, 4096, NULL);
    json_error_t je;
    json_t *j = json_loads(t, 0, &je);
    cr_assert(j, "%s: %s", je.text, t);
    cr_expect(json_is_false(json_object_get(j, "directed")));
    cr_expect(json_is_false(json_object_get(j, "multigraph")));
    json_t *ns = json_object_get(j, "nodes"), *ls = json_object_get(j, "links");
    cr_assert_eq(json_array_size(ns), 5);
    cr_assert_eq(json_array_size(ls), 4);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(ns, 1), "label")), WEIRD);
    cr_expect_null(json_object_get(json_array_get(ns, 2), "score"));
    cr_expect(json_is_true(json_object_get(json_array_get(ns, 4), "hub")));
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(ls, 3), "target")), "n14");
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "graph"), "run")), 3);
    json_decref(j);
    free(t);
}

Test(writers, notebook_shape) {
    char *t = produce(RW_EXPORT_IPYNB, 4096, NULL);
    json_error_t je;
    json_t *j = json_loads(t, 0, &je);
    cr_assert(j, "%s", je.text);
    cr_expect_eq(json_integer_value(json_object_get(j, "nbformat")), 4);
    json_t *ks = json_object_get(json_object_get(j, "metadata"), "kernelspec");
    cr_expect_str_eq(json_string_value(json_object_get(ks, "name")), "python3");
    json_t *cells = json_object_get(j, "cells");
    cr_assert_geq(json_array_size(cells), 8);
    size_t code = 0;
    for (size_t i = 0; i < json_array_size(cells); i++) {
        json_t *c = json_array_get(cells, i);
        const char *type = json_string_value(json_object_get(c, "cell_type"));
        cr_assert(type);
        cr_expect(json_is_array(json_object_get(c, "source")));
        cr_expect(json_is_string(json_object_get(c, "id")));
        if (!strcmp(type, "code")) {
            code++;
            cr_expect(json_is_array(json_object_get(c, "outputs")));
            cr_expect(json_is_null(json_object_get(c, "execution_count")));
        }
    }
    cr_expect_geq(code, 5);
    cr_expect(strstr(t, "cluster 7 (run 3)"), "title");
    cr_expect(strstr(t, "edges=\\\"links\\\""), "the networkx 3.4 note");
    json_decref(j);
    free(t);
}

Test(writers, graph_svg) {
    char *x = produce(RW_EXPORT_GRAPH_SVG, 4096, NULL);
    const char *why = NULL;
    cr_expect(well_formed(x, &why), "not well-formed at: %.60s", why);
    cr_expect(strstr(x, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    cr_expect_eq(count(x, "<circle id=\"n"), 5);
    cr_expect_eq(count(x, "class=\"flagged\""), 1);
    cr_expect_eq(count(x, "class=\"hub\""), 1);
    cr_expect_eq(count(x, "M"), 4, "one move per edge in the path");
    cr_expect(strstr(x, "account (2)") && strstr(x, "flagged account"), "legend");
    cr_expect(strstr(x, "we&lt;ird&gt;"), "tooltip escaped");
    free(x);
    graph.laid_out = 0;
    x = produce(RW_EXPORT_GRAPH_SVG, 4096, NULL);
    cr_expect(well_formed(x, &why), "not well-formed at: %.60s", why);
    cr_expect(strstr(x, "Not laid out"));
    cr_expect_eq(count(x, "<circle id="), 0);
    free(x);
}

Test(writers, timeline_svg) {
    char *x = produce(RW_EXPORT_TIMELINE_SVG, 4096, NULL);
    const char *why = NULL;
    cr_expect(well_formed(x, &why), "not well-formed at: %.60s", why);
    cr_expect(strstr(x, "Signups over time: 2 accounts (1 flagged), bins of 5 minutes"), "%s", x);
    cr_expect_eq(count(x, "class=\"flagged\""), 1);
    free(x);
    graph.nnodes = 0, graph.nedges = 0;
    x = produce(RW_EXPORT_TIMELINE_SVG, 4096, NULL);
    cr_expect(well_formed(x, &why), "empty: %.60s", why);
    cr_expect(strstr(x, "No signups"));
    free(x);
}

/* Small pieces and a FILE give the same bytes as one big read. */
Test(writers, streaming_in_small_pieces) {
    for (int k = 0; k < RW_EXPORT_KIND_COUNT; k++) {
        size_t a_len, b_len;
        char *a = produce((rw_export_kind)k, 7, &a_len);
        char *b = produce((rw_export_kind)k, 1 << 20, &b_len);
        cr_expect_eq(a_len, b_len, "%s", rw_export_name((rw_export_kind)k));
        cr_expect(a_len == b_len && !memcmp(a, b, a_len), "%s", rw_export_name((rw_export_kind)k));
        char *m = NULL;
        size_t m_len = 0;
        FILE *f = open_memstream(&m, &m_len);
        rw_err err = {{0}};
        cr_assert_eq(rw_export_write(f, (rw_export_kind)k, &graph, &err), RW_OK, "%s", err.msg);
        fclose(f);
        cr_expect(m_len == a_len && !memcmp(m, a, a_len), "%s via FILE", rw_export_name((rw_export_kind)k));
        free(a);
        free(b);
        free(m);
    }
}

Test(writers, names_and_format_lists) {
    unsigned mask = 0;
    rw_err err = {{0}};
    cr_expect_eq(rw_export_formats_parse(&mask, "graphml,csv", &err), RW_OK);
    cr_expect_eq(mask, (1u << RW_EXPORT_GRAPHML) | (1u << RW_EXPORT_NODES_CSV) | (1u << RW_EXPORT_EDGES_CSV) |
                           (1u << RW_EXPORT_CLUSTERS_CSV));
    cr_expect_eq(rw_export_formats_parse(&mask, "ipynb", &err), RW_OK);
    cr_expect(mask & (1u << RW_EXPORT_GRAPHML) && mask & (1u << RW_EXPORT_NODES_CSV), "the notebook brings its data");
    cr_expect_eq(rw_export_formats_parse(&mask, "timeline.svg", &err), RW_OK);
    cr_expect_eq(mask, 1u << RW_EXPORT_TIMELINE_SVG);
    cr_expect_eq(rw_export_formats_parse(&mask, "json,pdf", &err), RW_ERR_INVALID);
    cr_expect(strstr(err.msg, "'pdf'"), "%s", err.msg);
    cr_expect_eq(rw_export_formats_parse(&mask, "", &err), RW_ERR_INVALID);
    rw_export_kind k;
    cr_expect_eq(rw_export_kind_parse(&k, "graph.svg", 9), RW_OK);
    cr_expect_eq(k, RW_EXPORT_GRAPH_SVG);
    cr_expect_str_eq(rw_export_file_name(RW_EXPORT_IPYNB), "notebook.ipynb");
    cr_expect_str_eq(rw_export_media_type(RW_EXPORT_GRAPH_SVG), "image/svg+xml");
    cr_expect_null(rw_export_name(RW_EXPORT_KIND_COUNT));
}

Test(writers, neo4j_import_headers) {
    char *n = produce(RW_EXPORT_NEO4J_NODES, 4096, NULL);
    cr_expect(!strncmp(n, "id:ID,:LABEL,label,kind,cluster:long,first_seen:datetime,", 56), "%s", n);
    cr_expect_eq(count(n, "\n"), 6);
    cr_expect(strstr(n, "\nn12,Attribute;IP,\"ip:0123456789\",ip,"), "%s", n);
    free(n);
    char *r = produce(RW_EXPORT_NEO4J_RELS, 4096, NULL);
    cr_expect(!strncmp(r, ":START_ID,:END_ID,:TYPE,", 24), "%s", r);
    cr_expect(strstr(r, "\nn11,n14,SEEN_WITH,1970-01-01T01:06:40Z,"), "%s", r);
    free(r);
}

static unsigned le16(const unsigned char *p) {
    return p[0] | (unsigned)p[1] << 8;
}

static unsigned long le32(const unsigned char *p) {
    return le16(p) | (unsigned long)le16(p + 2) << 16;
}

/* The bundle: a stored zip whose end record counts its members, each of
 * which is byte for byte the kind written alone, under one folder. */
/* The members' time is the newest event's (2026-09-01 12:00:00 UTC here),
 * not the clock's: the same clusters give the same bytes. */
Test(writers, bundle_time_is_the_newest_event_not_the_clock) {
    int64_t keep = graph.nodes[0].last_seen;
    graph.nodes[0].last_seen = 1788264000;
    size_t len = 0;
    unsigned char *z = (unsigned char *)produce(RW_EXPORT_BUNDLE, 4096, &len);
    graph.nodes[0].last_seen = keep;
    cr_assert_gt(len, 14u);
    cr_expect_eq(le16(z + 10), 12u << 11, "DOS time");
    cr_expect_eq(le16(z + 12), (2026u - 1980u) << 9 | 9u << 5 | 1u, "DOS date");
    free(z);
}

Test(writers, bundle_is_a_zip_of_the_files) {
    size_t len = 0;
    unsigned char *z = (unsigned char *)produce(RW_EXPORT_BUNDLE, 1000, &len);
    cr_assert_gt(len, 22u);
    cr_expect_eq(le32(z), 0x04034b50ul, "local header first");
    const unsigned char *end = z + len - 22;
    cr_assert_eq(le32(end), 0x06054b50ul, "end of central directory last");
    unsigned members = le16(end + 10);
    cr_expect_eq(members, 8u);
    const unsigned char *cd = z + le32(end + 16);
    for (unsigned i = 0; i < members; i++) {
        cr_assert_eq(le32(cd), 0x02014b50ul);
        unsigned long size = le32(cd + 24), off = le32(cd + 42);
        unsigned name_len = le16(cd + 28);
        cr_expect_eq(le16(cd + 10), 0u, "stored");
        const unsigned char *lh = z + off;
        cr_assert_eq(le32(lh), 0x04034b50ul);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)name_len, (const char *)cd + 46);
        cr_expect(!strncmp(name, "cluster-7/", 10), "%s", name);
        int k = 0;
        while (k < RW_EXPORT_KIND_COUNT && strcmp(rw_export_file_name((rw_export_kind)k), name + 10)) k++;
        cr_assert_lt(k, RW_EXPORT_KIND_COUNT, "%s is no kind's file", name);
        size_t alone_len = 0;
        char *alone = produce((rw_export_kind)k, 4096, &alone_len);
        cr_expect_eq(size, alone_len, "%s", name);
        cr_expect(size == alone_len && !memcmp(lh + 30 + le16(lh + 26), alone, alone_len), "%s differs", name);
        free(alone);
        cd += 46 + name_len;
    }
    free(z);
}
