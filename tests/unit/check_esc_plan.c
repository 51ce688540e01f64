/* check_esc_plan.c - escalate/: regimes, tag -> type mapping, policy and the
 * due times of the reports owed (the numbers of issue 6's acceptance). */
#include "check_esc_util.h"
#include "../../escalate/esc_int.h"

static struct esc_regime *law, *circ;
static struct esc_taxonomy *tax;
static struct esc_assets *assets;
static struct esc_policy *pol;

static void setup(void)
{
    law = esc_test_regime("law116-2025");
    circ = esc_test_regime("circular20-2017");
    tax = esc_test_taxonomy();
    assets = esc_test_assets();
    pol = esc_test_policy();
}

static void teardown(void)
{
    esc_regime_free(law);
    esc_regime_free(circ);
    esc_taxonomy_free(tax);
    esc_assets_free(assets);
    esc_policy_free(pol);
}

static const struct esc_due *find(const struct esc_plan *p, const char *report, const char *to)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->items[i].report, report) && !strcmp(p->items[i].recipient, to))
            return &p->items[i];
    return NULL;
}

/* ------------------------------------------------------------ law 116 */

/* One expected item of a plan: report, recipient, due time, mandatory. */
struct pin {
    const char *report, *to;
    int64_t due;
    bool mandatory;
};

/* The plan holds exactly these items (any order). */
static void pin_plan(const struct esc_plan *p, const struct pin *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct esc_due *d = find(p, v[i].report, v[i].to);
        ck_assert_msg(d != NULL, "%s to %s missing", v[i].report, v[i].to);
        ck_assert_msg(d->due_ns == v[i].due, "%s to %s: due %lld, expected %lld", v[i].report,
                      v[i].to, (long long)d->due_ns, (long long)v[i].due);
        ck_assert_msg(d->mandatory == v[i].mandatory, "%s to %s: mandatory %d", v[i].report,
                      v[i].to, d->mandatory);
    }
    for (size_t i = 0; i < p->n; i++)
        ck_assert_msg(i < n, "unexpected %s to %s", p->items[i].report, p->items[i].recipient);
    ck_assert_uint_eq(p->n, n);
}

#define PIN(p, ...)                                                                              \
    do {                                                                                         \
        static const struct pin pins_[] = {__VA_ARGS__};                                        \
        pin_plan(p, pins_, sizeof(pins_) / sizeof(pins_[0]));                                   \
    } while (0)

/* A policy that judges every incident of tenant so-tttt-demo beyond the
 * operator's capacity (a judgement no regime can make). */
static struct esc_policy *beyond_policy(void)
{
    static const char y[] = "rules:\n  - name: beyond\n    match: {tenants: [so-tttt-demo]}\n"
                            "    set: {beyond_capacity: true}\n";
    struct esc_policy *bp = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_policy_load_buffer("p.yml", y, sizeof(y) - 1, &bp, &err), 0);
    return bp;
}

#define DAY (24 * ESC_H)

/* Law 116 Art. 40.1.c + Decree 331 Art. 31.2.d: A05 gets the 24 h initial
 * notice (serious), the 72 h report (every incident), updates and the
 * closing report (complex = serious, ours: every 7 d, 5 d after the
 * response); the managing body hears the same, not as a duty of the
 * regime (mandatory false); no response unit, no MoD force. */
START_TEST(test_law116_serious_ransomware_level4_pins_recipients_and_due_times)
{
    struct esc_env env = {.regime = law, .taxonomy = tax, .assets = assets};
    struct store_incident inc = esc_test_incident();
    struct esc_plan p;
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert_ptr_nonnull(p.facts.system);
    ck_assert_str_eq(p.facts.system->id, "db-01");
    ck_assert_int_eq(p.facts.level, 4);
    ck_assert_int_eq(p.facts.cls.type, ESC_TYPE_RANSOMWARE);
    ck_assert(p.facts.serious);
    ck_assert(!p.facts.national_security);
    ck_assert(!p.facts.beyond_capacity);
    PIN(&p, {"initial-notice", "national", ESC_T0 + 24 * ESC_H, true},
        {"initial-notice", "managing_body", ESC_T0 + 24 * ESC_H, false},
        {"detailed-report", "national", ESC_T0 + 72 * ESC_H, true},
        {"detailed-report", "managing_body", ESC_T0 + 72 * ESC_H, false},
        {"update", "national", ESC_T0 + 7 * DAY, true},
        {"update", "managing_body", ESC_T0 + 7 * DAY, false},
        {"closing-report", "national", 0, true}, /* response not ended */
        {"closing-report", "managing_body", 0, false});
    ck_assert_int_eq(find(&p, "update", "national")->every_ns, 7 * DAY);
    ck_assert_int_eq(find(&p, "initial-notice", "national")->stage, ESC_STAGE_INITIAL);
    ck_assert_int_eq(find(&p, "closing-report", "national")->stage, ESC_STAGE_FINAL);
    /* regime order, then recipient order */
    ck_assert_str_eq(p.items[0].report, "initial-notice");
    ck_assert_str_eq(p.items[0].recipient, "national");
    ck_assert_str_eq(p.items[1].recipient, "managing_body");
}
END_TEST

/* Decree 331 Art. 31.2.d first indent: every incident owes the 72 h report
 * on cause, scope and remediation - a non-serious one on level 2 too. */
START_TEST(test_law116_non_serious_level2_owes_only_the_72h_report)
{
    struct esc_env env = {.regime = law, .taxonomy = tax, .assets = assets};
    struct store_incident inc = esc_test_incident();
    inc.group_key = "host=ketoan-pc07.so-tttt-demo.local"; /* by first label */
    struct esc_plan p;
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert_int_eq(p.facts.level, 2);
    ck_assert(!p.facts.serious);
    PIN(&p, {"detailed-report", "national", ESC_T0 + 72 * ESC_H, true},
        {"detailed-report", "managing_body", ESC_T0 + 72 * ESC_H, false});
}
END_TEST

/* Decree 333 Art. 9.3.c: beyond the operator's capacity, A05 is told at
 * once; with the 72 h report of every incident. */
START_TEST(test_law116_beyond_capacity_owes_notice_at_once_to_a05)
{
    struct esc_policy *bp = beyond_policy();
    struct esc_env env = {.regime = law, .taxonomy = tax, .assets = assets, .policy = bp};
    struct store_incident inc = esc_test_incident();
    inc.group_key = "host=ketoan-pc07"; /* level 2: not serious */
    struct esc_plan p;
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert(p.facts.beyond_capacity);
    ck_assert(!p.facts.serious);
    PIN(&p, {"support-request", "national", ESC_T0, true},
        {"support-request", "managing_body", ESC_T0, false},
        {"detailed-report", "national", ESC_T0 + 72 * ESC_H, true},
        {"detailed-report", "managing_body", ESC_T0 + 72 * ESC_H, false});
    esc_policy_free(bp);
}
END_TEST

/* Law 116 Art. 40.1.c: for a system the Ministry of Defence manages the
 * report goes to its specialised force, not to A05. */
START_TEST(test_law116_mod_route_reports_to_the_defence_force_not_a05)
{
    static const char org[] = "tenants:\n  so-tttt-demo: {name: \"Lữ đoàn X\", route: mod}\n";
    struct esc_orgs *o = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_orgs_load_buffer("o.yml", org, sizeof(org) - 1, &o, &err), 0);
    struct esc_env env = {.regime = law, .taxonomy = tax, .assets = assets, .orgs = o};
    struct store_incident inc = esc_test_incident();
    struct esc_plan p;
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert(find(&p, "initial-notice", "national") == NULL);
    ck_assert_int_eq(find(&p, "initial-notice", "national_mod")->due_ns, ESC_T0 + 24 * ESC_H);
    ck_assert(find(&p, "initial-notice", "national_mod")->mandatory);
    ck_assert_uint_eq(p.n, 8);
    esc_orgs_free(o);
    static const char bad[] = "tenants:\n  t: {name: T, route: army}\n";
    ck_assert_int_eq(esc_orgs_load_buffer("o.yml", bad, sizeof(bad) - 1, &o, &err),
                     TS_E_CONFIG);
    ck_assert_uint_eq(err.line, 2);
    ck_assert_ptr_nonnull(strstr(err.msg, "route must be mps"));
}
END_TEST

/* Law 116 Art. 40.1.c per system: in one organisation (on the MPS route),
 * a system the Ministry of Defence manages (`route: mod` in the inventory)
 * reports to its force, the organisation's other systems to A05; a
 * system's `route: mps` wins over an organisation's `mod`; a bad route is
 * refused with its line. */
START_TEST(test_law116_mod_route_per_system_of_the_inventory)
{
    static const char inv[] =
        "systems:\n"
        "  - id: radar-01\n"
        "    name: \"Hệ thống radar\"\n"
        "    level: 4\n"
        "    route: mod\n"
        "    hostnames: [radar-01]\n"
        "  - id: portal-01\n"
        "    name: \"Cổng thông tin\"\n"
        "    level: 4\n"
        "    route: mps\n"
        "    hostnames: [portal-01]\n"
        "  - id: mail-01\n"
        "    name: \"Thư điện tử\"\n"
        "    level: 4\n"
        "    hostnames: [mail-01]\n";
    struct esc_assets *a = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_assets_load_buffer("inv.yml", inv, sizeof(inv) - 1, &a, &err), 0);
    struct esc_env env = {.regime = law, .taxonomy = tax, .assets = a};
    struct store_incident inc = esc_test_incident();
    struct esc_plan p;
    inc.group_key = "host=radar-01";
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert_str_eq(p.facts.system->id, "radar-01");
    ck_assert(p.facts.serious);
    PIN(&p, {"initial-notice", "national_mod", ESC_T0 + 24 * ESC_H, true},
        {"initial-notice", "managing_body", ESC_T0 + 24 * ESC_H, false},
        {"detailed-report", "national_mod", ESC_T0 + 72 * ESC_H, true},
        {"detailed-report", "managing_body", ESC_T0 + 72 * ESC_H, false},
        {"update", "national_mod", ESC_T0 + 7 * DAY, true},
        {"update", "managing_body", ESC_T0 + 7 * DAY, false},
        {"closing-report", "national_mod", 0, true},
        {"closing-report", "managing_body", 0, false});
    inc.group_key = "host=mail-01"; /* no route: the organisation's (none: mps) */
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert_ptr_nonnull(find(&p, "initial-notice", "national"));
    ck_assert(find(&p, "initial-notice", "national_mod") == NULL);
    /* an organisation on the MoD route: its system marked mps goes to A05 */
    static const char org[] = "tenants:\n  so-tttt-demo: {name: \"Lữ đoàn X\", route: mod}\n";
    struct esc_orgs *o = NULL;
    ck_assert_int_eq(esc_orgs_load_buffer("o.yml", org, sizeof(org) - 1, &o, &err), 0);
    env.orgs = o;
    inc.group_key = "host=portal-01";
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert_ptr_nonnull(find(&p, "initial-notice", "national"));
    ck_assert(find(&p, "initial-notice", "national_mod") == NULL);
    inc.group_key = "host=mail-01";
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert_ptr_nonnull(find(&p, "initial-notice", "national_mod"));
    ck_assert(find(&p, "initial-notice", "national") == NULL);
    esc_orgs_free(o);
    esc_assets_free(a);
    static const char bad[] = "systems:\n  - id: x\n    name: X\n    level: 2\n    route: army\n";
    a = NULL;
    ck_assert_int_eq(esc_assets_load_buffer("inv.yml", bad, sizeof(bad) - 1, &a, &err),
                     TS_E_CONFIG);
    ck_assert_uint_eq(err.line, 5);
    ck_assert_ptr_nonnull(strstr(err.msg, "route must be mps"));
    esc_assets_free(a);
}
END_TEST

START_TEST(test_law116_closing_report_due_5d_after_resolution)
{
    struct esc_env env = {.regime = law, .taxonomy = tax, .assets = assets};
    struct store_incident inc = esc_test_incident();
    inc.status = STORE_STATUS_RESOLVED;
    inc.status_ns = ESC_T0 + 30 * ESC_H;
    struct esc_plan p;
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert(p.facts.serious); /* it was serious while open */
    ck_assert(!p.facts.open);
    ck_assert_int_eq(find(&p, "closing-report", "national")->due_ns,
                     ESC_T0 + 30 * ESC_H + 5 * DAY);
}
END_TEST

/* Decree 331 Art. 31.2.d third indent: "ngay khi phát hiện" - at once. */
START_TEST(test_law116_level5_high_incident_owes_notice_at_once)
{
    static const char inv[] = "systems:\n  - {id: x, name: X, level: 5, hostnames: [db-01]}\n";
    struct esc_assets *a5;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_assets_load_buffer("a.yml", inv, sizeof(inv) - 1, &a5, &err), 0);
    struct esc_env env = {.regime = law, .taxonomy = tax, .assets = a5};
    struct store_incident inc = esc_test_incident();
    struct esc_plan p;
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert(p.facts.national_security);
    ck_assert_int_eq(find(&p, "immediate-notice", "national")->due_ns, ESC_T0);
    ck_assert_int_eq(find(&p, "initial-notice", "national")->due_ns, ESC_T0 + 24 * ESC_H);
    esc_assets_free(a5);
}
END_TEST

START_TEST(test_law116_unknown_system_is_not_serious)
{
    struct esc_env env = {.regime = law, .taxonomy = tax, .assets = assets};
    struct store_incident inc = esc_test_incident();
    inc.group_key = "host=elsewhere";
    struct esc_plan p;
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert_ptr_null(p.facts.system);
    ck_assert(!p.facts.serious);
    ck_assert(find(&p, "initial-notice", "national") == NULL);
}
END_TEST

/* ---------------------------------------------------------- tenants */

/* Two agencies (tenants) both call their portal portal-01, on the same
 * private range; a mail relay serves everyone (no tenants: shared). */
static const char two_tenants[] =
    "systems:\n"
    "  - id: portal-01\n"
    "    tenants: so-a\n"
    "    name: \"Cổng A\"\n"
    "    level: 4\n"
    "    hostnames: [portal-01]\n"
    "    ip_ranges: [10.0.0.0/24]\n"
    "  - id: portal-01\n"
    "    tenants: [so-b, so-b-lab]\n"
    "    name: \"Cổng B\"\n"
    "    level: 2\n"
    "    hostnames: [portal-01]\n"
    "    ip_ranges: [10.0.0.0/24]\n"
    "  - id: mail-01\n"
    "    name: \"Thư điện tử dùng chung\"\n"
    "    level: 3\n"
    "    hostnames: [mail-01]\n";

static const char *system_of(const struct esc_assets *a, const char *tenant, const char *details,
                             const char *group_key)
{
    struct store_incident inc = esc_test_incident();
    inc.tenant = tenant;
    inc.details = details;
    inc.group_key = group_key;
    const struct esc_system *s = esc_assets_find(a, &inc);
    return s ? s->name : NULL;
}

START_TEST(test_each_tenant_gets_its_own_asset_of_the_same_id)
{
    struct esc_assets *a = NULL;
    struct ts_err err = {0};
    int rc = esc_assets_load_buffer("inv.yml", two_tenants, sizeof(two_tenants) - 1, &a, &err);
    ck_assert_msg(rc == 0, "%s:%u:%u: %s", err.file, err.line, err.col, err.msg);
    const char *id = "{\"asset_id\":\"portal-01\"}";
    /* by the asset id of the details, by host name, by address */
    ck_assert_str_eq(system_of(a, "so-a", id, "user=x"), "Cổng A");
    ck_assert_str_eq(system_of(a, "so-b", id, "user=x"), "Cổng B");
    ck_assert_str_eq(system_of(a, "so-b-lab", id, "user=x"), "Cổng B");
    ck_assert_str_eq(system_of(a, "so-a", NULL, "host=portal-01"), "Cổng A");
    ck_assert_str_eq(system_of(a, "so-b", NULL, "host=PORTAL-01.example"), "Cổng B");
    ck_assert_str_eq(system_of(a, "so-a", NULL, "src_ip=10.0.0.7"), "Cổng A");
    ck_assert_str_eq(system_of(a, "so-b", NULL, "src_ip=10.0.0.7"), "Cổng B");
    /* another tenant (or none) never gets either portal */
    ck_assert_ptr_null(system_of(a, "so-c", id, "host=portal-01"));
    ck_assert_ptr_null(system_of(a, NULL, id, "src_ip=10.0.0.7"));
    /* a system without tenants is shared */
    ck_assert_str_eq(system_of(a, "so-a", NULL, "host=mail-01"), "Thư điện tử dùng chung");
    ck_assert_str_eq(system_of(a, "so-c", "{\"asset_id\":\"mail-01\"}", NULL),
                     "Thư điện tử dùng chung");
    ck_assert_str_eq(esc_assets_by_id(a, "so-b", "portal-01")->name, "Cổng B");
    ck_assert_ptr_null(esc_assets_by_id(a, "so-c", "portal-01"));
    /* and the plan follows: level 4 for so-a's ransomware, 2 for so-b's */
    struct esc_env env = {.regime = law, .taxonomy = tax, .assets = a};
    struct store_incident inc = esc_test_incident();
    inc.details = id;
    struct esc_plan p;
    inc.tenant = "so-a";
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert_int_eq(p.facts.level, 4);
    ck_assert(p.facts.serious);
    inc.tenant = "so-b";
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert_int_eq(p.facts.level, 2);
    ck_assert(!p.facts.serious);
    esc_assets_free(a);
}
END_TEST

START_TEST(test_same_asset_id_for_overlapping_tenants_is_refused)
{
    static const char overlap[] = "systems:\n"
                                  "  - {id: portal-01, tenants: [so-a, so-b], name: A, level: 4}\n"
                                  "  - {id: portal-01, tenants: [so-c, so-b], name: B, level: 2}\n";
    static const char shared[] = "systems:\n"
                                 "  - {id: portal-01, name: A, level: 4}\n"
                                 "  - {id: portal-01, tenants: so-b, name: B, level: 2}\n";
    struct esc_assets *a = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_assets_load_buffer("inv.yml", overlap, sizeof(overlap) - 1, &a, &err),
                     TS_E_CONFIG);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_msg(strstr(err.msg, "duplicate system id \"portal-01\" for tenant \"so-b\""),
                  "%s", err.msg);
    ts_err_clear(&err);
    ck_assert_int_eq(esc_assets_load_buffer("inv.yml", shared, sizeof(shared) - 1, &a, &err),
                     TS_E_CONFIG);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_msg(strstr(err.msg, "duplicate system id \"portal-01\""), "%s", err.msg);
    ck_assert_ptr_null(a);
}
END_TEST

START_TEST(test_law116_brute_force_level4_without_impact_tag_is_serious_takeover)
{
    static const char *const tags[] = {"attack.credential_access", "attack.t1110.001"};
    struct esc_env env = {.regime = law, .taxonomy = tax, .assets = assets};
    struct store_incident inc = esc_test_incident();
    inc.tags = tags;
    inc.ntags = 2;
    inc.group_key = "src_ip=198.51.100.7,dst_ip=10.10.9.5"; /* db-01 by address */
    struct esc_plan p;
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert_int_eq(p.facts.cls.type, ESC_TYPE_TAKEOVER);
    ck_assert_int_eq(p.facts.level, 4);
    ck_assert(p.facts.serious); /* loss of control */
}
END_TEST

/* --------------------------------------------------------- circular 20 */

/* Circular 20 Art. 11: the 5-day notice to the managing body, the response
 * unit, the national coordinator (A05) and the network members, for every
 * incident; form 04 to the managing body and A05 only; progress reports
 * (Decision 05; ours: serious, every 7 d). */
START_TEST(test_circular20_serious_ransomware_level4_pins_recipients_and_due_times)
{
    struct esc_env env = {.regime = circ, .taxonomy = tax, .assets = assets};
    struct store_incident inc = esc_test_incident();
    struct esc_plan p;
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert(p.facts.serious);
    ck_assert(!p.facts.beyond_capacity); /* high, not critical */
    PIN(&p, {"notice", "managing_body", ESC_T0 + 5 * DAY, true},
        {"notice", "response_unit", ESC_T0 + 5 * DAY, true},
        {"notice", "national", ESC_T0 + 5 * DAY, true},
        {"notice", "network_members", ESC_T0 + 5 * DAY, true},
        {"progress", "managing_body", ESC_T0 + 7 * DAY, true},
        {"progress", "national", ESC_T0 + 7 * DAY, true},
        {"final-report", "managing_body", 0, true},
        {"final-report", "national", 0, true});
    ck_assert_str_eq(find(&p, "final-report", "national")->form, "04");
}
END_TEST

START_TEST(test_circular20_non_serious_level2_owes_notice_and_final_report)
{
    struct esc_env env = {.regime = circ, .taxonomy = tax, .assets = assets};
    struct store_incident inc = esc_test_incident();
    inc.severity = 1;
    inc.group_key = "host=ketoan-pc07";
    struct esc_plan p;
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert(!p.facts.serious);
    PIN(&p, {"notice", "managing_body", ESC_T0 + 5 * DAY, true},
        {"notice", "response_unit", ESC_T0 + 5 * DAY, true},
        {"notice", "national", ESC_T0 + 5 * DAY, true},
        {"notice", "network_members", ESC_T0 + 5 * DAY, true},
        {"final-report", "managing_body", 0, true}, {"final-report", "national", 0, true});
}
END_TEST

START_TEST(test_circular20_beyond_capacity_owes_form03_at_once)
{
    struct esc_env env = {.regime = circ, .taxonomy = tax, .assets = assets};
    struct store_incident inc = esc_test_incident();
    inc.severity = 4; /* critical: beyond the operator's capacity per the preset */
    struct esc_plan p;
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert(p.facts.beyond_capacity);
    PIN(&p, {"notice", "managing_body", ESC_T0 + 5 * DAY, true},
        {"notice", "response_unit", ESC_T0 + 5 * DAY, true},
        {"notice", "national", ESC_T0 + 5 * DAY, true},
        {"notice", "network_members", ESC_T0 + 5 * DAY, true},
        {"initial-report", "managing_body", ESC_T0, true},
        {"initial-report", "response_unit", ESC_T0, true},
        {"initial-report", "national", ESC_T0, true},
        {"progress", "managing_body", ESC_T0 + 7 * DAY, true},
        {"progress", "national", ESC_T0 + 7 * DAY, true},
        {"final-report", "managing_body", 0, true}, {"final-report", "national", 0, true});
    ck_assert_str_eq(find(&p, "initial-report", "managing_body")->form, "03");
}
END_TEST

START_TEST(test_circular20_final_report_due_5d_after_response_end)
{
    struct esc_env env = {.regime = circ, .taxonomy = tax, .assets = assets};
    struct store_incident inc = esc_test_incident();
    inc.status = STORE_STATUS_RESOLVED;
    inc.status_ns = ESC_T0 + 48 * ESC_H;
    struct esc_plan p;
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert_int_eq(find(&p, "final-report", "national")->due_ns, ESC_T0 + 48 * ESC_H + 5 * DAY);
    ck_assert(find(&p, "final-report", "response_unit") == NULL);
}
END_TEST

/* Law 116 Art. 44.2: Law 86/2015, Circular 20's basis, lapsed on 1/7/2026. */
START_TEST(test_circular20_says_its_basis_lapsed)
{
    ck_assert_ptr_null(esc_regime_lapsed(law));
    const char *l = esc_regime_lapsed(circ);
    ck_assert_ptr_nonnull(l);
    ck_assert_ptr_nonnull(strstr(l, "86/2015/QH13"));
    ck_assert_ptr_nonnull(strstr(l, "Điều 44 khoản 2"));
}
END_TEST

/* --------------------------------------------------------------- policy */

START_TEST(test_policy_sets_beyond_capacity_for_ransomware_so_form03_is_owed)
{
    struct esc_env env = {.regime = circ, .taxonomy = tax, .assets = assets, .policy = pol};
    struct store_incident inc = esc_test_incident(); /* high: not beyond by the regime */
    struct esc_plan p;
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert(p.facts.beyond_capacity);
    ck_assert_int_eq(find(&p, "initial-report", "national")->due_ns, ESC_T0);
}
END_TEST

START_TEST(test_policy_suppresses_lab_tenant)
{
    struct esc_env env = {.regime = law, .taxonomy = tax, .assets = assets, .policy = pol};
    struct store_incident inc = esc_test_incident();
    inc.tenant = "lab";
    struct esc_plan p;
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert(p.facts.suppressed);
    ck_assert_uint_eq(p.n, 0);
}
END_TEST

START_TEST(test_policy_voluntary_escalation_of_non_serious_level3_incident)
{
    static const char inv[] = "systems:\n  - {id: p, name: Portal, level: 3, hostnames: [db-01]}\n";
    struct esc_assets *a3;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_assets_load_buffer("a.yml", inv, sizeof(inv) - 1, &a3, &err), 0);
    struct esc_env env = {.regime = law, .taxonomy = tax, .assets = a3, .policy = pol};
    struct store_incident inc = esc_test_incident();
    struct esc_plan p;
    ck_assert_int_eq(esc_plan_incident(&env, &inc, &p), 0);
    ck_assert(!p.facts.serious);
    PIN(&p, {"initial-notice", "managing_body", ESC_T0 + 24 * ESC_H, false},
        {"detailed-report", "national", ESC_T0 + 72 * ESC_H, true},
        {"detailed-report", "managing_body", ESC_T0 + 72 * ESC_H, false});
    esc_assets_free(a3);
}
END_TEST

START_TEST(test_policy_errors_name_file_line_col)
{
    static const char y[] = "regime: law116-2025\n"
                            "rules:\n"
                            "  - name: r1\n"
                            "    match: {types: [ransomwear]}\n";
    struct esc_policy *p = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_policy_load_buffer("policy.yml", y, sizeof(y) - 1, &p, &err),
                     TS_E_CONFIG);
    ck_assert_ptr_null(p);
    ck_assert_str_eq(err.file, "policy.yml");
    ck_assert_uint_eq(err.line, 4);
    ck_assert_uint_eq(err.col, 21);
    ck_assert_msg(strstr(err.msg, "unknown incident type \"ransomwear\"") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_policy_naming_a_recipient_the_regime_lacks_is_refused)
{
    static const char y[] = "rules:\n"
                            "  - name: r1\n"
                            "    escalate: {to: [vncert]}\n";
    struct esc_policy *p = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_policy_load_buffer("policy.yml", y, sizeof(y) - 1, &p, &err), 0);
    ck_assert_int_eq(esc_policy_check(p, law, &err), TS_E_CONFIG);
    ck_assert_uint_eq(err.line, 2);
    ck_assert_msg(strstr(err.msg, "no recipient \"vncert\"") != NULL, "%s", err.msg);
    ck_assert_int_eq(esc_policy_check(pol, law, &err), 0);
    ck_assert_int_eq(esc_policy_check(pol, circ, &err), 0); /* its law116 rule is skipped */
    esc_policy_free(p);
}
END_TEST

/* --------------------------------------------------------------- regime */

START_TEST(test_regime_unknown_key_and_recipient_are_errors_with_position)
{
    static const char y1[] = "regime: x\ntitle: X\nrecipients:\n  - {id: a, name: A}\n"
                             "reports:\n  - {id: r, stage: initial, within: 24h, to: [b]}\n";
    static const char y2[] = "regime: x\ntitle: X\nserios: []\n";
    struct esc_regime *r = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_regime_load_buffer("r.yml", y1, sizeof(y1) - 1, &r, &err), TS_E_CONFIG);
    ck_assert_uint_eq(err.line, 6);
    ck_assert_msg(strstr(err.msg, "unknown recipient \"b\"") != NULL, "%s", err.msg);
    ts_err_clear(&err);
    ck_assert_int_eq(esc_regime_load_buffer("r.yml", y2, sizeof(y2) - 1, &r, &err), TS_E_CONFIG);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_uint_eq(err.col, 1);
    ck_assert_msg(strstr(err.msg, "unknown key \"serios\"") != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "(did you mean \"serious\"?)") != NULL, "%s", err.msg);
}
END_TEST

/* The loaders over a tree the caller parsed (esc_*_load_tree, the fuzz
 * target's way) answer as over the text: the same code and message. */
#define SAME_AS_TEXT(kind, text)                                                                  \
    do {                                                                                          \
        struct esc_##kind *a = NULL, *b = NULL;                                                   \
        struct ts_err ea = {0}, eb = {0};                                                         \
        struct ts_ystream *tree = NULL;                                                           \
        ck_assert_int_eq(ts_yaml_load_buffer("x.yml", text, strlen(text), &tree, &eb), 0);        \
        int ra = esc_##kind##_load_buffer("x.yml", text, strlen(text), &a, &ea);                  \
        int rb = esc_##kind##_load_tree("x.yml", tree, &b, &eb);                                  \
        ck_assert_int_eq(ra, rb);                                                                 \
        ck_assert_int_eq(!a, !b);                                                                 \
        ck_assert_str_eq(ea.msg, eb.msg);                                                         \
        ck_assert_uint_eq(ea.line, eb.line);                                                      \
        ck_assert_uint_eq(ea.col, eb.col);                                                        \
        esc_##kind##_free(a);                                                                     \
        esc_##kind##_free(b);                                                                     \
        ts_yaml_free(tree);                                                                       \
    } while (0)

START_TEST(test_loaders_over_a_parsed_tree_answer_as_over_the_text)
{
#define REGIME_OK                                                                                  \
    "regime: x\ntitle: X\nrecipients:\n  - {id: a, name: A}\n"                                    \
    "reports:\n  - {id: r, stage: initial, within: 24h, to: [a]}\n"
    static const char *const texts[] = {
        "regime: x\ntitle: X\nserios: []\n", "- a\n", "a: 1\n---\nb: 2\n", "", REGIME_OK,
        "organisations:\n  - {id: o}\n", "levels: 3\n", "when: []\n"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        SAME_AS_TEXT(regime, texts[i]);
        SAME_AS_TEXT(taxonomy, texts[i]);
        SAME_AS_TEXT(policy, texts[i]);
        SAME_AS_TEXT(orgs, texts[i]);
    }
    /* one that loads: the regime of the fourth text */
    struct esc_regime *r = NULL;
    struct ts_err err = {0};
    struct ts_ystream *tree = NULL;
    ck_assert_int_eq(ts_yaml_load_buffer("x.yml", texts[4], strlen(texts[4]), &tree, &err), 0);
    ck_assert_int_eq(esc_regime_load_tree("x.yml", tree, &r, &err), 0);
    ck_assert_ptr_nonnull(r);
    ts_yaml_free(tree);
    esc_regime_free(r);
}
END_TEST

START_TEST(test_regime_bad_deadline_is_an_error)
{
    static const char y[] = "regime: x\ntitle: X\nrecipients:\n  - {id: a, name: A}\n"
                            "reports:\n  - {id: r, stage: initial, within: soon, to: [a]}\n";
    struct esc_regime *r = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_regime_load_buffer("r.yml", y, sizeof(y) - 1, &r, &err), TS_E_CONFIG);
    ck_assert_uint_eq(err.line, 6);
    ck_assert_msg(strstr(err.msg, "within must be a duration") != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "got \"soon\"") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_regime_named_refuses_path_names)
{
    struct esc_regime *r = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_regime_load_named("etc/escalation", "../etc/passwd", &r, &err),
                     TS_E_INVAL);
    ck_assert_ptr_null(r);
}
END_TEST

/* A condition's `open: maybe` (and a policy's `set: {serious: maybe}`)
 * fails the load at the value, and no uninitialised flag is stored on the
 * way (issue 17, finding 13: the loader copied the bool that get_bool did
 * not write). The stack is painted first so that a read of the unwritten
 * bool sees a value that is neither 0 nor 1: the UBSan build (make
 * unit-asan) stops there with "not a valid value for type 'bool'". */
static __attribute__((noinline)) void paint_stack(void)
{
    volatile unsigned char junk[16384];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = 0xa5;
}

START_TEST(test_condition_open_maybe_fails_at_the_value_without_uninitialised_read)
{
    static const char y[] = "regime: x\ntitle: X\n"
                            "serious:\n"
                            "  - {min_level: 4, open: maybe}\n"
                            "recipients:\n  - {id: a, name: A}\n"
                            "reports:\n  - {id: r, stage: initial, within: 24h, to: [a]}\n";
    struct esc_regime *r = NULL;
    struct ts_err err = {0};
    paint_stack();
    ck_assert_int_eq(esc_regime_load_buffer("r.yml", y, sizeof(y) - 1, &r, &err), TS_E_CONFIG);
    ck_assert_ptr_null(r);
    ck_assert_str_eq(err.file, "r.yml");
    ck_assert_uint_eq(err.line, 4);
    ck_assert_uint_eq(err.col, 26);
    ck_assert_msg(strstr(err.msg, "open must be true or false") != NULL, "%s", err.msg);

    static const char p[] = "rules:\n"
                            "  - name: r1\n"
                            "    set: {serious: maybe}\n";
    struct esc_policy *pl = NULL;
    ts_err_clear(&err);
    paint_stack();
    ck_assert_int_eq(esc_policy_load_buffer("policy.yml", p, sizeof(p) - 1, &pl, &err),
                     TS_E_CONFIG);
    ck_assert_ptr_null(pl);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_uint_eq(err.col, 20);
    ck_assert_msg(strstr(err.msg, "serious must be true or false") != NULL, "%s", err.msg);
}
END_TEST

/* ---------------------------------------------------------------- types */

static enum esc_type classify(const char *const *tags, size_t n, struct esc_class *c)
{
    esc_classify(tax, tags, n, c);
    return c->type;
}

START_TEST(test_tags_map_to_national_types)
{
    struct esc_class c;
    static const char *const t1[] = {"attack.t1486"};
    static const char *const t2[] = {"attack.T1110.003"};
    static const char *const t3[] = {"attack.t1498"};
    static const char *const t4[] = {"attack.t1566.001"};
    static const char *const t5[] = {"attack.t1491.002"};
    static const char *const t6[] = {"attack.t1485"};
    static const char *const t7[] = {"attack.t1560.001"};
    static const char *const t8[] = {"attack.execution", "attack.t1059.001"};
    static const char *const t9[] = {"attack.t1490"};
    ck_assert_int_eq(classify(t1, 1, &c), ESC_TYPE_RANSOMWARE);
    ck_assert_int_eq(classify(t2, 1, &c), ESC_TYPE_TAKEOVER);
    ck_assert_int_eq(classify(t3, 1, &c), ESC_TYPE_DOS);
    ck_assert(c.impacts & ESC_IMPACT_OUTAGE);
    ck_assert_int_eq(classify(t4, 1, &c), ESC_TYPE_PHISHING);
    ck_assert_int_eq(classify(t5, 1, &c), ESC_TYPE_DEFACEMENT);
    ck_assert_int_eq(classify(t6, 1, &c), ESC_TYPE_DESTRUCTION);
    ck_assert_int_eq(classify(t7, 1, &c), ESC_TYPE_ESPIONAGE);
    ck_assert(c.impacts & ESC_IMPACT_DATA_LEAK);
    ck_assert_int_eq(classify(t8, 2, &c), ESC_TYPE_MALWARE);
    ck_assert_int_eq(classify(t9, 1, &c), ESC_TYPE_RANSOMWARE);
}
END_TEST

START_TEST(test_tags_of_two_types_are_combined_with_primary_by_priority)
{
    struct esc_class c;
    static const char *const t[] = {"attack.t1110", "attack.t1486", "attack.t1490"};
    ck_assert_int_eq(classify(t, 3, &c), ESC_TYPE_COMBINED);
    ck_assert_int_eq(c.primary, ESC_TYPE_RANSOMWARE);
    ck_assert_uint_eq(c.types, (1u << ESC_TYPE_TAKEOVER) | (1u << ESC_TYPE_RANSOMWARE));
    ck_assert(c.impacts & ESC_IMPACT_LOSS_OF_CONTROL);
}
END_TEST

START_TEST(test_unmapped_or_tactic_only_tags_are_other)
{
    struct esc_class c;
    static const char *const t[] = {"attack.impact", "cve.2021-44228", "attack.t9999"};
    ck_assert_int_eq(classify(t, 3, &c), ESC_TYPE_OTHER);
    ck_assert_int_eq(classify(NULL, 0, &c), ESC_TYPE_OTHER);
    esc_classify(NULL, t, 3, &c);
    ck_assert_int_eq(c.type, ESC_TYPE_OTHER);
}
END_TEST

START_TEST(test_taxonomy_duplicate_tag_is_an_error)
{
    static const char y[] = "tags:\n  attack.t1486: ransomware\n  Attack.T1486: dos\n";
    struct esc_taxonomy *t = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_taxonomy_load_buffer("t.yml", y, sizeof(y) - 1, &t, &err), TS_E_CONFIG);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_msg(strstr(err.msg, "mapped twice") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_type_and_stage_names_round_trip)
{
    for (unsigned i = 0; i < ESC_TYPE_COUNT; i++) {
        enum esc_type t;
        ck_assert_int_eq(esc_type_parse(esc_type_name((enum esc_type)i), &t), 0);
        ck_assert_uint_eq(t, i);
    }
    enum esc_stage s;
    ck_assert_int_eq(esc_stage_parse("final", &s), 0);
    ck_assert_int_eq(s, ESC_STAGE_FINAL);
    ck_assert_int_eq(esc_stage_parse("closing", &s), TS_E_INVAL);
    ck_assert_str_eq(esc_taxonomy_type_label(tax, ESC_TYPE_RANSOMWARE, ESC_LANG_VI),
                     "Tấn công mã hóa dữ liệu, tống tiền");
}
END_TEST

/* ---------------------------------------------------------- config check */

struct warns {
    char text[4096];
    size_t n;
};

static void collect_warning(void *ctx, const char *file, unsigned line, unsigned col,
                            const char *msg)
{
    struct warns *w = ctx;
    size_t used = strlen(w->text);
    snprintf(w->text + used, sizeof(w->text) - used, "%s:%u:%u: %s\n", file ? file : "-", line,
             col, msg);
    w->n++;
}

/* A report that a field is missing is a warning at load, naming the file,
 * the organisation's line and the key to add - not a surprise at send. */
START_TEST(test_config_check_warns_at_load_for_fields_a_report_will_miss)
{
    static const char y[] =
        "tenants:\n"
        "  full:\n"
        "    name: A\n    address: B\n    phone: C\n    email: d@e\n    place: P\n"
        "    security_provider: S\n    network_provider: N\n    system_purpose: U\n"
        "    os: O\n    services: V\n    security_measures: M\n    confidential: false\n"
        "    contact: {name: K}\n    signer: {name: G, role: R}\n"
        "  thin:\n"
        "    name: T\n"
        "    contact: {email: t@t}\n";
    struct esc_orgs *o = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_orgs_load_buffer("orgs.yml", y, sizeof(y) - 1, &o, &err), 0);
    struct esc_env env = {.regime = law, .taxonomy = tax, .assets = assets, .orgs = o};
    struct warns w = {.n = 0};
    size_t n = esc_config_warnings(&env, collect_warning, &w);
    ck_assert_uint_eq(n, w.n);
    /* thin: 10 fields, signer, confidential; full: none; one system of the
     * inventory without operator or managing body */
    ck_assert_uint_eq(n, 13);
    ck_assert_ptr_nonnull(strstr(w.text, "-:0:0: system \""));
    ck_assert_ptr_nonnull(strstr(w.text, "orgs.yml:18:5: organisation \"thin\" has no address"));
    ck_assert_ptr_nonnull(strstr(w.text, "has no os: reports will read \"Hệ điều hành, phiên bản: "
                                         "chưa khai báo\""));
    ck_assert_ptr_null(strstr(w.text, "\"full\""));
    ck_assert_ptr_null(strstr(w.text, "no contact"));
    /* no organisations, no inventory, a lapsed regime: three more */
    struct esc_env bare = {.regime = circ, .taxonomy = tax};
    memset(&w, 0, sizeof(w));
    ck_assert_uint_eq(esc_config_warnings(&bare, collect_warning, &w), 3);
    ck_assert_ptr_nonnull(strstr(w.text, "86/2015/QH13"));
    ck_assert_ptr_nonnull(strstr(w.text, "no asset inventory"));
    esc_orgs_free(o);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("esc_plan");
    TCase *tc = tcase_create("plan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_law116_serious_ransomware_level4_pins_recipients_and_due_times);
    tcase_add_test(tc, test_law116_non_serious_level2_owes_only_the_72h_report);
    tcase_add_test(tc, test_law116_beyond_capacity_owes_notice_at_once_to_a05);
    tcase_add_test(tc, test_law116_mod_route_reports_to_the_defence_force_not_a05);
    tcase_add_test(tc, test_law116_mod_route_per_system_of_the_inventory);
    tcase_add_test(tc, test_law116_closing_report_due_5d_after_resolution);
    tcase_add_test(tc, test_law116_level5_high_incident_owes_notice_at_once);
    tcase_add_test(tc, test_law116_unknown_system_is_not_serious);
    tcase_add_test(tc, test_law116_brute_force_level4_without_impact_tag_is_serious_takeover);
    tcase_add_test(tc, test_each_tenant_gets_its_own_asset_of_the_same_id);
    tcase_add_test(tc, test_same_asset_id_for_overlapping_tenants_is_refused);
    tcase_add_test(tc, test_circular20_serious_ransomware_level4_pins_recipients_and_due_times);
    tcase_add_test(tc, test_circular20_non_serious_level2_owes_notice_and_final_report);
    tcase_add_test(tc, test_circular20_beyond_capacity_owes_form03_at_once);
    tcase_add_test(tc, test_circular20_final_report_due_5d_after_response_end);
    tcase_add_test(tc, test_circular20_says_its_basis_lapsed);
    tcase_add_test(tc, test_config_check_warns_at_load_for_fields_a_report_will_miss);
    tcase_add_test(tc, test_policy_sets_beyond_capacity_for_ransomware_so_form03_is_owed);
    tcase_add_test(tc, test_policy_suppresses_lab_tenant);
    tcase_add_test(tc, test_policy_voluntary_escalation_of_non_serious_level3_incident);
    tcase_add_test(tc, test_policy_errors_name_file_line_col);
    tcase_add_test(tc, test_policy_naming_a_recipient_the_regime_lacks_is_refused);
    tcase_add_test(tc, test_regime_unknown_key_and_recipient_are_errors_with_position);
    tcase_add_test(tc, test_regime_bad_deadline_is_an_error);
    tcase_add_test(tc, test_loaders_over_a_parsed_tree_answer_as_over_the_text);
    tcase_add_test(tc, test_regime_named_refuses_path_names);
    tcase_add_test(tc, test_condition_open_maybe_fails_at_the_value_without_uninitialised_read);
    tcase_add_test(tc, test_tags_map_to_national_types);
    tcase_add_test(tc, test_tags_of_two_types_are_combined_with_primary_by_priority);
    tcase_add_test(tc, test_unmapped_or_tactic_only_tags_are_other);
    tcase_add_test(tc, test_taxonomy_duplicate_tag_is_an_error);
    tcase_add_test(tc, test_type_and_stage_names_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
