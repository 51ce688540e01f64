/* parse.c - ingest_parse(): the checks every message goes through (empty,
 * size, UTF-8), format detection and dispatch to the RFC 3164 / RFC 5424 /
 * JSON / CEF / LEEF / key=value / access-log parsers; plus the helpers the
 * parsers share (timestamps, diag text).
 *
 * Reentrant; no allocation except from the event's arena. Reasons and
 * warnings are arena strings (valid until the batch's arena is reset) or
 * static strings.
 */
#include <stdarg.h>
#include <stdio.h>
#include <fnmatch.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../core/buf.h"
#include "../core/tstime.h"
#include "../core/tz.h"
#include "../normalise/decoder_int.h"
#include "ingest.h"
#include "ingest_int.h"

/* ------------------------------------------------------------- format names */

int ingest_format_parse(const char *name, enum ingest_format *out)
{
    if (!name || !out)
        return TS_E_INVAL;
    if (strcmp(name, "auto") == 0)
        *out = INGEST_FMT_AUTO;
    else if (strcmp(name, "rfc3164") == 0 || strcmp(name, "syslog") == 0)
        *out = INGEST_FMT_RFC3164; /* ingest_parse routes "<PRI>1 " lines to 5424 */
    else if (strcmp(name, "rfc5424") == 0)
        *out = INGEST_FMT_RFC5424;
    else if (strcmp(name, "json") == 0)
        *out = INGEST_FMT_JSON;
    else if (strcmp(name, "cef") == 0)
        *out = INGEST_FMT_CEF;
    else if (strcmp(name, "leef") == 0)
        *out = INGEST_FMT_LEEF;
    else if (strcmp(name, "kv") == 0)
        *out = INGEST_FMT_KV;
    else if (strcmp(name, "access") == 0)
        *out = INGEST_FMT_ACCESS;
    else
        return TS_E_INVAL;
    return 0;
}

const char *ingest_format_name(enum ingest_format f)
{
    switch (f) {
    case INGEST_FMT_AUTO:
        return "auto";
    case INGEST_FMT_RFC3164:
        return "rfc3164";
    case INGEST_FMT_RFC5424:
        return "rfc5424";
    case INGEST_FMT_JSON:
        return "json";
    case INGEST_FMT_CEF:
        return "cef";
    case INGEST_FMT_LEEF:
        return "leef";
    case INGEST_FMT_KV:
        return "kv";
    case INGEST_FMT_ACCESS:
        return "access";
    }
    return "unknown";
}

/* ------------------------------------------------------------------ diag text */

const char *ingest_diag_fmt(struct ts_arena *a, const char *fallback, const char *fmt, ...)
{
    char buf[192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || !a)
        return fallback;
    size_t len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
    const char *s = ts_arena_strndup(a, buf, len);
    return s ? s : fallback;
}

bool ingest_diag_warning_holds(const struct ingest_diag *d, const struct ts_event *ev)
{
    static const char ts[] = "unparsable timestamp";
    if (!d->warning)
        return false;
    return !(ev->time_from_event && strncmp(d->warning, ts, sizeof(ts) - 1) == 0);
}

const char *ingest_ts_warning(struct ts_arena *a, const char *s, size_t len)
{
    static const char fallback[] = "unparsable timestamp, using ingest time";
    static const char pre[] = "unparsable timestamp \"";
    static const char post[] = "\", using ingest time";
    size_t n = len < ING_TS_EXCERPT ? len : ING_TS_EXCERPT;
    /* Do not cut a UTF-8 sequence: back off over continuation bytes. */
    if (n < len)
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    char *w = ts_arena_alloc(a, sizeof(pre) - 1 + n + sizeof(post));
    if (!w)
        return fallback;
    char *o = w;
    memcpy(o, pre, sizeof(pre) - 1);
    o += sizeof(pre) - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        *o++ = (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
    }
    memcpy(o, post, sizeof(post)); /* with its NUL */
    return w;
}

/* ----------------------------------------------------------------- timestamps */

int64_t ingest_ref_ns(const struct ingest_parse_opts *opts, const struct ts_event *ev)
{
    if (opts && opts->ref_ns)
        return opts->ref_ns;
    if (ev->ingest_ns)
        return ev->ingest_ns;
    return ts_now_ns();
}

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int ingest_iso8601(const char *s, size_t len, int tz_offset_sec, int64_t *ns, size_t *used)
{
    if (len < 4 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) || !is_digit(s[3]))
        return TS_E_PARSE;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    if (y < ING_YEAR_MIN || y > ING_YEAR_MAX)
        return TS_E_PARSE;
    return ts_parse_iso8601(s, len, tz_offset_sec, ns, used);
}

/* "Jan".."Dec", any case, to 1..12; 0 otherwise. Reads exactly 3 bytes. */
static unsigned month3(const char *s)
{
    unsigned a = (unsigned char)s[0] | 0x20u, b = (unsigned char)s[1] | 0x20u,
             c = (unsigned char)s[2] | 0x20u;
    switch (a) {
    case 'j':
        if (b == 'a' && c == 'n')
            return 1;
        if (b == 'u' && c == 'n')
            return 6;
        if (b == 'u' && c == 'l')
            return 7;
        return 0;
    case 'f':
        return b == 'e' && c == 'b' ? 2 : 0;
    case 'm':
        if (b == 'a' && c == 'r')
            return 3;
        if (b == 'a' && c == 'y')
            return 5;
        return 0;
    case 'a':
        if (b == 'p' && c == 'r')
            return 4;
        if (b == 'u' && c == 'g')
            return 8;
        return 0;
    case 's':
        return b == 'e' && c == 'p' ? 9 : 0;
    case 'o':
        return b == 'c' && c == 't' ? 10 : 0;
    case 'n':
        return b == 'o' && c == 'v' ? 11 : 0;
    case 'd':
        return b == 'e' && c == 'c' ? 12 : 0;
    }
    return 0;
}

struct bsd_tm {
    int64_t year; /* 0: none given */
    unsigned mon, day, h, mi, sec;
    int64_t frac_ns;
};

/* Two digits at s[*p], advancing *p. */
static bool two_digits(const char *s, size_t len, size_t *p, unsigned *out)
{
    if (*p + 2 > len || !is_digit(s[*p]) || !is_digit(s[*p + 1]))
        return false;
    *out = (unsigned)(s[*p] - '0') * 10 + (unsigned)(s[*p + 1] - '0');
    *p += 2;
    return true;
}

/* The components of "Mmm dd [yyyy ]hh:mm:ss[.frac]" at s; no range checks
 * beyond the obvious. */
static int bsd_scan(const char *s, size_t len, struct bsd_tm *tm, size_t *used)
{
    if (len < 14)
        return TS_E_PARSE;
    memset(tm, 0, sizeof(*tm));
    tm->mon = month3(s);
    if (!tm->mon || s[3] != ' ')
        return TS_E_PARSE;
    size_t p = 4;
    if (s[p] == ' ')
        p++; /* "Jul  1" */
    if (p >= len || !is_digit(s[p]))
        return TS_E_PARSE;
    tm->day = (unsigned)(s[p++] - '0');
    if (p < len && is_digit(s[p]))
        tm->day = tm->day * 10 + (unsigned)(s[p++] - '0');
    if (p >= len || s[p] != ' ')
        return TS_E_PARSE;
    p++;
    /* optional year */
    if (p + 5 <= len && is_digit(s[p]) && is_digit(s[p + 1]) && is_digit(s[p + 2]) &&
        is_digit(s[p + 3]) && s[p + 4] == ' ') {
        tm->year = (s[p] - '0') * 1000 + (s[p + 1] - '0') * 100 + (s[p + 2] - '0') * 10 +
                   (s[p + 3] - '0');
        p += 5;
    }
    if (!two_digits(s, len, &p, &tm->h) || p >= len || s[p++] != ':' ||
        !two_digits(s, len, &p, &tm->mi) || p >= len || s[p++] != ':' ||
        !two_digits(s, len, &p, &tm->sec))
        return TS_E_PARSE;
    if (p + 1 < len && (s[p] == '.' || s[p] == ',') && is_digit(s[p + 1])) {
        p++;
        int64_t scale = 100000000;
        while (p < len && is_digit(s[p])) {
            tm->frac_ns += (s[p] - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    if (tm->day < 1 || tm->day > 31 || tm->h > 23 || tm->mi > 59 || tm->sec > 60)
        return TS_E_PARSE;
    if (tm->sec == 60)
        tm->sec = 59; /* leap second: clamp as ts_parse_iso8601 does */
    *used = p;
    return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* UTC ns of tm, inferring the year from ref_ns when none was given. */
static int bsd_resolve(const struct bsd_tm *tm, int tz, int64_t ref_ns, int64_t *ns)
{
    int64_t y = tm->year;
    int64_t ref_s = floor_div(ref_ns, TS_NS_PER_SEC);
    if (!y) {
        /* the latest of last, this and next year that is not more than a
         * day ahead of the reference: "Dec 10" read on Dec 7 is last year's,
         * "Jan 1 00:01" read on Dec 31 23:59 (a clock a little ahead) next
         * year's, "Dec 31 23:59" read on Jan 1 last year's */
        int64_t ry;
        unsigned rm, rd;
        ts_civil_from_days(floor_div(ref_s + tz, 86400), &ry, &rm, &rd);
        y = 0;
        for (int64_t c = ry + 1; c >= ry - 1 && !y; c--) {
            if (tm->day > ts_days_in_month(c, tm->mon))
                continue;
            int64_t t = ts_epoch_from_utc(c, tm->mon, tm->day, tm->h, tm->mi, tm->sec) - tz;
            if (t <= ref_s + 86400)
                y = c;
        }
        if (!y) /* Feb 29 with no leap year near: as written, rejected below */
            y = ry;
    }
    if (y < ING_YEAR_MIN || y > ING_YEAR_MAX || tm->day > ts_days_in_month(y, tm->mon))
        return TS_E_PARSE;
    int64_t t = ts_epoch_from_utc(y, tm->mon, tm->day, tm->h, tm->mi, tm->sec) - tz;
    *ns = t * TS_NS_PER_SEC + tm->frac_ns;
    return 0;
}

int ingest_time_bsd(const char *s, size_t len, int tz_offset_sec, int64_t ref_ns, int64_t *ns,
                    size_t *used)
{
    struct bsd_tm tm;
    size_t u;
    if (bsd_scan(s, len, &tm, &u) || bsd_resolve(&tm, tz_offset_sec, ref_ns, ns))
        return TS_E_PARSE;
    *used = u;
    return 0;
}

/* " yyyy" exactly at s[0..len), for asctime and "Mmm dd hh:mm:ss yyyy". */
static bool trailing_year(const char *s, size_t len, int64_t *y)
{
    if (len != 5 || s[0] != ' ')
        return false;
    int64_t v = 0;
    for (size_t i = 1; i < 5; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *y = v;
    return true;
}

int ingest_time_str(const char *s, size_t len, int tz_offset_sec, int64_t ref_ns, int64_t *ns)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0)
        return TS_E_PARSE;
    size_t used = 0;
    if (is_digit(s[0]))
        return ingest_iso8601(s, len, tz_offset_sec, ns, &used) == 0 && used == len
                   ? 0
                   : TS_E_PARSE;
    /* asctime: "Sun Dec 04 04:47:44 2005" */
    if (len > 4 && s[3] == ' ' && !month3(s) && month3(s + 4)) {
        s += 4;
        len -= 4;
    }
    struct bsd_tm tm;
    if (bsd_scan(s, len, &tm, &used))
        return TS_E_PARSE;
    if (used != len && (tm.year || !trailing_year(s + used, len - used, &tm.year)))
        return TS_E_PARSE;
    return bsd_resolve(&tm, tz_offset_sec, ref_ns, ns);
}

/* ---------------------------------------------------------------- dispatch */

bool ingest_looks_rfc5424(const char *s, size_t len)
{
    if (len < 5 || s[0] != '<')
        return false;
    size_t p = 1;
    while (p < len && p <= 3 && is_digit(s[p]))
        p++;
    return p > 1 && p + 2 < len && s[p] == '>' && s[p + 1] == '1' && s[p + 2] == ' ';
}

/* ts_utf8_valid_prefix with an ASCII fast path, 32 bytes at a time where
 * SSE2 is there (every x86-64), then 8. */
static size_t utf8_valid_prefix(const char *s, size_t len)
{
    size_t p = 0;
#if defined(__SSE2__)
    while (p + 32 <= len) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + p));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + p + 16));
        if (_mm_movemask_epi8(_mm_or_si128(a, b)))
            break;
        p += 32;
    }
#endif
    while (p + 8 <= len) {
        uint64_t x;
        memcpy(&x, s + p, 8);
        if (x & UINT64_C(0x8080808080808080))
            break;
        p += 8;
    }
    return p + ts_utf8_valid_prefix(s + p, len - p);
}

/* Strip one trailing "\n" or "\r\n". */
static size_t strip_eol(const char *s, size_t len)
{
    if (len && s[len - 1] == '\n') {
        len--;
        if (len && s[len - 1] == '\r')
            len--;
    }
    return len;
}

int ingest_parse_rfc3164(const struct ingest_parse_opts *opts, struct ts_event *ev,
                         struct ingest_diag *diag)
{
    return ingest_rfc3164_span(opts, ev, diag, ev->raw, strip_eol(ev->raw, ev->raw_len));
}

int ingest_parse_rfc5424(const struct ingest_parse_opts *opts, struct ts_event *ev,
                         struct ingest_diag *diag)
{
    return ingest_rfc5424_span(opts, ev, diag, ev->raw, strip_eol(ev->raw, ev->raw_len));
}

int ingest_parse_json(const struct ingest_parse_opts *opts, struct ts_event *ev,
                      struct ingest_diag *diag)
{
    return ingest_json_span(opts, ev, diag, ev->raw, strip_eol(ev->raw, ev->raw_len));
}

/* The string field `name` of ev when it points into s[0..len): its offset. */
static size_t field_offset(const struct ts_event *ev, const char *name, size_t nlen,
                           const char *s, size_t len)
{
    const struct ts_field *f = NULL;
    if (ev->nfields && ev->fields[ev->nfields - 1].name_len == nlen &&
        memcmp(ev->fields[ev->nfields - 1].name, name, nlen) == 0)
        f = &ev->fields[ev->nfields - 1];
    else
        f = ts_event_get(ev, name, nlen);
    if (!f || f->v.type != TS_V_STR || f->v.u.s < s || f->v.u.s > s + len)
        return SIZE_MAX;
    return (size_t)(f->v.u.s - s);
}

static bool starts_payload(const char *p, size_t n, enum ing_payload *kind)
{
    if (n >= 4 && p[0] == 'C' && memcmp(p, "CEF:", 4) == 0) {
        *kind = ING_PAY_CEF;
        return true;
    }
    if (n >= 5 && p[0] == 'L' && memcmp(p, "LEEF:", 5) == 0) {
        *kind = ING_PAY_LEEF;
        return true;
    }
    return false;
}

/* Auto-detection after a syslog parse: a CEF / LEEF payload as the message
 * (or, with no host before it, as the host token). Re-parses the line with
 * the header before the payload. */
static int payload_in_message(const struct ingest_parse_opts *opts, struct ts_event *ev,
                              struct ingest_diag *diag, const char *s, size_t len)
{
    enum ing_payload kind;
    size_t off = field_offset(ev, "message", 7, s, len);
    if (off == SIZE_MAX || !starts_payload(s + off, len - off, &kind)) {
        off = field_offset(ev, "host", 4, s, len);
        if (off == SIZE_MAX || !starts_payload(s + off, len - off, &kind))
            return 0;
    }
    ts_event_clear_fields(ev);
    diag->warning = NULL;
    return ingest_payload_line(kind, opts, ev, diag, s, len, off);
}

/* key=value: pairs right at the start (after an optional <PRI>), or the
 * message of a syslog line. */
static int parse_kv_line(const struct ingest_parse_opts *opts, struct ts_event *ev,
                         struct ingest_diag *diag, const char *s, size_t len)
{
    size_t q = ingest_pri_len(s, len);
    if (ingest_looks_kv(s + q, len - q))
        return ingest_payload_line(ING_PAY_KV, opts, ev, diag, s, len, q);
    int rc = ingest_looks_rfc5424(s, len) ? ingest_rfc5424_span(opts, ev, diag, s, len)
                                          : ingest_rfc3164_span(opts, ev, diag, s, len);
    if (rc)
        return rc;
    size_t off = field_offset(ev, "message", 7, s, len);
    if (off == SIZE_MAX) {
        diag->reason = "no key=value pairs";
        return TS_E_PARSE;
    }
    return ingest_kv_payload(opts, ev, diag, s + off, len - off);
}

bool ingest_time_guard(const struct ingest_parse_opts *opts, struct ts_event *ev)
{
    int64_t max = opts && opts->max_future_ns ? opts->max_future_ns : INGEST_DEFAULT_MAX_FUTURE;
    int64_t ref = ingest_ref_ns(opts, ev); /* ingest time; a file's modification time */
    if (max < 0 || !ev->time_from_event || ev->time_ns <= ref || ev->time_ns - ref <= max)
        return false;
    char t[48];
    ts_format_rfc3339(ev->time_ns, t, sizeof(t));
    size_t n = strlen(t);
    char *c = ts_arena_strndup(ev->arena, t, n);
    if (c)
        (void)ts_event_add_str(ev, "time_claimed", c, n); /* full event: clamped anyway */
    ev->time_ns = ref;
    ev->time_clamped = true;
    return true;
}

static int parse_format(enum ingest_format fmt, const struct ingest_parse_opts *opts,
                        struct ts_event *ev, struct ingest_diag *diag);

_Static_assert(TS_EVENT_MAX_FIELDS == 4096, "the reason below names the field cap");

/* One parse; a refusal at a limit against hostile input (message size, JSON
 * nesting depth, fields per event) is named in diag->limit. */
static int parse_once(enum ingest_format fmt, const struct ingest_parse_opts *opts,
                      struct ts_event *ev, struct ingest_diag *diag)
{
    diag->reason = NULL;
    diag->warning = NULL;
    diag->limit = NULL;
    int rc = parse_format(fmt, opts, ev, diag);
    if (rc == TS_E_LIMIT && !diag->limit) { /* ts_event_add: TS_EVENT_MAX_FIELDS */
        diag->limit = "fields";
        if (!diag->reason)
            diag->reason = "more than 4096 fields in one event (the limit)";
    }
    return rc;
}

static int parse_format(enum ingest_format fmt, const struct ingest_parse_opts *opts,
                        struct ts_event *ev, struct ingest_diag *diag)
{
    ingest_time_fallback(ev);

    const char *s = ev->raw;
    size_t len = ev->raw_len;
    size_t max = opts && opts->max_msg_bytes ? opts->max_msg_bytes : INGEST_DEFAULT_MAX_MSG;
    if (len > max) {
        diag->reason = ingest_diag_fmt(ev->arena, "message exceeds the size limit",
                                       "message of %zu bytes exceeds the limit of %zu", len, max);
        diag->limit = "message_size";
        return TS_E_PARSE;
    }
    size_t valid = utf8_valid_prefix(s, len);
    if (valid != len) {
        diag->reason =
            ingest_diag_fmt(ev->arena, "invalid UTF-8", "invalid UTF-8 at byte %zu", valid);
        return TS_E_PARSE;
    }
    len = strip_eol(s, len);
    if (len == 0) {
        diag->reason = "empty message";
        return TS_E_PARSE;
    }

    int rc;
    switch (fmt) {
    case INGEST_FMT_JSON:
        rc = ingest_json_span(opts, ev, diag, s, len);
        return rc ? rc : ingest_syslog_json(opts, ev, diag);
    case INGEST_FMT_RFC5424:
        return ingest_rfc5424_span(opts, ev, diag, s, len);
    case INGEST_FMT_RFC3164: /* also "syslog": 3164 with 5424 detection */
        if (ingest_looks_rfc5424(s, len))
            return ingest_rfc5424_span(opts, ev, diag, s, len);
        return ingest_rfc3164_span(opts, ev, diag, s, len);
    case INGEST_FMT_CEF:
    case INGEST_FMT_LEEF: {
        bool cef = fmt == INGEST_FMT_CEF;
        size_t off = cef ? ingest_payload_find(s, len, "CEF:", 4)
                         : ingest_payload_find(s, len, "LEEF:", 5);
        if (off == SIZE_MAX) {
            diag->reason = cef ? "no CEF header (\"CEF:\") in the first 1024 bytes"
                               : "no LEEF header (\"LEEF:\") in the first 1024 bytes";
            return TS_E_PARSE;
        }
        return ingest_payload_line(cef ? ING_PAY_CEF : ING_PAY_LEEF, opts, ev, diag, s, len, off);
    }
    case INGEST_FMT_KV:
        return parse_kv_line(opts, ev, diag, s, len);
    case INGEST_FMT_ACCESS:
        return ingest_access_span(opts, ev, diag, s, len);
    case INGEST_FMT_AUTO:
        break;
    default:
        diag->reason = "unknown message format";
        return TS_E_INVAL;
    }
    size_t p = 0;
    while (p < len && (s[p] == ' ' || s[p] == '\t' || s[p] == '\r' || s[p] == '\n'))
        p++;
    if (p < len && s[p] == '{') {
        rc = ingest_json_span(opts, ev, diag, s, len);
        return rc ? rc : ingest_syslog_json(opts, ev, diag);
    }
    size_t q = ingest_pri_len(s, len);
    if (len - q >= 5 && s[q] == 'C' && memcmp(s + q, "CEF:", 4) == 0)
        return ingest_payload_line(ING_PAY_CEF, opts, ev, diag, s, len, q);
    if (len - q >= 6 && s[q] == 'L' && memcmp(s + q, "LEEF:", 5) == 0)
        return ingest_payload_line(ING_PAY_LEEF, opts, ev, diag, s, len, q);
    if (ingest_looks_rfc5424(s, len)) {
        rc = ingest_rfc5424_span(opts, ev, diag, s, len);
        return rc ? rc : payload_in_message(opts, ev, diag, s, len);
    }
    /* A BSD ("Jun 15 ") or ISO ("2024-") timestamp first: syslog, no need
     * to look for the access-log and key=value shapes. */
    bool stamped = (len - q >= 4 && s[q + 3] == ' ' && month3(s + q)) ||
                   (len - q >= 5 && is_digit(s[q]) && is_digit(s[q + 1]) &&
                    is_digit(s[q + 2]) && is_digit(s[q + 3]) && s[q + 4] == '-');
    if (!stamped) {
        if (q == 0 && ingest_looks_access(s, len))
            return ingest_access_span(opts, ev, diag, s, len);
        if (ingest_looks_kv(s + q, len - q))
            return ingest_payload_line(ING_PAY_KV, opts, ev, diag, s, len, q);
    }
    rc = ingest_rfc3164_span(opts, ev, diag, s, len);
    return rc ? rc : payload_in_message(opts, ev, diag, s, len);
}

/* The zone of the event's zone-less times: the first ingest.hosts pattern
 * its host matches, else the topic's (file's) zone; NULL: tz_offset_sec. */
static const struct ts_tz *event_zone(const struct ingest_parse_opts *o, const struct ts_event *ev)
{
    if (o->nhosts) {
        const struct ts_field *h = ts_event_getz(ev, "host");
        char host[256];
        if (h && h->v.type == TS_V_STR && h->v.len > 0 && h->v.len < sizeof(host)) {
            memcpy(host, h->v.u.s, h->v.len);
            host[h->v.len] = '\0';
            for (size_t i = 0; i < o->nhosts; i++)
                if (fnmatch(o->hosts[i].pattern, host, FNM_CASEFOLD) == 0)
                    return o->hosts[i].tz;
        }
    }
    return o->tz;
}

int ingest_parse(enum ingest_format fmt, const struct ingest_parse_opts *opts,
                 struct ts_event *ev, struct ingest_diag *diag)
{
    struct ingest_diag dummy;
    if (!diag)
        diag = &dummy;
    if (!opts || (!opts->tz && !opts->nhosts))
        return parse_once(fmt, opts, ev, diag);
    /* Zones: parse with the offset the zone has now; then, if the event's
     * host has its own zone, or the zone's offset at the event's wall-clock
     * time differs (DST, a replay of last season), parse again with that
     * offset. A time that carried its own zone comes out the same. */
    struct ingest_parse_opts o = *opts;
    int64_t ref_s = ingest_ref_ns(opts, ev) / TS_NS_PER_SEC;
    if (o.tz)
        o.tz_offset_sec = ts_tz_offset_at(o.tz, ref_s);
    int rc = parse_once(fmt, &o, ev, diag);
    if (rc || !ev->time_from_event)
        return rc;
    const struct ts_tz *z = event_zone(opts, ev);
    if (!z)
        return 0;
    int64_t local_s = ev->time_ns / TS_NS_PER_SEC + o.tz_offset_sec;
    int want = ts_tz_offset_at(z, ts_tz_local_to_utc(z, local_s));
    if (want == o.tz_offset_sec)
        return 0;
    o.tz_offset_sec = want;
    ts_event_clear_fields(ev);
    return parse_once(fmt, &o, ev, diag);
}
