/* router.c - a small router: a table of (method, pattern, least role,
 * handler), patterns of literal and {name} segments, matched segment by
 * segment. Reentrant (the match is written into the caller's struct). */
#include <string.h>

#include "http_int.h"

/* Does pattern match path? Captures go into m (buf, caps). */
static bool match(const char *pattern, const char *path, struct http_match *m)
{
    size_t used = 0;
    m->ncaps = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return false;
        p++;
        s++;
        const char *pe = strchr(p, '/'), *se = strchr(s, '/');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p), sl = se ? (size_t)(se - s) : strlen(s);
        if (pl >= 2 && p[0] == '{' && p[pl - 1] == '}') {
            if (sl == 0 || m->ncaps == HTTP_CAPS_MAX || used + sl + 1 > sizeof(m->buf))
                return false;
            memcpy(m->buf + used, s, sl);
            m->buf[used + sl] = '\0';
            m->caps[m->ncaps++] = m->buf + used;
            used += sl + 1;
        } else if (pl != sl || memcmp(p, s, pl) != 0) {
            return false;
        }
        p += pl;
        s += sl;
    }
    return !*p && !*s;
}

int http_route_find(const struct http_route *routes, size_t n, const char *method,
                    const char *path, struct http_match *m)
{
    m->route = NULL;
    m->ncaps = 0;
    m->allow[0] = '\0';
    size_t len = strlen(path);
    if (len == 0 || len >= HTTP_PATH_MAX)
        return len ? TS_E_LIMIT : TS_E_NOTFOUND;
    for (const char *s = path; (s = strchr(s, '/')); s++) {
        const char *e = strchr(s + 1, '/');
        if ((e ? (size_t)(e - s - 1) : strlen(s + 1)) >= HTTP_SEGMENT_MAX)
            return TS_E_LIMIT;
    }
    const char *want = !strcmp(method, "HEAD") ? "GET" : method;
    bool path_known = false;
    for (size_t i = 0; i < n; i++) {
        if (!match(routes[i].pattern, path, m))
            continue;
        if (!strcmp(routes[i].method, want)) {
            m->route = &routes[i];
            return 0;
        }
        path_known = true;
        size_t al = strlen(m->allow);
        if (!strstr(m->allow, routes[i].method) &&
            al + strlen(routes[i].method) + 8 < sizeof(m->allow)) {
            if (al)
                strcat(m->allow, ", ");
            strcat(m->allow, routes[i].method);
            if (!strcmp(routes[i].method, "GET"))
                strcat(m->allow, ", HEAD");
        }
    }
    m->ncaps = 0;
    return path_known ? TS_E_INVAL : TS_E_NOTFOUND;
}

/* ----------------------------------------------------------------- cursor */

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#define CURSOR_RAW_MAX (10 + 128) /* magic, version, be64, id (STORE_ID_MAX) */

int http_cursor_encode(int64_t last_seen_ns, const char *id, char *out, size_t cap)
{
    return http_cursor_encode_kind(HTTP_CURSOR_OLDEST, last_seen_ns, id, out, cap);
}

int http_cursor_decode(const char *s, int64_t *last_seen_ns, char *id, size_t idcap)
{
    uint8_t kind;
    int rc = http_cursor_decode_kind(s, &kind, last_seen_ns, id, idcap);
    return rc ? rc : kind == HTTP_CURSOR_OLDEST ? 0 : TS_E_INVAL;
}

int http_cursor_encode_kind(uint8_t kind, int64_t last_seen_ns, const char *id, char *out,
                            size_t cap)
{
    if (kind < HTTP_CURSOR_OLDEST || kind > HTTP_CURSOR_KIND_MAX)
        return TS_E_INVAL;
    size_t idl = id ? strlen(id) : 0;
    if (idl == 0 || idl > CURSOR_RAW_MAX - 10)
        return TS_E_INVAL;
    uint8_t raw[CURSOR_RAW_MAX];
    size_t n = 0;
    raw[n++] = 'c';
    raw[n++] = kind;
    uint64_t u = (uint64_t)last_seen_ns;
    for (int i = 7; i >= 0; i--)
        raw[n++] = (uint8_t)(u >> (8 * i));
    memcpy(raw + n, id, idl);
    n += idl;
    size_t need = (n * 4 + 2) / 3 + 1;
    if (need > cap)
        return TS_E_LIMIT;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)raw[i + 1] << 8;
        if (i + 2 < n)
            v |= raw[i + 2];
        out[o++] = b64u[v >> 18 & 63];
        out[o++] = b64u[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = b64u[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = b64u[v & 63];
    }
    out[o] = '\0';
    return 0;
}

static int b64u_val(char c)
{
    const char *p = c ? strchr(b64u, c) : NULL;
    return p ? (int)(p - b64u) : -1;
}

int http_cursor_decode_kind(const char *s, uint8_t *kind, int64_t *last_seen_ns, char *id,
                            size_t idcap)
{
    size_t len = s ? strlen(s) : 0;
    if (len < 14 || len >= HTTP_CURSOR_MAX || len % 4 == 1)
        return TS_E_INVAL;
    uint8_t raw[CURSOR_RAW_MAX + 3];
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64u_val(s[i]);
        if (v < 0)
            return TS_E_INVAL;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == sizeof(raw))
                return TS_E_INVAL;
            raw[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* non-canonical trailing bits */
        return TS_E_INVAL;
    if (n < 11 || n > CURSOR_RAW_MAX || raw[0] != 'c' || raw[1] < HTTP_CURSOR_OLDEST ||
        raw[1] > HTTP_CURSOR_KIND_MAX)
        return TS_E_INVAL;
    *kind = raw[1];
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | raw[2 + i];
    size_t idl = n - 10;
    if (idl + 1 > idcap || memchr(raw + 10, 0, idl))
        return TS_E_INVAL;
    memcpy(id, raw + 10, idl);
    id[idl] = '\0';
    *last_seen_ns = (int64_t)u;
    return 0;
}
