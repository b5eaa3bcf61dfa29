/* engine: what the signup path stopped is evidence for the next signup on
 * the same attribute (engine/stops.c). A device on which many signups were
 * stopped on their own evidence, a large share of its accounts, puts the
 * next signup on it under review, with the reason in words, after a restart
 * too; a benign label on the device clears it; a popular device with a few
 * stopped strangers among many marks no one; and the rule's own reviews do
 * not count, so nothing feeds itself. The same holds for a /24 over the
 * last day: a ring rotating addresses in it, not a busy one or an old one. */
#include "live.h"
#include "online_util.h"
#include "stops.h"

ONLINE_SUITE(stops);

#define RING   12
#define LATER  (T0 + 40 * DAY)
#define SAY(d) rw_verdict_name((d).verdict), (d).score, reasons_text(&(d))

/* What stops a signup in these tests is the run's verdict on the ring's
 * card and the rule under test, whatever the model makes of the accounts
 * that join the ring's cluster through a shared device. */
#define reopen() open_engine_rules_only()

/* Background singletons and households, and a ring of twelve on two
 * devices and one card (tok-r), signing up in a burst; rescored, the ring
 * flagged: a signup on tok-r is then blocked on the run's evidence. */
static rw_engine *world(void) {
    rw_engine *e = reopen();
    FILE *f = begin_input();
    w_singletons(f, 200, T0);
    w_households(f, 30, T0);
    for (int k = 0; k < RING; k++)
        fprintf(f,
                "{\"account\":\"r-%02d\",\"ts\":%lld,\"ip\":\"198.51.0.%d\",\"device\":\"dev-r-%d\","
                "\"payment\":\"tok-r\"}\n",
                k, (long long)(T0 + 10 * DAY + k * 280LL), k, k % 2);
    ingest_input(e, f);
    rescore(e);
    rw_account_view *v = view(e, "r-00");
    cr_assert(v->run_flagged, "the run did not flag the ring (score %.3f)", v->run_score);
    free(v);
    return e;
}

/* A signup at ts on device, with card (NULL: its own) and an address of its
 * own. */
static rw_decision signup(rw_engine *e, const char *name, const char *device, const char *card, int64_t ts) {
    static int next;
    next++;
    return rec(e, 0,
               "{\"account\":\"%s\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"192.0.%d.%d\",\"device\":\"%s\","
               "\"payment\":\"%s%s\"}",
               name, (long long)ts, 100 + next / 200, next % 200 + 1, device, card ? "" : "tok-", card ? card : name);
}

/* n signups on device, the first stopped of them on the ring's card (each
 * blocked by the run's verdict on it), the others on cards of their own,
 * an hour apart from t. */
static void fill_device(rw_engine *e, const char *device, int n, int stopped, int64_t t) {
    for (int k = 0; k < n; k++) {
        char name[48];
        snprintf(name, sizeof name, "%s-%03d", device, k);
        rw_decision d = signup(e, name, device, k < stopped ? "tok-r" : NULL, t + k * 3600LL);
        if (k < stopped) cr_assert_eq(d.verdict, RW_BLOCK, "the ring's card: %s %.3f %s", SAY(d));
    }
}

#define STOPS_REASON "reviewed or blocked at signup"

Test(stops, a_device_whose_signups_were_stopped_reviews_the_next) {
    rw_engine *e = world();
    fill_device(e, "dev-farm", 24, 24, LATER);
    /* A month on, a signup on the device with a card and an address of its own. */
    rw_decision d = signup(e, "new-1", "dev-farm", NULL, LATER + 30 * DAY);
    cr_log_info("signup on a device with 24 stopped signups: %s %.3f %s", SAY(d));
    cr_expect_geq(d.verdict, RW_REVIEW, "%s %.3f %s", SAY(d));
    cr_expect(has_reason(&d, "its device has 24 earlier accounts, 24 of them (100%) " STOPS_REASON), "%s",
              reasons_text(&d));
    /* The rule's own review does not count: the next one reads 24 stopped of 25. */
    rw_decision n = signup(e, "new-2", "dev-farm", NULL, LATER + 30 * DAY + 60);
    cr_expect(has_reason(&n, "its device has 25 earlier accounts, 24 of them (96%) " STOPS_REASON), "%s",
              reasons_text(&n));
    cr_expect_eq(n.raised, RW_RAISED_STOPPED_ATTRIBUTE, "raised by %s", rw_raised_name(n.raised));
    rw_engine_counters k = counters(e);
    cr_expect_eq(k.signups_raised[RW_RAISED_STOPPED_ATTRIBUTE], 2, "two signups raised by the stops rule");
    rw_engine_close(e);
    cr_expect_eq(sql_int("SELECT count(*) FROM events WHERE stopped = 1"), 24,
                 "each signup stopped on its own evidence is stored as such, and only those");
    /* A restart counts them again from the store. */
    e = reopen();
    rw_decision after = signup(e, "new-3", "dev-farm", NULL, LATER + 30 * DAY + 120);
    cr_expect_geq(after.verdict, RW_REVIEW, "after a restart: %s %.3f %s", SAY(after));
    cr_expect(has_reason(&after, "its device has 26 earlier accounts, 24 of them (92%) " STOPS_REASON), "%s",
              reasons_text(&after));
    rw_engine_close(e);
}

Test(stops, a_benign_label_on_the_device_clears_it) {
    rw_engine *e = world();
    fill_device(e, "dev-farm", 24, 24, LATER);
    pthread_rwlock_wrlock(&e->lock);
    rw_engine_live_label(e, 0, attr_of(e, "dev-farm-000", RW_KIND_DEVICE), 0);
    pthread_rwlock_unlock(&e->lock);
    rw_decision d = signup(e, "new-1", "dev-farm", NULL, LATER + 30 * DAY);
    cr_expect(!has_reason(&d, STOPS_REASON), "%s", reasons_text(&d));
    rw_engine_close(e);
}

/* A popular device: eighty strangers over weeks, twenty of them stopped
 * (on the ring's card): many stops, but a quarter of its accounts. */
Test(stops, a_popular_device_with_a_few_stopped_strangers_marks_no_one) {
    rw_engine *e = world();
    for (int k = 0; k < 80; k++) {
        char name[32];
        snprintf(name, sizeof name, "pop-%03d", k);
        signup(e, name, "dev-pop", k % 4 == 0 ? "tok-r" : NULL, LATER + k * 6 * 3600LL);
    }
    rw_decision d = signup(e, "new-1", "dev-pop", NULL, LATER + 30 * DAY);
    cr_log_info("signup on a popular device: %s %.3f %s", SAY(d));
    cr_expect(!has_reason(&d, STOPS_REASON), "%s", reasons_text(&d));
    rw_engine_close(e);
}

/* Fewer stopped signups than the bar, whatever their share: no one. */
Test(stops, a_few_stopped_signups_mark_no_one) {
    rw_engine *e = world();
    fill_device(e, "dev-few", RW_STOPS_MIN - 1, RW_STOPS_MIN - 1, LATER);
    rw_decision d = signup(e, "new-1", "dev-few", NULL, LATER + 30 * DAY);
    cr_expect(!has_reason(&d, STOPS_REASON), "%s", reasons_text(&d));
    rw_engine_close(e);
}

/* ---- the subnet --------------------------------------------------------- */

/* A signup at ts from ip on a device of its own, with card (NULL: its own). */
static rw_decision signup_from(rw_engine *e, const char *name, const char *ip, const char *card, int64_t ts) {
    return rec(e, 0,
               "{\"account\":\"%s\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"%s\",\"device\":\"dev-%s\","
               "\"payment\":\"%s%s\"}",
               name, (long long)ts, ip, name, card ? "" : "tok-", card ? card : name);
}

/* n signups from addresses 203.0.113.1.. (one each, a device each), the
 * first stopped of them on the ring's card, a quarter of an hour apart
 * from t. */
static void fill_subnet(rw_engine *e, int n, int stopped, int64_t t) {
    for (int k = 0; k < n; k++) {
        char name[32], ip[32];
        snprintf(name, sizeof name, "sub-%03d", k);
        snprintf(ip, sizeof ip, "203.0.113.%d", k + 1);
        rw_decision d = signup_from(e, name, ip, k < stopped ? "tok-r" : NULL, t + k * 900LL);
        if (k < stopped) cr_assert_eq(d.verdict, RW_BLOCK, "the ring's card: %s %.3f %s", SAY(d));
    }
}

#define SUBNET_REASON "its /24 had about"

/* A ring rotating addresses inside one /24: each address new, each device
 * new, but most of the /24's signups of the day were stopped. The counts
 * decay over about a day: eight signups within two hours read as about
 * seven three hours on. */
Test(stops, a_subnet_whose_signups_were_stopped_today_reviews_the_next) {
    rw_engine *e = world();
    fill_subnet(e, 8, 8, LATER);
    rw_decision d = signup_from(e, "new-1", "203.0.113.200", NULL, LATER + 3 * 3600);
    cr_log_info("signup on a /24 with 8 stopped signups today: %s %.3f %s", SAY(d));
    cr_expect_geq(d.verdict, RW_REVIEW, "%s %.3f %s", SAY(d));
    cr_expect(has_reason(&d, SUBNET_REASON " 7 other signups in the last day, 7 of them " STOPS_REASON), "%s",
              reasons_text(&d));
    cr_expect_eq(d.raised, RW_RAISED_STOPPED_ATTRIBUTE, "raised by %s", rw_raised_name(d.raised));
    rw_engine_close(e);
    /* A restart counts the stops again, each decayed from its own time. */
    e = reopen();
    rw_decision after = signup_from(e, "new-2", "203.0.113.201", NULL, LATER + 3 * 3600 + 60);
    cr_expect(has_reason(&after, SUBNET_REASON " 8 other signups in the last day, 7 of them " STOPS_REASON), "%s",
              reasons_text(&after));
    rw_engine_close(e);
}

/* What a /24's signups were days ago says nothing of today's. */
Test(stops, a_subnets_stops_fade_within_days) {
    rw_engine *e = world();
    fill_subnet(e, 8, 8, LATER);
    rw_decision d = signup_from(e, "new-1", "203.0.113.200", NULL, LATER + 5 * DAY);
    cr_expect(!has_reason(&d, SUBNET_REASON), "%s", reasons_text(&d));
    rw_engine_close(e);
}

/* A busy /24 (a campus, an office) with a few stopped signups among many. */
Test(stops, a_busy_subnet_with_a_few_stopped_signups_marks_no_one) {
    rw_engine *e = world();
    fill_subnet(e, 30, 6, LATER);
    rw_decision d = signup_from(e, "new-1", "203.0.113.200", NULL, LATER + 8 * 3600);
    cr_expect(!has_reason(&d, SUBNET_REASON), "%s", reasons_text(&d));
    rw_engine_close(e);
}
