/* sim: a synthetic month of signups and logins with ground truth: benign
 * households, carrier NAT and VPN hubs, stock device fingerprints, offices
 * and campuses onboarding in bursts, and fraud rings of several tactics with
 * camouflage. Deterministic for a seed. Depends on common only. */
#ifndef RW_SIM_H
#define RW_SIM_H

#include <stdio.h>

#include "common.h"

/* The shape of the world. rw_sim_defaults sets the values of the default
 * world; every field is also reachable by name through rw_sim_set (the names
 * are the field names; sim/README.md and `rw_sim_param_help` describe them).
 * A pair X_min/X_max is a range drawn per ring or per organisation; equal
 * bounds fix the value. Probabilities and shares are in [0, 1]. */
typedef struct {
    /* rings: sizes (power law on [min, max] with exponent alpha), mix of
     * tactics (relative weights), pacing cap of slow drips, and the share of a
     * ring's accounts that look like people (drawn per ring) */
    uint32_t ring_size_min, ring_size_max;
    double ring_size_alpha;
    double tactic_datacenter_bulk, tactic_residential_proxy, tactic_stolen_cards, tactic_slow_drip, tactic_camouflage;
    uint32_t drip_per_day;
    double camo_share_min, camo_share_max;
    /* datacenter_bulk */
    double dc_burst_minutes, dc_burst_sigma;
    uint32_t dc_burst_minutes_min, dc_burst_minutes_max;
    double dc_second24_p;
    uint32_t dc_ips_min, dc_ips_max, dc_devices_min, dc_devices_max, dc_accounts_per_card;
    double dc_card_p;
    /* residential_proxy */
    uint32_t rp_hours_min, rp_hours_max, rp_devices_min, rp_devices_max;
    uint32_t rp_ip_reuse_min, rp_ip_reuse_max, rp_subnets_min, rp_subnets_max;
    double proxy_home_p, rp_card_p;
    /* stolen_cards */
    uint32_t sc_hours_min, sc_hours_max, sc_card_uses_min, sc_card_uses_max;
    uint32_t sc_subnets_max, sc_ip_reuse_min, sc_ip_reuse_max;
    double sc_one24_p, sc_res_p, sc_dc_p, sc_device_p, sc_signup_card_p;
    /* slow_drip */
    uint32_t sd_start_days, sd_devices_min, sd_devices_max, sd_cards_min, sd_cards_max;
    double sd_device_reuse_p, sd_card_p, sd_stock_p;
    /* camouflage */
    uint32_t cf_days_min, cf_days_max, cf_ips_min, cf_ips_max, cf_devices_min, cf_devices_max, cf_accounts_per_card;
    double cf_dc_p, cf_own_p, cf_cgnat_p;
    /* benign crowds: offices and campuses (share of accounts, sizes, length
     * of the onboarding burst), families, carrier NAT, VPN and stock phones */
    double office_share, campus_share, org_size_alpha;
    uint32_t office_size_min, office_size_max, campus_size_min, campus_size_max;
    uint32_t office_hours_min, office_hours_max, campus_hours_min, campus_hours_max, campus_window_days;
    double campus_dorm_p, big_family_p;
    uint32_t big_family_max;
    double nat_single_p, nat_family_p, vpn_p, stock_p, campus_stock_p;
    uint32_t cgnat_accounts, vpn_accounts;
} rw_sim_params;

typedef struct {
    uint64_t accounts; /* approximate number of accounts to create */
    uint64_t seed;
    int64_t start_ts;  /* first second of the simulated month */
    int days;          /* length of the world in days (default 30) */
    double ring_share; /* share of accounts in rings (default 0.05) */
    rw_sim_params p;
} rw_sim_config;

/* Fills cfg with the defaults (100000 accounts, seed 1, 2026-09-01, 30 days,
 * the default world's parameters). */
void rw_sim_defaults(rw_sim_config *cfg);

/* Sets the parameter key (a field of rw_sim_params, or `days`, `ring_share`)
 * from its text value. RW_ERR_INVALID with "key: what is wrong" for an
 * unknown key or a value that is not a number in the key's range. */
rw_status rw_sim_set(rw_sim_config *cfg, const char *key, const char *value, rw_err *err);

/* Applies the named variant's overrides (see sim/README.md) on top of cfg.
 * RW_ERR_INVALID for an unknown name. */
rw_status rw_sim_variant(rw_sim_config *cfg, const char *name, rw_err *err);

/* The i-th variant's name and one-line description; NULL past the end. */
const char *rw_sim_variant_name(size_t i, const char **help);

/* Reads `key = value` lines (blank lines and # comments allowed) from path
 * and applies them. Errors read "PATH:LINE: key: what is wrong"; nothing is
 * applied unless the whole file is good. */
rw_status rw_sim_load_params(rw_sim_config *cfg, const char *path, rw_err *err);

/* Checks ranges and min <= max of every parameter (rw_sim_run does too). */
rw_status rw_sim_check(const rw_sim_config *cfg, rw_err *err);

/* Writes every parameter as `key = value  # help` lines (a params file). */
void rw_sim_write_params(const rw_sim_config *cfg, FILE *f);

typedef struct {
    uint64_t accounts, events, ring_accounts, rings, hard_negative_accounts;
} rw_sim_summary;

/* Writes events (JSON lines, in time order) to events and the truth table
 * (`account,ring,tactic`) to truth (may be NULL). */
rw_status rw_sim_run(const rw_sim_config *cfg, FILE *events, FILE *truth, rw_sim_summary *out, rw_err *err);

#endif
