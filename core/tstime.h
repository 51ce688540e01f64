/* tstime.h - time helpers: clocks, civil time <-> epoch, RFC 3339.
 * All functions are reentrant and never touch the process time zone. */
#ifndef TS_TIME_H
#define TS_TIME_H

#include <stddef.h>
#include <stdint.h>

#define TS_NS_PER_SEC 1000000000LL

/* CLOCK_REALTIME in ns since the epoch. */
int64_t ts_now_ns(void);
/* CLOCK_MONOTONIC in ns. */
int64_t ts_mono_ns(void);
/* Days since 1970-01-01 for a proleptic Gregorian date (month 1-12). */
int64_t ts_days_from_civil(int64_t y, unsigned m, unsigned d);
/* Inverse of the above. */
void ts_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
/* Seconds since the epoch for a UTC broken-down time; no range checks. */
int64_t ts_epoch_from_utc(int64_t y, unsigned mon, unsigned d, unsigned h, unsigned mi, unsigned s);
/* Days in month m (1-12) of year y. */
unsigned ts_days_in_month(int64_t y, unsigned m);
/* "2024-04-01T12:34:56.123456789Z" style; trailing zero groups of the
 * fraction are dropped to ms/us/ns precision. Returns the length written
 * (buf needs 40 bytes). */
size_t ts_format_rfc3339(int64_t ns, char *buf, size_t len);
/* Parse an RFC 3339 / ISO 8601 timestamp (date 'T' or ' ' time, optional
 * fraction, 'Z' or +hh:mm / +hhmm offset; without an offset, tz_offset_sec
 * is applied). Years outside 1678..2261 (beyond int64 ns) are rejected.
 * Returns 0 and ns, or TS_E_PARSE. *used gets the bytes consumed. */
int ts_parse_iso8601(const char *s, size_t len, int tz_offset_sec, int64_t *ns, size_t *used);
/* A duration as written in configs and Sigma timespans: digits and a unit,
 * "250ms", "90s", "5m", "1h", "7d", "2w". Returns 0 and ns, or TS_E_PARSE
 * (also past 100 years). */
int ts_duration_parse(const char *s, size_t len, int64_t *ns);
/* "Jan".."Dec" (case-insensitive) to 1..12, or 0. */
unsigned ts_month_from_abbr(const char *s);

#endif
