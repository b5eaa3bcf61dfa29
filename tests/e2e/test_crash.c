/* Crash test of the signup path: several clients post signups, the server is
 * SIGKILLed mid-stream, and every signup that was answered 2xx must be in the
 * database afterwards, which must pass PRAGMA integrity_check. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "tu_serve.h"

#define CLIENTS 6
#define MAX_PER 100000

static tu_server srv;

static void setup(void) {
    tu_serve_init();
    const char ini[] = "listen = 127.0.0.1:0\nthreads = 16\ntoken_signup = crash-signup-token-0123456789\n"
                       "token_analyst = crash-analyst-token-0123456789\n";
    tu_write_in("rw.ini", ini);
    /* The same, acknowledging once the commit is written (not synced). */
    char nofsync[sizeof ini + 16];
    snprintf(nofsync, sizeof nofsync, "%sfsync = off\n", ini);
    tu_write_in("rw-nofsync.ini", nofsync);
}
static void teardown(void) {
    tu_serve_fini(&srv);
}
TestSuite(crash, .init = setup, .fini = teardown, .timeout = 120);

typedef struct {
    int client;
    int acked; /* signups 0 .. acked-1 were answered 2xx, in order */
    int stop;
} client;

static void *post_until_refused(void *arg) {
    client *cl = arg;
    CURL *c = curl_easy_init();
    char url[128], body[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/signups", srv.port);
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer crash-signup-token-0123456789");
    h = curl_slist_append(h, "Content-Type: application/json");
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    for (int i = 0; i < MAX_PER && !__atomic_load_n(&cl->stop, __ATOMIC_RELAXED); i++) {
        snprintf(body, sizeof body,
                 "{\"account\":\"crash-%d-%d\",\"ts\":%d,\"ip\":\"10.%d.%d.%d\",\"device\":\"dev-%d\"}", cl->client, i,
                 1790000000 + i, cl->client, (i / 200) % 250, i % 200, i % 31);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        long code = 0;
        if (curl_easy_perform(c) != CURLE_OK) break;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (code < 200 || code >= 300) break;
        cl->acked = i + 1;
    }
    fclose(devnull);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static void crash_and_check(const char *args) {
    cr_assert_eq(tu_serve_start(&srv, tu_dir(), args), 0);
    client cl[CLIENTS];
    pthread_t t[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        cl[i] = (client){.client = i};
        cr_assert_eq(pthread_create(&t[i], NULL, post_until_refused, &cl[i]), 0);
    }
    /* kill once some hundreds are in, mid-stream */
    for (int waited = 0; waited < 3000; waited++) {
        int sum = 0;
        for (int i = 0; i < CLIENTS; i++) sum += __atomic_load_n(&cl[i].acked, __ATOMIC_RELAXED);
        if (sum >= 600) break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_expect_eq(tu_serve_stop(&srv, SIGKILL), 128 + SIGKILL);
    for (int i = 0; i < CLIENTS; i++) {
        __atomic_store_n(&cl[i].stop, 1, __ATOMIC_RELAXED);
        pthread_join(t[i], NULL);
    }
    int total = 0;
    for (int i = 0; i < CLIENTS; i++) total += cl[i].acked;
    cr_assert_gt(total, 100, "too few signups before the kill");

    char db[512];
    snprintf(db, sizeof db, "%s/crash.db", tu_dir());
    sqlite3 *s = NULL;
    cr_assert_eq(sqlite3_open_v2(db, &s, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(s, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_expect_str_eq((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    cr_assert_eq(sqlite3_prepare_v2(s, "SELECT count(*) FROM accounts WHERE ext = ?1", -1, &q, NULL), SQLITE_OK);
    int missing = 0;
    for (int c = 0; c < CLIENTS; c++)
        for (int i = 0; i < cl[c].acked; i++) {
            char ext[64];
            snprintf(ext, sizeof ext, "crash-%d-%d", c, i);
            sqlite3_bind_text(q, 1, ext, -1, SQLITE_TRANSIENT);
            cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
            if (sqlite3_column_int(q, 0) != 1) missing++;
            sqlite3_reset(q);
        }
    sqlite3_finalize(q);
    sqlite3_close(s);
    cr_expect_eq(missing, 0, "%d of %d acknowledged signups lost", missing, total);

    /* the server starts again on the same database and knows them */
    cr_assert_eq(tu_serve_start(&srv, tu_dir(), args), 0);
    for (int c = 0; c < CLIENTS; c++) {
        if (!cl[c].acked) continue;
        char path[64];
        snprintf(path, sizeof path, "/v1/accounts/crash-%d-%d", c, cl[c].acked - 1);
        tu_resp r;
        cr_assert_eq(tu_http(&r, &srv, "GET", path, "crash-analyst-token-0123456789", NULL, NULL, 0), 0);
        cr_expect_eq(r.status, 200, "%s: %s", path, r.body);
        tu_resp_free(&r);
    }
    cr_expect_eq(tu_serve_stop(&srv, SIGTERM), 0);
}

Test(crash, acknowledged_signups_survive_sigkill) {
    crash_and_check("--config rw.ini --db crash.db");
}

/* fsync = off keeps the promise the issue asks of a 2xx (it survives kill
 * -9): the commit is in the operating system's hands before the answer. */
Test(crash, acknowledged_signups_survive_sigkill_without_fsync) {
    crash_and_check("--config rw-nofsync.ini --db crash.db");
}
