/* tests: the real binary run in the test's folder (see tu_run.h). */
#include "tu_run.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tu_rw(char **out, const char *fmt, ...) {
    char args[7168];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof args, "command too long: %s", fmt);
    return tu_run(out, "cd '%s' && '%s' %s", tu_dir(), tu_bin(), args);
}

int tu_have_mpi(void) {
    if (tu_run(NULL, "command -v mpirun >/dev/null") != 0) return 0;
    char *out = NULL;
    tu_rw(&out, "rescore --mpi --db nowhere.db");
    int built = !strstr(out ? out : "", "no MPI");
    free(out);
    return built;
}

const char *tu_src(void) {
    const char *s = getenv("RW_SRC");
    return s && *s ? s : ".";
}

void tu_world(int accounts, int seed) {
    char *out = NULL;
    int rc = tu_rw(&out,
                   "simulate --accounts %d --seed %d --out ev.jsonl --truth truth.csv && '%s' ingest --quiet ev.jsonl "
                   "&& '%s' rescore --quiet",
                   accounts, seed, tu_bin(), tu_bin());
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
}
