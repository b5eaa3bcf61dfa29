/* ringwatch simulate: write a synthetic world with ground truth. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sim.h"

static const char help[] =
    "usage: ringwatch simulate [--accounts N] [--seed S] [--days D] [--ring-share X] [--start TS]\n"
    "                          [--variant NAME] [--params FILE] --out FILE|- [--truth FILE]\n\n"
    "Writes a synthetic month of signups and logins (JSON lines, in time order) with\n"
    "benign households, carrier NAT and VPN hubs, offices and campuses onboarding in\n"
    "bursts, and fraud rings of several tactics; --truth writes account,ring,tactic.\n"
    "Deterministic for a seed.\n\n"
    "  --accounts N     accounts to create (default 100000)\n"
    "  --seed S         random seed (default 1)\n"
    "  --days D         length of the world in days (default 30)\n"
    "  --ring-share X   share of accounts in fraud rings (default 0.05)\n"
    "  --start TS       first second, Unix time (default 2026-09-01T00:00:00Z)\n"
    "  --variant NAME   a named world: default, bigfarms, cardring, slowdrip, crowds, wide\n"
    "  --params FILE    key = value lines overriding any parameter (sim/README.md)\n"
    "Options apply in the order given: later ones override earlier ones.\n";

int rw_cmd_simulate(int argc, char **argv) {
    static const struct option opts[] = {{"accounts", required_argument, 0, 'a'},
                                         {"seed", required_argument, 0, 's'},
                                         {"days", required_argument, 0, 'D'},
                                         {"ring-share", required_argument, 0, 'r'},
                                         {"start", required_argument, 0, 'S'},
                                         {"out", required_argument, 0, 'o'},
                                         {"truth", required_argument, 0, 't'},
                                         {"variant", required_argument, 0, 'V'},
                                         {"params", required_argument, 0, 'P'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    rw_sim_config cfg;
    rw_sim_defaults(&cfg);
    rw_err perr = {{0}};
    const char *out = NULL, *truth = NULL;
    uint64_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'a':
                if (rw_cli_parse_u64(optarg, &v) || v < 1 || v > 100000000) goto bad;
                cfg.accounts = v;
                break;
            case 's':
                if (rw_cli_parse_u64(optarg, &v)) goto bad;
                cfg.seed = v;
                break;
            case 'D':
                if (rw_cli_parse_u64(optarg, &v) || v < 1 || v > 366) goto bad;
                cfg.days = (int)v;
                break;
            case 'S':
                if (rw_cli_parse_u64(optarg, &v) || v > 4000000000u) goto bad;
                cfg.start_ts = (int64_t)v;
                break;
            case 'r': {
                char *end;
                double x = strtod(optarg, &end);
                if (*end || !(x >= 0 && x <= 0.5)) goto bad;
                cfg.ring_share = x;
                break;
            }
            case 'V':
            case 'P':
                if ((c == 'V' ? rw_sim_variant(&cfg, optarg, &perr) : rw_sim_load_params(&cfg, optarg, &perr)) !=
                    RW_OK) {
                    rw_cli_error("simulate", "%s", perr.msg);
                    return RW_EXIT_USAGE;
                }
                break;
            case 'o':
                out = optarg;
                break;
            case 't':
                truth = optarg;
                break;
            case 'h':
                fputs(help, stdout);
                return RW_EXIT_OK;
            default:
                fputs(help, stderr);
                return RW_EXIT_USAGE;
        }
    }
    if (!out || optind != argc) {
        rw_cli_error("simulate", "--out FILE is required (- for standard output)");
        return RW_EXIT_USAGE;
    }
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
bad:
    rw_cli_error("simulate", "invalid value '%s' (see --help for the allowed ranges)", optarg);
    return RW_EXIT_USAGE;
}
