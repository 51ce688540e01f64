/* check_store_outbox.c - storage/: the escalation outbox (put in the batch
 * txn, due list, claim with a lease, delivered / retry / failed, requeue,
 * listing by state) and retention (per tenant, bounded batches, resolved
 * incidents, finished outbox entries) against real LMDB files. */
#include "check_store_util.h"

static void setup(void) { st_mkdir(); }
static void teardown(void) { st_rmdir(); }

#define S(x) ((int64_t)(x) * 1000000000LL)

static struct store_outbox entry(const char *id, int64_t due)
{
    struct store_outbox e;
    memset(&e, 0, sizeof(e));
    e.id = id;
    e.incident_id = "inc-1";
    e.revision = 2;
    e.recipient = "national-coordinator";
    e.channel = "webhook:vncert";
    e.payload = "{\"incident\":\"inc-1\"}";
    e.payload_len = strlen(e.payload);
    e.next_attempt_ns = due;
    return e;
}

struct got {
    int n;
    char ids[32][32];
    uint32_t attempts[32];
};

static int collect(void *ctx, const struct store_outbox *e)
{
    struct got *g = ctx;
    if (g->n < 32) {
        snprintf(g->ids[g->n], 32, "%s", e->id);
        g->attempts[g->n] = e->attempts;
        g->n++;
    }
    return 0;
}

static void due(struct store *s, int64_t now, struct got *g)
{
    memset(g, 0, sizeof(*g));
    struct ts_arena *a = st_arena();
    struct store_txn *t = st_rbegin(s);
    ck_assert_int_eq(store_outbox_list_due(t, now, 0, a, collect, g), 0);
    store_txn_abort(t);
    ts_arena_destroy(a);
}

/* A fresh store with one pending entry per id, due at the time beside it,
 * put in order in one committed txn (a repeated id replaces). */
struct due_at {
    const char *id;
    int64_t due;
};

static struct store *open_with(const struct due_at *v, size_t n)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    for (size_t i = 0; i < n; i++) {
        struct store_outbox e = entry(v[i].id, v[i].due);
        ck_assert_int_eq(store_outbox_put(t, &e), 0);
    }
    st_commit(t);
    return s;
}

START_TEST(test_outbox_entry_round_trips_and_is_written_with_the_incident)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, S(100));
    struct store_incident inc = st_incident("inc-1", "a", S(90));
    uint64_t rev;
    ck_assert_int_eq(store_incident_put(t, &inc, &rev), 0);
    struct store_outbox e = entry("inc-1:1:ncsc", 0);
    e.revision = rev;
    ck_assert_int_eq(store_outbox_put(t, &e), 0);
    ck_assert_int_eq(store_offset_put(t, "logs", 0, 5), 0);
    st_commit(t);

    struct ts_arena *a = st_arena();
    t = st_rbegin(s);
    struct store_outbox g;
    ck_assert_int_eq(store_outbox_get(t, "inc-1:1:ncsc", a, &g), 0);
    ck_assert_int_eq(store_outbox_get(t, "nope", a, &g), TS_E_NOTFOUND);
    store_txn_abort(t);
    ck_assert_str_eq(g.incident_id, "inc-1");
    ck_assert_uint_eq(g.revision, 1);
    ck_assert_str_eq(g.recipient, "national-coordinator");
    ck_assert_str_eq(g.channel, "webhook:vncert");
    ck_assert_uint_eq(g.payload_len, e.payload_len);
    ck_assert_int_eq(memcmp(g.payload, e.payload, e.payload_len), 0);
    ck_assert_int_eq(g.state, STORE_OUTBOX_PENDING);
    ck_assert_uint_eq(g.attempts, 0);
    ck_assert_int_eq(g.next_attempt_ns, S(100)); /* 0 = due now */
    ck_assert_int_eq(g.created_ns, S(100));
    ck_assert_str_eq(g.last_error, "");
    ts_arena_destroy(a);

    t = st_begin(s);
    e.id = "";
    ck_assert_int_eq(store_outbox_put(t, &e), TS_E_INVAL);
    e.id = "x";
    e.payload_len = STORE_PAYLOAD_MAX + 1;
    ck_assert_int_eq(store_outbox_put(t, &e), TS_E_INVAL);
    store_txn_abort(t);
    store_close(s);
}
END_TEST

START_TEST(test_outbox_due_list_is_ordered_by_due_time_and_bounded_by_now)
{
    /* "a" again: replaced, moves in the due list */
    const struct due_at v[] = {{"c", S(30)}, {"a", S(10)}, {"b", S(20)}, {"a", S(25)}};
    struct store *s = open_with(v, TS_ARRAY_LEN(v));
    struct got g;
    due(s, S(5), &g);
    ck_assert_int_eq(g.n, 0);
    due(s, S(25), &g);
    ck_assert_int_eq(g.n, 2);
    ck_assert_str_eq(g.ids[0], "b");
    ck_assert_str_eq(g.ids[1], "a");
    due(s, S(100), &g);
    ck_assert_int_eq(g.n, 3);
    ck_assert_str_eq(g.ids[2], "c");
    store_close(s);
}
END_TEST

START_TEST(test_outbox_claim_leases_counts_attempts_and_marks_settle_entries)
{
    const struct due_at v[] = {{"e1", S(10)}, {"e2", S(11)}, {"e3", S(12)}};
    struct store *s = open_with(v, TS_ARRAY_LEN(v));

    struct ts_arena *a = st_arena();
    struct got g = {0};
    struct store_txn *t = st_begin(s);
    ck_assert_int_eq(store_outbox_claim(t, S(50), S(60), 0, 2, a, collect, &g), 0);
    ck_assert_int_eq(store_outbox_claim(t, S(50), 0, 0, 2, a, collect, &g), TS_E_INVAL);
    st_commit(t);
    ck_assert_int_eq(g.n, 2);
    ck_assert_str_eq(g.ids[0], "e1");
    ck_assert_uint_eq(g.attempts[0], 1);
    /* a second dispatcher sees only the unclaimed one */
    memset(&g, 0, sizeof(g));
    t = st_begin(s);
    ck_assert_int_eq(store_outbox_claim(t, S(50), S(60), 0, 0, a, collect, &g), 0);
    st_commit(t);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.ids[0], "e3");

    t = st_begin(s);
    store_txn_set_now(t, S(55));
    ck_assert_int_eq(store_outbox_mark_delivered(t, "e1"), 0);
    ck_assert_int_eq(store_outbox_mark_delivered(t, "e1"), TS_E_INVAL);
    ck_assert_int_eq(store_outbox_mark_retry(t, "e2", S(200), "HTTP 503"), 0);
    ck_assert_int_eq(store_outbox_mark_failed(t, "e3", "HTTP 400: bad request"), 0);
    ck_assert_int_eq(store_outbox_mark_failed(t, "zz", "x"), TS_E_NOTFOUND);
    ck_assert_int_eq(store_txn_error(t), 0);
    st_commit(t);

    /* the lease expired (at 110) but e1/e3 are settled; e2 waits until 200 */
    due(s, S(150), &g);
    ck_assert_int_eq(g.n, 0);
    due(s, S(200), &g);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.ids[0], "e2");

    struct store_outbox o;
    t = st_rbegin(s);
    ck_assert_int_eq(store_outbox_get(t, "e2", a, &o), 0);
    ck_assert_str_eq(o.last_error, "HTTP 503");
    ck_assert_uint_eq(o.attempts, 1);
    ck_assert_int_eq(store_outbox_get(t, "e1", a, &o), 0);
    ck_assert_int_eq(o.state, STORE_OUTBOX_DELIVERED);
    ck_assert_int_eq(o.done_ns, S(55));
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(store_outbox_list(t, 1u << STORE_OUTBOX_FAILED, a, collect, &g), 0);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.ids[0], "e3");
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(store_outbox_list(t, 7, a, collect, &g), 0);
    ck_assert_int_eq(g.n, 3);
    store_txn_abort(t);

    /* the CLI's retry: failed -> pending */
    t = st_begin(s);
    ck_assert_int_eq(store_outbox_requeue(t, "e3", S(300)), 0);
    ck_assert_int_eq(store_outbox_requeue(t, "e1", S(300)), TS_E_INVAL); /* delivered */
    st_commit(t);
    due(s, S(300), &g);
    ck_assert_int_eq(g.n, 2);
    ck_assert_str_eq(store_outbox_state_name(STORE_OUTBOX_FAILED), "failed");
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

START_TEST(test_outbox_claim_after_a_crash_finds_the_lease_expired)
{
    const struct due_at v[] = {{"k", S(10)}};
    struct store *s = open_with(v, TS_ARRAY_LEN(v));
    struct ts_arena *a = st_arena();
    struct got g = {0};
    struct store_txn *t = st_begin(s);
    ck_assert_int_eq(store_outbox_claim(t, S(10), S(30), 0, 0, a, collect, &g), 0);
    st_commit(t);
    store_close(s); /* the dispatcher "dies" before marking */
    s = st_open();
    memset(&g, 0, sizeof(g));
    t = st_begin(s);
    ck_assert_int_eq(store_outbox_claim(t, S(39), S(30), 0, 0, a, collect, &g), 0);
    ck_assert_int_eq(g.n, 0);
    ck_assert_int_eq(store_outbox_claim(t, S(40), S(30), 0, 0, a, collect, &g), 0);
    st_commit(t);
    ck_assert_int_eq(g.n, 1);
    ck_assert_uint_eq(g.attempts[0], 2);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

/* A wall clock stepped back 3 h after a retry was scheduled (by a process
 * since restarted): the retry is due 3 h + its back-off from the new now.
 * Without a horizon the claim leaves it for 3 h; with one (the longest
 * back-off + leases) it is due now, and an entry due inside the horizon is
 * still left for its time. */
START_TEST(test_outbox_claim_takes_an_entry_due_beyond_the_horizon_after_a_step_back)
{
    /* stepped: due on the old clock (10,900 + 60 s); soon: scheduled on the
     * new clock, 30 s ahead */
    const struct due_at v[] = {{"stepped", S(10800 + 100 + 60)}, {"soon", S(100 + 30)}};
    struct store *s = open_with(v, TS_ARRAY_LEN(v));
    struct ts_arena *a = st_arena();
    struct got g = {0};
    struct store_txn *t = st_begin(s);
    ck_assert_int_eq(store_outbox_claim(t, S(100), S(60), 0, 0, a, collect, &g), 0);
    ck_assert_int_eq(g.n, 0); /* the old behaviour: nothing due for 3 h */
    /* horizon 1 h + 2 leases */
    ck_assert_int_eq(store_outbox_claim(t, S(100), S(60), S(3600 + 120), 0, a, collect, &g), 0);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.ids[0], "stepped");
    /* its lease is inside the horizon: not claimed again by the same walk */
    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(store_outbox_claim(t, S(101), S(60), S(3600 + 120), 0, a, collect, &g), 0);
    ck_assert_int_eq(g.n, 0);
    ck_assert_int_eq(store_outbox_claim(t, S(101), S(60), S(30), 0, a, collect, &g),
                     TS_E_INVAL); /* a horizon inside the lease */
    st_commit(t);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

/* A dispatcher that sees the wall clock stepped moves the scheduled times
 * with it: forward, only entries already attempted (a new entry is due on
 * the new clock); back, every pending one. Delivered entries stay. */
START_TEST(test_outbox_shift_due_moves_pending_retries_with_a_clock_step)
{
    const struct due_at v[] = {{"retry", S(10)}, {"new", S(20)}, {"done", S(10)}};
    struct store *s = open_with(v, TS_ARRAY_LEN(v));
    struct ts_arena *a = st_arena();
    struct got g = {0};
    struct store_txn *t = st_begin(s);
    ck_assert_int_eq(store_outbox_claim(t, S(10), S(30), 0, 0, a, collect, &g), 0);
    ck_assert_int_eq(g.n, 2); /* done and retry, leased to 40 s */
    ck_assert_int_eq(store_outbox_mark_delivered(t, "done"), 0);
    ck_assert_int_eq(store_outbox_mark_retry(t, "retry", S(70), "HTTP 503"), 0);
    /* +3 h */
    uint64_t moved = 0;
    ck_assert_int_eq(store_outbox_shift_due(t, S(10800), 1, &moved), 0);
    ck_assert_uint_eq(moved, 1);
    st_commit(t);
    due(s, S(10800 + 69), &g);
    ck_assert_int_eq(g.n, 1); /* "new" only: the retry keeps its 60 s back-off */
    ck_assert_str_eq(g.ids[0], "new");
    due(s, S(10800 + 70), &g);
    ck_assert_int_eq(g.n, 2);
    /* back 6 h: both move */
    t = st_begin(s);
    ck_assert_int_eq(store_outbox_shift_due(t, -S(21600), 0, &moved), 0);
    ck_assert_uint_eq(moved, 2);
    st_commit(t);
    due(s, S(20 - 10800), &g);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.ids[0], "new");
    due(s, S(70 - 10800), &g);
    ck_assert_int_eq(g.n, 2);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

/* ------------------------------------------------------------- retention */

static void add_incident(struct store *s, const char *id, const char *tenant, int64_t now,
                         int nev)
{
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, now);
    struct store_incident inc = st_incident(id, tenant, now);
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
    struct store_evidence ev = {0};
    ev.source = "logs";
    ev.raw = "x";
    ev.raw_len = 1;
    for (int i = 0; i < nev; i++) {
        ev.offset = i;
        ck_assert_int_eq(store_evidence_add(t, id, &ev, NULL), 0);
    }
    st_commit(t);
}

static int count_ev_cb(void *ctx, const struct store_evidence *ev)
{
    (void)ev;
    (*(int *)ctx)++;
    return 0;
}

static int count_ev(struct store *s, const char *id)
{
    struct ts_arena *a = st_arena();
    struct store_txn *t = st_rbegin(s);
    int n = 0;
    ck_assert_int_eq(store_evidence_foreach(t, id, a, count_ev_cb, &n), 0);
    store_txn_abort(t);
    ts_arena_destroy(a);
    return n;
}

static bool exists(struct store *s, const char *id)
{
    struct ts_arena *a = st_arena();
    struct store_txn *t = st_rbegin(s);
    struct store_incident g;
    int rc = store_incident_get(t, id, a, &g);
    store_txn_abort(t);
    ts_arena_destroy(a);
    return rc == 0;
}

START_TEST(test_retention_deletes_old_evidence_per_tenant_in_bounded_batches)
{
    struct store *s = st_open();
    add_incident(s, "old-a", "a", S(100), 25);
    add_incident(s, "old-b", "b", S(100), 25);
    add_incident(s, "old-c", "c", S(100), 5);
    add_incident(s, "new-a", "a", S(900), 5);
    /* tenant a keeps evidence 500 s, b keeps it forever, others 100 s */
    struct store_retention_rule rules[] = {
        {"a", S(500), 0},
        {"b", 0, 0},
        {NULL, S(100), 0},
    };
    struct store_retention_opts o = {rules, 3, S(1000), 10, 0, 0};
    struct store_retention_stats st;
    struct ts_err err = {0};
    ck_assert_int_eq(store_retention_run(s, &o, &st, &err), 0);
    ck_assert_uint_eq(st.evidence, 30);  /* old-a 25 + old-c 5 */
    ck_assert_uint_eq(st.incidents, 0);
    ck_assert_uint_ge(st.txns, 2);       /* ~10 per txn; an evidence chunk goes whole */
    ck_assert(!st.more);
    ck_assert_int_eq(count_ev(s, "old-a"), 0);
    ck_assert_int_eq(count_ev(s, "old-b"), 25);
    ck_assert_int_eq(count_ev(s, "old-c"), 0);
    ck_assert_int_eq(count_ev(s, "new-a"), 5);
    ck_assert(exists(s, "old-a")); /* open incidents stay */
    /* nothing left: a second run deletes nothing */
    ck_assert_int_eq(store_retention_run(s, &o, &st, &err), 0);
    ck_assert_uint_eq(st.evidence, 0);
    store_close(s);
}
END_TEST

START_TEST(test_retention_max_txns_stops_early_and_a_later_run_resumes)
{
    struct store *s = st_open();
    add_incident(s, "old", "a", S(100), 150); /* chunks of 64, 64, 22 references */
    struct store_retention_rule rules[] = {{NULL, S(10), 0}};
    struct store_retention_opts o = {rules, 1, S(1000), 20, 1, 0};
    struct store_retention_stats st;
    ck_assert_int_eq(store_retention_run(s, &o, &st, NULL), 0);
    ck_assert_uint_eq(st.evidence, 64);
    ck_assert_uint_eq(st.txns, 1);
    ck_assert(st.more);
    ck_assert_int_eq(count_ev(s, "old"), 86);
    o.max_txns = 0;
    ck_assert_int_eq(store_retention_run(s, &o, &st, NULL), 0);
    ck_assert_uint_eq(st.evidence, 86);
    ck_assert(!st.more);
    store_close(s);
}
END_TEST

START_TEST(test_retention_deletes_resolved_incidents_with_their_evidence_but_not_open_ones)
{
    struct store *s = st_open();
    add_incident(s, "res-old", "a", S(100), 150);
    add_incident(s, "res-new", "a", S(100), 3);
    add_incident(s, "open-old", "a", S(100), 3);
    add_incident(s, "res-b", "b", S(100), 3);
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, S(200));
    ck_assert_int_eq(store_incident_set_status(t, "res-old", STORE_STATUS_RESOLVED, "x", NULL), 0);
    ck_assert_int_eq(store_incident_set_status(t, "res-b", STORE_STATUS_RESOLVED, "x", NULL), 0);
    store_txn_set_now(t, S(900));
    ck_assert_int_eq(store_incident_set_status(t, "res-new", STORE_STATUS_RESOLVED, "x", NULL), 0);
    st_commit(t);
    struct store_retention_rule rules[] = {{NULL, 0, S(500)}, {"b", 0, 0}};
    struct store_retention_opts o = {rules, 2, S(1000), 8, 0, 0};
    struct store_retention_stats st;
    ck_assert_int_eq(store_retention_run(s, &o, &st, NULL), 0);
    ck_assert_uint_eq(st.incidents, 1);
    ck_assert_uint_eq(st.evidence, 150);
    ck_assert_uint_ge(st.txns, 3); /* 3 evidence chunks at ~8 references per txn */
    ck_assert(!exists(s, "res-old"));
    ck_assert_int_eq(count_ev(s, "res-old"), 0);
    ck_assert(exists(s, "res-new"));
    ck_assert(exists(s, "open-old"));
    ck_assert(exists(s, "res-b"));
    store_close(s);
}
END_TEST

START_TEST(test_retention_deletes_finished_outbox_entries_only)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    char id[16];
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "o%02d", i);
        struct store_outbox e = entry(id, S(1));
        ck_assert_int_eq(store_outbox_put(t, &e), 0);
    }
    store_txn_set_now(t, S(100));
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof(id), "o%02d", i);
        if (i % 2)
            ck_assert_int_eq(store_outbox_mark_delivered(t, id), 0);
        else
            ck_assert_int_eq(store_outbox_mark_failed(t, id, "x"), 0);
    }
    st_commit(t);
    struct store_retention_opts o = {NULL, 0, S(1000), 7, 0, S(500)};
    struct store_retention_stats st;
    ck_assert_int_eq(store_retention_run(s, &o, &st, NULL), 0);
    ck_assert_uint_eq(st.outbox, 20);
    struct got g;
    due(s, S(1000), &g);
    ck_assert_int_eq(g.n, 10);
    store_close(s);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("store_outbox");
    TCase *tc = tcase_create("outbox");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_outbox_entry_round_trips_and_is_written_with_the_incident);
    tcase_add_test(tc, test_outbox_due_list_is_ordered_by_due_time_and_bounded_by_now);
    tcase_add_test(tc, test_outbox_claim_leases_counts_attempts_and_marks_settle_entries);
    tcase_add_test(tc, test_outbox_claim_after_a_crash_finds_the_lease_expired);
    tcase_add_test(tc, test_outbox_claim_takes_an_entry_due_beyond_the_horizon_after_a_step_back);
    tcase_add_test(tc, test_outbox_shift_due_moves_pending_retries_with_a_clock_step);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("retention");
    tcase_add_checked_fixture(tr, setup, teardown);
    tcase_add_test(tr, test_retention_deletes_old_evidence_per_tenant_in_bounded_batches);
    tcase_add_test(tr, test_retention_max_txns_stops_early_and_a_later_run_resumes);
    tcase_add_test(tr, test_retention_deletes_resolved_incidents_with_their_evidence_but_not_open_ones);
    tcase_add_test(tr, test_retention_deletes_finished_outbox_entries_only);
    suite_add_tcase(s, tr);
    return s;
}

TS_CHECK_MAIN(make_suite)
