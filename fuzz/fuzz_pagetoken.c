/* libFuzzer target for the page tokens of GET /v1/clusters: decoding any
 * bytes never crashes, a token that decodes re-encodes to itself, and any
 * cursor in range (built from the input) survives encode and decode. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rw_page_cursor c;
    rw_err err;
    err.msg[0] = 0;
    char tok[RW_PAGE_TOKEN_LEN + 1];
    if (rw_page_token_decode(&c, (const char *)data, size, &err) == RW_OK) {
        if (c.run <= 0 || c.id == 0 || !(c.score >= 0 && c.score <= 1)) abort();
        rw_page_token_encode(tok, &c);
        if (size != RW_PAGE_TOKEN_LEN || memcmp(tok, data, size) != 0) abort();
    } else if (strncmp(err.msg, "not a page token", 16) != 0 || !memchr(err.msg, 0, sizeof err.msg)) {
        abort();
    }

    /* The other direction: a cursor from the input's first 20 bytes. */
    if (size >= 20) {
        rw_page_cursor in = {0}, back;
        uint64_t run = 0, bits = 0;
        uint32_t id = 0;
        memcpy(&run, data, 8);
        memcpy(&bits, data + 8, 8);
        memcpy(&id, data + 16, 4);
        in.run = (int64_t)(run >> 1);
        memcpy(&in.score, &bits, sizeof in.score);
        in.id = id;
        rw_page_token_encode(tok, &in);
        if (strlen(tok) != RW_PAGE_TOKEN_LEN) abort();
        int valid = in.run > 0 && in.id != 0 && isfinite(in.score) && in.score >= 0 && in.score <= 1;
        rw_status st = rw_page_token_decode(&back, tok, RW_PAGE_TOKEN_LEN, &err);
        if (valid != (st == RW_OK)) abort();
        if (valid && (back.run != in.run || back.id != in.id || memcmp(&back.score, &in.score, sizeof in.score)))
            abort();
    }
    return 0;
}
