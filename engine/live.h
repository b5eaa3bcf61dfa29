/* engine stage: the live state of online scoring (communities accounts join
 * as they sign up, subnet velocities, labels, the newest run's part). */
#ifndef RW_ENGINE_LIVE_H
#define RW_ENGINE_LIVE_H

#include "engine_int.h"
#include "view.h"

#define RW_HUB_DEGREE 200 /* as the batch detectors: above it an attribute glues nothing */

/* A hub's accounts came as a farm's do, not as a crowd's: most of them
 * within about the last day (vel[RW_VEL_DAY] of degree), and that share at
 * least RW_CROWD_OVER_CHANCE times what strangers arriving evenly since the
 * graph's first account (L->epoch) would give. A carrier NAT, a VPN exit or
 * a stock fingerprint gathers strangers over weeks; a farm's device or
 * address gathers hundreds of new accounts within hours. The same test as
 * the batch detectors' (detectors/hubs.c), on the counters the signup path
 * keeps; on a graph younger than a few days nothing passes it. */
#define RW_CROWD_BURST_MIN   0.5
#define RW_CROWD_OVER_CHANCE 4.0
static inline int rw_live_burst(const rw_live *L, uint32_t degree, const double *vel, int64_t ts) {
    if (!degree || !L->epoch || ts <= L->epoch) return 0;
    double share = vel[RW_VEL_DAY] / degree, span = (double)(ts - L->epoch);
    double chance = RW_TAU_DAY / (span > RW_TAU_DAY ? span : RW_TAU_DAY);
    return share >= RW_CROWD_BURST_MIN && share >= RW_CROWD_OVER_CHANCE * chance;
}

/* Thresholds, hub degree and the model copied from prev (NULL: defaults). */
void rw_live_defaults(rw_live *L, const rw_live *prev);
void rw_live_free(rw_live *L);
/* Makes room for nodes [0, n); new entries are zero. Returns 0 on success. */
int rw_live_grow(rw_live *L, uint32_t n);

/* Counts a signup at v->ts on the subnets of the IPs the account first used
 * then (the subnet nodes carry no edges, so their velocity lives here). */
void rw_live_count_subnets(rw_live *L, const rw_view *v);
/* Puts v's account (and its linking attributes) into a community: the one
 * its attributes vote for, else a new one formed with the accounts it shares
 * an attribute with; and counts the attributes it took up since the newest
 * run into the run's figures (verdict.h). Under the write lock, after the
 * event is applied. */
void rw_live_place(rw_engine *e, const rw_view *v, int signup);
/* An account labelled fraud taints every attribute it uses, later ones too. */
void rw_live_taint(rw_live *L, const rw_view *v);
/* Places the accounts added without being placed (a bulk ingest) from node
 * from on, as if they had just signed up. Returns 0, -1 out of memory. */
int rw_live_place_rest(rw_engine *e, uint32_t from);

/* Rebuilds the online state from the store's newest run (after a reload).
 * The caller holds the write lock and store_mu. */
rw_status rw_engine_online_reload(rw_engine *e, rw_err *err);
/* Rebuilds the graph and the online state from the store (after a failed
 * transaction). Call with the write lock, nothing pending in the group commit
 * and without store_mu. */
rw_status rw_engine_reload_graph(rw_engine *e, rw_err *err);

/* A new run as online scoring takes it. A struct rather than a dozen
 * parameters (as SQLite's BtreePayload): the arrays describe one run and
 * travel together from the rescoring through the build outside the lock to
 * the swap, so each is named where it is set and a new one does not change
 * every signature on the way. All borrowed for the call. */
typedef struct {
    int64_t run;
    const rw_graph_snap *snap;  /* the snapshot the run scored */
    const uint32_t *membership; /* [snap->n] community of each node */
    uint32_t ncomm;             /* communities */
    const uint32_t *ids;        /* [ncomm] cluster id in the run */
    const uint32_t *size;       /* [ncomm] accounts */
    const double *score;        /* [ncomm] cluster score */
    double threshold;           /* flagged from this score up */
    const double *ascore;       /* [snap->n] account scores (NULL: none) */
} rw_online_run;

/* Installs run r for online scoring: builds the run's part without the
 * engine's lock, then takes the write lock to swap it in and carry over what
 * signups changed meanwhile; *locked: the longest it held that lock at a
 * time (seconds). */
rw_status rw_engine_online_install(rw_engine *e, const rw_online_run *r, double *locked, rw_err *err);
/* Places accounts a bulk ingest added since (takes the write lock when
 * there are any), so lookups show their live community. */
void rw_engine_online_catch_up(rw_engine *e);
/* Applies a stored label to the live state. Call with the write lock. */
void rw_engine_live_label(rw_engine *e, int on_cluster, uint32_t target, int fraud);

#endif
