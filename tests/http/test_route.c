/* Unit tests of the route matcher, percent-decoding and page tokens. */
#include <criterion/criterion.h>
#include <string.h>

#include "http_int.h"

static void h(rw_http_ctx *c) {
    (void)c;
}

static const rw_route table[] = {
    {"GET", "/v1/items", 0, "", h, 0},
    {"POST", "/v1/items", 0, "", h, 0},
    {"GET", "/v1/items/{id}", 0, "", h, 0},
    {"POST", "/v1/items/{id}/label", 0, "", h, 0},
    {"GET", "/v1/things/{kind}/{value}", 0, "", h, 0},
};
#define N (sizeof table / sizeof table[0])

Test(route, matches_and_captures) {
    rw_route_params p;
    char allow[32];
    cr_expect_eq(rw_route_match(table, N, "GET", "/v1/items", &p, allow, sizeof allow), 0);
    cr_expect_eq(p.n, 0);
    cr_expect_eq(rw_route_match(table, N, "POST", "/v1/items", &p, allow, sizeof allow), 1);
    cr_assert_eq(rw_route_match(table, N, "GET", "/v1/items/a%2Fb", &p, allow, sizeof allow), 2);
    cr_expect_eq(p.n, 1);
    cr_expect(p.p[0].len == 5 && !memcmp(p.p[0].s, "a%2Fb", 5));
    cr_assert_eq(rw_route_match(table, N, "POST", "/v1/items/42/label", &p, allow, sizeof allow), 3);
    cr_expect(p.p[0].len == 2 && !memcmp(p.p[0].s, "42", 2));
    cr_assert_eq(rw_route_match(table, N, "GET", "/v1/things/ip/1.2.3.4", &p, allow, sizeof allow), 4);
    cr_expect_eq(p.n, 2);
    cr_expect(p.p[1].len == 7 && !memcmp(p.p[1].s, "1.2.3.4", 7));
}

Test(route, not_found_and_wrong_method) {
    rw_route_params p;
    char allow[32];
    static const char *const missing[] = {"",
                                          "/",
                                          "/v1",
                                          "/v1/items/",
                                          "/v1/items//label",
                                          "/v1/itemsx",
                                          "/v1/items/1/label/x",
                                          "/v1/things/ip",
                                          "v1/items",
                                          "/V1/items"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
        cr_expect_eq(rw_route_match(table, N, "GET", missing[i], &p, allow, sizeof allow), RW_ROUTE_NOTFOUND, "%s",
                     missing[i]);
    cr_expect_eq(rw_route_match(table, N, "DELETE", "/v1/items", &p, allow, sizeof allow), RW_ROUTE_BADMETHOD);
    cr_expect_str_eq(allow, "GET, HEAD, POST");
    cr_expect_eq(rw_route_match(table, N, "HEAD", "/v1/items/7", &p, allow, sizeof allow), 2, "HEAD is a GET");
    cr_expect_eq(rw_route_match(table, N, "HEAD", "/v1/items/7/label", &p, allow, sizeof allow), RW_ROUTE_BADMETHOD);
    cr_expect_eq(rw_route_match(table, N, "GET", "/v1/items/7/label", &p, allow, sizeof allow), RW_ROUTE_BADMETHOD);
    cr_expect_str_eq(allow, "POST");
}

Test(route, server_table_is_sane) {
    size_t n;
    const rw_route *t = rw_http_routes(&n);
    cr_assert_leq(n, RW_ROUTES_MAX);
    for (size_t i = 0; i < n; i++) {
        cr_expect(t[i].pattern[0] == '/' && t[i].fn && t[i].roles, "%s", t[i].pattern);
        for (size_t j = 0; j < i; j++)
            cr_expect(strcmp(t[i].pattern, t[j].pattern) || strcmp(t[i].method, t[j].method), "duplicate %s %s",
                      t[i].method, t[i].pattern);
    }
}

Test(route, unescape) {
    char out[32];
    size_t n;
    cr_expect_eq(rw_http_unescape(out, sizeof out, &n, "a%2Fb%20c+d", 11, 0), RW_OK);
    cr_expect_str_eq(out, "a/b c+d");
    cr_expect_eq(rw_http_unescape(out, sizeof out, &n, "a%2fb+c", 7, 1), RW_OK);
    cr_expect_str_eq(out, "a/b c");
    cr_expect_eq(n, 5);
    static const char *const bad[] = {"%", "%2", "%zz", "a%0", "%00", "%G1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(rw_http_unescape(out, sizeof out, &n, bad[i], strlen(bad[i]), 0), RW_ERR_INVALID, "%s", bad[i]);
    cr_expect_eq(rw_http_unescape(out, 4, &n, "abcd", 4, 0), RW_ERR_INVALID); /* does not fit */
    cr_expect_eq(rw_http_unescape(out, 4, &n, "abc", 3, 0), RW_OK);
}

Test(pagetoken, round_trip) {
    const rw_page_cursor cases[] = {{1, 0.0, 1, 0},
                                    {7, 0.8249984110645929, 117, 99},
                                    {INT64_MAX, 1.0, UINT32_MAX, UINT32_MAX},
                                    {123456789, 5e-324, 42, 0x80000001u}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char t[RW_PAGE_TOKEN_LEN + 1];
        rw_page_token_encode(t, &cases[i]);
        cr_expect_eq(strlen(t), RW_PAGE_TOKEN_LEN);
        cr_expect_eq(strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), RW_PAGE_TOKEN_LEN);
        rw_page_cursor back;
        rw_err err;
        cr_assert_eq(rw_page_token_decode(&back, t, strlen(t), &err), RW_OK, "%s", err.msg);
        cr_expect_eq(back.run, cases[i].run);
        cr_expect_eq(memcmp(&back.score, &cases[i].score, sizeof back.score), 0);
        cr_expect_eq(back.id, cases[i].id);
        cr_expect_eq(back.filters, cases[i].filters);
    }
}

Test(pagetoken, every_filter_changes_the_digest) {
    const rw_cluster_filter base = {.min_score = 0.5, .flagged = 1, .labelled = -1, .since = 1000, .until = 2000};
    rw_cluster_filter v[6];
    for (int i = 0; i < 6; i++) v[i] = base;
    v[1].min_score = 0.25;
    v[2].flagged = 0;
    v[3].labelled = 0;
    v[4].since = 0;
    v[5].until = 2000 + (1ll << 32); /* the high half of a time counts too */
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++)
            cr_expect_neq(rw_page_filter_digest(&v[i]), rw_page_filter_digest(&v[j]), "%d and %d", i, j);
    cr_expect_eq(rw_page_filter_digest(&base), rw_page_filter_digest(&v[0]));
}

Test(pagetoken, garbage_is_rejected) {
    rw_page_cursor c = {3, 0.5, 9, 17}, back;
    rw_err err;
    char t[RW_PAGE_TOKEN_LEN + 1];
    rw_page_token_encode(t, &c);
    static const char *const bad[] = {"",
                                      "abc",
                                      "AQAAAAAAAAABP8x68Ihnw4cAAAAoBi5U8Q==",
                                      "AQAAAAAAAAABP8x68Ihnw4cAAAAoBi5U8X" /* version 1 */,
                                      "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
                                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(rw_page_token_decode(&back, bad[i], strlen(bad[i]), &err), RW_ERR_INVALID, "%s", bad[i]);
    /* every single-character change is caught */
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < RW_PAGE_TOKEN_LEN; i++) {
        char m[RW_PAGE_TOKEN_LEN + 1];
        memcpy(m, t, sizeof m);
        m[i] = alpha[(strchr(alpha, m[i]) - alpha + 1) % 64];
        cr_expect_eq(rw_page_token_decode(&back, m, RW_PAGE_TOKEN_LEN, &err), RW_ERR_INVALID, "position %zu", i);
    }
    /* an embedded NUL does not pass for the end */
    char z[RW_PAGE_TOKEN_LEN + 1];
    memcpy(z, t, sizeof z);
    z[5] = 0;
    cr_expect_eq(rw_page_token_decode(&back, z, RW_PAGE_TOKEN_LEN, &err), RW_ERR_INVALID);
}
