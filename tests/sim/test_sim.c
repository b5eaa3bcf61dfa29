/* Tests of the simulator: determinism, time order, one signup per account
 * (first), truth coverage, tactics and hard negatives present, ring share,
 * hub structure, the line format, and errors. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* ---- helpers ----------------------------------------------------------------- */

typedef struct {
    char *ev, *truth;
    size_t evlen, truthlen;
    rw_sim_summary sum;
} world;

static rw_status gen_status(world *w, uint64_t accounts, uint64_t seed, double share, rw_err *e) {
    rw_sim_config c;
    rw_sim_defaults(&c);
    c.accounts = accounts;
    c.seed = seed;
    if (share >= 0) c.ring_share = share;
    memset(w, 0, sizeof *w);
    FILE *fe = open_memstream(&w->ev, &w->evlen), *ft = open_memstream(&w->truth, &w->truthlen);
    cr_assert(fe && ft);
    rw_status s = rw_sim_run(&c, fe, ft, &w->sum, e);
    fclose(fe);
    fclose(ft);
    return s;
}

static void gen(world *w, uint64_t accounts, uint64_t seed, double share) {
    rw_err e = {{0}};
    rw_status s = gen_status(w, accounts, seed, share, &e);
    cr_assert_eq(s, RW_OK, "rw_sim_run: %s: %s", rw_status_str(s), e.msg);
}

static void world_free(world *w) {
    free(w->ev);
    free(w->truth);
}

typedef struct {
    const char *p;
    size_t n;
} span;

/* Splits buf into lines (without newlines); caller frees. Every line must end
 * with a newline. */
static span *split_lines(const char *buf, size_t len, size_t *count) {
    size_t cap = 1024, n = 0;
    span *v = malloc(cap * sizeof *v);
    cr_assert(v);
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        cr_assert(nl, "last line has no newline");
        if (n == cap) {
            span *nv = realloc(v, (cap *= 2) * sizeof *v);
            cr_assert(nv);
            v = nv;
        }
        v[n].p = p;
        v[n].n = (size_t)(nl - p);
        n++;
        p = nl + 1;
    }
    *count = n;
    return v;
}

typedef struct {
    char id[128], ring[128], tactic[128];
} truth_row;

static int cmp_row(const void *a, const void *b) {
    return strcmp(((const truth_row *)a)->id, ((const truth_row *)b)->id);
}

/* Parses the truth table (checking its header), sorted by account id. */
static truth_row *load_truth(const world *w, size_t *count) {
    size_t n;
    span *l = split_lines(w->truth, w->truthlen, &n);
    cr_assert(n >= 1);
    cr_assert(l[0].n == 19 && memcmp(l[0].p, "account,ring,tactic", 19) == 0, "bad truth header");
    truth_row *rows = calloc(n, sizeof *rows);
    for (size_t i = 1; i < n; i++) {
        char tmp[128];
        cr_assert(l[i].n < sizeof tmp);
        memcpy(tmp, l[i].p, l[i].n);
        tmp[l[i].n] = 0;
        char *c1 = strchr(tmp, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        cr_assert(c1 && c2 && !strchr(c2 + 1, ','), "bad truth row: %s", tmp);
        *c1 = *c2 = 0;
        snprintf(rows[i - 1].id, sizeof rows[i - 1].id, "%s", tmp);
        snprintf(rows[i - 1].ring, sizeof rows[i - 1].ring, "%s", c1 + 1);
        snprintf(rows[i - 1].tactic, sizeof rows[i - 1].tactic, "%s", c2 + 1);
    }
    free(l);
    *count = n - 1;
    qsort(rows, *count, sizeof *rows, cmp_row);
    return rows;
}

static long find_row(const truth_row *rows, size_t n, const char *id) {
    truth_row key;
    snprintf(key.id, sizeof key.id, "%s", id);
    const truth_row *r = bsearch(&key, rows, n, sizeof *rows, cmp_row);
    return r ? (long)(r - rows) : -1;
}

/* Copies the string value of "key":"..." in a line into out ("" if absent). */
static void field(const span *l, const char *key, char *out, size_t size) {
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    out[0] = 0;
    const char *end = l->p + l->n, *p = l->p;
    size_t pl = strlen(pat);
    for (; p + pl <= end; p++) {
        if (memcmp(p, pat, pl) != 0) continue;
        p += pl;
        const char *q = memchr(p, '"', (size_t)(end - p));
        cr_assert(q);
        size_t n = (size_t)(q - p);
        cr_assert(n < size);
        memcpy(out, p, n);
        out[n] = 0;
        return;
    }
}

/* Whether the line contains s. */
static int has(const span *l, const char *s) {
    return memmem(l->p, l->n, s, strlen(s)) != NULL;
}

static int is_ring(const truth_row *r) {
    return r->ring[0] != 0;
}

/* ---- tests --------------------------------------------------------------------- */

Test(sim, defaults) {
    rw_sim_config c;
    rw_sim_defaults(&c);
    cr_assert_eq(c.accounts, 100000);
    cr_assert_eq(c.seed, 1);
    cr_assert_eq(c.start_ts, 1788220800); /* 2026-09-01T00:00:00Z */
    cr_assert_eq(c.days, 30);
    cr_assert_float_eq(c.ring_share, 0.05, 1e-12);
}

Test(sim, deterministic_for_a_seed) {
    world a, b, c;
    gen(&a, 5000, 7, -1);
    gen(&b, 5000, 7, -1);
    gen(&c, 5000, 8, -1);
    cr_assert_eq(a.evlen, b.evlen);
    cr_assert(memcmp(a.ev, b.ev, a.evlen) == 0, "same seed, different events");
    cr_assert_eq(a.truthlen, b.truthlen);
    cr_assert(memcmp(a.truth, b.truth, a.truthlen) == 0, "same seed, different truth");
    cr_assert(a.evlen != c.evlen || memcmp(a.ev, c.ev, a.evlen) != 0, "different seeds, same events");
    world_free(&a);
    world_free(&b);
    world_free(&c);
}

Test(sim, sorted_and_one_signup_first) {
    world w;
    gen(&w, 20000, 3, -1);
    size_t nt, n;
    truth_row *rows = load_truth(&w, &nt);
    span *l = split_lines(w.ev, w.evlen, &n);
    unsigned char *state = calloc(nt, 1); /* 0 unseen, 1 signed up */
    long long last = -1;
    for (size_t i = 0; i < n; i++) {
        json_error_t je;
        json_t *o = json_loadb(l[i].p, l[i].n, 0, &je);
        cr_assert(o, "line %zu: %s", i + 1, je.text);
        long long ts = json_integer_value(json_object_get(o, "ts"));
        cr_assert_geq(ts, last, "line %zu: ts goes back", i + 1);
        last = ts;
        long k = find_row(rows, nt, json_string_value(json_object_get(o, "account")));
        cr_assert_geq(k, 0, "line %zu: account not in truth", i + 1);
        int signup = strcmp(json_string_value(json_object_get(o, "type")), "signup") == 0;
        if (state[k] == 0)
            cr_assert(signup, "line %zu: first event of an account is not its signup", i + 1);
        else
            cr_assert(!signup, "line %zu: a second signup", i + 1);
        state[k] = 1;
        json_decref(o);
    }
    for (size_t k = 0; k < nt; k++) cr_assert_eq(state[k], 1, "account %s has no events", rows[k].id);
    free(state);
    free(l);
    free(rows);
    world_free(&w);
}

Test(sim, truth_covers_every_account_once) {
    world w;
    gen(&w, 20000, 4, -1);
    size_t nt, n;
    truth_row *rows = load_truth(&w, &nt);
    cr_assert_eq(nt, 20000);
    cr_assert_eq(w.sum.accounts, 20000);
    for (size_t i = 1; i < nt; i++) cr_assert(strcmp(rows[i - 1].id, rows[i].id) != 0, "duplicate %s", rows[i].id);
    span *l = split_lines(w.ev, w.evlen, &n);
    cr_assert_eq(n, w.sum.events);
    size_t signups = 0, ring_rows = 0, hard = 0;
    for (size_t i = 0; i < n; i++) signups += has(&l[i], "\"type\":\"signup\"");
    cr_assert_eq(signups, nt);
    for (size_t k = 0; k < nt; k++) {
        ring_rows += is_ring(&rows[k]);
        hard += !strcmp(rows[k].tactic, "office") || !strcmp(rows[k].tactic, "campus");
        if (is_ring(&rows[k])) cr_assert(rows[k].ring[0] == 'r' && isdigit((unsigned char)rows[k].ring[1]));
    }
    cr_assert_eq(ring_rows, w.sum.ring_accounts);
    cr_assert_eq(hard, w.sum.hard_negative_accounts);
    free(l);
    free(rows);
    world_free(&w);
}

Test(sim, every_tactic_and_hard_negatives_present) {
    static const char *const tactics[] = {"datacenter_bulk", "residential_proxy", "stolen_cards", "slow_drip",
                                          "camouflage"};
    static const char *const benign[] = {"household", "nat", "vpn_user", "office", "campus"};
    world w;
    gen(&w, 20000, 5, -1);
    size_t nt;
    truth_row *rows = load_truth(&w, &nt);
    for (size_t t = 0; t < 5; t++) {
        size_t ring_acc = 0, benign_acc = 0;
        for (size_t k = 0; k < nt; k++) {
            if (is_ring(&rows[k]) && !strcmp(rows[k].tactic, tactics[t])) ring_acc++;
            if (!is_ring(&rows[k]) && !strcmp(rows[k].tactic, benign[t])) benign_acc++;
            if (!is_ring(&rows[k])) {
                int known = 0;
                for (size_t b = 0; b < 5; b++) known |= !strcmp(rows[k].tactic, benign[b]);
                cr_assert(known, "benign kind %s", rows[k].tactic);
            }
        }
        cr_assert_geq(ring_acc, 8, "tactic %s has %zu accounts", tactics[t], ring_acc);
        cr_assert_gt(benign_acc, 0, "no %s accounts", benign[t]);
    }
    cr_assert_geq(w.sum.rings, 5);
    cr_assert_geq(w.sum.hard_negative_accounts, 200);
    free(rows);
    world_free(&w);
}

Test(sim, ring_share_close_to_config) {
    double shares[] = {0.05, 0.12, 0.0};
    for (int i = 0; i < 3; i++) {
        world w;
        gen(&w, 20000, 6, shares[i]);
        double got = (double)w.sum.ring_accounts / (double)w.sum.accounts;
        cr_assert_float_eq(got, shares[i], 0.002, "share %.3f, asked %.3f", got, shares[i]);
        if (shares[i] == 0.0) cr_assert_eq(w.sum.rings, 0);
        world_free(&w);
    }
}

typedef struct {
    char val[48], acct[16];
} pair;

static int cmp_pair(const void *a, const void *b) {
    const pair *x = a, *y = b;
    int c = strcmp(x->val, y->val);
    return c ? c : strcmp(x->acct, y->acct);
}

/* The largest number of distinct accounts on one value of key, and that
 * value in top (size 48). */
static size_t max_degree(const span *l, size_t n, const char *key, char *top) {
    pair *p = malloc(n * sizeof *p);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        field(&l[i], key, p[m].val, sizeof p[m].val);
        if (!p[m].val[0]) continue;
        field(&l[i], "account", p[m].acct, sizeof p[m].acct);
        m++;
    }
    qsort(p, m, sizeof *p, cmp_pair);
    size_t best = 0, run = 0;
    for (size_t i = 0; i < m; i++) {
        if (i == 0 || strcmp(p[i].val, p[i - 1].val) != 0) run = 0;
        if (i == 0 || cmp_pair(&p[i], &p[i - 1]) != 0) run++;
        if (run > best) {
            best = run;
            snprintf(top, 48, "%s", p[i].val);
        }
    }
    free(p);
    return best;
}

Test(sim, hubs_present_and_benign) {
    world w;
    gen(&w, 100000, 1, -1);
    size_t n, nt;
    span *l = split_lines(w.ev, w.evlen, &n);
    truth_row *rows = load_truth(&w, &nt);
    char top_ip[48], top_dev[48];
    size_t ip_deg = max_degree(l, n, "ip", top_ip), dev_deg = max_degree(l, n, "device", top_dev);
    cr_assert_geq(ip_deg, 500, "largest IP hub has %zu accounts", ip_deg);
    cr_assert_geq(dev_deg, 300, "largest device hub has %zu accounts", dev_deg);
    /* The big hub is carrier NAT or a VPN exit: mostly benign accounts. */
    size_t on_hub = 0, ring_on_hub = 0;
    for (size_t i = 0; i < n; i++) {
        char ip[48], acct[16];
        field(&l[i], "ip", ip, sizeof ip);
        if (strcmp(ip, top_ip) != 0) continue;
        field(&l[i], "account", acct, sizeof acct);
        long k = find_row(rows, nt, acct);
        cr_assert_geq(k, 0);
        on_hub++;
        ring_on_hub += is_ring(&rows[k]);
    }
    cr_assert_lt((double)ring_on_hub, 0.1 * (double)on_hub, "hub %s: %zu of %zu events from rings", top_ip, ring_on_hub,
                 on_hub);
    free(rows);
    free(l);
    world_free(&w);
}

/* An office or campus: at least 20 accounts that signed up from one IP within
 * a few hours, and they are benign. */
Test(sim, offices_and_campuses_onboard_in_bursts) {
    world w;
    gen(&w, 20000, 9, -1);
    size_t n, nt;
    span *l = split_lines(w.ev, w.evlen, &n);
    truth_row *rows = load_truth(&w, &nt);
    size_t offices = 0, campuses = 0;
    for (size_t k = 0; k < nt; k++) {
        offices += !strcmp(rows[k].tactic, "office");
        campuses += !strcmp(rows[k].tactic, "campus");
        if (!strcmp(rows[k].tactic, "office") || !strcmp(rows[k].tactic, "campus")) cr_assert(!is_ring(&rows[k]));
    }
    cr_assert_geq(offices, 20);
    cr_assert_geq(campuses, 100);
    /* Signups of office accounts: their most common signup IP carries >= 20
     * of them within 6 hours. */
    pair *p = malloc(nt * sizeof *p);
    long long *ts = malloc(nt * sizeof *ts);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!has(&l[i], "\"type\":\"signup\"")) continue;
        char acct[16];
        field(&l[i], "account", acct, sizeof acct);
        long k = find_row(rows, nt, acct);
        if (strcmp(rows[k].tactic, "office") != 0) continue;
        field(&l[i], "ip", p[m].val, sizeof p[m].val);
        ts[m] = strtoll(strstr(l[i].p, "\"ts\":") + 5, NULL, 10);
        snprintf(p[m].acct, sizeof p[m].acct, "%s", acct);
        m++;
    }
    size_t best = 0;
    for (size_t i = 0; i < m; i++) {
        size_t c = 0;
        long long lo = ts[i], hi = ts[i];
        for (size_t j = 0; j < m; j++) {
            if (strcmp(p[i].val, p[j].val) != 0) continue;
            c++;
            if (ts[j] < lo) lo = ts[j];
            if (ts[j] > hi) hi = ts[j];
        }
        if (c > best && hi - lo <= 6 * 3600) best = c;
    }
    cr_assert_geq(best, 15, "no office burst: best %zu", best);
    free(p);
    free(ts);
    free(rows);
    free(l);
    world_free(&w);
}

static int all_in(const char *s, size_t n, const char *alphabet) {
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(alphabet, s[i])) return 0;
    return s[n] == 0;
}

Test(sim, lines_are_valid_json_with_required_fields) {
    world w;
    gen(&w, 20000, 11, -1);
    size_t n;
    span *l = split_lines(w.ev, w.evlen, &n);
    const long long start = 1788220800, end = start + 30LL * 86400;
    size_t v6 = 0, with_ip = 0, with_dev = 0, with_pay = 0;
    for (size_t i = 0; i < n; i++) {
        json_error_t je;
        json_t *o = json_loadb(l[i].p, l[i].n, JSON_REJECT_DUPLICATES, &je);
        cr_assert(o && json_is_object(o), "line %zu: %s", i + 1, je.text);
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v) {
            cr_assert(!strcmp(k, "account") || !strcmp(k, "ts") || !strcmp(k, "type") || !strcmp(k, "ip") ||
                          !strcmp(k, "device") || !strcmp(k, "payment"),
                      "line %zu: unexpected key %s", i + 1, k);
            if (strcmp(k, "ts") != 0) cr_assert(json_is_string(v), "line %zu: %s not a string", i + 1, k);
        }
        const char *acct = json_string_value(json_object_get(o, "account"));
        cr_assert(acct && acct[0] == 'u' && all_in(acct + 1, 10, "0123456789abcdefghijklmnopqrstuvwxyz"),
                  "line %zu: account %s", i + 1, acct ? acct : "(none)");
        json_t *ts = json_object_get(o, "ts");
        cr_assert(json_is_integer(ts), "line %zu: ts", i + 1);
        cr_assert(json_integer_value(ts) >= start && json_integer_value(ts) < end, "line %zu: ts out of month", i + 1);
        const char *type = json_string_value(json_object_get(o, "type"));
        cr_assert(type && (!strcmp(type, "signup") || !strcmp(type, "login") || !strcmp(type, "payment")));
        const char *ip = json_string_value(json_object_get(o, "ip"));
        if (ip) {
            unsigned char a[16];
            char back[64];
            int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
            cr_assert(inet_pton(fam, ip, a) == 1, "line %zu: ip %s", i + 1, ip);
            cr_assert(inet_ntop(fam, a, back, sizeof back) && !strcmp(back, ip), "line %zu: ip %s not canonical", i + 1,
                      ip);
            with_ip++;
            v6 += fam == AF_INET6;
        }
        const char *dev = json_string_value(json_object_get(o, "device"));
        if (dev) {
            cr_assert(!strncmp(dev, "d-", 2) && all_in(dev + 2, 16, "0123456789abcdef"), "line %zu: device %s", i + 1,
                      dev);
            with_dev++;
        }
        const char *pay = json_string_value(json_object_get(o, "payment"));
        if (pay) {
            cr_assert(!strncmp(pay, "tok_", 4) &&
                          all_in(pay + 4, 24, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
                      "line %zu: payment %s", i + 1, pay);
            with_pay++;
        }
        if (!strcmp(type, "payment")) cr_assert(pay, "line %zu: payment event without a token", i + 1);
        json_decref(o);
    }
    /* Optional fields are mostly present; a tenth or so of IPs are IPv6. */
    cr_assert_gt(with_ip, n * 95 / 100);
    cr_assert_gt(with_dev, n * 80 / 100);
    cr_assert_gt(with_pay, n / 10);
    cr_assert(v6 > with_ip / 20 && v6 < with_ip / 5, "IPv6 share %zu of %zu", v6, with_ip);
    free(l);
    world_free(&w);
}

Test(sim, share_of_accounts_with_payment_and_events_per_account) {
    world w;
    gen(&w, 20000, 12, -1);
    size_t n;
    span *l = split_lines(w.ev, w.evlen, &n);
    pair *p = malloc(n * sizeof *p);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!has(&l[i], "\"payment\":\"")) continue;
        p[m].val[0] = 0;
        field(&l[i], "account", p[m].acct, sizeof p[m].acct);
        m++;
    }
    qsort(p, m, sizeof *p, cmp_pair);
    size_t payers = 0;
    for (size_t i = 0; i < m; i++) payers += i == 0 || strcmp(p[i].acct, p[i - 1].acct) != 0;
    double share = (double)payers / (double)w.sum.accounts, per = (double)w.sum.events / (double)w.sum.accounts;
    cr_assert(share > 0.2 && share < 0.4, "payment share %.3f", share);
    cr_assert(per > 2.0 && per < 3.5, "events per account %.2f", per);
    free(p);
    free(l);
    world_free(&w);
}

Test(sim, tiny_worlds) {
    uint64_t sizes[] = {1, 7, 60, 500};
    for (int i = 0; i < 4; i++) {
        world w;
        gen(&w, sizes[i], 13, 0.3);
        cr_assert_eq(w.sum.accounts, sizes[i]);
        size_t nt;
        truth_row *rows = load_truth(&w, &nt);
        cr_assert_eq(nt, sizes[i]);
        free(rows);
        world_free(&w);
    }
}

Test(sim, no_truth_file) {
    rw_sim_config c;
    rw_sim_defaults(&c);
    c.accounts = 300;
    char *buf = NULL;
    size_t len = 0;
    FILE *fe = open_memstream(&buf, &len);
    rw_sim_summary s;
    cr_assert_eq(rw_sim_run(&c, fe, NULL, &s, NULL), RW_OK);
    fclose(fe);
    cr_assert_gt(len, 0);
    cr_assert_eq(s.accounts, 300);
    free(buf);
}

Test(sim, invalid_config) {
    rw_sim_config c;
    rw_sim_summary s;
    rw_err e = {{0}};
    FILE *f = fopen("/dev/null", "w");
    cr_assert(f);
    rw_sim_defaults(&c);
    c.accounts = 0;
    cr_assert_eq(rw_sim_run(&c, f, NULL, &s, &e), RW_ERR_INVALID);
    cr_assert(strstr(e.msg, "accounts"));
    rw_sim_defaults(&c);
    c.days = 0;
    cr_assert_eq(rw_sim_run(&c, f, NULL, &s, &e), RW_ERR_INVALID);
    rw_sim_defaults(&c);
    c.ring_share = 1.5;
    cr_assert_eq(rw_sim_run(&c, f, NULL, &s, &e), RW_ERR_INVALID);
    fclose(f);
}

Test(sim, write_failure_is_io_error) {
    FILE *f = fopen("/dev/full", "w");
    if (!f) cr_skip_test("no /dev/full");
    rw_sim_config c;
    rw_sim_defaults(&c);
    c.accounts = 2000;
    rw_sim_summary s;
    rw_err e = {{0}};
    cr_assert_eq(rw_sim_run(&c, f, NULL, &s, &e), RW_ERR_IO);
    cr_assert(strstr(e.msg, "writing events"), "message: %s", e.msg);
    cr_assert_eq(s.events, 0);
    fclose(f);
}

Test(sim, short_month_stays_in_range) {
    rw_sim_config c;
    rw_sim_defaults(&c);
    c.accounts = 3000;
    c.days = 2;
    c.start_ts = 1788220800 + 5 * 3600 + 17; /* not at midnight */
    c.ring_share = 0.2;
    char *buf = NULL;
    size_t len = 0, n;
    FILE *fe = open_memstream(&buf, &len);
    rw_sim_summary s;
    rw_err e = {{0}};
    cr_assert_eq(rw_sim_run(&c, fe, NULL, &s, &e), RW_OK, "%s", e.msg);
    fclose(fe);
    span *l = split_lines(buf, len, &n);
    cr_assert_eq(n, s.events);
    long long last = c.start_ts;
    for (size_t i = 0; i < n; i++) {
        const char *p = memmem(l[i].p, l[i].n, "\"ts\":", 5);
        cr_assert(p);
        long long ts = strtoll(p + 5, NULL, 10);
        cr_assert(ts >= last && ts < c.start_ts + 2 * 86400, "line %zu: ts %lld", i + 1, ts);
        last = ts;
    }
    cr_assert_eq(s.accounts, 3000);
    cr_assert_float_eq((double)s.ring_accounts / 3000.0, 0.2, 0.002);
    free(l);
    free(buf);
}
