/* storage.h - Tocsin's durable state in one LMDB environment: incidents and
 * their evidence, correlation state, input offsets and the escalation outbox,
 * written together in one transaction per processed batch.
 *
 * Layout, keys and record formats: docs/storage.md.
 *
 * ---------------------------------------------------------------- model
 * A `struct store` is one environment (a directory holding data.mdb and
 * lock.mdb). Everything goes through transactions (`struct store_txn`),
 * read-only or read-write, as in LMDB itself:
 *
 *   store_open()                                   once, at start
 *   per batch (the sink's commit hook):
 *     store_txn_begin(s, 0, &t)
 *     store_state_put()/store_state_del()          correlation state (bytes)
 *     store_incident_put()                         new/updated incidents
 *     store_evidence_add()                         their evidence
 *     store_outbox_put()                           escalations they cause
 *     store_offset_put()                           the batch's input offsets
 *     store_counters_write()                       its per-period counters
 *     store_txn_commit(t, &err)                    durable (fsync) when 0
 *   then the runtime commits the same offsets to Kafka (a hint only:
 *   LMDB is the truth; on assignment the consumer seeks to
 *   store_offset_get()).
 *
 * Nothing of a batch is visible to readers, or survives a crash, before
 * store_txn_commit() returns 0; after it, all of it does.
 *
 * ---------------------------------------------------------------- threads
 * - store_open/store_close: one thread, while no other uses the store.
 * - A store is shared by every thread of the process. Write transactions are
 *   serialised by LMDB (across threads and processes): store_txn_begin(.., 0,
 *   ..) blocks while another write transaction is open. A write transaction
 *   belongs to the thread that began it until commit/abort.
 * - Read transactions (STORE_TXN_RDONLY) are cheap, see a consistent
 *   snapshot, and may be used by one thread at a time but handed between
 *   threads (the environment is opened with MDB_NOTLS). Keep them short: a
 *   map growth waits for every open transaction of the process to end.
 * - A thread must not hold a read transaction while it writes (a growth
 *   after MDB_MAP_FULL would wait for it forever).
 * - Other processes (the `tocsin incidents` CLI) may open the same directory
 *   and write concurrently; LMDB's lock file serialises the writers.
 *
 * ---------------------------------------------------------------- growth
 * The map starts at opts.map_size and grows on demand up to opts.map_max.
 * Contract when a write does not fit (MDB_MAP_FULL):
 *   - the call that hit it (any write, or store_txn_commit) returns
 *     STORE_E_RETRY; the transaction is dead from then on: every further call
 *     on it returns STORE_E_RETRY without doing anything;
 *   - store_txn_abort() (or the failing store_txn_commit(), which aborts and
 *     frees) grows the map - doubling it, at most +1 GiB at a time, never
 *     past map_max - once no transaction of the process is open;
 *   - the caller then redoes the batch's writes in a new transaction. Only
 *     the writes: the batch is not reprocessed, so the caller keeps what it
 *     wants to write (dirty state, incidents, offsets) until a commit
 *     succeeds. store_txn_run() does this loop for a callback.
 *   - when the map is already at map_max the call returns TS_E_LIMIT
 *     instead, and the transaction is dead as well.
 * Another process growing the map is adopted transparently at the next
 * store_txn_begin() (MDB_MAP_RESIZED).
 *
 * ---------------------------------------------------------------- errors
 * Every function returns 0 or a negative code: TS_E_* (core/ts.h) or
 * STORE_E_RETRY; store_strerror() names both. In a write transaction,
 * TS_E_INVAL, TS_E_NOTFOUND and TS_E_LIMIT from the per-record checks
 * (bad argument, missing record, per-incident evidence cap) leave the
 * transaction usable; every other error (an LMDB failure, TS_E_NOMEM,
 * STORE_E_RETRY) poisons it: the later calls return the first error and
 * commit aborts. LMDB's own messages (mdb_strerror) are kept in the
 * transaction (store_txn_errmsg) and copied into the ts_err of
 * store_txn_commit.
 *
 * Strings in structs passed to the store are borrowed for the call and
 * copied. Records read back are decoded into a caller's arena (ts_arena):
 * valid until that arena is reset or destroyed, independent of the txn.
 */
#ifndef STORAGE_H
#define STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/arena.h"
#include "../core/ts.h"

/* The map was full: the transaction is dead; abort it (the map grows) and
 * redo the writes in a new one. */
#define STORE_E_RETRY (-100)

/* Schema version written to meta "schema"; store_open refuses others. */
#define STORE_SCHEMA_VERSION 3

/* Hard caps (bytes, without the NUL) checked on every write. */
#define STORE_ID_MAX 128          /* incident id, outbox id */
#define STORE_TENANT_MAX 128
#define STORE_SOURCE_MAX 256      /* offset source name (topic or file path) */
#define STORE_STATE_KEY_MAX 480   /* LMDB's key limit is 511 */
#define STORE_STATE_VAL_MAX (16u << 20)
#define STORE_STR_MAX 4096        /* rule title, group key, author, who ... */
#define STORE_TAGS_MAX 64
#define STORE_DISTINCT_MAX 256    /* distinct values kept per incident */
#define STORE_DETAILS_MAX (64u << 10) /* incident details (JSON text) */
#define STORE_PAYLOAD_MAX (4u << 20)  /* outbox payload */
#define STORE_HISTORY_MAX 32      /* status changes kept per incident (last ones) */
#define STORE_COMMENT_MAX 4096    /* an analyst's comment on a status change */

/* Conversions and names. */
const char *store_strerror(int code);

/* ================================================================ store */

struct store;

struct store_opts {
    const char *path;          /* directory; created (0700) when missing */
    size_t map_size;           /* initial map size; 0 = 256 MiB. An existing
                                  environment keeps at least its used size. */
    size_t map_max;            /* growth cap; 0 = 64 GiB; < map_size = map_size */
    unsigned max_readers;      /* 0 = 512 */
    bool read_only;            /* MDB_RDONLY: only read transactions */
    bool no_sync;              /* MDB_NOSYNC: NOT durable; benches/tests only */
    uint32_t evidence_max;     /* evidence references kept per incident;
                                  0 = 10000; beyond: TS_E_LIMIT, not stored */
    uint32_t evidence_raw_max; /* of them, how many keep the raw text (the
                                  first ones); 0 = 20 */
    uint32_t raw_max_bytes;    /* raw text kept per evidence (truncated,
                                  flagged); 0 = 8192 */
};

/* Open (creating when missing, unless read_only) the environment at
 * o->path, its named databases and the schema record.
 * Errors: TS_E_INVAL (no path, bad option), TS_E_IO (directory/files),
 * TS_E_STORE (LMDB: message in err; a schema version this build does not
 * know), TS_E_NOTFOUND (read_only and no environment), TS_E_NOMEM.
 * err (may be NULL) gets "path: what went wrong". */
int store_open(struct store **out, const struct store_opts *o, struct ts_err *err);
/* Close the environment. Every transaction must have ended. NULL is fine. */
void store_close(struct store *s);
/* Current map size in bytes (grows). */
size_t store_map_size(struct store *s);
/* Number of map growths done by this process. */
uint64_t store_map_growths(const struct store *s);
/* The map's use, for metrics: sizes in bytes, readers in the lock table.
 * used: pages up to the last one in use (of any process's commits). */
struct store_map_info {
    size_t map_size, map_max, used, page_size;
    unsigned readers, max_readers;
};
void store_map_info(struct store *s, struct store_map_info *out);

/* =========================================================== transactions */

struct store_txn;

#define STORE_TXN_RDONLY 1u

/* Begin a transaction: read-write (flags 0; blocks while another writer is
 * open, in this process or another) or read-only (STORE_TXN_RDONLY).
 * The txn's clock (store_txn_now) is read here.
 * Errors: TS_E_INVAL (write txn on a read_only store), TS_E_LIMIT (readers
 * table full), TS_E_NOMEM, TS_E_STORE. */
int store_txn_begin(struct store *s, unsigned flags, struct store_txn **out);
/* Commit and free t. 0: everything written is durable (unless no_sync).
 * Otherwise nothing is: STORE_E_RETRY (map full; it has grown, redo),
 * TS_E_LIMIT (map at map_max), the first error of an earlier call on the
 * txn, TS_E_IO / TS_E_STORE (LMDB commit failure; message in err).
 * A read-only txn is simply ended (returns 0). err may be NULL. */
int store_txn_commit(struct store_txn *t, struct ts_err *err);
/* Discard and free t; grows the map when a call hit MDB_MAP_FULL. NULL ok. */
void store_txn_abort(struct store_txn *t);
/* The first error recorded on t: its code (0 if none) and message. */
int store_txn_error(const struct store_txn *t);
const char *store_txn_errmsg(const struct store_txn *t);
/* Wall-clock ns read at begin; stamps created/updated/stored times. */
int64_t store_txn_now(const struct store_txn *t);
/* Override the txn's clock (replay, tests). */
void store_txn_set_now(struct store_txn *t, int64_t now_ns);

/* ================================================================ journal
 * Journal mode, for the one engine process that writes incidents batch
 * after batch: store_incident_put(_ev) appends one record (the incident as
 * it would be written, plus its new evidence references) to the `journal`
 * database instead of rewriting the incident, its evidence chunk and four
 * index entries; the batch's transaction stays atomic and durable as
 * before. store_journal_fold() applies the journal in one transaction,
 * writing each incident once however many batches touched it.
 * - In the engine's write txns, store_incident_get() sees the journal
 *   (revision, counters: exactly what the direct path would give);
 *   set_status, del, purge, list, evidence reads and retention fold first.
 * - Its read txns see the incidents as of the last fold.
 * - Any other process (tocsin incidents, report, escalations) folds a
 *   non-empty journal when it begins a transaction, so it reads the
 *   latest state; the engine notices (meta "fold_gen") and drops its map.
 * - After a crash the records are still there: the next fold applies them.
 */
struct store_journal_stats {
    uint64_t pending_records, pending_bytes; /* committed since the last fold */
    size_t pending_incidents;
    uint64_t folds;
    int64_t oldest_ns; /* write time of the oldest pending record, 0: none */
};
/* Enable journal mode (before any txn of the store; not on read_only).
 * Folds what a previous run left first. */
int store_journal_enable(struct store *s, struct ts_err *err);
/* Fold the journal (its own write txn; no txn of this thread open). */
int store_journal_fold(struct store *s, struct ts_err *err);
void store_journal_stats(struct store *s, struct store_journal_stats *out);

/* Run fn(t, ctx) in a write transaction and commit; on STORE_E_RETRY
 * (the map grew) do it again, up to 16 times. fn returns 0 or an error,
 * which aborts and is returned. err may be NULL. */
int store_txn_run(struct store *s, int (*fn)(struct store_txn *t, void *ctx), void *ctx,
                  struct ts_err *err);

/* ================================================================ offsets */

/* Input positions: (source, partition) -> offset. source is the Kafka topic
 * or file path (1..STORE_SOURCE_MAX bytes); partition -1 for files; offset
 * per ingest_offset (Kafka: next offset to read).
 * put errors: TS_E_INVAL (names), or a poisoning LMDB error. */
int store_offset_put(struct store_txn *t, const char *source, int32_t partition, int64_t offset);
/* In a txn. TS_E_NOTFOUND when never stored. */
int store_offset_read(struct store_txn *t, const char *source, int32_t partition,
                      int64_t *offset);
/* Own short read transaction; for the consumer's seek() on assignment.
 * Any thread. TS_E_NOTFOUND when never stored. */
int store_offset_get(struct store *s, const char *source, int32_t partition, int64_t *offset);
/* Every stored offset in (source, partition) order; fn's non-zero return
 * stops and is returned. source is valid during the call only. */
int store_offset_foreach(struct store_txn *t,
                         int (*fn)(void *ctx, const char *source, int32_t partition,
                                   int64_t offset, int64_t updated_ns),
                         void *ctx);

/* ================================================================ names
 * A few named values of the store's own (meta), for what a store must
 * remember about itself, e.g. that it is a replica of an incidents topic
 * (runtime/inc_topic.c). name: 1..64 bytes of [a-z0-9_.]; the store's
 * internal names are kept apart. val: 0..4096 bytes.
 * put: TS_E_INVAL, or a poisoning LMDB error. get: TS_E_NOTFOUND; *val
 * points into the map, valid until t ends or t's next write. */
#define STORE_NAME_VAL_MAX 4096
int store_name_put(struct store_txn *t, const char *name, const void *val, size_t vlen);
int store_name_get(struct store_txn *t, const char *name, const void **val, size_t *vlen);
/* Records a stage sets aside until something else arrives, e.g. status
 * changes that wait for their incident (runtime/inc_topic.c): (space, key)
 * -> value, kept in meta apart from the names. space: a name as above;
 * key: 1..STORE_ASIDE_KEY_MAX bytes; val: 0..STORE_ASIDE_VAL_MAX bytes.
 * put: TS_E_INVAL, or a poisoning error. del: TS_E_NOTFOUND.
 * foreach: each record of space whose key starts with prefix (plen 0:
 * all), in key order; pointers valid during the call; fn must not write
 * (collect, then write); fn's non-zero return stops and is returned. */
#define STORE_ASIDE_KEY_MAX 256
#define STORE_ASIDE_VAL_MAX (64u << 10)
int store_aside_put(struct store_txn *t, const char *space, const void *key, size_t klen,
                    const void *val, size_t vlen);
int store_aside_del(struct store_txn *t, const char *space, const void *key, size_t klen);
int store_aside_foreach(struct store_txn *t, const char *space, const void *prefix, size_t plen,
                        int (*fn)(void *ctx, const void *key, size_t klen, const void *val,
                                  size_t vlen),
                        void *ctx);

/* ====================================================== correlation state */

/* Opaque key (1..STORE_STATE_KEY_MAX bytes) -> opaque value
 * (0..STORE_STATE_VAL_MAX bytes), as correlate exports them. */
int store_state_put(struct store_txn *t, const void *key, size_t klen, const void *val,
                    size_t vlen);
/* TS_E_NOTFOUND (txn still usable) when the key is absent. */
int store_state_del(struct store_txn *t, const void *key, size_t klen);
/* *val points into the map: valid until t ends or t's next write. */
int store_state_get(struct store_txn *t, const void *key, size_t klen, const void **val,
                    size_t *vlen);
/* Every key starting with prefix (plen 0: all), in key order. Pointers are
 * valid during the call. fn's non-zero return stops and is returned. */
int store_state_foreach(struct store_txn *t, const void *prefix, size_t plen,
                        int (*fn)(void *ctx, const void *key, size_t klen, const void *val,
                                  size_t vlen),
                        void *ctx);

/* ============================================================== incidents */

enum store_status {
    STORE_STATUS_NEW = 0,
    STORE_STATUS_ACKNOWLEDGED = 1,
    STORE_STATUS_RESOLVED = 2,
    STORE_STATUS_REOPENED = 3,
};
#define STORE_STATUS_COUNT 4
/* "new", "acknowledged", "resolved", "reopened". */
const char *store_status_name(enum store_status st);
/* Accepts the names and "ack". 0 or TS_E_INVAL. */
int store_status_parse(const char *name, enum store_status *out);

/* Severity, the Sigma levels: 0 informational .. 4 critical. */
const char *store_severity_name(uint8_t sev);
int store_severity_parse(const char *name, uint8_t *out);

/* One status change of an incident's history. Records written before
 * comments were kept read back with from = the previous entry's status (NEW
 * for the first) and comment "". */
struct store_status_change {
    enum store_status status; /* to */
    const char *by;
    int64_t at_ns;
    enum store_status from;
    const char *comment; /* "" when none */
};

/* One incident. In put: the fields marked (detection) are the caller's;
 * those marked (store) are ignored and kept/set by the store. */
struct store_incident {
    const char *id;          /* (detection) stable, 1..STORE_ID_MAX bytes */
    const char *rule_id;     /* (detection) Sigma rule id (uuid) or name */
    const char *rule_title;
    const char *level;       /* Sigma level of the rule, as written; may be NULL */
    const char *author;
    const char *const *tags; /* e.g. attack.t1110; ntags <= STORE_TAGS_MAX */
    uint32_t ntags;
    const char *tenant;      /* 0..STORE_TENANT_MAX bytes; NULL = "" */
    const char *group_key;   /* the group-by values, e.g. "src_ip=10.0.0.5" */
    int64_t first_seen_ns;   /* event time; put keeps the minimum */
    int64_t last_seen_ns;    /* event time; the time indexes use it */
    uint64_t count;          /* contributing events */
    const char *distinct_field;           /* value_count's field; may be NULL */
    const char *const *distinct;          /* its distinct values */
    uint32_t ndistinct;                   /* <= STORE_DISTINCT_MAX */
    bool distinct_truncated;              /* more existed than were kept */
    uint8_t severity;        /* 0..4; put keeps the maximum (only goes up) */
    const char *details;     /* JSON text (correlation type, window ...); may be NULL */

    enum store_status status; /* (store) set_status; NEW on first put */
    const char *status_by;    /* (store) who made the last change ("" when NEW) */
    int64_t status_ns;        /* (store) when */
    const struct store_status_change *history; /* (store) oldest first */
    uint32_t nhistory;
    uint64_t revision;        /* (store) 1 on first put, +1 on every change */
    int64_t created_ns;       /* (store) txn clock of the first put */
    int64_t updated_ns;       /* (store) txn clock of the last change */
    uint32_t evidence_next;   /* (store) sequence of the next evidence */
    uint32_t evidence_dropped; /* (store) evidence refused at the cap */
};

/* Insert or update: the detection fields replace the stored ones except
 * first_seen (minimum) and severity (maximum); the lifecycle fields are
 * kept; the revision goes up. *revision (may be NULL) gets the new one - the
 * outbox entry the change causes should carry it.
 * TS_E_INVAL (missing id, caps exceeded, invalid severity), or poisoning. */
int store_incident_put(struct store_txn *t, const struct store_incident *inc,
                       uint64_t *revision);
struct store_evidence; /* below */
/* The batch path: store_incident_put and store_evidence_add_n of the
 * incident's n new evidence records in one call, reading and writing the
 * incident record once (the evidence counters go into the same put).
 * *stored (may be NULL) gets how many records were stored. Returns what
 * store_incident_put returns, or TS_E_LIMIT (txn usable, incident put) when
 * some evidence was refused at the cap. */
int store_incident_put_ev(struct store_txn *t, const struct store_incident *inc,
                          uint64_t *revision, const struct store_evidence *evs, size_t n,
                          uint32_t *stored);
/* Decode the incident into *out; strings and arrays in arena.
 * TS_E_NOTFOUND, TS_E_NOMEM (arena full), TS_E_STORE (corrupt record). */
int store_incident_get(struct store_txn *t, const char *id, struct ts_arena *arena,
                       struct store_incident *out);
/* Lifecycle: to ACKNOWLEDGED from NEW|REOPENED; to RESOLVED from
 * NEW|ACKNOWLEDGED|REOPENED; to REOPENED from RESOLVED. Records who
 * (NULL = "") and the txn clock, bumps the revision.
 * TS_E_NOTFOUND, TS_E_INVAL (transition not allowed: txn still usable). */
int store_incident_set_status(struct store_txn *t, const char *id, enum store_status st,
                              const char *by, uint64_t *revision);
/* The same with the analyst's comment (NULL or "": none; at most
 * STORE_COMMENT_MAX bytes, no NUL: else TS_E_INVAL), kept with the change
 * in the incident's history. */
int store_incident_set_status_comment(struct store_txn *t, const char *id, enum store_status st,
                                      const char *by, const char *comment, uint64_t *revision);
/* Delete the incident, its index entries and all its evidence.
 * TS_E_NOTFOUND. */
int store_incident_del(struct store_txn *t, const char *id);

/* Filters for listing; zero-initialised = everything. */
struct store_incident_filter {
    int64_t since_ns;     /* last_seen >= since (0: no bound) */
    int64_t until_ns;     /* last_seen < until (0: no bound) */
    const char *tenant;   /* NULL: any */
    unsigned status_mask; /* bits STORE_STATUS_BIT(st); 0: any */
    uint32_t limit;       /* max incidents passed to fn; 0 = no limit */
    bool newest_first;    /* by last_seen descending (then id descending) */
};
#define STORE_STATUS_BIT(st) (1u << (st))
#define STORE_STATUS_OPEN                                                                    \
    (STORE_STATUS_BIT(STORE_STATUS_NEW) | STORE_STATUS_BIT(STORE_STATUS_ACKNOWLEDGED) |      \
     STORE_STATUS_BIT(STORE_STATUS_REOPENED))
/* Call fn for every matching incident. Order: by last_seen ascending (then
 * id; newest_first: both descending); when the mask names exactly one
 * status, no tenant is given and not newest_first, by tenant and then
 * status change time (the inc_status index). The incident's strings
 * live in arena, which the caller may reset inside fn. fn's non-zero return
 * stops and is returned. Index used: tenant -> inc_tenant, else one status
 * -> inc_status, else inc_time; other filters are checked per record.
 * TS_E_INVAL (mask with unknown bits, tenant too long, no arena/fn). */
int store_incident_list(struct store_txn *t, const struct store_incident_filter *f,
                        struct ts_arena *arena,
                        int (*fn)(void *ctx, const struct store_incident *inc), void *ctx);

/* ============================================================== evidence */

/* One contributing event: where it came from, and (for the first
 * evidence_raw_max of an incident) its raw text. */
struct store_evidence {
    uint32_t seq;          /* (store) 0, 1, 2 ... per incident */
    const char *source;    /* topic or file path */
    int32_t partition;     /* -1 for files */
    int64_t offset;        /* Kafka offset, or file line */
    int64_t event_ns;      /* event time */
    const char *rule_id;   /* the detection rule that matched it; may be NULL */
    const char *raw;       /* may be NULL; raw_len bytes */
    size_t raw_len;
    bool late;             /* beyond the lateness allowance (correlate) */
    bool raw_truncated;    /* (store) raw was cut at raw_max_bytes */
    bool raw_omitted;      /* (store) raw was given but over evidence_raw_max */
    int64_t stored_ns;     /* (store) txn clock */
};

/* Append evidence to an incident that exists (put it first, same txn).
 * *seq (may be NULL) gets its sequence.
 * TS_E_NOTFOUND (no such incident), TS_E_LIMIT (the incident already holds
 * evidence_max: not stored, counted in evidence_dropped; txn usable),
 * TS_E_INVAL, or poisoning. */
int store_evidence_add(struct store_txn *t, const char *incident_id,
                       const struct store_evidence *ev, uint32_t *seq);
/* The same for n evidence records of one incident, reading and patching the
 * incident's counters once (the batch path). *stored (may be NULL) gets how
 * many were stored; TS_E_LIMIT (txn usable) when some were refused at the
 * cap. */
int store_evidence_add_n(struct store_txn *t, const char *incident_id,
                         const struct store_evidence *evs, size_t n, uint32_t *stored);
/* Each evidence of an incident in sequence order; strings in arena (reset
 * allowed inside fn). fn's non-zero return stops and is returned. */
int store_evidence_foreach(struct store_txn *t, const char *incident_id, struct ts_arena *arena,
                           int (*fn)(void *ctx, const struct store_evidence *ev), void *ctx);

/* ================================================================ outbox */

enum store_outbox_state {
    STORE_OUTBOX_PENDING = 0,
    STORE_OUTBOX_DELIVERED = 1,
    STORE_OUTBOX_FAILED = 2,
};
const char *store_outbox_state_name(enum store_outbox_state st);

/* An escalation to deliver at least once. */
struct store_outbox {
    const char *id;          /* stable, 1..STORE_ID_MAX: e.g. incident:rev:recipient */
    const char *incident_id;
    uint64_t revision;       /* incident revision it reports */
    const char *recipient;   /* e.g. "national-coordinator" */
    const char *channel;     /* e.g. "webhook:vncert" */
    const void *payload;     /* payload_len bytes (<= STORE_PAYLOAD_MAX) */
    size_t payload_len;
    uint32_t attempts;       /* (store) delivery attempts so far */
    int64_t next_attempt_ns; /* due time; put: 0 = now (txn clock) */
    enum store_outbox_state state; /* (store) PENDING on put */
    const char *last_error;  /* (store) of the last failed attempt, "" if none */
    int64_t created_ns;      /* (store) txn clock of the put */
    int64_t done_ns;         /* (store) when delivered/failed, else 0 */
};

/* Insert or replace (attempts reset, PENDING, due at next_attempt_ns).
 * TS_E_INVAL, or poisoning. */
int store_outbox_put(struct store_txn *t, const struct store_outbox *e);
int store_outbox_get(struct store_txn *t, const char *id, struct ts_arena *arena,
                     struct store_outbox *out);
/* Pending entries due at or before now_ns, earliest first, at most max
 * (0 = all); strings/payload in arena. Read-only or write txn. */
int store_outbox_list_due(struct store_txn *t, int64_t now_ns, uint32_t max,
                          struct ts_arena *arena,
                          int (*fn)(void *ctx, const struct store_outbox *e), void *ctx);
/* Every entry whose state bit is set in state_mask (1u << state), by id. */
int store_outbox_list(struct store_txn *t, unsigned state_mask, struct ts_arena *arena,
                      int (*fn)(void *ctx, const struct store_outbox *e), void *ctx);
/* The same for the entries whose id starts with prefix (NULL or "": all),
 * e.g. "INCIDENT:" for one incident's escalations: a range of the id order. */
int store_outbox_list_prefix(struct store_txn *t, const char *prefix, unsigned state_mask,
                             struct ts_arena *arena,
                             int (*fn)(void *ctx, const struct store_outbox *e), void *ctx);
/* Lease up to max (0 = all) due entries for a dispatcher (write txn): each
 * gets attempts+1 and is due again at now+lease_ns (lease_ns > 0, else
 * TS_E_INVAL), so another dispatcher, or a restart after a crash, retries it
 * only when the lease expires; each is passed to fn (strings in arena).
 * Commit, deliver outside any txn, then mark the outcome.
 * horizon_ns > 0 (> lease_ns, else TS_E_INVAL): an entry due more than
 * horizon_ns after now_ns is due too - the caller schedules nothing that far
 * ahead (its longest back-off or lease), so the clock it was scheduled by
 * has been stepped back since; 0: only entries due by now_ns. */
int store_outbox_claim(struct store_txn *t, int64_t now_ns, int64_t lease_ns, int64_t horizon_ns,
                       uint32_t max, struct ts_arena *arena,
                       int (*fn)(void *ctx, const struct store_outbox *e), void *ctx);
/* Move the due time of every pending entry with at least min_attempts
 * attempts by delta_ns (saturating), as one write: a dispatcher that saw the
 * wall clock stepped by delta_ns keeps its back-offs and leases on its
 * steady clock. *moved (may be NULL) gets the number moved. At most
 * 1,000,000 entries at once (the rest: the claim's horizon). */
int store_outbox_shift_due(struct store_txn *t, int64_t delta_ns, uint32_t min_attempts,
                           uint64_t *moved);
/* The outcome of an attempt (attempts are counted by store_outbox_claim).
 * delivered: state DELIVERED, off the due list. retry: due at next_ns,
 * error kept.
 * failed: state FAILED (dead letter), off the due list. requeue: FAILED or
 * PENDING -> PENDING due at next_ns (the CLI's retry).
 * TS_E_NOTFOUND; TS_E_INVAL (entry not in a state that allows it). */
int store_outbox_mark_delivered(struct store_txn *t, const char *id);
int store_outbox_mark_retry(struct store_txn *t, const char *id, int64_t next_ns,
                            const char *error);
int store_outbox_mark_failed(struct store_txn *t, const char *id, const char *error);
int store_outbox_requeue(struct store_txn *t, const char *id, int64_t next_ns);

/* ============================================================= retention */

/* Per tenant (tenant NULL: the default for tenants without a rule of their
 * own). 0 keeps forever. */
struct store_retention_rule {
    const char *tenant;
    int64_t evidence_keep_ns; /* evidence stored longer ago is deleted */
    int64_t resolved_keep_ns; /* resolved incidents (with their evidence)
                                 resolved longer ago are deleted */
};

struct store_retention_opts {
    const struct store_retention_rule *rules;
    size_t nrules;
    int64_t now_ns;          /* 0 = wall clock */
    uint32_t batch_max;      /* records deleted per write txn; 0 = 1000 */
    uint32_t max_txns;       /* stop after this many txns; 0 = until done */
    int64_t outbox_keep_ns;  /* delivered/failed outbox entries done longer
                                ago are deleted; 0 = keep */
};

struct store_retention_stats {
    uint64_t incidents; /* resolved incidents deleted */
    uint64_t evidence;  /* evidence records deleted (also those of the incidents) */
    uint64_t outbox;    /* outbox entries deleted */
    uint64_t txns;      /* write transactions committed */
    bool more;          /* stopped at max_txns with work left */
};

/* Delete what the rules say is old, in write transactions of at most
 * batch_max deletions each (the writer lock is released between them, so
 * batch commits interleave). Call from any thread that holds no txn.
 * st is filled (may be NULL). Errors: TS_E_INVAL (rules), the txn errors
 * (STORE_E_RETRY is handled inside). What was committed before an error
 * stays deleted. */
int store_retention_run(struct store *s, const struct store_retention_opts *o,
                        struct store_retention_stats *st, struct ts_err *err);

/* ============================================================ late events
 * An event that arrived beyond the lateness allowance and that no incident
 * covers (correlate counts it as late_orphaned): kept per tenant so that
 * nothing is dropped, for analysts (`tocsin incidents late`) and aged by
 * evidence retention. Key: tenant NUL be64t(event time) be64(offset)
 * be32(partition) source; the same event put twice is one record. */
struct store_late {
    const char *tenant;   /* "" when none */
    const char *rule_id;  /* the correlation rule it would have counted for */
    struct store_evidence ev; /* source, partition, offset, event time, raw */
};
int store_late_put(struct store_txn *t, const struct store_late *l);
/* Late events with event time >= since_ns (0: all), of tenant (NULL: any),
 * in (tenant, time) order; strings in arena. fn's non-zero return stops. */
int store_late_foreach(struct store_txn *t, const char *tenant, int64_t since_ns,
                       struct ts_arena *arena,
                       int (*fn)(void *ctx, const struct store_late *l), void *ctx);

/* ============================================================== counters
 * Per-period counters (storage/counters.c): what the pipeline saw, by hour,
 * added in the batch's own transaction so that they count exactly what the
 * committed offsets cover (a batch redone after a crash or a resumed
 * replay is counted once). Key: be32(hour since the epoch) kind tenant NUL
 * a NUL b;
 * value: the count and a label (a rule's title). The runtime decides which
 * hour a count belongs to (docs/escalation.md "Monitoring reports").
 *
 * A `struct store_counters` accumulates additions in memory between
 * commits (one thread at a time: the caller locks); store_counters_write()
 * adds them in a write txn without forgetting them (a txn redone after
 * STORE_E_RETRY writes them again), store_counters_clear() after the
 * commit succeeded. */
enum store_counter_kind {
    STORE_COUNTER_EVENTS = 'E',     /* a = source (topic or file), b = "" */
    STORE_COUNTER_DETECTIONS = 'D', /* a = rule id, b = level, label = title */
    STORE_COUNTER_LOSS = 'L',       /* a = what was lost ("dead_letter" ...), b = where */
};
#define STORE_COUNTER_A_MAX 220 /* longer names are cut (key limit) */
#define STORE_COUNTER_B_MAX 150
#define STORE_COUNTERS_CAP 65536u /* distinct counters held between commits; beyond: "(other)" */
struct store_counter {
    int64_t hour_ns;              /* start of the hour */
    enum store_counter_kind kind;
    const char *tenant, *a, *b, *label; /* "" when none */
    uint64_t n;
};
struct store_counters;
int store_counters_create(struct store_counters **out);
void store_counters_destroy(struct store_counters *c); /* NULL ok */
/* Add n to the counter of the hour holding time_ns (times before 1970 go
 * to its first hour). tenant (cut at STORE_TENANT_MAX), a, b, label may
 * be NULL (""); copied. Over
 * STORE_COUNTERS_CAP distinct counters, a becomes "(other)"; TS_E_NOMEM. */
int store_counters_add(struct store_counters *c, int64_t time_ns, enum store_counter_kind kind,
                       const char *tenant, const char *a, const char *b, const char *label,
                       uint64_t n);
/* Distinct counters held (0 after a clear). */
size_t store_counters_size(const struct store_counters *c);
/* Add every held counter to the store in t (write txn); c keeps them.
 * Poisoning errors only. */
int store_counters_write(struct store_txn *t, const struct store_counters *c);
void store_counters_clear(struct store_counters *c);
/* Every stored counter of the hours starting in [from_ns, to_ns), by
 * (hour, kind, a, b); strings valid during the call. A store written before
 * counters existed has none (0, nothing called). fn's non-zero return stops
 * and is returned. */
int store_counters_foreach(struct store_txn *t, int64_t from_ns, int64_t to_ns,
                           int (*fn)(void *ctx, const struct store_counter *c), void *ctx);
/* Whether the store has the counters database (false: read-only and older). */
bool store_counters_present(const struct store *s);
/* When the counters began, if the store held data before (an older build
 * wrote it): what happened earlier is not counted. 0: counted from the
 * store's start. */
int64_t store_counters_since(const struct store *s);

#endif
