/* ringwatch eval: detection quality of a run against ground truth. */
#include <getopt.h>
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

static const char help[] = "usage: ringwatch eval --truth truth.csv [--db PATH] [--run R]\n\n"
                           "Compares a run's flags and scores with ground truth (account,ring,tactic):\n"
                           "precision, recall and F1 of flagged, average precision of score, the share\n"
                           "of benign and of office/campus accounts flagged, and recall per tactic.\n";

int rw_cmd_eval(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"truth", required_argument, 0, 't'},
                                         {"run", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = NULL, *truth_path = NULL;
    uint64_t run = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'd':
                db = optarg;
                break;
            case 't':
                truth_path = optarg;
                break;
            case 'r':
                if (rw_cli_parse_u64(optarg, &run)) goto usage;
                break;
            case 'h':
                fputs(help, stdout);
                return RW_EXIT_OK;
            default:
                goto usage;
        }
    }
    if (!truth_path || optind != argc) goto usage;
    rw_err err = {{0}};
    rw_truth *t = NULL;
    if (rw_truth_load(&t, truth_path, &err) != RW_OK) {
        rw_cli_error("eval", "%s", err.msg);
        return RW_EXIT_FAIL;
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
usage:
    fputs(help, stderr);
    return RW_EXIT_USAGE;
}
