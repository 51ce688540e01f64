/* runtime.h - the pipeline as a running thing (runtime/): the stages wired
 * together for `run` and `replay` (threads, batches, the one LMDB
 * transaction per batch, reload), and what every front end shares (views of
 * stored records, the escalation configuration, the store opened to read).
 * cli/ and http/ use this header; runtime/ uses the stages' public headers.
 * Internals shared between runtime's files: runtime_int.h.
 *
 * Sections: views, events out, normalisation, detections, correlation and
 * storage, escalation configuration and store, rule tests, the run (`tocsin
 * run`) and its hooks for the HTTP server.
 *
 * Messages: the stage modules print what a user must fix (rule problems,
 * a store that cannot open) on stderr as "tocsin: file:line:col: error:
 * ..." and log progress with core/log.h, as they did in cli/.
 *
 * ---------------------------------------------------------------- views
 * The JSON of an incident and of its evidence, one implementation for the
 * CLI (`tocsin incidents list|show --json`) and the HTTP API
 * (/api/v1/incidents...): what one prints, the other serves, byte for byte.
 * The functions append to a ts_buf (core/buf.h) and only read the records;
 * they keep no state and may be called from any thread. They return 0 or
 * the first error of an append (TS_E_LIMIT at the buffer's cap, TS_E_NOMEM;
 * the buffer then holds a partial document), or a store error.
 */
#ifndef TS_RUNTIME_H
#define TS_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "../core/arena.h"
#include "../core/buf.h"
#include "../correlate/correlate.h"
#include "../escalate/escalate.h"
#include "../ingest/ingest.h"
#include "../rules/rules.h"
#include "../storage/storage.h"

/* The incident record as `tocsin incidents list --json` prints it, without
 * its closing brace, so that a caller may add members (show adds
 * "evidence_records"): {"id":...,"rule_id":...,...,"evidence":N,
 * "evidence_dropped":N[,"details":...]. Times are RFC 3339 UTC; details is
 * embedded as JSON when it is valid JSON, else as a string. */
int rt_view_incident_open(struct ts_buf *b, const struct store_incident *in);
/* The same, closed: one JSON object. */
int rt_view_incident(struct ts_buf *b, const struct store_incident *in);
/* One evidence record as `show --json` lists it: {"seq","source",
 * "partition","offset","event_time","stored"[,"rule_id"][,"raw"]
 * [,"raw_truncated":true][,"raw_omitted":true]}. */
int rt_view_evidence(struct ts_buf *b, const struct store_evidence *ev);
/* The incident with all of its evidence as `tocsin incidents show --json`
 * prints it (without the trailing newline): rt_view_incident_open, then
 * "evidence_records":[...] read in t (a read or write txn) and "}". Every
 * record has its text: "raw" as stored, or, when the store did not keep it
 * and the source is a file, the line read back from the file with
 * "raw_from_source":true, or else "raw_unavailable":"why".
 * arena receives each evidence record and is reset between them: it must
 * not be the arena that holds in. */
int rt_view_incident_evidence(struct ts_buf *b, struct store_txn *t,
                              const struct store_incident *in, struct ts_arena *arena);

/* An incident id as an analyst gives it: in full or as a unique prefix (hex,
 * any case). 0 with the full id in out; TS_E_NOTFOUND (no such incident) or
 * TS_E_INVAL (empty or too long, or a prefix several incidents share: msg
 * lists up to ten of them with their rule titles), msg saying so; or the
 * store's error. A prefix is looked up over every incident (a scan: for
 * the CLI). */
int rt_incident_resolve(struct store_txn *t, const char *given, char out[STORE_ID_MAX + 1],
                        char *msg, size_t msglen);

/* Lines of log files read back by number (the text of evidence the engine
 * or the store did not keep): one file open at a time, read forwards,
 * reopened to go back; gzip or plain; a line is cut at 64 KiB; at most a
 * million lines read in all. Single-threaded. */
struct rt_readback;
struct rt_readback *rt_readback_new(void);
void rt_readback_free(struct rt_readback *rb);
/* Line `line` (1-based) of the file `path`: its text (valid until the next
 * call) and length in *len; or NULL with *why saying why (the file cannot
 * be read, has fewer lines now, the budget is spent). */
const char *rt_readback_line(struct rt_readback *rb, const char *path, int64_t line,
                             size_t *len, const char **why);

/* ------------------------------------------------------- pending lines
 * (pending.c) */
/* A batch's output lines per worker, each with its event's Kafka position,
 * held until the commit knows which events another worker's batch took. */
struct rt_pending;
#define RT_PENDING_MAX ((size_t)1 << 30) /* bytes per worker */
int rt_pending_create(struct rt_pending **out, size_t workers);
void rt_pending_destroy(struct rt_pending *p);
/* Keep line (len bytes, with its newline) of ev for worker. TS_E_LIMIT over
 * RT_PENDING_MAX, TS_E_NOMEM. */
int rt_pending_add(struct rt_pending *p, int worker, const struct ts_event *ev, const void *line,
                   size_t len);
/* Forget worker's lines (a batch that failed before its commit). */
void rt_pending_reset(struct rt_pending *p, int worker);
/* Write worker's lines whose event keep() accepts (NULL: all; lines of
 * events not from Kafka always) to f, counting into *written and *dropped,
 * then forget them. TS_E_IO when a write fails (errno set). */
int rt_pending_write(struct rt_pending *p, int worker, FILE *f,
                     bool (*keep)(void *ctx, const char *topic, int32_t partition,
                                  int64_t offset),
                     void *ctx, uint64_t *written, uint64_t *dropped);

/* ----------------------------------------------------------- events out
 * (events_out.c) */
/* A sink that writes every event as a JSON line to a stream and makes it
 * durable (fflush + fsync unless a tty/pipe) at the commit point. */
struct rt_events_out {
    pthread_mutex_t mu; /* workers call the sink concurrently */
    FILE *f;
    bool owned;
    bool sync;
    bool failed;      /* a write or flush failed: nothing more is written */
    off_t committed;  /* the file's size after the last durable commit */
    const char *path; /* borrowed (the run's options) */
    struct ts_buf line;
    uint64_t written;
    /* deferred (rt_events_out_defer): per worker, the current batch's
     * lines, written at the fenced commit */
    struct rt_pending *pend;
    uint64_t dropped; /* deferred lines of events another batch wrote (stale) */
};
int rt_events_out_open(struct rt_events_out *eo, const char *path);
void rt_events_out_close(struct rt_events_out *eo);
/* process() writes each event's line, or, deferred, keeps it for the
 * worker's commit. commit() makes what was written durable. */
int rt_events_out_process(void *ctx, struct ingest_batch *b);
int rt_events_out_commit(void *ctx, const struct ingest_batch *b);
/* Keep each batch's lines in memory (per worker, workers of them) until
 * rt_events_out_commit_kept, instead of writing them in process(): the
 * commit then knows which of the batch's events another worker's batch
 * already took (run's correlation fence) and writes each event once. */
int rt_events_out_defer(struct rt_events_out *eo, size_t workers);
/* Deferred: write the lines of b's worker whose event keep() accepts (NULL:
 * all; keep gets the event's topic, partition and offset), drop the rest,
 * make the file durable as rt_events_out_commit. Returns 0 or TS_E_IO /
 * TS_E_STOPPED as rt_events_out_commit. */
int rt_events_out_commit_kept(struct rt_events_out *eo, const struct ingest_batch *b,
                              bool (*keep)(void *ctx, const char *topic, int32_t partition,
                                           int64_t offset),
                              void *ctx);

/* -------------------------------------------------------- normalisation
 * (norm.c) */
/* Normalisation from CLI options or config. Paths default to etc/profiles
 * and etc/decoders beside the binary (bin/../etc) or in the working dir. */
struct rt_norm_args {
    bool none;                 /* --no-normalise */
    const char *profiles, *decoders, *force_profile; /* one path each (CLI) */
    const char *const *profile_list, *const *decoder_list; /* or lists (config) */
    size_t nprofile_list, ndecoder_list;
    const char *geoip_city, *geoip_asn, *assets, *intel_db;
    const char *const *ip_fields;
    size_t nip_fields;
};
int rt_norm_build(const struct rt_norm_args *a, struct norm_set **out);
/* The same with the first problem in err instead of on stderr. */
int rt_norm_build_err(const struct rt_norm_args *a, struct norm_set **out, struct ts_err *err);
/* The summary line (no newline) of what normalisation counted: input fields
 * in enrichment's namespaces renamed or dropped (norm_stats). False,
 * with buf "", when there is nothing to say. Call after the source has
 * finished (its scratches freed) and before the last norm_set_free(n). */
bool rt_norm_summary(const struct norm_set *n, char *buf, size_t len);
/* "<exe dir>/../sub" or "sub" when that directory exists, else NULL. */
const char *rt_default_dir(const char *sub, char *buf, size_t len);

/* ----------------------------------------------------------- detections
 * (detect.c) */
struct rt_corr;
struct rt_hits; /* matches per rule of a set (detect.c) */

/* The detection stage: Sigma rules, one JSON line per detection. With a
 * correlation stage, detections also feed it, and a rule used only by
 * correlations (Sigma `generate: false`) is not printed on its own. */
struct rt_det {
    struct rule_set *rs;           /* current set, guarded by mu; swapped on reload */
    struct rule_scratch **scratch; /* one per worker */
    struct rule_set **scratch_rs;  /* the set each scratch was made for (a reference,
                                      so a freed set's address cannot come back) */
    size_t nscratch;
    FILE *out;
    pthread_mutex_t mu;
    struct ts_buf line;
    uint64_t detections;           /* printed */
    struct rt_pending *pend;       /* run with the correlation fence: each batch's lines
                                      held for its commit (rt_det_commit_kept); set by
                                      the caller, freed by rt_det_close */
    uint64_t dropped;              /* held lines of events another batch printed */
    struct rt_hits *hits;          /* matches per rule of rs (guarded by mu, swapped
                                      with it; rt_det_hits reads them) */
    struct rt_corr *corr;          /* NULL: detections are only printed */
    size_t invalid_rules;          /* rt_det_open: rules left out as invalid (the front
                                      end refuses to start on them unless told to skip) */
    /* Detections printed per rule of the set rt_det_open loaded (replay's
     * summary; a reload's new set is not counted): updated under mu. */
    struct rt_det_rule_stat {
        uint64_t n;
        int64_t first_ns, last_ns; /* event times */
    } *printed;
    const struct rule_set *printed_rs; /* the set printed[] indexes (not a reference) */
    struct rt_rekey *rekey;        /* distributed stage A: detections that feed
                                      correlation go to the internal topic */
    /* Sigma regex searches cut short (PCRE2 limits, length window): per
     * worker as its scratch counted them, plus what replaced scratches had */
    _Atomic uint64_t *re_limit, *re_long;
    _Atomic uint64_t re_limit_base, re_long_base;
};
/* Regex searches cut short so far (treated as not matching; docs/rules.md). */
void rt_det_re_stats(struct rt_det *d, uint64_t *limit_hits, uint64_t *too_long);
int rt_det_open(struct rt_det *d, const struct rule_load_opts *lo, int workers,
                FILE *out, bool quiet);
void rt_det_close(struct rt_det *d);
/* The rule set in force (*rs: a reference, rule_set_unref it) and its
 * matches per detection rule index so far (*counts: malloc'd, n entries,
 * the caller frees it), counts of rules kept by a reload included. Any
 * thread; 0 or TS_E_NOMEM. */
int rt_det_hits(struct rt_det *d, struct rule_set **rs, uint64_t **counts, size_t *n);
int rt_det_process(struct rt_det *d, const struct ingest_batch *b);
int rt_det_flush(struct rt_det *d);
/* With d->pend: print the held detections of b's worker whose event keep()
 * accepts (rt_pending_write), flushed. 0 or TS_E_IO. */
int rt_det_commit_kept(struct rt_det *d, const struct ingest_batch *b,
                       bool (*keep)(void *ctx, const char *topic, int32_t partition,
                                    int64_t offset),
                       void *ctx);

/* --------------------------------------------- correlation and storage
 * (corr_stage.c). The stage's mutable fields are its own; a front end
 * reads the counters (emitted, outbox_entries, nfinal) after the source
 * has finished, and sets the commit coalescing (commit_events, commit_ns),
 * esc and dispatcher before the first batch. */

struct rt_corr_pair {
    size_t rule;
    uint32_t use;              /* RT_CORR_ALL_USES, or one (corr_feed_use) */
    const struct ts_event *ev; /* borrowed from the batch being processed */
};
#define RT_CORR_ALL_USES UINT32_MAX
struct rt_corr_pairs {
    struct rt_corr_pair *v;
    size_t n, cap;
    bool held; /* distributed: this worker's batch holds the stage mutex from its
                  commit to the end of its Kafka transaction (rt_corr_txn_done) */
};
/* Replay keeps the last state of each incident and renders it at the end:
 * scalars copied, the rule's strings borrowed from the engine (valid until
 * rt_corr_close), tenant, group values and distinct values copied into
 * strs (owned: NUL-terminated, in that order; rewritten only when they
 * change). */
struct rt_final_evidence {
    char *source;       /* owned */
    int32_t partition;
    int64_t offset;
    int64_t time_ns;
    char *sub_rule;     /* owned; NULL */
    char *raw;          /* owned; NULL when the engine did not keep it */
    bool late;
};
struct rt_final_incident {
    struct corr_incident v; /* string pointers other than the rule's: unset */
    char *strs;
    size_t strslen;
    const char **gf;    /* group field names (the rule's strings; array owned) */
    size_t gfcap;
    struct rt_final_evidence *ev; /* keep_evidence: the first RT_FINAL_EVIDENCE_MAX */
    size_t nev, evcap;
    uint64_t ev_more;   /* evidence beyond them, counted */
};
#define RT_FINAL_EVIDENCE_MAX 200u
#define RT_FINAL_RAW_MAX 4096u
struct rt_corr {
    struct corr_engine *ce;
    struct store *st;             /* NULL: in memory only (replay without --db) */
    pthread_mutex_t mu;           /* one batch at a time: feed, end, LMDB txn */
    struct rt_corr_pairs *pairs;  /* per worker: detections of the current batch */
    size_t nworkers;
    struct corr_batch cur;        /* output of the batch being committed */
    const struct ingest_batch *cur_batch;
    FILE *out;                    /* incidents as JSON lines */
    bool final_only;              /* replay: print each incident once, at the end */
    struct rt_final_incident *final;
    size_t nfinal, capfinal;
    size_t *idx;                  /* id -> 1 + position in final */
    size_t idxcap;
    struct ts_buf line;
    uint64_t imported, stale, emitted;
    const struct esc_env *esc;    /* NULL: no escalation; else outbox entries per change */
    struct ts_arena *esc_arena;   /* incidents read back for escalation, per txn */
    struct store_incident *prev;  /* per incident of the batch: as stored before */
    bool *had_prev;
    size_t prevcap;
    uint64_t outbox_entries;
    uint64_t store_refused;       /* records LMDB refused, left out (txn_body: refused) */
    uint64_t refused_txn;         /* of the transaction being built */
    struct esc_dispatcher *dispatcher; /* NULL: entries wait for its next poll or `send` */
    /* the batch's evidence grouped by incident (txn_body's scratch) */
    size_t *ev_start, ev_startcap;  /* per incident: first index into ev_order */
    size_t *ev_order, *ev_group;    /* evidence indices by incident; group of each */
    struct store_evidence *ev_recs; /* one incident's records */
    size_t ev_cap;                  /* of ev_order, ev_group, ev_recs */
    size_t *ev_hash, ev_hcap;       /* incident id -> 1 + index */
    size_t *sorder, sorder_cap;     /* state items in key order */
    size_t *iorder, iorder_cap;     /* incidents in id order */
    /* Commit coalescing (replay with a store; run: kafka.commit_batches,
     * kafka.commit_interval_ms): batches are held by the engine and the
     * store written once per commit_events events, commit_batches batches
     * or commit_ns of wall time, whichever comes first (0, 0, 0: every
     * batch), and at the end (rt_corr_flush); a reload writes them first.
     * acc: the latest offset per source of the batches since the last
     * commit. report_held (run): rt_corr_commit returns INGEST_HELD for a
     * batch held, so the Kafka source keeps its offsets until a later
     * commit or rt_corr_flush made its effects durable. */
    /* Rule reload with correlation (run): every batch holds batch_rw for
     * reading from process() to the end of its commit, a reload for
     * writing, so a batch is matched and correlated with one rule set and
     * one engine. */
    pthread_rwlock_t batch_rw;
    uint64_t commit_events;
    int64_t commit_ns;
    uint32_t commit_batches;
    bool report_held;
    uint64_t held_events;
    uint32_t held_batches;
    int flush_failed; /* a commit (or a reload's flush) failed: the engine's output of the
                         batches it held is gone, every later commit fails */
    int64_t held_since;
    struct ingest_offset *acc;
    size_t nacc, capacc;
    /* Fencing (run, several workers): a worker that lost its partitions while
     * it held a batch (its session ended) may commit after the worker that
     * got them read the same messages again from the store's offsets. fed:
     * the furthest offset per Kafka partition of the batches fed so far, by
     * any worker; a batch all behind it is dropped (INGEST_E_STALE), the
     * detections of a batch partly behind it are left out for the part that
     * was fed, and the stored offsets never go back. */
    bool fence;
    bool fence_partial; /* the batch being counted is partly behind fed */
    /* Optional, with the fence: called by rt_corr_commit under mu once the
     * fence has judged b, before anything of b is fed or stored - stale:
     * all of b was taken by another worker's batch; else the outputs that
     * must hold each event once (run's events output) write the events
     * rt_corr_fed_pos does not report. Non-zero: b is not committed and
     * rt_corr_commit returns it. */
    int (*pre_write)(void *ctx, const struct ingest_batch *b, bool stale);
    void *pre_write_ctx;
    struct ingest_offset *fed;
    size_t nfed, capfed;
    uint64_t stale_batches, stale_detections;
    struct corr_metrics base;     /* counters of the engines a reload replaced */
    size_t invalid_rules;         /* rt_corr_open: correlation rules left out as invalid */
    struct rt_counters *counters; /* per-period counters (counters.c); with a store */
    struct rt_dist *dist;         /* distributed stage B (runtime_int.h), else NULL */
    bool keep_evidence;           /* replay --evidence (final_only): each incident printed
                                     with its evidence records, the lines the engine did
                                     not keep read back from their files */
};
/* co: engine options (lateness, groupings; NULL = defaults); borrowed for
 * the call only. */
int rt_corr_open(struct rt_corr *cs, struct rule_set *rs, const struct corr_opts *co,
                 const char *db_dir, int workers, FILE *out, bool final_only);
int rt_corr_collect(struct rt_corr *cs, int worker, size_t rule, const struct ts_event *ev);
/* The same for one use of the rule (correlate.h: corr_feed_use). */
int rt_corr_collect_use(struct rt_corr *cs, int worker, size_t rule, uint32_t use,
                        const struct ts_event *ev);
/* The batch's detections fed, then one LMDB transaction with what the
 * engine changed and b's offsets; or, coalescing, held for a later one:
 * then 0, or INGEST_HELD with report_held. */
int rt_corr_commit(struct rt_corr *cs, const struct ingest_batch *b);
/* The message at (topic, partition, offset) was in a batch fed before
 * (rt_corr.fence; for pre_write, with the stage mutex held). */
bool rt_corr_fed_pos(const struct rt_corr *cs, const char *topic, int32_t partition,
                     int64_t offset);
/* One line of what left the path to an incident (counters since start):
 * detections without a group-by field or value, over a key cap (rule or
 * tenant), with a bad tenant, late, records LMDB refused. Returns 1 when any
 * is non-zero. Takes the stage mutex. */
int rt_corr_dropped(struct rt_corr *cs, char *buf, size_t len);
/* The engine's counters since start (those of engines replaced by reloads
 * added; gauges as of the engine in force), the records LMDB refused, the
 * outbox entries written and the incident changes emitted. Takes the stage
 * mutex (waits for a batch's commit). */
struct rt_corr_stats {
    struct corr_metrics m;
    uint64_t store_refused, outbox_entries, emitted;
    uint64_t stale_batches, stale_detections; /* rt_corr.fence */
};
void rt_corr_stats(struct rt_corr *cs, struct rt_corr_stats *out);
/* Late detections by source and tenant (correlate.h: corr_late_sources),
 * kept across reloads. *out malloc'ed. Any thread. */
int rt_corr_late_sources(struct rt_corr *cs, struct corr_late_source **out, size_t *n);
/* Commit what coalescing holds (no-op otherwise). Any thread. */
int rt_corr_flush(struct rt_corr *cs);
int rt_corr_seek(struct rt_corr *cs, const char *topic, int32_t partition, int64_t *offset);
void rt_corr_print_final(struct rt_corr *cs);
void rt_corr_close(struct rt_corr *cs);

/* ------------------------------------------------- escalation and store
 * (esc.c) */
/* Escalation configuration (regime preset by name, taxonomy, policy,
 * organisations, assets); defaults from etc/escalation beside the binary. */
struct rt_esc {
    struct esc_regime *regime;
    struct esc_taxonomy *taxonomy;
    struct esc_policy *policy;
    struct esc_orgs *orgs;
    struct esc_assets *assets;
    struct esc_env env;
};
int rt_esc_open(struct rt_esc *e, const char *regime, const char *regimes_dir,
                const char *taxonomy, const char *policy, const char *org, const char *assets);
void rt_esc_close(struct rt_esc *e);

/* Open a store to read (incidents, report, escalations): read-write when
 * the files are writable, so that the engine's pending incident journal is
 * folded first and the reader sees the latest; read-only otherwise. */
int rt_store_open_read(const char *path, size_t map_size, struct store **s,
                       struct ts_err *err);

/* ------------------------------------------------------------ summaries
 * Periodic monitoring reports (runtime/summary.c, docs/escalation.md
 * "Monitoring reports"): the figures of a period read from a store, as
 * text, JSON or HTML. */
struct rt_summary;
struct rt_summary_opts {
    int64_t from_ns, to_ns;        /* [from, to): incidents by last_seen, outbox by created */
    const char *kind;              /* "day", "week", "month", "custom" (printed); borrowed */
    const char *tenant;            /* NULL: every tenant; borrowed */
    int utc_offset_sec;            /* for printed times */
    const struct esc_env *env;     /* may be NULL: types "other", overdue unknown */
};
enum rt_summary_format { RT_SUMMARY_TEXT = 0, RT_SUMMARY_JSON, RT_SUMMARY_HTML };
/* The figures of the period in one read transaction of st. 0, TS_E_INVAL
 * (empty period), TS_E_NOMEM, a store error (err says which). */
int rt_summary_compute(struct store *st, const struct rt_summary_opts *o,
                       struct rt_summary **out, struct ts_err *err);
void rt_summary_free(struct rt_summary *s);
uint64_t rt_summary_incidents(const struct rt_summary *s);
/* Append the summary (lang: text and HTML). 0 or the buffer's error. */
int rt_summary_render(const struct rt_summary *s, enum rt_summary_format f, enum esc_lang lang,
                      struct ts_buf *out);
/* The last full period before now: "day" (yesterday), "week" (Monday to
 * Sunday), "month" (calendar month), in local time at off_sec. TS_E_INVAL
 * for another kind. */
int rt_summary_period(const char *kind, int64_t now_ns, int off_sec, int64_t *from,
                      int64_t *to);
/* The scheduled report (config escalate.summary): the summary of the last
 * full period before now_ns as one outbox entry to the regime's managing
 * body - id "summary:KIND:FROM:1:RECIPIENT:summary", payload JSON with the
 * figures and the Vietnamese text - unless that id is in the outbox already
 * (once per period, whoever queues it). *queued: it was put now. Errors:
 * TS_E_INVAL/TS_E_CONFIG (no regime, no managing body), store errors. */
int rt_summary_queue(struct store *st, const struct esc_env *env, const char *kind,
                     int64_t now_ns, int off_sec, bool *queued, struct ts_err *err);

/* ------------------------------------------------------------ rule tests
 * (rule_test.c): Sigma rules over a few events, each match explained -
 * `tocsin rules test` and POST /api/v1/rules/test. Single-threaded. */

struct norm_profile_set;

struct rt_rule_test_opts {
    struct rule_load_opts rules;   /* paths, or a YAML buffer (buf, buf_len, buf_name) */
    const char *const *event_paths; /* the events: files ("-": stdin) ... */
    size_t nevent_paths;
    const char *events;            /* ... or, when nevent_paths is 0, lines in memory */
    size_t events_len;
    const char *events_name;       /* their name in sources ("-" when NULL) */
    enum ingest_format format;
    const char *tenant;            /* NULL: "" */
    /* Before matching: a normaliser (decoders, profiles, enrichment;
     * borrowed), or mapping profiles alone (borrowed) with force_profile
     * (NULL: chosen per event), or neither (events as parsed). */
    const struct norm_set *norm;
    const struct norm_profile_set *profiles;
    const char *force_profile;
    FILE *diag;                    /* per-line warnings and rejects; NULL: none */
    /* After loading, before reading the events: the problems of the rules
     * (NULL: none). */
    void (*on_rules)(void *ctx, const struct rule_report *rep);
    /* Per match: the rule, the event (borrowed for the call) and the match
     * explanation as a JSON object (rules.h: rule_explain). Non-zero stops
     * the test with that code. */
    int (*on_match)(void *ctx, const struct rule_info *ri, const struct ts_event *ev,
                    const char *explain, size_t explain_len);
    /* explain: normalisation says which decoder and profile ran (the
     * events gain explain.* fields, as with `parse --explain`), and every
     * event is handed to on_event after matching. */
    bool explain;
    /* Non-NULL: the correlation rules among the rules run too, in memory,
     * as in replay, and their incidents are printed there as JSON lines at
     * the end (res->incidents counts them). */
    FILE *incidents_out;
    /* Per event after normalisation, before matching (NULL: none). */
    int (*on_normalised)(void *ctx, const struct ts_event *ev);
    /* Per event after matching (NULL: none): how many rules matched and,
     * when none did and explain is set, why as a JSON object
     * {"decoder":NAME|null,"decoder_why":S,"profile":NAME|null,"rules":[
     * rule_explain_miss objects]} (rules.h); otherwise why is NULL. */
    int (*on_event)(void *ctx, const struct ts_event *ev, uint64_t matched, const char *why,
                    size_t why_len);
    void *ctx;
};

struct rt_rule_test_result {
    uint64_t events, matched, matches, dead_letters;
    size_t rules;              /* detection rules loaded */
    size_t incidents;          /* incidents_out: incidents printed */
    struct rule_report report; /* the rules' problems: rule_report_free() it */
    bool ran;                  /* the events were read (errors after loading) */
};

/* Returns 0; or the loader's error (rules that do not parse, a file that
 * cannot be read: err), TS_E_NOTFOUND (no detection rule loaded; an
 * unknown force_profile), the source's or on_match's error. res->report
 * must be freed in every case. */
int rt_rule_test(const struct rt_rule_test_opts *o, struct rt_rule_test_result *res,
                 struct ts_err *err);

/* ------------------------------------------------------------- the run
 * (run.c): `tocsin run` - the Kafka source of the config, the pipeline
 * behind it, the upkeep thread (journal folds, retention, stats lines,
 * reloads) and the escalation dispatcher. */

struct ts_config;

struct rt_run_opts {
    const char *config_path; /* required: named in messages, re-read on reload */
    /* The loaded config (borrowed: must outlive the run), or NULL to load
     * config_path here. */
    const struct ts_config *config;
    const char *events_out;  /* every event as a JSON line there ("-": stdout);
                                NULL: none */
    FILE *detections_out;    /* detections and incidents as JSON lines
                                (borrowed); NULL: stdout */
    int stats_interval;      /* seconds between stats lines; 0: never */
    /* Called after each reload that read the config (SIGHUP or HTTP), on
     * the thread that ran it (e.g. to re-read the HTTP tokens). NULL: none. */
    void (*on_reload)(void *ctx);
    void *on_reload_ctx;
};

struct rt_run;

/* Build everything from the config: normalisation, rules, correlation and
 * the store (paths.data_dir), escalation and its dispatcher, events out, the
 * Kafka consumers (nothing is consumed until rt_run_main). Returns 0, or
 * TS_E_CONFIG for what the user must fix (err holds it, or it was printed
 * on stderr as the stage found it: rule problems, a store that does not
 * open), another TS_E_* code otherwise (err when known). */
int rt_run_create(struct rt_run **out, const struct rt_run_opts *o, struct ts_err *err);
/* Consume until rt_run_stop() or a fatal error; then drain, commit and log
 * the final counters. Returns 0 after a requested stop, else the error that
 * stopped the source (err filled). Once per run. */
int rt_run_main(struct rt_run *r, struct ts_err *err);
/* Ask main to finish (drain, commit, return). Async-signal-safe; any
 * thread; before main runs it makes main return at once. */
void rt_run_stop(struct rt_run *r);
/* Ask for a reload (as SIGHUP): the config is read again and the
 * normalisation and rules swapped in by the upkeep thread within 200 ms
 * while main runs. Async-signal-safe; any thread. */
void rt_run_reload(struct rt_run *r);
/* The run's store (NULL without rules or paths.data_dir) and escalation
 * configuration (NULL without escalate): borrowed, valid until
 * rt_run_destroy; for the HTTP server beside the run. */
struct store *rt_run_store(const struct rt_run *r);
const struct esc_env *rt_run_esc_env(const struct rt_run *r);
/* Free everything (the store last). Whatever borrows from the run (an HTTP
 * server with its hooks) must be gone. NULL accepted. */
void rt_run_destroy(struct rt_run *r);
/* After rt_run_main failed: true when it failed because a commit could not
 * write to a full filesystem (LMDB in paths.data_dir, the events output);
 * msg gets what and where. Nothing after the last committed batch was
 * committed: a new run over the same config resumes there once there is
 * space (cmd_run waits and starts one). */
bool rt_run_disk_full(const struct rt_run *r, char *msg, size_t len);
/* The free bytes of the filesystem of path (a file or directory; a file
 * not yet created: its directory); -1 when that cannot be read. */
long long rt_free_bytes(const char *path);
/* True when the filesystem of path has (nearly) no space left: msg gets
 * "WHAT: no space left on the filesystem of PATH (N KiB free)". */
bool rt_path_full(const char *what, const char *path, char *msg, size_t len);

/* Hooks for the HTTP server beside the run (hooks.c): the signatures of
 * http/http.h's struct http_hooks members (ctx: the run), called from the
 * server's threads concurrently, until the server is destroyed (before
 * rt_run_destroy; also after rt_run_main returned).
 * metrics: appends the run's series (docs/api.md: consumer by topic and
 * tenant, lag per partition, batch latencies, detections by rule, incidents,
 * silent losses, hosts, escalation deliveries, rules, reloads).
 * ready: 0, or 1 with the reason: not consuming, stopping, the store cannot
 * be read, no partition assigned, lag (sum over the partitions) above
 * http.ready_max_lag.
 * rules_list: {"rules":[{id,name,title,kind,level,status,author,file,
 * hits}...],"detection_rules":N,"correlation_rules":N,"hits":N}.
 * rules_reload: a reload as SIGHUP's, done now; 200 or 422 with
 * {"reloaded","normalisation","rules","by"[,"error"]}.
 * rule_test: q's rule (with the run's aliases and placeholders) over q's
 * events (with the run's normalisation, or q->profile forced); 200 with
 * {"detections":[{line,rule_id,rule_title,level,tenant,explain}...],
 * "events","matched","matches","dead_letters","rules","truncated",
 * "problems":[...]}, 400 (format), 422 (a rule that does not load, no
 * detection rule, an unknown profile: {"error","problems"}). */
struct rt_rule_test_req {
    const char *rule;   /* Sigma YAML (rule_len bytes, not NUL-terminated) */
    size_t rule_len;
    const char *events; /* raw events, one per line (events_len bytes) */
    size_t events_len;
    const char *format; /* NULL: "auto" */
    const char *profile; /* NULL: the run's normalisation chooses */
    const char *tenant; /* NULL: none */
    const char *by;     /* who asked (logged) */
};
int rt_run_metrics(void *ctx, struct ts_buf *out);
int rt_run_ready(void *ctx, char *reason, size_t cap);
int rt_run_rules_list(void *ctx, struct ts_buf *out);
/* GET /api/v1/rules's document for the rules of rs (NULL: none); hits: per
 * detection rule (rule_set_count), NULL where the process counts none
 * (serve: the titles only). */
int rt_rules_list_json(struct rule_set *rs, const uint64_t *hits, struct ts_buf *out);
int rt_run_rules_reload(void *ctx, const char *by, struct ts_buf *out);
int rt_run_rule_test(void *ctx, const struct rt_rule_test_req *q, struct ts_buf *out);



/* ---------------------------------------------------------------- hunts
 * (hunt.c): `tocsin hunt` - rules over a time range of the Kafka topics of
 * a config, read by a consumer of its own (never the live group's offsets),
 * through `run`'s pipeline; results in a hunt of their own (docs/hunting.md).
 * Single-threaded (the caller's thread). */

#define RT_HUNT_PATH_MAX 4096
#define RT_HUNT_MAX_RULES 64
#define RT_HUNT_DEFAULT_MARGIN (15LL * 60 * 1000000000LL) /* 15 min */

enum { RT_HUNT_PROGRESS_AUTO = 0, RT_HUNT_PROGRESS_TTY, RT_HUNT_PROGRESS_PLAIN };

struct rt_hunt_opts {
    const char *config_path;     /* kafka, topics, ingest, normalisation, aliases */
    const char *const *rules;    /* --rules paths (borrowed) */
    size_t nrules;
    int64_t from_ns, to_ns;      /* event time [from, to) */
    int64_t margin_ns;           /* around the range in Kafka timestamps */
    const char *topics;          /* NULL: all the config's; else a name or a regex */
    const char *tenant;          /* NULL: every tenant */
    const char *db;              /* the hunt lives in db/hunts/ID; NULL: out only */
    const char *out;             /* without db: detections and incidents as replay
                                    prints them ("-" or NULL: stdout) */
    const char *resume;          /* with db: the id of a hunt to resume */
    const char *intel_db;        /* threat-intel LMDB instead of the config's (NULL) */
    const char *intel_source;    /* --intel SOURCE: a detection (a sighting) per event that
                                    matched an indicator of this source */
    int64_t created_ns;          /* 0: now (a resume passes the record's) */
    FILE *progress;              /* progress lines; NULL: none */
    int progress_mode;           /* RT_HUNT_PROGRESS_*: AUTO = TTY when a terminal */
    int progress_interval_s;     /* PLAIN: seconds between lines (0 = 10) */
    uint64_t commit_every;       /* with db: a resume point every N events (and every
                                    2 s); 0: 2000000 */
    bool quiet;                  /* no rule problems on stderr */
    const volatile int *stop;    /* SIGINT: stop after the current batch */
    int threads;                 /* matching workers, each with its rule scratch; one
                                    correlation and store stage fed in the one-thread
                                    order. 0: the cores, at most the partitions */
    /* A hunt over archived files instead of Kafka (config optional: its
     * ingest and normalisation settings when given): read as `replay`
     * reads them, the events of [from, to) kept; tenant is then the
     * events' tenant (replay -t). Not resumable: run it again. */
    const char *const *files;
    size_t nfiles;
    const char *format;          /* of the files: NULL = auto */
};
#define RT_HUNT_MAX_FILES 1024

struct rt_hunt_result {
    char id[80];
    struct ingest_range_stats st;
    uint64_t detections;         /* of the whole hunt (a resume's kept ones included) */
    uint64_t sightings;          /* of them, of the --intel source's indicators */
    size_t incidents;            /* in its store (db) or printed (out) */
    int64_t created_ns, wall_ns;
};

/* Returns 0 when the range was read to its end; TS_E_STOPPED when *stop
 * stopped it (resumable with db); TS_E_CONFIG for what the user must fix
 * (err, or printed: rule problems); another TS_E_* code (err). res is
 * filled in every case once the hunt started (res->id). */
int rt_hunt_run(const struct rt_hunt_opts *o, struct rt_hunt_result *res, struct ts_err *err);

/* A stored hunt's record (db/hunts/ID/hunt.json): its strings live in json
 * until rt_hunt_record_free. */
struct rt_hunt_record {
    struct json_t *json;
    const char *id, *status, *config, *topics, *tenant, *intel_source, *intel_db;
    const char *rules[RT_HUNT_MAX_RULES];
    size_t nrules;
    int64_t from_ns, to_ns, margin_ns;
    bool files;                  /* a hunt over files (not resumable) */
};
int rt_hunt_record_load(const char *db, const char *id, struct rt_hunt_record *rec,
                        struct ts_err *err);
void rt_hunt_record_free(struct rt_hunt_record *rec);
/* Letters, digits, - and _, 1..64 bytes (it names a directory). */
bool rt_hunt_id_ok(const char *id);

/* `tocsin serve --incidents-from CONFIG`: materialise the incidents topic
 * of the distributed nodes configured in CONFIG ("<kafka.group_id>.incidents")
 * into st (docs/scale.md), on a thread, until rt_serve_incidents_stop (which
 * reads on to the end first). TS_E_CONFIG (err) for a config without
 * kafka.brokers and correlate.distributed; TS_E_KAFKA. */
struct rt_incmat;
int rt_serve_incidents_start(struct rt_incmat **out, const char *config_path, struct store *st,
                             struct ts_err *err);
void rt_serve_incidents_stop(struct rt_incmat *m);
/* The nodes' config the serve materialiser loaded (lives until stop). */
const struct ts_config *rt_serve_incidents_config(const struct rt_incmat *m);

/* ---------------------------------- status changes everywhere (inc_topic.c)
 * In the distributed mode a status change is published to the incidents
 * topic (to the incident's partition) and applied by every node's
 * materialiser, this node's too, in offset order (docs/scale.md). */
struct rt_inc_status {
    const char *id;          /* borrowed */
    enum store_status to;    /* ACKNOWLEDGED, RESOLVED or REOPENED */
    const char *by;          /* who; NULL: "" */
    const char *comment;     /* NULL or "": none */
    int64_t at_ns;           /* when (set by rt_inc_status_change: now) */
};
struct rt_inc_status_result {
    bool applied;            /* the change is in this store's history */
    bool pending;            /* published, not applied here within wait_ms */
    enum store_status now;   /* the incident's status here (after, or when refused) */
    uint64_t revision;
    int32_t partition;       /* where it was published (-1: not) */
    int64_t offset;
    int64_t at_ns;
};
#define RT_INC_PUBLISH_MS 10000 /* how long a change waits for the broker */
#define RT_INC_APPLY_MS 15000   /* and then for this node's materialiser */
/* Publish the change with cfg's brokers (the nodes' config; its group
 * names the topic) and wait up to wait_ms until st's materialiser applied
 * it. Returns 0 (res->applied, or res->pending: published and durable in
 * Kafka, applied when a materialiser on st reads it); TS_E_NOTFOUND (no
 * such incident here); TS_E_INVAL (not allowed from res->now: refused
 * before publishing, or by the topic's order - another node's change came
 * first; nothing changed); TS_E_KAFKA (not published: err says why;
 * nothing changed anywhere); TS_E_CONFIG (st is not a replica of cfg's
 * topic: err). Any thread; no txn held. */
int rt_inc_status_change(struct store *st, const struct ts_config *cfg,
                         const struct rt_inc_status *c, int wait_ms,
                         struct rt_inc_status_result *res, struct ts_err *err);
/* The mark a materialiser leaves in its store: the topic, its partitions
 * and the config it was started with (NULL: not recorded). buf owns the
 * strings; free with rt_inc_replica_free. TS_E_NOTFOUND: not a replica. */
struct rt_inc_replica {
    const char *topic, *config_path;
    int32_t nparts;
    char *buf;
};
int rt_inc_replica_get(struct store *st, struct rt_inc_replica *out);
/* http_hooks.status_change over rt_inc_status_change; ctx: a struct
 * rt_inc_hook (cfg NULL: every change refused, TS_E_CONFIG). */
struct rt_inc_hook {
    struct store *st;
    const struct ts_config *cfg;
};
int rt_inc_status_hook(void *ctx, const char *id, int to, const char *by, const char *comment,
                       int *now, uint64_t *revision, char *msg, size_t cap);
/* The same for `tocsin run` (ctx: the run): NULL unless correlate.distributed. */
int rt_run_status_change(void *ctx, const char *id, int to, const char *by, const char *comment,
                         int *now, uint64_t *revision, char *msg, size_t cap);
bool rt_run_distributed(const struct rt_run *r);
void rt_inc_replica_free(struct rt_inc_replica *r);

#endif
