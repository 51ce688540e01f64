/* check_hunt.c - hunting's pieces that need no broker: the event-time
 * window of a batch (hunt and replay --from/--to), the hunt record and its
 * ids, and the range source's refusals before it asks a broker. The range
 * read itself is tested against a real broker (tests/integration/
 * test_hunt.py). */
#include <ftw.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "../../core/tstime.h"
#include "../../ingest/batch_int.h"
#include "../../ingest/ingest.h"
#include "../../runtime/runtime.h"

static struct ingest_batch *batch_of(const int64_t *times, const char *const *tenants, size_t n)
{
    struct ingest_batch *b;
    ck_assert_int_eq(ingest_batch_create(&b, 64, 1024), 0);
    for (size_t i = 0; i < n; i++) {
        char raw[32];
        snprintf(raw, sizeof(raw), "line %zu", i);
        struct ts_event *ev = ingest_batch_slot(b, raw, strlen(raw));
        ck_assert_ptr_nonnull(ev);
        ev->time_ns = times[i];
        ev->tenant = tenants ? tenants[i] : "";
        ev->src.line = i + 1;
        ingest_batch_keep(b);
        b->consumed++;
    }
    return b;
}

START_TEST(test_window_keeps_from_and_drops_to_in_order)
{
    const int64_t s = TS_NS_PER_SEC;
    const int64_t t[] = {99 * s, 100 * s, 150 * s, 200 * s - 1, 200 * s, 300 * s, 120 * s};
    struct ingest_batch *b = batch_of(t, NULL, 7);
    uint32_t other = 99;
    uint32_t removed = ingest_batch_window(b, 100 * s, 200 * s, NULL, &other);
    ck_assert_uint_eq(removed, 3); /* 99 s, 200 s (to is excluded), 300 s */
    ck_assert_uint_eq(other, 0);
    ck_assert_uint_eq(b->n, 4);
    const uint64_t lines[] = {2, 3, 4, 7}; /* source order kept */
    for (uint32_t i = 0; i < b->n; i++)
        ck_assert_uint_eq(b->events[i].src.line, lines[i]);
    ck_assert_uint_eq(b->consumed, 7); /* read is read: positions still advance */
    ingest_batch_destroy(b);
}
END_TEST

START_TEST(test_window_tenant_filter_counts_other_tenants)
{
    const int64_t s = TS_NS_PER_SEC;
    const int64_t t[] = {10 * s, 11 * s, 12 * s, 50 * s};
    const char *const tn[] = {"agency-a", "agency-b", "agency-a", "agency-a"};
    struct ingest_batch *b = batch_of(t, tn, 4);
    uint32_t other = 0;
    uint32_t removed = ingest_batch_window(b, 0, 20 * s, "agency-a", &other);
    ck_assert_uint_eq(removed, 2); /* agency-b, and agency-a at 50 s */
    ck_assert_uint_eq(other, 1);
    ck_assert_uint_eq(b->n, 2);
    ck_assert_str_eq(b->events[0].tenant, "agency-a");
    ck_assert_int_eq(b->events[1].time_ns, 12 * s);
    ingest_batch_destroy(b);
}
END_TEST

START_TEST(test_hunt_id_names_a_directory_only)
{
    ck_assert(rt_hunt_id_ok("h-20261207T101500Z-0a1f"));
    ck_assert(!rt_hunt_id_ok(""));
    ck_assert(!rt_hunt_id_ok("../live"));
    ck_assert(!rt_hunt_id_ok("a/b"));
    ck_assert(!rt_hunt_id_ok("h.1"));
    char longid[80];
    memset(longid, 'a', 65);
    longid[65] = '\0';
    ck_assert(!rt_hunt_id_ok(longid));
}
END_TEST

static char tmpdir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Each test's directory goes when the test ends (a run used to leave one
 * /tmp/check_hunt.* per test behind). */
static void teardown(void)
{
    if (tmpdir[0] && strncmp(tmpdir, "/tmp/check_hunt.", 16) == 0)
        nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = 0;
}

static void write_record(const char *id, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/hunts", tmpdir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/hunts/%s", tmpdir, id);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/hunts/%s/hunt.json", tmpdir, id);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_record_load_reads_the_parameters)
{
    strcpy(tmpdir, "/tmp/check_hunt.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    write_record("h-1", "{\"id\":\"h-1\",\"status\":\"stopped\",\"config\":\"etc/tocsin.yml\","
                        "\"rules\":[\"a.yml\",\"dir\"],\"from\":\"2026-11-20T10:00:00Z\","
                        "\"to\":\"2026-11-20T12:00:00Z\",\"margin_seconds\":900,"
                        "\"tenant\":\"agency-a\"}");
    struct rt_hunt_record rec;
    struct ts_err err = {0};
    ck_assert_int_eq(rt_hunt_record_load(tmpdir, "h-1", &rec, &err), 0);
    ck_assert_str_eq(rec.status, "stopped");
    ck_assert_uint_eq(rec.nrules, 2);
    ck_assert_str_eq(rec.rules[1], "dir");
    ck_assert_ptr_null(rec.topics);
    ck_assert_str_eq(rec.tenant, "agency-a");
    ck_assert_int_eq(rec.to_ns - rec.from_ns, 7200 * TS_NS_PER_SEC);
    ck_assert_int_eq(rec.margin_ns, 900 * TS_NS_PER_SEC);
    rt_hunt_record_free(&rec);
}
END_TEST

START_TEST(test_record_load_errors_name_the_file)
{
    strcpy(tmpdir, "/tmp/check_hunt.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    struct rt_hunt_record rec;
    struct ts_err err = {0};
    char msg[1024];
    ck_assert_int_eq(rt_hunt_record_load(tmpdir, "h-none", &rec, &err), TS_E_NOTFOUND);
    ts_err_format(&err, msg, sizeof(msg));
    ck_assert_ptr_nonnull(strstr(msg, "h-none/hunt.json"));
    ck_assert_ptr_nonnull(strstr(msg, "tocsin hunts --db"));
    write_record("h-bad", "{\"id\":\"h-bad\",\"status\":\"running\",\n\"config\":3}");
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(rt_hunt_record_load(tmpdir, "h-bad", &rec, &err), TS_E_PARSE);
    ts_err_format(&err, msg, sizeof(msg));
    ck_assert_ptr_nonnull(strstr(msg, "h-bad/hunt.json:"));
    ck_assert_ptr_nonnull(strstr(msg, "not a hunt record"));
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(rt_hunt_record_load(tmpdir, "../x", &rec, &err), TS_E_INVAL);
}
END_TEST

START_TEST(test_range_refuses_a_bad_topic_filter_and_range_before_any_broker)
{
    struct ingest_topic t = {.name = "logs", .tenant = "a"};
    struct ingest_kafka_range_opts o = {
        .brokers = "127.0.0.1:1", .topics = &t, .ntopics = 1, .topic_filter = "logs-(",
        .from_ns = 1, .to_ns = 2, .timeout_ms = 200};
    struct ingest_range_stats st;
    struct ts_err err = {0};
    char msg[512];
    ck_assert_int_eq(ingest_kafka_range_run(&o, &st, &err), TS_E_CONFIG);
    ts_err_format(&err, msg, sizeof(msg));
    ck_assert_ptr_nonnull(strstr(msg, "--topics \"logs-(\""));
    o.topic_filter = NULL;
    o.to_ns = 1; /* empty range */
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(ingest_kafka_range_run(&o, &st, &err), TS_E_INVAL);
}
END_TEST

static void write_file(const char *name, const char *text)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static const char ROOT_RULE[] =
    "title: Root Login\nid: 7d0c1a52-8d0e-4e55-9a51-3f6f2b1f6a14\nstatus: experimental\n"
    "logsource:\n    product: linux\n    service: sshd\n"
    "detection:\n    selection:\n        username: root\n    condition: selection\n"
    "level: critical\n";

#define SSHD(t, host, user) \
    "<38>1 2026-11-20T" t "Z " host " sshd 4242 - - Accepted password for " user \
    " from 203.0.113.66 port 50022 ssh2\n"

/* Issue 14 item 2: a hunt over archived files is kept in DIR/hunts/ID like
 * a Kafka hunt (hunt.json naming the files, detections.jsonl, its store),
 * only the events of [from, to) are matched, and it cannot be resumed. */
START_TEST(test_files_hunt_is_recorded_in_its_window)
{
    strcpy(tmpdir, "/tmp/check_hunt.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    write_file("root.yml", ROOT_RULE);
    write_file("a.log", SSHD("09:59:59", "web-03", "root") SSHD("10:20:00", "web-03", "root")
                            SSHD("10:40:00", "web-03", "alice"));
    write_file("b.log", SSHD("11:20:00", "web-04", "root") SSHD("12:00:00", "web-03", "root"));
    char rule[600], fa[600], fb[600];
    snprintf(rule, sizeof(rule), "%s/root.yml", tmpdir);
    snprintf(fa, sizeof(fa), "%s/a.log", tmpdir);
    snprintf(fb, sizeof(fb), "%s/b.log", tmpdir);
    const char *rules[] = {rule};
    const char *files[] = {fa, fb};
    struct rt_hunt_opts o = {.rules = rules, .nrules = 1, .files = files, .nfiles = 2,
                             .format = "rfc5424", .tenant = "agency-x", .db = tmpdir,
                             .quiet = true};
    struct ts_err err = {0};
    ck_assert_int_eq(ts_parse_iso8601("2026-11-20T10:00:00Z", 20, 0, &o.from_ns, &(size_t){0}),
                     0);
    ck_assert_int_eq(ts_parse_iso8601("2026-11-20T12:00:00Z", 20, 0, &o.to_ns, &(size_t){0}), 0);
    struct rt_hunt_result res;
    ck_assert_int_eq(rt_hunt_run(&o, &res, &err), 0);
    ck_assert_uint_eq(res.st.in.consumed, 5);
    ck_assert_uint_eq(res.st.progress.events, 3);
    ck_assert_uint_eq(res.st.out_of_window, 2); /* 09:59:59 and 12:00:00 (to excluded) */
    ck_assert_uint_eq(res.detections, 2);       /* 10:20 and 11:20, not the ones outside */
    struct rt_hunt_record rec;
    ck_assert_int_eq(rt_hunt_record_load(tmpdir, res.id, &rec, &err), 0);
    ck_assert_str_eq(rec.status, "done");
    ck_assert(rec.files);
    ck_assert_ptr_null(rec.config);
    ck_assert_str_eq(rec.tenant, "agency-x");
    json_t *c = json_object_get(rec.json, "counts");
    ck_assert_int_eq(json_integer_value(json_object_get(c, "detections")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "read")), 5);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(rec.json, "files"), 1)),
                     fb);
    rt_hunt_record_free(&rec);
    char path[700];
    snprintf(path, sizeof(path), "%s/hunts/%s/detections.jsonl", tmpdir, res.id);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        ck_assert(strstr(line, "\"2026-11-20T10:20:00Z\"") ||
                  strstr(line, "\"2026-11-20T11:20:00Z\""));
        n++;
    }
    fclose(f);
    ck_assert_int_eq(n, 2);
    /* not resumable: said, not attempted */
    o.resume = res.id;
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(rt_hunt_run(&o, &res, &err), TS_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "not resumable"));
    o.resume = NULL;
    o.format = "no-such-format";
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(rt_hunt_run(&o, &res, &err), TS_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "--format"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("hunt");
    TCase *tc = tcase_create("hunt");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_window_keeps_from_and_drops_to_in_order);
    tcase_add_test(tc, test_window_tenant_filter_counts_other_tenants);
    tcase_add_test(tc, test_hunt_id_names_a_directory_only);
    tcase_add_test(tc, test_record_load_reads_the_parameters);
    tcase_add_test(tc, test_record_load_errors_name_the_file);
    tcase_add_test(tc, test_range_refuses_a_bad_topic_filter_and_range_before_any_broker);
    tcase_add_test(tc, test_files_hunt_is_recorded_in_its_window);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
