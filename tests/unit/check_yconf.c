/* check_yconf.c - the one YAML loading context (core/yconf.h): errors at the
 * node, first error wins, typed getters, key tables with suggestions, arena
 * and malloc ownership. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
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


/* ---- secrets: ${env:NAME} and ${file:/path} ---- */

static int get_text(const char *yaml, char **out, char *msg, size_t mlen)
{
    struct ts_ystream *s = doc(yaml);
    struct ts_err err = {0};
    struct ts_yconf y = {"t.yml", &err, NULL, "the test"};
    const struct ts_ynode *v = ts_yaml_get(root(s), "k");
    int rc = ts_yconf_str(&y, v, "k", 0, out);
    msg[0] = '\0';
    if (rc)
        ts_err_format(&err, msg, mlen);
    ts_yaml_free(s);
    return rc;
}

START_TEST(test_env_reference_is_replaced_anywhere_in_the_value)
{
    char *out = NULL, msg[600];
    setenv("TS_TEST_SECRET", "s3cr3t-env", 1);
    ck_assert_int_eq(get_text("k: ${env:TS_TEST_SECRET}\n", &out, msg, sizeof(msg)), 0);
    ck_assert_str_eq(out, "s3cr3t-env");
    ck_assert_int_eq(get_text("k: \"Bearer ${env:TS_TEST_SECRET}!\"\n", &out, msg, sizeof(msg)),
                     0);
    ck_assert_str_eq(out, "Bearer s3cr3t-env!");
    /* $${ is a literal ${; other ${...} are left as written */
    ck_assert_int_eq(get_text("k: \"$${env:X} ${other}\"\n", &out, msg, sizeof(msg)), 0);
    ck_assert_str_eq(out, "${env:X} ${other}");
    free(out);
    unsetenv("TS_TEST_SECRET");
}
END_TEST

START_TEST(test_missing_env_variable_is_an_error_at_the_node_naming_it)
{
    char *out = NULL, msg[600];
    unsetenv("TS_TEST_NOT_SET");
    ck_assert_int_eq(get_text("a: 1\nk: \"${env:TS_TEST_NOT_SET}\"\n", &out, msg, sizeof(msg)),
                     TS_E_CONFIG);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(msg, "t.yml:2:4: error: k: environment variable TS_TEST_NOT_SET is not set "
                          "(referenced as ${env:TS_TEST_NOT_SET})");
    ck_assert_int_eq(get_text("k: ${env:1BAD}\n", &out, msg, sizeof(msg)), TS_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(msg, "t.yml:1:4: error: k: ${env:1BAD}: an environment"));
    ck_assert_int_eq(get_text("k: ${env:OPEN\n", &out, msg, sizeof(msg)), TS_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(msg, "no closing '}'"));
}
END_TEST

START_TEST(test_file_reference_strips_one_newline_and_is_capped)
{
    char path[] = "/tmp/check_yconf_secretXXXXXX", yaml[200], *out = NULL, msg[600];
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "f1le-s3cret\n", 12), 12);
    close(fd);
    snprintf(yaml, sizeof(yaml), "k: ${file:%s}\n", path);
    ck_assert_int_eq(get_text(yaml, &out, msg, sizeof(msg)), 0);
    ck_assert_str_eq(out, "f1le-s3cret");
    /* larger than the getter's cap (4096): refused, naming the path only */
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 5000; i++)
        fputc('x', f);
    fclose(f);
    ck_assert_int_eq(get_text(yaml, &out, msg, sizeof(msg)), TS_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(msg, "is larger than 4096 bytes"));
    ck_assert_ptr_nonnull(strstr(msg, path));
    ck_assert_ptr_null(strstr(msg, "xxxx"));
    unlink(path);
    ck_assert_int_eq(get_text(yaml, &out, msg, sizeof(msg)), TS_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(msg, "t.yml:1:4: error: k: cannot read ${file:"));
    ck_assert_ptr_nonnull(strstr(msg, "No such file or directory"));
    ck_assert_int_eq(get_text("k: ${file:relative/path}\n", &out, msg, sizeof(msg)), TS_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(msg, "must be absolute"));
    /* not a regular file: refused (a FIFO without a writer does not block) */
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(get_text(yaml, &out, msg, sizeof(msg)), TS_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(msg, "is not a regular file"));
    unlink(path);
    ck_assert_int_eq(get_text("k: ${file:/dev/zero}\n", &out, msg, sizeof(msg)), TS_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(msg, "${file:/dev/zero} is not a regular file"));
    free(out);
}
END_TEST

START_TEST(test_errors_about_a_resolved_value_never_show_it)
{
    struct ts_ystream *s = doc("n: ${env:TS_TEST_SECRET}\nb: ${env:TS_TEST_SECRET}\n"
                               "e: ${env:TS_TEST_SECRET}\nt: ${env:TS_TEST_SECRET}\n");
    setenv("TS_TEST_SECRET", "hunter2-long-value", 1);
    static const char *const names[] = {"a", "b"};
    long long iv;
    bool bv;
    size_t ev;
    char *tv = NULL, msg[600];
    const char *const fields[] = {"n", "b", "e", "t"};
    for (int i = 0; i < 4; i++) {
        struct ts_err err = {0};
        struct ts_yconf y = {"t.yml", &err, NULL, "the test"};
        const struct ts_ynode *v = ts_yaml_get(root(s), fields[i]);
        int rc = i == 0   ? ts_yconf_int(&y, v, "n", 0, 10, &iv)
                 : i == 1 ? ts_yconf_bool(&y, v, "b", &bv)
                 : i == 2 ? ts_yconf_enum(&y, v, "e", names, 2, &ev)
                          : ts_yconf_text(&y, v, "t", 5, 0, &tv);
        ck_assert_int_eq(rc, TS_E_CONFIG);
        ts_err_format(&err, msg, sizeof(msg));
        ck_assert_msg(!strstr(msg, "hunter2"), "secret in: %s", msg);
        ck_assert_msg(strstr(msg, "${env:TS_TEST_SECRET}") || strstr(msg, "at most 5 bytes"),
                      "no reference in: %s", msg);
    }
    /* and a resolved integer is taken */
    setenv("TS_TEST_SECRET", "7", 1);
    struct ts_yconf y = {"t.yml", NULL, NULL, "the test"};
    ck_assert_int_eq(ts_yconf_int(&y, ts_yaml_get(root(s), "n"), "n", 0, 10, &iv), 0);
    ck_assert_int_eq(iv, 7);
    unsetenv("TS_TEST_SECRET");
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
    tcase_add_test(tc, test_env_reference_is_replaced_anywhere_in_the_value);
    tcase_add_test(tc, test_missing_env_variable_is_an_error_at_the_node_naming_it);
    tcase_add_test(tc, test_file_reference_strips_one_newline_and_is_capped);
    tcase_add_test(tc, test_errors_about_a_resolved_value_never_show_it);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
