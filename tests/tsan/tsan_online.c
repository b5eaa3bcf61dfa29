/* Concurrency under ThreadSanitizer (Criterion cannot start under TSan, so a
 * plain program): a graph snapshot large enough to copy its nodes on a
 * thread of its own beside the edges; threads recording signups (blocking and async), lookups and
 * rescorings through the engine API at once; then the real server (the TSan
 * build of ringwatch) over loopback with concurrent signups, lookups and a
 * rescoring job, stopped with SIGTERM. Any TSan report fails the run: TSan
 * sets exit code 66 in this process, and the server's log is searched. */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "engine.h"
#include "graph.h"
#include "engine_int.h"
#include "testutil.h"

#define WRITERS 6
#define EACH    200
#define READERS 2
#define T0      1790000000LL

static int failures;

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "tsan_online: FAIL %s:%d: ", __FILE__, __LINE__);                                          \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);                                                        \
        }                                                                                                              \
    } while (0)

/* ---- 1. the engine API -------------------------------------------------- */

typedef struct {
    rw_engine *e;
    int t;
    int stop;
    int async_done;
} worker;

static void on_settled(void *ctx, rw_status st, const rw_err *err) {
    worker *w = ctx;
    CHECK(st == RW_OK, "async signup: %s", err ? err->msg : "");
    __atomic_add_fetch(&w->async_done, 1, __ATOMIC_RELEASE);
}

/* Rings of six sharing a device and a card, so a rescoring finds clusters. */
static void event_line(char *line, size_t size, int t, int i) {
    snprintf(
        line, size,
        "{\"account\":\"w%d-%03d\",\"ts\":%lld,\"type\":\"signup\",\"ip\":\"10.%d.%d.%d\",\"device\":\"dev-%d-%d\","
        "\"payment\":\"card-%d-%d\"}",
        t, i, T0 + t * 1000 + i * 7, t, i / 200, i % 200 + 1, t, i / 6, t, i / 6);
}

static void *writer(void *p) {
    worker *w = p;
    for (int i = 0; i < EACH; i++) {
        char line[320];
        event_line(line, sizeof line, w->t, i);
        rw_event_raw ev;
        rw_decision d;
        rw_err err = {{0}};
        rw_status st = rw_event_parse(&ev, line, strlen(line), &err);
        if (st == RW_OK && i % 2)
            st = rw_engine_record_async(w->e, &ev, 1, &d, on_settled, w, &err);
        else if (st == RW_OK)
            st = rw_engine_record(w->e, &ev, 1, &d, 1, &err);
        CHECK(st == RW_OK, "%s: %s", line, err.msg);
    }
    return NULL;
}

static void *reader(void *p) {
    worker *w = p;
    rw_account_view *v = malloc(sizeof *v);
    rw_attr_view *a = malloc(sizeof *a);
    for (int i = 0; !__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE); i++) {
        char id[32];
        int n = snprintf(id, sizeof id, "w%d-%03d", i % WRITERS, (i / WRITERS) % EACH);
        rw_err err = {{0}};
        rw_status st = rw_engine_account_view(w->e, id, (size_t)n, v, &err);
        CHECK(st == RW_OK || st == RW_ERR_NOTFOUND, "view %s: %s", id, err.msg);
        n = snprintf(id, sizeof id, "dev-%d-%d", i % WRITERS, (i / WRITERS) % 50);
        st = rw_engine_attr_view(w->e, RW_KIND_DEVICE, id, (size_t)n, a, &err);
        CHECK(st == RW_OK || st == RW_ERR_NOTFOUND, "attr %s: %s", id, err.msg);
        rw_engine_counters k;
        rw_engine_get_counters(w->e, &k);
    }
    free(v);
    free(a);
    return NULL;
}

static void *rescorer(void *p) {
    worker *w = p;
    for (int r = 0; r < 2; r++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        rw_rescore_params rp = {0};
        rw_rescore_summary s;
        rw_err err = {{0}};
        rw_status st = rw_engine_rescore(w->e, &rp, &s, NULL, NULL, &err);
        CHECK(st == RW_OK, "rescore: %s", err.msg);
    }
    return NULL;
}

static void engine_part(const char *dir) {
    char db[600];
    snprintf(db, sizeof db, "%s/engine.db", dir);
    rw_engine *e = NULL;
    rw_err err = {{0}};
    rw_engine_config cfg = {.db_path = db};
    if (rw_engine_open(&e, &cfg, &err) != RW_OK) {
        CHECK(0, "open: %s", err.msg);
        return;
    }
    /* Runs in chunks of 8 rows: the rescorings hand the store to the group
     * commit hundreds of times while the writers record. */
    rw_engine_test_chunks(e, 8, NULL, NULL);
    /* And a checkpoint beside the group commit every few commits. */
    rw_engine_test_checkpoint_pages(e, 8);
    worker w[WRITERS], r = {.e = e}, sc = {.e = e};
    pthread_t tw[WRITERS], tr[READERS], ts;
    for (int t = 0; t < WRITERS; t++) {
        w[t] = (worker){.e = e, .t = t};
        pthread_create(&tw[t], NULL, writer, &w[t]);
    }
    for (int t = 0; t < READERS; t++) pthread_create(&tr[t], NULL, reader, &r);
    pthread_create(&ts, NULL, rescorer, &sc);
    for (int t = 0; t < WRITERS; t++) pthread_join(tw[t], NULL);
    pthread_join(ts, NULL);
    CHECK(rw_engine_flush(e, &err) == RW_OK, "flush: %s", err.msg);
    __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
    for (int t = 0; t < READERS; t++) pthread_join(tr[t], NULL);
    int async = 0;
    for (int t = 0; t < WRITERS; t++) async += __atomic_load_n(&w[t].async_done, __ATOMIC_ACQUIRE);
    CHECK(async == WRITERS * EACH / 2, "%d async signups settled of %d", async, WRITERS * EACH / 2);
    rw_engine_counters k;
    rw_engine_get_counters(e, &k);
    CHECK(k.events == WRITERS * EACH, "%llu events", (unsigned long long)k.events);
    CHECK(k.run == 2, "run %lld", (long long)k.run);
    CHECK(k.checkpoints > 0 && k.checkpoint_failures == 0, "%llu checkpoints, %llu failed",
          (unsigned long long)k.checkpoints, (unsigned long long)k.checkpoint_failures);
    rw_engine_close(e);
    printf(
        "tsan_online: engine: %d signups by %d threads (half async), %d readers, 2 rescorings written in chunks of 8 "
        "rows, %llu checkpoints beside the commits: %s\n",
        WRITERS * EACH, WRITERS, READERS, (unsigned long long)k.checkpoints, failures ? "FAILED" : "ok");
}

/* ---- 2. the server over loopback ------------------------------------------ */

#define SIGNUP "tsan-signup-token-0123456789"
#define ADMIN  "tsan-admin-token-0123456789"

static tu_server srv;

static void *http_signups(void *p) {
    worker *w = p;
    for (int i = 0; i < 100; i++) {
        char line[320];
        event_line(line, sizeof line, 10 + w->t, i);
        tu_resp r;
        int rc = tu_http(&r, &srv, "POST", "/v1/signups", SIGNUP, "application/json", line, strlen(line));
        CHECK(rc == 0 && r.status == 200, "signup %d: %ld %s", i, r.status, r.body);
        tu_resp_free(&r);
    }
    return NULL;
}

static void *http_lookups(void *p) {
    worker *w = p;
    for (int i = 0; !__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE); i++) {
        char path[96];
        if (i % 3 == 0)
            snprintf(path, sizeof path, "/v1/accounts/w%d-%03d", 10 + i % 4, (i / 4) % 100);
        else if (i % 3 == 1)
            snprintf(path, sizeof path, "/v1/attributes/device/dev-%d-%d", 10 + i % 4, (i / 4) % 25);
        else
            snprintf(path, sizeof path, "/v1/clusters?page_size=5");
        tu_resp r;
        int rc = tu_http(&r, &srv, "GET", path, ADMIN, NULL, NULL, 0);
        CHECK(rc == 0 && r.status < 500, "GET %s: %ld", path, r.status);
        tu_resp_free(&r);
        if (i % 10 == 0) {
            rc = tu_http(&r, &srv, "GET", "/metrics", ADMIN, NULL, NULL, 0);
            CHECK(rc == 0 && r.status == 200, "metrics: %ld", r.status);
            tu_resp_free(&r);
        }
    }
    return NULL;
}

static void server_part(const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/rw.ini", dir);
    const char ini[] = "listen = 127.0.0.1:0\nthreads = 4\ntoken_signup = " SIGNUP "\ntoken_admin = " ADMIN "\n";
    CHECK(tu_write_file(path, ini, sizeof ini - 1) == 0, "write %s", path);
    CHECK(chmod(path, 0600) == 0, "chmod %s", path); /* serve refuses tokens others can read */
    if (tu_serve_start(&srv, dir, "--config rw.ini --db server.db") != 0) {
        CHECK(0, "the server did not start");
        return;
    }
    printf("tsan_online: server listening on port %u\n", srv.port);
    worker w[4], r = {0};
    pthread_t tw[4], tr[2];
    for (int t = 0; t < 4; t++) {
        w[t] = (worker){.t = t};
        pthread_create(&tw[t], NULL, http_signups, &w[t]);
    }
    for (int t = 0; t < 2; t++) pthread_create(&tr[t], NULL, http_lookups, &r);
    /* a rescoring job while signups flow */
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    tu_resp resp;
    int rc = tu_http(&resp, &srv, "POST", "/v1/rescore", ADMIN, "application/json", "{}", 2);
    CHECK(rc == 0 && resp.status == 202, "rescore: %ld %s", resp.status, resp.body);
    char job[128] = "";
    const char *at = rc == 0 ? strcasestr(resp.headers, "\nlocation: ") : NULL;
    if (at) snprintf(job, sizeof job, "%.*s", (int)strcspn(at + 11, "\r\n"), at + 11);
    CHECK(job[0] == '/', "no Location in: %s", resp.headers);
    tu_resp_free(&resp);
    for (int t = 0; t < 4; t++) pthread_join(tw[t], NULL);
    printf("tsan_online: signups answered; waiting for %s\n", job);
    for (int i = 0; job[0] && i < 3000; i++) {
        rc = tu_http(&resp, &srv, "GET", job, ADMIN, NULL, NULL, 0);
        int done = rc == 0 && (strstr(resp.body, "\"done\"") || strstr(resp.body, "\"failed\""));
        if (done) CHECK(strstr(resp.body, "\"done\""), "job: %s", resp.body);
        tu_resp_free(&resp);
        if (done) {
            job[0] = 0;
            break;
        }
        struct timespec poll = {0, 20 * 1000 * 1000};
        nanosleep(&poll, NULL);
    }
    CHECK(!job[0], "the rescoring job %s never finished", job);
    __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
    for (int t = 0; t < 2; t++) pthread_join(tr[t], NULL);
    printf("tsan_online: stopping the server\n");
    rc = tu_serve_stop(&srv, SIGTERM);
    char *log = tu_read_file(srv.log, NULL);
    CHECK(rc == 0, "server exit %d (66: ThreadSanitizer reports)", rc);
    CHECK(log && !strstr(log, "ThreadSanitizer"), "the server's log has ThreadSanitizer reports:\n%s", log);
    free(log);
    printf("tsan_online: server: 400 signups by 4 clients, 2 lookup clients, a rescoring job, SIGTERM: %s\n",
           failures ? "FAILED" : "ok");
}

/* ---- 0. a snapshot large enough to copy its nodes on a thread of its own -- */

static void graph_part(void) {
    rw_graph *g = NULL;
    rw_err err = {{0}};
    CHECK(rw_graph_create(&g, &err) == RW_OK, "graph: %s", err.msg);
    if (!g) return;
    uint32_t ip = 0, a = 0, d = 0;
    rw_hash h = {{0}};
    h.b[0] = 1;
    CHECK(rw_graph_add_attr(g, &ip, RW_KIND_IP, &h, RW_NODE_NONE, 100, &err) == RW_OK, "ip: %s", err.msg);
    int ok = 1;
    for (uint32_t i = 0; i < 40000 && ok; i++) {
        char id[32];
        int n = snprintf(id, sizeof id, "g-%u", i);
        memcpy(h.b, &i, sizeof i);
        h.b[8] = 2;
        int is_new;
        ok = rw_graph_add_account(g, &a, id, (size_t)n, 100 + i, &err) == RW_OK &&
             rw_graph_add_attr(g, &d, RW_KIND_DEVICE, &h, RW_NODE_NONE, 100 + i, &err) == RW_OK &&
             rw_graph_observe(g, &is_new, a, ip, 100 + i, &err) == RW_OK &&
             rw_graph_observe(g, &is_new, a, d, 100 + i, &err) == RW_OK;
    }
    CHECK(ok, "building: %s", err.msg);
    rw_graph_snap *s = NULL;
    CHECK(rw_graph_snapshot(g, &s, &err) == RW_OK, "snapshot: %s", err.msg);
    CHECK(s && s->n > 65536 && s->m == 80000, "snapshot of %u nodes, %llu edges", s ? s->n : 0,
          s ? (unsigned long long)s->m : 0ULL);
    printf("tsan_online: graph: a snapshot of %u nodes (nodes copied beside the edges): %s\n", s ? s->n : 0,
           failures ? "FAILED" : "ok");
    rw_graph_snap_free(s);
    rw_graph_free(g);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("tsan_online: start\n");
    char *dir = tu_tmpdir();
    if (!dir) return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    graph_part();
    engine_part(dir);
    server_part(dir);
    curl_global_cleanup();
    tu_rmtree(dir);
    free(dir);
    return failures ? 1 : 0;
}
