/* check_store_incidents.c - storage/: incidents (round trip, update rules,
 * revisions), the list queries by time, tenant and status, the status
 * lifecycle with its history, and evidence (sequence, caps on count and
 * raw text) against real LMDB files in temp dirs. */
#include "check_store_util.h"
#include "../../storage/store_int.h"

static void setup(void) { st_mkdir(); }
static void teardown(void) { st_rmdir(); }

#define S(x) ((int64_t)(x) * 1000000000LL)

/* Triage comments: each status change keeps where it came from and the
 * analyst's comment, bounded; records written before comments existed
 * (no extension after the history) still read, with from derived. */
START_TEST(test_status_changes_keep_from_and_comment)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, S(1000));
    struct store_incident inc = st_incident("inc-c", "a", S(100));
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
    ck_assert_int_eq(store_incident_set_status_comment(t, "inc-c", STORE_STATUS_ACKNOWLEDGED,
                                                       "lan", "blocked 10.0.0.5 at the edge",
                                                       NULL),
                     0);
    ck_assert_int_eq(store_incident_set_status(t, "inc-c", STORE_STATUS_RESOLVED, "binh", NULL),
                     0);
    static char big[STORE_COMMENT_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    uint64_t rev = 0;
    ck_assert_int_eq(store_incident_set_status_comment(t, "inc-c", STORE_STATUS_REOPENED, "chi",
                                                       big, &rev),
                     TS_E_INVAL); /* too long: refused, the txn goes on */
    big[STORE_COMMENT_MAX] = '\0';
    ck_assert_int_eq(store_incident_set_status_comment(t, "inc-c", STORE_STATUS_REOPENED, "chi",
                                                       "same host again\ntwo lines", &rev),
                     0);
    ck_assert_uint_eq(rev, 4);
    ck_assert_int_eq(store_incident_set_status_comment(t, "inc-c", STORE_STATUS_RESOLVED, "chi",
                                                       big, NULL),
                     0); /* exactly the cap */
    st_commit(t);

    struct ts_arena *a = st_arena();
    t = st_rbegin(s);
    struct store_incident got;
    ck_assert_int_eq(store_incident_get(t, "inc-c", a, &got), 0);
    ck_assert_uint_eq(got.nhistory, 4);
    static const struct {
        enum store_status from, to;
        const char *by, *comment;
    } want[] = {
        {STORE_STATUS_NEW, STORE_STATUS_ACKNOWLEDGED, "lan", "blocked 10.0.0.5 at the edge"},
        {STORE_STATUS_ACKNOWLEDGED, STORE_STATUS_RESOLVED, "binh", ""},
        {STORE_STATUS_RESOLVED, STORE_STATUS_REOPENED, "chi", "same host again\ntwo lines"}};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(got.history[i].from, want[i].from);
        ck_assert_int_eq(got.history[i].status, want[i].to);
        ck_assert_str_eq(got.history[i].by, want[i].by);
        ck_assert_str_eq(got.history[i].comment, want[i].comment);
        ck_assert_int_eq(got.history[i].at_ns, S(1000));
    }
    ck_assert_uint_eq(strlen(got.history[3].comment), STORE_COMMENT_MAX);

    /* the record as an older tocsin wrote it: the same bytes up to the end
     * of the history, without the extension */
    struct store_enc e = {0};
    store_incident_encode(&e, &got);
    size_t full = e.len, ext = 1;
    for (uint32_t i = 0; i < got.nhistory; i++)
        ext += 1 + 4 + strlen(got.history[i].comment) + 1;
    uint8_t *buf = malloc(full);
    ck_assert_ptr_nonnull(buf);
    e = (struct store_enc){buf, 0};
    store_incident_encode(&e, &got);
    struct store_incident old;
    struct store_dec d = {buf, full - ext, 0, a, 0};
    ck_assert_int_eq(store_incident_decode(&d, &old, NULL), 0);
    ck_assert_uint_eq(d.off, full - ext);
    ck_assert_uint_eq(old.nhistory, 4);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(old.history[i].from, want[i].from); /* the previous entry's status */
        ck_assert_str_eq(old.history[i].comment, "");
        ck_assert_str_eq(old.history[i].by, want[i].by);
    }
    free(buf);
    store_txn_abort(t);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

START_TEST(test_incident_round_trips_every_field)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, S(5000));
    static const char *const tags[] = {"attack.credential_access", "attack.t1110.001"};
    static const char *const users[] = {"root", "admin", ""};
    struct store_incident inc = st_incident("inc-rt", "agency-a", S(100));
    inc.first_seen_ns = S(40);
    inc.author = "SOC team";
    inc.tags = tags;
    inc.ntags = 2;
    inc.distinct_field = "user";
    inc.distinct = users;
    inc.ndistinct = 3;
    inc.distinct_truncated = true;
    inc.details = "{\"type\":\"value_count\",\"timespan\":\"5m\"}";
    inc.count = 17;
    inc.severity = 4;
    inc.status = STORE_STATUS_RESOLVED; /* ignored by put */
    inc.revision = 99;                  /* ignored by put */
    uint64_t rev = 0;
    ck_assert_int_eq(store_incident_put(t, &inc, &rev), 0);
    ck_assert_uint_eq(rev, 1);
    st_commit(t);

    struct ts_arena *a = st_arena();
    t = st_rbegin(s);
    struct store_incident g;
    ck_assert_int_eq(store_incident_get(t, "inc-rt", a, &g), 0);
    store_txn_abort(t); /* the decoded copy outlives the txn */
    ck_assert_str_eq(g.id, "inc-rt");
    ck_assert_str_eq(g.rule_id, "5b5f7a5e-ssh-brute");
    ck_assert_str_eq(g.rule_title, "SSH brute force");
    ck_assert_str_eq(g.level, "high");
    ck_assert_str_eq(g.author, "SOC team");
    ck_assert_str_eq(g.tenant, "agency-a");
    ck_assert_str_eq(g.group_key, "src_ip=10.0.0.5");
    ck_assert_int_eq(g.first_seen_ns, S(40));
    ck_assert_int_eq(g.last_seen_ns, S(100));
    ck_assert_uint_eq(g.count, 17);
    ck_assert_uint_eq(g.ntags, 2);
    ck_assert_str_eq(g.tags[1], "attack.t1110.001");
    ck_assert_str_eq(g.distinct_field, "user");
    ck_assert_uint_eq(g.ndistinct, 3);
    ck_assert_str_eq(g.distinct[0], "root");
    ck_assert_str_eq(g.distinct[2], "");
    ck_assert(g.distinct_truncated);
    ck_assert_str_eq(g.details, inc.details);
    ck_assert_uint_eq(g.severity, 4);
    ck_assert_int_eq(g.status, STORE_STATUS_NEW);
    ck_assert_str_eq(g.status_by, "");
    ck_assert_int_eq(g.status_ns, S(5000));
    ck_assert_uint_eq(g.revision, 1);
    ck_assert_int_eq(g.created_ns, S(5000));
    ck_assert_int_eq(g.updated_ns, S(5000));
    ck_assert_uint_eq(g.nhistory, 0);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

START_TEST(test_incident_update_keeps_lifecycle_min_first_seen_max_severity_and_bumps_revision)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    store_txn_set_now(t, S(1000));
    struct store_incident inc = st_incident("inc-u", "a", S(100));
    inc.severity = 3;
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
    ck_assert_int_eq(store_incident_set_status(t, "inc-u", STORE_STATUS_ACKNOWLEDGED, "lan",
                                               NULL),
                     0);
    st_commit(t);

    t = st_begin(s);
    store_txn_set_now(t, S(2000));
    inc.first_seen_ns = S(150); /* later: the stored minimum stays */
    inc.last_seen_ns = S(300);
    inc.count = 9;
    inc.severity = 1; /* lower: severity only goes up */
    inc.rule_title = "SSH brute force (renamed)";
    uint64_t rev;
    ck_assert_int_eq(store_incident_put(t, &inc, &rev), 0);
    ck_assert_uint_eq(rev, 3);
    st_commit(t);

    struct ts_arena *a = st_arena();
    t = st_rbegin(s);
    struct store_incident g;
    ck_assert_int_eq(store_incident_get(t, "inc-u", a, &g), 0);
    store_txn_abort(t);
    ck_assert_int_eq(g.first_seen_ns, S(100));
    ck_assert_int_eq(g.last_seen_ns, S(300));
    ck_assert_uint_eq(g.count, 9);
    ck_assert_uint_eq(g.severity, 3);
    ck_assert_str_eq(g.rule_title, "SSH brute force (renamed)");
    ck_assert_int_eq(g.status, STORE_STATUS_ACKNOWLEDGED);
    ck_assert_str_eq(g.status_by, "lan");
    ck_assert_int_eq(g.status_ns, S(1000));
    ck_assert_int_eq(g.created_ns, S(1000));
    ck_assert_int_eq(g.updated_ns, S(2000));
    ck_assert_uint_eq(g.revision, 3);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

START_TEST(test_incident_put_rejects_bad_input_without_poisoning_the_txn)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    struct store_incident inc = st_incident("", "a", 1);
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), TS_E_INVAL);
    char longid[STORE_ID_MAX + 2];
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = 0;
    inc.id = longid;
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), TS_E_INVAL);
    inc.id = "ok";
    inc.severity = 5;
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), TS_E_INVAL);
    inc.severity = 2;
    inc.ntags = STORE_TAGS_MAX + 1;
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), TS_E_INVAL);
    inc.ntags = 0;
    ck_assert_int_eq(store_txn_error(t), 0);
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
    st_commit(t);
    store_close(s);
}
END_TEST

struct seen {
    char ids[64][16];
    int n;
};

static int collect(void *ctx, const struct store_incident *inc)
{
    struct seen *sn = ctx;
    if (sn->n < 64)
        snprintf(sn->ids[sn->n++], 16, "%s", inc->id);
    return 0;
}

static void list(struct store *s, const struct store_incident_filter *f, struct seen *sn)
{
    memset(sn, 0, sizeof(*sn));
    struct ts_arena *a = st_arena();
    struct store_txn *t = st_rbegin(s);
    ck_assert_int_eq(store_incident_list(t, f, a, collect, sn), 0);
    store_txn_abort(t);
    ts_arena_destroy(a);
}

static void populate(struct store *s)
{
    /* i0..i5: tenants a,b alternating, last seen at 10,20,...,60 s */
    struct store_txn *t = st_begin(s);
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof(id), "i%d", i);
        struct store_incident inc = st_incident(id, i % 2 ? "b" : "a", S(10 * (i + 1)));
        store_txn_set_now(t, S(1000 + i));
        ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
    }
    st_commit(t);
}

START_TEST(test_list_by_time_since_until_and_limit)
{
    struct store *s = st_open();
    populate(s);
    struct seen sn;
    struct store_incident_filter f = {0, 0, NULL, 0, 0, false};
    list(s, &f, &sn);
    ck_assert_int_eq(sn.n, 6);
    ck_assert_str_eq(sn.ids[0], "i0");
    ck_assert_str_eq(sn.ids[5], "i5");
    f.since_ns = S(30); /* inclusive */
    list(s, &f, &sn);
    ck_assert_int_eq(sn.n, 4);
    ck_assert_str_eq(sn.ids[0], "i2");
    f.until_ns = S(50); /* exclusive */
    list(s, &f, &sn);
    ck_assert_int_eq(sn.n, 2);
    ck_assert_str_eq(sn.ids[1], "i3");
    f.until_ns = 0;
    f.limit = 3;
    list(s, &f, &sn);
    ck_assert_int_eq(sn.n, 3);
    list(s, NULL, &sn);
    ck_assert_int_eq(sn.n, 6);

    /* an update that moves last_seen moves it in the time index */
    struct store_txn *t = st_begin(s);
    struct store_incident inc = st_incident("i0", "a", S(100));
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
    st_commit(t);
    f.limit = 0;
    f.since_ns = S(70);
    list(s, &f, &sn);
    ck_assert_int_eq(sn.n, 1);
    ck_assert_str_eq(sn.ids[0], "i0");
    f.since_ns = 0;
    list(s, &f, &sn);
    ck_assert_int_eq(sn.n, 6); /* no stale index entry left behind */
    store_close(s);
}
END_TEST

START_TEST(test_list_by_tenant_and_status_combines_filters)
{
    struct store *s = st_open();
    populate(s);
    struct store_txn *t = st_begin(s);
    ck_assert_int_eq(store_incident_set_status(t, "i1", STORE_STATUS_RESOLVED, "x", NULL), 0);
    ck_assert_int_eq(store_incident_set_status(t, "i2", STORE_STATUS_RESOLVED, "x", NULL), 0);
    ck_assert_int_eq(store_incident_set_status(t, "i4", STORE_STATUS_ACKNOWLEDGED, "x", NULL), 0);
    st_commit(t);
    struct seen sn;
    struct store_incident_filter f = {0, 0, "b", 0, 0, false};
    list(s, &f, &sn);
    ck_assert_int_eq(sn.n, 3);
    ck_assert_str_eq(sn.ids[0], "i1");
    f.since_ns = S(40);
    list(s, &f, &sn);
    ck_assert_int_eq(sn.n, 2);
    f.tenant = NULL;
    f.since_ns = 0;
    f.status_mask = STORE_STATUS_BIT(STORE_STATUS_RESOLVED);
    list(s, &f, &sn);
    ck_assert_int_eq(sn.n, 2); /* across tenants a and b */
    ck_assert_str_eq(sn.ids[0], "i2"); /* tenant "a" first */
    ck_assert_str_eq(sn.ids[1], "i1");
    f.tenant = "b";
    list(s, &f, &sn);
    ck_assert_int_eq(sn.n, 1);
    ck_assert_str_eq(sn.ids[0], "i1");
    f.tenant = NULL;
    f.status_mask = STORE_STATUS_BIT(STORE_STATUS_NEW);
    list(s, &f, &sn);
    ck_assert_int_eq(sn.n, 3);
    f.status_mask = STORE_STATUS_BIT(STORE_STATUS_REOPENED);
    list(s, &f, &sn);
    ck_assert_int_eq(sn.n, 0);
    f.tenant = "nobody";
    f.status_mask = 0;
    list(s, &f, &sn);
    ck_assert_int_eq(sn.n, 0);
    f.tenant = NULL;
    f.status_mask = STORE_STATUS_OPEN; /* several: time index + filter */
    list(s, &f, &sn);
    ck_assert_int_eq(sn.n, 4);
    ck_assert_str_eq(sn.ids[0], "i0");
    ck_assert_str_eq(sn.ids[3], "i5");
    f.status_mask = 1u << 7;
    memset(&sn, 0, sizeof(sn));
    struct ts_arena *a = st_arena();
    struct store_txn *t2 = st_rbegin(s);
    ck_assert_int_eq(store_incident_list(t2, &f, a, collect, &sn), TS_E_INVAL);
    store_txn_abort(t2);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

START_TEST(test_status_lifecycle_allows_only_valid_transitions_and_keeps_history)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    struct store_incident inc = st_incident("life", "a", S(1));
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
    uint64_t rev;
    ck_assert_int_eq(store_incident_set_status(t, "life", STORE_STATUS_REOPENED, "x", NULL),
                     TS_E_INVAL);
    store_txn_set_now(t, S(10));
    ck_assert_int_eq(store_incident_set_status(t, "life", STORE_STATUS_ACKNOWLEDGED, "an", &rev), 0);
    ck_assert_uint_eq(rev, 2);
    ck_assert_int_eq(store_incident_set_status(t, "life", STORE_STATUS_ACKNOWLEDGED, "an", NULL),
                     TS_E_INVAL);
    store_txn_set_now(t, S(20));
    ck_assert_int_eq(store_incident_set_status(t, "life", STORE_STATUS_RESOLVED, "binh", NULL), 0);
    ck_assert_int_eq(store_incident_set_status(t, "life", STORE_STATUS_RESOLVED, "binh", NULL),
                     TS_E_INVAL);
    store_txn_set_now(t, S(30));
    ck_assert_int_eq(store_incident_set_status(t, "life", STORE_STATUS_REOPENED, NULL, NULL), 0);
    store_txn_set_now(t, S(40));
    ck_assert_int_eq(store_incident_set_status(t, "life", STORE_STATUS_RESOLVED, "chi", &rev), 0);
    ck_assert_uint_eq(rev, 5);
    ck_assert_int_eq(store_incident_set_status(t, "none", STORE_STATUS_RESOLVED, "x", NULL),
                     TS_E_NOTFOUND);
    ck_assert_int_eq(store_txn_error(t), 0);
    st_commit(t);

    struct ts_arena *a = st_arena();
    t = st_rbegin(s);
    struct store_incident g;
    ck_assert_int_eq(store_incident_get(t, "life", a, &g), 0);
    store_txn_abort(t);
    ck_assert_int_eq(g.status, STORE_STATUS_RESOLVED);
    ck_assert_str_eq(g.status_by, "chi");
    ck_assert_int_eq(g.status_ns, S(40));
    ck_assert_uint_eq(g.nhistory, 4);
    ck_assert_int_eq(g.history[0].status, STORE_STATUS_ACKNOWLEDGED);
    ck_assert_str_eq(g.history[0].by, "an");
    ck_assert_int_eq(g.history[0].at_ns, S(10));
    ck_assert_int_eq(g.history[2].status, STORE_STATUS_REOPENED);
    ck_assert_str_eq(g.history[2].by, "");
    ck_assert_int_eq(g.history[3].at_ns, S(40));

    /* history keeps the last STORE_HISTORY_MAX changes */
    t = st_begin(s);
    for (int i = 0; i < STORE_HISTORY_MAX; i++) {
        ck_assert_int_eq(store_incident_set_status(t, "life", STORE_STATUS_REOPENED, "r", NULL), 0);
        ck_assert_int_eq(store_incident_set_status(t, "life", STORE_STATUS_RESOLVED, "z", NULL), 0);
    }
    st_commit(t);
    ts_arena_reset(a);
    t = st_rbegin(s);
    ck_assert_int_eq(store_incident_get(t, "life", a, &g), 0);
    store_txn_abort(t);
    ck_assert_uint_eq(g.nhistory, STORE_HISTORY_MAX);
    ck_assert_str_eq(g.history[STORE_HISTORY_MAX - 1].by, "z");
    ck_assert_uint_eq(g.revision, 5 + 2 * STORE_HISTORY_MAX);
    ts_arena_destroy(a);

    enum store_status st;
    ck_assert_int_eq(store_status_parse("ack", &st), 0);
    ck_assert_int_eq(st, STORE_STATUS_ACKNOWLEDGED);
    ck_assert_int_eq(store_status_parse("closed", &st), TS_E_INVAL);
    ck_assert_str_eq(store_status_name(STORE_STATUS_REOPENED), "reopened");
    store_close(s);
}
END_TEST

START_TEST(test_status_change_and_evidence_keep_tags_and_distinct_values)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    static const char *const tags[] = {"attack.t1110", "attack.credential_access"};
    static const char *const vals[] = {"root", "oracle"};
    struct store_incident inc = st_incident("keep", "a", S(1));
    inc.tags = tags;
    inc.ntags = 2;
    inc.distinct_field = "user";
    inc.distinct = vals;
    inc.ndistinct = 2;
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
    st_commit(t);
    t = st_begin(s);
    ck_assert_int_eq(store_incident_set_status(t, "keep", STORE_STATUS_ACKNOWLEDGED, "a", NULL), 0);
    struct store_evidence ev = {0};
    ev.source = "logs";
    ck_assert_int_eq(store_evidence_add(t, "keep", &ev, NULL), 0);
    ck_assert_int_eq(store_incident_set_status(t, "keep", STORE_STATUS_RESOLVED, "b", NULL), 0);
    st_commit(t);
    struct ts_arena *a = st_arena();
    t = st_rbegin(s);
    struct store_incident g;
    ck_assert_int_eq(store_incident_get(t, "keep", a, &g), 0);
    store_txn_abort(t);
    ck_assert_uint_eq(g.ntags, 2);
    ck_assert_str_eq(g.tags[0], "attack.t1110");
    ck_assert_str_eq(g.tags[1], "attack.credential_access");
    ck_assert_uint_eq(g.ndistinct, 2);
    ck_assert_str_eq(g.distinct[1], "oracle");
    ck_assert_uint_eq(g.evidence_next, 1);
    ck_assert_uint_eq(g.nhistory, 2);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

struct evs {
    int n;
    uint32_t seq[64];
    char raw[64][32];
    bool omitted[64], truncated[64], late[64];
    int64_t offset[64];
};

static int collect_ev(void *ctx, const struct store_evidence *ev)
{
    struct evs *e = ctx;
    if (e->n < 64) {
        e->seq[e->n] = ev->seq;
        snprintf(e->raw[e->n], 32, "%.*s", (int)ev->raw_len, ev->raw ? ev->raw : "");
        e->omitted[e->n] = ev->raw_omitted;
        e->truncated[e->n] = ev->raw_truncated;
        e->late[e->n] = ev->late;
        e->offset[e->n] = ev->offset;
        e->n++;
    }
    return 0;
}

START_TEST(test_evidence_is_sequenced_capped_and_raw_text_bounded)
{
    struct store_opts o = {0};
    o.map_size = 8u << 20;
    o.evidence_max = 5;
    o.evidence_raw_max = 2;
    o.raw_max_bytes = 10;
    struct store *s = st_open_opts(&o);
    struct store_txn *t = st_begin(s);
    struct store_evidence ev = {0};
    ev.source = "logs.syslog";
    ev.partition = 3;
    ev.event_ns = S(1);
    ev.raw = "Failed password for root from 10.0.0.5";
    ev.raw_len = strlen(ev.raw);
    ck_assert_int_eq(store_evidence_add(t, "missing", &ev, NULL), TS_E_NOTFOUND);
    struct store_incident inc = st_incident("ev", "a", S(1));
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
    struct store_incident other = st_incident("ev2", "a", S(1));
    ck_assert_int_eq(store_incident_put(t, &other, NULL), 0);
    for (int i = 0; i < 7; i++) {
        ev.offset = 100 + i;
        uint32_t seq = 99;
        int rc = store_evidence_add(t, "ev", &ev, &seq);
        if (i < 5) {
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_eq(seq, (uint32_t)i);
        } else {
            ck_assert_int_eq(rc, TS_E_LIMIT);
        }
    }
    ev.raw = "short";
    ev.raw_len = 5;
    ck_assert_int_eq(store_evidence_add(t, "ev2", &ev, NULL), 0);
    ck_assert_int_eq(store_txn_error(t), 0);
    st_commit(t);

    struct ts_arena *a = st_arena();
    struct evs e = {0};
    t = st_rbegin(s);
    ck_assert_int_eq(store_evidence_foreach(t, "ev", a, collect_ev, &e), 0);
    ck_assert_int_eq(e.n, 5);
    ck_assert_uint_eq(e.seq[4], 4);
    ck_assert_int_eq(e.offset[0], 100);
    ck_assert_str_eq(e.raw[0], "Failed pas");
    ck_assert(e.truncated[0]);
    ck_assert(!e.omitted[1]);
    ck_assert_str_eq(e.raw[2], "");
    ck_assert(e.omitted[2]);
    struct store_incident g;
    ck_assert_int_eq(store_incident_get(t, "ev", a, &g), 0);
    ck_assert_uint_eq(g.evidence_next, 5);
    ck_assert_uint_eq(g.evidence_dropped, 2);
    ck_assert_uint_eq(g.revision, 1); /* counters are not revisions */
    memset(&e, 0, sizeof(e));
    ck_assert_int_eq(store_evidence_foreach(t, "ev2", a, collect_ev, &e), 0);
    ck_assert_int_eq(e.n, 1);
    ck_assert_str_eq(e.raw[0], "short");
    ck_assert(!e.truncated[0]);
    store_txn_abort(t);

    /* an update of the incident keeps the evidence counters */
    t = st_begin(s);
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
    ck_assert_int_eq(store_evidence_add(t, "ev", &ev, NULL), TS_E_LIMIT);
    st_commit(t);

    /* delete removes the incident and all its evidence, not the other's */
    t = st_begin(s);
    ck_assert_int_eq(store_incident_del(t, "ev"), 0);
    ck_assert_int_eq(store_incident_del(t, "ev"), TS_E_NOTFOUND);
    st_commit(t);
    t = st_rbegin(s);
    memset(&e, 0, sizeof(e));
    ck_assert_int_eq(store_evidence_foreach(t, "ev", a, collect_ev, &e), 0);
    ck_assert_int_eq(e.n, 0);
    ck_assert_int_eq(store_evidence_foreach(t, "ev2", a, collect_ev, &e), 0);
    ck_assert_int_eq(e.n, 1);
    struct seen sn = {0};
    ck_assert_int_eq(store_incident_list(t, NULL, a, collect, &sn), 0);
    ck_assert_int_eq(sn.n, 1);
    store_txn_abort(t);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

START_TEST(test_evidence_batch_add_stores_up_to_the_cap_and_keeps_flags)
{
    struct store_opts o = {0};
    o.map_size = 8u << 20;
    o.evidence_max = 4;
    o.raw_max_bytes = 5;
    struct store *s = st_open_opts(&o);
    struct store_txn *t = st_begin(s);
    struct store_incident inc = st_incident("batch", "a", S(1));
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
    struct store_evidence evs[3];
    memset(evs, 0, sizeof(evs));
    for (int i = 0; i < 3; i++) {
        evs[i].source = "logs";
        evs[i].offset = i;
        evs[i].raw = "ab\xc3\xa9\xc3\xa9" "cd"; /* "abéécd": a cut at 5 bytes would split the second é */
        evs[i].raw_len = 8;
    }
    evs[1].late = true;
    uint32_t stored;
    ck_assert_int_eq(store_evidence_add_n(t, "batch", evs, 3, &stored), 0);
    ck_assert_uint_eq(stored, 3);
    ck_assert_int_eq(store_evidence_add_n(t, "batch", evs, 3, &stored), TS_E_LIMIT);
    ck_assert_uint_eq(stored, 1);
    ck_assert_int_eq(store_txn_error(t), 0);
    st_commit(t);
    struct ts_arena *a = st_arena();
    t = st_rbegin(s);
    struct evs e = {0};
    ck_assert_int_eq(store_evidence_foreach(t, "batch", a, collect_ev, &e), 0);
    ck_assert_int_eq(e.n, 4);
    ck_assert_str_eq(e.raw[0], "ab\xc3\xa9"); /* cut before the split character */
    ck_assert(!e.late[0] && e.late[1] && !e.late[2]);
    ck_assert(e.truncated[0]);
    struct store_incident g;
    ck_assert_int_eq(store_incident_get(t, "batch", a, &g), 0);
    ck_assert_uint_eq(g.evidence_next, 4);
    ck_assert_uint_eq(g.evidence_dropped, 2);
    store_txn_abort(t);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

START_TEST(test_incident_put_with_evidence_equals_put_then_add_n_in_one_record_write)
{
    struct store_opts o = {0};
    o.map_size = 8u << 20;
    o.evidence_max = 70; /* crosses a 64-reference chunk, then the cap */
    struct store *s = st_open_opts(&o);
    struct store_txn *t = st_begin(s);
    struct store_evidence evs[40];
    memset(evs, 0, sizeof(evs));
    for (int i = 0; i < 40; i++) {
        evs[i].source = i % 3 ? "auth.log" : "other.log";
        evs[i].offset = 100 + i;
        evs[i].event_ns = S(10 + i);
        evs[i].raw = "line";
        evs[i].raw_len = 4;
        evs[i].late = i == 7;
    }
    /* a: the merged call; b: put, then add_n - three batches each */
    struct store_incident a = st_incident("merged", "t1", S(1));
    struct store_incident b = st_incident("split", "t1", S(1));
    uint64_t ra = 0, rb = 0;
    uint32_t stored = 0;
    ck_assert_int_eq(store_incident_put_ev(t, &a, &ra, evs, 30, &stored), 0);
    ck_assert_uint_eq(stored, 30);
    ck_assert_int_eq(store_incident_put(t, &b, &rb), 0);
    ck_assert_int_eq(store_evidence_add_n(t, "split", evs, 30, NULL), 0);
    st_commit(t);
    t = st_begin(s);
    a.count = b.count = 99;
    ck_assert_int_eq(store_incident_put_ev(t, &a, &ra, evs + 30, 10, &stored), 0);
    ck_assert_int_eq(store_incident_put(t, &b, &rb), 0);
    ck_assert_int_eq(store_evidence_add_n(t, "split", evs + 30, 10, NULL), 0);
    ck_assert_uint_eq(ra, 2);
    ck_assert_uint_eq(ra, rb);
    st_commit(t);
    t = st_begin(s);
    ck_assert_int_eq(store_incident_put_ev(t, &a, &ra, evs, 40, &stored), TS_E_LIMIT);
    ck_assert_uint_eq(stored, 30);
    ck_assert_int_eq(store_incident_put(t, &b, &rb), 0);
    ck_assert_int_eq(store_evidence_add_n(t, "split", evs, 40, NULL), TS_E_LIMIT);
    ck_assert_int_eq(store_txn_error(t), 0);
    /* nothing stored, nothing put when a reference is invalid */
    struct store_evidence bad = {.raw_len = 3};
    ck_assert_int_eq(store_incident_put_ev(t, &a, &ra, &bad, 1, &stored), TS_E_INVAL);
    ck_assert_int_eq(store_txn_error(t), 0);
    st_commit(t);
    struct ts_arena *ar = st_arena();
    t = st_rbegin(s);
    struct store_incident ga, gb;
    ck_assert_int_eq(store_incident_get(t, "merged", ar, &ga), 0);
    ck_assert_int_eq(store_incident_get(t, "split", ar, &gb), 0);
    ck_assert_uint_eq(ga.evidence_next, 70);
    ck_assert_uint_eq(ga.evidence_next, gb.evidence_next);
    ck_assert_uint_eq(ga.evidence_dropped, 10);
    ck_assert_uint_eq(ga.evidence_dropped, gb.evidence_dropped);
    ck_assert_uint_eq(ga.revision, gb.revision);
    ck_assert_uint_eq(ga.count, 99);
    struct evs ea = {0}, eb = {0};
    ck_assert_int_eq(store_evidence_foreach(t, "merged", ar, collect_ev, &ea), 0);
    ck_assert_int_eq(store_evidence_foreach(t, "split", ar, collect_ev, &eb), 0);
    ck_assert_int_eq(ea.n, 64); /* what collect_ev keeps of the 70 */
    ck_assert_int_eq(ea.n, eb.n);
    for (int i = 0; i < ea.n; i++) {
        ck_assert_int_eq(ea.late[i], eb.late[i]);
        ck_assert_int_eq(ea.offset[i], eb.offset[i]);
    }
    store_txn_abort(t);
    ts_arena_destroy(ar);
    store_close(s);
}
END_TEST

START_TEST(test_incidents_and_evidence_survive_reopen)
{
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    struct store_incident inc = st_incident("persist", "a", S(7));
    ck_assert_int_eq(store_incident_put(t, &inc, NULL), 0);
    struct store_evidence ev = {0};
    ev.source = "/var/log/auth.log";
    ev.partition = -1;
    ev.offset = 12;
    ck_assert_int_eq(store_evidence_add(t, "persist", &ev, NULL), 0);
    st_commit(t);
    store_close(s);
    s = st_open();
    struct ts_arena *a = st_arena();
    t = st_rbegin(s);
    struct store_incident g;
    ck_assert_int_eq(store_incident_get(t, "persist", a, &g), 0);
    struct evs e = {0};
    ck_assert_int_eq(store_evidence_foreach(t, "persist", a, collect_ev, &e), 0);
    ck_assert_int_eq(e.n, 1);
    ck_assert_int_eq(e.offset[0], 12);
    store_txn_abort(t);
    ts_arena_destroy(a);
    store_close(s);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("store_incidents");
    TCase *tc = tcase_create("incidents");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_incident_round_trips_every_field);
    tcase_add_test(tc, test_status_changes_keep_from_and_comment);
    tcase_add_test(tc, test_incident_update_keeps_lifecycle_min_first_seen_max_severity_and_bumps_revision);
    tcase_add_test(tc, test_incident_put_rejects_bad_input_without_poisoning_the_txn);
    tcase_add_test(tc, test_list_by_time_since_until_and_limit);
    tcase_add_test(tc, test_list_by_tenant_and_status_combines_filters);
    tcase_add_test(tc, test_status_lifecycle_allows_only_valid_transitions_and_keeps_history);
    tcase_add_test(tc, test_status_change_and_evidence_keep_tags_and_distinct_values);
    tcase_add_test(tc, test_evidence_is_sequenced_capped_and_raw_text_bounded);
    tcase_add_test(tc, test_evidence_batch_add_stores_up_to_the_cap_and_keeps_flags);
    tcase_add_test(tc, test_incident_put_with_evidence_equals_put_then_add_n_in_one_record_write);
    tcase_add_test(tc, test_incidents_and_evidence_survive_reopen);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
