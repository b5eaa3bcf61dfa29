/* Tests of the event line parser and its IP, time and UTF-8 helpers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define TYPICAL                                                                                                        \
    "{\"account\":\"acct-42\",\"ts\":1790000000,\"type\":\"signup\",\"ip\":\"203.0.113.7\",\"device\":\"d-9f2c\","     \
    "\"payment\":\"tok_77\"}"

static rw_event_raw ev;
static rw_err err;

static rw_status parse_n(const char *line, size_t len) {
    memset(&err, 0, sizeof err);
    return rw_event_parse(&ev, line, len, &err);
}

static rw_status parse(const char *line) {
    return parse_n(line, strlen(line));
}

static void ok(const char *line) {
    rw_status s = parse(line);
    cr_assert_eq(s, RW_OK, "line %s: %s", line, err.msg);
}

/* The parse fails and the message contains want. */
static void bad_n(const char *line, size_t len, const char *want) {
    rw_status s = parse_n(line, len);
    cr_assert_eq(s, RW_ERR_INVALID, "line %.200s: expected failure, got %d", line, s);
    cr_assert(strstr(err.msg, want), "line %.200s: message '%s' lacks '%s'", line, err.msg, want);
}

static void bad(const char *line, const char *want) {
    bad_n(line, strlen(line), want);
}

/* A line {"account":"a","ts":1,KEY:VALUE} with the given raw JSON text. */
static char *with(const char *key, const char *value) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "{\"account\":\"a\",\"ts\":1,\"%s\":%s}", key, value);
    return buf;
}

static char *repeat(char c, size_t n) {
    char *s = malloc(n + 1);
    cr_assert_not_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- valid lines ---- */

Test(event, typical_line_all_fields) {
    ok(TYPICAL);
    cr_assert_str_eq(ev.account, "acct-42");
    cr_assert_eq(ev.account_len, 7);
    cr_assert_eq(ev.ts, 1790000000);
    cr_assert_eq(ev.type, RW_EV_SIGNUP);
    cr_assert_str_eq(ev.attr[0], "203.0.113.7");
    cr_assert_eq(ev.attr_len[0], 11);
    cr_assert_str_eq(ev.attr[1], "d-9f2c");
    cr_assert_eq(ev.attr_len[1], 6);
    cr_assert_str_eq(ev.attr[2], "tok_77");
    cr_assert_eq(ev.attr_len[2], 6);
    cr_assert_eq(ev.unknown_keys, 0);
}

Test(event, minimal_line_defaults) {
    ok("{\"ts\":0,\"account\":\"x\"}");
    cr_assert_eq(ev.type, RW_EV_SIGNUP);
    cr_assert_eq(ev.ts, 0);
    for (int i = 0; i < RW_EVENT_ATTRS; i++) cr_assert_eq(ev.attr_len[i], 0);
}

Test(event, types) {
    ok(with("type", "\"login\""));
    cr_assert_eq(ev.type, RW_EV_LOGIN);
    ok(with("type", "\"payment\""));
    cr_assert_eq(ev.type, RW_EV_PAYMENT);
    ok(with("type", "null"));
    cr_assert_eq(ev.type, RW_EV_SIGNUP);
    bad(with("type", "\"Signup\""), "type: must be signup, login or payment");
    bad(with("type", "\"logout\""), "type: must be signup, login or payment");
    bad(with("type", "\"\""), "type: must be signup, login or payment");
    bad(with("type", "1"), "type: expected a string");
}

Test(event, whitespace_and_cr) {
    ok(" \t{ \"account\" : \"a\" ,\r\n \"ts\" : 5 , \"ip\" : null } \t\r");
    cr_assert_eq(ev.ts, 5);
    cr_assert_eq(ev.attr_len[0], 0);
    ok("{\"account\":\"a\",\"ts\":5}\r");
}

Test(event, nulls_mean_absent) {
    ok("{\"account\":\"a\",\"ts\":1,\"ip\":null,\"device\":null,\"payment\":null}");
    for (int i = 0; i < RW_EVENT_ATTRS; i++) {
        cr_assert_eq(ev.attr_len[i], 0);
        cr_assert_eq(ev.attr[i][0], '\0');
    }
}

Test(event, reuse_resets_fields) {
    ok(TYPICAL);
    ok("{\"account\":\"b\",\"ts\":2,\"x\":1}");
    cr_assert_str_eq(ev.account, "b");
    cr_assert_eq(ev.type, RW_EV_SIGNUP);
    cr_assert_eq(ev.unknown_keys, 1);
    for (int i = 0; i < RW_EVENT_ATTRS; i++) cr_assert_eq(ev.attr_len[i], 0);
}

Test(event, escapes_unescaped) {
    ok("{\"account\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\",\"ts\":1}");
    const char want[] = "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    cr_assert_eq(ev.account_len, sizeof want - 1);
    cr_assert(memcmp(ev.account, want, sizeof want) == 0);
    /* Escaped key names are keys like any other. */
    ok("{\"acc\\u006funt\":\"a\",\"\\u0074s\":1}");
    cr_assert_str_eq(ev.account, "a");
}

Test(event, raw_utf8_accepted) {
    ok("{\"account\":\"j\xc3\xb6rg-\xe2\x82\xac-\xf0\x9f\x98\x80\",\"ts\":1,\"device\":\"\xe6\x97\xa5\"}");
    cr_assert_str_eq(ev.account, "j\xc3\xb6rg-\xe2\x82\xac-\xf0\x9f\x98\x80");
}

/* ---- ts ---- */

Test(event, ts_integer_range) {
    ok(with("x", "0"));
    ok("{\"account\":\"a\",\"ts\":4294967295}");
    cr_assert_eq(ev.ts, 4294967295LL);
    ok("{\"account\":\"a\",\"ts\":-0}");
    cr_assert_eq(ev.ts, 0);
    bad("{\"account\":\"a\",\"ts\":4294967296}", "ts: out of range");
    bad("{\"account\":\"a\",\"ts\":99999999999999999999999}", "ts: out of range");
    bad("{\"account\":\"a\",\"ts\":-1}", "ts: out of range");
    bad("{\"account\":\"a\",\"ts\":1.5}", "ts: expected an integer of Unix seconds");
    bad("{\"account\":\"a\",\"ts\":1.0}", "ts: expected an integer");
    bad("{\"account\":\"a\",\"ts\":1e9}", "ts: expected an integer");
    bad("{\"account\":\"a\",\"ts\":1E+9}", "ts: expected an integer");
    bad("{\"account\":\"a\",\"ts\":0123}", "json: numbers must not have leading zeros at column 22");
    bad("{\"account\":\"a\",\"ts\":+1}", "json: expected a value at column 21");
    bad("{\"account\":\"a\",\"ts\":1.}", "json: expected a digit after '.'");
    bad("{\"account\":\"a\",\"ts\":-}", "json: expected a digit");
}

Test(event, ts_wrong_types) {
    bad("{\"account\":\"a\",\"ts\":true}",
        "ts: expected an integer of Unix seconds or an RFC 3339 string, got boolean");
    bad("{\"account\":\"a\",\"ts\":null}", "ts: expected an integer of Unix seconds or an RFC 3339 string, got null");
    bad("{\"account\":\"a\",\"ts\":[1]}", "got array");
    bad("{\"account\":\"a\",\"ts\":{}}", "got object");
    /* A broken literal is a syntax error, not a type error. */
    bad("{\"account\":\"a\",\"ts\":tru}", "json: invalid literal");
}

static int64_t ts_of(const char *rfc) {
    char line[256];
    snprintf(line, sizeof line, "{\"account\":\"a\",\"ts\":\"%s\"}", rfc);
    rw_status s = parse(line);
    cr_assert_eq(s, RW_OK, "%s: %s", rfc, err.msg);
    return ev.ts;
}

static void bad_ts(const char *rfc, const char *want) {
    char line[256];
    snprintf(line, sizeof line, "{\"account\":\"a\",\"ts\":\"%s\"}", rfc);
    bad(line, want);
    int64_t t = 7;
    cr_assert(rw_time_parse_rfc3339(&t, rfc, strlen(rfc)) != RW_OK || strstr(want, "range"), "%s", rfc);
}

Test(event, ts_rfc3339) {
    cr_assert_eq(ts_of("2026-09-21T14:03:00Z"), 1789999380);
    cr_assert_eq(ts_of("2026-09-21t14:03:00z"), 1789999380);
    cr_assert_eq(ts_of("2026-09-21T14:03:00.123+02:00"), 1789999380 - 7200);
    cr_assert_eq(ts_of("2026-09-21T14:03:00.999999999-05:30"), 1789999380 + 5 * 3600 + 1800);
    cr_assert_eq(ts_of("2026-09-21T14:03:00+00:00"), 1789999380);
    cr_assert_eq(ts_of("2026-09-21T14:03:00-00:00"), 1789999380);
    cr_assert_eq(ts_of("2024-02-29T00:00:00Z"), 1709164800);
    cr_assert_eq(ts_of("2000-02-29T23:59:59Z"), 951868799);
    cr_assert_eq(ts_of("1970-01-01T00:00:00Z"), 0);
    cr_assert_eq(ts_of("2106-02-07T06:28:15Z"), 4294967295LL);
    cr_assert_eq(ts_of("2016-12-31T23:59:60Z"), ts_of("2016-12-31T23:59:59Z"));
    cr_assert_eq(ts_of("2027-01-01T00:00:00Z") - ts_of("2026-12-31T00:00:00Z"), 86400);
}

Test(event, ts_rfc3339_invalid) {
    bad_ts("2023-02-29T00:00:00Z", "ts: not an RFC 3339 timestamp: day out of range");
    bad_ts("2100-02-29T00:00:00Z", "day out of range");
    bad_ts("2026-04-31T00:00:00Z", "day out of range");
    bad_ts("2026-01-00T00:00:00Z", "day out of range");
    bad_ts("2026-13-01T00:00:00Z", "month out of range");
    bad_ts("2026-00-01T00:00:00Z", "month out of range");
    bad_ts("2026-01-01T24:00:00Z", "time of day out of range");
    bad_ts("2026-01-01T23:60:00Z", "time of day out of range");
    bad_ts("2026-01-01T23:59:61Z", "time of day out of range");
    bad_ts("2026-01-01T00:00:00", "expected Z or an offset");
    bad_ts("2026-01-01T00:00:00+2:00", "expected Z or an offset");
    bad_ts("2026-01-01T00:00:00+24:00", "offset out of range");
    bad_ts("2026-01-01T00:00:00.Z", "expected digits after '.'");
    bad_ts("2026-01-01 00:00:00Z", "expected the form");
    bad_ts("2026-1-01T00:00:00Z", "expected the form");
    bad_ts("2026-01-01T00:00:00Zjunk", "expected Z or an offset");
    bad_ts("", "too short");
    bad_ts("1790000000", "too short");
    bad_ts("1969-12-31T23:59:59Z", "ts: out of range");
    bad_ts("2106-02-07T06:28:16Z", "ts: out of range");
    bad_ts("1970-01-01T00:30:00+01:00", "ts: out of range");
    char long_ts[200];
    snprintf(long_ts, sizeof long_ts, "2026-01-01T00:00:00.%0100dZ", 0);
    bad(with("ts", "0"), "ts: duplicate key");
    char line[300];
    snprintf(line, sizeof line, "{\"account\":\"a\",\"ts\":\"%s\"}", long_ts);
    bad(line, "ts: not an RFC 3339 timestamp: too long");
}

Test(event, time_format_and_parse_roundtrip) {
    char buf[32];
    rw_time_format(buf, sizeof buf, 1789999380);
    cr_assert_str_eq(buf, "2026-09-21T14:03:00Z");
    rw_time_format(buf, sizeof buf, 0);
    cr_assert_str_eq(buf, "1970-01-01T00:00:00Z");
    rw_time_format(buf, sizeof buf, -1);
    cr_assert_str_eq(buf, "1969-12-31T23:59:59Z");
    rw_time_format(buf, sizeof buf, INT64_MAX);
    cr_assert_str_eq(buf, "9999-12-31T23:59:59Z");
    rw_time_format(buf, sizeof buf, INT64_MIN);
    cr_assert_str_eq(buf, "0000-01-01T00:00:00Z");
    char small[8];
    rw_time_format(small, sizeof small, 0);
    cr_assert_str_eq(small, "1970-01");
    for (int64_t t = -86400LL * 800; t < 4294967296LL * 2; t += 86400LL * 37 + 3607) {
        int64_t back = -1;
        rw_time_format(buf, sizeof buf, t);
        cr_assert_eq(rw_time_parse_rfc3339(&back, buf, strlen(buf)), RW_OK, "%s", buf);
        cr_assert_eq(back, t, "%s", buf);
    }
}

/* ---- account and attributes ---- */

Test(event, account_length_limits) {
    char line[2048];
    char *a256 = repeat('a', 256), *a257 = repeat('a', 257);
    snprintf(line, sizeof line, "{\"account\":\"%s\",\"ts\":1}", a256);
    ok(line);
    cr_assert_eq(ev.account_len, 256);
    cr_assert_str_eq(ev.account, a256);
    snprintf(line, sizeof line, "{\"account\":\"%s\",\"ts\":1}", a257);
    bad(line, "account: longer than 256 bytes");
    /* Limits count bytes after unescaping: 128 x U+00E9 is 256 bytes. */
    char esc[1024] = "{\"account\":\"";
    for (int i = 0; i < 128; i++) strcat(esc, "\\u00e9");
    strcat(esc, "\",\"ts\":1}");
    ok(esc);
    cr_assert_eq(ev.account_len, 256);
    bad("{\"account\":\"\",\"ts\":1}", "account: must be 1-256 bytes, got an empty string");
    free(a256);
    free(a257);
}

Test(event, attribute_length_limits) {
    const char *names[] = {"device", "payment"};
    char *v512 = repeat('d', 512), *v513 = repeat('d', 513);
    char value[1024];
    for (int i = 0; i < 2; i++) {
        snprintf(value, sizeof value, "\"%s\"", v512);
        ok(with(names[i], value));
        cr_assert_eq(ev.attr_len[i + 1], 512);
        cr_assert_str_eq(ev.attr[i + 1], v512);
        snprintf(value, sizeof value, "\"%s\"", v513);
        char want[64];
        snprintf(want, sizeof want, "%s: longer than 512 bytes", names[i]);
        bad(with(names[i], value), want);
        snprintf(want, sizeof want, "%s: must be 1-512 bytes", names[i]);
        bad(with(names[i], "\"\""), want);
    }
    bad(with("ip", "\"\""), "ip: must be 1-512 bytes");
    snprintf(value, sizeof value, "\"%s\"", v513);
    bad(with("ip", value), "ip: longer than 512 bytes");
    free(v512);
    free(v513);
}

Test(event, wrong_types) {
    bad("{\"account\":42,\"ts\":1}", "account: expected a string, got number");
    bad("{\"account\":null,\"ts\":1}", "account: expected a string, got null");
    bad(with("ip", "1234"), "ip: expected a string, got number");
    bad(with("device", "{\"a\":1}"), "device: expected a string, got object");
    bad(with("payment", "[\"tok\"]"), "payment: expected a string, got array");
    bad(with("payment", "false"), "payment: expected a string, got boolean");
}

Test(event, nul_bytes) {
    bad(with("device", "\"a\\u0000b\""), "device: must not contain NUL");
    bad("{\"account\":\"a\\u0000\",\"ts\":1}", "account: must not contain NUL");
    ok(with("x", "\"a\\u0000b\""));
    /* A raw NUL byte is a raw control character. */
    const char line[] = "{\"account\":\"a\",\"ts\":1,\"device\":\"a\0b\"}";
    bad_n(line, sizeof line - 1, "json: raw control character 0x00");
}

/* ---- IP addresses ---- */

static const char *ip_of(const char *ip) {
    char value[128];
    snprintf(value, sizeof value, "\"%s\"", ip);
    rw_status s = parse(with("ip", value));
    cr_assert_eq(s, RW_OK, "%s: %s", ip, err.msg);
    cr_assert_eq(ev.attr_len[0], strlen(ev.attr[0]));
    return ev.attr[0];
}

Test(event, ip_normalisation) {
    cr_assert_str_eq(ip_of("203.0.113.7"), "203.0.113.7");
    cr_assert_str_eq(ip_of("0.0.0.0"), "0.0.0.0");
    cr_assert_str_eq(ip_of("255.255.255.255"), "255.255.255.255");
    cr_assert_str_eq(ip_of("::ffff:1.2.3.4"), "1.2.3.4");
    cr_assert_str_eq(ip_of("::FFFF:102:304"), "1.2.3.4");
    cr_assert_str_eq(ip_of("0:0:0:0:0:ffff:c000:0201"), "192.0.2.1");
    cr_assert_str_eq(ip_of("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
    cr_assert_str_eq(ip_of("2001:0db8:0000:0000:0001:0000:0000:0001"), "2001:db8::1:0:0:1");
    cr_assert_str_eq(ip_of("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
    cr_assert_str_eq(ip_of("::1"), "::1");
    cr_assert_str_eq(ip_of("::"), "::");
    cr_assert_str_eq(ip_of("FE80::ABCD"), "fe80::abcd");
    cr_assert_str_eq(ip_of("\\u0031.2.3.4"), "1.2.3.4");
}

Test(event, ip_invalid) {
    const char *cases[] = {
        "1.2.3",        "1.2.3.4.5", "256.1.1.1",  "1.2.3.4 ",         " 1.2.3.4",    "1..2.3",
        "1.2.3.-1",     "abc",       "1.2.3.4/24", "1234.1.1.1",       "2001:db8::g", "1:2:3:4:5:6:7:8:9",
        "2001:db8:::1", ":",         "1.2.3.4:80", "::ffff:010.1.1.1", "0x1.2.3.4",   "1.2.3.4\\u0000"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char value[128];
        snprintf(value, sizeof value, "\"%s\"", cases[i]);
        rw_status s = parse(with("ip", value));
        cr_assert_eq(s, RW_ERR_INVALID, "%s accepted", cases[i]);
        cr_assert(strncmp(err.msg, "ip: ", 4) == 0, "%s: %s", cases[i], err.msg);
    }
    bad(with("ip", "\"10.0.0.999\""), "ip: not an IPv4 or IPv6 address");
    bad(with("ip", "\"010.1.1.1\""), "ip: not an IPv4 or IPv6 address: IPv4 parts must not have leading zeros");
    bad(with("ip", "\"1.2.3.04\""), "leading zeros");
    bad(with("ip", "\"fe80::1%eth0\""), "ip: not an IPv4 or IPv6 address: zone ids");
    /* Messages never quote the raw value (personal data). */
    bad(with("ip", "\"198.51.100.777\""), "ip: ");
    cr_assert_null(strstr(err.msg, "198.51"));
}

Test(event, ip_functions) {
    char out[64];
    uint8_t a[16];
    cr_assert_eq(rw_ip_normalise(out, sizeof out, a, "::ffff:1.2.3.4", 14), RW_OK);
    cr_assert_str_eq(out, "1.2.3.4");
    const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
    cr_assert(memcmp(a, mapped, 16) == 0);
    cr_assert_eq(rw_ip_normalise(out, sizeof out, a, "1.2.3.4", 7), RW_OK);
    cr_assert(memcmp(a, mapped, 16) == 0);
    cr_assert_eq(rw_ip_normalise(out, sizeof out, NULL, "2001:db8::1", 11), RW_OK);
    cr_assert_str_eq(out, "2001:db8::1");
    cr_assert_eq(rw_ip_normalise(out, sizeof out, a, "1.2.3.4x", 7), RW_OK); /* len bounds the input */
    cr_assert_eq(rw_ip_normalise(out, sizeof out, a, "nope", 4), RW_ERR_INVALID);
    cr_assert_str_eq(out, "");
    cr_assert_eq(rw_ip_normalise(out, 4, a, "1.2.3.4", 7), RW_ERR_LIMIT);

    cr_assert_eq(rw_ip_subnet(out, sizeof out, "203.0.113.7"), RW_OK);
    cr_assert_str_eq(out, "203.0.113.0/24");
    cr_assert_eq(rw_ip_subnet(out, sizeof out, "2001:db8:1:2:3:4:5:6"), RW_OK);
    cr_assert_str_eq(out, "2001:db8:1::/48");
    cr_assert_eq(rw_ip_subnet(out, sizeof out, "2001:db8:1:ffff::"), RW_OK);
    cr_assert_str_eq(out, "2001:db8:1::/48");
    cr_assert_eq(rw_ip_subnet(out, sizeof out, "::1"), RW_OK);
    cr_assert_str_eq(out, "::/48");
    cr_assert_eq(rw_ip_subnet(out, sizeof out, "bogus"), RW_ERR_INVALID);
    cr_assert_eq(rw_ip_subnet(out, 10, "203.0.113.7"), RW_ERR_LIMIT);
}

/* ---- UTF-8, control characters, surrogates ---- */

Test(event, utf8_valid_function) {
    cr_assert(rw_utf8_valid("", 0));
    cr_assert(rw_utf8_valid("abc", 3));
    cr_assert(rw_utf8_valid("\xc2\x80", 2));
    cr_assert(rw_utf8_valid("\xed\x9f\xbf", 3));     /* U+D7FF */
    cr_assert(rw_utf8_valid("\xee\x80\x80", 3));     /* U+E000 */
    cr_assert(rw_utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
    cr_assert(rw_utf8_valid("a\0b", 3));
    cr_assert_not(rw_utf8_valid("\xc0\x80", 2));         /* overlong NUL */
    cr_assert_not(rw_utf8_valid("\xc1\xbf", 2));         /* overlong */
    cr_assert_not(rw_utf8_valid("\xe0\x9f\xbf", 3));     /* overlong */
    cr_assert_not(rw_utf8_valid("\xf0\x8f\xbf\xbf", 4)); /* overlong */
    cr_assert_not(rw_utf8_valid("\xed\xa0\x80", 3));     /* U+D800 */
    cr_assert_not(rw_utf8_valid("\xed\xbf\xbf", 3));     /* U+DFFF */
    cr_assert_not(rw_utf8_valid("\xf4\x90\x80\x80", 4)); /* U+110000 */
    cr_assert_not(rw_utf8_valid("\xf5\x80\x80\x80", 4));
    cr_assert_not(rw_utf8_valid("\xff", 1));
    cr_assert_not(rw_utf8_valid("\x80", 1));
    cr_assert_not(rw_utf8_valid("\xe2\x82", 2)); /* truncated */
    cr_assert_not(rw_utf8_valid("\xe2\x82\xac", 2));
}

Test(event, invalid_utf8_in_each_field) {
    const char *bytes[] = {"\xc0\x80", "\xed\xa0\x80", "\xf5\x80\x80\x80", "\x80",
                           "\xe2\x82", "\xff",         "\xf4\x90\x80\x80"};
    const char *fields[] = {"account", "ip", "device", "payment", "type", "ts"};
    char line[256], want[64];
    for (size_t b = 0; b < sizeof bytes / sizeof bytes[0]; b++) {
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            snprintf(line, sizeof line, "{\"%s\":\"x%sy\",\"account\":\"a\",\"ts\":1}", fields[f], bytes[b]);
            if (strcmp(fields[f], "account") == 0)
                snprintf(line, sizeof line, "{\"account\":\"x%s\",\"ts\":1}", bytes[b]);
            snprintf(want, sizeof want, "%s: invalid UTF-8 at column", fields[f]);
            bad(line, want);
        }
        snprintf(line, sizeof line, "{\"account\":\"a\",\"ts\":1,\"x%s\":1}", bytes[b]);
        bad(line, "json: invalid UTF-8 at column 25");
        snprintf(line, sizeof line, "{\"account\":\"a\",\"ts\":1,\"x\":[\"%s\"]}", bytes[b]);
        bad(line, "json: invalid UTF-8 at column 29");
    }
    /* Outside strings a non-ASCII byte is a syntax error. */
    bad("{\"account\":\"a\",\"ts\":1}\xc3\xa9", "json: unexpected data after the object at column 23");
}

Test(event, raw_control_characters) {
    bad("{\"account\":\"a\x01\",\"ts\":1}",
        "json: raw control character 0x01 in a string (it must be escaped) at column 14");
    bad("{\"account\":\"a\tb\",\"ts\":1}", "json: raw control character 0x09");
    bad(with("device", "\"a\nb\""), "json: raw control character 0x0a");
    bad(with("x", "\"\x1f\""), "json: raw control character 0x1f");
    ok(with("x", "\"\x7f\"")); /* DEL is not a control character in JSON */
}

Test(event, surrogates) {
    bad("{\"account\":\"\\ud800\",\"ts\":1}", "account: lone UTF-16 surrogate in a \\u escape at column 13");
    bad("{\"account\":\"\\udc00\",\"ts\":1}", "account: lone UTF-16 surrogate");
    bad("{\"account\":\"\\ud800\\u0041\",\"ts\":1}", "account: lone UTF-16 surrogate");
    bad("{\"account\":\"\\ud800x\",\"ts\":1}", "account: lone UTF-16 surrogate");
    bad("{\"account\":\"\\udbff\\udbff\",\"ts\":1}", "account: lone UTF-16 surrogate");
    bad(with("device", "\"\\uDFFF\""), "device: lone UTF-16 surrogate");
    bad(with("x", "\"\\ud83d\""), "json: lone UTF-16 surrogate");
    bad(with("x", "\"\\ud83d\\u12\""), "json: invalid escape sequence");
    ok(with("device", "\"\\uD83D\\uDE00\""));
    cr_assert_str_eq(ev.attr[1], "\xf0\x9f\x98\x80");
    ok(with("device", "\"\\udbff\\udfff\""));
    cr_assert_str_eq(ev.attr[1], "\xf4\x8f\xbf\xbf");
}

Test(event, bad_escapes) {
    bad("{\"account\":\"a\\x41\",\"ts\":1}", "json: invalid escape sequence in a string at column 14");
    bad("{\"account\":\"a\\u12g4\",\"ts\":1}", "json: invalid escape sequence");
    bad("{\"account\":\"a\\U0041\",\"ts\":1}", "json: invalid escape sequence");
    bad("{\"account\":\"a\\'\",\"ts\":1}", "json: invalid escape sequence");
}

/* ---- structure ---- */

Test(event, missing_fields) {
    bad("{}", "account: missing");
    bad("{\"ts\":1}", "account: missing");
    bad("{\"account\":\"a\"}", "ts: missing");
    bad("{\"account\":\"a\",\"ip\":\"1.2.3.4\"}", "ts: missing");
}

Test(event, duplicates) {
    bad("{\"account\":\"a\",\"ts\":1,\"account\":\"b\"}", "account: duplicate key");
    bad("{\"account\":\"a\",\"ts\":1,\"ts\":2}", "ts: duplicate key");
    bad("{\"account\":\"a\",\"ts\":1,\"ip\":null,\"ip\":\"1.2.3.4\"}", "ip: duplicate key");
    bad("{\"account\":\"a\",\"ts\":1,\"type\":\"login\",\"type\":\"login\"}", "type: duplicate key");
    bad("{\"account\":\"a\",\"ts\":1,\"device\":\"d\",\"\\u0064evice\":\"d\"}", "device: duplicate key");
    ok("{\"account\":\"a\",\"ts\":1,\"x\":1,\"x\":2}");
    cr_assert_eq(ev.unknown_keys, 2);
}

Test(event, unknown_keys_counted_and_skipped) {
    ok("{\"account\":\"a\",\"x\":{\"y\":[1,-2.5e+3,{\"z\":null,\"w\":[true,false,\"s\"]}],\"ts\":9},\"ts\":1,"
       "\"w\":true,\"v\":[],\"u\":{},\"Account\":\"ignored\",\"very_long_key_name_indeed\":0}");
    cr_assert_eq(ev.unknown_keys, 6);
    cr_assert_eq(ev.ts, 1);
    cr_assert_str_eq(ev.account, "a");
}

/* A line whose unknown value is depth nested arrays. */
static char *nested(int depth) {
    char *s = malloc((size_t)depth * 2 + 64);
    cr_assert_not_null(s);
    size_t n = (size_t)sprintf(s, "{\"account\":\"a\",\"ts\":1,\"x\":");
    for (int i = 0; i < depth; i++) s[n++] = '[';
    for (int i = 0; i < depth; i++) s[n++] = ']';
    s[n++] = '}';
    s[n] = '\0';
    return s;
}

Test(event, nesting_limit) {
    char *s64 = nested(64), *s65 = nested(65);
    ok(s64);
    cr_assert_eq(ev.unknown_keys, 1);
    bad(s65, "json: values nested deeper than 64 levels at column 91");
    free(s64);
    free(s65);
    char deep[512];
    size_t n = (size_t)sprintf(deep, "{\"account\":\"a\",\"ts\":1,\"x\":");
    for (int i = 0; i < 65; i++) n += (size_t)sprintf(deep + n, "{\"k\":");
    sprintf(deep + n, "1");
    bad(deep, "json: values nested deeper than 64 levels");
}

Test(event, empty_inputs) {
    bad("", "json: empty line, expected a JSON object");
    bad(" \t\r", "json: empty line");
    bad_n(NULL, 0, "json: empty line");
    bad("{", "json: unexpected end of line at column 2");
    bad("{}", "account: missing");
}

Test(event, truncated_lines_fail) {
    const char *line = TYPICAL;
    size_t len = strlen(line);
    for (size_t n = 0; n < len; n++) {
        cr_assert_eq(parse_n(line, n), RW_ERR_INVALID, "prefix of %zu bytes accepted", n);
        cr_assert(strncmp(err.msg, "json: ", 6) == 0, "prefix %zu: %s", n, err.msg);
    }
    bad_n(line, 40, "json: unexpected end of line at column 41");
    bad("{\"account\":\"acct-42\",\"ts\":1790000000,\"ty", "json: unexpected end of line at column 41");
    bad("{\"account\":\"a\\", "json: unexpected end of line at column 15");
    bad("{\"account\":\"a\\u00", "json: unexpected end of line at column 18");
    bad("{\"account\":\"\\ud83d", "json: unexpected end of line");
    bad("{\"account\":\"\\ud83d\\", "json: unexpected end of line");
    bad("{\"account\":\"a\",\"ts\":1,\"x\":tr", "json: unexpected end of line at column 29");
}

Test(event, invalid_json) {
    bad("{\"account\" \"a\",\"ts\":1}", "json: expected ':' after key at column 12");
    bad("{\"account\":\"a\",\"ts\":1,}", "json: expected a quoted key at column 23");
    bad("{\"account\":\"a\" \"ts\":1}", "json: expected ',' or '}' after a value at column 16");
    bad("{'account':'a','ts':1}", "json: expected a quoted key at column 2");
    bad("{account:\"a\",\"ts\":1}", "json: expected a quoted key at column 2");
    bad("[{\"account\":\"a\",\"ts\":1}]", "json: expected '{' (each line must be one JSON object) at column 1");
    bad("\"account\"", "json: expected '{'");
    bad("42", "json: expected '{'");
    bad("{\"account\":\"a\",\"ts\":1}x", "json: unexpected data after the object at column 23");
    bad("{\"account\":\"a\",\"ts\":1}{\"account\":\"a\",\"ts\":1}", "json: unexpected data after the object");
    bad("{\"account\":\"a\",\"ts\":1,\"x\":nul}", "json: invalid literal (expected true, false or null) at column 30");
    bad("{\"account\":\"a\",\"ts\":1,\"x\":True}", "json: expected a value at column 27");
    bad("{\"account\":\"a\",\"ts\":1,\"x\":[1,]}", "json: expected a value at column 30");
    bad("{\"account\":\"a\",\"ts\":1,\"x\":[1 2]}", "json: expected ',' or ']' in an array at column 30");
    bad("{\"account\":\"a\",\"ts\":1,\"x\":{\"a\" 1}}", "json: expected ':' after key at column 32");
    bad("{\"account\":\"a\",\"ts\":1,\"x\":{\"a\":1 \"b\":2}}", "json: expected ',' or '}' in an object");
    bad("{\"account\":\"a\",\"ts\":1,\"x\":{1:2}}", "json: expected a quoted key at column 28");
    bad("{\"account\":\"a\",\"ts\":1,\"x\":007}", "json: numbers must not have leading zeros");
    bad("{\"account\":\"a\",\"ts\":1,\"x\":1e}", "json: expected a digit in the exponent");
    bad("{\"account\":\"a\",\"ts\":1,\"x\":.5}", "json: expected a value");
    bad("{\"account\":\"a\",\"ts\":1,\"x\":}", "json: expected a value at column 27");
    bad("{\"account\":}", "json: expected a value at column 12");
    bad("{\"account\":\"a\",\"ts\":1,\"x\":\"\\u00e9\"\x0b}", "json: expected ',' or '}'");
}

Test(event, megabyte_line) {
    const char *head = "{\"account\":\"a\",\"ts\":1,\"pad\":\"";
    size_t pad = (size_t)RW_LINE_MAX - 64;
    char *line = malloc(strlen(head) + pad + 8);
    cr_assert_not_null(line);
    strcpy(line, head);
    size_t n = strlen(head);
    memset(line + n, 'p', pad);
    n += pad;
    memcpy(line + n, "\"}", 3);
    ok(line);
    cr_assert_eq(ev.unknown_keys, 1);
    line[n - 1] = '\x01';
    bad(line, "json: raw control character 0x01");
    /* A megabyte of whitespace is fine too, as is a megabyte account (refused). */
    memset(line, ' ', n);
    memcpy(line + n - 24, "{\"account\":\"a\",\"ts\":1} ", 24);
    ok(line);
    n = (size_t)sprintf(line, "{\"account\":\"");
    memset(line + n, 'a', pad);
    memcpy(line + n + pad, "\",\"ts\":1}", 10);
    bad(line, "account: longer than 256 bytes");
    free(line);
}

Test(event, failure_leaves_an_empty_event) {
    char line[1024];
    char *a300 = repeat('a', 300);
    snprintf(line, sizeof line, "{\"ip\":\"1.2.3.4\",\"device\":\"d\",\"account\":\"%s\",\"ts\":1}", a300);
    bad(line, "account: longer than 256 bytes");
    cr_assert_eq(ev.account_len, 0);
    for (int i = 0; i < RW_EVENT_ATTRS; i++) cr_assert_eq(ev.attr_len[i], 0);
    bad("{\"account\":\"a\",\"device\":\"d\",\"ts\":1,}", "json: ");
    cr_assert_eq(ev.account_len, 0);
    cr_assert_eq(ev.attr_len[1], 0);
    free(a300);
}

Test(event, null_err_is_allowed) {
    cr_assert_eq(rw_event_parse(&ev, "{}", 2, NULL), RW_ERR_INVALID);
    cr_assert_eq(rw_event_parse(&ev, TYPICAL, strlen(TYPICAL), NULL), RW_OK);
}
