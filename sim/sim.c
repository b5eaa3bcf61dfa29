/* The simulator's entry point: builds the world, sorts its compact events by
 * time (stable radix sort) and formats JSON lines and the truth table by
 * hand, deriving raw identifiers from integer ids with keyed bijections. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

/* ---- identifiers ----------------------------------------------------------- */

typedef struct {
    uint64_t acct, dev, pay, pay2, v6;
    uint64_t acct_lim, pay_lim; /* 36^10, 62^10 */
} keys;

static const char b36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static const char hexd[] = "0123456789abcdef";

/* A keyed bijection of the integers below 2^bits (add, xorshift and odd
 * multiplies, each invertible modulo 2^bits). */
static uint64_t perm_bits(uint64_t x, uint64_t k, int bits) {
    const uint64_t m = (1ull << bits) - 1;
    x = (x + k) & m;
    x ^= x >> (bits / 2);
    x = (x * 0xbf58476d1ce4e5b9ull) & m;
    x ^= x >> (bits / 2 - 3);
    x = (x * 0x94d049bb133111ebull) & m;
    x ^= x >> (bits / 2 + 1);
    return (x + (k >> 17)) & m;
}

/* Cycle-walking keeps the bijection inside [0, lim): every account gets a
 * distinct, uniformly spread code whatever kind of account it is. */
static uint64_t walk(uint64_t x, uint64_t k, int bits, uint64_t lim) {
    do x = perm_bits(x, k, bits);
    while (x >= lim);
    return x;
}

static char *put_account(char *p, uint32_t idx, const keys *k) {
    uint64_t x = walk(idx, k->acct, 52, k->acct_lim);
    *p++ = 'u';
    for (int i = 9; i >= 0; i--) {
        p[i] = b36[x % 36];
        x /= 36;
    }
    return p + 10;
}

static char *put_device(char *p, uint32_t dev, const keys *k) {
    uint64_t x = sim_mix64(dev ^ k->dev);
    *p++ = 'd';
    *p++ = '-';
    for (int i = 15; i >= 0; i--) {
        p[i] = hexd[x & 15];
        x >>= 4;
    }
    return p + 16;
}

static char *put_payment(char *p, uint32_t pay, const keys *k) {
    uint64_t x = walk(pay, k->pay, 60, k->pay_lim); /* the first 10 characters are unique */
    uint64_t y = sim_mix64(pay ^ k->pay2), z = sim_mix64(y);
    memcpy(p, "tok_", 4);
    p += 4;
    for (int i = 0; i < 10; i++, x /= 62) p[i] = b62[x % 62];
    for (int i = 10; i < 17; i++, y /= 62) p[i] = b62[y % 62];
    for (int i = 17; i < 24; i++, z /= 62) p[i] = b62[z % 62];
    return p + 24;
}

static char *put_u64(char *p, uint64_t v) {
    char t[20];
    int n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = t[--n];
    return p;
}

static char *put_i64(char *p, int64_t v) {
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

static char *put_hextet(char *p, unsigned h) {
    int started = 0;
    for (int s = 12; s >= 0; s -= 4) {
        unsigned d = h >> s & 15;
        if (d || started || s == 0) {
            *p++ = hexd[d];
            started = 1;
        }
    }
    return p;
}

/* RFC 5952 text: lower case, no leading zeros, the longest run of two or more
 * zero hextets (the first on a tie) written as "::". */
static char *put_ipv6(char *p, const uint16_t h[8]) {
    int best = -1, bestlen = 1;
    for (int i = 0; i < 8;) {
        if (h[i]) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && !h[j]) j++;
        if (j - i > bestlen) {
            best = i;
            bestlen = j - i;
        }
        i = j;
    }
    int colon = 0;
    for (int i = 0; i < 8;) {
        if (i == best) {
            *p++ = ':';
            *p++ = ':';
            colon = 0;
            i += bestlen;
            continue;
        }
        if (colon) *p++ = ':';
        p = put_hextet(p, h[i]);
        colon = 1;
        i++;
    }
    return p;
}

static char *put_ip(char *p, uint64_t ip, const keys *k) {
    if (ip >> 63) {
        uint16_t h[8];
        sim_v6_hextets(ip, k->v6, h);
        return put_ipv6(p, h);
    }
    for (int s = 24; s >= 0; s -= 8) {
        p = put_u64(p, ip >> s & 255);
        if (s) *p++ = '.';
    }
    return p;
}

/* ---- output ------------------------------------------------------------------ */

typedef struct {
    FILE *f;
    char *buf;
    size_t len, cap;
    int err_no; /* 0 while all writes succeeded */
} outbuf;

static void ob_flush(outbuf *o) {
    if (o->len && !o->err_no && fwrite(o->buf, 1, o->len, o->f) != o->len) o->err_no = errno ? errno : EIO;
    o->len = 0;
}

static int ob_finish(outbuf *o) {
    ob_flush(o);
    if (!o->err_no && (fflush(o->f) != 0 || ferror(o->f))) o->err_no = errno ? errno : EIO;
    return o->err_no;
}

#define PUT_LIT(p, s)  (memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)
#define LINE_MAX_BYTES 512

static const char *const type_json[RW_EV_TYPE_COUNT] = {
    [RW_EV_SIGNUP] = "signup\"",
    [RW_EV_LOGIN] = "login\"",
    [RW_EV_PAYMENT] = "payment\"",
};

static char *put_event(char *p, const sim_ev *e, int64_t start, const keys *k) {
    unsigned type = e->pay_type & 3;
    uint32_t pay = e->pay_type >> 2;
    p = PUT_LIT(p, "{\"account\":\"");
    p = put_account(p, e->acct, k);
    p = PUT_LIT(p, "\",\"ts\":");
    p = put_i64(p, start + e->ts);
    p = PUT_LIT(p, ",\"type\":\"");
    size_t n = strlen(type_json[type]);
    memcpy(p, type_json[type], n);
    p += n;
    if (e->ip) {
        p = PUT_LIT(p, ",\"ip\":\"");
        p = put_ip(p, e->ip, k);
        *p++ = '"';
    }
    if (e->dev) {
        p = PUT_LIT(p, ",\"device\":\"");
        p = put_device(p, e->dev, k);
        *p++ = '"';
    }
    if (pay) {
        p = PUT_LIT(p, ",\"payment\":\"");
        p = put_payment(p, pay, k);
        *p++ = '"';
    }
    p = PUT_LIT(p, "}\n");
    return p;
}

/* Stable LSD radix sort of the records themselves on ts, so events of the
 * same second keep their generation order and formatting reads memory in
 * order (gathering through an index costs a cache miss per event). Returns
 * 0 when out of memory. */
static int sort_events(sim_world *w) {
    size_t n = w->nev;
    if (n && n < w->evcap) { /* give back the unused reserve first */
        sim_ev *shrunk = realloc(w->ev, n * sizeof *shrunk);
        if (shrunk) w->ev = shrunk;
    }
    sim_ev *a = w->ev, *b = malloc((n ? n : 1) * sizeof *b);
    size_t *cnt = malloc(2048 * sizeof *cnt);
    if (!b || !cnt) {
        free(b);
        free(cnt);
        return 0;
    }
    int bits = 0;
    while (bits < 32 && (1ull << bits) < w->span) bits++;
    for (int shift = 0; shift < bits; shift += 11) {
        memset(cnt, 0, 2048 * sizeof *cnt);
        for (size_t i = 0; i < n; i++) cnt[a[i].ts >> shift & 2047]++;
        size_t s = 0;
        for (int d = 0; d < 2048; d++) {
            size_t c = cnt[d];
            cnt[d] = s;
            s += c;
        }
        for (size_t i = 0; i < n; i++) b[cnt[a[i].ts >> shift & 2047]++] = a[i];
        sim_ev *t = a;
        a = b;
        b = t;
    }
    free(b); /* the buffer not holding the result */
    free(cnt);
    w->ev = a;
    w->evcap = n ? n : 1;
    return 1;
}

static rw_status write_events(sim_world *w, const keys *k, FILE *f, rw_err *err) {
    rw_status s = RW_OK;
    outbuf o = {.f = f, .cap = 1u << 22};
    o.buf = malloc(o.cap);
    if (!o.buf || !sort_events(w)) {
        s = rw_fail(err, RW_ERR_NOMEM, "simulate: out of memory sorting %zu events", w->nev);
        goto done;
    }
    for (size_t i = 0; i < w->nev && !o.err_no; i++) {
        if (o.cap - o.len < LINE_MAX_BYTES) ob_flush(&o);
        char *p = put_event(o.buf + o.len, &w->ev[i], w->start_ts, k);
        o.len = (size_t)(p - o.buf);
    }
    int e = ob_finish(&o);
    if (e) s = rw_fail(err, RW_ERR_IO, "simulate: writing events: %s", strerror(e));
done:
    free(o.buf);
    return s;
}

static rw_status write_truth(const sim_world *w, const keys *k, FILE *f, rw_err *err) {
    outbuf o = {.f = f, .cap = 1u << 20};
    o.buf = malloc(o.cap);
    if (!o.buf) return rw_fail(err, RW_ERR_NOMEM, "simulate: out of memory writing truth");
    char *p = PUT_LIT(o.buf, "account,ring,tactic\n");
    o.len = (size_t)(p - o.buf);
    for (size_t i = 0; i < w->nacct && !o.err_no; i++) {
        if (o.cap - o.len < 128) ob_flush(&o);
        p = put_account(o.buf + o.len, (uint32_t)i, k);
        *p++ = ',';
        if (w->acct[i].ring) {
            *p++ = 'r';
            p = put_u64(p, w->acct[i].ring);
        }
        *p++ = ',';
        const char *name = sim_cat_name((sim_cat)w->acct[i].cat);
        size_t n = strlen(name);
        memcpy(p, name, n);
        p += n;
        *p++ = '\n';
        o.len = (size_t)(p - o.buf);
    }
    int e = ob_finish(&o);
    free(o.buf);
    if (e) return rw_fail(err, RW_ERR_IO, "simulate: writing truth: %s", strerror(e));
    return RW_OK;
}

static void make_keys(keys *k, uint64_t seed) {
    k->acct = sim_mix64(seed ^ 0x61636374ull);
    k->dev = sim_mix64(seed ^ 0x64657669ull);
    k->pay = sim_mix64(seed ^ 0x7061796dull);
    k->pay2 = sim_mix64(k->pay ^ 0x746f6b32ull);
    k->v6 = sim_mix64(seed ^ 0x69707636ull);
    k->acct_lim = 1;
    for (int i = 0; i < 10; i++) k->acct_lim *= 36;
    k->pay_lim = 1;
    for (int i = 0; i < 10; i++) k->pay_lim *= 62;
}

/* Accounts and event counts are bounded by 32-bit indices (with two bits of
 * the payment field spent on the event type). */
#define SIM_MAX_ACCOUNTS 100000000ull
#define SIM_MAX_DAYS     3650

rw_status rw_sim_run(const rw_sim_config *cfg, FILE *events, FILE *truth, rw_sim_summary *out, rw_err *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!cfg || !events) return rw_fail(err, RW_ERR_INVALID, "simulate: no configuration or event file");
    if (cfg->accounts < 1 || cfg->accounts > SIM_MAX_ACCOUNTS)
        return rw_fail(err, RW_ERR_INVALID, "accounts: must be between 1 and %llu",
                       (unsigned long long)SIM_MAX_ACCOUNTS);
    if (cfg->days < 1 || cfg->days > SIM_MAX_DAYS)
        return rw_fail(err, RW_ERR_INVALID, "days: must be between 1 and %d", SIM_MAX_DAYS);
    if (!(cfg->ring_share >= 0.0 && cfg->ring_share <= 0.9))
        return rw_fail(err, RW_ERR_INVALID, "ring_share: must be between 0 and 0.9");
    rw_status s = rw_sim_check(cfg, err);
    if (s != RW_OK) return s;

    sim_world w;
    s = sim_world_init(&w, cfg, err);
    if (s != RW_OK) goto done;

    uint64_t rings = (uint64_t)llround(cfg->ring_share * (double)cfg->accounts);
    sim_benign(&w, cfg->accounts - rings);
    sim_rings(&w, rings);
    if (w.nomem) {
        s = rw_fail(err, RW_ERR_NOMEM, "simulate: out of memory building %llu accounts",
                    (unsigned long long)cfg->accounts);
        goto done;
    }

    keys k;
    make_keys(&k, cfg->seed);
    s = write_events(&w, &k, events, err);
    if (s == RW_OK && truth) s = write_truth(&w, &k, truth, err);
    if (s == RW_OK && out) {
        out->accounts = w.nacct;
        out->events = w.nev;
        out->ring_accounts = w.ring_accounts;
        out->rings = w.rings;
        out->hard_negative_accounts = w.hard_neg;
    }
done:
    sim_world_free(&w);
    return s;
}
