/* The nightly job after each rescoring: reads the last days' logged signup
 * features labelled by the new run (analysts' labels first), decides on the
 * candidate in shadow, measures drift, and fits the next candidate (the same
 * boosted trees as the shipped model) to score in shadow. Features are never
 * recomputed: the rows are the ones logged at each signup. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commit.h"
#include "learn.h"

#define HOLDOUT_SHARE 0.2 /* the newest share of rows validates the candidate */
/* The candidate is calibrated to review at most this share of its benign
 * allowance on the holdout: the promotion asks for no more benign accounts
 * on a shadow day, whose counts are small, so a candidate matched exactly
 * would lose half its trials to chance. */
#define CALIBRATE_SHARE 0.75
#define MAX_NEGATIVES   60000 /* negatives beyond it are subsampled (weighted up): a fit within seconds */
#define DAY             86400

/* Rows at or above the review threshold: positives and negatives, under
 * the logged score (in force) or a model's. */
typedef struct {
    double pos, neg, pos_hit, neg_hit;
} hits;

static void count_hits(hits *h, double y, double score, double review) {
    if (y) {
        h->pos++;
        h->pos_hit += score >= review;
    } else {
        h->neg++;
        h->neg_hit += score >= review;
    }
}

static int desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Shifts the candidate's bias so that, at the review threshold, it reviews
 * at most CALIBRATE_SHARE of its allowance of the holdout's other (not
 * ring) signups: the share the model in force reviewed there by their
 * logged scores, or the benign budget when that is more. Comparing two
 * models at one threshold otherwise compares their calibration: a
 * candidate that ranks ring signups far better but scores a little higher
 * overall would review more benign ones and be rejected, while one fitted
 * on noise could pass by scoring everything low. Matched, the promotion
 * asks only which model ranks ring signups first.
 *
 * The budget keeps the match off the last few rows: a model in force that
 * reviews 3 of 18,000 other signups would set the candidate's threshold at
 * the third-highest of them, often a ring account the run has not flagged
 * yet, and the candidate then reviewed almost nothing (measured: 2 ring
 * signups of a shadow day where the model in force reviewed 43). */
static rw_status calibrate(const rw_learn_rows *rows, size_t from, double review, double budget, rw_online_model *m,
                           double *shift, rw_err *err) {
    size_t neg = 0, force = 0;
    for (size_t i = from; i < rows->n; i++)
        if (!rows->y[i]) neg++, force += rows->score[i] >= review;
    *shift = 0;
    if (!neg) return RW_OK;
    double *z = malloc(neg * sizeof *z);
    if (!z) return rw_fail(err, RW_ERR_NOMEM, "out of memory for %zu holdout rows", neg);
    size_t k = 0;
    for (size_t i = from; i < rows->n; i++)
        if (!rows->y[i]) z[k++] = rw_online_logit(m, rows->x + i * RW_O_COUNT);
    qsort(z, neg, sizeof *z, desc);
    size_t allowed = (size_t)(CALIBRATE_SHARE * fmax((double)force, budget * (double)neg));
    double at = log(review / (1 - review));
    /* The (allowed+1)-th highest logit lands just below the threshold, up
     * or down. */
    if (allowed < neg) *shift = at - z[allowed] - 1e-6;
    free(z);
    m->g.bias += *shift;
    return RW_OK;
}

/* The candidate's fit on the older rows and its figures on the newest ones
 * beside the logged scores of the model in force. */
static rw_status fit_candidate(const rw_learn_rows *rows, double review, double budget, const rw_online_model *base,
                               rw_online_model *m, char *validation, size_t size, rw_err *err) {
    size_t n = rows->n, ntrain = n - (size_t)((double)n * HOLDOUT_SHARE);
    size_t negs = 0;
    for (size_t i = 0; i < ntrain; i++) negs += !rows->y[i];
    size_t step = negs > MAX_NEGATIVES ? (negs + MAX_NEGATIVES - 1) / MAX_NEGATIVES : 1;
    double *x = malloc(ntrain * RW_O_COUNT * sizeof *x), *y = malloc(ntrain * sizeof *y),
           *w = malloc(ntrain * sizeof *w);
    rw_status st = RW_OK;
    if (!x || !y || !w) {
        st = rw_fail(err, RW_ERR_NOMEM, "out of memory for %zu training rows", ntrain);
        goto done;
    }
    size_t k = 0, seen = 0;
    for (size_t i = 0; i < ntrain; i++) {
        if (!rows->y[i] && seen++ % step) continue;
        memcpy(x + k * RW_O_COUNT, rows->x + i * RW_O_COUNT, RW_O_COUNT * sizeof *x);
        y[k] = rows->y[i];
        w[k] = rows->w[i] * (rows->y[i] ? 1.0 : (double)step);
        k++;
    }
    /* On the shipped trees (or the operator's base model): a candidate
     * fitted afresh on a fortnight knows only the few rings of that
     * fortnight, and a farm unlike them would score nothing where the
     * shipped model stops it; continued, it keeps what the shipped model
     * knows and corrects it where this deployment's labels disagree. */
    *m = *base;
    st = rw_online_fit_more(m, x, y, w, k, err);
    if (st != RW_OK) goto done;
    double shift = 0;
    st = calibrate(rows, ntrain, review, budget, m, &shift, err);
    if (st != RW_OK) goto done;
    hits cand = {0}, force = {0};
    for (size_t i = ntrain; i < n; i++) {
        count_hits(&cand, rows->y[i], rw_online_score(m, rows->x + i * RW_O_COUNT), review);
        count_hits(&force, rows->y[i], rows->score[i], review);
    }
    snprintf(validation, size,
             "{\"train_rows\":%zu,\"holdout_rows\":%zu,\"holdout_positives\":%.0f,\"holdout_negatives\":%.0f,"
             "\"recall\":%.4f,\"benign_reviewed\":%.5f,\"in_force_recall\":%.4f,\"in_force_benign_reviewed\":%.5f,"
             "\"calibration_shift\":%.4f}",
             k, n - ntrain, cand.pos, cand.neg, cand.pos ? cand.pos_hit / cand.pos : 0,
             cand.neg ? cand.neg_hit / cand.neg : 0, force.pos ? force.pos_hit / force.pos : 0,
             force.neg ? force.neg_hit / force.neg : 0, shift);
done:
    free(x), free(y), free(w);
    return st;
}

/* Fits a candidate on rows, continuing base (version 0), and puts it in
 * shadow from now on. */
static rw_status next_candidate(rw_engine *e, const rw_learn_rows *rows, const rw_online_model *base, int64_t from,
                                int64_t now, double history, char *note, size_t size, rw_err *err) {
    rw_learn *l = e->learn;
    size_t at = strlen(note);
    if (rows->positives < l->p.min_positives || rows->negatives < l->p.min_negatives ||
        history < l->p.min_history_days) {
        snprintf(note + at, size - at,
                 "; cold start: %llu ring and %llu other labelled signups over %.1f days (%u, %u and %.1f needed)",
                 (unsigned long long)rows->positives, (unsigned long long)rows->negatives, history, l->p.min_positives,
                 l->p.min_negatives, l->p.min_history_days);
        return RW_OK;
    }
    rw_online_model m;
    char validation[512], *text = malloc(1 << 20);
    if (!text) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    rw_status st =
        fit_candidate(rows, e->live.review, l->p.benign_budget, base, &m, validation, sizeof validation, err);
    if (st == RW_OK) rw_online_format(&m, text, 1 << 20);
    int version = 0;
    if (st == RW_OK) {
        rw_online_model_row row = {.created_at = now,
                                   .train_from = from,
                                   .train_to = now + 1,
                                   .positives = rows->positives,
                                   .negatives = rows->negatives,
                                   .state = "shadow",
                                   .validation = validation,
                                   .shadow_from = now,
                                   .model = text};
        rw_engine_store_lock(e);
        st = rw_store_online_model_add(e->store, &row, &version, err);
        rw_engine_store_unlock(e);
    }
    free(text);
    if (st != RW_OK) return st;
    pthread_rwlock_wrlock(&e->lock);
    l->shadow = m;
    l->shadow_version = version;
    l->shadow_from = now;
    pthread_rwlock_unlock(&e->lock);
    snprintf(note + at, size - at, "; candidate %d fitted on %llu ring and %llu other signups %s, in shadow", version,
             (unsigned long long)rows->positives, (unsigned long long)rows->negatives, validation);
    return RW_OK;
}

/* The in-force model's training window (0, 0 for the shipped model). */
static rw_status on_window(void *ctx, const rw_online_model_row *m) {
    int64_t *w = ctx;
    w[0] = m->train_from, w[1] = m->train_to;
    return RW_OK;
}

/* Drift of the last day against the in-force model's training window (the
 * older logged rows for the shipped model, or when the window aged out). */
static void drift(rw_engine *e, const rw_learn_rows *rows, int64_t now, char *note, size_t size) {
    int64_t w[2] = {0, 0};
    rw_err ignored;
    int v = e->learn->in_force;
    if (v > 0) {
        rw_engine_store_lock(e);
        if (rw_store_online_models(e->store, v, on_window, w, &ignored) != RW_OK) w[0] = w[1] = 0;
        rw_engine_store_unlock(e);
    }
    if (w[1] <= w[0] || (rows->n && w[1] <= rows->ts[0])) w[0] = INT64_MIN, w[1] = now - DAY;
    rw_learn_rows ref = {0}, cur = {0};
    /* Views into rows: both are time-ordered slices. */
    size_t a = 0, b, c = 0;
    while (a < rows->n && rows->ts[a] < w[0]) a++;
    for (b = a; b < rows->n && rows->ts[b] < w[1]; b++) {
    }
    while (c < rows->n && rows->ts[c] < now - DAY) c++;
    /* The score's drift is the model in force's on both sides: the logged
     * scores of the window came from whichever model was in force then, and
     * a promotion in between would read as drift. */
    double *sc = malloc((b - a + rows->n - c + 1) * sizeof *sc);
    if (!sc) return;
    pthread_rwlock_rdlock(&e->lock);
    for (size_t i = a; i < b; i++) sc[i - a] = rw_online_score(&e->live.model, rows->x + i * RW_O_COUNT);
    for (size_t i = c; i < rows->n; i++) sc[b - a + i - c] = rw_online_score(&e->live.model, rows->x + i * RW_O_COUNT);
    pthread_rwlock_unlock(&e->lock);
    ref = (rw_learn_rows){.x = rows->x + a * RW_O_COUNT, .score = sc, .n = b - a};
    cur = (rw_learn_rows){.x = rows->x + c * RW_O_COUNT, .score = sc + (b - a), .n = rows->n - c};
    rw_learn_drift(e, &ref, &cur, note, size);
    free(sc);
}

rw_status rw_learn_nightly(rw_engine *e, const rw_learn_run *r, char *note, size_t size, rw_err *err) {
    rw_learn *l = e->learn;
    note[0] = 0;
    if (!l) return RW_OK;
    pthread_rwlock_rdlock(&e->lock);
    int64_t now = l->last_ts;
    double days = l->p.feature_log_days;
    int off = l->p.distill_off;
    double history = e->live.epoch ? (double)(now - e->live.epoch) / DAY : 0; /* days since the first account */
    pthread_rwlock_unlock(&e->lock);
    int64_t from = now - (int64_t)(days * DAY);
    uint64_t pruned = 0;
    rw_engine_featlog_sync(e); /* the rows still waiting for their batch */
    rw_engine_store_lock(e);
    rw_status st = rw_store_featlog_prune(e->store, from, &pruned, err);
    rw_engine_store_unlock(e);
    rw_learn_rows rows = {0};
    if (st == RW_OK) st = rw_learn_read_rows(e, r, from, now + 1, &rows, err);
    if (st != RW_OK) goto done;
    snprintf(note, size, "signup model %d in force; %zu labelled signups logged (%llu older ones dropped)", l->in_force,
             rows.n, (unsigned long long)pruned);
    /* Version 0 (the shipped model, or the operator's base one), copied
     * once: the reference of both checks below and the trees the next
     * candidate continues. */
    rw_online_model shipped;
    if (!off) {
        pthread_rwlock_rdlock(&e->lock);
        rw_learn_base(e, &shipped);
        pthread_rwlock_unlock(&e->lock);
    }
    /* The model in force is judged on the scores it gave (logged), before
     * a candidate may replace it. */
    if (!off) st = rw_learn_watch(e, &rows, &shipped, now, note, size, err);
    /* The newest signup before a nightly run falls a little before its hour:
     * a tenth of the shadow period's slack keeps a daily candidate from
     * waiting a second night. */
    if (st == RW_OK && !off && l->shadow_version && now - l->shadow_from >= (int64_t)(0.9 * l->p.shadow_hours * 3600))
        st = rw_learn_decide(e, &rows, &shipped, now, note, size, err);
    if (st == RW_OK) drift(e, &rows, now, note, size);
    if (st == RW_OK && !off && !l->shadow_version)
        st = next_candidate(e, &rows, &shipped, from, now, history, note, size, err);
done:
    rw_learn_rows_free(&rows);
    return st;
}

void rw_learn_after_run(rw_engine *e, const rw_learn_run *r, char *note, size_t size) {
    rw_err err = {{0}};
    if (rw_learn_nightly(e, r, note, size, &err) == RW_OK) return;
    rw_err_prefix(&err, "learning failed: ");
    snprintf(note, size, "%s", err.msg);
}
