/* check_rules_modifiers.c - Sigma value semantics: one test per value
 * modifier of the v2.1.0 appendix, wildcards and escapes, case rules, empty
 * values, null, exists, numbers versus strings. */
#include "check_rules_util.h"

#define SEL(x) "  selection:\n" x "  condition: selection\n"

START_TEST(test_plain_value_is_exact_and_case_insensitive)
{
    ck_assert(det_matches(SEL("    Image: 'C:\\Windows\\cmd.exe'\n"), "Image", "c:\\windows\\CMD.EXE", NULL));
    ck_assert(!det_matches(SEL("    Image: 'C:\\Windows\\cmd.exe'\n"), "Image", "C:\\Windows\\cmd.exe2", NULL));
}
END_TEST

START_TEST(test_contains_matches_anywhere)
{
    ck_assert(det_matches(SEL("    CommandLine|contains: 'vssadmin'\n"), "CommandLine", "x VSSADMIN delete", NULL));
    ck_assert(!det_matches(SEL("    CommandLine|contains: 'vssadmin'\n"), "CommandLine", "vss admin", NULL));
}
END_TEST

START_TEST(test_startswith_and_endswith_anchor_one_side)
{
    ck_assert(det_matches(SEL("    Image|startswith: 'C:\\Users\\'\n"), "Image", "c:\\users\\a.exe", NULL));
    ck_assert(!det_matches(SEL("    Image|startswith: 'C:\\Users\\'\n"), "Image", "D:\\c:\\users\\", NULL));
    ck_assert(det_matches(SEL("    Image|endswith: '\\cmd.exe'\n"), "Image", "C:\\x\\CMD.exe", NULL));
    ck_assert(!det_matches(SEL("    Image|endswith: '\\cmd.exe'\n"), "Image", "C:\\x\\cmd.exe.bak", NULL));
}
END_TEST

START_TEST(test_value_list_is_or_and_all_makes_it_and)
{
    const char *any = SEL("    CommandLine|contains:\n      - ' -a '\n      - ' -b '\n");
    const char *all = SEL("    CommandLine|contains|all:\n      - ' -a '\n      - ' -b '\n");
    ck_assert(det_matches(any, "CommandLine", "x -a y", NULL));
    ck_assert(!det_matches(all, "CommandLine", "x -a y", NULL));
    ck_assert(det_matches(all, "CommandLine", "x -b -a y", NULL));
}
END_TEST

START_TEST(test_wildcards_star_and_question_mark)
{
    ck_assert(det_matches(SEL("    Image: 'prog?.exe'\n"), "Image", "progA.exe", NULL));
    ck_assert(!det_matches(SEL("    Image: 'prog?.exe'\n"), "Image", "prog.exe", NULL));
    ck_assert(det_matches(SEL("    Image: 'antivirus_V*.exe'\n"), "Image", "antivirus_V21.2.1.exe", NULL));
    ck_assert(det_matches(SEL("    Image: '*\\a*b?c*'\n"), "Image", "x\\aZZbQc.exe", NULL));
    ck_assert(!det_matches(SEL("    Image: '*\\a*b?c*'\n"), "Image", "x\\aZZbc", NULL));
}
END_TEST

START_TEST(test_escaped_wildcards_are_literal)
{
    /* \* is a plain star, \? a plain question mark */
    ck_assert(det_matches(SEL("    Name: 'a\\*b'\n"), "Name", "a*b", NULL));
    ck_assert(!det_matches(SEL("    Name: 'a\\*b'\n"), "Name", "axxb", NULL));
    ck_assert(det_matches(SEL("    Name: 'a\\?'\n"), "Name", "a?", NULL));
    ck_assert(!det_matches(SEL("    Name: 'a\\?'\n"), "Name", "ab", NULL));
    /* \\* is a backslash then a wildcard */
    ck_assert(det_matches(SEL("    Name: 'a\\\\*'\n"), "Name", "a\\anything", NULL));
    /* \\\* is a backslash then a plain star */
    ck_assert(det_matches(SEL("    Name: 'a\\\\\\*'\n"), "Name", "a\\*", NULL));
    ck_assert(!det_matches(SEL("    Name: 'a\\\\\\*'\n"), "Name", "a\\x", NULL));
    /* a single backslash before another character is literal; \\\\ is two */
    ck_assert(det_matches(SEL("    Name: 'C:\\Windows'\n"), "Name", "C:\\Windows", NULL));
    ck_assert(det_matches(SEL("    Name: 'a\\\\\\\\b'\n"), "Name", "a\\\\b", NULL));
    ck_assert(det_matches(SEL("    Name: 'a\\\\b'\n"), "Name", "a\\b", NULL));
}
END_TEST

START_TEST(test_empty_value_matches_only_empty_string)
{
    ck_assert(det_matches(SEL("    Name: ''\n"), "Name", "", NULL));
    ck_assert(!det_matches(SEL("    Name: ''\n"), "Name", "x", NULL));
    ck_assert(!det_matches(SEL("    Name: ''\n"), "Other", "", NULL));
    /* contains '' matches any present value */
    ck_assert(det_matches(SEL("    Name|contains: ''\n"), "Name", "abc", NULL));
}
END_TEST

START_TEST(test_null_matches_absent_or_null_field)
{
    ck_assert(det_matches(SEL("    Name: null\n"), "Other", "x", NULL));
    ck_assert(!det_matches(SEL("    Name: null\n"), "Name", "x", NULL));
    ck_assert(!det_matches(SEL("    Name: null\n"), "Name", "", NULL));
    struct rule_set *rs = rule_ok(RULE_HEAD "detection:\n" SEL("    Name: null\n"));
    struct tev t;
    tev_init(&t);
    struct ts_value nv = {.type = TS_V_NULL};
    ck_assert_int_eq(ts_event_add(&t.ev, "Name", 4, &nv), 0);
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    tev_free(&t);
    rule_set_unref(rs);
}
END_TEST

START_TEST(test_exists_true_and_false)
{
    ck_assert(det_matches(SEL("    Name|exists: true\n"), "Name", "", NULL));
    ck_assert(!det_matches(SEL("    Name|exists: true\n"), "Other", "", NULL));
    ck_assert(det_matches(SEL("    Name|exists: false\n"), "Other", "", NULL));
    ck_assert(!det_matches(SEL("    Name|exists: false\n"), "Name", "v", NULL));
}
END_TEST

START_TEST(test_cased_is_case_sensitive)
{
    ck_assert(det_matches(SEL("    Name|cased: 'AbC'\n"), "Name", "AbC", NULL));
    ck_assert(!det_matches(SEL("    Name|cased: 'AbC'\n"), "Name", "abc", NULL));
    ck_assert(det_matches(SEL("    Name|contains|cased: 'bC'\n"), "Name", "AbC", NULL));
    ck_assert(!det_matches(SEL("    Name|contains|cased: 'bC'\n"), "Name", "ABC", NULL));
}
END_TEST

START_TEST(test_re_is_case_sensitive_search_with_flags)
{
    ck_assert(det_matches(SEL("    Name|re: 'a[0-9]+b'\n"), "Name", "xxa123bxx", NULL));
    ck_assert(!det_matches(SEL("    Name|re: 'a[0-9]+b'\n"), "Name", "A123B", NULL));
    ck_assert(det_matches(SEL("    Name|re|i: 'a[0-9]+b'\n"), "Name", "A123B", NULL));
    ck_assert(!det_matches(SEL("    Name|re: '^b$'\n"), "Name", "a\nb\nc", NULL));
    ck_assert(det_matches(SEL("    Name|re|m: '^b$'\n"), "Name", "a\nb\nc", NULL));
    ck_assert(!det_matches(SEL("    Name|re: 'a.c'\n"), "Name", "a\nc", NULL));
    ck_assert(det_matches(SEL("    Name|re|s: 'a.c'\n"), "Name", "a\nc", NULL));
    /* wildcards mean nothing special in a regex */
    ck_assert(det_matches(SEL("    Name|re: 'a*'\n"), "Name", "bbb", NULL));
}
END_TEST

START_TEST(test_base64_encodes_the_value)
{
    /* "cmd" -> Y21k */
    ck_assert(det_matches(SEL("    Data|base64: 'cmd'\n"), "Data", "Y21k", NULL));
    ck_assert(det_matches(SEL("    Data|base64|contains: 'cmd'\n"), "Data", "xxY21kxx", NULL));
}
END_TEST

START_TEST(test_base64offset_finds_all_three_alignments)
{
    const char *det = SEL("    Data|base64offset|contains: 'http://'\n");
    /* base64 of "http://x", " http://x", "  http://x" */
    ck_assert(det_matches(det, "Data", "aHR0cDovL3g=", NULL));
    ck_assert(det_matches(det, "Data", "IGh0dHA6Ly94", NULL));
    ck_assert(det_matches(det, "Data", "ICBodHRwOi8veA==", NULL));
    ck_assert(!det_matches(det, "Data", "aHR0cHM6Ly94", NULL)); /* https://x */
}
END_TEST

START_TEST(test_utf16_variants_encode_then_base64)
{
    /* "cmd" utf16le = 63 00 6d 00 64 00 -> base64 YwBtAGQA */
    ck_assert(det_matches(SEL("    Data|utf16le|base64: 'cmd'\n"), "Data", "YwBtAGQA", NULL));
    ck_assert(det_matches(SEL("    Data|wide|base64: 'cmd'\n"), "Data", "YwBtAGQA", NULL));
    /* utf16be = 00 63 00 6d 00 64 -> AGMAbQBk */
    ck_assert(det_matches(SEL("    Data|utf16be|base64: 'cmd'\n"), "Data", "AGMAbQBk", NULL));
    /* utf16 = FF FE + le -> //5jAG0AZAA= */
    ck_assert(det_matches(SEL("    Data|utf16|base64: 'cmd'\n"), "Data", "//5jAG0AZAA=", NULL));
    /* encoded bytes can be matched directly too */
    struct rule_set *rs = rule_ok(RULE_HEAD "detection:\n" SEL("    Data|wide|contains: 'md'\n"));
    struct tev t;
    tev_init(&t);
    tev_strn(&t, "Data", "c\0m\0d\0", 6);
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    tev_free(&t);
    rule_set_unref(rs);
    /* and the typical chain */
    ck_assert(det_matches(SEL("    Data|utf16le|base64offset|contains: 'cmd'\n"), "Data",
                          "xxYwBtAGQAxx", NULL));
}
END_TEST

START_TEST(test_windash_expands_all_dash_characters)
{
    const char *det = SEL("    CommandLine|windash|contains: ' -exec '\n");
    ck_assert(det_matches(det, "CommandLine", "p -exec x", NULL));
    ck_assert(det_matches(det, "CommandLine", "p /exec x", NULL));
    ck_assert(det_matches(det, "CommandLine", "p \xE2\x80\x93" "exec x", NULL));
    ck_assert(det_matches(det, "CommandLine", "p \xE2\x80\x94" "exec x", NULL));
    ck_assert(det_matches(det, "CommandLine", "p \xE2\x80\x95" "exec x", NULL));
    ck_assert(!det_matches(det, "CommandLine", "p _exec x", NULL));
    /* only flags: a dash inside a word stays a dash */
    ck_assert(!det_matches(SEL("    C|windash: 'a-b'\n"), "C", "a/b", NULL));
}
END_TEST

START_TEST(test_cidr_matches_v4_and_v6_networks)
{
    ck_assert(det_matches(SEL("    DestinationIp|cidr: 10.0.0.0/8\n"), "DestinationIp", "10.2.3.4", NULL));
    ck_assert(!det_matches(SEL("    DestinationIp|cidr: 10.0.0.0/8\n"), "DestinationIp", "11.2.3.4", NULL));
    ck_assert(det_matches(SEL("    DestinationIp|cidr: 192.168.1.128/25\n"), "DestinationIp", "192.168.1.200", NULL));
    ck_assert(!det_matches(SEL("    DestinationIp|cidr: 192.168.1.128/25\n"), "DestinationIp", "192.168.1.100", NULL));
    ck_assert(det_matches(SEL("    DestinationIp|cidr: 'fe80::/10'\n"), "DestinationIp", "fe80::1", NULL));
    ck_assert(!det_matches(SEL("    DestinationIp|cidr: 'fe80::/10'\n"), "DestinationIp", "10.0.0.1", NULL));
    ck_assert(!det_matches(SEL("    DestinationIp|cidr: 10.0.0.0/8\n"), "DestinationIp", "not an ip", NULL));
}
END_TEST

START_TEST(test_numeric_comparisons)
{
    struct rule_set *rs = rule_ok(RULE_HEAD "detection:\n"
                                  "  a:\n    N|lt: 10\n  b:\n    N|lte: 10\n"
                                  "  c:\n    N|gt: 10\n  d:\n    N|gte: 10\n"
                                  "  condition: a and b and not c and not d\n");
    struct tev t;
    tev_init(&t);
    tev_int(&t, "N", 9);
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    tev_free(&t);
    tev_init(&t);
    tev_int(&t, "N", 10);
    ck_assert_int_eq(match_count(rs, &t.ev), 0);
    tev_free(&t);
    rule_set_unref(rs);
    /* numeric strings compare as numbers; others do not match */
    ck_assert(det_matches(SEL("    N|gte: 1000\n"), "N", "1024", NULL));
    ck_assert(!det_matches(SEL("    N|gte: 1000\n"), "N", "999", NULL));
    ck_assert(!det_matches(SEL("    N|gte: 1000\n"), "N", "abc", NULL));
    ck_assert(det_matches(SEL("    N|lt: 0x20\n"), "N", "0x10", NULL));
}
END_TEST

START_TEST(test_numbers_and_strings_compare_as_strings)
{
    struct rule_set *rs = rule_ok(RULE_HEAD "detection:\n" SEL("    EventID: 4688\n"));
    struct tev t;
    tev_init(&t);
    tev_int(&t, "EventID", 4688);
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    tev_free(&t);
    rule_set_unref(rs);
    ck_assert(det_matches(SEL("    EventID: 4688\n"), "EventID", "4688", NULL));
    /* a quoted number is a string: it still equals the integer's text */
    rs = rule_ok(RULE_HEAD "detection:\n" SEL("    EventID: '4688'\n"));
    tev_init(&t);
    tev_int(&t, "EventID", 4688);
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    tev_free(&t);
    rule_set_unref(rs);
    /* a number with a wildcard is a string pattern */
    rs = rule_ok(RULE_HEAD "detection:\n" SEL("    EventID: '46*'\n"));
    tev_init(&t);
    tev_int(&t, "EventID", 4688);
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    tev_free(&t);
    rule_set_unref(rs);
    ck_assert(!det_matches(SEL("    EventID: 4688\n"), "EventID", "04688", NULL));
}
END_TEST

/* An integer field is seen as the text "%lld" prints: zero, negatives and
 * both ends of int64 included (rules/match.c formats it without printf). */
START_TEST(test_integer_fields_match_their_decimal_text)
{
    static const struct {
        int64_t v;
        const char *text;
    } cases[] = {{0, "0"},
                 {7, "7"},
                 {-1, "-1"},
                 {4688, "4688"},
                 {-4688, "-4688"},
                 {INT64_MAX, "9223372036854775807"},
                 {INT64_MIN, "-9223372036854775808"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char sel[128];
        snprintf(sel, sizeof(sel), "    N: '%s'\n", cases[i].text);
        char text[512];
        snprintf(text, sizeof(text), "%sdetection:\n  selection:\n%s  condition: selection\n",
                 RULE_HEAD, sel);
        struct rule_set *rs = rule_ok(text);
        struct tev t;
        tev_init(&t);
        tev_int(&t, "N", cases[i].v);
        ck_assert_msg(match_count(rs, &t.ev) == 1, "%s", cases[i].text);
        tev_free(&t);
        tev_init(&t);
        tev_int(&t, "N", cases[i].v == 7 ? 8 : 7);
        ck_assert_int_eq(match_count(rs, &t.ev), 0);
        tev_free(&t);
        rule_set_unref(rs);
    }
}
END_TEST

START_TEST(test_neq_excludes_values)
{
    ck_assert(det_matches(SEL("    Name|neq: 'a'\n"), "Name", "b", NULL));
    ck_assert(!det_matches(SEL("    Name|neq: 'a'\n"), "Name", "A", NULL));
    ck_assert(!det_matches(SEL("    Name|neq:\n      - a\n      - b\n"), "Name", "b", NULL));
    ck_assert(det_matches(SEL("    Name|neq:\n      - a\n      - b\n"), "Name", "c", NULL));
}
END_TEST

START_TEST(test_fieldref_compares_two_fields)
{
    const char *det = SEL("    ParentUser|fieldref: User\n");
    ck_assert(det_matches(det, "ParentUser", "alice", "User", "ALICE", NULL));
    ck_assert(!det_matches(det, "ParentUser", "alice", "User", "bob", NULL));
    ck_assert(!det_matches(det, "ParentUser", "alice", NULL));
    ck_assert(det_matches(SEL("    A|fieldref|startswith: B\n"), "A", "abcdef", "B", "ABC", NULL));
    ck_assert(det_matches(SEL("    A|fieldref|neq: B\n"), "A", "x", "B", "y", NULL));
    ck_assert(!det_matches(SEL("    A|fieldref|neq: B\n"), "A", "x", "B", "x", NULL));
}
END_TEST

START_TEST(test_expand_uses_configured_placeholders)
{
    static const char *const admins[] = {"adm_*", "root"};
    struct rule_placeholder ph = {.name = "Administrators", .values = admins, .nvalues = 2};
    const char *text = RULE_HEAD "detection:\n" SEL("    User|expand: '%Administrators%'\n");
    struct rule_load_opts o = {.buf = text, .buf_len = strlen(text), .buf_name = "t.yml",
                               .placeholders = &ph, .nplaceholders = 1};
    struct rule_set *rs = NULL;
    struct rule_report rep;
    struct ts_err err = {0};
    ck_assert_int_eq(rule_set_load(&rs, &o, &rep, &err), 0);
    ck_assert_uint_eq(rep.ok, 1);
    struct tev t;
    tev_init(&t);
    tev_str(&t, "User", "ADM_bob");
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    tev_free(&t);
    tev_init(&t);
    tev_str(&t, "User", "bob");
    ck_assert_int_eq(match_count(rs, &t.ev), 0);
    tev_free(&t);
    rule_report_free(&rep);
    rule_set_unref(rs);
    /* without a configured value the rule is refused, naming the placeholder */
    char buf[600];
    ck_assert_str_eq(rule_problem(text, buf, sizeof(buf)),
                     "8:18: unsupported: placeholder %Administrators% has no values configured "
                     "(modifier expand)");
    /* without expand, %name% is a literal */
    ck_assert(det_matches(SEL("    User: '%Administrators%'\n"), "User", "%administrators%", NULL));
}
END_TEST

START_TEST(test_time_modifiers_extract_date_parts)
{
    ck_assert(det_matches(SEL("    T|hour: 23\n"), "T", "2024-05-06T23:15:00Z", NULL));
    ck_assert(!det_matches(SEL("    T|hour: 22\n"), "T", "2024-05-06T23:15:00Z", NULL));
    ck_assert(det_matches(SEL("    T|minute|gte: 10\n"), "T", "2024-05-06 23:15:00", NULL));
    ck_assert(det_matches(SEL("    T|day: 6\n"), "T", "2024-05-06T23:15:00Z", NULL));
    ck_assert(det_matches(SEL("    T|month: 5\n"), "T", "2024-05-06", NULL));
    ck_assert(det_matches(SEL("    T|year: 2024\n"), "T", "2024-05-06", NULL));
    ck_assert(det_matches(SEL("    T|week: 19\n"), "T", "2024-05-06", NULL));
}
END_TEST

START_TEST(test_field_aliases_from_options)
{
    struct rule_field_alias al = {.sigma_name = "Image", .event_name = "process.executable"};
    const char *text = RULE_HEAD "detection:\n" SEL("    Image|endswith: '\\cmd.exe'\n");
    struct rule_load_opts o = {.buf = text, .buf_len = strlen(text), .buf_name = "t.yml",
                               .aliases = &al, .naliases = 1};
    struct rule_set *rs = NULL;
    struct rule_report rep;
    struct ts_err err = {0};
    ck_assert_int_eq(rule_set_load(&rs, &o, &rep, &err), 0);
    struct tev t;
    tev_init(&t);
    tev_str(&t, "process.executable", "C:\\Windows\\cmd.exe");
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    tev_free(&t);
    rule_report_free(&rep);
    rule_set_unref(rs);
}
END_TEST

START_TEST(test_list_valued_event_field_matches_any_item)
{
    struct rule_set *rs = rule_ok(RULE_HEAD "detection:\n" SEL("    Tags|contains: evil\n"));
    struct tev t;
    tev_init(&t);
    struct ts_value *items = ts_arena_alloc(t.arena, 2 * sizeof(*items));
    items[0] = ts_v_str("good", 4);
    items[1] = ts_v_str("very-EVIL", 9);
    struct ts_value lv = {.type = TS_V_LIST, .len = 2};
    lv.u.items = items;
    ck_assert_int_eq(ts_event_add(&t.ev, "Tags", 4, &lv), 0);
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    tev_free(&t);
    rule_set_unref(rs);
}
END_TEST

START_TEST(test_values_are_length_delimited_not_nul_terminated)
{
    struct rule_set *rs = rule_ok(RULE_HEAD "detection:\n" SEL("    Image|endswith: '.exe'\n"));
    struct tev t;
    tev_init(&t);
    tev_strn(&t, "Image", "a.exeXYZ", 5); /* "a.exe" without a NUL after it */
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    tev_free(&t);
    rule_set_unref(rs);
}
END_TEST

/* Case folding is ASCII only, 16 bytes at a time and byte by byte for the
 * tail: the letters next to A-Z ('@', '[', '`', '{') and UTF-8 bytes keep
 * their values, wherever they fall in a long value. */
START_TEST(test_case_folding_is_ascii_only_in_long_values)
{
    const char *v = "XX@AZ[`az{\xC3\x80\xC3\x9A~ZZ@QQ@AZ[`AZ{\xC3\x80~Zz@";
    ck_assert(det_matches("  sel:\n    CommandLine|contains: '@az[`az{\xC3\x80\xC3\x9A~zz@qq'\n"
                          "  condition: sel\n", "CommandLine", v, NULL));
    ck_assert(det_matches("  sel:\n    CommandLine|endswith: 'qq@az[`az{\xC3\x80~zz@'\n"
                          "  condition: sel\n", "CommandLine", v, NULL));
    ck_assert(!det_matches("  sel:\n    CommandLine|contains: '@az[`az{\xC3\xA0'\n"
                           "  condition: sel\n", "CommandLine", v, NULL));
    ck_assert(!det_matches("  sel:\n    CommandLine|contains: '{az'\n"
                           "  condition: sel\n", "CommandLine", v, NULL));
    ck_assert(!det_matches("  sel:\n    CommandLine|contains: '`az`'\n"
                           "  condition: sel\n", "CommandLine", v, NULL));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("rules_modifiers");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_plain_value_is_exact_and_case_insensitive);
    tcase_add_test(tc, test_contains_matches_anywhere);
    tcase_add_test(tc, test_startswith_and_endswith_anchor_one_side);
    tcase_add_test(tc, test_value_list_is_or_and_all_makes_it_and);
    tcase_add_test(tc, test_wildcards_star_and_question_mark);
    tcase_add_test(tc, test_escaped_wildcards_are_literal);
    tcase_add_test(tc, test_empty_value_matches_only_empty_string);
    tcase_add_test(tc, test_null_matches_absent_or_null_field);
    tcase_add_test(tc, test_exists_true_and_false);
    tcase_add_test(tc, test_cased_is_case_sensitive);
    tcase_add_test(tc, test_re_is_case_sensitive_search_with_flags);
    tcase_add_test(tc, test_base64_encodes_the_value);
    tcase_add_test(tc, test_base64offset_finds_all_three_alignments);
    tcase_add_test(tc, test_utf16_variants_encode_then_base64);
    tcase_add_test(tc, test_windash_expands_all_dash_characters);
    tcase_add_test(tc, test_cidr_matches_v4_and_v6_networks);
    tcase_add_test(tc, test_numeric_comparisons);
    tcase_add_test(tc, test_numbers_and_strings_compare_as_strings);
    tcase_add_test(tc, test_integer_fields_match_their_decimal_text);
    tcase_add_test(tc, test_neq_excludes_values);
    tcase_add_test(tc, test_fieldref_compares_two_fields);
    tcase_add_test(tc, test_expand_uses_configured_placeholders);
    tcase_add_test(tc, test_time_modifiers_extract_date_parts);
    tcase_add_test(tc, test_field_aliases_from_options);
    tcase_add_test(tc, test_list_valued_event_field_matches_any_item);
    tcase_add_test(tc, test_values_are_length_delimited_not_nul_terminated);
    tcase_add_test(tc, test_case_folding_is_ascii_only_in_long_values);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
