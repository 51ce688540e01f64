/* check_esc_due.c - escalate/: the due-report pass (esc_due_queue) over a
 * real LMDB store: the weekly update of a serious incident under
 * law116-2025 queued once per due time, the policy switch (auto_send),
 * overdue required reports, an update caused by a change moving the next
 * due time, dead letters not queued again, the deadline listing after a
 * pass, and the dispatcher running the pass and delivering its entries. */
#include <jansson.h>
#include <time.h>

#include "check_esc_util.h"
#include "check_store_util.h"
#include "../../escalate/channel_int.h"

#define DAY (24 * ESC_H)
/* ESC_T0 = 2026-11-20T03:00:00Z = 1795143600 s */
#define T0_S INT64_C(1795143600)
#define INC_ID "5f1d3c0a9b8e7d6c5b4a39281706f5e4"

static struct esc_regime *law;
static struct esc_taxonomy *tax;
static struct esc_assets *assets;
static struct esc_policy *pol_periodic, *pol_overdue, *pol_shipped;
static struct esc_env env;
static struct store *s;
static struct ts_arena *ar;

static struct esc_policy *policy(const char *yml)
{
    struct esc_policy *p = NULL;
    struct ts_err err = {0};
    int rc = esc_policy_load_buffer("policy.yml", yml, strlen(yml), &p, &err);
    ck_assert_msg(rc == 0, "%s:%u:%u: %s", err.file, err.line, err.col, err.msg);
    rc = esc_policy_check(p, law, &err);
    ck_assert_msg(rc == 0, "%s:%u:%u: %s", err.file, err.line, err.col, err.msg);
    return p;
}

static void setup(void)
{
    law = esc_test_regime("law116-2025");
    tax = esc_test_taxonomy();
    assets = esc_test_assets();
    pol_periodic = policy("regime: law116-2025\n"
                          "auto_send: {periodic: true}\n"
                          "channels: {national: webhook:national}\n");
    pol_overdue = policy("auto_send:\n  overdue: [initial-notice]\n");
    pol_shipped = esc_test_policy();
    env = (struct esc_env){.regime = law, .taxonomy = tax, .assets = assets,
                           .policy = pol_periodic};
    st_mkdir();
    s = st_open();
    ar = st_arena();
}

static void teardown(void)
{
    ts_arena_destroy(ar);
    store_close(s);
    st_rmdir();
    esc_regime_free(law);
    esc_taxonomy_free(tax);
    esc_assets_free(assets);
    esc_policy_free(pol_periodic);
    esc_policy_free(pol_overdue);
    esc_policy_free(pol_shipped);
}

/* The serious ransomware incident on db-01 (level 4) stored at `at`, with
 * the initial notices its detection queues (esc_outbox_build), marked
 * delivered when `delivered`. */
static void detect(int64_t at, bool delivered)
{
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, at);
    struct store_incident in = esc_test_incident();
    in.created_ns = at;
    ck_assert_int_eq(store_incident_put(t, &in, NULL), 0);
    struct store_incident cur;
    ck_assert_int_eq(store_incident_get(t, in.id, ar, &cur), 0);
    struct esc_outbox_batch ob;
    ck_assert_int_eq(esc_outbox_build(&env, t, NULL, &cur, at, &ob), 0);
    ck_assert_uint_eq(ob.n, 2); /* managing body (ours) and A05 (Decree 331 Art. 31.2.d) */
    ck_assert_int_eq(esc_outbox_put_all(t, &ob), 0);
    for (size_t i = 0; delivered && i < ob.n; i++)
        ck_assert_int_eq(store_outbox_mark_delivered(t, ob.entries[i].id), 0);
    esc_outbox_batch_free(&ob);
    st_commit(t);
    ts_arena_reset(ar);
}

struct got {
    char ids[16][STORE_ID_MAX + 1];
    size_t n;
};

static void on_queued(void *ctx, const struct store_outbox *e)
{
    struct got *g = ctx;
    if (g->n < 16)
        snprintf(g->ids[g->n++], sizeof(g->ids[0]), "%s", e->id);
}

/* One pass at `at` (the txn clock), committed. */
static struct esc_due_stats pass(int64_t at, struct got *g)
{
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, at);
    struct esc_due_opts o = {.queued = on_queued, .ctx = g};
    struct esc_due_stats st;
    ck_assert_int_eq(esc_due_queue(&env, t, &o, &st), 0);
    st_commit(t);
    return st;
}

struct count {
    size_t n[3];
    size_t total;
};

static int count_fn(void *ctx, const struct store_outbox *e)
{
    struct count *c = ctx;
    c->n[e->state]++;
    c->total++;
    ts_arena_reset(ar);
    return 0;
}

static struct count outbox(void)
{
    struct count c;
    memset(&c, 0, sizeof(c));
    struct store_txn *t = st_rbegin(s);
    ck_assert_int_eq(store_outbox_list(t, 7u, ar, count_fn, &c), 0);
    store_txn_abort(t);
    return c;
}

static json_t *entry_json(const char *id, struct store_outbox *e)
{
    struct store_txn *t = st_rbegin(s);
    ck_assert_int_eq(store_outbox_get(t, id, ar, e), 0);
    json_error_t je;
    json_t *j = json_loadb(e->payload, e->payload_len, 0, &je);
    ck_assert_msg(j != NULL, "payload of %s: %s", id, je.text);
    store_txn_abort(t);
    return j;
}

static int overdue_fn(void *ctx, const struct esc_deadline *d)
{
    size_t *n = ctx;
    *n += d->overdue && !strcmp(d->due->report, "update");
    return 0;
}

static size_t overdue_at(int64_t at)
{
    size_t n = 0;
    struct store_txn *t = st_rbegin(s);
    ck_assert_int_eq(esc_deadlines_list(&env, t, at, 0, ESC_DL_OVERDUE, overdue_fn, &n), 0);
    store_txn_abort(t);
    return n;
}

START_TEST(test_weekly_update_queued_once_at_7_days_and_again_at_14_days)
{
    detect(ESC_T0, true);
    /* 6 days 23 h: not due yet */
    struct got g = {.n = 0};
    struct esc_due_stats st = pass(ESC_T0 + 7 * DAY - ESC_H, &g);
    ck_assert_uint_eq(st.queued, 0);

    /* 7 days 1 h without an update: the weekly update to the three
     * recipients, due 2026-11-27T03:00:00Z = 1795143600 + 604800 */
    st = pass(ESC_T0 + 7 * DAY + ESC_H, &g);
    ck_assert_uint_eq(st.queued, 2);
    ck_assert_uint_eq(st.existing, 0);
    ck_assert(!st.more);
    ck_assert_str_eq(g.ids[0], INC_ID ":due1795748400:national:update");
    ck_assert_str_eq(g.ids[1], INC_ID ":due1795748400:managing_body:update");
    struct store_outbox e;
    json_t *j = entry_json(g.ids[0], &e);
    ck_assert_str_eq(json_string_value(json_object_get(j, "report_id")), g.ids[0]);
    json_t *rep = json_object_get(j, "report");
    ck_assert_str_eq(json_string_value(json_object_get(rep, "id")), "update");
    ck_assert_str_eq(json_string_value(json_object_get(rep, "stage")), "update");
    ck_assert_str_eq(json_string_value(json_object_get(rep, "due_at")),
                     "2026-11-27T03:00:00.000Z");
    ck_assert_str_eq(e.channel, "webhook:national"); /* the policy's channels */
    ck_assert_str_eq(e.recipient, "national");
    ck_assert_uint_eq(e.revision, 1);
    ck_assert_int_eq(e.state, STORE_OUTBOX_PENDING);
    char key[STORE_ID_MAX + 24];
    esc_idempotency_key(&e, key, sizeof(key));
    ck_assert_str_eq(key, INC_ID ":due1795748400"); /* not INC_ID ":1" of the notice */
    json_decref(j);
    ck_assert_uint_eq(outbox().total, 4);

    /* a second pass, at once and 2 days later: nothing */
    st = pass(ESC_T0 + 7 * DAY + ESC_H, &g);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.existing, 0);
    st = pass(ESC_T0 + 9 * DAY, &g);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(outbox().total, 4);
    /* the listing agrees: the next update is overdue after 14 days */
    ck_assert_uint_eq(overdue_at(ESC_T0 + 13 * DAY), 0);
    ck_assert_uint_eq(overdue_at(ESC_T0 + 14 * DAY + ESC_H), 2);

    /* a pass that crashes before its commit leaves nothing behind */
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, ESC_T0 + 14 * DAY + ESC_H);
    ck_assert_int_eq(esc_due_queue(&env, t, NULL, &st), 0);
    ck_assert_uint_eq(st.queued, 2);
    store_txn_abort(t);
    ck_assert_uint_eq(outbox().total, 4);

    /* 14 days 1 h: the next one, due 1795748400 + 604800 */
    g.n = 0;
    st = pass(ESC_T0 + 14 * DAY + ESC_H, &g);
    ck_assert_uint_eq(st.queued, 2);
    ck_assert_str_eq(g.ids[0], INC_ID ":due1796353200:national:update");
    st = pass(ESC_T0 + 14 * DAY + 2 * ESC_H, &g);
    ck_assert_uint_eq(st.queued, 0);
    struct count c = outbox();
    ck_assert_uint_eq(c.total, 6);
    ck_assert_uint_eq(c.n[STORE_OUTBOX_PENDING], 4);
    ck_assert_uint_eq(c.n[STORE_OUTBOX_DELIVERED], 2);
}
END_TEST

START_TEST(test_nothing_queued_when_auto_send_is_off)
{
    ck_assert_uint_eq(esc_policy_auto_send(pol_shipped), 0); /* the shipped default */
    ck_assert_uint_eq(esc_policy_auto_send(NULL), 0);
    ck_assert_uint_eq(esc_policy_auto_send(pol_periodic), ESC_AUTO_PERIODIC);
    ck_assert_uint_eq(esc_policy_auto_send(pol_overdue), ESC_AUTO_OVERDUE);
    detect(ESC_T0, true);
    struct got g = {.n = 0};
    env.policy = pol_shipped;
    ck_assert_uint_eq(pass(ESC_T0 + 15 * DAY, &g).queued, 0);
    env.policy = NULL;
    ck_assert_uint_eq(pass(ESC_T0 + 15 * DAY, &g).queued, 0);
    struct esc_due_stats st;
    ck_assert_int_eq(esc_due_queue_run(&env, s, NULL, &st, NULL), 0);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(outbox().total, 2);
    /* the caller may ask for a kind the policy leaves off (the CLI, by hand) */
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, ESC_T0 + 15 * DAY);
    struct esc_due_opts o = {.kinds = ESC_AUTO_PERIODIC};
    ck_assert_int_eq(esc_due_queue(&env, t, &o, &st), 0);
    ck_assert_uint_eq(st.queued, 2);
    store_txn_abort(t);
}
END_TEST

START_TEST(test_missed_passes_queue_one_update_for_the_latest_due_time)
{
    detect(ESC_T0, true);
    struct got g = {.n = 0};
    /* first pass at 22 days: one update per recipient, due at 21 days */
    struct esc_due_stats st = pass(ESC_T0 + 22 * DAY, &g);
    ck_assert_uint_eq(st.queued, 2);
    ck_assert_str_eq(g.ids[0], INC_ID ":due1796958000:national:update");
    ck_assert_uint_eq(pass(ESC_T0 + 22 * DAY, &g).queued, 0);
    ck_assert_uint_eq(pass(ESC_T0 + 28 * DAY - ESC_H, &g).queued, 0);
    ck_assert_uint_eq(pass(ESC_T0 + 28 * DAY, &g).queued, 2);
    ck_assert_uint_eq(outbox().total, 6);
}
END_TEST

START_TEST(test_update_caused_by_a_change_moves_the_next_due_time)
{
    detect(ESC_T0, true);
    /* 3 days in, the severity rises: the update is sent (send: on_change) */
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, ESC_T0 + 3 * DAY);
    struct store_incident prev, cur, in = esc_test_incident();
    ck_assert_int_eq(store_incident_get(t, in.id, ar, &prev), 0);
    in.severity = 4;
    ck_assert_int_eq(store_incident_put(t, &in, NULL), 0);
    ck_assert_int_eq(store_incident_get(t, in.id, ar, &cur), 0);
    struct esc_outbox_batch ob;
    ck_assert_int_eq(esc_outbox_build(&env, t, &prev, &cur, ESC_T0 + 3 * DAY, &ob), 0);
    ck_assert_uint_eq(ob.n, 2); /* managing body (ours) and A05 (Decree 331 Art. 31.2.d) */
    ck_assert_ptr_nonnull(strstr(ob.entries[0].id, ":2:national:update"));
    ck_assert_int_eq(esc_outbox_put_all(t, &ob), 0);
    esc_outbox_batch_free(&ob);
    st_commit(t);
    ts_arena_reset(ar);
    /* so the next one is due 7 days after it, at 10 days */
    struct got g = {.n = 0};
    ck_assert_uint_eq(pass(ESC_T0 + 7 * DAY + ESC_H, &g).queued, 0);
    ck_assert_uint_eq(pass(ESC_T0 + 10 * DAY + ESC_H, &g).queued, 2);
    ck_assert_str_eq(g.ids[1], INC_ID ":due1796007600:managing_body:update");
}
END_TEST

START_TEST(test_overdue_required_report_is_queued_once_and_a_dead_letter_not_again)
{
    env.policy = pol_overdue;
    detect(ESC_T0, false);
    /* the national notice was dead-lettered; the other two are pending */
    struct store_txn *t = st_begin(s);
    ck_assert_int_eq(store_outbox_mark_failed(t, INC_ID ":1:national:initial-notice", "401"), 0);
    st_commit(t);
    struct got g = {.n = 0};
    /* 23 h: not overdue yet */
    ck_assert_uint_eq(pass(ESC_T0 + 23 * ESC_H, &g).queued, 0);
    /* 25 h: the national notice again, once (due 24 h after detection) */
    struct esc_due_stats st = pass(ESC_T0 + 25 * ESC_H, &g);
    ck_assert_uint_eq(st.queued, 1);
    ck_assert_str_eq(g.ids[0], INC_ID ":due1795230000:national:initial-notice");
    ck_assert_uint_eq(pass(ESC_T0 + 26 * ESC_H, &g).queued, 0);
    /* 73 h: the detailed report is overdue too, but the policy lists only
     * initial-notice; nor is the update (periodic is off) at 8 days */
    ck_assert_uint_eq(pass(ESC_T0 + 8 * DAY, &g).queued, 0);
    /* that entry dead-lettered as well: not queued again */
    t = st_begin(s);
    ck_assert_int_eq(store_outbox_mark_failed(t, g.ids[0], "401"), 0);
    st_commit(t);
    st = pass(ESC_T0 + 8 * DAY, &g);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.existing, 1);
    ck_assert_uint_eq(outbox().total, 3);
    /* asked for every overdue required report (by hand): the three
     * detailed reports (send: manual, never queued) */
    t = st_begin(s);
    store_txn_set_now(t, ESC_T0 + 8 * DAY);
    struct esc_due_opts o = {.kinds = ESC_AUTO_OVERDUE, .queued = on_queued, .ctx = &g};
    g.n = 0;
    ck_assert_int_eq(esc_due_queue(&env, t, &o, &st), 0);
    st_commit(t);
    ck_assert_uint_eq(st.queued, 1);
    ck_assert_str_eq(g.ids[0], INC_ID ":due1795402800:national:detailed-report");
}
END_TEST

START_TEST(test_pass_stops_at_max_and_the_next_pass_goes_on)
{
    detect(ESC_T0, true);
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, ESC_T0 + 7 * DAY + ESC_H);
    struct esc_due_opts o = {.max = 1};
    struct esc_due_stats st;
    ck_assert_int_eq(esc_due_queue(&env, t, &o, &st), 0);
    ck_assert_uint_eq(st.queued, 1);
    ck_assert(st.more);
    ck_assert_int_eq(esc_due_queue(&env, t, &o, &st), 0);
    ck_assert_uint_eq(st.queued, 1);
    ck_assert(!st.more);
    st_commit(t);
    ck_assert_uint_eq(outbox().total, 4);
}
END_TEST

START_TEST(test_auto_send_errors_name_file_line_col)
{
    static const char *const bad[] = {
        "auto_send: {periodic: yes}\n",
        "auto_send: {sometimes: true}\n",
        "auto_send: {overdue: often}\n",
    };
    for (size_t i = 0; i < 3; i++) {
        struct esc_policy *p = NULL;
        struct ts_err err = {0};
        ck_assert_int_eq(esc_policy_load_buffer("p.yml", bad[i], strlen(bad[i]), &p, &err),
                         TS_E_CONFIG);
        ck_assert_uint_eq(err.line, 1);
        ck_assert_uint_gt(err.col, 1);
    }
    static const char unknown[] = "regime: law116-2025\n"
                                  "auto_send:\n  overdue: [initial-notice, closing-reprot]\n";
    struct esc_policy *p = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_policy_load_buffer("p.yml", unknown, strlen(unknown), &p, &err), 0);
    ck_assert_int_eq(esc_policy_check(p, law, &err), TS_E_CONFIG);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_ptr_nonnull(strstr(err.msg, "closing-reprot"));
    esc_policy_free(p);
}
END_TEST

START_TEST(test_dispatcher_runs_the_pass_and_delivers_the_updates)
{
    /* detected 7 days and 1 hour ago by the wall clock */
    detect(ts_now_ns() - 7 * DAY - ESC_H, true);
    char path[160], yml[512];
    snprintf(path, sizeof(path), "%s/out.jsonl", st_dir);
    snprintf(yml, sizeof(yml),
             "dispatch: {threads: 2, poll: 50ms, due_pass: 1h}\n"
             "channels:\n  default: {type: file, path: %s}\n"
             "  webhook:national: {type: file, path: %s}\n",
             path, path);
    struct esc_channels *c = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_channels_load_buffer("ch.yml", yml, strlen(yml), &c, &err), 0);
    struct esc_dispatch_opts o = {.due_env = &env};
    struct esc_dispatcher *d = NULL;
    ck_assert_int_eq(esc_dispatcher_start(&d, s, c, &o, &err), 0);
    struct esc_dispatch_stats ds = {0};
    for (int i = 0; i < 200 && ds.delivered < 3; i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        esc_dispatcher_stats(d, &ds);
    }
    esc_dispatcher_stop(d);
    ck_assert_uint_eq(ds.delivered, 2);
    struct count n = outbox();
    ck_assert_uint_eq(n.total, 4);
    ck_assert_uint_eq(n.n[STORE_OUTBOX_DELIVERED], 4);
    /* the file channel wrote the two updates */
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[1 << 16];
    int updates = 0;
    while (fgets(line, sizeof(line), f))
        updates += strstr(line, "\"report\":\"update\"") != NULL;
    fclose(f);
    unlink(path);
    ck_assert_int_eq(updates, 2);
    esc_channels_free(c);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *su = suite_create("esc_due");
    TCase *tc = tcase_create("due");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_weekly_update_queued_once_at_7_days_and_again_at_14_days);
    tcase_add_test(tc, test_nothing_queued_when_auto_send_is_off);
    tcase_add_test(tc, test_missed_passes_queue_one_update_for_the_latest_due_time);
    tcase_add_test(tc, test_update_caused_by_a_change_moves_the_next_due_time);
    tcase_add_test(tc, test_overdue_required_report_is_queued_once_and_a_dead_letter_not_again);
    tcase_add_test(tc, test_pass_stops_at_max_and_the_next_pass_goes_on);
    tcase_add_test(tc, test_auto_send_errors_name_file_line_col);
    tcase_add_test(tc, test_dispatcher_runs_the_pass_and_delivers_the_updates);
    suite_add_tcase(su, tc);
    return su;
}

TS_CHECK_MAIN(make_suite)
