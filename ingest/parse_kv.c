/* parse_kv.c - key=value messages as firewalls send them (FortiGate,
 * SonicWall, many appliances): `key=value key2="quoted value" key3='x'`,
 * optionally after a syslog header. Also the key=value splitter that the
 * decoders use (ingest_kv_next).
 *
 * Pairs are separated by blanks; a quoted value may hold blanks and the
 * escapes \" and \\ (other backslashes stay); a token without '=' is skipped;
 * `key=` is an empty value. Each pair becomes a string field named by its key
 * (duplicates are kept, ts_event_get returns the first). The event time is
 * eventtime= (epoch s/ms/us/ns, UTC), else FortiGate's date= + time= (+ tz="+0700").
 * Values without escapes point into ev->raw; names and unescaped values are
 * arena copies. Reentrant.
 */
#include <string.h>

#include "../normalise/decoder_int.h"

static inline bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

bool ingest_kv_next(struct ingest_kv_iter *it, struct ingest_kv *kv)
{
    const char *s = it->s;
    size_t len = it->len, p = it->p;
    for (;;) {
        while (p < len && is_blank(s[p]))
            p++;
        if (p >= len) {
            it->p = p;
            return false;
        }
        size_t k = p;
        while (p < len && s[p] != '=' && !is_blank(s[p]))
            p++;
        if (p >= len || s[p] != '=' || p == k || p - k > ING_KEY_MAX) {
            /* A bare token ("DF", "SYN") or an overlong key: skip it. */
            while (p < len && !is_blank(s[p]))
                p++;
            it->skipped++;
            continue;
        }
        kv->key = s + k;
        kv->klen = p - k;
        kv->esc = false;
        p++; /* '=' */
        if (p < len && (s[p] == '"' || s[p] == '\'')) {
            char q = s[p++];
            size_t v = p;
            while (p < len && s[p] != q) {
                if (s[p] == '\\' && p + 1 < len) {
                    kv->esc = true;
                    p += 2;
                } else {
                    p++;
                }
            }
            if (p > len)
                p = len;
            kv->val = s + v;
            kv->vlen = p - v;
            if (p < len)
                p++; /* closing quote */
        } else {
            size_t v = p;
            while (p < len && !is_blank(s[p]))
                p++;
            kv->val = s + v;
            kv->vlen = p - v;
        }
        it->p = p;
        return true;
    }
}

int ingest_kv_value(struct ts_arena *a, const struct ingest_kv *kv, const char **out, size_t *olen)
{
    if (!kv->esc) {
        *out = kv->val;
        *olen = kv->vlen;
        return 0;
    }
    char *o = ts_arena_alloc(a, kv->vlen + 1);
    if (!o)
        return TS_E_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < kv->vlen; i++) {
        char c = kv->val[i];
        if (c == '\\' && i + 1 < kv->vlen &&
            (kv->val[i + 1] == '"' || kv->val[i + 1] == '\\' || kv->val[i + 1] == '\''))
            c = kv->val[++i];
        o[n++] = c;
    }
    o[n] = '\0';
    *out = o;
    *olen = n;
    return 0;
}

/* A key as FortiGate and friends write them. */
static bool key_ok(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    char c = s[0];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

bool ingest_looks_kv(const char *s, size_t len)
{
    if (len > 512)
        len = 512;
    /* Fast refusal: the first token must be "key=" (most lines fail here,
     * on the first blank or non-key byte). */
    size_t k = 0;
    while (k < len && k <= 64 && s[k] != '=') {
        char c = s[k];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
        k++;
    }
    if (k == 0 || k >= len || s[k] != '=')
        return false;
    struct ingest_kv_iter it;
    ingest_kv_init(&it, s, len);
    struct ingest_kv kv;
    /* The first two tokens are both well-formed pairs. */
    for (int i = 0; i < 2; i++) {
        size_t before = it.p;
        while (before < len && is_blank(s[before]))
            before++;
        if (!ingest_kv_next(&it, &kv) || it.skipped || kv.key != s + before ||
            !key_ok(kv.key, kv.klen))
            return false;
    }
    return true;
}

static bool key_is(const struct ingest_kv *kv, const char *k, size_t n)
{
    return kv->klen == n && memcmp(kv->key, k, n) == 0;
}

/* "+0700" / "-05:00" / "UTC" as an ISO suffix into out (max 7 bytes). */
static size_t tz_suffix(const char *s, size_t n, char *out)
{
    if (n == 3 && (memcmp(s, "UTC", 3) == 0 || memcmp(s, "GMT", 3) == 0)) {
        out[0] = 'Z';
        return 1;
    }
    if ((n == 5 || n == 6) && (s[0] == '+' || s[0] == '-')) {
        memcpy(out, s, n);
        return n;
    }
    return 0;
}

int ingest_kv_payload(const struct ingest_parse_opts *opts, struct ts_event *ev,
                      struct ingest_diag *diag, const char *s, size_t len)
{
    ev->format = "kv";
    struct ingest_kv_iter it;
    ingest_kv_init(&it, s, len);
    struct ingest_kv kv;
    struct ingest_kv date = {0}, tim = {0}, tz = {0}, et = {0};
    unsigned n = 0;
    int rc;
    while (ingest_kv_next(&it, &kv)) {
        const char *v;
        size_t vlen;
        char *name = ts_arena_strndup(ev->arena, kv.key, kv.klen);
        if (!name || ingest_kv_value(ev->arena, &kv, &v, &vlen))
            return ingest_add_failed(diag, TS_E_NOMEM);
        struct ts_value val = ts_v_str(v, vlen);
        if ((rc = ts_event_add(ev, name, kv.klen, &val)))
            return ingest_add_failed(diag, rc);
        n++;
        if (key_is(&kv, "date", 4))
            date = kv;
        else if (key_is(&kv, "time", 4))
            tim = kv;
        else if (key_is(&kv, "tz", 2))
            tz = kv;
        else if (key_is(&kv, "eventtime", 9))
            et = kv;
    }
    if (n == 0) {
        diag->reason = "no key=value pairs";
        return TS_E_PARSE;
    }
    int64_t ns;
    if (et.key && ingest_time_value(opts, ev, et.val, et.vlen, &ns) == 0) {
        /* eventtime is UTC epoch: unambiguous, preferred over date/time */
        ev->time_ns = ns;
        ev->time_from_event = true;
        diag->warning = NULL;
    } else if (date.key && tim.key) {
        char buf[64];
        size_t b = 0;
        if (date.vlen + tim.vlen + 8 < sizeof(buf)) {
            memcpy(buf, date.val, date.vlen);
            b = date.vlen;
            buf[b++] = 'T';
            memcpy(buf + b, tim.val, tim.vlen);
            b += tim.vlen;
            if (tz.key)
                b += tz_suffix(tz.val, tz.vlen, buf + b);
        }
        ingest_set_time_from(opts, ev, diag, buf, b);
    } else if (et.key) {
        ingest_set_time_from(opts, ev, diag, et.val, et.vlen);
    }
    return 0;
}

int ingest_parse_kv(const struct ingest_parse_opts *o, struct ts_event *ev, struct ingest_diag *d)
{
    return ingest_parse(INGEST_FMT_KV, o, ev, d);
}
