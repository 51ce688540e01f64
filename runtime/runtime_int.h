/* runtime_int.h - runtime-internal: what run.c needs from the stage
 * modules (detect.c, corr_stage.c) beyond runtime.h. Not for other folders. */
#ifndef TS_RUNTIME_INT_H
#define TS_RUNTIME_INT_H

#include "../core/config.h"
#include "../core/metric.h"
#include "runtime.h"

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

/* ------------------------------------------------------------- the run */

struct rt_run {
    struct rt_run_opts o;
    const struct ts_config *cfg;  /* o.config or cfg_owned */
    struct ts_config *cfg_owned;
    struct ingest_topic *topics;  /* the source's options (strings in cfg) */
    struct ingest_host_zone *hzones;
    struct ingest_norm *norm;     /* as built at start (the source holds its own) */
    struct rt_events_out eo;
    struct rt_det det;
    struct rt_corr corr;
    struct rt_esc esc;
    bool eo_open, det_open, corr_open, esc_open;
    struct esc_channels *channels;
    struct esc_dispatcher *dispatcher;
    struct ingest_kafka *k;
    atomic_int stop, reload, running;
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
/* The normaliser in force (a reference: ingest_norm_free it). */
struct ingest_norm *rt_run_norm_ref(struct rt_run *r);
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
