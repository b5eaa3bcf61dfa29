/* export internals shared by its .c files: the stream every writer fills,
 * its output helpers (with XML and CSV escaping) and the writers' table. */
#ifndef RW_EXPORT_INT_H
#define RW_EXPORT_INT_H

#include "export.h"

/* A writer appends the next piece of its file (a header, a node, an edge)
 * to the stream's buffer on each step, and sets done after the last. */
typedef rw_status (*rw_xstep_fn)(rw_export_stream *s, rw_err *err);

struct rw_export_stream {
    const rw_cluster_graph *g;
    rw_xstep_fn step;
    char *buf;
    size_t len, pos, cap; /* bytes [pos, len) are waiting to be read */
    int nomem;            /* an append failed: the stream is broken */
    int done;
    int phase;  /* the writer's place: which part ... */
    size_t i;   /* ... and which item of it */
    void *priv; /* the writer's own state, freed by free_priv */
    void (*free_priv)(void *priv);
};

/* Appending never fails on the spot: a failed allocation sets s->nomem,
 * which the next rw_export_read reports. */
void rw_xout(rw_export_stream *s, const char *text, size_t len);
void rw_xputs(rw_export_stream *s, const char *text);
void rw_xprintf(rw_export_stream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text for XML content and attribute values: & < > " ' escaped, and the
 * control characters XML 1.0 forbids replaced by U+FFFD. */
void rw_xml_text(rw_export_stream *s, const char *text);
/* A CSV field (RFC 4180): always quoted, quotes doubled. */
void rw_csv_field(rw_export_stream *s, const char *text);

/* Row writers (CSV) step by rw_xrow: their header on the first step, then
 * one of n rows a step. Returns RW_XROW_HEADER when the caller writes its
 * header, RW_XROW_DONE once the n rows are out (the stream then ends),
 * else the index of the row to write. */
#define RW_XROW_HEADER (-1)
#define RW_XROW_DONE   (-2)
int64_t rw_xrow(rw_export_stream *s, size_t n);

/* Names used across writers. */
const char *rw_xkind_name(rw_kind k); /* "account", "ip", "device", "payment" */
/* "n<node>": a node's id in every format (an account's own id may look
 * like anything, a pseudonym included, so ids are never labels). */
void rw_xnode_id(char out[16], const rw_cg_node *n);
/* Unix seconds as ISO 8601 UTC ("2024-05-01T12:00:00Z"). */
void rw_xiso(char out[32], int64_t t);
/* A kind's display colour ("#4c72b0"); flagged accounts take RW_XFLAG_COLOUR. */
const char *rw_xkind_colour(rw_kind k);
#define RW_XFLAG_COLOUR "#c44e52"
/* A CSV text cell: quoted, and one a spreadsheet would take for a formula
 * gets a ' in front (see csv.c). */
void rw_xcsv_text(rw_export_stream *s, const char *text);

/* Writers' set-up: each sets s->step (and priv) for its kind. */
rw_status rw_xgraphml_open(rw_export_stream *s, rw_err *err);
rw_status rw_xnodes_csv_open(rw_export_stream *s, rw_err *err);
rw_status rw_xedges_csv_open(rw_export_stream *s, rw_err *err);
rw_status rw_xclusters_csv_open(rw_export_stream *s, rw_err *err);
rw_status rw_xjson_open(rw_export_stream *s, rw_err *err);
rw_status rw_xipynb_open(rw_export_stream *s, rw_err *err);
rw_status rw_xgraph_svg_open(rw_export_stream *s, rw_err *err);
rw_status rw_xtimeline_svg_open(rw_export_stream *s, rw_err *err);
rw_status rw_xneo4j_nodes_open(rw_export_stream *s, rw_err *err);
rw_status rw_xneo4j_rels_open(rw_export_stream *s, rw_err *err);
rw_status rw_xbundle_open(rw_export_stream *s, rw_err *err);

#endif
