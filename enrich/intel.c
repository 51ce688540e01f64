/* intel.c - the threat-intel store in LMDB: key normalisation, the indicator
 * record, the Bloom filter, and the lookups the enricher makes per event.
 *
 * Layout of an intel environment (a directory, written by intel_load.c):
 *   net     key: family (4|6), prefix length, masked address (6 or 18 bytes);
 *           single addresses are /32 or /128. The records of IPs and CIDRs.
 *   domain  key: lower-case name without trailing dot.
 *   url     key: scheme://host lower-cased, default port and #fragment
 *           dropped, path and query as given ("http://" assumed).
 *   hash    key: the digest's bytes (16 md5, 20 sha1, 32 sha256).
 *   meta    "cidr4", "cidr6": every CIDR (not single addresses) as a sorted
 *           array of nested intervals with parent links (struct cidr4/cidr6
 *           below): a longest-prefix lookup is one binary search for the
 *           last interval starting at or before the address, then a walk up
 *           the parents to the first that contains it and is not expired.
 *           (Probing one key per prefix length present costs up to 32/128
 *           probes per address with real feeds; this costs ~log2(n).)
 *           "bloom": a blocked Bloom filter over every key of the four
 *           databases above, so that an absent address, domain, URL or hash
 *           (nearly all of them) costs one cache line, not a B-tree walk.
 * Every value is a record (enrich_ioc_encode): version, type, confidence,
 * source length, valid_until (int64 LE seconds, 0 = none), source bytes.
 *
 * Threads: an enrich_intel (environment, handles) is shared read-only; a
 * reader (one read transaction, renewed per batch) belongs to one thread at
 * a time (MDB_NOTLS). Lookups allocate nothing but the strings of a match,
 * which go into the event's arena.
 */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/arena.h"
#include "enrich_int.h"

const char *const enrich_intel_db_names[INGEST_IDB_COUNT] = {"net", "domain", "url", "hash",
                                                              "meta"};

struct enrich_intel {
    MDB_env *env;
    MDB_dbi dbi[INGEST_IDB_COUNT];
};

struct enrich_intel_reader {
    const struct enrich_intel *in;
    MDB_txn *txn;
    bool active;
    const uint8_t *bloom; /* in the map, valid while the txn is active */
    size_t bloom_len;
    const uint8_t *cidr[2]; /* v4, v6 interval arrays, in the map */
    size_t ncidr[2];
};

const char *enrich_ioc_type_name(int type)
{
    switch (type) {
    case INGEST_IOC_IP: return "ip";
    case INGEST_IOC_CIDR: return "cidr";
    case INGEST_IOC_DOMAIN: return "domain";
    case INGEST_IOC_URL: return "url";
    case INGEST_IOC_MD5: return "md5";
    case INGEST_IOC_SHA1: return "sha1";
    case INGEST_IOC_SHA256: return "sha256";
    default: return "unknown";
    }
}

/* ---------------------------------------------------------------- records */

size_t enrich_ioc_encode(const struct enrich_ioc *ioc, uint8_t *out, size_t cap)
{
    size_t sl = ioc->source_len > INGEST_INTEL_MAX_SOURCE ? INGEST_INTEL_MAX_SOURCE
                                                           : ioc->source_len;
    if (cap < INGEST_IOC_HDR + sl)
        return 0;
    out[0] = 1;
    out[1] = ioc->type;
    out[2] = ioc->confidence;
    out[3] = (uint8_t)sl;
    uint64_t v = (uint64_t)ioc->valid_until;
    for (int i = 0; i < 8; i++)
        out[4 + i] = (uint8_t)(v >> (8 * i));
    memcpy(out + INGEST_IOC_HDR, ioc->source, sl);
    return INGEST_IOC_HDR + sl;
}

int enrich_ioc_decode(const void *p, size_t n, struct enrich_ioc *out)
{
    const uint8_t *b = p;
    if (n < INGEST_IOC_HDR || b[0] != 1 || n < INGEST_IOC_HDR + (size_t)b[3])
        return TS_E_PARSE;
    out->type = b[1];
    out->confidence = b[2];
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)b[4 + i] << (8 * i);
    out->valid_until = (int64_t)v;
    out->source = (const char *)b + INGEST_IOC_HDR;
    out->source_len = b[3];
    return 0;
}

/* ------------------------------------------------------------------- keys */

static void trim(const char **s, size_t *len)
{
    while (*len && ((*s)[0] == ' ' || (*s)[0] == '\t' || (*s)[0] == '\r' || (*s)[0] == '\n')) {
        (*s)++;
        (*len)--;
    }
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' || (*s)[*len - 1] == '\r' ||
                    (*s)[*len - 1] == '\n'))
        (*len)--;
}

static inline char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

size_t enrich_intel_key_domain(const char *s, size_t len, char *out, size_t cap)
{
    trim(&s, &len);
    if (len >= 2 && s[0] == '*' && s[1] == '.') {
        s += 2;
        len -= 2;
    }
    if (len && s[len - 1] == '.')
        len--;
    if (len == 0 || len > 253 || len > cap)
        return 0;
    char prev = '.';
    for (size_t i = 0; i < len; i++) {
        char c = lower(s[i]);
        unsigned char u = (unsigned char)c;
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                  c == '.' || u >= 0x80;
        if (!ok || (c == '.' && prev == '.'))
            return 0;
        out[i] = c;
        prev = c;
    }
    return len;
}

/* Where scheme://authority ends in s: sets the scheme length (0 if none). */
static bool url_split(const char *s, size_t len, size_t *scheme_len, size_t *host_off,
                      size_t *host_end)
{
    size_t i = 0;
    while (i < len && i < 16 &&
           ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
            (i > 0 && ((s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' ||
                       s[i] == '.'))))
        i++;
    if (i > 0 && i + 3 <= len && memcmp(s + i, "://", 3) == 0) {
        *scheme_len = i;
        *host_off = i + 3;
    } else {
        *scheme_len = 0;
        *host_off = 0;
        if (len && s[0] == '/')
            return false; /* a path only (cs-uri-stem style) */
    }
    size_t h = *host_off;
    while (h < len && s[h] != '/' && s[h] != '?' && s[h] != '#')
        h++;
    *host_end = h;
    return h > *host_off;
}

size_t enrich_intel_key_url(const char *s, size_t len, char *out, size_t cap)
{
    trim(&s, &len);
    size_t sl, ho, he;
    if (len == 0 || !url_split(s, len, &sl, &ho, &he))
        return 0;
    const char *hash = memchr(s + he, '#', len - he);
    size_t end = hash ? (size_t)(hash - s) : len;
    size_t o = 0;
#define PUT(p, n)                                                                                 \
    do {                                                                                          \
        if (o + (n) > cap)                                                                        \
            return 0;                                                                             \
        memcpy(out + o, (p), (n));                                                                \
        o += (n);                                                                                 \
    } while (0)
    if (sl) {
        for (size_t i = 0; i < sl; i++) {
            char c = lower(s[i]);
            PUT(&c, 1);
        }
    } else {
        PUT("http", 4);
    }
    PUT("://", 3);
    const char *scheme = out;
    size_t scheme_len = sl ? sl : 4;
    size_t host_start = o;
    for (size_t i = ho; i < he; i++) {
        char c = lower(s[i]);
        PUT(&c, 1);
    }
    /* default ports */
    size_t hl = o - host_start;
    if (scheme_len == 4 && memcmp(scheme, "http", 4) == 0 && hl > 3 &&
        memcmp(out + o - 3, ":80", 3) == 0)
        o -= 3;
    else if (scheme_len == 5 && memcmp(scheme, "https", 5) == 0 && hl > 4 &&
             memcmp(out + o - 4, ":443", 4) == 0)
        o -= 4;
    if (he < end && s[he] == '/')
        PUT(s + he, end - he);
    else {
        PUT("/", 1);
        if (he < end)
            PUT(s + he, end - he); /* "?query" right after the host */
    }
#undef PUT
    return o;
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

size_t enrich_intel_key_hash(const char *s, size_t len, uint8_t *out, size_t cap)
{
    trim(&s, &len);
    if (len != 32 && len != 40 && len != 64)
        return 0;
    if (len / 2 > cap)
        return 0;
    for (size_t i = 0; i < len; i += 2) {
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return len / 2;
}

size_t enrich_intel_key_net(const struct ts_ip *net, unsigned plen, uint8_t *out)
{
    size_t alen = net->family == 6 ? 16 : 4;
    out[0] = net->family;
    out[1] = (uint8_t)plen;
    memcpy(out + 2, net->addr, alen);
    return 2 + alen;
}

/* ------------------------------------------------------------------ Bloom */

#define BLOOM_MAGIC "TSB1"
#define BLOOM_HDR 16
#define BLOOM_BLOCK 64 /* bytes: one cache line */

static void bloom_bits(int dbi, const void *key, size_t klen, uint64_t *h1, uint64_t *h2)
{
    *h1 = enrich_hash64(key, klen, 0xb10f0000ULL + (uint64_t)dbi);
    uint64_t x = *h1 ^ 0x9e3779b97f4a7c15ULL;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 29;
    *h2 = x;
}

bool enrich_intel_bloom_maybe(const uint8_t *bloom, size_t len, int dbi, const void *key,
                              size_t klen)
{
    if (!bloom)
        return true;
    uint64_t nblocks = (len - BLOOM_HDR) / BLOOM_BLOCK;
    uint64_t h1, h2;
    bloom_bits(dbi, key, klen, &h1, &h2);
    const uint8_t *blk = bloom + BLOOM_HDR + (h1 & (nblocks - 1)) * BLOOM_BLOCK;
    for (int i = 0; i < 7; i++) {
        unsigned bit = (unsigned)(h2 >> (9 * i)) & 511u;
        if (!(blk[bit >> 3] & (1u << (bit & 7))))
            return false;
    }
    return true;
}

/* Used by the loader (declared here to keep the format in one file). */
size_t enrich_intel_bloom_size(uint64_t nkeys);
void enrich_intel_bloom_add(uint8_t *bloom, size_t len, int dbi, const void *key, size_t klen);

size_t enrich_intel_bloom_size(uint64_t nkeys)
{
    uint64_t bits = nkeys * 16, nblocks = 1;
    while (nblocks * BLOOM_BLOCK * 8 < bits)
        nblocks <<= 1;
    return BLOOM_HDR + (size_t)nblocks * BLOOM_BLOCK;
}

void enrich_intel_bloom_add(uint8_t *bloom, size_t len, int dbi, const void *key, size_t klen)
{
    if (memcmp(bloom, BLOOM_MAGIC, 4) != 0) {
        memset(bloom, 0, len);
        memcpy(bloom, BLOOM_MAGIC, 4);
    }
    uint64_t nblocks = (len - BLOOM_HDR) / BLOOM_BLOCK;
    uint64_t h1, h2;
    bloom_bits(dbi, key, klen, &h1, &h2);
    uint8_t *blk = bloom + BLOOM_HDR + (h1 & (nblocks - 1)) * BLOOM_BLOCK;
    for (int i = 0; i < 7; i++) {
        unsigned bit = (unsigned)(h2 >> (9 * i)) & 511u;
        blk[bit >> 3] |= (uint8_t)(1u << (bit & 7));
    }
}

static bool bloom_valid(const uint8_t *b, size_t len)
{
    if (len < BLOOM_HDR + BLOOM_BLOCK || memcmp(b, BLOOM_MAGIC, 4) != 0)
        return false;
    uint64_t nblocks = (len - BLOOM_HDR) / BLOOM_BLOCK;
    return (len - BLOOM_HDR) % BLOOM_BLOCK == 0 && (nblocks & (nblocks - 1)) == 0;
}

/* ------------------------------------------------------------ open / read */

int enrich_intel_open(const char *dir, struct enrich_intel **out, struct ts_err *err)
{
    *out = NULL;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return ts_err_set(err, TS_E_IO, dir, 0, 0,
                          "intel database directory: %s (create it with `tocsin intel load --db "
                          "DIR FILE`)",
                          errno ? strerror(errno) : "not a directory");
    struct enrich_intel *in = calloc(1, sizeof(*in));
    if (!in)
        return ts_err_set(err, TS_E_NOMEM, dir, 0, 0, "out of memory");
    int rc = mdb_env_create(&in->env);
    MDB_txn *txn = NULL;
    if (rc)
        goto lmdb_fail;
    if ((rc = mdb_env_set_maxdbs(in->env, INGEST_IDB_COUNT + 2)) ||
        (rc = mdb_env_set_mapsize(in->env, INGEST_INTEL_MAP_SIZE)) ||
        (rc = mdb_env_open(in->env, dir, MDB_RDONLY | MDB_NOTLS | MDB_NORDAHEAD, 0600)) ||
        (rc = mdb_txn_begin(in->env, NULL, MDB_RDONLY, &txn)))
        goto lmdb_fail;
    for (int i = 0; i < INGEST_IDB_COUNT; i++) {
        rc = mdb_dbi_open(txn, enrich_intel_db_names[i], 0, &in->dbi[i]);
        if (rc == MDB_NOTFOUND) {
            mdb_txn_abort(txn);
            enrich_intel_close(in);
            return ts_err_set(err, TS_E_STORE, dir, 0, 0,
                              "not a Tocsin intel database (no \"%s\" table): load indicators "
                              "with `tocsin intel load --db DIR FILE`",
                              enrich_intel_db_names[i]);
        }
        if (rc)
            goto lmdb_fail;
    }
    if ((rc = mdb_txn_commit(txn))) { /* keeps the handles */
        txn = NULL;
        goto lmdb_fail;
    }
    *out = in;
    return 0;
lmdb_fail:
    if (txn)
        mdb_txn_abort(txn);
    enrich_intel_close(in);
    return ts_err_set(err, TS_E_STORE, dir, 0, 0, "cannot open the intel database: %s",
                      mdb_strerror(rc));
}

void enrich_intel_close(struct enrich_intel *in)
{
    if (!in)
        return;
    if (in->env)
        mdb_env_close(in->env);
    free(in);
}

int enrich_intel_reader_create(struct enrich_intel_reader **out, const struct enrich_intel *in)
{
    *out = calloc(1, sizeof(**out));
    if (!*out)
        return TS_E_NOMEM;
    (*out)->in = in;
    return 0;
}

void enrich_intel_reader_free(struct enrich_intel_reader *r)
{
    if (!r)
        return;
    if (r->txn)
        mdb_txn_abort(r->txn);
    free(r);
}

int enrich_intel_reader_begin(struct enrich_intel_reader *r)
{
    if (r->active)
        enrich_intel_reader_end(r);
    int rc = r->txn ? mdb_txn_renew(r->txn)
                    : mdb_txn_begin(r->in->env, NULL, MDB_RDONLY, &r->txn);
    if (rc) {
        if (r->txn) {
            mdb_txn_abort(r->txn);
            r->txn = NULL;
        }
        return TS_E_STORE;
    }
    r->active = true;
    r->bloom = NULL;
    MDB_dbi meta = r->in->dbi[INGEST_IDB_META];
    MDB_val k, v;
    for (int f = 0; f < 2; f++) {
        size_t esz = f ? INGEST_CIDR6_SIZE : INGEST_CIDR4_SIZE;
        k = (MDB_val){.mv_size = 5, .mv_data = f ? "cidr6" : "cidr4"};
        r->cidr[f] = NULL;
        r->ncidr[f] = 0;
        if (mdb_get(r->txn, meta, &k, &v) == 0 && v.mv_size % esz == 0) {
            r->cidr[f] = v.mv_data;
            r->ncidr[f] = v.mv_size / esz;
        }
    }
    k = (MDB_val){.mv_size = 5, .mv_data = "bloom"};
    if (mdb_get(r->txn, meta, &k, &v) == 0 && bloom_valid(v.mv_data, v.mv_size)) {
        r->bloom = v.mv_data;
        r->bloom_len = v.mv_size;
    }
    return 0;
}

void enrich_intel_reader_end(struct enrich_intel_reader *r)
{
    if (r->active)
        mdb_txn_reset(r->txn);
    r->active = false;
    r->bloom = NULL;
}

/* ----------------------------------------------------------------- lookups */

/* Probe one key: 1 with ioc filled (valid), 0 absent/expired/bad, never < 0. */
static int probe(struct enrich_intel_reader *r, int dbi, const void *key, size_t klen,
                 int64_t now_s, struct enrich_ioc *ioc, struct enrich_intel_counters *cnt)
{
    cnt->lookups++;
    if (!enrich_intel_bloom_maybe(r->bloom, r->bloom_len, dbi, key, klen)) {
        cnt->bloom_skips++;
        return 0;
    }
    MDB_val k = {.mv_size = klen, .mv_data = (void *)(uintptr_t)key}, v;
    int rc = mdb_get(r->txn, r->in->dbi[dbi], &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc || enrich_ioc_decode(v.mv_data, v.mv_size, ioc)) {
        cnt->errors++;
        return 0;
    }
    if (ioc->valid_until && ioc->valid_until < now_s) {
        cnt->expired++;
        return 0;
    }
    return 1;
}

/* Copy the source and the indicator text into the arena. */
static int hit_fill(struct ts_arena *arena, struct enrich_intel_hit *hit,
                    const struct enrich_ioc *ioc, const char *text, size_t tlen,
                    struct enrich_intel_counters *cnt)
{
    hit->ioc = *ioc;
    char *src = ts_arena_strndup(arena, ioc->source, ioc->source_len);
    char *ind = ts_arena_strndup(arena, text, tlen);
    if (!src || !ind)
        return TS_E_NOMEM;
    hit->ioc.source = src;
    hit->indicator = ind;
    hit->indicator_len = tlen;
    cnt->matches++;
    return 1;
}

/* A probed network record: 1 hit (filled), 0 none, <0 arena full. */
static int net_hit(struct enrich_intel_reader *r, const struct ts_ip *ip, unsigned plen,
                   int64_t now_s, struct ts_arena *arena, struct enrich_intel_hit *hit,
                   struct enrich_intel_counters *cnt)
{
    struct ts_ip m = *ip;
    enrich_ip_mask(&m, plen);
    uint8_t key[18];
    size_t kl = enrich_intel_key_net(&m, plen, key);
    struct enrich_ioc ioc;
    if (!probe(r, INGEST_IDB_NET, key, kl, now_s, &ioc, cnt))
        return 0;
    char buf[64];
    ts_ip_format(&m, buf, 48);
    size_t bl = strlen(buf);
    if (ioc.type == INGEST_IOC_CIDR)
        bl += (size_t)snprintf(buf + bl, sizeof(buf) - bl, "/%u", plen);
    return hit_fill(arena, hit, &ioc, buf, bl, cnt);
}

int enrich_intel_match_ip(struct enrich_intel_reader *r, const struct ts_ip *ip, int64_t now_s,
                          struct ts_arena *arena, struct enrich_intel_hit *hit,
                          struct enrich_intel_counters *cnt)
{
    if (!r->active)
        return 0;
    int v6 = ip->family == 6;
    unsigned full = v6 ? 128 : 32;
    int rc = net_hit(r, ip, full, now_s, arena, hit, cnt); /* the address itself */
    if (rc)
        return rc;
    /* the CIDRs: last interval starting at or before ip, then up the parents */
    const uint8_t *arr = r->cidr[v6];
    size_t n = r->ncidr[v6], esz = v6 ? INGEST_CIDR6_SIZE : INGEST_CIDR4_SIZE;
    size_t alen = v6 ? 16 : 4;
    if (!n)
        return 0;
    size_t lo = 0, hi = n; /* first entry with start > ip */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(arr + mid * esz, ip->addr, alen) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    int64_t e = (int64_t)lo - 1;
    for (unsigned guard = 0; e >= 0 && guard <= full; guard++) {
        const uint8_t *ent = arr + (size_t)e * esz;
        int32_t parent;
        memcpy(&parent, ent + 2 * alen, 4);
        if (memcmp(ent + alen, ip->addr, alen) >= 0) { /* end >= ip: contains it */
            if ((rc = net_hit(r, ip, ent[2 * alen + 4], now_s, arena, hit, cnt)))
                return rc;
        }
        e = parent;
    }
    return 0;
}

int enrich_intel_match_domain(struct enrich_intel_reader *r, const char *s, size_t len,
                              int64_t now_s, struct ts_arena *arena, struct enrich_intel_hit *hit,
                              struct enrich_intel_counters *cnt)
{
    if (!r->active)
        return 0;
    trim(&s, &len);
    struct ts_ip ip;
    if (len && len < 64 && ts_ip_parse(s, len, &ip) == 0) {
        enrich_ip_unmap(&ip);
        return enrich_intel_match_ip(r, &ip, now_s, arena, hit, cnt);
    }
    /* host:port */
    const char *colon = memchr(s, ':', len);
    if (colon) {
        for (const char *p = colon + 1; p < s + len; p++)
            if (*p < '0' || *p > '9')
                return 0;
        len = (size_t)(colon - s);
    }
    char key[256];
    size_t kl = enrich_intel_key_domain(s, len, key, sizeof(key));
    if (!kl)
        return 0;
    const char *k = key;
    for (;;) {
        struct enrich_ioc ioc;
        if (probe(r, INGEST_IDB_DOMAIN, k, kl, now_s, &ioc, cnt))
            return hit_fill(arena, hit, &ioc, k, kl, cnt);
        /* then the parent domains, down to two labels */
        const char *dot = memchr(k, '.', kl);
        if (!dot)
            return 0;
        size_t rest = kl - (size_t)(dot + 1 - k);
        if (!memchr(dot + 1, '.', rest))
            return 0;
        k = dot + 1;
        kl = rest;
    }
}

int enrich_intel_match_url(struct enrich_intel_reader *r, const char *s, size_t len,
                           int64_t now_s, struct ts_arena *arena, struct enrich_intel_hit *hit,
                           struct enrich_intel_counters *cnt)
{
    if (!r->active)
        return 0;
    trim(&s, &len);
    char key[INGEST_INTEL_MAX_KEY];
    size_t kl = enrich_intel_key_url(s, len, key, sizeof(key));
    struct enrich_ioc ioc;
    if (kl && probe(r, INGEST_IDB_URL, key, kl, now_s, &ioc, cnt))
        return hit_fill(arena, hit, &ioc, key, kl, cnt);
    size_t sl, ho, he;
    if (len == 0 || !url_split(s, len, &sl, &ho, &he))
        return 0;
    /* the host: drop user info and [] around v6 */
    const char *h = s + ho;
    size_t hl = he - ho;
    const char *at = memchr(h, '@', hl);
    if (at) {
        hl -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    if (hl > 2 && h[0] == '[') {
        const char *rb = memchr(h, ']', hl);
        if (!rb)
            return 0;
        struct ts_ip ip;
        if (ts_ip_parse(h + 1, (size_t)(rb - h - 1), &ip))
            return 0;
        enrich_ip_unmap(&ip);
        return enrich_intel_match_ip(r, &ip, now_s, arena, hit, cnt);
    }
    return enrich_intel_match_domain(r, h, hl, now_s, arena, hit, cnt);
}

static int match_one_hash(struct enrich_intel_reader *r, const char *s, size_t len, int64_t now_s,
                          struct ts_arena *arena, struct enrich_intel_hit *hit,
                          struct enrich_intel_counters *cnt)
{
    uint8_t key[32];
    size_t kl = enrich_intel_key_hash(s, len, key, sizeof(key));
    if (!kl)
        return 0;
    struct enrich_ioc ioc;
    if (!probe(r, INGEST_IDB_HASH, key, kl, now_s, &ioc, cnt))
        return 0;
    static const char hex[] = "0123456789abcdef";
    char text[64];
    for (size_t i = 0; i < kl; i++) {
        text[2 * i] = hex[key[i] >> 4];
        text[2 * i + 1] = hex[key[i] & 15];
    }
    return hit_fill(arena, hit, &ioc, text, 2 * kl, cnt);
}

static bool algo_is(const char *a, size_t n, const char *want)
{
    size_t wl = strlen(want), j = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] == '-' || a[i] == ' ')
            continue; /* SHA-256 = SHA256 */
        if (j >= wl || lower(a[i]) != want[j])
            return false;
        j++;
    }
    return j == wl;
}

int enrich_intel_match_hashes(struct enrich_intel_reader *r, const char *s, size_t len,
                              int64_t now_s, struct ts_arena *arena, struct enrich_intel_hit *hit,
                              struct enrich_intel_counters *cnt)
{
    if (!r->active)
        return 0;
    if (!memchr(s, '=', len))
        return match_one_hash(r, s, len, now_s, arena, hit, cnt);
    /* Sysmon: "SHA1=..,MD5=..,SHA256=..,IMPHASH=.." (IMPHASH is not a file hash) */
    size_t p = 0;
    while (p < len) {
        size_t e = p;
        while (e < len && s[e] != ',' && s[e] != ';')
            e++;
        const char *eq = memchr(s + p, '=', e - p);
        if (eq) {
            size_t al = (size_t)(eq - (s + p));
            const char *a = s + p;
            trim(&a, &al);
            if (algo_is(a, al, "md5") || algo_is(a, al, "sha1") || algo_is(a, al, "sha256")) {
                int rc = match_one_hash(r, eq + 1, (size_t)(s + e - eq - 1), now_s, arena, hit,
                                        cnt);
                if (rc)
                    return rc;
            }
        }
        p = e + 1;
    }
    return 0;
}
