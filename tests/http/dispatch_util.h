/* http tests without sockets: an engine on the test's database (tests/support
 * fixtures) and a server over it that nothing listens on, for
 * rw_http_dispatch. Included once per test file. */
#ifndef DISPATCH_UTIL_H
#define DISPATCH_UTIL_H

#include <criterion/criterion.h>

#include "http_int.h"
#include "tu_engine.h"
#include "tu_tmp.h"

/* The tokens every dispatch suite's server takes. */
#define SIGNUP  "Bearer signup-token-0123456789"
#define ANALYST "Bearer analyst-token-0123456789"
#define ADMIN   "Bearer admin-token-0123456789"

/* The folder, an engine on its database and a server over it, with the
 * tokens above, quiet logs, and then the settings (name, value, ...,
 * NULL) over the defaults, checked. */
__attribute__((unused)) static void dispatch_up(rw_engine **eng, rw_http_server **srv, const char *const *settings) {
    tu_tmp_init();
    *eng = tu_engine_open(tu_db(), 0);
    static const char *const common[] = {"token_signup",
                                         "signup-token-0123456789",
                                         "token_analyst",
                                         "analyst-token-0123456789",
                                         "token_admin",
                                         "admin-token-0123456789",
                                         "log_level",
                                         "error",
                                         NULL};
    rw_config cfg;
    rw_config_defaults(&cfg);
    rw_err err = {{0}};
    for (const char *const *set = common; set; set = set == common ? settings : NULL)
        for (size_t i = 0; set[i]; i += 2)
            cr_assert_eq(rw_config_set(&cfg, set[i], set[i + 1], &err), RW_OK, "%s: %s", set[i], err.msg);
    cr_assert_eq(rw_config_check(&cfg, &err), RW_OK, "%s", err.msg);
    cr_assert_eq(rw_http_create(srv, *eng, &cfg, &err), RW_OK, "%s", err.msg);
}

__attribute__((unused)) static void dispatch_down(rw_engine *eng, rw_http_server *srv) {
    rw_http_free(srv);
    rw_engine_close(eng);
    tu_tmp_fini();
}

#endif
