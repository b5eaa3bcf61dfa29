/* The signup feature log: each signup's features exactly as scored, in a
 * compact blob (a mask of the nonzero features, then their values as
 * doubles: most of a signup's features are zero), written by the group
 * commit with its events; and the labelled rows the nightly job reads back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "learn.h"

_Static_assert(RW_O_COUNT <= 32, "the feature log's mask holds 32 features");

uint16_t rw_featlog_encode(const double *f, uint8_t *out) {
    uint32_t mask = 0;
    size_t at = 4;
    for (int i = 0; i < RW_O_COUNT; i++) {
        if (f[i] == 0 && !signbit(f[i])) continue;
        mask |= 1u << i;
        memcpy(out + at, &f[i], sizeof f[i]);
        at += sizeof f[i];
    }
    memcpy(out, &mask, sizeof mask);
    return (uint16_t)at;
}

int rw_featlog_decode(const void *blob, size_t len, double *f) {
    const uint8_t *b = blob;
    uint32_t mask;
    if (len < 4) return -1;
    memcpy(&mask, b, sizeof mask);
    if (RW_O_COUNT < 32 && (mask >> RW_O_COUNT)) return -1;
    if (len != 4 + 8 * (size_t)__builtin_popcount(mask)) return -1;
    size_t at = 4;
    for (int i = 0; i < RW_O_COUNT; i++) {
        f[i] = 0;
        if (!(mask & (1u << i))) continue;
        memcpy(&f[i], b + at, sizeof f[i]);
        at += sizeof f[i];
    }
    return 0;
}

rw_status rw_engine_featlog_write(rw_store *s, const rw_op_feat *f, size_t n, rw_err *err) {
    enum { SLICE = 256 };
    rw_featlog_row rows[SLICE];
    rw_status st = RW_OK;
    for (size_t i = 0; st == RW_OK && i < n; i += SLICE) {
        size_t k = n - i < SLICE ? n - i : SLICE;
        for (size_t j = 0; j < k; j++) {
            const rw_op_feat *o = &f[i + j];
            rows[j] =
                (rw_featlog_row){o->ts, o->account, o->model, o->shadow_model, o->score, o->shadow, o->blob, o->len};
        }
        st = rw_store_featlog_put(s, rows, k, err);
    }
    return st;
}

static int grow(rw_learn_rows *r) {
    size_t cap = r->cap ? r->cap * 2 : 4096;
    double *x = realloc(r->x, cap * RW_O_COUNT * sizeof *x);
    if (x) r->x = x;
    double *y = realloc(r->y, cap * sizeof *y);
    if (y) r->y = y;
    double *w = realloc(r->w, cap * sizeof *w);
    if (w) r->w = w;
    double *sc = realloc(r->score, cap * sizeof *sc);
    if (sc) r->score = sc;
    double *sh = realloc(r->shadow, cap * sizeof *sh);
    if (sh) r->shadow = sh;
    int64_t *ts = realloc(r->ts, cap * sizeof *ts);
    if (ts) r->ts = ts;
    int32_t *sm = realloc(r->shadow_model, cap * sizeof *sm);
    if (sm) r->shadow_model = sm;
    if (!x || !y || !w || !sc || !sh || !ts || !sm) return -1;
    r->cap = cap;
    return 0;
}

void rw_learn_rows_free(rw_learn_rows *r) {
    free(r->x), free(r->y), free(r->w), free(r->score), free(r->shadow), free(r->ts), free(r->shadow_model);
    memset(r, 0, sizeof *r);
}

/* A row's label: analysts' labels first, then the run's verdict; -1 when
 * the run did not see the account. Under the read lock. */
static int row_label(const rw_engine *e, const rw_learn_run *r, uint32_t a) {
    const rw_live *L = &e->live;
    if (a >= r->n || r->kind[a] != RW_KIND_ACCOUNT || a >= L->cap) return -1;
    if (L->flags[a] & RW_LIVE_CLEARED) return 0;
    if (L->flags[a] & RW_LIVE_FRAUD_ACCOUNT) return 1;
    uint32_t c = L->comm[a];
    if (c && L->c[c].label == RW_LIVE_LABEL_FRAUD) return 1;
    if (c && L->c[c].label == RW_LIVE_LABEL_BENIGN) return 0;
    return r->ascore[a] >= r->threshold;
}

typedef struct {
    rw_learn_rows *out;
    uint32_t *acc; /* [out->cap] each row's account */
    rw_err *err;
} read_ctx;

static rw_status on_row(void *ctx, const rw_featlog_row *row) {
    read_ctx *c = ctx;
    rw_learn_rows *o = c->out;
    if (o->n == o->cap) {
        if (grow(o) != 0) return rw_fail(c->err, RW_ERR_NOMEM, "out of memory for training rows");
        uint32_t *acc = realloc(c->acc, o->cap * sizeof *acc);
        if (!acc) return rw_fail(c->err, RW_ERR_NOMEM, "out of memory for training rows");
        c->acc = acc;
    }
    if (rw_featlog_decode(row->blob, row->len, o->x + o->n * RW_O_COUNT) != 0) {
        o->unlabelled++; /* a row from a build with other features: unusable */
        return RW_OK;
    }
    c->acc[o->n] = row->account;
    o->score[o->n] = row->score;
    o->shadow[o->n] = row->shadow;
    o->ts[o->n] = row->ts;
    o->shadow_model[o->n] = row->shadow_model;
    o->n++;
    return RW_OK;
}

/* Labels the rows read and keeps the labelled ones, in order. A ring's
 * accounts share its weight, so a large ring counts as much as a small one;
 * positives' weights are then scaled to sum to their number. */
static void label_rows(rw_engine *e, const rw_learn_run *r, rw_learn_rows *o, const uint32_t *acc) {
    size_t k = 0;
    pthread_rwlock_rdlock(&e->lock);
    for (size_t i = 0; i < o->n; i++) {
        int label = row_label(e, r, acc[i]);
        if (label < 0) {
            o->unlabelled++;
            continue;
        }
        if (k != i) {
            memmove(o->x + k * RW_O_COUNT, o->x + i * RW_O_COUNT, RW_O_COUNT * sizeof *o->x);
            o->score[k] = o->score[i], o->shadow[k] = o->shadow[i];
            o->ts[k] = o->ts[i], o->shadow_model[k] = o->shadow_model[i];
        }
        uint32_t size = r->csize[r->membership[acc[i]]];
        o->y[k] = label;
        o->w[k] = label ? 1.0 / (size > 1 ? size : 1) : 1.0;
        if (label)
            o->positives++;
        else
            o->negatives++;
        k++;
    }
    pthread_rwlock_unlock(&e->lock);
    o->n = k;
    double wpos = 0;
    for (size_t i = 0; i < o->n; i++) wpos += o->y[i] * o->w[i];
    for (size_t i = 0; i < o->n && wpos > 0; i++)
        if (o->y[i]) o->w[i] *= (double)o->positives / wpos;
}

rw_status rw_learn_read_rows(rw_engine *e, const rw_learn_run *r, int64_t from, int64_t to, rw_learn_rows *out,
                             rw_err *err) {
    memset(out, 0, sizeof *out);
    /* A connection of its own: days of rows read on the store's would hold
     * up the group commit. */
    rw_store *rs = NULL;
    rw_status st = rw_store_open(&rs, e->db_path, RW_STORE_READONLY, err);
    if (st != RW_OK) return st;
    read_ctx c = {out, NULL, err};
    st = rw_store_featlog_scan(rs, from, to, on_row, &c, err);
    rw_store_close(rs);
    if (st == RW_OK) label_rows(e, r, out, c.acc);
    free(c.acc);
    return st;
}
