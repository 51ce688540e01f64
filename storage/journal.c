/* journal.c - journal mode: the map of incidents with journal records not
 * yet folded, the transaction hooks that keep it right (staged changes die
 * with an aborted txn; another process's fold empties it), and the fold
 * driver. incident.c writes the records and applies them; the format is in
 * docs/storage.md ("The incident journal"). The map and the counters are
 * used only by the thread holding the write txn. */
#include <errno.h>
#include <stdlib.h>

#include "store_int.h"

static struct jent *jm_find(const struct jmap *m, const char *id)
{
    if (!m->cap)
        return NULL;
    for (size_t i = store_id_hash(id) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct jent *e = &m->e[i];
        if (!e->id)
            return NULL;
        if (strcmp(e->id, id) == 0)
            return e;
    }
}

static int jm_grow(struct jmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    struct jent *ne = calloc(ncap, sizeof(*ne));
    if (!ne)
        return TS_E_NOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].id)
            continue;
        size_t j = store_id_hash(m->e[i].id) & (ncap - 1);
        while (ne[j].id)
            j = (j + 1) & (ncap - 1);
        ne[j] = m->e[i];
    }
    free(m->e);
    m->e = ne;
    m->cap = ncap;
    return 0;
}

static struct jent *jm_insert(struct jmap *m, const char *id)
{
    struct jent *e = jm_find(m, id);
    if (e)
        return e;
    if ((m->n + 1) * 2 > m->cap && jm_grow(m) != 0)
        return NULL;
    size_t i = store_id_hash(id) & (m->cap - 1);
    while (m->e[i].id)
        i = (i + 1) & (m->cap - 1);
    if (!(m->e[i].id = strdup(id)))
        return NULL;
    m->n++;
    return &m->e[i];
}

static void jm_clear(struct jmap *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->e[i].id);
        free(m->e[i].rec);
        free(m->e[i].stg);
    }
    if (m->cap)
        memset(m->e, 0, m->cap * sizeof(*m->e));
    m->n = 0;
}

void store_journal_free(struct store *s)
{
    jm_clear(&s->jm);
    free(s->jm.e);
    ts_buf_free(&s->jbuf);
}

const uint8_t *store_jmap_get(struct store *s, const char *id, size_t *len)
{
    const struct jent *e = jm_find(&s->jm, id);
    if (!e)
        return NULL;
    if (e->has_stg && e->stg_gen == s->jgen) {
        *len = e->stg_len;
        return e->stg;
    }
    if (s->jfold_open || !e->has_rec) /* folded in this txn: the database has it */
        return NULL;
    *len = e->len;
    return e->rec;
}

int store_jmap_stage(struct store *s, const char *id, const uint8_t *rec, size_t len)
{
    struct jent *e = jm_insert(&s->jm, id);
    if (!e)
        return TS_E_NOMEM;
    if (len > e->stg_cap) { /* the staged buffer is reused txn after txn */
        size_t nc = len < 256 ? 256 : len + len / 4;
        uint8_t *n = realloc(e->stg, nc);
        if (!n)
            return TS_E_NOMEM;
        e->stg = n;
        e->stg_cap = nc;
    }
    memcpy(e->stg, rec, len);
    e->stg_len = len;
    e->stg_gen = s->jgen;
    e->has_stg = true;
    s->jstaged = true;
    return 0;
}

int store_journal_append(struct store_txn *t, const void *rec, size_t len)
{
    struct store *s = t->s;
    uint8_t k[8];
    uint64_t seq = s->jseq;
    for (int i = 7; i >= 0; i--) {
        k[i] = (uint8_t)seq;
        seq >>= 8;
    }
    MDB_val kv = {8, k}, v = {len, (void *)rec};
    int rc = mdb_put(t->txn, s->dbi[DB_JOURNAL], &kv, &v, MDB_APPEND);
    if (rc)
        return store_txn_fail(t, rc, "journal put");
    s->jseq++;
    s->jops_txn++;
    s->jbytes_txn += len;
    return 0;
}

static int fold_gen_get(struct store_txn *t, uint64_t *g)
{
    MDB_val k = {8, (void *)"fold_gen"}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DB_META], &k, &v);
    *g = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_txn_fail(t, rc, "meta get");
    if (v.mv_size != 8)
        return store_txn_fail_code(t, TS_E_STORE, "meta fold_gen");
    const uint8_t *p = v.mv_data;
    for (int i = 7; i >= 0; i--)
        *g = *g << 8 | p[i];
    return 0;
}

static bool journal_empty(struct store_txn *t)
{
    MDB_stat st;
    return mdb_stat(t->txn, t->s->dbi[DB_JOURNAL], &st) != 0 || st.ms_entries == 0;
}

int store_journal_on_begin(struct store_txn *t)
{
    struct store *s = t->s;
    if (s->no_journal_db)
        return 0;
    if (!s->journal)
        return journal_empty(t) ? 0 : store_journal_fold_txn(t);
    s->jgen++;
    s->jstaged = false;
    s->jfold_open = false;
    s->jops_txn = s->jbytes_txn = 0;
    uint64_t g;
    int rc = fold_gen_get(t, &g);
    if (rc)
        return rc;
    if (g != s->fold_gen_seen) { /* another process folded everything */
        jm_clear(&s->jm);
        s->fold_gen_seen = g;
        s->jops = s->jbytes = 0;
        s->jfirst_ns = 0;
    }
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, s->dbi[DB_JOURNAL], &c)) != 0)
        return store_txn_fail(t, rc, "journal cursor");
    MDB_val k, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    mdb_cursor_close(c);
    if (rc == 0 && k.mv_size == 8) {
        uint64_t last = 0;
        for (int i = 0; i < 8; i++)
            last = last << 8 | ((const uint8_t *)k.mv_data)[i];
        s->jseq = last + 1;
    } else if (rc && rc != MDB_NOTFOUND) {
        return store_txn_fail(t, rc, "journal last");
    }
    return 0;
}

static void journal_end(struct store_txn *t, bool committed);

void store_journal_on_end(struct store_txn *t, bool committed)
{
    journal_end(t, committed);
    pthread_mutex_unlock(&t->s->jmu);
}

static void journal_end(struct store_txn *t, bool committed)
{
    struct store *s = t->s;
    if (!s->journal)
        return;
    struct jmap *m = &s->jm;
    /* staged in this txn: stg_gen == jgen (after any fold of the txn) or 0
     * (before it: folded with the rest). Buffers swap instead of being
     * freed: the next txn reuses them. */
    for (size_t i = 0; i < m->cap && (s->jstaged || t->jfolded); i++) {
        struct jent *e = &m->e[i];
        if (!e->id)
            continue;
        if (committed && t->jfolded)
            e->has_rec = false;
        if (committed && e->has_stg && e->stg_gen == s->jgen) {
            uint8_t *b = e->rec;
            size_t c = e->rec_cap;
            e->rec = e->stg;
            e->rec_cap = e->stg_cap;
            e->len = e->stg_len;
            e->has_rec = true;
            e->stg = b;
            e->stg_cap = c;
        }
        e->has_stg = false;
        e->stg_gen = 0;
    }
    if (committed) {
        if (t->jfolded) {
            s->fold_gen_seen = t->jfold_gen;
            s->jops = s->jbytes = 0;
            s->jfirst_ns = 0;
            s->folds++;
        }
        if (s->jops_txn && !s->jfirst_ns)
            s->jfirst_ns = t->now_ns;
        s->jops += s->jops_txn;
        s->jbytes += s->jbytes_txn;
    }
    s->jstaged = false;
    s->jops_txn = s->jbytes_txn = 0;
    s->jfold_open = false;
}

int store_journal_fold_txn(struct store_txn *t)
{
    struct store *s = t->s;
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if (s->no_journal_db || journal_empty(t))
        return 0;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, s->dbi[DB_JOURNAL], &c)) != 0)
        return store_txn_fail(t, rc, "journal cursor");
    MDB_val *recs = NULL;
    size_t n = 0, cap = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 4096;
            MDB_val *nr = realloc(recs, nc * sizeof(*nr));
            if (!nr) {
                rc = ENOMEM;
                break;
            }
            recs = nr;
            cap = nc;
        }
        recs[n++] = v;
    }
    mdb_cursor_close(c);
    if (rc == ENOMEM) {
        free(recs);
        return store_txn_fail_code(t, TS_E_NOMEM, "journal fold");
    }
    if (rc != MDB_NOTFOUND) {
        free(recs);
        return store_txn_fail(t, rc, "journal read");
    }
    /* the values point into the journal's pages, untouched until the drop */
    rc = store_incident_fold(t, recs, n);
    free(recs);
    if (rc)
        return rc;
    if ((rc = mdb_drop(t->txn, s->dbi[DB_JOURNAL], 0)) != 0)
        return store_txn_fail(t, rc, "journal drop");
    uint64_t g;
    if ((rc = fold_gen_get(t, &g)) != 0)
        return rc;
    g++;
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(g >> (8 * i));
    MDB_val mk = {8, (void *)"fold_gen"}, mv = {8, b};
    if ((rc = mdb_put(t->txn, s->dbi[DB_META], &mk, &mv, 0)) != 0)
        return store_txn_fail(t, rc, "meta put");
    t->jfolded = true;
    t->jfold_gen = g;
    s->jfold_open = s->journal;
    /* what this txn staged so far is folded now: mark it (gen 0 = folded) */
    for (size_t i = 0; s->journal && i < s->jm.cap; i++)
        if (s->jm.e[i].id && s->jm.e[i].has_stg && s->jm.e[i].stg_gen == s->jgen)
            s->jm.e[i].stg_gen = 0;
    return 0;
}

int store_journal_settle(struct store_txn *t)
{
    if (!t->s->journal || t->rdonly)
        return 0;
    return store_journal_fold_txn(t);
}

static int fold_cb(struct store_txn *t, void *ctx)
{
    (void)ctx;
    return store_journal_fold_txn(t);
}

int store_journal_fold(struct store *s, struct ts_err *err)
{
    if (!s || s->read_only)
        return TS_E_INVAL;
    return store_txn_run(s, fold_cb, NULL, err);
}

int store_journal_enable(struct store *s, struct ts_err *err)
{
    if (!s || s->read_only || s->no_journal_db)
        return TS_E_INVAL;
    s->journal = true;
    return store_journal_fold(s, err);
}

void store_journal_stats(struct store *s, struct store_journal_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->jmu);
    out->pending_records = s->jops;
    out->pending_bytes = s->jbytes;
    out->pending_incidents = s->jm.n;
    out->folds = s->folds;
    out->oldest_ns = s->jfirst_ns;
    pthread_mutex_unlock(&s->jmu);
}
