/* http: background rescoring jobs (one at a time, a bounded table of recent
 * jobs under a mutex) and the nightly scheduler that starts one at
 * rescore_at local time, after retention when retention_days is set. Signups are served meanwhile; the engine switches
 * online scoring to the new run itself. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_int.h"

void rw_jobs_init(rw_http_jobs *j) {
    memset(j, 0, sizeof *j);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->next_id = 1;
    j->worker_joined = 1;
}

void rw_jobs_destroy(rw_http_jobs *j) {
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
}

/* The job with id, or NULL; call with mu held. */
static rw_job *find(rw_http_jobs *j, uint64_t id) {
    for (size_t i = 0; i < j->njobs; i++)
        if (j->job[i].id == id) return &j->job[i];
    return NULL;
}

typedef struct {
    rw_http_server *s;
    uint64_t id;
} worker_arg;

typedef struct {
    rw_http_server *s;
    uint64_t id;
    double delay; /* seconds slept after each stage: RINGWATCH_TEST_STAGE_DELAY_MS, for tests of cancelling */
} stage_ctx;

static void on_stage(void *ctx, const char *stage, double seconds) {
    stage_ctx *c = ctx;
    rw_http_log(c->s, RW_LOG_DEBUG, "rescore: job %llu: %s %.3f s", (unsigned long long)c->id, stage, seconds);
    if (c->delay > 0) usleep((useconds_t)(c->delay * 1e6));
}

/* In this process, or by rescore_command on a copy beside the database. */
static rw_status rescore(rw_http_server *s, uint64_t id, const rw_rescore_params *rp, rw_rescore_summary *sum,
                         rw_err *err) {
    const char *d = getenv("RINGWATCH_TEST_STAGE_DELAY_MS");
    stage_ctx sc = {s, id, d ? atof(d) / 1e3 : 0};
    if (!s->cfg.rescore_command[0]) return rw_engine_rescore(s->e, rp, sum, on_stage, &sc, err);
    char copy[RW_CONFIG_TEXT + 32];
    snprintf(copy, sizeof copy, "%s.rescore-copy", s->cfg.db);
    rw_job_command cmd = {s, rp, rp->cancel};
    rw_rescore_external x = {copy, rw_jobs_run_command, &cmd};
    rw_status st = rw_engine_rescore_external(s->e, rp, &x, sum, on_stage, &sc, err);
    if (st == RW_OK)
        rw_http_log(s, RW_LOG_INFO,
                    "rescore: job %llu: the database's copy took %.2f s (signups not held); bringing the run back "
                    "held the store %.1f ms at most at a time",
                    (unsigned long long)id, sum->copy_seconds, sum->import_locked * 1e3);
    return st;
}

static void *worker(void *arg) {
    rw_http_server *s = ((worker_arg *)arg)->s;
    uint64_t id = ((worker_arg *)arg)->id;
    free(arg);
    rw_http_jobs *j = &s->jobs;
    rw_rescore_params rp = {0};
    uint32_t days = 0;
    pthread_mutex_lock(&j->mu);
    rw_job *job = find(j, id);
    if (job) {
        job->state = RW_JOB_RUNNING;
        job->started = (int64_t)time(NULL);
        rp = job->rp;
        days = job->retention_days;
    }
    pthread_mutex_unlock(&j->mu);
    rw_erase_stats kept = {0};
    rw_status rst = RW_OK;
    rw_err rerr = {{0}};
    if (days) {
        /* Retention first, so the run covers only what is kept. The server
         * records events as they happen: event time is the wall clock. */
        int64_t cutoff = (int64_t)time(NULL) - (int64_t)days * 86400;
        rst = rw_engine_retain(s->e, cutoff, &kept, &rerr);
        if (rst == RW_OK)
            rw_http_log(s, RW_LOG_INFO,
                        "retention: job %llu erased %llu accounts, %llu events and %llu attributes older than %u days "
                        "in %.2f s",
                        (unsigned long long)id, (unsigned long long)kept.accounts, (unsigned long long)kept.events,
                        (unsigned long long)kept.attributes, days, kept.seconds);
        else
            rw_http_log(s, RW_LOG_ERROR, "retention: job %llu failed: %s", (unsigned long long)id, rw_status_str(rst));
    }
    rw_http_log(s, RW_LOG_INFO, "rescore: job %llu started%s", (unsigned long long)id,
                s->cfg.rescore_command[0] ? " (rescore_command)" : "");
    rw_rescore_summary sum;
    rw_err err = {{0}};
    double t0 = rw_now();
    memset(&sum, 0, sizeof sum);
    rp.cancel = &j->cancel;
    rw_status st = rescore(s, id, &rp, &sum, &err);
    double dt = rw_now() - t0;
    pthread_mutex_lock(&j->mu);
    job = find(j, id); /* never forgotten while busy: no newer job can exist */
    if (job) {
        job->state = st == RW_OK ? RW_JOB_DONE : st == RW_ERR_CANCELLED ? RW_JOB_CANCELLED : RW_JOB_FAILED;
        job->finished = (int64_t)time(NULL);
        job->summary = sum;
        job->retained = kept;
        if (st != RW_OK) snprintf(job->error, sizeof job->error, "%s: %s", rw_status_str(st), err.msg);
        if (rst != RW_OK) { /* the rescoring still ran; the job failed all the same */
            job->state = RW_JOB_FAILED;
            snprintf(job->error, sizeof job->error, "retention: %s: %s", rw_status_str(rst), rerr.msg);
        }
    }
    j->busy = 0;
    pthread_mutex_unlock(&j->mu);
    rw_http_metrics *m = &s->metrics;
    uint64_t bits;
    memcpy(&bits, &dt, sizeof bits);
    __atomic_store_n(&m->rescore_last_bits, bits, __ATOMIC_RELAXED);
    __atomic_fetch_add(&m->rescores[st == RW_OK ? 0 : st == RW_ERR_CANCELLED ? 2 : 1], 1, __ATOMIC_RELAXED);
    if (st == RW_OK) {
        rw_hist_observe(&m->rescore, dt);
        rw_http_log(s, RW_LOG_INFO,
                    "rescore: job %llu done in %.2f s: run %lld, %llu clusters, %llu flagged (%llu new), %llu accounts "
                    "flagged; the snapshot held signups up %.1f ms, switching them to the run %.1f ms at most",
                    (unsigned long long)id, dt, (long long)sum.run, (unsigned long long)sum.clusters,
                    (unsigned long long)sum.flagged_clusters, (unsigned long long)sum.new_flagged,
                    (unsigned long long)sum.flagged_accounts, sum.snapshot_locked * 1e3, sum.online_locked * 1e3);
    } else {
        rw_http_log(s, st == RW_ERR_CANCELLED ? RW_LOG_INFO : RW_LOG_ERROR, "rescore: job %llu %s after %.2f s: %s",
                    (unsigned long long)id, st == RW_ERR_CANCELLED ? "cancelled" : "failed", dt, err.msg);
    }
    return NULL;
}

void rw_jobs_audit(rw_http_server *s, const char *who, uint64_t id, const rw_rescore_params *rp) {
    char target[32], detail[160];
    rw_err err = {{0}};
    snprintf(target, sizeof target, "job:%llu", (unsigned long long)id);
    snprintf(detail, sizeof detail, "{\"trigger\":\"%s\",\"density\":%.17g,\"hub_degree\":%u}",
             who ? "api" : "schedule", rp->density, rp->hub_degree);
    if (rw_engine_audit_put(s->e, who, "rescore", target, detail, &err) != RW_OK)
        rw_http_log(s, RW_LOG_ERROR, "rescore: job %llu started, but its audit entry failed: %s",
                    (unsigned long long)id, err.msg);
}

void rw_jobs_audit_cancel(rw_http_server *s, const char *who, uint64_t id) {
    char target[32];
    rw_err err = {{0}};
    snprintf(target, sizeof target, "job:%llu", (unsigned long long)id);
    if (rw_engine_audit_put(s->e, who, "cancel", target, "{}", &err) != RW_OK)
        rw_http_log(s, RW_LOG_ERROR, "rescore: job %llu cancel asked, but its audit entry failed: %s",
                    (unsigned long long)id, err.msg);
}

rw_status rw_jobs_start(rw_http_server *s, rw_job_trigger trigger, const rw_rescore_params *rp, uint64_t *id,
                        rw_err *err) {
    rw_http_jobs *j = &s->jobs;
    rw_status st = RW_OK;
    *id = 0;
    pthread_mutex_lock(&j->mu);
    if (j->stopping) {
        st = rw_fail(err, RW_ERR_PERM, "server: shutting down");
        goto done;
    }
    if (j->busy) {
        st = rw_fail(err, RW_ERR_EXISTS, "rescore: job %llu is still running; poll GET /v1/jobs/%llu",
                     (unsigned long long)(j->next_id - 1), (unsigned long long)(j->next_id - 1));
        goto done;
    }
    if (!j->worker_joined) { /* finished (busy is 0): the join returns at once */
        pthread_join(j->worker, NULL);
        j->worker_joined = 1;
    }
    if (j->njobs == RW_JOBS_MAX) { /* forget the oldest; none of them is busy */
        memmove(&j->job[0], &j->job[1], (RW_JOBS_MAX - 1) * sizeof j->job[0]);
        j->njobs--;
    }
    rw_job *job = &j->job[j->njobs++];
    memset(job, 0, sizeof *job);
    job->id = j->next_id++;
    job->state = RW_JOB_QUEUED;
    job->trigger = trigger;
    job->created = (int64_t)time(NULL);
    job->rp = *rp;
    job->rp.threads = s->cfg.rescore_threads;
    job->retention_days = trigger == RW_JOB_SCHEDULE ? s->cfg.retention_days : 0;
    __atomic_store_n(&j->cancel, 0, __ATOMIC_RELEASE);
    worker_arg *wa = malloc(sizeof *wa); /* the worker takes ownership */
    if (wa) *wa = (worker_arg){s, job->id};
    if (!wa || pthread_create(&j->worker, NULL, worker, wa) != 0) {
        free(wa);
        job->state = RW_JOB_FAILED;
        snprintf(job->error, sizeof job->error, "could not start a thread");
        st = rw_fail(err, RW_ERR_INTERNAL, "rescore: could not start a thread");
        goto done;
    }
    j->worker_joined = 0;
    j->busy = 1;
    *id = job->id;
done:
    pthread_mutex_unlock(&j->mu);
    return st;
}

rw_status rw_jobs_get(rw_http_server *s, uint64_t id, rw_job *out, rw_err *err) {
    rw_http_jobs *j = &s->jobs;
    pthread_mutex_lock(&j->mu);
    rw_job *job = find(j, id);
    if (job) *out = *job;
    pthread_mutex_unlock(&j->mu);
    if (!job) return rw_fail(err, RW_ERR_NOTFOUND, "no job %llu", (unsigned long long)id);
    return RW_OK;
}

rw_status rw_jobs_cancel(rw_http_server *s, uint64_t id, rw_job_state *state, rw_err *err) {
    rw_http_jobs *j = &s->jobs;
    rw_status st = RW_OK;
    pthread_mutex_lock(&j->mu);
    rw_job *job = find(j, id);
    if (!job) {
        st = rw_fail(err, RW_ERR_NOTFOUND, "no job %llu", (unsigned long long)id);
    } else if (job->state == RW_JOB_QUEUED || job->state == RW_JOB_RUNNING) {
        __atomic_store_n(&j->cancel, 1, __ATOMIC_RELEASE); /* only the newest job can be running */
    } else {
        st = rw_fail(err, RW_ERR_EXISTS, "job %llu has finished", (unsigned long long)id);
    }
    if (job) *state = job->state;
    pthread_mutex_unlock(&j->mu);
    return st;
}

int64_t rw_jobs_seconds_until(int64_t now, int minutes) {
    time_t t = (time_t)now;
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_hour = minutes / 60;
    tm.tm_min = minutes % 60;
    tm.tm_sec = 0;
    tm.tm_isdst = -1; /* mktime works out daylight saving for that day */
    time_t at = mktime(&tm);
    if (at <= t) {
        tm.tm_mday++;
        tm.tm_hour = minutes / 60;
        tm.tm_min = minutes % 60;
        tm.tm_sec = 0;
        tm.tm_isdst = -1;
        at = mktime(&tm);
    }
    return at > t ? (int64_t)(at - t) : 86400;
}

static void *scheduler(void *arg) {
    rw_http_server *s = arg;
    rw_http_jobs *j = &s->jobs;
    pthread_mutex_lock(&j->mu);
    while (!j->stopping) {
        int64_t now = (int64_t)time(NULL);
        /* Recomputed from the wall clock each day, so clock changes and
         * daylight saving move the next run with them. */
        struct timespec deadline = {.tv_sec = (time_t)(now + rw_jobs_seconds_until(now, s->cfg.rescore_at))};
        int rc = 0;
        while (!j->stopping && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&j->cv, &j->mu, &deadline);
        if (j->stopping) break;
        pthread_mutex_unlock(&j->mu);
        uint64_t id;
        rw_err err = {{0}};
        rw_rescore_params rp = {0};
        if (rw_jobs_start(s, RW_JOB_SCHEDULE, &rp, &id, &err) == RW_OK) {
            rw_http_log(s, RW_LOG_INFO, "rescore: nightly job %llu started", (unsigned long long)id);
            rw_jobs_audit(s, NULL, id, &rp);
        } else
            rw_http_log(s, RW_LOG_ERROR, "rescore: nightly rescoring skipped: %s", err.msg);
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

rw_status rw_jobs_start_scheduler(rw_http_server *s, rw_err *err) {
    if (pthread_create(&s->jobs.sched, NULL, scheduler, s) != 0)
        return rw_fail(err, RW_ERR_INTERNAL, "could not start the scheduler thread");
    s->jobs.sched_live = 1;
    return RW_OK;
}

void rw_jobs_stop(rw_http_server *s) {
    rw_http_jobs *j = &s->jobs;
    pthread_mutex_lock(&j->mu);
    j->stopping = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (j->sched_live) {
        pthread_join(j->sched, NULL);
        j->sched_live = 0;
    }
    if (!j->worker_joined) { /* a rescoring cannot be interrupted: let it commit its run */
        pthread_join(j->worker, NULL);
        j->worker_joined = 1;
    }
}
