/* tests: the real binary run in the test's folder (tu_tmp.h), for the
 * end-to-end suites. tu_run and tu_bin themselves are in testutil.h. */
#ifndef TU_RUN_H
#define TU_RUN_H

#include "tu_tmp.h"

/* Runs `cd DIR && 'BIN' ARGS` (ARGS from fmt; a later '%s' in it may name
 * tu_bin() again to chain commands); the combined output in *out (caller
 * frees; NULL discards it), and the exit status. */
int tu_rw(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The repository's root: RW_SRC (set by ctest), else the working folder. */
const char *tu_src(void);

/* A simulated world of `accounts` accounts (seed), ingested and rescored
 * into DIR/ringwatch.db (run 1), with ev.jsonl and truth.csv beside it;
 * fails the test with the output when a step fails. */
void tu_world(int accounts, int seed);

/* Whether `rescore --mpi` can run here: mpirun on the PATH and a binary
 * built with MPI. A test that needs it skips itself (and says so) without. */
int tu_have_mpi(void);
#define TU_NEED_MPI()                                                                                                  \
    do {                                                                                                               \
        if (!tu_have_mpi()) cr_skip_test("no mpirun, or a ringwatch built without MPI");                               \
    } while (0)

#endif
