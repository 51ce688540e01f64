/* check_rules_re_limits.c - regular expressions (modifier re) on hostile
 * values: a search stops at PCRE2's match limit, a value longer than the
 * pattern's window is searched only where that is exact, and every search cut
 * short counts as not matching and is counted (rule_match_stats.re_limit_hits);
 * SigmaHQ rule d7bcd677 on crafted 30 KB PowerShell lines (issue 17, finding 4)
 * is cut short and counted while ordinary lines match as before. */
#include <stdio.h>

#include "check_rules_util.h"

/* Load text with the given options (paths/buf filled in here). */
static struct rule_set *load_opts(const char *text, struct rule_load_opts o)
{
    o.buf = text;
    o.buf_len = strlen(text);
    o.buf_name = "t.yml";
    struct rule_set *rs = NULL;
    struct ts_err err = {0};
    rule_report_free(&last_report);
    ck_assert_int_eq(rule_set_load(&rs, &o, &last_report, &err), 0);
    ck_assert_uint_eq(last_report.nproblems, 0);
    ck_assert_uint_eq(rule_set_count(rs), 1);
    return rs;
}

#define RE_RULE(pat) RULE_HEAD "detection:\n  s:\n    F|re: '" pat "'\n  condition: s\n"

/* Match F = val (n bytes) on scratch s; the number of matching rules. */
static int match_f(const struct rule_set *rs, struct rule_scratch *s, const char *val, size_t n)
{
    struct tev t;
    tev_init(&t);
    tev_strn(&t, "F", val, n);
    int k = 0;
    ck_assert_int_eq(rule_match(rs, s, &t.ev, count_cb, &k), 0);
    tev_free(&t);
    return k;
}

static struct rule_match_stats stats_of(const struct rule_scratch *s)
{
    struct rule_match_stats st;
    rule_scratch_stats(s, &st);
    return st;
}

/* n copies of c then the NUL-terminated tail, in a fresh buffer. */
static char *run_of(char c, size_t n, const char *tail)
{
    size_t tl = strlen(tail);
    char *b = malloc(n + tl + 1);
    ck_assert_ptr_nonnull(b);
    memset(b, c, n);
    memcpy(b + n, tail, tl + 1);
    return b;
}

START_TEST(test_nested_repeat_on_aaaab_hits_the_match_limit_and_does_not_match)
{
    struct rule_set *rs = load_opts(RE_RULE("(a+)+$"), (struct rule_load_opts){0});
    struct rule_scratch *s = NULL;
    ck_assert_int_eq(rule_scratch_create(&s, rs), 0);
    char *v = run_of('a', 40, "b"); /* 2^40 ways to split the a's */
    ck_assert_int_eq(match_f(rs, s, v, strlen(v)), 0);
    struct rule_match_stats st = stats_of(s);
    ck_assert_uint_eq(st.re_limit_hits, 1);
    ck_assert_uint_eq(st.re_too_long, 0);
    /* the same scratch goes on matching ordinary values */
    ck_assert_int_eq(match_f(rs, s, "aaaa", 4), 1);
    ck_assert_int_eq(match_f(rs, s, "aaab", 4), 0);
    st = stats_of(s);
    ck_assert_uint_eq(st.re_limit_hits, 1);
    ck_assert_uint_eq(st.events, 3);
    free(v);
    rule_scratch_free(s);
    rule_set_unref(rs);
}
END_TEST

/* The ReDoS case (issue 15, part 2): (a+)+$ on 5000 a's and a b in
 * a Sigma rule stops at the limits (the value is within the search window,
 * so only a limit can stop it), counts as not matching and is counted. */
START_TEST(test_nested_repeat_on_5000_as_and_a_b_is_stopped_by_the_limit)
{
    struct rule_set *rs = load_opts(RE_RULE("(a+)+$"), (struct rule_load_opts){0});
    struct rule_scratch *s = NULL;
    ck_assert_int_eq(rule_scratch_create(&s, rs), 0);
    char *v = run_of('a', 5000, "b");
    ck_assert_int_eq(match_f(rs, s, v, strlen(v)), 0);
    struct rule_match_stats st = stats_of(s);
    ck_assert_uint_eq(st.re_limit_hits, 1);
    ck_assert_uint_eq(st.re_too_long, 0);
    free(v);
    rule_scratch_free(s);
    rule_set_unref(rs);
}
END_TEST

START_TEST(test_match_limit_is_an_option)
{
    char *v = run_of('a', 14, "b"); /* ~2^14 steps: within the default limit */
    struct rule_set *rs = load_opts(RE_RULE("(a+)+$"), (struct rule_load_opts){0});
    struct rule_scratch *s = NULL;
    ck_assert_int_eq(rule_scratch_create(&s, rs), 0);
    ck_assert_int_eq(match_f(rs, s, v, strlen(v)), 0);
    ck_assert_uint_eq(stats_of(s).re_limit_hits, 0);
    rule_scratch_free(s);
    rule_set_unref(rs);

    rs = load_opts(RE_RULE("(a+)+$"), (struct rule_load_opts){.re_match_limit = 1000});
    ck_assert_int_eq(rule_scratch_create(&s, rs), 0);
    ck_assert_int_eq(match_f(rs, s, v, strlen(v)), 0);
    ck_assert_uint_eq(stats_of(s).re_limit_hits, 1);
    ck_assert_int_eq(match_f(rs, s, "aaaa", 4), 1);
    rule_scratch_free(s);
    rule_set_unref(rs);
    free(v);
}
END_TEST

/* A scratch rebound to another set (rule_scratch_rebind, the fuzz targets'
 * way to keep its buffers between sets) matches as a fresh one of that set:
 * that set's limits, fields and rules, and its statistics start again. */
START_TEST(test_rebound_scratch_matches_as_a_fresh_one_of_the_new_set)
{
    char *v = run_of('a', 14, "b"); /* ~2^14 steps: within the default limit */
    struct rule_set *lax = load_opts(RE_RULE("(a+)+$"), (struct rule_load_opts){0});
    struct rule_set *strict =
        load_opts(RE_RULE("(a+)+$"), (struct rule_load_opts){.re_match_limit = 1000});
    struct rule_set *wide = load_opts(RULE_HEAD "detection:\n  s:\n    A: x\n    B: y\n"
                                                "    C: z\n  t:\n    F|re: '^aaab'\n"
                                                "  condition: s or t\n",
                                      (struct rule_load_opts){0});
    struct rule_scratch *s = NULL;
    ck_assert_int_eq(rule_scratch_create(&s, lax), 0);
    ck_assert_int_eq(match_f(lax, s, v, strlen(v)), 0);
    ck_assert_uint_eq(stats_of(s).re_limit_hits, 0);
    ck_assert_int_eq(rule_scratch_rebind(s, strict), 0);
    ck_assert_uint_eq(stats_of(s).events, 0);
    ck_assert_int_eq(match_f(strict, s, v, strlen(v)), 0);
    ck_assert_uint_eq(stats_of(s).re_limit_hits, 1);
    ck_assert_int_eq(match_f(strict, s, "aaaa", 4), 1);
    ck_assert_int_eq(rule_scratch_rebind(s, wide), 0);
    ck_assert_int_eq(match_f(wide, s, "aaab", 4), 1);
    ck_assert_int_eq(match_f(wide, s, "aaaa", 4), 0);
    ck_assert_int_eq(rule_scratch_rebind(s, lax), 0);
    ck_assert_int_eq(match_f(lax, s, v, strlen(v)), 0);
    ck_assert_int_eq(match_f(lax, s, "aaaa", 4), 1);
    ck_assert_uint_eq(stats_of(s).re_limit_hits, 0);
    ck_assert_uint_eq(stats_of(s).events, 2);
    rule_scratch_free(s);
    rule_set_unref(lax);
    rule_set_unref(strict);
    rule_set_unref(wide);
    free(v);
}
END_TEST

/* re_max_subject = 64: a longer value is searched in its first 64 bytes when
 * no match there can depend on what follows (no $, \z, \b, lookahead...);
 * otherwise not at all. A search that could not see the whole value and found
 * nothing is counted; a value without the pattern's required byte is not. */
START_TEST(test_value_longer_than_the_window_is_searched_only_where_exact)
{
    struct rule_load_opts o = {.re_max_subject = 64};
    struct rule_set *rs = load_opts(RE_RULE("evil"), o);
    struct rule_scratch *s = NULL;
    ck_assert_int_eq(rule_scratch_create(&s, rs), 0);
    char *head = run_of('x', 100, ""), *tail = run_of('x', 100, "evil");
    memcpy(head, "evil", 4);
    ck_assert_int_eq(match_f(rs, s, head, 100), 1); /* match in the window */
    ck_assert_uint_eq(stats_of(s).re_limit_hits, 0);
    ck_assert_int_eq(match_f(rs, s, tail, 104), 0); /* beyond the window */
    ck_assert_uint_eq(stats_of(s).re_limit_hits, 1);
    ck_assert_uint_eq(stats_of(s).re_too_long, 1);
    ck_assert_int_eq(match_f(rs, s, tail, 100), 0); /* no 'l' at all: exact */
    ck_assert_uint_eq(stats_of(s).re_limit_hits, 1);
    ck_assert_int_eq(match_f(rs, s, "evil", 4), 1);
    rule_scratch_free(s);
    rule_set_unref(rs);

    /* the end of the window is not the end of the value: not searched */
    rs = load_opts(RE_RULE("evil$"), o);
    ck_assert_int_eq(rule_scratch_create(&s, rs), 0);
    ck_assert_int_eq(match_f(rs, s, tail, 104), 0);
    ck_assert_int_eq(match_f(rs, s, head, 100), 0);
    ck_assert_uint_eq(stats_of(s).re_limit_hits, 2);
    ck_assert_uint_eq(stats_of(s).re_too_long, 2);
    ck_assert_int_eq(match_f(rs, s, tail + 50, 54), 1);
    rule_scratch_free(s);
    rule_set_unref(rs);
    static const char *const ends[] = {"evil\\\\b", "evil(?=x)", "evil(?!y)", "evil\\\\z"};
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), RULE_HEAD "detection:\n  s:\n    F|re: \"%s\"\n"
                 "  condition: s\n", ends[i]);
        rs = load_opts(text, o);
        ck_assert_int_eq(rule_scratch_create(&s, rs), 0);
        ck_assert_msg(match_f(rs, s, head, 100) == 0, "%s searched past the window", ends[i]);
        ck_assert_uint_eq(stats_of(s).re_too_long, 1);
        rule_scratch_free(s);
        rule_set_unref(rs);
    }
    free(head);
    free(tail);
}
END_TEST

/* Backtracking over k chained unbounded repeats can take ~2^k steps per byte
 * (PCRE2's JIT counts entries into repeats, not the bytes they give back, so
 * its match limit does not see it): such a pattern searches a window halved
 * for every repeat beyond 8. 13 repeats, re_max_subject 4096: 128 bytes. */
START_TEST(test_pattern_with_many_unbounded_repeats_searches_a_smaller_window)
{
#define PLUS13 "\\\\+.*\\\\+.*\\\\+.*\\\\+.*\\\\+.*\\\\+.*\\\\+.*\\\\+.*\\\\+.*\\\\+.*\\\\+.*\\\\+.*\\\\+.*\\\\+"
    char text[512];
    snprintf(text, sizeof(text), RULE_HEAD "detection:\n  s:\n    F|re: \"%s\"\n  condition: s\n",
             PLUS13);
    struct rule_set *rs = load_opts(text, (struct rule_load_opts){.re_max_subject = 4096});
    struct rule_scratch *s = NULL;
    ck_assert_int_eq(rule_scratch_create(&s, rs), 0);
    char *late = run_of('a', 200, "++++++++++++++");
    char *early = run_of('+', 14, "");
    char *v = run_of('a', 200, "");
    memcpy(v, early, 14);
    ck_assert_int_eq(match_f(rs, s, v, 200), 1);
    ck_assert_int_eq(match_f(rs, s, late, 214), 0);
    ck_assert_uint_eq(stats_of(s).re_too_long, 1);
    ck_assert_int_eq(match_f(rs, s, late + 100, 114), 1); /* within 128 bytes */
    rule_scratch_free(s);
    rule_set_unref(rs);
    free(late);
    free(early);
    free(v);
#undef PLUS13
}
END_TEST

/* ------------------------------------------- SigmaHQ d7bcd677 (finding 4) */

#define PS_IMAGE "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
#define LINE_LEN 30000u

static struct rule_set *load_d7bcd677(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/rules/windows/process_creation/"
             "proc_creation_win_powershell_cmdline_special_characters.yml", ts_test_sigma_dir());
    const char *paths[1] = {path};
    struct rule_load_opts o = {.paths = paths, .npaths = 1};
    struct rule_set *rs = NULL;
    struct ts_err err = {0};
    rule_report_free(&last_report);
    ck_assert_int_eq(rule_set_load(&rs, &o, &last_report, &err), 0);
    ck_assert_uint_eq(rule_set_count(rs), 1);
    ck_assert_str_eq(rule_set_info(rs, 0)->id, "d7bcd677-645d-4691-a8d4-7a5602b780d1");
    return rs;
}

static int match_ps(const struct rule_set *rs, struct rule_scratch *s, const char *cmd, size_t n)
{
    struct tev t;
    tev_init(&t);
    tev_str(&t, "Image", PS_IMAGE);
    tev_strn(&t, "CommandLine", cmd, n);
    int k = 0;
    ck_assert_int_eq(rule_match(rs, s, &t.ev, count_cb, &k), 0);
    tev_free(&t);
    return k;
}

/* "powershell.exe <head>" then fill repeated to LINE_LEN bytes. */
static char *ps_line(const char *head, const char *fill)
{
    char *b = malloc(LINE_LEN + 1);
    ck_assert_ptr_nonnull(b);
    int n = snprintf(b, LINE_LEN + 1, "powershell.exe %s", head);
    size_t p = (size_t)n, fl = strlen(fill);
    while (p < LINE_LEN) {
        b[p] = fill[(p - (size_t)n) % fl];
        p++;
    }
    b[LINE_LEN] = '\0';
    return b;
}

START_TEST(test_crafted_powershell_lines_are_cut_short_and_counted_ordinary_lines_match_as_before)
{
    TS_NEED_CORPUS(TS_CORPUS_SIGMA, "rules");
    struct rule_set *rs = load_d7bcd677();
    struct rule_scratch *s = NULL;
    ck_assert_int_eq(rule_scratch_create(&s, rs), 0);

    /* crafted: one short of every threshold (13 '+', 9 '{', 4 '^', 4 '`'),
     * then 30 KB on the same line for the .* chains to backtrack over */
    int crafted = 0;
    for (int i = 0; i < 20; i++) {
        char head[64];
        snprintf(head, sizeof(head), "-c +++++++++++++{{{{{{{{{^^^^````%d ", i);
        char *line = ps_line(head, "Write-Output abc; ");
        crafted += match_ps(rs, s, line, LINE_LEN);
        free(line);
    }
    ck_assert_int_eq(crafted, 0);
    struct rule_match_stats st = stats_of(s);
    ck_assert_uint_eq(st.re_limit_hits, 20); /* the 14-'+' chain, once a line */
    ck_assert_uint_eq(st.re_too_long, 20);

    /* ordinary lines: results as before, nothing cut short */
    char *plain = ps_line("-NoProfile -File C:\\ops\\deploy.ps1 -Servers ", "srv-0042,");
    ck_assert_int_eq(match_ps(rs, s, plain, LINE_LEN), 0);
    free(plain);
    /* a long -EncodedCommand: base64 has '+' all along (a known false
     * positive of the rule, and the rule's result before this change) */
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char fill[4096];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i + 1 < sizeof(fill); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        fill[i] = b64[x % 64];
    }
    fill[sizeof(fill) - 1] = '\0';
    char *enc = ps_line("-NoP -NonI -W Hidden -enc ", fill);
    ck_assert_int_eq(match_ps(rs, s, enc, LINE_LEN), 1);
    free(enc);
    const char *carets = "powershell.exe -c \"i^e^x (n^e^w-o^bject Net.WebClient).DownloadString('x')\"";
    ck_assert_int_eq(match_ps(rs, s, carets, strlen(carets)), 1);
    const char *pluses = "powershell.exe -c \"$a='I'+'n'+'v'+'o'+'k'+'e'+'-'+'E'+'x'+'p'+'r'+'e'+'s'+'s'+'ion'\"";
    ck_assert_int_eq(match_ps(rs, s, pluses, strlen(pluses)), 1);
    const char *fine = "powershell.exe -NoProfile -Command Get-Date";
    ck_assert_int_eq(match_ps(rs, s, fine, strlen(fine)), 0);
    st = stats_of(s);
    ck_assert_uint_eq(st.re_limit_hits, 20);
    ck_assert_uint_eq(st.events, 25);
    rule_scratch_free(s);
    rule_set_unref(rs);
}
END_TEST

static void teardown(void)
{
    rule_report_free(&last_report);
}

static Suite *make_suite(void)
{
    Suite *s = suite_create("rules_re_limits");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_nested_repeat_on_aaaab_hits_the_match_limit_and_does_not_match);
    tcase_add_test(tc, test_nested_repeat_on_5000_as_and_a_b_is_stopped_by_the_limit);
    tcase_add_test(tc, test_match_limit_is_an_option);
    tcase_add_test(tc, test_rebound_scratch_matches_as_a_fresh_one_of_the_new_set);
    tcase_add_test(tc, test_value_longer_than_the_window_is_searched_only_where_exact);
    tcase_add_test(tc, test_pattern_with_many_unbounded_repeats_searches_a_smaller_window);
    tcase_add_test(tc,
                   test_crafted_powershell_lines_are_cut_short_and_counted_ordinary_lines_match_as_before);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
