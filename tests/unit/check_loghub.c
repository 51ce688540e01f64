/* check_loghub.c - the syslog parser against real log lines from loghub
 * (logpai/loghub, see the corpora's events/README.md), read at test time from
 * ts_test_events_dir()/loghub/<name>.jsonl; no sample data lives in the repo.
 *
 * Each JSON line has "raw" (the original line) and, where loghub's own parser
 * understood it, "host", "program", "pid", "message". Lines loghub could not
 * split (only "message") are checked to be kept, not rejected, and not
 * compared field by field.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/arena.h"
#include "../../core/event.h"
#include "../../core/tstime.h"
#include "../../ingest/ingest.h"
#include "check_util.h"

struct share {
    unsigned lines;      /* all lines */
    unsigned compared;   /* lines with expected host/program */
    unsigned agree;      /* of them, all fields agree */
    unsigned rejected;   /* ingest_parse returned an error */
    unsigned warnings;   /* events kept with a warning */
    unsigned from_event; /* events whose time came from the line */
    char first_diff[512];
};

static bool str_field_is(const struct ts_event *ev, const char *name, const char *want)
{
    const struct ts_field *f = ts_event_getz(ev, name);
    if (!want)
        return f == NULL;
    return f && f->v.type == TS_V_STR && f->v.len == strlen(want) &&
           memcmp(f->v.u.s, want, f->v.len) == 0;
}

static bool pid_is(const struct ts_event *ev, json_t *want)
{
    const struct ts_field *f = ts_event_getz(ev, "pid");
    if (!want)
        return f == NULL;
    return f && f->v.type == TS_V_INT && json_is_integer(want) &&
           f->v.u.i == (int64_t)json_integer_value(want);
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Parse every line of loghub/<name>.jsonl with INGEST_FMT_AUTO. */
static void run_file(const char *name, struct share *sh)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/loghub/%s.jsonl", ts_test_events_dir(), name);
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "cannot open %s (set TOCSIN_CORPORA)", path);
    memset(sh, 0, sizeof(*sh));

    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 64 * 1024, 16u << 20), 0);
    /* A reference time in the year after the samples (all 2005 or so) does
     * not matter for the fields; use a fixed one for determinism. */
    struct ingest_parse_opts opts = {.ref_ns = 1136073600LL * TS_NS_PER_SEC}; /* 2006-01-01 */

    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, fp)) > 0) {
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        ck_assert_msg(o != NULL, "%s: %s", path, jerr.text);
        const char *raw = jstr(o, "raw");
        ck_assert_ptr_nonnull(raw);

        ts_arena_reset(a);
        struct ts_event ev;
        ts_event_init(&ev, a);
        ev.raw = ts_arena_strndup(a, raw, strlen(raw));
        ck_assert_ptr_nonnull(ev.raw);
        ev.raw_len = (uint32_t)strlen(raw);
        ev.ingest_ns = opts.ref_ns;
        struct ingest_diag d;
        int rc = ingest_parse(INGEST_FMT_AUTO, &opts, &ev, &d);
        sh->lines++;
        if (rc) {
            sh->rejected++;
            if (!sh->first_diff[0])
                snprintf(sh->first_diff, sizeof(sh->first_diff), "rejected (%s): %s",
                         d.reason ? d.reason : "?", raw);
            json_decref(o);
            continue;
        }
        sh->warnings += d.warning != NULL;
        sh->from_event += ev.time_from_event;
        const char *program = jstr(o, "program");
        if (program) {
            sh->compared++;
            bool ok = str_field_is(&ev, "host", jstr(o, "host")) &&
                      str_field_is(&ev, "program", program) &&
                      pid_is(&ev, json_object_get(o, "pid")) &&
                      str_field_is(&ev, "message", jstr(o, "message"));
            sh->agree += ok;
            if (!ok && !sh->first_diff[0])
                snprintf(sh->first_diff, sizeof(sh->first_diff), "differs: %s", raw);
        }
        json_decref(o);
    }
    free(line);
    fclose(fp);
    ts_arena_destroy(a);
    printf("loghub %-14s lines %4u  compared %4u  agree %4u (%.2f%%)  rejected %u  "
           "warnings %u  time from line %u\n",
           name, sh->lines, sh->compared, sh->agree,
           sh->compared ? 100.0 * sh->agree / sh->compared : 0.0, sh->rejected, sh->warnings,
           sh->from_event);
    if (sh->first_diff[0])
        printf("  first: %s\n", sh->first_diff);
    fflush(stdout);
}

/* >= 99% of the lines loghub split agree with us on host/program/pid/message. */
static void assert_syslog_share(const char *name)
{
    struct share sh;
    run_file(name, &sh);
    ck_assert_uint_eq(sh.lines, 2000);
    ck_assert_uint_eq(sh.rejected, 0);
    ck_assert_uint_gt(sh.compared, 1800);
    ck_assert_msg(sh.agree * 100 >= sh.compared * 99, "%s: %u of %u agree (%s)", name, sh.agree,
                  sh.compared, sh.first_diff);
    /* Every syslog line has a BSD timestamp. */
    ck_assert_uint_eq(sh.from_event, sh.lines);
    ck_assert_uint_eq(sh.warnings, 0);
}

START_TEST(test_loghub_linux_fields_agree)
{
    TS_NEED_CORPUS(TS_CORPUS_EVENTS, "loghub");
    assert_syslog_share("Linux_2k");
}
END_TEST

START_TEST(test_loghub_openssh_fields_agree)
{
    TS_NEED_CORPUS(TS_CORPUS_EVENTS, "loghub");
    assert_syslog_share("OpenSSH_2k");
}
END_TEST

START_TEST(test_loghub_mac_fields_agree)
{
    TS_NEED_CORPUS(TS_CORPUS_EVENTS, "loghub");
    assert_syslog_share("Mac_2k");
}
END_TEST

/* Thunderbird lines carry a relay prefix ("- 1131566461 2005.11.09 dn228 ")
 * before the syslog part; the parser skips it. */
START_TEST(test_loghub_thunderbird_prefix_skipped_fields_agree)
{
    TS_NEED_CORPUS(TS_CORPUS_EVENTS, "loghub");
    assert_syslog_share("Thunderbird_2k");
}
END_TEST

/* Apache error-log lines are not syslog: kept, message = the whole line,
 * ingest time with a timestamp warning. */
START_TEST(test_loghub_apache_error_log_never_rejected)
{
    TS_NEED_CORPUS(TS_CORPUS_EVENTS, "loghub");
    char path[1024];
    snprintf(path, sizeof(path), "%s/loghub/Apache_2k.jsonl", ts_test_events_dir());
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "cannot open %s (set TOCSIN_CORPORA)", path);
    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 64 * 1024, 16u << 20), 0);
    char *line = NULL;
    size_t cap = 0;
    unsigned lines = 0, kept = 0;
    while (getline(&line, &cap, fp) > 0) {
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        ck_assert_ptr_nonnull(o);
        const char *raw = jstr(o, "raw");
        ck_assert_ptr_nonnull(raw);
        ts_arena_reset(a);
        struct ts_event ev;
        ts_event_init(&ev, a);
        ev.raw = ts_arena_strndup(a, raw, strlen(raw));
        ev.raw_len = (uint32_t)strlen(raw);
        ev.ingest_ns = 1136073600LL * TS_NS_PER_SEC;
        struct ingest_diag d;
        int rc = ingest_parse(INGEST_FMT_AUTO, NULL, &ev, &d);
        lines++;
        ck_assert_msg(rc == 0, "rejected: %s (%s)", raw, d.reason ? d.reason : "?");
        ck_assert_str_eq(ev.format, "rfc3164");
        ck_assert(str_field_is(&ev, "message", raw));
        ck_assert_ptr_nonnull(d.warning);
        ck_assert(strncmp(d.warning, "unparsable timestamp \"[", 23) == 0);
        ck_assert(!ev.time_from_event);
        ck_assert_int_eq(ev.time_ns, ev.ingest_ns);
        kept++;
        json_decref(o);
    }
    free(line);
    fclose(fp);
    ts_arena_destroy(a);
    printf("loghub %-14s lines %4u  kept %4u (100%% required)\n", "Apache_2k", lines, kept);
    ck_assert_uint_eq(lines, 2000);
    ck_assert_uint_eq(kept, lines);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("loghub");
    TCase *tc = tcase_create("samples");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_loghub_linux_fields_agree);
    tcase_add_test(tc, test_loghub_openssh_fields_agree);
    tcase_add_test(tc, test_loghub_mac_fields_agree);
    tcase_add_test(tc, test_loghub_thunderbird_prefix_skipped_fields_agree);
    tcase_add_test(tc, test_loghub_apache_error_log_never_rejected);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
