/* bench_decode.c - parse rate of the payload formats (CEF, LEEF, key=value,
 * access logs) and parse+decode rate with the shipped decoders
 * (etc/decoders/), on synthetic messages generated in memory (no sample
 * data). One thread; one arena reset per batch of 1000 events, as the sources
 * do; one decoder scratch.
 *
 * Usage: bench_decode [seconds per figure, default 2] [decoder dir, default
 * etc/decoders]. Prints one figure a line:
 *   "parse cef: N events/s, M MB/s (...)"
 *   "parse+decode sshd: N events/s, M MB/s (... decoded)"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/arena.h"
#include "../core/buf.h"
#include "../core/event.h"
#include "../core/tstime.h"
#include "../normalise/decoder.h"
#include "../ingest/ingest.h"

#define NMSG 1000

struct corpus {
    char *msg[NMSG];
    uint32_t len[NMSG];
    size_t bytes;
};

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

typedef int (*gen_fn)(struct ts_buf *b, int i);

static int gen_cef(struct ts_buf *b, int i)
{
    (void)i;
    return ts_buf_printf(b,
                         "<134>Jun %2u 10:%02u:%02u fw-%u CEF:0|Check Point|VPN-1 & FireWall-1|"
                         "R81|drop|Drop|5|rt=%u000 src=198.51.%u.%u spt=%u dst=10.0.%u.%u dpt=%u "
                         "proto=TCP act=drop deviceDirection=0 msg=Packet dropped by rule %u "
                         "cs1Label=Rule Name cs1=Block\\=external suser=%s",
                         1 + rnd(28), rnd(60), rnd(60), rnd(9), 1718000000 + rnd(1000000),
                         rnd(256), rnd(256), 1024 + rnd(60000), rnd(256), rnd(256), rnd(1024),
                         rnd(100), users[rnd(8)]);
}

static int gen_leef(struct ts_buf *b, int i)
{
    (void)i;
    return ts_buf_printf(b,
                         "LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.%u.%u^dst=203.0.113.%u^"
                         "srcPort=%u^dstPort=%u^proto=6^sev=%u^cat=Suspicious Connection^"
                         "usrName=%s^devTime=%u000",
                         rnd(256), rnd(256), rnd(256), 1024 + rnd(60000), rnd(1024), rnd(10),
                         users[rnd(8)], 1718000000 + rnd(1000000));
}

static int gen_kv(struct ts_buf *b, int i)
{
    (void)i;
    return ts_buf_printf(
        b,
        "<189>date=2024-06-%02u time=10:%02u:%02u devname=\"FGT-HQ\" devid=\"FG100E4Q17000000\" "
        "eventtime=%u123456789 tz=\"+0700\" logid=\"0000000013\" type=\"traffic\" "
        "subtype=\"forward\" level=\"notice\" vd=\"root\" srcip=10.1.%u.%u srcport=%u "
        "srcintf=\"port12\" srcintfrole=\"lan\" dstip=203.0.113.%u dstport=%u dstintf=\"wan1\" "
        "dstintfrole=\"wan\" sessionid=%u proto=6 action=\"%s\" policyid=%u policytype=\"policy\" "
        "service=\"HTTPS\" dstcountry=\"United States\" srccountry=\"Reserved\" trandisp=\"snat\" "
        "transip=198.51.100.1 transport=%u duration=%u sentbyte=%u rcvdbyte=%u sentpkt=%u "
        "rcvdpkt=%u appcat=\"unscanned\"",
        1 + rnd(28), rnd(60), rnd(60), 1718000000 + rnd(1000000), rnd(256), rnd(256),
        1024 + rnd(60000), rnd(256), rnd(1024), rnd(1000000), rnd(2) ? "accept" : "deny",
        rnd(100), 1024 + rnd(60000), rnd(100), rnd(100000), rnd(1000000), rnd(100), rnd(100));
}

static int gen_access(struct ts_buf *b, int i)
{
    (void)i;
    static const char *const paths[] = {"/index.php", "/wp-login.php", "/api/v1/items",
                                        "/static/app.js"};
    return ts_buf_printf(b,
                         "203.0.%u.%u - %s [15/Jun/2024:10:%02u:%02u +0700] \"%s %s?id=%u&q=x "
                         "HTTP/1.1\" %u %u \"https://example.org/\" \"Mozilla/5.0 (X11; Linux "
                         "x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Safari/537\"",
                         rnd(256), rnd(256), rnd(4) ? "-" : users[rnd(8)], rnd(60), rnd(60),
                         rnd(5) ? "GET" : "POST", paths[rnd(4)], rnd(100000),
                         rnd(5) ? 200 : 404, rnd(100000));
}

/* sshd: the mix of a brute force (the OpenSSH sample's most common lines). */
static int gen_sshd(struct ts_buf *b, int i)
{
    (void)i;
    unsigned ip = rnd(0xffffff);
    switch (rnd(5)) {
    case 0:
        return ts_buf_printf(b,
                             "Jun %2u 10:%02u:%02u bastion sshd[%u]: Failed password for invalid "
                             "user %s from 203.%u.%u.%u port %u ssh2",
                             1 + rnd(28), rnd(60), rnd(60), 1000 + rnd(60000), users[rnd(8)],
                             ip >> 16, (ip >> 8) & 255, ip & 255, 1024 + rnd(60000));
    case 1:
        return ts_buf_printf(b,
                             "Jun %2u 10:%02u:%02u bastion sshd[%u]: pam_unix(sshd:auth): "
                             "authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
                             "rhost=203.%u.%u.%u  user=%s",
                             1 + rnd(28), rnd(60), rnd(60), 1000 + rnd(60000), ip >> 16,
                             (ip >> 8) & 255, ip & 255, users[rnd(8)]);
    case 2:
        return ts_buf_printf(b,
                             "Jun %2u 10:%02u:%02u bastion sshd[%u]: Received disconnect from "
                             "203.%u.%u.%u port %u:11: Bye Bye [preauth]",
                             1 + rnd(28), rnd(60), rnd(60), 1000 + rnd(60000), ip >> 16,
                             (ip >> 8) & 255, ip & 255, 1024 + rnd(60000));
    case 3:
        return ts_buf_printf(b,
                             "Jun %2u 10:%02u:%02u bastion sshd[%u]: Accepted publickey for %s "
                             "from 10.%u.%u.%u port %u ssh2: RSA SHA256:%08x",
                             1 + rnd(28), rnd(60), rnd(60), 1000 + rnd(60000), users[rnd(8)],
                             ip >> 16, (ip >> 8) & 255, ip & 255, 1024 + rnd(60000),
                             rnd(0x7fffffff));
    default:
        return ts_buf_printf(b,
                             "Jun %2u 10:%02u:%02u bastion sshd[%u]: Invalid user %s from "
                             "203.%u.%u.%u port %u",
                             1 + rnd(28), rnd(60), rnd(60), 1000 + rnd(60000), users[rnd(8)],
                             ip >> 16, (ip >> 8) & 255, ip & 255, 1024 + rnd(60000));
    }
}

/* Lines no decoder takes: the cost of looking. */
static int gen_other(struct ts_buf *b, int i)
{
    (void)i;
    return ts_buf_printf(b,
                         "Jun %2u 10:%02u:%02u host-%u CRON[%u]: (root) CMD (run-parts "
                         "/etc/cron.hourly)",
                         1 + rnd(28), rnd(60), rnd(60), rnd(9), 1000 + rnd(60000));
}

static int gen_asa(struct ts_buf *b, int i)
{
    (void)i;
    if (rnd(2))
        return ts_buf_printf(b,
                             "<166>Jun %02u 2024 10:%02u:%02u asa-1 : %%ASA-6-302013: Built "
                             "inbound TCP connection %u for outside:198.51.%u.%u/%u "
                             "(198.51.100.7/51234) to inside:10.0.0.%u/22 (10.0.0.5/22)",
                             1 + rnd(28), rnd(60), rnd(60), rnd(1000000), rnd(256), rnd(256),
                             1024 + rnd(60000), rnd(256));
    return ts_buf_printf(b,
                         "<164>Jun %02u 2024 10:%02u:%02u asa-1 : %%ASA-4-106023: Deny tcp src "
                         "outside:198.51.%u.%u/%u dst inside:10.0.0.%u/%u by access-group "
                         "\"OUTSIDE_IN\" [0x0, 0x0]",
                         1 + rnd(28), rnd(60), rnd(60), rnd(256), rnd(256), 1024 + rnd(60000),
                         rnd(256), rnd(1024));
}

static int gen(struct corpus *c, gen_fn f)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    for (int i = 0; i < NMSG; i++) {
        ts_buf_reset(&b);
        if (f(&b, i) || !(c->msg[i] = strdup(b.data))) {
            ts_buf_free(&b);
            return -1;
        }
        c->len[i] = (uint32_t)b.len;
        c->bytes += b.len;
    }
    ts_buf_free(&b);
    return 0;
}

static void corpus_free(struct corpus *c)
{
    for (int i = 0; i < NMSG; i++)
        free(c->msg[i]);
}

/* Run parse (+ decode when ds) for secs; print one line. */
static int bench(const char *label, enum ingest_format fmt, gen_fn f,
                 const struct norm_decoder_set *ds, struct norm_decoder_scratch *sc,
                 double secs)
{
    struct corpus c = {0};
    if (gen(&c, f)) {
        corpus_free(&c);
        return -1;
    }
    struct ts_arena *a;
    if (ts_arena_create(&a, 16u << 20, 256u << 20)) {
        corpus_free(&c);
        return -1;
    }
    struct ts_event *evs = calloc(NMSG, sizeof(*evs));
    if (!evs) {
        ts_arena_destroy(a);
        corpus_free(&c);
        return -1;
    }
    struct ingest_parse_opts opts = {0};
    uint64_t n = 0, bytes = 0, bad = 0, decoded = 0, fields = 0;
    int64_t now = ts_now_ns(), t0 = ts_mono_ns(), deadline = t0 + (int64_t)(secs * 1e9), t1;
    do {
        ts_arena_reset(a);
        for (int i = 0; i < NMSG; i++) {
            struct ts_event *ev = &evs[i];
            ts_event_init(ev, a);
            ev->raw = c.msg[i];
            ev->raw_len = c.len[i];
            ev->ingest_ns = now;
            struct ingest_diag d;
            if (ingest_parse(fmt, &opts, ev, &d)) {
                bad++;
                continue;
            }
            if (ds) {
                struct norm_decoder_explain ex;
                norm_decoder_apply(ds, sc, ev, n == 0 ? &ex : NULL);
                if (n == 0)
                    decoded += ex.decoder != NULL;
            }
            if (n == 0)
                fields += ev->nfields;
        }
        n += NMSG;
        bytes += c.bytes;
        t1 = ts_mono_ns();
    } while (t1 < deadline);
    double el = (double)(t1 - t0) / 1e9;
    printf("%s %s: %.0f events/s, %.1f MB/s (%.0f B/event, %.1f fields/event, %llu rejected",
           ds ? "parse+decode" : "parse", label, (double)n / el, (double)bytes / el / 1e6,
           (double)c.bytes / NMSG, (double)fields / NMSG, (unsigned long long)bad);
    if (ds)
        printf(", %llu of %d decoded", (unsigned long long)decoded, NMSG);
    printf(")\n");
    fflush(stdout);
    free(evs);
    ts_arena_destroy(a);
    corpus_free(&c);
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    if (secs <= 0)
        secs = 2.0;
    const char *dir = argc > 2 ? argv[2] : "etc/decoders";
    struct norm_decoder_set *ds = NULL;
    struct norm_decoder_scratch *sc = NULL;
    struct ts_err err = {0};
    if (norm_decoder_set_load(&ds, &dir, 1, &err) || norm_decoder_scratch_create(&sc, ds)) {
        char buf[1024];
        ts_err_format(&err, buf, sizeof(buf));
        fprintf(stderr, "bench_decode: %s\n", buf);
        norm_decoder_set_free(ds);
        return 1;
    }
    int rc = 0;
    rc |= bench("cef", INGEST_FMT_CEF, gen_cef, NULL, NULL, secs);
    rc |= bench("cef (auto)", INGEST_FMT_AUTO, gen_cef, NULL, NULL, secs);
    rc |= bench("leef", INGEST_FMT_LEEF, gen_leef, NULL, NULL, secs);
    rc |= bench("kv", INGEST_FMT_KV, gen_kv, NULL, NULL, secs);
    rc |= bench("kv (auto)", INGEST_FMT_AUTO, gen_kv, NULL, NULL, secs);
    rc |= bench("access", INGEST_FMT_ACCESS, gen_access, NULL, NULL, secs);
    rc |= bench("access (auto)", INGEST_FMT_AUTO, gen_access, NULL, NULL, secs);
    rc |= bench("rfc3164 sshd (rfc3164: no detection)", INGEST_FMT_RFC3164, gen_sshd, NULL, NULL,
                secs);
    rc |= bench("rfc3164 sshd (auto: detection cost)", INGEST_FMT_AUTO, gen_sshd, NULL, NULL,
                secs);
    rc |= bench("sshd", INGEST_FMT_AUTO, gen_sshd, ds, sc, secs);
    rc |= bench("cisco-asa", INGEST_FMT_AUTO, gen_asa, ds, sc, secs);
    rc |= bench("fortigate kv", INGEST_FMT_AUTO, gen_kv, ds, sc, secs);
    rc |= bench("access", INGEST_FMT_AUTO, gen_access, ds, sc, secs);
    rc |= bench("no decoder applies (cron)", INGEST_FMT_AUTO, gen_other, ds, sc, secs);
    norm_decoder_scratch_free(sc);
    norm_decoder_set_free(ds);
    if (rc)
        fprintf(stderr, "bench_decode: a synthetic message was rejected\n");
    return rc ? 1 : 0;
}
