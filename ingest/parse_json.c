/* parse_json.c - the JSON message parser of the hot path: one object per
 * message, hand-written, no malloc (arena only).
 *
 * Nested objects are flattened to dotted names ("Event.System.EventID").
 * String values without escapes point into ev->raw (never modified; such
 * values are not NUL-terminated at their len); strings with escapes, field
 * names and list items are built in ev->arena. Arrays of scalars become
 * TS_V_LIST; arrays holding objects or arrays become one TS_V_STR with the
 * array's raw JSON text. Caps: nesting depth 64, TS_EVENT_MAX_FIELDS fields,
 * TS_LIST_MAX_ITEMS items per list (longer lists are kept as raw text).
 * Reentrant.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/tstime.h"
#include "ingest.h"
#include "ingest_int.h"

#define JSON_MAX_DEPTH 64

struct jp {
    const char *s;
    size_t len;
    size_t p;
    struct ts_event *ev;
    int rc;          /* TS_E_PARSE, TS_E_LIMIT, TS_E_NOMEM */
    const char *err; /* static description */
    const char *limit; /* ingest_diag.limit when err is a limit */
    size_t err_at;
};

/* Bytes that end a run of plain string content: '"', '\\' and controls. */
static const unsigned char str_stop[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
    [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
    [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
    [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
    [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1,  ['\\'] = 1,
};

static int fail(struct jp *j, const char *what)
{
    if (!j->rc) {
        j->rc = TS_E_PARSE;
        j->err = what;
        j->err_at = j->p;
    }
    return j->rc;
}

/* JSON_MAX_DEPTH: hostile nesting must not exhaust the stack. */
static int fail_depth(struct jp *j)
{
    if (!j->rc)
        j->limit = "json_depth";
    return fail(j, "nesting deeper than 64 (the limit)");
}

static int fail_rc(struct jp *j, int rc)
{
    if (!j->rc) {
        j->rc = rc;
        j->err = rc == TS_E_LIMIT ? "more fields than the limit of 4096" : "arena full";
        j->limit = rc == TS_E_LIMIT ? "fields" : NULL;
        j->err_at = j->p;
    }
    return j->rc;
}

static inline void skip_ws(struct jp *j)
{
    while (j->p < j->len) {
        char c = j->s[j->p];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            break;
        j->p++;
    }
}

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static unsigned hex4(const char *s)
{
    return (unsigned)(hexval(s[0]) << 12 | hexval(s[1]) << 8 | hexval(s[2]) << 4 | hexval(s[3]));
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* The bytes of x that equal '"' or '\\', or are below 0x20, as their high
 * bits. Exact as a yes/no, and the lowest set bit marks the first such byte
 * exactly (a borrow only runs upwards from a flagged byte). */
static inline uint64_t swar_stops(uint64_t x)
{
    uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
    uint64_t zq = (q - ONES) & ~q, zb = (b - ONES) & ~b, lt = (x - ONES * 0x20) & ~x;
    return (zq | zb | lt) & HIGHS;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
    (defined(__GNUC__) || defined(__clang__))
#define SWAR_FIRST(m) ((size_t)__builtin_ctzll(m) >> 3) /* index of the first flagged byte */
#if defined(__SSE2__)
#include <emmintrin.h>
/* The same 16 bytes at a time: bit i set when byte i is '"', '\\' or below
 * 0x20 (unsigned: min(x, 0x1f) == x). */
static inline unsigned sse_stops(const unsigned char *p)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i q = _mm_cmpeq_epi8(x, _mm_set1_epi8('"'));
    __m128i b = _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'));
    __m128i c = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(q, b), c));
}
#define SSE_STOPS 1
#endif
#endif

/* Scan the string at j->p == '"': on success *start and *n give the raw content
 * and j->p is past the closing quote; *esc says whether it has escapes.
 * Inlined into its callers: a Sysmon event has ~23 strings, and the call
 * (saving registers, the out-parameters through memory) cost ~40
 * instructions each */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline int scan_string(struct jp *j, size_t *start, size_t *n, bool *esc)
{
    const unsigned char *u = (const unsigned char *)j->s;
    size_t p = j->p + 1, len = j->len;
    *esc = false;
    for (;;) {
        /* 8 bytes at a time while none of them needs a look; where one does,
         * straight to it (the byte loop only where the word order is unknown,
         * and for the last 7 bytes of the input) */
#ifdef SSE_STOPS
        while (p + 16 <= len) {
            unsigned m = sse_stops(u + p);
            if (m) {
                p += (size_t)__builtin_ctz(m);
                goto stop;
            }
            p += 16;
        }
#endif
        while (p + 8 <= len) {
            uint64_t x;
            memcpy(&x, u + p, 8);
            uint64_t m = swar_stops(x);
            if (m) {
#ifdef SWAR_FIRST
                p += SWAR_FIRST(m);
#endif
                break;
            }
            p += 8;
        }
        while (p < len && !str_stop[u[p]])
            p++;
#ifdef SSE_STOPS
    stop:
#endif
        if (p >= len) {
            return fail(j, "unterminated string");
        }
        if (u[p] == '"')
            break;
        if (u[p] != '\\') {
            j->p = p;
            return fail(j, "control character in string");
        }
        *esc = true;
        if (p + 1 >= len) {
            j->p = p;
            return fail(j, "unterminated string");
        }
        switch (u[p + 1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            p += 2;
            break;
        case 'u':
            if (p + 6 > len || hexval(j->s[p + 2]) < 0 || hexval(j->s[p + 3]) < 0 ||
                hexval(j->s[p + 4]) < 0 || hexval(j->s[p + 5]) < 0) {
                j->p = p;
                return fail(j, "bad \\u escape");
            }
            p += 6;
            break;
        default:
            j->p = p;
            return fail(j, "bad escape");
        }
    }
    *start = j->p + 1;
    *n = p - *start;
    j->p = p + 1;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Unescape the (validated) raw content s[0..n) into o, which has room for n
 * bytes: the output is never longer than the input. Lone surrogates become
 * U+FFFD. Returns the output length. */
static size_t unescape(char *o, const char *s, size_t n)
{
    size_t i = 0, k = 0;
    while (i < n) {
#ifdef SSE_STOPS
        /* Windows paths escape every few bytes: 16 bytes are copied as they
         * are and the copy cut at the first backslash, instead of a memchr
         * and a memcpy call per run. Safe: k <= i, so o + k + 16 <= o + n */
        if (i + 16 <= n) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            _mm_storeu_si128((__m128i *)(void *)(o + k), x);
            unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
            if (!m) {
                i += 16;
                k += 16;
                continue;
            }
            size_t run = (size_t)__builtin_ctz(m);
            i += run;
            k += run;
        } else {
            while (i < n && s[i] != '\\')
                o[k++] = s[i++];
            if (i >= n)
                break;
        }
#else
        const char *bs = memchr(s + i, '\\', n - i);
        size_t run = bs ? (size_t)(bs - (s + i)) : n - i;
        memcpy(o + k, s + i, run);
        k += run;
        i += run;
        if (i >= n)
            break;
#endif
        char c = s[i + 1];
        i += 2;
        switch (c) {
        case 'b':
            o[k++] = '\b';
            break;
        case 'f':
            o[k++] = '\f';
            break;
        case 'n':
            o[k++] = '\n';
            break;
        case 'r':
            o[k++] = '\r';
            break;
        case 't':
            o[k++] = '\t';
            break;
        case 'u': {
            unsigned cp = hex4(s + i);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u') {
                    unsigned lo = hex4(s + i + 2);
                    if (lo >= 0xDC00 && lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        i += 6;
                    } else {
                        cp = 0xFFFD;
                    }
                } else {
                    cp = 0xFFFD;
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                cp = 0xFFFD;
            }
            k += put_utf8(o + k, cp);
            break;
        }
        default: /* '"', '\\', '/' */
            o[k++] = c;
            break;
        }
    }
    return k;
}

/* The string at j->p as a value: borrowed from the raw when it has no
 * escapes, else unescaped into the arena. */
static int parse_string(struct jp *j, const char **out, size_t *olen)
{
    size_t start, n;
    bool esc;
    if (scan_string(j, &start, &n, &esc))
        return j->rc;
    if (!esc) {
        *out = j->s + start;
        *olen = n;
        return 0;
    }
    char *o = ts_arena_alloc(j->ev->arena, n + 1);
    if (!o)
        return fail_rc(j, TS_E_NOMEM);
    *olen = unescape(o, j->s + start, n);
    o[*olen] = '\0';
    *out = o;
    return 0;
}

static int parse_number(struct jp *j, struct ts_value *v)
{
    const char *s = j->s;
    size_t p = j->p, len = j->len, start = p;
    bool neg = false, isint = true, overflow = false;
    uint64_t acc = 0;
    if (s[p] == '-') {
        neg = true;
        p++;
    }
    if (p >= len || !is_digit(s[p]))
        return fail(j, "invalid number");
    if (s[p] == '0') {
        p++;
    } else {
        while (p < len && is_digit(s[p])) {
            unsigned d = (unsigned)(s[p] - '0');
            if (acc > (UINT64_MAX - d) / 10)
                overflow = true;
            else
                acc = acc * 10 + d;
            p++;
        }
    }
    if (p < len && s[p] == '.') {
        p++;
        isint = false;
        if (p >= len || !is_digit(s[p])) {
            j->p = p;
            return fail(j, "invalid number: digit expected after '.'");
        }
        while (p < len && is_digit(s[p]))
            p++;
    }
    if (p < len && (s[p] == 'e' || s[p] == 'E')) {
        p++;
        isint = false;
        if (p < len && (s[p] == '+' || s[p] == '-'))
            p++;
        if (p >= len || !is_digit(s[p])) {
            j->p = p;
            return fail(j, "invalid number: digit expected in exponent");
        }
        while (p < len && is_digit(s[p]))
            p++;
    }
    j->p = p;
    if (isint && !overflow) {
        if (!neg && acc <= (uint64_t)INT64_MAX) {
            *v = ts_v_int((int64_t)acc);
            return 0;
        }
        if (neg && acc <= (uint64_t)INT64_MAX + 1) {
            *v = ts_v_int(acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc);
            return 0;
        }
    }
    /* strtod wants a terminated string: copy the validated span. */
    char buf[128];
    size_t n = p - start;
    const char *num = buf;
    if (n < sizeof(buf)) {
        memcpy(buf, s + start, n);
        buf[n] = '\0';
    } else {
        num = ts_arena_strndup(j->ev->arena, s + start, n);
        if (!num)
            return fail_rc(j, TS_E_NOMEM);
    }
    v->type = TS_V_FLOAT;
    v->len = 0;
    v->u.f = strtod(num, NULL);
    return 0;
}

static bool literal(struct jp *j, const char *lit, size_t n)
{
    if (j->len - j->p < n || memcmp(j->s + j->p, lit, n) != 0)
        return false;
    j->p += n;
    return true;
}

/* A scalar (string, number, true, false, null) at j->p. */
static int parse_scalar(struct jp *j, struct ts_value *v)
{
    memset(v, 0, sizeof(*v));
    char c = j->s[j->p];
    switch (c) {
    case '"': {
        const char *str = NULL;
        size_t n = 0;
        if (parse_string(j, &str, &n))
            return j->rc;
        if (n > UINT32_MAX)
            return fail(j, "string too long");
        *v = ts_v_str(str, n);
        return 0;
    }
    case 't':
        if (!literal(j, "true", 4))
            return fail(j, "invalid literal");
        v->type = TS_V_BOOL;
        v->u.b = true;
        return 0;
    case 'f':
        if (!literal(j, "false", 5))
            return fail(j, "invalid literal");
        v->type = TS_V_BOOL;
        v->u.b = false;
        return 0;
    case 'n':
        if (!literal(j, "null", 4))
            return fail(j, "invalid literal");
        v->type = TS_V_NULL;
        return 0;
    default:
        if (c == '-' || is_digit(c))
            return parse_number(j, v);
        return fail(j, "expected a value");
    }
}

/* Validate any value at j->p without producing fields (for arrays that hold
 * containers). depth is the depth of the value's parent. */
static int skip_value(struct jp *j, int depth)
{
    if (j->p >= j->len)
        return fail(j, "expected a value");
    char c = j->s[j->p];
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        if (depth + 1 > JSON_MAX_DEPTH)
            return fail_depth(j);
        j->p++;
        skip_ws(j);
        if (j->p < j->len && j->s[j->p] == close) {
            j->p++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                size_t st, n;
                bool esc;
                if (j->p >= j->len || j->s[j->p] != '"')
                    return fail(j, "expected a string key");
                if (scan_string(j, &st, &n, &esc))
                    return j->rc;
                skip_ws(j);
                if (j->p >= j->len || j->s[j->p] != ':')
                    return fail(j, "expected ':'");
                j->p++;
                skip_ws(j);
            }
            if (skip_value(j, depth + 1))
                return j->rc;
            skip_ws(j);
            if (j->p < j->len && j->s[j->p] == ',') {
                j->p++;
                skip_ws(j);
                continue;
            }
            if (j->p < j->len && j->s[j->p] == close) {
                j->p++;
                return 0;
            }
            return fail(j, c == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    if (c == '"') {
        size_t st, n;
        bool esc;
        return scan_string(j, &st, &n, &esc);
    }
    struct ts_value v;
    return parse_scalar(j, &v);
}

static int add_field(struct jp *j, const char *name, size_t nlen, const struct ts_value *v)
{
    int rc = ts_event_add(j->ev, name, nlen, v);
    return rc ? fail_rc(j, rc) : 0;
}

#define LIST_STACK 32

/* The array at j->p == '[' as the value of field name. */
static int parse_array(struct jp *j, const char *name, size_t nlen, int depth)
{
    if (depth + 1 > JSON_MAX_DEPTH)
        return fail_depth(j);
    size_t start = j->p;
    struct ts_value stack[LIST_STACK];
    struct ts_value *items = stack;
    size_t n = 0, cap = LIST_STACK;
    bool as_text = false;
    j->p++;
    skip_ws(j);
    if (j->p < j->len && j->s[j->p] == ']') {
        j->p++;
    } else {
        for (;;) {
            if (j->p >= j->len)
                return fail(j, "unterminated array");
            char c = j->s[j->p];
            if (c == '{' || c == '[' || n >= TS_LIST_MAX_ITEMS) {
                as_text = true;
                break;
            }
            if (n == cap) {
                size_t ncap = cap * 2;
                struct ts_value *ni = ts_arena_alloc(j->ev->arena, ncap * sizeof(*ni));
                if (!ni)
                    return fail_rc(j, TS_E_NOMEM);
                memcpy(ni, items, n * sizeof(*ni));
                items = ni;
                cap = ncap;
            }
            if (parse_scalar(j, &items[n]))
                return j->rc;
            n++;
            skip_ws(j);
            if (j->p < j->len && j->s[j->p] == ',') {
                j->p++;
                skip_ws(j);
                continue;
            }
            if (j->p < j->len && j->s[j->p] == ']') {
                j->p++;
                break;
            }
            return fail(j, "expected ',' or ']'");
        }
    }
    struct ts_value v = {.type = TS_V_LIST};
    if (as_text) {
        j->p = start;
        if (skip_value(j, depth))
            return j->rc;
        v = ts_v_str(j->s + start, j->p - start);
    } else {
        v.len = (uint32_t)n;
        v.u.items = NULL;
        if (n) {
            if (items == stack) {
                struct ts_value *ni = ts_arena_alloc(j->ev->arena, n * sizeof(*ni));
                if (!ni)
                    return fail_rc(j, TS_E_NOMEM);
                memcpy(ni, stack, n * sizeof(*ni));
                items = ni;
            }
            v.u.items = items;
        }
    }
    return add_field(j, name, nlen, &v);
}

static int parse_object(struct jp *j, const char *prefix, size_t plen, int depth);

/* The value at j->p, for the field called name. depth is its parent's. */
static int parse_value(struct jp *j, const char *name, size_t nlen, int depth)
{
    if (j->p >= j->len)
        return fail(j, "expected a value");
    char c = j->s[j->p];
    if (c == '{')
        return parse_object(j, name, nlen, depth + 1);
    if (c == '[')
        return parse_array(j, name, nlen, depth);
    struct ts_value v;
    if (parse_scalar(j, &v))
        return j->rc;
    return add_field(j, name, nlen, &v);
}

/* The object at j->p == '{' whose keys get the prefix "prefix." (none when
 * plen == 0 at the top level). */
static int parse_object(struct jp *j, const char *prefix, size_t plen, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return fail_depth(j);
    j->p++;
    skip_ws(j);
    if (j->p < j->len && j->s[j->p] == '}') {
        j->p++;
        return 0;
    }
    for (;;) {
        if (j->p >= j->len || j->s[j->p] != '"')
            return fail(j, "expected a string key");
        size_t ks, kn;
        bool esc;
        if (scan_string(j, &ks, &kn, &esc))
            return j->rc;
        /* The field name: prefix '.' key, NUL-terminated, in the arena. */
        size_t sep = prefix ? 1 : 0;
        char *name = ts_arena_alloc(j->ev->arena, plen + sep + kn + 1);
        if (!name)
            return fail_rc(j, TS_E_NOMEM);
        if (prefix) {
            memcpy(name, prefix, plen);
            name[plen] = '.';
        }
        size_t nlen = plen + sep;
        if (esc) {
            nlen += unescape(name + nlen, j->s + ks, kn);
        } else {
            memcpy(name + nlen, j->s + ks, kn);
            nlen += kn;
        }
        name[nlen] = '\0';
        if (nlen > UINT32_MAX)
            return fail(j, "field name too long");

        skip_ws(j);
        if (j->p >= j->len || j->s[j->p] != ':')
            return fail(j, "expected ':'");
        j->p++;
        skip_ws(j);
        if (parse_value(j, name, nlen, depth))
            return j->rc;
        skip_ws(j);
        if (j->p < j->len && j->s[j->p] == ',') {
            j->p++;
            skip_ws(j);
            continue;
        }
        if (j->p < j->len && j->s[j->p] == '}') {
            j->p++;
            return 0;
        }
        return fail(j, "expected ',' or '}'");
    }
}

/* ------------------------------------------------------------- event time */

static const struct {
    const char *name;
    size_t len;
} time_fields[] = {
    {ING_LIT("@timestamp")},
    {ING_LIT("timestamp")},
    {ING_LIT("time")},
    {ING_LIT("Event.System.TimeCreated.#attributes.SystemTime")},
    {ING_LIT("EventTime")},
    {ING_LIT("UtcTime")},
    {ING_LIT("TimeCreated")},
    {ING_LIT("date")},
};

/* Epoch seconds, ms (> 1e11) or ns (> 1e17) to ns. The whole and the
 * fractional part are scaled apart, so 1700000000.25 gives ...250000000
 * exactly rather than the nearest double of 1.70000000025e18. */
static bool epoch_to_ns(double x, int64_t *ns)
{
    if (!isfinite(x))
        return false;
    double a = fabs(x);
    if (a > 1e17) {
        if (a >= 9.2e18)
            return false;
        *ns = (int64_t)x;
        return true;
    }
    int64_t scale = a > 1e11 ? 1000000 : TS_NS_PER_SEC;
    double whole = floor(x);
    if (whole * (double)scale >= 9.2e18 || whole * (double)scale <= -9.2e18)
        return false;
    *ns = (int64_t)whole * scale + (int64_t)llround((x - whole) * (double)scale);
    return true;
}

static bool int_epoch_to_ns(int64_t x, int64_t *ns)
{
    int64_t a = x < 0 ? (x == INT64_MIN ? INT64_MAX : -x) : x;
    if (a > 100000000000000000LL) {
        *ns = x;
        return true;
    }
    if (a > 100000000000LL) {
        if (a > INT64_MAX / 1000000)
            return false;
        *ns = x * 1000000;
        return true;
    }
    if (a > INT64_MAX / TS_NS_PER_SEC)
        return false; /* seconds past the year 2262 */
    *ns = x * TS_NS_PER_SEC;
    return true;
}

static void event_time(const struct ingest_parse_opts *opts, struct ts_event *ev,
                       struct ingest_diag *diag)
{
    const struct ts_field *f = NULL;
    for (size_t i = 0; i < TS_ARRAY_LEN(time_fields) && !f; i++)
        f = ts_event_get(ev, time_fields[i].name, time_fields[i].len);
    if (!f)
        return;
    int tz = opts ? opts->tz_offset_sec : 0;
    int64_t ns = 0;
    bool ok = false;
    switch (f->v.type) {
    case TS_V_STR:
        ok = ingest_time_str(f->v.u.s, f->v.len, tz, ingest_ref_ns(opts, ev), &ns) == 0;
        if (!ok)
            diag->warning = ingest_ts_warning(ev->arena, f->v.u.s, f->v.len);
        break;
    case TS_V_INT:
        ok = int_epoch_to_ns(f->v.u.i, &ns);
        break;
    case TS_V_FLOAT:
        ok = epoch_to_ns(f->v.u.f, &ns);
        break;
    default:
        break;
    }
    if (ok) {
        ev->time_ns = ns;
        ev->time_from_event = true;
    } else if (!diag->warning) {
        diag->warning = "unparsable timestamp (not a string or a number in range), using ingest time";
    }
}

int ingest_json_span(const struct ingest_parse_opts *opts, struct ts_event *ev,
                     struct ingest_diag *diag, const char *s, size_t len)
{
    struct ingest_diag dummy;
    if (!diag)
        diag = &dummy;
    ev->format = "json";
    ingest_time_fallback(ev);
    struct jp j = {.s = s, .len = len, .ev = ev};
    skip_ws(&j);
    if (j.p >= len || s[j.p] != '{') {
        fail(&j, "expected '{'");
    } else if (parse_object(&j, NULL, 0, 1) == 0) {
        skip_ws(&j);
        if (j.p != len)
            fail(&j, "trailing data after the object");
    }
    if (j.rc) {
        diag->reason = ingest_diag_fmt(ev->arena, "invalid JSON", "invalid JSON at byte %zu: %s",
                                       j.err_at, j.err);
        diag->limit = j.limit;
        return j.rc;
    }
    event_time(opts, ev, diag);
    return 0;
}
