/* enrich.c - the enricher: GeoIP/ASN, asset inventory and threat intel applied
 * to normalised events (enrich.h), plus small helpers the enrichment files
 * share (hashing, addresses).
 *
 * The enricher is immutable after enrich_set_create and read by every
 * worker thread; a scratch (GeoIP cache, intel reader, counters) belongs to
 * one thread at a time. Per event: one pass over the event's fields against a
 * hash table of the configured names, then lookups; nothing is allocated
 * except the event's new fields in its arena.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/tstime.h"
#include "enrich.h"
#include "enrich_int.h"

/* ------------------------------------------------------------------ helpers */

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* ASCII upper case to lower case in all 8 bytes of w at once (SWAR). */
static inline uint64_t lower8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t low7 = w & ~high;
    uint64_t gt_z = low7 + ones * (0x7f - 'Z'); /* high bit: byte > 'Z' */
    uint64_t ge_a = low7 + ones * (0x80 - 'A'); /* high bit: byte >= 'A' */
    uint64_t upper = (ge_a ^ gt_z) & ~w & high;
    return w | (upper >> 2);
}

static uint64_t hash_chunks(const uint8_t *s, size_t n, uint64_t seed, bool lower)
{
    uint64_t h = seed ^ ((uint64_t)n * 0x9e3779b97f4a7c15ULL);
    while (n) {
        size_t k = n < 8 ? n : 8;
        uint64_t w = 0;
        memcpy(&w, s, k);
        if (lower)
            w = lower8(w);
        h = (h ^ mix64(w + k)) * 0x9e3779b97f4a7c15ULL;
        s += k;
        n -= k;
    }
    return mix64(h);
}

uint64_t enrich_hash64(const void *p, size_t n, uint64_t seed)
{
    return hash_chunks(p, n, seed, false);
}

uint64_t enrich_hash64_lower(const void *p, size_t n, uint64_t seed)
{
    return hash_chunks(p, n, seed, true);
}

void enrich_ip_unmap(struct ts_ip *ip)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (ip->family == 6 && memcmp(ip->addr, mapped, 12) == 0) {
        memmove(ip->addr, ip->addr + 12, 4);
        memset(ip->addr + 4, 0, 12);
        ip->family = 4;
    }
}

void enrich_ip_mask(struct ts_ip *ip, unsigned plen)
{
    unsigned bits = ip->family == 6 ? 128 : 32;
    if (plen >= bits)
        return;
    unsigned full = plen / 8, rest = plen % 8;
    if (rest)
        ip->addr[full++] &= (uint8_t)(0xff << (8 - rest));
    memset(ip->addr + full, 0, 16 - full);
}

int enrich_cidr_parse(const char *s, size_t len, bool strict, struct ts_ip *net, unsigned *plen)
{
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    if (ts_ip_parse(s, alen, net))
        return TS_E_PARSE;
    unsigned bits = net->family == 6 ? 128 : 32, p = bits;
    if (slash) {
        size_t dl = len - alen - 1;
        if (dl == 0 || dl > 3)
            return TS_E_PARSE;
        p = 0;
        for (size_t i = 0; i < dl; i++) {
            char c = slash[1 + i];
            if (c < '0' || c > '9')
                return TS_E_PARSE;
            p = p * 10 + (unsigned)(c - '0');
        }
        if (p > bits)
            return TS_E_PARSE;
    }
    struct ts_ip m = *net;
    enrich_ip_mask(&m, p);
    if (strict && memcmp(m.addr, net->addr, 16) != 0)
        return TS_E_PARSE;
    *net = m;
    *plen = p;
    return 0;
}

int enrich_value_ip(const struct ts_value *v, struct ts_ip *out)
{
    if (v->type == TS_V_IP) {
        *out = v->u.ip;
        return 0;
    }
    if (v->type != TS_V_STR || v->len == 0 || v->len > 60)
        return TS_E_PARSE;
    const char *s = v->u.s;
    size_t n = v->len;
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') { /* [v6] */
        s++;
        n -= 2;
    }
    return ts_ip_parse(s, n, out);
}

/* ---------------------------------------------------------------- enricher */

enum role { R_IP, R_HOST, R_DOMAIN, R_URL, R_HASH, R_COUNT };

static const char *const def_ip[] = {"src_ip", "dst_ip", "SourceIp", "DestinationIp",
                                     "IpAddress", "c-ip", "s-ip", "source.ip",
                                     "destination.ip", "client.ip", "server.ip"};
static const char *const def_host[] = {"host", "host.name", "hostname", "Computer",
                                       "ComputerName", "agent.hostname",
                                       "winlog.computer_name", "dvchost"};
static const char *const def_domain[] = {"QueryName", "DestinationHostname", "cs-host",
                                         "r-dns", "domain", "query", "dns.question.name",
                                         "url.domain", "destination.domain", "server.domain",
                                         "dst_host"};
static const char *const def_url[] = {"url", "c-uri", "cs-uri", "url.original", "url.full",
                                      "http.url"};
static const char *const def_hash[] = {"Hashes", "Hash", "md5", "sha1", "sha256",
                                       "file.hash.md5", "file.hash.sha1", "file.hash.sha256",
                                       "process.hash.md5", "process.hash.sha1",
                                       "process.hash.sha256"};

/* Names added per IP field. */
enum { G_COUNTRY, G_COUNTRY_NAME, G_CITY, G_LAT, G_LON, G_SCOPE, G_ASN, G_ASORG, G_COUNT };
static const char *const geo_suffix[G_COUNT] = {".geo.country", ".geo.country_name",
                                                ".geo.city", ".geo.lat", ".geo.lon",
                                                ".geo.scope", ".as.number", ".as.org"};

struct fname {
    char *name; /* as configured; owned */
    uint32_t len;
};

struct name_ent {
    const char *name; /* NULL: empty */
    uint32_t len;
    int16_t idx[R_COUNT]; /* position in each role's list, -1 when absent */
    bool reserved;        /* a name enrichment writes (F.geo.*, F.as.* of an IP field F) */
};

/* Longest name looked up in the table: a configured name and a geo suffix. */
#define NAME_LOOKUP_MAX (INGEST_ENRICH_MAX_NAME + 32)

struct enrich_set {
    struct enrich_geo *geo;
    struct enrich_assets *assets;
    struct enrich_intel *intel;
    struct fname *lists[R_COUNT];
    size_t nlist[R_COUNT];
    char *(*geo_names)[G_COUNT]; /* per IP field */
    uint32_t (*geo_lens)[G_COUNT];
    struct name_ent *tab;
    size_t tcap;
};

struct enrich_scratch {
    const struct enrich_set *e;
    struct enrich_geo_cache *cache;
    struct enrich_intel_reader *reader;
    bool txn_ok;
    struct enrich_stats st;
    struct enrich_geo_counters gc;
    struct enrich_intel_counters ic;
};

#define NAME_SEED 0x7a3bULL

static struct name_ent *name_find(const struct enrich_set *e, const char *n, size_t len)
{
    size_t i = (size_t)enrich_hash64_lower(n, len, NAME_SEED) & (e->tcap - 1);
    for (;;) {
        struct name_ent *t = &e->tab[i];
        if (!t->name || (t->len == len && strncasecmp(t->name, n, len) == 0))
            return t;
        i = (i + 1) & (e->tcap - 1);
    }
}

static int copy_list(struct enrich_set *e, enum role r, const char *const *names, size_t n,
                     const char *const *defs, size_t ndefs, const char *what, struct ts_err *err)
{
    if (!names) {
        names = defs;
        n = ndefs;
    }
    if (n > INGEST_ENRICH_MAX_FIELDS)
        return ts_err_set(err, TS_E_LIMIT, NULL, 0, 0, "too many %s fields (at most %d)", what,
                          INGEST_ENRICH_MAX_FIELDS);
    e->lists[r] = calloc(n ? n : 1, sizeof(struct fname));
    if (!e->lists[r])
        return ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t len = names[i] ? strlen(names[i]) : 0;
        if (len == 0 || len > INGEST_ENRICH_MAX_NAME)
            return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0,
                              "%s field #%zu: a name of 1 to %d bytes is required", what, i + 1,
                              INGEST_ENRICH_MAX_NAME);
        if (!(e->lists[r][i].name = strdup(names[i])))
            return ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "out of memory");
        e->lists[r][i].len = (uint32_t)len;
        e->nlist[r] = i + 1;
    }
    return 0;
}

static int build_names(struct enrich_set *e, struct ts_err *err)
{
    size_t total = e->nlist[R_IP] * G_COUNT; /* the geo names */
    for (int r = 0; r < R_COUNT; r++)
        total += e->nlist[r];
    e->tcap = 16;
    while (e->tcap < 2 * total + 1)
        e->tcap <<= 1;
    e->tab = calloc(e->tcap, sizeof(*e->tab));
    if (!e->tab)
        return ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "out of memory");
    for (int r = 0; r < R_COUNT; r++)
        for (size_t i = 0; i < e->nlist[r]; i++) {
            const struct fname *f = &e->lists[r][i];
            struct name_ent *t = name_find(e, f->name, f->len);
            if (!t->name) {
                t->name = f->name;
                t->len = f->len;
                for (int k = 0; k < R_COUNT; k++)
                    t->idx[k] = -1;
            }
            if (t->idx[r] < 0) /* a repeated name keeps its first position */
                t->idx[r] = (int16_t)i;
        }
    size_t nip = e->nlist[R_IP];
    e->geo_names = calloc(nip ? nip : 1, sizeof(*e->geo_names));
    e->geo_lens = calloc(nip ? nip : 1, sizeof(*e->geo_lens));
    if (!e->geo_names || !e->geo_lens)
        return ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "out of memory");
    for (size_t i = 0; i < nip; i++)
        for (int g = 0; g < G_COUNT; g++) {
            size_t l1 = e->lists[R_IP][i].len, l2 = strlen(geo_suffix[g]);
            char *s = malloc(l1 + l2 + 1);
            if (!s)
                return ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "out of memory");
            memcpy(s, e->lists[R_IP][i].name, l1);
            memcpy(s + l1, geo_suffix[g], l2 + 1);
            e->geo_names[i][g] = s;
            e->geo_lens[i][g] = (uint32_t)(l1 + l2);
            struct name_ent *t = name_find(e, s, l1 + l2);
            if (!t->name) {
                t->name = s;
                t->len = (uint32_t)(l1 + l2);
                for (int k = 0; k < R_COUNT; k++)
                    t->idx[k] = -1;
            }
            t->reserved = true;
        }
    return 0;
}

int enrich_set_create(struct enrich_set **out, const struct enrich_opts *o,
                           struct ts_err *err)
{
    *out = NULL;
    struct enrich_set *e = calloc(1, sizeof(*e));
    if (!e)
        return ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "out of memory");
    int rc;
    if ((rc = copy_list(e, R_IP, o->ip_fields, o->nip_fields, def_ip, TS_ARRAY_LEN(def_ip), "IP",
                        err)) ||
        (rc = copy_list(e, R_HOST, o->host_fields, o->nhost_fields, def_host,
                        TS_ARRAY_LEN(def_host), "host", err)) ||
        (rc = copy_list(e, R_DOMAIN, o->domain_fields, o->ndomain_fields, def_domain,
                        TS_ARRAY_LEN(def_domain), "domain", err)) ||
        (rc = copy_list(e, R_URL, o->url_fields, o->nurl_fields, def_url, TS_ARRAY_LEN(def_url),
                        "URL", err)) ||
        (rc = copy_list(e, R_HASH, o->hash_fields, o->nhash_fields, def_hash,
                        TS_ARRAY_LEN(def_hash), "hash", err)) ||
        (rc = build_names(e, err)))
        goto fail;
    if ((o->geoip_city_db || o->geoip_asn_db) &&
        (rc = enrich_geo_open(&e->geo, o->geoip_city_db, o->geoip_asn_db, err)))
        goto fail;
    if (o->assets_file && (rc = enrich_assets_load(o->assets_file, &e->assets, err)))
        goto fail;
    if (o->intel_db && (rc = enrich_intel_open(o->intel_db, &e->intel, err)))
        goto fail;
    *out = e;
    return 0;
fail:
    enrich_set_free(e);
    return rc;
}

void enrich_set_free(struct enrich_set *e)
{
    if (!e)
        return;
    enrich_geo_close(e->geo);
    enrich_assets_free(e->assets);
    enrich_intel_close(e->intel);
    for (int r = 0; r < R_COUNT; r++) {
        for (size_t i = 0; i < e->nlist[r]; i++)
            free(e->lists[r][i].name);
        free(e->lists[r]);
    }
    if (e->geo_names)
        for (size_t i = 0; i < e->nlist[R_IP]; i++)
            for (int g = 0; g < G_COUNT; g++)
                free(e->geo_names[i][g]);
    free(e->geo_names);
    free(e->geo_lens);
    free(e->tab);
    free(e);
}

int enrich_set_active(const struct enrich_set *e)
{
    return e && (e->geo || e->assets || e->intel);
}

int enrich_scratch_create(struct enrich_scratch **out,
                                 const struct enrich_set *e)
{
    *out = NULL;
    struct enrich_scratch *s = calloc(1, sizeof(*s));
    if (!s)
        return TS_E_NOMEM;
    s->e = e;
    int rc = 0;
    if (e->geo && (rc = enrich_geo_cache_create(&s->cache)))
        goto fail;
    if (e->intel && (rc = enrich_intel_reader_create(&s->reader, e->intel)))
        goto fail;
    *out = s;
    return 0;
fail:
    enrich_scratch_free(s);
    return rc;
}

void enrich_scratch_free(struct enrich_scratch *s)
{
    if (!s)
        return;
    enrich_geo_cache_free(s->cache);
    enrich_intel_reader_free(s->reader);
    free(s);
}

int enrich_batch_begin(struct enrich_scratch *s)
{
    s->txn_ok = false;
    if (!s->reader)
        return 0;
    int rc = enrich_intel_reader_begin(s->reader);
    if (rc) {
        s->st.intel_batches_without_txn++;
        return rc;
    }
    s->txn_ok = true;
    return 0;
}

void enrich_batch_end(struct enrich_scratch *s)
{
    if (s->reader && s->txn_ok)
        enrich_intel_reader_end(s->reader);
    s->txn_ok = false;
}

void enrich_scratch_stats(const struct enrich_scratch *s,
                                 struct enrich_stats *out)
{
    *out = s->st;
    out->geo_lookups = s->gc.lookups;
    out->geo_cache_hits = s->gc.cache_hits;
    out->geo_errors = s->gc.errors;
    out->intel_lookups = s->ic.lookups;
    out->intel_bloom_skips = s->ic.bloom_skips;
    out->intel_matches = s->ic.matches;
    out->intel_expired = s->ic.expired;
    out->intel_errors = s->ic.errors;
}

/* ------------------------------------------------------------- per event */

#define MAX_CANDS 16  /* per role: fields of the event with a configured name */
#define MAX_ITEMS 16  /* list items looked at per field */

struct cand {
    uint16_t idx;   /* position in the role's configured list */
    uint32_t field; /* index into ev->fields */
};

struct cands {
    struct cand c[R_COUNT][MAX_CANDS];
    unsigned n[R_COUNT];
};

static void cand_add(struct cands *cs, int r, uint16_t idx, uint32_t field)
{
    unsigned n = cs->n[r];
    if (n == MAX_CANDS)
        return;
    /* insertion in configured order; equal positions keep event order */
    unsigned i = n;
    while (i > 0 && cs->c[r][i - 1].idx > idx) {
        cs->c[r][i] = cs->c[r][i - 1];
        i--;
    }
    cs->c[r][i] = (struct cand){.idx = idx, .field = field};
    cs->n[r] = n + 1;
}

static int add_str(struct ts_event *ev, const char *name, size_t nlen, const char *s, size_t len)
{
    struct ts_value v = ts_v_str(s, len);
    return ts_event_add(ev, name, nlen, &v);
}

static int add_num(struct ts_event *ev, const char *name, size_t nlen, int64_t i)
{
    struct ts_value v = ts_v_int(i);
    return ts_event_add(ev, name, nlen, &v);
}

static int add_dbl(struct ts_event *ev, const char *name, size_t nlen, double f)
{
    struct ts_value v = {.type = TS_V_FLOAT};
    v.u.f = f;
    return ts_event_add(ev, name, nlen, &v);
}

#define LIT(s) s, sizeof(s) - 1

/* The values of a field to look at: the value itself, or a list's items. */
static size_t field_values(const struct ts_value *v, const struct ts_value **out)
{
    if (v->type == TS_V_LIST) {
        *out = v->u.items;
        return v->len < MAX_ITEMS ? v->len : MAX_ITEMS;
    }
    *out = v;
    return 1;
}

static bool first_ip(const struct ts_value *v, struct ts_ip *ip)
{
    const struct ts_value *vals;
    size_t n = field_values(v, &vals);
    for (size_t i = 0; i < n; i++)
        if (enrich_value_ip(&vals[i], ip) == 0) {
            enrich_ip_unmap(ip);
            return true;
        }
    return false;
}

static int enrich_geo(const struct enrich_set *e, struct enrich_scratch *s,
                      struct ts_event *ev, const struct cands *cs, uint32_t nfields)
{
    int rc = 0;
    for (unsigned k = 0; k < cs->n[R_IP]; k++) {
        const struct cand *c = &cs->c[R_IP][k];
        if (c->field >= nfields)
            continue;
        struct ts_ip ip;
        if (!first_ip(&ev->fields[c->field].v, &ip))
            continue;
        char *const *nm = e->geo_names[c->idx];
        const uint32_t *nl = e->geo_lens[c->idx];
        const char *scope = enrich_ip_scope(&ip);
        if (scope) {
            s->st.geo_scoped++;
            if ((rc = add_str(ev, nm[G_SCOPE], nl[G_SCOPE], scope, strlen(scope))))
                return rc;
            continue;
        }
        struct enrich_geo_result r;
        if (!enrich_geo_lookup(e->geo, s->cache, &ip, &r, &s->gc))
            continue;
        if ((r.country && (rc = add_str(ev, nm[G_COUNTRY], nl[G_COUNTRY], r.country,
                                        r.country_len))) ||
            (r.country_name && (rc = add_str(ev, nm[G_COUNTRY_NAME], nl[G_COUNTRY_NAME],
                                             r.country_name, r.country_name_len))) ||
            (r.city && (rc = add_str(ev, nm[G_CITY], nl[G_CITY], r.city, r.city_len))) ||
            (r.has_loc && ((rc = add_dbl(ev, nm[G_LAT], nl[G_LAT], r.lat)) ||
                           (rc = add_dbl(ev, nm[G_LON], nl[G_LON], r.lon)))) ||
            (r.has_asn && (rc = add_num(ev, nm[G_ASN], nl[G_ASN], r.asn))) ||
            (r.as_org && (rc = add_str(ev, nm[G_ASORG], nl[G_ASORG], r.as_org, r.as_org_len))))
            return rc;
    }
    return 0;
}

static const struct enrich_asset *find_asset(const struct enrich_set *e,
                                             const struct ts_event *ev, const struct cands *cs)
{
    /* the event's tenant's own systems, then the shared ones */
    uint32_t tenant = enrich_assets_tenant(e->assets, ev->tenant);
    for (unsigned k = 0; k < cs->n[R_HOST]; k++) {
        const struct ts_value *vals;
        size_t n = field_values(&ev->fields[cs->c[R_HOST][k].field].v, &vals);
        for (size_t i = 0; i < n; i++) {
            if (vals[i].type != TS_V_STR)
                continue;
            const struct enrich_asset *a = enrich_assets_by_host(e->assets, tenant, vals[i].u.s,
                                                                 vals[i].len);
            if (a)
                return a;
        }
    }
    for (unsigned k = 0; k < cs->n[R_IP]; k++) {
        const struct ts_value *vals;
        size_t n = field_values(&ev->fields[cs->c[R_IP][k].field].v, &vals);
        for (size_t i = 0; i < n; i++) {
            struct ts_ip ip;
            if (enrich_value_ip(&vals[i], &ip))
                continue;
            enrich_ip_unmap(&ip);
            const struct enrich_asset *a = enrich_assets_by_ip(e->assets, tenant, &ip);
            if (a)
                return a;
        }
    }
    return NULL;
}

static int enrich_asset(const struct enrich_set *e, struct enrich_scratch *s,
                        struct ts_event *ev, const struct cands *cs)
{
    const struct enrich_asset *a = find_asset(e, ev, cs);
    if (!a)
        return 0;
    s->st.asset_matches++;
    int rc;
    if ((rc = add_str(ev, LIT("asset.id"), a->id, a->id_len)) ||
        (rc = add_str(ev, LIT("asset.name"), a->name, a->name_len)) ||
        (rc = add_num(ev, LIT("asset.level"), a->level)) ||
        (a->operator_ && (rc = add_str(ev, LIT("asset.operator"), a->operator_,
                                       a->operator_len))) ||
        (a->managing_body && (rc = add_str(ev, LIT("asset.managing_body"), a->managing_body,
                                           a->managing_body_len))))
        return rc;
    return 0;
}

/* One value of one role against the intel database: 1 match, 0 none, <0 error. */
static int intel_value(struct enrich_scratch *s, int role, const struct ts_value *v,
                       int64_t now_s, struct ts_arena *arena, struct enrich_intel_hit *hit)
{
    struct ts_ip ip;
    switch (role) {
    case R_IP:
        if (enrich_value_ip(v, &ip))
            return 0;
        enrich_ip_unmap(&ip);
        return enrich_intel_match_ip(s->reader, &ip, now_s, arena, hit, &s->ic);
    case R_DOMAIN:
        if (v->type != TS_V_STR)
            return 0;
        return enrich_intel_match_domain(s->reader, v->u.s, v->len, now_s, arena, hit, &s->ic);
    case R_URL:
        if (v->type != TS_V_STR)
            return 0;
        return enrich_intel_match_url(s->reader, v->u.s, v->len, now_s, arena, hit, &s->ic);
    case R_HASH:
        if (v->type != TS_V_STR)
            return 0;
        return enrich_intel_match_hashes(s->reader, v->u.s, v->len, now_s, arena, hit, &s->ic);
    default:
        return 0;
    }
}

static int enrich_intel(struct enrich_scratch *s, struct ts_event *ev,
                        const struct cands *cs)
{
    static const int order[] = {R_IP, R_DOMAIN, R_URL, R_HASH};
    int64_t ref_ns = ev->time_from_event ? ev->time_ns : ev->ingest_ns;
    if (ref_ns == 0)
        ref_ns = ev->time_ns;
    int64_t now_s = ref_ns / TS_NS_PER_SEC;
    for (size_t o = 0; o < TS_ARRAY_LEN(order); o++) {
        int r = order[o];
        for (unsigned k = 0; k < cs->n[r]; k++) {
            const struct ts_field *f = &ev->fields[cs->c[r][k].field];
            const struct ts_value *vals;
            size_t n = field_values(&f->v, &vals);
            for (size_t i = 0; i < n; i++) {
                struct enrich_intel_hit hit;
                int m = intel_value(s, r, &vals[i], now_s, ev->arena, &hit);
                if (m < 0)
                    return m;
                if (m == 0)
                    continue;
                const char *tn = enrich_ioc_type_name(hit.ioc.type);
                const char *fname = f->name; /* f may move as fields are added */
                uint32_t fname_len = f->name_len;
                int rc;
                if ((rc = ts_event_add_bool(ev, "threat.matched", true)) ||
                    (rc = add_str(ev, LIT("threat.indicator"), hit.indicator,
                                  hit.indicator_len)) ||
                    (rc = add_str(ev, LIT("threat.type"), tn, strlen(tn))) ||
                    (rc = add_str(ev, LIT("threat.source"), hit.ioc.source,
                                  hit.ioc.source_len)) ||
                    (rc = add_num(ev, LIT("threat.confidence"), hit.ioc.confidence)) ||
                    (rc = add_str(ev, LIT("threat.field"), fname, fname_len)))
                    return rc;
                return 0;
            }
        }
    }
    return 0;
}

/* asset.* and threat.* (any case): the namespaces enrichment writes whole. */
static inline bool reserved_prefix(const char *n, size_t len)
{
    switch (n[0]) {
    case 'a':
    case 'A':
        return len >= 6 && strncasecmp(n, "asset.", 6) == 0;
    case 't':
    case 'T':
        return len >= 7 && strncasecmp(n, "threat.", 7) == 0;
    default:
        return false;
    }
}

#define INPUT_PREFIX "input."

/* Give an input field in a reserved namespace the name input.<name> (in the
 * event's arena). False when the arena is full: the caller drops the field. */
static bool rename_input(struct ts_event *ev, struct ts_field *f)
{
    size_t plen = sizeof(INPUT_PREFIX) - 1, n = plen + f->name_len;
    if (n > UINT32_MAX)
        return false;
    char *name = ts_arena_alloc(ev->arena, n + 1);
    if (!name)
        return false;
    memcpy(name, INPUT_PREFIX, plen);
    memcpy(name + plen, f->name, f->name_len);
    name[n] = '\0';
    f->name = name;
    f->name_len = (uint32_t)n;
    return true;
}

int enrich_event(const struct enrich_set *e, struct enrich_scratch *s,
                        struct ts_event *ev)
{
    s->st.events++;
    bool want_intel = s->reader && s->txn_ok;
    struct cands cs;
    memset(cs.n, 0, sizeof(cs.n));
    /* One pass: fields of the input in enrichment's namespaces are renamed
     * (or dropped) before anything is looked up, so that what enrichment
     * adds is the only asset.* / threat.* / F.geo.* an event carries; the
     * others are candidates of their roles. With nothing to look up, only
     * the prefix check runs. The fields we add are not looked at. */
    bool lookup = e->geo || e->assets || want_intel;
    uint32_t nfields = ev->nfields, kept = 0;
    for (uint32_t i = 0; i < nfields; i++) {
        struct ts_field *f = &ev->fields[i];
        const struct name_ent *t = NULL;
        if (lookup && f->name_len > 0 && f->name_len <= NAME_LOOKUP_MAX) {
            t = name_find(e, f->name, f->name_len);
            if (!t->name)
                t = NULL;
        }
        if (f->name_len > 0 &&
            ((t && t->reserved && e->geo) || reserved_prefix(f->name, f->name_len))) {
            t = NULL;
            if (!rename_input(ev, f)) {
                s->st.input_reserved_dropped++;
                continue;
            }
            s->st.input_reserved_renamed++;
        }
        for (int r = 0; t && r < R_COUNT; r++)
            if (t->idx[r] >= 0)
                cand_add(&cs, r, (uint16_t)t->idx[r], kept);
        if (kept != i)
            ev->fields[kept] = *f;
        kept++;
    }
    ev->nfields = kept;
    nfields = kept;
    int rc;
    if (e->geo && (rc = enrich_geo(e, s, ev, &cs, nfields)))
        return rc;
    if (e->assets && (rc = enrich_asset(e, s, ev, &cs)))
        return rc;
    if (want_intel && (rc = enrich_intel(s, ev, &cs)))
        return rc;
    return 0;
}
