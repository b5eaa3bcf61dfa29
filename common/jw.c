/* common: a JSON writer that appends text, for answers on hot paths (the
 * account lookup, the signup decision). Numbers and times are formatted by
 * hand: printf's %g and jansson's dump took a fifth of a lookup's CPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define JW_MAXDEPTH 63

void rw_jw_init(rw_jw *w) {
    memset(w, 0, sizeof *w);
}

char *rw_jw_take(rw_jw *w, size_t *len) {
    char *s = w->failed || w->depth || !w->s ? NULL : w->s;
    if (len) *len = s ? w->len : 0;
    if (!s) free(w->s);
    rw_jw_init(w);
    return s;
}

/* Room for n more bytes and the terminating NUL. */
static char *room(rw_jw *w, size_t n) {
    if (w->failed) return NULL;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 512;
        while (cap < w->len + n + 1) cap *= 2;
        char *s = realloc(w->s, cap);
        if (!s) {
            w->failed = 1;
            return NULL;
        }
        w->s = s;
        w->cap = cap;
    }
    return w->s + w->len;
}

static void put(rw_jw *w, const char *s, size_t n) {
    char *p = room(w, n);
    if (!p) return;
    memcpy(p, s, n);
    w->len += n;
    w->s[w->len] = 0;
}

/* The comma before a value or key, unless it is the container's first or
 * the value of the key just written. */
static void sep(rw_jw *w) {
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (!w->depth) return;
    uint64_t bit = 1ull << w->depth;
    if (w->first & bit)
        w->first &= ~bit;
    else
        put(w, ",", 1);
}

static void open_(rw_jw *w, char c) {
    sep(w);
    if (w->depth == JW_MAXDEPTH) {
        w->failed = 1;
        return;
    }
    put(w, &c, 1);
    w->depth++;
    w->first |= 1ull << w->depth;
    if (c == '[') w->is_array |= 1ull << w->depth;
}

void rw_jw_object(rw_jw *w) {
    open_(w, '{');
}

void rw_jw_array(rw_jw *w) {
    open_(w, '[');
}

void rw_jw_end(rw_jw *w) {
    if (!w->depth) {
        w->failed = 1;
        return;
    }
    uint64_t bit = 1ull << w->depth;
    char close = w->is_array & bit ? ']' : '}';
    w->first &= ~bit;
    w->is_array &= ~bit;
    w->depth--;
    w->after_key = 0;
    put(w, &close, 1);
}

static void string_(rw_jw *w, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    /* Worst case: every byte a \u00XX escape. */
    char *p = room(w, 6 * len + 2);
    if (!p) return;
    char *o = p;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            static const char short_[32] = {['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
            *o++ = '\\';
            if (short_[c]) {
                *o++ = short_[c];
            } else {
                memcpy(o, "u00", 3);
                o += 3;
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    w->len += (size_t)(o - p);
    w->s[w->len] = 0;
}

void rw_jw_key(rw_jw *w, const char *key) {
    sep(w);
    string_(w, key, strlen(key));
    put(w, ":", 1);
    w->after_key = 1;
}

void rw_jw_str(rw_jw *w, const char *s, size_t len) {
    sep(w);
    string_(w, s, len);
}

void rw_jw_cstr(rw_jw *w, const char *s) {
    if (!s) {
        rw_jw_null(w);
        return;
    }
    rw_jw_str(w, s, strlen(s));
}

/* Decimal digits of v into the end of buf; returns the first. */
static char *digits(char *end, uint64_t v) {
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

void rw_jw_int(rw_jw *w, int64_t v) {
    sep(w);
    char buf[24], *end = buf + sizeof buf, *p = digits(end, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    if (v < 0) *--p = '-';
    put(w, p, (size_t)(end - p));
}

void rw_jw_num(rw_jw *w, double v) {
    if (!isfinite(v)) {
        rw_jw_null(w);
        return;
    }
    sep(w);
    double a = fabs(v);
    if (a >= 1e15) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%.10g", v);
        put(w, buf, (size_t)n);
        return;
    }
    uint64_t micro = (uint64_t)llround(a * 1e6), whole = micro / 1000000, frac = micro % 1000000;
    char buf[40], *end = buf + sizeof buf, *p = end;
    if (frac) {
        int n = 6;
        while (frac % 10 == 0) frac /= 10, n--;
        for (int i = 0; i < n; i++, frac /= 10) *--p = (char)('0' + frac % 10);
        *--p = '.';
    }
    p = digits(p, whole);
    if (v < 0 && micro) *--p = '-';
    put(w, p, (size_t)(end - p));
}

void rw_jw_bool(rw_jw *w, int v) {
    sep(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void rw_jw_null(rw_jw *w) {
    sep(w);
    put(w, "null", 4);
}

void rw_jw_time(rw_jw *w, int64_t ts) {
    if (ts <= 0) {
        rw_jw_null(w);
        return;
    }
    char t[32];
    rw_time_format(t, sizeof t, ts);
    rw_jw_cstr(w, t);
}

void rw_jw_kcstr(rw_jw *w, const char *key, const char *s) {
    rw_jw_key(w, key);
    rw_jw_cstr(w, s);
}

void rw_jw_kint(rw_jw *w, const char *key, int64_t v) {
    rw_jw_key(w, key);
    rw_jw_int(w, v);
}

void rw_jw_knum(rw_jw *w, const char *key, double v) {
    rw_jw_key(w, key);
    rw_jw_num(w, v);
}

void rw_jw_kbool(rw_jw *w, const char *key, int v) {
    rw_jw_key(w, key);
    rw_jw_bool(w, v);
}

void rw_jw_ktime(rw_jw *w, const char *key, int64_t ts) {
    rw_jw_key(w, key);
    rw_jw_time(w, ts);
}
