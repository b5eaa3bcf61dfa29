/* End to end through the real binary: a simulated world rescored into runs,
 * and what analysts read back from them: clusters (csv, json), scores,
 * explain, eval against the truth, and the model commands. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tu_run.h"

#define ACCOUNTS 20000

TestSuite(runs, .init = tu_tmp_init, .fini = tu_tmp_fini, .timeout = 180);

/* The features every model has had from the start (more may be added). */
static const char *const features[] = {"log_accounts",     "device_linked",  "card_linked",  "ip_linked",
                                       "max_device_share", "max_card_share", "exclusive",    "burst",
                                       "subnet_share",     "private_attrs",  "ip_diversity", "hub_contact",
                                       "lockstep",         "later_logins"};
#define NFEATURES (sizeof features / sizeof features[0])

/* dir/name (caller frees); its whole text (caller frees). */
#define path_in(name) strdup(tu_path(name))
#define read_in(name) tu_read_in(name, NULL)

static long count_lines(const char *s) {
    long n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* Parses "run R: A accounts, C clusters, F flagged (...), X accounts flagged". */
static void parse_run_line(const char *out, long run, long *clusters, long *flagged, long *accounts_flagged) {
    char want[32];
    snprintf(want, sizeof want, "run %ld: ", run);
    const char *p = strstr(out, want);
    cr_assert(p, "no '%s' in:\n%s", want, out);
    long r, acc;
    int n = sscanf(p, "run %ld: %ld accounts, %ld clusters, %ld flagged", &r, &acc, clusters, flagged);
    cr_assert_eq(n, 4, "summary line: %s", p);
    cr_expect_eq(acc, ACCOUNTS, "%s", p);
    const char *q = strstr(p, "), ");
    cr_assert(q && sscanf(q, "), %ld accounts flagged", accounts_flagged) == 1, "summary line: %s", p);
}

/* simulate -> ingest -> rescore (run 1). */
static void build_world(long *clusters) {
    char *out = NULL;
    int rc = tu_rw(&out, "simulate --accounts %d --seed 7 --out ev.jsonl --truth truth.csv", ACCOUNTS);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    rc = tu_rw(&out, "ingest --quiet ev.jsonl");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    rc = tu_rw(&out, "rescore");
    cr_assert_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "rescore: detect") != NULL, "no stage lines:\n%s", out);
    long flagged, accounts_flagged;
    parse_run_line(out, 1, clusters, &flagged, &accounts_flagged);
    cr_expect(strstr(out, "0 of 0 cluster ids kept") != NULL, "%s", out);
    cr_assert_gt(*clusters, 100, "%s", out);
    free(out);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct {
    char ext[64];
    double score;
    int flagged;
    unsigned long cluster;
} score_row;

/* Reads `scores` output: checks the header and every row's form. */
static score_row *read_scores(const char *name, size_t *n) {
    char *text = read_in(name);
    const char header[] = "account,score,flagged,cluster\n";
    cr_assert(strncmp(text, header, sizeof header - 1) == 0, "header: %.80s", text);
    size_t cap = ACCOUNTS + 16, k = 0;
    score_row *rows = calloc(cap, sizeof *rows);
    cr_assert(rows);
    char *line = text + sizeof header - 1;
    while (*line) {
        char *end = strchr(line, '\n');
        cr_assert(end, "last line without newline: %s", line);
        *end = 0;
        cr_assert_lt(k, cap, "more rows than accounts");
        score_row *r = &rows[k++];
        int used = 0;
        cr_assert_eq(sscanf(line, "\"%63[^\"]\",%lf,%d,%lu%n", r->ext, &r->score, &r->flagged, &r->cluster, &used), 4,
                     "row %zu: %s", k, line);
        cr_expect_eq(line[used], 0, "row %zu has extra fields: %s", k, line);
        cr_expect(r->flagged == 0 || r->flagged == 1, "row %zu: flagged %d", k, r->flagged);
        cr_expect(r->score >= 0 && r->score <= 1, "row %zu: score %g", k, r->score);
        cr_expect(r->cluster != 0 || r->score == 0, "row %zu: score without a cluster: %s", k, line);
        line = end + 1;
    }
    free(text);
    *n = k;
    return rows;
}

Test(runs, rescore_clusters_and_scores) {
    long clusters;
    build_world(&clusters);
    char *out = NULL;

    /* csv: every cluster with --min-score 0, highest score first */
    int rc = tu_rw(&out, "clusters --format csv --min-score 0 > c.csv");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    char *csv = read_in("c.csv");
    const char header[] = "cluster,score,flagged,accounts,attributes,first_signup,last_signup,reasons\n";
    cr_assert(strncmp(csv, header, sizeof header - 1) == 0, "header: %.120s", csv);
    cr_expect_eq(count_lines(csv) - 1, clusters, "csv rows vs the run's %ld clusters", clusters);
    double prev = 2.0;
    long rows = 0;
    for (char *line = strchr(csv, '\n') + 1; *line; rows++) {
        char *end = strchr(line, '\n');
        cr_assert(end);
        *end = 0;
        unsigned id, acc, attrs;
        double score;
        int flagged, used = 0;
        char first[32], last[32];
        cr_assert_eq(
            sscanf(line, "%u,%lf,%d,%u,%u,%31[^,],%31[^,],%n", &id, &score, &flagged, &acc, &attrs, first, last, &used),
            7, "csv row: %s", line);
        cr_expect_gt(id, 0);
        cr_expect_geq(acc, 2, "a cluster of %u accounts: %s", acc, line);
        cr_expect(flagged == 0 || flagged == 1);
        cr_expect(score <= prev, "csv not sorted by score: %s", line);
        cr_expect(strlen(first) == 20 && first[4] == '-' && first[10] == 'T' && first[19] == 'Z', "%s", first);
        cr_expect_leq(strcmp(first, last), 0, "first signup after last: %s", line);
        cr_expect(line[used] == '"' && end[-1] == '"', "reasons not quoted: %s", line);
        prev = score;
        line = end + 1;
    }
    cr_expect_eq(rows, clusters);
    free(csv);

    /* json: parses, same clusters, scores descending, features named */
    rc = tu_rw(&out, "clusters --format json --min-score 0 > c.json");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    char *jpath = path_in("c.json");
    json_error_t je;
    json_t *j = json_load_file(jpath, 0, &je);
    free(jpath);
    cr_assert(j, "clusters json: line %d: %s", je.line, je.text);
    cr_assert(json_is_array(j));
    cr_expect_eq((long)json_array_size(j), clusters);
    prev = 2.0;
    size_t i;
    json_t *c;
    json_array_foreach(j, i, c) {
        json_t *score = json_object_get(c, "score"), *feat = json_object_get(c, "features");
        json_t *reasons = json_object_get(c, "reasons");
        cr_assert(json_is_number(score) && json_is_object(feat) && json_is_array(reasons), "cluster %zu", i);
        cr_assert(json_is_integer(json_object_get(c, "id")) && json_is_boolean(json_object_get(c, "flagged")));
        cr_expect_leq(json_number_value(score), prev, "json not sorted by score at %zu", i);
        prev = json_number_value(score);
        for (size_t f = 0; f < NFEATURES && i == 0; f++)
            cr_expect(json_is_number(json_object_get(feat, features[f])), "feature %s missing", features[f]);
    }
    /* With the default min score only flagged clusters (>= 0.5) are listed. */
    rc = tu_rw(&out, "clusters --format json > flagged.json");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    jpath = path_in("flagged.json");
    json_t *jf = json_load_file(jpath, 0, &je);
    free(jpath);
    cr_assert(jf, "flagged json: %s", je.text);
    json_array_foreach(jf, i, c) cr_expect_geq(json_number_value(json_object_get(c, "score")), 0.5);
    json_decref(jf);
    json_decref(j);

    /* scores: one row per account, the truth's accounts exactly once */
    rc = tu_rw(&out, "scores > s.csv");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    size_t n;
    score_row *sr = read_scores("s.csv", &n);
    cr_expect_eq(n, ACCOUNTS);
    char *truth = read_in("truth.csv");
    const char **want = calloc(ACCOUNTS + 1, sizeof *want), **got = calloc(n + 1, sizeof *got);
    cr_assert(want && got);
    size_t nt = 0;
    for (char *line = strchr(truth, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        char *comma = strchr(line + 1, ',');
        cr_assert(comma, "truth line: %.40s", line + 1);
        *comma = 0;
        cr_assert_lt(nt, ACCOUNTS + 1, "truth has more accounts than simulated");
        want[nt++] = line + 1;
        line = comma;
    }
    cr_expect_eq(nt, ACCOUNTS);
    size_t in_cluster = 0;
    for (size_t k = 0; k < n; k++) {
        got[k] = sr[k].ext;
        in_cluster += sr[k].cluster != 0;
    }
    qsort(want, nt, sizeof *want, cmp_str);
    qsort(got, n, sizeof *got, cmp_str);
    for (size_t k = 0; k < n && k < nt; k++)
        if (strcmp(want[k], got[k])) {
            cr_expect_fail("scored accounts and truth accounts differ at %s / %s", got[k], want[k]);
            break;
        }
    cr_expect_gt(in_cluster, 0);
    free(want);
    free(got);
    free(truth);
    free(sr);
}

Test(runs, model_fit_flags_rings_explain_and_eval) {
    long clusters;
    build_world(&clusters);
    char *out = NULL;

    /* The built-in model: version 0, a bias and every feature. */
    char *show = NULL;
    int rc = tu_rw(&show, "model show");
    cr_assert_eq(rc, 0, "%s", show);
    cr_expect(strncmp(show, "# model version 0", 17) == 0, "%s", show);
    cr_expect(strstr(show, "\nbias ") != NULL, "%s", show);
    cr_expect(strstr(show, "\nthreshold ") != NULL, "%s", show);
    for (size_t f = 0; f < NFEATURES; f++) {
        char want[64];
        snprintf(want, sizeof want, "\n%s ", features[f]);
        cr_expect(strstr(show, want) != NULL, "feature %s missing from:\n%s", features[f], show);
    }
    /* ... and every feature a cluster reports (features added since). */
    rc = tu_rw(&out, "clusters --format json --min-score 0 --limit 1 > one.json");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    /* A run that does not exist is an error, not an empty answer. */
    rc = tu_rw(&out, "clusters --run 999 2>&1");
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "no run 999 (the newest is "), "%s", out);
    free(out);
    /* ... alone: no header or "[" above it on stdout. */
    for (int f = 0; f < 3; f++) {
        static const char *const fmts[] = {"table", "csv", "json"};
        char args[96];
        snprintf(args, sizeof args, "clusters --run 999 --format %s 2>/dev/null", fmts[f]);
        rc = tu_rw(&out, "%s", args);
        cr_expect_eq(rc, 1, "%s", out);
        cr_expect_str_eq(out, "", "%s printed on stdout: %s", fmts[f], out);
        free(out);
    }
    /* fit-online fits trees: an --l2 is refused, not ignored. */
    rc = tu_rw(&out, "model fit-online --truth truth.csv --l2 2 features.csv 2>&1");
    cr_expect_eq(rc, 2, "%s", out);
    cr_expect(strstr(out, "--l2 applies to `model fit`"), "%s", out);
    free(out);
    rc = tu_rw(&out, "scores --run 999 2>&1");
    cr_expect_eq(rc, 1, "%s", out);
    free(out);
    char *jpath = path_in("one.json");
    json_error_t je;
    json_t *j = json_load_file(jpath, 0, &je);
    free(jpath);
    cr_assert(j && json_array_size(j) == 1, "one cluster json: %s", je.text);
    const char *key;
    json_t *val;
    json_object_foreach(json_object_get(json_array_get(j, 0), "features"), key, val) {
        if (!strncmp(key, "shared_", 7)) continue;
        char want[80];
        snprintf(want, sizeof want, "\n%s ", key);
        cr_expect(strstr(show, want) != NULL, "model show lacks the feature %s", key);
    }
    json_decref(j);
    free(show);

    /* fit: stores version 1, which show then reports */
    rc = tu_rw(&out, "model fit --truth truth.csv");
    cr_assert_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "stored as model version 1") != NULL, "%s", out);
    cr_expect(strstr(out, "\nbias ") != NULL, "fit prints the model:\n%s", out);
    free(out);
    rc = tu_rw(&out, "model show");
    cr_assert_eq(rc, 0, "%s", out);
    cr_expect(strncmp(out, "# model version 1\n", 18) == 0, "%s", out);
    free(out);
    /* A dry run prints but stores nothing. */
    rc = tu_rw(&out, "model fit --dry-run --truth truth.csv && '%s' model show", tu_bin());
    cr_assert_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "stored as") == NULL && strstr(out, "# model version 1\n") != NULL, "%s", out);
    free(out);

    /* run 2 with the fitted model flags something; ids carry over */
    rc = tu_rw(&out, "rescore --quiet");
    cr_assert_eq(rc, 0, "%s", out);
    long clusters2, flagged, accounts_flagged;
    parse_run_line(out, 2, &clusters2, &flagged, &accounts_flagged);
    cr_expect_gt(flagged, 0, "%s", out);
    cr_expect_gt(accounts_flagged, 0, "%s", out);
    char want[96];
    snprintf(want, sizeof want, "cluster ids kept");
    cr_expect(strstr(out, want) != NULL, "%s", out);
    free(out);

    rc = tu_rw(&out, "scores > s2.csv");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    size_t n;
    score_row *sr = read_scores("s2.csv", &n);
    cr_expect_eq(n, ACCOUNTS);
    /* the top flagged cluster, and a flagged member of it if it has one */
    rc = tu_rw(&out, "clusters --format csv --limit 1 > top.csv");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    char *top = read_in("top.csv");
    char *row = strchr(top, '\n');
    unsigned long top_id = 0;
    cr_assert(row && sscanf(row + 1, "%lu,", &top_id) == 1, "no flagged cluster listed: %s", top);
    free(top);
    const score_row *hit = NULL;
    long nflagged = 0;
    for (size_t k = 0; k < n; k++) {
        if (!sr[k].flagged) continue;
        nflagged++;
        cr_expect_neq(sr[k].cluster, 0, "%s flagged without a cluster", sr[k].ext);
        if (!hit || (hit->cluster != top_id && sr[k].cluster == top_id)) hit = &sr[k];
    }
    cr_expect_eq(nflagged, accounts_flagged);
    cr_assert(hit, "no flagged account in run 2");

    /* explain ACCOUNT: its score, cluster and reasons, then the cluster */
    rc = tu_rw(&out, "explain '%s'", hit->ext);
    cr_assert_eq(rc, 0, "%s", out);
    snprintf(want, sizeof want, "account %s: first seen ", hit->ext);
    cr_expect(strstr(out, want) != NULL, "%s", out);
    snprintf(want, sizeof want, "(flagged), cluster %lu\n", hit->cluster);
    cr_expect(strstr(out, want) != NULL, "want '%s' in:\n%s", want, out);
    snprintf(want, sizeof want, "member of cluster %lu", hit->cluster);
    cr_expect(strstr(out, want) != NULL, "want '%s' in:\n%s", want, out);
    snprintf(want, sizeof want, "cluster %lu: score ", hit->cluster);
    cr_expect(strstr(out, want) != NULL, "want '%s' in:\n%s", want, out);
    cr_expect(strstr(out, "reasons:  [\"") != NULL, "no cluster reasons in:\n%s", out);
    cr_expect(strstr(out, "features: {") != NULL, "%s", out);
    free(out);

    /* explain --cluster ID */
    rc = tu_rw(&out, "explain --cluster %lu", top_id);
    cr_assert_eq(rc, 0, "%s", out);
    snprintf(want, sizeof want, "cluster %lu: score ", top_id);
    cr_expect(strncmp(out, want, strlen(want)) == 0, "%s", out);
    cr_expect(strstr(out, " (flagged), ") != NULL, "the top cluster is not flagged:\n%s", out);
    cr_expect(strstr(out, "\nreasons:  [\"") && strstr(out, "\nfeatures: {"), "%s", out);
    free(out);
    /* ... and the account in an earlier run */
    rc = tu_rw(&out, "explain --run 1 '%s'", hit->ext);
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, ", cluster ") != NULL, "%s", out);
    free(out);

    /* unknown account or cluster: exit 1 with a message */
    rc = tu_rw(&out, "explain no-such-account");
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "no account") != NULL, "%s", out);
    free(out);
    rc = tu_rw(&out, "explain --cluster 4000000000");
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "no cluster") != NULL, "%s", out);
    free(out);

    /* eval against the truth */
    rc = tu_rw(&out, "eval --truth truth.csv");
    cr_assert_eq(rc, 0, "%s", out);
    const char *keys[] = {"precision ", "recall ", "f1 ", "average_precision ", "benign_flagged "};
    double v[5];
    for (size_t k = 0; k < 5; k++) {
        char line_key[40];
        snprintf(line_key, sizeof line_key, "\n%s", keys[k]);
        const char *p = strstr(out, line_key);
        cr_assert(p, "no '%s' line in:\n%s", keys[k], out);
        cr_assert_eq(sscanf(p + strlen(line_key), "%lf", &v[k]), 1, "%s", p);
        cr_expect(v[k] >= 0 && v[k] <= 1, "%s%g", keys[k], v[k]);
    }
    cr_expect(strstr(out, "\nrecall[") != NULL, "no per-tactic recall in:\n%s", out);
    cr_expect(strstr(out, "scored accounts not in the truth file") == NULL, "%s", out);
    cr_expect_gt(v[0], 0, "precision 0 with %ld flagged accounts", accounts_flagged);
    cr_expect_gt(v[1], 0);
    if (v[0] + v[1] > 0) cr_expect_float_eq(v[2], 2 * v[0] * v[1] / (v[0] + v[1]), 1e-3, "f1 %g", v[2]);
    free(out);
    free(sr);
}

/* Writes text to name in the test's folder. */
static void put(const char *name, const char *text) {
    cr_assert_eq(tu_write_file(tu_path(name), text, strlen(text)), 0, "%s", name);
}

/* Online figures of hand-written decisions: week by week from the first
 * row's time, and a warm-up that leaves out the accounts that signed up in
 * it (from the totals, the weeks, the tactics and the rings' counts). */
Test(runs, eval_decisions_weeks_and_warm_up) {
    put("t.csv", "account,ring,tactic\n"
                 "r1,r1,datacenter_bulk\nr2,r1,datacenter_bulk\nr3,r1,datacenter_bulk\nr4,r1,datacenter_bulk\n"
                 "s1,r2,stolen_cards\ns2,r2,stolen_cards\n"
                 "b1,,household\nb2,,household\nb3,,office\nb4,,household\nb5,,household\n");
    put("d.csv", "account,ts,type,score,decision,cluster\n"
                 "b1,2026-09-01T00:00:00Z,signup,0.01,allow,\n"   /* week 0, in a 2-day warm-up */
                 "r1,2026-09-01T06:00:00Z,signup,0.50,review,\n"  /* week 0, in the warm-up */
                 "r2,2026-09-03T00:00:00Z,signup,0.01,allow,\n"   /* week 0, the first second after it */
                 "b2,2026-09-04T00:00:00Z,signup,0.60,review,\n"  /* week 0 */
                 "r1,2026-09-05T00:00:00Z,login,0.01,allow,\n"    /* not its signup */
                 "r3,2026-09-08T00:00:00Z,signup,0.90,block,c1\n" /* week 1 */
                 "s1,2026-09-09T00:00:00Z,signup,0.01,allow,\n"   /* week 1 */
                 "b3,2026-09-10T00:00:00Z,signup,0.01,allow,\n"   /* week 1 */
                 "s2,2026-09-16T00:00:00Z,signup,0.70,review,\n"  /* week 2 */
                 "r4,2026-09-16T01:00:00Z,signup,0.01,allow,\n"   /* week 2 */
                 "b4,2026-09-17T00:00:00Z,login,0.01,allow,\n"    /* replaced by its signup */
                 "b4,2026-09-17T01:00:00Z,signup,0.55,review,\n"  /* week 2 */
                 "b5,2026-09-22T00:00:00Z,signup,0.01,allow,\n"   /* week 3, cut short */
                 "x9,2026-09-23T00:00:00Z,signup,0.01,allow,\n"); /* not in the truth */
    char *out = NULL;
    int rc = tu_rw(&out, "eval --truth t.csv --decisions d.csv");
    cr_assert_eq(rc, 0, "%s", out);
    static const char *const plain[] = {
        "online_warm_up 0 days (signups from 2026-09-01T00:00:00Z; 0 accounts left out)\n",
        "online_accounts     11 (6 in rings, 5 benign)\n",
        "online_ring_flagged 0.5000 (3 reviewed or blocked at signup, 1 blocked)\n",
        "online_benign_flagged 0.40000 (2)\n",
        "online_median_admitted_before_first_flag 0.5 (over 2 rings)\n",
        "online_week[0] ring 0.5000 (1 of 2) benign 0.50000 (1 of 2)\n"
        "online_week[1] ring 0.5000 (1 of 2) benign 0.00000 (0 of 1)\n"
        "online_week[2] ring 0.5000 (1 of 2) benign 1.00000 (1 of 1)\n"
        "online_week[3] ring 0.0000 (0 of 0) benign 0.00000 (0 of 1) partial\n"
        "decisions for accounts not in the truth file: 1\n",
    };
    for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++)
        cr_expect(strstr(out, plain[k]) != NULL, "want '%s' in:\n%s", plain[k], out);
    cr_expect(strstr(out, "online_week[4]") == NULL, "%s", out);
    free(out);

    rc = tu_rw(&out, "eval --truth t.csv --decisions d.csv --warm-up 2");
    cr_assert_eq(rc, 0, "%s", out);
    static const char *const warm[] = {
        "online_warm_up 2 days (signups from 2026-09-03T00:00:00Z; 2 accounts left out)\n",
        "online_accounts     9 (5 in rings, 4 benign)\n",
        "online_ring_flagged 0.4000 (2 reviewed or blocked at signup, 1 blocked)\n",
        "online_benign_flagged 0.50000 (2)\n",
        "online_office_campus_flagged 0.00000 (0 of 1)\n",
        /* r1's review fell in the warm-up: r2 counts as admitted before r3's block */
        "online_median_admitted_before_first_flag 1.0 (over 2 rings)\n",
        "online_recall[datacenter_bulk] 0.3333 (1 of 3)\n",
        "online_recall[stolen_cards] 0.5000 (1 of 2)\n",
        "online_week[0] ring 0.0000 (0 of 1) benign 1.00000 (1 of 1) partial\n"
        "online_week[1] ring 0.5000 (1 of 2) benign 0.00000 (0 of 1)\n"
        "online_week[2] ring 0.5000 (1 of 2) benign 1.00000 (1 of 1)\n"
        "online_week[3] ring 0.0000 (0 of 0) benign 0.00000 (0 of 1) partial\n",
    };
    for (size_t k = 0; k < sizeof warm / sizeof warm[0]; k++)
        cr_expect(strstr(out, warm[k]) != NULL, "want '%s' in:\n%s", warm[k], out);
    free(out);

    /* a bad time names the file, the line and the field */
    put("bad.csv", "account,ts,type,score,decision,cluster\n"
                   "b1,2026-09-01T00:00:00Z,signup,0.01,allow,\n"
                   "b2,2026-09-01 00:00:01,signup,0.01,allow,\n");
    rc = tu_rw(&out, "eval --truth t.csv --decisions bad.csv");
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "bad.csv:3: ts: expected YYYY-MM-DDTHH:MM:SSZ") != NULL, "%s", out);
    cr_expect(strstr(out, "online_") == NULL, "figures printed after an error:\n%s", out);
    free(out);

    /* --warm-up: a non-number, a negative, or without --decisions */
    static const char *const usage[] = {"--decisions d.csv --warm-up x", "--decisions d.csv --warm-up -1",
                                        "--warm-up 3"};
    for (size_t k = 0; k < sizeof usage / sizeof usage[0]; k++) {
        rc = tu_rw(&out, "eval --truth t.csv %s", usage[k]);
        cr_expect_eq(rc, 2, "'%s' exited %d:\n%s", usage[k], rc, out);
        cr_expect(strstr(out, "--warm-up") != NULL, "%s", out);
        free(out);
    }
}

Test(runs, bad_model_and_usage_errors) {
    char *out = NULL;
    /* a small database with one run */
    int rc = tu_run(&out,
                    "cd '%s' && printf '{\"account\":\"a\",\"ts\":5,\"device\":\"d\"}\\n"
                    "{\"account\":\"b\",\"ts\":6,\"device\":\"d\"}\\n' | '%s' ingest --quiet - && "
                    "'%s' rescore --quiet",
                    tu_dir(), tu_bin(), tu_bin());
    cr_assert_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "run 1: 2 accounts, 1 clusters") != NULL, "%s", out);
    free(out);

    char *bad = path_in("bad.model");
    const char text[] = "bias -3\ndevice_linked nope\n";
    cr_assert_eq(tu_write_file(bad, text, strlen(text)), 0);
    rc = tu_rw(&out, "model set bad.model");
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "line 2") != NULL, "no line number in: %s", out);
    free(out);
    const char text2[] = "# ok so far\nbias -3\nsparkle 2\n";
    cr_assert_eq(tu_write_file(bad, text2, strlen(text2)), 0);
    rc = tu_rw(&out, "model set bad.model");
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "line 3") && strstr(out, "sparkle"), "%s", out);
    free(out);
    rc = tu_rw(&out, "model set no-such.model");
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "cannot open") != NULL, "%s", out);
    free(out);
    /* nothing stored by the failures; a good file is version 1 */
    const char good[] = "bias -2\ndevice_linked 3\n";
    cr_assert_eq(tu_write_file(bad, good, strlen(good)), 0);
    rc = tu_rw(&out, "model set bad.model && '%s' model show", tu_bin());
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "stored as model version 1") && strstr(out, "# model version 1\n") &&
                  strstr(out, "\ndevice_linked 3\n"),
              "%s", out);
    free(out);
    free(bad);

    static const char *const usage[] = {
        "rescore --density abc",
        "rescore --density -1",
        "rescore --density 0",
        "rescore --hub-degree 1",
        "rescore --hub-degree x",
        "rescore extra",
        "clusters --format xml",
        "clusters --min-score 2",
        "scores --format json",
        "explain",
        "explain --cluster 0",
        "explain a b",
        "eval",
        "model",
        "model frob",
        "model fit",
        "model set",
        "model show extra",
    };
    for (size_t k = 0; k < sizeof usage / sizeof usage[0]; k++) {
        rc = tu_rw(&out, "%s", usage[k]);
        cr_expect_eq(rc, 2, "'%s' exited %d:\n%s", usage[k], rc, out);
        free(out);
    }
    rc = tu_rw(&out, "rescore --density abc");
    cr_expect(strstr(out, "--density") != NULL, "%s", out);
    free(out);
    static const char *const help[] = {"rescore", "clusters", "scores", "explain", "eval", "model"};
    for (size_t k = 0; k < sizeof help / sizeof help[0]; k++) {
        rc = tu_rw(&out, "%s --help", help[k]);
        cr_expect_eq(rc, 0, "%s --help: %d", help[k], rc);
        cr_expect(strstr(out, "usage: ringwatch") != NULL, "%s", out);
        free(out);
    }
    /* queries before any run */
    rc = tu_run(&out,
                "cd '%s' && printf '{\"account\":\"a\",\"ts\":5}\\n' | '%s' ingest --quiet --db fresh.db - && "
                "'%s' clusters --db fresh.db",
                tu_dir(), tu_bin(), tu_bin());
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "no run yet") != NULL, "%s", out);
    free(out);
}

/* Rescoring twice with no new events in between must give the same run. */
Test(runs, rescore_twice_is_idempotent) {
    long clusters;
    build_world(&clusters);
    char *out = NULL;
    int rc = tu_rw(&out,
                   "rescore --quiet && '%s' scores --run 1 > s1.csv && '%s' scores --run 2 > s2.csv && "
                   "'%s' clusters --run 1 --min-score 0 --format csv > c1.csv && "
                   "'%s' clusters --run 2 --min-score 0 --format csv > c2.csv",
                   tu_bin(), tu_bin(), tu_bin(), tu_bin());
    cr_assert_eq(rc, 0, "%s", out);
    long clusters2, flagged, accounts_flagged;
    parse_run_line(out, 2, &clusters2, &flagged, &accounts_flagged);
    cr_expect_eq(clusters2, clusters);
    free(out);
    char *s1 = read_in("s1.csv"), *s2 = read_in("s2.csv"), *c1 = read_in("c1.csv"), *c2 = read_in("c2.csv");
    cr_expect_str_eq(s1, s2, "scores differ between run 1 and run 2");
    cr_expect_str_eq(c1, c2, "clusters differ between run 1 and run 2");
    free(s1), free(s2), free(c1), free(c2);
}

/* The same world rescored on one thread and on three gives the same run:
 * scores, reasons and clusters (features included) byte for byte; a count
 * out of range is refused. */
Test(runs, rescore_threads_give_the_same_run) {
    char *out = NULL;
    int rc = tu_rw(&out, "simulate --accounts %d --seed 11 --out ev.jsonl --truth truth.csv", ACCOUNTS);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    for (int k = 0; k < 2; k++) {
        static const char *const threads[2] = {"1", "3"};
        rc = tu_rw(&out,
                   "ingest --quiet --db t%s.db ev.jsonl && '%s' rescore --quiet --threads %s --db t%s.db && "
                   "'%s' scores --db t%s.db > s%s.csv && "
                   "'%s' clusters --db t%s.db --min-score 0 --format json > c%s.json",
                   threads[k], tu_bin(), threads[k], threads[k], tu_bin(), threads[k], threads[k], tu_bin(), threads[k],
                   threads[k]);
        cr_assert_eq(rc, 0, "%s", out);
        free(out);
    }
    char *s1 = read_in("s1.csv"), *s3 = read_in("s3.csv"), *c1 = read_in("c1.json"), *c3 = read_in("c3.json");
    cr_expect_gt(count_lines(s1), ACCOUNTS, "a score per account");
    cr_expect(strstr(c1, "\"features\"") != NULL, "the clusters' features are compared too");
    cr_expect_str_eq(s1, s3, "scores differ between --threads 1 and 3");
    cr_expect_str_eq(c1, c3, "clusters differ between --threads 1 and 3");
    free(s1), free(s3), free(c1), free(c3);
    rc = tu_rw(&out, "rescore --threads 9 --db t1.db");
    cr_expect_neq(rc, 0, "%s", out);
    cr_expect(strstr(out, "--threads") != NULL, "the refusal names the option: %s", out);
    free(out);
}
