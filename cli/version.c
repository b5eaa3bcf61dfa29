/* ringwatch --version: the build (version, git commit) and the versions of
 * the libraries it runs with, as loaded (a Debian library upgrade shows
 * here without a rebuild). */
#include <cblas.h>
#include <igraph/igraph_version.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "build_info.h"
#include "cli.h"

void rw_cli_version(FILE *f) {
    const char *igraph = NULL;
    igraph_version(&igraph, NULL, NULL, NULL);
    fprintf(f, "ringwatch %s (commit %s)\n", RW_VERSION, RW_GIT_COMMIT);
    fprintf(f, "  igraph        %s\n", igraph ? igraph : "unknown");
    fprintf(f, "  SQLite        %s\n", sqlite3_libversion());
    fprintf(f, "  libmicrohttpd %s\n", MHD_get_version());
    const char *blas = openblas_get_config(); /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ..." */
    fprintf(f, "  OpenBLAS      %s\n", strncmp(blas, "OpenBLAS ", 9) ? blas : blas + 9);
    fprintf(f, "  libsodium     %s\n", sodium_version_string());
    fprintf(f, "  jansson       %s\n", jansson_version_str());
}
