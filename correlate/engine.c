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

void corr_inc_free(struct cinc *inc)
{
    if (!inc)
        return;
    vals_free(inc->vals, inc->nvals);
    free(inc);
}

static void journal_free(struct cjournal *j)
{
    for (uint32_t i = 0; j && i < j->n; i++)
        corr_inc_free(j->s[i].retired);
    free(j);
}

void corr_key_free(struct corr_engine *c, struct ckey *k)
{
    (void)c;
    if (!k)
        return;
    free(k->ent);
    corr_inc_free(k->inc);
    journal_free(k->j);
    vals_free(k->vals, k->nvals);
    free(k);
}

static void eidx_remove(struct corr_engine *c, struct ckey *k);

void corr_key_drop(struct corr_engine *c, struct ckey *k)
{
    if (k->indexed)
        eidx_remove(c, k);
    tab_remove(c, k);
    corr_key_free(c, k);
}

size_t corr_key_bytes(const struct ckey *k)
{
    size_t b = offsetof(struct ckey, kb) + k->klen + (size_t)k->cap * sizeof(struct cent) + 2 * sizeof(void *);
    if (k->inc)
        b += sizeof(*k->inc) + k->inc->nvals * (sizeof(void *) + sizeof(struct cval) + 16);
    if (k->j)
        b += sizeof(*k->j) + k->j->cap * sizeof(k->j->s[0]);
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
    const char *sep = kind == TS_SRC_KAFKA ? memchr(name, CORR_LANE_SEP, nlen) : NULL;
    size_t sl = sep ? (size_t)(sep - name) : nlen;
    char *d = malloc(nlen + 1 + sl + 1);
    if (!d)
        return TS_E_NOMEM;
    memcpy(d, name, nlen);
    d[nlen] = '\0';
    memcpy(d + nlen + 1, name, sl);
    d[nlen + 1 + sl] = '\0';
    c->src[c->nsrc] = (struct csource){.name = d, .show = d + nlen + 1, .hash = h,
                                       .partition = part, .kind = kind, .max_t = INT64_MIN};
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

/* The key text of a group value: a string as it is (a long one as its head
 * and hash), other types rendered; -1 when unusable. tmp: room for
 * CORR_MAX_VALUE_BYTES. */
static inline long group_value(struct corr_engine *c, const struct ts_value *v, char *tmp,
                        const char **p)
{
    if (v->type == TS_V_STR && v->len > CORR_MAX_VALUE_BYTES) {
        c->m.values_hashed++;
        *p = tmp;
        return (long)long_value_key(v->u.s, v->len, tmp);
    }
    if (v->type == TS_V_STR) {
        *p = v->u.s;
        return (long)v->len;
    }
    *p = tmp;
    return render_value(v, tmp, CORR_MAX_VALUE_BYTES);
}

/* kb = tenant NUL; returns its length or -3 (tenant too long). */
static inline long key_tenant(struct corr_engine *c, const struct ts_event *ev)
{
    const char *tenant = ev->tenant ? ev->tenant : "";
    size_t tl = strlen(tenant);
    if (tl > TS_TENANT_MAX)
        return -3; /* checked where tenants enter; never stored */
    memcpy(c->kbuf, tenant, tl);
    c->kbuf[tl] = '\0';
    return (long)tl + 1;
}

/* A detection incident's key (CT_DETECTION): per entity (varint len + 1,
 * bytes), or varint 0 when the event carries none of its fields. voff/vlen
 * (may be NULL) get where each value is in c->kbuf (vlen -1: absent). */
__attribute__((noinline)) static long build_det_key(struct corr_engine *c,
                                                  const struct ts_event *ev, size_t *voff,
                                                  long *vlen)
{
    long n0 = key_tenant(c, ev);
    if (n0 < 0)
        return n0;
    size_t n = (size_t)n0;
    char tmp[CORR_MAX_VALUE_BYTES];
    for (size_t g = 0; g < c->nents; g++) {
        const struct centity *en = &c->ents[g];
        const struct ts_field *f = NULL;
        for (size_t i = 0; i < en->nfields && !f; i++)
            f = ts_event_get(ev, en->fields[i], en->flen[i]);
        const char *p = NULL;
        long len = f ? group_value(c, &f->v, tmp, &p) : -1;
        if (len == 0 || (len == 1 && p[0] == '-'))
            len = -1; /* no value: "" or "-" (syslog's nil) identify nothing */
        if (vlen)
            vlen[g] = len;
        if (len < 0) {
            c->kbuf[n++] = 0;
            continue;
        }
        n += ts_varint_put((uint8_t *)c->kbuf + n, (uint64_t)len + 1);
        if (voff)
            voff[g] = n;
        memcpy(c->kbuf + n, p, (size_t)len);
        n += (size_t)len;
    }
    return (long)n;
}

/* kb = tenant NUL (varint len, bytes)*; returns length or -1 (missing field)
 * or -2 (too long) or -3 (bad tenant). */
static inline long build_key(struct corr_engine *c, const struct crule *cr,
                             const struct cref *ref, const struct ts_event *ev)
{
    if (__builtin_expect(cr->type == CT_DETECTION, 0))
        return build_det_key(c, ev, NULL, NULL);
    long n0 = key_tenant(c, ev);
    if (n0 < 0)
        return n0;
    size_t n = (size_t)n0;
    char tmp[CORR_MAX_VALUE_BYTES];
    for (size_t g = 0; g < cr->ngroup; g++) {
        const struct ts_field *f = ts_event_get(ev, ref->gfield[g], ref->glen[g]);
        if (!f)
            return -1;
        const char *p;
        long len = group_value(c, &f->v, tmp, &p);
        if (len < 0)
            return -1;
        if (n + 10 + (size_t)len > CORR_MAX_KEY_BYTES)
            return -2; /* cannot happen: 16 values of <= 256 bytes and a tenant */
        n += ts_varint_put((uint8_t *)c->kbuf + n, (uint64_t)len);
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
    case CT_DETECTION:
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

/* The label of input slot of cr (the sub-rule an entry came through). */
static const char *ref_label(const struct corr_engine *c, const struct crule *cr, uint8_t slot)
{
    if (slot >= cr->nrefs)
        return NULL;
    const struct cref *r = &cr->refs[slot];
    if (r->is_corr)
        return corr_rule_label(&c->rules[r->idx]);
    const struct rule_info *ri = rule_set_info(c->rs, r->idx);
    return !ri ? r->name : ri->id ? ri->id : ri->name ? ri->name : ri->title;
}

/* Whether this batch already has evidence of inc for the same line or
 * message (one event that fed two inputs of a temporal correlation): looks
 * back over the last few records, where such a twin is pushed. */
static struct corr_evidence *evidence_twin(struct corr_engine *c, const struct cinc *inc,
                                           const struct cent *e)
{
    const struct csource *s = &c->src[e->src];
    if (s->kind == TS_SRC_NONE || (s->kind == TS_SRC_FILE && e->off <= 0))
        return NULL; /* no line or message to compare */
    char id[33];
    id_hex(inc, id);
    for (size_t i = c->nevs, k = 0; i > 0 && k < 16; i--, k++) {
        struct corr_evidence *x = &c->evs[i - 1];
        if (x->offset == e->off && x->partition == s->partition && x->source &&
            strcmp(x->source, s->show) == 0 &&
            strcmp(x->incident, id) == 0)
            return x;
    }
    return NULL;
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
    x->source = s->show;
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

/* Drop the key's current incident at expiry: emit its last state first
 * when it changed in this batch. */
static int inc_expire(struct corr_engine *c, struct ckey *k)
{
    int rc = 0;
    if (k->inc && k->inc->dirty)
        rc = corr_incident_view(c, k, k->inc, false);
    corr_inc_free(k->inc);
    k->inc = NULL;
    journal_free(k->j);
    k->j = NULL;
    return rc;
}

/* ------------------------------------------------------------ journal */

/* Room for one more satisfied window (the journal is created with the
 * key's first incident). */
static int journal_reserve(struct corr_engine *c, struct ckey *k)
{
    struct cjournal *j = k->j;
    if (j && j->n < j->cap)
        return 0;
    if (j && j->n >= c->o.max_entries_per_key) {
        /* a hostile key: the oldest window can no longer be rewound */
        corr_inc_free(j->s[0].retired);
        if (j->s[0].te > j->trim_hi)
            j->trim_hi = j->s[0].te;
        memmove(j->s, j->s + 1, (size_t)(j->n - 1) * sizeof(j->s[0]));
        j->n--;
        return 0;
    }
    uint32_t ncap = j ? j->cap * 2 : 1;
    struct cjournal *n = realloc(j, sizeof(*n) + ncap * sizeof(n->s[0]));
    if (!n)
        return TS_E_NOMEM;
    if (!j) {
        n->n = 0;
        n->trim_hi = INT64_MIN;
        n->iseq = 0;
    }
    n->cap = ncap;
    k->j = n;
    return 0;
}

/* Forget the windows ending before bound: no event within the allowance
 * can come before them (the same bound purges entries). */
static void journal_trim(struct ckey *k, int64_t bound)
{
    struct cjournal *j = k->j;
    if (!j || !j->n || j->s[0].te >= bound)
        return;
    uint32_t cut = 0;
    while (cut < j->n && j->s[cut].te < bound)
        corr_inc_free(j->s[cut++].retired);
    if (j->s[cut - 1].te > j->trim_hi)
        j->trim_hi = j->s[cut - 1].te;
    memmove(j->s, j->s + cut, (size_t)(j->n - cut) * sizeof(j->s[0]));
    j->n -= cut;
}

static int stack_reserve(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *n = realloc(*arr, ncap * size);
    if (!n)
        return TS_E_NOMEM;
    *arr = n;
    *cap = ncap;
    return 0;
}

/* Undo every window of k that ends at or after t: they were evaluated
 * without the change at t. Incidents they started go to c->limbo (taken
 * back when the windows evaluated again start the same episode, retracted
 * otherwise); the window ends go to c->pop when the rule feeds others. */
static int rewind_to(struct corr_engine *c, const struct crule *cr, struct ckey *k, int64_t t)
{
    struct cjournal *j = k->j;
    if (!j || !j->n || j->s[j->n - 1].te < t)
        return 0; /* in order: nothing evaluated after t */
    uint32_t from = j->n;
    while (from > 0 && j->s[from - 1].te >= t)
        from--;
    size_t npop = j->n - from;
    if (stack_reserve((void **)&c->pop, &c->popcap, c->npop + npop, sizeof(*c->pop)) ||
        stack_reserve((void **)&c->limbo, &c->limbocap, c->nlimbo + npop + 1, sizeof(*c->limbo)))
        return TS_E_NOMEM;
    c->m.rewinds++;
    while (j->n > from) {
        struct csat *s = &j->s[--j->n];
        if (cr->nuses)
            c->pop[c->npop++] = (struct cpop){s->te, false};
        struct cinc *inc = k->inc;
        if (s->flags & CS_EPISODE) {
            if (inc)
                c->limbo[c->nlimbo++] = inc;
            k->inc = s->retired;
            s->retired = NULL;
            continue;
        }
        if (!inc)
            continue;
        inc->count = inc->count > s->njoined ? inc->count - s->njoined : 0;
        inc->last = s->last_before;
        while (inc->nvals > s->nvals_before)
            free(inc->vals[--inc->nvals]);
        inc->values_capped = (s->flags & CS_CAPPED) != 0;
        inc->dirty = true;
    }
    /* an entry stays joined when a window left in the journal (or one
     * before it) covers it; only entries from t - span can be affected */
    uint32_t r = 0;
    for (uint32_t i = lower_bound(k->ent, k->n, sat_sub(t, cr->span)); i < k->n; i++) {
        struct cent *e = &k->ent[i];
        if (!(e->flags & CE_JOINED))
            continue;
        while (r < j->n && j->s[r].te < e->t)
            r++;
        bool covered = e->t <= j->trim_hi || (r < j->n && sat_sub(j->s[r].te, cr->span) <= e->t);
        if (!covered)
            e->flags &= (uint8_t)~CE_JOINED;
    }
    return 0;
}

/* An incident the rewind undid, with this id: it starts again. */
static struct cinc *limbo_take(struct corr_engine *c, size_t base, uint64_t hi, uint64_t lo)
{
    for (size_t i = base; i < c->nlimbo; i++) {
        struct cinc *x = c->limbo[i];
        if (x->id_hi == hi && x->id_lo == lo) {
            c->limbo[i] = c->limbo[--c->nlimbo];
            return x;
        }
    }
    return NULL;
}

static uint8_t sev_corroborated(int a, int b);

/* The end of a rewind: incidents that did not start again are retracted
 * when they were emitted; detections linked to them move to the key's
 * incident (the entities are the key's). */
static int limbo_resolve(struct corr_engine *c, struct ckey *k, size_t base)
{
    int rc = 0;
    for (size_t i = base; i < c->nlimbo; i++) {
        struct cinc *x = c->limbo[i];
        struct cinc *to = k->inc;
        if (x->linked && to) {
            bool had = to->linked > 0;
            to->lfirst = had && to->lfirst < x->lfirst ? to->lfirst : x->lfirst;
            to->llast = had && to->llast > x->llast ? to->llast : x->llast;
            to->count += x->linked;
            to->linked += x->linked;
            to->severity = sev_corroborated(to->severity, x->severity);
            to->dirty = true;
        }
        if (x->emitted && !rc) {
            rc = corr_incident_view(c, k, x, true);
            c->m.incidents_retracted++;
        } else if (!x->emitted) {
            /* formed and undone before any output: no one ever saw it, and
             * its evidence of this batch must not name it (the store has
             * no such incident); the events are evidence of the incident
             * they join on re-evaluation */
            char id[33];
            static const char hx[] = "0123456789abcdef";
            for (int d = 0; d < 16; d++) {
                id[d] = hx[(x->id_hi >> (60 - 4 * d)) & 15];
                id[16 + d] = hx[(x->id_lo >> (60 - 4 * d)) & 15];
            }
            id[32] = '\0';
            size_t o = 0;
            for (size_t e = 0; e < c->nevs; e++)
                if (strcmp(c->evs[e].incident, id) != 0)
                    c->evs[o++] = c->evs[e];
            c->nevs = o;
        }
        corr_inc_free(x);
    }
    c->nlimbo = base;
    return rc;
}

/* ---------------------------------------------------------- entities */

static uint64_t ent_hash(const char *tenant, size_t tl, size_t ent, const char *v, size_t vl)
{
    return corr_hash(v, vl, corr_hash(tenant, tl, 0x656e74ULL + ent));
}

/* Group value g of k; false when absent (a detection key without it). */
static bool key_value(const struct crule *cr, const struct ckey *k, size_t g, const char **p,
                      size_t *len)
{
    const uint8_t *kb = (const uint8_t *)k->kb;
    size_t off = strnlen(k->kb, k->klen) + 1;
    for (size_t i = 0; i < cr->ngroup && off <= k->klen; i++) {
        uint64_t l = 0;
        size_t u = ts_varint_get(kb + off, k->klen - off, &l);
        bool present = true;
        if (cr->type == CT_DETECTION) {
            present = l > 0;
            l = present ? l - 1 : 0;
        }
        if (!u || l > k->klen - off - u)
            return false;
        if (i == g) {
            *p = k->kb + off + u;
            *len = (size_t)l;
            return present;
        }
        off += u + (size_t)l;
    }
    return false;
}

static int eidx_grow(struct corr_engine *c, size_t need)
{
    if ((c->neidx + need) * 2 <= c->eidxcap)
        return 0;
    size_t ncap = c->eidxcap ? c->eidxcap : 1024;
    while ((c->neidx + need) * 2 > ncap)
        ncap *= 2;
    struct ceslot *n = calloc(ncap, sizeof(*n));
    if (!n)
        return TS_E_NOMEM;
    for (size_t i = 0; i < c->eidxcap; i++) {
        if (!c->eidx[i].k)
            continue;
        size_t j = c->eidx[i].h & (ncap - 1);
        while (n[j].k)
            j = (j + 1) & (ncap - 1);
        n[j] = c->eidx[i];
    }
    free(c->eidx);
    c->eidx = n;
    c->eidxcap = ncap;
    return 0;
}

/* Index k by the entities its group values carry (once, when it gets its
 * first incident; until it is dropped). */
int corr_eidx_add(struct corr_engine *c, struct ckey *k)
{
    const struct crule *cr = &c->rules[k->rule];
    if (!c->linking || k->indexed || !cr->linkable)
        return 0;
    int rc = eidx_grow(c, cr->ngroup);
    if (rc)
        return rc;
    size_t tl = strnlen(k->kb, k->klen);
    for (size_t g = 0; g < cr->ngroup; g++) {
        const char *p;
        size_t len;
        if (cr->gent[g] < 0 || !key_value(cr, k, g, &p, &len))
            continue;
        uint64_t h = ent_hash(k->kb, tl, (size_t)cr->gent[g], p, len);
        size_t mask = c->eidxcap - 1, i = h & mask;
        while (c->eidx[i].k)
            i = (i + 1) & mask;
        c->eidx[i] = (struct ceslot){h, k};
        c->neidx++;
    }
    k->indexed = true;
    return 0;
}

static void eidx_remove(struct corr_engine *c, struct ckey *k)
{
    const struct crule *cr = &c->rules[k->rule];
    size_t tl = strnlen(k->kb, k->klen), mask = c->eidxcap - 1;
    for (size_t g = 0; g < cr->ngroup; g++) {
        const char *p;
        size_t len;
        if (cr->gent[g] < 0 || !key_value(cr, k, g, &p, &len))
            continue;
        uint64_t h = ent_hash(k->kb, tl, (size_t)cr->gent[g], p, len);
        size_t i = h & mask;
        while (c->eidx[i].k && !(c->eidx[i].k == k && c->eidx[i].h == h))
            i = (i + 1) & mask;
        if (!c->eidx[i].k)
            continue;
        c->eidx[i].k = NULL;
        c->neidx--;
        for (size_t j = (i + 1) & mask; c->eidx[j].k; j = (j + 1) & mask) {
            size_t home = c->eidx[j].h & mask;
            bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!between) {
                c->eidx[i] = c->eidx[j];
                c->eidx[j].k = NULL;
                i = j;
            }
        }
    }
    k->indexed = false;
}

/* Is t within the link window of the incident? */
static bool inc_open(const struct corr_engine *c, const struct cinc *inc, int64_t t)
{
    return t >= sat_sub(corr_inc_first(inc), c->link_ns) &&
           t <= sat_add(corr_inc_last(inc), c->link_ns);
}

/* Two signals about the same entities: the higher level, or one step above
 * the lower one when that is higher (high + high = critical; medium + high =
 * high). */
static uint8_t sev_corroborated(int a, int b)
{
    int hi = a > b ? a : b, lo = a > b ? b : a;
    int s = lo > CORR_SEV_NONE && lo + 1 > hi ? lo + 1 : hi;
    return (uint8_t)(s > CORR_SEV_CRITICAL ? CORR_SEV_CRITICAL : s);
}

static bool inc_better(const struct cinc *a, const struct cinc *b)
{
    if (!b)
        return true;
    if (a->severity != b->severity)
        return a->severity > b->severity;
    if (corr_inc_last(a) != corr_inc_last(b))
        return corr_inc_last(a) > corr_inc_last(b);
    return a->id_hi != b->id_hi ? a->id_hi < b->id_hi : a->id_lo < b->id_lo;
}

/* The open incident (other than own's) that shares an entity with the
 * detection whose key is in c->kbuf (values at voff/vlen): the most severe,
 * then the most recent, then the smallest id - never the order of keys in
 * memory, so that restarts do not change the choice. */
static struct ckey *link_target(struct corr_engine *c, const struct ckey *own, size_t tl,
                                const size_t *voff, const long *vlen, int64_t t)
{
    struct ckey *best = NULL;
    if (!c->eidxcap)
        return NULL;
    size_t mask = c->eidxcap - 1;
    for (size_t e = 0; e < c->nents; e++) {
        if (vlen[e] < 0)
            continue;
        const char *v = c->kbuf + voff[e];
        size_t vl = (size_t)vlen[e];
        uint64_t h = ent_hash(c->kbuf, tl, e, v, vl);
        for (size_t i = h & mask; c->eidx[i].k; i = (i + 1) & mask) {
            struct ckey *k = c->eidx[i].k;
            if (c->eidx[i].h != h || k == own || k == best || !k->inc ||
                strnlen(k->kb, k->klen) != tl || memcmp(k->kb, c->kbuf, tl) != 0 ||
                !inc_open(c, k->inc, t) || !inc_better(k->inc, best ? best->inc : NULL))
                continue;
            const struct crule *cr = &c->rules[k->rule];
            bool same = false;
            for (size_t g = 0; g < cr->ngroup && !same; g++) {
                const char *p;
                size_t len;
                same = cr->gent[g] == (int8_t)e && key_value(cr, k, g, &p, &len) && len == vl &&
                       memcmp(p, v, vl) == 0;
            }
            if (same)
                best = k;
        }
    }
    return best;
}

/* Attach detection ev (rule_idx) to k's incident as evidence. */
static int link_detection(struct corr_engine *c, struct ckey *k, size_t rule_idx,
                          const struct ts_event *ev, uint32_t sid)
{
    struct cinc *inc = k->inc;
    const struct rule_info *ri = rule_set_info(c->rs, rule_idx);
    struct cent e = {.t = ev->time_ns, .src = (uint16_t)sid};
    e.off = ev->src.kind == TS_SRC_KAFKA ? ev->src.offset : (int64_t)ev->src.line;
    int rc = push_evidence(c, inc, &e, ev, false);
    if (rc)
        return rc;
    struct corr_evidence *x = &c->evs[c->nevs - 1];
    x->linked = true;
    x->rule_id = ri->id ? ri->id : ri->name ? ri->name : ri->title;
    if (ev->raw && inc->nraw < c->o.evidence_raw_max)
        inc->nraw++;
    inc->lfirst = inc->linked && inc->lfirst < e.t ? inc->lfirst : e.t;
    inc->llast = inc->linked && inc->llast > e.t ? inc->llast : e.t;
    inc->count++;
    inc->linked++;
    inc->severity = sev_corroborated(inc->severity, corr_level_severity(ri->level));
    inc->dirty = true;
    c->m.detections_linked++;
    return corr_mark_dirty(c, k);
}

static int process(struct corr_engine *c, uint32_t ri, uint32_t slot, const struct ts_event *ev,
                   uint32_t sid, bool late, size_t depth);

/* A satisfying window [lo, hi) ending at te: join its entries to the open
 * incident or open a new episode, and journal it. *joined gets the number
 * of entries added. */
static int join_window(struct corr_engine *c, const struct crule *cr, struct ckey *k, uint32_t lo,
                       uint32_t hi, int64_t te, uint32_t newidx, const struct ts_event *ev,
                       size_t lbase, uint32_t *joined)
{
    int rc;
    *joined = 0;
    int64_t wstart = k->ent[lo].t;
    if ((rc = journal_reserve(c, k)) != 0 ||
        (c->linking && !k->indexed && (rc = corr_eidx_add(c, k)) != 0))
        return rc;
    struct cjournal *j = k->j;
    struct csat rec = {.te = te};
    bool episode = !k->inc || wstart > k->inc->last;
    if (episode) {
        struct cinc *old = k->inc;
        struct cinc probe = {.episode = wstart};
        inc_make_id(cr, k, &probe);
        struct cinc *inc = limbo_take(c, lbase, probe.id_hi, probe.id_lo);
        if (inc) { /* the same episode again: keep what was emitted and linked */
            vals_free(inc->vals, inc->nvals);
            inc->vals = NULL;
            inc->nvals = 0;
            inc->values_capped = false;
            inc->count = inc->late + inc->linked;
        } else {
            inc = calloc(1, sizeof(*inc));
            if (!inc)
                return TS_E_NOMEM;
            inc->id_hi = probe.id_hi;
            inc->id_lo = probe.id_lo;
            inc->seq = ++j->iseq;
            inc->severity = (uint8_t)cr->severity;
        }
        if (old && old->dirty && (rc = corr_incident_view(c, k, old, false)) != 0) {
            corr_inc_free(inc);
            return rc;
        }
        inc->episode = inc->first = inc->last = wstart;
        rec.flags = CS_EPISODE;
        rec.retired = old;
        k->inc = inc;
    } else {
        rec.last_before = k->inc->last;
        rec.nvals_before = k->inc->nvals;
        rec.flags = k->inc->values_capped ? CS_CAPPED : 0;
    }
    j->s[j->n++] = rec; /* njoined set below */
    struct csat *jr = &j->s[j->n - 1];
    struct cinc *inc = k->inc;
    for (uint32_t x = lo; x < hi; x++) {
        struct cent *e = &k->ent[x];
        if (e->flags & CE_JOINED)
            continue;
        e->flags |= CE_JOINED;
        inc->count++;
        if (e->t < inc->first)
            inc->first = e->t;
        if (e->t > inc->last)
            inc->last = e->t;
        struct corr_evidence *twin = e->eseq != inc->seq ? evidence_twin(c, inc, e) : NULL;
        if (twin) { /* the same line through another input: one record */
            e->eseq = inc->seq;
            if (x == newidx && ev && ev->raw && !twin->raw &&
                inc->nraw < c->o.evidence_raw_max) {
                uint32_t len = ev->raw_len < c->o.raw_max_bytes ? ev->raw_len
                                                                 : c->o.raw_max_bytes;
                if ((twin->raw = ts_arena_strndup(c->barena, ev->raw, len)) != NULL) {
                    twin->raw_len = len;
                    inc->nraw++;
                }
            }
        } else if (e->eseq != inc->seq) { /* not yet evidence of this incident */
            e->eseq = inc->seq;
            if ((rc = push_evidence(c, inc, e, x == newidx ? ev : NULL, false)) != 0)
                return rc;
            c->evs[c->nevs - 1].sub_rule = ref_label(c, cr, e->slot);
            if (x == newidx && ev && ev->raw && inc->nraw < c->o.evidence_raw_max)
                inc->nraw++;
        }
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
        jr->njoined++;
    }
    if (*joined || episode) {
        if (cr->severity > inc->severity)
            inc->severity = (uint8_t)cr->severity;
        inc->dirty = true;
    }
    return 0;
}

/* Evaluate the window ending at te (every entry at te included); join when
 * satisfied; feed consumers (unless they were fed for this window before a
 * rewind: c->pop from pbase). */
static int eval_end(struct corr_engine *c, uint32_t ri, struct ckey *k, int64_t te,
                    uint32_t newidx, const struct ts_event *ev, uint32_t sid, size_t depth,
                    size_t pbase, size_t lbase)
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
    if ((rc = join_window(c, cr, k, lo, hi, te, newidx, ev, lbase, &joined)) != 0 || !joined)
        return rc;
    if (!cr->nuses)
        return 0;
    for (size_t i = pbase; i < c->npop; i++)
        if (c->pop[i].te == te) {
            c->pop[i].hit = true; /* its consumers have it */
            return 0;
        }
    /* correlations over correlations: the firing event, at the window's end */
    struct ts_event fire = *ev;
    fire.time_ns = te;
    for (size_t u = 0; u < cr->nuses && !rc; u++)
        rc = process(c, cr->uses[u].rule, cr->uses[u].slot, &fire, sid, false, depth + 1);
    return rc;
}

static int key_changed(struct corr_engine *c, uint32_t ri, struct ckey *k, int64_t t,
                       uint32_t newidx, const struct ts_event *ev, uint32_t sid, size_t depth);

/* A window ending at te no longer holds after a rewind: take back what it
 * fed the correlations that use it (an entry at te of that input). */
static int unfeed(struct corr_engine *c, const struct crule *cr, int64_t te,
                  const struct ts_event *ev, uint32_t sid, size_t depth)
{
    struct ts_event fire = *ev;
    fire.time_ns = te;
    int rc = 0;
    for (size_t u = 0; u < cr->nuses && !rc && depth + 1 <= CORR_MAX_CHAIN; u++) {
        uint32_t ri = cr->uses[u].rule, slot = cr->uses[u].slot;
        const struct crule *cc = &c->rules[ri];
        long kl = build_key(c, cc, &cc->refs[slot], &fire);
        if (kl < 0)
            continue;
        uint64_t h = corr_key_hash(ri, c->kbuf, (size_t)kl);
        struct ckey *k = corr_key_find(c, ri, c->kbuf, (size_t)kl, h);
        if (!k)
            continue;
        uint32_t i = lower_bound(k->ent, k->n, te), at = UINT32_MAX;
        for (; i < k->n && k->ent[i].t == te; i++)
            if (k->ent[i].slot == slot)
                at = i;
        if (at == UINT32_MAX)
            continue;
        if ((rc = corr_mark_dirty(c, k)) != 0)
            break;
        memmove(k->ent + at, k->ent + at + 1, (size_t)(k->n - at - 1) * sizeof(*k->ent));
        k->n--;
        rc = key_changed(c, ri, k, te, UINT32_MAX, &fire, sid, depth + 1);
    }
    return rc;
}

/* Entries of k changed at time t (one inserted at newidx, or one taken
 * out): windows ending before t are as they were; rewind the others and
 * evaluate them again in time order, as if the events had come in order.
 * In order (nothing evaluated after t) this is the window ending at t. */
__attribute__((noinline)) static int key_changed(struct corr_engine *c, uint32_t ri,
                                                  struct ckey *k, int64_t t, uint32_t newidx,
                                                  const struct ts_event *ev, uint32_t sid,
                                                  size_t depth)
{
    const struct crule *cr = &c->rules[ri];
    size_t pbase = c->npop, lbase = c->nlimbo;
    int rc = rewind_to(c, cr, k, t);
    for (uint32_t x = lower_bound(k->ent, k->n, t); !rc && x < k->n;) {
        int64_t te = k->ent[x].t;
        rc = eval_end(c, ri, k, te, newidx, ev, sid, depth, pbase, lbase);
        x = upper_bound(k->ent, k->n, te);
    }
    for (size_t i = pbase; !rc && i < c->npop; i++)
        if (!c->pop[i].hit)
            rc = unfeed(c, cr, c->pop[i].te, ev, sid, depth);
    c->npop = pbase;
    int rc2 = limbo_resolve(c, k, lbase);
    return rc ? rc : rc2;
}

/* Drop entries no future in-allowance event can see; prune display values. */
static void purge(const struct crule *cr, struct ckey *k, int64_t wm)
{
    journal_trim(k, wm);
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
    if (!k->inc)
        return true;
    /* an indexed incident stays while a detection could still link to it */
    int64_t hz = c->o.amend_horizon_ns;
    if (k->indexed && c->link_ns > hz)
        hz = c->link_ns;
    return wm > sat_add(sat_add(corr_inc_last(k->inc), cr->span), hz);
}

/* Purge and, when nothing is left that matters, reset the key in place
 * (freed at the end of the batch). */
static int key_refresh(struct corr_engine *c, struct ckey *k, int64_t wm)
{
    const struct crule *cr = &c->rules[k->rule];
    purge(cr, k, wm);
    if (!key_expired(c, cr, k, wm))
        return 0;
    int rc = inc_expire(c, k);
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
    if (!rc)
        c->evs[c->nevs - 1].sub_rule = ref_label(c, cr, e->slot);
    if (ev->raw && inc->nraw < c->o.evidence_raw_max)
        inc->nraw++;
    inc->dirty = true;
    return rc ? rc : corr_mark_dirty(c, k);
}

/* Where an entry of time t and input slot goes: after earlier times, and
 * among equal times after the entries of the same or an earlier input. */
static uint32_t insert_pos(const struct cent *e, uint32_t n, int64_t t, uint8_t slot)
{
    uint32_t p = upper_bound(e, n, t);
    while (p > 0 && e[p - 1].t == t && e[p - 1].slot > slot)
        p--;
    return p;
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
    struct cent e = {.t = ev->time_ns, .src = (uint16_t)sid, .slot = (uint8_t)slot};
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
        k = calloc(1, offsetof(struct ckey, kb) + (size_t)kl); /* not sizeof: its padding */
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
    uint32_t p = insert_pos(k->ent, k->n, e.t, e.slot);
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
    const struct cjournal *j = k->j;
    if (p == k->n - 1 && (!j || !j->n || j->s[j->n - 1].te < e.t)) /* in order: one window */
        return eval_end(c, ri, k, e.t, p, ev, sid, depth, c->npop, c->nlimbo);
    return key_changed(c, ri, k, e.t, p, ev, sid, depth);
}

/* A detection of a rule whose detections are incidents (issue 10 item 5):
 * a repeat of its own open incident updates it; else it joins an open
 * incident that shares an entity; else (OPEN) it starts its own. */
static int detection_feed(struct corr_engine *c, size_t rule_idx, const struct ts_event *ev,
                          uint32_t sid, bool late)
{
    uint32_t ri = c->drule[rule_idx];
    size_t voff[CORR_MAX_ENTITIES];
    long vlen[CORR_MAX_ENTITIES];
    long kl = build_det_key(c, ev, voff, vlen);
    if (kl < 0) {
        c->m.bad_tenant++;
        return 0;
    }
    uint64_t h = corr_key_hash(ri, c->kbuf, (size_t)kl);
    struct ckey *own = corr_key_find(c, ri, c->kbuf, (size_t)kl, h);
    bool repeat = own && own->inc && inc_open(c, own->inc, ev->time_ns);
    if (!repeat && c->linking) {
        size_t tl = strnlen(c->kbuf, (size_t)kl);
        struct ckey *to = link_target(c, own, tl, voff, vlen, ev->time_ns);
        if (to)
            return link_detection(c, to, rule_idx, ev, sid);
    }
    if (!repeat && c->dmode[rule_idx] != CORR_INC_OPEN)
        return 0;
    c->m.detections_opened++;
    return process(c, ri, 0, ev, sid, late, 0);
}

/* The count of (source, tenant), created on first sight; NULL without
 * memory. Only late detections get here: no cost on the common path. */
static struct corr_late_source *late_slot(struct corr_engine *c, const char *source,
                                          const char *tenant)
{
    if (c->late_last < c->nlate_src) {
        struct corr_late_source *l = &c->late_src[c->late_last];
        if (!strncmp(l->source, source, sizeof(l->source) - 1) && !strcmp(l->tenant, tenant))
            return l;
    }
    for (size_t i = 0; i < c->nlate_src; i++) {
        struct corr_late_source *l = &c->late_src[i];
        if (!strncmp(l->source, source, sizeof(l->source) - 1) && !strcmp(l->tenant, tenant)) {
            c->late_last = i;
            return l;
        }
    }
    if (c->nlate_src >= CORR_LATE_SOURCES_MAX && strcmp(tenant, "(other)") != 0)
        return late_slot(c, "(other)", "(other)");
    if (c->nlate_src == c->late_src_cap) {
        size_t ncap = c->late_src_cap ? c->late_src_cap * 2 : 8;
        struct corr_late_source *n = realloc(c->late_src, ncap * sizeof(*n));
        if (!n)
            return NULL;
        c->late_src = n;
        c->late_src_cap = ncap;
    }
    struct corr_late_source *l = &c->late_src[c->nlate_src];
    memset(l, 0, sizeof(*l));
    snprintf(l->source, sizeof(l->source), "%s", source);
    snprintf(l->tenant, sizeof(l->tenant), "%s", tenant);
    c->late_last = c->nlate_src++;
    return l;
}

int corr_late_sources(const struct corr_engine *c, struct corr_late_source **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!c->nlate_src)
        return 0;
    *out = malloc(c->nlate_src * sizeof(**out));
    if (!*out)
        return TS_E_NOMEM;
    memcpy(*out, c->late_src, c->nlate_src * sizeof(**out));
    *n = c->nlate_src;
    return 0;
}

void corr_late_sources_add(struct corr_engine *c, const struct corr_late_source *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct corr_late_source *l = late_slot(c, v[i].source, v[i].tenant);
        if (l)
            l->late += v[i].late;
    }
}

/* corr_feed for every use of rule_idx (use SIZE_MAX) or for one
 * (corr_feed_use: the re-keyed mode feeds each use on its owner). */
static int feed(struct corr_engine *c, size_t rule_idx, const struct ts_event *ev, size_t use)
{
    if (rule_idx >= c->ndet || (!c->det_nuses[rule_idx] && c->dmode[rule_idx] <= CORR_INC_OFF))
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
    if (late) {
        struct corr_late_source *l = late_slot(c, c->src[sid].show, ev->tenant ? ev->tenant : "");
        if (l)
            l->late++;
    }
    if (t > s->max_t && !ev->time_clamped) { /* an untrusted time moves no watermark */
        s->max_t = t;
        s->dirty = true;
        corr_wm_recompute(c);
    }
    const struct cuse *u = c->det_uses[rule_idx];
    for (size_t i = 0; i < c->det_nuses[rule_idx] && !rc; i++)
        if (use == SIZE_MAX || use == i)
            rc = process(c, u[i].rule, u[i].slot, ev, sid, late, 0);
    if (!rc && c->dmode[rule_idx] > CORR_INC_OFF &&
        (use == SIZE_MAX || use == c->det_nuses[rule_idx]))
        rc = detection_feed(c, rule_idx, ev, sid, late);
    if (rc == TS_E_NOMEM)
        c->m.nomem++;
    return rc;
}

int corr_feed(struct corr_engine *c, size_t rule_idx, const struct ts_event *ev)
{
    return feed(c, rule_idx, ev, SIZE_MAX);
}

/* ------------------------------------------------- re-keyed feeding */

size_t corr_use_count(const struct corr_engine *c, size_t rule_idx)
{
    if (!c || rule_idx >= c->ndet)
        return 0;
    return c->det_nuses[rule_idx] + (c->dmode[rule_idx] > CORR_INC_OFF ? 1 : 0);
}

/* The compiled rule (and input slot) of use u of detection rule_idx;
 * false when there is no such use. */
static bool use_rule(const struct corr_engine *c, size_t rule_idx, size_t u, uint32_t *ri,
                     uint32_t *slot)
{
    if (u >= corr_use_count(c, rule_idx))
        return false;
    if (u < c->det_nuses[rule_idx]) {
        *ri = c->det_uses[rule_idx][u].rule;
        *slot = c->det_uses[rule_idx][u].slot;
    } else {
        *ri = c->drule[rule_idx];
        *slot = 0;
    }
    return *ri < c->nrules;
}

const char *corr_use_name(const struct corr_engine *c, size_t rule_idx, size_t use)
{
    uint32_t ri, slot;
    return use_rule(c, rule_idx, use, &ri, &slot) ? c->rules[ri].skey : NULL;
}

long corr_use_find(const struct corr_engine *c, size_t rule_idx, const char *name)
{
    size_t n = corr_use_count(c, rule_idx);
    for (size_t u = 0; u < n; u++) {
        const char *k = corr_use_name(c, rule_idx, u);
        if (k && strcmp(k, name) == 0)
            return (long)u;
    }
    return -1;
}

int corr_use_key(struct corr_engine *c, size_t rule_idx, size_t use, const struct ts_event *ev,
                 struct ts_buf *out)
{
    uint32_t ri, slot;
    if (!use_rule(c, rule_idx, use, &ri, &slot))
        return TS_E_INVAL;
    const struct crule *cr = &c->rules[ri];
    int rc = ts_buf_append(out, cr->skey, strlen(cr->skey) + 1);
    if (rc)
        return rc;
    long kl = build_key(c, cr, &cr->refs[slot], ev);
    if (kl >= 0)
        return ts_buf_append(out, c->kbuf, (size_t)kl);
    /* no group key: the owner of (rule, tenant) counts what the engine
     * counts (missing_group_field, bad_tenant) */
    const char *t = ev->tenant ? ev->tenant : "";
    return ts_buf_append(out, t, strnlen(t, TS_TENANT_MAX + 1));
}

int corr_feed_use(struct corr_engine *c, size_t rule_idx, size_t use, const struct ts_event *ev)
{
    if (use >= corr_use_count(c, rule_idx))
        return TS_E_INVAL;
    return feed(c, rule_idx, ev, use);
}

bool corr_field_used(const struct corr_engine *c, const char *name, size_t len)
{
    if (!c)
        return false;
    if (c->o.evidence_attr && strlen(c->o.evidence_attr) == len &&
        memcmp(c->o.evidence_attr, name, len) == 0)
        return true;
    for (size_t e = 0; e < c->nents; e++)
        for (size_t f = 0; f < c->ents[e].nfields; f++)
            if (c->ents[e].flen[f] == len && memcmp(c->ents[e].fields[f], name, len) == 0)
                return true;
    for (size_t r = 0; r < c->nrules; r++) {
        const struct crule *cr = &c->rules[r];
        for (size_t i = 0; i < cr->nrefs; i++) {
            const struct cref *ref = &cr->refs[i];
            for (size_t g = 0; g < cr->ngroup; g++)
                if (ref->gfield[g] && ref->glen[g] == len && memcmp(ref->gfield[g], name, len) == 0)
                    return true;
            for (size_t g = 0; g < cr->nfields && g < CORR_MAX_FIELDS; g++)
                if (ref->vfield[g] && ref->vlen[g] == len && memcmp(ref->vfield[g], name, len) == 0)
                    return true;
        }
    }
    return false;
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
    free(c->late_src);
    free(c->dirty);
    free(c->incs);
    free(c->evs);
    free(c->items);
    free(c->hset);
    free(c->nums);
    free(c->eidx);
    free(c->pop);
    free(c->limbo);
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

const struct rule_info *corr_detection_info(const struct corr_engine *c, size_t rule_idx)
{
    return c && c->rs && rule_idx < rule_set_count(c->rs) ? rule_set_info(c->rs, rule_idx) : NULL;
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
