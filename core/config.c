/* config.c - load and validate the tocsin run configuration, see config.h.
 *
 * The YAML tree (yaml.c) is walked once in document order, so the first error
 * reported is the first one in the file. Every error is TS_E_CONFIG with the
 * file:line:col of the offending node and what was expected, except I/O
 * (TS_E_IO), YAML syntax (TS_E_PARSE) and out of memory (TS_E_NOMEM). YAML the
 * loader refuses on purpose (merge keys, complex keys, alias bombs) is
 * reported as TS_E_CONFIG.
 *
 * Ownership: the ts_config owns every string and array in it (plain malloc);
 * ts_config_free releases them. Nothing is shared with the YAML tree, which is
 * freed before ts_config_load returns.
 *
 * Threads: reentrant; a loaded ts_config is read-only and may be shared.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "event.h"
#include "tz.h"
#include "tstime.h"
#include "yaml.h"
#include "yconf.h"

/* Hard caps: a configuration is small, anything larger is a mistake. */
#define CFG_MAX_TOPICS 256
#define CFG_MAX_TOPIC_TENANTS 1024
#define CFG_MAX_HOST_ZONES 1024
#define CFG_MAX_PROPS 256
#define CFG_MAX_RULE_PATHS 1024
#define CFG_MAX_STRING TS_YCONF_MAX_STRING
#define CFG_MAX_WHERE 96  /* "topics[12].dead_letter" and the like */

struct ctx {
    struct ts_yconf y; /* file, error, no arena: the config owns malloc'ed strings */
    struct ts_config *c;
};

/* This file's short names for core/yconf's context (one implementation:
 * core/yconf.c; these only pass the context and this file's caps). */
static int fail(struct ctx *x, const struct ts_ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *x, const struct ts_ynode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ts_yconf_vfail(&x->y, TS_E_CONFIG, n, fmt, ap);
    va_end(ap);
    return rc;
}
static int nomem(struct ctx *x) { return ts_yconf_nomem(&x->y); }
static const char *describe(const struct ts_ynode *n, char *buf, size_t len)
{
    return ts_yconf_describe(n, buf, len);
}
static const char *key_text(const struct ts_ynode *k, char *buf, size_t len)
{
    return ts_yconf_key_text(k, buf, len);
}
static int key_index(struct ctx *x, const struct ts_ynode *k, const char *where,
                     const char *const *keys, size_t nkeys, const struct ts_ynode **seen)
{
    return ts_yconf_key_index(&x->y, k, where, keys, nkeys, seen);
}
static int want_map(struct ctx *x, const struct ts_ynode *n, const char *where)
{
    return ts_yconf_want_map(&x->y, n, where);
}
static int get_str(struct ctx *x, const struct ts_ynode *n, const char *where, char **out)
{
    return ts_yconf_str(&x->y, n, where, CFG_MAX_STRING, out);
}
static int get_int(struct ctx *x, const struct ts_ynode *n, const char *where, long long lo,
                   long long hi, long long *out)
{
    return ts_yconf_int(&x->y, n, where, lo, hi, out);
}
static int get_duration(struct ctx *x, const struct ts_ynode *n, const char *where, int64_t *out)
{
    return ts_yconf_duration(&x->y, n, where, 0, out);
}

static int dup_str(struct ctx *x, const char *s, size_t len, char **out)
{
    char *p = malloc(len + 1);
    if (!p)
        return nomem(x);
    memcpy(p, s, len);
    p[len] = '\0';
    free(*out);
    *out = p;
    return 0;
}

/* A tenant id (core/event.h: ts_tenant_check), failing at the node. */
static int get_tenant(struct ctx *x, const struct ts_ynode *n, const char *where, char **out)
{
    int rc = get_str(x, n, where, out);
    const char *why = rc ? NULL : ts_tenant_check(*out, strlen(*out));
    if (why)
        return fail(x, n,
                             "%s: %s (got \"%.*s%s\"); use up to %d of A-Z a-z 0-9 . _ - : @",
                             where, why, 40, *out, strlen(*out) > 40 ? "..." : "",
                             TS_TENANT_MAX);
    return rc;
}

/* A time zone: "UTC", an offset, or an IANA name (core/tz.h); loaded here
 * so that an unknown name fails at its node. */
static int get_zone(struct ctx *x, const struct ts_ynode *n, const char *where,
                    struct ts_tz **out)
{
    char *spec = NULL, why[320];
    int rc = get_str(x, n, where, &spec);
    if (rc)
        return rc;
    if (*out)
        ts_tz_free(*out);
    *out = NULL;
    rc = ts_tz_load(spec, out, why, sizeof(why));
    free(spec);
    if (rc == TS_E_NOMEM)
        return nomem(x);
    if (rc)
        return fail(x, n, "%s: %s", where, why);
    return 0;
}

/* One of allowed[], kept as its name. */
static int get_enum(struct ctx *x, const struct ts_ynode *n, const char *where,
                    const char *const *allowed, size_t nallowed, char **out)
{
    size_t i;
    int rc = ts_yconf_enum(&x->y, n, where, allowed, nallowed, &i);
    return rc ? rc : dup_str(x, allowed[i], strlen(allowed[i]), out);
}

/* ---- kafka ---------------------------------------------------------------- */

static int load_props(struct ctx *x, const struct ts_ynode *n)
{
    struct ts_config *c = x->c;
    char d[64], kt[80], where[CFG_MAX_WHERE + 80];
    if (ts_yaml_is_null(n))
        return 0;
    int rc = want_map(x, n, "kafka.properties");
    if (rc)
        return rc;
    if (n->npairs > CFG_MAX_PROPS)
        return fail(x, n, "kafka.properties has more than %d entries", CFG_MAX_PROPS);
    c->kafka.props = calloc(n->npairs ? n->npairs : 1, sizeof(*c->kafka.props));
    if (!c->kafka.props)
        return nomem(x);
    for (size_t i = 0; i < n->npairs; i++) {
        const struct ts_ynode *k = n->pairs[i].key, *v = n->pairs[i].val;
        key_text(k, kt, sizeof(kt));
        if (k->len == 0 || k->len > 255 || memchr(k->str, '=', k->len) ||
            memchr(k->str, '\0', k->len))
            return fail(x, k, "kafka.properties key \"%s\" is not a librdkafka property name", kt);
        for (size_t j = 0; j < i; j++)
            if (n->pairs[j].key->len == k->len && memcmp(n->pairs[j].key->str, k->str, k->len) == 0)
                return fail(x, k, "duplicate key \"%s\" in kafka.properties (first at line %u)", kt,
                            n->pairs[j].key->line);
        snprintf(where, sizeof(where), "kafka.properties.%s", kt);
        if (v->kind != TS_Y_SCALAR || ts_yaml_is_null(v))
            return fail(x, v, "%s must be a string, number or boolean, got %s", where,
                        describe(v, d, sizeof(d)));
        /* ${env:...} / ${file:...}: sasl.password and ssl.key.password are
         * the usual secrets here */
        char *sec = NULL;
        size_t vlen = v->len;
        rc = ts_yconf_resolve(&x->y, v, where, CFG_MAX_STRING, &sec, &vlen);
        if (rc)
            return rc;
        const char *vs = sec ? sec : v->str;
        if (!sec)
            vlen = v->len;
        if (vlen > CFG_MAX_STRING || memchr(vs, '\0', vlen)) {
            ts_yconf_resolved_free(sec, vlen);
            return fail(x, v, "%s must be at most %d bytes without NUL characters", where,
                        CFG_MAX_STRING);
        }
        char *p = malloc(k->len + 1 + vlen + 1);
        if (!p) {
            ts_yconf_resolved_free(sec, vlen);
            return nomem(x);
        }
        memcpy(p, k->str, k->len);
        p[k->len] = '=';
        memcpy(p + k->len + 1, vs, vlen);
        p[k->len + 1 + vlen] = '\0';
        ts_yconf_resolved_free(sec, vlen);
        c->kafka.props[c->kafka.nprops++] = p;
    }
    return 0;
}

static int load_kafka(struct ctx *x, const struct ts_ynode *n)
{
    static const char *const keys[] = {"brokers",       "group_id",         "workers",
                                       "batch_size",    "batch_timeout_ms", "queue_batches",
                                       "properties",    "commit_batches",   "commit_interval_ms"};
    const struct ts_ynode *seen[TS_ARRAY_LEN(keys)] = {0};
    struct ts_config *c = x->c;
    if (ts_yaml_is_null(n))
        return 0;
    int rc = want_map(x, n, "kafka");
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        const struct ts_ynode *v = n->pairs[i].val;
        long long iv = 0;
        int idx = key_index(x, n->pairs[i].key, "kafka", keys, TS_ARRAY_LEN(keys), seen);
        if (idx < 0)
            return idx;
        switch (idx) {
        case 0: rc = get_str(x, v, "kafka.brokers", &c->kafka.brokers); break;
        case 1: rc = get_str(x, v, "kafka.group_id", &c->kafka.group_id); break;
        case 2:
            rc = get_int(x, v, "kafka.workers", 1, 64, &iv);
            c->kafka.workers = (int)iv;
            break;
        case 3:
            rc = get_int(x, v, "kafka.batch_size", 1, 100000, &iv);
            c->kafka.batch_size = (uint32_t)iv;
            break;
        case 4:
            rc = get_int(x, v, "kafka.batch_timeout_ms", 1, 60000, &iv);
            c->kafka.batch_timeout_ms = (int)iv;
            break;
        case 5:
            rc = get_int(x, v, "kafka.queue_batches", 1, 1024, &iv);
            c->kafka.queue_batches = (uint32_t)iv;
            break;
        case 6: rc = load_props(x, v); break;
        case 7:
            rc = get_int(x, v, "kafka.commit_batches", 1, 1000, &iv);
            c->kafka.commit_batches = (uint32_t)iv;
            break;
        default:
            rc = get_int(x, v, "kafka.commit_interval_ms", 1, 60000, &iv);
            c->kafka.commit_interval_ms = (int)iv;
            break;
        }
    }
    return rc;
}

/* ---- topics --------------------------------------------------------------- */

/* topics[i].tenants: the tenants a message's "tenant" header may name on
 * this topic (a list of tenant ids), or "*" to take the header as the
 * producer says (only for topics that trusted producers alone can write). */
static int load_topic_tenants(struct ctx *x, const struct ts_ynode *v, const char *field,
                              struct ts_config_topic *t)
{
    char d[64], where[CFG_MAX_WHERE + 64];
    if (v->kind == TS_Y_SCALAR && v->len == 1 && v->str[0] == '*') {
        t->any_tenant = true;
        return 0;
    }
    if (v->kind != TS_Y_SEQ)
        return fail(x, v, "%s must be a list of tenant ids or \"*\", got %s", field,
                    describe(v, d, sizeof(d)));
    if (v->nitems > CFG_MAX_TOPIC_TENANTS)
        return fail(x, v, "%s has more than %d entries", field, CFG_MAX_TOPIC_TENANTS);
    if (v->nitems == 0)
        return 0;
    t->tenants = calloc(v->nitems, sizeof(*t->tenants));
    if (!t->tenants)
        return nomem(x);
    for (size_t i = 0; i < v->nitems; i++) {
        snprintf(where, sizeof(where), "%s[%zu]", field, i);
        t->ntenants++;
        int rc = get_tenant(x, v->items[i], where, &t->tenants[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int load_topic(struct ctx *x, const struct ts_ynode *n, size_t idx,
                      struct ts_config_topic *t)
{
    static const char *const keys[] = {"name",    "format",  "tenant",
                                       "dead_letter", "tenants", "timezone"};
    static const char *const formats[] = {"auto", "rfc3164", "rfc5424", "json"};
    const struct ts_ynode *seen[TS_ARRAY_LEN(keys)] = {0};
    char where[CFG_MAX_WHERE], field[CFG_MAX_WHERE + 16];
    snprintf(where, sizeof(where), "topics[%zu]", idx);
    t->line = n->line;
    t->col = n->col;
    int rc = want_map(x, n, where);
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        const struct ts_ynode *v = n->pairs[i].val;
        int k = key_index(x, n->pairs[i].key, where, keys, TS_ARRAY_LEN(keys), seen);
        if (k < 0)
            return k;
        snprintf(field, sizeof(field), "%s.%s", where, keys[k]);
        switch (k) {
        case 0: rc = get_str(x, v, field, &t->name); break;
        case 1: rc = get_enum(x, v, field, formats, TS_ARRAY_LEN(formats), &t->format); break;
        case 2: rc = get_tenant(x, v, field, &t->tenant); break;
        case 3: rc = get_str(x, v, field, &t->dead_letter); break;
        case 4: rc = load_topic_tenants(x, v, field, t); break;
        default: rc = get_zone(x, v, field, &t->tz); break;
        }
    }
    if (rc)
        return rc;
    if (!t->name)
        return fail(x, n, "%s has no name (every topic needs \"name\")", where);
    if (!t->format)
        return dup_str(x, "auto", 4, &t->format);
    return 0;
}

static int load_topics(struct ctx *x, const struct ts_ynode *n)
{
    struct ts_config *c = x->c;
    char d[64];
    if (ts_yaml_is_null(n))
        return 0;
    if (n->kind != TS_Y_SEQ)
        return fail(x, n, "topics must be a list of topics, got %s", describe(n, d, sizeof(d)));
    if (n->nitems > CFG_MAX_TOPICS)
        return fail(x, n, "topics has more than %d entries", CFG_MAX_TOPICS);
    if (n->nitems == 0)
        return 0;
    c->topics = calloc(n->nitems, sizeof(*c->topics));
    if (!c->topics)
        return nomem(x);
    for (size_t i = 0; i < n->nitems; i++) {
        struct ts_config_topic *t = &c->topics[c->ntopics++];
        int rc = load_topic(x, n->items[i], i, t);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->topics[j].name, t->name) == 0) {
                const struct ts_ynode *nn = ts_yaml_get(n->items[i], "name");
                return fail(x, nn, "topics[%zu].name \"%s\" is already used by topics[%zu]", i,
                            t->name, j);
            }
        }
    }
    /* a dead-letter topic that is also consumed would feed failures back in */
    for (size_t i = 0; i < c->ntopics; i++) {
        const char *dl = c->topics[i].dead_letter;
        if (!dl)
            continue;
        for (size_t j = 0; j < c->ntopics; j++) {
            if (strcmp(dl, c->topics[j].name) == 0) {
                const struct ts_ynode *dn = ts_yaml_get(n->items[i], "dead_letter");
                return fail(x, dn,
                            "topics[%zu].dead_letter \"%s\" is consumed as topics[%zu]; "
                            "failed events would loop",
                            i, dl, j);
            }
        }
    }
    return 0;
}

/* ---- ingest, paths, log --------------------------------------------------- */


/* ingest.hosts: host name pattern (glob, case-insensitive) -> zone, for
 * senders whose clock zone differs from the topic's or the default. */
static int load_host_zones(struct ctx *x, const struct ts_ynode *n)
{
    struct ts_config *c = x->c;
    char where[CFG_MAX_WHERE + 64];
    int rc = want_map(x, n, "ingest.hosts");
    if (rc)
        return rc;
    if (n->npairs > CFG_MAX_HOST_ZONES)
        return fail(x, n, "ingest.hosts has more than %d entries", CFG_MAX_HOST_ZONES);
    if (n->npairs == 0)
        return 0;
    c->ingest.hosts = calloc(n->npairs, sizeof(*c->ingest.hosts));
    if (!c->ingest.hosts)
        return nomem(x);
    for (size_t i = 0; i < n->npairs && !rc; i++) {
        struct ts_config_host_zone *h = &c->ingest.hosts[i];
        c->ingest.nhosts++;
        rc = get_str(x, n->pairs[i].key, "an ingest.hosts pattern", &h->pattern);
        snprintf(where, sizeof(where), "ingest.hosts.%.60s", h->pattern ? h->pattern : "?");
        rc = rc ? rc : get_zone(x, n->pairs[i].val, where, &h->tz);
    }
    return rc;
}

static int load_ingest(struct ctx *x, const struct ts_ynode *n)
{
    static const char *const keys[] = {"max_message_bytes", "timezone", "default_tenant",
                                       "max_future", "hosts", "silent_after"};
    const struct ts_ynode *seen[TS_ARRAY_LEN(keys)] = {0};
    struct ts_config *c = x->c;
    if (ts_yaml_is_null(n))
        return 0;
    int rc = want_map(x, n, "ingest");
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        const struct ts_ynode *v = n->pairs[i].val;
        long long iv = 0;
        int idx = key_index(x, n->pairs[i].key, "ingest", keys, TS_ARRAY_LEN(keys), seen);
        if (idx < 0)
            return idx;
        switch (idx) {
        case 0:
            rc = get_int(x, v, "ingest.max_message_bytes", 1, 67108864, &iv);
            c->ingest.max_message_bytes = (size_t)iv;
            break;
        case 1:
            rc = get_zone(x, v, "ingest.timezone", &c->ingest.tz);
            if (!rc) /* the offset for code that takes one: today's */
                c->ingest.tz_offset_sec =
                    ts_tz_offset_at(c->ingest.tz, ts_now_ns() / TS_NS_PER_SEC);
            break;
        case 2: rc = get_tenant(x, v, "ingest.default_tenant", &c->ingest.default_tenant); break;
        case 4: rc = load_host_zones(x, v); break;
        case 5: rc = get_duration(x, v, "ingest.silent_after", &c->ingest.silent_after_ns); break;
        default:
            if (v->kind == TS_Y_SCALAR && v->len == 3 && memcmp(v->str, "off", 3) == 0)
                c->ingest.max_future_ns = -1;
            else if ((rc = get_duration(x, v, "ingest.max_future", &c->ingest.max_future_ns)) ==
                         0 && c->ingest.max_future_ns == 0)
                rc = fail(x, v, "ingest.max_future must be a duration above 0, or off");
            break;
        }
    }
    return rc;
}

/* A string or a list of strings (paths, field names) into *out / *count. */
static int load_str_list(struct ctx *x, const struct ts_ynode *n, const char *name, char ***out,
                         size_t *count)
{
    if (*out)
        return fail(x, n, "%s is given twice", name);
    return ts_yconf_str_list(&x->y, n, name, CFG_MAX_RULE_PATHS, out, count);
}

static int load_rules(struct ctx *x, const struct ts_ynode *n)
{
    return load_str_list(x, n, "paths.rules", &x->c->paths.rules, &x->c->paths.nrules);
}

static int load_normalise(struct ctx *x, const struct ts_ynode *n)
{
    static const char *const keys[] = {"profiles", "decoders"};
    const struct ts_ynode *seen[TS_ARRAY_LEN(keys)] = {0};
    struct ts_config *c = x->c;
    if (ts_yaml_is_null(n))
        return 0;
    int rc = want_map(x, n, "normalise");
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        const struct ts_ynode *v = n->pairs[i].val;
        int idx = key_index(x, n->pairs[i].key, "normalise", keys, TS_ARRAY_LEN(keys), seen);
        if (idx < 0)
            return idx;
        if (idx == 0)
            rc = load_str_list(x, v, "normalise.profiles", &c->normalise.profiles,
                               &c->normalise.nprofiles);
        else
            rc = load_str_list(x, v, "normalise.decoders", &c->normalise.decoders,
                               &c->normalise.ndecoders);
    }
    return rc;
}

static int load_enrich(struct ctx *x, const struct ts_ynode *n)
{
    static const char *const keys[] = {"geoip_city", "geoip_asn", "ip_fields", "assets",
                                       "intel_db"};
    const struct ts_ynode *seen[TS_ARRAY_LEN(keys)] = {0};
    struct ts_config *c = x->c;
    if (ts_yaml_is_null(n))
        return 0;
    int rc = want_map(x, n, "enrich");
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        const struct ts_ynode *v = n->pairs[i].val;
        int idx = key_index(x, n->pairs[i].key, "enrich", keys, TS_ARRAY_LEN(keys), seen);
        if (idx < 0)
            return idx;
        switch (idx) {
        case 0: rc = get_str(x, v, "enrich.geoip_city", &c->enrich.geoip_city); break;
        case 1: rc = get_str(x, v, "enrich.geoip_asn", &c->enrich.geoip_asn); break;
        case 2:
            rc = load_str_list(x, v, "enrich.ip_fields", &c->enrich.ip_fields,
                               &c->enrich.nip_fields);
            break;
        case 3: rc = get_str(x, v, "enrich.assets", &c->enrich.assets); break;
        default: rc = get_str(x, v, "enrich.intel_db", &c->enrich.intel_db); break;
        }
    }
    return rc;
}

static int load_aliases(struct ctx *x, const struct ts_ynode *n)
{
    struct ts_config *c = x->c;
    char where[CFG_MAX_WHERE];
    if (ts_yaml_is_null(n))
        return 0;
    int rc = want_map(x, n, "rules.field_aliases");
    if (rc)
        return rc;
    if (n->npairs > CFG_MAX_RULE_PATHS)
        return fail(x, n, "rules.field_aliases has more than %d entries", CFG_MAX_RULE_PATHS);
    c->rules.alias_from = calloc(n->npairs + 1, sizeof(char *));
    c->rules.alias_to = calloc(n->npairs + 1, sizeof(char *));
    if (!c->rules.alias_from || !c->rules.alias_to)
        return nomem(x);
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        c->rules.naliases++;
        rc = get_str(x, n->pairs[i].key, "a rules.field_aliases key", &c->rules.alias_from[i]);
        snprintf(where, sizeof(where), "rules.field_aliases.%s",
                 c->rules.alias_from[i] ? c->rules.alias_from[i] : "?");
        if (!rc)
            rc = get_str(x, n->pairs[i].val, where, &c->rules.alias_to[i]);
    }
    return rc;
}

static int load_placeholders(struct ctx *x, const struct ts_ynode *n)
{
    struct ts_config *c = x->c;
    char where[CFG_MAX_WHERE];
    if (ts_yaml_is_null(n))
        return 0;
    int rc = want_map(x, n, "rules.placeholders");
    if (rc)
        return rc;
    if (n->npairs > CFG_MAX_RULE_PATHS)
        return fail(x, n, "rules.placeholders has more than %d entries", CFG_MAX_RULE_PATHS);
    c->rules.placeholders = calloc(n->npairs + 1, sizeof(*c->rules.placeholders));
    if (!c->rules.placeholders)
        return nomem(x);
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        struct ts_config_placeholder *p = &c->rules.placeholders[i];
        c->rules.nplaceholders++;
        rc = get_str(x, n->pairs[i].key, "a rules.placeholders key", &p->name);
        snprintf(where, sizeof(where), "rules.placeholders.%s", p->name ? p->name : "?");
        if (!rc)
            rc = load_str_list(x, n->pairs[i].val, where, &p->values, &p->nvalues);
    }
    return rc;
}

static int load_group(struct ctx *x, const struct ts_ynode *n, size_t idx)
{
    static const char *const keys[] = {"rule", "by", "window"};
    const struct ts_ynode *seen[TS_ARRAY_LEN(keys)] = {0};
    char where[CFG_MAX_WHERE];
    struct ts_config_group *g = &x->c->correlate.groups[idx];
    snprintf(where, sizeof(where), "correlate.group[%zu]", idx);
    int rc = want_map(x, n, where);
    if (rc)
        return rc;
    g->line = n->line;
    g->col = n->col;
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        const struct ts_ynode *v = n->pairs[i].val;
        int k = key_index(x, n->pairs[i].key, where, keys, TS_ARRAY_LEN(keys), seen);
        if (k < 0)
            return k;
        char w2[CFG_MAX_WHERE + 16];
        snprintf(w2, sizeof(w2), "%s.%s", where, keys[k]);
        if (k == 0)
            rc = get_str(x, v, w2, &g->rule);
        else if (k == 1)
            rc = load_str_list(x, v, w2, &g->by, &g->nby);
        else
            rc = get_duration(x, v, w2, &g->window_ns);
    }
    if (!rc && !g->rule)
        rc = fail(x, n, "%s needs a rule (a detection rule id or name)", where);
    if (!rc && g->window_ns <= 0)
        rc = fail(x, n, "%s needs a window (e.g. 1h)", where);
    return rc;
}

static int get_inc_mode(struct ctx *x, const struct ts_ynode *n, const char *where,
                        uint8_t *out)
{
    static const char *const modes[] = {"off", "link", "incident"};
    char *m = NULL;
    int rc = get_enum(x, n, where, modes, TS_ARRAY_LEN(modes), &m);
    if (!rc)
        *out = (uint8_t)(strcmp(m, "off") == 0    ? TS_CFG_INC_OFF
                         : strcmp(m, "link") == 0 ? TS_CFG_INC_LINK
                                                  : TS_CFG_INC_OPEN);
    free(m);
    return rc;
}

#define CFG_MAX_ENTITIES 8 /* correlate.h: CORR_MAX_ENTITIES */
#define CFG_MAX_ENTITY_FIELDS 8

/* entities: a list of field names (each its own entity), or a mapping
 * entity -> field name or list of field names. */
static int load_entities(struct ctx *x, const struct ts_ynode *n)
{
    char d[64], where[CFG_MAX_WHERE];
    struct ts_config *c = x->c;
    bool seq = n->kind == TS_Y_SEQ;
    if (!seq && n->kind != TS_Y_MAP)
        return fail(x, n, "correlate.incidents.entities must be a list of field names or a "
                    "mapping entity -> fields, got %s", describe(n, d, sizeof(d)));
    size_t cnt = seq ? n->nitems : n->npairs;
    if (cnt == 0)
        return fail(x, n, "correlate.incidents.entities must not be empty (set "
                    "levels to off to link nothing)");
    if (cnt > CFG_MAX_ENTITIES)
        return fail(x, n, "correlate.incidents.entities has more than %d entries",
                    CFG_MAX_ENTITIES);
    c->correlate.incidents.entities = calloc(cnt, sizeof(*c->correlate.incidents.entities));
    if (!c->correlate.incidents.entities)
        return nomem(x);
    int rc = 0;
    for (size_t i = 0; !rc && i < cnt; i++) {
        struct ts_config_entity *e = &c->correlate.incidents.entities[i];
        c->correlate.incidents.nentities++;
        snprintf(where, sizeof(where), "correlate.incidents.entities[%zu]", i);
        rc = get_str(x, seq ? n->items[i] : n->pairs[i].key, where, &e->name);
        if (rc || seq)
            continue;
        snprintf(where, sizeof(where), "correlate.incidents.entities.%s", e->name);
        rc = load_str_list(x, n->pairs[i].val, where, &e->fields, &e->nfields);
        if (!rc && e->nfields > CFG_MAX_ENTITY_FIELDS)
            rc = fail(x, n->pairs[i].val, "%s has more than %d fields", where,
                      CFG_MAX_ENTITY_FIELDS);
    }
    return rc;
}

static int load_incidents(struct ctx *x, const struct ts_ynode *n)
{
    static const char *const keys[] = {"levels", "rules", "window", "entities"};
    static const char *const levels[] = {"none", "informational", "low", "medium", "high",
                                         "critical"};
    const struct ts_ynode *seen[TS_ARRAY_LEN(keys)] = {0};
    char where[CFG_MAX_WHERE];
    struct ts_config *c = x->c;
    if (ts_yaml_is_null(n))
        return 0;
    int rc = want_map(x, n, "correlate.incidents");
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        const struct ts_ynode *v = n->pairs[i].val;
        int k = key_index(x, n->pairs[i].key, "correlate.incidents", keys, TS_ARRAY_LEN(keys),
                          seen);
        if (k < 0)
            return k;
        if (k == 0) {
            const struct ts_ynode *seenl[TS_ARRAY_LEN(levels)] = {0};
            rc = want_map(x, v, "correlate.incidents.levels");
            for (size_t j = 0; !rc && j < v->npairs; j++) {
                int l = key_index(x, v->pairs[j].key, "correlate.incidents.levels", levels,
                                  TS_ARRAY_LEN(levels), seenl);
                if (l < 0)
                    return l;
                snprintf(where, sizeof(where), "correlate.incidents.levels.%s", levels[l]);
                rc = get_inc_mode(x, v->pairs[j].val, where, &c->correlate.incidents.levels[l]);
            }
        } else if (k == 1) {
            rc = want_map(x, v, "correlate.incidents.rules");
            if (!rc && v->npairs > CFG_MAX_RULE_PATHS * 64)
                rc = fail(x, v, "correlate.incidents.rules has more than %d entries",
                          CFG_MAX_RULE_PATHS * 64);
            if (!rc && v->npairs &&
                !(c->correlate.incidents.rules = calloc(v->npairs,
                                                        sizeof(*c->correlate.incidents.rules))))
                rc = nomem(x);
            for (size_t j = 0; !rc && j < v->npairs; j++) {
                struct ts_config_rule_mode *m = &c->correlate.incidents.rules[j];
                c->correlate.incidents.nrules++;
                rc = get_str(x, v->pairs[j].key, "a correlate.incidents.rules key", &m->rule);
                snprintf(where, sizeof(where), "correlate.incidents.rules.%s",
                         m->rule ? m->rule : "?");
                rc = rc ? rc : get_inc_mode(x, v->pairs[j].val, where, &m->mode);
            }
        } else if (k == 2) {
            rc = get_duration(x, v, "correlate.incidents.window",
                              &c->correlate.incidents.window_ns);
            if (!rc && c->correlate.incidents.window_ns <= 0)
                rc = fail(x, v, "correlate.incidents.window must be more than 0");
        } else {
            rc = load_entities(x, v);
        }
    }
    return rc;
}

static int load_correlate(struct ctx *x, const struct ts_ynode *n)
{
    static const char *const keys[] = {"lateness", "group",      "incidents", "distributed",
                                       "topic",    "partitions", "node"};
    const struct ts_ynode *seen[TS_ARRAY_LEN(keys)] = {0};
    char d[64];
    struct ts_config *c = x->c;
    if (ts_yaml_is_null(n))
        return 0;
    int rc = want_map(x, n, "correlate");
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        const struct ts_ynode *v = n->pairs[i].val;
        int k = key_index(x, n->pairs[i].key, "correlate", keys, TS_ARRAY_LEN(keys), seen);
        if (k < 0)
            return k;
        if (k == 0) {
            rc = get_duration(x, v, "correlate.lateness", &c->correlate.lateness_ns);
            continue;
        }
        if (k == 2) {
            rc = load_incidents(x, v);
            continue;
        }
        if (k >= 3) { /* the re-keyed mode (docs/scale.md) */
            long long iv = 0;
            switch (k) {
            case 3:
                rc = ts_yconf_bool(&x->y, v, "correlate.distributed", &c->correlate.distributed);
                c->correlate.dist_line = v->line;
                c->correlate.dist_col = v->col;
                break;
            case 4: rc = get_str(x, v, "correlate.topic", &c->correlate.topic); break;
            case 5:
                rc = get_int(x, v, "correlate.partitions", 1, 10000, &iv);
                c->correlate.partitions = (int)iv;
                break;
            default:
                rc = get_str(x, v, "correlate.node", &c->correlate.node);
                if (!rc && (!c->correlate.node[0] || strlen(c->correlate.node) > 128 ||
                            strspn(c->correlate.node, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
                                                      "nopqrstuvwxyz0123456789._-") !=
                                strlen(c->correlate.node)))
                    rc = fail(x, v, "correlate.node must be 1..128 characters of A-Z a-z 0-9 "
                                    ". _ - (it names this process's Kafka transactions)");
                break;
            }
            continue;
        }
        if (v->kind != TS_Y_SEQ)
            return fail(x, v, "correlate.group must be a list, got %s", describe(v, d, sizeof(d)));
        if (v->nitems > CFG_MAX_RULE_PATHS)
            return fail(x, v, "correlate.group has more than %d entries", CFG_MAX_RULE_PATHS);
        c->correlate.groups = calloc(v->nitems + 1, sizeof(*c->correlate.groups));
        if (!c->correlate.groups)
            return nomem(x);
        for (size_t j = 0; !rc && j < v->nitems; j++) {
            c->correlate.ngroups++;
            rc = load_group(x, v->items[j], j);
        }
    }
    return rc;
}

static int load_retention(struct ctx *x, const struct ts_ynode *n)
{
    static const char *const keys[] = {"interval", "evidence", "resolved", "outbox", "tenants"};
    static const char *const tkeys[] = {"evidence", "resolved"};
    const struct ts_ynode *seen[TS_ARRAY_LEN(keys)] = {0};
    char where[CFG_MAX_WHERE];
    struct ts_config *c = x->c;
    if (ts_yaml_is_null(n))
        return 0;
    int rc = want_map(x, n, "retention");
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        const struct ts_ynode *v = n->pairs[i].val;
        int k = key_index(x, n->pairs[i].key, "retention", keys, TS_ARRAY_LEN(keys), seen);
        if (k < 0)
            return k;
        switch (k) {
        case 0: rc = get_duration(x, v, "retention.interval", &c->retention.interval_ns); break;
        case 1: rc = get_duration(x, v, "retention.evidence", &c->retention.evidence_ns); break;
        case 2: rc = get_duration(x, v, "retention.resolved", &c->retention.resolved_ns); break;
        case 3: rc = get_duration(x, v, "retention.outbox", &c->retention.outbox_ns); break;
        default:
            if ((rc = want_map(x, v, "retention.tenants")) != 0)
                break;
            if (v->npairs > CFG_MAX_RULE_PATHS)
                return fail(x, v, "retention.tenants has more than %d entries",
                            CFG_MAX_RULE_PATHS);
            c->retention.tenants = calloc(v->npairs + 1, sizeof(*c->retention.tenants));
            if (!c->retention.tenants)
                return nomem(x);
            for (size_t j = 0; !rc && j < v->npairs; j++) {
                struct ts_config_retention *t = &c->retention.tenants[j];
                c->retention.ntenants++;
                rc = get_str(x, v->pairs[j].key, "a retention.tenants key", &t->tenant);
                if (rc)
                    break;
                snprintf(where, sizeof(where), "retention.tenants.%s", t->tenant);
                const struct ts_ynode *tv = v->pairs[j].val;
                const struct ts_ynode *tseen[TS_ARRAY_LEN(tkeys)] = {0};
                if ((rc = want_map(x, tv, where)) != 0)
                    break;
                for (size_t m = 0; !rc && m < tv->npairs; m++) {
                    int tk = key_index(x, tv->pairs[m].key, where, tkeys, TS_ARRAY_LEN(tkeys),
                                       tseen);
                    if (tk < 0)
                        return tk;
                    rc = get_duration(x, tv->pairs[m].val, where,
                                      tk == 0 ? &t->evidence_ns : &t->resolved_ns);
                }
            }
            break;
        }
    }
    return rc;
}

static int load_escalate(struct ctx *x, const struct ts_ynode *n)
{
    static const char *const keys[] = {"regime", "regimes_dir", "taxonomy", "policy",
                                       "org",    "assets",      "channels", "summary"};
    const struct ts_ynode *seen[TS_ARRAY_LEN(keys)] = {0};
    struct ts_config *c = x->c;
    char **dst[] = {&c->escalate.regime, &c->escalate.regimes_dir, &c->escalate.taxonomy,
                    &c->escalate.policy, &c->escalate.org,         &c->escalate.assets,
                    &c->escalate.channels, &c->escalate.summary};
    c->escalate.enabled = true;
    if (ts_yaml_is_null(n))
        return 0;
    int rc = want_map(x, n, "escalate");
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        char where[CFG_MAX_WHERE];
        int k = key_index(x, n->pairs[i].key, "escalate", keys, TS_ARRAY_LEN(keys), seen);
        if (k < 0)
            return k;
        snprintf(where, sizeof(where), "escalate.%s", keys[k]);
        rc = get_str(x, n->pairs[i].val, where, dst[k]);
        if (!rc && dst[k] == &c->escalate.summary && strcmp(c->escalate.summary, "day") &&
            strcmp(c->escalate.summary, "week") && strcmp(c->escalate.summary, "month"))
            rc = fail(x, n->pairs[i].val,
                          "escalate.summary must be day, week or month (the monitoring "
                          "report sent once per period), not \"%s\"",
                          c->escalate.summary);
    }
    return rc;
}

static int load_rules_section(struct ctx *x, const struct ts_ynode *n)
{
    static const char *const keys[] = {"field_aliases", "placeholders", "skip_invalid"};
    const struct ts_ynode *seen[TS_ARRAY_LEN(keys)] = {0};
    if (ts_yaml_is_null(n))
        return 0;
    int rc = want_map(x, n, "rules");
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        const struct ts_ynode *v = n->pairs[i].val;
        int idx = key_index(x, n->pairs[i].key, "rules", keys, TS_ARRAY_LEN(keys), seen);
        if (idx < 0)
            return idx;
        if (idx == 2) {
            bool t = v->kind == TS_Y_SCALAR && strcmp(v->str, "true") == 0;
            if (!t && (v->kind != TS_Y_SCALAR || strcmp(v->str, "false") != 0))
                return fail(x, v, "rules.skip_invalid must be true or false");
            x->c->rules.skip_invalid = t;
            continue;
        }
        rc = idx == 0 ? load_aliases(x, v) : load_placeholders(x, v);
    }
    return rc;
}

static int load_paths(struct ctx *x, const struct ts_ynode *n)
{
    static const char *const keys[] = {"data_dir", "rules", "dead_letter_file"};
    const struct ts_ynode *seen[TS_ARRAY_LEN(keys)] = {0};
    struct ts_config *c = x->c;
    if (ts_yaml_is_null(n))
        return 0;
    int rc = want_map(x, n, "paths");
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        const struct ts_ynode *v = n->pairs[i].val;
        int idx = key_index(x, n->pairs[i].key, "paths", keys, TS_ARRAY_LEN(keys), seen);
        if (idx < 0)
            return idx;
        switch (idx) {
        case 0: rc = get_str(x, v, "paths.data_dir", &c->paths.data_dir); break;
        case 1: rc = load_rules(x, v); break;
        default: rc = get_str(x, v, "paths.dead_letter_file", &c->paths.dead_letter_file); break;
        }
    }
    return rc;
}

static int load_log(struct ctx *x, const struct ts_ynode *n)
{
    static const char *const keys[] = {"level"};
    static const char *const levels[] = {"error", "warning", "info", "debug"};
    const struct ts_ynode *seen[TS_ARRAY_LEN(keys)] = {0};
    if (ts_yaml_is_null(n))
        return 0;
    int rc = want_map(x, n, "log");
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        int idx = key_index(x, n->pairs[i].key, "log", keys, TS_ARRAY_LEN(keys), seen);
        if (idx < 0)
            return idx;
        rc = get_enum(x, n->pairs[i].val, "log.level", levels, TS_ARRAY_LEN(levels),
                      &x->c->log.level);
    }
    return rc;
}

/* ---- http ----------------------------------------------------------------- */

/* "HOST:PORT" or "[IPv6]:PORT", port 0..65535 (0: any free port). */
static int check_listen(struct ctx *x, const struct ts_ynode *n, const char *v)
{
    const char *colon = strrchr(v, ':');
    bool ok = colon && colon > v && colon[1] != '\0' && strlen(colon + 1) <= 5;
    long port = 0;
    for (const char *p = colon ? colon + 1 : ""; ok && *p; p++) {
        if (*p < '0' || *p > '9')
            ok = false;
        else
            port = port * 10 + (*p - '0');
    }
    if (ok && v[0] == '[' && colon[-1] != ']')
        ok = false;
    if (!ok || port > 65535)
        return fail(x, n, "http.listen must be HOST:PORT or [IPv6]:PORT with a port from 0 to "
                          "65535 (0: any free port), got \"%.80s\"", v);
    return 0;
}

static int load_http(struct ctx *x, const struct ts_ynode *n)
{
    static const char *const keys[] = {"listen", "tls_cert", "tls_key",      "tokens",
                                       "rate",   "body_max", "ready_max_lag"};
    const struct ts_ynode *seen[TS_ARRAY_LEN(keys)] = {0};
    struct ts_config *c = x->c;
    c->http.enabled = true;
    if (ts_yaml_is_null(n))
        return fail(x, n, "http needs at least listen (HOST:PORT)");
    int rc = want_map(x, n, "http");
    for (size_t i = 0; !rc && i < n->npairs; i++) {
        const struct ts_ynode *v = n->pairs[i].val;
        int k = key_index(x, n->pairs[i].key, "http", keys, TS_ARRAY_LEN(keys), seen);
        if (k < 0)
            return k;
        long long ll = 0;
        switch (k) {
        case 0:
            rc = get_str(x, v, "http.listen", &c->http.listen);
            rc = rc ? rc : check_listen(x, v, c->http.listen);
            break;
        case 1: rc = get_str(x, v, "http.tls_cert", &c->http.tls_cert); break;
        case 2: rc = get_str(x, v, "http.tls_key", &c->http.tls_key); break;
        case 3: rc = get_str(x, v, "http.tokens", &c->http.tokens); break;
        case 4:
            rc = get_int(x, v, "http.rate", 0, 1000000, &ll);
            c->http.rate = ll;
            break;
        case 5:
            rc = get_int(x, v, "http.body_max", 1, 1LL << 30, &ll);
            c->http.body_max = (size_t)ll;
            break;
        default:
            rc = get_int(x, v, "http.ready_max_lag", 0, 1LL << 62, &ll);
            c->http.ready_max_lag = ll;
            break;
        }
    }
    if (rc)
        return rc;
    if (!c->http.listen)
        return fail(x, n, "http.listen is required (HOST:PORT, e.g. 127.0.0.1:8080)");
    if (!c->http.tls_cert != !c->http.tls_key)
        return fail(x, seen[1] ? seen[1] : seen[2],
                    "http.tls_cert and http.tls_key go together (both PEM files, or neither)");
    return 0;
}

/* ---- document ------------------------------------------------------------- */

static int load_root(struct ctx *x, const struct ts_ystream *s)
{
    static const char *const keys[] = {"kafka",     "topics",    "ingest", "paths",
                                       "log",       "normalise", "enrich", "rules",
                                       "correlate", "retention", "escalate", "http"};
    const struct ts_ynode *seen[TS_ARRAY_LEN(keys)] = {0};
    char d[64];
    if (s->ndocs > 1)
        return ts_err_set(x->y.err, TS_E_CONFIG, x->y.file, s->docs[1].line, 1,
                          "a configuration file holds one YAML document, found a second one");
    const struct ts_ynode *root = s->ndocs ? s->docs[0].root : NULL;
    if (ts_yaml_is_null(root))
        return 0; /* empty file: all defaults */
    if (root->kind != TS_Y_MAP)
        return fail(x, root,
                    "the configuration must be a mapping of sections (kafka, topics, ingest, "
                    "paths, log, normalise, enrich, rules, correlate, retention, escalate, "
                    "http), "
                    "got %s",
                    describe(root, d, sizeof(d)));
    int rc = 0;
    for (size_t i = 0; !rc && i < root->npairs; i++) {
        const struct ts_ynode *v = root->pairs[i].val;
        int idx = key_index(x, root->pairs[i].key, "the configuration", keys, TS_ARRAY_LEN(keys),
                            seen);
        if (idx < 0)
            return idx;
        switch (idx) {
        case 0: rc = load_kafka(x, v); break;
        case 1: rc = load_topics(x, v); break;
        case 2: rc = load_ingest(x, v); break;
        case 3: rc = load_paths(x, v); break;
        case 4: rc = load_log(x, v); break;
        case 5: rc = load_normalise(x, v); break;
        case 6: rc = load_enrich(x, v); break;
        case 7: rc = load_rules_section(x, v); break;
        case 8: rc = load_correlate(x, v); break;
        case 9: rc = load_retention(x, v); break;
        case 10: rc = load_escalate(x, v); break;
        default: rc = load_http(x, v); break;
        }
    }
    if (!rc && x->c->ntopics > 0 && !x->c->kafka.brokers)
        rc = fail(x, seen[1], "kafka.brokers is required when topics are given");
    return rc;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; l && i < n; i++)
        free(l[i]);
    free(l);
}

void ts_config_free(struct ts_config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->kafka.brokers);
    free(c->kafka.group_id);
    for (size_t i = 0; i < c->kafka.nprops; i++)
        free(c->kafka.props[i]);
    free(c->kafka.props);
    for (size_t i = 0; i < c->ntopics; i++) {
        free(c->topics[i].name);
        free(c->topics[i].format);
        free(c->topics[i].tenant);
        for (size_t j = 0; j < c->topics[i].ntenants; j++)
            free(c->topics[i].tenants[j]);
        free(c->topics[i].tenants);
        ts_tz_free(c->topics[i].tz);
        free(c->topics[i].dead_letter);
    }
    free(c->topics);
    free(c->ingest.default_tenant);
    ts_tz_free(c->ingest.tz);
    for (size_t i = 0; i < c->ingest.nhosts; i++) {
        free(c->ingest.hosts[i].pattern);
        ts_tz_free(c->ingest.hosts[i].tz);
    }
    free(c->ingest.hosts);
    free(c->paths.data_dir);
    for (size_t i = 0; i < c->paths.nrules; i++)
        free(c->paths.rules[i]);
    free(c->paths.rules);
    free(c->paths.dead_letter_file);
    free_list(c->normalise.profiles, c->normalise.nprofiles);
    free_list(c->normalise.decoders, c->normalise.ndecoders);
    free(c->enrich.geoip_city);
    free(c->enrich.geoip_asn);
    free_list(c->enrich.ip_fields, c->enrich.nip_fields);
    free(c->enrich.assets);
    free(c->enrich.intel_db);
    free_list(c->rules.alias_from, c->rules.naliases);
    free_list(c->rules.alias_to, c->rules.naliases);
    for (size_t i = 0; i < c->rules.nplaceholders; i++) {
        free(c->rules.placeholders[i].name);
        free_list(c->rules.placeholders[i].values, c->rules.placeholders[i].nvalues);
    }
    free(c->rules.placeholders);
    for (size_t i = 0; i < c->correlate.ngroups; i++) {
        free(c->correlate.groups[i].rule);
        free_list(c->correlate.groups[i].by, c->correlate.groups[i].nby);
    }
    free(c->correlate.groups);
    free(c->correlate.topic);
    free(c->correlate.node);
    for (size_t i = 0; i < c->correlate.incidents.nrules; i++)
        free(c->correlate.incidents.rules[i].rule);
    free(c->correlate.incidents.rules);
    for (size_t i = 0; i < c->correlate.incidents.nentities; i++) {
        free(c->correlate.incidents.entities[i].name);
        free_list(c->correlate.incidents.entities[i].fields,
                  c->correlate.incidents.entities[i].nfields);
    }
    free(c->correlate.incidents.entities);
    for (size_t i = 0; i < c->retention.ntenants; i++)
        free(c->retention.tenants[i].tenant);
    free(c->retention.tenants);
    free(c->escalate.regime);
    free(c->escalate.regimes_dir);
    free(c->escalate.taxonomy);
    free(c->escalate.policy);
    free(c->escalate.org);
    free(c->escalate.assets);
    free(c->escalate.channels);
    free(c->escalate.summary);
    free(c->http.listen);
    free(c->http.tls_cert);
    free(c->http.tls_key);
    free(c->http.tokens);
    free(c->log.level);
    free(c);
}

static int config_defaults(struct ctx *x, const char *name)
{
    struct ts_config *c = x->c;
    c->kafka.workers = 1;
    c->kafka.batch_size = 1000;
    c->kafka.batch_timeout_ms = 100;
    c->kafka.queue_batches = 4;
    c->kafka.commit_batches = TS_CFG_COMMIT_BATCHES;
    c->kafka.commit_interval_ms = TS_CFG_COMMIT_INTERVAL_MS;
    c->ingest.max_message_bytes = 1048576;
    c->ingest.tz_offset_sec = 0;
    c->retention.interval_ns = 3600LL * 1000000000LL;
    c->http.rate = -1;
    c->http.ready_max_lag = 100000;
    int rc = dup_str(x, name, strlen(name), &c->path);
    if (!rc)
        rc = dup_str(x, "tocsin", 6, &c->kafka.group_id);
    if (!rc)
        rc = dup_str(x, "default", 7, &c->ingest.default_tenant);
    if (!rc)
        rc = dup_str(x, "info", 4, &c->log.level);
    return rc;
}

/* Map a YAML loader failure into the config contract and err. */
static int yaml_failed(int rc, const struct ts_err *yerr, struct ts_err *err)
{
    int code = rc;
    if (rc != TS_E_IO && rc != TS_E_PARSE && rc != TS_E_NOMEM)
        code = TS_E_CONFIG;
    return ts_err_set(err, code, yerr->file, yerr->line, yerr->col, "%s", yerr->msg);
}

static int config_build(const char *name, const struct ts_ystream *s, struct ts_config **out,
                        struct ts_err *err)
{
    struct ctx x = {{name, err, NULL, "the configuration"}, NULL};
    x.c = calloc(1, sizeof(*x.c));
    if (!x.c)
        return ts_yconf_nomem(&x.y);
    int rc = config_defaults(&x, name);
    if (!rc)
        rc = load_root(&x, s);
    if (rc) {
        ts_config_free(x.c);
        return rc;
    }
    *out = x.c;
    return 0;
}

int ts_config_load(const char *path, struct ts_config **out, struct ts_err *err)
{
    *out = NULL;
    struct ts_err yerr = {0};
    struct ts_ystream *s = NULL;
    int rc = ts_yaml_load_file(path, &s, &yerr);
    if (rc)
        return yaml_failed(rc, &yerr, err);
    rc = config_build(path, s, out, err);
    ts_yaml_free(s);
    return rc;
}

int ts_config_load_buffer(const char *name, const char *buf, size_t len, struct ts_config **out,
                          struct ts_err *err)
{
    *out = NULL;
    if (!name)
        name = "<config>";
    struct ts_err yerr = {0};
    struct ts_ystream *s = NULL;
    int rc = ts_yaml_load_buffer(name, buf, len, &s, &yerr);
    if (rc)
        return yaml_failed(rc, &yerr, err);
    rc = config_build(name, s, out, err);
    ts_yaml_free(s);
    return rc;
}

static int two_digits(const char *p, int *v)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return 0;
    *v = (p[0] - '0') * 10 + (p[1] - '0');
    return 1;
}

int ts_tz_offset_parse(const char *s, int *out)
{
    if (!s || !out)
        return TS_E_INVAL;
    if (strcasecmp(s, "UTC") == 0 || strcmp(s, "Z") == 0 || strcmp(s, "z") == 0) {
        *out = 0;
        return 0;
    }
    if (s[0] != '+' && s[0] != '-')
        return TS_E_INVAL;
    int sign = s[0] == '-' ? -1 : 1;
    int h = 0, m = 0;
    const char *p = s + 1;
    if (!two_digits(p, &h))
        return TS_E_INVAL;
    p += 2;
    if (*p == ':')
        p++;
    if (*p) {
        if (!two_digits(p, &m))
            return TS_E_INVAL;
        p += 2;
    } else if (p[-1] == ':') {
        return TS_E_INVAL; /* "+07:" */
    }
    if (*p || m > 59 || h * 60 + m > 14 * 60)
        return TS_E_INVAL;
    *out = sign * (h * 3600 + m * 60);
    return 0;
}
