/* http: the series operators expect by convention, beside ringwatch's own:
 * Prometheus's process_* from /proc/self (as its client libraries name
 * them), ringwatch_build_info, the last successful rescoring's time, the
 * group commit's latency and queue, the run in force's flagged counts and
 * events recorded by type. Nothing here names an account or an address. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "build_info.h"
#include "http_int.h"

typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || t->failed) {
        t->failed = 1;
        return;
    }
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->failed = 1;
            return;
        }
        t->s = s, t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

static void gauge(text *t, const char *name, const char *type, const char *help, double v) {
    add(t, "# HELP %s %s\n# TYPE %s %s\n%s %.15g\n", name, help, name, type, name, v);
}

/* ---- process_*: /proc/self ------------------------------------------------ */

typedef struct {
    double cpu_seconds, start_time;
    double virtual_bytes, resident_bytes;
    double open_fds, max_fds;
    int ok;
} proc_figures;

/* The system's boot time (Unix seconds), for a process's start time. */
static double boot_time(void) {
    FILE *f = fopen("/proc/stat", "r");
    char line[256];
    double btime = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "btime %lf", &btime) == 1) break;
    if (f) fclose(f);
    return btime;
}

static void read_proc(proc_figures *p) {
    memset(p, 0, sizeof *p);
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    /* Fields after the command name, which may hold spaces and ')'. */
    const char *rp = strrchr(buf, ')');
    unsigned long long utime, stime, start, vsize;
    long long rss;
    if (!rp ||
        sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %llu %lld",
               &utime, &stime, &start, &vsize, &rss) != 5)
        return;
    double tick = (double)sysconf(_SC_CLK_TCK), page = (double)sysconf(_SC_PAGESIZE);
    p->cpu_seconds = (double)(utime + stime) / tick;
    p->start_time = boot_time() + (double)start / tick;
    p->virtual_bytes = (double)vsize;
    p->resident_bytes = (double)rss * page;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; d && (e = readdir(d));) p->open_fds += e->d_name[0] != '.';
    if (d) closedir(d), p->open_fds -= 1; /* the directory's own descriptor */
    struct rlimit rl;
    p->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (double)rl.rlim_cur : 0;
    p->ok = 1;
}

static void process_series(text *t) {
    proc_figures p;
    read_proc(&p);
    if (!p.ok) return; /* not Linux's /proc: the series are absent, not zero */
    gauge(t, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", p.cpu_seconds);
    gauge(t, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
          p.start_time);
    gauge(t, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", p.virtual_bytes);
    gauge(t, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", p.resident_bytes);
    gauge(t, "process_open_fds", "gauge", "Number of open file descriptors.", p.open_fds);
    gauge(t, "process_max_fds", "gauge", "Maximum number of open file descriptors.", p.max_fds);
}

/* ---- ringwatch's conventional series -------------------------------------- */

static void commit_series(text *t, const rw_engine_counters *k) {
    static const double bounds[RW_COMMIT_BOUNDS_COUNT] = RW_COMMIT_BOUNDS;
    const char *h = "ringwatch_engine_commit_duration_seconds";
    add(t, "# HELP %s Time a successful group commit of the signup path took.\n# TYPE %s histogram\n", h, h);
    uint64_t cum = 0;
    for (size_t i = 0; i < RW_COMMIT_BOUNDS_COUNT; i++) {
        cum += k->commit_hist[i];
        add(t, "%s_bucket{le=\"%g\"} %llu\n", h, bounds[i], (unsigned long long)cum);
    }
    cum += k->commit_hist[RW_COMMIT_BOUNDS_COUNT];
    add(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", h, (unsigned long long)cum, h,
        k->commit_seconds, h, (unsigned long long)cum);
    gauge(t, "ringwatch_engine_commit_queue_events", "gauge", "Events recorded and waiting for the next group commit.",
          (double)k->commit_queue);
    add(t, "# HELP ringwatch_engine_events_recorded_total Signup-path events recorded, by type.\n"
           "# TYPE ringwatch_engine_events_recorded_total counter\n");
    for (int i = 0; i < RW_EV_TYPE_COUNT; i++)
        add(t, "ringwatch_engine_events_recorded_total{type=\"%s\"} %llu\n", rw_event_type_name((rw_event_type)i),
            (unsigned long long)k->events_recorded[i]);
    add(t, "# HELP ringwatch_engine_signups_raised_total Signups a rule after the model raised to review or block, "
           "by rule.\n"
           "# TYPE ringwatch_engine_signups_raised_total counter\n");
    for (int i = RW_RAISED_NONE + 1; i < RW_RAISED_COUNT; i++)
        add(t, "ringwatch_engine_signups_raised_total{rule=\"%s\"} %llu\n", rw_raised_name((rw_raised)i),
            (unsigned long long)k->signups_raised[i]);
}

static void run_series(text *t, rw_http_server *s) {
    rw_run_status r;
    rw_err err = {{0}};
    if (rw_engine_run_status(s->e, &r, &err) != RW_OK) {
        rw_http_log(s, RW_LOG_ERROR, "metrics: run status: %s", err.msg);
        return; /* absent rather than a wrong zero: "absent" alerts fire */
    }
    if (r.newest_finished_at)
        gauge(t, "ringwatch_rescore_last_success_timestamp_seconds", "gauge",
              "When the newest published run finished (Unix seconds), whichever process wrote it.",
              (double)r.newest_finished_at);
    gauge(t, "ringwatch_run_newest", "gauge", "The newest published run (0: none).", (double)r.newest);
    gauge(t, "ringwatch_run_flagged_clusters", "gauge", "Clusters the run in force flags.", (double)r.flagged_clusters);
    gauge(t, "ringwatch_run_flagged_accounts", "gauge", "Accounts the run in force flags.", (double)r.flagged_accounts);
}

char *rw_metrics_conventional(rw_http_server *s, const rw_engine_counters *k) {
    text t = {0};
    process_series(&t);
    add(&t,
        "# HELP ringwatch_build_info The running build: version and git commit (value 1).\n"
        "# TYPE ringwatch_build_info gauge\nringwatch_build_info{version=\"%s\",commit=\"%s\"} 1\n",
        RW_VERSION, RW_GIT_COMMIT);
    commit_series(&t, k);
    run_series(&t, s);
    if (t.failed) {
        free(t.s);
        return NULL;
    }
    return t.s ? t.s : calloc(1, 1);
}
