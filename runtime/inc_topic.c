/* inc_topic.c - incidents everywhere (docs/scale.md, "Incidents topic"):
 * in the distributed mode stage B publishes every incident change to the
 * compacted topic "<group>.incidents" in the batch's Kafka transaction, and
 * every process materialises that topic into its own LMDB, so any node
 * answers `incidents list` for all.
 *
 * Records (varints as in rekey.c; every string followed by a NUL so that a
 * decoded record points into the value):
 *   key <incident id>             'I' 1, str node, str rule_id, rule_title,
 *                                 level, author, tenant, group_key,
 *                                 distinct_field, details, byte severity,
 *                                 byte distinct_truncated, zigzag first,
 *                                 last, varint count, varint n + str tags,
 *                                 varint n + str distinct
 *                                 (a tombstone: the incident was retracted)
 *   key <id>/<source>:<p>:<off>   'E' 1, str node, str id, str source,
 *                                 zigzag partition, offset, event_ns,
 *                                 byte late, str rule_id, str raw
 *   key <id>/status:<at_ns>       'S' 1, str node, str id, byte status (to),
 *                                 zigzag at_ns, str by, str comment
 *                                 (an analyst's status change, produced by
 *                                 rt_inc_status_change to the id's partition)
 * Evidence records have keys of their own so that compaction keeps each;
 * they go to the partition of the incident's id (ingest_kafka_partition_of)
 * after the incident record of the same transaction, so a reader meets an
 * incident before its evidence.
 *
 * The materialiser: one thread per process, its own consumer of every
 * partition (assign, read_committed, never in a group), from the offsets
 * it stored in LMDB with what it wrote: each poll's records, the incidents
 * put (one put per record: the revisions agree between nodes) with their
 * evidence, and the topic's offsets go in one LMDB transaction. Escalations
 * are queued by the node that produced the record (the owner of the key at
 * that time) only, in the same transaction: once, whichever nodes read it.
 *
 * Status changes (docs/scale.md, "Status changes everywhere") are never
 * written to a store directly in this mode: the node publishes the change
 * and every materialiser (its own too) applies it in offset order, with the
 * record's time as the change's time, so that every node refuses or applies
 * the same changes and keeps the same history. The materialiser marks its
 * store as a replica (store name "incidents_topic") so that `tocsin
 * incidents ack|resolve|reopen --db` finds the topic and the config.
 *
 * Threads: rt_inc_* codecs are reentrant; rt_incmat_* from the run's
 * thread, the materialiser on its own. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/log.h"
#include "../core/tstime.h"
#include "../core/varint.h"
#include "runtime_int.h"

#define INC_MAGIC_I 'I'
#define INC_MAGIC_E 'E'
#define INC_MAGIC_S 'S'
#define REPLICA_NAME "incidents_topic"
#define WAIT_SPACE "status_wait"
#define INC_VERSION 1
#define MAT_BATCH 4000          /* records per LMDB transaction */
#define MAT_BYTES (8u << 20)    /* bytes of records per LMDB transaction */

/* ------------------------------------------------------------- codec */

static int put_var(struct ts_buf *b, uint64_t v)
{
    uint8_t tmp[TS_VARINT_MAX];
    return ts_buf_append(b, tmp, ts_varint_put(tmp, v));
}

static uint64_t zz(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzz(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static int put_strn(struct ts_buf *b, const char *s, size_t n)
{
    int rc = put_var(b, n);
    rc = rc ? rc : ts_buf_append(b, s ? s : "", n);
    return rc ? rc : ts_buf_putc(b, '\0');
}

static int put_str(struct ts_buf *b, const char *s) { return put_strn(b, s, s ? strlen(s) : 0); }

int rt_inc_encode(struct ts_buf *b, const char *node, const struct store_incident *si)
{
    uint8_t hdr[2] = {INC_MAGIC_I, INC_VERSION};
    int rc = ts_buf_append(b, hdr, 2);
    rc = rc ? rc : put_str(b, node);
    const char *s[] = {si->rule_id, si->rule_title, si->level, si->author, si->tenant,
                       si->group_key, si->distinct_field, si->details};
    for (size_t i = 0; !rc && i < TS_ARRAY_LEN(s); i++)
        rc = put_str(b, s[i]);
    uint8_t f[2] = {si->severity, si->distinct_truncated ? 1 : 0};
    rc = rc ? rc : ts_buf_append(b, f, 2);
    rc = rc ? rc : put_var(b, zz(si->first_seen_ns));
    rc = rc ? rc : put_var(b, zz(si->last_seen_ns));
    rc = rc ? rc : put_var(b, si->count);
    rc = rc ? rc : put_var(b, si->ntags);
    for (uint32_t i = 0; !rc && i < si->ntags; i++)
        rc = put_str(b, si->tags[i]);
    rc = rc ? rc : put_var(b, si->ndistinct);
    for (uint32_t i = 0; !rc && i < si->ndistinct; i++)
        rc = put_str(b, si->distinct[i]);
    return rc;
}

int rt_inc_encode_ev(struct ts_buf *b, const char *node, const char *id,
                     const struct store_evidence *e)
{
    uint8_t hdr[2] = {INC_MAGIC_E, INC_VERSION};
    int rc = ts_buf_append(b, hdr, 2);
    rc = rc ? rc : put_str(b, node);
    rc = rc ? rc : put_str(b, id);
    rc = rc ? rc : put_str(b, e->source);
    rc = rc ? rc : put_var(b, zz(e->partition));
    rc = rc ? rc : put_var(b, zz(e->offset));
    rc = rc ? rc : put_var(b, zz(e->event_ns));
    uint8_t late = e->late ? 1 : 0;
    rc = rc ? rc : ts_buf_append(b, &late, 1);
    rc = rc ? rc : put_str(b, e->rule_id);
    return rc ? rc : put_strn(b, e->raw, e->raw ? e->raw_len : 0);
}

int rt_inc_encode_status(struct ts_buf *b, const char *node, const struct rt_inc_status *c)
{
    uint8_t hdr[2] = {INC_MAGIC_S, INC_VERSION};
    int rc = ts_buf_append(b, hdr, 2);
    rc = rc ? rc : put_str(b, node);
    rc = rc ? rc : put_str(b, c->id);
    uint8_t to = (uint8_t)c->to;
    rc = rc ? rc : ts_buf_append(b, &to, 1);
    rc = rc ? rc : put_var(b, zz(c->at_ns));
    rc = rc ? rc : put_str(b, c->by);
    return rc ? rc : put_str(b, c->comment);
}

int rt_inc_status_key(struct ts_buf *b, const char *id, int64_t at_ns)
{
    return ts_buf_printf(b, "%s/status:%lld", id, (long long)at_ns);
}

int rt_inc_evidence_key(struct ts_buf *b, const char *id, const char *source, int32_t partition,
                        int64_t offset)
{
    return ts_buf_printf(b, "%s/%s:%d:%lld", id, source ? source : "", (int)partition,
                         (long long)offset);
}

static const char *get_str(struct ts_rd *r, size_t *len)
{
    uint64_t n = ts_rd_var(r);
    if (r->bad || n >= r->n - r->i || r->p[r->i + n] != '\0') {
        r->bad = true;
        return "";
    }
    const char *s = (const char *)r->p + r->i;
    r->i += (size_t)n + 1;
    if (len)
        *len = (size_t)n;
    return s;
}

/* A decoded record; strings point into the value; the arrays into arena. */
struct inc_rec {
    char kind; /* INC_MAGIC_* */
    bool evidence;
    const char *node, *id;
    struct store_incident si;
    struct store_evidence ev;
    struct rt_inc_status st;
};

static const char **get_strv(struct ts_rd *r, uint32_t *n, uint32_t max, struct ts_arena *a)
{
    uint64_t k = ts_rd_var(r);
    if (r->bad || k > max) {
        r->bad = true;
        return NULL;
    }
    *n = (uint32_t)k;
    const char **v = k ? ts_arena_alloc(a, (size_t)k * sizeof(*v)) : NULL;
    if (k && !v) {
        r->bad = true;
        return NULL;
    }
    for (uint32_t i = 0; i < *n; i++)
        v[i] = get_str(r, NULL);
    return v;
}

static int inc_decode(const void *val, size_t len, struct inc_rec *o, struct ts_arena *a);

int rt_inc_decode_status(const void *val, size_t len, struct rt_inc_status *out)
{
    struct inc_rec r;
    int rc = inc_decode(val, len, &r, NULL);
    if (!rc && r.kind != INC_MAGIC_S)
        rc = TS_E_PARSE;
    if (!rc)
        *out = r.st;
    return rc;
}

static int inc_decode(const void *val, size_t len, struct inc_rec *o, struct ts_arena *a)
{
    memset(o, 0, sizeof(*o));
    struct ts_rd r = {.p = val, .n = len};
    uint8_t m = ts_rd_u8(&r), v = ts_rd_u8(&r);
    if (r.bad || v != INC_VERSION || (m != INC_MAGIC_I && m != INC_MAGIC_E && m != INC_MAGIC_S))
        return TS_E_PARSE;
    o->kind = (char)m;
    o->node = get_str(&r, NULL);
    if (m == INC_MAGIC_S) {
        o->id = o->st.id = get_str(&r, NULL);
        uint8_t to = ts_rd_u8(&r);
        if (to >= STORE_STATUS_COUNT || to == STORE_STATUS_NEW)
            r.bad = true;
        o->st.to = (enum store_status)to;
        o->st.at_ns = unzz(ts_rd_var(&r));
        o->st.by = get_str(&r, NULL);
        o->st.comment = get_str(&r, NULL);
    } else if (m == INC_MAGIC_E) {
        o->evidence = true;
        o->id = get_str(&r, NULL);
        o->ev.source = get_str(&r, NULL);
        o->ev.partition = (int32_t)unzz(ts_rd_var(&r));
        o->ev.offset = unzz(ts_rd_var(&r));
        o->ev.event_ns = unzz(ts_rd_var(&r));
        o->ev.late = ts_rd_u8(&r) != 0;
        o->ev.rule_id = get_str(&r, NULL);
        if (!*o->ev.rule_id)
            o->ev.rule_id = NULL;
        o->ev.raw = get_str(&r, &o->ev.raw_len);
        if (!o->ev.raw_len)
            o->ev.raw = NULL;
    } else {
        struct store_incident *si = &o->si;
        const char **s[] = {&si->rule_id, &si->rule_title, &si->level, &si->author,
                            &si->tenant, &si->group_key, &si->distinct_field, &si->details};
        for (size_t i = 0; i < TS_ARRAY_LEN(s); i++)
            *s[i] = get_str(&r, NULL);
        if (!*si->level)
            si->level = NULL;
        if (!*si->distinct_field)
            si->distinct_field = NULL;
        si->severity = ts_rd_u8(&r);
        si->distinct_truncated = ts_rd_u8(&r) != 0;
        si->first_seen_ns = unzz(ts_rd_var(&r));
        si->last_seen_ns = unzz(ts_rd_var(&r));
        si->count = ts_rd_var(&r);
        si->tags = get_strv(&r, &si->ntags, STORE_TAGS_MAX, a);
        si->distinct = get_strv(&r, &si->ndistinct, STORE_DISTINCT_MAX, a);
    }
    return r.bad || r.i != r.n ? TS_E_PARSE : 0;
}

/* ------------------------------------------------------ materialiser */

struct rt_incmat {
    struct store *st;
    struct ingest_kafka_opts ko;
    const char *topic, *node;
    int32_t nparts;
    const struct esc_env *esc;          /* NULL: no escalation here */
    struct esc_dispatcher *dispatcher;  /* kicked after entries were queued */
    struct ingest_tail *tail;
    pthread_t tid;
    bool started;
    atomic_int stop;
    /* the records of one LMDB transaction: (i32 partition, i64 offset, u32
     * klen, u32 vlen or UINT32_MAX, key, value) */
    struct ts_buf recs;
    size_t nrecs;
    struct ts_arena *arena;
    struct esc_outbox_batch eb;
    /* counters (materialiser thread; read racily for the stats line) */
    _Atomic uint64_t incidents, evidence, deleted, orphans, bad, txns, queued;
    _Atomic uint64_t st_applied, st_refused, st_waiting;
    struct ts_buf wait;         /* status changes taken from aside (mat_body) */
    char *own_topic;            /* serve: the topic name and config it owns */
    struct ts_config *own_cfg;
};

static int mat_record(void *ctx, int32_t partition, int64_t offset, const void *key, size_t klen,
                      const void *val, size_t vlen)
{
    struct rt_incmat *m = ctx;
    if (klen == 0 || klen > 4096 || vlen >= UINT32_MAX)
        return 0;
    int64_t off = offset;
    uint32_t h[3] = {(uint32_t)partition, (uint32_t)klen, val ? (uint32_t)vlen : UINT32_MAX};
    int rc = ts_buf_append(&m->recs, h, sizeof(h));
    rc = rc ? rc : ts_buf_append(&m->recs, &off, sizeof(off));
    rc = rc ? rc : ts_buf_append(&m->recs, key, klen);
    rc = rc ? rc : ts_buf_putc(&m->recs, '\0');
    rc = rc ? rc : val ? ts_buf_append(&m->recs, val, vlen) : 0;
    if (!rc)
        m->nrecs++;
    return rc;
}

/* The incident of a record and its evidence that follows it, in one put. */
struct mat_cur {
    bool open;
    struct store_incident si;
    struct store_evidence ev[64];
    size_t nev;
    bool own;
};

struct mat_txn {
    struct rt_incmat *m;
    uint64_t inc, evn, del, orph, bad, queued, st_ok, st_no, st_wait;
    struct mat_cur cur;
    int64_t last[1024]; /* per partition (< 1024): offset + 1, or -1 */
};

static int own_escalate(struct mat_txn *x, struct store_txn *t, const char *id,
                        const struct store_incident *prev)
{
    struct rt_incmat *m = x->m;
    struct store_incident cur;
    int rc = store_incident_get(t, id, m->arena, &cur);
    if (rc == TS_E_NOTFOUND)
        return 0;
    if (!rc)
        rc = esc_outbox_build(m->esc, t, prev, &cur, store_txn_now(t), &m->eb);
    if (!rc)
        rc = esc_outbox_put_all(t, &m->eb);
    if (!rc)
        x->queued += m->eb.n;
    esc_outbox_batch_free(&m->eb);
    if (rc == TS_E_INVAL || rc == TS_E_LIMIT) {
        ts_warn("incidents topic: escalation of %s refused (%s): left out", id, ts_strerror(rc));
        rc = 0;
    }
    return rc;
}

static int waiting_apply(struct mat_txn *x, struct store_txn *t, const char *id, bool drop);

static int cur_flush(struct mat_txn *x, struct store_txn *t)
{
    struct mat_cur *c = &x->cur;
    if (!c->open)
        return 0;
    c->open = false;
    struct rt_incmat *m = x->m;
    struct store_incident prev;
    bool had = false;
    int rc = 0;
    if (c->own && m->esc) {
        rc = store_incident_get(t, c->si.id, m->arena, &prev);
        had = rc == 0;
        if (rc == TS_E_NOTFOUND)
            rc = 0;
    }
    rc = rc ? rc : store_incident_put_ev(t, &c->si, NULL, c->ev, c->nev, NULL);
    if (rc == TS_E_LIMIT)
        rc = 0; /* over the evidence cap: counted by the store */
    if (rc == TS_E_INVAL) {
        x->bad++;
        return 0;
    }
    if (!rc) {
        x->inc++;
        x->evn += c->nev;
    }
    if (!rc && c->own && m->esc)
        rc = own_escalate(x, t, c->si.id, had ? &prev : NULL);
    return rc ? rc : waiting_apply(x, t, c->si.id, false);
}

/* An analyst's change, in topic order on every node: the same transitions
 * are allowed or refused everywhere (store_incident_set_status_comment's
 * rules) and the change carries the time it was made at (the txn clock
 * for the call), so history, status time and revision agree. A change
 * whose incident is not here - compaction kept a later record of the
 * incident, after the change, and dropped the earlier one - waits aside
 * (store_aside_*, key id NUL be64(offset): in the partition's order) and
 * is applied right after the incident is put; the incident's tombstone
 * drops what waits for it. raw/rlen: the record, to set aside (NULL: it
 * comes from aside). */
static int status_apply(struct mat_txn *x, struct store_txn *t, const struct rt_inc_status *c,
                        int64_t off, const void *raw, size_t rlen)
{
    int64_t now = store_txn_now(t);
    store_txn_set_now(t, c->at_ns);
    uint64_t rev;
    int rc = store_incident_set_status_comment(t, c->id, c->to, c->by, c->comment, &rev);
    store_txn_set_now(t, now);
    if (rc == TS_E_NOTFOUND && raw) {
        uint8_t k[STORE_ID_MAX + 9];
        size_t n = strlen(c->id);
        if (n > STORE_ID_MAX)
            return 0;
        memcpy(k, c->id, n + 1);
        for (int i = 0; i < 8; i++)
            k[n + 1 + i] = (uint8_t)((uint64_t)off >> (56 - 8 * i));
        rc = store_aside_put(t, WAIT_SPACE, k, n + 9, raw, rlen);
        if (rc == TS_E_INVAL) {
            x->bad++;
            rc = 0;
        } else if (!rc) {
            x->st_wait++;
        }
    } else if (rc == TS_E_NOTFOUND) {
        rc = 0;
    } else if (rc == TS_E_INVAL) {
        x->st_no++; /* not allowed from the status it has when its turn comes */
        rc = 0;
    } else if (!rc) {
        x->st_ok++;
    }
    return rc;
}

static int wait_collect(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct ts_buf *b = ctx;
    uint32_t h[2] = {(uint32_t)klen, (uint32_t)vlen};
    int rc = ts_buf_append(b, h, sizeof(h));
    rc = rc ? rc : ts_buf_append(b, key, klen);
    return rc ? rc : ts_buf_append(b, val, vlen);
}

/* The changes waiting for id, in offset order: applied (the incident was
 * just put), or dropped (its tombstone); removed from aside either way. */
static int waiting_apply(struct mat_txn *x, struct store_txn *t, const char *id, bool drop)
{
    struct ts_buf *b = &x->m->wait;
    ts_buf_reset(b);
    int rc = store_aside_foreach(t, WAIT_SPACE, id, strlen(id) + 1, wait_collect, b);
    for (size_t o = 0; !rc && o < b->len;) {
        uint32_t h[2];
        memcpy(h, b->data + o, sizeof(h));
        const char *key = b->data + o + sizeof(h), *val = key + h[0];
        o += sizeof(h) + h[0] + h[1];
        struct rt_inc_status c;
        if (!drop && rt_inc_decode_status(val, h[1], &c) == 0)
            rc = status_apply(x, t, &c, -1, NULL, 0);
        rc = rc ? rc : store_aside_del(t, WAIT_SPACE, key, h[0]);
        if (rc == TS_E_NOTFOUND)
            rc = 0;
    }
    return rc;
}

static int mat_body(struct store_txn *t, void *ctx)
{
    struct mat_txn *x = ctx;
    struct rt_incmat *m = x->m;
    ts_arena_reset(m->arena);
    x->inc = x->evn = x->del = x->orph = x->bad = x->queued = 0;
    x->st_ok = x->st_no = x->st_wait = 0;
    x->cur.open = false;
    for (size_t i = 0; i < TS_ARRAY_LEN(x->last); i++)
        x->last[i] = -1;
    int rc = 0;
    for (size_t o = 0; !rc && o < m->recs.len;) {
        uint32_t h[3];
        int64_t off;
        memcpy(h, m->recs.data + o, sizeof(h));
        memcpy(&off, m->recs.data + o + sizeof(h), sizeof(off));
        const char *key = m->recs.data + o + sizeof(h) + sizeof(off);
        const char *val = key + h[1] + 1;
        o += sizeof(h) + sizeof(off) + h[1] + 1 + (h[2] == UINT32_MAX ? 0 : h[2]);
        if (h[0] < TS_ARRAY_LEN(x->last))
            x->last[h[0]] = off + 1;
        if (h[2] == UINT32_MAX) { /* a retracted incident (an evidence key: nothing) */
            if (memchr(key, '/', h[1]))
                continue;
            rc = cur_flush(x, t);
            if (!rc) {
                rc = store_incident_del(t, key);
                if (rc == TS_E_NOTFOUND)
                    rc = 0;
                else if (!rc)
                    x->del++;
            }
            rc = rc ? rc : waiting_apply(x, t, key, true);
            continue;
        }
        struct inc_rec r;
        if (inc_decode(val, h[2], &r, m->arena) != 0) {
            x->bad++;
            continue;
        }
        if (r.kind == INC_MAGIC_S) {
            rc = cur_flush(x, t);
            rc = rc ? rc : status_apply(x, t, &r.st, off, val, h[2]);
            continue;
        }
        if (!r.evidence) {
            rc = cur_flush(x, t);
            r.si.id = key;
            x->cur = (struct mat_cur){.open = true, .si = r.si,
                                      .own = m->node && !strcmp(r.node, m->node)};
            continue;
        }
        if (x->cur.open && !strcmp(x->cur.si.id, r.id) && x->cur.nev < TS_ARRAY_LEN(x->cur.ev)) {
            x->cur.ev[x->cur.nev++] = r.ev;
            continue;
        }
        rc = cur_flush(x, t);
        if (!rc) { /* evidence of an incident put earlier */
            rc = store_evidence_add_n(t, r.id, &r.ev, 1, NULL);
            if (rc == TS_E_NOTFOUND || rc == TS_E_INVAL) {
                x->orph++; /* its incident is not here: compacted away, or retracted */
                rc = 0;
            } else if (rc == TS_E_LIMIT) {
                rc = 0;
            } else if (!rc) {
                x->evn++;
            }
        }
    }
    rc = rc ? rc : cur_flush(x, t);
    for (size_t p = 0; !rc && p < TS_ARRAY_LEN(x->last); p++)
        if (x->last[p] >= 0)
            rc = store_offset_put(t, m->topic, (int32_t)p, x->last[p]);
    return rc;
}

static int mat_commit(struct rt_incmat *m)
{
    if (!m->nrecs)
        return 0;
    struct mat_txn *x = calloc(1, sizeof(*x));
    if (!x)
        return TS_E_NOMEM;
    x->m = m;
    struct ts_err err = {0};
    int rc = store_txn_run(m->st, mat_body, x, &err);
    if (rc) {
        ts_error("incidents topic: LMDB transaction failed (read again from the stored "
                 "offsets): %s", err.code ? err.msg : store_strerror(rc));
    } else {
        atomic_fetch_add(&m->incidents, x->inc);
        atomic_fetch_add(&m->evidence, x->evn);
        atomic_fetch_add(&m->deleted, x->del);
        atomic_fetch_add(&m->orphans, x->orph);
        atomic_fetch_add(&m->bad, x->bad);
        atomic_fetch_add(&m->queued, x->queued);
        atomic_fetch_add(&m->st_applied, x->st_ok);
        atomic_fetch_add(&m->st_refused, x->st_no);
        atomic_fetch_add(&m->st_waiting, x->st_wait);
        atomic_fetch_add(&m->txns, 1);
        if (x->queued && m->dispatcher)
            esc_dispatcher_kick(m->dispatcher);
    }
    ts_buf_reset(&m->recs);
    m->nrecs = 0;
    free(x);
    return rc;
}

int rt_inc_apply(struct store *st, const char *topic, const struct ingest_record *recs, size_t n,
                 struct rt_incmat_stats *out)
{
    struct rt_incmat *m = calloc(1, sizeof(*m));
    if (!m)
        return TS_E_NOMEM;
    m->st = st;
    m->topic = topic;
    ts_buf_init(&m->recs, 0);
    ts_buf_init(&m->wait, 0);
    int rc = ts_arena_create(&m->arena, 1u << 20, 256u << 20);
    for (size_t i = 0; !rc && i < n; i++)
        rc = mat_record(m, recs[i].partition, recs[i].offset, recs[i].key, recs[i].klen,
                        recs[i].val, recs[i].vlen);
    rc = rc ? rc : mat_commit(m);
    if (out)
        rt_incmat_stats(m, out);
    ts_arena_destroy(m->arena);
    ts_buf_free(&m->recs);
    ts_buf_free(&m->wait);
    free(m);
    return rc;
}

/* Poll until stopped; then read on to the end of every partition (a node
 * that stops has everything committed before it) within 30 s. */
static void *mat_main(void *p)
{
    struct rt_incmat *m = p;
    bool draining = false;
    int64_t drain_until = 0;
    for (;;) {
        if (!draining && atomic_load(&m->stop)) {
            draining = true;
            drain_until = ts_mono_ns() + 30 * TS_NS_PER_SEC;
        }
        bool at_end = false;
        long n = ingest_kafka_tail_poll(m->tail, draining ? 50 : 200, MAT_BATCH - m->nrecs,
                                        mat_record, m, &at_end);
        if (n < 0) {
            ts_error("incidents topic %s: %s; the materialiser stops", m->topic,
                     ts_strerror((int)n));
            break;
        }
        if (m->nrecs && (n == 0 || m->nrecs >= MAT_BATCH || m->recs.len >= MAT_BYTES || at_end))
            if (mat_commit(m) != 0)
                break;
        if (draining && ((at_end && !m->nrecs) || ts_mono_ns() > drain_until))
            break;
    }
    (void)mat_commit(m);
    return NULL;
}

/* ------------------------------------------------ the replica's mark */

struct mark_ctx {
    const char *val;
    size_t len;
};

static int mark_body(struct store_txn *t, void *ctx)
{
    struct mark_ctx *mc = ctx;
    return store_name_put(t, REPLICA_NAME, mc->val, mc->len);
}

/* "<nparts>\n<topic>\n<config path>" */
static int mark_replica(struct store *st, const char *topic, int32_t nparts,
                        const char *config_path, struct ts_err *err)
{
    char abs[4096] = "";
    if (config_path && !realpath(config_path, abs))
        snprintf(abs, sizeof(abs), "%s", config_path);
    struct ts_buf b;
    ts_buf_init(&b, STORE_NAME_VAL_MAX);
    int rc = ts_buf_printf(&b, "%d\n%s\n%s", (int)nparts, topic, abs);
    if (!rc) {
        struct mark_ctx mc = {b.data, b.len};
        rc = store_txn_run(st, mark_body, &mc, err);
    }
    ts_buf_free(&b);
    return rc;
}

int rt_inc_replica_get(struct store *st, struct rt_inc_replica *out)
{
    memset(out, 0, sizeof(*out));
    struct store_txn *t = NULL;
    const void *v;
    size_t n = 0;
    int rc = store_txn_begin(st, STORE_TXN_RDONLY, &t);
    rc = rc ? rc : store_name_get(t, REPLICA_NAME, &v, &n);
    if (!rc) {
        char *s = malloc(n + 1);
        rc = s ? 0 : TS_E_NOMEM;
        if (s) {
            memcpy(s, v, n);
            s[n] = '\0';
            char *a = strchr(s, '\n'), *b = a ? strchr(a + 1, '\n') : NULL;
            long np = a ? strtol(s, NULL, 10) : 0;
            if (!b || np <= 0 || np > 1024) {
                free(s);
                rc = TS_E_STORE;
            } else {
                *a = *b = '\0';
                out->buf = s;
                out->nparts = (int32_t)np;
                out->topic = a + 1;
                out->config_path = b[1] ? b + 1 : NULL;
            }
        }
    }
    store_txn_abort(t);
    return rc;
}

void rt_inc_replica_free(struct rt_inc_replica *r)
{
    if (r) {
        free(r->buf);
        memset(r, 0, sizeof(*r));
    }
}

/* ------------------------------------------------- status changes */

/* Is the change in the incident's history (applied), and what it is now. */
static int status_look(struct store *st, const struct rt_inc_status *c,
                       struct rt_inc_status_result *res, bool *applied)
{
    struct ts_arena *a = NULL;
    struct store_txn *t = NULL;
    struct store_incident in;
    *applied = false;
    int rc = ts_arena_create(&a, 64u << 10, 64u << 20);
    rc = rc ? rc : store_txn_begin(st, STORE_TXN_RDONLY, &t);
    rc = rc ? rc : store_incident_get(t, c->id, a, &in);
    if (!rc) {
        res->now = in.status;
        res->revision = in.revision;
        for (uint32_t i = in.nhistory; i-- > 0;) {
            const struct store_status_change *h = &in.history[i];
            if (h->at_ns == c->at_ns && h->status == c->to && !strcmp(h->by, c->by)) {
                *applied = true;
                break;
            }
        }
    }
    store_txn_abort(t);
    ts_arena_destroy(a);
    return rc;
}

int rt_inc_status_change(struct store *st, const struct ts_config *cfg,
                         const struct rt_inc_status *req, int wait_ms,
                         struct rt_inc_status_result *res, struct ts_err *err)
{
    memset(res, 0, sizeof(*res));
    res->partition = -1;
    res->offset = -1;
    struct rt_inc_replica rep;
    int rc = rt_inc_replica_get(st, &rep);
    if (rc == TS_E_NOTFOUND)
        return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0,
                          "this store has not read an incidents topic: start `tocsin run` "
                          "(correlate.distributed) or `tocsin serve --incidents-from` on it "
                          "first");
    if (rc)
        return ts_err_set(err, rc, NULL, 0, 0, "the store's incidents topic mark: %s",
                          store_strerror(rc));
    const char *g = cfg->kafka.group_id ? cfg->kafka.group_id : "tocsin";
    char topic[512];
    snprintf(topic, sizeof(topic), "%s.incidents", g);
    if (strcmp(topic, rep.topic)) {
        rc = ts_err_set(err, TS_E_CONFIG, NULL, 0, 0,
                        "this store is a copy of %s, the config's group makes %s: give the "
                        "nodes' config", rep.topic, topic);
        rt_inc_replica_free(&rep);
        return rc;
    }
    int32_t nparts = rep.nparts;
    rt_inc_replica_free(&rep);

    /* the change as it will be applied: by, comment, time fixed here */
    struct rt_inc_status c = *req;
    c.by = c.by ? c.by : "";
    c.comment = c.comment ? c.comment : "";
    c.at_ns = ts_now_ns();
    bool applied;
    rc = status_look(st, &c, res, &applied); /* 404 and 409 before publishing */
    if (rc)
        return rc == TS_E_NOTFOUND ? rc : ts_err_set(err, rc, NULL, 0, 0, "store: %s",
                                                       store_strerror(rc));
    bool ok = c.to == STORE_STATUS_ACKNOWLEDGED
                  ? res->now == STORE_STATUS_NEW || res->now == STORE_STATUS_REOPENED
              : c.to == STORE_STATUS_RESOLVED ? res->now != STORE_STATUS_RESOLVED
              : c.to == STORE_STATUS_REOPENED ? res->now == STORE_STATUS_RESOLVED
                                              : false;
    if (!ok)
        return TS_E_INVAL;
    if (strlen(c.by) > STORE_STR_MAX || strlen(c.comment) > STORE_COMMENT_MAX)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "who or comment too long");

    struct ts_buf key, val;
    ts_buf_init(&key, STORE_ID_MAX + 64);
    ts_buf_init(&val, 2 * STORE_COMMENT_MAX + 2 * STORE_STR_MAX);
    rc = rt_inc_status_key(&key, c.id, c.at_ns);
    const char *node = cfg->correlate.node ? cfg->correlate.node : "";
    rc = rc ? rc : rt_inc_encode_status(&val, node, &c);
    struct ingest_kafka_opts ko = {.brokers = cfg->kafka.brokers,
                                   .props = (const char *const *)cfg->kafka.props,
                                   .nprops = cfg->kafka.nprops};
    struct ingest_record rec = {.key = key.data, .klen = key.len, .val = val.data,
                                .vlen = val.len,
                                .partition = ingest_kafka_partition_of(c.id, strlen(c.id),
                                                                       nparts)};
    if (!rc) {
        rc = ingest_kafka_produce_wait(&ko, topic, &rec, 1, RT_INC_PUBLISH_MS, err);
        if (rc && !err->code)
            ts_err_set(err, rc, NULL, 0, 0, "%s: %s", topic, ts_strerror(rc));
    }
    ts_buf_free(&key);
    ts_buf_free(&val);
    if (rc)
        return rc == TS_E_KAFKA ? TS_E_KAFKA : rc;
    res->partition = rec.partition;
    res->offset = rec.offset;
    res->at_ns = c.at_ns;
    /* applied here once the materialiser stored an offset past it */
    int64_t until = ts_mono_ns() + (int64_t)wait_ms * 1000000;
    for (;;) {
        int64_t off = -1;
        if (store_offset_get(st, topic, rec.partition, &off) == 0 && off > rec.offset)
            break;
        if (ts_mono_ns() >= until) {
            res->pending = true;
            return 0;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    rc = status_look(st, &c, res, &applied);
    if (rc == TS_E_NOTFOUND)
        return rc; /* removed meanwhile */
    if (rc)
        return ts_err_set(err, rc, NULL, 0, 0, "store: %s", store_strerror(rc));
    res->applied = applied;
    return applied ? 0 : TS_E_INVAL;
}

/* -------------------------------------------------------- retention */

#define RET_ROUND_MAX 1000 /* incidents removed per round */

struct ret_scan {
    const struct rt_inc_retention_opts *o;
    struct store_txn *t;
    struct ts_arena *arena, *ev_arena; /* reset per incident / evidence */
    struct ts_buf keys;   /* (u32 klen, key, i32 partition)... */
    struct ts_buf evkey;
    size_t nkeys, nids;
    int rc;
};

static const struct store_retention_rule *ret_rule(const struct rt_inc_retention_opts *o,
                                                   const char *tenant)
{
    const struct store_retention_rule *def = NULL;
    for (size_t i = 0; i < o->nrules; i++) {
        if (!o->rules[i].tenant)
            def = &o->rules[i];
        else if (!strcmp(o->rules[i].tenant, tenant ? tenant : ""))
            return &o->rules[i];
    }
    return def;
}

static int ret_key(struct ret_scan *x, const char *key, size_t klen, int32_t p)
{
    uint32_t n = (uint32_t)klen;
    int rc = ts_buf_append(&x->keys, &n, sizeof(n));
    rc = rc ? rc : ts_buf_append(&x->keys, key, klen);
    rc = rc ? rc : ts_buf_append(&x->keys, &p, sizeof(p));
    if (!rc)
        x->nkeys++;
    return rc;
}

struct ret_ev {
    struct ret_scan *x;
    const char *id;
    int32_t p;
};

static int ret_one_ev(void *ctx, const struct store_evidence *e)
{
    struct ret_ev *re = ctx;
    struct ts_buf *k = &re->x->evkey;
    ts_buf_reset(k);
    int rc = rt_inc_evidence_key(k, re->id, e->source, e->partition, e->offset);
    ts_arena_reset(re->x->ev_arena);
    return rc ? rc : ret_key(re->x, k->data, k->len, re->p);
}

static int ret_one(void *ctx, const struct store_incident *in)
{
    struct ret_scan *x = ctx;
    const struct rt_inc_retention_opts *o = x->o;
    const struct store_retention_rule *rule = ret_rule(o, in->tenant);
    int32_t p = ingest_kafka_partition_of(in->id, strlen(in->id), o->nparts);
    if (!rule || rule->resolved_keep_ns <= 0 || in->status != STORE_STATUS_RESOLVED ||
        in->status_ns >= o->now_ns - rule->resolved_keep_ns || !o->owns(o->owns_ctx, p)) {
        ts_arena_reset(x->arena); /* not old yet, or another node's to remove */
        return 0;
    }
    /* the evidence and the status changes first, the incident last: a
     * reader deletes it at its tombstone; compaction drops all of them */
    struct ret_ev re = {.x = x, .id = in->id, .p = p};
    int rc = store_evidence_foreach(x->t, in->id, x->ev_arena, ret_one_ev, &re);
    for (uint32_t i = 0; !rc && i < in->nhistory; i++) {
        ts_buf_reset(&x->evkey);
        rc = rt_inc_status_key(&x->evkey, in->id, in->history[i].at_ns);
        rc = rc ? rc : ret_key(x, x->evkey.data, x->evkey.len, p);
    }
    rc = rc ? rc : ret_key(x, in->id, strlen(in->id), p);
    ts_arena_reset(x->arena); /* in is done with */
    if (rc) {
        x->rc = rc;
        return rc;
    }
    return ++x->nids >= RET_ROUND_MAX ? 1 : 0;
}

int rt_inc_retention(struct store *st, const struct rt_inc_retention_opts *o,
                     uint64_t *removed, struct ts_err *err)
{
    *removed = 0;
    struct ret_scan x = {.o = o};
    ts_buf_init(&x.keys, 0);
    ts_buf_init(&x.evkey, 0);
    int rc = ts_arena_create(&x.arena, 64u << 10, 64u << 20);
    rc = rc ? rc : ts_arena_create(&x.ev_arena, 64u << 10, 64u << 20);
    rc = rc ? rc : store_txn_begin(st, STORE_TXN_RDONLY, &x.t);
    struct store_incident_filter f = {.status_mask = STORE_STATUS_BIT(STORE_STATUS_RESOLVED)};
    if (!rc) {
        rc = store_incident_list(x.t, &f, x.arena, ret_one, &x);
        if (rc == 1)
            rc = 0;
        rc = rc ? rc : x.rc;
    }
    store_txn_abort(x.t);
    struct ingest_record *recs = NULL;
    if (!rc && x.nkeys) {
        recs = calloc(x.nkeys, sizeof(*recs));
        rc = recs ? 0 : TS_E_NOMEM;
        size_t i = 0;
        for (size_t off = 0; !rc && i < x.nkeys; i++) {
            uint32_t n;
            memcpy(&n, x.keys.data + off, sizeof(n));
            recs[i].key = x.keys.data + off + sizeof(n);
            recs[i].klen = n;
            memcpy(&recs[i].partition, x.keys.data + off + sizeof(n) + n, sizeof(int32_t));
            off += sizeof(n) + n + sizeof(int32_t);
        }
        if (!rc)
            rc = o->produce ? o->produce(o->owns_ctx, recs, x.nkeys, err)
                            : ingest_kafka_produce_wait(o->ko, o->topic, recs, x.nkeys,
                                                        RT_INC_PUBLISH_MS, err);
        if (!rc)
            *removed = x.nids;
    } else if (rc && !err->code) {
        ts_err_set(err, rc, NULL, 0, 0, "retention: %s", store_strerror(rc));
    }
    free(recs);
    ts_buf_free(&x.keys);
    ts_buf_free(&x.evkey);
    ts_arena_destroy(x.arena);
    ts_arena_destroy(x.ev_arena);
    return rc;
}

int rt_inc_status_hook(void *ctx, const char *id, int to, const char *by, const char *comment,
                       int *now, uint64_t *revision, char *msg, size_t cap)
{
    const struct rt_inc_hook *h = ctx;
    if (!h->cfg) {
        snprintf(msg, cap, "this store is a copy of an incidents topic and the nodes' config "
                           "did not load: start serve with --incidents-from CONFIG");
        return TS_E_CONFIG;
    }
    if (to <= STORE_STATUS_NEW || to >= STORE_STATUS_COUNT)
        return TS_E_INVAL;
    struct rt_inc_status c = {.id = id, .to = (enum store_status)to, .by = by,
                              .comment = comment};
    struct rt_inc_status_result res;
    struct ts_err err = {0};
    int rc = rt_inc_status_change(h->st, h->cfg, &c, RT_INC_APPLY_MS, &res, &err);
    *now = (int)res.now;
    *revision = res.revision;
    if (err.code)
        snprintf(msg, cap, "%s", err.msg);
    if (!rc && res.pending)
        return 1;
    return rc == TS_E_INVAL && err.code ? TS_E_CONFIG : rc;
}

int rt_incmat_start(struct rt_incmat **out, const struct rt_incmat_opts *o, struct ts_err *err)
{
    *out = NULL;
    struct rt_incmat *m = calloc(1, sizeof(*m));
    if (!m)
        return TS_E_NOMEM;
    m->st = o->store;
    m->ko = *o->ko;
    m->topic = o->topic;
    m->node = o->node;
    m->nparts = o->nparts;
    m->esc = o->esc;
    m->dispatcher = o->dispatcher;
    ts_buf_init(&m->recs, 0);
    ts_buf_init(&m->wait, 0);
    int64_t *start = calloc((size_t)(o->nparts > 0 ? o->nparts : 1), sizeof(*start));
    int rc = start && ts_arena_create(&m->arena, 1u << 20, 256u << 20) == 0 ? 0 : TS_E_NOMEM;
    for (int32_t p = 0; !rc && p < o->nparts; p++)
        if (store_offset_get(m->st, m->topic, p, &start[p]) != 0)
            start[p] = INGEST_OFFSET_NONE;
    if (!rc && o->nparts > 1024)
        rc = ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "%s: more than 1024 partitions", m->topic);
    rc = rc ? rc : mark_replica(m->st, m->topic, o->nparts, o->config_path, err);
    rc = rc ? rc : ingest_kafka_tail_open(&m->tail, &m->ko, m->topic, o->nparts, start, err);
    free(start);
    if (!rc && pthread_create(&m->tid, NULL, mat_main, m) != 0)
        rc = TS_E_NOMEM;
    if (rc) {
        ingest_kafka_tail_close(m->tail);
        ts_arena_destroy(m->arena);
        ts_buf_free(&m->recs);
        ts_buf_free(&m->wait);
        free(m);
        return rc;
    }
    m->started = true;
    *out = m;
    return 0;
}

void rt_incmat_stats(struct rt_incmat *m, struct rt_incmat_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!m)
        return;
    st->incidents = atomic_load(&m->incidents);
    st->evidence = atomic_load(&m->evidence);
    st->deleted = atomic_load(&m->deleted);
    st->orphans = atomic_load(&m->orphans);
    st->bad = atomic_load(&m->bad);
    st->txns = atomic_load(&m->txns);
    st->queued = atomic_load(&m->queued);
    st->status_applied = atomic_load(&m->st_applied);
    st->status_refused = atomic_load(&m->st_refused);
    st->status_waiting = atomic_load(&m->st_waiting);
}

int rt_serve_incidents_start(struct rt_incmat **out, const char *config_path, struct store *st,
                             struct ts_err *err)
{
    *out = NULL;
    struct ts_config *cfg = NULL;
    int rc = ts_config_load(config_path, &cfg, err);
    if (rc)
        return TS_E_CONFIG;
    if (!cfg->kafka.brokers || !cfg->correlate.distributed) {
        ts_config_free(cfg);
        return ts_err_set(err, TS_E_CONFIG, config_path, 0, 0,
                          "--incidents-from needs a config with kafka.brokers and "
                          "correlate.distributed (the nodes' config)");
    }
    const char *g = cfg->kafka.group_id ? cfg->kafka.group_id : "tocsin";
    struct ingest_kafka_opts ko = {.brokers = cfg->kafka.brokers,
                                   .props = (const char *const *)cfg->kafka.props,
                                   .nprops = cfg->kafka.nprops};
    size_t gl = strlen(g);
    char *topic = malloc(gl + 11);
    int32_t n = 0;
    rc = topic ? 0 : TS_E_NOMEM;
    if (!rc) {
        snprintf(topic, gl + 11, "%s.incidents", g);
        int parts = cfg->correlate.partitions ? cfg->correlate.partitions : RT_DIST_PARTITIONS;
        rc = ingest_kafka_topic_ensure(&ko, topic, parts, true, &n, err);
    }
    struct rt_incmat_opts mo = {.store = st, .ko = &ko, .topic = topic, .nparts = n,
                                .config_path = config_path};
    rc = rc ? rc : rt_incmat_start(out, &mo, err);
    if (rc) {
        free(topic);
        ts_config_free(cfg);
        return rc;
    }
    (*out)->own_topic = topic; /* the strings live with the materialiser */
    (*out)->own_cfg = cfg;
    ts_info("serve: incidents of every node from %s", topic);
    return 0;
}

void rt_incmat_stop(struct rt_incmat *m, struct rt_incmat_stats *st)
{
    if (!m)
        return;
    atomic_store(&m->stop, 1);
    if (m->started)
        pthread_join(m->tid, NULL);
    if (st)
        rt_incmat_stats(m, st);
    ingest_kafka_tail_close(m->tail);
    ts_arena_destroy(m->arena);
    ts_buf_free(&m->recs);
    ts_buf_free(&m->wait);
    free(m->own_topic);
    ts_config_free(m->own_cfg);
    free(m);
}

const struct ts_config *rt_serve_incidents_config(const struct rt_incmat *m)
{
    return m ? m->own_cfg : NULL;
}

void rt_serve_incidents_stop(struct rt_incmat *m)
{
    rt_incmat_stop(m, NULL);
}
