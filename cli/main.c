/* ringwatch: entry point and subcommand table. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"

static const rw_cli_command commands[] = {
    {"ingest", "load events from a JSON-lines file into the database", rw_cmd_ingest, &rw_spec_ingest, 1},
    {"stats", "counts, degree distribution per kind and the largest hubs", rw_cmd_stats, &rw_spec_stats, 0},
    {"simulate", "write a synthetic world (events and ground truth)", rw_cmd_simulate, &rw_spec_simulate, 0},
    {"rescore", "run the batch detectors and write a new run", rw_cmd_rescore, &rw_spec_rescore, 1},
    {"clusters", "list the clusters of a run, highest score first", rw_cmd_clusters, &rw_spec_clusters, 0},
    {"scores", "write every account's score in a run as CSV", rw_cmd_scores, &rw_spec_scores, 0},
    {"explain", "why an account or a cluster scored as it did", rw_cmd_explain, &rw_spec_explain, 0},
    {"eval", "precision, recall and more against a ground-truth file", rw_cmd_eval, &rw_spec_eval, 0},
    {"model", "show the scoring model, or fit one from a ground-truth file", rw_cmd_model, &rw_spec_model, 0},
    {"replay", "run history through the online signup path and write its decisions", rw_cmd_replay, &rw_spec_replay, 1},
    {"export", "write clusters as GraphML, CSV, JSON, a Jupyter notebook or SVG", rw_cmd_export, &rw_spec_export, 0},
    {"serve", "the HTTP server: signup decisions, lookups, labels, rescoring jobs", rw_cmd_serve, &rw_spec_serve, 0},
    {"erase", "erase an account and what only it used, leaving no trace in the files", rw_cmd_erase, &rw_spec_erase, 0},
    {"retain", "erase accounts and edges not seen within the last N days", rw_cmd_retain, &rw_spec_retain, 0},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fprintf(f, "usage: ringwatch COMMAND [OPTIONS]\n\n"
               "ringwatch finds bulk-signup clusters and fraud rings in a graph of accounts,\n"
               "IP addresses, devices and payment tokens.\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`ringwatch COMMAND --help` describes a command; `ringwatch help --man` prints the man page;\n"
               "`ringwatch --version` the version, git commit and library versions.\n\n"
               "exit codes: 0 ok, 1 failed, 2 usage error, 3 done but some input lines were bad\n");
}

/* The man page: every command's section from its option table. */
static void man(FILE *f) {
    fputs(".TH RINGWATCH 1 \"\" \"ringwatch\" \"User Commands\"\n"
          ".SH NAME\nringwatch \\- find bulk\\-signup clusters and fraud rings\n"
          ".SH SYNOPSIS\n.B ringwatch\n.I COMMAND\n[\\fIOPTIONS\\fR]\n"
          ".SH DESCRIPTION\n"
          "ringwatch finds bulk\\-signup clusters and fraud rings in a graph of accounts,\n"
          "IP addresses, devices and payment tokens.\n.SH COMMANDS\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        fputs(".TP\n\\fB", f);
        rw_cli_roff(f, commands[i].name);
        fputs("\\fR\n", f);
        rw_cli_roff(f, commands[i].summary);
        fputc('\n', f);
    }
    fputs(".SH OPTIONS\nOptions are long only: \\fB\\-\\-name value\\fR or \\fB\\-\\-name=value\\fR;\n"
          "\\fB\\-\\-help\\fR after a command describes it.\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++) rw_cli_man(commands[i].spec, f);
    fputs(".SH ENVIRONMENT\n.TP\n.B RINGWATCH_DB\nthe database when \\-\\-db is not given\n"
          ".TP\n.B RINGWATCH_KEY_FILE\nthe hashing key when \\-\\-key\\-file is not given\n"
          ".TP\n.B RINGWATCH_<KEY>\na setting of \\fBserve\\fR\n"
          ".SH EXIT STATUS\n0 ok, 1 failed, 2 usage error, 3 done but some input lines were bad.\n"
          ".SH FILES\n.TP\n.I ringwatch.conf\nthe settings of \\fBserve\\fR with their defaults, commented\n",
          f);
}

/* ringwatch help [COMMAND | --man]; returns the exit code. */
static int help(int argc, char **argv) {
    if (argc < 3) {
        usage(stdout);
        return RW_EXIT_OK;
    }
    if (!strcmp(argv[2], "--man")) {
        man(stdout);
        return RW_EXIT_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[2], commands[i].name)) {
            rw_cli_help(commands[i].spec, stdout);
            return RW_EXIT_OK;
        }
    fprintf(stderr, "ringwatch help: '%s' is not a command (ringwatch --help lists them)\n", argv[2]);
    return RW_EXIT_USAGE;
}

const char *rw_cli_db_path(const char *flag) {
    if (flag) return flag;
    const char *env = getenv("RINGWATCH_DB");
    return env && *env ? env : "ringwatch.db";
}

const char *rw_cli_key_path(const char *flag) {
    if (flag) return flag;
    const char *env = getenv("RINGWATCH_KEY_FILE");
    return env && *env ? env : NULL;
}

int rw_cli_parse_u64(const char *s, uint64_t *out) {
    char *end = NULL;
    if (!s || !*s || *s == '-') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end) return -1;
    *out = v;
    return 0;
}

rw_engine *rw_cli_open_engine(const char *cmd, const char *db, const char *key, int flags) {
    rw_err err = {{0}};
    rw_engine *e = NULL;
    rw_engine_config cfg = {.db_path = rw_cli_db_path(db),
                            .key_path = rw_cli_key_path(key),
                            .readonly = (flags & RW_CLI_READONLY) != 0,
                            .store_only = (flags & RW_CLI_STORE_ONLY) != 0,
                            .writer = flags & RW_CLI_WRITER ? cmd : NULL,
                            .batch_only = (flags & RW_CLI_BATCH_ONLY) != 0};
    if (rw_engine_open(&e, &cfg, &err) != RW_OK) rw_cli_error(cmd, "%s", err.msg);
    return e;
}

int rw_cli_exit_code(rw_status st) {
    return st == RW_OK ? RW_EXIT_OK : RW_EXIT_FAIL;
}

/* glibc puts malloc's memory on transparent huge pages (where the kernel
 * offers them on request, its default "madvise" mode) only when
 * GLIBC_TUNABLES asks for it, and reads that once at start-up; so a command
 * that touches hundreds of megabytes re-executes itself once with it set.
 * Each first touch of a 4 KiB page costs microseconds (more under a
 * hypervisor), and a rescoring of a million accounts touches about 176,000
 * of them; with huge pages it touches a few thousand (docs/BENCHMARKS.md
 * has the figures). Not the
 * server: a fault on a huge page may wait for the kernel to compact memory,
 * which a signup must not (its rescoring's big arrays ask for huge pages
 * themselves). Set RINGWATCH_HUGE_PAGES=0 to run without. Sanitizer builds
 * keep their own allocator, so there is nothing to gain there. */
static void use_huge_pages(char **argv) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    (void)argv;
#else
    const char *off = getenv("RINGWATCH_HUGE_PAGES");
    const char *t = getenv("GLIBC_TUNABLES");
    if ((off && !strcmp(off, "0")) || (t && strstr(t, "glibc.malloc.hugetlb"))) return;
    char want[1024];
    int n = snprintf(want, sizeof want, "%s%sglibc.malloc.hugetlb=1", t && *t ? t : "", t && *t ? ":" : "");
    if (n < 0 || (size_t)n >= sizeof want || setenv("GLIBC_TUNABLES", want, 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("GLIBC_TUNABLES"); /* could not: go on as we are */
    if (t) setenv("GLIBC_TUNABLES", t, 1);
#endif
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return RW_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return RW_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        rw_cli_version(stdout);
        return RW_EXIT_OK;
    }
    if (!strcmp(argv[1], "help")) return help(argc, argv);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name)) continue;
        if (commands[i].big) use_huge_pages(argv);
        return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "ringwatch: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return RW_EXIT_USAGE;
}
