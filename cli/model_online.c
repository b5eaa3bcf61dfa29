/* ringwatch model list | show V | promote V | rollback: the signup models
 * the nightly job fitted, their shadow trials and the decisions on them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "model_online.h"

static void when(char *out, size_t size, int64_t ts) {
    if (ts)
        rw_time_format(out, size, ts);
    else
        snprintf(out, size, "-");
}

static rw_status print_row(void *ctx, const rw_model_info *m) {
    (void)ctx;
    char made[32], from[32], to[32];
    when(made, sizeof made, m->created_at);
    when(from, sizeof from, m->train_from);
    when(to, sizeof to, m->train_to);
    printf("%d\t%s%s\t%s\t%s..%s\t%llu\t%llu\n", m->version, m->state, m->in_force ? " (in force)" : "", made, from, to,
           (unsigned long long)m->positives, (unsigned long long)m->negatives);
    return RW_OK;
}

static rw_status print_detail(void *ctx, const rw_model_info *m) {
    (void)ctx;
    char made[32], shadow[32], decided[32];
    when(made, sizeof made, m->created_at);
    when(shadow, sizeof shadow, m->shadow_from);
    when(decided, sizeof decided, m->decided_at);
    printf("# signup model %d: %s%s\n# fitted %s on %llu ring and %llu other signups\n# validation %s\n"
           "# shadow from %s, decided %s: %s\n",
           m->version, m->state, m->in_force ? " (in force)" : "", made, (unsigned long long)m->positives,
           (unsigned long long)m->negatives, m->validation, shadow, decided, m->decision[0] ? m->decision : "-");
    return RW_OK;
}

/* "V" as a version (0: the shipped model); -1 when it is not one. */
static int parse_version(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= 0 && v < 1 << 30 ? (int)v : -1;
}

int rw_model_online(rw_engine *e, const char *verb, const char *arg) {
    rw_err err = {{0}};
    rw_status st = RW_OK;
    int v = arg ? parse_version(arg) : 0;
    if (arg && v < 0) {
        rw_cli_error("model", "%s: '%s' is not a model version (0 for the shipped one)", verb, arg);
        return RW_EXIT_USAGE;
    }
    if (!strcmp(verb, "list")) {
        printf("version\tstate\tfitted\ttraining window\tring rows\tother rows\n");
        st = rw_engine_models(e, 0, print_row, NULL, &err);
    } else if (!strcmp(verb, "show")) {
        size_t size = 1 << 20, len = 0;
        char *text = malloc(size);
        if (!text) return RW_EXIT_FAIL;
        if (v) st = rw_engine_models(e, v, print_detail, NULL, &err);
        if (st == RW_OK) st = rw_engine_model_online_text(e, v, text, size, &len, &err);
        if (st == RW_OK) printf("%s%s", v ? "" : "# the shipped signup model\n", text);
        free(text);
    } else if (!strcmp(verb, "promote")) {
        st = rw_engine_model_promote(e, v, &err);
        if (st == RW_OK) printf("signup model %d is in force\n", v);
    } else {
        st = rw_engine_model_rollback(e, &v, &err);
        if (st == RW_OK) printf("rolled back: signup model %d is in force\n", v);
    }
    if (st != RW_OK) {
        rw_cli_error("model", "%s: %s", verb, err.msg);
        return st == RW_ERR_NOTFOUND || st == RW_ERR_EXISTS ? RW_EXIT_FAIL : RW_EXIT_FAIL;
    }
    return RW_EXIT_OK;
}
