/* ringwatch eval: detection quality of a run against ground truth. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "truth.h"

typedef struct {
    const rw_truth *t;
    double *score; /* [truth entries] */
    uint8_t *flag;
    uint64_t unknown;
} eval_ctx;

static rw_status on_score(void *ctx, const rw_score_row *r) {
    eval_ctx *c = ctx;
    int ring, tactic;
    long i = rw_truth_find(c->t, r->ext, &ring, &tactic);
    if (i < 0) {
        c->unknown++;
        return RW_OK;
    }
    c->score[i] = r->score;
    c->flag[i] = (uint8_t)r->flagged;
    return RW_OK;
}

typedef struct {
    double score;
    uint8_t ring;
} scored;

static int by_score_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    return x->score < y->score ? 1 : x->score > y->score ? -1 : 0;
}

/* Average precision, ties broken pessimistically (benign first). */
static int by_score_desc_benign_first(const void *a, const void *b) {
    int c = by_score_desc(a, b);
    if (c) return c;
    const scored *x = a, *y = b;
    return (int)x->ring - (int)y->ring;
}

typedef struct {
    const char *db, *truth, *decisions;
    uint64_t run;
    double warm_up;
} eval_opts;

static const rw_cli_opt eval_tab[] = {{.name = "truth",
                                       .arg = "truth.csv",
                                       .help = "ground truth: account,ring,tactic",
                                       .kind = RW_OPT_TEXT,
                                       .at = offsetof(eval_opts, truth),
                                       .required = 1},
                                      RW_OPT_DB(eval_opts, db),
                                      {.name = "run",
                                       .arg = "R",
                                       .help = "the run to read (default: the newest)",
                                       .kind = RW_OPT_U64,
                                       .at = offsetof(eval_opts, run)},
                                      {.name = "decisions",
                                       .arg = "decisions.csv",
                                       .help = "the online figures of a `ringwatch replay` (add --db for both)",
                                       .kind = RW_OPT_TEXT,
                                       .at = offsetof(eval_opts, decisions)},
                                      {.name = "warm-up",
                                       .arg = "DAYS",
                                       .help =
                                           "with --decisions: leave out accounts that signed up in the first DAYS days "
                                           "(default 0)",
                                       .kind = RW_OPT_REAL,
                                       .at = offsetof(eval_opts, warm_up),
                                       .hi = 36500},
                                      {.name = NULL}};

const rw_cli_spec rw_spec_eval = {"eval",
                                  NULL,
                                  "Compares a run's flags and scores with ground truth (account,ring,tactic):\n"
                                  "precision, recall and F1 of flagged, average precision of score, the share\n"
                                  "of benign and of office/campus accounts flagged, and recall per tactic.\n"
                                  "With --decisions (from `ringwatch replay`) it reports the online figures\n"
                                  "instead (add --db for both): ring and benign accounts reviewed or blocked at\n"
                                  "signup, per tactic, and the median number of a ring's accounts admitted\n"
                                  "before its first flag, then the ring and benign shares week by week of\n"
                                  "signups from the first decision (a week cut short is marked partial).\n"
                                  "--warm-up DAYS leaves out every account that signed up within DAYS days of\n"
                                  "the first decision, as the detectors had seen little of the world by then.\n",
                                  eval_tab,
                                  0,
                                  0,
                                  NULL};

/* Splits one CSV line into at most max fields in place (quotes honoured);
 * returns the number of fields. */
static int csv_split(char *line, char **field, int max) {
    int n = 0;
    char *p = line;
    while (n < max) {
        char *w = p;
        field[n++] = w;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p) break;
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"', p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *w++ = *p++;
                }
            }
            char *rest = strchr(p, ',');
            *w = 0;
            if (!rest) return n;
            p = rest + 1;
        } else {
            char *comma = strchr(p, ',');
            if (!comma) return n;
            *comma = 0;
            p = comma + 1;
        }
    }
    return n;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

enum { DAY_S = 86400, WEEK_S = 7 * DAY_S };

/* What eval_decisions gathers from a replay's decisions. An account counts
 * once, by its decision at signup and that signup's time; a warm-up leaves
 * out the accounts that signed up while the detectors had seen little. */
typedef struct {
    const rw_truth *t;
    const char *path;
    double warm_days;
    int any;               /* a row was read: t0, cut and last are set */
    int64_t t0, cut, last; /* the first row's ts, the end of the warm-up, the latest ts */
    int8_t *verdict;       /* per truth entry: -1 none yet; the decision, | 8 when not from a signup row */
    int64_t *at;           /* per truth entry: ts of the row its verdict comes from */
    uint32_t *admitted;    /* per ring: its accounts allowed at signup before its first flag */
    uint8_t *ring_flagged, *ring_seen;
    uint64_t unknown, warm_cut; /* rows of accounts not in the truth; accounts left out by the warm-up */
} dec_state;

/* One data row; 0, or -1 after printing what is wrong where. */
static int dec_row(dec_state *s, char *line, uint64_t lineno) {
    char *fld[6];
    unsigned long long ln = (unsigned long long)lineno;
    if (csv_split(line, fld, 6) < 5) {
        rw_cli_error("eval", "%s:%llu: expected 6 fields", s->path, ln);
        return -1;
    }
    int v = !strcmp(fld[4], "allow") ? 0 : !strcmp(fld[4], "review") ? 1 : !strcmp(fld[4], "block") ? 2 : -1;
    if (v < 0) {
        rw_cli_error("eval", "%s:%llu: decision: expected allow, review or block", s->path, ln);
        return -1;
    }
    int64_t ts;
    if (rw_time_parse_rfc3339(&ts, fld[1], strlen(fld[1])) != RW_OK) {
        rw_cli_error("eval", "%s:%llu: ts: expected YYYY-MM-DDTHH:MM:SSZ", s->path, ln);
        return -1;
    }
    if (!s->any) {
        /* Whole seconds: the cut is printed as a time and compared with one. */
        s->any = 1;
        s->t0 = s->last = ts;
        s->cut = ts + (int64_t)(s->warm_days * DAY_S + 0.5);
    }
    if (ts > s->last) s->last = ts;
    int ring, tactic;
    long i = rw_truth_find(s->t, fld[0], &ring, &tactic);
    if (i < 0) {
        s->unknown++;
        return 0;
    }
    /* An account's decision at signup: its first row of type signup
     * (its first row at all when it never signed up). */
    int is_signup = !strcmp(fld[2], "signup");
    if (s->verdict[i] >= 0 && !(s->verdict[i] & 8 && is_signup)) return 0;
    s->verdict[i] = (int8_t)(v | (is_signup ? 0 : 8));
    s->at[i] = ts;
    uint32_t rid = rw_truth_ring_id(s->t, (size_t)i);
    /* A ring's count starts after the warm-up too: its first flag is the
     * first one the warmed-up detectors gave. */
    if (rid && is_signup && ts >= s->cut) {
        s->ring_seen[rid] = 1;
        if (!s->ring_flagged[rid]) {
            if (v)
                s->ring_flagged[rid] = 1;
            else
                s->admitted[rid]++;
        }
    }
    return 0;
}

/* Reads the file into s; 0, or -1 after printing what is wrong where. */
static int dec_read(dec_state *s, FILE *f) {
    char *line = NULL;
    size_t cap = 0;
    uint64_t lineno = 0;
    int rc = 0;
    ssize_t got;
    while (!rc && (got = getline(&line, &cap, f)) > 0) {
        lineno++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
        if (lineno > 1) {
            rc = dec_row(s, line, lineno);
        } else if (strncmp(line, "account,ts,type,score,decision", 30)) {
            rw_cli_error("eval", "%s:1: header: expected account,ts,type,score,decision,cluster", s->path);
            rc = -1;
        }
    }
    if (!rc && ferror(f)) {
        rw_cli_error("eval", "%s: read error", s->path);
        rc = -1;
    }
    free(line);
    return rc;
}

/* The median of a ring's accounts admitted before its first flag, over the
 * rings seen after the warm-up; -1 when out of memory. */
static double dec_median(const dec_state *s, size_t *nr) {
    uint32_t max_ring = rw_truth_rings(s->t);
    uint32_t *adm = malloc(((size_t)max_ring + 1) * sizeof *adm);
    *nr = 0;
    if (!adm) return -1;
    for (uint32_t r = 1; r <= max_ring; r++)
        if (s->ring_seen[r]) adm[(*nr)++] = s->admitted[r];
    size_t n = *nr;
    qsort(adm, n, sizeof *adm, cmp_u32);
    double median = !n ? 0 : n % 2 ? adm[n / 2] : (adm[n / 2 - 1] + adm[n / 2]) / 2.0;
    free(adm);
    return median;
}

/* The warm-up line, the totals and recall per tactic; -1 when out of memory. */
static int dec_report(dec_state *s) {
    uint64_t rings = 0, ring_hit = 0, benign = 0, benign_hit = 0, hard = 0, hard_hit = 0, blocked_ring = 0;
    uint64_t per_total[RW_TRUTH_MAX_TACTICS] = {0}, per_hit[RW_TRUTH_MAX_TACTICS] = {0};
    for (size_t i = 0; i < rw_truth_count(s->t); i++) {
        if (s->verdict[i] < 0) continue;
        if (s->at[i] < s->cut) {
            s->warm_cut++;
            continue;
        }
        int ring, tactic, v = s->verdict[i] & 3;
        rw_truth_entry(s->t, i, &ring, &tactic);
        const char *tn = rw_truth_tactic_name(s->t, tactic);
        if (ring) {
            rings++;
            ring_hit += v > 0;
            blocked_ring += v == 2;
            per_total[tactic]++;
            per_hit[tactic] += v > 0;
        } else {
            benign++;
            benign_hit += v > 0;
            if (!strcmp(tn, "office") || !strcmp(tn, "campus")) hard++, hard_hit += v > 0;
        }
    }
    size_t nr;
    double median = dec_median(s, &nr);
    if (median < 0) return -1;
    if (s->any) {
        char from[32];
        rw_time_format(from, sizeof from, s->cut);
        printf("online_warm_up %g days (signups from %s; %llu accounts left out)\n", s->warm_days, from,
               (unsigned long long)s->warm_cut);
    } else {
        printf("online_warm_up %g days (no decision rows)\n", s->warm_days);
    }
    printf("online_accounts     %llu (%llu in rings, %llu benign)\n", (unsigned long long)(rings + benign),
           (unsigned long long)rings, (unsigned long long)benign);
    printf("online_ring_flagged %.4f (%llu reviewed or blocked at signup, %llu blocked)\n",
           rings ? (double)ring_hit / (double)rings : 0.0, (unsigned long long)ring_hit,
           (unsigned long long)blocked_ring);
    printf("online_benign_flagged %.5f (%llu)\n", benign ? (double)benign_hit / (double)benign : 0.0,
           (unsigned long long)benign_hit);
    printf("online_office_campus_flagged %.5f (%llu of %llu)\n", hard ? (double)hard_hit / (double)hard : 0.0,
           (unsigned long long)hard_hit, (unsigned long long)hard);
    printf("online_median_admitted_before_first_flag %.1f (over %zu rings)\n", median, nr);
    for (int k = 0; k < rw_truth_tactics(s->t); k++)
        if (per_total[k] && rw_truth_tactic_name(s->t, k))
            printf("online_recall[%s] %.4f (%llu of %llu)\n", rw_truth_tactic_name(s->t, k),
                   (double)per_hit[k] / (double)per_total[k], (unsigned long long)per_hit[k],
                   (unsigned long long)per_total[k]);
    return 0;
}

typedef struct {
    uint64_t ring, ring_hit, benign, benign_hit;
} week_count;

/* One line per week of signups from the first row's time, the warm-up's
 * accounts left out; a week the warm-up or the end of the decisions cuts
 * short is marked partial. -1 when out of memory. */
static int dec_weeks(const dec_state *s) {
    if (!s->any) return 0;
    size_t nw = (size_t)((s->last - s->t0) / WEEK_S) + 1;
    week_count *w = calloc(nw, sizeof *w);
    if (!w) return -1;
    for (size_t i = 0; i < rw_truth_count(s->t); i++) {
        if (s->verdict[i] < 0 || s->at[i] < s->cut) continue;
        /* Rows are in time order from a replay; an earlier one counts in week 0. */
        size_t k = s->at[i] < s->t0 ? 0 : (size_t)((s->at[i] - s->t0) / WEEK_S);
        int ring, tactic, hit = (s->verdict[i] & 3) > 0;
        rw_truth_entry(s->t, i, &ring, &tactic);
        if (ring)
            w[k].ring++, w[k].ring_hit += hit;
        else
            w[k].benign++, w[k].benign_hit += hit;
    }
    for (size_t k = 0; k < nw; k++) {
        int64_t start = s->t0 + (int64_t)k * WEEK_S, end = start + WEEK_S;
        int partial = start < s->cut || end - 1 > s->last;
        printf("online_week[%zu] ring %.4f (%llu of %llu) benign %.5f (%llu of %llu)%s\n", k,
               w[k].ring ? (double)w[k].ring_hit / (double)w[k].ring : 0.0, (unsigned long long)w[k].ring_hit,
               (unsigned long long)w[k].ring, w[k].benign ? (double)w[k].benign_hit / (double)w[k].benign : 0.0,
               (unsigned long long)w[k].benign_hit, (unsigned long long)w[k].benign, partial ? " partial" : "");
    }
    free(w);
    return 0;
}

/* The online figures of a replay's decisions. Returns an exit code. */
static int eval_decisions(const rw_truth *t, const char *path, double warm_days) {
    FILE *f = fopen(path, "r");
    if (!f) {
        rw_cli_error("eval", "%s: %s", path, strerror(errno));
        return RW_EXIT_FAIL;
    }
    size_t n = rw_truth_count(t), nrings = (size_t)rw_truth_rings(t) + 1;
    dec_state s = {.t = t,
                   .path = path,
                   .warm_days = warm_days,
                   .verdict = malloc(n + 1),
                   .at = calloc(n + 1, sizeof *s.at),
                   .admitted = calloc(nrings, sizeof *s.admitted),
                   .ring_flagged = calloc(nrings, 1),
                   .ring_seen = calloc(nrings, 1)};
    int rc = RW_EXIT_FAIL;
    if (!s.verdict || !s.at || !s.admitted || !s.ring_flagged || !s.ring_seen) {
        rw_cli_error("eval", "out of memory");
        goto done;
    }
    memset(s.verdict, -1, n + 1);
    if (dec_read(&s, f) != 0) goto done;
    if (dec_report(&s) != 0 || dec_weeks(&s) != 0) {
        rw_cli_error("eval", "out of memory");
        goto done;
    }
    if (s.unknown) printf("decisions for accounts not in the truth file: %llu\n", (unsigned long long)s.unknown);
    rc = RW_EXIT_OK;
done:
    fclose(f);
    free(s.verdict);
    free(s.at);
    free(s.admitted);
    free(s.ring_flagged);
    free(s.ring_seen);
    return rc;
}

int rw_cmd_eval(int argc, char **argv) {
    eval_opts o = {0};
    int nargs, rc = rw_cli_parse(&rw_spec_eval, &o, argc, argv, &nargs);
    if (rc >= 0) return rc;
    if (o.warm_up > 0 && !o.decisions) return rw_cli_usage(&rw_spec_eval, "--warm-up needs --decisions");
    const char *db = o.db, *truth_path = o.truth, *decisions = o.decisions;
    uint64_t run = o.run;
    rw_err err = {{0}};
    rw_truth *t = NULL;
    if (rw_truth_load(&t, truth_path, &err) != RW_OK) {
        rw_cli_error("eval", "%s", err.msg);
        return RW_EXIT_FAIL;
    }
    if (decisions) {
        int drc = eval_decisions(t, decisions, o.warm_up);
        if (drc != RW_EXIT_OK || !db) {
            rw_truth_free(t);
            return drc;
        }
    }
    size_t n = rw_truth_count(t);
    eval_ctx ec = {.t = t, .score = calloc(n + 1, sizeof(double)), .flag = calloc(n + 1, 1)};
    scored *sc = malloc((n + 1) * sizeof *sc);
    if (!ec.score || !ec.flag || !sc) {
        rw_cli_error("eval", "out of memory");
        goto fail;
    }
    rw_engine *e = rw_cli_open_engine("eval", db, NULL, RW_CLI_READONLY | RW_CLI_STORE_ONLY);
    if (!e) goto fail;
    rw_status st = rw_engine_scores(e, (int64_t)run, on_score, &ec, &err);
    rw_engine_close(e);
    if (st != RW_OK) {
        rw_cli_error("eval", "%s", err.msg);
        goto fail;
    }
    uint64_t tp = 0, fp = 0, fn = 0, benign = 0, hard = 0, hard_flagged = 0, rings = 0;
    uint64_t per_total[RW_TRUTH_MAX_TACTICS] = {0}, per_hit[RW_TRUTH_MAX_TACTICS] = {0};
    for (size_t i = 0; i < n; i++) {
        int ring, tactic;
        rw_truth_entry(t, i, &ring, &tactic);
        const char *tn = rw_truth_tactic_name(t, tactic);
        sc[i] = (scored){ec.score[i], (uint8_t)ring};
        if (ring) {
            rings++;
            per_total[tactic]++;
            per_hit[tactic] += ec.flag[i];
            if (ec.flag[i])
                tp++;
            else
                fn++;
        } else {
            benign++;
            if (ec.flag[i]) fp++;
            if (!strcmp(tn, "office") || !strcmp(tn, "campus")) {
                hard++;
                hard_flagged += ec.flag[i];
            }
        }
    }
    qsort(sc, n, sizeof *sc, by_score_desc_benign_first);
    double ap = 0;
    uint64_t seen_pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (!sc[i].ring) continue;
        seen_pos++;
        ap += (double)seen_pos / (double)(i + 1);
    }
    ap = rings ? ap / (double)rings : 0;
    double precision = tp + fp ? (double)tp / (double)(tp + fp) : 0;
    double recall = rings ? (double)tp / (double)rings : 0;
    double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
    printf("accounts            %zu (%llu in rings, %llu benign)\n", n, (unsigned long long)rings,
           (unsigned long long)benign);
    printf("precision           %.4f\nrecall              %.4f\nf1                  %.4f\n", precision, recall, f1);
    printf("average_precision   %.4f\n", ap);
    printf("benign_flagged      %.5f (%llu)\n", benign ? (double)fp / (double)benign : 0.0, (unsigned long long)fp);
    printf("office_campus_flagged %.5f (%llu of %llu)\n", hard ? (double)hard_flagged / (double)hard : 0.0,
           (unsigned long long)hard_flagged, (unsigned long long)hard);
    for (int k = 0; k < rw_truth_tactics(t); k++)
        if (per_total[k])
            printf("recall[%s] %.4f (%llu of %llu)\n", rw_truth_tactic_name(t, k),
                   (double)per_hit[k] / (double)per_total[k], (unsigned long long)per_hit[k],
                   (unsigned long long)per_total[k]);
    if (ec.unknown) printf("scored accounts not in the truth file: %llu\n", (unsigned long long)ec.unknown);
    free(ec.score);
    free(ec.flag);
    free(sc);
    rw_truth_free(t);
    return RW_EXIT_OK;
fail:
    free(ec.score);
    free(ec.flag);
    free(sc);
    rw_truth_free(t);
    return RW_EXIT_FAIL;
}
