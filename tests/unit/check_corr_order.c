/* check_corr_order.c - out-of-order arrival within the lateness allowance
 * gives exactly the incidents of in-order arrival (issue 10): for every
 * correlation type, with lower bounds, upper bounds, ranges and neq, random
 * streams (seeded, so every run is the same) are fed once sorted by event
 * time and once shuffled within the allowance - in batches of random size,
 * with a restart (export, new engine, import) at a random point - and the
 * final incidents (ids, counts, first/last seen, distinct values) must be
 * equal. Equal timestamps are frequent on purpose (whole seconds). */
#include "check_corr_util.h"

#define LATENESS (120 * SEC)

#define CORR(id, type, rules, span, cond)                                                         \
    "title: " id "\nid: " id "\ncorrelation:\n  type: " type "\n  rules: " rules "\n"             \
    "  group-by: [ip]\n  timespan: " span "\n" cond "---\n"

/* Each suite case: the correlations of one type (lower bound, upper bound or
 * range, neq) over detection rules a, b, c. */
struct order_case {
    const char *name;
    const char *rules;
};

static const struct order_case cases[] = {
    {"event_count",
     CORR("ec_gte", "event_count", "[a]", "30s", "  condition:\n    gte: 3\n")
     CORR("ec_range", "event_count", "[a]", "30s", "  condition:\n    gt: 2\n    lte: 4\n")
     CORR("ec_lt", "event_count", "[a, b]", "20s", "  condition:\n    lt: 3\n")
     CORR("ec_neq", "event_count", "[b]", "40s", "  condition:\n    neq: 2\n")
     CORR("ec_eq", "event_count", "[a, c]", "25s", "  condition:\n    eq: 3\n")},
    {"value_count",
     CORR("vc_gte", "value_count", "[a, b]", "40s", "  condition:\n    field: user\n    gte: 3\n")
     CORR("vc_range", "value_count", "[a]", "40s",
          "  condition:\n    field: user\n    gt: 1\n    lt: 3\n")
     CORR("vc_neq", "value_count", "[b, c]", "30s", "  condition:\n    field: user\n    neq: 1\n")},
    {"temporal",
     CORR("t_all", "temporal", "[a, b, c]", "30s", "")
     CORR("t_lt", "temporal", "[a, b, c]", "20s", "  condition:\n    lt: 3\n")
     CORR("t_eq", "temporal", "[a, b, c]", "40s", "  condition:\n    eq: 2\n")},
    {"temporal_ordered",
     CORR("to_all", "temporal_ordered", "[a, b, c]", "40s", "")
     CORR("to_lte", "temporal_ordered", "[a, b, c]", "30s", "  condition:\n    lte: 1\n")
     CORR("to_range", "temporal_ordered", "[b, a, c]", "45s",
          "  condition:\n    gte: 2\n    neq: 3\n")},
    {"value_sum",
     CORR("vs_gt", "value_sum", "[a, b]", "30s", "  condition:\n    field: n\n    gt: 100\n")
     CORR("vs_range", "value_sum", "[a]", "30s",
          "  condition:\n    field: n\n    gte: 40\n    lte: 90\n")
     CORR("vs_neq", "value_sum", "[c]", "20s", "  condition:\n    field: n\n    neq: 30\n")},
    {"value_avg",
     CORR("va_gt", "value_avg", "[a, b]", "30s", "  condition:\n    field: n\n    gt: 30\n")
     CORR("va_range", "value_avg", "[a]", "40s",
          "  condition:\n    field: n\n    gt: 10\n    lt: 25\n")
     CORR("va_lte", "value_avg", "[b, c]", "20s", "  condition:\n    field: n\n    lte: 15\n")},
    {"value_percentile",
     CORR("vp_gte", "value_percentile", "[a, b]", "40s",
          "  condition:\n    field: n\n    percentile: 75\n    gte: 40\n")
     CORR("vp_lte", "value_percentile", "[a]", "30s", "  condition:\n    field: n\n    lte: 10\n")
     CORR("vp_range", "value_percentile", "[b, c]", "30s",
          "  condition:\n    field: n\n    percentile: 90\n    gt: 5\n    lt: 50\n")},
    {"chain",
     CORR("ch_base", "event_count", "[a]", "20s", "  condition:\n    gte: 2\n    lte: 3\n")
     CORR("ch_top", "event_count", "[ch_base]", "60s", "  condition:\n    gte: 2\n    lt: 5\n")
     CORR("ch_then", "temporal_ordered", "[ch_base, b]", "40s", "")},
};

#define RULES_OF(i) DET_RULE("a") DET_RULE("b") DET_RULE("c")

struct oev {
    int rule; /* 0 a, 1 b, 2 c */
    int64_t t;
    int ip, user, n;
    int64_t arrive; /* t + delay within the allowance */
    uint64_t line;
};

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t make_stream(struct oev *out, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
    int64_t t = T0;
    for (size_t i = 0; i < n; i++) {
        /* whole seconds, often equal; bursts and pauses */
        uint64_t r = rnd(&s);
        t += (int64_t)(r % 8 == 0 ? 20 + r % 40 : r % 5) * SEC;
        out[i].t = t;
        out[i].rule = (int)(rnd(&s) % 3);
        out[i].ip = (int)(rnd(&s) % 3);
        out[i].user = (int)(rnd(&s) % 5);
        out[i].n = (int)(rnd(&s) % 60);
        out[i].arrive = t + (int64_t)(rnd(&s) % (LATENESS / SEC + 1)) * SEC;
        out[i].line = i + 1;
    }
    return n;
}

static int by_time(const void *x, const void *y)
{
    const struct oev *a = x, *b = y;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->line < b->line ? -1 : a->line > b->line;
}

static int by_arrival(const void *x, const void *y)
{
    const struct oev *a = x, *b = y;
    if (a->arrive != b->arrive)
        return a->arrive < b->arrive ? -1 : 1;
    return a->line < b->line ? -1 : a->line > b->line;
}

static void feed_one(struct harness *h, const struct oev *e)
{
    static const char *const rules[] = {"a", "b", "c"};
    static const char *const ips[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3"};
    static const char *const users[] = {"root", "admin", "oracle", "test", "guest"};
    char n[16];
    snprintf(n, sizeof(n), "#%d", e->n);
    ck_assert_int_eq(h_feed_src(h, rules[e->rule], e->t, "s.log", e->line, "ip", ips[e->ip],
                                "user", users[e->user], "n", n, NULL),
                     0);
}

/* Rules text without the empty document after the last "---". */
static void no_trailing_doc(char *rules)
{
    size_t l = strlen(rules);
    if (l >= 4 && strcmp(rules + l - 4, "---\n") == 0)
        rules[l - 4] = '\0';
}

static const struct corr_opts order_opts = {.lateness_ns = LATENESS};

/* Feed evs in the given order; a batch ends every 1..9 events (random),
 * and when restart_at < n the engine restarts from its store there. */
static void run(struct harness *h, const char *rules, const struct oev *evs, size_t n,
                uint64_t seed, size_t restart_at)
{
    h_open(h, rules, &order_opts);
    uint64_t s = seed + 77;
    size_t next = 1 + rnd(&s) % 9;
    for (size_t i = 0; i < n; i++) {
        if (i == restart_at) {
            h_end(h);
            h_restart(h, &order_opts);
        }
        feed_one(h, &evs[i]);
        if (--next == 0) {
            h_end(h);
            next = 1 + rnd(&s) % 9;
        }
    }
    h_end(h);
}

static void same_incidents(const struct harness *a, const struct harness *b, const char *what,
                           uint64_t seed)
{
    for (size_t i = 0; i < a->ninc; i++) {
        const struct inc_rec *x = &a->inc[i], *y = NULL;
        for (size_t j = 0; j < b->ninc && !y; j++)
            if (strcmp(b->inc[j].id, x->id) == 0)
                y = &b->inc[j];
        ck_assert_msg(y != NULL, "%s seed %llu: incident %s (%s %s count %llu) missing", what,
                      (unsigned long long)seed, x->id, x->rule, x->group,
                      (unsigned long long)x->count);
        ck_assert_msg(x->count == y->count && x->first == y->first && x->last == y->last &&
                          x->nvalues == y->nvalues,
                      "%s seed %llu: %s %s: in order count %llu first %lld last %lld values %zu"
                      ", shuffled count %llu first %lld last %lld values %zu",
                      what, (unsigned long long)seed, x->rule, x->group,
                      (unsigned long long)x->count, (long long)((x->first - T0) / SEC),
                      (long long)((x->last - T0) / SEC), x->nvalues,
                      (unsigned long long)y->count, (long long)((y->first - T0) / SEC),
                      (long long)((y->last - T0) / SEC), y->nvalues);
    }
    ck_assert_msg(a->ninc == b->ninc, "%s seed %llu: %zu incidents in order, %zu shuffled", what,
                  (unsigned long long)seed, a->ninc, b->ninc);
}

#define NEV 150
#define SEEDS 40

START_TEST(test_shuffled_arrival_within_allowance_equals_sorted_run)
{
    const struct order_case *oc = &cases[_i];
    char rules[8192];
    snprintf(rules, sizeof(rules), "%s%s", RULES_OF(0), oc->rules);
    no_trailing_doc(rules);
    size_t fired = 0, within = 0, retracted = 0;
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        struct oev sorted[NEV], shuffled[NEV];
        size_t n = make_stream(sorted, NEV, seed + 1000u * (uint64_t)_i);
        memcpy(shuffled, sorted, sizeof(sorted));
        qsort(sorted, n, sizeof(*sorted), by_time);
        qsort(shuffled, n, sizeof(*shuffled), by_arrival);
        /* the reference: in time order, one batch */
        struct harness ref;
        h_open(&ref, rules, &order_opts);
        ck_assert_uint_eq(ref.rep.nproblems, 0);
        for (size_t i = 0; i < n; i++)
            feed_one(&ref, &sorted[i]);
        h_end(&ref);
        struct harness sh;
        run(&sh, rules, shuffled, n, seed, (size_t)(seed * 37 % n));
        struct corr_metrics m;
        corr_metrics_get(sh.c, &m);
        ck_assert_uint_eq(m.late_beyond, 0); /* all within the allowance */
        within += m.late_within;
        retracted += sh.nretracted;
        fired += ref.ninc;
        same_incidents(&ref, &sh, oc->name, seed);
        h_close(&sh);
        /* the sorted order in random batches with a restart: the same */
        struct harness sb;
        run(&sb, rules, sorted, n, seed + 5, (size_t)(seed * 53 % n));
        same_incidents(&ref, &sb, oc->name, seed);
        h_close(&sb);
        h_close(&ref);
    }
    /* the streams exercise what they should */
    ck_assert_uint_gt(fired, SEEDS);
    ck_assert_uint_gt(within, SEEDS * 10);
    ck_assert_uint_gt(retracted, 0); /* and some episodes are undone */
}
END_TEST

/* The case through the whole API path with a restart between the
 * two batches: the late :24 after :26, the engine restarted in between. */
START_TEST(test_upper_bound_late_event_after_restart_equals_in_order)
{
    char rules[2048];
    snprintf(rules, sizeof(rules), "%s%s", DET_RULE("a"),
             CORR("b", "event_count", "[a]", "60s", "  condition:\n    gt: 3\n    lte: 4\n"));
    no_trailing_doc(rules);
    static const int at[] = {0, 8, 19, 26, 24};
    struct harness h;
    h_open(&h, rules, NULL);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(h_feed_src(&h, "a", T0 + at[i] * SEC, "auth.log", (uint64_t)i + 1, "ip",
                                    "203.0.113.7", NULL),
                         0);
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    ck_assert_int_eq(h.inc[0].last, T0 + 26 * SEC); /* so far, in time order too */
    h_restart(&h, NULL);
    ck_assert_int_eq(h_feed_src(&h, "a", T0 + 24 * SEC, "auth.log", 5, "ip", "203.0.113.7", NULL),
                     0);
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    ck_assert_uint_eq(h.inc[0].count, 4);
    ck_assert_int_eq(h.inc[0].last, T0 + 24 * SEC);
    h_close(&h);
}
END_TEST

/* An episode that in time order never forms is retracted: three failures
 * at 0, 50, 100 s with "gte 1, lt 2" over 40 s... are three incidents in
 * order; a late event at 25 s joins the first two into one window of two
 * (fails lt 2) - in time order the window at 25 holds {0, 25}: no; at 50
 * {25, 50}: no. The incidents of 50 (and 25) do not exist; that of 0 and
 * 100 do. */
START_TEST(test_incident_that_never_forms_in_order_is_retracted)
{
    char rules[2048];
    snprintf(rules, sizeof(rules), "%s%s", DET_RULE("a"),
             CORR("x", "event_count", "[a]", "40s", "  condition:\n    lt: 2\n"));
    no_trailing_doc(rules);
    struct harness h;
    h_open(&h, rules, NULL);
    static const int at[] = {0, 50, 100};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(h_feed_src(&h, "a", T0 + at[i] * SEC, "f", (uint64_t)i + 1, "ip", "x",
                                    NULL),
                         0);
        h_end(&h);
    }
    ck_assert_uint_eq(h.ninc, 3);
    ck_assert_int_eq(h_feed_src(&h, "a", T0 + 25 * SEC, "f", 4, "ip", "x", NULL), 0);
    h_end(&h);
    ck_assert_uint_eq(h.nretracted, 1);
    ck_assert_uint_eq(h.ninc, 2);
    const int64_t want[] = {T0, T0 + 100 * SEC};
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(h.inc[i].first, want[i]);
        ck_assert_uint_eq(h.inc[i].count, 1);
    }
    struct corr_metrics m;
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.incidents_retracted, 1);
    h_close(&h);
}
END_TEST

/* Same-timestamp events count together, whatever their arrival order or
 * batching: the window ending at t holds every event at t. Three failures
 * in the same second never make "lte 2" hold (no window holds two of
 * them and not the third); they make "eq 3" hold once, with count 3. */
START_TEST(test_events_with_the_same_timestamp_count_together)
{
    char rules[2048];
    snprintf(rules, sizeof(rules), "%s%s%s", DET_RULE("a"),
             CORR("le2", "event_count", "[a]", "10s", "  condition:\n    lte: 2\n"),
             CORR("eq3", "event_count", "[a]", "10s", "  condition:\n    eq: 3\n"));
    no_trailing_doc(rules);
    for (int batched = 0; batched < 2; batched++) {
        struct harness h;
        h_open(&h, rules, NULL);
        for (int i = 0; i < 3; i++) {
            ck_assert_int_eq(h_feed_src(&h, "a", T0, "f", (uint64_t)i + 1, "ip", "x", NULL), 0);
            if (batched)
                h_end(&h);
        }
        h_end(&h);
        ck_assert_ptr_null(h_find(&h, "le2", NULL));
        const struct inc_rec *r = h_find(&h, "eq3", NULL);
        ck_assert_ptr_nonnull(r);
        ck_assert_uint_eq(r->count, 3);
        ck_assert_uint_eq(h.ninc, 1);
        h_close(&h);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("corr_order");
    TCase *t = tcase_create("order");
    tcase_set_timeout(t, 300);
    tcase_add_loop_test(t, test_shuffled_arrival_within_allowance_equals_sorted_run, 0,
                        (int)TS_ARRAY_LEN(cases));
    tcase_add_test(t, test_upper_bound_late_event_after_restart_equals_in_order);
    tcase_add_test(t, test_incident_that_never_forms_in_order_is_retracted);
    tcase_add_test(t, test_events_with_the_same_timestamp_count_together);
    suite_add_tcase(s, t);
    return s;
}

TS_CHECK_MAIN(make_suite)
