/* detectors: batch detection over a graph snapshot: weighted Leiden
 * communities, spectral figures per community, a global truncated SVD and
 * greedy dense-block peeling (FRAUDAR objective). igraph and LAPACK stay
 * inside this module. The Debian igraph is not thread-safe: every igraph call
 * here runs under a lock of this module, so a picture's layout may run while
 * a rescoring runs Leiden (it waits for the current batch). */
#ifndef RW_DETECTORS_H
#define RW_DETECTORS_H

#include "common.h"
#include "graph.h"

/* One-time set-up at start-up: a non-aborting igraph error handler, quiet
 * igraph warnings and a fixed OpenBLAS thread count (threads: 0 = 2, which
 * gets rw_detect_svd nearly all its speed-up). The rest of this module is
 * small dense blocks, where a second BLAS thread only adds wake-ups, and
 * runs its own workers: the engine asks for 1, so that no call ever changes
 * the count while another runs. RW_ERR_INVALID for threads < 0. */
rw_status rw_detect_init(int threads, rw_err *err);

typedef struct {
    double kind_weight[RW_KIND_COUNT]; /* evidence per kind: a shared card says more than a shared NAT */
    double degree_offset;              /* c in the discount 1 / log(c + degree) */
    uint32_t hub_degree;               /* attributes with more accounts glue nothing, unless they arrived as a farm */
    double resolution;                 /* Leiden resolution (modularity, scaled by 1 / 2m) */
    int iterations;                    /* Leiden passes: until stable or this many */
    uint64_t seed;
    double coherence_floor; /* weight kept by an attribute whose accounts came far apart in time */
    /* The total weight of the edges Leiden sees (rw_detect_weight_totals'
     * kept) in the whole graph, when the snapshot is a shard of it; 0: the
     * snapshot's own. */
    double kept_total;
} rw_community_params;

/* Accounts of an attribute that took it up within this many seconds of each
 * other count as having come together. */
#define RW_COHERENCE_WINDOW (48 * 3600)

/* Share of an attribute's accounts that first used it within one
 * RW_COHERENCE_WINDOW (1 for fewer than two accounts). scratch holds the
 * attribute's degree entries. */
double rw_detect_coherence(const rw_graph_snap *s, uint32_t attr, uint32_t *scratch);

/* Documented defaults (see the README's detection section): kind weights
 * account 0, ip 1, device 2, payment 3, subnet 0; degree_offset 2;
 * hub_degree 200; resolution 1; iterations 10; seed 1. */
void rw_community_defaults(rw_community_params *p);

/* Weight of every edge of s (m entries, caller-allocated): the kind's weight
 * times 1 / log(c + degree of the attribute), scaled by its coherence; 0 for
 * hub attributes (degree above hub_degree) unless their accounts arrived as
 * a farm's do: most within one RW_COHERENCE_WINDOW, far above what strangers
 * over the graph's span would give, and most with nothing of their own
 * besides (the thresholds follow the graph's span and degree distribution;
 * see hubs.c). Other detectors taking w treat a hub with weight as glue. A
 * degree_offset below 1 is taken as 1. With s->glue, its verdicts are taken
 * instead of judging the hubs here. RW_ERR_NOMEM. */
rw_status rw_detect_edge_weights(const rw_graph_snap *s, const rw_community_params *p, double *w, rw_err *err);

/* Which hubs (attributes of more than hub_degree accounts) still glue their
 * accounts together, judged by how they arrived (see hubs.c): glue (n
 * entries, caller-allocated) receives 1 for those, 0 for every other node.
 * RW_ERR_NOMEM. */
rw_status rw_detect_hub_glue(const rw_graph_snap *s, uint32_t hub_degree, uint8_t *glue, rw_err *err);

/* Edge weights summed exactly, in fixed point (RW_WEIGHT_UNIT per unit of
 * weight), so that a total does not depend on the order of its terms: a
 * graph's is the same summed whole or shard by shard. */
#define RW_WEIGHT_UNIT 16777216.0
/* The sums of all of s's edge weights and of those Leiden sees (hubs,
 * attributes of one account and zero weights aside), in RW_WEIGHT_UNIT. */
void rw_detect_weight_totals(const rw_graph_snap *s, const rw_community_params *p, const double *w, int64_t *all,
                             int64_t *kept);

/* Communities of the weighted bipartite graph (modularity at
 * p->resolution). membership (n entries, caller-allocated) receives dense
 * community ids 0 .. *ncomm - 1 for every node, numbered in order of each
 * community's smallest node id; hubs and nodes with no weighted edge are
 * singletons, an attribute of a single account joins that account.
 * Components of the graph without hubs and such attributes go to igraph's
 * Leiden only when their modularity optimum is not provably the whole
 * component (in practice: the giant one), each on its own and from the
 * same seed, so a component's communities do not depend on what else the
 * snapshot holds (a shard gives what the whole graph gives); Leiden passes
 * stop when the partition holds still, a pass gains under 1e-4 of the
 * objective, or after p->iterations passes. init (n entries or NULL) warm-starts from a previous
 * membership; a label >= n marks a node that is new since. Deterministic for
 * p->seed. RW_ERR_INVALID for a negative resolution, RW_ERR_NOMEM, and
 * RW_ERR_INTERNAL when igraph fails. */
rw_status rw_detect_communities(const rw_graph_snap *s, const rw_community_params *p, const double *w,
                                const uint32_t *init, uint32_t *membership, uint32_t *ncomm, rw_err *err);

/* The same, telling early what Leiden cannot change, for work beside it:
 * once the components are known and before Leiden runs, pre[v] (n entries,
 * caller-allocated) of every account is a label below npre of the community
 * it will be in when that is already decided (a component kept whole, or an
 * account of no component, alone), or npre itself when its component goes
 * to Leiden; other nodes get RW_NODE_NONE. The accounts of one label below
 * npre are exactly those of one final community. Then ready(ctx, npre) is
 * called on the caller's thread, before the first Leiden call; pre is not
 * touched again. early NULL: rw_detect_communities. */
typedef struct {
    uint32_t *pre;
    void (*ready)(void *ctx, uint32_t npre);
    void *ctx;
} rw_communities_early;
rw_status rw_detect_communities_early(const rw_graph_snap *s, const rw_community_params *p, const double *w,
                                      const uint32_t *init, uint32_t *membership, uint32_t *ncomm,
                                      const rw_communities_early *early, rw_err *err);

/* Spectral figures of the weighted biadjacency matrix B of a set of
 * accounts (rows) and all the attributes they touch (columns; hubs count in
 * cols with their weight 0). Exact (dense LAPACK) for small blocks; for
 * larger ones a block Krylov method to about 1e-7 in sigma1^2 and 1e-5 of
 * sigma1^2 in sigma2^2. A single account gives lockstep 1: weigh it by size.
 * RW_ERR_INVALID when a node is not an account or is listed twice. Safe on
 * several threads at once with OpenBLAS on one thread (rw_detect_init). */
typedef struct {
    double sigma1, sigma2;
    double frob2;    /* ||B||_F^2 */
    double lockstep; /* sigma1^2 / ||B||_F^2: 1 for a perfect block */
    uint32_t rows, cols;
} rw_spectral;

rw_status rw_detect_spectral(const rw_graph_snap *s, const double *w, const uint32_t *accounts, uint32_t n_accounts,
                             rw_spectral *out, rw_err *err);
/* The same without sigma2 (left 0), which the cluster features do not
 * need: through the Gram matrix of the smaller side when it is small, a
 * fraction of the cost; sigma1 and lockstep as rw_detect_spectral's to
 * rounding. */
rw_status rw_detect_sigma1(const rw_graph_snap *s, const double *w, const uint32_t *accounts, uint32_t n_accounts,
                           rw_spectral *out, rw_err *err);

/* Global truncated SVD (randomised, BLAS-3) of the degree-normalised
 * account x attribute matrix D_r^-1/2 A D_c^-1/2 with weights w: the top k
 * singular values into sigma (k entries) and account loadings into u (n * k
 * floats, row v = node v, zero rows for attributes and for accounts without
 * weighted edges). Every connected component of the weighted graph has
 * singular value exactly 1 (its Perron vector), so with more than k
 * components the top values are all near 1 and the loadings mix
 * components. Values beyond the rank are 0. Deterministic for seed at a
 * given OpenBLAS thread count.
 * RW_ERR_INVALID for k <= 0. */
rw_status rw_detect_svd(const rw_graph_snap *s, const double *w, int k, uint64_t seed, double *sigma, float *u,
                        rw_err *err);

/* Greedy peeling on the FRAUDAR objective (log-weighted average degree,
 * column weights 1 / log(degree + 5), degree in the whole graph), repeated
 * to find up to max_blocks disjoint dense blocks of at least min_accounts
 * accounts. Attributes of a single account take no part; each peel's best
 * set is split into connected blocks, and an attribute with most of its
 * accounts outside the set (a NAT a ring also used) belongs to none. The
 * search ends when a peel yields no block of min_accounts accounts.
 * candidate (n entries or NULL for all) restricts the nodes considered.
 * block (n entries) receives the block index of each node or UINT32_MAX;
 * score (max_blocks entries) the objective of each block, densest first
 * within a peel. O((n + m) log n) per peel. */
rw_status rw_detect_dense_blocks(const rw_graph_snap *s, const uint8_t *candidate, int max_blocks,
                                 uint32_t min_accounts, uint32_t *block, double *score, int *nblocks, rw_err *err);

/* ---- cluster features and the scoring model ------------------------------- */

/* Features of a community, each a number a logistic model weighs. */
enum {
    RW_F_LOG_ACCOUNTS,     /* log(accounts) */
    RW_F_DEVICE_LINKED,    /* share of accounts sharing a (non-hub) device with another member */
    RW_F_CARD_LINKED,      /* the same for payment tokens */
    RW_F_IP_LINKED,        /* the same for IP addresses */
    RW_F_MAX_DEVICE_SHARE, /* largest share of members on one device */
    RW_F_MAX_CARD_SHARE,   /* largest share of members on one card */
    RW_F_EXCLUSIVE,        /* share of the shared attributes' accounts that are members */
    RW_F_BURST,            /* largest share of members signing up within 6 hours */
    RW_F_SUBNET_SHARE,     /* largest share of members seen on one /24 (/48), hubs aside */
    RW_F_PRIVATE_ATTRS,    /* attributes per member used by that member alone */
    RW_F_IP_DIVERSITY,     /* IP addresses per member */
    RW_F_HUB_CONTACT,      /* share of members touching a hub (carrier NAT, VPN exit, stock device) */
    RW_F_LOCKSTEP,         /* sigma1^2 / ||B||_F^2 of the weighted biadjacency block */
    RW_F_LATER_LOGINS,     /* share of edges first seen more than an hour after the signup */
    RW_F_MULTI_SHARED,     /* share of members sharing two or more attributes with other members */
    RW_F_COHERENCE,        /* how together in time the shared attributes were taken up (0..1) */
    RW_F_CARD_HOMELESS,    /* share of members on a shared card whose accounts share no home (address, device) */
    RW_F_CARDS_PER_PAYER,  /* distinct cards over members using a card (1 when no one pays) */
    RW_F_OWN_DEVICES,      /* share of members all of whose devices (one or more) are theirs alone */
    RW_F_SPAN_DAYS,        /* log(1 + days) between the 10th and 90th percentile signups */
    RW_F_CARD_RING,        /* the card-ring signature (0..1): rw_cluster_card_ring_strength */
    RW_F_HOUSEHOLD,        /* 1: fewer than RW_CARD_RING_MIN members, all on one address and one device */
    RW_F_COUNT
};

/* A feature's name ("burst"), or NULL out of range. */
const char *rw_feature_name(int f);

typedef struct {
    double f[RW_F_COUNT];
    uint32_t accounts, attributes;
    uint32_t first_signup, last_signup;
    uint32_t shared[RW_KIND_COUNT];        /* attributes of each kind shared by two or more members */
    uint32_t linked_devices, linked_cards; /* members sharing a device / card with another member */
    uint32_t max_device_accounts, max_card_accounts;
    uint32_t burst_accounts, burst_start; /* the densest 6-hour window of signups */
    uint32_t top_subnet_accounts;
    uint32_t homeless_card_accounts; /* members on a shared card whose accounts share no home */
    uint32_t payers, cards;          /* members using a card; distinct cards they use */
    double sigma1;
} rw_cluster_features;

/* Features of an account inside its community, for the account model. */
enum {
    RW_A_CLUSTER_LOGIT, /* logit of the cluster's score (filled by the caller) */
    RW_A_DEVICE,        /* shares a device with another member (0/1) */
    RW_A_CARD,          /* shares a card with another member */
    RW_A_IP,            /* shares an IP address with another member */
    RW_A_SHARED,        /* distinct attributes shared with members, up to 5, over 5 */
    RW_A_IN_BURST,      /* signed up inside the cluster's densest 6-hour window */
    RW_A_PRIVATE,       /* attributes of its own (used by no one else), up to 5, over 5 */
    RW_A_HUB,           /* touches a hub */
    RW_A_PEERS,         /* members sharing an attribute with it who signed up within 48 hours, up to 5, over 5 */
    RW_A_COUNT
};
const char *rw_account_feature_name(int f);

/* Features of every community (out: ncomm entries, caller-allocated).
 * links (n entries or NULL) receives, per account, a bit (1 << kind) for
 * each kind through which it shares a non-hub attribute with another member
 * of its community. account_features (n * RW_A_COUNT or NULL) receives the
 * account features of every account in a community of two or more, all but
 * RW_A_CLUSTER_LOGIT. */
rw_status rw_detect_features(const rw_graph_snap *s, const double *w, uint32_t hub_degree, const uint32_t *membership,
                             uint32_t ncomm, rw_cluster_features *out, uint8_t *links, double *account_features,
                             rw_err *err);

/* The same for the communities c with which[c] set only (which NULL: all);
 * out, links and account_features of the others are left as they were.
 * workers (1..RW_PAR_MAX) threads share the communities out; the result is
 * the same for any number. Each worker holds about 36 bytes per node of
 * scratch. */
rw_status rw_detect_features_some(const rw_graph_snap *s, const double *w, uint32_t hub_degree,
                                  const uint32_t *membership, uint32_t ncomm, const uint8_t *which,
                                  rw_cluster_features *out, uint8_t *links, double *account_features, unsigned workers,
                                  rw_err *err);
/* The same in two steps: _start begins the work on workers 1.. (the
 * caller's thread is free meanwhile: a rescoring runs Leiden on it), and
 * _finish makes the caller worker 0 until every community is done, then
 * frees the job. Everything passed to _start must stay as it is until
 * _finish returns; a started job must be finished. */
typedef struct rw_features_job rw_features_job;
rw_status rw_detect_features_start(rw_features_job **job, const rw_graph_snap *s, const double *w, uint32_t hub_degree,
                                   const uint32_t *membership, uint32_t ncomm, const uint8_t *which,
                                   rw_cluster_features *out, uint8_t *links, double *account_features, unsigned workers,
                                   rw_err *err);
rw_status rw_detect_features_finish(rw_features_job *job, rw_err *err);

/* Strong-tie parts: the accounts of each community c with split[c] set
 * (ncomm entries) are grouped by the non-hub devices and payment tokens
 * they share with each other, those whose coherence (rw_detect_coherence)
 * is at least min_coherence. parts (n entries, caller-allocated) receives
 * every node's new community: a part of two or more accounts gets a fresh
 * id from ncomm up (in order of its smallest account), an account sharing
 * no strong attribute inside its community keeps the community's id (what
 * is left of it), and a non-hub attribute follows most of its community's
 * accounts; communities not split keep their ids. *nparts receives the
 * number of ids. RW_ERR_INVALID when a membership is ncomm or more. */
rw_status rw_detect_strong_parts(const rw_graph_snap *s, uint32_t hub_degree, double min_coherence,
                                 const uint32_t *membership, uint32_t ncomm, const uint8_t *split, uint32_t *parts,
                                 uint32_t *nparts, rw_err *err);

/* Evidence from flagged neighbours: for every account, the best over its
 * non-hub IP addresses, devices and payment tokens t of (sum of the scores at or above
 * threshold of t's other accounts) / (t's accounts), i.e. flagged co-users
 * discounted by how many use t (one flagged partner of two gives at most
 * 1/2). out and via (n entries each, caller-allocated) receive it and the
 * attribute it came through (RW_NODE_NONE: none). score has n entries.
 * strong and strong_via (NULL: not wanted) receive the same through devices
 * and payment tokens only, in the same pass: an address is shared by a
 * household or an office, a device or a card with flagged accounts says
 * more. */
rw_status rw_detect_propagate(const rw_graph_snap *s, uint32_t hub_degree, const double *score, double threshold,
                              double *out, uint32_t *via, double *strong, uint32_t *strong_via, rw_err *err);

/* An account's own score and its flagged neighbours' evidence taken
 * together, as if independent: 1 - (1 - own)(1 - neighbours). */
double rw_detect_combine(double own, double neighbours);

/* A logistic model over the features. Stored as text in the database's
 * models table, one "name value" line each. */
typedef struct {
    int version;
    double bias;
    double w[RW_F_COUNT];
    double threshold; /* score at or above which a cluster or an account is flagged */
    double abias;     /* the account model: logistic over RW_A_* */
    double aw[RW_A_COUNT];
    uint32_t min_accounts; /* smaller communities score 0 */
} rw_model;

/* The shipped defaults (documented in the README). */
void rw_model_defaults(rw_model *m);
/* The cluster score in [0, 1]. */
double rw_model_score(const rw_model *m, const rw_cluster_features *f);
/* Writes the text form; returns its length (like snprintf). */
size_t rw_model_format(const rw_model *m, char *out, size_t size);
/* Parses the text form over the defaults; RW_ERR_INVALID names the line. */
rw_status rw_model_parse(rw_model *m, const char *text, rw_err *err);
/* Fits bias and weights by L2-regularised logistic regression on labelled
 * clusters (label 0 or 1; weight NULL for 1 each). */
rw_status rw_model_fit(rw_model *m, const rw_cluster_features *f, const double *label, const double *weight, size_t n,
                       double l2, rw_err *err);

/* An account's score in [0, 1] from its account features. */
double rw_model_account_score(const rw_model *m, const double *af);
/* Fits the account model on labelled accounts (af: n * RW_A_COUNT). */
rw_status rw_model_fit_accounts(rw_model *m, const double *af, const double *label, size_t n, double l2, rw_err *err);

/* The camouflage signature: a ring that signs up and logs in from a block
 * of hosting or proxy addresses of its own, mixed with carrier NAT, VPN
 * exits and stock fingerprints, shares only addresses, which in a logistic
 * model look like a household or an office. Only all of these together set
 * it apart: at least 7 accounts (more than a household), most of them on one
 * /24 (/48), shared attributes that almost no one else uses, taken up within
 * about two days (not an office or a family over weeks), few attributes of
 * their own per member (no home line, no phone of their own) and several
 * addresses each (block, carrier and VPN hops). 1 when f shows it. */
int rw_cluster_block_ring(const rw_cluster_features *f);

/* The stolen-card signature: a ring that cashes out a few stolen cards
 * signs up with a fresh device per account from rotating addresses of one
 * /24 within days, each card serving several accounts that share no home.
 * Families share a card, but at home (a common address or tablet) and two to
 * five of them; a campus arrives from one /24 within a week on devices of
 * its own, but everyone pays with a card of their own; an office team may
 * share one company card, on addresses its colleagues use too. The product
 * of: card sharing without a home, few cards for many payers, devices of
 * their own, one /24, shared attributes no one else uses (exclusive) and
 * arrival within days, each in [0, 1]; 0 for fewer than RW_CARD_RING_MIN
 * accounts, or for fewer than two shared cards unless one serves at least
 * RW_CARD_RING_MIN accounts without a home. */
#define RW_CARD_RING_MIN 6
double rw_cluster_card_ring_strength(const rw_cluster_features *f);

/* Up to max reasons in words ("14 accounts share 2 devices") for a cluster,
 * strongest first; returns how many were written. */
size_t rw_cluster_reasons(const rw_cluster_features *f, char reasons[][160], size_t max);

/* ---- online scoring of one event ----------------------------------------- */

/* Figures of one signup, from the live graph (counts as log1p). */
enum {
    RW_O_DEVICE_SHARED,  /* other accounts on its device (crowds and cleared attributes aside) */
    RW_O_DEVICE_DAY,     /* of those, new on the device within about a day */
    RW_O_DEVICE_BURST,   /* the share of them new within the day (0..1): farms, not stock phones */
    RW_O_DEVICE_DAY2,    /* two or more of them new within the day (0/1) */
    RW_O_DEVICE_FOREIGN, /* of those, accounts never seen on its IP's /24 (a family tablet stays home) */
    RW_O_CARD_SHARED,    /* other accounts on its card */
    RW_O_CARD_DAY,
    RW_O_IP_SHARED,    /* other accounts on its IP address */
    RW_O_IP_HOUR,      /* of those, new within about an hour */
    RW_O_SUBNET_OTHER, /* signups from other addresses of its /24 (/48) within about an hour */
    RW_O_SUBNET_DAY,   /* signups from its /24 within about a day */
    RW_O_IP_HUB,       /* its IP is a crowd (carrier NAT, VPN exit: a hub of strangers over time): 0/1 */
    RW_O_DEVICE_HUB,   /* its device is a crowd (a stock fingerprint): 0/1 */
    RW_O_COMM_SCORE,   /* the batch score of the community it joins (0 if none) */
    RW_O_COMM_FLAGGED, /* that community was flagged by the batch run (0/1) */
    RW_O_COMM_SIZE,    /* accounts of that community */
    RW_O_COMM_DAY,     /* signups into it within about a day */
    RW_O_ATTR_FLAGGED, /* shares an attribute with an account the newest run flagged (0/1) */
    /* Retired, always 0: it was the highest signup score of an account
     * sharing an attribute, the model's own output fed back into its
     * inputs (docs/DETECTION.md). The slot stays so that the feature logs
     * and learnt models of earlier releases still read. */
    RW_O_ATTR_ONLINE,
    /* Figures that carry across worlds: each attribute against its own
     * history and its accounts' verdicts, not its size (which an attacker
     * chooses and a world's scale changes). */
    RW_O_DEVICE_RATE,      /* its device's signups in the last day against its usual daily rate */
    RW_O_DEVICE_AGE,       /* hours since its most shared device was first seen */
    RW_O_CARD_RATE,        /* its card's signups in the last day against its usual daily rate */
    RW_O_IP_RATE,          /* its IP's signups in the last hour against its usual hourly rate */
    RW_O_SUBNET_RATE,      /* its /24 (/48)'s signups in the last hour against its daily rate per hour */
    RW_O_ATTR_NEW_SHARE,   /* the highest share of an attribute's accounts new within the day (0..1) */
    RW_O_ATTR_FLAG_SHARE,  /* the highest share of an attribute's accounts the newest run flagged */
    RW_O_ATTR_LABEL_SHARE, /* the highest share of an attribute's accounts labelled fraud by analysts */
    RW_O_COMM_NEW_SHARE,   /* its community's signups within the day against its size (growth for its age) */
    RW_O_CARD_AGE,         /* hours since its most shared card was first seen */
    RW_O_IP_AGE,           /* hours since its most shared IP address was first seen */
    RW_O_COUNT
};
const char *rw_online_feature_name(int f);
/* Gradient-boosted regression trees of fixed depth on logistic loss. */
#define RW_GBT_DEPTH    3
#define RW_GBT_SPLITS   ((1 << RW_GBT_DEPTH) - 1)
#define RW_GBT_LEAVES   (1 << RW_GBT_DEPTH)
#define RW_GBT_MAXTREES 512 /* the shipped 250 and a candidate's continuation */
#define RW_GBT_MAXF     32
typedef struct {
    uint8_t feature[RW_GBT_SPLITS]; /* node k's children are 2k+1 (f <= threshold) and 2k+2 */
    double threshold[RW_GBT_SPLITS];
    double leaf[RW_GBT_LEAVES];
    uint32_t used; /* bit f: some split tests feature f */
} rw_gbt_tree;
typedef struct {
    double bias;
    int ntrees;
    rw_gbt_tree tree[RW_GBT_MAXTREES];
} rw_gbt;
double rw_gbt_logit(const rw_gbt *m, const double *f);
double rw_gbt_score(const rw_gbt *m, const double *f);
/* out[i] (p entries): how much the logit falls when feature i is zero (0
 * for features that are zero already). */
void rw_gbt_contributions(const rw_gbt *m, const double *f, int p, double *out);
/* Fits ntrees trees with learning rate rate to n rows of p features (x is
 * n * p, y is 0 or 1). */
rw_status rw_gbt_fit(rw_gbt *m, const double *x, const double *y, size_t n, int p, int ntrees, double rate,
                     rw_err *err);
/* As rw_gbt_fit, each row weighted by w[i] (w NULL: all 1; weights are
 * relative, > 0), and ntrees at most. */
rw_status rw_gbt_fit_weighted(rw_gbt *m, const double *x, const double *y, const double *w, size_t n, int p, int ntrees,
                              double rate, rw_err *err);
/* As rw_gbt_fit_weighted, but m's trees stay and ntrees more are fitted on
 * what they leave unexplained (at most RW_GBT_MAXTREES in all). */
rw_status rw_gbt_fit_more(rw_gbt *m, const double *x, const double *y, const double *w, size_t n, int p, int ntrees,
                          double rate, rw_err *err);
/* Text form: "online.bias B" then one "online.tree" line per tree (seven
 * "feature threshold" splits, eight leaf values); like snprintf. */
size_t rw_gbt_format(const rw_gbt *m, const char *const *names, char *out, size_t size);
/* Parses the text form; RW_ERR_INVALID names the line. */
rw_status rw_gbt_parse(rw_gbt *m, const char *const *names, int p, const char *text, rw_err *err);

typedef struct {
    rw_gbt g;
} rw_online_model;
/* The shipped defaults (detectors/online_model.txt, documented in the
 * README). */
void rw_online_defaults(rw_online_model *m);
double rw_online_logit(const rw_online_model *m, const double *f);
/* The score in [0, 1]. */
double rw_online_score(const rw_online_model *m, const double *f);
/* The indexes of the (at most max) features that raise the score most,
 * largest first (each measured by how much the logit falls when it is
 * zero); returns how many. */
size_t rw_online_top(const rw_online_model *m, const double *f, int *idx, size_t max);
/* Text form (see rw_gbt_format); like snprintf. */
size_t rw_online_format(const rw_online_model *m, char *out, size_t size);
/* Parses the text form. */
rw_status rw_online_parse(rw_online_model *m, const char *text, rw_err *err);
/* Fits the model to n labelled rows of RW_O_COUNT features. */
rw_status rw_online_fit(rw_online_model *m, const double *x, const double *label, size_t n, rw_err *err);
/* As rw_online_fit, rows weighted (w NULL: all 1). */
rw_status rw_online_fit_weighted(rw_online_model *m, const double *x, const double *label, const double *w, size_t n,
                                 rw_err *err);
/* Continues m (the shipped model, say) with RW_ONLINE_MORE_TREES trees
 * fitted to weighted rows: what m knows stays unless the rows say
 * otherwise. */
#define RW_ONLINE_MORE_TREES 100
rw_status rw_online_fit_more(rw_online_model *m, const double *x, const double *label, const double *w, size_t n,
                             rw_err *err);

/* ---- layout of a small graph (cluster pictures) ---------------------------- */

/* Largest graph rw_detect_layout takes: a picture of more nodes says
 * nothing a table would not. */
#define RW_LAYOUT_MAX 20000u

/* Positions for n nodes joined by m edges (edges: 2m node indexes) into xy
 * (2n doubles, caller-allocated: x then y of each node), scaled into the
 * unit square with the aspect kept. Fruchterman-Reingold (igraph, grid
 * variant) on the nodes of degree two or more; a leaf (an attribute only
 * one account uses) is placed on a small circle around its neighbour, which
 * halves the work and keeps leaves off the crossings. Deterministic for
 * seed. RW_ERR_INVALID for an edge index >= n, RW_ERR_LIMIT above
 * RW_LAYOUT_MAX nodes, RW_ERR_NOMEM, RW_ERR_INTERNAL when igraph fails. */
rw_status rw_detect_layout(const uint32_t *edges, size_t m, uint32_t n, uint64_t seed, double *xy, rw_err *err);

#endif
