/* The documentation as tests. README.md's shell blocks marked ```sh run are
 * run in order by one bash against a served demo world (the real binary on a
 * free loopback port, RINGWATCH_URL pointing at it, its build folder on
 * PATH). Every relative link of README.md, sim/README.md and the markdown
 * files of docs/ must lead to a file inside the repository that exists and,
 * for #anchor into markdown, to a heading of it. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <glob.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tu_run.h"
#include "tu_serve.h"

/* ---- markdown: lines, fences, headings, links ------------------------------ */

#define src_root() tu_src()

/* A fence line opens or closes a fenced block: ``` after at most 3 spaces.
 * *info receives what follows the backticks (the info string), trimmed. */
static int fence(const char *line, size_t len, char *info, size_t cap) {
    size_t i = 0;
    while (i < 3 && i < len && line[i] == ' ') i++;
    if (len - i < 3 || strncmp(line + i, "```", 3) != 0) return 0;
    i += 3;
    while (i < len && line[i] == '`') i++;
    while (i < len && line[i] == ' ') i++;
    size_t n = len - i;
    while (n && isspace((unsigned char)line[i + n - 1])) n--;
    snprintf(info, cap, "%.*s", (int)(n < cap ? n : cap - 1), line + i);
    return 1;
}

/* Calls fn(ctx, line, len, lineno, info) for each line; info is the open
 * block's info string, or NULL outside fenced blocks (fence lines are not
 * passed). */
typedef void (*line_fn)(void *ctx, const char *line, size_t len, int lineno, const char *info);

static void md_lines(const char *text, line_fn fn, void *ctx) {
    char info[128] = "", scratch[128];
    int in_block = 0, lineno = 0;
    for (const char *p = text; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        lineno++;
        if (fence(p, len, scratch, sizeof scratch)) {
            if (!in_block) snprintf(info, sizeof info, "%s", scratch);
            in_block = !in_block;
        } else {
            fn(ctx, p, len, lineno, in_block ? info : NULL);
        }
        p = e ? e + 1 : NULL;
    }
}

/* GitHub's anchor of a heading: lower case; letters, digits, '-' and '_'
 * kept, spaces become '-', other ASCII and general punctuation (U+2000 to
 * U+206F: dashes, quotes) dropped; other UTF-8 is kept. */
static void slug(const char *text, size_t len, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < len && o + 4 < cap; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == 0xE2 && i + 2 < len && ((unsigned char)text[i + 1] == 0x80 || (unsigned char)text[i + 1] == 0x81)) {
            i += 2;
        } else if (c >= 0x80 || isalnum(c) || c == '-' || c == '_') {
            out[o++] = (char)tolower(c);
        } else if (c == ' ') {
            out[o++] = '-';
        }
    }
    out[o] = '\0';
}

typedef struct {
    char **v;
    size_t n;
} strs;

static void strs_add(strs *s, const char *x) {
    s->v = realloc(s->v, (s->n + 1) * sizeof *s->v);
    cr_assert(s->v);
    s->v[s->n++] = strdup(x);
}

static void strs_free(strs *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static size_t strs_count(const strs *s, const char *x) {
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) k += strcmp(s->v[i], x) == 0;
    return k;
}

/* ATX headings' anchors, repeats suffixed -1, -2 as GitHub does. */
static void heading_line(void *ctx, const char *line, size_t len, int lineno, const char *info) {
    strs *anchors = ctx;
    size_t h = 0;
    if (info) return;
    while (h < len && h < 6 && line[h] == '#') h++;
    if (h == 0 || h >= len || line[h] != ' ') return;
    const char *t = line + h + 1;
    size_t n = len - h - 1;
    while (n && (t[n - 1] == '#' || t[n - 1] == ' ')) n--;
    char base[512], a[530];
    slug(t, n, base, sizeof base);
    size_t k = 0;
    snprintf(a, sizeof a, "%s", base);
    while (strs_count(anchors, a)) snprintf(a, sizeof a, "%s-%zu", base, ++k);
    strs_add(anchors, a);
    (void)lineno;
}

static int md_has_anchor(const char *path, const char *anchor) {
    char *text = tu_read_file(path, NULL);
    if (!text) return 0;
    strs anchors = {0};
    md_lines(text, heading_line, &anchors);
    int found = strs_count(&anchors, anchor) > 0;
    strs_free(&anchors);
    free(text);
    return found;
}

/* ---- the link checker ------------------------------------------------------- */

typedef struct {
    const char *root; /* the repository, resolved: links may not leave it */
    const char *path; /* the markdown file, as opened */
    const char *name; /* as reported */
    FILE *report;     /* one line per dead link */
    int links, dead;
} link_check;

static int external(const char *t) {
    static const char *const schemes[] = {"http://", "https://", "mailto:", "ftp://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (strncmp(t, schemes[i], strlen(schemes[i])) == 0) return 1;
    return 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void check_target(link_check *c, int lineno, const char *target) {
    if (!*target || external(target)) return;
    c->links++;
    char file[1024], dir[1024];
    const char *hash = strchr(target, '#');
    size_t flen = hash ? (size_t)(hash - target) : strlen(target);
    snprintf(dir, sizeof dir, "%s", c->path);
    if (flen == 0)
        snprintf(file, sizeof file, "%s", c->path);
    else
        snprintf(file, sizeof file, "%s/%.*s", dirname(dir), (int)flen, target);
    struct stat st;
    const char *why = NULL;
    char *real = realpath(file, NULL);
    if (stat(file, &st) != 0 || !real)
        why = "no such file";
    else if (strncmp(real, c->root, strlen(c->root)) != 0 || (real[strlen(c->root)] && real[strlen(c->root)] != '/'))
        why = "outside the repository (dead in any other clone)";
    else if (hash && hash[1] && ends_with(file, ".md") && !md_has_anchor(file, hash + 1))
        why = "no such heading";
    free(real);
    if (!why) return;
    c->dead++;
    fprintf(c->report, "%s:%d: dead link '%s': %s\n", c->name, lineno, target, why);
}

/* Inline links [text](target "title") and images, outside code spans, and
 * reference definitions [label]: target. */
static void link_line(void *ctx, const char *line, size_t len, int lineno, const char *info) {
    link_check *c = ctx;
    if (info) return;
    char buf[4096];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
    for (char *q = buf; (q = strchr(q, '`'));) { /* blank code spans */
        char *e = strchr(q + 1, '`');
        if (!e) break;
        memset(q, ' ', (size_t)(e - q + 1));
        q = e + 1;
    }
    const char *def = buf;
    while (*def == ' ') def++;
    if (*def == '[' && strstr(def, "]: ")) {
        char t[1024];
        if (sscanf(strstr(def, "]: ") + 3, "%1023s", t) == 1) check_target(c, lineno, t);
        return;
    }
    for (char *q = buf; (q = strstr(q, "](")); q += 2) {
        char t[1024];
        size_t n = strcspn(q + 2, " )");
        snprintf(t, sizeof t, "%.*s", (int)(n < sizeof t ? n : sizeof t - 1), q + 2);
        if (t[0] == '<' && ends_with(t, ">")) { /* [x](<path with spaces>) */
            memmove(t, t + 1, strlen(t));
            t[strlen(t) - 1] = '\0';
        }
        check_target(c, lineno, t);
    }
}

/* Checks the links of one markdown file of the repository at root; dead
 * ones are reported to report. Returns the number of dead links (-1 if the
 * file cannot be read); *links counts the relative links seen. */
static int check_links(const char *root, const char *path, const char *name, FILE *report, int *links) {
    char *text = tu_read_file(path, NULL), *real_root = realpath(root, NULL);
    if (!text || !real_root) {
        fprintf(report, "%s: cannot read\n", name);
        free(text);
        free(real_root);
        return -1;
    }
    link_check c = {real_root, path, name, report, 0, 0};
    md_lines(text, link_line, &c);
    free(text);
    free(real_root);
    if (links) *links += c.links;
    return c.dead;
}

/* ---- README's shell blocks -------------------------------------------------- */

typedef struct {
    FILE *script;   /* the runnable blocks, in order */
    FILE *problems; /* shell blocks with neither marker */
    int runnable, manual, unmarked;
    int open_line; /* line of the block being copied, 0 outside */
} readme_scan;

static int shell_info(const char *info, const char *marker) {
    static const char *const langs[] = {"sh", "bash", "shell", "console"};
    char lang[32] = "", word[32] = "";
    if (sscanf(info, "%31s %31s", lang, word) < 1) return 0;
    for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++)
        if (strcmp(lang, langs[i]) == 0) return marker ? strcmp(word, marker) == 0 : 1;
    return 0;
}

static void readme_line(void *ctx, const char *line, size_t len, int lineno, const char *info) {
    readme_scan *r = ctx;
    if (!info) {
        r->open_line = 0;
        return;
    }
    if (!r->open_line) {
        r->open_line = lineno;
        if (shell_info(info, "run")) {
            r->runnable++;
            fprintf(r->script, "printf '\\n== README.md:%d\\n' >&2\n", lineno - 1);
        } else if (shell_info(info, "manual")) {
            r->manual++;
        } else if (shell_info(info, NULL)) {
            r->unmarked++;
            fprintf(r->problems, "README.md:%d: ```%s: mark it `sh run` or `sh manual`\n", lineno - 1, info);
        }
    }
    if (shell_info(info, "run")) fprintf(r->script, "%.*s\n", (int)len, line);
}

/* Scans README.md; the runnable blocks go to script (may be NULL). */
static readme_scan scan_readme(FILE *script, char **problems) {
    char path[1024];
    snprintf(path, sizeof path, "%s/README.md", src_root());
    char *text = tu_read_file(path, NULL);
    cr_assert(text, "cannot read %s", path);
    size_t plen = 0;
    FILE *null_script = script ? NULL : fopen("/dev/null", "w");
    readme_scan r = {script ? script : null_script, open_memstream(problems, &plen), 0, 0, 0, 0};
    md_lines(text, readme_line, &r);
    fclose(r.problems);
    if (null_script) fclose(null_script);
    free(text);
    return r;
}

/* ---- tests without a server ------------------------------------------------- */

TestSuite(docs, .timeout = 60);

Test(docs, relative_links_resolve) {
    static const char *const needed[] = {"README.md",          "docs/DESIGN.md",  "docs/DETECTION.md",
                                         "docs/BENCHMARKS.md", "docs/TESTING.md", "docs/OPERATIONS.md",
                                         "docs/EXPORTS.md",    "sim/README.md"};
    char path[1024], *report = NULL;
    size_t rlen = 0;
    FILE *out = open_memstream(&report, &rlen);
    struct stat st;
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", src_root(), needed[i]);
        if (stat(path, &st) != 0) fprintf(out, "%s: missing\n", needed[i]);
    }
    glob_t g = {0};
    snprintf(path, sizeof path, "%s/docs/*.md", src_root());
    glob(path, 0, NULL, &g);
    int dead = 0, links = 0;
    static const char *const fixed[] = {"README.md", "sim/README.md"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", src_root(), fixed[i]);
        dead += check_links(src_root(), path, fixed[i], out, &links) != 0;
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *name = g.gl_pathv[i] + strlen(src_root()) + 1;
        dead += check_links(src_root(), g.gl_pathv[i], name, out, &links) != 0;
    }
    globfree(&g);
    fclose(out);
    cr_expect(rlen == 0, "dead links or missing documents:\n%s", report);
    cr_expect(links >= 20, "only %d relative links found: is the checker reading the files?", links);
    free(report);
    (void)dead;
}

/* The checker itself: it must see what is dead and ignore what is not a link. */
Test(docs, link_checker_finds_dead_links) {
    char *dir = tu_tmpdir(), root[1024], path[1100];
    cr_assert(dir);
    snprintf(root, sizeof root, "%s/repo", dir); /* dir/outside.md exists, beside the repository */
    cr_assert_eq(mkdir(root, 0700), 0);
    static const char target[] = "# Target\n\n## Storage, and what survives a crash\n\n## `make bench` \u2014 parts\n\n"
                                 "## Notes\n\n## Notes\n\n```sh\n# not a heading\n```\n";
    static const char page[] = "# Page\n\n"
                               "[ok](target.md) [ok](target.md#storage-and-what-survives-a-crash)\n"
                               "[ok](target.md#make-bench--parts) [ok](target.md#notes-1) [ok](#page)\n"
                               "[ok](https://example.org/missing) `[code](missing.md)` ![img](target.md)\n"
                               "[dead](missing.md)\n"
                               "[dead anchor](target.md#not-a-heading)\n"
                               "[ref]: nowhere/file.md\n"
                               "[outside](../outside.md)\n"
                               "```sh\n[in a block](missing.md)\n```\n";
    const struct {
        const char *name, *text;
    } files[] = {{"repo/target.md", target}, {"repo/page.md", page}, {"outside.md", "# Outside\n"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        cr_assert_eq(tu_write_file(path, files[i].text, strlen(files[i].text)), 0);
    }
    char *report = NULL;
    size_t rlen = 0;
    FILE *out = open_memstream(&report, &rlen);
    snprintf(path, sizeof path, "%s/page.md", root);
    int links = 0, dead = check_links(root, path, "page.md", out, &links);
    fclose(out);
    cr_expect_eq(dead, 4, "want 4 dead links, got %d:\n%s", dead, report);
    cr_expect_eq(links, 10, "want 10 relative links, got %d", links);
    cr_expect(strstr(report, "page.md:6: dead link 'missing.md': no such file"), "%s", report);
    cr_expect(strstr(report, "page.md:7: dead link 'target.md#not-a-heading': no such heading"), "%s", report);
    cr_expect(strstr(report, "page.md:8: dead link 'nowhere/file.md': no such file"), "%s", report);
    cr_expect(strstr(report, "page.md:9: dead link '../outside.md': outside the repository"), "%s", report);
    free(report);
    tu_rmtree(dir);
    free(dir);
}

Test(docs, readme_shell_blocks_are_marked) {
    char *problems = NULL;
    readme_scan r = scan_readme(NULL, &problems);
    cr_expect_eq(r.unmarked, 0, "%s", problems);
    cr_expect(r.runnable >= 5, "only %d runnable blocks in README.md", r.runnable);
    free(problems);
}

/* A user's guide a newcomer reads through; the rest belongs in docs/. */
Test(docs, readme_is_at_most_400_lines) {
    char path[1024];
    snprintf(path, sizeof path, "%s/README.md", src_root());
    size_t len = 0;
    char *text = tu_read_file(path, &len);
    cr_assert(text, "cannot read %s", path);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    free(text);
    cr_expect_leq(lines, 400, "README.md has %zu lines; move reference material into docs/", lines);
}

/* ---- README's runnable blocks against a served demo ------------------------- */

#define TOKENS                                                                                                         \
    "RINGWATCH_TOKEN_SIGNUP=signup-docs-0123456789\nRINGWATCH_TOKEN_ANALYST=analyst-docs-0123456789\n"                 \
    "RINGWATCH_TOKEN_ADMIN=admin-docs-0123456789\n"

static tu_server srv;

/* What `make run` leaves: a simulated world rescored in ./ringwatch.db,
 * demo/tokens.env, and the server on it with those tokens. */
static void serve_demo(void) {
    tu_serve_init();
    char *out = NULL;
    int rc = tu_run(&out,
                    "cd '%s' && mkdir demo && '%s' simulate --accounts 3000 --seed 7 --out demo/events.jsonl "
                    "--truth demo/truth.csv && '%s' ingest --quiet --db ringwatch.db demo/events.jsonl && "
                    "'%s' rescore --quiet --db ringwatch.db",
                    tu_dir(), tu_bin(), tu_bin(), tu_bin());
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    tu_write_in("demo/tokens.env", TOKENS);
    /* The same tokens as settings: run-demo exports them to the server. */
    static const char ini[] = "[server]\nlisten = 127.0.0.1:0\ntoken_signup = signup-docs-0123456789\n"
                              "token_analyst = analyst-docs-0123456789\ntoken_admin = admin-docs-0123456789\n";
    tu_write_in("serve.ini", ini);
    tu_serve_up(&srv, "--db ringwatch.db --config serve.ini");
}

static void stop_demo(void) {
    tu_serve_fini(&srv);
}

TestSuite(readme, .init = serve_demo, .fini = stop_demo, .timeout = 120);

Test(readme, runnable_blocks_pass_against_a_served_demo) {
    char path[1024], bindir[1024], *problems = NULL;
    snprintf(path, sizeof path, "%s/readme.sh", tu_dir());
    FILE *script = fopen(path, "w");
    cr_assert(script);
    fputs("set -eo pipefail\n", script);
    readme_scan r = scan_readme(script, &problems);
    fclose(script);
    free(problems);
    cr_assert(r.runnable > 0, "README.md has no ```sh run block");
    snprintf(bindir, sizeof bindir, "%s", tu_bin());
    char *out = NULL;
    int rc = tu_run(&out, "cd '%s' && PATH='%s':\"$PATH\" RINGWATCH_URL=http://127.0.0.1:%u bash readme.sh </dev/null",
                    tu_dir(), dirname(bindir), srv.port);
    /* The last "== README.md:N" line names the block that failed; the end
     * of the output says why (Criterion cuts long messages). */
    const char *last = NULL, *at = out;
    while (at && (at = strstr(at, "\n== README.md:"))) last = ++at;
    size_t tail = out ? strlen(out) : 0;
    cr_expect_eq(rc, 0, "README.md's runnable blocks exited %d in the block at %.*s; the output ends:\n%s", rc,
                 last ? (int)strcspn(last + 3, "\n") : 4, last ? last + 3 : "none",
                 out ? out + (tail > 600 ? tail - 600 : 0) : "");
    free(out);
    cr_expect_eq(tu_serve_stop(&srv, SIGTERM), 0, "the server did not stop cleanly after the README's requests");
}
