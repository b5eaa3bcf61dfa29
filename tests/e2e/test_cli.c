/* End to end through the real binary: simulate, ingest, stats in a second
 * process, every class of bad input, strict mode, exit codes, --help. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tu_run.h"

TestSuite(cli, .init = tu_tmp_init, .fini = tu_tmp_fini, .timeout = 120);

static long sql_long(const char *db, const char *sql) {
    char *out = NULL;
    tu_run(&out, "sqlite3 '%s' \"%s\"", db, sql);
    long v = out ? strtol(out, NULL, 10) : -1;
    free(out);
    return v;
}

static const char *stat_line(const char *out, const char *key, char *buf, size_t n) {
    const char *p = strstr(out, key);
    cr_assert(p, "no '%s' in stats output:\n%s", key, out);
    const char *e = strchr(p, '\n');
    snprintf(buf, n, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
    return buf;
}

Test(cli, simulate_ingest_stats_roundtrip) {
    char *out = NULL;
    int rc = tu_rw(&out, "simulate --accounts 5000 --seed 3 --out ev.jsonl --truth truth.csv");
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    rc = tu_rw(&out, "ingest ev.jsonl");
    cr_assert_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, " 0 bad lines") != NULL, "%s", out);
    long lines = 0;
    char evpath[600];
    snprintf(evpath, sizeof evpath, "%s/ev.jsonl", tu_dir());
    char *ev = tu_read_file(evpath, NULL);
    for (char *p = ev; p && *p; p++) lines += *p == '\n';
    free(ev);
    char want[64];
    snprintf(want, sizeof want, "ev.jsonl: %ld events", lines);
    cr_expect(strstr(out, want) != NULL, "want '%s' in %s", want, out);
    free(out);
    /* A second process reloads the graph from SQLite and sees the same. */
    char *s1 = NULL, *s2 = NULL;
    cr_assert_eq(tu_rw(&s1, "stats"), 0);
    cr_assert_eq(tu_rw(&s2, "stats --db ringwatch.db"), 0);
    char a[128], b[128];
    snprintf(want, sizeof want, "events     %ld", lines);
    cr_expect(strstr(s1, want) != NULL, "%s", s1);
    cr_expect_str_eq(stat_line(s1, "edges ", a, sizeof a), stat_line(s2, "edges ", b, sizeof b));
    char db[600];
    snprintf(db, sizeof db, "%s/ringwatch.db", tu_dir());
    snprintf(want, sizeof want, "accounts   %ld", sql_long(db, "SELECT count(*) FROM accounts"));
    cr_expect(strstr(s1, want) != NULL, "%s vs\n%s", want, s1);
    snprintf(want, sizeof want, "edges      %ld", sql_long(db, "SELECT count(*) FROM edges"));
    cr_expect(strstr(s1, want) != NULL, "%s vs\n%s", want, s1);
    cr_expect(strstr(s1, "largest hubs") != NULL);
    free(s1);
    free(s2);
}

/* Each bad line with the field its message must name. */
static const struct {
    const char *line;
    const char *field;
} bad[] = {
    {"{\"account\":\"t1\",\"ts\":10", "json"},                             /* truncated */
    {"{\"account\" \"t2\",\"ts\":10}", "json"},                            /* invalid JSON */
    {"[1,2,3]", "json"},                                                   /* not an object */
    {"{\"account\":42,\"ts\":10}", "account"},                             /* wrong type */
    {"{\"account\":\"t5\",\"ts\":true}", "ts"},                            /* wrong type */
    {"{\"account\":\"t6\",\"ts\":10,\"type\":\"refund\"}", "type"},        /* unknown type */
    {"{\"account\":\"t7\",\"ts\":10,\"ip\":\"300.1.2.3\"}", "ip"},         /* invalid IP */
    {"{\"account\":\"t8\",\"ts\":10,\"ip\":\"fe80::1%eth0\"}", "ip"},      /* zone id */
    {"{\"ts\":10,\"ip\":\"1.2.3.4\"}", "account"},                         /* missing account */
    {"{\"account\":\"t10\"}", "ts"},                                       /* missing ts */
    {"{\"account\":\"t11\",\"ts\":10,\"device\":\"\"}", "device"},         /* empty string */
    {"{\"account\":\"t12\",\"ts\":10,\"device\":\"\xff\xfe\"}", "device"}, /* invalid UTF-8 */
    {"{\"account\":\"t13\",\"ts\":\"2026-02-30T00:00:00Z\"}", "ts"},       /* impossible date */
};
#define NBAD (sizeof bad / sizeof bad[0])

Test(cli, every_bad_line_reported_nothing_valid_lost) {
    char path[600], db[600];
    snprintf(path, sizeof path, "%s/bad.jsonl", tu_dir());
    snprintf(db, sizeof db, "%s/bad.db", tu_dir());
    FILE *f = fopen(path, "w");
    cr_assert(f);
    int valid = 0, line = 0;
    int bad_line_no[NBAD + 2];
    for (size_t i = 0; i < NBAD; i++) {
        fprintf(f, "{\"account\":\"ok%zu\",\"ts\":%zu,\"ip\":\"10.0.%zu.1\",\"device\":\"dv%zu\"}\n", i, 100 + i, i,
                i % 3);
        valid++, line++;
        fprintf(f, "%s\n", bad[i].line);
        bad_line_no[i] = ++line;
    }
    /* overlong account and device values */
    fprintf(f, "{\"account\":\"%0257d\",\"ts\":10}\n", 0);
    int long_account = ++line;
    fprintf(f, "{\"account\":\"x\",\"ts\":10,\"payment\":\"%0513d\"}\n", 0);
    int long_payment = ++line;
    /* a 10 MB line */
    fputs("{\"account\":\"huge\",\"ts\":10,\"pad\":\"", f);
    for (int i = 0; i < 10 * 1024; i++) fprintf(f, "%01024d", 0);
    fputs("\"}\n", f);
    int huge = ++line;
    fprintf(f, "{\"account\":\"last\",\"ts\":999,\"payment\":\"tok_last\"}");
    valid++, line++; /* no trailing newline */
    fclose(f);

    char *out = NULL;
    int rc = tu_run(&out, "'%s' ingest --db '%s' '%s' 2>&1", tu_bin(), db, path);
    cr_expect_eq(rc, 3, "exit code for partial ingest: %d\n%s", rc, out);
    for (size_t i = 0; i < NBAD; i++) {
        char want[700];
        snprintf(want, sizeof want, "%s:%d: %s: ", path, bad_line_no[i], bad[i].field);
        cr_expect(strstr(out, want) != NULL, "missing '%s' in:\n%.3000s", want, out);
    }
    char want[700];
    snprintf(want, sizeof want, "%s:%d: account: ", path, long_account);
    cr_expect(strstr(out, want) != NULL, "missing '%s'", want);
    snprintf(want, sizeof want, "%s:%d: payment: ", path, long_payment);
    cr_expect(strstr(out, want) != NULL, "missing '%s'", want);
    snprintf(want, sizeof want, "%s:%d: line: longer than", path, huge);
    cr_expect(strstr(out, want) != NULL, "missing '%s'", want);
    snprintf(want, sizeof want, "%d events", valid);
    cr_expect(strstr(out, want) != NULL, "want '%s' in %s", want, out);
    snprintf(want, sizeof want, "%zu bad lines", NBAD + 3);
    cr_expect(strstr(out, want) != NULL, "want '%s' in %s", want, out);
    free(out);
    cr_expect_eq(sql_long(db, "SELECT count(*) FROM events"), valid);
    cr_expect_eq(sql_long(db, "SELECT count(*) FROM accounts WHERE ext = 'last'"), 1);
    char *ic = NULL;
    tu_run(&ic, "sqlite3 '%s' 'PRAGMA integrity_check'", db);
    cr_expect_str_eq(ic, "ok\n");
    free(ic);
}

Test(cli, strict_stops_and_keeps_nothing) {
    char path[600], db[600];
    snprintf(path, sizeof path, "%s/s.jsonl", tu_dir());
    snprintf(db, sizeof db, "%s/s.db", tu_dir());
    const char text[] = "{\"account\":\"a\",\"ts\":1}\n{\"account\":\"b\",\"ts\":2,\"ip\":\"1.2.3\"}\n"
                        "{\"account\":\"c\",\"ts\":3}\n";
    tu_write_file(path, text, strlen(text));
    char *out = NULL;
    int rc = tu_run(&out, "'%s' ingest --strict --db '%s' '%s'", tu_bin(), db, path);
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "s.jsonl:2: ip: ") != NULL, "%s", out);
    free(out);
    cr_expect_eq(sql_long(db, "SELECT count(*) FROM events"), 0);
    cr_expect_eq(sql_long(db, "SELECT count(*) FROM accounts"), 0);
}

Test(cli, empty_file_and_stdin) {
    char path[600], db[600];
    snprintf(path, sizeof path, "%s/empty.jsonl", tu_dir());
    snprintf(db, sizeof db, "%s/e.db", tu_dir());
    tu_write_file(path, "", 0);
    char *out = NULL;
    int rc = tu_run(&out, "'%s' ingest --db '%s' '%s'", tu_bin(), db, path);
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "is empty") != NULL, "%s", out);
    free(out);
    rc = tu_run(&out, "printf '{\"account\":\"s\",\"ts\":5}\\n' | '%s' ingest --db '%s' -", tu_bin(), db);
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "<stdin>: 1 events") != NULL, "%s", out);
    free(out);
}

Test(cli, usage_errors_and_help) {
    const char *cmds[] = {"ingest", "stats", "simulate"};
    char *out = NULL;
    for (size_t i = 0; i < 3; i++) {
        cr_expect_eq(tu_run(&out, "'%s' %s --help", tu_bin(), cmds[i]), 0);
        cr_expect(strstr(out, "usage: ringwatch") != NULL, "%s", out);
        free(out);
        cr_expect_eq(tu_run(&out, "'%s' %s --no-such-flag", tu_bin(), cmds[i]), 2);
        free(out);
    }
    cr_expect_eq(tu_run(&out, "'%s' frobnicate", tu_bin()), 2);
    cr_expect(strstr(out, "unknown command") != NULL);
    free(out);
    cr_expect_eq(tu_run(&out, "'%s' ingest --db '%s/x.db' /nonexistent/file", tu_bin(), tu_dir()), 1);
    cr_expect(strstr(out, "cannot open /nonexistent/file") != NULL, "%s", out);
    free(out);
    cr_expect_eq(tu_run(&out, "'%s' stats --db '%s/none.db'", tu_bin(), tu_dir()), 1);
    cr_expect(strstr(out, "does not exist") != NULL, "%s", out);
    free(out);
}

Test(cli, corrupt_database_refused_untouched) {
    char db[600];
    snprintf(db, sizeof db, "%s/junk.db", tu_dir());
    char junk[4096];
    memset(junk, 'z', sizeof junk);
    tu_write_file(db, junk, sizeof junk);
    char *out = NULL;
    int rc = tu_run(&out, "printf '{\"account\":\"s\",\"ts\":5}\\n' | '%s' ingest --db '%s' -", tu_bin(), db);
    cr_expect_eq(rc, 1);
    cr_expect(strstr(out, "not a ringwatch database") != NULL, "%s", out);
    free(out);
    size_t len;
    char *after = tu_read_file(db, &len);
    cr_expect(len == sizeof junk && memcmp(after, junk, len) == 0, "corrupt file was modified");
    free(after);
}

/* Every usage error names what was wrong, on standard error, with exit 2;
 * --help and `help --man` come from the same option table. */
Test(cli, usage_errors_name_what_was_wrong) {
    static const struct {
        const char *args, *says;
    } cases[] = {
        {"clusters --limit abc", "ringwatch clusters: --limit: 'abc' is not a whole number"},
        {"clusters --format xml", "ringwatch clusters: --format: 'xml' is not one of table, json, csv"},
        {"clusters --min-score 2", "--min-score: '2' is not a number from 0 to 1"},
        {"clusters --limit", "--limit: needs a value (N)"},
        {"clusters --bogus", "unknown option '--bogus'"},
        {"clusters -x", "unknown option '-x'"},
        {"clusters extra", "unexpected argument 'extra'"},
        {"export --top 1", "ringwatch export: --out DIR is required"},
        {"export --out x", "--cluster ID, --top N or --run R"},
        {"export --cluster 1 --top 2 --out x", "--cluster and --top exclude each other"},
        {"export --cluster 0 --out x", "--cluster: '0' is not a whole number from 1 to 4294967295"},
        {"rescore --density -1", "--density: '-1' is not a number above 0"},
        {"rescore --quiet=yes", "--quiet takes no value"},
        {"stats --hubs 5000", "--hubs: '5000' is not a whole number from 0 to 1000"},
        {"simulate --out - --ring-share nan", "--ring-share: 'nan' is not a number"},
        {"replay --out d.csv --rescore-at 25:00 ev.jsonl", "--rescore-at: '25:00' is not HH:MM or off"},
        {"ingest", "ringwatch ingest: expected FILE|-"},
        {"retain --days 0", "--days: '0' is not a whole number from 1 to 36500"},
        {"model frob", "'frob' is not show, set, fit, fit-online, list, promote or rollback"},
        {"model fit", "fit: --truth is required"},
        {"explain", "expected an ACCOUNT or --cluster ID"},
        {"explain --cluster 3 acct", "an ACCOUNT or --cluster ID, not both"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL, *err = NULL;
        int rc = tu_rw(&out, "%s 2>/dev/null", cases[i].args);
        cr_expect_eq(rc, 2, "'%s' exited %d", cases[i].args, rc);
        cr_expect(out && !*out, "'%s' printed on standard output: %s", cases[i].args, out);
        tu_rw(&err, "%s 2>&1 >/dev/null", cases[i].args);
        cr_expect(err && strstr(err, cases[i].says), "'%s' should say \"%s\":\n%s", cases[i].args, cases[i].says, err);
        cr_expect(err && strstr(err, "usage: ringwatch"), "'%s' shows the usage line:\n%s", cases[i].args, err);
        free(out);
        free(err);
    }
    /* a prefix of one option is that option; --name=value is one argument */
    char *out = NULL;
    cr_expect_eq(tu_run(&out, "'%s' stats --hub=abc", tu_bin()), 2);
    cr_expect(strstr(out, "--hubs: 'abc' is not a whole number"), "%s", out);
    free(out);
    /* the help lists every option of the table, with its argument */
    cr_expect_eq(tu_run(&out, "'%s' export --help", tu_bin()), 0);
    cr_expect(strstr(out, "usage: ringwatch export") && strstr(out, "--max-edges N") && strstr(out, "--out DIR"), "%s",
              out);
    free(out);
    cr_expect_eq(tu_run(&out, "'%s' help --man", tu_bin()), 0);
    cr_expect(!strncmp(out, ".TH RINGWATCH 1", 15), "%s", out);
    cr_expect(strstr(out, ".SS ringwatch replay") && strstr(out, "\\-\\-features\\-out") && strstr(out, "token_admin"),
              "every command, option and serve setting is in the page");
    free(out);
}

/* Hostile account ids through ingest, export and the terminal: a formula
 * id is neutralised in the CSV cell; an escape sequence never reaches the
 * terminal raw (explain, clusters, error messages). */
Test(cli, hostile_account_ids) {
    char *out = NULL;
    int rc = tu_run(&out,
                    "cd '%s' && printf '%%s\\n' "
                    "'{\"account\":\"=HYPERLINK(\\\"x\\\")\",\"ts\":5,\"device\":\"d1\",\"payment\":\"c1\"}' "
                    "'{\"account\":\"\\u001b[31mred\",\"ts\":6,\"device\":\"d1\",\"payment\":\"c1\"}' "
                    "'{\"account\":\"p1\",\"ts\":7,\"device\":\"d1\",\"payment\":\"c1\"}' "
                    "'{\"account\":\"p2\",\"ts\":8,\"device\":\"d1\",\"payment\":\"c1\"}' | '%s' ingest --quiet - && "
                    "'%s' rescore --quiet && '%s' export --run 1 --out x --format csv",
                    tu_dir(), tu_bin(), tu_bin(), tu_bin());
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    char path[600];
    snprintf(path, sizeof path, "%s/x/nodes.csv", tu_dir());
    char *csv = tu_read_file(path, NULL);
    cr_assert(csv);
    cr_expect(strstr(csv, ",account,\"'=HYPERLINK(\"\"x\"\")\",1,"), "formula cell neutralised:\n%s", csv);
    cr_expect(strstr(csv, ",account,\"\x1b[31mred\",1,"), "other ids are data, kept as they are:\n%s", csv);
    free(csv);
    rc = tu_rw(&out, "explain \"$(printf '\\033[31mred')\" && '%s' clusters --min-score 0", tu_bin());
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(out && !strchr(out, '\x1b'), "a raw ESC reached the terminal:\n%s", out);
    cr_expect(out && strstr(out, "account \\x1B[31mred: first seen"), "%s", out);
    free(out);
    rc = tu_rw(&out, "explain '=HYPERLINK(\"x\")'");
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(out && strstr(out, "account =HYPERLINK(\"x\"): first seen"), "printable text is left alone: %s", out);
    free(out);
    rc = tu_rw(&out, "explain \"$(printf '\\033[2Jgone\\302\\233x')\"");
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(out && !strchr(out, '\x1b') && strstr(out, "\\x1B[2Jgone\\u009Bx"), "error messages escape too: %s", out);
    free(out);
}
