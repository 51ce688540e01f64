/* run.c - `tocsin run` as a running thing: the config turned into the
 * Kafka source and the sink callbacks (detections -> correlation -> one
 * LMDB transaction per kafka.commit_batches batches, events out), the upkeep thread (journal
 * folds, retention, periodic stats lines, reloads), the escalation
 * dispatcher, and reload (config re-read; normalisation and rules swapped
 * in, the running version kept when the new one does not build).
 *
 * Threads: rt_run_create, rt_run_main and rt_run_destroy on one thread (the
 * caller's); the source's workers call the sink; one upkeep thread while
 * main runs; rt_run_stop and rt_run_reload from anywhere, a signal handler
 * included; the hooks (hooks.c) from the HTTP server's threads. The run
 * owns everything it creates; the options' strings and FILE are borrowed. */
#include <libgen.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/metric.h"
#include "../core/tstime.h"
#include "../normalise/normalise.h"
#include "runtime_int.h"

/* ------------------------------------------------------------ the sink */

long long rt_free_bytes(const char *path)
{
    struct statvfs v;
    if (statvfs(path, &v) != 0) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", path);
        if (statvfs(dirname(dir), &v) != 0)
            return -1;
    }
    return (long long)v.f_bavail * (long long)v.f_frsize;
}

/* Less free than this on the filesystem of a write that failed: the disk
 * is full (LMDB reports a short write as EIO, not ENOSPC). */
#define DISK_LOW_BYTES (64LL << 20)

bool rt_path_full(const char *what, const char *path, char *msg, size_t len)
{
    long long fr = path ? rt_free_bytes(path) : -1;
    if (fr < 0 || fr >= DISK_LOW_BYTES)
        return false;
    snprintf(msg, len, "%s: no space left on the filesystem of %s (%lld KiB free)", what, path,
             fr / 1024);
    return true;
}

/* A commit's write to path failed (TS_E_IO): when its filesystem is
 * (nearly) full, say so once and mark the run, which stops with nothing
 * committed past the last durable batch; the caller may start it again. */
static void note_write_failure(struct rt_run *r, const char *what, const char *path)
{
    char msg[sizeof(r->disk_msg)];
    if (!rt_path_full(what, path, msg, sizeof(msg)) || atomic_exchange(&r->disk_full, 1))
        return;
    memcpy(r->disk_msg, msg, sizeof(msg));
    ts_error("%s: the batch is not committed, nor anything after it; consumption stops "
             "until there is space (nothing is lost: the run resumes from the last committed "
             "batch)", r->disk_msg);
}

bool rt_run_disk_full(const struct rt_run *r, char *msg, size_t len)
{
    if (!r || !atomic_load(&r->disk_full))
        return false;
    snprintf(msg, len, "%s", r->disk_msg);
    return true;
}

static int run_process(void *ctx, struct ingest_batch *b)
{
    struct rt_run *r = ctx;
    int64_t t0 = ts_mono_ns();
    bool corr = r->corr_open && !r->dist; /* stage A of the distributed mode: no local corr */
    if (corr) /* until the end of run_commit: a reload waits for it */
        rt_corr_batch_enter(&r->corr);
    int rc = r->det_open ? rt_det_process(&r->det, b) : 0;
    if (!rc && r->eo_open && (rc = rt_events_out_process(&r->eo, b)) == TS_E_IO)
        note_write_failure(r, "events output", r->eo.path);
    if (rc && corr)
        rt_corr_batch_leave(&r->corr);
    ts_hist_observe(&r->m.process, ts_mono_ns() - t0);
    return rc;
}

static bool not_fed(void *ctx, const char *topic, int32_t partition, int64_t offset)
{
    return !rt_corr_fed_pos(ctx, topic, partition, offset);
}

static bool none(void *ctx, const char *topic, int32_t partition, int64_t offset)
{
    (void)ctx, (void)topic, (void)partition, (void)offset;
    return false;
}

/* rt_corr.pre_write: the fence has judged b (corr mutex held); its
 * detections (-d) and events (-o) out but those of events another worker's
 * batch wrote, before the LMDB transaction with b's offsets. */
static int run_pre_write(void *ctx, const struct ingest_batch *b, bool stale)
{
    struct rt_run *r = ctx;
    int rc = r->det.pend ? rt_det_commit_kept(&r->det, b, stale ? none : not_fed, &r->corr) : 0;
    if (rc || !r->eo.pend)
        return rc;
    rc = rt_events_out_commit_kept(&r->eo, b, stale ? none : not_fed, &r->corr);
    if (rc == TS_E_IO)
        note_write_failure(r, "events output", r->eo.path);
    return rc;
}

/* The commit point: what the batch produced is durable before its offsets
 * are committed (storage's LMDB transaction takes this place; coalescing
 * holds it for a later batch's or run_flush: INGEST_HELD). */
static int run_commit(void *ctx, const struct ingest_batch *b)
{
    struct rt_run *r = ctx;
    int64_t t0 = ts_mono_ns();
    /* deferred: the fenced correlation commit writes them (run_pre_write) */
    int rc = r->det_open && !r->det.pend ? rt_det_flush(&r->det) : 0;
    if (!rc && r->eo_open && !r->eo.pend && (rc = rt_events_out_commit(&r->eo, b)) == TS_E_IO)
        note_write_failure(r, "events output", r->eo.path);
    bool corr = r->corr_open && !r->dist;
    /* last: the LMDB transaction with state, incidents and these offsets */
    if (!rc && corr && (rc = rt_corr_commit(&r->corr, b)) == TS_E_IO)
        note_write_failure(r, "LMDB", r->cfg->paths.data_dir);
    if (corr)
        rt_corr_batch_leave(&r->corr);
    ts_hist_observe(&r->m.commit, ts_mono_ns() - t0);
    return rc;
}

/* What coalescing holds -> LMDB now (the Kafka source: idle, a revoke, the end). */
static int run_flush(void *ctx, int worker)
{
    struct rt_run *r = ctx;
    (void)worker;
    int rc = r->corr_open && !r->dist ? rt_corr_flush(&r->corr) : 0;
    if (rc == TS_E_IO)
        note_write_failure(r, "LMDB", r->cfg->paths.data_dir);
    return rc;
}

static int run_seek(void *ctx, const char *topic, int32_t partition, int64_t *offset)
{
    struct rt_run *r = ctx;
    /* stage A of the distributed mode: the group's offsets, which its
     * transactions commit */
    if (r->dist)
        return TS_E_NOTFOUND;
    return r->corr_open ? rt_corr_seek(&r->corr, topic, partition, offset) : TS_E_NOTFOUND;
}

/* Stage B (distributed): the internal topic's records -> correlation, under
 * the same read lock as a local batch (a reload swaps rules and engine
 * between batches). */
static int runb_process(void *ctx, struct ingest_batch *b)
{
    struct rt_run *r = ctx;
    rt_corr_batch_enter(&r->corr);
    pthread_mutex_lock(&r->det.mu);
    struct rule_set *rs = rule_set_ref(r->det.rs); /* the engine's (swapped together) */
    pthread_mutex_unlock(&r->det.mu);
    int rc = rt_rekey_batch(&r->corr, rs, b, &r->rekey_bad);
    rule_set_unref(rs);
    if (rc)
        rt_corr_batch_leave(&r->corr);
    else
        r->b_in[b->worker] = true; /* left when its transaction is resolved */
    return rc;
}

/* Feed, end the batch, its changed state to the changelog (in the batch's
 * Kafka transaction); LMDB in runb_txn_done. */
static int runb_commit(void *ctx, const struct ingest_batch *b)
{
    struct rt_run *r = ctx;
    return rt_corr_commit(&r->corr, b);
}

static int runb_txn_done(void *ctx, const struct ingest_batch *b, bool committed)
{
    struct rt_run *r = ctx;
    int rc = rt_corr_txn_done(&r->corr, b, committed);
    if (rc == TS_E_IO)
        note_write_failure(r, "LMDB", r->cfg->paths.data_dir);
    if (r->b_in[b->worker]) {
        r->b_in[b->worker] = false;
        rt_corr_batch_leave(&r->corr);
    }
    return rc;
}

/* Where stage B starts: the group's committed offsets (its transactions
 * commit them); runb_assigned made LMDB agree with them first. */
static int runb_seek(void *ctx, const char *topic, int32_t partition, int64_t *offset)
{
    (void)ctx;
    (void)topic;
    (void)partition;
    (void)offset;
    return TS_E_NOTFOUND;
}

static int runb_assigned(void *ctx, int worker, const struct ingest_offset *parts, size_t n)
{
    struct rt_run *r = ctx;
    return rt_dist_assigned(r->distb, worker, parts, n);
}

static void runb_revoked(void *ctx, int worker, const struct ingest_offset *parts, size_t n)
{
    struct rt_run *r = ctx;
    rt_dist_revoked(r->distb, worker, parts, n);
}

/* The records are decoded by runb_process on the stage thread, where the
 * rule set in force is known: the source keeps them as they came. */
static int runb_decode(void *ctx, struct ts_event *ev, int64_t ts_ms, const char **reason)
{
    (void)ctx;
    (void)ts_ms;
    (void)reason;
    (void)ev;
    return 0;
}

/* ---------------------------------------------------- config -> options */

/* Rule load options from paths.rules, field aliases and placeholders; the
 * arrays in *al / *ph are the caller's to free (strings stay in cfg). */
int rt_rule_opts_from(const struct ts_config *cfg, struct rule_load_opts *lo,
                          struct rule_field_alias **al, struct rule_placeholder **ph)
{
    *al = calloc(cfg->rules.naliases + 1, sizeof(**al));
    *ph = calloc(cfg->rules.nplaceholders + 1, sizeof(**ph));
    if (!*al || !*ph)
        return TS_E_NOMEM;
    for (size_t i = 0; i < cfg->rules.naliases; i++) {
        (*al)[i].sigma_name = cfg->rules.alias_from[i];
        (*al)[i].event_name = cfg->rules.alias_to[i];
    }
    for (size_t i = 0; i < cfg->rules.nplaceholders; i++) {
        (*ph)[i].name = cfg->rules.placeholders[i].name;
        (*ph)[i].values = (const char *const *)cfg->rules.placeholders[i].values;
        (*ph)[i].nvalues = cfg->rules.placeholders[i].nvalues;
    }
    *lo = (struct rule_load_opts){
        .paths = (const char *const *)cfg->paths.rules, .npaths = cfg->paths.nrules,
        .aliases = *al, .naliases = cfg->rules.naliases,
        .placeholders = *ph, .nplaceholders = cfg->rules.nplaceholders,
    };
    return 0;
}

void rt_norm_args_from(const struct ts_config *cfg, struct rt_norm_args *na)
{
    memset(na, 0, sizeof(*na));
    na->profile_list = (const char *const *)cfg->normalise.profiles;
    na->nprofile_list = cfg->normalise.nprofiles;
    na->decoder_list = (const char *const *)cfg->normalise.decoders;
    na->ndecoder_list = cfg->normalise.ndecoders;
    na->geoip_city = cfg->enrich.geoip_city;
    na->geoip_asn = cfg->enrich.geoip_asn;
    na->assets = cfg->enrich.assets;
    na->intel_db = cfg->enrich.intel_db;
    na->ip_fields = (const char *const *)cfg->enrich.ip_fields;
    na->nip_fields = cfg->enrich.nip_fields;
}

_Static_assert(TS_CFG_INC_OFF == CORR_INC_OFF && TS_CFG_INC_LINK == CORR_INC_LINK &&
                   TS_CFG_INC_OPEN == CORR_INC_OPEN,
               "config incident modes are the engine's");

/* Correlation options from the config; *groups (one block with the rule
 * modes and entities after the groupings: the caller frees it) and the
 * config's strings must outlive co's use. */
int rt_corr_opts_from(const struct ts_config *cfg, struct corr_opts *co,
                          struct corr_grouping **groups)
{
    size_t ng = cfg->correlate.ngroups + 1, nr = cfg->correlate.incidents.nrules,
           ne = cfg->correlate.incidents.nentities;
    *groups = calloc(1, ng * sizeof(struct corr_grouping) + nr * sizeof(struct corr_rule_mode) +
                            ne * sizeof(struct corr_entity));
    if (!*groups)
        return TS_E_NOMEM;
    struct corr_rule_mode *rm = (struct corr_rule_mode *)(void *)(*groups + ng);
    struct corr_entity *en = (struct corr_entity *)(void *)(rm + nr);
    for (size_t i = 0; i < cfg->correlate.ngroups; i++)
        (*groups)[i] = (struct corr_grouping){
            .rule = cfg->correlate.groups[i].rule,
            .group_by = (const char *const *)cfg->correlate.groups[i].by,
            .ngroup_by = cfg->correlate.groups[i].nby,
            .window_ns = cfg->correlate.groups[i].window_ns,
        };
    for (size_t i = 0; i < nr; i++) /* TS_CFG_INC_* are enum corr_incident_mode's values */
        rm[i] = (struct corr_rule_mode){cfg->correlate.incidents.rules[i].rule,
                                        cfg->correlate.incidents.rules[i].mode};
    for (size_t i = 0; i < ne; i++)
        en[i] = (struct corr_entity){cfg->correlate.incidents.entities[i].name,
                                     (const char *const *)cfg->correlate.incidents.entities[i].fields,
                                     cfg->correlate.incidents.entities[i].nfields};
    *co = (struct corr_opts){.lateness_ns = cfg->correlate.lateness_ns,
                             .groupings = *groups,
                             .ngroupings = cfg->correlate.ngroups,
                             .rule_modes = rm,
                             .nrule_modes = nr,
                             .link_window_ns = cfg->correlate.incidents.window_ns,
                             .entities = ne ? en : NULL,
                             .nentities = ne};
    memcpy(co->level_modes, cfg->correlate.incidents.levels, sizeof(co->level_modes));
    return 0;
}

/* ------------------------------------------------------------- upkeep */

static void log_stats(struct ingest_kafka *k, const char *when, int64_t silent_after_ns)
{
    struct ingest_stats st;
    ingest_kafka_stats(k, &st);
    struct ingest_health_summary hs;
    ingest_kafka_health(k, silent_after_ns, &hs);
    ts_info("%s: hosts %llu: %llu with a likely zone mismatch, %llu silent, events with "
            "clamped times %llu, with parse warnings %llu",
            when, (unsigned long long)hs.hosts, (unsigned long long)hs.zone_mismatches,
            (unsigned long long)hs.silent, (unsigned long long)hs.clamped,
            (unsigned long long)hs.warnings);
    ts_info("%s: consumed %llu, parsed %llu, dead letters %llu (tenant refused %llu, at a "
            "limit %llu), clamped times %llu, no decoder %llu, decoder regex cut short %llu, "
            "warnings %llu, batches %llu, commits %llu, pauses %llu, rebalances %llu",
            when, (unsigned long long)st.consumed, (unsigned long long)st.parsed,
            (unsigned long long)st.dead_letters, (unsigned long long)st.tenant_refused,
            (unsigned long long)st.limit_refused, (unsigned long long)st.clamped,
            (unsigned long long)st.no_decoder, (unsigned long long)st.regex_cut,
            (unsigned long long)st.warnings,
            (unsigned long long)st.batches, (unsigned long long)st.commits,
            (unsigned long long)st.pauses, (unsigned long long)st.rebalances);
}

/* The distributed mode's hop: records produced by stage A, consumed by
 * stage B, and those stage B could not feed. */
static void log_dist(struct rt_run *r, const char *when)
{
    struct ingest_stats st;
    ingest_kafka_stats(r->kb, &st);
    ts_info("%s: re-keyed %llu detection record(s) to %s; correlation stage consumed %llu, "
            "batches %llu, rebalances %llu, records it could not feed %llu",
            when, (unsigned long long)atomic_load(&r->rekey.records), r->dist_topic,
            (unsigned long long)st.consumed, (unsigned long long)st.batches,
            (unsigned long long)st.rebalances, (unsigned long long)atomic_load(&r->rekey_bad));
    struct rt_dist_stats ds;
    rt_run_dist_stats(r, &ds);
    const struct rt_incmat_stats ms = ds.mat;
    uint64_t cl = ds.changelog_records, ir = ds.inc_records, rs = ds.restores,
             rr = ds.restored_records;
    double rsec = (double)ds.restore_ns / 1e9;
    ts_info("%s: state changelog records %llu, partitions restored %llu (%llu record(s), "
            "%.3f s); incident records published %llu; incidents topic: %llu incident "
            "change(s), %llu evidence, %llu retracted, %llu orphan evidence, %llu bad, %llu "
            "escalation entr(ies) queued, status changes %llu applied %llu refused %llu "
            "waiting for their incident",
            when, (unsigned long long)cl, (unsigned long long)rs, (unsigned long long)rr, rsec,
            (unsigned long long)ir, (unsigned long long)ms.incidents,
            (unsigned long long)ms.evidence, (unsigned long long)ms.deleted,
            (unsigned long long)ms.orphans, (unsigned long long)ms.bad,
            (unsigned long long)ms.queued, (unsigned long long)ms.status_applied,
            (unsigned long long)ms.status_refused, (unsigned long long)ms.status_waiting);
}

void rt_run_dist_stats(struct rt_run *r, struct rt_dist_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!r->dist)
        return;
    out->rekeyed = atomic_load(&r->rekey.records);
    out->unfed = atomic_load(&r->rekey_bad);
    if (r->kb) {
        struct ingest_stats st;
        ingest_kafka_stats(r->kb, &st);
        out->consumed = st.consumed;
    }
    out->mat = r->incmat_final;
    if (r->incmat)
        rt_incmat_stats(r->incmat, &out->mat);
    out->retention_removed = atomic_load(&r->inc_retained);
    struct rt_dist *d = r->distb;
    if (!d)
        return;
    pthread_mutex_lock(&r->corr.mu);
    out->changelog_records = d->changelog_records;
    out->inc_records = d->inc_records;
    out->restores = d->restores;
    out->restored_records = d->restored_records;
    out->restore_ns = d->restore_ns;
    out->imported_keys = d->imported_keys;
    pthread_mutex_unlock(&r->corr.mu);
}

static bool owns_inc_part(void *ctx, int32_t p)
{
    struct rt_run *r = ctx;
    struct rt_dist *d = r->distb;
    if (!d || d->nparts <= 0)
        return false;
    pthread_mutex_lock(&r->corr.mu);
    bool own = d->owner[p % d->nparts] >= 0;
    pthread_mutex_unlock(&r->corr.mu);
    return own;
}

/* The distributed mode: resolved incidents leave through the incidents
 * topic (tombstones published by the owner of their partition, applied by
 * every node), never from one store alone; the local pass below keeps
 * them (resolved_keep 0) and ages evidence and outbox entries only. */
static void dist_retention(struct rt_run *r, struct store_retention_rule *rules, size_t n)
{
    const struct ts_config *cfg = r->cfg;
    struct ingest_kafka_opts ko = {.brokers = cfg->kafka.brokers,
                                   .props = (const char *const *)cfg->kafka.props,
                                   .nprops = cfg->kafka.nprops};
    struct rt_inc_retention_opts o = {.rules = rules, .nrules = n, .now_ns = ts_now_ns(),
                                      .ko = &ko, .topic = r->dist_inc, .nparts = r->dist_ninc,
                                      .owns = owns_inc_part, .owns_ctx = r};
    uint64_t removed = 0;
    struct ts_err err = {0};
    int rc = rt_inc_retention(r->corr.st, &o, &removed, &err);
    if (rc)
        ts_warn("retention: resolved incidents not removed this round (%s)",
                err.code ? err.msg : ts_strerror(rc));
    else if (removed)
        ts_info("retention: %llu resolved incident(s) removed through %s (every node deletes "
                "them as it reads the tombstones)", (unsigned long long)removed, r->dist_inc);
    atomic_fetch_add(&r->inc_retained, removed);
    for (size_t i = 0; i < n; i++)
        rules[i].resolved_keep_ns = 0;
}

/* Retention per the config, in bounded transactions (batch commits go on
 * in between). */
static void run_retention(struct rt_run *r)
{
    const struct ts_config *cfg = r->cfg;
    struct store_retention_rule *rules = calloc(cfg->retention.ntenants + 1, sizeof(*rules));
    if (!rules)
        return;
    rules[0] = (struct store_retention_rule){NULL, cfg->retention.evidence_ns,
                                             cfg->retention.resolved_ns};
    for (size_t i = 0; i < cfg->retention.ntenants; i++)
        rules[i + 1] = (struct store_retention_rule){cfg->retention.tenants[i].tenant,
                                                     cfg->retention.tenants[i].evidence_ns,
                                                     cfg->retention.tenants[i].resolved_ns};
    size_t nrules = cfg->retention.ntenants + 1;
    if (r->kb)
        dist_retention(r, rules, nrules);
    struct store_retention_opts ro = {.rules = rules, .nrules = nrules,
                                      .batch_max = 1000,
                                      .outbox_keep_ns = cfg->retention.outbox_ns};
    struct store_retention_stats st = {0};
    struct ts_err err = {0};
    int rc = store_retention_run(r->corr.st, &ro, &st, &err);
    if (rc)
        ts_warn("retention: %s", err.code ? err.msg : store_strerror(rc));
    else if (st.incidents || st.evidence || st.outbox)
        ts_info("retention: deleted %llu resolved incident(s), %llu evidence record(s), %llu "
                "outbox entr(ies) in %llu transaction(s)",
                (unsigned long long)st.incidents, (unsigned long long)st.evidence,
                (unsigned long long)st.outbox, (unsigned long long)st.txns);
    free(rules);
}

/* Re-read the config, rebuild normalisation and rules, swap them in.
 * Whatever fails to build leaves the running one in force. Serialised
 * (SIGHUP on the upkeep thread, HTTP on a request thread). res: what
 * happened, for the HTTP answer. */
int rt_run_reload_now(struct rt_run *r, const char *by, struct rt_reload_result *res)
{
    memset(res, 0, sizeof(*res));
    pthread_mutex_lock(&r->reload_mu);
    struct ts_err err = {0};
    struct ts_config *cfg = NULL;
    char msg[1024];
    if (by)
        ts_info("reload (%s): reading %s", by, r->o.config_path);
    else
        ts_info("reload: reading %s", r->o.config_path);
    if (ts_config_load(r->o.config_path, &cfg, &err)) {
        ts_err_format(&err, msg, sizeof(msg));
        ts_error("reload failed, nothing changed: %s", msg);
        snprintf(res->reason, sizeof(res->reason), "config: %.700s", msg);
        res->rc = TS_E_CONFIG;
        goto done;
    }
    res->config_read = true;
    struct rt_norm_args na;
    rt_norm_args_from(cfg, &na);
    struct norm_set *norm = NULL;
    if (rt_norm_build(&na, &norm) == 0) {
        ingest_kafka_set_norm(r->k, norm); /* the source takes its own reference */
        pthread_mutex_lock(&r->norm_mu);
        struct norm_set *old = r->norm;
        r->norm = norm; /* ours (rule tests) */
        pthread_mutex_unlock(&r->norm_mu);
        norm_set_free(old);
        ts_info("reload: decoders, profiles and enrichment swapped in");
        res->norm_swapped = true;
    } else {
        ts_error("reload: normalisation not rebuilt; the previous one stays in force");
        snprintf(res->reason, sizeof(res->reason),
                 "normalisation not rebuilt (the server's log says why); the previous one "
                 "stays in force");
        res->rc = TS_E_CONFIG;
    }
    if (r->det_open && cfg->paths.nrules) {
        struct rule_load_opts lo;
        struct rule_field_alias *al = NULL;
        struct rule_placeholder *ph = NULL;
        struct corr_grouping *groups = NULL;
        struct corr_opts co;
        struct ts_err rerr = {0};
        int rrc = rt_rule_opts_from(cfg, &lo, &al, &ph);
        rrc = rrc ? rrc : rt_corr_opts_from(cfg, &co, &groups);
        rrc = rrc ? rrc : rt_det_reload(&r->det, &lo, &co, &rerr);
        if (rrc == 0) {
            ts_info("reload: rules swapped in");
            res->rules_swapped = true;
        } else {
            if (!res->rc)
                res->rc = rrc;
            if (rerr.code)
                ts_err_format(&rerr, msg, sizeof(msg));
            else
                snprintf(msg, sizeof(msg), "%s", ts_strerror(rrc));
            if (!res->reason[0])
                snprintf(res->reason, sizeof(res->reason), "rules not reloaded: %.700s", msg);
        }
        free(groups);
        free(al);
        free(ph);
    }
    ts_config_free(cfg);
done:
    atomic_fetch_add(res->rc ? &r->m.reloads_failed : &r->m.reloads_ok, 1);
    pthread_mutex_unlock(&r->reload_mu);
    if (r->o.on_reload && res->config_read)
        r->o.on_reload(r->o.on_reload_ctx);
    return res->rc;
}

/* Stage B's source until it is stopped; a failure stops stage A too. */
static void *stage_b_main(void *p)
{
    struct rt_run *r = p;
    r->brc = ingest_kafka_run(r->kb, &r->berr);
    if (r->brc)
        ingest_kafka_stop(r->k);
    return NULL;
}

/* a step of the wall clock larger than this (against the monotonic clock,
 * between two upkeep rounds) is logged */
#define CLOCK_JUMP_NS (2 * TS_NS_PER_SEC)
/* glibc keeps what a thread freed in that thread's arena: a peak (a fold
 * of a killed process's journal at start, a burst of evidence) stayed
 * resident - a soak's run held 49 MB of an arena with 1.7 MB in use. The
 * free pages are given back this often. */
#define TRIM_EVERY_NS (60 * TS_NS_PER_SEC)

static void *upkeep_main(void *p)
{
    struct rt_run *r = p;
    const struct ts_config *cfg = r->cfg;
    int interval = r->o.stats_interval;
    int64_t next = ts_mono_ns() + (int64_t)interval * TS_NS_PER_SEC;
    struct store *store = r->corr_open ? r->corr.st : NULL;
    int64_t ret_every = cfg->retention.interval_ns;
    int64_t next_ret = ts_mono_ns() + ret_every;
    int64_t next_sum = ts_mono_ns(); /* the scheduled summary: looked at once a minute */
    int64_t skew = ts_now_ns() - ts_mono_ns(); /* wall clock against the monotonic one */
    int64_t next_trim = ts_mono_ns() + TRIM_EVERY_NS / 4;
    while (!atomic_load(&r->stop)) {
        int64_t sk = ts_now_ns() - ts_mono_ns();
        if (sk - skew > CLOCK_JUMP_NS || skew - sk > CLOCK_JUMP_NS)
            ts_warn("run: the system clock jumped %s by %lld s: correlation windows are on "
                    "event time and do not move; ingest times, the max_future guard (an event "
                    "dated more than ingest.max_future ahead of the clock is clamped to it), "
                    "escalation deadlines and retention follow the new clock",
                    sk > skew ? "forward" : "back",
                    (long long)(((sk > skew ? sk - skew : skew - sk) + TS_NS_PER_SEC / 2) /
                                TS_NS_PER_SEC));
        skew = sk;
        if (r->corr_open) /* the incident journal is folded even when input pauses */
            rt_corr_tick(&r->corr);
        if (store && r->esc_open && cfg->escalate.summary && ts_mono_ns() >= next_sum) {
            bool queued = false;
            struct ts_err err = {0};
            if (rt_summary_queue(store, &r->esc.env, cfg->escalate.summary, ts_now_ns(),
                                 7 * 3600, &queued, &err) != 0)
                ts_warn("summary: %s", err.msg);
            else if (queued) {
                ts_info("summary: the %s report of the last %s queued for delivery",
                        cfg->escalate.summary, cfg->escalate.summary);
                if (r->dispatcher)
                    esc_dispatcher_kick(r->dispatcher);
            }
            next_sum = ts_mono_ns() + 60 * TS_NS_PER_SEC;
        }
        if (store && ret_every > 0 && ts_mono_ns() >= next_ret) {
            run_retention(r);
            next_ret = ts_mono_ns() + ret_every;
        }
#ifdef __GLIBC__
        if (ts_mono_ns() >= next_trim) {
            malloc_trim(0);
            next_trim = ts_mono_ns() + TRIM_EVERY_NS;
        }
#endif
        struct timespec t = {0, 200 * 1000000L};
        nanosleep(&t, NULL);
        if (atomic_exchange(&r->reload, 0)) {
            struct rt_reload_result res;
            (void)rt_run_reload_now(r, NULL, &res);
        }
        if (interval > 0 && ts_mono_ns() >= next) {
            log_stats(r->k, "run", cfg->ingest.silent_after_ns);
            if (r->kb)
                log_dist(r, "run");
            char line[512];
            if (r->corr_open && rt_corr_dropped(&r->corr, line, sizeof(line)))
                ts_warn("run: %s", line);
            uint64_t rl = 0, rtl = 0;
            if (r->det_open)
                rt_det_re_stats(&r->det, &rl, &rtl);
            if (rl)
                ts_warn("run: %llu Sigma regex search(es) cut short by the PCRE2 limits (%llu "
                        "over the length window): treated as not matching (docs/rules.md)",
                        (unsigned long long)rl, (unsigned long long)rtl);
            next += (int64_t)interval * TS_NS_PER_SEC;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ life */

static int open_detections(struct rt_run *r, FILE *out)
{
    struct rule_load_opts lo;
    struct rule_field_alias *al = NULL;
    struct rule_placeholder *ph = NULL;
    int rc = rt_rule_opts_from(r->cfg, &lo, &al, &ph);
    if (!rc)
        rc = rt_det_open(&r->det, &lo, r->cfg->kafka.workers, out, false);
    if (!rc && r->det.invalid_rules && !r->cfg->rules.skip_invalid) {
        /* a rule the analyst meant to run is not left out silently */
        fprintf(stderr, "tocsin run: %zu invalid rule%s (listed above): fix %s, or set "
                        "rules: {skip_invalid: true} to start without %s\n",
                r->det.invalid_rules, r->det.invalid_rules == 1 ? "" : "s",
                r->det.invalid_rules == 1 ? "it" : "them",
                r->det.invalid_rules == 1 ? "it" : "them");
        rc = TS_E_CONFIG;
    }
    free(al);
    free(ph);
    return rc;
}

/* Correlation and storage, and escalation when configured. TS_E_CONFIG
 * for what the user must fix (printed, or in err). */
static int open_correlation(struct rt_run *r, FILE *out, struct ts_err *err)
{
    const struct ts_config *cfg = r->cfg;
    /* with paths.data_dir the state, the incidents and the input offsets
     * live in LMDB and the consumer seeks to them */
    struct corr_grouping *groups = NULL;
    struct corr_opts co;
    if (rt_corr_opts_from(cfg, &co, &groups))
        return TS_E_NOMEM;
    int rc = rt_corr_open(&r->corr, r->det.rs, &co, cfg->paths.data_dir, cfg->kafka.workers,
                          out, false);
    free(groups);
    r->corr_open = true; /* closed by destroy, also after a failed open */
    if (rc)
        return TS_E_CONFIG;
    /* workers of one store: the one that lost its partitions must not count
     * what the one that got them counted (the distributed mode's stage B is
     * fenced by its Kafka transactions) */
    r->corr.fence = !cfg->correlate.distributed;
    /* one LMDB transaction per commit_batches batches or commit_interval_ms
     * (the Kafka offsets after it): a commit per batch was ~10 % of run's
     * CPU. Stage B (distributed) commits per Kafka transaction. */
    if (!cfg->correlate.distributed && cfg->kafka.commit_batches > 1) {
        r->corr.commit_batches = cfg->kafka.commit_batches;
        r->corr.commit_ns = (int64_t)cfg->kafka.commit_interval_ms * 1000000;
        r->corr.report_held = true;
    }
    if (r->corr.invalid_rules && !cfg->rules.skip_invalid) {
        fprintf(stderr, "tocsin run: %zu invalid correlation rule%s (listed above): fix or "
                        "remove, or set rules: {skip_invalid: true} to start without\n",
                r->corr.invalid_rules, r->corr.invalid_rules == 1 ? "" : "s");
        return TS_E_CONFIG;
    }
    r->det.corr = &r->corr;
    if (!cfg->escalate.enabled)
        return 0;
    if (!cfg->paths.data_dir)
        return ts_err_set(err, TS_E_CONFIG, r->o.config_path, 0, 0,
                          "escalate needs paths.data_dir (the outbox lives in LMDB)");
    if (rt_esc_open(&r->esc, cfg->escalate.regime, cfg->escalate.regimes_dir,
                    cfg->escalate.taxonomy, cfg->escalate.policy, cfg->escalate.org,
                    cfg->escalate.assets))
        return TS_E_CONFIG;
    r->esc_open = true;
    r->corr.esc = &r->esc.env;
    if (!cfg->escalate.channels)
        return 0;
    /* the file's settings; its first thread also queues the due reports
     * (the policy's auto_send) */
    struct esc_dispatch_opts dopts = {.due_env = &r->esc.env};
    if (esc_channels_load(cfg->escalate.channels, &r->channels, err) ||
        esc_dispatcher_start(&r->dispatcher, r->corr.st, r->channels, &dopts, err))
        return TS_E_CONFIG;
    ts_info("escalation: dispatcher started (%zu channel(s))", esc_channels_count(r->channels));
    r->corr.dispatcher = r->dispatcher;
    return 0;
}

static int make_source(struct rt_run *r, struct ts_err *err)
{
    const struct ts_config *cfg = r->cfg;
    r->topics = calloc(cfg->ntopics, sizeof(*r->topics));
    r->hzones = calloc(cfg->ingest.nhosts + 1, sizeof(*r->hzones));
    if (!r->topics || !r->hzones)
        return TS_E_NOMEM;
    for (size_t i = 0; i < cfg->ingest.nhosts; i++)
        r->hzones[i] = (struct ingest_host_zone){cfg->ingest.hosts[i].pattern,
                                                 cfg->ingest.hosts[i].tz};
    for (size_t i = 0; i < cfg->ntopics; i++) {
        const struct ts_config_topic *t = &cfg->topics[i];
        struct ingest_topic *it = &r->topics[i];
        it->name = t->name;
        it->tenant = t->tenant ? t->tenant : cfg->ingest.default_tenant;
        it->dlq_topic = t->dead_letter;
        it->tenants = (const char *const *)t->tenants;
        it->ntenants = t->ntenants;
        it->any_tenant = t->any_tenant;
        it->tz = t->tz;
        if (ingest_format_parse(t->format ? t->format : "auto", &it->format))
            return ts_err_set(err, TS_E_CONFIG, r->o.config_path, t->line, t->col,
                              "unknown format \"%s\"", t->format);
    }
    return 0;
}

static int make_kafka(struct rt_run *r, struct ts_err *err)
{
    const struct ts_config *cfg = r->cfg;
    struct ingest_kafka_opts ko = {
        .brokers = cfg->kafka.brokers,
        .group_id = cfg->kafka.group_id,
        .topics = r->topics,
        .ntopics = cfg->ntopics,
        .props = (const char *const *)cfg->kafka.props,
        .nprops = cfg->kafka.nprops,
        .workers = cfg->kafka.workers,
        .batch_max = cfg->kafka.batch_size,
        .batch_timeout_ms = cfg->kafka.batch_timeout_ms,
        .queue_batches = cfg->kafka.queue_batches,
        .parse = {.tz_offset_sec = cfg->ingest.tz_offset_sec,
                  .tz = cfg->ingest.tz,
                  .hosts = r->hzones,
                  .nhosts = cfg->ingest.nhosts,
                  .max_msg_bytes = cfg->ingest.max_message_bytes,
                  .max_future_ns = cfg->ingest.max_future_ns},
        .sink = {.ctx = r, .process = run_process, .commit = run_commit, .flush = run_flush,
                 .seek = run_seek},
        .norm = r->norm,
        .txn_id = r->dist ? r->dist_txn : NULL,
        .instance_id = r->dist ? r->dist_node : NULL,
    };
    int rc = ingest_kafka_create(&r->k, &ko, err);
    if (rc || !r->dist)
        return rc;
    /* stage B: the internal topic, read_committed, into correlation; its
     * state to the compacted changelog (same partition count) and LMDB */
    int parts = cfg->correlate.partitions ? cfg->correlate.partitions : RT_DIST_PARTITIONS;
    int32_t nparts = 0, nstate = 0;
    if ((rc = ingest_kafka_topic_ensure(&ko, r->dist_topic, parts, false, &nparts, err)) != 0 ||
        (rc = ingest_kafka_topic_ensure(&ko, r->dist_state, nparts, true, &nstate, err)) != 0)
        return rc;
    int32_t ninc = 0;
    if ((rc = ingest_kafka_topic_ensure(&ko, r->dist_inc, nparts, true, &ninc, err)) != 0)
        return rc;
    if (nstate != nparts)
        return ts_err_set(err, TS_E_CONFIG, r->o.config_path, 0, 0,
                          "the changelog topic %s has %d partition(s), the internal topic %s "
                          "%d: they must be equal (delete the changelog with the internal "
                          "topic's data, or give it as many partitions)",
                          r->dist_state, (int)nstate, r->dist_topic, (int)nparts);
    r->b_in = calloc((size_t)(cfg->kafka.workers > 0 ? cfg->kafka.workers : 1), sizeof(bool));
    if (!r->b_in)
        return TS_E_NOMEM;
    r->btopic = (struct ingest_topic){.name = r->dist_topic};
    struct ingest_kafka_opts kb = ko;
    kb.group_id = r->dist_group;
    kb.topics = &r->btopic;
    kb.ntopics = 1;
    kb.txn_id = r->dist_txnb;
    kb.norm = NULL;
    kb.decode = runb_decode;
    kb.decode_ctx = r;
    /* a record is the raw line and the fields correlation reads */
    size_t mm = cfg->ingest.max_message_bytes ? cfg->ingest.max_message_bytes
                                              : INGEST_DEFAULT_MAX_MSG;
    kb.parse.max_msg_bytes = mm * 2 + 65536;
    kb.sink = (struct ingest_sink){.ctx = r, .process = runb_process, .commit = runb_commit,
                                   .seek = runb_seek, .txn_done = runb_txn_done,
                                   .assigned = runb_assigned, .revoked = runb_revoked};
    if ((rc = rt_dist_open(&r->distb, &r->corr, &kb, r->dist_topic, r->dist_state, nparts)) != 0)
        return rc;
    r->corr.dist = r->distb;
    r->distb->inc_topic = r->dist_inc;
    r->distb->inc_nparts = ninc;
    r->distb->node = r->dist_node;
    r->dist_ninc = ninc;
    long dropped = rt_dist_start(r->distb);
    ts_info("correlate.distributed: state changelog %s (%d partition(s)); %ld key(s) of the "
            "cache wait for their partitions", r->dist_state, (int)nparts, dropped);
    return ingest_kafka_create(&r->kb, &kb, err);
}

/* The distributed mode's names (docs/scale.md): the internal topic
 * ("<group>.correlate" unless correlate.topic), stage B's group
 * ("<group>.correlate"), this process's node name (correlate.node, else
 * "<host>-<hash of the data directory>": stable across restarts, distinct
 * for two processes on one host) and the transactional id prefix
 * "<group>.<node>". And what the mode needs: rules and paths.data_dir. */
static int dist_prepare(struct rt_run *r, struct ts_err *err)
{
    const struct ts_config *cfg = r->cfg;
    const char *g = cfg->kafka.group_id ? cfg->kafka.group_id : "tocsin";
    if (!cfg->paths.nrules || !cfg->paths.data_dir)
        return ts_err_set(err, TS_E_CONFIG, r->o.config_path, cfg->correlate.dist_line,
                          cfg->correlate.dist_col,
                          "correlate.distributed needs paths.rules and paths.data_dir (the "
                          "correlation state, incidents and the internal topic's offsets "
                          "live in LMDB)");
    char node[160];
    if (cfg->correlate.node) {
        snprintf(node, sizeof(node), "%s", cfg->correlate.node);
    } else {
        char host[65] = "", real[PATH_MAX];
        if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
            snprintf(host, sizeof(host), "host");
        for (char *p = host; *p; p++)
            if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-", *p))
                *p = '_';
        const char *dd = realpath(cfg->paths.data_dir, real) ? real : cfg->paths.data_dir;
        uint64_t h = 1469598103934665603ull;
        for (const char *p = dd; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
        snprintf(node, sizeof(node), "%s-%08llx", host, (unsigned long long)(h & 0xffffffffu));
    }
    size_t gl = strlen(g);
    r->dist_topic = cfg->correlate.topic ? strdup(cfg->correlate.topic) : malloc(gl + 11);
    r->dist_group = malloc(gl + 11);
    r->dist_node = strdup(node);
    r->dist_txn = malloc(gl + strlen(node) + 2);
    r->dist_txnb = malloc(gl + strlen(node) + 12);
    if (!r->dist_topic || !r->dist_group || !r->dist_node || !r->dist_txn || !r->dist_txnb)
        return TS_E_NOMEM;
    if (!cfg->correlate.topic)
        snprintf(r->dist_topic, gl + 11, "%s.correlate", g);
    snprintf(r->dist_txnb, gl + strlen(node) + 12, "%s.correlate.%s", g, node);
    size_t tl = strlen(r->dist_topic);
    if (!(r->dist_state = malloc(tl + 7)))
        return TS_E_NOMEM;
    snprintf(r->dist_state, tl + 7, "%s-state", r->dist_topic);
    if (!(r->dist_inc = malloc(gl + 11)))
        return TS_E_NOMEM;
    snprintf(r->dist_inc, gl + 11, "%s.incidents", g);
    snprintf(r->dist_group, gl + 11, "%s.correlate", g);
    snprintf(r->dist_txn, gl + strlen(node) + 2, "%s.%s", g, node);
    if (!strcmp(r->dist_group, g))
        return ts_err_set(err, TS_E_CONFIG, r->o.config_path, 0, 0, "kafka.group_id: bad");
    for (size_t i = 0; i < cfg->ntopics; i++)
        if (!strcmp(cfg->topics[i].name, r->dist_topic))
            return ts_err_set(err, TS_E_CONFIG, r->o.config_path, cfg->topics[i].line,
                              cfg->topics[i].col,
                              "topic %s is the internal topic of correlate.distributed: "
                              "it must not be an input (set correlate.topic to another name)",
                              r->dist_topic);
    struct corr_opts co;
    int rc = rt_corr_opts_from(cfg, &co, &r->rekey_groups);
    rc = rc ? rc : rt_rekey_open(&r->rekey, r->dist_topic, &co, cfg->kafka.workers);
    r->rekey_open = true;
    if (rc)
        return rc;
    r->det.rekey = &r->rekey;
    ts_info("correlate.distributed: detections re-keyed through %s, correlated as group %s; "
            "node %s (transactional ids %s-w<N>)",
            r->dist_topic, r->dist_group, r->dist_node, r->dist_txn);
    return 0;
}

int rt_run_create(struct rt_run **out, const struct rt_run_opts *o, struct ts_err *err)
{
    *out = NULL;
    if (!o || !o->config_path)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "rt_run: no config path");
    struct rt_run *r = calloc(1, sizeof(*r));
    if (!r)
        return TS_E_NOMEM;
    r->o = *o;
    pthread_mutex_init(&r->reload_mu, NULL);
    pthread_mutex_init(&r->norm_mu, NULL);
    rt_metrics_init(r);
    int rc = 0;
    if (o->config) {
        r->cfg = o->config;
    } else if ((rc = ts_config_load(o->config_path, &r->cfg_owned, err)) != 0) {
        rt_run_destroy(r);
        return TS_E_CONFIG;
    } else {
        r->cfg = r->cfg_owned;
    }
    const struct ts_config *cfg = r->cfg;
    FILE *det_out = o->detections_out ? o->detections_out : stdout;
    if (!cfg->ntopics || !cfg->kafka.brokers) {
        rc = ts_err_set(err, TS_E_CONFIG, o->config_path, 0, 0,
                        "`run` needs kafka.brokers and at least one topic");
        goto fail;
    }
    if ((rc = make_source(r, err)) != 0)
        goto fail;
    struct rt_norm_args na;
    rt_norm_args_from(cfg, &na);
    if (rt_norm_build(&na, &r->norm)) {
        rc = TS_E_CONFIG;
        goto fail;
    }
    if (cfg->paths.nrules) {
        rc = open_detections(r, det_out);
        r->det_open = true; /* closed by destroy, also after a failed open */
        if (rc) {
            rc = TS_E_CONFIG;
            goto fail;
        }
        if ((rc = open_correlation(r, det_out, err)) != 0)
            goto fail;
    }
    if (cfg->correlate.distributed) {
        r->dist = true;
        if ((rc = dist_prepare(r, err)) != 0)
            goto fail;
    }
    if (o->events_out) {
        if ((rc = rt_events_out_open(&r->eo, o->events_out)) != 0)
            goto fail;
        r->eo_open = true;
    }
    /* with the correlation fence a batch's output lines wait for its
     * verdict: a batch read again after a rebalance is written once
     * (run_pre_write) */
    if (r->corr_open && r->corr.fence && (r->eo_open || (r->det_open && r->det.out))) {
        size_t nw = (size_t)(cfg->kafka.workers > 0 ? cfg->kafka.workers : 1);
        if (r->eo_open && (rc = rt_events_out_defer(&r->eo, nw)) != 0)
            goto fail;
        if (r->det_open && r->det.out && (rc = rt_pending_create(&r->det.pend, nw)) != 0)
            goto fail;
        r->corr.pre_write = run_pre_write;
        r->corr.pre_write_ctx = r;
    }
    if ((rc = make_kafka(r, err)) != 0)
        goto fail;
    *out = r;
    return 0;
fail:
    rt_run_destroy(r);
    return rc;
}

int rt_run_main(struct rt_run *r, struct ts_err *err)
{
    const struct ts_config *cfg = r->cfg;
    if (atomic_load(&r->stop))
        ingest_kafka_stop(r->k);
    ts_info("run: consuming %zu topic(s) from %s as group %s with %d worker(s)", cfg->ntopics,
            cfg->kafka.brokers, cfg->kafka.group_id, cfg->kafka.workers);
    atomic_store(&r->running, 1);
    pthread_t tid, btid;
    if (r->kb) { /* incidents everywhere: this node's copy of the incidents topic */
        struct ingest_kafka_opts ko = {.brokers = cfg->kafka.brokers,
                                       .props = (const char *const *)cfg->kafka.props,
                                       .nprops = cfg->kafka.nprops};
        struct rt_incmat_opts mo = {.store = r->corr.st, .ko = &ko, .topic = r->dist_inc,
                                    .nparts = r->dist_ninc, .node = r->dist_node,
                                    .esc = r->esc_open ? &r->esc.env : NULL,
                                    .dispatcher = r->dispatcher,
                                    .config_path = r->o.config_path};
        int mrc = rt_incmat_start(&r->incmat, &mo, err);
        if (mrc)
            return mrc;
        ts_info("correlate.distributed: incidents of every node from %s into %s",
                r->dist_inc, cfg->paths.data_dir);
    }
    bool started = pthread_create(&tid, NULL, upkeep_main, r) == 0;
    bool bstarted = r->kb && pthread_create(&btid, NULL, stage_b_main, r) == 0;
    if (r->kb && !bstarted) {
        ts_error("run: cannot start the correlation stage's thread");
        rt_run_stop(r);
    }
    int rc = ingest_kafka_run(r->k, err);
    if (r->kb)
        ingest_kafka_stop(r->kb); /* stage A drained and committed first */
    if (bstarted) {
        pthread_join(btid, NULL);
        if (!rc && r->brc) {
            rc = r->brc;
            *err = r->berr;
        }
    }
    atomic_store(&r->stop, 1);
    atomic_store(&r->running, 0);
    if (started)
        pthread_join(tid, NULL);
    /* reads on to the end: every incident committed so far */
    rt_incmat_stop(r->incmat, &r->incmat_final);
    r->incmat = NULL;
    log_stats(r->k, "run finished", cfg->ingest.silent_after_ns);
    if (r->kb)
        log_dist(r, "run finished");
    char line[512];
    if (r->corr_open && rt_corr_dropped(&r->corr, line, sizeof(line)))
        ts_warn("run finished: %s", line);
    return rc;
}

void rt_run_stop(struct rt_run *r)
{
    if (!r)
        return;
    atomic_store(&r->stop, 1);
    if (r->k)
        ingest_kafka_stop(r->k); /* an atomic store: async-signal-safe */
    if (r->kb)
        ingest_kafka_stop(r->kb);
}

void rt_run_reload(struct rt_run *r)
{
    if (r)
        atomic_store(&r->reload, 1);
}

struct norm_set *rt_run_norm_ref(struct rt_run *r)
{
    pthread_mutex_lock(&r->norm_mu);
    struct norm_set *n = norm_set_ref(r->norm);
    pthread_mutex_unlock(&r->norm_mu);
    return n;
}

struct store *rt_run_store(const struct rt_run *r)
{
    return r->corr_open ? r->corr.st : NULL;
}

const struct esc_env *rt_run_esc_env(const struct rt_run *r)
{
    return r->esc_open ? &r->esc.env : NULL;
}

void rt_run_destroy(struct rt_run *r)
{
    if (!r)
        return;
    ingest_kafka_destroy(r->k);
    ingest_kafka_destroy(r->kb);
    if (r->rekey_open)
        rt_rekey_close(&r->rekey);
    free(r->rekey_groups);
    free(r->dist_topic);
    free(r->dist_group);
    free(r->dist_node);
    free(r->dist_txn);
    free(r->dist_txnb);
    free(r->dist_state);
    free(r->dist_inc);
    free(r->b_in);
    if (r->corr_open)
        r->corr.dist = NULL;
    rt_dist_close(r->distb);
    if (r->eo_open)
        rt_events_out_close(&r->eo);
    if (r->dispatcher) {
        if (r->corr_open)
            r->corr.dispatcher = NULL;
        /* the counters before the stop, which frees the dispatcher (cmd_run
         * read them after it: a use after free) */
        struct esc_dispatch_stats ds;
        esc_dispatcher_stats(r->dispatcher, &ds);
        esc_dispatcher_stop(r->dispatcher); /* before the store closes */
        ts_info("escalation: %llu delivered, %llu retried, %llu failed",
                (unsigned long long)ds.delivered, (unsigned long long)ds.retried,
                (unsigned long long)ds.failed);
    }
    if (r->corr_open)
        rt_corr_close(&r->corr);
    esc_channels_free(r->channels);
    if (r->esc_open)
        rt_esc_close(&r->esc);
    if (r->det_open)
        rt_det_close(&r->det);
    norm_set_free(r->norm);
    free(r->topics);
    free(r->hzones);
    rt_metrics_free(r);
    ts_config_free(r->cfg_owned);
    pthread_mutex_destroy(&r->reload_mu);
    pthread_mutex_destroy(&r->norm_mu);
    free(r);
}
