/* check_store_journal.c - storage/ journal mode: the same scripted batches
 * (puts with evidence over the caps, a status change, an aborted txn,
 * folds in between) give exactly the incidents and evidence of the direct
 * path; the engine's write txns see the journal, its readers the last fold;
 * another process folding and acknowledging meanwhile is noticed; records
 * left by a crash are folded at the next start. Real LMDB files. */
#include <sys/wait.h>

#include "check_store_util.h"

static char dir2[64];

static void setup(void)
{
    st_mkdir();
    snprintf(dir2, sizeof(dir2), "/tmp/tocsin-store-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir2));
}

static void teardown(void)
{
    st_rmdir();
    st_rmdir_at(dir2);
}

#define S(x) ((int64_t)(x) * 1000000000LL)

static struct store *open_at(const char *dir)
{
    struct store_opts o = {0};
    o.path = dir;
    o.map_size = 8u << 20;
    o.evidence_max = 40;
    o.evidence_raw_max = 6;
    o.raw_max_bytes = 48;
    struct store *s = NULL;
    struct ts_err err = {0};
    int rc = store_open(&s, &o, &err);
    ck_assert_msg(rc == 0, "store_open: %s (%s)", store_strerror(rc), err.msg);
    return s;
}

static uint64_t rnd_state = 12345;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rnd_state >> 33);
}

/* One scripted batch applied to a store; returns the revisions seen. */
struct step {
    int inc[8];
    int ninc;
    int nev[8];
    int sev[8];
    int64_t first[8];
};

static char raw_text[200];

static void apply(struct store *s, const struct step *st, int batch, bool abort_it,
                  uint64_t *revs)
{
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, S(10000 + batch));
    static const char *const tenants[] = {"agency-a", "agency-b", ""};
    for (int i = 0; i < st->ninc; i++) {
        char id[32], key[32], dv[32];
        int n = st->inc[i];
        snprintf(id, sizeof(id), "inc-%02d", n);
        snprintf(key, sizeof(key), "src_ip=10.0.0.%d", n);
        snprintf(dv, sizeof(dv), "user%d", batch % 4);
        const char *distinct[] = {"root", dv};
        struct store_incident inc = st_incident(id, tenants[n % 3], S(1000 + batch));
        inc.group_key = key;
        inc.first_seen_ns = st->first[i];
        inc.severity = (uint8_t)st->sev[i];
        inc.count = (uint64_t)(batch * 3 + n);
        inc.distinct_field = "user";
        inc.distinct = distinct;
        inc.ndistinct = 2;
        struct store_evidence ev[8];
        for (int e = 0; e < st->nev[i]; e++) {
            memset(&ev[e], 0, sizeof(ev[e]));
            ev[e].source = e % 2 ? "logs.agent" : "/var/log/auth.log";
            ev[e].partition = e % 2 ? e : -1;
            ev[e].offset = batch * 100 + e;
            ev[e].event_ns = S(1000 + batch) - e;
            ev[e].rule_id = e % 3 ? "rule-x" : NULL;
            ev[e].late = e == 2;
            ev[e].raw = raw_text + e * 7;
            ev[e].raw_len = e == 3 ? 0 : (size_t)(10 + e * 17);
        }
        uint64_t rev = 0;
        int rc = store_incident_put_ev(t, &inc, &rev, ev, (size_t)st->nev[i], NULL);
        ck_assert_msg(rc == 0 || rc == TS_E_LIMIT, "put: %s", store_strerror(rc));
        if (revs)
            revs[i] = rev;
    }
    if (abort_it)
        store_txn_abort(t);
    else
        st_commit(t);
}

static int dump_one(void *ctx, const struct store_incident *inc)
{
    FILE *f = ctx;
    fprintf(f, "%s|%s|%s|%s|%lld|%lld|%llu|%u|%u|%llu|%lld|%lld|%lld|%u|%u|%s|%u:", inc->id,
            inc->tenant, inc->group_key, inc->level, (long long)inc->first_seen_ns,
            (long long)inc->last_seen_ns, (unsigned long long)inc->count, inc->severity,
            inc->status, (unsigned long long)inc->revision, (long long)inc->status_ns,
            (long long)inc->created_ns, (long long)inc->updated_ns, inc->evidence_next,
            inc->evidence_dropped, inc->status_by, inc->nhistory);
    for (uint32_t i = 0; i < inc->ndistinct; i++)
        fprintf(f, "%s,", inc->distinct[i]);
    fputc('\n', f);
    return 0;
}

static int dump_ev(void *ctx, const struct store_evidence *e)
{
    FILE *f = ctx;
    fprintf(f, "  %u %s %d %lld %lld %s %d %d %d %lld [%.*s]\n", e->seq, e->source, e->partition,
            (long long)e->offset, (long long)e->event_ns, e->rule_id ? e->rule_id : "-",
            e->late, e->raw_truncated, e->raw_omitted, (long long)e->stored_ns,
            (int)e->raw_len, e->raw ? e->raw : "");
    return 0;
}

/* Everything a reader sees, as text. */
static char *dump(struct store *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct ts_arena *a = st_arena();
    struct store_txn *t = st_rbegin(s);
    struct store_incident_filter flt = {0};
    ck_assert_int_eq(store_incident_list(t, &flt, a, dump_one, f), 0);
    for (int n = 0; n < 12; n++) {
        char id[32];
        snprintf(id, sizeof(id), "inc-%02d", n);
        fprintf(f, "%s evidence:\n", id);
        int rc = store_evidence_foreach(t, id, a, dump_ev, f);
        ck_assert(rc == 0 || rc == TS_E_NOTFOUND);
    }
    store_txn_abort(t);
    ts_arena_destroy(a);
    fclose(f);
    return buf;
}

static int ack(struct store *s, const char *id, enum store_status to, int batch)
{
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, S(10000 + batch));
    uint64_t rev;
    int rc = store_incident_set_status(t, id, to, "analyst", &rev);
    st_commit(t);
    return rc;
}

START_TEST(test_journal_gives_exactly_the_direct_paths_incidents_and_evidence)
{
    for (size_t i = 0; i < sizeof(raw_text) - 1; i++)
        raw_text[i] = (char)('a' + i % 26);
    memcpy(raw_text + 40, "\xc3\xa1\xc3\xa1\xc3\xa1", 6); /* UTF-8 across the cut */
    struct store *d = open_at(st_dir), *j = open_at(dir2);
    struct ts_err err = {0};
    ck_assert_int_eq(store_journal_enable(j, &err), 0);
    for (int b = 0; b < 40; b++) {
        struct step st;
        memset(&st, 0, sizeof(st));
        st.ninc = 1 + (int)(rnd() % 6);
        for (int i = 0; i < st.ninc; i++) {
            st.inc[i] = (int)(rnd() % 12);
            for (int k = 0; k < i; k++)
                if (st.inc[k] == st.inc[i])
                    st.inc[i] = (st.inc[i] + 1) % 12;
            st.nev[i] = (int)(rnd() % 6);
            st.sev[i] = (int)(rnd() % 5);
            st.first[i] = S(900 + (int)(rnd() % 200));
        }
        bool ab = b % 9 == 4;
        uint64_t rd[8] = {0}, rj[8] = {0};
        apply(d, &st, b, ab, rd);
        apply(j, &st, b, ab, rj);
        for (int i = 0; i < st.ninc; i++)
            ck_assert_msg(rd[i] == rj[i], "batch %d: revision %llu (direct) vs %llu (journal)",
                          b, (unsigned long long)rd[i], (unsigned long long)rj[i]);
        if (b == 15 || b == 27) { /* status changes while records are pending */
            enum store_status to = b == 15 ? STORE_STATUS_ACKNOWLEDGED : STORE_STATUS_RESOLVED;
            int r1 = ack(d, "inc-03", to, b), r2 = ack(j, "inc-03", to, b);
            ck_assert_int_eq(r1, 0);
            ck_assert_int_eq(r2, 0);
        }
        if (b == 20)
            ck_assert_int_eq(store_journal_fold(j, &err), 0);
    }
    struct store_journal_stats js;
    store_journal_stats(j, &js);
    ck_assert_uint_gt(js.pending_records, 0);
    ck_assert_int_eq(store_journal_fold(j, &err), 0);
    store_journal_stats(j, &js);
    ck_assert_uint_eq(js.pending_records, 0);
    ck_assert_uint_ge(js.folds, 3); /* two explicit, one by each ack */
    char *a = dump(d), *b = dump(j);
    ck_assert_msg(strstr(a, "inc-03|") != NULL && strstr(a, "  0 ") != NULL, "%s", a);
    ck_assert_msg(strstr(a, " 1 1 ") || strstr(a, " 0 1 "), "no omitted raw text in the script");
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    store_close(d);
    store_close(j);
}
END_TEST

START_TEST(test_engine_txns_see_the_journal_its_readers_the_last_fold)
{
    struct store *s = open_at(st_dir);
    struct ts_err err = {0};
    ck_assert_int_eq(store_journal_enable(s, &err), 0);
    struct store_incident inc = st_incident("inc-j", "agency-a", S(100));
    for (int i = 0; i < 3; i++) {
        struct store_txn *t = st_begin(s);
        uint64_t rev;
        inc.count = 5 + (uint64_t)i;
        ck_assert_int_eq(store_incident_put(t, &inc, &rev), 0);
        ck_assert_uint_eq(rev, (uint64_t)i + 1);
        st_commit(t);
    }
    struct ts_arena *a = st_arena();
    struct store_incident g;
    struct store_txn *t = st_rbegin(s);
    ck_assert_int_eq(store_incident_get(t, "inc-j", a, &g), TS_E_NOTFOUND);
    store_txn_abort(t);
    t = st_begin(s);
    ck_assert_int_eq(store_incident_get(t, "inc-j", a, &g), 0);
    ck_assert_uint_eq(g.revision, 3);
    ck_assert_uint_eq(g.count, 7);
    /* an aborted put is forgotten */
    inc.count = 99;
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
    store_txn_abort(t);
    ck_assert_int_eq(store_journal_fold(s, &err), 0);
    t = st_rbegin(s);
    ck_assert_int_eq(store_incident_get(t, "inc-j", a, &g), 0);
    store_txn_abort(t);
    ck_assert_uint_eq(g.revision, 3);
    ck_assert_uint_eq(g.count, 7);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

/* A child process acting as `tocsin incidents ack`: opens the directory
 * (not in journal mode), which folds, and acknowledges. */
static void child_ack(const char *id)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct store *c = open_at(st_dir);
        struct store_txn *t = NULL;
        if (store_txn_begin(c, STORE_TXN_RDONLY, &t) != 0) /* folds first */
            _exit(2);
        struct ts_arena *a = NULL;
        struct store_incident g;
        if (ts_arena_create(&a, 4096, 1 << 20) || store_incident_get(t, id, a, &g) != 0 ||
            g.count != 6)
            _exit(3);
        store_txn_abort(t);
        if (store_txn_begin(c, 0, &t) != 0 ||
            store_incident_set_status(t, id, STORE_STATUS_ACKNOWLEDGED, "analyst", NULL) != 0 ||
            store_txn_commit(t, NULL) != 0)
            _exit(4);
        store_close(c);
        _exit(0);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}

START_TEST(test_another_process_folding_and_acknowledging_is_noticed)
{
    struct store *s = open_at(st_dir);
    struct ts_err err = {0};
    ck_assert_int_eq(store_journal_enable(s, &err), 0);
    struct store_incident inc = st_incident("inc-p", "agency-a", S(100));
    struct store_txn *t;
    for (int i = 0; i < 2; i++) {
        t = st_begin(s);
        inc.count = 5 + (uint64_t)i;
        ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
        st_commit(t);
    }
    child_ack("inc-p");
    t = st_begin(s);
    uint64_t rev;
    inc.count = 9;
    ck_assert_int_eq(store_incident_put(t, &inc, &rev), 0);
    ck_assert_uint_eq(rev, 4); /* 2 puts, the ack, this put */
    st_commit(t);
    ck_assert_int_eq(store_journal_fold(s, &err), 0);
    struct ts_arena *a = st_arena();
    struct store_incident g;
    t = st_rbegin(s);
    ck_assert_int_eq(store_incident_get(t, "inc-p", a, &g), 0);
    store_txn_abort(t);
    ck_assert_int_eq(g.status, STORE_STATUS_ACKNOWLEDGED);
    ck_assert_str_eq(g.status_by, "analyst");
    ck_assert_uint_eq(g.count, 9);
    ck_assert_uint_eq(g.revision, 4);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

START_TEST(test_records_left_by_a_crash_are_folded_at_the_next_start)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct store *c = open_at(st_dir);
        struct ts_err err = {0};
        if (store_journal_enable(c, &err) != 0)
            _exit(2);
        struct store_incident inc = st_incident("inc-c", "agency-b", S(100));
        struct store_evidence ev = {.source = "/var/log/auth.log", .partition = -1, .offset = 7,
                                    .event_ns = S(99), .raw = "Failed password", .raw_len = 15};
        struct store_txn *t = NULL;
        if (store_txn_begin(c, 0, &t) != 0 || store_incident_put_ev(t, &inc, NULL, &ev, 1, NULL) ||
            store_txn_commit(t, NULL) != 0)
            _exit(3);
        _exit(0); /* as if killed: no fold, no close */
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    struct store *s = open_at(st_dir);
    struct ts_err err = {0};
    ck_assert_int_eq(store_journal_enable(s, &err), 0);
    struct ts_arena *a = st_arena();
    struct store_incident g;
    struct store_txn *t = st_rbegin(s);
    ck_assert_int_eq(store_incident_get(t, "inc-c", a, &g), 0);
    ck_assert_uint_eq(g.evidence_next, 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(store_evidence_foreach(t, "inc-c", a, dump_ev, f), 0);
    fclose(f);
    store_txn_abort(t);
    ck_assert_ptr_nonnull(strstr(buf, "[Failed password]"));
    free(buf);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

static int late_count(void *ctx, const struct store_late *l)
{
    int *n = ctx;
    ck_assert_ptr_nonnull(l->ev.raw);
    (*n)++;
    return 0;
}

START_TEST(test_late_events_are_kept_listed_per_tenant_deduplicated_and_aged)
{
    struct store *s = open_at(st_dir);
    struct store_txn *t = st_begin(s);
    for (int i = 0; i < 6; i++) {
        struct store_late l = {.tenant = i % 2 ? "agency-b" : "agency-a", .rule_id = "brute"};
        l.ev.source = "/var/log/auth.log";
        l.ev.partition = -1;
        l.ev.offset = 100 + i;
        l.ev.event_ns = S(1000 + i * 100);
        l.ev.raw = "Failed password for root from 203.0.113.9 port 4 ssh2 and more text";
        l.ev.raw_len = strlen(l.ev.raw);
        ck_assert_int_eq(store_late_put(t, &l), 0);
        if (i == 0) /* the same event again (a replay): one record */
            ck_assert_int_eq(store_late_put(t, &l), 0);
    }
    st_commit(t);
    struct ts_arena *a = st_arena();
    int all = 0, b = 0, since = 0;
    t = st_rbegin(s);
    ck_assert_int_eq(store_late_foreach(t, NULL, 0, a, late_count, &all), 0);
    ck_assert_int_eq(store_late_foreach(t, "agency-b", 0, a, late_count, &b), 0);
    ck_assert_int_eq(store_late_foreach(t, NULL, S(1300), a, late_count, &since), 0);
    store_txn_abort(t);
    ck_assert_int_eq(all, 6);
    ck_assert_int_eq(b, 3);
    ck_assert_int_eq(since, 3); /* 1300, 1400, 1500 */
    /* evidence retention of agency-a (keep 250 s at 1500 s): its events at
     * 1000 and 1200 go, the one at 1400 stays; agency-b has no rule */
    struct store_retention_rule rules[] = {{"agency-a", S(250), 0}};
    struct store_retention_opts o = {.rules = rules, .nrules = 1, .now_ns = S(1500)};
    struct store_retention_stats rst;
    struct ts_err err = {0};
    ck_assert_int_eq(store_retention_run(s, &o, &rst, &err), 0);
    all = 0;
    t = st_rbegin(s);
    ck_assert_int_eq(store_late_foreach(t, NULL, 0, a, late_count, &all), 0);
    store_txn_abort(t);
    ck_assert_int_eq(all, 4);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("store_journal");
    TCase *tc = tcase_create("journal");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_journal_gives_exactly_the_direct_paths_incidents_and_evidence);
    tcase_add_test(tc, test_engine_txns_see_the_journal_its_readers_the_last_fold);
    tcase_add_test(tc, test_another_process_folding_and_acknowledging_is_noticed);
    tcase_add_test(tc, test_records_left_by_a_crash_are_folded_at_the_next_start);
    tcase_add_test(tc, test_late_events_are_kept_listed_per_tenant_deduplicated_and_aged);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
