/* parse_leef.c - IBM QRadar Log Event Extended Format:
 *   LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value...
 *   LEEF:2.0|Vendor|Product|Version|EventID|DelimiterChar|key=value<D>...
 * In LEEF 2.0 the delimiter field is one character, or its hex code ("x5E",
 * "0x5E", "^"); when it is empty or absent the delimiter is a tab, as in
 * 1.0. An attribute's value runs to the next delimiter (it may hold '=' and
 * blanks); an empty token is skipped; keys are trimmed of blanks.
 *
 * Fields: leef.version, leef.vendor, leef.product, leef.product_version,
 * leef.event_id, and every attribute under its own name (src, dst, srcPort,
 * usrName, devTime, cat, sev ...). The event time is devTime: epoch ms or any
 * form ingest_time_value reads (devTimeFormat is not interpreted; the usual
 * "MMM dd yyyy HH:mm:ss" and ISO forms are recognised). Values point into
 * ev->raw; attribute names are arena copies. Reentrant.
 */
#include <string.h>

#include "../normalise/decoder_int.h"

static const char *const hdr_names[5] = {
    "leef.version", "leef.vendor", "leef.product", "leef.product_version", "leef.event_id",
};

static int reject(struct ts_event *ev, struct ingest_diag *diag, const char *what, size_t at)
{
    diag->reason = ingest_diag_fmt(ev->arena, "invalid LEEF message",
                                   "invalid LEEF message at byte %zu of the payload: %s", at, what);
    return TS_E_PARSE;
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

/* The LEEF 2.0 delimiter field d[0..n): 1 = a delimiter was given in *out,
 * 0 = the field is empty (tab), -1 = not a delimiter field. */
static int delim_field(const char *d, size_t n, char *out)
{
    if (n == 0) {
        *out = '\t';
        return 0;
    }
    if (n == 1 && d[0] != '=') {
        *out = d[0];
        return 1;
    }
    if (n == 2 && d[0] == '\\' && d[1] == 't') {
        *out = '\t';
        return 1;
    }
    size_t p = 0;
    if (n >= 2 && d[0] == '0' && (d[1] == 'x' || d[1] == 'X'))
        p = 2;
    else if (d[0] == 'x' || d[0] == 'X')
        p = 1;
    else
        return -1;
    if (n - p < 1 || n - p > 4)
        return -1;
    int v = 0;
    for (; p < n; p++) {
        int h = hexval(d[p]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    if (v <= 0 || v >= 0x80 || v == '=')
        return -1;
    *out = (char)v;
    return 1;
}

int ingest_leef_payload(const struct ingest_parse_opts *opts, struct ts_event *ev,
                        struct ingest_diag *diag, const char *s, size_t len)
{
    if (len < 5 || memcmp(s, "LEEF:", 5) != 0)
        return reject(ev, diag, "does not start with \"LEEF:\"", 0);
    ev->format = "leef";
    size_t p = 5;
    int rc;
    for (int i = 0; i < 5; i++) {
        const char *bar = p < len ? memchr(s + p, '|', len - p) : NULL;
        if (!bar)
            return reject(ev, diag, "truncated header (fewer than 5 fields)", len);
        size_t e = (size_t)(bar - s);
        if (i == 0 && (e == p || (s[p] != '1' && s[p] != '2')))
            return reject(ev, diag, "unsupported version (expected 1.0 or 2.0)", p);
        if ((rc = ts_event_add_str(ev, hdr_names[i], s + p, e - p)))
            return ingest_add_failed(diag, rc);
        p = e + 1;
    }
    char delim = '\t';
    if (s[5] == '2' && p < len) {
        const char *bar = memchr(s + p, '|', len - p);
        if (bar) {
            size_t e = (size_t)(bar - s);
            char d;
            int r = delim_field(s + p, e - p, &d);
            if (r >= 0) {
                delim = d;
                p = e + 1;
            }
        }
    }

    const char *dt = NULL;
    size_t dtlen = 0;
    while (p < len) {
        const char *q = memchr(s + p, delim, len - p);
        size_t e = q ? (size_t)(q - s) : len;
        const char *eq = memchr(s + p, '=', e - p);
        if (eq) {
            size_t k = p, ke = (size_t)(eq - s);
            while (k < ke && (s[k] == ' ' || s[k] == '\t'))
                k++;
            while (ke > k && (s[ke - 1] == ' ' || s[ke - 1] == '\t'))
                ke--;
            size_t klen = ke - k;
            size_t v = (size_t)(eq - s) + 1, vlen = e - v;
            if (klen > 0 && klen <= ING_KEY_MAX) {
                char *name = ts_arena_strndup(ev->arena, s + k, klen);
                if (!name)
                    return ingest_add_failed(diag, TS_E_NOMEM);
                struct ts_value val = ts_v_str(s + v, vlen);
                if ((rc = ts_event_add(ev, name, klen, &val)))
                    return ingest_add_failed(diag, rc);
                if (klen == 7 && memcmp(name, "devTime", 7) == 0) {
                    dt = s + v;
                    dtlen = vlen;
                }
            }
        }
        p = e + 1;
    }
    if (dt)
        ingest_set_time_from(opts, ev, diag, dt, dtlen);
    return 0;
}

int ingest_parse_leef(const struct ingest_parse_opts *o, struct ts_event *ev,
                      struct ingest_diag *d)
{
    return ingest_parse(INGEST_FMT_LEEF, o, ev, d);
}
