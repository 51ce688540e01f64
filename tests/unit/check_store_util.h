/* check_store_util.h - shared set-up for the check_store_* suites: a fresh
 * LMDB environment in a temp directory per test, removed afterwards. */
#ifndef CHECK_STORE_UTIL_H
#define CHECK_STORE_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "lmdb_dir.h"
#include "../../core/arena.h"
#include "../../storage/storage.h"

static char st_dir[64];

static inline void st_mkdir(void)
{
    snprintf(st_dir, sizeof(st_dir), "/tmp/tocsin-store-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(st_dir));
}

/* A store's directory (its two LMDB files) removed. */
static inline void st_rmdir_at(const char *dir)
{
    lmdb_dir_remove(dir);
}

static inline void st_rmdir(void)
{
    st_rmdir_at(st_dir);
}

static inline struct store *st_open_opts(struct store_opts *o)
{
    o->path = st_dir;
    struct store *s = NULL;
    struct ts_err err = {0};
    int rc = store_open(&s, o, &err);
    ck_assert_msg(rc == 0, "store_open: %s (%s)", store_strerror(rc), err.msg);
    return s;
}

static inline struct store *st_open(void)
{
    struct store_opts o = {0};
    o.map_size = 8u << 20;
    return st_open_opts(&o);
}

static inline struct store_txn *st_begin(struct store *s)
{
    struct store_txn *t = NULL;
    ck_assert_int_eq(store_txn_begin(s, 0, &t), 0);
    return t;
}

static inline struct store_txn *st_rbegin(struct store *s)
{
    struct store_txn *t = NULL;
    ck_assert_int_eq(store_txn_begin(s, STORE_TXN_RDONLY, &t), 0);
    return t;
}

static inline void st_commit(struct store_txn *t)
{
    struct ts_err err = {0};
    int rc = store_txn_commit(t, &err);
    ck_assert_msg(rc == 0, "commit: %s (%s)", store_strerror(rc), err.msg);
}

static inline struct ts_arena *st_arena(void)
{
    struct ts_arena *a = NULL;
    ck_assert_int_eq(ts_arena_create(&a, 64 << 10, 64u << 20), 0);
    return a;
}

/* A minimal incident: id, tenant, last_seen. */
static inline struct store_incident st_incident(const char *id, const char *tenant, int64_t seen)
{
    struct store_incident inc;
    memset(&inc, 0, sizeof(inc));
    inc.id = id;
    inc.rule_id = "5b5f7a5e-ssh-brute";
    inc.rule_title = "SSH brute force";
    inc.level = "high";
    inc.tenant = tenant;
    inc.group_key = "src_ip=10.0.0.5";
    inc.first_seen_ns = seen;
    inc.last_seen_ns = seen;
    inc.count = 5;
    inc.severity = 3;
    return inc;
}

#endif
