/* check_corr_state.c - export/import: a run interrupted (export, destroy,
 * new engine, import) at every position of the input gives exactly the
 * incidents of an uninterrupted run; batch size does not change them; the
 * state of a key is compact; corrupt state is refused. */
#include "check_corr_util.h"

#define RULES                                                                                     \
    DET_RULE("fail") DET_RULE("ok")                                                               \
    "title: brute\nid: brute\ncorrelation:\n  type: event_count\n  rules: [fail]\n"               \
    "  group-by: [ip]\n  timespan: 1m\n  condition:\n    gte: 3\n---\n"                           \
    "title: spray\nid: spray\ncorrelation:\n  type: value_count\n  rules: [fail]\n"               \
    "  group-by: [ip]\n  timespan: 10m\n  condition:\n    field: user\n    gte: 3\n---\n"          \
    "title: then\nid: then\ncorrelation:\n  type: temporal_ordered\n  rules: [brute, ok]\n"       \
    "  group-by: [ip]\n  timespan: 5m\n---\n"                                                     \
    "title: bytes\nid: bytes\ncorrelation:\n  type: value_avg\n  rules: [ok]\n"                   \
    "  group-by: [ip]\n  timespan: 5m\n  condition:\n    field: n\n    gt: 10\n"

struct ev {
    const char *rule;
    int64_t t;
    const char *ip, *user, *n;
};

/* A deterministic mixed stream: bursts, out-of-order and late events. */
static size_t make_stream(struct ev *out, size_t cap)
{
    static const char *const ips[] = {"a", "b", "c"};
    static const char *const users[] = {"root", "admin", "oracle", "test"};
    static const char *const nums[] = {"#5", "#50", "#7"};
    size_t n = 0;
    uint32_t x = 12345;
    int64_t t = T0;
    while (n < cap) {
        x = x * 1103515245u + 12345u;
        t += (int64_t)((x >> 16) % 20) * SEC;
        int64_t et = t;
        if ((x >> 8) % 7 == 0)
            et -= 30 * SEC; /* out of order, within lateness */
        if ((x >> 8) % 23 == 0)
            et -= 900 * SEC; /* beyond lateness */
        bool ok = (x >> 4) % 5 == 0;
        out[n++] = (struct ev){ok ? "ok" : "fail", et, ips[(x >> 12) % 3], users[(x >> 20) % 4],
                               nums[(x >> 24) % 3]};
    }
    return n;
}

static void feed_ev(struct harness *h, const struct ev *e, uint64_t line)
{
    ck_assert_int_eq(h_feed_src(h, e->rule, e->t, "s.log", line, "ip", e->ip, "user", e->user, "n",
                                e->n, NULL),
                     0);
}

static void same_incidents(const struct harness *a, const struct harness *b)
{
    ck_assert_uint_eq(a->ninc, b->ninc);
    for (size_t i = 0; i < a->ninc; i++) {
        const struct inc_rec *x = &a->inc[i], *y = NULL;
        for (size_t j = 0; j < b->ninc && !y; j++)
            if (strcmp(b->inc[j].id, x->id) == 0)
                y = &b->inc[j];
        ck_assert_msg(y != NULL, "incident %s (%s %s) missing", x->id, x->rule, x->group);
        ck_assert_uint_eq(x->count, y->count);
        ck_assert_uint_eq(x->late, y->late);
        ck_assert_int_eq(x->first, y->first);
        ck_assert_int_eq(x->last, y->last);
        ck_assert_uint_eq(x->nvalues, y->nvalues);
    }
}

#define NEV 120

START_TEST(test_restart_at_every_position_gives_identical_incidents)
{
    struct ev s[NEV];
    size_t n = make_stream(s, NEV);
    struct harness ref;
    h_open(&ref, RULES, NULL);
    ck_assert_uint_eq(ref.rep.loaded, 4);
    for (size_t i = 0; i < n; i++)
        feed_ev(&ref, &s[i], i + 1);
    h_end(&ref);
    ck_assert_uint_ge(ref.ninc, 4); /* the stream exercises every rule */
    ck_assert_ptr_nonnull(h_find(&ref, "then", NULL));
    ck_assert_ptr_nonnull(h_find(&ref, "bytes", NULL));
    struct corr_metrics m;
    corr_metrics_get(ref.c, &m);
    ck_assert_uint_gt(m.late_within, 0);
    ck_assert_uint_gt(m.late_beyond, 0);
    for (size_t split = 0; split <= n; split++) {
        struct harness h;
        h_open(&h, RULES, NULL);
        for (size_t i = 0; i < split; i++)
            feed_ev(&h, &s[i], i + 1);
        h_end(&h);
        h_restart(&h, NULL);
        for (size_t i = split; i < n; i++)
            feed_ev(&h, &s[i], i + 1);
        h_end(&h);
        same_incidents(&ref, &h);
        ck_assert_uint_eq(ref.nevidence, h.nevidence);
        h_close(&h);
    }
    h_close(&ref);
}
END_TEST

START_TEST(test_many_restarts_and_batch_sizes_give_identical_incidents)
{
    struct ev s[NEV];
    size_t n = make_stream(s, NEV);
    struct harness ref;
    h_open(&ref, RULES, NULL);
    for (size_t i = 0; i < n; i++)
        feed_ev(&ref, &s[i], i + 1);
    h_end(&ref);
    for (size_t bs = 1; bs <= 13; bs += 3) {
        struct harness h;
        h_open(&h, RULES, NULL);
        for (size_t i = 0; i < n; i++) {
            feed_ev(&h, &s[i], i + 1);
            if ((i + 1) % bs == 0) {
                h_end(&h);
                if ((i / bs) % 2)
                    h_restart(&h, NULL);
            }
        }
        h_end(&h);
        same_incidents(&ref, &h);
        h_close(&h);
    }
    h_close(&ref);
}
END_TEST

START_TEST(test_key_state_is_compact)
{
    struct harness h;
    h_open(&h, RULES, NULL);
    for (int i = 0; i < 2; i++)
        FEED(&h, "fail", T0 + i * SEC, "ip", "10.1.2.3", "user", "root");
    struct corr_batch b;
    ck_assert_int_eq(corr_batch_end(h.c, &b), 0);
    size_t keybytes = 0;
    for (size_t i = 0; i < b.nstate; i++)
        if (((const char *)b.state[i].key)[0] == 'k' &&
            memcmp((const char *)b.state[i].key + 1, "brute", 6) == 0)
            keybytes = b.state[i].val_len;
    ck_assert_uint_gt(keybytes, 0);
    ck_assert_uint_le(keybytes, 40); /* two entries and a source name */
    /* per-key export agrees with the batch */
    struct ts_buf buf;
    ts_buf_init(&buf, 0);
    for (size_t i = 0; i < b.nstate; i++) {
        ts_buf_reset(&buf);
        ck_assert_int_eq(corr_state_export(h.c, b.state[i].key, b.state[i].key_len, &buf), 0);
        ck_assert_uint_eq(buf.len, b.state[i].val_len);
        ck_assert_int_eq(memcmp(buf.data, b.state[i].val, buf.len), 0);
    }
    ts_buf_free(&buf);
    h_close(&h);
}
END_TEST

START_TEST(test_corrupt_state_is_refused)
{
    struct harness h;
    h_open(&h, RULES, NULL);
    FEED(&h, "fail", T0, "ip", "x", "user", "u");
    h_end(&h);
    ck_assert_uint_ge(h.nkv, 1);
    size_t ki = 0;
    while (h.kv[ki].k[0] != 'k')
        ki++;
    struct kv *kv = &h.kv[ki];
    for (size_t cut = 0; cut < kv->vl; cut++)
        ck_assert_int_ne(corr_state_import(h.c, kv->k, kv->kl, kv->v, cut), 0);
    ck_assert_int_eq(corr_state_import(h.c, "knope\0a\0", 8, kv->v, kv->vl), TS_E_NOTFOUND);
    ck_assert_int_eq(corr_state_import(h.c, kv->k, kv->kl, kv->v, kv->vl), 0);
    h_close(&h);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("corr_state");
    TCase *t = tcase_create("state");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_restart_at_every_position_gives_identical_incidents);
    tcase_add_test(t, test_many_restarts_and_batch_sizes_give_identical_incidents);
    tcase_add_test(t, test_key_state_is_compact);
    tcase_add_test(t, test_corrupt_state_is_refused);
    suite_add_tcase(s, t);
    return s;
}

TS_CHECK_MAIN(make_suite)
