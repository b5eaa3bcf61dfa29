/* engine: wires the store, the in-memory graph and the detectors into the
 * operations the CLI and the HTTP server offer: ingest, lookups, statistics.
 * Owns the single-writer discipline: one write lock, readers share. */
#ifndef RW_ENGINE_H
#define RW_ENGINE_H

#include "common.h"

typedef struct rw_engine rw_engine;

typedef struct {
    const char *db_path;  /* SQLite file (default ./ringwatch.db) */
    const char *key_path; /* key file; NULL: "<db_path>.key" */
    int readonly;         /* open the database read-only; no key is created */
    int store_only;       /* do not load the graph: for queries of stored runs and models */
} rw_engine_config;

/* Opens the database (creating and migrating it unless read-only), opens or
 * creates the key file and loads the graph. Caller owns *out. */
rw_status rw_engine_open(rw_engine **out, const rw_engine_config *cfg, rw_err *err);
void rw_engine_close(rw_engine *e);

/* ---- ingest ------------------------------------------------------------- */

typedef struct {
    uint64_t lines;          /* lines read, blank lines included */
    uint64_t events;         /* events stored */
    uint64_t bad_lines;      /* lines skipped with an error */
    uint64_t unknown_keys;   /* keys ignored */
    uint64_t new_accounts;   /* accounts first seen in this input */
    uint64_t new_attributes; /* attribute nodes (ip, device, payment, subnet) first seen */
    uint64_t new_edges;      /* account-attribute pairs first seen */
    uint64_t bytes;          /* bytes read */
    double seconds;          /* wall time */
} rw_ingest_stats;

typedef struct {
    int strict; /* stop at the first bad line and keep nothing of the input */
    /* Called for each bad line with "NAME:LINE: field: what is wrong"
     * (borrowed, valid during the call); NULL: ignored. */
    void (*on_bad_line)(void *ctx, const char *msg);
    /* Called about ten times a second from the calling thread; NULL: none. */
    void (*on_progress)(void *ctx, const rw_ingest_stats *so_far, uint64_t bytes_total);
    void *ctx;
    uint64_t bytes_total;   /* input size for progress, 0 when unknown */
    uint64_t max_bad_lines; /* give up after this many bad lines (0: no limit) */
} rw_ingest_opts;

/* Reads JSON-lines events from fd (named name in messages) to its end and
 * stores them. Every committed batch is durable once this returns RW_OK; a
 * bad line is reported and skipped (or, when strict, ends the ingest with
 * RW_ERR_INVALID and nothing stored). *out is filled even on failure. */
rw_status rw_engine_ingest_fd(rw_engine *e, rw_ingest_stats *out, int fd, const char *name, const rw_ingest_opts *opts,
                              rw_err *err);

/* ---- statistics --------------------------------------------------------- */

#define RW_DEGREE_BUCKETS 24 /* bucket b holds degrees in [2^b, 2^(b+1)) ; bucket 0 also degree 0 */

typedef struct {
    uint64_t nodes[RW_KIND_COUNT];
    uint64_t edges;
    uint64_t events;
    uint64_t degree_hist[RW_KIND_COUNT][RW_DEGREE_BUCKETS];
    uint32_t max_degree[RW_KIND_COUNT];
    size_t graph_bytes;
} rw_engine_stats;

rw_status rw_engine_get_stats(rw_engine *e, rw_engine_stats *out, rw_err *err);

typedef struct {
    char pseudonym[40]; /* "ip:3f9a1c0d2b": never the raw value */
    rw_kind kind;
    uint32_t degree;
    int64_t first_seen, last_seen;
} rw_hub;

/* The n attributes of highest degree (any kind but subnet), most first;
 * returns how many were written to out. */
size_t rw_engine_top_hubs(rw_engine *e, rw_hub *out, size_t n);

/* ---- batch rescoring ---------------------------------------------------- */

typedef struct {
    int64_t run;
    uint64_t accounts, clusters; /* clusters: communities of two or more accounts */
    uint64_t flagged_clusters, flagged_accounts;
    uint64_t new_flagged, grown, dissolved; /* against the previous run */
    uint64_t kept_ids, prev_clusters;       /* clusters whose id carried over */
    double seconds;
} rw_rescore_summary;

/* Called after each stage ("snapshot", "communities", ...) with its time. */
typedef void (*rw_stage_fn)(void *ctx, const char *stage, double seconds);

/* Takes a snapshot of the graph, runs the detectors and the model and writes
 * a new run in one transaction (a reader sees all of it or none). Signups
 * may continue meanwhile; the run covers the events in the snapshot. */
/* Community density: the modularity resolution is density * 2W (W the
 * total edge weight), so community sizes do not grow with the graph. */
#define RW_DEFAULT_DENSITY 4e-5

typedef struct {
    double density;      /* 0: RW_DEFAULT_DENSITY */
    uint32_t hub_degree; /* 0: the default */
} rw_rescore_params;
rw_status rw_engine_rescore(rw_engine *e, const rw_rescore_params *rp, rw_rescore_summary *out, rw_stage_fn on_stage,
                            void *ctx, rw_err *err);

/* The newest run (0 if none). */
rw_status rw_engine_latest_run(rw_engine *e, int64_t *run, rw_err *err);
/* Clusters of a run (0: the newest), as rw_store_run_clusters. */
rw_status rw_engine_clusters(rw_engine *e, int64_t run, double min_score, uint32_t cluster_id, uint64_t limit,
                             rw_status (*cb)(void *ctx, const rw_cluster_row *c), void *ctx, rw_err *err);
/* Every account's score in a run (0: the newest), in account order. */
rw_status rw_engine_scores(rw_engine *e, int64_t run, rw_status (*cb)(void *ctx, const rw_score_row *r), void *ctx,
                           rw_err *err);
/* The model in force (the newest stored, else the defaults) as text, and
 * its version (0 for the built-in defaults). */
rw_status rw_engine_model_text(rw_engine *e, int *version, char *text, size_t size, rw_err *err);
/* Stores a model given as text after checking it parses. */
rw_status rw_engine_model_store(rw_engine *e, const char *text, const char *note, int *version, rw_err *err);

/* Fits the model to labelled accounts: runs the detectors on a snapshot,
 * fits the cluster model on communities labelled by their majority, then the
 * account model, and writes the new model's text into text (nothing is
 * stored). label_of returns 1 (fraud), 0 (benign) or -1 (unknown) for an
 * account id; it is called under the engine's read lock. */
rw_status rw_engine_fit_model(rw_engine *e, const rw_rescore_params *rp,
                              int (*label_of)(void *ctx, const char *ext, size_t len), void *ctx, double l2, char *text,
                              size_t size, rw_err *err);

/* An account's node id and the graph facts about it. */
typedef struct {
    uint32_t node;
    int64_t first_seen, last_seen;
    uint32_t attributes;
} rw_account_info;
rw_status rw_engine_account(rw_engine *e, const char *ext, rw_account_info *out, rw_err *err);

#endif
