/* check_corr_link.c - incidents for what matters, linked by entity (issue
 * 10 item 5): a detection of level high or critical is an incident by
 * default (configurable per level and per rule); a detection that shares an
 * entity (src_ip, user, host) with an open incident within the link window
 * joins it as evidence and raises its severity; state (detection incidents
 * and links) survives a restart; a plain-rule grouping still decides for
 * its own rule. */
#include "../../core/config.h"
#include "check_corr_util.h"

#define DET_LEVEL(name, level)                                                                    \
    "title: " name "\nname: " name "\nlogsource:\n  product: test\ndetection:\n  sel:\n"          \
    "    x: " name "\n  condition: sel\nlevel: " level "\ntags:\n  - attack.t1078\n---\n"

#define BRUTE                                                                                     \
    "title: brute\nid: brute\ncorrelation:\n  type: event_count\n  rules: [ssh_fail]\n"           \
    "  group-by: [src_ip]\n  timespan: 1m\n  condition:\n    gte: 5\nlevel: high\n"

#define PACK                                                                                      \
    DET_LEVEL("ssh_fail", "low") DET_LEVEL("root_login", "high") DET_LEVEL("lsass", "critical")  \
    DET_LEVEL("new_user", "medium") DET_LEVEL("cron_edit", "informational") BRUTE

#define ATT "203.0.113.7"

static void brute_force(struct harness *h, const char *ip, int64_t t0)
{
    for (int i = 0; i < 6; i++)
        FEED(h, "ssh_fail", t0 + i * 2 * SEC, "src_ip", ip, "username", "root", "host", "web1");
}

START_TEST(test_high_and_critical_detections_become_incidents_by_default)
{
    struct harness h;
    h_open(&h, PACK, NULL);
    FEED(&h, "root_login", T0, "src_ip", "198.51.100.1", "username", "root", "host", "db1");
    FEED(&h, "lsass", T0, "host", "ws7", "User", "CORP\\bob");
    FEED(&h, "new_user", T0, "host", "ws8");
    FEED(&h, "cron_edit", T0, "host", "ws9");
    FEED(&h, "ssh_fail", T0, "src_ip", "198.51.100.9");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 2);
    const struct inc_rec *r = h_find(&h, "root_login", NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->type, "detection");
    ck_assert_int_eq(r->severity, CORR_SEV_HIGH);
    ck_assert_str_eq(r->group, "src_ip=198.51.100.1,user=root,host=db1"); /* what it carries */
    ck_assert_uint_eq(r->count, 1);
    r = h_find(&h, "lsass", NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->severity, CORR_SEV_CRITICAL);
    ck_assert_str_eq(r->group, "user=CORP\\bob,host=ws7");
    ck_assert_ptr_null(h_find(&h, "new_user", NULL));
    h_close(&h);
}
END_TEST

START_TEST(test_repeats_within_the_window_update_the_detection_incident)
{
    struct harness h;
    h_open(&h, PACK, NULL);
    FEED(&h, "lsass", T0, "host", "ws7");
    FEED(&h, "lsass", T0 + 600 * SEC, "host", "ws7");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    ck_assert_uint_eq(h.inc[0].count, 2);
    FEED(&h, "lsass", T0 + 600 * SEC + 3601 * SEC, "host", "ws7"); /* past the 1 h window */
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 2);
    ck_assert_str_ne(h.inc[0].id, h.inc[1].id);
    h_close(&h);
}
END_TEST

START_TEST(test_incident_modes_are_configured_per_level_and_per_rule)
{
    struct harness h;
    struct corr_rule_mode rm[] = {{"lsass", CORR_INC_OFF}, {"cron_edit", CORR_INC_OPEN}};
    struct corr_opts o = {.rule_modes = rm, .nrule_modes = 2};
    o.level_modes[CORR_SEV_MEDIUM] = CORR_INC_OPEN;
    o.level_modes[CORR_SEV_HIGH] = CORR_INC_LINK;
    h_open(&h, PACK, &o);
    FEED(&h, "root_login", T0, "src_ip", "198.51.100.1"); /* high: link only, nothing to join */
    FEED(&h, "lsass", T0, "host", "ws7");                 /* critical, but the rule is off */
    FEED(&h, "new_user", T0, "host", "ws8");              /* medium: on */
    FEED(&h, "cron_edit", T0, "host", "ws9");             /* informational, the rule is on */
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 2);
    ck_assert_ptr_nonnull(h_find(&h, "new_user", "host=ws8"));
    ck_assert_ptr_nonnull(h_find(&h, "cron_edit", "host=ws9"));
    /* link-only: joins an open incident sharing the host */
    FEED(&h, "root_login", T0 + 60 * SEC, "src_ip", "198.51.100.1", "host", "ws8");
    h_end(&h);
    const struct inc_rec *r = h_find(&h, "new_user", "host=ws8");
    ck_assert_uint_eq(r->count, 2);
    ck_assert_uint_eq(r->linked, 1);
    ck_assert_int_eq(r->severity, CORR_SEV_HIGH); /* medium + high = high */
    ck_assert_uint_eq(h.ninc, 2);
    h_close(&h);
    /* a rule that is not loaded: the engine refuses the options */
    struct corr_rule_mode bad[] = {{"nope", CORR_INC_OPEN}};
    struct corr_opts ob = {.rule_modes = bad, .nrule_modes = 1};
    struct rule_set *rs = NULL;
    struct rule_load_opts lo = {.buf = PACK, .buf_len = strlen(PACK), .buf_name = "t.yml"};
    struct rule_report rr;
    struct ts_err err = {0};
    ck_assert_int_eq(rule_set_load(&rs, &lo, &rr, &err), 0);
    rule_report_free(&rr);
    struct corr_engine *c = NULL;
    ck_assert_int_eq(corr_engine_create(&c, rs, &ob, NULL, &err), TS_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "nope"));
    rule_set_unref(rs);
}
END_TEST

/* The case: an SSH brute force from X, then a root login from X:
 * one incident, the root login its evidence, severity critical. */
START_TEST(test_root_login_after_brute_force_joins_its_incident_as_critical)
{
    struct harness h;
    h_open(&h, PACK, NULL);
    brute_force(&h, ATT, T0);
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    ck_assert_int_eq(h.inc[0].severity, CORR_SEV_HIGH);
    size_t ev_before = h.nevidence;
    FEED(&h, "root_login", T0 + 40 * SEC, "src_ip", ATT, "username", "root", "host", "web1");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1); /* no incident of its own */
    const struct inc_rec *r = h_find(&h, "brute", "src_ip=" ATT);
    ck_assert_uint_eq(r->count, 7);
    ck_assert_uint_eq(r->linked, 1);
    ck_assert_int_eq(r->severity, CORR_SEV_CRITICAL); /* high + high */
    ck_assert_int_eq(r->last, T0 + 40 * SEC);
    ck_assert_uint_eq(h.nevidence, ev_before + 1);
    ck_assert_uint_eq(h.nevidence_linked, 1);
    struct corr_metrics m;
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.detections_linked, 1);
    /* the brute force goes on: the same incident, still critical */
    FEED(&h, "ssh_fail", T0 + 50 * SEC, "src_ip", ATT);
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    ck_assert_uint_eq(h.inc[0].count, 8);
    h_close(&h);
}
END_TEST

START_TEST(test_detection_after_the_link_window_is_not_linked)
{
    struct harness h;
    struct corr_opts o = {.link_window_ns = 600 * SEC};
    h_open(&h, PACK, &o);
    brute_force(&h, ATT, T0);
    /* another address, another tenant: never linked */
    FEED(&h, "root_login", T0 + 30 * SEC, "src_ip", "198.51.100.1");
    h.tenant = "agency-b";
    FEED(&h, "root_login", T0 + 30 * SEC, "src_ip", ATT);
    h.tenant = NULL;
    /* within 10 min of the last failure (T0 + 10 s): linked */
    FEED(&h, "lsass", T0 + 600 * SEC, "src_ip", ATT, "host", "ws1");
    /* 10 min + 1 s after the last linked detection: its own incident */
    FEED(&h, "root_login", T0 + 1201 * SEC, "src_ip", ATT, "host", "web1");
    h_end(&h);
    const struct inc_rec *b = h_find(&h, "brute", NULL);
    ck_assert_uint_eq(b->linked, 1);
    ck_assert_int_eq(b->severity, CORR_SEV_CRITICAL); /* high + critical */
    ck_assert_uint_eq(h_count(&h, "root_login"), 3);
    ck_assert_uint_eq(h.ninc, 4);
    h_close(&h);
}
END_TEST

START_TEST(test_detections_link_to_each_other_by_any_shared_entity)
{
    struct harness h;
    h_open(&h, PACK, NULL);
    FEED(&h, "lsass", T0, "host", "ws7", "User", "CORP\\bob");
    FEED(&h, "root_login", T0 + 300 * SEC, "src_ip", "10.1.1.1", "User", "CORP\\bob");
    FEED(&h, "root_login", T0 + 300 * SEC, "src_ip", "10.1.1.2", "username", "-"); /* nil */
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 2);
    const struct inc_rec *r = h_find(&h, "lsass", NULL);
    ck_assert_uint_eq(r->count, 2);
    ck_assert_uint_eq(r->linked, 1);
    ck_assert_int_eq(r->severity, CORR_SEV_CRITICAL);
    ck_assert_str_eq(h_find(&h, "root_login", NULL)->group, "src_ip=10.1.1.2");
    h_close(&h);
}
END_TEST

START_TEST(test_the_most_severe_open_incident_is_chosen)
{
    struct harness h;
    h_open(&h, PACK, NULL);
    FEED(&h, "new_user", T0, "host", "h1"); /* medium: off by default, nothing */
    FEED(&h, "root_login", T0, "src_ip", "10.1.1.1", "host", "h1");
    FEED(&h, "lsass", T0 + SEC, "host", "h2", "src_ip", "10.9.9.9");
    /* shares h1 with the root login (high) and 10.9.9.9 with lsass (critical) */
    FEED(&h, "root_login", T0 + 60 * SEC, "src_ip", "10.9.9.9", "host", "h1");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 2);
    ck_assert_uint_eq(h_find(&h, "lsass", NULL)->linked, 1);
    ck_assert_uint_eq(h_find(&h, "root_login", NULL)->linked, 0);
    h_close(&h);
}
END_TEST

START_TEST(test_entities_are_configurable)
{
    static const char *const hostf[] = {"host", "Computer"};
    struct corr_entity ents[] = {{"host", hostf, 2}};
    struct corr_opts o = {.entities = ents, .nentities = 1};
    struct harness h;
    h_open(&h, PACK, &o);
    brute_force(&h, ATT, T0);
    FEED(&h, "root_login", T0 + 20 * SEC, "src_ip", ATT, "host", "web1"); /* src_ip: no entity */
    FEED(&h, "lsass", T0 + 30 * SEC, "Computer", "web1");                 /* host by Computer */
    h_end(&h);
    ck_assert_uint_eq(h_find(&h, "brute", NULL)->linked, 0);
    const struct inc_rec *r = h_find(&h, "root_login", NULL);
    ck_assert_str_eq(r->group, "host=web1");
    ck_assert_uint_eq(r->linked, 1);
    ck_assert_uint_eq(h.ninc, 2);
    h_close(&h);
}
END_TEST

START_TEST(test_a_grouping_decides_for_its_rule)
{
    static const char *const gb[] = {"host"};
    struct corr_grouping g = {.rule = "root_login", .group_by = gb, .ngroup_by = 1,
                              .window_ns = 60 * SEC};
    struct corr_opts o = {.groupings = &g, .ngroupings = 1};
    struct harness h;
    h_open(&h, PACK, &o);
    brute_force(&h, ATT, T0);
    FEED(&h, "root_login", T0 + 20 * SEC, "src_ip", ATT, "host", "web1");
    h_end(&h);
    ck_assert_uint_eq(h_find(&h, "brute", NULL)->linked, 0);
    const struct inc_rec *r = h_find(&h, "root_login", NULL);
    ck_assert_str_eq(r->type, "grouping");
    ck_assert_str_eq(r->group, "host=web1");
    /* its incidents carry host: a critical detection on web1 joins it */
    FEED(&h, "lsass", T0 + 30 * SEC, "host", "web1");
    h_end(&h);
    ck_assert_uint_eq(h_find(&h, "root_login", NULL)->linked, 1);
    ck_assert_uint_eq(h.ninc, 2);
    h_close(&h);
}
END_TEST

/* Restart (export, new engine, import) at every point of a stream with
 * brute forces, linked and own detection incidents: the same incidents
 * as without a restart. */
START_TEST(test_restart_in_the_middle_keeps_detection_incidents_and_links)
{
    struct step {
        const char *rule;
        int64_t t;
        const char *ip, *host;
    } s[] = {
        {"ssh_fail", 0, ATT, "web1"},         {"ssh_fail", 2, ATT, "web1"},
        {"lsass", 3, NULL, "ws1"},            {"ssh_fail", 4, ATT, "web1"},
        {"ssh_fail", 6, ATT, "web1"},         {"ssh_fail", 8, ATT, "web1"},
        {"root_login", 40, ATT, "web1"},      {"lsass", 50, "10.5.5.5", "ws1"},
        {"root_login", 70, "10.5.5.5", "x"},  {"ssh_fail", 90, ATT, "web1"},
        {"root_login", 4000, ATT, "web2"},    {"lsass", 4100, NULL, "web2"},
    };
    size_t n = TS_ARRAY_LEN(s);
    struct harness ref;
    h_open(&ref, PACK, NULL);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(h_feed_src(&ref, s[i].rule, T0 + s[i].t * SEC, "a.log", i + 1,
                                    s[i].ip ? "src_ip" : "host", s[i].ip ? s[i].ip : s[i].host,
                                    "host", s[i].host, NULL),
                         0);
    h_end(&ref);
    ck_assert_uint_eq(ref.ninc, 4); /* brute +root login, lsass ws1 +lsass, two root logins */
    ck_assert_uint_eq(h_find(&ref, "brute", NULL)->linked, 1);
    ck_assert_uint_eq(h_find(&ref, "lsass", NULL)->linked, 1);
    for (size_t split = 1; split < n; split++) {
        struct harness h;
        h_open(&h, PACK, NULL);
        for (size_t i = 0; i < n; i++) {
            if (i == split) {
                h_end(&h);
                h_restart(&h, NULL);
            }
            ck_assert_int_eq(h_feed_src(&h, s[i].rule, T0 + s[i].t * SEC, "a.log", i + 1,
                                        s[i].ip ? "src_ip" : "host",
                                        s[i].ip ? s[i].ip : s[i].host, "host", s[i].host, NULL),
                             0);
        }
        h_end(&h);
        ck_assert_uint_eq(h.ninc, ref.ninc);
        for (size_t i = 0; i < ref.ninc; i++) {
            const struct inc_rec *x = &ref.inc[i], *y = NULL;
            for (size_t j = 0; j < h.ninc && !y; j++)
                if (strcmp(h.inc[j].id, x->id) == 0)
                    y = &h.inc[j];
            ck_assert_msg(y != NULL, "split %zu: %s %s missing", split, x->rule, x->group);
            ck_assert_uint_eq(x->count, y->count);
            ck_assert_uint_eq(x->linked, y->linked);
            ck_assert_int_eq(x->severity, y->severity);
            ck_assert_int_eq(x->first, y->first);
            ck_assert_int_eq(x->last, y->last);
        }
        h_close(&h);
    }
    h_close(&ref);
}
END_TEST

START_TEST(test_detection_incident_ids_are_stable)
{
    char id[2][33];
    for (int run = 0; run < 2; run++) {
        struct harness h;
        h_open(&h, PACK, NULL);
        FEED(&h, "lsass", T0, "host", "ws7");
        h_end(&h);
        ck_assert_uint_eq(h.ninc, 1);
        memcpy(id[run], h.inc[0].id, 33);
        h_close(&h);
    }
    ck_assert_str_eq(id[0], id[1]);
}
END_TEST

/* The config section (core/config.c) the runtime maps onto corr_opts. */
START_TEST(test_config_incidents_section_is_read_and_errors_name_the_node)
{
    static const char good[] =
        "correlate:\n  incidents:\n    levels: {high: link, medium: incident}\n"
        "    rules: {lsass: off, cron_edit: incident}\n    window: 30m\n"
        "    entities:\n      src_ip: [src_ip, IpAddress]\n      host: host\n";
    struct ts_config *cfg = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(ts_config_load_buffer("t.yml", good, strlen(good), &cfg, &err), 0);
    ck_assert_uint_eq(cfg->correlate.incidents.levels[CORR_SEV_HIGH], CORR_INC_LINK);
    ck_assert_uint_eq(cfg->correlate.incidents.levels[CORR_SEV_MEDIUM], CORR_INC_OPEN);
    ck_assert_uint_eq(cfg->correlate.incidents.levels[CORR_SEV_CRITICAL], 0); /* default */
    ck_assert_uint_eq(cfg->correlate.incidents.nrules, 2);
    ck_assert_str_eq(cfg->correlate.incidents.rules[0].rule, "lsass");
    ck_assert_uint_eq(cfg->correlate.incidents.rules[0].mode, CORR_INC_OFF);
    ck_assert_int_eq(cfg->correlate.incidents.window_ns, 1800 * SEC);
    ck_assert_uint_eq(cfg->correlate.incidents.nentities, 2);
    ck_assert_str_eq(cfg->correlate.incidents.entities[0].fields[1], "IpAddress");
    ck_assert_uint_eq(cfg->correlate.incidents.entities[1].nfields, 1);
    ts_config_free(cfg);
    static const char list[] = "correlate:\n  incidents:\n    entities: [src_ip, host]\n";
    ck_assert_int_eq(ts_config_load_buffer("t.yml", list, strlen(list), &cfg, &err), 0);
    ck_assert_uint_eq(cfg->correlate.incidents.nentities, 2);
    ck_assert_uint_eq(cfg->correlate.incidents.entities[1].nfields, 0); /* its name */
    ts_config_free(cfg);
    static const char bad[] = "correlate:\n  incidents:\n    levels: {high: always}\n";
    ck_assert_int_ne(ts_config_load_buffer("t.yml", bad, strlen(bad), &cfg, &err), 0);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_ptr_nonnull(strstr(err.msg, "off, link, incident"));
    static const char bad2[] = "correlate:\n  incidents:\n    levels: {severe: off}\n";
    memset(&err, 0, sizeof(err)); /* the first error wins */
    ck_assert_int_ne(ts_config_load_buffer("t.yml", bad2, strlen(bad2), &cfg, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "severe"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("corr_link");
    TCase *t = tcase_create("link");
    tcase_add_test(t, test_high_and_critical_detections_become_incidents_by_default);
    tcase_add_test(t, test_repeats_within_the_window_update_the_detection_incident);
    tcase_add_test(t, test_incident_modes_are_configured_per_level_and_per_rule);
    tcase_add_test(t, test_root_login_after_brute_force_joins_its_incident_as_critical);
    tcase_add_test(t, test_detection_after_the_link_window_is_not_linked);
    tcase_add_test(t, test_detections_link_to_each_other_by_any_shared_entity);
    tcase_add_test(t, test_the_most_severe_open_incident_is_chosen);
    tcase_add_test(t, test_entities_are_configurable);
    tcase_add_test(t, test_a_grouping_decides_for_its_rule);
    tcase_add_test(t, test_restart_in_the_middle_keeps_detection_incidents_and_links);
    tcase_add_test(t, test_detection_incident_ids_are_stable);
    tcase_add_test(t, test_config_incidents_section_is_read_and_errors_name_the_node);
    suite_add_tcase(s, t);
    return s;
}

TS_CHECK_MAIN(make_suite)
