/* check_ingest_files.c - the file source's pipeline (ingest/file.c): with a
 * commit() slower than reading, what is in flight stays within the memory
 * budget (not a batch count: the old pool made 128 batches and held ~640 MB
 * over 300k Sysmon events), every line is committed once and in order, and a
 * commit error stops the run with that error instead of hanging. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include "../../core/buf.h"
#include "../../ingest/ingest.h"
#include "check_util.h"

struct seen {
    int64_t next_line;  /* the line the next committed batch must start at */
    uint64_t events;
    uint64_t commits;
    bool out_of_order;
    uint64_t fail_at;   /* commit number that fails (0: none) */
    long sleep_ns;
};

static int proc(void *ctx, struct ingest_batch *b)
{
    (void)ctx;
    (void)b;
    return 0;
}

static int commit(void *ctx, const struct ingest_batch *b)
{
    struct seen *s = ctx;
    s->commits++;
    if (s->fail_at && s->commits == s->fail_at)
        return TS_E_IO;
    for (uint32_t i = 0; i < b->n; i++) {
        if ((int64_t)b->events[i].src.line != s->next_line)
            s->out_of_order = true;
        s->next_line = (int64_t)b->events[i].src.line + 1;
    }
    s->events += b->n;
    struct timespec ts = {0, s->sleep_ns};
    nanosleep(&ts, NULL);
    return 0;
}

/* n JSON lines of about 1 KB each */
static char *lines(size_t n, size_t *len)
{
    size_t cap = n * 1100 + 1;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    char pad[1001];
    memset(pad, 'x', 1000);
    pad[1000] = 0;
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(buf + off, cap - off, "{\"n\":%zu,\"pad\":\"%s\"}\n", i, pad);
    *len = off;
    return buf;
}

static struct ingest_file_opts opts(const char *buf, size_t len, struct seen *s, size_t budget)
{
    struct ingest_file_opts o = {0};
    o.buf = buf;
    o.buf_len = len;
    o.buf_name = "mem";
    o.format = INGEST_FMT_JSON;
    o.batch_max = 64;
    o.pipeline = true;
    o.inflight_bytes = budget;
    o.sink.ctx = s;
    o.sink.process = proc;
    o.sink.commit = commit;
    return o;
}

START_TEST(test_slow_commit_keeps_in_flight_within_the_budget_and_order)
{
    size_t len;
    char *buf = lines(20000, &len);
    struct seen s = {.next_line = 1, .sleep_ns = 200000};
    size_t budget = 1u << 20;
    struct ingest_file_opts o = opts(buf, len, &s, budget);
    struct ingest_stats st = {0};
    struct ts_err err = {0};
    ck_assert_int_eq(ingest_files_run(&o, &st, &err), 0);
    ck_assert_uint_eq(s.events, 20000);
    ck_assert(!s.out_of_order);
    ck_assert_uint_eq(st.parsed, 20000);
    /* the reader stops once the budget is reached: at most one batch more */
    ck_assert_msg(st.inflight_peak >= budget / 2, "peak %llu",
                  (unsigned long long)st.inflight_peak);
    ck_assert_msg(st.inflight_peak < budget + (budget / 2), "peak %llu over budget %zu",
                  (unsigned long long)st.inflight_peak, budget);
    /* batches of 64 lines of ~1 KB: the budget holds ~15, not the 128 a count would */
    ck_assert_msg(st.batches_made >= 2 && st.batches_made <= 24, "made %u", st.batches_made);
    free(buf);
}
END_TEST

START_TEST(test_fast_commit_reuses_a_few_batches)
{
    size_t len;
    char *buf = lines(5000, &len);
    struct seen s = {.next_line = 1};
    struct ingest_file_opts o = opts(buf, len, &s, 0);
    struct ingest_stats st = {0};
    struct ts_err err = {0};
    ck_assert_int_eq(ingest_files_run(&o, &st, &err), 0);
    ck_assert_uint_eq(s.events, 5000);
    ck_assert(!s.out_of_order);
    ck_assert_uint_le(st.inflight_peak, INGEST_INFLIGHT_BYTES);
    ck_assert_uint_le(st.batches_made, INGEST_PIPELINE_BATCHES);
    free(buf);
}
END_TEST

START_TEST(test_commit_error_stops_the_run_with_it)
{
    size_t len;
    char *buf = lines(5000, &len);
    struct seen s = {.next_line = 1, .fail_at = 5, .sleep_ns = 100000};
    struct ingest_file_opts o = opts(buf, len, &s, 256u << 10);
    struct ingest_stats st = {0};
    struct ts_err err = {0};
    ck_assert_int_eq(ingest_files_run(&o, &st, &err), TS_E_IO);
    ck_assert_uint_eq(s.events, 4 * 64); /* the batches before the failed one */
    ck_assert(!s.out_of_order);
    free(buf);
}
END_TEST

/* Hostile lines (issue 15, part 2): a JSON line nested 100,000 deep, one
 * with 5000 fields, a key=value line with 5000 pairs and a line over
 * max_message_bytes are dead letters whose reason names the limit, and are
 * counted as refused at a limit; a line with a syntax error is a dead letter
 * not counted there; the ordinary lines around them go through. */
START_TEST(test_lines_over_a_limit_are_dead_letters_counted_as_refused_at_a_limit)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(ts_buf_puts(&b, "{\"ok\":1}\n{"), 0);
    for (int i = 0; i < 100000; i++)
        ck_assert_int_eq(ts_buf_puts(&b, "\"a\":{"), 0);
    ck_assert_int_eq(ts_buf_puts(&b, "\n{"), 0);
    for (int i = 0; i < 5000; i++)
        ck_assert_int_eq(ts_buf_printf(&b, "%s\"f%d\":%d", i ? "," : "", i, i), 0);
    ck_assert_int_eq(ts_buf_puts(&b, "}\n"), 0);
    for (int i = 0; i < 5000; i++)
        ck_assert_int_eq(ts_buf_printf(&b, "%sk%d=v", i ? " " : "", i), 0);
    ck_assert_int_eq(ts_buf_puts(&b, "\n{\"big\":\""), 0);
    for (int i = 0; i < 70000; i++)
        ck_assert_int_eq(ts_buf_puts(&b, "xxxxxxxxxx"), 0);
    ck_assert_int_eq(ts_buf_puts(&b, "\"}\n{\"bad\":}\n{\"ok\":2}\n"), 0);

    char dir[] = "/tmp/check_ingest_files_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/dlq.jsonl", dir);
    struct ingest_dlq_file *dlq = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(ingest_dlq_file_open(&dlq, path, &err), 0);
    struct seen s = {.next_line = 1};
    struct ingest_file_opts o = opts(b.data, b.len, &s, 0);
    o.format = INGEST_FMT_AUTO;
    o.parse.max_msg_bytes = 600000;
    o.dlq = dlq;
    struct ingest_stats st = {0};
    ck_assert_int_eq(ingest_files_run(&o, &st, &err), 0);
    ingest_dlq_file_close(dlq);
    ck_assert_uint_eq(st.consumed, 7);
    ck_assert_uint_eq(st.parsed, 2);
    ck_assert_uint_eq(st.dead_letters, 5);
    ck_assert_uint_eq(st.limit_refused, 4);

    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static const char *const want[] = {"nesting deeper than 64 (the limit)",
                                       "more fields than the limit of 4096",
                                       "more than 4096 fields in one event (the limit)",
                                       "line longer than the limit of 600000 bytes",
                                       "invalid JSON at byte 7"};
    char *line = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        ck_assert_int_gt(getline(&line, &cap, f), 0);
        ck_assert_msg(strncmp(line, "{\"reason\":", 10) == 0 && strstr(line, want[i]) &&
                          strstr(line, want[i]) < strstr(line, "\"source\""),
                      "dead letter %zu: want %s, got %.160s", i, want[i], line);
    }
    ck_assert_int_lt(getline(&line, &cap, f), 0);
    free(line);
    fclose(f);
    unlink(path);
    rmdir(dir);
    ts_buf_free(&b);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("ingest_files");
    TCase *t = tcase_create("pipeline");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_slow_commit_keeps_in_flight_within_the_budget_and_order);
    tcase_add_test(t, test_fast_commit_reuses_a_few_batches);
    tcase_add_test(t, test_commit_error_stops_the_run_with_it);
    tcase_add_test(t, test_lines_over_a_limit_are_dead_letters_counted_as_refused_at_a_limit);
    suite_add_tcase(s, t);
    return s;
}

TS_CHECK_MAIN(make_suite)
