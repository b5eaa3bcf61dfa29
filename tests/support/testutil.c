/* Test helpers shared by the Criterion suites (and the HTTP server driver of
 * the end-to-end tests). */
#include "testutil.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *tu_tmpdir(void) {
    char tmpl[] = "/tmp/rwtest-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

void tu_rmtree(const char *path) {
    if (!path || strncmp(path, "/tmp/rwtest-", 12) != 0) return;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) { /* best effort */
    }
}

const char *tu_bin(void) {
    const char *b = getenv("RW_BIN");
    return b && *b ? b : "./build/ringwatch";
}

int tu_run(char **out, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[8300];
    snprintf(full, sizeof full, "( %s ) 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
    }
    if (buf) buf[len] = 0;
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    if (buf && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[sz] = 0;
        if (len) *len = (size_t)sz;
    }
    return buf;
}

int tu_write_file(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

int tu_contains(const void *hay, size_t len, const void *needle, size_t nlen) {
    return nlen <= len && memmem(hay, len, needle, nlen) != NULL;
}

/* ---- the HTTP server ------------------------------------------------------- */

/* Sends requests through `prism proxy` when the environment says so: the
 * relay in front of it forwards to the port written here. */
static int through_prism(tu_server *s) {
    const char *port = getenv("RW_PRISM_PORT"), *file = getenv("RW_PRISM_UPSTREAM");
    if (!port || !file || !*port || !*file) return 0;
    char tmp[1024], text[16];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    int n = snprintf(text, sizeof text, "%u\n", s->direct_port);
    if (tu_write_file(tmp, text, (size_t)n) != 0 || rename(tmp, file) != 0) return -1;
    s->port = (unsigned)atoi(port);
    return s->port ? 0 : -1;
}

int tu_serve_start(tu_server *s, const char *dir, const char *args) {
    memset(s, 0, sizeof *s);
    snprintf(s->log, sizeof s->log, "%s/serve.log", dir);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && exec '%s' serve %s 2>>serve.log", dir, tu_bin(), args);
    size_t seen = 0; /* earlier runs' lines in the log do not count */
    char *old = tu_read_file(s->log, &seen);
    free(old);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 3000; i++) { /* 30 s: sanitizer builds load slowly */
        size_t len = 0;
        char *log = tu_read_file(s->log, &len);
        const char *at = log && len > seen ? strstr(log + seen, "listening on ") : NULL;
        const char *colon = at ? strchr(at, '\n') : NULL;
        if (colon) {
            while (colon > at && *colon != ':') colon--;
            s->port = s->direct_port = (unsigned)atoi(colon + 1);
            free(log);
            return s->port ? through_prism(s) : -1;
        }
        free(log);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            return -1;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

int tu_serve_stop(tu_server *s, int sig) {
    if (!s->pid) return -1;
    kill(s->pid, sig);
    int st = 0;
    if (waitpid(s->pid, &st, 0) != s->pid) return -1;
    s->pid = 0;
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (rc && sig != SIGKILL) { /* a stop that should have been clean: the log says why it was not */
        char *log = tu_read_file(s->log, NULL);
        fprintf(stderr, "tu_serve_stop: the server exited %d; the end of its log:\n%s\n", rc,
                log ? log + (strlen(log) > 4000 ? strlen(log) - 4000 : 0) : "(unreadable)");
        free(log);
    }
    return rc;
}

typedef struct {
    char *p;
    size_t len;
} growbuf;

static size_t on_data(char *data, size_t size, size_t n, void *ctx) {
    growbuf *b = ctx;
    size_t add = size * n;
    char *np = realloc(b->p, b->len + add + 1);
    if (!np) return 0;
    memcpy(np + b->len, data, add);
    b->p = np;
    b->len += add;
    b->p[b->len] = 0;
    return add;
}

int tu_http(tu_resp *r, const tu_server *s, const char *method, const char *path, const char *token, const char *ctype,
            const char *body, size_t len) {
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    if (!c) return -1;
    char auth[1024], ct[256];
    size_t ulen = strlen(path) + 32; /* any length: tests send over-long paths too */
    char *url = malloc(ulen);
    if (!url) {
        curl_easy_cleanup(c);
        return -1;
    }
    snprintf(url, ulen, "http://127.0.0.1:%u%s", s->port, path);
    struct curl_slist *h = NULL;
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    snprintf(ct, sizeof ct, "Content-Type:%s%s", ctype ? " " : "", ctype ? ctype : "");
    h = curl_slist_append(h, ct); /* "Content-Type:" alone removes curl's default */
    h = curl_slist_append(h, "Expect:");
    growbuf b = {0}, hd = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hd);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(url);
    r->body = b.p ? b.p : calloc(1, 1);
    r->len = b.len;
    r->headers = hd.p ? hd.p : calloc(1, 1);
    return rc == CURLE_OK ? 0 : -1;
}

void tu_resp_free(tu_resp *r) {
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}
