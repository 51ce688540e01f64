/* enrich.h - enrichment after normalisation: GeoIP/ASN (libmaxminddb),
 * the agency's asset inventory, and threat-intel indicators (in LMDB).
 *
 * An enricher is built once from config, immutable and shared by all worker
 * threads (the .mmdb files are memory-mapped once; the intel LMDB is opened
 * read-only with one read transaction per batch); per-thread state (small
 * lookup caches, the LMDB read txn) lives in an ingest_enrich_scratch.
 */
#ifndef INGEST_ENRICH_H
#define INGEST_ENRICH_H

#include <stdint.h>

#include "../core/event.h"
#include "../core/ts.h"

struct ingest_enrich_opts {
    const char *geoip_city_db;   /* GeoLite2/GeoIP2 City .mmdb, or NULL */
    const char *geoip_asn_db;    /* ASN .mmdb, or NULL */
    const char *const *ip_fields; /* fields to enrich, e.g. src_ip, dst_ip, IpAddress */
    size_t nip_fields;
    const char *assets_file;     /* YAML inventory (docs/assets.md), or NULL */
    const char *intel_db;        /* LMDB directory written by `tocsin intel load`, or NULL */
};

struct ingest_enricher;
struct ingest_enrich_scratch;

int ingest_enricher_create(struct ingest_enricher **out, const struct ingest_enrich_opts *o,
                           struct ts_err *err);
void ingest_enricher_free(struct ingest_enricher *e);
int ingest_enrich_scratch_create(struct ingest_enrich_scratch **out,
                                 const struct ingest_enricher *e);
void ingest_enrich_scratch_free(struct ingest_enrich_scratch *s);
/* Call before/after a batch (opens/closes the intel read transaction). */
int ingest_enrich_batch_begin(struct ingest_enrich_scratch *s);
void ingest_enrich_batch_end(struct ingest_enrich_scratch *s);
/* Add geo.* / asn fields per configured IP field (e.g. src_ip.geo.country),
 * asset.* fields from the host or IPs, threat.* fields for intel matches.
 * Private/reserved addresses are tagged (src_ip.geo.scope = private) not
 * looked up. 0, or TS_E_NOMEM/TS_E_LIMIT when the arena is full. */
int ingest_enrich_event(const struct ingest_enricher *e, struct ingest_enrich_scratch *s,
                        struct ts_event *ev);

/* Threat intel import (`tocsin intel load`): CSV, MISP event JSON or STIX 2.1
 * bundle, detected from content; stored with source, confidence, expiry. */
struct ingest_intel_load_stats {
    uint64_t indicators, ips, cidrs, domains, urls, hashes, skipped;
};
int ingest_intel_load(const char *db_dir, const char *file, const char *source_name,
                      struct ingest_intel_load_stats *st, struct ts_err *err);

#endif
