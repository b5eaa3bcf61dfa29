/* End to end through `ringwatch serve`, against clients that do not play
 * fair: slow and idle connections from many addresses, analysts' heavy
 * pictures and exports beside signups, ambiguous framing, HEAD, what a
 * debug log may hold, and a config file others can read. Raw sockets from
 * chosen loopback addresses (127.0.0.2 and up), every hold bounded. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define SIGNUP  "trust-signup-token-0123456789"
#define ANALYST "trust-analyst-token-0123456789"
#define ADMIN   "trust-admin-token-0123456789"

static char *dir;
static tu_server srv;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A world of n accounts (rescored when rescore) in a fresh dir, and a
 * 0600 config with the tokens and extra lines. */
static void world(int n, int rescore, const char *extra) {
    dir = tu_tmpdir();
    cr_assert(dir);
    char *out = NULL;
    int rc = tu_run(&out,
                    "cd '%s' && '%s' simulate --accounts %d --seed 5 --out ev.jsonl --truth t.csv && '%s' ingest "
                    "--quiet ev.jsonl %s%s%s",
                    dir, tu_bin(), n, tu_bin(), rescore ? "&& '" : "", rescore ? tu_bin() : "",
                    rescore ? "' rescore --quiet" : "");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    char path[512], text[2048];
    snprintf(path, sizeof path, "%s/rw.ini", dir);
    snprintf(text, sizeof text,
             "listen = 127.0.0.1:0\ntoken_signup = " SIGNUP "\ntoken_analyst = " ANALYST "\ntoken_admin = " ADMIN
             "\n%s",
             extra ? extra : "");
    cr_assert_eq(tu_write_file(path, text, strlen(text)), 0);
    cr_assert_eq(chmod(path, 0600), 0);
}

static void serve(void) {
    if (tu_serve_start(&srv, dir, "--config rw.ini --db ringwatch.db") != 0) {
        char *log = tu_read_file(srv.log, NULL);
        cr_assert_fail("server did not start:\n%s", log ? log : "(no log)");
    }
}

static void teardown(void) {
    if (srv.pid) tu_serve_stop(&srv, SIGKILL);
    if (dir) tu_rmtree(dir);
    free(dir);
    dir = NULL;
}

TestSuite(trust, .fini = teardown, .timeout = 180);

/* ---- raw sockets ------------------------------------------------------------ */

/* A blocking TCP connection from source address from (NULL: any) to the
 * server; -1 on failure. */
static int dial(const char *from) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (from) {
        inet_pton(AF_INET, from, &a.sin_addr);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            close(fd);
            return -1;
        }
    }
    a.sin_port = htons((uint16_t)srv.port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads one answer of a keep-alive connection (headers and a
 * Content-Length body); its status, or -1. */
static int read_answer(int fd, char *buf, size_t size, double timeout) {
    size_t n = 0;
    double end = now() + timeout;
    for (;;) {
        char *eoh = strstr(buf, "\r\n\r\n");
        if (n && eoh) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            size_t want = (size_t)(eoh + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
            if (n >= want) return atoi(buf + 9);
        }
        int left = (int)((end - now()) * 1000);
        struct pollfd p = {fd, POLLIN, 0};
        if (n + 1 >= size || left <= 0 || poll(&p, 1, left) <= 0) return -1;
        ssize_t got = recv(fd, buf + n, size - 1 - n, 0);
        if (got <= 0) return -1;
        n += (size_t)got;
        buf[n] = 0;
    }
}

/* One signup on fd (keep-alive); its status or -1. */
static int signup(int fd, int i) {
    char body[256], req[1024], buf[4096] = "";
    int bl = snprintf(body, sizeof body,
                      "{\"account\":\"trust-%d\",\"ts\":%d,\"ip\":\"198.51.%d.%d\",\"device\":\"td-%d\","
                      "\"payment\":\"tp-%d\"}",
                      i, 1790000000 + i, 100 + i % 50, i % 250 + 1, i, i % 977);
    int rl = snprintf(req, sizeof req,
                      "POST /v1/signups HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " SIGNUP
                      "\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                      bl, body);
    if (send(fd, req, (size_t)rl, MSG_NOSIGNAL) != rl) return -1;
    return read_answer(fd, buf, sizeof buf, 2.0);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p) {
    qsort(v, n, sizeof *v, cmp_double);
    return n ? v[(size_t)(p * (double)(n - 1))] : 0;
}

/* The value of a metric line "name{labels} value" in /metrics (0 if absent). */
static double metric(const char *name) {
    tu_resp r;
    cr_assert_eq(tu_http(&r, &srv, "GET", "/metrics", ADMIN, NULL, NULL, 0), 0);
    const char *at = r.body;
    double v = 0;
    while ((at = strstr(at, name))) {
        if (at == r.body || at[-1] == '\n') {
            v = strtod(strchr(at, ' ') + 1, NULL);
            break;
        }
        at++;
    }
    tu_resp_free(&r);
    return v;
}

/* ---- slow and idle clients -------------------------------------------------- */

#define SLOW_ADDRS 5    /* 127.0.0.2-6 */
#define SLOW_CONNS 1100 /* never-finished requests, one header line a second */
#define IDLE_ADDRS 6    /* 127.0.0.7-12 */
#define IDLE_CONNS 1500 /* connected, silent */
#define TIMEOUT    "3"  /* request_timeout_seconds for the test (10 by default) */
#define HOLD       9.0  /* seconds: three times TIMEOUT */

typedef struct {
    int *fd;
    size_t n;
    volatile int stop;
} trickle;

static void *trickle_on(void *arg) {
    trickle *t = arg;
    while (!t->stop) {
        for (int i = 0; i < 10 && !t->stop; i++) usleep(100 * 1000);
        for (size_t i = 0; i < t->n; i++)
            if (t->fd[i] >= 0) send(t->fd[i], "X-Slow: 1\r\n", 11, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    return NULL;
}

/* Opens n connections spread over naddr addresses from 127.0.0.first;
 * each sends hello (may be NULL). */
static int *open_many(size_t n, int first, int naddr, const char *hello) {
    int *fd = malloc(n * sizeof *fd);
    cr_assert(fd);
    for (size_t i = 0; i < n; i++) {
        char from[32];
        snprintf(from, sizeof from, "127.0.0.%d", first + (int)(i % (size_t)naddr));
        fd[i] = dial(from);
        if (fd[i] >= 0 && hello) send(fd[i], hello, strlen(hello), MSG_NOSIGNAL);
    }
    return fd;
}

static void close_many(int *fd, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (fd[i] >= 0) close(fd[i]);
    free(fd);
}

Test(trust, slow_and_idle_clients_leave_room_for_signups) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    cr_assert_geq(rl.rlim_cur, (rlim_t)(SLOW_CONNS + IDLE_CONNS + 200), "ulimit -Hn is too low for this test");
    world(2000, 0, "threads = 2\nrequest_timeout_seconds = " TIMEOUT "\n");
    serve();
    trickle t = {.n = SLOW_CONNS};
    t.fd = open_many(SLOW_CONNS, 2, SLOW_ADDRS, "POST /v1/signups HTTP/1.1\r\nHost: t\r\n");
    int *idle = open_many(IDLE_CONNS, 2 + SLOW_ADDRS, IDLE_ADDRS, NULL);
    pthread_t th;
    pthread_create(&th, NULL, trickle_on, &t);
    /* Signups from 127.0.0.1, a new connection each, through the hold. */
    double lat[4096], t0 = now();
    size_t n = 0, lost = 0;
    while (now() - t0 < HOLD && n < 4096) {
        double a = now();
        int fd = dial("127.0.0.1");
        int st = fd >= 0 ? signup(fd, (int)n) : -1;
        if (fd >= 0) close(fd);
        lat[n++] = now() - a;
        if (st != 200) lost++;
        usleep(40 * 1000);
    }
    tu_resp live;
    int live_ok = tu_http(&live, &srv, "GET", "/livez", NULL, NULL, NULL, 0) == 0 && live.status == 200;
    if (live_ok) tu_resp_free(&live);
    double refused = metric("ringwatch_http_connections_refused_total{limit=\"per_ip\"}");
    double timeouts = metric("ringwatch_http_request_timeouts_total");
    t.stop = 1;
    pthread_join(th, NULL);
    close_many(t.fd, SLOW_CONNS);
    close_many(idle, IDLE_CONNS);
    double p50 = pct(lat, n, 0.5), p99 = pct(lat, n, 0.99);
    fprintf(stderr,
            "slow clients: %zu signups from 127.0.0.1 over %.0f s beside %d slow and %d idle connections: %zu "
            "unanswered, p50 %.2f ms, p99 %.2f ms; refused per address %.0f, request timeouts %.0f\n",
            n, HOLD, SLOW_CONNS, IDLE_CONNS, lost, p50 * 1e3, p99 * 1e3, refused, timeouts);
    cr_expect_eq(lost, 0, "%zu of %zu signups unanswered", lost, n);
    cr_expect_leq(p99, 0.100, "p99 %.1f ms", p99 * 1e3);
    cr_expect(live_ok, "/livez unanswered");
    cr_expect_gt(refused, 0, "refused connections are counted");
    cr_expect_gt(timeouts, 0, "connections past request_timeout_seconds are closed and counted");
}

Test(trust, trusted_clients_get_in_beyond_the_limits) {
    world(500, 0,
          "threads = 2\nconnection_limit = 16\nper_ip_connection_limit = 8\ntrusted_clients = 127.0.0.1/32, "
          "10.0.0.0/8\n");
    serve();
    int *crowd = open_many(10, 2, 1, NULL); /* 127.0.0.2: over per_ip_connection_limit */
    int *idle = open_many(30, 3, 3, NULL);  /* 127.0.0.3-5: over connection_limit */
    usleep(300 * 1000);
    int fd = dial("127.0.0.1");
    cr_assert_geq(fd, 0);
    cr_expect_eq(signup(fd, 1), 200, "a trusted client is served when the limits are reached");
    close(fd);
    /* An untrusted newcomer is turned away at accept: closed, no answer. */
    fd = dial("127.0.0.20");
    cr_assert_geq(fd, 0);
    cr_expect_neq(signup(fd, 2), 200, "an untrusted client beyond connection_limit is refused");
    close(fd);
    cr_expect_gt(metric("ringwatch_http_connections_refused_total{limit=\"per_ip\"}"), 0);
    cr_expect_gt(metric("ringwatch_http_connections_refused_total{limit=\"total\"}"), 0);
    close_many(crowd, 10);
    close_many(idle, 30);
}

/* ---- analysts beside signups -------------------------------------------------- */

#define ANALYSTS 4
/* Signups' p99 beside the analysts. Under the sanitizers every request
 * costs two to three times the CPU on the same two cores, so the bound is
 * looser there; the release bound is the goal. */
#ifdef __SANITIZE_ADDRESS__
#define SIGNUP_P99 0.030
#else
#define SIGNUP_P99 0.010
#endif

typedef struct {
    uint32_t cluster;
    volatile int stop;
    int done, ok;
    double busy; /* seconds spent waiting for answers */
} analyst;

static void *analyse(void *arg) {
    analyst *a = arg;
    static const char *const what[] = {"graph.svg", "timeline.svg", "export?format=graphml", "export?format=json"};
    char path[128];
    for (int i = 0; !a->stop; i++) {
        snprintf(path, sizeof path, "/v1/clusters/%u/%s", a->cluster, what[i % 4]);
        tu_resp r;
        double t0 = now();
        if (tu_http(&r, &srv, "GET", path, ANALYST, NULL, NULL, 0) == 0) {
            a->ok += r.status == 200;
            tu_resp_free(&r);
        }
        a->busy += now() - t0;
        a->done++;
    }
    return NULL;
}

/* Signups on one keep-alive connection for seconds; latencies into lat. */
static size_t signups_for(double seconds, double *lat, size_t max, int first, size_t *lost) {
    int fd = dial("127.0.0.1");
    cr_assert_geq(fd, 0);
    size_t n = 0;
    double t0 = now();
    while (now() - t0 < seconds && n < max) {
        double a = now();
        int st = signup(fd, first + (int)n);
        lat[n++] = now() - a;
        if (st != 200) {
            (*lost)++;
            close(fd);
            fd = dial("127.0.0.1");
        }
        usleep(2000);
    }
    close(fd);
    return n;
}

/* The cluster of the newest run with the most accounts. */
static uint32_t largest_cluster(size_t *accounts) {
    char path[512];
    snprintf(path, sizeof path, "%s/ringwatch.db", dir);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT cluster, count(*) FROM run_accounts WHERE cluster > 0 AND run = (SELECT "
                                    "max(run) FROM run_accounts) GROUP BY cluster ORDER BY 2 DESC LIMIT 1",
                                    -1, &q, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    uint32_t id = (uint32_t)sqlite3_column_int64(q, 0);
    *accounts = (size_t)sqlite3_column_int64(q, 1);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return id;
}

Test(trust, analysts_pictures_do_not_slow_signups, .timeout = 240) {
    /* fsync off: the disk is shared with other work on test machines; what
     * is measured is the CPU the analysts' requests take from signups. */
    world(50000, 1, "threads = 2\nfsync = off\n");
    size_t accounts = 0;
    uint32_t cluster = largest_cluster(&accounts);
    serve();
    static double alone[200000], beside[200000];
    size_t lost = 0;
    size_t n0 = signups_for(4.0, alone, 200000, 0, &lost);
    analyst a[ANALYSTS] = {0};
    pthread_t th[ANALYSTS];
    for (int i = 0; i < ANALYSTS; i++) {
        a[i].cluster = cluster;
        pthread_create(&th[i], NULL, analyse, &a[i]);
    }
    size_t n1 = signups_for(10.0, beside, 200000, 1000000, &lost);
    int done = 0, ok = 0;
    double busy = 0;
    for (int i = 0; i < ANALYSTS; i++) {
        a[i].stop = 1;
        pthread_join(th[i], NULL);
        done += a[i].done, ok += a[i].ok, busy += a[i].busy;
    }
    double p50a = pct(alone, n0, 0.5), p99a = pct(alone, n0, 0.99);
    double p50b = pct(beside, n1, 0.5), p99b = pct(beside, n1, 0.99), maxb = pct(beside, n1, 1.0);
    fprintf(stderr,
            "analysts: cluster %u (%zu accounts) of a 50,000-account world; %d analysts' requests (%d answered 200), "
            "%.0f ms each on average\nsignups alone: %zu, p50 %.2f ms, p99 %.2f ms\nsignups beside %d analysts: %zu, "
            "p50 %.2f ms, p99 %.2f ms, max %.2f ms; %zu unanswered\n",
            cluster, accounts, done, ok, done ? busy / done * 1e3 : 0, n0, p50a * 1e3, p99a * 1e3, ANALYSTS, n1,
            p50b * 1e3, p99b * 1e3, maxb * 1e3, lost);
    cr_expect_eq(lost, 0);
    cr_expect_gt(ok, ANALYSTS, "the analysts' requests were answered");
    /* The bound is the goal's (10 ms) on a quiet machine; on one so busy
     * that signups alone already reach a p99 near it, what is tested is that
     * analysts add little to it. */
    double bound = p99a * 1.5 > SIGNUP_P99 ? p99a * 1.5 : SIGNUP_P99;
    cr_expect_leq(p99b, bound, "signups' p99 beside analysts: %.2f ms (alone %.2f ms)", p99b * 1e3, p99a * 1e3);
}

/* ---- strict framing and HEAD ----------------------------------------------------- */

/* Sends raw on a new connection and reads until the server closes it (or
 * 3 s pass); 1 when it closed. */
static int exchange(const char *raw, char *out, size_t size) {
    int fd = dial(NULL);
    cr_assert_geq(fd, 0);
    send(fd, raw, strlen(raw), MSG_NOSIGNAL);
    size_t n = 0;
    int closed = 0;
    double end = now() + 3.0;
    while (n + 1 < size) {
        struct pollfd p = {fd, POLLIN, 0};
        int left = (int)((end - now()) * 1000);
        if (left <= 0 || poll(&p, 1, left) <= 0) break;
        ssize_t got = recv(fd, out + n, size - 1 - n, 0);
        if (got <= 0) {
            closed = 1;
            break;
        }
        n += (size_t)got;
    }
    out[n] = 0;
    close(fd);
    return closed;
}

Test(trust, ambiguous_framing_is_refused_and_closed) {
    world(500, 0, NULL);
    serve();
    static const char *const bad[] = {
        "POST /v1/signups HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhelloxxGET /livez "
        "HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /v1/signups HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET "
        "/livez HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /v1/signups HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nGET /livez HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /livez HTTP/1.1\r\n\r\nGET /livez HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /livez HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\nGET /livez HTTP/1.1\r\nHost: t\r\n\r\n",
    };
    static char out[65536];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int closed = exchange(bad[i], out, sizeof out);
        cr_expect(!strncmp(out, "HTTP/1.1 400", 12), "case %zu: %.200s", i, out);
        cr_expect(strcasestr(out, "Content-Type: application/problem+json"), "case %zu: %.300s", i, out);
        cr_expect(strcasestr(out, "X-Content-Type-Options: nosniff"), "case %zu", i);
        cr_expect(strstr(out, "urn:ringwatch:problem:bad-request"), "case %zu: %.300s", i, out);
        cr_expect(closed, "case %zu: the connection stays open", i);
        cr_expect(!strstr(out + 12, "HTTP/1.1 200"), "case %zu: the pipelined request was answered: %.600s", i, out);
    }
    /* The well-framed control is answered and kept alive. */
    exchange("GET /livez HTTP/1.1\r\nHost: t\r\n\r\n", out, sizeof out);
    cr_expect(!strncmp(out, "HTTP/1.1 200", 12), "%.200s", out);
}

/* The value of header name in a raw answer into v ("" if absent). */
static void header(const char *ans, const char *name, char *v, size_t size) {
    v[0] = 0;
    char key[64];
    snprintf(key, sizeof key, "\r\n%s:", name);
    const char *at = strcasestr(ans, key);
    if (!at) return;
    at += strlen(key);
    while (*at == ' ') at++;
    size_t n = strcspn(at, "\r\n");
    snprintf(v, size, "%.*s", (int)(n < size ? n : size - 1), at);
}

Test(trust, head_answers_every_get_route_without_a_body) {
    world(2000, 1, NULL);
    serve();
    size_t accounts;
    uint32_t cl = largest_cluster(&accounts);
    char paths[16][128];
    const char *fmt[] = {"/v1/accounts/acct-1",
                         "/v1/attributes/ip/192.0.2.1",
                         "/v1/clusters",
                         "/v1/clusters/%u",
                         "/v1/clusters/%u/export?format=json",
                         "/v1/clusters/%u/graph.svg",
                         "/v1/clusters/%u/timeline.svg",
                         "/v1/jobs/1",
                         "/v1/openapi.json",
                         "/livez",
                         "/readyz",
                         "/metrics",
                         "/",
                         "/assets/app.js",
                         "/assets/app.css"};
    size_t n = sizeof fmt / sizeof fmt[0];
    static char get[1 << 20], head[65536];
    for (size_t i = 0; i < n; i++) {
        snprintf(paths[i], sizeof paths[i], fmt[i], cl);
        char req[512];
        snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " ADMIN "\r\nConnection: close\r\n\r\n",
                 paths[i]);
        exchange(req, get, sizeof get);
        memcpy(req, "HEAD", 4), memmove(req + 4, req + 3, strlen(req + 3) + 1), memcpy(req, "HEAD ", 5);
        exchange(req, head, sizeof head);
        cr_expect(!strncmp(get, head, 12), "%s: GET %.12s, HEAD %.12s", paths[i], get, head);
        static const char *const same[] = {"Content-Type", "Content-Length", "Content-Disposition",
                                           "X-Content-Type-Options", "Cache-Control"};
        for (size_t h = 0; h < sizeof same / sizeof same[0]; h++) {
            char g[256], hv[256];
            header(get, same[h], g, sizeof g);
            header(head, same[h], hv, sizeof hv);
            if (!strcmp(same[h], "Content-Length") && !strcmp(paths[i], "/metrics")) continue; /* counts moved */
            cr_expect_str_eq(hv, g, "%s: %s", paths[i], same[h]);
        }
        const char *body = strstr(head, "\r\n\r\n");
        cr_expect(body && !body[4], "%s: HEAD sent a body: %.200s", paths[i], body ? body + 4 : head);
    }
}

/* ---- what a debug log holds --------------------------------------------------------- */

/* Every request asks the server to close after answering, so exchange()
 * reads to the end without waiting out its 3 s. */
#define CLOSE "Connection: close\r\n"

Test(trust, debug_log_holds_no_raw_values) {
    world(500, 1, "log_level = debug\nconnection_memory_bytes = 8192\n");
    serve();
    static const char *const raw[] = {
        "GET /v1/accounts/rawacct-5531 HTTP/1.1\r\nHost: t\r\n" CLOSE "Authorization: Bearer " ANALYST "\r\n\r\n",
        "GET /v1/attributes/ip/203.0.113.77 HTTP/1.1\r\nHost: t\r\n" CLOSE "Authorization: Bearer " ANALYST "\r\n\r\n",
        "GET /v1/clusters?min_score=0.4242&page_token=rawtoken9931 HTTP/1.1\r\nHost: t\r\n" CLOSE "Authorization: "
        "Bearer " ANALYST "\r\n\r\n",
        "GET /v1/accounts/rawacct-7702 HTTP/1.1\r\nHost: t\r\n" CLOSE "Content-Length: zz\r\n\r\n",
        "GET /v1/attributes/device/rawdev-3318 HTTP/1.7\r\nHost: t\r\n" CLOSE "\r\n",
        "GET /v1/attributes/ip/203.0.113.78 HTTP/2.0\r\nHost: t\r\n" CLOSE "\r\n",
        "GET /v1/accounts/rawacct-8814%zz HTTP/1.1\r\nHost: t\r\n" CLOSE "\r\n",
        "POST /v1/signups HTTP/1.1\r\nHost: t\r\n" CLOSE "Authorization: Bearer " SIGNUP
        "\r\nContent-Type: application/json\r\n"
        "Content-Length: "
        "95\r\n\r\n{\"account\":\"rawacct-4410\",\"ts\":1790000000,\"ip\":\"198.51.100.213\",\"device\":\"rawdev-"
        "6651\"}   ",
    };
    static char out[65536];
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) exchange(raw[i], out, sizeof out);
    /* a request line too long for the connection's memory */
    char big[12000];
    int n = snprintf(big, sizeof big, "GET /v1/accounts/rawacct-9120");
    memset(big + n, 'q', sizeof big - (size_t)n - 40);
    snprintf(big + sizeof big - 40, 40, " HTTP/1.1\r\nHost: t\r\n\r\n");
    exchange(big, out, sizeof out);
    cr_assert_eq(tu_serve_stop(&srv, SIGTERM), 0);
    size_t len = 0;
    char *log = tu_read_file(srv.log, &len);
    cr_assert(log);
    static const char *const secret[] = {"rawacct",  "203.0.113",      "rawdev",  "0.4242",
                                         "rawtoken", "198.51.100.213", "qqqqqqqq"};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        cr_expect(!tu_contains(log, len, secret[i], strlen(secret[i])), "the log holds %s:\n%s", secret[i], log);
    cr_expect(tu_contains(log, len, "libmicrohttpd:", 14), "MHD's messages are forwarded (redacted):\n%s", log);
    free(log);
}

/* ---- the config file's mode ------------------------------------------------------------ */

Test(trust, config_with_tokens_readable_by_others_is_refused) {
    world(100, 0, NULL);
    char path[512], *out = NULL;
    snprintf(path, sizeof path, "%s/rw.ini", dir);
    static const unsigned modes[] = {0640, 0604, 0644};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        cr_assert_eq(chmod(path, modes[i]), 0);
        int rc = tu_run(&out, "cd '%s' && timeout 20 '%s' serve --config rw.ini --db ringwatch.db", dir, tu_bin());
        cr_expect_neq(rc, 0, "mode %o: started", modes[i]);
        cr_expect(strstr(out, "rw.ini") && strstr(out, "chmod 600") && strstr(out, "readable"), "mode %o: %s", modes[i],
                  out);
        free(out);
    }
    /* Without tokens the mode does not matter. */
    const char *plain = "listen = 127.0.0.1:0\nauth = off\n";
    cr_assert_eq(tu_write_file(path, plain, strlen(plain)), 0);
    cr_assert_eq(chmod(path, 0644), 0);
    serve();
    cr_expect_eq(tu_serve_stop(&srv, SIGTERM), 0);
}
