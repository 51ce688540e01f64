/* plan.c - classification of an incident (tags -> national type), the
 * facts the regime and policy conclude (level, serious, national security,
 * beyond capacity), the reports owed with their due times, and the walk
 * over the store for overdue or near-due reports. No allocation except in
 * esc_deadlines_list (its delivery index, capped). Reentrant. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/tstime.h"
#include "esc_int.h"

/* ------------------------------------------------------------ classify */

static const struct esc_tagmap *tag_find(const struct esc_taxonomy *t, const char *tag)
{
    size_t lo = 0, hi = t->ntags;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(t->tags[mid].tag, tag);
        if (c == 0)
            return &t->tags[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static const enum esc_type default_priority[] = {
    ESC_TYPE_RANSOMWARE, ESC_TYPE_DESTRUCTION, ESC_TYPE_ESPIONAGE, ESC_TYPE_TAKEOVER,
    ESC_TYPE_DEFACEMENT, ESC_TYPE_DOS,         ESC_TYPE_MALWARE,   ESC_TYPE_PHISHING,
};

void esc_classify(const struct esc_taxonomy *t, const char *const *tags, size_t ntags,
                  struct esc_class *out)
{
    memset(out, 0, sizeof(*out));
    out->type = out->primary = ESC_TYPE_OTHER;
    if (!t)
        return;
    for (size_t i = 0; i < ntags; i++) {
        char low[128];
        size_t n = tags[i] ? strlen(tags[i]) : 0;
        if (n == 0 || n >= sizeof(low))
            continue;
        for (size_t j = 0; j <= n; j++)
            low[j] = (char)((tags[i][j] >= 'A' && tags[i][j] <= 'Z') ? tags[i][j] + 32
                                                                      : tags[i][j]);
        const struct esc_tagmap *m = tag_find(t, low);
        if (!m) {
            /* attack.t1110.003 -> attack.t1110 */
            char *dot = strrchr(low, '.');
            if (dot && dot > low + 8 && !strncmp(low, "attack.t", 8)) {
                *dot = '\0';
                m = tag_find(t, low);
            }
        }
        if (m) {
            out->types |= m->types;
            out->impacts |= m->impacts;
            out->tag_impacts |= m->impacts;
        }
    }
    out->types &= ~(1u << ESC_TYPE_OTHER);
    if (!out->types)
        return;
    const enum esc_type *prio = t->npriority ? t->priority : default_priority;
    size_t np = t->npriority ? t->npriority : TS_ARRAY_LEN(default_priority);
    for (size_t i = 0; i < np; i++)
        if (out->types & (1u << prio[i])) {
            out->primary = prio[i];
            break;
        }
    if (out->primary == ESC_TYPE_OTHER) /* a type the priority list leaves out */
        for (unsigned b = 0; b < ESC_TYPE_COUNT; b++)
            if (out->types & (1u << b)) {
                out->primary = (enum esc_type)b;
                break;
            }
    unsigned nt = 0;
    for (unsigned b = 0; b < ESC_TYPE_COUNT; b++)
        if (out->types & (1u << b)) {
            nt++;
            out->impacts |= t->types[b].impacts;
        }
    out->type = (t->combine && nt > 1 && !(out->types & (1u << ESC_TYPE_COMBINED)))
                    ? ESC_TYPE_COMBINED
                    : out->primary;
}

/* ------------------------------------------------------------------ plan */

static bool cond_holds(const struct esc_cond *c, const struct esc_facts *f)
{
    if (c->min_level && f->level < c->min_level)
        return false;
    if (c->min_severity >= 0 && f->severity < c->min_severity)
        return false;
    if (c->types && !(c->types & (f->cls.types | (1u << f->cls.type))))
        return false;
    if (c->impacts && !(c->impacts & f->cls.impacts))
        return false;
    if (c->open >= 0 && (bool)c->open != f->open)
        return false;
    return true;
}

static bool conds_hold(const struct esc_conds *cs, const struct esc_facts *f)
{
    for (size_t i = 0; i < cs->n; i++)
        if (cond_holds(&cs->v[i], f))
            return true;
    return false;
}

static bool rule_matches(const struct esc_prule *r, const struct esc_regime *reg,
                         const struct store_incident *inc, const struct esc_facts *f)
{
    if (r->ntenants) {
        size_t i = 0;
        while (i < r->ntenants && strcmp(r->tenants[i], inc->tenant ? inc->tenant : "") != 0)
            i++;
        if (i == r->ntenants)
            return false;
    }
    if (r->nregimes) {
        size_t i = 0;
        while (i < r->nregimes && strcmp(r->regimes[i], reg->id) != 0)
            i++;
        if (i == r->nregimes)
            return false;
    }
    if (r->types && !(r->types & (f->cls.types | (1u << f->cls.type))))
        return false;
    if (r->min_severity >= 0 && f->severity < r->min_severity)
        return false;
    if (r->min_level && f->level < r->min_level)
        return false;
    return true;
}

static int64_t response_end(const struct store_incident *inc)
{
    if (inc->status != STORE_STATUS_RESOLVED)
        return 0;
    return inc->status_ns ? inc->status_ns : inc->updated_ns;
}

static void add_item(struct esc_plan *p, const struct esc_regime *r, const struct esc_rreport *rep,
                     size_t ri, bool mandatory)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].report == rep->id && !strcmp(p->items[i].recipient, r->recipients[ri].id)) {
            p->items[i].mandatory |= mandatory && r->recipients[ri].required;
            return;
        }
    if (p->n == ESC_PLAN_MAX) {
        p->truncated = true;
        return;
    }
    struct esc_due *d = &p->items[p->n++];
    d->recipient = r->recipients[ri].id;
    d->report = rep->id;
    d->stage = rep->stage;
    d->form = rep->form;
    d->mandatory = mandatory && r->recipients[ri].required;
    d->every_ns = rep->every_ns;
    int64_t anchor = rep->anchor == ESC_ANCHOR_DETECTED ? p->facts.detected_ns
                                                        : p->facts.response_end_ns;
    d->due_ns = anchor ? anchor + rep->within_ns : 0;
}

static int item_order(const struct esc_regime *r, const struct esc_due *d)
{
    int ri = 0, pi = 0;
    for (size_t i = 0; i < r->nreports; i++)
        if (r->reports[i].id == d->report)
            pi = (int)i;
    ri = esc_regime_recipient(r, d->recipient);
    return pi * ESC_RECIPIENTS_MAX + ri;
}

int esc_plan_incident(const struct esc_env *env, const struct store_incident *inc,
                      struct esc_plan *out)
{
    return esc_plan_incident_ev(env, inc, NULL, 0, out);
}

int esc_plan_incident_ev(const struct esc_env *env, const struct store_incident *inc,
                         const struct store_evidence *ev, size_t nev, struct esc_plan *out)
{
    if (!env || !env->regime || !inc || !out)
        return TS_E_INVAL;
    const struct esc_regime *r = env->regime;
    memset(out, 0, sizeof(*out));
    struct esc_facts *f = &out->facts;
    esc_classify(env->taxonomy, inc->tags, inc->ntags, &f->cls);
    f->system = esc_assets_find_ev(env->assets, inc, ev, nev);
    f->level = f->system ? f->system->level : 0;
    f->severity = inc->severity;
    f->open = inc->status != STORE_STATUS_RESOLVED;
    f->detected_ns = inc->created_ns ? inc->created_ns : inc->first_seen_ns;
    f->response_end_ns = response_end(inc);
    /* The criteria are judged as of while the incident was open: a resolved
     * incident keeps the obligations it incurred (its closing report). */
    struct esc_facts at_open = *f;
    at_open.open = true;
    f->serious = conds_hold(&r->serious, &at_open);
    bool incident = conds_hold(&r->reportable, &at_open);
    f->national_security = conds_hold(&r->natsec, &at_open);
    f->beyond_capacity = conds_hold(&r->beyond, &at_open);

    /* Policy: flags first (every matching rule, in order; later rules win). */
    const struct esc_policy *p = env->policy;
    for (size_t i = 0; p && i < p->nrules; i++) {
        const struct esc_prule *pr = &p->rules[i];
        if (!rule_matches(pr, r, inc, f))
            continue;
        if (pr->set_serious >= 0)
            f->serious = pr->set_serious;
        if (pr->set_natsec >= 0)
            f->national_security = pr->set_natsec;
        if (pr->set_beyond >= 0)
            f->beyond_capacity = pr->set_beyond;
        if (pr->suppress)
            f->suppressed = true;
    }
    incident = incident || f->serious || f->national_security || f->beyond_capacity;
    f->reportable = incident;
    if (f->suppressed)
        return 0;

    /* The regime: a report is owed when all of its conditions hold; a report
     * without conditions is owed once any other report is (updates and
     * closing reports follow a reportable incident). */
    unsigned have = (incident ? ESC_WHEN_INCIDENT : 0) | (f->serious ? ESC_WHEN_SERIOUS : 0) |
                    (f->national_security ? ESC_WHEN_NATSEC : 0) |
                    (f->beyond_capacity ? ESC_WHEN_BEYOND : 0);
    bool reportable = false;
    for (size_t i = 0; i < r->nreports; i++) {
        const struct esc_rreport *rep = &r->reports[i];
        if (rep->when && (rep->when & have) == rep->when)
            reportable = true;
    }
    /* Law 116 Art. 40.1.c: the Ministry of Public Security's agency, or
     * the Ministry of Defence's for the systems it manages: the affected
     * system's `route` (asset inventory), else its organisation's, else
     * mps; recipients of the other route are left out. */
    const struct esc_org *org = esc_orgs_find(env->orgs, inc->tenant);
    const char *route = f->system && f->system->route ? f->system->route
                        : org && org->route         ? org->route
                                                    : "mps";
    uint32_t routed = 0;
    for (size_t k = 0; k < r->nrecipients; k++)
        if (!r->recipients[k].route || !strcmp(r->recipients[k].route, route))
            routed |= 1u << k;
    for (size_t i = 0; reportable && i < r->nreports; i++) {
        const struct esc_rreport *rep = &r->reports[i];
        if ((rep->when & have) != rep->when)
            continue;
        for (size_t k = 0; k < r->nrecipients; k++)
            if ((rep->to & routed) & (1u << k))
                add_item(out, r, rep, k, true);
    }

    /* Voluntary escalations of the policy. */
    for (size_t i = 0; p && i < p->nrules; i++) {
        const struct esc_prule *pr = &p->rules[i];
        if (!pr->nto || !rule_matches(pr, r, inc, f))
            continue;
        for (size_t j = 0; j < r->nreports; j++) {
            const struct esc_rreport *rep = &r->reports[j];
            if (pr->nreports) {
                size_t m = 0;
                while (m < pr->nreports && strcmp(pr->reports[m], rep->id) != 0)
                    m++;
                if (m == pr->nreports)
                    continue;
            } else if (rep->when & (ESC_WHEN_NATSEC | ESC_WHEN_BEYOND)) {
                continue; /* without a list: the reports every incident gets */
            }
            for (size_t t = 0; t < pr->nto; t++) {
                int k = esc_regime_recipient(r, pr->to[t]);
                if (k >= 0 && (routed & (1u << k)))
                    add_item(out, r, rep, (size_t)k, false);
            }
        }
    }
    /* Stable order: regime report order, then recipient order (insertion
     * sort: n <= 64). */
    for (size_t i = 1; i < out->n; i++) {
        struct esc_due d = out->items[i];
        int key = item_order(r, &d);
        size_t j = i;
        while (j > 0 && item_order(r, &out->items[j - 1]) > key) {
            out->items[j] = out->items[j - 1];
            j--;
        }
        out->items[j] = d;
    }
    return 0;
}

/* ------------------------------------------------------------- deadlines */

const char *esc_delivery_name(enum esc_delivery d)
{
    static const char *const n[] = {"none", "failed", "pending", "delivered"};
    return (unsigned)d < 4 ? n[d] : "?";
}

#define DLV_MAX (1u << 20)

struct dlv {
    char *key; /* "<incident>\x1f<recipient>\x1f<report>" */
    enum esc_delivery st; /* the best state of any entry */
    int64_t last_ns;      /* latest time covered by a pending/delivered entry, 0 none */
    int64_t failed_ns;    /* latest time covered by a failed entry, 0 none */
};

struct dlv_index {
    struct dlv *v;
    size_t n, cap;
    int rc;
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct dlv *dlv_slot(struct dlv_index *x, const char *key)
{
    size_t j = fnv(key) & (x->cap - 1);
    while (x->v[j].key && strcmp(x->v[j].key, key) != 0)
        j = (j + 1) & (x->cap - 1);
    return &x->v[j];
}

static int dlv_grow(struct dlv_index *x)
{
    size_t ncap = x->cap ? x->cap * 2 : 1024;
    struct dlv *nv = calloc(ncap, sizeof(*nv));
    if (!nv)
        return TS_E_NOMEM;
    struct dlv_index y = {.v = nv, .cap = ncap};
    for (size_t i = 0; i < x->cap; i++)
        if (x->v[i].key)
            *dlv_slot(&y, x->v[i].key) = x->v[i];
    free(x->v);
    x->v = nv;
    x->cap = ncap;
    return 0;
}

/* Split "<incident>:<revision>:<recipient>:<report>" from the right (the
 * incident id may contain ':' in principle, the others may not). */
static int dlv_key(const struct store_outbox *e, char *key, size_t len)
{
    const char *id = e->id;
    const char *c3 = strrchr(id, ':');
    if (!c3 || !e->incident_id)
        return -1;
    const char *p = c3;
    while (p > id && p[-1] != ':')
        p--;
    if (p == id)
        return -1;
    size_t rl = (size_t)(c3 - p);
    int n = snprintf(key, len, "%s\x1f%.*s\x1f%s", e->incident_id, (int)rl, p, c3 + 1);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

int64_t esc_entry_due_ns(const char *id, const char *incident_id)
{
    size_t il = incident_id ? strlen(incident_id) : 0;
    if (!id || !il || strncmp(id, incident_id, il) != 0 || strncmp(id + il, ":due", 4) != 0)
        return 0;
    const char *p = id + il + 4;
    int64_t sec = 0;
    size_t nd = 0;
    for (; *p >= '0' && *p <= '9' && nd < 12; p++, nd++)
        sec = sec * 10 + (*p - '0');
    return nd && *p == ':' && strchr(p + 1, ':') ? sec * TS_NS_PER_SEC : 0;
}

static int dlv_add(void *ctx, const struct store_outbox *e)
{
    struct dlv_index *x = ctx;
    char key[STORE_ID_MAX * 2 + 8];
    if (dlv_key(e, key, sizeof(key)) != 0)
        return 0; /* not one of ours */
    /* The time the entry covers: its due time for an entry of the due pass,
     * else when it was queued (an incident change). */
    int64_t cover = esc_entry_due_ns(e->id, e->incident_id);
    if (!cover)
        cover = e->created_ns;
    enum esc_delivery st = e->state == STORE_OUTBOX_DELIVERED ? ESC_DELIVERY_DONE
                           : e->state == STORE_OUTBOX_PENDING ? ESC_DELIVERY_PENDING
                                                              : ESC_DELIVERY_FAILED;
    if ((x->n + 1) * 2 > x->cap) {
        if (x->n >= DLV_MAX)
            return x->rc = TS_E_LIMIT;
        if (dlv_grow(x) != 0)
            return x->rc = TS_E_NOMEM;
    }
    struct dlv *d = dlv_slot(x, key);
    if (!d->key) {
        if (!(d->key = strdup(key)))
            return x->rc = TS_E_NOMEM;
        d->st = st;
        x->n++;
    } else if (st > d->st) {
        d->st = st;
    }
    int64_t *t = st == ESC_DELIVERY_FAILED ? &d->failed_ns : &d->last_ns;
    if (cover > *t)
        *t = cover;
    return 0;
}

/* dlv_add for store_outbox_list: the entry's strings are copied into the
 * index, so the arena (payloads) is emptied after each. */
struct dlv_list {
    struct dlv_index *x;
    struct ts_arena *arena;
};

static int dlv_add_reset(void *ctx, const struct store_outbox *e)
{
    struct dlv_list *l = ctx;
    int rc = dlv_add(l->x, e);
    ts_arena_reset(l->arena);
    return rc;
}

static void dlv_free(struct dlv_index *x)
{
    for (size_t i = 0; i < x->cap; i++)
        free(x->v[i].key);
    free(x->v);
}

struct dl_walk {
    const struct esc_env *env;
    struct ts_arena *arena;
    struct store_txn *t;
    struct dlv_index *idx;
    int64_t now, horizon;
    unsigned flags;
    int (*fn)(void *ctx, const struct esc_deadline *d);
    void *ctx;
};

struct ev_few {
    struct store_evidence v[ESC_EVIDENCE_RAW_MAX];
    size_t n;
};

static int ev_few_add(void *ctx, const struct store_evidence *ev)
{
    struct ev_few *f = ctx;
    if (f->n == ESC_EVIDENCE_RAW_MAX)
        return 1;
    f->v[f->n++] = *ev;
    return 0;
}

static int dl_incident(void *ctx, const struct store_incident *inc)
{
    struct dl_walk *w = ctx;
    struct esc_plan plan;
    struct ev_few few = {.n = 0};
    if (w->env->assets && !esc_assets_find(w->env->assets, inc)) {
        int rc = store_evidence_foreach(w->t, inc->id, w->arena, ev_few_add, &few);
        if (rc != 0 && rc != 1 && rc != TS_E_NOTFOUND)
            return rc;
    }
    if (esc_plan_incident_ev(w->env, inc, few.v, few.n, &plan) != 0)
        return 0;
    for (size_t i = 0; i < plan.n; i++) {
        const struct esc_due *d = &plan.items[i];
        /* A resolved incident owes only its final reports now. */
        if (!plan.facts.open && d->stage != ESC_STAGE_FINAL)
            continue;
        char key[STORE_ID_MAX * 2 + 8];
        snprintf(key, sizeof(key), "%s\x1f%s\x1f%s", inc->id, d->recipient, d->report);
        struct esc_deadline dl = {.incident = inc, .due = d};
        const struct dlv *x = NULL;
        if (w->idx->cap) {
            x = dlv_slot(w->idx, key);
            if (!x->key)
                x = NULL;
            dl.delivery = x ? x->st : ESC_DELIVERY_NONE;
        }
        int64_t due = d->due_ns;
        /* Periodic reports: after one was queued (pending or delivered), the
         * next is due every_ns after the time it covers (its due time, or
         * when a change queued it), and never before the first due time.
         * Its delivery is that of an entry covering it: none yet, or a dead
         * letter of the due pass for that very time. */
        if (d->every_ns > 0 && due && x && x->last_ns) {
            int64_t next = x->last_ns + d->every_ns;
            if (next > due)
                due = next;
            dl.delivery = x->failed_ns / TS_NS_PER_SEC >= due / TS_NS_PER_SEC
                              ? ESC_DELIVERY_FAILED
                              : ESC_DELIVERY_NONE;
        }
        dl.late_ns = due ? w->now - due : INT64_MIN;
        dl.overdue = due && due < w->now && dl.delivery != ESC_DELIVERY_DONE;
        bool near = !dl.overdue && due && dl.delivery != ESC_DELIVERY_DONE &&
                    due - w->now <= w->horizon;
        bool want = (w->flags & ESC_DL_ALL) || ((w->flags & ESC_DL_OVERDUE) && dl.overdue) ||
                    ((w->flags & ESC_DL_NEAR) && near);
        if (!want)
            continue;
        struct esc_due copy = *d;
        copy.due_ns = due;
        dl.due = &copy;
        int rc = w->fn(w->ctx, &dl);
        if (rc)
            return rc;
    }
    ts_arena_reset(w->arena); /* the incident's strings: done with them */
    return 0;
}

int esc_deadlines_list(const struct esc_env *env, struct store_txn *t, int64_t now_ns,
                       int64_t horizon_ns, unsigned flags,
                       int (*fn)(void *ctx, const struct esc_deadline *d), void *ctx)
{
    if (!env || !env->regime || !t || !fn)
        return TS_E_INVAL;
    struct ts_arena *arena;
    int rc = ts_arena_create(&arena, 64u << 10, (size_t)256 << 20);
    if (rc)
        return rc;
    struct dlv_index idx = {0};
    struct dlv_list dl = {&idx, arena};
    rc = store_outbox_list(t, (1u << STORE_OUTBOX_PENDING) | (1u << STORE_OUTBOX_DELIVERED) |
                                  (1u << STORE_OUTBOX_FAILED),
                           arena, dlv_add_reset, &dl);
    if (!rc)
        rc = idx.rc;
    ts_arena_reset(arena);
    if (!rc) {
        struct dl_walk w = {env, arena, t, &idx, now_ns, horizon_ns, flags ? flags : ESC_DL_OVERDUE, fn,
                            ctx};
        struct store_incident_filter f = {0};
        rc = store_incident_list(t, &f, arena, dl_incident, &w);
    }
    dlv_free(&idx);
    ts_arena_destroy(arena);
    return rc;
}
