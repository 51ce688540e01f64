/* check_torture_store.c - allocation-failure torture of storage/: the
 * library's malloc/calloc/realloc/strdup are wrapped (Makefile: check_torture_*)
 * so that the Nth call fails; a whole batch (open, begin, incident, evidence,
 * outbox, state, offsets, commit, read back, close) is run with N = 1, 2, ...
 * until it succeeds. Every failing run must return TS_E_NOMEM cleanly (no
 * crash; no leak under LeakSanitizer) and leave the store consistent:
 * either the batch is all there or none of it. LMDB's own allocations are in
 * the shared liblmdb and not wrapped. */
#include <stdlib.h>
#include <string.h>

#include "check_store_util.h"
#include "check_torture.h"

/* All or nothing: the batch's offset is there exactly when its state is
 * (checked with allocations working). rc unless the check fails. */
static int whole_batch(struct store *s, int rc)
{
    if (rc == CHECK_FAILED)
        return rc;
    long saved = fail_at; /* the check itself must not fail */
    fail_at = 0;
    struct store_txn *r = NULL;
    if (store_txn_begin(s, STORE_TXN_RDONLY, &r) == 0) {
        int64_t off;
        const void *v;
        size_t vl;
        bool has_off = store_offset_read(r, "logs", 0, &off) == 0;
        bool has_state = store_state_get(r, "k", 1, &v, &vl) == 0;
        if (has_off != has_state)
            rc = CHECK_FAILED;
        store_txn_abort(r);
    } else {
        rc = CHECK_FAILED;
    }
    fail_at = saved;
    return rc;
}

/* The batch; returns 0, a TS code, or CHECK_FAILED when a result is wrong
 * (no ck_assert here: Check allocates when reporting). */
static int op_batch(void)
{
    struct store_opts o = {0};
    o.path = st_dir;
    o.map_size = 4u << 20;
    struct store *s = NULL;
    struct ts_err err = {0};
    int rc = store_open(&s, &o, &err);
    if (rc)
        return s ? CHECK_FAILED : rc;
    struct store_txn *t = NULL;
    struct ts_arena *a = NULL;
    if ((rc = store_txn_begin(s, 0, &t)) != 0)
        goto out;
    static const char *const tags[] = {"attack.t1110"};
    struct store_incident inc = {0};
    inc.id = "inc-t";
    inc.tenant = "a";
    inc.rule_title = "torture";
    inc.tags = tags;
    inc.ntags = 1;
    inc.last_seen_ns = 10;
    struct store_evidence ev = {0};
    ev.source = "logs";
    ev.raw = "raw line";
    ev.raw_len = 8;
    struct store_outbox ob = {0};
    ob.id = "ob-t";
    ob.incident_id = "inc-t";
    ob.payload = "{}";
    ob.payload_len = 2;
    if ((rc = store_incident_put(t, &inc, NULL)) != 0 ||
        (rc = store_evidence_add(t, "inc-t", &ev, NULL)) != 0 ||
        (rc = store_outbox_put(t, &ob)) != 0 || (rc = store_state_put(t, "k", 1, "v", 1)) != 0 ||
        (rc = store_offset_put(t, "logs", 0, 42)) != 0) {
        store_txn_abort(t);
        t = NULL;
        goto out;
    }
    rc = store_txn_commit(t, &err);
    t = NULL;
    if (rc)
        goto out;
    if ((rc = ts_arena_create(&a, 4096, 1u << 20)) != 0)
        goto out;
    if ((rc = store_txn_begin(s, STORE_TXN_RDONLY, &t)) != 0)
        goto out;
    struct store_incident g;
    if ((rc = store_incident_get(t, "inc-t", a, &g)) != 0)
        goto out;
    if (g.ntags != 1 || strcmp(g.tags[0], "attack.t1110") != 0)
        rc = CHECK_FAILED;
out:
    store_txn_abort(t);
    ts_arena_destroy(a);
    rc = whole_batch(s, rc);
    store_close(s);
    return rc;
}

/* Journal mode: enable (folds what an earlier failed run left), a batch of
 * one incident with 3 evidence references, state and offset, then a fold
 * and a read back. Runs accumulate in the same store: every committed
 * batch adds exactly 3 references, and the offset is there exactly when
 * the state is. */
static int op_journal(void)
{
    struct store_opts o = {0};
    o.path = st_dir;
    o.map_size = 4u << 20;
    struct store *s = NULL;
    struct ts_err err = {0};
    int rc = store_open(&s, &o, &err);
    if (rc)
        return s ? CHECK_FAILED : rc;
    struct store_txn *t = NULL;
    struct ts_arena *a = NULL;
    if ((rc = store_journal_enable(s, &err)) != 0)
        goto out;
    if ((rc = store_txn_begin(s, 0, &t)) != 0)
        goto out;
    struct store_incident inc = {0};
    inc.id = "inc-j";
    inc.tenant = "a";
    inc.rule_title = "torture";
    inc.last_seen_ns = 10;
    struct store_evidence ev[3] = {{0}};
    for (int i = 0; i < 3; i++) {
        ev[i].source = "logs";
        ev[i].offset = i;
        ev[i].raw = "raw line";
        ev[i].raw_len = 8;
    }
    if ((rc = store_incident_put_ev(t, &inc, NULL, ev, 3, NULL)) != 0 ||
        (rc = store_state_put(t, "k", 1, "v", 1)) != 0 ||
        (rc = store_offset_put(t, "logs", 0, 42)) != 0) {
        store_txn_abort(t);
        t = NULL;
        goto out;
    }
    rc = store_txn_commit(t, &err);
    t = NULL;
    if (rc || (rc = store_journal_fold(s, &err)) != 0)
        goto out;
    if ((rc = ts_arena_create(&a, 4096, 1u << 20)) != 0)
        goto out;
    if ((rc = store_txn_begin(s, STORE_TXN_RDONLY, &t)) != 0)
        goto out;
    struct store_incident g;
    if ((rc = store_incident_get(t, "inc-j", a, &g)) != 0)
        goto out;
    if (g.evidence_next < 3 || g.evidence_next % 3 != 0 || g.revision * 3 != g.evidence_next)
        rc = CHECK_FAILED;
out:
    store_txn_abort(t);
    ts_arena_destroy(a);
    rc = whole_batch(s, rc);
    store_close(s);
    return rc;
}

START_TEST(test_torture_store_journal_fails_cleanly_at_every_allocation)
{
    long n = torture_run(op_journal, torture_nomem, 10000) + 1; /* first success */
    ck_assert_int_gt(n, 5);
}
END_TEST

START_TEST(test_torture_store_batch_fails_cleanly_at_every_allocation)
{
    long n = torture_run(op_batch, torture_nomem, 10000) + 1; /* first success */
    ck_assert_int_gt(n, 5);
}
END_TEST

static void setup(void) { st_mkdir(); }
static void teardown(void) { st_rmdir(); }

static Suite *make_suite(void)
{
    Suite *s = suite_create("torture_store");
    TCase *tc = tcase_create("torture");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_torture_store_batch_fails_cleanly_at_every_allocation);
    tcase_add_test(tc, test_torture_store_journal_fails_cleanly_at_every_allocation);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
