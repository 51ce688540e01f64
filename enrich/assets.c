/* assets.c - the agency's asset inventory (docs/assets.md): systems with their
 * name, operator, managing body (cơ quan chủ quản), security level (cấp độ
 * 1-5), tenants, hostnames, IP ranges, domains and contacts; looked up by
 * host name or by address (longest prefix), for one tenant: its own systems
 * first, then the shared ones (systems without tenants).
 *
 * Tenants: each tenant named in the file gets a number (1..); every host
 * name, first label and range is keyed by (tenant number, name), once per
 * tenant of its system, or with 0 for a shared system. A lookup for a
 * tenant probes its own keys, then the shared ones: two probes, however
 * many tenants. Duplicates are refused per key, as for ids: within one
 * tenant, or among shared systems. escalate/ reads the inventory through
 * this file too (enrich.h), so both users see the same systems.
 *
 * Ownership: an inventory owns every string and table in one arena; it is
 * immutable after loading and may be read by any number of threads. Lookups
 * allocate nothing. Load errors name file:line:col (first error wins).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/arena.h"
#include "../core/yaml.h"
#include "../core/yconf.h"
#include "enrich_int.h"

#define ASSETS_ARENA_CHUNK (64u << 10)
#define ASSETS_ARENA_CAP ((size_t)256 << 20)
#define HOST_MAX 253
#define AMBIGUOUS (-2)
#define SHARED 0u                  /* the tenant number of shared systems' keys */
#define MAX_KEYS ((size_t)1 << 22) /* names (or ranges) x tenants, per table */

struct host_ent {
    const char *key; /* lower case, owned by the arena; NULL = empty slot */
    uint32_t len;
    uint32_t tenant; /* SHARED, or the tenant's number */
    int32_t asset;   /* index, or AMBIGUOUS (short names only) */
    unsigned line, col;
};

struct net_ent {
    uint8_t used, family, plen;
    uint8_t addr[16];
    uint32_t tenant;
    int32_t asset;
    unsigned line, col;
};

struct tenant_ent {
    const char *name; /* owned by the arena; NULL = empty slot */
    uint32_t len, num;
};

/* The tenant numbers of one system; n = 0: shared. */
struct sys_tenants {
    uint32_t *num;
    uint32_t n;
};

struct enrich_assets {
    struct ts_arena *arena;
    struct enrich_asset *v;
    size_t n;
    struct host_ent *hosts, *shorts; /* exact names; first labels */
    size_t hcap, scap, nhosts, nshorts;
    struct net_ent *nets;
    size_t ncap, nnets;
    uint8_t plens4[33], plens6[129]; /* prefix lengths present, longest first */
    unsigned nplens4, nplens6;
    struct tenant_ent *tenants; /* name -> number */
    size_t tncap, ntenants;
    struct sys_tenants *st;     /* per system */
};

/* The load context: core/yconf's (file, first error, the inventory's arena)
 * and the inventory being built. */
struct lctx {
    struct ts_yconf y;
    struct enrich_assets *a;
};

static int fail(struct lctx *x, const struct ts_ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct lctx *x, const struct ts_ynode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ts_yconf_vfail(&x->y, TS_E_CONFIG, n, fmt, ap);
    va_end(ap);
    return rc;
}

static int nomem(struct lctx *x)
{
    return ts_yconf_nomem(&x->y);
}

/* ----------------------------------------------------------- host tables */

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

static struct host_ent *host_slot(struct host_ent *t, size_t cap, uint32_t tenant, const char *k,
                                  size_t len)
{
    size_t i = (size_t)enrich_hash64(k, len, 0x9e37 ^ ((uint64_t)tenant << 20)) & (cap - 1);
    for (;;) {
        struct host_ent *e = &t[i];
        if (!e->key || (e->tenant == tenant && e->len == len && memcmp(e->key, k, len) == 0))
            return e;
        i = (i + 1) & (cap - 1);
    }
}

static struct tenant_ent *tenant_slot(const struct enrich_assets *a, const char *name, size_t len)
{
    size_t i = (size_t)enrich_hash64(name, len, 0x7e4a) & (a->tncap - 1);
    for (;;) {
        struct tenant_ent *e = &a->tenants[i];
        if (!e->name || (e->len == len && memcmp(e->name, name, len) == 0))
            return e;
        i = (i + 1) & (a->tncap - 1);
    }
}

/* The name of tenant number num (1..), for messages. */
static const char *tenant_name(const struct enrich_assets *a, uint32_t num)
{
    for (size_t i = 0; i < a->tncap; i++)
        if (a->tenants[i].name && a->tenants[i].num == num)
            return a->tenants[i].name;
    return "?";
}

/* The keys of system asset: one per tenant, or the shared one. */
static uint32_t key_tenants(const struct enrich_assets *a, int32_t asset, const uint32_t **nums)
{
    static const uint32_t shared[1] = {SHARED};
    const struct sys_tenants *t = &a->st[asset];
    *nums = t->n ? t->num : shared;
    return t->n ? t->n : 1;
}

/* "" or " for tenant \"x\"" for messages about a key of tenant num. */
static void for_tenant(const struct enrich_assets *a, uint32_t num, char *buf, size_t len)
{
    if (num == SHARED)
        buf[0] = '\0';
    else
        snprintf(buf, len, " for tenant \"%s\"", tenant_name(a, num));
}

/* lower-case s into buf (HOST_MAX+1), dropping one trailing dot; 0 if too long/empty */
static size_t lower_host(const char *s, size_t len, char *buf)
{
    if (len && s[len - 1] == '.')
        len--;
    if (len == 0 || len > HOST_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    buf[len] = '\0';
    return len;
}

static int host_add(struct lctx *x, const struct ts_ynode *n, int32_t asset, bool with_short)
{
    struct enrich_assets *a = x->a;
    char buf[HOST_MAX + 1];
    size_t len = lower_host(n->str, n->len, buf);
    if (!len || memchr(n->str, ' ', n->len) || memchr(n->str, '\0', n->len))
        return fail(x, n, "invalid host name \"%s\"", n->str);
    char *k = NULL;
    const uint32_t *tn;
    uint32_t nt = key_tenants(a, asset, &tn);
    for (uint32_t t = 0; t < nt; t++) {
        struct host_ent *e = host_slot(a->hosts, a->hcap, tn[t], buf, len);
        if (e->key) {
            if (e->asset == asset)
                continue;
            char ft[TS_TENANT_MAX + 20];
            for_tenant(a, tn[t], ft, sizeof(ft));
            return fail(x, n, "host name \"%s\" already belongs to system \"%s\"%s (line %u)",
                        n->str, a->v[e->asset].id, ft, e->line);
        }
        if (!k && !(k = ts_arena_strndup(a->arena, buf, len)))
            return nomem(x);
        *e = (struct host_ent){.key = k, .len = (uint32_t)len, .tenant = tn[t], .asset = asset,
                               .line = n->line, .col = n->col};
        a->nhosts++;
        if (!with_short)
            continue;
        const char *dot = memchr(buf, '.', len);
        size_t slen = dot ? (size_t)(dot - buf) : len;
        if (slen == 0)
            continue;
        struct host_ent *s = host_slot(a->shorts, a->scap, tn[t], buf, slen);
        if (s->key) {
            if (s->asset != asset) /* two systems of one tenant (or two shared ones) */
                s->asset = AMBIGUOUS; /* share the first label: full names only */
            continue;
        }
        *s = (struct host_ent){.key = k, .len = (uint32_t)slen, .tenant = tn[t], .asset = asset,
                               .line = n->line, .col = n->col};
        a->nshorts++;
    }
    return 0;
}

/* ------------------------------------------------------------- net table */

static struct net_ent *net_slot(struct net_ent *t, size_t cap, uint32_t tenant, uint8_t family,
                                uint8_t plen, const uint8_t *addr)
{
    size_t alen = family == 6 ? 16 : 4;
    size_t i = (size_t)enrich_hash64(addr, alen,
                                     (uint64_t)tenant << 16 | (uint64_t)family << 8 | plen) &
               (cap - 1);
    for (;;) {
        struct net_ent *e = &t[i];
        if (!e->used || (e->tenant == tenant && e->family == family && e->plen == plen &&
                         memcmp(e->addr, addr, alen) == 0))
            return e;
        i = (i + 1) & (cap - 1);
    }
}

static int net_add(struct lctx *x, const struct ts_ynode *n, int32_t asset)
{
    struct enrich_assets *a = x->a;
    struct ts_ip net;
    unsigned plen;
    if (enrich_cidr_parse(n->str, n->len, true, &net, &plen))
        return fail(x, n, "invalid IP range \"%s\" (expected an address or CIDR such as "
                          "10.10.1.0/24, with no host bits set)", n->str);
    const uint32_t *tn;
    uint32_t nt = key_tenants(a, asset, &tn);
    for (uint32_t t = 0; t < nt; t++) {
        struct net_ent *e = net_slot(a->nets, a->ncap, tn[t], net.family, (uint8_t)plen, net.addr);
        if (e->used) {
            if (e->asset == asset)
                continue;
            char ft[TS_TENANT_MAX + 20];
            for_tenant(a, tn[t], ft, sizeof(ft));
            return fail(x, n, "IP range \"%s\" already belongs to system \"%s\"%s (line %u)",
                        n->str, a->v[e->asset].id, ft, e->line);
        }
        e->used = 1;
        e->family = net.family;
        e->plen = (uint8_t)plen;
        memcpy(e->addr, net.addr, 16);
        e->tenant = tn[t];
        e->asset = asset;
        e->line = n->line;
        e->col = n->col;
        a->nnets++;
    }
    if (net.family == 6)
        a->plens6[plen] = 1;
    else
        a->plens4[plen] = 1;
    return 0;
}

/* ---------------------------------------------------------------- parsing */

/* An optional string (absent or null: left as it is), "" allowed. */
static int want_str(struct lctx *x, const struct ts_ynode *n, const char *what, char **out,
                    uint32_t *len)
{
    if (!n || ts_yaml_is_null(n))
        return 0;
    int rc = ts_yconf_text(&x->y, n, what, 4096, TS_YCONF_EMPTY_OK, out);
    if (!rc && len)
        *len = (uint32_t)n->len;
    return rc;
}

/* A scalar or a list of scalars, each passed to fn. */
static int each_name(struct lctx *x, const struct ts_ynode *n, const char *what, int32_t asset,
                     int (*fn)(struct lctx *, const struct ts_ynode *, int32_t, bool), bool flag)
{
    if (!n || ts_yaml_is_null(n))
        return 0;
    if (n->kind == TS_Y_SCALAR)
        return fn(x, n, asset, flag);
    if (n->kind != TS_Y_SEQ)
        return fail(x, n, "%s must be a list of strings, not %s", what, ts_yaml_kind_name(n));
    if (n->nitems > INGEST_ASSETS_MAX_NAMES)
        return fail(x, n, "too many %s (at most %u)", what, INGEST_ASSETS_MAX_NAMES);
    for (size_t i = 0; i < n->nitems; i++) {
        const struct ts_ynode *it = n->items[i];
        if (it->kind != TS_Y_SCALAR || ts_yaml_is_null(it))
            return fail(x, it, "each of %s must be a string, not %s", what, ts_yaml_kind_name(it));
        int rc = fn(x, it, asset, flag);
        if (rc)
            return rc;
    }
    return 0;
}

static int host_cb(struct lctx *x, const struct ts_ynode *n, int32_t asset, bool with_short)
{
    return host_add(x, n, asset, with_short);
}

static int net_cb(struct lctx *x, const struct ts_ynode *n, int32_t asset, bool unused)
{
    TS_UNUSED(unused);
    return net_add(x, n, asset);
}

static const char *const system_keys[] = {"id", "tenants", "name", "operator", "managing_body",
                                          "level", "hostnames", "ip_ranges", "domains",
                                          "contacts", "description", "location", "tags",
                                          "route", NULL};
static const char *const contact_keys[] = {"name", "role", "email", "phone", NULL};

static int check_keys(struct lctx *x, const struct ts_ynode *map, const char *const *keys,
                      const char *what)
{
    return ts_yconf_check_keys(&x->y, map, what, keys, ts_yconf_count(keys), NULL);
}

static int load_contacts(struct lctx *x, const struct ts_ynode *n, struct enrich_asset *as)
{
    if (!n || ts_yaml_is_null(n))
        return 0;
    if (n->kind != TS_Y_SEQ)
        return fail(x, n, "contacts must be a list, not %s", ts_yaml_kind_name(n));
    if (n->nitems > INGEST_ASSETS_MAX_CONTACTS)
        return fail(x, n, "too many contacts (at most %u)", INGEST_ASSETS_MAX_CONTACTS);
    as->contacts = ts_arena_alloc(x->a->arena, (n->nitems ? n->nitems : 1) * sizeof(*as->contacts));
    if (!as->contacts)
        return nomem(x);
    for (size_t i = 0; i < n->nitems; i++) {
        const struct ts_ynode *c = n->items[i];
        struct enrich_asset_contact *ct = &as->contacts[i];
        memset(ct, 0, sizeof(*ct));
        if (c->kind != TS_Y_MAP)
            return fail(x, c, "a contact must be a mapping (name, role, email, phone), not %s",
                        ts_yaml_kind_name(c));
        int rc;
        if ((rc = check_keys(x, c, contact_keys, "a contact")) ||
            (rc = want_str(x, ts_yaml_get(c, "name"), "name", &ct->name, NULL)) ||
            (rc = want_str(x, ts_yaml_get(c, "role"), "role", &ct->role, NULL)) ||
            (rc = want_str(x, ts_yaml_get(c, "email"), "email", &ct->email, NULL)) ||
            (rc = want_str(x, ts_yaml_get(c, "phone"), "phone", &ct->phone, NULL)))
            return rc;
        if (!ct->name && !ct->email && !ct->phone)
            return fail(x, c, "a contact needs a name, an email or a phone");
    }
    as->ncontacts = n->nitems;
    return 0;
}

/* One tenant name of a system: checked as tenants are where they enter
 * (core/event.h: ts_tenant_check - a name no event can carry would never
 * match), numbered on first sight, added to the system once. */
static int tenant_add(struct lctx *x, const struct ts_ynode *n, int32_t asset, bool unused)
{
    TS_UNUSED(unused);
    struct enrich_assets *a = x->a;
    const char *why = ts_tenant_check(n->str, n->len);
    if (why)
        return fail(x, n, "tenant \"%.*s\": %s", n->len > 80 ? 80 : (int)n->len, n->str, why);
    struct tenant_ent *e = tenant_slot(a, n->str, n->len);
    if (!e->name) {
        char *k = ts_arena_strndup(a->arena, n->str, n->len);
        if (!k)
            return nomem(x);
        *e = (struct tenant_ent){.name = k, .len = (uint32_t)n->len,
                                 .num = (uint32_t)++a->ntenants};
    }
    struct sys_tenants *t = &a->st[asset];
    struct enrich_asset *as = &a->v[asset];
    for (uint32_t i = 0; i < t->n; i++)
        if (t->num[i] == e->num)
            return 0; /* named twice */
    t->num[t->n++] = e->num;
    as->tenants[as->ntenants++] = e->name;
    return 0;
}

static int load_tenants(struct lctx *x, const struct ts_ynode *n, int32_t idx)
{
    if (!n)
        return 0; /* shared */
    size_t max = n->kind == TS_Y_SEQ ? n->nitems : 1;
    if (ts_yaml_is_null(n) || max == 0)
        return fail(x, n, "tenants: name at least one (or leave the key out: shared)");
    if (max > INGEST_ASSETS_MAX_NAMES)
        return fail(x, n, "too many tenants (at most %u)", INGEST_ASSETS_MAX_NAMES);
    struct enrich_assets *a = x->a;
    a->st[idx].num = ts_arena_alloc(a->arena, max * sizeof(uint32_t));
    a->v[idx].tenants = ts_arena_alloc(a->arena, max * sizeof(char *));
    if (!a->st[idx].num || !a->v[idx].tenants)
        return nomem(x);
    return each_name(x, n, "tenants", idx, tenant_add, false);
}

static bool same_tenant(const struct sys_tenants *a, const struct sys_tenants *b, uint32_t *num)
{
    for (uint32_t i = 0; i < b->n; i++)
        for (uint32_t j = 0; j < a->n; j++)
            if (b->num[i] == a->num[j]) {
                *num = b->num[i];
                return true;
            }
    return false;
}

/* Two systems may share an id only when each names its tenants and no
 * tenant is in both (the escalation's rule): an id must say one
 * system to every tenant. */
static int check_id(struct lctx *x, const struct ts_ynode *id, int32_t idx)
{
    struct enrich_assets *a = x->a;
    const struct enrich_asset *as = &a->v[idx];
    for (int32_t j = 0; j < idx; j++) {
        if (strcmp(a->v[j].id, as->id) != 0)
            continue;
        uint32_t num;
        if (!a->st[j].n || !a->st[idx].n)
            return fail(x, id,
                        "duplicate system id \"%s\" (first at line %u; a system without "
                        "tenants is shared by every tenant: give both their tenants)",
                        as->id, a->v[j].line);
        if (same_tenant(&a->st[j], &a->st[idx], &num))
            return fail(x, id, "duplicate system id \"%s\" for tenant \"%s\" (first at line %u)",
                        as->id, tenant_name(a, num), a->v[j].line);
    }
    return 0;
}

/* The names of a key as written (each_name has checked them), in order. */
static int copy_names(struct lctx *x, const struct ts_ynode *n, const char ***out, size_t *count)
{
    if (!n || ts_yaml_is_null(n))
        return 0;
    size_t cnt = n->kind == TS_Y_SEQ ? n->nitems : 1;
    const char **v = ts_arena_alloc(x->a->arena, (cnt ? cnt : 1) * sizeof(*v));
    if (!v)
        return nomem(x);
    for (size_t i = 0; i < cnt; i++) {
        const struct ts_ynode *it = n->kind == TS_Y_SEQ ? n->items[i] : n;
        if (!(v[i] = ts_arena_strndup(x->a->arena, it->str, it->len)))
            return nomem(x);
    }
    *out = v;
    *count = cnt;
    return 0;
}

/* The ranges parsed (net_add has checked them), in the order written. */
static int copy_nets(struct lctx *x, struct enrich_asset *as)
{
    if (!as->nip_ranges)
        return 0;
    struct enrich_asset_net *v = ts_arena_alloc(x->a->arena, as->nip_ranges * sizeof(*v));
    if (!v)
        return nomem(x);
    for (size_t i = 0; i < as->nip_ranges; i++)
        if (enrich_cidr_parse(as->ip_ranges[i], strlen(as->ip_ranges[i]), true, &v[i].net,
                              &v[i].plen))
            return fail(x, NULL, "IP range \"%s\" no longer parses",
                                 as->ip_ranges[i]);
    as->nets = v;
    return 0;
}

static int load_system(struct lctx *x, const struct ts_ynode *m, int32_t idx)
{
    struct enrich_asset *as = &x->a->v[idx];
    memset(as, 0, sizeof(*as));
    as->line = m->line;
    as->index = (size_t)idx;
    if (m->kind != TS_Y_MAP)
        return fail(x, m, "a system must be a mapping, not %s", ts_yaml_kind_name(m));
    int rc;
    if ((rc = check_keys(x, m, system_keys, "a system")))
        return rc;
    const struct ts_ynode *id = ts_yaml_get(m, "id"), *name = ts_yaml_get(m, "name"),
                          *level = ts_yaml_get(m, "level");
    if (!id || ts_yaml_is_null(id))
        return fail(x, m, "system without an id");
    if (!name || ts_yaml_is_null(name))
        return fail(x, m, "system without a name");
    if (!level || ts_yaml_is_null(level))
        return fail(x, m, "system without a level (cấp độ 1-5)");
    if ((rc = want_str(x, id, "id", &as->id, &as->id_len)) ||
        (rc = want_str(x, name, "name", &as->name, &as->name_len)) ||
        (rc = want_str(x, ts_yaml_get(m, "operator"), "operator", &as->operator_,
                       &as->operator_len)) ||
        (rc = want_str(x, ts_yaml_get(m, "managing_body"), "managing_body", &as->managing_body,
                       &as->managing_body_len)) ||
        (rc = want_str(x, ts_yaml_get(m, "route"), "route", &as->route, NULL)) ||
        (rc = load_tenants(x, ts_yaml_get(m, "tenants"), idx)) || (rc = check_id(x, id, idx)))
        return rc;
    if (as->route && strcmp(as->route, "mps") && strcmp(as->route, "mod"))
        return fail(x, ts_yaml_get(m, "route"),
                    "route must be mps (Ministry of Public Security) or mod (Ministry of "
                    "Defence), not \"%s\"", as->route);
    if (level->kind != TS_Y_SCALAR || level->len != 1 || level->str[0] < '1' ||
        level->str[0] > '5')
        return fail(x, level, "level must be a security level from 1 to 5, not \"%s\"",
                    level->kind == TS_Y_SCALAR ? level->str : ts_yaml_kind_name(level));
    as->level = level->str[0] - '0';
    if ((rc = each_name(x, ts_yaml_get(m, "hostnames"), "hostnames", idx, host_cb, true)) ||
        (rc = each_name(x, ts_yaml_get(m, "domains"), "domains", idx, host_cb, false)) ||
        (rc = each_name(x, ts_yaml_get(m, "ip_ranges"), "ip_ranges", idx, net_cb, false)) ||
        (rc = load_contacts(x, ts_yaml_get(m, "contacts"), as)) ||
        (rc = copy_names(x, ts_yaml_get(m, "hostnames"), &as->hostnames, &as->nhostnames)) ||
        (rc = copy_names(x, ts_yaml_get(m, "domains"), &as->domains, &as->ndomains)) ||
        (rc = copy_names(x, ts_yaml_get(m, "ip_ranges"), &as->ip_ranges, &as->nip_ranges)) ||
        (rc = copy_nets(x, as)))
        return rc;
    return 0;
}

static size_t count_items(const struct ts_ynode *v)
{
    return !v ? 0 : v->kind == TS_Y_SEQ ? v->nitems : 1;
}

/* Size the tables from a first count over the tree: the keys of key, once
 * per tenant of their system (at most the tenants listed). */
static size_t count_names(const struct ts_ynode *systems, const char *key)
{
    size_t n = 0;
    for (size_t i = 0; i < systems->nitems; i++) {
        const struct ts_ynode *sys = systems->items[i];
        if (sys->kind != TS_Y_MAP)
            continue;
        size_t nt = count_items(ts_yaml_get(sys, "tenants"));
        size_t k = count_items(ts_yaml_get(sys, key));
        if (k > INGEST_ASSETS_MAX_NAMES || nt > INGEST_ASSETS_MAX_NAMES)
            continue; /* refused with its position when the system loads */
        n += k * (nt ? nt : 1);
    }
    return n;
}

static void order_plens(const uint8_t *present, unsigned max, uint8_t *list, unsigned *n)
{
    /* present[] is rewritten as the list of lengths, longest first */
    uint8_t tmp[129];
    unsigned k = 0;
    for (int p = (int)max; p >= 0; p--)
        if (present[p])
            tmp[k++] = (uint8_t)p;
    memcpy(list, tmp, k);
    *n = k;
}

static int build(struct lctx *x, const struct ts_ystream *s)
{
    const struct ts_ynode *root = s->ndocs ? s->docs[0].root : NULL;
    if (s->ndocs > 1)
        return fail(x, s->docs[1].root, "an inventory is one YAML document");
    if (!root || root->kind != TS_Y_MAP)
        return fail(x, root, "an inventory is a mapping with a \"systems\" list");
    static const char *const top_keys[] = {"agency", "version", "systems", NULL};
    int rc = check_keys(x, root, top_keys, "the inventory");
    if (rc)
        return rc;
    const struct ts_ynode *systems = ts_yaml_get(root, "systems");
    if (!systems || systems->kind != TS_Y_SEQ)
        return fail(x, systems ? systems : root, "\"systems\" must be a list of systems");
    if (systems->nitems > INGEST_ASSETS_MAX)
        return fail(x, systems, "too many systems (at most %u)", INGEST_ASSETS_MAX);
    struct enrich_assets *a = x->a;
    size_t nh = count_names(systems, "hostnames") + count_names(systems, "domains");
    size_t nn = count_names(systems, "ip_ranges");
    size_t nt = 0;
    for (size_t i = 0; i < systems->nitems; i++)
        if (systems->items[i]->kind == TS_Y_MAP)
            nt += count_items(ts_yaml_get(systems->items[i], "tenants"));
    if (nh > MAX_KEYS || nn > MAX_KEYS)
        return fail(x, systems, "too many %s: %zu once per tenant of their system (at most %zu)",
                    nh > MAX_KEYS ? "host names and domains" : "IP ranges",
                    nh > MAX_KEYS ? nh : nn, MAX_KEYS);
    a->hcap = pow2_at_least(2 * nh + 1);
    a->scap = a->hcap;
    a->ncap = pow2_at_least(2 * nn + 1);
    a->tncap = pow2_at_least(2 * nt + 1);
    a->v = ts_arena_alloc(a->arena, (systems->nitems + 1) * sizeof(*a->v));
    a->st = ts_arena_alloc(a->arena, (systems->nitems + 1) * sizeof(*a->st));
    a->hosts = ts_arena_alloc(a->arena, a->hcap * sizeof(*a->hosts));
    a->shorts = ts_arena_alloc(a->arena, a->scap * sizeof(*a->shorts));
    a->nets = ts_arena_alloc(a->arena, a->ncap * sizeof(*a->nets));
    a->tenants = ts_arena_alloc(a->arena, a->tncap * sizeof(*a->tenants));
    if (!a->v || !a->st || !a->hosts || !a->shorts || !a->nets || !a->tenants)
        return nomem(x);
    memset(a->st, 0, (systems->nitems + 1) * sizeof(*a->st));
    memset(a->hosts, 0, a->hcap * sizeof(*a->hosts));
    memset(a->shorts, 0, a->scap * sizeof(*a->shorts));
    memset(a->nets, 0, a->ncap * sizeof(*a->nets));
    memset(a->tenants, 0, a->tncap * sizeof(*a->tenants));
    for (size_t i = 0; i < systems->nitems; i++) {
        rc = load_system(x, systems->items[i], (int32_t)i);
        if (rc)
            return rc;
        a->n = i + 1;
    }
    order_plens(a->plens4, 32, a->plens4, &a->nplens4);
    order_plens(a->plens6, 128, a->plens6, &a->nplens6);
    return 0;
}

static int from_stream(const char *name, struct ts_ystream *s, struct enrich_assets **out,
                       struct ts_err *err)
{
    struct enrich_assets *a = calloc(1, sizeof(*a));
    if (!a)
        return ts_err_set(err, TS_E_NOMEM, name, 0, 0, "out of memory loading the inventory");
    int rc = ts_arena_create(&a->arena, ASSETS_ARENA_CHUNK, ASSETS_ARENA_CAP);
    if (rc) {
        free(a);
        return ts_err_set(err, rc, name, 0, 0, "out of memory loading the inventory");
    }
    struct lctx x = {{name, err, a->arena, "the inventory"}, a};
    rc = build(&x, s);
    if (rc) {
        enrich_assets_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

int enrich_assets_load_buffer(const char *name, const char *buf, size_t len,
                              struct enrich_assets **out, struct ts_err *err)
{
    *out = NULL;
    if (len > INGEST_ASSETS_MAX_FILE)
        return ts_err_set(err, TS_E_LIMIT, name, 0, 0, "inventory larger than %u bytes",
                          INGEST_ASSETS_MAX_FILE);
    struct ts_ystream *s = NULL;
    int rc = ts_yaml_load_buffer(name, buf, len, &s, err);
    if (rc)
        return rc;
    rc = from_stream(name, s, out, err);
    ts_yaml_free(s);
    return rc;
}

int enrich_assets_load(const char *path, struct enrich_assets **out, struct ts_err *err)
{
    *out = NULL;
    struct ts_ystream *s = NULL;
    int rc = ts_yaml_load_file(path, &s, err);
    if (rc)
        return rc;
    rc = from_stream(path, s, out, err);
    ts_yaml_free(s);
    return rc;
}

void enrich_assets_free(struct enrich_assets *a)
{
    if (!a)
        return;
    ts_arena_destroy(a->arena);
    free(a);
}

size_t enrich_assets_count(const struct enrich_assets *a)
{
    return a->n;
}

const struct enrich_asset *enrich_assets_at(const struct enrich_assets *a, size_t i)
{
    return i < a->n ? &a->v[i] : NULL;
}

/* ----------------------------------------------------------------- lookups */

uint32_t enrich_assets_tenant(const struct enrich_assets *a, const char *tenant)
{
    if (!a || !a->ntenants || !tenant || !*tenant)
        return SHARED;
    size_t len = strnlen(tenant, TS_TENANT_MAX + 1);
    if (len > TS_TENANT_MAX)
        return SHARED;
    const struct tenant_ent *e = tenant_slot(a, tenant, len);
    return e->name ? e->num : SHARED;
}

/* The exact name, else the first label, among the keys of one tenant. */
static const struct enrich_asset *host_in(const struct enrich_assets *a, uint32_t tenant,
                                          const char *buf, size_t len)
{
    const struct host_ent *e = host_slot(a->hosts, a->hcap, tenant, buf, len);
    if (e->key)
        return &a->v[e->asset];
    const char *dot = memchr(buf, '.', len);
    size_t slen = dot ? (size_t)(dot - buf) : len;
    if (!slen || !a->nshorts)
        return NULL;
    e = host_slot(a->shorts, a->scap, tenant, buf, slen);
    if (e->key && e->asset >= 0)
        return &a->v[e->asset];
    return NULL;
}

const struct enrich_asset *enrich_assets_by_host(const struct enrich_assets *a, uint32_t tenant,
                                                 const char *s, size_t len)
{
    char buf[HOST_MAX + 1];
    len = lower_host(s, len, buf);
    if (!len || !a->nhosts)
        return NULL;
    const struct enrich_asset *as = tenant != SHARED ? host_in(a, tenant, buf, len) : NULL;
    return as ? as : host_in(a, SHARED, buf, len);
}

/* Longest prefix among the ranges of one tenant. */
static const struct enrich_asset *ip_in(const struct enrich_assets *a, uint32_t tenant,
                                        const struct ts_ip *ip)
{
    const uint8_t *pl = ip->family == 6 ? a->plens6 : a->plens4;
    unsigned n = ip->family == 6 ? a->nplens6 : a->nplens4;
    for (unsigned i = 0; i < n; i++) {
        struct ts_ip m = *ip;
        enrich_ip_mask(&m, pl[i]);
        const struct net_ent *e = net_slot(a->nets, a->ncap, tenant, m.family, pl[i], m.addr);
        if (e->used)
            return &a->v[e->asset];
    }
    return NULL;
}

const struct enrich_asset *enrich_assets_by_ip(const struct enrich_assets *a, uint32_t tenant,
                                               const struct ts_ip *ip)
{
    if (!a->nnets)
        return NULL;
    const struct enrich_asset *as = tenant != SHARED ? ip_in(a, tenant, ip) : NULL;
    return as ? as : ip_in(a, SHARED, ip);
}

const struct enrich_asset *enrich_assets_by_host_exact(const struct enrich_assets *a,
                                                       uint32_t tenant, const char *s, size_t len)
{
    char buf[HOST_MAX + 1];
    len = lower_host(s, len, buf);
    if (!len || !a->nhosts)
        return NULL;
    const struct host_ent *e =
        tenant != SHARED ? host_slot(a->hosts, a->hcap, tenant, buf, len) : NULL;
    if (e && e->key)
        return &a->v[e->asset];
    e = host_slot(a->hosts, a->hcap, SHARED, buf, len);
    return e->key ? &a->v[e->asset] : NULL;
}

const struct enrich_asset *enrich_assets_by_value(const struct enrich_assets *a, uint32_t tenant,
                                                  const char *s, size_t len, bool exact)
{
    struct ts_ip ip;
    if (!a || !len)
        return NULL;
    if (!memchr(s, '/', len) && ts_ip_parse(s, len, &ip) == 0) {
        enrich_ip_unmap(&ip);
        return enrich_assets_by_ip(a, tenant, &ip);
    }
    return exact ? enrich_assets_by_host_exact(a, tenant, s, len)
                 : enrich_assets_by_host(a, tenant, s, len);
}
