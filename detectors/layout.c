/* detectors: positions for a small graph, for cluster pictures: igraph's
 * Fruchterman-Reingold on the nodes of degree two or more, each leaf put on a
 * small circle around its one neighbour. */
#include <igraph.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detectors_int.h"

#define NONE UINT32_MAX

/* igraph's default of 500 iterations, up to 1,000 nodes of degree two or
 * more; beyond, fewer (faster cooling, a slightly rougher picture) so that
 * 2,000 such nodes take about 0.1 s on a 2-core machine and a picture stays well
 * inside its second even under load. */
static igraph_integer_t iterations(uint32_t n) {
    if (n <= 1000) return 500;
    uint32_t it = 500000u / n;
    return it < 100 ? 100 : (igraph_integer_t)it;
}

/* Scales xy into the unit square, centred, keeping the aspect. */
static void normalise(double *xy, uint32_t n) {
    double x0 = xy[0], x1 = xy[0], y0 = xy[1], y1 = xy[1];
    for (uint32_t v = 1; v < n; v++) {
        x0 = fmin(x0, xy[2 * v]), x1 = fmax(x1, xy[2 * v]);
        y0 = fmin(y0, xy[2 * v + 1]), y1 = fmax(y1, xy[2 * v + 1]);
    }
    double span = fmax(x1 - x0, y1 - y0);
    for (uint32_t v = 0; v < n; v++) {
        if (!(span > 0)) {
            xy[2 * v] = xy[2 * v + 1] = 0.5;
            continue;
        }
        xy[2 * v] = (xy[2 * v] - x0) / span + (1.0 - (x1 - x0) / span) / 2.0;
        xy[2 * v + 1] = (xy[2 * v + 1] - y0) / span + (1.0 - (y1 - y0) / span) / 2.0;
    }
}

/* Fruchterman-Reingold on nc core nodes joined by the mc edges in el; the
 * positions go to xy at the core nodes' original indexes (core[i]). */
static rw_status layout_core(const igraph_vector_int_t *el, uint32_t nc, const uint32_t *core, uint64_t seed,
                             double *xy, rw_err *err) {
    igraph_t g;
    igraph_matrix_t pos;
    int have_g = 0, have_pos = 0;
    rw_status st = RW_OK;
    rw_detect_igraph_lock();
    /* Set here as well as in rw_detect_init: a process that only draws
     * pictures never ran that, and igraph's default handler aborts. */
    igraph_set_error_handler(igraph_error_handler_ignore);
    igraph_set_warning_handler(igraph_warning_handler_ignore);
    igraph_error_t rc = igraph_create(&g, el, (igraph_integer_t)nc, IGRAPH_UNDIRECTED);
    if (rc) goto fail;
    have_g = 1;
    if ((rc = igraph_matrix_init(&pos, 0, 0))) goto fail;
    have_pos = 1;
    if ((rc = igraph_rng_seed(igraph_rng_default(), (igraph_uint_t)seed))) goto fail;
    rc = igraph_layout_fruchterman_reingold(&g, &pos, 0, iterations(nc), sqrt((double)nc) / 10.0,
                                            IGRAPH_LAYOUT_AUTOGRID, NULL, NULL, NULL, NULL, NULL);
    if (rc) goto fail;
    for (uint32_t i = 0; i < nc; i++) {
        xy[2 * core[i]] = MATRIX(pos, i, 0);
        xy[2 * core[i] + 1] = MATRIX(pos, i, 1);
    }
    goto done;
fail:
    st = rw_detect_igraph_fail(rc, "layout", err);
done:
    if (have_pos) igraph_matrix_destroy(&pos);
    if (have_g) igraph_destroy(&g);
    rw_detect_igraph_unlock();
    return st;
}

rw_status rw_detect_layout(const uint32_t *edges, size_t m, uint32_t n, uint64_t seed, double *xy, rw_err *err) {
    if (n > RW_LAYOUT_MAX)
        return rw_fail(err, RW_ERR_LIMIT, "layout: %u nodes, above the limit of %u", n, RW_LAYOUT_MAX);
    for (size_t j = 0; j < 2 * m; j++)
        if (edges[j] >= n)
            return rw_fail(err, RW_ERR_INVALID, "layout: edge %zu names node %u of %u", j / 2, edges[j], n);
    if (n == 0) return RW_OK;
    rw_status st = RW_OK;
    igraph_vector_int_t el;
    int have_el = 0;
    uint32_t *deg = calloc(n, sizeof *deg), *nbr = malloc(n * sizeof *nbr), *loc = malloc(n * sizeof *loc);
    uint32_t *core = malloc(n * sizeof *core), *leaves = calloc(n, sizeof *leaves);
    if (!deg || !nbr || !loc || !core || !leaves) {
        st = rw_fail(err, RW_ERR_NOMEM, "layout: out of memory for %u nodes", n);
        goto done;
    }
    for (size_t j = 0; j < 2 * m; j++) {
        deg[edges[j]]++;
        nbr[edges[j]] = edges[j ^ 1];
    }
    uint32_t nc = 0;
    for (uint32_t v = 0; v < n; v++) {
        int leaf = deg[v] == 1 && deg[nbr[v]] >= 2;
        loc[v] = leaf ? NONE : nc;
        if (leaf)
            leaves[nbr[v]]++;
        else
            core[nc++] = v;
    }
    size_t mc = 0;
    for (size_t j = 0; j < m; j++) mc += loc[edges[2 * j]] != NONE && loc[edges[2 * j + 1]] != NONE;
    if (igraph_vector_int_init(&el, (igraph_integer_t)(2 * mc))) {
        st = rw_fail(err, RW_ERR_NOMEM, "layout: out of memory for %zu edges", mc);
        goto done;
    }
    have_el = 1;
    size_t k = 0;
    for (size_t j = 0; j < m; j++) {
        uint32_t a = loc[edges[2 * j]], b = loc[edges[2 * j + 1]];
        if (a == NONE || b == NONE) continue;
        VECTOR(el)[2 * k] = a;
        VECTOR(el)[2 * k + 1] = b;
        k++;
    }
    st = layout_core(&el, nc, core, seed, xy, err);
    if (st != RW_OK) goto done;

    /* Leaves sit close to their neighbour (a third of the spacing the core
     * nodes would have if spread evenly over their box, at most a third of
     * a core edge), fanned out away from the core's centre, so a fringe of
     * private addresses reads as belonging to its account. */
    double cx = 0, cy = 0, x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY, len = 0.0;
    for (uint32_t i = 0; i < nc; i++) {
        double x = xy[2 * core[i]], y = xy[2 * core[i] + 1];
        cx += x / nc, cy += y / nc;
        x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
    }
    for (size_t j = 0; j < mc; j++) {
        uint32_t a = core[VECTOR(el)[2 * j]], b = core[VECTOR(el)[2 * j + 1]];
        len += hypot(xy[2 * a] - xy[2 * b], xy[2 * a + 1] - xy[2 * b + 1]);
    }
    double r = sqrt((x1 - x0) * (y1 - y0) / nc) / 3.0;
    if (mc && len / (double)mc / 3.0 < r) r = len / (double)mc / 3.0;
    if (!(r > 0)) r = 1.0;
    uint32_t *placed = deg; /* reused: leaves placed so far around each node */
    memset(placed, 0, n * sizeof *placed);
    for (uint32_t v = 0; v < n; v++) {
        if (loc[v] != NONE) continue;
        uint32_t u = nbr[v];
        double out = atan2(xy[2 * u + 1] - cy, xy[2 * u] - cx);
        double f = leaves[u], t = out + (f > 1 ? 2.0 * M_PI * ((double)placed[u]++ - (f - 1) / 2.0) / f : 0.0);
        xy[2 * v] = xy[2 * u] + r * cos(t);
        xy[2 * v + 1] = xy[2 * u + 1] + r * sin(t);
    }
    normalise(xy, n);
done:
    if (have_el) igraph_vector_int_destroy(&el);
    free(deg);
    free(nbr);
    free(loc);
    free(core);
    free(leaves);
    return st;
}
