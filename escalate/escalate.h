/* escalate.h - escalation of incidents to the bodies that must be told:
 * the regime (who must be told what, by when), the incident-type taxonomy
 * of the national forms, the routing policy, the report documents (JSON,
 * STIX 2.1, readable text in Vietnamese and English), deadline tracking
 * and the outbox entries an incident change causes; their delivery
 * (channels: HTTPS webhooks, Kafka, SMTP, JSON-lines files; dispatcher
 * threads with leases, back-off and dead letters). Reference:
 * docs/escalation.md.
 *
 * ---------------------------------------------------------------- model
 * Five kinds of configuration, each a YAML file loaded whole or not at all
 * (errors are file:line:col, first error wins):
 *   esc_regime    a legal regime as data: recipients, the criteria of a
 *                 "serious" incident and of the other conditions, and the
 *                 reports with their stage and deadline
 *                 (etc/escalation/law116-2025.yml, circular20-2017.yml);
 *   esc_taxonomy  the incident types of the national forms and the rule
 *                 tags (ATT&CK) that map to them (etc/escalation/taxonomy.yml);
 *   esc_policy    per-tenant/type/severity/level routing beyond the law:
 *                 condition flags and voluntary escalations, channels
 *                 (etc/escalation/policy.yml);
 *   esc_orgs      the reporting organisation of each tenant: name,
 *                 contact, recipients' names (etc/escalation/org.example.yml);
 *   esc_assets    the asset inventory (docs/assets.md): the affected system.
 * All five are immutable after loading and may be shared by any number of
 * threads; struct esc_env bundles borrowed pointers to them.
 *
 * Per incident: esc_plan_incident() decides the facts (type, level,
 * serious ...) and the list of (recipient, report, stage, due time);
 * esc_report_render() writes one document; esc_outbox_build() makes the
 * outbox entries of an incident change; esc_deadlines_list() walks the
 * store for overdue or near-due reports; esc_due_queue() queues those that
 * fell due (periodic updates, overdue required reports) when the policy's
 * auto_send says so, each due time once.
 *
 * Errors: 0 or a negative TS_E_* code (core/ts.h); loaders fill ts_err.
 * No function here keeps global state; all are reentrant.
 */
#ifndef ESCALATE_H
#define ESCALATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/ts.h"
#include "../storage/storage.h"

/* Hard caps (configuration is input too). */
#define ESC_FILE_MAX (4u << 20)     /* bytes of one YAML file */
#define ESC_RECIPIENTS_MAX 16       /* recipients of a regime */
#define ESC_REPORTS_MAX 32          /* reports of a regime */
#define ESC_TAGS_MAX 4096           /* tag mappings of a taxonomy */
#define ESC_RULES_MAX 1024          /* policy rules */
#define ESC_TENANTS_MAX 10000       /* organisations, tenants per rule */
#define ESC_PLAN_MAX 64             /* (recipient, report) pairs per incident */
#define ESC_ID_MAX 64               /* recipient / report / regime ids */
#define ESC_TEXT_MAX 4096           /* one configured text */
#define ESC_EVIDENCE_REFS_MAX 100   /* evidence references in one document */
#define ESC_EVIDENCE_RAW_MAX 5      /* of them, with a raw excerpt */
#define ESC_RAW_EXCERPT_MAX 1024    /* bytes of one raw excerpt */

/* ------------------------------------------------------------ vocabulary */

/* Incident types of the national report forms. */
enum esc_type {
    ESC_TYPE_DOS = 0,      /* denial of service */
    ESC_TYPE_PHISHING,     /* phishing / spoofing */
    ESC_TYPE_MALWARE,      /* malware */
    ESC_TYPE_TAKEOVER,     /* unauthorised access / takeover */
    ESC_TYPE_DEFACEMENT,   /* defacement */
    ESC_TYPE_RANSOMWARE,   /* ransomware / encryption of data */
    ESC_TYPE_DESTRUCTION,  /* destruction of data or systems */
    ESC_TYPE_ESPIONAGE,    /* espionage / data theft */
    ESC_TYPE_COMBINED,     /* several of the above */
    ESC_TYPE_OTHER,
};
#define ESC_TYPE_COUNT 10
/* "dos", "phishing", "malware", "takeover", "defacement", "ransomware",
 * "destruction", "espionage", "combined", "other"; NULL when out of range. */
const char *esc_type_name(enum esc_type t);
/* Name -> type; TS_E_INVAL for an unknown name. */
int esc_type_parse(const char *name, enum esc_type *out);

/* Consequences that make an incident serious (bit set). */
enum esc_impact {
    ESC_IMPACT_OUTAGE = 1u << 0,          /* service interrupted */
    ESC_IMPACT_DATA_LEAK = 1u << 1,       /* data disclosed / stolen */
    ESC_IMPACT_LOSS_OF_CONTROL = 1u << 2, /* attacker controls the system */
    ESC_IMPACT_DATA_LOSS = 1u << 3,       /* data destroyed or encrypted */
    ESC_IMPACT_INTEGRITY = 1u << 4,       /* content altered */
};
#define ESC_IMPACT_COUNT 5
/* Bit index 0..4 -> "outage", "data_leak", "loss_of_control", "data_loss",
 * "integrity". */
const char *esc_impact_name(unsigned bit);

enum esc_stage { ESC_STAGE_INITIAL = 0, ESC_STAGE_UPDATE, ESC_STAGE_FINAL };
const char *esc_stage_name(enum esc_stage s); /* "initial", "update", "final" */
int esc_stage_parse(const char *name, enum esc_stage *out);

enum esc_lang { ESC_LANG_VI = 0, ESC_LANG_EN };

/* ---------------------------------------------------------------- loading */

struct esc_regime;
struct esc_taxonomy;
struct esc_policy;
struct esc_orgs;
struct esc_assets;

/* Each loader reads a file (at most ESC_FILE_MAX bytes) or a buffer (name
 * is used in errors). Returns 0, TS_E_CONFIG (err: file:line:col: message),
 * TS_E_PARSE (YAML syntax), TS_E_IO, TS_E_LIMIT, TS_E_NOMEM. The object owns
 * all of its memory; *_free accepts NULL. */
int esc_regime_load(const char *path, struct esc_regime **out, struct ts_err *err);
int esc_regime_load_buffer(const char *name, const char *buf, size_t len, struct esc_regime **out,
                           struct ts_err *err);
void esc_regime_free(struct esc_regime *r);
/* A regime by name (e.g. "law116-2025") from dir/NAME.yml; the name must be
 * [a-z0-9._-]+ (TS_E_INVAL otherwise, so that it cannot leave dir). */
int esc_regime_load_named(const char *dir, const char *name, struct esc_regime **out,
                          struct ts_err *err);
const char *esc_regime_id(const struct esc_regime *r);    /* "law116-2025" */
/* Title in the language (the regime's `title`). */
const char *esc_regime_title(const struct esc_regime *r, enum esc_lang lang);
/* Why the regime's legal basis is no longer in force (its `lapsed:`), or
 * NULL; print it wherever the regime is chosen. Borrowed from r. */
const char *esc_regime_lapsed(const struct esc_regime *r);
/* The id of the regime's first recipient of role managing_body, or NULL. */
const char *esc_regime_managing_body(const struct esc_regime *r);

int esc_taxonomy_load(const char *path, struct esc_taxonomy **out, struct ts_err *err);
int esc_taxonomy_load_buffer(const char *name, const char *buf, size_t len,
                             struct esc_taxonomy **out, struct ts_err *err);
void esc_taxonomy_free(struct esc_taxonomy *t);
/* Type name in a language, from the taxonomy (built-in names when t is NULL). */
const char *esc_taxonomy_type_label(const struct esc_taxonomy *t, enum esc_type type,
                                    enum esc_lang lang);

int esc_policy_load(const char *path, struct esc_policy **out, struct ts_err *err);
int esc_policy_load_buffer(const char *name, const char *buf, size_t len,
                           struct esc_policy **out, struct ts_err *err);
void esc_policy_free(struct esc_policy *p);
/* Check that every recipient and report the policy names exists in the
 * regime it will be used with (a policy is loaded before the regime is
 * chosen); rules limited to other regimes (match: regimes) are skipped. 0 or TS_E_CONFIG with err at the rule's line. p may be NULL. */
int esc_policy_check(const struct esc_policy *p, const struct esc_regime *r, struct ts_err *err);
/* The regime the policy names (`regime:`), or NULL. Borrowed from p. */
const char *esc_policy_regime(const struct esc_policy *p);

int esc_orgs_load(const char *path, struct esc_orgs **out, struct ts_err *err);
int esc_orgs_load_buffer(const char *name, const char *buf, size_t len, struct esc_orgs **out,
                         struct ts_err *err);
void esc_orgs_free(struct esc_orgs *o);

int esc_assets_load(const char *path, struct esc_assets **out, struct ts_err *err);
int esc_assets_load_buffer(const char *name, const char *buf, size_t len,
                           struct esc_assets **out, struct ts_err *err);
void esc_assets_free(struct esc_assets *a);

/* One system of the inventory (strings owned by the esc_assets). */
struct esc_system {
    const char *id, *name, *operator_, *managing_body; /* NULL when absent */
    int level;                                         /* 1..5 */
    const char *route; /* "mps"/"mod": whose specialised agency receives its
                          reports (Law 116 Art. 40.1.c); NULL: the organisation's */
    const char *const *tenants; /* the tenants it belongs to; none: shared by
                                   every tenant (docs/assets.md "Tenants") */
    size_t ntenants;
    const char *const *hostnames;
    size_t nhostnames;
    const char *const *domains;
    size_t ndomains;
    const char *const *ip_ranges; /* as written: addresses and CIDRs */
    size_t nip_ranges;
    const char *const *public_ips; /* the ranges that are not private,
                                      loopback, link-local, CGNAT or ULA */
    size_t npublic_ips;
    struct esc_contact {
        const char *name, *role, *email, *phone; /* NULL when absent */
    } const *contacts;
    size_t ncontacts;
};
/* The system an incident concerns, among the systems of its tenant
 * (inc->tenant) and the shared ones (no tenants) - a tenant's own system
 * first: the `asset_id` (or "asset.id") of its details JSON when present;
 * else the first group-key value ("k=v,k=v"), then distinct value, that is
 * a host name, domain or address of a system (host names as in
 * docs/assets.md: exact, then first label). NULL: none. */
const struct esc_system *esc_assets_find(const struct esc_assets *a,
                                         const struct store_incident *inc);
/* The same, then the raw text of the first evidence records: a token that
 * is exactly a host name or domain of a system, or an address in its
 * ranges (the syslog host of the event, typically). */
const struct esc_system *esc_assets_find_ev(const struct esc_assets *a,
                                            const struct store_incident *inc,
                                            const struct store_evidence *ev, size_t nev);
/* The system with this id that tenant (NULL or "": no tenant) may see: its
 * own, else a shared one. */
const struct esc_system *esc_assets_by_id(const struct esc_assets *a, const char *tenant,
                                          const char *id);

/* The outbox channel for a recipient of a tenant's reports: the tenant
 * organisation's, else the policy's `channels:`, else "default". env's
 * orgs and policy may be NULL; tenant may be NULL (no organisation). */
struct esc_env;
const char *esc_env_channel(const struct esc_env *env, const char *tenant, const char *recipient);

/* Borrowed configuration for one call; only regime is required. */
struct esc_env {
    const struct esc_regime *regime;
    const struct esc_taxonomy *taxonomy; /* NULL: every incident is "other" */
    const struct esc_policy *policy;     /* NULL: the regime alone */
    const struct esc_orgs *orgs;         /* NULL: reporting organisation unknown */
    const struct esc_assets *assets;     /* NULL: affected system unknown */
};

/* Warnings at load for what a report will miss (`tocsin escalations
 * check`): each field of forms 03/04 that an organisation leaves out (it
 * would read "chưa khai báo"), no organisations or no asset inventory at
 * all, a regime whose basis lapsed. warn gets file, line, col (0 when not
 * in a file) and a one-line message; returns how many warnings. */
size_t esc_config_warnings(const struct esc_env *env,
                           void (*warn)(void *ctx, const char *file, unsigned line,
                                        unsigned col, const char *msg),
                           void *ctx);

/* ------------------------------------------------------------ classifying */

struct esc_class {
    enum esc_type type;     /* ESC_TYPE_COMBINED when several and the taxonomy
                               says `combine: true` */
    enum esc_type primary;  /* the type of highest priority found (or OTHER) */
    uint32_t types;         /* bit (1u << type) of every type found */
    uint32_t impacts;       /* ESC_IMPACT_* of the types and tag mappings */
    uint32_t tag_impacts;   /* of them, those a tag mapping names (the technique
                               is the impact, e.g. T1486 data encrypted): what
                               the incident shows, not what its type may cause */
};
/* Classify by tags (e.g. "attack.t1486"; a sub-technique "attack.t1110.003"
 * falls back to "attack.t1110"; case-insensitive). t may be NULL (OTHER). */
void esc_classify(const struct esc_taxonomy *t, const char *const *tags, size_t ntags,
                  struct esc_class *out);

/* ------------------------------------------------------------------ plan */

/* What the regime and policy conclude about one incident. */
struct esc_facts {
    struct esc_class cls;
    const struct esc_system *system; /* borrowed from env->assets; may be NULL */
    int level;                  /* the system's security level, 0 unknown */
    uint8_t severity;           /* 0 informational .. 4 critical */
    bool open;                  /* not resolved = not contained */
    bool reportable;            /* the regime's `reportable` (or any condition below) */
    bool serious;               /* per the regime's `serious` (or the policy) */
    bool national_security;     /* may harm national security / public order */
    bool beyond_capacity;       /* beyond the operator's capacity to respond */
    bool suppressed;            /* a policy rule said suppress (voluntary only) */
    int64_t detected_ns;        /* incident created (detection), else first_seen */
    int64_t response_end_ns;    /* when resolved (last resolve), else 0 */
};

/* One report owed to one recipient. Strings borrowed from the regime. */
struct esc_due {
    const char *recipient;  /* regime recipient id, e.g. "national" */
    const char *report;     /* regime report id, e.g. "initial-notice" */
    enum esc_stage stage;
    const char *form;       /* form number in the regime, or NULL */
    int64_t due_ns;         /* 0: its anchor has not happened (final report
                               of an incident still open) */
    bool mandatory;         /* required by the regime (else by the policy) */
    int64_t every_ns;       /* > 0: periodic (updates), next one every_ns later */
};

struct esc_plan {
    struct esc_facts facts;
    struct esc_due items[ESC_PLAN_MAX];
    size_t n;
    bool truncated;         /* more than ESC_PLAN_MAX: the rest dropped */
};

/* Decide facts and reports for an incident as stored (inc from
 * store_incident_get). Items are in regime report order, then recipient
 * order. Returns 0 or TS_E_INVAL (no regime / no incident). */
int esc_plan_incident(const struct esc_env *env, const struct store_incident *inc,
                      struct esc_plan *out);
/* The same, finding the affected system also in the evidence's raw text
 * (esc_assets_find_ev). ev may be NULL. */
int esc_plan_incident_ev(const struct esc_env *env, const struct store_incident *inc,
                         const struct store_evidence *ev, size_t nev, struct esc_plan *out);

/* ---------------------------------------------------------------- reports */

/* Append n bytes of s for a text report: printable UTF-8 as it is; C0
 * controls as \r \n \t or \xNN, DEL as \x7f, C1 controls, U+2028/U+2029
 * and the bidirectional controls as \uNNNN, bytes that are not UTF-8 as
 * \xNN - so that a value is one line and shows what it holds. A backslash
 * is kept as it is (Windows paths stay readable). 0 or the buffer's error. */
int esc_text_escape(struct ts_buf *out, const char *s, size_t n);

enum esc_format { ESC_FORMAT_JSON = 0, ESC_FORMAT_STIX, ESC_FORMAT_TEXT };

struct esc_report_opts {
    const char *recipient;   /* recipient id; NULL = the first of the plan for
                                this stage, else the regime's first */
    enum esc_stage stage;
    enum esc_format format;
    enum esc_lang lang;      /* text only (JSON/STIX carry both where given) */
    const struct store_evidence *evidence; /* borrowed, may be NULL */
    size_t nevidence;        /* references beyond ESC_EVIDENCE_REFS_MAX are
                                counted, not listed */
    const char *rule_text;   /* the Sigma rule YAML for STIX (may be NULL:
                                a reference document is written instead) */
    int64_t now_ns;          /* generated_at; 0 = wall clock */
    /* Final stage (form 04): the initial report it follows, as the
     * recipient numbered and dated it; NULL / 0: "chưa khai báo". */
    const char *initial_ref;
    int64_t initial_at_ns;
    /* Form 03 "Đã gửi thông báo sự cố cho": the deliveries the outbox
     * CONFIRMED for this incident (esc_sent_read), borrowed; none: "chưa
     * gửi". The report's own recipient is left out. */
    const struct esc_sent *sent;
    size_t nsent;
};

/* A confirmed delivery: the recipient id and when the first entry of the
 * incident to it was delivered. */
struct esc_sent {
    const char *recipient;
    int64_t at_ns;
};
#define ESC_SENT_MAX 16
/* The incident's delivered outbox entries (ids "INCIDENT:..."), one per
 * recipient with its earliest delivery, in that order, at most max
 * (recipients beyond are left out); strings in arena. t: any txn. */
int esc_sent_read(struct store_txn *t, const char *incident_id, struct ts_arena *arena,
                  struct esc_sent *out, size_t max, size_t *n);

/* Append the document for inc to out (JSON: docs/report-schema.json; STIX:
 * a 2.1 bundle; text: UTF-8 lines). The incident's strings are only read.
 * Returns 0, TS_E_INVAL (unknown recipient, bad options), TS_E_LIMIT /
 * TS_E_NOMEM (out's cap or memory; out may hold a partial document). */
int esc_report_render(const struct esc_env *env, const struct store_incident *inc,
                      const struct esc_report_opts *o, struct ts_buf *out);

/* ----------------------------------------------------------------- outbox */

/* Entries an incident change causes, ready for store_outbox_put in the
 * same transaction. Owns its strings and payloads. */
struct esc_outbox_batch {
    struct store_outbox entries[ESC_PLAN_MAX];
    size_t n;
    char *mem[ESC_PLAN_MAX * 2]; /* owned: ids, payloads (internal) */
    size_t nmem;
};
/* Build the entries for one change of an incident: prev is the incident
 * as stored before the change (NULL when new), cur as stored after it
 * (store_incident_get after store_incident_put, so it carries the new
 * revision). What is sent, per the regime's `send:` of each report due:
 *   on_detect  when the report is due now and was not due for prev
 *              (new incident, or it just became serious/...);
 *   on_change  an open, reportable incident whose severity rose or status
 *              changed (other than to resolved), or that was reopened;
 *   on_resolve the incident has just been resolved;
 *   manual     never (the CLI sends it; deadlines still track it).
 * Entry id: "<incident>:<revision>:<recipient>:<report>" (stable: a retried
 * batch replaces the same entries); payload: the JSON document; channel:
 * from the policy (`channels:`), else "default"; due now. t (may be NULL)
 * is the batch's transaction, used only to read the incident's evidence
 * into the payload. out is reset first; call esc_outbox_batch_free after
 * the puts. Returns 0, TS_E_NOMEM, TS_E_LIMIT, TS_E_INVAL. */
int esc_outbox_build(const struct esc_env *env, struct store_txn *t,
                     const struct store_incident *prev, const struct store_incident *cur,
                     int64_t now_ns, struct esc_outbox_batch *out);
/* Put every entry of b with store_outbox_put; first error returned. */
int esc_outbox_put_all(struct store_txn *t, const struct esc_outbox_batch *b);
void esc_outbox_batch_free(struct esc_outbox_batch *b);

/* ---------------------------------------------------------------- deadlines */

enum esc_delivery {
    ESC_DELIVERY_NONE = 0,   /* no outbox entry for it */
    ESC_DELIVERY_FAILED,     /* only failed entries */
    ESC_DELIVERY_PENDING,    /* queued, not delivered yet */
    ESC_DELIVERY_DONE,       /* an entry was delivered */
};
const char *esc_delivery_name(enum esc_delivery d); /* "none", "failed", ... */

struct esc_deadline {
    const struct store_incident *incident; /* valid during the callback */
    const struct esc_due *due;             /* valid during the callback */
    enum esc_delivery delivery;
    bool overdue;           /* due passed and not delivered */
    int64_t late_ns;        /* now - due (negative: time left) */
};

#define ESC_DL_OVERDUE 1u   /* overdue ones */
#define ESC_DL_NEAR 2u      /* not overdue, due within horizon */
#define ESC_DL_ALL 4u       /* every report owed, with its state */

/* Walk the incidents of the store (open ones, and resolved ones for their
 * final reports), plan each and pass every report selected by flags to fn,
 * incident by incident in last_seen order. Delivery state comes from the
 * outbox (ids as esc_outbox_build and esc_due_queue make them, any
 * revision or due time). A periodic report (every_ns > 0) is due at its
 * regime due time until an entry of it is pending or delivered; then
 * every_ns after the time that entry covers (its due time for an entry of
 * the due pass, its queueing for one a change caused), with the state of
 * an entry for that new due time (none, or failed). t: a read or write
 * txn. fn's non-zero return stops and is returned.
 * Errors: TS_E_INVAL, TS_E_NOMEM, TS_E_LIMIT (more than 1M outbox entries),
 * the store's errors. */
int esc_deadlines_list(const struct esc_env *env, struct store_txn *t, int64_t now_ns,
                       int64_t horizon_ns, unsigned flags,
                       int (*fn)(void *ctx, const struct esc_deadline *d), void *ctx);

/* -------------------------------------------------------------- due reports
 * Reports that fall due without an incident change: the next periodic
 * update (a report with `every`), and a required report whose deadline
 * passed with nothing pending or delivered for it (never queued: `send:
 * manual`; or its entry was dead-lettered). Which of them are queued is the
 * policy's `auto_send:` (off by default), or the caller's choice.
 *
 * Periodic reports: the first is due at the regime's due time; after an
 * entry of the report was queued for the recipient (pending or delivered,
 * any revision), the next is due `every` after it (after its due time for
 * an entry of this pass, after its queueing for one an incident change
 * caused). A pass that finds several periods missed queues one entry, for
 * the latest due time that has passed, not one per period.
 *
 * Entry id "<incident>:due<unix seconds of the due time>:<recipient>:<report>"
 * (the JSON document's report_id), revision the incident's current one,
 * payload the report built from the incident as stored now. The check that
 * the id is not in the outbox yet (in any state) and the put are in the
 * caller's write transaction: two passes, concurrent or one after a crash,
 * never queue the same due time twice, and a dead-lettered one is not
 * queued again (`tocsin escalations retry` is the way back). */

#define ESC_AUTO_PERIODIC 1u /* periodic reports whose next due time came */
#define ESC_AUTO_OVERDUE 2u  /* required reports overdue, nothing pending/delivered */
#define ESC_DUE_PASS_MAX 4096u /* entries queued by one pass (the rest: next pass) */

/* The kinds the policy's `auto_send:` enables (0: none, also for p NULL). */
unsigned esc_policy_auto_send(const struct esc_policy *p);

struct esc_due_opts {
    unsigned kinds;     /* ESC_AUTO_* to queue; 0: the policy's auto_send
                           (with its `overdue:` report list, when given);
                           given here, overdue means every required report */
    int64_t now_ns;     /* the time judged; 0: the txn's clock */
    uint32_t max;       /* entries per pass, 1..ESC_DUE_PASS_MAX; 0: the max */
    /* called after each put (in the txn: when the txn is redone or aborted,
     * so are these puts); e is valid during the call. May be NULL. */
    void (*queued)(void *ctx, const struct store_outbox *e);
    void *ctx;
};

struct esc_due_stats {
    uint64_t queued;    /* entries put by the pass */
    uint64_t existing;  /* due, but the entry of that due time was there already
                           (a dead letter, or a pass whose listing was stale) */
    bool more;          /* stopped at max: run another pass */
};

/* One pass over the incidents of the store in the write txn t (see above).
 * st is reset first (may be NULL). Returns 0 or TS_E_INVAL (no regime, a
 * read-only txn), TS_E_NOMEM, TS_E_LIMIT, the store's errors (t is then to
 * be aborted). */
int esc_due_queue(const struct esc_env *env, struct store_txn *t, const struct esc_due_opts *o,
                  struct esc_due_stats *st);
/* The same in its own write transaction (store_txn_run: redone when the map
 * grows), committed before it returns. err gets the store's message. */
int esc_due_queue_run(const struct esc_env *env, struct store *s, const struct esc_due_opts *o,
                      struct esc_due_stats *st, struct ts_err *err);

/* ================================================================ delivery
 * Outbox entries are delivered at least once by dispatcher threads, one
 * entry per claim (its lease covers its own delivery):
 *   store_outbox_claim (lease) -> channel -> mark delivered / retry (back-off
 *   with jitter) / failed (dead letter: logged at error level, counted, and
 *   a JSON line in the alerts file when configured).
 * A crash between claim and mark leaves the entry leased; it is claimed
 * again when the lease expires, so a receiver may see a repeat and drops it
 * by the idempotency key "<incident>:<revision>" (plus the entry id). */

#define ESC_CHANNELS_MAX 64          /* channels in one file */
#define ESC_CHANNEL_NAME_MAX 128     /* == STORE_ID_MAX: "webhook:national" */
#define ESC_HEADERS_MAX 32           /* extra HTTP headers / Kafka properties */
#define ESC_SMTP_RCPT_MAX 32         /* recipients of one SMTP channel */
#define ESC_THREADS_MAX 32           /* dispatcher threads */
#define ESC_CLAIM_MAX 256            /* the channels file's claim_max (accepted, no
                                        longer used: one entry per claim) */
#define ESC_ERROR_MAX 512            /* bytes of an attempt's error text */

enum esc_channel_type { ESC_CH_WEBHOOK = 0, ESC_CH_KAFKA, ESC_CH_FILE, ESC_CH_SMTP };

/* The outcome of one delivery attempt. */
enum esc_outcome {
    ESC_OUT_DELIVERED = 0, /* the receiver has it */
    ESC_OUT_RETRY,         /* transient: try again after a back-off */
    ESC_OUT_PERMANENT,     /* the receiver refused it: dead letter at once */
};
const char *esc_outcome_name(enum esc_outcome o); /* "delivered", "retry", "permanent" */

/* HTTP status -> outcome: 2xx delivered; 4xx other than 408 and 429
 * permanent; everything else (1xx, 3xx, 408, 429, 5xx, 0 = no response)
 * retry. */
enum esc_outcome esc_http_outcome(long status);

/* The back-off before attempt `attempts + 1` after `attempts` failed ones
 * (>= 1): d = min(cap, base * 2^(attempts-1)), then "equal jitter": a value
 * in [d/2, d] chosen by rnd (any 64-bit random number: d/2 + rnd mod
 * (d - d/2 + 1); rnd = 0 gives d/2). base, cap > 0; cap < base is treated as base. */
int64_t esc_backoff_ns(uint32_t attempts, int64_t base_ns, int64_t cap_ns, uint64_t rnd);

/* Standard Webhooks signature (https://www.standardwebhooks.com/):
 * "v1," + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")), where key is
 * the base64 after "whsec_" of secret (the prefix is optional, as in the
 * reference libraries). Appends to out. Returns 0, TS_E_INVAL (secret not
 * base64, empty), TS_E_LIMIT/TS_E_NOMEM (out), TS_E_UNSUPPORTED (OpenSSL
 * failed; translated message in err when err is not NULL). */
int esc_webhook_sign(const char *secret, const char *id, int64_t timestamp_sec,
                     const void *body, size_t len, struct ts_buf *out, struct ts_err *err);

/* A URL fit for messages and logs: its userinfo, query and fragment each
 * replaced by "***" (as "***@", "?***" and "#***"); scheme, host, port
 * and path kept. A text without "://" is copied as it is. Writes at
 * most cap bytes (cap > 0), always terminated, cut when longer. */
void esc_url_redact(const char *url, char *out, size_t cap);
/* The same for every URL inside a text (from its scheme to the next space,
 * quote or angle bracket), e.g. a stored last_error; into out as above. */
void esc_text_redact_urls(const char *text, char *out, size_t cap);

/* The channels file (docs/escalation.md "Channels"): named channels and the
 * dispatcher's settings. Immutable after loading, shared by every thread;
 * secrets read from files or the environment at load time live in it.
 * Loading logs a warning naming each channel that weakens transport
 * security (`insecure: true`, `allow_plaintext: true`). No URL, error or
 * log line of a channel shows its secrets (esc_url_redact). */
struct esc_channels;

struct esc_dispatch_opts {
    unsigned threads;         /* 1..ESC_THREADS_MAX; file's `threads`, else 2 */
    int64_t lease_ns;         /* claim lease; file's, else 60 s; must exceed
                                 every channel's timeout */
    int64_t backoff_base_ns;  /* file's, else 10 s */
    int64_t backoff_cap_ns;   /* file's, else 1 h */
    uint32_t max_attempts;    /* then dead letter; file's, else 12 */
    int64_t idle_ns;          /* poll period while nothing is due; else 1 s */
    const char *alerts_path;  /* dead letters as JSON lines (appended and
                                 fsynced); borrowed; NULL: the file's, else none */
    uint64_t seed;            /* jitter seed; 0: from the clock */
    /* Due reports (esc_due_queue with the policy's auto_send): with
     * due_env, the first dispatcher thread runs a pass at start and every
     * due_every_ns, and wakes the others when it queued entries. due_env
     * is borrowed and must outlive the dispatcher; NULL: no pass. */
    const struct esc_env *due_env;
    int64_t due_every_ns;     /* file's `due_pass`, else 60 s */
};

/* Load a channels file (ESC_FILE_MAX) or buffer. Errors as the other
 * loaders (file:line:col; unknown keys, bad URLs, unreadable secrets,
 * duplicate names are errors). *out owns everything; free with
 * esc_channels_free (NULL accepted). */
int esc_channels_load(const char *path, struct esc_channels **out, struct ts_err *err);
int esc_channels_load_buffer(const char *name, const char *buf, size_t len,
                             struct esc_channels **out, struct ts_err *err);
void esc_channels_free(struct esc_channels *c);
size_t esc_channels_count(const struct esc_channels *c);
/* Name and type of channel i (< count); the name is borrowed from c. */
const char *esc_channels_name(const struct esc_channels *c, size_t i);
enum esc_channel_type esc_channels_type(const struct esc_channels *c, size_t i);
/* The file's `dispatch:` settings with defaults filled in. */
void esc_channels_dispatch_opts(const struct esc_channels *c, struct esc_dispatch_opts *out);

/* A per-thread delivery context: curl handles and Kafka producers of the
 * channels, made on first use. One thread at a time; c must outlive it. */
struct esc_deliverer;
int esc_deliverer_create(struct esc_deliverer **out, const struct esc_channels *c);
void esc_deliverer_destroy(struct esc_deliverer *d);
/* Deliver one entry through the channel it names (e->channel). An unknown
 * channel is ESC_OUT_RETRY (the configuration may be fixed; dead letter
 * after max_attempts). error (ESC_ERROR_MAX bytes) gets a one-line reason
 * when not delivered. now_ns: the webhook timestamp and file line time. */
enum esc_outcome esc_deliver(struct esc_deliverer *d, const struct store_outbox *e,
                             int64_t now_ns, char error[ESC_ERROR_MAX]);

struct esc_dispatch_stats {
    uint64_t claimed;   /* entries claimed */
    uint64_t delivered; /* marked delivered */
    uint64_t retried;   /* marked for retry */
    uint64_t failed;    /* dead letters (permanent, or attempts exhausted) */
    uint64_t errors;    /* store errors (the round is retried later) */
};

/* Dispatcher threads over the outbox of st. st and c are borrowed and must
 * outlive the dispatcher; o may be NULL (the file's settings); o's strings
 * are copied. Returns 0, TS_E_INVAL / TS_E_CONFIG (lease not longer than a
 * channel timeout; err says which), TS_E_NOMEM, TS_E_IO (alerts file). */
struct esc_dispatcher;
int esc_dispatcher_start(struct esc_dispatcher **out, struct store *st,
                         const struct esc_channels *c, const struct esc_dispatch_opts *o,
                         struct ts_err *err);
/* Ask the threads to stop, wake them, wait until each has finished (and
 * marked) the delivery in hand; nothing else is claimed. Frees d (NULL
 * accepted). Any thread but the dispatcher's. */
void esc_dispatcher_stop(struct esc_dispatcher *d);
/* Counters so far (any thread). */
void esc_dispatcher_stats(const struct esc_dispatcher *d, struct esc_dispatch_stats *out);
/* Delivery outcomes by recipient so far: up to max entries into out;
 * returns how many recipients there are (ESC_RECIPIENTS_MAX * 4 at most,
 * the last one "(other)" when more were seen). Any thread. */
struct esc_recipient_stats {
    char recipient[STORE_ID_MAX + 1];
    uint64_t delivered, retried, failed;
};
size_t esc_dispatcher_recipient_stats(struct esc_dispatcher *d, struct esc_recipient_stats *out,
                                      size_t max);
/* Wake the threads now (e.g. after a batch put new entries). */
void esc_dispatcher_kick(struct esc_dispatcher *d);

/* One pass in the calling thread: rounds of claim (one entry due at now_ns;
 * 0 = wall clock), deliver, mark, until nothing is due at now_ns
 * (an entry put back for retry is due later, so the pass ends). o may be
 * NULL (the file's settings). Adds to *stats (may be NULL). Returns the
 * number of entries claimed (>= 0) or an error (store; err filled). */
int esc_dispatch_once(struct store *st, const struct esc_channels *c,
                      const struct esc_dispatch_opts *o, int64_t now_ns,
                      struct esc_dispatch_stats *stats, struct ts_err *err);

#endif
