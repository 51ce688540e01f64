/* decoder.h - decoders: extract named, typed fields from the text of syslog
 * and similar events (sshd, sudo, web access logs, firewalls ...), and the
 * extra message formats (CEF, LEEF, key=value, W3C/combined access logs).
 *
 * Decoders are YAML files (format documented in docs/decoders.md) shipped in
 * etc/decoders/ and extendable by analysts; they match on program / format /
 * message prefix and extract fields with PCRE2 named captures (JIT) or
 * key=value splitting. A decoder set is immutable once loaded and shared by
 * all threads; per-thread scratch (PCRE2 match data) lives in a
 * ingest_decoder_scratch. No malloc per event: fields go into the event's
 * arena.
 */
#ifndef INGEST_DECODER_H
#define INGEST_DECODER_H

#include "../core/event.h"
#include "../core/ts.h"

struct ingest_decoder_set;
struct ingest_decoder_scratch;

/* Load every *.yml decoder file of the given files/directories. Errors name
 * file:line:col (YAML positions; for a bad regex, the position of the
 * pattern and PCRE2's message). */
int ingest_decoder_set_load(struct ingest_decoder_set **out, const char *const *paths,
                            size_t npaths, struct ts_err *err);
void ingest_decoder_set_free(struct ingest_decoder_set *ds);
int ingest_decoder_scratch_create(struct ingest_decoder_scratch **out,
                                  const struct ingest_decoder_set *ds);
void ingest_decoder_scratch_free(struct ingest_decoder_scratch *s);

struct ingest_decoder_explain {
    const char *decoder; /* name of the decoder that fired, or NULL */
    const char *why;     /* why none fired / which rule matched */
};

/* Run the decoders on ev (normally a parsed syslog event with program and
 * message). Adds fields; never removes any. 0 also when nothing matched. */
int ingest_decoder_apply(const struct ingest_decoder_set *ds, struct ingest_decoder_scratch *s,
                         struct ts_event *ev, struct ingest_decoder_explain *ex);

/* Message formats beyond RFC 3164/5424/JSON, same contract as the parsers
 * in ingest.h (fields into the arena; TS_E_PARSE with diag->reason). */
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
