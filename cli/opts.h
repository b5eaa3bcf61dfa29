/* cli: every subcommand's options as one table (name, argument, help, where
 * the value goes and how it is read), read by one parser, which also writes
 * each command's --help and its section of the man page. */
#ifndef RW_CLI_OPTS_H
#define RW_CLI_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    RW_OPT_FLAG,   /* int, set to 1; takes no value */
    RW_OPT_TEXT,   /* const char *, borrowed from argv */
    RW_OPT_U64,    /* uint64_t, a whole number from lo to hi (hi 0: no limit) */
    RW_OPT_REAL,   /* double, finite, from lo to hi (above lo when open_lo) */
    RW_OPT_CHOICE, /* int: the index of the value in choices */
    RW_OPT_CUSTOM, /* parse(value, field) returns NULL or what is wrong */
} rw_opt_kind;

typedef struct {
    const char *name; /* without the leading "--" */
    const char *arg;  /* the value's placeholder ("PATH"); NULL for a flag */
    const char *help; /* one line; says the default */
    rw_opt_kind kind;
    size_t at; /* offsetof() the field in the command's options struct */
    double lo, hi;
    int open_lo;                                       /* RW_OPT_REAL: lo itself is refused */
    int required;                                      /* the command refuses to run without it */
    const char *const *choices;                        /* RW_OPT_CHOICE: NULL-terminated */
    const char *(*parse)(const char *value, void *at); /* RW_OPT_CUSTOM */
} rw_cli_opt;

typedef struct {
    const char *name;       /* the subcommand */
    const char *args;       /* positional part of the usage line ("FILE|-"), NULL for none */
    const char *about;      /* paragraphs after the usage line, '\n'-separated */
    const rw_cli_opt *opt;  /* ends with a row whose name is NULL */
    int min_args, max_args; /* positional arguments; max -1: any number */
    /* more help after the options (serve's settings); man: as roff */
    void (*more)(FILE *f, int man);
} rw_cli_spec;

/* The options every command that opens a database shares. */
#define RW_OPT_DB(T, field)                                                                                            \
    {                                                                                                                  \
        .name = "db", .arg = "PATH", .help = "database (default $RINGWATCH_DB or ./ringwatch.db)",                     \
        .kind = RW_OPT_TEXT, .at = offsetof(T, field)                                                                  \
    }
#define RW_OPT_KEY(T, field)                                                                                           \
    {                                                                                                                  \
        .name = "key-file", .arg = "PATH", .help = "hashing key (default $RINGWATCH_KEY_FILE or DB.key)",              \
        .kind = RW_OPT_TEXT, .at = offsetof(T, field)                                                                  \
    }

/* Sets the options of spec found in argv[1..argc-1] (argv[0] is the command)
 * into the struct o, and moves the positional arguments to argv[1..*nargs].
 * Returns -1 when the command should go on; otherwise the exit code after
 * printing --help (0) or what was wrong (2). Accepts --name value,
 * --name=value, an unambiguous prefix of a name, and -- before arguments. */
int rw_cli_parse(const rw_cli_spec *spec, void *o, int argc, char **argv, int *nargs);

/* Prints "ringwatch CMD: message", the usage line and where help is to
 * stderr; returns the usage exit code (2). */
int rw_cli_usage(const rw_cli_spec *spec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The command's help, generated from its table. */
void rw_cli_help(const rw_cli_spec *spec, FILE *f);
/* The command's section of the man page, as roff. */
void rw_cli_man(const rw_cli_spec *spec, FILE *f);
/* Writes text as roff (escapes backslashes, leading dots and quotes). */
void rw_cli_roff(FILE *f, const char *text);

#endif
