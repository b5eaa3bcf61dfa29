/* Faults, each against the real binary: SIGKILL during bulk ingest and during
 * a rescoring, a full disk (a small tmpfs), a corrupt or foreign database, a
 * missing or unreadable key file, and a read-only data directory. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tu_run.h"
#include "tu_serve.h"

#define SIGNUP  "faults-signup-token-0123456789"
#define ANALYST "faults-analyst-token-0123456789"
#define ADMIN   "faults-admin-token-0123456789"

static tu_server srv;
static char mounted[2][512]; /* tmpfs mounts to undo */

static void setup(void) {
    tu_serve_init();
    tu_write_in("rw.ini", "listen = 127.0.0.1:0\nthreads = 8\ntoken_signup = " SIGNUP "\ntoken_analyst = " ANALYST
                          "\ntoken_admin = " ADMIN "\n");
}
static void teardown(void) {
    if (srv.pid) tu_serve_stop(&srv, SIGKILL);
    for (int i = 0; i < 2; i++)
        if (mounted[i][0]) {
            tu_run(NULL, "umount -l '%s'", mounted[i]);
            mounted[i][0] = 0;
        }
    tu_serve_fini(&srv); /* and the folder, files made read-only included */
}
TestSuite(faults, .init = setup, .fini = teardown, .timeout = 240);

/* ---- helpers ------------------------------------------------------------- */

/* A simulated world with one run in dir/ringwatch.db. */
#define world(accounts) tu_world(accounts, 11)

/* Root reads and writes through any file mode: drop the capabilities that
 * allow it, so a mode means for the server what it means for a service user. */
static const char *unprivileged(void) {
    return geteuid() == 0 ? "setpriv --bounding-set=-dac_override,-dac_read_search,-fowner " : "";
}

/* Runs `[prefix] ringwatch serve --config rw.ini ARGS` expecting it not to
 * start: its exit status, and its output in *out (caller frees). */
static int serve_refused(char **out, const char *prefix, const char *args) {
    return tu_run(out, "cd '%s' && timeout 60 %s'%s' serve --config rw.ini %s", tu_dir(), prefix, tu_bin(), args);
}

/* Mounts a tmpfs of kib KiB at dir/name; 0 when it worked. */
static int mount_tmpfs(int slot, const char *name, int kib) {
    snprintf(mounted[slot], sizeof mounted[slot], "%s/%s", tu_dir(), name);
    mkdir(mounted[slot], 0755);
    if (tu_run(NULL, "mount -t tmpfs -o size=%dk,mode=0755 tmpfs '%s'", kib, mounted[slot]) != 0) {
        mounted[slot][0] = 0;
        return -1;
    }
    return 0;
}

static json_t *req(long *status, const char *method, const char *path, const char *token, const char *ctype,
                   const char *body, char *ctype_out, size_t ctype_size) {
    tu_resp r;
    cr_assert_eq(tu_http(&r, &srv, method, path, token, ctype, body, body ? strlen(body) : 0), 0, "%s %s: no answer",
                 method, path);
    *status = r.status;
    if (ctype_out) {
        ctype_out[0] = 0;
        const char *at = strcasestr(r.headers, "\ncontent-type: ");
        if (at) snprintf(ctype_out, ctype_size, "%.*s", (int)strcspn(at + 15, "\r\n"), at + 15);
    }
    json_t *doc = json_loadb(r.body, r.len, 0, NULL);
    cr_assert(doc, "%s %s: not JSON: %s", method, path, r.body);
    tu_resp_free(&r);
    return doc;
}

#define str(o, key) tu_str(o, key)

static long status_of(const char *method, const char *path, const char *token, const char *ctype, const char *body) {
    long st;
    json_decref(req(&st, method, path, token, ctype, body, NULL, 0));
    return st;
}

static void signup(long *status, json_t **doc, const char *account, int n) {
    char body[256];
    snprintf(body, sizeof body, "{\"account\":\"%s\",\"ts\":%d,\"ip\":\"192.0.2.%d\",\"device\":\"dev-%s\"}", account,
             1790000000 + n, n % 250, account);
    json_t *d = req(status, "POST", "/v1/signups", SIGNUP, "application/json", body, NULL, 0);
    if (doc)
        *doc = d;
    else
        json_decref(d);
}

static sqlite3 *open_db(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tu_dir(), name);
    sqlite3 *s = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &s, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return s;
}

static long long sql_int(sqlite3 *s, const char *sql) {
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(s, sql, -1, &q, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(s));
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(s));
    long long v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static void expect_integrity_ok(sqlite3 *s) {
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(s, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_expect_str_eq((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
}

/* The whole content of dir/name (caller frees), for "nothing overwritten". */
static char *snapshot(const char *name, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tu_dir(), name);
    char *b = tu_read_file(path, len);
    cr_assert(b, "cannot read %s", path);
    return b;
}

static void expect_unchanged(const char *name, const char *before, size_t len) {
    size_t now_len = 0;
    char *now = snapshot(name, &now_len);
    cr_expect(now_len == len && memcmp(now, before, len) == 0, "%s was modified", name);
    free(now);
    char path[512];
    snprintf(path, sizeof path, "%s/%s-wal", tu_dir(), name);
    struct stat sb;
    cr_expect(stat(path, &sb) != 0 || sb.st_size == 0, "%s-wal was left with %lld bytes", name, (long long)sb.st_size);
}

/* ---- SIGKILL during bulk ingest ------------------------------------------- */

#define BULK_CLIENTS 4
#define BULK_BATCH   100

typedef struct {
    int client;
    int acked; /* batches 0 .. acked-1 were answered 200 */
    int stop;
} bulk_client;

static void *post_batches(void *arg) {
    bulk_client *cl = arg;
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/events", srv.port);
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " SIGNUP);
    h = curl_slist_append(h, "Content-Type: application/x-ndjson");
    h = curl_slist_append(h, "Expect:");
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    char *body = malloc(BULK_BATCH * 160);
    for (int b = 0; b < 100000 && !__atomic_load_n(&cl->stop, __ATOMIC_RELAXED); b++) {
        size_t at = 0;
        for (int i = 0; i < BULK_BATCH; i++)
            at += (size_t)snprintf(
                body + at, 160,
                "{\"account\":\"bulk-%d-%d-%d\",\"ts\":%d,\"ip\":\"10.%d.%d.%d\",\"device\":\"d-%d\"}\n", cl->client, b,
                i, 1790000000 + b, cl->client, b % 250, i, (b * 7 + i) % 97);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)at);
        long code = 0;
        if (curl_easy_perform(c) != CURLE_OK) break;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (code != 200) break;
        __atomic_store_n(&cl->acked, b + 1, __ATOMIC_RELAXED);
    }
    free(body);
    fclose(devnull);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

Test(faults, sigkill_during_bulk_ingest) {
    cr_assert_eq(tu_serve_start(&srv, tu_dir(), "--config rw.ini --db bulk.db"), 0);
    bulk_client cl[BULK_CLIENTS];
    pthread_t t[BULK_CLIENTS];
    for (int i = 0; i < BULK_CLIENTS; i++) {
        cl[i] = (bulk_client){.client = i};
        cr_assert_eq(pthread_create(&t[i], NULL, post_batches, &cl[i]), 0);
    }
    for (int waited = 0; waited < 6000; waited++) {
        int sum = 0;
        for (int i = 0; i < BULK_CLIENTS; i++) sum += __atomic_load_n(&cl[i].acked, __ATOMIC_RELAXED);
        if (sum >= 40) break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_expect_eq(tu_serve_stop(&srv, SIGKILL), 128 + SIGKILL);
    int acked[BULK_CLIENTS], total = 0;
    for (int i = 0; i < BULK_CLIENTS; i++) {
        __atomic_store_n(&cl[i].stop, 1, __ATOMIC_RELAXED);
        pthread_join(t[i], NULL);
        acked[i] = cl[i].acked;
        total += acked[i];
    }
    cr_assert_geq(total, 10, "too few batches before the kill");

    sqlite3 *s = open_db("bulk.db");
    expect_integrity_ok(s);
    /* every acknowledged batch whole; the one in flight whole or absent */
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(s, "SELECT count(*) FROM accounts WHERE ext GLOB ?1", -1, &q, NULL), SQLITE_OK);
    long long kept = 0;
    for (int c = 0; c < BULK_CLIENTS; c++)
        for (int b = 0; b <= acked[c] + 1; b++) {
            char pat[64];
            snprintf(pat, sizeof pat, "bulk-%d-%d-*", c, b);
            sqlite3_bind_text(q, 1, pat, -1, SQLITE_TRANSIENT);
            cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
            int n = sqlite3_column_int(q, 0);
            sqlite3_reset(q);
            kept += n;
            if (b < acked[c])
                cr_expect_eq(n, BULK_BATCH, "acknowledged batch %d of client %d: %d of %d events kept", b, c, n,
                             BULK_BATCH);
            else
                cr_expect(n == 0 || n == BULK_BATCH, "batch %d of client %d is partial: %d of %d events", b, c, n,
                          BULK_BATCH);
        }
    sqlite3_finalize(q);
    cr_expect_eq(sql_int(s, "SELECT count(*) FROM events"), kept, "events and accounts disagree");
    cr_expect_eq(sql_int(s, "SELECT count(*) FROM accounts"), kept, "accounts of no batch");
    sqlite3_close(s);
    cr_log_info("bulk ingest: %d batches acknowledged, %lld events kept after SIGKILL", total, kept);

    /* restart: the server rebuilds its graph from the log and knows them */
    cr_assert_eq(tu_serve_start(&srv, tu_dir(), "--config rw.ini --db bulk.db"), 0);
    for (int c = 0; c < BULK_CLIENTS; c++) {
        if (!acked[c]) continue;
        char path[96];
        snprintf(path, sizeof path, "/v1/accounts/bulk-%d-%d-%d", c, acked[c] - 1, BULK_BATCH - 1);
        cr_expect_eq(status_of("GET", path, ANALYST, NULL, NULL), 200, "%s", path);
    }
    cr_expect_eq(tu_serve_stop(&srv, SIGTERM), 0);
}

/* ---- SIGKILL during a rescoring ------------------------------------------- */

static sqlite3 *open_db(const char *name);
static long long sql_int(sqlite3 *s, const char *sql);

/* Rows of runs not (yet) published, in the file. */
static long long unpublished_rows(void) {
    sqlite3 *h = open_db("ringwatch.db");
    sqlite3_busy_timeout(h, 5000);
    long long n = sql_int(h, "SELECT count(*) FROM run_accounts WHERE run NOT IN (SELECT id FROM runs)");
    sqlite3_close(h);
    return n;
}

/* Runs `ringwatch rescore` and SIGKILLs it delay_ms after it prints the
 * line of stage (delay_ms < 0: once some of the run's rows are committed,
 * that is halfway through writing it). 1 if it was killed, 0 if it finished
 * first. */
static int rescore_killed_after(const char *stage, int delay_ms) {
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    char dbpath[512];
    snprintf(dbpath, sizeof dbpath, "%s/ringwatch.db", tu_dir());
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        execl(tu_bin(), "ringwatch", "rescore", "--db", dbpath, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *f = fdopen(fd[0], "r");
    char line[512], want[64];
    snprintf(want, sizeof want, "rescore: %s ", stage);
    int seen = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, want, strlen(want)) == 0) {
            seen = 1;
            break;
        }
    if (seen && delay_ms < 0) {
        /* Polled on one connection with an indexed look (rows above the
         * newest published run): the kill must land within a chunk or two
         * of the first, and a count over the table on a fresh connection
         * took long enough under the sanitizers for the write to finish. */
        sqlite3 *h = open_db("ringwatch.db");
        sqlite3_stmt *q = NULL;
        const char *sql =
            "SELECT EXISTS(SELECT 1 FROM run_accounts WHERE run > (SELECT coalesce(max(id), 0) FROM runs))";
        cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
        struct timespec tick = {0, 200000L};
        for (int i = 0; i < 100000 && waitpid(pid, NULL, WNOHANG) == 0; i++) {
            int any = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0);
            sqlite3_reset(q);
            if (any) break;
            nanosleep(&tick, NULL);
        }
        sqlite3_finalize(q);
        sqlite3_close(h);
    } else if (seen) {
        struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (seen) kill(pid, SIGKILL);
    fclose(f);
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(seen || WIFSIGNALED(st), "rescore never printed its %s stage", stage);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

/* The newest run is whole (every account scored, summary written), and
 * integrity_check passes; returns its id. */
static long long newest_run_whole(void) {
    sqlite3 *s = open_db("ringwatch.db");
    expect_integrity_ok(s);
    long long run = sql_int(s, "SELECT max(id) FROM runs");
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM run_accounts WHERE run = %lld", run);
    cr_expect_eq(sql_int(s, sql), sql_int(s, "SELECT count(*) FROM accounts"), "run %lld is not whole", run);
    snprintf(sql, sizeof sql, "SELECT summary <> '{}' AND finished_at > 0 FROM runs WHERE id = %lld", run);
    cr_expect_eq(sql_int(s, sql), 1, "run %lld has no summary", run);
    cr_expect_eq(sql_int(s, "SELECT count(*) FROM runs"), run, "run ids have a gap");
    sqlite3_close(s);
    return run;
}

/* No row of an unpublished run is left (a writable open removes what a
 * killed write left). */
static void no_unpublished_rows(void) {
    sqlite3 *s = open_db("ringwatch.db");
    cr_expect_eq(sql_int(s, "SELECT count(*) FROM run_writes"), 0, "a killed write's reservation is left");
    cr_expect_eq(sql_int(s, "SELECT count(*) FROM run_accounts WHERE run NOT IN (SELECT id FROM runs)"), 0,
                 "a killed write's rows are left");
    sqlite3_close(s);
}

Test(faults, sigkill_during_rescoring) {
    world(8000);
    char *before = NULL, *after = NULL;
    cr_assert_eq(tu_rw(&before, "clusters --limit 20"), 0);

    /* mid-write: some chunks of the run committed, the run not published */
    cr_assert(rescore_killed_after("model", -1), "rescore finished before the kill");
    cr_expect_eq(newest_run_whole(), 1, "a killed rescoring left a run");
    long long half = unpublished_rows();
    cr_expect_gt(half, 0, "the kill did not land halfway through the write");
    cr_log_info("killed halfway through writing run 2: %lld of its account rows in the file", half);
    cr_assert_eq(tu_rw(&after, "clusters --limit 20"), 0);
    cr_expect_str_eq(after, before, "the clusters of run 1 changed");
    free(after);
    char *out = NULL;
    cr_expect_eq(tu_rw(&out, "clusters --run 2 2>&1"), 1, "run 2 is visible: %s", out);
    cr_expect(out && strstr(out, "no run 2 (the newest is 1)"), "run 2 is visible: %s", out);
    free(out);

    /* during the commit itself: either no run 2 or all of it */
    int killed = rescore_killed_after("write", 0);
    long long run = newest_run_whole();
    cr_expect(run == 1 || run == 2, "run %lld", run); /* 2 only if the commit beat the kill; whole either way */
    cr_log_info(
        "rescore killed halfway through the write: run 1 still newest; killed after 'write': %s, newest run %lld",
        killed ? "killed" : "finished first", run);

    /* the previous run still serves; the server's open removed what the
     * killed writes left */
    cr_assert_eq(tu_serve_start(&srv, tu_dir(), "--config rw.ini --db ringwatch.db"), 0);
    no_unpublished_rows();
    long st;
    json_t *d = req(&st, "GET", "/readyz", NULL, NULL, NULL, NULL, 0);
    cr_expect_eq(st, 200);
    cr_expect_eq(json_integer_value(json_object_get(d, "run")), run);
    json_decref(d);
    d = req(&st, "GET", "/v1/clusters?page_size=5", ANALYST, NULL, NULL, NULL, 0);
    cr_expect_eq(st, 200);
    cr_expect_eq(json_integer_value(json_object_get(d, "run")), run);
    cr_expect_eq(json_array_size(json_object_get(d, "clusters")), 5);
    json_decref(d);

    /* the server's own rescoring job, killed while it runs */
    d = req(&st, "POST", "/v1/rescore", ADMIN, "application/json", "{}", NULL, 0);
    cr_expect_eq(st, 202);
    json_decref(d);
    struct timespec mid = {0, 150 * 1000 * 1000};
    nanosleep(&mid, NULL);
    cr_expect_eq(tu_serve_stop(&srv, SIGKILL), 128 + SIGKILL);
    long long after_job = newest_run_whole();
    cr_expect(after_job == run || after_job == run + 1, "run %lld after the killed job", after_job);
    cr_log_info("server rescoring job killed after 0.15 s: newest run %lld (was %lld)", after_job, run);
    run = after_job;
    cr_assert_eq(tu_serve_start(&srv, tu_dir(), "--config rw.ini --db ringwatch.db"), 0);
    no_unpublished_rows();
    d = req(&st, "GET", "/readyz", NULL, NULL, NULL, NULL, 0);
    cr_expect_eq(st, 200);
    cr_expect_eq(json_integer_value(json_object_get(d, "run")), run);
    json_decref(d);
    cr_expect_eq(tu_serve_stop(&srv, SIGTERM), 0);

    /* and the next rescoring writes the next run */
    cr_expect_eq(tu_rw(&out, "rescore --quiet 2>&1"), 0, "%s", out);
    free(out);
    cr_expect_eq(newest_run_whole(), run + 1);
    free(before);
}

/* ---- disk full -------------------------------------------------------------- */

/* Fills the file system of path until it refuses; the filler's path. */
static void fill(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    static char chunk[65536];
    ssize_t w;
    size_t sz = sizeof chunk;
    for (;;) {
        w = write(fd, chunk, sz);
        if (w > 0) continue;
        if (w < 0 && errno == ENOSPC && sz > 512) {
            sz /= 2; /* the last few blocks too */
            continue;
        }
        break;
    }
    cr_assert_eq(errno, ENOSPC);
    close(fd);
}

Test(faults, disk_full) {
    if (mount_tmpfs(0, "small", 4096) != 0) {
        cr_skip_test("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)");
        return;
    }
    cr_assert_eq(tu_serve_start(&srv, tu_dir(), "--config rw.ini --db small/full.db"), 0);
    long st;
    signup(&st, NULL, "before-full", 1);
    cr_assert_eq(st, 200);

    char filler[600];
    snprintf(filler, sizeof filler, "%s/filler", mounted[0]);
    fill(filler);

    char ctype[128];
    json_t *d = req(&st, "POST", "/v1/signups", SIGNUP, "application/json",
                    "{\"account\":\"during-full\",\"ts\":1790000002,\"ip\":\"192.0.2.2\",\"device\":\"dev-full\"}",
                    ctype, sizeof ctype);
    cr_expect_eq(st, 503, "signup on a full disk: %ld", st);
    cr_expect(strncmp(ctype, "application/problem+json", 24) == 0, "%s", ctype);
    cr_expect_str_eq(str(d, "type"), "urn:ringwatch:problem:unavailable");
    cr_expect(strstr(str(d, "detail"), "full"), "%s", str(d, "detail"));
    cr_log_info("disk full: signup -> %ld %s: %s", st, ctype, str(d, "detail"));
    json_decref(d);
    d = req(&st, "POST", "/v1/events", SIGNUP, "application/x-ndjson",
            "{\"account\":\"batch-full-1\",\"ts\":1790000003}\n{\"account\":\"batch-full-2\",\"ts\":1790000003}\n",
            ctype, sizeof ctype);
    cr_expect_eq(st, 503, "batch on a full disk: %ld", st);
    cr_expect(strncmp(ctype, "application/problem+json", 24) == 0, "%s", ctype);
    json_decref(d);
    d = req(&st, "GET", "/readyz", NULL, NULL, NULL, ctype, sizeof ctype);
    cr_expect_eq(st, 503);
    cr_log_info("disk full: /readyz -> %ld: %s", st, str(d, "detail"));
    json_decref(d);
    /* memory claims nothing the disk refused; reads still work */
    cr_expect_eq(status_of("GET", "/v1/accounts/during-full", ANALYST, NULL, NULL), 404);
    cr_expect_eq(status_of("GET", "/v1/accounts/batch-full-1", ANALYST, NULL, NULL), 404);
    cr_expect_eq(status_of("GET", "/v1/accounts/before-full", ANALYST, NULL, NULL), 200);
    cr_expect_eq(status_of("GET", "/livez", NULL, NULL, NULL), 200);

    /* space returns: the next write succeeds and the service is ready again */
    cr_assert_eq(unlink(filler), 0);
    signup(&st, NULL, "after-full", 3);
    cr_expect_eq(st, 200, "signup once space returned: %ld", st);
    cr_expect_eq(status_of("GET", "/readyz", NULL, NULL, NULL), 200);
    /* SIGTERM's final flush still reports the refused events of the full
     * period (already answered 503), so the exit is 1 rather than 0 */
    int rc = tu_serve_stop(&srv, SIGTERM);
    cr_expect(rc == 0 || rc == 1, "exit %d", rc);
    char *log = tu_read_file(srv.log, NULL);
    const char *last = log ? strstr(log, "SIGTERM") : NULL;
    cr_log_info("disk full: after SIGTERM exit %d: %s", rc, last ? last : "");
    free(log);

    /* and after a restart the database holds exactly what was acknowledged */
    sqlite3 *s = open_db("small/full.db");
    expect_integrity_ok(s);
    cr_expect_eq(sql_int(s, "SELECT count(*) FROM accounts WHERE ext IN ('before-full', 'after-full')"), 2);
    cr_expect_eq(sql_int(s, "SELECT count(*) FROM accounts WHERE ext GLOB '*full*'"), 2);
    sqlite3_close(s);
}

/* ---- a corrupt or foreign database ----------------------------------------- */

static void expect_refused_db(const char *name, const char *message) {
    size_t len = 0;
    char *before = snapshot(name, &len);
    char args[600], *out = NULL;
    snprintf(args, sizeof args, "--db '%s' 2>&1", name);
    int rc = serve_refused(&out, "", args);
    cr_expect_eq(rc, 1, "%s: exit %d: %s", name, rc, out);
    cr_expect(out && strstr(out, message), "%s: expected \"%s\" in: %s", name, message, out);
    cr_log_info("%s: exit %d: %s", name, rc, out ? out : "");
    free(out);
    expect_unchanged(name, before, len);
    free(before);
}

Test(faults, corrupt_database_refused) {
    world(1000);
    /* bytes that were never a database */
    char *junk = malloc(200000);
    for (int i = 0; i < 200000; i++) junk[i] = (char)(i * 2654435761u >> 13);
    char path[512];
    snprintf(path, sizeof path, "%s/junk.db", tu_dir());
    cr_assert_eq(tu_write_file(path, junk, 200000), 0);
    expect_refused_db("junk.db", "is not a ringwatch database (or is corrupt)");

    /* a ringwatch database whose pages after the schema were overwritten */
    size_t len = 0;
    char *db = snapshot("ringwatch.db", &len);
    cr_assert_gt(len, 3 * 4096 + 8192);
    for (size_t i = 3 * 4096; i < len; i++) db[i] = junk[i % 200000];
    snprintf(path, sizeof path, "%s/pages.db", tu_dir());
    cr_assert_eq(tu_write_file(path, db, len), 0);
    expect_refused_db("pages.db", "malformed");
    expect_refused_db("pages.db",
                      "pages.db is damaged: restore it from a backup"); /* names the file, says what to do */

    /* cut short */
    snprintf(path, sizeof path, "%s/short.db", tu_dir());
    char *whole = snapshot("ringwatch.db", &len);
    cr_assert_eq(tu_write_file(path, whole, len / 3), 0);
    free(whole);
    expect_refused_db("short.db", "corrupt");
    free(db);
    free(junk);

    /* another program's SQLite database */
    cr_assert_eq(tu_run(NULL, "cd '%s' && sqlite3 other.db 'CREATE TABLE t(x); INSERT INTO t VALUES (42);'", tu_dir()),
                 0);
    expect_refused_db("other.db", "an SQLite database of another program; refusing to touch it");
}

/* ---- the key file ------------------------------------------------------------ */

Test(faults, key_file_missing_or_unreadable) {
    world(500);
    char key[512], moved[512], *out = NULL;
    snprintf(key, sizeof key, "%s/ringwatch.db.key", tu_dir());
    snprintf(moved, sizeof moved, "%s/saved.key", tu_dir());
    size_t len = 0;
    char *db = snapshot("ringwatch.db", &len);

    /* missing: a new key would not match the stored hashes */
    cr_assert_eq(rename(key, moved), 0);
    int rc = serve_refused(&out, "", "--db ringwatch.db 2>&1");
    cr_expect_eq(rc, 1, "exit %d: %s", rc, out);
    cr_expect(out && strstr(out, "key file") && strstr(out, "missing"), "%s", out);
    cr_log_info("missing key: exit %d: %s", rc, out ? out : "");
    free(out);
    cr_expect_neq(access(key, F_OK), 0, "a new key file was created");
    rc = tu_rw(&out, "ingest --quiet ev.jsonl 2>&1");
    cr_expect_eq(rc, 1, "ingest without its key: exit %d: %s", rc, out);
    free(out);
    cr_expect_neq(access(key, F_OK), 0, "a new key file was created by ingest");
    expect_unchanged("ringwatch.db", db, len);
    cr_assert_eq(rename(moved, key), 0);

    /* unreadable by the service */
    cr_assert_eq(chmod(key, 0000), 0);
    rc = serve_refused(&out, unprivileged(), "--db ringwatch.db 2>&1");
    cr_expect_eq(rc, 1, "exit %d: %s", rc, out);
    cr_expect(out && strstr(out, "cannot open key file") && strstr(out, "Permission denied"), "%s", out);
    cr_log_info("unreadable key: exit %d: %s", rc, out ? out : "");
    free(out);

    /* readable by others: refused too, the key is a secret */
    cr_assert_eq(chmod(key, 0644), 0);
    rc = serve_refused(&out, "", "--db ringwatch.db 2>&1");
    cr_expect_eq(rc, 1, "exit %d: %s", rc, out);
    cr_expect(out && strstr(out, "readable by group or others"), "%s", out);
    free(out);

    /* not a key */
    cr_assert_eq(chmod(key, 0600), 0);
    char saved[64];
    size_t klen = 0;
    char *k = tu_read_file(key, &klen);
    cr_assert(k && klen == 32);
    memcpy(saved, k, 32);
    free(k);
    cr_assert_eq(tu_write_file(key, "short", 5), 0);
    cr_assert_eq(chmod(key, 0600), 0);
    rc = serve_refused(&out, "", "--db ringwatch.db 2>&1");
    cr_expect_eq(rc, 1, "exit %d: %s", rc, out);
    cr_expect(out && strstr(out, "has 5 bytes, expected 32"), "%s", out);
    free(out);
    expect_unchanged("ringwatch.db", db, len);
    free(db);

    /* the key restored, the service starts */
    cr_assert_eq(tu_write_file(key, saved, 32), 0);
    cr_assert_eq(chmod(key, 0600), 0);
    cr_assert_eq(tu_serve_start(&srv, tu_dir(), "--config rw.ini --db ringwatch.db"), 0);
    cr_expect_eq(tu_serve_stop(&srv, SIGTERM), 0);
}

/* ---- a read-only data directory --------------------------------------------- */

Test(faults, read_only_data_directory) {
    world(500);
    char *out = NULL;
    cr_assert_eq(tu_run(NULL, "cd '%s' && mkdir ro && cp ringwatch.db ringwatch.db.key ro/ && chmod 555 ro", tu_dir()),
                 0);
    size_t len = 0;
    char *db = snapshot("ro/ringwatch.db", &len);
    int rc = serve_refused(&out, unprivileged(), "--db ro/ringwatch.db 2>&1");
    cr_expect_eq(rc, 1, "exit %d: %s", rc, out);
    cr_expect(out && strstr(out, "readonly"), "%s", out);
    cr_log_info("read-only directory: exit %d: %s", rc, out ? out : "");
    free(out);
    expect_unchanged("ro/ringwatch.db", db, len);
    /* a new database in a read-only directory */
    rc = serve_refused(&out, unprivileged(), "--db ro/new.db 2>&1");
    cr_expect_eq(rc, 1, "exit %d: %s", rc, out);
    cr_expect(out && strstr(out, "cannot open database ro/new.db"), "%s", out);
    free(out);
    free(db);

    /* a file system mounted read-only: refused even for root */
    if (mount_tmpfs(1, "rofs", 8192) != 0) {
        fprintf(
            stderr,
            "faults: cannot mount a tmpfs here: read-only mount not tested\n"); /* not cr_log_warn: it fails the run */
        return;
    }
    cr_assert_eq(
        tu_run(NULL, "cd '%s' && cp ringwatch.db ringwatch.db.key rofs/ && mount -o remount,ro rofs", tu_dir()), 0);
    db = snapshot("rofs/ringwatch.db", &len);
    rc = serve_refused(&out, "", "--db rofs/ringwatch.db 2>&1");
    cr_expect_eq(rc, 1, "exit %d: %s", rc, out);
    cr_expect(out && (strstr(out, "readonly") || strstr(out, "unable to open")), "%s", out);
    cr_log_info("read-only mount: exit %d: %s", rc, out ? out : "");
    free(out);
    expect_unchanged("rofs/ringwatch.db", db, len);
    free(db);
}
