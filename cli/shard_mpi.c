/* shard: rw_shard_transport over MPI point-to-point messages. A shard goes
 * as a head (its length) and the bytes in pieces of at most 1 GiB (MPI
 * counts are ints); its output's parts come back the same way, each behind
 * a head with the rank's status, message and peak memory (a rank whose
 * work failed sends a last head with its error and no bytes). */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "shard_mpi.h"

#define TAG_HEAD  1
#define TAG_BYTES 2
#define PIECE     (1u << 30)

struct rw_shard_mpi {
    int rank, size;
    rw_shard_transport t;
    uint64_t *peak_kib; /* [size] */
};

typedef struct {
    uint64_t len;
    uint64_t peak_kib;
    int32_t status; /* rw_status of the rank's work */
    char msg[512 - 20];
} result_head;

static uint64_t own_peak_kib(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss : 0;
}

static rw_status mpi_fail(int rc, const char *what, int peer, rw_err *err) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return rw_fail(err, RW_ERR_IO, "MPI %s rank %d: %s", what, peer, text);
}

static rw_status send_bytes(const void *buf, uint64_t len, int peer, rw_err *err) {
    const char *p = buf;
    for (uint64_t at = 0; at < len; at += PIECE) {
        int n = (int)(len - at < PIECE ? len - at : PIECE);
        int rc = MPI_Send(p + at, n, MPI_BYTE, peer, TAG_BYTES, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "sending to", peer, err);
    }
    return RW_OK;
}

static rw_status recv_bytes(void **buf, uint64_t len, int peer, rw_err *err) {
    char *p = *buf = malloc(len ? len : 1);
    if (!p)
        return rw_fail(err, RW_ERR_NOMEM, "out of memory for %llu bytes from rank %d", (unsigned long long)len, peer);
    for (uint64_t at = 0; at < len; at += PIECE) {
        int n = (int)(len - at < PIECE ? len - at : PIECE);
        int rc = MPI_Recv(p + at, n, MPI_BYTE, peer, TAG_BYTES, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "receiving from", peer, err);
    }
    return RW_OK;
}

static rw_status t_send(void *ctx, int shard, const void *buf, size_t len, rw_err *err) {
    (void)ctx;
    uint64_t head = len;
    int rc = MPI_Send(&head, 1, MPI_UINT64_T, shard, TAG_HEAD, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "sending to", shard, err);
    return send_bytes(buf, len, shard, err);
}

static rw_status t_recv(void *ctx, int shard, void **buf, size_t *len, rw_err *err) {
    rw_shard_mpi *m = ctx;
    result_head h;
    *buf = NULL;
    *len = 0;
    int rc = MPI_Recv(&h, (int)sizeof h, MPI_BYTE, shard, TAG_HEAD, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "receiving from", shard, err);
    m->peak_kib[shard] = h.peak_kib;
    h.msg[sizeof h.msg - 1] = 0;
    if (h.status != RW_OK) return rw_fail(err, (rw_status)h.status, "rank %d failed: %s", shard, h.msg);
    *len = h.len;
    return recv_bytes(buf, h.len, shard, err);
}

rw_status rw_shard_mpi_start(rw_shard_mpi **out, int *argc, char ***argv, int *rank, int *size, rw_err *err) {
    *out = NULL;
    rw_shard_mpi *m = calloc(1, sizeof *m);
    if (!m) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    int rc = MPI_Init(argc, argv);
    if (rc != MPI_SUCCESS) {
        free(m);
        return rw_fail(err, RW_ERR_IO, "MPI_Init failed (%d)", rc);
    }
    /* Errors come back as codes, so that rank 0 can say what failed. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m->size);
    m->peak_kib = calloc((size_t)m->size, sizeof *m->peak_kib);
    if (!m->peak_kib) {
        free(m);
        MPI_Finalize();
        return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    }
    m->t = (rw_shard_transport){.shards = m->size, .send = t_send, .recv = t_recv, .ctx = m};
    *rank = m->rank;
    *size = m->size;
    *out = m;
    return RW_OK;
}

const rw_shard_transport *rw_shard_mpi_transport(rw_shard_mpi *m) {
    return &m->t;
}

/* The test hook of rw_shard_mpi_work. */
static void maybe_die(int rank) {
    const char *k = getenv("RINGWATCH_TEST_KILL_RANK");
    if (k && *k && atoi(k) == rank) raise(SIGKILL);
}

/* rw_engine_shard_work's parts to rank 0, each behind a head; *sent (ctx)
 * keeps whether MPI failed, apart from the work's own failure. */
static rw_status emit_part(void *ctx, const void *buf, size_t len, rw_err *err) {
    rw_status *sent = ctx;
    result_head h = {.len = len, .peak_kib = own_peak_kib(), .status = RW_OK};
    int rc = MPI_Send(&h, (int)sizeof h, MPI_BYTE, 0, TAG_HEAD, MPI_COMM_WORLD);
    *sent = rc == MPI_SUCCESS ? send_bytes(buf, len, 0, err) : mpi_fail(rc, "sending to", 0, err);
    return *sent;
}

rw_status rw_shard_mpi_work(rw_shard_mpi *m, rw_err *err) {
    uint64_t len = 0;
    void *in = NULL;
    int rc = MPI_Recv(&len, 1, MPI_UINT64_T, 0, TAG_HEAD, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "receiving from", 0, err);
    rw_status st = recv_bytes(&in, len, 0, err);
    if (st != RW_OK) {
        free(in);
        return st;
    }
    maybe_die(m->rank);
    rw_err werr = {{0}};
    rw_status sent = RW_OK;
    st = rw_engine_shard_work(in, len, emit_part, &sent, &werr); /* takes in */
    if (st != RW_OK && sent == RW_OK) {
        /* The work failed, not MPI: rank 0 hears why in place of the next
         * part. */
        result_head h = {.peak_kib = own_peak_kib(), .status = (int32_t)st};
        memcpy(h.msg, werr.msg, sizeof h.msg - 1); /* both end in 0 */
        MPI_Send(&h, (int)sizeof h, MPI_BYTE, 0, TAG_HEAD, MPI_COMM_WORLD);
    }
    if (st != RW_OK) return rw_fail(err, st, "%s", werr.msg);
    return RW_OK;
}

uint64_t rw_shard_mpi_peak_kib(const rw_shard_mpi *m, int rank) {
    if (rank < 0 || rank >= m->size) return 0;
    return rank == m->rank ? own_peak_kib() : m->peak_kib[rank];
}

void rw_shard_mpi_finish(rw_shard_mpi *m) {
    if (!m) return;
    free(m->peak_kib);
    free(m);
    MPI_Finalize();
}

void rw_shard_mpi_abort(rw_shard_mpi *m, int code) {
    MPI_Abort(MPI_COMM_WORLD, code);
    free(m->peak_kib); /* not reached: MPI_Abort ends the process */
    free(m);
    exit(code);
}
