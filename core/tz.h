/* tz.h - time zones for timestamps without one: fixed offsets ("+07:00",
 * "UTC") or IANA names ("Asia/Ho_Chi_Minh", from the system's tzdata).
 *
 * A struct ts_tz is made once by ts_tz_load and is read-only afterwards:
 * lookups are reentrant, allocate nothing and never touch TZ/tzset. */
#ifndef TS_TZ_H
#define TS_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ts.h"

struct ts_tz;

/* spec: "UTC", "Z", "+07:00", "-0530", "+09", or an IANA name read from
 * $TZDIR (default /usr/share/zoneinfo). 0 and *out (owned by the caller,
 * ts_tz_free), or TS_E_INVAL (not a zone), TS_E_NOTFOUND (no such file),
 * TS_E_PARSE (not TZif), TS_E_NOMEM; why gets a one-line reason. */
int ts_tz_load(const char *spec, struct ts_tz **out, char *why, size_t whylen);
void ts_tz_free(struct ts_tz *z);
/* The spec it was loaded from (borrowed). NULL zone: "UTC". */
const char *ts_tz_name(const struct ts_tz *z);
/* Seconds east of UTC in force at a UTC instant. NULL zone: 0. */
int ts_tz_offset_at(const struct ts_tz *z, int64_t utc_s);
/* The UTC instant of a wall-clock time in zone z (seconds). In a DST gap
 * the earlier offset applies; in an overlap, the first occurrence. */
int64_t ts_tz_local_to_utc(const struct ts_tz *z, int64_t local_s);

#endif
