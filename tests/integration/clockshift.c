/* clockshift.c - an LD_PRELOAD library for tests: the process's wall clock
 * (clock_gettime CLOCK_REALTIME and _COARSE, gettimeofday, time) shifted by
 * the seconds written in the file $CLOCKSHIFT_FILE ("10800", "-21600"),
 * read again at most every 100 ms, so that a test can make the wall clock
 * of a running process jump. The monotonic clocks and every wait are left
 * alone, as when NTP steps the system clock. (libfaketime 0.9.10, Debian
 * 12's, also shifts waits on monotonic condition variables with
 * FAKETIME_DONT_FAKE_MONOTONIC set, which stalls librdkafka's threads for
 * the length of the jump: not what a stepped clock does.)
 *
 * Built by tests/integration/test_faults.py:
 *   cc -shared -fPIC -o clockshift.so tests/integration/clockshift.c -ldl
 * (not by `make tools`: it is a shared object, not a program). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static _Atomic long long shift_s;
static _Atomic long long read_at_ns = -1;

static clock_gettime_fn real_clock_gettime(void)
{
    static _Atomic(clock_gettime_fn) fn;
    clock_gettime_fn f = atomic_load(&fn);
    if (!f) {
        f = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
        atomic_store(&fn, f);
    }
    return f;
}

static long long shift(void)
{
    struct timespec m;
    if (real_clock_gettime()(CLOCK_MONOTONIC, &m) != 0)
        return atomic_load(&shift_s);
    long long now = (long long)m.tv_sec * 1000000000LL + m.tv_nsec;
    long long at = atomic_load(&read_at_ns);
    if (at >= 0 && now - at < 100000000LL)
        return atomic_load(&shift_s);
    atomic_store(&read_at_ns, now);
    const char *path = getenv("CLOCKSHIFT_FILE");
    FILE *f = path ? fopen(path, "re") : NULL;
    if (f) {
        long long v;
        if (fscanf(f, "%lld", &v) == 1)
            atomic_store(&shift_s, v);
        fclose(f);
    }
    return atomic_load(&shift_s);
}

int clock_gettime(clockid_t clk, struct timespec *tp)
{
    int rc = real_clock_gettime()(clk, tp);
    if (rc == 0 && (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE))
        tp->tv_sec += (time_t)shift();
    return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    (void)tz;
    struct timespec t;
    int rc = clock_gettime(CLOCK_REALTIME, &t);
    if (rc == 0) { /* tv is declared nonnull */
        tv->tv_sec = t.tv_sec;
        tv->tv_usec = t.tv_nsec / 1000;
    }
    return rc;
}

time_t time(time_t *out)
{
    struct timespec t;
    if (clock_gettime(CLOCK_REALTIME, &t) != 0)
        return (time_t)-1;
    if (out)
        *out = t.tv_sec;
    return t.tv_sec;
}
