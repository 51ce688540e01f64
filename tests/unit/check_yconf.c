/* check_yconf.c - the one YAML loading context (core/yconf.h): errors at the
 * node, first error wins, typed getters, key tables with suggestions, arena
 * and malloc ownership. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/arena.h"
#include "../../core/yconf.h"
#include "check_util.h"

static struct ts_ystream *doc(const char *text)
{
    struct ts_ystream *s = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(ts_yaml_load_buffer("t.yml", text, strlen(text), &s, &err), 0);
    return s;
}

static const struct ts_ynode *root(struct ts_ystream *s)
{
    return s->docs[0].root;
}

static const char *const keys[] = {"listen", "tokens", "rate", "tls_cert", "tls_key"};

START_TEST(test_unknown_key_suggests_the_near_one_at_its_position)
{
    struct ts_ystream *s = doc("listen: x\ntokns: y\n");
    struct ts_err err = {0};
    struct ts_yconf y = {"t.yml", &err, NULL, "the test"};
    const struct ts_ynode *v[5];
    ck_assert_int_eq(ts_yconf_check_keys(&y, root(s), "http", keys, 5, v), TS_E_CONFIG);
    char buf[600];
    ts_err_format(&err, buf, sizeof(buf));
    ck_assert_str_eq(buf, "t.yml:2:1: error: unknown key \"tokns\" in http (did you mean "
                          "\"tokens\"?)");
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_unknown_key_far_from_all_lists_the_known_ones)
{
    struct ts_ystream *s = doc("zzzzzz: 1\n");
    struct ts_err err = {0};
    struct ts_yconf y = {"t.yml", &err, NULL, "the test"};
    ck_assert_int_eq(ts_yconf_check_keys(&y, root(s), "http", keys, 5, NULL), TS_E_CONFIG);
    ck_assert_str_eq(err.msg, "unknown key \"zzzzzz\" in http (expected one of listen, tokens, "
                              "rate, tls_cert, tls_key)");
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_check_keys_returns_values_and_refuses_duplicates)
{
    struct ts_ystream *s = doc("rate: 5\nlisten: a\n");
    struct ts_err err = {0};
    struct ts_yconf y = {"t.yml", &err, NULL, "the test"};
    const struct ts_ynode *v[5];
    ck_assert_int_eq(ts_yconf_check_keys(&y, root(s), "http", keys, 5, v), 0);
    ck_assert_ptr_nonnull(v[0]);
    ck_assert_str_eq(v[0]->str, "a");
    ck_assert_ptr_null(v[1]);
    ck_assert_str_eq(v[2]->str, "5");
    ts_yaml_free(s);

    s = doc("rate: 5\nlisten: a\nrate: 6\n");
    ck_assert_int_eq(ts_yconf_check_keys(&y, root(s), "http", keys, 5, v), TS_E_CONFIG);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_str_eq(err.msg, "duplicate key \"rate\" in http (first at line 1)");
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_first_error_wins)
{
    struct ts_ystream *s = doc("a: 1\nb: 2\n");
    struct ts_err err = {0};
    struct ts_yconf y = {"t.yml", &err, NULL, "the test"};
    ts_yconf_fail(&y, root(s)->pairs[1].val, "second %d", 2);
    ts_yconf_fail(&y, root(s)->pairs[0].val, "first");
    ck_assert_str_eq(err.msg, "second 2");
    ck_assert_uint_eq(err.line, 2);
    ck_assert_uint_eq(err.col, 4);
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_int_bounds_and_what_was_found)
{
    struct ts_ystream *s = doc("[12, -3, 99999999999999999999999, 1x, '', +7]");
    const struct ts_ynode *l = root(s);
    struct ts_err err = {0};
    struct ts_yconf y = {"t.yml", &err, NULL, "the test"};
    long long v = 0;
    ck_assert_int_eq(ts_yconf_int(&y, l->items[0], "n", 0, 100, &v), 0);
    ck_assert_int_eq(v, 12);
    ck_assert_int_eq(ts_yconf_int(&y, l->items[1], "n", -5, 100, &v), 0);
    ck_assert_int_eq(v, -3);
    ck_assert_int_eq(ts_yconf_int(&y, l->items[5], "n", 0, 100, &v), 0);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(ts_yconf_int(&y, l->items[1], "n", 0, 100, &v), TS_E_CONFIG);
    ck_assert_str_eq(err.msg, "n must be an integer from 0 to 100, got \"-3\"");
    for (int i = 2; i <= 4; i++) {
        ts_err_clear(&err);
        ck_assert_int_eq(ts_yconf_int(&y, l->items[i], "n", 0, 100, &v), TS_E_CONFIG);
    }
    ck_assert_str_eq(err.msg, "n must be an integer from 0 to 100, got \"\"");
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_bool_duration_enum)
{
    struct ts_ystream *s = doc("[true, 'true', 5m, 0, 5 minutes, contians, xyz]");
    const struct ts_ynode *l = root(s);
    struct ts_err err = {0};
    struct ts_yconf y = {"t.yml", &err, NULL, "the test"};
    bool b = false;
    ck_assert_int_eq(ts_yconf_bool(&y, l->items[0], "b", &b), 0);
    ck_assert(b);
    ck_assert_int_eq(ts_yconf_bool(&y, l->items[1], "b", &b), TS_E_CONFIG);
    ck_assert_str_eq(err.msg, "b must be true or false, got \"true\"");
    int64_t d = -1;
    ck_assert_int_eq(ts_yconf_duration(&y, l->items[2], "d", 0, &d), 0);
    ck_assert_int_eq(d, 300 * INT64_C(1000000000));
    ck_assert_int_eq(ts_yconf_duration(&y, l->items[3], "d", 0, &d), 0);
    ck_assert_int_eq(d, 0);
    ts_err_clear(&err);
    ck_assert_int_eq(ts_yconf_duration(&y, l->items[3], "d", TS_YCONF_POSITIVE, &d), TS_E_CONFIG);
    ck_assert_str_eq(err.msg, "d must be a positive duration such as 500ms, 30s, 5m, 1h, got \"0\"");
    ts_err_clear(&err);
    ck_assert_int_eq(ts_yconf_duration(&y, l->items[4], "d", 0, &d), TS_E_CONFIG);
    ck_assert_str_eq(err.msg,
                     "d must be a duration such as 90s, 5m, 1h, 7d (or 0), got \"5 minutes\"");
    static const char *const ops[] = {"contains", "startswith", "endswith"};
    size_t k = 9;
    ts_err_clear(&err);
    ck_assert_int_eq(ts_yconf_enum(&y, l->items[5], "op", ops, 3, &k), TS_E_CONFIG);
    ck_assert_str_eq(err.msg, "op must be one of contains, startswith, endswith, got "
                              "\"contians\" (did you mean \"contains\"?)");
    ts_err_clear(&err);
    ck_assert_int_eq(ts_yconf_enum(&y, l->items[6], "op", ops, 3, &k), TS_E_CONFIG);
    ck_assert_str_eq(err.msg, "op must be one of contains, startswith, endswith, got \"xyz\"");
    ck_assert_uint_eq(k, 9);
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_strings_in_the_arena_or_malloc)
{
    struct ts_ystream *s = doc("one: abc\nlist: [x, y]\nbad: [x, {a: 1}]\nempty: ''\n");
    const struct ts_ynode *m = root(s);
    struct ts_err err = {0};
    struct ts_arena *a = NULL;
    ck_assert_int_eq(ts_arena_create(&a, 4096, 1 << 20), 0);
    struct ts_yconf ya = {"t.yml", &err, a, "the test"};
    char *str = NULL;
    ck_assert_int_eq(ts_yconf_str(&ya, ts_yaml_get(m, "one"), "one", 0, &str), 0);
    ck_assert_str_eq(str, "abc");
    ck_assert_uint_gt(ts_arena_used(a), 0);
    char **l = NULL;
    size_t n = 0;
    ck_assert_int_eq(ts_yconf_str_list(&ya, ts_yaml_get(m, "list"), "list", 8, &l, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(l[1], "y");
    ck_assert_int_eq(ts_yconf_str_list(&ya, ts_yaml_get(m, "one"), "one", 8, &l, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(l[0], "abc");
    ck_assert_int_eq(ts_yconf_str_list(&ya, ts_yaml_get(m, "list"), "list", 1, &l, &n),
                     TS_E_CONFIG);
    ck_assert_str_eq(err.msg, "list has more than 1 entries");
    ts_arena_destroy(a);

    /* malloc: the caller frees, a second value replaces the first */
    ts_err_clear(&err);
    struct ts_yconf ym = {"t.yml", &err, NULL, "the test"};
    str = NULL;
    ck_assert_int_eq(ts_yconf_str(&ym, ts_yaml_get(m, "one"), "one", 0, &str), 0);
    ck_assert_int_eq(ts_yconf_str(&ym, ts_yaml_get(m, "one"), "one", 2, &str), TS_E_CONFIG);
    ck_assert_str_eq(err.msg, "one must be at most 2 bytes long");
    ck_assert_str_eq(str, "abc");
    ts_err_clear(&err);
    ck_assert_int_eq(ts_yconf_str(&ym, ts_yaml_get(m, "empty"), "empty", 0, &str), TS_E_CONFIG);
    ck_assert_str_eq(err.msg, "empty must be a non-empty string, got \"\"");
    free(str);
    ts_err_clear(&err);
    ck_assert_int_eq(ts_yconf_str_list(&ym, ts_yaml_get(m, "bad"), "bad", 8, &l, &n),
                     TS_E_CONFIG);
    ck_assert_str_eq(err.msg, "bad[1] must be a non-empty string, got a mapping");
    ck_assert_uint_eq(err.line, 3);
    ck_assert_uint_eq(n, 2);
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_describe_escapes_and_shortens)
{
    struct ts_ystream *s = doc("a: \"q\\\"\\x01\"\nb: "
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
    char d[64];
    ck_assert_str_eq(ts_yconf_describe(ts_yaml_get(root(s), "a"), d, sizeof(d)),
                     "\"q\\\"\\x01\"");
    ck_assert_str_eq(ts_yconf_describe(ts_yaml_get(root(s), "b"), d, sizeof(d)),
                     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"");
    ck_assert_str_eq(ts_yconf_describe(root(s), d, sizeof(d)), "a mapping");
    ck_assert_str_eq(ts_yconf_describe(NULL, d, sizeof(d)), "nothing");
    ts_yaml_free(s);
}
END_TEST

START_TEST(test_suggest_limits)
{
    static const char *const names[] = {"tls", "window", "group-by"};
    ck_assert_str_eq(ts_yconf_suggest("tsl", 3, names, 3), "tls");
    ck_assert_ptr_null(ts_yconf_suggest("tlxx", 4, names, 3));
    ck_assert_str_eq(ts_yconf_suggest("widnow", 6, names, 3), "window");
    ck_assert_str_eq(ts_yconf_suggest("groupby", 7, names, 3), "group-by");
    ck_assert_ptr_null(ts_yconf_suggest("", 0, names, 3));
    ck_assert_uint_eq(ts_yconf_edit_distance("ab", 2, "ba", 2), 1);
    static const char *const nt[] = {"a", "b", NULL};
    ck_assert_uint_eq(ts_yconf_count(nt), 2);
}
END_TEST

START_TEST(test_nomem_names_what_was_loading)
{
    struct ts_err err = {0};
    struct ts_yconf y = {"inv.yml", &err, NULL, "the inventory"};
    ck_assert_int_eq(ts_yconf_nomem(&y), TS_E_NOMEM);
    ck_assert_str_eq(err.msg, "out of memory loading the inventory");
    ck_assert_str_eq(err.file, "inv.yml");
}
END_TEST

START_TEST(test_text_flags)
{
    struct ts_ystream *s = doc("e: ''\nl: \"a\\nb\"\n");
    const struct ts_ynode *m = root(s);
    struct ts_err err = {0};
    struct ts_arena *a = NULL;
    ck_assert_int_eq(ts_arena_create(&a, 4096, 1 << 20), 0);
    struct ts_yconf y = {"t.yml", &err, a, "the test"};
    char *out = NULL;
    ck_assert_int_eq(ts_yconf_text(&y, ts_yaml_get(m, "e"), "e", 0, TS_YCONF_EMPTY_OK, &out), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(ts_yconf_text(&y, ts_yaml_get(m, "l"), "l", 0, 0, &out), 0);
    ck_assert_int_eq(ts_yconf_text(&y, ts_yaml_get(m, "l"), "l", 0, TS_YCONF_ONE_LINE, &out),
                     TS_E_CONFIG);
    ck_assert_str_eq(err.msg, "l must be one line");
    ts_err_clear(&err);
    /* libyaml only hands out UTF-8: build the node by hand */
    char bad[] = "a\xff";
    struct ts_ynode u = {.kind = TS_Y_SCALAR, .line = 3, .col = 4, .str = bad, .len = 2};
    ck_assert_int_eq(ts_yconf_text(&y, &u, "u", 0, TS_YCONF_UTF8, &out), TS_E_CONFIG);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_str_eq(err.msg, "u must be valid UTF-8");
    ts_err_clear(&err);
    ck_assert_int_eq(ts_yconf_text(&y, m, "m", 0, TS_YCONF_EMPTY_OK, &out), TS_E_CONFIG);
    ck_assert_str_eq(err.msg, "m must be a string, got a mapping");
    ts_arena_destroy(a);
    ts_yaml_free(s);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("yconf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_unknown_key_suggests_the_near_one_at_its_position);
    tcase_add_test(tc, test_unknown_key_far_from_all_lists_the_known_ones);
    tcase_add_test(tc, test_check_keys_returns_values_and_refuses_duplicates);
    tcase_add_test(tc, test_first_error_wins);
    tcase_add_test(tc, test_int_bounds_and_what_was_found);
    tcase_add_test(tc, test_bool_duration_enum);
    tcase_add_test(tc, test_strings_in_the_arena_or_malloc);
    tcase_add_test(tc, test_describe_escapes_and_shortens);
    tcase_add_test(tc, test_suggest_limits);
    tcase_add_test(tc, test_nomem_names_what_was_loading);
    tcase_add_test(tc, test_text_flags);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
