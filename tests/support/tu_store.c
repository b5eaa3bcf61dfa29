/* tests: a store on a database file (see tu_store.h). */
#include "tu_store.h"

#include <criterion/criterion.h>

rw_store *tu_store_open(const char *path, int flags) {
    rw_store *s = NULL;
    rw_err err = {{0}};
    cr_assert_eq(rw_store_open(&s, path, flags, &err), RW_OK, "%s", err.msg);
    return s;
}
