/* bench_enrich.c - rate of enrich_event on realistic normalised events
 * (Sysmon process/network/DNS, sshd, firewall, web access: 6-12 fields each),
 * one thread, one intel read transaction per batch of 1000 as the pipeline
 * does; and the load time of a million threat-intel indicators.
 *
 * Usage: bench_enrich [seconds per figure, default 2] [indicators, default 1000000]
 * Prints one figure a line. Builds everything in a temp dir it removes:
 * the indicators as CSV (IPs, CIDRs, domains, URLs, md5/sha256), the LMDB,
 * and - when python3 and tests/tools/mmdb_write.py are there (run from the
 * repo root, or set TOCSIN_SRC_DIR) - City and ASN .mmdb with 20000
 * networks, else the GeoIP figures are skipped.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/arena.h"
#include "../core/event.h"
#include "../core/tstime.h"
#include "../enrich/enrich.h"

#define NEV 1000         /* events per batch */
#define NPUB 50000       /* distinct public addresses in the events */
#define NDOM 20000       /* distinct domains in the events */

static uint64_t rng = 0x243F6A8885A308D3ULL;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static char tmpdir[64];

/* A public-looking IPv4 (avoids 0/8, 10/8, 100.64/10, 127/8, 169.254/16,
 * 172.16/12, 192.168/16, 224/3) */
static void pub_ip(char *buf, size_t len)
{
    unsigned a;
    do
        a = 1 + rnd(223);
    while (a == 10 || a == 100 || a == 127 || a == 169 || a == 172 || a == 192 || a == 198 ||
           a == 203);
    snprintf(buf, len, "%u.%u.%u.%u", a, rnd(256), rnd(256), 1 + rnd(254));
}

static const char *const words[] = {"cdn", "update", "login", "mail", "api", "static", "portal",
                                    "secure", "files", "news", "cloud", "img", "auth", "app"};
static const char *const tlds[] = {"com", "net", "org", "vn", "info", "ru", "cn", "io"};

static void domain(char *buf, size_t len, uint32_t seed)
{
    snprintf(buf, len, "%s%u.%s-%u.%s", words[seed % 14], seed % 97, words[(seed / 14) % 14],
             seed, tlds[seed % 8]);
}

static void hex(char *buf, unsigned nbytes)
{
    static const char h[] = "0123456789abcdef";
    for (unsigned i = 0; i < 2 * nbytes; i++)
        buf[i] = h[rnd(16)];
    buf[2 * nbytes] = '\0';
}

/* --------------------------------------------------------------- events */

struct corpus {
    struct ts_arena *arena; /* the events' original fields, kept */
    struct ts_event ev[NEV];
    uint32_t nfields[NEV];
    struct ts_field *fields[NEV];
};

static char *dup_(struct ts_arena *a, const char *s)
{
    char *d = ts_arena_strndup(a, s, strlen(s));
    if (!d) {
        fprintf(stderr, "bench_enrich: arena full\n");
        exit(1);
    }
    return d;
}

static void addf(struct ts_event *ev, const char *name, const char *val)
{
    const char *v = dup_(ev->arena, val);
    if (ts_event_add_str(ev, name, v, strlen(v))) {
        fprintf(stderr, "bench_enrich: cannot add a field\n");
        exit(1);
    }
}

static void build_events(struct corpus *c, char (*pubs)[16], char (*doms)[64])
{
    if (ts_arena_create(&c->arena, 1 << 20, 64 << 20)) {
        fprintf(stderr, "bench_enrich: no memory\n");
        exit(1);
    }
    char b[256], h1[41], h2[33], h3[65], h4[33];
    for (int i = 0; i < NEV; i++) {
        struct ts_event *ev = &c->ev[i];
        ts_event_init(ev, c->arena);
        ev->time_ns = ts_now_ns();
        ev->time_from_event = true;
        ev->ingest_ns = ev->time_ns;
        char host[64];
        snprintf(host, sizeof(host), "ws-%03u.agency.local", rnd(500));
        switch (i % 6) {
        case 0: /* Sysmon 1 */
            addf(ev, "EventID", "1");
            addf(ev, "Channel", "Microsoft-Windows-Sysmon/Operational");
            addf(ev, "Computer", host);
            addf(ev, "Image", "C:\\Windows\\System32\\cmd.exe");
            addf(ev, "CommandLine", "cmd.exe /c whoami /all");
            addf(ev, "User", "AGENCY\\user17");
            hex(h1, 20), hex(h2, 16), hex(h3, 32), hex(h4, 16);
            snprintf(b, sizeof(b), "SHA1=%s,MD5=%s,SHA256=%s,IMPHASH=%s", h1, h2, h3, h4);
            addf(ev, "Hashes", b);
            addf(ev, "ParentImage", "C:\\Windows\\explorer.exe");
            addf(ev, "IntegrityLevel", "High");
            break;
        case 1: /* Sysmon 3 */
            addf(ev, "EventID", "3");
            addf(ev, "Computer", host);
            addf(ev, "Image", "C:\\Program Files\\Browser\\browser.exe");
            snprintf(b, sizeof(b), "10.20.%u.%u", rnd(256), 1 + rnd(254));
            addf(ev, "SourceIp", b);
            addf(ev, "DestinationIp", pubs[rnd(NPUB)]);
            addf(ev, "DestinationPort", "443");
            addf(ev, "DestinationHostname", doms[rnd(NDOM)]);
            addf(ev, "Protocol", "tcp");
            break;
        case 2: /* Sysmon 22 */
            addf(ev, "EventID", "22");
            addf(ev, "Computer", host);
            addf(ev, "Image", "C:\\Program Files\\Browser\\browser.exe");
            addf(ev, "QueryName", doms[rnd(NDOM)]);
            addf(ev, "QueryStatus", "0");
            break;
        case 3: /* sshd */
            addf(ev, "host", "portal-01");
            addf(ev, "program", "sshd");
            addf(ev, "src_ip", pubs[rnd(NPUB)]);
            addf(ev, "src_port", "51234");
            addf(ev, "username", "root");
            addf(ev, "auth_method", "password");
            addf(ev, "outcome", "failure");
            break;
        case 4: /* firewall */
            addf(ev, "host", "fw-01");
            snprintf(b, sizeof(b), "10.10.%u.%u", rnd(256), 1 + rnd(254));
            addf(ev, "src_ip", b);
            addf(ev, "dst_ip", pubs[rnd(NPUB)]);
            addf(ev, "dst_port", "8080");
            addf(ev, "proto", "tcp");
            addf(ev, "action", "deny");
            break;
        default: /* web access */
            addf(ev, "host", "portal-01");
            addf(ev, "c-ip", pubs[rnd(NPUB)]);
            addf(ev, "cs-method", "GET");
            addf(ev, "cs-uri-stem", "/index.php");
            addf(ev, "cs-uri-query", "id=1");
            addf(ev, "sc-status", "200");
            addf(ev, "cs-host", "portal.so-tttt-demo.gov.vn");
            addf(ev, "cs-user-agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)");
            break;
        }
        c->nfields[i] = ev->nfields;
        c->fields[i] = ev->fields;
    }
}

/* Events/s of enrichment, one read txn per batch of NEV. */
static double run(const struct enrich_set *e, struct corpus *c, double secs,
                  uint64_t *matches)
{
    struct enrich_scratch *s;
    struct ts_arena *batch;
    if (enrich_scratch_create(&s, e) || ts_arena_create(&batch, 1 << 20, 256 << 20)) {
        fprintf(stderr, "bench_enrich: no memory\n");
        exit(1);
    }
    uint64_t n = 0;
    int64_t t0 = ts_mono_ns(), end = t0 + (int64_t)(secs * 1e9), t;
    do {
        ts_arena_reset(batch);
        int rc = enrich_batch_begin(s);
        if (rc)
            fprintf(stderr, "bench_enrich: batch_begin: %s\n", ts_strerror(rc));
        for (int i = 0; i < NEV; i++) {
            struct ts_event *ev = &c->ev[i];
            /* back to the normalised event; new fields go to the batch arena */
            ev->fields = c->fields[i];
            ev->nfields = c->nfields[i];
            ev->cap = c->nfields[i];
            ev->arena = batch;
            if ((rc = enrich_event(e, s, ev))) {
                fprintf(stderr, "bench_enrich: %s\n", ts_strerror(rc));
                exit(1);
            }
        }
        enrich_batch_end(s);
        n += NEV;
        t = ts_mono_ns();
    } while (t < end);
    struct enrich_stats st;
    enrich_scratch_stats(s, &st);
    if (matches)
        *matches = st.intel_matches;
    enrich_scratch_free(s);
    ts_arena_destroy(batch);
    return (double)n / ((double)(t - t0) / 1e9);
}

/* ------------------------------------------------------------ indicators */

static int write_indicators(const char *path, uint64_t n, char (*pubs)[16], char (*doms)[64])
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "value,type,confidence,valid_until,source\n");
    char b[128], h[65];
    for (uint64_t i = 0; i < n; i++) {
        unsigned k = rnd(100);
        if (k < 40) {
            pub_ip(b, sizeof(b));
            fprintf(f, "%s,ip,%u,,bench\n", b, 30 + rnd(70));
        } else if (k < 41) { /* CIDR feeds are small (DROP lists): 1%, mostly /24 */
            unsigned plen = rnd(10) ? 24 - rnd(3) : 16 + rnd(5);
            pub_ip(b, sizeof(b));
            unsigned a, bb, cc, d;
            sscanf(b, "%u.%u.%u.%u", &a, &bb, &cc, &d);
            uint32_t v = a << 24 | bb << 16 | cc << 8 | d;
            v &= plen == 32 ? 0xffffffffu : ~((1u << (32 - plen)) - 1);
            fprintf(f, "%u.%u.%u.%u/%u,cidr,50,2099-01-01,bench\n", v >> 24, (v >> 16) & 255,
                    (v >> 8) & 255, v & 255, plen);
        } else if (k < 75) { /* 34% domains */
            domain(b, sizeof(b), 1000000 + (uint32_t)i);
            fprintf(f, "%s,domain,70,,bench\n", b);
        } else if (k < 85) {
            domain(b, sizeof(b), 3000000 + (uint32_t)i);
            fprintf(f, "http://%s/p/%u.php,url,60,,bench\n", b, rnd(100000));
        } else {
            hex(h, k < 95 ? 32 : 16);
            fprintf(f, "%s,,80,,bench\n", h);
        }
    }
    /* a few that the events will meet */
    for (int i = 0; i < 20; i++)
        fprintf(f, "%s,ip,90,,bench-hit\n", pubs[i * 997]);
    for (int i = 0; i < 20; i++)
        fprintf(f, "%s,domain,90,,bench-hit\n", doms[i * 331]);
    return fclose(f);
}

static void rm_tree(const char *d)
{
    DIR *dir = opendir(d);
    if (!dir)
        return;
    struct dirent *e;
    char p[600];
    while ((e = readdir(dir)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                rm_tree(p);
            else
                unlink(p);
        }
    closedir(dir);
    rmdir(d);
}

static uint64_t dir_bytes(const char *d)
{
    char p[600];
    struct stat st;
    uint64_t n = 0;
    snprintf(p, sizeof(p), "%s/data.mdb", d);
    if (stat(p, &st) == 0)
        n += (uint64_t)st.st_blocks * 512;
    return n;
}

/* City and ASN databases with 20000 networks, via the test writer. */
static int build_mmdb(const char *city, const char *asn)
{
    const char *src = getenv("TOCSIN_SRC_DIR");
    char script[512];
    snprintf(script, sizeof(script), "%s/tests/tools/mmdb_write.py", src ? src : ".");
    if (access(script, R_OK) != 0)
        return -1;
    char spec_c[128], spec_a[128];
    snprintf(spec_c, sizeof(spec_c), "%s/city.json", tmpdir);
    snprintf(spec_a, sizeof(spec_a), "%s/asn.json", tmpdir);
    FILE *fc = fopen(spec_c, "w"), *fa = fopen(spec_a, "w");
    if (!fc || !fa) {
        if (fc)
            fclose(fc);
        if (fa)
            fclose(fa);
        return -1;
    }
    fprintf(fc, "{\"database_type\": \"Bench-City\", \"networks\": [");
    fprintf(fa, "{\"database_type\": \"Bench-ASN\", \"networks\": [");
    /* every /20 under 1.0.0.0 - 223.255.255.255, sampled: 20000 distinct */
    unsigned seen = 0;
    for (uint32_t k = 0; seen < 20000; k++) {
        uint32_t net = (uint32_t)(((uint64_t)k * 2654435761u) % (223u << 12)) + (1u << 12);
        uint32_t v = net << 12;
        unsigned a = v >> 24;
        if (a == 10 || a == 100 || a == 127 || a == 169 || a == 172 || a == 192 || a == 198 ||
            a == 203 || a == 0)
            continue;
        unsigned cty = k % 100;
        fprintf(fc,
                "%s[\"%u.%u.%u.0/20\", {\"country\": {\"iso_code\": \"C%u\", \"names\": {\"en\": "
                "\"Country %u\"}}, \"city\": {\"names\": {\"en\": \"City %u\"}}, \"location\": "
                "{\"latitude\": %u.5, \"longitude\": %u.25}}]",
                seen ? "," : "", a, (v >> 16) & 255, (v >> 8) & 255, cty % 26, cty % 26, cty,
                cty % 80, cty);
        fprintf(fa,
                "%s[\"%u.%u.%u.0/20\", {\"autonomous_system_number\": %u, "
                "\"autonomous_system_organization\": \"AS org %u\"}]",
                seen ? "," : "", a, (v >> 16) & 255, (v >> 8) & 255, 1000 + k % 5000, k % 5000);
        seen++;
    }
    fprintf(fc, "]}\n");
    fprintf(fa, "]}\n");
    if (fclose(fc) || fclose(fa))
        return -1;
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "python3 '%s' json '%s' '%s' && python3 '%s' json '%s' '%s'",
             script, spec_c, city, script, spec_a, asn);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    uint64_t nind = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
    if (secs <= 0)
        secs = 2.0;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tocsin-bench-enrich-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    static char pubs[NPUB][16];
    static char doms[NDOM][64];
    for (int i = 0; i < NPUB; i++)
        pub_ip(pubs[i], sizeof(pubs[i]));
    for (int i = 0; i < NDOM; i++)
        domain(doms[i], sizeof(doms[i]), (uint32_t)i);
    static struct corpus c;
    build_events(&c, pubs, doms);

    int status = 0;
    struct ts_err err = {0};
    char csv[128], db[128], city[128], asn[128], assets[128];
    snprintf(csv, sizeof(csv), "%s/iocs.csv", tmpdir);
    snprintf(db, sizeof(db), "%s/intel", tmpdir);
    snprintf(city, sizeof(city), "%s/city.mmdb", tmpdir);
    snprintf(asn, sizeof(asn), "%s/asn.mmdb", tmpdir);
    snprintf(assets, sizeof(assets), "%s/assets.yml", tmpdir);
    FILE *af = fopen(assets, "w");
    if (af) {
        fputs("systems:\n"
              "  - {id: portal-01, name: Portal, level: 3, operator: IT, managing_body: PPC,\n"
              "     hostnames: [portal-01], ip_ranges: [10.10.0.0/16]}\n"
              "  - {id: lan, name: LAN, level: 2, ip_ranges: [10.20.0.0/16]}\n",
              af);
        fclose(af);
    }

    struct enrich_set *e = NULL;
    struct enrich_opts none = {0};
    if (enrich_set_create(&e, &none, &err) == 0) {
        printf("enrich, nothing configured: %.0f events/s\n", run(e, &c, secs, NULL));
        enrich_set_free(e);
    }
    struct enrich_opts oa = {.assets_file = assets};
    if (enrich_set_create(&e, &oa, &err) == 0) {
        printf("enrich, asset inventory: %.0f events/s\n", run(e, &c, secs, NULL));
        enrich_set_free(e);
    }

    /* a million indicators */
    if (write_indicators(csv, nind, pubs, doms)) {
        perror(csv);
        status = 1;
        goto out;
    }
    struct enrich_intel_load_stats st;
    int64_t t0 = ts_mono_ns();
    if (enrich_intel_load(db, csv, NULL, &st, &err)) {
        fprintf(stderr, "bench_enrich: intel load: %s: %s\n", err.file, err.msg);
        status = 1;
        goto out;
    }
    double lt = (double)(ts_mono_ns() - t0) / 1e9;
    printf("intel load: %llu indicators in %.2f s (%.0f indicators/s, CSV parse + LMDB + Bloom), "
           "database %.0f MiB\n",
           (unsigned long long)st.indicators, lt, (double)st.indicators / lt,
           (double)dir_bytes(db) / (1 << 20));
    uint64_t matches = 0;
    struct enrich_opts oi = {.intel_db = db};
    if (enrich_set_create(&e, &oi, &err) == 0) {
        double r = run(e, &c, secs, &matches);
        printf("enrich, intel with %llu indicators: %.0f events/s (%llu matches)\n",
               (unsigned long long)st.indicators, r, (unsigned long long)matches);
        enrich_set_free(e);
    } else {
        fprintf(stderr, "bench_enrich: %s\n", err.msg);
        status = 1;
    }

    if (build_mmdb(city, asn) == 0) {
        struct enrich_opts og = {.geoip_city_db = city, .geoip_asn_db = asn};
        if (enrich_set_create(&e, &og, &err) == 0) {
            printf("enrich, GeoIP City+ASN (20000 networks, cache %u slots): %.0f events/s\n",
                   2048u, run(e, &c, secs, NULL));
            enrich_set_free(e);
        }
        struct enrich_opts ga = {.geoip_city_db = city, .geoip_asn_db = asn,
                                        .assets_file = assets};
        if (enrich_set_create(&e, &ga, &err) == 0) {
            printf("enrich, GeoIP + assets, no intel: %.0f events/s\n", run(e, &c, secs, NULL));
            enrich_set_free(e);
        }
        struct enrich_opts all = {.geoip_city_db = city, .geoip_asn_db = asn,
                                         .assets_file = assets, .intel_db = db};
        if (enrich_set_create(&e, &all, &err) == 0) {
            printf("enrich, GeoIP + assets + intel (%llu): %.0f events/s\n",
                   (unsigned long long)st.indicators, run(e, &c, secs, NULL));
            enrich_set_free(e);
        }
    } else {
        printf("enrich, GeoIP: skipped (needs python3 and tests/tools/mmdb_write.py; run from "
               "the repo root or set TOCSIN_SRC_DIR)\n");
    }
out:
    ts_arena_destroy(c.arena);
    rm_tree(tmpdir);
    return status;
}
