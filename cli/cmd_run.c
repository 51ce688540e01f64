/* cmd_run.c - `tocsin run -c FILE`: consume the configured Kafka topics with
 * the consumer-group workers and run the pipeline. SIGINT/SIGTERM drain,
 * commit and exit 0. */
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/config.h"
#include "../core/log.h"
#include "../core/tstime.h"
#include "cli.h"
#include "cli_int.h"

static const char run_usage[] =
    "usage: tocsin run -c FILE [options]\n"
    "Consume the Kafka topics of the config and run the pipeline until SIGINT/SIGTERM.\n"
    "options:\n"
    "  -c, --config FILE       the YAML config (required)\n"
    "  -o, --events-out FILE   write every processed event as a JSON line (durable before\n"
    "                          its offset is committed)\n"
    "  -d, --detections-out FILE  where detections go as JSON lines (default: stdout)\n"
    "      --stats-interval S  log counters every S seconds (default 30, 0 = never)\n"
    "SIGHUP re-reads the config and swaps in new rules (correlation state carried\n"
    "over from LMDB), decoders, profiles and\n"
    "enrichment; what fails to build leaves the running version in force.\n";

struct count_ctx {
    struct events_out *eo;
    struct detections *det;
    struct corr_stage *corr;
};

static int run_process(void *ctx, struct ingest_batch *b)
{
    struct count_ctx *c = ctx;
    if (c->corr) /* until the end of run_commit: a reload waits for it */
        corr_stage_batch_enter(c->corr);
    int rc = c->det ? detections_process(c->det, b) : 0;
    rc = rc ? rc : c->eo ? events_out_process(c->eo, b) : 0;
    if (rc && c->corr)
        corr_stage_batch_leave(c->corr);
    return rc;
}

/* The commit point: what the batch produced is durable before its offsets
 * are committed (storage's LMDB transaction will take this place). */
static int run_commit(void *ctx, const struct ingest_batch *b)
{
    struct count_ctx *c = ctx;
    int rc = c->det ? detections_flush(c->det) : 0;
    if (!rc && c->eo)
        rc = events_out_commit(c->eo, b);
    /* last: the LMDB transaction with state, incidents and these offsets */
    rc = rc ? rc : c->corr ? corr_stage_commit(c->corr, b) : 0;
    if (c->corr)
        corr_stage_batch_leave(c->corr);
    return rc;
}

static int run_seek(void *ctx, const char *topic, int32_t partition, int64_t *offset)
{
    struct count_ctx *c = ctx;
    return c->corr ? corr_stage_seek(c->corr, topic, partition, offset) : TS_E_NOTFOUND;
}

/* Rule load options from paths.rules, field aliases and placeholders; the
 * arrays in *al / *ph are the caller's to free (strings stay in cfg). */
static int rule_opts_from(const struct ts_config *cfg, struct rule_load_opts *lo,
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

static int open_detections(const struct ts_config *cfg, struct detections *det, FILE *out)
{
    struct rule_load_opts lo;
    struct rule_field_alias *al = NULL;
    struct rule_placeholder *ph = NULL;
    int rc = rule_opts_from(cfg, &lo, &al, &ph);
    if (!rc)
        rc = detections_open(det, &lo, cfg->kafka.workers, out, false);
    free(al);
    free(ph);
    return rc;
}

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
    ts_info("%s: consumed %llu, parsed %llu, dead letters %llu (tenant refused %llu), "
            "clamped times %llu, warnings %llu, batches %llu, commits %llu, pauses %llu, "
            "rebalances %llu",
            when, (unsigned long long)st.consumed, (unsigned long long)st.parsed,
            (unsigned long long)st.dead_letters, (unsigned long long)st.tenant_refused,
            (unsigned long long)st.clamped, (unsigned long long)st.warnings,
            (unsigned long long)st.batches, (unsigned long long)st.commits,
            (unsigned long long)st.pauses, (unsigned long long)st.rebalances);
}

struct stats_thread_arg {
    struct ingest_kafka *k;
    int interval;
    const char *cfg_path;
    struct detections *det; /* NULL without rules */
    struct store *store;    /* NULL without paths.data_dir */
    const struct ts_config *cfg;
    struct corr_stage *corr; /* NULL without rules */
};

/* Retention per the config, in bounded transactions (batch commits go on
 * in between). */
static void run_retention(struct stats_thread_arg *a)
{
    const struct ts_config *cfg = a->cfg;
    struct store_retention_rule *rules = calloc(cfg->retention.ntenants + 1, sizeof(*rules));
    if (!rules)
        return;
    rules[0] = (struct store_retention_rule){NULL, cfg->retention.evidence_ns,
                                             cfg->retention.resolved_ns};
    for (size_t i = 0; i < cfg->retention.ntenants; i++)
        rules[i + 1] = (struct store_retention_rule){cfg->retention.tenants[i].tenant,
                                                     cfg->retention.tenants[i].evidence_ns,
                                                     cfg->retention.tenants[i].resolved_ns};
    struct store_retention_opts ro = {.rules = rules, .nrules = cfg->retention.ntenants + 1,
                                      .batch_max = 1000,
                                      .outbox_keep_ns = cfg->retention.outbox_ns};
    struct store_retention_stats st = {0};
    struct ts_err err = {0};
    int rc = store_retention_run(a->store, &ro, &st, &err);
    if (rc)
        ts_warn("retention: %s", err.code ? err.msg : store_strerror(rc));
    else if (st.incidents || st.evidence || st.outbox)
        ts_info("retention: deleted %llu resolved incident(s), %llu evidence record(s), %llu "
                "outbox entr(ies) in %llu transaction(s)",
                (unsigned long long)st.incidents, (unsigned long long)st.evidence,
                (unsigned long long)st.outbox, (unsigned long long)st.txns);
    free(rules);
}

static void norm_args_from(const struct ts_config *cfg, struct cli_norm_args *na)
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

static int rule_opts_from(const struct ts_config *cfg, struct rule_load_opts *lo,
                          struct rule_field_alias **al, struct rule_placeholder **ph);

_Static_assert(TS_CFG_INC_OFF == CORR_INC_OFF && TS_CFG_INC_LINK == CORR_INC_LINK &&
                   TS_CFG_INC_OPEN == CORR_INC_OPEN,
               "config incident modes are the engine's");

/* Correlation options from the config; *groups (one block with the rule
 * modes and entities after the groupings: the caller frees it) and the
 * config's strings must outlive co's use. */
static int corr_opts_from(const struct ts_config *cfg, struct corr_opts *co,
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

/* SIGHUP: re-read the config, rebuild normalisation and rules, swap them in.
 * Whatever fails to build leaves the running one in force. */
static void do_reload(struct stats_thread_arg *a)
{
    struct ts_err err = {0};
    struct ts_config *cfg = NULL;
    char msg[1024];
    ts_info("reload: reading %s", a->cfg_path);
    if (ts_config_load(a->cfg_path, &cfg, &err)) {
        ts_err_format(&err, msg, sizeof(msg));
        ts_error("reload failed, nothing changed: %s", msg);
        return;
    }
    struct cli_norm_args na;
    norm_args_from(cfg, &na);
    struct ingest_norm *norm = NULL;
    if (cli_norm_build(&na, &norm) == 0) {
        ingest_kafka_set_norm(a->k, norm);
        ingest_norm_free(norm); /* the source holds its own reference */
        ts_info("reload: decoders, profiles and enrichment swapped in");
    } else {
        ts_error("reload: normalisation not rebuilt; the previous one stays in force");
    }
    if (a->det && cfg->paths.nrules) {
        struct rule_load_opts lo;
        struct rule_field_alias *al = NULL;
        struct rule_placeholder *ph = NULL;
        struct corr_grouping *groups = NULL;
        struct corr_opts co;
        if (rule_opts_from(cfg, &lo, &al, &ph) == 0 && corr_opts_from(cfg, &co, &groups) == 0 &&
            detections_reload(a->det, &lo, &co) == 0)
            ts_info("reload: rules swapped in");
        free(groups);
        free(al);
        free(ph);
    }
    ts_config_free(cfg);
}

static void *stats_main(void *p)
{
    struct stats_thread_arg *a = p;
    int64_t next = ts_mono_ns() + (int64_t)a->interval * TS_NS_PER_SEC;
    int64_t ret_every = a->cfg ? a->cfg->retention.interval_ns : 0;
    int64_t next_ret = ts_mono_ns() + ret_every;
    while (!ts_rt.stop) {
        if (a->corr) /* the incident journal is folded even when input pauses */
            corr_stage_tick(a->corr);
        if (a->store && ret_every > 0 && ts_mono_ns() >= next_ret) {
            run_retention(a);
            next_ret = ts_mono_ns() + ret_every;
        }
        struct timespec t = {0, 200 * 1000000L};
        nanosleep(&t, NULL);
        if (ts_rt.reload) {
            ts_rt.reload = 0;
            do_reload(a);
        }
        if (a->interval > 0 && ts_mono_ns() >= next) {
            log_stats(a->k, "run", a->cfg ? a->cfg->ingest.silent_after_ns : 0);
            char line[512];
            if (a->corr && corr_stage_dropped(a->corr, line, sizeof(line)))
                ts_warn("run: %s", line);
            uint64_t rl = 0, rt = 0;
            if (a->det)
                detections_re_stats(a->det, &rl, &rt);
            if (rl)
                ts_warn("run: %llu Sigma regex search(es) cut short by the PCRE2 limits (%llu "
                        "over the length window): treated as not matching (docs/rules.md)",
                        (unsigned long long)rl, (unsigned long long)rt);
            next += (int64_t)a->interval * TS_NS_PER_SEC;
        }
    }
    return NULL;
}

int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"events-out", required_argument, NULL, 'o'},
        {"detections-out", required_argument, NULL, 'd'},
        {"stats-interval", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cfg_path = NULL, *events_path = NULL, *det_path = NULL;
    int interval = 30;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "c:o:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            det_path = optarg;
            break;
        case 'c':
            cfg_path = optarg;
            break;
        case 'o':
            events_path = optarg;
            break;
        case 's':
            interval = atoi(optarg);
            break;
        case 'h':
            fputs(run_usage, stdout);
            return 0;
        default:
            fputs(run_usage, stderr);
            return 2;
        }
    }
    if (!cfg_path || optind != argc) {
        fputs(run_usage, stderr);
        return 2;
    }
    struct ts_err err = {0};
    struct ts_config *cfg = NULL;
    char msg[1024];
    if (ts_config_load(cfg_path, &cfg, &err)) {
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin: %s\n", msg);
        return 2;
    }
    if (cfg->log.level) {
        static const char *const lv[] = {"error", "warning", "info", "debug"};
        for (int i = 0; i < 4; i++)
            if (!strcmp(cfg->log.level, lv[i]))
                ts_log_set_level((enum ts_log_level)i);
    }
    if (!cfg->ntopics || !cfg->kafka.brokers) {
        fprintf(stderr, "tocsin: %s: error: `run` needs kafka.brokers and at least one topic\n",
                cfg_path);
        ts_config_free(cfg);
        return 2;
    }
    struct ingest_topic *topics = calloc(cfg->ntopics, sizeof(*topics));
    struct ingest_host_zone *hzones = calloc(cfg->ingest.nhosts + 1, sizeof(*hzones));
    for (size_t i = 0; hzones && i < cfg->ingest.nhosts; i++)
        hzones[i] = (struct ingest_host_zone){cfg->ingest.hosts[i].pattern,
                                              cfg->ingest.hosts[i].tz};
    if (!topics || !hzones) {
        free(topics);
        free(hzones);
        ts_config_free(cfg);
        return 1;
    }
    for (size_t i = 0; i < cfg->ntopics; i++) {
        struct ts_config_topic *t = &cfg->topics[i];
        topics[i].name = t->name;
        topics[i].tenant = t->tenant ? t->tenant : cfg->ingest.default_tenant;
        topics[i].dlq_topic = t->dead_letter;
        topics[i].tenants = (const char *const *)t->tenants;
        topics[i].ntenants = t->ntenants;
        topics[i].any_tenant = t->any_tenant;
        topics[i].tz = t->tz;
        if (ingest_format_parse(t->format ? t->format : "auto", &topics[i].format)) {
            fprintf(stderr, "tocsin: %s:%u:%u: error: unknown format \"%s\"\n", cfg_path, t->line,
                    t->col, t->format);
            free(topics);
            free(hzones);
            ts_config_free(cfg);
            return 2;
        }
    }
    struct events_out eo;
    struct count_ctx cc = {0};
    struct detections det;
    struct corr_stage corr;
    struct cli_esc esc;
    bool esc_open = false;
    struct esc_channels *channels = NULL;
    struct esc_dispatcher *dispatcher = NULL;
    FILE *det_out = NULL;
    struct ingest_norm *norm = NULL;
    struct cli_norm_args na;
    norm_args_from(cfg, &na);
    int code = 0;
    if (cli_norm_build(&na, &norm)) {
        code = 2;
        goto out;
    }
    if (cfg->paths.nrules) {
        det_out = det_path && strcmp(det_path, "-") != 0 ? fopen(det_path, "a") : stdout;
        if (!det_out) {
            fprintf(stderr, "tocsin: cannot open %s\n", det_path);
            code = 1;
            goto out;
        }
        if (open_detections(cfg, &det, det_out)) {
            detections_close(&det);
            code = 2;
            goto out;
        }
        cc.det = &det;
        /* correlation; with paths.data_dir its state, the incidents and the
         * input offsets live in LMDB and the consumer seeks to them */
        struct corr_grouping *groups = NULL;
        struct corr_opts co;
        if (corr_opts_from(cfg, &co, &groups)) {
            code = 1;
            goto out;
        }
        int orc = corr_stage_open(&corr, det.rs, &co, cfg->paths.data_dir, cfg->kafka.workers,
                                  det_out, false);
        free(groups);
        if (orc) {
            corr_stage_close(&corr);
            code = 2;
            goto out;
        }
        cc.corr = &corr;
        det.corr = &corr;
        if (cfg->escalate.enabled) {
            if (!cfg->paths.data_dir) {
                fprintf(stderr, "tocsin: %s: error: escalate needs paths.data_dir (the outbox "
                                "lives in LMDB)\n", cfg_path);
                code = 2;
                goto out;
            }
            if (cli_esc_open(&esc, cfg->escalate.regime, cfg->escalate.regimes_dir,
                             cfg->escalate.taxonomy, cfg->escalate.policy, cfg->escalate.org,
                             cfg->escalate.assets)) {
                code = 2;
                goto out;
            }
            esc_open = true;
            corr.esc = &esc.env;
            if (cfg->escalate.channels) {
                struct ts_err cerr = {0};
                char cmsg[1024];
                /* the file's settings; its first thread also queues the due
                 * reports (the policy's auto_send) */
                struct esc_dispatch_opts dopts = {.due_env = &esc.env};
                if (esc_channels_load(cfg->escalate.channels, &channels, &cerr) ||
                    esc_dispatcher_start(&dispatcher, corr.st, channels, &dopts, &cerr)) {
                    ts_err_format(&cerr, cmsg, sizeof(cmsg));
                    fprintf(stderr, "tocsin: %s\n", cmsg);
                    code = 2;
                    goto out;
                }
                ts_info("escalation: dispatcher started (%zu channel(s))",
                        esc_channels_count(channels));
                corr.dispatcher = dispatcher;
            }
        }
    }
    if (events_path) {
        if (events_out_open(&eo, events_path)) {
            code = 1;
            goto out;
        }
        cc.eo = &eo;
    }
    struct ingest_kafka_opts ko = {
        .brokers = cfg->kafka.brokers,
        .group_id = cfg->kafka.group_id,
        .topics = topics,
        .ntopics = cfg->ntopics,
        .props = (const char *const *)cfg->kafka.props,
        .nprops = cfg->kafka.nprops,
        .workers = cfg->kafka.workers,
        .batch_max = cfg->kafka.batch_size,
        .batch_timeout_ms = cfg->kafka.batch_timeout_ms,
        .queue_batches = cfg->kafka.queue_batches,
        .parse = {.tz_offset_sec = cfg->ingest.tz_offset_sec,
                  .tz = cfg->ingest.tz,
                  .hosts = hzones,
                  .nhosts = cfg->ingest.nhosts,
                  .max_msg_bytes = cfg->ingest.max_message_bytes,
                  .max_future_ns = cfg->ingest.max_future_ns},
        .sink = {.ctx = &cc, .process = run_process, .commit = run_commit, .seek = run_seek},
        .norm = norm,
    };
    struct ingest_kafka *k = NULL;
    int rc = ingest_kafka_create(&k, &ko, &err);
    if (rc) {
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin: %s\n", msg);
        code = rc == TS_E_CONFIG ? 2 : 1;
    } else {
        ts_rt.kafka = k;
        cli_install_signals();
        if (ts_rt.stop)
            ingest_kafka_stop(k);
        ts_info("run: consuming %zu topic(s) from %s as group %s with %d worker(s)",
                cfg->ntopics, cfg->kafka.brokers, cfg->kafka.group_id, cfg->kafka.workers);
        pthread_t st_tid;
        struct stats_thread_arg sa = {k, interval, cfg_path, cc.det,
                                      cc.corr ? cc.corr->st : NULL, cfg, cc.corr};
        bool st_started = pthread_create(&st_tid, NULL, stats_main, &sa) == 0;
        rc = ingest_kafka_run(k, &err);
        ts_rt.stop = 1;
        if (st_started)
            pthread_join(st_tid, NULL);
        log_stats(k, "run finished", cfg->ingest.silent_after_ns);
        char line[512];
        if (cc.corr && corr_stage_dropped(cc.corr, line, sizeof(line)))
            ts_warn("run finished: %s", line);
        if (rc) {
            ts_err_format(&err, msg, sizeof(msg));
            fprintf(stderr, "tocsin: %s\n", msg);
            code = 1;
        }
        ts_rt.kafka = NULL;
        ingest_kafka_destroy(k);
    }
out:
    if (cc.eo)
        events_out_close(&eo);
    if (dispatcher) {
        if (cc.corr)
            corr.dispatcher = NULL;
        esc_dispatcher_stop(dispatcher); /* before the store closes */
        struct esc_dispatch_stats ds;
        esc_dispatcher_stats(dispatcher, &ds);
        ts_info("escalation: %llu delivered, %llu retried, %llu failed",
                (unsigned long long)ds.delivered, (unsigned long long)ds.retried,
                (unsigned long long)ds.failed);
    }
    if (cc.corr)
        corr_stage_close(&corr);
    esc_channels_free(channels);
    if (esc_open)
        cli_esc_close(&esc);
    if (cc.det)
        detections_close(&det);
    if (det_out && det_out != stdout)
        fclose(det_out);
    ingest_norm_free(norm);
    free(topics);
    free(hzones);
    ts_config_free(cfg);
    return code;
}
