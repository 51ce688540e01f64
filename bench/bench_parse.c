/* bench_parse.c - parse rate of the ingest parsers on synthetic messages
 * generated in memory (no sample data): RFC 3164 sshd lines, RFC 5424 lines
 * with structured data, ~1.1 KB Sysmon-like winlogbeat JSON. One thread;
 * one arena reset per batch of 1000 events, as the sources do. Also jansson's
 * json_loads on the same JSON for comparison.
 *
 * Usage: bench_parse [seconds per format, default 2] [only this format]
 * Prints one figure a line: "parse rfc3164: N events/s, M MB/s".
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/arena.h"
#include "../core/buf.h"
#include "../core/event.h"
#include "../core/tstime.h"
#include "../ingest/ingest.h"

#define NMSG 1000 /* distinct messages = batch size */

struct corpus {
    char *msg[NMSG];
    uint32_t len[NMSG];
    size_t bytes;
};

/* xorshift: deterministic variety without libc rand state */
static uint64_t rng = 88172645463325252ULL;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const char *const users[] = {"root", "admin", "oracle", "test", "guest", "ubuntu",
                                    "postgres", "deploy"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int add(struct corpus *c, int i, struct ts_buf *b)
{
    c->msg[i] = strdup(b->data);
    if (!c->msg[i])
        return -1;
    c->len[i] = (uint32_t)b->len;
    c->bytes += b->len;
    return 0;
}

static int gen_rfc3164(struct corpus *c)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    for (int i = 0; i < NMSG; i++) {
        ts_buf_reset(&b);
        const char *u = users[rnd(8)];
        unsigned ip = rnd(0xffffff);
        int rc;
        switch (rnd(3)) {
        case 0:
            rc = ts_buf_printf(&b,
                               "<38>%s %2u %02u:%02u:%02u bastion-%u sshd[%u]: Failed password "
                               "for invalid user %s from 203.%u.%u.%u port %u ssh2",
                               months[rnd(12)], 1 + rnd(28), rnd(24), rnd(60), rnd(60), rnd(9),
                               1000 + rnd(60000), u, ip >> 16, (ip >> 8) & 255, ip & 255,
                               1024 + rnd(60000));
            break;
        case 1:
            rc = ts_buf_printf(&b,
                               "<86>%s %2u %02u:%02u:%02u bastion-%u sshd[%u]: Accepted publickey "
                               "for %s from 10.%u.%u.%u port %u ssh2: RSA SHA256:%08x%08x",
                               months[rnd(12)], 1 + rnd(28), rnd(24), rnd(60), rnd(60), rnd(9),
                               1000 + rnd(60000), u, ip >> 16, (ip >> 8) & 255, ip & 255,
                               1024 + rnd(60000), rnd(0x7fffffff), rnd(0x7fffffff));
            break;
        default:
            rc = ts_buf_printf(&b,
                               "%s %2u %02u:%02u:%02u bastion-%u sshd(pam_unix)[%u]: session "
                               "opened for user %s by (uid=0)",
                               months[rnd(12)], 1 + rnd(28), rnd(24), rnd(60), rnd(60), rnd(9),
                               1000 + rnd(60000), u);
        }
        if (rc || add(c, i, &b)) {
            ts_buf_free(&b);
            return -1;
        }
    }
    ts_buf_free(&b);
    return 0;
}

static int gen_rfc5424(struct corpus *c)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    for (int i = 0; i < NMSG; i++) {
        ts_buf_reset(&b);
        int rc = ts_buf_printf(
            &b,
            "<165>1 2024-%02u-%02uT%02u:%02u:%02u.%03uZ app-%u.example.com billing %u ID%u "
            "[exampleSDID@32473 iut=\"%u\" eventSource=\"Application\" eventID=\"%u\"]"
            "[origin@32473 ip=\"10.0.%u.%u\" software=\"billing \\\"v2\\\"\"] "
            "\xEF\xBB\xBFinvoice %u processed for customer %u in %u ms",
            1 + rnd(12), 1 + rnd(28), rnd(24), rnd(60), rnd(60), rnd(1000), rnd(20), rnd(65536),
            rnd(100), rnd(10), 1000 + rnd(9000), rnd(256), rnd(256), rnd(1000000), rnd(100000),
            rnd(5000));
        if (rc || add(c, i, &b)) {
            ts_buf_free(&b);
            return -1;
        }
    }
    ts_buf_free(&b);
    return 0;
}

/* winlogbeat-style Sysmon event 1 (process creation), ~1.1 KB. */
static int gen_json(struct corpus *c)
{
    static const char *const images[] = {
        "C:\\\\Windows\\\\System32\\\\cmd.exe",
        "C:\\\\Windows\\\\System32\\\\WindowsPowerShell\\\\v1.0\\\\powershell.exe",
        "C:\\\\Program Files\\\\Mozilla Firefox\\\\firefox.exe",
        "C:\\\\Windows\\\\System32\\\\rundll32.exe"};
    struct ts_buf b;
    ts_buf_init(&b, 0);
    for (int i = 0; i < NMSG; i++) {
        ts_buf_reset(&b);
        const char *img = images[rnd(4)];
        unsigned pid = rnd(65536), ppid = rnd(65536);
        int rc = ts_buf_printf(
            &b,
            "{\"@timestamp\":\"2024-%02u-%02uT%02u:%02u:%02u.%03uZ\",\"host\":{\"name\":"
            "\"WS-%04u\"},\"winlog\":{\"channel\":\"Microsoft-Windows-Sysmon/Operational\","
            "\"event_id\":1,\"record_id\":%u,\"process\":{\"pid\":3160},\"event_data\":{"
            "\"RuleName\":\"-\",\"UtcTime\":\"2024-03-01 10:%02u:%02u.%03u\",\"ProcessGuid\":"
            "\"{%08x-65e1-4f00}\",\"ProcessId\":%u,\"Image\":\"%s\",\"FileVersion\":"
            "\"10.0.19041.1\",\"Description\":\"Windows Command Processor\",\"Product\":"
            "\"Microsoft\\u00ae Windows\",\"Company\":\"Microsoft\",\"OriginalFileName\":"
            "\"Cmd.Exe\",\"CommandLine\":\"%s /c whoami \\u0026 net user %s\","
            "\"CurrentDirectory\":\"C:\\\\Users\\\\%s\\\\\",\"User\":\"CORP\\\\%s\","
            "\"LogonGuid\":\"{%08x-65e1-0600}\",\"LogonId\":\"0x%x\",\"TerminalSessionId\":1,"
            "\"IntegrityLevel\":\"High\",\"Hashes\":\"SHA256=%08x%08x%08x%08x\","
            "\"ParentProcessGuid\":\"{%08x-65e1-4f00}\",\"ParentProcessId\":%u,"
            "\"ParentImage\":\"C:\\\\Windows\\\\explorer.exe\",\"ParentCommandLine\":"
            "\"explorer.exe\",\"ParentUser\":\"CORP\\\\%s\",\"Signed\":true,"
            "\"SignatureStatus\":\"Valid\",\"SourceIp\":\"10.0.%u.%u\",\"SourcePort\":%u,"
            "\"DestinationIp\":\"192.0.2.%u\",\"DestinationPort\":443,\"Protocol\":\"tcp\","
            "\"Initiated\":true,\"Score\":%u.5,\"Tags\":[\"a\",\"b\"]}}}",
            1 + rnd(12), 1 + rnd(28), rnd(24), rnd(60), rnd(60), rnd(1000), rnd(10000),
            rnd(1u << 30), rnd(60), rnd(60), rnd(1000), rnd(0x7fffffff), pid, img, img,
            users[rnd(8)], users[rnd(8)], users[rnd(8)], rnd(0x7fffffff), rnd(0xfffffff),
            rnd(0x7fffffff), rnd(0x7fffffff), rnd(0x7fffffff), rnd(0x7fffffff), rnd(0x7fffffff),
            ppid, users[rnd(8)], rnd(256), rnd(256), 1024 + rnd(60000), rnd(256), rnd(100));
        if (rc || add(c, i, &b)) {
            ts_buf_free(&b);
            return -1;
        }
    }
    ts_buf_free(&b);
    return 0;
}

static void corpus_free(struct corpus *c)
{
    for (int i = 0; i < NMSG; i++)
        free(c->msg[i]);
}

static const char *only; /* argv[2]: run just this label */

static int bench(const char *label, enum ingest_format fmt, const struct corpus *c, double secs)
{
    if (only && strcmp(only, label) != 0)
        return 0;
    struct ts_arena *a;
    if (ts_arena_create(&a, 16u << 20, 256u << 20)) /* a batch fits one chunk */
        return -1;
    struct ts_event *evs = calloc(NMSG, sizeof(*evs));
    if (!evs) {
        ts_arena_destroy(a);
        return -1;
    }
    struct ingest_parse_opts opts = {0};
    uint64_t n = 0, bytes = 0, bad = 0;
    int64_t t0 = ts_mono_ns(), deadline = t0 + (int64_t)(secs * 1e9), t1;
    int64_t now = ts_now_ns();
    do {
        ts_arena_reset(a);
        for (int i = 0; i < NMSG; i++) {
            struct ts_event *ev = &evs[i];
            ts_event_init(ev, a);
            ev->raw = c->msg[i];
            ev->raw_len = c->len[i];
            ev->ingest_ns = now;
            struct ingest_diag d;
            bad += ingest_parse(fmt, &opts, ev, &d) != 0;
        }
        n += NMSG;
        bytes += c->bytes;
        t1 = ts_mono_ns();
    } while (t1 < deadline);
    double el = (double)(t1 - t0) / 1e9;
    printf("parse %s: %.0f events/s, %.1f MB/s (%.0f B/event, %llu rejected, %.0f fields/event)\n",
           label, (double)n / el, (double)bytes / el / 1e6, (double)c->bytes / NMSG,
           (unsigned long long)bad, (double)evs[NMSG - 1].nfields);
    fflush(stdout);
    free(evs);
    ts_arena_destroy(a);
    return bad ? -1 : 0;
}

static void bench_jansson(const struct corpus *c, double secs)
{
    if (only && strcmp(only, "jansson") != 0)
        return;
    uint64_t n = 0, bytes = 0;
    int64_t t0 = ts_mono_ns(), deadline = t0 + (int64_t)(secs * 1e9), t1;
    do {
        for (int i = 0; i < NMSG; i++) {
            json_error_t err;
            json_t *j = json_loadb(c->msg[i], c->len[i], 0, &err);
            json_decref(j);
        }
        n += NMSG;
        bytes += c->bytes;
        t1 = ts_mono_ns();
    } while (t1 < deadline);
    double el = (double)(t1 - t0) / 1e9;
    printf("json jansson DOM (json_loads only): %.0f events/s, %.1f MB/s\n", (double)n / el,
           (double)bytes / el / 1e6);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    if (secs <= 0)
        secs = 2.0;
    only = argc > 2 ? argv[2] : NULL;
    struct corpus c3 = {0}, c5 = {0}, cj = {0};
    int rc = 1;
    if (gen_rfc3164(&c3) || gen_rfc5424(&c5) || gen_json(&cj)) {
        fprintf(stderr, "bench_parse: out of memory\n");
        goto out;
    }
    if (bench("rfc3164", INGEST_FMT_RFC3164, &c3, secs) ||
        bench("rfc5424", INGEST_FMT_RFC5424, &c5, secs) ||
        bench("json", INGEST_FMT_JSON, &cj, secs) ||
        bench("auto (json)", INGEST_FMT_AUTO, &cj, secs)) {
        fprintf(stderr, "bench_parse: a synthetic message was rejected\n");
        goto out;
    }
    bench_jansson(&cj, secs);
    rc = 0;
out:
    corpus_free(&c3);
    corpus_free(&c5);
    corpus_free(&cj);
    return rc;
}
