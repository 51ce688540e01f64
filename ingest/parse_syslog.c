/* parse_syslog.c - RFC 3164 (BSD syslog, with the deviations seen in real
 * logs) and RFC 5424 message parsers, and the syslog header of forwarders'
 * JSON (syslog-ng format-json, rsyslog jsonmesg, Fluent Bit, NXLog).
 * Forwarder shapes and their tested configurations: docs/forwarders.md.
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
    diag->reason = rc == TS_E_LIMIT ? "more than 4096 fields in one event (the limit)" : "out of memory for the batch (arena full)";
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

/* Is the token t[0..n) a tag: "program[pid]:", "program:", or
 * "program[pid]" without the colon? rsyslog writes the last when it re-frames
 * an RFC 5424 message with a traditional template ("sshd[1234] Failed ...").
 * "program" alone is not a tag: it cannot be told from the first word of a
 * message. */
static bool scan_tag(const char *t, size_t n, struct tag *tag)
{
    if (n < 2)
        return false;
    bool colon = t[n - 1] == ':';
    n -= colon;
    if (!colon && t[n - 1] != ']')
        return false;
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
        /* One more space: rsyslog re-framing RFC 3164 as RFC 5424 keeps the
         * blank after the tag's colon in MSG (" Failed password ..."); rules
         * and decoders anchor at the first word. One only: a second one is
         * the sender's. raw keeps every byte. Then the optional BOM. */
        if (p < len && s[p] == ' ')
            p++;
        if (len - p >= 3 && (unsigned char)s[p] == 0xEF && (unsigned char)s[p + 1] == 0xBB &&
            (unsigned char)s[p + 2] == 0xBF)
            p += 3;
        if ((rc = add_str(ev, ING_LIT("message"), s + p, len - p)))
            return add_failed(ev, diag, rc);
    }
    return 0;
}

/* ------------------------------------------------- syslog carried as JSON */

/* Forwarders that ship syslog to Kafka as JSON name the syslog header their
 * own way. When a JSON object carries one of these headers, its keys are
 * given the names the RFC 3164/5424 parsers give (program, pid, host,
 * message, facility, severity, pri) and the event time comes from its time
 * key, so that decoders (which run before the mapping profiles and key on
 * `program` and `message`), the linux_syslog profile and the rules see the
 * same event whichever way the line travelled. Every other key stays as
 * sent. A dialect is a row of sj_dialects and its keys rows of sj_keys: a new
 * forwarder is a few lines of data. */

enum sj_slot {
    SJ_MSG,  /* -> message */
    SJ_PROG, /* -> program */
    SJ_PID,  /* -> pid (int when digits) */
    SJ_HOST, /* -> host (when host_ok) */
    SJ_FAC,  /* -> facility: a name or code 0..23 */
    SJ_SEV,  /* -> severity: a name or code 0..7 */
    SJ_PRI,  /* -> pri: 0..191, gives facility and severity when they are absent */
    SJ_TIME, /* event time: RFC 3339 / ISO 8601 (zone-less ones at the topic's zone) */
    SJ_DATE, /* event time when no SJ_TIME: BSD "Mmm dd hh:mm:ss", no year, no zone */
    SJ_MARK, /* only recognises the dialect */
};

enum sj_dialect_id { SJ_NG, SJ_RS, SJ_FB, SJ_NX, SJ_NDIALECTS };

#define SJ_BIT(s) (1u << (s))

static const struct sj_dialect {
    const char *name;
    unsigned need;    /* all of these slots */
    unsigned any;     /* and one of these (0: none needed) */
    bool strip_space; /* one leading space of the message is an artefact */
} sj_dialects[SJ_NDIALECTS] = {
    /* syslog-ng: $(format-json --scope selected_macros ...), or macros by
     * name (ISODATE=$ISODATE ...). A lone MESSAGE (journald export) is not. */
    [SJ_NG] = {"syslog-ng", SJ_BIT(SJ_MSG),
               SJ_BIT(SJ_PROG) | SJ_BIT(SJ_HOST) | SJ_BIT(SJ_TIME) | SJ_BIT(SJ_DATE), false},
    /* rsyslog: the jsonmesg property, or a list template of property names.
     * msg keeps the blank after the tag's colon of an RFC 3164 input. */
    [SJ_RS] = {"rsyslog", SJ_BIT(SJ_MSG), SJ_BIT(SJ_PROG) | SJ_BIT(SJ_TIME) | SJ_BIT(SJ_MARK),
               true},
    /* Fluent Bit: in_syslog's syslog-rfc3164/rfc5424 parsers (ident, pid,
     * host, pri, message); the time is out_kafka's @timestamp. */
    [SJ_FB] = {"fluent-bit", SJ_BIT(SJ_MSG) | SJ_BIT(SJ_PROG), 0, false},
    /* NXLog: parse_syslog() then to_json(). SourceName is the program only
     * with a syslog facility or severity: NXLog's Windows events use it for
     * the provider (otrf_flat profile). */
    [SJ_NX] = {"nxlog", SJ_BIT(SJ_MSG) | SJ_BIT(SJ_PROG), SJ_BIT(SJ_FAC) | SJ_BIT(SJ_SEV), false},
};

static const struct sj_key {
    const char *name;
    uint8_t len;
    uint8_t dialect;
    uint8_t slot;
} sj_keys[] = {
    {ING_LIT("MESSAGE"), SJ_NG, SJ_MSG},
    {ING_LIT("PROGRAM"), SJ_NG, SJ_PROG},
    {ING_LIT("PID"), SJ_NG, SJ_PID},
    {ING_LIT("HOST"), SJ_NG, SJ_HOST},
    {ING_LIT("FACILITY"), SJ_NG, SJ_FAC},
    {ING_LIT("PRIORITY"), SJ_NG, SJ_SEV},
    {ING_LIT("LEVEL"), SJ_NG, SJ_SEV},
    {ING_LIT("ISODATE"), SJ_NG, SJ_TIME},
    {ING_LIT("DATE"), SJ_NG, SJ_DATE},
    {ING_LIT("msg"), SJ_RS, SJ_MSG},
    {ING_LIT("programname"), SJ_RS, SJ_PROG},
    {ING_LIT("procid"), SJ_RS, SJ_PID},
    {ING_LIT("hostname"), SJ_RS, SJ_HOST},
    {ING_LIT("syslogfacility"), SJ_RS, SJ_FAC},
    {ING_LIT("syslogfacility-text"), SJ_RS, SJ_FAC},
    {ING_LIT("syslogseverity"), SJ_RS, SJ_SEV},
    {ING_LIT("syslogseverity-text"), SJ_RS, SJ_SEV},
    {ING_LIT("pri"), SJ_RS, SJ_PRI},
    {ING_LIT("timereported"), SJ_RS, SJ_TIME},
    {ING_LIT("syslogtag"), SJ_RS, SJ_MARK},
    {ING_LIT("message"), SJ_FB, SJ_MSG},
    {ING_LIT("ident"), SJ_FB, SJ_PROG},
    {ING_LIT("pid"), SJ_FB, SJ_PID},
    {ING_LIT("host"), SJ_FB, SJ_HOST},
    {ING_LIT("pri"), SJ_FB, SJ_PRI},
    {ING_LIT("Message"), SJ_NX, SJ_MSG},
    {ING_LIT("SourceName"), SJ_NX, SJ_PROG},
    {ING_LIT("ProcessID"), SJ_NX, SJ_PID},
    {ING_LIT("Hostname"), SJ_NX, SJ_HOST},
    {ING_LIT("SyslogFacility"), SJ_NX, SJ_FAC},
    {ING_LIT("SyslogSeverity"), SJ_NX, SJ_SEV},
    {ING_LIT("EventTime"), SJ_NX, SJ_TIME},
};

/* Per name length, the first letters (any case: c & 31) of sj_keys' names,
 * as bits: most fields of other JSON events (Windows events' dotted and
 * longer names) are passed over with one test, before any comparison. Keep
 * in step with sj_keys (a name missing here is never recognised: the tests
 * of each dialect would fail). */
#define SJ_C(c) SJ_BIT((c) & 31)
static const uint32_t sj_first_by_len[20] = {
    [3] = SJ_C('M') | SJ_C('P'),
    [4] = SJ_C('D') | SJ_C('H'),
    [5] = SJ_C('I') | SJ_C('L'),
    [6] = SJ_C('P'),
    [7] = SJ_C('I') | SJ_C('M') | SJ_C('P'),
    [8] = SJ_C('F') | SJ_C('H') | SJ_C('P'),
    [9] = SJ_C('E') | SJ_C('P') | SJ_C('S'),
    [10] = SJ_C('S'),
    [11] = SJ_C('P'),
    [12] = SJ_C('T'),
    [14] = SJ_C('S'),
    [19] = SJ_C('S'),
};

static const char *const canon_names[] = {
    [SJ_MSG] = "message", [SJ_PROG] = "program", [SJ_PID] = "pid",
    [SJ_HOST] = "host",   [SJ_FAC] = "facility", [SJ_SEV] = "severity",
    [SJ_PRI] = "pri",
};

/* a[0..n) equals the lower-case name b, ignoring ASCII case. */
static bool ieq(const char *a, size_t n, const char *b)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i];
        if (x >= 'A' && x <= 'Z')
            x |= 0x20;
        if (!b[i] || x != (unsigned char)b[i])
            return false;
    }
    return b[n] == '\0';
}

/* The code of a facility/severity value: a name (any case; severity also
 * the common long forms), a decimal string or an integer, at most max.
 * -1 when it names none. */
static int sj_code(const struct ts_value *v, const char *const *names, size_t nnames, int max)
{
    int64_t n = -1;
    if (v->type == TS_V_INT) {
        n = v->u.i;
    } else if (v->type == TS_V_STR) {
        if (parse_uint(v->u.s, v->len, &n))
            return n <= max ? (int)n : -1;
        for (size_t i = 0; i < nnames; i++)
            if (ieq(v->u.s, v->len, names[i]))
                return (int)i;
        if (max == 7) {
            static const struct {
                const char *name;
                int code;
            } alias[] = {{"emergency", 0}, {"panic", 0},   {"critical", 2},     {"error", 3},
                         {"warn", 4},      {"info", 6},    {"informational", 6}};
            for (size_t i = 0; i < TS_ARRAY_LEN(alias); i++)
                if (ieq(v->u.s, v->len, alias[i].name))
                    return alias[i].code;
        }
        return -1;
    }
    return n >= 0 && n <= max ? (int)n : -1;
}

static void sj_rename(struct ts_field *f, enum sj_slot slot)
{
    f->name = canon_names[slot];
    f->name_len = (uint32_t)strlen(canon_names[slot]);
}

int ingest_syslog_json(const struct ingest_parse_opts *opts, struct ts_event *ev,
                       struct ingest_diag *diag)
{
    /* Which slots of which dialect the event has: one pass, a length test
     * for most fields. */
    unsigned seen[SJ_NDIALECTS] = {0};
    for (uint32_t i = 0; i < ev->nfields; i++) {
        uint32_t n = ev->fields[i].name_len;
        const char *name = ev->fields[i].name;
        if (n >= TS_ARRAY_LEN(sj_first_by_len) || !(sj_first_by_len[n] >> (name[0] & 31) & 1u))
            continue;
        for (size_t k = 0; k < TS_ARRAY_LEN(sj_keys); k++)
            if (sj_keys[k].len == n && sj_keys[k].name[0] == name[0] &&
                memcmp(sj_keys[k].name, name, n) == 0)
                seen[sj_keys[k].dialect] |= SJ_BIT(sj_keys[k].slot);
    }
    int d = 0;
    for (; d < SJ_NDIALECTS; d++) {
        const struct sj_dialect *dl = &sj_dialects[d];
        if ((seen[d] & dl->need) == dl->need && (!dl->any || (seen[d] & dl->any)))
            break;
    }
    if (d == SJ_NDIALECTS)
        return 0;

    /* The dialect's fields, first of each slot (as ts_event_get). */
    struct ts_field *slot[SJ_MARK + 1] = {0};
    for (uint32_t i = 0; i < ev->nfields; i++) {
        struct ts_field *f = &ev->fields[i];
        for (size_t k = 0; k < TS_ARRAY_LEN(sj_keys); k++)
            if (sj_keys[k].dialect == d && sj_keys[k].len == f->name_len &&
                memcmp(sj_keys[k].name, f->name, f->name_len) == 0 && !slot[sj_keys[k].slot])
                slot[sj_keys[k].slot] = f;
    }
    /* A name the event already has is not taken twice (as profile renames). */
    for (int s = SJ_MSG; s <= SJ_PRI; s++)
        if (slot[s] && (slot[s]->name_len != strlen(canon_names[s]) ||
                        memcmp(slot[s]->name, canon_names[s], slot[s]->name_len) != 0) &&
            ts_event_getz(ev, canon_names[s]))
            slot[s] = NULL;

    struct ts_field *f;
    if ((f = slot[SJ_MSG]) && f->v.type == TS_V_STR) {
        sj_rename(f, SJ_MSG);
        if (sj_dialects[d].strip_space && f->v.len && f->v.u.s[0] == ' ') {
            f->v.u.s++;
            f->v.len--;
        }
    }
    if ((f = slot[SJ_PROG]) && f->v.type == TS_V_STR && f->v.len)
        sj_rename(f, SJ_PROG);
    if ((f = slot[SJ_PID])) {
        int64_t pid;
        if (f->v.type == TS_V_STR && parse_uint(f->v.u.s, f->v.len, &pid)) {
            f->v = ts_v_int(pid);
            sj_rename(f, SJ_PID);
        } else if (f->v.type == TS_V_INT) {
            sj_rename(f, SJ_PID);
        }
    }
    if ((f = slot[SJ_HOST]) && f->v.type == TS_V_STR && host_ok(f->v.u.s, f->v.len))
        sj_rename(f, SJ_HOST);

    /* facility / severity / pri: only what the JSON says */
    int fac = slot[SJ_FAC] ? sj_code(&slot[SJ_FAC]->v, facility_names, 24, 23) : -1;
    int sev = slot[SJ_SEV] ? sj_code(&slot[SJ_SEV]->v, severity_names, 8, 7) : -1;
    int pri = slot[SJ_PRI] ? sj_code(&slot[SJ_PRI]->v, NULL, 0, 191) : -1;
    int rc;
    if (fac >= 0) {
        slot[SJ_FAC]->v = ts_v_str(facility_names[fac], strlen(facility_names[fac]));
        sj_rename(slot[SJ_FAC], SJ_FAC);
    }
    if (sev >= 0) {
        slot[SJ_SEV]->v = ts_v_str(severity_names[sev], strlen(severity_names[sev]));
        sj_rename(slot[SJ_SEV], SJ_SEV);
    }
    if (pri >= 0) {
        slot[SJ_PRI]->v = ts_v_int(pri);
        sj_rename(slot[SJ_PRI], SJ_PRI);
        const char *fn = facility_names[pri >> 3], *sn = severity_names[pri & 7];
        if ((fac < 0 && !ts_event_getz(ev, "facility") &&
             (rc = add_str(ev, ING_LIT("facility"), fn, strlen(fn)))) ||
            (sev < 0 && !ts_event_getz(ev, "severity") &&
             (rc = add_str(ev, ING_LIT("severity"), sn, strlen(sn)))))
            return add_failed(ev, diag, rc);
    } else if (fac >= 0 && sev >= 0 && !ts_event_getz(ev, "pri") &&
               (rc = add_int(ev, ING_LIT("pri"), (int64_t)(fac << 3 | sev)))) {
        return add_failed(ev, diag, rc);
    }

    /* time: the header's, unless the JSON gave one already (@timestamp) */
    f = slot[SJ_TIME] ? slot[SJ_TIME] : slot[SJ_DATE];
    if (!ev->time_from_event && f && f->v.type == TS_V_STR) {
        int64_t ns;
        if (ingest_time_str(f->v.u.s, f->v.len, opts ? opts->tz_offset_sec : 0,
                            ingest_ref_ns(opts, ev), &ns) == 0) {
            ev->time_ns = ns;
            ev->time_from_event = true;
        } else if (!diag->warning) {
            diag->warning = ingest_ts_warning(ev->arena, f->v.u.s, f->v.len);
        }
    }
    return 0;
}
