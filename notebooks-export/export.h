/* export: the notebooks-export module (library rw_export). Turns the subgraph of some clusters of a run
 * (rw_engine_cluster_graph) into what analysts open elsewhere: GraphML,
 * nodes/edges/clusters CSV, node-link JSON, a Jupyter notebook, and SVG
 * pictures of the graph and of the signups over time. Uses engine and common
 * only. Every file is produced by a pull stream, so the CLI writes it to a
 * file and the HTTP server streams it with the same code. */
#ifndef RW_EXPORT_H
#define RW_EXPORT_H

#include <stdio.h>

#include "engine.h"

typedef enum {
    RW_EXPORT_GRAPHML = 0,
    RW_EXPORT_NODES_CSV,
    RW_EXPORT_EDGES_CSV,
    RW_EXPORT_CLUSTERS_CSV,
    RW_EXPORT_JSON, /* node-link, as networkx's json_graph reads it */
    RW_EXPORT_IPYNB,
    RW_EXPORT_GRAPH_SVG,
    RW_EXPORT_TIMELINE_SVG,
    RW_EXPORT_NEO4J_NODES, /* neo4j-admin import headers (:ID, :LABEL) */
    RW_EXPORT_NEO4J_RELS,  /* ... and (:START_ID, :END_ID, :TYPE) */
    RW_EXPORT_BUNDLE,      /* a zip of the notebook and every file it opens, under one folder */
    RW_EXPORT_KIND_COUNT
} rw_export_kind;

/* A kind's name as the CLI and HTTP take it ("graphml", "nodes.csv",
 * "graph.svg"), the file it is written to ("graph.graphml") and its media
 * type; NULL out of range. */
const char *rw_export_name(rw_export_kind k);
const char *rw_export_file_name(rw_export_kind k);
const char *rw_export_media_type(rw_export_kind k);
/* Parses a kind's name; RW_ERR_INVALID when unknown. */
rw_status rw_export_kind_parse(rw_export_kind *out, const char *name, size_t len);

/* The kinds a comma-separated list of formats asks for, one bit (1 << kind)
 * each: graphml, csv (nodes, edges and clusters), json, ipynb (the notebook
 * and the CSV and GraphML files it loads), svg (both pictures), neo4j (nodes
 * and relationships for neo4j-admin import), bundle (one zip holding the
 * notebook, the files it loads and the pictures), or a kind's own name. RW_ERR_INVALID names the unknown format. */
rw_status rw_export_formats_parse(unsigned *mask, const char *list, rw_err *err);

typedef struct rw_export_stream rw_export_stream;

/* A stream producing kind k of g. g is borrowed and must outlive the
 * stream. Caller owns *out (rw_export_close). */
rw_status rw_export_open(rw_export_stream **out, rw_export_kind k, const rw_cluster_graph *g, rw_err *err);
/* Copies the next at most size bytes of the file into buf; *n receives how
 * many, 0 at the end. RW_ERR_NOMEM, RW_ERR_INTERNAL. */
rw_status rw_export_read(rw_export_stream *s, char *buf, size_t size, size_t *n, rw_err *err);
void rw_export_close(rw_export_stream *s);

/* Writes the whole of kind k of g to f (which the caller owns and closes).
 * RW_ERR_IO when a write fails. */
rw_status rw_export_write(FILE *f, rw_export_kind k, const rw_cluster_graph *g, rw_err *err);

#endif
