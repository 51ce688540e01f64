/* index.c - the set's routing index: detection rules grouped by logsource
 * (product, category, service as written, lowercased), a small hash of route
 * keys ("c:<category>", "s:<service>", "p:<product>") to groups, and per group
 * the prefilter automaton over the literals its rules need plus the list of
 * rules that must always be evaluated. Build time only (single-threaded);
 * the result is read-only.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules_int.h"

static char *lowdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        p[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    return p;
}

static bool eq_opt(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcasecmp(a, b) == 0;
}

static int push_u32(uint32_t **arr, uint32_t *n, uint32_t v)
{
    if ((*n & (*n - 1)) == 0) {
        uint32_t nc = *n ? *n * 2 : 1;
        uint32_t *na = realloc(*arr, nc * sizeof(*na));
        if (!na)
            return TS_E_NOMEM;
        *arr = na;
    }
    (*arr)[(*n)++] = v;
    return 0;
}

static int route_add(struct rule_set *rs, char kind, const char *val, uint32_t g)
{
    size_t l = strlen(val) + 3;
    char *key = malloc(l);
    if (!key)
        return TS_E_NOMEM;
    key[0] = kind;
    key[1] = ':';
    memcpy(key + 2, val, l - 2);
    for (uint32_t i = 0; i < rs->nroutes; i++)
        if (strcmp(rs->routes[i].key, key) == 0) {
            free(key);
            return push_u32(&rs->routes[i].groups, &rs->routes[i].ngroups, g);
        }
    struct route_ent *n = realloc(rs->routes, (rs->nroutes + 1) * sizeof(*n));
    if (!n) {
        free(key);
        return TS_E_NOMEM;
    }
    rs->routes = n;
    rs->routes[rs->nroutes] = (struct route_ent){.key = key};
    rs->nroutes++;
    return push_u32(&rs->routes[rs->nroutes - 1].groups, &rs->routes[rs->nroutes - 1].ngroups, g);
}

static int cmp_route(const void *a, const void *b)
{
    return strcmp(((const struct route_ent *)a)->key, ((const struct route_ent *)b)->key);
}

#define SMALL_GROUP 3
#define SMALL_SET 64

static int build_group(struct rule_set *rs, uint32_t gi)
{
    struct lgroup *g = &rs->groups[gi];
    struct ac_builder *b = NULL;
    int rc = ac_builder_create(&b);
    if (rc)
        return rc;
    uint32_t *pf = NULL, npf = 0;
    for (size_t i = 0; i < rs->nrules && !rc; i++) {
        if (rs->rules[i]->group != gi)
            continue;
        int r = prefilter_rule(rs->rules[i], (uint32_t)i, b, &rs->pf_need[i]);
        if (r == 1)
            rc = push_u32(&g->always, &g->nalways, (uint32_t)i);
        else if (r == 0)
            rc = push_u32(&pf, &npf, (uint32_t)i);
        else
            rc = r;
    }
    /* a small rule set's group of a few rules: evaluating them is cheaper
     * than scanning the event's values for their literals first (in a big
     * set the scan still pays: measured 322k vs 292k events/s with every
     * Windows rule) */
    bool failed = npf > 0 && npf <= SMALL_GROUP && rs->nrules <= SMALL_SET;
    if (!rc && npf && !failed) {
        uint32_t *fields = calloc(rs->nfnames + 1, sizeof(*fields));
        struct ac **acs = calloc(rs->nfnames + 1, sizeof(*acs));
        if (!fields || !acs) {
            free(fields);
            free(acs);
            rc = TS_E_NOMEM;
        } else {
            size_t nf = ac_builder_fields(b, fields, rs->nfnames + 1);
            g->scan_fields = fields;
            g->acs = acs;
            for (size_t i = 0; i < nf && !rc && !failed; i++) {
                struct ac *a = NULL;
                rc = ac_build(b, fields[i], &a);
                if (rc == TS_E_LIMIT) {
                    rc = 0;
                    failed = true; /* too big to prefilter: evaluate these rules always */
                } else if (!rc && fields[i] == FIELD_KEYWORDS) {
                    g->kw_ac = a;
                } else if (!rc) {
                    g->scan_fields[g->nscan] = fields[i];
                    g->acs[g->nscan++] = a;
                }
            }
        }
    }
    if (!rc && failed) {
        for (uint32_t i = 0; i < g->nscan; i++)
            ac_free(g->acs[i]);
        ac_free(g->kw_ac);
        g->kw_ac = NULL;
        g->nscan = 0;
        for (uint32_t i = 0; i < npf && !rc; i++)
            rc = push_u32(&g->always, &g->nalways, pf[i]);
        if (!rc) {
            /* keep rule order in the always list */
            uint32_t *a = g->always;
            for (uint32_t i = 1; i < g->nalways; i++) {
                uint32_t x = a[i], j = i;
                for (; j > 0 && a[j - 1] > x; j--)
                    a[j] = a[j - 1];
                a[j] = x;
            }
        }
    } else if (!rc) {
        rs->prefilter_rules += npf;
    }
    free(pf);
    ac_builder_free(b);
    rs->always_rules += g->nalways;
    return rc;
}

int rset_build_index(struct rule_set *rs)
{
    int rc = 0;
    uint32_t memo = 0;
    rs->pf_need = calloc(rs->nrules ? rs->nrules : 1, 1);
    if (!rs->pf_need)
        return TS_E_NOMEM;
    for (size_t i = 0; i < rs->nrules && !rc; i++) {
        struct rule *r = rs->rules[i];
        r->det.memo_base = memo;
        memo += r->det.nsels;
        uint32_t g;
        for (g = 0; g < rs->ngroups; g++)
            if (eq_opt(rs->groups[g].product, r->info.product) &&
                eq_opt(rs->groups[g].category, r->info.category) &&
                eq_opt(rs->groups[g].service, r->info.service))
                break;
        if (g == rs->ngroups) {
            struct lgroup *n = realloc(rs->groups, (rs->ngroups + 1) * sizeof(*n));
            if (!n)
                return TS_E_NOMEM;
            rs->groups = n;
            struct lgroup *ng = &rs->groups[rs->ngroups++];
            memset(ng, 0, sizeof(*ng));
            ng->product = lowdup(r->info.product);
            ng->category = lowdup(r->info.category);
            ng->service = lowdup(r->info.service);
            if ((r->info.product && !ng->product) || (r->info.category && !ng->category) ||
                (r->info.service && !ng->service))
                return TS_E_NOMEM;
            if (ng->category)
                rc = route_add(rs, 'c', ng->category, g);
            else if (ng->service)
                rc = route_add(rs, 's', ng->service, g);
            else if (ng->product)
                rc = route_add(rs, 'p', ng->product, g);
            else
                rc = push_u32(&rs->any_groups, &rs->nany, g);
        }
        r->group = g;
    }
    for (size_t i = 0; i < rs->nfilters; i++) {
        rs->filters[i]->det.memo_base = memo;
        memo += rs->filters[i]->det.nsels;
    }
    rs->memo_total = memo;
    if (rs->nroutes)
        qsort(rs->routes, rs->nroutes, sizeof(*rs->routes), cmp_route);
    for (uint32_t g = 0; g < rs->ngroups && !rc; g++)
        rc = build_group(rs, g);
    return rc;
}
