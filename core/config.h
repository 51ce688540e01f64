/* config.h - the tocsin run configuration (YAML), as plain data.
 *
 * core knows no stage: this is only the parsed, validated document; cli turns
 * it into each stage's options. Every error names file:line:col and what is
 * expected; unknown keys are errors (with a "did you mean" when close).
 * A ts_config owns all its strings; ts_config_free releases everything.
 *
 * Schema (all sections optional except where noted):
 *
 *   kafka:
 *     brokers: "127.0.0.1:9092"        # required when topics are given
 *     group_id: tocsin                 # default "tocsin"
 *     workers: 2                       # consumer threads, 1..64
 *     batch_size: 1000                 # messages per batch, 1..100000
 *     batch_timeout_ms: 100            # 1..60000
 *     queue_batches: 4                 # bounded queue per worker, 1..1024
 *     commit_batches: 20               # run: one LMDB commit per this many batches,
 *     commit_interval_ms: 200          #   or this long after the first it holds
 *     properties:                      # passed to librdkafka as is
 *       security.protocol: SASL_SSL
 *   topics:                            # list
 *     - name: logs.syslog              # required
 *       format: auto                   # auto|rfc3164|rfc5424|json
 *       tenant: agency-a               # default tenant for this topic
 *       dead_letter: logs.syslog.dlq   # default "<name>.dlq"
 *   ingest:
 *     max_message_bytes: 1048576       # 1..67108864
 *     timezone: "+07:00"               # offset for zone-less timestamps; "UTC"
 *     default_tenant: unknown
 *   paths:
 *     data_dir: /var/lib/tocsin
 *     rules: [etc/rules]               # string or list
 *     dead_letter_file: /var/lib/tocsin/dead-letters.jsonl
 *   normalise:
 *     profiles: [etc/profiles]         # mapping profiles: string or list of files/dirs
 *     decoders: [etc/decoders]         # decoders: string or list of files/dirs
 *   enrich:
 *     geoip_city: /var/lib/GeoIP/GeoLite2-City.mmdb
 *     geoip_asn: /var/lib/GeoIP/GeoLite2-ASN.mmdb
 *     ip_fields: [src_ip, dst_ip]      # fields to enrich (default: src_ip, dst_ip)
 *     assets: etc/assets.yml           # asset inventory
 *     intel_db: /var/lib/tocsin/intel  # LMDB written by `tocsin intel load`
 *   rules:
 *     field_aliases:                   # Sigma field name -> event field name
 *       SourceIp: src_ip
 *     placeholders:                    # values for the expand modifier
 *       Admins: [administrator, root]
 *     skip_invalid: false              # true: start without invalid rules
 *   correlate:
 *     lateness: 5m                     # allowed lateness of events (event time)
 *     group:                           # single-event detections grouped into incidents
 *       - rule: 6b0f6e0e-...           # detection rule id or name
 *         by: [src_ip]                 # group-by fields (default: none = per tenant)
 *         window: 1h                   # repeats within it update the open incident
 *     incidents:                       # single detections as incidents, linked by entity
 *       levels: {critical: incident, high: incident, medium: off}   # incident|link|off
 *       rules: {6b0f6e0e-...: off}     # per detection rule (id or name), over its level
 *       window: 1h                     # link window (and repeats of a detection incident)
 *       entities:                      # entity -> event fields carrying it (first present)
 *         src_ip: [src_ip, IpAddress, SourceIp]
 *         user: [user, username, TargetUserName, User]
 *         host: [host, Computer, hostname]
 *     distributed: false               # true: correlation re-keyed through Kafka (docs/scale.md)
 *     topic: tocsin.correlate          # internal topic (default "<group_id>.correlate")
 *     partitions: 12                   # of the internal topic when it is created
 *     node: node-1                     # stable name of this process (transactional ids)
 *   retention:                         # deletes old data in bounded batches
 *     interval: 1h                     # how often (0 = never)
 *     evidence: 90d                    # default for every tenant (0 = keep)
 *     resolved: 365d                   # resolved incidents (0 = keep)
 *     outbox: 30d                      # delivered/failed escalations (0 = keep)
 *     tenants:                         # per-tenant overrides
 *       agency-a: {evidence: 30d, resolved: 180d}
 *   escalate:                          # escalations into the LMDB outbox (needs data_dir)
 *     regime: law116-2025              # preset name in regimes_dir (or circular20-2017)
 *     regimes_dir: etc/escalation
 *     taxonomy: etc/escalation/taxonomy.yml
 *     policy: etc/escalation/policy.yml
 *     org: etc/escalation/org.example.yml   # reporting organisations per tenant
 *     assets: etc/assets.example.yml   # the agencies' systems (security levels)
 *     channels: etc/escalation/channels.yml  # delivery (webhooks, Kafka, SMTP, file) and
 *                                      # the dispatcher; without it entries wait in the outbox
 *     summary: week                    # the monitoring report of each day|week|month, queued
 *                                      # once per period to the managing body (tocsin summary)
 *   http:                              # the HTTP API, metrics and health inside `run`
 *     listen: 127.0.0.1:8080           # required: HOST:PORT or [IPv6]:PORT (0: a free port)
 *     tls_cert: /etc/tocsin/cert.pem   # PEM files, both or neither: HTTPS only
 *     tls_key: /etc/tocsin/key.pem
 *     tokens: /etc/tocsin/tokens.yml   # bearer tokens (docs/api.md); none: /api/ is 401
 *     rate: 50                         # requests/s per token or client (0: no cap)
 *     body_max: 1048576                # request body cap, bytes
 *     ready_max_lag: 100000            # /readyz: consumer lag (messages) above it: 503
 *   log:
 *     level: info                      # error|warning|info|debug
 */
#ifndef TS_CONFIG_H
#define TS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ts.h"

struct ts_tz;

struct ts_config_topic {
    char *name;
    char *format;      /* as written; validated against the list above */
    char *tenant;      /* NULL when not set */
    char *dead_letter; /* NULL when not set */
    char **tenants;    /* tenants the "tenant" header may name; NULL/0: none */
    size_t ntenants;
    bool any_tenant;   /* tenants: "*": the header is trusted as it is */
    struct ts_tz *tz;  /* timezone: for this topic's zone-less times; NULL: ingest's */
    unsigned line, col;
};

/* correlate.incidents modes (the values of enum corr_incident_mode) */
#define TS_CFG_INC_OFF 1
/* kafka.commit_batches / commit_interval_ms by default */
#define TS_CFG_COMMIT_BATCHES 20
#define TS_CFG_COMMIT_INTERVAL_MS 200
#define TS_CFG_INC_LINK 2
#define TS_CFG_INC_OPEN 3

struct ts_config {
    char *path;
    struct {
        char *brokers;  /* NULL when not set */
        char *group_id;
        int workers;
        uint32_t batch_size;
        int batch_timeout_ms;
        uint32_t queue_batches;
        uint32_t commit_batches;  /* run: LMDB (then Kafka) commit per N batches, 1..1000 */
        int commit_interval_ms;   /* ... or T ms after the first batch held, 1..60000 */
        char **props;   /* "name=value" strings */
        size_t nprops;
    } kafka;
    struct ts_config_topic *topics;
    size_t ntopics;
    struct {
        size_t max_message_bytes;
        int tz_offset_sec;
        char *default_tenant;
        int64_t max_future_ns; /* 0: default (5 min); -1: off */
        int64_t silent_after_ns; /* a host quiet for longer is reported; 0: off */
        struct ts_tz *tz;      /* ingest.timezone (NULL: UTC); tz_offset_sec when fixed */
        struct ts_config_host_zone {
            char *pattern;     /* glob on the event's host, case-insensitive */
            struct ts_tz *tz;
        } *hosts;
        size_t nhosts;
    } ingest;
    struct {
        char *data_dir;
        char **rules;
        size_t nrules;
        char *dead_letter_file;
    } paths;
    struct {
        char **profiles;
        size_t nprofiles;
        char **decoders;
        size_t ndecoders;
    } normalise;
    struct {
        char *geoip_city;
        char *geoip_asn;
        char **ip_fields;
        size_t nip_fields;
        char *assets;
        char *intel_db;
    } enrich;
    struct {
        char **alias_from; /* Sigma names */
        char **alias_to;   /* event field names */
        size_t naliases;
        struct ts_config_placeholder {
            char *name;
            char **values;
            size_t nvalues;
        } *placeholders;
        size_t nplaceholders;
        bool skip_invalid; /* start without invalid rules (else refuse to start) */
    } rules;
    struct {
        int64_t lateness_ns; /* 0: the engine's default (5 min) */
        struct ts_config_group {
            char *rule;
            char **by;
            size_t nby;
            int64_t window_ns;
            unsigned line, col;
        } *groups;
        size_t ngroups;
        /* single detections as incidents, linked by entity (correlate.h:
         * enum corr_incident_mode has the same values) */
        struct {
            uint8_t levels[6]; /* by level: none, informational .. critical; 0 = default */
            struct ts_config_rule_mode {
                char *rule;
                uint8_t mode;  /* TS_CFG_INC_* */
            } *rules;
            size_t nrules;
            int64_t window_ns; /* 0: the engine's default (1 h) */
            struct ts_config_entity {
                char *name;
                char **fields;
                size_t nfields;
            } *entities;
            size_t nentities;  /* 0: the engine's default entities */
        } incidents;
        /* the re-keyed mode over Kafka (docs/scale.md) */
        bool distributed;
        unsigned dist_line, dist_col; /* where it was set (run's checks) */
        char *topic;    /* internal topic; NULL: "<kafka.group_id>.correlate" */
        int partitions; /* of the internal topic when created; 0: 12 */
        char *node;     /* this process's name in transactional ids; NULL: derived
                           from the host name and paths.data_dir */
    } correlate;
    struct {
        int64_t interval_ns, evidence_ns, resolved_ns, outbox_ns;
        struct ts_config_retention {
            char *tenant;
            int64_t evidence_ns, resolved_ns;
        } *tenants;
        size_t ntenants;
    } retention;
    struct {
        char *regime, *regimes_dir, *taxonomy, *policy, *org, *assets, *channels; /* NULL: unset */
        char *summary; /* day|week|month: the monitoring report each period; NULL: none */
        bool enabled; /* the section is present */
    } escalate;
    struct {
        char *listen, *tls_cert, *tls_key, *tokens; /* NULL: unset */
        long long rate;          /* requests/s per token; -1: unset (the server's
                                    default), 0: no cap */
        size_t body_max;         /* 0: the server's default */
        long long ready_max_lag; /* default 100000 */
        bool enabled;            /* the section is present (then listen is set) */
    } http;
    struct {
        char *level;
    } log;
};

/* Load and validate. On error returns TS_E_CONFIG (or TS_E_IO / TS_E_PARSE)
 * with err set to the first problem, and *out NULL. */
int ts_config_load(const char *path, struct ts_config **out, struct ts_err *err);
/* Same from a buffer; name is used in error messages. */
int ts_config_load_buffer(const char *name, const char *buf, size_t len, struct ts_config **out,
                          struct ts_err *err);
void ts_config_free(struct ts_config *c);
/* "+07:00", "-0530", "UTC", "Z" -> seconds east of UTC. 0 or TS_E_INVAL. */
int ts_tz_offset_parse(const char *s, int *out);

#endif
