/* bench_kafka.c - consume rate of the Kafka source from a real broker:
 * bench_kafka BROKERS TOPIC COUNT WORKERS [FORMAT]
 * Consumes COUNT messages with a new consumer group through the full ingest
 * path (poll, parse into the arena, batch, hand-off, offset commit) into a
 * sink that only counts, and prints messages/s and MB/s. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/tstime.h"
#include "../ingest/ingest.h"

static _Atomic uint64_t events;

static int count_process(void *ctx, struct ingest_batch *b)
{
    (void)ctx;
    atomic_fetch_add(&events, b->n);
    return 0;
}

static void *run_main(void *p)
{
    struct ts_err err = {0};
    if (ingest_kafka_run(p, &err))
        fprintf(stderr, "bench_kafka: %s\n", err.msg);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_kafka BROKERS TOPIC COUNT WORKERS [FORMAT]\n");
        return 2;
    }
    uint64_t count = strtoull(argv[3], NULL, 10);
    int workers = atoi(argv[4]);
    enum ingest_format fmt = INGEST_FMT_AUTO;
    if (argc > 5 && ingest_format_parse(argv[5], &fmt))
        return 2;
    ts_log_set_level(TS_LOG_WARN);
    char group[64];
    snprintf(group, sizeof(group), "bench-%d-%d", (int)getpid(), workers);
    struct ingest_topic t = {.name = argv[2], .format = fmt, .tenant = "bench"};
    struct ingest_kafka_opts o = {
        .brokers = argv[1], .group_id = group, .topics = &t, .ntopics = 1, .workers = workers,
        .batch_max = 2000,
        .sink = {.process = count_process},
    };
    struct ingest_kafka *k;
    struct ts_err err = {0};
    if (ingest_kafka_create(&k, &o, &err)) {
        fprintf(stderr, "bench_kafka: %s\n", err.msg);
        return 1;
    }
    pthread_t tid;
    if (pthread_create(&tid, NULL, run_main, k)) {
        fprintf(stderr, "bench_kafka: cannot start\n");
        return 1;
    }
    /* measure from the first consumed message to the last */
    struct ingest_stats st;
    int64_t t0 = 0, deadline = ts_mono_ns() + 300 * TS_NS_PER_SEC;
    for (;;) {
        ingest_kafka_stats(k, &st);
        if (!t0 && st.consumed > 0)
            t0 = ts_mono_ns();
        if (st.consumed >= count && atomic_load(&events) + st.dead_letters >= count)
            break;
        if (ts_mono_ns() > deadline) {
            fprintf(stderr, "bench_kafka: timed out after %llu messages\n",
                    (unsigned long long)st.consumed);
            break;
        }
        usleep(2000);
    }
    int64_t t1 = ts_mono_ns();
    ingest_kafka_stop(k);
    pthread_join(tid, NULL);
    ingest_kafka_stats(k, &st);
    double secs = (double)(t1 - t0) / 1e9;
    printf("kafka consume, %d worker%s: %.0f messages/s, %.1f MB/s (%llu messages of %.0f B, "
           "%llu events, %llu dead letters, %.2f s)\n",
           workers, workers > 1 ? "s" : "", (double)st.consumed / secs,
           (double)st.bytes / secs / 1e6, (unsigned long long)st.consumed,
           st.consumed ? (double)st.bytes / (double)st.consumed : 0.0,
           (unsigned long long)atomic_load(&events), (unsigned long long)st.dead_letters, secs);
    ingest_kafka_destroy(k);
    return st.consumed >= count ? 0 : 1;
}
