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
#include "../core/varint.h"

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

#define HIST_EXT_FROM_COMMENT 1

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
    /* extension 1 (appended so that records without it still decode, and
     * older readers, which stop after the history, ignore it): each
     * change's from-status and comment */
    store_enc_u8(e, HIST_EXT_FROM_COMMENT);
    for (uint32_t i = 0; i < inc->nhistory; i++) {
        store_enc_u8(e, (uint8_t)inc->history[i].from);
        store_enc_str(e, inc->history[i].comment);
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
        h[i].from = i ? h[i - 1].status : STORE_STATUS_NEW; /* records without extension 1 */
        h[i].at_ns = store_dec_i64(d);
        h[i].by = store_dec_blob(d, NULL);
        h[i].comment = "";
    }
    if (!d->err && d->off < d->len && store_dec_u8(d) == HIST_EXT_FROM_COMMENT) {
        for (uint32_t i = 0; i < o->nhistory && !d->err; i++) {
            uint8_t fs = store_dec_u8(d);
            h[i].from = (enum store_status)(fs < STORE_STATUS_COUNT ? fs : 0);
            h[i].comment = store_dec_blob(d, NULL);
        }
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

/* A record decoded without arena (views into p, which must stay put). */
static int decode_old(struct store_txn *t, const uint8_t *p, size_t n, struct store_incident *old,
                      struct store_inc_views *hist)
{
    struct store_dec d = {p, n, 0, NULL, 0};
    int rc = store_incident_decode(&d, old, hist);
    if (rc)
        return store_txn_fail_code(t, rc == TS_E_NOMEM ? rc : TS_E_STORE, "incident record");
    return 0;
}

/* The stored record of id, decoded without arena from the scratch copy. */
static int load_old(struct store_txn *t, const char *id, struct store_incident *old,
                    struct store_inc_views *hist)
{
    const uint8_t *p;
    size_t n;
    int rc = store_get_copy(t, t->s->dbi[DB_INCIDENTS], id, strlen(id), &p, &n, "incident get");
    return rc ? rc : decode_old(t, p, n, old, hist);
}

static int ev_validate(const struct store_evidence *evs, size_t nev);
static int ev_append(struct store_txn *t, const char *tenant, const char *incident_id,
                     const struct store_evidence *evs, size_t nev, uint32_t *next_io,
                     uint32_t *dropped_io, uint32_t *done_out, bool given);
static int journal_put(struct store_txn *t, struct store_incident *nw,
                       const struct store_evidence *evs, size_t nev, uint32_t *done_out);

/* The upsert of store_incident_put, appending evs (nev, may be 0) to the
 * incident's evidence first so that the record is read and written once
 * with its new counters. */
static int incident_put(struct store_txn *t, const struct store_incident *inc, uint64_t *revision,
                        const struct store_evidence *evs, size_t nev, uint32_t *stored)
{
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if ((rc = incident_validate(inc)) != 0 || (rc = ev_validate(evs, nev)) != 0)
        return rc;
    struct store_incident old, nw = *inc;
    struct store_inc_views *views = &t->s->views;
    size_t jlen;
    const uint8_t *jrec = t->s->journal ? store_jmap_get(t->s, inc->id, &jlen) : NULL;
    if (jrec) { /* the journal's latest, decoded from a scratch copy */
        ts_buf_reset(&t->s->scratch);
        if (ts_buf_append(&t->s->scratch, jrec, jlen) != 0)
            return store_txn_fail_code(t, TS_E_NOMEM, "incident record");
        rc = decode_old(t, (const uint8_t *)t->s->scratch.data, jlen, &old, views);
    } else {
        rc = load_old(t, inc->id, &old, views);
    }
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
    uint32_t done = 0;
    if (t->s->journal) {
        if ((rc = journal_put(t, &nw, evs, nev, &done)) != 0)
            return rc;
        if (revision)
            *revision = nw.revision;
        if (stored)
            *stored = done;
        return done < nev ? TS_E_LIMIT : 0;
    }
    /* old.tenant points into scratch, which ev_append does not touch; the
     * stored tenant names the evidence, as in store_evidence_add_n */
    if (nev && (rc = ev_append(t, exists ? old.tenant : nw.tenant, nw.id, evs, nev,
                               &nw.evidence_next, &nw.evidence_dropped, &done, false)) != 0)
        return rc;
    if ((rc = index_update(t, exists ? &old : NULL, &nw)) != 0)
        return rc;
    rc = store_put_record(t, t->s->dbi[DB_INCIDENTS], nw.id, strlen(nw.id), enc_incident, &nw,
                          "incident put");
    if (rc)
        return rc;
    if (revision)
        *revision = nw.revision;
    if (stored)
        *stored = done;
    return done < nev ? TS_E_LIMIT : 0;
}

int store_incident_put(struct store_txn *t, const struct store_incident *inc, uint64_t *revision)
{
    return incident_put(t, inc, revision, NULL, 0, NULL);
}

int store_incident_put_ev(struct store_txn *t, const struct store_incident *inc,
                          uint64_t *revision, const struct store_evidence *evs, size_t nev,
                          uint32_t *stored)
{
    if (stored)
        *stored = 0;
    return incident_put(t, inc, revision, evs, nev, stored);
}

int store_incident_get(struct store_txn *t, const char *id, struct ts_arena *arena,
                       struct store_incident *out)
{
    int rc = store_txn_check_read(t);
    if (rc)
        return rc;
    if (!store_str_ok(id, STORE_ID_MAX, true) || !arena)
        return TS_E_INVAL;
    size_t jlen;
    const uint8_t *jrec =
        t->s->journal && !t->rdonly ? store_jmap_get(t->s, id, &jlen) : NULL;
    if (jrec) {
        struct store_dec d = {jrec, jlen, 0, arena, 0};
        return store_incident_decode(&d, out, NULL);
    }
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
    return store_incident_set_status_comment(t, id, st, by, NULL, revision);
}

int store_incident_set_status_comment(struct store_txn *t, const char *id, enum store_status st,
                                      const char *by, const char *comment, uint64_t *revision)
{
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if (!store_str_ok(id, STORE_ID_MAX, true) || !store_str_ok(by, STORE_STR_MAX, false) ||
        !store_str_ok(comment, STORE_COMMENT_MAX, false))
        return TS_E_INVAL;
    if ((rc = store_journal_settle(t)) != 0)
        return rc;
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
    hist[n].from = old.status;
    hist[n].by = nw.status_by;
    hist[n].at_ns = t->now_ns;
    hist[n].comment = comment ? comment : "";
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

static int evidence_del_upto(struct store_txn *t, const char *tenant, const char *id,
                             uint64_t limit, uint64_t *n, bool *all);

int store_incident_purge(struct store_txn *t, const char *id, uint64_t limit,
                         uint64_t *nevidence, bool *gone)
{
    struct store_incident old;
    struct store_inc_views *views = &t->s->views;
    *gone = false;
    int rc = store_journal_settle(t);
    if (rc)
        return rc;
    rc = load_old(t, id, &old, views);
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
    bool desc = time_is_last_seen && f->newest_first;
    memcpy(k, pre, plen);
    if (desc) /* from the first key at or past until (or the end), backwards */
        store_be64_time(k + plen, f->until_ns ? f->until_ns : INT64_MAX);
    else
        store_be64_time(k + plen, time_is_last_seen && f->since_ns ? f->since_ns : INT64_MIN);
    MDB_val kv = {plen + 8, k}, v;
    int out = 0;
    rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE);
    if (desc)
        rc = rc == MDB_NOTFOUND ? mdb_cursor_get(c, &kv, &v, MDB_LAST)
                                : rc ? rc : mdb_cursor_get(c, &kv, &v, MDB_PREV);
    for (; rc == 0; rc = mdb_cursor_get(c, &kv, &v, desc ? MDB_PREV : MDB_NEXT)) {
        const uint8_t *kp = kv.mv_data;
        if (kv.mv_size <= plen + 8 || memcmp(kp, pre, plen) != 0)
            break;
        int64_t tm = store_get_be64_time(kp + plen);
        if (!desc && time_is_last_seen && f->until_ns && tm >= f->until_ns)
            break;
        if (desc && f->since_ns && tm < f->since_ns)
            break;
        if (desc && f->until_ns && tm >= f->until_ns)
            continue; /* the key SET_RANGE stopped at was the last one, past until */
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
    static const struct store_incident_filter all = {0, 0, NULL, 0, 0, false};
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
    if (m && (m & (m - 1)) == 0 && !f->newest_first) {
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

/* Evidence is stored in chunks: references seq [c*64, c*64+64) of one
 * incident in one record under the key of its first seq, appended to (read,
 * extended, re-put) by later batches, so that an incident that gets one
 * reference per batch rewrites one small record instead of adding a record
 * and an ev_time entry per reference (the B-tree pages a batch dirties, and
 * the bytes each commit writes, follow the number of records touched).
 * Raw text, kept for the first evidence_raw_max references only, lives in
 * a record of its own in ev_raw (same key), written once, so that the
 * chunks, rewritten often, stay densely packed.
 *
 * Chunk: 'E' 2 0 0, u32 first, u32 n, i64 newest stored, varint tenant
 * length + tenant, then n references: u8 flags, source and rule id as
 * (varint 0: same as the previous reference; else length + 1, bytes),
 * zig-zag varints of partition, offset - previous offset, event time -
 * previous, stored - previous (previous of the first: 0, "" for strings). */
#define EV_CHUNK 64u
#define EV_VERSION 3
#define EVF_TRUNC 1u
#define EVF_OMIT 2u
#define EVF_LATE 4u
#define EVF_RAW 8u
#define EV_HDR 20u

/* The length of raw text kept: at most max bytes, never cutting inside a
 * UTF-8 sequence; *trunc when it was cut. */
static size_t raw_cut(const char *raw, size_t len, size_t max, bool *trunc)
{
    *trunc = len > max;
    if (!*trunc)
        return len;
    size_t cut = max;
    for (int back = 0; back < 3 && cut > 0 && ((unsigned char)raw[cut] & 0xC0) == 0x80; back++)
        cut--;
    return cut;
}

static void ev_var(struct ts_buf *b, uint64_t v)
{
    uint8_t tmp[TS_VARINT_MAX];
    (void)ts_buf_append(b, tmp, ts_varint_put(tmp, v)); /* the caller checks b's state once */
}

/* The same, written at p (room reserved); returns the end. */
static uint8_t *ev_var_p(uint8_t *p, uint64_t v)
{
    return p + ts_varint_put(p, v);
}

static uint8_t *ev_str_p(uint8_t *p, const void *s, size_t len, const uint8_t *prev,
                         size_t prevlen)
{
    if (prev && prevlen == len && (prev == s || memcmp(prev, s, len) == 0))
        return ev_var_p(p, 0);
    p = ev_var_p(p, (uint64_t)len + 1);
    memcpy(p, s, len);
    return p + len;
}

static uint64_t ev_zz(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t ev_unzz(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* The running state of a chunk's references (the deltas' bases). */
struct ev_prev {
    const uint8_t *src, *rule;
    size_t srclen, rulelen;
    int64_t off, ev, stored;
};

struct ev_chunk {
    uint32_t first, n;
    int64_t newest;
    const uint8_t *tenant;
    size_t tlen;
    struct ts_rd refs;
};

static int ev_chunk_open(const void *p, size_t n, struct ev_chunk *c)
{
    const uint8_t *b = p;
    if (n < EV_HDR || b[0] != STORE_REC_EVIDENCE || b[1] != EV_VERSION)
        return TS_E_STORE;
    c->first = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
    c->n = (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t |= (uint64_t)b[12 + i] << (8 * i);
    c->newest = (int64_t)t;
    struct ts_rd r = {b, n, EV_HDR, false};
    uint64_t tl = ts_rd_var(&r);
    if (r.bad || tl > n - r.i || c->n > EV_CHUNK)
        return TS_E_STORE;
    c->tenant = b + r.i;
    c->tlen = (size_t)tl;
    r.i += (size_t)tl;
    c->refs = r;
    return 0;
}

/* Next reference of a chunk into *o (strings as pointer + length in prev,
 * not terminated). */
static int ev_ref_next(struct ts_rd *r, struct ev_prev *pv, struct store_evidence *o,
                       uint8_t *flags)
{
    if (r->i >= r->n)
        return TS_E_STORE;
    *flags = r->p[r->i++];
    for (int s = 0; s < 2; s++) {
        uint64_t l = ts_rd_var(r);
        if (r->bad)
            return TS_E_STORE;
        if (l == 0)
            continue;
        if (l - 1 > r->n - r->i)
            return TS_E_STORE;
        if (s == 0) {
            pv->src = r->p + r->i;
            pv->srclen = (size_t)l - 1;
        } else {
            pv->rule = r->p + r->i;
            pv->rulelen = (size_t)l - 1;
        }
        r->i += (size_t)l - 1;
    }
    int64_t part = ev_unzz(ts_rd_var(r));
    pv->off += ev_unzz(ts_rd_var(r));
    pv->ev += ev_unzz(ts_rd_var(r));
    pv->stored += ev_unzz(ts_rd_var(r));
    if (r->bad || part < INT32_MIN || part > INT32_MAX)
        return TS_E_STORE;
    memset(o, 0, sizeof(*o));
    o->partition = (int32_t)part;
    o->offset = pv->off;
    o->event_ns = pv->ev;
    o->stored_ns = pv->stored;
    o->raw_truncated = (*flags & EVF_TRUNC) != 0;
    o->raw_omitted = (*flags & EVF_OMIT) != 0;
    o->late = (*flags & EVF_LATE) != 0;
    if (*flags & EVF_RAW) { /* the raw text follows the reference */
        uint64_t l = ts_rd_var(r);
        if (r->bad || l > r->n - r->i)
            return TS_E_STORE;
        o->raw = (const char *)r->p + r->i;
        o->raw_len = (size_t)l;
        r->i += (size_t)l;
    }
    return 0;
}

static void ev_str(struct ts_buf *b, const void *s, size_t len, const uint8_t *prev,
                   size_t prevlen)
{
    if (prev && prevlen == len && memcmp(prev, s, len) == 0) {
        ev_var(b, 0);
        return;
    }
    ev_var(b, (uint64_t)len + 1);
    (void)ts_buf_append(b, s, len);
}


static void ev_hdr_patch(struct ts_buf *b, uint32_t first, uint32_t n, int64_t newest)
{
    uint8_t *p = (uint8_t *)b->data;
    p[0] = STORE_REC_EVIDENCE;
    p[1] = EV_VERSION;
    p[2] = p[3] = 0;
    for (int i = 0; i < 4; i++) {
        p[4 + i] = (uint8_t)(first >> (8 * i));
        p[8 + i] = (uint8_t)(n >> (8 * i));
    }
    for (int i = 0; i < 8; i++)
        p[12 + i] = (uint8_t)((uint64_t)newest >> (8 * i));
}

/* Write the chunk in s->evbuf (first, n refs) and move its ev_time entry
 * from old_newest (INT64_MIN: a new chunk) to now. */
static int ev_chunk_put(struct store_txn *t, const char *tenant, const char *id, uint32_t first,
                        uint32_t n, int64_t old_newest)
{
    struct store *s = t->s;
    if (s->evbuf.len < EV_HDR)
        return store_txn_fail_code(t, TS_E_STORE, "evidence chunk");
    ev_hdr_patch(&s->evbuf, first, n, t->now_ns);
    uint8_t k[STORE_KEY_MAX + 1];
    size_t kl = store_key_evidence(k, id, first);
    MDB_val kv = {kl, k}, v = {s->evbuf.len, s->evbuf.data};
    int rc = mdb_put(t->txn, s->dbi[DB_EVIDENCE], &kv, &v, 0);
    if (rc)
        return store_txn_fail(t, rc, "evidence put");
    if (old_newest == t->now_ns)
        return 0;
    if (old_newest != INT64_MIN) {
        kl = store_key_ev_time(k, tenant, old_newest, id, first);
        if ((rc = idx_del(t, DB_EV_TIME, k, kl)) != 0)
            return rc;
    }
    kl = store_key_ev_time(k, tenant, t->now_ns, id, first);
    return idx_put(t, DB_EV_TIME, k, kl);
}

/* Start s->evbuf for the chunk holding seq next: the stored chunk's bytes
 * (and *pv at its last reference) when it has some, else a bare header. */
static int ev_chunk_load(struct store_txn *t, const char *tenant, const char *id, uint32_t next,
                         struct ev_prev *pv, int64_t *old_newest)
{
    struct store *s = t->s;
    memset(pv, 0, sizeof(*pv));
    *old_newest = INT64_MIN;
    ts_buf_reset(&s->evbuf);
    uint32_t first = next / EV_CHUNK * EV_CHUNK;
    if (next != first) {
        uint8_t k[STORE_KEY_MAX + 1];
        size_t kl = store_key_evidence(k, id, first);
        MDB_val kv = {kl, k}, v;
        int rc = mdb_get(t->txn, s->dbi[DB_EVIDENCE], &kv, &v);
        if (rc && rc != MDB_NOTFOUND)
            return store_txn_fail(t, rc, "evidence get");
        if (rc == 0) {
            struct ev_chunk c;
            if (ev_chunk_open(v.mv_data, v.mv_size, &c) != 0 || c.first != first)
                return store_txn_fail_code(t, TS_E_STORE, "evidence chunk");
            struct store_evidence e;
            uint8_t fl;
            for (uint32_t i = 0; i < c.n; i++)
                if (ev_ref_next(&c.refs, pv, &e, &fl) != 0)
                    return store_txn_fail_code(t, TS_E_STORE, "evidence chunk");
            *old_newest = c.newest;
            if (ts_buf_append(&s->evbuf, v.mv_data, c.refs.i) != 0)
                return store_txn_fail_code(t, TS_E_NOMEM, "evidence chunk");
            return 0;
        }
        /* the chunk was aged out by retention: a new one from here */
    }
    uint8_t hdr[EV_HDR] = {0};
    size_t tl = strlen(tenant);
    if (ts_buf_reserve(&s->evbuf, sizeof(hdr) + 10 + tl) != 0)
        return store_txn_fail_code(t, TS_E_NOMEM, "evidence chunk");
    (void)ts_buf_append(&s->evbuf, hdr, sizeof(hdr));
    ev_var(&s->evbuf, tl);
    (void)ts_buf_append(&s->evbuf, tenant, tl);
    return 0;
}

/* The per-reference checks of add_n, before anything is written. */
static int ev_validate(const struct store_evidence *evs, size_t nev)
{
    if (nev && !evs)
        return TS_E_INVAL;
    for (size_t i = 0; i < nev; i++)
        if (!store_str_ok(evs[i].source, STORE_SOURCE_MAX, false) ||
            !store_str_ok(evs[i].rule_id, STORE_STR_MAX, false) ||
            (evs[i].raw_len && !evs[i].raw))
            return TS_E_INVAL;
    return 0;
}

/* Append evs to the chunks (and raw records) of incident_id, numbering
 * them from *next; refused ones (at evidence_max) counted in *dropped.
 * Does not touch the incident record: the caller writes the counters.
 * tenant must not point into s->evbuf. *done gets how many were stored. */
static int ev_append(struct store_txn *t, const char *tenant, const char *incident_id,
                     const struct store_evidence *evs, size_t nev, uint32_t *next_io,
                     uint32_t *dropped_io, uint32_t *done_out, bool given)
{
    struct store *s = t->s;
    int rc;
    uint32_t next = *next_io, dropped = *dropped_io, done = 0;
    struct ev_prev pv;
    int64_t old_newest = INT64_MIN;
    bool open = false; /* s->evbuf holds the chunk of seq next */
    for (size_t i = 0; i < nev; i++) {
        if (next >= s->evidence_max) {
            dropped++;
            continue;
        }
        if (!open && (rc = ev_chunk_load(t, tenant, incident_id, next, &pv, &old_newest)))
            return rc;
        open = true;
        const struct store_evidence *e = &evs[i];
        const char *src = e->source ? e->source : "";
        const char *rule = e->rule_id ? e->rule_id : "";
        uint8_t fl = e->late ? EVF_LATE : 0;
        size_t rawlen = 0;
        if (given) { /* from the journal: decided when it was written */
            fl |= (uint8_t)((e->raw_truncated ? EVF_TRUNC : 0) | (e->raw_omitted ? EVF_OMIT : 0));
            if (e->raw && e->raw_len) {
                rawlen = e->raw_len;
                fl |= EVF_RAW;
            }
        } else if (e->raw && e->raw_len) {
            if (next >= s->evidence_raw_max) {
                fl |= EVF_OMIT;
            } else {
                bool trunc;
                rawlen = raw_cut(e->raw, e->raw_len, s->raw_max_bytes, &trunc);
                fl |= (uint8_t)(EVF_RAW | (trunc ? EVF_TRUNC : 0));
            }
        }
        struct ts_buf *b = &s->evbuf;
        /* the caller's strings stay valid for the call (the next reference
         * compares with them); a repeated pointer keeps its length */
        size_t sl = pv.src == (const uint8_t *)src ? pv.srclen : strlen(src);
        size_t rl = pv.rule == (const uint8_t *)rule ? pv.rulelen : strlen(rule);
        /* room for the whole reference, then written in place */
        if (ts_buf_reserve(b, 1 + 2 * 10 + sl + rl + 5 * 10 + rawlen) != 0)
            return store_txn_fail_code(t, TS_E_NOMEM, "evidence chunk");
        uint8_t *p0 = (uint8_t *)b->data + b->len, *p = p0;
        *p++ = fl;
        p = ev_str_p(p, src, sl, pv.src ? pv.src : (const uint8_t *)"", pv.src ? pv.srclen : 0);
        p = ev_str_p(p, rule, rl, pv.rule ? pv.rule : (const uint8_t *)"",
                     pv.rule ? pv.rulelen : 0);
        p = ev_var_p(p, ev_zz(e->partition));
        p = ev_var_p(p, ev_zz((int64_t)((uint64_t)e->offset - (uint64_t)pv.off)));
        p = ev_var_p(p, ev_zz((int64_t)((uint64_t)e->event_ns - (uint64_t)pv.ev)));
        int64_t stored = given ? e->stored_ns : t->now_ns;
        p = ev_var_p(p, ev_zz((int64_t)((uint64_t)stored - (uint64_t)pv.stored)));
        if (fl & EVF_RAW) { /* inline, after the reference */
            p = ev_var_p(p, rawlen);
            memcpy(p, e->raw, rawlen);
            p += rawlen;
        }
        b->len += (size_t)(p - p0);
        b->data[b->len] = '\0';
        pv.src = (const uint8_t *)src;
        pv.srclen = sl;
        pv.rule = (const uint8_t *)rule;
        pv.rulelen = rl;
        pv.off = e->offset;
        pv.ev = e->event_ns;
        pv.stored = stored;
        next++;
        done++;
        if (next % EV_CHUNK == 0) {
            uint32_t first = next - EV_CHUNK;
            if ((rc = ev_chunk_put(t, tenant, incident_id, first, EV_CHUNK, old_newest)))
                return rc;
            open = false;
        }
    }
    if (open) {
        uint32_t first = (next - 1) / EV_CHUNK * EV_CHUNK;
        if ((rc = ev_chunk_put(t, tenant, incident_id, first, next - first, old_newest)))
            return rc;
    }
    *next_io = next;
    *dropped_io = dropped;
    *done_out = done;
    return 0;
}

int store_evidence_add_n(struct store_txn *t, const char *incident_id,
                         const struct store_evidence *evs, size_t nev, uint32_t *stored)
{
    if (stored)
        *stored = 0;
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if (ev_validate(evs, nev) != 0 || !store_str_ok(incident_id, STORE_ID_MAX, true))
        return TS_E_INVAL;
    if ((rc = store_journal_settle(t)) != 0) /* rare: evidence without its incident */
        return rc;
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
    if ((rc = ev_append(t, inc.tenant, incident_id, evs, nev, &next, &dropped, &done, false)) !=
        0)
        return rc;
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
    if ((rc = store_journal_settle(t)) != 0)
        return rc;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_EVIDENCE], &c)) != 0)
        return store_txn_fail(t, rc, "evidence cursor");
    uint8_t k[STORE_KEY_MAX + 1];
    size_t pl = store_key_evidence(k, incident_id, 0) - 4;
    MDB_val kv = {pl + 4, k}, v;
    int out = 0;
    for (rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE); rc == 0 && !out;
         rc = mdb_cursor_get(c, &kv, &v, MDB_NEXT)) {
        if (kv.mv_size != pl + 4 || memcmp(kv.mv_data, k, pl) != 0)
            break;
        struct ev_chunk ch;
        if (ev_chunk_open(v.mv_data, v.mv_size, &ch) != 0) {
            out = TS_E_STORE;
            break;
        }
        struct ev_prev pv = {0};
        for (uint32_t i = 0; i < ch.n && !out; i++) {
            struct store_evidence ev;
            uint8_t fl;
            if ((out = ev_ref_next(&ch.refs, &pv, &ev, &fl)) != 0)
                break;
            ev.seq = ch.first + i;
            ev.source = ts_arena_strndup(arena, pv.src ? (const char *)pv.src : "", pv.srclen);
            ev.rule_id = ts_arena_strndup(arena, pv.rule ? (const char *)pv.rule : "",
                                          pv.rulelen);
            if (!ev.source || !ev.rule_id) {
                out = TS_E_NOMEM;
                break;
            }
            if (ev.raw) { /* copied: the caller's arena outlives the txn */
                ev.raw = ts_arena_strndup(arena, ev.raw, ev.raw_len);
                if (!ev.raw) {
                    out = TS_E_NOMEM;
                    break;
                }
            }
            out = fn(ctx, &ev);
        }
        if (out)
            break;
    }
    mdb_cursor_close(c);
    if (!out && rc != 0 && rc != MDB_NOTFOUND)
        out = store_txn_fail(t, rc, "evidence cursor");
    return out;
}

/* Delete the evidence of id (chunks, their raw records and ev_time
 * entries) until at least limit references are gone (0 = all; a chunk goes
 * whole); *n gets how many references, *all whether none is left. */
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
        uint8_t ck[STORE_KEY_MAX + 1];
        size_t ckl = kv.mv_size;
        memcpy(ck, kv.mv_data, ckl);
        struct ev_chunk ch;
        if (ev_chunk_open(v.mv_data, v.mv_size, &ch) == 0) {
            size_t tl = store_key_ev_time(tk, tenant, ch.newest, id, ch.first);
            if ((out = idx_del(t, DB_EV_TIME, tk, tl)) != 0)
                break;
        }
        uint64_t nr = 0;
        if ((out = store_evidence_del_chunk(t, ck, ckl, &nr)) != 0)
            break;
        if (nr == 0 && (out = idx_del(t, DB_EVIDENCE, ck, ckl)) != 0)
            break; /* unreadable chunk: goes without counting */
        done += nr;
    }
    mdb_cursor_close(c);
    *n += done;
    if (!out && rc == MDB_NOTFOUND)
        *all = true;
    else if (!out && rc != 0)
        out = store_txn_fail(t, rc, "evidence cursor");
    return out;
}

int store_evidence_del_chunk(struct store_txn *t, const uint8_t *key, size_t klen,
                             uint64_t *nrefs)
{
    *nrefs = 0;
    if (klen < 6 || klen > STORE_KEY_MAX || key[klen - 5] != 0)
        return TS_E_STORE;
    MDB_val kv = {klen, (void *)key}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DB_EVIDENCE], &kv, &v);
    if (rc == MDB_NOTFOUND)
        return 0; /* dangling ev_time entry */
    if (rc)
        return store_txn_fail(t, rc, "evidence get");
    struct ev_chunk ch;
    if (ev_chunk_open(v.mv_data, v.mv_size, &ch) != 0)
        return store_txn_fail_code(t, TS_E_STORE, "evidence chunk");
    /* the raw text is inside the chunk: the chunk is all there is */
    *nrefs = ch.n;
    return idx_del(t, DB_EVIDENCE, key, klen);
}

int store_idx_del(struct store_txn *t, enum store_db db, const uint8_t *k, size_t klen)
{
    return idx_del(t, db, k, klen);
}

/* ---------------------------------------------------------------- journal */

/* A journal record (DB_JOURNAL value): 'J', version 1, i64 txn clock,
 * u32 first evidence seq, u32 nref, u32 record length, the incident record
 * as it is to be stored (counters included), then nref references in the
 * chunk encoding (ev_ref_next), each followed, when flagged EVF_RAW, by a
 * varint length and the raw bytes. References over evidence_max are not
 * written (counted in the record). */
#define J_MAGIC 'J'
#define J_VERSION 1
#define J_HDR 22u

static void j_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t j_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int journal_put(struct store_txn *t, struct store_incident *nw,
                       const struct store_evidence *evs, size_t nev, uint32_t *done_out)
{
    struct store *s = t->s;
    uint32_t first = nw->evidence_next, next = first, dropped = nw->evidence_dropped;
    for (size_t i = 0; i < nev; i++) {
        if (next >= s->evidence_max)
            dropped++;
        else
            next++;
    }
    uint32_t nref = next - first;
    nw->evidence_next = next;
    nw->evidence_dropped = dropped;
    struct store_enc e = {NULL, 0};
    store_incident_encode(&e, nw);
    size_t reclen = e.len;
    struct ts_buf *b = &s->jbuf;
    ts_buf_reset(b);
    if (ts_buf_reserve(b, J_HDR + reclen) != 0)
        return store_txn_fail_code(t, TS_E_NOMEM, "journal record");
    uint8_t *h = (uint8_t *)b->data;
    h[0] = J_MAGIC;
    h[1] = J_VERSION;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (uint8_t)((uint64_t)t->now_ns >> (8 * i));
    j_u32(h + 10, first);
    j_u32(h + 14, nref);
    j_u32(h + 18, (uint32_t)reclen);
    struct store_enc w = {h + J_HDR, 0};
    store_incident_encode(&w, nw);
    b->len = J_HDR + reclen;
    struct ev_prev pv = {0};
    uint32_t seq = first;
    for (size_t i = 0; i < nev && seq < next; i++, seq++) {
        const struct store_evidence *ev = &evs[i];
        const char *src = ev->source ? ev->source : "";
        const char *rule = ev->rule_id ? ev->rule_id : "";
        uint8_t fl = ev->late ? EVF_LATE : 0;
        size_t rawlen = 0;
        if (ev->raw && ev->raw_len) { /* as ev_append decides it */
            if (seq >= s->evidence_raw_max) {
                fl |= EVF_OMIT;
            } else {
                bool trunc;
                rawlen = raw_cut(ev->raw, ev->raw_len, s->raw_max_bytes, &trunc);
                fl |= (uint8_t)(EVF_RAW | (trunc ? EVF_TRUNC : 0));
            }
        }
        size_t sl = strlen(src), rl = strlen(rule);
        if (ts_buf_reserve(b, 1 + 6 * 10 + sl + rl + rawlen) != 0)
            return store_txn_fail_code(t, TS_E_NOMEM, "journal record");
        (void)ts_buf_putc(b, (char)fl);
        ev_str(b, src, sl, pv.src ? pv.src : (const uint8_t *)"", pv.src ? pv.srclen : 0);
        ev_str(b, rule, rl, pv.rule ? pv.rule : (const uint8_t *)"", pv.rule ? pv.rulelen : 0);
        ev_var(b, ev_zz(ev->partition));
        ev_var(b, ev_zz((int64_t)((uint64_t)ev->offset - (uint64_t)pv.off)));
        ev_var(b, ev_zz((int64_t)((uint64_t)ev->event_ns - (uint64_t)pv.ev)));
        ev_var(b, ev_zz((int64_t)((uint64_t)t->now_ns - (uint64_t)pv.stored)));
        pv.src = (const uint8_t *)src;
        pv.srclen = sl;
        pv.rule = (const uint8_t *)rule;
        pv.rulelen = rl;
        pv.off = ev->offset;
        pv.ev = ev->event_ns;
        pv.stored = t->now_ns;
        if (fl & EVF_RAW) {
            ev_var(b, rawlen);
            (void)ts_buf_append(b, ev->raw, rawlen);
        }
    }
    int rc = store_journal_append(t, b->data, b->len);
    if (rc)
        return rc;
    if ((rc = store_jmap_stage(s, nw->id, (const uint8_t *)b->data + J_HDR, reclen)) != 0)
        return store_txn_fail_code(t, rc, "journal map");
    *done_out = nref;
    return 0;
}

/* One journal record, checked: the incident record and the references. */
struct jrec {
    const uint8_t *rec, *refs;
    size_t reclen, refslen;
    uint32_t first, nref;
    int64_t now;
    const char *id; /* in rec */
};

static int jrec_open(const MDB_val *v, struct jrec *j)
{
    const uint8_t *p = v->mv_data;
    size_t n = v->mv_size;
    if (n < J_HDR || p[0] != J_MAGIC || p[1] != J_VERSION)
        return TS_E_STORE;
    uint64_t now = 0;
    for (int i = 7; i >= 0; i--)
        now = now << 8 | p[2 + i];
    j->now = (int64_t)now;
    j->first = j_get_u32(p + 10);
    j->nref = j_get_u32(p + 14);
    j->reclen = j_get_u32(p + 18);
    if (j->reclen > n - J_HDR || j->reclen < 75)
        return TS_E_STORE;
    j->rec = p + J_HDR;
    j->refs = j->rec + j->reclen;
    j->refslen = n - J_HDR - j->reclen;
    /* the id: the first string, at 70 (u32 length, bytes, NUL) */
    uint32_t il = j_get_u32(j->rec + 70);
    if (il > j->reclen - 75 || j->rec[74 + il] != 0)
        return TS_E_STORE;
    j->id = (const char *)j->rec + 74;
    return 0;
}

struct fold_grp {
    size_t head, tail; /* record indexes; chained through next[] */
    const char *id;
};

static int grp_cmp(const void *a, const void *b)
{
    return strcmp(((const struct fold_grp *)a)->id, ((const struct fold_grp *)b)->id);
}

/* The references of record j (raw pointing into it; strings copied into
 * arena) appended to *evs. */
static int jrec_refs(const struct jrec *j, struct ts_arena *arena, struct store_evidence **evs,
                     size_t *n, size_t *cap)
{
    struct ts_rd r = {j->refs, j->refslen, 0, false};
    struct ev_prev pv = {0};
    const uint8_t *lsrc = NULL, *lrule = NULL; /* copied last (repeats point there) */
    const char *csrc = "", *crule = "";
    for (uint32_t i = 0; i < j->nref; i++) {
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 256;
            struct store_evidence *ne = realloc(*evs, nc * sizeof(*ne));
            if (!ne)
                return TS_E_NOMEM;
            *evs = ne;
            *cap = nc;
        }
        struct store_evidence *e = &(*evs)[*n];
        uint8_t fl;
        if (ev_ref_next(&r, &pv, e, &fl) != 0)
            return TS_E_STORE;
        if (pv.src != lsrc && !(csrc = ts_arena_strndup(arena, (const char *)pv.src, pv.srclen)))
            return TS_E_NOMEM;
        if (pv.rule != lrule &&
            !(crule = ts_arena_strndup(arena, (const char *)pv.rule, pv.rulelen)))
            return TS_E_NOMEM;
        lsrc = pv.src;
        lrule = pv.rule;
        e->source = csrc;
        e->rule_id = crule;
        e->late = (fl & EVF_LATE) != 0; /* raw: set by ev_ref_next, into the record */
        (*n)++;
    }
    return 0;
}

int store_incident_fold(struct store_txn *t, const MDB_val *recs, size_t n)
{
    struct store *s = t->s;
    struct jrec *js = calloc(n ? n : 1, sizeof(*js));
    size_t *next = calloc(n ? n : 1, sizeof(*next));
    size_t hcap = 64;
    while (hcap < 2 * n)
        hcap *= 2;
    size_t *ht = calloc(hcap, sizeof(*ht)); /* 1 + group index */
    struct fold_grp *g = calloc(n ? n : 1, sizeof(*g));
    struct store_inc_views *fv = malloc(sizeof(*fv));
    struct ts_arena *arena = NULL;
    (void)ts_arena_create(&arena, 64 * 1024, (size_t)1 << 30);
    struct store_evidence *evs = NULL;
    size_t ng = 0, evcap = 0;
    int rc = js && next && ht && g && fv && arena ? 0 : TS_E_NOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        if (jrec_open(&recs[i], &js[i]) != 0) {
            rc = TS_E_STORE;
            break;
        }
        next[i] = SIZE_MAX;
        size_t k = store_id_hash(js[i].id) & (hcap - 1);
        while (ht[k] && strcmp(js[g[ht[k] - 1].head].id, js[i].id) != 0)
            k = (k + 1) & (hcap - 1);
        if (!ht[k]) {
            g[ng].head = g[ng].tail = i;
            g[ng].id = js[i].id;
            ht[k] = ++ng;
        } else {
            struct fold_grp *gg = &g[ht[k] - 1];
            next[gg->tail] = i;
            gg->tail = i;
        }
    }
    /* in id order: the incident, evidence and raw-text keys all start with
     * the id, so the puts walk each B-tree forwards instead of at random */
    if (!rc)
        qsort(g, ng, sizeof(*g), grp_cmp);
    for (size_t gi = 0; !rc && gi < ng; gi++) {
        const struct jrec *last = &js[g[gi].tail];
        const char *id = last->id;
        struct store_incident old, fin;
        rc = load_old(t, id, &old, &s->views);
        if (rc && rc != TS_E_NOTFOUND)
            break;
        bool exists = rc == 0;
        rc = 0;
        struct store_dec d = {last->rec, last->reclen, 0, NULL, 0};
        if (store_incident_decode(&d, &fin, fv) != 0) {
            rc = store_txn_fail_code(t, TS_E_STORE, "journal record");
            break;
        }
        size_t nev = 0;
        ts_arena_reset(arena);
        for (size_t i = g[gi].head; !rc && i != SIZE_MAX; i = next[i]) {
            size_t from = nev;
            rc = jrec_refs(&js[i], arena, &evs, &nev, &evcap);
            for (size_t k = from; !rc && k < nev; k++)
                evs[k].stored_ns = js[i].now;
            if (rc)
                rc = store_txn_fail_code(t, rc, "journal record");
        }
        if (rc)
            break;
        uint32_t enext = exists ? old.evidence_next : 0;
        uint32_t edrop = exists ? old.evidence_dropped : 0, done = 0;
        /* old's strings live in scratch, which ev_append does not touch */
        if (nev && (rc = ev_append(t, exists ? old.tenant : fin.tenant, id, evs, nev, &enext,
                                   &edrop, &done, true)) != 0)
            break;
        if ((rc = index_update(t, exists ? &old : NULL, &fin)) != 0)
            break;
        /* the record as the journal wrote it; its counters agree with
         * what ev_append did unless retention removed chunks meanwhile */
        MDB_val k = {strlen(id), (void *)id}, v = {last->reclen, NULL};
        if ((rc = mdb_put(t->txn, s->dbi[DB_INCIDENTS], &k, &v, MDB_RESERVE)) != 0) {
            rc = store_txn_fail(t, rc, "incident put");
            break;
        }
        memcpy(v.mv_data, last->rec, last->reclen);
        if (fin.evidence_next != enext) {
            struct store_enc pe = {v.mv_data, STORE_INC_OFF_EVIDENCE_NEXT};
            store_enc_u32(&pe, enext);
        }
    }
    if (rc == TS_E_STORE && !t->err)
        rc = store_txn_fail_code(t, TS_E_STORE, "journal record");
    else if (rc == TS_E_NOMEM && !t->err)
        rc = store_txn_fail_code(t, TS_E_NOMEM, "journal fold");
    free(js);
    free(next);
    free(ht);
    free(g);
    free(fv);
    free(evs);
    ts_arena_destroy(arena);
    return rc;
}

/* ------------------------------------------------------------ late events */

#define STORE_REC_LATE 'L'

static size_t late_key(uint8_t *k, const struct store_late *l)
{
    const char *tenant = l->tenant ? l->tenant : "";
    const char *src = l->ev.source ? l->ev.source : "";
    size_t n = put_str0(k, tenant);
    store_be64_time(k + n, l->ev.event_ns);
    n += 8;
    uint64_t off = (uint64_t)l->ev.offset ^ 0x8000000000000000ULL;
    for (int i = 7; i >= 0; i--)
        k[n + (size_t)(7 - i)] = (uint8_t)(off >> (8 * i));
    n += 8;
    store_be32(k + n, (uint32_t)l->ev.partition ^ 0x80000000u);
    n += 4;
    size_t sl = strlen(src);
    memcpy(k + n, src, sl);
    return n + sl;
}

static void enc_late(struct store_enc *e, const void *obj)
{
    const struct store_late *l = obj;
    store_enc_u8(e, STORE_REC_LATE);
    store_enc_u8(e, STORE_REC_VERSION);
    store_enc_u8(e, l->ev.raw_truncated ? 1 : 0);
    store_enc_u32(e, (uint32_t)l->ev.partition);
    store_enc_i64(e, l->ev.offset);
    store_enc_i64(e, l->ev.event_ns);
    store_enc_i64(e, l->ev.stored_ns);
    store_enc_str(e, l->tenant);
    store_enc_str(e, l->rule_id);
    store_enc_str(e, l->ev.source);
    store_enc_blob(e, l->ev.raw ? l->ev.raw : "", l->ev.raw ? l->ev.raw_len : 0);
}

int store_late_put(struct store_txn *t, const struct store_late *l)
{
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if (!l || !store_str_ok(l->tenant, STORE_TENANT_MAX, false) ||
        !store_str_ok(l->ev.source, STORE_SOURCE_MAX, false) ||
        !store_str_ok(l->rule_id, STORE_STR_MAX, false) || (l->ev.raw_len && !l->ev.raw))
        return TS_E_INVAL;
    struct store_late c = *l;
    c.ev.stored_ns = t->now_ns;
    if (c.ev.raw)
        c.ev.raw_len = raw_cut(c.ev.raw, c.ev.raw_len, t->s->raw_max_bytes, &c.ev.raw_truncated);
    uint8_t k[STORE_KEY_MAX + 1];
    size_t kl = late_key(k, &c);
    return store_put_record(t, t->s->dbi[DB_LATE], k, kl, enc_late, &c, "late event put");
}

int store_late_foreach(struct store_txn *t, const char *tenant, int64_t since_ns,
                       struct ts_arena *arena,
                       int (*fn)(void *ctx, const struct store_late *l), void *ctx)
{
    int rc = store_txn_check_read(t);
    if (rc)
        return rc;
    if (!arena || !fn || (tenant && !store_str_ok(tenant, STORE_TENANT_MAX, false)))
        return TS_E_INVAL;
    if (t->s->no_journal_db)
        return 0; /* an old store opened read-only: no late events kept */
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_LATE], &c)) != 0)
        return store_txn_fail(t, rc, "late cursor");
    uint8_t k[STORE_KEY_MAX + 1];
    size_t pl = tenant ? put_str0(k, tenant) : 0;
    MDB_val kv = {pl, k}, v;
    int out = 0;
    for (rc = pl ? mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE) : mdb_cursor_get(c, &kv, &v, MDB_FIRST);
         rc == 0 && !out; rc = mdb_cursor_get(c, &kv, &v, MDB_NEXT)) {
        if (pl && (kv.mv_size < pl || memcmp(kv.mv_data, k, pl) != 0))
            break;
        struct store_dec d = {v.mv_data, v.mv_size, 0, arena, 0};
        struct store_late l;
        memset(&l, 0, sizeof(l));
        store_dec_header(&d, STORE_REC_LATE);
        l.ev.raw_truncated = store_dec_u8(&d) & 1;
        l.ev.partition = (int32_t)store_dec_u32(&d);
        l.ev.offset = store_dec_i64(&d);
        l.ev.event_ns = store_dec_i64(&d);
        l.ev.stored_ns = store_dec_i64(&d);
        l.tenant = store_dec_blob(&d, NULL);
        l.rule_id = store_dec_blob(&d, NULL);
        l.ev.source = store_dec_blob(&d, NULL);
        l.ev.raw = store_dec_blob(&d, &l.ev.raw_len);
        l.ev.late = true;
        if (d.err) {
            out = d.err == TS_E_NOMEM ? TS_E_NOMEM : TS_E_STORE;
            break;
        }
        if (since_ns && l.ev.event_ns < since_ns)
            continue;
        out = fn(ctx, &l);
    }
    mdb_cursor_close(c);
    if (!out && rc != 0 && rc != MDB_NOTFOUND)
        out = store_txn_fail(t, rc, "late cursor");
    return out;
}
