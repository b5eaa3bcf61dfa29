/* Ground truth (account,ring,tactic) from the simulator, for eval and model
 * fitting: a hash table from account id to its ring and tactic. */
#ifndef RW_CLI_TRUTH_H
#define RW_CLI_TRUTH_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define RW_TRUTH_MAX_TACTICS 32

typedef struct rw_truth rw_truth;

/* Reads path; errors name the file and line. Caller owns *out. */
rw_status rw_truth_load(rw_truth **out, const char *path, rw_err *err);
void rw_truth_free(rw_truth *t);
/* Index of an account (or -1); ring non-zero for fraud, tactic an index. */
long rw_truth_find(const rw_truth *t, const char *account, int *ring, int *tactic);
size_t rw_truth_count(const rw_truth *t);
/* Entry i: ring flag and tactic. */
void rw_truth_entry(const rw_truth *t, size_t i, int *ring, int *tactic);
int rw_truth_tactics(const rw_truth *t);
/* Entry i's ring as a number in [1, rw_truth_rings] (0: benign). */
uint32_t rw_truth_ring_id(const rw_truth *t, size_t i);
uint32_t rw_truth_rings(const rw_truth *t);
const char *rw_truth_tactic_name(const rw_truth *t, int tactic);

#endif
