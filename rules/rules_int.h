/* rules_int.h - internals shared by the files of rules/: the compiled form of
 * a Sigma rule (selections, field conditions, value matchers, condition
 * tree), the loader context that collects problems, the Aho-Corasick
 * prefilter and the rule set itself.
 *
 * Ownership: every compiled rule lives in its own arena (rule->arena), so a
 * rule that fails to compile is dropped whole; PCRE2 codes are listed in the
 * rule and freed with it. The set owns the rules, the field-name table, the
 * logsource groups and their automata. Everything is read-only after
 * rule_set_load returns; per-thread state is in struct rule_scratch.
 */
#ifndef RULES_INT_H
#define RULES_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "../core/arena.h"
#include "rules.h"

/* Hard caps: rules are hostile input. */
#define RULE_MAX_FILES 100000u
#define RULE_MAX_DOCS 200000u        /* rule documents per set */
#define RULE_MAX_SELS 256u           /* search identifiers per detection */
#define RULE_MAX_VALUES 16384u       /* values of one field condition after expansion */
#define RULE_MAX_VALUE_LEN 65536u    /* bytes of one value after transformation */
#define RULE_MEMO_SLOTS 4096u        /* per scratch: (automaton, value) scans remembered */
#define RULE_MEMO_POOL (1u << 20)    /* per scratch: bytes of the remembered values */
#define RULE_MAX_CONDS 1024u         /* field conditions per selection alternative */
#define RULE_MAX_ALTS 1024u          /* maps in a list-of-maps selection */
#define RULE_MAX_COND_LEN 8192u      /* condition text */
#define RULE_MAX_COND_TOKENS 1024u
#define RULE_MAX_COND_DEPTH 64u
#define RULE_MAX_PROBLEMS 16u        /* reported per rule document */
#define RULE_MAX_FIELDNAMES 65536u   /* distinct field names in a set */
#define RULE_MAX_DIR_DEPTH 32u
#define RULE_MAX_WINDASH 5u          /* flags expanded by windash (5^5 values) */
#define RULE_MAX_FILTERS 64u         /* filters applied to one rule */
#define RULE_ARENA_CAP ((size_t)64 << 20)
#define RULE_AC_MAX_STATES (1u << 21)
#define RULE_PREFILTER_MIN_LIT 3u    /* shorter literals are not worth a prefilter */
#define RULE_PREFILTER_MAX_LITS 4096u
#define RULE_PREFILTER_WINDOW 16u     /* bytes of a literal the automaton looks for */
#define RULE_PREFILTER_SLOTS 4u       /* literal sets a rule may require together */

#define RULE_RE_FREE_REPEATS 8u     /* unbounded repeats before a regex's window shrinks */

#define FIELD_KEYWORDS UINT32_MAX /* pseudo field of keyword searches */

/* ---------------------------------------------------------------- values */

enum vop {
    VOP_EQ = 1,   /* whole value equals lit */
    VOP_PREFIX,   /* lit* */
    VOP_SUFFIX,   /* *lit */
    VOP_CONTAINS, /* *lit* */
    VOP_ANY,      /* "*": any value (also empty) */
    VOP_GLOB,     /* wildcards inside: lit + wmask */
    VOP_RE,
    VOP_CIDR,
    VOP_CMP,      /* lt/lte/gt/gte/eq on numbers (cmp) */
    VOP_REF,      /* fieldref: compare with another field (refmode) */
};

enum vcmp { CMP_EQ = 0, CMP_LT, CMP_LTE, CMP_GT, CMP_GTE };

/* A compiled regular expression and what bounds one search with it
 * (docs/rules.md, "Regular expressions: limits"). PCRE2's JIT counts entries
 * into repeats, not the bytes a repeat gives back when it backtracks, so its
 * match limit does not bound k chained repeats (\+.*\+.*...), which take up
 * to ~2^k steps per byte; the window, shrunk for such patterns, does. */
struct rule_re {
    pcre2_code *code; /* listed in rule->res, freed with the rule */
    uint32_t window;  /* bytes of a value searched: the set's re_max_subject,
                       * halved for each unbounded repeat beyond
                       * RULE_RE_FREE_REPEATS */
    uint8_t prefix_ok;/* a match within the first window bytes of a longer
                       * value is a match of the value (the pattern never
                       * looks past the end of its match) */
    uint8_t need;     /* an ASCII byte every match contains (either case), 0 if none */
};

enum vtime { TP_NONE = 0, TP_MINUTE, TP_HOUR, TP_DAY, TP_WEEK, TP_MONTH, TP_YEAR };

struct vmatch {
    uint8_t op;      /* enum vop */
    uint8_t cased;   /* compare case-sensitively (lit kept as written) */
    uint8_t has_num; /* the rule value is a number: numeric equality on numeric fields */
    uint8_t cmp;     /* VOP_CMP: enum vcmp */
    uint8_t timepart;/* enum vtime: compare this part of a date */
    uint8_t refmode; /* VOP_REF: VOP_EQ/PREFIX/SUFFIX/CONTAINS */
    uint8_t prefix;  /* VOP_CIDR */
    uint32_t len;
    const char *lit;      /* lowercased unless cased; NUL-terminated */
    const uint8_t *wmask; /* VOP_GLOB: 0 literal, '*' or '?' per byte of lit */
    double num;           /* has_num / VOP_CMP */
    const struct rule_re *re; /* VOP_RE */
    struct ts_ip net;     /* VOP_CIDR, masked */
    uint32_t ref;         /* VOP_REF: field id */
    const char *text;     /* the value as written in the rule, for explanations */
};

enum fckind { FC_VALUES = 1, FC_EXISTS, FC_NULL };

struct fcond {
    uint32_t field;   /* interned field id, or FIELD_KEYWORDS */
    uint8_t kind;     /* enum fckind */
    uint8_t all;      /* values AND-ed (modifier all) */
    uint8_t neg;      /* neq: none of the values */
    uint8_t want;     /* FC_EXISTS: true/false */
    uint8_t cost;     /* cheap conditions are evaluated first */
    const struct vmatch *v;
    uint32_t nv;
    const char *key;  /* the key as written ("Image|endswith"), for explanations */
};

/* AND of field conditions. */
struct conj {
    const struct fcond *c;
    uint32_t n;
};

/* A search identifier: OR of conjunctions (a map is one conjunction; a list
 * of maps several; a keyword list one conjunction on FIELD_KEYWORDS). */
struct sel {
    const char *name;
    const struct conj *alts;
    uint32_t nalts;
};

enum cnkind { CN_SEL = 1, CN_AND, CN_OR, CN_NOT, CN_OF };

struct cnode {
    uint8_t kind;
    uint32_t sel;            /* CN_SEL */
    uint32_t need;           /* CN_OF: how many must match; 0 = all */
    const uint32_t *ids;     /* CN_OF: selection indexes */
    uint32_t nids;
    const struct cnode *const *kids; /* AND/OR/NOT */
    uint32_t nkids;
};

struct det {
    const struct sel *sels;
    uint32_t nsels;
    const struct cnode *cond;
    uint32_t memo_base; /* index of sels[0] in the scratch memo */
};

enum rkind { RK_DETECTION = 1, RK_FILTER, RK_CORRELATION };

struct rule {
    uint8_t kind;
    struct rule_info info;
    struct det det;
    uint32_t group;            /* logsource group (detections) */
    const struct det **filters;
    uint32_t nfilters;
    const char *const *filter_targets; /* RK_FILTER: ids/names it applies to */
    size_t ntargets;
    const struct ts_ynode *corr_root;  /* RK_CORRELATION: document (in a kept stream) */
    unsigned id_line, id_col;          /* where `id:` is (0: no id) */
    struct ts_arena *arena;
    pcre2_code **res;
    size_t nres, capres;
};

/* -------------------------------------------------------------- loading */

struct rule_set;

/* The ATT&CK taxonomy of rule_load_opts.attack_taxonomy (load.c). */
#define RULE_TAXO_MAX 256u
struct rule_taxo {
    char *names[RULE_TAXO_MAX]; /* tactics, lowercase */
    size_t nnames;
    char *ids[RULE_TAXO_MAX];   /* id patterns, # = a digit */
    size_t nids;
};

struct lctx {
    struct rule_set *rs;
    const struct rule_taxo *taxo; /* NULL: tags not checked */
    const struct rule_load_opts *o;
    struct rule_report *rep;
    const char *file;
    struct rule *r;          /* the rule being compiled */
    unsigned nprob;          /* problems of this rule document */
    bool invalid, unsupported;
    int fatal;               /* TS_E_NOMEM etc.: stop loading */
    /* condition source position, for token columns */
    unsigned cond_line, cond_col;
};

void lctx_problem(struct lctx *c, enum rule_problem_kind kind, const struct ts_ynode *at,
                  unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void *lctx_alloc(struct lctx *c, size_t n);
char *lctx_strdup(struct lctx *c, const char *s, size_t n);

/* Intern a field name (after aliasing) into the set: its id, or UINT32_MAX
 * when the table is full (c->fatal set). */
uint32_t rset_field_intern(struct lctx *c, const char *name, size_t len);

/* Compile a detection block (map of search identifiers + condition) into d.
 * node is the `detection:` map (or the `filter:` map: skip lists keys that
 * are not selections). Problems go to c. Returns 0 when d is usable. */
int det_compile(struct lctx *c, const struct ts_ynode *node, const char *const *skip,
                struct det *d);

/* Parse a condition string against the selections of d into a tree. */
const struct cnode *cond_parse(struct lctx *c, const struct ts_ynode *at, const char *s,
                               size_t len, const struct det *d);

/* Wildcard matcher on bytes: pattern lit/wmask, text t (both already cased
 * the same way). */
bool glob_match(const char *lit, const uint8_t *wmask, size_t m, const char *t, size_t n);

/* Skip a bracket class of a regular expression starting at p[i] == '[';
 * returns the index after it, or n when malformed. */
size_t rule_re_skip_class(const char *p, size_t i, size_t n);

/* Edit distance (case-insensitive), 99 for long strings. */
#define RULE_DIST_MAX 3 /* the largest distance a suggestion is made at */
size_t rule_str_distance(const char *a, size_t la, const char *b, size_t lb);
/* "Did you mean": the known modifier closest to s, or NULL. */
const char *mod_suggest(const char *s, size_t len);

/* --------------------------------------------------------- Aho-Corasick */

struct ac_trigger {
    uint32_t rule;  /* index in the set */
    uint32_t field; /* field id the literal must occur in */
    uint32_t slot;  /* which of the rule's required literal sets (< RULE_PREFILTER_SLOTS) */
};

struct ac;
struct ac_builder;
int ac_builder_create(struct ac_builder **out);
void ac_builder_free(struct ac_builder *b);
/* Add a literal (lowercased) that triggers t. */
int ac_builder_add(struct ac_builder *b, const char *lit, size_t len, struct ac_trigger t);
size_t ac_builder_count(const struct ac_builder *b);
/* The distinct trigger fields of b (at most cap). */
size_t ac_builder_fields(const struct ac_builder *b, uint32_t *out, size_t cap);
/* Build the automaton of the literals that trigger on field (b may be freed
 * afterwards). Returns 0, TS_E_NOMEM or TS_E_LIMIT. */
int ac_build(const struct ac_builder *b, uint32_t field, struct ac **out);
void ac_free(struct ac *a);
size_t ac_memory(const struct ac *a);

/* Scan text (matched case-insensitively: the automaton lowercases ASCII);
 * call hit(ctx, trigger) for every literal occurrence's triggers. Triggers of
 * one literal are reported once per call of ac_scan even if the literal
 * occurs several times. */
typedef void (*ac_hit_fn)(void *ctx, const struct ac_trigger *t, uint32_t n);
void ac_scan(const struct ac *a, const char *text, size_t len, ac_hit_fn hit, void *ctx);
/* Test hook: the byte-by-byte scan alone (ac_scan skips through long texts
 * when the literals are long enough; the calls are the same). */
void ac_scan_dfa(const struct ac *a, const char *text, size_t len, ac_hit_fn hit, void *ctx);
/* The same for k (automaton, text) pairs, interleaved to overlap memory
 * latency. */
void ac_scan_many(const struct ac *const *a, const char *const *t, const size_t *n, size_t k,
                  ac_hit_fn hit, void *ctx);

/* A memo of recent scans, one per thread (not shared): slots (a power of
 * two) entries of (automaton, value) -> the hit calls its scan made, the
 * values kept in pool_bytes that start over when full. ac_scan_memo and
 * ac_scan_many_memo call hit exactly as ac_scan would for each text (the
 * order between texts may differ); m may be NULL (no memo). */
struct ac_memo;
int ac_memo_create(struct ac_memo **out, uint32_t slots, size_t pool_bytes);
void ac_memo_free(struct ac_memo *m);
void ac_memo_stats(const struct ac_memo *m, uint64_t *hits, uint64_t *misses);
void ac_scan_memo(struct ac_memo *m, const struct ac *a, const char *text, size_t len,
                  ac_hit_fn hit, void *ctx);
void ac_scan_many_memo(struct ac_memo *m, const struct ac *const *a, const char *const *t,
                       const size_t *n, size_t k, ac_hit_fn hit, void *ctx);

/* ------------------------------------------------------------- the set */

struct lgroup {
    const char *product, *category, *service; /* lowercase, NULL = any */
    uint32_t *always;       /* rules evaluated on every routed event */
    uint32_t nalways;
    /* prefilter of the other rules: one automaton per field, over the
     * literals that must occur in that field (smaller tables stay in cache) */
    uint32_t *scan_fields;  /* field ids */
    struct ac **acs;        /* acs[i] scans scan_fields[i] */
    uint32_t nscan;
    struct ac *kw_ac;       /* keyword searches (FIELD_KEYWORDS), or NULL */
};

struct route_ent {
    char *key; /* "c:process_creation", "s:sysmon", "p:windows" */
    uint32_t *groups;
    uint32_t ngroups;
};

/* A field-name table entry: the name inline so that a lookup touches one
 * cache line. */
struct rset_fent {
    uint32_t id1; /* id + 1, 0 = empty */
    uint32_t len;
    char name[56]; /* the first 56 bytes of the name */
};

struct rule_set {
    atomic_int refs;
    struct rule **rules; /* detections first (rule_set_info index), in load order */
    size_t nrules;
    struct rule **corrs;
    size_t ncorrs;
    struct rule **filters;
    size_t nfilters;
    struct ts_ystream **streams; /* kept for correlation documents */
    size_t nstreams;
    /* field names */
    char **fnames;
    uint32_t *flens;
    uint32_t nfnames;
    struct rset_fent *fhash; /* open addressing, one cache line per entry */
    uint32_t fhash_cap;
    uint32_t kw_fields[3]; /* message, Message, raw */
    /* routing */
    struct lgroup *groups;
    uint32_t ngroups;
    struct route_ent *routes;
    uint32_t nroutes;
    uint32_t *any_groups; /* groups with no logsource at all */
    uint32_t nany;
    uint32_t memo_total;  /* selections over all detections and filters */
    uint8_t *pf_need;     /* per rule: mask of the prefilter slots that must all hit (0: always) */
    size_t prefilter_rules, always_rules;
    /* limits of one regex search (rule_load_opts, defaults filled in) */
    size_t re_max_subject;
    uint32_t re_match_limit, re_depth_limit, re_heap_limit_kib;
};

/* Build the routing groups and automata once all rules are in (load.c). */
int rset_build_index(struct rule_set *rs);
/* Literal-set analysis for the prefilter (prefilter.c): add the rule's
 * required literals to b, in up to RULE_PREFILTER_SLOTS slots (the rule is a
 * candidate when a literal of every slot occurs), set *need to the mask of
 * its slots and return 0; or return 1 when the rule has no usable literal
 * (must always be evaluated). */
int prefilter_rule(const struct rule *r, uint32_t idx, struct ac_builder *b, uint8_t *need);

/* Test hook (the prefilter differential test): when exact, rule_match
 * evaluates every rule routed to the event instead of the prefilter's
 * candidates, and takes none of the shortcuts of rules/match.c (field
 * names looked up one by one instead of through the remembered shapes;
 * each value through vm_value instead of the one-fold string loop). Same
 * results, by construction of the prefilter and the shortcuts. */
void rule_scratch_set_exact(struct rule_scratch *s, bool exact);
/* Test and bench hook: scan every value instead of through the memo. */
void rule_scratch_set_memo(struct rule_scratch *s, bool on);

uint32_t rset_field_lookup(const struct rule_set *rs, const char *name, size_t len);
uint64_t rset_hash(const char *s, size_t n);

#endif
