/* ringwatch replay: runs history through the signup path in event-time order
 * (the batch rescoring at each simulated rescore_at, as the server would
 * have), writing each decision, so thresholds and models can be backtested. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "detectors.h"
#include "engine.h"

static const char help[] = "usage: ringwatch replay [--db PATH] FILE --out decisions.csv [--rescore-at HH:MM|off]\n"
                           "                        [--review X] [--block Y] [--features-out FILE]\n\n"
                           "Runs every event of FILE (JSON lines, any order) through the code path of\n"
                           "POST /v1/signups in event-time order, recording it in the database, and\n"
                           "writes one row per event: account,ts,type,score,decision,cluster.\n"
                           "The batch rescoring runs at each rescore_at (event time, UTC; default\n"
                           "03:00) as the server's schedule would. --features-out writes the online\n"
                           "model's inputs of each signup (for `ringwatch model fit-online`).\n";

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

static int parse_hhmm(const char *s, int *minutes) {
    if (!strcmp(s, "off")) {
        *minutes = -1;
        return 0;
    }
    int h, m;
    char tail;
    if (sscanf(s, "%d:%d%c", &h, &m, &tail) != 2 || h < 0 || h > 23 || m < 0 || m > 59) return -1;
    *minutes = h * 60 + m;
    return 0;
}

static int parse_unit(const char *s, double *out) {
    char *end = NULL;
    double v = strtod(s, &end);
    if (!s[0] || *end || !(v > 0 && v <= 1)) return -1;
    *out = v;
    return 0;
}

/* The first rescore_at strictly after ts (event time, UTC). */
static int64_t next_boundary(int64_t ts, int minutes) {
    int64_t day = ts - (ts % 86400 + 86400) % 86400;
    int64_t b = day + minutes * 60;
    return b > ts ? b : b + 86400;
}

int rw_cmd_replay(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"key-file", required_argument, 0, 'k'},
                                         {"out", required_argument, 0, 'o'},
                                         {"rescore-at", required_argument, 0, 'r'},
                                         {"review", required_argument, 0, 'v'},
                                         {"block", required_argument, 0, 'b'},
                                         {"features-out", required_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = NULL, *key = NULL, *out_path = NULL, *feat_path = NULL;
    int minutes = 3 * 60;
    rw_online_params op = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'd':
                db = optarg;
                break;
            case 'k':
                key = optarg;
                break;
            case 'o':
                out_path = optarg;
                break;
            case 'f':
                feat_path = optarg;
                break;
            case 'r':
                if (parse_hhmm(optarg, &minutes)) {
                    rw_cli_error("replay", "--rescore-at: expected HH:MM or off, got \"%s\"", optarg);
                    return RW_EXIT_USAGE;
                }
                break;
            case 'v':
            case 'b':
                if (parse_unit(optarg, c == 'v' ? &op.review : &op.block)) {
                    rw_cli_error("replay", "--%s: expected a number in (0, 1], got \"%s\"",
                                 c == 'v' ? "review" : "block", optarg);
                    return RW_EXIT_USAGE;
                }
                break;
            case 'h':
                fputs(help, stdout);
                return RW_EXIT_OK;
            default:
                fputs(help, stderr);
                return RW_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !out_path) {
        fputs(help, stderr);
        return RW_EXIT_USAGE;
    }
    const char *path = argv[optind];
    int rc = RW_EXIT_FAIL;
    rw_err err = {{0}};
    char *buf = NULL;
    size_t len = 0, nref = 0, cap = 0;
    ev_ref *refs = NULL;
    FILE *out = NULL, *feat = NULL;
    rw_engine *e = NULL;
    rw_event_raw *ev = malloc(sizeof *ev);
    uint64_t bad = 0;
    if (!ev) goto done;
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
    free(ev);
    return rc;
}
