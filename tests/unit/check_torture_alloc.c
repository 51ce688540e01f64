/* check_torture_alloc.c - allocation-failure torture, the way curl does it:
 * malloc/calloc/realloc/strdup of the library code are wrapped (linker
 * --wrap, see the Makefile) so that the Nth call fails; each operation is run
 * with N = 1, 2, ... until it succeeds, and every failing run must return
 * TS_E_NOMEM (or an error wrapping it) cleanly - no crash, no leak (ASan and
 * LeakSanitizer check the latter in the sanitizer build). */
#include <stdlib.h>
#include <string.h>

#include "check_torture.h"
#include "check_util.h"
#include "../../core/arena.h"
#include "../../core/buf.h"
#include "../../core/config.h"
#include "../../core/event.h"
#include "../../core/queue.h"
#include "../../core/yaml.h"
#include "../../ingest/batch_int.h"
#include "../../ingest/ingest.h"

static const char config_text[] = "kafka:\n"
                                  "  brokers: \"k1:9092\"\n"
                                  "  workers: 2\n"
                                  "  properties:\n"
                                  "    security.protocol: SSL\n"
                                  "topics:\n"
                                  "  - name: logs.syslog\n"
                                  "    tenant: a\n"
                                  "  - name: logs.agent\n"
                                  "    format: json\n"
                                  "paths:\n"
                                  "  rules: [r1, r2]\n"
                                  "normalise:\n"
                                  "  profiles: etc/profiles\n"
                                  "rules:\n"
                                  "  placeholders:\n"
                                  "    Admins: [a, b]\n";

static int op_config(void)
{
    struct ts_config *c = NULL;
    struct ts_err err = {0};
    int rc = ts_config_load_buffer("t.yml", config_text, strlen(config_text), &c, &err);
    if (rc == 0) {
        if (c->ntopics != 2 || c->rules.placeholders[0].nvalues != 2)
            rc = CHECK_FAILED;
        ts_config_free(c);
    } else if (c) {
        rc = CHECK_FAILED;
    } else if ((rc == TS_E_CONFIG || rc == TS_E_PARSE) && !strstr(err.msg, "memory")) {
        rc = CHECK_FAILED; /* the error must say it was memory, not blame the file */
    }
    return rc;
}

START_TEST(test_torture_config_load_fails_cleanly_at_every_allocation)
{
    long points = torture_run(op_config, torture_nomem_or_config, 100000);
    ck_assert_int_gt(points, 10);
}
END_TEST

static int op_yaml(void)
{
    static const char y[] = "a: &x [1, 2, {b: c}]\nd: *x\n---\n- e\n- f: g\n";
    struct ts_ystream *s = NULL;
    struct ts_err err = {0};
    int rc = ts_yaml_load_buffer("t.yml", y, strlen(y), &s, &err);
    if (rc == 0) {
        if (s->ndocs != 2)
            rc = CHECK_FAILED;
        ts_yaml_free(s);
    }
    return rc;
}

START_TEST(test_torture_yaml_load_fails_cleanly_at_every_allocation)
{
    ck_assert_int_gt(torture_run(op_yaml, torture_nomem_or_config, 100000), 2);
}
END_TEST

static int op_event(void)
{
    struct ts_arena *a;
    int rc = ts_arena_create(&a, 256, 1 << 20);
    if (rc)
        return rc;
    struct ts_event ev;
    ts_event_init(&ev, a);
    for (int i = 0; i < 100 && !rc; i++)
        rc = ts_event_add_int(&ev, "f", i); /* grows past several chunks */
    if (!rc && ev.nfields != 100)
        rc = CHECK_FAILED;
    ts_arena_destroy(a);
    return rc;
}

START_TEST(test_torture_event_building_fails_cleanly_at_every_allocation)
{
    ck_assert_int_gt(torture_run(op_event, torture_nomem, 100000), 1);
}
END_TEST

static int op_queue_and_batch(void)
{
    struct ts_queue *q;
    int rc = ts_queue_create(&q, 8);
    if (rc)
        return rc;
    struct ingest_batch *b;
    rc = ingest_batch_create(&b, 100, 4096);
    if (!rc) {
        struct ts_event *ev = ingest_batch_slot(b, "<13>Jan  1 00:00:00 h p: x", 26);
        if (!ev) {
            rc = TS_E_NOMEM;
        } else {
            struct ingest_diag d = {0};
            struct ingest_parse_opts po = {0};
            rc = ingest_parse(INGEST_FMT_AUTO, &po, ev, &d);
        }
        ingest_batch_destroy(b);
    }
    ts_queue_destroy(q);
    return rc;
}

START_TEST(test_torture_queue_batch_and_parse_fail_cleanly_at_every_allocation)
{
    ck_assert_int_gt(torture_run(op_queue_and_batch, torture_nomem, 100000), 2);
}
END_TEST

static int op_buf(void)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    int rc = 0;
    for (int i = 0; i < 200 && !rc; i++)
        rc = ts_buf_printf(&b, "%d:%s,", i, "some text to make it grow");
    if (!rc && !strstr(b.data, "199:"))
        rc = CHECK_FAILED;
    ts_buf_free(&b);
    return rc;
}

START_TEST(test_torture_buf_growth_fails_cleanly_at_every_allocation)
{
    ck_assert_int_gt(torture_run(op_buf, torture_nomem, 100000), 2);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("torture");
    TCase *tc = tcase_create("alloc");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_torture_config_load_fails_cleanly_at_every_allocation);
    tcase_add_test(tc, test_torture_yaml_load_fails_cleanly_at_every_allocation);
    tcase_add_test(tc, test_torture_event_building_fails_cleanly_at_every_allocation);
    tcase_add_test(tc, test_torture_queue_batch_and_parse_fail_cleanly_at_every_allocation);
    tcase_add_test(tc, test_torture_buf_growth_fails_cleanly_at_every_allocation);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
