/* due.c - the due-report pass: outbox entries for reports that fall due
 * without an incident change (the next periodic update; a required report
 * overdue with nothing pending or delivered), each queued exactly once per
 * due time (escalate.h "due reports"). The deadline walk (plan.c) finds
 * them; the candidates are kept (incident ids copied, report and
 * recipient ids borrowed from the regime) until the walk is over, then
 * each is checked against the outbox and put, all in the caller's write
 * transaction. Owns nothing past the call; reentrant; runs on the caller's
 * thread (the dispatcher's first thread, or the CLI). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/tstime.h"
#include "esc_int.h"

struct cand {
    char *incident;     /* owned */
    struct esc_due due; /* strings borrowed from the regime; due_ns: the one queued */
};

struct walk {
    const struct esc_env *env;
    unsigned kinds;
    bool policy_list;  /* overdue: only the policy's report ids */
    int64_t now;
    struct cand *v;
    size_t n, max;
    bool more;
    int rc;
};

static bool overdue_listed(const struct esc_policy *p, const char *report)
{
    for (size_t i = 0; i < p->nauto_overdue; i++)
        if (!strcmp(p->auto_overdue[i], report))
            return true;
    return false;
}

static int consider(void *ctx, const struct esc_deadline *d)
{
    struct walk *w = ctx;
    const struct esc_due *due = d->due;
    if (d->delivery == ESC_DELIVERY_PENDING || d->delivery == ESC_DELIVERY_DONE)
        return 0;
    if (!due->due_ns || due->due_ns > w->now)
        return 0;
    int64_t at = due->due_ns;
    if (due->every_ns > 0) {
        if (!(w->kinds & ESC_AUTO_PERIODIC))
            return 0;
        /* several periods missed (the pass did not run, or was just
         * enabled): one entry, for the latest due time that has passed */
        at += (w->now - at) / due->every_ns * due->every_ns;
    } else {
        if (!(w->kinds & ESC_AUTO_OVERDUE) || !due->mandatory || due->due_ns == w->now)
            return 0;
        if (w->policy_list && !overdue_listed(w->env->policy, due->report))
            return 0;
    }
    if (w->n == w->max) {
        w->more = true;
        return 1; /* stop the walk: the rest next pass */
    }
    char *id = strdup(d->incident->id);
    if (!id) {
        w->rc = TS_E_NOMEM;
        return 1;
    }
    struct cand *c = &w->v[w->n++];
    c->incident = id;
    c->due = *due;
    c->due.due_ns = at / TS_NS_PER_SEC * TS_NS_PER_SEC; /* as the id says */
    return 0;
}

static void walk_free(struct walk *w)
{
    for (size_t i = 0; w->v && i < w->n; i++)
        free(w->v[i].incident);
    free(w->v);
}

/* Check and put one candidate. */
static int queue_one(const struct esc_env *env, struct store_txn *t, const struct cand *c,
                     struct ts_arena *arena, const struct esc_due_opts *o,
                     struct esc_due_stats *st)
{
    char id[STORE_ID_MAX + 1];
    int n = snprintf(id, sizeof(id), "%s:due%lld:%s:%s", c->incident,
                     (long long)(c->due.due_ns / TS_NS_PER_SEC), c->due.recipient,
                     c->due.report);
    if (n < 0 || (size_t)n > STORE_ID_MAX)
        return 0; /* incident id too long for an outbox id: as esc_outbox_build */
    ts_arena_reset(arena);
    struct store_outbox have;
    int rc = store_outbox_get(t, id, arena, &have);
    if (rc == 0) {
        st->existing++;
        return 0;
    }
    if (rc != TS_E_NOTFOUND)
        return rc;
    struct store_incident cur;
    if ((rc = store_incident_get(t, c->incident, arena, &cur)) != 0)
        return rc == TS_E_NOTFOUND ? 0 : rc; /* deleted meanwhile (retention) */
    struct esc_outbox_batch b;
    memset(&b, 0, sizeof(b));
    rc = esc_outbox_add(env, t, &cur, &c->due, id, store_txn_now(t), &b);
    if (rc == TS_E_INVAL) /* the regime no longer has it: nothing to send */
        rc = 0;
    if (!rc && b.n == 1) {
        rc = store_outbox_put(t, &b.entries[0]);
        if (!rc) {
            st->queued++;
            if (o && o->queued)
                o->queued(o->ctx, &b.entries[0]);
        }
    }
    esc_outbox_batch_free(&b);
    return rc;
}

int esc_due_queue(const struct esc_env *env, struct store_txn *t, const struct esc_due_opts *o,
                  struct esc_due_stats *st)
{
    struct esc_due_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    if (!env || !env->regime || !t)
        return TS_E_INVAL;
    struct walk w = {.env = env};
    w.kinds = o && o->kinds ? o->kinds : esc_policy_auto_send(env->policy);
    w.policy_list = !(o && o->kinds) && env->policy && env->policy->nauto_overdue;
    if (!w.kinds)
        return 0;
    w.now = o && o->now_ns ? o->now_ns : store_txn_now(t);
    w.max = o && o->max && o->max < ESC_DUE_PASS_MAX ? o->max : ESC_DUE_PASS_MAX;
    if (!(w.v = calloc(w.max, sizeof(*w.v))))
        return TS_E_NOMEM;
    int rc = esc_deadlines_list(env, t, w.now, 0, ESC_DL_ALL, consider, &w);
    if (rc == 1)
        rc = w.rc;
    struct ts_arena *arena = NULL;
    if (!rc && w.n)
        rc = ts_arena_create(&arena, 64u << 10, (size_t)STORE_PAYLOAD_MAX * 2);
    for (size_t i = 0; !rc && i < w.n; i++)
        rc = queue_one(env, t, &w.v[i], arena, o, st);
    st->more = !rc && w.more;
    ts_arena_destroy(arena);
    walk_free(&w);
    return rc;
}

struct run_ctx {
    const struct esc_env *env;
    const struct esc_due_opts *o;
    struct esc_due_stats *st;
};

static int run_txn(struct store_txn *t, void *ctx)
{
    struct run_ctx *r = ctx;
    return esc_due_queue(r->env, t, r->o, r->st);
}

int esc_due_queue_run(const struct esc_env *env, struct store *s, const struct esc_due_opts *o,
                      struct esc_due_stats *st, struct ts_err *err)
{
    struct esc_due_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    if (!env || !env->regime || !s)
        return TS_E_INVAL;
    unsigned kinds = o && o->kinds ? o->kinds : esc_policy_auto_send(env->policy);
    if (!kinds)
        return 0; /* no write txn at all */
    struct run_ctx r = {env, o, st};
    return store_txn_run(s, run_txn, &r, err);
}
