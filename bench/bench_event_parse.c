/* bench: rw_event_parse on a typical signup line beside its peer in the same
 * run, jansson's json_loads of the same line (a general JSON parser that
 * builds a tree; ringwatch's reads the known keys in one pass), as ns per
 * line and a ratio. Usage: bench_event_parse [LINES] (default 2000000). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char line[] = "{\"account\":\"acct-42\",\"ts\":1790000000,\"type\":\"signup\",\"ip\":\"203.0.113.7\","
                           "\"device\":\"d-9f2c\",\"payment\":\"tok_77\"}";

/* Best of five rounds of n parses, in ns per line. */
static double ringwatch_ns(long n) {
    static rw_event_raw ev;
    size_t len = strlen(line);
    double best = 1e300;
    unsigned sum = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = rw_now();
        for (long i = 0; i < n; i++) sum += (unsigned)rw_event_parse(&ev, line, len, NULL) + (unsigned)ev.attr_len[0];
        double dt = (rw_now() - t0) * 1e9 / (double)n;
        if (dt < best) best = dt;
    }
    if (sum == 0) fprintf(stderr, "bench_event_parse: nothing parsed\n");
    return best;
}

static double jansson_ns(long n) {
    size_t len = strlen(line);
    double best = 1e300;
    for (int r = 0; r < 5; r++) {
        double t0 = rw_now();
        for (long i = 0; i < n; i++) {
            json_t *j = json_loadb(line, len, 0, NULL);
            if (!j || !json_string_value(json_object_get(j, "account"))) {
                fprintf(stderr, "bench_event_parse: jansson failed\n");
                exit(1);
            }
            json_decref(j);
        }
        double dt = (rw_now() - t0) * 1e9 / (double)n;
        if (dt < best) best = dt;
    }
    return best;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    if (n < 1) {
        fprintf(stderr, "usage: bench_event_parse [LINES]\n");
        return 2;
    }
    double rw = ringwatch_ns(n), js = jansson_ns(n / 4 + 1);
    printf("RESULT event parse: rw_event_parse %.0f ns/line, jansson json_loadb %.0f ns/line (%zu-byte line, best of "
           "5), ratio %.2f\n",
           rw, js, strlen(line), rw / js);
    return 0;
}
