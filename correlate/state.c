/* state.c - batches (dirty keys, incidents, evidence), the compact per-key
 * state encoding for storage/, and JSON for incidents and evidence.
 *
 * State keys (bytes):
 *   'k' rule-key NUL tenant NUL (varint len, value)*   one (correlation, group key)
 *   0x01 's' kind(1) partition(4, BE) name              one watermark source
 * rule-key is the correlation's id (else name, else title); "g:<id>" for a
 * grouped detection rule. Values are versioned (first byte 1), varints and
 * zig-zag deltas; see docs/correlation.md. Not thread-safe (see correlate.h).
 */
#include <stdlib.h>
#include <string.h>

#include "../core/tstime.h"
#include <openssl/sha.h>

#include "../storage/storage.h"
#include "corr_int.h"

#define STATE_VERSION 2 /* 1: before the journal (read, upgraded) */

/* ------------------------------------------------------------ helpers */

static uint64_t zz(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzz(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static int put_var(struct ts_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    return ts_buf_append(b, tmp, ts_varint_put(tmp, v));
}

static int put_u64(struct ts_buf *b, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    return ts_buf_append(b, t, 8);
}

static uint64_t get_u64(struct ts_rd *r)
{
    if (r->bad || r->n - r->i < 8) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)r->p[r->i + i] << (8 * i);
    r->i += 8;
    return v;
}

static const uint8_t *get_bytes(struct ts_rd *r, size_t len)
{
    if (r->bad || r->n - r->i < len) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->i;
    r->i += len;
    return p;
}

static bool needs_value(enum ctype t)
{
    return t == CT_VALUE_COUNT || t == CT_VALUE_SUM || t == CT_VALUE_AVG ||
           t == CT_VALUE_PERCENTILE;
}

/* ------------------------------------------------------------- export */

int corr_key_name(const struct corr_engine *c, const struct ckey *k, struct ts_buf *out)
{
    const char *sk = c->rules[k->rule].skey;
    int rc = ts_buf_putc(out, 'k');
    rc = rc ? rc : ts_buf_append(out, sk, strlen(sk) + 1);
    return rc ? rc : ts_buf_append(out, k->kb, k->klen);
}

static int put_vals(struct ts_buf *b, struct cval *const *v, uint16_t n)
{
    int rc = put_var(b, n);
    for (uint16_t i = 0; i < n && !rc; i++) {
        rc = put_u64(b, v[i]->h);
        rc = rc ? rc : put_var(b, v[i]->len);
        rc = rc ? rc : ts_buf_append(b, v[i]->s, v[i]->len);
    }
    return rc;
}

/* An incident: its scalars assembled on the stack, one append (the export
 * of every dirty key runs per batch). */
static int put_inc(struct ts_buf *b, const struct cinc *i)
{
    uint8_t t[160];
    size_t n = 0;
    for (int s = 0; s < 8; s++)
        t[n++] = (uint8_t)(i->id_hi >> (8 * s));
    for (int s = 0; s < 8; s++)
        t[n++] = (uint8_t)(i->id_lo >> (8 * s));
    n += ts_varint_put(t + n, zz(i->episode));
    n += ts_varint_put(t + n, zz(i->first - i->episode));
    n += ts_varint_put(t + n, zz(i->last - i->episode));
    n += ts_varint_put(t + n, i->count);
    n += ts_varint_put(t + n, i->late);
    n += ts_varint_put(t + n, i->nraw);
    t[n++] = i->severity;
    t[n++] = (uint8_t)((i->values_capped ? 1 : 0) | (i->emitted ? 2 : 0));
    int rc = 0;
    if (i->nvals) {
        rc = ts_buf_append(b, t, n);
        rc = rc ? rc : put_vals(b, i->vals, i->nvals);
        n = 0;
    } else {
        t[n++] = 0; /* no values */
    }
    n += ts_varint_put(t + n, i->seq);
    n += ts_varint_put(t + n, i->linked);
    if (i->linked) {
        n += ts_varint_put(t + n, zz(i->lfirst - i->episode));
        n += ts_varint_put(t + n, zz(i->llast - i->episode));
    }
    return rc ? rc : ts_buf_append(b, t, n);
}

/* The journal: window ends as deltas from the newest one dropped, else
 * from the incident's episode start (both known to import before). */
static int put_journal(struct ts_buf *b, const struct ckey *k)
{
    const struct cjournal *j = k->j;
    uint8_t t[64];
    size_t n = 0;
    t[n++] = 1;
    n += ts_varint_put(t + n, j->iseq);
    t[n++] = j->trim_hi != INT64_MIN ? 1 : 0;
    if (j->trim_hi != INT64_MIN)
        n += ts_varint_put(t + n, zz(j->trim_hi));
    n += ts_varint_put(t + n, j->n);
    int rc = ts_buf_append(b, t, n);
    int64_t tprev = j->trim_hi != INT64_MIN ? j->trim_hi : k->inc ? k->inc->episode : 0;
    for (uint32_t i = 0; i < j->n && !rc; i++) {
        const struct csat *r = &j->s[i];
        n = 0;
        n += ts_varint_put(t + n, zz(r->te - tprev));
        tprev = r->te;
        t[n++] = (uint8_t)(r->flags | (r->retired ? 0x80 : 0));
        if (!(r->flags & CS_EPISODE))
            n += ts_varint_put(t + n, zz(r->te - r->last_before));
        n += ts_varint_put(t + n, r->njoined);
        n += ts_varint_put(t + n, r->nvals_before);
        rc = ts_buf_append(b, t, n);
        if (!rc && r->retired)
            rc = put_inc(b, r->retired);
    }
    return rc;
}

int corr_key_export(const struct corr_engine *c, const struct ckey *k, struct ts_buf *b)
{
    const struct crule *cr = &c->rules[k->rule];
    int rc = ts_buf_putc(b, STATE_VERSION);
    rc = rc ? rc : put_var(b, k->n);
    /* the sources the entries use, as a local table; the key's own source
     * (of the last event fed) first, so that an import bounds the key's
     * eviction by its partition's watermark as before (key_bound): a
     * restored key of a partition lagging over idle_ns behind the others
     * must not expire by their time (the soak's loss after a kill -9) */
    uint32_t loc[64];
    size_t nloc = 0;
    if (k->sid != CORR_NO_SOURCE && k->sid < c->nsrc)
        loc[nloc++] = k->sid;
    for (uint32_t j = 0; j < k->n && nloc < 64; j++) {
        bool seen = false;
        for (size_t i = 0; i < nloc && !seen; i++)
            seen = loc[i] == k->ent[j].src;
        if (!seen)
            loc[nloc++] = k->ent[j].src;
    }
    bool many = nloc == 64; /* fall back: every entry names its source */
    rc = rc ? rc : put_var(b, many ? 0 : nloc);
    for (size_t i = 0; !many && i < nloc && !rc; i++) {
        const struct csource *s = &c->src[loc[i]];
        size_t nl = strlen(s->name);
        rc = ts_buf_putc(b, (char)s->kind);
        rc = rc ? rc : put_var(b, zz(s->partition));
        rc = rc ? rc : put_var(b, nl);
        rc = rc ? rc : ts_buf_append(b, s->name, nl);
    }
    int64_t prev = 0;
    if (!many && !rc && (rc = ts_buf_reserve(b, (size_t)k->n * 40)) == 0) {
        /* the common case in place: at most 10+1+10+2+8 bytes an entry */
        uint8_t *p0 = (uint8_t *)b->data + b->len, *p = p0;
        bool val = needs_value(cr->type);
        for (uint32_t j = 0; j < k->n; j++) {
            const struct cent *e = &k->ent[j];
            p += ts_varint_put(p, zz(e->t - prev));
            prev = e->t;
            size_t li = 0;
            while (loc[li] != e->src)
                li++;
            *p++ = (uint8_t)li; /* < 64 */
            p += ts_varint_put(p, zz(e->off));
            *p++ = (uint8_t)e->slot;
            *p++ = (uint8_t)e->flags;
            p += ts_varint_put(p, e->eseq);
            if (val)
                for (int i = 0; i < 8; i++)
                    *p++ = (uint8_t)(e->v.h >> (8 * i));
        }
        b->len += (size_t)(p - p0);
    }
    for (uint32_t j = 0; many && j < k->n && !rc; j++) {
        const struct cent *e = &k->ent[j];
        rc = put_var(b, zz(e->t - prev));
        prev = e->t;
        if (many) {
            const struct csource *s = &c->src[e->src];
            size_t nl = strlen(s->name);
            rc = rc ? rc : ts_buf_putc(b, (char)s->kind);
            rc = rc ? rc : put_var(b, zz(s->partition));
            rc = rc ? rc : put_var(b, nl);
            rc = rc ? rc : ts_buf_append(b, s->name, nl);
        } else {
            size_t li = 0;
            while (loc[li] != e->src)
                li++;
            rc = rc ? rc : put_var(b, li);
        }
        rc = rc ? rc : put_var(b, zz(e->off));
        rc = rc ? rc : ts_buf_putc(b, (char)e->slot);
        rc = rc ? rc : ts_buf_putc(b, (char)e->flags);
        rc = rc ? rc : put_var(b, e->eseq);
        if (!rc && needs_value(cr->type))
            rc = put_u64(b, e->v.h);
    }
    rc = rc ? rc : put_vals(b, k->vals, k->nvals);
    rc = rc ? rc : ts_buf_putc(b, k->inc ? 1 : 0);
    if (!rc && k->inc)
        rc = put_inc(b, k->inc);
    if (!rc)
        rc = k->j ? put_journal(b, k) : ts_buf_putc(b, 0);
    return rc;
}

static int src_name(const struct csource *s, struct ts_buf *b)
{
    uint8_t p[4] = {(uint8_t)((uint32_t)s->partition >> 24), (uint8_t)((uint32_t)s->partition >> 16),
                    (uint8_t)((uint32_t)s->partition >> 8), (uint8_t)s->partition};
    int rc = ts_buf_append(b, "\001s", 2);
    rc = rc ? rc : ts_buf_putc(b, (char)s->kind);
    rc = rc ? rc : ts_buf_append(b, p, 4);
    return rc ? rc : ts_buf_append(b, s->name, strlen(s->name));
}

/* ---------------------------------------------------- long key names
 *
 * LMDB keys are at most STORE_STATE_KEY_MAX bytes; a key name is rule +
 * tenant + group values (or a source's file path) and the values come from
 * the input. A longer name is stored under CORR_HKEY_TAG + SHA-256(name),
 * with the name itself at the head of the value (varint length, bytes), so
 * that no input can make a state write fail (issue 17) and import gets the
 * whole name back. SHA-256: a key name is attacker-chosen, so the digest
 * must not collide on purpose. */
#define CORR_HKEY_TAG "\002h"
#define CORR_HKEY_LEN (2 + SHA256_DIGEST_LENGTH)

static void hkey_make(const void *name, size_t len, uint8_t out[CORR_HKEY_LEN])
{
    memcpy(out, CORR_HKEY_TAG, 2);
    SHA256(name, len, out + 2);
}

static bool hkey_is(const uint8_t *key, size_t len)
{
    return len == CORR_HKEY_LEN && memcmp(key, CORR_HKEY_TAG, 2) == 0;
}

/* The name at b[koff, b->len) is too long for a store key: replace it by
 * its hashed key and start the value with the name. */
static int hkey_rewrite(struct corr_engine *c, struct ts_buf *b, size_t koff, bool deleted)
{
    size_t nlen = b->len - koff;
    uint8_t hk[CORR_HKEY_LEN];
    hkey_make(b->data + koff, nlen, hk);
    c->m.state_keys_hashed++;
    if (deleted) {
        b->len = koff;
        return ts_buf_append(b, hk, sizeof(hk));
    }
    /* [name][hk][varint nlen][name]: then move the tail down over the name */
    uint8_t vl[10];
    size_t vn = ts_varint_put(vl, nlen);
    int rc = ts_buf_reserve(b, sizeof(hk) + vn + nlen); /* the name is copied from b itself */
    rc = rc ? rc : ts_buf_append(b, hk, sizeof(hk));
    rc = rc ? rc : ts_buf_append(b, vl, vn);
    rc = rc ? rc : ts_buf_append(b, b->data + koff, nlen);
    if (rc)
        return rc;
    memmove(b->data + koff, b->data + koff + nlen, b->len - koff - nlen);
    b->len -= nlen;
    return 0;
}

/* Parse a key name: 'k' skey NUL kb. */
static const struct ckey *key_lookup(const struct corr_engine *c, const uint8_t *key, size_t len,
                                     long *rule, const char **kb, size_t *klen)
{
    *rule = -1;
    if (len < 2 || key[0] != 'k')
        return NULL;
    const uint8_t *nul = memchr(key + 1, 0, len - 1);
    if (!nul)
        return NULL;
    size_t sl = (size_t)(nul - key - 1);
    *rule = corr_rule_by_skey(c, (const char *)key + 1, sl);
    *kb = (const char *)nul + 1;
    *klen = len - sl - 2;
    if (*rule < 0)
        return NULL;
    uint64_t h = corr_key_hash((uint32_t)*rule, *kb, *klen);
    return corr_key_find((struct corr_engine *)c, (uint32_t)*rule, *kb, *klen, h);
}

/* Export under a hashed key: find the key or source whose long name has
 * that digest (a scan: only tests and tools export by key) and write the
 * value as corr_batch_end does, the name first. */
static int hkey_export(const struct corr_engine *c, const uint8_t *hk, struct ts_buf *out)
{
    struct ts_buf nb;
    ts_buf_init(&nb, 0);
    uint8_t d[CORR_HKEY_LEN];
    int rc = TS_E_NOTFOUND;
    const struct ckey *k = NULL;
    const struct csource *s = NULL;
    for (size_t i = 0; rc == TS_E_NOTFOUND && i < c->tabcap; i++) {
        if (!c->tab[i].k)
            continue;
        nb.len = 0;
        if (corr_key_name(c, c->tab[i].k, &nb) != 0) {
            rc = TS_E_NOMEM;
            break;
        }
        hkey_make(nb.data, nb.len, d);
        if (nb.len > STORE_STATE_KEY_MAX && memcmp(d, hk, CORR_HKEY_LEN) == 0)
            k = c->tab[i].k, rc = 0;
    }
    for (size_t i = 0; rc == TS_E_NOTFOUND && i < c->nsrc; i++) {
        nb.len = 0;
        if (src_name(&c->src[i], &nb) != 0) {
            rc = TS_E_NOMEM;
            break;
        }
        hkey_make(nb.data, nb.len, d);
        if (nb.len > STORE_STATE_KEY_MAX && memcmp(d, hk, CORR_HKEY_LEN) == 0)
            s = &c->src[i], rc = 0;
    }
    if (!rc && k && !k->n && !k->inc && !k->nvals)
        rc = TS_E_NOTFOUND;
    if (!rc) {
        uint8_t vl[10];
        size_t vn = ts_varint_put(vl, nb.len);
        rc = ts_buf_append(out, vl, vn);
        rc = rc ? rc : ts_buf_append(out, nb.data, nb.len);
        rc = rc ? rc : k ? corr_key_export(c, k, out) : put_var(out, zz(s->max_t));
    }
    ts_buf_free(&nb);
    return rc;
}

int corr_state_export(const struct corr_engine *c, const void *key, size_t key_len,
                      struct ts_buf *out)
{
    const uint8_t *kp = key;
    if (key_len >= 7 && kp[0] == 1 && kp[1] == 's') {
        int32_t part = (int32_t)(((uint32_t)kp[3] << 24) | ((uint32_t)kp[4] << 16) |
                                 ((uint32_t)kp[5] << 8) | kp[6]);
        for (size_t i = 0; i < c->nsrc; i++) {
            const struct csource *s = &c->src[i];
            if (s->kind == kp[2] && s->partition == part && strlen(s->name) == key_len - 7 &&
                memcmp(s->name, kp + 7, key_len - 7) == 0)
                return put_var(out, zz(s->max_t));
        }
        return TS_E_NOTFOUND;
    }
    if (hkey_is(kp, key_len))
        return hkey_export(c, kp, out);
    long rule;
    const char *kb;
    size_t klen;
    const struct ckey *k = key_lookup(c, key, key_len, &rule, &kb, &klen);
    if (!k || (!k->n && !k->inc && !k->nvals))
        return TS_E_NOTFOUND;
    return corr_key_export(c, k, out);
}

/* ------------------------------------------------------------- import */

static int get_vals(struct ts_rd *r, struct cval ***arr, uint16_t *n, uint32_t cap)
{
    uint64_t nv = ts_rd_var(r);
    if (r->bad || nv > cap)
        return r->bad ? TS_E_PARSE : TS_E_LIMIT;
    for (uint64_t i = 0; i < nv; i++) {
        uint64_t h = get_u64(r);
        uint64_t len = ts_rd_var(r);
        if (len > CORR_MAX_VALUE_BYTES)
            return TS_E_PARSE;
        const uint8_t *s = get_bytes(r, (size_t)len);
        if (r->bad)
            return TS_E_PARSE;
        struct cval **na = realloc(*arr, (*n + 1) * sizeof(**arr));
        if (!na)
            return TS_E_NOMEM;
        *arr = na;
        struct cval *v = malloc(sizeof(*v) + len + 1);
        if (!v)
            return TS_E_NOMEM;
        v->h = h;
        v->len = (uint32_t)len;
        memcpy(v->s, s, (size_t)len);
        v->s[len] = '\0';
        na[(*n)++] = v;
    }
    return 0;
}

static int get_source(struct corr_engine *c, struct ts_rd *r, uint16_t *sid)
{
    uint8_t kind = ts_rd_u8(r);
    int64_t part = unzz(ts_rd_var(r));
    uint64_t nl = ts_rd_var(r);
    if (r->bad || nl > 4096 || part < INT32_MIN || part > INT32_MAX)
        return TS_E_PARSE;
    const uint8_t *nm = get_bytes(r, (size_t)nl);
    if (r->bad)
        return TS_E_PARSE;
    uint32_t id;
    int rc = corr_source_intern(c, kind, (const char *)nm, (size_t)nl, (int32_t)part, &id);
    *sid = (uint16_t)id; /* < CORR_MAX_SOURCES */
    return rc;
}

/* An incident (put_inc; version 1 without seq and links). NULL: *rc set. */
static struct cinc *get_inc(struct corr_engine *c, struct ts_rd *r, int version, int *rc)
{
    struct cinc *i = calloc(1, sizeof(*i));
    if (!i) {
        *rc = TS_E_NOMEM;
        return NULL;
    }
    i->id_hi = get_u64(r);
    i->id_lo = get_u64(r);
    i->episode = unzz(ts_rd_var(r));
    i->first = i->episode + unzz(ts_rd_var(r));
    i->last = i->episode + unzz(ts_rd_var(r));
    i->count = ts_rd_var(r);
    i->late = ts_rd_var(r);
    i->nraw = (uint32_t)ts_rd_var(r);
    i->severity = ts_rd_u8(r);
    uint8_t fl = ts_rd_u8(r);
    i->values_capped = fl & 1;
    i->emitted = (fl & 2) != 0;
    *rc = r->bad ? TS_E_PARSE : get_vals(r, &i->vals, &i->nvals, c->o.max_values);
    if (!*rc && version >= 2) {
        uint64_t seq = ts_rd_var(r);
        i->seq = (uint32_t)seq;
        i->linked = ts_rd_var(r);
        if (i->linked) {
            i->lfirst = i->episode + unzz(ts_rd_var(r));
            i->llast = i->episode + unzz(ts_rd_var(r));
        }
        if (r->bad || seq > UINT32_MAX || i->linked > i->count)
            *rc = TS_E_PARSE;
    }
    if (!*rc && (i->severity > CORR_SEV_CRITICAL || i->count > (uint64_t)1 << 62))
        *rc = TS_E_PARSE;
    if (*rc) {
        corr_inc_free(i);
        return NULL;
    }
    return i;
}

/* Version 1 state with an incident: its entries joined it; nothing
 * before the newest joined entry is rewound. */
static int journal_new(struct ckey *k)
{
    struct cjournal *j = malloc(sizeof(*j) + sizeof(j->s[0]));
    if (!j)
        return TS_E_NOMEM;
    j->n = 0;
    j->cap = 1;
    j->trim_hi = INT64_MIN;
    j->iseq = 1;
    k->inc->seq = 1;
    for (uint32_t i = 0; i < k->n; i++)
        if (k->ent[i].flags & CE_JOINED) {
            k->ent[i].eseq = 1;
            j->trim_hi = k->ent[i].t;
        }
    k->j = j;
    return 0;
}

/* The journal (version 2). */
static int get_journal(struct corr_engine *c, struct ckey *k, struct ts_rd *r)
{
    uint64_t iseq = ts_rd_var(r);
    uint8_t has_trim = ts_rd_u8(r);
    int64_t trim_hi = has_trim ? unzz(ts_rd_var(r)) : INT64_MIN;
    uint64_t n = ts_rd_var(r);
    if (r->bad || iseq > UINT32_MAX || has_trim > 1)
        return TS_E_PARSE;
    if (n > c->o.max_entries_per_key)
        return TS_E_LIMIT;
    struct cjournal *j = malloc(sizeof(*j) + (n ? n : 1) * sizeof(j->s[0]));
    if (!j)
        return TS_E_NOMEM;
    j->n = 0;
    j->cap = (uint32_t)(n ? n : 1);
    j->trim_hi = trim_hi;
    j->iseq = (uint32_t)iseq;
    k->j = j;
    int64_t prev = has_trim ? trim_hi : k->inc ? k->inc->episode : 0;
    for (uint64_t i = 0; i < n; i++) {
        struct csat *s = &j->s[j->n];
        memset(s, 0, sizeof(*s));
        s->te = prev + unzz(ts_rd_var(r));
        uint8_t fl = ts_rd_u8(r);
        s->flags = fl & (CS_EPISODE | CS_CAPPED);
        if (!(fl & CS_EPISODE))
            s->last_before = s->te - unzz(ts_rd_var(r));
        uint64_t nj = ts_rd_var(r), nv = ts_rd_var(r);
        if (r->bad || (fl & ~(CS_EPISODE | CS_CAPPED | 0x80)) || nj > UINT32_MAX ||
            nv > c->o.max_values || ((fl & 0x80) && !(fl & CS_EPISODE)) ||
            (i && s->te <= prev) || (has_trim && s->te <= trim_hi))
            return TS_E_PARSE;
        prev = s->te;
        s->njoined = (uint32_t)nj;
        s->nvals_before = (uint16_t)nv;
        j->n++;
        if (fl & 0x80) {
            int rc;
            if (!(s->retired = get_inc(c, r, STATE_VERSION, &rc)))
                return rc;
        }
    }
    return 0;
}

static int import_key(struct corr_engine *c, uint32_t rule, const char *kb, size_t klen,
                      const uint8_t *val, size_t vlen)
{
    const struct crule *cr = &c->rules[rule];
    struct ts_rd r = {.p = val, .n = vlen};
    int version = ts_rd_u8(&r);
    if (klen == 0 || klen > CORR_MAX_KEY_BYTES || version < 1 || version > STATE_VERSION)
        return TS_E_PARSE;
    uint64_t n = ts_rd_var(&r);
    if (r.bad)
        return TS_E_PARSE;
    if (n > c->o.max_entries_per_key)
        return TS_E_LIMIT;
    struct ckey *k = calloc(1, offsetof(struct ckey, kb) + klen);
    if (!k)
        return TS_E_NOMEM;
    k->rule = rule;
    k->klen = (uint32_t)klen;
    k->sid = CORR_NO_SOURCE;
    memcpy(k->kb, kb, klen);
    k->hash = corr_key_hash(rule, kb, klen);
    int rc = 0;
    uint16_t loc[64];
    uint64_t nloc = ts_rd_var(&r);
    if (r.bad || nloc > 64)
        rc = TS_E_PARSE;
    for (uint64_t i = 0; i < nloc && !rc; i++)
        rc = get_source(c, &r, &loc[i]);
    if (!rc && n) {
        k->ent = calloc((size_t)n, sizeof(*k->ent));
        k->cap = (uint32_t)n;
        if (!k->ent)
            rc = TS_E_NOMEM;
    }
    int64_t prev = 0;
    for (uint64_t j = 0; j < n && !rc; j++) {
        struct cent *e = &k->ent[j];
        e->t = prev + unzz(ts_rd_var(&r));
        prev = e->t;
        if (nloc == 0) {
            rc = get_source(c, &r, &e->src);
        } else {
            uint64_t li = ts_rd_var(&r);
            if (li >= nloc)
                rc = TS_E_PARSE;
            else
                e->src = loc[li];
        }
        e->off = unzz(ts_rd_var(&r));
        e->slot = ts_rd_u8(&r);
        e->flags = ts_rd_u8(&r);
        if (version >= 2) {
            uint64_t es = ts_rd_var(&r);
            e->eseq = (uint32_t)es;
            if (es > UINT32_MAX)
                rc = TS_E_PARSE;
        }
        if (needs_value(cr->type))
            e->v.h = get_u64(&r);
        if (!rc && (r.bad || e->slot >= cr->nrefs || (j && e->t < k->ent[j - 1].t)))
            rc = TS_E_PARSE;
        k->n++;
    }
    /* the key's source: the first of the local table (corr_key_export),
     * else that of its newest entry */
    if (!rc && nloc)
        k->sid = loc[0];
    else if (!rc && k->n)
        k->sid = k->ent[k->n - 1].src;
    if (!rc)
        rc = get_vals(&r, &k->vals, &k->nvals, c->o.max_values);
    uint8_t has = rc ? 0 : ts_rd_u8(&r);
    if (!rc && has > 1)
        rc = TS_E_PARSE;
    if (!rc && has)
        k->inc = get_inc(c, &r, version, &rc);
    if (!rc && version >= 2) {
        uint8_t hj = ts_rd_u8(&r);
        if (r.bad || hj > 1)
            rc = TS_E_PARSE;
        else if (hj)
            rc = get_journal(c, k, &r);
    } else if (!rc && k->inc) {
        /* version 1: no journal; the windows so far cannot be rewound */
        rc = journal_new(k);
    }
    if (!rc && (r.bad || r.i != r.n))
        rc = TS_E_PARSE;
    if (!rc) {
        struct ckey *old = corr_key_find(c, rule, kb, klen, k->hash);
        if (old) {
            /* replace in place: swap contents, keep the table slot */
            struct cent *e = old->ent;
            struct cinc *inc = old->inc;
            struct cjournal *jo = old->j;
            struct cval **v = old->vals;
            uint16_t nv = old->nvals;
            old->ent = k->ent;
            old->n = k->n;
            old->cap = k->cap;
            old->inc = k->inc;
            old->j = k->j;
            old->vals = k->vals;
            old->nvals = k->nvals;
            k->ent = e;
            k->inc = inc;
            k->j = jo;
            k->vals = v;
            k->nvals = nv;
            if (k->sid != CORR_NO_SOURCE)
                old->sid = k->sid;
            corr_key_free(c, k);
            return old->inc ? corr_eidx_add(c, old) : 0;
        }
        if (cr->live_keys >= c->o.max_keys_per_rule) {
            c->m.keys_cap_hit++;
            rc = TS_E_LIMIT;
        } else {
            rc = corr_key_insert(c, k);
            if (!rc && k->inc && (rc = corr_eidx_add(c, k)) != 0) {
                corr_key_drop(c, k);
                return rc;
            }
        }
    }
    if (rc)
        corr_key_free(c, k);
    return rc;
}

int corr_state_import(struct corr_engine *c, const void *key, size_t key_len, const void *val,
                      size_t val_len)
{
    const uint8_t *kp = key;
    struct ts_rd r = {.p = val, .n = val_len};
    if (hkey_is(kp, key_len)) { /* a long name: at the head of the value */
        uint64_t nlen = ts_rd_var(&r);
        const uint8_t *name = r.bad || nlen > CORR_MAX_NAME_BYTES ? NULL
                                                                  : get_bytes(&r, (size_t)nlen);
        uint8_t hk[CORR_HKEY_LEN];
        if (!name || hkey_is(name, (size_t)nlen))
            return TS_E_PARSE;
        hkey_make(name, (size_t)nlen, hk);
        if (memcmp(hk, kp, CORR_HKEY_LEN) != 0)
            return TS_E_PARSE;
        return corr_state_import(c, name, (size_t)nlen, r.p + r.i, r.n - r.i);
    }
    if (c->out_done)
        corr_batch_clear(c);
    if (key_len >= 7 && kp[0] == 1 && kp[1] == 's') {
        int32_t part = (int32_t)(((uint32_t)kp[3] << 24) | ((uint32_t)kp[4] << 16) |
                                 ((uint32_t)kp[5] << 8) | kp[6]);
        int64_t mt = unzz(ts_rd_var(&r));
        if (r.bad || r.i != r.n)
            return TS_E_PARSE;
        uint32_t sid;
        int rc = corr_source_intern(c, kp[2], (const char *)kp + 7, key_len - 7, part, &sid);
        if (rc)
            return rc;
        if (mt > c->src[sid].max_t)
            c->src[sid].max_t = mt;
        corr_wm_recompute(c);
        return 0;
    }
    long rule;
    const char *kb;
    size_t klen;
    (void)key_lookup(c, key, key_len, &rule, &kb, &klen);
    if (rule < 0)
        return key_len >= 1 && kp[0] == 'k' ? TS_E_NOTFOUND : TS_E_PARSE;
    return import_key(c, (uint32_t)rule, kb, klen, val, val_len);
}

long corr_state_drop(struct corr_engine *c,
                     bool (*drop)(void *ctx, const void *name, size_t len), void *ctx)
{
    struct ts_buf nb;
    ts_buf_init(&nb, 0);
    struct ckey **gone = NULL;
    size_t n = 0, cap = 0;
    long rc = 0;
    for (size_t i = 0; i < c->tabcap; i++) {
        struct ckey *k = c->tab[i].k;
        if (!k)
            continue;
        nb.len = 0;
        if (corr_key_name(c, k, &nb) != 0) {
            rc = TS_E_NOMEM;
            break;
        }
        if (!drop(ctx, nb.data, nb.len))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            struct ckey **g = realloc(gone, ncap * sizeof(*g));
            if (!g) {
                rc = TS_E_NOMEM;
                break;
            }
            gone = g;
            cap = ncap;
        }
        gone[n++] = k;
    }
    /* after the walk: removal shifts the table's slots */
    for (size_t i = 0; !rc && i < n; i++)
        corr_key_drop(c, gone[i]);
    free(gone);
    ts_buf_free(&nb);
    return rc ? rc : (long)n;
}

/* -------------------------------------------------------------- batch */

void corr_batch_clear(struct corr_engine *c)
{
    c->nincs = c->nevs = c->nitems = 0;
    ts_arena_reset(c->barena);
    ts_buf_reset(&c->sbuf);
    c->out_done = false;
}

void corr_batch_begin(struct corr_engine *c)
{
    if (c->out_done)
        corr_batch_clear(c);
}

static char *adup(struct corr_engine *c, const char *s, size_t n)
{
    return ts_arena_strndup(c->barena, s, n);
}

int corr_incident_view(struct corr_engine *c, const struct ckey *k, struct cinc *inc,
                       bool retracted)
{
    const struct crule *cr = &c->rules[k->rule];
    if (c->nincs == c->inccap) {
        size_t ncap = c->inccap ? c->inccap * 2 : 64;
        struct corr_incident *n = realloc(c->incs, ncap * sizeof(*n));
        if (!n)
            return TS_E_NOMEM;
        c->incs = n;
        c->inccap = ncap;
    }
    struct corr_incident *v = &c->incs[c->nincs];
    memset(v, 0, sizeof(*v));
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        v->id[i] = hx[(inc->id_hi >> (60 - 4 * i)) & 15];
        v->id[16 + i] = hx[(inc->id_lo >> (60 - 4 * i)) & 15];
    }
    v->rule_id = corr_rule_label(cr);
    v->rule_title = cr->info->title;
    v->rule_type = corr_type_names[cr->type];
    v->severity = inc->severity;
    size_t tl = strnlen(k->kb, k->klen);
    v->tenant = adup(c, k->kb, tl);
    const char **gv = ts_arena_alloc(c->barena, (cr->ngroup + 1) * sizeof(*gv));
    const char **gf = ts_arena_alloc(c->barena, (cr->ngroup + 1) * sizeof(*gf));
    const char **vals = ts_arena_alloc(c->barena, (inc->nvals + 1u) * sizeof(*vals));
    if (!v->tenant || !gv || !gf || !vals)
        return TS_E_NOMEM;
    size_t off = tl + 1, ng = 0;
    for (size_t g = 0; g < cr->ngroup; g++) {
        uint64_t len = 0;
        size_t u = off < k->klen ? ts_varint_get((const uint8_t *)k->kb + off, k->klen - off,
                                                   &len)
                                 : 0;
        bool present = true;
        if (cr->type == CT_DETECTION) { /* len + 1; 0: the event had no such field */
            present = len > 0;
            len = present ? len - 1 : 0;
        }
        if (!u || len > k->klen - off - u)
            return TS_E_PARSE;
        if (present) {
            gf[ng] = cr->group[g];
            if (!(gv[ng++] = adup(c, k->kb + off + u, (size_t)len)))
                return TS_E_NOMEM;
        }
        off += u + (size_t)len;
    }
    v->ngroup = ng;
    v->group_fields = gf;
    v->group_values = gv;
    for (uint16_t i = 0; i < inc->nvals; i++)
        if (!(vals[i] = adup(c, inc->vals[i]->s, inc->vals[i]->len)))
            return TS_E_NOMEM;
    v->values = vals;
    v->nvalues = inc->nvals;
    v->value_field = cr->value_field;
    v->values_capped = inc->values_capped;
    v->tags = cr->tags;
    v->ntags = cr->ntags;
    v->episode_start = inc->episode;
    v->first_seen = corr_inc_first(inc);
    v->last_seen = corr_inc_last(inc);
    v->count = inc->count;
    v->late = inc->late;
    v->linked = inc->linked;
    v->retracted = retracted;
    v->created = !inc->emitted && !retracted;
    c->nincs++;
    if (retracted)
        return 0;
    if (v->created)
        c->m.incidents_created++;
    else
        c->m.incidents_updated++;
    inc->emitted = true;
    inc->dirty = false;
    return 0;
}

static int push_item(struct corr_engine *c, size_t koff, size_t klen, size_t voff, size_t vlen,
                     bool deleted)
{
    if (c->nitems == c->itemcap) {
        size_t ncap = c->itemcap ? c->itemcap * 2 : 256;
        struct corr_state_item *n = realloc(c->items, ncap * sizeof(*n));
        if (!n)
            return TS_E_NOMEM;
        c->items = n;
        c->itemcap = ncap;
    }
    /* offsets for now; turned into pointers once sbuf stops moving */
    c->items[c->nitems++] = (struct corr_state_item){(const void *)(uintptr_t)koff, klen,
                                                     (const void *)(uintptr_t)voff, vlen, deleted};
    return 0;
}

void corr_batch_hold(struct corr_engine *c)
{
    if (c->out_done) /* nothing held: the last output is taken */
        corr_batch_clear(c);
    corr_sweep(c, 4096);
}

int corr_batch_end(struct corr_engine *c, struct corr_batch *out)
{
    memset(out, 0, sizeof(*out));
    if (c->out_done)
        corr_batch_clear(c);
    corr_sweep(c, 4096);
    int rc = 0;
    for (size_t i = 0; i < c->ndirty && !rc; i++)
        if (c->dirty[i]->inc && c->dirty[i]->inc->dirty)
            rc = corr_incident_view(c, c->dirty[i], c->dirty[i]->inc, false);
    struct ts_buf *b = &c->sbuf;
    bool exp = !c->o.no_state_export;
    for (size_t i = 0; exp && i < c->ndirty && !rc; i++) {
        struct ckey *k = c->dirty[i];
        size_t koff = b->len;
        rc = corr_key_name(c, k, b);
        bool empty = !k->n && !k->inc && !k->nvals;
        size_t klen = b->len - koff;
        if (!rc && klen > STORE_STATE_KEY_MAX) {
            rc = hkey_rewrite(c, b, koff, empty);
            klen = CORR_HKEY_LEN;
        }
        size_t voff = koff + klen;
        if (!rc && !empty)
            rc = corr_key_export(c, k, b);
        if (!rc)
            rc = push_item(c, koff, klen, voff, b->len - voff, empty);
    }
    for (size_t i = 0; i < c->nsrc && !rc; i++) {
        struct csource *s = &c->src[i];
        if (!s->dirty)
            continue;
        if (!exp) {
            s->dirty = false;
            continue;
        }
        size_t koff = b->len;
        rc = src_name(s, b);
        size_t klen = b->len - koff;
        if (!rc && klen > STORE_STATE_KEY_MAX) {
            rc = hkey_rewrite(c, b, koff, false);
            klen = CORR_HKEY_LEN;
        }
        size_t voff = koff + klen;
        rc = rc ? rc : put_var(b, zz(s->max_t));
        rc = rc ? rc : push_item(c, koff, klen, voff, b->len - voff, false);
        s->dirty = false;
    }
    if (rc) {
        c->m.nomem++;
        return rc;
    }
    /* free the keys that became empty; clear dirty marks */
    for (size_t i = 0; i < c->ndirty; i++) {
        struct ckey *k = c->dirty[i];
        k->dirty = false;
        if (!k->n && !k->inc && !k->nvals)
            corr_key_drop(c, k);
    }
    c->ndirty = 0;
    for (size_t i = 0; i < c->nitems; i++) {
        c->items[i].key = b->data + (uintptr_t)c->items[i].key;
        c->items[i].val = c->items[i].deleted ? NULL : b->data + (uintptr_t)c->items[i].val;
        if (c->items[i].deleted)
            c->items[i].val_len = 0;
    }
    out->incidents = c->incs;
    out->nincidents = c->nincs;
    out->evidence = c->evs;
    out->nevidence = c->nevs;
    out->state = c->items;
    out->nstate = c->nitems;
    c->out_done = true;
    for (size_t i = 0; i < c->nincs && !rc; i++)
        if (c->cb)
            rc = c->cb(c->cbctx, &c->incs[i]);
    return rc;
}

/* --------------------------------------------------------------- JSON */

static int jkv(struct ts_buf *b, const char *k, const char *v)
{
    int rc = ts_buf_printf(b, ",\"%s\":", k);
    return rc ? rc : v ? ts_buf_json_str(b, v, strlen(v)) : ts_buf_puts(b, "null");
}

static int jtime(struct ts_buf *b, const char *k, int64_t ns)
{
    char t[48];
    ts_format_rfc3339(ns, t, sizeof(t));
    return ts_buf_printf(b, ",\"%s\":\"%s\"", k, t);
}

int corr_incident_json(const struct corr_incident *v, struct ts_buf *b)
{
    int rc = ts_buf_printf(b, "{\"id\":\"%s\",\"event\":\"%s\"", v->id,
                           v->retracted ? "retracted" : v->created ? "created" : "updated");
    rc = rc ? rc : jkv(b, "rule_id", v->rule_id);
    rc = rc ? rc : jkv(b, "rule_title", v->rule_title);
    rc = rc ? rc : jkv(b, "type", v->rule_type);
    rc = rc ? rc : jkv(b, "severity", corr_severity_name(v->severity));
    rc = rc ? rc : jkv(b, "tenant", v->tenant);
    rc = rc ? rc : ts_buf_puts(b, ",\"group\":{");
    for (size_t i = 0; i < v->ngroup && !rc; i++) {
        rc = i ? ts_buf_putc(b, ',') : 0;
        rc = rc ? rc : ts_buf_json_str(b, v->group_fields[i], strlen(v->group_fields[i]));
        rc = rc ? rc : ts_buf_putc(b, ':');
        rc = rc ? rc : ts_buf_json_str(b, v->group_values[i], strlen(v->group_values[i]));
    }
    rc = rc ? rc : ts_buf_putc(b, '}');
    rc = rc ? rc : jtime(b, "episode_start", v->episode_start);
    rc = rc ? rc : jtime(b, "first_seen", v->first_seen);
    rc = rc ? rc : jtime(b, "last_seen", v->last_seen);
    rc = rc ? rc : ts_buf_printf(b, ",\"count\":%llu,\"late\":%llu,\"linked\":%llu",
                                 (unsigned long long)v->count, (unsigned long long)v->late,
                                 (unsigned long long)v->linked);
    rc = rc ? rc : ts_buf_puts(b, ",\"values\":[");
    for (size_t i = 0; i < v->nvalues && !rc; i++) {
        rc = i ? ts_buf_putc(b, ',') : 0;
        rc = rc ? rc : ts_buf_json_str(b, v->values[i], strlen(v->values[i]));
    }
    rc = rc ? rc : ts_buf_printf(b, "],\"values_capped\":%s,\"tags\":[",
                                 v->values_capped ? "true" : "false");
    for (size_t i = 0; i < v->ntags && !rc; i++) {
        rc = i ? ts_buf_putc(b, ',') : 0;
        rc = rc ? rc : ts_buf_json_str(b, v->tags[i], strlen(v->tags[i]));
    }
    return rc ? rc : ts_buf_puts(b, "]}");
}

int corr_evidence_json(const struct corr_evidence *e, struct ts_buf *b)
{
    int rc = ts_buf_printf(b, "{\"incident\":\"%s\"", e->incident);
    rc = rc ? rc : jtime(b, "time", e->time_ns);
    if (!rc && e->kind == TS_SRC_KAFKA) {
        rc = ts_buf_puts(b, ",\"source\":{\"topic\":");
        rc = rc ? rc : ts_buf_json_str(b, e->source, strlen(e->source));
        rc = rc ? rc : ts_buf_printf(b, ",\"partition\":%d,\"offset\":%lld}", (int)e->partition,
                                     (long long)e->offset);
    } else if (!rc) {
        rc = ts_buf_puts(b, ",\"source\":{\"file\":");
        rc = rc ? rc : ts_buf_json_str(b, e->source, strlen(e->source));
        rc = rc ? rc : ts_buf_printf(b, ",\"line\":%lld}", (long long)e->offset);
    }
    rc = rc ? rc : ts_buf_printf(b, ",\"late\":%s", e->late ? "true" : "false");
    if (!rc && e->linked) {
        rc = ts_buf_puts(b, ",\"linked\":true,\"rule_id\":");
        rc = rc ? rc : ts_buf_json_str(b, e->rule_id ? e->rule_id : "",
                                       e->rule_id ? strlen(e->rule_id) : 0);
    }
    if (!rc && e->raw) {
        rc = ts_buf_puts(b, ",\"raw\":");
        rc = rc ? rc : ts_buf_json_str(b, e->raw, e->raw_len);
    }
    return rc ? rc : ts_buf_putc(b, '}');
}
