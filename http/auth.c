/* http: bearer tokens by role. Configured tokens are kept only as BLAKE2b
 * hashes; a presented token is hashed and compared with every one of them in
 * constant time, so neither its length nor its prefix leaks through timing. */
#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"

int rw_auth_split(const char *item, size_t n, size_t *name_len, size_t *token_at) {
    const char *colon = memchr(item, ':', n);
    *name_len = 0, *token_at = 0;
    if (!colon) return 0;
    size_t len = (size_t)(colon - item);
    if (len == 0 || len > RW_AUTH_NAME) return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)item[i];
        if (!isalnum(ch) && !strchr("-._", ch)) return -1;
    }
    *name_len = len, *token_at = len + 1;
    return 0;
}

/* Adds the comma-separated tokens of list with role to s->tokens. */
static rw_status add_list(rw_http_server *s, const char *list, unsigned role, rw_err *err) {
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *t = p;
        while (n && (*t == ' ' || *t == '\t')) t++, n--;
        while (n && (t[n - 1] == ' ' || t[n - 1] == '\t')) n--;
        size_t name_len = 0, at = 0;
        if (n && rw_auth_split(t, n, &name_len, &at) != 0)
            return rw_fail(err, RW_ERR_INVALID, "a token's name must be 1 to %d of A-Z a-z 0-9 - . _", RW_AUTH_NAME);
        if (n > at) {
            unsigned char h[RW_AUTH_HASH];
            crypto_generichash(h, sizeof h, (const unsigned char *)t + at, n - at, NULL, 0);
            size_t i = 0;
            for (; i < s->ntokens; i++)
                if (!memcmp(s->tokens[i].hash, h, sizeof h)) break;
            if (i == s->ntokens) { /* one token may hold several roles */
                rw_auth_token *nt = realloc(s->tokens, (s->ntokens + 1) * sizeof *nt);
                if (!nt) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
                s->tokens = nt;
                memcpy(nt[i].hash, h, sizeof h);
                nt[i].roles = 0;
                memset(nt[i].name, 0, sizeof nt[i].name);
                s->ntokens++;
            }
            s->tokens[i].roles |= role;
            if (name_len) {
                memset(s->tokens[i].name, 0, sizeof s->tokens[i].name);
                memcpy(s->tokens[i].name, t, name_len);
            }
        }
        if (!end) break;
        p = end + 1;
    }
    return RW_OK;
}

rw_status rw_auth_init(rw_http_server *s, rw_err *err) {
    if (sodium_init() < 0) return rw_fail(err, RW_ERR_INTERNAL, "libsodium failed to initialise");
    const struct {
        const char *list;
        unsigned role;
    } lists[] = {{s->cfg.token_signup, RW_ROLE_SIGNUP},
                 {s->cfg.token_analyst, RW_ROLE_ANALYST},
                 {s->cfg.token_admin, RW_ROLE_ADMIN},
                 {s->cfg.token_metrics, RW_ROLE_METRICS}};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        rw_status st = add_list(s, lists[i].list, lists[i].role, err);
        if (st != RW_OK) return st;
    }
    return RW_OK;
}

int rw_auth_roles(const rw_http_server *s, const char *authorization) {
    char who[RW_AUTH_NAME + 1];
    return rw_auth_who(s, authorization, who);
}

int rw_auth_who(const rw_http_server *s, const char *authorization, char who[RW_AUTH_NAME + 1]) {
    memset(who, 0, RW_AUTH_NAME + 1);
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return -1;
    const char *t = authorization + 7;
    while (*t == ' ') t++;
    size_t n = strlen(t);
    while (n && t[n - 1] == ' ') n--;
    if (!n) return -1;
    unsigned char h[RW_AUTH_HASH];
    crypto_generichash(h, sizeof h, (const unsigned char *)t, n, NULL, 0);
    unsigned roles = 0;
    for (size_t i = 0; i < s->ntokens; i++) {
        /* sodium_memcmp is 0 or -1; no early exit over the table either */
        unsigned same = (unsigned)(sodium_memcmp(h, s->tokens[i].hash, sizeof h) + 1);
        roles |= s->tokens[i].roles & (0u - same);
        unsigned char mask = (unsigned char)(0u - same);
        for (size_t k = 0; k < RW_AUTH_NAME; k++) who[k] |= (char)(s->tokens[i].name[k] & mask);
    }
    return (int)roles;
}
