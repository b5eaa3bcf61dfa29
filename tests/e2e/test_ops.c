/* End to end for operators: /metrics read by the Prometheus client
 * library's own parser (Debian's python3-prometheus-client) with the
 * conventional series, `ringwatch --version`, and the alert rules and
 * systemd unit of deploy/ checked by promtool and systemd-analyze when
 * those are installed (scripts/install-deps ops). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tu_run.h"
#include "tu_serve.h"

#define PY      "/usr/bin/python3"
#define SIGNUP  "signup-token-0123456789"
#define METRICS "metrics-token-0123456789"

static tu_server srv;

static void serve_world(void) {
    tu_serve_init();
    tu_world(3000, 5);
    tu_write_in("rw.ini", "[server]\nlisten = 127.0.0.1:0\ntoken_signup = " SIGNUP "\ntoken_metrics = " METRICS "\n");
    tu_serve_up(&srv, "--config rw.ini --db ringwatch.db");
}

static void stop_world(void) {
    tu_serve_fini(&srv);
}

TestSuite(ops, .init = serve_world, .fini = stop_world, .timeout = 120);

Test(ops, metrics_parse_with_the_conventional_series) {
    /* Two signups, one login, one payment: counted by their own type. */
    static const char batch[] =
        "{\"type\":\"signup\",\"account\":\"ops-a\",\"ts\":1789163600,\"ip\":\"10.9.0.1\"}\n"
        "{\"type\":\"signup\",\"account\":\"ops-b\",\"ts\":1789163601,\"ip\":\"10.9.0.2\"}\n"
        "{\"type\":\"login\",\"account\":\"ops-a\",\"ts\":1789163602,\"ip\":\"10.9.0.1\"}\n"
        "{\"type\":\"payment\",\"account\":\"ops-b\",\"ts\":1789163603,\"payment\":\"tok-ops\"}\n";
    tu_resp r;
    cr_assert_eq(tu_http(&r, &srv, "POST", "/v1/events", SIGNUP, "application/x-ndjson", batch, strlen(batch)), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect(strstr(r.body, "\"accepted\":4"), "%s", r.body);
    tu_resp_free(&r);
    cr_assert_eq(tu_http(&r, &srv, "GET", "/metrics", METRICS, NULL, NULL, 0), 0);
    cr_assert_eq(r.status, 200);
    tu_write_in("metrics.txt", r.body);
    tu_resp_free(&r);
    char *out = NULL;
    int rc = tu_run(&out, PY " '%s/tests/e2e/py/check_metrics.py' '%s/metrics.txt' 2 1 1", tu_src(), tu_dir());
    cr_expect_eq(rc, 0, "%s", out);
    free(out);
    /* The Grafana dashboard queries only series served here; promtool,
     * when installed, parses every query. */
    rc = tu_run(&out,
                PY " '%s/tests/e2e/py/check_dashboard.py' '%s/deploy/grafana/ringwatch-dashboard.json' "
                   "'%s/metrics.txt' '%s/dashboard-rules.yml'",
                tu_src(), tu_src(), tu_dir(), tu_dir());
    cr_expect_eq(rc, 0, "%s", out);
    free(out);
    if (tu_run(&out, "command -v promtool") == 0) {
        free(out);
        rc = tu_run(&out, "promtool check rules '%s/dashboard-rules.yml'", tu_dir());
        cr_expect_eq(rc, 0, "the dashboard's queries: %s", out);
    }
    free(out);
}

Test(ops, version_names_build_and_libraries) {
    char *out = NULL;
    int rc = tu_rw(&out, "--version");
    cr_assert_eq(rc, 0, "%s", out);
    static const char *const want[] = {"ringwatch ",    "(commit ", "igraph",    "SQLite",
                                       "libmicrohttpd", "OpenBLAS", "libsodium", "jansson"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(out, want[i]), "no %s in\n%s", want[i], out);
    free(out);
}

/* promtool and systemd-analyze come with scripts/install-deps ops
 * (prometheus is about 100 MB installed, so not in the test list): without
 * them the check is skipped, saying so. */
Test(ops, alert_rules_and_unit_pass_their_tools) {
    char *out = NULL;
    int rc = tu_run(&out, "command -v promtool");
    free(out);
    if (rc != 0) {
        /* Said on stderr: Criterion 2.4 ends a run with a logged warning non-zero. */
        fprintf(stderr, "ops: promtool missing (scripts/install-deps ops): alert rules not checked\n");
    } else {
        rc = tu_run(&out, "promtool check rules '%s/deploy/prometheus/ringwatch-alerts.yml'", tu_src());
        cr_expect_eq(rc, 0, "%s", out);
        free(out);
        rc = tu_run(&out, "promtool test rules '%s/deploy/prometheus/ringwatch-alerts.test.yml'", tu_src());
        cr_expect_eq(rc, 0, "%s", out);
        free(out);
    }
    rc = tu_run(&out, "command -v systemd-analyze");
    free(out);
    if (rc != 0) {
        fprintf(stderr, "ops: systemd-analyze missing: the unit not checked\n");
        return;
    }
    /* verify wants the ExecStart binary to exist: a stand-in at the path. */
    rc = tu_run(&out,
                "cd '%s' && mkdir -p unit && sed 's#/usr/local/bin/ringwatch#%s/unit/ringwatch#g' "
                "'%s/deploy/systemd/ringwatch.service' > unit/ringwatch.service && cp \"$RW_BIN\" unit/ringwatch && "
                "systemd-analyze verify --man=no unit/ringwatch.service 2>&1",
                tu_dir(), tu_dir(), tu_src());
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(!out || !strstr(out, "ringwatch.service:"), "warnings about the unit:\n%s", out);
    free(out);
}

/* A loopback port free a moment ago. */
static unsigned free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* `make run LISTEN=...`'s script on its own (the build aside): it serves on
 * the address asked, and the lines it prints, pasted into a new shell in
 * the same folder, answer 200 with the demo's tokens, metrics included. */
Test(ops, demo_serves_on_listen_and_its_examples_work_when_pasted) {
    unsigned port = free_port();
    char *out = NULL;
    int rc =
        tu_run(&out,
               "cd '%s' && mkdir demo-run && cd demo-run && "
               "(\"$RW_SRC/scripts/run-demo\" \"$RW_BIN\" rw.db 2000 127.0.0.1:%u > run.log 2>&1 & echo $! > pid) && "
               "for i in $(seq 1 600); do grep -q 'listening on 127.0.0.1:%u' run.log && break; sleep 0.1; done; "
               "grep -q 'listening on 127.0.0.1:%u' run.log || { cat run.log; exit 1; }; "
               "sed -n '/^   set -a/,$p' run.log | grep '^   ' | sed 's/^   //' > pasted.sh && "
               "env -i PATH=\"$PATH\" sh -c '. ./pasted.sh' > answers.txt 2>&1; rc=$?; "
               "kill $(cat pid); cat pasted.sh answers.txt; exit $rc",
               tu_dir(), port, port, port);
    cr_assert_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "\"decision\":"), "the signup example: %s", out);
    cr_expect(strstr(out, "\"clusters\":"), "the clusters example: %s", out);
    cr_expect(strstr(out, "ringwatch_run_flagged_clusters"), "the metrics example: %s", out);
    cr_expect(!strstr(out, "401") && !strstr(out, "unauthorized"), "%s", out);
    free(out);
}
