/* channel.c - the delivery channels of escalations: loading the channels
 * file (docs/escalation.md "Channels"), the per-thread deliverer that
 * routes an outbox entry to its channel, and the small pure pieces the
 * dispatcher and the senders share (HTTP outcome, back-off, Standard
 * Webhooks signature, idempotency key).
 *
 * Ownership: an esc_channels owns one arena with every string (secrets
 * included) and is immutable after loading, so any number of dispatcher
 * threads read it. An esc_deliverer belongs to one thread; it owns the
 * curl handles and Kafka producers it makes on first use.
 * Failure: loaders fill ts_err (file:line:col, first error wins); a
 * delivery never fails the caller, it returns an outcome and a reason. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "../core/log.h"
#include "../core/tstime.h"
#include "../core/yaml.h"
#include "../core/yconf.h"
#include "channel_int.h"
#include "esc_int.h"

#define ARENA_CHUNK (8u << 10)
#define ARENA_CAP ((size_t)16 << 20)
#define SECRET_FILE_MAX 4096
#define DEFAULT_TIMEOUT_NS (30 * TS_NS_PER_SEC)
#define DEFAULT_CONNECT_NS (10 * TS_NS_PER_SEC)

/* ------------------------------------------------------------ pure parts */

const char *esc_outcome_name(enum esc_outcome o)
{
    switch (o) {
    case ESC_OUT_DELIVERED:
        return "delivered";
    case ESC_OUT_RETRY:
        return "retry";
    case ESC_OUT_PERMANENT:
        return "permanent";
    }
    return "?";
}

enum esc_outcome esc_http_outcome(long status)
{
    if (status >= 200 && status < 300)
        return ESC_OUT_DELIVERED;
    if (status >= 400 && status < 500 && status != 408 && status != 429)
        return ESC_OUT_PERMANENT;
    return ESC_OUT_RETRY;
}

int64_t esc_backoff_ns(uint32_t attempts, int64_t base_ns, int64_t cap_ns, uint64_t rnd)
{
    if (base_ns <= 0)
        base_ns = 1;
    if (cap_ns < base_ns)
        cap_ns = base_ns;
    int64_t d = base_ns;
    for (uint32_t i = 1; i < attempts && d < cap_ns; i++)
        d = d > cap_ns / 2 ? cap_ns : d * 2;
    if (d > cap_ns)
        d = cap_ns;
    /* equal jitter: d/2 + a part of d/2 chosen by rnd */
    int64_t half = d / 2;
    uint64_t span = (uint64_t)(d - half);
    uint64_t add = rnd % (span + 1); /* span <= 2^62: no overflow */
    return half + (int64_t)add;
}

/* Decode standard base64 (padding optional, no whitespace). -1 on error. */
static long b64_decode(const char *s, unsigned char *out, size_t cap)
{
    size_t n = strlen(s), o = 0;
    while (n && s[n - 1] == '=')
        n--;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v;
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+' || c == '-')
            v = 62;
        else if (c == '/' || c == '_')
            v = 63;
        else
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)o;
}

static int ossl_fail(struct ts_err *err, const char *what)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    else
        snprintf(buf, sizeof(buf), "unknown error");
    ERR_clear_error();
    return ts_err_set(err, TS_E_UNSUPPORTED, NULL, 0, 0, "OpenSSL %s: %s", what, buf);
}

int esc_webhook_sign(const char *secret, const char *id, int64_t timestamp_sec,
                     const void *body, size_t len, struct ts_buf *out, struct ts_err *err)
{
    if (!secret || !id)
        return TS_E_INVAL;
    if (!strncmp(secret, "whsec_", 6))
        secret += 6;
    unsigned char key[256];
    long klen = b64_decode(secret, key, sizeof(key));
    if (klen <= 0)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "webhook secret is not base64");
    char ts[32];
    int tl = snprintf(ts, sizeof(ts), ".%lld.", (long long)timestamp_sec);
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    int rc = 0;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (!ctx || !EVP_MAC_init(ctx, key, (size_t)klen, params) ||
        !EVP_MAC_update(ctx, (const unsigned char *)id, strlen(id)) ||
        !EVP_MAC_update(ctx, (const unsigned char *)ts, (size_t)tl) ||
        (len && !EVP_MAC_update(ctx, body, len)) ||
        !EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)))
        rc = ossl_fail(err, "HMAC-SHA256");
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc)
        return rc;
    size_t mark = out->len;
    rc = ts_buf_puts(out, "v1,");
    rc = rc ? rc : ts_buf_base64(out, mac, maclen);
    if (rc)
        out->len = mark;
    return rc;
}

const char *esc_entry_report(const struct store_outbox *e)
{
    const char *p = e->id ? strrchr(e->id, ':') : NULL;
    return p ? p + 1 : "";
}

void esc_idempotency_key(const struct store_outbox *e, char *buf, size_t len)
{
    /* An entry of the due pass stands for its due time, not for a change:
     * two weekly updates of the same revision are two documents. */
    int64_t due = esc_entry_due_ns(e->id, e->incident_id);
    if (due)
        snprintf(buf, len, "%s:due%lld", e->incident_id, (long long)(due / TS_NS_PER_SEC));
    else
        snprintf(buf, len, "%s:%llu", e->incident_id ? e->incident_id : "",
                 (unsigned long long)e->revision);
}

/* ----------------------------------------------------------- redaction */

struct sink {
    char *p;
    size_t cap, len; /* len < cap: p is always terminated */
};

static void sink_put(struct sink *o, const char *s, size_t n)
{
    size_t room = o->cap - 1 - o->len;
    if (n > room)
        n = room;
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

/* One URL of n bytes (u[0..n)) redacted into o. */
static void redact_url(struct sink *o, const char *u, size_t n)
{
    const char *sep = NULL;
    for (size_t i = 0; i + 3 <= n && !sep; i++)
        if (!memcmp(u + i, "://", 3))
            sep = u + i;
    if (!sep) {
        sink_put(o, u, n);
        return;
    }
    const char *end = u + n, *auth = sep + 3, *p = auth;
    while (p < end && *p != '/' && *p != '?' && *p != '#')
        p++;
    const char *at = NULL; /* the last '@' of the authority ends the userinfo */
    for (const char *q = auth; q < p; q++)
        if (*q == '@')
            at = q;
    sink_put(o, u, (size_t)(auth - u));
    if (at) {
        sink_put(o, "***", 3);
        auth = at;
    }
    sink_put(o, auth, (size_t)(p - auth));
    const char *path = p;
    while (p < end && *p != '?' && *p != '#')
        p++;
    sink_put(o, path, (size_t)(p - path));
    if (p < end && *p == '?') {
        sink_put(o, "?***", 4);
        while (p < end && *p != '#')
            p++;
    }
    if (p < end && *p == '#')
        sink_put(o, "#***", 4);
}

void esc_url_redact(const char *url, char *out, size_t cap)
{
    if (!out || !cap)
        return;
    struct sink o = {out, cap, 0};
    out[0] = '\0';
    if (url)
        redact_url(&o, url, strlen(url));
}

static bool scheme_char(char c)
{
    return isalnum((unsigned char)c) || c == '+' || c == '-' || c == '.';
}

void esc_text_redact_urls(const char *text, char *out, size_t cap)
{
    if (!out || !cap)
        return;
    struct sink o = {out, cap, 0};
    out[0] = '\0';
    const char *p = text ? text : "", *done = p, *sep;
    while ((sep = strstr(p, "://")) != NULL) {
        const char *b = sep;
        while (b > done && scheme_char(b[-1]))
            b--;
        const char *e = sep + 3;
        while (*e && !isspace((unsigned char)*e) && !strchr("\"'<>", *e))
            e++;
        while (e > sep + 3 && strchr(":,;.)", e[-1])) /* "URL: reason" */
            e--;
        if (b == sep) { /* no scheme: not a URL */
            p = sep + 3;
            continue;
        }
        sink_put(&o, done, (size_t)(b - done));
        redact_url(&o, b, (size_t)(e - b));
        done = p = e;
    }
    sink_put(&o, done, strlen(done));
}

void esc_error_scrub(const struct esc_chan *ch, char *error)
{
    char a[ESC_ERROR_MAX], b[ESC_ERROR_MAX];
    esc_text_redact_urls(error, a, sizeof(a));
    for (size_t i = 0; ch && i < ch->nhidden; i++) {
        const char *h = ch->hidden[i];
        size_t hl = strlen(h);
        if (hl == 0 || !strstr(a, h))
            continue;
        struct sink o = {b, sizeof(b), 0};
        b[0] = '\0';
        const char *p = a, *q;
        while ((q = strstr(p, h)) != NULL) {
            sink_put(&o, p, (size_t)(q - p));
            sink_put(&o, "***", 3);
            p = q + hl;
        }
        sink_put(&o, p, strlen(p));
        memcpy(a, b, o.len + 1);
    }
    /* one line that shows what it holds, as in text reports (a terminal
     * escape in a receiver's answer must not reach `tocsin escalations
     * list`); without memory for that, control bytes become spaces */
    struct ts_buf e;
    ts_buf_init(&e, 4 * ESC_ERROR_MAX);
    if (esc_text_escape(&e, a, strlen(a)) == 0) {
        size_t n = e.len < ESC_ERROR_MAX ? e.len : ts_utf8_valid_prefix(e.data, ESC_ERROR_MAX - 1);
        memcpy(error, e.data ? e.data : "", n);
        error[n] = '\0';
    } else {
        for (char *p = a; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                *p = ' ';
        memcpy(error, a, strlen(a) + 1);
    }
    ts_buf_free(&e);
}

/* ------------------------------------------------------------- loading */

/* Loading goes through core/yconf (struct ts_yconf: file, first error, and
 * the channel set's arena); fail/nomem are its short names here. */
static int fail(struct ts_yconf *x, const struct ts_ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ts_yconf *x, const struct ts_ynode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ts_yconf_vfail(x, TS_E_CONFIG, n, fmt, ap);
    va_end(ap);
    return rc;
}

static int nomem(struct ts_yconf *x)
{
    return ts_yconf_nomem(x);
}

/* get_str/opt_* keep the channel fields' const char * and this file's rule:
 * a string of at most ESC_TEXT_MAX bytes on one line, "" allowed. */
static int get_str(struct ts_yconf *x, const struct ts_ynode *n, const char *what, const char **out)
{
    char *s = NULL;
    int rc = ts_yconf_text(x, n, what, ESC_TEXT_MAX, TS_YCONF_EMPTY_OK | TS_YCONF_ONE_LINE, &s);
    if (!rc)
        *out = s;
    return rc;
}

static int opt_str(struct ts_yconf *x, const struct ts_ynode *map, const char *key,
                   const char **out)
{
    const struct ts_ynode *n = ts_yaml_get(map, key);
    return n ? get_str(x, n, key, out) : 0;
}

static int opt_duration(struct ts_yconf *x, const struct ts_ynode *map, const char *key,
                        int64_t *out)
{
    const struct ts_ynode *n = ts_yaml_get(map, key);
    return n ? ts_yconf_duration(x, n, key, TS_YCONF_POSITIVE, out) : 0;
}

static int opt_uint(struct ts_yconf *x, const struct ts_ynode *map, const char *key,
                    unsigned long lo, unsigned long hi, unsigned long *out)
{
    const struct ts_ynode *n = ts_yaml_get(map, key);
    long long v;
    int rc = n ? ts_yconf_int(x, n, key, (long long)lo, (long long)hi, &v) : 0;
    if (n && !rc)
        *out = (unsigned long)v;
    return rc;
}

static int opt_bool(struct ts_yconf *x, const struct ts_ynode *map, const char *key, bool *out)
{
    const struct ts_ynode *n = ts_yaml_get(map, key);
    return n ? ts_yconf_bool(x, n, key, out) : 0;
}

static int check_keys(struct ts_yconf *x, const struct ts_ynode *map, const char *what,
                      const char *const *known)
{
    return ts_yconf_check_keys(x, map, what, known, ts_yconf_count(known), NULL);
}

/* A mapping of string -> string (headers, properties). */
static int get_kvs(struct ts_yconf *x, const struct ts_ynode *n, const char *what,
                   struct esc_kv **out, size_t *nout)
{
    if (!n || n->kind != TS_Y_MAP)
        return fail(x, n, "%s must be a mapping of names to values", what);
    if (n->npairs > ESC_HEADERS_MAX)
        return fail(x, n, "%s: more than %d entries", what, ESC_HEADERS_MAX);
    struct esc_kv *v = ts_arena_alloc(x->arena, (n->npairs + 1) * sizeof(*v));
    if (!v)
        return nomem(x);
    for (size_t i = 0; i < n->npairs; i++) {
        int rc = get_str(x, n->pairs[i].key, what, &v[i].k);
        rc = rc ? rc : get_str(x, n->pairs[i].val, what, &v[i].v);
        if (rc)
            return rc;
    }
    *out = v;
    *nout = n->npairs;
    return 0;
}

/* A secret given inline, in a file (first line) or in the environment. */
static int get_secret(struct ts_yconf *x, const struct ts_ynode *map, const char *key,
                      const char **out)
{
    char kf[64], ke[64];
    snprintf(kf, sizeof(kf), "%s_file", key);
    snprintf(ke, sizeof(ke), "%s_env", key);
    const struct ts_ynode *ni = ts_yaml_get(map, key), *nf = ts_yaml_get(map, kf),
                          *ne = ts_yaml_get(map, ke);
    if ((ni != NULL) + (nf != NULL) + (ne != NULL) > 1)
        return fail(x, ni ? ni : nf, "give one of %s, %s and %s", key, kf, ke);
    if (ni)
        return get_str(x, ni, key, out);
    const char *ref = NULL;
    if (nf || ne) {
        int rc = get_str(x, nf ? nf : ne, nf ? kf : ke, &ref);
        if (rc)
            return rc;
    }
    if (ne) {
        const char *v = getenv(ref);
        if (!v || !*v)
            return fail(x, ne, "environment variable %s is not set", ref);
        if (strlen(v) > ESC_TEXT_MAX)
            return fail(x, ne, "environment variable %s is too long", ref);
        return (*out = ts_arena_strndup(x->arena, v, strlen(v))) ? 0 : nomem(x);
    }
    if (nf) {
        FILE *f = fopen(ref, "rb");
        if (!f)
            return fail(x, nf, "cannot open %s: %s", ref, strerror(errno));
        char buf[SECRET_FILE_MAX];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        n = strcspn(buf, "\r\n");
        if (n == 0)
            return fail(x, nf, "%s is empty", ref);
        *out = ts_arena_strndup(x->arena, buf, n);
        memset(buf, 0, sizeof(buf));
        return *out ? 0 : nomem(x);
    }
    return 0;
}

#define HIDDEN_MAX 128
#define HIDDEN_MIN 4 /* shorter strings are not hunted for in messages */

struct hidden {
    struct ts_yconf *x;
    const char *v[HIDDEN_MAX];
    size_t n;
    int rc;
};

static void hide(struct hidden *h, const char *s, size_t n)
{
    if (h->rc || !s || n < HIDDEN_MIN || h->n == HIDDEN_MAX)
        return;
    for (size_t i = 0; i < h->n; i++)
        if (strlen(h->v[i]) == n && !memcmp(h->v[i], s, n))
            return;
    if (!(h->v[h->n] = ts_arena_strndup(h->x->arena, s, n)))
        h->rc = nomem(h->x);
    else
        h->n++;
}

static void hide_str(struct hidden *h, const char *s)
{
    if (s)
        hide(h, s, strlen(s));
}

/* A header or property name that suggests a credential. */
static bool sensitive_name(const char *k)
{
    static const char *const words[] = {"auth", "pass", "secret", "token", "key", "cookie",
                                        "oauthbearer"};
    for (size_t i = 0; i < TS_ARRAY_LEN(words); i++)
        if (strcasestr(k, words[i]))
            return true;
    return false;
}

/* The secrets of a loaded channel, for esc_error_scrub. */
static int collect_hidden(struct ts_yconf *x, struct esc_chan *ch)
{
    struct hidden h = {.x = x};
    const char *u = ch->url, *sep = u ? strstr(u, "://") : NULL;
    if (sep) {
        const char *auth = sep + 3, *p = auth, *at = NULL;
        while (*p && *p != '/' && *p != '?' && *p != '#')
            if (*p++ == '@')
                at = p - 1;
        if (at) {
            hide(&h, auth, (size_t)(at - auth));     /* user:password */
            const char *colon = memchr(auth, ':', (size_t)(at - auth));
            if (colon)
                hide(&h, colon + 1, (size_t)(at - colon - 1)); /* password */
        }
        const char *q = strchr(p, '?'), *f = strchr(p, '#');
        if (q && (!f || q < f)) {
            size_t ql = f ? (size_t)(f - q - 1) : strlen(q + 1);
            hide(&h, q + 1, ql);
            for (const char *a = q + 1; a < q + 1 + ql;) { /* each value */
                size_t pl = strcspn(a, "&#");
                if (pl > ql - (size_t)(a - q - 1))
                    pl = ql - (size_t)(a - q - 1);
                const char *eq = memchr(a, '=', pl);
                if (eq)
                    hide(&h, eq + 1, pl - (size_t)(eq + 1 - a));
                a += pl + 1;
            }
        }
        if (f)
            hide_str(&h, f + 1);
    }
    hide_str(&h, ch->secret);
    if (ch->secret && !strncmp(ch->secret, "whsec_", 6))
        hide_str(&h, ch->secret + 6);
    hide_str(&h, ch->password);
    hide_str(&h, ch->client_key_password);
    for (size_t i = 0; i < ch->nheaders; i++)
        if (sensitive_name(ch->headers[i].k)) {
            const char *v = ch->headers[i].v, *sp = strrchr(v, ' ');
            hide_str(&h, v);
            if (sp)
                hide_str(&h, sp + 1); /* "Bearer <token>": the token alone */
        }
    for (size_t i = 0; i < ch->nprops; i++)
        if (sensitive_name(ch->props[i].k))
            hide_str(&h, ch->props[i].v);
    if (h.rc)
        return h.rc;
    if (h.n) {
        if (!(ch->hidden = ts_arena_alloc(x->arena, h.n * sizeof(*ch->hidden))))
            return nomem(x);
        memcpy(ch->hidden, h.v, h.n * sizeof(*ch->hidden));
        ch->nhidden = h.n;
    }
    return 0;
}

static const char *const k_common[] = {"type", "timeout", NULL};
static const char *const k_webhook[] = {
    "type", "url", "secret", "secret_file", "secret_env", "ca_file", "ca_path", "client_cert",
    "client_key", "client_key_password", "client_key_password_env", "client_key_password_file",
    "insecure", "timeout", "connect_timeout", "headers", NULL};
static const char *const k_kafka[] = {"type", "brokers", "topic", "properties", "timeout", NULL};
static const char *const k_file[] = {"type", "path", NULL};
static const char *const k_smtp[] = {
    "type", "url", "from", "to", "username", "password", "password_file", "password_env",
    "ca_file", "ca_path", "client_cert", "client_key", "insecure", "allow_plaintext", "timeout",
    "connect_timeout", NULL};

static int load_channel(struct ts_yconf *x, const struct ts_ynode *k, const struct ts_ynode *n,
                        struct esc_chan *ch)
{
    int rc = get_str(x, k, "channel name", &ch->name);
    if (rc)
        return rc;
    size_t nl = strlen(ch->name);
    if (nl == 0 || nl > ESC_CHANNEL_NAME_MAX)
        return fail(x, k, "channel name must be 1 to %d bytes", ESC_CHANNEL_NAME_MAX);
    ch->line = k->line;
    ch->timeout_ns = DEFAULT_TIMEOUT_NS;
    ch->connect_timeout_ns = DEFAULT_CONNECT_NS;
    if (!n || n->kind != TS_Y_MAP)
        return fail(x, n, "channel %s must be a mapping", ch->name);
    const char *type = NULL;
    const struct ts_ynode *tn = ts_yaml_get(n, "type");
    if (!tn)
        return fail(x, n, "channel %s needs a type (webhook, kafka, file, smtp)", ch->name);
    if ((rc = get_str(x, tn, "type", &type)) != 0)
        return rc;
    const char *const *keys = k_common;
    if (!strcmp(type, "webhook")) {
        ch->type = ESC_CH_WEBHOOK;
        keys = k_webhook;
    } else if (!strcmp(type, "kafka")) {
        ch->type = ESC_CH_KAFKA;
        keys = k_kafka;
    } else if (!strcmp(type, "file")) {
        ch->type = ESC_CH_FILE;
        keys = k_file;
    } else if (!strcmp(type, "smtp")) {
        ch->type = ESC_CH_SMTP;
        keys = k_smtp;
    } else {
        return fail(x, tn, "unknown channel type \"%s\" (known: webhook, kafka, file, smtp)",
                    type);
    }
    char what[ESC_CHANNEL_NAME_MAX + 16];
    snprintf(what, sizeof(what), "channel %s", ch->name);
    if ((rc = check_keys(x, n, what, keys)) != 0)
        return rc;
    rc = opt_duration(x, n, "timeout", &ch->timeout_ns);
    rc = rc ? rc : opt_duration(x, n, "connect_timeout", &ch->connect_timeout_ns);
    rc = rc ? rc : opt_str(x, n, "url", &ch->url);
    rc = rc ? rc : opt_str(x, n, "ca_file", &ch->ca_file);
    rc = rc ? rc : opt_str(x, n, "ca_path", &ch->ca_path);
    rc = rc ? rc : opt_str(x, n, "client_cert", &ch->client_cert);
    rc = rc ? rc : opt_str(x, n, "client_key", &ch->client_key);
    rc = rc ? rc : opt_bool(x, n, "insecure", &ch->insecure);
    rc = rc ? rc : opt_bool(x, n, "allow_plaintext", &ch->allow_plaintext);
    if (rc)
        return rc;
    if (ch->url) {
        char safe[ESC_TEXT_MAX + 16];
        esc_url_redact(ch->url, safe, sizeof(safe));
        if (!(ch->url_safe = ts_arena_strndup(x->arena, safe, strlen(safe))))
            return nomem(x);
    }
    const struct ts_ynode *v;
    switch (ch->type) {
    case ESC_CH_WEBHOOK:
        rc = get_secret(x, n, "secret", &ch->secret);
        rc = rc ? rc : get_secret(x, n, "client_key_password", &ch->client_key_password);
        if (!rc && (v = ts_yaml_get(n, "headers")))
            rc = get_kvs(x, v, "headers", &ch->headers, &ch->nheaders);
        if (rc)
            return rc;
        if (!ch->url)
            return fail(x, n, "webhook channel %s needs a url", ch->name);
        if (strncmp(ch->url, "https://", 8) != 0 &&
            !(ch->insecure && !strncmp(ch->url, "http://", 7)))
            return fail(x, ts_yaml_get(n, "url"),
                        "webhook url must be https:// (http:// only with insecure: true)");
        if (ch->secret) {
            struct ts_buf b;
            ts_buf_init(&b, 256);
            rc = esc_webhook_sign(ch->secret, "x", 0, "", 0, &b, NULL);
            ts_buf_free(&b);
            if (rc)
                return fail(x, ts_yaml_get(n, "secret"),
                            "webhook secret must be \"whsec_\" and base64 (%s)",
                            ts_strerror(rc));
        }
        for (size_t i = 0; i < ch->nheaders; i++)
            for (const char *p = ch->headers[i].k; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
                    return fail(x, v, "header name \"%s\": letters, digits, '-' and '_'",
                                ch->headers[i].k);
        break;
    case ESC_CH_SMTP:
        rc = opt_str(x, n, "from", &ch->from);
        rc = rc ? rc : opt_str(x, n, "username", &ch->username);
        rc = rc ? rc : get_secret(x, n, "password", &ch->password);
        if (!rc && (v = ts_yaml_get(n, "to"))) {
            size_t cnt = v->kind == TS_Y_SEQ ? v->nitems : 1;
            if (cnt == 0 || cnt > ESC_SMTP_RCPT_MAX || v->kind == TS_Y_MAP)
                return fail(x, v, "to: 1 to %d addresses", ESC_SMTP_RCPT_MAX);
            if (!(ch->to = ts_arena_alloc(x->arena, cnt * sizeof(*ch->to))))
                return nomem(x);
            for (size_t i = 0; !rc && i < cnt; i++)
                rc = get_str(x, v->kind == TS_Y_SEQ ? v->items[i] : v, "to", &ch->to[i]);
            ch->nto = cnt;
        }
        if (rc)
            return rc;
        if (!ch->url || (strncmp(ch->url, "smtp://", 7) && strncmp(ch->url, "smtps://", 8)))
            return fail(x, n, "smtp channel %s needs a url smtp://host[:port] or smtps://...",
                        ch->name);
        if (!ch->from || !ch->nto)
            return fail(x, n, "smtp channel %s needs from and to", ch->name);
        if (ch->allow_plaintext && strncmp(ch->url, "smtp://", 7) != 0)
            return fail(x, ts_yaml_get(n, "allow_plaintext"),
                        "allow_plaintext is for smtp:// (smtps:// is always TLS)");
        for (size_t i = 0; i <= ch->nto; i++) {
            const char *a = i < ch->nto ? ch->to[i] : ch->from;
            if (!strchr(a, '@') || strpbrk(a, "<>\" ,;"))
                return fail(x, n, "smtp channel %s: \"%s\" is not a plain address", ch->name,
                            a);
        }
        break;
    case ESC_CH_KAFKA:
        rc = opt_str(x, n, "brokers", &ch->brokers);
        rc = rc ? rc : opt_str(x, n, "topic", &ch->topic);
        if (!rc && (v = ts_yaml_get(n, "properties")))
            rc = get_kvs(x, v, "properties", &ch->props, &ch->nprops);
        if (rc)
            return rc;
        if (!ch->brokers || !ch->topic)
            return fail(x, n, "kafka channel %s needs brokers and topic", ch->name);
        for (size_t i = 0; i < ch->nprops; i++)
            if (!strcmp(ch->props[i].k, "enable.idempotence") ||
                !strcmp(ch->props[i].k, "bootstrap.servers") ||
                !strcmp(ch->props[i].k, "acks"))
                return fail(x, v, "kafka property %s is managed by tocsin", ch->props[i].k);
        break;
    case ESC_CH_FILE:
        if ((rc = opt_str(x, n, "path", &ch->path)) != 0)
            return rc;
        if (!ch->path || !*ch->path)
            return fail(x, n, "file channel %s needs a path", ch->name);
        break;
    }
    if (ch->client_key && !ch->client_cert)
        return fail(x, n, "channel %s: client_key without client_cert", ch->name);
    return collect_hidden(x, ch);
}

/* What weakens a channel's transport security is said once, at load. */
static void warn_weak(const struct esc_channels *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct esc_chan *ch = &c->v[i];
        if (ch->insecure)
            ts_warn("escalation channel %s: insecure: true: TLS certificate and host name of %s "
                    "are not verified%s (for tests only)",
                    ch->name, ch->url_safe ? ch->url_safe : "",
                    ch->url && !strncmp(ch->url, "http://", 7) ? ", and http:// is not encrypted"
                                                               : "");
        if (ch->allow_plaintext)
            ts_warn("escalation channel %s: allow_plaintext: true: when %s offers no STARTTLS, "
                    "the login and the reports are sent unencrypted",
                    ch->name, ch->url_safe ? ch->url_safe : "");
    }
}

static const char *const k_top[] = {"dispatch", "channels", NULL};
static const char *const k_dispatch[] = {"threads",      "lease",     "backoff_base",
                                         "backoff_cap",  "max_attempts", "claim_max",
                                         "poll",         "alerts_file", "due_pass", NULL};

static void dispatch_defaults(struct esc_dispatch_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->threads = 2;
    o->lease_ns = 60 * TS_NS_PER_SEC;
    o->backoff_base_ns = 10 * TS_NS_PER_SEC;
    o->backoff_cap_ns = 3600 * TS_NS_PER_SEC;
    o->max_attempts = 12;
    o->idle_ns = TS_NS_PER_SEC;
    o->due_every_ns = 60 * TS_NS_PER_SEC;
}

static int load_root(struct ts_yconf *x, const struct ts_ynode *root, struct esc_channels *c)
{
    int rc = check_keys(x, root, "the channels file", k_top);
    if (rc)
        return rc;
    const struct ts_ynode *d = ts_yaml_get(root, "dispatch");
    if (d) {
        unsigned long th = c->dispatch.threads, ma = c->dispatch.max_attempts, cm = 1;
        rc = check_keys(x, d, "dispatch", k_dispatch);
        rc = rc ? rc : opt_uint(x, d, "threads", 1, ESC_THREADS_MAX, &th);
        rc = rc ? rc : opt_uint(x, d, "max_attempts", 1, 1000000, &ma);
        /* claim_max: still accepted (files that set it load), no longer
         * used - each claim takes one entry so that its lease covers its
         * own delivery (dispatch.c) */
        rc = rc ? rc : opt_uint(x, d, "claim_max", 1, ESC_CLAIM_MAX, &cm);
        rc = rc ? rc : opt_duration(x, d, "lease", &c->dispatch.lease_ns);
        rc = rc ? rc : opt_duration(x, d, "backoff_base", &c->dispatch.backoff_base_ns);
        rc = rc ? rc : opt_duration(x, d, "backoff_cap", &c->dispatch.backoff_cap_ns);
        rc = rc ? rc : opt_duration(x, d, "poll", &c->dispatch.idle_ns);
        rc = rc ? rc : opt_str(x, d, "alerts_file", &c->dispatch.alerts_path);
        rc = rc ? rc : opt_duration(x, d, "due_pass", &c->dispatch.due_every_ns);
        if (rc)
            return rc;
        c->dispatch.threads = (unsigned)th;
        c->dispatch.max_attempts = (uint32_t)ma;
        if (c->dispatch.backoff_cap_ns < c->dispatch.backoff_base_ns)
            return fail(x, d, "backoff_cap must not be shorter than backoff_base");
    }
    const struct ts_ynode *chs = ts_yaml_get(root, "channels");
    if (!chs || chs->kind != TS_Y_MAP || chs->npairs == 0)
        return fail(x, chs ? chs : root, "channels must be a mapping of names to channels");
    if (chs->npairs > ESC_CHANNELS_MAX)
        return fail(x, chs, "more than %d channels", ESC_CHANNELS_MAX);
    c->v = ts_arena_alloc(x->arena, chs->npairs * sizeof(*c->v));
    if (!c->v)
        return nomem(x);
    memset(c->v, 0, chs->npairs * sizeof(*c->v));
    for (size_t i = 0; i < chs->npairs; i++) {
        if ((rc = load_channel(x, chs->pairs[i].key, chs->pairs[i].val, &c->v[i])) != 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->v[j].name, c->v[i].name))
                return fail(x, chs->pairs[i].key, "duplicate channel \"%s\"", c->v[i].name);
        c->n = i + 1;
    }
    return 0;
}

static int load(const char *path, const char *name, const char *buf, size_t len,
                struct esc_channels **out, struct ts_err *err)
{
    *out = NULL;
    struct ts_ystream *s = NULL;
    const struct ts_ynode *root = NULL;
    int rc = esc_yaml_open(path, name, buf, len, &s, &root, err);
    if (rc)
        return rc;
    struct esc_channels *c = calloc(1, sizeof(*c));
    if (!c || ts_arena_create(&c->arena, ARENA_CHUNK, ARENA_CAP) != 0) {
        free(c);
        ts_yaml_free(s);
        return ts_err_set(err, TS_E_NOMEM, path ? path : name, 0, 0, "out of memory");
    }
    dispatch_defaults(&c->dispatch);
    struct ts_yconf x = {path ? path : name, err, c->arena, "the channels"};
    rc = load_root(&x, root, c);
    ts_yaml_free(s);
    if (!rc && esc_curl_global() != 0)
        rc = ts_err_set(err, TS_E_UNSUPPORTED, x.file, 0, 0, "libcurl initialisation failed");
    if (rc) {
        esc_channels_free(c);
        return rc;
    }
    warn_weak(c);
    *out = c;
    return 0;
}

int esc_channels_load(const char *path, struct esc_channels **out, struct ts_err *err)
{
    return load(path, NULL, NULL, 0, out, err);
}

int esc_channels_load_buffer(const char *name, const char *buf, size_t len,
                             struct esc_channels **out, struct ts_err *err)
{
    return load(NULL, name ? name : "<channels>", buf, len, out, err);
}

void esc_channels_free(struct esc_channels *c)
{
    if (!c)
        return;
    ts_arena_destroy(c->arena); /* secrets go with the chunks */
    free(c);
}

size_t esc_channels_count(const struct esc_channels *c)
{
    return c ? c->n : 0;
}

const char *esc_channels_name(const struct esc_channels *c, size_t i)
{
    return c && i < c->n ? c->v[i].name : NULL;
}

enum esc_channel_type esc_channels_type(const struct esc_channels *c, size_t i)
{
    return c && i < c->n ? c->v[i].type : ESC_CH_FILE;
}

void esc_channels_dispatch_opts(const struct esc_channels *c, struct esc_dispatch_opts *out)
{
    if (c)
        *out = c->dispatch;
    else
        dispatch_defaults(out);
}

const struct esc_chan *esc_channels_find(const struct esc_channels *c, const char *name,
                                         size_t *idx)
{
    for (size_t i = 0; c && name && i < c->n; i++)
        if (!strcmp(c->v[i].name, name)) {
            if (idx)
                *idx = i;
            return &c->v[i];
        }
    return NULL;
}

/* ------------------------------------------------------------ deliverer */

int esc_deliverer_create(struct esc_deliverer **out, const struct esc_channels *c)
{
    *out = NULL;
    if (!c)
        return TS_E_INVAL;
    struct esc_deliverer *d = calloc(1, sizeof(*d));
    if (!d)
        return TS_E_NOMEM;
    d->c = c;
    d->st = calloc(c->n ? c->n : 1, sizeof(*d->st));
    if (!d->st) {
        free(d);
        return TS_E_NOMEM;
    }
    ts_buf_init(&d->scratch, STORE_PAYLOAD_MAX * 2u);
    ts_buf_init(&d->scratch2, STORE_PAYLOAD_MAX * 2u);
    *out = d;
    return 0;
}

void esc_deliverer_destroy(struct esc_deliverer *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->c->n; i++) {
        esc_curl_state_free(&d->st[i]);
        esc_kafka_state_free(&d->st[i]);
    }
    free(d->st);
    ts_buf_free(&d->scratch);
    ts_buf_free(&d->scratch2);
    free(d);
}

enum esc_outcome esc_deliver(struct esc_deliverer *d, const struct store_outbox *e,
                             int64_t now_ns, char error[ESC_ERROR_MAX])
{
    error[0] = '\0';
    size_t idx = 0;
    const struct esc_chan *ch = esc_channels_find(d->c, e->channel, &idx);
    if (!ch) {
        snprintf(error, ESC_ERROR_MAX, "channel \"%s\" is not configured", e->channel);
        return ESC_OUT_RETRY;
    }
    if (!now_ns)
        now_ns = ts_now_ns();
    enum esc_outcome o = ESC_OUT_RETRY;
    switch (ch->type) {
    case ESC_CH_WEBHOOK:
        o = esc_send_webhook(d, idx, e, now_ns, error);
        break;
    case ESC_CH_SMTP:
        o = esc_send_smtp(d, idx, e, now_ns, error);
        break;
    case ESC_CH_KAFKA:
        o = esc_send_kafka(d, idx, e, error);
        break;
    case ESC_CH_FILE:
        o = esc_send_file(d, idx, e, now_ns, error);
        break;
    default:
        snprintf(error, ESC_ERROR_MAX, "unknown channel type");
    }
    /* the text is stored, logged and printed: nothing of a secret in it
     * (curl's messages and a receiver's answer may repeat the URL) */
    if (o != ESC_OUT_DELIVERED)
        esc_error_scrub(ch, error);
    return o;
}
