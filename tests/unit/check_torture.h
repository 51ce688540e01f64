/* check_torture.h - allocation-failure torture for the check_torture_*
 * suites (the Makefile links them with --wrap=malloc,calloc,realloc,strdup):
 * the Nth allocation of the library fails; torture_run() runs an operation
 * with N = 1, 2, ... until it succeeds, and every failing run must return an
 * accepted error code. Include from exactly one file per test binary: it
 * defines the __wrap_ functions. */
#ifndef TS_CHECK_TORTURE_H
#define TS_CHECK_TORTURE_H

#include <check.h>
#include <stdlib.h>

#include "../../core/ts.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static long fail_at; /* 0: never fail */
static long calls;   /* allocations counted while fail_at > 0 */

static int should_fail(void)
{
    return fail_at > 0 && ++calls == fail_at;
}

void *__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    return should_fail() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return should_fail() ? NULL : __real_strdup(s);
}

/* Operations must not call ck_assert (Check allocates when reporting): they
 * return CHECK_FAILED when a result is wrong. */
#define CHECK_FAILED (-1000)

static inline int torture_nomem(int rc)
{
    return rc == TS_E_NOMEM;
}

/* Loaders report memory failures inside a config/parse error too. */
static inline int torture_nomem_or_config(int rc)
{
    return rc == TS_E_NOMEM || rc == TS_E_CONFIG || rc == TS_E_PARSE;
}

/* Run op with the 1st, 2nd, ... allocation failing (up to max) until it
 * succeeds; returns how many failure points were exercised. */
static inline long torture_run(int (*op)(void), int (*failed_ok)(int rc), long max)
{
    for (long n = 1; n < max; n++) {
        fail_at = n;
        calls = 0;
        int rc = op();
        long made = calls;
        fail_at = 0;
        if (rc == 0) {
            ck_assert_msg(made < n, "succeeded although allocation %ld failed", n);
            return n - 1;
        }
        ck_assert_msg(rc != CHECK_FAILED, "allocation %ld failed: wrong result", n);
        ck_assert_msg(failed_ok(rc), "allocation %ld failed: unexpected result %d", n, rc);
    }
    ck_abort_msg("never succeeded");
    return 0;
}

#endif
