/* decoder.h - decoders: extract named, typed fields from the text of syslog
 * and similar events (sshd, sudo, web access logs, firewalls ...), and the
 * extra message formats (CEF, LEEF, key=value, W3C/combined access logs).
 *
 * Decoders are YAML files (format documented in docs/decoders.md) shipped in
 * etc/decoders/ and extendable by analysts; they match on program / format /
 * message prefix and extract fields with PCRE2 named captures (JIT) or
 * key=value splitting. A decoder set is immutable once loaded and shared by
 * all threads; per-thread scratch (PCRE2 match data) lives in a
 * norm_decoder_scratch. No malloc per event: fields go into the event's
 * arena.
 */
#ifndef INGEST_DECODER_H
#define INGEST_DECODER_H

#include <stdint.h>

#include "../core/event.h"
#include "../core/ts.h"

struct norm_decoder_set;
struct norm_decoder_scratch;

/* Hard caps (hostile decoder files): */
#define INGEST_DEC_MAX_FILES 1024     /* decoder files per directory */
#define INGEST_DEC_MAX_DECODERS 4096  /* per set */
#define INGEST_DEC_MAX_PATTERNS 256   /* per decoder */
#define INGEST_DEC_MAX_GROUPS 64      /* capture groups per regex */
#define INGEST_DEC_MAX_REGEX 8192     /* bytes of one regex */
#define INGEST_DEC_MAX_ENTRIES 256    /* entries of one set/types/rename/copy/match list */

/* Load every *.yml / *.yaml decoder file of the given files/directories
 * (a directory's files in name order; decoders keep file and document
 * order, which is the order they are tried in). Errors name file:line:col
 * (YAML positions; for a bad regex, the offending character of the pattern
 * when the scalar is a plain one-line string, else the pattern's start, with
 * PCRE2's message and offset). Returns 0, or TS_E_CONFIG / TS_E_PARSE /
 * TS_E_IO / TS_E_LIMIT / TS_E_NOMEM with err set; *out is then NULL.
 * The set holds one reference. */
int norm_decoder_set_load(struct norm_decoder_set **out, const char *const *paths,
                            size_t npaths, struct ts_err *err);
/* Reference counting: a reload builds a new set and swaps it in; events
 * decoded with a set hold pointers into it (field names, constant values),
 * so whoever swaps keeps a reference until the batches decoded with the old
 * set are done. _ref returns ds; _free drops one reference and frees the set
 * with the last one. Both are thread-safe; NULL is accepted. */
struct norm_decoder_set *norm_decoder_set_ref(struct norm_decoder_set *ds);
void norm_decoder_set_free(struct norm_decoder_set *ds);
/* Number of decoders in the set. */
size_t norm_decoder_set_count(const struct norm_decoder_set *ds);

/* Per-thread scratch (PCRE2 match data, JIT stack, match limits). One
 * scratch serves any set (it is sized for INGEST_DEC_MAX_GROUPS), so a
 * reload does not need new scratch; ds may be NULL. */
int norm_decoder_scratch_create(struct norm_decoder_scratch **out,
                                  const struct norm_decoder_set *ds);
void norm_decoder_scratch_free(struct norm_decoder_scratch *s);

/* What apply() did, for `tocsin parse --explain`. Strings are owned by the
 * set (decoder) or live in the event's arena (why). */
struct norm_decoder_explain {
    const char *decoder; /* name of the decoder that fired, or NULL */
    const char *why;     /* "pattern 2 (etc/decoders/sshd.yml:14:18) matched",
                            or why none fired */
};

/* Run the decoders on ev (normally a parsed syslog event with program and
 * message): the first decoder whose match conditions hold and one of whose
 * patterns matches adds its fields (and may set the event time and fill the
 * unset parts of ev->logsource); later decoders are not tried. Adds fields,
 * never removes any; an event no decoder matches is left exactly as it was.
 * Field names and constant values point into ds; extracted values point
 * into the event (its raw or arena). No malloc, no locks, no logging.
 * Returns 0 (also when nothing matched: ex->decoder NULL), TS_E_NOMEM /
 * TS_E_LIMIT when the arena or field cap is reached (the event keeps the
 * fields added so far). ex may be NULL (no explanation is built). */
int norm_decoder_apply(const struct norm_decoder_set *ds, struct norm_decoder_scratch *s,
                         struct ts_event *ev, struct norm_decoder_explain *ex);

/* Counters of one scratch (one thread), monotonically increasing. */
struct norm_decoder_stats {
    uint64_t events;      /* apply() calls */
    uint64_t decoded;     /* a decoder fired */
    uint64_t match_errors; /* PCRE2 errors other than no-match (match limit ...) */
    uint64_t regex_cut;   /* of match_errors: searches stopped by a PCRE2 limit (match,
                             depth, heap, JIT stack), counted as not matching */
    uint64_t type_errors; /* values kept as strings because their type did not parse */
    uint64_t undecoded;   /* events with a program and a message that no decoder decoded */
};
/* The last apply() on s saw an event with a program and a message (a text
 * log line a decoder is expected to read) and no decoder fired: the line
 * keeps only what its parser found (counted as "no decoder"). */
bool norm_decoder_scratch_undecoded(const struct norm_decoder_scratch *s);
/* The last apply() on s had a search stopped by a PCRE2 limit. */
bool norm_decoder_scratch_cut(const struct norm_decoder_scratch *s);
void norm_decoder_scratch_stats(const struct norm_decoder_scratch *s,
                                  struct norm_decoder_stats *st);

/* Message formats beyond RFC 3164/5424/JSON, same contract as the parsers
 * in ingest.h (fields into the arena; TS_E_PARSE with diag->reason), each
 * the same as ingest_parse() with INGEST_FMT_CEF / _LEEF / _KV / _ACCESS
 * (common checks included). Field names: see docs/decoders.md. */
struct ingest_parse_opts;
struct ingest_diag;
int ingest_parse_cef(const struct ingest_parse_opts *o, struct ts_event *ev,
                     struct ingest_diag *d);
int ingest_parse_leef(const struct ingest_parse_opts *o, struct ts_event *ev,
                      struct ingest_diag *d);
int ingest_parse_kv(const struct ingest_parse_opts *o, struct ts_event *ev,
                    struct ingest_diag *d);
int ingest_parse_access_log(const struct ingest_parse_opts *o, struct ts_event *ev,
                            struct ingest_diag *d);

#endif
