/* check_http_metrics.c - the Prometheus text writers: family headers,
 * label values escaped (\\ \" \n) and made UTF-8, names checked, numbers
 * (NaN, infinities, shortest round trip), histograms cumulative, and a
 * failed append never leaving half a line. */
#include <math.h>
#include <string.h>

#include "check_util.h"
#include "../../http/http_int.h"

START_TEST(test_family_writes_help_and_type)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(http_metric_family(&b, "tocsin_x_total", "counter", "Things \\ done\nok"),
                     0);
    ck_assert_str_eq(b.data, "# HELP tocsin_x_total Things \\\\ done\\nok\n"
                             "# TYPE tocsin_x_total counter\n");
    ck_assert_int_eq(http_metric_family(&b, "tocsin_x", "meter", "h"), TS_E_INVAL);
    ck_assert_int_eq(http_metric_family(&b, "1x", "gauge", "h"), TS_E_INVAL);
    ck_assert_int_eq(http_metric_family(&b, "", "gauge", "h"), TS_E_INVAL);
    ts_buf_free(&b);
}
END_TEST

START_TEST(test_label_values_are_escaped)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    struct http_label l[] = {{"tenant", "a\"b\\c\nd"}, {"rule", NULL}};
    ck_assert_int_eq(http_metric_u64(&b, "tocsin_incidents", l, 2, 7), 0);
    ck_assert_str_eq(b.data, "tocsin_incidents{tenant=\"a\\\"b\\\\c\\nd\",rule=\"\"} 7\n");
    ts_buf_reset(&b);
    struct http_label u = {"title", "Vi\xe1\xbb\x87t \xff end"}; /* valid UTF-8, then 0xff */
    ck_assert_int_eq(http_metric_u64(&b, "m", &u, 1, 1), 0);
    ck_assert_str_eq(b.data, "m{title=\"Vi\xe1\xbb\x87t \xef\xbf\xbd end\"} 1\n");
    ts_buf_free(&b);
}
END_TEST

START_TEST(test_bad_names_are_refused)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    struct http_label bad[] = {{"__name__", "x"}};
    ck_assert_int_eq(http_metric_u64(&b, "m", bad, 1, 1), TS_E_INVAL);
    struct http_label colon[] = {{"a:b", "x"}};
    ck_assert_int_eq(http_metric_u64(&b, "m", colon, 1, 1), TS_E_INVAL);
    struct http_label dash[] = {{"a-b", "x"}};
    ck_assert_int_eq(http_metric_u64(&b, "m", dash, 1, 1), TS_E_INVAL);
    ck_assert_int_eq(http_metric_u64(&b, "m-x", NULL, 0, 1), TS_E_INVAL);
    ck_assert_int_eq(http_metric_u64(&b, "job:rate5m", NULL, 0, 1), 0); /* colons in names */
    ck_assert_str_eq(b.data, "job:rate5m 1\n");
    ts_buf_free(&b);
}
END_TEST

START_TEST(test_doubles_are_written_as_prometheus_reads_them)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(http_metric_double(&b, "a", NULL, 0, 0.5), 0);
    ck_assert_int_eq(http_metric_double(&b, "b", NULL, 0, 0.1), 0);
    ck_assert_int_eq(http_metric_double(&b, "c", NULL, 0, NAN), 0);
    ck_assert_int_eq(http_metric_double(&b, "d", NULL, 0, INFINITY), 0);
    ck_assert_int_eq(http_metric_double(&b, "e", NULL, 0, -INFINITY), 0);
    ck_assert_int_eq(http_metric_double(&b, "f", NULL, 0, 1e21), 0);
    ck_assert_int_eq(http_metric_u64(&b, "g", NULL, 0, UINT64_MAX), 0);
    ck_assert_str_eq(b.data, "a 0.5\nb 0.1\nc NaN\nd +Inf\ne -Inf\nf 1e+21\n"
                             "g 18446744073709551615\n");
    ts_buf_free(&b);
}
END_TEST

START_TEST(test_histogram_buckets_are_cumulative)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    static const double bounds[] = {0.01, 0.1, 1};
    static const uint64_t counts[] = {2, 0, 3, 1};
    struct http_label l = {"stage", "commit"};
    ck_assert_int_eq(http_metric_histogram(&b, "tocsin_lat_seconds", &l, 1, bounds, counts, 3, 2.25),
                     0);
    ck_assert_str_eq(b.data, "tocsin_lat_seconds_bucket{stage=\"commit\",le=\"0.01\"} 2\n"
                             "tocsin_lat_seconds_bucket{stage=\"commit\",le=\"0.1\"} 2\n"
                             "tocsin_lat_seconds_bucket{stage=\"commit\",le=\"1\"} 5\n"
                             "tocsin_lat_seconds_bucket{stage=\"commit\",le=\"+Inf\"} 6\n"
                             "tocsin_lat_seconds_sum{stage=\"commit\"} 2.25\n"
                             "tocsin_lat_seconds_count{stage=\"commit\"} 6\n");
    ts_buf_reset(&b);
    static const double unordered[] = {1, 0.5};
    ck_assert_int_eq(http_metric_histogram(&b, "h", NULL, 0, unordered, counts, 2, 0), TS_E_INVAL);
    ts_buf_reset(&b);
    ck_assert_int_eq(http_metric_histogram(&b, "h", NULL, 0, NULL, counts, 0, 1), 0);
    ck_assert_str_eq(b.data, "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n");
    ts_buf_free(&b);
}
END_TEST

START_TEST(test_a_full_buffer_leaves_no_half_line)
{
    struct ts_buf b;
    ts_buf_init(&b, 40);
    ck_assert_int_eq(http_metric_u64(&b, "m", NULL, 0, 1), 0);
    struct http_label l = {"k", "a value far too long for what is left of the buffer"};
    ck_assert_int_eq(http_metric_u64(&b, "m", &l, 1, 2), TS_E_LIMIT);
    ck_assert_str_eq(b.data, "m 1\n");
    ck_assert_uint_eq(b.len, 4);
    ts_buf_free(&b);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("http_metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_family_writes_help_and_type);
    tcase_add_test(tc, test_label_values_are_escaped);
    tcase_add_test(tc, test_bad_names_are_refused);
    tcase_add_test(tc, test_doubles_are_written_as_prometheus_reads_them);
    tcase_add_test(tc, test_histogram_buckets_are_cumulative);
    tcase_add_test(tc, test_a_full_buffer_leaves_no_half_line);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
