/* itest_kafka.c - integration tests of the Kafka source against a real
 * broker (TOCSIN_KAFKA_BOOTSTRAP, started by tests/integration/run.sh):
 * dead letters of each kind with their reason, the counts adding up, the
 * tenant header, backpressure (a blocked downstream pauses the consumer
 * and nothing is dropped), and rebalances (nothing seen twice, also when the
 * revoke comes while the consumer waits for room downstream). Run in-process through the ingest API. */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../core/tstime.h"
#include "../../ingest/ingest.h"

static const char *bootstrap(void)
{
    const char *b = getenv("TOCSIN_KAFKA_BOOTSTRAP");
    ck_assert_msg(b && *b, "TOCSIN_KAFKA_BOOTSTRAP is not set");
    return b;
}

static void unique(char *buf, size_t len, const char *prefix)
{
    snprintf(buf, len, "%s-%d-%lld", prefix, (int)getpid(), (long long)(ts_now_ns() % 1000000000));
}

static rd_kafka_t *producer(void)
{
    char es[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bootstrap(), es, sizeof(es));
    rd_kafka_conf_set(c, "linger.ms", "5", es, sizeof(es));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
    ck_assert_msg(rk != NULL, "%s", es);
    return rk;
}

static void create_topic(const char *topic, int parts)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s create %s %s %d", getenv("KTOOL") ? getenv("KTOOL") :
             "build/tools/ktool", bootstrap(), topic, parts);
    ck_assert_int_eq(system(cmd), 0);
}

static void produce(rd_kafka_t *rk, const char *topic, int32_t part, const void *v, size_t n,
                    const char *tenant)
{
    rd_kafka_resp_err_t e;
    if (tenant)
        e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_VALUE((void *)v, n),
                              RD_KAFKA_V_HEADER("tenant", tenant, -1), RD_KAFKA_V_END);
    else
        e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_VALUE((void *)v, n), RD_KAFKA_V_END);
    ck_assert_int_eq(e, 0);
}

/* n syslog lines "message <i>", line i on partition i % parts; waits until
 * the broker has them all. */
static void produce_numbered(const char *topic, int n, int parts)
{
    rd_kafka_t *p = producer();
    char msg[128];
    for (int i = 0; i < n; i++) {
        int len = snprintf(msg, sizeof(msg), "<13>Jan  1 00:00:00 h p: message %d", i);
        rd_kafka_resp_err_t e;
        do {
            e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(i % parts),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_VALUE(msg, (size_t)len), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(p, 10);
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        rd_kafka_poll(p, 0);
    }
    ck_assert_int_eq(rd_kafka_flush(p, 30000), 0);
    rd_kafka_destroy(p);
}

/* ---- a sink that records what it saw ---- */

#define MAXSEEN 200000

struct seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t count[MAXSEEN]; /* times each (partition*100000 + offset) was seen */
    uint64_t events;
    char tenants[8][64];
    char formats[8][16];
    int block;               /* while set, process() waits */
    int blocked_now;
};

static int seen_process(void *ctx, struct ingest_batch *b)
{
    struct seen *s = ctx;
    pthread_mutex_lock(&s->mu);
    while (s->block) {
        s->blocked_now = 1;
        pthread_cond_wait(&s->cv, &s->mu);
    }
    s->blocked_now = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        const struct ts_event *ev = &b->events[i];
        ck_assert_int_eq(ev->src.kind, TS_SRC_KAFKA);
        int64_t slot = (int64_t)ev->src.partition * 100000 + ev->src.offset;
        if (slot >= 0 && slot < MAXSEEN)
            s->count[slot]++;
        if (s->events < 8) {
            snprintf(s->tenants[s->events], 64, "%s", ev->tenant);
            snprintf(s->formats[s->events], 16, "%s", ev->format ? ev->format : "");
        }
        s->events++;
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

struct runner {
    struct ingest_kafka *k;
    pthread_t tid;
    int rc;
};

static void *run_main(void *p)
{
    struct runner *r = p;
    struct ts_err err = {0};
    r->rc = ingest_kafka_run(r->k, &err);
    return NULL;
}

static void wait_for(struct ingest_kafka *k, uint64_t consumed, int seconds)
{
    struct ingest_stats st;
    for (int i = 0; i < seconds * 10; i++) {
        ingest_kafka_stats(k, &st);
        if (st.consumed >= consumed && st.batches > 0)
            break;
        usleep(100000);
    }
}

START_TEST(test_kafka_bad_messages_go_to_dlq_with_reason_and_counts_add_up)
{
    char topic[128], dlq[160], group[128];
    unique(topic, sizeof(topic), "itest.dlq");
    unique(group, sizeof(group), "g-dlq");
    snprintf(dlq, sizeof(dlq), "%s.dlq", topic);
    create_topic(topic, 1);
    create_topic(dlq, 1);
    rd_kafka_t *p = producer();
    char big[3000];
    memset(big, 'x', sizeof(big));
    big[0] = '{';
    const char *ok_json = "{\"a\":1,\"@timestamp\":\"2026-01-01T00:00:00Z\"}";
    produce(p, topic, 0, ok_json, strlen(ok_json), "agency-h");
    produce(p, topic, 0, "", 0, NULL);                                   /* empty */
    produce(p, topic, 0, "{\"a\":", 5, NULL);                            /* invalid JSON */
    produce(p, topic, 0, "<13>Jan  1 00:00:00 h p: caf\xe9", 29, NULL); /* bad UTF-8 */
    produce(p, topic, 0, big, sizeof(big), NULL);                        /* over the limit */
    produce(p, topic, 0, "<13>Jan  1 00:00:00 h p: fine", 29, NULL);
    produce(p, topic, 0, "{\"b\":2}", 7, NULL);
    /* a producer speaking for an agency the topic does not carry, and a
     * tenant id no store key may hold (issue 17: both were taken as is) */
    char longt[301];
    memset(longt, 't', 300);
    longt[300] = '\0';
    produce(p, topic, 0, "{\"c\":3}", 7, "agency-x");
    produce(p, topic, 0, "{\"d\":4}", 7, longt);
    ck_assert_int_eq(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);

    static struct seen s;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    static const char *const allowed[] = {"agency-h"};
    struct ingest_topic t = {.name = topic, .tenant = "topic-default", .format = INGEST_FMT_AUTO,
                             .tenants = allowed, .ntenants = 1};
    struct ingest_kafka_opts o = {
        .brokers = bootstrap(), .group_id = group, .topics = &t, .ntopics = 1, .workers = 1,
        .parse = {.max_msg_bytes = 2000},
        .sink = {.ctx = &s, .process = seen_process},
    };
    struct ts_err err = {0};
    struct runner r = {0};
    ck_assert_int_eq(ingest_kafka_create(&r.k, &o, &err), 0);
    pthread_create(&r.tid, NULL, run_main, &r);
    wait_for(r.k, 9, 30);
    usleep(500000);
    ingest_kafka_stop(r.k);
    pthread_join(r.tid, NULL);
    ck_assert_int_eq(r.rc, 0);
    struct ingest_stats st;
    ingest_kafka_stats(r.k, &st);
    ck_assert_uint_eq(st.consumed, 9);
    ck_assert_uint_eq(st.parsed, 3);
    ck_assert_uint_eq(st.dead_letters, 6);
    ck_assert_uint_eq(st.tenant_refused, 2);
    ck_assert_uint_eq(st.consumed, st.parsed + st.dead_letters);
    ck_assert_uint_eq(s.events, 3);
    ck_assert_str_eq(s.tenants[0], "agency-h");     /* from the header */
    ck_assert_str_eq(s.tenants[1], "topic-default"); /* from the topic */
    ck_assert_str_eq(s.formats[0], "json");
    ck_assert_str_eq(s.formats[1], "rfc3164");
    ingest_kafka_destroy(r.k);

    /* the dead-letter topic holds the four, in order, with reason and source */
    char cmd[512], line[8192];
    snprintf(cmd, sizeof(cmd), "%s dump %s %s", getenv("KTOOL") ? getenv("KTOOL") :
             "build/tools/ktool", bootstrap(), dlq);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    const char *want_reason[] = {"empty", "invalid JSON", "invalid UTF-8", "exceeds the limit",
                                 "agency-x\\\" is not allowed on topic",
                                 "tenant longer than 64 bytes"};
    const char *want_off[] = {"\"source_offset\":\"1\"", "\"source_offset\":\"2\"",
                              "\"source_offset\":\"3\"", "\"source_offset\":\"4\"",
                              "\"source_offset\":\"7\"", "\"source_offset\":\"8\""};
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        ck_assert_int_lt(n, 6);
        ck_assert_msg(strstr(line, want_reason[n]), "dead letter %d: %s", n, line);
        ck_assert_msg(strstr(line, want_off[n]), "dead letter %d: %s", n, line);
        ck_assert_msg(strstr(line, "\"source_topic\":\"itest.dlq"), "%s", line);
        n++;
    }
    pclose(f);
    ck_assert_int_eq(n, 6);
}
END_TEST

/* A topic whose messages may be up to max_bytes (max.message.bytes), created
 * through the admin API (ktool creates topics with the broker's defaults). */
static void create_topic_max(const char *topic, int parts, size_t max_bytes)
{
    rd_kafka_t *rk = producer();
    char es[512], v[32];
    snprintf(v, sizeof(v), "%zu", max_bytes);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, parts, 1, es, sizeof(es));
    ck_assert_msg(nt != NULL, "%s", es);
    ck_assert_int_eq(rd_kafka_NewTopic_set_config(nt, "max.message.bytes", v), 0);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    ck_assert_ptr_nonnull(ev);
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    ck_assert_ptr_nonnull(res);
    size_t n = 0;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_msg(rd_kafka_topic_result_error(tr[0]) == 0, "create %s: %s", topic,
                  rd_kafka_topic_result_error_string(tr[0]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
}

struct dlq_record {
    size_t len, key_len; /* of the value, of the key */
    char reason[256], raw_truncated[16], raw_bytes[32], key_bytes[32], source_offset[32];
};

static void header_copy(rd_kafka_headers_t *h, const char *name, char *out, size_t cap)
{
    const void *v;
    size_t vl;
    out[0] = '\0';
    if (h && rd_kafka_header_get_last(h, name, &v, &vl) == 0 && v)
        snprintf(out, cap, "%.*s", (int)vl, (const char *)v);
}

/* Read a topic from the start until idle: up to max records. */
static size_t read_topic(const char *topic, struct dlq_record *out, size_t max)
{
    char es[512], group[128];
    unique(group, sizeof(group), "g-read");
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bootstrap(), es, sizeof(es));
    rd_kafka_conf_set(c, "group.id", group, es, sizeof(es));
    rd_kafka_conf_set(c, "auto.offset.reset", "earliest", es, sizeof(es));
    rd_kafka_conf_set(c, "enable.partition.eof", "true", es, sizeof(es));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, es, sizeof(es));
    ck_assert_msg(rk != NULL, "%s", es);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    size_t n = 0;
    for (int idle = 0; idle < 50;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) {
            idle++;
            continue;
        }
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                idle = 45;
            rd_kafka_message_destroy(m);
            continue;
        }
        idle = 0;
        if (n < max) {
            rd_kafka_headers_t *h = NULL;
            if (rd_kafka_message_headers(m, &h))
                h = NULL;
            out[n].len = m->len;
            out[n].key_len = m->key_len;
            header_copy(h, "key_bytes", out[n].key_bytes, sizeof(out[n].key_bytes));
            header_copy(h, "reason", out[n].reason, sizeof(out[n].reason));
            header_copy(h, "raw_truncated", out[n].raw_truncated, sizeof(out[n].raw_truncated));
            header_copy(h, "raw_bytes", out[n].raw_bytes, sizeof(out[n].raw_bytes));
            header_copy(h, "source_offset", out[n].source_offset, sizeof(out[n].source_offset));
        }
        n++;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

/* A message that fits max_message_bytes (8 MiB here) but not the dead-letter
 * producer's message.max.bytes (1 MB by default, and the DLQ topic's limit):
 * its dead letter carries what fits, marked raw_truncated with raw_bytes, and
 * ingestion goes on (issue 17: producing it failed and stopped every worker). */
START_TEST(test_kafka_dead_letter_over_the_producer_limit_is_cut_and_ingestion_goes_on)
{
    char topic[128], dlq[160], group[128];
    unique(topic, sizeof(topic), "itest.bigdlq");
    unique(group, sizeof(group), "g-bigdlq");
    snprintf(dlq, sizeof(dlq), "%s.dlq", topic);
    create_topic_max(topic, 1, 10u << 20);
    create_topic(dlq, 1); /* the broker's default limit (about 1 MB) */
    char es[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bootstrap(), es, sizeof(es));
    ck_assert_int_eq(rd_kafka_conf_set(c, "message.max.bytes", "10485760", es, sizeof(es)), 0);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
    ck_assert_msg(p != NULL, "%s", es);
    /* 3 MiB of syslog text that ends in a byte that is not UTF-8 */
    const char head[] = "<13>Jan  1 00:00:00 h p: ";
    size_t big_len = (size_t)3 << 20;
    char *big = malloc(big_len);
    ck_assert_ptr_nonnull(big);
    memcpy(big, head, sizeof(head) - 1);
    memset(big + sizeof(head) - 1, 'x', big_len - sizeof(head));
    big[big_len - 1] = '\xff';
    const char *before = "<13>Jan  1 00:00:00 h p: before", *after = "<13>Jan  1 00:00:01 h p: after";
    produce(p, topic, 0, before, strlen(before), NULL);
    produce(p, topic, 0, big, big_len, NULL);
    /* invalid JSON under a 400 KB key: the key is left out, its length kept */
    memset(big, 'k', 400000);
    ck_assert_int_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_KEY(big, 400000),
                                       RD_KAFKA_V_VALUE("{\"a\":", 5), RD_KAFKA_V_END),
                     0);
    produce(p, topic, 0, after, strlen(after), NULL);
    ck_assert_int_eq(rd_kafka_flush(p, 30000), 0);
    rd_kafka_destroy(p);
    free(big);

    static struct seen s;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    struct ingest_topic t = {.name = topic, .tenant = "agency-a", .format = INGEST_FMT_AUTO};
    struct ingest_kafka_opts o = {
        .brokers = bootstrap(), .group_id = group, .topics = &t, .ntopics = 1, .workers = 1,
        .parse = {.max_msg_bytes = 8u << 20},
        .sink = {.ctx = &s, .process = seen_process},
    };
    struct ts_err err = {0};
    struct runner r = {0};
    ck_assert_int_eq(ingest_kafka_create(&r.k, &o, &err), 0);
    pthread_create(&r.tid, NULL, run_main, &r);
    wait_for(r.k, 4, 60);
    usleep(500000);
    ingest_kafka_stop(r.k);
    pthread_join(r.tid, NULL);
    ck_assert_msg(r.rc == 0, "ingestion stopped: %s", ts_strerror(r.rc));
    struct ingest_stats st;
    ingest_kafka_stats(r.k, &st);
    ck_assert_uint_eq(st.consumed, 4);
    ck_assert_uint_eq(st.parsed, 2);
    ck_assert_uint_eq(st.dead_letters, 2);
    ck_assert_uint_eq(s.events, 2); /* the message after them was ingested too */
    ingest_kafka_destroy(r.k);

    struct dlq_record rec[4];
    size_t n = read_topic(dlq, rec, 4);
    ck_assert_uint_eq(n, 2);
    ck_assert_msg(strstr(rec[0].reason, "UTF-8") != NULL, "%s", rec[0].reason);
    ck_assert_str_eq(rec[0].source_offset, "1");
    ck_assert_str_eq(rec[0].raw_truncated, "true");
    ck_assert_str_eq(rec[0].raw_bytes, "3145728");
    ck_assert_msg(rec[0].len > 990000 && rec[0].len < 1000000, "value of %zu bytes", rec[0].len);
    ck_assert_str_eq(rec[0].key_bytes, "");
    ck_assert_msg(strstr(rec[1].reason, "invalid JSON") != NULL, "%s", rec[1].reason);
    ck_assert_str_eq(rec[1].source_offset, "2");
    ck_assert_uint_eq(rec[1].len, 5);
    ck_assert_str_eq(rec[1].raw_truncated, ""); /* the value is whole */
    ck_assert_uint_eq(rec[1].key_len, 0);
    ck_assert_str_eq(rec[1].key_bytes, "400000");
}
END_TEST

START_TEST(test_kafka_blocked_downstream_pauses_and_drops_nothing)
{
    char topic[128], group[128];
    unique(topic, sizeof(topic), "itest.bp");
    unique(group, sizeof(group), "g-bp");
    create_topic(topic, 2);
    enum { N = 20000 };
    produce_numbered(topic, N, 2);

    static struct seen s;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    s.block = 1; /* downstream stuck from the start */
    struct ingest_topic t = {.name = topic, .format = INGEST_FMT_RFC3164};
    struct ingest_kafka_opts o = {
        .brokers = bootstrap(), .group_id = group, .topics = &t, .ntopics = 1, .workers = 1,
        .batch_max = 100, .queue_batches = 2,
        .sink = {.ctx = &s, .process = seen_process},
    };
    struct ts_err err = {0};
    struct runner r = {0};
    ck_assert_int_eq(ingest_kafka_create(&r.k, &o, &err), 0);
    pthread_create(&r.tid, NULL, run_main, &r);
    struct ingest_stats st;
    for (int i = 0; i < 300; i++) { /* until the consumer has paused */
        ingest_kafka_stats(r.k, &st);
        if (st.pauses > 0)
            break;
        usleep(100000);
    }
    ck_assert_uint_ge(st.pauses, 1);
    usleep(500000);
    ingest_kafka_stats(r.k, &st);
    /* blocked: at most the queue + the batch in the sink + the one being filled */
    ck_assert_uint_le(st.consumed, 100 * (2 + 1 + 1));
    ck_assert_uint_eq(s.events, 0);
    pthread_mutex_lock(&s.mu);
    s.block = 0;
    pthread_cond_broadcast(&s.cv);
    pthread_mutex_unlock(&s.mu);
    wait_for(r.k, N, 60);
    for (int i = 0; i < 50; i++) {
        pthread_mutex_lock(&s.mu);
        uint64_t ev = s.events;
        pthread_mutex_unlock(&s.mu);
        if (ev >= N)
            break;
        usleep(100000);
    }
    ingest_kafka_stop(r.k);
    pthread_join(r.tid, NULL);
    ingest_kafka_stats(r.k, &st);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_ge(st.resumes, 1);
    ck_assert_uint_eq(st.consumed, N);
    ck_assert_uint_eq(s.events, N);
    for (int part = 0; part < 2; part++)
        for (int off = 0; off < N / 2; off++)
            ck_assert_msg(s.count[part * 100000 + off] == 1, "partition %d offset %d seen %u",
                          part, off, s.count[part * 100000 + off]);
    ingest_kafka_destroy(r.k);
}
END_TEST

START_TEST(test_kafka_rejects_managed_and_unknown_properties)
{
    struct ingest_topic t = {.name = "x"};
    const char *props1[] = {"enable.auto.commit=true"};
    const char *props2[] = {"no.such.property=1"};
    static struct seen s;
    struct ingest_kafka_opts o = {
        .brokers = bootstrap(), .group_id = "g", .topics = &t, .ntopics = 1,
        .props = props1, .nprops = 1, .sink = {.ctx = &s, .process = seen_process},
    };
    struct ingest_kafka *k = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(ingest_kafka_create(&k, &o, &err), TS_E_CONFIG);
    ck_assert_ptr_null(k);
    ck_assert_msg(strstr(err.msg, "enable.auto.commit is managed by tocsin"), "%s", err.msg);
    o.props = props2;
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(ingest_kafka_create(&k, &o, &err), TS_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "no.such.property"), "%s", err.msg);
}
END_TEST

START_TEST(test_kafka_rebalance_commits_before_revoke_so_nothing_is_seen_twice)
{
    char topic[128], group[128];
    unique(topic, sizeof(topic), "itest.rb");
    unique(group, sizeof(group), "g-rb");
    create_topic(topic, 4);
    enum { N = 40000 };
    produce_numbered(topic, N, 4);

    static struct seen s;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    struct ingest_topic t = {.name = topic, .format = INGEST_FMT_RFC3164};
    /* small batches and a slow-ish start so that the second member joins mid-stream */
    struct ingest_kafka_opts o = {
        .brokers = bootstrap(), .group_id = group, .topics = &t, .ntopics = 1, .workers = 1,
        .batch_max = 200, .queue_batches = 2,
        .sink = {.ctx = &s, .process = seen_process},
    };
    struct ts_err err = {0};
    struct runner a = {0}, b = {0};
    ck_assert_int_eq(ingest_kafka_create(&a.k, &o, &err), 0);
    pthread_create(&a.tid, NULL, run_main, &a);
    struct ingest_stats sa, sb;
    for (int i = 0; i < 1500; i++) {
        ingest_kafka_stats(a.k, &sa);
        if (sa.consumed > 1000)
            break;
        usleep(20000);
    }
    ck_assert_uint_gt(sa.consumed, 0);
    /* hold the first member's downstream so that the second joins mid-stream
     * whatever the speed of this machine; the revoke then has to wait for
     * the held batches to drain and be committed before letting go */
    pthread_mutex_lock(&s.mu);
    s.block = 1;
    pthread_mutex_unlock(&s.mu);
    ingest_kafka_stats(a.k, &sa);
    ck_assert_uint_lt(sa.consumed, N);
    ck_assert_int_eq(ingest_kafka_create(&b.k, &o, &err), 0); /* subscribes: joins the group */
    pthread_create(&b.tid, NULL, run_main, &b);
    sleep(3);
    pthread_mutex_lock(&s.mu);
    s.block = 0;
    pthread_cond_broadcast(&s.cv);
    pthread_mutex_unlock(&s.mu);
    for (int i = 0; i < 600; i++) {
        pthread_mutex_lock(&s.mu);
        uint64_t ev = s.events;
        pthread_mutex_unlock(&s.mu);
        if (ev >= N)
            break;
        usleep(100000);
    }
    usleep(500000);
    ingest_kafka_stop(a.k);
    ingest_kafka_stop(b.k);
    pthread_join(a.tid, NULL);
    pthread_join(b.tid, NULL);
    ingest_kafka_stats(a.k, &sa);
    ingest_kafka_stats(b.k, &sb);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_int_eq(b.rc, 0);
    ck_assert_uint_ge(sa.rebalances, 3); /* assigned, revoked, assigned again */
    ck_assert_uint_gt(sb.consumed, 0);   /* the second member got partitions */
    ck_assert_uint_eq(sa.consumed + sb.consumed, N);
    ck_assert_uint_eq(s.events, N);
    for (int part = 0; part < 4; part++)
        for (int off = 0; off < N / 4; off++)
            ck_assert_msg(s.count[part * 100000 + off] == 1, "partition %d offset %d seen %u",
                          part, off, s.count[part * 100000 + off]);
    ingest_kafka_destroy(a.k);
    ingest_kafka_destroy(b.k);
}
END_TEST

/* ---- transactions (correlate.distributed's stage A) ---- */

struct txsink {
    const char *out;
    int batches;      /* process() calls */
    int fail_at;      /* the call that produces, then fails (the abort) */
    uint64_t produced;
};

static int tx_process(void *ctx, struct ingest_batch *b)
{
    struct txsink *x = ctx;
    x->batches++;
    for (uint32_t i = 0; i < b->n; i++) {
        char v[64];
        int n = snprintf(v, sizeof(v), "%d:%lld", (int)b->events[i].src.partition,
                         (long long)b->events[i].src.offset);
        int rc = ingest_batch_produce(b, x->out, v, (size_t)n, v, (size_t)n, 0);
        if (rc)
            return rc;
        x->produced++;
    }
    /* records of this attempt are in the transaction: failing now must
     * abort them, and the batch must be processed again */
    return x->batches == x->fail_at ? TS_E_KAFKA : 0;
}

/* Every record of a topic as read_committed sees it: counts per "p:o". */
static size_t read_committed_counts(const char *topic, uint8_t *cnt, size_t slots)
{
    char es[512], group[128];
    unique(group, sizeof(group), "g-rc");
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bootstrap(), es, sizeof(es));
    rd_kafka_conf_set(c, "group.id", group, es, sizeof(es));
    rd_kafka_conf_set(c, "auto.offset.reset", "earliest", es, sizeof(es));
    rd_kafka_conf_set(c, "isolation.level", "read_committed", es, sizeof(es));
    rd_kafka_conf_set(c, "enable.partition.eof", "true", es, sizeof(es));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, es, sizeof(es));
    ck_assert_msg(rk != NULL, "%s", es);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    size_t n = 0;
    for (int idle = 0; idle < 50;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) {
            idle++;
            continue;
        }
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                idle = 40;
            rd_kafka_message_destroy(m);
            continue;
        }
        idle = 0;
        int p = 0;
        long long o = 0;
        char v[64];
        snprintf(v, sizeof(v), "%.*s", (int)m->len, (const char *)m->payload);
        if (sscanf(v, "%d:%lld", &p, &o) == 2 && p >= 0 && p < 2 && o >= 0 &&
            (size_t)(p * 1000 + o) < slots)
            cnt[p * 1000 + o]++;
        n++;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

/* ---- a rebalance while the poll thread waits for room downstream ---- */

/* A batch closes at INGEST_MAX_OFFSETS (256) partitions with the message of
 * the 257th already fetched (handle_msg pushes it before adding the
 * message): one message in each of 800 partitions makes three such
 * batches. */
#define GPART 800

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int times[GPART];     /* how often each partition's message was processed */
    int other;            /* events at another offset */
    int64_t next[GPART];  /* committed positions (what the store is to run) */
};

static int gate_process(void *ctx, struct ingest_batch *b)
{
    struct gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    for (uint32_t i = 0; i < b->n; i++) {
        int32_t part = b->events[i].src.partition;
        if (b->events[i].src.offset == 0 && part >= 0 && part < GPART)
            g->times[part]++;
        else
            g->other++;
    }
    pthread_mutex_unlock(&g->mu);
    return 0;
}

/* as run's store: the offsets committed with the batch's effects are where
 * a partition assigned again starts */
static int gate_commit(void *ctx, const struct ingest_batch *b)
{
    struct gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    for (uint32_t i = 0; i < b->noffsets; i++) {
        int32_t part = b->offsets[i].partition;
        if (part >= 0 && part < GPART && b->offsets[i].offset > g->next[part])
            g->next[part] = b->offsets[i].offset;
    }
    pthread_mutex_unlock(&g->mu);
    return 0;
}

static int gate_seek(void *ctx, const char *topic, int32_t partition, int64_t *offset)
{
    struct gate *g = ctx;
    (void)topic;
    pthread_mutex_lock(&g->mu);
    int64_t at = partition >= 0 && partition < GPART ? g->next[partition] : 0;
    pthread_mutex_unlock(&g->mu);
    if (at <= 0)
        return TS_E_NOTFOUND; /* the group's committed offset */
    *offset = at;
    return 0;
}

static bool stats_reach(struct ingest_kafka *k, int seconds, uint64_t pauses, uint64_t rebalances)
{
    struct ingest_stats st;
    for (int i = 0; i < seconds * 100; i++) {
        ingest_kafka_stats(k, &st);
        if (st.pauses >= pauses && st.rebalances >= rebalances)
            return true;
        usleep(10000);
    }
    return false;
}

/* The downstream holds the first batch, the second is queued, the third
 * waits in push_cur (partitions paused) with a message of a 769th
 * partition in hand; a member joins the group (another topic), so the
 * revoke callback runs inside that wait and hands the third batch over;
 * the partitions come back to the same worker, which reads from the
 * committed offsets. The message in hand came before the revoke: it must
 * not go into the next batch besides its own re-read. */
START_TEST(test_kafka_rebalance_while_waiting_for_room_delivers_each_message_once)
{
    char topic[128], other[128], group[128];
    unique(topic, sizeof(topic), "itest.rbwait");
    unique(other, sizeof(other), "itest.rbother");
    unique(group, sizeof(group), "g-rbwait");
    create_topic(topic, GPART);
    create_topic(other, 1);
    produce_numbered(topic, GPART, GPART);

    static struct gate g;
    memset(&g, 0, sizeof(g));
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    struct ingest_topic t = {.name = topic, .format = INGEST_FMT_RFC3164};
    struct ingest_kafka_opts o = {
        .brokers = bootstrap(), .group_id = group, .topics = &t, .ntopics = 1, .workers = 1,
        .batch_max = 1000, .queue_batches = 1, .batch_timeout_ms = 10000,
        .sink = {.ctx = &g, .process = gate_process, .commit = gate_commit, .seek = gate_seek},
    };
    struct ts_err err = {0};
    struct runner a = {0}, b = {0};
    ck_assert_int_eq(ingest_kafka_create(&a.k, &o, &err), 0);
    pthread_create(&a.tid, NULL, run_main, &a);
    ck_assert_msg(stats_reach(a.k, 60, 1, 1), "the worker never waited for room downstream");

    static struct seen s2;
    memset(&s2, 0, sizeof(s2));
    pthread_mutex_init(&s2.mu, NULL);
    pthread_cond_init(&s2.cv, NULL);
    struct ingest_topic t2 = {.name = other, .format = INGEST_FMT_RFC3164};
    struct ingest_kafka_opts o2 = o;
    o2.topics = &t2;
    o2.sink = (struct ingest_sink){.ctx = &s2, .process = seen_process};
    ck_assert_int_eq(ingest_kafka_create(&b.k, &o2, &err), 0); /* joins the group */
    pthread_create(&b.tid, NULL, run_main, &b);
    ck_assert_msg(stats_reach(a.k, 60, 1, 2), "no revoke reached the worker");
    usleep(300000);
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);

    int left = GPART;
    for (int i = 0; i < 900 && left > 0; i++) {
        usleep(100000);
        pthread_mutex_lock(&g.mu);
        left = 0;
        for (int j = 0; j < GPART; j++)
            left += g.times[j] == 0;
        pthread_mutex_unlock(&g.mu);
    }
    usleep(500000); /* a second copy would come right behind */
    ingest_kafka_stop(a.k);
    ingest_kafka_stop(b.k);
    pthread_join(a.tid, NULL);
    pthread_join(b.tid, NULL);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_int_eq(b.rc, 0);
    struct ingest_stats sa;
    ingest_kafka_stats(a.k, &sa);
    ck_assert_uint_ge(sa.rebalances, 3); /* assigned, revoked, assigned again */
    for (int j = 0; j < GPART; j++)
        ck_assert_msg(g.times[j] == 1, "the message of partition %d was processed %d times", j,
                      g.times[j]);
    ck_assert_int_eq(g.other, 0);
    ingest_kafka_destroy(a.k);
    ingest_kafka_destroy(b.k);
}
END_TEST

START_TEST(test_kafka_transaction_aborted_batch_is_redone_and_written_once)
{
    char topic[128], out[160], group[128];
    unique(topic, sizeof(topic), "itest.txin");
    unique(out, sizeof(out), "itest.txout");
    unique(group, sizeof(group), "g-tx");
    create_topic(topic, 2);
    create_topic(out, 3);
    produce_numbered(topic, 400, 2);
    static struct txsink x;
    x = (struct txsink){.out = out, .fail_at = 3};
    struct ingest_topic t = {.name = topic, .format = INGEST_FMT_AUTO};
    char tid[200];
    snprintf(tid, sizeof(tid), "%s.itest", group);
    struct ingest_kafka_opts o = {
        .brokers = bootstrap(), .group_id = group, .topics = &t, .ntopics = 1, .workers = 1,
        .batch_max = 50, .sink = {.ctx = &x, .process = tx_process}, .txn_id = tid,
    };
    struct ts_err err = {0};
    struct runner r = {0};
    ck_assert_int_eq(ingest_kafka_create(&r.k, &o, &err), 0);
    pthread_create(&r.tid, NULL, run_main, &r);
    struct ingest_stats st;
    for (int i = 0; i < 600; i++) {
        ingest_kafka_stats(r.k, &st);
        if (st.commits >= 8 && st.consumed >= 400)
            break;
        usleep(100000);
    }
    usleep(300000);
    ingest_kafka_stop(r.k);
    pthread_join(r.tid, NULL);
    ck_assert_int_eq(r.rc, 0);
    ingest_kafka_stats(r.k, &st);
    ingest_kafka_destroy(r.k);
    ck_assert_uint_eq(st.consumed, 400);
    ck_assert_int_ge(x.fail_at, 1);
    ck_assert_uint_gt(x.produced, 400); /* the failed attempt's records were produced... */
    static uint8_t cnt[2000];
    memset(cnt, 0, sizeof(cnt));
    size_t n = read_committed_counts(out, cnt, sizeof(cnt));
    ck_assert_uint_eq(n, 400); /* ...and aborted: each input exactly once */
    for (int p = 0; p < 2; p++)
        for (int i = 0; i < 200; i++)
            ck_assert_msg(cnt[p * 1000 + i] == 1, "%d:%d written %d times", p, i,
                          cnt[p * 1000 + i]);
    /* the input offsets were committed by the transactions */
    char cmd[512], line[128];
    snprintf(cmd, sizeof(cmd), "%s committed %s %s %s 2", getenv("KTOOL") ? getenv("KTOOL") :
             "build/tools/ktool", bootstrap(), group, topic);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    int np = 0;
    while (fgets(line, sizeof(line), f)) {
        int p;
        long long off;
        ck_assert_int_eq(sscanf(line, "%d %lld", &p, &off), 2);
        ck_assert_int_eq(off, 200);
        np++;
    }
    pclose(f);
    ck_assert_int_eq(np, 2);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("kafka-integration");
    TCase *tc = tcase_create("broker");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_kafka_bad_messages_go_to_dlq_with_reason_and_counts_add_up);
    tcase_add_test(tc, test_kafka_dead_letter_over_the_producer_limit_is_cut_and_ingestion_goes_on);
    tcase_add_test(tc, test_kafka_blocked_downstream_pauses_and_drops_nothing);
    tcase_add_test(tc, test_kafka_rejects_managed_and_unknown_properties);
    tcase_add_test(tc, test_kafka_rebalance_commits_before_revoke_so_nothing_is_seen_twice);
    tcase_add_test(tc, test_kafka_rebalance_while_waiting_for_room_delivers_each_message_once);
    tcase_add_test(tc, test_kafka_transaction_aborted_batch_is_redone_and_written_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
