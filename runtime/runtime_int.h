/* runtime_int.h - runtime-internal: what run.c needs from the stage
 * modules (detect.c, corr_stage.c) beyond runtime.h. Not for other folders. */
#ifndef TS_RUNTIME_INT_H
#define TS_RUNTIME_INT_H

#include "../core/config.h"
#include "../core/metric.h"
#include "runtime.h"

/* partitions of the distributed mode's internal topic when it is created */
#define RT_DIST_PARTITIONS 12

/* ----------------------------------------------------------- detections */

/* Load a new rule set with lo and swap it in (batches in flight finish with
 * the old one). On failure the old set stays, the problems are printed and
 * the first is in err (may be NULL). */
int rt_det_reload(struct rt_det *d, const struct rule_load_opts *lo,
                  const struct corr_opts *co, struct ts_err *err);

/* ---------------------------------------------- correlation and storage */

/* Periodic upkeep (run's stats thread): fold the store's incident journal
 * when its oldest record is a few seconds old, also while no batch comes. */
void rt_corr_tick(struct rt_corr *cs);
/* A batch's stay (run): enter before matching, leave after its commit (or
 * when process fails). */
void rt_corr_batch_enter(struct rt_corr *cs);
void rt_corr_batch_leave(struct rt_corr *cs);
/* Reload: with the batches drained (write lock, at most 10 s: TS_E_LIMIT
 * otherwise), build an engine for rs with co, carry the state over from
 * the store, swap it in and call swap(ctx) (the detections' rule set) in
 * the same exclusion. On failure nothing changes. Needs a store (the state
 * is read back from it) and not replay. */
int rt_corr_reload(struct rt_corr *cs, struct rule_set *rs, const struct corr_opts *co,
                   void (*swap)(void *ctx), void *ctx);

/* Per-period counters (counters.c), with the stage mutex held: a batch's
 * events, detections (p: its pairs) and ingest losses into the
 * accumulator; all of it and the engine's losses into the batch's write
 * txn (again on a retry); forgotten once that txn committed. */
/* The event came from a Kafka partition past it in a batch fed before
 * (rt_corr.fence, stage mutex held). */
bool rt_corr_fed(const struct rt_corr *cs, const struct ts_event *ev);
int rt_counters_batch(struct rt_corr *cs, const struct ingest_batch *b,
                      const struct rt_corr_pairs *p);
int rt_counters_write(struct rt_corr *cs, struct store_txn *t);
void rt_counters_committed(struct rt_corr *cs);
void rt_counters_free(struct rt_counters *c);
/* Distributed stage B (dist.c): rt_corr_commit feeds, ends the batch and
 * produces its changed state to the changelog, then returns holding the
 * stage mutex; rt_corr_txn_done, once Kafka resolved the transaction,
 * writes LMDB (committed) and lets go. Non-zero after an abort when the
 * engine had been fed (the batch cannot be taken again). */
int rt_corr_txn_done(struct rt_corr *cs, const struct ingest_batch *b, bool committed);

/* ----------------------------------- state follows partitions (dist.c) */

#define RT_DIST_NOPART (-2)  /* a key of no partition (not a lane's watermark) */
#define RT_DIST_UNKNOWN (-3) /* a long-name key whose name is not at hand */
#define RT_DIST_SKIP (-1)    /* a key of a partition this process does not own */
#define RT_DIST_NO_OFFSET (-2) /* LMDB's offset of a partition being restored */

struct rt_dist {
    struct rt_corr *cs;
    struct ingest_kafka_opts ko; /* brokers and properties for the restore reader */
    const char *topic, *changelog; /* borrowed (the run's) */
    int32_t nparts;
    int *owner;        /* per partition: stage B worker, -1: not this process's */
    bool *in_engine;   /* per partition: the engine holds its keys as LMDB has them */
    int32_t *item_part; /* per state item of the batch being committed */
    const char *inc_topic, *node; /* incidents topic (NULL: none) and this process (borrowed) */
    int32_t inc_nparts;
    struct ts_buf pub, pubkey;    /* a record being published */
    uint64_t inc_records;
    /* fault injection for the tests (TOCSIN_TEST_KILL_AFTER_COMMITS=N): the
     * process kills itself with SIGKILL after the N-th stage-B Kafka commit,
     * before LMDB is written - the crash between the two commits */
    uint64_t kill_after, kafka_commits;
    size_t item_cap, nitems;
    /* counters (under the stage mutex) */
    uint64_t changelog_records, restores, restored_records, imported_keys;
    int64_t restore_ns;
};
int rt_dist_open(struct rt_dist **out, struct rt_corr *cs, const struct ingest_kafka_opts *ko,
                 const char *topic, const char *changelog, int32_t nparts);
void rt_dist_close(struct rt_dist *d);
/* After rt_corr_open: the engine forgets every key (none is ours yet). */
long rt_dist_start(struct rt_dist *d);
int32_t rt_dist_key_part(const struct rt_dist *d, const void *key, size_t klen, const void *val,
                         size_t vlen);
/* The batch's changed keys to the changelog in b's transaction; marks the
 * items of partitions not ours (rt_dist_item_skip). Under the stage mutex. */
int rt_dist_produce(struct rt_dist *d, const struct corr_batch *out, const struct ingest_batch *b);
bool rt_dist_item_skip(const struct rt_dist *d, size_t i);
/* The sink's assigned/revoked hooks (ingest.h). */
int rt_dist_assigned(struct rt_dist *d, int worker, const struct ingest_offset *parts, size_t n);
void rt_dist_revoked(struct rt_dist *d, int worker, const struct ingest_offset *parts, size_t n);
/* For a reload's import: is the key one the engine should hold? */
bool rt_dist_import_keep(void *ctx, const void *key, size_t klen, const void *val, size_t vlen);

/* ------------------------------------- incidents everywhere (inc_topic.c) */

/* An incident change / one evidence record of it as the incidents topic
 * carries them (node: the producer). 0 or the buffer's error. */
int rt_inc_encode(struct ts_buf *b, const char *node, const struct store_incident *si);
int rt_inc_encode_ev(struct ts_buf *b, const char *node, const char *id,
                     const struct store_evidence *e);
/* A status change record (value) and its key "<id>/status:<at_ns>". */
int rt_inc_encode_status(struct ts_buf *b, const char *node, const struct rt_inc_status *c);
int rt_inc_status_key(struct ts_buf *b, const char *id, int64_t at_ns);
/* An evidence record's key "<id>/<source>:<partition>:<offset>". */
int rt_inc_evidence_key(struct ts_buf *b, const char *id, const char *source, int32_t partition,
                        int64_t offset);
/* Decode a status change record; strings point into val. TS_E_PARSE. */
int rt_inc_decode_status(const void *val, size_t len, struct rt_inc_status *out);
struct rt_incmat;
struct rt_incmat_opts {
    struct store *store;
    const struct ingest_kafka_opts *ko; /* brokers and properties (copied, strings borrowed) */
    const char *topic;                  /* borrowed, lives until rt_incmat_stop */
    int32_t nparts;
    const char *node;                   /* this process: its records' escalations are its own */
    const struct esc_env *esc;          /* NULL: no escalation */
    struct esc_dispatcher *dispatcher;  /* may be NULL */
    const char *config_path;            /* recorded in the store's mark; may be NULL */
};
struct rt_incmat_stats {
    uint64_t incidents, evidence, deleted, orphans, bad, txns, queued;
    uint64_t status_applied, status_refused, status_waiting;
};
/* Start materialising the topic into the store (a thread). */
int rt_incmat_start(struct rt_incmat **out, const struct rt_incmat_opts *o, struct ts_err *err);
void rt_incmat_stats(struct rt_incmat *m, struct rt_incmat_stats *st);
/* Read on to the end of every partition (at most 30 s), write, stop; *st
 * (may be NULL) gets the final counters. m NULL ok. */
void rt_incmat_stop(struct rt_incmat *m, struct rt_incmat_stats *st);
/* What the materialiser does with one poll's records, without Kafka (the
 * unit tests): recs[i] as read from topic (partition, offset, key, val;
 * val NULL: a tombstone), applied in one LMDB transaction. */
int rt_inc_apply(struct store *st, const char *topic, const struct ingest_record *recs, size_t n,
                 struct rt_incmat_stats *out);
/* Retention in the distributed mode (docs/scale.md): the resolved
 * incidents older than their tenant's resolved_keep_ns whose partition of
 * the incidents topic this node owns (owns(owns_ctx, p)) are removed by
 * publishing tombstones - for their evidence and status change keys, then
 * for the incident - with which every materialiser deletes them and which
 * let compaction drop their records (a node that starts later does not
 * bring them back). At most 1000 incidents a call; *removed: how many. */
struct rt_inc_retention_opts {
    const struct store_retention_rule *rules;
    size_t nrules;
    int64_t now_ns;
    const struct ingest_kafka_opts *ko;
    const char *topic;
    int32_t nparts;
    bool (*owns)(void *ctx, int32_t partition);
    void *owns_ctx;
    /* NULL: ingest_kafka_produce_wait to topic (the tests pass their own;
     * ctx: owns_ctx) */
    int (*produce)(void *ctx, struct ingest_record *recs, size_t n, struct ts_err *err);
};
int rt_inc_retention(struct store *st, const struct rt_inc_retention_opts *o,
                     uint64_t *removed, struct ts_err *err);

/* ------------------------------------------- the re-keyed hop (rekey.c) */

/* What a re-keyed record names besides the event (arena strings). */
struct rt_rekey_rec {
    const char *rule; /* detection rule: id, else name, else "#<index>" */
    const char *use;  /* corr_use_name of the correlation input */
};
/* Append the record of (ev, detection rule, use) to b; with ce, only the
 * fields ce reads (corr_field_used), else all. 0 or the buffer's error. */
int rt_rekey_encode(struct ts_buf *b, const struct ts_event *ev, const char *rule,
                    const char *use, const struct corr_engine *ce, size_t raw_max);
/* raw_max: bytes of the raw line carried (0: all); the engine keeps no more
 * than corr_opts.raw_max_bytes (default 4096) of it. A record over
 * RT_REKEY_RECORD_MAX (below the broker's default max.message.bytes) is
 * left out of correlation, counted and logged. */
#define RT_REKEY_RAW_MAX 4096
#define RT_REKEY_RECORD_MAX 900000
/* Decode buf (len bytes, e.g. ev->raw) into ev (re-initialised on
 * ev->arena; strings point into buf or the arena) and rec. 0; TS_E_PARSE
 * with *reason (static) for a record that is not one (truncated, unknown
 * version, bad tenant, trailing bytes); TS_E_NOMEM / TS_E_LIMIT (arena or
 * field cap). */
int rt_rekey_decode(const char *buf, size_t len, struct ts_event *ev, struct rt_rekey_rec *rec,
                    const char **reason);

/* Stage A's routing: per worker an engine of the rule set in force (never
 * fed) that says which correlation inputs a detection has and their keys. */
struct rt_rekey_worker {
    struct corr_engine *ce;
    struct rule_set *rs; /* the set ce was built for (a reference) */
    struct ts_buf key, val;
};
struct rt_rekey {
    const char *topic;        /* borrowed (config) */
    struct corr_opts co;      /* borrowed arrays (the run's) */
    struct rt_rekey_worker *w;
    size_t nw;
    _Atomic uint64_t records; /* produced (committed or not) */
    _Atomic uint64_t too_large; /* left out: over RT_REKEY_RECORD_MAX */
};
int rt_rekey_open(struct rt_rekey *rk, const char *topic, const struct corr_opts *co,
                  int workers);
void rt_rekey_close(struct rt_rekey *rk);
/* A detection of rule idx of rs on ev: one record per use to the internal
 * topic, in b's transaction. 0 or TS_E_NOMEM / TS_E_KAFKA / buffer errors. */
int rt_rekey_route(struct rt_rekey *rk, int worker, struct rule_set *rs, size_t idx,
                   const struct ts_event *ev, const struct ingest_batch *b);
/* corr_detection_standalone for rs (the worker's routing engine). */
bool rt_rekey_standalone(struct rt_rekey *rk, int worker, struct rule_set *rs, size_t idx);
/* Stage B's process: decode every record of b in place and collect it for
 * cs (rule indices of rs, the set cs's engine was built for). Records that
 * do not decode or name a rule not loaded here are counted in *bad and
 * logged, not fatal. 0 or TS_E_NOMEM / TS_E_LIMIT. */
int rt_rekey_batch(struct rt_corr *cs, struct rule_set *rs, struct ingest_batch *b,
                   _Atomic uint64_t *bad);

/* ------------------------------------------------------------- the run */

struct rt_run {
    struct rt_run_opts o;
    const struct ts_config *cfg;  /* o.config or cfg_owned */
    struct ts_config *cfg_owned;
    struct ingest_topic *topics;  /* the source's options (strings in cfg) */
    struct ingest_host_zone *hzones;
    struct norm_set *norm;     /* as built at start (the source holds its own) */
    struct rt_events_out eo;
    struct rt_det det;
    struct rt_corr corr;
    struct rt_esc esc;
    bool eo_open, det_open, corr_open, esc_open;
    struct esc_channels *channels;
    struct esc_dispatcher *dispatcher;
    struct ingest_kafka *k;
    /* correlate.distributed (docs/scale.md): k is stage A (detection, the
     * detections produced to the internal topic in Kafka transactions), kb
     * stage B (the internal topic as group "<group>.correlate" -> corr and
     * LMDB) */
    bool dist;
    struct rt_rekey rekey;
    bool rekey_open;
    struct corr_grouping *rekey_groups; /* rekey.co's arrays (owned) */
    struct ingest_kafka *kb;
    struct ingest_topic btopic;
    char *dist_topic, *dist_group, *dist_node, *dist_txn; /* owned */
    char *dist_state, *dist_txnb; /* the changelog topic; stage B's transactional ids */
    struct rt_dist *distb;        /* stage B's partitions and their state */
    bool *b_in;                   /* per stage-B worker: its batch holds the batch lock */
    char *dist_inc;               /* the incidents topic "<group>.incidents" (owned) */
    int32_t dist_ninc;
    struct rt_incmat *incmat;     /* its materialiser (rt_run_main) */
    struct rt_incmat_stats incmat_final; /* its counters when it stopped */
    _Atomic uint64_t rekey_bad; /* records stage B could not feed */
    _Atomic uint64_t inc_retained; /* resolved incidents removed through the topic */
    int brc;                    /* stage B's result, its error */
    struct ts_err berr;
    atomic_int stop, reload, running;
    atomic_int disk_full;         /* a commit failed on a full filesystem */
    char disk_msg[512];           /* what, where, how much was free (set once) */
    pthread_mutex_t reload_mu;    /* one reload at a time */
    pthread_mutex_t norm_mu;      /* guards norm (swapped by a reload) */
    struct {                      /* for the metrics hook (hooks.c) */
        struct ts_hist process, commit; /* batch latencies (the sink) */
        _Atomic uint64_t reloads_ok, reloads_failed;
        pthread_mutex_t mu;       /* the caches below */
        struct ingest_partition_lag *lag;
        size_t nlag;
        int64_t lag_at;           /* monotonic ns; 0: never */
        struct ingest_health_summary health;
        int64_t health_at;
    } m;
};

/* What a reload did (rt_run_reload_now). */
struct rt_reload_result {
    int rc;              /* 0: everything configured was swapped in */
    bool config_read;    /* false: nothing changed */
    bool norm_swapped, rules_swapped;
    char reason[768];    /* the first problem, "" when none */
};
/* Reload now on the calling thread (the upkeep thread for SIGHUP, a
 * request thread for HTTP); by names who asked (NULL: SIGHUP). Waits for
 * a reload in progress. Returns res->rc. */
int rt_run_reload_now(struct rt_run *r, const char *by, struct rt_reload_result *res);
/* The normaliser in force (a reference: norm_set_free it). */
struct norm_set *rt_run_norm_ref(struct rt_run *r);
/* The distributed mode's counters (zeros otherwise). Any thread; takes
 * the stage mutex (waits for a stage-B batch's Kafka commit). */
struct rt_dist_stats {
    uint64_t rekeyed, consumed, unfed;           /* the hop: stage A out, stage B in */
    uint64_t changelog_records, inc_records;     /* stage B out */
    uint64_t restores, restored_records, imported_keys;
    int64_t restore_ns;
    struct rt_incmat_stats mat;
    uint64_t retention_removed; /* resolved incidents this node removed through the topic */
};
void rt_run_dist_stats(struct rt_run *r, struct rt_dist_stats *out);
void rt_metrics_init(struct rt_run *r);
void rt_metrics_free(struct rt_run *r);

/* The config turned into the stages' options (run.c). Rule load options
 * from paths.rules, field aliases and placeholders: *al and *ph are the
 * caller's to free (strings stay in cfg). */
int rt_rule_opts_from(const struct ts_config *cfg, struct rule_load_opts *lo,
                      struct rule_field_alias **al, struct rule_placeholder **ph);
void rt_norm_args_from(const struct ts_config *cfg, struct rt_norm_args *na);
/* Correlation options; *groups (the caller frees it) and cfg's strings must
 * outlive co's use. */
int rt_corr_opts_from(const struct ts_config *cfg, struct corr_opts *co,
                      struct corr_grouping **groups);

#endif
