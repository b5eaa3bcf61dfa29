/* engine: a device that came with its accounts (engine/young.c). A device
 * first seen well after the graph's history began, every account on which
 * was created on it within its first hours, puts the next signup on it
 * under review, with the reason in words, whatever the model says; a
 * device an existing account also uses, one older than the window, one
 * seen in the graph's first days, or one labelled benign marks no one. */
#include "live.h"
#include "online_util.h"
#include "young.h"

ONLINE_SUITE(young);

#define LATER  (T0 + 40 * DAY)
#define HOUR   3600LL
#define SAY(d) rw_verdict_name((d).verdict), (d).score, reasons_text(&(d))
#define YOUNG  "were created on it since"

/* Background singletons and households from T0: the graph's history. */
static rw_engine *world(void) {
    rw_engine *e = open_engine_rules_only();
    FILE *f = begin_input();
    w_singletons(f, 200, T0);
    w_households(f, 30, T0);
    ingest_input(e, f);
    return e;
}

/* A signup at ts on device, with a card and an address (and /24) of its own. */
static rw_decision signup(rw_engine *e, const char *name, const char *device, int64_t ts) {
    static int next;
    next++;
    return rec(e, 0,
               "{\"account\":\"%s\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"10.%d.%d.1\",\"device\":\"%s\","
               "\"payment\":\"tok-%s\"}",
               name, (long long)ts, next / 250, next % 250, device, name);
}

/* n signups on device from t, step seconds apart (whatever the model
 * answers them). */
static void fill(rw_engine *e, const char *device, int n, int64_t t, int64_t step) {
    for (int k = 0; k < n; k++) {
        char name[48];
        snprintf(name, sizeof name, "%s-%03d", device, k);
        signup(e, name, device, t + k * step);
    }
}

Test(young, a_device_whose_accounts_all_came_with_it_reviews_the_next) {
    rw_engine *e = world();
    fill(e, "dev-farm", RW_YOUNG_MIN, LATER, HOUR);
    rw_decision d = signup(e, "new-1", "dev-farm", LATER + RW_YOUNG_MIN * HOUR);
    cr_log_info("the fifth signup on a device that appeared four hours ago: %s %.3f %s", SAY(d));
    cr_expect_eq(d.verdict, RW_REVIEW, "%s %.3f %s", SAY(d));
    cr_expect(has_reason(&d, "its device first appeared 4 hours ago, and all 4 accounts on it " YOUNG), "%s",
              reasons_text(&d));
    cr_expect_eq(d.raised, RW_RAISED_NEW_DEVICE, "raised by %s", rw_raised_name(d.raised));
    cr_expect_eq(counters(e).signups_raised[RW_RAISED_NEW_DEVICE], 1, "counted once, by its rule");
    /* Growing does not help it: the hundredth, within two days, is reviewed
     * as well. */
    fill(e, "dev-big", 99, LATER, 1700);
    rw_decision big = signup(e, "new-2", "dev-big", LATER + 99 * 1700);
    cr_log_info("the hundredth: %s %.3f %s", SAY(big));
    cr_expect_eq(big.verdict, RW_REVIEW, "%s %.3f %s", SAY(big));
    cr_expect(has_reason(&big, "and all 99 accounts on it " YOUNG), "%s", reasons_text(&big));
    rw_engine_close(e);
}

/* A new phone that an account of weeks ago logs in from, then new accounts
 * on it: a device people had before, not one a farm made for its accounts. */
Test(young, a_device_an_existing_account_uses_marks_no_one) {
    rw_engine *e = world();
    rec(e, 0, "{\"account\":\"old-1\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"192.0.2.1\",\"device\":\"dev-old\"}",
        (long long)(T0 + DAY));
    rec(e, 0, "{\"account\":\"old-1\",\"ts\":%lld,\"type\":\"login\",\"ip\":\"192.0.2.1\",\"device\":\"dev-new\"}",
        (long long)LATER);
    fill(e, "dev-new", RW_YOUNG_MIN, LATER + HOUR, HOUR);
    rw_decision d = signup(e, "new-1", "dev-new", LATER + (RW_YOUNG_MIN + 1) * HOUR);
    cr_expect(!has_reason(&d, YOUNG), "%s", reasons_text(&d));
    rw_engine_close(e);
}

/* The same accounts spread over more than the window: a family's pace. */
Test(young, a_device_older_than_the_window_marks_no_one) {
    rw_engine *e = world();
    fill(e, "dev-slow", RW_YOUNG_MIN, LATER, 12 * HOUR + 60);
    rw_decision d = signup(e, "new-1", "dev-slow", LATER + (RW_YOUNG_HOURS + 1) * HOUR);
    cr_expect(!has_reason(&d, YOUNG), "%s", reasons_text(&d));
    rw_engine_close(e);
}

/* In the graph's first days every device is new to it, and a popular one
 * gathers strangers within hours. */
Test(young, a_device_seen_in_the_graphs_first_days_marks_no_one) {
    rw_engine *e = world();
    fill(e, "dev-early", RW_YOUNG_MIN, T0 + HOUR, 60);
    rw_decision d = signup(e, "new-1", "dev-early", T0 + 2 * HOUR);
    cr_expect(!has_reason(&d, YOUNG), "%s", reasons_text(&d));
    rw_engine_close(e);
}

Test(young, a_benign_label_on_the_device_clears_it) {
    rw_engine *e = world();
    fill(e, "dev-lab", RW_YOUNG_MIN, LATER, HOUR);
    pthread_rwlock_wrlock(&e->lock);
    rw_engine_live_label(e, 0, attr_of(e, "dev-lab-000", RW_KIND_DEVICE), 0);
    pthread_rwlock_unlock(&e->lock);
    rw_decision d = signup(e, "new-1", "dev-lab", LATER + RW_YOUNG_MIN * HOUR);
    cr_expect(!has_reason(&d, YOUNG), "%s", reasons_text(&d));
    rw_engine_close(e);
}
