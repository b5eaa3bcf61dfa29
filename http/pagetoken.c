/* http: page tokens of GET /v1/clusters. A token is version, run, score and
 * id of the last row and the filters' digest, with a check value, in
 * unpadded base64url: opaque to clients, stable while newer runs land, and
 * garbage never decodes. */
#include <math.h>
#include <string.h>

#include "http_int.h"

#define RAW_LEN 29 /* version 1 + run 8 + score 8 + id 4 + filters 4 + check 4 */
#define VERSION 2  /* 1 had no filters' digest */
_Static_assert((RAW_LEN * 8 + 5) / 6 == RW_PAGE_TOKEN_LEN, "token length");

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (56 - 8 * i));
}
static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (24 - 8 * i));
}
static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

/* FNV-1a: catches typos and truncation, not forgery (a forged cursor only
 * pages from elsewhere in data the caller may read anyway). */
static uint32_t check(const unsigned char *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

void rw_page_token_encode(char out[RW_PAGE_TOKEN_LEN + 1], const rw_page_cursor *c) {
    unsigned char raw[RAW_LEN];
    uint64_t bits;
    memcpy(&bits, &c->score, sizeof bits);
    raw[0] = VERSION;
    put64(raw + 1, (uint64_t)c->run);
    put64(raw + 9, bits);
    put32(raw + 17, c->id);
    put32(raw + 21, c->filters);
    put32(raw + 25, check(raw, 25));
    size_t o = 0;
    uint32_t acc = 0;
    int nbits = 0;
    for (size_t i = 0; i < RAW_LEN; i++) {
        acc = acc << 8 | raw[i];
        nbits += 8;
        while (nbits >= 6) {
            nbits -= 6;
            out[o++] = alphabet[(acc >> nbits) & 63];
        }
    }
    if (nbits) out[o++] = alphabet[(acc << (6 - nbits)) & 63];
    out[o] = 0;
}

rw_status rw_page_token_decode(rw_page_cursor *out, const char *s, size_t len, rw_err *err) {
    memset(out, 0, sizeof *out);
    if (len != RW_PAGE_TOKEN_LEN) return rw_fail(err, RW_ERR_INVALID, "not a page token (wrong length)");
    unsigned char raw[RAW_LEN + 1];
    size_t o = 0;
    uint32_t acc = 0;
    int nbits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *at = s[i] ? strchr(alphabet, s[i]) : NULL;
        if (!at) return rw_fail(err, RW_ERR_INVALID, "not a page token (bad character at %zu)", i + 1);
        acc = acc << 6 | (uint32_t)(at - alphabet);
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            raw[o++] = (unsigned char)(acc >> nbits);
        }
    }
    /* The spare low bits of the last character must be zero, or two tokens
     * would decode alike. */
    if (o != RAW_LEN || (acc & ((1u << nbits) - 1)) != 0)
        return rw_fail(err, RW_ERR_INVALID, "not a page token (bad padding)");
    if (raw[0] != VERSION || get32(raw + 25) != check(raw, 25))
        return rw_fail(err, RW_ERR_INVALID, "not a page token (check failed)");
    uint64_t bits = get64(raw + 9);
    double score;
    memcpy(&score, &bits, sizeof score);
    uint32_t id = get32(raw + 17);
    int64_t run = (int64_t)get64(raw + 1);
    if (run <= 0 || id == 0 || !isfinite(score) || score < 0 || score > 1)
        return rw_fail(err, RW_ERR_INVALID, "not a page token (out of range)");
    out->run = run;
    out->score = score;
    out->id = id;
    out->filters = get32(raw + 21);
    return RW_OK;
}

uint32_t rw_page_filter_digest(const rw_cluster_filter *f) {
    unsigned char raw[32];
    uint64_t bits;
    memcpy(&bits, &f->min_score, sizeof bits);
    put64(raw, bits);
    put32(raw + 8, (uint32_t)f->flagged);
    put32(raw + 12, (uint32_t)f->labelled);
    put64(raw + 16, (uint64_t)f->since);
    put64(raw + 24, (uint64_t)f->until);
    return check(raw, sizeof raw);
}
