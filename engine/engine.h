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
    int batch_only;       /* load the graph but build no signup-scoring state: for a batch rescoring (events
                             cannot be recorded) */
    /* Non-NULL: hold the database's writer lock ("<db_path>.lock", an
     * flock) under this name ("serve", "ingest") while open; a second
     * holder is refused with the first one's name and pid. */
    const char *writer;
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
    double online_locked;   /* the longest switching online scoring to the run held the write lock at a time */
    double snapshot_locked; /* copying the graph held the lock (read: signups wait) this long */
    /* The snapshot cut into components (hubs aside, engine/shard.c): */
    uint64_t components;
    uint64_t largest_accounts, largest_edges; /* of the largest component (by edges) */
    uint64_t shard_bytes;                     /* sent to and received from the other shards */
    double copy_seconds;  /* out of process: writing the database's copy (a read transaction; signups go on) */
    double import_locked; /* out of process: the longest transaction bringing the run back held the store */
    char learn[512];      /* what the nightly learning did after the run (one line; "" when off) */
} rw_rescore_summary;

/* Called after each stage ("snapshot", "communities", ...) with its time. */
typedef void (*rw_stage_fn)(void *ctx, const char *stage, double seconds);

/* Takes a snapshot of the graph, runs the detectors and the model and writes
 * a new run in short transactions, between which signups are made durable,
 * then publishes it (a reader sees all of it or none; a crash leaves the
 * previous run the newest). Signups may continue meanwhile; the run covers
 * the events in the snapshot. Once published, online scoring uses the new
 * run. RW_ERR_EXISTS when another rescoring is running. */
/* Community density: the modularity resolution is density * 2W (W the
 * total edge weight), so community sizes do not grow with the graph. */
#define RW_DEFAULT_DENSITY 4e-5

/* Where the shards of a rescoring run. After hubs are cut the graph falls
 * apart into components, each scored on its own: the snapshot's are dealt
 * to `shards` shards (balancing their edges, largest first); shard 0 runs in
 * this process, the others wherever send delivers them (a shard's input
 * as bytes, borrowed) and recv brings back their output (*buf: malloc'd,
 * the engine frees it). A shard's output comes back as a stream of parts,
 * one a recv, each at most a few tens of MB (rw_engine_shard_work emits
 * them), so that this process holds one part at a time: the per-node
 * results, then the communities' features. Every shard's input goes out
 * before shard 0 runs; then every shard's per-node parts are received in
 * shard order, then every shard's per-community parts. The run does not
 * depend on `shards`. A transport's failure fails the rescoring, nothing
 * written. */
typedef struct {
    int shards;
    rw_status (*send)(void *ctx, int shard, const void *buf, size_t len, rw_err *err);
    rw_status (*recv)(void *ctx, int shard, void **buf, size_t *len, rw_err *err);
    void *ctx;
} rw_shard_transport;

typedef struct {
    double density;                   /* 0: RW_DEFAULT_DENSITY */
    uint32_t hub_degree;              /* 0: the default */
    unsigned threads;                 /* workers of the detectors (0: rw_par_cpus; the result is the same) */
    const rw_shard_transport *shards; /* NULL: everything in this process */
    /* Non-NULL: another thread sets *cancel to 1 (atomically) to stop the
     * rescoring before its run is published (RW_ERR_CANCELLED, nothing
     * published). Looked at between stages and between chunks of the
     * write. */
    const int *cancel;
} rw_rescore_params;

/* A shard's work, where a transport delivered it: in (len bytes, from
 * rw_engine_rescore's send; takes ownership) gives its output's parts, in
 * order, to emit (buf borrowed for the call), to return through recv in
 * that order; an emit's failure ends the work with it. RW_ERR_INVALID for
 * bytes that are not a shard of this build. */
typedef rw_status (*rw_shard_emit)(void *ctx, const void *buf, size_t len, rw_err *err);
rw_status rw_engine_shard_work(void *in, size_t len, rw_shard_emit emit, void *ctx, rw_err *err);
rw_status rw_engine_rescore(rw_engine *e, const rw_rescore_params *rp, rw_rescore_summary *out, rw_stage_fn on_stage,
                            void *ctx, rw_err *err);

/* A rescoring made by another process (a command, under mpirun for one):
 * the engine takes the snapshot online scoring will switch with (as
 * rw_engine_rescore: signups wait for that copy alone), writes a
 * consistent copy of the database to copy_path (rw_store_copy_to: signups
 * are not held), calls run, which rescores the copy and publishes a run in
 * it, then brings that run's rows back in short transactions under a run id
 * reserved here, publishes it whole and switches online scoring to it.
 * Events after the copy are not in the run, as with rw_engine_rescore's
 * snapshot. The copy is removed whatever happens; on any failure or
 * cancellation nothing is published and the run in force stays. */
typedef struct {
    const char *copy_path;
    /* Rescores the copy (path borrowed); RW_OK once a run is published in it.
     * Called without the engine's locks; rp->cancel is the caller's to
     * honour (stop the command). */
    rw_status (*run)(void *ctx, const char *copy_path, rw_err *err);
    void *ctx;
} rw_rescore_external;
rw_status rw_engine_rescore_external(rw_engine *e, const rw_rescore_params *rp, const rw_rescore_external *x,
                                     rw_rescore_summary *out, rw_stage_fn on_stage, void *ctx, rw_err *err);

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

/* ---- online: recording events and scoring signups ----------------------- */

typedef enum { RW_ALLOW = 0, RW_REVIEW = 1, RW_BLOCK = 2 } rw_verdict;
/* "allow", "review", "block". */
const char *rw_verdict_name(rw_verdict v);

/* The rule after the model that raised a signup's verdict, if one did
 * (engine/verdict.c, young.c, stops.c); the model's and the labels' own
 * verdicts are RW_RAISED_NONE. */
typedef enum {
    RW_RAISED_NONE = 0,
    RW_RAISED_BATCH_VERDICT = 1,     /* the newest run flagged the account or its attribute's users */
    RW_RAISED_NEW_DEVICE = 2,        /* a device that came with its accounts */
    RW_RAISED_STOPPED_ATTRIBUTE = 3, /* an attribute on which many signups were stopped */
    RW_RAISED_COUNT
} rw_raised;
/* "batch_verdict", "new_device", "stopped_attribute" ("none" otherwise). */
const char *rw_raised_name(rw_raised r);

#define RW_REASONS_MAX  4
#define RW_CLUSTER_TEXT 24 /* "c123", "live-45", "" */

/* The answer to one event: for a signup, the decision the signup flow acts
 * on; for other events the same figures for the account after the event. */
typedef struct {
    rw_verdict verdict;
    double score; /* [0, 1] */
    /* The account's community: "c<ID>" for a cluster of the newest run,
     * "live-<N>" for one formed online since, "" for none. */
    char cluster[RW_CLUSTER_TEXT];
    size_t nreasons;
    char reasons[RW_REASONS_MAX][160];
    int new_account;     /* the event created the account */
    rw_raised raised;    /* the rule after the model that raised the verdict, if any */
    double features[32]; /* the online model's inputs (detectors' RW_O_*), for fitting */
} rw_decision;

/* The shipped decision thresholds: review at the lowest score, in steps of
 * 0.05, at which a replay of a tuning world reviews at most half the goal
 * of 0.2% of benign signups (docs/DETECTION.md). */
#define RW_ONLINE_REVIEW 0.60
#define RW_ONLINE_BLOCK  0.85

/* Online settings; zeros mean the defaults. */
typedef struct {
    double review; /* score at or above which a signup is reviewed (default 0.50) */
    double block;  /* score at or above which it is blocked (default 0.85) */
} rw_online_params;
void rw_engine_set_online(rw_engine *e, const rw_online_params *p);

/* What "durable" means for the group commit. With fsync on (the default)
 * a commit returns after the WAL's fsync: what was acknowledged survives a
 * power loss. Off, after the WAL's write to the operating system: it
 * survives a crash of this process (kill -9) but a power loss or kernel
 * crash may lose the last commits (the database stays consistent). For
 * disks whose fsync is slow. */
rw_status rw_engine_set_fsync(rw_engine *e, int on, rw_err *err);

/* Records n parsed events (in the order given) and, when out is not NULL,
 * scores each into out[i] as it is applied. Returns once every one of them is
 * durable: concurrent callers share one SQLite transaction (group commit).
 * With durable = 0 it returns once they are in memory and queued (replay,
 * tests); rw_engine_flush makes them durable. RW_ERR_FULL / RW_ERR_IO / RW_ERR_DB
 * when the store failed: nothing of this call is kept (the graph is rebuilt).
 * Thread-safe. */
rw_status rw_engine_record(rw_engine *e, const rw_event_raw *ev, size_t n, rw_decision *out, int durable, rw_err *err);
/* Called once the events of an rw_engine_record_async call are settled:
 * st RW_OK when durable, else why they were not kept (err). It runs on the
 * engine's commit thread: do little, and do not call the engine. */
typedef void (*rw_record_cb)(void *ctx, rw_status st, const rw_err *err);
/* As rw_engine_record with durable = 1, but returns at once (out filled)
 * and calls cb(ctx, ...) when they are durable or failed, so a server thread
 * need not block on the fsync. cb is called only when this returns RW_OK. */
rw_status rw_engine_record_async(rw_engine *e, const rw_event_raw *ev, size_t n, rw_decision *out, rw_record_cb cb,
                                 void *ctx, rw_err *err);
/* RW_OK when the store takes writes: after a failed commit, tries a small
 * durable write and, when it succeeds, marks the store healthy again (so
 * readiness recovers when space returns without waiting for a client). */
rw_status rw_engine_probe_store(rw_engine *e, rw_err *err);
/* Waits until every recorded event is durable; the error of the first
 * failed commit since the previous flush (its events are not kept). */
rw_status rw_engine_flush(rw_engine *e, rw_err *err);

/* ---- lookups for the server --------------------------------------------- */

typedef struct {
    char pseudonym[40];
    rw_kind kind;
    uint32_t degree; /* accounts seen with it */
    int64_t first_seen, last_seen;
    uint32_t count; /* events of this account with it */
} rw_attr_brief;

#define RW_VIEW_ATTRS 32
typedef struct {
    int64_t first_seen, last_seen;
    uint32_t attributes; /* all of them; the first RW_VIEW_ATTRS are listed */
    rw_attr_brief attr[RW_VIEW_ATTRS];
    rw_decision now; /* its live score, community and reasons */
    int64_t run;     /* newest run (0: none) and the account in it: */
    double run_score;
    int run_flagged;
    uint32_t run_cluster; /* 0: in no cluster */
    char label[8];        /* "fraud", "benign" or "" (newest label) */
} rw_account_view;
/* RW_ERR_NOTFOUND when the account is unknown. */
rw_status rw_engine_account_view(rw_engine *e, const char *ext, size_t len, rw_account_view *out, rw_err *err);

#define RW_VIEW_ACCOUNTS 50
typedef struct {
    rw_attr_brief a;    /* count unused */
    double velocity[3]; /* new accounts in the last hour, day, week (decayed) */
    int hub;            /* degree above the hub threshold */
    int cleared;        /* a benign label stops it counting */
    char cluster[RW_CLUSTER_TEXT];
    uint32_t naccounts; /* listed (first RW_VIEW_ACCOUNTS) */
    char accounts[RW_VIEW_ACCOUNTS][RW_ACCOUNT_MAX + 1];
} rw_attr_view;
/* Hashes the raw value (an IP is normalised first) and describes the node.
 * RW_ERR_INVALID for a bad kind or value, RW_ERR_NOTFOUND when unseen. */
rw_status rw_engine_attr_view(rw_engine *e, rw_kind kind, const char *value, size_t len, rw_attr_view *out,
                              rw_err *err);

/* Clusters of a run (0: newest) with score >= min_score, highest score first,
 * starting after the cursor (after_score, after_id) (after_id 0: from the
 * top); at most limit rows. */
rw_status rw_engine_clusters_page(rw_engine *e, int64_t run, double min_score, double after_score, uint32_t after_id,
                                  uint64_t limit, rw_status (*cb)(void *ctx, const rw_cluster_row *c), void *ctx,
                                  rw_err *err);
/* Members of cluster id in run (0: newest), highest score first, at most
 * limit (0: all). */
rw_status rw_engine_cluster_members(rw_engine *e, int64_t run, uint32_t id, uint64_t limit,
                                    rw_status (*cb)(void *ctx, const rw_score_row *r), void *ctx, rw_err *err);
/* Attributes of cluster id in run (0: newest), highest degree first. */
/* The labels analysts put on cluster id (any run: cluster ids are stable),
 * newest first, at most limit (0: all). */
rw_status rw_engine_cluster_labels(rw_engine *e, uint32_t id, uint64_t limit,
                                   rw_status (*cb)(void *ctx, const rw_label_row *l), void *ctx, rw_err *err);
rw_status rw_engine_cluster_attrs(rw_engine *e, int64_t run, uint32_t id, uint64_t limit,
                                  rw_status (*cb)(void *ctx, const rw_attr_brief *a), void *ctx, rw_err *err);

/* ---- labels ------------------------------------------------------------- */

typedef enum { RW_LABEL_FRAUD = 0, RW_LABEL_BENIGN = 1 } rw_label;
/* Stores an analyst's label on a cluster of the newest run (target "123")
 * or on an account (target its id) and applies it to online scoring at once:
 * a benign label stops the shared attributes counting against future signups;
 * a fraud label blocks signups joining the cluster. RW_ERR_NOTFOUND for an
 * unknown target. *id receives the label's row id. */
rw_status rw_engine_label(rw_engine *e, int on_cluster, const char *target, size_t len, rw_label label,
                          const char *note, int64_t *id, rw_err *err);

/* rw_engine_label that records its author (NULL: an unnamed token). */
rw_status rw_engine_label_by(rw_engine *e, int on_cluster, const char *target, size_t len, rw_label label,
                             const char *note, const char *author, int64_t *id, rw_err *err);

/* ---- the workbench: pseudonyms, live communities, runs, audit ------------ */

/* Is p a pseudonym ("device:338d57bd76")? */
int rw_engine_is_pseudonym(const char *p, size_t len);
/* rw_engine_attr_view for the attribute a pseudonym names (the first whose
 * hash starts with its digits). RW_ERR_INVALID when p is not one,
 * RW_ERR_NOTFOUND when no attribute has it. */
rw_status rw_engine_attr_view_pseudonym(rw_engine *e, const char *p, size_t len, rw_attr_view *out, rw_err *err);

/* What online scoring knows of a community formed since the newest run. */
typedef struct {
    uint32_t live_no;
    uint32_t size;              /* accounts */
    double signups_day;         /* signups, decayed over a day */
    int label;                  /* 0 none, 1 fraud, 2 benign */
    uint32_t naccounts, nattrs; /* listed: the first RW_VIEW_ACCOUNTS and RW_VIEW_ATTRS */
    char accounts[RW_VIEW_ACCOUNTS][RW_ACCOUNT_MAX + 1];
    char attrs[RW_VIEW_ATTRS][40]; /* pseudonyms */
} rw_live_cluster_view;
/* RW_ERR_NOTFOUND when "live-<live_no>" is unknown (a rescoring folds them
 * into the run's clusters). */
rw_status rw_engine_live_cluster(rw_engine *e, uint32_t live_no, rw_live_cluster_view *out, rw_err *err);

/* The labels on an account, newest first (limit 0: all); RW_ERR_NOTFOUND
 * for an unknown account. */
rw_status rw_engine_account_labels(rw_engine *e, const char *ext, size_t len, uint64_t limit,
                                   rw_status (*cb)(void *ctx, const rw_label_row *l), void *ctx, rw_err *err);
/* One event of an account as analysts see it: its attributes by pseudonym
 * (ip, device, payment; "" when absent), never their raw values. */
typedef struct {
    int64_t ts;
    rw_event_type type;
    char attr[RW_EVENT_ATTRS][40];
    double score; /* the online score answered for it; NaN for bulk ingest */
} rw_account_event;
#define RW_ACCOUNT_EVENTS_MAX 1000
/* The durable events of an account, newest first: at most limit (1 to
 * RW_ACCOUNT_EVENTS_MAX) into out (the caller's array of limit), *n of them,
 * *more set when older ones were left out. RW_ERR_NOTFOUND for an unknown
 * account, RW_ERR_INVALID for a limit out of range. */
rw_status rw_engine_account_events(rw_engine *e, const char *ext, size_t len, rw_account_event *out, size_t limit,
                                   size_t *n, int *more, rw_err *err);
/* Records who asked for action (see rw_store_put_audit). */
rw_status rw_engine_audit_put(rw_engine *e, const char *actor, const char *action, const char *target,
                              const char *detail, rw_err *err);
/* Labels, erasures and rescorings with who asked, newest first. */
rw_status rw_engine_audit(rw_engine *e, uint64_t limit, rw_status (*cb)(void *ctx, const rw_audit_row *r), void *ctx,
                          rw_err *err);
/* Published runs, newest first (limit 0: all). */
rw_status rw_engine_runs(rw_engine *e, uint64_t limit, rw_status (*cb)(void *ctx, const rw_run_row *r), void *ctx,
                         rw_err *err);
/* RW_OK when run was published, RW_ERR_NOTFOUND ("run: no run N") if not. */
rw_status rw_engine_run_exists(rw_engine *e, int64_t run, rw_err *err);
/* rw_engine_clusters_page with a filter (flagged, labelled, time range). */
rw_status rw_engine_clusters_filtered(rw_engine *e, int64_t run, const rw_cluster_filter *f, double after_score,
                                      uint32_t after_id, uint64_t limit,
                                      rw_status (*cb)(void *ctx, const rw_cluster_row *c), void *ctx, rw_err *err);

/* ---- health and counters -------------------------------------------------- */

/* Upper bounds (seconds) of the group commit's latency buckets; the last
 * bucket counts the rest. */
#define RW_COMMIT_BOUNDS                                                                                               \
    { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 }
#define RW_COMMIT_BOUNDS_COUNT 15

typedef struct {
    uint64_t events, accounts, attributes, edges;
    uint64_t signups_recorded, commits, commit_failures;
    uint64_t events_recorded[RW_EV_TYPE_COUNT];       /* signup-path events recorded, by type */
    uint64_t signups_raised[RW_RAISED_COUNT];         /* signups a rule after the model raised, by rule */
    uint64_t checkpoints, checkpoint_failures;        /* background WAL checkpoints */
    uint64_t commit_hist[RW_COMMIT_BOUNDS_COUNT + 1]; /* group commits by latency (RW_COMMIT_BOUNDS) */
    double commit_seconds;                            /* the sum of their latencies */
    uint64_t commit_queue;                            /* events waiting for the next group commit */
    int64_t run;                                      /* newest run in force for online scoring */
    int store_ok;                                     /* the last commit succeeded (readiness) */
} rw_engine_counters;
void rw_engine_get_counters(rw_engine *e, rw_engine_counters *out);

/* The run online scoring uses and the newest published run (they differ
 * while a run is being switched to, or when another process published
 * one): ids, when the newest finished, and the flagged counts of the run
 * in force (from its stored summary). Zeros when there is no run. */
typedef struct {
    int64_t run, newest;
    int64_t newest_finished_at; /* Unix seconds: the last successful rescoring */
    uint64_t flagged_clusters, flagged_accounts;
} rw_run_status;
rw_status rw_engine_run_status(rw_engine *e, rw_run_status *out, rw_err *err);

/* ---- exports ---------------------------------------------------------------- */

/* The subgraph of some clusters of a run, for notebooks and pictures: the
 * run's member accounts, every attribute they use (hubs included, marked),
 * and every edge between them. Membership, scores and clusters are the
 * run's; nodes' and edges' first/last seen, counts and degrees are the
 * graph's at the time of the call, copied under the engine's read lock in
 * one pass (a consistent snapshot of a bounded size, so ingest waits
 * milliseconds at most). */
typedef struct {
    uint32_t node;     /* graph node id: stable within a database */
    rw_kind kind;      /* account, ip, device or payment */
    const char *label; /* an account's own id or an attribute's pseudonym ("ip:3f9a1c0d2b"), never a raw
                        * value; borrowed, valid until rw_engine_cluster_graph_free */
    uint32_t cluster;  /* an account's cluster; for an attribute, the exported cluster the run put it in
                        * (0: none of them: a hub, or an attribute of another cluster) */
    int64_t first_seen, last_seen;
    uint32_t degree;     /* neighbours in the whole graph (an attribute: its accounts) */
    uint32_t sub_degree; /* neighbours in this subgraph */
    double score;        /* an account's score in the run; NAN for an attribute */
    int flagged;         /* an account flagged in the run */
    int hub;             /* an attribute with more accounts than the hub threshold (glues nothing) */
    double x, y;         /* layout in the unit square; NAN when not laid out */
} rw_cg_node;

typedef struct {
    uint32_t account, attr; /* indexes into rw_cluster_graph.nodes */
    int64_t first_seen, last_seen;
    uint32_t count; /* events that carried the pair */
} rw_cg_edge;

typedef struct {
    int64_t run;
    uint32_t hub_degree;
    size_t nnodes, nedges, nclusters;
    rw_cg_node *nodes;        /* accounts first (cluster by cluster, highest score first; for a whole run in
                               * account order), then attributes in order of first use */
    rw_cg_edge *edges;        /* account by account */
    rw_cluster_row *clusters; /* highest score first; strings borrowed from this object */
    int laid_out;             /* x, y are set */
    char *text_;              /* internal: labels, features and reasons */
} rw_cluster_graph;

typedef enum {
    RW_CG_CLUSTER = 0, /* one cluster (id) */
    RW_CG_TOP = 1,     /* the top highest-scoring clusters */
    RW_CG_RUN = 2,     /* every cluster of the run */
} rw_cg_scope;

#define RW_CG_MAX_NODES 20000u  /* default size cap: nodes ... */
#define RW_CG_MAX_EDGES 100000u /* ... and edges */

typedef struct {
    int64_t run; /* 0: the newest */
    rw_cg_scope scope;
    uint32_t id;                   /* RW_CG_CLUSTER */
    uint32_t top;                  /* RW_CG_TOP */
    uint64_t max_nodes, max_edges; /* 0: the defaults above */
    int layout;                    /* lay the nodes out (up to RW_CG_LAYOUT_MAX nodes; more are left unplaced) */
} rw_cg_request;

#define RW_CG_LAYOUT_MAX 20000u

/* Copies the subgraph of the requested clusters into *out (caller owns,
 * rw_engine_cluster_graph_free) and, when asked, lays it out with igraph
 * outside the engine's locks. RW_ERR_NOTFOUND for no run or no such
 * cluster; RW_ERR_LIMIT, with a message saying how large it is and which
 * limit it passed, when the subgraph is larger than the caps (nothing is
 * returned). */
rw_status rw_engine_cluster_graph(rw_engine *e, rw_cluster_graph **out, const rw_cg_request *req, rw_err *err);
void rw_engine_cluster_graph_free(rw_cluster_graph *g);

/* ---- erasure and retention ------------------------------------------------ */

typedef struct {
    uint64_t accounts, attributes, events; /* rows erased */
    uint64_t run_rows;                     /* the erased nodes' rows in runs */
    uint64_t labels;                       /* labels on erased accounts */
    double seconds;
    int wal_pending; /* durable, but the old pages stay in the files until a reader of an older snapshot leaves */
} rw_erase_stats;

/* Erases an account: its events, its row, its rows in every run, its labels,
 * and every attribute no other account uses, in one durable transaction
 * (secure_delete on; no copy of the id is left in the file's free space),
 * then truncates the WAL (or leaves that pending while another connection
 * reads an older snapshot: wal_pending) and rebuilds the graph and online state from the
 * store. Other nodes keep their ids. Waits for signups in flight; refuses
 * with RW_ERR_EXISTS while a rescoring runs. RW_ERR_NOTFOUND for an unknown
 * account. *out is filled even on failure. */
rw_status rw_engine_erase_account(rw_engine *e, const char *ext, size_t len, rw_erase_stats *out, rw_err *err);
/* Retention, with the same guarantees: erases every account not seen since
 * cutoff (Unix seconds of event time), every event older than cutoff, and
 * the attributes left without events. */
rw_status rw_engine_retain(rw_engine *e, int64_t cutoff, rw_erase_stats *out, rw_err *err);
/* Erasures whose old pages are still in the database's files (see
 * wal_pending), 0 once the WAL is truncated: retried after every commit and
 * checkpoint. Safe from any thread. */
int rw_engine_erasures_pending(rw_engine *e);

/* ---- the signup model learns from the deployment (engine/learn.c) ---------- */

/* Every signup's features are logged as scored; after each rescoring the
 * nightly job fits a candidate on the last days' logged rows labelled by the
 * new run (analysts' labels first), scores every signup with it in shadow,
 * and at a later rescoring promotes it only if it caught more of that run's
 * ring accounts at no more benign ones. Zeros mean the defaults. */
typedef struct {
    int distill_off;         /* log features but fit, shadow and promote nothing */
    double feature_log_days; /* days of signups logged and learnt from (default 14) */
    double shadow_hours;     /* a candidate scores in shadow this long before a decision (default 24) */
    uint32_t min_positives;  /* labelled rows a candidate needs (default 200 ring accounts ...) */
    uint32_t min_negatives;  /* (... and 2,000 others); below them the model in force stays */
    double min_history_days; /* ... and this many days since the graph's first account (default 7): a run on a
                                younger graph mistakes crowds for farms and misses farms among the hubs, and a
                                candidate learns its mistakes */
    double review_jump;      /* a candidate reviewing more than this times the share of signups the
                                model in force does is rejected (default 2) */
    double drift_level;      /* population stability index above which a feature has drifted (default 0.25) */
    double benign_budget;    /* share of the run's other (unflagged) signups a learnt model may review
                                (default 0.001): candidates are calibrated to it and judged against it */
} rw_learn_params;
#define RW_LEARN_DAYS          14
#define RW_LEARN_MIN_POS       200
#define RW_LEARN_MIN_NEG       2000
#define RW_LEARN_MIN_HISTORY   7.0
#define RW_LEARN_REVIEW_JUMP   2.0
#define RW_LEARN_DRIFT_LEVEL   0.25
#define RW_LEARN_BENIGN_BUDGET 0.001
void rw_engine_set_learn(rw_engine *e, const rw_learn_params *p);
/* Makes the signup model text (as `ringwatch model fit-online` writes it)
 * version 0 in place of the shipped trees: the cold-start model, the
 * reference of the nightly checks and the model every candidate continues,
 * for a deployment that fitted its own on labelled history. In force at
 * once unless a learnt model is. Not stored: give it at each open. */
rw_status rw_engine_set_base_model(rw_engine *e, const char *text, rw_err *err);

#define RW_LEARN_MAXF 32
typedef struct {
    int in_force;                         /* version of the signup model in force (0: the shipped one) */
    int shadow;                           /* version scoring in shadow (0: none) */
    uint64_t shadow_scored, shadow_agree; /* signups scored in shadow; of them, same verdict as in force */
    uint64_t promotions, rejections;      /* decisions by the nightly job since open */
    int features;                         /* RW_O_COUNT */
    int have_drift;                       /* psi below is computed */
    double psi[RW_LEARN_MAXF];            /* per feature: the last day against the training window */
    double psi_score;                     /* the score's */
    double drift_level;
    int drifted;          /* features (and the score) above drift_level */
    int base_model;       /* version 0 is the operator's base model (rw_engine_set_base_model), not the shipped one */
    double benign_budget; /* rw_learn_params.benign_budget in force */
} rw_learn_status;
void rw_engine_learn_status(rw_engine *e, rw_learn_status *out);
/* The online model's feature names (detectors' RW_O_*); NULL past the end. */
const char *rw_engine_feature_name(int f);

typedef struct {
    int version;
    int64_t created_at, train_from, train_to, shadow_from, decided_at; /* event time */
    uint64_t positives, negatives;
    char state[16];       /* shadow, promoted, rejected, rolled back */
    char validation[512]; /* JSON */
    char decision[512];   /* JSON; "" until decided */
    int replaced;         /* the version it replaced when promoted */
    int in_force;
} rw_model_info;
/* The signup models, newest first (version > 0: that one; RW_ERR_NOTFOUND
 * when it does not exist). */
rw_status rw_engine_models(rw_engine *e, int version, rw_status (*cb)(void *ctx, const rw_model_info *m), void *ctx,
                           rw_err *err);
/* The text of signup model version (0: the shipped one) into text (like
 * snprintf: *len receives the full length). */
rw_status rw_engine_model_online_text(rw_engine *e, int version, char *text, size_t size, size_t *len, rw_err *err);
/* An operator puts version in force (0: the shipped model), recorded with
 * the version it replaced; a candidate in shadow stops. */
rw_status rw_engine_model_promote(rw_engine *e, int version, rw_err *err);
/* Puts back the model the one in force replaced; *version receives it.
 * RW_ERR_NOTFOUND when the shipped model is in force. */
rw_status rw_engine_model_rollback(rw_engine *e, int *version, rw_err *err);

#endif
