/* ingest_int.h - internals shared by the ingest parsers (parse.c,
 * parse_syslog.c, parse_json.c). Not part of the public interface.
 *
 * Everything here is reentrant. Strings returned for diag->reason and
 * diag->warning live in the event's arena (valid until the batch is reset),
 * or are static when the arena is full.
 */
#ifndef INGEST_INT_H
#define INGEST_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest.h"

/* A string literal and its length, for ts_event_add-style (name, name_len). */
#define ING_LIT(s) (s), (sizeof(s) - 1)

/* Longest timestamp excerpt quoted in a warning. */
#define ING_TS_EXCERPT 32

/* "Now" for inferring a missing year: opts->ref_ns, else ev->ingest_ns, else
 * the wall clock. */
int64_t ingest_ref_ns(const struct ingest_parse_opts *opts, const struct ts_event *ev);

/* Parse a BSD timestamp at the start of s (len bytes):
 *   "Mmm dd hh:mm:ss[.frac]"        day space-padded or not ("Jul  1", "Nov 9")
 *   "Mmm dd yyyy hh:mm:ss[.frac]"   with a year
 * The time is local at tz_offset_sec (seconds east of UTC). Without a year,
 * the year of ref_ns is used, or the previous one when that puts the time
 * more than 31 days after ref_ns (December logs read in January).
 * Returns 0 with *ns (UTC) and *used (bytes consumed), or TS_E_PARSE. */
int ingest_time_bsd(const char *s, size_t len, int tz_offset_sec, int64_t ref_ns, int64_t *ns,
                    size_t *used);

/* Years a timestamp may have: int64 ns since the epoch spans 1677..2262. */
#define ING_YEAR_MIN 1700
#define ING_YEAR_MAX 2200

/* ts_parse_iso8601, refusing years outside ING_YEAR_MIN..ING_YEAR_MAX (whose
 * ns would overflow int64). Same contract otherwise. */
int ingest_iso8601(const char *s, size_t len, int tz_offset_sec, int64_t *ns, size_t *used);

/* A whole string as a timestamp: RFC 3339 / ISO 8601 (zone-less ones at
 * tz_offset_sec), a BSD timestamp as above, or asctime style
 * "Www Mmm dd hh:mm:ss yyyy". Surrounding blanks are ignored.
 * Returns 0 and *ns, or TS_E_PARSE. */
int ingest_time_str(const char *s, size_t len, int tz_offset_sec, int64_t ref_ns, int64_t *ns);

/* diag->warning text for an unparsable timestamp: the first ~32 bytes of s,
 * cut at a UTF-8 boundary, quotes and control bytes replaced by '?'. */
const char *ingest_ts_warning(struct ts_arena *a, const char *s, size_t len);

/* printf into the arena, for diag->reason; fallback when the arena is full. */
const char *ingest_diag_fmt(struct ts_arena *a, const char *fallback, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Set the time fields of ev to the ingest-time fallback. */
static inline void ingest_time_fallback(struct ts_event *ev)
{
    ev->time_ns = ev->ingest_ns;
    ev->time_from_event = false;
}

/* True when s starts with "<PRI>1 " (an RFC 5424 header). */
bool ingest_looks_rfc5424(const char *s, size_t len);

/* The parsers proper, on the span s[0..len) of ev->raw (ingest_parse strips
 * one trailing newline from the raw before calling them). Same contract as
 * the public ingest_parse_* functions. */
int ingest_rfc3164_span(const struct ingest_parse_opts *opts, struct ts_event *ev,
                        struct ingest_diag *diag, const char *s, size_t len);
int ingest_rfc5424_span(const struct ingest_parse_opts *opts, struct ts_event *ev,
                        struct ingest_diag *diag, const char *s, size_t len);
int ingest_json_span(const struct ingest_parse_opts *opts, struct ts_event *ev,
                     struct ingest_diag *diag, const char *s, size_t len);

/* After a JSON parse: when the object carries the syslog header of a known
 * forwarder (syslog-ng format-json, rsyslog jsonmesg, Fluent Bit's syslog
 * parsers, NXLog parse_syslog + to_json), give its keys the syslog parsers'
 * names (program, pid, host, message, facility, severity, pri) and take the
 * event time from its time key when the JSON had none of the generic ones.
 * Other objects are left as they are. Returns 0, or TS_E_NOMEM/TS_E_LIMIT
 * with diag->reason (the arena or the field cap). parse_syslog.c. */
int ingest_syslog_json(const struct ingest_parse_opts *opts, struct ts_event *ev,
                       struct ingest_diag *diag);

#endif
