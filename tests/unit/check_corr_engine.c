/* check_corr_engine.c - golden behaviour of the correlation engine per type:
 * thresholds, the timespan edge (inclusive), sliding (not bucketed) windows,
 * group keys kept apart, episodes and repeats, chains, aliases, lateness,
 * caps, generate, plain-rule grouping. */
#include "check_corr_util.h"

#define BRUTE                                                                                     \
    DET_RULE("ssh_fail")                                                                          \
    "title: brute\nid: brute\ncorrelation:\n  type: event_count\n  rules: [ssh_fail]\n"           \
    "  group-by: [src_ip]\n  timespan: 1m\n  condition:\n    gte: 5\nlevel: high\n"

START_TEST(test_event_count_fires_on_fifth_failure_not_fourth)
{
    struct harness h;
    h_open(&h, BRUTE, NULL);
    ck_assert_uint_eq(corr_rule_count(h.c), 1);
    for (int i = 0; i < 4; i++)
        FEED(&h, "ssh_fail", T0 + i * SEC, "src_ip", "10.0.0.1");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 0);
    FEED(&h, "ssh_fail", T0 + 4 * SEC, "src_ip", "10.0.0.1");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    ck_assert_uint_eq(h.inc[0].count, 5);
    ck_assert_str_eq(h.inc[0].group, "src_ip=10.0.0.1");
    ck_assert_int_eq(h.inc[0].first, T0);
    ck_assert_int_eq(h.inc[0].severity, CORR_SEV_HIGH);
    ck_assert_uint_eq(h.nevidence, 5);     /* every contributing event referenced */
    ck_assert_uint_eq(h.nevidence_raw, 1); /* raw at hand: the firing event */
    h_close(&h);
}
END_TEST

START_TEST(test_timespan_edge_is_inclusive)
{
    struct harness h;
    h_open(&h, BRUTE, NULL);
    for (int i = 0; i < 5; i++) /* 0, 15, 30, 45, 60 s: exactly one minute apart */
        FEED(&h, "ssh_fail", T0 + i * 15 * SEC, "src_ip", "10.0.0.1");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    for (int i = 0; i < 5; i++) /* one ns more: no */
        FEED(&h, "ssh_fail", T0 + 3600 * SEC + i * 15 * SEC + (i == 4), "src_ip", "10.0.0.2");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    h_close(&h);
}
END_TEST

START_TEST(test_sliding_window_spans_bucket_boundaries)
{
    struct harness h;
    h_open(&h, BRUTE, NULL);
    /* 2 events at the end of one minute and 3 at the start of the next:
     * fixed 1-minute buckets would see 2 + 3, a sliding window sees 5 */
    int64_t base = T0 - T0 % (60 * SEC);
    int64_t at[] = {50, 55, 61, 62, 63};
    for (int i = 0; i < 5; i++)
        FEED(&h, "ssh_fail", base + at[i] * SEC, "src_ip", "10.0.0.1");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    h_close(&h);
}
END_TEST

START_TEST(test_other_hosts_are_never_hidden)
{
    struct harness h;
    h_open(&h, BRUTE, NULL);
    for (int i = 0; i < 5; i++) {
        FEED(&h, "ssh_fail", T0 + i * SEC, "src_ip", "10.0.0.1");
        FEED(&h, "ssh_fail", T0 + i * SEC, "src_ip", "10.0.0.2");
        FEED(&h, "ssh_fail", T0 + i * SEC, "src_ip", "10.0.0.3");
    }
    FEED(&h, "ssh_fail", T0, "other", "x"); /* no src_ip: not counted */
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 3);
    ck_assert_ptr_nonnull(h_find(&h, "brute", "src_ip=10.0.0.2"));
    struct corr_metrics m;
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.missing_group_field, 1);
    h_close(&h);
}
END_TEST

START_TEST(test_repeats_update_the_open_incident_and_a_pause_starts_a_new_one)
{
    struct harness h;
    h_open(&h, BRUTE, NULL);
    for (int i = 0; i < 20; i++) { /* one failure a second for 20 s */
        FEED(&h, "ssh_fail", T0 + i * SEC, "src_ip", "10.0.0.1");
        h_end(&h); /* a batch per event: updates, never a second incident */
    }
    ck_assert_uint_eq(h.ninc, 1);
    ck_assert_uint_eq(h.inc[0].count, 20);
    ck_assert_uint_eq(h.inc[0].created, 1);
    ck_assert_uint_eq(h.inc[0].updated, 15);
    for (int i = 0; i < 5; i++) /* two minutes later: a new episode */
        FEED(&h, "ssh_fail", T0 + 200 * SEC + i * SEC, "src_ip", "10.0.0.1");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 2);
    ck_assert_str_ne(h.inc[0].id, h.inc[1].id);
    ck_assert_int_eq(h.inc[1].episode, T0 + 200 * SEC);
    ck_assert_uint_eq(h.inc[1].count, 5);
    h_close(&h);
}
END_TEST

START_TEST(test_held_batches_equal_one_big_batch)
{
    /* A: a batch (and store write) per 7 events; B: the same batches held,
     * written once at the end; then both restart from their store and go on */
    struct harness a, b;
    h_open(&a, BRUTE, NULL);
    h_open(&b, BRUTE, NULL);
    for (int i = 0; i < 70; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.0.0.%d", i % 4);
        int64_t t = T0 + (i / 4) * 7 * SEC + (i % 3) * SEC; /* some out of order */
        FEED(&a, "ssh_fail", t, "src_ip", ip);
        FEED(&b, "ssh_fail", t, "src_ip", ip);
        if (i % 7 == 6) {
            h_end(&a);
            corr_batch_hold(b.c);
            corr_batch_begin(b.c);
        }
    }
    h_end(&a);
    h_end(&b);
    ck_assert_uint_gt(a.ninc, 0);
    ck_assert_uint_eq(a.ninc, b.ninc);
    for (size_t i = 0; i < a.ninc; i++) { /* the same incidents, in any order */
        size_t j = 0;
        while (j < b.ninc && strcmp(a.inc[i].id, b.inc[j].id) != 0)
            j++;
        ck_assert_uint_lt(j, b.ninc);
        ck_assert_uint_eq(a.inc[i].count, b.inc[j].count);
        ck_assert_int_eq(a.inc[i].first, b.inc[j].first);
        ck_assert_int_eq(a.inc[i].last, b.inc[j].last);
        ck_assert_uint_eq(b.inc[j].created, 1);
        ck_assert_uint_eq(b.inc[j].updated, 0); /* one output for the held batches */
    }
    ck_assert_uint_eq(a.nevidence, b.nevidence);
    ck_assert_uint_eq(a.nevidence_raw, b.nevidence_raw);
    ck_assert_uint_eq(a.nkv, b.nkv);
    for (size_t i = 0; i < a.nkv; i++) {
        size_t j = 0;
        while (j < b.nkv && !(b.kv[j].kl == a.kv[i].kl && !memcmp(b.kv[j].k, a.kv[i].k, a.kv[i].kl)))
            j++;
        ck_assert_uint_lt(j, b.nkv);
        ck_assert_uint_eq(a.kv[i].vl, b.kv[j].vl);
        ck_assert_int_eq(memcmp(a.kv[i].v, b.kv[j].v, a.kv[i].vl), 0);
    }
    h_restart(&a, NULL);
    h_restart(&b, NULL);
    for (int i = 0; i < 12; i++) {
        FEED(&a, "ssh_fail", T0 + 130 * SEC + i * SEC, "src_ip", "10.0.0.1");
        FEED(&b, "ssh_fail", T0 + 130 * SEC + i * SEC, "src_ip", "10.0.0.1");
    }
    h_end(&a);
    h_end(&b);
    ck_assert_uint_eq(a.ninc, b.ninc);
    for (size_t i = 0; i < a.ninc; i++) {
        size_t j = 0;
        while (j < b.ninc && strcmp(a.inc[i].id, b.inc[j].id) != 0)
            j++;
        ck_assert_uint_lt(j, b.ninc);
        ck_assert_uint_eq(a.inc[i].count, b.inc[j].count);
    }
    h_close(&a);
    h_close(&b);
}
END_TEST

START_TEST(test_state_carries_over_to_an_engine_of_a_new_rule_set)
{
    /* a rule reload: three failures, the state stored; a new rule set (a
     * detection rule added before the others) gets a new engine that
     * imports the store; two more failures complete the five */
    struct harness h;
    h_open(&h, BRUTE, NULL);
    for (int i = 0; i < 3; i++)
        FEED(&h, "ssh_fail", T0 + i * 5 * SEC, "src_ip", "10.9.9.9");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 0);
    struct rule_set *rs2 = NULL;
    const char *y2 = DET_RULE("other_rule") BRUTE;
    struct rule_load_opts lo = {.buf = y2, .buf_len = strlen(y2), .buf_name = "t2.yml"};
    struct rule_report rr;
    struct ts_err err = {0};
    ck_assert_int_eq(rule_set_load(&rs2, &lo, &rr, &err), 0);
    rule_report_free(&rr);
    rule_set_unref(h.rs);
    h.rs = rs2;
    h_restart(&h, NULL); /* new engine over rs2, state imported */
    for (int i = 3; i < 5; i++)
        FEED(&h, "ssh_fail", T0 + i * 5 * SEC, "src_ip", "10.9.9.9");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    ck_assert_uint_eq(h.inc[0].count, 5);
    ck_assert_int_eq(h.inc[0].first, T0);
    h_close(&h);
}
END_TEST

START_TEST(test_incident_id_is_stable_across_engines)
{
    char id1[33], id2[33];
    for (int run = 0; run < 2; run++) {
        struct harness h;
        h_open(&h, BRUTE, NULL);
        for (int i = 0; i < 6; i++)
            FEED(&h, "ssh_fail", T0 + i * SEC, "src_ip", "10.0.0.9");
        h_end(&h);
        ck_assert_uint_eq(h.ninc, 1);
        snprintf(run ? id2 : id1, 33, "%s", h.inc[0].id);
        h_close(&h);
    }
    ck_assert_str_eq(id1, id2);
    ck_assert_uint_eq(strlen(id1), 32);
}
END_TEST

#define SPRAY                                                                                     \
    DET_RULE("ssh_fail")                                                                          \
    "title: spray\nid: spray\ncorrelation:\n  type: value_count\n  rules: [ssh_fail]\n"           \
    "  group-by: [src_ip]\n  timespan: 10m\n  condition:\n    field: username\n    gte: 3\n"

START_TEST(test_value_count_counts_distinct_users)
{
    struct harness h;
    h_open(&h, SPRAY, NULL);
    FEED(&h, "ssh_fail", T0, "src_ip", "1.2.3.4", "username", "root");
    FEED(&h, "ssh_fail", T0 + SEC, "src_ip", "1.2.3.4", "username", "root");
    FEED(&h, "ssh_fail", T0 + 2 * SEC, "src_ip", "1.2.3.4", "username", "admin");
    FEED(&h, "ssh_fail", T0 + 3 * SEC, "src_ip", "1.2.3.4", "username", "admin");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 0);
    FEED(&h, "ssh_fail", T0 + 4 * SEC, "src_ip", "1.2.3.4", "username", "oracle");
    FEED(&h, "ssh_fail", T0 + 5 * SEC, "src_ip", "1.2.3.4"); /* no username: not counted */
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    ck_assert_uint_eq(h.inc[0].count, 5);
    ck_assert_uint_eq(h.inc[0].nvalues, 3);
    h_close(&h);
}
END_TEST

START_TEST(test_distinct_values_are_capped_with_a_note)
{
    struct harness h;
    struct corr_opts o = {.max_values = 4};
    h_open(&h, SPRAY, &o);
    char u[16];
    for (int i = 0; i < 10; i++) {
        snprintf(u, sizeof(u), "user%d", i);
        FEED(&h, "ssh_fail", T0 + i * SEC, "src_ip", "1.2.3.4", "username", u);
    }
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    ck_assert_uint_eq(h.inc[0].count, 10);
    ck_assert_uint_eq(h.inc[0].nvalues, 4);
    ck_assert(h.inc[0].values_capped);
    h_close(&h);
}
END_TEST

#define RECON(type)                                                                               \
    DET_RULE("recon_cmd_a") DET_RULE("recon_cmd_b") DET_RULE("recon_cmd_c")                       \
    "title: Recon\nid: recon\ncorrelation:\n  type: " type "\n  rules:\n    - recon_cmd_a\n"      \
    "    - recon_cmd_b\n    - recon_cmd_c\n  group-by:\n    - ComputerName\n    - User\n"         \
    "  timespan: 5m\n"

START_TEST(test_temporal_fires_in_any_order)
{
    struct harness h;
    h_open(&h, RECON("temporal"), NULL);
    FEED(&h, "recon_cmd_c", T0, "ComputerName", "pc1", "User", "bob");
    FEED(&h, "recon_cmd_a", T0 + SEC, "ComputerName", "pc1", "User", "bob");
    FEED(&h, "recon_cmd_a", T0 + 2 * SEC, "ComputerName", "pc1", "User", "alice");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 0);
    FEED(&h, "recon_cmd_b", T0 + 300 * SEC, "ComputerName", "pc1", "User", "bob");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    ck_assert_str_eq(h.inc[0].group, "ComputerName=pc1,User=bob");
    h_close(&h);
}
END_TEST


/* Issue 16: one line that fed two inputs of a temporal correlation is one
 * evidence record (it appeared twice), with the text of the event, and each
 * record names the input rule (sub-rule) it came through. */
START_TEST(test_temporal_evidence_once_per_line_with_its_sub_rule)
{
    struct harness h;
    h_open(&h, RECON("temporal"), NULL);
    ck_assert_int_eq(h_feed_src(&h, "recon_cmd_a", T0, "x.log", 7, "ComputerName", "pc1", "User",
                                "bob", NULL), 0);
    ck_assert_int_eq(h_feed_src(&h, "recon_cmd_b", T0, "x.log", 7, "ComputerName", "pc1", "User",
                                "bob", NULL), 0);
    ck_assert_int_eq(h_feed_src(&h, "recon_cmd_c", T0 + SEC, "x.log", 9, "ComputerName", "pc1",
                                "User", "bob", NULL), 0);
    struct corr_batch b;
    ck_assert_int_eq(corr_batch_end(h.c, &b), 0);
    ck_assert_uint_eq(b.nincidents, 1);
    ck_assert_uint_eq(b.nevidence, 2);
    ck_assert_int_eq(b.evidence[0].offset, 7);
    ck_assert_int_eq(b.evidence[1].offset, 9);
    ck_assert_str_eq(b.evidence[0].sub_rule, "recon_cmd_a");
    ck_assert_str_eq(b.evidence[1].sub_rule, "recon_cmd_c");
    ck_assert_ptr_nonnull(b.evidence[1].raw); /* the event that completed the window */
    h_close(&h);
}
END_TEST

START_TEST(test_temporal_ordered_needs_the_order)
{
    struct harness h;
    h_open(&h, RECON("temporal_ordered"), NULL);
    FEED(&h, "recon_cmd_c", T0, "ComputerName", "pc1", "User", "bob");
    FEED(&h, "recon_cmd_b", T0 + SEC, "ComputerName", "pc1", "User", "bob");
    FEED(&h, "recon_cmd_a", T0 + 2 * SEC, "ComputerName", "pc1", "User", "bob");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 0);
    FEED(&h, "recon_cmd_b", T0 + 3 * SEC, "ComputerName", "pc1", "User", "bob");
    FEED(&h, "recon_cmd_c", T0 + 4 * SEC, "ComputerName", "pc1", "User", "bob");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    h_close(&h);
}
END_TEST

START_TEST(test_temporal_ordered_out_of_order_arrival_within_lateness_fires)
{
    struct harness h;
    h_open(&h, RECON("temporal_ordered"), NULL);
    /* b and c arrive first, a (earlier in event time) 30 s late */
    FEED(&h, "recon_cmd_b", T0 + 10 * SEC, "ComputerName", "pc1", "User", "bob");
    FEED(&h, "recon_cmd_c", T0 + 20 * SEC, "ComputerName", "pc1", "User", "bob");
    FEED(&h, "recon_cmd_a", T0 + 5 * SEC, "ComputerName", "pc1", "User", "bob");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    ck_assert_uint_eq(h.inc[0].count, 3);
    ck_assert_int_eq(h.inc[0].first, T0 + 5 * SEC);
    struct corr_metrics m;
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.late_within, 1);
    ck_assert_uint_eq(m.late_beyond, 0);
    h_close(&h);
}
END_TEST

#define METRIC(type, cond)                                                                        \
    DET_RULE("web")                                                                               \
    "title: m\nid: m\ncorrelation:\n  type: " type "\n  rules: [web]\n  group-by: [SourceIP]\n"   \
    "  timespan: 1h\n  condition:\n    field: bytes\n" cond

START_TEST(test_value_sum_crosses_the_limit)
{
    struct harness h;
    h_open(&h, METRIC("value_sum", "    gt: 1000\n"), NULL);
    FEED(&h, "web", T0, "SourceIP", "a", "bytes", "#600");
    FEED(&h, "web", T0 + SEC, "SourceIP", "a", "bytes", "400"); /* numeric string */
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 0); /* 1000 is not > 1000 */
    FEED(&h, "web", T0 + 2 * SEC, "SourceIP", "a", "bytes", "#1");
    FEED(&h, "web", T0 + 3 * SEC, "SourceIP", "a", "bytes", "lots"); /* not a number */
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    ck_assert_uint_eq(h.inc[0].count, 3);
    struct corr_metrics m;
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.missing_value, 1);
    h_close(&h);
}
END_TEST

START_TEST(test_value_avg_and_range_condition)
{
    struct harness h;
    h_open(&h, METRIC("value_avg", "    gt: 500\n    lte: 600\n"), NULL);
    FEED(&h, "web", T0, "SourceIP", "a", "bytes", "#400"); /* avg 400 */
    FEED(&h, "web", T0 + SEC, "SourceIP", "a", "bytes", "#800"); /* avg 600: fires */
    FEED(&h, "web", T0, "SourceIP", "b", "bytes", "#900"); /* avg 900: above the range */
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    ck_assert_str_eq(h.inc[0].group, "SourceIP=a");
    h_close(&h);
}
END_TEST

START_TEST(test_value_percentile_uses_nearest_rank)
{
    struct harness h;
    h_open(&h, METRIC("value_percentile", "    percentile: 90\n    gte: 100\n"), NULL);
    for (int i = 1; i <= 9; i++) /* 1..9: p90 = 9 */
        FEED(&h, "web", T0 + i * SEC, "SourceIP", "a", "bytes", "#1");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 0);
    FEED(&h, "web", T0 + 10 * SEC, "SourceIP", "a", "bytes", "#100"); /* 10 values: p90 = 1 */
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 0);
    FEED(&h, "web", T0 + 11 * SEC, "SourceIP", "a", "bytes", "#100"); /* 11: rank 10 = 100 */
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    h_close(&h);
}
END_TEST

START_TEST(test_value_percentile_defaults_to_the_median)
{
    struct harness h;
    h_open(&h, METRIC("value_percentile", "    lte: 1\n"), NULL);
    FEED(&h, "web", T0, "SourceIP", "a", "bytes", "#5");
    FEED(&h, "web", T0 + SEC, "SourceIP", "a", "bytes", "#1");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1); /* median (lower) of {1, 5} = 1 */
    h_close(&h);
}
END_TEST

/* The specification's own example: failed logins followed by success. */
static const char spec_example[] =
    "title: Correlation - Multiple Failed Logins Followed by Successful Login\n"
    "id: b180ead8-d58f-40b2-ae54-c8940995b9b6\nstatus: experimental\n"
    "correlation:\n    type: temporal_ordered\n    rules:\n        - multiple_failed_login\n"
    "        - successful_login\n    group-by:\n        - User\n    timespan: 10m\n"
    "falsepositives:\n    - Unlikely\nlevel: high\n---\n"
    "title: Multiple failed logons\nid: a8418a5a-5fc4-46b5-b23b-6c73beb19d41\n"
    "name: multiple_failed_login\ncorrelation:\n    type: event_count\n    rules:\n"
    "        - failed_login\n    group-by:\n        - User\n    timespan: 10m\n"
    "    condition:\n        gte: 10\n---\n"
    "title: Single failed login\nid: 53ba33fd-3a50-4468-a5ef-c583635cfa92\nname: failed_login\n"
    "logsource:\n    product: windows\n    service: security\ndetection:\n    selection:\n"
    "        EventID:\n            - 529\n            - 4625\n    condition: selection\n---\n"
    "title: Successful login\nid: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8\nname: successful_login\n"
    "logsource:\n    product: windows\n    service: security\ndetection:\n    selection:\n"
    "        EventID:\n            - 528\n            - 4624\n    condition: selection\n";

START_TEST(test_spec_example_chain_failed_then_success)
{
    struct harness h;
    h_open(&h, spec_example, NULL);
    ck_assert_uint_eq(h.rep.loaded, 2);
    ck_assert_uint_eq(h.rep.nproblems, 0);
    /* success before enough failures: nothing */
    FEED(&h, "successful_login", T0, "User", "bob");
    for (int i = 0; i < 10; i++)
        FEED(&h, "failed_login", T0 + (1 + i) * SEC, "User", "bob");
    h_end(&h);
    ck_assert_ptr_nonnull(h_find(&h, "a8418a5a-5fc4-46b5-b23b-6c73beb19d41", "User=bob"));
    ck_assert_ptr_null(h_find(&h, "b180ead8-d58f-40b2-ae54-c8940995b9b6", NULL));
    FEED(&h, "successful_login", T0 + 60 * SEC, "User", "bob");
    FEED(&h, "successful_login", T0 + 60 * SEC, "User", "eve");
    h_end(&h);
    const struct inc_rec *r = h_find(&h, "b180ead8-d58f-40b2-ae54-c8940995b9b6", NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->group, "User=bob");
    ck_assert_int_eq(r->severity, CORR_SEV_HIGH);
    ck_assert_uint_eq(h_count(&h, "b180ead8-d58f-40b2-ae54-c8940995b9b6"), 1);
    /* generate is false: the detection rules alone do not alert */
    ck_assert(!corr_detection_standalone(h.c, (size_t)rule_set_find(h.rs, "failed_login")));
    h_close(&h);
}
END_TEST

/* The specification's alias example. */
START_TEST(test_aliases_join_different_fields)
{
    struct harness h;
    h_open(&h,
           DET_RULE("internal_error") DET_RULE("new_network_connection")
           "title: alias\nid: alias\ncorrelation:\n    type: temporal\n    rules:\n"
           "        - internal_error\n        - new_network_connection\n    group-by:\n"
           "        - internal_ip\n        - remote_ip\n    timespan: 10s\n    aliases:\n"
           "        internal_ip:\n            internal_error: destination.ip\n"
           "            new_network_connection: source.ip\n        remote_ip:\n"
           "            internal_error: source.ip\n"
           "            new_network_connection: destination.ip\n",
           NULL);
    ck_assert_uint_eq(h.rep.loaded, 1);
    FEED(&h, "internal_error", T0, "destination.ip", "10.0.0.5", "source.ip", "8.8.8.8");
    FEED(&h, "new_network_connection", T0 + 3 * SEC, "source.ip", "10.0.0.5", "destination.ip",
         "9.9.9.9"); /* other remote: no */
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 0);
    FEED(&h, "new_network_connection", T0 + 4 * SEC, "source.ip", "10.0.0.5", "destination.ip",
         "8.8.8.8");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    ck_assert_str_eq(h.inc[0].group, "internal_ip=10.0.0.5,remote_ip=8.8.8.8");
    h_close(&h);
}
END_TEST

START_TEST(test_event_beyond_lateness_amends_the_incident)
{
    struct harness h;
    h_open(&h, BRUTE, NULL);
    for (int i = 0; i < 5; i++)
        FEED(&h, "ssh_fail", T0 + i * SEC, "src_ip", "10.0.0.1");
    /* the stream moves on 10 minutes (other key), then a failure of the
     * first burst arrives: 10 min late > 5 min allowance */
    FEED(&h, "ssh_fail", T0 + 600 * SEC, "src_ip", "10.9.9.9");
    h_end(&h);
    FEED(&h, "ssh_fail", T0 + 2 * SEC, "src_ip", "10.0.0.1");
    FEED(&h, "ssh_fail", T0 + 2 * SEC, "src_ip", "10.0.0.77"); /* nothing to amend */
    h_end(&h);
    const struct inc_rec *r = h_find(&h, "brute", "src_ip=10.0.0.1");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->count, 6);
    ck_assert_uint_eq(r->late, 1);
    ck_assert_uint_eq(h.nevidence_late, 2);
    ck_assert_uint_eq(h.nevidence_orphan, 1);
    struct corr_metrics m;
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.late_beyond, 2);
    ck_assert_uint_eq(m.late_amended, 1);
    ck_assert_uint_eq(m.late_orphaned, 1);
    h_close(&h);
}
END_TEST

/* Late detections are counted by the source (topic or file) and tenant
 * they came from, and carried into a new engine (a reload). */
START_TEST(test_late_detections_are_counted_by_source_and_tenant)
{
    struct harness h;
    h_open(&h, BRUTE, NULL);
    h.tenant = "agency-a";
    ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0 + 600 * SEC, "logs.a", 1, "src_ip", "x", NULL),
                     0);
    ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0 + 601 * SEC, "logs.b", 1, "src_ip", "x", NULL),
                     0);
    h_end(&h);
    struct corr_late_source *ls = NULL;
    size_t n = 9;
    ck_assert_int_eq(corr_late_sources(h.c, &ls, &n), 0);
    ck_assert_uint_eq(n, 0); /* nothing late yet */
    /* 10 minutes behind its own source (5 min allowed): late, twice on logs.a */
    ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0, "logs.a", 2, "src_ip", "y", NULL), 0);
    ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0 + SEC, "logs.a", 3, "src_ip", "y", NULL), 0);
    h.tenant = "agency-b";
    ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0, "logs.a", 4, "src_ip", "y", NULL), 0);
    ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0, "logs.b", 2, "src_ip", "y", NULL), 0);
    /* within logs.b's allowance: not late */
    ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0 + 400 * SEC, "logs.b", 3, "src_ip", "y", NULL),
                     0);
    h_end(&h);
    ck_assert_int_eq(corr_late_sources(h.c, &ls, &n), 0);
    ck_assert_uint_eq(n, 3);
    static const struct {
        const char *src, *tenant;
        uint64_t late;
    } want[] = {{"logs.a", "agency-a", 2}, {"logs.a", "agency-b", 1}, {"logs.b", "agency-b", 1}};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_str_eq(ls[i].source, want[i].src);
        ck_assert_str_eq(ls[i].tenant, want[i].tenant);
        ck_assert_uint_eq(ls[i].late, want[i].late);
    }
    struct corr_metrics m;
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.late_beyond, 4);
    /* a reload carries the counts: added into the new engine */
    corr_late_sources_add(h.c, ls, n);
    free(ls);
    ck_assert_int_eq(corr_late_sources(h.c, &ls, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(ls[0].late, 4);
    free(ls);
    h_close(&h);
}
END_TEST

START_TEST(test_out_of_order_within_lateness_equals_in_order)
{
    int64_t at[] = {0, 30, 10, 50, 20, 40, 5};
    struct harness a, b;
    h_open(&a, BRUTE, NULL);
    h_open(&b, BRUTE, NULL);
    for (int i = 0; i < 7; i++)
        FEED(&a, "ssh_fail", T0 + at[i] * SEC, "src_ip", "10.0.0.1");
    int64_t sorted[] = {0, 5, 10, 20, 30, 40, 50};
    for (int i = 0; i < 7; i++)
        FEED(&b, "ssh_fail", T0 + sorted[i] * SEC, "src_ip", "10.0.0.1");
    h_end(&a);
    h_end(&b);
    ck_assert_uint_eq(a.ninc, 1);
    ck_assert_uint_eq(b.ninc, 1);
    ck_assert_str_eq(a.inc[0].id, b.inc[0].id);
    ck_assert_uint_eq(a.inc[0].count, b.inc[0].count);
    ck_assert_int_eq(a.inc[0].first, b.inc[0].first);
    h_close(&a);
    h_close(&b);
}
END_TEST

/* Issue 10: an upper bound (lte) and an out-of-order event within the
 * allowance. In time order the window ending at :24 holds 4 failures and
 * fires; the window ending at :26 holds 5 and fails lte 4: the incident has
 * count 4, last seen :24. With :24 arriving after :26 (two seconds late, well
 * within the allowance), the result must be the same. */
#define BOUNDED                                                                                   \
    DET_RULE("ssh_fail")                                                                          \
    "title: bounded\nid: bounded\ncorrelation:\n  type: event_count\n  rules: [ssh_fail]\n"       \
    "  group-by: [src_ip]\n  timespan: 60s\n  condition:\n    gt: 3\n    lte: 4\n"

static void feed_bounded(struct harness *h, const int *at, int n, bool batch_each)
{
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(h_feed_src(h, "ssh_fail", T0 + at[i] * SEC, "auth.log", (uint64_t)i + 1,
                                    "src_ip", "203.0.113.7", NULL),
                         0);
        if (batch_each)
            h_end(h);
    }
    h_end(h);
}

START_TEST(test_upper_bound_late_event_within_allowance_equals_in_order)
{
    static const int sorted[] = {0, 8, 19, 24, 26};
    static const int late[] = {0, 8, 19, 26, 24};
    for (int batch_each = 0; batch_each < 2; batch_each++) {
        struct harness a, b;
        h_open(&a, BOUNDED, NULL);
        h_open(&b, BOUNDED, NULL);
        feed_bounded(&a, sorted, 5, batch_each);
        feed_bounded(&b, late, 5, batch_each);
        ck_assert_uint_eq(a.ninc, 1);
        ck_assert_uint_eq(a.inc[0].count, 4);
        ck_assert_int_eq(a.inc[0].first, T0);
        ck_assert_int_eq(a.inc[0].last, T0 + 24 * SEC);
        ck_assert_uint_eq(b.ninc, 1);
        ck_assert_str_eq(b.inc[0].id, a.inc[0].id);
        ck_assert_uint_eq(b.inc[0].count, 4);
        ck_assert_int_eq(b.inc[0].first, T0);
        ck_assert_int_eq(b.inc[0].last, T0 + 24 * SEC);
        h_close(&a);
        h_close(&b);
    }
}
END_TEST

START_TEST(test_watermark_is_per_source)
{
    struct harness h;
    h_open(&h, BRUTE, NULL);
    /* source B runs 10 minutes behind source A: its events are not late */
    ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0 + 600 * SEC, "a.log", 1, "src_ip", "x", NULL), 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0 + i * SEC, "b.log", 1 + i, "src_ip", "y",
                                    NULL), 0);
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 1);
    struct corr_metrics m;
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.late_beyond, 0);
    h_close(&h);
}
END_TEST

START_TEST(test_a_partition_lagging_over_an_hour_keeps_its_windows)
{
    struct harness h;
    h_open(&h, BRUTE, NULL);
    /* source A is 90 minutes ahead (a partition consumed first, or after a
     * restart); source B then delivers an attack from the start: its keys
     * must not expire by A's time (idle is not the same as behind) */
    for (int i = 0; i <= 90; i++)
        ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0 + i * 60 * SEC, "p0", 1 + i, "src_ip",
                                    "a", NULL), 0);
    h_end(&h);
    size_t before = h.ninc;
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0 + i * 5 * SEC, "p2", 1 + i, "src_ip", "b",
                                    NULL), 0);
        h_end(&h); /* one batch per event: sweeps run in between */
    }
    ck_assert_uint_eq(h.ninc, before + 1);
    ck_assert_str_eq(h.inc[before].group, "src_ip=b");
    ck_assert_uint_eq(h.inc[before].count, 6);
    h_close(&h);
}
END_TEST

/* The soak's loss (kill -9 every 180 s, 2 workers): the worker of p0 ran
 * hours of event time ahead of the worker of p2, the process was killed
 * while an address of p2 had an open incident, and after the restart the
 * first batch's sweep expired that key by p0's time - a restored key had
 * no source, so only the global floor bounded it - and p2's next failures
 * of the same attack found an empty window (17 of 20 counted, neither late
 * nor kept). A restored key keeps its partition's bound, as before the
 * restart: the same incidents with a restart as without. */
START_TEST(test_a_lagging_partition_keeps_its_windows_across_a_restart)
{
    for (int restart = 0; restart < 2; restart++) {
        struct harness h;
        h_open(&h, BRUTE, NULL);
        /* p2: an attack (incident at the fifth failure) and one address
         * with four failures so far; p0: 90 minutes ahead */
        for (int i = 0; i < 5; i++)
            ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0 + i * 4 * SEC, "p2", 1 + i, "src_ip",
                                        "b", NULL), 0);
        for (int i = 0; i < 4; i++)
            ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0 + i * 4 * SEC, "p2", 10 + i,
                                        "src_ip", "c", NULL), 0);
        for (int i = 0; i <= 90; i++)
            ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0 + i * 60 * SEC, "p0", 1 + i,
                                        "src_ip", "a", NULL), 0);
        h_end(&h);
        if (restart)
            h_restart(&h, NULL);
        /* p0 goes on first (a batch: its sweep), then p2 */
        ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0 + 91 * 60 * SEC, "p0", 100, "src_ip",
                                    "a", NULL), 0);
        h_end(&h);
        for (int i = 5; i < 8; i++) {
            ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0 + i * 4 * SEC, "p2", 1 + i, "src_ip",
                                        "b", NULL), 0);
            ck_assert_int_eq(h_feed_src(&h, "ssh_fail", T0 + i * 4 * SEC, "p2", 10 + i,
                                        "src_ip", "c", NULL), 0);
            h_end(&h);
        }
        const struct inc_rec *b = h_find(&h, "brute", "src_ip=b");
        const struct inc_rec *c = h_find(&h, "brute", "src_ip=c");
        ck_assert_msg(b && b->count == 8, "restart %d: src_ip=b counted %llu of 8", restart,
                      b ? (unsigned long long)b->count : 0ULL);
        ck_assert_int_eq(b->first, T0);
        ck_assert_int_eq(b->last, T0 + 28 * SEC);
        ck_assert_msg(c && c->count == 7, "restart %d: src_ip=c counted %llu of 7", restart,
                      c ? (unsigned long long)c->count : 0ULL);
        ck_assert_int_eq(c->first, T0);
        struct corr_metrics m;
        corr_metrics_get(h.c, &m);
        ck_assert_uint_eq(m.late_beyond, 0);
        h_close(&h);
    }
}
END_TEST

START_TEST(test_key_cap_per_rule_is_counted)
{
    struct harness h;
    struct corr_opts o = {.max_keys_per_rule = 3};
    h_open(&h, BRUTE, &o);
    char ip[32];
    for (int i = 0; i < 10; i++) {
        snprintf(ip, sizeof(ip), "10.0.0.%d", i);
        FEED(&h, "ssh_fail", T0 + i, "src_ip", ip);
    }
    h_end(&h);
    struct corr_metrics m;
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.keys_live, 3);
    ck_assert_uint_eq(m.keys_cap_hit, 7);
    h_close(&h);
}
END_TEST

START_TEST(test_entry_cap_drops_oldest_and_counts)
{
    struct harness h;
    struct corr_opts o = {.max_entries_per_key = 4};
    h_open(&h, BRUTE, &o);
    for (int i = 0; i < 6; i++)
        FEED(&h, "ssh_fail", T0 + i * SEC, "src_ip", "1.1.1.1");
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 0); /* never more than 4 kept: 5 cannot be reached */
    struct corr_metrics m;
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.entries_cap_hit, 2);
    h_close(&h);
}
END_TEST

START_TEST(test_expired_keys_are_evicted)
{
    struct harness h;
    h_open(&h, BRUTE, NULL);
    char ip[32];
    for (int i = 0; i < 100; i++) {
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 250, i % 250);
        FEED(&h, "ssh_fail", T0 + i * SEC, "src_ip", ip);
    }
    h_end(&h);
    struct corr_metrics m;
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.keys_live, 100);
    FEED(&h, "ssh_fail", T0 + 7200 * SEC, "src_ip", "late.one");
    h_end(&h);
    corr_metrics_get(h.c, &m);
    ck_assert_uint_eq(m.keys_live, 1);
    ck_assert_uint_eq(m.keys_evicted, 100);
    ck_assert_uint_eq(h.nkv, 2); /* the live key and its source watermark */
    h_close(&h);
}
END_TEST

START_TEST(test_grouping_of_plain_detections)
{
    struct harness h;
    static const char *const gb[] = {"host"};
    struct corr_grouping g = {.rule = "ssh_fail", .group_by = gb, .ngroup_by = 1,
                              .window_ns = 60 * SEC};
    struct corr_opts o = {.groupings = &g, .ngroupings = 1};
    h_open(&h, DET_RULE("ssh_fail"), &o);
    FEED(&h, "ssh_fail", T0, "host", "a");
    FEED(&h, "ssh_fail", T0 + 30 * SEC, "host", "a");
    FEED(&h, "ssh_fail", T0 + 30 * SEC, "host", "b");
    FEED(&h, "ssh_fail", T0 + 200 * SEC, "host", "a"); /* after the window: new incident */
    h_end(&h);
    ck_assert_uint_eq(h.ninc, 3);
    ck_assert_uint_eq(h_find(&h, "ssh_fail", "host=b")->count, 1);
    ck_assert_uint_eq(h.inc[0].count, 2);
    ck_assert(corr_detection_standalone(h.c, 0));
    h_close(&h);
}
END_TEST

START_TEST(test_correlation_over_correlation_event_count)
{
    struct harness h;
    h_open(&h,
           BRUTE "---\ntitle: waves\nid: waves\ncorrelation:\n  type: event_count\n"
                 "  rules: [brute]\n  group-by: [src_ip]\n  timespan: 1h\n  condition:\n"
                 "    gte: 3\n",
           NULL);
    ck_assert_uint_eq(h.rep.loaded, 2);
    for (int i = 0; i < 7; i++) /* fires brute at 5, 6, 7 */
        FEED(&h, "ssh_fail", T0 + i * SEC, "src_ip", "1.1.1.1");
    h_end(&h);
    const struct inc_rec *r = h_find(&h, "waves", NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->count, 3);
    h_close(&h);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("corr_engine");
    TCase *t = tcase_create("engine");
    tcase_add_test(t, test_event_count_fires_on_fifth_failure_not_fourth);
    tcase_add_test(t, test_timespan_edge_is_inclusive);
    tcase_add_test(t, test_sliding_window_spans_bucket_boundaries);
    tcase_add_test(t, test_other_hosts_are_never_hidden);
    tcase_add_test(t, test_repeats_update_the_open_incident_and_a_pause_starts_a_new_one);
    tcase_add_test(t, test_incident_id_is_stable_across_engines);
    tcase_add_test(t, test_held_batches_equal_one_big_batch);
    tcase_add_test(t, test_state_carries_over_to_an_engine_of_a_new_rule_set);
    tcase_add_test(t, test_value_count_counts_distinct_users);
    tcase_add_test(t, test_distinct_values_are_capped_with_a_note);
    tcase_add_test(t, test_temporal_fires_in_any_order);
    tcase_add_test(t, test_temporal_evidence_once_per_line_with_its_sub_rule);
    tcase_add_test(t, test_temporal_ordered_needs_the_order);
    tcase_add_test(t, test_temporal_ordered_out_of_order_arrival_within_lateness_fires);
    tcase_add_test(t, test_value_sum_crosses_the_limit);
    tcase_add_test(t, test_value_avg_and_range_condition);
    tcase_add_test(t, test_value_percentile_uses_nearest_rank);
    tcase_add_test(t, test_value_percentile_defaults_to_the_median);
    tcase_add_test(t, test_spec_example_chain_failed_then_success);
    tcase_add_test(t, test_aliases_join_different_fields);
    tcase_add_test(t, test_event_beyond_lateness_amends_the_incident);
    tcase_add_test(t, test_out_of_order_within_lateness_equals_in_order);
    tcase_add_test(t, test_late_detections_are_counted_by_source_and_tenant);
    tcase_add_test(t, test_upper_bound_late_event_within_allowance_equals_in_order);
    tcase_add_test(t, test_watermark_is_per_source);
    tcase_add_test(t, test_a_partition_lagging_over_an_hour_keeps_its_windows);
    tcase_add_test(t, test_a_lagging_partition_keeps_its_windows_across_a_restart);
    tcase_add_test(t, test_key_cap_per_rule_is_counted);
    tcase_add_test(t, test_entry_cap_drops_oldest_and_counts);
    tcase_add_test(t, test_expired_keys_are_evicted);
    tcase_add_test(t, test_grouping_of_plain_detections);
    tcase_add_test(t, test_correlation_over_correlation_event_count);
    suite_add_tcase(s, t);
    return s;
}

TS_CHECK_MAIN(make_suite)
