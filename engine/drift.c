/* Drift: per feature and for the score, the population stability index of
 * the last day's signups against the model's training window, over ten bins
 * at the reference's deciles. A feature whose mix moved past the configured
 * level is named in the job's note; readiness reports it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn.h"

#define BINS     10
#define MIN_ROWS 100  /* fewer rows on either side: no figure */
#define FLOOR    1e-4 /* an empty bin's share: keeps the logarithm finite */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Bin of v under edges (values equal to an edge go below it). */
static int bin_of(const double *edges, int ne, double v) {
    int b = 0;
    while (b < ne && v > edges[b]) b++;
    return b;
}

/* PSI of column col (stride apart) of cur against ref; tmp holds ref->n. */
static double psi(const double *ref, size_t nref, const double *cur, size_t ncur, size_t stride, double *tmp) {
    for (size_t i = 0; i < nref; i++) tmp[i] = ref[i * stride];
    qsort(tmp, nref, sizeof *tmp, cmp_double);
    double edges[BINS];
    int ne = 0;
    for (int b = 1; b < BINS; b++) {
        double v = tmp[(nref - 1) * (size_t)b / BINS];
        if (ne == 0 || v > edges[ne - 1]) edges[ne++] = v;
    }
    double pr[BINS + 1] = {0}, pc[BINS + 1] = {0};
    for (size_t i = 0; i < nref; i++) pr[bin_of(edges, ne, ref[i * stride])] += 1.0 / (double)nref;
    for (size_t i = 0; i < ncur; i++) pc[bin_of(edges, ne, cur[i * stride])] += 1.0 / (double)ncur;
    double s = 0;
    for (int b = 0; b <= ne; b++) {
        double a = fmax(pc[b], FLOOR), e = fmax(pr[b], FLOOR);
        s += (a - e) * log(a / e);
    }
    return s;
}

void rw_learn_drift(rw_engine *e, const rw_learn_rows *ref, const rw_learn_rows *cur, char *note, size_t size) {
    rw_learn *l = e->learn;
    size_t at = strlen(note);
    if (ref->n < MIN_ROWS || cur->n < MIN_ROWS) {
        pthread_rwlock_wrlock(&e->lock);
        l->have_drift = 0;
        pthread_rwlock_unlock(&e->lock);
        snprintf(note + at, size - at, "; drift: too few signups to compare (%zu and %zu)", ref->n, cur->n);
        return;
    }
    double *tmp = malloc(ref->n * sizeof *tmp), p[RW_O_COUNT], ps;
    if (!tmp) return;
    for (int f = 0; f < RW_O_COUNT; f++) p[f] = psi(ref->x + f, ref->n, cur->x + f, cur->n, RW_O_COUNT, tmp);
    ps = psi(ref->score, ref->n, cur->score, cur->n, 1, tmp);
    free(tmp);
    pthread_rwlock_wrlock(&e->lock);
    memcpy(l->psi, p, sizeof p);
    l->psi_score = ps;
    l->have_drift = 1;
    double level = l->p.drift_level;
    pthread_rwlock_unlock(&e->lock);
    int moved = 0;
    for (int f = 0; f < RW_O_COUNT; f++) {
        if (p[f] <= level) continue;
        at = strlen(note);
        snprintf(note + at, size - at, "%s%s %.2f",
                 moved++ ? ", " : "; drift above the level: ", rw_online_feature_name(f), p[f]);
    }
    at = strlen(note);
    if (ps > level) snprintf(note + at, size - at, "%sscore %.2f", moved++ ? ", " : "; drift above the level: ", ps);
    at = strlen(note);
    if (!moved) snprintf(note + at, size - at, "; no drift above %.2f (score %.3f)", level, ps);
}
