/* check_inc_status.c - status changes everywhere (runtime/inc_topic.c,
 * docs/scale.md): the status change record round-trips and a damaged one is
 * refused at every length; records read from the incidents topic give two
 * stores the same status, history and revision however they are batched; a
 * change not allowed when its turn comes (another node's came first) is
 * refused on every store; a correlation update after a change keeps it; a
 * change read before its incident (compaction) waits aside and is applied
 * when the incident comes, as on a node that read them in the first order;
 * the incident's tombstone removes it with what waits for it; retention
 * publishes tombstones for every key of an old resolved incident of its own
 * partitions (the keys stage B and the changes used), and reading them
 * removes it; the store's names (the replica mark) are kept apart from its
 * own records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_store_util.h"
#include "../../core/tstime.h"
#include "../../runtime/runtime_int.h"

#define TOPIC "g.incidents"
#define T1 1795000000000000000LL

/* A topic's records as a materialiser reads them, built in one buffer. */
struct recs {
    struct ingest_record r[32];
    struct ts_buf k[32], v[32];
    size_t n;
    int64_t next;
};

static void recs_free(struct recs *x)
{
    for (size_t i = 0; i < x->n; i++) {
        ts_buf_free(&x->k[i]);
        ts_buf_free(&x->v[i]);
    }
    x->n = 0;
}

static struct ingest_record *rec_new(struct recs *x)
{
    ck_assert_uint_lt(x->n, 32);
    size_t i = x->n++;
    ts_buf_init(&x->k[i], 0);
    ts_buf_init(&x->v[i], 0);
    x->r[i] = (struct ingest_record){.partition = 0, .offset = x->next++};
    return &x->r[i];
}

static void rec_fix(struct recs *x, bool tombstone)
{
    size_t i = x->n - 1;
    x->r[i].key = x->k[i].data;
    x->r[i].klen = x->k[i].len;
    x->r[i].val = tombstone ? NULL : x->v[i].data;
    x->r[i].vlen = tombstone ? 0 : x->v[i].len;
}

static void add_incident(struct recs *x, const char *id, uint64_t count)
{
    rec_new(x);
    size_t i = x->n - 1;
    struct store_incident si = st_incident(id, "agency-a", T1);
    si.count = count;
    ck_assert_int_eq(ts_buf_puts(&x->k[i], id), 0);
    ck_assert_int_eq(rt_inc_encode(&x->v[i], "n0", &si), 0);
    rec_fix(x, false);
}

static void add_status(struct recs *x, const char *node, const char *id, enum store_status to,
                       const char *by, const char *comment, int64_t at)
{
    rec_new(x);
    size_t i = x->n - 1;
    struct rt_inc_status c = {.id = id, .to = to, .by = by, .comment = comment, .at_ns = at};
    ck_assert_int_eq(rt_inc_status_key(&x->k[i], id, at), 0);
    ck_assert_int_eq(rt_inc_encode_status(&x->v[i], node, &c), 0);
    rec_fix(x, false);
}

static void add_tombstone(struct recs *x, const char *key)
{
    rec_new(x);
    ck_assert_int_eq(ts_buf_puts(&x->k[x->n - 1], key), 0);
    rec_fix(x, true);
}

static struct store *open_in(char *dir)
{
    snprintf(dir, 64, "/tmp/tocsin-incst-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct store_opts o = {.path = dir, .map_size = 8u << 20};
    struct store *s = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(store_open(&s, &o, &err), 0);
    return s;
}

static void close_rm(struct store *s, const char *dir)
{
    store_close(s);
    st_rmdir_at(dir);
}

/* A line per field that must agree between nodes. */
static void describe(struct store *s, const char *id, char *out, size_t cap)
{
    struct ts_arena *a = st_arena();
    struct store_txn *t = st_rbegin(s);
    struct store_incident in;
    int rc = store_incident_get(t, id, a, &in);
    if (rc) {
        snprintf(out, cap, "absent (%d)", rc);
    } else {
        int n = snprintf(out, cap, "%s count=%llu rev=%llu by=%s at=%lld;",
                         store_status_name(in.status), (unsigned long long)in.count,
                         (unsigned long long)in.revision, in.status_by, (long long)in.status_ns);
        for (uint32_t i = 0; i < in.nhistory && n > 0 && (size_t)n < cap; i++)
            n += snprintf(out + n, cap - (size_t)n, " %s->%s by %s at %lld: %s;",
                          store_status_name(in.history[i].from),
                          store_status_name(in.history[i].status), in.history[i].by,
                          (long long)in.history[i].at_ns, in.history[i].comment);
    }
    store_txn_abort(t);
    ts_arena_destroy(a);
}

START_TEST(test_status_record_round_trips_and_a_damaged_one_is_refused)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    struct rt_inc_status c = {.id = "inc-1", .to = STORE_STATUS_RESOLVED, .by = "binh",
                              .comment = "false positive: the scanner", .at_ns = -T1};
    ck_assert_int_eq(rt_inc_encode_status(&b, "n1", &c), 0);
    struct rt_inc_status d;
    ck_assert_int_eq(rt_inc_decode_status(b.data, b.len, &d), 0);
    ck_assert_str_eq(d.id, "inc-1");
    ck_assert_int_eq(d.to, STORE_STATUS_RESOLVED);
    ck_assert_str_eq(d.by, "binh");
    ck_assert_str_eq(d.comment, "false positive: the scanner");
    ck_assert_int_eq(d.at_ns, -T1);
    for (size_t n = 0; n < b.len; n++)
        ck_assert_int_eq(rt_inc_decode_status(b.data, n, &d), TS_E_PARSE);
    /* NEW is no change an analyst makes */
    ts_buf_reset(&b);
    c.to = STORE_STATUS_NEW;
    ck_assert_int_eq(rt_inc_encode_status(&b, "n1", &c), 0);
    ck_assert_int_eq(rt_inc_decode_status(b.data, b.len, &d), TS_E_PARSE);
    /* an incident record is not a status change */
    ts_buf_reset(&b);
    struct store_incident si = st_incident("inc-1", "t", T1);
    ck_assert_int_eq(rt_inc_encode(&b, "n1", &si), 0);
    ck_assert_int_eq(rt_inc_decode_status(b.data, b.len, &d), TS_E_PARSE);
    ts_buf_reset(&b);
    ck_assert_int_eq(rt_inc_status_key(&b, "inc-1", 42), 0);
    ck_assert_str_eq(b.data, "inc-1/status:42");
    ts_buf_free(&b);
}
END_TEST

START_TEST(test_every_store_applies_the_topic_order_however_batched)
{
    struct recs x = {.next = 100};
    add_incident(&x, "inc-1", 5);
    /* node 0 acknowledges, node 1 resolves with a note, node 2 acknowledges
     * at the same time as node 1 (it still saw it acknowledged): its change
     * comes after the resolve in the partition and is refused everywhere */
    add_status(&x, "n0", "inc-1", STORE_STATUS_ACKNOWLEDGED, "alice", NULL, T1 + 10);
    add_status(&x, "n1", "inc-1", STORE_STATUS_RESOLVED, "bob", "scanner, known", T1 + 20);
    add_status(&x, "n2", "inc-1", STORE_STATUS_ACKNOWLEDGED, "carol", "", T1 + 21);
    /* correlation updates the incident afterwards: the status stays */
    add_incident(&x, "inc-1", 9);
    char da[64], db[64];
    struct store *a = open_in(da), *b = open_in(db);
    struct rt_incmat_stats sa, sb, one;
    ck_assert_int_eq(rt_inc_apply(a, TOPIC, x.r, x.n, &sa), 0);
    memset(&sb, 0, sizeof(sb));
    for (size_t i = 0; i < x.n; i++) { /* one record per transaction */
        ck_assert_int_eq(rt_inc_apply(b, TOPIC, &x.r[i], 1, &one), 0);
        sb.status_applied += one.status_applied;
        sb.status_refused += one.status_refused;
    }
    ck_assert_uint_eq(sa.status_applied, 2);
    ck_assert_uint_eq(sa.status_refused, 1);
    ck_assert_uint_eq(sb.status_applied, 2);
    ck_assert_uint_eq(sb.status_refused, 1);
    char wa[2048], wb[2048];
    describe(a, "inc-1", wa, sizeof(wa));
    describe(b, "inc-1", wb, sizeof(wb));
    ck_assert_str_eq(wa, wb);
    char want[512];
    snprintf(want, sizeof(want),
             "resolved count=9 rev=4 by=bob at=%lld; new->acknowledged by alice at %lld: ; "
             "acknowledged->resolved by bob at %lld: scanner, known;",
             T1 + 20, T1 + 10, T1 + 20);
    ck_assert_str_eq(wa, want);
    /* the offsets read are stored with what they wrote */
    int64_t off = 0;
    ck_assert_int_eq(store_offset_get(a, TOPIC, 0, &off), 0);
    ck_assert_int_eq(off, 105);
    close_rm(a, da);
    close_rm(b, db);
    recs_free(&x);
}
END_TEST

START_TEST(test_change_before_its_incident_waits_for_it)
{
    /* compaction kept the incident's later record (offset 3) and dropped
     * the first: the changes (offsets 1, 2) come before it on a new node */
    struct recs x = {.next = 1};
    add_status(&x, "n0", "inc-2", STORE_STATUS_ACKNOWLEDGED, "alice", NULL, T1);
    add_status(&x, "n1", "inc-2", STORE_STATUS_RESOLVED, "bob", "dup", T1 + 1);
    char d[64], d2[64];
    struct store *s = open_in(d);
    struct rt_incmat_stats st;
    ck_assert_int_eq(rt_inc_apply(s, TOPIC, x.r, x.n, &st), 0);
    ck_assert_uint_eq(st.status_waiting, 2);
    ck_assert_uint_eq(st.status_applied, 0);
    char w[512];
    describe(s, "inc-2", w, sizeof(w));
    ck_assert_str_eq(w, "absent (-6)");
    recs_free(&x);
    add_incident(&x, "inc-2", 5); /* in a later poll */
    ck_assert_int_eq(rt_inc_apply(s, TOPIC, x.r, x.n, &st), 0);
    ck_assert_uint_eq(st.status_applied, 2);
    describe(s, "inc-2", w, sizeof(w));
    /* the same as a node that read the incident first */
    struct recs y = {.next = 0};
    add_incident(&y, "inc-2", 5);
    add_status(&y, "n0", "inc-2", STORE_STATUS_ACKNOWLEDGED, "alice", NULL, T1);
    add_status(&y, "n1", "inc-2", STORE_STATUS_RESOLVED, "bob", "dup", T1 + 1);
    struct store *s2 = open_in(d2);
    ck_assert_int_eq(rt_inc_apply(s2, TOPIC, y.r, y.n, &st), 0);
    char w2[512];
    describe(s2, "inc-2", w2, sizeof(w2));
    ck_assert_str_eq(w, w2);
    ck_assert_msg(strstr(w, "resolved count=5 rev=3 by=bob") == w, "%s", w);
    /* nothing waits any more: a later put applies nothing twice */
    recs_free(&x);
    add_incident(&x, "inc-2", 6);
    ck_assert_int_eq(rt_inc_apply(s, TOPIC, x.r, x.n, &st), 0);
    ck_assert_uint_eq(st.status_applied, 0);
    close_rm(s, d);
    close_rm(s2, d2);
    recs_free(&x);
    recs_free(&y);
}
END_TEST

START_TEST(test_tombstone_removes_the_incident_and_what_waits_for_it)
{
    struct recs x = {.next = 0};
    add_incident(&x, "inc-3", 5);
    add_status(&x, "n0", "inc-3", STORE_STATUS_RESOLVED, "bob", "done", T1);
    add_tombstone(&x, "inc-3/status:1795000000000000000"); /* retention's: ignored */
    char d[64];
    struct store *s = open_in(d);
    struct rt_incmat_stats st;
    ck_assert_int_eq(rt_inc_apply(s, TOPIC, x.r, x.n, &st), 0);
    char w[512];
    describe(s, "inc-3", w, sizeof(w));
    ck_assert_str_eq(w, "resolved count=5 rev=2 by=bob at=1795000000000000000; "
                        "new->resolved by bob at 1795000000000000000: done;");
    recs_free(&x);
    add_tombstone(&x, "inc-3");
    /* a change published while retention removed it waits ... */
    add_status(&x, "n1", "inc-3", STORE_STATUS_ACKNOWLEDGED, "carol", NULL, T1 + 5);
    ck_assert_int_eq(rt_inc_apply(s, TOPIC, x.r, x.n, &st), 0);
    ck_assert_uint_eq(st.deleted, 1);
    ck_assert_uint_eq(st.status_waiting, 1);
    describe(s, "inc-3", w, sizeof(w));
    ck_assert_str_eq(w, "absent (-6)");
    /* ... and its tombstone drops it: the id made again starts new */
    recs_free(&x);
    add_tombstone(&x, "inc-3/status:1795000000000000005");
    add_tombstone(&x, "inc-3");
    add_incident(&x, "inc-3", 1);
    ck_assert_int_eq(rt_inc_apply(s, TOPIC, x.r, x.n, &st), 0);
    ck_assert_uint_eq(st.status_applied, 0);
    describe(s, "inc-3", w, sizeof(w));
    ck_assert_msg(strstr(w, "new count=1 rev=1 by=") == w && !strchr(w, '>'), "%s", w);
    close_rm(s, d);
    recs_free(&x);
}
END_TEST

static void add_evidence(struct recs *x, const char *id, int64_t off)
{
    rec_new(x);
    size_t i = x->n - 1;
    struct store_evidence e = {.source = "logs.sshd", .partition = 3, .offset = off,
                               .event_ns = T1, .raw = "Failed password", .raw_len = 15};
    ck_assert_int_eq(rt_inc_evidence_key(&x->k[i], id, e.source, e.partition, e.offset), 0);
    ck_assert_int_eq(rt_inc_encode_ev(&x->v[i], "n0", id, &e), 0);
    rec_fix(x, false);
}

#define NPARTS 6
static const char *not_owned; /* the id whose partition this node does not own */

static bool owns(void *ctx, int32_t p)
{
    (void)ctx;
    return p != ingest_kafka_partition_of(not_owned, strlen(not_owned), NPARTS);
}

/* The tombstones retention would publish, kept to check and to apply. */
static struct recs published;

static int capture(void *ctx, struct ingest_record *r, size_t n, struct ts_err *err)
{
    (void)ctx;
    (void)err;
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_null(r[i].val);
        struct ingest_record *o = rec_new(&published);
        o->partition = r[i].partition;
        ck_assert_int_eq(ts_buf_append(&published.k[published.n - 1], r[i].key, r[i].klen), 0);
        ck_assert_int_eq(ts_buf_putc(&published.k[published.n - 1], '\0'), 0);
        rec_fix(&published, true);
        published.r[published.n - 1].klen = r[i].klen;
    }
    return 0;
}

START_TEST(test_retention_removes_through_tombstones_of_every_key)
{
    const char *A = "inc-a";
    int32_t pa = ingest_kafka_partition_of(A, strlen(A), NPARTS);
    static char d_id[24];
    for (int i = 0; i < 10; i++) { /* D: another partition, not this node's */
        snprintf(d_id, sizeof(d_id), "inc-d%d", i);
        if (ingest_kafka_partition_of(d_id, strlen(d_id), NPARTS) != pa)
            break;
    }
    not_owned = d_id;
    struct recs x = {.next = 0};
    /* A: resolved long ago, with evidence and two changes: removed */
    add_incident(&x, A, 2);
    add_evidence(&x, A, 70);
    add_evidence(&x, A, 71);
    add_status(&x, "n0", A, STORE_STATUS_ACKNOWLEDGED, "alice", NULL, T1);
    add_status(&x, "n1", A, STORE_STATUS_RESOLVED, "bob", NULL, T1 + 1);
    /* B resolved lately, C open, D resolved long ago on another's partition */
    add_incident(&x, "inc-b", 1);
    add_status(&x, "n0", "inc-b", STORE_STATUS_RESOLVED, "bob", NULL, T1 + 90 * TS_NS_PER_SEC);
    add_incident(&x, "inc-c", 1);
    add_status(&x, "n0", "inc-c", STORE_STATUS_ACKNOWLEDGED, "bob", NULL, T1);
    add_incident(&x, d_id, 1);
    add_status(&x, "n0", d_id, STORE_STATUS_RESOLVED, "bob", NULL, T1);
    char d[64];
    struct store *s = open_in(d);
    ck_assert_int_eq(rt_inc_apply(s, TOPIC, x.r, x.n, NULL), 0);
    struct store_retention_rule rules[] = {{NULL, 0, 60 * TS_NS_PER_SEC},
                                           {"other", 0, 1}};
    struct rt_inc_retention_opts o = {.rules = rules, .nrules = 2,
                                      .now_ns = T1 + 100 * TS_NS_PER_SEC, .topic = TOPIC,
                                      .nparts = NPARTS, .owns = owns, .produce = capture};
    uint64_t removed = 0;
    struct ts_err err = {0};
    ck_assert_int_eq(rt_inc_retention(s, &o, &removed, &err), 0);
    ck_assert_uint_eq(removed, 1);
    /* every key A has in the topic, on A's partition, the incident last */
    ck_assert_uint_eq(published.n, 5);
    const char *want[] = {"inc-a/logs.sshd:3:70", "inc-a/logs.sshd:3:71",
                          "inc-a/status:1795000000000000000", "inc-a/status:1795000000000000001",
                          "inc-a"};
    for (size_t i = 0; i < published.n; i++) {
        ck_assert_str_eq(published.k[i].data, want[i]);
        ck_assert_str_eq(published.k[i].data, x.k[(i + 1) % 5].data); /* as published before */
        ck_assert_int_eq(published.r[i].partition, pa);
    }
    /* read back (as every node does): A goes, the others stay */
    for (size_t i = 0; i < published.n; i++)
        published.r[i].offset = 100 + (int64_t)i;
    struct rt_incmat_stats st;
    ck_assert_int_eq(rt_inc_apply(s, TOPIC, published.r, published.n, &st), 0);
    ck_assert_uint_eq(st.deleted, 1);
    char w[512];
    describe(s, A, w, sizeof(w));
    ck_assert_str_eq(w, "absent (-6)");
    const char *stay[] = {"inc-b", "inc-c", d_id};
    for (size_t i = 0; i < 3; i++) {
        describe(s, stay[i], w, sizeof(w));
        ck_assert_msg(strncmp(w, "absent", 6) != 0, "%s: %s", stay[i], w);
    }
    /* nothing left to remove */
    recs_free(&published);
    ck_assert_int_eq(rt_inc_retention(s, &o, &removed, &err), 0);
    ck_assert_uint_eq(removed, 0);
    ck_assert_uint_eq(published.n, 0);
    close_rm(s, d);
    recs_free(&x);
}
END_TEST

START_TEST(test_store_names_are_kept_apart_and_checked)
{
    st_mkdir();
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    ck_assert_int_eq(store_name_put(t, "incidents_topic", "6\ng.incidents\n/x.yml", 20), 0);
    ck_assert_int_eq(store_name_put(t, "Bad-Name", "v", 1), TS_E_INVAL);
    ck_assert_int_eq(store_name_put(t, "", "v", 1), TS_E_INVAL);
    char big[STORE_NAME_VAL_MAX + 1];
    memset(big, 'a', sizeof(big));
    ck_assert_int_eq(store_name_put(t, "big", big, sizeof(big)), TS_E_INVAL);
    /* "schema" as a name is not the store's schema record */
    ck_assert_int_eq(store_name_put(t, "schema", "x", 1), 0);
    st_commit(t);
    store_close(s);
    s = st_open(); /* the schema record is intact: the store opens */
    struct rt_inc_replica rep;
    ck_assert_int_eq(rt_inc_replica_get(s, &rep), 0);
    ck_assert_str_eq(rep.topic, "g.incidents");
    ck_assert_str_eq(rep.config_path, "/x.yml");
    ck_assert_int_eq(rep.nparts, 6);
    rt_inc_replica_free(&rep);
    t = st_rbegin(s);
    const void *v;
    size_t n;
    ck_assert_int_eq(store_name_get(t, "nothing", &v, &n), TS_E_NOTFOUND);
    store_txn_abort(t);
    store_close(s);
    st_rmdir();
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("inc_status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_status_record_round_trips_and_a_damaged_one_is_refused);
    tcase_add_test(tc, test_every_store_applies_the_topic_order_however_batched);
    tcase_add_test(tc, test_change_before_its_incident_waits_for_it);
    tcase_add_test(tc, test_tombstone_removes_the_incident_and_what_waits_for_it);
    tcase_add_test(tc, test_retention_removes_through_tombstones_of_every_key);
    tcase_add_test(tc, test_store_names_are_kept_apart_and_checked);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
