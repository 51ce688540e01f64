/* check_corr_compile.c - compiling correlation rules: every problem with
 * file:line:col and the rule id, unknown references named, dependants of a
 * broken correlation left out (never half-loaded), the specification's
 * schema examples loading. */
#include <stdio.h>

#include "check_corr_util.h"

static char msg[1024];

/* Compile yaml; return "line:col: msg" of the first correlation problem. */
static const char *first_problem(const char *yaml, size_t *loaded)
{
    struct harness h;
    h_open(&h, yaml, NULL);
    msg[0] = '\0';
    if (h.rep.nproblems) {
        const struct rule_problem *p = &h.rep.problems[0];
        ck_assert_str_eq(p->file, "t.yml");
        snprintf(msg, sizeof(msg), "%u:%u: [%s] %s", p->line, p->col, p->rule_id, p->msg);
    }
    if (loaded)
        *loaded = h.rep.loaded;
    h_close(&h);
    return msg;
}

#define CORR(body) DET_RULE("a") DET_RULE("b") "title: c\nid: cid\ncorrelation:\n" body

START_TEST(test_bad_timespan_points_at_the_value)
{
    ck_assert_str_eq(first_problem(CORR("  type: event_count\n  rules: [a]\n  timespan: 5 minutes\n"
                                        "  condition:\n    gte: 1\n"), NULL),
                     "30:13: [cid] timespan must be a number and a unit s, m, h or d (e.g. 90m), "
                     "up to 366 days, not \"5 minutes\"");
}
END_TEST

START_TEST(test_unknown_condition_key_and_missing_field)
{
    ck_assert_str_eq(first_problem(CORR("  type: value_count\n  rules: [a]\n  timespan: 5m\n"
                                        "  condition:\n    gtx: 1\n"), NULL),
                     "32:5: [cid] unknown condition key \"gtx\" (did you mean \"gt\"?)");
    ck_assert_str_eq(first_problem(CORR("  type: value_count\n  rules: [a]\n  timespan: 5m\n"
                                        "  condition:\n    above: 1\n"), NULL),
                     "32:5: [cid] unknown condition key \"above\" (gt, gte, lt, lte, eq, neq, "
                     "field)");

    ck_assert_str_eq(first_problem(CORR("  type: value_sum\n  rules: [a]\n  timespan: 5m\n"
                                        "  condition:\n    gt: 1\n"), NULL),
                     "32:5: [cid] value_sum needs condition.field");
    ck_assert_str_eq(first_problem(CORR("  type: event_count\n  rules: [a]\n  timespan: 5m\n"), NULL),
                     "28:3: [cid] event_count needs a condition (gt, gte, lt, lte, eq or neq)");
    ck_assert_str_eq(first_problem(CORR("  type: event_count\n  rules: [a]\n  timespan: 5m\n"
                                        "  condition:\n    gte: 2.5\n"), NULL),
                     "32:10: [cid] condition gte needs a non-negative integer, not \"2.5\"");
}
END_TEST

START_TEST(test_alias_for_a_rule_not_listed_is_named)
{
    ck_assert_str_eq(first_problem(CORR("  type: temporal\n  rules: [a, b]\n  timespan: 5m\n"
                                        "  group-by: [ip]\n  aliases:\n    ip:\n      a: src\n"
                                        "      zz: dst\n"), NULL),
                     "35:7: [cid] alias \"ip\" names rule \"zz\", which is not in correlation.rules");
    ck_assert_str_eq(first_problem(CORR("  type: temporal\n  rules: [a, b]\n  timespan: 5m\n"
                                        "  group-by: [ip]\n  aliases:\n    ip:\n      a: src\n"), NULL),
                     "34:7: [cid] alias \"ip\" has no field for rule \"b\"");
}
END_TEST

START_TEST(test_dependants_of_a_broken_correlation_are_left_out)
{
    size_t loaded = 9;
    const char *p = first_problem(
        CORR("  type: event_count\n  rules: [a]\n  timespan: 5x\n  condition:\n    gte: 1\n")
        "---\ntitle: d\nid: did\ncorrelation:\n  type: temporal\n  rules: [cid, b]\n"
        "  timespan: 5m\n---\ntitle: e\nid: eid\ncorrelation:\n  type: event_count\n"
        "  rules: [did]\n  timespan: 5m\n  condition:\n    gte: 1\n",
        &loaded);
    ck_assert_str_eq(p, "30:13: [cid] timespan must be a number and a unit s, m, h or d (e.g. 90m), "
                        "up to 366 days, not \"5x\"");
    ck_assert_uint_eq(loaded, 0);
    struct harness h;
    h_open(&h, CORR("  type: event_count\n  rules: [a]\n  timespan: 5x\n  condition:\n    gte: 1\n")
               "---\ntitle: d\nid: did\ncorrelation:\n  type: temporal\n  rules: [cid, b]\n"
               "  timespan: 5m\n", NULL);
    ck_assert_uint_eq(h.rep.nproblems, 2);
    ck_assert_str_eq(h.rep.problems[1].rule_id, "did");
    ck_assert_str_eq(h.rep.problems[1].msg,
                     "correlation refers to correlation \"cid\", which failed to load");
    ck_assert_uint_eq(h.rep.invalid, 2);
    h_close(&h);
}
END_TEST

START_TEST(test_cycle_between_correlations_is_invalid)
{
    size_t loaded = 9;
    const char *p = first_problem(
        DET_RULE("a") "title: x\nid: x\ncorrelation:\n  type: temporal\n  rules: [a, y]\n"
        "  timespan: 5m\n---\ntitle: y\nid: y\ncorrelation:\n  type: temporal\n  rules: [a, x]\n"
        "  timespan: 5m\n",
        &loaded);
    ck_assert_uint_eq(loaded, 0);
    ck_assert_ptr_nonnull(strstr(p, "cycle"));
}
END_TEST

/* Each schema example of the specification, with the rules it names. */
START_TEST(test_spec_schema_examples_load)
{
    TS_NEED_CORPUS(TS_CORPUS_SPEC, "tests/schema");
    static const char *const files[] = {"event_count", "event_count_ecs", "temporal",
                                        "temporal_ordered", "value_avg", "value_count",
                                        "value_percentile", "value_sum"};
    static const char *const dets =
        "\n---\ntitle: d1\nid: 5638f7c0-ac70-491d-8465-2a65075e0d86\nlogsource:\n  product: t\n"
        "detection:\n  s:\n    x: 1\n  condition: s\n"
        "---\n" DET_RULE("recon_cmd_a") DET_RULE("recon_cmd_b") DET_RULE("recon_cmd_c")
        DET_RULE("rule_a_id") DET_RULE("process_creation") DET_RULE("website_access");
    for (size_t i = 0; i < TS_ARRAY_LEN(files); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/tests/schema/correlation/%s.yml",
                 ts_test_corpus(TS_CORPUS_SPEC), files[i]);
        FILE *f = fopen(path, "rb");
        ck_assert_msg(f != NULL, "%s", path);
        char buf[8192];
        size_t n = fread(buf, 1, sizeof(buf) - strlen(dets) - 1, f);
        fclose(f);
        memcpy(buf + n, dets, strlen(dets) + 1);
        size_t loaded = 0;
        const char *p = first_problem(buf, &loaded);
        ck_assert_msg(loaded == 1, "%s: %s", files[i], p);
    }
}
END_TEST

/* The shipped pack: every correlation compiles; the SSH brute force fires on
 * the fifth failure from one address (src_ip typed as an IP, as the sshd
 * decoder gives it); the inputs do not alert on their own. */
START_TEST(test_shipped_pack_loads_and_brute_force_fires)
{
    const char *paths[] = {"etc/rules"};
    struct rule_load_opts lo = {.paths = paths, .npaths = 1};
    struct rule_set *rs = NULL;
    struct rule_report rr;
    struct ts_err err = {0};
    ck_assert_int_eq(rule_set_load(&rs, &lo, &rr, &err), 0);
    ck_assert_uint_eq(rr.invalid + rr.unsupported, 0);
    rule_report_free(&rr);
    struct corr_engine *c = NULL;
    struct corr_report rep;
    ck_assert_int_eq(corr_engine_create(&c, rs, NULL, &rep, &err), 0);
    ck_assert_uint_eq(rep.nproblems, 0);
    ck_assert_uint_eq(rep.loaded, 5);
    long fail = rule_set_find(rs, "sshd_auth_failure");
    ck_assert_int_ge(fail, 0);
    ck_assert(!corr_detection_standalone(c, (size_t)fail));
    struct ts_arena *a = NULL;
    ck_assert_int_eq(ts_arena_create(&a, 4096, 1 << 16), 0);
    struct corr_batch b;
    for (int i = 0; i < 5; i++) {
        ts_arena_reset(a);
        struct ts_event ev;
        ts_event_init(&ev, a);
        ev.time_ns = T0 + i * 10 * SEC;
        ev.tenant = "agency-a";
        ev.src.kind = TS_SRC_FILE;
        ev.src.name = "auth.log";
        ev.src.line = (uint64_t)i + 1;
        struct ts_ip ip;
        ck_assert_int_eq(ts_ip_parse("203.0.113.9", 11, &ip), 0);
        ts_event_add_ip(&ev, "src_ip", &ip);
        ts_event_add_str(&ev, "username", "root", 4);
        ck_assert_int_eq(corr_feed(c, (size_t)fail, &ev), 0);
        ck_assert_int_eq(corr_batch_end(c, &b), 0);
        ck_assert_uint_eq(b.nincidents, i == 4);
    }
    ck_assert_str_eq(b.incidents[0].rule_id, "017dd23e-17b7-46ec-9279-c2482fa92e1f");
    ck_assert_str_eq(b.incidents[0].group_values[0], "203.0.113.9");
    ck_assert_str_eq(corr_severity_name(b.incidents[0].severity), "high");
    ck_assert_uint_eq(b.incidents[0].count, 5);
    ck_assert_uint_ge(b.incidents[0].ntags, 2);
    struct ts_buf j;
    ts_buf_init(&j, 0);
    ck_assert_int_eq(corr_incident_json(&b.incidents[0], &j), 0);
    ck_assert_ptr_nonnull(strstr(j.data, "\"group\":{\"src_ip\":\"203.0.113.9\"}"));
    ts_buf_free(&j);
    ts_arena_destroy(a);
    corr_report_free(&rep);
    corr_engine_destroy(c);
    rule_set_unref(rs);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("corr_compile");
    TCase *t = tcase_create("compile");
    tcase_add_test(t, test_bad_timespan_points_at_the_value);
    tcase_add_test(t, test_unknown_condition_key_and_missing_field);
    tcase_add_test(t, test_alias_for_a_rule_not_listed_is_named);
    tcase_add_test(t, test_dependants_of_a_broken_correlation_are_left_out);
    tcase_add_test(t, test_cycle_between_correlations_is_invalid);
    tcase_add_test(t, test_spec_schema_examples_load);
    tcase_add_test(t, test_shipped_pack_loads_and_brute_force_fires);
    suite_add_tcase(s, t);
    return s;
}

TS_CHECK_MAIN(make_suite)
