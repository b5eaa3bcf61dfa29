/* engine stage: the group commit (a committer thread writes the rows of all
 * pending events in one transaction and wakes their waiters) and the
 * checkpoints off the commit path. */
#ifndef RW_ENGINE_COMMIT_H
#define RW_ENGINE_COMMIT_H

#include "engine_int.h"

/* Mutexes and condition variables (destroyed by rw_engine_commit_close). */
void rw_engine_commit_init(rw_engine *e);
/* Full sync, the checkpointer (when a second connection opens) and the
 * committer thread. */
rw_status rw_engine_commit_start(rw_engine *e, rw_err *err);
/* Stops the threads (the committer writes what is queued first) and frees
 * what they held. */
void rw_engine_commit_close(rw_engine *e);

/* With gc_mu held, after applied events were appended to e->pending:
 * numbers them, marks them unwatched (no one waits to hear of a failure)
 * when asked, registers cb (not NULL) to be called once they are settled,
 * and wakes the committer. Returns the last one's sequence number; *st
 * becomes RW_ERR_NOMEM when cb could not be registered (the events stay
 * queued). */
uint64_t rw_engine_commit_queue(rw_engine *e, size_t applied, int unwatched, rw_record_cb cb, void *ctx, rw_status *st,
                                rw_err *err);
/* Waits until sequence number seq is settled; its status. */
rw_status rw_engine_commit_wait(rw_engine *e, uint64_t seq, rw_err *err);
/* Feature-log rows wait for a batch: a commit carries them once this many
 * are pending or the oldest has waited RW_FEATLOG_WAIT seconds, when a
 * sync asks (rw_engine_flush, the nightly job), and when the committer
 * stops. Written a dozen at a time, they rewrote the same half-empty table
 * and index pages at every commit. A crash loses at most the rows waiting:
 * the log is for learning; the events themselves are durable. */
#define RW_FEATLOG_BATCH 256
#define RW_FEATLOG_WAIT  1.0

/* Waits until the feature-log rows queued by now are written (or lost
 * with a failed commit): they otherwise wait for a batch. Called without
 * the engine's lock (a failed commit takes it). */
void rw_engine_featlog_sync(rw_engine *e);
/* With the write lock: drops the pending feature rows of the accounts in
 * acc[0..n) (ascending) and those older than before. */
void rw_engine_featlog_drop(rw_engine *e, const uint32_t *acc, size_t n, int64_t before);

#endif
