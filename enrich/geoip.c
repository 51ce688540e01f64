/* geoip.c - GeoIP City and ASN lookups with libmaxminddb, the scope of
 * non-global addresses, and the per-thread result cache.
 *
 * The databases are opened once with MMDB_MODE_MMAP and only read afterwards
 * (libmaxminddb lookups on a shared MMDB_s are thread-safe); a cache belongs
 * to one thread. Lookups allocate nothing: MMDB_lookup_sockaddr and
 * MMDB_get_value walk the mapped file, and the strings returned point into it.
 */
#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "enrich_int.h"

struct enrich_geo {
    MMDB_s city, asn;
    bool have_city, have_asn;
};

struct cache_slot {
    uint8_t used, family;
    uint8_t addr[16];
    bool found;
    struct enrich_geo_result r;
};

struct enrich_geo_cache {
    struct cache_slot slot[INGEST_GEO_CACHE_SLOTS];
};

/* ------------------------------------------------------------------ scopes */

struct range {
    uint8_t addr[16];
    uint8_t plen;
    const char *scope;
};

/* IPv4 special-purpose blocks (IANA registry, RFC 6890 and updates). */
static const struct range v4_ranges[] = {
    {{0, 0, 0, 0}, 32, "unspecified"},
    {{0}, 8, "reserved"}, /* "this network" */
    {{10}, 8, "private"},
    {{100, 64}, 10, "cgnat"},
    {{127}, 8, "loopback"},
    {{169, 254}, 16, "link-local"},
    {{172, 16}, 12, "private"},
    {{192, 0, 0}, 24, "reserved"}, /* IETF protocol assignments */
    {{192, 0, 2}, 24, "documentation"},
    {{192, 88, 99}, 24, "reserved"}, /* 6to4 relay anycast, deprecated */
    {{192, 168}, 16, "private"},
    {{198, 18}, 15, "benchmark"},
    {{198, 51, 100}, 24, "documentation"},
    {{203, 0, 113}, 24, "documentation"},
    {{224}, 4, "multicast"},
    {{255, 255, 255, 255}, 32, "broadcast"},
    {{240}, 4, "reserved"},
};

/* IPv6 special-purpose blocks. ::ffff:0:0/96 never gets here (unmapped first). */
static const struct range v6_ranges[] = {
    {{0}, 128, "unspecified"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},
    {{0}, 8, "reserved"}, /* ::/8 incl. IPv4-compatible */
    {{0x01, 0x00}, 64, "reserved"}, /* discard-only */
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "documentation"},
    {{0x3f, 0xff, 0x00}, 20, "documentation"}, /* RFC 9637 */
    {{0x20, 0x01, 0x00, 0x02, 0, 0}, 48, "benchmark"},
    {{0x20, 0x01}, 23, "reserved"}, /* IETF protocol assignments (Teredo, ORCHID ...) */
    {{0xfc}, 7, "private"}, /* unique local */
    {{0xfe, 0x80}, 10, "link-local"},
    {{0xfe, 0xc0}, 10, "reserved"}, /* site-local, deprecated */
    {{0xff}, 8, "multicast"},
};

static bool in_range(const uint8_t *a, const struct range *r)
{
    unsigned full = r->plen / 8, rest = r->plen % 8;
    if (memcmp(a, r->addr, full) != 0)
        return false;
    if (rest) {
        uint8_t m = (uint8_t)(0xff << (8 - rest));
        if ((a[full] & m) != (r->addr[full] & m))
            return false;
    }
    return true;
}

const char *enrich_ip_scope(const struct ts_ip *ip)
{
    const struct range *t = ip->family == 6 ? v6_ranges : v4_ranges;
    size_t n = ip->family == 6 ? TS_ARRAY_LEN(v6_ranges) : TS_ARRAY_LEN(v4_ranges);
    /* the tables list the more specific blocks first where they nest */
    for (size_t i = 0; i < n; i++)
        if (in_range(ip->addr, &t[i]))
            return t[i].scope;
    if (ip->family == 6 && (ip->addr[0] & 0xe0) != 0x20)
        return "reserved"; /* outside 2000::/3, the global unicast space */
    return NULL;
}

/* ------------------------------------------------------------- open/close */

static int open_one(MMDB_s *m, const char *path, struct ts_err *err)
{
    int st = MMDB_open(path, MMDB_MODE_MMAP, m);
    if (st != MMDB_SUCCESS) {
        return ts_err_set(err, st == MMDB_FILE_OPEN_ERROR || st == MMDB_IO_ERROR ? TS_E_IO
                                                                                 : TS_E_CONFIG,
                          path, 0, 0, "cannot open GeoIP database: %s", MMDB_strerror(st));
    }
    return 0;
}

int enrich_geo_open(struct enrich_geo **out, const char *city_db, const char *asn_db,
                    struct ts_err *err)
{
    *out = NULL;
    if (!city_db && !asn_db)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "no GeoIP database given");
    struct enrich_geo *g = calloc(1, sizeof(*g));
    if (!g)
        return ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "out of memory opening GeoIP databases");
    int rc = 0;
    if (city_db) {
        if ((rc = open_one(&g->city, city_db, err))) {
            free(g);
            return rc;
        }
        g->have_city = true;
    }
    if (asn_db) {
        if ((rc = open_one(&g->asn, asn_db, err))) {
            enrich_geo_close(g);
            return rc;
        }
        g->have_asn = true;
    }
    *out = g;
    return 0;
}

void enrich_geo_close(struct enrich_geo *g)
{
    if (!g)
        return;
    if (g->have_city)
        MMDB_close(&g->city);
    if (g->have_asn)
        MMDB_close(&g->asn);
    free(g);
}

int enrich_geo_cache_create(struct enrich_geo_cache **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : TS_E_NOMEM;
}

void enrich_geo_cache_free(struct enrich_geo_cache *c)
{
    free(c);
}

/* ----------------------------------------------------------------- lookups */

static bool get_str(MMDB_entry_s *e, const char **s, uint32_t *len, const char *const *path)
{
    MMDB_entry_data_s d;
    if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data ||
        d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size == 0)
        return false;
    *s = d.utf8_string;
    *len = d.data_size;
    return true;
}

static bool get_double(MMDB_entry_s *e, double *v, const char *const *path)
{
    MMDB_entry_data_s d;
    if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data)
        return false;
    if (d.type == MMDB_DATA_TYPE_DOUBLE)
        *v = d.double_value;
    else if (d.type == MMDB_DATA_TYPE_FLOAT)
        *v = d.float_value;
    else
        return false;
    return true;
}

static bool get_uint(MMDB_entry_s *e, uint32_t *v, const char *const *path)
{
    MMDB_entry_data_s d;
    if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data)
        return false;
    switch (d.type) {
    case MMDB_DATA_TYPE_UINT16: *v = d.uint16; return true;
    case MMDB_DATA_TYPE_UINT32: *v = d.uint32; return true;
    case MMDB_DATA_TYPE_UINT64: *v = (uint32_t)d.uint64; return d.uint64 <= UINT32_MAX;
    default: return false;
    }
}

static const char *const p_country_iso[] = {"country", "iso_code", NULL};
static const char *const p_rcountry_iso[] = {"registered_country", "iso_code", NULL};
static const char *const p_country_name[] = {"country", "names", "en", NULL};
static const char *const p_rcountry_name[] = {"registered_country", "names", "en", NULL};
static const char *const p_city[] = {"city", "names", "en", NULL};
static const char *const p_lat[] = {"location", "latitude", NULL};
static const char *const p_lon[] = {"location", "longitude", NULL};
/* flat layouts (e.g. the ip-location-db .mmdb files): country_code, city, latitude */
static const char *const p_flat_country[] = {"country_code", NULL};
static const char *const p_flat_city[] = {"city", NULL};
static const char *const p_flat_lat[] = {"latitude", NULL};
static const char *const p_flat_lon[] = {"longitude", NULL};
static const char *const p_asn[] = {"autonomous_system_number", NULL};
static const char *const p_asorg[] = {"autonomous_system_organization", NULL};

/* One database; false when the address is not in it or on an MMDB error. */
static bool mmdb_find(const MMDB_s *m, const struct ts_ip *ip, MMDB_entry_s *entry,
                      struct enrich_geo_counters *cnt)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    const struct sockaddr *sa;
    if (ip->family == 6) {
        memset(&sin6, 0, sizeof(sin6));
        sin6.sin6_family = AF_INET6;
        memcpy(&sin6.sin6_addr, ip->addr, 16);
        sa = (const struct sockaddr *)&sin6;
    } else {
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        memcpy(&sin.sin_addr, ip->addr, 4);
        sa = (const struct sockaddr *)&sin;
    }
    int mmdb_err = MMDB_SUCCESS;
    MMDB_lookup_result_s res = MMDB_lookup_sockaddr(m, sa, &mmdb_err);
    if (mmdb_err != MMDB_SUCCESS) {
        /* e.g. MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR: counted, not logged on
         * the hot path (the text is MMDB_strerror(mmdb_err)). */
        cnt->errors++;
        return false;
    }
    if (!res.found_entry)
        return false;
    *entry = res.entry;
    return true;
}

static bool lookup_uncached(const struct enrich_geo *g, const struct ts_ip *ip,
                            struct enrich_geo_result *r, struct enrich_geo_counters *cnt)
{
    memset(r, 0, sizeof(*r));
    bool any = false;
    MMDB_entry_s e;
    if (g->have_city && mmdb_find(&g->city, ip, &e, cnt)) {
        if (!get_str(&e, &r->country, &r->country_len, p_country_iso) &&
            !get_str(&e, &r->country, &r->country_len, p_rcountry_iso))
            get_str(&e, &r->country, &r->country_len, p_flat_country);
        if (!get_str(&e, &r->country_name, &r->country_name_len, p_country_name))
            get_str(&e, &r->country_name, &r->country_name_len, p_rcountry_name);
        if (!get_str(&e, &r->city, &r->city_len, p_city))
            get_str(&e, &r->city, &r->city_len, p_flat_city);
        r->has_loc = (get_double(&e, &r->lat, p_lat) && get_double(&e, &r->lon, p_lon)) ||
                     (get_double(&e, &r->lat, p_flat_lat) && get_double(&e, &r->lon, p_flat_lon));
        any = r->country || r->city || r->has_loc;
    }
    if (g->have_asn && mmdb_find(&g->asn, ip, &e, cnt)) {
        r->has_asn = get_uint(&e, &r->asn, p_asn);
        get_str(&e, &r->as_org, &r->as_org_len, p_asorg);
        any = any || r->has_asn || r->as_org;
    }
    return any;
}

bool enrich_geo_lookup(const struct enrich_geo *g, struct enrich_geo_cache *c,
                       const struct ts_ip *ip, struct enrich_geo_result *out,
                       struct enrich_geo_counters *cnt)
{
    size_t alen = ip->family == 6 ? 16 : 4;
    cnt->lookups++;
    struct cache_slot *s = NULL;
    if (c) {
        uint64_t h = enrich_hash64(ip->addr, alen, ip->family);
        s = &c->slot[h & (INGEST_GEO_CACHE_SLOTS - 1)];
        if (s->used && s->family == ip->family && memcmp(s->addr, ip->addr, alen) == 0) {
            cnt->cache_hits++;
            *out = s->r;
            return s->found;
        }
    }
    bool found = lookup_uncached(g, ip, out, cnt);
    if (s) {
        s->used = 1;
        s->family = ip->family;
        memcpy(s->addr, ip->addr, alen);
        s->found = found;
        s->r = *out;
    }
    return found;
}
