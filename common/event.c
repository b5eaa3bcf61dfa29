/* Event lines: a hand-written single-pass JSON parser for one event object
 * (no allocation, ~10x faster than jansson), plus the IP, RFC 3339 time and
 * UTF-8 helpers it needs. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

/* Unknown values may nest; the limit keeps recursion (and hostile lines)
 * bounded. */
#define MAX_DEPTH 64

/* ---- UTF-8 ----------------------------------------------------------------- */

static int is_cont(uint8_t c) {
    return (c & 0xC0) == 0x80;
}

/* Length (1-4) of the strictly valid UTF-8 sequence at s, or 0. Follows
 * Unicode table 3-7, which rules out overlongs, surrogates and > U+10FFFF. */
static size_t utf8_seq(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) return n >= 2 && is_cont(s[1]) ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || !is_cont(s[2])) return 0;
        uint8_t lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return s[1] >= lo && s[1] <= hi ? 3 : 0;
    }
    if (c < 0xF5) {
        if (n < 4 || !is_cont(s[2]) || !is_cont(s[3])) return 0;
        uint8_t lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return s[1] >= lo && s[1] <= hi ? 4 : 0;
    }
    return 0;
}

int rw_utf8_valid(const char *s, size_t len) {
    const uint8_t *u = (const uint8_t *)s;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(u + i, len - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

static size_t utf8_put(uint8_t *o, unsigned cp) {
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- IP addresses ---------------------------------------------------------- */

enum { V4_OK, V4_BAD, V4_LEADING_ZERO };

/* Strict dotted quad. Leading zeros are refused because other parsers read
 * them as octal: "010.1.1.1" would be two different hosts downstream. */
static int parse_v4(uint8_t a[4], const char *s, size_t len) {
    size_t p = 0;
    for (int i = 0; i < 4; i++) {
        if (i > 0 && (p >= len || s[p++] != '.')) return V4_BAD;
        size_t start = p;
        unsigned v = 0;
        while (p < len && p - start < 4 && s[p] >= '0' && s[p] <= '9') v = v * 10 + (unsigned)(s[p++] - '0');
        size_t nd = p - start;
        if (nd == 0 || nd > 3 || v > 255) return V4_BAD;
        if (nd > 1 && s[start] == '0') return V4_LEADING_ZERO;
        a[i] = (uint8_t)v;
    }
    return p == len ? V4_OK : V4_BAD;
}

static int is_v4_mapped(const uint8_t a[16]) {
    for (int i = 0; i < 10; i++)
        if (a[i]) return 0;
    return a[10] == 0xff && a[11] == 0xff;
}

/* Parses an address into its 16-byte form (IPv4 as v4-mapped). Returns NULL
 * on success, else a reason ("" when there is nothing more to say). */
static const char *ip_parse(uint8_t a[16], const char *in, size_t len) {
    int colon = 0;
    memset(a, 0, 16);
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '%') return "zone ids (%...) are not accepted";
        colon |= in[i] == ':';
    }
    if (!colon) {
        a[10] = a[11] = 0xff;
        int r = parse_v4(a + 12, in, len);
        return r == V4_OK ? NULL : r == V4_LEADING_ZERO ? "IPv4 parts must not have leading zeros" : "";
    }
    char buf[INET6_ADDRSTRLEN];
    if (len >= sizeof buf || memchr(in, 0, len)) return "";
    memcpy(buf, in, len);
    buf[len] = '\0';
    return inet_pton(AF_INET6, buf, a) == 1 ? NULL : "";
}

static size_t fmt_v4(char *o, const uint8_t a[4]) {
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (i) o[n++] = '.';
        if (v >= 100) o[n++] = (char)('0' + v / 100);
        if (v >= 10) o[n++] = (char)('0' + v / 10 % 10);
        o[n++] = (char)('0' + v % 10);
    }
    o[n] = '\0';
    return n;
}

/* Writes the normalised text of a into buf (INET6_ADDRSTRLEN bytes). */
static size_t ip_format(char *buf, const uint8_t a[16]) {
    if (is_v4_mapped(a)) return fmt_v4(buf, a + 12);
    if (!inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN)) buf[0] = '\0';
    return strlen(buf);
}

static rw_status copy_out(char *out, size_t out_size, const char *s, size_t n) {
    if (n >= out_size) return RW_ERR_LIMIT;
    memcpy(out, s, n + 1);
    return RW_OK;
}

rw_status rw_ip_normalise(char *out, size_t out_size, uint8_t addr16[16], const char *in, size_t len) {
    uint8_t a[16];
    char buf[INET6_ADDRSTRLEN];
    if (out_size) out[0] = '\0';
    if (addr16) memset(addr16, 0, 16);
    if (!in || ip_parse(a, in, len)) return RW_ERR_INVALID;
    rw_status s = copy_out(out, out_size, buf, ip_format(buf, a));
    if (s == RW_OK && addr16) memcpy(addr16, a, 16);
    return s;
}

rw_status rw_ip_subnet(char *out, size_t out_size, const char *normalised_ip) {
    uint8_t a[16];
    char buf[INET6_ADDRSTRLEN + 4];
    if (out_size) out[0] = '\0';
    if (!normalised_ip || ip_parse(a, normalised_ip, strlen(normalised_ip))) return RW_ERR_INVALID;
    int v4 = is_v4_mapped(a);
    if (v4)
        a[15] = 0;
    else
        memset(a + 6, 0, 10);
    size_t n = ip_format(buf, a);
    memcpy(buf + n, v4 ? "/24" : "/48", 4);
    return copy_out(out, out_size, buf, n + 3);
}

/* ---- time ------------------------------------------------------------------ */

/* Howard Hinnant's days_from_civil / civil_from_days: exact for the
 * proleptic Gregorian calendar, no tables, no timegm() and its TZ lock. */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m) {
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dim[m - 1];
}

/* Reads n ASCII digits at s; -1 when one is not a digit. */
static int digits(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Reads "+hh:mm", "-hh:mm", "Z" or "z" at s[0..n) into seconds east of UTC;
 * NULL on success, else the reason. */
static const char *parse_zone(int *off, const char *s, size_t n) {
    *off = 0;
    if (n == 1 && (s[0] == 'Z' || s[0] == 'z')) return NULL;
    if (n != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':') return "expected Z or an offset like +02:00 at the end";
    int h = digits(s + 1, 2), m = digits(s + 4, 2);
    if (h < 0 || m < 0 || h > 23 || m > 59) return "offset out of range";
    *off = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
    return NULL;
}

/* Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm)"; NULL on success, else the
 * reason, so the event parser can say what is wrong. */
static const char *parse_rfc3339(int64_t *out, const char *s, size_t len) {
    *out = 0;
    if (len < 19) return "too short";
    if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
        return "expected the form 2026-09-21T14:03:00Z";
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0) return "expected the form 2026-09-21T14:03:00Z";
    if (mo < 1 || mo > 12) return "month out of range";
    if (d < 1 || d > days_in_month(y, mo)) return "day out of range for the month";
    if (h > 23 || mi > 59 || sec > 60) return "time of day out of range";
    size_t p = 19;
    if (p < len && s[p] == '.') { /* fractional seconds are truncated */
        size_t start = ++p;
        while (p < len && s[p] >= '0' && s[p] <= '9') p++;
        if (p == start) return "expected digits after '.'";
    }
    int off;
    const char *why = parse_zone(&off, s + p, len - p);
    if (why) return why;
    if (sec == 60) sec = 59; /* a leap second: Unix time has no slot for it */
    *out = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec - off;
    return NULL;
}

rw_status rw_time_parse_rfc3339(int64_t *out, const char *s, size_t len) {
    if (!s) {
        *out = 0;
        return RW_ERR_INVALID;
    }
    return parse_rfc3339(out, s, len) ? RW_ERR_INVALID : RW_OK;
}

void rw_time_format(char *out, size_t out_size, int64_t ts) {
    /* Clamped to years 0000-9999 so the text always fits 21 bytes. */
    const int64_t lo = -62167219200, hi = 253402300799;
    if (!out || !out_size) return;
    ts = ts < lo ? lo : ts > hi ? hi : ts;
    int64_t days = (ts >= 0 ? ts : ts - 86399) / 86400, secs = ts - days * 86400, y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    /* By hand: snprintf was a twentieth of an account lookup. */
    char t[21];
    int v[6] = {(int)y, m, d, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60)};
    static const char sepc[6] = {'-', '-', 'T', ':', ':', 'Z'};
    char *p = t;
    for (int i = 0; i < 6; i++) {
        if (!i) {
            *p++ = (char)('0' + v[0] / 1000);
            *p++ = (char)('0' + v[0] / 100 % 10);
        }
        *p++ = (char)('0' + v[i] / 10 % 10);
        *p++ = (char)('0' + v[i] % 10);
        *p++ = sepc[i];
    }
    *p = 0;
    size_t n = out_size < sizeof t ? out_size - 1 : sizeof t - 1;
    memcpy(out, t, n);
    out[n] = 0;
}

/* ---- the event parser ------------------------------------------------------ */

typedef struct {
    const char *s;
    size_t len;
    size_t pos;    /* next byte to read; columns in messages are pos + 1 */
    unsigned seen; /* bit i: fields[i] was present */
    int saw_nul;   /* the last string scanned had a \u0000 */
    rw_event_raw *ev;
    rw_err *err;
} parser;

struct field;
typedef rw_status (*field_fn)(parser *p, const struct field *f);

typedef struct field {
    const char *name;
    size_t name_len;
    field_fn parse;
    int attr; /* index into ev->attr for ip, device, payment */
} field;

static int peek(const parser *p) {
    return p->pos < p->len ? (uint8_t)p->s[p->pos] : -1;
}

static void skip_ws(parser *p) {
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

/* A JSON syntax error at the current byte, or the end of the line. */
static rw_status syntax(const parser *p, const char *what) {
    if (p->pos >= p->len)
        return rw_fail(p->err, RW_ERR_INVALID, "json: unexpected end of line at column %zu", p->len + 1);
    return rw_fail(p->err, RW_ERR_INVALID, "json: %s at column %zu", what, p->pos + 1);
}

static rw_status field_fail(const parser *p, const char *field_name, const char *what) {
    return rw_fail(p->err, RW_ERR_INVALID, "%s: %s at column %zu", field_name ? field_name : "json", what, p->pos + 1);
}

static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

enum { ESC_OK, ESC_EOF, ESC_BAD, ESC_SURROGATE };

/* Four hex digits at s[at..]; s has n bytes. */
static int hex4(const uint8_t *s, size_t n, size_t at, unsigned *v) {
    *v = 0;
    for (size_t i = at; i < at + 4; i++) {
        if (i >= n) return ESC_EOF;
        int h = hexval(s[i]);
        if (h < 0) return ESC_BAD;
        *v = *v << 4 | (unsigned)h;
    }
    return ESC_OK;
}

/* Decodes the escape at s[0] == '\\' (n bytes available) into o; *in_len is
 * the bytes consumed, *out_len the bytes produced. */
static int unescape(const uint8_t *s, size_t n, uint8_t o[4], size_t *in_len, size_t *out_len) {
    *in_len = 2;
    *out_len = 1;
    if (n < 2) return ESC_EOF;
    switch (s[1]) {
        case '"':
            o[0] = '"';
            return ESC_OK;
        case '\\':
            o[0] = '\\';
            return ESC_OK;
        case '/':
            o[0] = '/';
            return ESC_OK;
        case 'b':
            o[0] = '\b';
            return ESC_OK;
        case 'f':
            o[0] = '\f';
            return ESC_OK;
        case 'n':
            o[0] = '\n';
            return ESC_OK;
        case 'r':
            o[0] = '\r';
            return ESC_OK;
        case 't':
            o[0] = '\t';
            return ESC_OK;
        case 'u':
            break;
        default:
            return ESC_BAD;
    }
    unsigned cp, lo;
    int r = hex4(s, n, 2, &cp);
    if (r != ESC_OK) return r;
    *in_len = 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return ESC_SURROGATE;
    if (cp >= 0xD800 && cp <= 0xDBFF) { /* must be followed by a low surrogate */
        if (n < 8) return n == 6 || s[6] == '\\' ? ESC_EOF : ESC_SURROGATE;
        if (s[6] != '\\' || s[7] != 'u') return ESC_SURROGATE;
        r = hex4(s, n, 8, &lo);
        if (r != ESC_OK) return r;
        if (lo < 0xDC00 || lo > 0xDFFF) return ESC_SURROGATE;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        *in_len = 12;
    }
    *out_len = utf8_put(o, cp);
    return ESC_OK;
}

static rw_status escape_fail(const parser *p, const char *field_name, int r) {
    if (r == ESC_EOF) {
        parser end = *p;
        end.pos = end.len;
        return syntax(&end, "");
    }
    if (r == ESC_SURROGATE) return field_fail(p, field_name, "lone UTF-16 surrogate in a \\u escape");
    return syntax(p, "invalid escape sequence in a string");
}

/* Reads the string at p->pos (on its opening quote), unescaped, into buf:
 * at most cap bytes are written (buf may be NULL with cap 0 to only
 * validate), but the whole string is checked and *out_len is its full
 * unescaped length. Errors name field_name (NULL: "json"). */
static rw_status scan_string(parser *p, const char *field_name, char *buf, size_t cap, size_t *out_len) {
    const uint8_t *s = (const uint8_t *)p->s;
    size_t n = 0, i = p->pos + 1, len = p->len;
    *out_len = 0;
    p->saw_nul = 0;
    for (;;) {
        if (i >= len) {
            p->pos = len;
            return syntax(p, "");
        }
        uint8_t c = s[i];
        if (c == '"') break;
        if (c >= 0x20 && c < 0x80 && c != '\\') { /* the common case */
            if (n < cap) buf[n] = (char)c;
            n++;
            i++;
            continue;
        }
        const uint8_t *src = s + i;
        uint8_t tmp[4];
        size_t in_len, k;
        p->pos = i;
        if (c == '\\') {
            int r = unescape(s + i, len - i, tmp, &in_len, &k);
            if (r != ESC_OK) return escape_fail(p, field_name, r);
            src = tmp;
            p->saw_nul |= k == 1 && tmp[0] == 0;
        } else if (c < 0x20) {
            char what[80];
            snprintf(what, sizeof what, "raw control character 0x%02x in a string (it must be escaped)", c);
            return syntax(p, what);
        } else {
            k = in_len = utf8_seq(s + i, len - i);
            if (!k) return field_fail(p, field_name, "invalid UTF-8");
        }
        if (buf && n + k <= cap) memcpy(buf + n, src, k);
        n += k;
        i += in_len;
    }
    p->pos = i + 1;
    *out_len = n;
    return RW_OK;
}

typedef struct {
    int negative, fraction; /* fraction: has a '.' part or an exponent */
    size_t int_start, int_len;
} number;

static int is_digit(int c) {
    return c >= '0' && c <= '9';
}

/* Reads a number per the JSON grammar (RFC 8259 section 6). */
static rw_status scan_number(parser *p, number *nm) {
    nm->negative = peek(p) == '-';
    nm->fraction = 0;
    p->pos += (size_t)nm->negative;
    nm->int_start = p->pos;
    if (peek(p) == '0') {
        p->pos++;
        if (is_digit(peek(p))) return syntax(p, "numbers must not have leading zeros");
    } else if (is_digit(peek(p))) {
        while (is_digit(peek(p))) p->pos++;
    } else {
        return syntax(p, "expected a digit in a number");
    }
    nm->int_len = p->pos - nm->int_start;
    if (peek(p) == '.') {
        p->pos++;
        if (!is_digit(peek(p))) return syntax(p, "expected a digit after '.' in a number");
        while (is_digit(peek(p))) p->pos++;
        nm->fraction = 1;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-') p->pos++;
        if (!is_digit(peek(p))) return syntax(p, "expected a digit in the exponent of a number");
        while (is_digit(peek(p))) p->pos++;
        nm->fraction = 1;
    }
    return RW_OK;
}

static rw_status literal(parser *p, const char *word, size_t n) {
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) {
        /* Point at the first differing byte, or the end of the line. */
        for (; p->pos < p->len && *word && p->s[p->pos] == *word; word++) p->pos++;
        return syntax(p, "invalid literal (expected true, false or null)");
    }
    p->pos += n;
    return RW_OK;
}

static rw_status skip_value(parser *p, int depth);

static rw_status skip_container(parser *p, int depth) {
    int close = peek(p) == '{' ? '}' : ']';
    if (depth >= MAX_DEPTH) return syntax(p, "values nested deeper than 64 levels");
    p->pos++;
    skip_ws(p);
    if (peek(p) == close) {
        p->pos++;
        return RW_OK;
    }
    for (;;) {
        rw_status s;
        size_t n;
        if (close == '}') {
            if (peek(p) != '"') return syntax(p, "expected a quoted key");
            if ((s = scan_string(p, NULL, NULL, 0, &n))) return s;
            skip_ws(p);
            if (peek(p) != ':') return syntax(p, "expected ':' after key");
            p->pos++;
            skip_ws(p);
        }
        if ((s = skip_value(p, depth + 1))) return s;
        skip_ws(p);
        int c = peek(p);
        if (c == close) {
            p->pos++;
            return RW_OK;
        }
        if (c != ',')
            return syntax(p, close == '}' ? "expected ',' or '}' in an object" : "expected ',' or ']' in an array");
        p->pos++;
        skip_ws(p);
    }
}

/* Skips one value (of an unknown key, or of the wrong type), checking it. */
static rw_status skip_value(parser *p, int depth) {
    number nm;
    size_t n;
    switch (peek(p)) {
        case '"':
            return scan_string(p, NULL, NULL, 0, &n);
        case '{':
        case '[':
            return skip_container(p, depth);
        case 't':
            return literal(p, "true", 4);
        case 'f':
            return literal(p, "false", 5);
        case 'n':
            return literal(p, "null", 4);
        default:
            return peek(p) == '-' || is_digit(peek(p)) ? scan_number(p, &nm) : syntax(p, "expected a value");
    }
}

static const char *value_kind(int c) {
    switch (c) {
        case '"':
            return "string";
        case '{':
            return "object";
        case '[':
            return "array";
        case 't':
        case 'f':
            return "boolean";
        case 'n':
            return "null";
        default:
            return "number";
    }
}

/* A value of the wrong type: reported after checking it is valid JSON, so a
 * syntax error is reported as such. */
static rw_status wrong_type(parser *p, const field *f, const char *expected) {
    const char *kind = value_kind(peek(p));
    rw_status s = skip_value(p, 0);
    if (s) return s;
    return rw_fail(p->err, RW_ERR_INVALID, "%s: expected %s, got %s", f->name, expected, kind);
}

/* Reads a string value of 1..max bytes into buf (max + 1 bytes) and
 * NUL-terminates it; NUL bytes inside would cut C strings downstream. */
static rw_status text_value(parser *p, const field *f, char *buf, size_t max, size_t *out_len) {
    size_t n;
    rw_status s = scan_string(p, f->name, buf, max, &n);
    if (s) return s;
    if (n == 0) return rw_fail(p->err, RW_ERR_INVALID, "%s: must be 1-%zu bytes, got an empty string", f->name, max);
    if (n > max) return rw_fail(p->err, RW_ERR_INVALID, "%s: longer than %zu bytes", f->name, max);
    if (p->saw_nul) return rw_fail(p->err, RW_ERR_INVALID, "%s: must not contain NUL (\\u0000)", f->name);
    buf[n] = '\0';
    *out_len = n;
    return RW_OK;
}

static rw_status parse_account(parser *p, const field *f) {
    rw_event_raw *ev = p->ev;
    if (peek(p) != '"') return wrong_type(p, f, "a string");
    return text_value(p, f, ev->account, RW_ACCOUNT_MAX, &ev->account_len);
}

static rw_status ts_range(parser *p, int64_t ts) {
    if (ts < 0 || ts > (int64_t)UINT32_MAX)
        return rw_fail(p->err, RW_ERR_INVALID,
                       "ts: out of range (0 to 4294967295 seconds, 1970-01-01 to 2106-02-07 UTC)");
    p->ev->ts = ts;
    return RW_OK;
}

static rw_status ts_string(parser *p, const field *f) {
    char buf[64];
    size_t n;
    int64_t ts;
    rw_status s = scan_string(p, f->name, buf, sizeof buf, &n);
    if (s) return s;
    const char *why = n > sizeof buf ? "too long" : parse_rfc3339(&ts, buf, n);
    if (why) return rw_fail(p->err, RW_ERR_INVALID, "ts: not an RFC 3339 timestamp: %s", why);
    return ts_range(p, ts);
}

static rw_status ts_number(parser *p, const field *f) {
    number nm;
    rw_status s = scan_number(p, &nm);
    if (s) return s;
    if (nm.fraction)
        return rw_fail(p->err, RW_ERR_INVALID,
                       "ts: expected an integer of Unix seconds, got a number with a fraction or an exponent");
    if (nm.int_len > 10) return ts_range(p, -1);
    int64_t v = 0;
    for (size_t i = 0; i < nm.int_len; i++) v = v * 10 + (p->s[nm.int_start + i] - '0');
    return ts_range(p, nm.negative ? -v : v);
}

static rw_status parse_ts(parser *p, const field *f) {
    int c = peek(p);
    if (c == '"') return ts_string(p, f);
    if (c == '-' || is_digit(c)) return ts_number(p, f);
    return wrong_type(p, f, "an integer of Unix seconds or an RFC 3339 string");
}

static rw_status parse_type(parser *p, const field *f) {
    char buf[16];
    size_t n;
    if (peek(p) == 'n') return literal(p, "null", 4); /* absent: signup */
    if (peek(p) != '"') return wrong_type(p, f, "a string (signup, login or payment)");
    rw_status s = scan_string(p, f->name, buf, sizeof buf, &n);
    if (s) return s;
    for (int t = 0; t < RW_EV_TYPE_COUNT; t++) {
        const char *name = rw_event_type_name((rw_event_type)t);
        if (n == strlen(name) && memcmp(buf, name, n) == 0) {
            p->ev->type = (rw_event_type)t;
            return RW_OK;
        }
    }
    return rw_fail(p->err, RW_ERR_INVALID, "type: must be signup, login or payment");
}

/* The value is never quoted in messages: attributes are personal data. */
static rw_status normalise_ip(parser *p, char *value, size_t *n) {
    uint8_t a[16];
    char buf[INET6_ADDRSTRLEN];
    const char *why = ip_parse(a, value, *n);
    if (why) return rw_fail(p->err, RW_ERR_INVALID, "ip: not an IPv4 or IPv6 address%s%s", *why ? ": " : "", why);
    *n = ip_format(buf, a);
    memcpy(value, buf, *n + 1);
    return RW_OK;
}

static rw_status parse_attr(parser *p, const field *f) {
    rw_event_raw *ev = p->ev;
    size_t n;
    if (peek(p) == 'n') return literal(p, "null", 4); /* null means absent */
    if (peek(p) != '"') return wrong_type(p, f, "a string");
    rw_status s = text_value(p, f, ev->attr[f->attr], RW_ATTR_MAX, &n);
    if (s == RW_OK && f->attr == RW_KIND_IP - 1) s = normalise_ip(p, ev->attr[f->attr], &n);
    if (s == RW_OK) ev->attr_len[f->attr] = n;
    return s;
}

#define FIELD(name, fn, attr)                                                                                          \
    { name, sizeof(name) - 1, fn, attr }
static const field fields[] = {
    FIELD("account", parse_account, 0),
    FIELD("ts", parse_ts, 0),
    FIELD("type", parse_type, 0),
    FIELD("ip", parse_attr, RW_KIND_IP - 1),
    FIELD("device", parse_attr, RW_KIND_DEVICE - 1),
    FIELD("payment", parse_attr, RW_KIND_PAYMENT - 1),
};
enum { F_ACCOUNT, F_TS, F_COUNT = sizeof fields / sizeof fields[0] };

static const field *find_field(const char *key, size_t n) {
    for (size_t i = 0; i < F_COUNT; i++)
        if (fields[i].name_len == n && fields[i].name[0] == key[0] && memcmp(fields[i].name, key, n) == 0)
            return &fields[i];
    return NULL;
}

static rw_status parse_member(parser *p) {
    char key[16] = "";
    size_t n;
    if (peek(p) != '"') return syntax(p, "expected a quoted key");
    rw_status s = scan_string(p, NULL, key, sizeof key, &n);
    if (s) return s;
    skip_ws(p);
    if (peek(p) != ':') return syntax(p, "expected ':' after key");
    p->pos++;
    skip_ws(p);
    const field *f = n <= sizeof key ? find_field(key, n) : NULL;
    if (!f) {
        p->ev->unknown_keys++;
        return skip_value(p, 0);
    }
    unsigned bit = 1u << (f - fields);
    if (p->seen & bit) return rw_fail(p->err, RW_ERR_INVALID, "%s: duplicate key", f->name);
    p->seen |= bit;
    return f->parse(p, f);
}

static rw_status parse_object(parser *p) {
    skip_ws(p);
    if (p->pos >= p->len) return rw_fail(p->err, RW_ERR_INVALID, "json: empty line, expected a JSON object");
    if (peek(p) != '{') return syntax(p, "expected '{' (each line must be one JSON object)");
    p->pos++;
    skip_ws(p);
    if (peek(p) == '}') {
        p->pos++;
        return RW_OK;
    }
    for (;;) {
        rw_status s = parse_member(p);
        if (s) return s;
        skip_ws(p);
        int c = peek(p);
        if (c == '}') {
            p->pos++;
            return RW_OK;
        }
        if (c != ',') return syntax(p, "expected ',' or '}' after a value");
        p->pos++;
        skip_ws(p);
    }
}

/* Only what marks a field absent is reset: clearing all 2 KB costs more than
 * the parse of a typical line. */
static void reset(rw_event_raw *ev) {
    ev->ts = 0;
    ev->type = RW_EV_SIGNUP;
    ev->account_len = 0;
    ev->account[0] = '\0';
    for (int i = 0; i < RW_EVENT_ATTRS; i++) {
        ev->attr_len[i] = 0;
        ev->attr[i][0] = '\0';
    }
    ev->unknown_keys = 0;
}

static rw_status parse_line(parser *p) {
    rw_status s = parse_object(p);
    if (s) return s;
    skip_ws(p);
    if (p->pos < p->len) return syntax(p, "unexpected data after the object");
    if (!(p->seen & 1u << F_ACCOUNT)) return rw_fail(p->err, RW_ERR_INVALID, "account: missing");
    if (!(p->seen & 1u << F_TS)) return rw_fail(p->err, RW_ERR_INVALID, "ts: missing");
    return RW_OK;
}

rw_status rw_event_parse(rw_event_raw *out, const char *line, size_t len, rw_err *err) {
    parser p = {.s = line, .len = line ? len : 0, .ev = out, .err = err};
    reset(out);
    rw_status s = parse_line(&p);
    if (s) reset(out); /* a half-filled event must not be mistaken for one */
    return s;
}
