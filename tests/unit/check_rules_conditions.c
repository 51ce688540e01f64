/* check_rules_conditions.c - the condition grammar (and, or, not,
 * parentheses, precedence, "1 of"/"all of" patterns and them, condition
 * lists), selection shapes (maps, lists of maps, keywords), logsource
 * routing, filter rules, and every example the specification gives. */
#include "check_rules_util.h"

/* Fields a=1 b=1 c=0 d=0: s_a, s_b match, s_c, s_d do not. */
static bool cond_is(const char *cond)
{
    char det[2048];
    snprintf(det, sizeof(det),
             "  s_a:\n    A: '1'\n  s_b:\n    B: '1'\n  s_c:\n    C: '1'\n  s_d:\n    D: '1'\n"
             "  condition: %s\n", cond);
    return det_matches(det, "A", "1", "B", "1", "C", "0", "D", "0", NULL);
}

START_TEST(test_and_or_not)
{
    ck_assert(cond_is("s_a and s_b"));
    ck_assert(!cond_is("s_a and s_c"));
    ck_assert(cond_is("s_a or s_c"));
    ck_assert(!cond_is("s_c or s_d"));
    ck_assert(cond_is("not s_c"));
    ck_assert(!cond_is("not s_a"));
    ck_assert(cond_is("s_a and not s_c"));
    ck_assert(cond_is("not not s_a"));
    ck_assert(cond_is("s_a AND s_b")); /* keywords are case-insensitive, identifiers not */
}
END_TEST

START_TEST(test_precedence_not_over_and_over_or)
{
    /* or binds least: s_c and s_d or s_a == (s_c and s_d) or s_a */
    ck_assert(cond_is("s_c and s_d or s_a"));
    ck_assert(!cond_is("s_c and (s_d or s_a)"));
    /* not binds tighter than and */
    ck_assert(!cond_is("not s_a and s_c"));
    ck_assert(cond_is("not (s_a and s_c)"));
    ck_assert(cond_is("((s_a))"));
}
END_TEST

START_TEST(test_one_of_and_all_of_patterns)
{
    ck_assert(cond_is("1 of s_*"));
    ck_assert(!cond_is("all of s_*"));
    ck_assert(cond_is("all of s_a* and not 1 of s_c*"));
    ck_assert(cond_is("any of s_*"));
    ck_assert(cond_is("1 of s_c* or all of s_a*"));
    ck_assert(cond_is("1 of *_b"));
}
END_TEST

START_TEST(test_them_covers_identifiers_not_starting_with_underscore)
{
    const char *det = "  sel1:\n    A: '1'\n  _aux:\n    Z: '1'\n  condition: all of them\n";
    ck_assert(det_matches(det, "A", "1", NULL)); /* _aux is not required */
    const char *det2 = "  sel1:\n    A: '1'\n  sel2:\n    B: '1'\n  condition: 1 of them\n";
    ck_assert(det_matches(det2, "B", "1", NULL));
    ck_assert(!det_matches(det2, "C", "1", NULL));
    const char *det3 = "  sel1:\n    A: '1'\n  sel2:\n    B: '1'\n  condition: all of them\n";
    ck_assert(!det_matches(det3, "B", "1", NULL));
    ck_assert(det_matches(det3, "A", "1", "B", "1", NULL));
}
END_TEST

START_TEST(test_condition_list_is_or)
{
    const char *det = "  a:\n    A: '1'\n  b:\n    B: '1'\n  condition:\n    - a\n    - b\n";
    ck_assert(det_matches(det, "B", "1", NULL));
    ck_assert(!det_matches(det, "C", "1", NULL));
}
END_TEST

START_TEST(test_list_of_maps_is_or_of_ands)
{
    const char *det = "  selection:\n    - Image|endswith: '\\example.exe'\n"
                      "    - Description|contains: 'Test executable'\n      Product: X\n"
                      "  condition: selection\n";
    ck_assert(det_matches(det, "Image", "c:\\example.exe", NULL));
    ck_assert(!det_matches(det, "Description", "a Test executable", NULL));
    ck_assert(det_matches(det, "Description", "a Test executable", "Product", "x", NULL));
}
END_TEST

START_TEST(test_keywords_search_message_fields_and_raw)
{
    const char *det = "  keywords:\n    - 'event::clear'\n    - 'event::drop'\n  condition: keywords\n";
    ck_assert(det_matches(det, "message", "mimikatz EVENT::Clear done", NULL));
    ck_assert(det_matches(det, "Message", "x event::drop", NULL));
    ck_assert(det_matches(det, "raw", "x event::drop", NULL));
    ck_assert(!det_matches(det, "message", "nothing", NULL));
    ck_assert(!det_matches(det, "Other", "event::drop", NULL)); /* other fields are not searched */
    /* without any message field: the raw bytes of the event */
    char text[1024];
    snprintf(text, sizeof(text), RULE_HEAD "detection:\n%s", det);
    struct rule_set *rs = rule_ok(text);
    struct tev t;
    tev_init(&t);
    t.ev.raw = "{\"x\":\"event::drop\"}";
    t.ev.raw_len = (uint32_t)strlen(t.ev.raw);
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    tev_free(&t);
    rule_set_unref(rs);
}
END_TEST

START_TEST(test_keywords_all_needs_every_value)
{
    const char *det = "  keywords_cmdlet:\n    '|all':\n      - 'OabVirtualDirectory'\n"
                      "      - ' -ExternalUrl '\n  condition: keywords_cmdlet\n";
    ck_assert(det_matches(det, "message", "Set-OabVirtualDirectory -ExternalUrl x", NULL));
    ck_assert(!det_matches(det, "message", "Set-OabVirtualDirectory", NULL));
}
END_TEST

START_TEST(test_logsource_routing)
{
    struct rule_set *rs = rule_ok(RULE_HEAD "detection:\n  s:\n    A: '1'\n  condition: s\n");
    struct tev t;
    tev_init(&t);
    tev_str(&t, "A", "1");
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    t.ev.logsource.category = "PROCESS_CREATION"; /* case-insensitive */
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    t.ev.logsource.category = "network_connection";
    ck_assert_int_eq(match_count(rs, &t.ev), 0);
    t.ev.logsource.category = NULL;
    ck_assert_int_eq(match_count(rs, &t.ev), 0);
    tev_free(&t);
    rule_set_unref(rs);
    /* a rule without category applies to every category of its product */
    rs = rule_ok("title: t\nlogsource:\n  product: windows\ndetection:\n  s:\n    A: '1'\n"
                 "  condition: s\n");
    tev_init(&t);
    tev_str(&t, "A", "1");
    t.ev.logsource.category = "anything";
    t.ev.logsource.service = "sysmon";
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    t.ev.logsource.product = "linux";
    ck_assert_int_eq(match_count(rs, &t.ev), 0);
    tev_free(&t);
    rule_set_unref(rs);
    /* registry_event covers the specific registry categories */
    rs = rule_ok("title: t\nlogsource:\n  product: windows\n  category: registry_event\n"
                 "detection:\n  s:\n    A: '1'\n  condition: s\n");
    tev_init(&t);
    tev_str(&t, "A", "1");
    t.ev.logsource.category = "registry_set";
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    tev_free(&t);
    rule_set_unref(rs);
}
END_TEST

START_TEST(test_filter_rule_excludes_from_named_rules)
{
    const char *text =
        "title: Data Compressed\nid: 6f3e2987-db24-4c78-a860-b4f4095a7095\n"
        "logsource:\n  category: process_creation\n  product: windows\n"
        "detection:\n  selection:\n    Image|endswith: '\\rar.exe'\n  condition: selection\n"
        "---\n"
        "title: Other\nid: 00000000-0000-0000-0000-000000000001\n"
        "logsource:\n  category: process_creation\n  product: windows\n"
        "detection:\n  selection:\n    Image|endswith: '\\rar.exe'\n  condition: selection\n"
        "---\n"
        "title: Filter Administrator account\n"
        "description: The valid administrator account start with adm_\n"
        "logsource:\n  category: process_creation\n  product: windows\n"
        "filter:\n  rules:\n    - 6f3e2987-db24-4c78-a860-b4f4095a7095\n"
        "    - df0841c0-9846-4e9f-ad8a-7df91571771b\n"
        "  selection:\n    User|startswith: 'adm_'\n  condition: selection\n";
    struct rule_set *rs = rule_ok(text);
    ck_assert_uint_eq(last_report.filters, 1);
    ck_assert_uint_eq(rule_set_count(rs), 2);
    struct tev t;
    tev_init(&t);
    tev_str(&t, "Image", "C:\\rar.exe");
    tev_str(&t, "User", "adm_bob");
    ck_assert_int_eq(match_count(rs, &t.ev), 1); /* only the rule not named by the filter */
    tev_free(&t);
    tev_init(&t);
    tev_str(&t, "Image", "C:\\rar.exe");
    tev_str(&t, "User", "bob");
    ck_assert_int_eq(match_count(rs, &t.ev), 2);
    tev_free(&t);
    ck_assert_uint_eq(rule_set_info(rs, 0)->nfilters, 1);
    rule_set_unref(rs);
}
END_TEST

START_TEST(test_correlation_documents_are_kept_for_correlate)
{
    const char *text =
        "title: a\nname: recon_cmd_a\nlogsource:\n  category: process_creation\n  product: windows\n"
        "detection:\n  s:\n    Image|endswith: '\\whoami.exe'\n  condition: s\n"
        "---\n"
        "title: Recon\ncorrelation:\n  type: temporal\n  rules:\n    - recon_cmd_a\n"
        "  group-by:\n    - ComputerName\n  timespan: 5m\n";
    struct rule_set *rs = rule_ok(text);
    ck_assert_uint_eq(rule_set_correlation_count(rs), 1);
    const struct rule_info *info = NULL;
    const struct ts_ynode *n = rule_set_correlation(rs, 0, &info);
    ck_assert_ptr_nonnull(n);
    ck_assert_str_eq(info->title, "Recon");
    ck_assert_ptr_nonnull(ts_yaml_get(n, "correlation"));
    ck_assert_int_eq(rule_set_find(rs, "recon_cmd_a"), 0);
    rule_set_unref(rs);
}
END_TEST

/* ---------------------------------------------------- the spec's examples */

START_TEST(test_spec_map_example_eventlog_and_eventid_list)
{
    const char *det = "  selection:\n    EventLog: Security\n    EventID:\n      - 517\n      - 1102\n"
                      "  condition: selection\n";
    ck_assert(det_matches(det, "EventLog", "Security", "EventID", "1102", NULL));
    ck_assert(!det_matches(det, "EventLog", "Security", "EventID", "4624", NULL));
    ck_assert(!det_matches(det, "EventLog", "System", "EventID", "517", NULL));
}
END_TEST

START_TEST(test_spec_map_example_ticket_options)
{
    const char *det = "  selection:\n    EventLog: Security\n    EventID: 4769\n"
                      "    TicketOptions: '0x40810000'\n    TicketEncryption: '0x17'\n"
                      "  condition: selection\n";
    ck_assert(det_matches(det, "EventLog", "Security", "EventID", "4769", "TicketOptions",
                          "0x40810000", "TicketEncryption", "0x17", NULL));
    ck_assert(!det_matches(det, "EventLog", "Security", "EventID", "4769", "TicketOptions",
                           "0x40810000", "TicketEncryption", "0x12", NULL));
}
END_TEST

START_TEST(test_spec_list_of_strings_example)
{
    const char *det = "  keywords:\n    - 'EVILSERVICE'\n    - 'svchost.exe -n evil'\n"
                      "  condition: keywords\n";
    ck_assert(det_matches(det, "message", "service EvilService started", NULL));
    ck_assert(det_matches(det, "message", "svchost.exe -n evil", NULL));
    ck_assert(!det_matches(det, "message", "svchost.exe -n good", NULL));
}
END_TEST

START_TEST(test_spec_null_example_password_last_set)
{
    const char *det = "  selection:\n    EventID: 4738\n  filter:\n    PasswordLastSet: null\n"
                      "  condition: selection and not filter\n";
    ck_assert(det_matches(det, "EventID", "4738", "PasswordLastSet", "x", NULL));
    ck_assert(!det_matches(det, "EventID", "4738", NULL));
}
END_TEST

START_TEST(test_spec_valid_empty_and_null_example)
{
    const char *det = "  selection_main:\n    FieldA: 'something'\n"
                      "  selection_empty1:\n    FieldB: ''\n"
                      "  selection_empty2:\n    FieldB: null\n"
                      "  condition: selection_main and 1 of selection_empty*\n";
    ck_assert(det_matches(det, "FieldA", "something", "FieldB", "", NULL));
    ck_assert(det_matches(det, "FieldA", "something", NULL));
    ck_assert(!det_matches(det, "FieldA", "something", "FieldB", "x", NULL));
}
END_TEST

START_TEST(test_spec_invalid_null_in_list_example)
{
    char buf[600];
    ck_assert_str_eq(rule_problem(RULE_HEAD "detection:\n  selection_main:\n    FieldA: 'something'\n"
                                  "    FieldB:\n      - ''\n      - null\n"
                                  "  condition: selection_main\n", buf, sizeof(buf)),
                     "11:9: invalid: null cannot be part of a list of values; use a separate selection");
}
END_TEST

START_TEST(test_spec_exists_example)
{
    const char *det = "  selection:\n    EventID: 4738\n    PasswordLastSet|exists: true\n"
                      "  condition: selection\n";
    ck_assert(det_matches(det, "EventID", "4738", "PasswordLastSet", "", NULL));
    ck_assert(!det_matches(det, "EventID", "4738", NULL));
}
END_TEST

START_TEST(test_spec_wildcard_examples)
{
    ck_assert(det_matches("  s:\n    F: 'prog?.exe'\n  condition: s\n", "F", "progB.exe", NULL));
    ck_assert(det_matches("  s:\n    F: 'antivirus_V*.exe'\n  condition: s\n", "F", "antivirus_V1.exe", NULL));
    ck_assert(det_matches("  s:\n    F: '*something'\n  condition: s\n", "F", "xsomething", NULL));
    ck_assert(det_matches("  s:\n    F: 'something*'\n  condition: s\n", "F", "somethingx", NULL));
    ck_assert(det_matches("  s:\n    F: '*something*'\n  condition: s\n", "F", "xsomethingx", NULL));
    ck_assert(!det_matches("  s:\n    F: 'something*'\n  condition: s\n", "F", "xsomething", NULL));
}
END_TEST

START_TEST(test_spec_condition_examples)
{
    const char *sels = "  selection1:\n    A: '1'\n  selection2:\n    B: '1'\n"
                       "  keywords1:\n    - 'k1'\n  keywords2:\n    - 'k2'\n"
                       "  filter1:\n    C: '1'\n";
    char det[1024];
    snprintf(det, sizeof(det), "%s  condition: keywords1 or keywords2\n", sels);
    ck_assert(det_matches(det, "message", "k2", NULL));
    snprintf(det, sizeof(det), "%s  condition: 1 of selection* and keywords1\n", sels);
    ck_assert(det_matches(det, "B", "1", "message", "k1", NULL));
    ck_assert(!det_matches(det, "B", "1", "message", "k2", NULL));
    snprintf(det, sizeof(det), "%s  condition: 1 of selection* and not 1 of filter*\n", sels);
    ck_assert(det_matches(det, "A", "1", NULL));
    ck_assert(!det_matches(det, "A", "1", "C", "1", NULL));
    snprintf(det, sizeof(det), "%s  condition: selection1 and (keywords1 or keywords2)\n", sels);
    ck_assert(det_matches(det, "A", "1", "message", "k2", NULL));
    snprintf(det, sizeof(det), "%s  condition: all of selection*\n", sels);
    ck_assert(!det_matches(det, "A", "1", NULL));
    ck_assert(det_matches(det, "A", "1", "B", "1", NULL));
}
END_TEST

START_TEST(test_spec_schema_rule_example_loads_with_metadata)
{
    TS_NEED_CORPUS(TS_CORPUS_SPEC, "tests/schema");
    char path[600];
    snprintf(path, sizeof(path), "%s/tests/schema/rules/rule_1.yml", ts_test_spec_dir());
    const char *paths[1] = {path};
    struct rule_load_opts o = {.paths = paths, .npaths = 1};
    struct rule_set *rs = NULL;
    struct rule_report rep;
    struct ts_err err = {0};
    ck_assert_int_eq(rule_set_load(&rs, &o, &rep, &err), 0);
    ck_assert_uint_eq(rep.ok, 1);
    const struct rule_info *in = rule_set_info(rs, 0);
    ck_assert_str_eq(in->id, "545a5da6-f103-4919-a519-e9aec1026ee4");
    ck_assert_str_eq(in->author, "SomeOne");
    ck_assert_str_eq(in->level, "high");
    ck_assert_str_eq(in->service, "application");
    ck_assert_uint_eq(in->ntags, 3);
    ck_assert_str_eq(in->tags[1], "attack.t1211");
    ck_assert_uint_eq(in->nreferences, 2);
    ck_assert_uint_eq(in->nrelated, 1);
    ck_assert_str_eq(in->related[0].type, "similar");
    struct tev t;
    tev_init(&t);
    t.ev.logsource.category = NULL;
    t.ev.logsource.service = "application";
    tev_str(&t, "Provider_Name", "Application Error");
    ck_assert_int_eq(match_count(rs, &t.ev), 1);
    tev_free(&t);
    rule_report_free(&rep);
    rule_set_unref(rs);
}
END_TEST

START_TEST(test_spec_schema_filter_and_correlation_examples_load)
{
    TS_NEED_CORPUS(TS_CORPUS_SPEC, "tests/schema");
    static const char *const files[] = {"filter/filter_1.yml", "correlation/event_count.yml",
                                        "correlation/temporal_ordered.yml",
                                        "correlation/value_percentile.yml"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[600];
        snprintf(path, sizeof(path), "%s/tests/schema/%s", ts_test_spec_dir(), files[i]);
        const char *paths[1] = {path};
        struct rule_load_opts o = {.paths = paths, .npaths = 1};
        struct rule_set *rs = NULL;
        struct rule_report rep;
        struct ts_err err = {0};
        ck_assert_int_eq(rule_set_load(&rs, &o, &rep, &err), 0);
        ck_assert_uint_eq(rep.rules, 1);
        /* a filter loads alone; a correlation naming rules that are not
         * loaded is reported, never silently dropped */
        if (i == 0)
            ck_assert_uint_eq(rep.filters, 1);
        else
            ck_assert_msg(rep.nproblems == 1 && strstr(rep.problems[0].msg, "which is not loaded"),
                          "%s", files[i]);
        rule_report_free(&rep);
        rule_set_unref(rs);
    }
}
END_TEST

START_TEST(test_explain_names_selections_and_values)
{
    struct rule_set *rs = rule_ok(RULE_HEAD "detection:\n  selection:\n    Image|endswith: '\\cmd.exe'\n"
                                  "  filter:\n    User: SYSTEM\n  condition: selection and not filter\n");
    struct tev t;
    tev_init(&t);
    tev_str(&t, "Image", "C:\\cmd.exe");
    tev_str(&t, "User", "bob");
    struct rule_scratch *s = NULL;
    ck_assert_int_eq(rule_scratch_create(&s, rs), 0);
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(rule_explain(rs, s, 0, &t.ev, &b), 0);
    ck_assert_str_eq(b.data,
                     "{\"rule\":{\"id\":\"11111111-2222-3333-4444-555555555555\",\"title\":\"t\"},"
                     "\"matched\":true,\"selections\":[{\"name\":\"selection\",\"matched\":true,"
                     "\"fields\":[{\"key\":\"Image|endswith\",\"field\":\"Image\",\"value\":"
                     "\"C:\\\\cmd.exe\",\"pattern\":\"\\\\cmd.exe\"}]},{\"name\":\"filter\","
                     "\"matched\":false}]}");
    ts_buf_free(&b);
    rule_scratch_free(s);
    tev_free(&t);
    rule_set_unref(rs);
}
END_TEST


/* rule_explain_miss for rule 0 of rs on t: the JSON, checked for every needle. */
static void miss_has(struct rule_set *rs, struct tev *t, const char *const *needles)
{
    struct rule_scratch *s = NULL;
    ck_assert_int_eq(rule_scratch_create(&s, rs), 0);
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(rule_explain_miss(rs, s, 0, &t->ev, &b), 0);
    for (size_t i = 0; needles[i]; i++)
        ck_assert_msg(strstr(b.data, needles[i]), "%s not in %s", needles[i], b.data);
    ts_buf_free(&b);
    rule_scratch_free(s);
}

START_TEST(test_explain_miss_names_failing_selection_field_and_value)
{
    struct rule_set *rs = rule_ok(RULE_HEAD "detection:\n  sel_img:\n    Image|endswith: '\\cmd.exe'\n"
                                  "  sel_user:\n    User: [admin, root]\n    Port: 22\n"
                                  "  condition: sel_img and sel_user\n");
    struct tev t;
    tev_init(&t);
    tev_str(&t, "Image", "C:\\cmd.exe");
    tev_str(&t, "User", "bob");
    tev_str(&t, "Port", "22");
    t.ev.logsource.category = "process_creation";
    t.ev.logsource.product = "windows";
    miss_has(rs, &t, (const char *const[]){
        "\"matched\":false", "\"applies\":true", "\"selection\":\"sel_user\"",
        "\"failed\":{\"key\":\"User\",\"field\":\"User\",\"value\":\"bob\","
        "\"expected\":[\"admin\",\"root\"]}",
        "selection \\\"sel_user\\\" failed: User is \\\"bob\\\", which does not match User "
        "\\\"admin\\\" | \\\"root\\\"", NULL});
    tev_free(&t);
    /* a field the event lacks */
    tev_init(&t);
    tev_str(&t, "User", "root");
    t.ev.logsource.category = "process_creation";
    t.ev.logsource.product = "windows";
    miss_has(rs, &t, (const char *const[]){
        "\"selection\":\"sel_img\"", "\"absent\":true",
        "the event has no field Image (key Image|endswith)", NULL});
    tev_free(&t);
    /* a NOT-ed selection that matched */
    rule_set_unref(rs);
    rs = rule_ok(RULE_HEAD "detection:\n  sel:\n    A: '1'\n  filter:\n    B: '1'\n"
                           "  condition: sel and not filter\n");
    tev_init(&t);
    tev_str(&t, "A", "1");
    tev_str(&t, "B", "1");
    t.ev.logsource.category = "process_creation";
    t.ev.logsource.product = "windows";
    miss_has(rs, &t, (const char *const[]){
        "\"selection\":\"filter\"",
        "selection \\\"filter\\\" matched, which the condition excludes", NULL});
    tev_free(&t);
    rule_set_unref(rs);
}
END_TEST

START_TEST(test_explain_miss_says_logsource_does_not_apply)
{
    struct rule_set *rs = rule_ok(RULE_HEAD "detection:\n  s:\n    A: '1'\n  condition: s\n");
    struct tev t;
    tev_init(&t);
    tev_str(&t, "A", "1");
    t.ev.logsource.product = "linux";
    t.ev.logsource.category = NULL;
    t.ev.logsource.service = "sshd";
    miss_has(rs, &t, (const char *const[]){
        "\"applies\":false", "\"event\":{\"product\":\"linux\",\"service\":\"sshd\"}",
        "logsource does not apply: the rule is for product=windows category=process_creation; the event "
        "has product=linux service=sshd", NULL});
    tev_free(&t);
    tev_init(&t);
    tev_str(&t, "A", "1");
    t.ev.logsource.category = NULL;
    t.ev.logsource.product = NULL;
    miss_has(rs, &t, (const char *const[]){
        "the event has no logsource (no decoder or profile set one)", NULL});
    /* and when it matches, it says so */
    t.ev.logsource.category = "process_creation";
    t.ev.logsource.product = "windows";
    miss_has(rs, &t, (const char *const[]){"\"matched\":true", "\"why\":\"matched\"", NULL});
    tev_free(&t);
    rule_set_unref(rs);
}
END_TEST

/* One scratch matches events of changing logsources: the route of the last
 * logsource is reused only when category, service and product are the
 * same bytes (routing itself is case-insensitive). Each result equals a
 * fresh scratch's. */
START_TEST(test_routing_follows_each_events_logsource_through_one_scratch)
{
#define LS_RULE(id, ls)                                                                            \
    "title: r" id "\nid: 00000000-0000-0000-0000-00000000000" id "\nlogsource:\n" ls              \
    "detection:\n  s:\n    F|contains: abc\n  condition: s\n"
    const char *text = LS_RULE("1", "  product: windows\n  category: process_creation\n")
        "---\n" LS_RULE("2", "  product: windows\n  category: file_event\n")
        "---\n" LS_RULE("3", "  product: windows\n  service: security\n")
        "---\n" LS_RULE("4", "  product: linux\n")
        "---\n" LS_RULE("5", "  product: windows\n  category: registry_event\n");
#undef LS_RULE
    struct rule_set *rs = rule_ok(text);
    struct rule_scratch *sc = NULL;
    ck_assert_int_eq(rule_scratch_create(&sc, rs), 0);
    static const struct {
        const char *product, *category, *service;
        int want;
    } ls[] = {
        {"windows", "process_creation", NULL, 1},   {"windows", "process_creation", NULL, 1},
        {"windows", "file_event", NULL, 1},         {"windows", NULL, "security", 1},
        {"windows", "process_creation", "security", 2}, {"linux", "process_creation", NULL, 1},
        {"Windows", "Process_Creation", NULL, 1},   {"windows", "registry_set", NULL, 1},
        {"windows", "registry_sets", NULL, 0},      {NULL, "process_creation", NULL, 0},
        {"windows", "process_creation", NULL, 1},   {"windows", NULL, NULL, 0},
    };
    for (size_t i = 0; i < TS_ARRAY_LEN(ls); i++) {
        struct tev t;
        tev_init(&t);
        t.ev.logsource.product = ls[i].product;
        t.ev.logsource.category = ls[i].category;
        t.ev.logsource.service = ls[i].service;
        tev_str(&t, "F", "xabcx");
        int n = 0;
        ck_assert_int_eq(rule_match(rs, sc, &t.ev, count_cb, &n), 0);
        ck_assert_msg(n == ls[i].want, "event %zu: %d matches, want %d", i, n, ls[i].want);
        ck_assert_int_eq(match_count(rs, &t.ev), n);
        tev_free(&t);
    }
    rule_scratch_free(sc);
    rule_set_unref(rs);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("rules_conditions");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_and_or_not);
    tcase_add_test(tc, test_routing_follows_each_events_logsource_through_one_scratch);
    tcase_add_test(tc, test_precedence_not_over_and_over_or);
    tcase_add_test(tc, test_one_of_and_all_of_patterns);
    tcase_add_test(tc, test_them_covers_identifiers_not_starting_with_underscore);
    tcase_add_test(tc, test_condition_list_is_or);
    tcase_add_test(tc, test_list_of_maps_is_or_of_ands);
    tcase_add_test(tc, test_keywords_search_message_fields_and_raw);
    tcase_add_test(tc, test_keywords_all_needs_every_value);
    tcase_add_test(tc, test_logsource_routing);
    tcase_add_test(tc, test_explain_miss_names_failing_selection_field_and_value);
    tcase_add_test(tc, test_explain_miss_says_logsource_does_not_apply);
    tcase_add_test(tc, test_filter_rule_excludes_from_named_rules);
    tcase_add_test(tc, test_correlation_documents_are_kept_for_correlate);
    tcase_add_test(tc, test_spec_map_example_eventlog_and_eventid_list);
    tcase_add_test(tc, test_spec_map_example_ticket_options);
    tcase_add_test(tc, test_spec_list_of_strings_example);
    tcase_add_test(tc, test_spec_null_example_password_last_set);
    tcase_add_test(tc, test_spec_valid_empty_and_null_example);
    tcase_add_test(tc, test_spec_invalid_null_in_list_example);
    tcase_add_test(tc, test_spec_exists_example);
    tcase_add_test(tc, test_spec_wildcard_examples);
    tcase_add_test(tc, test_spec_condition_examples);
    tcase_add_test(tc, test_spec_schema_rule_example_loads_with_metadata);
    tcase_add_test(tc, test_spec_schema_filter_and_correlation_examples_load);
    tcase_add_test(tc, test_explain_names_selections_and_values);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
