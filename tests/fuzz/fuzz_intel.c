/* fuzz_intel.c - libFuzzer target for the threat-intel loader
 * (enrich/intel_load.c, `tocsin intel load`): each input is written as a
 * feed file and loaded into a fresh LMDB database - CSV (with or without a
 * header), MISP event JSON or a STIX 2.1 bundle, told apart by content as
 * for a real feed - through the indicator keys, the CIDR index and the
 * Bloom filter of the commit. The database lives in a temporary directory
 * (on /dev/shm when there is one: commits are synced) and is removed after
 * each input. Seeds: tests/fuzz/corpus/intel/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../enrich/enrich.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], feed[96], db[96];

static void cleanup(void)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/data.mdb", db);
    unlink(p);
    snprintf(p, sizeof(p), "%s/lock.mdb", db);
    unlink(p);
    rmdir(db);
    unlink(feed);
    rmdir(dir);
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
    snprintf(feed, sizeof(feed), "%s/feed.csv", dir);
    snprintf(db, sizeof(db), "%s/db", dir);
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        setup();
    FILE *f = fopen(feed, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    struct enrich_intel_load_stats st;
    struct ts_err err = {0};
    char msg[1024];
    if (enrich_intel_load(db, feed, NULL, &st, &err) != 0)
        ts_err_format(&err, msg, sizeof(msg));
    char p[128];
    snprintf(p, sizeof(p), "%s/data.mdb", db);
    unlink(p);
    snprintf(p, sizeof(p), "%s/lock.mdb", db);
    unlink(p);
    return 0;
}
