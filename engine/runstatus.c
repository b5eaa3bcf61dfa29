/* The runs as operators watch them: which run online scoring uses, when the
 * newest finished (the alert for a nightly rescoring that did not run) and
 * how many clusters and accounts the run in force flags. Read from the
 * runs' rows, so a run published by another process counts too. */
#include <stdio.h>
#include <string.h>

#include "engine_int.h"

/* A whole number member of the summary JSON the rescoring writes
 * ({"flagged_clusters":5,...}); 0 when absent. */
static uint64_t summary_count(const char *summary, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(summary, pat);
    unsigned long long v = 0;
    if (p && sscanf(p + strlen(pat), "%llu", &v) != 1) v = 0;
    return (uint64_t)v;
}

rw_status rw_engine_run_status(rw_engine *e, rw_run_status *out, rw_err *err) {
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&e->lock);
    out->run = e->live.run;
    pthread_rwlock_unlock(&e->lock);
    rw_run_row rr;
    char params[512], summary[512];
    rw_engine_store_lock(e);
    rw_status st = rw_store_latest_run(e->store, &out->newest, err);
    if (st == RW_OK && out->newest) {
        st = rw_store_get_run(e->store, out->newest, &rr, params, summary, sizeof params, err);
        if (st == RW_OK) out->newest_finished_at = rr.finished_at;
    }
    if (st == RW_OK && out->run) {
        st = rw_store_get_run(e->store, out->run, &rr, params, summary, sizeof params, err);
        if (st == RW_OK) {
            out->flagged_clusters = summary_count(summary, "flagged_clusters");
            out->flagged_accounts = summary_count(summary, "flagged_accounts");
        }
    }
    rw_engine_store_unlock(e);
    return st;
}
