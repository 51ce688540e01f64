/* enrich_int.h - internals shared by the enrichment files of ingest/:
 * geoip.c (MaxMind lookups, address scopes, per-thread cache), assets.c (the
 * asset inventory), intel.c (the threat-intel LMDB: keys, records, lookups),
 * intel_load.c (CSV / MISP / STIX import) and enrich.c (the enricher that
 * ties them together). Not a public interface: other stages use enrich.h.
 *
 * Threads: the loaded objects (enrich_geo, enrich_assets, enrich_intel) are
 * immutable after creation and shared read-only; caches and readers belong
 * to one scratch, i.e. one thread at a time.
 */
#ifndef INGEST_ENRICH_INT_H
#define INGEST_ENRICH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/event.h"
#include "../core/ts.h"
#include "enrich.h"

/* ------------------------------------------------------------ small helpers */

/* 64-bit hash of n bytes (not cryptographic; for tables and the Bloom filter). */
uint64_t enrich_hash64(const void *p, size_t n, uint64_t seed);
/* The same over ASCII-lower-cased bytes. */
uint64_t enrich_hash64_lower(const void *p, size_t n, uint64_t seed);

/* IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4; other addresses unchanged. */
void enrich_ip_unmap(struct ts_ip *ip);
/* Zero the bits past plen (0..32 or 0..128). */
void enrich_ip_mask(struct ts_ip *ip, unsigned plen);
/* The IP in a field value: TS_V_IP as is, TS_V_STR parsed; 0 or TS_E_PARSE. */
int enrich_value_ip(const struct ts_value *v, struct ts_ip *out);

/* --------------------------------------------------------------- GeoIP/ASN */

/* Non-global address class (RFC 6890 and successors): "private", "loopback",
 * "link-local", "cgnat", "documentation", "multicast", "unspecified",
 * "broadcast", "benchmark", "reserved"; NULL for a global unicast address.
 * Expects an unmapped address. */
const char *enrich_ip_scope(const struct ts_ip *ip);

struct enrich_geo; /* the memory-mapped City and/or ASN databases */

/* Open either or both databases (NULL paths are skipped; at least one path).
 * Errors carry the file and MMDB_strerror's text. */
int enrich_geo_open(struct enrich_geo **out, const char *city_db, const char *asn_db,
                    struct ts_err *err);
void enrich_geo_close(struct enrich_geo *g);

/* One lookup's result. Strings point into the memory-mapped database: valid
 * while the enrich_geo is open; lengths given, not NUL-terminated. */
struct enrich_geo_result {
    const char *country, *country_name, *city, *as_org;
    uint32_t country_len, country_name_len, city_len, as_org_len;
    double lat, lon;
    uint32_t asn;
    bool has_loc, has_asn;
};

/* A fixed-size, direct-mapped per-thread cache of results keyed by address.
 * No allocation after creation. */
#define INGEST_GEO_CACHE_SLOTS 2048u /* power of two */
struct enrich_geo_cache;
int enrich_geo_cache_create(struct enrich_geo_cache **out);
void enrich_geo_cache_free(struct enrich_geo_cache *c);

struct enrich_geo_counters {
    uint64_t lookups, cache_hits, errors;
};

/* Look up a global unicast, unmapped address (the cache first). Returns true
 * when anything was found. MMDB errors are counted, never logged. */
bool enrich_geo_lookup(const struct enrich_geo *g, struct enrich_geo_cache *c,
                       const struct ts_ip *ip, struct enrich_geo_result *out,
                       struct enrich_geo_counters *cnt);

/* The asset inventory's API is public (enrich.h): escalate/ reads the same
 * inventory through it. */

/* ------------------------------------------------------------- threat intel */

/* Indicator types as stored. */
enum enrich_ioc_type {
    INGEST_IOC_IP = 1,
    INGEST_IOC_CIDR,
    INGEST_IOC_DOMAIN,
    INGEST_IOC_URL,
    INGEST_IOC_MD5,
    INGEST_IOC_SHA1,
    INGEST_IOC_SHA256,
};
const char *enrich_ioc_type_name(int type);

#define INGEST_INTEL_MAP_SIZE ((size_t)16 << 30) /* LMDB map: hard cap of the db */
#define INGEST_INTEL_MAX_KEY 480                 /* below LMDB's 511-byte key limit */
#define INGEST_INTEL_MAX_SOURCE 64
#define INGEST_INTEL_DEFAULT_CONFIDENCE 50

/* Normalised keys (written into out, at most cap bytes). Return the key
 * length, or 0 when the input is not a valid indicator of that kind. */
size_t enrich_intel_key_domain(const char *s, size_t len, char *out, size_t cap);
size_t enrich_intel_key_url(const char *s, size_t len, char *out, size_t cap);
/* Hex digest to bytes: 16 (md5), 20 (sha1) or 32 (sha256) bytes, else 0. */
size_t enrich_intel_key_hash(const char *s, size_t len, uint8_t *out, size_t cap);
/* Network key: family, prefix length, masked address (6 or 18 bytes). */
size_t enrich_intel_key_net(const struct ts_ip *net, unsigned plen, uint8_t *out);

/* The stored record of one indicator. */
struct enrich_ioc {
    uint8_t type;       /* enum enrich_ioc_type */
    uint8_t confidence; /* 0..100 */
    int64_t valid_until; /* seconds since the epoch; 0 = no expiry */
    const char *source;  /* source_len bytes */
    size_t source_len;
};

/* The named databases of an intel environment. */
enum { INGEST_IDB_NET, INGEST_IDB_DOMAIN, INGEST_IDB_URL, INGEST_IDB_HASH, INGEST_IDB_META,
       INGEST_IDB_COUNT };
extern const char *const enrich_intel_db_names[INGEST_IDB_COUNT];

/* enrich_intel_load without the file and the environment: buf (len bytes
 * and a NUL after them, the content of file, which names it in messages and
 * is the default source) is loaded into env, an LMDB environment the caller opened with
 * at least INGEST_IDB_COUNT named databases, in one write transaction
 * (committed when it loaded, else aborted). For the fuzz target, which
 * opens one environment and empties it between inputs. */
struct MDB_env;
int enrich_intel_load_env(struct MDB_env *env, const char *file, const char *buf, size_t len,
                          const char *source_name, struct enrich_intel_load_stats *st,
                          struct ts_err *err);

/* Bloom filter over every key of the net/domain/url/hash databases, kept in
 * the meta database and rebuilt by each load, so that a lookup of a key that
 * is absent (nearly all of them) touches one cache line, not a B-tree. */
bool enrich_intel_bloom_maybe(const uint8_t *bloom, size_t len, int dbi, const void *key,
                              size_t klen);

struct enrich_intel; /* an environment opened read-only, shared by threads */
int enrich_intel_open(const char *dir, struct enrich_intel **out, struct ts_err *err);
void enrich_intel_close(struct enrich_intel *in);

/* Per-thread reader: one read transaction per batch. */
struct enrich_intel_reader;
int enrich_intel_reader_create(struct enrich_intel_reader **out, const struct enrich_intel *in);
void enrich_intel_reader_free(struct enrich_intel_reader *r);
int enrich_intel_reader_begin(struct enrich_intel_reader *r);
void enrich_intel_reader_end(struct enrich_intel_reader *r);

struct enrich_intel_counters {
    uint64_t lookups, bloom_skips, matches, expired, errors;
};

/* A match: indicator text (copied into the arena), type and record. */
struct enrich_intel_hit {
    const char *indicator;
    size_t indicator_len;
    struct enrich_ioc ioc; /* ioc.source copied into the arena as well */
};

/* Lookups, valid between begin and end. now_s decides expiry. Return 1 on a
 * match (hit filled, strings in arena), 0 on none, negative TS_E_* on an
 * arena or store failure. */
int enrich_intel_match_ip(struct enrich_intel_reader *r, const struct ts_ip *ip, int64_t now_s,
                          struct ts_arena *arena, struct enrich_intel_hit *hit,
                          struct enrich_intel_counters *cnt);
int enrich_intel_match_domain(struct enrich_intel_reader *r, const char *s, size_t len,
                              int64_t now_s, struct ts_arena *arena, struct enrich_intel_hit *hit,
                              struct enrich_intel_counters *cnt);
int enrich_intel_match_url(struct enrich_intel_reader *r, const char *s, size_t len,
                           int64_t now_s, struct ts_arena *arena, struct enrich_intel_hit *hit,
                           struct enrich_intel_counters *cnt);
/* A hash field: a bare hex digest or Sysmon's "SHA1=..,MD5=..,SHA256=..,IMPHASH=..". */
int enrich_intel_match_hashes(struct enrich_intel_reader *r, const char *s, size_t len,
                              int64_t now_s, struct ts_arena *arena, struct enrich_intel_hit *hit,
                              struct enrich_intel_counters *cnt);

/* CIDR interval entries in meta "cidr4"/"cidr6": start address, end
 * address (network order bytes), int32 parent index (host order, -1 none),
 * prefix length, padding. Sorted by start, then outer before inner. */
#define INGEST_CIDR4_SIZE 16
#define INGEST_CIDR6_SIZE 40

/* Record encoding (intel.c), used by the loader. Returns the bytes written. */
#define INGEST_IOC_HDR 12
size_t enrich_ioc_encode(const struct enrich_ioc *ioc, uint8_t *out, size_t cap);
int enrich_ioc_decode(const void *p, size_t n, struct enrich_ioc *out);

#endif
