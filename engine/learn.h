/* engine stage: the signup model learns from the deployment. Signups'
 * features are logged as scored (featlog.c), a nightly job after each
 * rescoring fits a candidate on them (distill.c), the candidate scores in
 * shadow until the next job decides on it (shadow.c), and the features'
 * drift is measured against the model's training window (drift.c). */
#ifndef RW_ENGINE_LEARN_H
#define RW_ENGINE_LEARN_H

#include "engine_int.h"

/* Guarded by the engine's lock (the shadow model and counters: written
 * under the write lock). */
typedef struct rw_learn {
    rw_learn_params p;      /* with the defaults filled in */
    int in_force;           /* version of e->live.model (0: shipped) */
    int shadow_version;     /* 0: no candidate */
    int64_t shadow_from;    /* event time its shadow period began */
    rw_online_model shadow; /* the candidate */
    int64_t last_ts;        /* newest signup logged (event time) */
    uint64_t shadow_scored, shadow_agree, promotions, rejections;
    int have_drift;
    double psi[RW_O_COUNT], psi_score;
    int have_base;        /* version 0 is the operator's base model, not the shipped one */
    rw_online_model base; /* (rw_engine_set_base_model) */
} rw_learn;

/* The defaults for zeros. */
void rw_learn_fill(rw_learn_params *p);
/* Allocates e->learn and loads the models in force and in shadow from the
 * store (the store and the write lock held by the caller). */
rw_status rw_learn_open(rw_engine *e, rw_err *err);
void rw_learn_close(rw_engine *e);

/* Under the write lock and gc_mu, after signup a was scored into d: scores
 * it in shadow and queues its features for the group commit. */
void rw_learn_signup(rw_engine *e, uint32_t a, int64_t ts, const rw_decision *d);

/* Encodes f (RW_O_COUNT doubles) into out (RW_FEATLOG_BYTES); its length. */
uint16_t rw_featlog_encode(const double *f, uint8_t *out);
/* Decodes a logged blob into f; -1 when it is malformed. */
int rw_featlog_decode(const void *blob, size_t len, double *f);

/* What the nightly job reads from one run: the snapshot's accounts and
 * their verdicts (borrowed for the call). */
typedef struct {
    int64_t run;
    uint32_t n;                 /* nodes in the snapshot: later accounts have no label */
    const uint8_t *kind;        /* [n] */
    const double *ascore;       /* [n] account scores */
    double threshold;           /* flagged at or above */
    const uint32_t *membership; /* [n] community */
    const uint32_t *csize;      /* [ncomm] accounts per community */
} rw_learn_run;

/* Labelled training rows of [from, to): features as logged (x, row-major,
 * RW_O_COUNT a row), label, weight, time, the scores logged (in force and
 * shadow, NaN when none) and the shadow model's version. Caller frees with
 * rw_learn_rows_free. */
typedef struct {
    double *x, *y, *w, *score, *shadow;
    int64_t *ts;
    int32_t *shadow_model;
    size_t n, cap;
    uint64_t positives, negatives, unlabelled;
} rw_learn_rows;
rw_status rw_learn_read_rows(rw_engine *e, const rw_learn_run *r, int64_t from, int64_t to, rw_learn_rows *out,
                             rw_err *err);
void rw_learn_rows_free(rw_learn_rows *rows);

/* The nightly job after run r is published: decides on the candidate in
 * shadow, fits a new one, measures drift; what it did into note (one line). */
rw_status rw_learn_nightly(rw_engine *e, const rw_learn_run *r, char *note, size_t size, rw_err *err);
/* rw_learn_nightly after a published run, in process or out: a failure is
 * the note's ("learning failed: ..."), never the rescoring's. */
void rw_learn_after_run(rw_engine *e, const rw_learn_run *r, char *note, size_t size);

/* Decides on the candidate in shadow from rows (labelled by the new run);
 * appends what it did to note. */
rw_status rw_learn_decide(rw_engine *e, const rw_learn_rows *rows, const rw_online_model *shipped, int64_t now,
                          char *note, size_t size, rw_err *err);
/* The model in force, when not the shipped one, against the shipped one on
 * the last shadow period's rows (labelled by the new run): rolled back to
 * it when it reviewed many more benign signups, or fewer ring signups
 * beyond chance (shadow.c); appends what it did to note. */
rw_status rw_learn_watch(rw_engine *e, const rw_learn_rows *rows, const rw_online_model *shipped, int64_t now,
                         char *note, size_t size, rw_err *err);
/* Drift of rows in [now - 1 day, now) against the reference rows. */
void rw_learn_drift(rw_engine *e, const rw_learn_rows *ref, const rw_learn_rows *cur, char *note, size_t size);

/* Version 0 into m: the operator's base model, else the shipped trees
 * (under the engine's lock, read or write). */
void rw_learn_base(const rw_engine *e, rw_online_model *m);

/* Installs model text as the one in force (under the write lock). */
rw_status rw_learn_install(rw_engine *e, int version, const char *text, rw_err *err);

#endif
