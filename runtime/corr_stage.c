/* corr_stage.c - the correlation and storage stages as the runtime wires
 * them (DESIGN: detections -> correlate -> one LMDB transaction per batch
 * holding the changed correlation state, the incidents, their evidence and
 * the batch's input offsets; Kafka offsets are committed after it).
 *
 * Threads: workers match unlocked and collect (rule, event) pairs per
 * worker; at the batch's commit point the worker takes the stage mutex and
 * feeds the engine, ends the correlation batch and runs the LMDB
 * transaction, all under the mutex, so the engine sees batches one at a
 * time and every transaction holds exactly the state after that batch. */
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/tstime.h"
#include "runtime_int.h"

#define PAIRS_MAX (1u << 20)

static uint64_t id_hash(const char *id);

static int pairs_push(struct rt_corr_pairs *p, size_t rule, uint32_t use,
                      const struct ts_event *ev)
{
    if (p->n == p->cap) {
        if (p->cap >= PAIRS_MAX)
            return TS_E_LIMIT;
        size_t ncap = p->cap ? p->cap * 2 : 256;
        struct rt_corr_pair *nv = realloc(p->v, ncap * sizeof(*nv));
        if (!nv)
            return TS_E_NOMEM;
        p->v = nv;
        p->cap = ncap;
    }
    p->v[p->n].rule = rule;
    p->v[p->n].use = use;
    p->v[p->n].ev = ev;
    p->n++;
    return 0;
}

int rt_corr_collect(struct rt_corr *cs, int worker, size_t rule, const struct ts_event *ev)
{
    size_t w = worker >= 0 && (size_t)worker < cs->nworkers ? (size_t)worker : 0;
    return pairs_push(&cs->pairs[w], rule, RT_CORR_ALL_USES, ev);
}

int rt_corr_collect_use(struct rt_corr *cs, int worker, size_t rule, uint32_t use,
                        const struct ts_event *ev)
{
    size_t w = worker >= 0 && (size_t)worker < cs->nworkers ? (size_t)worker : 0;
    return pairs_push(&cs->pairs[w], rule, use, ev);
}

/* ------------------------------------------------------------ start-up */

struct import_ctx {
    struct corr_engine *ce;
    uint64_t imported, stale, capped;
    struct rt_dist *dist; /* distributed: only the keys of partitions held */
};

static int import_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct import_ctx *x = ctx;
    if (x->dist && !rt_dist_import_keep(x->dist, key, klen, val, vlen))
        return 0;
    int rc = corr_state_import(x->ce, key, klen, val, vlen);
    if (rc == 0)
        x->imported++;
    else if (rc == TS_E_NOTFOUND)
        x->stale++; /* a rule no longer loaded: its keys are left alone */
    else if (rc == TS_E_LIMIT)
        x->capped++; /* over a key cap (lowered since): counted by the engine */
    else
        return rc;
    return 0;
}

/* Every state key the store holds into ce (at start, and into the new
 * engine of a reload). */
static int import_state(struct rt_corr *cs, struct corr_engine *ce, struct import_ctx *x)
{
    *x = (struct import_ctx){.ce = ce, .dist = cs->dist};
    struct store_txn *t;
    int rc = store_txn_begin(cs->st, STORE_TXN_RDONLY, &t);
    if (rc)
        return rc;
    rc = store_state_foreach(t, NULL, 0, import_one, x);
    store_txn_abort(t);
    return rc;
}

/* An engine for rs: the options the runtime always sets (state export with
 * a store; asset.id into the evidence for escalation), problems reported
 * per rule with file:line:col. */
static int build_engine(struct rule_set *rs, const struct corr_opts *opts, bool store,
                        struct corr_engine **out, struct corr_report *rep)
{
    struct corr_opts co = {0};
    if (opts)
        co = *opts;
    co.no_state_export = !store; /* nothing would store it */
    co.evidence_attr = "asset.id"; /* the affected system, for escalation */
    struct ts_err err = {0};
    int rc = corr_engine_create(out, rs, &co, rep, &err);
    if (rc) {
        char msg[1024];
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin: %s\n", err.code ? msg : ts_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < rep->nproblems; i++) {
        const struct rule_problem *p = &rep->problems[i];
        fprintf(stderr, "%s:%u:%u: %s: [%s] %s\n", p->file, p->line, p->col,
                rule_problem_kind_name(p->kind), p->rule_id, p->msg);
    }
    return 0;
}

int rt_corr_open(struct rt_corr *cs, struct rule_set *rs, const struct corr_opts *opts,
                 const char *db_dir, int workers, FILE *out, bool final_only)
{
    memset(cs, 0, sizeof(*cs));
    pthread_mutex_init(&cs->mu, NULL);
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    /* a waiting reload goes before new batches */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&cs->batch_rw, &ra);
    pthread_rwlockattr_destroy(&ra);
    ts_buf_init(&cs->line, 0);
    cs->out = out;
    cs->final_only = final_only;
    cs->nworkers = workers > 0 ? (size_t)workers : 1;
    if (ts_arena_create(&cs->esc_arena, 1u << 20, 1u << 30))
        return TS_E_NOMEM;
    cs->pairs = calloc(cs->nworkers, sizeof(*cs->pairs));
    if (!cs->pairs)
        return TS_E_NOMEM;
    struct corr_report rep;
    struct ts_err err = {0};
    char msg[1024];
    int rc = build_engine(rs, opts, db_dir != NULL, &cs->ce, &rep);
    if (!rc)
        fprintf(stderr,
                "tocsin: correlation: %zu rule(s) compiled, %zu invalid, %zu unsupported\n",
                rep.loaded, rep.invalid, rep.unsupported);
    cs->invalid_rules = rc ? 0 : rep.invalid;
    corr_report_free(&rep);
    if (rc)
        return rc;
    if (!db_dir)
        return 0;
    struct store_opts so = {.path = db_dir};
    if ((rc = store_open(&cs->st, &so, &err)) != 0) {
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin: %s\n", err.code ? msg : store_strerror(rc));
        return rc;
    }
    /* run: incident changes go to the store's journal, folded in bulk
     * (below). replay coalesces its commits (one per 2 s or 2M events): each
     * incident is written once per commit anyway, directly and in id
     * order, which leaves no fold for the end */
    if (!final_only && (rc = store_journal_enable(cs->st, &err)) != 0) {
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin: %s\n", err.code ? msg : store_strerror(rc));
        return rc;
    }
    struct import_ctx x;
    if ((rc = import_state(cs, cs->ce, &x)) != 0) {
        fprintf(stderr, "tocsin: cannot restore correlation state from %s: %s\n", db_dir,
                store_strerror(rc));
        return rc;
    }
    cs->imported = x.imported;
    cs->stale = x.stale;
    ts_info("correlation: %llu state key(s) restored from %s (%llu of rules no longer loaded)",
            (unsigned long long)cs->imported, db_dir, (unsigned long long)cs->stale);
    if (x.capped)
        ts_warn("correlation: %llu state key(s) in %s not restored: over a key cap",
                (unsigned long long)x.capped, db_dir);
    return 0;
}

/* ----------------------------------------------------------- incidents */

static const struct rule_info *corr_info(struct rt_corr *cs, const char *rule_id)
{
    for (size_t i = 0; rule_id && i < corr_rule_count(cs->ce); i++) {
        const struct rule_info *ri = corr_rule_info(cs->ce, i);
        if ((ri->id && !strcmp(ri->id, rule_id)) || (ri->name && !strcmp(ri->name, rule_id)) ||
            (ri->title && !strcmp(ri->title, rule_id)))
            return ri;
    }
    return NULL;
}

static struct store_evidence evidence_rec(const struct corr_evidence *e)
{
    return (struct store_evidence){
        .source = e->source,
        .partition = e->kind == TS_SRC_KAFKA ? e->partition : -1,
        .offset = e->offset,
        .event_ns = e->time_ns,
        .raw = e->raw,
        .raw_len = e->raw_len,
        .late = e->late,
        /* a detection attached by entity: its rule; else the correlation's
         * input rule the event came through */
        .rule_id = e->linked ? e->rule_id : e->sub_rule,
    };
}

/* Sort the batch's evidence by incident, stably: the evidence of
 * out->incidents[i] is ev_order[ev_start[i] .. ev_start[i + 1]); after the
 * last incident, that of incidents not in the list; evidence without an
 * incident (late, nothing to amend) is left out. ev_recs gets room for the
 * largest group. 0 or TS_E_NOMEM. */
static int group_evidence(struct rt_corr *cs, const struct corr_batch *out)
{
    size_t ni = out->nincidents, ne = out->nevidence;
    size_t hcap = 16;
    while (hcap < 2 * ni)
        hcap *= 2;
    if (ni + 2 > cs->ev_startcap) {
        size_t *n = realloc(cs->ev_start, (ni + 2) * sizeof(*n));
        if (!n)
            return TS_E_NOMEM;
        cs->ev_start = n;
        cs->ev_startcap = ni + 2;
    }
    if (ne > cs->ev_cap) {
        size_t *o = realloc(cs->ev_order, ne * sizeof(*o));
        if (!o)
            return TS_E_NOMEM;
        cs->ev_order = o;
        size_t *g = realloc(cs->ev_group, ne * sizeof(*g));
        if (!g)
            return TS_E_NOMEM;
        cs->ev_group = g;
        struct store_evidence *r = realloc(cs->ev_recs, ne * sizeof(*r));
        if (!r)
            return TS_E_NOMEM;
        cs->ev_recs = r;
        cs->ev_cap = ne;
    }
    if (hcap > cs->ev_hcap) {
        size_t *h = realloc(cs->ev_hash, hcap * sizeof(*h));
        if (!h)
            return TS_E_NOMEM;
        cs->ev_hash = h;
        cs->ev_hcap = hcap;
    }
    /* id -> 1 + last position in out->incidents: the evidence goes with the
     * incident's final state of the batch (a retracted one: with nothing) */
    size_t *ht = cs->ev_hash;
    memset(ht, 0, hcap * sizeof(*ht));
    for (size_t i = 0; i < ni; i++) {
        size_t j = id_hash(out->incidents[i].id) & (hcap - 1);
        while (ht[j] && strcmp(out->incidents[ht[j] - 1].id, out->incidents[i].id) != 0)
            j = (j + 1) & (hcap - 1);
        ht[j] = i + 1;
    }
    memset(cs->ev_start, 0, (ni + 2) * sizeof(*cs->ev_start));
    for (size_t e = 0; e < ne; e++) {
        const char *id = out->evidence[e].incident;
        size_t g = SIZE_MAX;
        if (id[0]) {
            size_t j = id_hash(id) & (hcap - 1);
            while (ht[j] && strcmp(out->incidents[ht[j] - 1].id, id) != 0)
                j = (j + 1) & (hcap - 1);
            g = ht[j] ? ht[j] - 1 : ni;
            cs->ev_start[g + 1]++;
        }
        cs->ev_group[e] = g;
    }
    for (size_t i = 0; i <= ni; i++)
        cs->ev_start[i + 1] += cs->ev_start[i];
    /* ev_start[g] is now the start of group g: fill, using it as the cursor */
    for (size_t e = 0; e < ne; e++) {
        size_t g = cs->ev_group[e];
        if (g != SIZE_MAX)
            cs->ev_order[cs->ev_start[g]++] = e;
    }
    /* the cursors ended at the next group's start: shift back */
    for (size_t i = ni + 1; i > 0; i--)
        cs->ev_start[i] = cs->ev_start[i - 1];
    cs->ev_start[0] = 0;
    return 0;
}

/* The store's record of ci; key and details (1024 and 512 bytes) hold its
 * group key and details text. */
static void incident_si(struct rt_corr *cs, const struct corr_incident *ci, const char *asset_id,
                        char *key, char *details, struct store_incident *out)
{
    size_t o = 0;
    key[0] = '\0';
    for (size_t i = 0; i < ci->ngroup && o < 1024; i++)
        o += (size_t)snprintf(key + o, 1024 - o, "%s%s=%s", i ? "," : "",
                              ci->group_fields[i], ci->group_values[i]);
    /* the affected system (asset.id of the events) when the inventory knew
     * it: the escalation looks it up exactly (escalate: find_details) */
    size_t al = asset_id ? strlen(asset_id) : 0;
    bool aid = al && al < 200 && strcspn(asset_id, "\"\\\n") == al; /* no JSON escaping */
    snprintf(details, 512,
             "{\"type\":\"%s\",\"episode_start_ns\":%lld,\"late\":%llu,\"linked\":%llu%s%s%s}",
             ci->rule_type ? ci->rule_type : "", (long long)ci->episode_start,
             (unsigned long long)ci->late, (unsigned long long)ci->linked,
             aid ? ",\"asset_id\":\"" : "", aid ? asset_id : "", aid ? "\"" : "");
    const struct rule_info *ri = corr_info(cs, ci->rule_id);
    struct store_incident si = {
        .id = ci->id,
        .rule_id = ci->rule_id,
        .rule_title = ci->rule_title,
        .level = corr_severity_name(ci->severity),
        .author = ri ? ri->author : NULL,
        .tags = ci->tags,
        .ntags = (uint32_t)(ci->ntags > STORE_TAGS_MAX ? STORE_TAGS_MAX : ci->ntags),
        .tenant = ci->tenant,
        .group_key = key,
        .first_seen_ns = ci->first_seen,
        .last_seen_ns = ci->last_seen,
        .count = ci->count,
        .distinct_field = ci->value_field,
        .distinct = ci->values,
        .ndistinct = (uint32_t)(ci->nvalues > STORE_DISTINCT_MAX ? STORE_DISTINCT_MAX
                                                                 : ci->nvalues),
        .distinct_truncated = ci->values_capped,
        .severity = (uint8_t)(ci->severity > 0 ? ci->severity - 1 : 0),
        .details = details,
    };
    *out = si;
}

static int put_incident(struct rt_corr *cs, struct store_txn *t, const struct corr_incident *ci,
                        const struct store_evidence *evs, size_t nevs, const char *asset_id)
{
    if (ci->retracted) { /* in time order it never formed (an event within the allowance) */
        int rc = store_incident_del(t, ci->id);
        return rc == TS_E_NOTFOUND ? 0 : rc;
    }
    char key[1024], details[512];
    struct store_incident si;
    incident_si(cs, ci, asset_id, key, details, &si);
    return store_incident_put_ev(t, &si, NULL, evs, nevs, NULL);
}

/* *v (room for *cap) = 0, 1, ... n-1: an order to sort. */
static int identity(size_t **v, size_t *cap, size_t n)
{
    if (n > *cap) {
        size_t *nv = realloc(*v, n * sizeof(*nv));
        if (!nv)
            return TS_E_NOMEM;
        *v = nv;
        *cap = n;
    }
    for (size_t i = 0; i < n; i++)
        (*v)[i] = i;
    return 0;
}

/* qsort has no context argument: the items being sorted (txn_body runs
 * under the stage's mutex, one at a time) */
static const struct corr_state_item *sort_items;

static int item_cmp(const void *a, const void *b)
{
    const struct corr_state_item *x = &sort_items[*(const size_t *)a];
    const struct corr_state_item *y = &sort_items[*(const size_t *)b];
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static const struct corr_incident *sort_incs;

static int inc_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(sort_incs[x].id, sort_incs[y].id);
    return c ? c : (x > y) - (x < y);
}

/* A record the store refuses (TS_E_INVAL: a size or field it does not
 * accept, checked before anything is written, so the transaction goes on)
 * must not stop every tenant's ingestion (issue 17): it is left out,
 * logged with what it was, and counted (rt_corr.store_refused, after
 * the commit: the body may run twice). Anything else fails the batch. */
static int refused(struct rt_corr *cs, int rc, const char *what, const char *id)
{
    if (rc != TS_E_INVAL)
        return rc;
    cs->refused_txn++;
    if (cs->store_refused + cs->refused_txn <= 20 ||
        (cs->store_refused + cs->refused_txn) % 1000 == 0)
        ts_error("LMDB refused %s %.80s (a field over the store's limits): left out, the "
                 "batch goes on (%llu so far)",
                 what, id ? id : "", (unsigned long long)(cs->store_refused + cs->refused_txn));
    return 0;
}

/* The offset up to which the batches fed so far took a Kafka partition,
 * -1 when none did (cs->mu held). */
static int64_t fed_at(const struct rt_corr *cs, const char *topic, int32_t partition)
{
    for (size_t j = 0; partition >= 0 && j < cs->nfed; j++)
        if (cs->fed[j].partition == partition && strcmp(cs->fed[j].topic, topic) == 0)
            return cs->fed[j].offset;
    return -1;
}

static int txn_body(struct store_txn *t, void *ctx)
{
    struct rt_corr *cs = ctx;
    const struct corr_batch *out = &cs->cur;
    const struct ingest_batch *b = cs->cur_batch;
    int rc = 0;
    cs->refused_txn = 0;
    /* state in key order: LMDB walks its B-tree forwards (a coalesced
     * commit changes tens of thousands of keys) */
    if (identity(&cs->sorder, &cs->sorder_cap, out->nstate) != 0)
        return TS_E_NOMEM;
    sort_items = out->state;
    if (out->nstate) /* qsort's array may not be NULL, even for 0 items */
        qsort(cs->sorder, out->nstate, sizeof(*cs->sorder), item_cmp);
    for (size_t i = 0; !rc && i < out->nstate; i++) {
        if (cs->dist && rt_dist_item_skip(cs->dist, cs->sorder[i]))
            continue; /* a key of a partition another process owns now */
        const struct corr_state_item *s = &out->state[cs->sorder[i]];
        rc = s->deleted ? store_state_del(t, s->key, s->key_len)
                        : store_state_put(t, s->key, s->key_len, s->val, s->val_len);
        if (rc == TS_E_NOTFOUND)
            rc = 0;
        rc = refused(cs, rc, "a correlation state key", NULL);
    }
    /* distributed: incidents, their evidence and escalations come back
     * from the incidents topic (inc_topic.c), on every node */
    bool pub = cs->dist && cs->dist->inc_topic;
    if (cs->esc && !pub) {
        if (out->nincidents > cs->prevcap) {
            size_t ncap = out->nincidents;
            struct store_incident *np = realloc(cs->prev, ncap * sizeof(*np));
            bool *nh = np ? realloc(cs->had_prev, ncap * sizeof(*nh)) : NULL;
            if (np)
                cs->prev = np;
            if (!nh)
                return TS_E_NOMEM;
            cs->had_prev = nh;
            cs->prevcap = ncap;
        }
        ts_arena_reset(cs->esc_arena); /* the txn may be a retry */
        for (size_t i = 0; !rc && i < out->nincidents; i++) {
            rc = store_incident_get(t, out->incidents[i].id, cs->esc_arena, &cs->prev[i]);
            cs->had_prev[i] = rc == 0;
            if (rc == TS_E_NOTFOUND)
                rc = 0;
        }
    }
    /* each incident with its evidence of the batch in one put (the store
     * reads and writes the record once); evidence in batch order */
    if (!rc)
        rc = group_evidence(cs, out);
    /* in id order (stable): the store's B-trees are walked forwards, which
     * matters when a coalesced commit updates tens of thousands of them */
    if (!rc)
        rc = identity(&cs->iorder, &cs->iorder_cap, out->nincidents);
    if (!rc && out->nincidents) {
        sort_incs = out->incidents;
        qsort(cs->iorder, out->nincidents, sizeof(*cs->iorder), inc_cmp);
    }
    for (size_t k = 0; !rc && !pub && k < out->nincidents; k++) {
        size_t i = cs->iorder[k];
        size_t lo = cs->ev_start[i], hi = cs->ev_start[i + 1];
        const char *asset_id = NULL;
        for (size_t j = lo; j < hi; j++) {
            const struct corr_evidence *ce = &out->evidence[cs->ev_order[j]];
            cs->ev_recs[j - lo] = evidence_rec(ce);
            if (ce->attr)
                asset_id = ce->attr; /* the newest event's */
        }
        rc = put_incident(cs, t, &out->incidents[i], cs->ev_recs, hi - lo, asset_id);
        if (rc == TS_E_LIMIT)
            rc = 0; /* over the evidence cap: counted by the store */
        rc = refused(cs, rc, "incident", out->incidents[i].id);
    }
    /* late events no incident covers: kept apart, nothing is dropped */
    for (size_t i = 0; !rc && i < out->nevidence; i++) {
        const struct corr_evidence *e = &out->evidence[i];
        if (e->incident[0])
            continue;
        struct store_late l = {.tenant = e->tenant ? e->tenant : "",
                               .rule_id = e->rule_id ? e->rule_id : "",
                               .ev = evidence_rec(e)};
        rc = store_late_put(t, &l);
        if (rc == TS_E_INVAL) {
            ts_warn("a late event (%s:%lld) could not be kept: bad field", e->source,
                    (long long)e->offset);
            rc = 0;
        }
    }
    /* evidence of incidents not in the batch's list (none expected): runs
     * of one incident in one call */
    struct store_evidence run[64];
    size_t nrun = 0;
    const char *runinc = NULL;
    size_t nleft = rc || pub ? 0
                             : cs->ev_start[out->nincidents + 1] - cs->ev_start[out->nincidents];
    for (size_t i = 0; !rc && nleft && i <= nleft; i++) {
        const struct corr_evidence *e =
            i < nleft ? &out->evidence[cs->ev_order[cs->ev_start[out->nincidents] + i]] : NULL;
        if (nrun && (!e || nrun == TS_ARRAY_LEN(run) || strcmp(e->incident, runinc) != 0)) {
            rc = store_evidence_add_n(t, runinc, run, nrun, NULL);
            if (rc == TS_E_LIMIT)
                rc = 0;
            rc = refused(cs, rc, "evidence of incident", runinc);
            nrun = 0;
        }
        if (!e || rc)
            continue;
        runinc = e->incident;
        run[nrun++] = evidence_rec(e);
    }
    /* escalations of the incident changes, in the same transaction */
    for (size_t i = 0; !rc && cs->esc && !pub && i < out->nincidents; i++) {
        struct store_incident cur;
        rc = store_incident_get(t, out->incidents[i].id, cs->esc_arena, &cur);
        if (rc == TS_E_NOTFOUND) { /* refused above: nothing to escalate */
            rc = 0;
            continue;
        }
        struct esc_outbox_batch eb;
        memset(&eb, 0, sizeof(eb));
        if (!rc)
            rc = esc_outbox_build(cs->esc, t, cs->had_prev[i] ? &cs->prev[i] : NULL, &cur,
                                  store_txn_now(t), &eb);
        if (!rc)
            rc = refused(cs, esc_outbox_put_all(t, &eb), "escalation of incident",
                         out->incidents[i].id);
        if (!rc)
            cs->outbox_entries += eb.n;
        esc_outbox_batch_free(&eb);
    }
    for (uint32_t i = 0; !rc && b && i < b->noffsets; i++) {
        /* fenced: never behind what another worker's batch stored */
        int64_t at = cs->fence ? fed_at(cs, b->offsets[i].topic, b->offsets[i].partition) : -1;
        rc = refused(cs,
                     store_offset_put(t, b->offsets[i].topic, b->offsets[i].partition,
                                      at > b->offsets[i].offset ? at : b->offsets[i].offset),
                     "the input offset of", b->offsets[i].topic);
    }
    for (size_t i = 0; !rc && !b && i < cs->nacc; i++) /* coalesced */
        rc = refused(cs,
                     store_offset_put(t, cs->acc[i].topic, cs->acc[i].partition,
                                      cs->acc[i].offset),
                     "the input offset of", cs->acc[i].topic);
    return rc ? rc : rt_counters_write(cs, t); /* per-period counters, same txn */
}

/* Index of incident ids (replay keeps the latest state of each): open
 * addressing over 1-based positions in cs->final, grown at half load.
 * Returns the slot for id (0 inside: not present), NULL on no memory. */
static uint64_t id_hash(const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return h;
}

static size_t *final_slot(struct rt_corr *cs, const char *id)
{
    if ((cs->nfinal + 1) * 2 > cs->idxcap) {
        size_t ncap = cs->idxcap ? cs->idxcap * 2 : 1024;
        size_t *ni = calloc(ncap, sizeof(*ni));
        if (!ni)
            return NULL;
        for (size_t i = 0; i < cs->nfinal; i++) {
            size_t j = id_hash(cs->final[i].v.id) & (ncap - 1);
            while (ni[j])
                j = (j + 1) & (ncap - 1);
            ni[j] = i + 1;
        }
        free(cs->idx);
        cs->idx = ni;
        cs->idxcap = ncap;
    }
    size_t j = id_hash(id) & (cs->idxcap - 1);
    while (cs->idx[j] && strcmp(cs->final[cs->idx[j] - 1].v.id, id) != 0)
        j = (j + 1) & (cs->idxcap - 1);
    return &cs->idx[j];
}

/* The incident's own strings (tenant, group values, distinct values), in
 * the order final_incident.strs keeps them; i-th of n, "" for NULL. */
static const char *inc_str(const struct corr_incident *ci, size_t i)
{
    const char *p = i == 0 ? ci->tenant
                    : i <= ci->ngroup ? ci->group_values[i - 1]
                                      : ci->values[i - 1 - ci->ngroup];
    return p ? p : "";
}

/* Keep ci as the last state of f: the scalars always, the strings only when
 * they differ from the kept ones (for most updates they do not: an
 * incident's tenant and group never change). 0 or TS_E_NOMEM. */
static int final_keep(struct rt_final_incident *f, const struct corr_incident *ci)
{
    size_t nstr = 1 + ci->ngroup + ci->nvalues, need = 0;
    bool same = f->strs != NULL;
    for (size_t i = 0; i < nstr; i++) {
        const char *p = inc_str(ci, i);
        size_t l = strlen(p) + 1;
        if (same && (need + l > f->strslen || memcmp(f->strs + need, p, l) != 0))
            same = false;
        need += l;
    }
    if (!same || need != f->strslen) {
        char *ns = realloc(f->strs, need);
        if (!ns)
            return TS_E_NOMEM;
        f->strs = ns;
        f->strslen = need;
        size_t o = 0;
        for (size_t i = 0; i < nstr; i++) {
            const char *p = inc_str(ci, i);
            size_t l = strlen(p) + 1;
            memcpy(ns + o, p, l);
            o += l;
        }
    }
    /* the field names are the rule's (valid while the engine is), but
     * the array holding them is the batch's: keep a copy */
    if (ci->ngroup > f->gfcap) {
        const char **ng = realloc(f->gf, ci->ngroup * sizeof(*ng));
        if (!ng)
            return TS_E_NOMEM;
        f->gf = ng;
        f->gfcap = ci->ngroup;
    }
    for (size_t i = 0; i < ci->ngroup; i++)
        f->gf[i] = ci->group_fields[i];
    f->v = *ci;
    f->v.tenant = NULL;
    f->v.group_fields = f->gf;
    f->v.group_values = NULL;
    f->v.values = NULL;
    return 0;
}

static void final_evidence_free(struct rt_final_incident *f)
{
    for (size_t i = 0; i < f->nev; i++) {
        free(f->ev[i].source);
        free(f->ev[i].sub_rule);
        free(f->ev[i].raw);
    }
    free(f->ev);
    f->ev = NULL;
    f->nev = f->evcap = 0;
}

/* replay --evidence: the batch's evidence records onto the incidents of the
 * final list (copied: the engine's strings live for the batch), the first
 * RT_FINAL_EVIDENCE_MAX of each, the others counted. */
static int final_evidence(struct rt_corr *cs, const struct corr_batch *b)
{
    for (size_t i = 0; i < b->nevidence; i++) {
        const struct corr_evidence *e = &b->evidence[i];
        if (!e->incident[0])
            continue; /* a late event no incident covers */
        size_t *slot = final_slot(cs, e->incident);
        if (!slot)
            return TS_E_NOMEM;
        if (!*slot)
            continue;
        struct rt_final_incident *f = &cs->final[*slot - 1];
        if (f->nev == RT_FINAL_EVIDENCE_MAX) {
            f->ev_more++;
            continue;
        }
        if (f->nev == f->evcap) {
            size_t nc = f->evcap ? f->evcap * 2 : 8;
            struct rt_final_evidence *n = realloc(f->ev, nc * sizeof(*n));
            if (!n)
                return TS_E_NOMEM;
            f->ev = n;
            f->evcap = nc;
        }
        struct rt_final_evidence *x = &f->ev[f->nev];
        memset(x, 0, sizeof(*x));
        const char *sub = e->linked ? e->rule_id : e->sub_rule;
        x->source = strdup(e->source ? e->source : "");
        x->sub_rule = sub ? strdup(sub) : NULL;
        x->raw = e->raw ? strndup(e->raw, e->raw_len < RT_FINAL_RAW_MAX ? e->raw_len
                                                                        : RT_FINAL_RAW_MAX)
                        : NULL;
        if (!x->source || (sub && !x->sub_rule) || (e->raw && !x->raw)) {
            free(x->source);
            free(x->sub_rule);
            free(x->raw);
            return TS_E_NOMEM;
        }
        x->partition = e->kind == TS_SRC_KAFKA ? e->partition : -1;
        x->offset = e->offset;
        x->time_ns = e->time_ns;
        x->late = e->late;
        f->nev++;
    }
    return 0;
}

/* A retracted incident leaves the final list: the last one moves into its
 * place and the index is built again (retractions are rare). */
static int final_drop(struct rt_corr *cs, size_t i)
{
    final_evidence_free(&cs->final[i]);
    free(cs->final[i].strs);
    free(cs->final[i].gf);
    cs->final[i] = cs->final[--cs->nfinal];
    memset(cs->idx, 0, cs->idxcap * sizeof(*cs->idx));
    for (size_t n = 0; n < cs->nfinal; n++) {
        size_t j = id_hash(cs->final[n].v.id) & (cs->idxcap - 1);
        while (cs->idx[j])
            j = (j + 1) & (cs->idxcap - 1);
        cs->idx[j] = n + 1;
    }
    return 0;
}

/* Remember the latest state of an incident (replay renders each once, at
 * the end) or print it now (live). */
static int emit_incident(struct rt_corr *cs, const struct corr_incident *ci)
{
    cs->emitted++;
    if (!cs->final_only) {
        ts_buf_reset(&cs->line);
        int rc = ts_buf_puts(&cs->line, "{\"kind\":\"incident\",\"incident\":");
        rc = rc ? rc : corr_incident_json(ci, &cs->line);
        rc = rc ? rc : ts_buf_puts(&cs->line, "}\n");
        if (rc)
            return rc;
        if (cs->out && fwrite(cs->line.data, 1, cs->line.len, cs->out) != cs->line.len)
            return TS_E_IO;
        return 0;
    }
    size_t *slot = final_slot(cs, ci->id);
    if (!slot)
        return TS_E_NOMEM;
    if (ci->retracted)
        return *slot ? final_drop(cs, *slot - 1) : 0;
    if (*slot)
        return final_keep(&cs->final[*slot - 1], ci);
    if (cs->nfinal == cs->capfinal) {
        size_t ncap = cs->capfinal ? cs->capfinal * 2 : 64;
        if (ncap > PAIRS_MAX)
            return TS_E_LIMIT;
        struct rt_final_incident *nf = realloc(cs->final, ncap * sizeof(*nf));
        if (!nf)
            return TS_E_NOMEM;
        cs->final = nf;
        cs->capfinal = ncap;
    }
    struct rt_final_incident *f = &cs->final[cs->nfinal];
    memset(f, 0, sizeof(*f));
    int rc = final_keep(f, ci);
    if (rc) {
        free(f->strs);
        free(f->gf);
        return rc;
    }
    cs->nfinal++;
    *slot = cs->nfinal;
    return 0;
}

/* Fold the store's journal when it holds many records or bytes, or its
 * oldest record is older than a few seconds (in-process readers such as
 * the dispatcher see incidents as of the last fold), or always. */
#define FOLD_RECORDS 2000000u
#define FOLD_BYTES (512u << 20)
#define FOLD_AGE_NS (5 * 1000000000LL)

static int maybe_fold(struct rt_corr *cs, bool always)
{
    struct store_journal_stats js;
    store_journal_stats(cs->st, &js);
    if (!js.pending_records)
        return 0;
    /* replay (final_only) has no reader in the process to keep fresh:
     * it folds by size and at the end */
    bool old = !cs->final_only && ts_now_ns() - js.oldest_ns >= FOLD_AGE_NS;
    if (!always && js.pending_records < FOLD_RECORDS && js.pending_bytes < FOLD_BYTES && !old)
        return 0;
    struct ts_err err = {0};
    int rc = store_journal_fold(cs->st, &err);
    if (rc) {
        char msg[1024];
        ts_err_format(&err, msg, sizeof(msg));
        ts_error("LMDB: folding the incident journal failed (it stays, folded later): %s",
                 err.code ? msg : store_strerror(rc));
    }
    return rc;
}

/* Remember b's offsets (the latest per source) for a coalesced commit. */
/* v[0..*n): the latest offset per source; b's offsets merged in (fed: the
 * Kafka partitions only, each keeping the furthest offset). */
static int merge_offsets(struct ingest_offset **v, size_t *n, size_t *cap,
                         const struct ingest_batch *b, bool fed)
{
    bool files = !fed;
    for (uint32_t i = 0; i < b->noffsets; i++) {
        const struct ingest_offset *o = &b->offsets[i];
        if (!files && o->partition < 0)
            continue;
        size_t j = 0;
        while (j < *n && ((*v)[j].partition != o->partition || strcmp((*v)[j].topic, o->topic) != 0))
            j++;
        if (j == *n) {
            if (*n == *cap) {
                size_t nc = *cap ? *cap * 2 : 16;
                struct ingest_offset *m = realloc(*v, nc * sizeof(*m));
                if (!m)
                    return TS_E_NOMEM;
                *v = m;
                *cap = nc;
            }
            char *topic = strdup(o->topic);
            if (!topic)
                return TS_E_NOMEM;
            (*v)[(*n)++] = (struct ingest_offset){topic, o->partition, o->offset, o->first};
        } else if (!fed || o->offset > (*v)[j].offset) {
            (*v)[j].offset = o->offset;
        }
    }
    return 0;
}

static int acc_offsets(struct rt_corr *cs, const struct ingest_batch *b)
{
    return merge_offsets(&cs->acc, &cs->nacc, &cs->capacc, b, false);
}

bool rt_corr_fed_pos(const struct rt_corr *cs, const char *topic, int32_t partition,
                     int64_t offset)
{
    return offset < fed_at(cs, topic, partition);
}

bool rt_corr_fed(const struct rt_corr *cs, const struct ts_event *ev)
{
    return ev->src.kind == TS_SRC_KAFKA &&
           ev->src.offset < fed_at(cs, ev->src.name, ev->src.partition);
}

/* b against what was fed before (cs->fence, cs->mu held): 0 none of it, 1
 * part of it (a worker that read its partitions again from the store's
 * offsets, batched differently), 2 all of it. */
static int fed_before(const struct rt_corr *cs, const struct ingest_batch *b)
{
    bool some = false, all = b->noffsets > 0;
    for (uint32_t i = 0; i < b->noffsets; i++) {
        const struct ingest_offset *o = &b->offsets[i];
        int64_t at = fed_at(cs, o->topic, o->partition);
        some |= at > o->first;
        all &= at >= o->offset;
    }
    return all ? 2 : some ? 1 : 0;
}

/* Leave out of p the detections of events fed before (fed_before 1). */
static void drop_fed(struct rt_corr *cs, struct rt_corr_pairs *p)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (rt_corr_fed(cs, p->v[i].ev))
            continue;
        p->v[k++] = p->v[i];
    }
    cs->stale_detections += p->n - k;
    p->n = k;
}

/* The engine's output since the last commit -> one LMDB txn (b: the batch
 * whose offsets it ends at; NULL: the accumulated ones) -> printing. */
static int flush_locked(struct rt_corr *cs);
static int commit_write(struct rt_corr *cs, const struct ingest_batch *b);
static int publish_incidents(struct rt_corr *cs, const struct ingest_batch *b);

/* cs->mu held. A failure is sticky: the engine's output since the last
 * commit (of every batch held with b) went with it, so a later commit of
 * this stage would store offsets past events whose state and incidents are
 * not in the store - a restart would skip them. Every later commit and
 * flush fails the same way; the run starts again from the store. */
static int commit_out(struct rt_corr *cs, const struct ingest_batch *b)
{
    int rc = corr_batch_end(cs->ce, &cs->cur);
    rc = rc ? rc : commit_write(cs, b);
    if (rc)
        cs->flush_failed = rc;
    return rc;
}

/* The batch's output (cs->cur) -> LMDB -> printing. */
static int commit_write(struct rt_corr *cs, const struct ingest_batch *b)
{
    uint64_t queued_before = cs->outbox_entries;
    int rc = 0;
    if (!rc && cs->st) {
        struct ts_err err = {0};
        cs->cur_batch = b;
        rc = store_txn_run(cs->st, txn_body, cs, &err);
        cs->cur_batch = NULL;
        if (!rc) {
            cs->store_refused += cs->refused_txn;
            rt_counters_committed(cs);
        }
        if (rc) {
            char msg[1024];
            ts_err_format(&err, msg, sizeof(msg));
            ts_error("LMDB transaction failed, offsets not committed: %s",
                     err.code ? msg : store_strerror(rc));
        }
    }
    if (!rc && cs->st)
        (void)maybe_fold(cs, false); /* logged; the journal stays until a fold works */
    if (!rc && cs->dispatcher && cs->outbox_entries != queued_before)
        esc_dispatcher_kick(cs->dispatcher); /* committed: deliver without waiting */
    for (size_t i = 0; !rc && i < cs->cur.nincidents; i++)
        rc = emit_incident(cs, &cs->cur.incidents[i]);
    if (!rc && cs->keep_evidence && cs->final_only)
        rc = final_evidence(cs, &cs->cur);
    if (!rc && cs->out && !cs->final_only && fflush(cs->out) != 0)
        rc = TS_E_IO;
    return rc;
}

/* a += b over the counters (the gauges stay a's) */
static void metrics_add(struct corr_metrics *a, const struct corr_metrics *b)
{
    uint64_t *const acc[] = {
        &a->detections,       &a->late_within,         &a->late_beyond,
        &a->late_amended,     &a->late_orphaned,       &a->missing_group_field,
        &a->missing_value,    &a->keys_cap_hit,        &a->tenant_keys_cap_hit,
        &a->bad_tenant,       &a->values_hashed,       &a->state_keys_hashed,
        &a->entries_cap_hit,  &a->keys_evicted,        &a->incidents_created,
        &a->incidents_updated, &a->incidents_retracted, &a->rewinds,
        &a->detections_opened, &a->detections_linked,  &a->values_capped,
        &a->nomem};
    const uint64_t *const add[] = {
        &b->detections,       &b->late_within,         &b->late_beyond,
        &b->late_amended,     &b->late_orphaned,       &b->missing_group_field,
        &b->missing_value,    &b->keys_cap_hit,        &b->tenant_keys_cap_hit,
        &b->bad_tenant,       &b->values_hashed,       &b->state_keys_hashed,
        &b->entries_cap_hit,  &b->keys_evicted,        &b->incidents_created,
        &b->incidents_updated, &b->incidents_retracted, &b->rewinds,
        &b->detections_opened, &b->detections_linked,  &b->values_capped,
        &b->nomem};
    for (size_t i = 0; i < TS_ARRAY_LEN(acc); i++)
        *acc[i] += *add[i];
}

void rt_corr_stats(struct rt_corr *cs, struct rt_corr_stats *out)
{
    pthread_mutex_lock(&cs->mu);
    corr_metrics_get(cs->ce, &out->m);
    metrics_add(&out->m, &cs->base);
    out->store_refused = cs->store_refused;
    out->outbox_entries = cs->outbox_entries;
    out->emitted = cs->emitted;
    out->stale_batches = cs->stale_batches;
    out->stale_detections = cs->stale_detections;
    pthread_mutex_unlock(&cs->mu);
}

int rt_corr_late_sources(struct rt_corr *cs, struct corr_late_source **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!cs->ce)
        return 0;
    pthread_mutex_lock(&cs->mu);
    int rc = corr_late_sources(cs->ce, out, n);
    pthread_mutex_unlock(&cs->mu);
    return rc;
}

int rt_corr_dropped(struct rt_corr *cs, char *buf, size_t len)
{
    struct rt_corr_stats cst;
    rt_corr_stats(cs, &cst);
    const struct corr_metrics m = cst.m;
    uint64_t refused_n = cst.store_refused;
    uint64_t any = m.missing_group_field + m.missing_value + m.keys_cap_hit +
                   m.tenant_keys_cap_hit + m.bad_tenant + m.late_beyond + refused_n;
    snprintf(buf, len,
             "correlation left out: %llu without a group-by field, %llu without a value, "
             "%llu over a rule's key cap, %llu over a tenant's key cap, %llu with a bad tenant, "
             "%llu late (%llu amended an incident), %llu refused by LMDB; %llu long group "
             "value(s) keyed by hash",
             (unsigned long long)m.missing_group_field, (unsigned long long)m.missing_value,
             (unsigned long long)m.keys_cap_hit, (unsigned long long)m.tenant_keys_cap_hit,
             (unsigned long long)m.bad_tenant, (unsigned long long)m.late_beyond,
             (unsigned long long)m.late_amended, (unsigned long long)refused_n,
             (unsigned long long)m.values_hashed);
    /* where the late ones came from (the first sources seen) */
    struct corr_late_source *ls = NULL;
    size_t nls = 0;
    if (m.late_beyond && rt_corr_late_sources(cs, &ls, &nls) == 0 && nls) {
        size_t o = strlen(buf);
        for (size_t i = 0; i < nls && i < 3 && o + 1 < len; i++) {
            int w = snprintf(buf + o, len - o, "%s%s/%s %llu", i ? ", " : "; late by source: ",
                             ls[i].source, ls[i].tenant[0] ? ls[i].tenant : "-",
                             (unsigned long long)ls[i].late);
            o = w < 0 ? len : o + (size_t)w;
        }
        if (nls > 3 && o + 1 < len)
            snprintf(buf + o, len - o, ", ... (%zu sources)", nls);
    }
    free(ls);
    return any != 0;
}

void rt_corr_tick(struct rt_corr *cs)
{
    if (cs->st && !cs->final_only)
        (void)maybe_fold(cs, false); /* its own write txn; logged on failure */
}

int rt_corr_commit(struct rt_corr *cs, const struct ingest_batch *b)
{
    size_t w = b->worker >= 0 && (size_t)b->worker < cs->nworkers ? (size_t)b->worker : 0;
    struct rt_corr_pairs *p = &cs->pairs[w];
    pthread_mutex_lock(&cs->mu);
    int rc = 0;
    if (cs->flush_failed) {
        p->n = 0;
        pthread_mutex_unlock(&cs->mu);
        return cs->flush_failed;
    }
    if (cs->fence) {
        int before = fed_before(cs, b);
        if (cs->pre_write && (rc = cs->pre_write(cs->pre_write_ctx, b, before == 2)) != 0) {
            p->n = 0; /* not committed: the batch is read again */
            pthread_mutex_unlock(&cs->mu);
            return rc;
        }
        if (before == 2) {
            p->n = 0; /* fed with the batch that read them first */
            cs->stale_batches++;
            pthread_mutex_unlock(&cs->mu);
            return INGEST_E_STALE;
        }
        if (before == 1)
            drop_fed(cs, p);
        cs->fence_partial = before == 1;
    }
    corr_batch_begin(cs->ce);
    if (cs->dist)
        p->held = true; /* fed from here on: an abort cannot take the batch again */
    for (size_t i = 0; !rc && i < p->n; i++)
        rc = p->v[i].use == RT_CORR_ALL_USES
                 ? corr_feed(cs->ce, p->v[i].rule, p->v[i].ev)
                 : corr_feed_use(cs->ce, p->v[i].rule, p->v[i].use, p->v[i].ev);
    rc = rc ? rc : rt_counters_batch(cs, b, p);
    cs->fence_partial = false;
    /* after the counters: they leave out the events fed before (rt_corr_fed) */
    rc = rc ? rc : cs->fence ? merge_offsets(&cs->fed, &cs->nfed, &cs->capfed, b, true) : 0;
    p->n = 0;
    if (cs->dist) {
        /* the changed state into the batch's Kafka transaction; LMDB after
         * Kafka committed (rt_corr_txn_done), the mutex held till then */
        rc = rc ? rc : corr_batch_end(cs->ce, &cs->cur);
        rc = rc ? rc : rt_dist_produce(cs->dist, &cs->cur, b);
        rc = rc ? rc : cs->dist->inc_topic ? publish_incidents(cs, b) : 0;
        return rc; /* txn_done follows, committed or aborted, and unlocks */
    }
    bool coalesce = cs->commit_events || cs->commit_ns || cs->commit_batches;
    if (!rc && coalesce) {
        rc = acc_offsets(cs, b);
        int64_t now = ts_now_ns();
        if (!cs->held_events)
            cs->held_since = now;
        cs->held_events += b->n ? b->n : 1;
        cs->held_batches++;
        if (!rc && (cs->held_events < cs->commit_events || !cs->commit_events) &&
            (cs->held_batches < cs->commit_batches || !cs->commit_batches) &&
            (now - cs->held_since < cs->commit_ns || !cs->commit_ns)) {
            corr_batch_hold(cs->ce); /* the store is written at a later batch */
            pthread_mutex_unlock(&cs->mu);
            return cs->report_held ? INGEST_HELD : 0;
        }
        if (!rc && (rc = commit_out(cs, NULL)) == 0)
            cs->held_events = cs->held_batches = 0; /* acc stays: the latest offsets */
    } else if (!rc) {
        rc = commit_out(cs, b);
    }
    pthread_mutex_unlock(&cs->mu);
    return rc;
}

/* Distributed: the batch's incident changes and their evidence to the
 * incidents topic in b's transaction (inc_topic.c: the formats), each on
 * the partition of its incident's id. */
static int publish_incidents(struct rt_corr *cs, const struct ingest_batch *b)
{
    const struct corr_batch *out = &cs->cur;
    struct rt_dist *d = cs->dist;
    struct ts_buf *v = &d->pub, *k = &d->pubkey;
    int rc = group_evidence(cs, out);
    size_t ni = out->nincidents;
    for (size_t i = 0; !rc && i <= ni; i++) {
        const struct corr_incident *ci = i < ni ? &out->incidents[i] : NULL;
        size_t lo = cs->ev_start[i], hi = cs->ev_start[i + 1];
        int32_t p = ci ? ingest_kafka_partition_of(ci->id, strlen(ci->id), d->inc_nparts) : 0;
        if (ci && ci->retracted) {
            rc = ingest_batch_produce_to(b, d->inc_topic, p, ci->id, strlen(ci->id), NULL, 0, 0);
            continue;
        }
        if (ci) {
            const char *asset_id = NULL;
            for (size_t j = lo; j < hi; j++)
                if (out->evidence[cs->ev_order[j]].attr)
                    asset_id = out->evidence[cs->ev_order[j]].attr;
            char key[1024], details[512];
            struct store_incident si;
            incident_si(cs, ci, asset_id, key, details, &si);
            ts_buf_reset(v);
            rc = rt_inc_encode(v, d->node, &si);
            rc = rc ? rc : ingest_batch_produce_to(b, d->inc_topic, p, ci->id, strlen(ci->id),
                                                   v->data, v->len, 0);
            if (!rc)
                d->inc_records++;
        }
        for (size_t j = lo; !rc && j < hi; j++) { /* after i == ni: of incidents not listed */
            const struct corr_evidence *e = &out->evidence[cs->ev_order[j]];
            struct store_evidence er = evidence_rec(e);
            ts_buf_reset(v);
            ts_buf_reset(k);
            rc = rt_inc_encode_ev(v, d->node, e->incident, &er);
            rc = rc ? rc : rt_inc_evidence_key(k, e->incident, er.source, er.partition,
                                               er.offset);
            int32_t ep = ingest_kafka_partition_of(e->incident, strlen(e->incident),
                                                   d->inc_nparts);
            rc = rc ? rc : ingest_batch_produce_to(b, d->inc_topic, ep, k->data, k->len, v->data,
                                                   v->len, 0);
        }
    }
    return rc;
}

int rt_corr_txn_done(struct rt_corr *cs, const struct ingest_batch *b, bool committed)
{
    size_t w = b->worker >= 0 && (size_t)b->worker < cs->nworkers ? (size_t)b->worker : 0;
    struct rt_corr_pairs *p = &cs->pairs[w];
    if (!p->held)
        return 0; /* the batch failed before its commit: nothing was fed */
    p->held = false;
    if (committed && cs->dist->kill_after && ++cs->dist->kafka_commits == cs->dist->kill_after) {
        ts_warn("TOCSIN_TEST_KILL_AFTER_COMMITS: killed after the Kafka commit, before LMDB");
        raise(SIGKILL);
    }
    int rc = committed ? commit_write(cs, b) : TS_E_KAFKA;
    if (rc)
        cs->flush_failed = rc; /* as commit_out: nothing of this stage commits after it */
    if (rc == TS_E_KAFKA)
        ts_error("correlation stage: the Kafka transaction of a batch the engine took was "
                 "aborted: stopping (a restart restores the state from the changelog)");
    pthread_mutex_unlock(&cs->mu);
    return rc;
}

void rt_corr_batch_enter(struct rt_corr *cs) { pthread_rwlock_rdlock(&cs->batch_rw); }
void rt_corr_batch_leave(struct rt_corr *cs) { pthread_rwlock_unlock(&cs->batch_rw); }

int rt_corr_reload(struct rt_corr *cs, struct rule_set *rs, const struct corr_opts *opts,
                   void (*swap)(void *ctx), void *ctx)
{
    if (!cs->st || cs->final_only)
        return TS_E_UNSUPPORTED;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    if (pthread_rwlock_timedwrlock(&cs->batch_rw, &until) != 0) {
        ts_error("reload: batches in flight did not finish within 10 s; rules unchanged");
        return TS_E_LIMIT;
    }
    /* no batch between process and commit now; the batches coalescing
     * holds written, the store holds exactly the engine's state (each
     * commit wrote the keys it changed) */
    pthread_mutex_lock(&cs->mu);
    int rc = flush_locked(cs);
    if (rc) {
        cs->flush_failed = rc; /* the engine's output is gone: nothing commits after it */
        ts_error("reload: the batches held for the next commit could not be written (%s); "
                 "rules unchanged, consumption stops", store_strerror(rc));
        pthread_mutex_unlock(&cs->mu);
        pthread_rwlock_unlock(&cs->batch_rw);
        return rc;
    }
    struct corr_report rep;
    struct corr_engine *ne = NULL;
    rc = build_engine(rs, opts, true, &ne, &rep);
    corr_report_free(&rep);
    struct import_ctx x;
    if (!rc && (rc = import_state(cs, ne, &x)) != 0)
        ts_error("reload: correlation state not carried over (%s); rules unchanged",
                 store_strerror(rc));
    if (rc) {
        corr_engine_destroy(ne);
    } else {
        ts_info("reload: correlation: %zu rule(s), %llu state key(s) carried over (%llu of "
                "rules no longer loaded)",
                corr_rule_count(ne), (unsigned long long)x.imported,
                (unsigned long long)x.stale);
        struct corr_engine *old = cs->ce;
        struct corr_metrics om; /* its counters go on in the new engine's */
        corr_metrics_get(old, &om);
        metrics_add(&cs->base, &om);
        struct corr_late_source *ls = NULL;
        size_t nls = 0;
        if (corr_late_sources(old, &ls, &nls) == 0)
            corr_late_sources_add(ne, ls, nls);
        free(ls);
        cs->ce = ne;
        corr_engine_destroy(old);
        if (swap)
            swap(ctx);
    }
    pthread_mutex_unlock(&cs->mu);
    pthread_rwlock_unlock(&cs->batch_rw);
    return rc;
}

/* What coalescing holds -> one LMDB transaction (cs->mu held). */
static int flush_locked(struct rt_corr *cs)
{
    if (!cs->ce || !cs->held_events)
        return 0;
    corr_batch_begin(cs->ce);
    int rc = commit_out(cs, NULL);
    if (!rc)
        cs->held_events = cs->held_batches = 0;
    return rc;
}

int rt_corr_flush(struct rt_corr *cs)
{
    pthread_mutex_lock(&cs->mu);
    int rc = cs->flush_failed ? cs->flush_failed : flush_locked(cs);
    pthread_mutex_unlock(&cs->mu);
    return rc;
}

int rt_corr_seek(struct rt_corr *cs, const char *topic, int32_t partition, int64_t *offset)
{
    if (!cs->st)
        return TS_E_NOTFOUND;
    return store_offset_get(cs->st, topic, partition, offset);
}

/* ,"evidence":[{"source","partition","offset","event_time"[,"rule_id"],
 * "raw"[,"raw_from_source":true]|"raw_unavailable"[,"late":true]}...]
 * [,"evidence_more":N] of an incident of the final list. */
static int final_evidence_json(const struct rt_final_incident *f, struct rt_readback **rb,
                               struct ts_buf *b)
{
    int rc = ts_buf_puts(b, ",\"evidence\":[");
    for (size_t i = 0; !rc && i < f->nev; i++) {
        const struct rt_final_evidence *x = &f->ev[i];
        char t[48];
        ts_format_rfc3339(x->time_ns, t, sizeof(t));
        rc = ts_buf_puts(b, i ? ",{\"source\":" : "{\"source\":");
        rc = rc ? rc : ts_buf_json_str(b, x->source, strlen(x->source));
        rc = rc ? rc : ts_buf_printf(b, ",\"partition\":%d,\"offset\":%lld,\"event_time\":\"%s\"",
                                     (int)x->partition, (long long)x->offset, t);
        if (!rc && x->sub_rule) {
            rc = ts_buf_puts(b, ",\"rule_id\":");
            rc = rc ? rc : ts_buf_json_str(b, x->sub_rule, strlen(x->sub_rule));
        }
        const char *line = x->raw, *why = "not kept (read from stdin or Kafka)";
        size_t n = x->raw ? strlen(x->raw) : 0;
        bool back = false;
        if (!line && x->partition < 0 && *x->source && strcmp(x->source, "-") != 0 &&
            (*rb || (*rb = rt_readback_new()) != NULL)) {
            line = rt_readback_line(*rb, x->source, x->offset, &n, &why);
            back = line != NULL;
        }
        if (!rc && line) {
            rc = ts_buf_puts(b, ",\"raw\":");
            rc = rc ? rc : ts_buf_json_str(b, line, n);
            if (!rc && back)
                rc = ts_buf_puts(b, ",\"raw_from_source\":true");
        } else if (!rc) {
            rc = ts_buf_puts(b, ",\"raw_unavailable\":");
            rc = rc ? rc : ts_buf_json_str(b, why, strlen(why));
        }
        if (!rc && x->late)
            rc = ts_buf_puts(b, ",\"late\":true");
        rc = rc ? rc : ts_buf_putc(b, '}');
    }
    rc = rc ? rc : ts_buf_putc(b, ']');
    if (!rc && f->ev_more)
        rc = ts_buf_printf(b, ",\"evidence_more\":%llu", (unsigned long long)f->ev_more);
    return rc;
}

void rt_corr_print_final(struct rt_corr *cs)
{
    struct rt_readback *rb = NULL;
    const char **ptrs = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < cs->nfinal && cs->out; i++) {
        const struct rt_final_incident *f = &cs->final[i];
        struct corr_incident v = f->v;
        size_t n = v.ngroup + v.nvalues;
        if (n + 1 > cap) {
            const char **np = realloc(ptrs, (n + 1) * sizeof(*np));
            if (!np) {
                rc = TS_E_NOMEM;
                break;
            }
            ptrs = np;
            cap = n + 1;
        }
        const char *p = f->strs;
        v.tenant = p;
        p += strlen(p) + 1;
        for (size_t j = 0; j < n; j++) {
            ptrs[j] = p;
            p += strlen(p) + 1;
        }
        v.group_values = ptrs;
        v.values = ptrs + v.ngroup;
        ts_buf_reset(&cs->line);
        rc = ts_buf_puts(&cs->line, "{\"kind\":\"incident\",\"incident\":");
        rc = rc ? rc : corr_incident_json(&v, &cs->line);
        if (!rc && cs->keep_evidence)
            rc = final_evidence_json(f, &rb, &cs->line);
        rc = rc ? rc : ts_buf_puts(&cs->line, "}\n");
        if (!rc && fwrite(cs->line.data, 1, cs->line.len, cs->out) != cs->line.len)
            rc = TS_E_IO;
    }
    rt_readback_free(rb);
    free(ptrs);
    if (rc)
        fprintf(stderr, "tocsin: cannot print the incidents: %s\n", ts_strerror(rc));
    if (cs->out)
        fflush(cs->out);
}

void rt_corr_close(struct rt_corr *cs)
{
    for (size_t i = 0; cs->pairs && i < cs->nworkers; i++)
        free(cs->pairs[i].v);
    free(cs->pairs);
    for (size_t i = 0; i < cs->nfinal; i++) {
        final_evidence_free(&cs->final[i]);
        free(cs->final[i].strs);
        free(cs->final[i].gf);
    }
    free(cs->final);
    free(cs->idx);
    free(cs->prev);
    free(cs->had_prev);
    free(cs->ev_start);
    free(cs->ev_order);
    free(cs->ev_group);
    free(cs->ev_recs);
    free(cs->ev_hash);
    free(cs->sorder);
    free(cs->iorder);
    for (size_t i = 0; i < cs->nacc; i++)
        free((char *)cs->acc[i].topic);
    free(cs->acc);
    for (size_t i = 0; i < cs->nfed; i++)
        free((char *)cs->fed[i].topic);
    free(cs->fed);
    ts_arena_destroy(cs->esc_arena);
    corr_engine_destroy(cs->ce);
    if (cs->st)
        (void)maybe_fold(cs, true); /* readers find it folded */
    rt_counters_free(cs->counters);
    store_close(cs->st);
    ts_buf_free(&cs->line);
    pthread_mutex_destroy(&cs->mu);
    pthread_rwlock_destroy(&cs->batch_rw);
    memset(cs, 0, sizeof(*cs));
}
