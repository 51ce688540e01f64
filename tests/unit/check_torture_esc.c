/* check_torture_esc.c - allocation-failure torture of escalate/: loading
 * each shipped preset, rendering the three report formats, building the
 * outbox entries and the due-report pass over a store, with the 1st, 2nd,
 * ... allocation failing (malloc and friends wrapped by the Makefile for
 * check_torture_*). Every failing run
 * must return TS_E_NOMEM (or a config/parse error wrapping it) cleanly; the
 * sanitizer build checks for leaks. */
#include <stdlib.h>
#include <string.h>

#include "check_esc_util.h"
#include "check_store_util.h"
#include "check_torture.h"

static long torture(int (*op)(void))
{
    return torture_run(op, torture_nomem_or_config, 200000);
}

static char *texts[5];
static size_t lens[5];

static void read_all(void)
{
    static const char *const files[] = {"etc/escalation/law116-2025.yml",
                                        "etc/escalation/circular20-2017.yml",
                                        "etc/escalation/taxonomy.yml", "etc/escalation/policy.yml",
                                        "etc/escalation/org.example.yml"};
    for (size_t i = 0; i < 5; i++) {
        char p[512];
        esc_test_path(p, sizeof(p), files[i]);
        FILE *f = fopen(p, "rb");
        ck_assert_ptr_nonnull(f);
        texts[i] = __real_malloc(1 << 20);
        lens[i] = fread(texts[i], 1, 1 << 20, f);
        fclose(f);
    }
}

static void free_all(void)
{
    for (size_t i = 0; i < 5; i++)
        free(texts[i]);
}

static int op_regimes(void)
{
    struct esc_regime *r = NULL;
    struct ts_err err = {0};
    for (size_t i = 0; i < 2; i++) {
        int rc = esc_regime_load_buffer("r.yml", texts[i], lens[i], &r, &err);
        if (rc)
            return rc;
        esc_regime_free(r);
    }
    return 0;
}

static int op_others(void)
{
    struct esc_taxonomy *t = NULL;
    struct esc_policy *p = NULL;
    struct esc_orgs *o = NULL;
    struct esc_assets *a = NULL;
    struct ts_err err = {0};
    int rc = esc_taxonomy_load_buffer("t.yml", texts[2], lens[2], &t, &err);
    rc = rc ? rc : esc_policy_load_buffer("p.yml", texts[3], lens[3], &p, &err);
    rc = rc ? rc : esc_orgs_load_buffer("o.yml", texts[4], lens[4], &o, &err);
    rc = rc ? rc
            : esc_assets_load_buffer("a.yml", esc_test_inventory, sizeof(esc_test_inventory) - 1,
                                     &a, &err);
    esc_taxonomy_free(t);
    esc_policy_free(p);
    esc_orgs_free(o);
    esc_assets_free(a);
    return rc;
}

static struct esc_env env;

static int op_render(void)
{
    struct store_incident inc = esc_test_incident();
    struct ts_buf b;
    ts_buf_init(&b, 0);
    int rc = 0;
    for (int f = 0; !rc && f < 3; f++) {
        struct esc_report_opts o = {.format = (enum esc_format)f, .now_ns = ESC_T0};
        ts_buf_reset(&b);
        rc = esc_report_render(&env, &inc, &o, &b);
    }
    ts_buf_free(&b);
    return rc;
}

static int op_outbox(void)
{
    struct store_incident inc = esc_test_incident();
    struct esc_outbox_batch ob;
    int rc = esc_outbox_build(&env, NULL, NULL, &inc, ESC_T0, &ob);
    if (rc == 0 && ob.n != 2)
        rc = CHECK_FAILED;
    esc_outbox_batch_free(&ob);
    return rc;
}

static struct store *due_store;

/* The weekly update pass, 7 days and 1 hour after detection, in a txn that
 * is aborted so that every run starts from the same outbox. */
static int op_due(void)
{
    struct store_txn *t = NULL;
    int rc = store_txn_begin(due_store, 0, &t);
    if (rc)
        return rc;
    store_txn_set_now(t, ESC_T0 + 7 * 24 * ESC_H + ESC_H);
    struct esc_due_opts o = {.kinds = ESC_AUTO_PERIODIC};
    struct esc_due_stats st;
    rc = esc_due_queue(&env, t, &o, &st);
    if (rc == 0 && st.queued != 2)
        rc = CHECK_FAILED;
    store_txn_abort(t);
    return rc;
}

START_TEST(test_loading_presets_survives_every_allocation_failure)
{
    read_all();
    ck_assert_int_gt(torture(op_regimes), 10);
    ck_assert_int_gt(torture(op_others), 10);
    free_all();
}
END_TEST

START_TEST(test_rendering_and_outbox_survive_every_allocation_failure)
{
    env.regime = esc_test_regime("law116-2025");
    env.taxonomy = esc_test_taxonomy();
    env.orgs = esc_test_orgs();
    env.assets = esc_test_assets();
    ck_assert_int_gt(torture(op_render), 10);
    ck_assert_int_gt(torture(op_outbox), 3);
    /* the due pass over a store holding the incident and its notices */
    st_mkdir();
    due_store = st_open();
    struct store_txn *t = st_begin(due_store);
    store_txn_set_now(t, ESC_T0);
    struct store_incident inc = esc_test_incident();
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
    st_commit(t);
    ck_assert_int_gt(torture_run(op_due, torture_nomem, 200000), 50);
    store_close(due_store);
    st_rmdir();
    esc_regime_free((struct esc_regime *)env.regime);
    esc_taxonomy_free((struct esc_taxonomy *)env.taxonomy);
    esc_orgs_free((struct esc_orgs *)env.orgs);
    esc_assets_free((struct esc_assets *)env.assets);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("torture_esc");
    TCase *tc = tcase_create("alloc");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_loading_presets_survives_every_allocation_failure);
    tcase_add_test(tc, test_rendering_and_outbox_survive_every_allocation_failure);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
