/* The store's connection taken in turns: store_mu, with a count of who
 * asked, so that a long writer can hand it over between transactions. */
#include "engine_int.h"

void rw_engine_store_lock(rw_engine *e) {
    pthread_mutex_lock(&e->turn_mu);
    e->store_asks++;
    pthread_mutex_unlock(&e->turn_mu);
    pthread_mutex_lock(&e->store_mu);
    pthread_mutex_lock(&e->turn_mu);
    e->store_gets++;
    pthread_cond_broadcast(&e->turn_cv);
    pthread_mutex_unlock(&e->turn_mu);
}

void rw_engine_store_unlock(rw_engine *e) {
    pthread_mutex_unlock(&e->store_mu);
}

void rw_engine_store_hand_over(rw_engine *e) {
    pthread_mutex_lock(&e->turn_mu);
    /* Read with the store held: every ask counted and not yet served is a
     * thread queued for it now. Waiting for that many grants (not for no
     * one asking) keeps a stream of commits from starving the writer. */
    uint64_t want = e->store_asks;
    pthread_mutex_unlock(&e->store_mu);
    while (e->store_gets < want) pthread_cond_wait(&e->turn_cv, &e->turn_mu);
    pthread_mutex_unlock(&e->turn_mu);
    rw_engine_store_lock(e);
}

void rw_engine_test_chunks(rw_engine *e, uint32_t rows, rw_status (*fn)(void *ctx, int64_t run, uint64_t chunk),
                           void *ctx) {
    e->chunk_rows = rows;
    e->chunk_fn = fn;
    e->chunk_ctx = ctx;
}

void rw_engine_test_shard_slices(rw_engine *e, uint32_t slice) {
    e->shard_slice = slice;
}

rw_status rw_engine_need_graph(const rw_engine *e, rw_err *err) {
    if (e->graph) return RW_OK;
    return rw_fail(err, RW_ERR_INTERNAL, "the engine was opened without its graph (store_only)");
}

rw_status rw_engine_run_checkpoint(rw_engine *e, double *last, rw_err *err) {
    rw_engine_store_unlock(e);
    rw_status st = rw_store_run_checkpoint(e->store, err);
    rw_engine_store_lock(e);
    *last = rw_now();
    return st;
}

/* Rows of unpublished runs removed in one transaction at most. */
#define DROP_ROWS 8192

rw_status rw_engine_drop_unpublished(rw_engine *e, rw_err *err) {
    rw_status st = RW_OK;
    for (int done = 0; st == RW_OK && !done;) {
        st = rw_store_run_drop_unpublished(e->store, DROP_ROWS, &done, err);
        if (st == RW_OK && !done) rw_engine_store_hand_over(e);
    }
    return st;
}
