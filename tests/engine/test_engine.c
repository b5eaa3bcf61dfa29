/* engine: ingest end to end through the library (file in, store and graph
 * out), bad lines, strict mode, reload, privacy of the database file. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "tu_engine.h"
#include "tu_tmp.h"

TestSuite(engine, .init = tu_tmp_init, .fini = tu_tmp_fini, .timeout = RW_ENGINE_SUITE_TIMEOUT);

typedef struct {
    char msgs[32][512];
    int n;
} bad_log;

static void on_bad(void *ctx, const char *msg) {
    bad_log *b = ctx;
    if (b->n < 32) snprintf(b->msgs[b->n++], sizeof b->msgs[0], "%s", msg);
}

static rw_status ingest_text(const char *text, int strict, rw_ingest_stats *s, bad_log *bl, rw_err *err) {
    cr_assert_eq(tu_write_file(tu_input(), text, strlen(text)), 0);
    rw_engine *e = tu_engine_open(tu_db(), 0);
    int fd = open(tu_input(), O_RDONLY);
    rw_ingest_opts o = {.strict = strict, .on_bad_line = on_bad, .ctx = bl};
    rw_status st = rw_engine_ingest_fd(e, s, fd, "in.jsonl", &o, err);
    close(fd);
    rw_engine_close(e);
    return st;
}

static void stats_of(rw_engine_stats *out) {
    rw_engine *e = tu_engine_open(tu_db(), 1);
    rw_err err;
    rw_engine_get_stats(e, out, &err);
    rw_engine_close(e);
}

static const char world[] =
    "{\"account\":\"a1\",\"ts\":1000,\"ip\":\"203.0.113.7\",\"device\":\"dev-1\",\"payment\":\"tok_1\"}\n"
    "{\"account\":\"a2\",\"ts\":1001,\"ip\":\"::ffff:203.0.113.7\",\"device\":\"dev-1\"}\n"
    "{\"account\":\"a3\",\"ts\":1002,\"ip\":\"203.0.113.9\",\"type\":\"signup\"}\n"
    "{\"account\":\"a1\",\"ts\":2000,\"type\":\"login\",\"ip\":\"198.51.100.1\"}\n"
    "{\"account\":\"a1\",\"ts\":2001,\"type\":\"login\",\"ip\":\"198.51.100.1\"}\n";

Test(engine, ingest_builds_graph_and_reloads) {
    rw_ingest_stats s;
    bad_log bl = {0};
    rw_err err;
    cr_assert_eq(ingest_text(world, 0, &s, &bl, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(s.events, 5);
    cr_expect_eq(s.bad_lines, 0);
    cr_expect_eq(s.new_accounts, 3);
    /* ips 203.0.113.7 (v4-mapped is the same node), .9, 198.51.100.1; one
     * device; one card; subnets 203.0.113.0/24 and 198.51.100.0/24 */
    cr_expect_eq(s.new_attributes, 3 + 1 + 1 + 2);
    cr_expect_eq(s.new_edges, 1 + 1 + 1 + 1 + 1 + 1 + 1);
    rw_engine_stats st;
    stats_of(&st);
    cr_expect_eq(st.nodes[RW_KIND_ACCOUNT], 3);
    cr_expect_eq(st.nodes[RW_KIND_IP], 3);
    cr_expect_eq(st.nodes[RW_KIND_DEVICE], 1);
    cr_expect_eq(st.nodes[RW_KIND_PAYMENT], 1);
    cr_expect_eq(st.nodes[RW_KIND_SUBNET], 2);
    cr_expect_eq(st.edges, 7);
    cr_expect_eq(st.events, 5);
    cr_expect_eq(st.max_degree[RW_KIND_IP], 2);
}

Test(engine, second_ingest_extends_existing_nodes) {
    rw_ingest_stats s;
    bad_log bl = {0};
    rw_err err;
    cr_assert_eq(ingest_text(world, 0, &s, &bl, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(ingest_text("{\"account\":\"a9\",\"ts\":3000,\"device\":\"dev-1\"}\n", 0, &s, &bl, &err), RW_OK);
    cr_expect_eq(s.new_accounts, 1);
    cr_expect_eq(s.new_attributes, 0);
    rw_engine_stats st;
    stats_of(&st);
    cr_expect_eq(st.max_degree[RW_KIND_DEVICE], 3);
    cr_expect_eq(st.events, 6);
}

Test(engine, bad_lines_reported_and_skipped) {
    const char text[] = "{\"account\":\"a1\",\"ts\":1000,\"ip\":\"203.0.113.7\"}\n"
                        "{\"account\":\"a2\",\"ts\":\n"
                        "{\"account\":\"a3\",\"ts\":1000,\"ip\":\"999.1.1.1\"}\n"
                        "\n"
                        "{\"account\":\"a4\",\"ts\":1000}\n";
    rw_ingest_stats s;
    bad_log bl = {0};
    rw_err err;
    cr_assert_eq(ingest_text(text, 0, &s, &bl, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(s.events, 2);
    cr_expect_eq(s.bad_lines, 2);
    cr_assert_eq(bl.n, 2);
    cr_expect(strncmp(bl.msgs[0], "in.jsonl:2: ", 12) == 0, "%s", bl.msgs[0]);
    cr_expect(strncmp(bl.msgs[1], "in.jsonl:3: ip: ", 16) == 0, "%s", bl.msgs[1]);
}

Test(engine, strict_keeps_nothing) {
    const char text[] = "{\"account\":\"a1\",\"ts\":1000}\n{\"account\":\"a2\",\"ts\":\"yesterday\"}\n";
    rw_ingest_stats s;
    bad_log bl = {0};
    rw_err err;
    cr_expect_eq(ingest_text(text, 1, &s, &bl, &err), RW_ERR_INVALID);
    cr_expect(strstr(err.msg, "in.jsonl:2: ts:") != NULL, "%s", err.msg);
    rw_engine_stats st;
    stats_of(&st);
    cr_expect_eq(st.events, 0);
    cr_expect_eq(st.nodes[RW_KIND_ACCOUNT], 0);
}

Test(engine, database_holds_no_raw_identifiers) {
    rw_ingest_stats s;
    bad_log bl = {0};
    rw_err err;
    cr_assert_eq(ingest_text(world, 0, &s, &bl, &err), RW_OK, "%s", err.msg);
    const char *raw[] = {"203.0.113.7", "198.51.100.1", "dev-1", "tok_1", "203.0.113.0"};
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t f = 0; f < 3; f++) {
        char p[600];
        snprintf(p, sizeof p, "%s%s", tu_db(), suffix[f]);
        size_t len = 0;
        char *data = tu_read_file(p, &len);
        if (!data) continue;
        for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
            cr_expect(!tu_contains(data, len, raw[i], strlen(raw[i])), "%s found in %s", raw[i], p);
        cr_expect(tu_contains(data, len, "a1", 2) || f > 0, "account ids are the caller's own and stored");
        free(data);
    }
}

Test(engine, key_file_created_private) {
    rw_ingest_stats s;
    bad_log bl = {0};
    rw_err err;
    cr_assert_eq(ingest_text(world, 0, &s, &bl, &err), RW_OK, "%s", err.msg);
    char *out = NULL;
    tu_run(&out, "stat -c '%%a %%s' '%s.key'", tu_db());
    cr_expect_str_eq(out, "600 32\n");
    free(out);
}
