/* check_store_txn.c - storage/: the environment, transactions, offsets and
 * correlation state against real LMDB files in temp dirs: round trips,
 * atomicity of a batch (abort; a process killed before, during and after
 * commit), map growth on MDB_MAP_FULL from a tiny map, growth by another
 * process, and read snapshots. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "check_store_util.h"

static void setup(void) { st_mkdir(); }
static void teardown(void) { st_rmdir(); }

START_TEST(test_store_open_creates_then_reopens_and_read_only_needs_an_existing_store)
{
    struct store *s = st_open();
    store_close(s);
    s = st_open();
    store_close(s);
    struct store_opts o = {0};
    o.read_only = true;
    s = st_open_opts(&o);
    struct store_txn *t;
    ck_assert_int_eq(store_txn_begin(s, 0, &t), TS_E_INVAL); /* no writes on read-only */
    store_close(s);

    char missing[128];
    snprintf(missing, sizeof(missing), "%s/nope", st_dir);
    o.path = missing;
    struct ts_err err = {0};
    ck_assert_int_eq(store_open(&s, &o, &err), TS_E_NOTFOUND);
    ck_assert_ptr_null(s);
    ck_assert(strstr(err.file, "nope") != NULL);
    store_close(NULL);
}
END_TEST

/* The store holds incidents and the events' values: its directory (and the
 * parents it creates) is 0700, data.mdb and lock.mdb 0600, whatever the
 * umask. */
START_TEST(test_store_creates_its_directory_0700_and_files_0600)
{
    char path[256], f[300];
    snprintf(path, sizeof(path), "%s/a/b", st_dir);
    mode_t old = umask(0);
    struct store_opts o = {0};
    o.path = path;
    struct store *s = NULL;
    struct ts_err err = {0};
    int rc = store_open(&s, &o, &err);
    umask(old);
    ck_assert_msg(rc == 0, "store_open: %s", err.msg);
    store_close(s);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0700);
    snprintf(f, sizeof(f), "%s/a", st_dir);
    ck_assert_int_eq(stat(f, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0700);
    const char *const files[] = {"data.mdb", "lock.mdb"};
    for (int i = 0; i < 2; i++) {
        snprintf(f, sizeof(f), "%s/%s", path, files[i]);
        ck_assert_int_eq(stat(f, &sb), 0);
        ck_assert_msg((sb.st_mode & 0777) == 0600, "%s is %o", f, sb.st_mode & 0777);
        unlink(f);
    }
    rmdir(path);
    snprintf(f, sizeof(f), "%s/a", st_dir);
    rmdir(f);
}
END_TEST

static int collect_offsets(void *ctx, const char *source, int32_t partition, int64_t offset,
                           int64_t updated)
{
    char *buf = ctx;
    (void)updated;
    size_t n = strlen(buf);
    snprintf(buf + n, 512 - n, "%s/%d=%lld;", source, partition, (long long)offset);
    return 0;
}

START_TEST(test_offsets_round_trip_per_source_and_partition_in_order)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    ck_assert_int_eq(store_offset_put(t, "logs.syslog", 3, 1200), 0);
    ck_assert_int_eq(store_offset_put(t, "logs.syslog", 0, 5), 0);
    ck_assert_int_eq(store_offset_put(t, "logs.agent", 1, 77), 0);
    ck_assert_int_eq(store_offset_put(t, "/var/log/auth.log", -1, 42), 0);
    ck_assert_int_eq(store_offset_put(t, "logs.syslog", 3, 1300), 0); /* overwrite */
    ck_assert_int_eq(store_offset_put(t, "", 0, 1), TS_E_INVAL);
    ck_assert_int_eq(store_txn_error(t), 0); /* a bad argument does not poison */
    st_commit(t);

    int64_t off = 0;
    ck_assert_int_eq(store_offset_get(s, "logs.syslog", 3, &off), 0);
    ck_assert_int_eq(off, 1300);
    ck_assert_int_eq(store_offset_get(s, "/var/log/auth.log", -1, &off), 0);
    ck_assert_int_eq(off, 42);
    ck_assert_int_eq(store_offset_get(s, "logs.syslog", 1, &off), TS_E_NOTFOUND);
    ck_assert_int_eq(store_offset_get(s, "logs.syslo", 3, &off), TS_E_NOTFOUND);

    char buf[512] = "";
    t = st_rbegin(s);
    ck_assert_int_eq(store_offset_foreach(t, collect_offsets, buf), 0);
    store_txn_abort(t);
    ck_assert_str_eq(buf, "/var/log/auth.log/-1=42;logs.agent/1=77;logs.syslog/0=5;"
                          "logs.syslog/3=1300;");
    store_close(s);
}
END_TEST

static int count_state(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    (*(int *)ctx)++;
    return 0;
}

START_TEST(test_state_is_opaque_bytes_with_prefix_scan_and_delete)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    const uint8_t k1[] = {'r', 0, 1, 0xff}, k2[] = {'r', 0, 2}, k3[] = {'q', 0, 1};
    const uint8_t v1[] = {0, 1, 2, 3, 0};
    ck_assert_int_eq(store_state_put(t, k1, sizeof(k1), v1, sizeof(v1)), 0);
    ck_assert_int_eq(store_state_put(t, k2, sizeof(k2), NULL, 0), 0); /* empty value */
    ck_assert_int_eq(store_state_put(t, k3, sizeof(k3), "x", 1), 0);
    const void *v;
    size_t vl;
    ck_assert_int_eq(store_state_get(t, k1, sizeof(k1), &v, &vl), 0); /* own writes */
    ck_assert_uint_eq(vl, sizeof(v1));
    st_commit(t);

    t = st_rbegin(s);
    ck_assert_int_eq(store_state_get(t, k1, sizeof(k1), &v, &vl), 0);
    ck_assert_uint_eq(vl, sizeof(v1));
    ck_assert_int_eq(memcmp(v, v1, vl), 0);
    ck_assert_int_eq(store_state_get(t, k2, sizeof(k2), &v, &vl), 0);
    ck_assert_uint_eq(vl, 0);
    int n = 0;
    ck_assert_int_eq(store_state_foreach(t, "r", 2, count_state, &n), 0); /* "r\0" */
    ck_assert_int_eq(n, 2);
    n = 0;
    ck_assert_int_eq(store_state_foreach(t, NULL, 0, count_state, &n), 0);
    ck_assert_int_eq(n, 3);
    store_txn_abort(t);

    t = st_begin(s);
    ck_assert_int_eq(store_state_del(t, k1, sizeof(k1)), 0);
    ck_assert_int_eq(store_state_del(t, k1, sizeof(k1)), TS_E_NOTFOUND);
    ck_assert_int_eq(store_txn_error(t), 0);
    uint8_t big[STORE_STATE_KEY_MAX + 1] = {0};
    ck_assert_int_eq(store_state_put(t, big, sizeof(big), "x", 1), TS_E_INVAL);
    st_commit(t);
    t = st_rbegin(s);
    ck_assert_int_eq(store_state_get(t, k1, sizeof(k1), &v, &vl), TS_E_NOTFOUND);
    store_txn_abort(t);
    store_close(s);
}
END_TEST

START_TEST(test_abort_discards_every_write_of_the_batch)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    ck_assert_int_eq(store_offset_put(t, "logs", 0, 10), 0);
    ck_assert_int_eq(store_state_put(t, "k", 1, "1", 1), 0);
    struct store_incident inc = st_incident("inc-1", "agency-a", 1000);
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
    store_txn_abort(t);

    int64_t off;
    ck_assert_int_eq(store_offset_get(s, "logs", 0, &off), TS_E_NOTFOUND);
    t = st_rbegin(s);
    const void *v;
    size_t vl;
    ck_assert_int_eq(store_state_get(t, "k", 1, &v, &vl), TS_E_NOTFOUND);
    struct ts_arena *a = st_arena();
    struct store_incident got;
    ck_assert_int_eq(store_incident_get(t, "inc-1", a, &got), TS_E_NOTFOUND);
    store_txn_abort(t);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

START_TEST(test_read_txn_keeps_its_snapshot_while_a_writer_commits)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    ck_assert_int_eq(store_offset_put(t, "logs", 0, 1), 0);
    st_commit(t);
    struct store_txn *r = st_rbegin(s);
    t = st_begin(s);
    ck_assert_int_eq(store_offset_put(t, "logs", 0, 2), 0);
    st_commit(t);
    int64_t off;
    ck_assert_int_eq(store_offset_read(r, "logs", 0, &off), 0);
    ck_assert_int_eq(off, 1);
    store_txn_abort(r);
    ck_assert_int_eq(store_offset_get(s, "logs", 0, &off), 0);
    ck_assert_int_eq(off, 2);
    store_close(s);
}
END_TEST

/* The writes of one "batch": n state records of 1 KiB and one offset. */
struct batch {
    int n;
    int64_t offset;
    int calls;
};

static int write_batch(struct store_txn *t, void *ctx)
{
    struct batch *b = ctx;
    b->calls++;
    char val[1024];
    for (int i = 0; i < b->n; i++) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "state/%06d", i);
        memset(val, 'a' + i % 26, sizeof(val));
        int rc = store_state_put(t, key, (size_t)kl, val, sizeof(val));
        if (rc)
            return rc;
    }
    return store_offset_put(t, "logs", 0, b->offset);
}

static void check_batch(struct store *s, int n, int64_t offset)
{
    struct store_txn *t = st_rbegin(s);
    int count = 0;
    ck_assert_int_eq(store_state_foreach(t, "state/", 6, count_state, &count), 0);
    ck_assert_int_eq(count, n);
    int64_t off;
    ck_assert_int_eq(store_offset_read(t, "logs", 0, &off), 0);
    ck_assert_int_eq(off, offset);
    store_txn_abort(t);
}

START_TEST(test_map_full_poisons_the_txn_returns_retry_and_the_redo_fits_after_growth)
{
    struct store_opts o = {0};
    o.map_size = 64 << 10; /* 16 pages: the batch needs ~2.5 MiB */
    struct store *s = st_open_opts(&o);
    size_t before = store_map_size(s);
    struct batch b = {2000, 99, 0};
    int rounds = 0, rc;
    for (;;) {
        rounds++;
        struct store_txn *t = st_begin(s);
        rc = write_batch(t, &b);
        if (rc == 0) {
            struct ts_err err = {0};
            rc = store_txn_commit(t, &err);
            if (rc == 0)
                break;
        } else {
            ck_assert_int_eq(rc, STORE_E_RETRY);
            /* dead from now on: every call returns the same */
            ck_assert_int_eq(store_offset_put(t, "x", 0, 1), STORE_E_RETRY);
            ck_assert_int_eq(store_txn_error(t), STORE_E_RETRY);
            ck_assert(strstr(store_txn_errmsg(t), "MDB_MAP_FULL") != NULL);
            store_txn_abort(t);
        }
        ck_assert_int_eq(rc, STORE_E_RETRY);
        ck_assert_int_lt(rounds, 20);
    }
    ck_assert_int_gt(rounds, 1);
    ck_assert_uint_gt(store_map_size(s), before);
    ck_assert_uint_eq(store_map_growths(s), (uint64_t)rounds - 1);
    check_batch(s, 2000, 99);
    store_close(s);

    /* the grown size is persisted: a reopen with the tiny size keeps the data */
    s = st_open_opts(&o);
    check_batch(s, 2000, 99);
    store_close(s);
}
END_TEST

START_TEST(test_txn_run_redoes_the_batch_writes_until_they_fit)
{
    struct store_opts o = {0};
    o.map_size = 64 << 10;
    struct store *s = st_open_opts(&o);
    struct batch b = {3000, 7, 0};
    struct ts_err err = {0};
    ck_assert_int_eq(store_txn_run(s, write_batch, &b, &err), 0);
    ck_assert_int_gt(b.calls, 1);
    check_batch(s, 3000, 7);
    /* a later smaller batch fits at once */
    b.n = 10;
    b.calls = 0;
    b.offset = 8;
    ck_assert_int_eq(store_txn_run(s, write_batch, &b, &err), 0);
    ck_assert_int_eq(b.calls, 1);
    store_close(s);
}
END_TEST

START_TEST(test_map_full_at_map_max_is_a_limit_not_a_retry)
{
    struct store_opts o = {0};
    o.map_size = 64 << 10;
    o.map_max = 256 << 10;
    struct store *s = st_open_opts(&o);
    struct batch b = {2000, 1, 0};
    struct ts_err err = {0};
    int rc = store_txn_run(s, write_batch, &b, &err);
    ck_assert_int_eq(rc, TS_E_LIMIT);
    ck_assert_msg(strstr(err.msg, "map_max") != NULL, "%s", err.msg);
    ck_assert_uint_le(store_map_size(s), 256 << 10);
    int64_t off;
    ck_assert_int_eq(store_offset_get(s, "logs", 0, &off), TS_E_NOTFOUND);
    store_close(s);
}
END_TEST

/* ------------------------------------------------------------- crashes */

enum crash_point { CRASH_BEFORE_COMMIT, CRASH_AFTER_COMMIT, CRASH_EXIT_BEFORE_COMMIT };

/* Batch k: offset 1000+k, state "counter" = k, and n state records tagged k. */
static int write_numbered(struct store_txn *t, int k, int n)
{
    char v[16];
    int vl = snprintf(v, sizeof(v), "%d", k);
    int rc = store_state_put(t, "counter", 7, v, (size_t)vl);
    for (int i = 0; i < n && !rc; i++) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "rec/%05d", i);
        rc = store_state_put(t, key, (size_t)kl, v, (size_t)vl);
    }
    if (!rc)
        rc = store_offset_put(t, "logs", 2, 1000 + k);
    return rc;
}

/* Every record of the store agrees on one batch number k; returns it. */
static int consistent_batch(struct store *s, int n)
{
    struct store_txn *t = st_rbegin(s);
    const void *v;
    size_t vl;
    ck_assert_int_eq(store_state_get(t, "counter", 7, &v, &vl), 0);
    char kb[16] = {0};
    memcpy(kb, v, vl < 15 ? vl : 15);
    int k = atoi(kb);
    int64_t off;
    ck_assert_int_eq(store_offset_read(t, "logs", 2, &off), 0);
    ck_assert_int_eq(off, 1000 + k);
    for (int i = 0; i < n; i++) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "rec/%05d", i);
        ck_assert_int_eq(store_state_get(t, key, (size_t)kl, &v, &vl), 0);
        char buf[16] = {0};
        memcpy(buf, v, vl < 15 ? vl : 15);
        ck_assert_int_eq(atoi(buf), k);
    }
    store_txn_abort(t);
    return k;
}

static void crash_child(enum crash_point cp)
{
    struct store_opts o = {0};
    o.path = st_dir;
    o.map_size = 8u << 20;
    struct store *s;
    if (store_open(&s, &o, NULL) != 0)
        _exit(3);
    struct store_txn *t;
    if (store_txn_begin(s, 0, &t) != 0 || write_numbered(t, 2, 500) != 0)
        _exit(4);
    if (cp == CRASH_BEFORE_COMMIT)
        kill(getpid(), SIGKILL);
    if (cp == CRASH_EXIT_BEFORE_COMMIT)
        _exit(0);
    if (store_txn_commit(t, NULL) != 0)
        _exit(5);
    kill(getpid(), SIGKILL);
    _exit(6);
}

static void run_crash(enum crash_point cp, int expect_batch)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    ck_assert_int_eq(write_numbered(t, 1, 500), 0);
    st_commit(t);
    store_close(s);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        crash_child(cp);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    if (cp == CRASH_EXIT_BEFORE_COMMIT)
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    else
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    s = st_open();
    ck_assert_int_eq(consistent_batch(s, 500), expect_batch);
    /* and the store is writable after the crash (stale writer lock cleared) */
    t = st_begin(s);
    ck_assert_int_eq(write_numbered(t, 3, 500), 0);
    st_commit(t);
    ck_assert_int_eq(consistent_batch(s, 500), 3);
    store_close(s);
}

START_TEST(test_kill_before_commit_leaves_none_of_the_batch)
{
    run_crash(CRASH_BEFORE_COMMIT, 1);
}
END_TEST

START_TEST(test_exit_without_commit_leaves_none_of_the_batch)
{
    run_crash(CRASH_EXIT_BEFORE_COMMIT, 1);
}
END_TEST

START_TEST(test_kill_after_commit_keeps_all_of_the_batch)
{
    run_crash(CRASH_AFTER_COMMIT, 2);
}
END_TEST

START_TEST(test_kill_at_random_points_of_a_commit_loop_keeps_offsets_and_state_together)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    ck_assert_int_eq(write_numbered(t, 0, 200), 0);
    st_commit(t);
    store_close(s);
    int last = 0;
    for (int round = 0; round < 6; round++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            struct store_opts o = {0};
            o.path = st_dir;
            o.map_size = 8u << 20;
            struct store *cs;
            if (store_open(&cs, &o, NULL) != 0)
                _exit(3);
            for (int k = (round + 1) * 100000;; k++) {
                struct store_txn *ct;
                if (store_txn_begin(cs, 0, &ct) != 0 || write_numbered(ct, k, 200) != 0 ||
                    store_txn_commit(ct, NULL) != 0)
                    _exit(4);
            }
        }
        struct timespec ts = {0, (long)(3 + round * 7) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFSIGNALED(status));
        s = st_open();
        int k = consistent_batch(s, 200);
        ck_assert(k == last || k >= (round + 1) * 100000);
        last = k;
        store_close(s);
    }
}
END_TEST

START_TEST(test_growth_by_another_process_is_adopted_at_the_next_begin)
{
    struct store_opts o = {0};
    o.map_size = 1 << 20;
    struct store *s = st_open_opts(&o);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct store_opts co = {0};
        co.path = st_dir;
        co.map_size = 64u << 20;
        struct store *cs;
        if (store_open(&cs, &co, NULL) != 0)
            _exit(3);
        struct batch b = {4000, 5, 0};
        if (store_txn_run(cs, write_batch, &b, NULL) != 0)
            _exit(4);
        store_close(cs);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the data now lies beyond this process's 1 MiB map */
    check_batch(s, 4000, 5);
    ck_assert_uint_ge(store_map_size(s), 4u << 20);
    struct store_txn *t = st_begin(s);
    ck_assert_int_eq(store_offset_put(t, "logs", 0, 6), 0);
    st_commit(t);
    check_batch(s, 4000, 6);
    store_close(s);
}
END_TEST

/* ------------------------------------------------------------- threads */

struct mt {
    struct store *s;
    atomic_int stop;
    int writer_rc;
    atomic_long reads;
    atomic_int bad;
};

static void *mt_writer(void *arg)
{
    struct mt *m = arg;
    for (int k = 1; k <= 60 && !m->writer_rc; k++) {
        struct store_txn *t = NULL;
        int rc;
        /* the batch's writes, redone after a growth */
        for (;;) {
            if ((rc = store_txn_begin(m->s, 0, &t)) != 0)
                break;
            rc = write_numbered(t, k, 300);
            if (!rc) {
                rc = store_txn_commit(t, NULL);
            } else {
                store_txn_abort(t);
            }
            if (rc != STORE_E_RETRY)
                break;
        }
        m->writer_rc = rc;
    }
    atomic_store(&m->stop, 1);
    return NULL;
}

static void *mt_reader(void *arg)
{
    struct mt *m = arg;
    while (!atomic_load(&m->stop)) {
        struct store_txn *t;
        if (store_txn_begin(m->s, STORE_TXN_RDONLY, &t) != 0) {
            m->bad++;
            break;
        }
        const void *v;
        size_t vl;
        int64_t off;
        if (store_state_get(t, "counter", 7, &v, &vl) == 0) {
            char kb[16] = {0};
            memcpy(kb, v, vl < 15 ? vl : 15);
            if (store_offset_read(t, "logs", 2, &off) != 0 || off != 1000 + atoi(kb))
                m->bad++;
        }
        store_txn_abort(t);
        m->reads++;
    }
    return NULL;
}

START_TEST(test_readers_on_other_threads_see_whole_batches_while_the_map_grows)
{
    struct store_opts o = {0};
    o.map_size = 64 << 10;
    struct store *s = st_open_opts(&o);
    struct mt m;
    memset(&m, 0, sizeof(m));
    m.s = s;
    pthread_t w, r1, r2;
    ck_assert_int_eq(pthread_create(&r1, NULL, mt_reader, &m), 0);
    ck_assert_int_eq(pthread_create(&r2, NULL, mt_reader, &m), 0);
    ck_assert_int_eq(pthread_create(&w, NULL, mt_writer, &m), 0);
    pthread_join(w, NULL);
    pthread_join(r1, NULL);
    pthread_join(r2, NULL);
    ck_assert_int_eq(m.writer_rc, 0);
    ck_assert_int_eq(atomic_load(&m.bad), 0);
    ck_assert_int_gt(atomic_load(&m.reads), 0);
    ck_assert_uint_gt(store_map_growths(s), 0);
    ck_assert_int_eq(consistent_batch(s, 300), 60);
    store_close(s);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("store_txn");
    TCase *tc = tcase_create("txn");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_store_open_creates_then_reopens_and_read_only_needs_an_existing_store);
    tcase_add_test(tc, test_store_creates_its_directory_0700_and_files_0600);
    tcase_add_test(tc, test_offsets_round_trip_per_source_and_partition_in_order);
    tcase_add_test(tc, test_state_is_opaque_bytes_with_prefix_scan_and_delete);
    tcase_add_test(tc, test_abort_discards_every_write_of_the_batch);
    tcase_add_test(tc, test_read_txn_keeps_its_snapshot_while_a_writer_commits);
    tcase_add_test(tc, test_map_full_poisons_the_txn_returns_retry_and_the_redo_fits_after_growth);
    tcase_add_test(tc, test_txn_run_redoes_the_batch_writes_until_they_fit);
    tcase_add_test(tc, test_map_full_at_map_max_is_a_limit_not_a_retry);
    tcase_add_test(tc, test_kill_before_commit_leaves_none_of_the_batch);
    tcase_add_test(tc, test_exit_without_commit_leaves_none_of_the_batch);
    tcase_add_test(tc, test_kill_after_commit_keeps_all_of_the_batch);
    tcase_add_test(tc, test_kill_at_random_points_of_a_commit_loop_keeps_offsets_and_state_together);
    tcase_add_test(tc, test_growth_by_another_process_is_adopted_at_the_next_begin);
    tcase_add_test(tc, test_readers_on_other_threads_see_whole_batches_while_the_map_grows);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
