/* check_esc_clockstep.c - the escalation dispatcher's clock-step shift
 * (follow_clock in escalate/dispatch.c) when the write transaction that
 * carries it does not commit. The Makefile links this suite with
 * --wrap=clock_gettime (the wall clock shifted by wall_shift ns, monotonic
 * clocks untouched: as when NTP steps the clock) and --wrap=mdb_txn_commit
 * (the next commit_fail commits fail with commit_code, the transaction
 * aborted as LMDB does on a failed commit). */
#include <errno.h>
#include <lmdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_store_util.h"
#include "../../core/tstime.h"
#include "../../escalate/escalate.h"

int __real_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts);
int __real_mdb_txn_commit(MDB_txn *txn);
int __wrap_mdb_txn_commit(MDB_txn *txn);

static _Atomic int64_t wall_shift;  /* ns added to CLOCK_REALTIME */
static atomic_int commit_fail;      /* commits still to fail */
static atomic_int commit_code;      /* what they return (EIO, MDB_MAP_FULL) */
static atomic_int commits_failed, commits_ok;

int __wrap_clock_gettime(clockid_t id, struct timespec *ts)
{
    int rc = __real_clock_gettime(id, ts);
    int64_t s = atomic_load(&wall_shift);
    if (rc == 0 && id == CLOCK_REALTIME && s) {
        int64_t ns = (int64_t)ts->tv_sec * TS_NS_PER_SEC + ts->tv_nsec + s;
        ts->tv_sec = (time_t)(ns / TS_NS_PER_SEC);
        ts->tv_nsec = (long)(ns % TS_NS_PER_SEC);
    }
    return rc;
}

int __wrap_mdb_txn_commit(MDB_txn *txn)
{
    int left = atomic_load(&commit_fail);
    while (left > 0 && !atomic_compare_exchange_weak(&commit_fail, &left, left - 1))
        ;
    if (left > 0) {
        mdb_txn_abort(txn); /* a failed commit frees the txn */
        atomic_fetch_add(&commits_failed, 1);
        return atomic_load(&commit_code);
    }
    int rc = __real_mdb_txn_commit(txn);
    if (rc == 0)
        atomic_fetch_add(&commits_ok, 1);
    return rc;
}

static char out_path[128];

static void setup(void)
{
    st_mkdir();
    snprintf(out_path, sizeof(out_path), "%s/out.jsonl", st_dir);
    atomic_store(&wall_shift, 0);
    atomic_store(&commit_fail, 0);
}

static void teardown(void)
{
    atomic_store(&wall_shift, 0);
    atomic_store(&commit_fail, 0);
    unlink(out_path);
    st_rmdir();
}

#define ID "00000000000000000000000000000001:1:national:initial-notice"
#define HOUR (3600 * TS_NS_PER_SEC)

static int keep_one(void *ctx, const struct store_outbox *e)
{
    (void)ctx, (void)e;
    return 1;
}

/* One entry that failed its first attempt: pending, due at *due (an hour
 * from now, within the claim's horizon of the default back-off cap). */
static void put_retrying(struct store *s, int64_t *due)
{
    struct store_txn *t = st_begin(s);
    struct store_outbox e;
    memset(&e, 0, sizeof(e));
    e.id = ID;
    e.incident_id = "00000000000000000000000000000001";
    e.revision = 1;
    e.recipient = "national";
    e.channel = "default";
    e.payload = "{}";
    e.payload_len = 2;
    ck_assert_int_eq(store_outbox_put(t, &e), 0);
    st_commit(t);
    struct ts_arena *a = st_arena();
    int64_t now = ts_now_ns();
    t = st_begin(s);
    ck_assert_int_eq(store_outbox_claim(t, now, 60 * TS_NS_PER_SEC, 2 * HOUR, 1, a, keep_one, NULL),
                     1);
    *due = now + HOUR;
    ck_assert_int_eq(store_outbox_mark_retry(t, ID, *due, "503"), 0);
    st_commit(t);
    ts_arena_destroy(a);
}

static int get_due(void *ctx, const struct store_outbox *e)
{
    int64_t *due = ctx;
    *due = e->state == STORE_OUTBOX_PENDING ? e->next_attempt_ns : -1;
    return 0;
}

static int64_t due_of(struct store *s)
{
    struct ts_arena *a = st_arena();
    int64_t due = 0;
    struct store_txn *t = st_rbegin(s);
    ck_assert_int_eq(store_outbox_list(t, 7u, a, get_due, &due), 0);
    store_txn_abort(t);
    ts_arena_destroy(a);
    return due;
}

/* The wall clock steps forward 3 h while the dispatcher runs; the first
 * write transaction after the step (the one that moves the due times with
 * it) fails at commit with code; the dispatcher goes on. The entry must
 * still be due an hour after its failed attempt by the steady clock - 4 h
 * from the old wall clock - and not delivered now, 2 h early. */
static void step_with_failed_commit(int code)
{
    struct store_opts so = {0};
    so.map_size = 8u << 20;
    so.map_max = 64u << 20;
    struct store *s = st_open_opts(&so);
    int64_t due;
    put_retrying(s, &due);
    char yml[512];
    snprintf(yml, sizeof(yml),
             "dispatch: {threads: 1, poll: 50ms}\n"
             "channels:\n  default: {type: file, path: %s}\n", out_path);
    struct esc_channels *c = NULL;
    struct ts_err err = {0};
    ck_assert_msg(esc_channels_load_buffer("ch.yml", yml, strlen(yml), &c, &err) == 0, "%s",
                  err.msg);
    struct esc_dispatcher *d = NULL;
    ck_assert_msg(esc_dispatcher_start(&d, s, c, NULL, &err) == 0, "%s", err.msg);
    /* a few idle rounds on the old clock */
    int ok0 = atomic_load(&commits_ok);
    for (int i = 0; i < 200 && atomic_load(&commits_ok) < ok0 + 2; i++)
        usleep(10000);
    atomic_store(&commit_code, code);
    atomic_store(&commits_failed, 0);
    atomic_store(&commit_fail, 1);
    atomic_store(&wall_shift, 3 * HOUR);
    esc_dispatcher_kick(d);
    /* the failed commit, then rounds that commit */
    for (int i = 0; i < 500 && (atomic_load(&commits_failed) < 1); i++)
        usleep(10000);
    ck_assert_int_eq(atomic_load(&commits_failed), 1);
    int ok1 = atomic_load(&commits_ok);
    for (int i = 0; i < 500 && atomic_load(&commits_ok) < ok1 + 3; i++)
        usleep(10000);
    ck_assert_int_ge(atomic_load(&commits_ok), ok1 + 3);
    esc_dispatcher_stop(d);
    ck_assert_msg(count_lines(out_path) == 0,
                  "the entry was delivered 2 h before its back-off ended: the step was lost "
                  "with the failed transaction");
    int64_t now_due = due_of(s);
    /* the step as measured against the monotonic clock: 3 h give or take
     * the microseconds between two clock reads */
    int64_t moved = now_due - due;
    ck_assert_msg(moved > 3 * HOUR - TS_NS_PER_SEC && moved < 3 * HOUR + TS_NS_PER_SEC,
                  "due %lld ms after the old due time, not 3 h", (long long)(moved / 1000000));
    esc_channels_free(c);
    store_close(s);
}

START_TEST(test_a_clock_step_survives_a_failed_commit_of_its_shift)
{
    step_with_failed_commit(EIO);
}
END_TEST

START_TEST(test_a_clock_step_survives_a_map_full_retry_of_its_shift)
{
    step_with_failed_commit(MDB_MAP_FULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("esc_clockstep");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_a_clock_step_survives_a_failed_commit_of_its_shift);
    tcase_add_test(tc, test_a_clock_step_survives_a_map_full_retry_of_its_shift);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(suite)
