/* check_summary.c - runtime/summary.c: the monitoring report of a period
 * over a real LMDB store: totals by status, severity, tenant and rule, the
 * events in the incidents, response times, escalations, the period's
 * bounds, and the three renderings (issue 13 part 4). */
#include <jansson.h>
#include <lmdb.h>

#include "check_store_util.h"
#include "../../core/tstime.h"
#include "../../runtime/runtime.h"

#define T0 (INT64_C(1795143600) * TS_NS_PER_SEC) /* 2026-11-20T03:00:00Z, a Friday */
#define H (INT64_C(3600) * TS_NS_PER_SEC)

static struct store *fill(void)
{
    st_mkdir();
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, T0);
    static const char *const ids[] = {"a1", "a2", "a3", "b1", "late"};
    for (size_t i = 0; i < 5; i++) {
        struct store_incident inc = st_incident(ids[i], i < 3 ? "agency-a" : "agency-b",
                                                i == 4 ? T0 + 200 * H : T0 + (int64_t)i * H);
        inc.severity = (uint8_t)(i == 0 ? 4 : 3);
        inc.count = 5 + i;
        if (i == 3) {
            inc.rule_id = "web-defacement";
            inc.rule_title = "Web defacement";
            inc.level = "critical";
            inc.group_key = "host=portal-01";
        }
        ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
        struct store_evidence ev = {.source = i < 3 ? "logs.syslog" : "logs.agent",
                                    .partition = 0, .offset = (int64_t)i, .event_ns = T0};
        ck_assert_int_eq(store_evidence_add(t, ids[i], &ev, NULL), 0);
    }
    st_commit(t);
    /* a1 acknowledged after 1 h, resolved after 3 h; a2 acknowledged after 2 h */
    t = st_begin(s);
    store_txn_set_now(t, T0 + H);
    ck_assert_int_eq(store_incident_set_status(t, "a1", STORE_STATUS_ACKNOWLEDGED, "binh", NULL), 0);
    st_commit(t);
    t = st_begin(s);
    store_txn_set_now(t, T0 + 2 * H);
    ck_assert_int_eq(store_incident_set_status(t, "a2", STORE_STATUS_ACKNOWLEDGED, "binh", NULL), 0);
    st_commit(t);
    t = st_begin(s);
    store_txn_set_now(t, T0 + 3 * H);
    ck_assert_int_eq(store_incident_set_status(t, "a1", STORE_STATUS_RESOLVED, "binh", NULL), 0);
    /* two escalations in the period: one delivered, one pending */
    struct store_outbox e = {.id = "a1:1:national:initial-notice", .incident_id = "a1",
                             .revision = 1, .recipient = "national", .channel = "default",
                             .payload = "{}", .payload_len = 2};
    ck_assert_int_eq(store_outbox_put(t, &e), 0);
    ck_assert_int_eq(store_outbox_mark_delivered(t, e.id), 0);
    e.id = "b1:1:national:initial-notice";
    e.incident_id = "b1";
    ck_assert_int_eq(store_outbox_put(t, &e), 0);
    st_commit(t);
    return s;
}

static json_t *summary_json(struct store *s, int64_t from, int64_t to)
{
    struct rt_summary_opts o = {.from_ns = from, .to_ns = to, .kind = "custom"};
    struct rt_summary *sum = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(rt_summary_compute(s, &o, &sum, &err), 0);
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(rt_summary_render(sum, RT_SUMMARY_JSON, ESC_LANG_EN, &b), 0);
    json_error_t je;
    json_t *j = json_loadb(b.data, b.len, 0, &je);
    ck_assert_msg(j != NULL, "%s\n%s", je.text, b.data);
    ts_buf_free(&b);
    rt_summary_free(sum);
    return j;
}

static long long jint(json_t *j, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(json_object_get(j, a), b);
    if (c)
        v = json_object_get(v, c);
    ck_assert_msg(v != NULL, "missing %s.%s.%s", a, b, c ? c : "");
    return json_integer_value(v);
}

START_TEST(test_summary_counts_the_period_incidents_by_status_severity_tenant_and_rule)
{
    struct store *s = fill();
    json_t *j = summary_json(s, T0, T0 + 24 * H); /* "late" (T0+200h) is outside */
    ck_assert_int_eq(jint(j, "incidents", "total", NULL), 4);
    ck_assert_int_eq(jint(j, "incidents", "by_status", "new"), 2); /* a3, b1 */
    ck_assert_int_eq(jint(j, "incidents", "by_status", "acknowledged"), 1);
    ck_assert_int_eq(jint(j, "incidents", "by_status", "resolved"), 1);
    ck_assert_int_eq(jint(j, "incidents", "by_status", "reopened"), 0);
    ck_assert_int_eq(jint(j, "incidents", "by_severity", "critical"), 1);
    ck_assert_int_eq(jint(j, "incidents", "by_severity", "high"), 3);
    json_t *ten = json_object_get(json_object_get(j, "incidents"), "by_tenant");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ten, 0), "key")), "agency-a");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(ten, 0), "incidents")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(ten, 0), "events")), 5 + 6 + 7);
    json_t *rules = json_object_get(json_object_get(j, "incidents"), "by_rule");
    ck_assert_uint_eq(json_array_size(rules), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rules, 1), "title")),
                     "Web defacement");
    ck_assert_int_eq(jint(j, "events", "in_incidents_total", NULL), 5 + 6 + 7 + 8);
    json_t *src = json_object_get(json_object_get(j, "events"), "evidence_by_source");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(src, 0), "key")), "logs.syslog");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(src, 0), "incidents")), 3);
    /* response: a1 acked after 1 h, a2 after 2 h: mean 1.5 h; a1 resolved after 3 h */
    ck_assert_int_eq(jint(j, "response", "mean_time_to_acknowledge_s", NULL), 5400);
    ck_assert_int_eq(jint(j, "response", "mean_time_to_resolve_s", NULL), 3 * 3600);
    ck_assert_int_eq(jint(j, "escalations", "delivered", NULL), 1);
    ck_assert_int_eq(jint(j, "escalations", "pending", NULL), 1);
    ck_assert(json_is_null(json_object_get(json_object_get(j, "escalations"), "overdue")));
    json_t *top = json_object_get(json_object_get(j, "top"), "sources");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(top, 0), "key")), "10.0.0.5");
    top = json_object_get(json_object_get(j, "top"), "targets");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(top, 0), "key")), "portal-01");
    json_decref(j);
    j = summary_json(s, T0 + 100 * H, T0 + 300 * H);
    ck_assert_int_eq(jint(j, "incidents", "total", NULL), 1);
    ck_assert_int_eq(jint(j, "escalations", "delivered", NULL), 0);
    json_decref(j);
    store_close(s);
    st_rmdir();
}
END_TEST

START_TEST(test_summary_text_and_html_are_vietnamese_and_charted)
{
    struct store *s = fill();
    struct rt_summary_opts o = {.from_ns = T0, .to_ns = T0 + 24 * H, .kind = "day",
                                .utc_offset_sec = 7 * 3600};
    struct rt_summary *sum = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(rt_summary_compute(s, &o, &sum, &err), 0);
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(rt_summary_render(sum, RT_SUMMARY_TEXT, ESC_LANG_VI, &b), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "Tổng số sự cố: 4\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "Kỳ báo cáo: 2026-11-20 10:00 +07:00 - 2026-11-21 10:00 +07:00"));
    ck_assert_ptr_nonnull(strstr(b.data, "   - nghiêm trọng: 1\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "Thời gian trung bình đến khi tiếp nhận: 1h30m"));
    ck_assert_ptr_null(strstr(b.data, "critical"));
    ts_buf_reset(&b);
    ck_assert_int_eq(rt_summary_render(sum, RT_SUMMARY_HTML, ESC_LANG_VI, &b), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "<html lang=\"vi\">"));
    ck_assert_ptr_nonnull(strstr(b.data, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    ck_assert_ptr_nonnull(strstr(b.data, "@media print"));
    ts_buf_free(&b);
    rt_summary_free(sum);
    store_close(s);
    st_rmdir();
}
END_TEST

START_TEST(test_summary_periods_are_the_last_full_day_week_and_month)
{
    int64_t now = T0 + 5 * H; /* 2026-11-20 15:00 +07:00, a Friday */
    int64_t f, t;
    const int off = 7 * 3600;
    char a[40], b[40];
    ck_assert_int_eq(rt_summary_period("day", now, off, &f, &t), 0);
    ts_format_rfc3339(f, a, sizeof(a));
    ts_format_rfc3339(t, b, sizeof(b));
    ck_assert_str_eq(a, "2026-11-18T17:00:00Z"); /* 19 Nov 00:00 +07:00 */
    ck_assert_str_eq(b, "2026-11-19T17:00:00Z");
    ck_assert_int_eq(rt_summary_period("week", now, off, &f, &t), 0);
    ts_format_rfc3339(f, a, sizeof(a));
    ts_format_rfc3339(t, b, sizeof(b));
    ck_assert_str_eq(a, "2026-11-08T17:00:00Z"); /* Monday 9 Nov */
    ck_assert_str_eq(b, "2026-11-15T17:00:00Z"); /* Monday 16 Nov */
    ck_assert_int_eq(rt_summary_period("month", now, off, &f, &t), 0);
    ts_format_rfc3339(f, a, sizeof(a));
    ts_format_rfc3339(t, b, sizeof(b));
    ck_assert_str_eq(a, "2026-09-30T17:00:00Z"); /* 1 Oct */
    ck_assert_str_eq(b, "2026-10-31T17:00:00Z"); /* 1 Nov */
    ck_assert_int_eq(rt_summary_period("year", now, off, &f, &t), TS_E_INVAL);
}
END_TEST

/* Counters added in a write txn that is aborted (as after STORE_E_RETRY)
 * and written again count once; cleared after the commit, a second batch
 * adds to them; the summary reads them by hour of the period and tenant. */
START_TEST(test_summary_reads_the_counters_written_once_per_committed_batch)
{
    struct store *s = fill();
    struct store_counters *c = NULL;
    ck_assert_int_eq(store_counters_create(&c), 0);
    ck_assert_int_eq(store_counters_add(c, T0, STORE_COUNTER_EVENTS, "agency-a", "logs.syslog",
                                        "", NULL, 100), 0);
    ck_assert_int_eq(store_counters_add(c, T0 + 10, STORE_COUNTER_EVENTS, "agency-a",
                                        "logs.syslog", "", NULL, 20), 0);
    ck_assert_int_eq(store_counters_add(c, T0 + 2 * H, STORE_COUNTER_EVENTS, "agency-b",
                                        "logs.agent", "", NULL, 7), 0);
    ck_assert_int_eq(store_counters_add(c, T0, STORE_COUNTER_DETECTIONS, "agency-a", "r-1",
                                        "high", "Brute force", 3), 0);
    ck_assert_int_eq(store_counters_add(c, T0 + 30 * H, STORE_COUNTER_DETECTIONS, "agency-a",
                                        "r-1", "high", "Brute force", 50), 0); /* next day */
    ck_assert_int_eq(store_counters_add(c, T0, STORE_COUNTER_LOSS, "", "no_decoder",
                                        "logs.syslog", NULL, 4), 0);
    ck_assert_uint_eq(store_counters_size(c), 5);
    struct store_txn *t = st_begin(s);
    ck_assert_int_eq(store_counters_write(t, c), 0);
    store_txn_abort(t); /* the batch's txn failed: nothing counted */
    t = st_begin(s);
    ck_assert_int_eq(store_counters_write(t, c), 0); /* the redo */
    st_commit(t);
    store_counters_clear(c);
    ck_assert_uint_eq(store_counters_size(c), 0);
    ck_assert_int_eq(store_counters_add(c, T0 + H, STORE_COUNTER_DETECTIONS, "agency-a", "r-1",
                                        "high", NULL, 2), 0);
    t = st_begin(s);
    ck_assert_int_eq(store_counters_write(t, c), 0);
    st_commit(t);
    store_counters_destroy(c);
    json_t *j = summary_json(s, T0, T0 + 24 * H);
    ck_assert_int_eq(jint(j, "events", "total", NULL), 127);
    json_t *src = json_object_get(json_object_get(j, "events"), "by_source");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(src, 0), "key")), "logs.syslog");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(src, 0), "events")), 120);
    ck_assert_int_eq(jint(j, "detections", "total", NULL), 5);
    json_t *r = json_array_get(json_object_get(json_object_get(j, "detections"), "by_rule"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(r, "title")), "Brute force");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "detections")), 5);
    ck_assert_int_eq(jint(j, "silent_loss", "no_decoder", NULL), 4);
    json_decref(j);
    /* the next day holds only its own */
    j = summary_json(s, T0 + 24 * H, T0 + 48 * H);
    ck_assert_int_eq(jint(j, "detections", "total", NULL), 50);
    ck_assert_int_eq(jint(j, "events", "total", NULL), 0);
    json_decref(j);
    /* one tenant's view: its events and detections, no other tenant's */
    struct rt_summary_opts o = {.from_ns = T0, .to_ns = T0 + 24 * H, .tenant = "agency-b"};
    struct rt_summary *sum = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(rt_summary_compute(s, &o, &sum, &err), 0);
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(rt_summary_render(sum, RT_SUMMARY_JSON, ESC_LANG_EN, &b), 0);
    j = json_loadb(b.data, b.len, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(jint(j, "events", "total", NULL), 7);
    ck_assert_int_eq(jint(j, "detections", "total", NULL), 0);
    json_decref(j);
    ts_buf_reset(&b);
    ck_assert_int_eq(rt_summary_render(sum, RT_SUMMARY_TEXT, ESC_LANG_VI, &b), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "Tổng số sự kiện thu nhận: 7\n"));
    ts_buf_free(&b);
    rt_summary_free(sum);
    store_close(s);
    st_rmdir();
}
END_TEST

/* A store an older build wrote (no counters database): a build with
 * counters opening it for writing records when they began, and the summary
 * says its counts are partial; a new store counts from its start. */
START_TEST(test_summary_says_counters_begun_on_an_older_store_are_partial)
{
    struct store *s = fill();
    ck_assert_int_eq(store_counters_since(s), 0); /* new: counted from the start */
    json_t *j = summary_json(s, T0, T0 + 24 * H);
    ck_assert(json_is_false(json_object_get(json_object_get(j, "counters"), "partial")));
    json_decref(j);
    store_close(s);
    /* as an older build left it: drop the counters database */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 32), 0);
    ck_assert_int_eq(mdb_env_open(env, st_dir, 0, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "counters", 0, &dbi), 0);
    ck_assert_int_eq(mdb_drop(txn, dbi, 1), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    /* read-only: nothing kept, totals null */
    struct store_opts ro = {.read_only = true};
    s = st_open_opts(&ro);
    ck_assert(!store_counters_present(s));
    j = summary_json(s, T0, T0 + 24 * H);
    ck_assert(json_is_null(json_object_get(json_object_get(j, "events"), "total")));
    ck_assert(json_is_false(json_object_get(json_object_get(j, "counters"), "kept")));
    json_decref(j);
    store_close(s);
    /* opened for writing: counters from now on, said partial */
    int64_t before = ts_now_ns();
    s = st_open();
    ck_assert(store_counters_present(s));
    int64_t since = store_counters_since(s);
    ck_assert_int_ge(since, before);
    j = summary_json(s, T0, T0 + 24 * H);
    ck_assert(json_is_true(json_object_get(json_object_get(j, "counters"), "partial")));
    ck_assert_int_eq(jint(j, "events", "total", NULL), 0);
    json_decref(j);
    store_close(s);
    s = st_open(); /* the time stays that of the first open */
    ck_assert_int_eq(store_counters_since(s), since);
    store_close(s);
    st_rmdir();
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("summary");
    TCase *tc = tcase_create("summary");
    tcase_add_test(tc, test_summary_counts_the_period_incidents_by_status_severity_tenant_and_rule);
    tcase_add_test(tc, test_summary_text_and_html_are_vietnamese_and_charted);
    tcase_add_test(tc, test_summary_periods_are_the_last_full_day_week_and_month);
    tcase_add_test(tc, test_summary_reads_the_counters_written_once_per_committed_batch);
    tcase_add_test(tc, test_summary_says_counters_begun_on_an_older_store_are_partial);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
