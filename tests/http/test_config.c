/* Unit tests of the serve configuration: defaults, INI parsing with line
 * numbers, environment variables and their precedence, checks. */
#include <criterion/criterion.h>
#include <string.h>

#include "http.h"

static rw_config cfg;
static rw_err err;

static void setup(void) {
    rw_config_defaults(&cfg);
    memset(&err, 0, sizeof err);
}
TestSuite(config, .init = setup);

static rw_status parse(const char *text) {
    return rw_config_parse(&cfg, "rw.ini", text, strlen(text), &err);
}

Test(config, defaults_are_documented_and_valid) {
    cr_expect_str_eq(cfg.listen, "127.0.0.1:8080");
    cr_expect_str_eq(cfg.db, "ringwatch.db");
    cr_expect_eq(cfg.threads, 2);
    cr_expect_eq(cfg.max_body_bytes, 1048576);
    cr_expect_eq(cfg.rescore_at, -1);
    cr_expect_eq(cfg.auth, 1);
    cr_expect_eq(cfg.fsync, 1, "a signup is answered after its fsync unless asked otherwise");
    cr_expect_eq(cfg.log_level, RW_LOG_INFO);
    /* the server's defaults are the engine's */
    cr_expect_float_eq(cfg.review_threshold, RW_ONLINE_REVIEW, 1e-12);
    cr_expect_float_eq(cfg.block_threshold, RW_ONLINE_BLOCK, 1e-12);
    /* every documented default parses back through rw_config_set */
    const rw_config_doc *d;
    size_t n = 0;
    for (size_t i = 0; (d = rw_config_doc_at(i)) != NULL; i++, n++) {
        rw_config c2;
        rw_config_defaults(&c2);
        cr_expect_eq(rw_config_set(&c2, d->key, d->def, &err), RW_OK, "%s: %s", d->key, err.msg);
        cr_expect(strlen(d->summary) > 5, "%s has no summary", d->key);
    }
    cr_expect_geq(n, 18);
    /* no token and auth on: refused with a clear message */
    cr_expect_eq(rw_config_check(&cfg, &err), RW_ERR_INVALID);
    cr_expect(strstr(err.msg, "--insecure-no-auth") != NULL, "%s", err.msg);
}

Test(config, ini_lines_comments_sections_quotes) {
    const char *text = "# comment\n"
                       "; another\n"
                       "\n"
                       "[server]\n"
                       "listen = 0.0.0.0:9000\r\n"
                       "  threads=4  \n"
                       "rescore_at = 03:00\n"
                       "token_admin = \"admin-token-0123456789, second-admin-token-xyz\"\n"
                       "key_file = \"/a b/#c.key\"\n"
                       "log_level = debug\n"
                       "auth = on\n"
                       "fsync = off\n"
                       "threads = 8"; /* last line without newline; a repeated key: the last wins */
    cr_assert_eq(parse(text), RW_OK, "%s", err.msg);
    cr_expect_str_eq(cfg.listen, "0.0.0.0:9000");
    cr_expect_eq(cfg.threads, 8);
    cr_expect_eq(cfg.rescore_at, 180);
    cr_expect_str_eq(cfg.key_file, "/a b/#c.key");
    cr_expect_eq(cfg.log_level, RW_LOG_DEBUG);
    cr_expect_eq(cfg.fsync, 0);
    cr_expect_eq(rw_config_check(&cfg, &err), RW_OK, "%s", err.msg);
}

typedef struct {
    const char *text;
    const char *want; /* prefix of the message */
} bad_case;

Test(config, bad_lines_name_file_line_and_key) {
    static const bad_case cases[] = {
        {"threads = 4\nnonsense\n", "rw.ini:2: expected key = value"},
        {"\n\nbogus = 1\n", "rw.ini:3: bogus: unknown setting"},
        {"threads = many\n", "rw.ini:1: threads: expected a number"},
        {"threads = 0\n", "rw.ini:1: threads: 0 is out of range"},
        {"threads = 2.5\n", "rw.ini:1: threads: expected a whole number"},
        {"threads = -3\n", "rw.ini:1: threads: -3 is out of range"},
        {"review_threshold = 1.5\n", "rw.ini:1: review_threshold: 1.5 is out of range"},
        {"rescore_at = 25:00\n", "rw.ini:1: rescore_at: expected HH:MM"},
        {"rescore_at = 3:00\n", "rw.ini:1: rescore_at: expected HH:MM"},
        {"auth = maybe\n", "rw.ini:1: auth: expected on or off"},
        {"log_level = loud\n", "rw.ini:1: log_level: expected error, info or debug"},
        {"token_admin = short\n", "rw.ini:1: token_admin: token 1 must be 16 to 512"},
        {"token_admin = good-token-0123456789,bad token with spaces\n", "rw.ini:1: token_admin: token 2"},
        {"[client]\n", "rw.ini:1: [client]: unknown section"},
        {"listen = \"127.0.0.1:1\n", "rw.ini:1: listen: unbalanced double quote"},
        {" = 3\n", "rw.ini:1: expected key = value"},
        {"max_body_bytes = 1e3\n", "rw.ini:1: max_body_bytes: expected a whole number"},
        {"timeout_seconds = 0x10\n", "rw.ini:1: timeout_seconds: expected a whole number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setup();
        cr_expect_eq(parse(cases[i].text), RW_ERR_INVALID, "case %zu accepted", i);
        cr_expect(strncmp(err.msg, cases[i].want, strlen(cases[i].want)) == 0, "case %zu: '%s', want '%s...'", i,
                  err.msg, cases[i].want);
    }
    setup();
    const char nul[] = "threads = 4\nlisten = a\0b\n";
    cr_expect_eq(rw_config_parse(&cfg, "rw.ini", nul, sizeof nul - 1, &err), RW_ERR_INVALID);
    cr_expect(strstr(err.msg, "rw.ini:2:") != NULL, "%s", err.msg);
}

/* A fake environment for rw_config_env. */
static const char *const *fake_env;
static const char *fake_get(const char *name) {
    for (size_t i = 0; fake_env[i]; i += 2)
        if (!strcmp(fake_env[i], name)) return fake_env[i + 1];
    return NULL;
}

Test(config, precedence_file_then_env_then_flags) {
    cr_assert_eq(parse("threads = 4\nlisten = 127.0.0.1:1\ndb = file.db\n"), RW_OK, "%s", err.msg);
    static const char *const env[] = {"RINGWATCH_THREADS", "6", "RINGWATCH_DB", "env.db", NULL};
    fake_env = env;
    cr_assert_eq(rw_config_env(&cfg, fake_get, &err), RW_OK, "%s", err.msg);
    cr_expect_eq(cfg.threads, 6);                /* env over file */
    cr_expect_str_eq(cfg.listen, "127.0.0.1:1"); /* file over default */
    cr_assert_eq(rw_config_set(&cfg, "db", "flag.db", &err), RW_OK);
    cr_expect_str_eq(cfg.db, "flag.db"); /* flag over env */
    static const char *const bad[] = {"RINGWATCH_BLOCK_THRESHOLD", "high", NULL};
    fake_env = bad;
    cr_expect_eq(rw_config_env(&cfg, fake_get, &err), RW_ERR_INVALID);
    cr_expect(strstr(err.msg, "RINGWATCH_BLOCK_THRESHOLD: block_threshold: expected a number") == err.msg, "%s",
              err.msg);
}

Test(config, checks_across_settings) {
    cr_assert_eq(parse("auth = off\n"), RW_OK);
    cr_expect_eq(rw_config_check(&cfg, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(parse("review_threshold = 0.95\n"), RW_OK);
    cr_expect_eq(rw_config_check(&cfg, &err), RW_ERR_INVALID);
    cr_expect(strncmp(err.msg, "review_threshold:", 17) == 0, "%s", err.msg);
    cr_assert_eq(parse("review_threshold = 0.5\nthreads = 32\nconnection_limit = 8\n"), RW_OK);
    cr_expect_eq(rw_config_check(&cfg, &err), RW_ERR_INVALID);
    cr_expect(strncmp(err.msg, "connection_limit:", 17) == 0, "%s", err.msg);
}
