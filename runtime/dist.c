/* dist.c - state follows partitions (docs/scale.md, "Hand-over"): stage B
 * of the distributed mode keeps its correlation state in a compacted
 * changelog topic, "<internal topic>-state", partition for partition with
 * the internal topic; LMDB is a cache of it.
 *
 * - Every state key a stage-B batch changed goes, in the batch's Kafka
 *   transaction (with the internal topic's offsets), to the changelog
 *   partition of the internal partition its records come from: a put as
 *   the exported value, a delete as a tombstone. The partition of a key is
 *   the partition of its records' key ('k' rule NUL group key: the record
 *   key is the name without the 'k'; the same CRC32 partitioner on both
 *   sides, ingest_kafka_partition_of), of a watermark lane its lane number.
 *   After the Kafka commit, LMDB stores the same keys and the offsets.
 * - On assignment of internal partition p: when LMDB's offset of p equals
 *   the group's committed offset the cache is the changelog's state and is
 *   kept; otherwise LMDB's keys of p are deleted and rebuilt from the
 *   changelog partition p (from its start to its end, read_committed), and
 *   the offset set to the committed one. Either way the engine gets p's
 *   keys from LMDB unless it already holds exactly them. A crash between
 *   the Kafka commit and the LMDB commit leaves the two offsets different:
 *   restored, exact in both orders.
 * - Keys of partitions this process does not own are neither produced nor
 *   stored (an eviction of a key that moved away), and are dropped from the
 *   engine at the next assignment.
 *
 * Threads: rt_dist_assigned/revoked on stage B's poll threads (rebalance);
 * they take the stage's batch lock for writing and its mutex, like a
 * reload. rt_dist_produce and rt_dist_item_skip under the stage mutex. */
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/tstime.h"
#include "../core/varint.h"
#include "runtime_int.h"

#define HKEY_LEN 34 /* correlate's long-name keys: "\002h" + SHA-256 */
#define RESTORE_CHUNK 20000 /* changelog records per LMDB transaction */

/* The internal partition a state key belongs to; RT_DIST_NOPART for keys
 * of no partition (a source that is not a lane), RT_DIST_UNKNOWN when it
 * cannot be told (a long-name key without its value). val may be NULL. */
int32_t rt_dist_key_part(const struct rt_dist *d, const void *key, size_t klen, const void *val,
                         size_t vlen)
{
    const uint8_t *k = key;
    if (klen >= 2 && k[0] == 'k')
        return ingest_kafka_partition_of(k + 1, klen - 1, d->nparts);
    if (klen >= 7 && k[0] == 1 && k[1] == 's') {
        const uint8_t *sep = memchr(k + 7, CORR_LANE_SEP, klen - 7);
        if (!sep)
            return RT_DIST_NOPART;
        long p = 0;
        size_t i = (size_t)(sep - k) + 1;
        if (i == klen)
            return RT_DIST_NOPART;
        for (; i < klen && k[i] >= '0' && k[i] <= '9' && p < 1000000; i++)
            p = p * 10 + (k[i] - '0');
        return i == klen && p < d->nparts ? (int32_t)p : RT_DIST_NOPART;
    }
    if (klen == HKEY_LEN && k[0] == 2 && k[1] == 'h') {
        if (!val)
            return RT_DIST_UNKNOWN;
        /* the value starts with varint length, the long name */
        uint64_t nl = 0;
        size_t o = ts_varint_get(val, vlen, &nl);
        if (!o || nl > vlen - o || nl < 2)
            return RT_DIST_UNKNOWN;
        return rt_dist_key_part(d, (const uint8_t *)val + o, (size_t)nl, NULL, 0);
    }
    return RT_DIST_NOPART;
}

int rt_dist_open(struct rt_dist **out, struct rt_corr *cs, const struct ingest_kafka_opts *ko,
                 const char *topic, const char *changelog, int32_t nparts)
{
    *out = NULL;
    if (nparts <= 0 || nparts > 100000)
        return TS_E_INVAL;
    struct rt_dist *d = calloc(1, sizeof(*d));
    if (!d)
        return TS_E_NOMEM;
    d->cs = cs;
    d->ko = *ko;
    d->topic = topic;
    d->changelog = changelog;
    d->nparts = nparts;
    d->owner = malloc((size_t)nparts * sizeof(*d->owner));
    d->in_engine = calloc((size_t)nparts, sizeof(*d->in_engine));
    if (!d->owner || !d->in_engine) {
        rt_dist_close(d);
        return TS_E_NOMEM;
    }
    for (int32_t p = 0; p < nparts; p++)
        d->owner[p] = -1;
    ts_buf_init(&d->pub, 0);
    ts_buf_init(&d->pubkey, 0);
    const char *k = getenv("TOCSIN_TEST_KILL_AFTER_COMMITS");
    d->kill_after = k ? strtoull(k, NULL, 10) : 0;
    *out = d;
    return 0;
}

void rt_dist_close(struct rt_dist *d)
{
    if (!d)
        return;
    free(d->owner);
    free(d->in_engine);
    free(d->item_part);
    ts_buf_free(&d->pub);
    ts_buf_free(&d->pubkey);
    free(d);
}

/* ------------------------------------------------------- the batch */

int rt_dist_produce(struct rt_dist *d, const struct corr_batch *out, const struct ingest_batch *b)
{
    if (out->nstate > d->item_cap) {
        int32_t *n = realloc(d->item_part, out->nstate * sizeof(*n));
        if (!n)
            return TS_E_NOMEM;
        d->item_part = n;
        d->item_cap = out->nstate;
    }
    struct store_txn *t = NULL; /* for deletes of long-name keys: their name is in LMDB */
    int rc = 0;
    for (size_t i = 0; !rc && i < out->nstate; i++) {
        const struct corr_state_item *s = &out->state[i];
        int32_t p = rt_dist_key_part(d, s->key, s->key_len, s->deleted ? NULL : s->val,
                                     s->val_len);
        if (p == RT_DIST_UNKNOWN && s->deleted) {
            const void *v = NULL;
            size_t vl = 0;
            if (!t && store_txn_begin(d->cs->st, STORE_TXN_RDONLY, &t) != 0)
                t = NULL;
            if (t && store_state_get(t, s->key, s->key_len, &v, &vl) == 0)
                p = rt_dist_key_part(d, s->key, s->key_len, v, vl);
        }
        if (p >= 0 && d->owner[p] < 0)
            p = RT_DIST_SKIP; /* moved away: its owner has it */
        d->item_part[i] = p;
        if (p < 0)
            continue;
        rc = ingest_batch_produce_to(b, d->changelog, p, s->key, s->key_len,
                                     s->deleted ? NULL : s->val, s->deleted ? 0 : s->val_len, 0);
        if (!rc)
            d->changelog_records++;
    }
    store_txn_abort(t);
    d->nitems = out->nstate;
    return rc;
}

bool rt_dist_item_skip(const struct rt_dist *d, size_t i)
{
    return i < d->nitems && d->item_part[i] == RT_DIST_SKIP;
}

/* -------------------------------------------------------- assignment */

struct part_set {
    const struct rt_dist *d;
    const bool *in; /* by partition */
    struct ts_buf keys; /* collected: varint-free (u32 len, bytes) */
    struct corr_engine *ce;
    uint64_t n, bad;
};

static bool drop_pred(void *ctx, const void *name, size_t len)
{
    struct part_set *x = ctx;
    int32_t p = rt_dist_key_part(x->d, name, len, NULL, 0);
    return p >= 0 && x->in[p];
}

static int collect_key(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct part_set *x = ctx;
    int32_t p = rt_dist_key_part(x->d, key, klen, val, vlen);
    if (p < 0 || !x->in[p])
        return 0;
    uint32_t l = (uint32_t)klen;
    int rc = ts_buf_append(&x->keys, &l, sizeof(l));
    return rc ? rc : ts_buf_append(&x->keys, key, klen);
}

static int import_key(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct part_set *x = ctx;
    int32_t p = rt_dist_key_part(x->d, key, klen, val, vlen);
    if (p < 0 || !x->in[p])
        return 0;
    int rc = corr_state_import(x->ce, key, klen, val, vlen);
    if (rc == 0)
        x->n++;
    else if (rc == TS_E_NOTFOUND || rc == TS_E_LIMIT || rc == TS_E_PARSE)
        x->bad++;
    else
        return rc;
    return 0;
}

/* Restore: delete the cached keys of the partitions, forget their offsets */
struct restore_ctx {
    struct rt_dist *d;
    struct part_set *ps;
    const struct ingest_offset *parts;
    size_t n;
    const bool *restore;
    /* records read and not yet written: (i32 part, u32 klen, u32 vlen or
     * UINT32_MAX for a tombstone, key, val) */
    struct ts_buf pend;
    size_t npend;
    uint64_t records;
};

static int wipe_body(struct store_txn *t, void *ctx)
{
    struct restore_ctx *x = ctx;
    ts_buf_reset(&x->ps->keys);
    int rc = store_state_foreach(t, NULL, 0, collect_key, x->ps);
    for (size_t o = 0; !rc && o < x->ps->keys.len;) {
        uint32_t l;
        memcpy(&l, x->ps->keys.data + o, sizeof(l));
        rc = store_state_del(t, x->ps->keys.data + o + sizeof(l), l);
        if (rc == TS_E_NOTFOUND)
            rc = 0;
        o += sizeof(l) + l;
    }
    for (size_t i = 0; !rc && i < x->n; i++)
        if (x->restore[i])
            rc = store_offset_put(t, x->d->topic, x->parts[i].partition, RT_DIST_NO_OFFSET);
    return rc;
}

static int apply_body(struct store_txn *t, void *ctx)
{
    struct restore_ctx *x = ctx;
    int rc = 0;
    for (size_t o = 0; !rc && o < x->pend.len;) {
        uint32_t h[3];
        memcpy(h, x->pend.data + o, sizeof(h));
        const char *key = x->pend.data + o + sizeof(h);
        if (h[2] == UINT32_MAX) {
            rc = store_state_del(t, key, h[1]);
            if (rc == TS_E_NOTFOUND)
                rc = 0;
            o += sizeof(h) + h[1];
        } else {
            rc = store_state_put(t, key, h[1], key + h[1], h[2]);
            o += sizeof(h) + h[1] + h[2];
        }
        if (rc == TS_E_INVAL) /* over the store's limits: it never was stored */
            rc = 0;
    }
    return rc;
}

static int flush_pend(struct restore_ctx *x)
{
    if (!x->npend)
        return 0;
    struct ts_err err = {0};
    int rc = store_txn_run(x->d->cs->st, apply_body, x, &err);
    ts_buf_reset(&x->pend);
    x->npend = 0;
    return rc;
}

static int on_record(void *ctx, int32_t partition, const void *key, size_t klen, const void *val,
                     size_t vlen)
{
    struct restore_ctx *x = ctx;
    x->records++;
    if (!klen || klen > STORE_STATE_KEY_MAX || vlen >= UINT32_MAX)
        return 0;
    uint32_t h[3] = {(uint32_t)partition, (uint32_t)klen, val ? (uint32_t)vlen : UINT32_MAX};
    int rc = ts_buf_append(&x->pend, h, sizeof(h));
    rc = rc ? rc : ts_buf_append(&x->pend, key, klen);
    rc = rc ? rc : val ? ts_buf_append(&x->pend, val, vlen) : 0;
    if (!rc && ++x->npend >= RESTORE_CHUNK)
        rc = flush_pend(x);
    return rc;
}

static int offsets_body(struct store_txn *t, void *ctx)
{
    struct restore_ctx *x = ctx;
    int rc = 0;
    for (size_t i = 0; !rc && i < x->n; i++)
        if (x->restore[i] && x->parts[i].offset >= 0)
            rc = store_offset_put(t, x->d->topic, x->parts[i].partition, x->parts[i].offset);
    return rc;
}

/* LMDB's keys of the partitions marked in restore: from the changelog. */
static int restore_parts(struct rt_dist *d, struct part_set *ps, const struct ingest_offset *parts,
                         size_t n, const bool *restore, uint64_t *records)
{
    bool *rin = calloc((size_t)d->nparts, sizeof(*rin));
    struct part_set wipe = {.d = d, .in = rin};
    ts_buf_init(&wipe.keys, 0);
    for (size_t i = 0; rin && i < n; i++)
        rin[parts[i].partition] = restore[i];
    (void)ps;
    struct restore_ctx x = {.d = d, .ps = &wipe, .parts = parts, .n = n, .restore = restore};
    ts_buf_init(&x.pend, 0);
    int32_t *pl = rin ? malloc(n * sizeof(*pl)) : NULL;
    size_t np = 0;
    struct ts_err err = {0};
    int rc = pl ? store_txn_run(d->cs->st, wipe_body, &x, &err) : TS_E_NOMEM;
    for (size_t i = 0; !rc && i < n; i++)
        if (restore[i])
            pl[np++] = parts[i].partition;
    if (!rc) {
        rc = ingest_kafka_read_parts(&d->ko, d->changelog, pl, np, on_record, &x, NULL, &err);
        if (rc && err.code)
            ts_error("correlation stage: restoring from %s: %s", d->changelog, err.msg);
    }
    rc = rc ? rc : flush_pend(&x);
    rc = rc ? rc : store_txn_run(d->cs->st, offsets_body, &x, &err);
    *records = x.records;
    ts_buf_free(&x.pend);
    ts_buf_free(&wipe.keys);
    free(rin);
    free(pl);
    return rc;
}

int rt_dist_assigned(struct rt_dist *d, int worker, const struct ingest_offset *parts, size_t n)
{
    struct rt_corr *cs = d->cs;
    int64_t t0 = ts_mono_ns();
    bool *restore = calloc(n + 1, sizeof(*restore));
    bool *in = calloc((size_t)d->nparts, sizeof(*in)); /* keys to drop, then to import */
    if (!restore || !in) {
        free(restore);
        free(in);
        return TS_E_NOMEM;
    }
    pthread_rwlock_wrlock(&cs->batch_rw); /* no batch between process and its commit */
    pthread_mutex_lock(&cs->mu);
    size_t nkept = 0, nrestore = 0, nreimport = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t p = parts[i].partition;
        if (p < 0 || p >= d->nparts || strcmp(parts[i].topic, d->topic) != 0) {
            rc = TS_E_INVAL; /* the topic grew: the key -> partition mapping changed */
            ts_error("correlation stage: %s [%d] is beyond the %d partition(s) it had at start: "
                     "restart every node after adding partitions",
                     parts[i].topic, (int)p, (int)d->nparts);
            break;
        }
        d->owner[p] = worker;
    }
    for (int32_t p = 0; !rc && p < d->nparts; p++)
        if (d->owner[p] < 0 && d->in_engine[p]) { /* moved away, or not back yet */
            in[p] = true;
            d->in_engine[p] = false;
        }
    for (size_t i = 0; !rc && i < n; i++) {
        int32_t p = parts[i].partition;
        int64_t stored = INGEST_OFFSET_NONE;
        if (store_offset_get(cs->st, d->topic, p, &stored) != 0)
            stored = INGEST_OFFSET_NONE;
        if (stored != parts[i].offset) {
            restore[i] = true;
            nrestore++;
        } else if (!d->in_engine[p]) {
            nreimport++;
        } else {
            nkept++;
            continue;
        }
        in[p] = true;
        d->in_engine[p] = false;
    }
    struct part_set ps = {.d = d, .in = in, .ce = cs->ce};
    ts_buf_init(&ps.keys, 0);
    long dropped = 0;
    if (!rc && (dropped = corr_state_drop(cs->ce, drop_pred, &ps)) < 0)
        rc = (int)dropped;
    /* the keys dropped for partitions that are not ours stay out */
    for (int32_t p = 0; p < d->nparts; p++)
        if (d->owner[p] < 0)
            in[p] = false;
    uint64_t records = 0;
    if (!rc && nrestore)
        rc = restore_parts(d, &ps, parts, n, restore, &records);
    int64_t t1 = ts_mono_ns();
    if (!rc && (nrestore || nreimport)) {
        struct store_txn *t;
        rc = store_txn_begin(cs->st, STORE_TXN_RDONLY, &t);
        if (!rc) {
            rc = store_state_foreach(t, NULL, 0, import_key, &ps);
            store_txn_abort(t);
        }
    }
    for (size_t i = 0; !rc && i < n; i++)
        d->in_engine[parts[i].partition] = true;
    int64_t t2 = ts_mono_ns();
    if (!rc) {
        d->restores += nrestore;
        d->restored_records += records;
        d->restore_ns += t1 - t0;
        d->imported_keys += ps.n;
        ts_info("correlation stage (worker %d): %zu partition(s) of %s assigned: %zu kept in "
                "memory, %zu taken from LMDB, %zu restored from %s (%llu record(s), %.3f s); "
                "%llu key(s) imported (%.3f s), %ld dropped",
                worker, n, d->topic, nkept, nreimport, nrestore, d->changelog,
                (unsigned long long)records, (double)(t1 - t0) / 1e9,
                (unsigned long long)ps.n, (double)(t2 - t1) / 1e9, dropped);
    }
    pthread_mutex_unlock(&cs->mu);
    pthread_rwlock_unlock(&cs->batch_rw);
    ts_buf_free(&ps.keys);
    free(restore);
    free(in);
    return rc;
}

void rt_dist_revoked(struct rt_dist *d, int worker, const struct ingest_offset *parts, size_t n)
{
    pthread_mutex_lock(&d->cs->mu);
    for (size_t i = 0; i < n; i++)
        if (parts[i].partition >= 0 && parts[i].partition < d->nparts &&
            d->owner[parts[i].partition] == worker)
            d->owner[parts[i].partition] = -1; /* its keys stay until the next assignment */
    pthread_mutex_unlock(&d->cs->mu);
}

bool rt_dist_import_keep(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    const struct rt_dist *d = ctx;
    int32_t p = rt_dist_key_part(d, key, klen, val, vlen);
    return p < 0 || d->in_engine[p];
}

/* Drop every key of the engine: at start, before any partition is ours
 * (rt_corr_open imported all LMDB held). */
static bool drop_all(void *ctx, const void *name, size_t len)
{
    (void)ctx;
    (void)name;
    (void)len;
    return true;
}

long rt_dist_start(struct rt_dist *d)
{
    pthread_mutex_lock(&d->cs->mu);
    long n = corr_state_drop(d->cs->ce, drop_all, NULL);
    pthread_mutex_unlock(&d->cs->mu);
    return n;
}
