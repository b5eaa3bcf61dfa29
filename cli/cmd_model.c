/* ringwatch model: show the scoring model, store one from a file, or fit one
 * from ground truth on the newest run. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "detectors.h"
#include "engine.h"
#include "model_online.h"
#include "truth.h"

typedef struct {
    const char *db, *truth;
    double l2;
    int dry;
} model_opts;

static const rw_cli_opt model_tab[] = {RW_OPT_DB(model_opts, db),
                                       {.name = "truth",
                                        .arg = "truth.csv",
                                        .help = "ground truth (fit, fit-online)",
                                        .kind = RW_OPT_TEXT,
                                        .at = offsetof(model_opts, truth)},
                                       {.name = "l2",
                                        .arg = "X",
                                        .help = "L2 penalty of the logistic models (fit; default 1)",
                                        .kind = RW_OPT_REAL,
                                        .at = offsetof(model_opts, l2),
                                        .hi = 1e300},
                                       {.name = "dry-run",
                                        .arg = NULL,
                                        .help = "fit and print, store nothing (fit)",
                                        .kind = RW_OPT_FLAG,
                                        .at = offsetof(model_opts, dry)},
                                       {.name = NULL}};

const rw_cli_spec rw_spec_model = {
    "model",
    "(show [V] | set FILE | fit | fit-online FEATURES.csv... | list | promote V | rollback)",
    "  model show                      the model rescoring uses\n"
    "  model list                      the signup models the nightly job fitted\n"
    "  model show V                    signup model V (0: the shipped one)\n"
    "  model promote V                 put signup model V in force (0: the shipped one)\n"
    "  model rollback                  put back the signup model the one in force replaced\n"
    "  model set FILE                  store FILE as a new version\n"
    "  model fit --truth truth.csv     fit both models to a ground truth\n"
    "  model fit-online --truth truth.csv FEATURES.csv...\n\n"
    "The scoring model is a logistic regression over cluster features, stored\n"
    "as versioned text in the database; rescoring uses the newest version.\n"
    "fit runs the detectors, labels communities by the truth file (fraud when\n"
    "most of their accounts are), fits the cluster model, then the account\n"
    "model, and stores the result as a new version.\n"
    "fit-online fits the online (signup) model to the features a replay wrote\n"
    "(`ringwatch replay --features-out`) and prints its weights.\n",
    model_tab,
    1,
    -1,
    NULL};

/* What each verb takes besides --db: its positional arguments (max -1: any
 * number) and whether --truth is needed. */
static const struct {
    const char *verb;
    int min, max, truth;
} verbs[] = {{"show", 0, 1, 0}, {"set", 1, 1, 0},     {"fit", 0, 0, 1},     {"fit-online", 1, -1, 1},
             {"list", 0, 0, 0}, {"promote", 1, 1, 0}, {"rollback", 0, 0, 0}};

/* Checks verb's arguments; returns -1 to go on, else the exit code. */
static int check_verb(const char *verb, int nargs, const model_opts *o) {
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (strcmp(verb, verbs[i].verb)) continue;
        if (nargs < verbs[i].min || (verbs[i].max >= 0 && nargs > verbs[i].max))
            return rw_cli_usage(&rw_spec_model, "%s: expected %s", verb,
                                verbs[i].max < 0           ? "one or more FEATURES.csv"
                                : !strcmp(verb, "promote") ? "a model version"
                                : verbs[i].min             ? "FILE"
                                : verbs[i].max             ? "at most a model version"
                                                           : "no argument");
        if (verbs[i].truth && !o->truth) return rw_cli_usage(&rw_spec_model, "%s: --truth is required", verb);
        return -1;
    }
    return rw_cli_usage(&rw_spec_model, "'%s' is not show, set, fit, fit-online, list, promote or rollback", verb);
}

/* Reads the rows of one features file into x/y (grown as needed). */
static int read_features(const char *path, const rw_truth *t, double **x, double **y, size_t *n, size_t *cap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        rw_cli_error("model", "cannot open %s", path);
        return -1;
    }
    char line[8192];
    long ln = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        if (ln == 1) {
            if (strncmp(line, "account,", 8)) {
                rw_cli_error("model", "%s:1: expected the header of `ringwatch replay --features-out`", path);
                rc = -1;
                break;
            }
            continue;
        }
        char *comma = strrchr(line, '"') ? strchr(strrchr(line, '"'), ',') : strchr(line, ',');
        if (!comma) continue;
        *comma = 0;
        char *acc = line;
        if (*acc == '"') acc++, acc[strlen(acc) - 1] = 0; /* ids with commas: quotes removed, "" kept */
        int ring, tactic;
        if (rw_truth_find(t, acc, &ring, &tactic) < 0) continue;
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 65536;
            double *nx = realloc(*x, c * RW_O_COUNT * sizeof *nx);
            if (nx) *x = nx;
            double *ny = nx ? realloc(*y, c * sizeof *ny) : NULL;
            if (!nx || !ny) {
                rw_cli_error("model", "out of memory");
                rc = -1;
                break;
            }
            *y = ny, *cap = c;
        }
        char *p = comma + 1;
        for (int k = 0; k < RW_O_COUNT; k++) {
            char *end;
            (*x)[*n * RW_O_COUNT + (size_t)k] = strtod(p, &end);
            if (end == p || (*end != ',' && k < RW_O_COUNT - 1)) {
                rw_cli_error("model", "%s:%ld: field %d: expected a number", path, ln, k + 2);
                rc = -1;
                break;
            }
            p = end + 1;
        }
        if (rc) break;
        (*y)[(*n)++] = ring != 0;
    }
    fclose(f);
    return rc;
}

static int fit_online(const char *truth_path, char **files, int nfiles) {
    rw_err err = {{0}};
    rw_truth *t = NULL;
    double *x = NULL, *y = NULL;
    size_t n = 0, cap = 0;
    int rc = RW_EXIT_FAIL;
    if (rw_truth_load(&t, truth_path, &err) != RW_OK) {
        rw_cli_error("model", "%s", err.msg);
        return RW_EXIT_FAIL;
    }
    for (int i = 0; i < nfiles; i++)
        if (read_features(files[i], t, &x, &y, &n, &cap) != 0) goto done;
    rw_online_model m;
    rw_online_defaults(&m);
    if (rw_online_fit(&m, x, y, n, &err) != RW_OK) {
        rw_cli_error("model", "%s", err.msg);
        goto done;
    }
    char *text = malloc(1 << 20);
    if (!text) {
        rw_cli_error("model", "out of memory");
        goto done;
    }
    rw_online_format(&m, text, 1 << 20);
    printf("# online model fitted on %zu signups\n%s", n, text);
    free(text);
    rc = RW_EXIT_OK;
done:
    free(x);
    free(y);
    rw_truth_free(t);
    return rc;
}

static int label_of(void *ctx, const char *ext, size_t len) {
    const rw_truth *t = ctx;
    char id[RW_ACCOUNT_MAX + 1];
    if (len > RW_ACCOUNT_MAX) return -1;
    memcpy(id, ext, len);
    id[len] = 0;
    int ring, tactic;
    return rw_truth_find(t, id, &ring, &tactic) < 0 ? -1 : ring != 0;
}

static int fit(rw_engine *e, const char *truth_path, double l2, int dry) {
    rw_err err = {{0}};
    rw_truth *t = NULL;
    char text[4096];
    int version = 0;
    rw_status st = rw_truth_load(&t, truth_path, &err);
    if (st == RW_OK) st = rw_engine_fit_model(e, NULL, label_of, t, l2, text, sizeof text, &err);
    if (st == RW_OK) {
        fputs(text, stdout);
        if (!dry) {
            char note[256];
            snprintf(note, sizeof note, "fit on %s, l2 %g", truth_path, l2);
            st = rw_engine_model_store(e, text, note, &version, &err);
            if (st == RW_OK) fprintf(stderr, "stored as model version %d\n", version);
        }
    }
    rw_truth_free(t);
    if (st != RW_OK) {
        rw_cli_error("model", "%s", err.msg);
        return RW_EXIT_FAIL;
    }
    return RW_EXIT_OK;
}

int rw_cmd_model(int argc, char **argv) {
    model_opts o = {.l2 = -1};
    int nargs, rc0 = rw_cli_parse(&rw_spec_model, &o, argc, argv, &nargs);
    if (rc0 >= 0) return rc0;
    const char *verb = argv[1], *truth = o.truth, *db = o.db;
    int have_l2 = o.l2 >= 0, dry = o.dry;
    double l2 = have_l2 ? o.l2 : 1.0;
    rc0 = check_verb(verb, nargs - 1, &o);
    if (rc0 >= 0) return rc0;
    rw_err err = {{0}};
    if (!strcmp(verb, "fit-online")) {
        if (have_l2) { /* it used to be accepted and ignored */
            rw_cli_error("model", "--l2 applies to `model fit` (the logistic models); fit-online fits trees");
            return RW_EXIT_USAGE;
        }
        return fit_online(truth, argv + 2, nargs - 1);
    }
    /* Only fitting runs the detectors; the other verbs touch the models
     * tables. */
    int flags = !strcmp(verb, "fit") ? 0 : RW_CLI_STORE_ONLY;
    int online = !strcmp(verb, "list") || !strcmp(verb, "promote") || !strcmp(verb, "rollback") ||
                 (!strcmp(verb, "show") && nargs == 2);
    if (!strcmp(verb, "show") || !strcmp(verb, "list")) flags |= RW_CLI_READONLY;
    rw_engine *e = rw_cli_open_engine("model", db, NULL, flags);
    if (!e) return RW_EXIT_FAIL;
    int rc = RW_EXIT_OK, version = 0;
    if (online) {
        rc = rw_model_online(e, verb, nargs == 2 ? argv[2] : NULL);
    } else if (!strcmp(verb, "show")) {
        char text[4096];
        if (rw_engine_model_text(e, &version, text, sizeof text, &err) != RW_OK) {
            rw_cli_error("model", "%s", err.msg);
            rc = RW_EXIT_FAIL;
        } else {
            printf("# model version %d%s\n%s", version, version ? "" : " (built-in defaults)", text);
        }
    } else if (!strcmp(verb, "set")) {
        FILE *f = fopen(argv[2], "r");
        char text[4096];
        size_t len = f ? fread(text, 1, sizeof text - 1, f) : 0;
        int too_big = f && !feof(f) && fgetc(f) != EOF;
        if (f) fclose(f);
        text[len] = 0;
        if (!f) {
            rw_cli_error("model", "cannot open %s", argv[2]);
            rc = RW_EXIT_FAIL;
        } else if (too_big) {
            rw_cli_error("model", "%s: larger than %zu bytes; not a model file", argv[2], sizeof text - 1);
            rc = RW_EXIT_FAIL;
        } else if (rw_engine_model_store(e, text, argv[2], &version, &err) != RW_OK) {
            rw_cli_error("model", "%s: %s", argv[2], err.msg);
            rc = RW_EXIT_FAIL;
        } else {
            printf("stored as model version %d\n", version);
        }
    } else {
        rc = fit(e, truth, l2, dry);
    }
    rw_engine_close(e);
    return rc;
}
