/* store_int.h - internals shared by the storage/ files: the environment and
 * transaction structs, the database handles, key builders and the record
 * encoder/decoder (formats in docs/storage.md). Not a public interface. */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "../core/buf.h"
#include "storage.h"

enum store_db {
    DB_META = 0,
    DB_INCIDENTS,
    DB_INC_TIME,
    DB_INC_TENANT,
    DB_INC_STATUS,
    DB_EVIDENCE,
    DB_EV_TIME,
    DB_STATE,
    DB_OFFSETS,
    DB_OUTBOX,
    DB_OUTBOX_DUE,
    DB_EV_RAW,
    DB_JOURNAL,
    DB_LATE,
    DB_COUNTERS,
    DB_COUNT
};
extern const char *const store_db_names[DB_COUNT];

/* Arrays for an incident decoded without arena (pointing into the record);
 * hist has one spare entry for set_status to append to. */
struct store_inc_views {
    const char *tags[STORE_TAGS_MAX];
    const char *distinct[STORE_DISTINCT_MAX];
    struct store_status_change hist[STORE_HISTORY_MAX + 1];
};
/* The incident journal's pending map (journal.c): per incident id with
 * journal records not yet folded, its record as the journal last wrote it
 * (committed) and as the open write txn wrote it (staged, stg_gen ==
 * s->jgen). */
struct jent {
    char *id; /* NULL: free slot */
    uint8_t *rec, *stg;
    size_t len, stg_len;
    size_t rec_cap, stg_cap; /* buffers are reused, not freed per txn */
    uint64_t stg_gen;
    bool has_rec, has_stg;
};
struct jmap {
    struct jent *e;
    size_t cap, n;
};

struct store {
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    char *path;
    size_t map_max;
    bool read_only;
    bool no_journal_db; /* read-only open of a schema-2 store */
    bool no_counters_db; /* read-only open of a store written before counters */
    int64_t counters_since; /* meta "counters_since": 0, or when counters began
                               on a store that already held data */
    uint32_t evidence_max, evidence_raw_max, raw_max_bytes;
    /* Map growth needs every transaction of the process ended (the map is
     * remapped). active counts open txns; growing blocks new ones. A
     * mutex + condvar rather than a rwlock: read txns may end on another
     * thread than the one that began them (MDB_NOTLS). */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned active;
    bool growing;
    atomic_uint_fast64_t growths;
    /* Scratch for read-modify-write of records; used only by the thread
     * holding the write txn (LMDB allows one writer per environment). */
    struct ts_buf scratch;
    struct store_inc_views views; /* same: arrays of the incident in scratch */
    struct ts_buf evbuf;          /* same: the evidence chunk being rewritten */
    /* Journal mode (store_journal_enable; the engine): incident puts append
     * to DB_JOURNAL; the rest is used by the write txn's thread only. */
    bool journal;
    /* Held from a write txn's begin (after LMDB's writer lock) to the end of
     * its journal upkeep after commit/abort: LMDB releases its lock at
     * commit, before the map is updated. */
    pthread_mutex_t jmu;
    struct jmap jm;
    uint64_t jgen;           /* write txns begun (staged entries' generation) */
    bool jstaged;            /* the open write txn staged records */
    uint64_t jseq;           /* next journal key */
    uint64_t fold_gen_seen;  /* meta "fold_gen" when the map was last right */
    uint64_t jops, jbytes;   /* committed journal records/bytes since the fold */
    uint64_t jops_txn, jbytes_txn;
    int64_t jfirst_ns;       /* when the oldest unfolded record was written */
    uint64_t folds;
    bool jfold_open;         /* the open write txn folded the journal */
    struct ts_buf jbuf;      /* the journal record being built */
};

struct store_txn {
    struct store *s;
    MDB_txn *txn;
    bool rdonly;
    bool map_full;   /* a call hit MDB_MAP_FULL: grow after the abort */
    size_t map_seen; /* map size when the txn began */
    int err;         /* first poisoning error, 0 if none */
    int64_t now_ns;
    bool jfolded;          /* this txn folded the journal */
    uint64_t jfold_gen;    /* the fold_gen it wrote */
    char errmsg[256];
};

/* ------------------------------------------------------------- journal */

/* FNV-1a of an incident id: the journal map and the fold's grouping. */
static inline uint64_t store_id_hash(const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return h;
}

/* store_txn_begin flag (internal): a read txn that must not fold first. */
#define STORE_TXN_NOFOLD 0x100u

/* Hooks of store.c: after a write txn began (journal mode: resync the
 * pending map with other processes' folds; otherwise fold a non-empty
 * journal into this txn), and when it ends. */
int store_journal_on_begin(struct store_txn *t);
void store_journal_on_end(struct store_txn *t, bool committed);
void store_journal_free(struct store *s);
/* The pending record of id in a journal-mode write txn (staged or
 * committed), NULL when none. */
const uint8_t *store_jmap_get(struct store *s, const char *id, size_t *len);
/* Stage rec (copied) as id's pending record in the open write txn. */
int store_jmap_stage(struct store *s, const char *id, const uint8_t *rec, size_t len);
/* Append one record to DB_JOURNAL (MDB_APPEND) in t. */
int store_journal_append(struct store_txn *t, const void *rec, size_t len);
/* Fold the journal into the incident databases inside t (write txn);
 * 0 when it was empty. incident.c applies the records. */
int store_journal_fold_txn(struct store_txn *t);
/* Fold before an operation that reads or changes materialised incidents
 * in a write txn of a journal-mode store (set_status, del, lists...). */
int store_journal_settle(struct store_txn *t);
/* incident.c: apply the journal records recs[0..n) (values of DB_JOURNAL
 * in key order) to the incident, evidence and index databases. */
int store_incident_fold(struct store_txn *t, const MDB_val *recs, size_t n);

/* Record an LMDB failure on t (first error wins) and return the TS code:
 * MDB_MAP_FULL -> STORE_E_RETRY (or TS_E_LIMIT at map_max) and the txn is
 * marked for growth. Poisons t. */
int store_txn_fail(struct store_txn *t, int mdb_rc, const char *what);
/* Same for a non-LMDB error code (TS_E_NOMEM ...). */
int store_txn_fail_code(struct store_txn *t, int code, const char *what);
/* TS code for an LMDB return value (not MAP_FULL). */
int store_mdb_code(int rc);
/* 0 when t may write, else TS_E_INVAL (read-only) or t's error. */
int store_txn_check_write(struct store_txn *t);
int store_txn_check_read(struct store_txn *t);

/* ----------------------------------------------------------------- keys */

#define STORE_KEY_MAX 511

static inline void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline uint32_t store_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
/* Signed times sort as unsigned after flipping the sign bit. */
static inline void store_be64_time(uint8_t *p, int64_t t)
{
    uint64_t v = (uint64_t)t ^ 0x8000000000000000ULL;
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}
static inline int64_t store_get_be64_time(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)(v ^ 0x8000000000000000ULL);
}

/* Key builders; each returns the key length (the buffer holds
 * STORE_KEY_MAX + 1 bytes; callers validated the string lengths). */
size_t store_key_inc_time(uint8_t *k, int64_t last_seen, const char *id);
size_t store_key_inc_tenant(uint8_t *k, const char *tenant, int64_t last_seen, const char *id);
size_t store_key_inc_status(uint8_t *k, unsigned status, const char *tenant, int64_t at,
                            const char *id);
size_t store_key_evidence(uint8_t *k, const char *id, uint32_t seq);
size_t store_key_ev_time(uint8_t *k, const char *tenant, int64_t stored, const char *id,
                         uint32_t seq);

/* --------------------------------------------------------------- records */

#define STORE_REC_INCIDENT 'I'
#define STORE_REC_EVIDENCE 'E'
#define STORE_REC_OUTBOX 'O'
#define STORE_REC_OFFSET 'F'
#define STORE_REC_COUNTER 'C'
#define STORE_REC_VERSION 1

/* Encoder: with p == NULL only counts (first pass, to size an MDB_RESERVE). */
struct store_enc {
    uint8_t *p;
    size_t len;
};
static inline void store_enc_bytes(struct store_enc *e, const void *b, size_t n)
{
    if (e->p && n)
        memcpy(e->p + e->len, b, n);
    e->len += n;
}
static inline void store_enc_u8(struct store_enc *e, uint8_t v) { store_enc_bytes(e, &v, 1); }
static inline void store_enc_u32(struct store_enc *e, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    store_enc_bytes(e, b, 4);
}
static inline void store_enc_u64(struct store_enc *e, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    store_enc_bytes(e, b, 8);
}
static inline void store_enc_i64(struct store_enc *e, int64_t v) { store_enc_u64(e, (uint64_t)v); }
/* u32 length, bytes, NUL. NULL encodes as "". */
static inline void store_enc_blob(struct store_enc *e, const void *b, size_t n)
{
    store_enc_u32(e, (uint32_t)n);
    store_enc_bytes(e, b, n);
    store_enc_u8(e, 0);
}
static inline void store_enc_str(struct store_enc *e, const char *s)
{
    store_enc_blob(e, s ? s : "", s ? strlen(s) : 0);
}

/* Decoder over one record. Strings are returned as pointers into the
 * record (they are NUL-terminated there) or copied into arena when set. */
struct store_dec {
    const uint8_t *p;
    size_t len, off;
    struct ts_arena *arena;
    int err; /* TS_E_STORE (truncated/corrupt) or TS_E_NOMEM, sticky */
};
uint8_t store_dec_u8(struct store_dec *d);
uint32_t store_dec_u32(struct store_dec *d);
uint64_t store_dec_u64(struct store_dec *d);
int64_t store_dec_i64(struct store_dec *d);
/* A blob/string; *n (may be NULL) gets its length. "" on error. */
const char *store_dec_blob(struct store_dec *d, size_t *n);
/* Checks the magic and version bytes. */
void store_dec_header(struct store_dec *d, uint8_t magic);

/* Incident record <-> struct. Encoding uses every field of inc as stored
 * (the (store) fields included). Decoding with d->arena NULL puts the
 * arrays in *v (required then). */
void store_incident_encode(struct store_enc *e, const struct store_incident *inc);
int store_incident_decode(struct store_dec *d, struct store_incident *out,
                          struct store_inc_views *v);
/* Offsets of the counters patched in place by store_evidence_add. */
#define STORE_INC_OFF_EVIDENCE_NEXT 62
#define STORE_INC_OFF_EVIDENCE_DROPPED 66

int store_outbox_decode(struct store_dec *d, struct store_outbox *out);

/* Put with MDB_RESERVE, encoding with fn twice (size, then write). */
int store_put_record(struct store_txn *t, MDB_dbi dbi, const void *key, size_t klen,
                     void (*enc)(struct store_enc *e, const void *obj), const void *obj,
                     const char *what);
/* Copy the value at key into the scratch buffer (s->scratch): 0,
 * TS_E_NOTFOUND, or poisoning. *p and *n point into scratch. */
int store_get_copy(struct store_txn *t, MDB_dbi dbi, const void *key, size_t klen,
                   const uint8_t **p, size_t *n, const char *what);

/* Index maintenance for incidents (incident.c); used by retention. */
/* Delete up to limit (0 = all) evidence records of id (*nevidence += how
 * many) and, once none is left, the incident and its index entries (*gone).
 * TS_E_NOTFOUND when there is no such incident. */
int store_incident_purge(struct store_txn *t, const char *id, uint64_t limit,
                         uint64_t *nevidence, bool *gone);
/* Delete the evidence chunk at key (id NUL be32(first seq)) and its raw
 * records; *nrefs gets how many references it held. The caller deletes the
 * ev_time entry. 0 also when the chunk is already gone. */
int store_evidence_del_chunk(struct store_txn *t, const uint8_t *key, size_t klen,
                             uint64_t *nrefs);
/* Index value-less entries. */
int store_idx_del(struct store_txn *t, enum store_db db, const uint8_t *k, size_t klen);

/* Length checks. */
static inline bool store_str_ok(const char *s, size_t max, bool required)
{
    if (!s)
        return !required;
    size_t n = strnlen(s, max + 1);
    return n <= max && (!required || n > 0);
}

#endif
