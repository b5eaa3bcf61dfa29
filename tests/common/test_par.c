/* common: rw_par_run gives every item to exactly one worker, runs blocks
 * on as many threads as asked (worker 0 on the caller's), and stops at the
 * first failure with its status and message. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

typedef struct {
    uint32_t *hits;           /* [items] times each item was run */
    uint64_t per[RW_PAR_MAX]; /* items per worker */
    pthread_t caller;
    int caller_ran_zero; /* worker 0 ran on the calling thread */
    uint64_t fail_at;    /* an item that fails (UINT64_MAX: none) */
    uint64_t after_fail; /* blocks started once the failure was seen */
    int failed;
} count_job;

static rw_status count_block(void *ctx, unsigned worker, uint64_t from, uint64_t to, rw_err *err) {
    count_job *j = ctx;
    if (__atomic_load_n(&j->failed, __ATOMIC_ACQUIRE)) __atomic_add_fetch(&j->after_fail, 1, __ATOMIC_RELAXED);
    if (worker == 0) j->caller_ran_zero = pthread_equal(pthread_self(), j->caller);
    for (uint64_t i = from; i < to; i++) {
        if (i == j->fail_at) {
            __atomic_store_n(&j->failed, 1, __ATOMIC_RELEASE);
            return rw_fail(err, RW_ERR_INVALID, "item %llu is bad", (unsigned long long)i);
        }
        __atomic_add_fetch(&j->hits[i], 1, __ATOMIC_RELAXED);
        j->per[worker]++;
    }
    return RW_OK;
}

Test(par, every_item_once_whatever_the_workers) {
    const uint64_t items = 100003;
    const unsigned workers[] = {0, 1, 2, 3, 8, 50};
    for (size_t w = 0; w < sizeof workers / sizeof workers[0]; w++) {
        count_job j = {.hits = calloc(items, sizeof(uint32_t)), .caller = pthread_self(), .fail_at = UINT64_MAX};
        cr_assert_not_null(j.hits);
        rw_err err;
        cr_assert_eq(rw_par_run(workers[w], items, 97, count_block, &j, &err), RW_OK);
        uint64_t wrong = 0, total = 0;
        for (uint64_t i = 0; i < items; i++) wrong += j.hits[i] != 1;
        for (unsigned k = 0; k < RW_PAR_MAX; k++) total += j.per[k];
        cr_expect_eq(wrong, 0, "%llu items not run exactly once with %u workers", (unsigned long long)wrong,
                     workers[w]);
        cr_expect_eq(total, items);
        cr_expect(j.per[0] == 0 || j.caller_ran_zero, "worker 0 runs on the caller's thread");
        unsigned cap = workers[w] == 0 ? 1 : workers[w] > RW_PAR_MAX ? RW_PAR_MAX : workers[w];
        for (unsigned k = cap; k < RW_PAR_MAX; k++) cr_expect_eq(j.per[k], 0, "no worker %u of %u", k, cap);
        free(j.hits);
    }
}

Test(par, nothing_to_do_and_a_block_larger_than_the_work) {
    count_job j = {.hits = calloc(5, sizeof(uint32_t)), .caller = pthread_self(), .fail_at = UINT64_MAX};
    cr_assert_eq(rw_par_run(4, 0, 10, count_block, &j, NULL), RW_OK);
    cr_expect_eq(j.per[0] + j.per[1] + j.per[2] + j.per[3], 0);
    cr_assert_eq(rw_par_run(4, 5, 0, count_block, &j, NULL), RW_OK); /* block 0 counts as 1 */
    for (int i = 0; i < 5; i++) cr_expect_eq(j.hits[i], 1);
    free(j.hits);
}

Test(par, the_first_failure_stops_the_rest_and_is_returned) {
    const uint64_t items = 1000000;
    count_job j = {.hits = calloc(items, sizeof(uint32_t)), .caller = pthread_self(), .fail_at = 1000};
    rw_err err = {{0}};
    cr_assert_eq(rw_par_run(2, items, 100, count_block, &j, &err), RW_ERR_INVALID);
    cr_expect_str_eq(err.msg, "item 1000 is bad");
    uint64_t done = 0;
    for (uint64_t i = 0; i < items; i++) done += j.hits[i];
    /* each worker finishes the block it holds and takes no other: far
     * fewer than all of the items ran */
    cr_expect_lt(done, items / 2, "%llu items ran after the failure", (unsigned long long)done);
    cr_expect_leq(j.after_fail, 2, "blocks started once the failure was seen: %llu", (unsigned long long)j.after_fail);
    free(j.hits);
}

Test(par, cpus_is_within_bounds) {
    unsigned n = rw_par_cpus();
    cr_expect(n >= 1 && n <= RW_PAR_MAX, "%u", n);
}
