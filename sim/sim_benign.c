/* Benign accounts of the simulated world: households (home broadband, carrier
 * NAT, VPN users, work networks, stock fingerprints, family tablets and
 * cards), and the hard negatives: offices and campuses onboarding in a burst
 * from one NAT address. */
#include <math.h>
#include <string.h>

#include "sim_int.h"

typedef struct {
    uint64_t home, home2; /* home2 replaces home from home_change on (a new lease) */
    uint32_t home_change;
    uint32_t tablet, family_card;
} household;

typedef struct {
    uint32_t phone, laptop, card;
    uint64_t cg[2], vpn[3], work, v6;
    int ncg, nvpn;
} person;

/* Where a session comes from. */
enum { CTX_HOME, CTX_MOBILE, CTX_WORK, CTX_VPN, CTX_COUNT };

/* How a signup looks when it is fixed by the caller (offices, campuses). */
typedef struct {
    uint32_t ts;
    int fixed; /* 0: choose ip, device and card like any other session */
    uint64_t ip;
    uint32_t dev, pay;
} signup_spec;

static int work_hours(const sim_world *w, uint32_t ts) {
    uint32_t h = ts % SIM_DAY / SIM_HOUR;
    return h >= 8 && h < 18 && sim_weekday(w, ts / SIM_DAY);
}

static int pick_ctx(const sim_world *w, rw_rng *r, const household *h, const person *p, uint32_t ts) {
    double wt[CTX_COUNT] = {
        [CTX_HOME] = h->home ? 1.0 : 0.0,
        [CTX_MOBILE] = h->home ? 0.6 : 1.5,
        [CTX_WORK] = p->work ? (work_hours(w, ts) ? 1.4 : 0.05) : 0.0,
        [CTX_VPN] = p->nvpn ? 1.6 : 0.0,
    };
    double x = rw_rng_unit(r) * (wt[0] + wt[1] + wt[2] + wt[3]);
    for (int c = 0; c < CTX_COUNT - 1; c++) {
        if (x < wt[c]) return c;
        x -= wt[c];
    }
    return wt[CTX_VPN] > 0 ? CTX_VPN : CTX_MOBILE;
}

static uint64_t ctx_ip(const sim_world *w, rw_rng *r, const household *h, const person *p, int ctx, uint32_t ts) {
    switch (ctx) {
        case CTX_HOME:
            return h->home2 && ts >= h->home_change ? h->home2 : h->home;
        case CTX_WORK:
            return p->work;
        case CTX_VPN:
            if (sim_chance(r, 0.85)) return p->vpn[rw_rng_below(r, (uint64_t)p->nvpn)];
            return sim_pool_pick(&w->vpn, r);
        default: /* mobile: the phone's own IPv6 /64, or a carrier NAT egress */
            if (p->v6 && sim_chance(r, 0.85)) return p->v6;
            if (p->ncg && sim_chance(r, 0.8)) return p->cg[rw_rng_below(r, (uint64_t)p->ncg)];
            return sim_pool_pick(&w->cgnat, r);
    }
}

static uint32_t ctx_dev(rw_rng *r, const household *h, const person *p, int ctx) {
    double u = rw_rng_unit(r);
    uint32_t d;
    switch (ctx) {
        case CTX_MOBILE:
            d = p->phone;
            break;
        case CTX_HOME:
            d = u < 0.5 ? p->phone : u < 0.8 ? p->laptop : h->tablet;
            break;
        case CTX_WORK:
            d = u < 0.65 ? p->laptop : p->phone;
            break;
        default:
            d = u < 0.5 ? p->laptop : p->phone;
            break;
    }
    if (!d) d = p->phone ? p->phone : p->laptop ? p->laptop : h->tablet;
    return d;
}

static void person_init(sim_world *w, rw_rng *r, household *h, person *p, double stock_p) {
    memset(p, 0, sizeof *p);
    if (sim_chance(r, 0.96))
        p->phone = sim_chance(r, stock_p) ? (uint32_t)sim_pool_pick(&w->stock, r) : sim_new_device(w);
    if (sim_chance(r, 0.45)) p->laptop = sim_new_device(w);
    p->ncg = 1 + sim_chance(r, 0.5);
    for (int i = 0; i < p->ncg; i++) p->cg[i] = sim_pool_pick(&w->cgnat, r);
    if (sim_chance(r, 0.33)) p->v6 = sim_v6(r);
    if (sim_chance(r, 0.4)) p->work = sim_pool_pick(&w->work, r);
    if (sim_chance(r, w->p.vpn_p)) {
        p->nvpn = (int)sim_range(r, 1, 3);
        for (int i = 0; i < p->nvpn; i++) p->vpn[i] = sim_pool_pick(&w->vpn, r);
    }
    if (sim_chance(r, 0.34)) {
        /* A family card now and then; otherwise everyone has their own. */
        p->card = h->family_card && sim_chance(r, 0.05) ? h->family_card : sim_new_card(w);
        if (!h->family_card) h->family_card = p->card;
    }
}

static sim_cat person_cat(const household *h, const person *p) {
    if (p->nvpn) return SIM_VPN_USER;
    return h->home ? SIM_HOUSEHOLD : SIM_NAT;
}

/* One account of a person: its signup, then a month of logins and payments. */
static void person_account(sim_world *w, rw_rng *r, const household *h, const person *p, sim_cat cat,
                           const signup_spec *s) {
    uint32_t a = sim_new_account(w, cat, 0), ts = s->ts, t;
    uint64_t ip = s->ip;
    uint32_t dev = s->dev, pay = s->pay;
    if (!s->fixed) {
        int ctx = pick_ctx(w, r, h, p, ts);
        ip = sim_chance(r, 0.995) ? ctx_ip(w, r, h, p, ctx, ts) : 0;
        dev = sim_chance(r, 0.92) ? ctx_dev(r, h, p, ctx) : 0;
        pay = p->card && sim_chance(r, 0.45) ? p->card : 0;
    }
    sim_emit(w, a, RW_EV_SIGNUP, ts, ip, dev, pay);

    /* A fifth never come back; the rest return a few times. Late signups
     * have less of the month left. */
    double left = (double)(w->span - ts) / w->span;
    uint32_t n = sim_chance(r, 0.22) ? 0 : 1 + sim_geometric(r, 1.6);
    n = sim_round(r, n * (0.3 + 0.7 * left));
    for (uint32_t i = 0; i < n && sim_time_after(w, r, ts, 1, &t); i++) {
        int ctx = pick_ctx(w, r, h, p, t);
        uint64_t lip = sim_chance(r, 0.99) ? ctx_ip(w, r, h, p, ctx, t) : 0;
        uint32_t ldev = sim_chance(r, 0.96) ? ctx_dev(r, h, p, ctx) : 0;
        sim_emit(w, a, RW_EV_LOGIN, t, lip, ldev, 0);
    }
    if (!p->card) return;
    double u = rw_rng_unit(r);
    uint32_t k = u < 0.25 ? 0 : u < 0.65 ? 1 : u < 0.85 ? 2 : 3;
    for (uint32_t i = 0; i < k && sim_time_after(w, r, ts, 1, &t); i++) {
        int ctx = pick_ctx(w, r, h, p, t);
        uint64_t pip = ctx_ip(w, r, h, p, ctx, t);
        sim_emit(w, a, RW_EV_PAYMENT, t, pip, ctx_dev(r, h, p, ctx), p->card);
    }
}

static void home_init(sim_world *w, rw_rng *r, household *h) {
    h->home = sim_res_ip(w, r);
    sim_add_home(w, h->home);
    if (sim_chance(r, 0.15)) { /* the ISP hands out a new lease mid-month */
        h->home_change = (uint32_t)rw_rng_below(r, w->span);
        h->home2 = sim_chance(r, 0.6) ? sim_host(r, (uint32_t)(h->home >> 8)) : sim_res_ip(w, r);
        sim_add_home(w, h->home2);
    }
}

static uint32_t household_size(rw_rng *r) {
    double u = rw_rng_unit(r);
    return u < 0.30 ? 1 : u < 0.61 ? 2 : u < 0.77 ? 3 : u < 0.91 ? 4 : 5;
}

static void households(sim_world *w, uint64_t n) {
    rw_rng r;
    sim_rng(&r, w, SIM_S_HOUSEHOLDS, 0);
    for (uint64_t made = 0; made < n && !w->nomem;) {
        uint32_t size = household_size(&r), t0 = 0;
        if (w->p.big_family_p > 0 && sim_chance(&r, w->p.big_family_p)) size = sim_range(&r, 6, w->p.big_family_max);
        if (size > n - made) size = (uint32_t)(n - made);
        household h = {0};
        if (!sim_chance(&r, size == 1 ? w->p.nat_single_p : w->p.nat_family_p))
            home_init(w, &r, &h); /* else mobile only */
        if (sim_chance(&r, size >= 2 ? 0.35 : 0.08))
            h.tablet = sim_chance(&r, 0.25) ? (uint32_t)sim_pool_pick(&w->stock, &r) : sim_new_device(w);
        person ps[SIM_MAX_FAMILY];
        sim_cat cats[SIM_MAX_FAMILY];
        for (uint32_t j = 0; j < size; j++) {
            signup_spec s = {0};
            if (j > 0 && sim_chance(&r, 0.012)) {
                /* A second account of the first member: same phone, same home. */
                ps[j] = ps[0];
                cats[j] = cats[0];
                if (!sim_time_after(w, &r, t0, 1, &s.ts)) s.ts = sim_time_signup(w, &r);
            } else {
                person_init(w, &r, &h, &ps[j], w->p.stock_p);
                cats[j] = person_cat(&h, &ps[j]);
                s.ts = sim_time_signup(w, &r);
                if (j > 0 && sim_chance(&r, 0.5)) { /* invited by the first member */
                    double gap = -log(1.0 - rw_rng_unit(&r)) * 2.0 * SIM_DAY;
                    if ((double)t0 + 60 + gap < (double)w->span) s.ts = t0 + 60 + (uint32_t)gap;
                }
            }
            if (j == 0) t0 = s.ts;
            person_account(w, &r, &h, &ps[j], cats[j], &s);
        }
        made += size;
    }
}

/* An office (20-150 people by default) or campus (100-600) onboarding within hours from
 * one NAT address (sometimes two); afterwards ordinary users. */
static void organisation(sim_world *w, rw_rng *r, uint32_t size, int campus) {
    sim_space sp = campus ? SIM_SP_CAMPUS : SIM_SP_BIZ;
    uint32_t p24 = sim_fresh24(w, r, sp);
    uint64_t nat1 = sim_host(r, p24), nat2 = 0;
    if (sim_chance(r, campus ? 0.5 : 0.35))
        nat2 = sim_chance(r, 0.6) ? sim_host(r, p24) : sim_host(r, sim_fresh24(w, r, sp));

    const rw_sim_params *pp = &w->p;
    uint32_t day, start, dur;
    if (campus) { /* orientation day, early in the month */
        uint32_t window = pp->campus_window_days;
        day = (uint32_t)rw_rng_below(r, w->days < window ? w->days : window);
        start = day * SIM_DAY + sim_range(r, 8, 12) * SIM_HOUR;
        dur = sim_range(r, pp->campus_hours_min * SIM_HOUR, pp->campus_hours_max * SIM_HOUR);
    } else { /* a weekday morning or early afternoon */
        day = (uint32_t)rw_rng_below(r, w->days);
        for (int i = 0; i < 20 && !sim_weekday(w, day); i++) day = (uint32_t)rw_rng_below(r, w->days);
        start = day * SIM_DAY + sim_range(r, 9, 14) * SIM_HOUR + (uint32_t)rw_rng_below(r, SIM_HOUR);
        dur = sim_range(r, pp->office_hours_min * SIM_HOUR, pp->office_hours_max * SIM_HOUR);
    }
    if (dur > w->span - 2) dur = w->span - 2; /* an onboarding longer than the world */
    if (start + dur >= w->span) start = w->span - dur - 1;

    /* Some offices put the first accounts on one company card. */
    uint32_t company = 0, admins = 0;
    if (!campus && sim_chance(r, 0.3)) {
        company = sim_new_card(w);
        admins = sim_range(r, 3, 8);
    }
    for (uint32_t j = 0; j < size && !w->nomem; j++) {
        household h = {0};
        if (campus && sim_chance(r, pp->campus_dorm_p))
            h.home = nat2 && sim_chance(r, 0.3) ? nat2 : nat1; /* dorm network */
        else if (!sim_chance(r, 0.1))
            home_init(w, r, &h);
        person p;
        person_init(w, r, &h, &p, campus ? pp->campus_stock_p : pp->stock_p);
        if (!campus && !p.laptop && sim_chance(r, 0.85)) p.laptop = sim_new_device(w); /* the work laptop */
        p.work = nat1;
        if (j < admins) p.card = company;

        signup_spec s = {.fixed = 1};
        s.ts = start + (uint32_t)rw_rng_below(r, dur);
        s.ip = nat2 && sim_chance(r, 0.2) ? nat2 : nat1;
        if (sim_chance(r, 0.93)) {
            int laptop_first = sim_chance(r, campus ? 0.5 : 0.7);
            s.dev = laptop_first && p.laptop ? p.laptop : p.phone ? p.phone : p.laptop;
        }
        s.pay = p.card && sim_chance(r, j < admins ? 0.8 : 0.3) ? p.card : 0;
        person_account(w, r, &h, &p, campus ? SIM_CAMPUS : SIM_OFFICE, &s);
    }
}

/* Organisations of one kind with sizes from a power law, up to budget
 * accounts; returns the number made. */
static uint64_t organisations(sim_world *w, uint64_t budget, int campus) {
    rw_rng r;
    const rw_sim_params *p = &w->p;
    double lo = campus ? p->campus_size_min : p->office_size_min, hi = campus ? p->campus_size_max : p->office_size_max;
    uint64_t made = 0;
    sim_rng(&r, w, campus ? SIM_S_CAMPUSES : SIM_S_OFFICES, 0);
    while (budget - made >= (uint64_t)lo && !w->nomem) {
        uint64_t size = sim_powerlaw(&r, lo, hi, p->org_size_alpha);
        if (size > budget - made) size = budget - made;
        organisation(w, &r, (uint32_t)size, campus);
        made += size;
    }
    return made;
}

void sim_benign(sim_world *w, uint64_t n) {
    uint64_t offices = llround(w->p.office_share * (double)w->accounts);
    uint64_t campuses = llround(w->p.campus_share * (double)w->accounts);
    if (offices > n) offices = n;
    uint64_t made = organisations(w, offices, 0);
    if (campuses > n - made) campuses = n - made;
    made += organisations(w, campuses, 1);
    households(w, n - made);
}
