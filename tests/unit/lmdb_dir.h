/* lmdb_dir.h - removes an LMDB environment's directory (its data.mdb and
 * lock.mdb, then the directory itself) for the tests that make one: the
 * check_store_* suites (check_store_util.h) and the fuzz targets that load
 * into one (tests/fuzz/fuzz_intel.c). Plain C, no Check: the fuzz build
 * includes it too. Errors are ignored (a file already gone, a directory
 * not empty: left as it is). */
#ifndef TOCSIN_TEST_LMDB_DIR_H
#define TOCSIN_TEST_LMDB_DIR_H

#include <stdio.h>
#include <unistd.h>

static inline void lmdb_dir_remove(const char *dir)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
}

#endif
