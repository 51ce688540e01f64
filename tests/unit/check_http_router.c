/* check_http_router.c - the router (literal and {param} segments, 404 vs
 * 405 with Allow, HEAD as GET, caps), the page cursor (round trip, every
 * malformed form refused) and the token-bucket rate limiter (burst,
 * refill, per key, the table's cap). */
#include <string.h>

#include "check_util.h"
#include "../../core/tstime.h"
#include "../../http/http_int.h"

static int h_dummy(struct http_req *r)
{
    TS_UNUSED(r);
    return 0;
}

static const struct http_route routes[] = {
    {"GET", "/healthz", HTTP_ROLE_NONE, h_dummy},
    {"GET", "/api/v1/incidents", HTTP_ROLE_VIEWER, h_dummy},
    {"GET", "/api/v1/incidents/{id}", HTTP_ROLE_VIEWER, h_dummy},
    {"POST", "/api/v1/incidents/{id}/ack", HTTP_ROLE_ANALYST, h_dummy},
    {"GET", "/api/v1/incidents/{id}/report", HTTP_ROLE_VIEWER, h_dummy},
    {"POST", "/api/v1/x/{a}/y/{b}", HTTP_ROLE_ADMIN, h_dummy},
};
#define NR (sizeof(routes) / sizeof(routes[0]))

START_TEST(test_router_matches_literals_and_captures)
{
    struct http_match m;
    ck_assert_int_eq(http_route_find(routes, NR, "GET", "/healthz", &m), 0);
    ck_assert_ptr_eq(m.route, &routes[0]);
    ck_assert_uint_eq(m.ncaps, 0);
    ck_assert_int_eq(http_route_find(routes, NR, "GET", "/api/v1/incidents/abc123", &m), 0);
    ck_assert_ptr_eq(m.route, &routes[2]);
    ck_assert_uint_eq(m.ncaps, 1);
    ck_assert_str_eq(m.caps[0], "abc123");
    ck_assert_int_eq(http_route_find(routes, NR, "POST", "/api/v1/incidents/i:1/ack", &m), 0);
    ck_assert_ptr_eq(m.route, &routes[3]);
    ck_assert_str_eq(m.caps[0], "i:1");
    ck_assert_int_eq(http_route_find(routes, NR, "POST", "/api/v1/x/one/y/two", &m), 0);
    ck_assert_uint_eq(m.ncaps, 2);
    ck_assert_str_eq(m.caps[0], "one");
    ck_assert_str_eq(m.caps[1], "two");
    ck_assert_int_eq(http_route_find(routes, NR, "HEAD", "/api/v1/incidents", &m), 0);
    ck_assert_ptr_eq(m.route, &routes[1]);
}
END_TEST

START_TEST(test_router_unknown_path_is_404_wrong_method_405)
{
    struct http_match m;
    const char *nf[] = {"/", "/api/v1/incidents/", "/api/v1/incidents//ack", "/api/v1/incident",
                        "/api/v1/incidents/a/b", "/healthz/", "//healthz", "healthz",
                        "/api/v1/incidents/a/ack/more", ""};
    for (size_t i = 0; i < sizeof(nf) / sizeof(nf[0]); i++)
        ck_assert_msg(http_route_find(routes, NR, "GET", nf[i], &m) == TS_E_NOTFOUND,
                      "%s matched", nf[i]);
    ck_assert_int_eq(http_route_find(routes, NR, "DELETE", "/api/v1/incidents/a", &m), TS_E_INVAL);
    ck_assert_str_eq(m.allow, "GET, HEAD");
    ck_assert_int_eq(http_route_find(routes, NR, "GET", "/api/v1/incidents/a/ack", &m), TS_E_INVAL);
    ck_assert_str_eq(m.allow, "POST");
    ck_assert_ptr_null(m.route);
}
END_TEST

START_TEST(test_router_refuses_overlong_paths)
{
    static char path[HTTP_PATH_MAX + 10];
    struct http_match m;
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    ck_assert_int_eq(http_route_find(routes, NR, "GET", path, &m), TS_E_LIMIT);
    char seg[HTTP_SEGMENT_MAX + 40];
    snprintf(seg, sizeof(seg), "/api/v1/incidents/%0*d", HTTP_SEGMENT_MAX, 7);
    ck_assert_int_eq(http_route_find(routes, NR, "GET", seg, &m), TS_E_LIMIT);
}
END_TEST

START_TEST(test_cursor_round_trips)
{
    static const int64_t times[] = {0, 1, -1, INT64_MAX, INT64_MIN, 1795168800000000000LL};
    static const char *const ids[] = {"a", "04364106b4481d4d3f932fc3d1a3d319", "x:y/z?&=",
                                      "ab", "abc", "abcd"};
    char id128[129];
    memset(id128, 'q', 128);
    id128[128] = '\0';
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        for (size_t j = 0; j <= sizeof(ids) / sizeof(ids[0]); j++) {
            const char *id = j < sizeof(ids) / sizeof(ids[0]) ? ids[j] : id128;
            char cur[HTTP_CURSOR_MAX], back[200];
            int64_t t;
            ck_assert_int_eq(http_cursor_encode(times[i], id, cur, sizeof(cur)), 0);
            for (const char *p = cur; *p; p++) /* URL-safe without escaping */
                ck_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789-_", *p));
            ck_assert_int_eq(http_cursor_decode(cur, &t, back, sizeof(back)), 0);
            ck_assert(t == times[i]);
            ck_assert_str_eq(back, id);
        }
    }
}
END_TEST

START_TEST(test_cursor_refuses_what_it_did_not_make)
{
    char cur[HTTP_CURSOR_MAX], id[200], id129[130];
    int64_t t;
    const char *bad[] = {"", "abc", "xyz", "!!!!!!!!!!!!!!!!", "AAAAAAAAAAAAAAAA",
                         "YwEAAAAAAAAAAGE=", /* padding is not used */
                         NULL};
    for (size_t i = 0; bad[i]; i++)
        ck_assert_msg(http_cursor_decode(bad[i], &t, id, sizeof(id)) == TS_E_INVAL, "%s", bad[i]);
    ck_assert_int_eq(http_cursor_decode(NULL, &t, id, sizeof(id)), TS_E_INVAL);
    ck_assert_int_eq(http_cursor_encode(5, "a", cur, sizeof(cur)), 0);
    /* a changed last character makes non-canonical bits, or another id */
    size_t n = strlen(cur);
    char alt[HTTP_CURSOR_MAX];
    memcpy(alt, cur, n + 1);
    alt[n - 1] = alt[n - 1] == 'B' ? 'C' : 'B';
    if (http_cursor_decode(alt, &t, id, sizeof(id)) == 0)
        ck_assert_str_ne(id, "a");
    alt[0] = 'Z'; /* not the magic */
    ck_assert_int_eq(http_cursor_decode(alt, &t, id, sizeof(id)), TS_E_INVAL);
    /* ids: not empty, not too long for the caller, no NUL */
    ck_assert_int_eq(http_cursor_encode(5, "", cur, sizeof(cur)), TS_E_INVAL);
    memset(id129, 'q', 129);
    id129[129] = '\0';
    ck_assert_int_eq(http_cursor_encode(5, id129, cur, sizeof(cur)), TS_E_INVAL);
    ck_assert_int_eq(http_cursor_encode(5, "abcdef", cur, sizeof(cur)), 0);
    ck_assert_int_eq(http_cursor_decode(cur, &t, id, 4), TS_E_INVAL);
    ck_assert_int_eq(http_cursor_encode(5, "abcdef", cur, 8), TS_E_LIMIT);
}
END_TEST

START_TEST(test_rate_limit_burst_then_refill)
{
    struct http_ratelimit *r;
    ck_assert_int_eq(http_ratelimit_create(&r, 2.0, 3.0), 0);
    int64_t t0 = 1000 * TS_NS_PER_SEC;
    unsigned retry = 0;
    for (int i = 0; i < 3; i++)
        ck_assert(http_ratelimit_take(r, "t:a", t0, &retry));
    ck_assert(!http_ratelimit_take(r, "t:a", t0, &retry));
    ck_assert_uint_eq(retry, 1);
    ck_assert(http_ratelimit_take(r, "t:b", t0, NULL)); /* per key */
    ck_assert(!http_ratelimit_take(r, "t:a", t0 + TS_NS_PER_SEC / 4, NULL)); /* 0.5 token */
    ck_assert(http_ratelimit_take(r, "t:a", t0 + TS_NS_PER_SEC / 2, NULL));  /* 1 token */
    ck_assert(!http_ratelimit_take(r, "t:a", t0 + TS_NS_PER_SEC / 2, NULL));
    /* a long pause refills up to the burst, not beyond */
    int64_t t1 = t0 + 3600 * TS_NS_PER_SEC;
    for (int i = 0; i < 3; i++)
        ck_assert(http_ratelimit_take(r, "t:a", t1, NULL));
    ck_assert(!http_ratelimit_take(r, "t:a", t1, NULL));
    http_ratelimit_destroy(r);
    ck_assert_int_eq(http_ratelimit_create(&r, 0, 1), TS_E_INVAL);
    ck_assert_int_eq(http_ratelimit_create(&r, 1, 0.5), TS_E_INVAL);
}
END_TEST

START_TEST(test_rate_limit_slow_rate_says_when_to_retry)
{
    struct http_ratelimit *r;
    ck_assert_int_eq(http_ratelimit_create(&r, 0.1, 1.0), 0);
    unsigned retry = 0;
    ck_assert(http_ratelimit_take(r, "ip:10.0.0.1", 0, &retry));
    ck_assert(!http_ratelimit_take(r, "ip:10.0.0.1", 0, &retry));
    ck_assert_uint_eq(retry, 10);
    http_ratelimit_destroy(r);
}
END_TEST

START_TEST(test_rate_limit_table_cap_keeps_busy_keys)
{
    struct http_ratelimit *r;
    ck_assert_int_eq(http_ratelimit_create(&r, 1.0, 2.0), 0);
    /* a busy key, empty bucket */
    ck_assert(http_ratelimit_take(r, "t:busy", 0, NULL));
    ck_assert(http_ratelimit_take(r, "t:busy", 0, NULL));
    ck_assert(!http_ratelimit_take(r, "t:busy", 0, NULL));
    /* many one-off addresses fill the table past its cap */
    char key[32];
    for (int i = 0; i < 3 * HTTP_RATE_KEYS_MAX; i++) {
        snprintf(key, sizeof(key), "ip:10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
        ck_assert(http_ratelimit_take(r, key, 0, NULL));
    }
    /* the busy key was not forgotten (it would have a full bucket again) */
    ck_assert(!http_ratelimit_take(r, "t:busy", 0, NULL));
    /* long keys are fine */
    char longkey[300];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    ck_assert(http_ratelimit_take(r, longkey, 0, NULL));
    http_ratelimit_destroy(r);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("http_router");
    TCase *tc = tcase_create("router");
    tcase_add_test(tc, test_router_matches_literals_and_captures);
    tcase_add_test(tc, test_router_unknown_path_is_404_wrong_method_405);
    tcase_add_test(tc, test_router_refuses_overlong_paths);
    tcase_add_test(tc, test_cursor_round_trips);
    tcase_add_test(tc, test_cursor_refuses_what_it_did_not_make);
    tcase_add_test(tc, test_rate_limit_burst_then_refill);
    tcase_add_test(tc, test_rate_limit_slow_rate_says_when_to_retry);
    tcase_add_test(tc, test_rate_limit_table_cap_keeps_busy_keys);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
