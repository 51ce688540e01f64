/* bench_store.c - the LMDB store: commit cost per batch and read cost.
 *
 * A batch of N events writes what the engine writes for it: one correlation
 * state record (~160 bytes) per distinct group key touched (N/2, from a
 * population of 200000 keys), an incident update per 100 events (new or
 * existing, with 20 evidence references added with store_evidence_add_n,
 * of which the first ones of an incident carry raw text), and the offsets of 4 partitions - one write transaction, committed
 * durably (fsync, the default flags: the point of the store). The same is
 * then measured with MDB_NOSYNC for comparison only.
 * Reads: store_offset_get (own read txn: the consumer's seek), and incident
 * lookups by id in a read txn renewed per 1000 lookups.
 *
 * Usage: bench_store [seconds per figure, default 2] [dir, default $TMPDIR or /tmp]
 * Prints one figure a line. The store lives in a temp dir it removes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/arena.h"
#include "../core/tstime.h"
#include "../storage/storage.h"

#define NKEYS 200000
#define NPART 4

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static char dir[256];
static uint64_t next_incident;
static int64_t offsets[NPART];

static const char raw_line[] =
    "Nov 20 10:00:01 portal-01 sshd[21874]: Failed password for invalid user admin from "
    "203.0.113.45 port 52144 ssh2";

static int write_batch(struct store_txn *t, uint32_t n)
{
    uint8_t val[160];
    memset(val, 0x5a, sizeof(val));
    int rc;
    for (uint32_t i = 0; i < (n + 1) / 2; i++) {
        char key[64];
        uint32_t k = rnd(NKEYS);
        int kl = snprintf(key, sizeof(key), "ssh-brute\x1fsrc_ip=10.%u.%u.%u", k >> 16,
                          k >> 8 & 255, k & 255);
        if ((rc = store_state_put(t, key, (size_t)kl, val, sizeof(val))) != 0)
            return rc;
    }
    static const char *const tags[] = {"attack.credential_access", "attack.t1110.001"};
    for (uint32_t i = 0; i < (n + 99) / 100; i++) {
        char id[40];
        uint64_t k = rnd(2) && next_incident ? rnd((uint32_t)next_incident) : next_incident++;
        snprintf(id, sizeof(id), "%016llx", (unsigned long long)(k * 0x9E3779B97F4A7C15ULL));
        struct store_incident inc = {0};
        inc.id = id;
        inc.rule_id = "5f3d7a1e-8b2c-4c1d-9e0f-1a2b3c4d5e6f";
        inc.rule_title = "SSH brute force from one address";
        inc.level = "high";
        inc.tags = tags;
        inc.ntags = 2;
        inc.tenant = k % 3 ? "agency-a" : "agency-b";
        inc.group_key = "src_ip=203.0.113.45";
        inc.first_seen_ns = ts_now_ns() - 60 * TS_NS_PER_SEC;
        inc.last_seen_ns = ts_now_ns();
        inc.count = 5 + k % 50;
        inc.severity = 3;
        inc.details = "{\"type\":\"event_count\",\"timespan\":\"1m\",\"threshold\":5}";
        if ((rc = store_incident_put(t, &inc, NULL)) != 0)
            return rc;
        struct store_evidence evs[20];
        memset(evs, 0, sizeof(evs));
        for (int e = 0; e < 20; e++) {
            evs[e].source = "logs.syslog";
            evs[e].partition = e % NPART;
            evs[e].offset = offsets[e % NPART] + e;
            evs[e].event_ns = inc.last_seen_ns;
            evs[e].raw = raw_line;
            evs[e].raw_len = sizeof(raw_line) - 1;
        }
        rc = store_evidence_add_n(t, id, evs, 20, NULL);
        if (rc && rc != TS_E_LIMIT)
            return rc;
    }
    for (int p = 0; p < NPART; p++) {
        offsets[p] += n / NPART + 1;
        if ((rc = store_offset_put(t, "logs.syslog", p, offsets[p])) != 0)
            return rc;
    }
    return 0;
}

struct bctx {
    uint32_t n;
};

static int batch_fn(struct store_txn *t, void *ctx)
{
    return write_batch(t, ((struct bctx *)ctx)->n);
}

static void rm_store(void)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/lock.mdb", dir);
    unlink(p);
}

static struct store *open_store(bool nosync)
{
    rm_store();
    struct store_opts o = {0};
    o.path = dir;
    o.map_size = 64u << 20;
    o.no_sync = nosync;
    struct store *s;
    struct ts_err err = {0};
    if (store_open(&s, &o, &err) != 0) {
        fprintf(stderr, "bench_store: %s\n", err.msg);
        exit(1);
    }
    return s;
}

static void bench_commits(double secs, bool nosync)
{
    static const uint32_t sizes[] = {1, 100, 1000, 10000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct store *s = open_store(nosync);
        next_incident = 0;
        struct bctx c = {sizes[i]};
        /* warm up: a populated store, not an empty one */
        struct bctx warm = {10000};
        for (int w = 0; w < 3; w++)
            if (store_txn_run(s, batch_fn, &warm, NULL) != 0)
                exit(1);
        uint64_t batches = 0;
        int64_t t0 = ts_mono_ns(), el;
        do {
            struct ts_err err = {0};
            int rc = store_txn_run(s, batch_fn, &c, &err);
            if (rc) {
                fprintf(stderr, "bench_store: %s\n", err.msg);
                exit(1);
            }
            batches++;
            el = ts_mono_ns() - t0;
        } while (el < (int64_t)(secs * 1e9) || batches < 5);
        double per = (double)el / (double)batches;
        printf("store commit%s, batch %5u events: %8.3f ms/batch, %6.2f us/event, %9.0f events/s "
               "(%llu batches, map %zu MiB, %llu growths)\n",
               nosync ? " [MDB_NOSYNC, not durable]" : " (durable)", sizes[i], per / 1e6,
               per / 1e3 / sizes[i], 1e9 * sizes[i] / per, (unsigned long long)batches,
               store_map_size(s) >> 20, (unsigned long long)store_map_growths(s));
        fflush(stdout);
        store_close(s);
    }
}

static void bench_reads(double secs)
{
    struct store *s = open_store(true);
    next_incident = 0;
    struct bctx warm = {10000};
    for (int w = 0; w < 20; w++)
        if (store_txn_run(s, batch_fn, &warm, NULL) != 0)
            exit(1);
    uint64_t n = 0;
    int64_t off, t0 = ts_mono_ns(), el;
    do {
        for (int i = 0; i < 1000; i++)
            if (store_offset_get(s, "logs.syslog", (int32_t)rnd(NPART), &off) != 0)
                exit(1);
        n += 1000;
        el = ts_mono_ns() - t0;
    } while (el < (int64_t)(secs * 1e9));
    printf("store_offset_get (own read txn each): %.2f us/lookup\n", (double)el / (double)n / 1e3);

    struct ts_arena *a;
    if (ts_arena_create(&a, 64 << 10, 64u << 20) != 0)
        exit(1);
    n = 0;
    uint64_t found = 0;
    t0 = ts_mono_ns();
    do {
        struct store_txn *t;
        if (store_txn_begin(s, STORE_TXN_RDONLY, &t) != 0)
            exit(1);
        for (int i = 0; i < 1000; i++) {
            char id[40];
            uint64_t k = rnd((uint32_t)next_incident);
            snprintf(id, sizeof(id), "%016llx", (unsigned long long)(k * 0x9E3779B97F4A7C15ULL));
            struct store_incident inc;
            if (store_incident_get(t, id, a, &inc) == 0)
                found++;
            ts_arena_reset(a);
        }
        store_txn_abort(t);
        n += 1000;
        el = ts_mono_ns() - t0;
    } while (el < (int64_t)(secs * 1e9));
    printf("store_incident_get by id (decoded, %llu incidents): %.2f us/lookup (%.0f%% found)\n",
           (unsigned long long)next_incident, (double)el / (double)n / 1e3,
           100.0 * (double)found / (double)n);
    ts_arena_destroy(a);
    store_close(s);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    if (secs <= 0)
        secs = 2.0;
    const char *base = argc > 2 ? argv[2] : getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/tocsin-bench-store-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("bench_store: mkdtemp");
        return 1;
    }
    bench_commits(secs, false);
    bench_commits(secs / 2, true);
    bench_reads(secs / 2);
    rm_store();
    rmdir(dir);
    return 0;
}
