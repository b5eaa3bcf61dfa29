/* engine stage: the snapshot cut into components once hubs are cut, dealt
 * to shards, and the shards' detections merged (engine/shard.c). */
#ifndef RW_ENGINE_SHARD_H
#define RW_ENGINE_SHARD_H

#include "detect.h"

/* What every shard is told besides its graph. */
typedef struct {
    double density;           /* as rw_rescore_params (0: the default) */
    uint32_t hub_degree;      /* as rw_rescore_params (0: the default) */
    unsigned threads;         /* as rw_rescore_params, for shard 0 here (another shard: its machine's) */
    uint32_t hub_degree_used; /* the resolved value: hubs cut before components */
    rw_weight_totals totals;  /* of the whole snapshot */
    double *weights;          /* its edge weights (rw_detect_edge_weights), or NULL: rw_shard_detect takes them */
    const uint32_t *init;     /* [n] previous labels (<= max_label; above: new), or NULL */
    uint32_t max_label;
    int keep_init;     /* the previous partition as it is (same input) */
    int rescore_rules; /* as rw_detection */
    /* The caller reads no more of the snapshot than rw_graph_snap_trim
     * keeps: with more than one shard, it is trimmed once every shard's
     * input is made, before shard 0's detectors take their memory. */
    int trim;
    uint32_t node_slice, comm_slice; /* a shard's output in parts of at most so many (0: the default) */
    rw_model model;
} rw_shard_job;

/* Components and which shard holds each. */
typedef struct {
    int shards;
    uint32_t nunits;
    uint32_t *unit;     /* [n] component of a node, UINT32_MAX for hubs and attributes of no account */
    uint32_t *shard_of; /* [nunits] */
    uint64_t *load;     /* [shards] edges dealt to each */
    uint32_t **nodes;   /* [shards] each shard's nodes in order (once its input is made) */
    uint32_t *nnodes;
    uint32_t *local;                 /* [n] scratch: a node's id in the shard being made (freed once all are) */
    const uint8_t *glue;             /* [n] hubs that glue (whole graph; not owned), or NULL: none */
    uint32_t node_slice, comm_slice; /* the job's, resolved */
    uint64_t largest_accounts, largest_edges;
} rw_shard_plan;

/* Components once the hubs that glue nothing are cut: a hub that glue
 * (rw_detect_hub_glue on the whole snapshot, NULL: none; kept, not owned,
 * and sent with each shard) joins its accounts like any attribute, since
 * the shard that scores them must see all of them on it. */
rw_status rw_shard_plan_make(rw_shard_plan *pl, const rw_graph_snap *s, uint32_t hub_degree, const uint8_t *glue,
                             int shards, rw_err *err);
void rw_shard_plan_free(rw_shard_plan *pl);

/* Shard k's input as bytes (*buf: caller frees). */
rw_status rw_shard_input(rw_shard_plan *pl, const rw_graph_snap *s, const rw_shard_job *job, int k, void **buf,
                         size_t *len, rw_err *err);

/* The whole detection of s through shards (t NULL: one, here): d receives
 * membership, feat, cscore, ascore, prop, via and abits for every node of
 * s, as rw_engine_detect and rw_engine_detect_model would on one snapshot
 * cut the same way; out receives the component figures and shard_bytes. */
rw_status rw_shard_detect(rw_graph_snap *s, const rw_shard_job *job, const rw_shard_transport *t, rw_detection *d,
                          rw_rescore_summary *out, rw_err *err);

#endif
