/* engine stage: devices that came with their accounts. A device first seen
 * after the graph's history began, every account on which was created on
 * it within its first hours, is a farm's emulator image however many
 * accounts it gathers: a stock phone fingerprint or a family tablet is
 * also used by accounts that existed before it, and a family's gathers a
 * few in weeks, not several in hours. Below score: includes only
 * engine_int.h and view.h (and verdict.c's nouns and reasons, beside it). */
#ifndef RW_ENGINE_YOUNG_H
#define RW_ENGINE_YOUNG_H

#include "engine_int.h"
#include "view.h"

/* A signup on a device is reviewed when, before it, the device holds at
 * least RW_YOUNG_MIN accounts, all created on it, and was first seen at
 * most RW_YOUNG_HOURS before, and RW_HISTORY_SETTLE_HOURS or more after
 * the graph's history began (at first every device is new to the graph,
 * and a popular one gathers strangers within hours). */
#define RW_YOUNG_MIN   4
#define RW_YOUNG_HOURS 48

/* The rule: raises an allowed signup d of v's account to review, with a
 * reason naming the device, its age and its accounts. A benign label on
 * the device or the account keeps the rule off. Under the engine's lock. */
void rw_young_apply(const rw_live *L, const rw_graph *g, const rw_view *v, rw_decision *d);

#endif
