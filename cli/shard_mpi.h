/* shard: the nightly rescoring's shards carried over MPI (Open MPI):
 * rank 0 runs the rescoring and sends the other ranks their shards
 * (rw_shard_transport); every other rank receives one shard, scores it and
 * sends the results back. Wiring, so it lives in cli/, and the only file
 * that includes mpi.h: the engine cuts and merges shards as bytes and knows
 * nothing of how they travel, so a build without MPI leaves it out. */
#ifndef RW_CLI_SHARD_MPI_H
#define RW_CLI_SHARD_MPI_H

#include "common.h"
#include "engine.h"

typedef struct rw_shard_mpi rw_shard_mpi;

/* MPI_Init and this process's rank and the job's size. Caller frees with
 * rw_shard_mpi_finish (which finalises MPI) or rw_shard_mpi_abort. */
rw_status rw_shard_mpi_start(rw_shard_mpi **out, int *argc, char ***argv, int *rank, int *size, rw_err *err);

/* Rank 0's transport: one shard per rank (borrowed, valid until finish). */
const rw_shard_transport *rw_shard_mpi_transport(rw_shard_mpi *m);

/* A rank other than 0: receives its shard, scores it (rw_engine_shard_work)
 * and sends back the results, or its error, which fails the rescoring on
 * rank 0. RW_OK also when rank 0 had nothing for it. For a test only:
 * RINGWATCH_TEST_KILL_RANK=r kills rank r with SIGKILL once it has its
 * shard, as a machine lost mid-job would. */
rw_status rw_shard_mpi_work(rw_shard_mpi *m, rw_err *err);

/* Each rank's peak resident memory in KiB as reported with its results
 * (rank 0's own: its figure now); 0 for a rank not heard from. */
uint64_t rw_shard_mpi_peak_kib(const rw_shard_mpi *m, int rank);

/* MPI_Finalize and free. */
void rw_shard_mpi_finish(rw_shard_mpi *m);
/* Ends the whole job (every rank) with status code: what rank 0 does when
 * the rescoring failed, so that no rank waits for a message that will not
 * come. Does not return. */
void rw_shard_mpi_abort(rw_shard_mpi *m, int code) __attribute__((noreturn));

#endif
