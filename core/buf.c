/* buf.c - see buf.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ts.h"

#define BUF_DEFAULT_LIMIT (64u << 20)

void ts_buf_init(struct ts_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit ? limit : BUF_DEFAULT_LIMIT;
}

void ts_buf_free(struct ts_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void ts_buf_reset(struct ts_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int ts_buf_reserve(struct ts_buf *b, size_t extra)
{
    if (extra > b->limit || b->len > b->limit - extra)
        return TS_E_LIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap *= 2;
    char *nd = realloc(b->data, ncap);
    if (!nd)
        return TS_E_NOMEM;
    b->data = nd;
    b->cap = ncap;
    return 0;
}

int ts_buf_append(struct ts_buf *b, const void *p, size_t n)
{
    int rc = ts_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ts_buf_puts(struct ts_buf *b, const char *s)
{
    return ts_buf_append(b, s, strlen(s));
}

int ts_buf_putc(struct ts_buf *b, char c)
{
    return ts_buf_append(b, &c, 1);
}

int ts_buf_printf(struct ts_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return TS_E_INVAL;
    if ((size_t)n < sizeof(tmp))
        return ts_buf_append(b, tmp, (size_t)n);
    int rc = ts_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* Length of the UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((need == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return need;
}

size_t ts_fmt_i64(char *out, int64_t v)
{
    char d[24];
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0, k = 0;
    do {
        d[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        out[k++] = '-';
    while (n)
        out[k++] = d[--n];
    out[k] = '\0';
    return k;
}

size_t ts_utf8_valid_prefix(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq(u + i, n - i);
        if (!k)
            return i;
        i += k;
    }
    return n;
}

int ts_buf_json_str(struct ts_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = ts_buf_reserve(b, n + 2);
    if (rc)
        return rc;
    size_t start_len = b->len;
    const unsigned char *u = (const unsigned char *)s;
    b->data[b->len++] = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' && u[run] != '\\')
            run++;
        if (run > i) {
            if ((rc = ts_buf_append(b, s + i, run - i)))
                goto fail;
            i = run;
            continue;
        }
        unsigned char c = u[i];
        char esc[8];
        size_t el = 2;
        esc[0] = '\\';
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
        } else if (c == '\n') {
            esc[1] = 'n';
        } else if (c == '\r') {
            esc[1] = 'r';
        } else if (c == '\t') {
            esc[1] = 't';
        } else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        } else {
            size_t k = utf8_seq(u + i, n - i);
            if (k) {
                if ((rc = ts_buf_append(b, s + i, k)))
                    goto fail;
                i += k;
            } else {
                if ((rc = ts_buf_append(b, "\xEF\xBF\xBD", 3)))
                    goto fail;
                i++;
            }
            continue;
        }
        if ((rc = ts_buf_append(b, esc, el)))
            goto fail;
        i++;
    }
    if ((rc = ts_buf_putc(b, '"')))
        goto fail;
    return 0;
fail:
    b->len = start_len;
    b->data[b->len] = '\0';
    return rc;
}

/* True for the code points ts_buf_term_str shows as \uNNNN. */
static bool term_unsafe_cp(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
           (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

int ts_buf_term_str(struct ts_buf *b, const char *s, size_t n, size_t max, bool *cut)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t start_len = b->len, i = 0;
    int rc = 0;
    if (cut)
        *cut = false;
    while (i < n) {
        /* the next piece: a run of printable ASCII, one UTF-8 sequence, or
         * one escape standing for `used` bytes of s */
        size_t run = i;
        while (run < n && u[run] >= 0x20 && u[run] < 0x7f)
            run++;
        bool ascii = run > i;
        const char *piece = s + i;
        size_t plen = run - i, used = plen;
        char esc[8];
        if (!ascii) {
            unsigned char c = u[i];
            size_t k = c < 0x80 ? 1 : utf8_seq(u + i, n - i);
            unsigned cp = 0;
            if (k == 2)
                cp = ((c & 0x1Fu) << 6) | (u[i + 1] & 0x3Fu);
            else if (k == 3)
                cp = ((c & 0x0Fu) << 12) | ((u[i + 1] & 0x3Fu) << 6) | (u[i + 2] & 0x3Fu);
            used = k ? k : 1;
            piece = esc;
            if (c == '\n' || c == '\r' || c == '\t') {
                esc[0] = '\\';
                esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
                plen = 2;
            } else if (k <= 1) { /* other C0, DEL, or a byte that is not UTF-8 */
                memcpy(esc, "\\x", 2);
                esc[2] = hex[c >> 4];
                esc[3] = hex[c & 15];
                plen = 4;
            } else if (term_unsafe_cp(cp)) {
                memcpy(esc, "\\u", 2);
                for (int d = 0; d < 4; d++)
                    esc[2 + d] = hex[(cp >> (12 - 4 * d)) & 15];
                plen = 6;
            } else {
                piece = s + i;
                plen = k;
            }
        }
        size_t room = max ? max - (b->len - start_len) : SIZE_MAX;
        if (plen > room) { /* what fits of an ASCII run; never half an escape */
            plen = ascii ? room : 0;
            if (plen && (rc = ts_buf_append(b, piece, plen)))
                goto fail;
            if (cut)
                *cut = true;
            return 0;
        }
        if ((rc = ts_buf_append(b, piece, plen)))
            goto fail;
        i += used;
    }
    return 0;
fail:
    b->len = start_len;
    if (b->data)
        b->data[b->len] = '\0';
    return rc;
}

int ts_buf_json_value(struct ts_buf *b, const struct ts_value *v)
{
    char tmp[64];
    switch (v->type) {
    case TS_V_STR:
        return ts_buf_json_str(b, v->u.s, v->len);
    case TS_V_INT:
        return ts_buf_printf(b, "%lld", (long long)v->u.i);
    case TS_V_FLOAT:
        /* NaN and infinities are not JSON numbers: named strings, as in
         * protobuf's JSON mapping (null would read as "no value") */
        if (v->u.f != v->u.f)
            return ts_buf_puts(b, "\"NaN\"");
        if (v->u.f - v->u.f != 0)
            return ts_buf_puts(b, v->u.f > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return ts_buf_printf(b, "%.17g", v->u.f);
    case TS_V_BOOL:
        return ts_buf_puts(b, v->u.b ? "true" : "false");
    case TS_V_IP:
        ts_ip_format(&v->u.ip, tmp, sizeof(tmp));
        return ts_buf_json_str(b, tmp, strlen(tmp));
    case TS_V_LIST: {
        size_t start_len = b->len;
        int rc = ts_buf_putc(b, '[');
        for (uint32_t i = 0; !rc && i < v->len; i++) {
            if (i)
                rc = ts_buf_putc(b, ',');
            if (!rc)
                rc = ts_buf_json_value(b, &v->u.items[i]);
        }
        if (!rc)
            rc = ts_buf_putc(b, ']');
        if (rc && b->data) { /* leave the buffer as it was (see buf.h) */
            b->len = start_len;
            b->data[b->len] = '\0';
        }
        return rc;
    }
    default:
        return ts_buf_puts(b, "null");
    }
}

int ts_buf_base64(struct ts_buf *b, const void *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = p;
    int rc = ts_buf_reserve(b, (n + 2) / 3 * 4);
    if (rc)
        return rc;
    char *o = b->data + b->len;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        *o++ = tbl[s[i] >> 2];
        *o++ = tbl[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
        *o++ = tbl[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
        *o++ = tbl[s[i + 2] & 63];
    }
    if (i < n) {
        *o++ = tbl[s[i] >> 2];
        if (i + 1 < n) {
            *o++ = tbl[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
            *o++ = tbl[(s[i + 1] & 15) << 2];
        } else {
            *o++ = tbl[(s[i] & 3) << 4];
            *o++ = '=';
        }
        *o++ = '=';
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}
