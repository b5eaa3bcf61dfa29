/* ringwatch erase, retain: erasure of one account and retention by age,
 * each in one durable transaction that leaves no copy of an erased id in the
 * database or its WAL. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "engine.h"

#define SERVER_NOTE                                                                                                    \
    "Run it while no server has the database open: a running server keeps the graph\n"                                 \
    "in memory and would not see the erasure (use DELETE /v1/accounts/{id} there,\n"                                   \
    "and retention_days for its nightly job).\n"

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

typedef struct {
    const char *db, *key;
    uint64_t days, now;
} flags;

static const rw_cli_opt erase_tab[] = {RW_OPT_DB(flags, db), RW_OPT_KEY(flags, key), {.name = NULL}};

static const rw_cli_opt retain_tab[] = {RW_OPT_DB(flags, db),
                                        RW_OPT_KEY(flags, key),
                                        {.name = "days",
                                         .arg = "N",
                                         .help = "keep what was seen in the last N days (1 to 36500)",
                                         .kind = RW_OPT_U64,
                                         .at = offsetof(flags, days),
                                         .lo = 1,
                                         .hi = 36500,
                                         .required = 1},
                                        {.name = "now",
                                         .arg = "UNIX_TS",
                                         .help = "the end of the window (default: the current time)",
                                         .kind = RW_OPT_U64,
                                         .at = offsetof(flags, now),
                                         .lo = 0,
                                         .hi = UINT32_MAX},
                                        {0}};

const rw_cli_spec rw_spec_erase = {"erase",
                                   "ACCOUNT",
                                   "Erases an account: its events, its rows in every run, its labels and every\n"
                                   "IP, device, card and subnet no other account uses, in one durable transaction\n"
                                   "(secure_delete on), then checkpoints and truncates the WAL, so the account id\n"
                                   "is gone from the database files. Other nodes keep their ids. Exit 1 (\"no\n"
                                   "account ...\") when the database holds no such account.\n\n" SERVER_NOTE,
                                   erase_tab,
                                   1,
                                   1,
                                   NULL};

const rw_cli_spec rw_spec_retain = {"retain",
                                    NULL,
                                    "Retention: erases every account not seen in the N days before --now (give\n"
                                    "the end of a simulated world's event time to age it), every event older\n"
                                    "than that, and the attributes left without events, with the same guarantees\n"
                                    "as erase.\n\n" SERVER_NOTE,
                                    retain_tab,
                                    0,
                                    0,
                                    NULL};

int rw_cmd_erase(int argc, char **argv) {
    flags f = {0};
    int nargs, rc = rw_cli_parse(&rw_spec_erase, &f, argc, argv, &nargs);
    if (rc >= 0) return rc;
    const char *account = argv[1];
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
    int nargs, rc = rw_cli_parse(&rw_spec_retain, &f, argc, argv, &nargs);
    if (rc >= 0) return rc;
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
