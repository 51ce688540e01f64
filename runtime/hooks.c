/* hooks.c - what only the running pipeline knows, for the HTTP server
 * inside `tocsin run` (the signatures of http/http.h's struct http_hooks;
 * cli wires them, as runtime does not depend on http/): the Prometheus
 * series of the run, readiness, the rules with their hit counts, reload and
 * rule tests. Called from the server's threads, concurrently: they read
 * counters (atomics, or short mutexes the pipeline holds for no longer
 * than a batch's commit) and keep small caches (lag and host health: 1 s)
 * so that a scrape every second costs the pipeline next to nothing. */
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/metric.h"
#include "../core/tstime.h"
#include "../normalise/normalise.h"
#include "runtime_int.h"

#define LAG_TTL_NS (1 * TS_NS_PER_SEC)
#define HEALTH_TTL_NS (1 * TS_NS_PER_SEC)
#define TEST_DETECTIONS_MAX 1000 /* rule test: detections listed (all are counted) */

void rt_metrics_init(struct rt_run *r)
{
    pthread_mutex_init(&r->m.mu, NULL);
}

void rt_metrics_free(struct rt_run *r)
{
    free(r->m.lag);
    pthread_mutex_destroy(&r->m.mu);
}

/* The partitions and their lag, at most LAG_TTL_NS old: a copy in *out
 * (caller frees). Any thread. */
static int lag_get(struct rt_run *r, struct ingest_partition_lag **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = 0;
    pthread_mutex_lock(&r->m.mu);
    int64_t now = ts_mono_ns();
    if (!r->m.lag_at || now - r->m.lag_at >= LAG_TTL_NS) {
        struct ingest_partition_lag *v = NULL;
        size_t nv = 0;
        rc = ingest_kafka_lag(r->k, &v, &nv);
        if (!rc) {
            free(r->m.lag);
            r->m.lag = v;
            r->m.nlag = nv;
            r->m.lag_at = now;
        }
    }
    if (!rc && r->m.nlag) {
        *out = malloc(r->m.nlag * sizeof(**out));
        if (*out) {
            memcpy(*out, r->m.lag, r->m.nlag * sizeof(**out));
            *n = r->m.nlag;
        } else {
            rc = TS_E_NOMEM;
        }
    }
    pthread_mutex_unlock(&r->m.mu);
    return rc;
}

static void health_get(struct rt_run *r, struct ingest_health_summary *hs)
{
    pthread_mutex_lock(&r->m.mu);
    int64_t now = ts_mono_ns();
    if (!r->m.health_at || now - r->m.health_at >= HEALTH_TTL_NS) {
        ingest_kafka_health(r->k, r->cfg->ingest.silent_after_ns, &r->m.health);
        r->m.health_at = now;
    }
    *hs = r->m.health;
    pthread_mutex_unlock(&r->m.mu);
}

/* ---------------------------------------------------------------- metrics */

/* A family with one unlabelled sample. */
static int one(struct ts_buf *b, const char *name, const char *type, const char *help,
               uint64_t v)
{
    int rc = ts_metric_family(b, name, type, help);
    return rc ? rc : ts_metric_u64(b, name, NULL, 0, v);
}

static int consumer_series(struct rt_run *r, struct ts_buf *b)
{
    struct ingest_topic_stat *ts = NULL;
    size_t nts = 0;
    int rc = ingest_kafka_topic_stats(r->k, &ts, &nts);
    static const char *const names[] = {
        "tocsin_events_consumed_total", "tocsin_events_parsed_total",
        "tocsin_events_dead_lettered_total", "tocsin_events_no_decoder_total"};
    static const char *const helps[] = {
        "Messages read from Kafka, by topic and tenant (per handed-over batch)",
        "Messages that became events, by topic and tenant",
        "Messages sent to the dead-letter topic with their reason, by topic and tenant",
        ("Events left undecoded: a program and a message, decoders loaded, none fired (the "
         "line keeps only what its parser found), by topic and tenant")};
    for (size_t f = 0; f < 4 && !rc; f++) {
        rc = ts_metric_family(b, names[f], "counter", helps[f]);
        for (size_t i = 0; i < nts && !rc; i++) {
            struct ts_metric_label l[] = {{"topic", ts[i].topic}, {"tenant", ts[i].tenant}};
            uint64_t v = f == 0   ? ts[i].consumed
                         : f == 1 ? ts[i].parsed
                         : f == 2 ? ts[i].dead_letters
                                  : ts[i].no_decoder;
            rc = ts_metric_u64(b, names[f], l, 2, v);
        }
    }
    free(ts);
    struct ingest_stats st;
    ingest_kafka_stats(r->k, &st);
    rc = rc ? rc : one(b, "tocsin_events_warnings_total", "counter",
                       "Events kept with a warning (bad timestamp, a normalisation step "
                       "that could not finish)", st.warnings);
    rc = rc ? rc : one(b, "tocsin_events_refused_at_limit_total", "counter",
                       "Of the dead letters: messages refused at a limit against hostile "
                       "input (message size, JSON nesting depth, fields per event; the "
                       "dead letter's reason names it)", st.limit_refused);
    rc = rc ? rc : one(b, "tocsin_consumer_bytes_total", "counter", "Raw bytes read", st.bytes);
    rc = rc ? rc : one(b, "tocsin_consumer_batches_total", "counter",
                       "Batches processed downstream", st.batches);
    rc = rc ? rc : one(b, "tocsin_consumer_commits_total", "counter",
                       "Kafka offset commits", st.commits);
    rc = rc ? rc : one(b, "tocsin_consumer_pauses_total", "counter",
                       "Times partitions were paused for backpressure", st.pauses);
    rc = rc ? rc : one(b, "tocsin_consumer_rebalances_total", "counter",
                       "Consumer group rebalances seen by the workers", st.rebalances);
    rc = rc ? rc : one(b, "tocsin_kafka_broker_errors_total", "counter",
                       "Transport errors librdkafka reported while a broker was away (down, "
                       "restarting, a connection or TLS handshake cut short): waited for, "
                       "not fatal", st.broker_errors);
    if (rc)
        return rc;
    struct ingest_partition_lag *lag = NULL;
    size_t nlag = 0;
    rc = lag_get(r, &lag, &nlag);
    rc = rc ? rc : one(b, "tocsin_consumer_partitions_assigned", "gauge",
                       "Kafka partitions assigned to this process", nlag);
    rc = rc ? rc : ts_metric_family(b, "tocsin_consumer_lag", "gauge",
                                    "Messages behind the partition's high watermark (as "
                                    "last fetched), per assigned partition (cached 1 s)");
    for (size_t i = 0; i < nlag && !rc; i++) {
        if (lag[i].lag < 0)
            continue; /* nothing fetched yet */
        char part[16];
        snprintf(part, sizeof(part), "%d", (int)lag[i].partition);
        struct ts_metric_label l[] = {{"topic", lag[i].topic}, {"partition", part}};
        rc = ts_metric_u64(b, "tocsin_consumer_lag", l, 2, (uint64_t)lag[i].lag);
    }
    free(lag);
    rc = rc ? rc : ts_metric_family(b, "tocsin_batch_process_seconds", "histogram",
                                    "Time a batch spends in matching and the events output");
    rc = rc ? rc : ts_hist_write(b, "tocsin_batch_process_seconds", NULL, 0, &r->m.process);
    rc = rc ? rc : ts_metric_family(b, "tocsin_batch_commit_seconds", "histogram",
                                    "Time of a batch's commit point: outputs made durable and "
                                    "the LMDB transaction");
    rc = rc ? rc : ts_hist_write(b, "tocsin_batch_commit_seconds", NULL, 0, &r->m.commit);
    return rc;
}

static int health_series(struct rt_run *r, struct ts_buf *b)
{
    struct ingest_health_summary hs;
    health_get(r, &hs);
    int rc = one(b, "tocsin_hosts", "gauge", "Sending hosts (tenant, host) seen", hs.hosts);
    rc = rc ? rc : one(b, "tocsin_hosts_zone_mismatch", "gauge",
                       "Hosts whose times sit a steady whole number of hours off (a zone "
                       "mismatch)", hs.zone_mismatches);
    rc = rc ? rc : one(b, "tocsin_hosts_silent", "gauge",
                       "Hosts quiet for longer than ingest.silent_after", hs.silent);
    return rc;
}

static int loss(struct ts_buf *b, const char *stage, const char *reason, uint64_t v)
{
    struct ts_metric_label l[] = {{"stage", stage}, {"reason", reason}};
    return ts_metric_u64(b, "tocsin_silent_loss_total", l, 2, v);
}

static int rules_series(struct rt_run *r, struct ts_buf *b)
{
    struct ingest_stats st;
    ingest_kafka_stats(r->k, &st);
    uint64_t re_cut = 0, re_long = 0;
    if (r->det_open)
        rt_det_re_stats(&r->det, &re_cut, &re_long);
    struct rt_corr_stats cs;
    memset(&cs, 0, sizeof(cs));
    if (r->corr_open)
        rt_corr_stats(&r->corr, &cs);
    int rc = ts_metric_family(b, "tocsin_silent_loss_total", "counter",
                              "What left the path to an incident without an error, by stage "
                              "and reason (docs/api.md)");
    rc = rc ? rc : loss(b, "ingest", "time_clamped", st.clamped);
    rc = rc ? rc : loss(b, "ingest", "tenant_refused", st.tenant_refused);
    rc = rc ? rc : loss(b, "normalise", "no_decoder", st.no_decoder);
    rc = rc ? rc : loss(b, "normalise", "regex_cut_short", st.regex_cut);
    rc = rc ? rc : loss(b, "rules", "regex_cut_short", re_cut);
    rc = rc ? rc : loss(b, "rules", "regex_over_length_window", re_long);
    rc = rc ? rc : loss(b, "correlation", "late", cs.m.late_beyond);
    rc = rc ? rc : loss(b, "correlation", "no_group_field", cs.m.missing_group_field);
    rc = rc ? rc : loss(b, "correlation", "no_value", cs.m.missing_value);
    rc = rc ? rc : loss(b, "correlation", "rule_key_cap", cs.m.keys_cap_hit);
    rc = rc ? rc : loss(b, "correlation", "tenant_key_cap", cs.m.tenant_keys_cap_hit);
    rc = rc ? rc : loss(b, "correlation", "bad_tenant", cs.m.bad_tenant);
    rc = rc ? rc : loss(b, "correlation", "window_entries_cap", cs.m.entries_cap_hit);
    rc = rc ? rc : loss(b, "storage", "refused", cs.store_refused);
    rc = rc ? rc : ts_metric_family(b, "tocsin_stale_batches_total", "counter",
                                    "Batches a worker committed after the worker that got its "
                                    "partitions had read and counted them again: dropped, or "
                                    "the detections of their counted part left out (not lost: "
                                    "not counted twice)");
    rc = rc ? rc : ts_metric_u64(b, "tocsin_stale_batches_total", NULL, 0, cs.stale_batches);
    struct corr_late_source *ls = NULL;
    size_t nls = 0;
    if (!rc && r->corr_open)
        rc = rt_corr_late_sources(&r->corr, &ls, &nls);
    rc = rc ? rc : ts_metric_family(b, "tocsin_events_late_total", "counter",
                                    "Detections that reached correlation beyond the lateness "
                                    "allowance of their source (kept as evidence only), by topic "
                                    "and tenant; counted once however many correlations use it");
    for (size_t i = 0; i < nls && !rc; i++) {
        struct ts_metric_label l[] = {{"topic", ls[i].source}, {"tenant", ls[i].tenant}};
        rc = ts_metric_u64(b, "tocsin_events_late_total", l, 2, ls[i].late);
    }
    free(ls);
    if (rc || !r->det_open)
        return rc;
    rc = one(b, "tocsin_incidents_created_total", "counter",
             "Incidents the correlation engine opened", cs.m.incidents_created);
    rc = rc ? rc : one(b, "tocsin_incidents_updated_total", "counter",
                       "Updates of open incidents by the correlation engine",
                       cs.m.incidents_updated);
    rc = rc ? rc : one(b, "tocsin_incidents_retracted_total", "counter",
                       "Incidents undone by an event within the lateness allowance",
                       cs.m.incidents_retracted);
    rc = rc ? rc : one(b, "tocsin_correlation_state_keys", "gauge",
                       "Live correlation keys (rule, group) in memory", cs.m.keys_live);
    rc = rc ? rc : one(b, "tocsin_escalation_queued_total", "counter",
                       "Escalation outbox entries written with their incidents",
                       cs.outbox_entries);
    struct rule_set *rs = NULL;
    uint64_t *hits = NULL;
    size_t n = 0;
    rc = rc ? rc : rt_det_hits(&r->det, &rs, &hits, &n);
    rc = rc ? rc : ts_metric_family(b, "tocsin_detections_total", "counter",
                                    "Matches per detection rule (rules with matches), with "
                                    "the rule's level; counts of rules kept by a reload go on");
    for (size_t i = 0; i < n && !rc; i++) {
        if (!hits[i])
            continue;
        const struct rule_info *ri = rule_set_info(rs, i);
        struct ts_metric_label l[] = {{"rule", ri->id ? ri->id : ri->title},
                                      {"level", ri->level ? ri->level : ""}};
        rc = ts_metric_u64(b, "tocsin_detections_total", l, 2, hits[i]);
    }
    if (!rc) {
        struct ts_metric_label d = {"kind", "detection"}, c = {"kind", "correlation"};
        rc = ts_metric_family(b, "tocsin_rules_loaded", "gauge", "Rules in force, by kind");
        rc = rc ? rc : ts_metric_u64(b, "tocsin_rules_loaded", &d, 1, rs ? rule_set_count(rs) : 0);
        rc = rc ? rc : ts_metric_u64(b, "tocsin_rules_loaded", &c, 1,
                                     rs ? rule_set_correlation_count(rs) : 0);
    }
    free(hits);
    rule_set_unref(rs);
    return rc;
}

static int run_series(struct rt_run *r, struct ts_buf *b)
{
    struct ts_metric_label ok = {"result", "ok"}, failed = {"result", "failed"};
    int rc = ts_metric_family(b, "tocsin_reloads_total", "counter",
                              "Reloads (SIGHUP or POST /api/v1/rules/reload) by result");
    rc = rc ? rc : ts_metric_u64(b, "tocsin_reloads_total", &ok, 1, atomic_load(&r->m.reloads_ok));
    rc = rc ? rc : ts_metric_u64(b, "tocsin_reloads_total", &failed, 1,
                                 atomic_load(&r->m.reloads_failed));
    if (rc || !r->dispatcher)
        return rc;
    struct esc_recipient_stats rs[64];
    size_t n = esc_dispatcher_recipient_stats(r->dispatcher, rs, TS_ARRAY_LEN(rs));
    if (n > TS_ARRAY_LEN(rs))
        n = TS_ARRAY_LEN(rs);
    rc = ts_metric_family(b, "tocsin_escalation_deliveries_total", "counter",
                          "Delivery attempts of escalations by recipient and outcome "
                          "(delivered, retried, failed: a dead letter)");
    for (size_t i = 0; i < n && !rc; i++) {
        static const char *const outcome[] = {"delivered", "retried", "failed"};
        const uint64_t v[] = {rs[i].delivered, rs[i].retried, rs[i].failed};
        for (size_t o = 0; o < 3 && !rc; o++) {
            struct ts_metric_label l[] = {{"recipient", rs[i].recipient},
                                          {"outcome", outcome[o]}};
            rc = ts_metric_u64(b, "tocsin_escalation_deliveries_total", l, 2, v[o]);
        }
    }
    struct esc_dispatch_stats ds;
    esc_dispatcher_stats(r->dispatcher, &ds);
    rc = rc ? rc : one(b, "tocsin_escalation_store_errors_total", "counter",
                       "Dispatcher rounds that failed on the store (retried)", ds.errors);
    return rc;
}

/* correlate.distributed: the re-key hop, the state changelog and its
 * restores, the incidents topic (docs/scale.md). */
static int dist_series(struct rt_run *r, struct ts_buf *b)
{
    if (!r->dist)
        return 0;
    struct rt_dist_stats d;
    rt_run_dist_stats(r, &d);
    static const char *const names[] = {
        "tocsin_rekey_records_produced_total", "tocsin_rekey_records_consumed_total",
        "tocsin_rekey_records_unfed_total", "tocsin_state_changelog_records_total",
        "tocsin_state_restores_total", "tocsin_state_restored_records_total",
        "tocsin_state_restore_milliseconds_total", "tocsin_incident_records_published_total",
        "tocsin_incident_changes_materialised_total", "tocsin_incident_evidence_orphaned_total",
        "tocsin_incident_status_changes_applied_total",
        "tocsin_incident_status_changes_refused_total",
        "tocsin_incident_status_changes_waiting_total",
        "tocsin_incident_retention_removed_total"};
    static const char *const helps[] = {
        "Detection records produced to the internal topic (stage A; committed or not)",
        "Records the correlation stage consumed from the internal topic (stage B)",
        "Records the correlation stage could not feed (damaged, or a rule not loaded here)",
        "Changed state keys written to the state changelog topic",
        "Internal partitions whose state was restored from the changelog on assignment",
        "Changelog records read by those restores",
        "Milliseconds spent restoring (changelog read and LMDB rebuilt)",
        "Incident changes published to the incidents topic by this node",
        "Incident changes of every node written into this node's store",
        "Evidence records of the incidents topic whose incident was not in the store",
        "Status changes of every node applied to this node's store, in topic order",
        "Status changes not allowed from the status the incident had when read (every node "
        "refuses the same ones)",
        "Status changes set aside until their incident arrives (its record was compacted "
        "to a later offset, or it was removed)",
        "Resolved incidents this node removed by retention through the incidents topic"};
    const uint64_t v[] = {d.rekeyed, d.consumed, d.unfed, d.changelog_records, d.restores,
                          d.restored_records, (uint64_t)(d.restore_ns / 1000000),
                          d.inc_records, d.mat.incidents, d.mat.orphans,
                          d.mat.status_applied, d.mat.status_refused, d.mat.status_waiting,
                          d.retention_removed};
    int rc = 0;
    for (size_t i = 0; i < TS_ARRAY_LEN(v) && !rc; i++)
        rc = one(b, names[i], "counter", helps[i], v[i]);
    return rc;
}

int rt_run_metrics(void *ctx, struct ts_buf *out)
{
    struct rt_run *r = ctx;
    int rc = consumer_series(r, out);
    rc = rc ? rc : dist_series(r, out);
    rc = rc ? rc : health_series(r, out);
    rc = rc ? rc : rules_series(r, out);
    return rc ? rc : run_series(r, out);
}

/* -------------------------------------------------------------- readiness */

int rt_run_ready(void *ctx, char *reason, size_t cap)
{
    struct rt_run *r = ctx;
    if (!atomic_load(&r->running) || atomic_load(&r->stop)) {
        snprintf(reason, cap, "%s", atomic_load(&r->stop) ? "stopping" : "not consuming yet");
        return 1;
    }
    struct store *st = rt_run_store(r);
    if (r->cfg->paths.data_dir && st) {
        struct store_txn *t = NULL;
        int rc = store_txn_begin(st, STORE_TXN_RDONLY, &t);
        store_txn_abort(t);
        if (rc) {
            snprintf(reason, cap, "the store cannot be read: %s", store_strerror(rc));
            return 1;
        }
    }
    struct ingest_partition_lag *lag = NULL;
    size_t n = 0;
    if (lag_get(r, &lag, &n)) {
        snprintf(reason, cap, "out of memory");
        return 1;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += lag[i].lag > 0 ? (uint64_t)lag[i].lag : 0;
    free(lag);
    if (!n) {
        snprintf(reason, cap, "no Kafka partition assigned (yet)");
        return 1;
    }
    long long max = r->cfg->http.ready_max_lag;
    if (total > (uint64_t)max) {
        snprintf(reason, cap, "consumer lag %llu above http.ready_max_lag %lld",
                 (unsigned long long)total, max);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ rules */

static int json_kv(struct ts_buf *b, const char *key, const char *v, bool comma)
{
    int rc = ts_buf_printf(b, "%s\"%s\":", comma ? "," : "", key);
    if (rc)
        return rc;
    return v ? ts_buf_json_str(b, v, strlen(v)) : ts_buf_puts(b, "null");
}

static int rule_json(struct ts_buf *b, const struct rule_info *ri, const char *kind)
{
    int rc = ts_buf_putc(b, '{');
    rc = rc ? rc : json_kv(b, "id", ri->id, false);
    rc = rc ? rc : json_kv(b, "name", ri->name, true);
    rc = rc ? rc : json_kv(b, "title", ri->title, true);
    rc = rc ? rc : json_kv(b, "kind", kind, true);
    rc = rc ? rc : json_kv(b, "level", ri->level, true);
    rc = rc ? rc : json_kv(b, "status", ri->status, true);
    rc = rc ? rc : json_kv(b, "author", ri->author, true);
    rc = rc ? rc : json_kv(b, "file", ri->file, true);
    return rc;
}

int rt_rules_list_json(struct rule_set *rs, const uint64_t *hits, struct ts_buf *out)
{
    int rc = ts_buf_puts(out, "{\"rules\":[");
    size_t n = rs ? rule_set_count(rs) : 0;
    uint64_t total = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        rc = i ? ts_buf_putc(out, ',') : 0;
        rc = rc ? rc : rule_json(out, rule_set_info(rs, i), "detection");
        rc = rc ? rc
                : hits ? ts_buf_printf(out, ",\"hits\":%llu}", (unsigned long long)hits[i])
                       : ts_buf_putc(out, '}');
        total += hits ? hits[i] : 0;
    }
    size_t nc = rs ? rule_set_correlation_count(rs) : 0;
    for (size_t i = 0; i < nc && !rc; i++) {
        const struct rule_info *ri = NULL;
        (void)rule_set_correlation(rs, i, &ri);
        if (!ri)
            continue;
        rc = n || i ? ts_buf_putc(out, ',') : 0;
        rc = rc ? rc : rule_json(out, ri, "correlation");
        rc = rc ? rc : ts_buf_putc(out, '}');
    }
    rc = rc ? rc : ts_buf_printf(out, "],\"detection_rules\":%zu,\"correlation_rules\":%zu",
                                 n, nc);
    rc = rc ? rc
            : hits ? ts_buf_printf(out, ",\"hits\":%llu}\n", (unsigned long long)total)
                   : ts_buf_puts(out, "}\n");
    return rc;
}

int rt_run_rules_list(void *ctx, struct ts_buf *out)
{
    struct rt_run *r = ctx;
    struct rule_set *rs = NULL;
    uint64_t *hits = NULL;
    size_t n = 0;
    int rc = r->det_open ? rt_det_hits(&r->det, &rs, &hits, &n) : 0;
    uint64_t none = 0;
    rc = rc ? rc : rt_rules_list_json(rs, hits ? hits : &none, out);
    free(hits);
    rule_set_unref(rs);
    return rc;
}

int rt_run_rules_reload(void *ctx, const char *by, struct ts_buf *out)
{
    struct rt_run *r = ctx;
    struct rt_reload_result res;
    int rc = rt_run_reload_now(r, by ? by : "http", &res);
    const char *rules = !r->det_open ? "none" : res.rules_swapped ? "swapped" : "kept";
    int wrc = ts_buf_printf(out, "{\"reloaded\":%s,\"normalisation\":\"%s\",\"rules\":\"%s\"",
                            rc ? "false" : "true", res.norm_swapped ? "swapped" : "kept", rules);
    wrc = wrc ? wrc : json_kv(out, "by", by, true);
    if (!wrc && res.reason[0])
        wrc = json_kv(out, "error", res.reason, true);
    wrc = wrc ? wrc : ts_buf_puts(out, "}\n");
    if (wrc)
        return wrc;
    return rc ? 422 : 200;
}

/* ------------------------------------------------------------- rule tests */

struct test_out {
    struct ts_buf *out;
    size_t listed;
};

static int test_match(void *ctx, const struct rule_info *ri, const struct ts_event *ev,
                      const char *explain, size_t explain_len)
{
    struct test_out *t = ctx;
    if (t->listed >= TEST_DETECTIONS_MAX)
        return 0;
    struct ts_buf *b = t->out;
    int rc = t->listed++ ? ts_buf_putc(b, ',') : 0;
    rc = rc ? rc : ts_buf_printf(b, "{\"line\":%llu", (unsigned long long)ev->src.line);
    rc = rc ? rc : json_kv(b, "rule_id", ri->id, true);
    rc = rc ? rc : json_kv(b, "rule_title", ri->title, true);
    rc = rc ? rc : json_kv(b, "level", ri->level, true);
    rc = rc ? rc : json_kv(b, "tenant", ev->tenant, true);
    rc = rc ? rc : ts_buf_puts(b, ",\"explain\":");
    rc = rc ? rc : ts_buf_append(b, explain, explain_len);
    return rc ? rc : ts_buf_putc(b, '}');
}

static int problems_json(struct ts_buf *b, const struct rule_report *rep)
{
    int rc = ts_buf_puts(b, ",\"problems\":[");
    for (size_t i = 0; i < rep->nproblems && !rc; i++) {
        const struct rule_problem *p = &rep->problems[i];
        rc = i ? ts_buf_putc(b, ',') : 0;
        rc = rc ? rc : ts_buf_printf(b, "{\"line\":%u,\"col\":%u", p->line, p->col);
        rc = rc ? rc : json_kv(b, "kind", rule_problem_kind_name(p->kind),
                               true);
        rc = rc ? rc : json_kv(b, "rule_id", p->rule_id, true);
        rc = rc ? rc : json_kv(b, "message", p->msg, true);
        rc = rc ? rc : ts_buf_putc(b, '}');
    }
    return rc ? rc : ts_buf_putc(b, ']');
}

int rt_run_rule_test(void *ctx, const struct rt_rule_test_req *q, struct ts_buf *out)
{
    struct rt_run *r = ctx;
    enum ingest_format fmt;
    if (ingest_format_parse(q->format ? q->format : "auto", &fmt)) {
        int rc = ts_buf_puts(out, "{");
        rc = rc ? rc : json_kv(out, "error", "unknown format (auto, rfc3164, rfc5424, json, "
                                             "cef, leef, kv, access)", false);
        rc = rc ? rc : ts_buf_puts(out, "}\n");
        return rc ? rc : 400;
    }
    /* the rule behaves as in the run: its field aliases and placeholders */
    struct rule_load_opts lo;
    struct rule_field_alias *al = NULL;
    struct rule_placeholder *ph = NULL;
    int rc = rt_rule_opts_from(r->cfg, &lo, &al, &ph);
    if (rc) {
        free(al);
        free(ph);
        return rc;
    }
    lo.paths = NULL;
    lo.npaths = 0;
    lo.buf = q->rule;
    lo.buf_len = q->rule_len;
    lo.buf_name = "rule";
    /* the run's normalisation, or with a profile forced, one built for the
     * request from the same configuration */
    struct norm_set *norm = NULL;
    struct ts_err err = {0};
    if (q->profile) {
        struct rt_norm_args na;
        rt_norm_args_from(r->cfg, &na);
        na.force_profile = q->profile;
        rc = rt_norm_build_err(&na, &norm, &err);
    } else {
        norm = rt_run_norm_ref(r);
    }
    if (rc) {
        char msg[1024];
        ts_err_format(&err, msg, sizeof(msg));
        free(al);
        free(ph);
        int wrc = ts_buf_puts(out, "{");
        wrc = wrc ? wrc : json_kv(out, "error", err.code ? msg : ts_strerror(rc), false);
        wrc = wrc ? wrc : ts_buf_puts(out, "}\n");
        return wrc ? wrc : 422;
    }
    struct ts_buf dets;
    ts_buf_init(&dets, out->limit);
    struct test_out to = {&dets, 0};
    struct rt_rule_test_opts o = {
        .rules = lo,
        .events = q->events,
        .events_len = q->events_len,
        .events_name = "events",
        .format = fmt,
        .tenant = q->tenant,
        .norm = norm,
        .on_match = test_match,
        .ctx = &to,
    };
    struct rt_rule_test_result res;
    rc = rt_rule_test(&o, &res, &err);
    int status = 200, wrc = 0;
    if (rc == TS_E_NOMEM || rc == TS_E_LIMIT) {
        status = rc;
    } else if (rc) {
        /* where it broke: the loader's file:line:col, else the first
         * problem of the rule (e.g. no detection rule loaded because the
         * YAML does not parse) */
        char msg[1280];
        const struct rule_problem *p = res.report.nproblems ? &res.report.problems[0] : NULL;
        if (err.file[0])
            ts_err_format(&err, msg, sizeof(msg));
        else if (p)
            snprintf(msg, sizeof(msg), "%.200s:%u:%u: %s: %s%.64s%s%.512s (%.200s)", p->file,
                     p->line, p->col, rule_problem_kind_name(p->kind),
                     p->rule_id[0] ? "[" : "", p->rule_id, p->rule_id[0] ? "] " : "", p->msg,
                     err.code ? err.msg : ts_strerror(rc));
        else
            snprintf(msg, sizeof(msg), "%.512s", err.code ? err.msg : ts_strerror(rc));
        wrc = ts_buf_puts(out, "{");
        wrc = wrc ? wrc : json_kv(out, "error", msg, false);
        wrc = wrc ? wrc : problems_json(out, &res.report);
        wrc = wrc ? wrc : ts_buf_puts(out, "}\n");
        status = 422;
    } else {
        wrc = ts_buf_puts(out, "{\"detections\":[");
        wrc = wrc ? wrc : ts_buf_append(out, dets.data ? dets.data : "", dets.len);
        wrc = wrc ? wrc : ts_buf_printf(out, "],\"events\":%llu,\"matched\":%llu,\"matches\":%llu,"
                                             "\"dead_letters\":%llu,\"rules\":%zu,"
                                             "\"truncated\":%s",
                                        (unsigned long long)res.events,
                                        (unsigned long long)res.matched,
                                        (unsigned long long)res.matches,
                                        (unsigned long long)res.dead_letters, res.rules,
                                        res.matches > to.listed ? "true" : "false");
        wrc = wrc ? wrc : problems_json(out, &res.report);
        wrc = wrc ? wrc : ts_buf_puts(out, "}\n");
    }
    ts_info("http: %s tested a rule over %llu event(s): %llu matched", q->by ? q->by : "-",
            (unsigned long long)res.events, (unsigned long long)res.matched);
    rule_report_free(&res.report);
    ts_buf_free(&dets);
    norm_set_free(norm);
    free(al);
    free(ph);
    return wrc ? wrc : status;
}

/* ------------------------------------------------------ status changes */

bool rt_run_distributed(const struct rt_run *r)
{
    return r->kb != NULL;
}

int rt_run_status_change(void *ctx, const char *id, int to, const char *by, const char *comment,
                         int *now, uint64_t *revision, char *msg, size_t cap)
{
    struct rt_run *r = ctx;
    struct rt_inc_hook h = {rt_run_store(r), r->cfg};
    return rt_inc_status_hook(&h, id, to, by, comment, now, revision, msg, cap);
}
