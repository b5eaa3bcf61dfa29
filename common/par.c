/* common: items of one job shared out among threads (rw_par_run,
 * rw_par_start and rw_par_finish). */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

typedef struct {
    rw_par *job;
    unsigned worker;
    rw_status st;
    rw_err err;
} par_worker;

struct rw_par {
    rw_par_fn fn;
    void *ctx;
    uint64_t items, block;
    uint64_t next; /* the next block's first item (atomic) */
    int failed;    /* a worker failed: take no more blocks (atomic) */
    unsigned workers;
    par_worker w[RW_PAR_MAX];
    pthread_t th[RW_PAR_MAX];
    int started[RW_PAR_MAX];
};

/* Takes blocks until none are left or a worker failed. */
static void *par_main(void *arg) {
    par_worker *w = arg;
    rw_par *j = w->job;
    w->st = RW_OK;
    while (!__atomic_load_n(&j->failed, __ATOMIC_ACQUIRE)) {
        uint64_t from = __atomic_fetch_add(&j->next, j->block, __ATOMIC_RELAXED);
        if (from >= j->items) break;
        uint64_t to = j->items - from < j->block ? j->items : from + j->block;
        w->st = j->fn(j->ctx, w->worker, from, to, &w->err);
        if (w->st != RW_OK) {
            __atomic_store_n(&j->failed, 1, __ATOMIC_RELEASE);
            break;
        }
    }
    return NULL;
}

rw_status rw_par_start(rw_par **out, unsigned workers, uint64_t items, uint64_t block, rw_par_fn fn, void *ctx,
                       rw_err *err) {
    rw_par *j = calloc(1, sizeof *j);
    *out = j;
    if (!j) return rw_fail(err, RW_ERR_NOMEM, "out of memory for a parallel job");
    j->workers = workers == 0 ? 1 : workers > RW_PAR_MAX ? RW_PAR_MAX : workers;
    j->fn = fn, j->ctx = ctx, j->items = items, j->block = block ? block : 1;
    for (unsigned k = 0; k < j->workers; k++) j->w[k] = (par_worker){.job = j, .worker = k, .st = RW_OK};
    for (unsigned k = 1; k < j->workers && (uint64_t)k * j->block < items; k++)
        j->started[k] = pthread_create(&j->th[k], NULL, par_main, &j->w[k]) == 0;
    return RW_OK;
}

rw_status rw_par_finish(rw_par *j, rw_err *err) {
    if (!j) return RW_OK;
    par_main(&j->w[0]);
    for (unsigned k = 1; k < j->workers; k++)
        if (j->started[k]) pthread_join(j->th[k], NULL);
    rw_status st = RW_OK;
    for (unsigned k = 0; k < j->workers && st == RW_OK; k++) {
        if (j->w[k].st == RW_OK) continue;
        st = j->w[k].st;
        if (err) *err = j->w[k].err;
    }
    free(j);
    return st;
}

rw_status rw_par_run(unsigned workers, uint64_t items, uint64_t block, rw_par_fn fn, void *ctx, rw_err *err) {
    rw_par *j = NULL;
    rw_status st = rw_par_start(&j, workers, items, block, fn, ctx, err);
    return st == RW_OK ? rw_par_finish(j, err) : st;
}

unsigned rw_par_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > RW_PAR_MAX ? RW_PAR_MAX : (unsigned)n;
}
