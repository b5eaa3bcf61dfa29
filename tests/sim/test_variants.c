/* Tests of the simulator's parameters and variants: the default world is the
 * one from before parameters existed, each variant is deterministic and does
 * what it claims, and parameter files report file, line and key. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "testutil.h"

/* ---- helpers ----------------------------------------------------------------- */

typedef struct {
    char *ev, *truth;
    size_t evlen, truthlen;
    rw_sim_summary sum;
} vworld;

static void vgen(vworld *w, const rw_sim_config *c) {
    memset(w, 0, sizeof *w);
    FILE *fe = open_memstream(&w->ev, &w->evlen), *ft = open_memstream(&w->truth, &w->truthlen);
    cr_assert(fe && ft);
    rw_err e = {{0}};
    rw_status s = rw_sim_run(c, fe, ft, &w->sum, &e);
    fclose(fe);
    fclose(ft);
    cr_assert_eq(s, RW_OK, "rw_sim_run: %s", e.msg);
}

static void vgen_variant(vworld *w, const char *variant, uint64_t accounts, uint64_t seed) {
    rw_sim_config c;
    rw_sim_defaults(&c);
    c.accounts = accounts;
    c.seed = seed;
    rw_err e = {{0}};
    cr_assert_eq(rw_sim_variant(&c, variant, &e), RW_OK, "%s: %s", variant, e.msg);
    vgen(w, &c);
}

static void vfree(vworld *w) {
    free(w->ev);
    free(w->truth);
}

static uint64_t fnv1a(const char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h;
}

/* One event of a ring account. */
typedef struct {
    int ring, signup;
    char tactic[24], acct[16], ip[48], dev[24], pay[32];
    long long ts;
} rev;

typedef struct {
    char acct[16], tactic[24];
    int ring;
} trow;

static int cmp_trow(const void *a, const void *b) {
    return strcmp(((const trow *)a)->acct, ((const trow *)b)->acct);
}

static void copy_str(char *dst, size_t size, json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    snprintf(dst, size, "%s", s ? s : "");
}

/* The events of ring accounts, in file order; *n their count. */
static rev *ring_events(const vworld *w, size_t *n) {
    size_t nt = 0, cap = 1024;
    trow *t = malloc(w->truthlen / 8 * sizeof *t + sizeof *t);
    cr_assert(t);
    const char *p = memchr(w->truth, '\n', w->truthlen) + 1, *end = w->truth + w->truthlen;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        char line[128];
        snprintf(line, sizeof line, "%.*s", (int)(nl - p), p);
        char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        cr_assert(c2, "bad truth line %s", line);
        *c1 = *c2 = 0;
        snprintf(t[nt].acct, sizeof t[nt].acct, "%.15s", line);
        snprintf(t[nt].tactic, sizeof t[nt].tactic, "%.23s", c2 + 1);
        t[nt++].ring = c1[1] == 'r' ? atoi(c1 + 2) : 0;
        p = nl + 1;
    }
    qsort(t, nt, sizeof *t, cmp_trow);
    rev *v = malloc(cap * sizeof *v);
    *n = 0;
    for (p = w->ev, end = w->ev + w->evlen; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        json_error_t je;
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, &je);
        cr_assert(o, "%s", je.text);
        trow key;
        copy_str(key.acct, sizeof key.acct, o, "account");
        const trow *r = bsearch(&key, t, nt, sizeof *t, cmp_trow);
        cr_assert(r, "account %s not in truth", key.acct);
        if (r->ring) {
            if (*n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
            rev *e = &v[(*n)++];
            memset(e, 0, sizeof *e);
            e->ring = r->ring;
            snprintf(e->tactic, sizeof e->tactic, "%s", r->tactic);
            snprintf(e->acct, sizeof e->acct, "%s", r->acct);
            copy_str(e->ip, sizeof e->ip, o, "ip");
            copy_str(e->dev, sizeof e->dev, o, "device");
            copy_str(e->pay, sizeof e->pay, o, "payment");
            e->signup = !strcmp(json_string_value(json_object_get(o, "type")), "signup");
            e->ts = json_integer_value(json_object_get(o, "ts"));
        }
        json_decref(o);
        p = nl + 1;
    }
    free(t);
    return v;
}

typedef struct {
    const char *k, *v;
} kv;

static int cmp_kv(const void *a, const void *b) {
    const kv *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

/* Groups pairs by key: counts[i] = distinct values of the i-th distinct key;
 * returns the number of distinct keys. */
static size_t distinct_per_key(kv *p, size_t n, size_t *counts) {
    qsort(p, n, sizeof *p, cmp_kv);
    size_t keys = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(p[i].k, p[i - 1].k)) counts[keys++] = 0;
        if (i == 0 || strcmp(p[i].k, p[i - 1].k) || strcmp(p[i].v, p[i - 1].v)) counts[keys - 1]++;
    }
    return keys;
}

/* The /24 of a dotted quad as text (IPv6 addresses give ""). */
static void prefix24(const char *ip, char *out, size_t size) {
    const char *dot = strrchr(ip, '.');
    snprintf(out, size, "%.*s", dot && !strchr(ip, ':') ? (int)(dot - ip) : 0, ip);
}

/* ---- the default world ---------------------------------------------------------- */

/* FNV-1a of the events and truth of a 3,000-account world, seed 5, from the
 * simulator as it was before its constants became parameters. */
#define DEFAULT_EV_HASH    0x27291c1925f59077ull
#define DEFAULT_TRUTH_HASH 0xf406676b8e973f30ull

Test(sim_variants, default_world_unchanged) {
    rw_sim_config c;
    rw_sim_defaults(&c);
    c.accounts = 3000;
    c.seed = 5;
    vworld a, b;
    vgen(&a, &c);
    cr_expect_eq(fnv1a(a.ev, a.evlen), DEFAULT_EV_HASH, "events changed: %llx",
                 (unsigned long long)fnv1a(a.ev, a.evlen));
    cr_expect_eq(fnv1a(a.truth, a.truthlen), DEFAULT_TRUTH_HASH, "truth changed");
    vgen_variant(&b, "default", 3000, 5);
    cr_assert(a.evlen == b.evlen && !memcmp(a.ev, b.ev, a.evlen), "variant default differs from the defaults");
    vfree(&a);
    vfree(&b);
}

Test(sim_variants, each_variant_deterministic_and_different) {
    vworld def;
    vgen_variant(&def, "default", 20000, 9);
    const char *help;
    for (size_t i = 0; rw_sim_variant_name(i, &help); i++) {
        const char *name = rw_sim_variant_name(i, NULL);
        cr_assert(help && *help);
        vworld a, b;
        vgen_variant(&a, name, 20000, 9);
        vgen_variant(&b, name, 20000, 9);
        cr_assert(a.evlen == b.evlen && !memcmp(a.ev, b.ev, a.evlen), "%s: same seed, different events", name);
        cr_assert(a.truthlen == b.truthlen && !memcmp(a.truth, b.truth, a.truthlen), "%s: different truth", name);
        int same = a.evlen == def.evlen && !memcmp(a.ev, def.ev, a.evlen);
        cr_assert_eq(same, !strcmp(name, "default"), "%s: %s the default world", name, same ? "same as" : "unlike");
        vfree(&a);
        vfree(&b);
    }
    vfree(&def);
}

/* ---- what each variant claims ------------------------------------------------------ */

Test(sim_variants, bigfarms_has_a_farm_past_300_on_3_addresses) {
    vworld w;
    vgen_variant(&w, "bigfarms", 20000, 4);
    size_t n;
    rev *e = ring_events(&w, &n);
    kv *acc = malloc(n * sizeof *acc), *ips = malloc(n * sizeof *ips);
    size_t na = 0, ni = 0, *cnt = malloc(n * sizeof *cnt), *cni = malloc(n * sizeof *cni);
    char(*rid)[16] = malloc(n * sizeof *rid);
    for (size_t i = 0; i < n; i++) {
        snprintf(rid[i], sizeof rid[i], "%08d", e[i].ring);
        if (!e[i].signup || strcmp(e[i].tactic, "datacenter_bulk")) continue;
        acc[na++] = (kv){rid[i], e[i].acct};
        if (*e[i].ip) ips[ni++] = (kv){rid[i], e[i].ip};
    }
    size_t r1 = distinct_per_key(acc, na, cnt), r2 = distinct_per_key(ips, ni, cni);
    cr_assert_eq(r1, r2);
    int found = 0;
    for (size_t i = 0; i < r1; i++) found |= cnt[i] > 300 && cni[i] <= 3;
    cr_assert(found, "no datacenter ring of more than 300 accounts signing up from 3 addresses or fewer");
    free(acc), free(ips), free(cnt), free(cni), free(rid), free(e);
    vfree(&w);
}

Test(sim_variants, cardring_fresh_devices_one_24_cards_for_3_to_8) {
    vworld w;
    vgen_variant(&w, "cardring", 20000, 4);
    size_t n;
    rev *e = ring_events(&w, &n);
    cr_assert_gt(n, 1000);
    kv *dev = malloc(n * sizeof *dev), *pfx = malloc(n * sizeof *pfx), *card = malloc(n * sizeof *card);
    kv *cardring = malloc(n * sizeof *cardring);
    size_t nd = 0, np = 0, nc = 0, *cnt = malloc(n * sizeof *cnt);
    char(*rid)[16] = malloc(n * sizeof *rid), (*p24)[48] = malloc(n * sizeof *p24);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(e[i].tactic, "stolen_cards");
        snprintf(rid[i], sizeof rid[i], "%08d", e[i].ring);
        if (*e[i].dev) dev[nd++] = (kv){e[i].dev, e[i].acct};
        prefix24(e[i].ip, p24[i], sizeof p24[i]);
        if (*e[i].ip) pfx[np++] = (kv){rid[i], p24[i]};
        if (*e[i].pay) {
            card[nc] = (kv){e[i].pay, e[i].acct};
            cardring[nc++] = (kv){e[i].pay, rid[i]};
        }
    }
    size_t k = distinct_per_key(dev, nd, cnt);
    for (size_t i = 0; i < k; i++) cr_assert_eq(cnt[i], 1, "a device used by %zu accounts", cnt[i]);
    cr_assert_gt(k, 900, "devices: %zu", k);
    k = distinct_per_key(pfx, np, cnt);
    for (size_t i = 0; i < k; i++) cr_assert_eq(cnt[i], 1, "a ring on %zu /24s", cnt[i]);
    /* Every card serves 3-8 accounts, except at most one (the last) per ring. */
    size_t ncards = distinct_per_key(card, nc, cnt), outside = 0;
    for (size_t i = 0; i < ncards; i++) {
        cr_assert_leq(cnt[i], 8, "a card used by %zu accounts", cnt[i]);
        outside += cnt[i] < 3;
    }
    size_t *cr = malloc(n * sizeof *cr);
    cr_assert_eq(distinct_per_key(cardring, nc, cr), ncards);
    for (size_t i = 0; i < ncards; i++) cr_assert_eq(cr[i], 1, "a card used by two rings");
    cr_assert_leq(outside, (size_t)w.sum.rings, "%zu cards with fewer than 3 accounts in %llu rings", outside,
                  (unsigned long long)w.sum.rings);
    free(dev), free(pfx), free(card), free(cardring), free(cnt), free(cr), free(rid), free(p24), free(e);
    vfree(&w);
}

/* Signups of datacenter rings outside each ring's two busiest /24s (IPv6
 * counts as outside); *total all their signups with an address. */
static size_t dc_signups_off_farm(const rev *e, size_t n, size_t *total) {
    kv *p = malloc((n + 1) * sizeof *p);
    char(*key)[16] = malloc((n + 1) * sizeof *key), (*pfx)[48] = malloc((n + 1) * sizeof *pfx);
    size_t np = 0, off = 0;
    for (size_t i = 0; i < n; i++) {
        if (!e[i].signup || strcmp(e[i].tactic, "datacenter_bulk") || !*e[i].ip) continue;
        snprintf(key[np], sizeof key[np], "%08d", e[i].ring);
        prefix24(e[i].ip, pfx[np], sizeof pfx[np]);
        p[np] = (kv){key[np], pfx[np]};
        np++;
    }
    qsort(p, np, sizeof *p, cmp_kv);
    for (size_t i = 0; i < np;) { /* one ring: its runs of equal /24s */
        size_t j = i, top1 = 0, top2 = 0;
        while (j < np && !strcmp(p[j].k, p[i].k)) {
            size_t k = j;
            while (k < np && !strcmp(p[k].k, p[j].k) && !strcmp(p[k].v, p[j].v)) k++;
            size_t run = *p[j].v ? k - j : 0;
            if (run > top1) {
                top2 = top1;
                top1 = run;
            } else if (run > top2) {
                top2 = run;
            }
            j = k;
        }
        off += (j - i) - top1 - top2;
        i = j;
    }
    *total = np;
    free(p), free(key), free(pfx);
    return off;
}

Test(sim_variants, slowdrip_paced_over_weeks_and_camouflaged) {
    vworld w, d;
    vgen_variant(&w, "slowdrip", 60000, 4);
    vgen_variant(&d, "default", 60000, 4);
    size_t n, nd;
    rev *e = ring_events(&w, &n), *ed = ring_events(&d, &nd);
    /* Rings' signups span weeks: most rings span more than 7 days. */
    enum { MAXR = 4096 };
    long long *lo = malloc(MAXR * sizeof *lo), *hi = malloc(MAXR * sizeof *hi);
    for (int r = 0; r < MAXR; r++) lo[r] = -1, hi[r] = -1;
    for (size_t i = 0; i < n; i++) {
        int r = e[i].ring;
        cr_assert_lt(r, MAXR);
        if (!e[i].signup) continue;
        if (lo[r] < 0 || e[i].ts < lo[r]) lo[r] = e[i].ts;
        if (e[i].ts > hi[r]) hi[r] = e[i].ts;
    }
    int spans_week = 0, rings = 0;
    for (int r = 1; r < MAXR; r++) {
        if (lo[r] < 0) continue;
        rings++;
        spans_week += hi[r] - lo[r] > 7 * 86400;
    }
    cr_assert_gt(2 * spans_week, rings, "%d of %d rings span more than a week", spans_week, rings);
    /* Camouflage: a share of a datacenter ring's signups come from phones
     * and carrier NAT outside its hosting /24s; none in the default world. */
    size_t total, total_d, off = dc_signups_off_farm(e, n, &total), off_d = dc_signups_off_farm(ed, nd, &total_d);
    cr_assert_gt(total, 30, "%zu datacenter signups", total);
    cr_assert(off * 10 > total, "only %zu of %zu datacenter signups outside the farm's /24s", off, total);
    cr_assert_eq(off_d, 0, "default world: %zu of %zu outside", off_d, total_d);
    rw_sim_config c;
    rw_sim_defaults(&c);
    cr_assert_eq(rw_sim_variant(&c, "slowdrip", NULL), RW_OK);
    cr_assert_eq(c.days, 56);
    free(lo), free(hi), free(e), free(ed);
    vfree(&w);
    vfree(&d);
}

Test(sim_variants, crowds_has_many_more_hard_negatives) {
    vworld d, w;
    vgen_variant(&d, "default", 40000, 4);
    vgen_variant(&w, "crowds", 40000, 4);
    cr_assert_gt(w.sum.hard_negative_accounts, 3 * d.sum.hard_negative_accounts, "%llu vs %llu",
                 (unsigned long long)w.sum.hard_negative_accounts, (unsigned long long)d.sum.hard_negative_accounts);
    cr_assert_geq(w.sum.hard_negative_accounts * 10, w.sum.accounts);
    vfree(&d);
    vfree(&w);
}

Test(sim_variants, wide_draws_sizes_beyond_the_default_range) {
    vworld w;
    vgen_variant(&w, "wide", 40000, 4);
    size_t n;
    rev *e = ring_events(&w, &n);
    kv *acc = malloc(n * sizeof *acc);
    size_t na = 0, *cnt = malloc(n * sizeof *cnt);
    char(*rid)[16] = malloc(n * sizeof *rid);
    for (size_t i = 0; i < n; i++) {
        snprintf(rid[i], sizeof rid[i], "%08d", e[i].ring);
        if (e[i].signup) acc[na++] = (kv){rid[i], e[i].acct};
    }
    size_t rings = distinct_per_key(acc, na, cnt), small = 0, big = 0;
    for (size_t i = 0; i < rings; i++) {
        small += cnt[i] < 8;
        big += cnt[i] > 400;
    }
    cr_assert(small > 0 && big > 0, "%zu rings below 8 and %zu above 400 of %zu", small, big, rings);
    free(acc), free(cnt), free(rid), free(e);
    vfree(&w);
}

Test(sim_variants, params_override_ring_sizes) {
    rw_sim_config c;
    rw_sim_defaults(&c);
    c.accounts = 20000;
    rw_err e = {{0}};
    cr_assert_eq(rw_sim_set(&c, "ring_size_min", "50", &e), RW_OK, "%s", e.msg);
    cr_assert_eq(rw_sim_set(&c, "ring_size_max", "60", &e), RW_OK, "%s", e.msg);
    cr_assert_eq(rw_sim_set(&c, "tactic_slow_drip", "0", &e), RW_OK, "%s", e.msg);
    vworld w;
    vgen(&w, &c);
    /* 1,000 ring accounts in rings of 50-60 (the last takes a tail below 50). */
    cr_assert(w.sum.rings >= 16 && w.sum.rings <= 20, "%llu rings", (unsigned long long)w.sum.rings);
    vfree(&w);
}

/* ---- parameter files --------------------------------------------------------------- */

static char *params_error(const char *dir, const char *text, rw_sim_config *c) {
    static char path[512], msg[1024];
    snprintf(path, sizeof path, "%s/p.conf", dir);
    cr_assert_eq(tu_write_file(path, text, strlen(text)), 0);
    rw_sim_config before = *c;
    rw_err e = {{0}};
    rw_status s = rw_sim_load_params(c, path, &e);
    cr_assert_eq(s, RW_ERR_INVALID, "accepted: %s", text);
    cr_assert(!memcmp(&before, c, sizeof before), "a bad file changed the configuration");
    const char *rel = strstr(e.msg, "/p.conf");
    cr_assert(rel && !strncmp(e.msg, path, strlen(path)), "message does not start with the path: %s", e.msg);
    snprintf(msg, sizeof msg, "p.conf%s", rel + strlen("/p.conf"));
    return msg;
}

Test(sim_variants, params_file_errors_name_file_line_and_key) {
    char *dir = tu_tmpdir();
    rw_sim_config c;
    rw_sim_defaults(&c);
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"# comment\n\nring_size_min = 10\nfoo = 3\n", "p.conf:4: foo: unknown parameter"},
        {"ring_size_min = abc\n", "p.conf:1: ring_size_min: 'abc' is not a number"},
        {"days = 30\nring_size_min = 2.5\n", "p.conf:2: ring_size_min: '2.5' is not a whole number"},
        {"vpn_p = 1.5\n", "p.conf:1: vpn_p: 1.5 is outside [0, 1]"},
        {"dc_ips_max = 65\n", "p.conf:1: dc_ips_max: 65 is outside [1, 64]"},
        {"ring_size_min\n", "p.conf:1: ring_size_min: expected key = value"},
        {"ring_size_min =\n", "p.conf:1: ring_size_min: missing value"},
        {"vpn_p = 0.1\nvpn_p = 0.2\n", "p.conf:2: vpn_p: set twice (first on line 1)"},
        {"ring_size_min = 500\n\nring_size_max = 100 # too small\n", "p.conf:3: ring_size_max: 100 is below"},
        {"ring_size_min = 500\n", "p.conf:1: ring_size_min: 500 is above ring_size_max (400)"},
        {"sc_res_p = 0.9\n", "p.conf:1: sc_res_p: sc_res_p + sc_dc_p is above 1"},
        {"tactic_datacenter_bulk = 0\ntactic_residential_proxy = 0\ntactic_stolen_cards = 0\n"
         "tactic_slow_drip = 0\ntactic_camouflage = 0\n",
         "p.conf:5: tactic_*: every tactic has weight 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *msg = params_error(dir, cases[i].text, &c);
        cr_expect(!strncmp(msg, cases[i].want, strlen(cases[i].want)), "case %zu: got '%s', want '%s'", i, msg,
                  cases[i].want);
    }
    /* A good file applies, comments and blanks included. */
    char path[512];
    snprintf(path, sizeof path, "%s/good.conf", dir);
    const char *good = "# bigger rings\n  ring_size_max = 900   # a long tail\n\nvpn_p=0.5\r\ndays = 60\n";
    cr_assert_eq(tu_write_file(path, good, strlen(good)), 0);
    rw_err e = {{0}};
    cr_assert_eq(rw_sim_load_params(&c, path, &e), RW_OK, "%s", e.msg);
    cr_assert_eq(c.p.ring_size_max, 900);
    cr_assert_float_eq(c.p.vpn_p, 0.5, 1e-12);
    cr_assert_eq(c.days, 60);
    snprintf(path, sizeof path, "%s/missing.conf", dir);
    cr_assert_eq(rw_sim_load_params(&c, path, &e), RW_ERR_IO);
    cr_assert(strstr(e.msg, "missing.conf"), "%s", e.msg);
    tu_rmtree(dir);
    free(dir);
}

Test(sim_variants, set_and_variant_errors) {
    rw_sim_config c;
    rw_sim_defaults(&c);
    rw_err e = {{0}};
    cr_assert_eq(rw_sim_set(&c, "nope", "1", &e), RW_ERR_INVALID);
    cr_assert_str_eq(e.msg, "nope: unknown parameter");
    cr_assert_eq(rw_sim_set(&c, "days", "0", &e), RW_ERR_INVALID);
    cr_assert(strstr(e.msg, "days: 0 is outside"), "%s", e.msg);
    cr_assert_eq(rw_sim_variant(&c, "huge", &e), RW_ERR_INVALID);
    cr_assert(strstr(e.msg, "huge") && strstr(e.msg, "bigfarms"), "%s", e.msg);
    /* rw_sim_run refuses a configuration rw_sim_check refuses. */
    c.p.ring_size_min = 500;
    cr_assert_eq(rw_sim_check(&c, &e), RW_ERR_INVALID);
    FILE *f = fopen("/dev/null", "w");
    cr_assert_eq(rw_sim_run(&c, f, NULL, NULL, &e), RW_ERR_INVALID);
    fclose(f);
    cr_assert(strstr(e.msg, "ring_size_min"), "%s", e.msg);
}

Test(sim_variants, written_params_read_back) {
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/all.conf", dir);
    rw_sim_config a, b;
    rw_sim_defaults(&a);
    rw_err e = {{0}};
    cr_assert_eq(rw_sim_variant(&a, "wide", &e), RW_OK, "%s", e.msg);
    FILE *f = fopen(path, "w");
    rw_sim_write_params(&a, f);
    fclose(f);
    rw_sim_defaults(&b);
    cr_assert_eq(rw_sim_load_params(&b, path, &e), RW_OK, "%s", e.msg);
    cr_assert(!memcmp(&a, &b, sizeof a), "parameters written and read back differ");
    tu_rmtree(dir);
    free(dir);
}

Test(sim_variants, cli_variant_and_params) {
    char *dir = tu_tmpdir(), *out = NULL, path[512];
    snprintf(path, sizeof path, "%s/p.conf", dir);
    const char *bad = "days = 20\ncamo_share_max = x\n";
    cr_assert_eq(tu_write_file(path, bad, strlen(bad)), 0);
    int rc = tu_run(&out, "%s simulate --accounts 1000 --params %s --out %s/ev.jsonl", tu_bin(), path, dir);
    cr_assert_eq(rc, 2, "exit %d: %s", rc, out);
    cr_assert(strstr(out, "p.conf:2: camo_share_max: 'x' is not a number"), "%s", out);
    free(out);
    rc = tu_run(&out, "%s simulate --accounts 1000 --variant nope --out %s/ev.jsonl", tu_bin(), dir);
    cr_assert_eq(rc, 2, "exit %d: %s", rc, out);
    free(out);
    rc = tu_run(&out, "%s simulate --accounts 2000 --variant cardring --out %s/ev.jsonl --truth %s/t.csv", tu_bin(),
                dir, dir);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
    free(out);
    snprintf(path, sizeof path, "%s/t.csv", dir);
    size_t len;
    char *truth = tu_read_file(path, &len);
    cr_assert(truth && strstr(truth, ",stolen_cards") && !strstr(truth, ",datacenter_bulk"));
    free(truth);
    tu_rmtree(dir);
    free(dir);
}
