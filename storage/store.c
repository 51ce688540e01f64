/* store.c - the LMDB environment, transactions, map growth, error
 * translation, the schema record, input offsets and correlation state.
 *
 * Ownership: a store owns its MDB_env and path; a store_txn owns its
 * MDB_txn until commit/abort, which free it.
 * Threads: see storage.h. The active-txn count (mu/cv) lets a growth remap
 * the file only when no transaction of the process can be reading it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/tstime.h"
#include "store_int.h"

#define MIB ((size_t)1 << 20)
#define GIB ((size_t)1 << 30)
#define DEFAULT_MAP (256 * MIB)
#define DEFAULT_MAP_MAX (64 * GIB)
#define RUN_RETRIES 16

const char *const store_db_names[DB_COUNT] = {
    "meta",     "incidents", "inc_time",  "inc_tenant", "inc_status", "evidence",
    "ev_time",  "corr_state", "offsets",  "outbox",     "outbox_due", "ev_raw",
    "journal",  "late",      "counters",
};

const char *store_strerror(int code)
{
    if (code == STORE_E_RETRY)
        return "storage map was full and has grown: redo the transaction";
    return ts_strerror(code);
}

int store_mdb_code(int rc)
{
    switch (rc) {
    case 0: return 0;
    case MDB_NOTFOUND: return TS_E_NOTFOUND;
    case MDB_KEYEXIST: return TS_E_INVAL;
    case MDB_BAD_VALSIZE: return TS_E_INVAL;
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_DBS_FULL:
    case MDB_MAP_FULL: return TS_E_LIMIT;
    case ENOMEM: return TS_E_NOMEM;
    case EIO:
    case ENOSPC:
    case EACCES:
    case ENOENT:
    case EROFS: return TS_E_IO;
    default: return TS_E_STORE;
    }
}

/* ------------------------------------------------------------ txn errors */

static void txn_record(struct store_txn *t, int code, const char *what, const char *msg)
{
    if (t->err)
        return;
    t->err = code;
    snprintf(t->errmsg, sizeof(t->errmsg), "%s: %s", what, msg);
}

int store_txn_fail(struct store_txn *t, int rc, const char *what)
{
    int code;
    if (rc == MDB_MAP_FULL) {
        t->map_full = true;
        code = t->map_seen >= t->s->map_max ? TS_E_LIMIT : STORE_E_RETRY;
        if (code == TS_E_LIMIT) {
            char m[128];
            snprintf(m, sizeof(m), "map full at its maximum of %zu bytes (store_opts.map_max)",
                     t->s->map_max);
            txn_record(t, code, what, m);
            return t->err;
        }
    } else {
        code = store_mdb_code(rc);
    }
    txn_record(t, code, what, mdb_strerror(rc));
    return t->err;
}

int store_txn_fail_code(struct store_txn *t, int code, const char *what)
{
    txn_record(t, code, what, ts_strerror(code));
    return t->err;
}

int store_txn_check_write(struct store_txn *t)
{
    if (!t || t->rdonly)
        return TS_E_INVAL;
    return t->err;
}

int store_txn_check_read(struct store_txn *t)
{
    if (!t)
        return TS_E_INVAL;
    return t->err;
}

int store_txn_error(const struct store_txn *t) { return t ? t->err : TS_E_INVAL; }
const char *store_txn_errmsg(const struct store_txn *t) { return t ? t->errmsg : ""; }
int64_t store_txn_now(const struct store_txn *t) { return t->now_ns; }
void store_txn_set_now(struct store_txn *t, int64_t now_ns) { t->now_ns = now_ns; }

/* ------------------------------------------------------------------ open */

static int mkdir_p(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    char tmp[4096];
    size_t n = strlen(path);
    if (n >= sizeof(tmp))
        return ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return errno;
    return 0;
}

static size_t page_round(size_t n)
{
    long ps = sysconf(_SC_PAGESIZE);
    size_t p = ps > 0 ? (size_t)ps : 4096;
    return (n + p - 1) / p * p;
}

static int open_dbs(struct store *s, struct ts_err *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
    if (rc)
        return ts_err_set(err, store_mdb_code(rc), s->path, 0, 0, "cannot begin: %s",
                          mdb_strerror(rc));
    bool counters_new = false; /* the counters database is created now */
    for (int i = 0; i < DB_COUNT; i++) {
        if (i == DB_COUNTERS && !s->read_only &&
            mdb_dbi_open(txn, store_db_names[i], 0, &s->dbi[i]) == MDB_NOTFOUND)
            counters_new = true;
        rc = mdb_dbi_open(txn, store_db_names[i], s->read_only ? 0 : MDB_CREATE, &s->dbi[i]);
        if (rc == MDB_NOTFOUND && i == DB_COUNTERS) {
            /* read-only, written before per-period counters: none to read */
            s->no_counters_db = true;
            rc = 0;
            continue;
        }
        if (rc == MDB_NOTFOUND && (i == DB_JOURNAL || i == DB_LATE)) {
            /* a schema-2 store opened read-only: no journal to fold */
            s->no_journal_db = true;
            rc = 0;
            continue;
        }
        if (rc) {
            mdb_txn_abort(txn);
            if (rc == MDB_NOTFOUND)
                return ts_err_set(err, TS_E_STORE, s->path, 0, 0,
                                  "not a Tocsin store: no database \"%s\"", store_db_names[i]);
            return ts_err_set(err, store_mdb_code(rc), s->path, 0, 0,
                              "cannot open database \"%s\": %s", store_db_names[i],
                              mdb_strerror(rc));
        }
    }
    MDB_val k = {6, (void *)"schema"}, v;
    rc = mdb_get(txn, s->dbi[DB_META], &k, &v);
    bool had_schema = rc == 0;
    if (rc == MDB_NOTFOUND && !s->read_only) {
        uint8_t b[4];
        uint32_t ver = STORE_SCHEMA_VERSION;
        for (int i = 0; i < 4; i++)
            b[i] = (uint8_t)(ver >> (8 * i));
        v.mv_size = 4;
        v.mv_data = b;
        rc = mdb_put(txn, s->dbi[DB_META], &k, &v, 0);
    } else if (rc == 0) {
        const uint8_t *b = v.mv_data;
        uint32_t ver = v.mv_size == 4 ? (uint32_t)b[0] | (uint32_t)b[1] << 8 |
                                            (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24
                                      : 0;
        if (ver != STORE_SCHEMA_VERSION) {
            mdb_txn_abort(txn);
            return ts_err_set(err, TS_E_STORE, s->path, 0, 0,
                              "schema version %u, this build reads version %u (replay the "
                              "input into a new directory)", ver, STORE_SCHEMA_VERSION);
        }
    } else if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return ts_err_set(err, TS_E_STORE, s->path, 0, 0, "not a Tocsin store: no schema record");
    }
    if (rc) {
        mdb_txn_abort(txn);
        return ts_err_set(err, store_mdb_code(rc), s->path, 0, 0, "schema record: %s",
                          mdb_strerror(rc));
    }
    /* Counters that begin on a store which already held data (written by
     * an older build): the time they begin, so that a summary of an earlier
     * period says its counts are partial. A new store counts from its start. */
    MDB_val ck = {15, (void *)"counters_since"}, cv;
    if (counters_new && had_schema) {
        uint8_t b[8];
        uint64_t now = (uint64_t)ts_now_ns();
        for (int i = 0; i < 8; i++)
            b[i] = (uint8_t)(now >> (8 * i));
        cv.mv_size = 8;
        cv.mv_data = b;
        rc = mdb_put(txn, s->dbi[DB_META], &ck, &cv, 0);
    }
    if (!rc && mdb_get(txn, s->dbi[DB_META], &ck, &cv) == 0 && cv.mv_size == 8) {
        uint64_t since = 0;
        for (int i = 7; i >= 0; i--)
            since = since << 8 | ((const uint8_t *)cv.mv_data)[i];
        s->counters_since = (int64_t)since;
    }
    if (rc) {
        mdb_txn_abort(txn);
        return ts_err_set(err, store_mdb_code(rc), s->path, 0, 0, "counters record: %s",
                          mdb_strerror(rc));
    }
    rc = mdb_txn_commit(txn);
    if (rc)
        return ts_err_set(err, store_mdb_code(rc), s->path, 0, 0, "cannot commit: %s",
                          mdb_strerror(rc));
    return 0;
}

int store_open(struct store **out, const struct store_opts *o, struct ts_err *err)
{
    *out = NULL;
    if (!o || !o->path || !*o->path)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "storage: no path given");
    struct store *s = calloc(1, sizeof(*s));
    if (!s)
        return ts_err_set(err, TS_E_NOMEM, o->path, 0, 0, "out of memory");
    s->path = strdup(o->path);
    if (!s->path) {
        free(s);
        return ts_err_set(err, TS_E_NOMEM, o->path, 0, 0, "out of memory");
    }
    s->read_only = o->read_only;
    s->evidence_max = o->evidence_max ? o->evidence_max : 10000;
    s->evidence_raw_max = o->evidence_raw_max ? o->evidence_raw_max : 20;
    s->raw_max_bytes = o->raw_max_bytes ? o->raw_max_bytes : 8192;
    size_t map = page_round(o->map_size ? o->map_size : DEFAULT_MAP);
    s->map_max = o->map_max ? page_round(o->map_max) : DEFAULT_MAP_MAX;
    if (s->map_max < map)
        s->map_max = map;
    ts_buf_init(&s->scratch, STORE_STATE_VAL_MAX + (8u << 20));
    ts_buf_init(&s->evbuf, 4u << 20);
    ts_buf_init(&s->jbuf, 64u << 20);
    pthread_mutex_init(&s->jmu, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    atomic_init(&s->growths, 0);

    int rc;
    if (o->read_only) {
        struct stat st;
        char f[4200];
        snprintf(f, sizeof(f), "%s/data.mdb", o->path);
        if (stat(f, &st) != 0) {
            ts_err_set(err, TS_E_NOTFOUND, o->path, 0, 0, "no store here (%s)", strerror(errno));
            store_close(s);
            return TS_E_NOTFOUND;
        }
    } else if ((rc = mkdir_p(o->path)) != 0) {
        ts_err_set(err, TS_E_IO, o->path, 0, 0, "cannot create directory: %s", strerror(rc));
        store_close(s);
        return TS_E_IO;
    }
    rc = mdb_env_create(&s->env);
    if (rc) {
        ts_err_set(err, store_mdb_code(rc), o->path, 0, 0, "%s", mdb_strerror(rc));
        store_close(s);
        return store_mdb_code(rc);
    }
    unsigned flags = MDB_NOTLS | (o->read_only ? MDB_RDONLY : 0) | (o->no_sync ? MDB_NOSYNC : 0);
    if ((rc = mdb_env_set_maxdbs(s->env, DB_COUNT + 4)) ||
        (rc = mdb_env_set_maxreaders(s->env, o->max_readers ? o->max_readers : 512)) ||
        (rc = mdb_env_set_mapsize(s->env, map)) ||
        (rc = mdb_env_open(s->env, o->path, flags, 0600))) {
        int code = store_mdb_code(rc);
        ts_err_set(err, code, o->path, 0, 0, "cannot open the LMDB environment: %s",
                   mdb_strerror(rc));
        store_close(s);
        return code;
    }
    /* The environment may hold more than map: LMDB raised the size to what
     * is used; keep map_max above it. */
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    if (s->map_max < info.me_mapsize)
        s->map_max = info.me_mapsize;
    if ((rc = open_dbs(s, err)) != 0) {
        store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    if (s->env)
        mdb_env_close(s->env);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    ts_buf_free(&s->scratch);
    ts_buf_free(&s->evbuf);
    store_journal_free(s);
    pthread_mutex_destroy(&s->jmu);
    free(s->path);
    free(s);
}

void store_map_info(struct store *s, struct store_map_info *out)
{
    MDB_envinfo info;
    MDB_stat st;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->mu); /* as store_map_size: not during a remap */
    int rc = mdb_env_info(s->env, &info);
    rc = rc ? rc : mdb_env_stat(s->env, &st);
    pthread_mutex_unlock(&s->mu);
    if (rc)
        return;
    out->map_size = info.me_mapsize;
    out->map_max = s->map_max;
    out->page_size = st.ms_psize;
    out->used = (size_t)(info.me_last_pgno + 1) * st.ms_psize;
    out->readers = info.me_numreaders;
    out->max_readers = info.me_maxreaders;
}

size_t store_map_size(struct store *s)
{
    MDB_envinfo info;
    pthread_mutex_lock(&s->mu);
    mdb_env_info(s->env, &info);
    pthread_mutex_unlock(&s->mu);
    return info.me_mapsize;
}

uint64_t store_map_growths(const struct store *s) { return atomic_load(&s->growths); }

/* ----------------------------------------------------------- txn gating */

static void gate_enter(struct store *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->growing)
        pthread_cond_wait(&s->cv, &s->mu);
    s->active++;
    pthread_mutex_unlock(&s->mu);
}

static void gate_leave(struct store *s)
{
    pthread_mutex_lock(&s->mu);
    s->active--;
    if (s->active == 0)
        pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Remap once no txn of the process is open. new_size 0 adopts the size
 * another process set (MDB_MAP_RESIZED). With seen != 0, grow only when the
 * map still has that size (another thread may have grown it already). */
static void map_resize(struct store *s, size_t seen, size_t new_size)
{
    pthread_mutex_lock(&s->mu);
    while (s->growing)
        pthread_cond_wait(&s->cv, &s->mu);
    s->growing = true;
    while (s->active > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    if (new_size == 0 || info.me_mapsize == seen) {
        int rc = mdb_env_set_mapsize(s->env, new_size);
        if (rc == 0 && new_size)
            atomic_fetch_add(&s->growths, 1);
    }
    s->growing = false;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void grow_after(struct store_txn *t)
{
    struct store *s = t->s;
    if (!t->map_full || t->map_seen >= s->map_max)
        return;
    size_t step = t->map_seen < GIB ? t->map_seen : GIB;
    size_t n = t->map_seen + step;
    if (n > s->map_max || n < t->map_seen)
        n = s->map_max;
    map_resize(s, t->map_seen, page_round(n));
}

/* The journal holds records to fold and no other txn of the process is
 * open (t's own counted). */
static bool journal_waiting(struct store_txn *t)
{
    MDB_stat st;
    pthread_mutex_lock(&t->s->mu);
    bool alone = t->s->active == 1;
    pthread_mutex_unlock(&t->s->mu);
    return alone && mdb_stat(t->txn, t->s->dbi[DB_JOURNAL], &st) == 0 && st.ms_entries > 0;
}

int store_txn_begin(struct store *s, unsigned flags, struct store_txn **out)
{
    *out = NULL;
    bool rdonly = flags & STORE_TXN_RDONLY;
    if (!s || (!rdonly && s->read_only))
        return TS_E_INVAL;
    struct store_txn *t = calloc(1, sizeof(*t));
    if (!t)
        return TS_E_NOMEM;
    for (int round = 0;; round++) {
        memset(t, 0, sizeof(*t));
        t->s = s;
        t->rdonly = rdonly;
        for (int attempt = 0;; attempt++) {
            gate_enter(s);
            MDB_envinfo info;
            mdb_env_info(s->env, &info);
            t->map_seen = info.me_mapsize;
            int rc = mdb_txn_begin(s->env, NULL, rdonly ? MDB_RDONLY : 0, &t->txn);
            if (rc == 0)
                break;
            gate_leave(s);
            if (rc == MDB_MAP_RESIZED && attempt < 4) {
                map_resize(s, 0, 0);
                continue;
            }
            free(t);
            return store_mdb_code(rc);
        }
        t->now_ns = ts_now_ns();
        if (rdonly)
            break;
        pthread_mutex_lock(&s->jmu); /* released by store_journal_on_end */
        /* journal upkeep; folding another process's journal may fill the
         * map: grow and begin again */
        int rc = store_journal_on_begin(t);
        if (rc == 0)
            break;
        store_journal_on_end(t, false);
        mdb_txn_abort(t->txn);
        gate_leave(s);
        grow_after(t);
        if (rc != STORE_E_RETRY || round >= RUN_RETRIES) {
            free(t);
            return rc;
        }
    }
    if (rdonly && !(flags & STORE_TXN_NOFOLD) && !s->journal && !s->read_only &&
        !s->no_journal_db && journal_waiting(t)) {
        /* a reader in another process than the engine: fold the engine's
         * journal first, then read (only when no other txn of this
         * process is open: a write must not wait for our own reader) */
        mdb_txn_abort(t->txn);
        gate_leave(s);
        free(t);
        struct ts_err ferr = {0};
        int rc = store_journal_fold(s, &ferr);
        if (rc)
            return rc;
        return store_txn_begin(s, flags | STORE_TXN_NOFOLD, out);
    }
    *out = t;
    return 0;
}

void store_txn_abort(struct store_txn *t)
{
    if (!t)
        return;
    if (!t->rdonly)
        store_journal_on_end(t, false);
    mdb_txn_abort(t->txn);
    gate_leave(t->s);
    grow_after(t);
    free(t);
}

int store_txn_commit(struct store_txn *t, struct ts_err *err)
{
    if (!t)
        return TS_E_INVAL;
    struct store *s = t->s;
    int code = t->err;
    if (code) {
        ts_err_set(err, code, s->path, 0, 0, "%s", t->errmsg);
        store_txn_abort(t);
        return code;
    }
    int rc = mdb_txn_commit(t->txn); /* frees the MDB_txn, also on failure */
    if (rc)
        code = store_txn_fail(t, rc, "commit");
    if (!t->rdonly)
        store_journal_on_end(t, code == 0);
    gate_leave(s);
    if (code) {
        ts_err_set(err, code, s->path, 0, 0, "%s", t->errmsg);
        grow_after(t);
    }
    free(t);
    return code;
}

int store_txn_run(struct store *s, int (*fn)(struct store_txn *t, void *ctx), void *ctx,
                  struct ts_err *err)
{
    int rc = 0;
    for (int i = 0; i < RUN_RETRIES; i++) {
        struct store_txn *t;
        if ((rc = store_txn_begin(s, 0, &t)) != 0)
            return ts_err_set(err, rc, s->path, 0, 0, "cannot begin a transaction: %s",
                              store_strerror(rc));
        rc = fn(t, ctx);
        if (rc) {
            if (rc != STORE_E_RETRY)
                ts_err_set(err, rc, s->path, 0, 0, "%s",
                           t->err == rc ? t->errmsg : store_strerror(rc));
            store_txn_abort(t);
            if (rc == STORE_E_RETRY)
                continue;
            return rc;
        }
        struct ts_err cerr = {0};
        rc = store_txn_commit(t, &cerr);
        if (rc != STORE_E_RETRY) {
            if (rc && err && !err->code)
                *err = cerr;
            return rc;
        }
    }
    return rc;
}

/* ------------------------------------------------------------- helpers */

int store_put_record(struct store_txn *t, MDB_dbi dbi, const void *key, size_t klen,
                     void (*enc)(struct store_enc *e, const void *obj), const void *obj,
                     const char *what)
{
    struct store_enc e = {NULL, 0};
    enc(&e, obj);
    MDB_val k = {klen, (void *)key}, v = {e.len, NULL};
    int rc = mdb_put(t->txn, dbi, &k, &v, MDB_RESERVE);
    if (rc)
        return store_txn_fail(t, rc, what);
    struct store_enc w = {v.mv_data, 0};
    enc(&w, obj);
    return 0;
}

/* The value of key in dbi as LMDB maps it (valid until the txn ends or
 * writes); TS_E_NOTFOUND, or the txn failed naming what. */
static int get_view(struct store_txn *t, MDB_dbi dbi, const void *key, size_t klen,
                    MDB_val *v, const char *what)
{
    MDB_val k = {klen, (void *)key};
    int rc = mdb_get(t->txn, dbi, &k, v);
    if (rc == MDB_NOTFOUND)
        return TS_E_NOTFOUND;
    return rc ? store_txn_fail(t, rc, what) : 0;
}

int store_get_copy(struct store_txn *t, MDB_dbi dbi, const void *key, size_t klen,
                   const uint8_t **p, size_t *n, const char *what)
{
    MDB_val v;
    int rc = get_view(t, dbi, key, klen, &v, what);
    if (rc)
        return rc;
    ts_buf_reset(&t->s->scratch);
    if (ts_buf_append(&t->s->scratch, v.mv_data, v.mv_size) != 0)
        return store_txn_fail_code(t, TS_E_NOMEM, what);
    *p = (const uint8_t *)t->s->scratch.data;
    *n = v.mv_size;
    return 0;
}

/* --------------------------------------------------------------- decoder */

static bool dec_need(struct store_dec *d, size_t n)
{
    if (d->err)
        return false;
    if (d->len - d->off < n) {
        d->err = TS_E_STORE;
        return false;
    }
    return true;
}

uint8_t store_dec_u8(struct store_dec *d)
{
    if (!dec_need(d, 1))
        return 0;
    return d->p[d->off++];
}

uint32_t store_dec_u32(struct store_dec *d)
{
    if (!dec_need(d, 4))
        return 0;
    const uint8_t *b = d->p + d->off;
    d->off += 4;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

uint64_t store_dec_u64(struct store_dec *d)
{
    if (!dec_need(d, 8))
        return 0;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | d->p[d->off + (size_t)i];
    d->off += 8;
    return v;
}

int64_t store_dec_i64(struct store_dec *d) { return (int64_t)store_dec_u64(d); }

const char *store_dec_blob(struct store_dec *d, size_t *n)
{
    if (n)
        *n = 0;
    uint32_t len = store_dec_u32(d);
    if (!dec_need(d, (size_t)len + 1))
        return "";
    const char *s = (const char *)d->p + d->off;
    if (s[len] != 0) {
        d->err = TS_E_STORE;
        return "";
    }
    d->off += (size_t)len + 1;
    if (n)
        *n = len;
    if (!d->arena)
        return s;
    char *c = ts_arena_strndup(d->arena, s, len);
    if (!c) {
        d->err = TS_E_NOMEM;
        return "";
    }
    return c;
}

void store_dec_header(struct store_dec *d, uint8_t magic)
{
    uint8_t m = store_dec_u8(d), v = store_dec_u8(d);
    if (!d->err && (m != magic || v != STORE_REC_VERSION))
        d->err = TS_E_STORE;
}

/* --------------------------------------------------------------- offsets */

static int offset_key(uint8_t *k, const char *source, int32_t partition, size_t *klen)
{
    if (!store_str_ok(source, STORE_SOURCE_MAX, true))
        return TS_E_INVAL;
    size_t n = strlen(source);
    memcpy(k, source, n);
    k[n] = 0;
    store_be32(k + n + 1, (uint32_t)partition ^ 0x80000000u);
    *klen = n + 5;
    return 0;
}

int store_offset_put(struct store_txn *t, const char *source, int32_t partition, int64_t offset)
{
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    uint8_t k[STORE_KEY_MAX + 1];
    size_t klen;
    if ((rc = offset_key(k, source, partition, &klen)) != 0)
        return rc;
    struct store_enc e = {NULL, 0};
    uint8_t b[18];
    e.p = b;
    store_enc_u8(&e, STORE_REC_OFFSET);
    store_enc_u8(&e, STORE_REC_VERSION);
    store_enc_i64(&e, offset);
    store_enc_i64(&e, t->now_ns);
    MDB_val kv = {klen, k}, vv = {e.len, b};
    rc = mdb_put(t->txn, t->s->dbi[DB_OFFSETS], &kv, &vv, 0);
    return rc ? store_txn_fail(t, rc, "offset put") : 0;
}

static int offset_decode(const MDB_val *v, int64_t *offset, int64_t *updated)
{
    struct store_dec d = {v->mv_data, v->mv_size, 0, NULL, 0};
    store_dec_header(&d, STORE_REC_OFFSET);
    int64_t o = store_dec_i64(&d), u = store_dec_i64(&d);
    if (d.err)
        return d.err;
    *offset = o;
    if (updated)
        *updated = u;
    return 0;
}

int store_offset_read(struct store_txn *t, const char *source, int32_t partition,
                      int64_t *offset)
{
    int rc = store_txn_check_read(t);
    if (rc)
        return rc;
    uint8_t k[STORE_KEY_MAX + 1];
    size_t klen;
    if ((rc = offset_key(k, source, partition, &klen)) != 0)
        return rc;
    MDB_val kv = {klen, k}, v;
    rc = mdb_get(t->txn, t->s->dbi[DB_OFFSETS], &kv, &v);
    if (rc == MDB_NOTFOUND)
        return TS_E_NOTFOUND;
    if (rc)
        return store_txn_fail(t, rc, "offset get");
    return offset_decode(&v, offset, NULL);
}

int store_offset_get(struct store *s, const char *source, int32_t partition, int64_t *offset)
{
    struct store_txn *t;
    int rc = store_txn_begin(s, STORE_TXN_RDONLY, &t);
    if (rc)
        return rc;
    rc = store_offset_read(t, source, partition, offset);
    store_txn_abort(t);
    return rc;
}

int store_offset_foreach(struct store_txn *t,
                         int (*fn)(void *ctx, const char *source, int32_t partition,
                                   int64_t offset, int64_t updated_ns),
                         void *ctx)
{
    int rc = store_txn_check_read(t);
    if (rc)
        return rc;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_OFFSETS], &c)) != 0)
        return store_txn_fail(t, rc, "offset cursor");
    MDB_val k, v;
    int out = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        char src[STORE_SOURCE_MAX + 1];
        if (k.mv_size < 6 || k.mv_size - 5 > STORE_SOURCE_MAX) {
            out = TS_E_STORE;
            break;
        }
        size_t n = k.mv_size - 5;
        memcpy(src, k.mv_data, n);
        src[n] = 0;
        int32_t part = (int32_t)(store_get_be32((const uint8_t *)k.mv_data + n + 1) ^ 0x80000000u);
        int64_t off, upd;
        if ((out = offset_decode(&v, &off, &upd)) != 0)
            break;
        if ((out = fn(ctx, src, part, off, upd)) != 0)
            break;
    }
    mdb_cursor_close(c);
    if (!out && rc != MDB_NOTFOUND)
        out = store_txn_fail(t, rc, "offset cursor");
    return out;
}

/* ----------------------------------------------------- correlation state */

/* Names live in meta under "n/" so that they never meet the store's own
 * records ("schema", "counters_since", "fold_gen"). */
static int name_key(const char *name, char *key, size_t cap)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64 || n + 3 > cap)
        return TS_E_INVAL;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_' || name[i] == '.'))
            return TS_E_INVAL;
    memcpy(key, "n/", 2);
    memcpy(key + 2, name, n + 1);
    return 0;
}

int store_name_put(struct store_txn *t, const char *name, const void *val, size_t vlen)
{
    char key[72];
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if (name_key(name, key, sizeof(key)) != 0 || vlen > STORE_NAME_VAL_MAX || (vlen && !val))
        return TS_E_INVAL;
    MDB_val k = {strlen(key), key}, v = {vlen, (void *)val};
    rc = mdb_put(t->txn, t->s->dbi[DB_META], &k, &v, 0);
    return rc ? store_txn_fail(t, rc, "name put") : 0;
}

int store_name_get(struct store_txn *t, const char *name, const void **val, size_t *vlen)
{
    char key[72];
    int rc = store_txn_check_read(t);
    if (rc)
        return rc;
    if (name_key(name, key, sizeof(key)) != 0)
        return TS_E_INVAL;
    MDB_val v;
    rc = get_view(t, t->s->dbi[DB_META], key, strlen(key), &v, "name get");
    if (rc)
        return rc;
    *val = v.mv_data;
    *vlen = v.mv_size;
    return 0;
}

/* Aside records: "a/<space>\0<key>" in meta. */
static int aside_key(const char *space, const void *key, size_t klen, bool prefix, uint8_t *out,
                     size_t *n)
{
    char nk[72];
    if (name_key(space, nk, sizeof(nk)) != 0 || klen > STORE_ASIDE_KEY_MAX ||
        (!prefix && klen == 0) || (klen && !key))
        return TS_E_INVAL;
    size_t sl = strlen(nk);
    out[0] = 'a';
    memcpy(out + 1, nk + 1, sl - 1); /* "/<space>" */
    out[sl] = '\0';
    if (klen)
        memcpy(out + sl + 1, key, klen);
    *n = sl + 1 + klen;
    return 0;
}

int store_aside_put(struct store_txn *t, const char *space, const void *key, size_t klen,
                    const void *val, size_t vlen)
{
    uint8_t k[80 + STORE_ASIDE_KEY_MAX];
    size_t n;
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if (aside_key(space, key, klen, false, k, &n) != 0 || vlen > STORE_ASIDE_VAL_MAX ||
        (vlen && !val))
        return TS_E_INVAL;
    MDB_val kv = {n, k}, v = {vlen, (void *)val};
    rc = mdb_put(t->txn, t->s->dbi[DB_META], &kv, &v, 0);
    return rc ? store_txn_fail(t, rc, "aside put") : 0;
}

int store_aside_del(struct store_txn *t, const char *space, const void *key, size_t klen)
{
    uint8_t k[80 + STORE_ASIDE_KEY_MAX];
    size_t n;
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if (aside_key(space, key, klen, false, k, &n) != 0)
        return TS_E_INVAL;
    MDB_val kv = {n, k};
    rc = mdb_del(t->txn, t->s->dbi[DB_META], &kv, NULL);
    if (rc == MDB_NOTFOUND)
        return TS_E_NOTFOUND;
    return rc ? store_txn_fail(t, rc, "aside del") : 0;
}

int store_aside_foreach(struct store_txn *t, const char *space, const void *prefix, size_t plen,
                        int (*fn)(void *ctx, const void *key, size_t klen, const void *val,
                                  size_t vlen),
                        void *ctx)
{
    uint8_t k[80 + STORE_ASIDE_KEY_MAX];
    size_t n;
    int rc = store_txn_check_read(t);
    if (rc)
        return rc;
    if (aside_key(space, prefix, plen, true, k, &n) != 0)
        return TS_E_INVAL;
    size_t head = n - plen; /* "a/<space>\0" */
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_META], &c)) != 0)
        return store_txn_fail(t, rc, "aside cursor");
    MDB_val kv = {n, k}, v;
    int out = 0;
    for (rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &kv, &v, MDB_NEXT)) {
        if (kv.mv_size < n || memcmp(kv.mv_data, k, n) != 0)
            break;
        if ((out = fn(ctx, (const uint8_t *)kv.mv_data + head, kv.mv_size - head, v.mv_data,
                      v.mv_size)) != 0)
            break;
    }
    mdb_cursor_close(c);
    if (!out && rc != 0 && rc != MDB_NOTFOUND)
        out = store_txn_fail(t, rc, "aside cursor");
    return out;
}

int store_state_put(struct store_txn *t, const void *key, size_t klen, const void *val,
                    size_t vlen)
{
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if (!key || klen == 0 || klen > STORE_STATE_KEY_MAX || vlen > STORE_STATE_VAL_MAX ||
        (vlen && !val))
        return TS_E_INVAL;
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    rc = mdb_put(t->txn, t->s->dbi[DB_STATE], &k, &v, 0);
    return rc ? store_txn_fail(t, rc, "state put") : 0;
}

int store_state_del(struct store_txn *t, const void *key, size_t klen)
{
    int rc = store_txn_check_write(t);
    if (rc)
        return rc;
    if (!key || klen == 0 || klen > STORE_STATE_KEY_MAX)
        return TS_E_INVAL;
    MDB_val k = {klen, (void *)key};
    rc = mdb_del(t->txn, t->s->dbi[DB_STATE], &k, NULL);
    if (rc == MDB_NOTFOUND)
        return TS_E_NOTFOUND;
    return rc ? store_txn_fail(t, rc, "state del") : 0;
}

int store_state_get(struct store_txn *t, const void *key, size_t klen, const void **val,
                    size_t *vlen)
{
    int rc = store_txn_check_read(t);
    if (rc)
        return rc;
    if (!key || klen == 0 || klen > STORE_STATE_KEY_MAX)
        return TS_E_INVAL;
    MDB_val v;
    rc = get_view(t, t->s->dbi[DB_STATE], key, klen, &v, "state get");
    if (rc)
        return rc;
    *val = v.mv_data;
    *vlen = v.mv_size;
    return 0;
}

int store_state_foreach(struct store_txn *t, const void *prefix, size_t plen,
                        int (*fn)(void *ctx, const void *key, size_t klen, const void *val,
                                  size_t vlen),
                        void *ctx)
{
    int rc = store_txn_check_read(t);
    if (rc)
        return rc;
    if (plen > STORE_STATE_KEY_MAX || (plen && !prefix))
        return TS_E_INVAL;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_STATE], &c)) != 0)
        return store_txn_fail(t, rc, "state cursor");
    MDB_val k = {plen, (void *)prefix}, v;
    int out = 0;
    for (rc = mdb_cursor_get(c, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (plen && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
            break;
        if ((out = fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size)) != 0)
            break;
    }
    mdb_cursor_close(c);
    if (!out && rc != 0 && rc != MDB_NOTFOUND)
        out = store_txn_fail(t, rc, "state cursor");
    return out;
}
