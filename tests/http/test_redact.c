/* The redaction of libmicrohttpd's messages before they reach the log: the
 * library's own formats that quote a request's URL or a header, fed the raw
 * values a request may carry. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <string.h>

#include "http_int.h"

static int redacted(char *out, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int whole = rw_http_redact(out, size, fmt, ap);
    va_end(ap);
    return whole;
}

/* Formats from libmicrohttpd 0.9.75 whose %s is a request's URL. */
static const char *const url_formats[] = {
    "Failed to send data in request for %s.\n",
    "Failed to send the response headers for the request for `%s'. Error: %s\n",
    "Failed to send the response body for the request for `%s'. Error: %s\n",
    "Failed to send the chunked response body for the request for `%s'. Error: %s\n",
    "Failed to send the footers for the request for `%s'. Error: %s\n",
};

Test(redact, urls_in_libmicrohttpd_messages_never_reach_the_log) {
    static const char *const raw[] = {"/v1/attributes/ip/203.0.113.77", "/v1/accounts/u1234567890",
                                      "/v1/clusters?page_token=rawtoken9931"};
    char out[512];
    for (size_t f = 0; f < sizeof url_formats / sizeof url_formats[0]; f++)
        for (size_t r = 0; r < sizeof raw / sizeof raw[0]; r++) {
            cr_expect(redacted(out, sizeof out, url_formats[f], raw[r], "Connection reset by peer"));
            cr_expect(!strstr(out, raw[r]) && strstr(out, "[redacted]"), "%s", out);
        }
}

Test(redact, numbers_stay_and_unknown_conversions_end_the_line) {
    char out[256];
    cr_expect(redacted(out, sizeof out, "Error processing request (HTTP response code is %u ('%s')). Closing.", 400u,
                       "Bad Request /v1/accounts/u99"));
    cr_expect_str_eq(out, "Error processing request (HTTP response code is 400 ('[redacted]')). Closing.");
    cr_expect(redacted(out, sizeof out, "%zu bytes from %d, %ld, %lld, %%, %p", (size_t)7, -3, 9L, 11LL, (void *)0));
    cr_expect(!strncmp(out, "7 bytes from -3, 9, 11, %, ", 27), "%s", out);
    cr_expect_not(redacted(out, sizeof out, "before %n after %s", (int *)0, "/v1/accounts/u1"));
    cr_expect_str_eq(out, "before ");
}

Test(redact, a_long_message_is_cut_not_overrun) {
    char out[16];
    char big[400];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    redacted(out, sizeof out, "%s and %s and more text than fits", big, big);
    cr_expect_eq(strlen(out), sizeof out - 1);
    cr_expect(!strchr(out, 'x'));
}
