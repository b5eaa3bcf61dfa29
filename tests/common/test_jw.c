/* common: the JSON writer gives text jansson reads back as written, escapes
 * what JSON requires, places commas, and refuses unbalanced shapes. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static char *take(rw_jw *w) {
    size_t len = 0;
    char *s = rw_jw_take(w, &len);
    cr_assert_not_null(s);
    cr_assert_eq(strlen(s), len);
    return s;
}

Test(jw, nested_shapes_and_commas) {
    rw_jw w;
    rw_jw_init(&w);
    rw_jw_object(&w);
    rw_jw_key(&w, "a");
    rw_jw_int(&w, -42);
    rw_jw_key(&w, "list");
    rw_jw_array(&w);
    rw_jw_array(&w);
    rw_jw_end(&w);
    rw_jw_object(&w);
    rw_jw_end(&w);
    rw_jw_bool(&w, 1);
    rw_jw_null(&w);
    rw_jw_cstr(&w, NULL);
    rw_jw_end(&w);
    rw_jw_key(&w, "t");
    rw_jw_time(&w, 1789999380);
    rw_jw_key(&w, "never");
    rw_jw_time(&w, 0);
    rw_jw_end(&w);
    char *s = take(&w);
    cr_assert_str_eq(s, "{\"a\":-42,\"list\":[[],{},true,null,null],\"t\":\"2026-09-21T14:03:00Z\",\"never\":null}");
    free(s);
}

Test(jw, strings_are_escaped_and_read_back) {
    const char raw[] = "q\"b\\s/\n\t\x01\x1f \xc3\xa9\xe2\x82\xac";
    rw_jw w;
    rw_jw_init(&w);
    rw_jw_array(&w);
    rw_jw_str(&w, raw, sizeof raw - 1);
    rw_jw_end(&w);
    char *s = take(&w);
    json_error_t je;
    json_t *doc = json_loads(s, 0, &je);
    cr_assert_not_null(doc, "%s: %s", s, je.text);
    cr_assert_eq(json_string_length(json_array_get(doc, 0)), sizeof raw - 1);
    cr_assert(!memcmp(json_string_value(json_array_get(doc, 0)), raw, sizeof raw - 1));
    cr_assert(strstr(s, "\\u0001") && strstr(s, "\\n") && strstr(s, "\\\""));
    json_decref(doc);
    free(s);
}

Test(jw, numbers) {
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {0, "0"},
        {1, "1"},
        {0.5, "0.5"},
        {0.93, "0.93"},
        {0.1234564, "0.123456"},
        {0.1234566, "0.123457"},
        {-2.25, "-2.25"},
        {1e-9, "0"},
        {-1e-9, "0"},
        {123456789.5, "123456789.5"},
        {1e15, "1e+15"},
        {NAN, "null"},
        {INFINITY, "null"},
        {0.9999999, "1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rw_jw w;
        rw_jw_init(&w);
        rw_jw_num(&w, cases[i].v);
        char *s = take(&w);
        cr_assert_str_eq(s, cases[i].text, "%g: got %s, expected %s", cases[i].v, s, cases[i].text);
        free(s);
    }
}

Test(jw, unbalanced_shapes_give_nothing) {
    rw_jw w;
    rw_jw_init(&w);
    rw_jw_object(&w);
    cr_assert_null(rw_jw_take(&w, NULL)); /* left open */
    rw_jw_end(&w);                        /* the writer is empty again: nothing to close */
    cr_assert_null(rw_jw_take(&w, NULL));
    rw_jw_int(&w, 7);
    char *s = take(&w);
    cr_assert_str_eq(s, "7");
    free(s);
}
