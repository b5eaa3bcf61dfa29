/* Test helpers shared by the Criterion suites: temporary directories, running
 * the real binary, reading files. */
#ifndef RW_TESTUTIL_H
#define RW_TESTUTIL_H

#include <stddef.h>

/* Creates a fresh temporary directory and returns its path (static storage
 * per call site is not used: caller frees with free()). */
char *tu_tmpdir(void);
/* Removes a directory tree (rm -rf); ignores errors. */
void tu_rmtree(const char *path);
/* Path to the built ringwatch binary (RW_BIN, else ./build/ringwatch). */
const char *tu_bin(void);
/* Runs a shell command; stores combined stdout+stderr in *out (caller frees,
 * may be NULL to discard) and returns its exit status (-1 on failure). */
int tu_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads a whole file (caller frees); NULL on error. *len may be NULL. */
char *tu_read_file(const char *path, size_t *len);
/* Writes a whole file; returns 0 on success. */
int tu_write_file(const char *path, const char *data, size_t len);
/* Returns 1 if needle occurs in the len bytes at hay. */
int tu_contains(const void *hay, size_t len, const void *needle, size_t nlen);

#endif
