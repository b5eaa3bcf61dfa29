/* Batch rescoring: snapshot, communities, features, model, stable cluster
 * ids, and the run written in chunks and published whole. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detect.h"
#include "detectors.h"
#include "learn.h"
#include "live.h"
#include "shard.h"

/* Accounts linked to their cluster only through an IP carry less of the
 * cluster's score than those sharing a device or a card. */
#define IP_ONLY_FACTOR  0.8
#define UNLINKED_FACTOR 0.5

typedef struct {
    uint32_t *prev; /* [n] previous run's cluster id per node (0: none) */
    uint32_t n;
} prev_ctx;

static void on_prev(void *ctx, uint32_t node, uint32_t cluster) {
    prev_ctx *p = ctx;
    if (node < p->n) p->prev[node] = cluster;
}

/* Appends a JSON string (escaped) to buf. */
static size_t json_str(char *buf, size_t size, size_t at, const char *s) {
    if (at < size) buf[at] = '"';
    at++;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            if (at + 1 < size) buf[at] = '\\', buf[at + 1] = (char)c;
            at += 2;
        } else if (c < 0x20) {
            if (at + 6 < size) snprintf(buf + at, size - at, "\\u%04x", c);
            at += 6;
        } else {
            if (at < size) buf[at] = (char)c;
            at++;
        }
    }
    if (at < size) buf[at] = '"';
    at++;
    if (at < size) buf[at] = 0;
    return at;
}

static void features_json(char *buf, size_t size, const rw_cluster_features *f) {
    size_t at = (size_t)snprintf(buf, size, "{");
    for (int i = 0; i < RW_F_COUNT && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, "%s\"%s\":%.4g", i ? "," : "", rw_feature_name(i),
                               isfinite(f->f[i]) ? f->f[i] : 0.0);
    if (at < size)
        snprintf(buf + at, size - at, ",\"shared_devices\":%u,\"shared_cards\":%u,\"shared_ips\":%u}",
                 f->shared[RW_KIND_DEVICE], f->shared[RW_KIND_PAYMENT], f->shared[RW_KIND_IP]);
}

static void reasons_json(char *buf, size_t size, char reasons[][160], size_t n) {
    size_t at = 1;
    buf[0] = '[';
    for (size_t i = 0; i < n; i++) {
        if (i && at < size) buf[at++] = ',';
        at = json_str(buf, size, at, reasons[i]);
    }
    if (at + 1 < size) {
        buf[at] = ']';
        buf[at + 1] = 0;
    } else {
        snprintf(buf, size, "[]");
    }
}

static rw_status load_model(rw_store *store, rw_model *m, int *version, rw_err *err) {
    char text[4096];
    rw_status st = rw_store_model_latest(store, version, text, sizeof text, err);
    if (st != RW_OK) return st;
    if (*version == 0) {
        rw_model_defaults(m);
        return RW_OK;
    }
    st = rw_model_parse(m, text, err);
    if (st != RW_OK) rw_err_prefix(err, "stored model version %d: ", *version);
    m->version = *version;
    return st;
}

rw_status rw_engine_model_text(rw_engine *e, int *version, char *text, size_t size, rw_err *err) {
    rw_model m;
    /* The store's connection is the group commit's too (a server may call
     * this from a request thread). */
    rw_engine_store_lock(e);
    rw_status st = load_model(e->store, &m, version, err);
    rw_engine_store_unlock(e);
    if (st == RW_OK) rw_model_format(&m, text, size);
    return st;
}

rw_status rw_engine_model_store(rw_engine *e, const char *text, const char *note, int *version, rw_err *err) {
    rw_model m;
    rw_status st = rw_model_parse(&m, text, err);
    if (st != RW_OK) return st;
    char canon[4096];
    rw_model_format(&m, canon, sizeof canon);
    rw_engine_store_lock(e);
    st = rw_store_model_put(e->store, canon, note, version, err);
    rw_engine_store_unlock(e);
    return st;
}

/* Gives each community with two or more accounts a cluster id: the id of
 * the previous cluster it overlaps most, if that cluster is not claimed by a
 * larger overlap, else a fresh one. Greedy by overlap size, so a split keeps
 * the id on its larger part. */
typedef struct {
    uint32_t comm, prev, overlap;
} claim;

static int claim_cmp(const void *a, const void *b) {
    const claim *x = a, *y = b;
    if (x->overlap != y->overlap) return x->overlap > y->overlap ? -1 : 1;
    if (x->comm != y->comm) return x->comm < y->comm ? -1 : 1;
    return x->prev < y->prev ? -1 : x->prev > y->prev;
}

static int u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static rw_status assign_ids(const rw_graph_snap *s, const uint32_t *membership, uint32_t ncomm,
                            const rw_cluster_features *feat, const uint32_t *prev, uint32_t max_id, uint32_t *ids,
                            uint64_t *kept, rw_err *err) {
    /* Pairs (community, previous id) over accounts, counted by sorting. */
    uint64_t npairs = 0;
    uint64_t *pairs = malloc(((size_t)s->n + 1) * sizeof *pairs);
    claim *claims = NULL;
    uint8_t *used = calloc((size_t)max_id + 2, 1);
    if (!pairs || !used) goto nomem;
    for (uint32_t v = 0; v < s->n; v++) {
        uint32_t c = membership[v];
        if (s->kind[v] != RW_KIND_ACCOUNT || feat[c].accounts < 2 || !prev[v] || prev[v] > max_id) continue;
        pairs[npairs++] = (uint64_t)c << 32 | prev[v];
    }
    qsort(pairs, npairs, sizeof *pairs, u64_cmp);
    claims = malloc((npairs + 1) * sizeof *claims);
    if (!claims) goto nomem;
    uint64_t nc = 0;
    for (uint64_t i = 0; i < npairs;) {
        uint64_t j = i;
        while (j < npairs && pairs[j] == pairs[i]) j++;
        claims[nc++] = (claim){(uint32_t)(pairs[i] >> 32), (uint32_t)pairs[i], (uint32_t)(j - i)};
        i = j;
    }
    qsort(claims, nc, sizeof *claims, claim_cmp);
    for (uint32_t c = 0; c < ncomm; c++) ids[c] = 0;
    *kept = 0;
    for (uint64_t i = 0; i < nc; i++) {
        if (ids[claims[i].comm] || used[claims[i].prev]) continue;
        ids[claims[i].comm] = claims[i].prev;
        used[claims[i].prev] = 1;
        (*kept)++;
    }
    uint32_t next = max_id;
    for (uint32_t c = 0; c < ncomm; c++)
        if (feat[c].accounts >= 2 && !ids[c]) ids[c] = ++next;
    free(pairs);
    free(claims);
    free(used);
    return RW_OK;
nomem:
    free(pairs);
    free(claims);
    free(used);
    return rw_fail(err, RW_ERR_NOMEM, "out of memory assigning cluster ids");
}

typedef struct {
    rw_engine *e;
    rw_stage_fn on_stage;
    void *ctx;
    double t;
} stages;

static void stage_done(stages *sg, const char *name) {
    double now = rw_now();
    if (sg->on_stage) sg->on_stage(sg->ctx, name, now - sg->t);
    sg->t = now;
}

typedef struct {
    uint32_t id, accounts;
    int flagged;
} prev_cluster;

static rw_status collect_prev(void *ctx, const rw_cluster_row *c) {
    prev_cluster **list = ctx;
    /* list[0] is a header: [0].id = count, [0].accounts = capacity */
    prev_cluster *l = *list;
    if (l[0].id + 1 >= l[0].accounts) {
        uint32_t cap = l[0].accounts * 2;
        prev_cluster *n = realloc(l, (size_t)cap * sizeof *n);
        if (!n) return RW_ERR_NOMEM;
        n[0].accounts = cap;
        *list = l = n;
    }
    l[++l[0].id] = (prev_cluster){c->id, c->accounts, c->flagged};
    return RW_OK;
}

/* The configured parameters as JSON: stored with a run, and compared with
 * the previous run's to tell whether anything changed. */
static void run_params(char *out, size_t size, const rw_rescore_params *rp) {
    rw_community_params p;
    double density = rw_engine_configured_params(rp, &p);
    snprintf(out, size,
             "{\"hub_degree\":%u,\"density\":%g,\"degree_offset\":%g,\"coherence_floor\":%g,\"iterations\":%d,"
             "\"seed\":%llu,\"kind_weight\":{\"ip\":%g,\"device\":%g,\"payment\":%g}}",
             p.hub_degree, density, p.degree_offset, p.coherence_floor, p.iterations, (unsigned long long)p.seed,
             p.kind_weight[RW_KIND_IP], p.kind_weight[RW_KIND_DEVICE], p.kind_weight[RW_KIND_PAYMENT]);
}

/* A run is written in chunks, each one short unsynced transaction, so the
 * group commit (signups made durable) waits for one chunk at most, not for
 * the whole run: a chunk ends after CHUNK_SECONDS or CHUNK_ROWS rows, then
 * the store is handed to whoever asked for it meanwhile. The store's
 * connection does not checkpoint while a run is written (a commit of the
 * group commit would copy the run's pages into the database while holding
 * the store): every CHECKPOINT_SECONDS the writer does, with the store
 * released. */
#define CHUNK_SECONDS      0.008
#define CHUNK_ROWS         65536
#define CHUNK_CHECK        64 /* rows between two looks at the clock */
#define CHECKPOINT_SECONDS 0.25

/* A batch rescoring's checkpoints run beside its write, on a thread of
 * their own (the store's checkpoint connection), a chunk behind the writer:
 * the last one, with the store released, then has little left to copy. */
typedef struct {
    rw_store *store;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int due, stop;
} side_ckpt;

static void *side_ckpt_main(void *arg) {
    side_ckpt *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->due && !c->stop) pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop) break;
        c->due = 0;
        pthread_mutex_unlock(&c->mu);
        rw_err err;
        /* A failure here loses nothing: the last checkpoint copies it all. */
        (void)rw_store_run_checkpoint(c->store, &err);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Starts the thread; NULL (checkpoints at the end only) when it cannot. */
static side_ckpt *side_ckpt_start(rw_store *store) {
    side_ckpt *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->store = store;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->th, NULL, side_ckpt_main, c) == 0) return c;
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
    return NULL;
}

/* Sets *flag (due or stop) and wakes the thread. */
static void side_ckpt_tell(side_ckpt *c, int *flag) {
    pthread_mutex_lock(&c->mu);
    *flag = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void side_ckpt_kick(side_ckpt *c) {
    if (c) side_ckpt_tell(c, &c->due);
}

static void side_ckpt_stop(side_ckpt *c) {
    if (!c) return;
    side_ckpt_tell(c, &c->stop);
    pthread_join(c->th, NULL);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

typedef struct {
    rw_engine *e;
    int64_t run;
    uint32_t rows;     /* in the open chunk */
    uint64_t chunks;   /* committed */
    double t0;         /* the open chunk's start */
    double ckpt;       /* the last checkpoint */
    int open;          /* a chunk's transaction is open */
    const int *cancel; /* rw_rescore_params.cancel */
    /* Puts the rows counted but still buffered, before a chunk ends: a
     * chunk holds exactly the rows counted in it. NULL: none buffered. */
    rw_status (*flush)(void *ctx, rw_err *err);
    void *flush_ctx;
    side_ckpt *side; /* a batch-only engine's checkpoints beside the write, or NULL */
} chunker;

/* Copies the WAL into the database with the store released (the writer's
 * own connection does it), then takes the store back. */
static rw_status chunk_checkpoint(chunker *w, rw_err *err) {
    return rw_engine_run_checkpoint(w->e, &w->ckpt, err);
}

/* Commits the open chunk (a test hook may fail it first). */
static rw_status chunk_end(chunker *w, rw_err *err) {
    rw_engine *e = w->e;
    if (!w->open) return RW_OK;
    w->open = 0;
    rw_status st = e->chunk_fn ? e->chunk_fn(e->chunk_ctx, w->run, w->chunks + 1) : RW_OK;
    if (st != RW_OK) {
        rw_store_rollback(e->store);
        return rw_fail(err, st, "writing run %lld: chunk %llu failed", (long long)w->run,
                       (unsigned long long)w->chunks + 1);
    }
    st = rw_store_commit(e->store, 0, err);
    if (st == RW_OK) w->chunks++;
    return st;
}

/* Makes room for one row: ends the open chunk when it is full and hands
 * the store over, then begins a chunk if none is open. With the store held. */
static rw_status chunk_row(chunker *w, rw_err *err) {
    rw_engine *e = w->e;
    if (w->open) {
        /* A batch-only engine records no signups: no one waits for the
         * store, so chunks are as large as they go and the WAL is copied at
         * the end. */
        int full = e->chunk_rows ? w->rows >= e->chunk_rows
                   : e->batch_only
                       ? w->rows >= CHUNK_ROWS
                       : w->rows >= CHUNK_ROWS || (w->rows % CHUNK_CHECK == 0 && rw_now() - w->t0 >= CHUNK_SECONDS);
        if (!full) {
            w->rows++;
            return RW_OK;
        }
        rw_status st = w->flush ? w->flush(w->flush_ctx, err) : RW_OK;
        if (st == RW_OK) st = chunk_end(w, err);
        if (st == RW_OK && w->cancel && __atomic_load_n(w->cancel, __ATOMIC_ACQUIRE))
            st = rw_fail(err, RW_ERR_CANCELLED, "rescoring cancelled while writing run %lld; nothing was published",
                         (long long)w->run);
        if (st == RW_OK && !e->batch_only && rw_now() - w->ckpt >= CHECKPOINT_SECONDS) st = chunk_checkpoint(w, err);
        if (st == RW_OK) side_ckpt_kick(w->side);
        if (st != RW_OK) return st;
        rw_engine_store_hand_over(e);
    }
    rw_status st = rw_store_begin_unsynced(e->store, err);
    if (st != RW_OK) return st;
    w->open = 1;
    w->rows = 1;
    w->t0 = rw_now();
    return RW_OK;
}

/* Does attribute v of a cluster get a row in the run (run_attributes, and
 * so run_members)? Subnets and attributes of one account do not. */
static int run_attribute(const rw_graph_snap *s, uint32_t v) {
    return s->kind[v] != RW_KIND_SUBNET && rw_graph_snap_degree(s, v) >= 2;
}

/* A run's rows go in in the order of the b-tree that holds them, so every
 * chunk appends instead of revisiting pages: clusters by id, and the
 * members of each cluster (accounts, and attributes the snapshot saw with
 * two accounts or more) by (cluster id, node), as (id << 32 | node). Caller
 * frees both. */
static rw_status write_order(const rw_graph_snap *s, const uint32_t *membership, uint32_t ncomm,
                             const rw_cluster_features *feat, const uint32_t *ids, uint32_t **clusters,
                             uint32_t *nclusters, uint64_t **members, uint64_t *nmembers, rw_err *err) {
    *nclusters = 0;
    *nmembers = 0;
    *clusters = malloc(((size_t)ncomm + 1) * sizeof **clusters);
    *members = malloc(((size_t)s->n + 1) * sizeof **members);
    if (!*clusters || !*members) return rw_fail(err, RW_ERR_NOMEM, "out of memory for %u nodes", s->n);
    /* Communities by id, through the members array as scratch. */
    uint64_t *key = *members;
    for (uint32_t c = 0; c < ncomm; c++)
        if (feat[c].accounts >= 2) key[(*nclusters)++] = (uint64_t)ids[c] << 32 | c;
    qsort(key, *nclusters, sizeof *key, u64_cmp);
    for (uint32_t i = 0; i < *nclusters; i++) (*clusters)[i] = (uint32_t)key[i];
    /* Members by (id, node): a counting sort by the community's place in
     * id order, stable in node order. */
    uint32_t *place = malloc(((size_t)ncomm + 1) * sizeof *place);
    uint64_t *at = calloc((size_t)*nclusters + 1, sizeof *at);
    if (!place || !at) {
        free(place), free(at);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for %u communities", ncomm);
    }
    for (uint32_t i = 0; i < *nclusters; i++) place[(*clusters)[i]] = i;
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t v = 0; v < s->n; v++) {
            uint32_t c = membership[v];
            if (feat[c].accounts < 2) continue;
            if (s->kind[v] != RW_KIND_ACCOUNT && !run_attribute(s, v)) continue;
            if (pass == 0)
                at[place[c] + 1]++;
            else
                (*members)[at[place[c]]++] = (uint64_t)ids[c] << 32 | v;
        }
        if (pass == 0)
            for (uint32_t i = 0; i < *nclusters; i++) at[i + 1] += at[i];
    }
    *nmembers = at[*nclusters];
    free(place);
    free(at);
    return RW_OK;
}

/* One rescoring on its way through the stages below, each a function of
 * the job: snapshot, previous run, communities and features, model, ids and
 * write order, write, comparison, publish, online install. */
typedef struct {
    rw_engine *e;
    const rw_rescore_params *rp;
    rw_rescore_summary *out;
    stages sg;
    double t0;
    int64_t started;
    rw_graph_snap *s;
    uint64_t events; /* in the log when the snapshot was taken */
    rw_detection d;
    rw_model model;
    int model_version;
    int64_t prev_run;
    int same_input; /* no new events, same parameters and model as the previous run */
    char params[512];
    uint32_t max_id;     /* the highest cluster id ever given */
    uint32_t *prev;      /* [n] previous run's cluster id per node (0: none) */
    prev_cluster *prevc; /* the previous run's clusters (collect_prev) */
    uint32_t *ids;       /* [ncomm] cluster id per community */
    uint32_t *corder;    /* clusters in write order */
    uint32_t nclusters;
    uint64_t *members; /* (id << 32 | node) in write order */
    uint64_t nmembers;
    rw_run_row run;
    char summary[512];
    int have_store, have_lock, reserved;
    chunker w;
} rescore_job;

rw_status rw_engine_snapshot(rw_engine *e, rw_graph_snap **s, uint64_t *events, double *locked, rw_err *err) {
    pthread_rwlock_rdlock(&e->lock);
    uint32_t n0 = rw_graph_node_count(e->graph);
    uint64_t m0 = rw_graph_edge_count(e->graph);
    pthread_rwlock_unlock(&e->lock);
    rw_status st = rw_graph_snap_reserve(s, n0 + n0 / 64 + 4096, m0 + m0 / 64 + 16384, err);
    if (st == RW_OK) {
        pthread_rwlock_rdlock(&e->lock);
        double t_lock = rw_now();
        st = rw_graph_snapshot_fill(e->graph, *s, err);
        if (events) *events = e->events;
        *locked = rw_now() - t_lock;
        pthread_rwlock_unlock(&e->lock);
    }
    if (st == RW_OK) st = rw_graph_snap_index(*s, err); /* signups go on meanwhile */
    return st;
}

static rw_status stage_snapshot(rescore_job *j, rw_err *err) {
    rw_engine *e = j->e;
    /* Nothing records into a batch-only engine, and from the snapshot on
     * the rescoring reads the snapshot alone: the graph's index goes before
     * the snapshot is taken beside the graph, and the rest of the graph
     * after, before the detectors take their memory (rw_engine_need_graph
     * loads it again for whatever asks later). */
    if (e->batch_only) {
        pthread_rwlock_wrlock(&e->lock);
        rw_graph_drop_index(e->graph);
        pthread_rwlock_unlock(&e->lock);
    }
    rw_status st = rw_engine_snapshot(e, &j->s, &j->events, &j->out->snapshot_locked, err);
    if (e->batch_only) {
        pthread_rwlock_wrlock(&e->lock);
        rw_graph_free(e->graph);
        e->graph = NULL;
        pthread_rwlock_unlock(&e->lock);
    }
    if (st == RW_OK) stage_done(&j->sg, "snapshot");
    return st;
}

/* The model, the previous run's membership and clusters, and whether its
 * input was this one. Read through a connection of its own: the previous
 * run is a second of reading at a million accounts, which on the store's
 * connection would hold up the group commit. */
static rw_status stage_previous(rescore_job *j, rw_err *err) {
    rw_store *rs = NULL;
    run_params(j->params, sizeof j->params, j->rp);
    rw_status st = rw_store_open(&rs, j->e->db_path, RW_STORE_READONLY, err);
    if (st == RW_OK) st = load_model(rs, &j->model, &j->model_version, err);
    if (st == RW_OK) st = rw_store_latest_run(rs, &j->prev_run, err);
    if (st == RW_OK) st = rw_store_max_cluster_id(rs, &j->max_id, err);
    j->prev = calloc((size_t)j->s->n + 1, sizeof *j->prev);
    j->prevc = malloc(16 * sizeof *j->prevc);
    if (!j->prev || !j->prevc) {
        rw_store_close(rs);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    }
    j->prevc[0] = (prev_cluster){0, 16, 0};
    if (st == RW_OK && j->prev_run) {
        rw_run_row pr;
        char pparams[512], psummary[512];
        st = rw_store_get_run(rs, j->prev_run, &pr, pparams, psummary, sizeof pparams, err);
        j->same_input = st == RW_OK && pr.events == j->events && pr.model_version == j->model_version &&
                        !strcmp(pparams, j->params);
    }
    if (st == RW_OK && j->prev_run) {
        prev_ctx pc = {j->prev, j->s->n};
        st = rw_store_run_membership(rs, j->prev_run, on_prev, &pc, err);
        if (st == RW_OK) st = rw_store_run_clusters(rs, j->prev_run, -1.0, 0, 0, collect_prev, &j->prevc, err);
    }
    rw_store_close(rs);
    if (st == RW_OK) stage_done(&j->sg, "previous run");
    return st;
}

/* The whole graph's edge weight totals, which every shard's resolution
 * and Leiden objective need, and which hubs glue (s->glue), judged here
 * once for the cut into components and for every shard; *weights the edge
 * weights (caller frees; rw_shard_detect takes them). */
static rw_status weight_totals(rw_graph_snap *s, const rw_rescore_params *rp, rw_weight_totals *t, uint32_t *hub_degree,
                               double **weights, rw_err *err) {
    rw_community_params p;
    rw_engine_configured_params(rp, &p);
    *hub_degree = p.hub_degree;
    double *w = malloc((s->m + 1) * sizeof *w);
    free(s->glue);
    s->glue = malloc((size_t)s->n + 1);
    if (!w || !s->glue) {
        free(w);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for %llu edges", (unsigned long long)s->m);
    }
    rw_status st = rw_detect_hub_glue(s, p.hub_degree, s->glue, err);
    if (st == RW_OK) st = rw_detect_edge_weights(s, &p, w, err);
    if (st == RW_OK) rw_detect_weight_totals(s, &p, w, &t->all, &t->kept);
    if (st == RW_OK)
        *weights = w;
    else
        free(w);
    return st;
}

/* Communities, features and the model's scores, on shards of components
 * (engine/shard.c), warm-started from the previous clusters. Leiden from a
 * warm start is not a fixed point (ties move a few vertices), so with
 * nothing new the previous partition is kept as is: the same input gives
 * the same run. */
static rw_status stage_detect(rescore_job *j, rw_err *err) {
    rw_shard_job job = {.density = j->rp ? j->rp->density : 0,
                        .hub_degree = j->rp ? j->rp->hub_degree : 0,
                        .threads = j->rp ? j->rp->threads : 0,
                        .init = j->prev_run ? j->prev : NULL,
                        .max_label = j->max_id,
                        .keep_init = j->same_input,
                        .rescore_rules = 1,
                        .trim = j->e->batch_only, /* otherwise online scoring reads all of it (stage_online) */
                        .node_slice = j->e->shard_slice,
                        .comm_slice = j->e->shard_slice,
                        .model = j->model};
    rw_status st = weight_totals(j->s, j->rp, &job.totals, &job.hub_degree_used, &job.weights, err);
    if (st == RW_OK) st = rw_shard_detect(j->s, &job, j->rp ? j->rp->shards : NULL, &j->d, j->out, err);
    if (st == RW_OK) stage_done(&j->sg, "detect");
    return st;
}

/* Stable cluster ids and the write order. */
static rw_status stage_model(rescore_job *j, rw_err *err) {
    rw_detection *d = &j->d;
    j->ids = malloc(((size_t)d->ncomm + 1) * sizeof *j->ids);
    if (!j->ids) return rw_fail(err, RW_ERR_NOMEM, "out of memory for %u communities", d->ncomm);
    rw_status st =
        assign_ids(j->s, d->membership, d->ncomm, d->feat, j->prev, j->max_id, j->ids, &j->out->kept_ids, err);
    if (st == RW_OK)
        st = write_order(j->s, d->membership, d->ncomm, d->feat, j->ids, &j->corder, &j->nclusters, &j->members,
                         &j->nmembers, err);
    if (st == RW_OK) stage_done(&j->sg, "model");
    return st;
}

/* The texts of a window of clusters' rows. Formatting a cluster's
 * features and reasons takes about as long as inserting its row, so the
 * next window's texts are made on the other workers while this thread
 * inserts a window's rows (and helps with the texts once it is done). */
#define TEXT_WINDOW 8192

typedef struct {
    char features[1024], reasons[1200];
} cluster_text;

typedef struct {
    const rescore_job *j;
    uint32_t first, count; /* the window's first cluster in write order, and how many */
    cluster_text *t;
} text_job;

static rw_status format_texts(void *ctx, unsigned worker, uint64_t from, uint64_t to, rw_err *err) {
    (void)worker, (void)err;
    const text_job *x = ctx;
    char reasons[8][160];
    for (uint64_t i = from; i < to; i++) {
        const rw_cluster_features *f = &x->j->d.feat[x->j->corder[x->first + i]];
        features_json(x->t[i].features, sizeof x->t[i].features, f);
        reasons_json(x->t[i].reasons, sizeof x->t[i].reasons, reasons, rw_cluster_reasons(f, reasons, 8));
    }
    return RW_OK;
}

/* Cluster rows waiting for their INSERT (see row_buffer below). */
typedef struct {
    rescore_job *j;
    rw_cluster_row row[RW_STORE_PUT_MANY];
    uint32_t n;
} cluster_buffer;

/* chunker.flush, and when the buffer is full */
static rw_status flush_clusters(void *ctx, rw_err *err) {
    cluster_buffer *b = ctx;
    rw_status st = rw_store_put_clusters(b->j->e->store, b->j->run.id, b->row, b->n, err);
    b->n = 0;
    return st;
}

/* The rows of one window whose texts are made. */
static rw_status put_window(rescore_job *j, cluster_buffer *b, const text_job *x, rw_err *err) {
    const rw_detection *d = &j->d;
    rw_status st = RW_OK;
    for (uint32_t i = 0; i < x->count && st == RW_OK; i++) {
        uint32_t c = j->corder[x->first + i];
        j->out->clusters++;
        int flagged = d->cscore[c] >= j->model.threshold;
        j->out->flagged_clusters += (uint64_t)flagged;
        st = chunk_row(&j->w, err); /* first: it may flush the buffer */
        b->row[b->n++] = (rw_cluster_row){.id = j->ids[c],
                                          .score = d->cscore[c],
                                          .flagged = flagged,
                                          .accounts = d->feat[c].accounts,
                                          .attributes = d->feat[c].attributes,
                                          .first_seen = d->feat[c].first_signup,
                                          .last_seen = d->feat[c].last_signup,
                                          .features = x->t[i].features,
                                          .reasons = x->t[i].reasons};
        if (st == RW_OK && b->n == RW_STORE_PUT_MANY) st = flush_clusters(b, err);
    }
    /* the texts go on to the next window */
    if (st == RW_OK) st = flush_clusters(b, err);
    return st;
}

/* The clusters' rows, by id. */
static rw_status write_clusters(rescore_job *j, rw_err *err) {
    uint32_t window = j->nclusters < TEXT_WINDOW ? j->nclusters : TEXT_WINDOW;
    cluster_text *t = malloc(2 * ((size_t)window + 1) * sizeof *t);
    cluster_buffer *b = malloc(sizeof *b);
    if (!t || !b) {
        free(t), free(b);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for %u clusters' texts", window);
    }
    b->j = j;
    b->n = 0;
    j->w.flush = flush_clusters;
    j->w.flush_ctx = b;
    text_job x[2] = {{.j = j, .t = t}, {.j = j, .t = t + window + 1}};
    x[0].count = window;
    rw_status st = rw_par_run(j->d.workers, x[0].count, 256, format_texts, &x[0], err);
    for (uint32_t k = 0; st == RW_OK && x[k % 2].first < j->nclusters; k++) {
        text_job *cur = &x[k % 2], *next = &x[(k + 1) % 2];
        next->first = cur->first + cur->count;
        next->count = j->nclusters - next->first < window ? j->nclusters - next->first : window;
        rw_par *par = NULL;
        if (next->count) st = rw_par_start(&par, j->d.workers, next->count, 256, format_texts, next, err);
        if (st == RW_OK) st = put_window(j, b, cur, err);
        rw_status fst = rw_par_finish(par, err); /* always: its workers may be running */
        if (st == RW_OK) st = fst;
        if (!next->count) break;
    }
    j->w.flush = NULL;
    free(t);
    free(b);
    return st;
}

/* Why account v was flagged through a shared device, card or IP address
 * (d->via), as a JSON array into buf. */
static void via_reasons(const rescore_job *j, uint32_t v, char *buf, size_t size) {
    const rw_graph_snap *s = j->s;
    const rw_detection *d = &j->d;
    uint32_t t = d->via[v], nf = 0, deg = rw_graph_snap_degree(s, t);
    for (uint64_t k = s->off[t]; k < s->off[t + 1]; k++)
        nf += s->nbr[k] != v && d->ascore[s->nbr[k]] >= j->model.threshold && d->via[s->nbr[k]] == RW_NODE_NONE;
    char r[2][160];
    snprintf(r[0], 160, "uses a %s with %u flagged account%s (of %u accounts on it)",
             s->kind[t] == RW_KIND_PAYMENT ? "payment card"
             : s->kind[t] == RW_KIND_IP    ? "IP address"
                                           : "device",
             nf, nf == 1 ? "" : "s", deg);
    /* Short of the threshold through the attribute alone: its own
     * score made up the rest (COMBINED_MIN). */
    int combined = d->prop[v] < j->model.threshold;
    if (combined) snprintf(r[1], 160, "enough together with its own score in its cluster");
    reasons_json(buf, size, r, combined ? 2 : 1);
}

/* Why account v, flagged as a member of community c, was flagged. */
static void member_reasons(const rescore_job *j, uint32_t v, uint32_t c, char *buf, size_t size) {
    const rw_detection *d = &j->d;
    uint8_t b = d->abits[v];
    char r[2][160];
    snprintf(r[0], 160, "member of cluster %u (score %.2f, %u accounts)", j->ids[c], d->cscore[c], d->feat[c].accounts);
    snprintf(r[1], 160, "shares %s with other members%s",
             (b & RW_ABIT_DEVICE) && (b & RW_ABIT_CARD) ? "a device and a card"
             : b & RW_ABIT_DEVICE                       ? "a device"
             : b & RW_ABIT_CARD                         ? "a card"
             : b & RW_ABIT_IP                           ? "an IP address"
                                                        : "nothing directly",
             b & RW_ABIT_BURST ? ", signed up in its burst" : "");
    reasons_json(buf, size, r, 2);
}

/* Rows waiting for their INSERT, RW_STORE_PUT_MANY of a table at most:
 * one statement for many rows costs about half as much per row. */
typedef struct {
    rw_run_account_put acc[RW_STORE_PUT_MANY];
    char why[RW_STORE_PUT_MANY][400];
    rw_run_node_put node[RW_STORE_PUT_MANY];
    uint32_t nacc, nnode;
    int members;         /* node rows are run_members' (else run_attributes') */
    const uint32_t *cid; /* [ncomm] a community's cluster id, 0 below two accounts */
    rescore_job *j;
} row_buffer;

static rw_status flush_accounts(rescore_job *j, row_buffer *b, rw_err *err) {
    rw_status st = rw_store_put_run_accounts(j->e->store, j->run.id, b->acc, b->nacc, err);
    b->nacc = 0;
    return st;
}

static rw_status flush_nodes(rescore_job *j, row_buffer *b, rw_err *err) {
    rw_status st = b->members ? rw_store_put_run_members(j->e->store, j->run.id, b->node, b->nnode, err)
                              : rw_store_put_run_attributes(j->e->store, j->run.id, b->node, b->nnode, err);
    b->nnode = 0;
    return st;
}

/* chunker.flush */
static rw_status flush_all(void *ctx, rw_err *err) {
    row_buffer *b = ctx;
    rw_status st = flush_accounts(b->j, b, err);
    return st == RW_OK ? flush_nodes(b->j, b, err) : st;
}

/* The rows of node v: an account's score and reasons, or a cluster's
 * attribute; into b, flushed when full. */
static rw_status write_node(rescore_job *j, row_buffer *b, uint32_t v, rw_err *err) {
    const rw_graph_snap *s = j->s;
    const rw_detection *d = &j->d;
    uint32_t c = d->membership[v], cluster = b->cid[c];
    rw_status st = RW_OK;
    if (s->kind[v] != RW_KIND_ACCOUNT) {
        if (!cluster || !run_attribute(s, v)) return RW_OK;
        st = chunk_row(&j->w, err);
        b->node[b->nnode++] = (rw_run_node_put){.node = v, .cluster = cluster};
        if (st == RW_OK && b->nnode == RW_STORE_PUT_MANY) st = flush_nodes(j, b, err);
        return st;
    }
    j->out->accounts++;
    st = chunk_row(&j->w, err); /* first: it may flush the buffer */
    double score = d->ascore[v];
    char *why = b->why[b->nacc];
    if (d->via[v] != RW_NODE_NONE)
        via_reasons(j, v, why, sizeof b->why[0]);
    else if (cluster && score >= j->model.threshold)
        member_reasons(j, v, c, why, sizeof b->why[0]);
    else
        why = NULL;
    int flagged = score >= j->model.threshold;
    j->out->flagged_accounts += (uint64_t)flagged;
    b->acc[b->nacc++] =
        (rw_run_account_put){.account = v, .cluster = cluster, .score = score, .flagged = flagged, .reasons = why};
    if (st == RW_OK && b->nacc == RW_STORE_PUT_MANY) st = flush_accounts(j, b, err);
    return st;
}

/* Every node's rows, then the members' (each table's rows in the order of
 * its b-tree). */
static rw_status write_nodes(rescore_job *j, rw_err *err) {
    const rw_detection *d = &j->d;
    row_buffer *b = malloc(sizeof *b);
    uint32_t *cid = malloc(((size_t)d->ncomm + 1) * sizeof *cid);
    if (!b || !cid) {
        free(b), free(cid);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for the run's rows");
    }
    /* what write_node asks of every node's community, in a small array */
    for (uint32_t c = 0; c < d->ncomm; c++) cid[c] = d->feat[c].accounts >= 2 ? j->ids[c] : 0;
    b->nacc = b->nnode = 0;
    b->members = 0;
    b->cid = cid;
    b->j = j;
    j->w.flush = flush_all;
    j->w.flush_ctx = b;
    rw_status st = RW_OK;
    for (uint32_t v = 0; v < j->s->n && st == RW_OK; v++) st = write_node(j, b, v, err);
    if (st == RW_OK) st = flush_all(b, err);
    b->members = 1;
    for (uint64_t i = 0; i < j->nmembers && st == RW_OK; i++) {
        st = chunk_row(&j->w, err);
        b->node[b->nnode++] =
            (rw_run_node_put){.cluster = (uint32_t)(j->members[i] >> 32), .node = (uint32_t)j->members[i]};
        if (st == RW_OK && b->nnode == RW_STORE_PUT_MANY) st = flush_nodes(j, b, err);
    }
    if (st == RW_OK) st = flush_all(b, err);
    j->w.flush = NULL;
    free(b);
    free(cid);
    return st;
}

/* The run's rows in chunks under a reserved id (rw_store_run_publish then
 * makes it visible, whole). Takes the store's run lock and the store. */
static rw_status stage_write(rescore_job *j, rw_err *err) {
    rw_engine *e = j->e;
    j->run = (rw_run_row){.started_at = j->started,
                          .events = j->events,
                          .model_version = j->model_version,
                          .params = j->params,
                          .summary = "{}"};
    rw_status st = rw_store_run_lock(e->store, err); /* without the store: may wait for another process */
    if (st != RW_OK) return st;
    j->have_lock = 1;
    rw_engine_store_lock(e);
    j->have_store = 1;
    st = rw_engine_drop_unpublished(e, err);
    if (st == RW_OK) st = rw_store_run_reserve(e->store, j->started, &j->run.id, err);
    if (st != RW_OK) return st;
    j->reserved = 1;
    j->out->run = j->run.id;
    j->w.run = j->run.id;
    j->w.ckpt = rw_now();
    /* No signup waits for a batch-only engine's store: its checkpoints can
     * run on a connection of their own beside the write. */
    j->w.side = e->batch_only ? side_ckpt_start(e->store) : NULL;
    st = write_clusters(j, err);
    if (st == RW_OK) st = write_nodes(j, err);
    if (st == RW_OK) st = chunk_end(&j->w, err);
    side_ckpt_stop(j->w.side);
    j->w.side = NULL;
    /* What the chunks left in the WAL goes into the database now, with the
     * store released, rather than in a commit of the group commit's once
     * the run is published. */
    if (st == RW_OK) st = chunk_checkpoint(&j->w, err);
    if (st == RW_OK) stage_done(&j->sg, "write");
    return st;
}

/* The flagged clusters compared with the previous run's: new, grown,
 * dissolved. */
static rw_status stage_compare(rescore_job *j, rw_err *err) {
    const rw_detection *d = &j->d;
    rw_rescore_summary *out = j->out;
    const prev_cluster *prevc = j->prevc;
    uint32_t np = prevc[0].id, top = j->max_id + 1;
    uint8_t *was = calloc((size_t)top + 1, 1), *now = calloc((size_t)top + 1, 1);
    uint32_t *was_acc = calloc((size_t)top + 1, sizeof *was_acc);
    if (!was || !was_acc || !now) {
        free(was), free(was_acc), free(now);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    }
    for (uint32_t i = 1; i <= np; i++)
        if (prevc[i].flagged && prevc[i].id <= top) was[prevc[i].id] = 1, was_acc[prevc[i].id] = prevc[i].accounts;
    out->prev_clusters = np;
    for (uint32_t c = 0; c < d->ncomm; c++) {
        if (d->feat[c].accounts < 2 || d->cscore[c] < j->model.threshold) continue;
        uint32_t id = j->ids[c];
        if (id <= top && was[id]) {
            now[id] = 1;
            if (d->feat[c].accounts > was_acc[id]) out->grown++;
        } else {
            out->new_flagged++;
        }
    }
    for (uint32_t i = 1; i <= np; i++)
        if (prevc[i].flagged && prevc[i].id <= top && !now[prevc[i].id]) out->dissolved++;
    free(was), free(was_acc), free(now);
    return RW_OK;
}

/* The runs row with its summary: the run becomes visible, whole. Releases
 * the run lock and the store. */
static rw_status stage_publish(rescore_job *j, rw_err *err) {
    rw_rescore_summary *out = j->out;
    out->seconds = rw_now() - j->t0;
    snprintf(j->summary, sizeof j->summary,
             "{\"accounts\":%llu,\"clusters\":%llu,\"flagged_clusters\":%llu,\"flagged_accounts\":%llu,"
             "\"new_flagged\":%llu,\"grown\":%llu,\"dissolved\":%llu,\"kept_ids\":%llu,\"seconds\":%.2f}",
             (unsigned long long)out->accounts, (unsigned long long)out->clusters,
             (unsigned long long)out->flagged_clusters, (unsigned long long)out->flagged_accounts,
             (unsigned long long)out->new_flagged, (unsigned long long)out->grown, (unsigned long long)out->dissolved,
             (unsigned long long)out->kept_ids, out->seconds);
    j->run.finished_at = (int64_t)time(NULL);
    j->run.summary = j->summary;
    rw_status st = rw_store_run_publish(j->e->store, &j->run, err); /* releases the run lock */
    if (st != RW_OK) return st;
    j->reserved = j->have_lock = 0;
    stage_done(&j->sg, "commit");
    rw_engine_store_unlock(j->e);
    j->have_store = 0;
    return RW_OK;
}

/* From here on online scoring uses the new run. */
static rw_status stage_online(rescore_job *j, rw_err *err) {
    const rw_detection *d = &j->d;
    uint32_t *size = malloc(((size_t)d->ncomm + 1) * sizeof *size);
    if (!size) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    for (uint32_t c = 0; c < d->ncomm; c++) size[c] = d->feat[c].accounts;
    rw_online_run r = {.run = j->run.id,
                       .snap = j->s,
                       .membership = d->membership,
                       .ncomm = d->ncomm,
                       .ids = j->ids,
                       .size = size,
                       .score = d->cscore,
                       .threshold = j->model.threshold,
                       .ascore = d->ascore};
    rw_status st = rw_engine_online_install(j->e, &r, &j->out->online_locked, err);
    free(size);
    if (st == RW_OK) stage_done(&j->sg, "online");
    return st;
}

/* The signup model learns from the new run (engine/distill.c). The run is
 * published by now: a failure here is reported in the note, not as the
 * rescoring's. */
static rw_status stage_learn(rescore_job *j, rw_err *err) {
    (void)err;
    const rw_detection *d = &j->d;
    uint32_t *size = malloc(((size_t)d->ncomm + 1) * sizeof *size);
    if (!size) return RW_OK;
    for (uint32_t c = 0; c < d->ncomm; c++) size[c] = d->feat[c].accounts;
    rw_learn_run r = {j->run.id, j->s->n, j->s->kind, d->ascore, j->model.threshold, d->membership, size};
    rw_learn_after_run(j->e, &r, j->out->learn, sizeof j->out->learn);
    free(size);
    stage_done(&j->sg, "learn");
    return RW_OK;
}

/* Undoes what a failed write left (best effort: what stays, a full disk,
 * is invisible, and the next rescoring or writable open removes it) and
 * frees the job. */
static void job_end(rescore_job *j) {
    rw_engine *e = j->e;
    if (j->w.open) rw_store_rollback(e->store);
    if (j->reserved) {
        if (!j->have_store) rw_engine_store_lock(e), j->have_store = 1;
        rw_err ignored;
        rw_engine_drop_unpublished(e, &ignored);
    }
    if (j->have_lock) rw_store_run_unlock(e->store);
    if (j->have_store) rw_engine_store_unlock(e);
    pthread_mutex_lock(&e->gc_mu);
    e->rescoring = 0;
    pthread_mutex_unlock(&e->gc_mu);
    rw_graph_snap_free(j->s);
    rw_detection_free(&j->d);
    free(j->prev);
    free(j->ids);
    free(j->prevc);
    free(j->corder);
    free(j->members);
    j->out->seconds = rw_now() - j->t0;
}

rw_status rw_engine_rescore(rw_engine *e, const rw_rescore_params *rp, rw_rescore_summary *out, rw_stage_fn on_stage,
                            void *ctx, rw_err *err) {
    static rw_status (*const pipeline[])(rescore_job *, rw_err *) = {
        stage_snapshot, stage_previous, stage_detect, stage_model, stage_write,
        stage_compare,  stage_publish,  stage_online, stage_learn,
    };
    static const char *const stage_names[] = {"snapshot", "previous run", "detect", "model", "write",
                                              "compare",  "publish",      "online", "learn"};
    memset(out, 0, sizeof *out);
    rescore_job j = {.e = e, .rp = rp, .out = out, .sg = {e, on_stage, ctx, rw_now()}};
    j.t0 = j.sg.t;
    j.started = (int64_t)time(NULL);
    j.w.e = e;
    j.w.cancel = rp ? rp->cancel : NULL;
    rw_status st = rw_engine_need_graph(e, err);
    if (st == RW_OK) st = rw_detect_init(1, err); /* idempotent: igraph error handler, BLAS threads */
    if (st != RW_OK) return st;
    pthread_mutex_lock(&e->gc_mu);
    int busy = e->rescoring;
    e->rescoring = 1;
    pthread_mutex_unlock(&e->gc_mu);
    if (busy) return rw_fail(err, RW_ERR_EXISTS, "a rescoring is already running");
    for (size_t i = 0; st == RW_OK && i < sizeof pipeline / sizeof pipeline[0]; i++) {
        /* Once published the run is in force: what follows is not undone. */
        if (j.w.cancel && pipeline[i] != stage_online && pipeline[i] != stage_learn &&
            __atomic_load_n(j.w.cancel, __ATOMIC_ACQUIRE))
            st = rw_fail(err, RW_ERR_CANCELLED, "rescoring cancelled before its %s stage; nothing was published",
                         stage_names[i]);
        else
            st = pipeline[i](&j, err);
    }
    job_end(&j);
    return st;
}

rw_status rw_engine_latest_run(rw_engine *e, int64_t *run, rw_err *err) {
    rw_engine_store_lock(e);
    rw_status st = rw_store_latest_run(e->store, run, err);
    rw_engine_store_unlock(e);
    return st;
}

static rw_status resolve_run(rw_engine *e, int64_t *run, rw_err *err) {
    int64_t latest = 0;
    rw_status st = rw_store_latest_run(e->store, &latest, err);
    if (st != RW_OK) return st;
    if (!latest) return rw_fail(err, RW_ERR_NOTFOUND, "no run yet: run `ringwatch rescore` first");
    if (!*run) {
        *run = latest;
        return RW_OK;
    }
    int exists = 0;
    st = rw_store_run_exists(e->store, *run, &exists, err);
    if (st == RW_OK && !exists)
        st = rw_fail(err, RW_ERR_NOTFOUND, "no run %lld (the newest is %lld)", (long long)*run, (long long)latest);
    return st;
}

rw_status rw_engine_clusters(rw_engine *e, int64_t run, double min_score, uint32_t cluster_id, uint64_t limit,
                             rw_status (*cb)(void *ctx, const rw_cluster_row *c), void *ctx, rw_err *err) {
    rw_engine_store_lock(e);
    rw_status st = resolve_run(e, &run, err);
    if (st == RW_OK) st = rw_store_run_clusters(e->store, run, min_score, cluster_id, limit, cb, ctx, err);
    rw_engine_store_unlock(e);
    return st;
}

rw_status rw_engine_scores(rw_engine *e, int64_t run, rw_status (*cb)(void *ctx, const rw_score_row *r), void *ctx,
                           rw_err *err) {
    rw_engine_store_lock(e);
    rw_status st = resolve_run(e, &run, err);
    if (st == RW_OK) st = rw_store_run_scores(e->store, run, cb, ctx, err);
    rw_engine_store_unlock(e);
    return st;
}

rw_status rw_engine_account(rw_engine *e, const char *ext, rw_account_info *out, rw_err *err) {
    memset(out, 0, sizeof *out);
    rw_status need = rw_engine_need_graph(e, err);
    if (need != RW_OK) return need;
    pthread_rwlock_rdlock(&e->lock);
    uint32_t v = rw_graph_find_account(e->graph, ext, strlen(ext));
    if (v != RW_NODE_NONE) {
        out->node = v;
        out->first_seen = rw_graph_first_seen(e->graph, v);
        out->last_seen = rw_graph_last_seen(e->graph, v);
        out->attributes = rw_graph_degree(e->graph, v);
    }
    pthread_rwlock_unlock(&e->lock);
    if (v == RW_NODE_NONE) return rw_fail(err, RW_ERR_NOTFOUND, "no account '%s'", ext);
    return RW_OK;
}

/* A snapshot of the graph and each account's label (-1: none) from the
 * caller's label_of. */
static rw_status fit_snapshot(rw_engine *e, rw_graph_snap **s, int8_t **label,
                              int (*label_of)(void *ctx, const char *ext, size_t len), void *ctx, rw_err *err) {
    pthread_rwlock_rdlock(&e->lock);
    rw_status st = rw_graph_snapshot_copy(e->graph, s, err);
    if (st == RW_OK && !(*label = malloc((size_t)(*s)->n + 1))) st = rw_fail(err, RW_ERR_NOMEM, "out of memory");
    for (uint32_t v = 0; st == RW_OK && v < (*s)->n; v++) {
        (*label)[v] = -1;
        if ((*s)->kind[v] != RW_KIND_ACCOUNT) continue;
        size_t len;
        const char *ext = rw_graph_account_id(e->graph, v, &len);
        (*label)[v] = (int8_t)label_of(ctx, ext, len);
    }
    pthread_rwlock_unlock(&e->lock);
    if (st == RW_OK) st = rw_graph_snap_index(*s, err);
    return st;
}

/* Fits the cluster model. It also scores the strong-tie parts of mixed
 * communities (split_mixed): it learns from the parts of every community
 * large enough to be split, whatever its score. Clusters: fraud when most
 * labelled members are, weighted by size so the fit minimises account
 * errors. */
static rw_status fit_clusters(const rw_graph_snap *s, const rw_detection *d, const int8_t *label, rw_model *m,
                              double l2, rw_err *err) {
    uint32_t nparts = 0, *fraud = NULL, *parts = malloc(((size_t)s->n + 1) * sizeof *parts);
    uint8_t *split = calloc((size_t)d->ncomm + 1, 1), *which = NULL;
    rw_cluster_features *cf = NULL, *pf = NULL;
    double *cl = NULL, *cw = NULL;
    rw_status st = RW_OK;
    if (!split || !parts) goto nomem;
    for (uint32_t c = 0; c < d->ncomm; c++) split[c] = d->feat[c].accounts >= SPLIT_MIN_ACCOUNTS;
    st = rw_detect_strong_parts(s, d->p.hub_degree, SPLIT_MIN_COHERENCE, d->membership, d->ncomm, split, parts, &nparts,
                                err);
    if (st != RW_OK) goto done;
    fraud = calloc((size_t)nparts + 1, 2 * sizeof *fraud);
    cf = malloc(((size_t)nparts + 1) * sizeof *cf);
    cl = malloc(((size_t)nparts + 1) * sizeof *cl);
    cw = malloc(((size_t)nparts + 1) * sizeof *cw);
    pf = malloc(((size_t)nparts + 1) * sizeof *pf);
    which = calloc((size_t)nparts + 1, 1);
    if (!fraud || !cf || !cl || !cw || !pf || !which) goto nomem;
    memcpy(pf, d->feat, (size_t)d->ncomm * sizeof *pf);
    for (uint32_t j = d->ncomm; j < nparts; j++) which[j] = 1;
    st = rw_detect_features_some(s, d->w, d->p.hub_degree, parts, nparts, which, pf, NULL, NULL, d->workers, err);
    if (st != RW_OK) goto done;
    for (uint32_t v = 0; v < s->n; v++) {
        if (label[v] < 0) continue;
        uint32_t c = d->membership[v];
        fraud[2 * c] += (uint32_t)label[v];
        fraud[2 * c + 1]++;
        if (parts[v] >= d->ncomm) {
            fraud[2 * parts[v]] += (uint32_t)label[v];
            fraud[2 * parts[v] + 1]++;
        }
    }
    size_t nc = 0;
    for (uint32_t c = 0; c < nparts; c++) {
        if (pf[c].accounts < m->min_accounts || !fraud[2 * c + 1]) continue;
        cf[nc] = pf[c];
        cl[nc] = 2 * fraud[2 * c] > fraud[2 * c + 1];
        cw[nc] = pf[c].accounts;
        nc++;
    }
    st = rw_model_fit(m, cf, cl, cw, nc, l2, err);
    goto done;
nomem:
    st = rw_fail(err, RW_ERR_NOMEM, "out of memory");
done:
    free(fraud), free(cf), free(cl), free(cw), free(pf), free(split), free(which), free(parts);
    return st;
}

/* Fits the account model on the labelled accounts of clusters, scored
 * under the fitted cluster model. */
static rw_status fit_accounts(const rw_graph_snap *s, rw_detection *d, const int8_t *label, rw_model *m, double l2,
                              rw_err *err) {
    double *al = malloc(((size_t)s->n + 1) * sizeof *al);
    double *ax = malloc(((size_t)s->n + 1) * RW_A_COUNT * sizeof *ax);
    rw_status st = al && ax ? rw_engine_detect_model(s, m, d, err) : rw_fail(err, RW_ERR_NOMEM, "out of memory");
    size_t na = 0;
    for (uint32_t v = 0; st == RW_OK && v < s->n; v++) {
        uint32_t c = d->membership[v];
        if (label[v] < 0 || d->feat[c].accounts < m->min_accounts) continue;
        memcpy(ax + na * RW_A_COUNT, d->af + (size_t)v * RW_A_COUNT, RW_A_COUNT * sizeof *ax);
        al[na++] = label[v];
    }
    if (st == RW_OK) st = rw_model_fit_accounts(m, ax, al, na, l2, err);
    free(al);
    free(ax);
    return st;
}

rw_status rw_engine_fit_model(rw_engine *e, const rw_rescore_params *rp,
                              int (*label_of)(void *ctx, const char *ext, size_t len), void *ctx, double l2, char *text,
                              size_t size, rw_err *err) {
    rw_graph_snap *s = NULL;
    rw_detection d = {0};
    int8_t *label = NULL;
    rw_model m;
    int version;
    rw_status st = rw_engine_need_graph(e, err);
    if (st == RW_OK) st = rw_detect_init(1, err);
    if (st == RW_OK) {
        rw_engine_store_lock(e);
        st = load_model(e->store, &m, &version, err);
        rw_engine_store_unlock(e);
    }
    if (st != RW_OK) return st;
    st = fit_snapshot(e, &s, &label, label_of, ctx, err);
    if (st == RW_OK) st = rw_engine_detect(s, rp, NULL, NULL, 0, &d, err);
    if (st == RW_OK) st = fit_clusters(s, &d, label, &m, l2, err);
    if (st == RW_OK) st = fit_accounts(s, &d, label, &m, l2, err);
    if (st == RW_OK) rw_model_format(&m, text, size);
    rw_graph_snap_free(s);
    rw_detection_free(&d);
    free(label);
    return st;
}
