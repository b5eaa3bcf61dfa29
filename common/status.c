/* Status codes, error messages, kind and event-type names. */
#include <stdio.h>
#include <string.h>

#include "common.h"

static const char *const status_names[RW_STATUS_COUNT] = {
    [RW_OK] = "ok",
    [RW_ERR_NOMEM] = "out of memory",
    [RW_ERR_IO] = "input/output error",
    [RW_ERR_INVALID] = "invalid input",
    [RW_ERR_NOTFOUND] = "not found",
    [RW_ERR_DB] = "database error",
    [RW_ERR_CORRUPT] = "corrupt or foreign file",
    [RW_ERR_FULL] = "storage full",
    [RW_ERR_EXISTS] = "already exists",
    [RW_ERR_PERM] = "permission denied",
    [RW_ERR_LIMIT] = "limit exceeded",
    [RW_ERR_INTERNAL] = "internal error",
    [RW_ERR_CANCELLED] = "cancelled",
};

const char *rw_status_str(rw_status s) {
    if ((unsigned)s >= RW_STATUS_COUNT) return "unknown status";
    return status_names[s];
}

rw_status rw_fail(rw_err *err, rw_status s, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return s;
}

void rw_err_prefix(rw_err *err, const char *fmt, ...) {
    if (!err) return;
    char pre[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strnlen(pre, sizeof pre);
    if (n >= sizeof err->msg) n = sizeof err->msg - 1;
    memcpy(err->msg, pre, n);
    size_t rest = strnlen(old, sizeof old - 1);
    if (rest > sizeof err->msg - 1 - n) rest = sizeof err->msg - 1 - n;
    memcpy(err->msg + n, old, rest);
    err->msg[n + rest] = 0;
}

static const char *const kind_names[RW_KIND_COUNT] = {
    [RW_KIND_ACCOUNT] = "account", [RW_KIND_IP] = "ip",         [RW_KIND_DEVICE] = "device",
    [RW_KIND_PAYMENT] = "payment", [RW_KIND_SUBNET] = "subnet",
};

const char *rw_kind_name(rw_kind k) {
    return (unsigned)k < RW_KIND_COUNT ? kind_names[k] : NULL;
}

rw_status rw_kind_parse(rw_kind *out, const char *name) {
    *out = RW_KIND_ACCOUNT;
    for (int k = 0; k < RW_KIND_COUNT; k++) {
        if (strcmp(name, kind_names[k]) == 0) {
            *out = (rw_kind)k;
            return RW_OK;
        }
    }
    return RW_ERR_INVALID;
}

static const char *const type_names[RW_EV_TYPE_COUNT] = {
    [RW_EV_SIGNUP] = "signup", [RW_EV_LOGIN] = "login", [RW_EV_PAYMENT] = "payment"};

const char *rw_event_type_name(rw_event_type t) {
    return (unsigned)t < RW_EV_TYPE_COUNT ? type_names[t] : NULL;
}
