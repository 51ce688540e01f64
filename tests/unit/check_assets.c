/* check_assets.c - the asset inventory (ingest/assets.c through enrich.h):
 * the shipped example loads, events match systems by host name (FQDN or
 * short, any case) or by address (longest prefix), host before address, and
 * every inventory error names file:line:col. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "../../core/arena.h"
#include "../../core/event.h"
#include "../../enrich/enrich.h"
#include "../../enrich/enrich_int.h"

static char example[512];

static void paths_init(void)
{
    const char *f = __FILE__;
    const char *end = strstr(f, "tests/unit/check_assets.c");
    int n = end ? (int)(end - f) : 0;
    snprintf(example, sizeof(example), "%.*setc/assets.example.yml", n, f);
    if (access(example, R_OK) != 0 && getenv("TOCSIN_SRC_DIR"))
        snprintf(example, sizeof(example), "%s/etc/assets.example.yml", getenv("TOCSIN_SRC_DIR"));
}

static const char inventory[] =
    "agency: test\n"
    "systems:\n"
    "  - id: portal-01\n"                                  /* line 3 */
    "    name: Portal\n"
    "    operator: IT centre\n"
    "    managing_body: Provincial People's Committee\n"
    "    level: 3\n"
    "    hostnames: [portal-01, portal-01.agency.local]\n"
    "    ip_ranges: [10.10.1.0/24, '2001:db8:10::/48']\n"
    "    domains: portal.agency.gov.vn\n"
    "  - id: lan\n"
    "    name: Office LAN\n"
    "    level: 2\n"
    "    ip_ranges: [10.10.0.0/16, 10.0.0.0/8]\n"
    "  - id: ws-a\n"
    "    name: Workstation A\n"
    "    level: 1\n"
    "    hostnames: [pc.alpha.local]\n"
    "  - id: ws-b\n"
    "    name: Workstation B\n"
    "    level: 1\n"
    "    hostnames: [pc.beta.local]\n";

static struct enrich_assets *load_ok(const char *text)
{
    struct enrich_assets *a = NULL;
    struct ts_err err = {0};
    int rc = enrich_assets_load_buffer("inv.yml", text, strlen(text), &a, &err);
    ck_assert_msg(rc == 0, "%s:%u:%u: %s", err.file, err.line, err.col, err.msg);
    return a;
}

static const char *id_of(const struct enrich_asset *a)
{
    return a ? a->id : "(none)";
}

static const char *by_host(const struct enrich_assets *a, const char *h)
{
    return id_of(enrich_assets_by_host(a, 0, h, strlen(h)));
}

static const char *by_ip(const struct enrich_assets *a, const char *s)
{
    struct ts_ip ip;
    ck_assert_int_eq(ts_ip_parse(s, strlen(s), &ip), 0);
    return id_of(enrich_assets_by_ip(a, 0, &ip));
}

START_TEST(test_example_inventory_loads)
{
    paths_init();
    struct enrich_assets *a = NULL;
    struct ts_err err = {0};
    int rc = enrich_assets_load(example, &a, &err);
    ck_assert_msg(rc == 0, "%s:%u:%u: %s", err.file, err.line, err.col, err.msg);
    ck_assert_uint_eq(enrich_assets_count(a), 4);
    const struct enrich_asset *p = enrich_assets_at(a, 0);
    ck_assert_str_eq(p->id, "portal-01");
    ck_assert_int_eq(p->level, 3);
    ck_assert_str_eq(p->managing_body, "Ủy ban nhân dân tỉnh Demo");
    ck_assert_uint_eq(p->ncontacts, 2);
    ck_assert_str_eq(p->contacts[0].email, "an.nv@so-tttt-demo.gov.vn");
    ck_assert_str_eq(by_host(a, "KETOAN-PC07"), "ketoan-pc07");
    ck_assert_str_eq(by_ip(a, "10.20.5.7"), "ketoan-pc07");
    ck_assert_str_eq(by_ip(a, "10.20.5.8"), "lan-vanphong");
    enrich_assets_free(a);
}
END_TEST

START_TEST(test_host_matches_fqdn_short_name_and_domain_any_case)
{
    struct enrich_assets *a = load_ok(inventory);
    ck_assert_str_eq(by_host(a, "portal-01"), "portal-01");
    ck_assert_str_eq(by_host(a, "PORTAL-01"), "portal-01");
    ck_assert_str_eq(by_host(a, "Portal-01.Agency.Local."), "portal-01");
    /* a short name in the inventory finds an FQDN in the event and back */
    ck_assert_str_eq(by_host(a, "portal-01.other-domain.example"), "portal-01");
    ck_assert_str_eq(by_host(a, "PORTAL.agency.gov.vn"), "portal-01");
    ck_assert_str_eq(by_host(a, "portal"), "(none)"); /* domains give no short names */
    ck_assert_str_eq(by_host(a, "portal-02"), "(none)");
    enrich_assets_free(a);
}
END_TEST

START_TEST(test_ambiguous_short_name_needs_the_full_name)
{
    struct enrich_assets *a = load_ok(inventory);
    ck_assert_str_eq(by_host(a, "pc"), "(none)");
    ck_assert_str_eq(by_host(a, "PC.beta.local"), "ws-b");
    ck_assert_str_eq(by_host(a, "pc.alpha.local"), "ws-a");
    enrich_assets_free(a);
}
END_TEST

START_TEST(test_ip_matches_longest_prefix)
{
    struct enrich_assets *a = load_ok(inventory);
    ck_assert_str_eq(by_ip(a, "10.10.1.200"), "portal-01"); /* /24 beats /16 and /8 */
    ck_assert_str_eq(by_ip(a, "10.10.9.1"), "lan");
    ck_assert_str_eq(by_ip(a, "10.99.0.1"), "lan");
    ck_assert_str_eq(by_ip(a, "2001:db8:10:ff::1"), "portal-01");
    ck_assert_str_eq(by_ip(a, "11.0.0.1"), "(none)");
    ck_assert_str_eq(by_ip(a, "2001:db8:11::1"), "(none)");
    enrich_assets_free(a);
}
END_TEST

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_enricher_sets_asset_fields_host_before_ip)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/tocsin-assets-%d.yml", (int)getpid());
    write_file(path, inventory);
    struct enrich_opts o = {.assets_file = path};
    struct enrich_set *e = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(enrich_set_create(&e, &o, &err), 0);
    unlink(path);
    struct enrich_scratch *s = NULL;
    ck_assert_int_eq(enrich_scratch_create(&s, e), 0);
    struct ts_arena *arena;
    ck_assert_int_eq(ts_arena_create(&arena, 4096, 1 << 20), 0);
    ck_assert_int_eq(enrich_batch_begin(s), 0);

    struct ts_event ev;
    ts_event_init(&ev, arena);
    ck_assert_int_eq(ts_event_add_str(&ev, "src_ip", "10.99.1.1", 9), 0); /* lan */
    ck_assert_int_eq(ts_event_add_str(&ev, "Computer", "PORTAL-01.agency.local", 22), 0);
    ck_assert_int_eq(enrich_event(e, s, &ev), 0);
    const struct ts_field *f = ts_event_getz(&ev, "asset.id");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq((int)f->v.len, 9);
    ck_assert(memcmp(f->v.u.s, "portal-01", 9) == 0);
    f = ts_event_getz(&ev, "asset.level");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->v.type, TS_V_INT);
    ck_assert_int_eq(f->v.u.i, 3);
    f = ts_event_getz(&ev, "asset.managing_body");
    ck_assert_ptr_nonnull(f);
    ck_assert(f->v.len == 29 && memcmp(f->v.u.s, "Provincial People's Committee", 29) == 0);
    ck_assert_ptr_nonnull(ts_event_getz(&ev, "asset.name"));
    ck_assert_ptr_nonnull(ts_event_getz(&ev, "asset.operator"));

    ts_arena_reset(arena);
    ts_event_init(&ev, arena);
    ck_assert_int_eq(ts_event_add_str(&ev, "host", "unknown-box", 11), 0);
    ck_assert_int_eq(ts_event_add_str(&ev, "dst_ip", "10.10.1.5", 9), 0);
    ck_assert_int_eq(enrich_event(e, s, &ev), 0);
    f = ts_event_getz(&ev, "asset.id");
    ck_assert_ptr_nonnull(f);
    ck_assert(f->v.len == 9 && memcmp(f->v.u.s, "portal-01", 9) == 0);

    ts_arena_reset(arena);
    ts_event_init(&ev, arena);
    ck_assert_int_eq(ts_event_add_str(&ev, "src_ip", "8.8.8.8", 7), 0);
    ck_assert_int_eq(enrich_event(e, s, &ev), 0);
    ck_assert_uint_eq(ev.nfields, 1);
    ck_assert_ptr_null(ts_event_getz(&ev, "asset.id")); /* 8.8.8.8 is in no system */

    struct enrich_stats st;
    enrich_scratch_stats(s, &st);
    ck_assert_uint_eq(st.asset_matches, 2);
    enrich_batch_end(s);
    enrich_scratch_free(s);
    enrich_set_free(e);
    ts_arena_destroy(arena);
}
END_TEST

/* ---------------------------------------------------------------- tenants */

/* Two agencies each with their portal-01 (same host name, same range), a
 * shared data-centre network and mail server, so-b's own mail-01 and a
 * shared printer inside so-a's range. */
static const char tenant_inventory[] =
    "systems:\n"
    "  - id: portal-01\n"
    "    tenants: so-a\n"
    "    name: Portal A\n"
    "    level: 3\n"
    "    hostnames: [portal-01, portal-01.a.local]\n"
    "    ip_ranges: [10.1.0.0/24]\n"
    "  - id: portal-01\n"
    "    tenants: [so-b, so-b2]\n"
    "    name: Portal B\n"
    "    level: 2\n"
    "    hostnames: [portal-01]\n"
    "    ip_ranges: [10.1.0.0/24]\n"
    "  - id: dc-shared\n"
    "    name: Shared data centre\n"
    "    level: 4\n"
    "    hostnames: [mail-01]\n"
    "    ip_ranges: [10.0.0.0/8]\n"
    "  - id: mail-b\n"
    "    tenants: [so-b]\n"
    "    name: Mail B\n"
    "    level: 2\n"
    "    hostnames: [mail-01.b.local]\n"
    "  - id: printer\n"
    "    name: Shared printer\n"
    "    level: 1\n"
    "    ip_ranges: [10.1.0.7/32]\n";

static const char *host_for(const struct enrich_assets *a, const char *tenant, const char *h)
{
    const struct enrich_asset *as =
        enrich_assets_by_host(a, enrich_assets_tenant(a, tenant), h, strlen(h));
    return as ? as->name : "(none)";
}

static const char *ip_for(const struct enrich_assets *a, const char *tenant, const char *s)
{
    struct ts_ip ip;
    ck_assert_int_eq(ts_ip_parse(s, strlen(s), &ip), 0);
    const struct enrich_asset *as = enrich_assets_by_ip(a, enrich_assets_tenant(a, tenant), &ip);
    return as ? as->name : "(none)";
}

START_TEST(test_tenants_may_each_have_portal_01_and_see_their_own_first)
{
    struct enrich_assets *a = load_ok(tenant_inventory);
    ck_assert_uint_eq(enrich_assets_count(a), 5);
    const struct enrich_asset *b = enrich_assets_at(a, 1);
    ck_assert_uint_eq(b->ntenants, 2);
    ck_assert_str_eq(b->tenants[0], "so-b");
    ck_assert_str_eq(b->tenants[1], "so-b2");
    ck_assert_uint_eq(enrich_assets_at(a, 2)->ntenants, 0); /* shared */
    /* the same host name, one system per tenant */
    ck_assert_str_eq(host_for(a, "so-a", "portal-01"), "Portal A");
    ck_assert_str_eq(host_for(a, "so-b", "PORTAL-01"), "Portal B");
    ck_assert_str_eq(host_for(a, "so-b2", "portal-01"), "Portal B");
    ck_assert_str_eq(host_for(a, "so-a", "portal-01.other.example"), "Portal A"); /* label */
    /* a tenant with no system of its own, or no tenant: the shared ones only */
    ck_assert_str_eq(host_for(a, "so-c", "portal-01"), "(none)");
    ck_assert_str_eq(host_for(a, "", "portal-01"), "(none)");
    ck_assert_str_eq(host_for(a, NULL, "mail-01"), "Shared data centre");
    /* a tenant's own system before a shared one: so-b's mail-01 by its first
     * label beats the shared exact name; so-a has none of its own */
    ck_assert_str_eq(host_for(a, "so-b", "mail-01"), "Mail B");
    ck_assert_str_eq(host_for(a, "so-a", "mail-01"), "Shared data centre");
    /* addresses alike: the tenant's own range, even over a longer shared one */
    ck_assert_str_eq(ip_for(a, "so-a", "10.1.0.5"), "Portal A");
    ck_assert_str_eq(ip_for(a, "so-b", "10.1.0.5"), "Portal B");
    ck_assert_str_eq(ip_for(a, "so-a", "10.1.0.7"), "Portal A");
    ck_assert_str_eq(ip_for(a, "so-c", "10.1.0.7"), "Shared printer");
    ck_assert_str_eq(ip_for(a, "so-c", "10.1.0.5"), "Shared data centre");
    ck_assert_str_eq(ip_for(a, "", "10.9.9.9"), "Shared data centre");
    ck_assert_str_eq(ip_for(a, "so-a", "192.0.2.1"), "(none)");
    enrich_assets_free(a);
}
END_TEST

START_TEST(test_short_name_ambiguity_is_per_tenant)
{
    struct enrich_assets *a = load_ok("systems:\n"
                                      "  - {id: ws-a, name: WS A, level: 1, tenants: t1,"
                                      " hostnames: pc.alpha.local}\n"
                                      "  - {id: ws-b, name: WS B, level: 1, tenants: t1,"
                                      " hostnames: pc.beta.local}\n"
                                      "  - {id: ws-c, name: WS C, level: 1, tenants: t2,"
                                      " hostnames: pc.gamma.local}\n");
    ck_assert_str_eq(host_for(a, "t1", "pc"), "(none)"); /* two of t1's own */
    ck_assert_str_eq(host_for(a, "t1", "pc.beta.local"), "WS B");
    ck_assert_str_eq(host_for(a, "t2", "pc"), "WS C");
    ck_assert_str_eq(host_for(a, "t3", "pc"), "(none)");
    enrich_assets_free(a);
}
END_TEST

START_TEST(test_inventory_without_tenants_serves_every_tenant)
{
    struct enrich_assets *a = load_ok(inventory);
    ck_assert_uint_eq(enrich_assets_tenant(a, "so-x"), 0);
    ck_assert_str_eq(host_for(a, "so-x", "portal-01"), "Portal");
    ck_assert_str_eq(ip_for(a, "so-y", "10.10.9.1"), "Office LAN");
    enrich_assets_free(a);
}
END_TEST

/* Through the enricher: the event's tenant picks the system (the
 * inventory was refused before: unknown key "tenants"). */
START_TEST(test_enricher_scopes_asset_by_the_event_tenant)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/tocsin-assets-t-%d.yml", (int)getpid());
    write_file(path, tenant_inventory);
    struct enrich_opts o = {.assets_file = path};
    struct enrich_set *e = NULL;
    struct ts_err err = {0};
    int rc = enrich_set_create(&e, &o, &err);
    unlink(path);
    ck_assert_msg(rc == 0, "%s:%u:%u: %s", err.file, err.line, err.col, err.msg);
    struct enrich_scratch *s = NULL;
    ck_assert_int_eq(enrich_scratch_create(&s, e), 0);
    struct ts_arena *arena;
    ck_assert_int_eq(ts_arena_create(&arena, 4096, 1 << 20), 0);
    static const struct {
        const char *tenant, *host, *want_name;
    } cases[] = {{"so-a", "portal-01", "Portal A"},
                 {"so-b", "portal-01", "Portal B"},
                 {"so-c", "portal-01", NULL},
                 {"", "portal-01", NULL},
                 {"so-b", "mail-01", "Mail B"},
                 {"so-a", "mail-01", "Shared data centre"}};
    for (size_t i = 0; i < TS_ARRAY_LEN(cases); i++) {
        ts_arena_reset(arena);
        struct ts_event ev;
        ts_event_init(&ev, arena);
        ev.tenant = cases[i].tenant;
        ck_assert_int_eq(ts_event_add_str(&ev, "host", cases[i].host, strlen(cases[i].host)),
                         0);
        ck_assert_int_eq(enrich_event(e, s, &ev), 0);
        const struct ts_field *f = ts_event_getz(&ev, "asset.name");
        if (!cases[i].want_name) {
            ck_assert_msg(f == NULL, "case %zu: %.*s", i, f ? (int)f->v.len : 0,
                          f ? f->v.u.s : "");
            continue;
        }
        ck_assert_msg(f && f->v.len == strlen(cases[i].want_name) &&
                          memcmp(f->v.u.s, cases[i].want_name, f->v.len) == 0,
                      "case %zu: %.*s", i, f ? (int)f->v.len : 6, f ? f->v.u.s : "(none)");
    }
    enrich_scratch_free(s);
    enrich_set_free(e);
    ts_arena_destroy(arena);
}
END_TEST

/* Each bad inventory and the error it must give, with its position. */
static const struct {
    const char *text;
    unsigned line, col;
    const char *msg;
} bad[] = {
    {"systems:\n  - id: a\n    name: A\n    level: 7\n", 4, 12, "level must be a security level"},
    {"systems:\n  - id: a\n    name: A\n    level: 2\n    ip_ranges: [10.0.0.1/8]\n", 5, 17,
     "invalid IP range \"10.0.0.1/8\""},
    {"systems:\n  - id: a\n    name: A\n    level: 2\n    ip_ranges: [10.0.0.0/33]\n", 5, 17,
     "invalid IP range"},
    {"systems:\n  - id: a\n    name: A\n    level: 2\n    hostname: x\n", 5, 5,
     "unknown key \"hostname\""},
    {"systems:\n  - id: a\n    level: 2\n", 2, 5, "system without a name"},
    {"systems:\n  - id: a\n    name: A\n    level: 2\n    hostnames: [h1]\n"
     "  - id: b\n    name: B\n    level: 2\n    hostnames: [x, H1]\n",
     9, 20, "host name \"H1\" already belongs to system \"a\""},
    {"systems:\n  - id: a\n    name: A\n    level: 2\n  - id: a\n    name: B\n    level: 1\n", 5,
     9, "duplicate system id \"a\""},
    {"systems:\n  - id: a\n    name: A\n    level: 2\n    contacts: [{role: x}]\n", 5, 16,
     "a contact needs a name"},
    {"systems:\n  - id: a\n    name: [A]\n    level: 2\n", 3, 11, "name must be a string"},
    {"system:\n  - id: a\n", 1, 1, "unknown key \"system\""},
    {"systems:\n  - id: a\n    name: 'A\n", 4, 0, "quoted scalar"}, /* libyaml: at the end */
    /* tenants: equal ids need tenants on both, and no tenant in common */
    {"systems:\n  - {id: a, name: A, level: 2, tenants: [t1]}\n"
     "  - {id: a, name: B, level: 2}\n",
     3, 10, "duplicate system id \"a\" (first at line 2; a system without tenants is shared"},
    {"systems:\n  - {id: a, name: A, level: 2, tenants: [t1, t2]}\n"
     "  - {id: a, name: B, level: 2, tenants: [t3, t2]}\n",
     3, 10, "duplicate system id \"a\" for tenant \"t2\""},
    {"systems:\n  - {id: a, name: A, level: 2, tenants: t1, hostnames: [h1]}\n"
     "  - {id: b, name: B, level: 2, tenants: [t1], hostnames: [H1]}\n",
     3, 59, "host name \"H1\" already belongs to system \"a\" for tenant \"t1\""},
    {"systems:\n  - {id: a, name: A, level: 2, tenants: t1, ip_ranges: [10.0.0.0/8]}\n"
     "  - {id: b, name: B, level: 2, tenants: t1, ip_ranges: [10.0.0.0/8]}\n",
     3, 57, "IP range \"10.0.0.0/8\" already belongs to system \"a\" for tenant \"t1\""},
    {"systems:\n  - {id: a, name: A, level: 2, tenants: []}\n", 2, 41,
     "tenants: name at least one"},
    {"systems:\n  - {id: a, name: A, level: 2, tenants: [so-a, 'so b']}\n", 2, 48,
     "tenant \"so b\":"},
};

START_TEST(test_inventory_errors_name_file_line_col)
{
    struct enrich_assets *a = (struct enrich_assets *)1;
    struct ts_err err = {0};
    int rc = enrich_assets_load_buffer("etc/assets.yml", bad[_i].text, strlen(bad[_i].text), &a,
                                       &err);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_null(a);
    ck_assert_str_eq(err.file, "etc/assets.yml");
    ck_assert_msg(err.line == bad[_i].line, "case %d: line %u, want %u (%s)", _i, err.line,
                  bad[_i].line, err.msg);
    if (bad[_i].col)
        ck_assert_msg(err.col == bad[_i].col, "case %d: col %u, want %u (%s)", _i, err.col,
                      bad[_i].col, err.msg);
    else
        ck_assert_uint_gt(err.col, 0);
    ck_assert_msg(strstr(err.msg, bad[_i].msg) != NULL, "case %d: %s", _i, err.msg);
}
END_TEST

START_TEST(test_missing_inventory_file_is_an_io_error)
{
    struct enrich_opts o = {.assets_file = "/nonexistent/assets.yml"};
    struct enrich_set *e = NULL;
    struct ts_err err = {0};
    ck_assert_int_ne(enrich_set_create(&e, &o, &err), 0);
    ck_assert_ptr_null(e);
    ck_assert_str_eq(err.file, "/nonexistent/assets.yml");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("assets");
    TCase *tc = tcase_create("assets");
    tcase_add_test(tc, test_example_inventory_loads);
    tcase_add_test(tc, test_host_matches_fqdn_short_name_and_domain_any_case);
    tcase_add_test(tc, test_ambiguous_short_name_needs_the_full_name);
    tcase_add_test(tc, test_ip_matches_longest_prefix);
    tcase_add_test(tc, test_enricher_sets_asset_fields_host_before_ip);
    tcase_add_test(tc, test_tenants_may_each_have_portal_01_and_see_their_own_first);
    tcase_add_test(tc, test_short_name_ambiguity_is_per_tenant);
    tcase_add_test(tc, test_inventory_without_tenants_serves_every_tenant);
    tcase_add_test(tc, test_enricher_scopes_asset_by_the_event_tenant);
    tcase_add_loop_test(tc, test_inventory_errors_name_file_line_col, 0, (int)TS_ARRAY_LEN(bad));
    tcase_add_test(tc, test_missing_inventory_file_is_an_io_error);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
