/* tests: the per-test folder (see tu_tmp.h). */
#include "tu_tmp.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TU_PATH_MAX 600

/* One test per process (Criterion's model): the folder of this one. */
static struct {
    char dir[64];
    char db[TU_PATH_MAX];
    char input[TU_PATH_MAX];
} tmp;

void tu_tmp_init(void) {
    char *d = tu_tmpdir();
    cr_assert(d, "cannot make a temporary folder");
    snprintf(tmp.dir, sizeof tmp.dir, "%s", d);
    free(d);
    snprintf(tmp.db, sizeof tmp.db, "%s/ringwatch.db", tmp.dir);
    snprintf(tmp.input, sizeof tmp.input, "%s/in.jsonl", tmp.dir);
}

void tu_tmp_fini(void) {
    if (strncmp(tmp.dir, "/tmp/rwtest-", 12) != 0) return; /* never made, or already removed */
    tu_run(NULL, "chmod -R u+rwx '%s' && rm -rf '%s'", tmp.dir, tmp.dir);
    memset(&tmp, 0, sizeof tmp);
}

const char *tu_dir(void) {
    return tmp.dir;
}

const char *tu_db(void) {
    return tmp.db;
}

const char *tu_input(void) {
    return tmp.input;
}

void tu_db_use(const char *name) {
    int n = snprintf(tmp.db, sizeof tmp.db, "%s/%s", tmp.dir, name);
    cr_assert(n > 0 && (size_t)n < sizeof tmp.db, "path too long: %s/%s", tmp.dir, name);
}

FILE *tu_input_begin(void) {
    FILE *f = fopen(tmp.input, "w");
    cr_assert(f, "cannot write %s", tmp.input);
    return f;
}

const char *tu_path(const char *name) {
    static __thread char bufs[8][TU_PATH_MAX];
    static __thread unsigned next;
    char *p = bufs[next++ % 8];
    int n = snprintf(p, TU_PATH_MAX, "%s/%s", tmp.dir, name);
    cr_assert(n > 0 && n < TU_PATH_MAX, "path too long: %s/%s", tmp.dir, name);
    return p;
}

void tu_write_in(const char *name, const char *text) {
    const char *p = tu_path(name);
    cr_assert_eq(tu_write_file(p, text, strlen(text)), 0, "cannot write %s", p);
    /* Owner only, as a deployment keeps them: serve refuses a config file
     * with tokens that others can read. */
    cr_assert_eq(chmod(p, 0600), 0, "cannot chmod %s", p);
}

char *tu_read_in(const char *name, size_t *len) {
    const char *p = tu_path(name);
    char *text = tu_read_file(p, len);
    cr_assert(text, "cannot read %s", p);
    return text;
}

int tu_in_db_files(const char *db, const char *needle) {
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        char path[TU_PATH_MAX + 8];
        snprintf(path, sizeof path, "%s%s", db, suffix[i]);
        size_t len = 0;
        char *data = tu_read_file(path, &len);
        int hit = data && tu_contains(data, len, needle, strlen(needle));
        free(data);
        if (hit) return 1;
    }
    return 0;
}
