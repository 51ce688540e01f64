/* check_intel.c - threat-intel import (CSV, MISP event JSON, STIX 2.1 bundle
 * from tests/data/intel/) and matching through the enricher: threat.* fields,
 * CIDR longest prefix, expiry against event time, Sysmon Hashes, domains and
 * URLs, first match wins, a new load visible at the next batch. Each test
 * builds its own LMDB directory under /tmp and removes it. */
#include <sys/stat.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "../../core/arena.h"
#include "../../core/event.h"
#include "../../core/tstime.h"
#include "../../enrich/enrich.h"

/* ------------------------------------------------------------- fixtures */

static char dbdir[64];
static char datadir[512];

static void data_dir_init(void)
{
    /* this file is tests/unit/check_intel.c: the data is ../data/intel */
    const char *f = __FILE__;
    const char *end = strstr(f, "tests/unit/check_intel.c");
    int n = end ? (int)(end - f) : 0;
    snprintf(datadir, sizeof(datadir), "%.*stests/data/intel", n, f);
    if (access(datadir, R_OK) != 0 && getenv("TOCSIN_SRC_DIR"))
        snprintf(datadir, sizeof(datadir), "%s/tests/data/intel", getenv("TOCSIN_SRC_DIR"));
}

static const char *data(const char *name)
{
    static char p[640];
    snprintf(p, sizeof(p), "%s/%s", datadir, name);
    return p;
}

static void rm_dir(const char *d)
{
    DIR *dir = opendir(d);
    if (!dir)
        return;
    struct dirent *e;
    char p[600];
    while ((e = readdir(dir)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
            unlink(p);
        }
    closedir(dir);
    rmdir(d);
}

static void setup(void)
{
    data_dir_init();
    snprintf(dbdir, sizeof(dbdir), "/tmp/tocsin-intel-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dbdir));
}

static void teardown(void)
{
    rm_dir(dbdir);
}

static struct enrich_intel_load_stats load_ok(const char *file)
{
    struct enrich_intel_load_stats st;
    struct ts_err err = {0};
    int rc = enrich_intel_load(dbdir, file, NULL, &st, &err);
    ck_assert_msg(rc == 0, "load %s: %s:%u:%u: %s", file, err.file, err.line, err.col, err.msg);
    return st;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* An enricher with intel only, one scratch, one arena. */
struct rig {
    struct enrich_set *e;
    struct enrich_scratch *s;
    struct ts_arena *arena;
    struct ts_event ev;
};

static void rig_open(struct rig *r)
{
    struct enrich_opts o = {.intel_db = dbdir};
    struct ts_err err = {0};
    int rc = enrich_set_create(&r->e, &o, &err);
    ck_assert_msg(rc == 0, "enricher: %s", err.msg);
    ck_assert_int_eq(enrich_scratch_create(&r->s, r->e), 0);
    ck_assert_int_eq(ts_arena_create(&r->arena, 64 << 10, 16 << 20), 0);
    ck_assert_int_eq(enrich_batch_begin(r->s), 0);
}

static void rig_close(struct rig *r)
{
    enrich_batch_end(r->s);
    enrich_scratch_free(r->s);
    enrich_set_free(r->e);
    ts_arena_destroy(r->arena);
}

/* A fresh event at 2025-06-01T00:00:00Z. */
static struct ts_event *new_event(struct rig *r)
{
    ts_arena_reset(r->arena);
    ts_event_init(&r->ev, r->arena);
    r->ev.time_ns = ts_epoch_from_utc(2025, 6, 1, 0, 0, 0) * TS_NS_PER_SEC;
    r->ev.time_from_event = true;
    r->ev.ingest_ns = r->ev.time_ns;
    return &r->ev;
}

static void add(struct ts_event *ev, const char *name, const char *val)
{
    ck_assert_int_eq(ts_event_add_str(ev, name, val, strlen(val)), 0);
}

static void enrich(struct rig *r)
{
    ck_assert_int_eq(enrich_event(r->e, r->s, &r->ev), 0);
}

static const struct ts_field *get(const struct ts_event *ev, const char *name)
{
    return ts_event_getz(ev, name);
}

static void assert_str(const struct ts_event *ev, const char *name, const char *want)
{
    const struct ts_field *f = get(ev, name);
    ck_assert_msg(f != NULL, "field %s missing", name);
    ck_assert_int_eq(f->v.type, TS_V_STR);
    ck_assert_msg(f->v.len == strlen(want) && memcmp(f->v.u.s, want, f->v.len) == 0,
                  "%s = \"%.*s\", want \"%s\"", name, (int)f->v.len, f->v.u.s, want);
}

static void assert_int(const struct ts_event *ev, const char *name, int64_t want)
{
    const struct ts_field *f = get(ev, name);
    ck_assert_msg(f != NULL, "field %s missing", name);
    ck_assert_int_eq(f->v.type, TS_V_INT);
    ck_assert_int_eq(f->v.u.i, want);
}

static void assert_match(const struct ts_event *ev, const char *indicator, const char *type,
                         const char *source, int confidence, const char *field)
{
    const struct ts_field *m = get(ev, "threat.matched");
    ck_assert_msg(m != NULL, "no threat.matched (wanted %s)", indicator);
    ck_assert_int_eq(m->v.type, TS_V_BOOL);
    ck_assert(m->v.u.b);
    assert_str(ev, "threat.indicator", indicator);
    assert_str(ev, "threat.type", type);
    assert_str(ev, "threat.source", source);
    assert_int(ev, "threat.confidence", confidence);
    assert_str(ev, "threat.field", field);
}

static void assert_no_match(const struct ts_event *ev)
{
    const struct ts_field *m = get(ev, "threat.indicator");
    ck_assert_msg(m == NULL, "unexpected match: %.*s", m ? (int)m->v.len : 0, m ? m->v.u.s : "");
    ck_assert_ptr_null(get(ev, "threat.matched"));
}

/* ----------------------------------------------------------------- import */

/* The intel database is data like the store: directory 0700, files 0600
 * whatever the umask (it was 0750 and 0640). */
START_TEST(test_intel_database_directory_is_0700_and_files_0600)
{
    char sub[300], f[400];
    snprintf(sub, sizeof(sub), "%s/db", dbdir);
    mode_t old = umask(0);
    struct enrich_intel_load_stats st;
    struct ts_err err = {0};
    int rc = enrich_intel_load(sub, data("iocs.csv"), NULL, &st, &err);
    umask(old);
    ck_assert_msg(rc == 0, "load: %s", err.msg);
    struct stat sb;
    ck_assert_int_eq(stat(sub, &sb), 0);
    ck_assert_msg((sb.st_mode & 0777) == 0700, "%s is %o", sub, sb.st_mode & 0777);
    const char *const files[] = {"data.mdb", "lock.mdb"};
    for (int i = 0; i < 2; i++) {
        snprintf(f, sizeof(f), "%s/%s", sub, files[i]);
        ck_assert_int_eq(stat(f, &sb), 0);
        ck_assert_msg((sb.st_mode & 0777) == 0600, "%s is %o", f, sb.st_mode & 0777);
    }
    rm_dir(sub);
}
END_TEST

START_TEST(test_csv_import_counts_each_type_and_skips_bad_rows)
{
    struct enrich_intel_load_stats st = load_ok(data("iocs.csv"));
    ck_assert_uint_eq(st.indicators, 10);
    ck_assert_uint_eq(st.ips, 1);
    ck_assert_uint_eq(st.cidrs, 3);
    ck_assert_uint_eq(st.domains, 2);
    ck_assert_uint_eq(st.urls, 1);
    ck_assert_uint_eq(st.hashes, 3);
    ck_assert_uint_eq(st.skipped, 2);
    ck_assert_uint_eq(st.expired, 2);
    ck_assert_msg(strstr(st.first_skip, "iocs.csv:13:") != NULL, "first_skip: %s", st.first_skip);
}
END_TEST

START_TEST(test_misp_event_imports_attributes_and_object_attributes)
{
    struct enrich_intel_load_stats st = load_ok(data("misp_event.json"));
    ck_assert_uint_eq(st.ips, 3);     /* ip-dst, ip-src|port, the ip of domain|ip */
    ck_assert_uint_eq(st.domains, 2); /* domain, the domain of domain|ip */
    ck_assert_uint_eq(st.urls, 1);
    ck_assert_uint_eq(st.hashes, 3);  /* sha256, filename|md5, the object's sha1 */
    ck_assert_uint_eq(st.indicators, 9);
    ck_assert_uint_eq(st.skipped, 4); /* to_ids false x3, email-src */

    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r);
    add(ev, "DestinationHostname", "mail-gov-login.example");
    enrich(&r);
    /* Orgc names the source; threat_level_id 1 (high) gives confidence 85 */
    assert_match(ev, "mail-gov-login.example", "domain", "VNCERT-test", 85, "DestinationHostname");
    ev = new_event(&r);
    add(ev, "QueryName", "ignored.example"); /* to_ids false: not imported */
    enrich(&r);
    assert_no_match(ev);
    rig_close(&r);
}
END_TEST

START_TEST(test_stix_bundle_imports_or_joined_comparisons_and_skips_and_patterns)
{
    struct enrich_intel_load_stats st = load_ok(data("stix_bundle.json"));
    ck_assert_uint_eq(st.ips, 1);
    ck_assert_uint_eq(st.cidrs, 1);
    ck_assert_uint_eq(st.domains, 1);
    ck_assert_uint_eq(st.urls, 1);
    ck_assert_uint_eq(st.hashes, 2);
    ck_assert_uint_eq(st.indicators, 6);
    ck_assert_uint_eq(st.skipped, 3); /* AND pattern, snort pattern, revoked */

    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r);
    add(ev, "dst_ip", "198.100.2.77");
    enrich(&r);
    /* the identity named by created_by_ref is the source */
    assert_match(ev, "198.100.2.0/24", "cidr", "NCSC-test", 85, "dst_ip");
    ev = new_event(&r);
    add(ev, "url", "http://stix-c2.example/it's");
    enrich(&r);
    assert_match(ev, "http://stix-c2.example/it's", "url", "NCSC-test", 50, "url");
    ev = new_event(&r);
    add(ev, "sha256", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    enrich(&r);
    assert_match(ev, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "sha256",
                 "stix", 70, "sha256");
    ev = new_event(&r);
    add(ev, "domain", "and.example"); /* its indicator used AND: not imported */
    enrich(&r);
    assert_no_match(ev);
    rig_close(&r);
}
END_TEST

/* A pattern of 100 OR-joined comparisons: the first 64 are imported, the
 * other 36 counted, and the indicator named in the load's warning. */
START_TEST(test_stix_comparisons_past_64_are_counted_and_warned)
{
    char path[128];
    snprintf(path, sizeof(path), "%s-big.json", dbdir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"type\": \"bundle\", \"id\": \"bundle--1\", \"objects\": [\n"
          " {\"type\": \"indicator\", \"id\": \"indicator--small\", \"pattern_type\": \"stix\","
          " \"pattern\": \"[domain-name:value = 'small.example']\"},\n"
          " {\"type\": \"indicator\", \"id\": \"indicator--big\", \"pattern_type\": \"stix\","
          " \"pattern\": \"[",
          f);
    for (int i = 0; i < 100; i++)
        fprintf(f, "%sipv4-addr:value = '198.18.0.%d'", i ? " OR " : "", i);
    fputs("]\"}\n]}\n", f);
    fclose(f);
    struct enrich_intel_load_stats st = load_ok(path);
    unlink(path);
    ck_assert_uint_eq(st.ips, 64);
    ck_assert_uint_eq(st.domains, 1);
    ck_assert_uint_eq(st.indicators, 65);
    ck_assert_uint_eq(st.skipped, 0);
    ck_assert_uint_eq(st.stix_cmp_dropped, 36);
    ck_assert_uint_eq(st.warnings, 1);
    ck_assert_msg(strstr(st.first_warning, "indicator--big: 64 of 100 comparisons kept") != NULL,
                  "%s", st.first_warning);
    ck_assert_msg(strncmp(st.first_warning, path, strlen(path)) == 0, "%s", st.first_warning);

    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r);
    add(ev, "dst_ip", "198.18.0.63"); /* the 64th: kept */
    enrich(&r);
    assert_match(ev, "198.18.0.63", "ip", "stix", 50, "dst_ip");
    ev = new_event(&r);
    add(ev, "dst_ip", "198.18.0.64"); /* the 65th: left out, and counted */
    enrich(&r);
    assert_no_match(ev);
    rig_close(&r);
}
END_TEST

START_TEST(test_invalid_json_error_names_file_line_col)
{
    char path[128];
    snprintf(path, sizeof(path), "%s-bad.json", dbdir);
    write_file(path, "{\n  \"type\": \"bundle\",\n  \"objects\": [ , ]\n}\n");
    struct enrich_intel_load_stats st;
    struct ts_err err = {0};
    int rc = enrich_intel_load(dbdir, path, NULL, &st, &err);
    unlink(path);
    ck_assert_int_eq(rc, TS_E_PARSE);
    ck_assert_str_eq(err.file, path);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_uint_gt(err.col, 0);
}
END_TEST

START_TEST(test_json_neither_misp_nor_stix_is_rejected)
{
    char path[128];
    snprintf(path, sizeof(path), "%s-other.json", dbdir);
    write_file(path, "{\"hello\": 1}\n");
    struct enrich_intel_load_stats st;
    struct ts_err err = {0};
    int rc = enrich_intel_load(dbdir, path, NULL, &st, &err);
    unlink(path);
    ck_assert_int_eq(rc, TS_E_PARSE);
    ck_assert_ptr_nonnull(strstr(err.msg, "neither a MISP event"));
}
END_TEST

START_TEST(test_csv_without_header_is_value_type_confidence_until_source)
{
    char path[128];
    snprintf(path, sizeof(path), "%s-plain.csv", dbdir);
    write_file(path, "# a plain list\r\n91.200.1.1\r\nshady.example,domain,77,,feedX\r\n"
                     "\r\n91.200.2.0/24,,,2099-01-01\r\n");
    struct enrich_intel_load_stats st;
    struct ts_err err = {0};
    ck_assert_int_eq(enrich_intel_load(dbdir, path, NULL, &st, &err), 0);
    ck_assert_uint_eq(st.indicators, 3);
    ck_assert_uint_eq(st.skipped, 0);
    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r);
    add(ev, "QueryName", "shady.example");
    enrich(&r);
    assert_match(ev, "shady.example", "domain", "feedX", 77, "QueryName");
    ev = new_event(&r);
    add(ev, "src_ip", "91.200.1.1");
    enrich(&r);
    /* no source column: the file's name */
    const char *base = strrchr(path, '/') + 1;
    assert_match(ev, "91.200.1.1", "ip", base, 50, "src_ip");
    rig_close(&r);
    unlink(path);
}
END_TEST

START_TEST(test_source_option_overrides_the_file)
{
    struct enrich_intel_load_stats st;
    struct ts_err err = {0};
    ck_assert_int_eq(enrich_intel_load(dbdir, data("misp_event.json"), "my-feed", &st, &err), 0);
    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r);
    add(ev, "dst_ip", "103.77.1.2");
    enrich(&r);
    assert_match(ev, "103.77.1.2", "ip", "my-feed", 85, "dst_ip");
    rig_close(&r);
}
END_TEST

START_TEST(test_missing_database_directory_is_a_config_error)
{
    struct enrich_opts o = {.intel_db = "/nonexistent/tocsin-intel"};
    struct enrich_set *e = NULL;
    struct ts_err err = {0};
    ck_assert_int_ne(enrich_set_create(&e, &o, &err), 0);
    ck_assert_ptr_null(e);
    ck_assert_str_eq(err.file, "/nonexistent/tocsin-intel");
    ck_assert_ptr_nonnull(strstr(err.msg, "tocsin intel load"));
}
END_TEST

/* ---------------------------------------------------------------- matching */

START_TEST(test_ip_match_sets_threat_fields)
{
    load_ok(data("iocs.csv"));
    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r);
    add(ev, "EventID", "3");
    add(ev, "DestinationIp", "45.13.7.9");
    uint32_t before = ev->nfields;
    enrich(&r);
    assert_match(ev, "45.13.7.9", "ip", "cert-test", 90, "DestinationIp");
    ck_assert_uint_eq(ev->nfields, before + 6);
    rig_close(&r);
}
END_TEST

START_TEST(test_cidr_longest_prefix_wins)
{
    load_ok(data("iocs.csv"));
    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r);
    add(ev, "src_ip", "45.13.7.10"); /* in the /24 and the /16 */
    enrich(&r);
    assert_match(ev, "45.13.7.0/24", "cidr", "cert-test", 60, "src_ip");
    ev = new_event(&r);
    add(ev, "src_ip", "45.13.200.1"); /* only the /16 */
    enrich(&r);
    assert_match(ev, "45.13.0.0/16", "cidr", "cert-test", 40, "src_ip");
    ev = new_event(&r);
    struct ts_ip ip;
    ck_assert_int_eq(ts_ip_parse("2a10:cafe:1::5", 14, &ip), 0);
    ck_assert_int_eq(ts_event_add_ip(ev, "SourceIp", &ip), 0); /* typed IP value */
    enrich(&r);
    assert_match(ev, "2a10:cafe::/32", "cidr", "cert-test", 70, "SourceIp");
    ev = new_event(&r);
    add(ev, "src_ip", "45.14.0.1");
    enrich(&r);
    assert_no_match(ev);
    rig_close(&r);
}
END_TEST

START_TEST(test_expired_indicator_is_ignored_at_lookup)
{
    load_ok(data("iocs.csv"));
    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r); /* 2025-06-01 */
    add(ev, "QueryName", "old-c2.example");   /* valid until 2020-01-01 */
    enrich(&r);
    assert_no_match(ev);
    ev = new_event(&r);
    ev->time_ns = ts_epoch_from_utc(2019, 12, 31, 23, 0, 0) * TS_NS_PER_SEC;
    add(ev, "QueryName", "old-c2.example"); /* an event from when it was valid */
    enrich(&r);
    assert_match(ev, "old-c2.example", "domain", "cert-test", 80, "QueryName");
    ev = new_event(&r);
    add(ev, "sha256", "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f");
    enrich(&r);
    assert_no_match(ev); /* expired at epoch 1700000000 */
    ev = new_event(&r);
    add(ev, "src_ip", "45.13.7.1"); /* the /24 is valid until 2030 */
    enrich(&r);
    assert_match(ev, "45.13.7.0/24", "cidr", "cert-test", 60, "src_ip");
    ev = new_event(&r);
    ev->time_ns = ts_epoch_from_utc(2031, 1, 1, 0, 0, 0) * TS_NS_PER_SEC;
    add(ev, "src_ip", "45.13.7.1"); /* after 2030 the /24 expired: the /16 remains */
    enrich(&r);
    assert_match(ev, "45.13.0.0/16", "cidr", "cert-test", 40, "src_ip");
    struct enrich_stats st;
    enrich_scratch_stats(r.s, &st);
    ck_assert_uint_ge(st.intel_expired, 3);
    rig_close(&r);
}
END_TEST

START_TEST(test_sysmon_hashes_field_matches_md5_among_others)
{
    load_ok(data("iocs.csv"));
    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r);
    add(ev, "Hashes", "SHA1=0000000000000000000000000000000000000001,"
                      "MD5=44D88612FEA8A8F36DE82E1278ABB02F,"
                      "SHA256=0000000000000000000000000000000000000000000000000000000000000002,"
                      "IMPHASH=00000000000000000000000000000003");
    enrich(&r);
    assert_match(ev, "44d88612fea8a8f36de82e1278abb02f", "md5", "cert-test", 95, "Hashes");
    ev = new_event(&r);
    add(ev, "hashes", "SHA1=3395856ce81f2b7382dee72602f798b642f14140"); /* field name case */
    enrich(&r);
    assert_match(ev, "3395856ce81f2b7382dee72602f798b642f14140", "sha1", "cert-test", 95,
                 "hashes");
    ev = new_event(&r);
    /* an IMPHASH equal to an md5 indicator is not a file hash */
    add(ev, "Hashes", "IMPHASH=44D88612FEA8A8F36DE82E1278ABB02F");
    enrich(&r);
    assert_no_match(ev);
    rig_close(&r);
}
END_TEST

START_TEST(test_domain_matches_case_insensitively_and_subdomains)
{
    load_ok(data("iocs.csv"));
    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r);
    add(ev, "QueryName", "CDN.Evil-Updates.EXAMPLE.");
    enrich(&r);
    assert_match(ev, "evil-updates.example", "domain", "cert-test", 80, "QueryName");
    ev = new_event(&r);
    add(ev, "cs-host", "evil-updates.example:8080");
    enrich(&r);
    assert_match(ev, "evil-updates.example", "domain", "cert-test", 80, "cs-host");
    ev = new_event(&r);
    add(ev, "QueryName", "not-evil-updates.example");
    enrich(&r);
    assert_no_match(ev);
    rig_close(&r);
}
END_TEST

START_TEST(test_url_field_matches_url_then_its_host)
{
    load_ok(data("iocs.csv"));
    load_ok(data("misp_event.json"));
    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r);
    add(ev, "c-uri", "HTTP://BAD.example:80/payload.exe?a=1,2#frag");
    enrich(&r);
    assert_match(ev, "http://bad.example/payload.exe?a=1,2", "url", "cert-test", 75, "c-uri");
    ev = new_event(&r);
    add(ev, "url", "https://drop.example/a/b.php"); /* MISP url with :443 and #x */
    enrich(&r);
    assert_match(ev, "https://drop.example/a/b.php", "url", "VNCERT-test", 85, "url");
    ev = new_event(&r);
    add(ev, "url", "https://user@drop.example/elsewhere");
    enrich(&r);
    assert_match(ev, "drop.example", "domain", "VNCERT-test", 85, "url");
    ev = new_event(&r);
    add(ev, "c-uri", "http://[::ffff:45.13.7.9]/x"); /* a v6-literal host, mapped v4 */
    enrich(&r);
    assert_match(ev, "45.13.7.9", "ip", "cert-test", 90, "c-uri");
    rig_close(&r);
}
END_TEST

START_TEST(test_first_match_wins_ip_fields_before_hashes)
{
    load_ok(data("iocs.csv"));
    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r);
    add(ev, "md5", "44d88612fea8a8f36de82e1278abb02f");
    add(ev, "dst_ip", "45.13.7.9");
    add(ev, "src_ip", "45.13.200.1");
    enrich(&r);
    /* IP fields first, in configured order: src_ip before dst_ip */
    assert_match(ev, "45.13.0.0/16", "cidr", "cert-test", 40, "src_ip");
    unsigned n = 0;
    for (uint32_t i = 0; i < ev->nfields; i++)
        n += strcmp(ev->fields[i].name, "threat.matched") == 0;
    ck_assert_uint_eq(n, 1);
    rig_close(&r);
}
END_TEST

START_TEST(test_no_match_adds_no_field_and_bloom_skips_lookups)
{
    load_ok(data("iocs.csv"));
    struct rig r;
    rig_open(&r);
    for (int i = 0; i < 200; i++) {
        struct ts_event *ev = new_event(&r);
        char ip[32];
        snprintf(ip, sizeof(ip), "77.%d.%d.1", i, i * 7 % 256);
        add(ev, "src_ip", ip);
        add(ev, "QueryName", "www.harmless.example");
        enrich(&r);
        ck_assert_uint_eq(ev->nfields, 2);
    }
    struct enrich_stats st;
    enrich_scratch_stats(r.s, &st);
    ck_assert_uint_eq(st.intel_matches, 0);
    ck_assert_uint_gt(st.intel_lookups, 0);
    /* nearly every absent key stops at the Bloom filter */
    ck_assert_uint_ge(st.intel_bloom_skips * 100, st.intel_lookups * 95);
    rig_close(&r);
}
END_TEST

START_TEST(test_new_load_is_visible_at_the_next_batch)
{
    load_ok(data("iocs.csv"));
    struct rig r;
    rig_open(&r); /* batch 1 has begun */
    load_ok(data("stix_bundle.json"));
    struct ts_event *ev = new_event(&r);
    add(ev, "dst_ip", "198.100.1.1");
    enrich(&r);
    assert_no_match(ev); /* the batch's snapshot predates the load */
    enrich_batch_end(r.s);
    ck_assert_int_eq(enrich_batch_begin(r.s), 0);
    ev = new_event(&r);
    add(ev, "dst_ip", "198.100.1.1");
    enrich(&r);
    assert_match(ev, "198.100.1.1", "ip", "NCSC-test", 85, "dst_ip");
    rig_close(&r);
}
END_TEST

START_TEST(test_without_batch_txn_intel_is_skipped)
{
    load_ok(data("iocs.csv"));
    struct rig r;
    rig_open(&r);
    enrich_batch_end(r.s);
    struct ts_event *ev = new_event(&r);
    add(ev, "src_ip", "45.13.7.9");
    enrich(&r);
    assert_no_match(ev);
    ck_assert_int_eq(enrich_batch_begin(r.s), 0);
    rig_close(&r);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("intel");
    TCase *imp = tcase_create("import");
    tcase_add_checked_fixture(imp, setup, teardown);
    tcase_set_timeout(imp, 30);
    tcase_add_test(imp, test_csv_import_counts_each_type_and_skips_bad_rows);
    tcase_add_test(imp, test_intel_database_directory_is_0700_and_files_0600);
    tcase_add_test(imp, test_misp_event_imports_attributes_and_object_attributes);
    tcase_add_test(imp, test_stix_bundle_imports_or_joined_comparisons_and_skips_and_patterns);
    tcase_add_test(imp, test_stix_comparisons_past_64_are_counted_and_warned);
    tcase_add_test(imp, test_invalid_json_error_names_file_line_col);
    tcase_add_test(imp, test_json_neither_misp_nor_stix_is_rejected);
    tcase_add_test(imp, test_csv_without_header_is_value_type_confidence_until_source);
    tcase_add_test(imp, test_source_option_overrides_the_file);
    tcase_add_test(imp, test_missing_database_directory_is_a_config_error);
    suite_add_tcase(s, imp);
    TCase *m = tcase_create("match");
    tcase_add_checked_fixture(m, setup, teardown);
    tcase_set_timeout(m, 30);
    tcase_add_test(m, test_ip_match_sets_threat_fields);
    tcase_add_test(m, test_cidr_longest_prefix_wins);
    tcase_add_test(m, test_expired_indicator_is_ignored_at_lookup);
    tcase_add_test(m, test_sysmon_hashes_field_matches_md5_among_others);
    tcase_add_test(m, test_domain_matches_case_insensitively_and_subdomains);
    tcase_add_test(m, test_url_field_matches_url_then_its_host);
    tcase_add_test(m, test_first_match_wins_ip_fields_before_hashes);
    tcase_add_test(m, test_no_match_adds_no_field_and_bloom_skips_lookups);
    tcase_add_test(m, test_new_load_is_visible_at_the_next_batch);
    tcase_add_test(m, test_without_batch_txn_intel_is_skipped);
    suite_add_tcase(s, m);
    return s;
}

TS_CHECK_MAIN(make_suite)
