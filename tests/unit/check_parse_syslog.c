/* check_parse_syslog.c - RFC 3164 / RFC 5424 parsing, the common checks of
 * ingest_parse (empty, size, UTF-8) and format detection. */
#include <check.h>
#include <string.h>

#include "../../core/arena.h"
#include "../../core/event.h"
#include "../../core/tstime.h"
#include "../../ingest/ingest.h"
#include "check_util.h"

static struct ts_arena *arena;
static struct ts_event ev;
static struct ingest_diag diag;

/* 2024-06-15T12:00:00Z, the default ingest time of the tests. */
#define INGEST_NS (ts_epoch_from_utc(2024, 6, 15, 12, 0, 0) * TS_NS_PER_SEC)

static void setup(void)
{
    ck_assert_int_eq(ts_arena_create(&arena, 4096, 1u << 24), 0);
}

static void teardown(void)
{
    ts_arena_destroy(arena);
    arena = NULL;
}

/* Parse raw[0..len) (copied NUL-terminated into the arena) as fmt. */
static int parse_n(enum ingest_format fmt, const struct ingest_parse_opts *opts, const char *raw,
                   size_t len)
{
    ts_arena_reset(arena);
    ts_event_init(&ev, arena);
    ev.raw = ts_arena_strndup(arena, raw, len);
    ck_assert_ptr_nonnull(ev.raw);
    ev.raw_len = (uint32_t)len;
    ev.ingest_ns = INGEST_NS;
    memset(&diag, 0xff, sizeof(diag)); /* ingest_parse must reset it */
    return ingest_parse(fmt, opts, &ev, &diag);
}

static int parse(enum ingest_format fmt, const char *raw)
{
    return parse_n(fmt, NULL, raw, strlen(raw));
}

static void assert_str(const char *name, const char *want)
{
    const struct ts_field *f = ts_event_getz(&ev, name);
    ck_assert_msg(f != NULL, "field %s missing", name);
    ck_assert_msg(f->v.type == TS_V_STR, "field %s is not a string", name);
    ck_assert_msg(f->v.len == strlen(want) && memcmp(f->v.u.s, want, f->v.len) == 0,
                  "field %s is \"%.*s\", want \"%s\"", name, (int)f->v.len, f->v.u.s, want);
}

static void assert_int(const char *name, int64_t want)
{
    const struct ts_field *f = ts_event_getz(&ev, name);
    ck_assert_msg(f != NULL, "field %s missing", name);
    ck_assert_msg(f->v.type == TS_V_INT, "field %s is not an int", name);
    ck_assert_int_eq(f->v.u.i, want);
}

static void assert_absent(const char *name)
{
    ck_assert_msg(ts_event_getz(&ev, name) == NULL, "field %s should be absent", name);
}

static void assert_time(int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
                        int64_t frac_ns)
{
    ck_assert(ev.time_from_event);
    ck_assert_int_eq(ev.time_ns, ts_epoch_from_utc(y, mo, d, h, mi, s) * TS_NS_PER_SEC + frac_ns);
}

static void assert_ok_no_warning(int rc)
{
    ck_assert_msg(rc == 0, "rejected: %s", diag.reason ? diag.reason : "?");
    ck_assert_ptr_null(diag.reason);
    ck_assert_ptr_null(diag.warning);
}

/* ------------------------------------------- hostnames that are not one */

/* "<13>Jan  1 00:00:00 " + host + " sshd[7]: hi" */
static int parse_3164_host(const char *host, size_t hlen)
{
    static const char pre[] = "<13>Jan  1 00:00:00 ", post[] = " sshd[7]: hi";
    char line[1024];
    ck_assert_uint_lt(sizeof(pre) + hlen + sizeof(post), sizeof(line));
    memcpy(line, pre, sizeof(pre) - 1);
    memcpy(line + sizeof(pre) - 1, host, hlen);
    memcpy(line + sizeof(pre) - 1 + hlen, post, sizeof(post));
    return parse_n(INGEST_FMT_RFC3164, NULL, line, sizeof(pre) - 1 + hlen + sizeof(post) - 1);
}

/* The message holds want_len bytes of want (NUL bytes included). */
static void assert_message_n(const char *want, size_t want_len)
{
    const struct ts_field *f = ts_event_getz(&ev, "message");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->v.len, want_len);
    ck_assert(memcmp(f->v.u.s, want, want_len) == 0);
}

START_TEST(test_rfc3164_host_with_nul_or_control_bytes_stays_in_the_message)
{
    static const struct {
        const char *host;
        size_t len;
    } bad[] = {{"ketoan\0pc07", 11}, {"ho\tst", 5}, {"ho\x1b[2Jst", 8}, {"ho\x7fst", 5},
               {"ho\xC2\x85st", 6} /* U+0085 NEL */, {"ho\rst", 5}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(parse_3164_host(bad[i].host, bad[i].len), 0);
        assert_absent("host");
        assert_absent("program");
        char want[64];
        memcpy(want, bad[i].host, bad[i].len);
        memcpy(want + bad[i].len, " sshd[7]: hi", 12);
        assert_message_n(want, bad[i].len + 12); /* nothing lost */
        ck_assert_ptr_nonnull(diag.warning);
        ck_assert_msg(strstr(diag.warning, "not taken as host") != NULL, "%s", diag.warning);
        assert_time(2024, 1, 1, 0, 0, 0, 0);
    }
}
END_TEST

START_TEST(test_rfc3164_host_over_255_bytes_stays_in_the_message)
{
    char host[300];
    memset(host, 'h', sizeof(host));
    assert_ok_no_warning(parse_3164_host(host, 255));
    const struct ts_field *f = ts_event_getz(&ev, "host");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->v.len, 255);
    assert_str("program", "sshd");

    ck_assert_int_eq(parse_3164_host(host, 256), 0);
    assert_absent("host");
    assert_absent("program");
    f = ts_event_getz(&ev, "message");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->v.len, 256 + 12);
    ck_assert_ptr_nonnull(diag.warning);

    /* the 64 KB host of the review */
    static char big[70000];
    static const char pre[] = "<13>Jan  1 00:00:00 ";
    memcpy(big, pre, sizeof(pre) - 1);
    memset(big + sizeof(pre) - 1, 'a', 65536);
    memcpy(big + sizeof(pre) - 1 + 65536, " sshd: x", 8);
    size_t n = sizeof(pre) - 1 + 65536 + 8;
    ck_assert_int_eq(parse_n(INGEST_FMT_AUTO, NULL, big, n), 0);
    assert_absent("host");
    f = ts_event_getz(&ev, "message");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->v.len, 65536 + 8);
}
END_TEST

START_TEST(test_rfc5424_hostname_with_control_bytes_or_over_255_is_not_taken)
{
    static const char nul_host[] = "<13>1 2024-01-01T00:00:00Z ho\0st app 12 ID - msg";
    ck_assert_int_eq(parse_n(INGEST_FMT_RFC5424, NULL, nul_host, sizeof(nul_host) - 1), 0);
    assert_absent("host");
    assert_str("program", "app"); /* the rest of the header still parses */
    assert_int("pid", 12);
    assert_str("message", "msg");
    ck_assert_ptr_nonnull(diag.warning);
    ck_assert_msg(strstr(diag.warning, "not taken as host") != NULL, "%s", diag.warning);

    ck_assert_int_eq(parse(INGEST_FMT_RFC5424, "<13>1 2024-01-01T00:00:00Z h\x1b[31m app - - - m"),
                     0);
    assert_absent("host");

    char host[257], line[600];
    memset(host, 'h', sizeof(host) - 1);
    host[255] = '\0';
    int k = snprintf(line, sizeof(line), "<13>1 2024-01-01T00:00:00Z %s app - - - m", host);
    assert_ok_no_warning(parse_n(INGEST_FMT_RFC5424, NULL, line, (size_t)k));
    ck_assert_uint_eq(ts_event_getz(&ev, "host")->v.len, 255);
    host[255] = 'h';
    host[256] = '\0';
    k = snprintf(line, sizeof(line), "<13>1 2024-01-01T00:00:00Z %s app - - - m", host);
    ck_assert_int_eq(parse_n(INGEST_FMT_RFC5424, NULL, line, (size_t)k), 0);
    assert_absent("host");
    assert_str("program", "app");
    ck_assert_ptr_nonnull(diag.warning);
}
END_TEST

/* ----------------------------------------------- RFC 5424, section 6.5 */

START_TEST(test_rfc5424_example1_bom_and_nil_sd)
{
    assert_ok_no_warning(parse(INGEST_FMT_AUTO,
                               "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
                               "\xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8"));
    ck_assert_str_eq(ev.format, "rfc5424");
    assert_time(2003, 10, 11, 22, 14, 15, 3000000);
    assert_str("host", "mymachine.example.com");
    assert_str("program", "su");
    assert_absent("pid");
    assert_str("msgid", "ID47");
    assert_str("facility", "auth");
    assert_str("severity", "crit");
    assert_int("pri", 34);
    assert_str("message", "'su root' failed for lonvick on /dev/pts/8");
}
END_TEST

START_TEST(test_rfc5424_example2_offset_and_numeric_procid)
{
    assert_ok_no_warning(parse(INGEST_FMT_RFC5424,
                               "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - "
                               "%% It's time to make the do-nuts."));
    assert_time(2003, 8, 24, 12, 14, 15, 3000);
    assert_str("host", "192.0.2.1");
    assert_str("program", "myproc");
    assert_int("pid", 8710);
    assert_absent("msgid");
    assert_str("facility", "local4");
    assert_str("severity", "notice");
    assert_int("pri", 165);
    assert_str("message", "%% It's time to make the do-nuts.");
}
END_TEST

START_TEST(test_rfc5424_example3_sd_params_become_fields)
{
    assert_ok_no_warning(parse(
        INGEST_FMT_AUTO,
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
        "\xEF\xBB\xBF"
        "An application event log entry..."));
    assert_str("program", "evntslog");
    assert_str("msgid", "ID47");
    assert_str("sd.exampleSDID@32473.iut", "3");
    assert_str("sd.exampleSDID@32473.eventSource", "Application");
    assert_str("sd.exampleSDID@32473.eventID", "1011");
    assert_str("message", "An application event log entry...");
}
END_TEST

START_TEST(test_rfc5424_example4_two_sd_elements_no_msg)
{
    assert_ok_no_warning(
        parse(INGEST_FMT_AUTO,
              "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
              "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
              "[examplePriority@32473 class=\"high\"]"));
    assert_str("sd.exampleSDID@32473.eventID", "1011");
    assert_str("sd.examplePriority@32473.class", "high");
    assert_absent("message");
}
END_TEST

START_TEST(test_rfc5424_sd_escapes_are_unescaped)
{
    assert_ok_no_warning(parse(INGEST_FMT_RFC5424,
                               "<13>1 2024-01-02T03:04:05Z h app - - "
                               "[x@1 q=\"say \\\"hi\\\"\" b=\"a\\\\b\" r=\"[1\\]\" o=\"c:\\temp\" "
                               "e=\"\"] msg"));
    assert_str("sd.x@1.q", "say \"hi\"");
    assert_str("sd.x@1.b", "a\\b");
    assert_str("sd.x@1.r", "[1]");
    assert_str("sd.x@1.o", "c:\\temp"); /* other backslashes stay */
    assert_str("sd.x@1.e", "");
    assert_str("message", "msg");
    /* raw untouched */
    ck_assert(strstr(ev.raw, "say \\\"hi\\\"") != NULL);
}
END_TEST

START_TEST(test_rfc5424_all_nilvalues_use_ingest_time_without_warning)
{
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "<14>1 - - - - - -"));
    ck_assert(!ev.time_from_event);
    ck_assert_int_eq(ev.time_ns, INGEST_NS);
    assert_absent("host");
    assert_absent("program");
    assert_absent("pid");
    assert_absent("msgid");
    assert_absent("message");
    assert_str("facility", "user");
    assert_str("severity", "info");
}
END_TEST

START_TEST(test_rfc5424_nonnumeric_procid_is_string)
{
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "<14>1 2024-01-02T03:04:05+01:00 h app w-12 M - x"));
    assert_str("pid", "w-12");
    assert_time(2024, 1, 2, 2, 4, 5, 0);
}
END_TEST

START_TEST(test_rfc5424_invalid_sd_is_rejected_with_reason)
{
    static const char *const bad[] = {
        "<14>1 - h a - - [x@1 k=\"unterminated] m",
        "<14>1 - h a - - [x@1 k=\"v\" m",
        "<14>1 - h a - - [x@1 k=v] m",
        "<14>1 - h a - - [ k=\"v\"] m",
        "<14>1 - h a - - [x@1 =\"v\"] m",
        "<14>1 - h a - - [x@1 k=\"v\"]m",
        "<14>1 - h a - - x m",
    };
    for (size_t i = 0; i < TS_ARRAY_LEN(bad); i++) {
        ck_assert_int_eq(parse(INGEST_FMT_AUTO, bad[i]), TS_E_PARSE);
        ck_assert_ptr_nonnull(diag.reason);
        ck_assert_msg(strncmp(diag.reason, "invalid RFC 5424 message at byte ", 33) == 0, "%s",
                      diag.reason);
    }
    ck_assert_int_eq(parse(INGEST_FMT_AUTO, "<14>1 - h a - - [x@1 k=\"v\" m"), TS_E_PARSE);
    ck_assert_str_eq(diag.reason,
                     "invalid RFC 5424 message at byte 28: expected '=' after SD PARAM-NAME");
}
END_TEST

START_TEST(test_rfc5424_truncated_header_is_rejected)
{
    ck_assert_int_eq(parse(INGEST_FMT_AUTO, "<14>1 2024-01-02T03:04:05Z host app"), TS_E_PARSE);
    ck_assert_ptr_nonnull(strstr(diag.reason, "truncated header"));
    ck_assert_int_eq(parse(INGEST_FMT_RFC5424, "Jun 14 15:16:01 combo x: y"), TS_E_PARSE);
    ck_assert_ptr_nonnull(strstr(diag.reason, "PRI"));
    ck_assert_int_eq(parse(INGEST_FMT_RFC5424, "<14>2 - - - - - -"), TS_E_PARSE);
    ck_assert_ptr_nonnull(strstr(diag.reason, "VERSION"));
}
END_TEST

START_TEST(test_rfc5424_bad_timestamp_warns_and_keeps_event)
{
    ck_assert_int_eq(parse(INGEST_FMT_AUTO, "<14>1 yesterday h a - - - m"), 0);
    ck_assert_str_eq(diag.warning, "unparsable timestamp \"yesterday\", using ingest time");
    ck_assert(!ev.time_from_event);
    assert_str("message", "m");
}
END_TEST

/* ---------------------------------------------------------------- RFC 3164 */

START_TEST(test_rfc3164_rfc_example_with_pri_no_pid)
{
    struct ingest_parse_opts o = {.ref_ns = INGEST_NS};
    const char *l = "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick";
    assert_ok_no_warning(parse_n(INGEST_FMT_AUTO, &o, l, strlen(l)));
    ck_assert_str_eq(ev.format, "rfc3164");
    assert_time(2023, 10, 11, 22, 14, 15, 0); /* October is > 31 days ahead of June 2024 */
    assert_str("host", "mymachine");
    assert_str("program", "su");
    assert_absent("pid");
    assert_str("facility", "auth");
    assert_str("severity", "crit");
    assert_int("pri", 34);
    assert_str("message", "'su root' failed for lonvick");
}
END_TEST

START_TEST(test_rfc3164_without_pri_has_no_facility)
{
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: "
                                                "authentication failure; rhost=10.0.0.1 "));
    assert_time(2024, 6, 14, 15, 16, 1, 0);
    assert_str("host", "combo");
    assert_str("program", "sshd(pam_unix)");
    assert_int("pid", 19939);
    assert_str("message", "authentication failure; rhost=10.0.0.1 "); /* trailing blank kept */
    assert_absent("facility");
    assert_absent("severity");
    assert_absent("pri");
}
END_TEST

START_TEST(test_rfc3164_missing_hostname_takes_tag)
{
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "<13>Jun 14 15:16:01 sshd[123]: hello world"));
    assert_absent("host");
    assert_str("program", "sshd");
    assert_int("pid", 123);
    assert_str("message", "hello world");
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "<13>Jun 14 15:16:01 cron: job done"));
    assert_absent("host");
    assert_str("program", "cron");
    assert_absent("pid");
    assert_str("message", "job done");
}
END_TEST

START_TEST(test_rfc3164_program_chars_and_pid)
{
    assert_ok_no_warning(
        parse(INGEST_FMT_AUTO, "Jul  1 09:00:55 mac-1 com.apple.xpc.launchd[1]: Service exited"));
    assert_time(2023, 7, 1, 9, 0, 55, 0); /* 16 days ahead: last year's (issue 10) */
    assert_str("host", "mac-1");
    assert_str("program", "com.apple.xpc.launchd");
    assert_int("pid", 1);
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "Jun 14 15:16:01 mx postfix/smtpd[77]: connect"));
    assert_str("program", "postfix/smtpd");
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "Jun 14 15:16:01 mx kernel: [ 1.0] usb 1-1"));
    assert_str("program", "kernel");
    assert_str("message", "[ 1.0] usb 1-1");
}
END_TEST

START_TEST(test_rfc3164_no_tag_keeps_text_after_host_as_message)
{
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "Jun 19 04:09:11 gw ntpd 4.2.8: started."));
    assert_str("host", "gw");
    assert_absent("program");
    assert_str("message", "ntpd 4.2.8: started.");
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "Jun 19 04:09:11 gw"));
    assert_str("host", "gw");
    assert_str("message", "");
}
END_TEST

START_TEST(test_rfc3164_day_unpadded_and_fraction)
{
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "Jun 9 12:01:01.250 h p: m"));
    assert_time(2024, 6, 9, 12, 1, 1, 250000000);
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "Jun  9 12:01:01 h p: m"));
    assert_time(2024, 6, 9, 12, 1, 1, 0);
}
END_TEST

START_TEST(test_rfc3164_timestamp_with_year)
{
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "<190>Mar  3 2019 08:09:10 fw1 app[5]: x"));
    assert_time(2019, 3, 3, 8, 9, 10, 0);
    assert_str("host", "fw1");
    assert_str("facility", "local7");
    assert_str("severity", "info");
}
END_TEST

START_TEST(test_rfc3164_iso_timestamp_with_offset)
{
    assert_ok_no_warning(
        parse(INGEST_FMT_AUTO, "<13>2024-04-01T12:34:56.123+07:00 web1 nginx[42]: GET /"));
    assert_time(2024, 4, 1, 5, 34, 56, 123000000);
    assert_str("host", "web1");
    assert_str("program", "nginx");
    assert_int("pid", 42);
    assert_str("message", "GET /");
}
END_TEST

START_TEST(test_rfc3164_zoneless_timestamps_use_tz_offset)
{
    struct ingest_parse_opts o = {.tz_offset_sec = 2 * 3600};
    const char *l1 = "Jun 14 15:16:01 h p: m";
    assert_ok_no_warning(parse_n(INGEST_FMT_AUTO, &o, l1, strlen(l1)));
    assert_time(2024, 6, 14, 13, 16, 1, 0);
    const char *l2 = "2024-06-14T15:16:01 h p: m";
    assert_ok_no_warning(parse_n(INGEST_FMT_AUTO, &o, l2, strlen(l2)));
    assert_time(2024, 6, 14, 13, 16, 1, 0);
    const char *l3 = "2024-06-14T15:16:01Z h p: m"; /* has a zone: no shift */
    assert_ok_no_warning(parse_n(INGEST_FMT_AUTO, &o, l3, strlen(l3)));
    assert_time(2024, 6, 14, 15, 16, 1, 0);
}
END_TEST

START_TEST(test_rfc3164_year_inferred_across_new_year)
{
    struct ingest_parse_opts o = {.ref_ns = ts_epoch_from_utc(2024, 1, 5, 10, 0, 0) * TS_NS_PER_SEC};
    const char *dec = "Dec 31 23:59:59 h p: m";
    assert_ok_no_warning(parse_n(INGEST_FMT_AUTO, &o, dec, strlen(dec)));
    assert_time(2023, 12, 31, 23, 59, 59, 0);
    const char *jan = "Jan  5 09:00:00 h p: m";
    assert_ok_no_warning(parse_n(INGEST_FMT_AUTO, &o, jan, strlen(jan)));
    assert_time(2024, 1, 5, 9, 0, 0, 0);
    const char *feb = "Feb  4 09:00:00 h p: m"; /* 30 days ahead: last year's (issue 10) */
    assert_ok_no_warning(parse_n(INGEST_FMT_AUTO, &o, feb, strlen(feb)));
    assert_time(2023, 2, 4, 9, 0, 0, 0);
    const char *soon = "Jan  5 20:00:00 h p: m"; /* 10 h ahead: a clock or zone off, this year */
    assert_ok_no_warning(parse_n(INGEST_FMT_AUTO, &o, soon, strlen(soon)));
    assert_time(2024, 1, 5, 20, 0, 0, 0);
    const char *mar = "Mar  1 09:00:00 h p: m"; /* 56 days ahead: last year */
    assert_ok_no_warning(parse_n(INGEST_FMT_AUTO, &o, mar, strlen(mar)));
    assert_time(2023, 3, 1, 9, 0, 0, 0);
    /* read just before New Year, a line of just after (a clock a little
     * ahead): next year's; "Dec 10" read on Dec 7 is last year's, not next
     * week (issue 10) */
    struct ingest_parse_opts eve = {.ref_ns = ts_epoch_from_utc(2023, 12, 31, 23, 59, 0) *
                                              TS_NS_PER_SEC};
    const char *ny = "Jan  1 00:01:00 h p: m";
    assert_ok_no_warning(parse_n(INGEST_FMT_AUTO, &eve, ny, strlen(ny)));
    assert_time(2024, 1, 1, 0, 1, 0, 0);
    struct ingest_parse_opts d7 = {.ref_ns = ts_epoch_from_utc(2026, 12, 7, 5, 0, 0) *
                                             TS_NS_PER_SEC};
    const char *d10 = "Dec 10 08:00:00 h p: m";
    assert_ok_no_warning(parse_n(INGEST_FMT_AUTO, &d7, d10, strlen(d10)));
    assert_time(2025, 12, 10, 8, 0, 0, 0);
    /* ref_ns 0: the event's ingest time (June 2024) is the reference */
    struct ingest_parse_opts z = {0};
    assert_ok_no_warning(parse_n(INGEST_FMT_AUTO, &z, dec, strlen(dec)));
    assert_time(2023, 12, 31, 23, 59, 59, 0);
}
END_TEST

START_TEST(test_rfc3164_bad_timestamp_warns_not_rejects)
{
    int rc = parse(INGEST_FMT_AUTO, "<11>yesterday at noon myhost app: it broke");
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_null(diag.reason);
    ck_assert_str_eq(diag.warning,
                     "unparsable timestamp \"yesterday at noon myhost app: it\", using ingest time");
    ck_assert(!ev.time_from_event);
    ck_assert_int_eq(ev.time_ns, INGEST_NS);
    assert_str("message", "yesterday at noon myhost app: it broke");
    assert_str("severity", "err");
    assert_absent("host");
    /* invalid calendar values are not a timestamp either */
    ck_assert_int_eq(parse(INGEST_FMT_AUTO, "Jun 31 25:00:00 h p: m"), 0);
    ck_assert_ptr_nonnull(diag.warning);
    assert_str("message", "Jun 31 25:00:00 h p: m");
}
END_TEST

START_TEST(test_rfc3164_apache_error_line_is_kept_with_warning)
{
    const char *l = "[Mon Jan 01 10:00:00 2024] [error] [client 10.0.0.1] File does not exist";
    ck_assert_int_eq(parse(INGEST_FMT_AUTO, l), 0);
    ck_assert_ptr_nonnull(diag.warning);
    assert_str("message", l);
    assert_absent("host");
}
END_TEST

START_TEST(test_rfc3164_relay_prefix_before_timestamp_is_skipped)
{
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "- 1700000000 2023.11.14 node7 Nov 14 22:13:20 "
                                                "node7/node7 crond[42]: job ran"));
    assert_str("host", "node7/node7");
    assert_str("program", "crond");
    assert_int("pid", 42);
    assert_str("message", "job ran");
    assert_time(2023, 11, 14, 22, 13, 20, 0);
}
END_TEST

START_TEST(test_rfc3164_invalid_pri_is_text)
{
    ck_assert_int_eq(parse(INGEST_FMT_AUTO, "<999>Jun 14 15:16:01 h p: m"), 0);
    assert_absent("pri");
    ck_assert_ptr_nonnull(diag.warning);
    assert_str("message", "<999>Jun 14 15:16:01 h p: m");
}
END_TEST

/* ------------------------------------------------------- common checks */

START_TEST(test_parse_empty_message_is_rejected)
{
    ck_assert_int_eq(parse(INGEST_FMT_AUTO, ""), TS_E_PARSE);
    ck_assert_str_eq(diag.reason, "empty message");
    ck_assert_int_eq(parse(INGEST_FMT_RFC3164, "\r\n"), TS_E_PARSE);
    ck_assert_str_eq(diag.reason, "empty message");
}
END_TEST

START_TEST(test_parse_oversize_message_is_rejected)
{
    struct ingest_parse_opts o = {.max_msg_bytes = 10};
    ck_assert_int_eq(parse_n(INGEST_FMT_AUTO, &o, "Jun 14 15:16:01 h", 17), TS_E_PARSE);
    ck_assert_str_eq(diag.reason, "message of 17 bytes exceeds the limit of 10");
    /* default limit: 1 MiB */
    size_t n = INGEST_DEFAULT_MAX_MSG + 1;
    char *big = malloc(n);
    ck_assert_ptr_nonnull(big);
    memset(big, 'a', n);
    ck_assert_int_eq(parse_n(INGEST_FMT_AUTO, NULL, big, n), TS_E_PARSE);
    ck_assert_str_eq(diag.reason, "message of 1048577 bytes exceeds the limit of 1048576");
    ck_assert_int_eq(parse_n(INGEST_FMT_AUTO, NULL, big, n - 1), 0);
    free(big);
}
END_TEST

START_TEST(test_parse_invalid_utf8_is_rejected_with_offset)
{
    ck_assert_int_eq(parse(INGEST_FMT_AUTO, "Jun 14 \xC3\x28 x"), TS_E_PARSE);
    ck_assert_str_eq(diag.reason, "invalid UTF-8 at byte 7");
    ck_assert_int_eq(parse(INGEST_FMT_JSON, "{\"a\":\"\xFF\"}"), TS_E_PARSE);
    ck_assert_str_eq(diag.reason, "invalid UTF-8 at byte 6");
    /* valid multi-byte text passes */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "Jun 14 15:16:01 h p: caf\xC3\xA9 \xE2\x82\xAC"));
    assert_str("message", "caf\xC3\xA9 \xE2\x82\xAC");
}
END_TEST

START_TEST(test_parse_strips_one_trailing_newline_but_keeps_raw)
{
    const char *l = "Jun 14 15:16:01 h p: m\r\n";
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, l));
    assert_str("message", "m");
    ck_assert_uint_eq(ev.raw_len, strlen(l));
    ck_assert_str_eq(ev.raw, l);
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "<14>1 - h a - - - text\n"));
    assert_str("message", "text");
}
END_TEST

START_TEST(test_parse_auto_detects_format_per_message)
{
    ck_assert_int_eq(parse(INGEST_FMT_AUTO, "  {\"a\":1}"), 0);
    ck_assert_str_eq(ev.format, "json");
    ck_assert_int_eq(parse(INGEST_FMT_AUTO, "<14>1 - - - - - -"), 0);
    ck_assert_str_eq(ev.format, "rfc5424");
    ck_assert_int_eq(parse(INGEST_FMT_AUTO, "<14>10 - - - - - -"), 0); /* not version 1 */
    ck_assert_str_eq(ev.format, "rfc3164");
    ck_assert_int_eq(parse(INGEST_FMT_AUTO, "Jun 14 15:16:01 h p: {\"a\":1}"), 0);
    ck_assert_str_eq(ev.format, "rfc3164");
    /* "syslog" = rfc3164 with 5424 detection, never JSON */
    enum ingest_format f;
    ck_assert_int_eq(ingest_format_parse("syslog", &f), 0);
    ck_assert_int_eq(parse(f, "<14>1 - - - - - -"), 0);
    ck_assert_str_eq(ev.format, "rfc5424");
    ck_assert_int_eq(parse(f, "{\"a\":1}"), 0);
    ck_assert_str_eq(ev.format, "rfc3164");
    /* explicit json rejects syslog */
    ck_assert_int_eq(parse(INGEST_FMT_JSON, "<14>1 - - - - - -"), TS_E_PARSE);
}
END_TEST

START_TEST(test_format_names_round_trip)
{
    static const char *const names[] = {"auto", "rfc3164", "rfc5424", "json"};
    for (size_t i = 0; i < TS_ARRAY_LEN(names); i++) {
        enum ingest_format f;
        ck_assert_int_eq(ingest_format_parse(names[i], &f), 0);
        ck_assert_str_eq(ingest_format_name(f), names[i]);
    }
    enum ingest_format f;
    ck_assert_int_eq(ingest_format_parse("xml", &f), TS_E_INVAL);
    ck_assert_int_eq(ingest_format_parse("JSON", &f), TS_E_INVAL);
}
END_TEST

START_TEST(test_individual_parsers_work_without_ingest_parse)
{
    ts_arena_reset(arena);
    ts_event_init(&ev, arena);
    ev.raw = "<13>Jun 14 15:16:01 h p[1]: m\n";
    ev.raw_len = (uint32_t)strlen(ev.raw);
    ev.ingest_ns = INGEST_NS;
    struct ingest_diag d = {0};
    ck_assert_int_eq(ingest_parse_rfc3164(NULL, &ev, &d), 0);
    assert_str("message", "m");
    ts_event_init(&ev, arena);
    ev.raw = "<13>1 - h a - - - m";
    ev.raw_len = (uint32_t)strlen(ev.raw);
    ck_assert_int_eq(ingest_parse_rfc5424(NULL, &ev, &d), 0);
    assert_str("message", "m");
}
END_TEST

/* ------------------------------------------ what real forwarders emit */

/* The same sshd failure, as the forwarders re-frame it (issue 10): every
 * shape must give program sshd, pid 1234, host vm, this message and this
 * time. */
#define FWD_MSG "Failed password for root from 203.0.113.50 port 40001 ssh2"

static void assert_sshd_failure(void)
{
    assert_str("host", "vm");
    assert_str("program", "sshd");
    assert_int("pid", 1234);
    assert_str("message", FWD_MSG);
}

START_TEST(test_rfc5424_msg_leading_space_of_rsyslog_reframing_is_stripped_once)
{
    /* rsyslog: RFC 3164 in, RSYSLOG_SyslogProtocol23Format out: MSG keeps
     * the space that followed the tag's colon */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "<38>1 2024-06-15T10:00:00+00:00 vm sshd 1234 - -  "
                                                FWD_MSG "\n"));
    ck_assert_str_eq(ev.format, "rfc5424");
    assert_sshd_failure();
    assert_time(2024, 6, 15, 10, 0, 0, 0);
    assert_str("facility", "auth");
    assert_str("severity", "info");
    /* one space only: a second one is the sender's */
    assert_ok_no_warning(parse(INGEST_FMT_RFC5424, "<38>1 - vm sshd 1234 - -   two"));
    assert_str("message", " two");
    /* a space then a BOM, and a BOM alone, as before */
    assert_ok_no_warning(parse(INGEST_FMT_RFC5424, "<38>1 - vm sshd 1234 - -  \xEF\xBB\xBFx"));
    assert_str("message", "x");
    assert_ok_no_warning(parse(INGEST_FMT_RFC5424, "<38>1 - vm sshd 1234 - - \xEF\xBB\xBF x"));
    assert_str("message", " x");
    /* raw keeps every byte */
    ck_assert(strstr(ev.raw, "- - \xEF\xBB\xBF x") != NULL);
}
END_TEST

START_TEST(test_rfc3164_tag_with_pid_without_colon_is_the_tag)
{
    /* rsyslog: RFC 5424 in, RSYSLOG_TraditionalFileFormat out */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "Jun 15 10:00:00 vm sshd[1234] " FWD_MSG "\n"));
    ck_assert_str_eq(ev.format, "rfc3164");
    assert_sshd_failure();
    assert_time(2024, 6, 15, 10, 0, 0, 0);
    /* the same with a colon, with PRI (RSYSLOG_ForwardFormat), without host */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "Jun 15 10:00:00 vm sshd[1234]: " FWD_MSG));
    assert_sshd_failure();
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "<38>Jun 15 10:00:00 vm sshd[1234] " FWD_MSG));
    assert_sshd_failure();
    assert_str("facility", "auth");
    assert_ok_no_warning(parse(INGEST_FMT_RFC3164, "Jun 15 10:00:00 sshd[1234] x"));
    assert_absent("host");
    assert_str("program", "sshd");
    assert_str("message", "x");
    /* a tag at the end of the line */
    assert_ok_no_warning(parse(INGEST_FMT_RFC3164, "Jun 15 10:00:00 vm sshd[1234]"));
    assert_str("program", "sshd");
    assert_str("message", "");
}
END_TEST

START_TEST(test_rfc3164_word_without_pid_or_colon_is_not_a_tag)
{
    /* "prog" alone cannot be told from the first word of the message */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "Jun 15 10:00:00 vm sshd " FWD_MSG));
    assert_str("host", "vm");
    assert_absent("program");
    assert_str("message", "sshd " FWD_MSG);
    /* brackets that are no pid: kept in the message */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "Jun 15 10:00:00 vm [12.5] x"));
    assert_absent("program");
    assert_str("message", "[12.5] x");
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "Jun 15 10:00:00 vm sshd[12a] x"));
    assert_absent("program");
    assert_str("message", "sshd[12a] x");
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "Jun 15 10:00:00 vm sshd[] x"));
    assert_absent("program");
}
END_TEST

START_TEST(test_rsyslog_default_omkafka_template_file_format)
{
    /* omkafka's default template is RSYSLOG_FileFormat: RFC 3339 time, no
     * PRI; the tag has no colon when the input was RFC 5424 */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO,
                               "2024-06-15T10:00:00.646974+00:00 vm sshd[1234] " FWD_MSG "\n"));
    ck_assert_str_eq(ev.format, "rfc3164");
    assert_sshd_failure();
    assert_time(2024, 6, 15, 10, 0, 0, 646974000);
    assert_ok_no_warning(
        parse(INGEST_FMT_AUTO, "2024-06-15T12:00:00+02:00 vm sshd[1234]: " FWD_MSG "\n"));
    assert_sshd_failure();
    assert_time(2024, 6, 15, 10, 0, 0, 0);
    /* no PRI in the template: facility and severity are not made up */
    assert_absent("facility");
    assert_absent("severity");
    assert_absent("pri");
}
END_TEST

START_TEST(test_syslog_ng_default_kafka_template)
{
    /* syslog-ng kafka-c(): "$ISODATE $HOST $MSGHDR$MSG" */
    assert_ok_no_warning(
        parse(INGEST_FMT_AUTO, "2024-06-15T17:00:00+07:00 vm sshd[1234]: " FWD_MSG));
    assert_sshd_failure();
    assert_time(2024, 6, 15, 10, 0, 0, 0);
    assert_absent("facility");
}
END_TEST

/* ------------------------------------------- syslog carried as JSON */

START_TEST(test_syslog_ng_format_json_selected_macros_is_a_syslog_event)
{
    /* $(format-json --scope selected_macros --scope nv_pairs): DATE has no
     * year and no zone (the zone of the topic applies) */
    struct ingest_parse_opts o = {.tz_offset_sec = 0};
    const char *line =
        "{\"TAGS\":\".source.s_net\",\"SOURCEIP\":\"127.0.0.1\",\"SOURCE\":\"s_net\","
        "\"PROGRAM\":\"sshd\",\"PRIORITY\":\"info\",\"PID\":\"1234\",\"MESSAGE\":\"" FWD_MSG "\","
        "\"LEGACY_MSGHDR\":\"sshd[1234]: \",\"HOST_FROM\":\"127.0.0.1\",\"HOST\":\"vm\","
        "\"FACILITY\":\"auth\",\"DATE\":\"Jun 15 10:00:00\"}";
    assert_ok_no_warning(parse_n(INGEST_FMT_AUTO, &o, line, strlen(line)));
    ck_assert_str_eq(ev.format, "json");
    assert_sshd_failure();
    assert_time(2024, 6, 15, 10, 0, 0, 0);
    assert_str("facility", "auth");
    assert_str("severity", "info");
    assert_int("pri", 38);
    assert_str("HOST_FROM", "127.0.0.1"); /* the rest stays as sent */
    assert_str("DATE", "Jun 15 10:00:00");
    assert_absent("MESSAGE");
    assert_absent("PROGRAM");
    /* a +07:00 topic zone moves the zone-less DATE */
    o.tz_offset_sec = 7 * 3600;
    assert_ok_no_warning(parse_n(INGEST_FMT_JSON, &o, line, strlen(line)));
    assert_time(2024, 6, 15, 3, 0, 0, 0);
}
END_TEST

START_TEST(test_syslog_ng_json_upper_case_isodate_gives_event_time)
{
    const char *line = "{\"ISODATE\":\"2024-06-15T17:00:00.250+07:00\",\"HOST\":\"vm\","
                       "\"PROGRAM\":\"sshd\",\"PID\":\"1234\",\"MESSAGE\":\"" FWD_MSG "\","
                       "\"FACILITY\":\"auth\",\"PRIORITY\":\"info\"}";
    assert_ok_no_warning(parse(INGEST_FMT_JSON, line));
    assert_sshd_failure();
    assert_time(2024, 6, 15, 10, 0, 0, 250000000);
    assert_str("facility", "auth");
    assert_str("severity", "info");
    assert_int("pri", 38);
    /* ISODATE wins over DATE (no year, no zone) */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "{\"DATE\":\"Jun 15 01:00:00\",\"MESSAGE\":\"m\","
                                                "\"PROGRAM\":\"p\",\"ISODATE\":"
                                                "\"2024-06-15T10:00:00Z\"}"));
    assert_time(2024, 6, 15, 10, 0, 0, 0);
    /* an empty PID (a message without one) is no pid */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "{\"PROGRAM\":\"cron\",\"PID\":\"\","
                                                "\"MESSAGE\":\"m\",\"HOST\":\"vm\"}"));
    assert_str("program", "cron");
    assert_absent("pid");
    assert_str("PID", ""); /* as sent */
    ck_assert(!ev.time_from_event); /* no time key: ingest time, no warning */
}
END_TEST

START_TEST(test_syslog_json_facility_and_severity_only_when_known)
{
    /* a template without FACILITY/PRIORITY: nothing is made up */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "{\"PROGRAM\":\"sshd\",\"MESSAGE\":\"m\"}"));
    assert_absent("facility");
    assert_absent("severity");
    assert_absent("pri");
    /* values that name no facility/severity stay under their own key */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "{\"PROGRAM\":\"sshd\",\"MESSAGE\":\"m\","
                                                "\"FACILITY\":\"weird\",\"PRIORITY\":\"info\"}"));
    assert_absent("facility");
    assert_str("FACILITY", "weird");
    assert_str("severity", "info");
    assert_absent("pri");
    /* numbers are facility/severity codes */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "{\"PROGRAM\":\"sshd\",\"MESSAGE\":\"m\","
                                                "\"FACILITY\":10,\"PRIORITY\":\"3\"}"));
    assert_str("facility", "authpriv");
    assert_str("severity", "err");
    assert_int("pri", 83);
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "{\"PROGRAM\":\"sshd\",\"MESSAGE\":\"m\","
                                                "\"FACILITY\":24,\"PRIORITY\":8}"));
    assert_absent("facility");
    assert_absent("severity");
    assert_int("FACILITY", 24);
    /* the other names the dialects use */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "{\"PROGRAM\":\"sshd\",\"MESSAGE\":\"m\","
                                                "\"LEVEL\":\"WARN\"}"));
    assert_str("severity", "warning");
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "{\"msg\":\"m\",\"programname\":\"sshd\","
                                                "\"syslogfacility-text\":\"authpriv\","
                                                "\"syslogseverity-text\":\"notice\"}"));
    assert_str("program", "sshd");
    assert_str("facility", "authpriv");
    assert_str("severity", "notice");
    assert_int("pri", 85);
}
END_TEST

START_TEST(test_rsyslog_jsonmesg_is_a_syslog_event)
{
    /* template(name="j" type="list") { property(name="jsonmesg") }, from an
     * RFC 3164 input: msg starts with the space after the tag's colon */
    const char *line =
        "{ \"msg\": \" " FWD_MSG "\", \"rawmsg\": \"<38>Jun 15 10:00:00 vm sshd[1234]: " FWD_MSG
        "\", \"timereported\": \"2024-06-15T10:00:00+00:00\", \"hostname\": \"vm\", "
        "\"syslogtag\": \"sshd[1234]:\", \"inputname\": \"imtcp\", \"fromhost\": \"127.0.0.1\", "
        "\"fromhost-ip\": \"127.0.0.1\", \"pri\": \"38\", \"syslogfacility\": \"4\", "
        "\"syslogseverity\": \"6\", \"timegenerated\": \"2024-06-15T10:00:03.639211+00:00\", "
        "\"programname\": \"sshd\", \"protocol-version\": \"0\", \"structured-data\": \"-\", "
        "\"app-name\": \"sshd\", \"procid\": \"1234\", \"msgid\": \"-\", \"uuid\": null, "
        "\"$!\": null }\n";
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, line));
    ck_assert_str_eq(ev.format, "json");
    assert_sshd_failure();
    assert_time(2024, 6, 15, 10, 0, 0, 0); /* timereported, not timegenerated */
    assert_str("facility", "auth");
    assert_str("severity", "info");
    assert_int("pri", 38);
    assert_str("syslogtag", "sshd[1234]:");
    assert_str("fromhost-ip", "127.0.0.1");
    assert_str("msgid", "-");
    /* from an RFC 5424 input: no leading space, sub-second time */
    assert_ok_no_warning(parse(INGEST_FMT_JSON,
                               "{\"msg\":\"" FWD_MSG "\",\"timereported\":"
                               "\"2024-06-15T10:00:00.646974+00:00\",\"hostname\":\"vm\","
                               "\"syslogtag\":\"sshd[1234]\",\"pri\":\"38\",\"syslogfacility\":"
                               "\"4\",\"syslogseverity\":\"6\",\"programname\":\"sshd\","
                               "\"procid\":\"1234\"}"));
    assert_sshd_failure();
    assert_time(2024, 6, 15, 10, 0, 0, 646974000);
    assert_int("pri", 38);
    /* pri alone gives facility and severity */
    assert_ok_no_warning(parse(INGEST_FMT_JSON, "{\"msg\":\"m\",\"programname\":\"sshd\","
                                                "\"pri\":\"86\"}"));
    assert_str("facility", "authpriv");
    assert_str("severity", "info");
    assert_int("pri", 86);
}
END_TEST

START_TEST(test_fluent_bit_syslog_record_is_a_syslog_event)
{
    /* in_syslog with the syslog-rfc3164 parser, out_kafka (format json,
     * timestamp_key @timestamp as a double): ident is the program */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "{\"@timestamp\":1718445600.5,\"pri\":\"38\","
                                                "\"host\":\"vm\",\"ident\":\"sshd\","
                                                "\"pid\":\"1234\",\"message\":\"" FWD_MSG "\"}"));
    assert_sshd_failure();
    assert_time(2024, 6, 15, 10, 0, 0, 500000000);
    assert_str("facility", "auth");
    assert_str("severity", "info");
    assert_int("pri", 38);
    assert_absent("ident");
}
END_TEST

START_TEST(test_nxlog_syslog_json_is_a_syslog_event)
{
    /* im_tcp + parse_syslog(), om_kafka with to_json() */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO,
                               "{\"EventReceivedTime\":\"2024-06-15T10:00:01.000000Z\","
                               "\"SourceModuleName\":\"in_syslog\",\"SourceModuleType\":\"im_tcp\","
                               "\"SyslogFacilityValue\":4,\"SyslogFacility\":\"AUTH\","
                               "\"SyslogSeverityValue\":6,\"SyslogSeverity\":\"INFO\","
                               "\"SeverityValue\":2,\"Severity\":\"INFO\",\"Hostname\":\"vm\","
                               "\"EventTime\":\"2024-06-15T10:00:00.000000Z\","
                               "\"SourceName\":\"sshd\",\"ProcessID\":1234,"
                               "\"Message\":\"" FWD_MSG "\"}"));
    assert_sshd_failure();
    assert_time(2024, 6, 15, 10, 0, 0, 0);
    assert_str("facility", "auth");
    assert_str("severity", "info");
    assert_int("pri", 38);
    assert_str("Severity", "INFO"); /* NXLog's own severity scale stays */
    /* NXLog's default EventTime has no zone: the topic's applies */
    struct ingest_parse_opts o = {.tz_offset_sec = 7 * 3600};
    const char *line = "{\"SyslogFacility\":\"AUTH\",\"Hostname\":\"vm\",\"EventTime\":"
                       "\"2024-06-15 17:00:00\",\"SourceName\":\"sshd\",\"ProcessID\":1234,"
                       "\"Message\":\"" FWD_MSG "\"}";
    assert_ok_no_warning(parse_n(INGEST_FMT_JSON, &o, line, strlen(line)));
    assert_sshd_failure();
    assert_time(2024, 6, 15, 10, 0, 0, 0);
    assert_str("facility", "auth");
    assert_absent("severity");
    assert_absent("pri");
}
END_TEST

START_TEST(test_json_without_a_syslog_header_is_left_as_sent)
{
    /* NXLog Windows events (otrf_flat): SourceName is the provider */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO,
                               "{\"EventTime\":\"2024-06-15 10:00:00\",\"Hostname\":\"ws1\","
                               "\"SourceName\":\"Microsoft-Windows-Security-Auditing\","
                               "\"EventID\":4625,\"Channel\":\"Security\",\"Message\":\"An account"
                               " failed to log on.\"}"));
    assert_str("SourceName", "Microsoft-Windows-Security-Auditing");
    assert_str("Message", "An account failed to log on.");
    assert_absent("program");
    assert_absent("message");
    assert_absent("host");
    /* a lone MESSAGE or msg (journald export, application logs) */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "{\"MESSAGE\":\"x\",\"_HOSTNAME\":\"vm\","
                                                "\"PRIORITY\":\"6\"}"));
    assert_str("MESSAGE", "x");
    assert_absent("message");
    assert_absent("severity");
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "{\"level\":\"info\",\"msg\":\" x\","
                                                "\"ts\":1718445600}"));
    assert_str("msg", " x");
    assert_absent("message");
    /* a field that is already there is not overwritten */
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "{\"program\":\"a\",\"PROGRAM\":\"b\","
                                                "\"MESSAGE\":\"m\"}"));
    assert_str("program", "a");
    assert_str("PROGRAM", "b");
    assert_str("message", "m");
}
END_TEST

START_TEST(test_syslog_json_bad_time_warns_and_keeps_event)
{
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "{\"PROGRAM\":\"sshd\",\"MESSAGE\":\"m\"}"));
    ck_assert_int_eq(parse(INGEST_FMT_AUTO, "{\"PROGRAM\":\"sshd\",\"MESSAGE\":\"m\","
                                            "\"ISODATE\":\"yesterday\"}"),
                     0);
    ck_assert(!ev.time_from_event);
    ck_assert_ptr_nonnull(diag.warning);
    ck_assert_msg(strstr(diag.warning, "yesterday") != NULL, "%s", diag.warning);
    assert_str("program", "sshd");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("parse_syslog");
    TCase *t5 = tcase_create("rfc5424");
    tcase_add_checked_fixture(t5, setup, teardown);
    tcase_add_test(t5, test_rfc5424_example1_bom_and_nil_sd);
    tcase_add_test(t5, test_rfc5424_example2_offset_and_numeric_procid);
    tcase_add_test(t5, test_rfc5424_example3_sd_params_become_fields);
    tcase_add_test(t5, test_rfc5424_example4_two_sd_elements_no_msg);
    tcase_add_test(t5, test_rfc5424_sd_escapes_are_unescaped);
    tcase_add_test(t5, test_rfc5424_all_nilvalues_use_ingest_time_without_warning);
    tcase_add_test(t5, test_rfc5424_nonnumeric_procid_is_string);
    tcase_add_test(t5, test_rfc5424_invalid_sd_is_rejected_with_reason);
    tcase_add_test(t5, test_rfc5424_truncated_header_is_rejected);
    tcase_add_test(t5, test_rfc5424_bad_timestamp_warns_and_keeps_event);
    suite_add_tcase(s, t5);

    TCase *t3 = tcase_create("rfc3164");
    tcase_add_checked_fixture(t3, setup, teardown);
    tcase_add_test(t3, test_rfc3164_rfc_example_with_pri_no_pid);
    tcase_add_test(t3, test_rfc3164_without_pri_has_no_facility);
    tcase_add_test(t3, test_rfc3164_missing_hostname_takes_tag);
    tcase_add_test(t3, test_rfc3164_program_chars_and_pid);
    tcase_add_test(t3, test_rfc3164_no_tag_keeps_text_after_host_as_message);
    tcase_add_test(t3, test_rfc3164_day_unpadded_and_fraction);
    tcase_add_test(t3, test_rfc3164_timestamp_with_year);
    tcase_add_test(t3, test_rfc3164_iso_timestamp_with_offset);
    tcase_add_test(t3, test_rfc3164_zoneless_timestamps_use_tz_offset);
    tcase_add_test(t3, test_rfc3164_year_inferred_across_new_year);
    tcase_add_test(t3, test_rfc3164_bad_timestamp_warns_not_rejects);
    tcase_add_test(t3, test_rfc3164_apache_error_line_is_kept_with_warning);
    tcase_add_test(t3, test_rfc3164_relay_prefix_before_timestamp_is_skipped);
    tcase_add_test(t3, test_rfc3164_invalid_pri_is_text);
    suite_add_tcase(s, t3);

    TCase *tc = tcase_create("common");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_parse_empty_message_is_rejected);
    tcase_add_test(tc, test_parse_oversize_message_is_rejected);
    tcase_add_test(tc, test_parse_invalid_utf8_is_rejected_with_offset);
    tcase_add_test(tc, test_parse_strips_one_trailing_newline_but_keeps_raw);
    tcase_add_test(tc, test_parse_auto_detects_format_per_message);
    tcase_add_test(tc, test_format_names_round_trip);
    tcase_add_test(tc, test_individual_parsers_work_without_ingest_parse);
    tcase_add_test(tc, test_rfc3164_host_with_nul_or_control_bytes_stays_in_the_message);
    tcase_add_test(tc, test_rfc3164_host_over_255_bytes_stays_in_the_message);
    tcase_add_test(tc, test_rfc5424_hostname_with_control_bytes_or_over_255_is_not_taken);
    suite_add_tcase(s, tc);
    TCase *tf = tcase_create("forwarders");
    tcase_add_checked_fixture(tf, setup, teardown);
    tcase_add_test(tf, test_rfc5424_msg_leading_space_of_rsyslog_reframing_is_stripped_once);
    tcase_add_test(tf, test_rfc3164_tag_with_pid_without_colon_is_the_tag);
    tcase_add_test(tf, test_rfc3164_word_without_pid_or_colon_is_not_a_tag);
    tcase_add_test(tf, test_rsyslog_default_omkafka_template_file_format);
    tcase_add_test(tf, test_syslog_ng_default_kafka_template);
    tcase_add_test(tf, test_syslog_ng_format_json_selected_macros_is_a_syslog_event);
    tcase_add_test(tf, test_syslog_ng_json_upper_case_isodate_gives_event_time);
    tcase_add_test(tf, test_syslog_json_facility_and_severity_only_when_known);
    tcase_add_test(tf, test_rsyslog_jsonmesg_is_a_syslog_event);
    tcase_add_test(tf, test_fluent_bit_syslog_record_is_a_syslog_event);
    tcase_add_test(tf, test_nxlog_syslog_json_is_a_syslog_event);
    tcase_add_test(tf, test_json_without_a_syslog_header_is_left_as_sent);
    tcase_add_test(tf, test_syslog_json_bad_time_warns_and_keeps_event);
    suite_add_tcase(s, tf);
    return s;
}

TS_CHECK_MAIN(make_suite)
