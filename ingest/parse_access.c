/* parse_access.c - Apache / nginx access logs in the common and combined
 * formats:
 *   %h %l %u [%t] "%r" %>s %b                                  (common)
 *   %h %l %u [%t] "%r" %>s %b "%{Referer}i" "%{User-agent}i"   (combined)
 * Anything after the combined fields (nginx's "$http_x_forwarded_for", ...)
 * is ignored. Fields use the W3C names of Sigma's webserver rules: c-ip (an
 * IP when it is one, else the host name as a string), cs-username, cs-method,
 * cs-uri (the whole request target), cs-uri-stem, cs-uri-query (after '?'),
 * cs-version, sc-status, sc-bytes (ints), cs-referer, cs-user-agent. "-"
 * means absent. A request line that is not "METHOD TARGET[ VERSION]" (TLS
 * bytes sent to port 80, "-") is kept as the field "request". Quoted strings
 * hold Apache's escapes; \" and \\ are undone, \xhh stays as logged.
 * The time [10/Oct/2000:13:55:36 -0700] is the event time.
 * Reentrant; values point into ev->raw or the arena.
 */
#include <string.h>

#include "../core/tstime.h"
#include "../normalise/decoder_int.h"

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int reject(struct ts_event *ev, struct ingest_diag *diag, const char *what, size_t at)
{
    diag->reason = ingest_diag_fmt(ev->arena, "invalid access log line",
                                   "invalid access log line at byte %zu: %s", at, what);
    return TS_E_PARSE;
}

/* "dd/Mon/yyyy:hh:mm:ss" at s: is the shape there (26 bytes with the zone)? */
static bool clf_time_shape(const char *s, size_t len)
{
    return len >= 20 && is_digit(s[0]) && is_digit(s[1]) && s[2] == '/' && s[6] == '/' &&
           is_digit(s[7]) && is_digit(s[10]) && s[11] == ':' && s[14] == ':' && s[17] == ':';
}

bool ingest_looks_access(const char *s, size_t len)
{
    size_t lim = len < 320 ? len : 320;
    size_t p = 0;
    for (int tok = 0; tok < 3; tok++) {
        if (p >= lim || s[p] == ' ' || s[p] == '[' || s[p] == '"' || s[p] == '<')
            return false;
        const char *sp = memchr(s + p, ' ', lim - p);
        if (!sp)
            return false;
        p = (size_t)(sp - s) + 1;
    }
    return p < len && s[p] == '[' && clf_time_shape(s + p + 1, len - p - 1);
}

static bool digits(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 18)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* [dd/Mon/yyyy:hh:mm:ss +zzzz] contents → ns. */
static int clf_time(const char *s, size_t len, int64_t *ns)
{
    int64_t d, y, h, mi, sec, zh, zm;
    if (len != 26 || !clf_time_shape(s, len) || s[20] != ' ' || (s[21] != '+' && s[21] != '-'))
        return TS_E_PARSE;
    char mon[4] = {s[3], s[4], s[5], '\0'};
    unsigned m = ts_month_from_abbr(mon);
    if (!m || !digits(s, 2, &d) || !digits(s + 7, 4, &y) || !digits(s + 12, 2, &h) ||
        !digits(s + 15, 2, &mi) || !digits(s + 18, 2, &sec) || !digits(s + 22, 2, &zh) ||
        !digits(s + 24, 2, &zm))
        return TS_E_PARSE;
    if (y < ING_YEAR_MIN || y > ING_YEAR_MAX || d < 1 || d > ts_days_in_month(y, m) || h > 23 ||
        mi > 59 || sec > 60 || zh > 23 || zm > 59)
        return TS_E_PARSE;
    if (sec == 60)
        sec = 59;
    int64_t off = (zh * 3600 + zm * 60) * (s[21] == '-' ? -1 : 1);
    int64_t t = ts_epoch_from_utc(y, m, (unsigned)d, (unsigned)h, (unsigned)mi, (unsigned)sec);
    *ns = (t - off) * TS_NS_PER_SEC;
    return 0;
}

/* A quoted string at s[*p] == '"': its contents and whether it has escapes.
 * Moves *p past the closing quote. */
static bool quoted(const char *s, size_t len, size_t *p, size_t *v, size_t *vlen, bool *esc)
{
    if (*p >= len || s[*p] != '"')
        return false;
    size_t q = *p + 1;
    *v = q;
    *esc = false;
    while (q < len && s[q] != '"') {
        if (s[q] == '\\' && q + 1 < len) {
            *esc = true;
            q += 2;
        } else {
            q++;
        }
    }
    if (q >= len)
        return false;
    *vlen = q - *v;
    *p = q + 1;
    return true;
}

static const char *unescape(struct ts_arena *a, const char *s, size_t len, size_t *olen)
{
    char *o = ts_arena_alloc(a, len + 1);
    if (!o)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < len && (s[i + 1] == '"' || s[i + 1] == '\\'))
            c = s[++i];
        o[n++] = c;
    }
    o[n] = '\0';
    *olen = n;
    return o;
}

static int add_q(struct ts_event *ev, const char *name, const char *s, size_t len, bool esc)
{
    if (len == 1 && s[0] == '-')
        return 0;
    if (esc && !(s = unescape(ev->arena, s, len, &len)))
        return TS_E_NOMEM;
    return ts_event_add_str(ev, name, s, len);
}

/* "METHOD TARGET VERSION" → cs-method, cs-uri, cs-uri-stem, cs-uri-query, cs-version. */
static int add_request(struct ts_event *ev, const char *r, size_t len)
{
    const char *sp1 = memchr(r, ' ', len);
    int rc;
    if (!sp1 || sp1 == r)
        return add_q(ev, "request", r, len, false);
    size_t mlen = (size_t)(sp1 - r);
    for (size_t i = 0; i < mlen; i++)
        if (!((r[i] >= 'A' && r[i] <= 'Z') || r[i] == '-' || r[i] == '_'))
            return add_q(ev, "request", r, len, false);
    const char *t = sp1 + 1, *end = r + len;
    const char *sp2 = memchr(t, ' ', (size_t)(end - t));
    const char *te = sp2 ? sp2 : end;
    if (te == t)
        return add_q(ev, "request", r, len, false);
    size_t tlen = (size_t)(te - t);
    const char *qm = memchr(t, '?', tlen);
    if ((rc = ts_event_add_str(ev, "cs-method", r, mlen)) ||
        (rc = ts_event_add_str(ev, "cs-uri", t, tlen)) ||
        (rc = ts_event_add_str(ev, "cs-uri-stem", t, qm ? (size_t)(qm - t) : tlen)))
        return rc;
    if (qm && (rc = ts_event_add_str(ev, "cs-uri-query", qm + 1, (size_t)(te - qm - 1))))
        return rc;
    if (sp2 && sp2 + 1 < end && (rc = ts_event_add_str(ev, "cs-version", sp2 + 1,
                                                        (size_t)(end - sp2 - 1))))
        return rc;
    return 0;
}

int ingest_access_span(const struct ingest_parse_opts *opts, struct ts_event *ev,
                       struct ingest_diag *diag, const char *s, size_t len)
{
    TS_UNUSED(opts);
    ev->format = "access";
    ingest_time_fallback(ev);
    size_t p = 0;
    const char *tok[3];
    size_t tlen[3];
    for (int i = 0; i < 3; i++) {
        const char *sp = p < len ? memchr(s + p, ' ', len - p) : NULL;
        if (!sp || (size_t)(sp - s) == p)
            return reject(ev, diag, "expected host, ident and user", p);
        tok[i] = s + p;
        tlen[i] = (size_t)(sp - s) - p;
        p = (size_t)(sp - s) + 1;
    }
    if (p >= len || s[p] != '[')
        return reject(ev, diag, "expected '[' to open the time", p);
    const char *close = memchr(s + p, ']', len - p);
    if (!close)
        return reject(ev, diag, "unterminated [time]", p);
    size_t ts = p + 1, tslen = (size_t)(close - s) - ts;
    p = (size_t)(close - s) + 1;
    if (p >= len || s[p] != ' ')
        return reject(ev, diag, "expected ' ' after the time", p);
    p++;
    size_t rq, rqlen;
    bool rqesc;
    if (!quoted(s, len, &p, &rq, &rqlen, &rqesc))
        return reject(ev, diag, "expected the quoted request line", p);
    if (p >= len || s[p] != ' ')
        return reject(ev, diag, "expected ' ' and the status", p);
    p++;
    size_t st = p;
    while (p < len && s[p] != ' ')
        p++;
    size_t stlen = p - st;
    int64_t status = 0, bytes = 0;
    bool have_status = digits(s + st, stlen, &status);
    if (!have_status && !(stlen == 1 && s[st] == '-'))
        return reject(ev, diag, "status is not a number", st);
    if (p >= len || s[p] != ' ')
        return reject(ev, diag, "expected ' ' and the size", p);
    p++;
    size_t by = p;
    while (p < len && s[p] != ' ')
        p++;
    bool have_bytes = digits(s + by, p - by, &bytes);
    if (!have_bytes && !(p - by == 1 && s[by] == '-'))
        return reject(ev, diag, "size is not a number", by);

    int rc;
    struct ts_ip ip;
    if (ts_ip_parse(tok[0], tlen[0], &ip) == 0)
        rc = ts_event_add_ip(ev, "c-ip", &ip);
    else
        rc = ts_event_add_str(ev, "c-ip", tok[0], tlen[0]);
    if (rc || (rc = add_q(ev, "cs-username", tok[2], tlen[2], false)))
        return ingest_add_failed(diag, rc);
    const char *r = s + rq;
    size_t rl = rqlen;
    if (rqesc && !(r = unescape(ev->arena, r, rl, &rl)))
        return ingest_add_failed(diag, TS_E_NOMEM);
    if (!(rl == 1 && r[0] == '-') && (rc = add_request(ev, r, rl)))
        return ingest_add_failed(diag, rc);
    if ((have_status && (rc = ts_event_add_int(ev, "sc-status", status))) ||
        (have_bytes && (rc = ts_event_add_int(ev, "sc-bytes", bytes))))
        return ingest_add_failed(diag, rc);

    /* combined: "referer" "user-agent" */
    if (p + 1 < len && s[p] == ' ' && s[p + 1] == '"') {
        p++;
        size_t v, vlen;
        bool esc;
        if (quoted(s, len, &p, &v, &vlen, &esc)) {
            if ((rc = add_q(ev, "cs-referer", s + v, vlen, esc)))
                return ingest_add_failed(diag, rc);
            if (p + 1 < len && s[p] == ' ' && s[p + 1] == '"') {
                p++;
                if (quoted(s, len, &p, &v, &vlen, &esc) &&
                    (rc = add_q(ev, "cs-user-agent", s + v, vlen, esc)))
                    return ingest_add_failed(diag, rc);
            }
        }
    }

    int64_t ns;
    if (clf_time(s + ts, tslen, &ns) == 0) {
        ev->time_ns = ns;
        ev->time_from_event = true;
    } else {
        diag->warning = ingest_ts_warning(ev->arena, s + ts, tslen);
    }
    return 0;
}

int ingest_parse_access_log(const struct ingest_parse_opts *o, struct ts_event *ev,
                            struct ingest_diag *d)
{
    return ingest_parse(INGEST_FMT_ACCESS, o, ev, d);
}
