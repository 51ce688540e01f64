/* rules.h - the Sigma detection engine: load Sigma YAML (detection rules,
 * filters; correlation rules are parsed and handed to correlate/), compile
 * the whole set into one matcher, and match events against it.
 *
 * A rule set is immutable once built and reference-counted: all worker
 * threads share it read-only; a reload (SIGHUP) builds a new set and swaps it
 * in, keeping the old one if the build fails. Per-thread mutable state lives
 * in a rule_scratch. Matching allocates nothing per event.
 */
#ifndef RULES_H
#define RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/event.h"
#include "../core/ts.h"
#include "../core/yaml.h"

/* ------------------------------------------------------------- loading */

/* invalid and unsupported rules are left out of the set; a warning (lint:
 * unknown keys, ids that are not UUIDs or not unique, ATT&CK tags outside
 * the taxonomy) keeps the rule, and fails only `rules check --strict`. */
enum rule_problem_kind { RULE_INVALID = 1, RULE_UNSUPPORTED, RULE_WARNING };
/* "invalid", "unsupported" or "warning". */
const char *rule_problem_kind_name(enum rule_problem_kind k);

/* One problem found while loading: printed by `tocsin rules check` as
 * "file:line:col: invalid|unsupported|warning: [rule-id] message". */
struct rule_problem {
    enum rule_problem_kind kind;
    char file[512];
    unsigned line, col;
    char rule_id[64]; /* "" when the rule has no id (yet) */
    char msg[512];
};

struct rule_report {
    size_t files;        /* YAML files read */
    size_t rules;        /* rule documents seen */
    size_t ok;           /* detection + filter + correlation rules loaded */
    size_t unsupported;
    size_t invalid;
    size_t warnings;     /* problems of kind RULE_WARNING (rules kept) */
    size_t correlations; /* of ok: correlation rules (for correlate/) */
    size_t filters;      /* of ok: filter (meta) rules */
    struct rule_problem *problems; /* owned; free with rule_report_free */
    size_t nproblems;
};
void rule_report_free(struct rule_report *r);

/* Field-name mapping and placeholder values live in config, not code. */
struct rule_field_alias {
    const char *sigma_name; /* as written in rules */
    const char *event_name; /* field name in events */
};
struct rule_placeholder {
    const char *name;          /* %name% in rules with the expand modifier */
    const char *const *values;
    size_t nvalues;
};

struct rule_load_opts {
    const char *const *paths; /* files and directories (recursive, .yml and .yaml files) */
    size_t npaths;
    /* Alternatively (when npaths == 0): one rule file held in memory, for
     * tests and the fuzzer. buf_name is used in problems. */
    const char *buf;
    size_t buf_len;
    const char *buf_name;
    const struct rule_field_alias *aliases;
    size_t naliases;
    const struct rule_placeholder *placeholders;
    size_t nplaceholders;
    /* Regular expressions (modifier re): limits of one search, 0 = the
     * default. A search that a limit cuts short counts as not matching and is
     * counted in rule_match_stats.re_limit_hits (docs/rules.md, "Regular
     * expressions: limits"). */
    size_t re_max_subject;      /* bytes of a value searched (RULE_RE_MAX_SUBJECT);
                                 * patterns with many unbounded repeats search less */
    uint32_t re_match_limit;    /* PCRE2 match limit (RULE_RE_MATCH_LIMIT) */
    uint32_t re_depth_limit;    /* PCRE2 depth limit (RULE_RE_DEPTH_LIMIT) */
    uint32_t re_heap_limit_kib; /* PCRE2 heap limit, KiB (RULE_RE_HEAP_LIMIT_KIB) */
    /* The ATT&CK taxonomy that attack.* tags are checked against (a text
     * file: "tactic NAME" and "id PATTERN" lines, # a digit; the shipped
     * one is etc/attack/taxonomy.txt); NULL: tags are not checked. A file
     * that cannot be read or parsed is an error (TS_E_IO / TS_E_INVAL). */
    const char *attack_taxonomy;
};

#define RULE_RE_MAX_SUBJECT ((size_t)64 << 10)
#define RULE_RE_MATCH_LIMIT 1000000u
#define RULE_RE_DEPTH_LIMIT 50000u
#define RULE_RE_HEAP_LIMIT_KIB 8192u

struct rule_set;

/* Load and compile. Rules with problems are left out (never half-loaded) and
 * listed in report; the set holds the others. Returns 0 (even with
 * problems), or an error (TS_E_NOMEM, TS_E_IO when a path cannot be read,
 * with err set). */
int rule_set_load(struct rule_set **out, const struct rule_load_opts *o, struct rule_report *report,
                  struct ts_err *err);
struct rule_set *rule_set_ref(struct rule_set *rs);
void rule_set_unref(struct rule_set *rs); /* frees on the last reference; NULL ok */

/* ------------------------------------------------------- rule metadata */

/* A rule's metadata. Every string is owned by the set and valid while the
 * set is referenced; absent attributes are NULL (arrays: NULL and 0). */
struct rule_related {
    const char *id;
    const char *type; /* derived, obsolete, merged, renamed, similar */
};
struct rule_info {
    const char *id, *name, *title, *status, *level, *author, *description, *file;
    const char *date, *modified;
    unsigned line;                 /* where the rule's document starts */
    const char *const *tags;       /* incl. attack.tXXXX */
    size_t ntags;
    const char *const *references;
    size_t nreferences;
    const char *const *falsepositives;
    size_t nfalsepositives;
    const char *const *fields;     /* `fields:` of the rule */
    size_t nfields;
    const struct rule_related *related;
    size_t nrelated;
    const char *product, *category, *service; /* logsource, NULL when absent */
    size_t nfilters; /* filter rules applied to this rule */
};

/* Detection rules (filters and correlations are not counted here). */
size_t rule_set_count(const struct rule_set *rs);
const struct rule_info *rule_set_info(const struct rule_set *rs, size_t idx);
/* Correlation rule documents, for correlate/: their YAML tree (owned by the
 * set, valid while it is referenced) and metadata. */
size_t rule_set_correlation_count(const struct rule_set *rs);
const struct ts_ynode *rule_set_correlation(const struct rule_set *rs, size_t i,
                                            const struct rule_info **info);
/* Index of the detection rule with this id or name, or -1. */
long rule_set_find(const struct rule_set *rs, const char *id_or_name);

/* ------------------------------------------------------------ matching */

struct rule_scratch;
int rule_scratch_create(struct rule_scratch **out, const struct rule_set *rs);
void rule_scratch_free(struct rule_scratch *s);
/* Make s a scratch of rs (another set, or the same), as rule_scratch_create
 * would, keeping its lowercase buffer, PCRE2 match data and JIT stack (the
 * large parts: a fuzz target loads a set per input). 0, or TS_E_NOMEM,
 * after which s may only be freed. */
int rule_scratch_rebind(struct rule_scratch *s, const struct rule_set *rs);

/* Called once per matching rule; idx indexes rule_set_info. */
typedef int (*rule_match_fn)(void *ctx, const struct ts_event *ev, size_t idx);

/* Match ev against every rule whose logsource fits the event's logsource
 * (ev->logsource), calling fn for each match, in rule order. Returns 0, or
 * the first non-zero value fn returned. */
int rule_match(const struct rule_set *rs, struct rule_scratch *s, const struct ts_event *ev,
               rule_match_fn fn, void *ctx);

/* Explain why rule idx matches ev (which selections matched, on which field
 * values) as a JSON object appended to out. */
int rule_explain(const struct rule_set *rs, struct rule_scratch *s, size_t idx,
                 const struct ts_event *ev, struct ts_buf *out);

/* Explain whether and why rule idx does not match ev, as a JSON object
 * appended to out: {"rule":{"id","title"},"matched":B,"logsource":{"applies":B,
 * "rule":{...},"event":{...}}[,"selection":NAME[,"failed":{"key","field",
 * "value"|"absent":true,"expected":[...]}]],"why":"one sentence"}. The
 * sentence names the first reason found: the logsource does not apply, the
 * selection the condition needs that failed (which field, its value, the
 * values the key wanted), a selection the condition excludes, or a filter
 * rule. A separate evaluation of one rule, for `rules test --explain` and
 * `tocsin logtest`: rule_match does not pay for it. */
int rule_explain_miss(const struct rule_set *rs, struct rule_scratch *s, size_t idx,
                      const struct ts_event *ev, struct ts_buf *out);

/* Counters of this scratch since it was created (one thread's matching):
 * events, rules evaluated exactly, matches; and regular-expression searches
 * cut short - by PCRE2's match, depth or heap limit, the JIT stack, or a
 * value longer than the pattern's window (re_too_long counts those of
 * re_limit_hits) - which counted as not matching. rule_explain counts too.
 * Sum the scratches of all workers for a process-wide figure. */
struct rule_match_stats {
    uint64_t events, candidates, matches;
    uint64_t re_limit_hits;
    uint64_t re_too_long;
    uint64_t memo_hits, memo_misses; /* values whose prefilter scan was replayed / made */
};
void rule_scratch_stats(const struct rule_scratch *s, struct rule_match_stats *out);

#endif
