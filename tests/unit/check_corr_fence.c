/* check_corr_fence.c - run's workers share one correlation stage and one
 * store; a worker that lost its partitions while it held a batch (its
 * session ended while it waited for the broker) may commit after the worker
 * that got them read the same messages again from the store's offsets.
 * rt_corr.fence: a batch wholly behind what was fed is dropped
 * (INGEST_E_STALE), the detections of a batch partly behind it are left out
 * for that part, and the stored offsets never go back. Reproduced first
 * without the fence: the re-read batch is counted twice. */
#include <stdlib.h>
#include <unistd.h>

#include "check_corr_util.h"
#include "../../ingest/ingest.h"
#include "../../runtime/runtime_int.h"

#define RULES DET_RULE("ssh_fail")                                                               \
    "title: brute\nid: brute\ncorrelation:\n  type: event_count\n  rules: [ssh_fail]\n"          \
    "  group-by: [src_ip]\n  timespan: 1h\n  condition:\n    gte: 1\nlevel: high\n"

struct fx {
    struct rule_set *rs;
    struct rt_corr cs;
    struct ts_arena *a;
    char dir[64];
    long rule;
    FILE *out;
};

static void fx_open(struct fx *f, bool fence)
{
    memset(f, 0, sizeof(*f));
    struct rule_load_opts lo = {.buf = RULES, .buf_len = strlen(RULES), .buf_name = "t.yml"};
    struct rule_report rr;
    struct ts_err err = {0};
    ck_assert_int_eq(rule_set_load(&f->rs, &lo, &rr, &err), 0);
    rule_report_free(&rr);
    f->rule = rule_set_find(f->rs, "ssh_fail");
    ck_assert_int_ge(f->rule, 0);
    ck_assert_int_eq(ts_arena_create(&f->a, 1 << 16, 64 << 20), 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/check-fence-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    f->out = fopen("/dev/null", "w");
    ck_assert_int_eq(rt_corr_open(&f->cs, f->rs, NULL, f->dir, 2, f->out, false), 0);
    f->cs.fence = fence;
}

static void fx_close(struct fx *f)
{
    rt_corr_close(&f->cs);
    rule_set_unref(f->rs);
    ts_arena_destroy(f->a);
    fclose(f->out);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* One batch of worker w: messages [from, to) of partitions part of topic
 * "auth", each a failed login from one address. */
static int batch(struct fx *f, int w, int32_t part, int64_t from, int64_t to)
{
    size_t n = (size_t)(to - from);
    struct ts_event *ev = ts_arena_alloc(f->a, n * sizeof(*ev));
    ck_assert_ptr_nonnull(ev);
    for (size_t i = 0; i < n; i++) {
        ts_event_init(&ev[i], f->a);
        ev[i].time_ns = T0 + (from + (int64_t)i) * SEC;
        ev[i].tenant = "agency-a";
        ev[i].src.kind = TS_SRC_KAFKA;
        ev[i].src.name = "auth";
        ev[i].src.partition = part;
        ev[i].src.offset = from + (int64_t)i;
        ev[i].raw = "raw line";
        ev[i].raw_len = 8;
        ts_event_add_str(&ev[i], "x", "ssh_fail", 8);
        ts_event_add_str(&ev[i], "src_ip", "203.0.113.9", 11);
        ck_assert_int_eq(rt_corr_collect(&f->cs, w, (size_t)f->rule, &ev[i]), 0);
    }
    struct ingest_batch b;
    memset(&b, 0, sizeof(b));
    b.events = ev;
    b.n = (uint32_t)n;
    b.consumed = n;
    b.worker = w;
    b.offsets[0] = (struct ingest_offset){"auth", part, to, from};
    b.noffsets = 1;
    return rt_corr_commit(&f->cs, &b);
}

static uint64_t fed(struct fx *f)
{
    struct rt_corr_stats st;
    rt_corr_stats(&f->cs, &st);
    return st.m.detections;
}

static int sum_events(void *ctx, const struct store_counter *c)
{
    if (c->kind == STORE_COUNTER_EVENTS)
        *(uint64_t *)ctx += c->n;
    return 0;
}

/* The per-period counters' events, over all hours. */
static uint64_t counted(struct fx *f)
{
    struct store_txn *t = NULL;
    uint64_t n = 0;
    ck_assert_int_eq(store_txn_begin(f->cs.st, STORE_TXN_RDONLY, &t), 0);
    ck_assert_int_eq(store_counters_foreach(t, 0, INT64_MAX, sum_events, &n), 0);
    store_txn_abort(t);
    return n;
}

static int64_t stored(struct fx *f, int32_t part)
{
    int64_t off = -1;
    ck_assert_int_eq(rt_corr_seek(&f->cs, "auth", part, &off), 0);
    return off;
}

START_TEST(test_without_the_fence_a_batch_read_again_counts_twice)
{
    struct fx f;
    fx_open(&f, false);
    ck_assert_int_eq(batch(&f, 1, 0, 100, 200), 0);
    ck_assert_int_eq(batch(&f, 0, 0, 100, 150), 0); /* the re-read: counted again */
    ck_assert_uint_eq(fed(&f), 150);
    ck_assert_int_eq(stored(&f, 0), 150); /* and the stored offset went back */
    ck_assert_uint_eq(counted(&f), 150);   /* and the events were counted twice */
    fx_close(&f);
}
END_TEST

START_TEST(test_fence_drops_a_batch_fed_before_and_keeps_the_rest)
{
    struct fx f;
    fx_open(&f, true);
    ck_assert_int_eq(batch(&f, 1, 0, 100, 200), 0);
    ck_assert_uint_eq(fed(&f), 100);
    /* the other worker's batches over the same messages, batched otherwise */
    ck_assert_int_eq(batch(&f, 0, 0, 100, 150), INGEST_E_STALE);
    ck_assert_uint_eq(fed(&f), 100);
    ck_assert_int_eq(stored(&f, 0), 200);
    ck_assert_int_eq(batch(&f, 0, 0, 150, 250), 0); /* 200..249 are new */
    ck_assert_uint_eq(fed(&f), 150);
    ck_assert_int_eq(stored(&f, 0), 250);
    /* the worker that lost them comes back with a batch it held: dropped */
    ck_assert_int_eq(batch(&f, 1, 0, 200, 240), INGEST_E_STALE);
    /* another partition is not held back by this one */
    ck_assert_int_eq(batch(&f, 1, 1, 0, 10), 0);
    ck_assert_uint_eq(fed(&f), 160);
    ck_assert_int_eq(stored(&f, 1), 10);
    struct rt_corr_stats st;
    rt_corr_stats(&f.cs, &st);
    ck_assert_uint_eq(st.stale_batches, 2);
    ck_assert_uint_eq(st.stale_detections, 50);
    /* the per-period counters count each message once: 100 + 50 + 10 */
    ck_assert_uint_eq(counted(&f), 160);
    fx_close(&f);
}
END_TEST

/* run's coalesced commits (kafka.commit_batches): a batch held is fed but
 * not in the store - neither its offsets nor its counters - until the Nth
 * batch (of any worker) or a flush writes them all in one transaction; the
 * source is told (INGEST_HELD) so its Kafka offsets wait as well. */
START_TEST(test_coalesced_commits_hold_the_store_until_the_nth_batch_or_a_flush)
{
    struct fx f;
    fx_open(&f, true);
    f.cs.commit_batches = 3;
    f.cs.report_held = true;
    int64_t off = -1;
    ck_assert_int_eq(batch(&f, 0, 0, 0, 50), INGEST_HELD);
    ck_assert_int_eq(batch(&f, 1, 1, 0, 30), INGEST_HELD);
    ck_assert_uint_eq(fed(&f), 80);
    ck_assert_int_eq(rt_corr_seek(&f.cs, "auth", 0, &off), TS_E_NOTFOUND);
    ck_assert_uint_eq(counted(&f), 0);
    ck_assert_int_eq(batch(&f, 0, 0, 50, 100), 0); /* the third: one transaction */
    ck_assert_int_eq(stored(&f, 0), 100);
    ck_assert_int_eq(stored(&f, 1), 30);
    ck_assert_uint_eq(counted(&f), 130);
    ck_assert_int_eq(batch(&f, 1, 1, 30, 40), INGEST_HELD);
    ck_assert_int_eq(stored(&f, 1), 30);
    ck_assert_int_eq(rt_corr_flush(&f.cs), 0);
    ck_assert_int_eq(stored(&f, 1), 40);
    ck_assert_uint_eq(counted(&f), 140);
    ck_assert_int_eq(rt_corr_flush(&f.cs), 0); /* nothing held: nothing written */
    /* a reload writes what is held before it swaps the engine */
    ck_assert_int_eq(batch(&f, 0, 0, 100, 110), INGEST_HELD);
    ck_assert_int_eq(rt_corr_reload(&f.cs, f.rs, NULL, NULL, NULL), 0);
    ck_assert_int_eq(stored(&f, 0), 110);
    ck_assert_uint_eq(counted(&f), 150);
    /* a time bound: a batch held longer than commit_ns ago commits with the next */
    f.cs.commit_batches = 0;
    f.cs.commit_ns = 1;
    ck_assert_int_eq(batch(&f, 0, 0, 110, 120), INGEST_HELD);
    usleep(1000);
    ck_assert_int_eq(batch(&f, 0, 0, 120, 130), 0);
    ck_assert_int_eq(stored(&f, 0), 130);
    ck_assert_uint_eq(counted(&f), 170);
    fx_close(&f);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("corr_fence");
    TCase *tc = tcase_create("fence");
    tcase_add_test(tc, test_without_the_fence_a_batch_read_again_counts_twice);
    tcase_add_test(tc, test_fence_drops_a_batch_fed_before_and_keeps_the_rest);
    tcase_add_test(tc, test_coalesced_commits_hold_the_store_until_the_nth_batch_or_a_flush);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
