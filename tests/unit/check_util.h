/* check_util.h - shared bits for the Check unit suites.
 * Each tests/unit/check_<module>.c defines `static Suite *make_suite(void)`
 * and ends with TS_CHECK_MAIN(make_suite). */
#ifndef TS_CHECK_UTIL_H
#define TS_CHECK_UTIL_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

/* The sample corpora, never copied into the repository: one directory
 * holding sigma/ (the SigmaHQ rules), sigma-spec/ (the Sigma specification)
 * and events/ (the event samples). Looked for in TOCSIN_CORPORA=DIR, else
 * ../shared beside the checkout, else tests/corpora/ (filled by
 * scripts/fetch-corpora.sh; gitignored). README, "Test corpora". */
enum ts_corpus { TS_CORPUS_SIGMA, TS_CORPUS_SPEC, TS_CORPUS_EVENTS };

/* "<dir>/<sigma|sigma-spec|events>" of the first candidate holding it, or
 * NULL when none does (the test that needs it is skipped: TS_NEED_CORPUS).
 * Static storage, one per corpus. */
static inline const char *ts_test_corpus(enum ts_corpus c)
{
    static const char *const sub[] = {"sigma", "sigma-spec", "events"};
    static char found[3][256]; /* a longer path is not looked at */
    if (found[c][0])
        return found[c];
    const char *env = getenv("TOCSIN_CORPORA");
    const char *const candidates[] = {env && *env ? env : NULL, "../shared", "tests/corpora"};
    struct stat st;
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        if (!candidates[i])
            continue;
        int n = snprintf(found[c], sizeof(found[c]), "%s/%s", candidates[i], sub[c]);
        if (n > 0 && (size_t)n < sizeof(found[c]) && stat(found[c], &st) == 0 &&
            S_ISDIR(st.st_mode))
            return found[c];
        if (i == 0) /* TOCSIN_CORPORA names the one place to look */
            break;
    }
    found[c][0] = '\0';
    return NULL;
}

/* Does corpus c hold sub (a path inside it; "" for the corpus itself)? */
static inline bool ts_test_corpus_has(enum ts_corpus c, const char *sub)
{
    const char *root = ts_test_corpus(c);
    if (!root)
        return false;
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", root, sub);
    struct stat st;
    return stat(path, &st) == 0;
}

/* One line for a test skipped for want of a corpus; the test passes (Check
 * has no skip) and tests/run-unit.sh lists and counts these lines. */
static inline void ts_test_skip(enum ts_corpus c, const char *sub, const char *test)
{
    static const char *const what[] = {"the SigmaHQ corpus", "the Sigma specification",
                                       "the event samples"};
    static const char *const dir[] = {"sigma", "sigma-spec", "events"};
    size_t n = strlen(test);
    if (n > 3 && strcmp(test + n - 3, "_fn") == 0) /* START_TEST's function */
        n -= 3;
    fprintf(stderr, "%.*s: skipped: needs %s (%s/%s), see README (Test corpora)\n", (int)n,
            test, what[c], dir[c], sub);
}

/* At the top of a test that reads sub inside corpus c: skip the test, with
 * one line, when no corpus holds it. */
#define TS_NEED_CORPUS(c, sub)                                                                    \
    do {                                                                                          \
        if (!ts_test_corpus_has((c), (sub))) {                                                    \
            ts_test_skip((c), (sub), __func__);                                                   \
            return;                                                                               \
        }                                                                                         \
    } while (0)

/* The corpora's folders (only for tests that began with TS_NEED_CORPUS). */
static inline const char *ts_test_events_dir(void)
{
    return ts_test_corpus(TS_CORPUS_EVENTS);
}

/* Lines in the file at path (0 when it does not exist). */
static inline int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
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
