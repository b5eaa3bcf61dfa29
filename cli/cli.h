/* cli: the ringwatch command line. Each subcommand is a function in its own
 * file, listed in the table in main.c. This is the only module that wires
 * objects together. */
#ifndef RW_CLI_H
#define RW_CLI_H

#include <stdio.h>

#include "common.h"
#include "opts.h"

/* Exit codes, documented in the README and in `ringwatch --help`. */
enum {
    RW_EXIT_OK = 0,
    RW_EXIT_FAIL = 1,    /* the command failed; the message says why */
    RW_EXIT_USAGE = 2,   /* bad flags or arguments */
    RW_EXIT_PARTIAL = 3, /* done, but some input lines were bad and skipped */
};

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    const rw_cli_spec *spec; /* its options: --help and the man page */
    int big;                 /* touches hundreds of MB of fresh memory: run with malloc on huge pages (main.c) */
} rw_cli_command;

/* Each command's option table (opts.h), beside its function. */
extern const rw_cli_spec rw_spec_ingest, rw_spec_stats, rw_spec_simulate, rw_spec_rescore, rw_spec_clusters,
    rw_spec_scores, rw_spec_explain, rw_spec_eval, rw_spec_model, rw_spec_replay, rw_spec_export, rw_spec_serve,
    rw_spec_erase, rw_spec_retain;

int rw_cmd_ingest(int argc, char **argv);
int rw_cmd_stats(int argc, char **argv);
int rw_cmd_simulate(int argc, char **argv);
int rw_cmd_rescore(int argc, char **argv);
int rw_cmd_clusters(int argc, char **argv);
int rw_cmd_scores(int argc, char **argv);
int rw_cmd_explain(int argc, char **argv);
int rw_cmd_eval(int argc, char **argv);
int rw_cmd_model(int argc, char **argv);
int rw_cmd_replay(int argc, char **argv);
int rw_cmd_export(int argc, char **argv);
int rw_cmd_serve(int argc, char **argv);
int rw_cmd_erase(int argc, char **argv);
int rw_cmd_retain(int argc, char **argv);

/* ringwatch --version: version, git commit and the libraries' versions. */
void rw_cli_version(FILE *f);

/* Prints "ringwatch CMD: message" to stderr, its control characters
 * escaped (rw_cli_put_text). */
void rw_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes caller-supplied text to f with control characters (C0, DEL, C1,
 * bidirectional overrides) as \xNN or \uNNNN and bytes that are not UTF-8
 * as \xNN, so an account id cannot move the cursor or recolour a terminal. */
void rw_cli_put_text(FILE *f, const char *text);
/* The database path: --db, else RINGWATCH_DB, else ./ringwatch.db. */
const char *rw_cli_db_path(const char *flag);
/* The key file path: --key-file, else RINGWATCH_KEY_FILE, else NULL. */
const char *rw_cli_key_path(const char *flag);
/* Parses an unsigned integer flag; returns 0 on success. */
int rw_cli_parse_u64(const char *s, uint64_t *out);
/* Opening modes for rw_cli_open_engine. */
enum {
    RW_CLI_READONLY = 1 << 0,
    RW_CLI_STORE_ONLY = 1 << 1,
    /* holds the database's writer lock under the command's name: commands
     * that add or remove what a running server holds in memory */
    RW_CLI_WRITER = 1 << 2,
    /* no signup-scoring state (a batch rescoring) */
    RW_CLI_BATCH_ONLY = 1 << 3,
};
/* Opens the engine for command cmd (--db, --key-file as given, NULL for
 * the defaults); prints "ringwatch CMD: why" and returns NULL on failure. */
struct rw_engine;
struct rw_engine *rw_cli_open_engine(const char *cmd, const char *db, const char *key, int flags);

/* Maps a status to an exit code. */
int rw_cli_exit_code(rw_status st);

/* The exporter `ringwatch serve` gives the HTTP server: cluster exports and
 * pictures from the notebooks-export module (static, never freed). */
#include "http.h"
const rw_http_exporter *rw_cli_exporter(void);

#endif
