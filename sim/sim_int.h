/* Private declarations of the simulator: the world under construction,
 * compact event records, weighted pools, the address plan and time sampling.
 * Shared by sim.c, sim_world.c, sim_benign.c and sim_tactics.c only. */
#ifndef RW_SIM_INT_H
#define RW_SIM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

#define SIM_DAY  86400u
#define SIM_HOUR 3600u

/* Ground truth of an account: benign kinds first, then ring tactics. */
typedef enum {
    SIM_HOUSEHOLD,
    SIM_NAT,
    SIM_VPN_USER,
    SIM_OFFICE,
    SIM_CAMPUS,
    SIM_DATACENTER_BULK,
    SIM_RESIDENTIAL_PROXY,
    SIM_STOLEN_CARDS,
    SIM_SLOW_DRIP,
    SIM_CAMOUFLAGE,
    SIM_CAT_COUNT
} sim_cat;

#define SIM_FIRST_RING SIM_DATACENTER_BULK
#define SIM_TACTICS    (SIM_CAT_COUNT - SIM_FIRST_RING)

/* The truth-table name of a category ("household", "slow_drip"). */
const char *sim_cat_name(sim_cat c);

/* Tags of the independent random streams: one per component, so that a
 * change in one component does not shift the draws of another. */
enum {
    SIM_S_ADDR = 1,
    SIM_S_TIME,
    SIM_S_POOLS,
    SIM_S_HOUSEHOLDS,
    SIM_S_OFFICES,
    SIM_S_CAMPUSES,
    SIM_S_RING_PLAN,
    SIM_S_RING,
    SIM_S_KEYS,
    SIM_S_CAMO /* which ring accounts act like people (drawn only when asked for) */
};

/* Bounds of the per-ring sets of addresses, devices and cards, of the /24s
 * of a stolen-card ring and of a household (parameters stay within them). */
#define SIM_MAXSET     64
#define SIM_MAX24      16
#define SIM_MAX_FAMILY 64

/* One event in 24 bytes. ip: 0 absent, below 2^32 an IPv4 address, else an
 * IPv6 code made by sim_v6. dev: 0 absent, else a device id. pay_type:
 * payment id (0 absent) << 2 | rw_event_type. ts: seconds since start. */
typedef struct {
    uint64_t ip;
    uint32_t ts, acct, dev, pay_type;
} sim_ev;

typedef struct {
    uint32_t ring; /* 0 for benign accounts */
    uint8_t cat;   /* sim_cat */
} sim_acct;

/* Items drawn with probability proportional to a weight: cum holds the
 * running sum of weights. */
typedef struct {
    uint64_t *item;
    double *cum;
    size_t n;
} sim_pool;

/* Kinds of IPv4 space; each owns its own first octets. */
typedef enum { SIM_SP_RES, SIM_SP_MOBILE, SIM_SP_DC, SIM_SP_BIZ, SIM_SP_CAMPUS, SIM_SP_COUNT } sim_space;

#define SIM_V6_CARRIERS 5

typedef struct {
    rw_sim_params p;
    uint64_t seed, accounts;
    int64_t start_ts;
    uint32_t span; /* days * SIM_DAY */
    uint32_t days;

    sim_ev *ev;
    size_t nev, evcap;
    sim_acct *acct;
    size_t nacct, acctcap;

    uint32_t next_dev, next_pay, rings;
    uint64_t ring_accounts, hard_neg;

    uint32_t *set24; /* open-addressing set of used /24 prefixes (+1) */
    size_t set24_cap, set24_n;
    uint32_t *res24; /* residential /24 prefixes (address >> 8) */
    size_t nres24;
    uint64_t *home; /* home IPs of benign households */
    size_t nhome, homecap;

    sim_pool cgnat; /* carrier NAT egress addresses */
    sim_pool vpn;   /* VPN exits */
    sim_pool stock; /* stock device fingerprints */
    sim_pool work;  /* work-network NAT addresses */

    double *day_cum; /* signup weight per day, cumulative */
    double hour_cum[24];
    int nomem;
} sim_world;

/* ---- world (sim_world.c) -------------------------------------------------- */

/* Builds the address plan, pools and time tables; RW_ERR_NOMEM on failure. */
rw_status sim_world_init(sim_world *w, const rw_sim_config *cfg, rw_err *err);
void sim_world_free(sim_world *w);

uint64_t sim_mix64(uint64_t x);
void sim_rng(rw_rng *r, const sim_world *w, uint64_t tag, uint64_t idx);
uint32_t sim_range(rw_rng *r, uint32_t lo, uint32_t hi); /* inclusive */
int sim_chance(rw_rng *r, double p);
double sim_lognormal(rw_rng *r, double sigma);
/* An integer from a power law with density ~ x^-a on [lo, hi]. */
uint32_t sim_powerlaw(rw_rng *r, double lo, double hi, double a);
/* Number of failures before a success, with the given mean. */
uint32_t sim_geometric(rw_rng *r, double mean);
/* Rounds x up or down at random so that the mean is x. */
uint32_t sim_round(rw_rng *r, double x);

uint32_t sim_new_account(sim_world *w, sim_cat cat, uint32_t ring);
uint32_t sim_new_device(sim_world *w);
uint32_t sim_new_card(sim_world *w);
void sim_emit(sim_world *w, uint32_t acct, rw_event_type type, uint32_t ts, uint64_t ip, uint32_t dev, uint32_t pay);
void sim_add_home(sim_world *w, uint64_t ip);

/* A /24 prefix (address >> 8) of space s not handed out before. */
uint32_t sim_fresh24(sim_world *w, rw_rng *r, sim_space s);
/* A host address in the /24 p24. */
uint64_t sim_host(rw_rng *r, uint32_t p24);
/* A residential address: a random host in the residential pool. */
uint64_t sim_res_ip(const sim_world *w, rw_rng *r);
/* A mobile IPv6 code (one /64 and interface id of a carrier). */
uint64_t sim_v6(rw_rng *r);
/* The eight hextets of an IPv6 code. */
void sim_v6_hextets(uint64_t code, uint64_t key, uint16_t h[8]);

uint64_t sim_pool_pick(const sim_pool *p, rw_rng *r);

int sim_weekday(const sim_world *w, uint32_t day);
/* A time on day (diurnal: following the daily curve, else uniform). */
uint32_t sim_time_in_day(const sim_world *w, rw_rng *r, uint32_t day, int diurnal);
/* A benign signup time: day by the month's weights, hour by the daily curve. */
uint32_t sim_time_signup(const sim_world *w, rw_rng *r);
/* A time at least a minute after t0; 0 when the month has no room left. */
int sim_time_after(const sim_world *w, rw_rng *r, uint32_t t0, int diurnal, uint32_t *out);

/* ---- populations (sim_benign.c, sim_tactics.c) ---------------------------- */

/* Offices, campuses and households: n accounts in all. */
void sim_benign(sim_world *w, uint64_t n);
/* Fraud rings: n accounts in all. */
void sim_rings(sim_world *w, uint64_t n);

#endif
