/* correlate.h - Sigma correlation rules over event time: detections in,
 * incidents (with evidence) out, all state exportable per key for storage/.
 *
 * Life cycle
 *   corr_engine_create(&c, rule_set, opts, report, err)   compile; problems in report
 *   corr_state_import(c, key, val) ...                     restore (every stored key), once
 *   loop per input batch:
 *       corr_batch_begin(c)
 *       corr_feed(c, rule_idx, ev) ...                     per (event, matching rule)
 *       corr_batch_end(c, &out)                            incidents, evidence, dirty state
 *       -> one storage transaction: out.state (put or delete), out.incidents,
 *          out.evidence and the batch's input offsets; then commit the offsets
 *   corr_engine_destroy(c)
 *
 * Threads: an engine is NOT thread-safe. One engine serves all workers; the
 * runtime takes one mutex around begin ... feed ... end of a batch (matching
 * itself runs unlocked in the workers, which collect (rule index, event) pairs
 * and feed them under the lock). Per-worker engines partitioned by group key
 * are not possible here because Kafka partitions follow the source, not the
 * group key; across processes DESIGN.md re-keys through a Kafka topic.
 *
 * Determinism: the engine never reads a clock. Windows, watermarks, episodes
 * and evictions are functions of the fed sequence only, so the same input
 * gives the same incidents whether it is fed in one batch (replay) or in many
 * batches with export/import restarts in between (live).
 *
 * Memory: everything the engine returns is borrowed and valid until the next
 * corr_batch_begin() or corr_engine_destroy(), unless said otherwise.
 */
#ifndef CORRELATE_H
#define CORRELATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/event.h"
#include "../core/ts.h"
#include "../rules/rules.h"

/* Hard caps (hostile rules and hostile input). */
#define CORR_MAX_RULES_REF 64     /* rules: entries of one correlation */
#define CORR_MAX_GROUP_BY 16      /* group-by fields */
#define CORR_MAX_FIELDS 8         /* condition field: entries */
#define CORR_MAX_CHAIN 16         /* correlations over correlations, depth */
#define CORR_MAX_KEY_BYTES 4096   /* tenant + rendered group key */
#define CORR_MAX_SOURCES 65536    /* watermark partitions (topic/partition or file) */
#define CORR_MAX_VALUE_BYTES 256  /* a distinct value as shown in an incident; a longer
                                     group value is keyed by its head and its SHA-256 */
#define CORR_MAX_NAME_BYTES 65536 /* a state key name (rule, tenant, key) */

/* Plain-rule grouping (issue 5 item 3): single-event detections of a rule
 * become incidents per group key; detections within window_ns of the
 * previous one for the same key update the open incident. */
struct corr_grouping {
    const char *rule;                 /* id or name of a detection rule */
    const char *const *group_by;      /* event field names; may be 0 */
    size_t ngroup_by;
    int64_t window_ns;                /* > 0 */
};

/* Single detections as incidents, linked by entity (issue 10 item 5).
 * A detection rule's mode comes from corr_opts.rule_modes, else from its
 * level (corr_opts.level_modes): OPEN - a detection becomes an incident of
 * its own (type "detection", grouped by the entities it carries, repeats
 * within the link window update it) unless it can join an open incident
 * that shares an entity; LINK - it only joins such an incident; OFF -
 * neither. Default: critical and high OPEN, the others OFF. Rules in
 * corr_opts.groupings, and rules only their correlations may alert on
 * (corr_detection_standalone false), are OFF unless rule_modes names them. */
enum corr_incident_mode {
    CORR_INC_DEFAULT = 0, /* the level's default */
    CORR_INC_OFF,
    CORR_INC_LINK,
    CORR_INC_OPEN,
};

struct corr_rule_mode {
    const char *rule;      /* id or name of a detection rule */
    uint8_t mode;          /* enum corr_incident_mode, not DEFAULT */
};

/* An entity: a name (as incidents show it) and the event fields that carry
 * it, the first present one wins (e.g. user: [user, username]). A
 * correlation's group-by field whose name is the entity's name or one of
 * its fields makes the correlation's incidents carry that entity. */
struct corr_entity {
    const char *name;
    const char *const *fields;
    size_t nfields;
};
#define CORR_MAX_ENTITIES 8
#define CORR_MAX_ENTITY_FIELDS 8

struct corr_opts {
    int64_t lateness_ns;        /* allowed lateness; 0 = default 5 min; < 0 = none */
    int64_t idle_ns;            /* a source whose watermark trails the newest
                                   one by more is ignored for eviction; 0 = 1 h */
    int64_t amend_horizon_ns;   /* how long after its window an incident stays
                                   in memory to be amended by late events; 0 = 1 h */
    uint32_t max_keys_per_rule; /* live group keys per rule; 0 = 4M */
    uint32_t max_keys_per_tenant; /* live group keys of one tenant, all rules; 0 = 2M */
    uint32_t max_entries_per_key; /* events kept per key window; 0 = 4096 */
    uint32_t max_values;        /* distinct values kept per incident; 0 = 16 */
    uint32_t evidence_raw_max;  /* raw lines kept per incident; 0 = 10 */
    uint32_t raw_max_bytes;     /* bytes of one raw kept; 0 = 4096 */
    const struct corr_grouping *groupings;
    size_t ngroupings;
    /* Same field mapping as rule_load_opts.aliases (config): group-by and
     * condition fields are renamed like detection fields. */
    const struct rule_field_alias *field_aliases;
    size_t nfield_aliases;
    /* No store behind the engine (replay in memory): corr_batch_end leaves
     * corr_batch.state empty instead of exporting every changed key.
     * corr_state_export() still works. */
    bool no_state_export;
    /* An event field copied into the evidence of each new event
     * (corr_evidence.attr), e.g. "asset.id" for the escalation to find the
     * affected system; NULL: none. The string must outlive the engine. */
    const char *evidence_attr;
    /* Detections as incidents and linking (see enum corr_incident_mode).
     * level_modes is indexed by enum corr_severity; 0 = the default. */
    uint8_t level_modes[6];
    const struct corr_rule_mode *rule_modes;
    size_t nrule_modes;
    /* A detection joins an incident sharing an entity when its time lies
     * within this much of the incident's first/last seen; also the window
     * of a detection incident's repeats. 0 = 1 h. */
    int64_t link_window_ns;
    /* Entities; NULL = src_ip [src_ip], user [user, username],
     * host [host]. Strings must outlive the engine. */
    const struct corr_entity *entities;
    size_t nentities;
};

/* Problems use the loader's record: file:line:col, rule id, message. */
struct corr_report {
    size_t loaded;      /* correlation rules compiled */
    size_t invalid;
    size_t unsupported;
    struct rule_problem *problems; /* owned; free with corr_report_free */
    size_t nproblems;
};
void corr_report_free(struct corr_report *r);

struct corr_engine;

/* Compile every correlation rule of rs (and opts->groupings). A rule with a
 * problem is left out, and so is every correlation that refers to it (named
 * in the problem); the others load. Takes a reference on rs.
 * Returns 0 (even with problems in report), TS_E_NOMEM, or TS_E_CONFIG when a
 * grouping in opts is wrong (err says which). report may be NULL. */
int corr_engine_create(struct corr_engine **out, struct rule_set *rs, const struct corr_opts *o,
                       struct corr_report *report, struct ts_err *err);
void corr_engine_destroy(struct corr_engine *c); /* NULL ok */

/* Compiled correlations (and groupings), for listing. */
size_t corr_rule_count(const struct corr_engine *c);
const struct rule_info *corr_rule_info(const struct corr_engine *c, size_t i);

/* false when detection rule idx is referenced only by correlations without
 * `generate: true` (Sigma: then only the correlation alerts); true for rules
 * no correlation refers to. The runtime uses it to mute standalone alerts. */
bool corr_detection_standalone(const struct corr_engine *c, size_t rule_idx);
/* The detection rule idx of the set the engine was built over (id, title,
 * level), NULL when out of range. Valid while the engine lives. */
const struct rule_info *corr_detection_info(const struct corr_engine *c, size_t rule_idx);

/* ------------------------------------------------------------ feeding */

void corr_batch_begin(struct corr_engine *c);

/* One detection: detection rule rule_idx (rule_set_info index) matched ev.
 * Uses ev->time_ns, tenant, src (watermark partition and evidence
 * reference), raw and the group-by/value fields; ev is only read during the
 * call. Returns 0, or TS_E_NOMEM (the engine stays consistent; the detection
 * is lost and counted). A rule no correlation uses costs one array lookup. */
int corr_feed(struct corr_engine *c, size_t rule_idx, const struct ts_event *ev);

/* rule_match_fn adaptor: ctx is the engine. */
int corr_match_cb(void *ctx, const struct ts_event *ev, size_t rule_idx);

/* ------------------------------------------------ re-keyed feeding
 * The distributed mode (docs/scale.md) sends each detection once per
 * correlation input that uses it to the process that owns its group key,
 * which feeds that input alone. A "use" of detection rule rule_idx is one
 * correlation (or grouping) that takes it, in a fixed order, then - when
 * its detections are incidents (corr_opts modes) - its detection incident.
 * Same thread rules as corr_feed. */

/* A Kafka source named "<topic>" CORR_LANE_SEP "<lane>" is watermarked
 * apart from the same topic/partition under other lanes, while evidence and
 * the late counters show "<topic>": the re-keyed mode gets one source
 * partition's events through several internal partitions, each in order,
 * with any skew between them, so each (source partition, internal
 * partition) is a lane of its own. */
#define CORR_LANE_SEP '\x1f'

/* How many uses rule_idx has (0: correlation never reads it). */
size_t corr_use_count(const struct corr_engine *c, size_t rule_idx);
/* The state key name of the rule of a use (a correlation's id, else name,
 * else title; "d:<rule>" for a detection incident); NULL when out of range.
 * Borrowed from the engine. */
const char *corr_use_name(const struct corr_engine *c, size_t rule_idx, size_t use);
/* The use of rule_idx whose rule has that name, or -1. */
long corr_use_find(const struct corr_engine *c, size_t rule_idx, const char *name);
/* Append the routing key of (use, ev) to out: the use's name, NUL, then the
 * group key exactly as the engine keys its state (tenant NUL, the group-by
 * values; entities for a detection incident), or the tenant alone when ev
 * has no complete group key (the owner counts it as the engine does).
 * 0, TS_E_INVAL (no such use), or the buffer's error. */
int corr_use_key(struct corr_engine *c, size_t rule_idx, size_t use, const struct ts_event *ev,
                 struct ts_buf *out);
/* corr_feed restricted to one use: the watermark of ev's source moves as
 * with corr_feed; only that use's rule sees the detection. TS_E_INVAL for
 * a use out of range. */
int corr_feed_use(struct corr_engine *c, size_t rule_idx, size_t use, const struct ts_event *ev);
/* Does any loaded rule, entity or the evidence attribute read the event
 * field of this name? (What a re-keyed record must carry.) */
bool corr_field_used(const struct corr_engine *c, const char *name, size_t len);

/* ---------------------------------------------------------- incidents */

enum corr_severity {
    CORR_SEV_NONE = 0,
    CORR_SEV_INFORMATIONAL,
    CORR_SEV_LOW,
    CORR_SEV_MEDIUM,
    CORR_SEV_HIGH,
    CORR_SEV_CRITICAL,
};
const char *corr_severity_name(int sev);

/* One incident, as of the end of the batch. */
struct corr_incident {
    char id[33];            /* 32 hex: hash of rule key + tenant + group key + episode start */
    bool created;           /* first emitted in this batch */
    const char *rule_id;    /* correlation (or grouped rule) id, else name, else title */
    const char *rule_title;
    const char *rule_type;  /* "event_count", ..., "grouping" */
    int severity;           /* enum corr_severity; never goes down */
    const char *tenant;
    const char *const *group_fields; /* group-by names (the rule's) */
    const char *const *group_values; /* their values, as text */
    size_t ngroup;
    int64_t episode_start;  /* ns: first event of the first satisfying window */
    int64_t first_seen, last_seen;
    uint64_t count;         /* contributing events (incl. late amendments) */
    uint64_t late;          /* of count: events beyond the lateness allowance */
    const char *value_field;   /* value_count: the condition field (the first of a
                                  list), as the rule names it; else NULL */
    const char *const *values; /* distinct values of the condition field(s) */
    size_t nvalues;
    bool values_capped;     /* more distinct values than kept */
    const char *const *tags;   /* attack.* tags of the rule and the rules it uses */
    size_t ntags;
    uint64_t linked;        /* of count: detections of other rules attached by entity */
    /* An incident emitted earlier that no longer exists: an event within
     * the lateness allowance changed the windows so that, in time order,
     * this episode never formed (its events count in another incident of
     * the same key, or in none). The store deletes it. */
    bool retracted;
};

/* Reference to one contributing event. */
struct corr_evidence {
    char incident[33];      /* incident id; "" for a late event no incident covers */
    int64_t time_ns;
    uint8_t kind;           /* enum ts_src_kind */
    const char *source;     /* topic or file */
    int32_t partition;
    int64_t offset;         /* Kafka offset, or file line */
    const char *raw;        /* NULL when not kept (bounded per incident) */
    uint32_t raw_len;
    bool late;              /* beyond the lateness allowance */
    bool linked;            /* a detection attached by entity (rule_id: its rule) */
    const char *rule_id;    /* the correlation rule (id, else name/title), for
                               the store to keep a late event no incident covers;
                               for linked evidence the detection rule; else NULL */
    const char *sub_rule;   /* the input rule of the correlation the event came
                               through (detection or correlation: id, else name,
                               else title); NULL for linked and orphaned evidence */
    const char *tenant;     /* its tenant (those late events are kept per tenant) */
    const char *attr;       /* corr_opts.evidence_attr of the event, or NULL */
};

/* One changed state key: put val, or delete the key when deleted. */
struct corr_state_item {
    const void *key;
    size_t key_len;
    const void *val;
    size_t val_len;
    bool deleted;
};

struct corr_batch {
    const struct corr_incident *incidents; size_t nincidents;
    const struct corr_evidence *evidence; size_t nevidence;
    const struct corr_state_item *state; size_t nstate;
};

/* Called from corr_batch_end for each incident created or updated in the
 * batch (before corr_batch_end returns). A non-zero return stops the calls
 * and is returned by corr_batch_end (the batch output stays valid). */
typedef int (*corr_incident_fn)(void *ctx, const struct corr_incident *inc);
void corr_set_incident_cb(struct corr_engine *c, corr_incident_fn fn, void *ctx);

/* Close the batch: evict expired state (a bounded slice per call), build the
 * incidents and evidence of the batch and export every changed state key.
 * out is valid until the next corr_batch_begin. Returns 0, TS_E_NOMEM, or
 * what the incident callback returned. */
int corr_batch_end(struct corr_engine *c, struct corr_batch *out);
/* End a batch without output: its incidents, evidence and changed keys are
 * kept and come out of the next corr_batch_end together with that batch's
 * (as if both had been one batch). A runtime that commits its store less
 * often than it reads batches (replay) holds the batches in between. */
void corr_batch_hold(struct corr_engine *c);

/* Append an incident as one JSON object (no newline). */
int corr_incident_json(const struct corr_incident *inc, struct ts_buf *out);
int corr_evidence_json(const struct corr_evidence *ev, struct ts_buf *out);

/* -------------------------------------------------------------- state */

/* Export one state key (as listed in corr_batch.state) into out (appended).
 * TS_E_NOTFOUND when the key holds no state. */
int corr_state_export(const struct corr_engine *c, const void *key, size_t key_len,
                      struct ts_buf *out);
/* Restore one key exported earlier (by this or a previous process). Import
 * every stored key before the first corr_feed, in any order. Returns 0,
 * TS_E_NOTFOUND when the key belongs to a correlation rule that is no longer
 * loaded (the runtime may delete it), TS_E_PARSE on corrupt bytes,
 * TS_E_LIMIT past a cap, TS_E_NOMEM. */
int corr_state_import(struct corr_engine *c, const void *key, size_t key_len, const void *val,
                      size_t val_len);

/* Drop from memory every key whose name (unhashed, as corr_state_export
 * reads it: 'k' rule NUL group key) drop(ctx, name, len) says true for.
 * Nothing is exported for them: the store keeps what it has (the
 * distributed mode forgets the keys of a partition that moved away, and
 * imports them again when it comes back). Between batches only (after
 * corr_batch_end, before the next corr_feed). Returns the keys dropped, or
 * a negative TS_E_NOMEM. Source watermarks are kept (they only rise). */
long corr_state_drop(struct corr_engine *c,
                     bool (*drop)(void *ctx, const void *name, size_t len), void *ctx);

/* ------------------------------------------------------------ metrics */

/* Late detections by source: those that reached a correlation (or a
 * detection incident) beyond the lateness allowance of their source, by
 * source name (the Kafka topic, or the file) and tenant; a detection is
 * counted once however many correlations use it. Pairs beyond
 * CORR_LATE_SOURCES_MAX are counted under source and tenant "(other)". */
#define CORR_LATE_SOURCES_MAX 1024
struct corr_late_source {
    char source[256]; /* cut at 255 bytes */
    char tenant[TS_TENANT_MAX + 1];
    uint64_t late;
};
/* A copy (*out malloc'ed, free() it; NULL with *n = 0 when none). 0 or
 * TS_E_NOMEM. Same thread rules as corr_metrics_get. */
int corr_late_sources(const struct corr_engine *c, struct corr_late_source **out, size_t *n);
/* Add counts (a reload carries the old engine's into the new one). */
void corr_late_sources_add(struct corr_engine *c, const struct corr_late_source *v, size_t n);

struct corr_metrics {
    uint64_t detections;        /* corr_feed calls that reached a correlation */
    uint64_t late_within;       /* out of order, within the allowance */
    uint64_t late_beyond;       /* beyond it: kept as evidence only */
    uint64_t late_amended;      /* of late_beyond: amended an incident */
    uint64_t late_orphaned;     /* of late_beyond: no incident to amend */
    uint64_t missing_group_field; /* detections without a group-by field */
    uint64_t missing_value;     /* value_* detections without a usable value */
    uint64_t keys_live;
    uint64_t keys_cap_hit;      /* detections refused: key cap of the rule */
    uint64_t tenant_keys_cap_hit; /* detections refused: key cap of their tenant */
    uint64_t bad_tenant;        /* detections refused: tenant not a valid id (see core) */
    uint64_t values_hashed;     /* group values over CORR_MAX_VALUE_BYTES keyed by hash */
    uint64_t state_keys_hashed; /* state keys over the store's key size, stored hashed */
    uint64_t entries_cap_hit;   /* oldest window entries dropped: per-key cap */
    uint64_t keys_evicted;
    uint64_t incidents_created, incidents_updated;
    uint64_t incidents_retracted; /* emitted, then undone by an event within the allowance */
    uint64_t rewinds;           /* keys re-evaluated from an out-of-order event */
    uint64_t detections_opened; /* detections that opened or updated their own incident */
    uint64_t detections_linked; /* detections attached to an incident by entity */
    uint64_t values_capped;     /* incidents whose distinct values hit the cap */
    uint64_t nomem;
    int64_t watermark_ns;       /* eviction watermark (min over live sources) */
    uint64_t state_bytes;       /* approx. heap bytes held by key state */
};
void corr_metrics_get(const struct corr_engine *c, struct corr_metrics *out);

/* Live keys and cap hits of each tenant the engine has seen (up to max
 * entries into out, in first-seen order); returns how many tenants there
 * are. Names are copied. Same thread as the engine. */
struct corr_tenant_stat {
    char tenant[TS_TENANT_MAX + 1];
    uint64_t live_keys;
    uint64_t cap_hits;
};
size_t corr_tenant_stats(const struct corr_engine *c, struct corr_tenant_stat *out, size_t max);

#endif
