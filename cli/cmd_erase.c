/* ringwatch erase, retain: erasure of one account and retention by age,
 * each in one durable transaction that leaves no copy of an erased id in the
 * database or its WAL. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "engine.h"

#define SERVER_NOTE                                                                                                    \
    "Run it while no server has the database open: a running server keeps the graph\n"                                 \
    "in memory and would not see the erasure (use DELETE /v1/accounts/{id} there,\n"                                   \
    "and retention_days for its nightly job).\n"

static const char erase_help[] = "usage: ringwatch erase [--db PATH] [--key-file PATH] ACCOUNT\n\n"
                                 "Erases an account: its events, its rows in every run, its labels and every\n"
                                 "IP, device, card and subnet no other account uses, in one durable transaction\n"
                                 "(secure_delete on), then checkpoints and truncates the WAL, so the account id\n"
                                 "is gone from the database files. Other nodes keep their ids. Exit 1 (\"no\n"
                                 "account ...\") when the database holds no such account.\n\n" SERVER_NOTE;

static const char retain_help[] = "usage: ringwatch retain [--db PATH] [--key-file PATH] --days N [--now UNIX_TS]\n\n"
                                  "Retention: erases every account not seen in the N days before --now (default:\n"
                                  "the current time; give the end of a simulated world's event time to age it),\n"
                                  "every event older than that, and the attributes left without events, with the\n"
                                  "same guarantees as erase.\n\n" SERVER_NOTE;

static void print_stats(const char *what, const rw_erase_stats *s) {
    printf("%s: %llu accounts, %llu events, %llu attributes, %llu run rows, %llu labels erased in %.2f s\n", what,
           (unsigned long long)s->accounts, (unsigned long long)s->events, (unsigned long long)s->attributes,
           (unsigned long long)s->run_rows, (unsigned long long)s->labels, s->seconds);
    if (s->wal_pending)
        fprintf(stderr,
                "%s: the erasure is durable, but another connection was reading an older snapshot: the old pages "
                "stay in the database's files until it ends (tried again on closing; every command that writes "
                "the database tries again)\n",
                what);
}

/* Parses --db and --key-file (and, for retain, --days and --now); returns
 * -1 after printing help (exit 0) or an error (exit 2): *code says which. */
typedef struct {
    const char *db, *key;
    uint64_t days, now;
    int have_days;
} flags;

static int parse(int argc, char **argv, const char *cmd, const char *help, flags *f, int *code) {
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},   {"key-file", required_argument, 0, 'k'},
                                         {"days", required_argument, 0, 'D'}, {"now", required_argument, 0, 'n'},
                                         {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
    int retain = !strcmp(cmd, "retain"), c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'd':
                f->db = optarg;
                break;
            case 'k':
                f->key = optarg;
                break;
            case 'D':
                if (!retain || rw_cli_parse_u64(optarg, &f->days) || f->days < 1 || f->days > 36500) {
                    rw_cli_error(cmd,
                                 retain ? "--days: expected a whole number from 1 to 36500, got '%s'"
                                        : "--days: not an option of erase ('%s')",
                                 optarg);
                    *code = RW_EXIT_USAGE;
                    return -1;
                }
                f->have_days = 1;
                break;
            case 'n':
                if (!retain || rw_cli_parse_u64(optarg, &f->now) || f->now > UINT32_MAX) {
                    rw_cli_error(
                        cmd, retain ? "--now: expected Unix seconds, got '%s'" : "--now: not an option of erase ('%s')",
                        optarg);
                    *code = RW_EXIT_USAGE;
                    return -1;
                }
                break;
            case 'h':
                fputs(help, stdout);
                *code = RW_EXIT_OK;
                return -1;
            default:
                fputs(help, stderr);
                *code = RW_EXIT_USAGE;
                return -1;
        }
    }
    return 0;
}

int rw_cmd_erase(int argc, char **argv) {
    flags f = {0};
    int code = RW_EXIT_OK;
    if (parse(argc, argv, "erase", erase_help, &f, &code) != 0) return code;
    if (optind + 1 != argc) {
        rw_cli_error("erase", optind == argc ? "expected the ACCOUNT to erase" : "unexpected argument '%s'",
                     argv[argc - 1]);
        return RW_EXIT_USAGE;
    }
    const char *account = argv[optind];
    rw_engine *e = rw_cli_open_engine("erase", f.db, f.key, RW_CLI_WRITER);
    if (!e) return RW_EXIT_FAIL;
    rw_erase_stats s;
    rw_err err = {{0}};
    rw_status st = rw_engine_erase_account(e, account, strlen(account), &s, &err);
    rw_engine_close(e);
    if (st == RW_ERR_NOTFOUND) {
        rw_cli_error("erase", "no account with that id in %s; nothing was erased", rw_cli_db_path(f.db));
        return RW_EXIT_FAIL;
    }
    if (st != RW_OK) {
        rw_cli_error("erase", "%s", err.msg);
        return RW_EXIT_FAIL;
    }
    print_stats("erase", &s);
    return RW_EXIT_OK;
}

int rw_cmd_retain(int argc, char **argv) {
    flags f = {0};
    int code = RW_EXIT_OK;
    if (parse(argc, argv, "retain", retain_help, &f, &code) != 0) return code;
    if (optind != argc) {
        rw_cli_error("retain", "unexpected argument '%s'", argv[optind]);
        return RW_EXIT_USAGE;
    }
    if (!f.have_days) {
        rw_cli_error("retain", "--days N is required");
        return RW_EXIT_USAGE;
    }
    int64_t now = f.now ? (int64_t)f.now : (int64_t)time(NULL);
    int64_t cutoff = now - (int64_t)f.days * 86400;
    rw_engine *e = rw_cli_open_engine("retain", f.db, f.key, RW_CLI_WRITER);
    if (!e) return RW_EXIT_FAIL;
    rw_erase_stats s;
    rw_err err = {{0}};
    rw_status st = rw_engine_retain(e, cutoff, &s, &err);
    rw_engine_close(e);
    if (st != RW_OK) {
        rw_cli_error("retain", "%s", err.msg);
        return RW_EXIT_FAIL;
    }
    char when[32];
    rw_time_format(when, sizeof when, cutoff);
    printf("retain: kept what was seen since %s\n", when);
    print_stats("retain", &s);
    return RW_EXIT_OK;
}
