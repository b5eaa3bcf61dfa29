/* cli: the one option parser, the help and the man page, all read from each
 * command's table (opts.h). */
#include "opts.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { MAX_OPTS = 64 };

/* The row named by name (length len): an exact name, else the one name it
 * is a prefix of. NULL with *ambiguous set when several are. */
static const rw_cli_opt *find(const rw_cli_spec *sp, const char *name, size_t len, int *ambiguous) {
    const rw_cli_opt *hit = NULL;
    int hits = 0;
    *ambiguous = 0;
    for (const rw_cli_opt *o = sp->opt; o->name; o++) {
        if (strncmp(o->name, name, len)) continue;
        if (strlen(o->name) == len) return o;
        hit = o;
        hits++;
    }
    *ambiguous = hits > 1;
    return hits == 1 ? hit : NULL;
}

static const char *set_u64(const rw_cli_opt *o, const char *v, void *at, char *why, size_t n) {
    uint64_t x = 0;
    uint64_t hi = o->hi > 0 ? (uint64_t)o->hi : UINT64_MAX;
    if (rw_cli_parse_u64(v, &x)) return "is not a whole number";
    if (x < (uint64_t)o->lo || x > hi) {
        if (o->hi > 0)
            snprintf(why, n, "is not a whole number from %llu to %llu", (unsigned long long)o->lo,
                     (unsigned long long)hi);
        else
            snprintf(why, n, "is not a whole number of at least %llu", (unsigned long long)o->lo);
        return why;
    }
    *(uint64_t *)at = x;
    return NULL;
}

static const char *set_real(const rw_cli_opt *o, const char *v, void *at, char *why, size_t n) {
    char *end = NULL;
    double x = strtod(v, &end);
    if (!*v || *end || !isfinite(x)) return "is not a number";
    if ((o->open_lo ? !(x > o->lo) : x < o->lo) || x > o->hi) {
        if (o->hi >= 1e300)
            snprintf(why, n, o->open_lo ? "is not a number above %g" : "is not a number of at least %g", o->lo);
        else
            snprintf(why, n, o->open_lo ? "is not a number above %g and at most %g" : "is not a number from %g to %g",
                     o->lo, o->hi);
        return why;
    }
    *(double *)at = x;
    return NULL;
}

static const char *set_choice(const rw_cli_opt *o, const char *v, void *at, char *why, size_t n) {
    size_t used = (size_t)snprintf(why, n, "is not one of");
    for (int i = 0; o->choices[i]; i++) {
        if (!strcmp(v, o->choices[i])) {
            *(int *)at = i;
            return NULL;
        }
        if (used < n) used += (size_t)snprintf(why + used, n - used, "%s %s", i ? "," : "", o->choices[i]);
    }
    return why;
}

/* Stores value v of option o into the struct at base; NULL or why not. */
static const char *set(const rw_cli_opt *o, const char *v, char *base, char *why, size_t n) {
    void *at = base + o->at;
    switch (o->kind) {
        case RW_OPT_FLAG:
            *(int *)at = 1;
            return NULL;
        case RW_OPT_TEXT:
            *(const char **)at = v;
            return NULL;
        case RW_OPT_U64:
            return set_u64(o, v, at, why, n);
        case RW_OPT_REAL:
            return set_real(o, v, at, why, n);
        case RW_OPT_CHOICE:
            return set_choice(o, v, at, why, n);
        case RW_OPT_CUSTOM:
            return o->parse(v, at);
    }
    return "has an option kind this build does not know";
}

static void usage_line(const rw_cli_spec *sp, FILE *f) {
    fprintf(f, "usage: ringwatch %s", sp->name);
    for (const rw_cli_opt *o = sp->opt; o->name; o++) {
        if (o->arg)
            fprintf(f, o->required ? " --%s %s" : " [--%s %s]", o->name, o->arg);
        else
            fprintf(f, " [--%s]", o->name);
    }
    fprintf(f, "%s%s\n", sp->args ? " " : "", sp->args ? sp->args : "");
}

int rw_cli_usage(const rw_cli_spec *sp, const char *fmt, ...) {
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rw_cli_error(sp->name, "%s", msg);
    usage_line(sp, stderr);
    fprintf(stderr, "(`ringwatch %s --help` describes every option)\n", sp->name);
    return RW_EXIT_USAGE;
}

/* One "--name[=value]" at argv[*i]; returns -1 when done, else the exit code. */
static int one_option(const rw_cli_spec *sp, char *base, int argc, char **argv, int *i, uint64_t *given) {
    const char *arg = argv[*i] + 2, *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    int ambiguous;
    const rw_cli_opt *o = find(sp, arg, len, &ambiguous);
    if (!o && len == 4 && !strncmp(arg, "help", 4)) {
        rw_cli_help(sp, stdout);
        return RW_EXIT_OK;
    }
    if (!o) return rw_cli_usage(sp, "%s option '--%.*s'", ambiguous ? "ambiguous" : "unknown", (int)len, arg);
    const char *v = NULL;
    if (!o->arg && eq) return rw_cli_usage(sp, "--%s takes no value", o->name);
    if (o->arg) {
        if (!eq && *i + 1 >= argc) return rw_cli_usage(sp, "--%s: needs a value (%s)", o->name, o->arg);
        v = eq ? eq + 1 : argv[++*i];
    }
    char why[256];
    const char *bad = set(o, v, base, why, sizeof why);
    if (bad) return rw_cli_usage(sp, "--%s: '%s' %s", o->name, v, bad);
    *given |= 1ull << (o - sp->opt);
    return -1;
}

int rw_cli_parse(const rw_cli_spec *sp, void *o, int argc, char **argv, int *nargs) {
    uint64_t given = 0;
    int n = 0, only_args = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || a[0] != '-' || !a[1]) {
            argv[1 + n++] = argv[i]; /* never ahead of i: the compaction is safe */
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = 1;
            continue;
        }
        if (a[1] != '-') return rw_cli_usage(sp, "unknown option '%s' (options start with --)", a);
        int rc = one_option(sp, o, argc, argv, &i, &given);
        if (rc >= 0) return rc;
    }
    *nargs = n;
    for (const rw_cli_opt *r = sp->opt; r->name; r++)
        if (r->required && !(given & (1ull << (r - sp->opt))))
            return rw_cli_usage(sp, "--%s %s is required", r->name, r->arg);
    if (n < sp->min_args) return rw_cli_usage(sp, "expected %s", sp->args ? sp->args : "no argument");
    if (sp->max_args >= 0 && n > sp->max_args) return rw_cli_usage(sp, "unexpected argument '%s'", argv[1 + n - 1]);
    return -1;
}

void rw_cli_help(const rw_cli_spec *sp, FILE *f) {
    usage_line(sp, f);
    fprintf(f, "\n%s\n", sp->about);
    for (const rw_cli_opt *o = sp->opt; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-22s %s\n", left, o->help);
    }
    if (sp->more) sp->more(f, 0);
}

void rw_cli_roff(FILE *f, const char *t) {
    int bol = 1;
    for (; *t; t++) {
        if (bol && *t == '\n') { /* a blank line: a new paragraph */
            fputs(".PP\n", f);
            continue;
        }
        if (bol && (*t == '.' || *t == '\'')) fputs("\\&", f);
        if (*t == '\\')
            fputs("\\e", f);
        else if (*t == '-')
            fputs("\\-", f);
        else
            fputc(*t, f);
        bol = *t == '\n';
    }
}

void rw_cli_man(const rw_cli_spec *sp, FILE *f) {
    fprintf(f, ".SS ringwatch %s\n.nf\n", sp->name);
    char line[2048];
    FILE *m = fmemopen(line, sizeof line, "w");
    if (m) {
        usage_line(sp, m);
        fclose(m);
        rw_cli_roff(f, line + strlen("usage: "));
    }
    fputs(".fi\n.PP\n", f);
    rw_cli_roff(f, sp->about);
    fputc('\n', f);
    for (const rw_cli_opt *o = sp->opt; o->name; o++) {
        fprintf(f, ".TP\n\\fB\\-\\-");
        rw_cli_roff(f, o->name);
        fputs("\\fR", f);
        if (o->arg) {
            fputs(" \\fI", f);
            rw_cli_roff(f, o->arg);
            fputs("\\fR", f);
        }
        fputc('\n', f);
        rw_cli_roff(f, o->help);
        fputc('\n', f);
    }
    if (sp->more) sp->more(f, 1);
}
