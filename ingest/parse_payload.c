/* parse_payload.c - what the payload formats (CEF, LEEF, key=value) share:
 * finding a payload after a syslog header, parsing that header, and reading
 * the timestamp values that devices put inside their payloads.
 *
 * Reentrant; no allocation besides the event's arena.
 */
#include <string.h>

#include "../core/tstime.h"
#include "../normalise/decoder_int.h"

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

size_t ingest_pri_len(const char *s, size_t len)
{
    if (len < 3 || s[0] != '<')
        return 0;
    size_t p = 1;
    unsigned v = 0;
    while (p < len && p <= 3 && is_digit(s[p]))
        v = v * 10 + (unsigned)(s[p++] - '0');
    if (p == 1 || p >= len || s[p] != '>' || v > 191)
        return 0;
    return p + 1;
}

size_t ingest_payload_find(const char *s, size_t len, const char *tok, size_t toklen)
{
    size_t lim = len < ING_PAYLOAD_SEARCH ? len : ING_PAYLOAD_SEARCH;
    size_t pri = ingest_pri_len(s, len);
    size_t p = 0;
    while (p + toklen <= len && p < lim) {
        const char *hit = memchr(s + p, tok[0], lim - p);
        if (!hit)
            break;
        size_t at = (size_t)(hit - s);
        if (at + toklen <= len && memcmp(hit, tok, toklen) == 0 &&
            (at == 0 || at == pri || s[at - 1] == ' ' || s[at - 1] == '\t'))
            return at;
        p = at + 1;
    }
    return SIZE_MAX;
}

/* Parse the header s[0..hlen) as RFC 5424 / RFC 3164. A 5424 header that
 * does not parse is ignored (its bytes stay in the raw). */
static int parse_header(const struct ingest_parse_opts *opts, struct ts_event *ev,
                        struct ingest_diag *diag, const char *s, size_t hlen)
{
    while (hlen && (s[hlen - 1] == ' ' || s[hlen - 1] == '\t'))
        hlen--;
    if (hlen == 0)
        return 0;
    int rc;
    if (ingest_looks_rfc5424(s, hlen)) {
        rc = ingest_rfc5424_span(opts, ev, diag, s, hlen);
        if (rc == TS_E_PARSE) {
            ts_event_clear_fields(ev);
            ingest_time_fallback(ev);
            diag->reason = NULL;
            diag->warning = NULL;
            return 0;
        }
    } else {
        rc = ingest_rfc3164_span(opts, ev, diag, s, hlen);
        if (rc == 0 && ingest_pri_len(s, hlen) == hlen)
            diag->warning = NULL; /* only "<PRI>": no timestamp expected */
    }
    if (rc)
        return rc;
    /* The header parsers end with the (here empty) message: drop it. */
    if (ev->nfields && ev->fields[ev->nfields - 1].name_len == 7 &&
        memcmp(ev->fields[ev->nfields - 1].name, "message", 7) == 0 &&
        ev->fields[ev->nfields - 1].v.type == TS_V_STR && ev->fields[ev->nfields - 1].v.len == 0)
        ev->nfields--;
    return 0;
}

int ingest_payload_line(enum ing_payload kind, const struct ingest_parse_opts *opts,
                        struct ts_event *ev, struct ingest_diag *diag, const char *s, size_t len,
                        size_t off)
{
    ingest_time_fallback(ev);
    int rc = parse_header(opts, ev, diag, s, off);
    if (rc)
        return rc;
    const char *pay = s + off;
    size_t plen = len - off;
    if ((rc = ts_event_add_str(ev, "message", pay, plen)))
        return ingest_add_failed(diag, rc);
    switch (kind) {
    case ING_PAY_CEF:
        return ingest_cef_payload(opts, ev, diag, pay, plen);
    case ING_PAY_LEEF:
        return ingest_leef_payload(opts, ev, diag, pay, plen);
    case ING_PAY_KV:
        return ingest_kv_payload(opts, ev, diag, pay, plen);
    }
    diag->reason = "unknown payload format";
    return TS_E_INVAL;
}

/* ------------------------------------------------------------- timestamps */

/* Epoch digits: 10 (s), 13 (ms), 16 (us), 19 (ns), optional ".frac". */
static int epoch_digits(const char *s, size_t len, int64_t *ns)
{
    size_t n = 0;
    while (n < len && is_digit(s[n]))
        n++;
    if (n != 10 && n != 13 && n != 16 && n != 19)
        return TS_E_PARSE;
    uint64_t u = 0; /* 19 digits fit in uint64 */
    for (size_t i = 0; i < n; i++)
        u = u * 10 + (uint64_t)(s[i] - '0');
    int64_t mul = n == 10 ? TS_NS_PER_SEC : n == 13 ? 1000000 : n == 16 ? 1000 : 1;
    if (u > (uint64_t)(INT64_MAX / mul) - 1) /* past 2262: not an epoch */
        return TS_E_PARSE;
    int64_t v = (int64_t)u;
    if (n == 19) {
        if (n != len)
            return TS_E_PARSE;
        *ns = v;
        return 0;
    }
    int64_t out = v * mul, frac = 0, scale = mul / 10;
    if (n < len) {
        if (s[n] != '.' || n + 1 >= len)
            return TS_E_PARSE;
        for (size_t i = n + 1; i < len; i++) {
            if (!is_digit(s[i]))
                return TS_E_PARSE;
            frac += (s[i] - '0') * scale;
            scale /= 10;
        }
    }
    *ns = out + frac;
    return 0;
}

int ingest_time_value(const struct ingest_parse_opts *opts, const struct ts_event *ev,
                      const char *s, size_t len, int64_t *ns)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0 || len > 64)
        return TS_E_PARSE;
    int tz = opts ? opts->tz_offset_sec : 0;
    if (is_digit(s[0]) && epoch_digits(s, len, ns) == 0)
        return 0;
    char buf[64];
    memcpy(buf, s, len);
    if (len > 4 && (memcmp(buf + len - 4, " UTC", 4) == 0 || memcmp(buf + len - 4, " GMT", 4) == 0)) {
        len -= 4;
        tz = 0;
    } else if (len > 2 && memcmp(buf + len - 2, " Z", 2) == 0) {
        len -= 2;
        tz = 0;
    }
    /* nginx: "2024/01/31 10:00:00" */
    if (len >= 10 && is_digit(buf[0]) && buf[4] == '/' && buf[7] == '/') {
        buf[4] = '-';
        buf[7] = '-';
    }
    return ingest_time_str(buf, len, tz, ingest_ref_ns(opts, ev), ns);
}

void ingest_set_time_from(const struct ingest_parse_opts *opts, struct ts_event *ev,
                          struct ingest_diag *diag, const char *s, size_t len)
{
    int64_t ns;
    if (ingest_time_value(opts, ev, s, len, &ns) == 0) {
        ev->time_ns = ns;
        ev->time_from_event = true;
        diag->warning = NULL;
    } else {
        diag->warning = ingest_ts_warning(ev->arena, s, len);
    }
}
