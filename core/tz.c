/* tz.c - time zones by IANA name (the system's tzdata, TZif files) or as
 * fixed offsets, for timestamps that carry no zone (RFC 3164 syslog, many
 * application logs).
 *
 * A zone is loaded once (config load, option parsing) and is then read-only:
 * lookups from any thread, no allocation, no process time zone (TZ/tzset are
 * never touched). The TZif reader takes the 64-bit (v2+) section when there
 * is one, else v1; the footer's POSIX rule is not evaluated: after the last
 * transition the last offset stays (tzdata ships transitions to 2037).
 * Caps: 4096 transitions, 64 local time types, files of at most 256 KiB. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tz.h"

#define TZ_MAX_TRANS 4096
#define TZ_MAX_TYPES 64
#define TZ_MAX_FILE (256u << 10)

struct ts_tz {
    char name[64];
    int32_t fixed;       /* offset when ntrans == 0 */
    uint32_t ntrans;
    int64_t *at;         /* transition times, UTC seconds, ascending */
    int32_t *off;        /* offset from that transition on */
    int32_t before;      /* offset before the first transition */
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* An IANA name: letters, digits and _ + - /, no empty or dot segment. */
static bool name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len >= 64 || n[0] == '/' || n[len - 1] == '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '/'))
            return false;
        if (c == '/' && n[i + 1] == '/')
            return false;
    }
    return true;
}

/* Parse a TZif image into z. 0 or TS_E_PARSE / TS_E_NOMEM. */
static int tzif_parse(struct ts_tz *z, const unsigned char *p, size_t n)
{
    if (n < 44 || memcmp(p, "TZif", 4) != 0)
        return TS_E_PARSE;
    int version = p[4];
    /* header: isutcnt isstdcnt leapcnt timecnt typecnt charcnt */
    uint32_t h[6];
    for (int i = 0; i < 6; i++)
        h[i] = be32(p + 20 + 4 * i);
    size_t tsize = 4;
    size_t off = 44;
    if (version >= '2') { /* skip the v1 block to the 64-bit one */
        size_t v1 = (size_t)h[3] * 5 + (size_t)h[4] * 6 + h[5] + (size_t)h[2] * 8 + h[1] + h[0];
        if (v1 > n - 44 || n - 44 - v1 < 44 || memcmp(p + 44 + v1, "TZif", 4) != 0)
            return TS_E_PARSE;
        off = 44 + v1 + 44;
        for (int i = 0; i < 6; i++)
            h[i] = be32(p + 44 + v1 + 20 + 4 * i);
        tsize = 8;
    }
    uint32_t timecnt = h[3], typecnt = h[4];
    if (timecnt > TZ_MAX_TRANS || typecnt == 0 || typecnt > TZ_MAX_TYPES)
        return TS_E_PARSE;
    size_t need = (size_t)timecnt * (tsize + 1) + (size_t)typecnt * 6;
    if (need > n - off)
        return TS_E_PARSE;
    const unsigned char *times = p + off, *idx = times + (size_t)timecnt * tsize;
    const unsigned char *types = idx + timecnt;
    int32_t toff[TZ_MAX_TYPES];
    for (uint32_t i = 0; i < typecnt; i++) {
        int32_t o = (int32_t)be32(types + 6 * i);
        if (o < -26 * 3600 || o > 26 * 3600)
            return TS_E_PARSE;
        toff[i] = o;
    }
    z->at = timecnt ? malloc(timecnt * sizeof(*z->at)) : NULL;
    z->off = timecnt ? malloc(timecnt * sizeof(*z->off)) : NULL;
    if (timecnt && (!z->at || !z->off))
        return TS_E_NOMEM;
    for (uint32_t i = 0; i < timecnt; i++) {
        int64_t t = tsize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
        if (idx[i] >= typecnt || (i && t <= z->at[i - 1]))
            return TS_E_PARSE;
        z->at[i] = t;
        z->off[i] = toff[idx[i]];
    }
    z->ntrans = timecnt;
    z->before = toff[0];
    z->fixed = toff[timecnt ? idx[timecnt - 1] : 0];
    return 0;
}

void ts_tz_free(struct ts_tz *z)
{
    if (!z)
        return;
    free(z->at);
    free(z->off);
    free(z);
}

int ts_tz_load(const char *spec, struct ts_tz **out, char *why, size_t whylen)
{
    *out = NULL;
    struct ts_tz *z = calloc(1, sizeof(*z));
    if (!z)
        return TS_E_NOMEM;
    snprintf(z->name, sizeof(z->name), "%s", spec ? spec : "");
    int fixed;
    if (spec && ts_tz_offset_parse(spec, &fixed) == 0) {
        z->fixed = fixed;
        *out = z;
        return 0;
    }
    if (!spec || !name_ok(spec)) {
        snprintf(why, whylen, "not a zone: use UTC, an offset like +07:00, or an IANA name "
                              "like Asia/Ho_Chi_Minh");
        ts_tz_free(z);
        return TS_E_INVAL;
    }
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", spec);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, whylen, "unknown time zone \"%s\" (%s: %s; is tzdata installed?)", spec,
                 path, strerror(errno));
        ts_tz_free(z);
        return TS_E_NOTFOUND;
    }
    unsigned char *buf = malloc(TZ_MAX_FILE);
    size_t n = buf ? fread(buf, 1, TZ_MAX_FILE, f) : 0;
    fclose(f);
    int rc = buf ? tzif_parse(z, buf, n) : TS_E_NOMEM;
    free(buf);
    if (rc) {
        snprintf(why, whylen, "%s: not a valid TZif file", path);
        ts_tz_free(z);
        return rc;
    }
    *out = z;
    return 0;
}

const char *ts_tz_name(const struct ts_tz *z)
{
    return z ? z->name : "UTC";
}

int ts_tz_offset_at(const struct ts_tz *z, int64_t utc_s)
{
    if (!z)
        return 0;
    if (!z->ntrans)
        return z->fixed;
    if (utc_s < z->at[0])
        return z->before;
    uint32_t lo = 0, hi = z->ntrans; /* last transition <= utc_s */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= utc_s)
            lo = mid;
        else
            hi = mid;
    }
    return z->off[lo];
}

int64_t ts_tz_local_to_utc(const struct ts_tz *z, int64_t local_s)
{
    /* the offset in force at the UTC instant the wall time names; in a gap
     * (spring forward) the earlier offset, in an overlap the first */
    int o1 = ts_tz_offset_at(z, local_s - ts_tz_offset_at(z, local_s));
    int64_t t = local_s - o1;
    int o2 = ts_tz_offset_at(z, t);
    return o2 == o1 ? t : local_s - (o1 > o2 ? o1 : o2);
}
