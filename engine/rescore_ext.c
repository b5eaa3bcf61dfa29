/* A rescoring made by another process on a copy of the database: the
 * snapshot online scoring switches with, the copy, the command (the
 * caller's), the run brought back in chunks and published whole, and
 * online scoring switched to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detectors.h"
#include "learn.h"
#include "live.h"

/* A transaction bringing the run back holds the store (the group commit
 * waits) about CHUNK_SECONDS, as a run written here (rescore.c): the rows
 * read from the copy per transaction follow that (rows differ in size: a
 * cluster's carries its features), from IMPORT_ROWS. The WAL the chunks
 * leave is copied into the database every CHECKPOINT_SECONDS, the store
 * released. */
#define CHUNK_SECONDS      0.008
#define IMPORT_ROWS        1024
#define IMPORT_ROWS_MIN    64
#define IMPORT_ROWS_MAX    65536
#define CHECKPOINT_SECONDS 0.25

typedef struct {
    rw_engine *e;
    const rw_rescore_params *rp;
    const rw_rescore_external *x;
    rw_rescore_summary *out;
    rw_stage_fn on_stage;
    void *ctx;
    double t0, t;
    rw_graph_snap *s;
    int64_t copy_latest; /* the newest run in the copy before the command */
    rw_run_row run;      /* the command's run, as published in the copy */
    char params[512], summary[512];
    int64_t id; /* the run id reserved here */
    int have_lock, have_store, reserved, copied;
    /* The run as online scoring takes it (rw_online_run), read from the copy. */
    uint32_t *membership, *ids, *size, ncomm, cap;
    double *score, *ascore, threshold;
} ext_job;

static void ext_stage(ext_job *j, const char *name) {
    double now = rw_now();
    if (j->on_stage) j->on_stage(j->ctx, name, now - j->t);
    j->t = now;
}

static rw_status ext_cancelled(const ext_job *j, const char *where, rw_err *err) {
    if (!j->rp || !j->rp->cancel || !__atomic_load_n(j->rp->cancel, __ATOMIC_ACQUIRE)) return RW_OK;
    return rw_fail(err, RW_ERR_CANCELLED, "rescoring cancelled %s; nothing was published", where);
}

/* The same snapshot as rw_engine_rescore's. */
static rw_status ext_snapshot(ext_job *j, rw_err *err) {
    rw_status st = rw_engine_snapshot(j->e, &j->s, NULL, &j->out->snapshot_locked, err);
    if (st == RW_OK) ext_stage(j, "snapshot");
    return st;
}

/* The copy, taken right after the snapshot: the nodes it holds beyond the
 * snapshot's are placed online as signups since the run. */
static rw_status ext_copy(ext_job *j, rw_err *err) {
    double t = rw_now();
    rw_status st = rw_store_copy_to(j->e->db_path, j->x->copy_path, err);
    j->out->copy_seconds = rw_now() - t;
    if (st != RW_OK) return st;
    j->copied = 1;
    rw_store *cs = NULL;
    st = rw_store_open(&cs, j->x->copy_path, RW_STORE_READONLY, err);
    if (st == RW_OK) st = rw_store_latest_run(cs, &j->copy_latest, err);
    rw_store_close(cs);
    if (st == RW_OK) ext_stage(j, "copy");
    return st;
}

static rw_status ext_command(ext_job *j, rw_err *err) {
    rw_status st = ext_cancelled(j, "before its command ran", err);
    if (st == RW_OK) st = j->x->run(j->x->ctx, j->x->copy_path, err);
    if (st == RW_OK) st = ext_cancelled(j, "once its command had finished", err);
    if (st == RW_OK) ext_stage(j, "command");
    return st;
}

typedef struct {
    ext_job *j;
    uint32_t *by_id; /* [nid] cluster id -> community (0: none) */
    uint32_t nid;
    uint32_t cap_comm;
} read_ctx;

static rw_status on_cluster(void *ctx, const rw_cluster_row *c) {
    read_ctx *rc = ctx;
    ext_job *j = rc->j;
    if (c->id >= rc->nid) return RW_OK;
    if (j->ncomm == rc->cap_comm) {
        uint32_t cap = rc->cap_comm * 2;
        uint32_t *ids = realloc(j->ids, cap * sizeof *ids), *size = ids ? realloc(j->size, cap * sizeof *size) : NULL;
        if (ids) j->ids = ids;
        if (size) j->size = size;
        double *score = size ? realloc(j->score, cap * sizeof *score) : NULL;
        if (!score) return RW_ERR_NOMEM;
        j->score = score;
        rc->cap_comm = cap;
    }
    j->ids[j->ncomm] = c->id;
    j->size[j->ncomm] = c->accounts;
    j->score[j->ncomm] = c->score;
    rc->by_id[c->id] = j->ncomm++;
    return RW_OK;
}

static void on_member(void *ctx, uint32_t node, uint32_t cluster) {
    read_ctx *rc = ctx;
    if (node < rc->j->s->n && cluster < rc->nid) rc->j->membership[node] = rc->by_id[cluster];
}

static rw_status on_score(void *ctx, const rw_score_row *r) {
    ext_job *j = ctx;
    if (r->account < j->s->n) j->ascore[r->account] = r->score;
    return RW_OK;
}

/* The threshold of the model the command scored with (the copy's newest). */
static rw_status read_threshold(ext_job *j, rw_store *cs, rw_err *err) {
    char text[4096];
    int version = 0;
    rw_model m;
    rw_status st = rw_store_model_latest(cs, &version, text, sizeof text, err);
    if (st != RW_OK) return st;
    if (version == 0)
        rw_model_defaults(&m);
    else if ((st = rw_model_parse(&m, text, err)) != RW_OK)
        return st;
    j->threshold = m.threshold;
    return RW_OK;
}

/* The run the command published in the copy: its row, and its clusters,
 * membership and account scores over the snapshot's nodes for online
 * scoring (community 0 is "in no cluster"). */
static rw_status ext_read(ext_job *j, rw_err *err) {
    rw_store *cs = NULL;
    int64_t latest = 0;
    uint32_t max_id = 0;
    read_ctx rc = {.j = j, .cap_comm = 1024};
    rw_status st = rw_store_open(&cs, j->x->copy_path, RW_STORE_READONLY, err);
    if (st == RW_OK) st = rw_store_latest_run(cs, &latest, err);
    if (st == RW_OK && latest <= j->copy_latest)
        st = rw_fail(err, RW_ERR_NOTFOUND, "the rescoring command succeeded but published no run in %s",
                     j->x->copy_path);
    if (st == RW_OK) st = rw_store_get_run(cs, latest, &j->run, j->params, j->summary, sizeof j->params, err);
    if (st == RW_OK) st = rw_store_max_cluster_id(cs, &max_id, err);
    if (st == RW_OK) st = read_threshold(j, cs, err);
    if (st != RW_OK) goto done;
    j->run.id = latest;
    j->run.params = j->params;
    j->run.summary = j->summary;
    rc.nid = max_id + 1;
    rc.by_id = calloc(rc.nid, sizeof *rc.by_id);
    j->membership = calloc((size_t)j->s->n + 1, sizeof *j->membership);
    j->ascore = calloc((size_t)j->s->n + 1, sizeof *j->ascore);
    j->ids = calloc(rc.cap_comm, sizeof *j->ids);
    j->size = calloc(rc.cap_comm, sizeof *j->size);
    j->score = calloc(rc.cap_comm, sizeof *j->score);
    if (!rc.by_id || !j->membership || !j->ascore || !j->ids || !j->size || !j->score) {
        st = rw_fail(err, RW_ERR_NOMEM, "out of memory reading the run of %u nodes", j->s->n);
        goto done;
    }
    j->ncomm = 1; /* community 0: in no cluster */
    st = rw_store_run_clusters(cs, latest, -1.0, 0, 0, on_cluster, &rc, err);
    if (st == RW_OK) st = rw_store_run_membership(cs, latest, on_member, &rc, err);
    if (st == RW_OK) st = rw_store_run_scores(cs, latest, on_score, j, err);
done:
    free(rc.by_id);
    rw_store_close(cs);
    if (st != RW_OK) rw_err_prefix(err, "reading the run in %s: ", j->x->copy_path);
    if (st == RW_OK) ext_stage(j, "read");
    return st;
}

/* One chunk: a short unsynced transaction, then the store handed to
 * whoever asked for it meanwhile (the group commit). */
static rw_status import_chunk(ext_job *j, rw_run_import *im, uint32_t *rows, int *done, rw_err *err) {
    rw_engine *e = j->e;
    double t = rw_now();
    rw_status st = rw_store_begin_unsynced(e->store, err);
    if (st == RW_OK) st = rw_store_run_import_chunk(e->store, im, *rows, done, err);
    if (st == RW_OK) st = rw_store_commit(e->store, 0, err);
    if (st != RW_OK) rw_store_rollback(e->store);
    double held = rw_now() - t;
    if (held > j->out->import_locked) j->out->import_locked = held;
    if (held > CHUNK_SECONDS && *rows > IMPORT_ROWS_MIN) *rows /= 2;
    if (held < CHUNK_SECONDS / 2 && *rows < IMPORT_ROWS_MAX) *rows *= 2;
    return st;
}

/* The run's rows, from the copy into a run id reserved here. Takes the
 * run lock and the store. */
static rw_status ext_import(ext_job *j, rw_err *err) {
    rw_engine *e = j->e;
    rw_status st = rw_store_run_lock(e->store, err); /* without the store: may wait for another process */
    if (st != RW_OK) return st;
    j->have_lock = 1;
    rw_engine_store_lock(e);
    j->have_store = 1;
    st = rw_engine_drop_unpublished(e, err);
    if (st == RW_OK) st = rw_store_run_reserve(e->store, j->run.started_at, &j->id, err);
    if (st != RW_OK) return st;
    j->reserved = 1;
    j->out->run = j->id;
    st = rw_store_import_attach(e->store, j->x->copy_path, err);
    if (st != RW_OK) return st;
    rw_run_import im = RW_RUN_IMPORT_INIT(j->run.id, j->id);
    double ckpt = rw_now();
    uint32_t rows = IMPORT_ROWS;
    for (int done = 0; st == RW_OK && !done;) {
        st = import_chunk(j, &im, &rows, &done, err);
        if (st == RW_OK && !done) st = ext_cancelled(j, "while its run was brought back", err);
        if (st == RW_OK && !done && rw_now() - ckpt >= CHECKPOINT_SECONDS)
            st = rw_engine_run_checkpoint(j->e, &ckpt, err);
        if (st == RW_OK && !done) rw_engine_store_hand_over(e);
    }
    rw_store_import_detach(e->store);
    if (st == RW_OK) st = rw_engine_run_checkpoint(j->e, &ckpt, err);
    if (st == RW_OK) st = ext_cancelled(j, "before its run was published", err);
    if (st == RW_OK) ext_stage(j, "import");
    return st;
}

/* Takes an unsigned figure out of the command's summary ({"key":n,...}). */
static uint64_t summary_u64(const char *json, const char *key) {
    char pat[48];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(json, pat);
    return at ? strtoull(at + strlen(pat), NULL, 10) : 0;
}

/* The runs row: the run becomes visible, whole, as the command wrote it
 * (its snapshot's time, events, model and summary). Releases the run lock
 * and the store. */
static rw_status ext_publish(ext_job *j, rw_err *err) {
    rw_run_row row = j->run;
    row.id = j->id;
    row.finished_at = (int64_t)time(NULL);
    rw_status st = rw_store_run_publish(j->e->store, &row, err); /* releases the run lock */
    if (st != RW_OK) return st;
    j->reserved = j->have_lock = 0;
    rw_engine_store_unlock(j->e);
    j->have_store = 0;
    static const struct {
        const char *key;
        size_t at;
    } figures[] = {
        {"accounts", offsetof(rw_rescore_summary, accounts)},
        {"clusters", offsetof(rw_rescore_summary, clusters)},
        {"flagged_clusters", offsetof(rw_rescore_summary, flagged_clusters)},
        {"flagged_accounts", offsetof(rw_rescore_summary, flagged_accounts)},
        {"new_flagged", offsetof(rw_rescore_summary, new_flagged)},
        {"grown", offsetof(rw_rescore_summary, grown)},
        {"dissolved", offsetof(rw_rescore_summary, dissolved)},
        {"kept_ids", offsetof(rw_rescore_summary, kept_ids)},
    };
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
        uint64_t v = summary_u64(j->summary, figures[i].key);
        memcpy((char *)j->out + figures[i].at, &v, sizeof v);
    }
    ext_stage(j, "commit");
    return RW_OK;
}

/* From here on online scoring uses the new run, then the signup model
 * learns from it (a failure there is the note's, not the rescoring's). */
static rw_status ext_online(ext_job *j, rw_err *err) {
    rw_online_run r = {.run = j->id,
                       .snap = j->s,
                       .membership = j->membership,
                       .ncomm = j->ncomm,
                       .ids = j->ids,
                       .size = j->size,
                       .score = j->score,
                       .threshold = j->threshold,
                       .ascore = j->ascore};
    j->size[0] = 0; /* "in no cluster" is no community */
    rw_status st = rw_engine_online_install(j->e, &r, &j->out->online_locked, err);
    if (st != RW_OK) return st;
    ext_stage(j, "online");
    rw_learn_run lr = {j->id, j->s->n, j->s->kind, j->ascore, j->threshold, j->membership, j->size};
    rw_learn_after_run(j->e, &lr, j->out->learn, sizeof j->out->learn);
    ext_stage(j, "learn");
    return RW_OK;
}

/* Undoes what a failed import left (as rescore.c's job_end), removes the
 * copy and frees the job. */
static void ext_end(ext_job *j) {
    rw_engine *e = j->e;
    if (j->reserved) {
        if (!j->have_store) rw_engine_store_lock(e), j->have_store = 1;
        rw_err ignored;
        rw_engine_drop_unpublished(e, &ignored);
    }
    if (j->have_lock) rw_store_run_unlock(e->store);
    if (j->have_store) rw_engine_store_unlock(e);
    if (j->copied) rw_store_copy_remove(j->x->copy_path);
    pthread_mutex_lock(&e->gc_mu);
    e->rescoring = 0;
    pthread_mutex_unlock(&e->gc_mu);
    rw_graph_snap_free(j->s);
    free(j->membership), free(j->ascore), free(j->ids), free(j->size), free(j->score);
    j->out->seconds = rw_now() - j->t0;
}

rw_status rw_engine_rescore_external(rw_engine *e, const rw_rescore_params *rp, const rw_rescore_external *x,
                                     rw_rescore_summary *out, rw_stage_fn on_stage, void *ctx, rw_err *err) {
    static rw_status (*const pipeline[])(ext_job *, rw_err *) = {
        ext_snapshot, ext_copy, ext_command, ext_read, ext_import, ext_publish, ext_online,
    };
    memset(out, 0, sizeof *out);
    ext_job j = {.e = e, .rp = rp, .x = x, .out = out, .on_stage = on_stage, .ctx = ctx, .t0 = rw_now()};
    j.t = j.t0;
    rw_status st = rw_engine_need_graph(e, err);
    if (st != RW_OK) return st;
    pthread_mutex_lock(&e->gc_mu);
    int busy = e->rescoring;
    e->rescoring = 1;
    pthread_mutex_unlock(&e->gc_mu);
    if (busy) return rw_fail(err, RW_ERR_EXISTS, "a rescoring is already running");
    for (size_t i = 0; st == RW_OK && i < sizeof pipeline / sizeof pipeline[0]; i++) st = pipeline[i](&j, err);
    ext_end(&j);
    return st;
}
