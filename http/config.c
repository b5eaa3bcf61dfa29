/* http: the settings of `ringwatch serve` as one table (name, type, default,
 * limits, summary), read from INI text, RINGWATCH_<KEY> variables and flags. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "http_int.h"

typedef enum { T_TEXT, T_U32, T_U64, T_DOUBLE, T_CLOCK, T_ONOFF, T_LEVEL, T_TOKENS, T_CIDRS } type;

typedef struct {
    rw_config_doc doc;
    type t;
    size_t off, size; /* where in rw_config, and the buffer size of text */
    double min, max;  /* numbers */
} setting;

#define AT(field) offsetof(rw_config, field), sizeof(((rw_config *)0)->field)

/* The order is the order of --help and the README table. Thresholds start
 * above 0 because the engine reads 0 as "its default". */
static const setting settings[] = {
    {{"listen", "127.0.0.1:8080", "address and port to listen on (port 0: any free port)"}, T_TEXT, AT(listen), 0, 0},
    {{"db", "ringwatch.db", "SQLite database"}, T_TEXT, AT(db), 0, 0},
    {{"key_file", "", "hashing key file (empty: DB.key beside the database)"}, T_TEXT, AT(key_file), 0, 0},
    {{"threads", "2", "libmicrohttpd worker threads (a signup waiting for its group commit holds none)"},
     T_U32,
     AT(threads),
     1,
     1024},
    {{"connection_limit", "4096",
      "open connections at most, trusted clients aside (the open-file limit is raised to fit; see trusted_reserve)"},
     T_U32,
     AT(connection_limit),
     1,
     1000000},
    {{"per_ip_connection_limit", "64",
      "open connections from one address at most, trusted clients aside (0: no limit)"},
     T_U32,
     AT(per_ip_connection_limit),
     0,
     1000000},
    {{"timeout_seconds", "30", "idle connections are closed after this (0: never)"},
     T_U32,
     AT(timeout_seconds),
     0,
     86400},
    {{"request_timeout_seconds", "10",
      "a request's line, headers and body must all arrive within this, however steadily they trickle; the connection "
      "is closed otherwise (0: no bound)"},
     T_U32,
     AT(request_timeout_seconds),
     0,
     86400},
    {{"trusted_clients", "",
      "addresses or networks (CIDR, comma-separated: 10.0.0.0/8, ::1) whose connections are accepted beyond "
      "connection_limit and per_ip_connection_limit, e.g. the signup flow's callers"},
     T_CIDRS,
     AT(trusted_clients),
     0,
     0},
    {{"trusted_reserve", "256", "connections kept for trusted_clients beyond connection_limit"},
     T_U32,
     AT(trusted_reserve),
     0,
     1000000},
    {{"analyst_threads", "1",
      "threads that build pictures and exports, apart from the threads answering signups (run at a lower priority)"},
     T_U32,
     AT(analyst_threads),
     1,
     RW_POOL_THREADS_MAX},
    {{"analyst_queue", "8",
      "pictures and exports waiting for a thread at most; more are answered 503 with Retry-After"},
     T_U32,
     AT(analyst_queue),
     0,
     100000},
    {{"max_body_bytes", "1048576", "larger request bodies are refused with 413"},
     T_U64,
     AT(max_body_bytes),
     64,
     1073741824.0},
    {{"connection_memory_bytes", "16384",
      "memory pool per connection (request line and headers must fit; libmicrohttpd clears it for each request)"},
     T_U64,
     AT(connection_memory_bytes),
     8192,
     16777216.0},
    {{"fsync", "on",
      "on: a signup is answered after its group commit's fsync (it survives a power loss); off: after the "
      "write to the OS (it survives a crash of ringwatch, kill -9, not of the machine), for slow disks"},
     T_ONOFF,
     AT(fsync),
     0,
     0},
    {{"max_batch_events", "10000", "events in one POST /v1/events at most"}, T_U32, AT(max_batch_events), 1, 1000000},
    {{"review_threshold", "0.60", "signups scoring at least this are reviewed"}, /* RW_ONLINE_REVIEW */
     T_DOUBLE,
     AT(review_threshold),
     0.001,
     1},
    {{"block_threshold", "0.85", "signups scoring at least this are blocked"},
     /* RW_ONLINE_BLOCK */ T_DOUBLE,
     AT(block_threshold),
     0.001,
     1},
    {{"rescore_at", "", "HH:MM local time of the nightly rescoring (empty: none)"}, T_CLOCK, AT(rescore_at), 0, 0},
    {{"rescore_threads", "0",
      "threads the rescoring's detectors use (0: one per processor, at most 8; 1 leaves the other cores to "
      "signups while it runs; the run is the same with any number)"},
     T_U32,
     AT(rescore_threads),
     0,
     RW_PAR_MAX},
    {{"rescore_command", "",
      "run the rescoring (nightly and POST /v1/rescore) out of process: this command, given --db COPY --key-file KEY "
      "(a consistent copy the server writes beside db), e.g. mpirun -np 8 --hostfile /etc/ringwatch/hosts ringwatch "
      "rescore --mpi; the run it publishes in the copy is brought back (empty: in this process)"},
     T_TEXT,
     AT(rescore_command),
     0,
     0},
    {{"retention_days", "0",
      "the nightly job first erases accounts and edges not seen for this many days (0: keep forever)"},
     T_U32,
     AT(retention_days),
     0,
     36500},
    {{"distill", "on",
      "on: after each nightly rescoring a candidate signup model is fitted on the logged features, scored in shadow, "
      "then promoted or rejected; off: features are logged and the model in force stays"},
     T_ONOFF,
     AT(distill),
     0,
     0},
    {{"feature_log_days", "14",
      "days of signups whose features are kept as scored (then erased) and learnt from"}, /* RW_LEARN_DAYS */
     T_U32,
     AT(feature_log_days),
     1,
     3650},
    {{"shadow_hours", "24", "a candidate scores signups in shadow this long before the nightly job decides on it"},
     T_DOUBLE,
     AT(shadow_hours),
     0.01,
     8760},
    {{"min_ring_rows", "200",
      "cold start: no candidate is fitted before the logged signups hold this many ring accounts (by the run or "
      "analysts' labels)"}, /* RW_LEARN_MIN_POS */
     T_U32,
     AT(min_ring_rows),
     1,
     100000000},
    {{"min_other_rows", "2000", "... and this many other labelled accounts"}, /* RW_LEARN_MIN_NEG */
     T_U32,
     AT(min_other_rows),
     1,
     100000000},
    {{"min_history_days", "7",
      "... and this many days since the first account: runs on a younger graph mistake crowds for farms"},
     /* RW_LEARN_MIN_HISTORY */
     T_DOUBLE,
     AT(min_history_days),
     0.001,
     3650},
    {{"review_jump", "2",
      "a candidate reviewing more than this many times the share of signups the model in force reviews is rejected"},
     T_DOUBLE,
     AT(review_jump),
     1,
     1000},
    {{"drift_level", "0.25",
      "population stability index (last day against the training window) above which a feature has drifted"},
     T_DOUBLE,
     AT(drift_level),
     0.001,
     100},
    {{"signup_base_model", "",
      "a signup model file (ringwatch model fit-online output) used in place of the shipped one: the cold-start "
      "model, the nightly checks' reference and the base of every candidate (empty: the shipped model)"},
     T_TEXT,
     AT(signup_base_model),
     0,
     0},
    {{"benign_budget", "0.001",
      "share of the run's other signups a learnt model may review: candidates are calibrated to it and promoted "
      "within it"}, /* RW_LEARN_BENIGN_BUDGET */
     T_DOUBLE,
     AT(benign_budget),
     0.000001,
     0.5},
    {{"token_signup", "", "bearer tokens of the signup flow (comma-separated)"}, T_TOKENS, AT(token_signup), 0, 0},
    {{"token_analyst", "", "bearer tokens of analysts"}, T_TOKENS, AT(token_analyst), 0, 0},
    {{"token_admin", "", "bearer tokens of operators (every endpoint)"}, T_TOKENS, AT(token_admin), 0, 0},
    {{"token_metrics", "", "bearer tokens that may read /metrics only"}, T_TOKENS, AT(token_metrics), 0, 0},
    {{"auth", "on", "off: no bearer tokens at all (only behind another gate)"}, T_ONOFF, AT(auth), 0, 0},
    {{"log_level", "info", "error, info or debug (debug: one line per request)"}, T_LEVEL, AT(log_level), 0, 0},
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

static const char *const levels[] = {"error", "info", "debug"};

const rw_config_doc *rw_config_doc_at(size_t i) {
    return i < NSETTINGS ? &settings[i].doc : NULL;
}

/* A token is an RFC 6750 b64token; short ones are guessable. */
static int token_ok(const char *t, size_t n) {
    if (n < 16 || n > 512) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)t[i];
        if (!isalnum(ch) && !strchr("-._~+/=", ch)) return 0;
    }
    return 1;
}

static rw_status check_tokens(const char *key, const char *v, rw_err *err) {
    const char *p = v;
    int k = 0;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t')) p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        k++;
        size_t name_len = 0, at = 0;
        int named = memchr(p, ':', n) != NULL;
        if (named && rw_auth_split(p, n, &name_len, &at) != 0)
            return rw_fail(err, RW_ERR_INVALID,
                           "%s: token %d: the name before ':' must be 1 to %d characters of A-Z a-z 0-9 - . _", key, k,
                           RW_AUTH_NAME);
        if (!token_ok(p + at, n - at))
            return rw_fail(err, RW_ERR_INVALID,
                           "%s: token %d must be 16 to 512 characters of A-Z a-z 0-9 - . _ ~ + / = (after NAME: when "
                           "named)",
                           key, k);
        if (!end) break;
        p = end + 1;
    }
    return RW_OK;
}

static rw_status parse_number(double *out, const setting *s, const char *v, rw_err *err) {
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(d))
        return rw_fail(err, RW_ERR_INVALID, "%s: expected a number, got '%.64s'", s->doc.key, v);
    if (s->t != T_DOUBLE && (d != floor(d) || strpbrk(v, ".eExX")))
        return rw_fail(err, RW_ERR_INVALID, "%s: expected a whole number, got '%.64s'", s->doc.key, v);
    if (d < s->min || d > s->max)
        return rw_fail(err, RW_ERR_INVALID, "%s: %.64s is out of range [%.17g, %.17g]", s->doc.key, v, s->min, s->max);
    *out = d;
    return RW_OK;
}

static rw_status parse_clock(int *out, const char *v, rw_err *err) {
    if (!*v) {
        *out = -1;
        return RW_OK;
    }
    int ok = strlen(v) == 5 && isdigit((unsigned char)v[0]) && isdigit((unsigned char)v[1]) && v[2] == ':' &&
             isdigit((unsigned char)v[3]) && isdigit((unsigned char)v[4]);
    int h = ok ? (v[0] - '0') * 10 + v[1] - '0' : 0, m = ok ? (v[3] - '0') * 10 + v[4] - '0' : 0;
    if (!ok || h > 23 || m > 59)
        return rw_fail(err, RW_ERR_INVALID, "rescore_at: expected HH:MM (00:00 to 23:59) or nothing, got '%.64s'", v);
    *out = h * 60 + m;
    return RW_OK;
}

static rw_status set_one(rw_config *c, const setting *s, const char *v, rw_err *err) {
    char *at = (char *)c + s->off;
    double d = 0;
    rw_status st = RW_OK;
    switch (s->t) {
        case T_TOKENS:
            st = check_tokens(s->doc.key, v, err);
            if (st != RW_OK) return st;
            goto text;
        case T_CIDRS: {
            rw_cidr nets[RW_TRUSTED_MAX];
            size_t n = 0;
            st = rw_cidr_parse(nets, RW_TRUSTED_MAX, &n, v, err);
            if (st != RW_OK) {
                rw_err_prefix(err, "%s: ", s->doc.key);
                return st;
            }
        }
            /* fall through */
        text:
        case T_TEXT:
            if (strlen(v) >= s->size)
                return rw_fail(err, RW_ERR_INVALID, "%s: longer than %zu bytes", s->doc.key, s->size - 1);
            memcpy(at, v, strlen(v) + 1);
            return RW_OK;
        case T_U32:
        case T_U64:
        case T_DOUBLE:
            st = parse_number(&d, s, v, err);
            if (st != RW_OK) return st;
            if (s->t == T_U32)
                *(uint32_t *)(void *)at = (uint32_t)d;
            else if (s->t == T_U64)
                *(uint64_t *)(void *)at = (uint64_t)d;
            else
                *(double *)(void *)at = d;
            return RW_OK;
        case T_CLOCK:
            return parse_clock((int *)(void *)at, v, err);
        case T_ONOFF:
            if (strcmp(v, "on") && strcmp(v, "off"))
                return rw_fail(err, RW_ERR_INVALID, "%s: expected on or off, got '%.64s'", s->doc.key, v);
            *(int *)(void *)at = !strcmp(v, "on");
            return RW_OK;
        case T_LEVEL:
            for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
                if (!strcmp(v, levels[i])) {
                    *(rw_log_level *)(void *)at = (rw_log_level)i;
                    return RW_OK;
                }
            return rw_fail(err, RW_ERR_INVALID, "%s: expected error, info or debug, got '%.64s'", s->doc.key, v);
    }
    return rw_fail(err, RW_ERR_INTERNAL, "%s: unknown setting type", s->doc.key);
}

void rw_config_defaults(rw_config *c) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NSETTINGS; i++) {
        rw_status st = set_one(c, &settings[i], settings[i].doc.def, NULL);
        (void)st; /* the defaults are valid: tests/http/test_config.c checks it */
    }
}

static const setting *find(const char *key) {
    for (size_t i = 0; i < NSETTINGS; i++)
        if (!strcmp(settings[i].doc.key, key)) return &settings[i];
    return NULL;
}

rw_status rw_config_set(rw_config *c, const char *key, const char *value, rw_err *err) {
    const setting *s = find(key);
    if (!s) return rw_fail(err, RW_ERR_INVALID, "%.64s: unknown setting", key);
    return set_one(c, s, value, err);
}

/* Copies [p, p+n) trimmed of blanks into out (size bytes); 0 if it fits. */
static int copy_trimmed(char *out, size_t size, const char *p, size_t n) {
    while (n && (*p == ' ' || *p == '\t')) p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r')) n--;
    if (n >= size) return -1;
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

/* One line without its newline; "" for blank lines and comments. */
static rw_status parse_line(rw_config *c, const char *line, size_t n, rw_err *err) {
    char k[128], *v = malloc(RW_CONFIG_TOKEN + 2);
    rw_status st = RW_OK;
    if (!v) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    if (memchr(line, '\0', n)) {
        st = rw_fail(err, RW_ERR_INVALID, "NUL byte in line");
        goto done;
    }
    if (copy_trimmed(v, RW_CONFIG_TOKEN + 2, line, n) != 0) {
        st = rw_fail(err, RW_ERR_INVALID, "line longer than %d bytes", RW_CONFIG_TOKEN);
        goto done;
    }
    if (!v[0] || v[0] == '#' || v[0] == ';') goto done;
    if (v[0] == '[') {
        if (strcmp(v, "[server]") != 0) st = rw_fail(err, RW_ERR_INVALID, "%.64s: unknown section (only [server])", v);
        goto done;
    }
    const char *eq = memchr(line, '=', n);
    if (!eq) {
        st = rw_fail(err, RW_ERR_INVALID, "expected key = value");
        goto done;
    }
    if (copy_trimmed(k, sizeof k, line, (size_t)(eq - line)) != 0 || !k[0]) {
        st = rw_fail(err, RW_ERR_INVALID, "expected key = value");
        goto done;
    }
    copy_trimmed(v, RW_CONFIG_TOKEN + 2, eq + 1, n - (size_t)(eq - line) - 1);
    size_t vl = strlen(v);
    if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') { /* quotes keep blanks and # inside a value */
        memmove(v, v + 1, vl - 2);
        v[vl - 2] = 0;
    } else if (vl && (v[0] == '"' || v[vl - 1] == '"')) {
        st = rw_fail(err, RW_ERR_INVALID, "%s: unbalanced double quote", k);
        goto done;
    }
    st = rw_config_set(c, k, v, err);
done:
    free(v);
    return st;
}

rw_status rw_config_parse(rw_config *c, const char *name, const char *text, size_t len, rw_err *err) {
    size_t pos = 0, lineno = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        lineno++;
        rw_status st = parse_line(c, text + pos, n, err);
        if (st != RW_OK) {
            rw_err_prefix(err, "%s:%zu: ", name, lineno);
            return st;
        }
        pos += n + 1;
    }
    return RW_OK;
}

rw_status rw_config_env(rw_config *c, const char *(*get)(const char *name), rw_err *err) {
    for (size_t i = 0; i < NSETTINGS; i++) {
        char name[64] = "RINGWATCH_";
        size_t at = strlen(name);
        for (const char *k = settings[i].doc.key; *k && at + 1 < sizeof name; k++)
            name[at++] = (char)toupper((unsigned char)*k);
        name[at] = 0;
        const char *v = get(name);
        if (!v) continue;
        rw_status st = set_one(c, &settings[i], v, err);
        if (st != RW_OK) {
            rw_err_prefix(err, "%s: ", name);
            return st;
        }
    }
    return RW_OK;
}

rw_status rw_config_check(const rw_config *c, rw_err *err) {
    if (c->review_threshold > c->block_threshold)
        return rw_fail(err, RW_ERR_INVALID, "review_threshold: %g is above block_threshold %g", c->review_threshold,
                       c->block_threshold);
    if (c->connection_limit < c->threads) /* MHD splits the limit across its threads */
        return rw_fail(err, RW_ERR_INVALID, "connection_limit: %u is below threads (%u)", c->connection_limit,
                       c->threads);
    if (!c->listen[0]) return rw_fail(err, RW_ERR_INVALID, "listen: empty");
    if (!c->db[0]) return rw_fail(err, RW_ERR_INVALID, "db: empty");
    if (c->retention_days && c->rescore_at < 0)
        return rw_fail(err, RW_ERR_INVALID,
                       "retention_days: the nightly job applies it, but rescore_at sets no time for that job");
    if (c->auth && !c->token_signup[0] && !c->token_analyst[0] && !c->token_admin[0] && !c->token_metrics[0])
        return rw_fail(err, RW_ERR_INVALID,
                       "auth: no token is configured (token_signup, token_analyst, token_admin, token_metrics); "
                       "set some, or run without authentication with --insecure-no-auth (auth = off)");
    return RW_OK;
}

/* Does text set any token? Parsed on a scratch copy so nothing is applied
 * before the file's mode is judged. */
static rw_status sets_token(int *out, const char *name, const char *text, size_t len, rw_err *err) {
    *out = 0;
    rw_config *scratch = malloc(sizeof *scratch);
    if (!scratch) return rw_fail(err, RW_ERR_NOMEM, "out of memory");
    rw_config_defaults(scratch);
    rw_status st = rw_config_parse(scratch, name, text, len, err);
    if (st == RW_OK)
        *out = scratch->token_signup[0] || scratch->token_analyst[0] || scratch->token_admin[0] ||
               scratch->token_metrics[0];
    explicit_bzero(scratch, sizeof *scratch);
    free(scratch);
    return st;
}

rw_status rw_config_parse_file(rw_config *c, const char *name, const char *text, size_t len, unsigned mode,
                               rw_err *err) {
    int tokens = 0;
    rw_status st = sets_token(&tokens, name, text, len, err);
    if (st != RW_OK) return st;
    /* Anyone who can read a token can call what it allows. */
    if (tokens && (mode & (S_IRGRP | S_IROTH)))
        return rw_fail(err, RW_ERR_PERM,
                       "%s: holds bearer tokens and is readable by %s (mode %03o); make it readable by its owner "
                       "only: chmod 600 %s",
                       name,
                       (mode & S_IRGRP) && (mode & S_IROTH) ? "group and others"
                       : mode & S_IRGRP                     ? "its group"
                                                            : "others",
                       mode & 0777u, name);
    return rw_config_parse(c, name, text, len, err);
}
