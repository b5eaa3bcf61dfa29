/* engine stage: what the detectors find on a snapshot, or on a shard of
 * one (engine/shard.c): the same functions, given the whole graph's weight
 * totals, give a shard's components what the whole snapshot gives them. */
#ifndef RW_ENGINE_DETECT_H
#define RW_ENGINE_DETECT_H

#include "detectors.h"
#include "engine_int.h"

/* Communities of at least this many accounts that the model does not flag
 * are split along strong ties, in case a ring sits inside. */
#define SPLIT_MIN_ACCOUNTS 6
/* ... along devices and cards most of whose accounts took them up together. */
#define SPLIT_MIN_COHERENCE 0.5

/* rw_detection.abits: what an account shares with its cluster's members. */
enum { RW_ABIT_DEVICE = 1, RW_ABIT_CARD = 2, RW_ABIT_IP = 4, RW_ABIT_BURST = 8 };

/* What the detectors found on one snapshot. */
typedef struct {
    rw_community_params p;
    double *w;            /* [m] edge weights */
    uint32_t *membership; /* [n] */
    uint32_t ncomm;
    rw_cluster_features *feat; /* [ncomm] */
    double *cscore;            /* [ncomm] */
    uint8_t *links;            /* [n] */
    double *af;                /* [n * RW_A_COUNT] */
    double *ascore;            /* [n] account scores (0 outside clusters) */
    double *prop;              /* [n] evidence from flagged neighbours (rw_detect_propagate) */
    uint32_t *via;             /* [n] the device or card that raised the score, else RW_NODE_NONE */
    double *strong;            /* [n] the same evidence through devices and cards only */
    uint32_t *strong_via;      /* [n] the device or card it came through */
    uint8_t *abits;            /* [n] RW_ABIT_* of each account (what its reasons tell) */
    int rescore_rules;         /* apply the rules of rescoring, not of the fitted model: the block-ring
                                signature, strong members of flagged clusters (not while fitting) */
    unsigned workers;          /* threads for per-community work (rw_engine_detect: rw_rescore_params.threads) */
} rw_detection;

/* The whole graph's edge weight sums (rw_detect_weight_totals). */
typedef struct {
    int64_t all, kept;
} rw_weight_totals;

void rw_detection_free(rw_detection *d);

/* The defaults with the caller's overrides (rp may be NULL); returns the
 * community density (the resolution depends on the graph's total weight). */
double rw_engine_configured_params(const rw_rescore_params *rp, rw_community_params *p);

/* The detectors' workers for a thread count of rw_rescore_params (0: one
 * per processor, rw_par_cpus). */
unsigned rw_engine_workers(unsigned threads);

/* Weights, communities (warm-started from init when not NULL; with
 * keep_init, init itself as dense labels) and features: everything that
 * does not depend on the model. d->w, when set on entry, is taken as s's
 * edge weights under rp (rw_detect_edge_weights) and owned by d. totals:
 * the whole graph's when s is a shard of it, NULL for s's own. d's arrays:
 * caller frees with rw_detection_free, also on failure. */
rw_status rw_engine_detect(const rw_graph_snap *s, const rw_rescore_params *rp, const rw_weight_totals *totals,
                           const uint32_t *init, int keep_init, rw_detection *d, rw_err *err);

/* Scores under a model: mixed communities split, cluster and account
 * scores, evidence from flagged neighbours, and d->abits. */
rw_status rw_engine_detect_model(const rw_graph_snap *s, const rw_model *m, rw_detection *d, rw_err *err);

#endif
