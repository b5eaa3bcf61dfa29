/* ringwatch ingest: load a JSON-lines file (or stdin) into the database. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"

#define MAX_PRINTED_BAD 1000

typedef struct {
    const char *db, *key;
    uint64_t max_bad;
    int strict, quiet;
} ingest_opts;

static const rw_cli_opt ingest_tab[] = {
    RW_OPT_DB(ingest_opts, db),
    {.name = "key-file",
     .arg = "PATH",
     .help = "hashing key (default $RINGWATCH_KEY_FILE or DB.key; created if missing)",
     .kind = RW_OPT_TEXT,
     .at = offsetof(ingest_opts, key)},
    {.name = "strict", .arg = NULL, .help = "all or nothing", .kind = RW_OPT_FLAG, .at = offsetof(ingest_opts, strict)},
    {.name = "max-bad",
     .arg = "N",
     .help = "give up after N bad lines (default: no limit)",
     .kind = RW_OPT_U64,
     .at = offsetof(ingest_opts, max_bad)},
    {.name = "quiet",
     .arg = NULL,
     .help = "no progress bar and no per-line errors",
     .kind = RW_OPT_FLAG,
     .at = offsetof(ingest_opts, quiet)},
    {.name = NULL}};

const rw_cli_spec rw_spec_ingest = {
    "ingest",
    "FILE|-",
    "Loads events, one JSON object per line, from FILE (or standard input for -).\n"
    "A bad line is reported as FILE:LINE: field: what is wrong, skipped and counted;\n"
    "the rest loads. With --strict the first bad line stops the ingest and nothing\n"
    "of the file is kept.\n\n"
    "Exit codes: 0 all lines loaded, 1 failed, 2 usage, 3 loaded but some lines were bad.\n",
    ingest_tab,
    1,
    1,
    NULL};

typedef struct {
    int tty;
    int quiet;
    uint64_t printed;
    int bar_shown;
} ui;

static void on_bad_line(void *ctx, const char *msg) {
    ui *u = ctx;
    if (u->quiet) return;
    if (u->bar_shown) {
        fputs("\r\033[K", stderr);
        u->bar_shown = 0;
    }
    if (u->printed < MAX_PRINTED_BAD)
        fprintf(stderr, "%s\n", msg);
    else if (u->printed == MAX_PRINTED_BAD)
        fprintf(stderr, "(further bad lines are counted but not printed)\n");
    u->printed++;
}

static void on_progress(void *ctx, const rw_ingest_stats *s, uint64_t total) {
    ui *u = ctx;
    if (!u->tty || u->quiet) return;
    double rate = s->seconds > 0 ? (double)s->events / s->seconds : 0;
    if (total) {
        int pct = (int)(100.0 * (double)s->bytes / (double)total);
        if (pct > 100) pct = 100;
        char bar[31];
        memset(bar, '#', 30);
        memset(bar + pct * 30 / 100, '.', 30 - pct * 30 / 100);
        bar[30] = 0;
        fprintf(stderr, "\r[%s] %3d%% %llu events", bar, pct, (unsigned long long)s->events);
    } else {
        fprintf(stderr, "\r%llu events", (unsigned long long)s->events);
    }
    if (rate > 0) fprintf(stderr, " %.0f/s", rate);
    fputs("\033[K", stderr);
    u->bar_shown = 1;
}

int rw_cmd_ingest(int argc, char **argv) {
    ingest_opts o = {0};
    int nargs, rc = rw_cli_parse(&rw_spec_ingest, &o, argc, argv, &nargs);
    if (rc >= 0) return rc;
    const char *db = o.db, *key = o.key;
    rw_ingest_opts io = {.strict = o.strict, .max_bad_lines = o.max_bad};
    ui u = {.quiet = o.quiet};
    const char *path = argv[1];
    int is_stdin = !strcmp(path, "-");
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rw_cli_error("ingest", "cannot open %s: %s", path, strerror(errno));
        return RW_EXIT_FAIL;
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) io.bytes_total = (uint64_t)sb.st_size;
    if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        rw_cli_error("ingest", "%s is a directory", path);
        close(fd);
        return RW_EXIT_FAIL;
    }
    u.tty = isatty(STDERR_FILENO);
    io.on_bad_line = on_bad_line;
    io.on_progress = on_progress;
    io.ctx = &u;

    rw_err err = {{0}};
    rw_engine *e = rw_cli_open_engine("ingest", db, key, RW_CLI_WRITER);
    if (!e) {
        if (!is_stdin) close(fd);
        return RW_EXIT_FAIL;
    }
    rw_status st;
    rw_ingest_stats s;
    const char *name = is_stdin ? "<stdin>" : path;
    st = rw_engine_ingest_fd(e, &s, fd, name, &io, &err);
    if (u.bar_shown) fputs("\r\033[K", stderr);
    if (!is_stdin) close(fd);
    rw_engine_close(e);
    if (st != RW_OK) {
        rw_cli_error("ingest", "%s", err.msg);
        return RW_EXIT_FAIL;
    }
    if (s.lines == 0) fprintf(stderr, "ringwatch ingest: %s is empty: no events\n", name);
    printf("%s: %llu events, %llu new accounts, %llu new attributes, %llu new edges, %llu bad lines, "
           "%llu unknown keys, %.0f events/s, peak RSS %.0f MB\n",
           name, (unsigned long long)s.events, (unsigned long long)s.new_accounts, (unsigned long long)s.new_attributes,
           (unsigned long long)s.new_edges, (unsigned long long)s.bad_lines, (unsigned long long)s.unknown_keys,
           s.seconds > 0 ? (double)s.events / s.seconds : 0.0, (double)rw_peak_rss() / 1e6);
    return s.bad_lines ? RW_EXIT_PARTIAL : RW_EXIT_OK;
}
