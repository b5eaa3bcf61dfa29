/* engine stage: an account's online score (features from its view and the
 * live state, the model, the reasons). */
#ifndef RW_ENGINE_SCORE_H
#define RW_ENGINE_SCORE_H

#include "engine_int.h"
#include "live.h"
#include "view.h"

/* Scores v's account after an event at v->ts (signup: the event was its
 * signup, counted already in the velocities it reads). Under the engine's
 * lock, with v gathered with_velocity and v->comm set. Returns 1 when the
 * answer is review or block on the account's own evidence (the model, the
 * labels, the newest run, a new device: stops.h), before a signup's stopped
 * attributes (which may raise it further) are read. */
int rw_engine_live_score(const rw_engine *e, const rw_view *v, int signup, rw_decision *d);
/* The live decision for account a at time ts, without recording anything.
 * Call under the engine's lock. */
void rw_engine_live_decision(const rw_engine *e, uint32_t a, int64_t ts, rw_decision *d);

#endif
