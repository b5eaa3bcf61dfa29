/* engine: size-free detection. A small simulated world rescored alone and
 * the same world embedded in a benign world ten times its size (the two
 * event files concatenated) give its accounts the same flags: nothing in the
 * rescoring may depend on how many strangers there are besides. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tu_run.h"

TestSuite(embed, .init = tu_tmp_init, .fini = tu_tmp_fini, .timeout = RW_ENGINE_SUITE_TIMEOUT);

typedef struct {
    char id[24];
    int flagged;
} flag_row;

static int cmp_row(const void *a, const void *b) {
    return strcmp(((const flag_row *)a)->id, ((const flag_row *)b)->id);
}

/* The flags of `ringwatch scores` output (account,score,flagged,cluster),
 * sorted by account; *n receives the count. Caller frees. */
static flag_row *read_flags(const char *name, size_t *n) {
    char *text = tu_read_in(name, NULL);
    size_t cap = 1024, k = 0;
    flag_row *rows = malloc(cap * sizeof *rows);
    cr_assert_not_null(rows);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] != '"') continue; /* the header */
        char *q = strchr(line + 1, '"');
        char *c1 = q ? strchr(q, ',') : NULL;
        char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        cr_assert(q && c2 && (size_t)(q - line - 1) < sizeof rows[0].id, "%s: bad line %s", name, line);
        if (k == cap) rows = realloc(rows, (cap *= 2) * sizeof *rows);
        cr_assert_not_null(rows);
        memcpy(rows[k].id, line + 1, (size_t)(q - line - 1));
        rows[k].id[q - line - 1] = '\0';
        rows[k++].flagged = c2[1] == '1';
    }
    free(text);
    qsort(rows, k, sizeof *rows, cmp_row);
    *n = k;
    return rows;
}

static void embed_case(const char *variant, int small, int seed) {
    char *out = NULL;
    int rc = tu_rw(&out,
                   "simulate --variant %s --accounts %d --seed %d --out small.jsonl --truth small.csv"
                   " && '%s' simulate --accounts %d --seed %d --ring-share 0 --out big.jsonl"
                   " && cat small.jsonl big.jsonl > both.jsonl"
                   " && '%s' ingest --quiet --db small.db small.jsonl && '%s' rescore --quiet --db small.db"
                   " && '%s' scores --db small.db > small-scores.csv"
                   " && '%s' ingest --quiet --db both.db both.jsonl && '%s' rescore --quiet --db both.db"
                   " && '%s' scores --db both.db > both-scores.csv",
                   variant, small, seed, tu_bin(), 10 * small, seed + 1, tu_bin(), tu_bin(), tu_bin(), tu_bin(),
                   tu_bin(), tu_bin());
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    size_t na = 0, nb = 0;
    flag_row *a = read_flags("small-scores.csv", &na), *b = read_flags("both-scores.csv", &nb);
    cr_assert_eq(na, (size_t)small, "the small world alone has %d accounts, not %zu", small, na);
    cr_assert_eq(nb, (size_t)(11 * small), "embedded: %d accounts, not %zu", 11 * small, nb);
    size_t flagged = 0, differ = 0;
    for (size_t i = 0; i < na; i++) {
        flag_row *r = bsearch(&a[i], b, nb, sizeof *b, cmp_row);
        cr_assert_not_null(r, "account %s of the small world is missing embedded", a[i].id);
        flagged += (size_t)a[i].flagged;
        if (r->flagged != a[i].flagged) {
            if (differ < 5) cr_log_error("%s: %d alone, %d embedded", a[i].id, a[i].flagged, r->flagged);
            differ++;
        }
    }
    cr_expect_gt(flagged, (size_t)small / 40, "%s: the small world's rings are flagged at all (%zu)", variant, flagged);
    cr_expect_eq(differ, 0, "%s: %zu of %d accounts flagged differently embedded (%zu flagged alone)", variant, differ,
                 small, flagged);
    free(a);
    free(b);
}

Test(embed, default_world_in_ten_times_the_benign_gets_the_same_flags) {
    embed_case("default", 4000, 101);
}

Test(embed, card_rings_in_ten_times_the_benign_get_the_same_flags) {
    embed_case("cardring", 4000, 103);
}
