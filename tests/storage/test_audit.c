/* storage: labels keep their author, the audit trail lists labels,
 * erasures and rescorings newest first, and the runs list. */
#include <criterion/criterion.h>
#include <string.h>

#include "storage.h"
#include "tu_store.h"
#include "tu_tmp.h"

TestSuite(audit, .init = tu_tmp_init, .fini = tu_tmp_fini);

typedef struct {
    int n;
    char action[8][16], actor[8][16], target[8][32];
} trail;

static rw_status on_entry(void *ctx, const rw_audit_row *r) {
    trail *t = ctx;
    if (t->n == 8) return RW_OK;
    snprintf(t->action[t->n], sizeof t->action[0], "%s", r->action);
    snprintf(t->actor[t->n], sizeof t->actor[0], "%s", r->actor ? r->actor : "(none)");
    snprintf(t->target[t->n], sizeof t->target[0], "%s", r->target ? r->target : "(none)");
    t->n++;
    return RW_OK;
}

static rw_status on_label(void *ctx, const rw_label_row *l) {
    snprintf(ctx, 16, "%s", l->author ? l->author : "(none)");
    return RW_OK;
}

Test(audit, labels_keep_their_author_and_the_trail_lists_everything) {
    rw_store *s = tu_store_open(tu_db(), 0);
    rw_err err = {{0}};
    int64_t id = 0;
    cr_assert_eq(rw_store_put_account(s, 0, "acct-1", 6, 1, &err), RW_OK);
    cr_assert_eq(rw_store_put_label_by(s, "cluster", 12, 0, "fraud", "ring", "alice", &id, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_label(s, "account", 0, 0, "benign", NULL, &id, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_audit(s, "bob", "rescore", "job:1", "{}", &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_store_put_audit(s, "", "erase", NULL, NULL, &err), RW_OK, "%s", err.msg);

    char author[16] = "";
    cr_assert_eq(rw_store_target_labels(s, "cluster", 12, 0, on_label, author, &err), RW_OK);
    cr_expect_str_eq(author, "alice");
    cr_assert_eq(rw_store_target_labels(s, "account", 0, 0, on_label, author, &err), RW_OK);
    cr_expect_str_eq(author, "(none)");

    trail t = {0};
    cr_assert_eq(rw_store_audit(s, 0, on_entry, &t, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(t.n, 4);
    /* Same second: audit entries before labels, newest first within each. */
    cr_expect_str_eq(t.action[0], "erase");
    cr_expect_str_eq(t.actor[0], "(none)");
    cr_expect_str_eq(t.action[1], "rescore");
    cr_expect_str_eq(t.actor[1], "bob");
    cr_expect_str_eq(t.target[1], "job:1");
    cr_expect_str_eq(t.target[2], "account:acct-1");
    cr_expect_str_eq(t.actor[3], "alice");
    cr_expect_str_eq(t.target[3], "cluster:c12");
    t.n = 0;
    cr_assert_eq(rw_store_audit(s, 2, on_entry, &t, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(t.n, 2);
    rw_store_close(s);
}

static rw_status on_run(void *ctx, const rw_run_row *r) {
    int64_t *ids = ctx;
    ids[ids[0] + 1] = r->id;
    ids[0]++;
    return RW_OK;
}

Test(audit, runs_newest_first) {
    rw_store *s = tu_store_open(tu_db(), 0);
    rw_err err = {{0}};
    for (int i = 0; i < 3; i++) {
        rw_run_row run = {.started_at = 1, .finished_at = 2, .params = "{}", .summary = "{}"};
        cr_assert_eq(rw_store_begin(s, &err), RW_OK);
        cr_assert_eq(rw_store_put_run(s, &run, &err), RW_OK, "%s", err.msg);
        cr_assert_eq(rw_store_commit(s, 1, &err), RW_OK);
    }
    int64_t ids[8] = {0};
    cr_assert_eq(rw_store_runs(s, 0, on_run, ids, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(ids[0], 3);
    cr_expect(ids[1] > ids[2] && ids[2] > ids[3]);
    ids[0] = 0;
    cr_assert_eq(rw_store_runs(s, 1, on_run, ids, &err), RW_OK);
    cr_expect_eq(ids[0], 1);
    rw_store_close(s);
}
