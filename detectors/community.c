/* detectors: weighted Leiden communities of the account-attribute graph.
 * Hubs, attributes of a single account and zero-weight edges are set aside,
 * the rest splits into connected components, and only the components whose
 * modularity optimum is not provably "the whole component" go to Leiden. */
#include <igraph.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detectors_int.h"

#define NONE UINT32_MAX

/* Randomness of Leiden's refinement step; 0.01 is the value of the paper
 * and of igraph's documentation. */
#define LEIDEN_BETA 0.01

/* Passes stop when one improves the objective by less than this share of
 * it (see run_batch). */
#define QUALITY_TOL 1e-4

typedef struct {
    const rw_graph_snap *s;
    const double *w;
    const rw_community_params *p;
    const uint32_t *init;
    double resolution; /* already divided by 2 * total weight */
    uint8_t *kept;     /* [m] the edge is in the reduced graph */
    uint32_t *comp;    /* [n] component of a reduced vertex, else NONE */
    uint32_t *cstart;  /* [ncomp + 1] each component's slice of order */
    uint32_t *order;   /* reduced vertices grouped by component, by id inside */
    uint32_t *raw;     /* [n] community label before the final renumbering */
    uint32_t nraw;     /* labels handed out so far */
    uint32_t *loc;     /* [n] vertex id inside the current batch */
    uint32_t *stamp;   /* [n] warm start: component that last used a label */
    uint32_t *lmap;    /* [n] warm start: that label's id in the batch */
} cctx;

/* Union-find whose root is always the smallest node id of its set: the
 * components then come out numbered in order of their smallest node. */
static uint32_t uf_find(uint32_t *par, uint32_t x) {
    while (par[x] != x) {
        par[x] = par[par[x]];
        x = par[x];
    }
    return x;
}

static void uf_union(uint32_t *par, uint32_t a, uint32_t b) {
    a = uf_find(par, a);
    b = uf_find(par, b);
    if (a < b)
        par[b] = a;
    else if (b < a)
        par[a] = b;
}

/* Relabels memb[0..nv) in order of first appearance into out; tmp has nv
 * entries. Leiden's own labels need not be canonical, and comparing two
 * passes needs labels that only depend on the partition. */
static void canonical(const igraph_vector_int_t *memb, uint32_t nv, uint32_t *tmp, uint32_t *out) {
    for (uint32_t i = 0; i < nv; i++) tmp[i] = NONE;
    uint32_t next = 0;
    for (uint32_t i = 0; i < nv; i++) {
        igraph_integer_t c = VECTOR(*memb)[i];
        if (tmp[c] == NONE) tmp[c] = next++;
        out[i] = tmp[c];
    }
}

/* Vertices whose community changed from prev to cur (both canonical):
 * each old community is matched to where its first vertex went. tmp has nv
 * entries. */
static uint32_t moved(const uint32_t *prev, const uint32_t *cur, uint32_t nv, uint32_t *tmp) {
    for (uint32_t i = 0; i < nv; i++) tmp[i] = NONE;
    uint32_t n = 0;
    for (uint32_t i = 0; i < nv; i++) {
        if (tmp[prev[i]] == NONE) tmp[prev[i]] = cur[i];
        n += tmp[prev[i]] != cur[i];
    }
    return n;
}

/* Kept edges of v; *other receives the far end of the last one. */
static uint32_t kept_degree(const cctx *x, uint32_t v, uint32_t *other) {
    const rw_graph_snap *s = x->s;
    uint32_t d = 0;
    for (uint64_t j = s->off[v]; j < s->off[v + 1]; j++) {
        if (!x->kept[s->eid[j]]) continue;
        d++;
        *other = s->nbr[j];
    }
    return d;
}

/* Runs Leiden on the components cl[0..nc) as one graph and writes their
 * labels into x->raw. Called with one component at a time: components
 * packed together would share the random stream and the passes' stopping
 * test, and a component's communities would depend on its neighbours in the
 * batch (on one machine, at a million accounts, the test of step 3 leaves
 * one component to Leiden anyway).
 *
 * Leaves (vertices with one kept edge, e.g. an account seen only with an
 * office IP) are merged into their neighbour before Leiden: with node
 * weights = strengths, a leaf of strength k joining its neighbour's
 * community C gains k (2 - g K_C / m) > 0 whenever K_C < 2m / g, i.e. always
 * at resolution g <= 1 and in practice at any g; its edge becomes internal
 * (a constant of the objective, so it is dropped) and its strength is added
 * to the neighbour's node weight. Leiden then sees 30-50% fewer vertices. */
static rw_status run_batch(cctx *x, const uint32_t *cl, uint32_t nc, rw_err *err) {
    const rw_graph_snap *s = x->s;
    rw_status st = RW_OK;
    igraph_t g;
    igraph_vector_int_t edges, memb;
    igraph_vector_t ew, nw;
    int have_g = 0, have_edges = 0, have_memb = 0, have_ew = 0, have_nw = 0;
    uint32_t *cur = NULL, *prev = NULL, *tmp = NULL;
    igraph_error_t rc = IGRAPH_SUCCESS;

    /* Vertex ids of the contracted graph in x->loc: non-leaves first, in
     * batch order, then each leaf takes its neighbour's id. */
    uint32_t nv = 0;
    for (uint32_t i = 0; i < nc; i++) {
        for (uint32_t k = x->cstart[cl[i]]; k < x->cstart[cl[i] + 1]; k++) {
            uint32_t v = x->order[k], o = NONE, o2 = NONE;
            int leaf = kept_degree(x, v, &o) == 1 && kept_degree(x, o, &o2) >= 2;
            x->loc[v] = leaf ? NONE : nv++;
        }
    }
    uint64_t ne = 0;
    for (uint32_t i = 0; i < nc; i++) {
        for (uint32_t k = x->cstart[cl[i]]; k < x->cstart[cl[i] + 1]; k++) {
            uint32_t v = x->order[k];
            if (x->loc[v] != NONE || s->kind[v] != RW_KIND_ACCOUNT) continue;
            uint32_t o = NONE;
            kept_degree(x, v, &o);
            x->loc[v] = x->loc[o];
        }
    }
    for (uint32_t i = 0; i < nc; i++) {
        for (uint32_t k = x->cstart[cl[i]]; k < x->cstart[cl[i] + 1]; k++) {
            uint32_t v = x->order[k];
            if (x->loc[v] == NONE) { /* an attribute leaf, whose account is now resolved */
                uint32_t o = NONE;
                kept_degree(x, v, &o);
                x->loc[v] = x->loc[o];
            }
            if (s->kind[v] != RW_KIND_ACCOUNT) continue;
            for (uint64_t j = s->off[v]; j < s->off[v + 1]; j++)
                ne += x->kept[s->eid[j]] && x->loc[v] != x->loc[s->nbr[j]];
        }
    }

    if ((rc = igraph_vector_int_init(&edges, (igraph_integer_t)(2 * ne)))) goto fail;
    have_edges = 1;
    if ((rc = igraph_vector_init(&ew, (igraph_integer_t)ne))) goto fail;
    have_ew = 1;
    if ((rc = igraph_vector_init(&nw, (igraph_integer_t)nv))) goto fail;
    have_nw = 1;
    if ((rc = igraph_vector_int_init(&memb, (igraph_integer_t)nv))) goto fail;
    have_memb = 1;

    uint64_t ei = 0;
    for (uint32_t i = 0; i < nc; i++) {
        for (uint32_t k = x->cstart[cl[i]]; k < x->cstart[cl[i] + 1]; k++) {
            uint32_t v = x->order[k];
            if (s->kind[v] != RW_KIND_ACCOUNT) continue;
            for (uint64_t j = s->off[v]; j < s->off[v + 1]; j++) {
                uint32_t e = s->eid[j];
                if (!x->kept[e]) continue;
                uint32_t a = x->loc[v], b = x->loc[s->nbr[j]];
                /* Modularity: node weight = strength, leaves included. */
                VECTOR(nw)[a] += x->w[e];
                VECTOR(nw)[b] += x->w[e];
                if (a == b) continue;
                VECTOR(edges)[2 * ei] = a;
                VECTOR(edges)[2 * ei + 1] = b;
                VECTOR(ew)[ei] = x->w[e];
                ei++;
            }
        }
    }

    cur = malloc(((size_t)nv + 1) * sizeof *cur);
    prev = malloc(((size_t)nv + 1) * sizeof *prev);
    tmp = malloc(((size_t)nv + 1) * sizeof *tmp);
    if (!cur || !prev || !tmp) {
        st = rw_fail(err, RW_ERR_NOMEM, "communities: out of memory for %u vertices", nv);
        goto done;
    }

    igraph_bool_t start = 0;
    if (x->init) {
        /* Previous labels are renumbered densely per component: a label
         * that spanned two components (they have drifted apart since)
         * must not tie them together at the start. A leaf's label is its
         * neighbour's. */
        uint32_t next = 0;
        for (uint32_t i = 0; i < nc; i++) {
            for (uint32_t k = x->cstart[cl[i]]; k < x->cstart[cl[i] + 1]; k++) {
                uint32_t v = x->order[k], lab = x->init[v], o = NONE;
                if (kept_degree(x, v, &o) == 1 && x->loc[v] == x->loc[o]) continue;
                uint32_t id;
                if (lab >= s->n) {
                    id = next++; /* a node that is new since then */
                } else if (x->stamp[lab] != cl[i]) {
                    x->stamp[lab] = cl[i];
                    id = x->lmap[lab] = next++;
                } else {
                    id = x->lmap[lab];
                }
                VECTOR(memb)[x->loc[v]] = id;
            }
        }
        canonical(&memb, nv, tmp, prev);
        start = 1;
    }

    if ((rc = igraph_create(&g, &edges, (igraph_integer_t)nv, IGRAPH_UNDIRECTED))) goto fail;
    have_g = 1;

    /* Every component starts from the same seed, so its result does not
     * depend on how much randomness the ones before it consumed. */
    if ((rc = igraph_rng_seed(igraph_rng_default(), (igraph_uint_t)x->p->seed))) goto fail;
    int passes = x->p->iterations > 0 ? x->p->iterations : 1;
    igraph_integer_t nb = 0;
    igraph_real_t q = 0.0, qprev = 0.0;
    for (int it = 0; it < passes; it++) {
        /* igraph 0.10.2 runs a single iteration for n_iterations < 0, so we
         * run one at a time. We stop when the partition holds still or a
         * pass gains less than QUALITY_TOL of the objective: on a giant
         * component of 450k vertices every pass after the second moved 3%
         * of them for about 1e-5 of modularity, at 0.6 s a pass, and never
         * settled within 20 passes. */
        rc = igraph_community_leiden(&g, &ew, &nw, x->resolution, LEIDEN_BETA, start, 1, &memb, &nb, &q);
        if (rc) goto fail;
        canonical(&memb, nv, tmp, cur);
        if (start && moved(prev, cur, nv, tmp) == 0) break;
        if (it > 0 && q - qprev < QUALITY_TOL * fabs(q)) break;
        qprev = q;
        start = 1;
        uint32_t *t = prev;
        prev = cur;
        cur = t;
    }
    /* The last canonical labels are in prev (swapped) or cur (break). */
    canonical(&memb, nv, tmp, cur);
    uint32_t used = 0;
    for (uint32_t i = 0; i < nc; i++) {
        for (uint32_t k = x->cstart[cl[i]]; k < x->cstart[cl[i] + 1]; k++) {
            uint32_t v = x->order[k], c = cur[x->loc[v]];
            x->raw[v] = x->nraw + c;
            if (c + 1 > used) used = c + 1;
        }
    }
    x->nraw += used;
    goto done;

fail:
    st = rw_detect_igraph_fail(rc, "communities: leiden", err);
done:
    free(cur);
    free(prev);
    free(tmp);
    if (have_g) igraph_destroy(&g);
    if (have_memb) igraph_vector_int_destroy(&memb);
    if (have_nw) igraph_vector_destroy(&nw);
    if (have_ew) igraph_vector_destroy(&ew);
    if (have_edges) igraph_vector_int_destroy(&edges);
    return st;
}

/* Is edge e part of the graph Leiden sees? Hubs glue nothing, an attribute
 * of one account groups nothing, and zero weight means no evidence. */
static int reduced_edge(const rw_graph_snap *s, const rw_community_params *p, const double *w, uint64_t e) {
    uint32_t a = s->edges[e].attr;
    return w[e] > 0.0 && rw_detect_degree(s, a) >= 2 && !rw_detect_is_hub(s, w, p->hub_degree, a);
}

void rw_detect_weight_totals(const rw_graph_snap *s, const rw_community_params *p, const double *w, int64_t *all,
                             int64_t *kept) {
    *all = *kept = 0;
    for (uint64_t e = 0; e < s->m; e++) {
        int64_t f = llround(w[e] * RW_WEIGHT_UNIT);
        *all += f;
        if (reduced_edge(s, p, w, e)) *kept += f;
    }
}

/* The early labels of rw_communities_early: a component kept whole is its
 * label, an account of no component one of its own after them, and an
 * account of a component Leiden splits the label after those (npre). */
static void early_labels(const cctx *x, const uint32_t *cl, uint32_t nlei, uint32_t ncomp,
                         const rw_communities_early *early) {
    const rw_graph_snap *s = x->s;
    uint32_t *pre = early->pre, npre = ncomp;
    for (uint32_t v = 0; v < s->n; v++) {
        uint32_t c = x->comp[v];
        pre[v] = s->kind[v] != RW_KIND_ACCOUNT ? RW_NODE_NONE : c == NONE ? npre++ : c;
    }
    for (uint32_t i = 0; i < nlei; i++)
        for (uint32_t k = x->cstart[cl[i]]; k < x->cstart[cl[i] + 1]; k++)
            if (s->kind[x->order[k]] == RW_KIND_ACCOUNT) pre[x->order[k]] = npre;
    early->ready(early->ctx, npre);
}

rw_status rw_detect_communities(const rw_graph_snap *s, const rw_community_params *p, const double *w,
                                const uint32_t *init, uint32_t *membership, uint32_t *ncomm, rw_err *err) {
    return rw_detect_communities_early(s, p, w, init, membership, ncomm, NULL, err);
}

rw_status rw_detect_communities_early(const rw_graph_snap *s, const rw_community_params *p, const double *w,
                                      const uint32_t *init, uint32_t *membership, uint32_t *ncomm,
                                      const rw_communities_early *early, rw_err *err) {
    *ncomm = 0;
    rw_status st = RW_OK;
    const uint32_t n = s->n;
    cctx x = {.s = s, .w = w, .p = p, .init = init};
    uint32_t *par = NULL, *nacc = NULL, *cl = NULL, *remap = NULL;
    double *cw = NULL, *cmin = NULL;
    uint32_t ncomp = 0;

    if (!(p->resolution >= 0.0))
        return rw_fail(err, RW_ERR_INVALID, "communities: resolution must be >= 0, not %g", p->resolution);
    /* Labels are nodes, components and Leiden communities in one uint32
     * space (at most three per node). */
    if (n > UINT32_MAX / 3)
        return rw_fail(err, RW_ERR_LIMIT, "communities: %u nodes is more than this build supports", n);
    if (n == 0) return RW_OK;

    x.kept = malloc(s->m ? s->m : 1);
    x.comp = malloc((size_t)n * sizeof *x.comp);
    x.raw = malloc((size_t)n * sizeof *x.raw);
    x.loc = malloc((size_t)n * sizeof *x.loc);
    par = malloc((size_t)n * sizeof *par);
    if (!x.kept || !x.comp || !x.raw || !x.loc || !par) goto nomem;

    /* 1. The reduced graph and its connected components. */
    int64_t total_fixed = 0;
    for (uint32_t v = 0; v < n; v++) par[v] = v, x.comp[v] = NONE;
    for (uint64_t e = 0; e < s->m; e++) {
        x.kept[e] = (uint8_t)reduced_edge(s, p, w, e);
        if (!x.kept[e]) continue;
        total_fixed += llround(w[e] * RW_WEIGHT_UNIT);
        uint32_t a = s->edge_account[e], b = s->edges[e].attr;
        x.comp[a] = x.comp[b] = 0; /* marks reduced vertices for now */
        uf_union(par, a, b);
    }
    for (uint32_t v = 0; v < n; v++) {
        if (x.comp[v] == NONE) continue;
        uint32_t r = uf_find(par, v);
        /* The root is the smallest id of the component, so it comes first. */
        x.comp[v] = r == v ? ncomp++ : x.comp[r];
    }
    free(par);
    par = NULL;
    double total = p->kept_total > 0 ? p->kept_total : (double)total_fixed / RW_WEIGHT_UNIT;

    /* 2. Per component: accounts, total and smallest edge weight, and its
     * vertices in node order. */
    nacc = calloc((size_t)ncomp + 1, sizeof *nacc);
    cw = calloc((size_t)ncomp + 1, sizeof *cw);
    cmin = malloc(((size_t)ncomp + 1) * sizeof *cmin);
    x.cstart = calloc((size_t)ncomp + 2, sizeof *x.cstart);
    cl = malloc(((size_t)ncomp + 1) * sizeof *cl);
    if (!nacc || !cw || !cmin || !x.cstart || !cl) goto nomem;
    for (uint32_t c = 0; c < ncomp; c++) cmin[c] = INFINITY;
    for (uint64_t e = 0; e < s->m; e++) {
        if (!x.kept[e]) continue;
        uint32_t c = x.comp[s->edge_account[e]];
        cw[c] += w[e];
        if (w[e] < cmin[c]) cmin[c] = w[e];
    }
    uint32_t nred = 0;
    for (uint32_t v = 0; v < n; v++) {
        uint32_t c = x.comp[v];
        if (c == NONE) continue;
        nred++;
        x.cstart[c + 1]++;
        if (s->kind[v] == RW_KIND_ACCOUNT) nacc[c]++;
    }
    for (uint32_t c = 0; c < ncomp; c++) x.cstart[c + 1] += x.cstart[c];
    x.order = malloc(((size_t)nred + 1) * sizeof *x.order);
    if (!x.order) goto nomem;
    {
        /* cl doubles as the fill cursor here; it is rebuilt below. */
        for (uint32_t c = 0; c < ncomp; c++) cl[c] = x.cstart[c];
        for (uint32_t v = 0; v < n; v++)
            if (x.comp[v] != NONE) x.order[cl[x.comp[v]]++] = v;
    }

    /* 3. Which components need Leiden. With modularity at resolution g and
     * total weight m, merging two parts A, B of a component pays when
     * 2 m w(A,B) > g K_A K_B (K: strength sums). K_A K_B <= W^2 for a
     * component of weight W and w(A,B) >= its lightest edge, so when
     * 2 m w_min > g W^2 no split of it (into two parts or more) beats the
     * whole component: that is its optimum, and Leiden would at best find
     * the same. Modularity's resolution limit makes this true of nearly
     * every component but the giant one; with two accounts or fewer there
     * is nothing to split that would be worth having. */
    x.nraw = ncomp;
    uint32_t nlei = 0;
    for (uint32_t c = 0; c < ncomp; c++) {
        int whole = nacc[c] <= 2 || 2.0 * total * cmin[c] > p->resolution * cw[c] * cw[c] * (1.0 + 1e-9);
        if (whole) {
            for (uint32_t k = x.cstart[c]; k < x.cstart[c + 1]; k++) x.raw[x.order[k]] = c;
        } else {
            cl[nlei++] = c;
        }
    }

    if (early) early_labels(&x, cl, nlei, ncomp, early);

    /* 4. Leiden, component by component (see run_batch). */
    if (nlei > 0) {
        x.resolution = p->resolution / (2.0 * total);
        if (init) {
            x.stamp = malloc((size_t)n * sizeof *x.stamp);
            x.lmap = malloc((size_t)n * sizeof *x.lmap);
            if (!x.stamp || !x.lmap) goto nomem;
            for (uint32_t v = 0; v < n; v++) x.stamp[v] = NONE;
        }
        for (uint32_t i = 0; i < nlei; i++) {
            rw_detect_igraph_lock();
            st = run_batch(&x, cl + i, 1, err);
            rw_detect_igraph_unlock();
            if (st != RW_OK) goto done;
        }
    }

    /* 5. Everything outside the reduced graph: an attribute of one account
     * follows that account (its private device belongs with it), anything
     * else is a community of its own. */
    uint32_t base = x.nraw;
    for (uint32_t v = 0; v < n; v++)
        if (x.comp[v] == NONE) x.raw[v] = base + v;
    for (uint32_t v = 0; v < n; v++) {
        if (x.comp[v] != NONE || s->kind[v] == RW_KIND_ACCOUNT || rw_detect_degree(s, v) != 1) continue;
        if (p->hub_degree < 1 || !(w[s->eid[s->off[v]]] > 0.0)) continue;
        x.raw[v] = x.raw[s->nbr[s->off[v]]];
    }

    /* 6. Dense ids in order of each community's smallest node. */
    remap = malloc(((size_t)base + n) * sizeof *remap);
    if (!remap) goto nomem;
    for (size_t i = 0; i < (size_t)base + n; i++) remap[i] = NONE;
    uint32_t next = 0;
    for (uint32_t v = 0; v < n; v++) {
        uint32_t r = x.raw[v];
        if (remap[r] == NONE) remap[r] = next++;
        membership[v] = remap[r];
    }
    *ncomm = next;
    goto done;

nomem:
    st = rw_fail(err, RW_ERR_NOMEM, "communities: out of memory for %u nodes", n);
done:
    free(remap);
    free(cl);
    free(cmin);
    free(cw);
    free(nacc);
    free(par);
    free(x.kept);
    free(x.comp);
    free(x.cstart);
    free(x.order);
    free(x.raw);
    free(x.loc);
    free(x.stamp);
    free(x.lmap);
    return st;
}
