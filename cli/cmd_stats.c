/* ringwatch stats: what the database holds, read back through the graph. */
#include <stddef.h>
#include <string.h>

#include "cli.h"
#include "engine.h"

typedef struct {
    const char *db, *key;
    uint64_t hubs;
} stats_opts;

static const rw_cli_opt stats_tab[] = {RW_OPT_DB(stats_opts, db),
                                       RW_OPT_KEY(stats_opts, key),
                                       {.name = "hubs",
                                        .arg = "N",
                                        .help = "the N largest hubs (default 10, at most 1000)",
                                        .kind = RW_OPT_U64,
                                        .at = offsetof(stats_opts, hubs),
                                        .lo = 0,
                                        .hi = 1000},
                                       {.name = NULL}};

const rw_cli_spec rw_spec_stats = {"stats",
                                   NULL,
                                   "Loads the graph from the database (read-only) and prints node and edge\n"
                                   "counts, the degree distribution per kind and the N largest hubs,\n"
                                   "named by pseudonym, never by raw value.\n",
                                   stats_tab,
                                   0,
                                   0,
                                   NULL};

int rw_cmd_stats(int argc, char **argv) {
    stats_opts o = {.hubs = 10};
    int nargs, rc = rw_cli_parse(&rw_spec_stats, &o, argc, argv, &nargs);
    if (rc >= 0) return rc;
    const char *db = o.db, *key = o.key;
    uint64_t nhubs = o.hubs;
    rw_err err = {{0}};
    double t0 = rw_now();
    rw_engine *e = rw_cli_open_engine("stats", db, key, RW_CLI_READONLY);
    if (!e) return RW_EXIT_FAIL;
    double load_s = rw_now() - t0;
    rw_engine_stats s;
    rw_engine_get_stats(e, &s, &err);
    printf("database   %s (graph loaded in %.2f s)\n", rw_cli_db_path(db), load_s);
    printf("events     %llu\n", (unsigned long long)s.events);
    for (int k = 0; k < RW_KIND_COUNT; k++)
        printf("%-10s %llu\n", k == RW_KIND_ACCOUNT ? "accounts" : rw_kind_name((rw_kind)k),
               (unsigned long long)s.nodes[k]);
    printf("edges      %llu\n", (unsigned long long)s.edges);
    printf("memory     %.1f MB graph, %.1f bytes per edge\n", (double)s.graph_bytes / 1e6,
           s.edges ? (double)s.graph_bytes / (double)s.edges : 0.0);
    printf("\ndegree distribution (nodes per degree range)\n%-12s", "degree");
    for (int k = 0; k < RW_KIND_SUBNET; k++) printf(" %10s", rw_kind_name((rw_kind)k));
    putchar('\n');
    int top = 0;
    for (int b = 0; b < RW_DEGREE_BUCKETS; b++)
        for (int k = 0; k < RW_KIND_SUBNET; k++)
            if (s.degree_hist[k][b]) top = b;
    for (int b = 0; b <= top; b++) {
        char range[32];
        if (b == 0)
            snprintf(range, sizeof range, "0-1");
        else
            snprintf(range, sizeof range, "%u-%u", 1u << b, (2u << b) - 1);
        printf("%-12s", range);
        for (int k = 0; k < RW_KIND_SUBNET; k++) printf(" %10llu", (unsigned long long)s.degree_hist[k][b]);
        putchar('\n');
    }
    rw_hub hubs[1000];
    size_t n = rw_engine_top_hubs(e, hubs, (size_t)nhubs);
    if (n) printf("\nlargest hubs\n%-20s %8s  %-20s %-20s\n", "pseudonym", "accounts", "first seen", "last seen");
    for (size_t i = 0; i < n; i++) {
        char f[32], l[32];
        rw_time_format(f, sizeof f, hubs[i].first_seen);
        rw_time_format(l, sizeof l, hubs[i].last_seen);
        printf("%-20s %8u  %-20s %-20s\n", hubs[i].pseudonym, hubs[i].degree, f, l);
    }
    rw_engine_close(e);
    return RW_EXIT_OK;
}
