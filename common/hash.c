/* Keyed hashing of identifiers (BLAKE2b via libsodium) and the key file that
 * holds the secret. The database only ever sees these hashes. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

#define KEY_BYTES 32

struct rw_hasher {
    uint8_t key[KEY_BYTES];
};

/* BLAKE2b personalisations are 16 bytes; one per kind keeps an IP and a
 * device with the same text apart. */
static const char personal[RW_KIND_COUNT][16] = {
    [RW_KIND_ACCOUNT] = "rw.account.v1", [RW_KIND_IP] = "rw.ip.v1",         [RW_KIND_DEVICE] = "rw.device.v1",
    [RW_KIND_PAYMENT] = "rw.payment.v1", [RW_KIND_SUBNET] = "rw.subnet.v1",
};

static rw_status sodium_ready(rw_err *err) {
    if (sodium_init() < 0) return rw_fail(err, RW_ERR_INTERNAL, "libsodium failed to initialise");
    return RW_OK;
}

rw_status rw_hasher_from_key(rw_hasher **out, const uint8_t key[KEY_BYTES], rw_err *err) {
    *out = NULL;
    rw_status st = sodium_ready(err);
    if (st != RW_OK) return st;
    rw_hasher *h = malloc(sizeof *h);
    if (!h) return rw_fail(err, RW_ERR_NOMEM, "out of memory for the hasher");
    memcpy(h->key, key, KEY_BYTES);
    *out = h;
    return RW_OK;
}

static rw_status create_key(const char *path, uint8_t key[KEY_BYTES], rw_err *err) {
    randombytes_buf(key, KEY_BYTES);
    /* O_EXCL: two processes racing to create the key must not both win. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return RW_ERR_EXISTS;
        return rw_fail(err, errno == EACCES || errno == EROFS ? RW_ERR_PERM : RW_ERR_IO,
                       "cannot create key file %s: %s", path, strerror(errno));
    }
    ssize_t w = write(fd, key, KEY_BYTES);
    int sync_failed = fsync(fd) != 0;
    if (close(fd) != 0 || w != KEY_BYTES || sync_failed) {
        int e = errno;
        unlink(path);
        return rw_fail(err, RW_ERR_IO, "cannot write key file %s: %s", path, strerror(e));
    }
    return RW_OK;
}

static rw_status read_key(const char *path, uint8_t key[KEY_BYTES], rw_err *err) {
    rw_status st = RW_OK;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        st = errno == ENOENT ? RW_ERR_NOTFOUND : errno == EACCES ? RW_ERR_PERM : RW_ERR_IO;
        return rw_fail(err, st, "cannot open key file %s: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = rw_fail(err, RW_ERR_IO, "cannot stat key file %s: %s", path, strerror(errno));
        goto done;
    }
    if (sb.st_mode & 077) {
        st = rw_fail(err, RW_ERR_PERM, "key file %s is readable by group or others (mode %03o); chmod 600 it", path,
                     (unsigned)(sb.st_mode & 0777));
        goto done;
    }
    if (sb.st_size != KEY_BYTES) {
        st = rw_fail(err, RW_ERR_CORRUPT, "key file %s has %lld bytes, expected %d", path, (long long)sb.st_size,
                     KEY_BYTES);
        goto done;
    }
    if (read(fd, key, KEY_BYTES) != KEY_BYTES)
        st = rw_fail(err, RW_ERR_IO, "cannot read key file %s: %s", path, strerror(errno));
done:
    close(fd);
    return st;
}

rw_status rw_hasher_open(rw_hasher **out, const char *path, int create, rw_err *err) {
    *out = NULL;
    uint8_t key[KEY_BYTES];
    rw_status st = sodium_ready(err);
    if (st != RW_OK) return st;
    st = read_key(path, key, err);
    if (st == RW_ERR_NOTFOUND && create) {
        st = create_key(path, key, err);
        if (st == RW_ERR_EXISTS) st = read_key(path, key, err); /* lost the race: use theirs */
    }
    if (st == RW_OK) st = rw_hasher_from_key(out, key, err);
    sodium_memzero(key, sizeof key);
    return st;
}

void rw_hasher_free(rw_hasher *h) {
    if (!h) return;
    sodium_memzero(h->key, sizeof h->key);
    free(h);
}

void rw_hasher_hash(const rw_hasher *h, rw_kind kind, const char *value, size_t len, rw_hash *out) {
    crypto_generichash_blake2b_salt_personal(out->b, RW_HASH_BYTES, (const unsigned char *)value, len, h->key,
                                             KEY_BYTES, NULL, (const unsigned char *)personal[kind]);
}

void rw_hasher_key_check(const rw_hasher *h, uint8_t out[RW_KEY_CHECK_BYTES]) {
    static const char text[] = "ringwatch key check";
    static const unsigned char personal_check[16] = "rw.keycheck.v1";
    crypto_generichash_blake2b_salt_personal(out, RW_KEY_CHECK_BYTES, (const unsigned char *)text, sizeof text - 1,
                                             h->key, KEY_BYTES, NULL, personal_check);
}

void rw_hash_pseudonym(char *out, size_t out_size, rw_kind kind, const rw_hash *h) {
    static const char hex[] = "0123456789abcdef";
    char digits[11];
    for (int i = 0; i < 5; i++) {
        digits[2 * i] = hex[h->b[i] >> 4];
        digits[2 * i + 1] = hex[h->b[i] & 15];
    }
    digits[10] = 0;
    const char *name = rw_kind_name(kind);
    snprintf(out, out_size, "%s:%s", name ? name : "node", digits);
}
