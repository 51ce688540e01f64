/* parse_cef.c - ArcSight Common Event Format:
 *   CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension
 * Header fields are split on unescaped '|' ("\|" and "\\" are the escapes);
 * the extension is "key=value" pairs separated by single spaces, values may
 * hold spaces ("msg=two words act=blocked") and the escapes "\=", "\\",
 * "\n", "\r" (other backslashes stay as they are). A value ends where the
 * next " key=" begins; an unescaped '=' not preceded by " key" is part of
 * the value (lenient: URLs with query strings are common).
 *
 * Fields: cef.version, cef.device_vendor, cef.device_product,
 * cef.device_version, cef.signature_id, cef.name, cef.severity (int when
 * numeric), and each extension key under its own name (src, dst, spt, act,
 * suser, cs1Label, cs1 ...). The event time is "rt" (else "end"): epoch ms or
 * "Mmm dd [yyyy] hh:mm:ss[.SSS][ UTC]". Values without escapes point into
 * ev->raw; unescaped copies live in the arena. Reentrant.
 */
#include <string.h>

#include "../normalise/decoder_int.h"

static const char *const hdr_names[7] = {
    "cef.version",      "cef.device_vendor", "cef.device_product", "cef.device_version",
    "cef.signature_id", "cef.name",          "cef.severity",
};

/* Characters of an extension key (ArcSight keys: letters, digits, '_', and
 * '.'/'-' in vendor extensions such as "ad.Key"). */
static const unsigned char key_chars[256] = {
    ['.'] = 1, ['-'] = 1, ['_'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1,
    ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,
    ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1,
    ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1,
    ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1,
    ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1,
    ['z'] = 1,
};

static int reject(struct ts_event *ev, struct ingest_diag *diag, const char *what, size_t at)
{
    diag->reason =
        ingest_diag_fmt(ev->arena, "invalid CEF message", "invalid CEF message at byte %zu of "
                                                          "the payload: %s", at, what);
    return TS_E_PARSE;
}

/* Unescape a header field: "\|" and "\\". */
static const char *unescape_hdr(struct ts_arena *a, const char *s, size_t len, size_t *olen)
{
    char *o = ts_arena_alloc(a, len + 1);
    if (!o)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len && (s[i + 1] == '|' || s[i + 1] == '\\'))
            i++;
        o[n++] = s[i];
    }
    o[n] = '\0';
    *olen = n;
    return o;
}

/* Unescape an extension value: "\=", "\\", "\n", "\r". */
static const char *unescape_ext(struct ts_arena *a, const char *s, size_t len, size_t *olen)
{
    char *o = ts_arena_alloc(a, len + 1);
    if (!o)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < len) {
            char d = s[i + 1];
            if (d == '=' || d == '\\') {
                c = d;
                i++;
            } else if (d == 'n') {
                c = '\n';
                i++;
            } else if (d == 'r') {
                c = '\r';
                i++;
            }
        }
        o[n++] = c;
    }
    o[n] = '\0';
    *olen = n;
    return o;
}

static bool all_digits(const char *s, size_t len)
{
    if (len == 0 || len > 18)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int add_header(struct ts_event *ev, int i, const char *s, size_t len, bool esc)
{
    if (i == 6 && all_digits(s, len)) {
        int64_t v = 0;
        for (size_t k = 0; k < len; k++)
            v = v * 10 + (s[k] - '0');
        return ts_event_add_int(ev, hdr_names[i], v);
    }
    if (esc && !(s = unescape_hdr(ev->arena, s, len, &len)))
        return TS_E_NOMEM;
    return ts_event_add_str(ev, hdr_names[i], s, len);
}

/* Add one extension pair: key s[k..k+klen), value s[v..v+vlen). */
static int add_ext(struct ts_event *ev, const char *key, size_t klen, const char *val, size_t vlen,
                   bool esc)
{
    char *name = ts_arena_strndup(ev->arena, key, klen);
    if (!name)
        return TS_E_NOMEM;
    while (vlen && val[vlen - 1] == ' ')
        vlen--;
    if (esc && !(val = unescape_ext(ev->arena, val, vlen, &vlen)))
        return TS_E_NOMEM;
    struct ts_value v = ts_v_str(val, vlen);
    return ts_event_add(ev, name, klen, &v);
}

int ingest_cef_payload(const struct ingest_parse_opts *opts, struct ts_event *ev,
                       struct ingest_diag *diag, const char *s, size_t len)
{
    if (len < 4 || memcmp(s, "CEF:", 4) != 0)
        return reject(ev, diag, "does not start with \"CEF:\"", 0);
    ev->format = "cef";
    size_t p = 4;
    while (p < len && s[p] == ' ')
        p++;
    int rc;
    for (int i = 0; i < 7; i++) {
        size_t start = p;
        bool esc = false;
        while (p < len && s[p] != '|') {
            if (s[p] == '\\' && p + 1 < len) {
                esc = true;
                p += 2;
            } else {
                p++;
            }
        }
        if (p > len)
            p = len;
        if (p >= len && i < 6)
            return reject(ev, diag, i == 0 ? "no '|' after the version" :
                                             "truncated header (fewer than 7 fields)", p);
        if (i == 0 && (p == start || !all_digits(s + start, p - start)))
            return reject(ev, diag, "version is not a number", start);
        if ((rc = add_header(ev, i, s + start, p - start, esc)))
            return ingest_add_failed(diag, rc);
        if (p < len)
            p++; /* the '|' */
    }

    /* Extension. */
    const char *rt = NULL, *end = NULL;
    size_t rtlen = 0, endlen = 0;
    while (p < len && s[p] == ' ')
        p++;
    while (p < len) {
        size_t k = p;
        while (p < len && key_chars[(unsigned char)s[p]])
            p++;
        size_t klen = p - k;
        if (klen == 0 || klen > ING_KEY_MAX || p >= len || s[p] != '=') {
            /* Not a key: skip this token (garbage between pairs). */
            while (p < len && s[p] != ' ')
                p++;
            while (p < len && s[p] == ' ')
                p++;
            continue;
        }
        p++; /* '=' */
        size_t v = p, vend = len, next = len;
        bool esc = false;
        size_t last_sp = SIZE_MAX, run = 0;
        bool run_ok = false;
        while (p < len) {
            char c = s[p];
            if (c == '\\' && p + 1 < len) {
                esc = true;
                run_ok = false;
                p += 2;
                continue;
            }
            if (c == ' ') {
                last_sp = p;
                run_ok = true;
                run = 0;
            } else if (c == '=') {
                if (last_sp != SIZE_MAX && run_ok && run > 0 && run <= ING_KEY_MAX) {
                    vend = last_sp;
                    next = last_sp + 1;
                    break;
                }
                run_ok = false;
            } else if (key_chars[(unsigned char)c]) {
                run++;
            } else {
                run_ok = false;
            }
            p++;
        }
        size_t vlen = vend - v;
        if ((rc = add_ext(ev, s + k, klen, s + v, vlen, esc)))
            return ingest_add_failed(diag, rc);
        if (klen == 2 && memcmp(s + k, "rt", 2) == 0) {
            rt = s + v;
            rtlen = vlen;
        } else if (klen == 3 && memcmp(s + k, "end", 3) == 0) {
            end = s + v;
            endlen = vlen;
        }
        p = next;
        while (p < len && s[p] == ' ')
            p++;
    }
    if (rt)
        ingest_set_time_from(opts, ev, diag, rt, rtlen);
    else if (end)
        ingest_set_time_from(opts, ev, diag, end, endlen);
    return 0;
}

int ingest_parse_cef(const struct ingest_parse_opts *o, struct ts_event *ev,
                     struct ingest_diag *d)
{
    return ingest_parse(INGEST_FMT_CEF, o, ev, d);
}
