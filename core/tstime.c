/* tstime.c - see tstime.h. Civil-date algorithms after H. Hinnant. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ts.h"
#include "tstime.h"

int64_t ts_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * TS_NS_PER_SEC + t.tv_nsec;
}

int64_t ts_mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * TS_NS_PER_SEC + t.tv_nsec;
}

int64_t ts_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (int64_t)(m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void ts_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int64_t ts_epoch_from_utc(int64_t y, unsigned mon, unsigned d, unsigned h, unsigned mi, unsigned s)
{
    return ts_days_from_civil(y, mon, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + s;
}

unsigned ts_days_in_month(int64_t y, unsigned m)
{
    static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12)
        return 0;
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

size_t ts_format_rfc3339(int64_t ns, char *buf, size_t len)
{
    int64_t secs = ns / TS_NS_PER_SEC;
    int64_t frac = ns % TS_NS_PER_SEC;
    if (frac < 0) {
        frac += TS_NS_PER_SEC;
        secs -= 1;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    int64_t y;
    unsigned m, d;
    ts_civil_from_days(days, &y, &m, &d);
    unsigned hh = (unsigned)(rem / 3600), mm = (unsigned)(rem / 60 % 60), ss = (unsigned)(rem % 60);
    int fd = frac == 0 ? 0 : frac % 1000000 == 0 ? 3 : frac % 1000 == 0 ? 6 : 9;
    if (y < 0 || y > 9999 || len < 32) { /* rare: let snprintf handle widths and room */
        int n = fd == 0 ? snprintf(buf, len, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m,
                                   d, hh, mm, ss)
                        : snprintf(buf, len, "%04lld-%02u-%02uT%02u:%02u:%02u.%0*lldZ",
                                   (long long)y, m, d, hh, mm, ss, fd,
                                   (long long)(fd == 3 ? frac / 1000000
                                               : fd == 6 ? frac / 1000 : frac));
        if (n < 0)
            return 0;
        return (size_t)n < len ? (size_t)n : len - 1;
    }
    /* by hand: this runs for every printed time (incidents, events out) */
    char *p = buf;
    unsigned yy = (unsigned)y;
    *p++ = (char)('0' + yy / 1000), *p++ = (char)('0' + yy / 100 % 10);
    *p++ = (char)('0' + yy / 10 % 10), *p++ = (char)('0' + yy % 10), *p++ = '-';
    *p++ = (char)('0' + m / 10), *p++ = (char)('0' + m % 10), *p++ = '-';
    *p++ = (char)('0' + d / 10), *p++ = (char)('0' + d % 10), *p++ = 'T';
    *p++ = (char)('0' + hh / 10), *p++ = (char)('0' + hh % 10), *p++ = ':';
    *p++ = (char)('0' + mm / 10), *p++ = (char)('0' + mm % 10), *p++ = ':';
    *p++ = (char)('0' + ss / 10), *p++ = (char)('0' + ss % 10);
    if (fd) {
        int64_t f = fd == 3 ? frac / 1000000 : fd == 6 ? frac / 1000 : frac;
        *p++ = '.';
        for (int i = fd - 1; i >= 0; i--) {
            p[i] = (char)('0' + f % 10);
            f /= 10;
        }
        p += fd;
    }
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - buf);
}

static int digits(const char *s, size_t len, size_t *pos, unsigned n, unsigned *out)
{
    unsigned v = 0;
    for (unsigned i = 0; i < n; i++) {
        if (*pos >= len || s[*pos] < '0' || s[*pos] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[*pos] - '0');
        (*pos)++;
    }
    *out = v;
    return 0;
}

int ts_parse_iso8601(const char *s, size_t len, int tz_offset_sec, int64_t *ns, size_t *used)
{
    size_t p = 0;
    unsigned y, mo, d, h, mi, sec = 0;
    if (digits(s, len, &p, 4, &y) || p >= len || s[p++] != '-' || digits(s, len, &p, 2, &mo) ||
        p >= len || s[p++] != '-' || digits(s, len, &p, 2, &d))
        return TS_E_PARSE;
    if (p >= len || (s[p] != 'T' && s[p] != 't' && s[p] != ' '))
        return TS_E_PARSE;
    p++;
    if (digits(s, len, &p, 2, &h) || p >= len || s[p++] != ':' || digits(s, len, &p, 2, &mi))
        return TS_E_PARSE;
    if (p < len && s[p] == ':') {
        p++;
        if (digits(s, len, &p, 2, &sec))
            return TS_E_PARSE;
    }
    /* int64 ns covers 1677-09-21 .. 2262-04-11: stay well inside it */
    if (y < 1678 || y > 2261)
        return TS_E_PARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > ts_days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return TS_E_PARSE;
    int64_t frac = 0;
    if (p < len && (s[p] == '.' || s[p] == ',')) {
        p++;
        unsigned nd = 0;
        int64_t scale = 100000000;
        while (p < len && s[p] >= '0' && s[p] <= '9') {
            if (nd < 9) {
                frac += (s[p] - '0') * scale;
                scale /= 10;
            }
            nd++;
            p++;
        }
        if (nd == 0)
            return TS_E_PARSE;
    }
    int off = tz_offset_sec;
    if (p < len && (s[p] == 'Z' || s[p] == 'z')) {
        off = 0;
        p++;
    } else if (p < len && (s[p] == '+' || s[p] == '-')) {
        int sign = s[p] == '-' ? -1 : 1;
        unsigned oh, om = 0;
        p++;
        if (digits(s, len, &p, 2, &oh))
            return TS_E_PARSE;
        if (p < len && s[p] == ':')
            p++;
        if (p < len && s[p] >= '0' && s[p] <= '9' && digits(s, len, &p, 2, &om))
            return TS_E_PARSE;
        if (oh > 23 || om > 59)
            return TS_E_PARSE;
        off = sign * (int)(oh * 3600 + om * 60);
    }
    if (sec == 60)
        sec = 59; /* leap second: clamp */
    int64_t t = ts_epoch_from_utc(y, mo, d, h, mi, sec) - off;
    *ns = t * TS_NS_PER_SEC + frac;
    if (used)
        *used = p;
    return 0;
}

int ts_duration_parse(const char *s, size_t len, int64_t *ns)
{
    size_t i = 0;
    int64_t v = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (v > 100000000000LL)
            return TS_E_PARSE;
        v = v * 10 + (s[i] - '0');
        i++;
    }
    if (i == 0)
        return TS_E_PARSE;
    static const struct {
        const char *unit;
        int64_t ns;
    } units[] = {{"ms", 1000000LL},          {"s", TS_NS_PER_SEC},
                 {"m", 60 * TS_NS_PER_SEC},  {"h", 3600 * TS_NS_PER_SEC},
                 {"d", 86400 * TS_NS_PER_SEC}, {"w", 7 * 86400 * TS_NS_PER_SEC}};
    for (size_t u = 0; u < TS_ARRAY_LEN(units); u++) {
        size_t ul = strlen(units[u].unit);
        if (len - i == ul && memcmp(s + i, units[u].unit, ul) == 0) {
            if (v > 100LL * 365 * 86400 * TS_NS_PER_SEC / units[u].ns)
                return TS_E_PARSE;
            *ns = v * units[u].ns;
            return 0;
        }
    }
    return TS_E_PARSE;
}

unsigned ts_month_from_abbr(const char *s)
{
    static const char *const m[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                    "jul", "aug", "sep", "oct", "nov", "dec"};
    for (unsigned i = 0; i < 12; i++)
        if (strncasecmp(s, m[i], 3) == 0)
            return i + 1;
    return 0;
}
