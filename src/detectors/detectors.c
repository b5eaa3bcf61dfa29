/* detectors: one-time library set-up (igraph error handling, OpenBLAS
 * threads), the documented community parameters and the edge weights every
 * detector shares. */
#include <math.h>
#include <string.h>

#include <cblas.h>
#include <igraph.h>

#include "detectors_int.h"

rw_status rw_detect_init(int threads, rw_err *err) {
    if (threads < 0) return rw_fail(err, RW_ERR_INVALID, "detectors: threads must be >= 0, not %d", threads);
    /* The default handler aborts the process; the ignoring one still runs
     * igraph's FINALLY stack, so a failed call frees what it allocated and we
     * turn its code into a status at the boundary. */
    igraph_set_error_handler(igraph_error_handler_ignore);
    igraph_set_warning_handler(igraph_warning_handler_ignore);
    /* Dense work here is small blocks and one tall skinny SVD: two threads
     * get nearly all the speed-up and leave the other cores to the server. */
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
}

void rw_detect_edge_weights(const rw_graph_snap *s, const rw_community_params *p, double *w) {
    /* A degree offset below 1 would make log(c + 1) <= 0 for an attribute
     * of one account; treat it as 1. */
    double c = p->degree_offset >= 1.0 ? p->degree_offset : 1.0;
    for (uint64_t e = 0; e < s->m; e++) {
        uint32_t a = s->edges[e].attr;
        uint32_t d = rw_detect_degree(s, a);
        unsigned k = s->kind[a];
        if (d > p->hub_degree || k >= RW_KIND_COUNT) {
            w[e] = 0.0;
            continue;
        }
        w[e] = p->kind_weight[k] / log(c + (double)d);
    }
}
