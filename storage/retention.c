/* retention.c - delete old evidence, resolved incidents and finished outbox
 * entries per tenant rules, in bounded write transactions.
 *
 * Evidence: ev_time is tenant\0 + stored time + evidence key, so each
 * tenant's old evidence is a prefix range read from its start; tenants are
 * visited by seeking past "tenant\x01". Resolved incidents: the same over
 * inc_status under the RESOLVED byte (time = resolution time). Outbox: a
 * scan of delivered/failed entries resumed by key across transactions.
 * Each transaction deletes at most batch_max records and commits, so the
 * writer lock is held briefly; the walk restarts from each index's start
 * in the next transaction (what was deleted is gone, what remains is newer).
 * Threads: the caller's, holding no transaction (storage.h).
 */
#include "../core/tstime.h"
#include "store_int.h"

struct ret {
    const struct store_retention_opts *o;
    int64_t now;
    uint64_t budget; /* deletions left in this txn */
    uint64_t incidents, evidence, outbox;
    int phase;       /* 0 evidence, 1 resolved incidents, 2 outbox, 3 late events, 4 done */
    uint8_t resume[STORE_KEY_MAX + 1];
    size_t resume_len;
};

static const struct store_retention_rule *rule_for(const struct store_retention_opts *o,
                                                   const char *tenant, size_t tlen)
{
    const struct store_retention_rule *def = NULL;
    for (size_t i = 0; i < o->nrules; i++) {
        const char *rt = o->rules[i].tenant;
        if (!rt)
            def = &o->rules[i];
        else if (strlen(rt) == tlen && memcmp(rt, tenant, tlen) == 0)
            return &o->rules[i];
    }
    return def;
}

/* Walk an index whose keys are [lead byte] tenant\0 be64(time) rest, from
 * the start of prefix lead; for each tenant whose keep (via which) is set,
 * call del on entries older than now-keep until the budget is spent.
 * Returns 0 with *done set when everything old was deleted. */
static int walk_tenants(struct store_txn *t, struct ret *r, enum store_db db, int lead,
                        int (*del)(struct store_txn *t, struct ret *r, const uint8_t *key,
                                   size_t klen, size_t tenant_end),
                        bool evidence_rule, bool *done)
{
    MDB_cursor *c;
    *done = false;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
    if (rc)
        return store_txn_fail(t, rc, "retention cursor");
    size_t lo = lead >= 0 ? 1 : 0;
    uint8_t seek[STORE_KEY_MAX + 1];
    size_t seek_len = lo;
    if (lead >= 0)
        seek[0] = (uint8_t)lead;
    int out = 0;
    for (;;) {
        MDB_val kv = {seek_len, seek}, v;
        rc = seek_len ? mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE)
                      : mdb_cursor_get(c, &kv, &v, MDB_FIRST);
        if (rc)
            break;
        const uint8_t *kp = kv.mv_data;
        if (lead >= 0 && (kv.mv_size < 1 || kp[0] != (uint8_t)lead)) {
            rc = MDB_NOTFOUND;
            break;
        }
        const uint8_t *z = memchr(kp + lo, 0, kv.mv_size - lo);
        if (!z || (size_t)(kv.mv_size - (size_t)(z - kp)) < 9) {
            out = TS_E_STORE;
            break;
        }
        size_t tend = (size_t)(z - kp); /* index of the tenant's NUL */
        const struct store_retention_rule *rule =
            rule_for(r->o, (const char *)kp + lo, tend - lo);
        int64_t keep = !rule ? 0 : evidence_rule ? rule->evidence_keep_ns
                                                 : rule->resolved_keep_ns;
        int64_t tm = store_get_be64_time(kp + tend + 1);
        if (keep > 0 && tm < r->now - keep) {
            if (r->budget == 0)
                break; /* more to do in the next txn */
            uint8_t key[STORE_KEY_MAX + 1];
            size_t kl = kv.mv_size;
            memcpy(key, kp, kl);
            if ((out = del(t, r, key, kl, tend)) != 0)
                break;
            /* re-seek at this tenant's start: the entry is gone (or, for an
             * incident whose evidence is not all deleted yet, the budget is) */
            memcpy(seek, key, tend + 1);
            seek_len = tend + 1;
            continue;
        }
        /* nothing (more) to delete for this tenant: go to the next one */
        memcpy(seek, kp, tend + 1);
        seek[tend] = 1;
        seek_len = tend + 1;
    }
    mdb_cursor_close(c);
    if (!out && rc == MDB_NOTFOUND)
        *done = true;
    else if (!out && rc)
        out = store_txn_fail(t, rc, "retention cursor");
    return out;
}

static int del_evidence(struct store_txn *t, struct ret *r, const uint8_t *key, size_t klen,
                        size_t tend)
{
    /* key: tenant\0 time id\0 seq */
    size_t eo = tend + 1 + 8;
    if (klen < eo + 6)
        return TS_E_STORE;
    uint64_t n = 0;
    int rc = store_evidence_del_chunk(t, key + eo, klen - eo, &n);
    if (rc)
        return rc;
    if ((rc = store_idx_del(t, DB_EV_TIME, key, klen)) != 0)
        return rc;
    r->evidence += n; /* a chunk of up to 64 references goes whole */
    r->budget -= n < r->budget ? n : r->budget;
    if (r->budget && !n)
        r->budget--;
    return 0;
}

static int del_resolved(struct store_txn *t, struct ret *r, const uint8_t *key, size_t klen,
                        size_t tend)
{
    size_t io = tend + 1 + 8;
    char id[STORE_ID_MAX + 1];
    if (klen <= io || klen - io > STORE_ID_MAX)
        return TS_E_STORE;
    memcpy(id, key + io, klen - io);
    id[klen - io] = 0;
    uint64_t n = 0;
    bool gone;
    int rc = store_incident_purge(t, id, r->budget, &n, &gone);
    if (rc == TS_E_NOTFOUND) /* dangling index entry */
        return store_idx_del(t, DB_INC_STATUS, key, klen);
    if (rc)
        return rc;
    r->evidence += n;
    r->budget -= n < r->budget ? n : r->budget;
    if (gone) {
        r->incidents++;
        if (r->budget)
            r->budget--;
    } else {
        r->budget = 0;
    }
    return 0;
}

static int outbox_scan(struct store_txn *t, struct ret *r, bool *done)
{
    *done = false;
    int64_t keep = r->o->outbox_keep_ns;
    if (keep <= 0) {
        *done = true;
        return 0;
    }
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_OUTBOX], &c);
    if (rc)
        return store_txn_fail(t, rc, "retention cursor");
    int out = 0;
    MDB_val kv = {r->resume_len, r->resume}, v;
    rc = r->resume_len ? mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE)
                       : mdb_cursor_get(c, &kv, &v, MDB_FIRST);
    uint64_t scanned = 0;
    while (rc == 0) {
        if (r->budget == 0 || scanned >= 16 * (uint64_t)(r->o->batch_max ? r->o->batch_max : 1000)) {
            /* remember where to go on */
            memcpy(r->resume, kv.mv_data, kv.mv_size);
            r->resume_len = kv.mv_size;
            break;
        }
        scanned++;
        const uint8_t *p = v.mv_data;
        bool old = false;
        if (v.mv_size >= 2 + 2 + 4 + 8 + 8 + 8 + 8 && p[0] == STORE_REC_OUTBOX &&
            p[2] != STORE_OUTBOX_PENDING) {
            struct store_dec d = {p, v.mv_size, 32, NULL, 0}; /* done_ns at 32 */
            int64_t done_ns = store_dec_i64(&d);
            old = !d.err && done_ns < r->now - keep;
        }
        if (old) {
            uint8_t k[STORE_KEY_MAX + 1];
            size_t kl = kv.mv_size <= STORE_KEY_MAX ? kv.mv_size : STORE_KEY_MAX;
            memcpy(k, kv.mv_data, kl);
            rc = mdb_cursor_del(c, 0);
            if (rc) {
                out = store_txn_fail(t, rc, "outbox del");
                break;
            }
            r->outbox++;
            r->budget--;
            /* re-seek to the key after the deleted one */
            kv.mv_size = kl;
            kv.mv_data = k;
            rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE);
            continue;
        }
        rc = mdb_cursor_get(c, &kv, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (!out && rc == MDB_NOTFOUND) {
        *done = true;
        r->resume_len = 0;
    } else if (!out && rc) {
        out = store_txn_fail(t, rc, "retention cursor");
    }
    return out;
}

/* One transaction's worth of work. */
static int del_late(struct store_txn *t, struct ret *r, const uint8_t *key, size_t klen,
                    size_t tend)
{
    (void)tend;
    int rc = store_idx_del(t, DB_LATE, key, klen);
    if (rc)
        return rc;
    r->evidence++;
    if (r->budget)
        r->budget--;
    return 0;
}

static int ret_txn(struct store_txn *t, struct ret *r)
{
    bool done;
    int rc = store_journal_settle(t); /* age what the journal holds too */
    if (rc)
        return rc;
    while (r->phase < 4 && r->budget > 0) {
        if (r->phase == 0)
            rc = walk_tenants(t, r, DB_EV_TIME, -1, del_evidence, true, &done);
        else if (r->phase == 3 && t->s->no_journal_db)
            rc = 0, done = true;
        else if (r->phase == 3)
            rc = walk_tenants(t, r, DB_LATE, -1, del_late, true, &done);
        else if (r->phase == 1)
            rc = walk_tenants(t, r, DB_INC_STATUS, STORE_STATUS_RESOLVED, del_resolved, false,
                              &done);
        else
            rc = outbox_scan(t, r, &done);
        if (rc)
            return rc;
        if (!done)
            break;
        r->phase++;
    }
    return 0;
}

int store_retention_run(struct store *s, const struct store_retention_opts *o,
                        struct store_retention_stats *st, struct ts_err *err)
{
    if (st)
        memset(st, 0, sizeof(*st));
    if (!s || !o || (o->nrules && !o->rules))
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "retention: invalid options");
    for (size_t i = 0; i < o->nrules; i++)
        if (o->rules[i].evidence_keep_ns < 0 || o->rules[i].resolved_keep_ns < 0)
            return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "retention: negative keep time");
    struct ret r;
    memset(&r, 0, sizeof(r));
    r.o = o;
    r.now = o->now_ns ? o->now_ns : ts_now_ns();
    uint64_t batch = o->batch_max ? o->batch_max : 1000;
    uint64_t txns = 0;
    int retries = 0;
    while (r.phase < 4) {
        if (o->max_txns && txns >= o->max_txns) {
            if (st)
                st->more = true;
            break;
        }
        struct ret saved = r;
        r.budget = batch;
        struct store_txn *t;
        int rc = store_txn_begin(s, 0, &t);
        if (rc)
            return ts_err_set(err, rc, NULL, 0, 0, "retention: %s", store_strerror(rc));
        rc = ret_txn(t, &r);
        if (rc) {
            store_txn_abort(t);
        } else {
            struct ts_err cerr = {0};
            rc = store_txn_commit(t, &cerr);
            if (rc && rc != STORE_E_RETRY && err && !err->code)
                *err = cerr;
        }
        if (rc == STORE_E_RETRY && retries++ < 16) {
            r = saved; /* redo this transaction's deletions */
            continue;
        }
        if (rc) {
            r = saved;
            ts_err_set(err, rc, NULL, 0, 0, "retention: %s", store_strerror(rc));
            if (st) {
                st->incidents = r.incidents;
                st->evidence = r.evidence;
                st->outbox = r.outbox;
                st->txns = txns;
            }
            return rc;
        }
        txns++;
        retries = 0;
    }
    if (st) {
        st->incidents = r.incidents;
        st->evidence = r.evidence;
        st->outbox = r.outbox;
        st->txns = txns;
    }
    return 0;
}
