/* engine: the live state: analysts' labels (effect on signups, errors,
 * persistence), consistency across a restart, and a new run swapped in. */
#include "online_util.h"

ONLINE_SUITE(live);

/* ---- 6. labels ------------------------------------------------------------ */

/* A background of singletons and households (ingested), and rings 0 and 1 of
 * twelve (recorded online), then a batch run. */
static rw_engine *labelled_world(uint32_t ring_cluster[2]) {
    rw_engine *e = open_engine(0);
    FILE *f = begin_input();
    w_singletons(f, 120, T0);
    w_households(f, 20, T0);
    ingest_input(e, f);
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < RING; k++) rec_ring_member(e, r, k, T0 + (10 + r) * DAY);
    flush(e);
    rw_rescore_summary s = rescore(e);
    cr_assert_eq(s.run, 1);
    for (int r = 0; r < 2; r++) {
        char ext[16];
        snprintf(ext, sizeof ext, "r%d-00", r);
        rw_account_view *v = view(e, ext);
        ring_cluster[r] = v->run_cluster;
        free(v);
        cr_assert_neq(ring_cluster[r], 0, "ring %d formed no cluster", r);
        for (int k = 1; k < RING; k++) {
            snprintf(ext, sizeof ext, "r%d-%02d", r, k);
            v = view(e, ext);
            cr_assert_eq(v->run_cluster, ring_cluster[r], "%s in cluster %u, ring in %u", ext, v->run_cluster,
                         ring_cluster[r]);
            free(v);
        }
    }
    cr_assert_neq(ring_cluster[0], ring_cluster[1]);
    return e;
}

static int64_t label(rw_engine *e, int on_cluster, const char *target, rw_label l) {
    int64_t id = 0;
    rw_err err = {{0}};
    rw_status st = rw_engine_label(e, on_cluster, target, strlen(target), l, "test", &id, &err);
    cr_assert_eq(st, RW_OK, "label %s: %s (%s)", target, rw_status_str(st), err.msg);
    cr_expect_gt(id, 0);
    return id;
}

/* A signup that shares one device of ring r and nothing else. */
static rw_decision joiner(rw_engine *e, int r, const char *name, int64_t ts) {
    static int next_ip = 0;
    next_ip++;
    return rec(e, 1,
               "{\"account\":\"%s\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"192.%d.%d.1\",\"device\":\"dev-r%d-0\","
               "\"payment\":\"tok-%s\"}",
               name, (long long)ts, 100 + next_ip / 200, next_ip % 200, r, name);
}

Test(live, benign_cluster_label_clears_its_attributes) {
    uint32_t rc[2];
    rw_engine *e = labelled_world(rc);
    int64_t t = T0 + 10 * DAY + 4000;
    rw_decision before = joiner(e, 0, "jA1", t);
    char want[RW_CLUSTER_TEXT];
    snprintf(want, sizeof want, "c%u", rc[0]);
    cr_expect_str_eq(before.cluster, want);
    cr_log_info("before: %s %.3f %s", rw_verdict_name(before.verdict), before.score, reasons_text(&before));

    char target[16];
    snprintf(target, sizeof target, "%u", rc[0]);
    label(e, 1, target, RW_LABEL_BENIGN);

    rw_decision after = joiner(e, 0, "jA2", t + 60);
    cr_log_info("after: %s %.3f '%s' %s", rw_verdict_name(after.verdict), after.score, after.cluster,
                reasons_text(&after));
    cr_expect_lt(after.score, before.score, "benign label: %.3f, before it %.3f", after.score, before.score);
    cr_expect_eq(after.verdict, RW_ALLOW);
    cr_expect(!has_reason(&after, "device is shared"), "a cleared device still counts: %s", reasons_text(&after));
    cr_expect_str_eq(after.cluster, "", "a signup sharing only cleared attributes joined '%s'", after.cluster);

    /* A member of the labelled group is told so on its next event. */
    rw_decision m = rec(e, 1, "{\"account\":\"r0-03\",\"ts\":%lld,\"type\":\"login\",\"ip\":\"198.51.0.13\"}",
                        (long long)(t + 120));
    cr_expect_str_eq(m.cluster, want);
    cr_expect(has_reason(&m, "labelled benign"), "member reasons: %s", reasons_text(&m));
    /* The device is cleared for lookups too. */
    rw_attr_view av;
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_attr_view(e, RW_KIND_DEVICE, "dev-r0-0", 8, &av, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(av.cleared, 1);
    cr_assert_eq(rw_engine_attr_view(e, RW_KIND_DEVICE, "dev-r1-0", 8, &av, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(av.cleared, 0);
    rw_engine_close(e);
}

/* A signup whose only link to a cluster is an attribute cleared by a benign
 * label is told so (it does not join the labelled group, so the group's
 * reason does not apply). Failed at c8bf8b5 (no reason at all); passes since
 * fd8a5cf. */
Test(live, benign_label_is_named_to_joiners) {
    uint32_t rc[2];
    rw_engine *e = labelled_world(rc);
    int64_t t = T0 + 10 * DAY + 4000;
    rw_decision before = joiner(e, 0, "jA1", t);
    cr_expect(has_reason(&before, "device"), "%s", reasons_text(&before));
    char target[16];
    snprintf(target, sizeof target, "%u", rc[0]);
    label(e, 1, target, RW_LABEL_BENIGN);
    rw_decision after = joiner(e, 0, "jA2", t + 60);
    cr_expect_lt(after.score, before.score);
    cr_expect(has_reason(&after, "benign"), "no reason mentions the benign label: '%s' (cluster '%s', score %.3f)",
              reasons_text(&after), after.cluster, after.score);
    rw_engine_close(e);
}

Test(live, fraud_cluster_label_blocks_joiners) {
    uint32_t rc[2];
    rw_engine *e = labelled_world(rc);
    char target[16];
    snprintf(target, sizeof target, "%u", rc[1]);
    int64_t id1 = label(e, 1, target, RW_LABEL_FRAUD);
    rw_decision j = joiner(e, 1, "jB1", T0 + 11 * DAY + 4000);
    char want[RW_CLUSTER_TEXT];
    snprintf(want, sizeof want, "c%u", rc[1]);
    cr_expect_str_eq(j.cluster, want);
    cr_expect_eq(j.verdict, RW_BLOCK, "joiner of a fraud cluster: %s %.3f", rw_verdict_name(j.verdict), j.score);
    cr_expect(has_reason(&j, "labelled fraud"), "%s", reasons_text(&j));
    /* The other ring is untouched by that label. */
    rw_decision o = joiner(e, 0, "jA1", T0 + 11 * DAY + 4100);
    cr_expect(!has_reason(&o, "labelled"), "%s", reasons_text(&o));

    /* Label ids count up; the rows are stored. */
    int64_t id2 = label(e, 0, "b0003", RW_LABEL_FRAUD);
    cr_expect_gt(id2, id1);
    rw_engine_close(e);
    cr_expect_eq(sql_int("SELECT count(*) FROM labels"), 2);
    cr_expect_eq(sql_int("SELECT count(*) FROM labels WHERE target_kind = 'cluster' AND label = 'fraud'"), 1);
}

Test(live, label_errors) {
    uint32_t rc[2];
    rw_engine *e = labelled_world(rc);
    int64_t id = -1;
    rw_err err = {{0}};
    cr_expect_eq(rw_engine_label(e, 0, "nobody", 6, RW_LABEL_FRAUD, NULL, &id, &err), RW_ERR_NOTFOUND);
    cr_expect_eq(id, 0);
    cr_expect_eq(rw_engine_label(e, 1, "99999", 5, RW_LABEL_FRAUD, NULL, &id, &err), RW_ERR_NOTFOUND);
    cr_expect_eq(rw_engine_label(e, 1, "0", 1, RW_LABEL_FRAUD, NULL, &id, &err), RW_ERR_NOTFOUND);
    cr_expect_eq(rw_engine_label(e, 1, "c1", 2, RW_LABEL_FRAUD, NULL, &id, &err), RW_ERR_NOTFOUND);
    cr_expect_eq(rw_engine_label(e, 1, "", 0, RW_LABEL_FRAUD, NULL, &id, &err), RW_ERR_NOTFOUND);
    cr_expect_eq(rw_engine_label(e, 1, "99999999999999999999", 20, RW_LABEL_FRAUD, NULL, &id, &err), RW_ERR_NOTFOUND);
    cr_expect_eq(rw_engine_label(e, 0, "r0-00", 5, (rw_label)7, NULL, &id, &err), RW_ERR_INVALID);
    cr_expect_eq(rw_engine_label(e, 0, "r0-00", 5, (rw_label)-1, NULL, &id, &err), RW_ERR_INVALID);
    char *note = malloc(5000);
    memset(note, 'n', 4999);
    note[4999] = 0;
    cr_expect_eq(rw_engine_label(e, 0, "r0-00", 5, RW_LABEL_FRAUD, note, &id, &err), RW_ERR_INVALID);
    free(note);
    rw_engine_close(e);
    cr_expect_eq(sql_int("SELECT count(*) FROM labels"), 0);
}

/* Before any run there is no cluster to label. */
Test(live, cluster_label_without_a_run_is_not_found) {
    rw_engine *e = open_engine(0);
    rec(e, 1, "{\"account\":\"a1\",\"ts\":%lld,\"device\":\"d-1\"}", (long long)T0);
    rec(e, 1, "{\"account\":\"a2\",\"ts\":%lld,\"device\":\"d-1\"}", (long long)T0 + 1);
    int64_t id = -1;
    rw_err err = {{0}};
    cr_expect_eq(rw_engine_label(e, 1, "1", 1, RW_LABEL_FRAUD, NULL, &id, &err), RW_ERR_NOTFOUND);
    rw_engine_close(e);
}

Test(live, account_labels) {
    uint32_t rc[2];
    rw_engine *e = labelled_world(rc);
    rw_decision base = rec(e, 1,
                           "{\"account\":\"pre\",\"ts\":%lld,\"ip\":\"192.0.2.200\",\"device\":\"dev-b0004\","
                           "\"payment\":\"tok-pre\"}",
                           (long long)(T0 + 30 * DAY));
    label(e, 0, "b0003", RW_LABEL_FRAUD);
    rw_account_view *v = view(e, "b0003");
    cr_expect_str_eq(v->label, "fraud");
    free(v);
    /* A signup on the fraudster's device: at least reviewed, and told why. */
    rw_decision d = rec(e, 1,
                        "{\"account\":\"copycat\",\"ts\":%lld,\"ip\":\"192.0.2.201\",\"device\":\"dev-b0003\","
                        "\"payment\":\"tok-copycat\"}",
                        (long long)(T0 + 30 * DAY + 10));
    cr_expect_geq(d.verdict, RW_REVIEW, "%s %.3f", rw_verdict_name(d.verdict), d.score);
    cr_expect_gt(d.score, base.score, "%.3f vs the same signup on an unlabelled device %.3f", d.score, base.score);
    cr_expect(has_reason(&d, "labelled fraud"), "%s", reasons_text(&d));
    /* The newest label wins in the view; a benign account scores 0. */
    label(e, 0, "b0003", RW_LABEL_BENIGN);
    v = view(e, "b0003");
    cr_expect_str_eq(v->label, "benign");
    free(v);
    rw_decision b = rec(e, 1, "{\"account\":\"b0003\",\"ts\":%lld,\"type\":\"login\",\"ip\":\"100.0.3.7\"}",
                        (long long)(T0 + 31 * DAY));
    cr_expect_eq(b.score, 0.0);
    cr_expect_eq(b.verdict, RW_ALLOW);
    cr_expect(has_reason(&b, "labelled benign"), "%s", reasons_text(&b));
    rw_engine_close(e);
}

Test(live, labels_survive_reopen) {
    uint32_t rc[2];
    rw_engine *e = labelled_world(rc);
    int64_t t = T0 + 12 * DAY;
    rw_decision before = joiner(e, 0, "jA0", t);
    char ta[16], tb[16];
    snprintf(ta, sizeof ta, "%u", rc[0]);
    snprintf(tb, sizeof tb, "%u", rc[1]);
    label(e, 1, ta, RW_LABEL_BENIGN);
    label(e, 1, tb, RW_LABEL_FRAUD);
    label(e, 0, "b0007", RW_LABEL_FRAUD);
    rw_engine_close(e);

    e = open_engine(0);
    rw_decision a = joiner(e, 0, "jA1", t + 60);
    cr_expect_lt(a.score, before.score, "after reopen the benign label is lost: %.3f vs %.3f", a.score, before.score);
    cr_expect(!has_reason(&a, "its device is shared"), "%s", reasons_text(&a));
    rw_decision b = joiner(e, 1, "jB1", t + 120);
    cr_expect_eq(b.verdict, RW_BLOCK, "after reopen the fraud label is lost: %s %.3f (%s)", rw_verdict_name(b.verdict),
                 b.score, reasons_text(&b));
    cr_expect(has_reason(&b, "labelled fraud"), "%s", reasons_text(&b));
    cr_expect_eq(counters(e).run, 1);
    rw_account_view *v = view(e, "b0007");
    cr_expect_str_eq(v->label, "fraud");
    free(v);
    rw_decision c = rec(e, 1,
                        "{\"account\":\"copycat\",\"ts\":%lld,\"ip\":\"192.0.2.201\",\"device\":\"dev-b0007\","
                        "\"payment\":\"tok-copycat\"}",
                        (long long)(t + 180));
    cr_expect(has_reason(&c, "labelled fraud"), "%s", reasons_text(&c));
    cr_expect_geq(c.verdict, RW_REVIEW);
    rw_engine_close(e);
}

/* ---- consistency of the live state across a restart ------------------------ */

/* Regression (fixed): rw_engine_account_view reports an empty
 * live decision (no community, score 0, no reasons) for accounts added by a
 * bulk ingest until something else places them (the next rw_engine_record,
 * a rescoring or a restart): it only scores accounts below live.placed. */
Test(live, account_view_after_ingest_shows_the_live_group) {
    rw_engine *e = open_engine(0);
    FILE *f = begin_input();
    for (int k = 0; k < 6; k++)
        fprintf(f,
                "{\"account\":\"ig%d\",\"ts\":%lld,\"ip\":\"198.%d.0.9\",\"device\":\"farm-9\","
                "\"payment\":\"tok-farm-9\"}\n",
                k, (long long)(T0 + k * 120), 30 + k);
    ingest_input(e, f);
    rw_account_view *before = view(e, "ig5");
    rec(e, 1, "{\"account\":\"unrelated\",\"ts\":%lld,\"ip\":\"192.0.2.1\",\"device\":\"dev-u\"}",
        (long long)(T0 + 1000));
    rw_account_view *after = view(e, "ig5");
    cr_assert(!strncmp(after->now.cluster, "live-", 5), "after a record: '%s'", after->now.cluster);
    cr_expect_str_eq(before->now.cluster, after->now.cluster,
                     "right after the ingest the view shows group '%s' (score %.3f); after an unrelated signup '%s' "
                     "(score %.3f)",
                     before->now.cluster, before->now.score, after->now.cluster, after->now.score);
    cr_expect_eq(before->now.score, after->now.score);
    free(before);
    free(after);
    rw_engine_close(e);
}

/* Regression (fixed): a fraud label on an account taints the
 * attributes it has when labelled; one it uses afterwards is tainted only
 * after a restart (live_build re-applies every label to the account's edges
 * of that moment), so the same signup is decided differently before and
 * after a restart. */
Test(live, account_fraud_label_same_before_and_after_restart) {
    uint32_t rc[2];
    rw_engine *e = labelled_world(rc);
    label(e, 0, "b0005", RW_LABEL_FRAUD);
    rec(e, 1, "{\"account\":\"b0005\",\"ts\":%lld,\"type\":\"login\",\"device\":\"dev-b0005-new\"}",
        (long long)(T0 + 40 * DAY));
    rw_decision d1 = rec(e, 1,
                         "{\"account\":\"cc1\",\"ts\":%lld,\"ip\":\"192.0.2.31\",\"device\":\"dev-b0005-new\","
                         "\"payment\":\"tok-cc1\"}",
                         (long long)(T0 + 40 * DAY + 60));
    rw_engine_close(e);
    e = open_engine(0);
    rw_decision d2 = rec(e, 1,
                         "{\"account\":\"cc2\",\"ts\":%lld,\"ip\":\"192.0.2.32\",\"device\":\"dev-b0005-new\","
                         "\"payment\":\"tok-cc2\"}",
                         (long long)(T0 + 40 * DAY + 120));
    cr_expect_eq(has_reason(&d1, "labelled fraud"), has_reason(&d2, "labelled fraud"),
                 "before the restart: %s %.3f (%s); after: %s %.3f (%s)", rw_verdict_name(d1.verdict), d1.score,
                 reasons_text(&d1), rw_verdict_name(d2.verdict), d2.score, reasons_text(&d2));
    cr_expect_eq(d1.verdict >= RW_REVIEW, d2.verdict >= RW_REVIEW);
    rw_engine_close(e);
}

/* Regression (fixed): a benign label on a cluster clears the
 * cluster's attributes of the run it was given in. After a new run the
 * cluster (same id) holds a new shared device: a restart clears it
 * (live_build applies the label to the newest run's membership), but without
 * a restart rw_engine_online_install only copies the old per-node flags, so
 * the device counts against signups until the process restarts. */
Test(live, benign_cluster_label_same_before_and_after_restart) {
    uint32_t rc[2];
    rw_engine *e = labelled_world(rc);
    char target[16];
    snprintf(target, sizeof target, "%u", rc[0]);
    label(e, 1, target, RW_LABEL_BENIGN);
    for (int k = 0; k < 4; k++)
        rec(e, 0, "{\"account\":\"r0-%02d\",\"ts\":%lld,\"type\":\"login\",\"device\":\"dev-r0-new\"}", k,
            (long long)(T0 + 20 * DAY + k));
    flush(e);
    rw_rescore_summary s = rescore(e);
    cr_assert_eq(s.run, 2);
    rw_account_view *v = view(e, "r0-00");
    cr_assert_eq(v->run_cluster, rc[0], "ring 0 changed id: %u, was %u", v->run_cluster, rc[0]);
    free(v);
    rw_attr_view a1, a2;
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_attr_view(e, RW_KIND_DEVICE, "dev-r0-new", 10, &a1, &err), RW_OK, "%s", err.msg);
    rw_engine_close(e);
    e = open_engine(0);
    cr_assert_eq(rw_engine_attr_view(e, RW_KIND_DEVICE, "dev-r0-new", 10, &a2, &err), RW_OK, "%s", err.msg);
    cr_expect_str_eq(a1.cluster, a2.cluster);
    cr_expect_eq(a1.cleared, a2.cleared,
                 "the new device of the benign cluster: cleared %d before the restart, %d after", a1.cleared,
                 a2.cleared);
    rw_engine_close(e);
}

/* A store-only engine (no graph) answers cluster queries and refuses to
 * record. */
Test(live, store_only_engine) {
    rw_engine *e = open_engine(0);
    for (int k = 0; k < RING; k++) rec_ring_member(e, 0, k, T0);
    flush(e);
    rw_rescore_summary s = rescore(e);
    cr_assert_geq(s.clusters, 1);
    rw_engine_close(e);
    rw_engine_config cfg = {.db_path = tu_db(), .store_only = 1};
    rw_err err = {{0}};
    cr_assert_eq(rw_engine_open(&e, &cfg, &err), RW_OK, "%s", err.msg);
    rw_event_raw ev;
    parse(&ev, "{\"account\":\"a2\",\"ts\":%lld}", (long long)T0 + 5);
    cr_expect_neq(rw_engine_record(e, &ev, 1, NULL, 1, &err), RW_OK);
    rw_account_view v;
    cr_expect_neq(rw_engine_account_view(e, "r0-00", 5, &v, &err), RW_OK);
    page_acc all = walk_pages(e, -1.0, 1);
    cr_expect_eq(all.n, s.clusters);
    member_acc m = {0};
    cr_expect_eq(rw_engine_cluster_members(e, 0, all.id[0], 0, on_member_row, &m, &err), RW_OK, "%s", err.msg);
    cr_expect_gt(m.n, 1);
    rw_engine_close(e);
    cr_expect_eq(sql_int("SELECT count(*) FROM events"), RING);
}

/* Regression (fixed): the same signup after the same history is
 * scored differently when the process restarted in between. The live state
 * rebuilt by rw_engine_online_reload (live_build) does not rebuild the
 * subnet velocities (sub_hour, sub_day: live_swap copies them only from the
 * state it replaces, which is empty at open) nor the remembered online
 * scores (seen_score, since deaf4a0), so subnet and neighbour-score
 * features read 0 after a restart. */
static rw_decision ring_step(rw_engine *e, int k) {
    return rec(e, 1,
               "{\"account\":\"s%d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"198.51.100.%d\",\"device\":\"farm-s\","
               "\"payment\":\"tok-s%d\"}",
               k, (long long)(T0 + k * 200LL), 10 + k, k);
}

Test(live, restart_does_not_change_decisions) {
    rw_engine *a = open_engine_at("a.db"), *b = open_engine_at("b.db");
    for (int k = 0; k < 5; k++) {
        rw_decision x = ring_step(a, k), y = ring_step(b, k);
        cr_assert_eq(x.score, y.score, "signup %d: %.6f and %.6f without any restart", k, x.score, y.score);
    }
    rw_engine_close(a);
    a = open_engine_at("a.db");
    rw_decision x = ring_step(a, 5), y = ring_step(b, 5);
    char diff[512] = "";
    size_t at = 0;
    for (size_t i = 0; i < sizeof x.features / sizeof x.features[0]; i++)
        if (fabs(x.features[i] - y.features[i]) > 1e-9 && at < sizeof diff - 40)
            at += (size_t)snprintf(diff + at, sizeof diff - at, " f[%zu] %.3f/%.3f", i, x.features[i], y.features[i]);
    cr_expect_eq(at, 0, "features differ after a restart (restarted/not):%s", diff);
    cr_expect(fabs(x.score - y.score) < 1e-9, "after a restart %.4f (%s), without %.4f (%s)", x.score, reasons_text(&x),
              y.score, reasons_text(&y));
    cr_expect_eq(x.verdict, y.verdict);
    rw_engine_close(a);
    rw_engine_close(b);
}

/* ---- 9. a new run swapped in --------------------------------------------------- */

/* The same history in two databases; one engine switches to its second run
 * while running, the other is restarted after it. The switch (built outside
 * the engine's lock, then swapped in) answers as the restart does: labels
 * carried over, a device a benign cluster took up since its label cleared,
 * the run's scores, flags and communities. */
Test(live, a_new_run_answers_as_a_restart_would) {
    rw_engine *e[2];
    uint32_t rc[2];
    for (int i = 0; i < 2; i++) {
        tu_db_use(i ? "b.db" : "a.db");
        e[i] = labelled_world(rc);
        char target[16];
        snprintf(target, sizeof target, "%u", rc[0]);
        label(e[i], 1, target, RW_LABEL_BENIGN);
        label(e[i], 0, "r1-03", RW_LABEL_FRAUD);
        for (int k = 1; k <= 2; k++)
            rec(e[i], 1,
                "{\"account\":\"r0-%02d\",\"ts\":%lld,\"type\":\"login\",\"ip\":\"198.51.0.%d\","
                "\"device\":\"dev-r0-new\"}",
                k, (long long)(T0 + 12 * DAY + k), 10 + k);
        rec_ring_member(e[i], 1, RING, T0 + 11 * DAY);
        cr_assert_eq(rescore(e[i]).run, 2);
    }
    rw_engine_close(e[1]);
    e[1] = open_engine(0); /* b.db, restarted */
    rw_err err = {{0}};
    for (int i = 0; i < 2; i++) {
        rw_attr_view av;
        cr_assert_eq(rw_engine_attr_view(e[i], RW_KIND_DEVICE, "dev-r0-new", 10, &av, &err), RW_OK, "%s", err.msg);
        cr_expect_eq(av.cleared, 1, "%s: the benign cluster's new device is not cleared", i ? "restart" : "switch");
        cr_expect_eq(counters(e[i]).run, 2);
    }
    const char *who[] = {"r0-05", "r1-05", "r1-12", "b0007", "hh003-1"};
    for (size_t k = 0; k < sizeof who / sizeof who[0]; k++) {
        rw_account_view *v[2] = {view(e[0], who[k]), view(e[1], who[k])};
        cr_expect_eq(v[0]->run_score, v[1]->run_score, "%s: run score %.4f / %.4f", who[k], v[0]->run_score,
                     v[1]->run_score);
        cr_expect_eq(v[0]->run_flagged, v[1]->run_flagged, "%s", who[k]);
        cr_expect_eq(v[0]->run_cluster, v[1]->run_cluster, "%s", who[k]);
        cr_expect_str_eq(v[0]->now.cluster, v[1]->now.cluster, "%s", who[k]);
        free(v[0]), free(v[1]);
    }
    /* Signups after the switch: the same communities and run features. */
    for (int r = 0; r < 2; r++) {
        rw_decision d[2];
        for (int i = 0; i < 2; i++) d[i] = joiner(e[i], r, r ? "jB" : "jA", T0 + 13 * DAY);
        cr_expect_str_eq(d[0].cluster, d[1].cluster, "joiner of ring %d", r);
        for (int f = RW_O_COMM_SCORE; f <= RW_O_ATTR_FLAGGED; f++)
            if (f != RW_O_COMM_DAY) /* growth counts come from the stream, not the run */
                cr_expect_eq(d[0].features[f], d[1].features[f], "joiner of ring %d, feature %d: %.4f / %.4f", r, f,
                             d[0].features[f], d[1].features[f]);
        cr_expect_eq(d[0].verdict, d[1].verdict, "joiner of ring %d: %s (%.3f, %s) / %s (%.3f, %s)", r,
                     rw_verdict_name(d[0].verdict), d[0].score, reasons_text(&d[0]), rw_verdict_name(d[1].verdict),
                     d[1].score, reasons_text(&d[1]));
    }
    rw_engine_close(e[0]);
    rw_engine_close(e[1]);
}
