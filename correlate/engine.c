/* engine.c - the correlation engine: detections in, per (correlation, group
 * key) sliding windows on event time, watermarks per source, incidents and
 * their evidence out.
 *
 * Semantics (docs/correlation.md): at every contributing event time te the
 * condition is evaluated over the events of the key with time in
 * [te - timespan, te] (both ends inclusive). An event that arrives out of
 * order but within the lateness allowance is inserted in time order and the
 * windows it falls into are evaluated as if it had come in order. An event
 * beyond the allowance only amends the key's incident (or is kept as orphan
 * evidence). The engine owns every key; not thread-safe (see correlate.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "corr_int.h"

#define DEF_LATENESS (5LL * 60 * 1000000000LL)
#define DEF_IDLE (3600LL * 1000000000LL)
#define DEF_HORIZON (3600LL * 1000000000LL)

/* ------------------------------------------------------------ hashing */

uint64_t corr_hash(const void *p, size_t n, uint64_t seed)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ULL ^ (seed * 0x9e3779b97f4a7c15ULL);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    h ^= (uint64_t)n;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t corr_key_hash(uint32_t rule, const char *kb, size_t klen)
{
    return corr_hash(kb, klen, (uint64_t)rule + 1);
}

static int64_t sat_sub(int64_t a, int64_t b)
{
    return a < INT64_MIN + b ? INT64_MIN : a - b;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* ---------------------------------------------------------- key table */

struct ckey *corr_key_find(struct corr_engine *c, uint32_t rule, const char *kb, size_t klen,
                           uint64_t h)
{
    if (!c->tabcap)
        return NULL;
    size_t mask = c->tabcap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct ctab_slot *sl = &c->tab[i];
        if (!sl->k)
            return NULL;
        if (sl->hash == h) {
            struct ckey *k = sl->k;
            if (k->rule == rule && k->klen == klen && memcmp(k->kb, kb, klen) == 0)
                return k;
        }
    }
}

static int tab_grow(struct corr_engine *c)
{
    size_t ncap = c->tabcap ? c->tabcap * 2 : 1024;
    if (ncap > ((size_t)1 << 31))
        return TS_E_LIMIT;
    struct ctab_slot *nt = calloc(ncap, sizeof(*nt));
    if (!nt)
        return TS_E_NOMEM;
    for (size_t i = 0; i < c->tabcap; i++) {
        if (!c->tab[i].k)
            continue;
        size_t j = c->tab[i].hash & (ncap - 1);
        while (nt[j].k)
            j = (j + 1) & (ncap - 1);
        nt[j] = c->tab[i];
    }
    free(c->tab);
    c->tab = nt;
    c->tabcap = ncap;
    return 0;
}

/* The tenant of kb (its text up to the first NUL), found or added. */
static int tenant_find(struct corr_engine *c, const char *kb, size_t klen, uint32_t *out)
{
    size_t tl = strnlen(kb, klen);
    if (tl > TS_TENANT_MAX)
        return TS_E_INVAL;
    uint64_t h = corr_hash(kb, tl, 0x7e4a47ULL);
    if (c->tenant_idxcap) {
        size_t mask = c->tenant_idxcap - 1;
        for (size_t i = h & mask; c->tenant_idx[i]; i = (i + 1) & mask) {
            const struct ctenant *t = &c->tenants[c->tenant_idx[i] - 1];
            if (t->hash == h && strlen(t->name) == tl && memcmp(t->name, kb, tl) == 0) {
                *out = c->tenant_idx[i] - 1;
                return 0;
            }
        }
    }
    if (c->ntenants >= CORR_MAX_TENANTS)
        return TS_E_LIMIT;
    if ((c->ntenants + 1) * 2 > c->tenant_idxcap) { /* grow the index, rehash */
        size_t ncap = c->tenant_idxcap ? c->tenant_idxcap * 2 : 16;
        uint32_t *ni = calloc(ncap, sizeof(*ni));
        if (!ni)
            return TS_E_NOMEM;
        for (size_t j = 0; j < c->ntenants; j++) {
            size_t i = c->tenants[j].hash & (ncap - 1);
            while (ni[i])
                i = (i + 1) & (ncap - 1);
            ni[i] = (uint32_t)j + 1;
        }
        free(c->tenant_idx);
        c->tenant_idx = ni;
        c->tenant_idxcap = ncap;
    }
    if (c->ntenants == c->tenantcap) {
        size_t ncap = c->tenantcap ? c->tenantcap * 2 : 8;
        struct ctenant *nt = realloc(c->tenants, ncap * sizeof(*nt));
        if (!nt)
            return TS_E_NOMEM;
        c->tenants = nt;
        c->tenantcap = ncap;
    }
    struct ctenant *t = &c->tenants[c->ntenants];
    memset(t, 0, sizeof(*t));
    memcpy(t->name, kb, tl);
    t->hash = h;
    size_t mask = c->tenant_idxcap - 1;
    size_t i = h & mask;
    while (c->tenant_idx[i])
        i = (i + 1) & mask;
    c->tenant_idx[i] = (uint32_t)c->ntenants + 1;
    *out = (uint32_t)c->ntenants++;
    return 0;
}

int corr_key_insert(struct corr_engine *c, struct ckey *k)
{
    uint32_t tid;
    int rc = tenant_find(c, k->kb, k->klen, &tid);
    if (rc == TS_E_INVAL || rc == TS_E_LIMIT) {
        c->m.bad_tenant++;
        return TS_E_LIMIT;
    }
    if (rc)
        return rc;
    if (c->tenants[tid].live_keys >= c->o.max_keys_per_tenant) {
        c->tenants[tid].cap_hits++;
        c->m.tenant_keys_cap_hit++;
        return TS_E_LIMIT;
    }
    k->tid = tid;
    if ((c->nkeys + 1) * 10 >= c->tabcap * 7 && (rc = tab_grow(c)) != 0)
        return rc;
    size_t mask = c->tabcap - 1;
    size_t i = k->hash & mask;
    while (c->tab[i].k)
        i = (i + 1) & mask;
    c->tab[i] = (struct ctab_slot){k->hash, k};
    c->nkeys++;
    c->rules[k->rule].live_keys++;
    c->tenants[tid].live_keys++;
    return 0;
}

/* Remove from the table (backward-shift deletion). */
static void tab_remove(struct corr_engine *c, struct ckey *k)
{
    size_t mask = c->tabcap - 1;
    size_t i = k->hash & mask;
    while (c->tab[i].k != k)
        i = (i + 1) & mask;
    c->tab[i].k = NULL;
    for (size_t j = (i + 1) & mask; c->tab[j].k; j = (j + 1) & mask) {
        size_t home = c->tab[j].hash & mask;
        /* can the entry at j move to the hole at i? */
        bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            c->tab[i] = c->tab[j];
            c->tab[j].k = NULL;
            i = j;
        }
    }
    c->nkeys--;
    c->rules[k->rule].live_keys--;
    c->tenants[k->tid].live_keys--;
}

static void vals_free(struct cval **v, uint16_t n)
{
    for (uint16_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void inc_free(struct cinc *inc)
{
    if (!inc)
        return;
    vals_free(inc->vals, inc->nvals);
    free(inc);
}

void corr_key_free(struct corr_engine *c, struct ckey *k)
{
    (void)c;
    if (!k)
        return;
    free(k->ent);
    inc_free(k->inc);
    vals_free(k->vals, k->nvals);
    free(k);
}

void corr_key_drop(struct corr_engine *c, struct ckey *k)
{
    tab_remove(c, k);
    corr_key_free(c, k);
}

size_t corr_key_bytes(const struct ckey *k)
{
    size_t b = sizeof(*k) + k->klen + (size_t)k->cap * sizeof(struct cent) + 2 * sizeof(void *);
    if (k->inc)
        b += sizeof(*k->inc) + k->inc->nvals * (sizeof(void *) + sizeof(struct cval) + 16);
    b += k->nvals * (sizeof(void *) + sizeof(struct cval) + 16);
    return b;
}

int corr_mark_dirty(struct corr_engine *c, struct ckey *k)
{
    if (k->dirty)
        return 0;
    if (c->ndirty == c->dirtycap) {
        size_t ncap = c->dirtycap ? c->dirtycap * 2 : 256;
        struct ckey **n = realloc(c->dirty, ncap * sizeof(*n));
        if (!n)
            return TS_E_NOMEM;
        c->dirty = n;
        c->dirtycap = ncap;
    }
    c->dirty[c->ndirty++] = k;
    k->dirty = true;
    return 0;
}

/* ---------------------------------------------------- sources, watermark */

int corr_source_intern(struct corr_engine *c, uint8_t kind, const char *name, size_t nlen,
                       int32_t part, uint32_t *out)
{
    uint64_t h = corr_hash(name, nlen, ((uint64_t)kind << 32) ^ (uint32_t)part);
    for (size_t i = 0; i < c->nsrc; i++) {
        const struct csource *s = &c->src[i];
        if (s->hash == h && s->kind == kind && s->partition == part &&
            strlen(s->name) == nlen && memcmp(s->name, name, nlen) == 0) {
            *out = (uint32_t)i;
            return 0;
        }
    }
    if (c->nsrc >= CORR_MAX_SOURCES)
        return TS_E_LIMIT;
    if (c->nsrc == c->srccap) {
        size_t ncap = c->srccap ? c->srccap * 2 : 8;
        struct csource *n = realloc(c->src, ncap * sizeof(*n));
        if (!n)
            return TS_E_NOMEM;
        c->src = n;
        c->srccap = ncap;
    }
    char *d = malloc(nlen + 1);
    if (!d)
        return TS_E_NOMEM;
    memcpy(d, name, nlen);
    d[nlen] = '\0';
    c->src[c->nsrc] = (struct csource){.name = d, .hash = h, .partition = part, .kind = kind,
                                       .max_t = INT64_MIN};
    *out = (uint32_t)c->nsrc++;
    return 0;
}

/* wm = min over non-idle sources of (newest - lateness): it can go down when
 * a new source starts behind the others, by at most idle + lateness below the
 * newest event; floor = newest - idle - lateness never goes down. Lazy
 * eviction on access uses wm, background sweeps use floor, so a sweep never
 * removes what a later access would still have seen (results do not depend
 * on when sweeps run, i.e. on batching). */
void corr_wm_recompute(struct corr_engine *c)
{
    int64_t gmax = INT64_MIN;
    for (size_t i = 0; i < c->nsrc; i++)
        if (c->src[i].max_t > gmax)
            gmax = c->src[i].max_t;
    if (gmax == INT64_MIN)
        return;
    int64_t idle_before = sat_sub(gmax, c->o.idle_ns);
    int64_t lo = INT64_MAX;
    for (size_t i = 0; i < c->nsrc; i++)
        if (c->src[i].max_t != INT64_MIN && c->src[i].max_t >= idle_before && c->src[i].max_t < lo)
            lo = c->src[i].max_t;
    c->wm = sat_sub(lo, c->o.lateness_ns);
    int64_t fl = sat_sub(idle_before, c->o.lateness_ns);
    if (fl > c->floor)
        c->floor = fl;
}

/* ------------------------------------------------------- value helpers */

/* Text of a value for keys and display; -1 when absent/unusable. */
static long render_value(const struct ts_value *v, char *buf, size_t cap)
{
    int n;
    switch (v->type) {
    case TS_V_STR:
        if (v->len > cap)
            return -1;
        memcpy(buf, v->u.s, v->len);
        return (long)v->len;
    case TS_V_INT:
        n = snprintf(buf, cap, "%lld", (long long)v->u.i);
        break;
    case TS_V_FLOAT:
        n = snprintf(buf, cap, "%.17g", v->u.f);
        break;
    case TS_V_BOOL:
        n = snprintf(buf, cap, "%s", v->u.b ? "true" : "false");
        break;
    case TS_V_IP:
        if (cap < 46)
            return -1;
        ts_ip_format(&v->u.ip, buf, cap);
        return (long)strlen(buf);
    default:
        return -1;
    }
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

static bool value_number(const struct ts_value *v, char *tmp, size_t cap, double *out)
{
    switch (v->type) {
    case TS_V_INT:
        *out = (double)v->u.i;
        return true;
    case TS_V_FLOAT:
        *out = v->u.f;
        return isfinite(v->u.f);
    case TS_V_STR: {
        if (v->len == 0 || v->len >= cap)
            return false;
        memcpy(tmp, v->u.s, v->len);
        tmp[v->len] = '\0';
        char *end = NULL;
        double d = strtod(tmp, &end);
        if (!end || *end || !isfinite(d))
            return false;
        *out = d;
        return true;
    }
    default:
        return false;
    }
}

/* kb = tenant NUL (varint len, bytes)*; returns length or -1 (missing field)
 * or -2 (too long). */
/* A group value longer than CORR_MAX_VALUE_BYTES (hostile input: a 600-byte
 * Computer name) is keyed as its head, cut at a UTF-8 boundary, then
 * "…#" and 32 hex digits of its SHA-256: keys stay bounded, distinct values
 * stay distinct, and the incident still shows a readable value (the whole
 * one is in the evidence's raw event). Returns the bytes written to out
 * (room for CORR_MAX_VALUE_BYTES). */
#define CORR_VALUE_HEAD 192
static size_t long_value_key(const char *p, size_t len, char *out)
{
    size_t head = CORR_VALUE_HEAD;
    while (head > 0 && ((unsigned char)p[head] & 0xC0) == 0x80)
        head--; /* p[head] starts the first character left out */
    memcpy(out, p, head);
    memcpy(out + head, "\xe2\x80\xa6#", 4);
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)p, len, d);
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[head + 4 + 2 * i] = hx[d[i] >> 4];
        out[head + 5 + 2 * i] = hx[d[i] & 15];
    }
    return head + 4 + 32;
}

static long build_key(struct corr_engine *c, const struct crule *cr, const struct cref *ref,
                      const struct ts_event *ev)
{
    const char *tenant = ev->tenant ? ev->tenant : "";
    size_t tl = strlen(tenant);
    if (tl > TS_TENANT_MAX)
        return -3; /* checked where tenants enter; never stored */
    memcpy(c->kbuf, tenant, tl);
    c->kbuf[tl] = '\0';
    size_t n = tl + 1;
    char tmp[CORR_MAX_VALUE_BYTES];
    for (size_t g = 0; g < cr->ngroup; g++) {
        const struct ts_field *f = ts_event_get(ev, ref->gfield[g], ref->glen[g]);
        if (!f)
            return -1;
        const char *p;
        long len;
        if (f->v.type == TS_V_STR && f->v.len > CORR_MAX_VALUE_BYTES) {
            len = (long)long_value_key(f->v.u.s, f->v.len, tmp);
            p = tmp;
            c->m.values_hashed++;
        } else if (f->v.type == TS_V_STR) {
            p = f->v.u.s;
            len = (long)f->v.len;
        } else {
            len = render_value(&f->v, tmp, sizeof(tmp));
            p = tmp;
        }
        if (len < 0)
            return -1;
        if (n + 10 + (size_t)len > CORR_MAX_KEY_BYTES)
            return -2; /* cannot happen: 16 values of <= 256 bytes and a tenant */
        n += corr_varint_put((uint8_t *)c->kbuf + n, (uint64_t)len);
        memcpy(c->kbuf + n, p, (size_t)len);
        n += (size_t)len;
    }
    return (long)n;
}

/* value_count: hash of the value tuple and its display text in c->vbuf. */
static bool tuple_value(struct corr_engine *c, const struct crule *cr, const struct cref *ref,
                        const struct ts_event *ev, uint64_t *h, size_t *dlen)
{
    uint64_t acc = 0x51ed270b27e2a9c7ULL;
    size_t dl = 0;
    char tmp[CORR_MAX_VALUE_BYTES];
    for (size_t i = 0; i < cr->nfields; i++) {
        const struct ts_field *f = ts_event_get(ev, ref->vfield[i], ref->vlen[i]);
        if (!f)
            return false;
        const char *p;
        long len;
        if (f->v.type == TS_V_STR) {
            p = f->v.u.s;
            len = (long)f->v.len;
        } else {
            len = render_value(&f->v, tmp, sizeof(tmp));
            p = tmp;
        }
        if (len < 0)
            return false;
        acc = corr_hash(p, (size_t)len, acc);
        if (i && dl + 2 < sizeof(c->vbuf)) {
            memcpy(c->vbuf + dl, ", ", 2);
            dl += 2;
        }
        size_t take = (size_t)len < sizeof(c->vbuf) - dl ? (size_t)len : sizeof(c->vbuf) - dl;
        memcpy(c->vbuf + dl, p, take);
        dl += take;
    }
    *h = acc ? acc : 1;
    *dlen = dl;
    return true;
}

static int vals_add(struct cval ***arr, uint16_t *n, uint32_t cap, uint64_t h, const char *s,
                    size_t len, bool *capped)
{
    for (uint16_t i = 0; i < *n; i++)
        if ((*arr)[i]->h == h)
            return 0;
    if (*n >= cap) {
        if (capped)
            *capped = true;
        return 0;
    }
    struct cval **na = realloc(*arr, (*n + 1) * sizeof(**arr));
    if (!na)
        return TS_E_NOMEM;
    *arr = na;
    struct cval *v = malloc(sizeof(*v) + len + 1);
    if (!v)
        return TS_E_NOMEM;
    v->h = h;
    v->len = (uint32_t)len;
    memcpy(v->s, s, len);
    v->s[len] = '\0';
    na[(*n)++] = v;
    return 0;
}

/* ------------------------------------------------------------ windows */

/* First index with t >= x. */
static uint32_t lower_bound(const struct cent *e, uint32_t n, int64_t x)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (e[mid].t < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First index with t > x. */
static uint32_t upper_bound(const struct cent *e, uint32_t n, int64_t x)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (e[mid].t <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Aggregate of entries [lo, hi). Returns 0 or TS_E_NOMEM. */
static int aggregate(struct corr_engine *c, const struct crule *cr, const struct ckey *k,
                     uint32_t lo, uint32_t hi, double *out)
{
    const struct cent *e = k->ent;
    uint32_t w = hi - lo;
    switch (cr->type) {
    case CT_EVENT_COUNT:
    case CT_GROUPING:
        *out = w;
        return 0;
    case CT_VALUE_COUNT: {
        size_t need = 16;
        while (need < (size_t)w * 2)
            need *= 2;
        if (need > c->hsetcap) {
            uint64_t *n = realloc(c->hset, need * sizeof(*n));
            if (!n)
                return TS_E_NOMEM;
            c->hset = n;
            c->hsetcap = need;
        }
        memset(c->hset, 0, need * sizeof(*c->hset));
        uint32_t distinct = 0;
        for (uint32_t j = lo; j < hi; j++) {
            uint64_t h = e[j].v.h;
            size_t i = h & (need - 1);
            while (c->hset[i] && c->hset[i] != h)
                i = (i + 1) & (need - 1);
            if (!c->hset[i]) {
                c->hset[i] = h;
                distinct++;
            }
        }
        *out = distinct;
        return 0;
    }
    case CT_TEMPORAL: {
        uint64_t mask = 0;
        for (uint32_t j = lo; j < hi; j++)
            mask |= 1ULL << e[j].slot;
        *out = __builtin_popcountll(mask);
        return 0;
    }
    case CT_TEMPORAL_ORDERED: {
        uint32_t want = 0;
        for (uint32_t j = lo; j < hi && want < cr->nrefs; j++)
            if (e[j].slot == want)
                want++;
        *out = want;
        return 0;
    }
    case CT_VALUE_SUM:
    case CT_VALUE_AVG: {
        double s = 0;
        for (uint32_t j = lo; j < hi; j++)
            s += e[j].v.num;
        *out = cr->type == CT_VALUE_SUM ? s : w ? s / w : 0;
        return 0;
    }
    case CT_VALUE_PERCENTILE: {
        if (w > c->numscap) {
            double *n = realloc(c->nums, (size_t)w * 2 * sizeof(*n));
            if (!n)
                return TS_E_NOMEM;
            c->nums = n;
            c->numscap = (size_t)w * 2;
        }
        for (uint32_t j = lo; j < hi; j++)
            c->nums[j - lo] = e[j].v.num;
        qsort(c->nums, w, sizeof(double), cmp_double);
        /* nearest rank: the smallest value with at least p% of values <= it */
        double r = ceil(cr->percentile / 100.0 * w);
        size_t idx = r < 1 ? 0 : (size_t)r - 1;
        *out = w ? c->nums[idx < w ? idx : w - 1] : 0;
        return 0;
    }
    }
    return 0;
}

static bool cond_holds(const struct crule *cr, double v)
{
    for (size_t i = 0; i < cr->nconds; i++) {
        double t = cr->conds[i].v;
        bool ok;
        switch (cr->conds[i].op) {
        case OP_GT: ok = v > t; break;
        case OP_GTE: ok = v >= t; break;
        case OP_LT: ok = v < t; break;
        case OP_LTE: ok = v <= t; break;
        case OP_EQ: ok = v == t; break;
        default: ok = v != t; break;
        }
        if (!ok)
            return false;
    }
    return true;
}

/* ---------------------------------------------------------- incidents */

static void inc_make_id(const struct crule *cr, const struct ckey *k, struct cinc *inc)
{
    uint64_t a = corr_hash(cr->skey, strlen(cr->skey), 0x7463);
    a = corr_hash(k->kb, k->klen, a);
    a = corr_hash(&inc->episode, sizeof(inc->episode), a);
    uint64_t b = corr_hash(&inc->episode, sizeof(inc->episode), 0x6f63);
    b = corr_hash(k->kb, k->klen, b);
    b = corr_hash(cr->skey, strlen(cr->skey), b);
    inc->id_hi = a;
    inc->id_lo = b;
}

static void id_hex(const struct cinc *inc, char out[33])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[i] = hx[(inc->id_hi >> (60 - 4 * i)) & 15];
        out[16 + i] = hx[(inc->id_lo >> (60 - 4 * i)) & 15];
    }
    out[32] = '\0';
}

static int push_evidence(struct corr_engine *c, const struct cinc *inc, const struct cent *e,
                         const struct ts_event *ev, bool late);

/* A late event no incident covers: evidence without incident id, with the
 * rule and tenant so that the store keeps it (store_late_put). */
static int push_orphan(struct corr_engine *c, const struct crule *cr, const struct cent *e,
                       const struct ts_event *ev)
{
    int rc = push_evidence(c, NULL, e, ev, true);
    if (!rc) {
        struct corr_evidence *x = &c->evs[c->nevs - 1];
        x->rule_id = corr_rule_label(cr);
        x->tenant = ev && ev->tenant ? ts_arena_strndup(c->barena, ev->tenant,
                                                        strlen(ev->tenant))
                                     : "";
        if (!x->tenant)
            x->tenant = "";
    }
    return rc;
}

static int push_evidence(struct corr_engine *c, const struct cinc *inc, const struct cent *e,
                         const struct ts_event *ev, bool late)
{
    if (c->nevs == c->evcap) {
        size_t ncap = c->evcap ? c->evcap * 2 : 256;
        struct corr_evidence *n = realloc(c->evs, ncap * sizeof(*n));
        if (!n)
            return TS_E_NOMEM;
        c->evs = n;
        c->evcap = ncap;
    }
    struct corr_evidence *x = &c->evs[c->nevs++];
    memset(x, 0, sizeof(*x));
    if (inc)
        id_hex(inc, x->incident);
    x->time_ns = e->t;
    const struct csource *s = &c->src[e->src];
    x->kind = s->kind;
    x->source = s->name;
    x->partition = s->partition;
    x->offset = e->off;
    x->late = late;
    if (ev && c->o.evidence_attr) {
        const struct ts_field *f = ts_event_getz(ev, c->o.evidence_attr);
        if (f && f->v.type == TS_V_STR)
            x->attr = ts_arena_strndup(c->barena, f->v.u.s, f->v.len);
    }
    if (ev && ev->raw && (!inc || inc->nraw < c->o.evidence_raw_max)) {
        uint32_t len = ev->raw_len < c->o.raw_max_bytes ? ev->raw_len : c->o.raw_max_bytes;
        char *r = ts_arena_strndup(c->barena, ev->raw, len);
        if (r) {
            x->raw = r;
            x->raw_len = len;
        }
    }
    return 0;
}

/* Drop the key's current incident (a new episode or expiry): emit its last
 * state first when it changed in this batch. */
static int inc_retire(struct corr_engine *c, struct ckey *k)
{
    int rc = 0;
    if (k->inc && k->inc->dirty)
        rc = corr_incident_view(c, k);
    inc_free(k->inc);
    k->inc = NULL;
    return rc;
}

static int process(struct corr_engine *c, uint32_t ri, uint32_t slot, const struct ts_event *ev,
                   uint32_t sid, bool late, size_t depth);

/* A satisfying window [lo, hi): join its entries to the open incident or open
 * a new episode. *joined gets the number of entries added. */
static int join_window(struct corr_engine *c, const struct crule *cr, struct ckey *k, uint32_t lo,
                       uint32_t hi, uint32_t newidx, const struct ts_event *ev, uint32_t *joined)
{
    int rc;
    *joined = 0;
    int64_t wstart = k->ent[lo].t;
    if (!k->inc || wstart > k->inc->last) {
        if ((rc = inc_retire(c, k)) != 0)
            return rc;
        struct cinc *inc = calloc(1, sizeof(*inc));
        if (!inc)
            return TS_E_NOMEM;
        inc->episode = inc->first = inc->last = wstart;
        inc->severity = (uint8_t)cr->severity;
        inc_make_id(cr, k, inc);
        k->inc = inc;
    }
    struct cinc *inc = k->inc;
    for (uint32_t j = lo; j < hi; j++) {
        struct cent *e = &k->ent[j];
        if (e->flags & CE_JOINED)
            continue;
        e->flags |= CE_JOINED;
        inc->count++;
        if (e->t < inc->first)
            inc->first = e->t;
        if (e->t > inc->last)
            inc->last = e->t;
        if ((rc = push_evidence(c, inc, e, j == newidx ? ev : NULL, false)) != 0)
            return rc;
        if (j == newidx && ev && ev->raw && inc->nraw < c->o.evidence_raw_max)
            inc->nraw++;
        if (cr->type == CT_VALUE_COUNT) {
            bool known = false;
            for (uint16_t v = 0; v < k->nvals; v++)
                known |= k->vals[v]->h == e->v.h;
            if (!known && !inc->values_capped) {
                inc->values_capped = true; /* more distinct values than the key kept */
                c->m.values_capped++;
            }
            for (uint16_t v = 0; v < k->nvals; v++)
                if (k->vals[v]->h == e->v.h) {
                    bool capped = inc->values_capped;
                    rc = vals_add(&inc->vals, &inc->nvals, c->o.max_values, e->v.h, k->vals[v]->s,
                                  k->vals[v]->len, &inc->values_capped);
                    if (rc)
                        return rc;
                    if (!capped && inc->values_capped)
                        c->m.values_capped++;
                }
        }
        (*joined)++;
    }
    if (*joined) {
        if (cr->severity > inc->severity)
            inc->severity = (uint8_t)cr->severity;
        inc->dirty = true;
    }
    return 0;
}

/* Evaluate the window ending at te; join when satisfied; feed consumers. */
static int eval_end(struct corr_engine *c, uint32_t ri, struct ckey *k, int64_t te,
                    uint32_t newidx, const struct ts_event *ev, uint32_t sid, size_t depth)
{
    const struct crule *cr = &c->rules[ri];
    uint32_t lo = lower_bound(k->ent, k->n, sat_sub(te, cr->span));
    uint32_t hi = upper_bound(k->ent, k->n, te);
    if (lo >= hi)
        return 0;
    double agg = 0;
    int rc = aggregate(c, cr, k, lo, hi, &agg);
    if (rc || !cond_holds(cr, agg))
        return rc;
    uint32_t joined;
    if ((rc = join_window(c, cr, k, lo, hi, newidx, ev, &joined)) != 0 || !joined)
        return rc;
    if (!cr->nuses)
        return 0;
    /* correlations over correlations: the firing event, at the window's end */
    struct ts_event fire = *ev;
    fire.time_ns = te;
    for (size_t u = 0; u < cr->nuses && !rc; u++)
        rc = process(c, cr->uses[u].rule, cr->uses[u].slot, &fire, sid, false, depth + 1);
    return rc;
}

/* Drop entries no future in-allowance event can see; prune display values. */
static void purge(const struct crule *cr, struct ckey *k, int64_t wm)
{
    int64_t keep_from = sat_sub(wm, cr->span);
    uint32_t cut = lower_bound(k->ent, k->n, keep_from);
    if (cut == 0)
        return;
    memmove(k->ent, k->ent + cut, (size_t)(k->n - cut) * sizeof(*k->ent));
    k->n -= cut;
    if (cr->type == CT_VALUE_COUNT) {
        uint16_t w = 0;
        for (uint16_t v = 0; v < k->nvals; v++) {
            bool used = false;
            for (uint32_t j = 0; j < k->n && !used; j++)
                used = k->ent[j].v.h == k->vals[v]->h;
            if (used)
                k->vals[w++] = k->vals[v];
            else
                free(k->vals[v]);
        }
        k->nvals = w;
    }
}

static bool key_expired(const struct corr_engine *c, const struct crule *cr, const struct ckey *k,
                        int64_t wm)
{
    if (k->n)
        return false;
    return !k->inc || wm > sat_add(sat_add(k->inc->last, cr->span), c->o.amend_horizon_ns);
}

/* Purge and, when nothing is left that matters, reset the key in place
 * (freed at the end of the batch). */
static int key_refresh(struct corr_engine *c, struct ckey *k, int64_t wm)
{
    const struct crule *cr = &c->rules[k->rule];
    purge(cr, k, wm);
    if (!key_expired(c, cr, k, wm))
        return 0;
    int rc = inc_retire(c, k);
    vals_free(k->vals, k->nvals);
    k->vals = NULL;
    k->nvals = 0;
    if (k->dirty)
        return rc;
    c->m.keys_evicted++;
    int rc2 = corr_mark_dirty(c, k);
    return rc ? rc : rc2;
}

/* The eviction bound of a key: the global bound, but never beyond its own
 * source's watermark. A Kafka partition that lags behind the others (a
 * consumer started late, a rebalance, a restart) is not idle: its keys must
 * not expire by the time of the other partitions, or its events would find
 * their windows gone. Per-source maxima only rise, so the bound stays
 * monotonic and floor <= wm keeps sweeps from removing what an access would
 * still see. */
static int64_t key_bound(const struct corr_engine *c, uint32_t sid, int64_t global)
{
    if (sid == CORR_NO_SOURCE || sid >= c->nsrc || c->src[sid].max_t == INT64_MIN)
        return global;
    int64_t own = sat_sub(c->src[sid].max_t, c->o.lateness_ns);
    return own < global ? own : global;
}

void corr_sweep(struct corr_engine *c, size_t slots)
{
    for (size_t i = 0; i < slots && c->tabcap; i++) {
        c->sweep_pos = (c->sweep_pos + 1) & (c->tabcap - 1);
        struct ckey *k = c->tab[c->sweep_pos].k;
        if (k && !k->dirty)
            (void)key_refresh(c, k, key_bound(c, k->sid, c->floor));
    }
}

static int amend_late(struct corr_engine *c, const struct crule *cr, struct ckey *k,
                      const struct cent *e, const struct ts_event *ev)
{
    c->m.late_beyond++;
    struct cinc *inc = k ? k->inc : NULL;
    if (!inc || e->t < sat_sub(inc->first, cr->span) || e->t > sat_add(inc->last, cr->span)) {
        c->m.late_orphaned++;
        return push_orphan(c, cr, e, ev);
    }
    c->m.late_amended++;
    inc->count++;
    inc->late++;
    if (e->t < inc->first)
        inc->first = e->t;
    if (e->t > inc->last)
        inc->last = e->t;
    int rc = push_evidence(c, inc, e, ev, true);
    if (ev->raw && inc->nraw < c->o.evidence_raw_max)
        inc->nraw++;
    inc->dirty = true;
    return rc ? rc : corr_mark_dirty(c, k);
}

static int process(struct corr_engine *c, uint32_t ri, uint32_t slot, const struct ts_event *ev,
                   uint32_t sid, bool late, size_t depth)
{
    if (depth > CORR_MAX_CHAIN)
        return 0;
    struct crule *cr = &c->rules[ri];
    const struct cref *ref = &cr->refs[slot];
    long kl = build_key(c, cr, ref, ev);
    if (kl < 0) {
        if (kl == -1)
            c->m.missing_group_field++;
        else
            c->m.bad_tenant++;
        return 0;
    }
    struct cent e = {.t = ev->time_ns, .src = sid, .slot = (uint8_t)slot};
    e.off = ev->src.kind == TS_SRC_KAFKA ? ev->src.offset : (int64_t)ev->src.line;
    size_t dlen = 0;
    if (cr->type == CT_VALUE_COUNT) {
        if (!tuple_value(c, cr, ref, ev, &e.v.h, &dlen)) {
            c->m.missing_value++;
            return 0;
        }
    } else if (cr->type == CT_VALUE_SUM || cr->type == CT_VALUE_AVG ||
               cr->type == CT_VALUE_PERCENTILE) {
        const struct ts_field *f = ts_event_get(ev, ref->vfield[0], ref->vlen[0]);
        if (!f || !value_number(&f->v, c->vbuf, sizeof(c->vbuf), &e.v.num)) {
            c->m.missing_value++;
            return 0;
        }
    }
    uint64_t h = corr_key_hash(ri, c->kbuf, (size_t)kl);
    struct ckey *k = corr_key_find(c, ri, c->kbuf, (size_t)kl, h);
    int rc;
    if (k && (rc = key_refresh(c, k, key_bound(c, sid, c->wm))) != 0)
        return rc;
    if (k)
        k->sid = sid;
    if (late)
        return amend_late(c, cr, k, &e, ev);
    if (!k) {
        if (cr->live_keys >= c->o.max_keys_per_rule) {
            c->m.keys_cap_hit++;
            return 0;
        }
        k = calloc(1, sizeof(*k) + (size_t)kl);
        if (!k)
            return TS_E_NOMEM;
        k->hash = h;
        k->rule = ri;
        k->klen = (uint32_t)kl;
        k->sid = sid;
        memcpy(k->kb, c->kbuf, (size_t)kl);
        if ((rc = corr_key_insert(c, k)) != 0) {
            free(k);
            return rc == TS_E_LIMIT ? 0 : rc; /* a tenant's cap: counted */
        }
    }
    if ((rc = corr_mark_dirty(c, k)) != 0)
        return rc;
    /* insert in time order, after equal times */
    uint32_t p = upper_bound(k->ent, k->n, e.t);
    if (k->n >= c->o.max_entries_per_key) {
        c->m.entries_cap_hit++;
        if (p == 0)
            return 0; /* older than everything kept: dropped */
        memmove(k->ent, k->ent + 1, (size_t)(k->n - 1) * sizeof(*k->ent));
        k->n--;
        p--;
    }
    if (k->n == k->cap) {
        uint32_t ncap = k->cap ? k->cap * 2 : 4;
        if (ncap > c->o.max_entries_per_key)
            ncap = c->o.max_entries_per_key;
        struct cent *n = realloc(k->ent, ncap * sizeof(*n));
        if (!n)
            return TS_E_NOMEM;
        k->ent = n;
        k->cap = ncap;
    }
    memmove(k->ent + p + 1, k->ent + p, (size_t)(k->n - p) * sizeof(*k->ent));
    k->ent[p] = e;
    k->n++;
    if (cr->type == CT_VALUE_COUNT &&
        (rc = vals_add(&k->vals, &k->nvals, c->o.max_values, e.v.h, c->vbuf, dlen, NULL)) != 0)
        return rc;
    /* the window ending here, then the later windows this event falls into */
    int64_t t = e.t;
    if ((rc = eval_end(c, ri, k, t, p, ev, sid, depth)) != 0)
        return rc;
    int64_t until = sat_add(t, cr->span);
    int64_t prev = t;
    for (uint32_t j = p + 1; j < k->n && k->ent[j].t <= until; j++) {
        if (k->ent[j].t == prev)
            continue;
        prev = k->ent[j].t;
        if ((rc = eval_end(c, ri, k, prev, p, ev, sid, depth)) != 0)
            return rc;
    }
    return 0;
}

int corr_feed(struct corr_engine *c, size_t rule_idx, const struct ts_event *ev)
{
    if (rule_idx >= c->ndet || !c->det_nuses[rule_idx])
        return 0;
    if (c->out_done)
        corr_batch_clear(c);
    c->m.detections++;
    const char *name = ev->src.name ? ev->src.name : "";
    int32_t part = ev->src.kind == TS_SRC_KAFKA ? ev->src.partition : -1;
    uint32_t sid;
    int rc = corr_source_intern(c, ev->src.kind, name, strlen(name), part, &sid);
    if (rc) {
        c->m.nomem++;
        return rc;
    }
    struct csource *s = &c->src[sid];
    int64_t t = ev->time_ns;
    int64_t own_wm = s->max_t == INT64_MIN ? INT64_MIN : sat_sub(s->max_t, c->o.lateness_ns);
    bool late = t < own_wm; /* lateness is judged per source */
    if (!late && s->max_t != INT64_MIN && t < s->max_t)
        c->m.late_within++;
    if (t > s->max_t && !ev->time_clamped) { /* an untrusted time moves no watermark */
        s->max_t = t;
        s->dirty = true;
        corr_wm_recompute(c);
    }
    const struct cuse *u = c->det_uses[rule_idx];
    for (size_t i = 0; i < c->det_nuses[rule_idx] && !rc; i++)
        rc = process(c, u[i].rule, u[i].slot, ev, sid, late, 0);
    if (rc == TS_E_NOMEM)
        c->m.nomem++;
    return rc;
}

int corr_match_cb(void *ctx, const struct ts_event *ev, size_t rule_idx)
{
    return corr_feed(ctx, rule_idx, ev);
}

/* ------------------------------------------------------ create/destroy */

int corr_engine_create(struct corr_engine **out, struct rule_set *rs, const struct corr_opts *o,
                       struct corr_report *report, struct ts_err *err)
{
    *out = NULL;
    if (report)
        memset(report, 0, sizeof(*report));
    struct corr_engine *c = calloc(1, sizeof(*c));
    if (!c)
        return ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "out of memory");
    if (o)
        c->o = *o;
    if (c->o.lateness_ns == 0)
        c->o.lateness_ns = DEF_LATENESS;
    else if (c->o.lateness_ns < 0)
        c->o.lateness_ns = 0;
    if (c->o.idle_ns <= 0)
        c->o.idle_ns = DEF_IDLE;
    if (c->o.amend_horizon_ns <= 0)
        c->o.amend_horizon_ns = DEF_HORIZON;
    if (!c->o.max_keys_per_rule)
        c->o.max_keys_per_rule = 4u << 20;
    if (!c->o.max_keys_per_tenant)
        c->o.max_keys_per_tenant = 2u << 20;
    if (!c->o.max_entries_per_key)
        c->o.max_entries_per_key = 4096;
    if (c->o.max_entries_per_key > (1u << 20))
        c->o.max_entries_per_key = 1u << 20;
    if (!c->o.max_values)
        c->o.max_values = 16;
    if (c->o.max_values > 4096)
        c->o.max_values = 4096;
    if (!c->o.evidence_raw_max)
        c->o.evidence_raw_max = 10;
    if (!c->o.raw_max_bytes)
        c->o.raw_max_bytes = 4096;
    c->wm = c->floor = INT64_MIN;
    c->rs = rule_set_ref(rs);
    ts_buf_init(&c->sbuf, (size_t)1 << 30);
    int rc = ts_arena_create(&c->carena, 4096, 64u << 20);
    if (!rc)
        rc = ts_arena_create(&c->barena, 64 * 1024, (size_t)1 << 30);
    if (!rc)
        rc = corr_compile(c, report, err);
    if (rc) {
        if (rc == TS_E_NOMEM)
            ts_err_set(err, rc, NULL, 0, 0, "out of memory while compiling correlation rules");
        corr_engine_destroy(c);
        return rc;
    }
    *out = c;
    return 0;
}

void corr_engine_destroy(struct corr_engine *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->tabcap; i++)
        corr_key_free(c, c->tab[i].k);
    free(c->tab);
    free(c->tenants);
    free(c->tenant_idx);
    for (size_t i = 0; i < c->nsrc; i++)
        free(c->src[i].name);
    free(c->src);
    free(c->dirty);
    free(c->incs);
    free(c->evs);
    free(c->items);
    free(c->hset);
    free(c->nums);
    ts_buf_free(&c->sbuf);
    corr_rules_free(c);
    ts_arena_destroy(c->carena);
    ts_arena_destroy(c->barena);
    rule_set_unref(c->rs);
    free(c);
}

size_t corr_tenant_stats(const struct corr_engine *c, struct corr_tenant_stat *out, size_t max)
{
    for (size_t i = 0; i < c->ntenants && i < max; i++) {
        memcpy(out[i].tenant, c->tenants[i].name, sizeof(out[i].tenant));
        out[i].live_keys = c->tenants[i].live_keys;
        out[i].cap_hits = c->tenants[i].cap_hits;
    }
    return c->ntenants;
}

size_t corr_rule_count(const struct corr_engine *c)
{
    return c ? c->nrules : 0;
}

const struct rule_info *corr_rule_info(const struct corr_engine *c, size_t i)
{
    return c && i < c->nrules ? c->rules[i].info : NULL;
}

bool corr_detection_standalone(const struct corr_engine *c, size_t rule_idx)
{
    return !c || rule_idx >= c->ndet || c->det_standalone[rule_idx];
}

void corr_set_incident_cb(struct corr_engine *c, corr_incident_fn fn, void *ctx)
{
    c->cb = fn;
    c->cbctx = ctx;
}

void corr_metrics_get(const struct corr_engine *c, struct corr_metrics *out)
{
    *out = c->m;
    out->keys_live = c->nkeys;
    out->watermark_ns = c->wm;
    uint64_t b = c->tabcap * sizeof(*c->tab);
    for (size_t i = 0; i < c->tabcap; i++)
        if (c->tab[i].k)
            b += corr_key_bytes(c->tab[i].k);
    out->state_bytes = b;
}
