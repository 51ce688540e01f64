/* check_enrich.c - GeoIP/ASN enrichment (ingest/geoip.c through enrich.h)
 * against City- and ASN-like .mmdb files that tests/tools/mmdb_write.py
 * builds into a temp dir at test time: fields per configured IP field, v4
 * and v6, private/reserved ranges tagged instead of looked up, the
 * per-thread cache, errors, and an enricher with nothing configured. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "../../core/arena.h"
#include "../../core/event.h"
#include "../../enrich/enrich.h"
#include "../../normalise/normalise.h"

static char tmpdir[64];
static char city_db[128], asn_db[128], flat_db[128], flat_spec[128];

static void build_dbs(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tocsin-geo-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(1);
    }
    const char *f = __FILE__;
    const char *end = strstr(f, "tests/unit/check_enrich.c");
    int n = end ? (int)(end - f) : 0;
    char script[512];
    snprintf(script, sizeof(script), "%.*stests/tools/mmdb_write.py", n, f);
    if (access(script, R_OK) != 0 && getenv("TOCSIN_SRC_DIR"))
        snprintf(script, sizeof(script), "%s/tests/tools/mmdb_write.py", getenv("TOCSIN_SRC_DIR"));
    snprintf(city_db, sizeof(city_db), "%s/city.mmdb", tmpdir);
    snprintf(asn_db, sizeof(asn_db), "%s/asn.mmdb", tmpdir);
    /* a flat layout (country_code, city, latitude, longitude) as some free
     * databases use */
    snprintf(flat_db, sizeof(flat_db), "%s/flat.mmdb", tmpdir);
    snprintf(flat_spec, sizeof(flat_spec), "%s/flat.json", tmpdir);
    FILE *fs = fopen(flat_spec, "w");
    if (!fs) {
        perror(flat_spec);
        exit(1);
    }
    fputs("{\"networks\": [[\"8.8.8.0/24\", {\"country_code\": \"US\", \"city\": \"Mountain "
          "View\", \"latitude\": 37.5, \"longitude\": -122.25}]]}\n",
          fs);
    fclose(fs);
    char cmd[2200];
    snprintf(cmd, sizeof(cmd),
             "python3 '%s' city '%s' && python3 '%s' asn '%s' && python3 '%s' json '%s' '%s'",
             script, city_db, script, asn_db, script, flat_spec, flat_db);
    if (system(cmd) != 0) {
        fprintf(stderr, "check_enrich: cannot build the test databases: %s\n", cmd);
        exit(1);
    }
}

static void remove_dbs(void)
{
    unlink(city_db);
    unlink(asn_db);
    unlink(flat_db);
    unlink(flat_spec);
    rmdir(tmpdir);
}

struct rig {
    struct enrich_set *e;
    struct enrich_scratch *s;
    struct ts_arena *arena;
    struct ts_event ev;
};

static void rig_open_opts(struct rig *r, const struct enrich_opts *o)
{
    struct ts_err err = {0};
    int rc = enrich_set_create(&r->e, o, &err);
    ck_assert_msg(rc == 0, "enricher: %s: %s", err.file, err.msg);
    ck_assert_int_eq(enrich_scratch_create(&r->s, r->e), 0);
    ck_assert_int_eq(ts_arena_create(&r->arena, 64 << 10, 16 << 20), 0);
    ck_assert_int_eq(enrich_batch_begin(r->s), 0);
}

static void rig_open(struct rig *r)
{
    struct enrich_opts o = {.geoip_city_db = city_db, .geoip_asn_db = asn_db};
    rig_open_opts(r, &o);
}

static void rig_close(struct rig *r)
{
    enrich_batch_end(r->s);
    enrich_scratch_free(r->s);
    enrich_set_free(r->e);
    ts_arena_destroy(r->arena);
}

static struct ts_event *new_event(struct rig *r)
{
    ts_arena_reset(r->arena);
    ts_event_init(&r->ev, r->arena);
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

static void assert_str(const struct ts_event *ev, const char *name, const char *want)
{
    const struct ts_field *f = ts_event_getz(ev, name);
    ck_assert_msg(f != NULL, "field %s missing", name);
    ck_assert_int_eq(f->v.type, TS_V_STR);
    ck_assert_msg(f->v.len == strlen(want) && memcmp(f->v.u.s, want, f->v.len) == 0,
                  "%s = \"%.*s\", want \"%s\"", name, (int)f->v.len, f->v.u.s, want);
}

static void assert_absent(const struct ts_event *ev, const char *name)
{
    ck_assert_msg(ts_event_getz(ev, name) == NULL, "field %s present", name);
}

static double get_float(const struct ts_event *ev, const char *name)
{
    const struct ts_field *f = ts_event_getz(ev, name);
    ck_assert_msg(f != NULL, "field %s missing", name);
    ck_assert_int_eq(f->v.type, TS_V_FLOAT);
    return f->v.u.f;
}

static int64_t get_int(const struct ts_event *ev, const char *name)
{
    const struct ts_field *f = ts_event_getz(ev, name);
    ck_assert_msg(f != NULL, "field %s missing", name);
    ck_assert_int_eq(f->v.type, TS_V_INT);
    return f->v.u.i;
}

START_TEST(test_public_v4_gets_country_city_location_and_asn)
{
    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r);
    add(ev, "src_ip", "14.160.40.1"); /* in the /19 (HCMC) inside the /11 (Hanoi) */
    enrich(&r);
    assert_str(ev, "src_ip.geo.country", "VN");
    assert_str(ev, "src_ip.geo.country_name", "Vietnam");
    assert_str(ev, "src_ip.geo.city", "Ho Chi Minh City");
    ck_assert_double_eq_tol(get_float(ev, "src_ip.geo.lat"), 10.8231, 1e-9);
    ck_assert_double_eq_tol(get_float(ev, "src_ip.geo.lon"), 106.6297, 1e-9);
    ck_assert_int_eq(get_int(ev, "src_ip.as.number"), 45899);
    assert_str(ev, "src_ip.as.org", "VNPT Corp");
    assert_absent(ev, "src_ip.geo.scope");
    ev = new_event(&r);
    add(ev, "dst_ip", "14.170.0.1"); /* the /11 only */
    enrich(&r);
    assert_str(ev, "dst_ip.geo.city", "Hanoi");
    rig_close(&r);
}
END_TEST

START_TEST(test_public_v6_and_typed_ip_values_are_looked_up)
{
    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r);
    struct ts_ip ip;
    ck_assert_int_eq(ts_ip_parse("2402:800:1::9", 13, &ip), 0);
    ck_assert_int_eq(ts_event_add_ip(ev, "DestinationIp", &ip), 0);
    add(ev, "SourceIp", "::ffff:8.8.8.8"); /* mapped v4 counts as v4 */
    enrich(&r);
    assert_str(ev, "DestinationIp.geo.country", "VN");
    ck_assert_int_eq(get_int(ev, "DestinationIp.as.number"), 7552);
    assert_str(ev, "DestinationIp.as.org", "Viettel Group");
    assert_str(ev, "SourceIp.geo.country", "US");
    assert_str(ev, "SourceIp.geo.city", "Mountain View");
    assert_str(ev, "SourceIp.as.org", "Google LLC");
    rig_close(&r);
}
END_TEST

START_TEST(test_missing_parts_are_left_out)
{
    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r);
    add(ev, "src_ip", "1.1.1.1");       /* no city in the City db */
    add(ev, "dst_ip", "2001:4860::8888"); /* no city, no location */
    add(ev, "c-ip", "9.9.9.9");        /* in neither database */
    enrich(&r);
    assert_str(ev, "src_ip.geo.country", "AU");
    assert_absent(ev, "src_ip.geo.city");
    ck_assert_double_eq_tol(get_float(ev, "src_ip.geo.lat"), -33.494, 1e-9);
    assert_str(ev, "src_ip.as.org", "Cloudflare, Inc.");
    assert_str(ev, "dst_ip.geo.country", "US");
    assert_absent(ev, "dst_ip.geo.lat");
    ck_assert_int_eq(get_int(ev, "dst_ip.as.number"), 15169);
    for (uint32_t i = 0; i < ev->nfields; i++)
        ck_assert_msg(strncmp(ev->fields[i].name, "c-ip.", 5) != 0, "%s added",
                      ev->fields[i].name);
    rig_close(&r);
}
END_TEST

START_TEST(test_private_and_reserved_ranges_are_tagged_not_looked_up)
{
    static const struct {
        const char *ip, *scope;
    } cases[] = {
        {"10.1.2.3", "private"},          {"172.31.255.1", "private"},
        {"192.168.1.1", "private"},       {"127.0.0.1", "loopback"},
        {"169.254.10.1", "link-local"},   {"100.64.0.1", "cgnat"},
        {"100.127.255.254", "cgnat"},     {"192.0.2.1", "documentation"},
        {"198.51.100.7", "documentation"}, {"203.0.113.200", "documentation"},
        {"224.0.0.251", "multicast"},     {"239.255.255.250", "multicast"},
        {"255.255.255.255", "broadcast"}, {"0.0.0.0", "unspecified"},
        {"0.1.2.3", "reserved"},          {"240.0.0.1", "reserved"},
        {"198.18.0.1", "benchmark"},      {"::1", "loopback"},
        {"::", "unspecified"},            {"fe80::1", "link-local"},
        {"fd12:3456::1", "private"},      {"ff02::1", "multicast"},
        {"2001:db8::1", "documentation"}, {"::ffff:192.168.0.9", "private"},
        {"::ffff:127.0.0.1", "loopback"}, {"fec0::1", "reserved"},
        {"4000::1", "reserved"},
    };
    struct rig r;
    rig_open(&r);
    for (size_t i = 0; i < TS_ARRAY_LEN(cases); i++) {
        struct ts_event *ev = new_event(&r);
        add(ev, "src_ip", cases[i].ip);
        enrich(&r);
        assert_str(ev, "src_ip.geo.scope", cases[i].scope);
        ck_assert_uint_eq(ev->nfields, 2);
    }
    struct enrich_stats st;
    enrich_scratch_stats(r.s, &st);
    ck_assert_uint_eq(st.geo_lookups, 0);
    ck_assert_uint_eq(st.geo_scoped, TS_ARRAY_LEN(cases));
    /* the edges stay global */
    struct ts_event *ev = new_event(&r);
    add(ev, "src_ip", "100.128.0.1");
    add(ev, "dst_ip", "172.32.0.1");
    enrich(&r);
    assert_absent(ev, "src_ip.geo.scope");
    assert_absent(ev, "dst_ip.geo.scope");
    rig_close(&r);
}
END_TEST

START_TEST(test_cache_hit_returns_the_same_result)
{
    struct rig r;
    rig_open(&r);
    for (int i = 0; i < 3; i++) {
        struct ts_event *ev = new_event(&r);
        add(ev, "src_ip", "8.8.8.8");
        enrich(&r);
        assert_str(ev, "src_ip.geo.country", "US");
        assert_str(ev, "src_ip.as.org", "Google LLC");
    }
    struct enrich_stats st;
    enrich_scratch_stats(r.s, &st);
    ck_assert_uint_eq(st.geo_lookups, 3);
    ck_assert_uint_eq(st.geo_cache_hits, 2);
    rig_close(&r);
}
END_TEST

START_TEST(test_cache_evictions_never_mix_up_addresses)
{
    /* far more addresses than cache slots, from three networks, twice over:
     * every answer must belong to its own address */
    struct rig r;
    rig_open(&r);
    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < 6000; i++) {
            struct ts_event *ev = new_event(&r);
            char ip[32];
            const char *want;
            switch (i % 3) {
            case 0:
                snprintf(ip, sizeof(ip), "14.%u.%u.%u", 160 + (i >> 16) % 32, (i >> 8) & 255,
                         i & 255);
                want = "VN";
                break;
            case 1:
                snprintf(ip, sizeof(ip), "45.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
                want = "DE";
                break;
            default:
                snprintf(ip, sizeof(ip), "8.8.8.%u", i & 255);
                want = "US";
                break;
            }
            add(ev, "src_ip", ip);
            enrich(&r);
            assert_str(ev, "src_ip.geo.country", want);
        }
    struct enrich_stats st;
    enrich_scratch_stats(r.s, &st);
    ck_assert_uint_eq(st.geo_lookups, 12000);
    ck_assert_uint_gt(st.geo_cache_hits, 0);
    ck_assert_uint_lt(st.geo_cache_hits, 12000);
    rig_close(&r);
}
END_TEST

START_TEST(test_configured_fields_only_and_names_case_insensitive)
{
    const char *fields[] = {"PeerAddress"};
    struct enrich_opts o = {.geoip_city_db = city_db, .ip_fields = fields, .nip_fields = 1};
    struct rig r;
    rig_open_opts(&r, &o);
    struct ts_event *ev = new_event(&r);
    add(ev, "peeraddress", "8.8.8.8");
    add(ev, "src_ip", "8.8.8.8"); /* not configured any more */
    enrich(&r);
    assert_str(ev, "PeerAddress.geo.country", "US"); /* named as configured */
    assert_absent(ev, "src_ip.geo.country");
    assert_absent(ev, "PeerAddress.as.number"); /* no ASN database */
    rig_close(&r);
}
END_TEST

START_TEST(test_list_values_use_the_first_address)
{
    struct rig r;
    rig_open(&r);
    struct ts_event *ev = new_event(&r);
    struct ts_value *items = ts_arena_alloc(r.arena, 2 * sizeof(*items));
    ck_assert_ptr_nonnull(items);
    items[0] = ts_v_str("not-an-ip", 9);
    items[1] = ts_v_str("1.1.1.1", 7);
    struct ts_value v = {.type = TS_V_LIST, .len = 2};
    v.u.items = items;
    ck_assert_int_eq(ts_event_add(ev, "client.ip", 9, &v), 0);
    enrich(&r);
    assert_str(ev, "client.ip.geo.country", "AU");
    rig_close(&r);
}
END_TEST

START_TEST(test_flat_layout_database_is_read_too)
{
    struct enrich_opts o = {.geoip_city_db = flat_db};
    struct rig r;
    rig_open_opts(&r, &o);
    struct ts_event *ev = new_event(&r);
    add(ev, "src_ip", "8.8.8.8");
    enrich(&r);
    assert_str(ev, "src_ip.geo.country", "US");
    assert_str(ev, "src_ip.geo.city", "Mountain View");
    ck_assert_double_eq_tol(get_float(ev, "src_ip.geo.lon"), -122.25, 1e-9);
    rig_close(&r);
}
END_TEST

START_TEST(test_missing_database_fails_with_mmdb_message)
{
    struct enrich_opts o = {.geoip_city_db = "/nonexistent/City.mmdb"};
    struct enrich_set *e = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(enrich_set_create(&e, &o, &err), TS_E_IO);
    ck_assert_ptr_null(e);
    ck_assert_str_eq(err.file, "/nonexistent/City.mmdb");
    ck_assert_msg(strstr(err.msg, "Error opening the specified MaxMind DB file") != NULL, "%s",
                  err.msg);
}
END_TEST

START_TEST(test_corrupt_database_is_rejected)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/bad.mmdb", tmpdir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("this is not a MaxMind database\n", f);
    fclose(f);
    struct enrich_opts o = {.geoip_asn_db = path};
    struct enrich_set *e = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(enrich_set_create(&e, &o, &err), TS_E_CONFIG);
    unlink(path);
    ck_assert_msg(strstr(err.msg, "cannot open GeoIP database") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_nothing_configured_changes_nothing)
{
    struct enrich_opts o = {0};
    struct rig r;
    rig_open_opts(&r, &o);
    ck_assert_int_eq(enrich_set_active(r.e), 0);
    struct ts_event *ev = new_event(&r);
    add(ev, "src_ip", "8.8.8.8");
    add(ev, "host", "portal-01");
    enrich(&r);
    ck_assert_uint_eq(ev->nfields, 2);
    rig_close(&r);
}
END_TEST

START_TEST(test_full_arena_is_reported_not_crashed)
{
    struct rig r;
    rig_open(&r);
    struct ts_arena *tiny;
    ck_assert_int_eq(ts_arena_create(&tiny, 256, 512), 0);
    struct ts_event ev;
    ts_event_init(&ev, tiny);
    int rc = 0;
    for (int i = 0; i < 16 && rc == 0; i++)
        rc = ts_event_add_str(&ev, "src_ip", "8.8.8.8", 7);
    if (rc == 0) /* room left: enrichment must eventually hit the cap */
        for (int i = 0; i < 64 && rc == 0; i++)
            rc = enrich_event(r.e, r.s, &ev);
    ck_assert(rc == TS_E_NOMEM || rc == TS_E_LIMIT);
    ts_arena_destroy(tiny);
    rig_close(&r);
}
END_TEST

/* ---------------------------------------------- enrichment's own namespaces */

static const char inventory_yml[] =
    "systems:\n"
    "  - id: portal-01\n"
    "    name: Portal\n"
    "    level: 3\n"
    "    hostnames: [portal-01]\n"
    "    ip_ranges: [10.10.1.0/24]\n"
    "  - id: ketoan-pc07\n"
    "    name: Accounting PC 07\n"
    "    level: 2\n"
    "    hostnames: [ketoan-pc07]\n";

static void rig_open_assets(struct rig *r, char *path, size_t len)
{
    snprintf(path, len, "%s/assets.yml", tmpdir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(inventory_yml, f);
    fclose(f);
    struct enrich_opts o = {.geoip_city_db = city_db, .assets_file = path};
    rig_open_opts(r, &o);
}

static unsigned count_named(const struct ts_event *ev, const char *name)
{
    unsigned n = 0;
    for (uint32_t i = 0; i < ev->nfields; i++)
        n += ev->fields[i].name_len == strlen(name) &&
             memcmp(ev->fields[i].name, name, ev->fields[i].name_len) == 0;
    return n;
}

START_TEST(test_input_asset_id_cannot_name_another_system)
{
    char path[192];
    struct rig r;
    rig_open_assets(&r, path, sizeof(path));
    struct ts_event *ev = new_event(&r);
    add(ev, "host", "ketoan-pc07");
    add(ev, "asset.id", "portal-01");
    enrich(&r);
    assert_str(ev, "asset.id", "ketoan-pc07");
    ck_assert_uint_eq(count_named(ev, "asset.id"), 1);
    assert_str(ev, "input.asset.id", "portal-01"); /* kept, under input.* */
    struct enrich_stats st;
    enrich_scratch_stats(r.s, &st);
    ck_assert_uint_eq(st.input_reserved_renamed, 1);

    /* a host the inventory does not know: no asset at all */
    ev = new_event(&r);
    add(ev, "host", "nobody-knows-me");
    add(ev, "Asset.Id", "portal-01"); /* names compare case-insensitively */
    add(ev, "asset.level", "5");
    enrich(&r);
    ck_assert_uint_eq(count_named(ev, "asset.id"), 0);
    ck_assert_ptr_null(ts_event_getz(ev, "Asset.Id"));
    ck_assert_ptr_null(ts_event_getz(ev, "asset.level"));
    assert_str(ev, "input.Asset.Id", "portal-01");
    assert_str(ev, "input.asset.level", "5");
    enrich_scratch_stats(r.s, &st);
    ck_assert_uint_eq(st.input_reserved_renamed, 3);
    unlink(path);
    rig_close(&r);
}
END_TEST

START_TEST(test_input_threat_and_geo_fields_are_renamed_before_enrichment)
{
    char path[192];
    struct rig r;
    rig_open_assets(&r, path, sizeof(path));
    struct ts_event *ev = new_event(&r);
    add(ev, "src_ip", "8.8.8.8");
    add(ev, "src_ip.geo.country", "VN");
    add(ev, "SRC_IP.as.org", "Spoofed ISP");
    add(ev, "dst_ip.geo.scope", "private");
    ck_assert_int_eq(ts_event_add_bool(ev, "threat.matched", true), 0);
    add(ev, "threat.indicator", "8.8.8.8");
    /* not enrichment's: ECS's own geo of a source, a name that merely starts
     * alike, an IP field enrichment does not look at */
    add(ev, "source.geo.country_iso_code", "VN");
    add(ev, "assets", "many");
    add(ev, "threatening", "no");
    add(ev, "other_ip.geo.country", "VN");
    enrich(&r);
    assert_str(ev, "src_ip.geo.country", "US");
    ck_assert_uint_eq(count_named(ev, "src_ip.geo.country"), 1);
    assert_str(ev, "input.src_ip.geo.country", "VN");
    assert_str(ev, "input.SRC_IP.as.org", "Spoofed ISP");
    assert_str(ev, "input.dst_ip.geo.scope", "private");
    assert_str(ev, "input.threat.indicator", "8.8.8.8");
    ck_assert_ptr_null(ts_event_getz(ev, "threat.matched"));
    ck_assert_ptr_null(ts_event_getz(ev, "dst_ip.geo.scope"));
    ck_assert_ptr_nonnull(ts_event_getz(ev, "input.threat.matched"));
    assert_str(ev, "source.geo.country_iso_code", "VN");
    assert_str(ev, "assets", "many");
    assert_str(ev, "threatening", "no");
    assert_str(ev, "other_ip.geo.country", "VN");
    struct enrich_stats st;
    enrich_scratch_stats(r.s, &st);
    ck_assert_uint_eq(st.input_reserved_renamed, 5);
    unlink(path);
    rig_close(&r);
}
END_TEST

START_TEST(test_input_reserved_fields_renamed_with_nothing_configured)
{
    struct enrich_opts o = {0};
    struct rig r;
    rig_open_opts(&r, &o);
    struct ts_event *ev = new_event(&r);
    add(ev, "host", "ketoan-pc07");
    add(ev, "asset.id", "portal-01");
    enrich(&r);
    ck_assert_ptr_null(ts_event_getz(ev, "asset.id"));
    assert_str(ev, "input.asset.id", "portal-01");
    struct enrich_stats st;
    enrich_scratch_stats(r.s, &st);
    ck_assert_uint_eq(st.input_reserved_renamed, 1);
    rig_close(&r);
}
END_TEST

START_TEST(test_input_reserved_field_dropped_when_arena_full)
{
    struct enrich_opts o = {0};
    struct rig r;
    rig_open_opts(&r, &o);
    struct ts_arena *tiny;
    ck_assert_int_eq(ts_arena_create(&tiny, 1024, 1024), 0);
    struct ts_event ev;
    ts_event_init(&ev, tiny);
    ck_assert_int_eq(ts_event_add_str(&ev, "asset.id", "portal-01", 9), 0);
    ck_assert_int_eq(ts_event_add_str(&ev, "host", "h", 1), 0);
    while (ts_arena_alloc(tiny, 8)) /* fill it */
        ;
    ck_assert_int_eq(enrich_event(r.e, r.s, &ev), 0);
    ck_assert_uint_eq(ev.nfields, 1); /* never left under its own name */
    ck_assert_ptr_nonnull(ts_event_getz(&ev, "host"));
    struct enrich_stats st;
    enrich_scratch_stats(r.s, &st);
    ck_assert_uint_eq(st.input_reserved_renamed, 0);
    ck_assert_uint_eq(st.input_reserved_dropped, 1);
    ts_arena_destroy(tiny);
    rig_close(&r);
}
END_TEST

/* Normalisation with no enrichment options (no --assets, GeoIP or intel:
 * `run` with only escalate.assets, `replay` without --assets) still takes
 * asset.* / threat.* from the input (issue 17). */
START_TEST(test_normalise_without_enrich_opts_renames_input_asset_fields)
{
    struct norm_opts no = {0}; /* no decoders, profiles, enrichment */
    struct norm_set *n = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(norm_set_create(&n, &no, &err), 0);
    struct norm_scratch *s = NULL;
    ck_assert_int_eq(norm_scratch_create(&s, n), 0);
    struct ts_arena *arena;
    ck_assert_int_eq(ts_arena_create(&arena, 4096, 1 << 20), 0);
    struct ts_event ev;
    ts_event_init(&ev, arena);
    add(&ev, "host", "ketoan-pc07");
    add(&ev, "asset.id", "portal-01");
    add(&ev, "THREAT.matched", "true");
    ck_assert_int_eq(norm_apply(n, s, &ev, NULL), 0);
    ck_assert_ptr_null(ts_event_getz(&ev, "asset.id"));
    ck_assert_ptr_null(ts_event_getz(&ev, "threat.matched"));
    assert_str(&ev, "input.asset.id", "portal-01");
    assert_str(&ev, "input.THREAT.matched", "true");
    assert_str(&ev, "host", "ketoan-pc07");
    norm_scratch_free(s);
    norm_set_free(n);
    ts_arena_destroy(arena);
}
END_TEST

/* The renamed/dropped counts reach the norm_set (what replay's summary
 * prints): added at each batch end and when a scratch is freed, summed over
 * scratches. */
START_TEST(test_norm_stats_sum_renamed_and_dropped_input_fields_over_scratches)
{
    struct norm_opts no = {0};
    struct norm_set *n = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(norm_set_create(&n, &no, &err), 0);
    struct norm_stats ns;
    norm_stats(n, &ns);
    ck_assert_uint_eq(ns.input_reserved_renamed + ns.input_reserved_dropped + ns.events, 0);
    struct norm_scratch *s1 = NULL, *s2 = NULL;
    ck_assert_int_eq(norm_scratch_create(&s1, n), 0);
    ck_assert_int_eq(norm_scratch_create(&s2, n), 0);
    struct ts_arena *arena, *tiny;
    ck_assert_int_eq(ts_arena_create(&arena, 4096, 1 << 20), 0);
    ck_assert_int_eq(ts_arena_create(&tiny, 1024, 1024), 0);
    struct ts_event ev;
    for (int i = 0; i < 3; i++) { /* s1: 3 events, 2 renamed each */
        ts_arena_reset(arena);
        ts_event_init(&ev, arena);
        add(&ev, "asset.id", "portal-01");
        add(&ev, "threat.matched", "true");
        add(&ev, "host", "h");
        ck_assert_int_eq(norm_apply(n, s1, &ev, NULL), 0);
    }
    norm_stats(n, &ns);
    ck_assert_uint_eq(ns.input_reserved_renamed, 0); /* not per event: at the batch end */
    norm_set_batch_end(s1);
    norm_stats(n, &ns);
    ck_assert_uint_eq(ns.events, 3);
    ck_assert_uint_eq(ns.input_reserved_renamed, 6);
    ck_assert_uint_eq(ns.input_reserved_dropped, 0);
    /* s2: one dropped (no room in the arena for input.asset.id) */
    ts_event_init(&ev, tiny);
    add(&ev, "asset.id", "portal-01");
    while (ts_arena_alloc(tiny, 8))
        ;
    ck_assert_int_eq(norm_apply(n, s2, &ev, NULL), 0);
    ck_assert_uint_eq(ev.nfields, 0);
    norm_scratch_free(s2); /* freeing adds what it counted */
    norm_set_batch_end(s1);    /* nothing new: nothing added twice */
    norm_scratch_free(s1);
    norm_stats(n, &ns);
    ck_assert_uint_eq(ns.events, 4);
    ck_assert_uint_eq(ns.input_reserved_renamed, 6);
    ck_assert_uint_eq(ns.input_reserved_dropped, 1);
    norm_stats(NULL, &ns);
    ck_assert_uint_eq(ns.events, 0);
    norm_set_free(n);
    ts_arena_destroy(arena);
    ts_arena_destroy(tiny);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("enrich");
    TCase *tc = tcase_create("geoip");
    tcase_add_unchecked_fixture(tc, build_dbs, remove_dbs);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_public_v4_gets_country_city_location_and_asn);
    tcase_add_test(tc, test_public_v6_and_typed_ip_values_are_looked_up);
    tcase_add_test(tc, test_missing_parts_are_left_out);
    tcase_add_test(tc, test_private_and_reserved_ranges_are_tagged_not_looked_up);
    tcase_add_test(tc, test_cache_hit_returns_the_same_result);
    tcase_add_test(tc, test_cache_evictions_never_mix_up_addresses);
    tcase_add_test(tc, test_configured_fields_only_and_names_case_insensitive);
    tcase_add_test(tc, test_list_values_use_the_first_address);
    tcase_add_test(tc, test_flat_layout_database_is_read_too);
    tcase_add_test(tc, test_missing_database_fails_with_mmdb_message);
    tcase_add_test(tc, test_corrupt_database_is_rejected);
    tcase_add_test(tc, test_nothing_configured_changes_nothing);
    tcase_add_test(tc, test_full_arena_is_reported_not_crashed);
    tcase_add_test(tc, test_input_asset_id_cannot_name_another_system);
    tcase_add_test(tc, test_input_threat_and_geo_fields_are_renamed_before_enrichment);
    tcase_add_test(tc, test_input_reserved_fields_renamed_with_nothing_configured);
    tcase_add_test(tc, test_input_reserved_field_dropped_when_arena_full);
    tcase_add_test(tc, test_normalise_without_enrich_opts_renames_input_asset_fields);
    tcase_add_test(tc, test_norm_stats_sum_renamed_and_dropped_input_fields_over_scratches);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
