/* ktool.c - Kafka helper for the integration tests and benches (test
 * tooling, not product): create topics, produce numbered messages with a
 * manifest of where each landed, read committed group offsets, dump a topic.
 *
 *   ktool create BROKERS TOPIC PARTITIONS [NAME=VALUE...]   topic configs, e.g. retention.ms=-1
 *   ktool produce BROKERS TOPIC COUNT [-p PARTITIONS] [-s SIZE] [-f START] [-m MANIFEST]
 *                 [-t TENANT] [-k syslog|json]
 *       message i (START <= i < START+COUNT) goes to partition i % PARTITIONS and
 *       carries "seq=i"; MANIFEST gets "i partition offset" per message.
 *   ktool produce-file BROKERS TOPIC FILE PARTITIONS [-T]  each line a message, round robin
 *       (-T: each line "MS<TAB>message", MS the record's timestamp in ms since the epoch)
 *   ktool committed BROKERS GROUP TOPIC PARTITIONS   -> "partition offset" lines
 *   ktool dump BROKERS TOPIC                          -> JSON lines with headers
 */
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static FILE *manifest;
static long delivered, failed;

static void die(const char *fmt, const char *a) __attribute__((format(printf, 1, 0)));
static void die(const char *fmt, const char *a)
{
    fprintf(stderr, "ktool: ");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    fprintf(stderr, fmt, a);
#pragma GCC diagnostic pop
    fputc('\n', stderr);
    exit(1);
}

static rd_kafka_t *mk(rd_kafka_type_t type, const char *brokers, const char *group)
{
    char es[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", brokers, es, sizeof(es));
    if (group) {
        rd_kafka_conf_set(c, "group.id", group, es, sizeof(es));
        rd_kafka_conf_set(c, "enable.auto.commit", "false", es, sizeof(es));
        rd_kafka_conf_set(c, "auto.offset.reset", "earliest", es, sizeof(es));
        rd_kafka_conf_set(c, "enable.partition.eof", "true", es, sizeof(es));
    }
    if (type == RD_KAFKA_PRODUCER) {
        rd_kafka_conf_set(c, "linger.ms", "20", es, sizeof(es));
        rd_kafka_conf_set(c, "enable.idempotence", "true", es, sizeof(es));
        rd_kafka_conf_set(c, "queue.buffering.max.messages", "1000000", es, sizeof(es));
    }
    rd_kafka_t *rk = rd_kafka_new(type, c, es, sizeof(es));
    if (!rk)
        die("%s", es);
    return rk;
}

static int cmd_create(const char *brokers, const char *topic, int parts, char **cfg, int ncfg)
{
    rd_kafka_t *rk = mk(RD_KAFKA_PRODUCER, brokers, NULL);
    char es[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, parts, 1, es, sizeof(es));
    for (int i = 0; i < ncfg; i++) { /* NAME=VALUE topic configs, e.g. retention.ms=-1 */
        char *eq = strchr(cfg[i], '=');
        if (!eq)
            die("create: topic config \"%s\" is not NAME=VALUE", cfg[i]);
        *eq = '\0';
        if (rd_kafka_NewTopic_set_config(nt, cfg[i], eq + 1))
            die("create: bad topic config %s", cfg[i]);
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = 1;
    if (ev) {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t n;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
        rd_kafka_resp_err_t e = n ? rd_kafka_topic_result_error(tr[0]) : rd_kafka_event_error(ev);
        if (!e || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            rc = 0;
        else
            fprintf(stderr, "ktool: create %s: %s\n", topic, rd_kafka_err2str(e));
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    /* wait until metadata shows the partitions */
    for (int i = 0; rc == 0 && i < 50; i++) {
        rd_kafka_t *m = mk(RD_KAFKA_PRODUCER, brokers, NULL);
        rd_kafka_topic_t *t = rd_kafka_topic_new(m, topic, NULL);
        const struct rd_kafka_metadata *md;
        int ok = 0;
        if (rd_kafka_metadata(m, 0, t, &md, 5000) == 0) {
            ok = md->topic_cnt == 1 && md->topics[0].partition_cnt == parts &&
                 !md->topics[0].err;
            rd_kafka_metadata_destroy(md);
        }
        rd_kafka_topic_destroy(t);
        rd_kafka_destroy(m);
        if (ok)
            break;
        usleep(200000);
    }
    return rc;
}

static void dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *op)
{
    (void)rk;
    (void)op;
    if (m->err) {
        failed++;
        return;
    }
    delivered++;
    if (manifest)
        fprintf(manifest, "%ld %d %lld\n", (long)(intptr_t)m->_private, (int)m->partition,
                (long long)m->offset);
}

static int cmd_produce(int argc, char **argv)
{
    const char *brokers = argv[0], *topic = argv[1];
    long count = atol(argv[2]), start = 0;
    int parts = 1, size = 300;
    const char *tenant = NULL, *kind = "syslog";
    int opt;
    optind = 3;
    while ((opt = getopt(argc, argv, "p:s:f:m:t:k:")) != -1) {
        switch (opt) {
        case 'p': parts = atoi(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'f': start = atol(optarg); break;
        case 'm':
            manifest = fopen(optarg, "w");
            if (!manifest)
                die("cannot open %s", optarg);
            break;
        case 't': tenant = optarg; break;
        case 'k': kind = optarg; break;
        default: die("%s", "bad option");
        }
    }
    char es[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", brokers, es, sizeof(es));
    rd_kafka_conf_set(c, "linger.ms", "20", es, sizeof(es));
    rd_kafka_conf_set(c, "enable.idempotence", "true", es, sizeof(es));
    rd_kafka_conf_set(c, "queue.buffering.max.messages", "1000000", es, sizeof(es));
    rd_kafka_conf_set(c, "batch.size", "1000000", es, sizeof(es));
    rd_kafka_conf_set_dr_msg_cb(c, dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
    if (!rk)
        die("%s", es);
    char *buf = malloc((size_t)size + 512);
    static const char pad[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (long i = start; i < start + count; i++) {
        int n;
        if (!strcmp(kind, "json"))
            n = snprintf(buf, 512,
                         "{\"@timestamp\":\"2026-11-20T10:%02ld:%02ld.%03ldZ\",\"seq\":%ld,"
                         "\"host\":{\"name\":\"ws-%03ld\"},\"message\":\"",
                         (i / 60) % 60, i % 60, i % 1000, i, i % 500);
        else
            n = snprintf(buf, 512,
                         "<38>Nov 20 10:%02ld:%02ld host-%03ld sshd[%ld]: seq=%ld Failed password "
                         "for invalid user u%ld from 10.%ld.%ld.%ld port %ld ssh2 ",
                         (i / 60) % 60, i % 60, i % 97, 1000 + i % 30000, i, i % 1000,
                         (i >> 16) & 255, (i >> 8) & 255, i & 255, 1024 + i % 60000);
        for (; n < size; n++)
            buf[n] = pad[n % 36];
        if (!strcmp(kind, "json"))
            n += snprintf(buf + n, 8, "\"}");
        rd_kafka_resp_err_t e;
        do {
            if (tenant)
                e = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION((int32_t)(i % parts)),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(buf, (size_t)n),
                    RD_KAFKA_V_OPAQUE((void *)(intptr_t)i),
                    RD_KAFKA_V_HEADER("tenant", tenant, -1), RD_KAFKA_V_END);
            else
                e = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION((int32_t)(i % parts)),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(buf, (size_t)n),
                    RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 50);
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        if (e)
            die("produce: %s", rd_kafka_err2str(e));
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    free(buf);
    rd_kafka_destroy(rk);
    if (manifest)
        fclose(manifest);
    fprintf(stderr, "ktool: produced %ld, failed %ld\n", delivered, failed);
    return failed || delivered != count;
}

static int cmd_produce_file(const char *brokers, const char *topic, const char *path, int parts,
                            bool with_ts)
{
    char es[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", brokers, es, sizeof(es));
    rd_kafka_conf_set(c, "linger.ms", "20", es, sizeof(es));
    rd_kafka_conf_set(c, "queue.buffering.max.messages", "1000000", es, sizeof(es));
    rd_kafka_conf_set(c, "batch.size", "1000000", es, sizeof(es));
    rd_kafka_conf_set_dr_msg_cb(c, dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
    if (!rk)
        die("%s", es);
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open %s", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long i = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            n--;
        if (n == 0)
            continue;
        char *msg = line;
        long long ts = 0;
        if (with_ts) { /* "MS<TAB>message": the record's timestamp in ms */
            char *tab = memchr(line, '\t', (size_t)n);
            if (!tab)
                die("%s: a line without MS<TAB>", path);
            ts = strtoll(line, NULL, 10);
            msg = tab + 1;
            n -= (ssize_t)(msg - line);
        }
        rd_kafka_resp_err_t e;
        do {
            e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                  RD_KAFKA_V_PARTITION((int32_t)(i % parts)),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_TIMESTAMP(ts),
                                  RD_KAFKA_V_VALUE(msg, (size_t)n), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 50);
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        if (e)
            die("produce: %s", rd_kafka_err2str(e));
        rd_kafka_poll(rk, 0);
        i++;
    }
    free(line);
    fclose(f);
    rd_kafka_flush(rk, 60000);
    rd_kafka_destroy(rk);
    fprintf(stderr, "ktool: produced %ld, failed %ld\n", delivered, failed);
    return failed || delivered != i;
}

static int cmd_committed(const char *brokers, const char *group, const char *topic, int parts)
{
    rd_kafka_t *rk = mk(RD_KAFKA_CONSUMER, brokers, group);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p);
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, l, 30000);
    if (e)
        die("committed: %s", rd_kafka_err2str(e));
    for (int i = 0; i < l->cnt; i++)
        printf("%d %lld\n", (int)l->elems[i].partition, (long long)l->elems[i].offset);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return 0;
}

static void json_str(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static int cmd_dump(const char *brokers, const char *topic)
{
    char group[64];
    snprintf(group, sizeof(group), "ktool-dump-%d", (int)getpid());
    rd_kafka_t *rk = mk(RD_KAFKA_CONSUMER, brokers, group);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int idle = 0;
    while (idle < 30) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) {
            idle++;
            continue;
        }
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                idle = 25; /* reached the end of a partition: a little more, then stop */
            rd_kafka_message_destroy(m);
            continue;
        }
        idle = 0;
        printf("{\"partition\":%d,\"offset\":%lld,\"value\":", (int)m->partition,
               (long long)m->offset);
        json_str(m->payload ? m->payload : "", m->len);
        printf(",\"headers\":{");
        rd_kafka_headers_t *h;
        if (!rd_kafka_message_headers(m, &h)) {
            const char *name;
            const void *v;
            size_t vl;
            for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &v, &vl); i++) {
                printf("%s", i ? "," : "");
                json_str(name, strlen(name));
                putchar(':');
                json_str(v ? v : "", v ? vl : 0);
            }
        }
        printf("}}\n");
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "create"))
        return cmd_create(argv[2], argv[3], atoi(argv[4]), argv + 5, argc - 5);
    if (argc >= 5 && !strcmp(argv[1], "produce"))
        return cmd_produce(argc - 2, argv + 2);
    if (argc >= 6 && !strcmp(argv[1], "produce-file"))
        return cmd_produce_file(argv[2], argv[3], argv[4], atoi(argv[5]),
                                argc >= 7 && !strcmp(argv[6], "-T"));
    if (argc >= 6 && !strcmp(argv[1], "committed"))
        return cmd_committed(argv[2], argv[3], argv[4], atoi(argv[5]));
    if (argc >= 4 && !strcmp(argv[1], "dump"))
        return cmd_dump(argv[2], argv[3]);
    fprintf(stderr, "usage: ktool create|produce|committed|dump ... (see the source)\n");
    return 2;
}
