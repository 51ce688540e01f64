/* channel_kafka.c - the Kafka channel: an idempotent producer
 * (enable.idempotence=true, acks=all) per channel and deliverer thread,
 * made on first use. One message per entry: key = incident id, value = the
 * JSON document, headers recipient, report, revision, entry id and
 * idempotency key. Delivered when the delivery report for that message
 * says so; the thread waits for it (polling its own producer) up to the
 * channel timeout (message.timeout.ms) plus a margin. A fatal producer error
 * (idempotence lost) drops the producer; the next delivery makes a new one.
 * librdkafka's errors are translated here (rd_kafka_err2str, errstr). */
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "../core/tstime.h"
#include "channel_int.h"

struct dr_wait {
    int done; /* set by the delivery report callback (same thread, in poll) */
    rd_kafka_resp_err_t err;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct dr_wait *w = m->_private;
    if (w) {
        w->err = m->err;
        w->done = 1;
    }
}

/* Authentication and TLS failures only reach the error callback; kept so
 * that a delivery that times out says why and what to check. Called from
 * the producer's poll, on the deliverer's thread. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    struct esc_chan_state *s = opaque;
    /* librdkafka's reason ends in " (after N ms in state ...)": not kept */
    const char *after = strstr(reason, " (after ");
    int rl = after ? (int)(after - reason) : (int)strlen(reason);
    if (rl > 180)
        rl = 180;
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION)
        snprintf(s->kerr, sizeof(s->kerr),
                 "authentication failed: %.*s (check sasl.username, sasl.password and "
                 "sasl.mechanisms in the channel's properties)",
                 rl, reason);
    else if (err == RD_KAFKA_RESP_ERR__SSL)
        snprintf(s->kerr, sizeof(s->kerr),
                 "TLS failed: %.*s (check ssl.ca.location and security.protocol in the "
                 "channel's properties)",
                 rl, reason);
}

void esc_kafka_state_free(struct esc_chan_state *s)
{
    if (!s->rk)
        return;
    rd_kafka_flush(s->rk, 5000);
    rd_kafka_destroy(s->rk);
    s->rk = NULL;
}

static rd_kafka_t *producer(const struct esc_chan *ch, struct esc_chan_state *s, char *error)
{
    char es[512], tmo[32];
    snprintf(tmo, sizeof(tmo), "%lld", (long long)(ch->timeout_ns / 1000000));
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    struct esc_kv fixed[] = {
        {"bootstrap.servers", ch->brokers},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"client.id", "tocsin-escalate"},
        {"message.timeout.ms", tmo},
        {"linger.ms", "0"},
    };
    for (size_t i = 0; i < TS_ARRAY_LEN(fixed) + ch->nprops; i++) {
        const struct esc_kv *kv =
            i < TS_ARRAY_LEN(fixed) ? &fixed[i] : &ch->props[i - TS_ARRAY_LEN(fixed)];
        if (rd_kafka_conf_set(c, kv->k, kv->v, es, sizeof(es)) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(c);
            snprintf(error, ESC_ERROR_MAX, "kafka property %.100s: %.300s", kv->k, es);
            return NULL;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_conf_set_error_cb(c, error_cb);
    rd_kafka_conf_set_opaque(c, s);
    s->kerr[0] = '\0';
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
    if (!rk) {
        rd_kafka_conf_destroy(c);
        snprintf(error, ESC_ERROR_MAX, "cannot create Kafka producer: %.300s", es);
    }
    return rk;
}

enum esc_outcome esc_send_kafka(struct esc_deliverer *d, size_t idx,
                                const struct store_outbox *e, char *error)
{
    const struct esc_chan *ch = &d->c->v[idx];
    struct esc_chan_state *s = &d->st[idx];
    if (!s->rk && !(s->rk = producer(ch, s, error)))
        return ESC_OUT_RETRY;
    char rev[24], key[STORE_ID_MAX + 32];
    snprintf(rev, sizeof(rev), "%llu", (unsigned long long)e->revision);
    esc_idempotency_key(e, key, sizeof(key));
    struct dr_wait w = {0, RD_KAFKA_RESP_ERR_NO_ERROR};
    int64_t deadline = ts_mono_ns() + ch->timeout_ns + 5 * TS_NS_PER_SEC;
    rd_kafka_resp_err_t pe;
    for (;;) {
        pe = rd_kafka_producev(
            s->rk, RD_KAFKA_V_TOPIC(ch->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(e->incident_id, strlen(e->incident_id)),
            RD_KAFKA_V_VALUE((void *)(uintptr_t)e->payload, e->payload_len),
            RD_KAFKA_V_HEADER("recipient", e->recipient, -1),
            RD_KAFKA_V_HEADER("report", esc_entry_report(e), -1),
            RD_KAFKA_V_HEADER("revision", rev, -1), RD_KAFKA_V_HEADER("entry_id", e->id, -1),
            RD_KAFKA_V_HEADER("idempotency_key", key, -1), RD_KAFKA_V_OPAQUE(&w),
            RD_KAFKA_V_END);
        if (pe != RD_KAFKA_RESP_ERR__QUEUE_FULL || ts_mono_ns() > deadline)
            break;
        rd_kafka_poll(s->rk, 100);
    }
    if (pe) {
        snprintf(error, ESC_ERROR_MAX, "kafka %s: produce: %s", ch->topic, rd_kafka_err2str(pe));
        return ESC_OUT_RETRY;
    }
    while (!w.done && ts_mono_ns() < deadline)
        rd_kafka_poll(s->rk, 100);
    if (!w.done) {
        /* the report will come to a w that no longer exists: drop the
         * producer (purge, then destroy; its callbacks run before) */
        rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(s->rk, 0);
        while (!w.done && rd_kafka_outq_len(s->rk) > 0 && ts_mono_ns() < deadline + TS_NS_PER_SEC)
            rd_kafka_poll(s->rk, 50);
        esc_kafka_state_free(s);
        snprintf(error, ESC_ERROR_MAX, "kafka %s: no delivery report in time%s%s", ch->topic,
                 s->kerr[0] ? ": " : "", s->kerr);
        return ESC_OUT_RETRY;
    }
    if (w.err) {
        char fe[512];
        snprintf(error, ESC_ERROR_MAX, "kafka %s: %s%s%s", ch->topic, rd_kafka_err2str(w.err),
                 s->kerr[0] ? ": " : "", s->kerr);
        if (rd_kafka_fatal_error(s->rk, fe, sizeof(fe))) {
            size_t l = strlen(error);
            snprintf(error + l, ESC_ERROR_MAX - l, " (fatal: %.200s; new producer next time)", fe);
            esc_kafka_state_free(s);
        }
        return ESC_OUT_RETRY;
    }
    return ESC_OUT_DELIVERED;
}
