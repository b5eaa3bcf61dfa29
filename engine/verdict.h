/* engine stage: batch verdicts on the online path. What the newest run said
 * of each node, kept beside the live state (built where the live state
 * takes a run: live.c), and the rule (verdict.c) that turns it into review
 * or block at the end of scoring (score.c), after whatever model scored the
 * event. Below live and score: includes only engine_int.h and view.h. */
#ifndef RW_ENGINE_VERDICT_H
#define RW_ENGINE_VERDICT_H

#include "engine_int.h"
#include "view.h"

/* One per node (rw_live.vnode, a per-run array). Counts saturate at
 * UINT16_MAX.
 * Attribute: flagged of its users the run flagged, users of its users the
 * run judged (so accounts that arrive later do not dilute the share), comm
 * the community (index into rw_live.c) most flagged users belong to, score
 * their mean run score, burst 1 when they arrived (signed up) within a fifth
 * of the time the run's accounts span (RW_VERDICT_BURST), late 1 when the
 * attribute first appeared too late in the run's history for a crowd that
 * was there all along (RW_VERDICT_LATE).
 * Account: users 0 when the run did not judge it, else 1 + the number of
 * its edges counted into its attributes' figures; flagged 1 when the run
 * flagged it, with its run score and community. */
struct rw_vnode {
    uint32_t comm;
    float score;
    uint16_t flagged;
    uint16_t users;
    uint8_t burst;
    uint8_t late;
};

/* An attribute's flagged users form a burst when the span of their signups
 * is at most this share of the span of the run's accounts' signups. */
#define RW_VERDICT_BURST 0.2
/* An attribute with u judged users came late when it first appeared
 * RW_HISTORY_SETTLE_HOURS or more after the run's first account and q, the
 * share of the run's accounts that signed up before it was first seen, has
 * u * -ln(1 - q) at least this: were its users strangers arriving like
 * everyone else, the chance that none came in that first share, (1 - q)^u,
 * is below 1 %. */
#define RW_VERDICT_LATE 4.6

/* Fills L->vnode (zeroed, L->cap entries) from a run's snapshot: ascore[v]
 * the run score of account v, flagged from threshold; L->comm already holds
 * the run's communities. Called while a run's part of the live state is
 * built, without the engine's lock. */
void rw_verdict_build_snap(rw_live *L, const rw_graph_snap *s, const double *ascore, double threshold);
/* The same from the store (a restart): one call per account row of the run,
 * after L->comm holds the run's communities, then rw_verdict_settle once. */
void rw_verdict_add_account(rw_live *L, const rw_graph *g, uint32_t a, int flagged, double score);
void rw_verdict_settle(rw_live *L, const rw_graph *g);
/* Counts the edges account a took up since its last count (events after
 * the run) into its attributes' figures. Under the write lock, after the
 * event is applied. */
void rw_verdict_touch(rw_live *L, const rw_graph *g, uint32_t a);
/* "IP address", "device", "card" for the kinds that are evidence, else
 * NULL. */
const char *rw_verdict_noun(rw_kind k);
/* Puts a reason into d: first (it explains the answer best; the last
 * reason gives way when all are taken), or last when it only notes a
 * cleared flag or weak evidence. */
void rw_verdict_put_reason(rw_decision *d, const char *text, int first);
/* The rules after the verdicts that review a signup on evidence of their
 * own (young.h, stops.h): may one still raise d, the answer to account a's
 * signup (allowed so far, a not labelled benign)? And raises d to review
 * for rule `by`, text its first reason (it decided). */
int rw_verdict_open(const rw_live *L, uint32_t a, const rw_decision *d);
void rw_verdict_review(rw_decision *d, rw_raised by, const char *text);
/* The rule: raises d's verdict (d already scored by the model, labels
 * applied; its score stays) to review or block when the run flagged v's account, or an attribute of it
 * the run did not judge is held by flagged accounts; says why, or that an
 * analyst's benign label cleared it. Under the engine's lock. */
void rw_verdict_apply(const rw_engine *e, const rw_view *v, rw_decision *d);

#endif
