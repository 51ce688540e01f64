/* parse_syslog.c - RFC 3164 (BSD syslog, with the deviations seen in real
 * logs) and RFC 5424 message parsers.
 *
 * Field values point into ev->raw (which is never modified; such values are
 * not NUL-terminated at their len) or into ev->arena (copies made when RFC
 * 5424 structured-data values need unescaping, and the "sd.*" field names).
 * Reentrant; no allocation besides the event's arena.
 */
#include <string.h>

#include "../core/tstime.h"
#include "ingest.h"
#include "ingest_int.h"

static const char *const facility_names[24] = {
    "kern",   "user",   "mail",   "daemon", "auth",     "syslog",       "lpr",    "news",
    "uucp",   "cron",   "authpriv", "ftp",  "ntp",      "security",     "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4",   "local5",       "local6", "local7",
};

static const char *const severity_names[8] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* "<PRI>" at s: 1-3 digits, value 0..191. Returns bytes consumed, 0 if none. */
static size_t scan_pri(const char *s, size_t len, unsigned *pri)
{
    if (len < 3 || s[0] != '<')
        return 0;
    size_t p = 1;
    unsigned v = 0;
    while (p < len && p <= 3 && is_digit(s[p]))
        v = v * 10 + (unsigned)(s[p++] - '0');
    if (p == 1 || p >= len || s[p] != '>' || v > 191)
        return 0;
    *pri = v;
    return p + 1;
}

static int add_str(struct ts_event *ev, const char *name, size_t nlen, const char *s, size_t len)
{
    struct ts_value v = ts_v_str(s, len);
    return ts_event_add(ev, name, nlen, &v);
}

static int add_int(struct ts_event *ev, const char *name, size_t nlen, int64_t i)
{
    struct ts_value v = ts_v_int(i);
    return ts_event_add(ev, name, nlen, &v);
}

static int add_pri(struct ts_event *ev, unsigned pri)
{
    const char *fac = facility_names[pri >> 3], *sev = severity_names[pri & 7];
    int rc;
    if ((rc = add_str(ev, ING_LIT("facility"), fac, strlen(fac))) ||
        (rc = add_str(ev, ING_LIT("severity"), sev, strlen(sev))) ||
        (rc = add_int(ev, ING_LIT("pri"), (int64_t)pri)))
        return rc;
    return 0;
}

/* Digits only, 1..18 of them. */
static bool parse_uint(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 18)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int add_pid(struct ts_event *ev, const char *s, size_t len)
{
    int64_t pid;
    if (parse_uint(s, len, &pid))
        return add_int(ev, ING_LIT("pid"), pid);
    return add_str(ev, ING_LIT("pid"), s, len);
}

/* Failure of the arena or the field cap, as a dead letter. */
static int add_failed(struct ts_event *ev, struct ingest_diag *diag, int rc)
{
    TS_UNUSED(ev);
    diag->reason = rc == TS_E_LIMIT ? "too many fields" : "out of memory for the batch (arena full)";
    return rc;
}

/* A host name is 1..255 bytes (RFC 5424's HOSTNAME; RFC 1035's longest
 * name) with no space, no control byte (C0, DEL) and no C1 control (U+0080..
 * U+009F in UTF-8). Anything else is not taken as the event's host: a NUL or
 * an ESC in `host` would reach asset lookups, group keys and terminals, and a
 * 64 KB "host" is no host. The parsers keep such bytes in the message (RFC
 * 3164) or only in raw (RFC 5424), and say so in the event's warning, which
 * the sources count. */
#define HOST_MAX 255

static bool host_ok(const char *s, size_t n)
{
    if (n == 0 || n > HOST_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return false;
        if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9F)
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------- RFC 3164 */

/* Characters of a program name in a tag: "sshd", "sshd(pam_unix)",
 * "com.apple.xpc.launchd", "postfix/smtpd", "dbus-daemon", "pbs_mom". */
static const unsigned char prog_chars[256] = {
    ['('] = 1, [')'] = 1, ['/'] = 1, ['.'] = 1, ['-'] = 1, ['_'] = 1, ['@'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

struct tag {
    const char *prog;
    size_t prog_len;
    const char *pid; /* NULL: none */
    size_t pid_len;
};

/* Is the token t[0..n) a tag, "program[pid]:" or "program:"? */
static bool scan_tag(const char *t, size_t n, struct tag *tag)
{
    if (n < 2 || t[n - 1] != ':')
        return false;
    n--;
    tag->pid = NULL;
    tag->pid_len = 0;
    if (t[n - 1] == ']') {
        size_t open = n - 1;
        while (open > 0 && t[open - 1] != '[')
            open--;
        if (open == 0)
            return false;
        /* t[open-1] == '[' ; pid is t[open .. n-1) */
        size_t plen = n - 1 - open;
        if (plen == 0 || plen > 18)
            return false;
        for (size_t i = open; i < n - 1; i++)
            if (!is_digit(t[i]))
                return false;
        tag->pid = t + open;
        tag->pid_len = plen;
        n = open - 1;
    }
    if (n == 0)
        return false;
    int paren = 0; /* ':' is allowed inside parentheses: "audit(1131538222.234:0):" */
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        paren += c == '(';
        paren -= c == ')' && paren > 0;
        if (!prog_chars[(unsigned char)c] && !(c == ':' && paren > 0))
            return false;
    }
    tag->prog = t;
    tag->prog_len = n;
    return true;
}

static size_t token_end(const char *s, size_t len, size_t p)
{
    const char *sp = memchr(s + p, ' ', len - p);
    return sp ? (size_t)(sp - s) : len;
}

/* A relay prefix before the BSD timestamp, as in Thunderbird/BGL archives:
 * "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 ...". Up to 4 tokens without
 * brackets, '<' or quotes (so "[Sun Dec 04 ...]" Apache lines are not taken
 * for one), at least one of them only digits and dots (an epoch or a date).
 * Returns the offset of the timestamp after the prefix, or 0. */
static size_t scan_relay_prefix(const char *s, size_t len, int tz, int64_t ref, int64_t *ns,
                                size_t *used)
{
    size_t p = 0;
    bool numeric_seen = false;
    for (int tok = 0; tok < 4 && p < len && p < 64; tok++) {
        size_t start = p;
        bool numeric = true;
        while (p < len && s[p] != ' ') {
            char c = s[p];
            if ((unsigned char)c <= 32 || c == '[' || c == ']' || c == '<' || c == '"')
                return 0;
            if (!is_digit(c) && c != '.')
                numeric = false;
            p++;
        }
        if (p == start || p >= len)
            return 0;
        numeric_seen |= numeric;
        p++; /* the space */
        if (numeric_seen && ingest_time_bsd(s + p, len - p, tz, ref, ns, used) == 0 &&
            (p + *used == len || s[p + *used] == ' '))
            return p;
    }
    return 0;
}

int ingest_rfc3164_span(const struct ingest_parse_opts *opts, struct ts_event *ev,
                        struct ingest_diag *diag, const char *s, size_t len)
{
    struct ingest_diag dummy = {0};
    if (!diag)
        diag = &dummy;
    ev->format = "rfc3164";
    ingest_time_fallback(ev);
    int tz = opts ? opts->tz_offset_sec : 0;
    int rc;

    unsigned pri = 0;
    size_t p = scan_pri(s, len, &pri);
    if (p && (rc = add_pri(ev, pri)))
        return add_failed(ev, diag, rc);
    while (p < len && s[p] == ' ')
        p++;
    const char *body = s + p;
    size_t blen = len - p;

    /* Timestamp: BSD, BSD with year, ISO 8601; or after a relay prefix. */
    int64_t ns = 0;
    size_t used = 0;
    bool have_ts = false;
    if (blen >= 14 && !is_digit(body[0])) {
        have_ts = ingest_time_bsd(body, blen, tz, ingest_ref_ns(opts, ev), &ns, &used) == 0;
        if (!have_ts) {
            size_t off = scan_relay_prefix(body, blen, tz, ingest_ref_ns(opts, ev), &ns, &used);
            if (off) {
                have_ts = true;
                used += off;
            }
        }
    } else if (blen >= 10 && is_digit(body[0])) {
        have_ts = ingest_iso8601(body, blen, tz, &ns, &used) == 0;
        if (!have_ts) {
            size_t off = scan_relay_prefix(body, blen, tz, ingest_ref_ns(opts, ev), &ns, &used);
            if (off) {
                have_ts = true;
                used += off;
            }
        }
    }
    if (have_ts && used < blen && body[used] != ' ')
        have_ts = false;
    if (!have_ts) {
        diag->warning = ingest_ts_warning(ev->arena, body, blen);
        if ((rc = add_str(ev, ING_LIT("message"), body, blen)))
            return add_failed(ev, diag, rc);
        return 0;
    }
    ev->time_ns = ns;
    ev->time_from_event = true;

    p = used;
    while (p < blen && body[p] == ' ')
        p++;
    /* HOSTNAME, unless the token is already the tag. A token that cannot be
     * a host name (host_ok) starts the message, kept whole. */
    struct tag tag;
    size_t e = token_end(body, blen, p);
    bool have_tag = scan_tag(body + p, e - p, &tag);
    if (!have_tag && p < blen && !host_ok(body + p, e - p)) {
        diag->warning = "the word after the timestamp is not taken as host (control bytes, "
                        "or over 255 bytes): kept in the message";
    } else if (!have_tag && p < blen) {
        if ((rc = add_str(ev, ING_LIT("host"), body + p, e - p)))
            return add_failed(ev, diag, rc);
        p = e;
        while (p < blen && body[p] == ' ')
            p++;
        e = token_end(body, blen, p);
        have_tag = scan_tag(body + p, e - p, &tag);
    }
    if (have_tag) {
        if ((rc = add_str(ev, ING_LIT("program"), tag.prog, tag.prog_len)) ||
            (tag.pid && (rc = add_pid(ev, tag.pid, tag.pid_len))))
            return add_failed(ev, diag, rc);
        p = e < blen ? e + 1 : e;
    }
    if ((rc = add_str(ev, ING_LIT("message"), body + p, blen - p)))
        return add_failed(ev, diag, rc);
    return 0;
}

/* ---------------------------------------------------------------- RFC 5424 */

/* PRINTUSASCII except '=', SP, ']', '"': SD-NAME characters. */
static inline bool sd_name_char(char c)
{
    return c > 32 && c < 127 && c != '=' && c != ']' && c != '"';
}

static int reject(struct ts_event *ev, struct ingest_diag *diag, const char *what, size_t at)
{
    diag->reason = ingest_diag_fmt(ev->arena, "invalid RFC 5424 message",
                                   "invalid RFC 5424 message at byte %zu: %s", at, what);
    return TS_E_PARSE;
}

/* One header field up to the next SP; *p moves past the SP. */
static bool header_token(const char *s, size_t len, size_t *p, const char **tok, size_t *tlen)
{
    size_t e = token_end(s, len, *p);
    if (e == *p || e >= len)
        return false;
    *tok = s + *p;
    *tlen = e - *p;
    *p = e + 1;
    return true;
}

static bool is_nil(const char *t, size_t n)
{
    return n == 1 && t[0] == '-';
}

/* Parse the SD elements at s[*p] == '[' and add "sd.<ID>.<NAME>" fields. */
static int parse_sd(struct ts_event *ev, struct ingest_diag *diag, const char *s, size_t len,
                    size_t *pp)
{
    size_t p = *pp;
    int rc;
    while (p < len && s[p] == '[') {
        p++;
        size_t id = p;
        while (p < len && sd_name_char(s[p]))
            p++;
        size_t idlen = p - id;
        if (idlen == 0 || idlen > 255)
            return reject(ev, diag, "bad SD-ID", p);
        while (p < len && s[p] == ' ') {
            p++;
            size_t nm = p;
            while (p < len && sd_name_char(s[p]))
                p++;
            size_t nmlen = p - nm;
            if (nmlen == 0 || nmlen > 255)
                return reject(ev, diag, "bad SD PARAM-NAME", p);
            if (p >= len || s[p] != '=')
                return reject(ev, diag, "expected '=' after SD PARAM-NAME", p);
            p++;
            if (p >= len || s[p] != '"')
                return reject(ev, diag, "expected '\"' to open SD PARAM-VALUE", p);
            size_t vstart = ++p;
            bool esc = false;
            for (;;) {
                const char *q = s + p;
                size_t rest = len - p;
                /* Find the next '"' or '\\' quickly. */
                while (rest && *q != '"' && *q != '\\') {
                    q++;
                    rest--;
                }
                p = (size_t)(q - s);
                if (!rest)
                    return reject(ev, diag, "unterminated SD PARAM-VALUE", vstart - 1);
                if (*q == '"')
                    break;
                /* backslash: \" \\ \] are escapes, anything else stays as is */
                if (p + 1 < len && (s[p + 1] == '"' || s[p + 1] == '\\' || s[p + 1] == ']')) {
                    esc = true;
                    p += 2;
                } else {
                    p += 1;
                }
            }
            size_t vlen = p - vstart;
            p++; /* closing quote */

            size_t flen = 3 + idlen + 1 + nmlen;
            char *fname = ts_arena_alloc(ev->arena, flen + 1);
            if (!fname)
                return add_failed(ev, diag, TS_E_NOMEM);
            memcpy(fname, "sd.", 3);
            memcpy(fname + 3, s + id, idlen);
            fname[3 + idlen] = '.';
            memcpy(fname + 4 + idlen, s + nm, nmlen);
            fname[flen] = '\0';

            const char *val = s + vstart;
            size_t olen = vlen;
            if (esc) {
                char *o = ts_arena_alloc(ev->arena, vlen + 1);
                if (!o)
                    return add_failed(ev, diag, TS_E_NOMEM);
                olen = 0;
                for (size_t i = vstart; i < vstart + vlen; i++) {
                    if (s[i] == '\\' && i + 1 < vstart + vlen &&
                        (s[i + 1] == '"' || s[i + 1] == '\\' || s[i + 1] == ']'))
                        i++;
                    o[olen++] = s[i];
                }
                o[olen] = '\0';
                val = o;
            }
            struct ts_value v = ts_v_str(val, olen);
            if ((rc = ts_event_add(ev, fname, flen, &v)))
                return add_failed(ev, diag, rc);
        }
        if (p >= len || s[p] != ']')
            return reject(ev, diag, "expected ']' or ' ' in SD-ELEMENT", p);
        p++;
    }
    *pp = p;
    return 0;
}

int ingest_rfc5424_span(const struct ingest_parse_opts *opts, struct ts_event *ev,
                        struct ingest_diag *diag, const char *s, size_t len)
{
    struct ingest_diag dummy = {0};
    if (!diag)
        diag = &dummy;
    ev->format = "rfc5424";
    ingest_time_fallback(ev);
    int tz = opts ? opts->tz_offset_sec : 0;
    int rc;

    unsigned pri = 0;
    size_t p = scan_pri(s, len, &pri);
    if (!p)
        return reject(ev, diag, "missing or invalid <PRI>", 0);
    if (p + 2 > len || s[p] != '1' || s[p + 1] != ' ')
        return reject(ev, diag, "unsupported VERSION (expected \"1 \")", p);
    p += 2;
    if ((rc = add_pri(ev, pri)))
        return add_failed(ev, diag, rc);

    const char *ts, *host, *app, *procid, *msgid;
    size_t tslen, hostlen, applen, procidlen, msgidlen;
    if (!header_token(s, len, &p, &ts, &tslen))
        return reject(ev, diag, "truncated header: TIMESTAMP", p);
    if (!header_token(s, len, &p, &host, &hostlen))
        return reject(ev, diag, "truncated header: HOSTNAME", p);
    if (!header_token(s, len, &p, &app, &applen))
        return reject(ev, diag, "truncated header: APP-NAME", p);
    if (!header_token(s, len, &p, &procid, &procidlen))
        return reject(ev, diag, "truncated header: PROCID", p);
    if (!header_token(s, len, &p, &msgid, &msgidlen))
        return reject(ev, diag, "truncated header: MSGID", p);

    bool ts_warned = false;
    if (!is_nil(ts, tslen)) {
        int64_t ns;
        size_t used;
        if (ingest_iso8601(ts, tslen, tz, &ns, &used) == 0 && used == tslen) {
            ev->time_ns = ns;
            ev->time_from_event = true;
        } else {
            diag->warning = ingest_ts_warning(ev->arena, ts, tslen);
            ts_warned = true;
        }
    }
    bool take_host = !is_nil(host, hostlen) && host_ok(host, hostlen);
    if (!is_nil(host, hostlen) && !take_host && !ts_warned) /* the first warning stays */
        diag->warning = "HOSTNAME not taken as host (control bytes, or over 255 bytes)";
    if ((take_host && (rc = add_str(ev, ING_LIT("host"), host, hostlen))) ||
        (!is_nil(app, applen) && (rc = add_str(ev, ING_LIT("program"), app, applen))) ||
        (!is_nil(procid, procidlen) && (rc = add_pid(ev, procid, procidlen))) ||
        (!is_nil(msgid, msgidlen) && (rc = add_str(ev, ING_LIT("msgid"), msgid, msgidlen))))
        return add_failed(ev, diag, rc);

    /* STRUCTURED-DATA */
    if (p >= len)
        return reject(ev, diag, "missing STRUCTURED-DATA", p);
    if (s[p] == '-') {
        p++;
    } else if (s[p] == '[') {
        if ((rc = parse_sd(ev, diag, s, len, &p)))
            return rc;
    } else {
        return reject(ev, diag, "expected '[' or '-' for STRUCTURED-DATA", p);
    }

    /* MSG */
    if (p < len) {
        if (s[p] != ' ')
            return reject(ev, diag, "expected ' ' after STRUCTURED-DATA", p);
        p++;
        if (len - p >= 3 && (unsigned char)s[p] == 0xEF && (unsigned char)s[p + 1] == 0xBB &&
            (unsigned char)s[p + 2] == 0xBF)
            p += 3;
        if ((rc = add_str(ev, ING_LIT("message"), s + p, len - p)))
            return add_failed(ev, diag, rc);
    }
    return 0;
}
