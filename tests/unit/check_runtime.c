/* check_runtime.c - runtime/ pieces that need no broker: the rule test
 * engine over in-memory rules and events (what POST /api/v1/rules/test and
 * `tocsin rules test` run), the file source reading lines from memory,
 * and the latency histogram the metrics hook writes. */
#include <string.h>

#include "check_util.h"
#include "../../core/metric.h"
#include "../../normalise/normalise.h"
#include "../../runtime/runtime.h"

static const char RULE[] = "title: Failed root login\n"
                           "id: 11111111-2222-4333-8444-555555555555\n"
                           "status: test\n"
                           "logsource: {product: linux, service: sshd}\n"
                           "detection:\n"
                           "    sel:\n"
                           "        message|contains: 'Failed password for root'\n"
                           "    condition: sel\n"
                           "level: medium\n";

static const char EVENTS[] =
    "<38>Nov 20 10:00:01 h1 sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2\n"
    "\n"
    "<38>Nov 20 10:00:02 h1 sshd[1]: Accepted password for alice from 192.0.2.2 port 2 ssh2\n"
    "<38>Nov 20 10:00:03 h2 sshd[1]: Failed password for root from 192.0.2.3 port 3 ssh2\n";

struct seen {
    int n;
    unsigned long long lines[8];
    char explain[512];
    char tenant[32];
};

static int on_match(void *ctx, const struct rule_info *ri, const struct ts_event *ev,
                    const char *explain, size_t len)
{
    struct seen *s = ctx;
    ck_assert_str_eq(ri->title, "Failed root login");
    if (s->n < 8)
        s->lines[s->n] = ev->src.line;
    s->n++;
    snprintf(s->explain, sizeof(s->explain), "%.*s", (int)len, explain);
    snprintf(s->tenant, sizeof(s->tenant), "%s", ev->tenant);
    return 0;
}

/* With the repo's decoders and profiles (tests run from the repo root), as
 * the run's normaliser: the sshd decoder gives the events their logsource. */
START_TEST(test_rule_test_runs_a_rule_over_events_in_memory)
{
    struct seen s = {0};
    struct rt_norm_args na = {.profiles = "etc/profiles", .decoders = "etc/decoders"};
    struct norm_set *norm = NULL;
    struct ts_err nerr = {0};
    ck_assert_int_eq(rt_norm_build_err(&na, &norm, &nerr), 0);
    struct rt_rule_test_opts o = {
        .rules = {.buf = RULE, .buf_len = strlen(RULE), .buf_name = "rule"},
        .events = EVENTS,
        .events_len = strlen(EVENTS),
        .events_name = "events",
        .format = INGEST_FMT_RFC3164,
        .tenant = "agency-a",
        .norm = norm,
        .on_match = on_match,
        .ctx = &s,
    };
    struct rt_rule_test_result res;
    struct ts_err err = {0};
    ck_assert_int_eq(rt_rule_test(&o, &res, &err), 0);
    ck_assert(res.ran);
    ck_assert_uint_eq(res.rules, 1);
    ck_assert_uint_eq(res.events, 3); /* the blank line is not a message */
    ck_assert_uint_eq(res.matched, 2);
    ck_assert_int_eq(s.n, 2);
    ck_assert_uint_eq(s.lines[0], 1);
    ck_assert_uint_eq(s.lines[1], 4);
    ck_assert_str_eq(s.tenant, "agency-a");
    ck_assert_msg(s.explain[0] == '{' && strstr(s.explain, "Failed password for root"),
                  "explanation: %s", s.explain);
    rule_report_free(&res.report);
    norm_set_free(norm);
}
END_TEST

START_TEST(test_rule_test_names_where_a_rule_breaks)
{
    static const char bad[] = "title: x\ndetection: [\n";
    struct rt_rule_test_opts o = {
        .rules = {.buf = bad, .buf_len = strlen(bad), .buf_name = "rule"},
        .events = EVENTS,
        .events_len = strlen(EVENTS),
    };
    struct rt_rule_test_result res;
    struct ts_err err = {0};
    ck_assert_int_eq(rt_rule_test(&o, &res, &err), TS_E_NOTFOUND);
    ck_assert(!res.ran);
    ck_assert_str_eq(err.msg, "no detection rule loaded from rule");
    ck_assert_uint_ge(res.report.nproblems, 1);
    ck_assert_str_eq(res.report.problems[0].file, "rule");
    ck_assert_uint_eq(res.report.problems[0].line, 3);
    rule_report_free(&res.report);
}
END_TEST

START_TEST(test_histogram_puts_each_latency_in_its_bucket)
{
    static struct ts_hist h; /* zeroed */
    ts_hist_observe(&h, 500000);      /* 0.5 ms: le 0.001 */
    ts_hist_observe(&h, 2000000);     /* 2 ms: le 0.0025 */
    ts_hist_observe(&h, 120LL * 1000000000LL); /* 2 min: +Inf */
    ts_hist_observe(&h, -5);          /* a clock step back counts as 0 */
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(ts_hist_write(&b, "tocsin_t_seconds", NULL, 0, &h), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "tocsin_t_seconds_bucket{le=\"0.001\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "tocsin_t_seconds_bucket{le=\"0.0025\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "tocsin_t_seconds_bucket{le=\"60\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "tocsin_t_seconds_bucket{le=\"+Inf\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "tocsin_t_seconds_sum 120.0025\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "tocsin_t_seconds_count 4\n"));
    ts_buf_free(&b);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("runtime");
    tcase_add_test(tc, test_rule_test_runs_a_rule_over_events_in_memory);
    tcase_add_test(tc, test_rule_test_names_where_a_rule_breaks);
    tcase_add_test(tc, test_histogram_puts_each_latency_in_its_bucket);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
