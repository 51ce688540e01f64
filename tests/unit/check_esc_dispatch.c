/* check_esc_dispatch.c - the escalation dispatcher against a real LMDB
 * outbox and the JSON-lines file channel: claim, deliver, mark; retries
 * with back-off and dead letters with an alert; a lease that outlives a
 * crashed dispatcher brings the entry back; threads and graceful stop. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_store_util.h"
#include "../../core/tstime.h"
#include "../../escalate/escalate.h"

static char out_path[128], alerts_path[128];

static void setup(void)
{
    st_mkdir();
    snprintf(out_path, sizeof(out_path), "%s/out.jsonl", st_dir);
    snprintf(alerts_path, sizeof(alerts_path), "%s/alerts.jsonl", st_dir);
}

static void teardown(void)
{
    unlink(out_path);
    unlink(alerts_path);
    st_rmdir();
}

static struct esc_channels *channels(const char *path, const char *dispatch)
{
    char yml[1024];
    snprintf(yml, sizeof(yml), "dispatch: {%s}\nchannels:\n  default: {type: file, path: %s}\n",
             dispatch, path);
    struct esc_channels *c = NULL;
    struct ts_err err = {0};
    int rc = esc_channels_load_buffer("ch.yml", yml, strlen(yml), &c, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    return c;
}

static void put_entries(struct store *s, int n)
{
    struct store_txn *t = st_begin(s);
    for (int i = 0; i < n; i++) {
        char id[80], inc[40], payload[64];
        snprintf(inc, sizeof(inc), "%032d", i);
        snprintf(id, sizeof(id), "%s:1:national:initial-notice", inc);
        snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
        struct store_outbox e;
        memset(&e, 0, sizeof(e));
        e.id = id;
        e.incident_id = inc;
        e.revision = 1;
        e.recipient = "national";
        e.channel = "default";
        e.payload = payload;
        e.payload_len = strlen(payload);
        ck_assert_int_eq(store_outbox_put(t, &e), 0);
    }
    ck_assert_int_eq(store_txn_commit(t, NULL), 0);
}

struct tally {
    int n[3];
    uint32_t max_attempts;
    struct ts_arena *arena;
};

static int tally_fn(void *ctx, const struct store_outbox *e)
{
    struct tally *t = ctx;
    t->n[e->state]++;
    if (e->attempts > t->max_attempts)
        t->max_attempts = e->attempts;
    return 0;
}

static struct tally count_states(struct store *s)
{
    struct tally t;
    memset(&t, 0, sizeof(t));
    ck_assert_int_eq(ts_arena_create(&t.arena, 1u << 16, 1u << 26), 0);
    struct store_txn *x = st_rbegin(s);
    ck_assert_int_eq(store_outbox_list(x, 7u, t.arena, tally_fn, &t), 0);
    store_txn_abort(x);
    ts_arena_destroy(t.arena);
    t.arena = NULL;
    return t;
}

START_TEST(test_dispatch_once_claims_delivers_and_marks_every_due_entry)
{
    struct store *s = st_open();
    put_entries(s, 20);
    struct esc_channels *c = channels(out_path, "claim_max: 3");
    struct esc_dispatch_stats st = {0};
    struct ts_err err = {0};
    int n = esc_dispatch_once(s, c, NULL, 0, &st, &err);
    ck_assert_int_eq(n, 20);
    ck_assert_uint_eq(st.claimed, 20);
    ck_assert_uint_eq(st.delivered, 20);
    ck_assert_uint_eq(st.failed, 0);
    struct tally t = count_states(s);
    ck_assert_int_eq(t.n[STORE_OUTBOX_DELIVERED], 20);
    ck_assert_int_eq(t.n[STORE_OUTBOX_PENDING], 0);
    ck_assert_uint_eq(t.max_attempts, 1);
    ck_assert_int_eq(count_lines(out_path), 20);
    /* nothing is due any more: a second pass claims nothing */
    ck_assert_int_eq(esc_dispatch_once(s, c, NULL, 0, &st, &err), 0);
    ck_assert_int_eq(count_lines(out_path), 20);
    esc_channels_free(c);
    store_close(s);
}
END_TEST

START_TEST(test_transient_failures_back_off_then_dead_letter_with_an_alert)
{
    struct store *s = st_open();
    put_entries(s, 2);
    char dispatch[256];
    snprintf(dispatch, sizeof(dispatch),
             "backoff_base: 1s, backoff_cap: 4s, max_attempts: 3, alerts_file: %s", alerts_path);
    struct esc_channels *c = channels("/nonexistent-dir/out.jsonl", dispatch);
    struct esc_dispatch_stats st = {0};
    struct ts_err err = {0};
    int64_t now = ts_now_ns();
    /* attempt 1 fails: due again between 0.5 s and 1 s later, not now */
    ck_assert_int_eq(esc_dispatch_once(s, c, NULL, now, &st, &err), 2);
    ck_assert_uint_eq(st.retried, 2);
    ck_assert_int_eq(esc_dispatch_once(s, c, NULL, now, &st, &err), 0);
    /* attempt 2, well after the back-off (the mark uses the wall clock) */
    ck_assert_int_eq(esc_dispatch_once(s, c, NULL, ts_now_ns() + 2 * TS_NS_PER_SEC, &st, &err),
                     2);
    ck_assert_uint_eq(st.retried, 4);
    struct tally t = count_states(s);
    ck_assert_int_eq(t.n[STORE_OUTBOX_PENDING], 2);
    ck_assert_uint_eq(t.max_attempts, 2);
    /* attempt 3 = max_attempts: dead letters, one alert line each */
    ck_assert_int_eq(esc_dispatch_once(s, c, NULL, ts_now_ns() + 10 * TS_NS_PER_SEC, &st, &err),
                     2);
    ck_assert_uint_eq(st.failed, 2);
    t = count_states(s);
    ck_assert_int_eq(t.n[STORE_OUTBOX_FAILED], 2);
    ck_assert_int_eq(t.n[STORE_OUTBOX_PENDING], 0);
    ck_assert_int_eq(count_lines(alerts_path), 2);
    /* a dead letter is never claimed again */
    ck_assert_int_eq(esc_dispatch_once(s, c, NULL, ts_now_ns() + 3600 * TS_NS_PER_SEC, &st, &err),
                     0);
    esc_channels_free(c);
    store_close(s);
}
END_TEST

static int ignore(void *ctx, const struct store_outbox *e)
{
    (void)e;
    ++*(int *)ctx;
    return 0;
}

START_TEST(test_lease_expiry_redelivers_after_a_simulated_crash)
{
    struct store *s = st_open();
    put_entries(s, 3);
    /* a dispatcher claims the entries (lease 5 s) and dies before marking */
    struct ts_arena *a = NULL;
    ck_assert_int_eq(ts_arena_create(&a, 1u << 16, 1u << 24), 0);
    int64_t t0 = ts_now_ns();
    struct store_txn *t = st_begin(s);
    int claimed = 0;
    ck_assert_int_eq(store_outbox_claim(t, t0, 5 * TS_NS_PER_SEC, 0, 0, a, ignore, &claimed), 0);
    ck_assert_int_eq(store_txn_commit(t, NULL), 0);
    ck_assert_int_eq(claimed, 3);
    ts_arena_destroy(a);
    /* the restarted dispatcher: nothing while the lease holds ... */
    struct esc_channels *c = channels(out_path, "lease: 5s");
    struct esc_dispatch_stats st = {0};
    struct ts_err err = {0};
    ck_assert_int_eq(esc_dispatch_once(s, c, NULL, t0 + 4 * TS_NS_PER_SEC, &st, &err), 0);
    ck_assert_int_eq(count_lines(out_path), 0);
    /* ... everything once it has expired; the attempt is the second */
    ck_assert_int_eq(esc_dispatch_once(s, c, NULL, t0 + 6 * TS_NS_PER_SEC, &st, &err), 3);
    ck_assert_int_eq(count_lines(out_path), 3);
    struct tally tl = count_states(s);
    ck_assert_int_eq(tl.n[STORE_OUTBOX_DELIVERED], 3);
    ck_assert_uint_eq(tl.max_attempts, 2);
    esc_channels_free(c);
    store_close(s);
}
END_TEST

START_TEST(test_dispatcher_threads_deliver_each_entry_once_and_stop)
{
    struct store *s = st_open();
    put_entries(s, 50);
    struct esc_channels *c = channels(out_path, "threads: 3, claim_max: 2, poll: 50ms");
    struct esc_dispatcher *d = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_dispatcher_start(&d, s, c, NULL, &err), 0);
    struct esc_dispatch_stats st;
    for (int i = 0; i < 200; i++) {
        esc_dispatcher_stats(d, &st);
        if (st.delivered == 50)
            break;
        struct timespec ts = {0, 25 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    /* new entries wake the idle threads */
    esc_dispatcher_kick(d);
    esc_dispatcher_stop(d);
    ck_assert_uint_eq(st.delivered, 50);
    ck_assert_uint_eq(st.claimed, 50);
    ck_assert_int_eq(count_lines(out_path), 50);
    struct tally t = count_states(s);
    ck_assert_int_eq(t.n[STORE_OUTBOX_DELIVERED], 50);
    ck_assert_uint_eq(t.max_attempts, 1);
    esc_channels_free(c);
    store_close(s);
}
END_TEST

START_TEST(test_dispatcher_stopped_at_once_loses_nothing)
{
    struct store *s = st_open();
    put_entries(s, 30);
    struct esc_channels *c = channels(out_path, "threads: 2, claim_max: 16");
    struct esc_dispatcher *d = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_dispatcher_start(&d, s, c, NULL, &err), 0);
    esc_dispatcher_stop(d);
    /* every entry is delivered or pending and due now (not leased away) */
    struct tally t = count_states(s);
    ck_assert_int_eq(t.n[STORE_OUTBOX_DELIVERED] + t.n[STORE_OUTBOX_PENDING], 30);
    ck_assert_int_eq(count_lines(out_path), t.n[STORE_OUTBOX_DELIVERED]);
    struct esc_dispatch_stats st = {0};
    ck_assert_int_eq(esc_dispatch_once(s, c, NULL, 0, &st, &err), t.n[STORE_OUTBOX_PENDING]);
    ck_assert_int_eq(count_lines(out_path), 30);
    esc_channels_free(c);
    store_close(s);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("esc_dispatch");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_dispatch_once_claims_delivers_and_marks_every_due_entry);
    tcase_add_test(tc, test_transient_failures_back_off_then_dead_letter_with_an_alert);
    tcase_add_test(tc, test_lease_expiry_redelivers_after_a_simulated_crash);
    tcase_add_test(tc, test_dispatcher_threads_deliver_each_entry_once_and_stop);
    tcase_add_test(tc, test_dispatcher_stopped_at_once_loses_nothing);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
