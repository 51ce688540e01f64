/* counters.c - per-period counters: an in-memory accumulator of additions
 * per (hour, kind, a, b) between two commits, added to the `counters`
 * database in the batch's write transaction, and read back by hour range
 * (storage.h "counters"; formats in docs/storage.md).
 * The accumulator owns copies of its strings; one thread at a time (the
 * runtime calls it under its correlation stage mutex). */
#include <stdio.h>
#include <stdlib.h>

#include "../core/tstime.h"
#include "store_int.h"

#define NS_PER_HOUR (3600LL * TS_NS_PER_SEC)
#define OTHER "(other)"
/* "(other)" entries may go past the cap by this much (one per hour, kind
 * and b); beyond it additions are counted in dropped */
#define OTHER_SLACK 4096u

struct cent {
    uint32_t hour;
    uint8_t kind;
    char *tenant, *a, *b, *label;
    uint64_t n;
    uint64_t h;
};

struct store_counters {
    struct cent *e;
    size_t n, cap;
    uint32_t *slot; /* 1 + index into e; 0 empty */
    size_t nslot;   /* power of two */
    uint64_t dropped;
};

static uint32_t hour_of(int64_t ns)
{
    if (ns <= 0)
        return 0;
    int64_t h = ns / NS_PER_HOUR;
    return h > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)h;
}

static uint64_t hash_str(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return (h ^ 0xff) * 1099511628211ull; /* separator: "ab","" != "a","b" */
}

static size_t cut(const char *s, size_t max)
{
    return s ? strnlen(s, max) : 0;
}

int store_counters_create(struct store_counters **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : TS_E_NOMEM;
}

static void free_entries(struct store_counters *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].tenant);
        free(c->e[i].a);
        free(c->e[i].b);
        free(c->e[i].label);
    }
    c->n = 0;
}

void store_counters_destroy(struct store_counters *c)
{
    if (!c)
        return;
    free_entries(c);
    free(c->e);
    free(c->slot);
    free(c);
}

void store_counters_clear(struct store_counters *c)
{
    if (!c)
        return;
    free_entries(c);
    if (c->slot)
        memset(c->slot, 0, c->nslot * sizeof(*c->slot));
}

size_t store_counters_size(const struct store_counters *c)
{
    return c ? c->n : 0;
}

static int rehash(struct store_counters *c, size_t nslot)
{
    uint32_t *s = calloc(nslot, sizeof(*s));
    if (!s)
        return TS_E_NOMEM;
    for (size_t i = 0; i < c->n; i++) {
        size_t j = c->e[i].h & (nslot - 1);
        while (s[j])
            j = (j + 1) & (nslot - 1);
        s[j] = (uint32_t)(i + 1);
    }
    free(c->slot);
    c->slot = s;
    c->nslot = nslot;
    return 0;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        if (n)
            memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int store_counters_add(struct store_counters *c, int64_t time_ns, enum store_counter_kind kind,
                       const char *tenant, const char *a, const char *b, const char *label,
                       uint64_t n)
{
    if (!c || !n)
        return c ? 0 : TS_E_INVAL;
    uint32_t hour = hour_of(time_ns);
    size_t tl = cut(tenant, STORE_TENANT_MAX);
    size_t al = cut(a, STORE_COUNTER_A_MAX), bl = cut(b, STORE_COUNTER_B_MAX);
    if (!tenant)
        tenant = "";
    for (int pass = 0; pass < 2; pass++) {
        uint64_t h = 1469598103934665603ull ^ ((uint64_t)hour << 8 | (uint8_t)kind);
        h = hash_str(h * 1099511628211ull, tenant, tl);
        h = hash_str(hash_str(h, a ? a : "", al), b ? b : "", bl);
        if (c->nslot) {
            size_t j = h & (c->nslot - 1);
            for (; c->slot[j]; j = (j + 1) & (c->nslot - 1)) {
                struct cent *e = &c->e[c->slot[j] - 1];
                if (e->h == h && e->hour == hour && e->kind == (uint8_t)kind &&
                    strlen(e->tenant) == tl && !memcmp(e->tenant, tenant, tl) &&
                    strlen(e->a) == al && !memcmp(e->a, a ? a : "", al) && strlen(e->b) == bl &&
                    !memcmp(e->b, b ? b : "", bl)) {
                    e->n += n;
                    if (label && *label && strcmp(e->label, label) != 0) {
                        char *nl = dup_n(label, cut(label, STORE_STR_MAX));
                        if (!nl)
                            return TS_E_NOMEM;
                        free(e->label);
                        e->label = nl;
                    }
                    return 0;
                }
            }
        }
        if (pass == 0 && c->n >= STORE_COUNTERS_CAP) { /* over the cap: "(other)" */
            a = OTHER;
            al = strlen(OTHER);
            label = NULL;
            continue;
        }
        if (c->n >= STORE_COUNTERS_CAP + OTHER_SLACK) {
            c->dropped += n;
            return TS_E_LIMIT;
        }
        if (c->n == c->cap) {
            size_t nc = c->cap ? c->cap * 2 : 64;
            struct cent *ne = realloc(c->e, nc * sizeof(*ne));
            if (!ne)
                return TS_E_NOMEM;
            c->e = ne;
            c->cap = nc;
        }
        if ((c->n + 1) * 2 > c->nslot && rehash(c, c->nslot ? c->nslot * 2 : 128) != 0)
            return TS_E_NOMEM;
        struct cent *e = &c->e[c->n];
        e->hour = hour;
        e->kind = (uint8_t)kind;
        e->n = n;
        e->h = h;
        e->tenant = dup_n(tenant, tl);
        e->a = dup_n(a ? a : "", al);
        e->b = dup_n(b ? b : "", bl);
        e->label = dup_n(label ? label : "", cut(label, STORE_STR_MAX));
        if (!e->tenant || !e->a || !e->b || !e->label) {
            free(e->tenant);
            free(e->a);
            free(e->b);
            free(e->label);
            return TS_E_NOMEM;
        }
        size_t j = h & (c->nslot - 1);
        while (c->slot[j])
            j = (j + 1) & (c->nslot - 1);
        c->slot[j] = (uint32_t)(++c->n);
        return 0;
    }
    return 0;
}

static size_t counter_key(uint8_t *k, const struct cent *e)
{
    size_t tl = strlen(e->tenant), al = strlen(e->a), bl = strlen(e->b); /* cut at add */
    store_be32(k, e->hour);
    k[4] = e->kind;
    memcpy(k + 5, e->tenant, tl);
    k[5 + tl] = 0;
    memcpy(k + 6 + tl, e->a, al);
    k[6 + tl + al] = 0;
    memcpy(k + 7 + tl + al, e->b, bl);
    return 7 + tl + al + bl;
}

struct cval {
    uint64_t n;
    const char *label;
};

static void enc_counter(struct store_enc *e, const void *obj)
{
    const struct cval *v = obj;
    store_enc_u8(e, STORE_REC_COUNTER);
    store_enc_u8(e, STORE_REC_VERSION);
    store_enc_u64(e, v->n);
    store_enc_str(e, v->label);
}

static int dec_counter(const MDB_val *v, uint64_t *n, const char **label)
{
    struct store_dec d = {v->mv_data, v->mv_size, 0, NULL, 0};
    store_dec_header(&d, STORE_REC_COUNTER);
    *n = store_dec_u64(&d);
    *label = store_dec_blob(&d, NULL);
    return d.err;
}

int store_counters_write(struct store_txn *t, const struct store_counters *c)
{
    int rc = store_txn_check_write(t);
    if (rc || !c)
        return rc;
    uint8_t k[STORE_KEY_MAX + 1];
    for (size_t i = 0; !rc && i < c->n; i++) {
        const struct cent *e = &c->e[i];
        size_t kl = counter_key(k, e);
        MDB_val kv = {kl, k}, v;
        struct cval cv = {e->n, e->label};
        int g = mdb_get(t->txn, t->s->dbi[DB_COUNTERS], &kv, &v);
        if (g == 0) {
            uint64_t old;
            const char *ol;
            if (dec_counter(&v, &old, &ol) == 0) {
                cv.n += old;
                if (!*cv.label)
                    cv.label = ol; /* copied by the put below before v is reused */
            }
            /* a corrupt record is replaced by this period's count */
        } else if (g != MDB_NOTFOUND) {
            return store_txn_fail(t, g, "counter get");
        }
        char lab[STORE_STR_MAX + 1];
        if (cv.label != e->label) { /* ol points into the map: copy before the put */
            snprintf(lab, sizeof(lab), "%s", cv.label);
            cv.label = lab;
        }
        rc = store_put_record(t, t->s->dbi[DB_COUNTERS], k, kl, enc_counter, &cv,
                              "counter put");
    }
    return rc;
}

bool store_counters_present(const struct store *s)
{
    return s && !s->no_counters_db;
}

int64_t store_counters_since(const struct store *s)
{
    return s ? s->counters_since : 0;
}

int store_counters_foreach(struct store_txn *t, int64_t from_ns, int64_t to_ns,
                           int (*fn)(void *ctx, const struct store_counter *c), void *ctx)
{
    int rc = store_txn_check_read(t);
    if (rc || t->s->no_counters_db || to_ns <= from_ns)
        return rc;
    /* the hours starting in [from, to) */
    /* rounded up without overflow (to_ns may be INT64_MAX: "every hour") */
    int64_t fh = from_ns <= 0 ? 0 : from_ns / NS_PER_HOUR + (from_ns % NS_PER_HOUR != 0);
    int64_t th = to_ns <= 0 ? 0 : to_ns / NS_PER_HOUR + (to_ns % NS_PER_HOUR != 0);
    if (fh > (int64_t)UINT32_MAX || th <= fh)
        return 0;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_COUNTERS], &cur)) != 0)
        return store_txn_fail(t, rc, "counters cursor");
    uint8_t kb[4];
    store_be32(kb, (uint32_t)fh);
    MDB_val k = {4, kb}, v;
    int m = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    rc = 0;
    for (; !rc && m == 0; m = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *p = k.mv_data;
        if (k.mv_size < 6)
            continue;
        uint32_t hour = store_get_be32(p);
        if ((int64_t)hour >= th)
            break;
        /* tenant NUL a NUL b, each within its cap, else left out */
        char part[3][STORE_COUNTER_A_MAX + 1];
        const size_t caps[3] = {STORE_TENANT_MAX, STORE_COUNTER_A_MAX, STORE_COUNTER_B_MAX};
        const uint8_t *q = p + 5, *end = p + k.mv_size;
        bool ok = true;
        for (int j = 0; ok && j < 3; j++) {
            const uint8_t *nul = j < 2 ? memchr(q, 0, (size_t)(end - q)) : end;
            size_t l = nul ? (size_t)(nul - q) : 0;
            ok = nul && l <= caps[j];
            if (ok) {
                memcpy(part[j], q, l);
                part[j][l] = 0;
                q = nul + (j < 2);
            }
        }
        if (!ok)
            continue;
        struct store_counter c = {.hour_ns = (int64_t)hour * NS_PER_HOUR,
                                  .kind = (enum store_counter_kind)p[4],
                                  .tenant = part[0],
                                  .a = part[1],
                                  .b = part[2]};
        if (dec_counter(&v, &c.n, &c.label) != 0)
            continue; /* a corrupt record: left out */
        rc = fn(ctx, &c);
    }
    mdb_cursor_close(cur);
    if (!rc && m != 0 && m != MDB_NOTFOUND)
        rc = store_txn_fail(t, m, "counters walk");
    return rc;
}
