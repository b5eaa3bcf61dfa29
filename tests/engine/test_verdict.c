/* engine: the newest run's flags reach the online answer whatever the model
 * (engine/verdict.c): a signup on a card a flagged ring holds, or on its
 * device together with its IP address, and an event of an account the run
 * flagged, are reviewed or blocked with the cluster named; a device alone
 * decides only on strong evidence whose users signed up in a burst, else it
 * is named and decides nothing; a benign label on the cluster, the account or
 * the attribute clears it and says so; an IP address a ring shares with
 * many unflagged users (a carrier NAT) marks no one. */
#include "live.h"
#include "online_util.h"
#include "verdict.h"

ONLINE_SUITE(verdict);

#define NAT  60 /* unflagged users behind the NAT address */
#define FARM 24 /* accounts of the device farm, on one device */

/* NAT users on one address the ring's last members share with them, and a
 * ring of twelve on two devices and one card, signing up in a burst. */
static void w_nat_ring(FILE *f) {
    for (int i = 0; i < NAT; i++)
        fprintf(f,
                "{\"account\":\"nat%03d\",\"ts\":%lld,\"ip\":\"203.0.113.9\",\"device\":\"dev-nat%03d\","
                "\"payment\":\"tok-nat%03d\"}\n",
                i, (long long)(T0 + i * 7211LL), i, i);
    for (int k = 0; k < RING; k++) {
        char ip[32];
        snprintf(ip, sizeof ip, k < RING - 4 ? "198.51.0.%d" : "203.0.113.9", k);
        fprintf(f, "{\"account\":\"r-%02d\",\"ts\":%lld,\"ip\":\"%s\",\"device\":\"dev-r-%d\",\"payment\":\"tok-r\"}\n",
                k, (long long)(T0 + 10 * DAY + k * 280LL), ip, k % 2);
    }
}

/* A farm: FARM accounts on one device from two addresses of a hosting /24,
 * per_card to a card, one every step seconds from start. */
static void w_farm(FILE *f, const char *name, int64_t start, int64_t step, int per_card) {
    for (int k = 0; k < FARM; k++)
        fprintf(f,
                "{\"account\":\"%s-%02d\",\"ts\":%lld,\"ip\":\"192.0.2.%d\",\"device\":\"dev-%s\","
                "\"payment\":\"tok-%s-%02d\"}\n",
                name, k, (long long)(start + k * step), k % 2 + 1, name, name, k / per_card);
}

/* The cluster of account ext, which the newest run flagged. */
static uint32_t flagged_cluster(rw_engine *e, const char *ext) {
    rw_account_view *v = view(e, ext);
    cr_assert(v->run_flagged, "the run did not flag %s (score %.3f)", ext, v->run_score);
    uint32_t c = v->run_cluster;
    free(v);
    cr_assert_neq(c, 0);
    return c;
}

/* Background singletons and households, the NAT users and the ring (and
 * with_farm the farm), ingested, then rescored (run 1). */
static rw_engine *world_with(uint32_t *cluster, int with_farm) {
    rw_engine *e = open_engine(0);
    FILE *f = begin_input();
    w_singletons(f, 200, T0);
    w_households(f, 30, T0);
    w_nat_ring(f);
    if (with_farm) {
        w_farm(f, "farm", T0 + 12 * DAY, 300, 4);
        w_farm(f, "slow", T0, 3 * 3600, 8);
        w_farm(f, "late", T0 + 5 * DAY, 6 * 3600, 8);
    }
    ingest_input(e, f);
    rescore(e);
    *cluster = flagged_cluster(e, "r-00");
    rw_account_view *v = view(e, "nat000");
    cr_assert(!v->run_flagged, "the run flagged a NAT user");
    free(v);
    return e;
}

static rw_engine *world(uint32_t *cluster) {
    return world_with(cluster, 0);
}

/* A new signup a month later on a device and card (NULL: its own), with
 * an address of its own: the model sees an old, quiet device. */
static rw_decision signup_on(rw_engine *e, const char *name, const char *device, const char *card, int64_t ts) {
    static int next;
    next++;
    char own[64];
    snprintf(own, sizeof own, "tok-%s", name);
    return rec(e, 0,
               "{\"account\":\"%s\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"192.0.%d.%d\",\"device\":\"%s\","
               "\"payment\":\"%s\"}",
               name, (long long)ts, 100 + next / 200, next % 200 + 1, device, card ? card : own);
}

static void label(rw_engine *e, int on_cluster, const char *target) {
    int64_t id = 0;
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_label(e, on_cluster, target, strlen(target), RW_LABEL_BENIGN, "test", &id, &err), RW_OK,
                 "label %s: %s", target, err.msg);
}

#define LATER  (T0 + 40 * DAY)
#define SAY(d) rw_verdict_name((d).verdict), (d).score, reasons_text(&(d))

/* The verdict the model's score alone gives (evidence that decides nothing
 * alone leaves it so, whatever the model makes of the signup). */
static rw_verdict model_verdict(const rw_decision *d) {
    return d->score >= RW_ONLINE_BLOCK ? RW_BLOCK : d->score >= RW_ONLINE_REVIEW ? RW_REVIEW : RW_ALLOW;
}

Test(verdict, a_signup_on_a_flagged_rings_card_is_stopped_with_the_cluster_named) {
    uint32_t c;
    rw_engine *e = world(&c);
    char want[32];
    snprintf(want, sizeof want, "cluster c%u", c);
    /* The ring's card: twelve flagged users, all of its users: a block. */
    rw_decision k = signup_on(e, "new-1", "dev-new-1", "tok-r", LATER);
    cr_log_info("signup on the ring's card: %s %.3f %s", SAY(k));
    cr_expect_eq(k.verdict, RW_BLOCK, "%s %.3f %s", SAY(k));
    cr_expect_lt(k.score, RW_ONLINE_BLOCK, "the score is the model's, not raised with the verdict");
    cr_expect_eq(k.raised, RW_RAISED_BATCH_VERDICT, "raised by %s", rw_raised_name(k.raised));
    cr_expect_eq(counters(e).signups_raised[RW_RAISED_BATCH_VERDICT], 1, "counted once, by its rule");
    cr_expect(has_reason(&k, want), "no reason names %s: %s", want, reasons_text(&k));
    cr_expect(has_reason(&k, "its card is used by 12 accounts"), "%s", reasons_text(&k));
    cr_expect(has_reason(&k, "flagged by the nightly run"), "%s", reasons_text(&k));
    /* The ring's device with its card: the same. */
    rw_decision d = signup_on(e, "new-2", "dev-r-0", "tok-r", LATER + 60);
    cr_expect_eq(d.verdict, RW_BLOCK, "%s %.3f %s", SAY(d));
    /* The device alone (six users, one run) is named and decides nothing. */
    rw_decision o = signup_on(e, "new-3", "dev-r-0", NULL, LATER + 120);
    cr_log_info("signup on the ring's device alone: %s %.3f %s", SAY(o));
    cr_expect(has_reason(&o, "its device is used by 6 accounts"), "%s", reasons_text(&o));
    cr_expect(has_reason(&o, "alone not enough"), "%s", reasons_text(&o));
    cr_expect_eq(o.verdict, model_verdict(&o), "the model's own verdict stays: %s %.3f %s", SAY(o));
    cr_expect_eq(o.raised, RW_RAISED_NONE, "raised by %s", rw_raised_name(o.raised));
    rw_engine_close(e);
}

/* The ring's device and an address most of whose users the run flagged:
 * two kinds together decide. */
Test(verdict, a_device_and_an_address_together_decide) {
    uint32_t c;
    rw_engine *e = world(&c);
    for (int k = 0; k < 5; k++)
        rec(e, 0, "{\"account\":\"r-%02d\",\"ts\":%lld,\"type\":\"login\",\"ip\":\"198.51.7.7\"}", k * 2,
            (long long)LATER + k);
    rw_decision d = rec(e, 0,
                        "{\"account\":\"new-1\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"198.51.7.7\","
                        "\"device\":\"dev-r-0\",\"payment\":\"tok-new-1\"}",
                        (long long)LATER + 60);
    cr_expect_geq(d.verdict, RW_REVIEW, "%s %.3f %s", SAY(d));
    cr_expect(has_reason(&d, "flagged by the nightly run"), "%s", reasons_text(&d));
    rw_engine_close(e);
}

/* A farm's device: strong evidence (many judged users, all flagged, at a
 * blocking score) decides alone once a second run flagged the cluster
 * again; after one run it is named and decides nothing (a run on a young
 * graph flags crowds on popular fingerprints, and the next lets them go). */
/* What the newest run said of account ext's device. */
static struct rw_vnode device_evidence(rw_engine *e, const char *ext) {
    pthread_rwlock_rdlock(&e->lock);
    struct rw_vnode v = e->live.vnode[attr_of(e, ext, RW_KIND_DEVICE)];
    pthread_rwlock_unlock(&e->lock);
    return v;
}

/* Does a reason of d name the cluster of one of farm name's accounts? */
static int names_a_farm_cluster(rw_engine *e, const char *name, const rw_decision *d) {
    for (int k = 0; k < FARM; k++) {
        char ext[32], want[32];
        snprintf(ext, sizeof ext, "%s-%02d", name, k);
        rw_account_view *v = view(e, ext);
        snprintf(want, sizeof want, "cluster c%u", v->run_cluster);
        int named = v->run_flagged && has_reason(d, want);
        free(v);
        if (named) return 1;
    }
    return 0;
}

/* A farm's device: nearly all of many judged users flagged, at a blocking
 * score, signed up in a burst: it decides alone, after a restart too. */
Test(verdict, a_farms_device_decides_alone) {
    uint32_t c;
    rw_engine *e = world_with(&c, 1);
    flagged_cluster(e, "farm-00");
    rw_decision d = signup_on(e, "new-1", "dev-farm", NULL, LATER);
    cr_log_info("signup on the farm's device alone: %s %.3f %s", SAY(d));
    cr_expect_eq(d.verdict, RW_BLOCK, "%s %.3f %s", SAY(d));
    cr_expect(names_a_farm_cluster(e, "farm", &d), "no reason names the farm's cluster: %s", reasons_text(&d));
    cr_expect(has_reason(&d, "its device is used by 24 accounts"), "%s", reasons_text(&d));
    rw_engine_close(e);
    e = open_engine(0);
    rw_decision after = signup_on(e, "new-2", "dev-farm", NULL, LATER + 60);
    cr_expect_eq(after.verdict, RW_BLOCK, "after a restart: %s %.3f %s", SAY(after));
    cr_expect_str_eq(after.reasons[0], d.reasons[0]);
    rw_engine_close(e);
}

/* Device evidence whose users came over days (beyond a fifth of the run's
 * history) from its start, as strangers on a popular fingerprint do (which
 * a run on a young graph flags as a farm): named, and it decides nothing
 * alone; the card beside it does. */
Test(verdict, a_device_whose_flagged_users_came_over_time_does_not_decide_alone) {
    uint32_t c;
    rw_engine *e = world_with(&c, 1);
    flagged_cluster(e, "slow-00");
    struct rw_vnode slow = device_evidence(e, "slow-00"), farm = device_evidence(e, "farm-00");
    cr_expect_eq(slow.flagged, FARM);
    cr_expect_eq(slow.users, FARM);
    cr_expect(!slow.burst, "three days of signups in a run of twelve is not a burst");
    cr_expect(!slow.late, "a device there from the history's start did not come late");
    cr_expect(farm.burst, "two hours of signups in a run of twelve days is a burst");
    rw_decision d = signup_on(e, "new-1", "dev-slow", NULL, LATER);
    cr_log_info("signup on the spread farm's device alone: %s %.3f %s", SAY(d));
    cr_expect_eq(d.verdict, model_verdict(&d), "the model's own verdict stays: %s %.3f %s", SAY(d));
    cr_expect(has_reason(&d, "alone not enough"), "%s", reasons_text(&d));
    cr_expect(names_a_farm_cluster(e, "slow", &d), "no reason names the cluster: %s", reasons_text(&d));
    rw_decision k = signup_on(e, "new-2", "dev-slow", "tok-slow-00", LATER + 60);
    cr_expect_geq(k.verdict, RW_REVIEW, "%s %.3f %s", SAY(k));
    rw_engine_close(e);
}

/* A farm that paces itself (one account every six hours, over half the
 * run's history) but whose device appeared halfway through it: a stock
 * fingerprint's strangers would have come from the start, so the device
 * decides alone, after a restart too. */
Test(verdict, a_device_that_came_late_for_its_users_decides_alone) {
    uint32_t c;
    rw_engine *e = world_with(&c, 1);
    flagged_cluster(e, "late-00");
    struct rw_vnode late = device_evidence(e, "late-00");
    cr_expect(!late.burst, "six days of signups in a run of twelve is not a burst");
    cr_expect(late.late, "a device first seen halfway through the history, with 24 users, came late");
    rw_decision d = signup_on(e, "new-1", "dev-late", NULL, LATER);
    cr_log_info("signup on the late farm's device alone: %s %.3f %s", SAY(d));
    cr_expect_eq(d.verdict, RW_BLOCK, "%s %.3f %s", SAY(d));
    cr_expect(names_a_farm_cluster(e, "late", &d), "no reason names the cluster: %s", reasons_text(&d));
    rw_engine_close(e);
    e = open_engine(0);
    rw_decision after = signup_on(e, "new-2", "dev-late", NULL, LATER + 60);
    cr_expect_eq(after.verdict, RW_BLOCK, "after a restart: %s %.3f %s", SAY(after));
    rw_engine_close(e);
}

/* The same paced farm, but its device first seen 30 hours into a history
 * whose first day brought many accounts: a popular fingerprint's first
 * user may come that late, and a run on so young a graph would call it
 * late by the arithmetic alone, so the device decides nothing alone before
 * RW_HISTORY_SETTLE_HOURS; the farm that came on day five still does. */
Test(verdict, a_device_first_seen_in_the_historys_first_two_days_is_not_late) {
    rw_engine *e = open_engine(0);
    FILE *f = begin_input();
    for (int i = 0; i < 150; i++)
        fprintf(f, "{\"account\":\"day1-%03d\",\"ts\":%lld,\"ip\":\"100.64.%d.%d\",\"device\":\"dev-day1-%03d\"}\n", i,
                (long long)(T0 + i * 560LL), i / 200, i % 200 + 1, i);
    w_singletons(f, 200, T0);
    w_farm(f, "early", T0 + 30 * 3600, 6 * 3600, 8);
    w_farm(f, "late", T0 + 5 * DAY, 6 * 3600, 8);
    ingest_input(e, f);
    rescore(e);
    flagged_cluster(e, "early-00");
    flagged_cluster(e, "late-00");
    cr_expect(!device_evidence(e, "early-00").late, "a device first seen 30 hours in came late");
    cr_expect(device_evidence(e, "late-00").late, "a device first seen on day five did not come late");
    rw_decision d = signup_on(e, "new-1", "dev-early", NULL, LATER);
    cr_expect_eq(d.verdict, model_verdict(&d), "the model's own verdict stays: %s %.3f %s", SAY(d));
    rw_decision k = signup_on(e, "new-2", "dev-late", NULL, LATER + 60);
    cr_expect_eq(k.verdict, RW_BLOCK, "%s %.3f %s", SAY(k));
    rw_engine_close(e);
}

Test(verdict, a_flagged_account_is_stopped_at_login) {
    uint32_t c;
    rw_engine *e = world(&c);
    rw_decision d =
        rec(e, 0, "{\"account\":\"r-03\",\"ts\":%lld,\"type\":\"login\",\"ip\":\"198.51.0.3\"}", (long long)LATER);
    cr_log_info("login of a flagged account: %s %.3f %s", SAY(d));
    cr_expect_geq(d.verdict, RW_REVIEW, "%s %.3f %s", SAY(d));
    cr_expect(has_reason(&d, "the nightly run flagged this account"), "%s", reasons_text(&d));
    /* An unflagged account's login is not touched by the run. */
    rw_decision b =
        rec(e, 0, "{\"account\":\"b0007\",\"ts\":%lld,\"type\":\"login\",\"ip\":\"100.0.7.7\"}", (long long)LATER);
    cr_expect_eq(b.verdict, RW_ALLOW, "%s %.3f %s", SAY(b));
    cr_expect(!has_reason(&b, "nightly run"), "%s", reasons_text(&b));
    rw_engine_close(e);
}

/* The answer after a restart is the one before it (built from the store,
 * not from the run's snapshot). */
Test(verdict, the_same_after_a_restart) {
    uint32_t c;
    rw_engine *e = world(&c);
    rw_decision before = signup_on(e, "new-1", "dev-r-1", "tok-r", LATER);
    rw_engine_close(e);
    e = open_engine(0);
    rw_decision after = signup_on(e, "new-2", "dev-r-1", "tok-r", LATER + 60);
    cr_expect_eq(after.verdict, before.verdict, "%s / %s", reasons_text(&before), reasons_text(&after));
    cr_expect_str_eq(after.reasons[0], before.reasons[0]);
    rw_engine_close(e);
}

Test(verdict, a_benign_label_on_the_cluster_clears_it) {
    uint32_t c;
    rw_engine *e = world(&c);
    char target[16];
    snprintf(target, sizeof target, "%u", c);
    label(e, 1, target);
    rw_decision d = signup_on(e, "new-1", "dev-r-0", "tok-r", LATER);
    cr_log_info("after the label: %s %.3f %s", SAY(d));
    cr_expect_eq(d.verdict, RW_ALLOW, "%s %.3f %s", SAY(d));
    cr_expect(has_reason(&d, "benign label clears what the nightly run flagged"), "%s", reasons_text(&d));
    rw_decision l =
        rec(e, 0, "{\"account\":\"r-03\",\"ts\":%lld,\"type\":\"login\",\"ip\":\"198.51.0.3\"}", (long long)LATER + 60);
    cr_expect_eq(l.verdict, RW_ALLOW, "%s %.3f %s", SAY(l));
    cr_expect(has_reason(&l, "benign label clears the nightly run's flag"), "%s", reasons_text(&l));
    rw_engine_close(e);
}

Test(verdict, a_benign_label_on_the_account_clears_it) {
    uint32_t c;
    rw_engine *e = world(&c);
    label(e, 0, "r-03");
    rw_decision l =
        rec(e, 0, "{\"account\":\"r-03\",\"ts\":%lld,\"type\":\"login\",\"ip\":\"198.51.0.3\"}", (long long)LATER);
    cr_expect_eq(l.verdict, RW_ALLOW, "%s %.3f %s", SAY(l));
    cr_expect(has_reason(&l, "benign label clears the nightly run's flag on this account"), "%s", reasons_text(&l));
    /* Its device (r-03 uses dev-r-1) is cleared with it; the other is not. */
    rw_decision d1 = signup_on(e, "new-1", "dev-r-1", NULL, LATER + 60);
    cr_expect_eq(d1.verdict, RW_ALLOW, "%s %.3f %s", SAY(d1));
    cr_expect(has_reason(&d1, "benign label clears"), "%s", reasons_text(&d1));
    rw_decision d0 = signup_on(e, "new-2", "dev-r-0", NULL, LATER + 120);
    cr_expect(has_reason(&d0, "alone not enough"), "%s", reasons_text(&d0));
    rw_engine_close(e);
}

Test(verdict, a_benign_label_on_the_attribute_clears_it) {
    uint32_t c;
    rw_engine *e = world(&c);
    rw_decision before = signup_on(e, "new-0", "dev-new-0", "tok-r", LATER);
    cr_expect_eq(before.verdict, RW_BLOCK, "%s", reasons_text(&before));
    pthread_rwlock_wrlock(&e->lock);
    rw_engine_live_label(e, 0, attr_of(e, "r-00", RW_KIND_PAYMENT), 0); /* tok-r */
    pthread_rwlock_unlock(&e->lock);
    rw_decision d = signup_on(e, "new-1", "dev-new-1", "tok-r", LATER + 60);
    cr_expect_eq(d.verdict, RW_ALLOW, "%s %.3f %s", SAY(d));
    cr_expect(has_reason(&d, "benign label clears what the nightly run flagged on its card"), "%s", reasons_text(&d));
    rw_engine_close(e);
}

Test(verdict, a_nat_address_a_ring_shares_marks_no_one) {
    uint32_t c;
    rw_engine *e = world(&c);
    rw_decision d = rec(e, 0,
                        "{\"account\":\"nat-new\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"203.0.113.9\","
                        "\"device\":\"dev-nat-new\",\"payment\":\"tok-nat-new\"}",
                        (long long)LATER);
    cr_expect_eq(d.verdict, RW_ALLOW, "%s %.3f %s", SAY(d));
    cr_expect(!has_reason(&d, "nightly run"), "%s", reasons_text(&d));
    rw_engine_close(e);
}

/* A card flagged accounts take up after the run is the run's too. */
Test(verdict, a_card_flagged_accounts_take_up_later_counts) {
    uint32_t c;
    rw_engine *e = world(&c);
    for (int k = 0; k < 3; k++)
        rec(e, 0, "{\"account\":\"r-%02d\",\"ts\":%lld,\"type\":\"payment\",\"payment\":\"tok-x\"}", k,
            (long long)LATER + k);
    rw_decision d = signup_on(e, "new-1", "dev-new-1", "tok-x", LATER + 60);
    cr_expect_eq(d.verdict, RW_BLOCK, "%s %.3f %s", SAY(d));
    cr_expect(has_reason(&d, "3 accounts"), "%s", reasons_text(&d));
    rw_engine_close(e);
}
