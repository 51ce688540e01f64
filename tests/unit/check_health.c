/* check_health.c - per-host health (ingest/health.c): a host whose event
 * times sit a steady whole number of hours off ingest time is reported as a
 * zone mismatch with the line that fixes it; clamped times and parse
 * warnings are counted per host; a host quiet for longer than configured is
 * reported once; tenants keep hosts of the same name apart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../core/tstime.h"
#include "../../ingest/ingest.h"
#include "check_util.h"

#define H (3600LL * TS_NS_PER_SEC)
#define NOW (1796601600LL * TS_NS_PER_SEC)

static void note(struct ingest_health *h, struct ts_arena *a, const char *tenant,
                 const char *host, int64_t ingest, int64_t own, int off, bool clamped)
{
    ts_arena_reset(a);
    struct ts_event ev;
    ts_event_init(&ev, a);
    ev.tenant = tenant;
    ev.src.name = "logs.syslog";
    ev.ingest_ns = ingest;
    ev.time_ns = clamped ? ingest : own;
    ev.time_from_event = true;
    ev.time_clamped = clamped;
    ck_assert_int_eq(ts_event_add_str(&ev, "host", host, strlen(host)), 0);
    ingest_health_note(h, &ev, own, off, false);
}

/* stderr of fn into buf */
static void capture(char *buf, size_t len, struct ingest_health *h, int64_t now, int64_t silent,
                    struct ingest_health_summary *sum)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    dup2(fileno(f), 2);
    struct ingest_health *hs[1] = {h};
    ingest_health_report(hs, 1, now, silent, sum);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

START_TEST(test_utc_host_under_plus7_is_reported_with_the_fixing_line)
{
    struct ingest_health *h;
    struct ts_arena *a;
    ck_assert_int_eq(ingest_health_create(&h), 0);
    ck_assert_int_eq(ts_arena_create(&a, 4096, 1 << 20), 0);
    for (int i = 0; i < 30; i++) { /* read at +07:00, written in UTC: 7 h behind */
        int64_t t = NOW + i * 10LL * TS_NS_PER_SEC;
        note(h, a, "agency-a", "fw-utc", t + 3 * TS_NS_PER_SEC, t - 7 * H, 7 * 3600, false);
        note(h, a, "agency-a", "portal-01", t + 2 * TS_NS_PER_SEC, t, 7 * 3600, false);
    }
    char out[4096];
    struct ingest_health_summary s;
    capture(out, sizeof(out), h, NOW + H / 2, 0, &s);
    ck_assert_uint_eq(s.hosts, 2);
    ck_assert_uint_eq(s.zone_mismatches, 1);
    ck_assert_msg(strstr(out, "host fw-utc (tenant agency-a, logs.syslog): event times sit -7 h"),
                  "%s", out);
    ck_assert_msg(strstr(out, "add to the config: ingest: {hosts: {\"fw-utc\": \"UTC\"}}"), "%s",
                  out);
    ck_assert_ptr_null(strstr(out, "portal-01"));
    /* once an hour, not every report */
    capture(out, sizeof(out), h, NOW + H / 2 + 30 * TS_NS_PER_SEC, 0, &s);
    ck_assert_ptr_null(strstr(out, "fw-utc"));
    ingest_health_destroy(h);
    ts_arena_destroy(a);
}
END_TEST

START_TEST(test_clamped_and_silent_hosts_are_counted_and_reported_once)
{
    struct ingest_health *h;
    struct ts_arena *a;
    ck_assert_int_eq(ingest_health_create(&h), 0);
    ck_assert_int_eq(ts_arena_create(&a, 4096, 1 << 20), 0);
    note(h, a, "agency-a", "evil", NOW, NOW + 72 * H, 0, true);
    note(h, a, "agency-b", "evil", NOW, NOW, 0, false); /* another tenant's host */
    char out[4096];
    struct ingest_health_summary s;
    capture(out, sizeof(out), h, NOW + 2 * H, H, &s);
    ck_assert_uint_eq(s.hosts, 2);
    ck_assert_uint_eq(s.clamped, 1);
    ck_assert_uint_eq(s.silent, 2);
    ck_assert_msg(strstr(out, "host evil (tenant agency-a, logs.syslog): 1 of 1 events dated "
                              "too far ahead"), "%s", out);
    ck_assert_msg(strstr(out, "host evil (tenant agency-b, logs.syslog) has sent nothing for "
                              "7200 s"), "%s", out);
    capture(out, sizeof(out), h, NOW + 2 * H + 60 * TS_NS_PER_SEC, H, &s);
    ck_assert_ptr_null(strstr(out, "has sent nothing"));
    ck_assert_uint_eq(s.silent, 2);
    ingest_health_destroy(h);
    ts_arena_destroy(a);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("health");
    TCase *t = tcase_create("health");
    tcase_add_test(t, test_utc_host_under_plus7_is_reported_with_the_fixing_line);
    tcase_add_test(t, test_clamped_and_silent_hosts_are_counted_and_reported_once);
    suite_add_tcase(s, t);
    return s;
}

TS_CHECK_MAIN(make_suite)
