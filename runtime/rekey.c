/* rekey.c - the re-keyed hop of the distributed mode (docs/scale.md):
 * stage A turns each detection that feeds correlation into one record per
 * correlation input that uses it, keyed by (rule, tenant, group key), on
 * the internal topic; stage B decodes those records back into events that
 * correlation reads exactly as it reads them in one process.
 *
 * Record value (why not JSON: the record must give back the event as the
 * engine saw it - typed values (an IP, an integer and a string render
 * differently in group keys and are compared differently), event time in
 * ns, the source position and the raw bytes as they were - which JSON would
 * turn into strings and base64; a few varints cost ~1/3 of that, decode
 * without allocation per field, and are bounded by construction):
 *
 *   'T' 1                              magic, version
 *   varint flags                       1: time_clamped, 2: time_from_event
 *   zigzag time_ns
 *   str detection rule (id, else name, else "#<index>")
 *   str use (correlate.h: corr_use_name)
 *   str tenant
 *   byte source kind, str source name, zigzag partition, varint offset, varint line
 *   str raw
 *   varint nfields, per field: str name, byte type, value
 *     STR: str; INT: zigzag; FLOAT: 8 bytes (IEEE, little-endian);
 *     BOOL: byte; IP: byte family, 4 or 16 bytes; LIST: varint n, n scalar values
 *   str = varint length, bytes
 *
 * Only the fields some correlation, entity or the evidence attribute reads
 * are carried (corr_field_used). Threads: the routing state is per worker
 * (b->worker); the codec is reentrant. */
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/varint.h"
#include "runtime_int.h"

#define RK_MAGIC 'T'
#define RK_VERSION 1
#define RK_MAX_LIST 1024 /* items of a list carried */

/* ------------------------------------------------------------- encoding */

static int put_varint(struct ts_buf *b, uint64_t v)
{
    uint8_t tmp[TS_VARINT_MAX];
    return ts_buf_append(b, tmp, ts_varint_put(tmp, v));
}

static uint64_t zz(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzz(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static int put_str(struct ts_buf *b, const char *s, size_t n)
{
    int rc = put_varint(b, n);
    return rc ? rc : ts_buf_append(b, s ? s : "", n);
}

static int put_cstr(struct ts_buf *b, const char *s)
{
    return put_str(b, s, s ? strlen(s) : 0);
}

static int put_scalar(struct ts_buf *b, const struct ts_value *v)
{
    uint8_t t = v->type;
    int rc = ts_buf_append(b, &t, 1);
    if (rc)
        return rc;
    switch (v->type) {
    case TS_V_STR: return put_str(b, v->u.s, v->len);
    case TS_V_INT: return put_varint(b, zz(v->u.i));
    case TS_V_FLOAT: {
        uint64_t bits;
        memcpy(&bits, &v->u.f, 8);
        uint8_t le[8];
        for (int i = 0; i < 8; i++)
            le[i] = (uint8_t)(bits >> (8 * i));
        return ts_buf_append(b, le, 8);
    }
    case TS_V_BOOL: {
        uint8_t x = v->u.b ? 1 : 0;
        return ts_buf_append(b, &x, 1);
    }
    case TS_V_IP: {
        uint8_t fam = v->u.ip.family == 6 ? 6 : 4;
        rc = ts_buf_append(b, &fam, 1);
        return rc ? rc : ts_buf_append(b, v->u.ip.addr, fam == 6 ? 16 : 4);
    }
    default: return 0; /* NULL */
    }
}

static int put_value(struct ts_buf *b, const struct ts_value *v)
{
    if (v->type != TS_V_LIST)
        return put_scalar(b, v);
    uint8_t t = TS_V_LIST;
    size_t n = 0; /* scalar items only (nested lists are left out) */
    for (uint32_t i = 0; i < v->len && n < RK_MAX_LIST; i++)
        n += v->u.items[i].type != TS_V_LIST;
    int rc = ts_buf_append(b, &t, 1);
    rc = rc ? rc : put_varint(b, n);
    for (uint32_t i = 0, k = 0; !rc && i < v->len && k < n; i++)
        if (v->u.items[i].type != TS_V_LIST) {
            rc = put_scalar(b, &v->u.items[i]);
            k++;
        }
    return rc;
}

int rt_rekey_encode(struct ts_buf *b, const struct ts_event *ev, const char *rule,
                    const char *use, const struct corr_engine *ce, size_t raw_max)
{
    uint8_t hdr[2] = {RK_MAGIC, RK_VERSION};
    int rc = ts_buf_append(b, hdr, 2);
    rc = rc ? rc : put_varint(b, (ev->time_clamped ? 1u : 0u) | (ev->time_from_event ? 2u : 0u));
    rc = rc ? rc : put_varint(b, zz(ev->time_ns));
    rc = rc ? rc : put_cstr(b, rule);
    rc = rc ? rc : put_cstr(b, use);
    rc = rc ? rc : put_cstr(b, ev->tenant);
    uint8_t kind = ev->src.kind;
    rc = rc ? rc : ts_buf_append(b, &kind, 1);
    rc = rc ? rc : put_cstr(b, ev->src.name);
    rc = rc ? rc : put_varint(b, zz(ev->src.partition));
    rc = rc ? rc : put_varint(b, zz(ev->src.offset));
    rc = rc ? rc : put_varint(b, ev->src.line);
    size_t rl = ev->raw ? ev->raw_len : 0;
    if (raw_max && rl > raw_max)
        rl = raw_max; /* the engine keeps no more of it (corr_opts.raw_max_bytes) */
    rc = rc ? rc : put_str(b, ev->raw, rl);
    if (rc)
        return rc;
    size_t n = 0;
    for (uint32_t i = 0; i < ev->nfields; i++)
        n += !ce || corr_field_used(ce, ev->fields[i].name, ev->fields[i].name_len);
    rc = put_varint(b, n);
    for (uint32_t i = 0; !rc && i < ev->nfields; i++) {
        const struct ts_field *f = &ev->fields[i];
        if (ce && !corr_field_used(ce, f->name, f->name_len))
            continue;
        rc = put_str(b, f->name, f->name_len);
        rc = rc ? rc : put_value(b, &f->v);
    }
    return rc;
}

/* ------------------------------------------------------------- decoding */

struct rd {
    const uint8_t *p, *end;
};

static bool get_varint(struct rd *r, uint64_t *out)
{
    size_t u = ts_varint_get(r->p, (size_t)(r->end - r->p), out);
    r->p += u;
    return u > 0;
}

static bool get_bytes(struct rd *r, const uint8_t **p, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return false;
    *p = r->p;
    r->p += n;
    return true;
}

static bool get_str(struct rd *r, const char **s, size_t *n)
{
    uint64_t l;
    const uint8_t *p;
    if (!get_varint(r, &l) || l > (uint64_t)(r->end - r->p) || !get_bytes(r, &p, (size_t)l))
        return false;
    *s = (const char *)p;
    *n = (size_t)l;
    return true;
}

/* A C string (tenant, names) copied into the arena; refuses NUL inside. */
static const char *get_cstr(struct rd *r, struct ts_arena *a, size_t max)
{
    const char *s;
    size_t n;
    if (!get_str(r, &s, &n) || n > max || memchr(s, '\0', n))
        return NULL;
    return ts_arena_strndup(a, s, n);
}

static bool get_scalar(struct rd *r, struct ts_value *v)
{
    const uint8_t *p;
    uint64_t u;
    memset(v, 0, sizeof(*v));
    if (!get_bytes(r, &p, 1))
        return false;
    v->type = p[0];
    switch (v->type) {
    case TS_V_NULL: return true;
    case TS_V_STR: {
        size_t n;
        if (!get_str(r, &v->u.s, &n))
            return false;
        v->len = (uint32_t)n;
        return n <= UINT32_MAX;
    }
    case TS_V_INT:
        if (!get_varint(r, &u))
            return false;
        v->u.i = unzz(u);
        return true;
    case TS_V_FLOAT: {
        if (!get_bytes(r, &p, 8))
            return false;
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++)
            bits |= (uint64_t)p[i] << (8 * i);
        memcpy(&v->u.f, &bits, 8);
        return true;
    }
    case TS_V_BOOL:
        if (!get_bytes(r, &p, 1) || p[0] > 1)
            return false;
        v->u.b = p[0] == 1;
        return true;
    case TS_V_IP:
        if (!get_bytes(r, &p, 1) || (p[0] != 4 && p[0] != 6))
            return false;
        v->u.ip.family = p[0];
        if (!get_bytes(r, &p, p[0] == 6 ? 16 : 4))
            return false;
        memcpy(v->u.ip.addr, p, v->u.ip.family == 6 ? 16 : 4);
        return true;
    default: return false;
    }
}

int rt_rekey_decode(const char *buf, size_t len, struct ts_event *ev, struct rt_rekey_rec *rec,
                    const char **reason)
{
    struct rd r = {(const uint8_t *)buf, (const uint8_t *)buf + len};
    struct ts_arena *a = ev->arena;
    const uint8_t *p;
    uint64_t flags, t, kind, part, off, line, nf;
    *reason = "re-keyed record: truncated or malformed";
    if (!get_bytes(&r, &p, 2) || p[0] != RK_MAGIC) {
        *reason = "re-keyed record: not a Tocsin record (bad magic)";
        return TS_E_PARSE;
    }
    if (p[1] != RK_VERSION) {
        *reason = "re-keyed record: unknown version (a newer Tocsin wrote it?)";
        return TS_E_PARSE;
    }
    if (!get_varint(&r, &flags) || flags > 3 || !get_varint(&r, &t))
        return TS_E_PARSE;
    if (!(rec->rule = get_cstr(&r, a, 4096)) || !(rec->use = get_cstr(&r, a, 65536)))
        return TS_E_PARSE;
    const char *tenant = get_cstr(&r, a, TS_TENANT_MAX);
    if (!tenant || (tenant[0] && ts_tenant_check(tenant, strlen(tenant)))) {
        *reason = "re-keyed record: bad tenant";
        return TS_E_PARSE;
    }
    if (!get_bytes(&r, &p, 1) || p[0] > TS_SRC_KAFKA)
        return TS_E_PARSE;
    kind = p[0];
    const char *src = get_cstr(&r, a, 65536);
    const char *raw;
    size_t rawlen;
    if (!src || !get_varint(&r, &part) || !get_varint(&r, &off) || !get_varint(&r, &line) ||
        !get_str(&r, &raw, &rawlen) || rawlen > UINT32_MAX || !get_varint(&r, &nf) ||
        nf > TS_EVENT_MAX_FIELDS)
        return TS_E_PARSE;
    int64_t pv = unzz(part);
    if (pv < INT32_MIN || pv > INT32_MAX)
        return TS_E_PARSE;
    ts_event_init(ev, a);
    ev->time_clamped = flags & 1;
    ev->time_from_event = (flags & 2) != 0;
    ev->time_ns = unzz(t);
    ev->tenant = tenant;
    ev->src = (struct ts_srcpos){.kind = (uint8_t)kind, .name = src, .partition = (int32_t)pv,
                                 .offset = unzz(off), .line = line};
    ev->raw = raw;
    ev->raw_len = (uint32_t)rawlen;
    for (uint64_t i = 0; i < nf; i++) {
        const char *name;
        size_t nl;
        if (!get_str(&r, &name, &nl) || nl == 0 || nl > 4096 || memchr(name, '\0', nl))
            return TS_E_PARSE;
        const char *cname = ts_arena_strndup(a, name, nl);
        if (!cname)
            return TS_E_NOMEM;
        struct ts_value v;
        if (r.p < r.end && *r.p == TS_V_LIST) {
            uint64_t n;
            r.p++;
            if (!get_varint(&r, &n) || n > RK_MAX_LIST)
                return TS_E_PARSE;
            struct ts_value *items = ts_arena_alloc(a, (n ? n : 1) * sizeof(*items));
            if (!items)
                return TS_E_NOMEM;
            for (uint64_t k = 0; k < n; k++)
                if (!get_scalar(&r, &items[k]))
                    return TS_E_PARSE;
            v = (struct ts_value){.type = TS_V_LIST, .len = (uint32_t)n};
            v.u.items = items;
        } else if (!get_scalar(&r, &v)) {
            return TS_E_PARSE;
        }
        int rc = ts_event_add(ev, cname, nl, &v);
        if (rc)
            return rc;
    }
    if (r.p != r.end)
        return TS_E_PARSE;
    *reason = NULL;
    return 0;
}

/* ------------------------------------------------------------ stage A */

int rt_rekey_open(struct rt_rekey *rk, const char *topic, const struct corr_opts *co,
                  int workers)
{
    memset(rk, 0, sizeof(*rk));
    rk->topic = topic;
    rk->co = *co;
    rk->co.no_state_export = true;
    rk->co.evidence_attr = "asset.id"; /* as the stage B engine (corr_stage.c) */
    rk->nw = workers > 0 ? (size_t)workers : 1;
    rk->w = calloc(rk->nw, sizeof(*rk->w));
    if (!rk->w)
        return TS_E_NOMEM;
    for (size_t i = 0; i < rk->nw; i++) {
        ts_buf_init(&rk->w[i].key, CORR_MAX_KEY_BYTES + 70000);
        ts_buf_init(&rk->w[i].val, 0);
    }
    return 0;
}

void rt_rekey_close(struct rt_rekey *rk)
{
    for (size_t i = 0; rk->w && i < rk->nw; i++) {
        corr_engine_destroy(rk->w[i].ce);
        rule_set_unref(rk->w[i].rs);
        ts_buf_free(&rk->w[i].key);
        ts_buf_free(&rk->w[i].val);
    }
    free(rk->w);
    memset(rk, 0, sizeof(*rk));
}

/* The worker's routing engine for rs (compiled rules, never fed: only
 * corr_use_* and corr_field_used are asked), rebuilt when a reload swapped
 * the set. NULL without memory or when the rules do not compile. */
static struct corr_engine *route_engine(struct rt_rekey *rk, size_t w, struct rule_set *rs)
{
    struct rt_rekey_worker *x = &rk->w[w];
    if (x->rs == rs && x->ce)
        return x->ce;
    struct corr_engine *ce = NULL;
    struct ts_err err = {0};
    if (corr_engine_create(&ce, rs, &rk->co, NULL, &err) != 0)
        return NULL;
    corr_engine_destroy(x->ce);
    rule_set_unref(x->rs);
    x->ce = ce;
    x->rs = rule_set_ref(rs);
    return ce;
}

bool rt_rekey_standalone(struct rt_rekey *rk, int worker, struct rule_set *rs, size_t idx)
{
    size_t w = worker >= 0 && (size_t)worker < rk->nw ? (size_t)worker : 0;
    struct corr_engine *ce = route_engine(rk, w, rs);
    return corr_detection_standalone(ce, idx);
}

int rt_rekey_route(struct rt_rekey *rk, int worker, struct rule_set *rs, size_t idx,
                   const struct ts_event *ev, const struct ingest_batch *b)
{
    size_t w = worker >= 0 && (size_t)worker < rk->nw ? (size_t)worker : 0;
    struct corr_engine *ce = route_engine(rk, w, rs);
    if (!ce)
        return TS_E_NOMEM;
    size_t n = corr_use_count(ce, idx);
    if (!n)
        return 0;
    const struct rule_info *ri = rule_set_info(rs, idx);
    char ord[32];
    const char *rule = ri->id ? ri->id : ri->name;
    if (!rule) {
        snprintf(ord, sizeof(ord), "#%zu", idx);
        rule = ord;
    }
    struct rt_rekey_worker *x = &rk->w[w];
    int64_t ms = ev->time_ns > 0 ? ev->time_ns / 1000000 : 0;
    for (size_t u = 0; u < n; u++) {
        ts_buf_reset(&x->key);
        ts_buf_reset(&x->val);
        int rc = corr_use_key(ce, idx, u, ev, &x->key);
        rc = rc ? rc : rt_rekey_encode(&x->val, ev, rule, corr_use_name(ce, idx, u), ce,
                                       rk->co.raw_max_bytes ? rk->co.raw_max_bytes
                                                            : RT_REKEY_RAW_MAX);
        if (!rc && x->key.len + x->val.len > RT_REKEY_RECORD_MAX) {
            /* field values far beyond anything a group key or value needs:
             * never a reason to stop every tenant's ingestion */
            uint64_t big = atomic_fetch_add(&rk->too_large, 1) + 1;
            if (big <= 10 || big % 10000 == 0)
                ts_warn("a detection of %s too large to re-key (%zu bytes): left out of "
                        "correlation (%llu so far)",
                        rule, x->key.len + x->val.len, (unsigned long long)big);
            continue;
        }
        rc = rc ? rc : ingest_batch_produce(b, rk->topic, x->key.data, x->key.len, x->val.data,
                                            x->val.len, ms);
        if (rc)
            return rc;
        atomic_fetch_add_explicit(&rk->records, 1, memory_order_relaxed);
    }
    return 0;
}

/* ------------------------------------------------------------ stage B */

int rt_rekey_batch(struct rt_corr *cs, struct rule_set *rs, struct ingest_batch *b,
                   _Atomic uint64_t *bad)
{
    size_t w = b->worker >= 0 && (size_t)b->worker < cs->nworkers ? (size_t)b->worker : 0;
    for (uint32_t i = 0; i < b->n; i++) {
        struct ts_event *ev = &b->events[i];
        struct rt_rekey_rec rec;
        const char *why = NULL;
        int32_t lane = ev->src.partition; /* the internal partition it came through */
        /* ev->raw is the record as received (in b's arena): decoded in place */
        int rc = rt_rekey_decode(ev->raw, ev->raw_len, ev, &rec, &why);
        if (rc == TS_E_NOMEM || rc == TS_E_LIMIT)
            return rc;
        if (!rc && ev->src.kind == TS_SRC_KAFKA) {
            /* watermarked per (source partition, internal partition): each
             * is in order, the internal partitions skew freely (correlate.h:
             * CORR_LANE_SEP); evidence still names the source */
            char ln[300];
            int l = snprintf(ln, sizeof(ln), "%s%c%d", ev->src.name, CORR_LANE_SEP, (int)lane);
            if (l < 0 || (size_t)l >= sizeof(ln))
                rc = TS_E_PARSE, why = "re-keyed record: source name too long";
            else if (!(ev->src.name = ts_arena_strndup(b->arena, ln, (size_t)l)))
                return TS_E_NOMEM;
        }
        long idx = rc ? -1 : rec.rule[0] == '#' ? strtol(rec.rule + 1, NULL, 10)
                                                 : rule_set_find(rs, rec.rule);
        long use = idx >= 0 && (size_t)idx < rule_set_count(rs)
                       ? corr_use_find(cs->ce, (size_t)idx, rec.use)
                       : -1;
        if (rc || use < 0) {
            /* a record this node cannot feed: another rule set (a node not
             * yet reloaded) or damage. Counted and logged, never fatal. */
            uint64_t nbad = atomic_fetch_add(bad, 1) + 1;
            if (nbad <= 10 || nbad % 10000 == 0)
                ts_warn("re-keyed record %d of a batch of %s left out: %s (%llu so far)",
                        (int)i, b->noffsets ? b->offsets[0].topic : "?",
                        rc ? why : "its rule or correlation is not loaded here",
                        (unsigned long long)nbad);
            continue;
        }
        rc = rt_corr_collect_use(cs, (int)w, (size_t)idx, (uint32_t)use, ev);
        if (rc)
            return rc;
    }
    return 0;
}
