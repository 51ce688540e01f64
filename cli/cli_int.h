/* cli_int.h - helpers shared by the subcommands. */
#ifndef TS_CLI_INT_H
#define TS_CLI_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>

#include "../core/buf.h"
#include "../ingest/ingest.h"
#include "../normalise/normalise.h"
#include "../rules/rules.h"
#include "../correlate/correlate.h"
#include "../storage/storage.h"
#include "../escalate/escalate.h"

/* The one runtime struct that main's signal handler shares (STYLE.md). */
struct ts_runtime {
    volatile sig_atomic_t stop;
    volatile sig_atomic_t reload; /* SIGHUP: rebuild rules and normalisation */
    struct ingest_kafka *kafka; /* set while `run` consumes */
};
extern struct ts_runtime ts_rt;

/* SIGINT/SIGTERM set ts_rt.stop (and stop the Kafka source); SIGHUP sets
 * ts_rt.reload. */
void cli_install_signals(void);

/* A sink that writes every event as a JSON line to a stream and makes it
 * durable (fflush + fsync unless a tty/pipe) at the commit point. */
struct events_out {
    pthread_mutex_t mu; /* workers call the sink concurrently */
    FILE *f;
    bool owned;
    bool sync;
    struct ts_buf line;
    uint64_t written;
};
int events_out_open(struct events_out *eo, const char *path);
void events_out_close(struct events_out *eo);
int events_out_process(void *ctx, struct ingest_batch *b);
int events_out_commit(void *ctx, const struct ingest_batch *b);


/* Normalisation from CLI options or config. Paths default to etc/profiles
 * and etc/decoders beside the binary (bin/../etc) or in the working dir. */
struct cli_norm_args {
    bool none;                 /* --no-normalise */
    const char *profiles, *decoders, *force_profile; /* one path each (CLI) */
    const char *const *profile_list, *const *decoder_list; /* or lists (config) */
    size_t nprofile_list, ndecoder_list;
    const char *geoip_city, *geoip_asn, *assets, *intel_db;
    const char *const *ip_fields;
    size_t nip_fields;
};
int cli_norm_build(const struct cli_norm_args *a, struct ingest_norm **out);
/* The summary line (no newline) of what normalisation counted: input fields
 * in enrichment's namespaces renamed or dropped (ingest_norm_stats). False,
 * with buf "", when there is nothing to say. Call after the source has
 * finished (its scratches freed) and before the last ingest_norm_free(n). */
bool cli_norm_summary(const struct ingest_norm *n, char *buf, size_t len);
/* "<exe dir>/../sub" or "sub" when that directory exists, else NULL. */
const char *cli_default_dir(const char *sub, char *buf, size_t len);

struct corr_stage;

/* The detection stage: Sigma rules, one JSON line per detection. With a
 * correlation stage, detections also feed it, and a rule used only by
 * correlations (Sigma `generate: false`) is not printed on its own. */
struct detections {
    struct rule_set *rs;           /* current set, guarded by mu; swapped on reload */
    struct rule_scratch **scratch; /* one per worker */
    struct rule_set **scratch_rs;  /* the set each scratch was made for (a reference,
                                      so a freed set's address cannot come back) */
    size_t nscratch;
    FILE *out;
    pthread_mutex_t mu;
    struct ts_buf line;
    uint64_t detections;
    struct corr_stage *corr;   /* NULL: detections are only printed */
    /* Sigma regex searches cut short (PCRE2 limits, length window): per
     * worker as its scratch counted them, plus what replaced scratches had */
    _Atomic uint64_t *re_limit, *re_long;
    _Atomic uint64_t re_limit_base, re_long_base;
};
/* Regex searches cut short so far (treated as not matching; docs/rules.md). */
void detections_re_stats(struct detections *d, uint64_t *limit_hits, uint64_t *too_long);
int detections_open(struct detections *d, const struct rule_load_opts *lo, int workers,
                    FILE *out, bool quiet);
void detections_close(struct detections *d);
int detections_process(struct detections *d, const struct ingest_batch *b);
int detections_on_match_locked(void *ctx, const struct ts_event *ev, size_t idx);
int detections_flush(struct detections *d);
/* Load a new rule set with lo and swap it in (batches in flight finish with
 * the old one). On failure the old set stays and the problems are printed. */
int detections_reload(struct detections *d, const struct rule_load_opts *lo,
                      const struct corr_opts *co);


/* Correlation and storage (incidents.c). */
struct corr_pair {
    size_t rule;
    const struct ts_event *ev; /* borrowed from the batch being processed */
};
struct corr_pairs {
    struct corr_pair *v;
    size_t n, cap;
};
/* Replay keeps the last state of each incident and renders it at the end:
 * scalars copied, the rule's strings borrowed from the engine (valid until
 * corr_stage_close), tenant, group values and distinct values copied into
 * strs (owned: NUL-terminated, in that order; rewritten only when they
 * change). */
struct final_incident {
    struct corr_incident v; /* string pointers other than the rule's: unset */
    char *strs;
    size_t strslen;
    const char **gf;    /* group field names (the rule's strings; array owned) */
    size_t gfcap;
};
struct corr_stage {
    struct corr_engine *ce;
    struct store *st;             /* NULL: in memory only (replay without --db) */
    pthread_mutex_t mu;           /* one batch at a time: feed, end, LMDB txn */
    struct corr_pairs *pairs;     /* per worker: detections of the current batch */
    size_t nworkers;
    struct corr_batch cur;        /* output of the batch being committed */
    const struct ingest_batch *cur_batch;
    FILE *out;                    /* incidents as JSON lines */
    bool final_only;              /* replay: print each incident once, at the end */
    struct final_incident *final;
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
    /* Commit coalescing (replay with a store): batches are held by the
     * engine and the store written once per commit_events events or
     * commit_ns of wall time (0, 0: every batch), and at the end
     * (corr_stage_flush). acc: the latest offset per source of the batches
     * since the last commit. */
    /* Rule reload with correlation (run): every batch holds batch_rw for
     * reading from process() to the end of its commit, a reload for
     * writing, so a batch is matched and correlated with one rule set and
     * one engine. */
    pthread_rwlock_t batch_rw;
    uint64_t commit_events;
    int64_t commit_ns;
    uint64_t held_events;
    int64_t held_since;
    struct ingest_offset *acc;
    size_t nacc, capacc;
};
/* co: engine options (lateness, groupings; NULL = defaults); borrowed for
 * the call only. */
int corr_stage_open(struct corr_stage *cs, struct rule_set *rs, const struct corr_opts *co,
                    const char *db_dir, int workers, FILE *out, bool final_only);
int corr_stage_collect(struct corr_stage *cs, int worker, size_t rule, const struct ts_event *ev);
int corr_stage_commit(struct corr_stage *cs, const struct ingest_batch *b);
/* Open a store to read (incidents, report, escalations): read-write when
 * the files are writable, so that the engine's pending incident journal is
 * folded first and the reader sees the latest; read-only otherwise. */
int cli_store_open_read(const char *path, size_t map_size, struct store **s,
                        struct ts_err *err);
/* Periodic upkeep (run's stats thread): fold the store's incident journal
 * when its oldest record is a few seconds old, also while no batch comes. */
void corr_stage_tick(struct corr_stage *cs);
/* One line of what left the path to an incident (counters since start):
 * detections without a group-by field or value, over a key cap (rule or
 * tenant), with a bad tenant, late, records LMDB refused. Returns 1 when any
 * is non-zero. Takes the stage mutex. */
int corr_stage_dropped(struct corr_stage *cs, char *buf, size_t len);
/* Commit what coalescing holds (no-op otherwise). */
int corr_stage_flush(struct corr_stage *cs);
/* A batch's stay (run): enter before matching, leave after its commit (or
 * when process fails). */
void corr_stage_batch_enter(struct corr_stage *cs);
void corr_stage_batch_leave(struct corr_stage *cs);
/* Reload: with the batches drained (write lock, at most 10 s: TS_E_LIMIT
 * otherwise), build an engine for rs with co, carry the state over from
 * the store, swap it in and call swap(ctx) (the detections' rule set) in
 * the same exclusion. On failure nothing changes. Needs a store (the state
 * is read back from it) and not replay. */
int corr_stage_reload(struct corr_stage *cs, struct rule_set *rs, const struct corr_opts *co,
                      void (*swap)(void *ctx), void *ctx);
int corr_stage_seek(struct corr_stage *cs, const char *topic, int32_t partition, int64_t *offset);
void corr_stage_print_final(struct corr_stage *cs);
void corr_stage_close(struct corr_stage *cs);

/* Escalation configuration (regime preset by name, taxonomy, policy,
 * organisations, assets); defaults from etc/escalation beside the binary. */
struct cli_esc {
    struct esc_regime *regime;
    struct esc_taxonomy *taxonomy;
    struct esc_policy *policy;
    struct esc_orgs *orgs;
    struct esc_assets *assets;
    struct esc_env env;
};
int cli_esc_open(struct cli_esc *e, const char *regime, const char *regimes_dir,
                 const char *taxonomy, const char *policy, const char *org, const char *assets);
void cli_esc_close(struct cli_esc *e);

#endif
