/* detectors: one-time library set-up (igraph error handling, OpenBLAS
 * threads), the documented community parameters and the edge weights every
 * detector shares. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <igraph.h>

#include "detectors_int.h"

/* The Debian igraph keeps its error "finally" stack and its default RNG in
 * globals (IGRAPH_THREAD_SAFE 0), so two threads inside igraph at once (a
 * rescoring's Leiden and a picture's layout) would corrupt them. Every
 * igraph call of this module runs under this lock: one-time library state,
 * like igraph's own. */
static pthread_mutex_t igraph_mu = PTHREAD_MUTEX_INITIALIZER;

void rw_detect_igraph_lock(void) {
    pthread_mutex_lock(&igraph_mu);
}

void rw_detect_igraph_unlock(void) {
    pthread_mutex_unlock(&igraph_mu);
}

rw_status rw_detect_init(int threads, rw_err *err) {
    if (threads < 0) return rw_fail(err, RW_ERR_INVALID, "detectors: threads must be >= 0, not %d", threads);
    /* The default handler aborts the process; the ignoring one still runs
     * igraph's FINALLY stack, so a failed call frees what it allocated and we
     * turn its code into a status at the boundary. */
    rw_detect_igraph_lock();
    igraph_set_error_handler(igraph_error_handler_ignore);
    igraph_set_warning_handler(igraph_warning_handler_ignore);
    rw_detect_igraph_unlock();
    /* Set once, never per call: OpenBLAS's count is one for the process,
     * and the detectors call it from several workers at once. */
    openblas_set_num_threads(threads > 0 ? threads : 2);
    return RW_OK;
}

rw_status rw_detect_igraph_fail(int code, const char *what, rw_err *err) {
    rw_status st = code == IGRAPH_ENOMEM ? RW_ERR_NOMEM : RW_ERR_INTERNAL;
    return rw_fail(err, st, "%s: igraph: %s", what, igraph_strerror((igraph_error_t)code));
}

void rw_community_defaults(rw_community_params *p) {
    memset(p, 0, sizeof *p);
    /* A shared card is strong evidence, a shared device good, a shared IP
     * weak (households, offices, carrier NAT); subnets have no edges. */
    p->kind_weight[RW_KIND_ACCOUNT] = 0.0;
    p->kind_weight[RW_KIND_IP] = 1.0;
    p->kind_weight[RW_KIND_DEVICE] = 2.0;
    p->kind_weight[RW_KIND_PAYMENT] = 3.0;
    p->kind_weight[RW_KIND_SUBNET] = 0.0;
    p->degree_offset = 2.0;
    p->hub_degree = 200;
    p->resolution = 1.0;
    p->iterations = 10;
    p->seed = 1;
    p->coherence_floor = 0.25;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

double rw_detect_coherence(const rw_graph_snap *s, uint32_t attr, uint32_t *scratch) {
    uint32_t d = rw_detect_degree(s, attr);
    if (d < 2) return 1.0;
    for (uint32_t i = 0; i < d; i++) scratch[i] = s->edges[s->eid[s->off[attr] + i]].first_seen;
    qsort(scratch, d, sizeof *scratch, cmp_u32);
    uint32_t best = 1, j = 0;
    for (uint32_t i = 0; i < d; i++) {
        while (scratch[i] - scratch[j] > RW_COHERENCE_WINDOW) j++;
        if (i - j + 1 > best) best = i - j + 1;
    }
    return (double)best / (double)d;
}

rw_status rw_detect_edge_weights(const rw_graph_snap *s, const rw_community_params *p, double *w, rw_err *err) {
    /* A degree offset below 1 would make log(c + 1) <= 0 for an attribute
     * of one account; treat it as 1. */
    double c = p->degree_offset >= 1.0 ? p->degree_offset : 1.0;
    uint8_t *own = s->glue ? NULL : malloc((size_t)s->n + 1);
    const uint8_t *glue = s->glue ? s->glue : own;
    if (!glue) return rw_fail(err, RW_ERR_NOMEM, "out of memory for edge weights");
    rw_status st = own ? rw_detect_hub_glue(s, p->hub_degree, own, err) : RW_OK;
    if (st != RW_OK) {
        free(own);
        return st;
    }
    uint32_t maxd = 0;
    for (uint32_t a = 0; a < s->n; a++) {
        uint32_t d = rw_detect_degree(s, a);
        if (s->kind[a] != RW_KIND_ACCOUNT && (d <= p->hub_degree || glue[a]) && d > maxd) maxd = d;
    }
    uint32_t *scratch = malloc(((size_t)maxd + 1) * sizeof *scratch);
    if (!scratch) {
        free(own);
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for edge weights");
    }
    for (uint32_t a = 0; a < s->n; a++) {
        unsigned k = s->kind[a];
        if (k == RW_KIND_ACCOUNT || k >= RW_KIND_COUNT) continue;
        uint32_t d = rw_detect_degree(s, a);
        double wt = 0.0;
        if (d <= p->hub_degree || glue[a]) {
            /* An attribute whose accounts took it up together (a device farm,
             * a stolen card, an office opening) is evidence; one taken up by
             * strangers over weeks (a popular phone model, a carrier NAT) is
             * mostly coincidence. */
            double coh = rw_detect_coherence(s, a, scratch);
            wt = p->kind_weight[k] * (p->coherence_floor + (1.0 - p->coherence_floor) * coh) / log(c + (double)d);
        }
        for (uint64_t i = s->off[a]; i < s->off[a + 1]; i++) w[s->eid[i]] = wt;
    }
    free(scratch);
    free(own);
    return RW_OK;
}
