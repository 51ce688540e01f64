/* check_rules_lint.c - strict linting (issue 16): unknown top-level and
 * logsource keys with "did you mean" (a misspelt logsource key is invalid:
 * it would widen the rule), ids that are not UUIDs, the same id in two files
 * (both named), ATT&CK tags against the shipped taxonomy, a bad taxonomy
 * file, and the SigmaHQ corpus staying free of warnings. Run from the
 * repository root (etc/attack/taxonomy.txt). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check_rules_util.h"
#include "../../rules/rules_int.h"

#define TAXO "etc/attack/taxonomy.txt"
#define UUID1 "11111111-2222-3333-4444-555555555555"
#define UUID2 "11111111-2222-3333-4444-666666666666"

static struct rule_set *lint_text(const char *text)
{
    struct rule_load_opts o = {.buf = text, .buf_len = strlen(text), .buf_name = "t.yml",
                               .attack_taxonomy = TAXO};
    struct rule_set *rs = NULL;
    struct ts_err err = {0};
    rule_report_free(&last_report);
    ck_assert_msg(rule_set_load(&rs, &o, &last_report, &err) == 0, "%s", err.msg);
    return rs;
}

/* Problem i as "line:col: kind: message". */
static const char *prob(size_t i, char *buf, size_t n)
{
    ck_assert_uint_gt(last_report.nproblems, i);
    const struct rule_problem *p = &last_report.problems[i];
    snprintf(buf, n, "%u:%u: %s: %s", p->line, p->col, rule_problem_kind_name(p->kind), p->msg);
    return buf;
}

#define HEAD(id) "title: t\nid: " id "\n"
#define DET "detection:\n  sel:\n    A: x\n  condition: sel\n"

START_TEST(test_misspelt_logsource_key_is_invalid_with_did_you_mean)
{
    char buf[700];
    struct rule_set *rs = lint_text(HEAD(UUID1) "logsource:\n  product: linux\n  servce: sudo\n" DET);
    ck_assert_uint_eq(last_report.nproblems, 1);
    ck_assert_str_eq(prob(0, buf, sizeof(buf)),
                     "5:3: invalid: unknown logsource key \"servce\" (did you mean \"service\"?); "
                     "as written the rule would apply to every service");
    ck_assert_uint_eq(rule_set_count(rs), 0); /* not loaded: it would widen */
    rule_set_unref(rs);
    /* an unrelated key: a warning, the rule kept */
    rs = lint_text(HEAD(UUID1) "logsource:\n  product: linux\n  vendor: acme\n" DET);
    ck_assert_str_eq(prob(0, buf, sizeof(buf)),
                     "5:3: warning: unknown logsource key \"vendor\" (product, category, service, "
                     "definition); routing ignores it");
    ck_assert_uint_eq(last_report.warnings, 1);
    ck_assert_uint_eq(rule_set_count(rs), 1);
    rule_set_unref(rs);
}
END_TEST

START_TEST(test_unknown_top_level_key_says_did_you_mean)
{
    char buf[700];
    struct rule_set *rs = lint_text(HEAD(UUID1) "logsource:\n  product: linux\n"
                                    "detction:\n  sel:\n    A: x\n  condition: sel\n");
    ck_assert_uint_eq(last_report.nproblems, 2);
    ck_assert_str_eq(prob(0, buf, sizeof(buf)),
                     "5:1: warning: unknown key \"detction\" (did you mean \"detection\"?)");
    ck_assert_str_eq(prob(1, buf, sizeof(buf)),
                     "1:1: invalid: rule has no detection (did you mean \"detection\" for "
                     "\"detction\" at line 5?)");
    rule_set_unref(rs);
    rs = lint_text(HEAD(UUID1) "logsource:\n  product: linux\n" DET "levle: high\nmy_note: x\n");
    ck_assert_uint_eq(last_report.nproblems, 2);
    ck_assert_str_eq(prob(0, buf, sizeof(buf)),
                     "9:1: warning: unknown key \"levle\" (did you mean \"level\"?)");
    ck_assert_str_eq(prob(1, buf, sizeof(buf)),
                     "10:1: warning: unknown key \"my_note\" (not a Sigma rule attribute; ignored)");
    ck_assert_uint_eq(rule_set_count(rs), 1);
    rule_set_unref(rs);
}
END_TEST

START_TEST(test_id_that_is_not_a_uuid_is_a_warning)
{
    char buf[700];
    struct rule_set *rs = lint_text(HEAD("sudo-rule-1") "logsource:\n  product: linux\n" DET);
    ck_assert_uint_eq(last_report.nproblems, 1);
    ck_assert_str_eq(prob(0, buf, sizeof(buf)),
                     "2:5: warning: id \"sudo-rule-1\" is not a UUID (Sigma ids are UUIDs: use "
                     "uuidgen)");
    ck_assert_str_eq(last_report.problems[0].rule_id, "sudo-rule-1");
    ck_assert_uint_eq(rule_set_count(rs), 1);
    rule_set_unref(rs);
}
END_TEST

START_TEST(test_attack_tags_are_checked_against_the_taxonomy)
{
    char buf[700];
    struct rule_set *rs = lint_text(
        HEAD(UUID1) "tags:\n  - attack.t1059.001\n  - attack.T1078\n  - attack.stealth\n"
                    "  - attack.g0032\n  - attack.initial_access\n  - attack.privlege-escalation\n"
                    "  - attack.t12\n  - cve.2021-44228\n"
                    "logsource:\n  product: linux\n" DET);
    ck_assert_uint_eq(last_report.nproblems, 3);
    ck_assert_str_eq(prob(0, buf, sizeof(buf)),
                     "8:5: warning: ATT&CK tag \"attack.initial_access\" is not in the taxonomy "
                     "(did you mean \"attack.initial-access\"?)");
    ck_assert_str_eq(prob(1, buf, sizeof(buf)),
                     "9:5: warning: ATT&CK tag \"attack.privlege-escalation\" is not in the "
                     "taxonomy (did you mean \"attack.privilege-escalation\"?)");
    ck_assert(strstr(prob(2, buf, sizeof(buf)), "10:5: warning: ATT&CK tag \"attack.t12\" is "
                                                 "not in the taxonomy: attack.<tactic>") == buf);
    ck_assert_uint_eq(rule_set_count(rs), 1);
    rule_set_unref(rs);
}
END_TEST

START_TEST(test_same_id_in_two_files_names_both)
{
    char dir[] = "/tmp/tocsin-lint.XXXXXX", a[600], b[600];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(a, sizeof(a), "%s/a.yml", dir);
    snprintf(b, sizeof(b), "%s/b.yml", dir);
    FILE *f = fopen(a, "w");
    fputs(HEAD(UUID1) "logsource:\n  product: linux\n" DET, f);
    fclose(f);
    f = fopen(b, "w");
    fputs("# another rule, same id\n" HEAD(UUID1) "logsource:\n  product: linux\n" DET "---\n"
          HEAD(UUID2) "logsource:\n  product: linux\n" DET, f);
    fclose(f);
    const char *paths[1] = {dir};
    struct rule_load_opts o = {.paths = paths, .npaths = 1};
    struct rule_set *rs = NULL;
    struct ts_err err = {0};
    rule_report_free(&last_report);
    ck_assert_int_eq(rule_set_load(&rs, &o, &last_report, &err), 0);
    ck_assert_uint_eq(last_report.nproblems, 1);
    char want[1400], buf[1400];
    const struct rule_problem *p = &last_report.problems[0];
    snprintf(buf, sizeof(buf), "%s:%u:%u: %s: [%s] %s", p->file, p->line, p->col,
             rule_problem_kind_name(p->kind), p->rule_id, p->msg);
    snprintf(want, sizeof(want),
             "%s:3:5: warning: [" UUID1 "] id " UUID1 " is not unique: %s:2:5 has it too "
             "(\"t\"); ids must be unique across the rule set", b, a);
    ck_assert_str_eq(buf, want);
    ck_assert_uint_eq(rule_set_count(rs), 3); /* kept: a warning */
    rule_set_unref(rs);
    unlink(a);
    unlink(b);
    rmdir(dir);
}
END_TEST

START_TEST(test_bad_taxonomy_file_is_an_error_with_its_line)
{
    char path[] = "/tmp/tocsin-taxo.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "# tactics\ntactic execution\ntechnique t####\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    const char *r = HEAD(UUID1) "logsource:\n  product: linux\n" DET;
    struct rule_load_opts o = {.buf = r, .buf_len = strlen(r), .buf_name = "t.yml",
                               .attack_taxonomy = path};
    struct rule_set *rs = NULL;
    struct rule_report rep;
    struct ts_err err = {0};
    ck_assert_int_eq(rule_set_load(&rs, &o, &rep, &err), TS_E_INVAL);
    ck_assert_ptr_null(rs);
    ck_assert_str_eq(err.file, path);
    ck_assert_uint_eq(err.line, 3);
    ck_assert(strstr(err.msg, "expected \"tactic NAME\" or \"id PATTERN\""));
    rule_report_free(&rep);
    unlink(path);
}
END_TEST

START_TEST(test_sigmahq_corpus_has_no_lint_warnings)
{
    TS_NEED_CORPUS(TS_CORPUS_SIGMA, "rules");
    char path[600];
    snprintf(path, sizeof(path), "%s/rules", ts_test_sigma_dir());
    const char *paths[1] = {path};
    struct rule_load_opts o = {.paths = paths, .npaths = 1, .attack_taxonomy = TAXO};
    struct rule_set *rs = NULL;
    struct rule_report rep;
    struct ts_err err = {0};
    ck_assert_int_eq(rule_set_load(&rs, &o, &rep, &err), 0);
    ck_assert_uint_gt(rep.rules, 3000);
    for (size_t i = 0; i < rep.nproblems; i++)
        ck_assert_msg(rep.problems[i].kind != RULE_WARNING, "%s:%u: %s", rep.problems[i].file,
                      rep.problems[i].line, rep.problems[i].msg);
    ck_assert_uint_eq(rep.warnings, 0);
    rule_report_free(&rep);
    rule_set_unref(rs);
}
END_TEST

static void teardown(void)
{
    rule_report_free(&last_report);
}

/* The full edit distance (case-insensitive), the reference for the banded
 * one the suggestions use. */
static size_t full_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t d[32][32];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t x = d[i - 1][j - 1] + (tolower((unsigned char)a[i - 1]) !=
                                         tolower((unsigned char)b[j - 1]));
            size_t y = d[i - 1][j] + 1, z = d[i][j - 1] + 1;
            d[i][j] = x < y ? (x < z ? x : z) : (y < z ? y : z);
        }
    return d[la][lb];
}

START_TEST(test_suggestion_distance_is_exact_up_to_its_limit)
{
    ck_assert_uint_eq(rule_str_distance("detectoin", 9, "detection", 9), 2);
    ck_assert_uint_eq(rule_str_distance("LogSource", 9, "logsource", 9), 0);
    ck_assert_uint_eq(rule_str_distance("", 0, "tag", 3), 3);
    ck_assert_uint_eq(rule_str_distance("x", 1, "falsepositives", 14), RULE_DIST_MAX + 1);
    /* seeded random pairs over a small alphabet (many near misses): the
     * banded distance is the full one, or RULE_DIST_MAX + 1 beyond it */
    uint32_t seed = 12345;
    char a[31], b[31];
    for (int n = 0; n < 20000; n++) {
        size_t la = (seed = seed * 1103515245u + 12345u) >> 16 & 31;
        size_t lb = la + ((seed = seed * 1103515245u + 12345u) >> 16) % 9;
        lb = lb >= 4 ? lb - 4 : 0;
        la = la > 30 ? 30 : la;
        lb = lb > 30 ? 30 : lb;
        for (size_t i = 0; i < la; i++)
            a[i] = "abAB-"[((seed = seed * 1103515245u + 12345u) >> 16) % 5];
        memcpy(b, a, la < lb ? la : lb);
        for (size_t i = la < lb ? la : lb; i < lb; i++)
            b[i] = "abAB-"[((seed = seed * 1103515245u + 12345u) >> 16) % 5];
        for (int e = (int)(((seed = seed * 1103515245u + 12345u) >> 16) % 5); e > 0 && lb; e--)
            b[((seed = seed * 1103515245u + 12345u) >> 16) % lb] = 'c';
        size_t want = full_distance(a, la, b, lb);
        if (want > RULE_DIST_MAX)
            want = RULE_DIST_MAX + 1;
        ck_assert_msg(rule_str_distance(a, la, b, lb) == want, "\"%.*s\" \"%.*s\": %zu, want %zu",
                      (int)la, a, (int)lb, b, rule_str_distance(a, la, b, lb), want);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("rules_lint");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_misspelt_logsource_key_is_invalid_with_did_you_mean);
    tcase_add_test(tc, test_unknown_top_level_key_says_did_you_mean);
    tcase_add_test(tc, test_id_that_is_not_a_uuid_is_a_warning);
    tcase_add_test(tc, test_attack_tags_are_checked_against_the_taxonomy);
    tcase_add_test(tc, test_same_id_in_two_files_names_both);
    tcase_add_test(tc, test_bad_taxonomy_file_is_an_error_with_its_line);
    tcase_add_test(tc, test_sigmahq_corpus_has_no_lint_warnings);
    tcase_add_test(tc, test_suggestion_distance_is_exact_up_to_its_limit);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
