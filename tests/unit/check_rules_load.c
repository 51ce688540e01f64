/* check_rules_load.c - the loader: one clear file:line:col problem per typo
 * (unknown modifier, bad condition, missing selection, wrong value types),
 * unsupported features named exactly, rules never half-loaded, hostile
 * input capped, correlations on rules that did not load left out without
 * touching freed memory, and the whole SigmaHQ corpus loading at >= 99%. */
#include <stdio.h>

#include "check_rules_util.h"

#define DET(x) RULE_HEAD "detection:\n" x

START_TEST(test_unknown_modifier_says_did_you_mean_with_column)
{
    char buf[600];
    ck_assert_str_eq(rule_problem(DET("  selection:\n    Image|contians: x\n  condition: selection\n"),
                                  buf, sizeof(buf)),
                     "8:11: invalid: unknown modifier \"contians\" (did you mean \"contains\"?)");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    Image|endswith|bogus: x\n  condition: selection\n"),
                                  buf, sizeof(buf)),
                     "8:20: invalid: unknown modifier \"bogus\"");
    /* the problem carries the file name and the rule id */
    ck_assert_str_eq(last_report.problems[0].file, "t.yml");
    ck_assert_str_eq(last_report.problems[0].rule_id, "11111111-2222-3333-4444-555555555555");
}
END_TEST

START_TEST(test_bad_condition_syntax_points_at_the_token)
{
    char buf[600];
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A: x\n  condition: selection and and\n"),
                                  buf, sizeof(buf)),
                     "9:28: invalid: bad condition: expected a search identifier, \"not\", \"(\" or "
                     "\"1 of\"/\"all of\", found \"and\"");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A: x\n  condition: (selection\n"),
                                  buf, sizeof(buf)),
                     "9:24: invalid: bad condition: expected \")\" to close the \"(\" at column 14, "
                     "found the end");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A: x\n  condition: 'selection or'\n"),
                                  buf, sizeof(buf)),
                     "9:27: invalid: bad condition: expected a search identifier, \"not\", \"(\" or "
                     "\"1 of\"/\"all of\", found the end");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A: x\n  condition: selection x\n"),
                                  buf, sizeof(buf)),
                     "9:24: invalid: bad condition: expected \"and\", \"or\" or the end, found \"x\"");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A: x\n  condition: sel*\n"), buf, sizeof(buf)),
                     "9:14: invalid: bad condition: a pattern like \"sel*\" needs \"1 of\" or "
                     "\"all of\" before it");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A: x\n  condition: 1 of filter*\n"),
                                  buf, sizeof(buf)),
                     "9:19: invalid: bad condition: no search identifier matches \"filter*\"");
}
END_TEST

START_TEST(test_condition_naming_a_missing_selection)
{
    char buf[600];
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A: x\n  filter:\n    B: y\n"
                                      "  condition: selection and not filtr\n"),
                                  buf, sizeof(buf)),
                     "11:32: invalid: bad condition: unknown search identifier \"filtr\" (did you "
                     "mean \"filter\"?)");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A: x\n  condition: keywords\n"), buf, sizeof(buf)),
                     "9:14: invalid: bad condition: unknown search identifier \"keywords\"");
}
END_TEST

START_TEST(test_wrong_value_types)
{
    char buf[600];
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A:\n      x: 1\n  condition: selection\n"),
                                  buf, sizeof(buf)),
                     "9:7: invalid: wrong value type for \"A\": a mapping (expected a string, number, "
                     "boolean or null)");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A|exists: maybe\n  condition: selection\n"),
                                  buf, sizeof(buf)),
                     "8:15: invalid: modifier \"exists\" takes true or false");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A|gt: ten\n  condition: selection\n"),
                                  buf, sizeof(buf)),
                     "8:11: invalid: \"ten\" is not a number (modifier gt)");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A|cidr: 10.0.0.0/33\n  condition: selection\n"),
                                  buf, sizeof(buf)),
                     "8:13: invalid: \"10.0.0.0/33\" is not a CIDR network (modifier cidr)");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A|re: '(unclosed'\n  condition: selection\n"),
                                  buf, sizeof(buf)),
                     "8:11: invalid: bad regular expression at offset 9: missing closing parenthesis");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A|i: x\n  condition: selection\n"), buf, sizeof(buf)),
                     "8:7: invalid: modifier \"i\" is a sub-modifier of \"re\"");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A|re|cidr: x\n  condition: selection\n"),
                                  buf, sizeof(buf)),
                     "8:5: invalid: modifiers \"re\" and \"cidr\" cannot be combined");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A: []\n  condition: selection\n"), buf, sizeof(buf)),
                     "8:8: invalid: empty list of values for \"A\"");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A|base64: 'a*'\n  condition: selection\n"),
                                  buf, sizeof(buf)),
                     "8:15: invalid: modifier \"base64\" cannot encode a value with wildcards (apply "
                     "contains/startswith/endswith after it)");
    ck_assert_str_eq(rule_problem(RULE_HEAD "level: urgent\ndetection:\n  s:\n    A: x\n  condition: s\n",
                                  buf, sizeof(buf)),
                     "6:8: invalid: level \"urgent\" is not one of informational, low, medium, high, critical");
    ck_assert_str_eq(rule_problem(RULE_HEAD "tags: {a: 1}\ndetection:\n  s:\n    A: x\n  condition: s\n",
                                  buf, sizeof(buf)),
                     "6:7: invalid: \"tags\" must be a list of strings, not a mapping");
}
END_TEST

START_TEST(test_structural_problems)
{
    char buf[600];
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A: x\n"), buf, sizeof(buf)),
                     "7:3: invalid: detection has no condition");
    ck_assert_str_eq(rule_problem("title: t\nlogsource:\n  product: windows\n", buf, sizeof(buf)),
                     "1:1: invalid: rule has no detection");
    ck_assert_str_eq(rule_problem("title: t\ndetection:\n  s:\n    A: x\n  condition: s\n", buf, sizeof(buf)),
                     "1:1: invalid: rule has no logsource");
    ck_assert_str_eq(rule_problem("- a\n- b\n", buf, sizeof(buf)),
                     "1:1: invalid: a rule must be a mapping, not a list");
    ck_assert_str_eq(rule_problem("title: t\nlogsource: {product: x}\ndetection:\n  s: [a\n", buf, sizeof(buf)),
                     "5:1: invalid: YAML: did not find expected ',' or ']' while parsing a flow sequence");
}
END_TEST

START_TEST(test_unsupported_features_are_named)
{
    char buf[600];
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A: x\n  condition: selection | count() > 5\n"),
                                  buf, sizeof(buf)),
                     "9:14: unsupported: aggregation in the condition (deprecated \"| count() ...\"; use "
                     "a correlation rule)");
    ck_assert_str_eq(rule_problem("action: global\ntitle: t\nlogsource:\n  product: windows\n", buf, sizeof(buf)),
                     "1:9: unsupported: multi-document rule collections (action: global)");
    ck_assert_str_eq(rule_problem(DET("  selection:\n    A: x\n  condition: selection | near b\n"),
                                  buf, sizeof(buf)),
                     "9:14: unsupported: aggregation in the condition (deprecated \"| count() ...\"; use "
                     "a correlation rule)");
}
END_TEST

START_TEST(test_rule_with_a_problem_is_never_half_loaded)
{
    struct rule_set *rs = rules_from(
        DET("  good:\n    A: x\n  bad:\n    B|nope: y\n  condition: good or bad\n") "---\n"
        "title: ok\nlogsource:\n  product: windows\ndetection:\n  s:\n    A: x\n  condition: s\n");
    ck_assert_uint_eq(last_report.rules, 2);
    ck_assert_uint_eq(last_report.ok, 1);
    ck_assert_uint_eq(last_report.invalid, 1);
    ck_assert_uint_eq(rule_set_count(rs), 1);
    ck_assert_str_eq(rule_set_info(rs, 0)->title, "ok");
    rule_set_unref(rs);
}
END_TEST

START_TEST(test_every_problem_of_a_rule_is_listed)
{
    rule_set_unref(rules_from(DET("  a:\n    A|contians: x\n  b:\n    B|startwith: y\n"
                                  "  condition: a or b\n")));
    ck_assert_uint_eq(last_report.nproblems, 2);
    ck_assert_uint_eq(last_report.invalid, 1);
    ck_assert_uint_eq(last_report.problems[1].line, 10);
    ck_assert_str_eq(last_report.problems[1].msg,
                     "unknown modifier \"startwith\" (did you mean \"startswith\"?)");
}
END_TEST

START_TEST(test_hostile_rules_hit_caps)
{
    char *text = malloc(70000);
    ck_assert_ptr_nonnull(text);
    /* deeply nested condition */
    int n = snprintf(text, 70000, DET("  s:\n    A: x\n  condition: "));
    for (int i = 0; i < 100; i++)
        text[n++] = '(';
    n += snprintf(text + n, 70000 - (size_t)n, "s");
    for (int i = 0; i < 100; i++)
        text[n++] = ')';
    text[n++] = '\n';
    text[n] = '\0';
    rule_set_unref(rules_from(text));
    ck_assert_uint_eq(last_report.invalid, 1);
    ck_assert_ptr_nonnull(strstr(last_report.problems[0].msg, "nested deeper than"));
    /* windash with too many flags */
    rule_set_unref(rules_from(DET("  s:\n    A|windash: ' -a -b -c -d -e -f'\n  condition: s\n")));
    ck_assert_uint_eq(last_report.unsupported, 1);
    ck_assert_str_eq(last_report.problems[0].msg, "windash on a value with more than 5 flags");
    free(text);
}
END_TEST

START_TEST(test_missing_path_is_an_io_error)
{
    const char *paths[1] = {"/nonexistent/rules"};
    struct rule_load_opts o = {.paths = paths, .npaths = 1};
    struct rule_set *rs = NULL;
    struct rule_report rep;
    struct ts_err err = {0};
    ck_assert_int_eq(rule_set_load(&rs, &o, &rep, &err), TS_E_IO);
    ck_assert_ptr_null(rs);
    ck_assert_str_eq(err.file, "/nonexistent/rules");
    rule_report_free(&rep);
}
END_TEST

/* Problems of the last load other than lint warnings (these rules' ids are
 * not UUIDs, on purpose: short names read better here). */
static size_t nerrors(void)
{
    size_t n = 0;
    for (size_t i = 0; i < last_report.nproblems; i++)
        n += last_report.problems[i].kind != RULE_WARNING;
    return n;
}

/* Problem i (not counting warnings) of the last load as
 * "file:line:col: kind: [rule-id] message". */
static const char *problem_at(size_t i, char *buf, size_t n)
{
    ck_assert_uint_gt(nerrors(), i);
    const struct rule_problem *p = last_report.problems;
    for (size_t k = 0;; p++)
        if (p->kind != RULE_WARNING && k++ == i)
            break;
    snprintf(buf, n, "%s:%u:%u: %s: [%s] %s", p->file, p->line, p->col,
             rule_problem_kind_name(p->kind), p->rule_id, p->msg);
    return buf;
}

#define BAD_BASE                                                                                   \
    "title: base\nid: base-rule\nlogsource:\n  product: windows\ndetection:\n  selection:\n"      \
    "    Image|contians: x\n  condition: selection\n"
#define CORR_ON(id, target)                                                                        \
    "title: " id "\nid: " id "\ncorrelation:\n  type: event_count\n  rules:\n    - " target "\n"  \
    "  timespan: 5m\n  condition:\n    gte: 2\n"

/* Issue 17, findings 7 and 11: the loader read a correlation it had freed
 * (a use-after-free that crashed `tocsin rules check` and reloads). A
 * correlation whose base rule is invalid is left out, and so is every
 * correlation that refers to it, in whichever order they come. */
START_TEST(test_correlation_on_a_correlation_whose_base_rule_is_invalid_is_left_out)
{
    char buf[1400];
    /* the dependant after the correlation it uses */
    struct rule_set *rs =
        rules_from(BAD_BASE "---\n" CORR_ON("bid", "base-rule") "---\n" CORR_ON("aid", "bid"));
    ck_assert_uint_eq(nerrors(), 3);
    ck_assert_str_eq(problem_at(0, buf, sizeof(buf)),
                     "t.yml:7:11: invalid: [base-rule] unknown modifier \"contians\" "
                     "(did you mean \"contains\"?)");
    ck_assert_str_eq(problem_at(1, buf, sizeof(buf)),
                     "t.yml:15:7: invalid: [bid] correlation refers to rule \"base-rule\", "
                     "which is not loaded");
    ck_assert_str_eq(problem_at(2, buf, sizeof(buf)),
                     "t.yml:25:7: invalid: [aid] correlation refers to correlation \"bid\", "
                     "which failed to load");
    ck_assert_uint_eq(last_report.rules, 3);
    ck_assert_uint_eq(last_report.invalid, 3);
    ck_assert_uint_eq(last_report.ok, 0);
    ck_assert_uint_eq(last_report.correlations, 0);
    ck_assert_uint_eq(rule_set_correlation_count(rs), 0);
    rule_set_unref(rs);

    /* the dependant before the correlation it uses */
    rs = rules_from(BAD_BASE "---\n" CORR_ON("aid", "bid") "---\n" CORR_ON("bid", "base-rule"));
    ck_assert_uint_eq(nerrors(), 3);
    ck_assert_str_eq(problem_at(1, buf, sizeof(buf)),
                     "t.yml:15:7: invalid: [aid] correlation refers to correlation \"bid\", "
                     "which failed to load");
    ck_assert_str_eq(problem_at(2, buf, sizeof(buf)),
                     "t.yml:25:7: invalid: [bid] correlation refers to rule \"base-rule\", "
                     "which is not loaded");
    ck_assert_uint_eq(last_report.invalid, 3);
    ck_assert_uint_eq(last_report.correlations, 0);
    ck_assert_uint_eq(rule_set_correlation_count(rs), 0);
    rule_set_unref(rs);
}
END_TEST

/* The fuzzer's two-rule file (tests/fuzz/corpus/sigma/two-correlations-
 * unloaded-rules.yml): `rules check` and `replay -r` exited 139. */
START_TEST(test_two_correlations_each_naming_an_unloaded_rule_are_both_reported)
{
    char buf[1400];
    struct rule_set *rs = rules_from(CORR_ON("x", "nope-1") "---\n" CORR_ON("y", "nope-2"));
    ck_assert_uint_eq(nerrors(), 2);
    ck_assert_str_eq(problem_at(0, buf, sizeof(buf)),
                     "t.yml:6:7: invalid: [x] correlation refers to rule \"nope-1\", "
                     "which is not loaded");
    ck_assert_str_eq(problem_at(1, buf, sizeof(buf)),
                     "t.yml:16:7: invalid: [y] correlation refers to rule \"nope-2\", "
                     "which is not loaded");
    ck_assert_uint_eq(last_report.rules, 2);
    ck_assert_uint_eq(last_report.invalid, 2);
    ck_assert_uint_eq(last_report.ok, 0);
    ck_assert_uint_eq(rule_set_correlation_count(rs), 0);
    rule_set_unref(rs);
}
END_TEST

START_TEST(test_sigmahq_corpus_loads_at_least_99_percent)
{
    TS_NEED_CORPUS(TS_CORPUS_SIGMA, "rules");
    char path[600];
    snprintf(path, sizeof(path), "%s/rules", ts_test_sigma_dir());
    const char *paths[1] = {path};
    struct rule_load_opts o = {.paths = paths, .npaths = 1};
    struct rule_set *rs = NULL;
    struct rule_report rep;
    struct ts_err err = {0};
    ck_assert_int_eq(rule_set_load(&rs, &o, &rep, &err), 0);
    ck_assert_uint_gt(rep.rules, 3000);
    ck_assert_uint_eq(rep.ok + rep.invalid + rep.unsupported, rep.rules);
    ck_assert_msg(rep.ok * 100 >= rep.rules * 99, "only %zu of %zu rules ok", rep.ok, rep.rules);
    ck_assert_uint_eq(rule_set_count(rs), rep.ok - rep.filters - rep.correlations);
    /* every rule not loaded has a reason with a position */
    ck_assert_uint_ge(rep.nproblems, rep.invalid + rep.unsupported);
    for (size_t i = 0; i < rep.nproblems; i++) {
        ck_assert_uint_gt(rep.problems[i].line, 0);
        ck_assert_uint_gt(strlen(rep.problems[i].msg), 0);
        ck_assert_uint_gt(strlen(rep.problems[i].file), 0);
    }
    /* metadata that detections carry downstream */
    long idx = rule_set_find(rs, "0b9ad457-2554-44c1-82c2-d56a99c42377");
    ck_assert_int_ge(idx, 0);
    const struct rule_info *in = rule_set_info(rs, (size_t)idx);
    ck_assert_ptr_nonnull(in->author);
    ck_assert_ptr_nonnull(in->title);
    ck_assert_uint_gt(in->nreferences + in->ntags, 0);
    rule_report_free(&rep);
    rule_set_unref(rs);
}
END_TEST

static void teardown(void)
{
    rule_report_free(&last_report);
}

static Suite *make_suite(void)
{
    Suite *s = suite_create("rules_load");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_unknown_modifier_says_did_you_mean_with_column);
    tcase_add_test(tc, test_bad_condition_syntax_points_at_the_token);
    tcase_add_test(tc, test_condition_naming_a_missing_selection);
    tcase_add_test(tc, test_wrong_value_types);
    tcase_add_test(tc, test_structural_problems);
    tcase_add_test(tc, test_unsupported_features_are_named);
    tcase_add_test(tc, test_rule_with_a_problem_is_never_half_loaded);
    tcase_add_test(tc, test_every_problem_of_a_rule_is_listed);
    tcase_add_test(tc, test_hostile_rules_hit_caps);
    tcase_add_test(tc, test_missing_path_is_an_io_error);
    tcase_add_test(tc, test_correlation_on_a_correlation_whose_base_rule_is_invalid_is_left_out);
    tcase_add_test(tc, test_two_correlations_each_naming_an_unloaded_rule_are_both_reported);
    tcase_add_test(tc, test_sigmahq_corpus_loads_at_least_99_percent);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
