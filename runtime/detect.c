/* detect.c - the detection stage as `replay` and `run` attach it after
 * ingest: Sigma rules that print one JSON object per detection and feed the
 * correlation stage. Workers call it concurrently: each has its own rule
 * scratch (b->worker); output lines are written under a mutex. The rule set
 * is swapped on reload (batches in flight finish with the one they took). */
#include <stdlib.h>
#include <string.h>

#include "../core/event_json.h"
#include "../core/log.h"
#include "../core/tstime.h"
#include "runtime_int.h"

/* Is the rule with this id or name (a detection or a correlation) in rs? */
static bool rule_in_set(const struct rule_set *rs, const char *id)
{
    if (!id[0])
        return false;
    if (rule_set_find(rs, id) >= 0)
        return true;
    for (size_t i = 0; i < rule_set_correlation_count(rs); i++) {
        const struct rule_info *ri = NULL;
        (void)rule_set_correlation(rs, i, &ri);
        if (ri && ((ri->id && !strcmp(ri->id, id)) || (ri->name && !strcmp(ri->name, id))))
            return true;
    }
    return false;
}

/* running: the rule set in force (reload), or NULL (start-up). A reload
 * that would drop a rule in force because its new version does not compile
 * is refused as a whole (TS_E_INVAL): detection stays exactly as it was,
 * and the log names the rule and where it broke. New rules that do not
 * compile are skipped as at start-up. */
static int load_rules_over(const struct rule_load_opts *lo, bool quiet,
                           const struct rule_set *running, struct rule_set **out,
                           struct ts_err *rerr, size_t *invalid)
{
    struct rule_report rep;
    struct ts_err err = {0};
    int rc = rule_set_load(out, lo, &rep, &err);
    if (rc) {
        char msg[1024];
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin: %s\n", err.code ? msg : ts_strerror(rc));
        if (err.code && rerr && !rerr->code)
            *rerr = err;
        rule_report_free(&rep);
        return rc;
    }
    for (size_t i = 0; running && i < rep.nproblems; i++) {
        const struct rule_problem *p = &rep.problems[i];
        if (rule_in_set(running, p->rule_id) && !rule_in_set(*out, p->rule_id)) {
            fprintf(stderr, "%s:%u:%u: %s: [%s] %s\n", p->file, p->line, p->col,
                    rule_problem_kind_name(p->kind), p->rule_id, p->msg);
            fprintf(stderr, "tocsin: reload refused: rule %s is in force and its new version "
                            "does not load (above); fix it and send SIGHUP again\n",
                    p->rule_id);
            ts_err_set(rerr, TS_E_INVAL, p->file, p->line, p->col,
                       "rule %s is in force and its new version does not load: %s: %s",
                       p->rule_id, rule_problem_kind_name(p->kind),
                       p->msg);
            rc = TS_E_INVAL;
        }
    }
    if (rc) {
        rule_report_free(&rep);
        rule_set_unref(*out);
        *out = NULL;
        return rc;
    }
    for (size_t i = 0; !quiet && i < rep.nproblems; i++) {
        const struct rule_problem *p = &rep.problems[i];
        fprintf(stderr, "%s:%u:%u: %s: [%s] %s\n", p->file, p->line, p->col,
                rule_problem_kind_name(p->kind), p->rule_id, p->msg);
    }
    fprintf(stderr, "tocsin: rules: %zu loaded (%zu detection, %zu filter, %zu correlation), "
                    "%zu unsupported, %zu invalid, %zu warning%s\n",
            rep.ok, rule_set_count(*out), rep.filters, rep.correlations, rep.unsupported,
            rep.invalid, rep.warnings, rep.warnings == 1 ? "" : "s");
    if (invalid)
        *invalid = rep.invalid;
    rule_report_free(&rep);
    return 0;
}

static int load_rules(const struct rule_load_opts *lo, bool quiet, struct rule_set **out,
                      size_t *invalid)
{
    return load_rules_over(lo, quiet, NULL, out, NULL, invalid);
}

/* ------------------------------------------------------------ hit counts */

/* Matches per detection rule of one rule set (by rule index): swapped with
 * the set, referenced by the batches matching against it, incremented with
 * a relaxed atomic add per match (matches are rare next to events). */
struct rt_hits {
    atomic_int refs;
    size_t n;
    _Atomic uint64_t v[];
};

static struct rt_hits *hits_new(const struct rule_set *rs)
{
    size_t n = rule_set_count(rs);
    struct rt_hits *h = calloc(1, sizeof(*h) + (n ? n : 1) * sizeof(h->v[0]));
    if (!h)
        return NULL;
    atomic_init(&h->refs, 1);
    h->n = n;
    return h;
}

static struct rt_hits *hits_ref(struct rt_hits *h)
{
    if (h)
        atomic_fetch_add(&h->refs, 1);
    return h;
}

static void hits_unref(struct rt_hits *h)
{
    if (h && atomic_fetch_sub(&h->refs, 1) == 1)
        free(h);
}

/* The counts of rules kept by a reload (same id, else same title) carry
 * over into the new set's counters. */
static void hits_carry(struct rt_hits *to, const struct rule_set *to_rs,
                       const struct rt_hits *from, const struct rule_set *from_rs)
{
    for (size_t i = 0; from && i < to->n; i++) {
        const struct rule_info *ri = rule_set_info(to_rs, i);
        const char *key = ri->id ? ri->id : ri->title;
        long j = key ? rule_set_find(from_rs, key) : -1;
        if (j >= 0 && (size_t)j < from->n)
            atomic_store(&to->v[i], atomic_load(&from->v[j]));
    }
}

int rt_det_hits(struct rt_det *d, struct rule_set **rs, uint64_t **counts, size_t *n)
{
    *rs = NULL;
    *counts = NULL;
    *n = 0;
    pthread_mutex_lock(&d->mu);
    struct rule_set *set = rule_set_ref(d->rs);
    struct rt_hits *h = hits_ref(d->hits);
    pthread_mutex_unlock(&d->mu);
    size_t cnt = h ? h->n : 0;
    uint64_t *v = calloc(cnt ? cnt : 1, sizeof(*v));
    if (!v) {
        hits_unref(h);
        rule_set_unref(set);
        return TS_E_NOMEM;
    }
    for (size_t i = 0; i < cnt; i++)
        v[i] = atomic_load_explicit(&h->v[i], memory_order_relaxed);
    hits_unref(h);
    *rs = set;
    *counts = v;
    *n = cnt;
    return 0;
}

int rt_det_open(struct rt_det *d, const struct rule_load_opts *lo, int workers,
                FILE *out, bool quiet)
{
    memset(d, 0, sizeof(*d));
    pthread_mutex_init(&d->mu, NULL);
    ts_buf_init(&d->line, 0);
    d->out = out;
    int rc = load_rules(lo, quiet, &d->rs, &d->invalid_rules);
    if (rc)
        return rc;
    if (!(d->hits = hits_new(d->rs)))
        return TS_E_NOMEM;
    size_t nr = rule_set_count(d->rs);
    if (!(d->printed = calloc(nr ? nr : 1, sizeof(*d->printed))))
        return TS_E_NOMEM;
    d->printed_rs = d->rs;
    d->nscratch = workers > 0 ? (size_t)workers : 1;
    d->scratch = calloc(d->nscratch, sizeof(*d->scratch));
    d->scratch_rs = calloc(d->nscratch, sizeof(*d->scratch_rs));
    d->re_limit = calloc(d->nscratch, sizeof(*d->re_limit));
    d->re_long = calloc(d->nscratch, sizeof(*d->re_long));
    if (!d->scratch || !d->scratch_rs || !d->re_limit || !d->re_long)
        return TS_E_NOMEM;
    for (size_t i = 0; i < d->nscratch; i++) {
        if ((rc = rule_scratch_create(&d->scratch[i], d->rs)) != 0)
            return rc;
        d->scratch_rs[i] = rule_set_ref(d->rs);
    }
    return 0;
}

struct det_swap {
    struct rt_det *d;
    struct rule_set *rs;
    struct rt_hits *hits;
    struct rule_set *old;
    struct rt_hits *old_hits;
};

/* Swap in the new set and its counters (the old counts carried over;
 * matches of batches still running with the old set after this are not). */
static void det_swap(void *ctx)
{
    struct det_swap *x = ctx;
    pthread_mutex_lock(&x->d->mu);
    x->old = x->d->rs;
    x->old_hits = x->d->hits;
    hits_carry(x->hits, x->rs, x->old_hits, x->old);
    x->d->rs = x->rs;
    x->d->hits = x->hits;
    pthread_mutex_unlock(&x->d->mu);
}

int rt_det_reload(struct rt_det *d, const struct rule_load_opts *lo,
                  const struct corr_opts *co, struct ts_err *err)
{
    bool correlating = d->corr && corr_rule_count(d->corr->ce) > 0;
    if (d->corr && (!d->corr->st || d->corr->final_only) && correlating) {
        /* without a store the engine's state cannot be carried over */
        fprintf(stderr, "tocsin: rules are not reloaded while correlation runs without "
                        "paths.data_dir; restart to load new rules\n");
        return ts_err_set(err, TS_E_UNSUPPORTED, NULL, 0, 0,
                          "rules are not reloaded while correlation runs without "
                          "paths.data_dir; restart to load new rules");
    }
    struct rule_set *rs = NULL;
    pthread_mutex_lock(&d->mu);
    struct rule_set *running = rule_set_ref(d->rs);
    pthread_mutex_unlock(&d->mu);
    int rc = load_rules_over(lo, false, running, &rs, err, NULL);
    rule_set_unref(running);
    if (rc) {
        fprintf(stderr, "tocsin: reload failed; the previous rules stay in force\n");
        rule_set_unref(rs);
        return rc;
    }
    struct det_swap x = {d, rs, hits_new(rs), NULL, NULL};
    if (!x.hits) {
        rule_set_unref(rs);
        return ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "out of memory");
    }
    if (d->corr && d->corr->st && !d->corr->final_only) {
        /* the engine indexes the rule set: a new one for the new set, its
         * state carried over, swapped with the rules while no batch runs */
        rc = rt_corr_reload(d->corr, rs, co, det_swap, &x);
        if (rc) {
            ts_err_set(err, rc, NULL, 0, 0, "%s",
                       rc == TS_E_LIMIT ? "batches in flight did not finish within 10 s"
                                        : "the correlation engine was not rebuilt (the "
                                          "server's log says why)");
            hits_unref(x.hits);
            rule_set_unref(rs);
            return rc;
        }
    } else {
        det_swap(&x);
    }
    rule_set_unref(x.old); /* batches in flight hold their own references */
    hits_unref(x.old_hits);
    return 0;
}

void rt_det_close(struct rt_det *d)
{
    for (size_t i = 0; d->scratch && i < d->nscratch; i++) {
        rule_scratch_free(d->scratch[i]);
        if (d->scratch_rs)
            rule_set_unref(d->scratch_rs[i]);
    }
    free(d->scratch);
    free(d->scratch_rs);
    free(d->printed);
    d->printed = NULL;
    free((void *)d->re_limit);
    free((void *)d->re_long);
    d->re_limit = d->re_long = NULL;
    rule_set_unref(d->rs);
    hits_unref(d->hits);
    d->hits = NULL;
    ts_buf_free(&d->line);
    rt_pending_destroy(d->pend);
    d->pend = NULL;
    pthread_mutex_destroy(&d->mu);
    d->scratch = NULL;
    d->rs = NULL;
}

static int json_list(struct ts_buf *b, const char *key, const char *const *v, size_t n)
{
    int rc = ts_buf_printf(b, ",\"%s\":[", key);
    for (size_t i = 0; !rc && i < n; i++) {
        if (i)
            rc = ts_buf_putc(b, ',');
        if (!rc)
            rc = ts_buf_json_str(b, v[i], strlen(v[i]));
    }
    return rc ? rc : ts_buf_putc(b, ']');
}

static int json_kv(struct ts_buf *b, const char *key, const char *v)
{
    if (!v)
        return 0;
    int rc = ts_buf_printf(b, ",\"%s\":", key);
    return rc ? rc : ts_buf_json_str(b, v, strlen(v));
}

static int match_locked(void *ctx, const struct ts_event *ev, size_t idx);

struct match_ctx {
    struct rt_det *d;
    struct rule_set *rs; /* the set this batch matches against (a reference) */
    struct rt_hits *hits; /* its counters (a reference) */
    struct rule_scratch *s;
    int worker;
    const struct ingest_batch *b;
};

/* One detection: the rule (with its author: the Detection Rule License of
 * SigmaHQ requires it to travel with alerts), the event's position and time,
 * and what matched. Called with d->mu held. */
static int on_match(void *ctx, const struct ts_event *ev, size_t idx)
{
    struct match_ctx *m = ctx;
    struct rt_det *d = m->d;
    const struct rule_info *ri = rule_set_info(m->rs, idx);
    struct ts_buf *b = &d->line;
    char ts[48];
    ts_buf_reset(b);
    ts_format_rfc3339(ev->time_ns, ts, sizeof(ts));
    int rc = ts_buf_printf(b, "{\"kind\":\"detection\",\"@timestamp\":\"%s\"", ts);
    rc = rc ? rc : json_kv(b, "tenant", ev->tenant);
    rc = rc ? rc : json_kv(b, "rule_id", ri->id);
    rc = rc ? rc : json_kv(b, "rule_title", ri->title);
    rc = rc ? rc : json_kv(b, "level", ri->level);
    rc = rc ? rc : json_kv(b, "status", ri->status);
    rc = rc ? rc : json_kv(b, "author", ri->author);
    rc = rc ? rc : json_list(b, "tags", ri->tags, ri->ntags);
    rc = rc ? rc : json_list(b, "references", ri->references, ri->nreferences);
    rc = rc ? rc : json_kv(b, "rule_file", ri->file);
    rc = rc ? rc : ts_buf_puts(b, ",\"source\":");
    rc = rc ? rc : ts_srcpos_to_json(&ev->src, b);
    rc = rc ? rc : ts_buf_puts(b, ",\"match\":");
    rc = rc ? rc : rule_explain(m->rs, m->s, idx, ev, b);
    rc = rc ? rc : ts_buf_puts(b, "}\n");
    if (rc)
        return rc;
    if (d->out && d->pend) { /* printed at the batch's commit, if the fence lets it */
        if ((rc = rt_pending_add(d->pend, m->worker, ev, b->data, b->len)) != 0)
            return rc == TS_E_LIMIT ? TS_E_IO : rc;
    } else if (d->out && fwrite(b->data, 1, b->len, d->out) != b->len) {
        return TS_E_IO;
    }
    d->detections++;
    if (d->printed && m->rs == d->printed_rs) {
        struct rt_det_rule_stat *st = &d->printed[idx];
        if (!st->n++ || ev->time_ns < st->first_ns)
            st->first_ns = ev->time_ns;
        if (st->n == 1 || ev->time_ns > st->last_ns)
            st->last_ns = ev->time_ns;
    }
    return 0;
}

int rt_det_process(struct rt_det *d, const struct ingest_batch *b)
{
    size_t w = b->worker >= 0 && (size_t)b->worker < d->nscratch ? (size_t)b->worker : 0;
    pthread_mutex_lock(&d->mu);
    struct rule_set *rs = rule_set_ref(d->rs);
    struct rt_hits *hits = hits_ref(d->hits);
    pthread_mutex_unlock(&d->mu);
    if (d->scratch_rs[w] != rs) { /* a reload swapped the set: new scratch */
        struct rule_scratch *ns = NULL;
        if (rule_scratch_create(&ns, rs) != 0) {
            hits_unref(hits);
            rule_set_unref(rs);
            return TS_E_NOMEM;
        }
        struct rule_match_stats ms; /* keep what the old scratch counted */
        rule_scratch_stats(d->scratch[w], &ms);
        atomic_fetch_add(&d->re_limit_base, ms.re_limit_hits);
        atomic_fetch_add(&d->re_long_base, ms.re_too_long);
        rule_scratch_free(d->scratch[w]);
        rule_set_unref(d->scratch_rs[w]);
        d->scratch[w] = ns;
        d->scratch_rs[w] = rule_set_ref(rs);
    }
    if (d->pend) { /* a batch that failed before its commit left its lines */
        pthread_mutex_lock(&d->mu);
        rt_pending_reset(d->pend, b->worker);
        pthread_mutex_unlock(&d->mu);
    }
    struct match_ctx m = {d, rs, hits, d->scratch[w], b->worker, b};
    int rc = 0;
    for (uint32_t i = 0; !rc && i < b->n; i++) {
        /* matching runs unlocked; only a detection's output takes the lock */
        rc = rule_match(rs, m.s, &b->events[i], match_locked, &m);
    }
    struct rule_match_stats ms; /* published for the stats thread (this worker's slot) */
    rule_scratch_stats(m.s, &ms);
    atomic_store(&d->re_limit[w], ms.re_limit_hits);
    atomic_store(&d->re_long[w], ms.re_too_long);
    hits_unref(hits);
    rule_set_unref(rs);
    return rc;
}

void rt_det_re_stats(struct rt_det *d, uint64_t *limit_hits, uint64_t *too_long)
{
    *limit_hits = atomic_load(&d->re_limit_base);
    *too_long = atomic_load(&d->re_long_base);
    for (size_t i = 0; d->re_limit && i < d->nscratch; i++) {
        *limit_hits += atomic_load(&d->re_limit[i]);
        *too_long += atomic_load(&d->re_long[i]);
    }
}

static int match_locked(void *ctx, const struct ts_event *ev, size_t idx)
{
    struct match_ctx *m = ctx;
    if (m->hits && idx < m->hits->n)
        atomic_fetch_add_explicit(&m->hits->v[idx], 1, memory_order_relaxed);
    if (m->d->rekey) { /* distributed stage A */
        int rc = rt_rekey_route(m->d->rekey, m->worker, m->rs, idx, ev, m->b);
        if (rc)
            return rc;
        if (!rt_rekey_standalone(m->d->rekey, m->worker, m->rs, idx))
            return 0;
    } else if (m->d->corr) {
        int rc = rt_corr_collect(m->d->corr, m->worker, idx, ev);
        if (rc)
            return rc;
        if (!corr_detection_standalone(m->d->corr->ce, idx))
            return 0; /* only its correlations alert */
    }
    pthread_mutex_lock(&m->d->mu);
    int rc = on_match(ctx, ev, idx);
    pthread_mutex_unlock(&m->d->mu);
    return rc;
}

int rt_det_commit_kept(struct rt_det *d, const struct ingest_batch *b,
                       bool (*keep)(void *ctx, const char *topic, int32_t partition,
                                    int64_t offset),
                       void *ctx)
{
    if (!d->pend || !d->out)
        return rt_det_flush(d);
    pthread_mutex_lock(&d->mu);
    uint64_t printed = 0, dropped = 0;
    int rc = rt_pending_write(d->pend, b->worker, d->out, keep, ctx, &printed, &dropped);
    d->dropped += dropped;
    d->detections -= dropped < d->detections ? dropped : d->detections; /* counted at match */
    if (!rc && fflush(d->out) != 0)
        rc = TS_E_IO;
    pthread_mutex_unlock(&d->mu);
    return rc;
}

int rt_det_flush(struct rt_det *d)
{
    pthread_mutex_lock(&d->mu);
    int rc = d->out && fflush(d->out) != 0 ? TS_E_IO : 0;
    pthread_mutex_unlock(&d->mu);
    return rc;
}
