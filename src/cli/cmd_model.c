/* ringwatch model: show the scoring model, store one from a file, or fit one
 * from ground truth on the newest run. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "detectors.h"
#include "engine.h"
#include "truth.h"

static const char help[] = "usage: ringwatch model show [--db PATH]\n"
                           "       ringwatch model set [--db PATH] FILE\n"
                           "       ringwatch model fit [--db PATH] --truth truth.csv [--l2 X] [--dry-run]\n\n"
                           "The scoring model is a logistic regression over cluster features, stored\n"
                           "as versioned text in the database; rescoring uses the newest version.\n"
                           "fit learns weights from the newest run's clusters labelled by the truth\n"
                           "file (a cluster is fraud when most of its accounts are) and stores them.\n";

typedef struct {
    rw_cluster_features *f;
    uint32_t *id;
    size_t n, cap;
    uint32_t max_id;
} cluster_set;

static rw_status on_cluster(void *ctx, const rw_cluster_row *c) {
    cluster_set *cs = ctx;
    if (cs->n == cs->cap) {
        size_t cap = cs->cap ? cs->cap * 2 : 1024;
        void *nf = realloc(cs->f, cap * sizeof *cs->f), *ni = nf ? realloc(cs->id, cap * sizeof *cs->id) : NULL;
        if (nf) cs->f = nf;
        if (!ni) return RW_ERR_NOMEM;
        cs->id = ni;
        cs->cap = cap;
    }
    rw_cluster_features *f = &cs->f[cs->n];
    memset(f, 0, sizeof *f);
    f->accounts = c->accounts;
    json_error_t je;
    json_t *j = json_loads(c->features ? c->features : "{}", 0, &je);
    for (int i = 0; j && i < RW_F_COUNT; i++) f->f[i] = json_number_value(json_object_get(j, rw_feature_name(i)));
    json_decref(j);
    cs->id[cs->n++] = c->id;
    if (c->id > cs->max_id) cs->max_id = c->id;
    return RW_OK;
}

typedef struct {
    const rw_truth *t;
    uint32_t *ring, *total; /* per cluster id */
    uint32_t max_id;
} label_ctx;

static rw_status on_account(void *ctx, const rw_score_row *r) {
    label_ctx *l = ctx;
    int ring, tactic;
    if (!r->cluster || r->cluster > l->max_id || rw_truth_find(l->t, r->ext, &ring, &tactic) < 0) return RW_OK;
    l->total[r->cluster]++;
    l->ring[r->cluster] += (uint32_t)ring;
    return RW_OK;
}

static int fit(rw_engine *e, const char *truth_path, double l2, int dry) {
    rw_err err = {{0}};
    rw_truth *t = NULL;
    cluster_set cs = {0};
    label_ctx lc = {0};
    double *label = NULL, *weight = NULL;
    int rc = RW_EXIT_FAIL;
    rw_status st = rw_truth_load(&t, truth_path, &err);
    if (st == RW_OK) st = rw_engine_clusters(e, 0, -1.0, 0, 0, on_cluster, &cs, &err);
    if (st != RW_OK) goto done;
    lc = (label_ctx){t, calloc((size_t)cs.max_id + 1, 4), calloc((size_t)cs.max_id + 1, 4), cs.max_id};
    label = malloc((cs.n + 1) * sizeof *label);
    weight = malloc((cs.n + 1) * sizeof *weight);
    if (!lc.ring || !lc.total || !label || !weight) {
        st = rw_fail(&err, RW_ERR_NOMEM, "out of memory");
        goto done;
    }
    st = rw_engine_scores(e, 0, on_account, &lc, &err);
    if (st != RW_OK) goto done;
    size_t pos = 0;
    for (size_t i = 0; i < cs.n; i++) {
        uint32_t id = cs.id[i];
        label[i] = lc.total[id] && 2 * lc.ring[id] > lc.total[id] ? 1.0 : 0.0;
        /* Weigh clusters by accounts, so the fit minimises account errors. */
        weight[i] = cs.f[i].accounts;
        pos += label[i] > 0;
    }
    rw_model m;
    int version = 0;
    char text[4096];
    st = rw_engine_model_text(e, &version, text, sizeof text, &err);
    if (st == RW_OK) st = rw_model_parse(&m, text, &err);
    if (st == RW_OK) st = rw_model_fit(&m, cs.f, label, weight, cs.n, l2, &err);
    if (st != RW_OK) goto done;
    rw_model_format(&m, text, sizeof text);
    fprintf(stderr, "model fit on %zu clusters (%zu fraud)\n", cs.n, pos);
    fputs(text, stdout);
    if (!dry) {
        char note[256];
        snprintf(note, sizeof note, "fit on %zu clusters (%zu fraud) from %s, l2 %g", cs.n, pos, truth_path, l2);
        st = rw_engine_model_store(e, text, note, &version, &err);
        if (st != RW_OK) goto done;
        fprintf(stderr, "stored as model version %d\n", version);
    }
    rc = RW_EXIT_OK;
done:
    if (st != RW_OK) rw_cli_error("model", "%s", err.msg);
    rw_truth_free(t);
    free(cs.f);
    free(cs.id);
    free(lc.ring);
    free(lc.total);
    free(label);
    free(weight);
    return rc;
}

int rw_cmd_model(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'd'}, {"truth", required_argument, 0, 't'},
                                         {"l2", required_argument, 0, 'l'}, {"dry-run", no_argument, 0, 'n'},
                                         {"help", no_argument, 0, 'h'},     {0, 0, 0, 0}};
    const char *db = NULL, *truth = NULL;
    double l2 = 1.0;
    int dry = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
            case 'd':
                db = optarg;
                break;
            case 't':
                truth = optarg;
                break;
            case 'n':
                dry = 1;
                break;
            case 'l':
                l2 = strtod(optarg, &end);
                if (*end || l2 < 0) goto usage;
                break;
            case 'h':
                fputs(help, stdout);
                return RW_EXIT_OK;
            default:
                goto usage;
        }
    }
    if (optind >= argc) goto usage;
    const char *verb = argv[optind];
    rw_err err = {{0}};
    rw_engine *e = NULL;
    rw_engine_config cfg = {.db_path = rw_cli_db_path(db), .readonly = !strcmp(verb, "show")};
    if (strcmp(verb, "show") && strcmp(verb, "set") && strcmp(verb, "fit")) goto usage;
    if ((!strcmp(verb, "fit") && (!truth || optind != argc - 1)) || (!strcmp(verb, "set") && optind != argc - 2) ||
        (!strcmp(verb, "show") && optind != argc - 1))
        goto usage;
    if (rw_engine_open(&e, &cfg, &err) != RW_OK) {
        rw_cli_error("model", "%s", err.msg);
        return RW_EXIT_FAIL;
    }
    int rc = RW_EXIT_OK, version = 0;
    if (!strcmp(verb, "show")) {
        char text[4096];
        if (rw_engine_model_text(e, &version, text, sizeof text, &err) != RW_OK) {
            rw_cli_error("model", "%s", err.msg);
            rc = RW_EXIT_FAIL;
        } else {
            printf("# model version %d%s\n%s", version, version ? "" : " (built-in defaults)", text);
        }
    } else if (!strcmp(verb, "set")) {
        FILE *f = fopen(argv[optind + 1], "r");
        char text[4096];
        size_t len = f ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f) fclose(f);
        text[len] = 0;
        if (!f) {
            rw_cli_error("model", "cannot open %s", argv[optind + 1]);
            rc = RW_EXIT_FAIL;
        } else if (rw_engine_model_store(e, text, argv[optind + 1], &version, &err) != RW_OK) {
            rw_cli_error("model", "%s: %s", argv[optind + 1], err.msg);
            rc = RW_EXIT_FAIL;
        } else {
            printf("stored as model version %d\n", version);
        }
    } else {
        rc = fit(e, truth, l2, dry);
    }
    rw_engine_close(e);
    return rc;
usage:
    fputs(help, stderr);
    return RW_EXIT_USAGE;
}
