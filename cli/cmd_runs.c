/* ringwatch rescore, clusters, scores, explain: the batch run and what it
 * found. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "opts.h"
#ifdef RW_HAVE_MPI
#include "shard_mpi.h"
#endif

static void on_stage(void *ctx, const char *stage, double seconds) {
    fprintf(stderr, "rescore: %-13s %6.2f s\n", stage, seconds);
}

typedef struct {
    const char *db, *key;
    double density;
    uint64_t hub_degree, threads;
    int quiet, mpi;
} rescore_opts;

static const rw_cli_opt rescore_tab[] = {RW_OPT_DB(rescore_opts, db),
                                         RW_OPT_KEY(rescore_opts, key),
                                         {.name = "density",
                                          .arg = "X",
                                          .help = "community density (default 4e-5; higher gives smaller communities)",
                                          .kind = RW_OPT_REAL,
                                          .at = offsetof(rescore_opts, density),
                                          .lo = 0,
                                          .hi = 1e300,
                                          .open_lo = 1},
                                         {.name = "hub-degree",
                                          .arg = "N",
                                          .help = "attributes with more accounts glue nothing together (default 200)",
                                          .kind = RW_OPT_U64,
                                          .at = offsetof(rescore_opts, hub_degree),
                                          .lo = 2,
                                          .hi = UINT32_MAX},
                                         {.name = "threads",
                                          .arg = "N",
                                          .help = "threads for the detectors (default: one per processor, at most 8; "
                                                  "the same run with any number)",
                                          .kind = RW_OPT_U64,
                                          .at = offsetof(rescore_opts, threads),
                                          .lo = 1,
                                          .hi = RW_PAR_MAX},
                                         {.name = "quiet",
                                          .arg = NULL,
                                          .help = "no line per stage on standard error",
                                          .kind = RW_OPT_FLAG,
                                          .at = offsetof(rescore_opts, quiet)},
                                         {.name = "mpi",
                                          .arg = NULL,
                                          .help = "under mpirun: the components shared out among the ranks "
                                                  "(rank 0 writes the run; the same run as without)",
                                          .kind = RW_OPT_FLAG,
                                          .at = offsetof(rescore_opts, mpi)},
                                         {.name = NULL}};

const rw_cli_spec rw_spec_rescore = {"rescore",
                                     NULL,
                                     "Takes a snapshot of the graph, runs community detection, cluster features and\n"
                                     "the scoring model, and writes a new run (clusters, memberships, scores,\n"
                                     "reasons) in short transactions, published whole at the end: readers see all\n"
                                     "of it or none. Prints one line per stage to stderr and a summary.\n",
                                     rescore_tab,
                                     0,
                                     0,
                                     NULL};

static void print_summary(const rw_rescore_summary *s) {
    printf("run %lld: %llu accounts, %llu clusters, %llu flagged (%llu new, %llu grown, %llu dissolved), "
           "%llu accounts flagged, %llu of %llu cluster ids kept, %.2f s\n",
           (long long)s->run, (unsigned long long)s->accounts, (unsigned long long)s->clusters,
           (unsigned long long)s->flagged_clusters, (unsigned long long)s->new_flagged, (unsigned long long)s->grown,
           (unsigned long long)s->dissolved, (unsigned long long)s->flagged_accounts, (unsigned long long)s->kept_ids,
           (unsigned long long)s->prev_clusters, s->seconds);
}

/* The rescoring itself; shards NULL: in this process alone. */
static int rescore(const rescore_opts *o, const rw_shard_transport *shards, rw_rescore_summary *s) {
    rw_rescore_params rp = {.density = o->density,
                            .hub_degree = (uint32_t)o->hub_degree,
                            .threads = (unsigned)o->threads,
                            .shards = shards};
    double t0 = rw_now();
    rw_engine *e = rw_cli_open_engine("rescore", o->db, o->key, RW_CLI_WRITER | RW_CLI_BATCH_ONLY);
    if (!e) return RW_EXIT_FAIL;
    if (!o->quiet) fprintf(stderr, "rescore: %-13s %6.2f s\n", "load", rw_now() - t0);
    rw_err err = {{0}};
    rw_status st = rw_engine_rescore(e, &rp, s, o->quiet ? NULL : on_stage, NULL, &err);
    rw_engine_close(e);
    if (st != RW_OK) {
        rw_cli_error("rescore", "%s", err.msg);
        return RW_EXIT_FAIL;
    }
    return RW_EXIT_OK;
}

#ifdef RW_HAVE_MPI
/* Under mpirun: rank 0 rescores with the other ranks as its shards. A
 * failure on any rank ends every rank, rank 0 having said why. */
static int rescore_mpi(const rescore_opts *o, int argc, char **argv) {
    rw_shard_mpi *m = NULL;
    int rank = 0, size = 1;
    rw_err err = {{0}};
    if (rw_shard_mpi_start(&m, &argc, &argv, &rank, &size, &err) != RW_OK) {
        rw_cli_error("rescore", "--mpi: %s", err.msg);
        return RW_EXIT_FAIL;
    }
    if (rank > 0) {
        if (rw_shard_mpi_work(m, &err) != RW_OK) {
            rw_cli_error("rescore", "rank %d: %s", rank, err.msg);
            rw_shard_mpi_abort(m, RW_EXIT_FAIL);
        }
        rw_shard_mpi_finish(m);
        return RW_EXIT_OK;
    }
    rw_rescore_summary s;
    int rc = rescore(o, rw_shard_mpi_transport(m), &s);
    if (rc != RW_EXIT_OK) rw_shard_mpi_abort(m, rc);
    if (!o->quiet) {
        fprintf(stderr,
                "rescore: %d ranks, %llu components, the largest %llu accounts and %llu edges, %.1f MB between ranks\n",
                size, (unsigned long long)s.components, (unsigned long long)s.largest_accounts,
                (unsigned long long)s.largest_edges, (double)s.shard_bytes / 1e6);
        for (int r = 0; r < size; r++)
            fprintf(stderr, "rescore: rank %d peak RSS %.0f MB\n", r, (double)rw_shard_mpi_peak_kib(m, r) / 1024.0);
    }
    print_summary(&s);
    rw_shard_mpi_finish(m);
    return RW_EXIT_OK;
}
#endif

int rw_cmd_rescore(int argc, char **argv) {
    rescore_opts o = {0};
    int nargs, rc = rw_cli_parse(&rw_spec_rescore, &o, argc, argv, &nargs);
    if (rc >= 0) return rc;
    if (o.mpi) {
#ifdef RW_HAVE_MPI
        return rescore_mpi(&o, argc, argv);
#else
        rw_cli_error("rescore", "--mpi: this build has no MPI (install libopenmpi-dev and rebuild)");
        return RW_EXIT_USAGE;
#endif
    }
    rw_rescore_summary s;
    rc = rescore(&o, NULL, &s);
    if (rc == RW_EXIT_OK) print_summary(&s);
    return rc;
}

/* ---- clusters ------------------------------------------------------------ */

enum { FMT_TABLE, FMT_JSON, FMT_CSV };
static const char *const formats[] = {"table", "json", "csv", NULL};

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
            printf("%8u %6.3f %4s %8u %10u  %s  ", c->id, c->score, c->flagged ? "yes" : "", c->accounts, c->attributes,
                   f);
            rw_cli_put_text(stdout, first);
            putchar('\n');
        }
    }
    p->n++;
    return RW_OK;
}

typedef struct {
    const char *db;
    uint64_t run, limit;
    double min;
    int fmt;
} clusters_opts;

static const rw_cli_opt clusters_tab[] = {RW_OPT_DB(clusters_opts, db),
                                          {.name = "run",
                                           .arg = "R",
                                           .help = "the run to read (default: the newest)",
                                           .kind = RW_OPT_U64,
                                           .at = offsetof(clusters_opts, run)},
                                          {.name = "min-score",
                                           .arg = "X",
                                           .help = "only clusters scoring at least X (default 0.5)",
                                           .kind = RW_OPT_REAL,
                                           .at = offsetof(clusters_opts, min),
                                           .lo = 0,
                                           .hi = 1},
                                          {.name = "limit",
                                           .arg = "N",
                                           .help = "at most N clusters (default 50 for table, all otherwise)",
                                           .kind = RW_OPT_U64,
                                           .at = offsetof(clusters_opts, limit)},
                                          {.name = "format",
                                           .arg = "FORMAT",
                                           .help = "table, json or csv (default table)",
                                           .kind = RW_OPT_CHOICE,
                                           .at = offsetof(clusters_opts, fmt),
                                           .choices = formats},
                                          {.name = NULL}};

const rw_cli_spec rw_spec_clusters = {
    "clusters", NULL, "Lists the clusters of a run (default: the newest), highest score first.\n", clusters_tab, 0,
    0,          NULL};

int rw_cmd_clusters(int argc, char **argv) {
    clusters_opts o = {.limit = UINT64_MAX, .min = 0.5, .fmt = FMT_TABLE};
    int nargs, rc = rw_cli_parse(&rw_spec_clusters, &o, argc, argv, &nargs);
    if (rc >= 0) return rc;
    const char *db = o.db;
    uint64_t run = o.run, limit = o.limit;
    int fmt = o.fmt, have_limit = limit != UINT64_MAX;
    double min = o.min;
    if (!have_limit) limit = 0;
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
}

/* ---- scores -------------------------------------------------------------- */

static rw_status print_score(void *ctx, const rw_score_row *r) {
    csv_field(r->ext);
    printf(",%.4f,%d,%u\n", r->score, r->flagged, r->cluster);
    return ferror(stdout) ? RW_ERR_IO : RW_OK;
}

typedef struct {
    const char *db;
    uint64_t run;
    int fmt;
} scores_opts;

static const char *const csv_only[] = {"csv", NULL};

static const rw_cli_opt scores_tab[] = {RW_OPT_DB(scores_opts, db),
                                        {.name = "run",
                                         .arg = "R",
                                         .help = "the run to read (default: the newest)",
                                         .kind = RW_OPT_U64,
                                         .at = offsetof(scores_opts, run)},
                                        {.name = "format",
                                         .arg = "csv",
                                         .help = "csv (the only one)",
                                         .kind = RW_OPT_CHOICE,
                                         .at = offsetof(scores_opts, fmt),
                                         .choices = csv_only},
                                        {.name = NULL}};

const rw_cli_spec rw_spec_scores = {"scores",
                                    NULL,
                                    "Writes one row per account of a run (default: the newest):\n"
                                    "account,score,flagged,cluster (flagged is 0 or 1, cluster 0 for none).\n",
                                    scores_tab,
                                    0,
                                    0,
                                    NULL};

int rw_cmd_scores(int argc, char **argv) {
    scores_opts o = {0};
    int nargs, rc = rw_cli_parse(&rw_spec_scores, &o, argc, argv, &nargs);
    if (rc >= 0) return rc;
    const char *db = o.db;
    uint64_t run = o.run;
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
    fputs("reasons:  ", stdout);
    rw_cli_put_text(stdout, c->reasons);
    fputs("\nfeatures: ", stdout);
    rw_cli_put_text(stdout, c->features);
    putchar('\n');
    *(int *)ctx = 1;
    return RW_OK;
}

typedef struct {
    const char *db;
    uint64_t run, cluster;
} explain_opts;

static const rw_cli_opt explain_tab[] = {RW_OPT_DB(explain_opts, db),
                                         {.name = "run",
                                          .arg = "R",
                                          .help = "the run to read (default: the newest)",
                                          .kind = RW_OPT_U64,
                                          .at = offsetof(explain_opts, run)},
                                         {.name = "cluster",
                                          .arg = "ID",
                                          .help = "explain this cluster instead of an account",
                                          .kind = RW_OPT_U64,
                                          .at = offsetof(explain_opts, cluster),
                                          .lo = 1,
                                          .hi = UINT32_MAX},
                                         {.name = NULL}};

const rw_cli_spec rw_spec_explain = {"explain",
                                     "(ACCOUNT | --cluster ID)",
                                     "Shows why an account or a cluster scored as it did in a run.\n",
                                     explain_tab,
                                     0,
                                     1,
                                     NULL};

int rw_cmd_explain(int argc, char **argv) {
    explain_opts o = {0};
    int nargs, rc = rw_cli_parse(&rw_spec_explain, &o, argc, argv, &nargs);
    if (rc >= 0) return rc;
    const char *db = o.db;
    uint64_t run = o.run, cluster = o.cluster;
    if (cluster && nargs) return rw_cli_usage(&rw_spec_explain, "an ACCOUNT or --cluster ID, not both");
    if (!cluster && !nargs) return rw_cli_usage(&rw_spec_explain, "expected an ACCOUNT or --cluster ID");
    const char *account = argv[1];
    rw_engine *e = rw_cli_open_engine("explain", db, NULL, RW_CLI_READONLY);
    if (!e) return RW_EXIT_FAIL;
    rw_err err = {{0}};
    rw_status st = RW_OK;
    if (!cluster) {
        rw_account_info ai;
        find_score fs = {0};
        st = rw_engine_account(e, account, &ai, &err);
        if (st == RW_OK) {
            fs.node = ai.node;
            st = rw_engine_scores(e, (int64_t)run, find_account_score, &fs, &err);
        }
        if (st == RW_OK) {
            char f[32], l[32];
            rw_time_format(f, sizeof f, ai.first_seen);
            rw_time_format(l, sizeof l, ai.last_seen);
            fputs("account ", stdout);
            rw_cli_put_text(stdout, account);
            printf(": first seen %s, last seen %s, %u attributes\n", f, l, ai.attributes);
            if (!fs.found) {
                printf("not scored in this run (it arrived after the run's snapshot)\n");
            } else {
                printf("score %.3f%s, cluster %u\nreasons: ", fs.row.score, fs.row.flagged ? " (flagged)" : "",
                       fs.row.cluster);
                rw_cli_put_text(stdout, fs.reasons);
                putchar('\n');
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
}
