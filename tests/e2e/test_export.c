/* End to end: `ringwatch export` on a simulated world, read back by the
 * tools analysts use (Debian's /usr/bin/python3 with pandas, networkx,
 * python-igraph; the notebook run by nbconvert), and its errors; and the
 * bundle downloaded over HTTP, unpacked and run as it came. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tu_run.h"
#include "tu_serve.h"

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
    counts c = export("--top 3 --out top --format graphml,csv,json,ipynb,svg,neo4j,bundle");
    cr_expect_eq(c.clusters, 3);
    cr_expect_eq(c.run, 1);
    cr_assert_gt(c.accounts, 3);
    char *out = NULL;
    int rc = tu_run(&out, PY " '%s/tests/e2e/py/check_export.py' '%s/top' %ld %ld %ld", src(), tu_dir(), c.accounts,
                    c.attributes, c.links);
    cr_expect_eq(rc, 0, "%s", out);
    free(out);
    static const char *const files[] = {
        "graph.graphml",  "nodes.csv", "edges.csv",    "clusters.csv",    "graph.json",
        "notebook.ipynb", "graph.svg", "timeline.svg", "neo4j-nodes.csv", "neo4j-relationships.csv",
        "bundle.zip"};
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

/* ---- over HTTP: what the dashboard downloads ------------------------------ */

#define ANALYST "analyst-token-0123456789"

static tu_server srv;

static void serve_world(void) {
    tu_serve_init();
    tu_world(3000, 5);
    tu_write_in("rw.ini", "[server]\nlisten = 127.0.0.1:0\ntoken_analyst = " ANALYST "\n");
    tu_serve_up(&srv, "--config rw.ini --db ringwatch.db");
}

static void stop_world(void) {
    tu_serve_fini(&srv);
}

TestSuite(export_http, .init = serve_world, .fini = stop_world, .timeout = 240);

/* The top cluster's id, whether the API spells it 12 or "c12". */
static unsigned top_cluster(void) {
    long st;
    json_t *d = tu_req(&srv, &st, "GET", "/v1/clusters?page_size=1&min_score=0", ANALYST, NULL, NULL);
    cr_assert_eq(st, 200);
    json_t *id = json_object_get(json_array_get(json_object_get(d, "clusters"), 0), "id");
    unsigned v = json_is_integer(id) ? (unsigned)json_integer_value(id)
                 : json_is_string(id)
                     ? (unsigned)strtoul(json_string_value(id) + (json_string_value(id)[0] == 'c'), NULL, 10)
                     : 0;
    json_decref(d);
    cr_assert_gt(v, 0u, "no cluster id in the list");
    return v;
}

/* GET path into the folder as name; the answer's headers (caller frees). */
static char *download(const char *path, const char *name, const char *want_type) {
    tu_resp r;
    cr_assert_eq(tu_http(&r, &srv, "GET", path, ANALYST, NULL, NULL, 0), 0, "no answer to %s", path);
    cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status, r.body);
    cr_expect(strcasestr(r.headers, want_type), "%s: %s", path, r.headers);
    char p[600];
    snprintf(p, sizeof p, "%s/%s", tu_dir(), name);
    FILE *f = fopen(p, "wb");
    cr_assert(f && fwrite(r.body, 1, r.len, f) == r.len && fclose(f) == 0, "%s", p);
    char *headers = strdup(r.headers);
    tu_resp_free(&r);
    return headers;
}

Test(export_http, bundle_runs_under_nbconvert_as_downloaded) {
    need_python();
    unsigned id = top_cluster();
    char path[128], folder[32];
    snprintf(path, sizeof path, "/v1/clusters/%u/export?format=bundle", id);
    char *h = download(path, "download.zip", "application/zip");
    char want[64];
    snprintf(want, sizeof want, "filename=\"cluster-%u-bundle.zip\"", id);
    cr_expect(strstr(h, want), "Content-Disposition: %s", h);
    free(h);
    /* Unpacked with Python's own zipfile (checks every CRC), then run in
     * the folder it made, untouched. */
    snprintf(folder, sizeof folder, "cluster-%u", id);
    char *out = NULL;
    int rc =
        tu_run(&out, "cd '%s' && " PY " -m zipfile -t download.zip && " PY " -m zipfile -e download.zip . && ls %s",
               tu_dir(), folder);
    cr_assert_eq(rc, 0, "unzip: %s", out);
    cr_expect(strstr(out, "notebook.ipynb") && strstr(out, "nodes.csv") && strstr(out, "graph.graphml"), "%s", out);
    free(out);
    rc = tu_run(&out,
                "cd '%s/%s' && MPLBACKEND=module://matplotlib_inline.backend_inline " PY
                " -m nbconvert --to notebook --execute --ExecutePreprocessor.timeout=120 --output executed.ipynb "
                "notebook.ipynb",
                tu_dir(), folder);
    cr_assert_eq(rc, 0, "nbconvert failed:\n%s", out);
    free(out);
    rc = tu_run(&out, PY " '%s/tests/e2e/py/check_notebook.py' '%s/%s/executed.ipynb'", src(), tu_dir(), folder);
    cr_expect_eq(rc, 0, "%s", out);
    free(out);
}

Test(export_http, neo4j_files_and_graphml_over_http) {
    need_python();
    unsigned id = top_cluster();
    static const struct {
        const char *format, *type;
    } files[] = {{"neo4j-nodes.csv", "text/csv"},
                 {"neo4j-relationships.csv", "text/csv"},
                 {"graphml", "application/graphml+xml"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/clusters/%u/export?format=%s", id, files[i].format);
        free(download(path, files[i].format, files[i].type));
    }
    char *out = NULL;
    int rc = tu_run(&out,
                    "cd '%s' && " PY " -c 'import csv, networkx as nx, igraph as ig\n"
                    "n = next(csv.reader(open(\"neo4j-nodes.csv\")))\n"
                    "r = next(csv.reader(open(\"neo4j-relationships.csv\")))\n"
                    "assert n[:2] == [\"id:ID\", \":LABEL\"], n\n"
                    "assert r[:3] == [\":START_ID\", \":END_ID\", \":TYPE\"], r\n"
                    "G = nx.read_graphml(\"graphml\")\n"
                    "g = ig.Graph.Read_GraphML(\"graphml\")\n"
                    "want = {\"x\", \"y\", \"size\", \"r\", \"g\", \"b\", \"start\", \"end\"}\n"
                    "assert all(want <= set(d) for _, d in G.nodes(data=True))\n"
                    "assert want <= set(g.vs.attributes()), g.vs.attributes()\n"
                    "print(\"ok\")'",
                    tu_dir());
    cr_expect_eq(rc, 0, "%s", out);
    free(out);
}
