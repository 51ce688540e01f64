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
struct store {
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    char *path;
    size_t map_max;
    bool read_only;
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
};

struct store_txn {
    struct store *s;
    MDB_txn *txn;
    bool rdonly;
    bool map_full;   /* a call hit MDB_MAP_FULL: grow after the abort */
    size_t map_seen; /* map size when the txn began */
    int err;         /* first poisoning error, 0 if none */
    int64_t now_ns;
    char errmsg[256];
};

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
