/* outbox.c - the escalation outbox: entries by id (outbox) and the pending
 * ones by due time (outbox_due: be64 next_attempt + id, empty value).
 * Only the storage side: escalate/ claims, delivers and marks.
 * Threads: the callers' transactions (storage.h).
 */
#include <stdlib.h>

#include "store_int.h"

static const char *const state_names[3] = {"pending", "delivered", "failed"};

const char *store_outbox_state_name(enum store_outbox_state st)
{
    return (unsigned)st < 3 ? state_names[st] : "unknown";
}

static void enc_outbox(struct store_enc *e, const void *obj)
{
    const struct store_outbox *o = obj;
    store_enc_u8(e, STORE_REC_OUTBOX);
    store_enc_u8(e, STORE_REC_VERSION);
    store_enc_u8(e, (uint8_t)o->state);
    store_enc_u8(e, 0);
    store_enc_u32(e, o->attempts);
    store_enc_u64(e, o->revision);
    store_enc_i64(e, o->next_attempt_ns);
    store_enc_i64(e, o->created_ns);
    store_enc_i64(e, o->done_ns);
    store_enc_str(e, o->id);
    store_enc_str(e, o->incident_id);
    store_enc_str(e, o->recipient);
    store_enc_str(e, o->channel);
    store_enc_str(e, o->last_error);
    store_enc_blob(e, o->payload ? o->payload : "", o->payload ? o->payload_len : 0);
}

int store_outbox_decode(struct store_dec *d, struct store_outbox *o)
{
    memset(o, 0, sizeof(*o));
    store_dec_header(d, STORE_REC_OUTBOX);
    uint8_t st = store_dec_u8(d);
    (void)store_dec_u8(d);
    o->state = (enum store_outbox_state)st;
    o->attempts = store_dec_u32(d);
    o->revision = store_dec_u64(d);
    o->next_attempt_ns = store_dec_i64(d);
    o->created_ns = store_dec_i64(d);
    o->done_ns = store_dec_i64(d);
    o->id = store_dec_blob(d, NULL);
    o->incident_id = store_dec_blob(d, NULL);
    o->recipient = store_dec_blob(d, NULL);
    o->channel = store_dec_blob(d, NULL);
    o->last_error = store_dec_blob(d, NULL);
    o->payload = store_dec_blob(d, &o->payload_len);
    if (!d->err && st > STORE_OUTBOX_FAILED)
        d->err = TS_E_STORE;
    return d->err;
}

static size_t due_key(uint8_t *k, int64_t next, const char *id)
{
    return store_key_inc_time(k, next, id);
}

static int due_put(struct store_txn *t, int64_t next, const char *id)
{
    uint8_t k[STORE_KEY_MAX + 1];
    MDB_val kv = {due_key(k, next, id), k}, v = {0, (void *)""};
    int rc = mdb_put(t->txn, t->s->dbi[DB_OUTBOX_DUE], &kv, &v, 0);
    return rc ? store_txn_fail(t, rc, "outbox_due put") : 0;
}

static int due_del(struct store_txn *t, int64_t next, const char *id)
{
    uint8_t k[STORE_KEY_MAX + 1];
    MDB_val kv = {due_key(k, next, id), k};
    int rc = mdb_del(t->txn, t->s->dbi[DB_OUTBOX_DUE], &kv, NULL);
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc ? store_txn_fail(t, rc, "outbox_due del") : 0;
}

/* The stored entry, decoded from a scratch copy (strings valid until the
 * next store_get_copy). */
static int load(struct store_txn *t, const char *id, struct store_outbox *o)
{
    const uint8_t *p;
    size_t n;
    int rc = store_get_copy(t, t->s->dbi[DB_OUTBOX], id, strlen(id), &p, &n, "outbox get");
    if (rc)
        return rc;
    struct store_dec d = {p, n, 0, NULL, 0};
    if (store_outbox_decode(&d, o) != 0)
        return store_txn_fail_code(t, TS_E_STORE, "outbox record");
    return 0;
}

static int save(struct store_txn *t, const struct store_outbox *o)
{
    return store_put_record(t, t->s->dbi[DB_OUTBOX], o->id, strlen(o->id), enc_outbox, o,
                            "outbox put");
}

int store_outbox_put(struct store_txn *t, const struct store_outbox *e)
{
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if (!e || !store_str_ok(e->id, STORE_ID_MAX, true) ||
        !store_str_ok(e->incident_id, STORE_ID_MAX, false) ||
        !store_str_ok(e->recipient, STORE_STR_MAX, false) ||
        !store_str_ok(e->channel, STORE_STR_MAX, false) || e->payload_len > STORE_PAYLOAD_MAX ||
        (e->payload_len && !e->payload))
        return TS_E_INVAL;
    struct store_outbox old;
    rc = load(t, e->id, &old);
    if (rc == 0 && old.state == STORE_OUTBOX_PENDING) {
        if ((rc = due_del(t, old.next_attempt_ns, e->id)) != 0)
            return rc;
    } else if (rc && rc != TS_E_NOTFOUND) {
        return rc;
    }
    struct store_outbox nw = *e;
    nw.attempts = 0;
    nw.state = STORE_OUTBOX_PENDING;
    nw.last_error = "";
    nw.created_ns = t->now_ns;
    nw.done_ns = 0;
    if (!nw.next_attempt_ns)
        nw.next_attempt_ns = t->now_ns;
    if ((rc = due_put(t, nw.next_attempt_ns, nw.id)) != 0)
        return rc;
    return save(t, &nw);
}

int store_outbox_get(struct store_txn *t, const char *id, struct ts_arena *arena,
                     struct store_outbox *out)
{
    int rc = store_txn_check_read(t);
    if (rc)
        return rc;
    if (!store_str_ok(id, STORE_ID_MAX, true) || !arena)
        return TS_E_INVAL;
    MDB_val k = {strlen(id), (void *)id}, v;
    rc = mdb_get(t->txn, t->s->dbi[DB_OUTBOX], &k, &v);
    if (rc == MDB_NOTFOUND)
        return TS_E_NOTFOUND;
    if (rc)
        return store_txn_fail(t, rc, "outbox get");
    struct store_dec d = {v.mv_data, v.mv_size, 0, arena, 0};
    return store_outbox_decode(&d, out);
}

/* Walk the due index over [from, to]; with claim, lease each entry (to
 * now_ns + lease_ns, outside the range when the range ends before it). */
static int due_walk_range(struct store_txn *t, int64_t from, int64_t to, int64_t now_ns,
                          int64_t lease_ns, uint32_t max, uint32_t *n, bool claim,
                          struct ts_arena *arena,
                          int (*fn)(void *ctx, const struct store_outbox *e), void *ctx)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_OUTBOX_DUE], &c);
    if (rc)
        return store_txn_fail(t, rc, "outbox_due cursor");
    uint8_t k[STORE_KEY_MAX + 1];
    store_be64_time(k, from);
    MDB_val kv = {8, k}, v;
    int out = 0;
    /* claimed entries move to now+lease: re-seek from the start each time */
    for (rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE); rc == 0;
         rc = claim ? (kv.mv_size = 8, kv.mv_data = k, mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE))
                    : mdb_cursor_get(c, &kv, &v, MDB_NEXT)) {
        if (kv.mv_size <= 8 || kv.mv_size - 8 > STORE_ID_MAX) {
            out = TS_E_STORE;
            break;
        }
        int64_t due = store_get_be64_time(kv.mv_data);
        if (due > to || (max && *n >= max))
            break;
        char id[STORE_ID_MAX + 1];
        memcpy(id, (const uint8_t *)kv.mv_data + 8, kv.mv_size - 8);
        id[kv.mv_size - 8] = 0;
        struct store_outbox e;
        if (claim) {
            if ((out = load(t, id, &e)) != 0)
                break;
            if ((out = due_del(t, e.next_attempt_ns, id)) != 0)
                break;
            e.attempts++;
            e.next_attempt_ns = now_ns + lease_ns;
            /* lease > 0: the entry now sorts after now and is not seen again */
            if ((out = due_put(t, e.next_attempt_ns, id)) != 0 || (out = save(t, &e)) != 0)
                break;
        }
        MDB_val ik = {strlen(id), id}, iv;
        rc = mdb_get(t->txn, t->s->dbi[DB_OUTBOX], &ik, &iv);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc) {
            out = store_txn_fail(t, rc, "outbox get");
            break;
        }
        struct store_dec d = {iv.mv_data, iv.mv_size, 0, arena, 0};
        if ((out = store_outbox_decode(&d, &e)) != 0)
            break;
        (*n)++;
        if ((out = fn(ctx, &e)) != 0)
            break;
    }
    mdb_cursor_close(c);
    if (!out && rc != 0 && rc != MDB_NOTFOUND)
        out = store_txn_fail(t, rc, "outbox_due cursor");
    return out;
}

/* Walk the due index up to now; with claim, lease each entry. With
 * horizon_ns > 0 also the entries due later than now + horizon_ns: nothing
 * schedules that far ahead, so a clock stepped back since scheduled them
 * (the wall clock, in a process or across a restart) - they are due. */
static int due_walk(struct store_txn *t, int64_t now_ns, int64_t lease_ns, int64_t horizon_ns,
                    uint32_t max, bool claim, struct ts_arena *arena,
                    int (*fn)(void *ctx, const struct store_outbox *e), void *ctx)
{
    uint32_t n = 0;
    int rc = due_walk_range(t, INT64_MIN, now_ns, now_ns, lease_ns, max, &n, claim, arena, fn,
                            ctx);
    if (rc || horizon_ns <= 0 || now_ns > INT64_MAX - horizon_ns - 1 || (max && n >= max))
        return rc;
    /* claimed ones move to now + lease, before now + horizon: not seen again */
    if (claim && lease_ns >= horizon_ns)
        return TS_E_INVAL;
    return due_walk_range(t, now_ns + horizon_ns + 1, INT64_MAX, now_ns, lease_ns, max, &n, claim,
                          arena, fn, ctx);
}

int store_outbox_list_due(struct store_txn *t, int64_t now_ns, uint32_t max,
                          struct ts_arena *arena,
                          int (*fn)(void *ctx, const struct store_outbox *e), void *ctx)
{
    int rc = store_txn_check_read(t);
    if (rc)
        return rc;
    if (!arena || !fn)
        return TS_E_INVAL;
    return due_walk(t, now_ns, 0, 0, max, false, arena, fn, ctx);
}

int store_outbox_claim(struct store_txn *t, int64_t now_ns, int64_t lease_ns, int64_t horizon_ns,
                       uint32_t max, struct ts_arena *arena,
                       int (*fn)(void *ctx, const struct store_outbox *e), void *ctx)
{
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if (!arena || !fn || lease_ns <= 0 || (horizon_ns > 0 && horizon_ns <= lease_ns))
        return TS_E_INVAL;
    return due_walk(t, now_ns, lease_ns, horizon_ns, max, true, arena, fn, ctx);
}

/* Pending ids and due times of the due index, for a shift (a copy: the
 * shift re-keys the index). */
struct due_ref {
    int64_t due;
    char id[STORE_ID_MAX + 1];
};
#define SHIFT_MAX 1000000 /* pending entries moved at once; beyond, the claim's horizon */

int store_outbox_shift_due(struct store_txn *t, int64_t delta_ns, uint32_t min_attempts,
                           uint64_t *moved)
{
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if (moved)
        *moved = 0;
    if (!delta_ns)
        return 0;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_OUTBOX_DUE], &c)) != 0)
        return store_txn_fail(t, rc, "outbox_due cursor");
    struct due_ref *v = NULL;
    size_t n = 0, cap = 0;
    MDB_val kv, dv;
    int out = 0;
    for (rc = mdb_cursor_get(c, &kv, &dv, MDB_FIRST); rc == 0 && n < SHIFT_MAX;
         rc = mdb_cursor_get(c, &kv, &dv, MDB_NEXT)) {
        if (kv.mv_size <= 8 || kv.mv_size - 8 > STORE_ID_MAX) {
            out = TS_E_STORE;
            break;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct due_ref *nv = realloc(v, nc * sizeof(*v));
            if (!nv) {
                out = TS_E_NOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n].due = store_get_be64_time(kv.mv_data);
        memcpy(v[n].id, (const uint8_t *)kv.mv_data + 8, kv.mv_size - 8);
        v[n].id[kv.mv_size - 8] = 0;
        n++;
    }
    mdb_cursor_close(c);
    if (!out && rc != 0 && rc != MDB_NOTFOUND && n < SHIFT_MAX)
        out = store_txn_fail(t, rc, "outbox_due cursor");
    for (size_t i = 0; i < n && !out; i++) {
        struct store_outbox e;
        if ((out = load(t, v[i].id, &e)) != 0) {
            if (out == TS_E_NOTFOUND) /* a stale index key: leave it */
                out = 0;
            continue;
        }
        if (e.state != STORE_OUTBOX_PENDING || e.attempts < min_attempts ||
            e.next_attempt_ns != v[i].due)
            continue;
        int64_t nd = delta_ns > 0 ? (e.next_attempt_ns > INT64_MAX - delta_ns
                                         ? INT64_MAX
                                         : e.next_attempt_ns + delta_ns)
                                  : (e.next_attempt_ns < INT64_MIN - delta_ns
                                         ? INT64_MIN
                                         : e.next_attempt_ns + delta_ns);
        if ((out = due_del(t, e.next_attempt_ns, e.id)) != 0)
            break;
        e.next_attempt_ns = nd;
        if ((out = due_put(t, nd, e.id)) != 0 || (out = save(t, &e)) != 0)
            break;
        if (moved)
            (*moved)++;
    }
    free(v);
    return out;
}

int store_outbox_list(struct store_txn *t, unsigned state_mask, struct ts_arena *arena,
                      int (*fn)(void *ctx, const struct store_outbox *e), void *ctx)
{
    return store_outbox_list_prefix(t, NULL, state_mask, arena, fn, ctx);
}

int store_outbox_list_prefix(struct store_txn *t, const char *prefix, unsigned state_mask,
                             struct ts_arena *arena,
                             int (*fn)(void *ctx, const struct store_outbox *e), void *ctx)
{
    int rc = store_txn_check_read(t);
    if (rc)
        return rc;
    size_t pl = prefix ? strlen(prefix) : 0;
    if (!arena || !fn || pl > STORE_KEY_MAX)
        return TS_E_INVAL;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_OUTBOX], &c)) != 0)
        return store_txn_fail(t, rc, "outbox cursor");
    MDB_val k = {pl, (void *)prefix}, v;
    int out = 0;
    for (rc = mdb_cursor_get(c, &k, &v, pl ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (pl && (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0)) {
            rc = MDB_NOTFOUND; /* past the ids that start with prefix */
            break;
        }
        /* the state byte sits at offset 2: filter before decoding */
        if (v.mv_size < 3 || !(state_mask & (1u << ((const uint8_t *)v.mv_data)[2])))
            continue;
        struct store_outbox e;
        struct store_dec d = {v.mv_data, v.mv_size, 0, arena, 0};
        if ((out = store_outbox_decode(&d, &e)) != 0)
            break;
        if ((out = fn(ctx, &e)) != 0)
            break;
    }
    mdb_cursor_close(c);
    if (!out && rc != MDB_NOTFOUND)
        out = store_txn_fail(t, rc, "outbox cursor");
    return out;
}

static int mark(struct store_txn *t, const char *id, enum store_outbox_state to, int64_t next_ns,
                const char *error)
{
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if (!store_str_ok(id, STORE_ID_MAX, true) || !store_str_ok(error, STORE_STR_MAX, false))
        return TS_E_INVAL;
    struct store_outbox e;
    if ((rc = load(t, id, &e)) != 0)
        return rc;
    bool requeue = to == STORE_OUTBOX_PENDING && !error;
    if (e.state != STORE_OUTBOX_PENDING && !(requeue && e.state == STORE_OUTBOX_FAILED))
        return TS_E_INVAL;
    if (e.state == STORE_OUTBOX_PENDING && (rc = due_del(t, e.next_attempt_ns, id)) != 0)
        return rc;
    e.state = to;
    if (error)
        e.last_error = error;
    if (to == STORE_OUTBOX_PENDING) {
        e.next_attempt_ns = next_ns;
        e.done_ns = 0;
        if ((rc = due_put(t, next_ns, id)) != 0)
            return rc;
    } else {
        e.done_ns = t->now_ns;
    }
    return save(t, &e);
}

int store_outbox_mark_delivered(struct store_txn *t, const char *id)
{
    return mark(t, id, STORE_OUTBOX_DELIVERED, 0, NULL);
}

int store_outbox_mark_retry(struct store_txn *t, const char *id, int64_t next_ns,
                            const char *error)
{
    return mark(t, id, STORE_OUTBOX_PENDING, next_ns, error ? error : "");
}

int store_outbox_mark_failed(struct store_txn *t, const char *id, const char *error)
{
    return mark(t, id, STORE_OUTBOX_FAILED, 0, error ? error : "");
}

int store_outbox_requeue(struct store_txn *t, const char *id, int64_t next_ns)
{
    return mark(t, id, STORE_OUTBOX_PENDING, next_ns, NULL);
}
