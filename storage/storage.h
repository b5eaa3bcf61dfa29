/* storage: the durable record in SQLite. Events are an append-only log with
 * integer keys assigned by the in-memory index (no random-key unique index on
 * the hot path); accounts and attributes are appended once, when first seen.
 * Edges are a view derived from the log. Depends on common and SQLite. */
#ifndef RW_STORAGE_H
#define RW_STORAGE_H

#include "common.h"

typedef struct rw_store rw_store;

/* Ids are graph node ids; RW_STORE_NONE marks an absent attribute. */
#define RW_STORE_NONE UINT32_MAX

enum {
    RW_STORE_READONLY = 1 << 0, /* open read-only; never creates or migrates */
};

/* Opens (creating and migrating when writable) the database at path. A file
 * that is not a ringwatch database, or has a newer schema, is refused with
 * RW_ERR_CORRUPT and left untouched. A new database file is created with
 * mode 0600 whatever the umask (its -wal and -shm files take its mode).
 * Caller owns *out. */
rw_status rw_store_open(rw_store **out, const char *path, int flags, rw_err *err);

/* The key a database's attribute hashes are made with: its check value
 * (rw_hasher_key_check) and the key file's path, for messages. */
typedef struct {
    uint8_t check[RW_KEY_CHECK_BYTES];
    const char *path;
} rw_store_key;

/* rw_store_open that also compares key (NULL: none) with the check value
 * the database keeps, before it writes anything (a migration included):
 * another database's key is refused with RW_ERR_PERM, naming both files. A
 * database without one takes key's (rw_store_use_key). */
rw_status rw_store_open_keyed(rw_store **out, const char *path, int flags, const rw_store_key *key, rw_err *err);
/* The same comparison for a store already open (a key created after the
 * open, for an empty database). A database without a check value takes
 * key's: at once when it already holds hashed attributes (written by a build
 * that kept none), else with its first rw_store_put_attribute. */
rw_status rw_store_use_key(rw_store *s, const rw_store_key *key, rw_err *err);
/* Closes; a transaction still open is rolled back. NULL is a no-op. */
void rw_store_close(rw_store *s);

/* The schema version this build writes. */
int rw_store_schema_version(void);

/* ---- write path (one writer thread) ------------------------------------- */

rw_status rw_store_begin(rw_store *s, rw_err *err);
/* Commits. With durable non-zero, or while rw_store_set_sync_full is on, the
 * commit is fsynced before returning; otherwise it survives a process crash
 * but maybe not a power loss. */
rw_status rw_store_commit(rw_store *s, int durable, rw_err *err);
/* Rolls back an open transaction; a no-op without one. */
void rw_store_rollback(rw_store *s);
/* Begins a transaction whose commit is not fsynced even when every commit
 * otherwise is (rw_store_set_sync_full): for rows nothing depends on until a
 * later durable commit, which syncs them too (a run's chunks). */
rw_status rw_store_begin_unsynced(rw_store *s, rw_err *err);

rw_status rw_store_put_account(rw_store *s, uint32_t id, const char *ext, size_t len, int64_t first_seen, rw_err *err);
/* parent: the subnet node of an IP, else RW_STORE_NONE. */
rw_status rw_store_put_attribute(rw_store *s, uint32_t id, rw_kind kind, const rw_hash *h, uint32_t parent,
                                 int64_t first_seen, rw_err *err);
/* attr[i] is the node of attribute kind i + 1, or RW_STORE_NONE. */
rw_status rw_store_put_event(rw_store *s, int64_t ts, rw_event_type type, uint32_t account,
                             const uint32_t attr[RW_EVENT_ATTRS], rw_err *err);

/* ---- read path ---------------------------------------------------------- */

/* Callbacks for rw_store_load: accounts and attributes merged in id order (so
 * a graph rebuilt from them gets the same dense ids), then events
 * in log order. A callback returning non-RW_OK stops the load. The
 * ext string is borrowed, valid during the call. */
typedef struct {
    rw_status (*account)(void *ctx, uint32_t id, const char *ext, size_t len, int64_t first_seen);
    rw_status (*attribute)(void *ctx, uint32_t id, rw_kind kind, const rw_hash *h, uint32_t parent, int64_t first_seen);
    rw_status (*event)(void *ctx, int64_t ts, rw_event_type type, uint32_t account,
                       const uint32_t attr[RW_EVENT_ATTRS]);
} rw_store_loader;

/* Reads everything, in one read transaction (a consistent snapshot). */
rw_status rw_store_load(rw_store *s, const rw_store_loader *cb, void *ctx, rw_err *err);

typedef struct {
    uint64_t accounts, attributes, events;
} rw_store_counts;
rw_status rw_store_count(rw_store *s, rw_store_counts *out, rw_err *err);

/* PRAGMA integrity_check; RW_ERR_CORRUPT with the first problem when not ok. */
rw_status rw_store_integrity_check(rw_store *s, rw_err *err);

/* ---- runs, models, labels ------------------------------------------------ */

/* rw_run_row: common.h. */

/* Inside an open transaction: a run and its rows (a run written in one
 * transaction; see below for one written in chunks). */
rw_status rw_store_put_run(rw_store *s, rw_run_row *run, rw_err *err);
rw_status rw_store_put_cluster(rw_store *s, int64_t run, const rw_cluster_row *c, rw_err *err);
/* cluster 0 means "in no cluster". */
rw_status rw_store_put_run_account(rw_store *s, int64_t run, uint32_t account, uint32_t cluster, double score,
                                   int flagged, const char *reasons, rw_err *err);
rw_status rw_store_put_run_attribute(rw_store *s, int64_t run, uint32_t attribute, uint32_t cluster, rw_err *err);
/* A node's place in its cluster, for the lookups by cluster (members,
 * attributes): put one for every account put with a cluster and every run
 * attribute. A run written in chunks puts them in (cluster, node) order, in
 * a pass of their own, so every b-tree it writes grows at its end. */
rw_status rw_store_put_run_member(rw_store *s, int64_t run, uint32_t cluster, uint32_t node, rw_err *err);

/* The same for n rows at once, in order: each RW_STORE_PUT_MANY of them in
 * one INSERT (about half the cost per row of one statement each), the rest
 * one by one. Strings are borrowed for the call. */
#define RW_STORE_PUT_MANY 64
typedef struct {
    uint32_t account, cluster;
    double score;
    int flagged;
    const char *reasons; /* NULL: none */
} rw_run_account_put;
typedef struct {
    uint32_t node, cluster;
} rw_run_node_put;
rw_status rw_store_put_run_accounts(rw_store *s, int64_t run, const rw_run_account_put *rows, size_t n, rw_err *err);
rw_status rw_store_put_run_attributes(rw_store *s, int64_t run, const rw_run_node_put *rows, size_t n, rw_err *err);
rw_status rw_store_put_run_members(rw_store *s, int64_t run, const rw_run_node_put *rows, size_t n, rw_err *err);
rw_status rw_store_put_clusters(rw_store *s, int64_t run, const rw_cluster_row *rows, size_t n, rw_err *err);

/* A run written in chunks: many short transactions, so that other writers of
 * the connection (the signup group commit) get the store between them.
 *   rw_store_run_lock       one run is written at a time per database, across
 *                           processes (a flock of DB.runlock, dropped by the
 *                           kernel if the process dies);
 *   rw_store_run_drop_unpublished  removes what a write that never published left;
 *   rw_store_run_reserve    the next run id;
 *   rw_store_put_cluster, _put_run_account, _put_run_attribute, _put_run_member
 *                           under it, in transactions the caller begins
 *                           (unsynced) and commits;
 *   rw_store_run_checkpoint between them, without the caller's lock on the
 *                           connection (this connection does not checkpoint
 *                           meanwhile);
 *   rw_store_run_publish    inserts the runs row: the run becomes visible whole.
 * Readers find runs through the runs table (rw_store_latest_run, and every
 * query by run checks it), so rows of an unpublished run are never seen, and
 * a crash leaves the previous run the newest. A writable rw_store_open removes
 * what a crashed write left when no process holds the run lock. */

/* Takes the run lock; waits up to two minutes for another process's write
 * (RW_ERR_EXISTS after that). Held until rw_store_run_publish or
 * rw_store_run_unlock. */
rw_status rw_store_run_lock(rw_store *s, rw_err *err);
/* Releases the run lock (with the connection: it checkpoints again); a
 * no-op without it. */
void rw_store_run_unlock(rw_store *s);
/* With the run lock: copies what it can of the WAL into the database
 * through a connection of its own, so it needs no lock on this one and the
 * group commit goes on meanwhile. Only the run lock's holder may call it. */
rw_status rw_store_run_checkpoint(rw_store *s, rw_err *err);
/* Background checkpoints. By default a commit that leaves the WAL past
 * rw_store_wal_checkpoint_pages() pages copies it into the database file and
 * fsyncs it before returning, and everyone waiting for that commit (the
 * signup group commit) waits for the copy too. After
 * rw_store_background_checkpoints this connection never checkpoints: its
 * owner watches rw_store_wal_pages (safe from any thread) and has another
 * thread run rw_checkpointer_run on a connection of its own, which copies
 * the WAL while commits go on (and truncates it while an erasure's
 * truncation is pending). Without it the WAL grows without bound. */
rw_status rw_store_background_checkpoints(rw_store *s, rw_err *err);
/* Pages in the WAL after this connection's last commit (0 before any). */
uint32_t rw_store_wal_pages(const rw_store *s);
/* The WAL size at which a checkpoint is due (SQLite's default). */
uint32_t rw_store_wal_checkpoint_pages(void);
typedef struct rw_checkpointer rw_checkpointer;
/* A connection of its own to s's database, for one thread at a time; freed
 * by rw_checkpointer_close before s is closed. */
rw_status rw_checkpointer_open(rw_store *s, rw_checkpointer **out, rw_err *err);
/* Copies what it can of the WAL into the database without waiting for
 * readers or writers (a passive checkpoint; busy is not an error). */
rw_status rw_checkpointer_run(rw_checkpointer *c, rw_err *err);
void rw_checkpointer_close(rw_checkpointer *c);
/* A passive checkpoint on s's own connection, by its user. The WAL starts
 * over (its file is overwritten instead of growing, and an fsync of it costs
 * less) only when a transaction begins on a fully copied WAL, which a
 * checkpoint beside a busy writer never sees: once rw_checkpointer_run has
 * copied the bulk, this copies the few pages committed since. */
rw_status rw_store_checkpoint_tail(rw_store *s, rw_err *err);

/* With the run lock: removes up to max_rows rows (0: all) of unpublished runs
 * (a crashed write's, or the caller's own after a failure) in one transaction;
 * *done once none is left, reservations included. */
rw_status rw_store_run_drop_unpublished(rw_store *s, uint64_t max_rows, int *done, rw_err *err);
/* With the run lock: reserves the next run id (after every published and
 * reserved one) in its own transaction. */
rw_status rw_store_run_reserve(rw_store *s, int64_t started_at, int64_t *run, rw_err *err);
/* Inserts the runs row of the reserved run->id and drops the reservation in
 * one durable transaction, then releases the run lock. RW_ERR_NOTFOUND when
 * run->id is not reserved (nothing is published). */
rw_status rw_store_run_publish(rw_store *s, const rw_run_row *run, rw_err *err);

/* ---- a run made by another process on a copy (store_run_import.c) --------- */

/* Writes a consistent copy of database db to dst (mode 0600, replaced if
 * present) with SQLite's backup API on a connection of its own: one read
 * transaction, which in WAL mode holds up no writer. */
rw_status rw_store_copy_to(const char *db, const char *dst, rw_err *err);
/* Removes a copy and the files SQLite and ringwatch keep beside it. */
void rw_store_copy_remove(const char *dst);
/* Attaches the copy to s's connection (no transaction open) for
 * rw_store_run_import_chunk; detach once done. */
rw_status rw_store_import_attach(rw_store *s, const char *copy, rw_err *err);
void rw_store_import_detach(rw_store *s);
/* Where bringing run src_run of the copy into the reserved dst_run stands. */
typedef struct {
    int64_t src_run, dst_run;
    int table;        /* clusters, run_accounts, run_attributes, run_members */
    int64_t after[2]; /* the key copied last in that table */
    uint64_t rows;    /* copied so far */
} rw_run_import;
#define RW_RUN_IMPORT_INIT(src, dst) ((rw_run_import){(src), (dst), 0, {-1, -1}, 0})
/* With the run lock, inside a transaction: copies the next rows (at most
 * max_rows read from the copy) of the run; *done 1 once every table is
 * copied. Rows of nodes no longer in s (erased meanwhile) are left out. */
rw_status rw_store_run_import_chunk(rw_store *s, rw_run_import *im, uint32_t max_rows, int *done, rw_err *err);

/* The newest published run's id (0 when there is none). */
rw_status rw_store_latest_run(rw_store *s, int64_t *run, rw_err *err);
/* *exists: 1 when run was published (whole), else 0. */
rw_status rw_store_run_exists(rw_store *s, int64_t run, int *exists, rw_err *err);
/* The largest cluster id a published run used (0 when none). */
rw_status rw_store_max_cluster_id(rw_store *s, uint32_t *out, rw_err *err);

/* Calls cb for every node (account or attribute) with a cluster in run. */
rw_status rw_store_run_membership(rw_store *s, int64_t run, void (*cb)(void *ctx, uint32_t node, uint32_t cluster),
                                  void *ctx, rw_err *err);

/* Every account's score in run, in account order. */
rw_status rw_store_run_scores(rw_store *s, int64_t run, rw_status (*cb)(void *ctx, const rw_score_row *r), void *ctx,
                              rw_err *err);
/* Clusters of run with score >= min_score, highest score first; limit 0
 * for all; cluster_id 0 for every cluster, else just that one. */
rw_status rw_store_run_clusters(rw_store *s, int64_t run, double min_score, uint32_t cluster_id, uint64_t limit,
                                rw_status (*cb)(void *ctx, const rw_cluster_row *c), void *ctx, rw_err *err);
/* The run's row; params and summary are copied into the caller's buffers
 * (each of text_size bytes) and out points at them. */
rw_status rw_store_get_run(rw_store *s, int64_t run, rw_run_row *out, char *params, char *summary, size_t text_size,
                           rw_err *err);

/* The newest model's text and version (version 0 and "" when none). */
rw_status rw_store_model_latest(rw_store *s, int *version, char *text, size_t size, rw_err *err);
/* Stores a new model version (in its own transaction). */
rw_status rw_store_model_put(rw_store *s, const char *text, const char *note, int *version, rw_err *err);

/* Clusters of run with score >= min_score, highest score first, after the
 * cursor (after_score, after_id); after_id 0 starts at the top. */
rw_status rw_store_run_clusters_page(rw_store *s, int64_t run, double min_score, double after_score, uint32_t after_id,
                                     uint64_t limit, rw_status (*cb)(void *ctx, const rw_cluster_row *c), void *ctx,
                                     rw_err *err);
/* rw_store_run_clusters_page with the filter f (see rw_cluster_filter). */
rw_status rw_store_run_clusters_filtered(rw_store *s, int64_t run, const rw_cluster_filter *f, double after_score,
                                         uint32_t after_id, uint64_t limit,
                                         rw_status (*cb)(void *ctx, const rw_cluster_row *c), void *ctx, rw_err *err);
/* Accounts of one cluster of run, highest score first (limit 0: all). */
rw_status rw_store_cluster_members(rw_store *s, int64_t run, uint32_t cluster, uint64_t limit,
                                   rw_status (*cb)(void *ctx, const rw_score_row *r), void *ctx, rw_err *err);
/* Attribute nodes of one cluster of run. */
rw_status rw_store_cluster_attributes(rw_store *s, int64_t run, uint32_t cluster,
                                      rw_status (*cb)(void *ctx, uint32_t attribute), void *ctx, rw_err *err);
/* One account's row of run (ext not filled); reasons copied into the
 * caller's buffer. RW_ERR_NOTFOUND when the run does not hold it. */
rw_status rw_store_run_account(rw_store *s, int64_t run, uint32_t account, rw_score_row *out, char *reasons,
                               size_t size, rw_err *err);

/* Stores an analyst's label (target_kind "account" or "cluster", label
 * "fraud" or "benign") in its own durable transaction; *id its row id. */
rw_status rw_store_put_label(rw_store *s, const char *target_kind, int64_t target, int64_t run, const char *label,
                             const char *note, int64_t *id, rw_err *err);
/* rw_store_put_label with its author (NULL or "": an unnamed token). */
rw_status rw_store_put_label_by(rw_store *s, const char *target_kind, int64_t target, int64_t run, const char *label,
                                const char *note, const char *author, int64_t *id, rw_err *err);

/* ---- audit trail and the list of runs (store_audit.c) --------------------- */

/* Records who asked for an action ("erase", "rescore") in its own durable
 * transaction; actor NULL or "": unnamed; target and detail may be NULL. */
rw_status rw_store_put_audit(rw_store *s, const char *actor, const char *action, const char *target, const char *detail,
                             rw_err *err);
/* Labels (from their own rows) and audit entries, newest first, at most
 * limit (0: all). */
rw_status rw_store_audit(rw_store *s, uint64_t limit, rw_status (*cb)(void *ctx, const rw_audit_row *r), void *ctx,
                         rw_err *err);
/* Published runs, newest first, at most limit (0: all); strings borrowed
 * for the duration of the callback. */
rw_status rw_store_runs(rw_store *s, uint64_t limit, rw_status (*cb)(void *ctx, const rw_run_row *r), void *ctx,
                        rw_err *err);
/* The labels on one target (target_kind "account" or "cluster"), newest
 * first, at most limit (0: all). */
rw_status rw_store_target_labels(rw_store *s, const char *target_kind, int64_t target, uint64_t limit,
                                 rw_status (*cb)(void *ctx, const rw_label_row *l), void *ctx, rw_err *err);
/* Every label in the order given. */
rw_status rw_store_labels(rw_store *s, rw_status (*cb)(void *ctx, int on_cluster, int64_t target, int fraud), void *ctx,
                          rw_err *err);

/* An event as stored: attr[] are ip, device and payment node ids
 * (RW_STORE_NONE: absent); score NaN when none was answered. */
typedef struct {
    int64_t seq, ts;
    int type; /* rw_event_type */
    uint32_t attr[RW_EVENT_ATTRS];
    double score;
} rw_event_row;

/* Drops (on 0) or builds (on 1, a no-op when it exists) the index
 * events_by_account. A bulk load into an empty log drops it and builds it
 * once at the end: keeping it row by row costs a bulk ingest about a
 * quarter of its speed, building it afterwards a fraction of a second per
 * 200,000 accounts. A load that stops in between leaves it to the next
 * writable open. */
rw_status rw_store_events_index(rw_store *s, int on, rw_err *err);

/* The events of account, newest first (limit 0: all), through the index
 * events_by_account. The row is valid during the callback. */
rw_status rw_store_account_events(rw_store *s, uint32_t account, uint64_t limit,
                                  rw_status (*cb)(void *ctx, const rw_event_row *ev), void *ctx, rw_err *err);

/* An event with the online score answered for it (NaN: none); stopped
 * when it was a signup reviewed or blocked on its own evidence. */
rw_status rw_store_put_event_scored(rw_store *s, int64_t ts, rw_event_type type, uint32_t account,
                                    const uint32_t attr[RW_EVENT_ATTRS], double score, int stopped, rw_err *err);
/* Each account a signup of which was stopped, once, in account order. */
rw_status rw_store_stopped_accounts(rw_store *s, void (*cb)(void *ctx, uint32_t account), void *ctx, rw_err *err);

/* Inside a transaction: a one-row write (readiness probe after a failure). */
rw_status rw_store_probe(rw_store *s, rw_err *err);

/* With on, every commit is fsynced (synchronous=FULL): the server's group
 * commit acknowledges nothing before its fsync. */
rw_status rw_store_set_sync_full(rw_store *s, int on, rw_err *err);

/* ---- erasure and retention ----------------------------------------------- */

typedef struct {
    uint64_t accounts, attributes, events; /* rows deleted */
    uint64_t run_rows;                     /* run_accounts and run_attributes rows deleted */
    uint64_t labels;                       /* labels on the erased accounts */
    uint64_t feature_rows;                 /* logged signup features of the erased accounts, or older than cutoff */
    int committed;                         /* the deletions are durable */
    int wal_pending; /* committed, but the old pages are still in the files until a reader leaves */
} rw_store_erased;

/* Erases, in one durable transaction with secure_delete on: the events of
 * the given accounts and every event older than cutoff (INT64_MIN: none by
 * age), the rows of the given accounts and attributes (node ids), their rows
 * in every run, and the labels on those accounts. When accounts go, the
 * accounts and labels tables are rewritten, so no copy of an erased account
 * id is left in a page's free space. next_node (the graph's node count) is
 * kept, so erased ids are never handed out again. Then copies the WAL into
 * the database file and truncates it, which removes the old pages from both.
 * A connection reading an older snapshot holds that off (its snapshot needs
 * them): then RW_OK with wal_pending set, and the truncation is retried
 * after every later commit and checkpoint of s (and of its checkpointer)
 * until it is done; a process stopping meanwhile leaves a mark in meta, and
 * the next writable rw_store_open truncates then.
 * *out is filled even on failure (zeros when nothing was committed). */
rw_status rw_store_erase(rw_store *s, const uint32_t *accounts, size_t naccounts, const uint32_t *attributes,
                         size_t nattributes, int64_t cutoff, uint32_t next_node, rw_store_erased *out, rw_err *err);
/* Erasures whose truncation is pending, 0 once done (safe from any
 * thread). */
int rw_store_erasure_pending(const rw_store *s);
/* The node count kept by the last erasure (0 when none): the graph is padded
 * to it, so ids erased at its end are not reused. */
rw_status rw_store_next_node(rw_store *s, uint32_t *out, rw_err *err);

/* ---- what the signup model learns from (storage/learn.c) ------------------ */

/* One signup's logged features: the model in force and its score, the
 * candidate in shadow (-1: none) and its score, and the features as a blob
 * (rw_engine's encoding; borrowed during the call). */
typedef struct {
    int64_t ts;
    uint32_t account;
    int32_t model, shadow_model;
    double score, shadow;
    const void *blob;
    size_t len;
} rw_featlog_row;

/* Inside the open transaction (the group commit's): appends n rows. */
rw_status rw_store_featlog_put(rw_store *s, const rw_featlog_row *rows, size_t n, rw_err *err);
/* The rows with from <= ts < to, in time order (ties in insertion order). */
rw_status rw_store_featlog_scan(rw_store *s, int64_t from, int64_t to,
                                rw_status (*cb)(void *ctx, const rw_featlog_row *r), void *ctx, rw_err *err);
/* Deletes the rows older than before; *deleted their number (may be NULL). */
rw_status rw_store_featlog_prune(rw_store *s, int64_t before, uint64_t *deleted, rw_err *err);
/* The newest row's time (0: none). */
rw_status rw_store_featlog_last(rw_store *s, uint64_t *ts, rw_err *err);
/* Rows logged (all of them). */
rw_status rw_store_featlog_count(rw_store *s, uint64_t *n, rw_err *err);

/* A signup model the deployment fitted. Strings borrowed (valid during a
 * callback, or the call that stores them). state: "shadow" (scoring beside
 * the model in force), "promoted", "rejected", "rolled back". */
typedef struct {
    int version;
    int64_t created_at, train_from, train_to; /* event time */
    uint64_t positives, negatives;            /* labelled training rows */
    const char *state;
    const char *validation; /* JSON */
    int64_t shadow_from, decided_at;
    const char *decision; /* JSON, NULL until decided */
    int replaced;         /* the version it replaced when promoted */
    const char *model;    /* text (rw_online_format) */
} rw_online_model_row;

/* Stores a new model (in its own statement); *version its number. */
rw_status rw_store_online_model_add(rw_store *s, const rw_online_model_row *m, int *version, rw_err *err);
/* Records a decision on version: its new state, when, why (JSON), and the
 * version it replaced (promotions; else 0). */
rw_status rw_store_online_model_decide(rw_store *s, int version, const char *state, int64_t at, const char *decision,
                                       int replaced, rw_err *err);
/* The models, newest first; version > 0: only that one (RW_ERR_NOTFOUND
 * when it does not exist). */
rw_status rw_store_online_models(rw_store *s, int version, rw_status (*cb)(void *ctx, const rw_online_model_row *m),
                                 void *ctx, rw_err *err);
/* The version in force (0: the shipped model). */
rw_status rw_store_online_in_force(rw_store *s, int *version, rw_err *err);
rw_status rw_store_online_set_in_force(rw_store *s, int version, rw_err *err);

#endif
