/* check_corr_limits.c - hostile input against the correlation keys (issue
 * 17): group values and source names of any length give keys the store
 * accepts and state that survives a restart; one tenant's flood of keys
 * cannot use up the cap for the others; an over-long tenant is counted,
 * never keyed. */
#include "../../storage/storage.h"
#include "check_corr_util.h"

#define RULES                                                                                     \
    DET_RULE("fail")                                                                              \
    "title: brute\nid: brute\ncorrelation:\n  type: event_count\n  rules: [fail]\n"               \
    "  group-by: [ip]\n  timespan: 1m\n  condition:\n    gte: 3\n---\n"                           \
    "title: triple\nid: triple\ncorrelation:\n  type: event_count\n  rules: [fail]\n"             \
    "  group-by: [a, b, c]\n  timespan: 1m\n  condition:\n    gte: 2\n"

static char *repeat(char ch, size_t n, char last)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, ch, n);
    s[n - 1] = last;
    s[n] = '\0';
    return s;
}

static void end_and_check_keys(struct harness *h)
{
    struct corr_batch b;
    ck_assert_int_eq(corr_batch_end(h->c, &b), 0);
    struct ts_buf buf;
    ts_buf_init(&buf, 0);
    for (size_t i = 0; i < b.nstate; i++) {
        ck_assert_uint_le(b.state[i].key_len, STORE_STATE_KEY_MAX);
        if (b.state[i].deleted)
            continue;
        ts_buf_reset(&buf); /* export by key agrees with the batch, hashed keys too */
        ck_assert_int_eq(corr_state_export(h->c, b.state[i].key, b.state[i].key_len, &buf), 0);
        ck_assert_uint_eq(buf.len, b.state[i].val_len);
        ck_assert_int_eq(memcmp(buf.data, b.state[i].val, buf.len), 0);
    }
    ts_buf_free(&buf);
    h_store_apply(h, &b);
}

START_TEST(test_long_group_values_are_keyed_by_hash_and_survive_restart)
{
    struct harness h;
    h_open(&h, RULES, NULL);
    /* same 192-byte head, different tails: two groups, not one */
    char *x = repeat('h', 600, 'x'), *y = repeat('h', 600, 'y');
    FEED(&h, "fail", T0, "a", x, "b", x, "c", x);
    FEED(&h, "fail", T0 + SEC, "a", y, "b", y, "c", y);
    end_and_check_keys(&h);
    struct corr_metrics m;
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.values_hashed, 6);
    ck_assert_uint_ge(m.state_keys_hashed, 2); /* 3 x 228 bytes: over LMDB's key size */
    ck_assert_uint_eq(h_count(&h, "triple"), 0);
    h_restart(&h, NULL); /* the hashed state keys are imported */
    FEED(&h, "fail", T0 + 2 * SEC, "a", x, "b", x, "c", x);
    end_and_check_keys(&h);
    ck_assert_uint_eq(h_count(&h, "triple"), 1);
    const struct inc_rec *r = h_find(&h, "triple", NULL);
    ck_assert_uint_eq(r->count, 2);
    /* readable: the head of the value, then a mark and the digest */
    ck_assert_int_eq(strncmp(r->group, "a=hhhhhhhh", 10), 0);
    ck_assert_ptr_nonnull(strstr(r->group, "\xe2\x80\xa6#"));
    ck_assert_uint_lt(strlen(r->group), 3 * 256);
    free(x);
    free(y);
    h_close(&h);
}
END_TEST

START_TEST(test_long_source_name_state_is_stored_hashed_and_restored)
{
    struct harness h;
    h_open(&h, RULES, NULL);
    char *path = repeat('p', 700, 'g');
    ck_assert_int_eq(h_feed_src(&h, "fail", T0, path, 1, "ip", "10.0.0.1", NULL), 0);
    ck_assert_int_eq(h_feed_src(&h, "fail", T0 + SEC, path, 2, "ip", "10.0.0.1", NULL), 0);
    end_and_check_keys(&h);
    h_restart(&h, NULL);
    ck_assert_int_eq(h_feed_src(&h, "fail", T0 + 2 * SEC, path, 3, "ip", "10.0.0.1", NULL), 0);
    end_and_check_keys(&h);
    const struct inc_rec *r = h_find(&h, "brute", "ip=10.0.0.1");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->count, 3);
    free(path);
    h_close(&h);
}
END_TEST

START_TEST(test_one_tenant_flood_leaves_other_tenants_detections)
{
    struct harness h;
    struct corr_opts o = {.max_keys_per_tenant = 5};
    h_open(&h, RULES, &o);
    char ip[32];
    h.tenant = "agency-flood";
    for (int i = 0; i < 100; i++) {
        snprintf(ip, sizeof(ip), "10.9.%d.%d", i / 250, i % 250);
        FEED(&h, "fail", T0 + i, "ip", ip);
    }
    h.tenant = "agency-b";
    for (int i = 0; i < 3; i++)
        FEED(&h, "fail", T0 + 200 + i, "ip", "10.1.1.1");
    h_end(&h);
    const struct inc_rec *r = h_find(&h, "brute", "ip=10.1.1.1");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->count, 3);
    struct corr_metrics m;
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.tenant_keys_cap_hit, 95);
    struct corr_tenant_stat ts[4];
    ck_assert_uint_eq(corr_tenant_stats(h.c, ts, 4), 2);
    ck_assert_str_eq(ts[0].tenant, "agency-flood");
    ck_assert_uint_eq(ts[0].live_keys, 5);
    ck_assert_uint_eq(ts[0].cap_hits, 95);
    ck_assert_str_eq(ts[1].tenant, "agency-b");
    ck_assert_uint_eq(ts[1].live_keys, 1);
    ck_assert_uint_eq(ts[1].cap_hits, 0);
    h_close(&h);
}
END_TEST

START_TEST(test_overlong_tenant_is_counted_and_never_keyed)
{
    struct harness h;
    h_open(&h, RULES, NULL);
    char *t = repeat('t', 300, 't');
    h.tenant = t;
    for (int i = 0; i < 3; i++)
        FEED(&h, "fail", T0 + i, "ip", "10.1.1.1");
    h_end(&h);
    struct corr_metrics m;
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.bad_tenant, 6); /* 3 events x 2 correlations */
    ck_assert_uint_eq(h.ninc, 0);
    ck_assert_uint_eq(h.nkv, 1); /* the source's watermark only */
    free(t);
    h_close(&h);
}
END_TEST

/* The tenant table's cap (CORR_MAX_TENANTS, 65536; issue 15, part 2): a
 * stream that names a new tenant in every event fills it, and the first
 * tenant past it is refused and counted (bad_tenant, the silent-loss reason
 * correlation/bad_tenant), never keyed; the tenants already in go on (the
 * batch is not ended: storing 65536 keys is not what this pins). */
START_TEST(test_tenant_past_the_table_cap_is_counted_and_never_keyed)
{
    struct harness h;
    h_open(&h, RULES, NULL);
    enum { N = 65536 };
    char *names = malloc((size_t)(N + 1) * 16);
    ck_assert_ptr_nonnull(names);
    for (int i = 0; i <= N; i++) {
        char *t = names + (size_t)i * 16;
        snprintf(t, 16, "t%d", i);
        h.tenant = t;
        FEED(&h, "fail", T0 + (i % 30), "ip", "10.1.1.1");
    }
    struct corr_metrics m;
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.bad_tenant, 1); /* the last event, at its key (triple: no group field) */
    h.tenant = names; /* t0, in the table: still keyed */
    FEED(&h, "fail", T0 + 31, "ip", "10.1.1.1");
    FEED(&h, "fail", T0 + 32, "ip", "10.1.1.1");
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.bad_tenant, 1);
    struct corr_tenant_stat ts[1];
    ck_assert_uint_eq(corr_tenant_stats(h.c, ts, 1), N);
    ck_assert_str_eq(ts[0].tenant, "t0");
    ck_assert_uint_eq(ts[0].live_keys, 1);
    h_close(&h);
    free(names);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("corr_limits");
    TCase *t = tcase_create("limits");
    tcase_add_test(t, test_long_group_values_are_keyed_by_hash_and_survive_restart);
    tcase_add_test(t, test_long_source_name_state_is_stored_hashed_and_restored);
    tcase_add_test(t, test_one_tenant_flood_leaves_other_tenants_detections);
    tcase_add_test(t, test_overlong_tenant_is_counted_and_never_keyed);
    tcase_add_test(t, test_tenant_past_the_table_cap_is_counted_and_never_keyed);
    suite_add_tcase(s, t);
    return s;
}

TS_CHECK_MAIN(make_suite)
