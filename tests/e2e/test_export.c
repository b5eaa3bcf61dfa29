/* End to end: `ringwatch export` on a simulated world, read back by the
 * tools analysts use (Debian's /usr/bin/python3 with pandas, networkx,
 * python-igraph; the notebook run by nbconvert), and its errors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tu_run.h"

#define PY "/usr/bin/python3"

TestSuite(export, .init = tu_tmp_init, .fini = tu_tmp_fini, .timeout = 240);

#define src() tu_src()

/* A missing module fails the test and names the package to install. */
static void need_python(void) {
    char *out = NULL;
    int rc = tu_run(&out, PY " '%s/tests/e2e/py/deps.py'", src());
    cr_assert_eq(rc, 0, "Debian's python3 cannot run the export checks:\n%s", out);
    free(out);
}

/* simulate -> ingest -> rescore: run 1 of a 3,000-account world. */
static void build_world(void) {
    tu_world(3000, 5);
}

typedef struct {
    long clusters, run, accounts, attributes, links;
} counts;

/* Runs an export and parses its summary line. */
static counts export(const char *args) {
    char *out = NULL;
    int rc = tu_rw(&out, "export %s", args);
    cr_assert_eq(rc, 0, "export %s:\n%s", args, out);
    counts c;
    const char *p = strstr(out, "exported ");
    cr_assert(p, "%s", out);
    int n = sscanf(p, "exported %ld cluster%*[s] of run %ld: %ld accounts, %ld attributes, %ld links", &c.clusters,
                   &c.run, &c.accounts, &c.attributes, &c.links);
    if (n != 5)
        n = sscanf(p, "exported %ld cluster of run %ld: %ld accounts, %ld attributes, %ld links", &c.clusters, &c.run,
                   &c.accounts, &c.attributes, &c.links);
    cr_assert_eq(n, 5, "summary: %s", out);
    free(out);
    return c;
}

Test(export, every_format_read_by_pandas_networkx_igraph) {
    need_python();
    build_world();
    counts c = export("--top 3 --out top --format graphml,csv,json,ipynb,svg");
    cr_expect_eq(c.clusters, 3);
    cr_expect_eq(c.run, 1);
    cr_assert_gt(c.accounts, 3);
    char *out = NULL;
    int rc = tu_run(&out, PY " '%s/tests/e2e/py/check_export.py' '%s/top' %ld %ld %ld", src(), tu_dir(), c.accounts,
                    c.attributes, c.links);
    cr_expect_eq(rc, 0, "%s", out);
    free(out);
    static const char *const files[] = {"graph.graphml", "nodes.csv",      "edges.csv", "clusters.csv",
                                        "graph.json",    "notebook.ipynb", "graph.svg", "timeline.svg"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/top/%s", tu_dir(), files[i]);
        size_t len = 0;
        char *t = tu_read_file(p, &len);
        cr_expect(t && len > 0, "%s missing", files[i]);
        free(t);
    }
}

Test(export, notebook_runs_under_nbconvert) {
    need_python();
    build_world();
    export("--top 1 --out nb --format ipynb,json");
    char *out = NULL;
    /* The inline backend renders to PNG without a display, inside the kernel. */
    int rc = tu_run(&out,
                    "cd '%s/nb' && MPLBACKEND=module://matplotlib_inline.backend_inline " PY
                    " -m nbconvert --to notebook --execute --ExecutePreprocessor.timeout=120 --output executed.ipynb "
                    "notebook.ipynb",
                    tu_dir());
    cr_assert_eq(rc, 0, "nbconvert failed:\n%s", out);
    free(out);
    rc = tu_run(&out, PY " '%s/tests/e2e/py/check_notebook.py' '%s/nb/executed.ipynb'", src(), tu_dir());
    cr_expect_eq(rc, 0, "%s", out);
    free(out);
}

Test(export, whole_run_and_errors) {
    build_world();
    counts run = export("--run 1 --out all --format csv");
    char *text = NULL, *out = NULL;
    int rc = tu_rw(&text, "clusters --min-score 0 --format csv");
    cr_assert_eq(rc, 0, "%s", text);
    long want_clusters = -1, want_accounts = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned id, acc, attrs, flagged;
        double score;
        if (sscanf(line, "%u,%lf,%u,%u,%u", &id, &score, &flagged, &acc, &attrs) == 5) want_accounts += acc;
        want_clusters++;
    }
    free(text);
    cr_expect_eq(run.clusters, want_clusters);
    cr_expect_eq(run.accounts, want_accounts);

    rc = tu_rw(&out, "export --out x");
    cr_expect_eq(rc, 2, "no scope is a usage error: %s", out);
    free(out);
    rc = tu_rw(&out, "export --top 1 --out x --format pdf");
    cr_expect_eq(rc, 2, "%s", out);
    cr_expect(strstr(out, "unknown format 'pdf'"), "%s", out);
    free(out);
    rc = tu_rw(&out, "export --cluster 999999 --out x");
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "no cluster 999999"), "%s", out);
    free(out);
    rc = tu_rw(&out, "export --run 1 --out x --max-nodes 10");
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "more than 10 nodes") && strstr(out, "--max-nodes"), "a clear message: %s", out);
    free(out);
    rc = tu_run(&out, "ls -a '%s/x' 2>&1", tu_dir());
    cr_expect(out && !strstr(out, ".tmp") && !strstr(out, "nodes.csv"), "nothing half-written: %s", out);
    free(out);
}
