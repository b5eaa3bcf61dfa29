/* sim: a synthetic month of signups and logins with ground truth: benign
 * households, carrier NAT and VPN hubs, stock device fingerprints, offices
 * and campuses onboarding in bursts, and fraud rings of several tactics with
 * camouflage. Deterministic for a seed. Depends on common only. */
#ifndef RW_SIM_H
#define RW_SIM_H

#include <stdio.h>

#include "common.h"

typedef struct {
    uint64_t accounts; /* approximate number of accounts to create */
    uint64_t seed;
    int64_t start_ts;  /* first second of the simulated month */
    int days;          /* length of the world in days (default 30) */
    double ring_share; /* share of accounts in rings (default 0.05) */
} rw_sim_config;

/* Fills cfg with the defaults (100000 accounts, seed 1, 2026-09-01, 30 days). */
void rw_sim_defaults(rw_sim_config *cfg);

typedef struct {
    uint64_t accounts, events, ring_accounts, rings, hard_negative_accounts;
} rw_sim_summary;

/* Writes events (JSON lines, in time order) to events and the truth table
 * (`account,ring,tactic`) to truth (may be NULL). */
rw_status rw_sim_run(const rw_sim_config *cfg, FILE *events, FILE *truth, rw_sim_summary *out, rw_err *err);

#endif
