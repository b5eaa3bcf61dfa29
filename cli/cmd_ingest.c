/* ringwatch ingest: load a JSON-lines file (or stdin) into the database. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"

#define MAX_PRINTED_BAD 1000

static const char help[] =
    "usage: ringwatch ingest [--db PATH] [--key-file PATH] [--strict] [--max-bad N] [--quiet] FILE|-\n\n"
    "Loads events, one JSON object per line, from FILE (or standard input for -).\n"
    "A bad line is reported as FILE:LINE: field: what is wrong, skipped and counted;\n"
    "the rest loads. With --strict the first bad line stops the ingest and nothing\n"
    "of the file is kept.\n\n"
    "  --db PATH        database (default $RINGWATCH_DB or ./ringwatch.db)\n"
    "  --key-file PATH  hashing key (default $RINGWATCH_KEY_FILE or DB.key; created if missing)\n"
    "  --strict         all or nothing\n"
    "  --max-bad N      give up after N bad lines (default: no limit)\n"
    "  --quiet          no progress bar and no per-line errors\n\n"
    "exit codes: 0 all lines loaded, 1 failed, 2 usage, 3 loaded but some lines were bad\n";

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
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"key-file", required_argument, 0, 'k'},
                                         {"strict", no_argument, 0, 's'},
                                         {"max-bad", required_argument, 0, 'm'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = NULL, *key = NULL;
    rw_ingest_opts io = {0};
    ui u = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'd':
                db = optarg;
                break;
            case 'k':
                key = optarg;
                break;
            case 's':
                io.strict = 1;
                break;
            case 'q':
                u.quiet = 1;
                break;
            case 'm':
                if (rw_cli_parse_u64(optarg, &io.max_bad_lines) != 0) {
                    rw_cli_error("ingest", "--max-bad: expected a whole number, got '%s'", optarg);
                    return RW_EXIT_USAGE;
                }
                break;
            case 'h':
                fputs(help, stdout);
                return RW_EXIT_OK;
            default:
                fputs(help, stderr);
                return RW_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        rw_cli_error("ingest", "expected one FILE (or - for standard input)");
        fputs(help, stderr);
        return RW_EXIT_USAGE;
    }
    const char *path = argv[optind];
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
