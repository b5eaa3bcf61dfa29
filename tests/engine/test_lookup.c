/* engine: the lookups the server answers (account, attribute by raw
 * value, cluster pages, members, attributes). */
#include "online_util.h"

ONLINE_SUITE(lookup);

/* ---- 7. lookups ----------------------------------------------------------- */

Test(lookup, account_view_lists_pseudonyms_only) {
    rw_engine *e = open_engine(0);
    rec(e, 0,
        "{\"account\":\"v1\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"203.0.113.5\",\"device\":\"dev-secret-777\","
        "\"payment\":\"tok-secret-999\"}",
        (long long)T0);
    rec(e, 0, "{\"account\":\"v1\",\"ts\":%lld,\"type\":\"login\",\"ip\":\"203.0.113.5\"}", (long long)T0 + 100);
    rec(e, 1,
        "{\"account\":\"v2\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"::ffff:203.0.113.5\",\"device\":\"dev-v2\"}",
        (long long)T0 + 200);
    rw_account_view *v = view(e, "v1");
    cr_expect_eq(v->first_seen, T0);
    cr_expect_eq(v->last_seen, T0 + 100);
    cr_assert_eq(v->attributes, 3);
    const char *raw[] = {"203.0.113.5", "dev-secret-777", "tok-secret-999", "secret"};
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
        cr_expect(!tu_contains(v, sizeof *v, raw[i], strlen(raw[i])), "raw value %s in the account view", raw[i]);
    int seen[RW_KIND_COUNT] = {0};
    char ip_pseudo[40] = "", dev_pseudo[40] = "";
    for (uint32_t i = 0; i < v->attributes; i++) {
        const rw_attr_brief *b = &v->attr[i];
        cr_assert(b->kind > RW_KIND_ACCOUNT && b->kind < RW_KIND_SUBNET, "kind %d", b->kind);
        seen[b->kind]++;
        char prefix[16];
        snprintf(prefix, sizeof prefix, "%s:", rw_kind_name(b->kind));
        cr_expect(!strncmp(b->pseudonym, prefix, strlen(prefix)) && strlen(b->pseudonym) > strlen(prefix) + 4,
                  "pseudonym '%s'", b->pseudonym);
        if (b->kind == RW_KIND_IP) {
            snprintf(ip_pseudo, sizeof ip_pseudo, "%s", b->pseudonym);
            cr_expect_eq(b->count, 2, "v1 used its IP %u times", b->count);
            cr_expect_eq(b->degree, 2, "the IP (v4 and v4-mapped) has %u accounts", b->degree);
            cr_expect_eq(b->first_seen, T0);
            cr_expect_eq(b->last_seen, T0 + 200);
        } else {
            cr_expect_eq(b->count, 1);
            cr_expect_eq(b->degree, 1);
        }
        if (b->kind == RW_KIND_DEVICE) snprintf(dev_pseudo, sizeof dev_pseudo, "%s", b->pseudonym);
    }
    cr_expect(seen[RW_KIND_IP] == 1 && seen[RW_KIND_DEVICE] == 1 && seen[RW_KIND_PAYMENT] == 1);
    /* v1 and v2 share the IP: one live group. */
    cr_expect(!strncmp(v->now.cluster, "live-", 5), "'%s'", v->now.cluster);
    cr_expect_eq(v->run, 0);
    cr_expect_str_eq(v->label, "");

    /* The attribute by raw value: the v4-mapped form finds the v4 node. */
    rw_attr_view av;
    rw_err err = {{0}};
    const char *mapped = "::ffff:203.0.113.5";
    cr_assert_eq(rw_engine_attr_view(e, RW_KIND_IP, mapped, strlen(mapped), &av, &err), RW_OK, "%s", err.msg);
    cr_expect_str_eq(av.a.pseudonym, ip_pseudo);
    cr_expect_eq(av.a.kind, RW_KIND_IP);
    cr_expect_eq(av.a.degree, 2);
    cr_expect_eq(av.naccounts, 2);
    int have1 = 0, have2 = 0;
    for (uint32_t i = 0; i < av.naccounts; i++)
        have1 |= !strcmp(av.accounts[i], "v1"), have2 |= !strcmp(av.accounts[i], "v2");
    cr_expect(have1 && have2, "accounts %s, %s", av.accounts[0], av.accounts[1]);
    cr_expect_str_eq(av.cluster, v->now.cluster);
    cr_expect_eq(av.hub, 0);
    cr_expect_eq(av.cleared, 0);
    cr_expect_gt(av.velocity[0], 0);
    cr_expect(!tu_contains(&av, sizeof av, "203.0.113.5", 11), "raw IP in the attribute view");
    cr_assert_eq(rw_engine_attr_view(e, RW_KIND_IP, "203.0.113.5", 11, &av, &err), RW_OK, "%s", err.msg);
    cr_expect_str_eq(av.a.pseudonym, ip_pseudo);
    cr_assert_eq(rw_engine_attr_view(e, RW_KIND_DEVICE, "dev-secret-777", 14, &av, &err), RW_OK, "%s", err.msg);
    cr_expect_str_eq(av.a.pseudonym, dev_pseudo);
    cr_expect_eq(av.naccounts, 1);
    cr_expect_str_eq(av.accounts[0], "v1");
    cr_expect_str_eq(av.cluster, "", "an unshared device in group '%s'", av.cluster);
    /* The same text as another kind is another node. */
    cr_expect_eq(rw_engine_attr_view(e, RW_KIND_PAYMENT, "dev-secret-777", 14, &av, &err), RW_ERR_NOTFOUND);
    cr_expect_eq(rw_engine_attr_view(e, RW_KIND_PAYMENT, "tok-secret-999", 14, &av, &err), RW_OK, "%s", err.msg);
    /* Errors. */
    cr_expect_eq(rw_engine_attr_view(e, RW_KIND_IP, "203.0.113.999", 13, &av, &err), RW_ERR_INVALID);
    cr_expect_eq(rw_engine_attr_view(e, RW_KIND_IP, "not an ip", 9, &av, &err), RW_ERR_INVALID);
    cr_expect_eq(rw_engine_attr_view(e, RW_KIND_IP, "192.0.2.1", 9, &av, &err), RW_ERR_NOTFOUND);
    cr_expect_eq(rw_engine_attr_view(e, RW_KIND_DEVICE, "dev-nope", 8, &av, &err), RW_ERR_NOTFOUND);
    cr_expect_eq(rw_engine_attr_view(e, RW_KIND_DEVICE, "", 0, &av, &err), RW_ERR_INVALID);
    cr_expect_eq(rw_engine_attr_view(e, RW_KIND_SUBNET, "203.0.113.0/24", 14, &av, &err), RW_ERR_INVALID);
    cr_expect_eq(rw_engine_attr_view(e, RW_KIND_ACCOUNT, "v1", 2, &av, &err), RW_ERR_INVALID);
    cr_expect_eq(rw_engine_attr_view(e, RW_KIND_DEVICE, "\xff\xfe", 2, &av, &err), RW_ERR_INVALID);
    rw_account_view nv;
    cr_expect_eq(rw_engine_account_view(e, "v3", 2, &nv, &err), RW_ERR_NOTFOUND);
    free(v);
    rw_engine_close(e);
}

/* Cluster pages, members and attributes over five identical rings (equal
 * scores: ties broken by id) and households. */

typedef struct {
    rw_attr_brief a[64];
    size_t n;
} attr_acc;

static rw_status on_attr_row(void *ctx, const rw_attr_brief *a) {
    attr_acc *l = ctx;
    if (l->n < 64) l->a[l->n] = *a;
    l->n++;
    return RW_OK;
}

Test(lookup, cluster_pages_members_and_attributes) {
    rw_engine *e = open_engine(0);
    /* Nothing before the first run. */
    page_acc none = {0};
    rw_err err = {{0}};
    cr_expect_eq(rw_engine_clusters_page(e, 0, -1, 0, 0, 10, on_page_row, &none, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(none.n, 0);

    FILE *f = begin_input();
    w_singletons(f, 60, T0);
    w_households(f, 6, T0);
    for (int r = 0; r < 5; r++)
        for (int k = 0; k < 6; k++) w_ring_member(f, r, k, T0 + (10 + r) * DAY);
    ingest_input(e, f);
    rw_rescore_summary s = rescore(e);
    cr_assert_geq(s.clusters, 5, "%llu clusters", (unsigned long long)s.clusters);

    for (uint64_t limit = 1; limit <= 3; limit++) {
        page_acc all = walk_pages(e, -1.0, limit);
        cr_expect_eq(all.n, s.clusters, "page size %llu: %zu rows for %llu clusters", (unsigned long long)limit, all.n,
                     (unsigned long long)s.clusters);
        for (size_t i = 0; i < all.n; i++)
            for (size_t j = i + 1; j < all.n; j++)
                cr_expect_neq(all.id[i], all.id[j], "page size %llu: cluster %u twice", (unsigned long long)limit,
                              all.id[i]);
        for (size_t i = 1; i < all.n; i++)
            cr_expect(all.score[i - 1] > all.score[i] ||
                          (all.score[i - 1] == all.score[i] && all.id[i - 1] < all.id[i]),
                      "rows %zu, %zu out of order: (%.6f, %u) then (%.6f, %u)", i - 1, i, all.score[i - 1],
                      all.id[i - 1], all.score[i], all.id[i]);
    }
    page_acc all = walk_pages(e, -1.0, 2);
    int ties = 0;
    for (size_t i = 1; i < all.n; i++) ties += all.score[i] == all.score[i - 1];
    cr_expect_gt(ties, 0, "no two clusters tie: the tie-break is not exercised");
    /* min_score keeps the top of the list. */
    double mid = all.score[all.n / 2];
    size_t above = 0;
    for (size_t i = 0; i < all.n; i++) above += all.score[i] >= mid;
    page_acc top = walk_pages(e, mid, 2);
    cr_expect_eq(top.n, above);

    /* The rings' members and attributes. */
    rw_account_view *v = view(e, "r2-00");
    uint32_t ring = v->run_cluster;
    free(v);
    cr_assert_neq(ring, 0);
    member_acc m = {0};
    cr_assert_eq(rw_engine_cluster_members(e, 0, ring, 0, on_member_row, &m, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(m.n, 6, "%zu members", m.n);
    for (size_t i = 0; i < m.n && i < 64; i++) {
        cr_expect(!strncmp(m.ext[i], "r2-", 3), "member %s", m.ext[i]);
        cr_expect_eq(m.cluster[i], ring);
        if (i) cr_expect_geq(m.score[i - 1], m.score[i]);
    }
    member_acc m2 = {0};
    cr_assert_eq(rw_engine_cluster_members(e, 1, ring, 2, on_member_row, &m2, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(m2.n, 2);
    member_acc m0 = {0};
    cr_expect_eq(rw_engine_cluster_members(e, 0, 999999, 0, on_member_row, &m0, &err), RW_OK);
    cr_expect_eq(m0.n, 0);
    cr_expect_eq(rw_engine_cluster_members(e, 0, 0, 0, on_member_row, &m0, &err), RW_OK);
    cr_expect_eq(m0.n, 0, "cluster 0 (no cluster) listed %zu accounts", m0.n);

    attr_acc at = {0};
    cr_assert_eq(rw_engine_cluster_attrs(e, 0, ring, 0, on_attr_row, &at, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(at.n, 3, "%zu attributes (want 2 devices and a card)", at.n);
    rw_attr_view card, d0, d1;
    cr_assert_eq(rw_engine_attr_view(e, RW_KIND_PAYMENT, "tok-r2", 6, &card, &err), RW_OK);
    cr_assert_eq(rw_engine_attr_view(e, RW_KIND_DEVICE, "dev-r2-0", 8, &d0, &err), RW_OK);
    cr_assert_eq(rw_engine_attr_view(e, RW_KIND_DEVICE, "dev-r2-1", 8, &d1, &err), RW_OK);
    /* Highest degree first: the card (6 accounts), then the devices (3). */
    cr_expect_str_eq(at.a[0].pseudonym, card.a.pseudonym);
    cr_expect_eq(at.a[0].kind, RW_KIND_PAYMENT);
    cr_expect_eq(at.a[0].degree, 6);
    cr_expect(!strcmp(at.a[1].pseudonym, d0.a.pseudonym) || !strcmp(at.a[1].pseudonym, d1.a.pseudonym), "%s",
              at.a[1].pseudonym);
    cr_expect(!strcmp(at.a[2].pseudonym, d0.a.pseudonym) || !strcmp(at.a[2].pseudonym, d1.a.pseudonym), "%s",
              at.a[2].pseudonym);
    cr_expect_str_neq(at.a[1].pseudonym, at.a[2].pseudonym);
    cr_expect_eq(at.a[1].degree, 3);
    attr_acc at1 = {0};
    cr_assert_eq(rw_engine_cluster_attrs(e, 0, ring, 1, on_attr_row, &at1, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(at1.n, 1);
    /* A household's cluster holds its home IP. */
    v = view(e, "hh002-0");
    uint32_t hh = v->run_cluster;
    free(v);
    if (hh) {
        attr_acc ah = {0};
        cr_assert_eq(rw_engine_cluster_attrs(e, 0, hh, 0, on_attr_row, &ah, &err), RW_OK, "%s", err.msg);
        cr_expect_eq(ah.n, 1);
        cr_expect_eq(ah.a[0].kind, RW_KIND_IP);
        cr_expect_eq(ah.a[0].degree, 3);
    }
    rw_engine_close(e);
}
