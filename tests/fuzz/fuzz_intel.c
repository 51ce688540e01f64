/* fuzz_intel.c - libFuzzer target for the threat-intel loader
 * (enrich/intel_load.c, `tocsin intel load`): each input is loaded as a
 * feed file into an empty LMDB database - CSV (with or without a header),
 * MISP event JSON or a STIX 2.1 bundle, told apart by content as for a real
 * feed - through the indicator keys, the CIDR index and the Bloom filter of
 * the commit (enrich_intel_load_env: what `intel load` does once it has read
 * the file and opened the environment). One environment is opened at start
 * (in a temporary directory, on /dev/shm when there is one, without syncs)
 * and emptied after each input that loaded, so each input meets an empty
 * database as `intel load` of a new database does, without an environment
 * created, mapped and removed per input. After a load: the indicators stored
 * are at most those counted (a repeated one replaces), at least one when any
 * was counted, and the Bloom filter is there. Seeds: tests/fuzz/corpus/intel/. */
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../enrich/enrich_int.h"
#include "../unit/lmdb_dir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static MDB_env *env;
static MDB_dbi dbi[INGEST_IDB_COUNT];

static void cleanup(void)
{
    mdb_env_close(env);
    lmdb_dir_remove(dir);
}

static void lmdb_check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "fuzz_intel: %s: %s\n", what, mdb_strerror(rc));
        abort();
    }
}

static void setup(void)
{
    struct stat st;
    snprintf(dir, sizeof(dir), "%s/tocsin-fuzz-intel.XXXXXX",
             stat("/dev/shm", &st) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) {
        perror("fuzz_intel: mkdtemp");
        abort();
    }
    /* as enrich_intel_load opens it, without syncs (nothing here outlives
     * the process) */
    lmdb_check(mdb_env_create(&env), "mdb_env_create");
    lmdb_check(mdb_env_set_maxdbs(env, INGEST_IDB_COUNT + 2), "mdb_env_set_maxdbs");
    lmdb_check(mdb_env_set_mapsize(env, INGEST_INTEL_MAP_SIZE), "mdb_env_set_mapsize");
    lmdb_check(mdb_env_open(env, dir, MDB_NOSYNC | MDB_NOMETASYNC, 0600), "mdb_env_open");
    MDB_txn *txn;
    lmdb_check(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
    for (int i = 0; i < INGEST_IDB_COUNT; i++)
        lmdb_check(mdb_dbi_open(txn, enrich_intel_db_names[i], MDB_CREATE, &dbi[i]),
                   "mdb_dbi_open");
    lmdb_check(mdb_txn_commit(txn), "mdb_txn_commit");
    atexit(cleanup);
}

/* Check what a load left (see the top) and empty every database. */
static void check_and_empty(const struct enrich_intel_load_stats *st)
{
    MDB_txn *txn;
    lmdb_check(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
    uint64_t stored = 0;
    for (int i = 0; i < INGEST_IDB_META; i++) {
        MDB_stat ms;
        lmdb_check(mdb_stat(txn, dbi[i], &ms), "mdb_stat");
        stored += ms.ms_entries;
    }
    MDB_val k = {.mv_size = 5, .mv_data = "bloom"}, v;
    if (stored > st->indicators || (st->indicators && !stored) ||
        mdb_get(txn, dbi[INGEST_IDB_META], &k, &v) != 0) {
        fprintf(stderr, "fuzz_intel: %llu indicators counted, %llu stored, bloom %s\n",
                (unsigned long long)st->indicators, (unsigned long long)stored,
                mdb_get(txn, dbi[INGEST_IDB_META], &k, &v) ? "missing" : "there");
        abort();
    }
    for (int i = 0; i < INGEST_IDB_COUNT; i++)
        lmdb_check(mdb_drop(txn, dbi[i], 0), "mdb_drop");
    lmdb_check(mdb_txn_commit(txn), "mdb_txn_commit");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!env)
        setup();
    char *buf = malloc(size + 1); /* NUL-terminated, as read from a file */
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    struct enrich_intel_load_stats st;
    struct ts_err err = {0};
    char msg[1024];
    if (enrich_intel_load_env(env, "/feeds/feed.csv", buf, size, NULL, &st, &err) != 0)
        ts_err_format(&err, msg, sizeof(msg));
    else
        check_and_empty(&st);
    free(buf);
    return 0;
}
