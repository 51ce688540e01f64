/* check_util.h - shared bits for the Check unit suites.
 * Each tests/unit/check_<module>.c defines `static Suite *make_suite(void)`
 * and ends with TS_CHECK_MAIN(make_suite). */
#ifndef TS_CHECK_UTIL_H
#define TS_CHECK_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Where ../shared/events lives; overridable with TOCSIN_EVENTS_DIR. */
static inline const char *ts_test_events_dir(void)
{
    const char *d = getenv("TOCSIN_EVENTS_DIR");
    return d && *d ? d : "../shared/events";
}

#define TS_CHECK_MAIN(make_suite_fn)                                                              \
    int main(void)                                                                                \
    {                                                                                             \
        SRunner *sr = srunner_create(make_suite_fn());                                            \
        srunner_run_all(sr, CK_NORMAL);                                                           \
        int failed = srunner_ntests_failed(sr);                                                   \
        srunner_free(sr);                                                                         \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                                              \
    }

#endif
