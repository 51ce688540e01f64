/* intel_load.c - `tocsin intel load`: import threat-intel indicators from CSV,
 * MISP event JSON or STIX 2.1 bundles (detected from content, docs/intel.md)
 * into the LMDB environment described in intel.c.
 *
 * One write transaction per file: the indicators, the prefix-length set and
 * the rebuilt Bloom filter are committed together, so readers (the enricher,
 * one read transaction per batch) see either the old or the new database.
 * The file is read whole (capped at INTEL_MAX_FILE); JSON is parsed with
 * jansson, whose errors are reported as file:line:col. Not thread-safe per
 * environment: LMDB serialises writers across processes.
 */
#include <errno.h>
#include <jansson.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../core/tstime.h"
#include "enrich.h"
#include "enrich_int.h"

#define INTEL_MAX_FILE ((size_t)1 << 30)
#define INTEL_MAX_KEYS ((uint64_t)50 * 1000 * 1000) /* all indicators of a database */
#define CSV_MAX_FIELDS 16
#define CSV_MAX_RECORD (64u << 10)
#define STIX_MAX_CMP INGEST_INTEL_STIX_MAX_CMP
#define STIX_MAX_VALUE 2048
#define STIX_MAX_IDENTITIES 4096

/* Implemented in intel.c next to the reader. */
size_t enrich_intel_bloom_size(uint64_t nkeys);
void enrich_intel_bloom_add(uint8_t *bloom, size_t len, int dbi, const void *key, size_t klen);

enum hint { H_AUTO, H_IP, H_DOMAIN, H_URL, H_HASH, H_MD5, H_SHA1, H_SHA256 };

struct loader {
    const char *file;
    struct ts_err *err;
    struct enrich_intel_load_stats *st;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi[INGEST_IDB_COUNT];
    const char *source_override;
    int64_t now_s;
};

/* --------------------------------------------------------------- helpers */

/* Count one (*n) and keep the first one's reason as "file:msg" in first. */
static void note_first(const struct loader *l, uint64_t *n, char *first, size_t cap,
                       const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void note_first(const struct loader *l, uint64_t *n, char *first, size_t cap,
                       const char *fmt, va_list ap)
{
    (*n)++;
    if (first[0])
        return;
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    snprintf(first, cap, "%s:%s", l->file, msg);
}

/* An indicator left out: counted, the first one's reason kept. */
static void skip(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void skip(struct loader *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    note_first(l, &l->st->skipped, l->st->first_skip, sizeof(l->st->first_skip), fmt, ap);
    va_end(ap);
}

/* An indicator imported only in part: counted, the first one's reason kept. */
static void warn(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct loader *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    note_first(l, &l->st->warnings, l->st->first_warning, sizeof(l->st->first_warning), fmt, ap);
    va_end(ap);
}

static int lmdb_fail(struct loader *l, int rc, const char *what)
{
    return ts_err_set(l->err, rc == MDB_MAP_FULL ? TS_E_LIMIT : TS_E_STORE, l->file, 0, 0,
                      "%s: %s", what, mdb_strerror(rc));
}

/* Seconds since the epoch: digits, "YYYY-MM-DD" or RFC 3339. 0 = empty. */
static int parse_time(const char *s, size_t len, int64_t *out)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    *out = 0;
    if (len == 0)
        return 0;
    bool digits = true;
    for (size_t i = 0; i < len; i++)
        digits = digits && s[i] >= '0' && s[i] <= '9';
    if (digits) {
        if (len > 12)
            return TS_E_PARSE;
        int64_t v = 0;
        for (size_t i = 0; i < len; i++)
            v = v * 10 + (s[i] - '0');
        *out = v;
        return 0;
    }
    char buf[64];
    if (len == 10 && s[4] == '-' && s[7] == '-') {
        memcpy(buf, s, 10);
        memcpy(buf + 10, "T00:00:00Z", 10);
        s = buf;
        len = 20;
    }
    int64_t ns;
    size_t used;
    if (ts_parse_iso8601(s, len, 0, &ns, &used) || used != len)
        return TS_E_PARSE;
    *out = ns / TS_NS_PER_SEC;
    if (*out == 0)
        *out = 1; /* 0 means "no expiry" */
    return 0;
}

/* 0..100, "high"/"medium"/"low"; empty = default. */
static int parse_confidence(const char *s, size_t len, int *out)
{
    *out = INGEST_INTEL_DEFAULT_CONFIDENCE;
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0)
        return 0;
    if (len == 4 && strncasecmp(s, "high", 4) == 0)
        return *out = 85, 0;
    if (len == 6 && strncasecmp(s, "medium", 6) == 0)
        return *out = 50, 0;
    if (len == 3 && strncasecmp(s, "low", 3) == 0)
        return *out = 15, 0;
    if (len > 3)
        return TS_E_PARSE;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return TS_E_PARSE;
        v = v * 10 + (s[i] - '0');
    }
    if (v > 100)
        return TS_E_PARSE;
    *out = v;
    return 0;
}

/* --------------------------------------------------------------- storing */

/* Store one indicator. Returns 0 (stored or skipped; where = "12" or
 * "Attribute 3" for the skip reason), or a negative error that aborts the
 * file (LMDB failure). */
static int put(struct loader *l, enum hint h, const char *v, size_t len, int confidence,
               int64_t valid_until, const char *src, size_t srclen, const char *where)
{
    while (len && (*v == ' ' || *v == '\t' || *v == '"')) {
        v++;
        len--;
    }
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t' || v[len - 1] == '\r' ||
                   v[len - 1] == '"'))
        len--;
    if (len == 0) {
        skip(l, "%s: empty indicator", where);
        return 0;
    }
    uint8_t key[INGEST_INTEL_MAX_KEY];
    size_t kl = 0;
    int dbi = -1, type = 0;
    struct ts_ip net;
    unsigned plen;
    if ((h == H_AUTO || h == H_IP || h == H_DOMAIN) &&
        enrich_cidr_parse(v, len, false, &net, &plen) == 0) {
        enrich_ip_unmap(&net);
        if (net.family == 4 && plen > 32)
            plen -= 96; /* ::ffff:a.b.c.d/n */
        if (plen == 0) {
            skip(l, "%s: network %.*s is too broad", where, (int)(len > 60 ? 60 : len), v);
            return 0;
        }
        kl = enrich_intel_key_net(&net, plen, key);
        dbi = INGEST_IDB_NET;
        type = plen == (net.family == 6 ? 128u : 32u) ? INGEST_IOC_IP : INGEST_IOC_CIDR;
    } else if (h == H_IP) {
        skip(l, "%s: not an IP address or CIDR: %.*s", where, (int)(len > 60 ? 60 : len), v);
        return 0;
    } else if (h == H_AUTO || h == H_HASH || h == H_MD5 || h == H_SHA1 || h == H_SHA256) {
        kl = enrich_intel_key_hash(v, len, key, sizeof(key));
        size_t want = h == H_MD5 ? 16 : h == H_SHA1 ? 20 : h == H_SHA256 ? 32 : 0;
        if (kl && want && kl != want)
            kl = 0;
        if (kl) {
            dbi = INGEST_IDB_HASH;
            type = kl == 16 ? INGEST_IOC_MD5 : kl == 20 ? INGEST_IOC_SHA1 : INGEST_IOC_SHA256;
        } else if (h != H_AUTO) {
            skip(l, "%s: not a%s hash: %.*s", where,
                 h == H_MD5 ? "n MD5" : h == H_SHA1 ? " SHA-1" : h == H_SHA256 ? " SHA-256" : "",
                 (int)(len > 70 ? 70 : len), v);
            return 0;
        }
    }
    if (dbi < 0 && (h == H_URL || (h == H_AUTO && memmem(v, len, "://", 3)))) {
        kl = enrich_intel_key_url(v, len, (char *)key, sizeof(key));
        if (!kl) {
            skip(l, "%s: not a URL (or longer than %d bytes): %.*s", where, INGEST_INTEL_MAX_KEY,
                 (int)(len > 60 ? 60 : len), v);
            return 0;
        }
        dbi = INGEST_IDB_URL;
        type = INGEST_IOC_URL;
    }
    if (dbi < 0 && (h == H_AUTO || h == H_DOMAIN)) {
        kl = enrich_intel_key_domain(v, len, (char *)key, sizeof(key));
        if (!kl || (h == H_AUTO && !memchr(key, '.', kl))) {
            skip(l, "%s: not an IP, CIDR, domain, URL or hash: %.*s", where,
                 (int)(len > 60 ? 60 : len), v);
            return 0;
        }
        dbi = INGEST_IDB_DOMAIN;
        type = INGEST_IOC_DOMAIN;
    }
    if (dbi < 0) {
        skip(l, "%s: not an indicator: %.*s", where, (int)(len > 60 ? 60 : len), v);
        return 0;
    }
    struct enrich_ioc ioc = {.type = (uint8_t)type,
                             .confidence = (uint8_t)confidence,
                             .valid_until = valid_until,
                             .source = src,
                             .source_len = srclen};
    uint8_t rec[INGEST_IOC_HDR + INGEST_INTEL_MAX_SOURCE];
    size_t rl = enrich_ioc_encode(&ioc, rec, sizeof(rec));
    MDB_val k = {.mv_size = kl, .mv_data = key}, d = {.mv_size = rl, .mv_data = rec};
    int rc = mdb_put(l->txn, l->dbi[dbi], &k, &d, 0);
    if (rc)
        return lmdb_fail(l, rc, "storing an indicator");
    struct enrich_intel_load_stats *st = l->st;
    st->indicators++;
    switch (type) {
    case INGEST_IOC_IP: st->ips++; break;
    case INGEST_IOC_CIDR: st->cidrs++; break;
    case INGEST_IOC_DOMAIN: st->domains++; break;
    case INGEST_IOC_URL: st->urls++; break;
    default: st->hashes++; break;
    }
    if (valid_until && valid_until < l->now_s)
        st->expired++;
    return 0;
}

static enum hint hint_from_name(const char *s, size_t len, bool *known)
{
    static const struct {
        const char *name;
        enum hint h;
    } names[] = {
        {"", H_AUTO},          {"auto", H_AUTO},        {"ip", H_IP},
        {"ipv4", H_IP},        {"ipv6", H_IP},          {"ip-src", H_IP},
        {"ip-dst", H_IP},      {"ipv4-addr", H_IP},     {"ipv6-addr", H_IP},
        {"cidr", H_IP},        {"net", H_IP},           {"network", H_IP},
        {"domain", H_DOMAIN},  {"hostname", H_DOMAIN},  {"fqdn", H_DOMAIN},
        {"domain-name", H_DOMAIN}, {"url", H_URL},      {"hash", H_HASH},
        {"md5", H_MD5},        {"sha1", H_SHA1},        {"sha-1", H_SHA1},
        {"sha256", H_SHA256},  {"sha-256", H_SHA256},
    };
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    *known = true;
    for (size_t i = 0; i < TS_ARRAY_LEN(names); i++)
        if (strlen(names[i].name) == len && strncasecmp(names[i].name, s, len) == 0)
            return names[i].h;
    *known = false;
    return H_AUTO;
}

/* ------------------------------------------------------------------- CSV */

struct csv_field {
    const char *s;
    size_t len;
};

/* One record from *pos: fields point into buf or into scratch (unquoted
 * copies). Returns 1 with a record, 0 at the end, -1 for a record too long or
 * an unterminated quote (then *pos is past it). *line counts newlines. */
static int csv_record(const char *buf, size_t len, size_t *pos, char *scratch,
                      struct csv_field *f, unsigned *nf, unsigned *line)
{
    size_t p = *pos, sc = 0;
    *nf = 0;
    if (p >= len)
        return 0;
    for (;;) {
        size_t start = p;
        struct csv_field fld;
        if (p < len && buf[p] == '"') {
            size_t s0 = sc;
            p++;
            for (;;) {
                if (p >= len) {
                    *pos = len;
                    return -1;
                }
                if (buf[p] == '"') {
                    if (p + 1 < len && buf[p + 1] == '"') {
                        p += 2;
                        if (sc >= CSV_MAX_RECORD)
                            return *pos = p, -1;
                        scratch[sc++] = '"';
                        continue;
                    }
                    p++;
                    break;
                }
                if (buf[p] == '\n')
                    (*line)++;
                if (sc >= CSV_MAX_RECORD)
                    return *pos = p, -1;
                scratch[sc++] = buf[p++];
            }
            fld.s = scratch + s0;
            fld.len = sc - s0;
            while (p < len && buf[p] != ',' && buf[p] != '\n')
                p++; /* junk after the closing quote is dropped */
        } else {
            while (p < len && buf[p] != ',' && buf[p] != '\n')
                p++;
            fld.s = buf + start;
            fld.len = p - start;
            if (fld.len && fld.s[fld.len - 1] == '\r')
                fld.len--;
        }
        if (*nf < CSV_MAX_FIELDS)
            f[(*nf)++] = fld;
        if (p >= len || buf[p] == '\n') {
            if (p < len)
                (*line)++;
            *pos = p + 1;
            return 1;
        }
        p++; /* ',' */
    }
}

enum col { C_VALUE, C_TYPE, C_CONFIDENCE, C_VALID_UNTIL, C_SOURCE, C_COUNT };

static int col_from_header(const char *s, size_t len)
{
    static const struct {
        const char *name;
        int col;
    } names[] = {{"value", C_VALUE},         {"indicator", C_VALUE},   {"ioc", C_VALUE},
                 {"type", C_TYPE},           {"confidence", C_CONFIDENCE},
                 {"valid_until", C_VALID_UNTIL}, {"expires", C_VALID_UNTIL},
                 {"expiry", C_VALID_UNTIL},  {"expiration", C_VALID_UNTIL},
                 {"source", C_SOURCE}};
    while (len && (*s == ' ' || *s == '#' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\r'))
        len--;
    for (size_t i = 0; i < TS_ARRAY_LEN(names); i++)
        if (strlen(names[i].name) == len && strncasecmp(names[i].name, s, len) == 0)
            return names[i].col;
    return -1;
}

static int load_csv(struct loader *l, const char *buf, size_t len, const char *def_src)
{
    char *scratch = malloc(CSV_MAX_RECORD + 1);
    if (!scratch)
        return ts_err_set(l->err, TS_E_NOMEM, l->file, 0, 0, "out of memory");
    int cols[C_COUNT] = {0, 1, 2, 3, 4}; /* without a header */
    bool first = true;
    size_t pos = 0;
    unsigned line = 1;
    int rc = 0;
    for (;;) {
        struct csv_field f[CSV_MAX_FIELDS];
        unsigned nf, at = line;
        int r = csv_record(buf, len, &pos, scratch, f, &nf, &line);
        if (r == 0)
            break;
        char where[32];
        snprintf(where, sizeof(where), "%u", at);
        if (r < 0) {
            skip(l, "%s: record too long or unterminated quote", where);
            continue;
        }
        if (nf == 0 || (nf == 1 && f[0].len == 0))
            continue;
        const char *v0 = f[0].s;
        size_t v0l = f[0].len;
        while (v0l && (*v0 == ' ' || *v0 == '\t')) {
            v0++;
            v0l--;
        }
        if (first) {
            /* the first record that is not a comment may be a header
             * (also when written as a comment: "#value,type,...") */
            if (col_from_header(v0, v0l) < 0 && v0l && v0[0] == '#')
                continue;
            first = false;
            if (col_from_header(v0, v0l) >= 0) {
                for (int c = 0; c < C_COUNT; c++)
                    cols[c] = -1;
                for (unsigned i = 0; i < nf; i++) {
                    int c = col_from_header(f[i].s, f[i].len);
                    if (c >= 0 && cols[c] < 0)
                        cols[c] = (int)i;
                }
                if (cols[C_VALUE] < 0) {
                    rc = ts_err_set(l->err, TS_E_PARSE, l->file, at, 1,
                                    "CSV header without a value (or indicator) column");
                    break;
                }
                continue;
            }
        }
        if (v0l == 0 || v0[0] == '#')
            continue; /* comment */
#define COL(c) (cols[c] >= 0 && (unsigned)cols[c] < nf ? f[cols[c]] : (struct csv_field){"", 0})
        struct csv_field fv = COL(C_VALUE), ft = COL(C_TYPE), fc = COL(C_CONFIDENCE),
                         fu = COL(C_VALID_UNTIL), fs = COL(C_SOURCE);
#undef COL
        bool known;
        enum hint h = hint_from_name(ft.s, ft.len, &known);
        if (!known) {
            skip(l, "%s: unknown indicator type \"%.*s\"", where, (int)(ft.len > 40 ? 40 : ft.len),
                 ft.s);
            continue;
        }
        int conf;
        if (parse_confidence(fc.s, fc.len, &conf)) {
            skip(l, "%s: confidence must be 0 to 100 (or high, medium, low)", where);
            continue;
        }
        int64_t until;
        if (parse_time(fu.s, fu.len, &until)) {
            skip(l, "%s: valid_until must be a date, RFC 3339 time or epoch seconds", where);
            continue;
        }
        const char *src = def_src;
        size_t srclen = strlen(def_src);
        if (!l->source_override && fs.len) {
            src = fs.s;
            srclen = fs.len;
        }
        if ((rc = put(l, h, fv.s, fv.len, conf, until, src, srclen, where)))
            break;
    }
    free(scratch);
    return rc;
}

/* ------------------------------------------------------------------ MISP */

static const char *jstr(const json_t *o, const char *key, size_t *len)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return NULL;
    if (len)
        *len = json_string_length(v);
    return json_string_value(v);
}

static bool misp_truthy(const json_t *v, bool dflt)
{
    if (!v)
        return dflt;
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        return !(strcmp(s, "0") == 0 || strcasecmp(s, "false") == 0);
    }
    return dflt;
}

static int misp_attribute(struct loader *l, const json_t *a, int conf, const char *src,
                          size_t srclen, size_t n)
{
    char where[48];
    snprintf(where, sizeof(where), " Attribute %zu", n);
    size_t tl = 0, vl = 0;
    const char *type = jstr(a, "type", &tl), *value = jstr(a, "value", &vl);
    if (!type || !value) {
        skip(l, "%s: no type or value", where);
        return 0;
    }
    if (misp_truthy(json_object_get(a, "deleted"), false)) {
        skip(l, "%s: deleted", where);
        return 0;
    }
    if (!misp_truthy(json_object_get(a, "to_ids"), true)) {
        skip(l, "%s (%s): to_ids is false", where, type);
        return 0;
    }
    const char *bar = memchr(value, '|', vl);
    size_t left = bar ? (size_t)(bar - value) : vl;
    const char *right = bar ? bar + 1 : value + vl;
    size_t rl = bar ? vl - left - 1 : 0;
    static const struct {
        const char *t;
        enum hint h;
        int part; /* 0 whole, 1 left of '|', 2 right of '|' */
    } map[] = {
        {"ip-src", H_IP, 0},         {"ip-dst", H_IP, 0},        {"ip-src|port", H_IP, 1},
        {"ip-dst|port", H_IP, 1},    {"domain", H_DOMAIN, 0},    {"hostname", H_DOMAIN, 0},
        {"hostname|port", H_DOMAIN, 1}, {"url", H_URL, 0},       {"md5", H_MD5, 0},
        {"sha1", H_SHA1, 0},         {"sha256", H_SHA256, 0},    {"filename|md5", H_MD5, 2},
        {"filename|sha1", H_SHA1, 2}, {"filename|sha256", H_SHA256, 2},
    };
    if (strcmp(type, "domain|ip") == 0) {
        int rc = put(l, H_DOMAIN, value, left, conf, 0, src, srclen, where);
        if (!rc && bar)
            rc = put(l, H_IP, right, rl, conf, 0, src, srclen, where);
        return rc;
    }
    for (size_t i = 0; i < TS_ARRAY_LEN(map); i++) {
        if (strcmp(type, map[i].t) != 0)
            continue;
        if (map[i].part && !bar) {
            skip(l, "%s (%s): value without '|'", where, type);
            return 0;
        }
        const char *v = map[i].part == 2 ? right : value;
        size_t len = map[i].part == 0 ? vl : map[i].part == 1 ? left : rl;
        return put(l, map[i].h, v, len, conf, 0, src, srclen, where);
    }
    skip(l, "%s: type %s is not an indicator type we store", where, type);
    return 0;
}

static int misp_event(struct loader *l, const json_t *ev, size_t *nattr)
{
    const char *src = l->source_override;
    size_t srclen = src ? strlen(src) : 0;
    if (!src) {
        const json_t *org = json_object_get(ev, "Orgc");
        if (!org)
            org = json_object_get(ev, "Org");
        src = jstr(org, "name", &srclen);
    }
    if (!src) {
        src = "misp";
        srclen = 4;
    }
    int conf = INGEST_INTEL_DEFAULT_CONFIDENCE;
    const json_t *tl = json_object_get(ev, "threat_level_id");
    long lvl = json_is_integer(tl)  ? (long)json_integer_value(tl)
               : json_is_string(tl) ? strtol(json_string_value(tl), NULL, 10)
                                    : 4;
    conf = lvl == 1 ? 85 : lvl == 2 ? 60 : lvl == 3 ? 35 : INGEST_INTEL_DEFAULT_CONFIDENCE;
    int rc;
    const json_t *attrs = json_object_get(ev, "Attribute");
    size_t i;
    json_t *a;
    if (json_is_array(attrs))
        json_array_foreach(attrs, i, a)
            if ((rc = misp_attribute(l, a, conf, src, srclen, ++*nattr)))
                return rc;
    const json_t *objs = json_object_get(ev, "Object");
    json_t *o;
    size_t j;
    if (json_is_array(objs))
        json_array_foreach(objs, j, o)
        {
            const json_t *oa = json_object_get(o, "Attribute");
            if (!json_is_array(oa))
                continue;
            json_array_foreach(oa, i, a)
                if ((rc = misp_attribute(l, a, conf, src, srclen, ++*nattr)))
                    return rc;
        }
    return 0;
}

/* ------------------------------------------------------------------ STIX */

struct stix_cmp {
    char path[64];
    char value[STIX_MAX_VALUE];
    size_t vlen;
};

struct pat {
    const char *s;
    size_t len, p;
};

static void pws(struct pat *t)
{
    while (t->p < t->len && (t->s[t->p] == ' ' || t->s[t->p] == '\t' || t->s[t->p] == '\n' ||
                             t->s[t->p] == '\r'))
        t->p++;
}

static bool pword(struct pat *t, const char *w)
{
    size_t n = strlen(w);
    if (t->p + n <= t->len && strncmp(t->s + t->p, w, n) == 0 &&
        (t->p + n == t->len || t->s[t->p + n] == ' ' || t->s[t->p + n] == '[' ||
         t->s[t->p + n] == '(')) {
        t->p += n;
        return true;
    }
    return false;
}

/* Parse "[a = 'x' OR b = 'y'] OR [c = 'z']". Returns the number of
 * comparisons kept in cmp (the first max), or -1 (unsupported: AND,
 * FOLLOWEDBY, qualifiers, other operators) / -2 (syntax); *total is the
 * number of comparisons in the pattern, so total - kept were left out. */
static int stix_parse(const char *s, size_t len, struct stix_cmp *cmp, size_t max, size_t *total)
{
    struct pat t = {s, len, 0};
    size_t n = 0;
    *total = 0;
    for (;;) {
        pws(&t);
        while (t.p < len && s[t.p] == '(') {
            t.p++;
            pws(&t);
        }
        if (t.p >= len || s[t.p] != '[')
            return -2;
        t.p++;
        for (;;) {
            pws(&t);
            while (t.p < len && s[t.p] == '(') {
                t.p++;
                pws(&t);
            }
            /* object path, with quoted parts like hashes.'SHA-256' */
            size_t pl = 0;
            bool inq = false;
            char path[64];
            while (t.p < len && (inq || (s[t.p] != ' ' && s[t.p] != '=' && s[t.p] != '!' &&
                                         s[t.p] != '<' && s[t.p] != '>'))) {
                if (s[t.p] == '\'')
                    inq = !inq;
                if (pl + 1 >= sizeof(path))
                    return -2;
                path[pl++] = s[t.p++];
            }
            path[pl] = '\0';
            pws(&t);
            if (t.p >= len || s[t.p] != '=')
                return -1; /* !=, <, >, LIKE, MATCHES, IN, ISSUBSET ... */
            t.p++;
            pws(&t);
            if (t.p >= len || s[t.p] != '\'')
                return -1; /* not a string literal */
            t.p++;
            size_t vl = 0;
            char val[STIX_MAX_VALUE];
            for (;;) {
                if (t.p >= len)
                    return -2;
                char c = s[t.p++];
                if (c == '\\' && t.p < len)
                    c = s[t.p++];
                else if (c == '\'')
                    break;
                if (vl + 1 >= sizeof(val))
                    return -2;
                val[vl++] = c;
            }
            ++*total;
            if (n < max) {
                memcpy(cmp[n].path, path, pl + 1);
                memcpy(cmp[n].value, val, vl);
                cmp[n].vlen = vl;
                n++;
            }
            pws(&t);
            while (t.p < len && s[t.p] == ')') {
                t.p++;
                pws(&t);
            }
            if (t.p < len && s[t.p] == ']') {
                t.p++;
                break;
            }
            if (pword(&t, "OR"))
                continue;
            return pword(&t, "AND") ? -1 : -2;
        }
        pws(&t);
        while (t.p < len && s[t.p] == ')') {
            t.p++;
            pws(&t);
        }
        if (t.p >= len)
            return (int)n;
        if (pword(&t, "OR"))
            continue;
        return -1; /* AND, FOLLOWEDBY, WITHIN, REPEATS, START/STOP */
    }
}

static bool stix_hint(const char *path, enum hint *h)
{
    if (!strcmp(path, "ipv4-addr:value") || !strcmp(path, "ipv6-addr:value"))
        return *h = H_IP, true;
    if (!strcmp(path, "domain-name:value"))
        return *h = H_DOMAIN, true;
    if (!strcmp(path, "url:value"))
        return *h = H_URL, true;
    if (!strcmp(path, "network-traffic:dst_ref.value") ||
        !strcmp(path, "network-traffic:src_ref.value"))
        return *h = H_AUTO, true;
    if (!strncmp(path, "file:hashes.", 12)) {
        char a[16];
        size_t n = 0;
        for (const char *p = path + 12; *p && n + 1 < sizeof(a); p++)
            if (*p != '\'' && *p != '-')
                a[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        a[n] = '\0';
        if (!strcmp(a, "md5"))
            return *h = H_MD5, true;
        if (!strcmp(a, "sha1"))
            return *h = H_SHA1, true;
        if (!strcmp(a, "sha256"))
            return *h = H_SHA256, true;
    }
    return false;
}

struct identity {
    const char *id, *name;
};

static int stix_indicator(struct loader *l, const json_t *o, const struct identity *ids,
                          size_t nids, struct stix_cmp *cmp)
{
    const char *id = jstr(o, "id", NULL);
    char where[160];
    snprintf(where, sizeof(where), " %s", id ? id : "indicator without id");
    if (misp_truthy(json_object_get(o, "revoked"), false)) {
        skip(l, "%s: revoked", where);
        return 0;
    }
    const char *ptype = jstr(o, "pattern_type", NULL);
    if (ptype && strcmp(ptype, "stix") != 0) {
        skip(l, "%s: pattern_type %s (only stix patterns are read)", where, ptype);
        return 0;
    }
    size_t plen = 0;
    const char *pattern = jstr(o, "pattern", &plen);
    if (!pattern) {
        skip(l, "%s: no pattern", where);
        return 0;
    }
    int conf = INGEST_INTEL_DEFAULT_CONFIDENCE;
    const json_t *c = json_object_get(o, "confidence");
    if (json_is_integer(c) && json_integer_value(c) >= 0 && json_integer_value(c) <= 100)
        conf = (int)json_integer_value(c);
    int64_t until = 0;
    size_t ul = 0;
    const char *vu = jstr(o, "valid_until", &ul);
    if (vu && parse_time(vu, ul, &until)) {
        skip(l, "%s: valid_until is not an RFC 3339 time", where);
        return 0;
    }
    const char *src = l->source_override;
    if (!src) {
        const char *by = jstr(o, "created_by_ref", NULL);
        for (size_t i = 0; by && i < nids; i++)
            if (!strcmp(ids[i].id, by))
                src = ids[i].name;
    }
    if (!src)
        src = "stix";
    size_t total = 0;
    int n = stix_parse(pattern, plen, cmp, STIX_MAX_CMP, &total);
    if (n < 0) {
        skip(l, "%s: %s pattern: %.80s", where,
             n == -1 ? "unsupported (only comparisons with = joined by OR)" : "invalid",
             pattern);
        return 0;
    }
    if (total > (size_t)n) { /* OR-joined: the first ones still stand alone */
        l->st->stix_cmp_dropped += total - (size_t)n;
        warn(l, "%s: %d of %zu comparisons kept (at most %d per pattern)", where, n, total,
             STIX_MAX_CMP);
    }
    /* comparisons on other objects (email-addr, x509 ...) are left out; an
     * indicator with none we store is skipped as a whole */
    bool any = false;
    for (int i = 0; i < n; i++) {
        enum hint h;
        if (!stix_hint(cmp[i].path, &h))
            continue;
        any = true;
        int rc = put(l, h, cmp[i].value, cmp[i].vlen, conf, until, src, strlen(src), where);
        if (rc)
            return rc;
    }
    if (!any)
        skip(l, "%s: no supported object path in %.80s", where, pattern);
    return 0;
}

static int load_stix(struct loader *l, const json_t *root)
{
    const json_t *objs = json_object_get(root, "objects");
    json_t *single[1] = {(json_t *)root};
    size_t nobj = json_is_array(objs) ? json_array_size(objs) : 1;
    struct identity *ids = calloc(STIX_MAX_IDENTITIES, sizeof(*ids));
    struct stix_cmp *cmp = malloc(STIX_MAX_CMP * sizeof(*cmp));
    if (!ids || !cmp) {
        free(ids);
        free(cmp);
        return ts_err_set(l->err, TS_E_NOMEM, l->file, 0, 0, "out of memory");
    }
    size_t nids = 0;
    for (size_t i = 0; i < nobj; i++) {
        const json_t *o = json_is_array(objs) ? json_array_get(objs, i) : single[0];
        const char *t = jstr(o, "type", NULL), *id = jstr(o, "id", NULL),
                   *name = jstr(o, "name", NULL);
        if (t && !strcmp(t, "identity") && id && name && nids < STIX_MAX_IDENTITIES)
            ids[nids++] = (struct identity){id, name};
    }
    int rc = 0;
    for (size_t i = 0; i < nobj && !rc; i++) {
        const json_t *o = json_is_array(objs) ? json_array_get(objs, i) : single[0];
        const char *t = jstr(o, "type", NULL);
        if (t && !strcmp(t, "indicator"))
            rc = stix_indicator(l, o, ids, nids, cmp);
    }
    free(ids);
    free(cmp);
    return rc;
}

/* ------------------------------------------------------------------ JSON */

static int load_json(struct loader *l, const char *buf, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, 0, &jerr);
    if (!root)
        return ts_err_set(l->err, TS_E_PARSE, l->file, jerr.line > 0 ? (unsigned)jerr.line : 0,
                          jerr.column > 0 ? (unsigned)jerr.column : 0, "invalid JSON: %s",
                          jerr.text);
    int rc = 0;
    const char *t = json_is_object(root) ? jstr(root, "type", NULL) : NULL;
    size_t nattr = 0;
    if (t && (!strcmp(t, "bundle") || !strcmp(t, "indicator"))) {
        rc = load_stix(l, root);
    } else if (json_is_object(root) && json_is_object(json_object_get(root, "Event"))) {
        rc = misp_event(l, json_object_get(root, "Event"), &nattr);
    } else if (json_is_array(root) || json_is_array(json_object_get(root, "response"))) {
        const json_t *arr = json_is_array(root) ? root : json_object_get(root, "response");
        size_t i;
        json_t *e;
        bool any = false;
        json_array_foreach(arr, i, e)
        {
            const json_t *ev = json_object_get(e, "Event");
            if (!json_is_object(ev))
                continue;
            any = true;
            if ((rc = misp_event(l, ev, &nattr)))
                break;
        }
        if (!rc && !any && json_array_size(arr) > 0)
            rc = ts_err_set(l->err, TS_E_PARSE, l->file, 1, 1,
                            "a JSON list without MISP events (objects with \"Event\")");
    } else {
        rc = ts_err_set(l->err, TS_E_PARSE, l->file, 1, 1,
                        "JSON that is neither a MISP event ({\"Event\": ...}) nor a STIX 2.1 "
                        "bundle ({\"type\": \"bundle\", ...})");
    }
    json_decref(root);
    return rc;
}

/* --------------------------------------------------------------- driver */

static int read_file(const char *path, char **out, size_t *len, struct ts_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ts_err_set(err, TS_E_IO, path, 0, 0, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (size_t)st.st_size > INTEL_MAX_FILE) {
        fclose(f);
        return ts_err_set(err, TS_E_LIMIT, path, 0, 0, "larger than %zu bytes (split it)",
                          INTEL_MAX_FILE);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return ts_err_set(err, TS_E_NOMEM, path, 0, 0, "out of memory reading the file");
    }
    size_t got = fread(buf, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(buf);
        return ts_err_set(err, TS_E_IO, path, 0, 0, "read error");
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

struct cidr {
    uint8_t start[16], end[16];
    uint8_t plen;
};

static int cidr_cmp(const void *a, const void *b)
{
    const struct cidr *x = a, *y = b;
    int c = memcmp(x->start, y->start, 16);
    if (c)
        return c;
    return (int)x->plen - (int)y->plen; /* outer first */
}

/* Rebuild meta "cidr4"/"cidr6" (intel.c describes them) from the net db. */
static int build_cidrs(struct loader *l)
{
    MDB_stat ms;
    int rc = mdb_stat(l->txn, l->dbi[INGEST_IDB_NET], &ms);
    if (rc)
        return lmdb_fail(l, rc, "counting networks");
    struct cidr *v[2] = {NULL, NULL};
    size_t n[2] = {0, 0};
    size_t cap = ms.ms_entries ? ms.ms_entries : 1;
    v[0] = malloc(cap * sizeof(struct cidr));
    v[1] = malloc(cap * sizeof(struct cidr));
    uint8_t *out = NULL;
    if (!v[0] || !v[1]) {
        rc = ts_err_set(l->err, TS_E_NOMEM, l->file, 0, 0, "out of memory (CIDR index)");
        goto done;
    }
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(l->txn, l->dbi[INGEST_IDB_NET], &cur))) {
        rc = lmdb_fail(l, rc, "reading networks");
        goto done;
    }
    MDB_val ck, cv;
    int r = mdb_cursor_get(cur, &ck, &cv, MDB_FIRST);
    while (r == 0) {
        const uint8_t *k = ck.mv_data;
        int f = ck.mv_size == 18 && k[0] == 6;
        unsigned full = f ? 128 : 32, alen = f ? 16 : 4;
        if ((ck.mv_size == 6 || ck.mv_size == 18) && k[1] < full && n[f] < cap) {
            struct cidr *c = &v[f][n[f]++];
            memset(c, 0, sizeof(*c));
            memcpy(c->start, k + 2, alen);
            memcpy(c->end, k + 2, alen);
            for (unsigned b = k[1]; b < full; b++)
                c->end[b / 8] |= (uint8_t)(0x80u >> (b % 8));
            c->plen = k[1];
        }
        r = mdb_cursor_get(cur, &ck, &cv, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (r != MDB_NOTFOUND) {
        rc = lmdb_fail(l, r, "reading networks");
        goto done;
    }
    for (int f = 0; f < 2 && !rc; f++) {
        size_t alen = f ? 16 : 4, esz = f ? INGEST_CIDR6_SIZE : INGEST_CIDR4_SIZE;
        qsort(v[f], n[f], sizeof(struct cidr), cidr_cmp);
        free(out);
        out = calloc(n[f] ? n[f] : 1, esz);
        int32_t *stack = malloc((n[f] ? n[f] : 1) * sizeof(int32_t));
        if (!out || !stack) {
            free(stack);
            rc = ts_err_set(l->err, TS_E_NOMEM, l->file, 0, 0, "out of memory (CIDR index)");
            break;
        }
        size_t sp = 0;
        for (size_t i = 0; i < n[f]; i++) {
            /* close the intervals that end before this one starts */
            while (sp && memcmp(v[f][stack[sp - 1]].end, v[f][i].start, alen) < 0)
                sp--;
            int32_t parent = sp ? stack[sp - 1] : -1;
            uint8_t *e = out + i * esz;
            memcpy(e, v[f][i].start, alen);
            memcpy(e + alen, v[f][i].end, alen);
            memcpy(e + 2 * alen, &parent, 4);
            e[2 * alen + 4] = v[f][i].plen;
            stack[sp++] = (int32_t)i;
        }
        free(stack);
        MDB_val k = {.mv_size = 5, .mv_data = f ? "cidr6" : "cidr4"},
                d = {.mv_size = n[f] * esz, .mv_data = out};
        if ((r = mdb_put(l->txn, l->dbi[INGEST_IDB_META], &k, &d, 0)))
            rc = lmdb_fail(l, r, "writing the CIDR index");
    }
done:
    free(out);
    free(v[0]);
    free(v[1]);
    return rc;
}

/* Rebuild the CIDR index and the Bloom filter over every key. */
static int finish(struct loader *l)
{
    MDB_dbi meta = l->dbi[INGEST_IDB_META];
    MDB_val k, v;
    int rc = build_cidrs(l);
    if (rc)
        return rc;
    uint64_t nkeys = 0;
    for (int d = 0; d < INGEST_IDB_META; d++) {
        MDB_stat ms;
        if ((rc = mdb_stat(l->txn, l->dbi[d], &ms)))
            return lmdb_fail(l, rc, "counting indicators");
        nkeys += ms.ms_entries;
    }
    if (nkeys > INTEL_MAX_KEYS)
        return ts_err_set(l->err, TS_E_LIMIT, l->file, 0, 0,
                          "the intel database would hold %llu indicators (at most %llu)",
                          (unsigned long long)nkeys, (unsigned long long)INTEL_MAX_KEYS);
    size_t blen = enrich_intel_bloom_size(nkeys);
    uint8_t *bloom = calloc(1, blen);
    if (!bloom)
        return ts_err_set(l->err, TS_E_NOMEM, l->file, 0, 0, "out of memory (Bloom filter)");
    for (int d = 0; d < INGEST_IDB_META && !rc; d++) {
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(l->txn, l->dbi[d], &cur)))
            break;
        MDB_val ck, cv;
        int r = mdb_cursor_get(cur, &ck, &cv, MDB_FIRST);
        while (r == 0) {
            enrich_intel_bloom_add(bloom, blen, d, ck.mv_data, ck.mv_size);
            r = mdb_cursor_get(cur, &ck, &cv, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        if (r != MDB_NOTFOUND)
            rc = r;
    }
    if (!rc) {
        if (nkeys == 0)
            enrich_intel_bloom_add(bloom, blen, 0, "", 0); /* writes the header */
        k = (MDB_val){.mv_size = 5, .mv_data = "bloom"};
        v = (MDB_val){.mv_size = blen, .mv_data = bloom};
        rc = mdb_put(l->txn, meta, &k, &v, 0);
    }
    free(bloom);
    return rc ? lmdb_fail(l, rc, "writing the Bloom filter") : 0;
}

static bool bad_source(const char *source_name)
{
    return source_name && (!*source_name || strlen(source_name) > INGEST_INTEL_MAX_SOURCE);
}

int enrich_intel_load_env(struct MDB_env *env, const char *file, const char *buf, size_t len,
                          const char *source_name, struct enrich_intel_load_stats *st,
                          struct ts_err *err)
{
    memset(st, 0, sizeof(*st));
    if (bad_source(source_name))
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "--source: 1 to %d bytes",
                          INGEST_INTEL_MAX_SOURCE);
    struct loader l = {.file = file, .err = err, .st = st, .env = env,
                       .source_override = source_name,
                       .now_s = ts_now_ns() / TS_NS_PER_SEC};
    int rc = 0, mrc = mdb_txn_begin(l.env, NULL, 0, &l.txn);
    for (int i = 0; i < INGEST_IDB_COUNT && !mrc; i++)
        mrc = mdb_dbi_open(l.txn, enrich_intel_db_names[i], MDB_CREATE, &l.dbi[i]);
    if (mrc) {
        const char *path = NULL;
        mdb_env_get_path(env, &path);
        rc = ts_err_set(err, TS_E_STORE, path, 0, 0, "cannot open the intel database: %s",
                        mdb_strerror(mrc));
        goto out;
    }
    /* the default source: the file's base name */
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    char def_src[INGEST_INTEL_MAX_SOURCE + 1];
    snprintf(def_src, sizeof(def_src), "%s", source_name ? source_name : base);
    size_t p = 0, q;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        p = 3; /* BOM */
    for (q = p; q < len && (buf[q] == ' ' || buf[q] == '\t' || buf[q] == '\r' || buf[q] == '\n');)
        q++;
    if (q < len && (buf[q] == '{' || buf[q] == '['))
        rc = load_json(&l, buf + p, len - p);
    else
        rc = load_csv(&l, buf + p, len - p, def_src);
    if (!rc)
        rc = finish(&l);
    if (!rc) {
        mrc = mdb_txn_commit(l.txn);
        l.txn = NULL;
        if (mrc)
            rc = lmdb_fail(&l, mrc, "committing");
    }
out:
    if (l.txn)
        mdb_txn_abort(l.txn);
    return rc;
}

int enrich_intel_load(const char *db_dir, const char *file, const char *source_name,
                      struct enrich_intel_load_stats *st, struct ts_err *err)
{
    memset(st, 0, sizeof(*st));
    if (bad_source(source_name))
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "--source: 1 to %d bytes",
                          INGEST_INTEL_MAX_SOURCE);
    char *buf = NULL;
    size_t len = 0;
    int rc = read_file(file, &buf, &len, err);
    if (rc)
        return rc;
    if (mkdir(db_dir, 0700) != 0 && errno != EEXIST) {
        rc = ts_err_set(err, TS_E_IO, db_dir, 0, 0, "cannot create the database directory: %s",
                        strerror(errno));
        free(buf);
        return rc;
    }
    MDB_env *env = NULL;
    int mrc = mdb_env_create(&env);
    if (!mrc && !(mrc = mdb_env_set_maxdbs(env, INGEST_IDB_COUNT + 2)) &&
        !(mrc = mdb_env_set_mapsize(env, INGEST_INTEL_MAP_SIZE)))
        mrc = mdb_env_open(env, db_dir, 0, 0600);
    if (mrc)
        rc = ts_err_set(err, TS_E_STORE, db_dir, 0, 0, "cannot open the intel database: %s",
                        mdb_strerror(mrc));
    else
        rc = enrich_intel_load_env(env, file, buf, len, source_name, st, err);
    if (env)
        mdb_env_close(env);
    free(buf);
    return rc;
}
