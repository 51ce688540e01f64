/* check_corr_fence.c - run's workers share one correlation stage and one
 * store; a worker that lost its partitions while it held a batch (its
 * session ended while it waited for the broker) may commit after the worker
 * that got them read the same messages again from the store's offsets.
 * rt_corr.fence: a batch wholly behind what was fed is dropped
 * (INGEST_E_STALE), the detections of a batch partly behind it are left out
 * for that part, and the stored offsets never go back. Reproduced first
 * without the fence: the re-read batch is counted twice. */
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
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
    struct rt_events_out *eo; /* run's events output (-o), when set */
    struct rt_det *det;       /* run's detections (-d), when set */
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
        ev[i].logsource.product = "test";
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
    if (f->eo) /* as run_process, then run_commit */
        ck_assert_int_eq(rt_events_out_process(f->eo, &b), 0);
    if (f->det)
        ck_assert_int_eq(rt_det_process(f->det, &b), 0);
    int rc = rt_corr_commit(&f->cs, &b);
    if (f->eo && !f->eo->pend) /* written in process(): committed whatever the fence says */
        ck_assert_int_eq(rt_events_out_commit(f->eo, &b), 0);
    if (f->det && !f->det->pend)
        ck_assert_int_eq(rt_det_flush(f->det), 0);
    return rc;
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

/* run_pre_write's part (runtime/run.c) */
static bool eo_not_fed(void *ctx, const char *topic, int32_t partition, int64_t offset)
{
    return !rt_corr_fed_pos(ctx, topic, partition, offset);
}

static bool eo_none(void *ctx, const char *topic, int32_t partition, int64_t offset)
{
    (void)ctx, (void)topic, (void)partition, (void)offset;
    return false;
}

static struct rt_events_out *pre_write_eo;
static struct rt_det *pre_write_det;
static int eo_pre_write(void *ctx, const struct ingest_batch *b, bool stale)
{
    if (pre_write_det) {
        int rc = rt_det_commit_kept(pre_write_det, b, stale ? eo_none : eo_not_fed, ctx);
        if (rc)
            return rc;
    }
    return pre_write_eo ? rt_events_out_commit_kept(pre_write_eo, b,
                                                    stale ? eo_none : eo_not_fed, ctx)
                        : 0;
}

/* Lines of the events output per offset of partition 0 (100..249), and the
 * number of lines. */
static int eo_lines(const char *path, int per[250])
{
    memset(per, 0, 250 * sizeof(int));
    FILE *fp = fopen(path, "r");
    ck_assert_ptr_nonnull(fp);
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof(line), fp)) {
        const char *o = strstr(line, "\"offset\":");
        ck_assert_ptr_nonnull(o);
        long off = strtol(o + 9, NULL, 10);
        ck_assert(off >= 0 && off < 250);
        per[off]++;
        n++;
    }
    fclose(fp);
    return n;
}

/* The sequence of test_fence_drops_a_batch_fed_before_and_keeps_the_rest on
 * partition 0: worker 1 feeds 100..199; worker 0's 100..149 is stale and
 * its 150..249 half behind; worker 1's held 200..239 is stale. */
static void feed_stale_sequence(struct fx *f)
{
    ck_assert_int_eq(batch(f, 1, 0, 100, 200), 0);
    ck_assert_int_eq(batch(f, 0, 0, 100, 150), INGEST_E_STALE);
    ck_assert_int_eq(batch(f, 0, 0, 150, 250), 0);
    ck_assert_int_eq(batch(f, 1, 0, 200, 240), INGEST_E_STALE);
}

/* An output file of feed_stale_sequence: written as each batch came (not
 * deferred), 290 lines for its 150 messages, the old behaviour reproduced;
 * deferred to the fenced commit, each offset 100..249 once (what: the
 * verb of the message). per: lines per offset. */
static void expect_each_once(const char *path, int deferred, const char *what, int per[250])
{
    int n = eo_lines(path, per);
    if (!deferred) {
        ck_assert_int_eq(n, 290);
        return;
    }
    ck_assert_int_eq(n, 150);
    for (int o = 100; o < 250; o++)
        ck_assert_msg(per[o] == 1, "offset %d %s %d times", o, what, per[o]);
}

/* The events output (run -o) of the same sequence: before, each batch's
 * events were written in process(), before the fence's verdict - the
 * re-read batch's 50 and the partly re-read batch's 50 again (250 lines
 * for 150 messages); deferred to the fenced commit, each once. */
START_TEST(test_events_output_holds_each_event_once_across_a_stale_batch)
{
    pre_write_det = NULL;
    for (int deferred = 0; deferred < 2; deferred++) {
        struct fx f;
        fx_open(&f, true);
        char path[128];
        snprintf(path, sizeof(path), "%s/events.jsonl", f.dir);
        struct rt_events_out eo;
        ck_assert_int_eq(rt_events_out_open(&eo, path), 0);
        if (deferred) {
            ck_assert_int_eq(rt_events_out_defer(&eo, 2), 0);
            pre_write_eo = &eo;
            f.cs.pre_write = eo_pre_write;
            f.cs.pre_write_ctx = &f.cs;
        }
        f.eo = &eo;
        feed_stale_sequence(&f);
        rt_events_out_close(&eo);
        int per[250];
        expect_each_once(path, deferred, "written", per);
        if (!deferred)
            ck_assert_int_eq(per[120], 2);
        else
            ck_assert_uint_eq(eo.dropped, 140); /* 50 + 50 + 40 */
        fx_close(&f);
    }
}
END_TEST

/* The detections (run -d) of the same sequence: printed in process() before,
 * 290 for 150 messages; held for the fenced commit, each once. */
START_TEST(test_detections_output_holds_each_detection_once_across_a_stale_batch)
{
    for (int deferred = 0; deferred < 2; deferred++) {
        struct fx f;
        fx_open(&f, true);
        char path[128];
        snprintf(path, sizeof(path), "%s/det.jsonl", f.dir);
        FILE *out = fopen(path, "w");
        ck_assert_ptr_nonnull(out);
        struct rt_det det;
        struct rule_load_opts lo = {.buf = DET_RULE("ssh_fail"),
                                    .buf_len = strlen(DET_RULE("ssh_fail")),
                                    .buf_name = "d.yml"};
        ck_assert_int_eq(rt_det_open(&det, &lo, 2, out, true), 0);
        pre_write_eo = NULL;
        pre_write_det = NULL;
        if (deferred) {
            ck_assert_int_eq(rt_pending_create(&det.pend, 2), 0);
            pre_write_det = &det;
            f.cs.pre_write = eo_pre_write;
            f.cs.pre_write_ctx = &f.cs;
        }
        f.det = &det;
        feed_stale_sequence(&f);
        uint64_t printed = det.detections, dropped = det.dropped;
        rt_det_close(&det);
        fclose(out);
        int per[250];
        expect_each_once(path, deferred, "printed", per);
        if (deferred) {
            ck_assert_uint_eq(dropped, 140);
            ck_assert_uint_eq(printed, 150);
        }
        fx_close(&f);
    }
    pre_write_det = NULL;
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

/* A coalesced commit that LMDB refuses (a full disk: here a file size
 * limit at the store's size, so the transaction's new pages cannot be
 * written) takes the engine's output of every batch held with it. A later
 * commit - another worker's batch, or the flush before a revoke - must not
 * succeed: it would store the offsets of those batches without their
 * state and incidents, and a restart would skip their events (faults-disk
 * lost 47 of 500 incidents about once in twenty runs: a small transaction
 * found room in LMDB's free pages after the big one failed). */
START_TEST(test_a_failed_commit_fails_every_later_commit_of_the_stage)
{
    struct fx f;
    fx_open(&f, true);
    f.cs.commit_batches = 3;
    f.cs.report_held = true;
    ck_assert_int_eq(batch(&f, 0, 0, 0, 50), INGEST_HELD);
    ck_assert_int_eq(batch(&f, 1, 1, 0, 30), INGEST_HELD);
    char path[128];
    snprintf(path, sizeof(path), "%s/data.mdb", f.dir);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {(rlim_t)st.st_size, RLIM_INFINITY}, open_lim = {RLIM_INFINITY,
                                                                          RLIM_INFINITY};
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = batch(&f, 0, 0, 50, 100); /* the third: the transaction fails */
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &open_lim), 0);
    ck_assert_int_ne(rc, 0);
    ck_assert_int_ne(rc, INGEST_HELD);
    int64_t off = -1;
    ck_assert_int_eq(rt_corr_seek(&f.cs, "auth", 0, &off), TS_E_NOTFOUND);
    /* the disk has room again: nothing commits in this stage any more */
    ck_assert_int_ne(batch(&f, 1, 1, 30, 40), 0);
    ck_assert_int_ne(rt_corr_flush(&f.cs), 0);
    ck_assert_int_eq(rt_corr_seek(&f.cs, "auth", 0, &off), TS_E_NOTFOUND);
    ck_assert_int_eq(rt_corr_seek(&f.cs, "auth", 1, &off), TS_E_NOTFOUND);
    ck_assert_uint_eq(counted(&f), 0);
    fx_close(&f);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("corr_fence");
    TCase *tc = tcase_create("fence");
    tcase_add_test(tc, test_without_the_fence_a_batch_read_again_counts_twice);
    tcase_add_test(tc, test_fence_drops_a_batch_fed_before_and_keeps_the_rest);
    tcase_add_test(tc, test_events_output_holds_each_event_once_across_a_stale_batch);
    tcase_add_test(tc, test_detections_output_holds_each_detection_once_across_a_stale_batch);
    tcase_add_test(tc, test_coalesced_commits_hold_the_store_until_the_nth_batch_or_a_flush);
    tcase_add_test(tc, test_a_failed_commit_fails_every_later_commit_of_the_stage);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
