/* check_assets_shared.c - one asset inventory for enrichment and escalation:
 * the same file, read by the enricher (asset.* fields of an event) and by the
 * escalation (the system an incident concerns, escalate/load.c), gives the
 * same system for the same address or host name and tenant - every range's
 * first addresses, every host name, domain and first label, for every tenant
 * of the file, no tenant and an unknown one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "../../core/arena.h"
#include "../../core/event.h"
#include "../../enrich/enrich.h"
#include "../../escalate/escalate.h"
#include "../../storage/storage.h"

static const char inventory[] =
    "agency: test\n"
    "systems:\n"
    "  - {id: portal-01, name: Portal A, level: 3, tenants: [so-a],\n"
    "     hostnames: [portal-01, portal-01.a.local], ip_ranges: [10.10.1.0/24, 203.0.113.10],\n"
    "     domains: [portal.a.gov.vn]}\n"
    "  - {id: portal-01, name: Portal B, level: 3, tenants: [so-b],\n"
    "     hostnames: [portal-01, portal-01.b.local], ip_ranges: [10.10.1.0/25]}\n"
    "  - {id: lan, name: LAN, level: 2, ip_ranges: [10.10.0.0/16, 10.0.0.0/8, 'fd00:20::/48']}\n"
    "  - {id: mail-01, name: Mail, level: 3, hostnames: [mail-01.dc.local],\n"
    "     ip_ranges: ['2001:db8:10::/48', 10.10.2.10/32], domains: mail.gov.vn}\n"
    "  - {id: ws-1, name: WS 1, level: 1, tenants: [so-a, so-b], hostnames: [pc.x.local]}\n"
    "  - {id: ws-2, name: WS 2, level: 1, tenants: [so-b], hostnames: [pc.y.local]}\n";

static char path[64];

/* The enricher's asset.id for one event of tenant with field = value. */
static const char *enrich_id(struct enrich_set *e, struct enrich_scratch *s,
                             struct ts_arena *arena, const char *tenant, const char *field,
                             const char *value, char *buf, size_t len)
{
    ts_arena_reset(arena);
    struct ts_event ev;
    ts_event_init(&ev, arena);
    ev.tenant = tenant;
    ck_assert_int_eq(ts_event_add_str(&ev, field, value, strlen(value)), 0);
    ck_assert_int_eq(enrich_event(e, s, &ev), 0);
    const struct ts_field *f = ts_event_getz(&ev, "asset.id");
    if (!f)
        return "(none)";
    snprintf(buf, len, "%.*s", (int)f->v.len, f->v.u.s);
    return buf;
}

/* The escalation's system id for an incident of tenant grouped by value. */
static const char *escalate_id(const struct esc_assets *a, const char *tenant, const char *key,
                               const char *value)
{
    char group[300];
    snprintf(group, sizeof(group), "%s=%s", key, value);
    struct store_incident inc = {.id = "x", .tenant = tenant, .group_key = group};
    const struct esc_system *s = esc_assets_find(a, &inc);
    return s ? s->id : "(none)";
}

/* The first two addresses of a range as text. */
static void range_addresses(const struct enrich_asset_net *n, char out[2][64])
{
    for (int k = 0; k < 2; k++) {
        struct ts_ip ip = n->net;
        unsigned bits = ip.family == 6 ? 128 : 32;
        if (k == 1 && n->plen < bits)
            ip.addr[(ip.family == 6 ? 16 : 4) - 1] |= 1;
        ts_ip_format(&ip, out[k], 64);
    }
}

START_TEST(test_enrichment_and_escalation_find_the_same_system)
{
    snprintf(path, sizeof(path), "/tmp/tocsin-assets-shared-%d.yml", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(inventory, f);
    fclose(f);

    struct ts_err err = {0};
    struct enrich_opts o = {.assets_file = path};
    struct enrich_set *e = NULL;
    int rc = enrich_set_create(&e, &o, &err);
    ck_assert_msg(rc == 0, "%s:%u:%u: %s", err.file, err.line, err.col, err.msg);
    struct esc_assets *ea = NULL;
    rc = esc_assets_load(path, &ea, &err);
    ck_assert_msg(rc == 0, "%s:%u:%u: %s", err.file, err.line, err.col, err.msg);
    struct enrich_assets *inv = NULL;
    ck_assert_int_eq(enrich_assets_load(path, &inv, &err), 0);
    unlink(path);
    struct enrich_scratch *s = NULL;
    ck_assert_int_eq(enrich_scratch_create(&s, e), 0);
    struct ts_arena *arena;
    ck_assert_int_eq(ts_arena_create(&arena, 4096, 1 << 20), 0);

    static const char *const tenants[] = {"so-a", "so-b", "", "so-z"};
    static const char *const extra[] = {"10.10.1.200", "10.99.0.1", "192.168.1.1",
                                        "::ffff:10.10.1.5", "2001:db8:10::99", "PORTAL-01",
                                        "portal-01.", "pc", "mail-01", "nothing.local"};
    size_t compared = 0, found = 0;
    char eb[128];
    for (size_t t = 0; t < TS_ARRAY_LEN(tenants); t++) {
        for (size_t i = 0; i < enrich_assets_count(inv); i++) {
            const struct enrich_asset *as = enrich_assets_at(inv, i);
            for (size_t j = 0; j < as->nip_ranges; j++) {
                char addr[2][64];
                range_addresses(&as->nets[j], addr);
                for (int k = 0; k < 2; k++) {
                    const char *want = escalate_id(ea, tenants[t], "src_ip", addr[k]);
                    const char *got =
                        enrich_id(e, s, arena, tenants[t], "src_ip", addr[k], eb, sizeof(eb));
                    ck_assert_msg(!strcmp(want, got), "tenant \"%s\" address %s: escalation %s, "
                                  "enrichment %s", tenants[t], addr[k], want, got);
                    compared++;
                    found += strcmp(want, "(none)") != 0;
                }
            }
            const char **lists[] = {as->hostnames, as->domains};
            size_t counts[] = {as->nhostnames, as->ndomains};
            for (int l = 0; l < 2; l++)
                for (size_t j = 0; j < counts[l]; j++) {
                    const char *want = escalate_id(ea, tenants[t], "host", lists[l][j]);
                    const char *got =
                        enrich_id(e, s, arena, tenants[t], "host", lists[l][j], eb, sizeof(eb));
                    ck_assert_msg(!strcmp(want, got), "tenant \"%s\" host %s: escalation %s, "
                                  "enrichment %s", tenants[t], lists[l][j], want, got);
                    compared++;
                    found += strcmp(want, "(none)") != 0;
                }
        }
        for (size_t j = 0; j < TS_ARRAY_LEN(extra); j++) {
            int ip = strchr(extra[j], ':') || (extra[j][0] >= '0' && extra[j][0] <= '9');
            const char *key = ip ? "src_ip" : "host";
            const char *want = escalate_id(ea, tenants[t], key, extra[j]);
            const char *got = enrich_id(e, s, arena, tenants[t], key, extra[j], eb, sizeof(eb));
            ck_assert_msg(!strcmp(want, got), "tenant \"%s\" %s: escalation %s, enrichment %s",
                          tenants[t], extra[j], want, got);
            compared++;
        }
    }
    ck_assert_uint_ge(compared, 100);
    ck_assert_uint_ge(found, 60);
    /* and the answers are the inventory's, not two agreeing mistakes */
    ck_assert_str_eq(escalate_id(ea, "so-b", "src_ip", "10.10.1.5"), "portal-01");
    ck_assert_str_eq(esc_assets_find(ea, &(struct store_incident){.id = "x", .tenant = "so-b",
                                                                   .group_key = "h=portal-01"})
                         ->name,
                     "Portal B");
    ck_assert_str_eq(enrich_id(e, s, arena, "so-a", "src_ip", "10.10.1.200", eb, sizeof(eb)),
                     "portal-01");
    ck_assert_str_eq(enrich_id(e, s, arena, "so-b", "src_ip", "10.10.1.200", eb, sizeof(eb)),
                     "lan");
    ck_assert_str_eq(enrich_id(e, s, arena, "so-z", "host", "pc", eb, sizeof(eb)), "(none)");
    ck_assert_str_eq(enrich_id(e, s, arena, "so-a", "host", "pc", eb, sizeof(eb)), "ws-1");
    ck_assert_str_eq(escalate_id(ea, "so-b", "host", "pc"), "(none)"); /* ws-1 or ws-2 */
    ck_assert_str_eq(escalate_id(ea, "", "src_ip", "2001:db8:10::99"), "mail-01");

    enrich_scratch_free(s);
    enrich_set_free(e);
    enrich_assets_free(inv);
    esc_assets_free(ea);
    ts_arena_destroy(arena);
}
END_TEST

/* The escalation's view keeps the ranges as written and picks the public
 * ones from the parsed networks (one CIDR parser: enrich's). */
START_TEST(test_escalation_view_of_the_inventory)
{
    struct esc_assets *ea = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_assets_load_buffer("inv.yml", inventory, sizeof(inventory) - 1, &ea,
                                            &err),
                     0);
    const struct esc_system *p = esc_assets_by_id(ea, "so-a", "portal-01");
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->name, "Portal A");
    ck_assert_uint_eq(p->nip_ranges, 2);
    ck_assert_str_eq(p->ip_ranges[1], "203.0.113.10");
    ck_assert_uint_eq(p->npublic_ips, 1);
    ck_assert_str_eq(p->public_ips[0], "203.0.113.10");
    ck_assert_uint_eq(p->ndomains, 1);
    ck_assert_str_eq(p->domains[0], "portal.a.gov.vn");
    const struct esc_system *m = esc_assets_by_id(ea, "so-b", "mail-01");
    ck_assert_uint_eq(m->npublic_ips, 1); /* 2001:db8:10::/48, not 10.10.2.10 */
    ck_assert_str_eq(m->public_ips[0], "2001:db8:10::/48");
    ck_assert_uint_eq(esc_assets_by_id(ea, "so-b", "lan")->npublic_ips, 0);
    esc_assets_free(ea);

    /* an inventory the enrichment refuses, the escalation refuses the same way */
    static const char bad[] = "systems:\n  - {id: a, name: A, level: 2, ip_ranges: [10.0.0.1/8]}\n";
    struct enrich_assets *inv = NULL;
    struct ts_err e1 = {0}, e2 = {0};
    ck_assert_int_ne(enrich_assets_load_buffer("inv.yml", bad, sizeof(bad) - 1, &inv, &e1), 0);
    ck_assert_int_ne(esc_assets_load_buffer("inv.yml", bad, sizeof(bad) - 1, &ea, &e2), 0);
    ck_assert_str_eq(e1.msg, e2.msg);
    ck_assert_uint_eq(e1.line, e2.line);
    ck_assert_uint_eq(e1.col, e2.col);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("assets_shared");
    TCase *tc = tcase_create("inventory");
    tcase_add_test(tc, test_enrichment_and_escalation_find_the_same_system);
    tcase_add_test(tc, test_escalation_view_of_the_inventory);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
