/* corr_int.h - internals shared by the correlate/ sources: compiled correlation rules,
 * per-key window state, incidents, the engine. Not thread-safe (see
 * correlate.h). */
#ifndef CORR_INT_H
#define CORR_INT_H

#include "../core/arena.h"
#include "../core/varint.h"
#include "correlate.h"

enum ctype {
    CT_EVENT_COUNT = 0,
    CT_VALUE_COUNT,
    CT_TEMPORAL,
    CT_TEMPORAL_ORDERED,
    CT_VALUE_SUM,
    CT_VALUE_AVG,
    CT_VALUE_PERCENTILE,
    CT_GROUPING, /* plain-rule grouping (opts), event_count >= 1 */
    CT_DETECTION, /* a detection rule's own incidents (issue 10 item 5): grouped by the
                     entities the event carries (absent ones left out), event_count >= 1
                     over the link window */
};
extern const char *const corr_type_names[];

enum cop { OP_GT, OP_GTE, OP_LT, OP_LTE, OP_EQ, OP_NEQ };

struct ccond {
    uint8_t op;
    double v;
};

/* An input of a correlation: a detection rule or another correlation. */
struct cref {
    bool is_corr;
    size_t idx; /* rule_set_info index, or index into engine->rules */
    const char *name; /* as written */
    /* per group-by field: the event field name for events of this input
     * (aliases resolved, config mapping applied) */
    const char *gfield[CORR_MAX_GROUP_BY];
    uint32_t glen[CORR_MAX_GROUP_BY];
    const char *vfield[CORR_MAX_FIELDS];
    uint32_t vlen[CORR_MAX_FIELDS];
};

struct crule {
    enum ctype type;
    const struct rule_info *info; /* borrowed from the rule set (or built for groupings) */
    struct rule_info ginfo;       /* groupings: copy of the grouped rule's info */
    const char *skey;             /* state key prefix: id, else name, else title */
    int64_t span;                 /* ns */
    struct ccond conds[6];
    size_t nconds;
    double percentile;            /* value_percentile: 0..100 */
    bool generate;
    int severity;
    struct cref *refs;            /* nrefs (<= CORR_MAX_RULES_REF), in carena */
    size_t nrefs;
    const char *group[CORR_MAX_GROUP_BY]; /* group-by names as written */
    size_t ngroup;
    int8_t gent[CORR_MAX_GROUP_BY]; /* entity (corr_engine.ents) of each group-by field; -1 */
    bool linkable;                /* some group-by field is an entity */
    size_t nfields;               /* condition field: entries */
    const char *value_field;      /* value_count: the condition field as written (the
                                     first of a list); in the set's YAML; else NULL */
    const char **tags;            /* attack.* tags, deduplicated */
    size_t ntags;
    size_t depth;                 /* chain depth (0 = only detection inputs) */
    uint64_t live_keys;
    /* consumers: correlations fed by this one */
    struct cuse *uses;
    size_t nuses;
};

/* "rule r consumes input slot s" */
struct cuse {
    uint32_t rule;
    uint32_t slot;
};

/* One detection in a key's window. Entries are kept in time order; equal
 * times in input-slot order (temporal_ordered reads them so). */
struct cent {
    int64_t t;
    int64_t off;      /* Kafka offset or file line */
    uint16_t src;     /* engine source index (< CORR_MAX_SOURCES) */
    uint8_t slot;     /* input (refs index) */
    uint8_t flags;    /* CE_JOINED */
    uint32_t eseq;    /* seq of the incident its evidence went to; 0 none */
    union {
        double num;   /* value_sum / avg / percentile */
        uint64_t h;   /* value_count: hash of the value tuple */
    } v;
};
#define CE_JOINED 1u

struct cval {
    uint64_t h;
    uint32_t len;
    char s[];
};

struct cinc {
    uint64_t id_hi, id_lo;
    int64_t episode, first, last; /* first/last: of the window events (and late ones) */
    uint64_t count, late;
    uint64_t linked;    /* of count: detections attached by entity (corr_link) */
    int64_t lfirst, llast; /* their time range (when linked) */
    uint32_t nraw;
    uint32_t seq;       /* per key: which incident an entry's evidence went to */
    uint8_t severity;
    bool values_capped;
    bool emitted;       /* has been emitted at least once */
    bool dirty;         /* changed in this batch */
    uint16_t nvals;
    struct cval **vals;
};

/* One satisfied window of a key, kept while an event within the lateness
 * allowance could still arrive before its end: such an event rewinds the
 * key to the state before the first window it changes and evaluates the
 * windows from there again, so that the result is that of in-order arrival
 * (engine.c: key_changed). */
struct csat {
    int64_t te;           /* window end */
    int64_t last_before;  /* the incident's last before this window joined */
    uint32_t njoined;     /* entries it joined */
    uint16_t nvals_before;
    uint8_t flags;        /* CS_* */
    struct cinc *retired; /* CS_EPISODE: the incident it replaced (kept for a rewind) */
};
#define CS_EPISODE 1u     /* this window started a new incident */
#define CS_CAPPED 2u      /* values_capped was set before it */

/* The journal of a key that has had an incident: its satisfied windows
 * newer than the eviction bound (older ones can no longer be rewound). */
struct cjournal {
    uint32_t n, cap;
    int64_t trim_hi;      /* newest window end dropped from the journal; INT64_MIN none */
    uint32_t iseq;        /* seq of the newest incident of the key */
    struct csat s[];
};

struct ckey {
    uint64_t hash;
    uint32_t rule;
    uint32_t klen;      /* bytes of kb: tenant NUL, then (varint len, bytes) per group value */
    struct cent *ent;
    uint32_t n, cap;
    struct cinc *inc;
    struct cjournal *j; /* NULL until the key's first incident */
    struct cval **vals; /* value_count: display strings (capped) */
    uint16_t nvals;
    bool dirty;
    bool indexed;       /* in the entity index (corr_engine.eidx) */
    uint32_t sid;       /* source of the last event fed; CORR_NO_SOURCE when unknown
                           (restored): eviction follows this source's own time */
    uint32_t tid;       /* index in corr_engine.tenants (set by corr_key_insert) */
    char kb[];
};
#define CORR_NO_SOURCE UINT32_MAX

struct ctenant {
    char name[TS_TENANT_MAX + 1];
    uint64_t hash;
    uint64_t live_keys;
    uint64_t cap_hits;
};
#define CORR_MAX_TENANTS 65536

struct ctab_slot {
    uint64_t hash; /* k->hash; meaningless when k is NULL */
    struct ckey *k;
};

struct csource {
    char *name;
    const char *show;   /* the name evidence and counters show: name up to a
                           CORR_LANE_SEP (Kafka only), in name's allocation */
    uint64_t hash;
    int32_t partition;
    uint8_t kind;
    bool dirty;
    int64_t max_t;      /* newest event time seen; INT64_MIN none */
};

/* An entity as compiled: name and fields (corr_opts.entities). */
struct centity {
    const char *name;
    const char *fields[CORR_MAX_ENTITY_FIELDS];
    uint32_t flen[CORR_MAX_ENTITY_FIELDS];
    size_t nfields;
};

/* Entity index: (tenant, entity, value) -> keys whose incidents carry it.
 * A multimap by hash (open addressing); the key is checked on lookup. */
struct ceslot {
    uint64_t h;
    struct ckey *k; /* NULL: empty */
};

/* Rewind scratch: windows a rewind undid (for the correlations they fed). */
struct cpop {
    int64_t te;
    bool hit; /* satisfied again */
};

struct corr_engine {
    struct rule_set *rs;
    struct corr_opts o;
    struct ts_arena *carena;  /* compiled strings */
    struct crule *rules;
    size_t nrules;
    /* per detection rule: consumers */
    struct cuse **det_uses;
    size_t *det_nuses;
    bool *det_standalone;
    size_t ndet;
    /* detections as incidents, linking (issue 10 item 5) */
    uint8_t *dmode;           /* per detection rule: CORR_INC_OFF/LINK/OPEN */
    uint32_t *drule;          /* its CT_DETECTION rule (index), or UINT32_MAX */
    struct centity ents[CORR_MAX_ENTITIES];
    size_t nents;
    bool linking;             /* some rule may link: the entity index is kept */
    int64_t link_ns;
    struct ceslot *eidx;
    size_t eidxcap, neidx;
    /* rule by state key prefix (import) */
    uint32_t *skidx;          /* 1 + rule index; 0 empty */
    size_t skidxcap;
    /* rewinds nest through correlation chains: stacks */
    struct cpop *pop;
    size_t npop, popcap;
    struct cinc **limbo;      /* incidents a rewind undid, until it ends */
    size_t nlimbo, limbocap;
    /* key table: open addressing, power of two; each slot keeps the key's
     * hash beside the pointer so that probing does not touch other keys */
    struct ctab_slot *tab;
    size_t tabcap, nkeys;
    size_t sweep_pos;
    /* tenants: live keys per tenant, so that one agency's flood cannot use
     * up the key caps of the others (issue 17); open addressing by name */
    struct ctenant *tenants;
    size_t ntenants, tenantcap;
    uint32_t *tenant_idx;     /* 1 + index into tenants; 0 empty */
    size_t tenant_idxcap;
    /* sources / watermark */
    struct csource *src;
    size_t nsrc, srccap;
    /* late detections by (source name, tenant): grown only for a new pair */
    struct corr_late_source *late_src;
    size_t nlate_src, late_src_cap, late_last;
    int64_t wm;          /* min over non-idle sources of newest - lateness */
    int64_t floor;       /* monotone lower bound of wm (newest - idle - lateness): sweeps */
    /* batch */
    struct ckey **dirty;
    size_t ndirty, dirtycap;
    struct corr_incident *incs;
    size_t nincs, inccap;
    struct corr_evidence *evs;
    size_t nevs, evcap;
    struct corr_state_item *items;
    size_t nitems, itemcap;
    struct ts_arena *barena;  /* batch strings */
    struct ts_buf sbuf;       /* exported state bytes of the batch */
    bool out_done;            /* outputs handed out: clear before the next change */
    corr_incident_fn cb;
    void *cbctx;
    /* scratch */
    char kbuf[CORR_MAX_KEY_BYTES];
    char vbuf[CORR_MAX_VALUE_BYTES];
    uint64_t *hset;
    size_t hsetcap;
    double *nums;
    size_t numscap;
    struct corr_metrics m;
    uint64_t state_bytes;
};

/* compile.c */
int corr_compile(struct corr_engine *c, struct corr_report *rep, struct ts_err *err);
void corr_rules_free(struct corr_engine *c);
int corr_level_severity(const char *level);
long corr_rule_by_skey(const struct corr_engine *c, const char *skey, size_t len);

/* engine.c */
uint64_t corr_hash(const void *p, size_t n, uint64_t seed);
struct ckey *corr_key_find(struct corr_engine *c, uint32_t rule, const char *kb, size_t klen,
                           uint64_t h);
int corr_key_insert(struct corr_engine *c, struct ckey *k);
void corr_key_free(struct corr_engine *c, struct ckey *k);
void corr_key_drop(struct corr_engine *c, struct ckey *k); /* remove from the table and free */
uint64_t corr_key_hash(uint32_t rule, const char *kb, size_t klen);
int corr_source_intern(struct corr_engine *c, uint8_t kind, const char *name, size_t nlen,
                       int32_t part, uint32_t *out);
void corr_wm_recompute(struct corr_engine *c);
int corr_mark_dirty(struct corr_engine *c, struct ckey *k);
void corr_sweep(struct corr_engine *c, size_t slots);
/* The rule as incidents and late events name it: id, else name, else title. */
static inline const char *corr_rule_label(const struct crule *cr)
{
    const struct rule_info *ri = cr->info;
    return ri->id ? ri->id : ri->name ? ri->name : ri->title;
}
size_t corr_key_bytes(const struct ckey *k);

int corr_eidx_add(struct corr_engine *c, struct ckey *k);
void corr_inc_free(struct cinc *inc);
/* The incident's first and last seen as shown: window events, late ones
 * and linked detections. */
static inline int64_t corr_inc_first(const struct cinc *i)
{
    return i->linked && i->lfirst < i->first ? i->lfirst : i->first;
}
static inline int64_t corr_inc_last(const struct cinc *i)
{
    return i->linked && i->llast > i->last ? i->llast : i->last;
}

/* state.c */
void corr_batch_clear(struct corr_engine *c);
int corr_key_name(const struct corr_engine *c, const struct ckey *k, struct ts_buf *out);
int corr_key_export(const struct corr_engine *c, const struct ckey *k, struct ts_buf *out);
/* Append the view of inc (k's incident, current or not) to the batch. */
int corr_incident_view(struct corr_engine *c, const struct ckey *k, struct cinc *inc,
                       bool retracted);

#endif
