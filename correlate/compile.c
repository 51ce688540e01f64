/* compile.c - Sigma correlation rules (YAML trees kept by the rule loader)
 * into struct crule: type, inputs by id or name (detection rules and other
 * correlations), aliases, group-by, timespan, condition, generate, level and
 * ATT&CK tags. Every problem is reported with file:line:col and the rule id;
 * a rule with a problem is left out, and so is every correlation that uses it.
 * Runs once in corr_engine_create; single-threaded. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/yconf.h"
#include "corr_int.h"

#define MAX_PROBLEMS_PER_RULE 16
#define MAX_SPAN_NS (366LL * 86400LL * 1000000000LL)

const char *const corr_type_names[] = {"event_count", "value_count", "temporal",
                                       "temporal_ordered", "value_sum", "value_avg",
                                       "value_percentile", "grouping", "detection", NULL};

struct cctx {
    struct corr_engine *c;
    struct corr_report *rep;
    const struct rule_info *info;
    size_t nprob;
    bool invalid, unsupported;
    bool nomem;
};

__attribute__((format(printf, 4, 5))) static void prob(struct cctx *x, enum rule_problem_kind kind,
                                                       const struct ts_ynode *at, const char *fmt,
                                                       ...)
{
    if (kind == RULE_INVALID)
        x->invalid = true;
    else
        x->unsupported = true;
    if (!x->rep || x->nprob >= MAX_PROBLEMS_PER_RULE)
        return;
    struct rule_problem *n =
        realloc(x->rep->problems, (x->rep->nproblems + 1) * sizeof(*x->rep->problems));
    if (!n) {
        x->nomem = true;
        return;
    }
    x->rep->problems = n;
    struct rule_problem *p = &n[x->rep->nproblems++];
    memset(p, 0, sizeof(*p));
    x->nprob++;
    p->kind = kind;
    snprintf(p->file, sizeof(p->file), "%s", x->info && x->info->file ? x->info->file : "");
    p->line = at ? at->line : x->info ? x->info->line : 0;
    p->col = at ? at->col : 0;
    const char *id = x->info ? (x->info->id ? x->info->id : x->info->name) : NULL;
    snprintf(p->rule_id, sizeof(p->rule_id), "%s", id ? id : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
    va_end(ap);
}

void corr_report_free(struct corr_report *r)
{
    if (!r)
        return;
    free(r->problems);
    r->problems = NULL;
    r->nproblems = 0;
}

int corr_level_severity(const char *level)
{
    static const char *const names[] = {"informational", "low", "medium", "high", "critical"};
    for (int i = 0; level && i < 5; i++)
        if (strcmp(level, names[i]) == 0)
            return i + 1;
    return CORR_SEV_NONE;
}

const char *corr_severity_name(int sev)
{
    static const char *const names[] = {"none", "informational", "low", "medium", "high",
                                        "critical"};
    return sev >= 0 && sev <= 5 ? names[sev] : "none";
}

/* "90m", "10s", "1h", "7d": number + lowercase unit. */
static int parse_span(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > 1000000000)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (i == 0 || s[i + 1] != '\0')
        return -1;
    int64_t unit;
    switch (s[i]) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return -1;
    }
    if (v == 0 || v > MAX_SPAN_NS / (unit * 1000000000LL))
        return -1;
    *out = v * unit * 1000000000LL;
    return 0;
}

static bool scalar(const struct ts_ynode *n)
{
    return n && n->kind == TS_Y_SCALAR;
}

static int parse_num(const struct ts_ynode *n, bool integer, double *out)
{
    if (!scalar(n) || n->style != TS_YS_PLAIN || n->len == 0)
        return -1;
    errno = 0;
    char *end = NULL;
    double d = strtod(n->str, &end);
    if (errno || !end || *end || !isfinite(d))
        return -1;
    if (integer && (d != floor(d) || d < 0 || d > 1e15))
        return -1;
    *out = d;
    return 0;
}

static const char *map_field(const struct corr_engine *c, const char *f)
{
    for (size_t i = 0; i < c->o.nfield_aliases; i++)
        if (c->o.field_aliases[i].sigma_name && strcmp(c->o.field_aliases[i].sigma_name, f) == 0)
            return c->o.field_aliases[i].event_name;
    return f;
}

/* Names a ref answers to: as written, the rule's id, its name. */
static bool ref_named(const struct cref *r, const struct rule_info *ri, const char *s)
{
    return strcmp(r->name, s) == 0 || (ri->id && strcmp(ri->id, s) == 0) ||
           (ri->name && strcmp(ri->name, s) == 0);
}

static const struct rule_info *ref_info(const struct corr_engine *c, const struct cref *r)
{
    if (r->is_corr) {
        const struct rule_info *ri = NULL;
        (void)rule_set_correlation(c->rs, r->idx, &ri);
        return ri;
    }
    return rule_set_info(c->rs, r->idx);
}

static void add_tag(struct cctx *x, struct crule *cr, const char *t)
{
    if (!t || strncmp(t, "attack.", 7) != 0 || cr->ntags >= 64)
        return;
    for (size_t i = 0; i < cr->ntags; i++)
        if (strcmp(cr->tags[i], t) == 0)
            return;
    if (!cr->tags) {
        cr->tags = ts_arena_alloc(x->c->carena, 64 * sizeof(*cr->tags));
        if (!cr->tags) {
            x->nomem = true;
            return;
        }
    }
    cr->tags[cr->ntags++] = t;
}

static const char *const corr_keys[] = {"type", "rules", "aliases", "group-by", "timespan",
                                        "timeframe", "condition", "generate", NULL};

static void compile_condition(struct cctx *x, struct crule *cr, const struct ts_ynode *cond,
                              const struct ts_ynode *corr, const char **fl)
{
    bool numeric = cr->type == CT_VALUE_SUM || cr->type == CT_VALUE_AVG ||
                   cr->type == CT_VALUE_PERCENTILE;
    bool needs_field = cr->type == CT_VALUE_COUNT || numeric;
    bool temporal = cr->type == CT_TEMPORAL || cr->type == CT_TEMPORAL_ORDERED;
    cr->percentile = 50;
    if (!cond) {
        if (!temporal)
            prob(x, RULE_INVALID, corr, "%s needs a condition (gt, gte, lt, lte, eq or neq)",
                 corr_type_names[cr->type]);
        if (needs_field)
            prob(x, RULE_INVALID, corr, "%s needs condition.field", corr_type_names[cr->type]);
        return;
    }
    if (cond->kind != TS_Y_MAP) {
        prob(x, RULE_INVALID, cond, "condition must be a mapping, not %s", ts_yaml_kind_name(cond));
        return;
    }
    static const char *const ops[] = {"gt", "gte", "lt", "lte", "eq", "neq", NULL};
    const struct ts_ynode *field = NULL;
    for (size_t i = 0; i < cond->npairs; i++) {
        const struct ts_ynode *k = cond->pairs[i].key, *v = cond->pairs[i].val;
        if (!scalar(k))
            continue;
        int op = -1;
        for (int o = 0; ops[o]; o++)
            if (strcmp(k->str, ops[o]) == 0)
                op = o;
        if (op >= 0) {
            double d;
            if (parse_num(v, !numeric, &d) != 0) {
                prob(x, RULE_INVALID, v, "condition %s needs %s, not \"%s\"", k->str,
                     numeric ? "a number" : "a non-negative integer", scalar(v) ? v->str : "?");
                continue;
            }
            for (size_t j = 0; j < cr->nconds; j++)
                if (cr->conds[j].op == op)
                    prob(x, RULE_INVALID, k, "condition %s given twice", k->str);
            if (cr->nconds < 6)
                cr->conds[cr->nconds++] = (struct ccond){(uint8_t)op, d};
        } else if (strcmp(k->str, "field") == 0) {
            field = v;
        } else if (strcmp(k->str, "percentile") == 0) {
            double d;
            if (cr->type != CT_VALUE_PERCENTILE)
                prob(x, RULE_INVALID, k, "percentile is only for value_percentile");
            else if (parse_num(v, false, &d) != 0 || d < 0 || d > 100)
                prob(x, RULE_INVALID, v, "percentile must be a number from 0 to 100");
            else
                cr->percentile = d;
        } else {
            static const char *const ckeys[] = {"gt", "gte", "lt", "lte", "eq", "neq", "field",
                                                "percentile"};
            const char *s = ts_yconf_suggest(k->str, k->len, ckeys,
                                             cr->type == CT_VALUE_PERCENTILE ? 8 : 7);
            if (s)
                prob(x, RULE_INVALID, k, "unknown condition key \"%s\" (did you mean \"%s\"?)",
                     k->str, s);
            else
                prob(x, RULE_INVALID, k, "unknown condition key \"%s\" (gt, gte, lt, lte, eq, "
                     "neq, field%s)",
                     k->str, cr->type == CT_VALUE_PERCENTILE ? ", percentile" : "");
        }
    }
    if (cr->nconds == 0)
        prob(x, RULE_INVALID, cond, "condition needs an operator (gt, gte, lt, lte, eq or neq)");
    if (field && !needs_field)
        prob(x, RULE_INVALID, field, "condition.field is only for value_count, value_sum, "
             "value_avg and value_percentile");
    else if (needs_field && !field)
        prob(x, RULE_INVALID, cond, "%s needs condition.field", corr_type_names[cr->type]);
    if (!field || !needs_field)
        return;
    size_t nf = 0;
    if (scalar(field) && field->len) {
        fl[nf++] = field->str;
    } else if (field->kind == TS_Y_SEQ && field->nitems > 0) {
        if (field->nitems > CORR_MAX_FIELDS || (numeric && field->nitems > 1)) {
            prob(x, RULE_INVALID, field, "condition.field: at most %d field%s", numeric ? 1 :
                 CORR_MAX_FIELDS, numeric ? "" : "s");
            return;
        }
        for (size_t i = 0; i < field->nitems; i++) {
            if (!scalar(field->items[i]) || !field->items[i]->len) {
                prob(x, RULE_INVALID, field->items[i], "condition.field entries must be field "
                     "names");
                return;
            }
            fl[nf++] = field->items[i]->str;
        }
    } else {
        prob(x, RULE_INVALID, field, "condition.field must be a field name or a list of them");
        return;
    }
    cr->nfields = nf;
    cr->value_field = nf && cr->type == CT_VALUE_COUNT ? fl[0] : NULL;
}

/* Resolve each input by id or name: detection rules first, then other
 * correlations (not itself). */
static void compile_refs(struct cctx *x, struct crule *cr, size_t self,
                         const struct ts_ynode *rules)
{
    if (!rules || rules->kind != TS_Y_SEQ || rules->nitems == 0) {
        prob(x, RULE_INVALID, rules, "correlation.rules must be a non-empty list of rule ids or "
             "names");
        return;
    }
    if (rules->nitems > CORR_MAX_RULES_REF) {
        prob(x, RULE_INVALID, rules, "correlation.rules: at most %d rules",
             CORR_MAX_RULES_REF);
        return;
    }
    size_t ncorr = rule_set_correlation_count(x->c->rs);
    cr->refs = ts_arena_alloc(x->c->carena, rules->nitems * sizeof(*cr->refs));
    if (!cr->refs) {
        x->nomem = true;
        return;
    }
    for (size_t i = 0; i < rules->nitems; i++) {
        const struct ts_ynode *n = rules->items[i];
        if (!scalar(n) || n->len == 0) {
            prob(x, RULE_INVALID, n, "correlation.rules entries must be rule ids or names");
            continue;
        }
        struct cref *r = &cr->refs[cr->nrefs];
        memset(r, 0, sizeof(*r));
        r->name = n->str;
        long d = rule_set_find(x->c->rs, n->str);
        if (d >= 0) {
            r->idx = (size_t)d;
        } else {
            bool found = false;
            for (size_t k = 0; k < ncorr && !found; k++) {
                const struct rule_info *ri = NULL;
                (void)rule_set_correlation(x->c->rs, k, &ri);
                if (k != self && ri && ((ri->id && strcmp(ri->id, n->str) == 0) ||
                                        (ri->name && strcmp(ri->name, n->str) == 0))) {
                    r->is_corr = true;
                    r->idx = k;
                    found = true;
                }
            }
            if (!found) {
                prob(x, RULE_INVALID, n, "correlation refers to rule \"%s\", which is not loaded",
                     n->str);
                continue;
            }
        }
        for (size_t j = 0; j < cr->nrefs; j++)
            if (cr->refs[j].is_corr == r->is_corr && cr->refs[j].idx == r->idx)
                prob(x, RULE_INVALID, n, "rule \"%s\" is listed twice", n->str);
        cr->nrefs++;
    }
}

/* group-by names -> per-input event field names, through aliases. */
static void compile_fields(struct cctx *x, struct crule *cr, const struct ts_ynode *gb,
                           const struct ts_ynode *aliases, const char *const *vf)
{
    if (gb && gb->kind != TS_Y_SEQ && !ts_yaml_is_null(gb)) {
        prob(x, RULE_INVALID, gb, "group-by must be a list of field names");
        return;
    }
    if (gb && gb->kind == TS_Y_SEQ) {
        if (gb->nitems > CORR_MAX_GROUP_BY) {
            prob(x, RULE_INVALID, gb, "group-by: at most %d fields", CORR_MAX_GROUP_BY);
            return;
        }
        for (size_t i = 0; i < gb->nitems; i++) {
            const struct ts_ynode *g = gb->items[i];
            if (!scalar(g) || !g->len) {
                prob(x, RULE_INVALID, g, "group-by entries must be field names");
                return;
            }
            for (size_t j = 0; j < cr->ngroup; j++)
                if (strcmp(cr->group[j], g->str) == 0)
                    prob(x, RULE_INVALID, g, "group-by field \"%s\" listed twice", g->str);
            cr->group[cr->ngroup++] = g->str;
        }
    }
    if (aliases && aliases->kind != TS_Y_MAP) {
        prob(x, RULE_INVALID, aliases, "aliases must be a mapping of alias -> {rule: field}");
        return;
    }
    /* every alias entry must name an input */
    for (size_t a = 0; aliases && a < aliases->npairs; a++) {
        const struct ts_ynode *an = aliases->pairs[a].key, *am = aliases->pairs[a].val;
        if (!am || am->kind != TS_Y_MAP) {
            prob(x, RULE_INVALID, am ? am : an, "alias \"%s\" must map rule names to field names",
                 an->str);
            continue;
        }
        for (size_t p = 0; p < am->npairs; p++) {
            const struct ts_ynode *rk = am->pairs[p].key, *fv = am->pairs[p].val;
            bool found = false;
            for (size_t r = 0; r < cr->nrefs && !found; r++)
                found = ref_named(&cr->refs[r], ref_info(x->c, &cr->refs[r]), rk->str);
            if (!found)
                prob(x, RULE_INVALID, rk, "alias \"%s\" names rule \"%s\", which is not in "
                     "correlation.rules", an->str, rk->str);
            if (!scalar(fv) || !fv->len)
                prob(x, RULE_INVALID, fv ? fv : rk, "alias \"%s\": the field for \"%s\" must be "
                     "a field name", an->str, rk->str);
        }
    }
    for (size_t r = 0; r < cr->nrefs; r++) {
        struct cref *ref = &cr->refs[r];
        const struct rule_info *ri = ref_info(x->c, ref);
        for (size_t g = 0; g < cr->ngroup; g++) {
            const char *f = cr->group[g];
            const struct ts_ynode *am = aliases ? ts_yaml_get(aliases, f) : NULL;
            if (am && am->kind == TS_Y_MAP) {
                const char *hit = NULL;
                for (size_t p = 0; p < am->npairs && !hit; p++)
                    if (scalar(am->pairs[p].val) && ref_named(ref, ri, am->pairs[p].key->str))
                        hit = am->pairs[p].val->str;
                if (!hit) {
                    prob(x, RULE_INVALID, am, "alias \"%s\" has no field for rule \"%s\"", f,
                         ref->name);
                    continue;
                }
                f = hit;
            }
            ref->gfield[g] = map_field(x->c, f);
            ref->glen[g] = (uint32_t)strlen(ref->gfield[g]);
        }
        for (size_t v = 0; v < cr->nfields; v++) {
            const char *f = vf[v];
            const struct ts_ynode *am = aliases ? ts_yaml_get(aliases, f) : NULL;
            for (size_t p = 0; am && am->kind == TS_Y_MAP && p < am->npairs; p++)
                if (scalar(am->pairs[p].val) && ref_named(ref, ri, am->pairs[p].key->str))
                    f = am->pairs[p].val->str;
            ref->vfield[v] = map_field(x->c, f);
            ref->vlen[v] = (uint32_t)strlen(ref->vfield[v]);
        }
    }
}

static void compile_one(struct cctx *x, struct crule *cr, size_t self, const struct ts_ynode *root)
{
    const struct ts_ynode *corr = ts_yaml_get(root, "correlation");
    if (!corr || corr->kind != TS_Y_MAP) {
        prob(x, RULE_INVALID, corr ? corr : root, "correlation must be a mapping");
        return;
    }
    for (size_t i = 0; i < corr->npairs; i++) {
        const struct ts_ynode *k = corr->pairs[i].key;
        bool known = false;
        for (size_t j = 0; corr_keys[j] && !known; j++)
            known = strcmp(k->str, corr_keys[j]) == 0;
        if (!known)
            prob(x, RULE_INVALID, k, "unknown correlation key \"%s\"", k->str);
    }
    const struct ts_ynode *ty = ts_yaml_get(corr, "type");
    int type = -1;
    for (int i = 0; scalar(ty) && i < CT_GROUPING; i++)
        if (strcmp(ty->str, corr_type_names[i]) == 0)
            type = i;
    if (scalar(ty) && strcmp(ty->str, "value_median") == 0)
        type = CT_VALUE_PERCENTILE; /* value_percentile with percentile 50 */
    if (type < 0) {
        prob(x, RULE_INVALID, ty ? ty : corr, "unknown correlation type \"%s\"",
             scalar(ty) ? ty->str : "");
        return;
    }
    cr->type = (enum ctype)type;
    compile_refs(x, cr, self, ts_yaml_get(corr, "rules"));
    const struct ts_ynode *ts = ts_yaml_get(corr, "timespan");
    if (!ts)
        ts = ts_yaml_get(corr, "timeframe");
    if (!scalar(ts) || parse_span(ts->str, &cr->span) != 0)
        prob(x, RULE_INVALID, ts ? ts : corr, "timespan must be a number and a unit s, m, h or d "
             "(e.g. 90m), up to 366 days, not \"%s\"", scalar(ts) ? ts->str : "");
    const char *vf[CORR_MAX_FIELDS] = {0};
    compile_condition(x, cr, ts_yaml_get(corr, "condition"), corr, vf);
    if (scalar(ty) && strcmp(ty->str, "value_median") == 0) {
        if (cr->percentile != 50)
            prob(x, RULE_INVALID, ty, "value_median takes no percentile");
        cr->percentile = 50;
    }
    if ((cr->type == CT_TEMPORAL || cr->type == CT_TEMPORAL_ORDERED) && !cr->nconds)
        cr->conds[cr->nconds++] = (struct ccond){OP_GTE, (double)cr->nrefs};
    compile_fields(x, cr, ts_yaml_get(corr, "group-by"), ts_yaml_get(corr, "aliases"), vf);
    const struct ts_ynode *gen = ts_yaml_get(corr, "generate");
    if (!gen)
        gen = ts_yaml_get(root, "generate");
    if (gen) {
        if (scalar(gen) && (strcmp(gen->str, "true") == 0 || strcmp(gen->str, "false") == 0))
            cr->generate = strcmp(gen->str, "true") == 0;
        else
            prob(x, RULE_INVALID, gen, "generate must be true or false");
    }
}

/* Correlations that use a left-out correlation are left out too; cycles are
 * invalid. ok[] is updated; depth computed for the rest. */
static void check_chains(struct cctx *x, struct crule *rules, bool *ok, size_t n)
{
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t i = 0; i < n; i++) {
            if (!ok[i])
                continue;
            for (size_t r = 0; r < rules[i].nrefs; r++) {
                const struct cref *ref = &rules[i].refs[r];
                if (ref->is_corr && !ok[ref->idx]) {
                    x->info = rules[i].info;
                    x->nprob = 0;
                    x->invalid = x->unsupported = false;
                    const struct ts_ynode *root = rule_set_correlation(x->c->rs, i, NULL);
                    prob(x, RULE_INVALID, ts_yaml_get(ts_yaml_get(root, "correlation"), "rules"),
                         "correlation refers to correlation \"%s\", which failed to load",
                         ref->name);
                    ok[i] = false;
                    if (x->rep)
                        x->rep->invalid++;
                    changed = true;
                    break;
                }
            }
        }
    }
    /* depth by relaxation; a cycle never settles within n rounds */
    for (size_t i = 0; i < n; i++)
        rules[i].depth = 0;
    for (size_t round = 0; round <= n + CORR_MAX_CHAIN + 2; round++) {
        changed = false;
        for (size_t i = 0; i < n; i++)
            for (size_t r = 0; ok[i] && r < rules[i].nrefs; r++) {
                const struct cref *ref = &rules[i].refs[r];
                if (ref->is_corr && ok[ref->idx] && rules[i].depth < rules[ref->idx].depth + 1 &&
                    rules[i].depth <= CORR_MAX_CHAIN) {
                    rules[i].depth = rules[ref->idx].depth + 1;
                    changed = true;
                }
            }
        if (!changed)
            break;
    }
    for (size_t i = 0; i < n; i++) {
        if (ok[i] && rules[i].depth > CORR_MAX_CHAIN) {
            x->info = rules[i].info;
            x->nprob = 0;
            const struct ts_ynode *root = rule_set_correlation(x->c->rs, i, NULL);
            prob(x, RULE_INVALID, ts_yaml_get(ts_yaml_get(root, "correlation"), "rules"),
                 "correlations refer to each other in a cycle (or chain deeper than %d)",
                 CORR_MAX_CHAIN);
            ok[i] = false;
            if (x->rep)
                x->rep->invalid++;
        }
    }
}

static int push_use(struct cuse **arr, size_t *n, uint32_t rule, uint32_t slot)
{
    struct cuse *a = realloc(*arr, (*n + 1) * sizeof(**arr));
    if (!a)
        return TS_E_NOMEM;
    a[*n] = (struct cuse){rule, slot};
    *arr = a;
    (*n)++;
    return 0;
}

static int compile_groupings(struct corr_engine *c, struct crule *out, struct ts_err *err)
{
    for (size_t g = 0; g < c->o.ngroupings; g++) {
        const struct corr_grouping *gr = &c->o.groupings[g];
        struct crule *cr = &out[g];
        long idx = gr->rule ? rule_set_find(c->rs, gr->rule) : -1;
        if (idx < 0)
            return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "grouping: rule \"%s\" is not loaded",
                              gr->rule ? gr->rule : "");
        if (gr->window_ns <= 0 || gr->window_ns > MAX_SPAN_NS)
            return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0,
                              "grouping of \"%s\": window must be > 0 and at most 366 days",
                              gr->rule);
        if (gr->ngroup_by > CORR_MAX_GROUP_BY)
            return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0,
                              "grouping of \"%s\": at most %d group-by fields", gr->rule,
                              CORR_MAX_GROUP_BY);
        cr->type = CT_GROUPING;
        cr->ginfo = *rule_set_info(c->rs, (size_t)idx);
        cr->info = &cr->ginfo;
        cr->span = gr->window_ns;
        cr->conds[0] = (struct ccond){OP_GTE, 1};
        cr->nconds = 1;
        cr->generate = true;
        cr->severity = corr_level_severity(cr->info->level);
        if (!(cr->refs = ts_arena_alloc(c->carena, sizeof(*cr->refs))))
            return TS_E_NOMEM;
        memset(cr->refs, 0, sizeof(*cr->refs));
        cr->nrefs = 1;
        cr->refs[0].idx = (size_t)idx;
        cr->refs[0].name = cr->info->id ? cr->info->id : cr->info->title;
        for (size_t i = 0; i < gr->ngroup_by; i++) {
            char *s = ts_arena_strndup(c->carena, gr->group_by[i], strlen(gr->group_by[i]));
            if (!s)
                return TS_E_NOMEM;
            cr->group[cr->ngroup++] = s;
            cr->refs[0].gfield[i] = map_field(c, s);
            cr->refs[0].glen[i] = (uint32_t)strlen(cr->refs[0].gfield[i]);
        }
        const char *id = cr->info->id ? cr->info->id : cr->info->name ? cr->info->name
                                                                      : cr->info->title;
        char *k = ts_arena_alloc(c->carena, strlen(id ? id : "") + 3);
        if (!k)
            return TS_E_NOMEM;
        sprintf(k, "g:%s", id ? id : "");
        cr->skey = k;
        for (size_t t = 0; t < cr->info->ntags && cr->ntags < 64; t++) {
            if (strncmp(cr->info->tags[t], "attack.", 7) != 0)
                continue;
            if (!cr->tags && !(cr->tags = ts_arena_alloc(c->carena, 64 * sizeof(*cr->tags))))
                return TS_E_NOMEM;
            cr->tags[cr->ntags++] = cr->info->tags[t];
        }
    }
    return 0;
}

/* ---------------------------------------- detections as incidents, entities */

#define DEF_LINK_NS (3600LL * 1000000000LL)

static const char *const def_src_ip[] = {"src_ip", "IpAddress", "SourceIp"};
static const char *const def_user[] = {"user", "username", "TargetUserName", "User"};
static const char *const def_host[] = {"host", "Computer", "hostname"};
static const struct corr_entity def_entities[] = {
    {"src_ip", def_src_ip, 3},
    {"user", def_user, 4},
    {"host", def_host, 3},
};

static int compile_entities(struct corr_engine *c, struct ts_err *err)
{
    const struct corr_entity *en = c->o.entities ? c->o.entities : def_entities;
    size_t n = c->o.entities ? c->o.nentities : TS_ARRAY_LEN(def_entities);
    if (n > CORR_MAX_ENTITIES)
        return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "incidents: at most %d entities",
                          CORR_MAX_ENTITIES);
    for (size_t i = 0; i < n; i++) {
        struct centity *e = &c->ents[i];
        if (!en[i].name || !en[i].name[0] || en[i].nfields > CORR_MAX_ENTITY_FIELDS)
            return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0,
                              "incidents: entity %zu needs a name and at most %d fields", i + 1,
                              CORR_MAX_ENTITY_FIELDS);
        e->name = en[i].name;
        e->nfields = 0;
        if (!en[i].nfields) /* the entity's own name is its field */
            e->fields[e->nfields++] = en[i].name;
        for (size_t f = 0; f < en[i].nfields; f++)
            if (en[i].fields[f] && en[i].fields[f][0])
                e->fields[e->nfields++] = en[i].fields[f];
        for (size_t f = 0; f < e->nfields; f++)
            e->flen[f] = (uint32_t)strlen(e->fields[f]);
    }
    c->nents = n;
    return 0;
}

/* Is name the entity's name or one of its fields? */
static bool entity_named(const struct centity *e, const char *name)
{
    if (!name)
        return false;
    if (strcmp(e->name, name) == 0)
        return true;
    for (size_t f = 0; f < e->nfields; f++)
        if (strcmp(e->fields[f], name) == 0)
            return true;
    return false;
}

static void rule_entities(struct corr_engine *c, struct crule *cr)
{
    cr->linkable = false;
    for (size_t g = 0; g < cr->ngroup; g++) {
        cr->gent[g] = -1;
        for (size_t e = 0; e < c->nents && cr->gent[g] < 0; e++)
            if (cr->type == CT_DETECTION ? e == g
                                         : entity_named(&c->ents[e], cr->group[g]) ||
                                               (cr->nrefs && entity_named(&c->ents[e],
                                                                          cr->refs[0].gfield[g])))
                cr->gent[g] = (int8_t)e;
        cr->linkable |= cr->gent[g] >= 0;
    }
}

/* Which detection rules are incidents (or only link), and a CT_DETECTION
 * rule for each; entities of every rule; the link window. */
static int compile_detections(struct corr_engine *c, struct ts_err *err)
{
    int rc = compile_entities(c, err);
    if (rc)
        return rc;
    c->link_ns = c->o.link_window_ns > 0 ? c->o.link_window_ns : DEF_LINK_NS;
    if (c->link_ns > MAX_SPAN_NS)
        c->link_ns = MAX_SPAN_NS;
    c->dmode = calloc(c->ndet + 1, sizeof(*c->dmode));
    c->drule = calloc(c->ndet + 1, sizeof(*c->drule));
    bool *named = calloc(c->ndet + 1, sizeof(*named));
    if (!c->dmode || !c->drule || !named) {
        free(named);
        return TS_E_NOMEM;
    }
    for (size_t r = 0; r < c->o.nrule_modes; r++) {
        const struct corr_rule_mode *rm = &c->o.rule_modes[r];
        long idx = rm->rule ? rule_set_find(c->rs, rm->rule) : -1;
        if (idx < 0 || rm->mode == CORR_INC_DEFAULT || rm->mode > CORR_INC_OPEN) {
            free(named);
            return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0,
                              idx < 0 ? "incidents: rule \"%s\" is not loaded"
                                      : "incidents: rule \"%s\": mode must be incident, link or off",
                              rm->rule ? rm->rule : "");
        }
        c->dmode[idx] = rm->mode;
        named[idx] = true;
    }
    for (size_t g = 0; g < c->nrules; g++)
        if (c->rules[g].type == CT_GROUPING && !named[c->rules[g].refs[0].idx])
            c->dmode[c->rules[g].refs[0].idx] = CORR_INC_OFF; /* its grouping says how */
    size_t nd = 0;
    for (size_t d = 0; d < c->ndet; d++) {
        if (!named[d] && !c->dmode[d]) {
            int sev = corr_level_severity(rule_set_info(c->rs, d)->level);
            uint8_t m = c->o.level_modes[sev];
            if (!m)
                m = sev >= CORR_SEV_HIGH ? CORR_INC_OPEN : CORR_INC_OFF;
            c->dmode[d] = c->det_standalone[d] && m <= CORR_INC_OPEN ? m : CORR_INC_OFF;
        }
        c->drule[d] = UINT32_MAX;
        nd += c->dmode[d] > CORR_INC_OFF;
    }
    free(named);
    if (nd) {
        struct crule *n = realloc(c->rules, (c->nrules + nd) * sizeof(*n));
        if (!n)
            return TS_E_NOMEM;
        c->rules = n;
        for (size_t i = 0; i < c->nrules; i++) /* info points into the moved array */
            if (c->rules[i].type == CT_GROUPING)
                c->rules[i].info = &c->rules[i].ginfo;
        memset(&c->rules[c->nrules], 0, nd * sizeof(*n));
    }
    for (size_t d = 0; d < c->ndet && nd; d++) {
        if (c->dmode[d] <= CORR_INC_OFF)
            continue;
        struct crule *cr = &c->rules[c->nrules];
        cr->type = CT_DETECTION;
        cr->ginfo = *rule_set_info(c->rs, d);
        cr->info = &cr->ginfo;
        cr->span = c->link_ns;
        cr->conds[0] = (struct ccond){OP_GTE, 1};
        cr->nconds = 1;
        cr->generate = true;
        cr->severity = corr_level_severity(cr->info->level);
        if (!(cr->refs = ts_arena_alloc(c->carena, sizeof(*cr->refs))))
            return TS_E_NOMEM;
        memset(cr->refs, 0, sizeof(*cr->refs));
        cr->nrefs = 1;
        cr->refs[0].idx = d;
        cr->refs[0].name = cr->info->id ? cr->info->id : cr->info->title;
        for (size_t e = 0; e < c->nents; e++)
            cr->group[cr->ngroup++] = c->ents[e].name;
        const char *id = cr->info->id ? cr->info->id : cr->info->name ? cr->info->name
                                                                      : cr->info->title;
        char *k = ts_arena_alloc(c->carena, strlen(id ? id : "") + 3);
        if (!k)
            return TS_E_NOMEM;
        sprintf(k, "d:%s", id ? id : "");
        cr->skey = k;
        for (size_t t = 0; t < cr->info->ntags && cr->ntags < 64; t++) {
            if (strncmp(cr->info->tags[t], "attack.", 7) != 0)
                continue;
            if (!cr->tags && !(cr->tags = ts_arena_alloc(c->carena, 64 * sizeof(*cr->tags))))
                return TS_E_NOMEM;
            cr->tags[cr->ntags++] = cr->info->tags[t];
        }
        c->drule[d] = (uint32_t)c->nrules++;
        c->linking |= c->nents > 0;
    }
    for (size_t i = 0; i < c->nrules; i++)
        rule_entities(c, &c->rules[i]);
    return 0;
}

static uint64_t skey_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* State key prefix -> rule, for import (a rule set may hold thousands of
 * detection incidents' rules). */
static int skey_index(struct corr_engine *c)
{
    size_t cap = 16;
    while (cap < 2 * c->nrules + 2)
        cap *= 2;
    c->skidx = calloc(cap, sizeof(*c->skidx));
    if (!c->skidx)
        return TS_E_NOMEM;
    c->skidxcap = cap;
    for (size_t i = 0; i < c->nrules; i++) {
        const char *k = c->rules[i].skey;
        size_t l = strlen(k), j = skey_hash(k, l) & (cap - 1);
        while (c->skidx[j] && strcmp(c->rules[c->skidx[j] - 1].skey, k) != 0)
            j = (j + 1) & (cap - 1);
        c->skidx[j] = (uint32_t)i + 1; /* a later rule with the same key wins */
    }
    return 0;
}

long corr_rule_by_skey(const struct corr_engine *c, const char *skey, size_t len)
{
    if (!c->skidxcap)
        return -1;
    size_t mask = c->skidxcap - 1;
    for (size_t j = skey_hash(skey, len) & mask; c->skidx[j]; j = (j + 1) & mask) {
        const char *k = c->rules[c->skidx[j] - 1].skey;
        if (strlen(k) == len && memcmp(k, skey, len) == 0)
            return (long)c->skidx[j] - 1;
    }
    return -1;
}

int corr_compile(struct corr_engine *c, struct corr_report *rep, struct ts_err *err)
{
    size_t n = rule_set_correlation_count(c->rs);
    size_t ng = c->o.ngroupings;
    struct crule *rules = calloc(n + ng + 1, sizeof(*rules));
    bool *ok = calloc(n + 1, sizeof(*ok));
    size_t *remap = calloc(n + 1, sizeof(*remap));
    struct cctx x = {.c = c, .rep = rep};
    int rc = 0;
    if (!rules || !ok || !remap) {
        rc = TS_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct rule_info *ri = NULL;
        const struct ts_ynode *root = rule_set_correlation(c->rs, i, &ri);
        x.info = ri;
        x.nprob = 0;
        x.invalid = x.unsupported = false;
        rules[i].info = ri;
        compile_one(&x, &rules[i], i, root);
        if (x.nomem) {
            rc = TS_E_NOMEM;
            goto out;
        }
        ok[i] = !x.invalid && !x.unsupported;
        if (!ok[i] && rep) {
            if (x.invalid)
                rep->invalid++;
            else
                rep->unsupported++;
        }
    }
    check_chains(&x, rules, ok, n);
    if (x.nomem) {
        rc = TS_E_NOMEM;
        goto out;
    }
    /* severity and tags, in chain order (inputs first) */
    for (size_t d = 0; d <= CORR_MAX_CHAIN; d++)
        for (size_t i = 0; i < n; i++) {
            struct crule *cr = &rules[i];
            if (!ok[i] || cr->depth != d)
                continue;
            cr->severity = corr_level_severity(cr->info->level);
            for (size_t t = 0; t < cr->info->ntags; t++)
                add_tag(&x, cr, cr->info->tags[t]);
            for (size_t r = 0; r < cr->nrefs; r++) {
                const struct cref *ref = &cr->refs[r];
                if (ref->is_corr) {
                    for (size_t t = 0; t < rules[ref->idx].ntags; t++)
                        add_tag(&x, cr, rules[ref->idx].tags[t]);
                    if (!cr->info->level && rules[ref->idx].severity > cr->severity)
                        cr->severity = rules[ref->idx].severity;
                } else {
                    const struct rule_info *ri = rule_set_info(c->rs, ref->idx);
                    for (size_t t = 0; t < ri->ntags; t++)
                        add_tag(&x, cr, ri->tags[t]);
                    int s = corr_level_severity(ri->level);
                    if (!cr->info->level && s > cr->severity)
                        cr->severity = s;
                }
            }
            const char *k = cr->info->id ? cr->info->id : cr->info->name ? cr->info->name
                                                                         : cr->info->title;
            cr->skey = k ? k : "";
        }
    if (x.nomem) {
        rc = TS_E_NOMEM;
        goto out;
    }
    /* compact: kept correlations first, then groupings */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (ok[i]) {
            remap[i] = m;
            if (m != i)
                rules[m] = rules[i];
            m++;
        }
    for (size_t i = 0; i < m; i++)
        for (size_t r = 0; r < rules[i].nrefs; r++)
            if (rules[i].refs[r].is_corr)
                rules[i].refs[r].idx = remap[rules[i].refs[r].idx];
    memset(&rules[m], 0, (n + ng - m) * sizeof(*rules));
    if ((rc = compile_groupings(c, &rules[m], err)) != 0)
        goto out;
    c->rules = rules;
    c->nrules = m + ng;
    rules = NULL;
    if (rep)
        rep->loaded = m;
    /* consumers */
    c->ndet = rule_set_count(c->rs);
    c->det_uses = calloc(c->ndet + 1, sizeof(*c->det_uses));
    c->det_nuses = calloc(c->ndet + 1, sizeof(*c->det_nuses));
    c->det_standalone = calloc(c->ndet + 1, sizeof(*c->det_standalone));
    if (!c->det_uses || !c->det_nuses || !c->det_standalone) {
        rc = TS_E_NOMEM;
        goto out;
    }
    for (size_t d = 0; d < c->ndet; d++)
        c->det_standalone[d] = true;
    bool *referenced = calloc(c->ndet + 1, sizeof(*referenced));
    bool *gen = calloc(c->ndet + 1, sizeof(*gen));
    if (!referenced || !gen) {
        free(referenced);
        free(gen);
        rc = TS_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < c->nrules && !rc; i++) {
        struct crule *cr = &c->rules[i];
        for (size_t r = 0; r < cr->nrefs && !rc; r++) {
            const struct cref *ref = &cr->refs[r];
            if (ref->is_corr) {
                rc = push_use(&c->rules[ref->idx].uses, &c->rules[ref->idx].nuses, (uint32_t)i,
                              (uint32_t)r);
            } else {
                rc = push_use(&c->det_uses[ref->idx], &c->det_nuses[ref->idx], (uint32_t)i,
                              (uint32_t)r);
                if (cr->type != CT_GROUPING) {
                    referenced[ref->idx] = true;
                    gen[ref->idx] |= cr->generate;
                }
            }
        }
    }
    for (size_t d = 0; d < c->ndet; d++)
        c->det_standalone[d] = !referenced[d] || gen[d];
    free(referenced);
    free(gen);
    if (!rc)
        rc = compile_detections(c, err);
    if (!rc)
        rc = skey_index(c);
out:
    free(rules);
    free(ok);
    free(remap);
    return rc;
}

void corr_rules_free(struct corr_engine *c)
{
    for (size_t i = 0; c->rules && i < c->nrules; i++)
        free(c->rules[i].uses);
    free(c->rules);
    for (size_t d = 0; c->det_uses && d < c->ndet; d++)
        free(c->det_uses[d]);
    free(c->det_uses);
    free(c->det_nuses);
    free(c->det_standalone);
    free(c->dmode);
    free(c->drule);
    free(c->skidx);
    c->rules = NULL;
    c->det_uses = NULL;
    c->dmode = NULL;
    c->drule = NULL;
    c->skidx = NULL;
}
