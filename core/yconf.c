/* yconf.c - the YAML loading context shared by every loader, see yconf.h.
 *
 * The messages are the ones the run configuration's loader (config.c) gave
 * since the start: "<where> must be ..., got <what>", unknown keys with a
 * suggestion or the list of known keys, duplicates with the first line.
 * Reentrant; no state outside the context.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "tstime.h"
#include "yconf.h"

int ts_yconf_vfail(struct ts_yconf *y, int code, const struct ts_ynode *n, const char *fmt,
                   va_list ap)
{
    return ts_err_vset(y->err, code, y->file, n ? n->line : 0, n ? n->col : 0, fmt, ap);
}

int ts_yconf_fail(struct ts_yconf *y, const struct ts_ynode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ts_yconf_vfail(y, TS_E_CONFIG, n, fmt, ap);
    va_end(ap);
    return rc;
}

int ts_yconf_fail_code(struct ts_yconf *y, int code, const struct ts_ynode *n, const char *fmt,
                       ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ts_yconf_vfail(y, code, n, fmt, ap);
    va_end(ap);
    return rc;
}

int ts_yconf_nomem(struct ts_yconf *y)
{
    return ts_err_set(y->err, TS_E_NOMEM, y->file, 0, 0, "out of memory loading %s",
                      y->what ? y->what : "the file");
}

const char *ts_yconf_describe(const struct ts_ynode *n, char *buf, size_t len)
{
    if (!n || (n->kind == TS_Y_SCALAR && n->len == 0 && ts_yaml_is_null(n)))
        return "nothing";
    if (n->kind != TS_Y_SCALAR)
        return ts_yaml_kind_name(n);
    if (len < 16)
        return "a string";
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < n->len; i++) {
        if (o + 8 >= len || i >= 40) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char ch = (unsigned char)n->str[i];
        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

const char *ts_yconf_key_text(const struct ts_ynode *k, char *buf, size_t len)
{
    if (!len)
        return "";
    if (!k || k->kind != TS_Y_SCALAR) {
        snprintf(buf, len, "%s", k ? ts_yaml_kind_name(k) : "?");
        return buf;
    }
    size_t n = k->len < len - 1 ? k->len : len - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)k->str[i];
        buf[i] = (ch < 0x20 || ch == 0x7f || ch == '"') ? '?' : (char)ch;
    }
    buf[n] = '\0';
    return buf;
}

bool ts_yconf_is(const struct ts_ynode *n, const char *s)
{
    size_t l = strlen(s);
    return n && n->kind == TS_Y_SCALAR && n->len == l && memcmp(n->str, s, l) == 0;
}

size_t ts_yconf_edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    if (la > TS_YCONF_SUGGEST_MAX || lb > TS_YCONF_SUGGEST_MAX)
        return SIZE_MAX;
    size_t d[TS_YCONF_SUGGEST_MAX + 1][TS_YCONF_SUGGEST_MAX + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

const char *ts_yconf_suggest(const char *s, size_t len, const char *const *names, size_t n)
{
    if (len == 0 || len > TS_YCONF_SUGGEST_MAX)
        return NULL;
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t ln = strlen(names[i]);
        size_t d = ts_yconf_edit_distance(s, len, names[i], ln);
        size_t limit = ln <= 4 ? 1 : 2;
        if (d <= limit && d < bestd) {
            best = names[i];
            bestd = d;
        }
    }
    return best;
}

size_t ts_yconf_count(const char *const *names)
{
    size_t n = 0;
    while (names[n])
        n++;
    return n;
}

/* "a, b, c" into buf (cut when full). */
static const char *join(const char *const *names, size_t n, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", names[i]);
    return buf;
}

int ts_yconf_key_index(struct ts_yconf *y, const struct ts_ynode *k, const char *where,
                       const char *const *keys, size_t nkeys, const struct ts_ynode **seen)
{
    char kt[80], list[256];
    for (size_t i = 0; i < nkeys; i++) {
        if (!ts_yconf_is(k, keys[i]))
            continue;
        if (seen[i])
            return ts_yconf_fail(y, k, "duplicate key \"%s\" in %s (first at line %u)", keys[i],
                                 where, seen[i]->line);
        seen[i] = k;
        return (int)i;
    }
    ts_yconf_key_text(k, kt, sizeof(kt));
    const char *s = k->kind == TS_Y_SCALAR ? ts_yconf_suggest(k->str, k->len, keys, nkeys) : NULL;
    if (s)
        return ts_yconf_fail(y, k, "unknown key \"%s\" in %s (did you mean \"%s\"?)", kt, where,
                             s);
    return ts_yconf_fail(y, k, "unknown key \"%s\" in %s (expected one of %s)", kt, where,
                         join(keys, nkeys, list, sizeof(list)));
}

int ts_yconf_check_keys(struct ts_yconf *y, const struct ts_ynode *map, const char *where,
                        const char *const *keys, size_t nkeys, const struct ts_ynode **vals)
{
    const struct ts_ynode *seen[TS_YCONF_MAX_KEYS] = {0};
    if (nkeys > TS_YCONF_MAX_KEYS)
        return ts_yconf_fail_code(y, TS_E_INVAL, map, "%s: key table longer than %d", where,
                                  TS_YCONF_MAX_KEYS);
    int rc = ts_yconf_want_map(y, map, where);
    if (rc)
        return rc;
    if (vals)
        memset(vals, 0, nkeys * sizeof(*vals));
    for (size_t i = 0; i < map->npairs; i++) {
        int k = ts_yconf_key_index(y, map->pairs[i].key, where, keys, nkeys, seen);
        if (k < 0)
            return k;
        if (vals)
            vals[k] = map->pairs[i].val;
    }
    return 0;
}

int ts_yconf_want_map(struct ts_yconf *y, const struct ts_ynode *n, const char *where)
{
    char d[64];
    if (n && n->kind == TS_Y_MAP)
        return 0;
    return ts_yconf_fail(y, n, "%s must be a mapping, got %s", where,
                         ts_yconf_describe(n, d, sizeof(d)));
}

int ts_yconf_want_seq(struct ts_yconf *y, const struct ts_ynode *n, const char *where)
{
    char d[64];
    if (n && n->kind == TS_Y_SEQ)
        return 0;
    return ts_yconf_fail(y, n, "%s must be a list, got %s", where,
                         ts_yconf_describe(n, d, sizeof(d)));
}

static int dup_str(struct ts_yconf *y, const char *s, size_t len, char **out)
{
    char *p = y->arena ? ts_arena_strndup(y->arena, s, len) : malloc(len + 1);
    if (!p)
        return ts_yconf_nomem(y);
    if (!y->arena) {
        memcpy(p, s, len);
        p[len] = '\0';
        free(*out);
    }
    *out = p;
    return 0;
}

/* ---- secrets: ${env:NAME} and ${file:/path} --------------------------------- */

/* Overwrite a buffer that held a secret before it is freed (a plain memset
 * before free may be optimised away). */
static void wipe_free(char *p, size_t len)
{
    if (!p)
        return;
    volatile char *v = p;
    for (size_t i = 0; i < len; i++)
        v[i] = 0;
    free(p);
}

/* Append to b; past max bytes it is a config error naming where, not the text. */
static int put(struct ts_yconf *y, const struct ts_ynode *n, const char *where,
               struct ts_buf *b, const char *p, size_t len)
{
    if (len > b->limit || b->len > b->limit - len)
        return ts_yconf_fail(y, n, "%s must be at most %zu bytes long (after ${...} references)",
                             where, b->limit);
    return ts_buf_append(b, p, len) ? ts_yconf_nomem(y) : 0;
}

static bool has_ref(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == '$' && s[i + 1] == '{')
            return true;
    return false;
}

/* Append the content of file path (at most cap bytes, one trailing "\n" or
 * "\r\n" dropped) to b. The messages name the path, never the content. */
static int ref_file(struct ts_yconf *y, const struct ts_ynode *n, const char *where,
                    const char *path, size_t cap, struct ts_buf *b)
{
    struct stat st;
    /* O_NONBLOCK: a FIFO without a writer must not block the load; it is
     * refused below with anything else that is not a regular file */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return ts_yconf_fail(y, n, "%s: cannot read ${file:%s}: %s (check the path and that "
                                   "this user may read it)",
                             where, path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ts_yconf_fail(y, n, "%s: ${file:%s} is not a regular file", where, path);
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return ts_yconf_nomem(y);
    }
    size_t start = b->len, got = 0;
    char chunk[1024];
    for (;;) {
        size_t r = fread(chunk, 1, sizeof(chunk), f);
        if (r == 0)
            break;
        if (got + r > cap) {
            fclose(f);
            return ts_yconf_fail(y, n, "%s: ${file:%s} is larger than %zu bytes", where, path,
                                 cap);
        }
        int rc = put(y, n, where, b, chunk, r);
        if (rc) {
            fclose(f);
            return rc;
        }
        got += r;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return ts_yconf_fail(y, n, "%s: cannot read ${file:%s}", where, path);
    if (b->len > start && b->data[b->len - 1] == '\n') {
        b->len--;
        if (b->len > start && b->data[b->len - 1] == '\r')
            b->len--;
    }
    return 0;
}

int ts_yconf_resolve(struct ts_yconf *y, const struct ts_ynode *n, const char *where, size_t max,
                     char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!n || n->kind != TS_Y_SCALAR || !has_ref(n->str, n->len))
        return 0;
    if (!max)
        max = TS_YCONF_MAX_STRING;
    struct ts_buf b;
    ts_buf_init(&b, max);
    const char *s = n->str;
    size_t len = n->len;
    int rc = 0;
    for (size_t i = 0; i < len && !rc;) {
        bool env = len - i > 6 && memcmp(s + i, "${env:", 6) == 0;
        bool file = !env && len - i > 7 && memcmp(s + i, "${file:", 7) == 0;
        if (s[i] == '$' && i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
            /* "$${" is a literal "${" */
            rc = put(y, n, where, &b, "${", 2);
            i += 3;
            continue;
        }
        if (!env && !file) {
            rc = put(y, n, where, &b, s + i, 1);
            i++;
            continue;
        }
        size_t o = i + (env ? 6 : 7);
        const char *end = memchr(s + o, '}', len - o);
        if (!end) {
            rc = ts_yconf_fail(y, n, "%s: \"%s\" has no closing '}'", where,
                               env ? "${env:" : "${file:");
            break;
        }
        size_t nl = (size_t)(end - (s + o));
        char name[1024];
        if (nl == 0 || nl >= sizeof(name)) {
            rc = ts_yconf_fail(y, n, "%s: %s must name %s", where, env ? "${env:...}" : "${file:...}",
                               env ? "an environment variable, as in ${env:KAFKA_PASSWORD}"
                                   : "an absolute path, as in ${file:/run/secrets/kafka}");
            break;
        }
        memcpy(name, s + o, nl);
        name[nl] = '\0';
        if (env) {
            for (size_t k = 0; k < nl; k++) {
                unsigned char ch = (unsigned char)name[k];
                if (!(ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                      (k > 0 && ch >= '0' && ch <= '9'))) {
                    rc = ts_yconf_fail(y, n,
                                       "%s: ${env:%s}: an environment variable name is letters, "
                                       "digits and '_', not starting with a digit",
                                       where, name);
                    break;
                }
            }
            if (rc)
                break;
            const char *v = getenv(name);
            if (!v)
                rc = ts_yconf_fail(y, n,
                                   "%s: environment variable %s is not set (referenced as "
                                   "${env:%s})",
                                   where, name, name);
            else
                rc = put(y, n, where, &b, v, strlen(v));
        } else if (name[0] != '/') {
            rc = ts_yconf_fail(y, n,
                               "%s: ${file:%s}: the path must be absolute (start with '/')", where,
                               name);
        } else {
            rc = ref_file(y, n, where, name, max, &b);
        }
        i = (size_t)(end - s) + 1;
    }
    if (!rc && !b.data && ts_buf_reserve(&b, 1) != 0)
        rc = ts_yconf_nomem(y);
    if (rc) {
        wipe_free(b.data, b.cap);
        return rc;
    }
    b.data[b.len] = '\0';
    *out = b.data;
    *out_len = b.len;
    return 0;
}

void ts_yconf_resolved_free(char *s, size_t len)
{
    wipe_free(s, len);
}

/* n with its ${...} references resolved: r->v is r->tmp (its text in
 * r->buf, wiped and freed by resolved_done) or n itself. */
struct resolved {
    struct ts_ynode tmp;
    const struct ts_ynode *v;
    char *buf;
    size_t blen;
};

static int resolve_node(struct ts_yconf *y, const struct ts_ynode *n, const char *where,
                        size_t max, struct resolved *r)
{
    r->v = n;
    r->buf = NULL;
    r->blen = 0;
    int rc = ts_yconf_resolve(y, n, where, max, &r->buf, &r->blen);
    if (rc || !r->buf)
        return rc;
    r->tmp = *n;
    r->tmp.str = r->buf;
    r->tmp.len = r->blen;
    r->v = &r->tmp;
    return 0;
}

static void resolved_done(struct resolved *r)
{
    wipe_free(r->buf, r->blen);
}

/* Errors name n (the text as written: the reference, never its value); the
 * checks look at v (the resolved text). */
static int text_check(struct ts_yconf *y, const struct ts_ynode *n, const struct ts_ynode *v,
                      const char *where, size_t max, unsigned flags, char **out)
{
    char d[64];
    bool empty_ok = flags & TS_YCONF_EMPTY_OK;
    if (!max)
        max = TS_YCONF_MAX_STRING;
    if (!n || n->kind != TS_Y_SCALAR ||
        (!empty_ok && (v->len == 0 || (v == n && ts_yaml_is_null(n)))))
        return ts_yconf_fail(y, n, "%s must be a %sstring, got %s%s", where,
                             empty_ok ? "" : "non-empty ", ts_yconf_describe(n, d, sizeof(d)),
                             v != n ? " (its value is empty)" : "");
    if (v->len > max)
        return ts_yconf_fail(y, n, "%s must be at most %zu bytes long", where, max);
    if (memchr(v->str, '\0', v->len))
        return ts_yconf_fail(y, n, "%s must not contain NUL characters", where);
    if ((flags & TS_YCONF_UTF8) && ts_utf8_valid_prefix(v->str, v->len) != v->len)
        return ts_yconf_fail(y, n, "%s must be valid UTF-8", where);
    if ((flags & TS_YCONF_ONE_LINE) && (memchr(v->str, '\n', v->len) || memchr(v->str, '\r', v->len)))
        return ts_yconf_fail(y, n, "%s must be one line", where);
    return dup_str(y, v->str, v->len, out);
}

int ts_yconf_text(struct ts_yconf *y, const struct ts_ynode *n, const char *where, size_t max,
                  unsigned flags, char **out)
{
    struct resolved r;
    int rc = resolve_node(y, n, where, max, &r);
    if (!rc)
        rc = text_check(y, n, r.v, where, max, flags, out);
    resolved_done(&r);
    return rc;
}

int ts_yconf_str(struct ts_yconf *y, const struct ts_ynode *n, const char *where, size_t max,
                 char **out)
{
    return ts_yconf_text(y, n, where, max, 0, out);
}

static int int_at(struct ts_yconf *y, const struct ts_ynode *at, const struct ts_ynode *n, const char *where, long long lo,
                 long long hi, long long *out)
{
    char d[64];
    int ok = n && n->kind == TS_Y_SCALAR && n->len > 0 && n->len < 24 && !ts_yaml_is_null(n);
    long long v = 0;
    if (ok) {
        size_t i = 0;
        int neg = 0;
        if (n->str[0] == '+' || n->str[0] == '-') {
            neg = n->str[0] == '-';
            i = 1;
        }
        if (i == n->len)
            ok = 0;
        /* 19 digits fit; beyond that the value is out of any range we take */
        if (n->len - i > 18)
            ok = 0;
        for (; ok && i < n->len; i++) {
            char ch = n->str[i];
            if (ch < '0' || ch > '9') {
                ok = 0;
                break;
            }
            v = v * 10 + (ch - '0');
        }
        if (neg)
            v = -v;
    }
    if (!ok || v < lo || v > hi)
        return ts_yconf_fail(y, at, "%s must be an integer from %lld to %lld, got %s", where, lo,
                             hi, ts_yconf_describe(at, d, sizeof(d)));
    *out = v;
    return 0;
}

int ts_yconf_int(struct ts_yconf *y, const struct ts_ynode *n, const char *where, long long lo,
                 long long hi, long long *out)
{
    struct resolved r;
    int rc = resolve_node(y, n, where, 0, &r);
    if (!rc)
        rc = int_at(y, n, r.v, where, lo, hi, out);
    resolved_done(&r);
    return rc;
}

static int bool_at(struct ts_yconf *y, const struct ts_ynode *at, const struct ts_ynode *n, const char *where, bool *out)
{
    char d[64];
    if (n && n->kind == TS_Y_SCALAR && n->style == TS_YS_PLAIN) {
        if (ts_yconf_is(n, "true")) {
            *out = true;
            return 0;
        }
        if (ts_yconf_is(n, "false")) {
            *out = false;
            return 0;
        }
    }
    return ts_yconf_fail(y, at, "%s must be true or false, got %s", where,
                         ts_yconf_describe(at, d, sizeof(d)));
}

int ts_yconf_bool(struct ts_yconf *y, const struct ts_ynode *n, const char *where, bool *out)
{
    struct resolved r;
    int rc = resolve_node(y, n, where, 0, &r);
    if (!rc)
        rc = bool_at(y, n, r.v, where, out);
    resolved_done(&r);
    return rc;
}

static int duration_at(struct ts_yconf *y, const struct ts_ynode *at, const struct ts_ynode *n, const char *where,
                      unsigned flags, int64_t *out)
{
    char d[64];
    int64_t v = -1;
    bool ok = n && n->kind == TS_Y_SCALAR &&
              ((n->len == 1 && n->str[0] == '0' && (v = 0) == 0) ||
               ts_duration_parse(n->str, n->len, &v) == 0);
    if (flags & TS_YCONF_POSITIVE) {
        if (!ok || v <= 0)
            return ts_yconf_fail(y, at,
                                 "%s must be a positive duration such as 500ms, 30s, 5m, 1h, "
                                 "got %s",
                                 where, ts_yconf_describe(at, d, sizeof(d)));
    } else if (!ok) {
        return ts_yconf_fail(y, at,
                             "%s must be a duration such as 90s, 5m, 1h, 7d (or 0), got %s",
                             where, ts_yconf_describe(at, d, sizeof(d)));
    }
    *out = v;
    return 0;
}

int ts_yconf_duration(struct ts_yconf *y, const struct ts_ynode *n, const char *where,
                      unsigned flags, int64_t *out)
{
    struct resolved r;
    int rc = resolve_node(y, n, where, 0, &r);
    if (!rc)
        rc = duration_at(y, n, r.v, where, flags, out);
    resolved_done(&r);
    return rc;
}

static int enum_at(struct ts_yconf *y, const struct ts_ynode *at, const struct ts_ynode *n, const char *where,
                  const char *const *names, size_t count, size_t *out)
{
    char d[64], list[256];
    if (n && n->kind == TS_Y_SCALAR)
        for (size_t i = 0; i < count; i++)
            if (ts_yconf_is(n, names[i])) {
                *out = i;
                return 0;
            }
    const char *s = n && n->kind == TS_Y_SCALAR ? ts_yconf_suggest(n->str, n->len, names, count)
                                                : NULL;
    if (s)
        return ts_yconf_fail(y, at, "%s must be one of %s, got %s (did you mean \"%s\"?)", where,
                             join(names, count, list, sizeof(list)),
                             ts_yconf_describe(at, d, sizeof(d)), s);
    return ts_yconf_fail(y, at, "%s must be one of %s, got %s", where,
                         join(names, count, list, sizeof(list)),
                         ts_yconf_describe(at, d, sizeof(d)));
}

int ts_yconf_enum(struct ts_yconf *y, const struct ts_ynode *n, const char *where,
                  const char *const *names, size_t count, size_t *out)
{
    struct resolved r;
    int rc = resolve_node(y, n, where, 0, &r);
    if (!rc)
        rc = enum_at(y, n, r.v, where, names, count, out);
    resolved_done(&r);
    return rc;
}

int ts_yconf_str_list(struct ts_yconf *y, const struct ts_ynode *n, const char *where,
                      size_t max, char ***out, size_t *count)
{
    char d[64], w[128];
    *count = 0;
    *out = NULL;
    if (n && n->kind == TS_Y_SCALAR && !ts_yaml_is_null(n)) {
        *out = y->arena ? ts_arena_alloc(y->arena, sizeof(**out)) : calloc(1, sizeof(**out));
        if (!*out)
            return ts_yconf_nomem(y);
        (*out)[0] = NULL;
        *count = 1;
        return ts_yconf_str(y, n, where, 0, &(*out)[0]);
    }
    if (!n || n->kind != TS_Y_SEQ)
        return ts_yconf_fail(y, n, "%s must be a string or a list of strings, got %s", where,
                             ts_yconf_describe(n, d, sizeof(d)));
    if (n->nitems > max)
        return ts_yconf_fail(y, n, "%s has more than %zu entries", where, max);
    if (n->nitems == 0)
        return 0;
    size_t bytes = n->nitems * sizeof(**out);
    *out = y->arena ? ts_arena_alloc(y->arena, bytes) : calloc(n->nitems, sizeof(**out));
    if (!*out)
        return ts_yconf_nomem(y);
    if (y->arena)
        memset(*out, 0, bytes);
    for (size_t i = 0; i < n->nitems; i++) {
        snprintf(w, sizeof(w), "%s[%zu]", where, i);
        (*count)++;
        int rc = ts_yconf_str(y, n->items[i], w, 0, &(*out)[i]);
        if (rc)
            return rc;
    }
    return 0;
}
