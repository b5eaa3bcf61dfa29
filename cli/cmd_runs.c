/* ringwatch rescore, clusters, scores, explain: the batch run and what it
 * found. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"

static void on_stage(void *ctx, const char *stage, double seconds) {
    fprintf(stderr, "rescore: %-13s %6.2f s\n", stage, seconds);
}

static const char rescore_help[] =
    "usage: ringwatch rescore [--db PATH] [--key-file PATH] [--density X] [--hub-degree N] [--quiet]\n\n"
    "Takes a snapshot of the graph, runs community detection, cluster features and\n"
    "the scoring model, and writes a new run (clusters, memberships, scores,\n"
    "reasons) in short transactions, published whole at the end: readers see all\n"
    "of it or none. Prints one line per stage to stderr and a summary.\n\n"
    "  --density X      community density (default 4e-5; higher gives smaller communities)\n"
    "  --hub-degree N   attributes with more accounts glue nothing together (default 200)\n";

int rw_cmd_rescore(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"key-file", required_argument, 0, 'k'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"density", required_argument, 0, 'r'},
                                         {"hub-degree", required_argument, 0, 'H'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = NULL, *key = NULL;
    rw_rescore_params rp = {0};
    uint64_t v;
    char *end;
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'd':
                db = optarg;
                break;
            case 'k':
                key = optarg;
                break;
            case 'q':
                quiet = 1;
                break;
            case 'r':
                rp.density = strtod(optarg, &end);
                if (*end || !(rp.density > 0)) {
                    rw_cli_error("rescore", "--density: expected a positive number, got '%s'", optarg);
                    return RW_EXIT_USAGE;
                }
                break;
            case 'H':
                if (rw_cli_parse_u64(optarg, &v) || v < 2 || v > UINT32_MAX) {
                    rw_cli_error("rescore", "--hub-degree: expected a whole number >= 2, got '%s'", optarg);
                    return RW_EXIT_USAGE;
                }
                rp.hub_degree = (uint32_t)v;
                break;
            case 'h':
                fputs(rescore_help, stdout);
                return RW_EXIT_OK;
            default:
                fputs(rescore_help, stderr);
                return RW_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        rw_cli_error("rescore", "unexpected argument '%s'", argv[optind]);
        return RW_EXIT_USAGE;
    }
    double t0 = rw_now();
    rw_engine *e = rw_cli_open_engine("rescore", db, key, RW_CLI_WRITER | RW_CLI_BATCH_ONLY);
    if (!e) return RW_EXIT_FAIL;
    if (!quiet) fprintf(stderr, "rescore: %-13s %6.2f s\n", "load", rw_now() - t0);
    rw_rescore_summary s;
    rw_err err = {{0}};
    rw_status st = rw_engine_rescore(e, &rp, &s, quiet ? NULL : on_stage, NULL, &err);
    rw_engine_close(e);
    if (st != RW_OK) {
        rw_cli_error("rescore", "%s", err.msg);
        return RW_EXIT_FAIL;
    }
    printf("run %lld: %llu accounts, %llu clusters, %llu flagged (%llu new, %llu grown, %llu dissolved), "
           "%llu accounts flagged, %llu of %llu cluster ids kept, %.2f s\n",
           (long long)s.run, (unsigned long long)s.accounts, (unsigned long long)s.clusters,
           (unsigned long long)s.flagged_clusters, (unsigned long long)s.new_flagged, (unsigned long long)s.grown,
           (unsigned long long)s.dissolved, (unsigned long long)s.flagged_accounts, (unsigned long long)s.kept_ids,
           (unsigned long long)s.prev_clusters, s.seconds);
    return RW_EXIT_OK;
}

/* ---- clusters ------------------------------------------------------------ */

enum { FMT_TABLE, FMT_JSON, FMT_CSV };

static int parse_format(const char *s, int *out) {
    static const char *const names[] = {"table", "json", "csv"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, names[i])) return *out = i, 0;
    return -1;
}

typedef struct {
    int fmt;
    uint64_t n;
    int started; /* the header (or JSON's "[") is out */
} print_ctx;

/* The header, once the run is known to exist: a missing run gets its error
 * alone, not a header above it. */
static void clusters_header(print_ctx *p) {
    if (p->started) return;
    p->started = 1;
    if (p->fmt == FMT_TABLE)
        printf("%8s %6s %4s %8s %10s  %-20s  %s\n", "cluster", "score", "flag", "accounts", "attributes",
               "first signup", "top reason");
    if (p->fmt == FMT_CSV) printf("cluster,score,flagged,accounts,attributes,first_signup,last_signup,reasons\n");
    if (p->fmt == FMT_JSON) printf("[");
}

static void csv_field(const char *s) {
    putchar('"');
    for (; s && *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static rw_status print_cluster(void *ctx, const rw_cluster_row *c) {
    print_ctx *p = ctx;
    clusters_header(p);
    char f[32], l[32];
    rw_time_format(f, sizeof f, c->first_seen);
    rw_time_format(l, sizeof l, c->last_seen);
    switch (p->fmt) {
        case FMT_JSON:
            printf("%s\n  {\"id\":%u,\"score\":%.4f,\"flagged\":%s,\"accounts\":%u,\"attributes\":%u,"
                   "\"first_signup\":\"%s\",\"last_signup\":\"%s\",\"features\":%s,\"reasons\":%s}",
                   p->n ? "," : "", c->id, c->score, c->flagged ? "true" : "false", c->accounts, c->attributes, f, l,
                   c->features, c->reasons);
            break;
        case FMT_CSV:
            printf("%u,%.4f,%d,%u,%u,%s,%s,", c->id, c->score, c->flagged, c->accounts, c->attributes, f, l);
            csv_field(c->reasons);
            putchar('\n');
            break;
        default: {
            /* reasons: the first one, unquoted */
            char first[200] = "";
            const char *r = c->reasons ? strchr(c->reasons, '"') : NULL;
            if (r) {
                const char *e = strchr(r + 1, '"');
                snprintf(first, sizeof first, "%.*s", e ? (int)(e - r - 1) : 0, r + 1);
            }
            printf("%8u %6.3f %4s %8u %10u  %s  %s\n", c->id, c->score, c->flagged ? "yes" : "", c->accounts,
                   c->attributes, f, first);
        }
    }
    p->n++;
    return RW_OK;
}

static const char clusters_help[] =
    "usage: ringwatch clusters [--db PATH] [--run R] [--min-score X] [--limit N] [--format table|json|csv]\n\n"
    "Lists the clusters of a run (default: the newest), highest score first.\n"
    "  --min-score X   only clusters scoring at least X (default 0.5)\n"
    "  --limit N       at most N clusters (default 50 for table, all otherwise)\n";

int rw_cmd_clusters(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"run", required_argument, 0, 'r'},
                                         {"min-score", required_argument, 0, 'm'},
                                         {"limit", required_argument, 0, 'l'},
                                         {"format", required_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = NULL;
    uint64_t run = 0, limit = 0;
    int have_limit = 0, fmt = FMT_TABLE, c;
    double min = 0.5;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
            case 'd':
                db = optarg;
                break;
            case 'r':
                if (rw_cli_parse_u64(optarg, &run)) goto usage;
                break;
            case 'l':
                if (rw_cli_parse_u64(optarg, &limit)) goto usage;
                have_limit = 1;
                break;
            case 'm':
                min = strtod(optarg, &end);
                if (*end || min < 0 || min > 1) goto usage;
                break;
            case 'f':
                if (parse_format(optarg, &fmt)) goto usage;
                break;
            case 'h':
                fputs(clusters_help, stdout);
                return RW_EXIT_OK;
            default:
                goto usage;
        }
    }
    if (optind != argc) goto usage;
    if (!have_limit && fmt == FMT_TABLE) limit = 50;
    rw_engine *e = rw_cli_open_engine("clusters", db, NULL, RW_CLI_READONLY | RW_CLI_STORE_ONLY);
    if (!e) return RW_EXIT_FAIL;
    print_ctx p = {.fmt = fmt};
    rw_err err = {{0}};
    rw_status st = rw_engine_clusters(e, (int64_t)run, min, 0, limit, print_cluster, &p, &err);
    if (st == RW_OK) clusters_header(&p); /* no cluster: the header alone */
    if (fmt == FMT_JSON && p.started) printf("\n]\n");
    rw_engine_close(e);
    if (st != RW_OK) {
        rw_cli_error("clusters", "%s", err.msg);
        return RW_EXIT_FAIL;
    }
    return RW_EXIT_OK;
usage:
    fputs(clusters_help, stderr);
    return RW_EXIT_USAGE;
}

/* ---- scores -------------------------------------------------------------- */

static rw_status print_score(void *ctx, const rw_score_row *r) {
    csv_field(r->ext);
    printf(",%.4f,%d,%u\n", r->score, r->flagged, r->cluster);
    return ferror(stdout) ? RW_ERR_IO : RW_OK;
}

static const char scores_help[] = "usage: ringwatch scores [--db PATH] [--run R] [--format csv]\n\n"
                                  "Writes one row per account of a run (default: the newest):\n"
                                  "account,score,flagged,cluster (flagged is 0 or 1, cluster 0 for none).\n";

int rw_cmd_scores(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"run", required_argument, 0, 'r'},
                                         {"format", required_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = NULL;
    uint64_t run = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'd':
                db = optarg;
                break;
            case 'r':
                if (rw_cli_parse_u64(optarg, &run)) goto usage;
                break;
            case 'f':
                if (strcmp(optarg, "csv")) goto usage;
                break;
            case 'h':
                fputs(scores_help, stdout);
                return RW_EXIT_OK;
            default:
                goto usage;
        }
    }
    if (optind != argc) goto usage;
    rw_engine *e = rw_cli_open_engine("scores", db, NULL, RW_CLI_READONLY | RW_CLI_STORE_ONLY);
    if (!e) return RW_EXIT_FAIL;
    printf("account,score,flagged,cluster\n");
    rw_err err = {{0}};
    rw_status st = rw_engine_scores(e, (int64_t)run, print_score, NULL, &err);
    rw_engine_close(e);
    if (st == RW_OK && fflush(stdout) != 0) st = rw_fail(&err, RW_ERR_IO, "writing standard output failed");
    if (st != RW_OK) {
        rw_cli_error("scores", "%s", err.msg);
        return RW_EXIT_FAIL;
    }
    return RW_EXIT_OK;
usage:
    fputs(scores_help, stderr);
    return RW_EXIT_USAGE;
}

/* ---- explain ------------------------------------------------------------- */

typedef struct {
    uint32_t node;
    rw_score_row row;
    char ext[300], reasons[600];
    int found;
} find_score;

static rw_status find_account_score(void *ctx, const rw_score_row *r) {
    find_score *f = ctx;
    if (r->account != f->node) return RW_OK;
    f->row = *r;
    snprintf(f->reasons, sizeof f->reasons, "%s", r->reasons ? r->reasons : "[]");
    f->found = 1;
    return RW_OK;
}

static rw_status explain_cluster(void *ctx, const rw_cluster_row *c) {
    char f[32], l[32];
    rw_time_format(f, sizeof f, c->first_seen);
    rw_time_format(l, sizeof l, c->last_seen);
    printf("cluster %u: score %.3f%s, %u accounts, %u attributes, signups %s .. %s\n", c->id, c->score,
           c->flagged ? " (flagged)" : "", c->accounts, c->attributes, f, l);
    printf("reasons:  %s\nfeatures: %s\n", c->reasons, c->features);
    *(int *)ctx = 1;
    return RW_OK;
}

static const char explain_help[] = "usage: ringwatch explain [--db PATH] [--run R] (ACCOUNT | --cluster ID)\n\n"
                                   "Shows why an account or a cluster scored as it did in a run.\n";

int rw_cmd_explain(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"run", required_argument, 0, 'r'},
                                         {"cluster", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = NULL;
    uint64_t run = 0, cluster = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'd':
                db = optarg;
                break;
            case 'r':
                if (rw_cli_parse_u64(optarg, &run)) goto usage;
                break;
            case 'c':
                if (rw_cli_parse_u64(optarg, &cluster) || !cluster || cluster > UINT32_MAX) goto usage;
                break;
            case 'h':
                fputs(explain_help, stdout);
                return RW_EXIT_OK;
            default:
                goto usage;
        }
    }
    if ((cluster && optind != argc) || (!cluster && optind != argc - 1)) goto usage;
    rw_engine *e = rw_cli_open_engine("explain", db, NULL, RW_CLI_READONLY);
    if (!e) return RW_EXIT_FAIL;
    rw_err err = {{0}};
    rw_status st = RW_OK;
    if (!cluster) {
        rw_account_info ai;
        find_score fs = {0};
        st = rw_engine_account(e, argv[optind], &ai, &err);
        if (st == RW_OK) {
            fs.node = ai.node;
            st = rw_engine_scores(e, (int64_t)run, find_account_score, &fs, &err);
        }
        if (st == RW_OK) {
            char f[32], l[32];
            rw_time_format(f, sizeof f, ai.first_seen);
            rw_time_format(l, sizeof l, ai.last_seen);
            printf("account %s: first seen %s, last seen %s, %u attributes\n", argv[optind], f, l, ai.attributes);
            if (!fs.found) {
                printf("not scored in this run (it arrived after the run's snapshot)\n");
            } else {
                printf("score %.3f%s, cluster %u\nreasons: %s\n", fs.row.score, fs.row.flagged ? " (flagged)" : "",
                       fs.row.cluster, fs.reasons);
                cluster = fs.row.cluster;
            }
        }
    }
    if (st == RW_OK && cluster) {
        int found = 0;
        st = rw_engine_clusters(e, (int64_t)run, -1.0, (uint32_t)cluster, 1, explain_cluster, &found, &err);
        if (st == RW_OK && !found)
            st = rw_fail(&err, RW_ERR_NOTFOUND, "no cluster %llu in this run", (unsigned long long)cluster);
    }
    rw_engine_close(e);
    if (st != RW_OK) {
        rw_cli_error("explain", "%s", err.msg);
        return RW_EXIT_FAIL;
    }
    return RW_EXIT_OK;
usage:
    fputs(explain_help, stderr);
    return RW_EXIT_USAGE;
}
