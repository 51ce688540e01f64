/* auth.c - bearer tokens: the tokens file (YAML, sha256 of each token
 * only), the constant-time lookup of a presented token, roles and tenants.
 * A loaded table is immutable and reference-counted (http_int.h); any
 * thread may look tokens up in it. */
#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>

#include "../core/event.h"
#include "../core/yaml.h"
#include "../core/yconf.h"
#include "http_int.h"

static const char *const role_names[] = {"none", "viewer", "analyst", "admin"};

const char *http_role_name(enum http_role r)
{
    return (unsigned)r < TS_ARRAY_LEN(role_names) ? role_names[r] : "?";
}

int http_role_parse(const char *s, enum http_role *out)
{
    for (unsigned i = HTTP_ROLE_VIEWER; i < TS_ARRAY_LEN(role_names); i++)
        if (!strcmp(s, role_names[i])) {
            *out = (enum http_role)i;
            return 0;
        }
    return TS_E_INVAL;
}

void http_token_sha256_hex(const char *token, size_t len, char out[65])
{
    uint8_t h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, len, h);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(h); i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[64] = '\0';
}

/* ---------------------------------------------------------------- loading */

struct load {
    struct ts_yconf y; /* file and first error (core/yconf.h) */
    struct http_tokens *t;
};

static int fail(struct load *l, const struct ts_ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct load *l, const struct ts_ynode *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ts_yconf_vfail(&l->y, TS_E_CONFIG, at, fmt, ap);
    va_end(ap);
    return rc;
}

static bool name_char(unsigned char c)
{
    return isalnum(c) || c == '.' || c == '_' || c == '-' || c == ':' || c == '@';
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

static int scalar(struct load *l, const struct ts_ynode *n, const char *what)
{
    if (!n || n->kind != TS_Y_SCALAR)
        return fail(l, n, "%s: expected a string, found %s", what, ts_yaml_kind_name(n));
    if (strlen(n->str) != n->len)
        return fail(l, n, "%s: NUL byte in the value", what);
    return 0;
}

static int load_tenants(struct load *l, struct http_token *k, const struct ts_ynode *n)
{
    if (n->kind == TS_Y_SCALAR && !strcmp(n->str, "*")) {
        k->all_tenants = true;
        return 0;
    }
    if (n->kind != TS_Y_SEQ)
        return fail(l, n, "tenants: expected a list of tenant ids or [\"*\"], found %s",
                    ts_yaml_kind_name(n));
    if (n->nitems == 0)
        return fail(l, n, "tenants: empty list (a token must see some tenant; \"*\" for all)");
    if (n->nitems > HTTP_TOKEN_TENANTS_MAX)
        return fail(l, n, "tenants: more than %d", HTTP_TOKEN_TENANTS_MAX);
    if (!(k->tenants = calloc(n->nitems, sizeof(*k->tenants))))
        return TS_E_NOMEM;
    for (size_t i = 0; i < n->nitems; i++) {
        const struct ts_ynode *it = n->items[i];
        int rc = scalar(l, it, "tenants");
        if (rc)
            return rc;
        if (!strcmp(it->str, "*")) {
            if (n->nitems != 1)
                return fail(l, it, "tenants: \"*\" (every tenant) must stand alone");
            k->all_tenants = true;
            return 0;
        }
        const char *why = ts_tenant_check(it->str, it->len);
        if (why)
            return fail(l, it, "tenants: \"%s\": %s", it->str, why);
        if (!(k->tenants[k->ntenants++] = strdup(it->str)))
            return TS_E_NOMEM;
    }
    return 0;
}

static int load_token(struct load *l, struct http_token *k, const struct ts_ynode *n)
{
    if (n->kind != TS_Y_MAP)
        return fail(l, n, "tokens: each entry must be a mapping with name, sha256, role and "
                          "tenants, found %s", ts_yaml_kind_name(n));
    static const char *const keys[] = {"name", "sha256", "role", "tenants"};
    for (size_t i = 0; i < n->npairs; i++) {
        const struct ts_ynode *key = n->pairs[i].key;
        if (ts_yconf_is(key, "token") || ts_yconf_is(key, "secret"))
            return fail(l, key,
                                 "unknown key \"%s\": the file holds only the sha256 of a "
                                 "token (printf %%s TOKEN | sha256sum)",
                                 key->str);
    }
    const struct ts_ynode *v[4];
    int rc = ts_yconf_check_keys(&l->y, n, "a token", keys, 4, v);
    if (rc)
        return rc;
    const struct ts_ynode *name = v[0], *sha = v[1], *role = v[2], *tenants = v[3];
    if (!name || !sha || !role || !tenants)
        return fail(l, n, "token: missing \"%s\"",
                    !name ? "name" : !sha ? "sha256" : !role ? "role" : "tenants");
    rc = scalar(l, name, "name");
    rc = rc ? rc : scalar(l, sha, "sha256");
    rc = rc ? rc : scalar(l, role, "role");
    if (rc)
        return rc;
    if (name->len == 0 || name->len > HTTP_TOKEN_NAME_MAX)
        return fail(l, name, "name: 1 to %d bytes", HTTP_TOKEN_NAME_MAX);
    for (size_t i = 0; i < name->len; i++)
        if (!name_char((unsigned char)name->str[i]))
            return fail(l, name, "name \"%s\": only A-Z a-z 0-9 . _ - : @", name->str);
    /* the hash may come from ${env:...} or ${file:...} (core/yconf.h) */
    char *res = NULL;
    size_t rlen = 0;
    if ((rc = ts_yconf_resolve(&l->y, sha, "sha256", 256, &res, &rlen)) != 0)
        return rc;
    const char *hs = res ? res : sha->str;
    size_t hl = res ? rlen : sha->len;
    if (hl != 64) {
        ts_yconf_resolved_free(res, rlen);
        return fail(l, sha, "sha256: expected 64 hex digits (printf %%s TOKEN | sha256sum), "
                            "found %zu characters", hl);
    }
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(hs[2 * i]), lo = hexval(hs[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            ts_yconf_resolved_free(res, rlen);
            return fail(l, sha, "sha256: character %zu is not a hex digit", 2 * i + (hi >= 0) + 1);
        }
        k->sha256[i] = (uint8_t)(hi << 4 | lo);
    }
    ts_yconf_resolved_free(res, rlen);
    if (http_role_parse(role->str, &k->role) != 0)
        return fail(l, role, "role \"%s\": expected viewer, analyst or admin", role->str);
    if (!(k->name = strdup(name->str)))
        return TS_E_NOMEM;
    if ((rc = load_tenants(l, k, tenants)) != 0)
        return rc;
    for (size_t i = 0; i + 1 < l->t->n; i++) {
        const struct http_token *o = &l->t->v[i];
        if (!strcmp(o->name, k->name))
            return fail(l, name, "duplicate token name \"%s\"", k->name);
        if (!memcmp(o->sha256, k->sha256, 32))
            return fail(l, sha, "token \"%s\" has the same sha256 as \"%s\"", k->name, o->name);
    }
    return 0;
}

static void free_table(struct http_tokens *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        struct http_token *k = &t->v[i];
        free(k->name);
        for (size_t j = 0; j < k->ntenants; j++)
            free(k->tenants[j]);
        free(k->tenants);
    }
    free(t->v);
    free(t);
}

static int load_stream(struct load *l, const struct ts_ystream *ys)
{
    if (ys->ndocs != 1 || !ys->docs[0].root)
        return fail(l, NULL, "expected one YAML document with a \"tokens\" list");
    const struct ts_ynode *root = ys->docs[0].root;
    if (root->kind != TS_Y_MAP)
        return fail(l, root, "expected a mapping with a \"tokens\" list, found %s",
                    ts_yaml_kind_name(root));
    const struct ts_ynode *list = NULL;
    static const char *const top[] = {"tokens"};
    int rc = ts_yconf_check_keys(&l->y, root, "the tokens file", top, 1, &list);
    if (rc)
        return rc;
    if (!list)
        return fail(l, root, "missing \"tokens\"");
    if (list->kind != TS_Y_SEQ && !ts_yaml_is_null(list))
        return fail(l, list, "tokens: expected a list, found %s", ts_yaml_kind_name(list));
    size_t n = list->kind == TS_Y_SEQ ? list->nitems : 0;
    if (n > HTTP_TOKENS_MAX)
        return fail(l, list, "tokens: more than %d", HTTP_TOKENS_MAX);
    if (n && !(l->t->v = calloc(n, sizeof(*l->t->v))))
        return TS_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        l->t->n = i + 1;
        rc = load_token(l, &l->t->v[i], list->items[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int finish(struct load *l, struct ts_ystream *ys, int rc, struct http_tokens **out)
{
    if (!rc)
        rc = load_stream(l, ys);
    ts_yaml_free(ys);
    if (rc) {
        if (rc == TS_E_NOMEM)
            ts_yconf_nomem(&l->y);
        free_table(l->t);
        return rc;
    }
    atomic_init(&l->t->refs, 1u);
    *out = l->t;
    return 0;
}

int http_tokens_load_buffer(const char *name, const char *buf, size_t len,
                            struct http_tokens **out, struct ts_err *err)
{
    *out = NULL;
    struct load l = {{name, err, NULL, "the tokens"}, calloc(1, sizeof(struct http_tokens))};
    if (!l.t)
        return TS_E_NOMEM;
    if (len > HTTP_TOKENS_FILE_MAX) {
        free(l.t);
        return ts_err_set(err, TS_E_LIMIT, name, 0, 0, "larger than %u bytes",
                          HTTP_TOKENS_FILE_MAX);
    }
    struct ts_ystream *ys = NULL;
    int rc = ts_yaml_load_buffer(name, buf, len, &ys, err);
    return finish(&l, ys, rc, out);
}

int http_tokens_load(const char *path, struct http_tokens **out, struct ts_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ts_err_set(err, TS_E_IO, path, 0, 0, "cannot open the tokens file: %s",
                          strerror(errno));
    /* who can read the hashes can try tokens offline; who can write the
     * file can add an admin token */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0026)) {
        fclose(f);
        return ts_err_set(err, TS_E_CONFIG, path, 0, 0,
                          "the tokens file is %s (mode %04o): chmod 600 %s (or 640 with the "
                          "service's group as owner)",
                          (st.st_mode & 0022) ? "writable by others than its owner"
                                              : "readable by every user",
                          (unsigned)(st.st_mode & 07777), path);
    }
    char *buf = malloc(HTTP_TOKENS_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, HTTP_TOKENS_FILE_MAX + 1, f) : 0;
    bool bad = ferror(f);
    fclose(f);
    if (!buf)
        return TS_E_NOMEM;
    int rc;
    if (bad)
        rc = ts_err_set(err, TS_E_IO, path, 0, 0, "cannot read the tokens file");
    else
        rc = http_tokens_load_buffer(path, buf, n, out, err);
    free(buf);
    return rc;
}

void http_tokens_ref(struct http_tokens *t)
{
    atomic_fetch_add(&t->refs, 1u);
}

void http_tokens_unref(struct http_tokens *t)
{
    if (t && atomic_fetch_sub(&t->refs, 1u) == 1u)
        free_table(t);
}

/* ----------------------------------------------------------------- lookup */

const struct http_token *http_tokens_find(const struct http_tokens *t, const char *presented,
                                          size_t len)
{
    if (!t || !presented || len == 0 || len > HTTP_TOKEN_LEN_MAX)
        return NULL;
    uint8_t h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)presented, len, h);
    /* every entry is compared; the match is selected without a branch on
     * the comparison's outcome */
    uintptr_t found = 0;
    for (size_t i = 0; i < t->n; i++) {
        uintptr_t eq = (uintptr_t)(CRYPTO_memcmp(h, t->v[i].sha256, sizeof(h)) == 0);
        found |= (uintptr_t)&t->v[i] & ((uintptr_t)0 - eq);
    }
    OPENSSL_cleanse(h, sizeof(h));
    return (const struct http_token *)found;
}

bool http_token_tenant_ok(const struct http_token *k, const char *tenant)
{
    if (!k)
        return false;
    if (k->all_tenants)
        return true;
    for (size_t i = 0; i < k->ntenants; i++)
        if (!strcmp(k->tenants[i], tenant ? tenant : ""))
            return true;
    return false;
}

const char *http_bearer(const char *h, size_t *len)
{
    if (!h || strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return NULL;
    const char *p = h + 7;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == 0 || n > HTTP_TOKEN_LEN_MAX)
        return NULL;
    *len = n;
    return p;
}
