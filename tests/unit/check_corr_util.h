/* check_corr_util.h - harness for the correlation suites: load rules from a
 * YAML string, build an engine, feed synthetic detections (rule, time,
 * fields), collect the incidents (latest state per id) and the evidence,
 * and a tiny key/value "store" for export/import round trips. */
#ifndef CHECK_CORR_UTIL_H
#define CHECK_CORR_UTIL_H

#include <stdarg.h>
#include <string.h>

#include "../../core/arena.h"
#include "../../correlate/correlate.h"
#include "check_util.h"

#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)

struct inc_rec {
    char id[33];
    char rule[64];
    char group[1024];
    uint64_t count, late;
    int64_t first, last, episode;
    size_t nvalues;
    bool values_capped;
    int severity;
    uint64_t linked;
    char type[16];
    unsigned created, updated;
};

struct harness {
    struct rule_set *rs;
    struct corr_engine *c;
    struct corr_report rep;
    struct ts_arena *a;
    struct inc_rec inc[256];
    size_t ninc;
    size_t nevidence, nevidence_raw, nevidence_late, nevidence_orphan, nevidence_linked;
    size_t nretracted;
    /* store */
    struct kv { char *k, *v; size_t kl, vl; } *kv;
    size_t nkv;
    const char *tenant; /* of the events fed; NULL: "agency-a" */
};

static inline int h_on_incident(void *ctx, const struct corr_incident *v)
{
    struct harness *h = ctx;
    struct inc_rec *r = NULL;
    for (size_t i = 0; i < h->ninc && !r; i++)
        if (strcmp(h->inc[i].id, v->id) == 0)
            r = &h->inc[i];
    if (v->retracted) { /* undone by an event within the allowance: gone */
        ck_assert_msg(r != NULL, "retraction of an unknown incident %s", v->id);
        h->nretracted++;
        memmove(r, r + 1, (size_t)(&h->inc[h->ninc] - (r + 1)) * sizeof(*r));
        h->ninc--;
        return 0;
    }
    if (!r) {
        ck_assert_msg(v->created, "update of an unknown incident %s", v->id);
        ck_assert_uint_lt(h->ninc, 256);
        r = &h->inc[h->ninc++];
        memset(r, 0, sizeof(*r));
        snprintf(r->id, sizeof(r->id), "%s", v->id);
    }
    snprintf(r->rule, sizeof(r->rule), "%s", v->rule_id ? v->rule_id : "");
    r->group[0] = '\0';
    for (size_t i = 0; i < v->ngroup; i++) {
        size_t l = strlen(r->group);
        snprintf(r->group + l, sizeof(r->group) - l, "%s%s=%s", i ? "," : "", v->group_fields[i],
                 v->group_values[i]);
    }
    r->count = v->count;
    r->late = v->late;
    r->linked = v->linked;
    snprintf(r->type, sizeof(r->type), "%s", v->rule_type ? v->rule_type : "");
    r->first = v->first_seen;
    r->last = v->last_seen;
    r->episode = v->episode_start;
    r->nvalues = v->nvalues;
    r->values_capped = v->values_capped;
    ck_assert_int_ge(v->severity, r->severity); /* only goes up */
    r->severity = v->severity;
    if (v->created)
        r->created++;
    else
        r->updated++;
    return 0;
}

static inline void h_store_apply(struct harness *h, const struct corr_batch *b)
{
    for (size_t i = 0; i < b->nstate; i++) {
        const struct corr_state_item *it = &b->state[i];
        size_t j = 0;
        while (j < h->nkv && !(h->kv[j].kl == it->key_len && memcmp(h->kv[j].k, it->key, it->key_len) == 0))
            j++;
        if (it->deleted) {
            if (j < h->nkv) {
                free(h->kv[j].k);
                free(h->kv[j].v);
                h->kv[j] = h->kv[--h->nkv];
            }
            continue;
        }
        if (j == h->nkv) {
            h->kv = realloc(h->kv, (h->nkv + 1) * sizeof(*h->kv));
            ck_assert_ptr_nonnull(h->kv);
            h->kv[j].k = malloc(it->key_len);
            memcpy(h->kv[j].k, it->key, it->key_len);
            h->kv[j].kl = it->key_len;
            h->kv[j].v = NULL;
            h->nkv++;
        }
        free(h->kv[j].v);
        h->kv[j].v = malloc(it->val_len + 1);
        memcpy(h->kv[j].v, it->val, it->val_len);
        h->kv[j].vl = it->val_len;
    }
}

static inline void h_end(struct harness *h)
{
    struct corr_batch b;
    ck_assert_int_eq(corr_batch_end(h->c, &b), 0);
    for (size_t i = 0; i < b.nevidence; i++) {
        h->nevidence++;
        h->nevidence_raw += b.evidence[i].raw != NULL;
        h->nevidence_late += b.evidence[i].late;
        h->nevidence_orphan += b.evidence[i].incident[0] == '\0';
        h->nevidence_linked += b.evidence[i].linked;
    }
    h_store_apply(h, &b);
}

static inline void h_engine(struct harness *h, const struct corr_opts *o)
{
    struct ts_err err = {0};
    ck_assert_int_eq(corr_engine_create(&h->c, h->rs, o, &h->rep, &err), 0);
    corr_set_incident_cb(h->c, h_on_incident, h);
}

static inline void h_open(struct harness *h, const char *yaml, const struct corr_opts *o)
{
    memset(h, 0, sizeof(*h));
    struct rule_load_opts lo = {.buf = yaml, .buf_len = strlen(yaml), .buf_name = "t.yml"};
    struct rule_report rr;
    struct ts_err err = {0};
    ck_assert_int_eq(rule_set_load(&h->rs, &lo, &rr, &err), 0);
    for (size_t i = 0; i < rr.nproblems; i++)
        fprintf(stderr, "rules: %u:%u %s\n", rr.problems[i].line, rr.problems[i].col,
                rr.problems[i].msg);
    rule_report_free(&rr);
    ck_assert_int_eq(ts_arena_create(&h->a, 4096, 1 << 20), 0);
    h_engine(h, o);
}

static inline void h_close(struct harness *h)
{
    corr_engine_destroy(h->c);
    corr_report_free(&h->rep);
    rule_set_unref(h->rs);
    ts_arena_destroy(h->a);
    for (size_t i = 0; i < h->nkv; i++) {
        free(h->kv[i].k);
        free(h->kv[i].v);
    }
    free(h->kv);
}

/* Restart: export nothing more, destroy, create anew and import the store. */
static inline void h_restart(struct harness *h, const struct corr_opts *o)
{
    corr_engine_destroy(h->c);
    corr_report_free(&h->rep);
    h_engine(h, o);
    for (size_t i = 0; i < h->nkv; i++)
        ck_assert_int_eq(corr_state_import(h->c, h->kv[i].k, h->kv[i].kl, h->kv[i].v, h->kv[i].vl), 0);
}

/* Feed one detection of rule `rule` at time t (ns) from file src line `line`,
 * with fields given as name, value pairs (NULL-terminated). A value starting
 * with '#' is an integer. */
static inline int h_feed_src(struct harness *h, const char *rule, int64_t t, const char *src, uint64_t line,
                      ...)
{
    ts_arena_reset(h->a);
    struct ts_event ev;
    ts_event_init(&ev, h->a);
    ev.time_ns = t;
    ev.tenant = h->tenant ? h->tenant : "agency-a";
    ev.src.kind = TS_SRC_FILE;
    ev.src.name = src;
    ev.src.line = line;
    ev.raw = "raw line";
    ev.raw_len = 8;
    va_list ap;
    va_start(ap, line);
    const char *k;
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        if (v[0] == '#')
            ts_event_add_int(&ev, k, strtoll(v + 1, NULL, 10));
        else
            ts_event_add_str(&ev, k, v, strlen(v));
    }
    va_end(ap);
    long idx = rule_set_find(h->rs, rule);
    ck_assert_msg(idx >= 0, "rule %s not loaded", rule);
    return corr_feed(h->c, (size_t)idx, &ev);
}

#define FEED(h, rule, t, ...) ck_assert_int_eq(h_feed_src(h, rule, t, "t.log", 0, __VA_ARGS__, NULL), 0)

static inline const struct inc_rec *h_find(const struct harness *h, const char *rule, const char *group)
{
    const struct inc_rec *last = NULL;
    for (size_t i = 0; i < h->ninc; i++)
        if (strcmp(h->inc[i].rule, rule) == 0 && (!group || strcmp(h->inc[i].group, group) == 0))
            last = &h->inc[i];
    return last;
}

static inline size_t h_count(const struct harness *h, const char *rule)
{
    size_t n = 0;
    for (size_t i = 0; i < h->ninc; i++)
        n += strcmp(h->inc[i].rule, rule) == 0;
    return n;
}

/* Detection rules used by the suites: one per name, matching nothing in
 * particular (the tests feed detections directly). */
#define DET_RULE(name)                                                                            \
    "title: " name "\nname: " name "\nlogsource:\n"         \
    "  product: test\ndetection:\n  sel:\n    x: " name "\n  condition: sel\nlevel: low\n"        \
    "tags:\n  - attack.t1110\n---\n"

#endif
