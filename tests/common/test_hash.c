/* common: keyed hashing, key files, status strings, the PRNG. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "testutil.h"

Test(hash, kinds_are_separated_and_key_matters) {
    uint8_t k1[32] = {1}, k2[32] = {2};
    rw_hasher *a = NULL, *b = NULL;
    rw_err err;
    cr_assert_eq(rw_hasher_from_key(&a, k1, &err), RW_OK);
    cr_assert_eq(rw_hasher_from_key(&b, k2, &err), RW_OK);
    rw_hash x, y, z, w;
    rw_hasher_hash(a, RW_KIND_IP, "1.2.3.4", 7, &x);
    rw_hasher_hash(a, RW_KIND_DEVICE, "1.2.3.4", 7, &y);
    rw_hasher_hash(b, RW_KIND_IP, "1.2.3.4", 7, &z);
    rw_hasher_hash(a, RW_KIND_IP, "1.2.3.4", 7, &w);
    cr_expect(memcmp(&x, &y, sizeof x) != 0, "kinds must not collide");
    cr_expect(memcmp(&x, &z, sizeof x) != 0, "keys must matter");
    cr_expect(memcmp(&x, &w, sizeof x) == 0, "deterministic");
    char p[40];
    rw_hash_pseudonym(p, sizeof p, RW_KIND_IP, &x);
    cr_expect(strncmp(p, "ip:", 3) == 0 && strlen(p) == 13, "%s", p);
    rw_hasher_free(a);
    rw_hasher_free(b);
    rw_hasher_free(NULL);
}

Test(hash, key_file_created_reused_and_checked) {
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/k.key", dir);
    rw_hasher *h1 = NULL, *h2 = NULL, *h3 = NULL;
    rw_err err;
    cr_expect_eq(rw_hasher_open(&h1, path, 0, &err), RW_ERR_NOTFOUND);
    cr_assert_eq(rw_hasher_open(&h1, path, 1, &err), RW_OK, "%s", err.msg);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0600);
    cr_expect_eq(sb.st_size, 32);
    cr_assert_eq(rw_hasher_open(&h2, path, 1, &err), RW_OK, "%s", err.msg);
    rw_hash x, y;
    rw_hasher_hash(h1, RW_KIND_PAYMENT, "tok", 3, &x);
    rw_hasher_hash(h2, RW_KIND_PAYMENT, "tok", 3, &y);
    cr_expect(memcmp(&x, &y, sizeof x) == 0, "the same key file gives the same hashes");
    chmod(path, 0644);
    cr_expect_eq(rw_hasher_open(&h3, path, 1, &err), RW_ERR_PERM);
    cr_expect(strstr(err.msg, "chmod 600") != NULL, "%s", err.msg);
    chmod(path, 0600);
    tu_write_file(path, "short", 5);
    chmod(path, 0600);
    cr_expect_eq(rw_hasher_open(&h3, path, 1, &err), RW_ERR_CORRUPT);
    cr_expect_null(h3);
    rw_hasher_free(h1);
    rw_hasher_free(h2);
    tu_rmtree(dir);
    free(dir);
}

Test(status, names_and_messages) {
    cr_expect_str_eq(rw_status_str(RW_OK), "ok");
    cr_expect_str_eq(rw_status_str(RW_ERR_INVALID), "invalid input");
    cr_expect_str_eq(rw_status_str((rw_status)999), "unknown status");
    rw_err err;
    cr_expect_eq(rw_fail(&err, RW_ERR_IO, "open %s", "x"), RW_ERR_IO);
    rw_err_prefix(&err, "f:%d: ", 3);
    cr_expect_str_eq(err.msg, "f:3: open x");
    cr_expect_eq(rw_fail(NULL, RW_ERR_IO, "no buffer"), RW_ERR_IO);
    rw_kind k;
    cr_expect_eq(rw_kind_parse(&k, "device"), RW_OK);
    cr_expect_eq(k, RW_KIND_DEVICE);
    cr_expect_eq(rw_kind_parse(&k, "phone"), RW_ERR_INVALID);
    cr_expect_str_eq(rw_event_type_name(RW_EV_LOGIN), "login");
}

Test(rng, deterministic_and_bounded) {
    rw_rng a, b;
    rw_rng_seed(&a, 42);
    rw_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++) cr_assert_eq(rw_rng_next(&a), rw_rng_next(&b));
    uint64_t counts[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint64_t v = rw_rng_below(&a, 10);
        cr_assert_lt(v, 10);
        counts[v]++;
        double u = rw_rng_unit(&a);
        cr_assert(u >= 0 && u < 1);
    }
    for (int i = 0; i < 10; i++) cr_expect(counts[i] > 9000 && counts[i] < 11000, "bucket %d: %lu", i, counts[i]);
}
