/* kafka.c - the Kafka source: a librdkafka consumer group with N workers.
 *
 * Each worker owns one consumer instance in the group (so each partition
 * belongs to one worker and its order is kept) and two threads:
 *   poll thread   consumer_poll -> parse into the current batch -> dead
 *                 letters to "<topic>.dlq" -> push full batches on a bounded
 *                 queue; serves rebalance callbacks;
 *   stage thread  pops batches, runs the sink (downstream stages), flushes the
 *                 dead letters of the batch, calls the commit hook, then
 *                 commits the batch's offsets to Kafka.
 * Backpressure: when the queue stays full for PAUSE_AFTER_MS the poll thread
 * pauses its partitions (librdkafka purges their prefetched messages and
 * resumes at the application position) and keeps serving the group until
 * there is room, then resumes.
 * Rebalance: before partitions are revoked, the current batch is pushed, the
 * worker waits until the stage thread has processed everything, and commits
 * synchronously. A message polled before a revoke is never added after it
 * (the partition is read again from the committed offset). Offsets are only committed for processed batches, so
 * delivery is at-least-once. A sink that coalesces its commits (commit()
 * returns INGEST_HELD) has the offsets of the batches it holds committed
 * after its next commit or flush(): the stage thread flushes when its queue
 * stays empty, the poll thread before a revoke and at the end; on
 * assignment, offsets the sink stored ahead of the group's are committed.
 * Batches come from a pool of queue_batches + 2 per worker: after a
 * successful push one is always free.
 * Transactions (opts.txn_id, the re-keyed mode of docs/scale.md): each
 * worker also owns a transactional producer; the stage thread runs every
 * batch in one Kafka transaction - what the sink produces
 * (ingest_batch_produce) and the batch's offsets (send_offsets_to_transaction
 * with the consumer's group metadata) commit together, exactly once. A
 * transaction that must be aborted is aborted and the batch, still in
 * memory, is processed again in a new one (the rewind: nothing after the
 * last committed transaction was acknowledged).
 * Decoding (opts.decode): records that are Tocsin's own (the re-keyed
 * topic) are decoded by the caller instead of parsed and normalised.
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/log.h"
#include "../core/queue.h"
#include "../core/tstime.h"
#include "../core/tz.h"
#include "batch_int.h"
#include "ingest.h"
#include "../normalise/normalise.h"

#define PENDING_MAX 100000
#define PAUSE_AFTER_MS 500 /* blocked that long: pause the partitions */
/* A stop (and a revoke) waits this long for the synchronous commit and for
 * leaving the group: a broker that accepts connections but stops answering
 * would otherwise hold them for ever (the commit is retried until the
 * coordinator answers, and close waits for the commit). Offsets not
 * confirmed are only read again: the store's positions skip them. */
#define COMMIT_WAIT_MS 5000
#define CLOSE_WAIT_MS 5000

struct wstats {
    _Atomic uint64_t consumed, parsed, dead_letters, warnings, bytes, batches, commits, pauses,
        resumes, rebalances, tenant_refused, clamped, no_decoder, limit_refused, regex_cut,
        broker_errors;
};

/* Messages by (topic, tenant): the poll thread counts into its pending
 * table without a lock (a one-entry cache makes the common case two
 * pointer compares) and publishes it into the worker's table once per
 * batch handed over (push_cur), under ttmu. Tenants beyond TT_MAX pairs
 * per worker are counted as TT_OTHER. */
#define TT_MAX 1024
#define TT_OTHER "(other)"
struct ttcount {
    const char *topic; /* a tseen name: lives until the source is destroyed */
    char tenant[TS_TENANT_MAX + 1];
    uint64_t consumed, parsed, dead_letters, no_decoder;
};
struct tttable {
    struct ttcount *v;
    size_t n, cap;
};

struct worker {
    struct ingest_kafka *k;
    int id;
    rd_kafka_t *rk;
    pthread_t poll_tid, stage_tid;
    bool poll_started, stage_started;
    struct ts_queue *full, *free;
    struct ingest_batch **pool;
    uint32_t npool;
    struct ingest_batch *cur;
    int64_t cur_started;   /* monotonic ns of the first message of cur */
    /* The poll thread's clock, read once per poll (not per message: three
     * clock_gettime calls a message were ~2 % of run's CPU): now_mono is
     * monotonic ns as of the last poll; real_off turns it into wall-clock
     * time and is re-read at the start of every batch, so a step of the
     * wall clock shows within one batch timeout */
    int64_t now_mono, real_off;
    bool in_callback;      /* inside the rebalance callback */
    uint64_t revokes;      /* revokes served (poll thread): a message fetched before one is
                              not added after it (handle_msg) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t pushed, done; /* batches, guarded by mu */
    rd_kafka_topic_partition_list_t *committed; /* last committed offsets, guarded by mu */
    /* the offsets of the batches the sink holds (commit() returned
     * INGEST_HELD), committed with the next batch it commits or when
     * flush() made them durable; guarded by mu, added to by the stage thread */
    rd_kafka_topic_partition_list_t *held;
    struct norm_scratch *ns; /* NULL without normalisation */
    struct norm_set *ns_norm;    /* the normaliser ns was made for (a reference, so a
                                       freed one's address cannot come back) */
    rd_kafka_message_t **pending; /* polled while paused, delivered first */
    size_t npending, pending_head, pending_cap;
    struct wstats st;
    /* topics seen by this worker's poll thread -> their configuration (a
     * pattern topic's concrete names are copied here: events and offsets
     * point at them until the source is destroyed) */
    struct tseen *seen;
    size_t nseen, seencap;
    struct ingest_health *health; /* this worker's hosts */
    struct tttable tt_pend;       /* poll thread: since the last handed-over batch */
    const char *tt_last_topic, *tt_last_tenant; /* the cache: tt_pend.v[tt_last] */
    size_t tt_last;
    struct tttable tt;            /* published, guarded by ttmu */
    pthread_mutex_t ttmu;
    /* the partitions assigned (a copy, guarded by mu): lag and readiness
     * without a round trip to librdkafka's threads */
    rd_kafka_topic_partition_list_t *assigned;
    rd_kafka_t *txp;     /* opts.txn_id: the transactional producer (stage thread) */
    bool txn_ready;      /* init_transactions done */
    char txn_err[256];   /* the last produce error (stage thread) */
    bool unclosed;       /* the group was not left within CLOSE_WAIT_MS: destroy must
                            not try again (it would wait for ever) */
};

/* A concrete topic: its name (owned when it came from a pattern), the
 * configuration it matched (SIZE_MAX: none, its messages are skipped) and
 * its dead-letter topic (owned when derived). */
struct tseen {
    char *name;
    bool own_name;
    size_t tidx;
    char *dlq;
    bool own_dlq;
};
#define SEEN_MAX 4096

struct ingest_kafka {
    struct ingest_kafka_opts o; /* strings borrowed from the caller */
    char **dlq_names;           /* per topic */
    regex_t *re;                /* per topic: compiled pattern (name starting with ^) */
    bool *has_re;
    rd_kafka_t *producer;       /* dead letters */
    struct worker *w;
    int nw;
    atomic_int stop;
    atomic_int failed;          /* first fatal TS_E_* code */
    atomic_int dlq_failures;
    pthread_mutex_t normu;
    struct norm_set *norm;   /* current normaliser (a reference), swapped on reload */
    char errmsg[512];
    pthread_mutex_t errmu;
};

static void fail(struct ingest_kafka *k, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct ingest_kafka *k, int code, const char *fmt, ...)
{
    pthread_mutex_lock(&k->errmu);
    int expected = 0;
    if (atomic_compare_exchange_strong(&k->failed, &expected, code)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(k->errmsg, sizeof(k->errmsg), fmt, ap);
        va_end(ap);
        ts_error("%s", k->errmsg);
    }
    pthread_mutex_unlock(&k->errmu);
    atomic_store(&k->stop, 1);
}

static void inc(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* The entry of (topic, tenant) in t, added when missing (the TT_OTHER
 * entry when t is full); NULL when no memory. */
static struct ttcount *tt_find(struct tttable *t, const char *topic, const char *tenant)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].topic == topic && strcmp(t->v[i].tenant, tenant) == 0)
            return &t->v[i];
    if (t->n >= TT_MAX && strcmp(tenant, TT_OTHER) != 0)
        return tt_find(t, topic, TT_OTHER);
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 8;
        struct ttcount *nv = realloc(t->v, ncap * sizeof(*nv));
        if (!nv)
            return NULL;
        t->v = nv;
        t->cap = ncap;
    }
    struct ttcount *c = &t->v[t->n++];
    memset(c, 0, sizeof(*c));
    c->topic = topic;
    snprintf(c->tenant, sizeof(c->tenant), "%s", tenant);
    return c;
}

/* One message of topic (a tseen name) for tenant: parsed (and left
 * undecoded: nodec) or a dead letter. Poll thread. */
static void tt_note(struct worker *w, const char *topic, const char *tenant, bool parsed,
                    bool nodec)
{
    struct ttcount *c;
    if (w->tt_last_topic == topic && w->tt_last_tenant == tenant && w->tt_last < w->tt_pend.n) {
        c = &w->tt_pend.v[w->tt_last];
    } else {
        c = tt_find(&w->tt_pend, topic, tenant);
        if (!c)
            return; /* no memory: the totals (wstats) still count it */
        w->tt_last = (size_t)(c - w->tt_pend.v);
        w->tt_last_topic = topic;
        w->tt_last_tenant = tenant;
    }
    c->consumed++;
    if (parsed)
        c->parsed++;
    else
        c->dead_letters++;
    c->no_decoder += nodec;
}

/* Publish the pending counts (poll thread, once per batch). */
static void tt_publish(struct worker *w)
{
    if (!w->tt_pend.n)
        return;
    pthread_mutex_lock(&w->ttmu);
    for (size_t i = 0; i < w->tt_pend.n; i++) {
        const struct ttcount *p = &w->tt_pend.v[i];
        struct ttcount *c = tt_find(&w->tt, p->topic, p->tenant);
        if (c) {
            c->consumed += p->consumed;
            c->parsed += p->parsed;
            c->dead_letters += p->dead_letters;
            c->no_decoder += p->no_decoder;
        }
    }
    pthread_mutex_unlock(&w->ttmu);
    w->tt_pend.n = 0;
    w->tt_last_topic = w->tt_last_tenant = NULL;
}

/* ------------------------------------------------------------ callbacks */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct ingest_kafka *k = opaque;
    if (m->err) {
        atomic_fetch_add(&k->dlq_failures, 1);
        ts_error("dead letter to %s not delivered: %s", rd_kafka_topic_name(m->rkt),
                 rd_kafka_err2str(m->err));
    }
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct worker *w = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_fatal_error(rk, buf, sizeof(buf));
        fail(w->k, TS_E_KAFKA, "Kafka fatal error: %s", buf);
        return;
    }
    /* a refused login or a certificate that does not verify is a setting to
     * fix, not a broker to wait for: librdkafka would retry for ever; a
     * connection or a TLS handshake that a broker going down cut short is
     * waited for (kafka_err.c tells them apart by librdkafka's sentence) */
    switch (ingest_kafka_err_kind(err, reason)) {
    case INGEST_KAFKA_ERR_AUTH:
        fail(w->k, TS_E_KAFKA,
             "Kafka authentication failed: %s (check sasl.mechanisms, sasl.username and "
             "sasl.password in kafka.properties, and that the user exists on the broker)",
             reason);
        return;
    case INGEST_KAFKA_ERR_TLS:
        /* an alert from the broker: it refused our certificate (or none) */
        fail(w->k, TS_E_KAFKA, "Kafka TLS failed: %s (%s)", reason,
             strstr(reason, "alert")
                 ? "the broker refused the client certificate: it requires one "
                   "(ssl.client.auth=required); set ssl.certificate.location and "
                   "ssl.key.location (and ssl.key.password for an encrypted key) in "
                   "kafka.properties to a certificate signed by a CA the broker trusts"
                 : "check ssl.ca.location: the CA that signed the broker's certificate; "
                   "security.protocol and that kafka.brokers is the broker's TLS port");
        return;
    case INGEST_KAFKA_ERR_TRANSPORT:
        inc(&w->st.broker_errors, 1);
        ts_warn("kafka (worker %d): %s: %s (broker away: waiting for it while librdkafka "
                "reconnects)",
                w->id, rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
        return;
    case INGEST_KAFKA_ERR_OTHER:
        break;
    }
    ts_warn("kafka (worker %d): %s: %s", w->id, rd_kafka_err2name((rd_kafka_resp_err_t)err),
            reason);
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    (void)offsets;
    struct worker *w = opaque;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        ts_warn("kafka (worker %d): offset commit failed: %s (will be redone by the next "
                "commit)",
                w->id, rd_kafka_err2str(err));
}

/* ------------------------------------------------------------- pending */

static int pending_add(struct worker *w, rd_kafka_message_t *m)
{
    if (w->npending == w->pending_cap) {
        if (w->pending_cap >= PENDING_MAX)
            return TS_E_LIMIT;
        size_t ncap = w->pending_cap ? w->pending_cap * 2 : 64;
        rd_kafka_message_t **nv = malloc(ncap * sizeof(*nv));
        if (!nv)
            return TS_E_NOMEM;
        for (size_t i = 0; i < w->npending; i++)
            nv[i] = w->pending[(w->pending_head + i) % w->pending_cap];
        free(w->pending);
        w->pending = nv;
        w->pending_cap = ncap;
        w->pending_head = 0;
    }
    w->pending[(w->pending_head + w->npending) % w->pending_cap] = m;
    w->npending++;
    return 0;
}

static rd_kafka_message_t *pending_pop(struct worker *w)
{
    if (!w->npending)
        return NULL;
    rd_kafka_message_t *m = w->pending[w->pending_head];
    w->pending_head = (w->pending_head + 1) % w->pending_cap;
    w->npending--;
    return m;
}

static void pending_drop_all(struct worker *w)
{
    rd_kafka_message_t *m;
    while ((m = pending_pop(w)))
        rd_kafka_message_destroy(m);
}

/* ------------------------------------------------------------ batches */

static struct ingest_batch *free_batch(struct worker *w)
{
    void *b = NULL;
    /* a successful push always leaves one free; wait in case the stage
     * thread is still handing it back */
    while (ts_queue_pop(w->free, &b, 1000) == TS_E_LIMIT)
        ts_warn("kafka (worker %d): waiting for a free batch", w->id);
    return b;
}

static void set_paused(struct worker *w, bool pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(w->rk, &parts) || !parts)
        return;
    if (parts->cnt > 0) {
        if (pause) {
            rd_kafka_pause_partitions(w->rk, parts);
            inc(&w->st.pauses, 1);
        } else {
            rd_kafka_resume_partitions(w->rk, parts);
            inc(&w->st.resumes, 1);
        }
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

static void handle_poll_result(struct worker *w, rd_kafka_message_t *m, bool defer);
static int flush_held(struct worker *w);
static void list_merge(rd_kafka_topic_partition_list_t *l,
                       const rd_kafka_topic_partition_list_t *from);

/* Hand w->cur to the stage thread; leaves a fresh batch in w->cur. */
static void push_cur(struct worker *w)
{
    struct ingest_batch *b = w->cur;
    if (w->ns)
        norm_set_batch_end(w->ns); /* e.g. the intel read transaction */
    tt_publish(w);
    if (!b || b->consumed == 0)
        return;
    /* A downstream stage slower than parsing is the normal case: wait for
     * room first. Pausing purges librdkafka's prefetched messages and costs
     * a fetch round trip on resume, so partitions are paused only when the
     * stages stay blocked (PAUSE_AFTER_MS), never for a momentary full queue. */
    int rc = ts_queue_push(w->full, b, w->in_callback ? -1 : PAUSE_AFTER_MS);
    if (rc == TS_E_LIMIT) {
        if (w->in_callback) {
            rc = ts_queue_push(w->full, b, -1);
        } else {
            set_paused(w, true);
            while ((rc = ts_queue_push(w->full, b, 100)) == TS_E_LIMIT) {
                /* stay in the group; a rebalance callback may push b itself */
                rd_kafka_message_t *m = rd_kafka_consumer_poll(w->rk, 0);
                w->now_mono = ts_mono_ns();
                if (m)
                    handle_poll_result(w, m, true);
                if (w->cur != b)
                    break;
            }
            set_paused(w, false);
            if (w->cur != b)
                return;
        }
    }
    if (rc) {
        fail(w->k, rc, "worker %d: cannot hand a batch downstream: %s", w->id, ts_strerror(rc));
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->pushed++;
    pthread_mutex_unlock(&w->mu);
    w->cur = free_batch(w);
    w->cur_started = 0;
}

static void wait_drained(struct worker *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->done < w->pushed)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

/* The offsets of every batch processed, committed again and waited for (at
 * most COMMIT_WAIT_MS; w->mu is not held meanwhile: the stage thread's
 * flush_held takes it). */
static void commit_sync_done(struct worker *w)
{
    if (w->txp)
        return; /* the offsets were committed inside each batch's transaction */
    pthread_mutex_lock(&w->mu);
    rd_kafka_topic_partition_list_t *c =
        w->committed && w->committed->cnt > 0 ? rd_kafka_topic_partition_list_copy(w->committed)
                                              : NULL;
    pthread_mutex_unlock(&w->mu);
    if (!c)
        return;
    rd_kafka_queue_t *q = rd_kafka_queue_new(w->rk);
    rd_kafka_resp_err_t e = rd_kafka_commit_queue(w->rk, c, q, NULL, NULL);
    rd_kafka_event_t *ev = e ? NULL : rd_kafka_queue_poll(q, COMMIT_WAIT_MS);
    if (!e)
        e = ev ? rd_kafka_event_error(ev) : RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q); /* a late reply is dropped */
    if (e == RD_KAFKA_RESP_ERR__TIMED_OUT)
        ts_warn("kafka (worker %d): final commit not confirmed by the broker within %d ms: "
                "not waited for (what it does not commit is read again and skipped)",
                w->id, COMMIT_WAIT_MS);
    else if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        ts_warn("kafka (worker %d): final commit failed: %s", w->id, rd_kafka_err2str(e));
    else
        inc(&w->st.commits, 1);
    rd_kafka_topic_partition_list_destroy(c);
}

/* The sink's assigned() with the group's committed offsets of parts (a
 * broker round trip; read_committed consumers ask for stable offsets, so
 * an open transaction of the previous owner is waited for). */
static int assigned_hook(struct worker *w, const rd_kafka_topic_partition_list_t *parts)
{
    struct ingest_kafka *k = w->k;
    rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(parts);
    struct ingest_offset *v = calloc((size_t)parts->cnt, sizeof(*v));
    rd_kafka_resp_err_t e = v ? RD_KAFKA_RESP_ERR__TIMED_OUT : RD_KAFKA_RESP_ERR__FAIL;
    /* a previous owner that died with a transaction open holds its offsets
     * unstable until the broker aborts it (transaction.timeout.ms, 60 s by
     * default): wait that long, within max.poll.interval.ms */
    for (int tries = 0; v && tries < 4; tries++) {
        e = rd_kafka_committed(w->rk, c, 60000);
        bool unstable = false;
        for (int i = 0; !e && i < c->cnt; i++)
            unstable = unstable || c->elems[i].err == RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT;
        if (e != RD_KAFKA_RESP_ERR__TIMED_OUT && !unstable)
            break;
        ts_warn("kafka (worker %d): the committed offsets of the partitions assigned are not "
                "stable yet (a transaction of their previous owner is open): waiting", w->id);
        for (int i = 0; i < c->cnt; i++)
            c->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    int rc = 0;
    if (e) {
        fail(k, TS_E_KAFKA, "worker %d: cannot read the group's committed offsets: %s", w->id,
             rd_kafka_err2str(e));
        rc = TS_E_KAFKA;
    }
    for (int i = 0; !rc && i < c->cnt; i++) {
        if (c->elems[i].err) {
            fail(k, TS_E_KAFKA, "worker %d: committed offset of %s [%d]: %s", w->id,
                 c->elems[i].topic, (int)c->elems[i].partition,
                 rd_kafka_err2str(c->elems[i].err));
            rc = TS_E_KAFKA;
            break;
        }
        v[i] = (struct ingest_offset){c->elems[i].topic, c->elems[i].partition,
                                      c->elems[i].offset >= 0 ? c->elems[i].offset
                                                              : INGEST_OFFSET_NONE,
                                      INGEST_OFFSET_NONE};
    }
    if (!rc && (rc = k->o.sink.assigned(k->o.sink.ctx, w->id, v, (size_t)c->cnt)) != 0)
        fail(k, rc, "worker %d: the partitions assigned could not be taken over: %s", w->id,
             ts_strerror(rc));
    free(v);
    rd_kafka_topic_partition_list_destroy(c);
    return rc;
}

/* The sink's store is ahead of the group's committed offsets (a process
 * killed after a commit of its store and before the Kafka commit of those
 * batches - with coalesced commits, up to a flush of another worker's held
 * batches): commit the stored offsets to Kafka, so that the group's lag
 * and what tools read agree with what was processed even when no new
 * message comes for the partition. Never moves a committed offset back
 * (another process's store may be behind the group). */
static void catch_up(struct worker *w, const rd_kafka_topic_partition_list_t *stored)
{
    rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(stored);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(stored->cnt);
    if (rd_kafka_committed(w->rk, c, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < c->cnt; i++) {
            int64_t want = stored->elems[i].offset;
            if (c->elems[i].err || want < 0 ||
                (c->elems[i].offset >= 0 && c->elems[i].offset >= want))
                continue;
            rd_kafka_topic_partition_list_add(l, c->elems[i].topic, c->elems[i].partition)
                ->offset = want;
        }
    }
    if (l->cnt > 0) {
        pthread_mutex_lock(&w->mu);
        list_merge(w->committed, l);
        pthread_mutex_unlock(&w->mu);
        rd_kafka_resp_err_t e = rd_kafka_commit(w->rk, l, 1);
        if (e)
            ts_warn("kafka (worker %d): committing the stored offsets: %s", w->id,
                    rd_kafka_err2str(e));
        else
            inc(&w->st.commits, 1);
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_topic_partition_list_destroy(c);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct worker *w = opaque;
    struct ingest_kafka *k = w->k;
    inc(&w->st.rebalances, 1);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (k->o.sink.assigned && parts->cnt > 0 && assigned_hook(w, parts) != 0) {
            rd_kafka_assign(rk, NULL); /* nothing is read: the source stops */
            return;
        }
        rd_kafka_topic_partition_list_t *stored = rd_kafka_topic_partition_list_new(parts->cnt);
        for (int i = 0; k->o.sink.seek && i < parts->cnt; i++) {
            int64_t off;
            const char *topic = parts->elems[i].topic;
            for (size_t t = 0; t < k->o.ntopics; t++)
                if (strcmp(k->o.topics[t].name, topic) == 0)
                    topic = k->o.topics[t].name;
            if (k->o.sink.seek(k->o.sink.ctx, topic, parts->elems[i].partition, &off) == 0) {
                parts->elems[i].offset = off;
                rd_kafka_topic_partition_list_add(stored, parts->elems[i].topic,
                                                  parts->elems[i].partition)
                    ->offset = off;
            }
        }
        ts_info("kafka (worker %d): assigned %d partition(s) of group %s", w->id, parts->cnt,
                k->o.group_id ? k->o.group_id : "tocsin");
        rd_kafka_assign(rk, parts);
        if (stored->cnt > 0 && !w->txp)
            catch_up(w, stored);
        rd_kafka_topic_partition_list_destroy(stored);
        rd_kafka_topic_partition_list_t *copy = rd_kafka_topic_partition_list_copy(parts);
        pthread_mutex_lock(&w->mu);
        if (w->assigned)
            rd_kafka_topic_partition_list_destroy(w->assigned);
        w->assigned = copy;
        pthread_mutex_unlock(&w->mu);
        /* librdkafka keeps a partition's paused flag across rebalances: one
         * paused for backpressure before a revoke would stay paused forever */
        rd_kafka_resume_partitions(rk, parts);
        return;
    }
    /* revoke (or error): finish and commit what we have before letting go */
    w->revokes++;
    w->in_callback = true;
    push_cur(w);
    wait_drained(w);
    flush_held(w);
    commit_sync_done(w);
    pending_drop_all(w);
    pthread_mutex_lock(&w->mu);
    if (w->committed)
        rd_kafka_topic_partition_list_destroy(w->committed);
    w->committed = rd_kafka_topic_partition_list_new(8);
    if (w->held) /* flushed; or the source failed: never committed */
        rd_kafka_topic_partition_list_destroy(w->held);
    w->held = rd_kafka_topic_partition_list_new(8);
    if (w->assigned)
        rd_kafka_topic_partition_list_destroy(w->assigned);
    w->assigned = NULL;
    pthread_mutex_unlock(&w->mu);
    w->in_callback = false;
    if (k->o.sink.revoked && parts->cnt > 0) {
        struct ingest_offset *v = calloc((size_t)parts->cnt, sizeof(*v));
        for (int i = 0; v && i < parts->cnt; i++)
            v[i] = (struct ingest_offset){parts->elems[i].topic, parts->elems[i].partition,
                                          INGEST_OFFSET_NONE, INGEST_OFFSET_NONE};
        if (v)
            k->o.sink.revoked(k->o.sink.ctx, w->id, v, (size_t)parts->cnt);
        free(v);
    }
    ts_info("kafka (worker %d): revoked %d partition(s)", w->id, parts->cnt);
    rd_kafka_assign(rk, NULL);
}

/* ---------------------------------------------------------- messages */

/* Is name a dead-letter topic of ours (configured, or "<x>.dlq")? A
 * pattern must never make Tocsin consume its own dead letters. */
static bool is_dlq_topic(const struct ingest_kafka *k, const char *name)
{
    size_t n = strlen(name);
    if (n >= 4 && strcmp(name + n - 4, ".dlq") == 0)
        return true;
    for (size_t i = 0; i < k->o.ntopics; i++)
        if (k->o.topics[i].dlq_topic && strcmp(k->o.topics[i].dlq_topic, name) == 0)
            return true;
    return false;
}

/* The configuration of a concrete topic: an exact name first, then the
 * first pattern that matches (poll thread only; regexec once per new
 * topic). NULL: not ours (a pattern matched a dead-letter topic, or the
 * table is full): the message is skipped, with a warning once. */
static const struct tseen *topic_seen(struct worker *w, const char *name)
{
    struct ingest_kafka *k = w->k;
    for (size_t i = 0; i < w->nseen; i++)
        if (strcmp(w->seen[i].name, name) == 0)
            return w->seen[i].tidx == SIZE_MAX ? NULL : &w->seen[i];
    if (w->nseen == w->seencap) {
        size_t ncap = w->seencap ? w->seencap * 2 : 16;
        if (ncap > SEEN_MAX)
            return NULL;
        struct tseen *nv = realloc(w->seen, ncap * sizeof(*nv));
        if (!nv)
            return NULL;
        w->seen = nv;
        w->seencap = ncap;
    }
    struct tseen e = {.tidx = SIZE_MAX};
    for (size_t i = 0; i < k->o.ntopics && e.tidx == SIZE_MAX; i++)
        if (!k->has_re[i] && strcmp(k->o.topics[i].name, name) == 0) {
            e.tidx = i;
            e.name = (char *)k->o.topics[i].name;
            e.dlq = k->dlq_names[i];
        }
    for (size_t i = 0; i < k->o.ntopics && e.tidx == SIZE_MAX; i++)
        if (k->has_re[i] && regexec(&k->re[i], name, 0, NULL, 0) == 0) {
            if (is_dlq_topic(k, name)) {
                ts_warn("kafka: topic %s matches pattern %s but is a dead-letter topic: not "
                        "consumed (narrow the pattern)", name, k->o.topics[i].name);
                break;
            }
            e.tidx = i;
            e.own_name = true;
            e.name = strdup(name);
            if (k->o.topics[i].dlq_topic) {
                e.dlq = k->dlq_names[i];
            } else {
                size_t n = strlen(name) + 5;
                e.own_dlq = true;
                if ((e.dlq = malloc(n)) != NULL)
                    snprintf(e.dlq, n, "%s.dlq", name);
            }
            if (!e.name || !e.dlq) {
                free(e.own_name ? e.name : NULL);
                free(e.own_dlq ? e.dlq : NULL);
                return NULL;
            }
            ts_info("kafka (worker %d): consuming topic %s (pattern %s)", w->id, name,
                    k->o.topics[i].name);
        }
    if (e.tidx == SIZE_MAX) {
        e.name = strdup(name);
        if (!e.name)
            return NULL;
        e.own_name = true;
    }
    w->seen[w->nseen++] = e;
    return e.tidx == SIZE_MAX ? NULL : &w->seen[w->nseen - 1];
}

/* Bytes a dead letter leaves for its key and the raw message: the
 * producer's message.max.bytes (1000000 by default; below the broker's
 * default of 1048588) less the headers (name, value and a varint framing
 * each) and room for the record's own framing. The raw message itself may
 * be up to max_message_bytes (64 MiB): what does not fit is cut. */
#define DLQ_RECORD_ROOM 512

static size_t dead_letter_room(struct ingest_kafka *k, size_t headers_len)
{
    char v[32];
    size_t vl = sizeof(v);
    unsigned long long max = 1000000;
    if (rd_kafka_conf_get(rd_kafka_conf(k->producer), "message.max.bytes", v, &vl) ==
        RD_KAFKA_CONF_OK)
        max = strtoull(v, NULL, 10);
    /* never above the broker's default max.message.bytes either: a producer
     * setting raised for other topics must not let a dead letter be refused
     * by the .dlq topic (which would stop ingestion) */
    if (max > 1000000)
        max = 1000000;
    size_t over = headers_len + DLQ_RECORD_ROOM;
    return max > over ? (size_t)(max - over) : 0;
}

/* The raw message with its reason and source to <topic>.dlq. A message too
 * large for one record is cut to what the producer can send, with headers
 * raw_truncated: true and raw_bytes: its length (and a key over a quarter
 * of the record left out, key_bytes: its length): a dead letter's size
 * never stops ingestion. Returns 0, or TS_E_KAFKA after fail() when the
 * producer refuses it for another reason (its queue stays full). */
static int dead_letter(struct worker *w, const struct tseen *ts, const rd_kafka_message_t *m,
                       const char *reason, const char *tenant)
{
    struct ingest_kafka *k = w->k;
    char part[16], off[24], raw_bytes[24], key_bytes[24];
    snprintf(part, sizeof(part), "%d", (int)m->partition);
    snprintf(off, sizeof(off), "%lld", (long long)m->offset);
    snprintf(raw_bytes, sizeof(raw_bytes), "%zu", m->len);
    snprintf(key_bytes, sizeof(key_bytes), "%zu", m->key_len);
    const char *src = ts->name;
    if (!tenant)
        tenant = "";
    size_t hdrs = 0;
    const char *const hv[] = {"reason", reason, "source_topic", src, "source_partition", part,
                              "source_offset", off, "tenant", tenant, "raw_truncated", "true",
                              "raw_bytes", raw_bytes, "key_bytes", key_bytes};
    for (size_t i = 0; i < TS_ARRAY_LEN(hv); i++)
        hdrs += strlen(hv[i]) + (i % 2 ? 8 : 0);
    size_t room = dead_letter_room(k, hdrs);
    bool key_cut = m->key_len > room / 4;
    size_t key_len = key_cut ? 0 : m->key_len;
    room = room > key_len ? room - key_len : 0;
    for (int tries = 0, shrinks = 0;; tries++) {
        bool cut = m->len > room;
        size_t len = cut ? room : m->len;
        rd_kafka_headers_t *h = rd_kafka_headers_new(9);
        rd_kafka_header_add(h, "reason", -1, reason, -1);
        rd_kafka_header_add(h, "source_topic", -1, src, -1);
        rd_kafka_header_add(h, "source_partition", -1, part, -1);
        rd_kafka_header_add(h, "source_offset", -1, off, -1);
        rd_kafka_header_add(h, "tenant", -1, tenant, -1);
        if (cut) {
            rd_kafka_header_add(h, "raw_truncated", -1, "true", -1);
            rd_kafka_header_add(h, "raw_bytes", -1, raw_bytes, -1);
        }
        if (key_cut)
            rd_kafka_header_add(h, "key_bytes", -1, key_bytes, -1);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            k->producer, RD_KAFKA_V_TOPIC(ts->dlq), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE(m->payload, len), RD_KAFKA_V_KEY(key_cut ? NULL : m->key, key_len),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (!e)
            return 0; /* the message owns h */
        rd_kafka_headers_destroy(h);
        if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && len > 0 && shrinks++ < 40) {
            room = len / 2; /* framing larger than reckoned: less of the raw */
            continue;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries > 600) {
            fail(k, TS_E_KAFKA, "cannot produce dead letter to %s: %s", ts->dlq,
                 rd_kafka_err2str(e));
            return TS_E_KAFKA;
        }
        rd_kafka_poll(k->producer, 100);
    }
}

/* A new batch takes a reference to the current normaliser; the worker's
 * scratch follows it when a reload swapped in a new one. */
static void batch_take_norm(struct worker *w, struct ingest_batch *b)
{
    struct ingest_kafka *k = w->k;
    pthread_mutex_lock(&k->normu);
    b->norm = norm_set_ref(k->norm);
    pthread_mutex_unlock(&k->normu);
    if (b->norm == w->ns_norm)
        return;
    norm_scratch_free(w->ns);
    norm_set_free(w->ns_norm);
    w->ns = NULL;
    w->ns_norm = NULL;
    if (b->norm && norm_scratch_create(&w->ns, b->norm) == 0) {
        w->ns_norm = norm_set_ref(b->norm);
    } else if (b->norm) {
        ts_warn("kafka (worker %d): no memory for normalisation scratch; events stay as parsed",
                w->id);
    }
}

/* The tenant a message's "tenant" header names, if its topic may carry it
 * (ingest_topic.tenants / any_tenant): an arena copy, or the topic's own
 * string. NULL with why filled: the message is a dead letter (a producer
 * that may write to the topic must not speak for another agency, and a
 * malformed id must never reach the store). */
static const char *tenant_from_header(const struct ingest_topic *t, const char *hv, size_t hlen,
                                      struct ts_arena *arena, char *why, size_t whylen)
{
    char shown[TS_TENANT_MAX + 4];
    size_t n = 0;
    for (size_t i = 0; i < hlen && n < TS_TENANT_MAX; i++)
        shown[n++] = hv[i] >= 0x20 && hv[i] < 0x7f && hv[i] != '"' && hv[i] != '\\' ? hv[i] : '?';
    if (hlen > TS_TENANT_MAX)
        memcpy(shown + n, "...", 3), n += 3;
    shown[n] = '\0';
    const char *bad = ts_tenant_check(hv, hlen);
    if (bad) {
        snprintf(why, whylen, "tenant header \"%s\" refused: %s", shown, bad);
        return NULL;
    }
    if (t->tenant && strlen(t->tenant) == hlen && memcmp(t->tenant, hv, hlen) == 0)
        return t->tenant;
    for (size_t i = 0; i < t->ntenants; i++)
        if (strlen(t->tenants[i]) == hlen && memcmp(t->tenants[i], hv, hlen) == 0)
            return t->tenants[i];
    if (t->any_tenant) {
        const char *c = ts_arena_strndup(arena, hv, hlen);
        if (c)
            return c;
        snprintf(why, whylen, "no memory for the tenant header");
        return NULL;
    }
    snprintf(why, whylen,
             "tenant header \"%s\" is not allowed on topic %s (list it in the topic's tenants)",
             shown, t->name);
    return NULL;
}

static void handle_msg(struct worker *w, rd_kafka_message_t *m)
{
    struct ingest_kafka *k = w->k;
    const struct tseen *ts = topic_seen(w, rd_kafka_topic_name(m->rkt));
    if (!ts)
        return; /* not ours (warned once when first seen) */
    const struct ingest_topic *t = &k->o.topics[ts->tidx];
    /* push_cur may wait for room downstream while serving the group: a
     * revoke there hands the batch over and lets the partitions go, and
     * whoever gets m's partition (this worker again, or another) reads from
     * the committed offsets, m included. m itself, fetched before, must not
     * go into the next batch: it would be processed twice, or for a
     * partition this worker no longer owns. */
    uint64_t revokes = w->revokes;
    if (ingest_batch_full(w->cur) ||
        ingest_batch_offsets_full(w->cur, ts->name, m->partition))
        push_cur(w);
    if (w->revokes != revokes)
        return;
    size_t max = k->o.parse.max_msg_bytes ? k->o.parse.max_msg_bytes : INGEST_DEFAULT_MAX_MSG;
    size_t keep = m->len < max ? m->len : max;
    const char *payload = m->payload ? m->payload : "";
    struct ts_event *ev = ingest_batch_slot(w->cur, payload, keep);
    if (!ev) {
        push_cur(w);
        if (w->revokes != revokes)
            return;
        ev = ingest_batch_slot(w->cur, payload, keep);
        if (!ev) {
            fail(k, TS_E_NOMEM, "worker %d: no memory for a message of %zu bytes", w->id, keep);
            return;
        }
    }
    struct ingest_batch *b = w->cur;
    if (b->consumed == 0) {
        w->cur_started = w->now_mono;
        w->real_off = ts_now_ns() - w->now_mono;
        batch_take_norm(w, b);
    }
    ev->src.kind = TS_SRC_KAFKA;
    ev->src.name = ts->name;
    ev->src.partition = m->partition;
    ev->src.offset = m->offset;
    ev->ingest_ns = w->now_mono + w->real_off;
    ev->time_ns = ev->ingest_ns;
    ev->tenant = t->tenant ? t->tenant : "";
    inc(&w->st.consumed, 1);
    inc(&w->st.bytes, m->len);
    b->consumed++;
    struct ingest_diag d = {0};
    char reason[256];
    int rc;
    bool nodec = false;
    const char *tn = NULL;
    rd_kafka_headers_t *hdrs = NULL;
    const void *hv;
    size_t hlen;
    if (k->o.decode) { /* Tocsin's own records: no parsing, no normalisation */
        rc = k->o.decode(k->o.decode_ctx, ev, rd_kafka_message_timestamp(m, NULL), &d.reason);
        if (rc && !d.reason)
            d.reason = ts_strerror(rc);
        if (rc == 0) {
            ingest_batch_keep(b);
            inc(&w->st.parsed, 1);
        }
    } else if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(hdrs, "tenant", &hv, &hlen) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        hv && hlen > 0 &&
        (tn = tenant_from_header(t, hv, hlen, b->arena, reason, sizeof(reason))) == NULL) {
        d.reason = reason;
        rc = TS_E_PARSE;
        inc(&w->st.tenant_refused, 1);
    } else if (m->len > max) {
        snprintf(reason, sizeof(reason), "message of %zu bytes exceeds the limit of %zu", m->len,
                 max);
        d.reason = reason;
        d.limit = "message_size";
        rc = TS_E_PARSE;
    } else {
        if (tn)
            ev->tenant = tn;
        if (t->tz) { /* the topic's own zone */
            struct ingest_parse_opts po = k->o.parse;
            po.tz = t->tz;
            rc = ingest_parse(t->format, &po, ev, &d);
        } else {
            rc = ingest_parse(t->format, &k->o.parse, ev, &d);
        }
    }
    if (rc == 0 && k->o.decode) {
        /* kept above */
    } else if (rc == 0) {
        ingest_batch_keep(b);
        inc(&w->st.parsed, 1);
        /* a step that cannot finish leaves the event as parsed */
        if (b->norm && w->ns && norm_apply(b->norm, w->ns, ev, NULL))
            inc(&w->st.warnings, 1);
        if (b->norm && w->ns && (nodec = norm_undecoded(w->ns))) {
            inc(&w->st.no_decoder, 1);
            b->no_decoder++;
        }
        if (b->norm && w->ns && norm_regex_cut(w->ns))
            inc(&w->st.regex_cut, 1);
        if (!ingest_diag_warning_holds(&d, ev))
            d.warning = NULL; /* a decoder set the time the parser could not read */
        if (d.warning)
            inc(&w->st.warnings, 1);
        int64_t own = ev->time_ns;
        bool clamped = ingest_time_guard(&k->o.parse, ev);
        const struct ts_tz *z = t->tz ? t->tz : k->o.parse.tz;
        ingest_health_note(w->health, ev, own,
                           z ? ts_tz_offset_at(z, ev->ingest_ns / TS_NS_PER_SEC)
                             : k->o.parse.tz_offset_sec,
                           d.warning != NULL);
        if (clamped &&
            atomic_fetch_add_explicit(&w->st.clamped, 1, memory_order_relaxed) % 1000 < 3) {
            const struct ts_field *f = ts_event_getz(ev, "time_claimed");
            ts_warn("kafka: %s [%d] offset %lld: event time %.*s is too far ahead of ingest "
                    "time: clamped to ingest time (a host's clock, or a forged line)",
                    ts->name, (int)m->partition, (long long)m->offset,
                    f ? (int)f->v.len : 1, f ? f->v.u.s : "?");
        }
    } else {
        const char *why = d.reason ? d.reason : ts_strerror(rc);
        if (dead_letter(w, ts, m, why, ev->tenant))
            return; /* fatal: not noted, so never committed */
        b->dead_letters++;
        inc(&w->st.dead_letters, 1);
        if (d.limit)
            inc(&w->st.limit_refused, 1);
    }
    tt_note(w, ts->name, ev->tenant, rc == 0, nodec);
    ingest_batch_note(b, ts->name, m->partition, m->offset + 1);
}

/* defer: polled while a batch is being handed over (partitions paused):
 * keep the message for later instead of adding it now. */
static void handle_poll_result(struct worker *w, rd_kafka_message_t *m, bool defer)
{
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        /* e.g. fenced: another consumer joined with this group.instance.id */
        char buf[512];
        rd_kafka_fatal_error(w->rk, buf, sizeof(buf));
        fail(w->k, TS_E_KAFKA, "Kafka fatal error (worker %d): %s%s", w->id, buf,
             w->k->o.instance_id ? " (does another process run with the same correlate.node?)"
                                 : "");
        rd_kafka_message_destroy(m);
        return;
    }
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            ts_warn("kafka (worker %d): %s", w->id, rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return;
    }
    if (defer) {
        if (pending_add(w, m)) {
            fail(w->k, TS_E_LIMIT, "worker %d: too many messages polled while paused", w->id);
            rd_kafka_message_destroy(m);
        }
        return;
    }
    handle_msg(w, m);
    rd_kafka_message_destroy(m);
}

/* ------------------------------------------------------------ threads */

/* l's offset of each partition of b set to b's */
static void list_note(rd_kafka_topic_partition_list_t *l, const struct ingest_batch *b)
{
    for (uint32_t i = 0; i < b->noffsets; i++) {
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(l, b->offsets[i].topic, b->offsets[i].partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(l, b->offsets[i].topic, b->offsets[i].partition);
        p->offset = b->offsets[i].offset;
    }
}

/* l's offset of each partition of from set to from's */
static void list_merge(rd_kafka_topic_partition_list_t *l,
                       const rd_kafka_topic_partition_list_t *from)
{
    for (int i = 0; i < from->cnt; i++) {
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(l, from->elems[i].topic, from->elems[i].partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(l, from->elems[i].topic,
                                                  from->elems[i].partition);
        p->offset = from->elems[i].offset;
    }
}

/* b's offsets as this worker's latest committed ones (the final commit and
 * a revoke commit them again synchronously). */
static void note_committed(struct worker *w, const struct ingest_batch *b)
{
    pthread_mutex_lock(&w->mu);
    list_note(w->committed, b);
    pthread_mutex_unlock(&w->mu);
}

/* The sink made durable the batches it held and b (NULL: only those):
 * their offsets to Kafka (asynchronously; the final commit and a revoke
 * commit them again synchronously). */
static void commit_offsets(struct worker *w, const struct ingest_batch *b)
{
    pthread_mutex_lock(&w->mu);
    rd_kafka_topic_partition_list_t *l = w->held;
    w->held = rd_kafka_topic_partition_list_new(8);
    if (b)
        list_note(l, b);
    list_merge(w->committed, l);
    pthread_mutex_unlock(&w->mu);
    if (l->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_commit(w->rk, l, 1);
        if (e)
            ts_warn("kafka (worker %d): commit: %s", w->id, rd_kafka_err2str(e));
        else
            inc(&w->st.commits, 1);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Batches held by the sink: flush() them, then their offsets to Kafka. A
 * failure stops the source, nothing of them committed. */
static int flush_held(struct worker *w)
{
    struct ingest_kafka *k = w->k;
    pthread_mutex_lock(&w->mu);
    bool any = w->held && w->held->cnt > 0;
    pthread_mutex_unlock(&w->mu);
    if (!any || !k->o.sink.flush || atomic_load(&k->failed))
        return 0;
    int rc = k->o.sink.flush(k->o.sink.ctx, w->id);
    if (rc) {
        fail(k, rc, "worker %d: committing the batches held failed: %s", w->id,
             ts_strerror(rc));
        return rc;
    }
    commit_offsets(w, NULL);
    return 0;
}

static int txn_batch(struct worker *w, struct ingest_batch *b);

/* The batch's dead letters are confirmed by the broker before its offsets
 * are committed: wait while the broker is away (a warning every 30 s) -
 * the store's fencing (INGEST_E_STALE) keeps a batch whose partitions went
 * to another worker meanwhile from counting twice - until a dead letter
 * fails for good (message.timeout.ms) or the source stops. */
static int dlq_confirmed(struct worker *w)
{
    struct ingest_kafka *k = w->k;
    int before = atomic_load(&k->dlq_failures);
    for (int waited = 0;; waited += 30) {
        rd_kafka_resp_err_t e = rd_kafka_flush(k->producer, 30000);
        if (atomic_load(&k->dlq_failures) != before) {
            fail(k, TS_E_KAFKA, "dead letters not confirmed by the broker; offsets not committed");
            return TS_E_KAFKA;
        }
        if (!e)
            return 0;
        if (atomic_load(&k->stop)) {
            fail(k, TS_E_STOPPED, "stopped while dead letters waited for the broker; offsets "
                                  "not committed");
            return TS_E_STOPPED;
        }
        ts_warn("kafka (worker %d): dead letters not confirmed by the broker after %d s: "
                "waiting (offsets not committed meanwhile)", w->id, waited + 30);
    }
}

static int commit_batch(struct worker *w, struct ingest_batch *b)
{
    struct ingest_kafka *k = w->k;
    if (w->txp)
        return txn_batch(w, b);
    int rc = k->o.sink.process(k->o.sink.ctx, b);
    if (rc) {
        fail(k, rc, "worker %d: downstream failed on a batch: %s", w->id, ts_strerror(rc));
        return rc;
    }
    if (b->dead_letters && (rc = dlq_confirmed(w)) != 0)
        return rc;
    if (k->o.sink.commit && (rc = k->o.sink.commit(k->o.sink.ctx, b)) == INGEST_E_STALE) {
        ts_warn("kafka (worker %d): a batch of %u messages was read again and counted by the "
                "worker that got its partitions while this one waited: dropped, its offsets "
                "not committed", w->id, (unsigned)b->consumed);
        inc(&w->st.batches, 1);
        return 0;
    }
    if (rc == INGEST_HELD) { /* committed to Kafka after the sink's next commit */
        pthread_mutex_lock(&w->mu);
        list_note(w->held, b);
        pthread_mutex_unlock(&w->mu);
        inc(&w->st.batches, 1);
        return 0;
    }
    if (rc) {
        fail(k, rc, "worker %d: commit hook failed: %s", w->id, ts_strerror(rc));
        return rc;
    }
    commit_offsets(w, b);
    inc(&w->st.batches, 1);
    return 0;
}

/* ------------------------------------------------------ transactions */

#define TXN_TIMEOUT_MS 60000
#define TXN_ATTEMPTS 5 /* a batch aborted this often stops the source */
#define TXN_ABORT_FLUSH_MS 5000

int ingest_batch_produce(const struct ingest_batch *b, const char *topic, const void *key,
                         size_t klen, const void *val, size_t vlen, int64_t ts_ms)
{
    return ingest_batch_produce_to(b, topic, RD_KAFKA_PARTITION_UA, key, klen, val, vlen, ts_ms);
}

int32_t ingest_kafka_partition_of(const void *key, size_t klen, int32_t nparts)
{
    if (nparts <= 0)
        return 0;
    return rd_kafka_msg_partitioner_consistent(NULL, key, klen, nparts, NULL, NULL);
}

int ingest_batch_produce_to(const struct ingest_batch *b, const char *topic, int32_t partition,
                            const void *key, size_t klen, const void *val, size_t vlen,
                            int64_t ts_ms)
{
    struct worker *w = b->priv;
    if (!w || !w->txp)
        return TS_E_INVAL;
    for (int tries = 0;; tries++) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            w->txp, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)(uintptr_t)val, vlen),
            RD_KAFKA_V_TIMESTAMP(ts_ms > 0 ? ts_ms : 0), RD_KAFKA_V_END);
        if (!e)
            return 0;
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && tries < 600) {
            rd_kafka_poll(w->txp, 100); /* the queue drains as the broker acknowledges */
            continue;
        }
        snprintf(w->txn_err, sizeof(w->txn_err), "produce to %s: %s", topic,
                 rd_kafka_err2str(e));
        return TS_E_KAFKA;
    }
}

/* librdkafka's error object -> a message, destroyed. */
static const char *txn_errstr(rd_kafka_error_t *e, char *buf, size_t len)
{
    snprintf(buf, len, "%s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return buf;
}

/* One transaction: the batch's records and its offsets. 0, or the error
 * after fail(). Abortable failures (a broker that lost the transaction, a
 * record the broker refused) abort and run the batch again. */
static int txn_batch(struct worker *w, struct ingest_batch *b)
{
    struct ingest_kafka *k = w->k;
    char msg[512];
    if (!w->txn_ready) {
        rd_kafka_error_t *e = rd_kafka_init_transactions(w->txp, TXN_TIMEOUT_MS);
        if (e) {
            fail(k, TS_E_KAFKA, "worker %d: cannot start Kafka transactions: %s", w->id,
                 txn_errstr(e, msg, sizeof(msg)));
            return TS_E_KAFKA;
        }
        w->txn_ready = true;
    }
    for (int attempt = 1;; attempt++) {
        rd_kafka_error_t *e = rd_kafka_begin_transaction(w->txp);
        if (e) {
            fail(k, TS_E_KAFKA, "worker %d: cannot begin a Kafka transaction: %s", w->id,
                 txn_errstr(e, msg, sizeof(msg)));
            return TS_E_KAFKA;
        }
        w->txn_err[0] = '\0';
        int rc = k->o.sink.process(k->o.sink.ctx, b);
        if (!rc && b->dead_letters) {
            int before = atomic_load(&k->dlq_failures);
            if (rd_kafka_flush(k->producer, 30000) || atomic_load(&k->dlq_failures) != before)
                rc = TS_E_KAFKA;
        }
        if (!rc && k->o.sink.commit)
            rc = k->o.sink.commit(k->o.sink.ctx, b);
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)b->noffsets);
        for (uint32_t i = 0; i < b->noffsets; i++)
            rd_kafka_topic_partition_list_add(l, b->offsets[i].topic, b->offsets[i].partition)
                ->offset = b->offsets[i].offset;
        if (!rc && l->cnt > 0) {
            rd_kafka_consumer_group_metadata_t *g = rd_kafka_consumer_group_metadata(w->rk);
            e = rd_kafka_send_offsets_to_transaction(w->txp, l, g, TXN_TIMEOUT_MS);
            rd_kafka_consumer_group_metadata_destroy(g);
        }
        rd_kafka_topic_partition_list_destroy(l);
        for (int c = 0; !rc && !e && c < 10; c++) {
            e = rd_kafka_commit_transaction(w->txp, TXN_TIMEOUT_MS);
            if (!e || !rd_kafka_error_is_retriable(e))
                break;
            ts_warn("kafka (worker %d): transaction commit: %s (retrying)", w->id,
                    txn_errstr(e, msg, sizeof(msg)));
            e = NULL; /* commit again: it is idempotent */
            if (c == 9)
                snprintf(w->txn_err, sizeof(w->txn_err), "transaction commit kept failing");
        }
        if (!rc && !e && !w->txn_err[0]) {
            note_committed(w, b);
            inc(&w->st.commits, 1);
            inc(&w->st.batches, 1);
            if (k->o.sink.txn_done && (rc = k->o.sink.txn_done(k->o.sink.ctx, b, true)) != 0) {
                fail(k, rc, "worker %d: after the Kafka commit: %s", w->id, ts_strerror(rc));
                return rc;
            }
            return 0;
        }
        bool fatal = e && (rd_kafka_error_is_fatal(e) || !rd_kafka_error_txn_requires_abort(e));
        const char *why = e ? txn_errstr(e, msg, sizeof(msg))
                          : w->txn_err[0] ? w->txn_err : ts_strerror(rc);
        if (rc && rc != TS_E_KAFKA)
            fatal = true; /* the downstream stages failed: not a Kafka matter */
        /* librdkafka#4849: an abort sent while the transaction's first
         * AddPartitionsToTxn is still unanswered reaches a coordinator that
         * sees no transaction and fails for good (INVALID_TXN_STATE: seen
         * under load in kafka-ingest's aborted-batch test); a delivered
         * record proves its partition registered, so wait for the records
         * in flight first, briefly (they are aborted with the rest) */
        rd_kafka_flush(w->txp, TXN_ABORT_FLUSH_MS);
        rd_kafka_error_t *ae = rd_kafka_abort_transaction(w->txp, TXN_TIMEOUT_MS);
        if (ae) {
            ts_error("kafka (worker %d): abort: %s", w->id, txn_errstr(ae, msg, sizeof(msg)));
            fatal = true;
        }
        if (k->o.sink.txn_done && k->o.sink.txn_done(k->o.sink.ctx, b, false) != 0)
            fatal = true; /* the sink cannot take the batch again */
        if (fatal || attempt >= TXN_ATTEMPTS) {
            fail(k, rc && rc != TS_E_KAFKA ? rc : TS_E_KAFKA,
                 "worker %d: Kafka transaction failed (%s); nothing of the batch was committed: "
                 "a restart reads it again", w->id, why);
            return rc && rc != TS_E_KAFKA ? rc : TS_E_KAFKA;
        }
        ts_warn("kafka (worker %d): transaction aborted (%s): the batch is processed again "
                "(attempt %d of %d)", w->id, why, attempt + 1, TXN_ATTEMPTS);
    }
}

static void *stage_main(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        void *item;
        int rc = ts_queue_pop(w->full, &item, 200);
        if (rc == TS_E_LIMIT) {
            flush_held(w); /* nothing came: what the sink holds waits no longer */
            continue;
        }
        if (rc)
            break;
        struct ingest_batch *b = item;
        if (!atomic_load(&w->k->failed))
            commit_batch(w, b);
        ingest_batch_reset(b);
        pthread_mutex_lock(&w->mu);
        w->done++;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        ts_queue_push(w->free, b, -1);
    }
    return NULL;
}

/* Leave the group (the revoke served as a rebalance event), waiting at most
 * CLOSE_WAIT_MS: past it the group notices when the session times out. */
static void close_bounded(struct worker *w)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(w->rk);
    rd_kafka_error_t *err = rd_kafka_consumer_close_queue(w->rk, q);
    if (err) {
        ts_warn("kafka (worker %d): close: %s", w->id, rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
        rd_kafka_queue_destroy(q);
        return;
    }
    int64_t until = ts_mono_ns() + (int64_t)CLOSE_WAIT_MS * 1000000;
    while (!rd_kafka_consumer_closed(w->rk)) {
        int64_t left = until - ts_mono_ns();
        if (left <= 0) {
            w->unclosed = true;
            ts_warn("kafka (worker %d): leaving the group did not complete within %d ms (the "
                    "broker does not answer): not waited for; the group reassigns the "
                    "partitions when the session times out", w->id, CLOSE_WAIT_MS);
            break;
        }
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (int)(left / 1000000) + 1);
        if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
            rebalance_cb(w->rk, rd_kafka_event_error(ev),
                         rd_kafka_event_topic_partition_list(ev), w);
        if (ev)
            rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
}

static void *poll_main(void *arg)
{
    struct worker *w = arg;
    struct ingest_kafka *k = w->k;
    int64_t tmo_ns = (int64_t)(k->o.batch_timeout_ms ? k->o.batch_timeout_ms : 100) * 1000000;
    w->cur = free_batch(w);
    w->now_mono = ts_mono_ns();
    while (!atomic_load(&k->stop)) {
        rd_kafka_message_t *m = pending_pop(w);
        if (!m) {
            int wait = 100;
            if (w->cur->consumed > 0) {
                /* now_mono is from the last poll: handling its message
                 * took microseconds, less than the +1 ms of rounding up */
                int64_t left = w->cur_started + tmo_ns - w->now_mono;
                wait = left <= 0 ? 0 : (int)(left / 1000000) + 1;
            }
            m = rd_kafka_consumer_poll(w->rk, wait);
        }
        w->now_mono = ts_mono_ns();
        if (m)
            handle_poll_result(w, m, false);
        if (w->cur->consumed > 0 &&
            (ingest_batch_full(w->cur) || w->now_mono - w->cur_started >= tmo_ns))
            push_cur(w);
        if (w->id == 0)
            rd_kafka_poll(k->producer, 0);
    }
    /* drain: hand over what was read, wait for it, commit, leave the group */
    if (!atomic_load(&k->failed))
        push_cur(w);
    tt_publish(w);
    wait_drained(w);
    flush_held(w);
    commit_sync_done(w);
    w->in_callback = true; /* close() may call the rebalance callback */
    close_bounded(w);
    pending_drop_all(w);
    if (w->cur)
        ts_queue_push(w->free, w->cur, -1);
    w->cur = NULL;
    return NULL;
}

/* ------------------------------------------------------------- set-up */

static int conf_set(rd_kafka_conf_t *c, const char *name, const char *val, struct ts_err *err)
{
    char es[512];
    if (rd_kafka_conf_set(c, name, val, es, sizeof(es)) != RD_KAFKA_CONF_OK)
        return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "kafka property %s=%s: %s", name, val,
                          es);
    return 0;
}

static const char *const managed_props[] = {"enable.auto.commit", "enable.auto.offset.store",
                                            "group.id", "bootstrap.servers"};

static int conf_passthrough(rd_kafka_conf_t *c, const struct ingest_kafka_opts *o,
                            bool consumer, struct ts_err *err)
{
    for (size_t i = 0; i < o->nprops; i++) {
        const char *eq = strchr(o->props[i], '=');
        if (!eq)
            return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0,
                              "kafka property \"%s\" is not name=value", o->props[i]);
        char name[256];
        size_t nl = (size_t)(eq - o->props[i]);
        if (nl == 0 || nl >= sizeof(name))
            return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "bad kafka property name in \"%s\"",
                              o->props[i]);
        memcpy(name, o->props[i], nl);
        name[nl] = '\0';
        for (size_t j = 0; j < TS_ARRAY_LEN(managed_props); j++)
            if (!strcmp(name, managed_props[j]))
                return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0,
                                  "kafka property %s is managed by tocsin and cannot be set",
                                  name);
        /* the re-keyed mode names its transactions and members per worker */
        if ((o->txn_id && !strcmp(name, "transactional.id")) ||
            (o->instance_id && !strcmp(name, "group.instance.id")))
            return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0,
                              "kafka property %s is managed by tocsin with "
                              "correlate.distributed (set correlate.node instead)",
                              name);
        char es[512];
        rd_kafka_conf_res_t r = rd_kafka_conf_set(c, name, eq + 1, es, sizeof(es));
        /* consumer-only or producer-only properties are fine on the other */
        if (r == RD_KAFKA_CONF_INVALID ||
            (r == RD_KAFKA_CONF_UNKNOWN && consumer))
            return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "kafka property %s: %s", name, es);
    }
    return 0;
}

static int make_consumer(struct ingest_kafka *k, struct worker *w, struct ts_err *err)
{
    char es[512], cid[64];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    snprintf(cid, sizeof(cid), "tocsin-w%d", w->id);
    int rc = conf_set(c, "bootstrap.servers", k->o.brokers, err);
    rc = rc ? rc : conf_set(c, "group.id", k->o.group_id ? k->o.group_id : "tocsin", err);
    rc = rc ? rc : conf_set(c, "client.id", cid, err);
    rc = rc ? rc : conf_set(c, "enable.auto.commit", "false", err);
    rc = rc ? rc : conf_set(c, "enable.auto.offset.store", "false", err);
    rc = rc ? rc : conf_set(c, "auto.offset.reset", "earliest", err);
    rc = rc ? rc : conf_set(c, "enable.partition.eof", "false", err);
    /* only what committed transactions wrote (the re-keyed topic) */
    rc = rc ? rc : conf_set(c, "isolation.level", "read_committed", err);
    char iid[320];
    if (k->o.instance_id && strlen(k->o.instance_id) < 256) {
        snprintf(iid, sizeof(iid), "%s-w%d", k->o.instance_id, w->id);
        rc = rc ? rc : conf_set(c, "group.instance.id", iid, err);
    }
    /* topics created later are found at the next metadata refresh: 30 s
     * instead of librdkafka's 5 min (kafka.properties may set it) */
    rc = rc ? rc : conf_set(c, "topic.metadata.refresh.interval.ms", "30000", err);
    rc = rc ? rc : conf_passthrough(c, &k->o, true, err);
    if (rc) {
        rd_kafka_conf_destroy(c);
        return rc;
    }
    rd_kafka_conf_set_opaque(c, w);
    rd_kafka_conf_set_rebalance_cb(c, rebalance_cb);
    rd_kafka_conf_set_error_cb(c, error_cb);
    rd_kafka_conf_set_offset_commit_cb(c, commit_cb);
    w->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, es, sizeof(es));
    if (!w->rk) {
        rd_kafka_conf_destroy(c);
        return ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "cannot create Kafka consumer: %s", es);
    }
    rd_kafka_poll_set_consumer(w->rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new((int)k->o.ntopics);
    for (size_t i = 0; i < k->o.ntopics; i++)
        rd_kafka_topic_partition_list_add(subs, k->o.topics[i].name, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(w->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e)
        return ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "cannot subscribe: %s",
                          rd_kafka_err2str(e));
    return 0;
}

static int make_producer(struct ingest_kafka *k, struct ts_err *err)
{
    char es[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    int rc = conf_set(c, "bootstrap.servers", k->o.brokers, err);
    rc = rc ? rc : conf_set(c, "client.id", "tocsin-dlq", err);
    rc = rc ? rc : conf_set(c, "enable.idempotence", "true", err);
    rc = rc ? rc : conf_set(c, "linger.ms", "5", err);
    rc = rc ? rc : conf_passthrough(c, &k->o, false, err);
    if (rc) {
        rd_kafka_conf_destroy(c);
        return rc;
    }
    rd_kafka_conf_set_opaque(c, k);
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
    if (!k->producer) {
        rd_kafka_conf_destroy(c);
        return ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "cannot create Kafka producer: %s", es);
    }
    return 0;
}

/* The worker's transactional producer: transactional.id "<txn_id>-w<N>",
 * stable across restarts, so init_transactions fences the previous
 * incarnation and aborts what it left open. */
static int make_txn_producer(struct ingest_kafka *k, struct worker *w, struct ts_err *err)
{
    char es[512], tid[320], cid[64];
    if (strlen(k->o.txn_id) > 256)
        return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "transactional id prefix too long");
    snprintf(tid, sizeof(tid), "%s-w%d", k->o.txn_id, w->id);
    snprintf(cid, sizeof(cid), "tocsin-txn-w%d", w->id);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    int rc = conf_set(c, "bootstrap.servers", k->o.brokers, err);
    rc = rc ? rc : conf_set(c, "client.id", cid, err);
    rc = rc ? rc : conf_set(c, "transactional.id", tid, err);
    rc = rc ? rc : conf_set(c, "linger.ms", "5", err);
    rc = rc ? rc : conf_passthrough(c, &k->o, false, err);
    /* after the pass-through: the consumers of what this produces compute
     * a key's partition themselves (ingest_kafka_partition_of) */
    rc = rc ? rc : conf_set(c, "partitioner", "consistent", err);
    if (rc) {
        rd_kafka_conf_destroy(c);
        return rc;
    }
    w->txp = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
    if (!w->txp) {
        rd_kafka_conf_destroy(c);
        return ts_err_set(err, TS_E_KAFKA, NULL, 0, 0,
                          "cannot create the transactional Kafka producer: %s", es);
    }
    return 0;
}

/* The partition count of topic per the broker's metadata, or -1. */
static int32_t topic_partitions(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int32_t n = -1;
    for (int tries = 0; rkt && n < 0 && tries < 20; tries++) {
        if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR && md) {
            if (md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0)
                n = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
        if (n < 0) {
            struct timespec t = {0, 250 * 1000000L}; /* a topic just created */
            nanosleep(&t, NULL);
        }
    }
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return n;
}

int ingest_kafka_topic_ensure(const struct ingest_kafka_opts *o, const char *topic,
                              int partitions, bool compact, int32_t *nparts, struct ts_err *err)
{
    char es[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    int rc = conf_set(c, "bootstrap.servers", o->brokers, err);
    rc = rc ? rc : conf_set(c, "client.id", "tocsin-admin", err);
    rc = rc ? rc : conf_passthrough(c, o, false, err);
    if (rc) {
        rd_kafka_conf_destroy(c);
        return rc;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
    if (!rk) {
        rd_kafka_conf_destroy(c);
        return ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "cannot create a Kafka client: %s", es);
    }
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(topic, partitions, -1 /* the broker's replication */, es,
                              sizeof(es));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rc = nt && q ? 0 : ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "topic %s: %s", topic, es);
    if (!rc && compact &&
        rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact") != RD_KAFKA_RESP_ERR_NO_ERROR)
        rc = ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "topic %s: cannot set cleanup.policy", topic);
    if (!rc) {
        rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
        const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev)
                                                       : NULL;
        size_t n = 0;
        const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &n)
                                                 : NULL;
        rd_kafka_resp_err_t e = !ev ? RD_KAFKA_RESP_ERR__TIMED_OUT
                                : rd_kafka_event_error(ev) ? rd_kafka_event_error(ev)
                                : n == 1 ? rd_kafka_topic_result_error(tr[0])
                                         : RD_KAFKA_RESP_ERR__FAIL;
        const char *why = !ev ? "no answer within 30 s"
                          : rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev)
                          : n == 1 && rd_kafka_topic_result_error_string(tr[0])
                              ? rd_kafka_topic_result_error_string(tr[0])
                              : rd_kafka_err2str(e);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            ts_info("kafka: created topic %s with %d partition(s)", topic, partitions);
        else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            rc = ts_err_set(err, TS_E_KAFKA, NULL, 0, 0,
                            "cannot create the topic %s (%s): create it with %d partitions "
                            "(kafka-topics.sh --create --topic %s --partitions %d%s), or let "
                            "correlate.topic name one that exists",
                            topic, why, partitions, topic, partitions,
                            compact ? " --config cleanup.policy=compact" : "");
        if (ev)
            rd_kafka_event_destroy(ev);
    }
    if (!rc && nparts && (*nparts = topic_partitions(rk, topic)) < 0)
        rc = ts_err_set(err, TS_E_KAFKA, NULL, 0, 0,
                        "topic %s: the broker does not say how many partitions it has", topic);
    if (q)
        rd_kafka_queue_destroy(q);
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
    return rc;
}

struct ingest_tail {
    rd_kafka_t *rk;
    int32_t nparts;
    bool *eof;
};

int ingest_kafka_tail_open(struct ingest_tail **out, const struct ingest_kafka_opts *o,
                           const char *topic, int32_t nparts, const int64_t *start,
                           struct ts_err *err)
{
    *out = NULL;
    char es[512];
    struct ingest_tail *t = calloc(1, sizeof(*t));
    if (!t || !(t->eof = calloc((size_t)(nparts > 0 ? nparts : 1), sizeof(bool)))) {
        free(t);
        return TS_E_NOMEM;
    }
    t->nparts = nparts;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    int rc = conf_set(c, "bootstrap.servers", o->brokers, err);
    rc = rc ? rc : conf_set(c, "group.id", "tocsin-tail", err); /* never joined */
    rc = rc ? rc : conf_set(c, "client.id", "tocsin-tail", err);
    rc = rc ? rc : conf_set(c, "enable.auto.commit", "false", err);
    rc = rc ? rc : conf_set(c, "enable.auto.offset.store", "false", err);
    rc = rc ? rc : conf_set(c, "enable.partition.eof", "true", err);
    rc = rc ? rc : conf_set(c, "isolation.level", "read_committed", err);
    rc = rc ? rc : conf_set(c, "fetch.wait.max.ms", "100", err);
    rc = rc ? rc : conf_passthrough(c, o, true, err);
    if (rc) {
        rd_kafka_conf_destroy(c);
        ingest_kafka_tail_close(t);
        return rc;
    }
    t->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, es, sizeof(es));
    if (!t->rk) {
        rd_kafka_conf_destroy(c);
        ingest_kafka_tail_close(t);
        return ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "cannot create a Kafka consumer: %s", es);
    }
    rd_kafka_poll_set_consumer(t->rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    for (int32_t p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset =
            start[p] >= 0 ? start[p] : RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(t->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        ingest_kafka_tail_close(t);
        return ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "%s: cannot read: %s", topic,
                          rd_kafka_err2str(e));
    }
    *out = t;
    return 0;
}

long ingest_kafka_tail_poll(struct ingest_tail *t, int timeout_ms, size_t max,
                            int (*fn)(void *ctx, int32_t partition, int64_t offset,
                                      const void *key, size_t klen, const void *val,
                                      size_t vlen),
                            void *ctx, bool *at_end)
{
    long n = 0;
    int64_t until = ts_mono_ns() + (int64_t)timeout_ms * 1000000;
    int rc = 0;
    while (!rc && (size_t)n < max) {
        int64_t left = (until - ts_mono_ns()) / 1000000;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t->rk, left > 0 ? (int)left : 0);
        if (!m)
            break;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < t->nparts)
                t->eof[m->partition] = true;
        } else if (m->err) {
            ts_warn("kafka: reading %s [%d]: %s", m->rkt ? rd_kafka_topic_name(m->rkt) : "?",
                    (int)m->partition, rd_kafka_message_errstr(m));
            if (m->err == RD_KAFKA_RESP_ERR__FATAL)
                rc = TS_E_KAFKA;
        } else {
            if (m->partition >= 0 && m->partition < t->nparts)
                t->eof[m->partition] = false;
            rc = fn(ctx, m->partition, m->offset, m->key, m->key_len, m->payload,
                    m->payload ? m->len : 0);
            n++;
        }
        rd_kafka_message_destroy(m);
        if (ts_mono_ns() >= until)
            break;
    }
    bool all = true;
    for (int32_t p = 0; p < t->nparts; p++)
        all = all && t->eof[p];
    *at_end = all;
    return rc ? rc : n;
}

void ingest_kafka_tail_close(struct ingest_tail *t)
{
    if (!t)
        return;
    if (t->rk) {
        rd_kafka_consumer_close(t->rk);
        rd_kafka_destroy(t->rk);
    }
    free(t->eof);
    free(t);
}

int ingest_kafka_read_parts(const struct ingest_kafka_opts *o, const char *topic,
                            const int32_t *parts, size_t n,
                            int (*fn)(void *ctx, int32_t partition, const void *key, size_t klen,
                                      const void *val, size_t vlen),
                            void *ctx, uint64_t *records, struct ts_err *err)
{
    if (records)
        *records = 0;
    if (!n)
        return 0;
    char es[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    int rc = conf_set(c, "bootstrap.servers", o->brokers, err);
    rc = rc ? rc : conf_set(c, "group.id", "tocsin-restore", err); /* never joined */
    rc = rc ? rc : conf_set(c, "client.id", "tocsin-restore", err);
    rc = rc ? rc : conf_set(c, "enable.auto.commit", "false", err);
    rc = rc ? rc : conf_set(c, "enable.auto.offset.store", "false", err);
    rc = rc ? rc : conf_set(c, "enable.partition.eof", "true", err);
    rc = rc ? rc : conf_set(c, "isolation.level", "read_committed", err);
    rc = rc ? rc : conf_passthrough(c, o, true, err);
    if (rc) {
        rd_kafka_conf_destroy(c);
        return rc;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, es, sizeof(es));
    if (!rk) {
        rd_kafka_conf_destroy(c);
        return ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "cannot create a Kafka consumer: %s", es);
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    bool *done = calloc(n, sizeof(*done));
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topic, parts[i])->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = done ? rd_kafka_assign(rk, l) : RD_KAFKA_RESP_ERR__FAIL;
    if (e)
        rc = ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "%s: cannot read: %s", topic,
                        rd_kafka_err2str(e));
    size_t ndone = 0;
    int64_t last = ts_mono_ns();
    while (!rc && ndone < n) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) {
            if (ts_mono_ns() - last > 60 * TS_NS_PER_SEC)
                rc = ts_err_set(err, TS_E_KAFKA, NULL, 0, 0,
                                "%s: nothing read for 60 s before the end of %zu partition(s)",
                                topic, n - ndone);
            continue;
        }
        last = ts_mono_ns();
        size_t j = 0;
        while (j < n && parts[j] != m->partition)
            j++;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (j < n && !done[j]) {
                done[j] = true;
                ndone++;
            }
        } else if (m->err) {
            rc = ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "%s [%d]: %s", topic, (int)m->partition,
                            rd_kafka_message_errstr(m));
        } else if (j < n && !done[j]) {
            if (records)
                (*records)++;
            rc = fn(ctx, m->partition, m->key, m->key_len, m->payload, m->payload ? m->len : 0);
        }
        rd_kafka_message_destroy(m);
    }
    free(done);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

int ingest_kafka_create(struct ingest_kafka **out, const struct ingest_kafka_opts *o,
                        struct ts_err *err)
{
    *out = NULL;
    if (!o->brokers || !*o->brokers)
        return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "kafka.brokers is not set");
    if (!o->ntopics)
        return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "no topics to consume");
    if (!o->sink.process)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "ingest sink has no process()");
    struct ingest_kafka *k = calloc(1, sizeof(*k));
    if (!k)
        return TS_E_NOMEM;
    k->o = *o;
    pthread_mutex_init(&k->errmu, NULL);
    pthread_mutex_init(&k->normu, NULL);
    k->norm = norm_set_ref(o->norm);
    k->nw = o->workers > 0 ? o->workers : 1;
    int rc = 0;
    k->dlq_names = calloc(o->ntopics, sizeof(char *));
    k->w = calloc((size_t)k->nw, sizeof(*k->w));
    k->re = calloc(o->ntopics, sizeof(*k->re));
    k->has_re = calloc(o->ntopics, sizeof(*k->has_re));
    if (!k->dlq_names || !k->w || !k->re || !k->has_re) {
        ingest_kafka_destroy(k);
        return TS_E_NOMEM;
    }
    for (size_t i = 0; i < o->ntopics; i++) {
        if (o->topics[i].name[0] != '^')
            continue;
        /* a pattern: librdkafka subscribes by it (new topics within
         * topic.metadata.refresh.interval.ms); we match concrete names with
         * POSIX extended regexps, the common subset of both syntaxes */
        int rrc = regcomp(&k->re[i], o->topics[i].name, REG_EXTENDED | REG_NOSUB);
        if (rrc) {
            char msg[256];
            regerror(rrc, &k->re[i], msg, sizeof(msg));
            ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "topic pattern %s: %s", o->topics[i].name,
                       msg);
            ingest_kafka_destroy(k);
            return TS_E_CONFIG;
        }
        k->has_re[i] = true;
    }
    for (size_t i = 0; i < o->ntopics; i++) {
        if (o->topics[i].dlq_topic) {
            k->dlq_names[i] = strdup(o->topics[i].dlq_topic);
        } else {
            size_t n = strlen(o->topics[i].name) + 5;
            k->dlq_names[i] = malloc(n);
            if (k->dlq_names[i])
                snprintf(k->dlq_names[i], n, "%s.dlq", o->topics[i].name);
        }
        if (!k->dlq_names[i]) {
            ingest_kafka_destroy(k);
            return TS_E_NOMEM;
        }
    }
    rc = make_producer(k, err);
    size_t max = o->parse.max_msg_bytes ? o->parse.max_msg_bytes : INGEST_DEFAULT_MAX_MSG;
    uint32_t qn = o->queue_batches ? o->queue_batches : 4;
    for (int i = 0; !rc && i < k->nw; i++) {
        struct worker *w = &k->w[i];
        w->k = k;
        w->id = i;
        pthread_mutex_init(&w->mu, NULL);
        pthread_mutex_init(&w->ttmu, NULL);
        pthread_cond_init(&w->cv, NULL);
        w->committed = rd_kafka_topic_partition_list_new(8);
        w->held = rd_kafka_topic_partition_list_new(8);
        rc = ingest_health_create(&w->health);
        w->npool = qn + 2;
        w->pool = calloc(w->npool, sizeof(*w->pool));
        rc = w->pool ? ts_queue_create(&w->full, qn) : TS_E_NOMEM;
        rc = rc ? rc : ts_queue_create(&w->free, w->npool);
        for (uint32_t j = 0; !rc && j < w->npool; j++) {
            rc = ingest_batch_create(&w->pool[j], o->batch_max ? o->batch_max : 1000, max);
            if (!rc) {
                w->pool[j]->worker = i; /* the sink keeps per-worker state by this index */
                w->pool[j]->priv = w;   /* ingest_batch_produce */
                rc = ts_queue_try_push(w->free, w->pool[j]);
            }
        }
        if (!rc)
            rc = make_consumer(k, w, err);
        if (!rc && o->txn_id)
            rc = make_txn_producer(k, w, err);
    }
    if (rc) {
        ts_err_set(err, rc, NULL, 0, 0, "cannot set up the Kafka consumer: %s", ts_strerror(rc));
        ingest_kafka_destroy(k);
        return rc;
    }
    *out = k;
    return 0;
}

int ingest_kafka_run(struct ingest_kafka *k, struct ts_err *err)
{
    /* Fence the previous incarnation of each transactional id before
     * joining the group: its open transaction (a process killed mid-batch)
     * is aborted now. Left to the first batch, the pending offsets it sent
     * would make the committed offsets read on assignment (require_stable)
     * wait for the transaction timeout. */
    for (int i = 0; i < k->nw && !atomic_load(&k->failed); i++) {
        struct worker *w = &k->w[i];
        if (!w->txp || w->txn_ready)
            continue;
        char msg[512];
        rd_kafka_error_t *e = rd_kafka_init_transactions(w->txp, TXN_TIMEOUT_MS);
        if (e)
            fail(k, TS_E_KAFKA, "worker %d: cannot start Kafka transactions: %s", w->id,
                 txn_errstr(e, msg, sizeof(msg)));
        else
            w->txn_ready = true;
    }
    for (int i = 0; i < k->nw && !atomic_load(&k->failed); i++) {
        struct worker *w = &k->w[i];
        if (pthread_create(&w->stage_tid, NULL, stage_main, w) == 0)
            w->stage_started = true;
        if (w->stage_started && pthread_create(&w->poll_tid, NULL, poll_main, w) == 0)
            w->poll_started = true;
        if (!w->poll_started) {
            fail(k, TS_E_NOMEM, "cannot start worker threads");
            break;
        }
    }
    for (int i = 0; i < k->nw; i++)
        if (k->w[i].poll_started)
            pthread_join(k->w[i].poll_tid, NULL);
    for (int i = 0; i < k->nw; i++) {
        ts_queue_close(k->w[i].full);
        if (k->w[i].stage_started)
            pthread_join(k->w[i].stage_tid, NULL);
        k->w[i].poll_started = k->w[i].stage_started = false;
    }
    rd_kafka_flush(k->producer, 10000);
    int f = atomic_load(&k->failed);
    if (f) {
        ts_err_set(err, f, NULL, 0, 0, "%s", k->errmsg);
        return f;
    }
    return 0;
}

void ingest_kafka_stop(struct ingest_kafka *k)
{
    atomic_store(&k->stop, 1);
}

void ingest_kafka_set_norm(struct ingest_kafka *k, struct norm_set *n)
{
    struct norm_set *ref = norm_set_ref(n);
    pthread_mutex_lock(&k->normu);
    struct norm_set *old = k->norm;
    k->norm = ref;
    pthread_mutex_unlock(&k->normu);
    norm_set_free(old);
}

void ingest_kafka_stats(struct ingest_kafka *k, struct ingest_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (int i = 0; i < k->nw; i++) {
        struct wstats *s = &k->w[i].st;
        st->consumed += atomic_load(&s->consumed);
        st->parsed += atomic_load(&s->parsed);
        st->dead_letters += atomic_load(&s->dead_letters);
        st->warnings += atomic_load(&s->warnings);
        st->bytes += atomic_load(&s->bytes);
        st->batches += atomic_load(&s->batches);
        st->commits += atomic_load(&s->commits);
        st->pauses += atomic_load(&s->pauses);
        st->resumes += atomic_load(&s->resumes);
        st->rebalances += atomic_load(&s->rebalances);
        st->tenant_refused += atomic_load(&s->tenant_refused);
        st->limit_refused += atomic_load(&s->limit_refused);
        st->regex_cut += atomic_load(&s->regex_cut);
        st->clamped += atomic_load(&s->clamped);
        st->no_decoder += atomic_load(&s->no_decoder);
        st->broker_errors += atomic_load(&s->broker_errors);
    }
}

int ingest_kafka_topic_stats(struct ingest_kafka *k, struct ingest_topic_stat **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct tttable all = {0};
    int rc = 0;
    for (int i = 0; i < k->nw && !rc; i++) {
        struct worker *w = &k->w[i];
        pthread_mutex_lock(&w->ttmu);
        for (size_t j = 0; j < w->tt.n && !rc; j++) {
            const struct ttcount *p = &w->tt.v[j];
            /* the same concrete topic has one name per worker (patterns):
             * merge by text */
            struct ttcount *c = NULL;
            for (size_t a = 0; a < all.n && !c; a++)
                if (strcmp(all.v[a].topic, p->topic) == 0 &&
                    strcmp(all.v[a].tenant, p->tenant) == 0)
                    c = &all.v[a];
            if (!c && (c = tt_find(&all, p->topic, p->tenant)) == NULL)
                rc = TS_E_NOMEM;
            if (c) {
                c->consumed += p->consumed;
                c->parsed += p->parsed;
                c->dead_letters += p->dead_letters;
                c->no_decoder += p->no_decoder;
            }
        }
        pthread_mutex_unlock(&w->ttmu);
    }
    if (rc || !all.n) {
        free(all.v);
        return rc;
    }
    struct ingest_topic_stat *v = calloc(all.n, sizeof(*v));
    if (!v) {
        free(all.v);
        return TS_E_NOMEM;
    }
    for (size_t i = 0; i < all.n; i++) {
        v[i].topic = all.v[i].topic;
        memcpy(v[i].tenant, all.v[i].tenant, sizeof(v[i].tenant));
        v[i].consumed = all.v[i].consumed;
        v[i].parsed = all.v[i].parsed;
        v[i].dead_letters = all.v[i].dead_letters;
        v[i].no_decoder = all.v[i].no_decoder;
    }
    free(all.v);
    *out = v;
    *n = all.n;
    return 0;
}

int ingest_kafka_lag(struct ingest_kafka *k, struct ingest_partition_lag **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0, cnt = 0;
    struct ingest_partition_lag *v = NULL;
    int rc = 0;
    for (int i = 0; i < k->nw && !rc; i++) {
        struct worker *w = &k->w[i];
        pthread_mutex_lock(&w->mu);
        rd_kafka_topic_partition_list_t *a =
            w->assigned ? rd_kafka_topic_partition_list_copy(w->assigned) : NULL;
        for (int j = 0; a && j < a->cnt; j++) {
            rd_kafka_topic_partition_t *c = rd_kafka_topic_partition_list_find(
                w->committed, a->elems[j].topic, a->elems[j].partition);
            a->elems[j].offset = c ? c->offset : RD_KAFKA_OFFSET_INVALID;
        }
        pthread_mutex_unlock(&w->mu);
        if (!a)
            continue;
        /* no batch committed since the assignment: where consuming stands */
        rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_copy(a);
        if (pos && rd_kafka_position(w->rk, pos) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_topic_partition_list_destroy(pos);
            pos = NULL;
        }
        for (int j = 0; j < a->cnt; j++) {
            if (cnt == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                struct ingest_partition_lag *nv = realloc(v, ncap * sizeof(*nv));
                if (!nv) {
                    rc = TS_E_NOMEM;
                    break;
                }
                v = nv;
                cap = ncap;
            }
            struct ingest_partition_lag *l = &v[cnt++];
            memset(l, 0, sizeof(*l));
            snprintf(l->topic, sizeof(l->topic), "%s", a->elems[j].topic);
            l->partition = a->elems[j].partition;
            l->worker = w->id;
            int64_t done = a->elems[j].offset;
            if (done < 0 && pos)
                done = pos->elems[j].offset;
            int64_t lo = -1, hi = -1;
            if (rd_kafka_get_watermark_offsets(w->rk, a->elems[j].topic, l->partition, &lo,
                                               &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
                lo = hi = -1;
            /* nothing consumed since the assignment: from the start of
             * what the broker keeps (as auto.offset.reset=earliest does) */
            if (done < 0)
                done = lo >= 0 ? lo : hi == 0 ? 0 : -1;
            l->committed = done >= 0 ? done : -1;
            l->high = hi >= 0 ? hi : -1;
            l->lag = l->high >= 0 && l->committed >= 0
                         ? (l->high > l->committed ? l->high - l->committed : 0)
                         : -1;
        }
        if (pos)
            rd_kafka_topic_partition_list_destroy(pos);
        rd_kafka_topic_partition_list_destroy(a);
    }
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return 0;
}

void ingest_kafka_health(struct ingest_kafka *k, int64_t silent_after_ns,
                         struct ingest_health_summary *sum)
{
    struct ingest_health *hs[64];
    size_t n = 0;
    for (int i = 0; i < k->nw && n < TS_ARRAY_LEN(hs); i++)
        hs[n++] = k->w[i].health;
    ingest_health_report(hs, n, ts_now_ns(), silent_after_ns, sum);
}

void ingest_kafka_destroy(struct ingest_kafka *k)
{
    if (!k)
        return;
    for (int i = 0; k->w && i < k->nw; i++) {
        struct worker *w = &k->w[i];
        if (w->rk) /* a group not left in time is not waited for again */
            rd_kafka_destroy_flags(w->rk, w->unclosed ? RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE : 0);
        if (w->txp) /* an open transaction is aborted by the broker (or fenced by the next) */
            rd_kafka_destroy(w->txp);
        pending_drop_all(w);
        free(w->pending);
        for (size_t j = 0; j < w->nseen; j++) {
            if (w->seen[j].own_name)
                free(w->seen[j].name);
            if (w->seen[j].own_dlq)
                free(w->seen[j].dlq);
        }
        free(w->seen);
        ingest_health_destroy(w->health);
        norm_scratch_free(w->ns);
        norm_set_free(w->ns_norm);
        for (uint32_t j = 0; w->pool && j < w->npool; j++)
            ingest_batch_destroy(w->pool[j]);
        free(w->pool);
        ts_queue_destroy(w->full);
        ts_queue_destroy(w->free);
        if (w->committed)
            rd_kafka_topic_partition_list_destroy(w->committed);
        if (w->held)
            rd_kafka_topic_partition_list_destroy(w->held);
        if (w->assigned)
            rd_kafka_topic_partition_list_destroy(w->assigned);
        free(w->tt_pend.v);
        free(w->tt.v);
        if (w->k) {
            pthread_mutex_destroy(&w->ttmu);
            pthread_mutex_destroy(&w->mu);
            pthread_cond_destroy(&w->cv);
        }
    }
    free(k->w);
    if (k->producer) {
        rd_kafka_flush(k->producer, 5000);
        rd_kafka_destroy(k->producer);
    }
    for (size_t i = 0; k->dlq_names && i < k->o.ntopics; i++)
        free(k->dlq_names[i]);
    free(k->dlq_names);
    for (size_t i = 0; k->has_re && i < k->o.ntopics; i++)
        if (k->has_re[i])
            regfree(&k->re[i]);
    free(k->re);
    free(k->has_re);
    norm_set_free(k->norm);
    pthread_mutex_destroy(&k->errmu);
    pthread_mutex_destroy(&k->normu);
    free(k);
}

/* ------------------------------------------------ records waited for */

static void wait_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct ingest_record *r = m->_private;
    if (!r)
        return;
    r->err = m->err ? TS_E_KAFKA : 0;
    r->offset = m->err ? -1 : m->offset;
    r->why = m->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT
                 ? "the broker did not answer in time (not written)"
             : m->err ? rd_kafka_err2str(m->err)
                      : NULL;
}

int ingest_kafka_produce_wait(const struct ingest_kafka_opts *o, const char *topic,
                              struct ingest_record *recs, size_t n, int timeout_ms,
                              struct ts_err *err)
{
    char es[512], tms[24];
    if (timeout_ms < 1)
        timeout_ms = 1;
    snprintf(tms, sizeof(tms), "%d", timeout_ms);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    int rc = conf_set(c, "bootstrap.servers", o->brokers, err);
    rc = rc ? rc : conf_set(c, "client.id", "tocsin-change", err);
    rc = rc ? rc : conf_passthrough(c, o, false, err);
    rc = rc ? rc : conf_set(c, "enable.idempotence", "true", err);
    rc = rc ? rc : conf_set(c, "acks", "all", err);
    rc = rc ? rc : conf_set(c, "message.timeout.ms", tms, err);
    /* the caller says what failed in one line: no connection log on stderr */
    rc = rc ? rc : conf_set(c, "log_level", "2", err);
    if (rc) {
        rd_kafka_conf_destroy(c);
        return rc;
    }
    rd_kafka_conf_set_dr_msg_cb(c, wait_dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
    if (!rk) {
        rd_kafka_conf_destroy(c);
        return ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "cannot create a Kafka client: %s", es);
    }
    size_t sent = 0;
    const char *first = NULL;
    for (size_t i = 0; i < n; i++) {
        recs[i].offset = -1;
        recs[i].err = TS_E_KAFKA;
        recs[i].why = NULL;
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(recs[i].partition),
            RD_KAFKA_V_KEY(recs[i].key, recs[i].klen),
            RD_KAFKA_V_VALUE((void *)recs[i].val, recs[i].val ? recs[i].vlen : 0),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&recs[i]),
            RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 100);
            i--;
            continue;
        }
        if (e) {
            first = rd_kafka_err2str(e);
            break;
        }
        sent++;
    }
    /* every record's answer, or its message.timeout.ms */
    rd_kafka_flush(rk, timeout_ms + 5000);
    rd_kafka_poll(rk, 0);
    for (size_t i = 0; !first && i < sent; i++)
        if (recs[i].err)
            first = recs[i].why ? recs[i].why : "no answer from the broker in time";
    rd_kafka_destroy(rk);
    if (first || sent < n)
        return ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "%s: %s", topic,
                          first ? first : "not every record was written");
    return 0;
}
