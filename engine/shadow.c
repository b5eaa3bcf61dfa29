/* Shadow and promotion: the candidate scored every signup beside the model
 * in force; on the shadow period's signups labelled by the newest run it
 * replaces the model in force only if, at the same review threshold, it
 * reviews more ring accounts, no more benign ones (or no more than the
 * benign budget allows), and not a much larger share of signups. "More"
 * is more than chance would give: a shadow day may hold a handful of ring
 * signups, and a candidate promoted for one more of them than the model in
 * force is a coin toss that can lose every ring of the next week. So the decision waits until the shadow period
 * holds MIN_SHADOW_RING ring signups (the candidate stays in shadow, up to
 * MAX_SHADOW_PERIODS periods), and the ring accounts only one of the two
 * models reviewed must favour the candidate by two standard deviations of
 * a fair coin (McNemar's test at about 95%).
 *
 * The run's labels judge the candidate, and they are the run's mistakes
 * too: a candidate that learnt them, or a model in force whose trees meet
 * a crowd they never saw (a new office opening, after the last run), can
 * review many benign signups that the model in force never would. The
 * shipped model is the fixed reference: on the same labelled signups
 * (scored again from the features logged), a candidate reviewing more
 * benign ones than it, beyond chance, more than review_jump times as many
 * and more than the budget, is rejected; a model in force doing so (the
 * budget by more than chance: a day's count is small), or letting through
 * ring signups the shipped model reviews (beyond chance), is rolled back
 * to it at the next run (rw_learn_watch).
 *
 * The budget (benign_budget, a share of the run's other signups) is what
 * the deployment accepts to review: a shipped model that reviews almost
 * no benign signups on this deployment's traffic would otherwise hold
 * every candidate to its own near-zero count, and a learnt model that
 * catches more rings for a few more reviews would never be kept.
 * Operators list, promote and roll back models here too; every decision is
 * stored with its figures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn.h"

#define MIN_SHADOW_RING    30
#define MAX_SHADOW_PERIODS 7

/* Where a labelled row's score comes from: the model in force (logged),
 * the candidate in shadow (logged), the shipped model (scored again from
 * the logged features). */
enum { BY_FORCE, BY_SHADOW, BY_SHIPPED };

/* Two models on the same labelled rows: a the reference, b the one tested. */
typedef struct {
    double rows, ring, benign;
    double a, b;                         /* rows each reviewed or blocked */
    double a_ring, b_ring;               /* ring rows each reviewed */
    double a_benign, b_benign;           /* benign rows each reviewed */
    double only_a_ring, only_b_ring;     /* ring rows only one of them reviewed */
    double only_a_benign, only_b_benign; /* benign rows only one of them reviewed */
} duel;

static double score_by(const rw_learn_rows *rows, size_t i, int by, const rw_online_model *shipped) {
    return by == BY_FORCE    ? rows->score[i]
           : by == BY_SHADOW ? rows->shadow[i]
                             : rw_online_score(shipped, rows->x + i * RW_O_COUNT);
}

/* Rows from `from` on that b scored (and, when either side is the shadow,
 * that candidate `version` scored). */
static void tally(const rw_learn_rows *rows, int64_t from, int version, int by_a, int by_b,
                  const rw_online_model *shipped, double review, duel *t) {
    memset(t, 0, sizeof *t);
    int shadow = by_a == BY_SHADOW || by_b == BY_SHADOW;
    for (size_t i = 0; i < rows->n; i++) {
        if (rows->ts[i] < from || (shadow && rows->shadow_model[i] != version)) continue;
        double sb = score_by(rows, i, by_b, shipped);
        if (isnan(sb)) continue;
        int y = rows->y[i] != 0, a = score_by(rows, i, by_a, shipped) >= review, b = sb >= review;
        t->rows++;
        t->ring += y, t->benign += !y;
        t->a += a, t->b += b;
        t->a_ring += y && a, t->b_ring += y && b;
        t->a_benign += !y && a, t->b_benign += !y && b;
        t->only_a_ring += y && a && !b, t->only_b_ring += y && b && !a;
        t->only_a_benign += !y && a && !b, t->only_b_benign += !y && b && !a;
    }
}

/* Rows only one model caught, `more` of them by one and `fewer` by the
 * other: is the difference beyond chance (McNemar, two standard
 * deviations of a fair coin)? */
static int beyond_chance(double more, double fewer) {
    return more - fewer > 2 * sqrt(more + fewer);
}

/* Did b (tested against the shipped model a) review more benign signups:
 * more than review_jump times as many, beyond chance, and more than the
 * budget allows (by more than chance too when slack: two standard
 * deviations of a Poisson count at the budget)? */
static int more_benign_than_shipped(const duel *t, double jump, double budget, int slack) {
    double allowed = budget * t->benign;
    if (slack) allowed += 2 * sqrt(allowed);
    return t->b_benign > jump * fmax(t->a_benign, 1) && beyond_chance(t->only_b_benign, t->only_a_benign) &&
           t->b_benign > allowed;
}

/* Stores the decision (and, promoted, the model in force) in one
 * transaction, then installs it. */
static rw_status record(rw_engine *e, int version, int promote, int64_t at, const char *why, rw_err *err) {
    rw_learn *l = e->learn;
    int replaced = l->in_force;
    rw_engine_store_lock(e);
    rw_status st = rw_store_begin(e->store, err);
    if (st == RW_OK)
        st = rw_store_online_model_decide(e->store, version, promote ? "promoted" : "rejected", at, why,
                                          promote ? replaced : 0, err);
    if (st == RW_OK && promote) st = rw_store_online_set_in_force(e->store, version, err);
    if (st == RW_OK)
        st = rw_store_commit(e->store, 1, err);
    else
        rw_store_rollback(e->store);
    rw_engine_store_unlock(e);
    if (st != RW_OK) return st;
    pthread_rwlock_wrlock(&e->lock);
    if (promote) {
        e->live.model = l->shadow;
        l->in_force = version;
        l->promotions++;
    } else {
        l->rejections++;
    }
    if (l->shadow_version == version) l->shadow_version = 0;
    pthread_rwlock_unlock(&e->lock);
    return RW_OK;
}

rw_status rw_learn_decide(rw_engine *e, const rw_learn_rows *rows, const rw_online_model *shipped, int64_t now,
                          char *note, size_t size, rw_err *err) {
    rw_learn *l = e->learn;
    int version = l->shadow_version;
    duel t, ship; /* the candidate against the model in force, and against the shipped one */
    tally(rows, l->shadow_from, version, BY_FORCE, BY_SHADOW, shipped, e->live.review, &t);
    tally(rows, l->shadow_from, version, BY_SHIPPED, BY_SHADOW, shipped, e->live.review, &ship);
    double share_force = t.rows ? t.a / t.rows : 0, share_cand = t.rows ? t.b / t.rows : 0;
    double budget = l->p.benign_budget;
    /* A model in force reviewing nothing leaves a floor of one signup. */
    double ceiling = l->p.review_jump * fmax(share_force, t.rows ? 1 / t.rows : 0);
    size_t at = strlen(note);
    if (t.ring < MIN_SHADOW_RING && now - l->shadow_from < (int64_t)(MAX_SHADOW_PERIODS * l->p.shadow_hours * 3600)) {
        snprintf(note + at, size - at, "; candidate %d stays in shadow: %.0f ring signups so far (%d needed)", version,
                 t.ring, MIN_SHADOW_RING);
        return RW_OK;
    }
    double gain = t.only_b_ring - t.only_a_ring, spread = 2 * sqrt(t.only_b_ring + t.only_a_ring);
    const char *why = t.ring < MIN_SHADOW_RING     ? "too few ring accounts among the shadow period's signups"
                      : gain <= 0 || gain < spread ? "it did not review more ring accounts beyond chance"
                      : t.b_benign > fmax(t.a_benign, budget * t.benign) ? "it reviewed more benign accounts"
                      : more_benign_than_shipped(&ship, l->p.review_jump, budget, 0)
                          ? "it reviewed many more benign accounts than the shipped model"
                      : share_cand > ceiling ? "its share of signups reviewed jumped"
                                             : NULL;
    char fig[640];
    snprintf(fig, sizeof fig,
             "{\"by\":\"nightly\",\"promoted\":%s,\"reason\":\"%s\",\"in_force\":%d,\"shadow_rows\":%.0f,"
             "\"ring\":%.0f,\"benign\":%.0f,\"ring_reviewed\":%.0f,\"in_force_ring_reviewed\":%.0f,"
             "\"benign_reviewed\":%.0f,\"in_force_benign_reviewed\":%.0f,\"share_reviewed\":%.5f,"
             "\"in_force_share_reviewed\":%.5f,\"review\":%.3f,\"ring_only_candidate\":%.0f,"
             "\"ring_only_in_force\":%.0f,\"shipped_benign_reviewed\":%.0f}",
             why ? "false" : "true", why ? why : "more ring accounts at no more benign ones", l->in_force, t.rows,
             t.ring, t.benign, t.b_ring, t.a_ring, t.b_benign, t.a_benign, share_cand, share_force, e->live.review,
             t.only_b_ring, t.only_a_ring, ship.a_benign);
    rw_status st = record(e, version, !why, now, fig, err);
    if (st == RW_OK)
        snprintf(note + at, size - at,
                 "; candidate %d %s (%s): ring reviewed %.0f against %.0f, benign %.0f against %.0f", version,
                 why ? "rejected" : "promoted", why ? why : "better", t.b_ring, t.a_ring, t.b_benign, t.a_benign);
    return st;
}

/* ---- operators ------------------------------------------------------------ */

typedef struct {
    rw_status (*cb)(void *ctx, const rw_model_info *m);
    void *ctx;
    int in_force;
    char *text;
    size_t size, len;
    int *replaced;
} list_ctx;

static rw_status on_list(void *ctx, const rw_online_model_row *m) {
    list_ctx *c = ctx;
    if (c->text) {
        c->len = (size_t)snprintf(c->text, c->size, "%s", m->model ? m->model : "");
        return RW_OK;
    }
    if (c->replaced) {
        *c->replaced = m->replaced;
        return RW_OK;
    }
    rw_model_info i = {.version = m->version,
                       .created_at = m->created_at,
                       .train_from = m->train_from,
                       .train_to = m->train_to,
                       .shadow_from = m->shadow_from,
                       .decided_at = m->decided_at,
                       .positives = m->positives,
                       .negatives = m->negatives,
                       .replaced = m->replaced,
                       .in_force = m->version == c->in_force};
    snprintf(i.state, sizeof i.state, "%s", m->state ? m->state : "");
    snprintf(i.validation, sizeof i.validation, "%s", m->validation ? m->validation : "{}");
    snprintf(i.decision, sizeof i.decision, "%s", m->decision ? m->decision : "");
    return c->cb(c->ctx, &i);
}

rw_status rw_engine_models(rw_engine *e, int version, rw_status (*cb)(void *ctx, const rw_model_info *m), void *ctx,
                           rw_err *err) {
    list_ctx c = {.cb = cb, .ctx = ctx};
    rw_engine_store_lock(e);
    rw_status st = rw_store_online_in_force(e->store, &c.in_force, err);
    if (st == RW_OK) st = rw_store_online_models(e->store, version, on_list, &c, err);
    rw_engine_store_unlock(e);
    return st;
}

rw_status rw_engine_model_online_text(rw_engine *e, int version, char *text, size_t size, size_t *len, rw_err *err) {
    if (version == 0) {
        rw_online_model m;
        pthread_rwlock_rdlock(&e->lock);
        rw_learn_base(e, &m);
        pthread_rwlock_unlock(&e->lock);
        *len = rw_online_format(&m, text, size);
        return RW_OK;
    }
    list_ctx c = {.text = text, .size = size};
    rw_engine_store_lock(e);
    rw_status st = rw_store_online_models(e->store, version, on_list, &c, err);
    rw_engine_store_unlock(e);
    *len = c.len;
    return st;
}

/* Puts version in force with its text (0: shipped), recording why. */
static rw_status put_in_force(rw_engine *e, int version, int from, const char *state, const char *why, rw_err *err) {
    size_t size = 1 << 20, len = 0;
    char *text = malloc(size);
    if (!text) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    rw_status st = rw_engine_model_online_text(e, version, text, size, &len, err);
    rw_engine_store_lock(e);
    if (st == RW_OK) st = rw_store_begin(e->store, err);
    if (st == RW_OK) {
        int64_t at = e->learn ? e->learn->last_ts : 0;
        /* The model leaving is marked when rolled back; the one coming in
         * when promoted. */
        int target = version ? version : from;
        if (target) st = rw_store_online_model_decide(e->store, target, state, at, why, version ? from : 0, err);
        if (st == RW_OK) st = rw_store_online_set_in_force(e->store, version, err);
        if (st == RW_OK)
            st = rw_store_commit(e->store, 1, err);
        else
            rw_store_rollback(e->store);
    }
    rw_engine_store_unlock(e);
    if (st == RW_OK && e->learn && e->online_ready && e->graph) {
        pthread_rwlock_wrlock(&e->lock);
        st = rw_learn_install(e, version, text, err);
        if (st == RW_OK && e->learn->shadow_version == version) e->learn->shadow_version = 0;
        pthread_rwlock_unlock(&e->lock);
    }
    free(text);
    return st;
}

rw_status rw_engine_model_promote(rw_engine *e, int version, rw_err *err) {
    if (version < 0) return rw_fail(err, RW_ERR_INVALID, "model version %d: expected 0 (shipped) or more", version);
    int in_force = 0;
    rw_engine_store_lock(e);
    rw_status st = rw_store_online_in_force(e->store, &in_force, err);
    rw_engine_store_unlock(e);
    if (st != RW_OK) return st;
    if (version == in_force) return rw_fail(err, RW_ERR_EXISTS, "signup model %d is already in force", version);
    return put_in_force(e, version, in_force, version ? "promoted" : "retired", "{\"by\":\"operator\"}", err);
}

rw_status rw_engine_model_rollback(rw_engine *e, int *version, rw_err *err) {
    int in_force = 0, replaced = 0;
    *version = 0;
    rw_engine_store_lock(e);
    rw_status st = rw_store_online_in_force(e->store, &in_force, err);
    list_ctx c = {.replaced = &replaced};
    if (st == RW_OK && in_force) st = rw_store_online_models(e->store, in_force, on_list, &c, err);
    rw_engine_store_unlock(e);
    if (st != RW_OK) return st;
    if (!in_force) return rw_fail(err, RW_ERR_NOTFOUND, "the shipped signup model is in force: nothing to roll back");
    /* The one it replaced comes back; the rolled-back model is marked. */
    rw_engine_store_lock(e);
    st = rw_store_begin(e->store, err);
    if (st == RW_OK)
        st = rw_store_online_model_decide(e->store, in_force, "rolled back", e->learn ? e->learn->last_ts : 0,
                                          "{\"by\":\"operator\"}", 0, err);
    if (st == RW_OK)
        st = rw_store_commit(e->store, 1, err);
    else
        rw_store_rollback(e->store);
    rw_engine_store_unlock(e);
    if (st != RW_OK) return st;
    *version = replaced;
    return put_in_force(e, replaced, 0, "promoted", "{\"by\":\"operator\",\"rollback\":true}", err);
}

/* ---- the model in force against the shipped one --------------------------- */

rw_status rw_learn_watch(rw_engine *e, const rw_learn_rows *rows, const rw_online_model *shipped, int64_t now,
                         char *note, size_t size, rw_err *err) {
    rw_learn *l = e->learn;
    int in_force = l->in_force;
    if (!in_force) return RW_OK;
    /* The last shadow period's signups, labelled by the new run, as the
     * model in force scored them (its score is the one logged) and as the
     * shipped model scores their logged features. */
    double review = e->live.review;
    duel t;
    tally(rows, now - (int64_t)(l->p.shadow_hours * 3600), 0, BY_SHIPPED, BY_FORCE, shipped, review, &t);
    /* Worse on either side, beyond chance: more benign signups reviewed
     * (as a candidate would be rejected for), or ring signups the shipped
     * model would have reviewed and the model in force let through. */
    const char *reason = more_benign_than_shipped(&t, l->p.review_jump, l->p.benign_budget, 1)
                             ? "it reviewed many more benign accounts than the shipped model"
                         : beyond_chance(t.only_a_ring, t.only_b_ring)
                             ? "it let through ring accounts the shipped model reviews"
                             : NULL;
    if (!reason) return RW_OK;
    char why[384];
    snprintf(why, sizeof why,
             "{\"by\":\"nightly\",\"reason\":\"%s\",\"ring\":%.0f,\"benign\":%.0f,\"ring_reviewed\":%.0f,"
             "\"shipped_ring_reviewed\":%.0f,\"benign_reviewed\":%.0f,\"shipped_benign_reviewed\":%.0f,"
             "\"review\":%.3f}",
             reason, t.ring, t.benign, t.b_ring, t.a_ring, t.b_benign, t.a_benign, review);
    rw_status st = put_in_force(e, 0, in_force, "rolled back", why, err);
    size_t at = strlen(note);
    if (st == RW_OK)
        snprintf(note + at, size - at,
                 "; model %d rolled back to the shipped one (%s): of the last day's signups it reviewed %.0f ring "
                 "and %.0f benign, the shipped model %.0f and %.0f",
                 in_force, reason, t.b_ring, t.b_benign, t.a_ring, t.a_benign);
    return st;
}
