/* cli: caller-supplied text (account ids, file names, messages quoting
 * them) on a terminal, with every control character escaped. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The code point of the UTF-8 sequence at s (its length in *n), or -1 when
 * the bytes are not one. */
static long utf8_at(const unsigned char *s, int *n) {
    static const struct {
        unsigned char mask, lead;
        int len;
        long min;
    } forms[] = {{0x80, 0x00, 1, 0}, {0xE0, 0xC0, 2, 0x80}, {0xF0, 0xE0, 3, 0x800}, {0xF8, 0xF0, 4, 0x10000}};
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        if ((s[0] & forms[f].mask) != forms[f].lead) continue;
        long cp = s[0] & (unsigned char)~forms[f].mask;
        for (int i = 1; i < forms[f].len; i++) {
            if ((s[i] & 0xC0) != 0x80) return -1;
            cp = cp << 6 | (s[i] & 0x3F);
        }
        if (cp < forms[f].min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
        *n = forms[f].len;
        return cp;
    }
    return -1;
}

/* C1 controls, line and paragraph separators and the bidirectional
 * overrides and isolates: they reorder or hide what follows them. */
static int invisible(long cp) {
    return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0x200E || cp == 0x200F || cp == 0x061C;
}

void rw_cli_put_text(FILE *f, const char *text) {
    const unsigned char *s = (const unsigned char *)text;
    while (s && *s) {
        int n = 1;
        long cp = utf8_at(s, &n);
        if (cp < 0)
            fprintf(f, "\\x%02X", s[0]); /* not UTF-8: one byte at a time */
        else if (cp < 0x20 || cp == 0x7F)
            fprintf(f, "\\x%02X", (unsigned)cp);
        else if (invisible(cp))
            fprintf(f, "\\u%04lX", cp);
        else
            fwrite(s, 1, (size_t)n, f);
        s += n;
    }
}

void rw_cli_error(const char *cmd, const char *fmt, ...) {
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "ringwatch %s: ", cmd);
    rw_cli_put_text(stderr, msg);
    fputc('\n', stderr);
}
