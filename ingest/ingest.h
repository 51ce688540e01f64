/* ingest.h - the ingest stage: sources (Kafka consumer group, files, stdin),
 * framing, parsing (RFC 3164, RFC 5424, JSON; CEF, LEEF, key=value and access
 * logs are declared in decoder.h), dead letters, and handing
 * parsed batches downstream with at-least-once offset commits.
 *
 * Threads: parsers are reentrant. A Kafka consumer (ingest_kafka) runs N worker
 * threads, each with its own consumer instance in the group and its own
 * downstream thread joined by a bounded queue; the sink callbacks are called
 * on those downstream threads (one per worker, so batches of one partition
 * reach the sink in order and never concurrently). The file source runs on the
 * caller's thread.
 */
#ifndef INGEST_H
#define INGEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../core/arena.h"
#include "../core/event.h"
#include "../core/ts.h"

/* ---------------------------------------------------------------- parsing */

enum ingest_format {
    INGEST_FMT_AUTO = 0, /* per message: JSON if it starts with '{'; CEF / LEEF
                            when "CEF:" / "LEEF:" starts the line (after an
                            optional <PRI>) or the syslog message; RFC 5424 if
                            "<PRI>1 "; an access log by its shape ("h l u
                            [dd/Mon/yyyy:..."); key=value when the line (after
                            an optional <PRI>) starts with two key=value
                            pairs; else RFC 3164 */
    INGEST_FMT_RFC3164,
    INGEST_FMT_RFC5424,
    INGEST_FMT_JSON,
    INGEST_FMT_CEF,    /* ArcSight CEF, optionally after a syslog header */
    INGEST_FMT_LEEF,   /* QRadar LEEF 1.0/2.0, optionally after a syslog header */
    INGEST_FMT_KV,     /* key=value pairs, optionally after a syslog header */
    INGEST_FMT_ACCESS, /* Apache/nginx common or combined access log */
};

/* "auto", "rfc3164", "rfc5424", "json" (also "syslog" = rfc3164 with 5424 detection
 * as in auto), "cef", "leef", "kv", "access". Returns 0 or TS_E_INVAL. */
int ingest_format_parse(const char *name, enum ingest_format *out);
const char *ingest_format_name(enum ingest_format f);

#define INGEST_DEFAULT_MAX_MSG (1u << 20) /* 1 MiB */

struct ts_tz;

/* ingest.hosts: senders whose clocks keep another zone (borrowed). */
struct ingest_host_zone {
    const char *pattern; /* glob on the event's host, case-insensitive */
    const struct ts_tz *tz;
};

struct ingest_parse_opts {
    int tz_offset_sec;    /* for timestamps without a zone (RFC 3164), seconds east of UTC */
    const struct ts_tz *tz; /* when set, instead of tz_offset_sec: a zone (DST-aware) */
    const struct ingest_host_zone *hosts; /* first match on the host wins over tz */
    size_t nhosts;
    int64_t ref_ns;       /* "now" for inferring a missing year and judging times ahead
                             (files: their modification time); 0 = ev->ingest_ns */
    size_t max_msg_bytes; /* bigger messages are dead letters; 0 = INGEST_DEFAULT_MAX_MSG */
    int64_t max_future_ns; /* event times further ahead of ingest time are clamped
                              (ingest_time_guard); 0 = INGEST_DEFAULT_MAX_FUTURE, < 0 off */
};
#define INGEST_DEFAULT_MAX_FUTURE (300LL * 1000000000LL)

/* After parsing and normalisation, before rules: an event whose own time is
 * more than max_future_ns ahead of its ingest time (of opts->ref_ns when set) (a host with a bad
 * clock, or a forged line) must not move any watermark nor date an
 * incident: its time becomes that reference (ev->time_clamped, printed as
 * "@time_source":"clamped"; in correlation it never moves a watermark), the
 * time it claimed is kept in the field
 * "time_claimed". Returns true when it clamped (the caller counts it). */
bool ingest_time_guard(const struct ingest_parse_opts *opts, struct ts_event *ev);

/* What happened to one message. The strings are static or live in the
 * event's arena: valid until the batch is reset. */
struct ingest_diag {
    const char *reason;  /* set when the message is rejected (dead letter) */
    const char *warning; /* set when the event was kept but something was off,
                            e.g. an unparsable timestamp replaced by ingest time */
    /* set with reason when a limit against hostile input refused the
     * message: "message_size", "json_depth" or "fields" (static; counted in
     * ingest_stats.limit_refused; docs/config.md "Limits") */
    const char *limit;
};

/* After normalisation: the warning of d still holds for ev. An "unparsable
 * timestamp ..., using ingest time" warning does not once a later stage (a
 * decoder reading the time from the message, as for Apache error lines)
 * has set the event's time: it is not reported or counted then. */
bool ingest_diag_warning_holds(const struct ingest_diag *d, const struct ts_event *ev);

/* Parse ev->raw (ev->raw_len bytes, NUL-terminated, living in ev->arena) into
 * the fields, time, format and logsource of ev. The caller has set raw,
 * src, tenant and ingest_ns. Field names and values point into the arena or
 * to static strings.
 * Returns 0 (diag->warning may be set), or TS_E_PARSE with diag->reason set:
 * empty message, over the size limit, invalid UTF-8, invalid JSON, ...
 * TS_E_NOMEM / TS_E_LIMIT when the arena is full: also a dead letter. */
int ingest_parse(enum ingest_format fmt, const struct ingest_parse_opts *opts,
                 struct ts_event *ev, struct ingest_diag *diag);

/* The individual parsers, same contract; they do not repeat the common
 * checks (empty, size, UTF-8) that ingest_parse makes first. */
int ingest_parse_rfc3164(const struct ingest_parse_opts *opts, struct ts_event *ev,
                         struct ingest_diag *diag);
int ingest_parse_rfc5424(const struct ingest_parse_opts *opts, struct ts_event *ev,
                         struct ingest_diag *diag);
int ingest_parse_json(const struct ingest_parse_opts *opts, struct ts_event *ev,
                      struct ingest_diag *diag);

/* ---------------------------------------------------------------- batches */

/* The position after a batch: next offset to read per partition (Kafka
 * semantics: last processed offset + 1), or for files the last line read. */
struct ingest_offset {
    const char *topic; /* topic or file path; borrowed from the source */
    int32_t partition; /* -1 for files */
    int64_t offset;    /* Kafka: next offset; files: lines consumed so far */
    int64_t first;     /* the position the batch started from: Kafka, the offset
                          of its first message of the partition; files, the
                          lines consumed before it */
};

#define INGEST_MAX_OFFSETS 256 /* distinct partitions per batch */
/* The longest offset key of a file (the store's STORE_SOURCE_MAX): the
 * file source keys a file's offsets by "<real path>#<device>:<inode>". */
#define INGEST_SOURCE_KEY_MAX 256

/* A batch of parsed events as handed downstream. Owned by the source; the
 * sink borrows it for the duration of the callback. */
struct ingest_batch {
    struct ts_arena *arena;  /* everything the events point to */
    struct ts_event *events; /* parsed events, in source order per partition */
    uint32_t n;
    uint32_t cap;
    struct ingest_offset offsets[INGEST_MAX_OFFSETS];
    uint32_t noffsets;
    uint64_t consumed;      /* messages read for this batch = n + dead_letters */
    uint64_t dead_letters;  /* of them, sent to the dead-letter destination */
    uint64_t no_decoder;    /* events no decoder read (ingest_stats.no_decoder) */
    int worker;             /* index of the worker that built it, 0 for files */
    struct norm_set *norm; /* Kafka: a reference to the normaliser its events used
                                 (they point into it), released on reset */
    void *priv;             /* source-private */
};

/* Returned by a sink's commit(): the batch starts before what the sink has
 * already taken from one of its partitions - its worker lost the partitions
 * while it held the batch (a session that ended while it waited), and the
 * worker that got them read the same messages again from the committed
 * offsets and committed them first. The source drops the batch: nothing of
 * it is committed, to the store or to Kafka, and it goes on. */
#define INGEST_E_STALE (-200)
/* commit() of a sink that coalesces its commits: the batch's effects are
 * held in memory and made durable with a later batch's commit or by
 * flush(). The Kafka source keeps the batch's offsets and commits them to
 * Kafka only after a later commit() returned 0 or flush() did. */
#define INGEST_HELD 1

/* Downstream of ingest. process() is required; commit() and seek() optional.
 * The batches of one worker arrive in order, one at a time; different workers
 * (b->worker) call the sink concurrently, so a shared sink must lock. */
struct ingest_sink {
    void *ctx;
    /* The downstream stages for one batch. Return 0 when done with it; any
     * other value stops the source without committing this batch. */
    int (*process)(void *ctx, struct ingest_batch *b);
    /* The commit point, called after process() succeeded and before the Kafka
     * offsets are committed (storage puts b->offsets into its transaction).
     * A failure stops the source without committing to Kafka. */
    int (*commit)(void *ctx, const struct ingest_batch *b);
    /* Optional, Kafka, with a commit() that returns INGEST_HELD: make what
     * is held durable now (0), else the source stops. Called by a worker
     * with batches held: when its queue is idle, before its partitions are
     * revoked and when the source stops; from its stage or poll thread. */
    int (*flush)(void *ctx, int worker);
    /* Where to start reading a partition on assignment: set *offset and return
     * 0, or return TS_E_NOTFOUND to use the group's committed offset. */
    int (*seek)(void *ctx, const char *topic, int32_t partition, int64_t *offset);
    /* Optional, Kafka sources with txn_id: the batch's transaction is
     * resolved - committed (true) once Kafka committed it, or aborted
     * (false). Non-zero stops the source; after an abort it also means the
     * batch is not tried again (the sink's state has moved past it). */
    int (*txn_done)(void *ctx, const struct ingest_batch *b, bool committed);
    /* Optional, Kafka: partitions assigned to a worker, each with the
     * group's committed offset (INGEST_OFFSET_NONE when it has none), in
     * the rebalance, before seek() is asked about them; the worker's stage
     * thread is idle. Non-zero stops the source. revoked: after the
     * worker's batches of them were committed. Poll thread of the worker. */
    int (*assigned)(void *ctx, int worker, const struct ingest_offset *parts, size_t n);
    void (*revoked)(void *ctx, int worker, const struct ingest_offset *parts, size_t n);
};
#define INGEST_OFFSET_NONE (-1001) /* librdkafka's RD_KAFKA_OFFSET_INVALID */

/* Counters, read with ingest_*_stats; monotonically increasing. */
struct ingest_stats {
    uint64_t consumed;      /* messages read */
    uint64_t parsed;        /* became events */
    uint64_t dead_letters;  /* sent to the dead-letter destination */
    uint64_t warnings;      /* events kept with a warning (bad timestamp ...) */
    uint64_t bytes;         /* raw bytes read */
    uint64_t batches;       /* batches processed downstream */
    uint64_t commits;       /* offset commits done */
    uint64_t pauses;        /* times partitions were paused for backpressure */
    uint64_t resumes;
    uint64_t rebalances;
    uint64_t tenant_refused; /* of dead_letters: a "tenant" header the topic may not carry */
    uint64_t limit_refused; /* of dead_letters: refused at a limit (ingest_diag.limit) */
    uint64_t regex_cut;     /* of parsed: a decoder's regex search stopped by a PCRE2 limit
                               (norm_regex_cut) */
    uint64_t clamped;       /* events whose time was too far ahead: ingest time used */
    uint64_t no_decoder;    /* of parsed: a program and a message, decoders loaded, none
                               fired (normalise.h: norm_undecoded) */
    uint64_t broker_errors; /* Kafka: transport errors reported while the broker was away
                               (down, restarting, a cut TLS handshake): waited for */
    uint64_t inflight_peak; /* files, pipelined: most arena bytes handed over at once */
    uint32_t batches_made;  /* files, pipelined: batches allocated */
};

/* --------------------------------------------------------- host health */

/* Per sending host (tenant, host): events, clamped times, parse warnings,
 * last seen, and how its event times sit against ingest time (ingest/
 * health.c). One table per thread that notes; reports merge them. */
struct ingest_health;
int ingest_health_create(struct ingest_health **out);
void ingest_health_destroy(struct ingest_health *h);
/* ev after parsing, normalisation and ingest_time_guard; own_time_ns: the
 * time the event claimed (before a clamp); assumed_off: the zone offset its
 * zone-less times were read with; warning: parsed with a warning. */
void ingest_health_note(struct ingest_health *h, const struct ts_event *ev, int64_t own_time_ns,
                        int assumed_off, bool warning);
struct ingest_health_summary {
    uint64_t hosts;            /* (tenant, host) pairs seen */
    uint64_t clamped, warnings;
    uint64_t zone_mismatches;  /* hosts whose times sit a steady whole number of hours off */
    uint64_t silent;           /* hosts quiet for longer than silent_after */
    uint64_t other_events;     /* events of hosts beyond the table's cap */
};
/* Merge the tables into sum; logs a warning (at most once an hour per host
 * and kind) for likely zone mismatches (with the config line that fixes
 * it), clamped times, and hosts silent for longer than silent_after_ns
 * (0: not checked). */
void ingest_health_report(struct ingest_health *const *hs, size_t nh, int64_t now_ns,
                          int64_t silent_after_ns, struct ingest_health_summary *sum);

/* ---------------------------------------------------------- dead letters */

/* A dead-letter file: JSON lines {"reason","source","tenant","raw"|"raw_base64"}.
 * One writer per file; not thread-safe. */
struct ingest_dlq_file;
int ingest_dlq_file_open(struct ingest_dlq_file **out, const char *path, struct ts_err *err);
int ingest_dlq_file_write(struct ingest_dlq_file *d, const struct ts_event *ev, const char *reason);
int ingest_dlq_file_flush(struct ingest_dlq_file *d);
void ingest_dlq_file_close(struct ingest_dlq_file *d);

/* ---------------------------------------------------------- normalisation */

/* Decoders, mapping profile and enrichment after parsing (normalise.h).
 * Sources take an optional, shared, immutable norm_set and keep one
 * scratch per thread. */
struct norm_set;

/* ------------------------------------------------------------ file source */

struct ingest_file_opts {
    const char *const *paths; /* files, "-" for stdin; .gz read transparently */
    size_t npaths;
    /* Alternatively (when npaths == 0): lines held in memory (buf_len bytes,
     * borrowed, not compressed), named buf_name ("-" when NULL) in events'
     * sources and messages; no resume (sink.seek is not asked). */
    const char *buf;
    size_t buf_len;
    const char *buf_name;
    enum ingest_format format;
    const char *tenant;        /* "" when NULL */
    struct ingest_parse_opts parse;
    uint32_t batch_max;        /* events per batch; 0 = 1024 */
    struct ingest_sink sink;
    struct ingest_dlq_file *dlq; /* NULL: dead letters are reported on diag only */
    FILE *diag;                /* warnings and rejects, one line each; NULL = none */
    const volatile int *stop;  /* optional: stop at the next batch when *stop != 0 */
    const struct norm_set *norm; /* NULL: events stay as parsed */
    bool explain;              /* add explain.* fields saying what normalisation did */
    /* commit() on a second thread, overlapping the next batches' reading,
     * parsing and process(): INGEST_PIPELINE_BATCHES batches go round
     * (b->worker 0..N-1: the sink must accept N workers); commits stay in
     * batch order. */
    bool pipeline;
    /* With pipeline: the arena bytes of the batches handed to commit() and
     * not yet committed that make the reader wait; 0 = INGEST_INFLIGHT_BYTES. */
    size_t inflight_bytes;
};
#define INGEST_PIPELINE_BATCHES 128
#define INGEST_INFLIGHT_BYTES (64u << 20)

/* Read every file in order, line by line, and pass batches to the sink.
 * Returns 0 when all input was read; TS_E_IO (err filled) when a file cannot
 * be opened or read; the sink's error when it failed. */
int ingest_files_run(const struct ingest_file_opts *o, struct ingest_stats *st, struct ts_err *err);

/* ----------------------------------------------------------- Kafka source */

struct ingest_topic {
    const char *name;
    const char *tenant;      /* default tenant when the message has no "tenant" header */
    /* The tenants a "tenant" header may name on this topic (besides tenant);
     * a header naming another is a dead letter. any_tenant: any valid id
     * (trusted producers only). Borrowed, valid while the source runs. */
    const char *const *tenants;
    size_t ntenants;
    bool any_tenant;
    const struct ts_tz *tz;  /* zone of zone-less times; NULL: ingest_kafka_opts.parse's */
    enum ingest_format format;
    /* Dead letters of this topic go there (NULL: "<name>.dlq"): the raw
     * message as value, its key, and headers reason, source_topic,
     * source_partition, source_offset, tenant. A message longer than one
     * record of the dead-letter producer (its message.max.bytes, 1000000 by
     * default, less the headers) is cut to fit, with headers raw_truncated:
     * true and raw_bytes: its length (a key over a quarter of that is left
     * out, key_bytes: its length): a dead letter's size never stops the
     * source. The topic's own max.message.bytes must hold that much. */
    const char *dlq_topic;
};

struct ingest_kafka_opts {
    const char *brokers;   /* bootstrap.servers */
    const char *group_id;
    const struct ingest_topic *topics;
    size_t ntopics;
    const char *const *props; /* librdkafka properties as "name=value", passed through (TLS, SASL ...) */
    size_t nprops;
    int workers;              /* consumer threads; 0 = 1 */
    uint32_t batch_max;       /* messages per batch; 0 = 1000 */
    int batch_timeout_ms;     /* max wait to fill a batch; 0 = 100 */
    uint32_t queue_batches;   /* bounded queue per worker; 0 = 4 */
    struct ingest_parse_opts parse;
    struct ingest_sink sink;
    struct norm_set *norm; /* NULL: events stay as parsed; the source takes a reference */
    /* Exactly-once output (the re-keyed mode, docs/scale.md). When set, each
     * worker owns a transactional producer (transactional.id
     * "<txn_id>-w<N>": keep it stable per process, so that a restarted
     * process fences its predecessor); every batch runs in one Kafka
     * transaction: what process() produces with ingest_batch_produce() and
     * the batch's offsets (sent to the transaction with the consumer's
     * group metadata, not committed by the consumer) commit together. A
     * transaction that must be aborted is aborted and the batch, still in
     * memory, goes through process() and commit() again (5 attempts, then
     * the source stops; a restart reads from the last committed offsets). */
    const char *txn_id;
    /* Static membership (KIP-345): each worker's consumer joins as
     * group.instance.id "<instance_id>-w<N>", so a process restarted within
     * session.timeout.ms gets its partitions back without a rebalance (the
     * re-keyed mode: a partition's state stays where it is). NULL: dynamic. */
    const char *instance_id;
    /* Records that are Tocsin's own (the re-keyed topic): decode() fills ev
     * from ev->raw (the record's value, raw_len bytes, NUL-terminated, in
     * the batch's arena; everything ev points to must live there or in the
     * caller) and the record's timestamp (ms; -1: none) instead of parsing
     * and normalisation. Non-zero: a dead letter with *reason (static).
     * Thread: the worker's poll thread. Consumers read with
     * isolation.level=read_committed in any case. */
    int (*decode)(void *ctx, struct ts_event *ev, int64_t ts_ms, const char **reason);
    void *decode_ctx;
};

struct ingest_kafka;

/* Create consumers, the dead-letter producer and the threads' state. Nothing
 * runs until ingest_kafka_run. err gets librdkafka's message on failure. */
int ingest_kafka_create(struct ingest_kafka **out, const struct ingest_kafka_opts *o,
                        struct ts_err *err);
/* Run the workers until ingest_kafka_stop() or a fatal error; then drain the
 * queues, commit what was processed, leave the group and return (0 after a
 * requested stop, else the first error). */
int ingest_kafka_run(struct ingest_kafka *k, struct ts_err *err);
/* Ask run() to finish. Async-signal-safe. */
void ingest_kafka_stop(struct ingest_kafka *k);
/* Swap in a new normaliser (SIGHUP): batches started from now on use it;
 * the old one lives until the last batch that used it is reset. Takes a
 * reference to n. Thread-safe (not from a signal handler). */
void ingest_kafka_set_norm(struct ingest_kafka *k, struct norm_set *n);
void ingest_kafka_stats(struct ingest_kafka *k, struct ingest_stats *st);
/* What an error librdkafka reports (its code and sentence, as an error
 * callback gets them) means for a client (ingest/kafka_err.c): a TLS or a
 * login setting to fix - stop and name it -, or a broker away for now (down,
 * restarting, a connection or a TLS handshake it cut short) - wait, count,
 * say so. */
enum ingest_kafka_err_kind {
    INGEST_KAFKA_ERR_OTHER,     /* neither: librdkafka's own handling */
    INGEST_KAFKA_ERR_TRANSPORT, /* the broker is away: librdkafka reconnects */
    INGEST_KAFKA_ERR_TLS,       /* certificates, TLS version, a TLS client on a plain port */
    INGEST_KAFKA_ERR_AUTH,      /* SASL refused the login */
};
enum ingest_kafka_err_kind ingest_kafka_err_kind(int err, const char *reason);
/* Messages by (topic, tenant) since the start, summed over the workers as
 * of each worker's last handed-over batch: *out (malloc'd, the caller
 * frees it; NULL with *n 0 when there is none) gets one entry per pair.
 * A dead letter counts for the topic's default tenant when its "tenant"
 * header was refused. Any thread; 0 or TS_E_NOMEM. */
struct ingest_topic_stat {
    const char *topic;              /* valid until ingest_kafka_destroy */
    char tenant[TS_TENANT_MAX + 1]; /* "(other)": beyond 1024 pairs per worker */
    uint64_t consumed, parsed, dead_letters;
    uint64_t no_decoder; /* of parsed: left undecoded (ingest_stats.no_decoder) */
};
int ingest_kafka_topic_stats(struct ingest_kafka *k, struct ingest_topic_stat **out, size_t *n);
/* The partitions assigned now, each with its lag: the high watermark
 * librdkafka last fetched (no broker round trip) less the next offset to
 * process (the last committed batch's, else the consumer's position).
 * *out as above. Any thread; 0 or TS_E_NOMEM. */
struct ingest_partition_lag {
    char topic[256];
    int32_t partition;
    int worker;
    int64_t high;      /* -1: not known yet (nothing fetched) */
    int64_t committed; /* next offset to process; -1: not known */
    int64_t lag;       /* high - committed, >= 0; -1 when either is unknown */
};
int ingest_kafka_lag(struct ingest_kafka *k, struct ingest_partition_lag **out, size_t *n);
/* The workers' host health (see ingest_health_report). */
void ingest_kafka_health(struct ingest_kafka *k, int64_t silent_after_ns,
                         struct ingest_health_summary *sum);
void ingest_kafka_destroy(struct ingest_kafka *k);
/* Inside process() of a source with txn_id: a record to topic, part of the
 * batch's transaction (copied; ts_ms: its timestamp, 0: now). Waits while
 * the producer's queue is full. 0, TS_E_INVAL (not a transactional
 * source's batch), TS_E_KAFKA (the transaction is aborted and the batch
 * processed again). */
int ingest_batch_produce(const struct ingest_batch *b, const char *topic, const void *key,
                         size_t klen, const void *val, size_t vlen, int64_t ts_ms);
/* ingest_batch_produce to one partition (ingest_kafka_partition_of). */
int ingest_batch_produce_to(const struct ingest_batch *b, const char *topic, int32_t partition,
                            const void *key, size_t klen, const void *val, size_t vlen,
                            int64_t ts_ms);
/* Create topic with partitions (the broker's replication factor) unless it
 * exists, with o's brokers and properties; compact: cleanup.policy=compact.
 * *nparts (may be NULL) gets the partition count the topic has (created or
 * found). 0, or TS_E_KAFKA with err saying how to create it by hand. */
int ingest_kafka_topic_ensure(const struct ingest_kafka_opts *o, const char *topic,
                              int partitions, bool compact, int32_t *nparts,
                              struct ts_err *err);
/* Records produced outside any batch and waited for (acks=all,
 * idempotent): rare records such as an analyst's status change or a
 * retention tombstone (runtime/inc_topic.c). key, val: borrowed for the
 * call (val NULL: a tombstone); partition: where to (>= 0). Filled:
 * offset (-1 when not written), err (0, or TS_E_KAFKA) and why (static,
 * the broker's answer; NULL when none came). */
struct ingest_record {
    const void *key;
    size_t klen;
    const void *val;
    size_t vlen;
    int32_t partition;
    int64_t offset;
    int err;
    const char *why;
};
/* Produce recs[0..n) to topic with o's brokers and properties and wait for
 * the broker's answer to each, at most timeout_ms (message.timeout.ms: a
 * record not acknowledged by then is not written). 0 when every record was
 * written; TS_E_KAFKA with err naming the first failure (the broker's
 * answer, or none within the timeout) otherwise; TS_E_CONFIG (properties). */
int ingest_kafka_produce_wait(const struct ingest_kafka_opts *o, const char *topic,
                              struct ingest_record *recs, size_t n, int timeout_ms,
                              struct ts_err *err);
/* The partition a transactional source's producer puts a record with this
 * key on (librdkafka's "consistent" partitioner, CRC32 of the key modulo
 * nparts, which the producers of sources with txn_id are set to). */
int32_t ingest_kafka_partition_of(const void *key, size_t klen, int32_t nparts);
/* A reader of every partition of a topic from given offsets on (assign,
 * read_committed, outside any group: nothing committed). start[p]: next
 * offset to read, INGEST_OFFSET_NONE for the beginning. One thread. */
struct ingest_tail;
int ingest_kafka_tail_open(struct ingest_tail **out, const struct ingest_kafka_opts *o,
                           const char *topic, int32_t nparts, const int64_t *start,
                           struct ts_err *err);
/* Up to max records within timeout_ms, fn for each (val NULL: a tombstone).
 * Returns how many, or a negative TS_E_KAFKA / fn's error. *at_end: every
 * partition has reached its end (as of the broker's last answer) and
 * nothing was read after. */
long ingest_kafka_tail_poll(struct ingest_tail *t, int timeout_ms, size_t max,
                            int (*fn)(void *ctx, int32_t partition, int64_t offset,
                                      const void *key, size_t klen, const void *val,
                                      size_t vlen),
                            void *ctx, bool *at_end);
void ingest_kafka_tail_close(struct ingest_tail *t);
/* Read partitions parts[0..n) of topic from their start to their end
 * (read_committed: the last stable offset as of reaching it), with o's
 * brokers and properties, outside any group (nothing committed), calling
 * fn for every record (val NULL for a tombstone). fn's non-zero return
 * stops and is returned; TS_E_KAFKA (err) when the broker cannot be read
 * or nothing arrives for 60 s before the end. *records (may be NULL): how
 * many were read. */
int ingest_kafka_read_parts(const struct ingest_kafka_opts *o, const char *topic,
                            const int32_t *parts, size_t n,
                            int (*fn)(void *ctx, int32_t partition, const void *key, size_t klen,
                                      const void *val, size_t vlen),
                            void *ctx, uint64_t *records, struct ts_err *err);


/* ------------------------------------------------ event-time windows */

/* Keep only the events of b whose event time is in [from_ns, to_ns) (and,
 * when tenant is not NULL, of that tenant): the others are removed from
 * b->events (order kept; offsets and counters untouched, so the batch's
 * positions still advance past them). Returns how many were removed;
 * *other_tenant (may be NULL) gets how many of them for their tenant.
 * No allocation (a hot path: `hunt` and `replay --from/--to`). */
uint32_t ingest_batch_window(struct ingest_batch *b, int64_t from_ns, int64_t to_ns,
                             const char *tenant, uint32_t *other_tenant);

/* ---------------------------------------- Kafka time ranges (hunting)
 * (kafka_range.c) A one-shot reader of a time range of the configured
 * topics for `tocsin hunt`: per partition, the offsets for the range are
 * found with offsets-for-times (Kafka timestamps, with a margin before
 * from and after to since they are not event times), the partitions are
 * assign()ed to a consumer of its own (a group id no live consumer uses,
 * never committed, never joined: the live group's offsets stay as they
 * are), and each partition is read until the end offset of the range (or
 * its end). Events go through the same parse and normalisation as `run`'s
 * (tenant headers, the topic's zone, the time guard), then outside
 * [from, to) by event time are dropped and counted; batches go to the sink
 * on the caller's thread (process, then commit), one at a time, or with
 * opts.threads > 1 matched on that many workers and committed in order. Dead
 * letters are counted, not produced (the live run did that). */

struct ingest_range_part {
    const char *topic;  /* owned by the source */
    int32_t partition;
    int64_t first;      /* first offset of the range (the plan; a resume keeps it) */
    int64_t start;      /* first offset read (after a resume: the stored one) */
    int64_t end;        /* offset where this partition stops */
    int64_t next;       /* next offset to read; == end (or EOF) when done */
    bool done;
};

struct ingest_range_progress {
    uint64_t planned;   /* messages in the plan: sum of end - first (an estimate:
                           compaction and transaction markers leave gaps); the
                           whole range, also after a resume */
    uint64_t done;      /* of them read: sum of next - first (a resume counts
                           what the stopped runs read) */
    uint64_t events;    /* events in the window handed to the sink */
    size_t partitions, partitions_done;
};

struct ingest_kafka_range_opts {
    const char *brokers;
    const struct ingest_topic *topics; /* as for `run` (names may be ^patterns) */
    size_t ntopics;
    const char *topic_filter; /* NULL: every configured topic; else an exact topic name or
                                 a POSIX extended regex (anchor it with ^...$) */
    const char *const *props; /* librdkafka properties as "name=value" (TLS, SASL) */
    size_t nprops;
    const char *client_id;    /* e.g. the hunt id; also names the (never used) group */
    int64_t from_ns, to_ns;   /* event time window [from, to) */
    int64_t margin_ns;        /* Kafka timestamps searched from from - margin to to + margin */
    uint32_t batch_max;       /* messages per batch; 0 = 1000 */
    const char *tenant;       /* NULL: every tenant; else only its events */
    struct ingest_parse_opts parse;
    const struct norm_set *norm; /* NULL: events as parsed (borrowed) */
    /* process and commit as for run; seek(topic, partition) gives a resume
     * position (the next offset to read) stored by a previous run of the
     * same range: reading starts there when it is past the range's start. */
    struct ingest_sink sink;
    const volatile int *stop; /* stop after the current batch when non-zero */
    /* After each committed batch and once at the plan (any may be NULL). */
    void (*progress)(void *ctx, const struct ingest_range_progress *p);
    void *progress_ctx;
    int timeout_ms;           /* broker requests (metadata, offsets); 0 = 10000 */
    /* Matching workers: the caller's thread reads and merges the partitions,
     * parses and normalises; each batch goes to a worker in turn (b->worker
     * = its index, 0..threads-1: the sink must accept that many workers),
     * whose process calls run concurrently and whose commit calls run one
     * at a time in the order the batches were made (the order one worker
     * would give). 0 or 1: everything on the caller's thread. At most the
     * partitions and INGEST_RANGE_MAX_THREADS. */
    int threads;
};
#define INGEST_RANGE_MAX_THREADS 64

struct ingest_range_stats {
    struct ingest_stats in;   /* consumed, parsed, dead_letters, warnings, bytes ... */
    uint64_t out_of_window;   /* events outside [from, to) by event time, dropped */
    uint64_t other_tenant;    /* events of another tenant than opts.tenant, dropped */
    struct ingest_range_progress progress;
    uint32_t threads;         /* matching workers used (opts.threads as capped) */
};

/* Plan the range, read it and hand it to the sink. Returns 0 when every
 * partition reached its end offset; TS_E_STOPPED when *stop stopped it
 * (what was handed over is committed); TS_E_CONFIG (err) for a bad
 * topic filter or a property; TS_E_KAFKA (err) when the broker cannot be
 * asked; TS_E_NOTFOUND (err) when no topic matches; the sink's error. */
int ingest_kafka_range_run(const struct ingest_kafka_range_opts *o, struct ingest_range_stats *st,
                           struct ts_err *err);

#endif
