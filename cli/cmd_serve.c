/* ringwatch serve: the HTTP server. Settings come from an INI file, then
 * RINGWATCH_<KEY> variables, then flags; SIGTERM or SIGINT drains it. */
#include <ctype.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "http.h"

/* The one flag a signal handler may touch. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
    stop_signal = sig;
}

/* The settings, from http's table; man: as roff. */
static void settings_help(FILE *f, int man) {
    const rw_config_doc *d;
    if (man) {
        fputs(".PP\nSettings (default):\n", f);
        for (size_t i = 0; (d = rw_config_doc_at(i)) != NULL; i++) {
            fputs(".TP\n\\fB", f);
            rw_cli_roff(f, d->key);
            fputs("\\fR (", f);
            rw_cli_roff(f, *d->def ? d->def : "empty");
            fputs(")\n", f);
            rw_cli_roff(f, d->summary);
            fputc('\n', f);
        }
        fputs(".PP\nA setting KEY is also read from the environment variable RINGWATCH_<KEY in capitals>.\n", f);
        return;
    }
    fputs("\nsettings (default):\n", f);
    for (size_t i = 0; (d = rw_config_doc_at(i)) != NULL; i++)
        fprintf(f, "  %-24s %-16s %s\n", d->key, *d->def ? d->def : "(empty)", d->summary);
    fputs("\nA setting KEY is also read from the environment variable RINGWATCH_<KEY in capitals>.\n", f);
}

typedef struct {
    const char *db, *listen, *config, *key;
    int no_auth;
} serve_opts;

static const rw_cli_opt serve_tab[] = {RW_OPT_DB(serve_opts, db),
                                       {.name = "listen",
                                        .arg = "HOST:PORT",
                                        .help = "address and port (the listen setting)",
                                        .kind = RW_OPT_TEXT,
                                        .at = offsetof(serve_opts, listen)},
                                       {.name = "config",
                                        .arg = "FILE",
                                        .help = "the INI file of settings (key = value)",
                                        .kind = RW_OPT_TEXT,
                                        .at = offsetof(serve_opts, config)},
                                       RW_OPT_KEY(serve_opts, key),
                                       {.name = "insecure-no-auth",
                                        .arg = NULL,
                                        .help = "no bearer tokens at all (auth = off)",
                                        .kind = RW_OPT_FLAG,
                                        .at = offsetof(serve_opts, no_auth)},
                                       {.name = NULL}};

const rw_cli_spec rw_spec_serve = {"serve",
                                   NULL,
                                   "Serves the signup decision, batch ingest, lookups, clusters, labels, rescoring\n"
                                   "jobs, health and metrics over HTTP (see GET /v1/openapi.json). Settings come\n"
                                   "from the INI file (key = value), then RINGWATCH_<KEY> environment variables,\n"
                                   "then the flags; later wins. Without any token configured it refuses to start\n"
                                   "unless --insecure-no-auth (auth = off) is given. SIGTERM or SIGINT stops\n"
                                   "accepting, finishes requests in flight, waits for a running rescoring, makes\n"
                                   "every event durable and exits 0.\n",
                                   serve_tab,
                                   0,
                                   0,
                                   settings_help};

static const char *env_get(const char *name) {
    return getenv(name);
}

/* Reads the file at path (at most 1 MiB, NUL-terminated) into *text
 * (caller frees), its length and mode into *lenp and *mode unless NULL. */
static rw_status read_text(const char *path, char **text, size_t *lenp, unsigned *mode, rw_err *err) {
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return rw_fail(err, RW_ERR_IO, "%s: cannot open", path);
    size_t len = 0, cap = 0;
    rw_status st = RW_OK;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            char *n = cap <= (1u << 20) ? realloc(*text, cap + 1) : NULL;
            if (!n) {
                st = rw_fail(err, RW_ERR_LIMIT, "%s: larger than 1 MiB", path);
                goto done;
            }
            *text = n;
        }
        size_t got = fread(*text + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        st = rw_fail(err, RW_ERR_IO, "%s: read error", path);
        goto done;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        st = rw_fail(err, RW_ERR_IO, "%s: cannot stat", path);
        goto done;
    }
    (*text)[len] = 0;
    if (lenp) *lenp = len;
    if (mode) *mode = (unsigned)sb.st_mode;
done:
    if (st != RW_OK) free(*text), *text = NULL;
    fclose(f);
    return st;
}

/* Reads and applies the INI file at path. */
static rw_status load_file(rw_config *cfg, const char *path, rw_err *err) {
    char *text;
    size_t len;
    unsigned mode;
    rw_status st = read_text(path, &text, &len, &mode, err);
    if (st == RW_OK) st = rw_config_parse_file(cfg, path, text, len, mode, err);
    free(text);
    return st;
}

/* Puts the signup model at path in place of the shipped one. */
static rw_status load_base_model(rw_engine *e, const char *path, rw_err *err) {
    char *text;
    rw_status st = read_text(path, &text, NULL, NULL, err);
    if (st == RW_OK && (st = rw_engine_set_base_model(e, text, err)) != RW_OK) rw_err_prefix(err, "%s: ", path);
    free(text);
    return st;
}

int rw_cmd_serve(int argc, char **argv) {
    serve_opts o = {0};
    int nargs, prc = rw_cli_parse(&rw_spec_serve, &o, argc, argv, &nargs);
    if (prc >= 0) return prc;
    const char *db = o.db, *listen = o.listen, *config = o.config, *key = o.key;
    int no_auth = o.no_auth;
    rw_config *cfg = malloc(sizeof *cfg); /* about 17 KB of token lists */
    rw_engine *e = NULL;
    rw_http_server *srv = NULL;
    rw_err err = {{0}};
    int rc = RW_EXIT_USAGE;
    if (!cfg) {
        rw_cli_error("serve", "out of memory");
        return RW_EXIT_FAIL;
    }
    rw_config_defaults(cfg);
    rw_status st = config ? load_file(cfg, config, &err) : RW_OK;
    if (st == RW_OK) st = rw_config_env(cfg, env_get, &err);
    const struct {
        const char *key, *value;
    } flags[] = {{"db", db}, {"listen", listen}, {"key_file", key}, {"auth", no_auth ? "off" : NULL}};
    for (size_t i = 0; st == RW_OK && i < sizeof flags / sizeof flags[0]; i++)
        if (flags[i].value) {
            st = rw_config_set(cfg, flags[i].key, flags[i].value, &err);
            if (st != RW_OK) rw_err_prefix(&err, "--%s: ", flags[i].key);
        }
    if (st == RW_OK) st = rw_config_check(cfg, &err);
    if (st != RW_OK) {
        rw_cli_error("serve", "%s", err.msg);
        rc = st == RW_ERR_INVALID ? RW_EXIT_USAGE : RW_EXIT_FAIL;
        goto done;
    }
    rc = RW_EXIT_FAIL;
    if (!cfg->auth)
        rw_cli_error("serve", "WARNING: authentication is off; anyone who can connect may call every endpoint");
    e = rw_cli_open_engine("serve", cfg->db, cfg->key_file[0] ? cfg->key_file : NULL, RW_CLI_WRITER);
    if (!e) goto done;
    if (rw_http_create(&srv, e, cfg, &err) != RW_OK) {
        rw_cli_error("serve", "%s", err.msg);
        goto done;
    }
    if (cfg->signup_base_model[0] && load_base_model(e, cfg->signup_base_model, &err) != RW_OK) {
        rw_cli_error("serve", "signup_base_model: %s", err.msg);
        goto done;
    }
    rw_http_set_exporter(srv, rw_cli_exporter());
    /* The server's threads inherit a mask blocking the stop signals, so the
     * handler runs here, in the thread waiting in sigsuspend. */
    sigset_t stopset, old;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGTERM);
    sigaddset(&stopset, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stopset, &old);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (rw_http_start(srv, &err) != RW_OK) {
        rw_cli_error("serve", "%s", err.msg);
        goto done;
    }
    sigset_t wait = old;
    sigdelset(&wait, SIGTERM);
    sigdelset(&wait, SIGINT);
    while (!stop_signal) sigsuspend(&wait);
    fprintf(stderr, "ringwatch serve: %s: stopping (draining requests in flight)\n",
            stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    rw_http_stop(srv);
    st = rw_engine_flush(e, &err);
    if (st != RW_OK) {
        rw_cli_error("serve", "flush: %s", err.msg);
        goto done;
    }
    fprintf(stderr, "ringwatch serve: stopped\n");
    rc = RW_EXIT_OK;
done:
    rw_http_free(srv);
    rw_engine_close(e);
    free(cfg);
    return rc;
}
