/* detectors internals shared by its .c files: igraph status conversion, node
 * degrees, Gaussian draws and a small CSR matrix with the two multi-vector
 * products the spectral code and the randomised SVD need. */
#ifndef RW_DETECTORS_INT_H
#define RW_DETECTORS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "detectors.h"

/* Converts an igraph error code (igraph_error_t, passed as int so that this
 * header does not pull in igraph.h) into a status with "what: igraph: text".
 * IGRAPH_ENOMEM becomes RW_ERR_NOMEM, anything else RW_ERR_INTERNAL. */
rw_status rw_detect_igraph_fail(int code, const char *what, rw_err *err);

/* Serialises igraph: hold it around every igraph call (see detectors.c). */
void rw_detect_igraph_lock(void);
void rw_detect_igraph_unlock(void);

/* Number of neighbours of v in the graph (an attribute's degree is its
 * number of accounts): in the whole graph for a shard's hub, which holds
 * only its edges to the shard's accounts. */
static inline uint32_t rw_detect_degree(const rw_graph_snap *s, uint32_t v) {
    return rw_graph_snap_degree(s, v);
}

/* Is attribute v a hub that glues nothing? Its degree is above hub_degree
 * and the edge weights (rw_detect_edge_weights, NULL: by degree alone) gave
 * it no weight. */
static inline int rw_detect_is_hub(const rw_graph_snap *s, const double *w, uint32_t hub_degree, uint32_t v) {
    return rw_detect_degree(s, v) > hub_degree && !(w && w[s->eid[s->off[v]]] > 0.0);
}

/* A standard normal draw (Box-Muller on rw_rng, so it is reproducible for a
 * seed on every platform). */
double rw_detect_gauss(rw_rng *r);
/* n standard normal draws into out (faster per draw than rw_detect_gauss). */
void rw_detect_gauss_fill(rw_rng *r, double *out, size_t n);

/* A sparse rows x cols matrix in compressed sparse rows. */
typedef struct {
    uint32_t rows, cols;
    uint64_t *rp; /* [rows + 1] */
    uint32_t *ci; /* [nnz] column of each entry */
    double *val;  /* [nnz] */
} rw_csr;

void rw_csr_free(rw_csr *a);
/* Y = A X for row-major X (cols x l) and Y (rows x l). */
void rw_csr_mul(const rw_csr *a, const double *x, int l, double *y);
/* Y = A^T X for row-major X (rows x l) and Y (cols x l). */
void rw_csr_tmul(const rw_csr *a, const double *x, int l, double *y);

#endif
