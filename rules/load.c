/* load.c - rule_set_load: walk files and directories, parse each YAML
 * document (core/yaml.h) as a Sigma detection, filter or correlation rule,
 * record every problem with file:line:col and the rule id, keep only rules
 * without problems (each in its own arena, so a bad rule is dropped whole),
 * apply filters to the rules they name, and build the routing index and the
 * prefilter automata (index.c). Also the set's lifetime and metadata access.
 *
 * rule_set_load runs on one thread; the finished set is immutable and may be
 * shared by any number of threads (reference count is atomic).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "rules_int.h"

#define REPORT_MAX_PROBLEMS (1u << 20)

/* --------------------------------------------------------------- report */

void rule_report_free(struct rule_report *r)
{
    if (!r)
        return;
    free(r->problems);
    r->problems = NULL;
    r->nproblems = 0;
}

void lctx_problem(struct lctx *c, enum rule_problem_kind kind, const struct ts_ynode *at,
                  unsigned line, unsigned col, const char *fmt, ...)
{
    if (kind == RULE_INVALID)
        c->invalid = true;
    else if (kind == RULE_UNSUPPORTED)
        c->unsupported = true;
    else if (c->rep)
        c->rep->warnings++;
    if (!c->rep || c->nprob >= RULE_MAX_PROBLEMS || c->rep->nproblems >= REPORT_MAX_PROBLEMS)
        return;
    c->nprob++;
    struct rule_report *rep = c->rep;
    if ((rep->nproblems & (rep->nproblems - 1)) == 0 || rep->nproblems == 0) {
        size_t nc = rep->nproblems ? rep->nproblems * 2 : 16;
        struct rule_problem *n = realloc(rep->problems, nc * sizeof(*n));
        if (!n) {
            c->fatal = TS_E_NOMEM;
            return;
        }
        rep->problems = n;
    }
    struct rule_problem *p = &rep->problems[rep->nproblems++];
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    snprintf(p->file, sizeof(p->file), "%s", c->file ? c->file : "");
    p->line = line ? line : at ? at->line : 0;
    p->col = line ? col : at ? at->col : 0;
    if (c->r && c->r->info.id)
        snprintf(p->rule_id, sizeof(p->rule_id), "%s", c->r->info.id);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
    va_end(ap);
}

const char *rule_problem_kind_name(enum rule_problem_kind k)
{
    return k == RULE_INVALID ? "invalid" : k == RULE_UNSUPPORTED ? "unsupported" : "warning";
}

void *lctx_alloc(struct lctx *c, size_t n)
{
    void *p = ts_arena_alloc(c->r->arena, n ? n : 1);
    if (!p && !c->fatal) {
        if (ts_arena_used(c->r->arena) + n + 4096 >= RULE_ARENA_CAP) {
            lctx_problem(c, RULE_UNSUPPORTED, NULL, 0, 0,
                         "rule needs more than %zu MiB once compiled", RULE_ARENA_CAP >> 20);
        } else {
            c->fatal = TS_E_NOMEM;
        }
    }
    return p;
}

char *lctx_strdup(struct lctx *c, const char *s, size_t n)
{
    char *p = lctx_alloc(c, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* ----------------------------------------------------------- field names */

/* Word-at-a-time hash of a short name: field names are hashed once per
 * event field on the hot path. */
uint64_t rset_hash(const char *s, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, s, n);
        h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    }
    return h ^ (h >> 29);
}

uint32_t rset_field_lookup(const struct rule_set *rs, const char *name, size_t len)
{
    if (!rs->fhash_cap)
        return UINT32_MAX;
    uint32_t mask = rs->fhash_cap - 1;
    for (uint32_t i = (uint32_t)rset_hash(name, len) & mask;; i = (i + 1) & mask) {
        const struct rset_fent *e = &rs->fhash[i];
        if (!e->id1)
            return UINT32_MAX;
        if (e->len != len)
            continue;
        if (len <= sizeof(e->name) ? memcmp(e->name, name, len) == 0
                                   : memcmp(rs->fnames[e->id1 - 1], name, len) == 0)
            return e->id1 - 1;
    }
}

static void fent_put(struct rset_fent *tab, uint32_t cap, uint32_t id, const char *name,
                     size_t len)
{
    for (uint32_t i = (uint32_t)rset_hash(name, len) & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!tab[i].id1) {
            tab[i].id1 = id + 1;
            tab[i].len = (uint32_t)len;
            memcpy(tab[i].name, name, len < sizeof(tab[i].name) ? len : sizeof(tab[i].name));
            return;
        }
}

static int fhash_grow(struct rule_set *rs)
{
    uint32_t nc = rs->fhash_cap ? rs->fhash_cap * 2 : 256;
    struct rset_fent *n = calloc(nc, sizeof(*n));
    char **names = realloc(rs->fnames, (nc / 2) * sizeof(*names));
    if (names)
        rs->fnames = names;
    uint32_t *lens = realloc(rs->flens, (nc / 2) * sizeof(*lens));
    if (lens)
        rs->flens = lens;
    if (!n || !names || !lens) {
        free(n);
        return TS_E_NOMEM;
    }
    for (uint32_t id = 0; id < rs->nfnames; id++)
        fent_put(n, nc, id, rs->fnames[id], rs->flens[id]);
    free(rs->fhash);
    rs->fhash = n;
    rs->fhash_cap = nc;
    return 0;
}

static uint32_t field_intern_raw(struct rule_set *rs, const char *name, size_t len, int *err)
{
    uint32_t id = rset_field_lookup(rs, name, len);
    if (id != UINT32_MAX)
        return id;
    if (rs->nfnames >= RULE_MAX_FIELDNAMES) {
        *err = TS_E_LIMIT;
        return UINT32_MAX;
    }
    if ((rs->nfnames + 1) * 2 > rs->fhash_cap && fhash_grow(rs)) {
        *err = TS_E_NOMEM;
        return UINT32_MAX;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        *err = TS_E_NOMEM;
        return UINT32_MAX;
    }
    memcpy(copy, name, len);
    copy[len] = '\0';
    id = rs->nfnames++;
    rs->fnames[id] = copy;
    rs->flens[id] = (uint32_t)len;
    fent_put(rs->fhash, rs->fhash_cap, id, name, len);
    return id;
}

uint32_t rset_field_intern(struct lctx *c, const char *name, size_t len)
{
    for (size_t i = 0; i < c->o->naliases; i++) {
        const char *sn = c->o->aliases[i].sigma_name;
        if (sn && strlen(sn) == len && memcmp(sn, name, len) == 0 && c->o->aliases[i].event_name) {
            name = c->o->aliases[i].event_name;
            len = strlen(name);
            break;
        }
    }
    int err = 0;
    uint32_t id = field_intern_raw(c->rs, name, len, &err);
    if (id == UINT32_MAX) {
        if (err == TS_E_LIMIT)
            lctx_problem(c, RULE_UNSUPPORTED, NULL, 0, 0, "more than %u distinct field names in the set",
                         RULE_MAX_FIELDNAMES);
        else
            c->fatal = TS_E_NOMEM;
    }
    return id;
}

/* -------------------------------------------------------------- rules */

static void rule_free(struct rule *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nres; i++)
        pcre2_code_free(r->res[i]);
    ts_arena_destroy(r->arena);
    free(r);
}

static int push_rule(struct rule ***arr, size_t *n, struct rule *r)
{
    if ((*n & (*n - 1)) == 0 || *n == 0) {
        size_t nc = *n ? *n * 2 : 16;
        struct rule **na = realloc(*arr, nc * sizeof(*na));
        if (!na)
            return TS_E_NOMEM;
        *arr = na;
    }
    (*arr)[(*n)++] = r;
    return 0;
}

#define PROB(kind, node, ...) lctx_problem(c, kind, node, 0, 0, __VA_ARGS__)

static const char *meta_str(struct lctx *c, const struct ts_ynode *root, const char *key)
{
    const struct ts_ynode *n = ts_yaml_get(root, key);
    if (!n)
        return NULL;
    if (n->kind != TS_Y_SCALAR) {
        PROB(RULE_INVALID, n, "\"%s\" must be a string, not %s", key, ts_yaml_kind_name(n));
        return NULL;
    }
    if (ts_yaml_is_null(n))
        return NULL;
    return lctx_strdup(c, n->str, n->len);
}

static const char *const *meta_list(struct lctx *c, const struct ts_ynode *root, const char *key,
                                    size_t *count)
{
    *count = 0;
    const struct ts_ynode *n = ts_yaml_get(root, key);
    if (!n || ts_yaml_is_null(n))
        return NULL;
    const struct ts_ynode *const *items = (const struct ts_ynode *const *)&n;
    size_t ni = 1;
    if (n->kind == TS_Y_SEQ) {
        items = (const struct ts_ynode *const *)n->items;
        ni = n->nitems;
    } else if (n->kind != TS_Y_SCALAR) {
        PROB(RULE_INVALID, n, "\"%s\" must be a list of strings, not %s", key, ts_yaml_kind_name(n));
        return NULL;
    }
    const char **out = lctx_alloc(c, (ni ? ni : 1) * sizeof(*out));
    if (!out)
        return NULL;
    for (size_t i = 0; i < ni; i++) {
        if (items[i]->kind != TS_Y_SCALAR) {
            PROB(RULE_INVALID, items[i], "\"%s\" must be a list of strings; item is %s", key,
                 ts_yaml_kind_name(items[i]));
            return NULL;
        }
        if (!(out[i] = lctx_strdup(c, items[i]->str, items[i]->len)))
            return NULL;
    }
    *count = ni;
    return out;
}

static bool one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------- lint */

/* The known key closest to s (edit distance <= 2, or 3 for long keys), or
 * NULL. */
static const char *suggest(const char *s, size_t len, const char *const *known)
{
    const char *best = NULL;
    size_t bd = 99;
    for (; *known; known++) {
        size_t d = rule_str_distance(s, len, *known, strlen(*known));
        if (d < bd) {
            bd = d;
            best = *known;
        }
    }
    return bd <= 2 || (bd <= 3 && len >= 8) ? best : NULL;
}

/* Top-level keys of a rule: the Sigma specification's (detection, filter
 * and correlation rules), and SigmaHQ's regression_tests_path and
 * simulation. */
static const char *const top_keys[] = {
    "title", "id", "name", "related", "taxonomy", "status", "description", "license",
    "author", "references", "date", "modified", "logsource", "detection", "fields",
    "falsepositives", "level", "tags", "scope", "correlation", "filter", "generate",
    "regression_tests_path", "simulation", NULL};
static const char *const ls_keys[] = {"product", "category", "service", "definition", NULL};

/* Unknown top-level keys: a warning each, with "did you mean". Returns the
 * key that looks like a misspelt `detection` (for "rule has no detection"),
 * or NULL. */
static const struct ts_ynode *check_top_keys(struct lctx *c, const struct ts_ynode *root)
{
    const struct ts_ynode *det_like = NULL;
    for (size_t i = 0; i < root->npairs; i++) {
        const struct ts_ynode *k = root->pairs[i].key;
        if (k->kind != TS_Y_SCALAR)
            continue;
        bool known = false;
        for (size_t j = 0; top_keys[j] && !known; j++)
            known = strcmp(k->str, top_keys[j]) == 0;
        if (known)
            continue;
        const char *sug = suggest(k->str, k->len, top_keys);
        if (sug && strcmp(sug, "detection") == 0)
            det_like = k;
        if (sug)
            PROB(RULE_WARNING, k, "unknown key \"%s\" (did you mean \"%s\"?)", k->str, sug);
        else
            PROB(RULE_WARNING, k, "unknown key \"%s\" (not a Sigma rule attribute; ignored)",
                 k->str);
    }
    return det_like;
}

/* "#" matches a digit, other bytes themselves (ASCII case-insensitive). */
static bool id_pattern_match(const char *pat, const char *s, size_t n)
{
    size_t i = 0;
    for (; pat[i]; i++) {
        if (i >= n)
            return false;
        char a = pat[i], b = s[i];
        if (a == '#' ? !(b >= '0' && b <= '9')
                     : (a | 0x20) != (b | 0x20) || (a == '.' && b != '.'))
            return false;
    }
    return i == n;
}

static void check_attack_tags(struct lctx *c, const struct ts_ynode *root)
{
    const struct ts_ynode *tags = ts_yaml_get(root, "tags");
    if (!c->taxo || !tags || tags->kind != TS_Y_SEQ)
        return;
    const struct rule_taxo *t = c->taxo;
    for (size_t i = 0; i < tags->nitems; i++) {
        const struct ts_ynode *n = tags->items[i];
        if (n->kind != TS_Y_SCALAR || n->len < 7 || strncasecmp(n->str, "attack.", 7) != 0)
            continue;
        const char *v = n->str + 7;
        size_t vl = n->len - 7;
        bool ok = false;
        for (size_t j = 0; j < t->nids && !ok; j++)
            ok = id_pattern_match(t->ids[j], v, vl);
        for (size_t j = 0; j < t->nnames && !ok; j++)
            ok = strlen(t->names[j]) == vl && strncmp(t->names[j], v, vl) == 0;
        if (ok)
            continue;
        const char *sug = suggest(v, vl, (const char *const *)t->names);
        char hy[64];
        if (!sug && vl < sizeof(hy)) { /* the old underscore spelling */
            for (size_t j = 0; j <= vl; j++)
                hy[j] = v[j] == '_' ? '-' : (char)tolower((unsigned char)v[j]);
            for (size_t j = 0; j < t->nnames && !sug; j++)
                if (strcmp(t->names[j], hy) == 0)
                    sug = t->names[j];
        }
        if (sug)
            PROB(RULE_WARNING, n, "ATT&CK tag \"%s\" is not in the taxonomy (did you mean "
                                  "\"attack.%s\"?)", n->str, sug);
        else
            PROB(RULE_WARNING, n, "ATT&CK tag \"%s\" is not in the taxonomy: attack.<tactic> "
                                  "(e.g. attack.initial-access) or a technique attack.t####[.###] "
                                  "(group g####, software s####)", n->str);
    }
}

static bool is_uuid(const char *s, size_t n)
{
    static const char shape[] = "########-####-####-####-############";
    if (n != sizeof(shape) - 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (shape[i] == '-' ? ch != '-' : !isxdigit((unsigned char)ch))
            return false;
    }
    return true;
}

static void load_meta(struct lctx *c, const struct ts_ynode *root)
{
    struct rule_info *in = &c->r->info;
    in->name = meta_str(c, root, "name");
    in->title = meta_str(c, root, "title");
    in->status = meta_str(c, root, "status");
    in->level = meta_str(c, root, "level");
    in->author = meta_str(c, root, "author");
    in->description = meta_str(c, root, "description");
    in->date = meta_str(c, root, "date");
    in->modified = meta_str(c, root, "modified");
    in->tags = meta_list(c, root, "tags", &in->ntags);
    in->references = meta_list(c, root, "references", &in->nreferences);
    in->falsepositives = meta_list(c, root, "falsepositives", &in->nfalsepositives);
    in->fields = meta_list(c, root, "fields", &in->nfields);
    if (!ts_yaml_get(root, "title"))
        PROB(RULE_INVALID, root, "rule has no title");
    check_attack_tags(c, root);
    static const char *const levels[] = {"informational", "low", "medium", "high", "critical", NULL};
    static const char *const statuses[] = {"stable", "test", "experimental", "deprecated",
                                           "unsupported", NULL};
    if (in->level && !one_of(in->level, levels))
        PROB(RULE_INVALID, ts_yaml_get(root, "level"),
             "level \"%s\" is not one of informational, low, medium, high, critical", in->level);
    if (in->status && !one_of(in->status, statuses))
        PROB(RULE_INVALID, ts_yaml_get(root, "status"),
             "status \"%s\" is not one of stable, test, experimental, deprecated, unsupported",
             in->status);
    const struct ts_ynode *rel = ts_yaml_get(root, "related");
    if (rel && !ts_yaml_is_null(rel)) {
        if (rel->kind != TS_Y_SEQ) {
            PROB(RULE_INVALID, rel, "\"related\" must be a list of {id, type}");
        } else {
            struct rule_related *rr = lctx_alloc(c, (rel->nitems ? rel->nitems : 1) * sizeof(*rr));
            for (size_t i = 0; rr && i < rel->nitems; i++) {
                const struct ts_ynode *it = rel->items[i];
                const struct ts_ynode *id = ts_yaml_get(it, "id"), *ty = ts_yaml_get(it, "type");
                if (it->kind != TS_Y_MAP || !id || id->kind != TS_Y_SCALAR || !ty ||
                    ty->kind != TS_Y_SCALAR) {
                    PROB(RULE_INVALID, it, "\"related\" entries need an id and a type");
                    break;
                }
                rr[i].id = lctx_strdup(c, id->str, id->len);
                rr[i].type = lctx_strdup(c, ty->str, ty->len);
            }
            in->related = rr;
            in->nrelated = rel->nitems;
        }
    }
}

static void load_logsource(struct lctx *c, const struct ts_ynode *root, bool mandatory)
{
    const struct ts_ynode *ls = ts_yaml_get(root, "logsource");
    if (!ls) {
        if (mandatory)
            PROB(RULE_INVALID, root, "rule has no logsource");
        return;
    }
    if (ls->kind != TS_Y_MAP) {
        PROB(RULE_INVALID, ls, "logsource must be a mapping, not %s", ts_yaml_kind_name(ls));
        return;
    }
    for (size_t i = 0; i < ls->npairs; i++) {
        const struct ts_ynode *k = ls->pairs[i].key;
        if (k->kind != TS_Y_SCALAR)
            continue;
        bool known = false;
        for (size_t j = 0; ls_keys[j] && !known; j++)
            known = strcmp(k->str, ls_keys[j]) == 0;
        if (known)
            continue;
        /* a misspelt product/category/service would be ignored by routing
         * and so widen the rule to every event: refused */
        const char *sug = suggest(k->str, k->len, ls_keys);
        if (sug)
            PROB(RULE_INVALID, k, "unknown logsource key \"%s\" (did you mean \"%s\"?); as "
                                  "written the rule would apply to every %s", k->str, sug, sug);
        else
            PROB(RULE_WARNING, k, "unknown logsource key \"%s\" (product, category, service, "
                                  "definition); routing ignores it", k->str);
    }
    c->r->info.product = meta_str(c, ls, "product");
    c->r->info.category = meta_str(c, ls, "category");
    c->r->info.service = meta_str(c, ls, "service");
    (void)meta_str(c, ls, "definition");
}

static const char *const corr_types[] = {"event_count",   "value_count", "temporal",
                                         "temporal_ordered", "value_sum", "value_avg",
                                         "value_percentile", "value_median", NULL};

static void load_correlation(struct lctx *c, const struct ts_ynode *corr)
{
    if (corr->kind != TS_Y_MAP) {
        PROB(RULE_INVALID, corr, "correlation must be a mapping, not %s", ts_yaml_kind_name(corr));
        return;
    }
    const struct ts_ynode *ty = ts_yaml_get(corr, "type");
    if (!ty || ty->kind != TS_Y_SCALAR)
        PROB(RULE_INVALID, ty ? ty : corr, "correlation needs a type (one of event_count, "
             "value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile, "
             "value_median)");
    else if (!one_of(ty->str, corr_types))
        PROB(RULE_INVALID, ty, "unknown correlation type \"%s\"", ty->str);
    size_t n;
    const char *const *rules = meta_list(c, corr, "rules", &n);
    if (!rules && !ts_yaml_get(corr, "rules"))
        PROB(RULE_INVALID, corr, "correlation needs rules");
    c->r->filter_targets = rules;
    c->r->ntargets = n;
    const struct ts_ynode *ts = ts_yaml_get(corr, "timespan");
    if (!ts && !ts_yaml_get(corr, "timeframe"))
        PROB(RULE_INVALID, corr, "correlation needs a timespan");
    (void)meta_list(c, corr, "group-by", &n);
}

static void load_filter(struct lctx *c, const struct ts_ynode *f)
{
    if (f->kind != TS_Y_MAP) {
        PROB(RULE_INVALID, f, "filter must be a mapping, not %s", ts_yaml_kind_name(f));
        return;
    }
    size_t n;
    c->r->filter_targets = meta_list(c, f, "rules", &n);
    c->r->ntargets = n;
    if (!ts_yaml_get(f, "rules") || n == 0)
        PROB(RULE_INVALID, f, "filter needs \"rules\": the ids or names of the rules it applies to");
    static const char *const skip[] = {"rules", NULL};
    (void)det_compile(c, f, skip, &c->r->det);
}

/* One YAML document. Returns 0 or a fatal error. */
static int load_doc(struct lctx *c, const struct ts_ynode *root, bool *keep_stream)
{
    struct rule_report *rep = c->rep;
    rep->rules++;
    c->nprob = 0;
    c->invalid = c->unsupported = false;
    struct rule *r = calloc(1, sizeof(*r));
    if (!r || ts_arena_create(&r->arena, 2048, RULE_ARENA_CAP) != 0) {
        free(r);
        return TS_E_NOMEM;
    }
    c->r = r;
    r->info.file = NULL;
    r->info.line = root->line;
    if (root->kind != TS_Y_MAP) {
        PROB(RULE_INVALID, root, "a rule must be a mapping, not %s", ts_yaml_kind_name(root));
        goto done;
    }
    const struct ts_ynode *idn = ts_yaml_get(root, "id");
    if (idn && idn->kind == TS_Y_SCALAR) {
        r->info.id = lctx_strdup(c, idn->str, idn->len);
        r->id_line = idn->line;
        r->id_col = idn->col;
        if (!is_uuid(idn->str, idn->len))
            PROB(RULE_WARNING, idn, "id \"%s\" is not a UUID (Sigma ids are UUIDs: use uuidgen)",
                 idn->str);
    } else if (idn)
        PROB(RULE_INVALID, idn, "\"id\" must be a string, not %s", ts_yaml_kind_name(idn));
    r->info.file = lctx_strdup(c, c->file, strlen(c->file));
    const struct ts_ynode *action = ts_yaml_get(root, "action");
    if (action) {
        PROB(RULE_UNSUPPORTED, action, "multi-document rule collections (action: %s)",
             action->kind == TS_Y_SCALAR ? action->str : "?");
        goto done;
    }
    const struct ts_ynode *det_like = check_top_keys(c, root);
    load_meta(c, root);
    const struct ts_ynode *corr = ts_yaml_get(root, "correlation");
    const struct ts_ynode *filt = ts_yaml_get(root, "filter");
    const struct ts_ynode *det = ts_yaml_get(root, "detection");
    if (corr) {
        r->kind = RK_CORRELATION;
        load_correlation(c, corr);
        r->corr_root = root;
    } else if (filt) {
        r->kind = RK_FILTER;
        load_logsource(c, root, true);
        load_filter(c, filt);
    } else {
        r->kind = RK_DETECTION;
        load_logsource(c, root, true);
        if (!det && det_like)
            PROB(RULE_INVALID, root, "rule has no detection (did you mean \"detection\" for "
                                     "\"%s\" at line %u?)", det_like->str, det_like->line);
        else if (!det)
            PROB(RULE_INVALID, root, "rule has no detection");
        else
            (void)det_compile(c, det, NULL, &r->det);
    }
done:
    if (c->fatal) {
        rule_free(r);
        c->r = NULL;
        return c->fatal;
    }
    if (c->invalid || c->unsupported) {
        if (c->invalid)
            rep->invalid++;
        else
            rep->unsupported++;
        rule_free(r);
        c->r = NULL;
        return 0;
    }
    int rc = 0;
    if (r->kind == RK_CORRELATION) {
        rc = push_rule(&c->rs->corrs, &c->rs->ncorrs, r);
        *keep_stream = true;
        rep->correlations++;
    } else if (r->kind == RK_FILTER) {
        rc = push_rule(&c->rs->filters, &c->rs->nfilters, r);
        rep->filters++;
    } else {
        rc = c->rs->nrules >= RULE_MAX_DOCS ? TS_E_LIMIT : push_rule(&c->rs->rules, &c->rs->nrules, r);
    }
    if (rc) {
        rule_free(r);
        c->r = NULL;
        return rc;
    }
    rep->ok++;
    c->r = NULL;
    return 0;
}

static int load_stream(struct lctx *c, struct ts_ystream *st)
{
    bool keep = false;
    int rc = 0;
    for (size_t i = 0; i < st->ndocs && !rc; i++)
        if (st->docs[i].root)
            rc = load_doc(c, st->docs[i].root, &keep);
    if (keep && !rc) {
        struct ts_ystream **n = realloc(c->rs->streams, (c->rs->nstreams + 1) * sizeof(*n));
        if (!n) {
            rc = TS_E_NOMEM;
        } else {
            c->rs->streams = n;
            c->rs->streams[c->rs->nstreams++] = st;
            return rc;
        }
    }
    ts_yaml_free(st);
    return rc;
}

static int yaml_failed(struct lctx *c, const struct ts_err *e)
{
    c->r = NULL;
    c->nprob = 0;
    c->rep->rules++;
    c->rep->invalid++;
    const char *msg = e->msg;
    lctx_problem(c, RULE_INVALID, NULL, e->line ? e->line : 1, e->col, "YAML: %s", msg);
    return 0;
}

static int load_file(struct lctx *c, const char *path)
{
    struct ts_ystream *st = NULL;
    struct ts_err e = {0};
    c->file = path;
    c->rep->files++;
    int rc = ts_yaml_load_file(path, &st, &e);
    if (rc == TS_E_NOMEM)
        return rc;
    if (rc)
        return yaml_failed(c, &e);
    return load_stream(c, st);
}

static bool has_yaml_ext(const char *n)
{
    size_t l = strlen(n);
    return (l > 4 && strcmp(n + l - 4, ".yml") == 0) || (l > 5 && strcmp(n + l - 5, ".yaml") == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_path(struct lctx *c, const char *path, unsigned depth, bool top, struct ts_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (top)
            return ts_err_set(err, TS_E_IO, path, 0, 0, "cannot read: %s", strerror(errno));
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (c->rep->files >= RULE_MAX_FILES)
            return ts_err_set(err, TS_E_LIMIT, path, 0, 0, "more than %u rule files", RULE_MAX_FILES);
        return load_file(c, path);
    }
    if (depth >= RULE_MAX_DIR_DEPTH)
        return 0;
    DIR *d = opendir(path);
    if (!d)
        return top ? ts_err_set(err, TS_E_IO, path, 0, 0, "cannot open directory: %s", strerror(errno))
                   : 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        size_t l = strlen(path) + strlen(de->d_name) + 2;
        char *full = malloc(l);
        if (!full) {
            rc = TS_E_NOMEM;
            break;
        }
        snprintf(full, l, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", de->d_name);
        struct stat s2;
        bool keep = stat(full, &s2) == 0 && (S_ISDIR(s2.st_mode) || has_yaml_ext(de->d_name));
        if (!keep || n >= RULE_MAX_FILES) {
            free(full);
            continue;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            char **nn = realloc(names, nc * sizeof(*nn));
            if (!nn) {
                free(full);
                rc = TS_E_NOMEM;
                break;
            }
            names = nn;
            cap = nc;
        }
        names[n++] = full;
    }
    closedir(d);
    if (!rc && n)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (!rc)
            rc = load_path(c, names[i], depth + 1, false, err);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ----------------------------------------------------------- set build */

void rule_set_unref(struct rule_set *rs)
{
    if (!rs || atomic_fetch_sub(&rs->refs, 1) != 1)
        return;
    for (size_t i = 0; i < rs->nrules; i++)
        rule_free(rs->rules[i]);
    for (size_t i = 0; i < rs->ncorrs; i++)
        rule_free(rs->corrs[i]);
    for (size_t i = 0; i < rs->nfilters; i++)
        rule_free(rs->filters[i]);
    free(rs->rules);
    free(rs->corrs);
    free(rs->filters);
    for (size_t i = 0; i < rs->nstreams; i++)
        ts_yaml_free(rs->streams[i]);
    free(rs->streams);
    for (uint32_t i = 0; i < rs->nfnames; i++)
        free(rs->fnames[i]);
    free(rs->fnames);
    free(rs->flens);
    free(rs->fhash);
    for (uint32_t i = 0; i < rs->ngroups; i++) {
        free((char *)rs->groups[i].product);
        free((char *)rs->groups[i].category);
        free((char *)rs->groups[i].service);
        free(rs->groups[i].always);
        for (uint32_t k = 0; k < rs->groups[i].nscan; k++)
            ac_free(rs->groups[i].acs[k]);
        free(rs->groups[i].acs);
        free(rs->groups[i].scan_fields);
        ac_free(rs->groups[i].kw_ac);
    }
    free(rs->groups);
    for (uint32_t i = 0; i < rs->nroutes; i++) {
        free(rs->routes[i].key);
        free(rs->routes[i].groups);
    }
    free(rs->routes);
    free(rs->any_groups);
    free(rs->pf_need);
    free(rs);
}

struct rule_set *rule_set_ref(struct rule_set *rs)
{
    if (rs)
        atomic_fetch_add(&rs->refs, 1);
    return rs;
}

static bool rule_named(const struct rule *r, const char *s)
{
    return (r->info.id && strcmp(r->info.id, s) == 0) || (r->info.name && strcmp(r->info.name, s) == 0);
}

/* Attach each filter to the detection rules it names. */
static int apply_filters(struct rule_set *rs)
{
    for (size_t f = 0; f < rs->nfilters; f++) {
        const struct rule *fr = rs->filters[f];
        for (size_t t = 0; t < fr->ntargets; t++)
            for (size_t i = 0; i < rs->nrules; i++) {
                struct rule *r = rs->rules[i];
                if (!rule_named(r, fr->filter_targets[t]) || r->nfilters >= RULE_MAX_FILTERS)
                    continue;
                bool dup = false;
                for (uint32_t k = 0; k < r->nfilters; k++)
                    dup |= r->filters[k] == &fr->det;
                if (dup)
                    continue;
                const struct det **n = ts_arena_alloc(r->arena, (r->nfilters + 1) * sizeof(*n));
                if (!n)
                    return TS_E_NOMEM;
                if (r->nfilters)
                    memcpy(n, r->filters, r->nfilters * sizeof(*n));
                n[r->nfilters++] = &fr->det;
                r->filters = n;
                r->info.nfilters = r->nfilters;
            }
    }
    return 0;
}

/* Why a correlation is left out: the first of its `rules` that names no
 * loaded rule (CF_MISSING) or a correlation that is left out (CF_FAILED). */
enum { CF_OK = 0, CF_MISSING, CF_FAILED };
struct corr_fate {
    uint8_t why;
    size_t target; /* index in filter_targets */
};

/* The node of target t in the correlation's `rules` (a list or one name). */
static const struct ts_ynode *corr_target_node(const struct rule *cr, size_t t)
{
    const struct ts_ynode *n = ts_yaml_get(ts_yaml_get(cr->corr_root, "correlation"), "rules");
    if (n && n->kind == TS_Y_SEQ && t < n->nitems)
        return n->items[t];
    return n;
}

/* A correlation naming a rule that is not in the set is invalid, and so is
 * every correlation naming one of those, whatever the order of the documents.
 *
 * Ownership: rs->corrs owns every correlation until the end of this function.
 * Each name is resolved once into ref[] (a detection, another correlation or
 * nothing) while all correlations are alive; the left-out ones are then only
 * marked in fate[] while the marks spread, reported in load order, and freed
 * last, after the last read of any of them. Returns 0 or TS_E_NOMEM. */
static int check_correlations(struct rule_set *rs, struct lctx *c)
{
    size_t n = rs->ncorrs, nrefs = 0;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        nrefs += rs->corrs[i]->ntargets;
    struct corr_fate *fate = calloc(n, sizeof(*fate));
    size_t *first = malloc((n + 1) * sizeof(*first));
    long *ref = malloc((nrefs ? nrefs : 1) * sizeof(*ref)); /* -1 detection, -2 none, else corr */
    if (!fate || !first || !ref) {
        free(fate);
        free(first);
        free(ref);
        return TS_E_NOMEM;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const struct rule *cr = rs->corrs[i];
        first[i] = at;
        for (size_t t = 0; t < cr->ntargets; t++, at++) {
            const char *name = cr->filter_targets[t];
            ref[at] = -2;
            for (size_t k = 0; k < rs->nrules && ref[at] == -2; k++)
                if (rule_named(rs->rules[k], name))
                    ref[at] = -1;
            for (size_t k = 0; k < n && ref[at] == -2; k++)
                if (k != i && rule_named(rs->corrs[k], name))
                    ref[at] = (long)k;
            if (ref[at] == -2 && fate[i].why == CF_OK)
                fate[i] = (struct corr_fate){CF_MISSING, t};
        }
    }
    first[n] = at;
    /* spread: a correlation on a left-out one is left out (one pass per link
     * of the longest chain; a pass reads every reference once) */
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < n; i++) {
            if (fate[i].why != CF_OK)
                continue;
            for (size_t r = first[i]; r < first[i + 1]; r++)
                if (ref[r] >= 0 && fate[ref[r]].why != CF_OK) {
                    fate[i] = (struct corr_fate){CF_FAILED, r - first[i]};
                    changed = true;
                    break;
                }
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct rule *cr = rs->corrs[i];
        if (fate[i].why == CF_OK)
            continue;
        c->r = cr;
        c->file = cr->info.file;
        c->nprob = 0;
        const char *name = cr->filter_targets[fate[i].target];
        if (fate[i].why == CF_MISSING)
            lctx_problem(c, RULE_INVALID, corr_target_node(cr, fate[i].target), 0, 0,
                         "correlation refers to rule \"%s\", which is not loaded", name);
        else
            lctx_problem(c, RULE_INVALID, corr_target_node(cr, fate[i].target), 0, 0,
                         "correlation refers to correlation \"%s\", which failed to load", name);
        c->r = NULL;
        c->rep->ok--;
        c->rep->correlations--;
        c->rep->invalid++;
    }
    /* every read of a left-out correlation is above: free them, keep the rest */
    size_t keep = 0;
    for (size_t i = 0; i < n; i++) {
        if (fate[i].why == CF_OK)
            rs->corrs[keep++] = rs->corrs[i];
        else
            rule_free(rs->corrs[i]);
    }
    rs->ncorrs = keep;
    free(fate);
    free(first);
    free(ref);
    return c->fatal;
}

/* ------------------------------------------------------ ATT&CK taxonomy */

static void taxo_free(struct rule_taxo *t)
{
    for (size_t i = 0; i < t->nnames; i++)
        free(t->names[i]);
    for (size_t i = 0; i < t->nids; i++)
        free(t->ids[i]);
    t->nnames = t->nids = 0;
}

/* "tactic NAME" and "id PATTERN" lines; blank lines and lines starting with
 * "#" (a comment) skipped. At most RULE_TAXO_MAX of each, lines up to 200
 * bytes. */
static int taxo_load(struct rule_taxo *t, const char *path, struct ts_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return ts_err_set(err, TS_E_IO, path, 0, 0, "cannot read the ATT&CK taxonomy: %s",
                          strerror(errno));
    char line[256];
    unsigned ln = 0;
    int rc = 0;
    while (!rc && fgets(line, sizeof(line), f)) {
        ln++;
        size_t n = strlen(line);
        if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
            rc = ts_err_set(err, TS_E_INVAL, path, ln, 1, "line longer than 200 bytes");
            break;
        }
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            continue;
        bool tactic = strncmp(p, "tactic ", 7) == 0, id = strncmp(p, "id ", 3) == 0;
        char *v = p + (tactic ? 7 : 3);
        while (*v == ' ')
            v++;
        if ((!tactic && !id) || !*v) {
            rc = ts_err_set(err, TS_E_INVAL, path, ln, (unsigned)(p - line) + 1,
                            "expected \"tactic NAME\" or \"id PATTERN\" (# a digit)");
            break;
        }
        char **arr = tactic ? t->names : t->ids;
        size_t *cnt = tactic ? &t->nnames : &t->nids;
        if (*cnt == RULE_TAXO_MAX - 1) { /* names stay NULL-terminated for suggest() */
            rc = ts_err_set(err, TS_E_LIMIT, path, ln, 1, "more than %u entries of a kind",
                            RULE_TAXO_MAX - 1);
            break;
        }
        for (char *q = v; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        if (!(arr[*cnt] = strdup(v))) {
            rc = ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "out of memory");
            break;
        }
        (*cnt)++;
    }
    fclose(f);
    if (rc)
        taxo_free(t);
    return rc;
}

/* --------------------------------------------------- ids across the set */

struct id_ent {
    struct rule *r;
    size_t order; /* load order, so that the first one keeps its id */
};

static int id_ent_cmp(const void *a, const void *b)
{
    const struct id_ent *x = a, *y = b;
    int c = strcmp(x->r->info.id, y->r->info.id);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* Every id twice or more in the set: a warning at each later one, naming
 * where the first is. Rules left out (invalid, unsupported) are not
 * counted. */
static int check_unique_ids(struct rule_set *rs, struct lctx *c)
{
    size_t n = rs->nrules + rs->nfilters + rs->ncorrs, k = 0;
    if (n < 2)
        return 0;
    struct id_ent *v = malloc(n * sizeof(*v));
    if (!v)
        return TS_E_NOMEM;
    struct rule **lists[3] = {rs->rules, rs->filters, rs->corrs};
    size_t counts[3] = {rs->nrules, rs->nfilters, rs->ncorrs};
    for (int l = 0; l < 3; l++)
        for (size_t i = 0; i < counts[l]; i++)
            if (lists[l][i]->info.id) {
                v[k].r = lists[l][i];
                /* load order: file, then line */
                v[k].order = k;
                k++;
            }
    qsort(v, k, sizeof(*v), id_ent_cmp);
    for (size_t i = 1; i < k; i++) {
        size_t first = i - 1;
        while (first > 0 && strcmp(v[first - 1].r->info.id, v[i].r->info.id) == 0)
            first--;
        if (strcmp(v[first].r->info.id, v[i].r->info.id) != 0)
            continue;
        const struct rule *a = v[first].r, *b = v[i].r;
        /* report at the one later in file order */
        if (strcmp(b->info.file, a->info.file) < 0 ||
            (strcmp(b->info.file, a->info.file) == 0 && b->info.line < a->info.line)) {
            const struct rule *t = a;
            a = b;
            b = t;
        }
        c->file = b->info.file;
        c->r = (struct rule *)b;
        c->nprob = 0;
        lctx_problem(c, RULE_WARNING, NULL, b->id_line, b->id_col,
                     "id %s is not unique: %s:%u:%u has it too (\"%s\"); ids must be unique "
                     "across the rule set", b->info.id, a->info.file, a->id_line, a->id_col,
                     a->info.title ? a->info.title : "");
    }
    c->r = NULL;
    free(v);
    return c->fatal;
}

int rule_set_load(struct rule_set **out, const struct rule_load_opts *o, struct rule_report *report,
                  struct ts_err *err)
{
    *out = NULL;
    struct rule_report dummy = {0};
    struct rule_report *rep = report ? report : &dummy;
    memset(rep, 0, sizeof(*rep));
    struct rule_set *rs = calloc(1, sizeof(*rs));
    if (!rs)
        return ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "out of memory");
    atomic_init(&rs->refs, 1);
    rs->re_max_subject = o->re_max_subject ? o->re_max_subject : RULE_RE_MAX_SUBJECT;
    rs->re_match_limit = o->re_match_limit ? o->re_match_limit : RULE_RE_MATCH_LIMIT;
    rs->re_depth_limit = o->re_depth_limit ? o->re_depth_limit : RULE_RE_DEPTH_LIMIT;
    rs->re_heap_limit_kib = o->re_heap_limit_kib ? o->re_heap_limit_kib : RULE_RE_HEAP_LIMIT_KIB;
    struct rule_taxo taxo = {0};
    if (o->attack_taxonomy) {
        int trc = taxo_load(&taxo, o->attack_taxonomy, err);
        if (trc) {
            rule_set_unref(rs);
            return trc;
        }
    }
    struct lctx c = {.rs = rs, .o = o, .rep = rep, .taxo = o->attack_taxonomy ? &taxo : NULL};
    int rc = 0;
    static const char *const kw[3] = {"message", "Message", "raw"};
    for (int i = 0; i < 3 && !rc; i++) {
        int e = 0;
        rs->kw_fields[i] = field_intern_raw(rs, kw[i], strlen(kw[i]), &e);
        rc = e;
    }
    if (!rc && o->npaths == 0 && o->buf) {
        struct ts_ystream *st = NULL;
        struct ts_err e = {0};
        c.file = o->buf_name ? o->buf_name : "<buffer>";
        rep->files++;
        rc = ts_yaml_load_buffer(c.file, o->buf, o->buf_len, &st, &e);
        if (rc == TS_E_NOMEM)
            ;
        else if (rc)
            rc = yaml_failed(&c, &e);
        else
            rc = load_stream(&c, st);
    }
    for (size_t i = 0; i < o->npaths && !rc; i++)
        rc = load_path(&c, o->paths[i], 0, true, err);
    taxo_free(&taxo);
    if (!rc)
        rc = check_unique_ids(rs, &c);
    if (!rc)
        rc = apply_filters(rs);
    if (!rc)
        rc = check_correlations(rs, &c);
    if (!rc)
        rc = rset_build_index(rs);
    if (rc) {
        if (rc == TS_E_NOMEM)
            ts_err_set(err, rc, NULL, 0, 0, "out of memory while loading rules");
        else
            ts_err_set(err, rc, NULL, 0, 0, "loading rules failed: %s", ts_strerror(rc));
        rule_set_unref(rs);
        if (!report)
            rule_report_free(&dummy);
        return rc;
    }
    if (!report)
        rule_report_free(&dummy);
    *out = rs;
    return 0;
}

/* ----------------------------------------------------------- metadata */

size_t rule_set_count(const struct rule_set *rs)
{
    return rs ? rs->nrules : 0;
}

const struct rule_info *rule_set_info(const struct rule_set *rs, size_t idx)
{
    return rs && idx < rs->nrules ? &rs->rules[idx]->info : NULL;
}

size_t rule_set_correlation_count(const struct rule_set *rs)
{
    return rs ? rs->ncorrs : 0;
}

const struct ts_ynode *rule_set_correlation(const struct rule_set *rs, size_t i,
                                            const struct rule_info **info)
{
    if (!rs || i >= rs->ncorrs)
        return NULL;
    if (info)
        *info = &rs->corrs[i]->info;
    return rs->corrs[i]->corr_root;
}

long rule_set_find(const struct rule_set *rs, const char *id_or_name)
{
    for (size_t i = 0; rs && i < rs->nrules; i++)
        if (rule_named(rs->rules[i], id_or_name))
            return (long)i;
    return -1;
}
