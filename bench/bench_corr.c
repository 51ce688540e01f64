/* bench_corr.c - correlation engine figures, one a line: detections/s
 * through an event_count rule with 1M live group keys (batches of 10k, with
 * the state export of every batch), resident memory per 1M live keys, and
 * the export cost per batch. Single thread (the engine runs under one lock).
 * Usage: bench_corr [keys (default 1000000)] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/arena.h"
#include "../core/tstime.h"
#include "../correlate/correlate.h"

static const char rules[] =
    "title: ssh fail\nname: ssh_fail\nlogsource:\n  product: linux\ndetection:\n  s:\n"
    "    x: 1\n  condition: s\n---\n"
    "title: brute\nid: brute\ncorrelation:\n  type: event_count\n  rules: [ssh_fail]\n"
    "  group-by: [src_ip]\n  timespan: 1h\n  condition:\n    gte: 5\n";

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(int argc, char **argv)
{
    size_t keys = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    if (keys == 0)
        keys = 1000000;
    struct rule_load_opts lo = {.buf = rules, .buf_len = sizeof(rules) - 1, .buf_name = "bench"};
    struct rule_set *rs = NULL;
    struct ts_err err = {0};
    if (rule_set_load(&rs, &lo, NULL, &err) != 0)
        return 1;
    struct corr_engine *c = NULL;
    if (corr_engine_create(&c, rs, NULL, NULL, &err) != 0 || corr_rule_count(c) != 1) {
        fprintf(stderr, "bench_corr: engine: %s\n", err.msg);
        return 1;
    }
    size_t idx = (size_t)rule_set_find(rs, "ssh_fail");
    struct ts_arena *a = NULL;
    if (ts_arena_create(&a, 4096, 1 << 20) != 0)
        return 1;
    struct ts_event ev;
    ts_event_init(&ev, a);
    char ip[32];
    ts_event_add_str(&ev, "src_ip", ip, 0);
    ev.tenant = "agency";
    ev.src.kind = TS_SRC_KAFKA;
    ev.src.name = "logs.syslog";
    ev.src.partition = 0;
    ev.raw = "Jan 10 10:00:01 web1 sshd[1]: Failed password for root from 10.0.0.1 port 1 ssh2";
    ev.raw_len = (uint32_t)strlen(ev.raw);
    const int64_t t0 = 1700000000LL * 1000000000LL;
    long rss0 = rss_kib();
    size_t batch = 10000, nbatches = 0, dirty = 0;
    double export_s = 0;
    struct corr_batch out;
    /* pass 1: 4 detections per key (below the threshold), keys interleaved,
     * 1M keys live at the end; pass 2: one more each (every key fires) */
    size_t total = 0;
    double t_start = (double)ts_mono_ns() / 1e9;
    for (int pass = 0; pass < 5; pass++) {
        for (size_t k = 0; k < keys; k++) {
            int n = snprintf(ip, sizeof(ip), "10.%zu.%zu.%zu", (k >> 16) & 255, (k >> 8) & 255,
                             k & 255);
            if (k >= (1u << 24))
                n = snprintf(ip, sizeof(ip), "k%zu", k);
            ev.fields[0].v.len = (uint32_t)n;
            ev.time_ns = t0 + (int64_t)(pass * 600 + (int)(k * 500 / keys)) * 1000000000LL;
            ev.src.offset = (int64_t)total;
            if (corr_feed(c, idx, &ev) != 0)
                return 1;
            if (++total % batch == 0) {
                double e0 = (double)ts_mono_ns() / 1e9;
                if (corr_batch_end(c, &out) != 0)
                    return 1;
                export_s += (double)ts_mono_ns() / 1e9 - e0;
                nbatches++;
                dirty += out.nstate;
                corr_batch_begin(c);
            }
        }
        if (pass == 3) {
            struct corr_metrics m;
            corr_metrics_get(c, &m);
            long rss1 = rss_kib();
            printf("corr live keys: %llu\n", (unsigned long long)m.keys_live);
            printf("corr resident memory per 1M live keys (4 events each): %.0f MiB\n",
                   (double)(rss1 - rss0) / 1024.0 * 1e6 / (double)m.keys_live);
            printf("corr engine state bytes per key (accounted): %.0f\n",
                   (double)m.state_bytes / (double)m.keys_live);
        }
    }
    (void)corr_batch_end(c, &out);
    double el = (double)ts_mono_ns() / 1e9 - t_start;
    struct corr_metrics m;
    corr_metrics_get(c, &m);
    printf("corr detections/s (1M group keys, event_count, batches of %zu incl. export): %.0f\n",
           batch, (double)total / el);
    printf("corr incidents created: %llu\n", (unsigned long long)m.incidents_created);
    printf("corr export cost per batch of %zu detections: %.2f ms (%.0f dirty keys/batch, %.0f ns/key)\n",
           batch, export_s * 1e3 / (double)nbatches, (double)dirty / (double)nbatches,
           export_s * 1e9 / (double)(dirty ? dirty : 1));
    corr_engine_destroy(c);
    ts_arena_destroy(a);
    rule_set_unref(rs);
    return 0;
}
