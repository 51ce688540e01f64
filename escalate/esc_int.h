/* esc_int.h - internals shared by the files of escalate/: the loaded
 * configuration objects (immutable after loading, every string in the
 * object's arena) and small helpers. Not a public interface. */
#ifndef ESC_INT_H
#define ESC_INT_H

#include "../core/arena.h"
#include "../core/yaml.h"
#include "../core/yconf.h"
#include "../enrich/enrich.h"
#include "escalate.h"

/* A text in both languages; either may be NULL (the other is used). */
struct esc_text {
    const char *vi, *en;
};
const char *esc_text_get(const struct esc_text *t, enum esc_lang lang);

/* A condition: every given part must hold. */
struct esc_cond {
    int min_level;        /* 0: any */
    int min_severity;     /* -1: any; else 0..4 */
    uint32_t types;       /* 0: any; else one of these bits (1u << type) */
    uint32_t impacts;     /* 0: any; else one of these ESC_IMPACT_* */
    int open;             /* -1: any; 1: not contained (open); 0: resolved */
};
/* Any of several conditions (an empty list never holds). */
struct esc_conds {
    struct esc_cond *v;
    size_t n;
};

enum esc_role { ESC_ROLE_MANAGING_BODY = 0, ESC_ROLE_RESPONSE_UNIT, ESC_ROLE_NATIONAL,
                ESC_ROLE_OTHER };

struct esc_recipient {
    const char *id;
    enum esc_role role;
    struct esc_text name;
    const char *basis;
    bool required;         /* false: ours, not the regime's (items not mandatory) */
    const char *route;     /* "mps" / "mod": only for organisations on that
                              route (esc_org.route); NULL: every one */
};

#define ESC_WHEN_SERIOUS 1u
#define ESC_WHEN_NATSEC 2u
#define ESC_WHEN_BEYOND 4u
#define ESC_WHEN_INCIDENT 8u /* a reportable incident (`reportable:` or serious) */

enum esc_anchor { ESC_ANCHOR_DETECTED = 0, ESC_ANCHOR_RESPONSE_END };
enum esc_send { ESC_SEND_ON_DETECT = 0, ESC_SEND_ON_CHANGE, ESC_SEND_ON_RESOLVE, ESC_SEND_MANUAL };

struct esc_rreport {
    const char *id;
    enum esc_stage stage;
    const char *form;      /* may be NULL */
    struct esc_text title;
    struct esc_text heading; /* the document's heading; NULL: by stage */
    unsigned when;         /* ESC_WHEN_* that must all hold; 0: always (never
                              mandatory without a condition: see loader) */
    enum esc_anchor anchor;
    int64_t within_ns;     /* 0: at once */
    int64_t every_ns;      /* periodic updates; 0 none */
    uint32_t to;           /* bits of recipient indices */
    enum esc_send send;
    const char *basis;
};

struct esc_regime {
    struct ts_arena *arena;
    const char *id;
    struct esc_text title;
    const char **basis;
    size_t nbasis;
    const char *effective_from;
    const char *lapsed;   /* why the regime's basis is no longer in force, or NULL */
    struct esc_conds reportable, serious, natsec, beyond;
    struct esc_recipient recipients[ESC_RECIPIENTS_MAX];
    size_t nrecipients;
    struct esc_rreport reports[ESC_REPORTS_MAX];
    size_t nreports;
};

struct esc_typedef {
    struct esc_text label;
    struct esc_text symptoms;
    uint32_t impacts;
};

struct esc_tagmap {
    const char *tag; /* lower case */
    uint32_t types;
    uint32_t impacts;
};

struct esc_taxonomy {
    struct ts_arena *arena;
    bool combine;
    struct esc_typedef types[ESC_TYPE_COUNT];
    enum esc_type priority[ESC_TYPE_COUNT];
    size_t npriority;
    struct esc_tagmap *tags; /* sorted by tag */
    size_t ntags;
};

struct esc_prule {
    const char *name;
    unsigned line;
    const char **tenants;
    size_t ntenants;
    const char **regimes;
    size_t nregimes;
    uint32_t types;
    int min_severity;    /* -1 any */
    int min_level;       /* 0 any */
    int set_serious, set_natsec, set_beyond; /* -1 unset, 0/1 */
    bool suppress;
    const char **to;     /* recipient ids */
    size_t nto;
    const char **reports; /* report ids; none = every report of the regime */
    size_t nreports;
};

struct esc_channel {
    const char *recipient, *channel;
};

struct esc_policy {
    struct ts_arena *arena;
    const char *file;
    const char *regime;
    struct esc_prule *rules;
    size_t nrules;
    struct esc_channel *channels;
    size_t nchannels;
    /* auto_send: what the due-report pass queues (esc_due_queue) */
    unsigned auto_kinds;       /* ESC_AUTO_* */
    const char **auto_overdue; /* report ids; none: every required report */
    size_t nauto_overdue;
    unsigned auto_line;        /* where auto_send is (messages) */
};

struct esc_org_recipient {
    const char *id;
    const char *name, *email, *phone, *channel;
};

struct esc_org {
    const char *tenant;   /* NULL: the default */
    unsigned line, col;   /* where it is (warnings) */
    const char *name, *address, *email, *phone;
    struct esc_contact contact;
    const char *tlp;      /* "white"/"clear", "green", "amber", "red" */
    int utc_offset_sec;
    struct esc_text actions_taken, support_requested;
    const char *route;    /* "mps" (default) or "mod": whose specialised agency
                             receives its reports (Law 116 Art. 40.1.c) */
    /* Optional fields of forms 03/04 (NULL: "chưa khai báo" in the text) */
    const char *security_provider, *network_provider, *os, *services, *security_measures,
        *system_purpose, *place;
    int confidential;     /* -1 not set, 0 no, 1 yes */
    struct esc_contact signer; /* who signs (name, role) */
    struct esc_org_recipient *recipients;
    size_t nrecipients;
};

struct esc_orgs {
    struct ts_arena *arena;
    const char *file;     /* as loaded (warnings) */
    struct esc_org *v;
    size_t n;
    const struct esc_org *dflt;
};

struct esc_assets {
    struct ts_arena *arena;
    struct esc_system *v; /* v[i] is the inventory's system i */
    size_t n;
    struct enrich_assets *inv; /* owned: the inventory as enrich/ parsed it */
};

/* The organisation of a tenant (else the default, else NULL). */
const struct esc_org *esc_orgs_find(const struct esc_orgs *o, const char *tenant);
/* Channel configured for a recipient, or "default". */
const char *esc_policy_channel(const struct esc_policy *p, const struct esc_org *org,
                               const char *recipient);
/* Index of a recipient id in the regime, or -1. */
int esc_regime_recipient(const struct esc_regime *r, const char *id);
const struct esc_rreport *esc_regime_report(const struct esc_regime *r, const char *id);
/* Label of a type (taxonomy or built-in). */
const char *esc_type_label(const struct esc_taxonomy *t, enum esc_type type, enum esc_lang l);

/* ---- loading helpers (load.c) */
/* The loaders' context is core's (core/yconf.h: file, first error, the loaded
 * object's arena). The old name stays as an alias so that loaders written
 * against it keep compiling; new code writes struct ts_yconf. */
#define esc_lctx ts_yconf
/* ts_yconf_fail / ts_yconf_nomem under this folder's names. */
int esc_fail(struct ts_yconf *x, const struct ts_ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int esc_nomem(struct ts_yconf *x);
/* Load a file or buffer into a YAML stream with a single document whose
 * root is a mapping. */
int esc_yaml_open(const char *path, const char *name, const char *buf, size_t len,
                  struct ts_ystream **out, const struct ts_ynode **root, struct ts_err *err);
/* The root of s when it is a single document holding a mapping, else
 * TS_E_CONFIG in err (name in the message). */
int esc_yaml_root(const struct ts_ystream *s, const char *name, const struct ts_ynode **root,
                  struct ts_err *err);
/* The loaders over a YAML stream the caller parsed (borrowed for the call;
 * name for messages), as *_load_buffer over its text: for the fuzz target,
 * which parses its input once for the four of them. */
int esc_regime_load_tree(const char *name, const struct ts_ystream *tree,
                         struct esc_regime **out, struct ts_err *err);
int esc_taxonomy_load_tree(const char *name, const struct ts_ystream *tree,
                           struct esc_taxonomy **out, struct ts_err *err);
int esc_policy_load_tree(const char *name, const struct ts_ystream *tree,
                         struct esc_policy **out, struct ts_err *err);
int esc_orgs_load_tree(const char *name, const struct ts_ystream *tree, struct esc_orgs **out,
                       struct ts_err *err);

/* ---- time, ids (stix.c) */
/* RFC 3339 UTC with exactly milliseconds: "2026-11-20T10:00:00.000Z". */
void esc_time_ms(int64_t ns, char buf[32]);
/* Local time "2026-11-20 17:00:00 +07:00". */
void esc_time_local(int64_t ns, int off_sec, char buf[48]);
/* Name-based UUID v5 (SHA-1) in namespace ns (16 bytes) as text (37 bytes). */
void esc_uuid5(const uint8_t ns[16], const char *name, size_t len, char out[37]);

/* ---- report (report.c): the details an incident document needs */
struct esc_doc {
    const struct esc_env *env;
    const struct store_incident *inc;
    const struct esc_report_opts *o;
    struct esc_plan plan;
    const struct esc_recipient *rcpt;
    const struct esc_rreport *report; /* the regime report for (recipient, stage), may be NULL */
    const struct esc_due *due;        /* may be NULL */
    const struct esc_org *org;
    int64_t now_ns;
    const char *report_id;            /* NULL: "<incident>:<revision>:<recipient>:<report>" */
};
int esc_doc_init(struct esc_doc *d, const struct esc_env *env, const struct store_incident *inc,
                 const struct esc_report_opts *o);
int esc_render_json(const struct esc_doc *d, struct ts_buf *out);
int esc_render_stix(const struct esc_doc *d, struct ts_buf *out);
int esc_render_text(const struct esc_doc *d, struct ts_buf *out);
/* The fields of the national forms 03/04 that STIX has no property for
 * (report and its basis, who was already told, the organisation's
 * optional fields, the system's, the assessment and the outcome), as the
 * JSON object of the bundle's property extension (escalate/stix.c:
 * ESC_STIX_FORM_EXT). Only fields with a value appear. */
int esc_form_ext_json(const struct esc_doc *d, struct ts_buf *out);
/* Generated description of the incident in a language (into out). */
int esc_describe(const struct esc_doc *d, enum esc_lang l, struct ts_buf *out);
/* The report id "<incident>:<revision>:<recipient>:<report>" (or d->report_id). */
int esc_report_id(const struct esc_doc *d, struct ts_buf *out);

/* ---- outbox (outbox.c): one entry of report d (a plan item, or a copy
 * with another due time) of incident cur appended to out, with the entry
 * id `id` (also the document's report_id). The evidence of cur is read in
 * t (may be NULL). out must have been reset (esc_outbox_build or
 * memset 0); on error nothing is appended. Returns 0, TS_E_NOMEM,
 * TS_E_LIMIT (batch full, payload cap), TS_E_INVAL. */
int esc_outbox_add(const struct esc_env *env, struct store_txn *t, const struct store_incident *cur,
                   const struct esc_due *d, const char *id, int64_t now_ns,
                   struct esc_outbox_batch *out);

/* ---- entry ids (plan.c): the due time in "<incident>:due<unix s>:<recipient>:<report>",
 * or 0 when id is not of that form (revision ids, other entries). */
int64_t esc_entry_due_ns(const char *id, const char *incident_id);

#endif
