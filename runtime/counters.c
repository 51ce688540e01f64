/* counters.c - the per-period counters of a pipeline with a store (`run`,
 * `replay --db`, `hunt --db`): what each batch brought (events by source and
 * tenant, detections by rule and level, dead letters and events no decoder
 * read) is added to an accumulator when the batch reaches the correlation
 * stage, and written with the correlation's losses (late, left out, refused
 * by LMDB) in the transaction that commits the batch's offsets: a batch is
 * counted exactly when its offsets are stored, so a resumed replay or a run
 * restarted after kill -9 counts nothing twice.
 * Hours: events and detections by event time, losses by processing time
 * (docs/escalation.md "Monitoring reports").
 * Called by corr_stage.c with the stage mutex held (one thread at a time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/tstime.h"
#include "runtime.h"
#include "runtime_int.h"

#define NS_PER_HOUR (3600LL * TS_NS_PER_SEC)

struct rt_counters {
    struct store_counters *acc;   /* the batches since the last commit */
    struct store_counters *txn;   /* the engine's losses of the txn being built */
    uint64_t late_seen, left_seen; /* engine totals at the last commit */
    uint64_t late_now, left_now;   /* as of the txn being built */
};

void rt_counters_free(struct rt_counters *c)
{
    if (!c)
        return;
    store_counters_destroy(c->acc);
    store_counters_destroy(c->txn);
    free(c);
}

static int ensure(struct rt_corr *cs)
{
    if (cs->counters)
        return 0;
    struct rt_counters *c = calloc(1, sizeof(*c));
    if (!c || store_counters_create(&c->acc) || store_counters_create(&c->txn)) {
        rt_counters_free(c);
        return TS_E_NOMEM;
    }
    cs->counters = c;
    return 0;
}

/* detections over the limits: over TS_E_LIMIT the accumulator dropped
 * them into its own count, the batch goes on */
static int add(struct store_counters *c, int64_t t, enum store_counter_kind k, const char *tenant,
               const char *a, const char *b, const char *label, uint64_t n)
{
    int rc = store_counters_add(c, t, k, tenant, a, b, label, n);
    return rc == TS_E_LIMIT ? 0 : rc;
}

int rt_counters_batch(struct rt_corr *cs, const struct ingest_batch *b,
                      const struct rt_corr_pairs *p)
{
    if (!cs->st || !b)
        return 0;
    int rc = ensure(cs);
    struct store_counters *acc = rc ? NULL : cs->counters->acc;
    /* the distributed mode's stage B: the batch is the internal topic's
     * re-keyed detections (one record per use), not ingested events */
    for (size_t i = 0; p && i < p->n; i++)
        if (p->v[i].use != RT_CORR_ALL_USES)
            return rc;
    /* events: runs of one source, tenant and hour added at once */
    const char *src = NULL, *ten = NULL;
    int64_t hour = 0, t0 = 0;
    uint64_t run = 0;
    for (uint32_t i = 0; !rc && i <= b->n; i++) {
        const struct ts_event *ev = i < b->n ? &b->events[i] : NULL;
        if (ev && cs->fence_partial && rt_corr_fed(cs, ev))
            continue; /* counted with the batch that fed it first */
        const char *s = ev && ev->src.name ? ev->src.name : "";
        const char *tn = ev && ev->tenant ? ev->tenant : "";
        int64_t h = ev ? ev->time_ns / NS_PER_HOUR : 0;
        if (run && (!ev || h != hour || (s != src && strcmp(s, src)) || (tn != ten && strcmp(tn, ten)))) {
            rc = add(acc, t0, STORE_COUNTER_EVENTS, ten, src, "", NULL, run);
            run = 0;
        }
        if (!ev)
            break;
        if (!run) {
            src = s;
            ten = tn;
            hour = h;
            t0 = ev->time_ns;
        }
        run++;
    }
    /* detections: those that alert on their own (what replay prints and
     * counts as "detections"), not the ones only their correlations use */
    for (size_t i = 0; !rc && p && i < p->n; i++) {
        const struct rt_corr_pair *x = &p->v[i];
        if (x->use != RT_CORR_ALL_USES || !corr_detection_standalone(cs->ce, x->rule))
            continue;
        const struct rule_info *ri = corr_detection_info(cs->ce, x->rule);
        const char *id = ri && ri->id ? ri->id : ri && ri->title ? ri->title : "?";
        rc = add(acc, x->ev->time_ns, STORE_COUNTER_DETECTIONS, x->ev->tenant, id,
                 ri && ri->level ? ri->level : "", ri ? ri->title : NULL, 1);
    }
    /* what ingest lost of this batch, in the hour it was lost */
    /* the batch's source: a file's resume key is "path#dev:inode" */
    char where[STORE_COUNTER_B_MAX + 1] = "";
    if (b->noffsets) {
        const char *w = b->offsets[0].topic, *h = b->offsets[0].partition < 0 ? strrchr(w, '#') : NULL;
        size_t wl = h ? (size_t)(h - w) : strlen(w);
        snprintf(where, sizeof(where), "%.*s", (int)(wl < sizeof(where) ? wl : sizeof(where) - 1), w);
    }
    int64_t now = ts_now_ns();
    if (!rc && b->dead_letters)
        rc = add(acc, now, STORE_COUNTER_LOSS, "", "dead_letter", where, NULL, b->dead_letters);
    if (!rc && b->no_decoder)
        rc = add(acc, now, STORE_COUNTER_LOSS, "", "no_decoder", where, NULL, b->no_decoder);
    return rc;
}

/* the engine's totals (those of engines a reload replaced included) */
static void engine_losses(struct rt_corr *cs, uint64_t *late, uint64_t *left)
{
    struct corr_metrics m;
    corr_metrics_get(cs->ce, &m);
    const struct corr_metrics *b = &cs->base;
    *late = m.late_beyond + b->late_beyond;
    *left = m.missing_group_field + m.missing_value + m.keys_cap_hit + m.tenant_keys_cap_hit +
            m.bad_tenant + b->missing_group_field + b->missing_value + b->keys_cap_hit +
            b->tenant_keys_cap_hit + b->bad_tenant;
}

int rt_counters_write(struct rt_corr *cs, struct store_txn *t)
{
    if (!cs->st)
        return 0;
    int rc = ensure(cs);
    if (rc)
        return rc;
    struct rt_counters *c = cs->counters;
    /* rebuilt on each try of the txn (a retry after the map grew) */
    store_counters_clear(c->txn);
    engine_losses(cs, &c->late_now, &c->left_now);
    int64_t now = store_txn_now(t);
    if (c->late_now > c->late_seen)
        rc = add(c->txn, now, STORE_COUNTER_LOSS, "", "late", "correlation", NULL,
                 c->late_now - c->late_seen);
    if (!rc && c->left_now > c->left_seen)
        rc = add(c->txn, now, STORE_COUNTER_LOSS, "", "left_out", "correlation", NULL,
                 c->left_now - c->left_seen);
    if (!rc && cs->refused_txn)
        rc = add(c->txn, now, STORE_COUNTER_LOSS, "", "store_refused", "storage", NULL,
                 cs->refused_txn);
    rc = rc ? rc : store_counters_write(t, c->acc);
    return rc ? rc : store_counters_write(t, c->txn);
}

void rt_counters_committed(struct rt_corr *cs)
{
    struct rt_counters *c = cs->counters;
    if (!c)
        return;
    store_counters_clear(c->acc);
    store_counters_clear(c->txn);
    c->late_seen = c->late_now;
    c->left_seen = c->left_now;
}
