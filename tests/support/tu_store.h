/* tests: a store on a database file, failing the test with the library's
 * message when it cannot be opened. */
#ifndef TU_STORE_H
#define TU_STORE_H

#include "storage.h"

/* The store at path with rw_store_open's flags (caller closes). */
rw_store *tu_store_open(const char *path, int flags);

#endif
