/* incident.c - incidents, their secondary indexes (time, tenant, status)
 * and their evidence.
 *
 * Every change of an incident record also moves its index entries: the
 * old record is copied to the store's scratch buffer first (pointers into
 * the map die with the next write), the index keys built from old and new
 * are compared, and only the ones that changed are deleted/inserted.
 * Threads: the callers' transactions (storage.h); nothing here is shared.
 */
#include <stdlib.h>

#include "store_int.h"

/* ------------------------------------------------------------------ keys */

static size_t put_str0(uint8_t *k, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n)
        memcpy(k, s, n);
    k[n] = 0;
    return n + 1;
}

size_t store_key_inc_time(uint8_t *k, int64_t last_seen, const char *id)
{
    store_be64_time(k, last_seen);
    size_t n = strlen(id);
    memcpy(k + 8, id, n);
    return 8 + n;
}

size_t store_key_inc_tenant(uint8_t *k, const char *tenant, int64_t last_seen, const char *id)
{
    size_t o = put_str0(k, tenant);
    return o + store_key_inc_time(k + o, last_seen, id);
}

size_t store_key_inc_status(uint8_t *k, unsigned status, const char *tenant, int64_t at,
                            const char *id)
{
    k[0] = (uint8_t)status;
    return 1 + store_key_inc_tenant(k + 1, tenant, at, id);
}

size_t store_key_evidence(uint8_t *k, const char *id, uint32_t seq)
{
    size_t o = put_str0(k, id);
    store_be32(k + o, seq);
    return o + 4;
}

size_t store_key_ev_time(uint8_t *k, const char *tenant, int64_t stored, const char *id,
                         uint32_t seq)
{
    size_t o = put_str0(k, tenant);
    store_be64_time(k + o, stored);
    o += 8;
    return o + store_key_evidence(k + o, id, seq);
}

/* ----------------------------------------------------------------- names */

static const char *const status_names[STORE_STATUS_COUNT] = {"new", "acknowledged", "resolved",
                                                             "reopened"};
static const char *const sev_names[5] = {"informational", "low", "medium", "high", "critical"};

const char *store_status_name(enum store_status st)
{
    return (unsigned)st < STORE_STATUS_COUNT ? status_names[st] : "unknown";
}

int store_status_parse(const char *name, enum store_status *out)
{
    if (!name)
        return TS_E_INVAL;
    for (unsigned i = 0; i < STORE_STATUS_COUNT; i++)
        if (!strcmp(name, status_names[i])) {
            *out = (enum store_status)i;
            return 0;
        }
    if (!strcmp(name, "ack") || !strcmp(name, "acked")) {
        *out = STORE_STATUS_ACKNOWLEDGED;
        return 0;
    }
    return TS_E_INVAL;
}

const char *store_severity_name(uint8_t sev) { return sev < 5 ? sev_names[sev] : "unknown"; }

int store_severity_parse(const char *name, uint8_t *out)
{
    if (!name)
        return TS_E_INVAL;
    for (uint8_t i = 0; i < 5; i++)
        if (!strcmp(name, sev_names[i])) {
            *out = i;
            return 0;
        }
    if (!strcmp(name, "info")) {
        *out = 0;
        return 0;
    }
    return TS_E_INVAL;
}

/* --------------------------------------------------------------- records */

void store_incident_encode(struct store_enc *e, const struct store_incident *inc)
{
    store_enc_u8(e, STORE_REC_INCIDENT);
    store_enc_u8(e, STORE_REC_VERSION);
    store_enc_u8(e, (uint8_t)inc->status);
    store_enc_u8(e, inc->severity);
    store_enc_u8(e, inc->distinct_truncated ? 1 : 0);
    store_enc_u8(e, 0);
    store_enc_u64(e, inc->revision);
    store_enc_i64(e, inc->first_seen_ns);
    store_enc_i64(e, inc->last_seen_ns);
    store_enc_u64(e, inc->count);
    store_enc_i64(e, inc->status_ns);
    store_enc_i64(e, inc->created_ns);
    store_enc_i64(e, inc->updated_ns);
    store_enc_u32(e, inc->evidence_next);    /* offset 62 */
    store_enc_u32(e, inc->evidence_dropped); /* offset 66 */
    store_enc_str(e, inc->id);
    store_enc_str(e, inc->rule_id);
    store_enc_str(e, inc->rule_title);
    store_enc_str(e, inc->level);
    store_enc_str(e, inc->author);
    store_enc_str(e, inc->tenant);
    store_enc_str(e, inc->group_key);
    store_enc_str(e, inc->distinct_field);
    store_enc_str(e, inc->details);
    store_enc_str(e, inc->status_by);
    store_enc_u32(e, inc->ntags);
    for (uint32_t i = 0; i < inc->ntags; i++)
        store_enc_str(e, inc->tags[i]);
    store_enc_u32(e, inc->ndistinct);
    for (uint32_t i = 0; i < inc->ndistinct; i++)
        store_enc_str(e, inc->distinct[i]);
    store_enc_u32(e, inc->nhistory);
    for (uint32_t i = 0; i < inc->nhistory; i++) {
        store_enc_u8(e, (uint8_t)inc->history[i].status);
        store_enc_i64(e, inc->history[i].at_ns);
        store_enc_str(e, inc->history[i].by);
    }
}

static void enc_incident(struct store_enc *e, const void *obj)
{
    store_incident_encode(e, obj);
}

static const char **dec_strv(struct store_dec *d, uint32_t n, uint32_t max, const char **view)
{
    if (n > max) {
        d->err = TS_E_STORE;
        return NULL;
    }
    const char **v = view;
    if (d->arena && n) {
        v = ts_arena_alloc(d->arena, n * sizeof(*v));
        if (!v) {
            d->err = TS_E_NOMEM;
            return NULL;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *s = store_dec_blob(d, NULL);
        if (v)
            v[i] = s;
    }
    return v;
}

int store_incident_decode(struct store_dec *d, struct store_incident *o,
                          struct store_inc_views *views)
{
    memset(o, 0, sizeof(*o));
    store_dec_header(d, STORE_REC_INCIDENT);
    uint8_t st = store_dec_u8(d);
    o->status = (enum store_status)(st < STORE_STATUS_COUNT ? st : 0);
    o->severity = store_dec_u8(d);
    o->distinct_truncated = store_dec_u8(d) & 1;
    (void)store_dec_u8(d);
    o->revision = store_dec_u64(d);
    o->first_seen_ns = store_dec_i64(d);
    o->last_seen_ns = store_dec_i64(d);
    o->count = store_dec_u64(d);
    o->status_ns = store_dec_i64(d);
    o->created_ns = store_dec_i64(d);
    o->updated_ns = store_dec_i64(d);
    o->evidence_next = store_dec_u32(d);
    o->evidence_dropped = store_dec_u32(d);
    o->id = store_dec_blob(d, NULL);
    o->rule_id = store_dec_blob(d, NULL);
    o->rule_title = store_dec_blob(d, NULL);
    o->level = store_dec_blob(d, NULL);
    o->author = store_dec_blob(d, NULL);
    o->tenant = store_dec_blob(d, NULL);
    o->group_key = store_dec_blob(d, NULL);
    o->distinct_field = store_dec_blob(d, NULL);
    o->details = store_dec_blob(d, NULL);
    o->status_by = store_dec_blob(d, NULL);
    o->ntags = store_dec_u32(d);
    o->tags = dec_strv(d, o->ntags, STORE_TAGS_MAX, views ? views->tags : NULL);
    o->ndistinct = store_dec_u32(d);
    o->distinct = dec_strv(d, o->ndistinct, STORE_DISTINCT_MAX, views ? views->distinct : NULL);
    o->nhistory = store_dec_u32(d);
    if (o->nhistory > STORE_HISTORY_MAX)
        d->err = d->err ? d->err : TS_E_STORE;
    struct store_status_change *h = views ? views->hist : NULL;
    if (!d->arena && !views)
        d->err = d->err ? d->err : TS_E_INVAL;
    if (d->arena && o->nhistory && !d->err) {
        h = ts_arena_alloc(d->arena, o->nhistory * sizeof(*h));
        if (!h)
            d->err = TS_E_NOMEM;
    }
    for (uint32_t i = 0; i < o->nhistory && !d->err; i++) {
        uint8_t hs = store_dec_u8(d);
        h[i].status = (enum store_status)(hs < STORE_STATUS_COUNT ? hs : 0);
        h[i].at_ns = store_dec_i64(d);
        h[i].by = store_dec_blob(d, NULL);
    }
    o->history = d->err ? NULL : h;
    if (d->err)
        return d->err;
    if (st >= STORE_STATUS_COUNT)
        return TS_E_STORE;
    return 0;
}

/* ----------------------------------------------------------- validation */

static int incident_validate(const struct store_incident *inc)
{
    if (!inc || !store_str_ok(inc->id, STORE_ID_MAX, true) ||
        !store_str_ok(inc->tenant, STORE_TENANT_MAX, false) ||
        !store_str_ok(inc->rule_id, STORE_STR_MAX, false) ||
        !store_str_ok(inc->rule_title, STORE_STR_MAX, false) ||
        !store_str_ok(inc->level, STORE_STR_MAX, false) ||
        !store_str_ok(inc->author, STORE_STR_MAX, false) ||
        !store_str_ok(inc->group_key, STORE_STR_MAX, false) ||
        !store_str_ok(inc->distinct_field, STORE_STR_MAX, false) ||
        !store_str_ok(inc->details, STORE_DETAILS_MAX, false) || inc->severity > 4 ||
        inc->ntags > STORE_TAGS_MAX || inc->ndistinct > STORE_DISTINCT_MAX ||
        (inc->ntags && !inc->tags) || (inc->ndistinct && !inc->distinct))
        return TS_E_INVAL;
    for (uint32_t i = 0; i < inc->ntags; i++)
        if (!store_str_ok(inc->tags[i], STORE_STR_MAX, true))
            return TS_E_INVAL;
    for (uint32_t i = 0; i < inc->ndistinct; i++)
        if (!store_str_ok(inc->distinct[i], STORE_STR_MAX, false))
            return TS_E_INVAL;
    return 0;
}

/* --------------------------------------------------------------- indexes */

static int idx_put(struct store_txn *t, enum store_db db, const uint8_t *k, size_t klen)
{
    MDB_val kv = {klen, (void *)k}, v = {0, (void *)""};
    int rc = mdb_put(t->txn, t->s->dbi[db], &kv, &v, 0);
    return rc ? store_txn_fail(t, rc, store_db_names[db]) : 0;
}

static int idx_del(struct store_txn *t, enum store_db db, const uint8_t *k, size_t klen)
{
    MDB_val kv = {klen, (void *)k};
    int rc = mdb_del(t->txn, t->s->dbi[db], &kv, NULL);
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc ? store_txn_fail(t, rc, store_db_names[db]) : 0;
}

/* Move the index entries of an incident from old (NULL: none) to new
 * (NULL: none). */
static int index_update(struct store_txn *t, const struct store_incident *old,
                        const struct store_incident *nw)
{
    uint8_t a[STORE_KEY_MAX + 1], b[STORE_KEY_MAX + 1];
    size_t al = 0, bl = 0;
    int rc;
    for (int db = DB_INC_TIME; db <= DB_INC_STATUS; db++) {
        if (old) {
            if (db == DB_INC_TIME)
                al = store_key_inc_time(a, old->last_seen_ns, old->id);
            else if (db == DB_INC_TENANT)
                al = store_key_inc_tenant(a, old->tenant, old->last_seen_ns, old->id);
            else
                al = store_key_inc_status(a, old->status, old->tenant, old->status_ns, old->id);
        }
        if (nw) {
            if (db == DB_INC_TIME)
                bl = store_key_inc_time(b, nw->last_seen_ns, nw->id);
            else if (db == DB_INC_TENANT)
                bl = store_key_inc_tenant(b, nw->tenant, nw->last_seen_ns, nw->id);
            else
                bl = store_key_inc_status(b, nw->status, nw->tenant, nw->status_ns, nw->id);
        }
        if (old && nw && al == bl && memcmp(a, b, al) == 0)
            continue;
        if (old && (rc = idx_del(t, (enum store_db)db, a, al)) != 0)
            return rc;
        if (nw && (rc = idx_put(t, (enum store_db)db, b, bl)) != 0)
            return rc;
    }
    return 0;
}

/* The stored record of id, decoded without arena from the scratch copy. */
static int load_old(struct store_txn *t, const char *id, struct store_incident *old,
                    struct store_inc_views *hist)
{
    const uint8_t *p;
    size_t n;
    int rc = store_get_copy(t, t->s->dbi[DB_INCIDENTS], id, strlen(id), &p, &n, "incident get");
    if (rc)
        return rc;
    struct store_dec d = {p, n, 0, NULL, 0};
    rc = store_incident_decode(&d, old, hist);
    if (rc)
        return store_txn_fail_code(t, rc == TS_E_NOMEM ? rc : TS_E_STORE, "incident record");
    return 0;
}

int store_incident_put(struct store_txn *t, const struct store_incident *inc, uint64_t *revision)
{
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if ((rc = incident_validate(inc)) != 0)
        return rc;
    struct store_incident old, nw = *inc;
    struct store_inc_views *views = &t->s->views;
    rc = load_old(t, inc->id, &old, views);
    if (rc && rc != TS_E_NOTFOUND)
        return rc;
    bool exists = rc == 0;
    if (!nw.tenant)
        nw.tenant = "";
    if (exists) {
        if (old.first_seen_ns < nw.first_seen_ns)
            nw.first_seen_ns = old.first_seen_ns;
        if (old.severity > nw.severity)
            nw.severity = old.severity;
        nw.status = old.status;
        nw.status_by = old.status_by;
        nw.status_ns = old.status_ns;
        nw.history = old.history;
        nw.nhistory = old.nhistory;
        nw.revision = old.revision + 1;
        nw.created_ns = old.created_ns;
        nw.evidence_next = old.evidence_next;
        nw.evidence_dropped = old.evidence_dropped;
    } else {
        nw.status = STORE_STATUS_NEW;
        nw.status_by = "";
        nw.status_ns = t->now_ns;
        nw.history = NULL;
        nw.nhistory = 0;
        nw.revision = 1;
        nw.created_ns = t->now_ns;
        nw.evidence_next = 0;
        nw.evidence_dropped = 0;
    }
    nw.updated_ns = t->now_ns;
    if ((rc = index_update(t, exists ? &old : NULL, &nw)) != 0)
        return rc;
    rc = store_put_record(t, t->s->dbi[DB_INCIDENTS], nw.id, strlen(nw.id), enc_incident, &nw,
                          "incident put");
    if (rc)
        return rc;
    if (revision)
        *revision = nw.revision;
    return 0;
}

int store_incident_get(struct store_txn *t, const char *id, struct ts_arena *arena,
                       struct store_incident *out)
{
    int rc = store_txn_check_read(t);
    if (rc)
        return rc;
    if (!store_str_ok(id, STORE_ID_MAX, true) || !arena)
        return TS_E_INVAL;
    MDB_val k = {strlen(id), (void *)id}, v;
    rc = mdb_get(t->txn, t->s->dbi[DB_INCIDENTS], &k, &v);
    if (rc == MDB_NOTFOUND)
        return TS_E_NOTFOUND;
    if (rc)
        return store_txn_fail(t, rc, "incident get");
    struct store_dec d = {v.mv_data, v.mv_size, 0, arena, 0};
    return store_incident_decode(&d, out, NULL);
}

static bool transition_ok(enum store_status from, enum store_status to)
{
    switch (to) {
    case STORE_STATUS_ACKNOWLEDGED:
        return from == STORE_STATUS_NEW || from == STORE_STATUS_REOPENED;
    case STORE_STATUS_RESOLVED:
        return from != STORE_STATUS_RESOLVED;
    case STORE_STATUS_REOPENED: return from == STORE_STATUS_RESOLVED;
    default: return false;
    }
}

int store_incident_set_status(struct store_txn *t, const char *id, enum store_status st,
                              const char *by, uint64_t *revision)
{
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if (!store_str_ok(id, STORE_ID_MAX, true) || !store_str_ok(by, STORE_STR_MAX, false))
        return TS_E_INVAL;
    struct store_incident old, nw;
    struct store_inc_views *views = &t->s->views;
    struct store_status_change *hist = views->hist;
    if ((rc = load_old(t, id, &old, views)) != 0)
        return rc;
    if (!transition_ok(old.status, st))
        return TS_E_INVAL;
    nw = old;
    nw.status = st;
    nw.status_by = by ? by : "";
    nw.status_ns = t->now_ns;
    nw.updated_ns = t->now_ns;
    nw.revision = old.revision + 1;
    /* history: append, dropping the oldest beyond the cap */
    uint32_t n = old.nhistory;
    hist[n].status = st;
    hist[n].by = nw.status_by;
    hist[n].at_ns = t->now_ns;
    n++;
    nw.history = hist;
    if (n > STORE_HISTORY_MAX) {
        nw.history = hist + (n - STORE_HISTORY_MAX);
        n = STORE_HISTORY_MAX;
    }
    nw.nhistory = n;
    if ((rc = index_update(t, &old, &nw)) != 0)
        return rc;
    rc = store_put_record(t, t->s->dbi[DB_INCIDENTS], id, strlen(id), enc_incident, &nw,
                          "incident put");
    if (rc)
        return rc;
    if (revision)
        *revision = nw.revision;
    return 0;
}

/* ---------------------------------------------------------------- delete */

int store_evidence_del_one(struct store_txn *t, const char *tenant, const char *id, uint32_t seq,
                           int64_t stored_ns)
{
    uint8_t k[STORE_KEY_MAX + 1];
    size_t kl = store_key_evidence(k, id, seq);
    int rc = idx_del(t, DB_EVIDENCE, k, kl);
    if (rc)
        return rc;
    kl = store_key_ev_time(k, tenant, stored_ns, id, seq);
    return idx_del(t, DB_EV_TIME, k, kl);
}

/* Delete the evidence of id, at most limit records (0 = all); *n gets
 * how many, *all whether none is left. */
static int evidence_del_upto(struct store_txn *t, const char *tenant, const char *id,
                             uint64_t limit, uint64_t *n, bool *all)
{
    MDB_cursor *c;
    *all = false;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_EVIDENCE], &c);
    if (rc)
        return store_txn_fail(t, rc, "evidence cursor");
    uint8_t k[STORE_KEY_MAX + 1], tk[STORE_KEY_MAX + 1];
    size_t pl = store_key_evidence(k, id, 0) - 4;
    MDB_val kv = {pl + 4, k}, v;
    int out = 0;
    uint64_t done = 0;
    /* re-seek after each delete: cursor positions after mdb_cursor_del are
     * a known LMDB trap */
    for (rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE); rc == 0;
         kv.mv_size = pl + 4, kv.mv_data = k, rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE)) {
        if (kv.mv_size != pl + 4 || memcmp(kv.mv_data, k, pl) != 0) {
            rc = MDB_NOTFOUND;
            break;
        }
        if (limit && done >= limit)
            break;
        uint32_t seq = store_get_be32((const uint8_t *)kv.mv_data + pl);
        struct store_dec d = {v.mv_data, v.mv_size, 0, NULL, 0};
        struct store_evidence ev;
        if (store_evidence_decode(&d, &ev, NULL) == 0) {
            size_t tl = store_key_ev_time(tk, tenant, ev.stored_ns, id, seq);
            if ((out = idx_del(t, DB_EV_TIME, tk, tl)) != 0)
                break;
        }
        rc = mdb_cursor_del(c, 0);
        if (rc) {
            out = store_txn_fail(t, rc, "evidence del");
            break;
        }
        done++;
    }
    mdb_cursor_close(c);
    *n += done;
    if (!out && rc == MDB_NOTFOUND)
        *all = true;
    else if (!out && rc != 0)
        out = store_txn_fail(t, rc, "evidence cursor");
    return out;
}

int store_incident_purge(struct store_txn *t, const char *id, uint64_t limit,
                         uint64_t *nevidence, bool *gone)
{
    struct store_incident old;
    struct store_inc_views *views = &t->s->views;
    *gone = false;
    int rc = load_old(t, id, &old, views);
    if (rc)
        return rc;
    /* old's strings live in scratch, which the evidence walk does not use */
    bool all;
    if ((rc = evidence_del_upto(t, old.tenant, id, limit, nevidence, &all)) != 0 || !all)
        return rc;
    if ((rc = index_update(t, &old, NULL)) != 0)
        return rc;
    MDB_val k = {strlen(id), (void *)id};
    rc = mdb_del(t->txn, t->s->dbi[DB_INCIDENTS], &k, NULL);
    if (rc)
        return store_txn_fail(t, rc, "incident del");
    *gone = true;
    return 0;
}

int store_incident_del(struct store_txn *t, const char *id)
{
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if (!store_str_ok(id, STORE_ID_MAX, true))
        return TS_E_INVAL;
    uint64_t n = 0;
    bool gone;
    return store_incident_purge(t, id, 0, &n, &gone);
}

/* ------------------------------------------------------------------ list */

struct list_ctx {
    const struct store_incident_filter *f;
    struct ts_arena *arena;
    int (*fn)(void *ctx, const struct store_incident *inc);
    void *ctx;
    uint32_t passed;
};

/* Walk index db from key prefix pre (plen) + start time; the id sits at
 * id_off past the prefix + 8 time bytes. */
static int list_walk(struct store_txn *t, enum store_db db, const uint8_t *pre, size_t plen,
                     struct list_ctx *lc, bool time_is_last_seen)
{
    const struct store_incident_filter *f = lc->f;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
    if (rc)
        return store_txn_fail(t, rc, "index cursor");
    uint8_t k[STORE_KEY_MAX + 1];
    memcpy(k, pre, plen);
    store_be64_time(k + plen, time_is_last_seen && f->since_ns ? f->since_ns : INT64_MIN);
    MDB_val kv = {plen + 8, k}, v;
    int out = 0;
    for (rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &kv, &v, MDB_NEXT)) {
        const uint8_t *kp = kv.mv_data;
        if (kv.mv_size <= plen + 8 || memcmp(kp, pre, plen) != 0)
            break;
        int64_t tm = store_get_be64_time(kp + plen);
        if (time_is_last_seen && f->until_ns && tm >= f->until_ns)
            break;
        char id[STORE_ID_MAX + 1];
        size_t idl = kv.mv_size - plen - 8;
        if (idl > STORE_ID_MAX) {
            out = TS_E_STORE;
            break;
        }
        memcpy(id, kp + plen + 8, idl);
        id[idl] = 0;
        MDB_val ik = {idl, id}, iv;
        rc = mdb_get(t->txn, t->s->dbi[DB_INCIDENTS], &ik, &iv);
        if (rc == MDB_NOTFOUND)
            continue; /* dangling index entry: skip */
        if (rc) {
            out = store_txn_fail(t, rc, "incident get");
            break;
        }
        struct store_incident inc;
        struct store_dec d = {iv.mv_data, iv.mv_size, 0, lc->arena, 0};
        if ((out = store_incident_decode(&d, &inc, NULL)) != 0)
            break;
        if (f->since_ns && inc.last_seen_ns < f->since_ns)
            continue;
        if (f->until_ns && inc.last_seen_ns >= f->until_ns)
            continue;
        if (f->tenant && strcmp(inc.tenant, f->tenant) != 0)
            continue;
        if (f->status_mask && !(f->status_mask & STORE_STATUS_BIT(inc.status)))
            continue;
        if ((out = lc->fn(lc->ctx, &inc)) != 0)
            break;
        if (f->limit && ++lc->passed >= f->limit)
            break;
    }
    mdb_cursor_close(c);
    if (!out && rc != 0 && rc != MDB_NOTFOUND)
        out = store_txn_fail(t, rc, "index cursor");
    return out;
}

int store_incident_list(struct store_txn *t, const struct store_incident_filter *f,
                        struct ts_arena *arena,
                        int (*fn)(void *ctx, const struct store_incident *inc), void *ctx)
{
    int rc = store_txn_check_read(t);
    if (rc)
        return rc;
    static const struct store_incident_filter all = {0, 0, NULL, 0, 0};
    if (!f)
        f = &all;
    if (!arena || !fn || f->status_mask >= STORE_STATUS_BIT(STORE_STATUS_COUNT) ||
        !store_str_ok(f->tenant, STORE_TENANT_MAX, false))
        return TS_E_INVAL;
    struct list_ctx lc = {f, arena, fn, ctx, 0};
    uint8_t pre[STORE_KEY_MAX + 1];
    if (f->tenant) {
        size_t pl = put_str0(pre, f->tenant);
        return list_walk(t, DB_INC_TENANT, pre, pl, &lc, true);
    }
    unsigned m = f->status_mask;
    if (m && (m & (m - 1)) == 0) {
        unsigned status = 0;
        while (!(m & STORE_STATUS_BIT(status)))
            status++;
        /* inc_status is status, tenant\0, time, id: walk every tenant under
         * the status byte; order is by tenant, then change time. */
        pre[0] = (uint8_t)status;
        MDB_cursor *c;
        if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_INC_STATUS], &c)) != 0)
            return store_txn_fail(t, rc, "index cursor");
        MDB_val kv = {1, pre}, v;
        int out = 0;
        for (rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE); rc == 0 && !out;
             rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE)) {
            const uint8_t *kp = kv.mv_data;
            if (kv.mv_size < 2 || kp[0] != (uint8_t)status)
                break;
            const uint8_t *z = memchr(kp + 1, 0, kv.mv_size - 1);
            if (!z) {
                out = TS_E_STORE;
                break;
            }
            size_t pl = (size_t)(z - kp) + 1; /* status + tenant + NUL */
            uint8_t tp[STORE_KEY_MAX + 1];
            memcpy(tp, kp, pl);
            out = list_walk(t, DB_INC_STATUS, tp, pl, &lc, false);
            if (f->limit && lc.passed >= f->limit)
                break;
            /* next tenant: status, tenant, \x01 sorts after every key of it */
            memcpy(pre, tp, pl);
            pre[pl - 1] = 1;
            kv.mv_size = pl;
            kv.mv_data = pre;
        }
        mdb_cursor_close(c);
        if (!out && rc != 0 && rc != MDB_NOTFOUND)
            out = store_txn_fail(t, rc, "index cursor");
        return out;
    }
    return list_walk(t, DB_INC_TIME, pre, 0, &lc, true);
}

/* -------------------------------------------------------------- evidence */

static void enc_evidence_rec(struct store_enc *e, const struct store_evidence *ev,
                             const char *tenant)
{
    store_enc_u8(e, STORE_REC_EVIDENCE);
    store_enc_u8(e, STORE_REC_VERSION);
    store_enc_u8(e, (uint8_t)((ev->raw_truncated ? 1 : 0) | (ev->raw_omitted ? 2 : 0) |
                          (ev->late ? 4 : 0)));
    store_enc_u8(e, 0);
    store_enc_u32(e, ev->seq);
    store_enc_u32(e, (uint32_t)ev->partition);
    store_enc_i64(e, ev->offset);
    store_enc_i64(e, ev->event_ns);
    store_enc_i64(e, ev->stored_ns);
    store_enc_str(e, ev->source);
    store_enc_str(e, ev->rule_id);
    store_enc_str(e, tenant);
    store_enc_blob(e, ev->raw ? ev->raw : "", ev->raw ? ev->raw_len : 0);
}

struct ev_enc_arg {
    const struct store_evidence *ev;
    const char *tenant;
};

static void enc_evidence(struct store_enc *e, const void *obj)
{
    const struct ev_enc_arg *a = obj;
    enc_evidence_rec(e, a->ev, a->tenant);
}

int store_evidence_decode(struct store_dec *d, struct store_evidence *o, const char **tenant)
{
    memset(o, 0, sizeof(*o));
    store_dec_header(d, STORE_REC_EVIDENCE);
    uint8_t fl = store_dec_u8(d);
    o->raw_truncated = fl & 1;
    o->raw_omitted = (fl & 2) != 0;
    o->late = (fl & 4) != 0;
    (void)store_dec_u8(d);
    o->seq = store_dec_u32(d);
    o->partition = (int32_t)store_dec_u32(d);
    o->offset = store_dec_i64(d);
    o->event_ns = store_dec_i64(d);
    o->stored_ns = store_dec_i64(d);
    o->source = store_dec_blob(d, NULL);
    o->rule_id = store_dec_blob(d, NULL);
    const char *tn = store_dec_blob(d, NULL);
    if (tenant)
        *tenant = tn;
    size_t rl;
    o->raw = store_dec_blob(d, &rl);
    o->raw_len = rl;
    if (!rl)
        o->raw = NULL;
    return d->err;
}

int store_evidence_add_n(struct store_txn *t, const char *incident_id,
                         const struct store_evidence *evs, size_t nev, uint32_t *stored)
{
    if (stored)
        *stored = 0;
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if ((nev && !evs) || !store_str_ok(incident_id, STORE_ID_MAX, true))
        return TS_E_INVAL;
    for (size_t i = 0; i < nev; i++)
        if (!store_str_ok(evs[i].source, STORE_SOURCE_MAX, false) ||
            !store_str_ok(evs[i].rule_id, STORE_STR_MAX, false) ||
            (evs[i].raw_len && !evs[i].raw))
            return TS_E_INVAL;
    struct store *s = t->s;
    const uint8_t *p;
    size_t n;
    rc = store_get_copy(t, s->dbi[DB_INCIDENTS], incident_id, strlen(incident_id), &p, &n,
                        "incident get");
    if (rc)
        return rc;
    struct store_incident inc;
    struct store_inc_views *views = &t->s->views;
    struct store_dec d = {p, n, 0, NULL, 0};
    if (store_incident_decode(&d, &inc, views) != 0 || n < STORE_INC_OFF_EVIDENCE_DROPPED + 4)
        return store_txn_fail_code(t, TS_E_STORE, "incident record");
    /* inc.tenant points into scratch, which nothing below overwrites */
    uint32_t next = inc.evidence_next, dropped = inc.evidence_dropped, done = 0;
    uint8_t k[STORE_KEY_MAX + 1];
    for (size_t i = 0; i < nev; i++) {
        if (next >= s->evidence_max) {
            dropped++;
            continue;
        }
        struct store_evidence e = evs[i];
        e.seq = next;
        e.stored_ns = t->now_ns;
        e.raw_truncated = false;
        e.raw_omitted = false;
        if (!e.source)
            e.source = "";
        if (e.raw && e.raw_len) {
            if (next >= s->evidence_raw_max) {
                e.raw = NULL;
                e.raw_len = 0;
                e.raw_omitted = true;
            } else if (e.raw_len > s->raw_max_bytes) {
                size_t cut = s->raw_max_bytes; /* not inside a UTF-8 sequence */
                for (int back = 0; back < 3 && cut > 0 &&
                                   ((unsigned char)e.raw[cut] & 0xC0) == 0x80;
                     back++)
                    cut--;
                e.raw_len = cut;
                e.raw_truncated = true;
            }
        }
        size_t kl = store_key_evidence(k, incident_id, next);
        struct ev_enc_arg arg = {&e, inc.tenant};
        if ((rc = store_put_record(t, s->dbi[DB_EVIDENCE], k, kl, enc_evidence, &arg,
                                   "evidence put")) != 0)
            return rc;
        kl = store_key_ev_time(k, inc.tenant, e.stored_ns, incident_id, next);
        if ((rc = idx_put(t, DB_EV_TIME, k, kl)) != 0)
            return rc;
        next++;
        done++;
    }
    /* the counters, patched in place in the scratch copy of the record */
    uint8_t *rec = (uint8_t *)s->scratch.data;
    struct store_enc pe = {rec, STORE_INC_OFF_EVIDENCE_NEXT};
    store_enc_u32(&pe, next);
    store_enc_u32(&pe, dropped);
    MDB_val ik = {strlen(incident_id), (void *)incident_id}, iv = {n, rec};
    rc = mdb_put(t->txn, s->dbi[DB_INCIDENTS], &ik, &iv, 0);
    if (rc)
        return store_txn_fail(t, rc, "incident put");
    if (stored)
        *stored = done;
    return done < nev ? TS_E_LIMIT : 0;
}

int store_evidence_add(struct store_txn *t, const char *incident_id,
                       const struct store_evidence *ev, uint32_t *seq)
{
    if (!ev)
        return TS_E_INVAL;
    uint32_t done;
    /* the sequence it gets is the incident's evidence_next before the add */
    int rc = store_evidence_add_n(t, incident_id, ev, 1, &done);
    if (rc == 0 && seq) {
        const uint8_t *rec = (const uint8_t *)t->s->scratch.data + STORE_INC_OFF_EVIDENCE_NEXT;
        *seq = ((uint32_t)rec[0] | (uint32_t)rec[1] << 8 | (uint32_t)rec[2] << 16 |
                (uint32_t)rec[3] << 24) - 1;
    }
    return rc;
}

int store_evidence_foreach(struct store_txn *t, const char *incident_id, struct ts_arena *arena,
                           int (*fn)(void *ctx, const struct store_evidence *ev), void *ctx)
{
    int rc = store_txn_check_read(t);
    if (rc)
        return rc;
    if (!store_str_ok(incident_id, STORE_ID_MAX, true) || !arena || !fn)
        return TS_E_INVAL;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_EVIDENCE], &c)) != 0)
        return store_txn_fail(t, rc, "evidence cursor");
    uint8_t k[STORE_KEY_MAX + 1];
    size_t pl = store_key_evidence(k, incident_id, 0) - 4;
    MDB_val kv = {pl + 4, k}, v;
    int out = 0;
    for (rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &kv, &v, MDB_NEXT)) {
        if (kv.mv_size != pl + 4 || memcmp(kv.mv_data, k, pl) != 0)
            break;
        struct store_evidence ev;
        struct store_dec d = {v.mv_data, v.mv_size, 0, arena, 0};
        if ((out = store_evidence_decode(&d, &ev, NULL)) != 0)
            break;
        if ((out = fn(ctx, &ev)) != 0)
            break;
    }
    mdb_cursor_close(c);
    if (!out && rc != 0 && rc != MDB_NOTFOUND)
        out = store_txn_fail(t, rc, "evidence cursor");
    return out;
}

int store_idx_del(struct store_txn *t, enum store_db db, const uint8_t *k, size_t klen)
{
    return idx_del(t, db, k, klen);
}
