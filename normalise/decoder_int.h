/* decoder_int.h - internals shared by the payload formats (parse_cef.c,
 * parse_leef.c, parse_kv.c, parse_access.c, parse_payload.c), the format
 * dispatch in parse.c and the decoders (decoder.c). Not a public interface.
 *
 * Everything here is reentrant and allocates only from the event's arena.
 */
#ifndef INGEST_DECODER_INT_H
#define INGEST_DECODER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decoder.h"
#include "../ingest/ingest.h"
#include "../ingest/ingest_int.h"

/* Where a "CEF:" / "LEEF:" payload may start: at most this many bytes into
 * the line (after a syslog header). */
#define ING_PAYLOAD_SEARCH 1024
/* Longest key accepted in CEF/LEEF extensions and key=value text. */
#define ING_KEY_MAX 256

enum ing_payload { ING_PAY_CEF, ING_PAY_LEEF, ING_PAY_KV };

/* The payload parsers proper, on s[0..len) = the payload (s starts with
 * "CEF:" / "LEEF:" for those two; key=value text for kv). They add the
 * payload's fields, set ev->format, and set the event time from the
 * payload's own timestamp when it has one (diag->warning when that is
 * unparsable; a good one clears a warning left by the syslog header).
 * Return 0, or TS_E_PARSE with diag->reason, or TS_E_NOMEM / TS_E_LIMIT. */
int ingest_cef_payload(const struct ingest_parse_opts *opts, struct ts_event *ev,
                       struct ingest_diag *diag, const char *s, size_t len);
int ingest_leef_payload(const struct ingest_parse_opts *opts, struct ts_event *ev,
                        struct ingest_diag *diag, const char *s, size_t len);
int ingest_kv_payload(const struct ingest_parse_opts *opts, struct ts_event *ev,
                      struct ingest_diag *diag, const char *s, size_t len);
/* One whole access-log line (common / combined). */
int ingest_access_span(const struct ingest_parse_opts *opts, struct ts_event *ev,
                       struct ingest_diag *diag, const char *s, size_t len);

/* A line whose payload of the given kind starts at s + off: the part before
 * it, s[0..off), is an optional syslog header (RFC 5424, RFC 3164, or only
 * "<PRI>"), parsed for host/program/pid/facility/severity/time; "message" is
 * the payload; then the payload parser runs. */
int ingest_payload_line(enum ing_payload kind, const struct ingest_parse_opts *opts,
                        struct ts_event *ev, struct ingest_diag *diag, const char *s, size_t len,
                        size_t off);

/* Offset of tok (e.g. "CEF:") in s where it starts the line, follows a
 * "<PRI>", or follows a blank, within the first ING_PAYLOAD_SEARCH bytes;
 * SIZE_MAX when absent. */
size_t ingest_payload_find(const char *s, size_t len, const char *tok, size_t toklen);

/* Bytes of a leading "<PRI>" (1-3 digits, <= 191), 0 if none. */
size_t ingest_pri_len(const char *s, size_t len);

/* Shapes, for auto-detection; both read at most the first few hundred bytes. */
bool ingest_looks_access(const char *s, size_t len);
bool ingest_looks_kv(const char *s, size_t len);

/* A value as a timestamp: epoch digits (10 = s, 13 = ms, 16 = us, 19 = ns,
 * optionally with a fraction after '.'), RFC 3339 / ISO 8601, "yyyy/mm/dd
 * hh:mm:ss" (nginx), BSD "Mmm dd [yyyy ]hh:mm:ss[.frac]", asctime; a trailing
 * " UTC", " GMT" or " Z" means UTC, otherwise zone-less times are at
 * opts->tz_offset_sec. Returns 0 and *ns, or TS_E_PARSE. */
int ingest_time_value(const struct ingest_parse_opts *opts, const struct ts_event *ev,
                      const char *s, size_t len, int64_t *ns);

/* Set the event time from a payload timestamp value: on success sets
 * ev->time_ns / time_from_event and clears diag->warning; on failure sets
 * diag->warning. */
void ingest_set_time_from(const struct ingest_parse_opts *opts, struct ts_event *ev,
                          struct ingest_diag *diag, const char *s, size_t len);

/* ------------------------------------------------------ key=value splitting */

/* One pair. key/val point into the scanned text; when esc is set the value
 * holds backslash escapes (\" \\) to be removed by ingest_kv_value. */
struct ingest_kv {
    const char *key;
    size_t klen;
    const char *val;
    size_t vlen;
    bool esc;
};

struct ingest_kv_iter {
    const char *s;
    size_t len;
    size_t p;
    uint32_t skipped; /* tokens without '=' (e.g. iptables "DF", "SYN") */
};

static inline void ingest_kv_init(struct ingest_kv_iter *it, const char *s, size_t len)
{
    it->s = s;
    it->len = len;
    it->p = 0;
    it->skipped = 0;
}

/* The next `key=value` / `key="quoted value"` / `key='quoted'` pair, pairs
 * separated by blanks; tokens without '=' are skipped and counted. An
 * unterminated quote takes the rest of the text. Returns false at the end. */
bool ingest_kv_next(struct ingest_kv_iter *it, struct ingest_kv *kv);

/* kv's value with escapes removed: points into the text when there are none,
 * else into the arena. Returns 0 or TS_E_NOMEM. */
int ingest_kv_value(struct ts_arena *a, const struct ingest_kv *kv, const char **out,
                    size_t *olen);

/* Failure of the arena or of the field cap, as a dead-letter reason. */
static inline int ingest_add_failed(struct ingest_diag *diag, int rc)
{
    diag->reason =
        rc == TS_E_LIMIT ? "more than 4096 fields in one event (the limit)"
                         : "out of memory for the batch (arena full)";
    return rc;
}

#endif
