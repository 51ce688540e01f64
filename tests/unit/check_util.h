/* check_util.h - shared bits for the Check unit suites.
 * Each tests/unit/check_<module>.c defines `static Suite *make_suite(void)`
 * and ends with TS_CHECK_MAIN(make_suite). */
#ifndef TS_CHECK_UTIL_H
#define TS_CHECK_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include <sys/stat.h>

/* Where the shared sample events live: TOCSIN_EVENTS_DIR, else
 * ../shared/events beside the checkout, else /work/shared/events (the CI
 * clone may live elsewhere). Tests fail, never skip, when none exists. */
static inline const char *ts_test_events_dir(void)
{
    const char *d = getenv("TOCSIN_EVENTS_DIR");
    if (d && *d)
        return d;
    static const char *const candidates[] = {"../shared/events", "/work/shared/events"};
    struct stat st;
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
        if (stat(candidates[i], &st) == 0 && S_ISDIR(st.st_mode))
            return candidates[i];
    return candidates[0];
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
