/* check_runtime_commit.c - run's coalesced LMDB commits (runtime/
 * corr_stage.c): batches are held and the store written once per interval,
 * but a source the store has no offset for is written at once (a restarted
 * consumer must find its position in the store, not the group's, which runs
 * ahead of what is held); what is held is written when due even if no batch
 * comes, and before a partition is assigned (a partition handed to another
 * worker must start after what was read, not after what was stored). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "../../ingest/batch_int.h"
#include "../../rules/rules.h"
#include "../../runtime/runtime.h"
#include "../../storage/storage.h"

static const char RULE[] = "title: Anything from sshd\n"
                           "id: 11111111-2222-4333-8444-555555555556\n"
                           "logsource: {product: linux, service: sshd}\n"
                           "detection:\n"
                           "    sel:\n"
                           "        message|contains: 'x'\n"
                           "    condition: sel\n"
                           "level: low\n";

static int64_t stored(struct rt_corr *cs, const char *topic, int32_t part)
{
    int64_t off = -1;
    if (store_offset_get(cs->st, topic, part, &off) != 0)
        return -1;
    return off;
}

/* an empty batch that has read topic/part up to off */
static void commit_at(struct rt_corr *cs, struct ingest_batch *b, const char *topic, int32_t part,
                      int64_t off)
{
    ingest_batch_reset(b);
    ck_assert_int_eq(ingest_batch_note(b, topic, part, off), 0);
    ck_assert_int_eq(rt_corr_commit(cs, b), 0);
}

START_TEST(test_coalesced_commits_store_new_sources_at_once_and_held_when_due_or_seeking)
{
    char dir[] = "/tmp/tocsin-commit-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct rule_set *rs = NULL;
    struct rule_report rep;
    struct ts_err err = {0};
    struct rule_load_opts lo = {.buf = RULE, .buf_len = sizeof(RULE) - 1, .buf_name = "r.yml"};
    ck_assert_int_eq(rule_set_load(&rs, &lo, &rep, &err), 0);
    rule_report_free(&rep);
    struct corr_opts co;
    memset(&co, 0, sizeof(co));
    struct rt_corr cs;
    ck_assert_int_eq(rt_corr_open(&cs, rs, &co, dir, 1, NULL, false), 0);
    cs.commit_ns = 3600LL * 1000000000LL;
    cs.commit_events = 1000000000u;
    struct ingest_batch *b;
    ck_assert_int_eq(ingest_batch_create(&b, 16, 4096), 0);

    commit_at(&cs, b, "logs", 0, 10); /* a new source: stored at once */
    ck_assert_int_eq(stored(&cs, "logs", 0), 10);
    commit_at(&cs, b, "logs", 0, 20); /* known: held */
    ck_assert_int_eq(stored(&cs, "logs", 0), 10);
    commit_at(&cs, b, "logs", 1, 5);  /* another partition is new: all stored */
    ck_assert_int_eq(stored(&cs, "logs", 0), 20);
    ck_assert_int_eq(stored(&cs, "logs", 1), 5);

    commit_at(&cs, b, "logs", 0, 30);
    ck_assert_int_eq(rt_corr_flush_due(&cs), 0); /* not due yet */
    ck_assert_int_eq(stored(&cs, "logs", 0), 20);
    cs.held_since -= 2 * cs.commit_ns;           /* an hour later, no batch */
    ck_assert_int_eq(rt_corr_flush_due(&cs), 0);
    ck_assert_int_eq(stored(&cs, "logs", 0), 30);

    commit_at(&cs, b, "logs", 1, 9);
    int64_t off = -1;
    ck_assert_int_eq(rt_corr_seek(&cs, "logs", 1, &off), 0);
    ck_assert_int_eq(off, 9); /* what was read, not what had been stored (5) */

    commit_at(&cs, b, "logs", 0, 40); /* held until the end */
    ck_assert_int_eq(rt_corr_flush(&cs), 0);
    ck_assert_int_eq(stored(&cs, "logs", 0), 40);

    ingest_batch_destroy(b);
    rt_corr_close(&cs);
    rule_set_unref(rs);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("runtime_commit");
    TCase *t = tcase_create("coalesce");
    tcase_add_test(t, test_coalesced_commits_store_new_sources_at_once_and_held_when_due_or_seeking);
    suite_add_tcase(s, t);
    return s;
}

TS_CHECK_MAIN(make_suite)
