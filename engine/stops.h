/* engine stage: what the signup path itself stopped. Each attribute counts
 * the accounts reviewed or blocked at signup on their own evidence (the
 * model, the analysts' labels, the newest run's verdicts, young.h's new
 * devices); an attribute on which many were, and a large share of its
 * accounts, is evidence against the next signup on it. Below live and
 * score: includes only engine_int.h and view.h (and verdict.c's nouns and
 * reasons, beside it). */
#ifndef RW_ENGINE_STOPS_H
#define RW_ENGINE_STOPS_H

#include "engine_int.h"
#include "view.h"

/* An attribute with at least RW_STOPS_MIN stopped signups, at least
 * RW_STOPS_SHARE of the accounts on it before this one, puts a signup on it
 * under review. A crowd's strangers are stopped one in hundreds, a farm's
 * device or card, once its first accounts are stopped, keeps gathering more
 * of the same: the figure is the farm's own history, whatever its size or
 * pace. Only stops on their own evidence count, never this rule's, so a
 * stop does not feed itself. */
#define RW_STOPS_MIN   5
#define RW_STOPS_SHARE 0.5

/* The same for a signup's /24 (IPv6: /48), over about the last day (counts
 * decayed as the subnet's signups are): at least RW_STOPS_SUBNET_MIN
 * stopped signups, at least RW_STOPS_SUBNET_SHARE of the others from it. A
 * subnet is a neighbourhood, not a device: what its signups were weeks ago
 * says nothing of today's, while a ring that rotates addresses inside one
 * /24 keeps its share of stops there from one address to the next. */
#define RW_STOPS_SUBNET_MIN   5
#define RW_STOPS_SUBNET_SHARE 0.5

/* Account a's signup was reviewed or blocked on its own evidence: counted
 * once on each attribute of its signup (the edges first used when the
 * account first was) and on its IP's subnet, as it happens or from the
 * store at a restart (after the subnets' signups were counted again). Under
 * the write lock. */
void rw_stops_count(rw_live *L, const rw_graph *g, uint32_t a);
/* The rule: raises an allowed signup d of v's account to review, with a
 * reason naming the attribute, when an attribute of it (not cleared by a
 * benign label) passes the bar above. Under the engine's lock. */
void rw_stops_apply(const rw_live *L, const rw_view *v, rw_decision *d);

#endif
