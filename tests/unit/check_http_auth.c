/* check_http_auth.c - bearer tokens: sha256 hex, the tokens file (every
 * error at file:line:col), the constant-time lookup, roles, tenants and the
 * Authorization header. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_util.h"
#include "../../http/http_int.h"

static const char *const good =
    "tokens:\n"
    "  - {name: analyst-a, sha256: %s, role: analyst, tenants: [agency-a, agency-c]}\n"
    "  - {name: soc-lead, sha256: %s, role: admin, tenants: [\"*\"]}\n"
    "  - name: viewer-b\n"
    "    sha256: %s\n"
    "    role: viewer\n"
    "    tenants: [agency-b]\n";

static struct http_tokens *load_good(void)
{
    char a[65], l[65], v[65], doc[1024];
    http_token_sha256_hex("tok-a", 5, a);
    http_token_sha256_hex("tok-lead", 8, l);
    http_token_sha256_hex("tok-b", 5, v);
    for (char *p = l; *p; p++) /* upper-case hex is accepted */
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    snprintf(doc, sizeof(doc), good, a, l, v);
    struct http_tokens *t = NULL;
    struct ts_err err = {0};
    int rc = http_tokens_load_buffer("tokens.yml", doc, strlen(doc), &t, &err);
    ck_assert_msg(rc == 0, "load: %s", err.msg);
    return t;
}

/* Load doc, expect TS_E_CONFIG at line:col with msg in the message. */
static void expect_error(const char *doc, unsigned line, unsigned col, const char *msg)
{
    struct http_tokens *t = NULL;
    struct ts_err err = {0};
    int rc = http_tokens_load_buffer("t.yml", doc, strlen(doc), &t, &err);
    ck_assert_msg(rc != 0, "loaded: %s", doc);
    ck_assert_ptr_null(t);
    ck_assert_str_eq(err.file, "t.yml");
    ck_assert_msg(err.line == line && err.col == col, "at %u:%u, expected %u:%u (%s)", err.line,
                  err.col, line, col, err.msg);
    ck_assert_msg(strstr(err.msg, msg), "message \"%s\" lacks \"%s\"", err.msg, msg);
}

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

START_TEST(test_sha256_hex_is_the_standard_digest)
{
    char hex[65];
    http_token_sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    http_token_sha256_hex("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(test_tokens_load_names_roles_tenants)
{
    struct http_tokens *t = load_good();
    ck_assert_uint_eq(t->n, 3);
    ck_assert_str_eq(t->v[0].name, "analyst-a");
    ck_assert_int_eq(t->v[0].role, HTTP_ROLE_ANALYST);
    ck_assert(!t->v[0].all_tenants);
    ck_assert_uint_eq(t->v[0].ntenants, 2);
    ck_assert_str_eq(t->v[0].tenants[1], "agency-c");
    ck_assert_int_eq(t->v[1].role, HTTP_ROLE_ADMIN);
    ck_assert(t->v[1].all_tenants);
    ck_assert_int_eq(t->v[2].role, HTTP_ROLE_VIEWER);
    http_tokens_unref(t);
}
END_TEST

START_TEST(test_token_sha256_from_env_is_resolved_and_a_missing_one_named)
{
    char hex[65];
    http_token_sha256_hex("tok-env", 7, hex);
    setenv("TS_TEST_TOKEN_SHA", hex, 1);
    const char *doc = "tokens:\n"
                      "  - {name: e, sha256: \"${env:TS_TEST_TOKEN_SHA}\", role: viewer, "
                      "tenants: [\"*\"]}\n";
    struct http_tokens *t = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(http_tokens_load_buffer("t.yml", doc, strlen(doc), &t, &err), 0);
    ck_assert_ptr_nonnull(http_tokens_find(t, "tok-env", 7));
    ck_assert_ptr_null(http_tokens_find(t, "tok-a", 5));
    http_tokens_unref(t);
    unsetenv("TS_TEST_TOKEN_SHA");
    expect_error(doc, 2, 23, "environment variable TS_TEST_TOKEN_SHA is not set");
}
END_TEST

START_TEST(test_tokens_find_matches_only_the_right_token)
{
    struct http_tokens *t = load_good();
    const struct http_token *k = http_tokens_find(t, "tok-a", 5);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k->name, "analyst-a");
    k = http_tokens_find(t, "tok-lead", 8);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k->name, "soc-lead");
    ck_assert_ptr_null(http_tokens_find(t, "tok-", 4));
    ck_assert_ptr_null(http_tokens_find(t, "tok-ab", 6));
    ck_assert_ptr_null(http_tokens_find(t, "TOK-A", 5));
    ck_assert_ptr_null(http_tokens_find(t, "", 0));
    ck_assert_ptr_null(http_tokens_find(t, NULL, 5));
    /* the hash itself is not a token */
    char hex[65];
    http_token_sha256_hex("tok-a", 5, hex);
    ck_assert_ptr_null(http_tokens_find(t, hex, 64));
    static char longtok[HTTP_TOKEN_LEN_MAX + 2];
    memset(longtok, 'x', sizeof(longtok) - 1);
    ck_assert_ptr_null(http_tokens_find(t, longtok, sizeof(longtok) - 1));
    ck_assert_ptr_null(http_tokens_find(NULL, "tok-a", 5));
    http_tokens_unref(t);
}
END_TEST

START_TEST(test_tenants_limit_what_a_token_sees)
{
    struct http_tokens *t = load_good();
    const struct http_token *a = &t->v[0], *lead = &t->v[1];
    ck_assert(http_token_tenant_ok(a, "agency-a"));
    ck_assert(http_token_tenant_ok(a, "agency-c"));
    ck_assert(!http_token_tenant_ok(a, "agency-b"));
    ck_assert(!http_token_tenant_ok(a, "agency"));
    ck_assert(!http_token_tenant_ok(a, "agency-a "));
    ck_assert(!http_token_tenant_ok(a, ""));
    ck_assert(!http_token_tenant_ok(a, NULL));
    ck_assert(http_token_tenant_ok(lead, "agency-b"));
    ck_assert(http_token_tenant_ok(lead, ""));
    ck_assert(!http_token_tenant_ok(NULL, "agency-a"));
    http_tokens_unref(t);
}
END_TEST

START_TEST(test_roles_are_ordered_and_named)
{
    ck_assert(HTTP_ROLE_VIEWER < HTTP_ROLE_ANALYST && HTTP_ROLE_ANALYST < HTTP_ROLE_ADMIN);
    enum http_role r;
    ck_assert_int_eq(http_role_parse("viewer", &r), 0);
    ck_assert_int_eq(r, HTTP_ROLE_VIEWER);
    ck_assert_int_eq(http_role_parse("admin", &r), 0);
    ck_assert_int_eq(r, HTTP_ROLE_ADMIN);
    ck_assert_int_eq(http_role_parse("none", &r), TS_E_INVAL);
    ck_assert_int_eq(http_role_parse("Admin", &r), TS_E_INVAL);
    ck_assert_str_eq(http_role_name(HTTP_ROLE_ANALYST), "analyst");
}
END_TEST

START_TEST(test_tokens_file_errors_say_where)
{
    expect_error("tokens:\n  - {name: a, token: x, role: viewer, tenants: [t]}\n", 2, 15,
                 "unknown key \"token\"");
    expect_error("tokens:\n  - {name: a, sha256: abc, role: viewer, tenants: [t]}\n", 2, 23,
                 "64 hex digits");
    expect_error("tokens:\n  - {name: a, sha256: " H64 ", role: root, tenants: [t]}\n", 2, 95,
                 "role \"root\"");
    expect_error("tokens:\n  - {name: a, sha256: " H64 ", role: viewer, tenants: []}\n", 2,
                 112, "empty list");
    expect_error("tokens:\n  - {name: a, sha256: " H64 ", role: viewer, tenants: [\"a b\"]}\n",
                 2, 113, "tenant has a character");
    expect_error("tokens:\n  - {name: a, sha256: " H64 ", role: viewer, tenants: [x, \"*\"]}\n",
                 2, 116, "must stand alone");
    expect_error("tokens:\n  - {name: a, sha256: " H64 ", role: viewer}\n", 2, 5,
                 "missing \"tenants\"");
    expect_error("tokens:\n  - {name: \"a b\", sha256: " H64 ", role: viewer, tenants: [t]}\n", 2,
                 12, "only A-Z");
    expect_error("tokens:\n"
                 "  - {name: a, sha256: " H64 ", role: viewer, tenants: [t]}\n"
                 "  - {name: a, sha256: " H64 ", role: viewer, tenants: [t]}\n",
                 3, 12, "duplicate token name");
    expect_error("tokens:\n"
                 "  - {name: a, sha256: " H64 ", role: viewer, tenants: [t]}\n"
                 "  - {name: b, sha256: " H64 ", role: viewer, tenants: [t]}\n",
                 3, 23, "same sha256");
    expect_error("tokens: []\nusers: []\n", 2, 1, "unknown key \"users\"");
    expect_error("tokens:\n  - {name: a, sah256: " H64 ", role: viewer, tenants: [t]}\n", 2, 15,
                 "unknown key \"sah256\" in a token (did you mean \"sha256\"?)");
    expect_error("tokens:\n  - {name: a, name: b, sha256: " H64 ", role: viewer, tenants: [t]}\n",
                 2, 15, "duplicate key \"name\" in a token (first at line 2)");
    expect_error("tokens: {}\n", 1, 9, "expected a list");
    expect_error("- a\n", 1, 1, "expected a mapping");
    expect_error("tokens:\n  - {name: a, sha256: g" H64 ", role: viewer, tenants: [t]}\n", 2,
                 23, "64 hex digits");
}
END_TEST

START_TEST(test_tokens_file_may_be_empty_but_not_unreadable)
{
    struct http_tokens *t = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(http_tokens_load_buffer("t.yml", "tokens:\n", 8, &t, &err), 0);
    ck_assert_uint_eq(t->n, 0);
    ck_assert_ptr_null(http_tokens_find(t, "x", 1));
    http_tokens_unref(t);
    ck_assert_int_eq(http_tokens_load_buffer("t.yml", "tokens: [\n", 10, &t, &err), TS_E_PARSE);
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(http_tokens_load("/nonexistent/tokens.yml", &t, &err), TS_E_IO);
    ck_assert_str_eq(err.file, "/nonexistent/tokens.yml");
}
END_TEST

START_TEST(test_tokens_file_readable_by_others_is_refused)
{
    char path[] = "/tmp/check_tokensXXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "tokens:\n", 8), 8);
    close(fd);
    struct http_tokens *t = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(chmod(path, 0600), 0);
    ck_assert_int_eq(http_tokens_load(path, &t, &err), 0);
    http_tokens_unref(t);
    ck_assert_int_eq(chmod(path, 0640), 0); /* the service's group may read it */
    ck_assert_int_eq(http_tokens_load(path, &t, &err), 0);
    http_tokens_unref(t);
    const unsigned bad[] = {0644, 0604, 0620, 0602};
    for (size_t i = 0; i < 4; i++) {
        t = NULL;
        memset(&err, 0, sizeof(err));
        ck_assert_int_eq(chmod(path, bad[i]), 0);
        ck_assert_int_eq(http_tokens_load(path, &t, &err), TS_E_CONFIG);
        ck_assert_ptr_null(t);
        ck_assert_str_eq(err.file, path);
        ck_assert_msg(strstr(err.msg, "chmod 600"), "%o: %s", bad[i], err.msg);
    }
    ck_assert_ptr_nonnull(strstr(err.msg, "writable by others than its owner (mode 0602)"));
    chmod(path, 0644);
    memset(&err, 0, sizeof(err));
    http_tokens_load(path, &t, &err);
    ck_assert_ptr_nonnull(strstr(err.msg, "readable by every user (mode 0644)"));
    unlink(path);
}
END_TEST

START_TEST(test_references_keep_a_swapped_table_alive)
{
    struct http_tokens *t = load_good();
    http_tokens_ref(t); /* a request in flight */
    http_tokens_unref(t); /* the server swapped in a new table */
    ck_assert_ptr_nonnull(http_tokens_find(t, "tok-b", 5));
    http_tokens_unref(t); /* the request ends: freed (ASan checks) */
    http_tokens_unref(NULL);
}
END_TEST

START_TEST(test_bearer_header_parsing)
{
    size_t n = 0;
    const char *p = http_bearer("Bearer abc.def", &n);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(n, 7);
    ck_assert(!strncmp(p, "abc.def", n));
    p = http_bearer("bearer   tok \t", &n);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(n, 3);
    ck_assert_ptr_null(http_bearer("Basic dXNlcjpwYXNz", &n));
    ck_assert_ptr_null(http_bearer("Bearer", &n));
    ck_assert_ptr_null(http_bearer("Bearer ", &n));
    ck_assert_ptr_null(http_bearer("Bearertok", &n));
    ck_assert_ptr_null(http_bearer(NULL, &n));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("http_auth");
    TCase *tc = tcase_create("auth");
    tcase_add_test(tc, test_sha256_hex_is_the_standard_digest);
    tcase_add_test(tc, test_tokens_file_readable_by_others_is_refused);
    tcase_add_test(tc, test_tokens_load_names_roles_tenants);
    tcase_add_test(tc, test_tokens_find_matches_only_the_right_token);
    tcase_add_test(tc, test_token_sha256_from_env_is_resolved_and_a_missing_one_named);
    tcase_add_test(tc, test_tenants_limit_what_a_token_sees);
    tcase_add_test(tc, test_roles_are_ordered_and_named);
    tcase_add_test(tc, test_tokens_file_errors_say_where);
    tcase_add_test(tc, test_tokens_file_may_be_empty_but_not_unreadable);
    tcase_add_test(tc, test_references_keep_a_swapped_table_alive);
    tcase_add_test(tc, test_bearer_header_parsing);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
