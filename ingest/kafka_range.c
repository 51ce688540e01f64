/* kafka_range.c - a time range of the Kafka topics, read once (`tocsin
 * hunt`; ingest.h: ingest_kafka_range_run). The plan: the topics of the
 * config that exist on the broker (exact names, ^patterns, less dead-letter
 * topics, narrowed by topic_filter), each partition's offsets for
 * from - margin and to + margin (offsets-for-times, bounded by the
 * watermarks). One consumer of its own reads them with assign(): it never
 * subscribes, joins or commits, so no consumer group sees it and `run`'s
 * committed offsets stay as they are. Messages become events as in the
 * live source (kafka.c's handle_msg: tenant header, the topic's zone,
 * normalisation, the time guard); the window filter drops the events
 * outside [from, to) by event time before the sink sees the batch.
 *
 * Threads: with one worker, everything on the caller's thread (the sink
 * included). With opts.threads = N > 1 the caller's thread still reads and
 * merges every partition (the merge fixes the order correlation sees, so
 * the result is the one-thread result), parses and normalises, and hands
 * each full batch to one of N matching workers in turn (b->worker = its
 * index): the workers run the sink's process (rule matching, the costly
 * part) at the same time, and its commit one batch at a time in the order
 * the batches were made (a ticket), so correlation and the store see the
 * same batches in the same order as with one thread. N + 1 batches at most
 * are in memory. The source owns the consumer, the plan and the batches;
 * the options are borrowed for the call. */
#include <pthread.h>
#include <librdkafka/rdkafka.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/tstime.h"
#include "batch_int.h"
#include "ingest.h"
#include "../normalise/normalise.h"

#define RANGE_MAX_PARTS 4096 /* partitions in one plan */
#define RANGE_BATCH_MS 200   /* a batch is handed over at least this often */

struct range_topic {
    char *name;
    const struct ingest_topic *conf;
};

struct range {
    const struct ingest_kafka_range_opts *o;
    struct ingest_range_stats *st;
    rd_kafka_t *rk;
    struct range_topic *topics;
    size_t ntopics;
    struct ingest_range_part *parts;
    size_t nparts;
    struct ingest_batch *b;
    struct norm_scratch *ns;
    int timeout_ms;
    struct pipe *pp; /* N > 1 matching workers, else NULL */
};

/* The matching workers: batch seq goes to worker seq % n; commits in seq
 * order. */
struct pworker {
    struct pipe *pp;
    pthread_t tid;
    struct ingest_batch *b; /* its batch: given (busy) or spare */
    uint64_t seq;
    bool busy, started;
};

struct pipe {
    const struct ingest_kafka_range_opts *o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pworker *w;
    size_t n;
    uint64_t next_seq, next_commit;
    int rc;    /* the first error of process or commit; then nothing more runs */
    bool quit;
};

static int conf_set(rd_kafka_conf_t *c, const char *name, const char *val, struct ts_err *err)
{
    char es[512];
    if (rd_kafka_conf_set(c, name, val, es, sizeof(es)) != RD_KAFKA_CONF_OK)
        return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "kafka property %s=%s: %s", name, val,
                          es);
    return 0;
}

/* Prefetch budget of the reading consumer, shared by the partitions:
 * librdkafka keeps up to queued.max.messages.kbytes per partition (64 MiB
 * by default: most of a hunt's memory, times every partition); below a few
 * MiB, librdkafka before 2.4 restarts a drained partition's fetch only
 * about once a second (no fetch.queue.backoff.ms), which starves the merge. */
#define RANGE_PREFETCH_KIB (256 * 1024)
#define RANGE_PREFETCH_MIN_KIB (16 * 1024)
#define RANGE_PREFETCH_MAX_KIB (64 * 1024)

/* A consumer: never subscribed, never committing; its group id names the
 * hunt and is never joined (assign() needs no group). kib: prefetch per
 * partition, 0: librdkafka's default (the planning consumer). */
static int make_consumer(struct range *r, size_t kib, struct ts_err *err)
{
    const struct ingest_kafka_range_opts *o = r->o;
    char es[512], id[160];
    snprintf(id, sizeof(id), "tocsin-hunt-%.120s", o->client_id ? o->client_id : "range");
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    int rc = conf_set(c, "bootstrap.servers", o->brokers, err);
    rc = rc ? rc : conf_set(c, "group.id", id, err);
    rc = rc ? rc : conf_set(c, "client.id", id, err);
    rc = rc ? rc : conf_set(c, "enable.auto.commit", "false", err);
    rc = rc ? rc : conf_set(c, "enable.auto.offset.store", "false", err);
    rc = rc ? rc : conf_set(c, "enable.partition.eof", "true", err);
    rc = rc ? rc : conf_set(c, "auto.offset.reset", "earliest", err);
    /* prefetch per partition: librdkafka's 64 MiB default, times every
     * partition of the range, was most of a hunt's memory; kafka.properties
     * may set it again */
    char kb[32];
    snprintf(kb, sizeof(kb), "%zu", kib);
    if (kib)
        rc = rc ? rc : conf_set(c, "queued.max.messages.kbytes", kb, err);
    if (kib && rd_kafka_version() >= 0x020400ff) /* librdkafka 2.4: no 1 s pause */
        rc = rc ? rc : conf_set(c, "fetch.queue.backoff.ms", "20", err);
    for (size_t i = 0; !rc && i < o->nprops; i++) {
        const char *eq = strchr(o->props[i], '=');
        char name[256];
        size_t nl = eq ? (size_t)(eq - o->props[i]) : 0;
        if (!eq || nl == 0 || nl >= sizeof(name)) {
            rc = ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "kafka property \"%s\" is not "
                            "name=value", o->props[i]);
            break;
        }
        memcpy(name, o->props[i], nl);
        name[nl] = '\0';
        if (!strcmp(name, "group.id") || !strcmp(name, "bootstrap.servers") ||
            !strncmp(name, "enable.auto.", 12))
            continue; /* refused for `run` by its own check; ours stay */
        rd_kafka_conf_res_t cr = rd_kafka_conf_set(c, name, eq + 1, es, sizeof(es));
        if (cr != RD_KAFKA_CONF_OK && cr != RD_KAFKA_CONF_UNKNOWN)
            rc = ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "kafka property %s: %s", name, es);
    }
    if (rc) {
        rd_kafka_conf_destroy(c);
        return rc;
    }
    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, es, sizeof(es));
    if (!r->rk) {
        rd_kafka_conf_destroy(c);
        return ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "cannot create Kafka consumer: %s", es);
    }
    rd_kafka_poll_set_consumer(r->rk);
    return 0;
}

static bool is_dlq(const struct ingest_kafka_range_opts *o, const char *name)
{
    size_t n = strlen(name);
    if (n >= 4 && strcmp(name + n - 4, ".dlq") == 0)
        return true;
    for (size_t i = 0; i < o->ntopics; i++)
        if (o->topics[i].dlq_topic && strcmp(o->topics[i].dlq_topic, name) == 0)
            return true;
    return false;
}

/* The configured topic a concrete name belongs to: an exact name first,
 * then the first ^pattern; NULL: not ours. */
static const struct ingest_topic *topic_conf(const struct ingest_kafka_range_opts *o,
                                             const char *name)
{
    for (size_t i = 0; i < o->ntopics; i++)
        if (o->topics[i].name[0] != '^' && strcmp(o->topics[i].name, name) == 0)
            return &o->topics[i];
    if (name[0] == '_' || is_dlq(o, name))
        return NULL;
    for (size_t i = 0; i < o->ntopics; i++) {
        regex_t re;
        if (o->topics[i].name[0] != '^' ||
            regcomp(&re, o->topics[i].name, REG_EXTENDED | REG_NOSUB))
            continue;
        int m = regexec(&re, name, 0, NULL, 0);
        regfree(&re);
        if (m == 0)
            return &o->topics[i];
    }
    return NULL;
}

/* The topics to read and their partitions (metadata), start = end = -1. */
static int plan_topics(struct range *r, struct ts_err *err)
{
    const struct ingest_kafka_range_opts *o = r->o;
    regex_t filt;
    bool has_filt = false;
    if (o->topic_filter) {
        int e = regcomp(&filt, o->topic_filter, REG_EXTENDED | REG_NOSUB);
        if (e) {
            char why[128];
            regerror(e, &filt, why, sizeof(why));
            return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0,
                              "--topics \"%s\": %s (a topic name or an extended regex)",
                              o->topic_filter, why);
        }
        has_filt = true;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t ke = rd_kafka_metadata(r->rk, 1, NULL, &md, r->timeout_ms);
    if (ke) {
        if (has_filt)
            regfree(&filt);
        return ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "cannot read the topics of %s: %s",
                          o->brokers, rd_kafka_err2str(ke));
    }
    int rc = 0;
    size_t ntop = 0, npart = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        npart += (size_t)md->topics[i].partition_cnt;
    r->topics = calloc((size_t)md->topic_cnt + 1, sizeof(*r->topics));
    r->parts = calloc(npart + 1, sizeof(*r->parts));
    if (!r->topics || !r->parts)
        rc = TS_E_NOMEM;
    for (int i = 0; !rc && i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        const struct ingest_topic *conf = t->err ? NULL : topic_conf(o, t->topic);
        if (!conf)
            continue;
        if (has_filt && strcmp(o->topic_filter, t->topic) != 0 &&
            regexec(&filt, t->topic, 0, NULL, 0) != 0)
            continue;
        if (r->nparts + (size_t)t->partition_cnt > RANGE_MAX_PARTS) {
            rc = ts_err_set(err, TS_E_LIMIT, NULL, 0, 0, "more than %d partitions to hunt: "
                            "narrow --topics", RANGE_MAX_PARTS);
            break;
        }
        struct range_topic *rt = &r->topics[ntop];
        if (!(rt->name = strdup(t->topic))) {
            rc = TS_E_NOMEM;
            break;
        }
        rt->conf = conf;
        ntop++;
        for (int p = 0; p < t->partition_cnt; p++)
            r->parts[r->nparts++] = (struct ingest_range_part){
                .topic = rt->name, .partition = t->partitions[p].id, .start = -1, .end = -1};
    }
    r->ntopics = ntop;
    rd_kafka_metadata_destroy(md);
    if (has_filt)
        regfree(&filt);
    if (!rc && !r->nparts)
        rc = ts_err_set(err, TS_E_NOTFOUND, NULL, 0, 0,
                        "no topic of the config%s exists on %s", o->topic_filter ?
                        " matching --topics" : "", o->brokers);
    return rc;
}

/* Offsets for a Kafka timestamp per partition (-1 where none is at or
 * after it). */
static int offsets_at(struct range *r, int64_t ms, int64_t *out, struct ts_err *err)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)r->nparts);
    for (size_t i = 0; i < r->nparts; i++)
        rd_kafka_topic_partition_list_add(l, r->parts[i].topic, r->parts[i].partition)->offset =
            ms;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(r->rk, l, r->timeout_ms);
    for (size_t i = 0; !e && i < r->nparts; i++) {
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(l, r->parts[i].topic, r->parts[i].partition);
        if (!tp || tp->err) {
            e = tp ? tp->err : RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
            break;
        }
        out[i] = tp->offset;
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "cannot find the offsets for the time "
                          "range: %s", rd_kafka_err2str(e));
    return 0;
}

static int64_t to_ms(int64_t ns, int64_t margin, bool before)
{
    int64_t ms = ns / 1000000;
    int64_t m = margin / 1000000;
    if (before)
        return ms - m > 0 ? ms - m : 0;
    return ms > INT64_MAX - m ? INT64_MAX : ms + m;
}

/* start/end per partition: [offset for from - margin, offset for to +
 * margin), within the watermarks; a stored resume position moves start. */
static int plan_offsets(struct range *r, struct ts_err *err)
{
    const struct ingest_kafka_range_opts *o = r->o;
    int64_t *a = calloc(r->nparts, sizeof(*a)), *z = calloc(r->nparts, sizeof(*z));
    int rc = a && z ? 0 : TS_E_NOMEM;
    rc = rc ? rc : offsets_at(r, to_ms(o->from_ns, o->margin_ns, true), a, err);
    rc = rc ? rc : offsets_at(r, to_ms(o->to_ns, o->margin_ns, false), z, err);
    for (size_t i = 0; !rc && i < r->nparts; i++) {
        struct ingest_range_part *p = &r->parts[i];
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(r->rk, p->topic, p->partition,
                                                                 &lo, &hi, r->timeout_ms);
        if (e) {
            rc = ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "%s [%d]: cannot read its offsets: %s",
                            p->topic, (int)p->partition, rd_kafka_err2str(e));
            break;
        }
        p->start = a[i] < 0 ? hi : a[i] < lo ? lo : a[i];
        p->end = z[i] < 0 || z[i] > hi ? hi : z[i];
        int64_t resume;
        p->first = p->start;
        if (o->sink.seek && o->sink.seek(o->sink.ctx, p->topic, p->partition, &resume) == 0 &&
            resume > p->start)
            p->start = resume;
        if (p->end < p->start)
            p->end = p->start;
        if (p->first > p->end)
            p->first = p->end;
        p->next = p->start;
        p->done = p->next >= p->end;
    }
    free(a);
    free(z);
    return rc;
}

/* planned and done count from the range's first offset, so that after a
 * resume they cover the whole hunt, not only what is left. */
static void progress(struct range *r)
{
    struct ingest_range_progress *pg = &r->st->progress;
    pg->planned = pg->done = 0;
    pg->partitions = r->nparts;
    pg->partitions_done = 0;
    for (size_t i = 0; i < r->nparts; i++) {
        const struct ingest_range_part *p = &r->parts[i];
        pg->planned += (uint64_t)(p->end - p->first);
        pg->done += (uint64_t)((p->done ? p->end : p->next) - p->first);
        pg->partitions_done += p->done;
    }
    if (r->o->progress)
        r->o->progress(r->o->progress_ctx, pg);
}

static const struct ingest_topic *conf_of(const struct range *r, const char *topic)
{
    for (size_t i = 0; i < r->ntopics; i++)
        if (r->topics[i].name == topic)
            return r->topics[i].conf;
    return NULL;
}

/* The tenant a "tenant" header names, when the topic may carry it (as
 * kafka.c's tenant_from_header: the same rules, the message a dead letter
 * otherwise). NULL: refused. */
static const char *header_tenant(const struct ingest_topic *t, const char *hv, size_t hlen,
                                 struct ts_arena *arena)
{
    if (ts_tenant_check(hv, hlen))
        return NULL;
    if (t->tenant && strlen(t->tenant) == hlen && memcmp(t->tenant, hv, hlen) == 0)
        return t->tenant;
    for (size_t i = 0; i < t->ntenants; i++)
        if (strlen(t->tenants[i]) == hlen && memcmp(t->tenants[i], hv, hlen) == 0)
            return t->tenants[i];
    return t->any_tenant ? ts_arena_strndup(arena, hv, hlen) : NULL;
}

/* ------------------------------------------------- matching workers */

static void *pworker_main(void *arg)
{
    struct pworker *w = arg;
    struct pipe *pp = w->pp;
    const struct ingest_kafka_range_opts *o = pp->o;
    pthread_mutex_lock(&pp->mu);
    for (;;) {
        while (!w->busy && !pp->quit)
            pthread_cond_wait(&pp->cv, &pp->mu);
        if (!w->busy)
            break;
        bool skip = pp->rc != 0;
        pthread_mutex_unlock(&pp->mu);
        int rc = skip ? 0 : o->sink.process(o->sink.ctx, w->b);
        pthread_mutex_lock(&pp->mu);
        while (pp->next_commit != w->seq)
            pthread_cond_wait(&pp->cv, &pp->mu);
        if (!rc && !pp->rc && o->sink.commit) {
            pthread_mutex_unlock(&pp->mu); /* the sink locks its own stage */
            rc = o->sink.commit(o->sink.ctx, w->b);
            pthread_mutex_lock(&pp->mu);
        }
        if (rc && !pp->rc)
            pp->rc = rc;
        pp->next_commit++;
        ingest_batch_reset(w->b);
        w->busy = false;
        pthread_cond_broadcast(&pp->cv);
    }
    pthread_mutex_unlock(&pp->mu);
    return NULL;
}

static int pipe_stop(struct pipe *pp)
{
    pthread_mutex_lock(&pp->mu);
    pp->quit = true;
    pthread_cond_broadcast(&pp->cv);
    pthread_mutex_unlock(&pp->mu);
    for (size_t k = 0; k < pp->n; k++) {
        if (pp->w[k].started)
            pthread_join(pp->w[k].tid, NULL);
        ingest_batch_destroy(pp->w[k].b);
    }
    free(pp->w);
    pthread_cond_destroy(&pp->cv);
    pthread_mutex_destroy(&pp->mu);
    return pp->rc;
}

static int pipe_start(struct pipe *pp, size_t n, uint32_t cap, size_t max)
{
    pthread_mutex_init(&pp->mu, NULL);
    pthread_cond_init(&pp->cv, NULL);
    pp->w = calloc(n, sizeof(*pp->w));
    int rc = pp->w ? 0 : TS_E_NOMEM;
    pp->n = pp->w ? n : 0;
    for (size_t k = 0; !rc && k < n; k++) {
        pp->w[k].pp = pp;
        rc = ingest_batch_create(&pp->w[k].b, cap, max);
        if (!rc && pthread_create(&pp->w[k].tid, NULL, pworker_main, &pp->w[k]) != 0)
            rc = TS_E_NOMEM;
        pp->w[k].started = !rc;
    }
    if (rc)
        pipe_stop(pp);
    return rc;
}

/* Hand r->b to the next worker in turn (waiting until it is free) and take
 * its spare batch. The first error of a worker so far, else 0. */
static int pipe_give(struct range *r)
{
    struct pipe *pp = r->pp;
    pthread_mutex_lock(&pp->mu);
    struct pworker *w = &pp->w[pp->next_seq % pp->n];
    while (w->busy && !pp->rc)
        pthread_cond_wait(&pp->cv, &pp->mu);
    int rc = pp->rc;
    if (!rc) {
        struct ingest_batch *spare = w->b;
        w->b = r->b;
        w->b->worker = (int)(w - pp->w);
        w->seq = pp->next_seq++;
        w->busy = true;
        r->b = spare;
        r->st->in.batches++;
        r->st->in.commits++;
        pthread_cond_broadcast(&pp->cv);
    } else {
        ingest_batch_reset(r->b);
    }
    pthread_mutex_unlock(&pp->mu);
    return rc;
}

/* Hand the batch over: window filter, process, commit. */
static int flush(struct range *r)
{
    struct ingest_batch *b = r->b;
    const struct ingest_kafka_range_opts *o = r->o;
    if (r->ns)
        norm_set_batch_end(r->ns);
    if (b->consumed == 0)
        return 0;
    uint32_t other = 0;
    uint32_t dropped = ingest_batch_window(b, o->from_ns, o->to_ns, o->tenant, &other);
    r->st->out_of_window += dropped - other;
    r->st->other_tenant += other;
    r->st->progress.events += b->n;
    if (r->pp)
        return pipe_give(r);
    int rc = o->sink.process(o->sink.ctx, b);
    if (!rc && o->sink.commit)
        rc = o->sink.commit(o->sink.ctx, b);
    if (!rc) {
        r->st->in.batches++;
        r->st->in.commits++;
    }
    ingest_batch_reset(b);
    return rc;
}

static int handle_msg(struct range *r, const rd_kafka_message_t *m, struct ingest_range_part *p)
{
    const struct ingest_kafka_range_opts *o = r->o;
    const struct ingest_topic *t = conf_of(r, p->topic);
    int rc = 0;
    if (ingest_batch_full(r->b) || ingest_batch_offsets_full(r->b, p->topic, p->partition))
        rc = flush(r);
    if (rc)
        return rc;
    size_t max = o->parse.max_msg_bytes ? o->parse.max_msg_bytes : INGEST_DEFAULT_MAX_MSG;
    size_t keep = m->len < max ? m->len : max;
    const char *payload = m->payload ? m->payload : "";
    struct ts_event *ev = ingest_batch_slot(r->b, payload, keep);
    if (!ev && (rc = flush(r)) == 0 && !(ev = ingest_batch_slot(r->b, payload, keep)))
        rc = TS_E_NOMEM;
    if (rc)
        return rc;
    struct ingest_batch *b = r->b;
    ev->src.kind = TS_SRC_KAFKA;
    ev->src.name = p->topic;
    ev->src.partition = p->partition;
    ev->src.offset = m->offset;
    ev->ingest_ns = ts_now_ns();
    ev->time_ns = ev->ingest_ns;
    ev->tenant = t->tenant ? t->tenant : "";
    r->st->in.consumed++;
    r->st->in.bytes += m->len;
    b->consumed++;
    struct ingest_diag d = {0};
    rd_kafka_headers_t *hdrs = NULL;
    const void *hv;
    size_t hlen;
    const char *tn = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(hdrs, "tenant", &hv, &hlen) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        hv && hlen > 0 && (tn = header_tenant(t, hv, hlen, b->arena)) == NULL) {
        rc = TS_E_PARSE;
        r->st->in.tenant_refused++;
    } else if (m->len > max) {
        d.limit = "message_size";
        rc = TS_E_PARSE;
    } else {
        if (tn)
            ev->tenant = tn;
        struct ingest_parse_opts po = o->parse;
        if (t->tz)
            po.tz = t->tz;
        rc = ingest_parse(t->format, &po, ev, &d);
    }
    if (rc == 0) {
        ingest_batch_keep(b);
        r->st->in.parsed++;
        if (d.warning)
            r->st->in.warnings++;
        if (o->norm && r->ns) {
            norm_set_batch_begin(r->ns);
            if (norm_apply(o->norm, r->ns, ev, NULL))
                r->st->in.warnings++;
            if (norm_undecoded(r->ns)) {
                r->st->in.no_decoder++;
                r->b->no_decoder++;
            }
            if (norm_regex_cut(r->ns))
                r->st->in.regex_cut++;
        }
        if (ingest_time_guard(&o->parse, ev))
            r->st->in.clamped++;
    } else {
        b->dead_letters++;
        r->st->in.dead_letters++;
        if (d.limit)
            r->st->in.limit_refused++;
    }
    return ingest_batch_note(b, p->topic, p->partition, m->offset + 1);
}

static void part_done(struct range *r, size_t i, size_t *left)
{
    struct ingest_range_part *p = &r->parts[i];
    if (p->done)
        return;
    p->done = true;
    (*left)--;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    rd_kafka_pause_partitions(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Messages fetched for partition i and not handled yet (its own queue,
 * not forwarded to the consumer's). */
struct pbuf {
    rd_kafka_queue_t *q;
    rd_kafka_message_t **m;
    size_t n, at, cap;
    bool ended; /* the end offset (or EOF) came: done once m is handled */
};

/* Refill partition i's buffer; EOF and errors are handled here, so the
 * buffer holds only messages before the end offset. Reaching the end only
 * marks the buffer: the partition is done once what it holds is handled. */
static void refill(struct range *r, struct pbuf *pb, size_t i, int timeout_ms)
{
    struct ingest_range_part *p = &r->parts[i];
    pb->n = pb->at = 0;
    /* what is queued now, without waiting (a batch call with a timeout
     * waits for a full batch); else wait for one message */
    ssize_t got = rd_kafka_consume_batch_queue(pb->q, 0, pb->m, pb->cap);
    if (got == 0 && timeout_ms > 0 && (pb->m[0] = rd_kafka_consume_queue(pb->q, timeout_ms)))
        got = 1 + rd_kafka_consume_batch_queue(pb->q, 0, pb->m + 1, pb->cap - 1);
    for (ssize_t k = 0; k < got; k++) {
        rd_kafka_message_t *m = pb->m[k];
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->offset >= p->end)
                pb->ended = true;
        } else if (m->err) {
            ts_warn("hunt: kafka: %s [%d]: %s", p->topic, (int)p->partition,
                    rd_kafka_message_errstr(m));
        } else if (!pb->ended && m->offset < p->end) {
            pb->m[pb->n++] = m;
            continue;
        } else {
            pb->ended = true;
        }
        rd_kafka_message_destroy(m);
    }
}

/* The partitions are merged by Kafka timestamp (ties: the plan's order):
 * the correlation engine sees the range in about event-time order, as a
 * replay of the sorted lines would, and the order is a function of the
 * positions alone, so a hunt resumed from stored offsets carries on with
 * exactly the order the uninterrupted one had. A partition with nothing
 * fetched yet holds the merge until its fetch arrives (or it ends). */
static int consume(struct range *r, struct ts_err *err)
{
    const struct ingest_kafka_range_opts *o = r->o;
    size_t left = 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)r->nparts);
    for (size_t i = 0; i < r->nparts; i++)
        if (!r->parts[i].done) {
            rd_kafka_topic_partition_list_add(l, r->parts[i].topic, r->parts[i].partition)
                ->offset = r->parts[i].start;
            left++;
        }
    size_t cap = 65536 / (r->nparts ? r->nparts : 1);
    cap = cap < 16 ? 16 : cap > 1000 ? 1000 : cap;
    struct pbuf *pb = calloc(r->nparts, sizeof(*pb));
    int rc = pb ? 0 : TS_E_NOMEM;
    for (size_t i = 0; !rc && i < r->nparts; i++) {
        if (r->parts[i].done)
            continue;
        pb[i].cap = cap;
        pb[i].m = malloc(cap * sizeof(*pb[i].m));
        pb[i].q = rd_kafka_queue_get_partition(r->rk, r->parts[i].topic, r->parts[i].partition);
        if (!pb[i].m || !pb[i].q)
            rc = pb[i].m ? ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "%s [%d]: no queue",
                                      r->parts[i].topic, (int)r->parts[i].partition)
                         : TS_E_NOMEM;
        else
            rd_kafka_queue_forward(pb[i].q, NULL);
    }
    /* assigned only now: a message fetched before its partition's queue
     * was taken off the consumer's would land there */
    rd_kafka_resp_err_t e = !rc && left ? rd_kafka_assign(r->rk, l) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        rc = ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "cannot assign the partitions: %s",
                        rd_kafka_err2str(e));
    int64_t since = ts_mono_ns();
    uint32_t batch_max = o->batch_max ? o->batch_max : 1000;
    unsigned polls = 0;
    while (!rc && left) {
        if (o->stop && *o->stop) {
            rc = TS_E_STOPPED;
            break;
        }
        bool waiting = false;
        size_t best = SIZE_MAX;
        int64_t best_ts = 0;
        for (size_t i = 0; i < r->nparts; i++) {
            if (r->parts[i].done)
                continue;
            if (pb[i].at == pb[i].n && !pb[i].ended)
                refill(r, &pb[i], i, waiting ? 0 : 100);
            if (pb[i].at == pb[i].n && pb[i].ended) {
                part_done(r, i, &left);
                continue;
            }
            if (pb[i].at == pb[i].n) {
                waiting = true;
                continue;
            }
            int64_t ts = rd_kafka_message_timestamp(pb[i].m[pb[i].at], NULL);
            if (best == SIZE_MAX || ts < best_ts) {
                best = i;
                best_ts = ts;
            }
        }
        rd_kafka_message_t *ev = (++polls & 1023) == 0 || waiting
                                     ? rd_kafka_consumer_poll(r->rk, 0) /* errors, logs */
                                     : NULL;
        if (ev) { /* errors only: messages come through the partitions' queues */
            if (!ev->err)
                rc = ts_err_set(err, TS_E_KAFKA, NULL, 0, 0, "%s [%d] offset %lld came "
                                "outside its partition's queue: stopped rather than lose it",
                                ev->rkt ? rd_kafka_topic_name(ev->rkt) : "?",
                                (int)ev->partition, (long long)ev->offset);
            else if (ev->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                ts_warn("hunt: kafka: %s", rd_kafka_message_errstr(ev));
            rd_kafka_message_destroy(ev);
        }
        if (!waiting && best != SIZE_MAX) {
            struct ingest_range_part *p = &r->parts[best];
            rd_kafka_message_t *m = pb[best].m[pb[best].at++];
            rc = handle_msg(r, m, p);
            p->next = m->offset + 1;
            rd_kafka_message_destroy(m);
            if (!rc && p->next >= p->end)
                part_done(r, best, &left);
        }
        if (!rc && (r->b->consumed >= batch_max || !left ||
                    ts_mono_ns() - since > (int64_t)RANGE_BATCH_MS * 1000000)) {
            rc = flush(r);
            since = ts_mono_ns();
            progress(r);
        }
    }
    if (rc == TS_E_STOPPED) { /* what was read is handed over and committed */
        int frc = flush(r);
        progress(r);
        rc = frc ? frc : rc;
    }
    for (size_t i = 0; pb && i < r->nparts; i++) {
        for (size_t k = pb[i].at; k < pb[i].n; k++)
            rd_kafka_message_destroy(pb[i].m[k]);
        if (pb[i].q)
            rd_kafka_queue_destroy(pb[i].q);
        free(pb[i].m);
    }
    free(pb);
    rd_kafka_assign(r->rk, NULL);
    return rc;
}

int ingest_kafka_range_run(const struct ingest_kafka_range_opts *o, struct ingest_range_stats *st,
                           struct ts_err *err)
{
    memset(st, 0, sizeof(*st));
    if (!o->brokers || !o->ntopics || o->to_ns <= o->from_ns)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "a time range needs brokers, topics "
                          "and from < to");
    struct range r = {.o = o, .st = st,
                      .timeout_ms = o->timeout_ms ? o->timeout_ms : 10000};
    size_t max = o->parse.max_msg_bytes ? o->parse.max_msg_bytes : INGEST_DEFAULT_MAX_MSG;
    uint32_t cap = o->batch_max ? o->batch_max : 1000;
    int rc = ingest_batch_create(&r.b, cap, max);
    if (!rc && o->norm)
        rc = norm_scratch_create(&r.ns, o->norm);
    rc = rc ? rc : make_consumer(&r, 0, err);
    rc = rc ? rc : plan_topics(&r, err);
    rc = rc ? rc : plan_offsets(&r, err);
    /* the readers, with the prefetch budget shared by the partitions */
    size_t kib = RANGE_PREFETCH_KIB / (r.nparts ? r.nparts : 1);
    kib = kib < RANGE_PREFETCH_MIN_KIB ? RANGE_PREFETCH_MIN_KIB
          : kib > RANGE_PREFETCH_MAX_KIB ? RANGE_PREFETCH_MAX_KIB : kib;
    size_t nthreads = o->threads > 1 ? (size_t)o->threads : 1;
    if (nthreads > INGEST_RANGE_MAX_THREADS)
        nthreads = INGEST_RANGE_MAX_THREADS;
    if (nthreads > r.nparts)
        nthreads = r.nparts ? r.nparts : 1;
    st->threads = (uint32_t)nthreads;
    if (r.rk) {
        rd_kafka_destroy(r.rk);
        r.rk = NULL;
    }
    struct pipe pp = {.o = o};
    if (!rc && nthreads > 1 && (rc = pipe_start(&pp, nthreads, cap, max)) == 0)
        r.pp = &pp;
    if (!rc)
        rc = make_consumer(&r, kib, err);
    if (!rc) {
        progress(&r);
        rc = consume(&r, err);
    }
    if (r.pp) { /* every batch handed over is committed (or the first error) */
        int prc = pipe_stop(&pp);
        if (prc && (!rc || rc == TS_E_STOPPED))
            rc = prc;
    }
    if (r.rk) {
        rd_kafka_consumer_close(r.rk);
        rd_kafka_destroy(r.rk);
    }
    norm_scratch_free(r.ns);
    ingest_batch_destroy(r.b);
    for (size_t i = 0; i < r.ntopics; i++)
        free(r.topics[i].name);
    free(r.topics);
    free(r.parts);
    return rc;
}
