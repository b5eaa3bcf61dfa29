/* engine internals: the engine object and the types every stage shares.
 * The bottom of engine/'s headers: it includes no header of engine/ but the
 * public one, and each stage's own header (load.h, apply.h, live.h, score.h,
 * commit.h) includes only this one and the stages below it. */
#ifndef RW_ENGINE_INT_H
#define RW_ENGINE_INT_H

#include <math.h>
#include <pthread.h>

#include "detectors.h"
#include "engine.h"
#include "graph.h"
#include "storage.h"

/* A community as online scoring sees it: a cluster of the newest run, or one
 * formed online since (batch_id 0). */
typedef struct {
    uint32_t batch_id;
    uint32_t live_no; /* "live-N" when batch_id is 0 */
    uint32_t size;    /* accounts */
    uint32_t day_ts;  /* event time of the last signup counted in day */
    float day;        /* signups, decayed with a one-day time constant */
    float run_score;  /* score in the run (0 when formed online) */
    uint8_t run_flagged;
    uint8_t label; /* RW_LIVE_LABEL_* */
} rw_live_comm;

enum { RW_LIVE_LABEL_NONE = 0, RW_LIVE_LABEL_FRAUD = 1, RW_LIVE_LABEL_BENIGN = 2 };
/* Per-node flags of online scoring. */
enum {
    RW_LIVE_CLEARED = 1 << 0,       /* attribute: a benign label stops it counting */
    RW_LIVE_FRAUD_ATTR = 1 << 1,    /* attribute: used by an account labelled fraud */
    RW_LIVE_FRAUD_ACCOUNT = 1 << 3, /* account: labelled fraud (its attributes, new ones too, are tainted) */
    RW_LIVE_STOPPED = 1 << 4,       /* account: its signup was stopped on its own evidence (stops.h) */
};

/* The live state's counters decay with these time constants (seconds). */
#define RW_TAU_HOUR 3600.0
#define RW_TAU_DAY  86400.0

/* value counted at from, decayed to to with time constant tau. */
static inline double rw_live_decay(double value, int64_t from, int64_t to, double tau) {
    if (to <= from) return value;
    return value * exp(-(double)(to - from) / tau);
}

/* Online scoring state, guarded by the engine's lock (written under the
 * write lock, read under the read lock). Arrays are indexed by node id. */
typedef struct {
    uint32_t cap;         /* nodes the per-node arrays hold */
    uint32_t *comm;       /* community index (into c) of an account or attribute; 0: none */
    uint8_t *flags;       /* RW_LIVE_* */
    float *run_score;     /* accounts: score in the newest run */
    uint8_t *run_flagged; /* an account the newest run flagged, or an attribute one of them uses */
    uint32_t run_nodes;   /* nodes the newest run covered */
    float *sub_hour;      /* subnet nodes: signups, decayed over about an hour */
    float *sub_day;       /* ... and a day */
    uint32_t *sub_ts;     /* event time of the last update */
    float *sub_stops;     /* ... signups on them stopped on their own evidence (stops.h), decayed as sub_day */
    rw_live_comm *c;      /* c[0] unused */
    uint32_t nc, ccap;
    uint32_t next_live; /* the next "live-N" */
    uint32_t placed;    /* nodes below it have been placed (bulk ingest adds nodes without) */
    int64_t run;        /* run the batch communities come from (0: none) */
    rw_online_model model;
    double review, block;
    uint32_t hub_degree;
    int64_t epoch;          /* the first account's signup: the graph's history begins (0: none yet) */
    struct rw_vnode *vnode; /* verdict.h: what the newest run said of each node */
    uint16_t *stopped;      /* stops.h: attributes: signups stopped on them (saturates) */
} rw_live;

/* The first hours of a graph's history, when every device is new to it
 * and a popular fingerprint's first user may come hours in: a device first
 * seen within them neither came late for its users (verdict.c) nor came
 * with its accounts (young.c). */
#define RW_HISTORY_SETTLE_HOURS 48

/* Rows for the store, produced by the graph writer and written by whoever
 * owns the transaction (the ingest's store thread, or the signup group
 * commit), so SQLite work overlaps graph work. ext pointers are borrowed
 * from the events' owner and must outlive the write. */
typedef struct {
    uint32_t id;
    uint16_t len;
    const char *ext;
    int64_t ts;
} rw_op_account;

typedef struct {
    uint32_t id, parent;
    uint8_t kind;
    rw_hash hash;
    int64_t ts;
} rw_op_attr;

typedef struct {
    int64_t ts;
    uint32_t account;
    uint32_t attr[RW_EVENT_ATTRS];
    float score; /* the online score answered (NaN: not scored) */
    uint8_t type;
    uint8_t stopped; /* a signup reviewed or blocked on its own evidence (stops.h) */
} rw_op_event;

/* A signup's features as scored (engine/featlog.c encodes them). */
#define RW_FEATLOG_BYTES (4 + 8 * RW_O_COUNT)
typedef struct {
    int64_t ts;
    uint32_t account;
    int32_t model, shadow_model;
    double score, shadow;
    uint16_t len;
    uint8_t blob[RW_FEATLOG_BYTES];
} rw_op_feat;

typedef struct {
    rw_op_account *acc;
    rw_op_attr *attr;
    rw_op_event *ev;
    rw_op_feat *feat;
    size_t nacc, nattr, nev, nfeat;
    size_t cap_acc, cap_attr, cap_ev, cap_feat;
} rw_store_ops;

/* Sequence numbers (lo, hi] of events whose commit failed, and why. */
typedef struct {
    uint64_t lo, hi;
    rw_status st;
    rw_err err;
} rw_fail_range;
#define RW_FAILS_KEPT 16

/* A caller to tell when its events are settled. */
typedef struct {
    uint64_t seq;
    rw_record_cb cb;
    void *ctx;
} rw_waiter;

struct rw_engine {
    rw_store *store;
    rw_graph *graph;
    rw_hasher *hasher; /* NULL when read-only and no key file exists */
    /* Writers (ingest, signups) take it exclusively; lookups share it. */
    pthread_rwlock_t lock;
    /* The store's connection is used by one thread at a time: ingest's
     * store stage, a rescoring's run write, queries. Taken through
     * rw_engine_store_lock, which counts who asked (turn_mu), so that a
     * long writer can hand it over between its transactions. */
    pthread_mutex_t store_mu;
    pthread_mutex_t turn_mu; /* a leaf lock: store_asks, store_gets, turn_cv */
    pthread_cond_t turn_cv;
    uint64_t store_asks, store_gets; /* rw_engine_store_lock calls begun / that got the store */
    /* Tests: rows per transaction of a run's write (0: by time) and a
     * function called at the end of each of them (rw_engine_test_chunks). */
    uint32_t chunk_rows;
    rw_status (*chunk_fn)(void *ctx, int64_t run, uint64_t chunk);
    void *chunk_ctx;
    uint32_t shard_slice; /* tests: rw_engine_test_shard_slices */
    uint64_t events;      /* events in the log */
    char *db_path;
    int lock_fd;    /* the writer lock, or -1 */
    int batch_only; /* no online state (rw_engine_config.batch_only) */
    int readonly;
    int online_ready; /* rw_engine_online_open succeeded: close undoes it */
    rw_live live;
    /* Group commit: record() appends the store rows of its events to pending
     * and waits; the committer thread writes everything pending in one
     * transaction and wakes the waiters. Lock order: lock, then gc_mu. */
    pthread_mutex_t gc_mu;
    pthread_cond_t gc_wake, gc_done;
    pthread_t committer;
    int committer_running, gc_stop;
    rw_store_ops pending;
    uint64_t seq_queued, seq_done;      /* events queued / settled (durable or failed) */
    rw_fail_range fails[RW_FAILS_KEPT]; /* the newest failed commits, by sequence numbers */
    uint64_t nfails;                    /* failed commits ever (fails[n % RW_FAILS_KEPT] is the next) */
    rw_fail_range unflushed;            /* the first failure since the last rw_engine_flush (st RW_OK: none) */
    uint64_t unwatched;                 /* the newest event recorded with durable = 0 (no one told of a failure) */
    int store_ok;
    uint64_t signups_recorded, commits, commit_failures;
    uint64_t events_recorded[RW_EV_TYPE_COUNT];       /* by the event's own type */
    uint64_t signups_raised[RW_RAISED_COUNT];         /* by the rule after the model that raised them */
    uint64_t commit_hist[RW_COMMIT_BOUNDS_COUNT + 1]; /* commit latency, by RW_COMMIT_BOUNDS */
    double commit_seconds;                            /* their sum */
    int rescoring;                                    /* a rescoring is running (guarded by gc_mu) */
    rw_waiter *waiters;                               /* rw_engine_record_async callers, in sequence order (gc_mu) */
    /* Checkpoints off the commit path (ckpt_state, under gc_mu): once the
     * committer's commits have left a WAL's worth of pages it hands the
     * copy to the checkpointer thread (CKPT_RUNNING), which copies them on
     * a connection of its own while commits go on; the committer then
     * copies the few pages committed meanwhile itself (CKPT_TAIL), so the
     * next commit starts the WAL over. */
    pthread_t checkpointer;
    pthread_cond_t ckpt_wake;
    int checkpointer_running;
    enum { CKPT_IDLE, CKPT_RUNNING, CKPT_TAIL } ckpt_state;
    rw_checkpointer *ckpt;
    uint32_t ckpt_pages; /* WAL pages that make a checkpoint due (0: the store's default; tests lower it) */
    uint64_t checkpoints, checkpoint_failures;
    size_t nwaiters, waiters_cap;
    /* Feature-log rows (pending.feat) ride a commit only once a batch is
     * due (commit.h). Under gc_mu. */
    uint64_t feat_queued, feat_done; /* rows ever queued / written or dropped */
    double feat_since;               /* rw_now() when the oldest pending row was queued */
    int feat_syncs;                  /* callers of rw_engine_featlog_sync waiting: rows are due now */
    int feat_inflight;               /* the commit being written carries feature rows */
    struct rw_learn *learn;          /* the signup model's learning (learn.h); NULL without online state */
};

/* store_mu, counted: see rw_engine.store_mu (turn.c). */
void rw_engine_store_lock(rw_engine *e);
void rw_engine_store_unlock(rw_engine *e);
/* Called with the store held by a thread that will keep writing (a run's
 * chunks): releases it, waits until as many threads as had asked for it
 * have had it (pthread mutexes are not fair: relocking at once would starve
 * the group commit), and takes it again. */
void rw_engine_store_hand_over(rw_engine *e);
/* With the store held by a run's writer: copies the WAL its chunks left into
 * the database with the store released (the run lock's holder may), takes
 * the store back and sets *last to the time. */
rw_status rw_engine_run_checkpoint(rw_engine *e, double *last, rw_err *err);
/* Removes the rows of unpublished runs (a crashed write's, or this one's
 * after a failure), a bounded transaction at a time, handing the store over
 * in between. With the store held and the store's run lock. */
rw_status rw_engine_drop_unpublished(rw_engine *e, rw_err *err);
/* The graph copied into *s under the read lock, into room allocated and
 * touched before it, which then covers the copy alone: first touches of
 * fresh pages made most of a second's stall of signups at a million
 * accounts. The slack is for signups meanwhile (the copy grows it if they
 * outran it). *events (unless NULL): the log's events at the copy; *locked:
 * seconds the read lock was held. Indexed after the lock (rescore.c). */
rw_status rw_engine_snapshot(rw_engine *e, rw_graph_snap **s, uint64_t *events, double *locked, rw_err *err);

/* RW_OK when the engine holds a graph, else why not (opened store-only). */
/* Describes attribute node x into out (lookup.c); the caller holds the
 * read lock. */
void rw_engine_describe_attr(rw_engine *e, uint32_t x, rw_attr_view *out);
rw_status rw_engine_need_graph(const rw_engine *e, rw_err *err);

/* For tests: a checkpoint is due once the WAL holds this many pages (0: the
 * store's default), so that a small test runs many beside its commits. Call
 * before recording. */
void rw_engine_test_checkpoint_pages(rw_engine *e, uint32_t pages);
/* Tests: a run's rows go in transactions of rows rows (0: the default, by
 * time), and fn (NULL: none) is called at the end of each, before its
 * commit, with the store held; a status other than RW_OK fails the write
 * there, as a failing disk would. */
void rw_engine_test_chunks(rw_engine *e, uint32_t rows, rw_status (*fn)(void *ctx, int64_t run, uint64_t chunk),
                           void *ctx);
/* Tests: a shard's output in parts of at most slice nodes or communities
 * (0: the default), so that a small world goes in many parts. */
void rw_engine_test_shard_slices(rw_engine *e, uint32_t slice);

#endif
