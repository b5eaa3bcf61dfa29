/* Fraud rings of the simulated world: ring sizes from a heavy-tailed law and
 * five tactics (datacenter_bulk, residential_proxy, stolen_cards, slow_drip,
 * camouflage), each with its own random stream. */
#include <math.h>

#include "sim_int.h"

typedef struct {
    sim_world *w;
    const rw_sim_params *p;
    rw_rng *r;
    uint32_t id; /* "r<id>" in the truth table */
    sim_cat cat;
    /* Camouflaged accounts (a share camo of the ring, chosen from their own
     * stream so the ring's other draws stay put) use a person's carrier
     * address and phone instead of the ring's addresses and devices. */
    rw_rng *camo_r;
    double camo;
    int acting;
    uint64_t act_ip;
    uint32_t act_dev;
} ring;

#define MAXPOOL 32

static uint32_t ring_account(ring *g) {
    uint32_t a = sim_new_account(g->w, g->cat, g->id);
    g->acting = g->camo > 0 && sim_chance(g->camo_r, g->camo);
    if (g->acting) {
        rw_rng *r = g->camo_r;
        g->act_ip = sim_chance(r, 0.3) ? sim_v6(r) : sim_pool_pick(&g->w->cgnat, r);
        g->act_dev = sim_chance(r, 0.3) ? (uint32_t)sim_pool_pick(&g->w->stock, r) : sim_new_device(g->w);
    }
    return a;
}

/* An event of the ring's current account: cards stay, but an acting
 * account's address and device are its persona's. */
static void ring_emit(ring *g, uint32_t a, rw_event_type type, uint32_t ts, uint64_t ip, uint32_t dev, uint32_t pay) {
    if (g->acting) {
        ip = ip ? g->act_ip : 0;
        dev = dev ? g->act_dev : 0;
    }
    sim_emit(g->w, a, type, ts, ip, dev, pay);
}

/* Signups carry an IP as often as benign ones do. */
static uint64_t some_ip(rw_rng *r, uint64_t ip, double p) {
    return sim_chance(r, p) ? ip : 0;
}

/* A burst of dur seconds that fits in the month. */
static uint32_t burst_start(const ring *g, uint32_t dur) {
    return dur + 1 < g->w->span ? (uint32_t)rw_rng_below(g->r, g->w->span - dur - 1) : 0;
}

static void new_devices(sim_world *w, uint32_t *d, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) d[i] = sim_new_device(w);
}

static void new_cards(sim_world *w, uint32_t *c, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) c[i] = sim_new_card(w);
}

#define PICK(r, a, n) ((a)[rw_rng_below((r), (uint64_t)(n))])

/* A rotating residential proxy exit: often a live household's address. */
static uint64_t proxy_ip(const sim_world *w, rw_rng *r) {
    if (w->nhome && sim_chance(r, w->p.proxy_home_p)) return w->home[rw_rng_below(r, w->nhome)];
    return sim_res_ip(w, r);
}

/* A proxy ring's exits: anywhere (nsub 0) or in its own residential /24s,
 * a signup exit kept for reuse accounts. */
typedef struct {
    uint32_t sub[SIM_MAXSET], nsub, reuse, left;
    uint64_t cur;
} exits;

static uint64_t exit_ip(const sim_world *w, rw_rng *r, const exits *x) {
    if (!x->nsub) return proxy_ip(w, r);
    return sim_host(r, x->sub[rw_rng_below(r, x->nsub)]);
}

static uint64_t signup_exit(const sim_world *w, rw_rng *r, exits *x) {
    if (x->reuse <= 1) return exit_ip(w, r, x);
    if (!x->left) {
        x->cur = exit_ip(w, r, x);
        x->left = x->reuse;
    }
    x->left--;
    return x->cur;
}

/* An address of the /24 p24, or the one held for reuse accounts. */
typedef struct {
    uint32_t reuse, left;
    uint64_t cur;
} held;

static uint64_t held_host(rw_rng *r, uint32_t p24, held *h) {
    if (h->reuse <= 1) return sim_host(r, p24);
    if (!h->left) {
        h->cur = sim_host(r, p24);
        h->left = h->reuse;
    }
    h->left--;
    return h->cur;
}

/* Many accounts within minutes to hours from a few hosting addresses in one
 * or two /24s, a handful of emulator or headless fingerprints, few cards. */
static void datacenter_bulk(ring *g, uint32_t size) {
    sim_world *w = g->w;
    const rw_sim_params *p = g->p;
    rw_rng *r = g->r;
    double d = p->dc_burst_minutes * 60.0 * sim_lognormal(r, p->dc_burst_sigma);
    uint32_t dmin = p->dc_burst_minutes_min * 60, dmax = p->dc_burst_minutes_max * 60;
    uint32_t dur = d < dmin ? dmin : d > dmax ? dmax : (uint32_t)d;
    uint32_t start = burst_start(g, dur), t;
    uint32_t p24[2] = {sim_fresh24(w, r, SIM_SP_DC), 0}, n24 = 1;
    if (sim_chance(r, p->dc_second24_p)) p24[n24++] = sim_fresh24(w, r, SIM_SP_DC);
    uint32_t nip = sim_range(r, p->dc_ips_min, p->dc_ips_max),
             ndev = sim_range(r, p->dc_devices_min, p->dc_devices_max);
    uint32_t ncard = 1 + size / p->dc_accounts_per_card;
    uint64_t ip[SIM_MAXSET] = {0};
    uint32_t dev[SIM_MAXSET], card[MAXPOOL];
    for (uint32_t i = 0; i < nip; i++) ip[i] = sim_host(r, p24[i % n24]);
    new_devices(w, dev, ndev);
    if (ncard > MAXPOOL) ncard = MAXPOOL;
    new_cards(w, card, ncard);
    for (uint32_t i = 0; i < size && !w->nomem; i++) {
        uint32_t a = ring_account(g), ts = start + (uint32_t)rw_rng_below(r, dur);
        uint32_t dv = sim_chance(r, 0.9) ? PICK(r, dev, ndev) : 0;
        uint32_t pay = sim_chance(r, p->dc_card_p) ? PICK(r, card, ncard) : 0;
        ring_emit(g, a, RW_EV_SIGNUP, ts, some_ip(r, PICK(r, ip, nip), 0.995), dv, pay);
        uint32_t n = sim_chance(r, 0.35) ? sim_range(r, 1, 3) : 0;
        for (uint32_t k = 0; k < n && sim_time_after(w, r, ts, 0, &t); k++) {
            uint64_t lip = sim_chance(r, 0.8) ? PICK(r, ip, nip) : sim_host(r, p24[rw_rng_below(r, n24)]);
            ring_emit(g, a, RW_EV_LOGIN, t, lip, dv ? dv : PICK(r, dev, ndev), 0);
        }
        if (pay && sim_time_after(w, r, ts, 0, &t)) ring_emit(g, a, RW_EV_PAYMENT, t, PICK(r, ip, nip), dv, pay);
    }
}

/* Each account behind a different residential proxy exit, all driven from an
 * emulator farm of 5-30 fingerprints; spread over a day or two. */
static void residential_proxy(ring *g, uint32_t size) {
    sim_world *w = g->w;
    const rw_sim_params *p = g->p;
    rw_rng *r = g->r;
    uint32_t dur = sim_range(r, p->rp_hours_min * SIM_HOUR, p->rp_hours_max * SIM_HOUR), start = burst_start(g, dur), t;
    uint32_t ndev = sim_range(r, p->rp_devices_min, p->rp_devices_max), dev[SIM_MAXSET];
    new_devices(w, dev, ndev);
    exits x = {.reuse = sim_range(r, p->rp_ip_reuse_min, p->rp_ip_reuse_max)};
    x.nsub = sim_range(r, p->rp_subnets_min, p->rp_subnets_max);
    for (uint32_t i = 0; i < x.nsub; i++) x.sub[i] = w->res24[rw_rng_below(r, w->nres24)];
    for (uint32_t i = 0; i < size && !w->nomem; i++) {
        uint32_t a = ring_account(g), ts = start + (uint32_t)rw_rng_below(r, dur);
        uint32_t dv = sim_chance(r, 0.95) ? PICK(r, dev, ndev) : 0;
        uint32_t pay = sim_chance(r, p->rp_card_p) ? sim_new_card(w) : 0;
        ring_emit(g, a, RW_EV_SIGNUP, ts, some_ip(r, signup_exit(w, r, &x), 0.995), dv, pay);
        uint32_t n = sim_chance(r, 0.5) ? sim_range(r, 1, 3) : 0;
        for (uint32_t k = 0; k < n && sim_time_after(w, r, ts, 0, &t); k++) {
            uint32_t ldv = dv && sim_chance(r, 0.7) ? dv : PICK(r, dev, ndev);
            ring_emit(g, a, RW_EV_LOGIN, t, exit_ip(w, r, &x), ldv, 0);
        }
        uint32_t np = pay ? sim_range(r, 1, 2) : 0;
        for (uint32_t k = 0; k < np && sim_time_after(w, r, ts, 0, &t); k++) {
            uint64_t pip = exit_ip(w, r, &x);
            ring_emit(g, a, RW_EV_PAYMENT, t, pip, dv ? dv : PICK(r, dev, ndev), pay);
        }
    }
}

/* Fresh devices per account from one or a few /24s, cashing out a small set
 * of stolen cards (each used by 3-15 accounts) soon after signup. */
static void stolen_cards(ring *g, uint32_t size) {
    sim_world *w = g->w;
    const rw_sim_params *p = g->p;
    rw_rng *r = g->r;
    uint32_t dur = sim_range(r, p->sc_hours_min * SIM_HOUR, p->sc_hours_max * SIM_HOUR), start = burst_start(g, dur), t;
    double u = rw_rng_unit(r);
    sim_space sp = u < p->sc_res_p ? SIM_SP_RES : u < p->sc_res_p + p->sc_dc_p ? SIM_SP_DC : SIM_SP_BIZ;
    uint32_t n24 = sim_chance(r, p->sc_one24_p) ? 1 : sim_range(r, p->sc_subnets_max < 2 ? 1 : 2, p->sc_subnets_max);
    uint32_t p24[SIM_MAX24];
    /* A residential /24 is one where real households live too. */
    for (uint32_t i = 0; i < n24; i++)
        p24[i] = sp == SIM_SP_RES ? w->res24[rw_rng_below(r, w->nres24)] : sim_fresh24(w, r, sp);
    held h = {.reuse = sim_range(r, p->sc_ip_reuse_min, p->sc_ip_reuse_max)};
    uint32_t card = 0, uses_left = 0;
    for (uint32_t i = 0; i < size && !w->nomem; i++) {
        if (!uses_left) {
            card = sim_new_card(w);
            uses_left = sim_range(r, p->sc_card_uses_min, p->sc_card_uses_max);
        }
        uses_left--;
        uint32_t a = ring_account(g), ts = start + (uint32_t)rw_rng_below(r, dur);
        uint32_t dv = sim_chance(r, p->sc_device_p) ? sim_new_device(w) : 0;
        uint32_t pfx = p24[rw_rng_below(r, n24)];
        uint64_t host = held_host(r, pfx, &h), sip = some_ip(r, host, 0.995);
        ring_emit(g, a, RW_EV_SIGNUP, ts, sip, dv, sim_chance(r, p->sc_signup_card_p) ? card : 0);
        uint32_t np = sim_range(r, 1, 3); /* cash-out within hours */
        for (uint32_t k = 0; k < np; k++) {
            uint64_t pt = (uint64_t)ts + sim_range(r, 120, 6 * SIM_HOUR);
            if (pt >= w->span) break;
            ring_emit(g, a, RW_EV_PAYMENT, (uint32_t)pt, h.reuse > 1 ? host : sim_host(r, pfx), dv, card);
        }
        uint32_t n = sim_chance(r, 0.3) ? sim_range(r, 1, 2) : 0;
        for (uint32_t k = 0; k < n && sim_time_after(w, r, ts, 0, &t); k++)
            ring_emit(g, a, RW_EV_LOGIN, t, h.reuse > 1 ? host : sim_host(r, p24[rw_rng_below(r, n24)]), dv, 0);
    }
}

/* A few accounts a day over the whole month behind popular VPN exits, tied
 * together only by a small set of reused devices or cards. */
static void slow_drip(ring *g, uint32_t size) {
    sim_world *w = g->w;
    const rw_sim_params *p = g->p;
    rw_rng *r = g->r;
    uint32_t first = (uint32_t)rw_rng_below(r, w->days < p->sd_start_days ? 1 : p->sd_start_days), t;
    double u = rw_rng_unit(r);
    int use_dev = u < 0.5 || u >= 0.8, use_card = u >= 0.5;
    uint32_t ndev = sim_range(r, p->sd_devices_min, p->sd_devices_max);
    uint32_t ncard = sim_range(r, p->sd_cards_min, p->sd_cards_max), dev[SIM_MAXSET], card[SIM_MAXSET];
    new_devices(w, dev, ndev);
    new_cards(w, card, ncard);
    for (uint32_t i = 0; i < size && !w->nomem; i++) {
        uint32_t a = ring_account(g);
        uint32_t ts = sim_time_in_day(w, r, sim_range(r, first, w->days - 1), 1);
        uint32_t dv = 0, pay = 0;
        if (sim_chance(r, 0.92)) {
            if (use_dev && sim_chance(r, p->sd_device_reuse_p))
                dv = PICK(r, dev, ndev);
            else
                dv = sim_chance(r, p->sd_stock_p) ? (uint32_t)sim_pool_pick(&w->stock, r) : sim_new_device(w);
        }
        if (use_card ? sim_chance(r, p->sd_card_p) : sim_chance(r, 0.1))
            pay = use_card ? PICK(r, card, ncard) : sim_new_card(w);
        uint64_t exit_ip = sim_pool_pick(&w->vpn, r);
        uint64_t sip = some_ip(r, exit_ip, 0.995);
        ring_emit(g, a, RW_EV_SIGNUP, ts, sip, dv, sim_chance(r, 0.5) ? pay : 0);
        uint32_t n = sim_chance(r, 0.55) ? sim_range(r, 1, 3) : 0;
        for (uint32_t k = 0; k < n && sim_time_after(w, r, ts, 1, &t); k++) {
            uint64_t lip = sim_chance(r, 0.6) ? exit_ip : sim_pool_pick(&w->vpn, r);
            ring_emit(g, a, RW_EV_LOGIN, t, lip, dv, 0);
        }
        uint32_t np = pay ? sim_range(r, 1, 2) : 0;
        for (uint32_t k = 0; k < np && sim_time_after(w, r, ts, 1, &t); k++)
            ring_emit(g, a, RW_EV_PAYMENT, t, sim_chance(r, 0.6) ? exit_ip : sim_pool_pick(&w->vpn, r), dv, pay);
    }
}

/* A datacenter or emulator-farm ring whose accounts also use carrier NAT,
 * stock fingerprints and popular VPN exits, and log in like people. */
static void camouflage(ring *g, uint32_t size) {
    sim_world *w = g->w;
    const rw_sim_params *p = g->p;
    rw_rng *r = g->r;
    int dc = sim_chance(r, p->cf_dc_p);
    uint32_t days = sim_range(r, p->cf_days_min, p->cf_days_max), first, t;
    if (days > w->days) days = w->days;
    first = (uint32_t)rw_rng_below(r, w->days - days + 1);
    uint32_t p24 = dc ? sim_fresh24(w, r, SIM_SP_DC) : 0, nip = sim_range(r, p->cf_ips_min, p->cf_ips_max);
    uint32_t ndev = sim_range(r, p->cf_devices_min, p->cf_devices_max), ncard = 1 + size / p->cf_accounts_per_card;
    uint32_t dev[SIM_MAXSET], card[MAXPOOL];
    uint64_t ip[SIM_MAXSET] = {0};
    for (uint32_t i = 0; i < nip; i++) ip[i] = dc ? sim_host(r, p24) : 0;
    new_devices(w, dev, ndev);
    if (ncard > MAXPOOL) ncard = MAXPOOL;
    new_cards(w, card, ncard);
    for (uint32_t i = 0; i < size && !w->nomem; i++) {
        uint32_t a = ring_account(g), ts = sim_time_in_day(w, r, first + (uint32_t)rw_rng_below(r, days), 1);
        double u = rw_rng_unit(r);
        uint64_t sip = u < p->cf_own_p                   ? (dc ? PICK(r, ip, nip) : proxy_ip(w, r))
                       : u < p->cf_own_p + p->cf_cgnat_p ? sim_pool_pick(&w->cgnat, r)
                                                         : sim_pool_pick(&w->vpn, r);
        u = rw_rng_unit(r);
        uint32_t dv = u < 0.6 ? PICK(r, dev, ndev) : u < 0.95 ? (uint32_t)sim_pool_pick(&w->stock, r) : 0;
        uint32_t pay = sim_chance(r, 0.15) ? PICK(r, card, ncard) : 0;
        ring_emit(g, a, RW_EV_SIGNUP, ts, some_ip(r, sip, 0.995), dv, pay);
        /* Looks like a phone user's carrier: NAT egress, or a mobile IPv6 /64. */
        uint64_t own_cg = sim_chance(r, 0.25) ? sim_v6(r) : sim_pool_pick(&w->cgnat, r);
        uint32_t n = sim_chance(r, 0.75) ? sim_range(r, 1, 4) : 0;
        for (uint32_t k = 0; k < n && sim_time_after(w, r, ts, 1, &t); k++) {
            u = rw_rng_unit(r);
            uint64_t lip = u < 0.4   ? (dc ? PICK(r, ip, nip) : proxy_ip(w, r))
                           : u < 0.8 ? (sim_chance(r, 0.7) ? own_cg : sim_pool_pick(&w->cgnat, r))
                                     : sim_pool_pick(&w->vpn, r);
            uint32_t ldv = sim_chance(r, 0.6) ? (dv ? dv : PICK(r, dev, ndev)) : (uint32_t)sim_pool_pick(&w->stock, r);
            ring_emit(g, a, RW_EV_LOGIN, t, sim_chance(r, 0.99) ? lip : 0, ldv, 0);
        }
        if (pay && sim_time_after(w, r, ts, 1, &t)) ring_emit(g, a, RW_EV_PAYMENT, t, sip, dv, pay);
    }
}

static void (*const tactic_fn[SIM_TACTICS])(ring *, uint32_t) = {
    datacenter_bulk, residential_proxy, stolen_cards, slow_drip, camouflage,
};

/* The tactic of a ring after the first ones: weights in sim_cat order from
 * SIM_FIRST_RING, normalised unless they already sum to one. */
static int draw_tactic(rw_rng *plan, const double *wt) {
    double sum = 0;
    for (int i = 0; i < SIM_TACTICS; i++) sum += wt[i];
    double x = rw_rng_unit(plan);
    if (fabs(sum - 1.0) > 1e-9) x *= sum;
    int tac = 0;
    while (tac < SIM_TACTICS - 1 && x >= wt[tac]) x -= wt[tac++];
    while (tac > 0 && wt[tac] <= 0) tac--; /* rounding ran past the last weighted tactic */
    return tac;
}

/* The size of ring k, leaving room for the min-sized rings still owed to
 * the tactics not yet covered and folding a tail below min into the ring. */
static uint64_t ring_size(const sim_world *w, rw_rng *plan, uint32_t k, uint32_t ncover, int tac, uint64_t left) {
    const rw_sim_params *p = &w->p;
    uint64_t min = p->ring_size_min;
    uint64_t size = sim_powerlaw(plan, p->ring_size_min, p->ring_size_max, p->ring_size_alpha);
    uint64_t drip_max = (uint64_t)p->drip_per_day * w->days; /* a few a day */
    if (drip_max < min) drip_max = min;
    if (tac == SIM_SLOW_DRIP - SIM_FIRST_RING && size > drip_max) size = drip_max;
    uint64_t reserve = k + 1 < ncover ? (uint64_t)(ncover - 1 - k) * min : 0;
    uint64_t cap = left > reserve + min ? left - reserve : left;
    if (size > cap) size = cap;
    if (left - size < min) size = left;
    return size;
}

void sim_rings(sim_world *w, uint64_t n) {
    const rw_sim_params *p = &w->p;
    const double wt[SIM_TACTICS] = {p->tactic_datacenter_bulk, p->tactic_residential_proxy, p->tactic_stolen_cards,
                                    p->tactic_slow_drip, p->tactic_camouflage};
    rw_rng plan;
    sim_rng(&plan, w, SIM_S_RING_PLAN, 0);
    /* The first rings cover every tactic with a weight once, in a random order. */
    int order[SIM_TACTICS];
    for (int i = 0; i < SIM_TACTICS; i++) order[i] = i;
    for (int i = SIM_TACTICS - 1; i > 0; i--) {
        int j = (int)rw_rng_below(&plan, (uint64_t)i + 1), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    uint32_t ncover = 0;
    for (int i = 0; i < SIM_TACTICS; i++)
        if (wt[order[i]] > 0) order[ncover++] = order[i];
    uint64_t left = n;
    for (uint32_t k = 0; left > 0 && !w->nomem; k++) {
        int tac = k < ncover ? order[k] : draw_tactic(&plan, wt);
        uint64_t size = ring_size(w, &plan, k, ncover, tac, left);
        rw_rng rr, cr;
        sim_rng(&rr, w, SIM_S_RING, k);
        ring g = {.w = w, .p = p, .r = &rr, .id = k + 1, .cat = (sim_cat)(SIM_FIRST_RING + tac)};
        if (p->camo_share_max > 0) {
            sim_rng(&cr, w, SIM_S_CAMO, k);
            g.camo_r = &cr;
            g.camo = p->camo_share_min + (p->camo_share_max - p->camo_share_min) * rw_rng_unit(&cr);
        }
        tactic_fn[tac](&g, (uint32_t)size);
        w->rings = k + 1;
        left -= size;
    }
}
