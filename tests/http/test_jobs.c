/* Unit tests of the nightly schedule's clock arithmetic. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <time.h>

#include "http_int.h"

static void utc(void) {
    setenv("TZ", "UTC", 1);
    tzset();
}
TestSuite(schedule, .init = utc);

Test(schedule, seconds_until_next_time_of_day) {
    const int64_t day = 1790208000;                                              /* 2026-09-24T00:00:00Z */
    cr_expect_eq(rw_jobs_seconds_until(day + 2 * 3600 + 59 * 60, 180), 60);      /* 02:59 -> 03:00 */
    cr_expect_eq(rw_jobs_seconds_until(day + 3 * 3600, 180), 86400);             /* at 03:00: tomorrow */
    cr_expect_eq(rw_jobs_seconds_until(day + 3 * 3600 + 1, 180), 86399);         /* just after */
    cr_expect_eq(rw_jobs_seconds_until(day + 23 * 3600 + 59 * 60, 0), 60);       /* 23:59 -> midnight */
    cr_expect_eq(rw_jobs_seconds_until(day, 23 * 60 + 59), 23 * 3600 + 59 * 60); /* midnight -> 23:59 */
}

Test(schedule, daylight_saving_day_is_shorter) {
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    time_t summer = 1790208000;
    struct tm tm;
    localtime_r(&summer, &tm);
    if (!tm.tm_isdst) cr_skip_test("no time zone data (tzdata) on this machine");
    /* 2026-03-29: clocks go from 02:00 to 03:00 CET -> CEST. 2026-03-28 03:00
     * CET is 02:00Z; the next 03:00 (CEST) is 2026-03-29T01:00Z: 23 hours. */
    const int64_t at = 1774663200; /* 2026-03-28T02:00:00Z */
    cr_expect_eq(rw_jobs_seconds_until(at, 180), 23 * 3600);
}
