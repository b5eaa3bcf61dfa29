/* ringwatch simulate: write a synthetic world with ground truth. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sim.h"

typedef struct {
    const char *out, *truth, *variant, *params;
    uint64_t accounts, seed, days, start;
    double ring_share;
} simulate_opts;

/* Not given: the variant's or the parameter file's value stands. */
#define UNSET_U64  UINT64_MAX
#define UNSET_REAL (-1.0)

static const rw_cli_opt simulate_tab[] = {{.name = "accounts",
                                           .arg = "N",
                                           .help = "accounts to create (default 100000)",
                                           .kind = RW_OPT_U64,
                                           .at = offsetof(simulate_opts, accounts),
                                           .lo = 1,
                                           .hi = 1e8},
                                          {.name = "seed",
                                           .arg = "S",
                                           .help = "random seed (default 1)",
                                           .kind = RW_OPT_U64,
                                           .at = offsetof(simulate_opts, seed)},
                                          {.name = "days",
                                           .arg = "D",
                                           .help = "length of the world in days (default 30)",
                                           .kind = RW_OPT_U64,
                                           .at = offsetof(simulate_opts, days),
                                           .lo = 1,
                                           .hi = 366},
                                          {.name = "ring-share",
                                           .arg = "X",
                                           .help = "share of accounts in fraud rings (default 0.05)",
                                           .kind = RW_OPT_REAL,
                                           .at = offsetof(simulate_opts, ring_share),
                                           .lo = 0,
                                           .hi = 0.5},
                                          {.name = "start",
                                           .arg = "TS",
                                           .help = "first second, Unix time (default 2026-09-01T00:00:00Z)",
                                           .kind = RW_OPT_U64,
                                           .at = offsetof(simulate_opts, start),
                                           .lo = 0,
                                           .hi = 4e9},
                                          {.name = "variant",
                                           .arg = "NAME",
                                           .help = "a named world: default, bigfarms, cardring, slowdrip, crowds, wide "
                                                   "(sim/README.md)",
                                           .kind = RW_OPT_TEXT,
                                           .at = offsetof(simulate_opts, variant)},
                                          {.name = "params",
                                           .arg = "FILE",
                                           .help = "key = value lines overriding any parameter, after --variant "
                                                   "(sim/README.md)",
                                           .kind = RW_OPT_TEXT,
                                           .at = offsetof(simulate_opts, params)},
                                          {.name = "out",
                                           .arg = "FILE|-",
                                           .help = "the events, JSON lines (- for standard output)",
                                           .kind = RW_OPT_TEXT,
                                           .at = offsetof(simulate_opts, out),
                                           .required = 1},
                                          {.name = "truth",
                                           .arg = "FILE",
                                           .help = "the ground truth: account,ring,tactic",
                                           .kind = RW_OPT_TEXT,
                                           .at = offsetof(simulate_opts, truth)},
                                          {.name = NULL}};

const rw_cli_spec rw_spec_simulate = {
    "simulate",
    NULL,
    "Writes a synthetic month of signups and logins (JSON lines, in time order) with\n"
    "benign households, carrier NAT and VPN hubs, offices and campuses onboarding in\n"
    "bursts, and fraud rings of several tactics. Deterministic for a seed.\n"
    "The variant applies first, then the parameter file, then --days,\n"
    "--ring-share and --start.\n",
    simulate_tab,
    0,
    0,
    NULL};

int rw_cmd_simulate(int argc, char **argv) {
    rw_sim_config cfg;
    rw_sim_defaults(&cfg);
    simulate_opts o = {
        .accounts = cfg.accounts, .seed = cfg.seed, .days = UNSET_U64, .start = UNSET_U64, .ring_share = UNSET_REAL};
    int nargs, rc = rw_cli_parse(&rw_spec_simulate, &o, argc, argv, &nargs);
    if (rc >= 0) return rc;
    rw_err perr = {{0}};
    if ((o.variant && rw_sim_variant(&cfg, o.variant, &perr) != RW_OK) ||
        (o.params && rw_sim_load_params(&cfg, o.params, &perr) != RW_OK)) {
        rw_cli_error("simulate", "%s", perr.msg);
        return RW_EXIT_USAGE;
    }
    cfg.accounts = o.accounts;
    cfg.seed = o.seed;
    if (o.days != UNSET_U64) cfg.days = (int)o.days;
    if (o.start != UNSET_U64) cfg.start_ts = (int64_t)o.start;
    if (o.ring_share != UNSET_REAL) cfg.ring_share = o.ring_share;
    const char *out = o.out, *truth = o.truth;
    FILE *ev = strcmp(out, "-") ? fopen(out, "w") : stdout;
    if (!ev) {
        rw_cli_error("simulate", "cannot create %s: %s", out, strerror(errno));
        return RW_EXIT_FAIL;
    }
    FILE *tr = truth ? fopen(truth, "w") : NULL;
    if (truth && !tr) {
        rw_cli_error("simulate", "cannot create %s: %s", truth, strerror(errno));
        if (ev != stdout) fclose(ev);
        return RW_EXIT_FAIL;
    }
    rw_err err = {{0}};
    rw_sim_summary sum;
    double t0 = rw_now();
    rw_status st = rw_sim_run(&cfg, ev, tr, &sum, &err);
    int close_failed = (ev != stdout && fclose(ev) != 0) | (tr && fclose(tr) != 0);
    if (st == RW_OK && close_failed) st = rw_fail(&err, RW_ERR_IO, "writing output: %s", strerror(errno));
    if (st != RW_OK) {
        rw_cli_error("simulate", "%s", err.msg);
        return RW_EXIT_FAIL;
    }
    fprintf(stderr,
            "simulated %llu accounts (%llu in %llu rings, %llu office/campus), %llu events in %.1f s (seed %llu)\n",
            (unsigned long long)sum.accounts, (unsigned long long)sum.ring_accounts, (unsigned long long)sum.rings,
            (unsigned long long)sum.hard_negative_accounts, (unsigned long long)sum.events, rw_now() - t0,
            (unsigned long long)cfg.seed);
    return RW_EXIT_OK;
}
