/* bench_kafka.c - consume rate of the Kafka source from a real broker:
 * bench_kafka BROKERS TOPIC COUNT WORKERS [FORMAT [PROFILES_DIR [RULES_DIR]]]
 * Consumes COUNT messages with a new consumer group through the full ingest
 * path (poll, parse into the arena, batch, hand-off, offset commit) into a
 * sink that counts - or, with PROFILES_DIR and RULES_DIR, normalises with the
 * mapping profiles and matches every event against the Sigma rules (one rule
 * scratch per worker) - and prints messages/s and MB/s. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/tstime.h"
#include "../ingest/ingest.h"
#include "../normalise/normalise.h"
#include "../rules/rules.h"

static _Atomic uint64_t events, detections;
static struct rule_set *rules;
static struct rule_scratch *scratch[16];

static int on_match(void *ctx, const struct ts_event *ev, size_t idx)
{
    (void)ctx;
    (void)ev;
    (void)idx;
    atomic_fetch_add_explicit(&detections, 1, memory_order_relaxed);
    return 0;
}

static int count_process(void *ctx, struct ingest_batch *b)
{
    (void)ctx;
    if (rules)
        for (uint32_t i = 0; i < b->n; i++)
            rule_match(rules, scratch[b->worker], &b->events[i], on_match, NULL);
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
    struct norm_set *norm = NULL;
    struct ts_err err0 = {0};
    if (argc > 6) {
        const char *pp = argv[6];
        struct norm_opts no = {.profile_paths = &pp, .nprofile_paths = 1};
        if (norm_set_create(&norm, &no, &err0)) {
            fprintf(stderr, "bench_kafka: %s\n", err0.msg);
            return 1;
        }
    }
    if (argc > 7) {
        const char *rp = argv[7];
        struct rule_load_opts lo = {.paths = &rp, .npaths = 1};
        struct rule_report rep;
        if (rule_set_load(&rules, &lo, &rep, &err0)) {
            fprintf(stderr, "bench_kafka: %s\n", err0.msg);
            return 1;
        }
        rule_report_free(&rep);
        for (int i = 0; i < workers && i < 16; i++)
            rule_scratch_create(&scratch[i], rules);
    }
    char group[64];
    snprintf(group, sizeof(group), "bench-%d-%d", (int)getpid(), workers);
    struct ingest_topic t = {.name = argv[2], .format = fmt, .tenant = "bench"};
    struct ingest_kafka_opts o = {
        .brokers = argv[1], .group_id = group, .topics = &t, .ntopics = 1, .workers = workers,
        .batch_max = 2000,
        .sink = {.process = count_process},
        .norm = norm,
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
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf("kafka consume%s, %d worker%s: %.0f messages/s, %.1f MB/s, %.0f per CPU second, "
           "max RSS %.0f MiB (%llu messages of %.0f B, %llu events, %llu dead letters, "
           "%llu detections, %.2f s, %.2f CPU s with the set-up)\n",
           rules ? " + normalise + Sigma rules" : norm ? " + normalise" : "", workers,
           workers > 1 ? "s" : "", (double)st.consumed / secs,
           (double)st.bytes / secs / 1e6, cpu > 0 ? (double)st.consumed / cpu : 0.0,
           (double)ru.ru_maxrss / 1024.0, (unsigned long long)st.consumed,
           st.consumed ? (double)st.bytes / (double)st.consumed : 0.0,
           (unsigned long long)atomic_load(&events), (unsigned long long)st.dead_letters,
           (unsigned long long)atomic_load(&detections), secs, cpu);
    ingest_kafka_destroy(k);
    for (int i = 0; i < 16; i++)
        rule_scratch_free(scratch[i]);
    rule_set_unref(rules);
    norm_set_free(norm);
    return st.consumed >= count ? 0 : 1;
}
