/* outbox.c - the outbox entries an incident change causes: which reports
 * are sent now (per the regime's `send:` of each report owed), each with a
 * stable id and the JSON document as payload, for store_outbox_put in the
 * batch's transaction. The batch owns its ids and payloads (malloc'd,
 * freed by esc_outbox_batch_free). Runs on the caller's thread. */
#include <stdlib.h>
#include <string.h>

#include "esc_int.h"

#define PAYLOAD_CAP ((size_t)STORE_PAYLOAD_MAX)

struct ev_collect {
    struct store_evidence *v;
    size_t n, cap;
    struct ts_arena *arena;
    int rc;
    struct esc_sent sent[ESC_SENT_MAX]; /* confirmed deliveries (form 03) */
    size_t nsent;
};

static int ev_add(void *ctx, const struct store_evidence *ev)
{
    struct ev_collect *c = ctx;
    if (c->n >= ESC_EVIDENCE_REFS_MAX)
        return 1; /* enough: stop */
    c->v[c->n++] = *ev;
    return 0;
}

static bool pending_send(const struct esc_rreport *rep, const struct esc_due *d,
                         const struct esc_plan *prevp, const struct store_incident *prev,
                         const struct store_incident *cur, bool cur_open)
{
    bool was_due = false;
    for (size_t i = 0; prevp && i < prevp->n; i++)
        if (prevp->items[i].report == d->report &&
            !strcmp(prevp->items[i].recipient, d->recipient))
            was_due = true;
    switch (rep->send) {
    case ESC_SEND_ON_DETECT:
        return cur_open && !was_due;
    case ESC_SEND_ON_CHANGE:
        if (!cur_open || !prev || !was_due)
            return false;
        return cur->severity > prev->severity ||
               (cur->status != prev->status && cur->status != STORE_STATUS_RESOLVED);
    case ESC_SEND_ON_RESOLVE:
        return cur->status == STORE_STATUS_RESOLVED &&
               (!prev || prev->status != STORE_STATUS_RESOLVED);
    case ESC_SEND_MANUAL:
        return false;
    }
    return false;
}

void esc_outbox_batch_free(struct esc_outbox_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nmem; i++)
        free(b->mem[i]);
    b->nmem = 0;
    b->n = 0;
}

/* Up to ESC_EVIDENCE_REFS_MAX evidence records of an incident (strings in
 * c->arena). t NULL: none. */
static int ev_read(struct store_txn *t, const char *incident_id, struct ev_collect *c)
{
    memset(c, 0, sizeof(*c));
    if (!t)
        return 0;
    c->v = malloc(ESC_EVIDENCE_REFS_MAX * sizeof(*c->v));
    int rc = c->v ? ts_arena_create(&c->arena, 64u << 10, 16u << 20) : TS_E_NOMEM;
    if (!rc) {
        rc = store_evidence_foreach(t, incident_id, c->arena, ev_add, c);
        if (rc == 1 || rc == TS_E_NOTFOUND)
            rc = 0;
    }
    if (!rc) /* who was told already: the outbox's confirmed deliveries */
        rc = esc_sent_read(t, incident_id, c->arena, c->sent, ESC_SENT_MAX, &c->nsent);
    return rc;
}

static void ev_free(struct ev_collect *c)
{
    free(c->v);
    ts_arena_destroy(c->arena);
    memset(c, 0, sizeof(*c));
}

/* The entry of report d for cur, appended to out. id NULL: the revision id. */
static int entry_add(const struct esc_env *env, const struct store_incident *cur,
                     const struct esc_due *d, const struct ev_collect *evc, const char *id,
                     int64_t now_ns, struct esc_outbox_batch *out)
{
    const struct esc_rreport *rep = esc_regime_report(env->regime, d->report);
    if (!rep)
        return TS_E_INVAL;
    if (out->n == ESC_PLAN_MAX || out->nmem + 2 > TS_ARRAY_LEN(out->mem))
        return TS_E_LIMIT;
    struct esc_report_opts o = {
        .recipient = d->recipient,
        .stage = d->stage,
        .format = ESC_FORMAT_JSON,
        .evidence = evc->v,
        .nevidence = evc->n,
        .now_ns = now_ns,
        .sent = evc->sent,
        .nsent = evc->nsent,
    };
    struct esc_doc doc;
    int rc = esc_doc_init(&doc, env, cur, &o);
    if (rc)
        return rc;
    /* The document is for exactly this report (a recipient may owe two
     * reports of one stage, e.g. a notice and form 03). */
    doc.report = rep;
    doc.due = d;
    doc.report_id = id;
    struct ts_buf bid, payload;
    ts_buf_init(&bid, STORE_ID_MAX);
    ts_buf_init(&payload, PAYLOAD_CAP);
    rc = esc_report_id(&doc, &bid);
    if (rc == TS_E_LIMIT)
        rc = TS_E_INVAL; /* incident id too long for an outbox id */
    rc = rc ? rc : esc_render_json(&doc, &payload);
    if (rc) {
        ts_buf_free(&bid);
        ts_buf_free(&payload);
        return rc;
    }
    out->mem[out->nmem++] = bid.data;
    out->mem[out->nmem++] = payload.data;
    struct store_outbox *e = &out->entries[out->n++];
    memset(e, 0, sizeof(*e));
    e->id = bid.data;
    e->incident_id = cur->id;
    e->revision = cur->revision;
    e->recipient = d->recipient;
    e->channel = esc_policy_channel(env->policy, esc_orgs_find(env->orgs, cur->tenant),
                                    d->recipient);
    e->payload = payload.data;
    e->payload_len = payload.len;
    e->next_attempt_ns = 0;
    return 0;
}

int esc_outbox_build(const struct esc_env *env, struct store_txn *t,
                     const struct store_incident *prev, const struct store_incident *cur,
                     int64_t now_ns, struct esc_outbox_batch *out)
{
    if (!env || !env->regime || !cur || !out)
        return TS_E_INVAL;
    memset(out, 0, sizeof(*out));
    struct esc_plan *plan = malloc(sizeof(*plan));
    struct esc_plan *prevp = prev ? malloc(sizeof(*prevp)) : NULL;
    if (!plan || (prev && !prevp)) {
        free(plan);
        free(prevp);
        return TS_E_NOMEM;
    }
    struct ev_collect evc;
    int rc = ev_read(t, cur->id, &evc);
    /* prev and cur are judged on the same evidence (the same system). */
    rc = rc ? rc : esc_plan_incident_ev(env, cur, evc.v, evc.n, plan);
    if (!rc && prev)
        rc = esc_plan_incident_ev(env, prev, evc.v, evc.n, prevp);
    for (size_t i = 0; !rc && i < plan->n; i++) {
        const struct esc_due *d = &plan->items[i];
        const struct esc_rreport *rep = esc_regime_report(env->regime, d->report);
        if (rep && pending_send(rep, d, prevp, prev, cur, plan->facts.open))
            rc = entry_add(env, cur, d, &evc, NULL, now_ns, out);
    }
    ev_free(&evc);
    free(plan);
    free(prevp);
    if (rc)
        esc_outbox_batch_free(out);
    return rc;
}

int esc_outbox_add(const struct esc_env *env, struct store_txn *t, const struct store_incident *cur,
                   const struct esc_due *d, const char *id, int64_t now_ns,
                   struct esc_outbox_batch *out)
{
    if (!env || !env->regime || !cur || !d || !id || !out)
        return TS_E_INVAL;
    struct ev_collect evc;
    int rc = ev_read(t, cur->id, &evc);
    rc = rc ? rc : entry_add(env, cur, d, &evc, id, now_ns, out);
    ev_free(&evc);
    return rc;
}

int esc_outbox_put_all(struct store_txn *t, const struct esc_outbox_batch *b)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < b->n; i++)
        rc = store_outbox_put(t, &b->entries[i]);
    return rc;
}
