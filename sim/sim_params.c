/* The simulator's parameters: one table (name, type, range, default, offset,
 * help) drives the defaults, `key = value` parsing, checks and listing; named
 * variants are parameter texts parsed by the same reader. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

typedef enum { PT_U32, PT_DBL, PT_INT } ptype;

typedef struct {
    const char *name;
    ptype type;
    double lo, hi, def;
    size_t off;
    const char *help;
} param;

#define PF(f) offsetof(rw_sim_config, p.f)
#define U(f, lo, hi, d, help)                                                                                          \
    { #f, PT_U32, lo, hi, d, PF(f), help }
#define D(f, lo, hi, d, help)                                                                                          \
    { #f, PT_DBL, lo, hi, d, PF(f), help }
#define SET SIM_MAXSET

/* The defaults are the default world's constants: changing one changes every
 * seed's default output. */
static const param params[] = {
    {"days", PT_INT, 1, 3650, 30, offsetof(rw_sim_config, days), "length of the world in days"},
    {"ring_share", PT_DBL, 0, 0.9, 0.05, offsetof(rw_sim_config, ring_share), "share of accounts in rings"},
    U(ring_size_min, 2, 1000000, 8, "smallest ring"),
    U(ring_size_max, 2, 1000000, 400, "largest ring"),
    D(ring_size_alpha, 0.5, 5, 1.3, "power-law exponent of ring sizes (smaller: heavier tail)"),
    D(tactic_datacenter_bulk, 0, 1000, 0.25, "relative weight of datacenter_bulk rings"),
    D(tactic_residential_proxy, 0, 1000, 0.20, "relative weight of residential_proxy rings"),
    D(tactic_stolen_cards, 0, 1000, 0.20, "relative weight of stolen_cards rings"),
    D(tactic_slow_drip, 0, 1000, 0.15, "relative weight of slow_drip rings"),
    D(tactic_camouflage, 0, 1000, 0.20, "relative weight of camouflage rings"),
    U(drip_per_day, 1, 100000, 5, "a slow drip ring has at most this many accounts per day of the world"),
    D(camo_share_min, 0, 1, 0, "least share of a ring's accounts that sign up and log in like people"),
    D(camo_share_max, 0, 1, 0, "greatest such share (drawn per ring)"),
    D(dc_burst_minutes, 1, 525600, 90, "median length of a datacenter burst"),
    D(dc_burst_sigma, 0, 4, 0.9, "spread (lognormal sigma) of burst lengths"),
    U(dc_burst_minutes_min, 1, 525600, 10, "shortest datacenter burst"),
    U(dc_burst_minutes_max, 1, 525600, 360, "longest datacenter burst"),
    D(dc_second24_p, 0, 1, 0.3, "share of datacenter rings using a second /24"),
    U(dc_ips_min, 1, SET, 2, "fewest hosting addresses of a datacenter ring"),
    U(dc_ips_max, 1, SET, 8, "most hosting addresses"),
    U(dc_devices_min, 1, SET, 2, "fewest emulator fingerprints of a datacenter ring"),
    U(dc_devices_max, 1, SET, 10, "most emulator fingerprints"),
    U(dc_accounts_per_card, 1, 1000000, 40, "accounts per card of a datacenter ring"),
    D(dc_card_p, 0, 1, 0.05, "share of datacenter signups with a card"),
    U(rp_hours_min, 1, 87600, 12, "shortest residential-proxy campaign"),
    U(rp_hours_max, 1, 87600, 48, "longest residential-proxy campaign"),
    U(rp_devices_min, 1, SET, 5, "fewest emulator fingerprints of a proxy ring"),
    U(rp_devices_max, 1, SET, 30, "most emulator fingerprints"),
    U(rp_ip_reuse_min, 1, 100000, 1, "fewest accounts per proxy exit (1: a new exit per account)"),
    U(rp_ip_reuse_max, 1, 100000, 1, "most accounts per proxy exit"),
    U(rp_subnets_min, 0, SET, 0, "fewest residential /24s a proxy ring's exits come from (0: anywhere)"),
    U(rp_subnets_max, 0, SET, 0, "most such /24s (0: anywhere)"),
    D(proxy_home_p, 0, 1, 0.3, "share of proxy exits that are live households' home addresses"),
    D(rp_card_p, 0, 1, 0.12, "share of proxy-ring accounts with a card"),
    U(sc_hours_min, 1, 87600, 6, "shortest stolen-card campaign"),
    U(sc_hours_max, 1, 87600, 72, "longest stolen-card campaign"),
    U(sc_card_uses_min, 1, 100000, 3, "fewest accounts per stolen card"),
    U(sc_card_uses_max, 1, 100000, 15, "most accounts per stolen card"),
    U(sc_subnets_max, 1, SIM_MAX24, 3, "most /24s of a stolen-card ring that uses several"),
    U(sc_ip_reuse_min, 1, 100000, 1, "fewest accounts per address (1: a new address each time)"),
    U(sc_ip_reuse_max, 1, 100000, 1, "most accounts per address"),
    D(sc_one24_p, 0, 1, 0.6, "share of stolen-card rings on a single /24"),
    D(sc_res_p, 0, 1, 0.5, "share of stolen-card rings in residential /24s"),
    D(sc_dc_p, 0, 1, 0.3, "share in hosting /24s (the rest: business)"),
    D(sc_device_p, 0, 1, 0.95, "share of stolen-card accounts with a (fresh) device"),
    D(sc_signup_card_p, 0, 1, 0.6, "share of stolen-card signups carrying the card"),
    U(sd_start_days, 1, 3650, 3, "a slow drip starts within this many days"),
    U(sd_devices_min, 1, SET, 2, "fewest reused devices of a slow drip"),
    U(sd_devices_max, 1, SET, 6, "most reused devices"),
    U(sd_cards_min, 1, SET, 2, "fewest reused cards of a slow drip"),
    U(sd_cards_max, 1, SET, 5, "most reused cards"),
    D(sd_device_reuse_p, 0, 1, 0.5, "share of a device-reusing drip's accounts on its devices"),
    D(sd_card_p, 0, 1, 0.4, "share of a card-reusing drip's accounts paying with its cards"),
    D(sd_stock_p, 0, 1, 0.2, "share of other drip accounts on a stock fingerprint"),
    U(cf_days_min, 1, 3650, 1, "shortest camouflage campaign in days"),
    U(cf_days_max, 1, 3650, 4, "longest camouflage campaign"),
    U(cf_ips_min, 1, SET, 2, "fewest own hosting addresses of a camouflage ring"),
    U(cf_ips_max, 1, SET, 6, "most own hosting addresses"),
    U(cf_devices_min, 1, SET, 5, "fewest own fingerprints of a camouflage ring"),
    U(cf_devices_max, 1, SET, 20, "most own fingerprints"),
    U(cf_accounts_per_card, 1, 1000000, 30, "accounts per card of a camouflage ring"),
    D(cf_dc_p, 0, 1, 0.5, "share of camouflage rings run from a datacenter (else proxies)"),
    D(cf_own_p, 0, 1, 0.55, "share of camouflage signups from the ring's own addresses"),
    D(cf_cgnat_p, 0, 1, 0.30, "share from carrier NAT (the rest: VPN exits)"),
    D(office_share, 0, 1, 0.02, "share of accounts in offices"),
    D(campus_share, 0, 1, 0.012, "share of accounts on campuses"),
    D(org_size_alpha, 0.5, 5, 2.0, "power-law exponent of office and campus sizes"),
    U(office_size_min, 1, 1000000, 20, "smallest office"),
    U(office_size_max, 1, 1000000, 150, "largest office"),
    U(campus_size_min, 1, 1000000, 100, "smallest campus"),
    U(campus_size_max, 1, 1000000, 600, "largest campus"),
    U(office_hours_min, 1, 8760, 1, "shortest office onboarding"),
    U(office_hours_max, 1, 8760, 4, "longest office onboarding"),
    U(campus_hours_min, 1, 8760, 2, "shortest campus orientation"),
    U(campus_hours_max, 1, 8760, 6, "longest campus orientation"),
    U(campus_window_days, 1, 3650, 14, "orientations fall in the world's first days"),
    D(campus_dorm_p, 0, 1, 0.6, "share of students living behind the campus NAT"),
    D(big_family_p, 0, 1, 0, "share of households with 6 or more people"),
    U(big_family_max, 6, SIM_MAX_FAMILY, 6, "largest household"),
    D(nat_single_p, 0, 1, 0.25, "share of single people without broadband (carrier NAT only)"),
    D(nat_family_p, 0, 1, 0.04, "share of families without broadband"),
    D(vpn_p, 0, 1, 0.07, "share of people using a VPN"),
    D(stock_p, 0, 1, 0.22, "share of phones with a stock fingerprint"),
    D(campus_stock_p, 0, 1, 0.35, "share of students' phones with a stock fingerprint"),
    U(cgnat_accounts, 1, 10000000, 250, "accounts per carrier NAT address (pool of 40-800)"),
    U(vpn_accounts, 1, 10000000, 4000, "accounts per VPN exit (pool of 12-60)"),
};

#define NPARAMS (sizeof params / sizeof *params)

/* Pairs of shares whose sum is a probability. */
static const struct {
    const char *a, *b;
} sums[] = {{"sc_res_p", "sc_dc_p"}, {"cf_own_p", "cf_cgnat_p"}, {"office_share", "campus_share"}};

static const param *find(const char *name) {
    for (size_t i = 0; i < NPARAMS; i++)
        if (!strcmp(params[i].name, name)) return &params[i];
    return NULL;
}

static double get(const rw_sim_config *cfg, const param *p) {
    const char *b = (const char *)cfg + p->off;
    switch (p->type) {
        case PT_U32:
            return *(const uint32_t *)(const void *)b;
        case PT_INT:
            return *(const int *)(const void *)b;
        default:
            return *(const double *)(const void *)b;
    }
}

static void put(rw_sim_config *cfg, const param *p, double v) {
    char *b = (char *)cfg + p->off;
    switch (p->type) {
        case PT_U32:
            *(uint32_t *)(void *)b = (uint32_t)v;
            break;
        case PT_INT:
            *(int *)(void *)b = (int)v;
            break;
        default:
            *(double *)(void *)b = v;
            break;
    }
}

void rw_sim_defaults(rw_sim_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->accounts = 100000;
    cfg->seed = 1;
    cfg->start_ts = 1788220800; /* 2026-09-01T00:00:00Z */
    for (size_t i = 0; i < NPARAMS; i++) put(cfg, &params[i], params[i].def);
}

/* Parses value for p: a whole decimal number for integer types. */
static rw_status parse_value(const param *p, const char *value, double *out, rw_err *err) {
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *end || errno || !isfinite(v))
        return rw_fail(err, RW_ERR_INVALID, "%s: '%s' is not a number", p->name, value);
    if (p->type != PT_DBL && v != floor(v))
        return rw_fail(err, RW_ERR_INVALID, "%s: '%s' is not a whole number", p->name, value);
    if (!(v >= p->lo && v <= p->hi))
        return rw_fail(err, RW_ERR_INVALID, "%s: %s is outside [%g, %g]", p->name, value, p->lo, p->hi);
    *out = v;
    return RW_OK;
}

rw_status rw_sim_set(rw_sim_config *cfg, const char *key, const char *value, rw_err *err) {
    const param *p = find(key);
    if (!p) return rw_fail(err, RW_ERR_INVALID, "%s: unknown parameter", key);
    double v;
    rw_status s = parse_value(p, value, &v, err);
    if (s == RW_OK) put(cfg, p, v);
    return s;
}

/* The index of the _max partner of a parameter named X_min, or -1. */
static long partner(size_t i) {
    const char *n = params[i].name;
    size_t len = strlen(n);
    if (len < 5 || strcmp(n + len - 4, "_min")) return -1;
    for (size_t j = 0; j < NPARAMS; j++)
        if (strlen(params[j].name) == len && !strncmp(params[j].name, n, len - 3) &&
            !strcmp(params[j].name + len - 3, "max"))
            return (long)j;
    return -1;
}

/* Checks cfg; on failure *blame is the parameter to point at (the later
 * set of a broken pair when line[] says where each was set). */
static rw_status check(const rw_sim_config *cfg, const unsigned *line, size_t *blame, rw_err *err) {
    for (size_t i = 0; i < NPARAMS; i++) {
        double v = get(cfg, &params[i]);
        *blame = i;
        if (!(v >= params[i].lo && v <= params[i].hi))
            return rw_fail(err, RW_ERR_INVALID, "%s: %g is outside [%g, %g]", params[i].name, v, params[i].lo,
                           params[i].hi);
        long j = partner(i);
        if (j < 0 || v <= get(cfg, &params[j])) continue;
        double hi = get(cfg, &params[j]);
        if (line && line[j] > line[i]) {
            *blame = (size_t)j;
            return rw_fail(err, RW_ERR_INVALID, "%s: %g is below %s (%g)", params[j].name, hi, params[i].name, v);
        }
        return rw_fail(err, RW_ERR_INVALID, "%s: %g is above %s (%g)", params[i].name, v, params[j].name, hi);
    }
    for (size_t i = 0; i < sizeof sums / sizeof *sums; i++) {
        const param *a = find(sums[i].a), *b = find(sums[i].b);
        *blame = line && line[b - params] > line[a - params] ? (size_t)(b - params) : (size_t)(a - params);
        if (get(cfg, a) + get(cfg, b) > 1.0 + 1e-9)
            return rw_fail(err, RW_ERR_INVALID, "%s: %s + %s is above 1 (%g + %g)", params[*blame].name, a->name,
                           b->name, get(cfg, a), get(cfg, b));
    }
    double w = cfg->p.tactic_datacenter_bulk + cfg->p.tactic_residential_proxy + cfg->p.tactic_stolen_cards +
               cfg->p.tactic_slow_drip + cfg->p.tactic_camouflage;
    *blame = (size_t)(find("tactic_camouflage") - params);
    if (!(w > 0)) return rw_fail(err, RW_ERR_INVALID, "tactic_*: every tactic has weight 0");
    return RW_OK;
}

rw_status rw_sim_check(const rw_sim_config *cfg, rw_err *err) {
    size_t blame;
    return check(cfg, NULL, &blame, err);
}

/* Trims blanks at both ends of s in place. */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

#define PARAM_LINE_MAX 1024

/* Applies one `key = value` line (a copy the caller may change) to cfg;
 * errors name the key (the caller adds where). */
static rw_status apply_line(rw_sim_config *cfg, char *text, unsigned lineno, unsigned *line, rw_err *err) {
    char *hash = strchr(text, '#'), *eq;
    if (hash) *hash = 0;
    char *t = trim(text);
    if (!*t) return RW_OK;
    if (!(eq = strchr(t, '='))) return rw_fail(err, RW_ERR_INVALID, "%s: expected key = value", t);
    *eq = 0;
    char *key = trim(t), *value = trim(eq + 1);
    if (!*key) return rw_fail(err, RW_ERR_INVALID, "(no key): expected key = value");
    const param *p = find(key);
    if (!p) return rw_fail(err, RW_ERR_INVALID, "%s: unknown parameter", key);
    if (!*value) return rw_fail(err, RW_ERR_INVALID, "%s: missing value", key);
    size_t i = (size_t)(p - params);
    if (line[i]) return rw_fail(err, RW_ERR_INVALID, "%s: set twice (first on line %u)", key, line[i]);
    double v;
    rw_status s = parse_value(p, value, &v, err);
    if (s != RW_OK) return s;
    put(cfg, p, v);
    line[i] = lineno;
    return RW_OK;
}

/* Applies the lines of text (named src in errors) to cfg, all or nothing. */
static rw_status apply_text(rw_sim_config *cfg, const char *text, size_t len, const char *src, rw_err *err) {
    unsigned line[NPARAMS] = {0}, lineno = 0;
    rw_sim_config c = *cfg;
    char buf[PARAM_LINE_MAX];
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        lineno++;
        if (n >= sizeof buf)
            return rw_fail(err, RW_ERR_INVALID, "%s:%u: line longer than %d bytes", src, lineno, PARAM_LINE_MAX - 1);
        memcpy(buf, text + pos, n);
        buf[n] = 0;
        if (memchr(buf, 0, n)) return rw_fail(err, RW_ERR_INVALID, "%s:%u: NUL byte in line", src, lineno);
        rw_status s = apply_line(&c, buf, lineno, line, err);
        if (s != RW_OK) {
            rw_err_prefix(err, "%s:%u: ", src, lineno);
            return s;
        }
        pos += n + 1;
    }
    size_t blame;
    rw_status s = check(&c, line, &blame, err);
    if (s != RW_OK) {
        if (line[blame])
            rw_err_prefix(err, "%s:%u: ", src, line[blame]);
        else
            rw_err_prefix(err, "%s: ", src);
        return s;
    }
    *cfg = c;
    return RW_OK;
}

rw_status rw_sim_load_params(rw_sim_config *cfg, const char *path, rw_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return rw_fail(err, RW_ERR_IO, "%s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0, n;
    rw_status s = RW_OK;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n > cap) {
            cap = (len + n) * 2;
            char *t = realloc(text, cap);
            if (!t) {
                s = rw_fail(err, RW_ERR_NOMEM, "%s: out of memory", path);
                goto done;
            }
            text = t;
        }
        memcpy(text + len, chunk, n);
        len += n;
    }
    if (ferror(f)) {
        s = rw_fail(err, RW_ERR_IO, "%s: read error", path);
        goto done;
    }
    s = apply_text(cfg, text ? text : "", len, path, err);
done:
    free(text);
    fclose(f);
    return s;
}

void rw_sim_write_params(const rw_sim_config *cfg, FILE *f) {
    for (size_t i = 0; i < NPARAMS; i++)
        fprintf(f, "%-24s = %-10.10g # %s\n", params[i].name, get(cfg, &params[i]), params[i].help);
}

/* ---- variants ------------------------------------------------------------------ */

/* Each variant is a parameter text on top of the defaults; sim/README.md
 * says what each changes and why. */
static const struct {
    const char *name, *help, *text;
} variants[] = {
    {"default", "the default world", ""},
    {"bigfarms", "datacenter farms of 300-1500 accounts on a few addresses and devices within hours",
     "ring_size_min = 300\nring_size_max = 1500\nring_size_alpha = 1.5\n"
     "tactic_datacenter_bulk = 0.75\ntactic_residential_proxy = 0\ntactic_stolen_cards = 0\n"
     "tactic_slow_drip = 0\ntactic_camouflage = 0.25\n"
     "dc_burst_minutes = 120\ndc_burst_minutes_min = 30\ndc_burst_minutes_max = 360\n"
     "dc_second24_p = 0\ndc_ips_min = 1\ndc_ips_max = 3\ndc_devices_min = 1\ndc_devices_max = 4\n"
     "cf_dc_p = 1\ncf_ips_min = 1\ncf_ips_max = 3\ncf_days_min = 1\ncf_days_max = 1\n"},
    {"cardring", "stolen-card rings: a fresh device per account, one /24, 3-8 accounts per card, a few days",
     "tactic_datacenter_bulk = 0\ntactic_residential_proxy = 0\ntactic_stolen_cards = 1\n"
     "tactic_slow_drip = 0\ntactic_camouflage = 0\n"
     "ring_size_min = 12\nring_size_max = 300\n"
     "sc_hours_min = 36\nsc_hours_max = 120\nsc_card_uses_min = 3\nsc_card_uses_max = 8\n"
     "sc_one24_p = 1\nsc_ip_reuse_min = 2\nsc_ip_reuse_max = 5\nsc_device_p = 1\nsc_signup_card_p = 0.3\n"},
    {"slowdrip", "rings paced over weeks (8 weeks), a quarter to half of each ring camouflaged",
     "days = 56\ntactic_datacenter_bulk = 0.1\ntactic_residential_proxy = 0.1\ntactic_stolen_cards = 0.1\n"
     "tactic_slow_drip = 0.4\ntactic_camouflage = 0.3\ndrip_per_day = 3\n"
     "camo_share_min = 0.25\ncamo_share_max = 0.5\n"
     "rp_hours_min = 168\nrp_hours_max = 672\nsc_hours_min = 168\nsc_hours_max = 504\n"
     "dc_burst_minutes = 4320\ndc_burst_minutes_min = 1440\ndc_burst_minutes_max = 20160\n"
     "cf_days_min = 7\ncf_days_max = 28\nsd_device_reuse_p = 0.3\nsd_card_p = 0.25\n"},
    {"crowds", "many more benign crowds: big offices and campuses onboarding over days, big families, heavy NAT/VPN",
     "office_share = 0.08\ncampus_share = 0.06\noffice_size_min = 40\noffice_size_max = 500\n"
     "campus_size_min = 200\ncampus_size_max = 1500\noffice_hours_min = 2\noffice_hours_max = 120\n"
     "campus_hours_min = 6\ncampus_hours_max = 168\ncampus_window_days = 30\ncampus_dorm_p = 0.8\n"
     "big_family_p = 0.05\nbig_family_max = 14\nnat_single_p = 0.5\nnat_family_p = 0.2\n"
     "vpn_p = 0.2\nstock_p = 0.35\ncampus_stock_p = 0.5\ncgnat_accounts = 1500\nvpn_accounts = 20000\n"},
    {"wide", "every ring parameter drawn per ring from wide ranges, equal tactic weights, some camouflage",
     "ring_size_min = 3\nring_size_max = 3000\nring_size_alpha = 1.5\n"
     "tactic_datacenter_bulk = 0.2\ntactic_residential_proxy = 0.2\ntactic_stolen_cards = 0.2\n"
     "tactic_slow_drip = 0.2\ntactic_camouflage = 0.2\ndrip_per_day = 20\n"
     "camo_share_min = 0\ncamo_share_max = 0.6\n"
     "dc_burst_minutes = 240\ndc_burst_sigma = 1.6\ndc_burst_minutes_min = 5\ndc_burst_minutes_max = 10080\n"
     "dc_second24_p = 0.5\ndc_ips_min = 1\ndc_ips_max = 48\ndc_devices_min = 1\ndc_devices_max = 64\n"
     "dc_accounts_per_card = 15\ndc_card_p = 0.2\n"
     "rp_hours_min = 1\nrp_hours_max = 336\nrp_devices_min = 1\nrp_devices_max = 64\n"
     "rp_ip_reuse_min = 1\nrp_ip_reuse_max = 12\nrp_subnets_min = 0\nrp_subnets_max = 24\n"
     "sc_hours_min = 1\nsc_hours_max = 336\nsc_card_uses_min = 2\nsc_card_uses_max = 40\n"
     "sc_subnets_max = 12\nsc_ip_reuse_min = 1\nsc_ip_reuse_max = 10\nsc_one24_p = 0.4\n"
     "sd_start_days = 10\nsd_devices_min = 1\nsd_devices_max = 24\nsd_cards_min = 1\nsd_cards_max = 16\n"
     "cf_days_min = 1\ncf_days_max = 21\ncf_ips_min = 1\ncf_ips_max = 32\ncf_devices_min = 1\ncf_devices_max = 64\n"
     "office_size_min = 5\noffice_size_max = 600\ncampus_size_min = 50\ncampus_size_max = 3000\n"
     "office_hours_min = 1\noffice_hours_max = 48\ncampus_hours_min = 1\ncampus_hours_max = 72\n"
     "big_family_p = 0.01\nbig_family_max = 10\n"},
};

rw_status rw_sim_variant(rw_sim_config *cfg, const char *name, rw_err *err) {
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        if (strcmp(variants[i].name, name)) continue;
        char src[64];
        snprintf(src, sizeof src, "variant %s", variants[i].name);
        return apply_text(cfg, variants[i].text, strlen(variants[i].text), src, err);
    }
    char names[256] = "";
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        size_t len = strlen(names);
        snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", variants[i].name);
    }
    return rw_fail(err, RW_ERR_INVALID, "variant: unknown variant '%s' (known: %s)", name, names);
}

const char *rw_sim_variant_name(size_t i, const char **help) {
    if (i >= sizeof variants / sizeof *variants) return NULL;
    if (help) *help = variants[i].help;
    return variants[i].name;
}
