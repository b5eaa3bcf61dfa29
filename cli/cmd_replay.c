/* ringwatch replay: runs history through the signup path in event-time order
 * (the batch rescoring at each simulated rescore_at, as the server would
 * have), writing each decision, so thresholds and models can be backtested. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "detectors.h"
#include "engine.h"

typedef struct {
    int64_t ts;
    uint64_t line; /* 1-based */
    size_t off, len;
} ev_ref;

static int by_time(const void *a, const void *b) {
    const ev_ref *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line; /* stable: file order within a second */
}

static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Reads the whole file; caller frees *buf. */
static int slurp(const char *path, char **buf, size_t *len, rw_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        rw_fail(err, RW_ERR_IO, "%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    size_t cap = (size_t)sb.st_size + 1, n = 0;
    char *b = malloc(cap);
    if (!b) {
        close(fd);
        rw_fail(err, RW_ERR_NOMEM, "%s: out of memory", path);
        return -1;
    }
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) break;
            b = nb, cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rw_fail(err, RW_ERR_IO, "%s: %s", path, strerror(errno));
            free(b);
            close(fd);
            return -1;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    b[n] = 0;
    *buf = b;
    *len = n;
    return 0;
}

static const char *parse_hhmm(const char *s, void *at) {
    int *minutes = at;
    if (!strcmp(s, "off")) {
        *minutes = -1;
        return NULL;
    }
    int h, m;
    char tail;
    if (sscanf(s, "%d:%d%c", &h, &m, &tail) != 2 || h < 0 || h > 23 || m < 0 || m > 59) return "is not HH:MM or off";
    *minutes = h * 60 + m;
    return NULL;
}

typedef struct {
    const char *db, *key, *out, *features, *base_model;
    int minutes, distill;
    double review, block;
} replay_opts;

static const char *const on_off[] = {"on", "off", NULL};

static const rw_cli_opt replay_tab[] = {
    RW_OPT_DB(replay_opts, db),
    RW_OPT_KEY(replay_opts, key),
    {.name = "out",
     .arg = "decisions.csv",
     .help = "one row per event: account,ts,type,score,decision,cluster",
     .kind = RW_OPT_TEXT,
     .at = offsetof(replay_opts, out),
     .required = 1},
    {.name = "rescore-at",
     .arg = "HH:MM|off",
     .help = "event time (UTC) of the daily batch rescoring (default 03:00)",
     .kind = RW_OPT_CUSTOM,
     .at = offsetof(replay_opts, minutes),
     .parse = parse_hhmm},
    {.name = "review",
     .arg = "X",
     .help = "signups scoring at least X are reviewed (0 < X <= 1; default the server's)",
     .kind = RW_OPT_REAL,
     .at = offsetof(replay_opts, review),
     .lo = 0,
     .hi = 1,
     .open_lo = 1},
    {.name = "block",
     .arg = "Y",
     .help = "signups scoring at least Y are blocked (0 < Y <= 1; default the server's)",
     .kind = RW_OPT_REAL,
     .at = offsetof(replay_opts, block),
     .lo = 0,
     .hi = 1,
     .open_lo = 1},
    {.name = "features-out",
     .arg = "FILE",
     .help = "the online model's inputs of each signup (for `ringwatch model fit-online`)",
     .kind = RW_OPT_TEXT,
     .at = offsetof(replay_opts, features)},
    {.name = "distill",
     .arg = "on|off",
     .help = "the nightly job fits, shadows and promotes signup models as the server's would (default on)",
     .kind = RW_OPT_CHOICE,
     .at = offsetof(replay_opts, distill),
     .choices = on_off},
    {.name = "base-model",
     .arg = "FILE",
     .help = "a signup model (`ringwatch model fit-online` output) in place of the shipped one, as the server's "
             "signup_base_model",
     .kind = RW_OPT_TEXT,
     .at = offsetof(replay_opts, base_model)},
    {.name = NULL}};

const rw_cli_spec rw_spec_replay = {"replay",
                                    "FILE",
                                    "Runs every event of FILE (JSON lines, any order) through the code path of\n"
                                    "POST /v1/signups in event-time order, recording it in the database, and\n"
                                    "writes one row per event. The batch rescoring runs at each rescore_at as\n"
                                    "the server's schedule would.\n",
                                    replay_tab,
                                    1,
                                    1,
                                    NULL};

/* The text of the signup model at path, checked, into *text (caller
 * frees); 0, or -1 after saying what was wrong and where. */
static int read_base_model(const char *path, char **text) {
    size_t len = 0;
    rw_err err = {{0}};
    rw_online_model *m = malloc(sizeof *m);
    int rc = -1;
    if (!m)
        rw_cli_error("replay", "out of memory");
    else if (slurp(path, text, &len, &err) != 0)
        rw_cli_error("replay", "%s", err.msg);
    else if (rw_online_parse(m, *text, &err) != RW_OK)
        rw_cli_error("replay", "%s: %s", path, err.msg);
    else
        rc = 0;
    free(m);
    return rc;
}

/* The first rescore_at strictly after ts (event time, UTC). */
static int64_t next_boundary(int64_t ts, int minutes) {
    int64_t day = ts - (ts % 86400 + 86400) % 86400;
    int64_t b = day + minutes * 60;
    return b > ts ? b : b + 86400;
}

int rw_cmd_replay(int argc, char **argv) {
    replay_opts o = {.minutes = 3 * 60};
    int nargs, prc = rw_cli_parse(&rw_spec_replay, &o, argc, argv, &nargs);
    if (prc >= 0) return prc;
    const char *db = o.db, *key = o.key, *out_path = o.out, *feat_path = o.features;
    int minutes = o.minutes;
    rw_online_params op = {.review = o.review, .block = o.block};
    const char *path = argv[1];
    int rc = RW_EXIT_FAIL;
    rw_err err = {{0}};
    char *buf = NULL, *base = NULL;
    size_t len = 0, nref = 0, cap = 0;
    ev_ref *refs = NULL;
    FILE *out = NULL, *feat = NULL;
    rw_engine *e = NULL;
    rw_event_raw *ev = malloc(sizeof *ev);
    uint64_t bad = 0;
    if (!ev || (o.base_model && read_base_model(o.base_model, &base) != 0)) goto done;
    if (slurp(path, &buf, &len, &err) != 0) {
        rw_cli_error("replay", "%s", err.msg);
        goto done;
    }
    /* Pass 1: validate every line and note its time. */
    uint64_t line = 0;
    for (size_t at = 0; at < len;) {
        char *nl = memchr(buf + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - buf) : len;
        line++;
        size_t l = end - at;
        if (l && buf[at + l - 1] == '\r') l--;
        int blank = 1;
        for (size_t i = 0; i < l && blank; i++) blank = buf[at + i] == ' ' || buf[at + i] == '\t';
        if (!blank) {
            if (rw_event_parse(ev, buf + at, l, &err) != RW_OK) {
                fprintf(stderr, "%s:%llu: %s\n", path, (unsigned long long)line, err.msg);
                bad++;
            } else {
                if (nref == cap) {
                    cap = cap ? cap * 2 : 4096;
                    ev_ref *n = realloc(refs, cap * sizeof *n);
                    if (!n) {
                        rw_cli_error("replay", "out of memory");
                        goto done;
                    }
                    refs = n;
                }
                refs[nref++] = (ev_ref){ev->ts, line, at, l};
            }
        }
        at = end + 1;
    }
    qsort(refs, nref, sizeof *refs, by_time);
    out = fopen(out_path, "w");
    if (!out) {
        rw_cli_error("replay", "%s: %s", out_path, strerror(errno));
        goto done;
    }
    if (feat_path && !(feat = fopen(feat_path, "w"))) {
        rw_cli_error("replay", "%s: %s", feat_path, strerror(errno));
        goto done;
    }
    fputs("account,ts,type,score,decision,cluster\n", out);
    if (feat) {
        fputs("account", feat);
        for (int i = 0; i < RW_O_COUNT; i++) fprintf(feat, ",%s", rw_online_feature_name(i));
        fputc('\n', feat);
    }
    e = rw_cli_open_engine("replay", db, key, RW_CLI_WRITER);
    if (!e) goto done;
    rw_engine_set_online(e, &op);
    rw_learn_params lp = {.distill_off = o.distill == 1};
    rw_engine_set_learn(e, &lp);
    if (base && rw_engine_set_base_model(e, base, &err) != RW_OK) {
        rw_cli_error("replay", "%s: %s", o.base_model, err.msg);
        goto done;
    }
    int64_t boundary = nref && minutes >= 0 ? next_boundary(refs[0].ts, minutes) : INT64_MAX;
    uint64_t runs = 0;
    double t0 = rw_now();
    for (size_t i = 0; i < nref; i++) {
        if (refs[i].ts >= boundary) {
            /* The nightly batch, at the moment production would run it. */
            rw_rescore_summary sum;
            if (rw_engine_flush(e, &err) != RW_OK || rw_engine_rescore(e, NULL, &sum, NULL, NULL, &err) != RW_OK) {
                rw_cli_error("replay", "rescoring: %s", err.msg);
                goto done;
            }
            runs++;
            if (sum.learn[0]) fprintf(stderr, "replay: run %lld: %s\n", (long long)sum.run, sum.learn);
            boundary = next_boundary(refs[i].ts, minutes);
        }
        rw_decision d;
        if (rw_event_parse(ev, buf + refs[i].off, refs[i].len, &err) != RW_OK ||
            rw_engine_record(e, ev, 1, &d, 0, &err) != RW_OK) {
            rw_cli_error("replay", "%s:%llu: %s", path, (unsigned long long)refs[i].line, err.msg);
            goto done;
        }
        char ts[32];
        rw_time_format(ts, sizeof ts, ev->ts);
        csv_field(out, ev->account);
        fprintf(out, ",%s,%s,%.4f,%s,%s\n", ts, rw_event_type_name(ev->type), d.score, rw_verdict_name(d.verdict),
                d.cluster);
        if (feat && ev->type == RW_EV_SIGNUP) {
            csv_field(feat, ev->account);
            for (int k = 0; k < RW_O_COUNT; k++) fprintf(feat, ",%.5g", d.features[k]);
            fputc('\n', feat);
        }
    }
    if (rw_engine_flush(e, &err) != RW_OK) {
        rw_cli_error("replay", "%s", err.msg);
        goto done;
    }
    if (fflush(out) != 0 || ferror(out) || (feat && (fflush(feat) != 0 || ferror(feat)))) {
        rw_cli_error("replay", "writing the output failed: %s", strerror(errno));
        goto done;
    }
    fprintf(stderr, "replay: %zu events, %llu bad lines, %llu batch runs, %.1f s\n", nref, (unsigned long long)bad,
            (unsigned long long)runs, rw_now() - t0);
    rc = bad ? RW_EXIT_PARTIAL : RW_EXIT_OK;
done:
    if (out && fclose(out) != 0 && rc == RW_EXIT_OK) rc = RW_EXIT_FAIL;
    if (feat && fclose(feat) != 0 && rc == RW_EXIT_OK) rc = RW_EXIT_FAIL;
    rw_engine_close(e);
    free(refs);
    free(buf);
    free(base);
    free(ev);
    return rc;
}
