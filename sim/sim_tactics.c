/* Fraud rings of the simulated world: ring sizes from a heavy-tailed law and
 * five tactics (datacenter_bulk, residential_proxy, stolen_cards, slow_drip,
 * camouflage), each with its own random stream. */
#include <math.h>

#include "sim_int.h"

typedef struct {
    sim_world *w;
    rw_rng *r;
    uint32_t id; /* "r<id>" in the truth table */
    sim_cat cat;
} ring;

#define MAXPOOL 32

static uint32_t ring_account(ring *g) {
    return sim_new_account(g->w, g->cat, g->id);
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
    if (w->nhome && sim_chance(r, 0.3)) return w->home[rw_rng_below(r, w->nhome)];
    return sim_res_ip(w, r);
}

/* Many accounts within minutes to hours from a few hosting addresses in one
 * or two /24s, a handful of emulator or headless fingerprints, few cards. */
static void datacenter_bulk(ring *g, uint32_t size) {
    sim_world *w = g->w;
    rw_rng *r = g->r;
    double d = 5400.0 * sim_lognormal(r, 0.9);
    uint32_t dur = d < 600 ? 600 : d > 6 * SIM_HOUR ? 6 * SIM_HOUR : (uint32_t)d;
    uint32_t start = burst_start(g, dur), t;
    uint32_t p24[2] = {sim_fresh24(w, r, SIM_SP_DC), 0}, n24 = 1;
    if (sim_chance(r, 0.3)) p24[n24++] = sim_fresh24(w, r, SIM_SP_DC);
    uint32_t nip = sim_range(r, 2, 8), ndev = sim_range(r, 2, 10), ncard = 1 + size / 40;
    uint64_t ip[8] = {0};
    uint32_t dev[10], card[MAXPOOL];
    for (uint32_t i = 0; i < nip; i++) ip[i] = sim_host(r, p24[i % n24]);
    new_devices(w, dev, ndev);
    if (ncard > MAXPOOL) ncard = MAXPOOL;
    new_cards(w, card, ncard);
    for (uint32_t i = 0; i < size && !w->nomem; i++) {
        uint32_t a = ring_account(g), ts = start + (uint32_t)rw_rng_below(r, dur);
        uint32_t dv = sim_chance(r, 0.9) ? PICK(r, dev, ndev) : 0;
        uint32_t pay = sim_chance(r, 0.05) ? PICK(r, card, ncard) : 0;
        sim_emit(w, a, RW_EV_SIGNUP, ts, some_ip(r, PICK(r, ip, nip), 0.995), dv, pay);
        uint32_t n = sim_chance(r, 0.35) ? sim_range(r, 1, 3) : 0;
        for (uint32_t k = 0; k < n && sim_time_after(w, r, ts, 0, &t); k++) {
            uint64_t lip = sim_chance(r, 0.8) ? PICK(r, ip, nip) : sim_host(r, p24[rw_rng_below(r, n24)]);
            sim_emit(w, a, RW_EV_LOGIN, t, lip, dv ? dv : PICK(r, dev, ndev), 0);
        }
        if (pay && sim_time_after(w, r, ts, 0, &t)) sim_emit(w, a, RW_EV_PAYMENT, t, PICK(r, ip, nip), dv, pay);
    }
}

/* Each account behind a different residential proxy exit, all driven from an
 * emulator farm of 5-30 fingerprints; spread over a day or two. */
static void residential_proxy(ring *g, uint32_t size) {
    sim_world *w = g->w;
    rw_rng *r = g->r;
    uint32_t dur = sim_range(r, 12 * SIM_HOUR, 48 * SIM_HOUR), start = burst_start(g, dur), t;
    uint32_t ndev = sim_range(r, 5, 30), dev[30];
    new_devices(w, dev, ndev);
    for (uint32_t i = 0; i < size && !w->nomem; i++) {
        uint32_t a = ring_account(g), ts = start + (uint32_t)rw_rng_below(r, dur);
        uint32_t dv = sim_chance(r, 0.95) ? PICK(r, dev, ndev) : 0;
        uint32_t pay = sim_chance(r, 0.12) ? sim_new_card(w) : 0;
        sim_emit(w, a, RW_EV_SIGNUP, ts, some_ip(r, proxy_ip(w, r), 0.995), dv, pay);
        uint32_t n = sim_chance(r, 0.5) ? sim_range(r, 1, 3) : 0;
        for (uint32_t k = 0; k < n && sim_time_after(w, r, ts, 0, &t); k++) {
            uint32_t ldv = dv && sim_chance(r, 0.7) ? dv : PICK(r, dev, ndev);
            sim_emit(w, a, RW_EV_LOGIN, t, proxy_ip(w, r), ldv, 0);
        }
        uint32_t np = pay ? sim_range(r, 1, 2) : 0;
        for (uint32_t k = 0; k < np && sim_time_after(w, r, ts, 0, &t); k++) {
            uint64_t pip = proxy_ip(w, r);
            sim_emit(w, a, RW_EV_PAYMENT, t, pip, dv ? dv : PICK(r, dev, ndev), pay);
        }
    }
}

/* Fresh devices per account from one or a few /24s, cashing out a small set
 * of stolen cards (each used by 3-15 accounts) soon after signup. */
static void stolen_cards(ring *g, uint32_t size) {
    sim_world *w = g->w;
    rw_rng *r = g->r;
    uint32_t dur = sim_range(r, 6 * SIM_HOUR, 72 * SIM_HOUR), start = burst_start(g, dur), t;
    double u = rw_rng_unit(r);
    sim_space sp = u < 0.5 ? SIM_SP_RES : u < 0.8 ? SIM_SP_DC : SIM_SP_BIZ;
    uint32_t n24 = sim_chance(r, 0.6) ? 1 : sim_range(r, 2, 3), p24[3];
    /* A residential /24 is one where real households live too. */
    for (uint32_t i = 0; i < n24; i++)
        p24[i] = sp == SIM_SP_RES ? w->res24[rw_rng_below(r, w->nres24)] : sim_fresh24(w, r, sp);
    uint32_t card = 0, uses_left = 0;
    for (uint32_t i = 0; i < size && !w->nomem; i++) {
        if (!uses_left) {
            card = sim_new_card(w);
            uses_left = sim_range(r, 3, 15);
        }
        uses_left--;
        uint32_t a = ring_account(g), ts = start + (uint32_t)rw_rng_below(r, dur);
        uint32_t dv = sim_chance(r, 0.95) ? sim_new_device(w) : 0;
        uint32_t p = p24[rw_rng_below(r, n24)];
        uint64_t sip = some_ip(r, sim_host(r, p), 0.995);
        sim_emit(w, a, RW_EV_SIGNUP, ts, sip, dv, sim_chance(r, 0.6) ? card : 0);
        uint32_t np = sim_range(r, 1, 3); /* cash-out within hours */
        for (uint32_t k = 0; k < np; k++) {
            uint64_t pt = (uint64_t)ts + sim_range(r, 120, 6 * SIM_HOUR);
            if (pt >= w->span) break;
            sim_emit(w, a, RW_EV_PAYMENT, (uint32_t)pt, sim_host(r, p), dv, card);
        }
        uint32_t n = sim_chance(r, 0.3) ? sim_range(r, 1, 2) : 0;
        for (uint32_t k = 0; k < n && sim_time_after(w, r, ts, 0, &t); k++)
            sim_emit(w, a, RW_EV_LOGIN, t, sim_host(r, p24[rw_rng_below(r, n24)]), dv, 0);
    }
}

/* A few accounts a day over the whole month behind popular VPN exits, tied
 * together only by a small set of reused devices or cards. */
static void slow_drip(ring *g, uint32_t size) {
    sim_world *w = g->w;
    rw_rng *r = g->r;
    uint32_t first = (uint32_t)rw_rng_below(r, w->days < 3 ? 1 : 3), t;
    double u = rw_rng_unit(r);
    int use_dev = u < 0.5 || u >= 0.8, use_card = u >= 0.5;
    uint32_t ndev = sim_range(r, 2, 6), ncard = sim_range(r, 2, 5), dev[6], card[5];
    new_devices(w, dev, ndev);
    new_cards(w, card, ncard);
    for (uint32_t i = 0; i < size && !w->nomem; i++) {
        uint32_t a = ring_account(g);
        uint32_t ts = sim_time_in_day(w, r, sim_range(r, first, w->days - 1), 1);
        uint32_t dv = 0, pay = 0;
        if (sim_chance(r, 0.92)) {
            if (use_dev && sim_chance(r, 0.5))
                dv = PICK(r, dev, ndev);
            else
                dv = sim_chance(r, 0.2) ? (uint32_t)sim_pool_pick(&w->stock, r) : sim_new_device(w);
        }
        if (use_card ? sim_chance(r, 0.4) : sim_chance(r, 0.1)) pay = use_card ? PICK(r, card, ncard) : sim_new_card(w);
        uint64_t exit_ip = sim_pool_pick(&w->vpn, r);
        uint64_t sip = some_ip(r, exit_ip, 0.995);
        sim_emit(w, a, RW_EV_SIGNUP, ts, sip, dv, sim_chance(r, 0.5) ? pay : 0);
        uint32_t n = sim_chance(r, 0.55) ? sim_range(r, 1, 3) : 0;
        for (uint32_t k = 0; k < n && sim_time_after(w, r, ts, 1, &t); k++) {
            uint64_t lip = sim_chance(r, 0.6) ? exit_ip : sim_pool_pick(&w->vpn, r);
            sim_emit(w, a, RW_EV_LOGIN, t, lip, dv, 0);
        }
        uint32_t np = pay ? sim_range(r, 1, 2) : 0;
        for (uint32_t k = 0; k < np && sim_time_after(w, r, ts, 1, &t); k++)
            sim_emit(w, a, RW_EV_PAYMENT, t, sim_chance(r, 0.6) ? exit_ip : sim_pool_pick(&w->vpn, r), dv, pay);
    }
}

/* A datacenter or emulator-farm ring whose accounts also use carrier NAT,
 * stock fingerprints and popular VPN exits, and log in like people. */
static void camouflage(ring *g, uint32_t size) {
    sim_world *w = g->w;
    rw_rng *r = g->r;
    int dc = sim_chance(r, 0.5);
    uint32_t days = sim_range(r, 1, 4), first, t;
    if (days > w->days) days = w->days;
    first = (uint32_t)rw_rng_below(r, w->days - days + 1);
    uint32_t p24 = dc ? sim_fresh24(w, r, SIM_SP_DC) : 0, nip = sim_range(r, 2, 6);
    uint32_t ndev = sim_range(r, 5, 20), ncard = 1 + size / 30, dev[20], card[MAXPOOL];
    uint64_t ip[6] = {0};
    for (uint32_t i = 0; i < nip; i++) ip[i] = dc ? sim_host(r, p24) : 0;
    new_devices(w, dev, ndev);
    if (ncard > MAXPOOL) ncard = MAXPOOL;
    new_cards(w, card, ncard);
    for (uint32_t i = 0; i < size && !w->nomem; i++) {
        uint32_t a = ring_account(g), ts = sim_time_in_day(w, r, first + (uint32_t)rw_rng_below(r, days), 1);
        double u = rw_rng_unit(r);
        uint64_t sip = u < 0.55   ? (dc ? PICK(r, ip, nip) : proxy_ip(w, r))
                       : u < 0.85 ? sim_pool_pick(&w->cgnat, r)
                                  : sim_pool_pick(&w->vpn, r);
        u = rw_rng_unit(r);
        uint32_t dv = u < 0.6 ? PICK(r, dev, ndev) : u < 0.95 ? (uint32_t)sim_pool_pick(&w->stock, r) : 0;
        uint32_t pay = sim_chance(r, 0.15) ? PICK(r, card, ncard) : 0;
        sim_emit(w, a, RW_EV_SIGNUP, ts, some_ip(r, sip, 0.995), dv, pay);
        /* Looks like a phone user's carrier: NAT egress, or a mobile IPv6 /64. */
        uint64_t own_cg = sim_chance(r, 0.25) ? sim_v6(r) : sim_pool_pick(&w->cgnat, r);
        uint32_t n = sim_chance(r, 0.75) ? sim_range(r, 1, 4) : 0;
        for (uint32_t k = 0; k < n && sim_time_after(w, r, ts, 1, &t); k++) {
            u = rw_rng_unit(r);
            uint64_t lip = u < 0.4   ? (dc ? PICK(r, ip, nip) : proxy_ip(w, r))
                           : u < 0.8 ? (sim_chance(r, 0.7) ? own_cg : sim_pool_pick(&w->cgnat, r))
                                     : sim_pool_pick(&w->vpn, r);
            uint32_t ldv = sim_chance(r, 0.6) ? (dv ? dv : PICK(r, dev, ndev)) : (uint32_t)sim_pool_pick(&w->stock, r);
            sim_emit(w, a, RW_EV_LOGIN, t, sim_chance(r, 0.99) ? lip : 0, ldv, 0);
        }
        if (pay && sim_time_after(w, r, ts, 1, &t)) sim_emit(w, a, RW_EV_PAYMENT, t, sip, dv, pay);
    }
}

static void (*const tactic_fn[SIM_TACTICS])(ring *, uint32_t) = {
    datacenter_bulk, residential_proxy, stolen_cards, slow_drip, camouflage,
};

/* Share of rings per tactic (in sim_cat order from SIM_FIRST_RING). */
static const double tactic_weight[SIM_TACTICS] = {0.25, 0.20, 0.20, 0.15, 0.20};

void sim_rings(sim_world *w, uint64_t n) {
    rw_rng plan;
    sim_rng(&plan, w, SIM_S_RING_PLAN, 0);
    /* The first rings cover every tactic once, in a random order. */
    int order[SIM_TACTICS];
    for (int i = 0; i < SIM_TACTICS; i++) order[i] = i;
    for (int i = SIM_TACTICS - 1; i > 0; i--) {
        int j = (int)rw_rng_below(&plan, (uint64_t)i + 1), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    uint64_t left = n;
    for (uint32_t k = 0; left > 0 && !w->nomem; k++) {
        int tac = 0;
        if (k < SIM_TACTICS) {
            tac = order[k];
        } else {
            double x = rw_rng_unit(&plan);
            while (tac < SIM_TACTICS - 1 && x >= tactic_weight[tac]) x -= tactic_weight[tac++];
        }
        uint64_t size = sim_powerlaw(&plan, 8, 400, 1.3);
        uint64_t drip_max = 5 * (uint64_t)w->days < 8 ? 8 : 5 * (uint64_t)w->days; /* a few a day */
        if (tac == SIM_SLOW_DRIP - SIM_FIRST_RING && size > drip_max) size = drip_max;
        /* Keep room for the tactics not yet drawn, and fold a tiny tail in. */
        uint64_t reserve = k < SIM_TACTICS - 1 ? (uint64_t)(SIM_TACTICS - 1 - k) * 8 : 0;
        uint64_t cap = left > reserve + 8 ? left - reserve : left;
        if (size > cap) size = cap;
        if (left - size < 8) size = left;

        rw_rng rr;
        sim_rng(&rr, w, SIM_S_RING, k);
        ring g = {.w = w, .r = &rr, .id = k + 1, .cat = (sim_cat)(SIM_FIRST_RING + tac)};
        tactic_fn[tac](&g, (uint32_t)size);
        w->rings = k + 1;
        left -= size;
    }
}
