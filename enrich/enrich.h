/* enrich.h - enrichment after normalisation: GeoIP/ASN (libmaxminddb),
 * the agency's asset inventory, and threat-intel indicators (in LMDB).
 *
 * An enricher is built once from config, immutable and shared by all worker
 * threads (the .mmdb files are memory-mapped once; the intel LMDB is opened
 * read-only with one read transaction per batch); per-thread state (a small
 * fixed-size GeoIP cache, the LMDB read txn, counters) lives in an
 * enrich_scratch, which one thread uses at a time.
 *
 * Lifetimes: the names of the fields that enrich_event adds, the
 * asset.* strings and the geo strings point into the enricher (its copies of
 * the options, the inventory, the memory-mapped .mmdb). Free an enricher only
 * after every batch it enriched has been reset - as with compiled rule sets, a
 * reload builds a new one and frees the old one once the pipeline drained.
 * threat.* strings come from LMDB and are copied into the event's arena.
 */
#ifndef INGEST_ENRICH_H
#define INGEST_ENRICH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/event.h"
#include "../core/ts.h"

#define INGEST_ENRICH_MAX_FIELDS 64   /* names per list below */
#define INGEST_ENRICH_MAX_NAME 128    /* bytes per field name */

/* Field lists: NULL (with n = 0) selects the defaults shown; field names are
 * compared case-insensitively (Sigma compares field names as the source
 * spells them, but `hashes` vs `Hashes` and `Hostname` vs `hostname` both
 * occur in the wild). All strings are copied by enrich_set_create. */
struct enrich_opts {
    const char *geoip_city_db;   /* GeoLite2/GeoIP2 City (or Country) .mmdb, or NULL */
    const char *geoip_asn_db;    /* GeoLite2 ASN .mmdb, or NULL */
    /* IP fields: GeoIP, asset by address, intel IP/CIDR. Default: src_ip,
     * dst_ip, SourceIp, DestinationIp, IpAddress, c-ip, s-ip, source.ip,
     * destination.ip, client.ip, server.ip */
    const char *const *ip_fields;
    size_t nip_fields;
    /* The host that logged the event (asset by name). Default: host,
     * host.name, hostname, Computer, ComputerName, agent.hostname,
     * winlog.computer_name, dvchost */
    const char *const *host_fields;
    size_t nhost_fields;
    /* Domain names checked against intel domains. Default: QueryName,
     * DestinationHostname, cs-host, r-dns, domain, query, dns.question.name,
     * url.domain, destination.domain, server.domain, dst_host */
    const char *const *domain_fields;
    size_t ndomain_fields;
    /* URLs checked against intel URLs, and their host against domains/IPs.
     * Default: url, c-uri, cs-uri, url.original, url.full, http.url */
    const char *const *url_fields;
    size_t nurl_fields;
    /* File hashes: a bare hex digest or Sysmon's "SHA1=..,MD5=..,SHA256=..".
     * Default: Hashes, Hash, md5, sha1, sha256, file.hash.{md5,sha1,sha256},
     * process.hash.{md5,sha1,sha256} */
    const char *const *hash_fields;
    size_t nhash_fields;
    const char *assets_file;     /* YAML inventory (docs/assets.md), or NULL */
    const char *intel_db;        /* LMDB directory written by `tocsin intel load`, or NULL */
};

struct enrich_set;
struct enrich_scratch;

/* Open the databases and load the inventory named in o (each part is off
 * when its path is NULL; with all NULL the enricher does nothing, cheaply).
 * Errors fill err: a missing or corrupt .mmdb (MMDB_strerror's text), an
 * inventory error at file:line:col, an intel directory that is not one
 * (mdb_strerror's text). Returns 0, TS_E_CONFIG, TS_E_IO, TS_E_STORE,
 * TS_E_LIMIT, TS_E_NOMEM. */
int enrich_set_create(struct enrich_set **out, const struct enrich_opts *o,
                           struct ts_err *err);
void enrich_set_free(struct enrich_set *e);
/* True when some enrichment is configured. */
int enrich_set_active(const struct enrich_set *e);

int enrich_scratch_create(struct enrich_scratch **out,
                                 const struct enrich_set *e);
void enrich_scratch_free(struct enrich_scratch *s);
/* Call before/after a batch (opens/closes the intel read transaction, so a
 * concurrent `tocsin intel load` becomes visible at the next batch). A
 * failure to begin (TS_E_STORE, e.g. LMDB's reader table is full) is
 * returned once per batch and counted; that batch is enriched without intel. */
int enrich_batch_begin(struct enrich_scratch *s);
void enrich_batch_end(struct enrich_scratch *s);

/* Enrich one event; no malloc, no lock, no log line.
 * First, enrichment's namespaces are taken from the input: a field of the
 * event named asset.* or threat.* (any case), or - with GeoIP configured -
 * one of the F.geo.* / F.as.* names below for a configured IP field F, is
 * renamed input.<its name> (the name copied into the event's arena; dropped
 * when the arena is full), counted in input_reserved_renamed/_dropped. So a
 * source cannot name the system, place or indicator of its own event (an
 * event from ketoan-pc07 carrying asset.id: portal-01). This runs even when
 * nothing is configured. Then it adds:
 *  - per configured IP field F holding a global address: F.geo.country (ISO
 *    code), F.geo.country_name, F.geo.city, F.geo.lat, F.geo.lon (floats),
 *    F.as.number (int), F.as.org - those the databases know; for a private,
 *    loopback, link-local, cgnat, documentation, multicast, benchmark,
 *    broadcast, unspecified or reserved address only F.geo.scope = that word
 *    (v4 and v6; ::ffff:a.b.c.d counts as a.b.c.d);
 *  - asset.id, asset.name, asset.level (int 1-5), asset.operator,
 *    asset.managing_body: from the first host field (configured order) whose
 *    value names a system, else from the first IP field whose address falls
 *    in a system's ranges (longest prefix);
 *  - threat.matched = true, threat.indicator, threat.type (ip, cidr, domain,
 *    url, md5, sha1, sha256), threat.source, threat.confidence (int 0-100),
 *    threat.field (the event field that matched): the first match, checking
 *    IP fields, then domain, URL and hash fields, each list in configured
 *    order. Indicators whose valid_until lies before the event's time
 *    (ingest time when the event had none) are ignored.
 * Returns 0, or TS_E_NOMEM/TS_E_LIMIT when the arena or field cap is full
 * (the event keeps what was added so far). */
int enrich_event(const struct enrich_set *e, struct enrich_scratch *s,
                        struct ts_event *ev);

/* Counters of one scratch since its creation. */
struct enrich_stats {
    uint64_t events;
    /* fields of the input in enrichment's namespaces (see enrich_event):
     * renamed input.<name>, or dropped when the arena had no room for the name */
    uint64_t input_reserved_renamed, input_reserved_dropped;
    uint64_t geo_lookups, geo_cache_hits, geo_errors, geo_scoped;
    uint64_t asset_matches;
    uint64_t intel_lookups, intel_bloom_skips, intel_matches, intel_expired, intel_errors;
    uint64_t intel_batches_without_txn;
};
void enrich_scratch_stats(const struct enrich_scratch *s,
                                 struct enrich_stats *out);

/* Threat intel import (`tocsin intel load`): CSV, MISP event JSON or STIX 2.1
 * bundle, detected from content (docs/intel.md); stored with source,
 * confidence and expiry in the LMDB environment db_dir (created when
 * missing), one write transaction per file: a file is imported whole or not
 * at all. An indicator already present is replaced. Rows or attributes that
 * are not indicators we store are skipped and counted, the first one's
 * reason kept in first_skip ("file:line: why" for CSV).
 * source_name (may be NULL) overrides the source named in the file. */
#define INGEST_INTEL_STIX_MAX_CMP 64 /* comparisons read per STIX pattern */
struct enrich_intel_load_stats {
    uint64_t indicators, ips, cidrs, domains, urls, hashes, skipped, expired;
    char first_skip[320];
    /* Indicators imported only in part, the first one's reason kept in
     * first_warning ("file: indicator--...: 64 of 100 comparisons kept (at
     * most 64 per pattern)"): a STIX pattern's comparisons past the
     * INGEST_INTEL_STIX_MAX_CMP-th are left out, counted in stix_cmp_dropped. */
    uint64_t warnings, stix_cmp_dropped;
    char first_warning[320];
};
int enrich_intel_load(const char *db_dir, const char *file, const char *source_name,
                      struct enrich_intel_load_stats *st, struct ts_err *err);

/* ---------------------------------------------------------- asset inventory */

#define INGEST_ASSETS_MAX 10000        /* systems per inventory */
#define INGEST_ASSETS_MAX_NAMES 256    /* hostnames / domains / ranges per system */
#define INGEST_ASSETS_MAX_CONTACTS 32
#define INGEST_ASSETS_MAX_FILE (16u << 20)

struct enrich_asset_contact {
    char *name, *role, *email, *phone; /* NULL when absent */
};

/* One range of a system: the network and its prefix length. */
struct enrich_asset_net {
    struct ts_ip net; /* host bits zero */
    unsigned plen;    /* 0..32 or 0..128 */
};

/* One system of the inventory. Strings are owned by the inventory. */
struct enrich_asset {
    char *id, *name, *operator_, *managing_body;
    uint32_t id_len, name_len, operator_len, managing_body_len;
    int level; /* cấp độ 1..5 */
    char *route; /* "mps" / "mod" (Law 116 Art. 40.1.c: a Ministry of Defence
                    system reports to its force); NULL: the organisation's */
    const char **tenants; /* its tenants (`tenants:`), each once; none: shared */
    size_t ntenants;
    struct enrich_asset_contact *contacts;
    size_t ncontacts;
    /* As written in the file, in order (NULL with 0 when absent). */
    const char **hostnames, **domains, **ip_ranges;
    size_t nhostnames, ndomains, nip_ranges;
    const struct enrich_asset_net *nets; /* ip_ranges parsed, same order */
    size_t index;  /* its position in the file: enrich_assets_at(a, index) */
    unsigned line; /* where the entry starts in the file */
};

struct enrich_assets;

/* Load and validate docs/assets.md's format. Errors: file:line:col. An id,
 * host name, domain or range may belong to two systems only when no tenant
 * sees both at the same rank: two systems of disjoint tenants, or one
 * tenant's system and a shared one (the tenant's comes first); equal ids
 * additionally need tenants on both. escalate/ loads the inventory through
 * these functions (esc_assets_load): one parser for both users. */
int enrich_assets_load(const char *path, struct enrich_assets **out, struct ts_err *err);
int enrich_assets_load_buffer(const char *name, const char *buf, size_t len,
                              struct enrich_assets **out, struct ts_err *err);
void enrich_assets_free(struct enrich_assets *a);
size_t enrich_assets_count(const struct enrich_assets *a);
const struct enrich_asset *enrich_assets_at(const struct enrich_assets *a, size_t i);
/* The inventory's number for an event's tenant (NUL-terminated; NULL or ""
 * allowed): 0 when no system names it (and always for an inventory without
 * `tenants:`), which sees the shared systems only. One hash lookup. */
uint32_t enrich_assets_tenant(const struct enrich_assets *a, const char *tenant);
/* The lookups below are for one tenant (a number from enrich_assets_tenant):
 * among its own systems first, then among the shared ones (no `tenants:`).
 * By host name, case-insensitive: the exact name (FQDN or short) among the
 * hostnames and domains, else the first label of the given name against the
 * first labels of the hostnames (when unambiguous). NULL when none. */
const struct enrich_asset *enrich_assets_by_host(const struct enrich_assets *a, uint32_t tenant,
                                                 const char *s, size_t len);
/* Longest-prefix match of an (unmapped) address over the systems' ranges. */
const struct enrich_asset *enrich_assets_by_ip(const struct enrich_assets *a, uint32_t tenant,
                                               const struct ts_ip *ip);
/* The exact name (FQDN or short, case-insensitive, one trailing dot ignored)
 * among the hostnames and domains, no first-label match: for tokens of raw
 * text, where a first label would match too much. */
const struct enrich_asset *enrich_assets_by_host_exact(const struct enrich_assets *a,
                                                       uint32_t tenant, const char *s,
                                                       size_t len);
/* A value as text: an address (IPv4, IPv6, IPv4-mapped; no "/len") is looked
 * up by address (and only so), anything else by host name as above (exact:
 * enrich_assets_by_host_exact). The lookups of escalate/ (the system an
 * incident concerns) and of enrichment are the same code. */
const struct enrich_asset *enrich_assets_by_value(const struct enrich_assets *a, uint32_t tenant,
                                                  const char *s, size_t len, bool exact);

/* "a.b.c.d/n", "v6/n" or a bare address (plen 32/128): the one CIDR parser.
 * Returns 0 or TS_E_PARSE (also when host bits are set and strict is true). */
int enrich_cidr_parse(const char *s, size_t len, bool strict, struct ts_ip *net, unsigned *plen);

#endif
