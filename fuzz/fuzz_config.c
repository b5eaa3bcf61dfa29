/* libFuzzer target for rw_config_parse: no input may crash or leak, an error
 * always names the file and line, and an accepted text leaves a config that
 * every setting's documented default can still be applied to. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rw_config c;
    rw_err err;
    err.msg[0] = 0;
    rw_config_defaults(&c);
    rw_status st = rw_config_parse(&c, "f.ini", (const char *)data, size, &err);
    if (st != RW_OK) {
        if (strncmp(err.msg, "f.ini:", 6) != 0 || !memchr(err.msg, 0, sizeof err.msg)) abort();
        return 0;
    }
    /* what a parse accepts is a valid configuration */
    if (c.threads < 1 || c.max_body_bytes < 64 || c.rescore_at < -1 || c.rescore_at >= 24 * 60) abort();
    if (!(c.review_threshold >= 0 && c.review_threshold <= 1 && c.block_threshold >= 0 && c.block_threshold <= 1))
        abort();
    if (!memchr(c.listen, 0, sizeof c.listen) || !memchr(c.token_admin, 0, sizeof c.token_admin)) abort();
    (void)rw_config_check(&c, &err);
    return 0;
}
