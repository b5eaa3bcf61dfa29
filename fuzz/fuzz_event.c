/* libFuzzer target for rw_event_parse and the IP, time and UTF-8 helpers:
 * no input may crash, leak or break the invariants of an accepted event. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What every accepted event must satisfy; a violation aborts the run. */
static void check_event(const rw_event_raw *ev) {
    if (ev->account_len < 1 || ev->account_len > RW_ACCOUNT_MAX) abort();
    if (strlen(ev->account) != ev->account_len || !rw_utf8_valid(ev->account, ev->account_len)) abort();
    if (ev->ts < 0 || ev->ts > (int64_t)UINT32_MAX || (unsigned)ev->type >= RW_EV_TYPE_COUNT) abort();
    for (int i = 0; i < RW_EVENT_ATTRS; i++) {
        size_t n = ev->attr_len[i];
        if (n > RW_ATTR_MAX || strlen(ev->attr[i]) != n || !rw_utf8_valid(ev->attr[i], n)) abort();
    }
    if (ev->attr_len[0]) { /* a normalised IP is a fixed point and has a subnet */
        char ip[64], subnet[64];
        if (rw_ip_normalise(ip, sizeof ip, NULL, ev->attr[0], ev->attr_len[0]) != RW_OK) abort();
        if (strcmp(ip, ev->attr[0]) != 0) abort();
        if (rw_ip_subnet(subnet, sizeof subnet, ip) != RW_OK) abort();
    }
    char t[32];
    int64_t back;
    rw_time_format(t, sizeof t, ev->ts);
    if (rw_time_parse_rfc3339(&back, t, strlen(t)) != RW_OK || back != ev->ts) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rw_event_raw ev;
    rw_err err;
    const char *s = (const char *)data;
    err.msg[0] = '\0';
    if (rw_event_parse(&ev, s, size, &err) == RW_OK)
        check_event(&ev);
    else if (err.msg[0] == '\0' || memchr(err.msg, '\0', sizeof err.msg) == NULL)
        abort();

    /* The helpers on their own, on the raw bytes. */
    char out[64];
    int64_t ts;
    (void)rw_utf8_valid(s, size);
    (void)rw_time_parse_rfc3339(&ts, s, size);
    if (rw_ip_normalise(out, sizeof out, NULL, s, size) == RW_OK) {
        char again[64];
        if (rw_ip_normalise(again, sizeof again, NULL, out, strlen(out)) != RW_OK || strcmp(again, out) != 0) abort();
    }
    return 0;
}
