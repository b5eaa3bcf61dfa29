/* Plumbing of the simulated world: random helpers, the compact event and
 * account arrays, the IPv4 address plan, weighted pools (carrier NAT, VPN
 * exits, stock fingerprints, work networks) and time sampling. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

static const char *const cat_names[SIM_CAT_COUNT] = {
    [SIM_HOUSEHOLD] = "household",
    [SIM_NAT] = "nat",
    [SIM_VPN_USER] = "vpn_user",
    [SIM_OFFICE] = "office",
    [SIM_CAMPUS] = "campus",
    [SIM_DATACENTER_BULK] = "datacenter_bulk",
    [SIM_RESIDENTIAL_PROXY] = "residential_proxy",
    [SIM_STOLEN_CARDS] = "stolen_cards",
    [SIM_SLOW_DRIP] = "slow_drip",
    [SIM_CAMOUFLAGE] = "camouflage",
};

const char *sim_cat_name(sim_cat c) {
    return (unsigned)c < SIM_CAT_COUNT ? cat_names[c] : "";
}

/* ---- random helpers ------------------------------------------------------ */

uint64_t sim_mix64(uint64_t x) {
    /* splitmix64's finaliser: a bijection of 64-bit words. */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

void sim_rng(rw_rng *r, const sim_world *w, uint64_t tag, uint64_t idx) {
    uint64_t s = sim_mix64(tag * 0x9e3779b97f4a7c15ull ^ sim_mix64(idx + 0x632be59bd9b4e019ull));
    rw_rng_seed(r, sim_mix64(w->seed ^ s));
}

uint32_t sim_range(rw_rng *r, uint32_t lo, uint32_t hi) {
    if (hi <= lo) return lo;
    return lo + (uint32_t)rw_rng_below(r, (uint64_t)(hi - lo) + 1);
}

int sim_chance(rw_rng *r, double p) {
    return rw_rng_unit(r) < p;
}

double sim_lognormal(rw_rng *r, double sigma) {
    double u1 = 1.0 - rw_rng_unit(r), u2 = rw_rng_unit(r);
    double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    return exp(sigma * z);
}

uint32_t sim_powerlaw(rw_rng *r, double lo, double hi, double a) {
    double u = rw_rng_unit(r), x;
    if (fabs(a - 1.0) < 1e-9) {
        x = lo * pow(hi / lo, u);
    } else {
        double e = 1.0 - a, l = pow(lo, e), h = pow(hi, e);
        x = pow(l + u * (h - l), 1.0 / e);
    }
    if (x < lo) x = lo;
    if (x > hi) x = hi;
    return (uint32_t)x;
}

uint32_t sim_geometric(rw_rng *r, double mean) {
    if (mean <= 0) return 0;
    double q = mean / (1.0 + mean), u = 1.0 - rw_rng_unit(r);
    double k = floor(log(u) / log(q));
    return k > 1000 ? 1000 : (uint32_t)k;
}

uint32_t sim_round(rw_rng *r, double x) {
    if (x <= 0) return 0;
    double f = floor(x);
    return (uint32_t)f + (rw_rng_unit(r) < x - f);
}

/* ---- accounts and events --------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t elem, size_t want) {
    if (want <= *cap) return 1;
    size_t n = *cap ? *cap + *cap / 2 : 1024;
    if (n < want) n = want;
    void *q = realloc(*p, n * elem);
    if (!q) return 0;
    *p = q;
    *cap = n;
    return 1;
}

uint32_t sim_new_account(sim_world *w, sim_cat cat, uint32_t ring) {
    if (!grow((void **)&w->acct, &w->acctcap, sizeof *w->acct, w->nacct + 1)) {
        w->nomem = 1;
        return 0;
    }
    w->acct[w->nacct].ring = ring;
    w->acct[w->nacct].cat = (uint8_t)cat;
    if (ring) w->ring_accounts++;
    if (cat == SIM_OFFICE || cat == SIM_CAMPUS) w->hard_neg++;
    return (uint32_t)w->nacct++;
}

uint32_t sim_new_device(sim_world *w) {
    return ++w->next_dev;
}

uint32_t sim_new_card(sim_world *w) {
    return ++w->next_pay;
}

void sim_emit(sim_world *w, uint32_t acct, rw_event_type type, uint32_t ts, uint64_t ip, uint32_t dev, uint32_t pay) {
    if (w->nomem) return;
    if (!grow((void **)&w->ev, &w->evcap, sizeof *w->ev, w->nev + 1)) {
        w->nomem = 1;
        return;
    }
    sim_ev *e = &w->ev[w->nev++];
    e->ip = ip;
    e->ts = ts < w->span ? ts : w->span - 1;
    e->acct = acct;
    e->dev = dev;
    e->pay_type = pay << 2 | (uint32_t)type;
}

void sim_add_home(sim_world *w, uint64_t ip) {
    if (!grow((void **)&w->home, &w->homecap, sizeof *w->home, w->nhome + 1)) {
        w->nomem = 1;
        return;
    }
    w->home[w->nhome++] = ip;
}

/* ---- address plan ----------------------------------------------------------- */

/* First octets (and a range of second octets) of each kind of space. The
 * kinds never overlap and avoid private, shared (100.64/10), loopback,
 * link-local, documentation and multicast space. */
typedef struct {
    uint8_t a, lo, hi;
} block;

static const block sp_res[] = {
    {24, 0, 255},  {47, 0, 255},  {50, 0, 255},  {67, 0, 255},  {68, 0, 255},  {69, 0, 255},  {70, 0, 255},
    {71, 0, 255},  {72, 0, 255},  {73, 0, 255},  {75, 0, 255},  {76, 0, 255},  {81, 0, 255},  {82, 0, 255},
    {83, 0, 255},  {84, 0, 255},  {86, 0, 255},  {87, 0, 255},  {88, 0, 255},  {89, 0, 255},  {90, 0, 255},
    {91, 0, 255},  {92, 0, 255},  {93, 0, 255},  {94, 0, 255},  {95, 0, 255},  {97, 0, 255},  {98, 0, 255},
    {99, 0, 255},  {108, 0, 255}, {109, 0, 255}, {151, 0, 255}, {173, 0, 255}, {174, 0, 127}, {176, 0, 255},
    {177, 0, 255}, {178, 0, 255}, {179, 0, 255}, {186, 0, 255}, {187, 0, 255}, {189, 0, 255}, {201, 0, 255},
};
static const block sp_mobile[] = {
    {166, 0, 255}, {172, 32, 63}, {174, 192, 255}, {107, 64, 127}, {117, 0, 255}, {223, 0, 255}, {39, 0, 255},
};
static const block sp_dc[] = {
    {34, 0, 255},  {35, 0, 255},  {45, 0, 255},    {52, 0, 255},  {54, 0, 255},  {104, 0, 255}, {134, 0, 255},
    {138, 0, 255}, {139, 0, 255}, {142, 0, 255},   {143, 0, 255}, {146, 0, 255}, {149, 0, 255}, {154, 0, 255},
    {157, 0, 255}, {159, 0, 255}, {162, 0, 255},   {165, 0, 255}, {167, 0, 255}, {185, 0, 255}, {193, 0, 255},
    {194, 0, 255}, {195, 0, 255}, {198, 100, 255}, {206, 0, 255}, {209, 0, 255}, {212, 0, 255}, {217, 0, 255},
};
static const block sp_biz[] = {
    {12, 0, 255},  {63, 0, 255},  {64, 0, 255},  {65, 0, 255},  {66, 0, 255},  {96, 0, 255},
    {184, 0, 255}, {204, 0, 255}, {205, 0, 255}, {208, 0, 255}, {216, 0, 255},
};
static const block sp_campus[] = {
    {128, 0, 255}, {129, 0, 255}, {130, 0, 255}, {131, 0, 255}, {132, 0, 255}, {136, 0, 255},
    {140, 0, 255}, {141, 0, 255}, {144, 0, 255}, {147, 0, 255}, {152, 0, 255}, {156, 0, 255},
};

static const struct {
    const block *b;
    size_t n;
} spaces[SIM_SP_COUNT] = {
    [SIM_SP_RES] = {sp_res, sizeof sp_res / sizeof *sp_res},
    [SIM_SP_MOBILE] = {sp_mobile, sizeof sp_mobile / sizeof *sp_mobile},
    [SIM_SP_DC] = {sp_dc, sizeof sp_dc / sizeof *sp_dc},
    [SIM_SP_BIZ] = {sp_biz, sizeof sp_biz / sizeof *sp_biz},
    [SIM_SP_CAMPUS] = {sp_campus, sizeof sp_campus / sizeof *sp_campus},
};

/* Adds p to the set of used /24s: 1 when new, 0 when present, -1 on OOM. */
static int set24_add(sim_world *w, uint32_t p) {
    if ((w->set24_n + 1) * 2 > w->set24_cap) {
        size_t ncap = w->set24_cap ? w->set24_cap * 2 : 1u << 14;
        uint32_t *ns = calloc(ncap, sizeof *ns);
        if (!ns) {
            w->nomem = 1;
            return -1;
        }
        for (size_t i = 0; i < w->set24_cap; i++) {
            uint32_t v = w->set24[i];
            if (!v) continue;
            size_t j = (size_t)sim_mix64(v) & (ncap - 1);
            while (ns[j]) j = (j + 1) & (ncap - 1);
            ns[j] = v;
        }
        free(w->set24);
        w->set24 = ns;
        w->set24_cap = ncap;
    }
    uint32_t v = p + 1;
    size_t j = (size_t)sim_mix64(v) & (w->set24_cap - 1);
    while (w->set24[j]) {
        if (w->set24[j] == v) return 0;
        j = (j + 1) & (w->set24_cap - 1);
    }
    w->set24[j] = v;
    w->set24_n++;
    return 1;
}

uint32_t sim_fresh24(sim_world *w, rw_rng *r, sim_space s) {
    const block *b = spaces[s].b;
    size_t n = spaces[s].n, total = 0;
    for (size_t i = 0; i < n; i++) total += ((size_t)b[i].hi - b[i].lo + 1);
    uint32_t p = 0;
    for (int tries = 0; tries < 200; tries++) {
        size_t k = (size_t)rw_rng_below(r, total), i = 0;
        while (k >= ((size_t)b[i].hi - b[i].lo + 1)) {
            k -= ((size_t)b[i].hi - b[i].lo + 1);
            i++;
        }
        p = (uint32_t)b[i].a << 16 | (uint32_t)(b[i].lo + k) << 8 | (uint32_t)rw_rng_below(r, 256);
        if (set24_add(w, p) != 0) break; /* new, or out of memory (flagged) */
    }
    return p; /* after 200 collisions the space is nearly full: reuse */
}

uint64_t sim_host(rw_rng *r, uint32_t p24) {
    return (uint64_t)p24 << 8 | sim_range(r, 2, 254);
}

uint64_t sim_res_ip(const sim_world *w, rw_rng *r) {
    return sim_host(r, w->res24[rw_rng_below(r, w->nres24)]);
}

uint64_t sim_v6(rw_rng *r) {
    uint64_t carrier = rw_rng_below(r, SIM_V6_CARRIERS), region = rw_rng_below(r, 64);
    uint64_t sub = rw_rng_below(r, 65536), iid = rw_rng_below(r, 1u << 24);
    return 1ull << 63 | carrier << 56 | region << 40 | sub << 24 | iid;
}

/* Plausible mobile carrier /32s. */
static const uint16_t v6_carrier[SIM_V6_CARRIERS][2] = {
    {0x2600, 0x0380}, {0x2607, 0xfb90}, {0x2600, 0x1010}, {0x2a02, 0x0c7c}, {0x2a01, 0x0e0a},
};

void sim_v6_hextets(uint64_t code, uint64_t key, uint16_t h[8]) {
    unsigned c = (unsigned)(code >> 56 & 0x7f) % SIM_V6_CARRIERS;
    uint64_t region = code >> 40 & 0xffff, x = sim_mix64(code ^ key);
    h[0] = v6_carrier[c][0];
    h[1] = v6_carrier[c][1];
    h[2] = (uint16_t)sim_mix64(key + ((uint64_t)c << 16 | region)); /* the carrier's /48 of a region */
    h[3] = (uint16_t)(code >> 24);                                  /* the subscriber's /64 */
    for (int i = 0; i < 4; i++) h[4 + i] = (uint16_t)(x >> (16 * i));
}

/* ---- pools ---------------------------------------------------------------- */

static int pool_alloc(sim_pool *p, size_t n) {
    p->item = calloc(n, sizeof *p->item);
    p->cum = calloc(n, sizeof *p->cum);
    p->n = n;
    return p->item && p->cum;
}

/* Turns the weights in p->cum into running sums. */
static void pool_finish(sim_pool *p) {
    double s = 0;
    for (size_t i = 0; i < p->n; i++) p->cum[i] = (s += p->cum[i]);
}

static void pool_free(sim_pool *p) {
    free(p->item);
    free(p->cum);
    memset(p, 0, sizeof *p);
}

uint64_t sim_pool_pick(const sim_pool *p, rw_rng *r) {
    double x = rw_rng_unit(r) * p->cum[p->n - 1];
    size_t lo = 0, hi = p->n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return p->item[lo];
}

static size_t clampz(double x, size_t lo, size_t hi) {
    if (x < (double)lo) return lo;
    if (x > (double)hi) return hi;
    return (size_t)x;
}

/* Addresses packed a few to a /24, as NAT pools and VPN providers do. */
static void fill_ips(sim_world *w, rw_rng *r, sim_pool *p, sim_space s, uint32_t per24_max) {
    uint32_t p24 = 0, left = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (!left) {
            p24 = sim_fresh24(w, r, s);
            left = sim_range(r, 1, per24_max);
        }
        p->item[i] = sim_host(r, p24);
        left--;
    }
}

static rw_status build_pools(sim_world *w, rw_err *err) {
    rw_rng r;
    double n = (double)w->accounts;
    sim_rng(&r, w, SIM_S_POOLS, 0);
    if (!pool_alloc(&w->cgnat, clampz(n / w->p.cgnat_accounts, 40, 800)) ||
        !pool_alloc(&w->vpn, clampz(n / w->p.vpn_accounts, 12, 60)) ||
        !pool_alloc(&w->stock, clampz(n / 700, 20, 400)) || !pool_alloc(&w->work, clampz(n / 60, 20, 1u << 20)))
        return rw_fail(err, RW_ERR_NOMEM, "simulate: out of memory for attribute pools");

    /* Carrier NAT: a lognormal spread of load, hundreds to thousands each. */
    fill_ips(w, &r, &w->cgnat, SIM_SP_MOBILE, 24);
    for (size_t i = 0; i < w->cgnat.n; i++) w->cgnat.cum[i] = sim_lognormal(&r, 1.0);
    /* VPN exits sit in hosting space, a few per /24, with a Zipf-like pull. */
    fill_ips(w, &r, &w->vpn, SIM_SP_DC, 4);
    for (size_t i = 0; i < w->vpn.n; i++) w->vpn.cum[i] = 1.0 / pow((double)(i + 1), 0.9);
    /* Stock fingerprints: the same popular model and OS build; Zipf. */
    for (size_t i = 0; i < w->stock.n; i++) {
        w->stock.item[i] = sim_new_device(w);
        w->stock.cum[i] = 1.0 / (double)(i + 1);
    }
    /* Work networks: most small, a few big employers. */
    fill_ips(w, &r, &w->work, SIM_SP_BIZ, 3);
    for (size_t i = 0; i < w->work.n; i++) w->work.cum[i] = sim_lognormal(&r, 1.3);
    pool_finish(&w->cgnat);
    pool_finish(&w->vpn);
    pool_finish(&w->stock);
    pool_finish(&w->work);

    /* Residential /24s: about 2.5 households to a /24, so neighbours share;
     * capped at about half the residential space so fresh /24s stay cheap. */
    sim_rng(&r, w, SIM_S_ADDR, 0);
    w->nres24 = clampz(n / 6.0, 64, 1500000);
    w->res24 = malloc(w->nres24 * sizeof *w->res24);
    if (!w->res24) return rw_fail(err, RW_ERR_NOMEM, "simulate: out of memory for the address plan");
    for (size_t i = 0; i < w->nres24; i++) w->res24[i] = sim_fresh24(w, &r, SIM_SP_RES);
    if (w->nomem) return rw_fail(err, RW_ERR_NOMEM, "simulate: out of memory for the address plan");
    return RW_OK;
}

/* ---- time -------------------------------------------------------------------- */

/* Relative activity per hour of the (UTC) day: quiet nights, busy evenings. */
static const double diurnal[24] = {3.0, 2.0, 1.3, 1.0, 1.0, 1.3, 2.0, 3.5, 5.0,  6.0, 6.5, 6.5,
                                   7.0, 6.5, 6.5, 6.5, 7.0, 7.5, 8.5, 9.5, 10.0, 9.5, 7.5, 5.0};

int sim_weekday(const sim_world *w, uint32_t day) {
    int64_t d = w->start_ts / (int64_t)SIM_DAY;
    if (w->start_ts < 0 && w->start_ts % (int64_t)SIM_DAY) d--;
    int64_t dow = ((d + day + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday; 0 = Sunday */
    return dow >= 1 && dow <= 5;
}

static size_t pick_cum(const double *cum, size_t n, double x) {
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

uint32_t sim_time_in_day(const sim_world *w, rw_rng *r, uint32_t day, int diurnal_curve) {
    uint32_t s;
    if (diurnal_curve) {
        size_t h = pick_cum(w->hour_cum, 24, rw_rng_unit(r) * w->hour_cum[23]);
        s = (uint32_t)h * SIM_HOUR + (uint32_t)rw_rng_below(r, SIM_HOUR);
    } else {
        s = (uint32_t)rw_rng_below(r, SIM_DAY);
    }
    uint64_t t = (uint64_t)day * SIM_DAY + s;
    return t < w->span ? (uint32_t)t : w->span - 1;
}

uint32_t sim_time_signup(const sim_world *w, rw_rng *r) {
    size_t d = pick_cum(w->day_cum, w->days, rw_rng_unit(r) * w->day_cum[w->days - 1]);
    return sim_time_in_day(w, r, (uint32_t)d, 1);
}

int sim_time_after(const sim_world *w, rw_rng *r, uint32_t t0, int diurnal_curve, uint32_t *out) {
    if ((uint64_t)t0 + 120 >= w->span) return 0;
    uint32_t room = w->span - t0 - 61; /* t in [t0 + 60, span - 2] */
    if (sim_chance(r, 0.15)) {         /* the same session or a return the same day */
        *out = t0 + 60 + (uint32_t)rw_rng_below(r, room < 3 * SIM_HOUR ? room : 3 * SIM_HOUR);
        return 1;
    }
    uint32_t t = sim_time_in_day(w, r, sim_range(r, t0 / SIM_DAY, w->days - 1), diurnal_curve);
    if (t < t0 + 60) t = t0 + 60 + (uint32_t)rw_rng_below(r, room < SIM_DAY ? room : SIM_DAY);
    *out = t;
    return 1;
}

static rw_status build_time(sim_world *w, rw_err *err) {
    rw_rng r;
    sim_rng(&r, w, SIM_S_TIME, 0);
    w->day_cum = malloc(w->days * sizeof *w->day_cum);
    if (!w->day_cum) return rw_fail(err, RW_ERR_NOMEM, "simulate: out of memory");
    /* Mild growth, busier weekends, and two marketing pushes. */
    uint32_t push1 = (uint32_t)rw_rng_below(&r, w->days), push2 = (uint32_t)rw_rng_below(&r, w->days);
    double s = 0;
    for (uint32_t d = 0; d < w->days; d++) {
        double x = (1.0 + 0.2 * d / w->days) * (sim_weekday(w, d) ? 1.0 : 1.12);
        if (d == push1 || d == push2) x *= 1.8;
        w->day_cum[d] = (s += x);
    }
    s = 0;
    for (int h = 0; h < 24; h++) w->hour_cum[h] = (s += diurnal[h]);
    return RW_OK;
}

rw_status sim_world_init(sim_world *w, const rw_sim_config *cfg, rw_err *err) {
    memset(w, 0, sizeof *w);
    w->p = cfg->p;
    w->seed = cfg->seed;
    w->accounts = cfg->accounts;
    w->start_ts = cfg->start_ts;
    w->days = (uint32_t)cfg->days;
    w->span = w->days * SIM_DAY;
    /* About three events an account; reserve once to avoid regrowth. */
    w->evcap = (size_t)cfg->accounts * 3 + 1024;
    w->ev = malloc(w->evcap * sizeof *w->ev);
    w->acctcap = (size_t)cfg->accounts + 16;
    w->acct = malloc(w->acctcap * sizeof *w->acct);
    if (!w->ev || !w->acct)
        return rw_fail(err, RW_ERR_NOMEM, "simulate: out of memory for %llu accounts",
                       (unsigned long long)cfg->accounts);
    rw_status s = build_time(w, err);
    if (s == RW_OK) s = build_pools(w, err);
    return s;
}

void sim_world_free(sim_world *w) {
    free(w->ev);
    free(w->acct);
    free(w->set24);
    free(w->res24);
    free(w->home);
    free(w->day_cum);
    pool_free(&w->cgnat);
    pool_free(&w->vpn);
    pool_free(&w->stock);
    pool_free(&w->work);
    memset(w, 0, sizeof *w);
}
