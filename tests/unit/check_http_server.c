/* check_http_server.c - the server end to end on 127.0.0.1 (a free port)
 * over a store in a temp directory, with libcurl as the client: the
 * runtime's hooks are called with what they need and their answers are
 * served (metrics appended after the store-side series, readiness 503
 * with the reason, rules list/reload/test), NULL hooks answer 404, an
 * incident with tenant "" is visible only to a "*" token, a tokens
 * reload takes effect, and options are checked. */
#include <sys/stat.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "check_store_util.h"
#include "../../core/tstime.h"
#include "../../http/http_int.h"

struct resp {
    long status;
    struct ts_buf body;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    struct resp *r = ctx;
    return ts_buf_append(&r->body, p, size * n) == 0 ? size * n : 0;
}

/* method "GET"/"POST"; token may be NULL; body may be NULL. */
static void call(uint16_t port, const char *method, const char *path, const char *token,
                 const char *body, struct resp *out)
{
    char url[512], auth[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    ts_buf_init(&out->body, 8u << 20);
    out->status = 0;
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    struct curl_slist *h = NULL;
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    }
    CURLcode rc = curl_easy_perform(c);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (!out->body.data)
        ts_buf_puts(&out->body, "");
}

static void resp_free(struct resp *r)
{
    ts_buf_free(&r->body);
}

/* --------------------------------------------------------------- hooks */

struct hook_log {
    int metrics, ready, rules, reload, test;
    char by[64], rule[64], events[64], format[16], tenant[32];
    int ready_answer;
};

static int hk_metrics(void *ctx, struct ts_buf *out)
{
    struct hook_log *l = ctx;
    l->metrics++;
    struct http_label lab = {"topic", "logs.syslog"};
    int rc = http_metric_family(out, "tocsin_events_consumed_total", "counter", "Events");
    return rc ? rc : http_metric_u64(out, "tocsin_events_consumed_total", &lab, 1, 42);
}

static int hk_ready(void *ctx, char *reason, size_t cap)
{
    struct hook_log *l = ctx;
    l->ready++;
    if (!l->ready_answer)
        return 0;
    snprintf(reason, cap, "no partition assigned");
    return 1;
}

static int hk_rules(void *ctx, struct ts_buf *out)
{
    struct hook_log *l = ctx;
    l->rules++;
    return ts_buf_puts(out, "{\"rules\":[{\"id\":\"r1\",\"hits\":3}]}\n");
}

static int hk_reload(void *ctx, const char *by, struct ts_buf *out)
{
    struct hook_log *l = ctx;
    l->reload++;
    snprintf(l->by, sizeof(l->by), "%s", by);
    ts_buf_puts(out, "{\"error\":\"rule x: does not load\"}\n");
    return 422;
}

static int hk_test(void *ctx, const struct http_rule_test *q, struct ts_buf *out)
{
    struct hook_log *l = ctx;
    l->test++;
    snprintf(l->by, sizeof(l->by), "%s", q->by);
    snprintf(l->rule, sizeof(l->rule), "%.*s", (int)q->rule_len, q->rule);
    snprintf(l->events, sizeof(l->events), "%.*s", (int)q->events_len, q->events);
    snprintf(l->format, sizeof(l->format), "%s", q->format);
    snprintf(l->tenant, sizeof(l->tenant), "%s", q->tenant ? q->tenant : "-");
    ts_buf_puts(out, "{\"detections\":[]}\n");
    return 200;
}

/* --------------------------------------------------------------- set-up */

static char tok_path[128];

static void write_tokens(const char *extra)
{
    char a[65], l[65];
    http_token_sha256_hex("tok-a", 5, a);
    http_token_sha256_hex("tok-lead", 8, l);
    snprintf(tok_path, sizeof(tok_path), "%s/tokens.yml", st_dir);
    FILE *f = fopen(tok_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "tokens:\n  - {name: analyst-a, sha256: %s, role: analyst, tenants: [agency-a]}\n"
               "  - {name: soc-lead, sha256: %s, role: admin, tenants: [\"*\"]}\n%s",
            a, l, extra);
    fclose(f);
    ck_assert_int_eq(chmod(tok_path, 0600), 0); /* a world-readable one is refused */
}

static void put_incident(struct store *s, const char *id, const char *tenant)
{
    struct store_txn *t = st_begin(s);
    struct store_incident in = {0};
    in.id = id;
    in.rule_id = "r1";
    in.rule_title = "Rule one";
    in.tenant = tenant;
    in.group_key = "src_ip=10.0.0.1";
    in.first_seen_ns = in.last_seen_ns = 1700000000LL * TS_NS_PER_SEC;
    in.count = 5;
    in.severity = 3;
    ck_assert_int_eq(store_incident_put(t, &in, NULL), 0);
    ck_assert_int_eq(store_txn_commit(t, NULL), 0);
}

static struct http_server *start(struct store *s, struct hook_log *log, bool hooks)
{
    struct http_opts o = {0};
    o.listen = "127.0.0.1:0";
    o.tokens = tok_path;
    o.store = s;
    o.version = "test";
    o.threads = 2;
    o.rate = -1;
    o.metrics_cache_ns = -1;
    if (hooks) {
        o.hooks.ctx = log;
        o.hooks.metrics = hk_metrics;
        o.hooks.ready = hk_ready;
        o.hooks.rules_list = hk_rules;
        o.hooks.rules_reload = hk_reload;
        o.hooks.rule_test = hk_test;
    }
    struct http_server *srv = NULL;
    struct ts_err err = {0};
    int rc = http_server_create(&srv, &o, &err);
    ck_assert_msg(rc == 0, "create: %s", err.msg);
    ck_assert_uint_ne(http_server_port(srv), 0);
    return srv;
}

START_TEST(test_hooks_are_called_and_served)
{
    st_mkdir();
    write_tokens("");
    struct store *s = st_open();
    put_incident(s, "inc-a", "agency-a");
    struct hook_log log = {0};
    struct http_server *srv = start(s, &log, true);
    uint16_t port = http_server_port(srv);
    struct resp r;

    call(port, "GET", "/metrics", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(log.metrics, 1);
    char *own = strstr(r.body.data, "tocsin_incidents{tenant=\"agency-a\",status=\"new\","
                                    "severity=\"high\"} 1\n");
    char *hook = strstr(r.body.data, "tocsin_events_consumed_total{topic=\"logs.syslog\"} 42\n");
    ck_assert_msg(own && hook && own < hook, "%s", r.body.data);
    ck_assert_ptr_nonnull(strstr(r.body.data, "tocsin_build_info{version=\"test\"} 1\n"));
    resp_free(&r);

    call(port, "GET", "/readyz", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    log.ready_answer = 1;
    call(port, "GET", "/readyz", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.body.data, "not ready: no partition assigned\n");
    resp_free(&r);

    call(port, "GET", "/api/v1/rules", "tok-a", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.data, "{\"rules\":[{\"id\":\"r1\",\"hits\":3}]}\n");
    resp_free(&r);

    call(port, "POST", "/api/v1/rules/reload", "tok-a", NULL, &r);
    ck_assert_int_eq(r.status, 403); /* admin only */
    ck_assert_int_eq(log.reload, 0);
    resp_free(&r);
    call(port, "POST", "/api/v1/rules/reload", "tok-lead", NULL, &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(log.by, "soc-lead");
    ck_assert_ptr_nonnull(strstr(r.body.data, "does not load"));
    resp_free(&r);

    call(port, "POST", "/api/v1/rules/test", "tok-a",
         "{\"rule\":\"title: t\\n\",\"events\":\"line 1\\nline 2\",\"tenant\":\"agency-a\"}", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.data, "{\"detections\":[]}\n");
    ck_assert_str_eq(log.rule, "title: t\n");
    ck_assert_str_eq(log.events, "line 1\nline 2");
    ck_assert_str_eq(log.format, "auto");
    ck_assert_str_eq(log.tenant, "agency-a");
    ck_assert_str_eq(log.by, "analyst-a");
    resp_free(&r);
    call(port, "POST", "/api/v1/rules/test", "tok-a", "{\"rule\":\"x\"}", &r);
    ck_assert_int_eq(r.status, 400); /* events missing: the hook is not called */
    ck_assert_int_eq(log.test, 1);
    resp_free(&r);
    call(port, "POST", "/api/v1/rules/test", "tok-a", "{\"rule\":\"x\",\"events\":\"\",\"x\":1}",
         &r);
    ck_assert_int_eq(r.status, 400);
    resp_free(&r);

    http_server_destroy(srv);
    store_close(s);
    unlink(tok_path);
    st_rmdir();
}
END_TEST

START_TEST(test_null_hooks_answer_404_and_store_readiness)
{
    st_mkdir();
    write_tokens("");
    struct store *s = st_open();
    struct http_server *srv = start(s, NULL, false);
    uint16_t port = http_server_port(srv);
    struct resp r;
    call(port, "GET", "/api/v1/rules", "tok-a", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    resp_free(&r);
    call(port, "POST", "/api/v1/rules/reload", "tok-lead", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    resp_free(&r);
    call(port, "POST", "/api/v1/rules/test", "tok-a", "{\"rule\":\"x\",\"events\":\"y\"}", &r);
    ck_assert_int_eq(r.status, 404);
    resp_free(&r);
    call(port, "GET", "/readyz", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    call(port, "GET", "/metrics", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body.data, "# TYPE tocsin_incidents gauge\n"));
    resp_free(&r);
    http_server_destroy(srv);
    store_close(s);
    unlink(tok_path);
    st_rmdir();
}
END_TEST

START_TEST(test_tenantless_incident_needs_every_tenant)
{
    st_mkdir();
    write_tokens("");
    struct store *s = st_open();
    put_incident(s, "inc-none", "");
    put_incident(s, "inc-a", "agency-a");
    struct http_server *srv = start(s, NULL, false);
    uint16_t port = http_server_port(srv);
    struct resp r;
    call(port, "GET", "/api/v1/incidents/inc-none", "tok-a", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    resp_free(&r);
    call(port, "GET", "/api/v1/incidents/inc-none", "tok-lead", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    call(port, "GET", "/api/v1/incidents", "tok-a", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(strstr(r.body.data, "inc-none"));
    ck_assert_ptr_nonnull(strstr(r.body.data, "\"inc-a\""));
    resp_free(&r);
    call(port, "GET", "/api/v1/incidents?tenant=", "tok-lead", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body.data, "inc-none"));
    ck_assert_ptr_null(strstr(r.body.data, "\"inc-a\""));
    resp_free(&r);
    http_server_destroy(srv);
    store_close(s);
    unlink(tok_path);
    st_rmdir();
}
END_TEST

/* ---- the queue's order: pages over many incidents, every order */

#define NSORT 300
struct sorted {
    char id[16];
    int tenant; /* 0: agency-a, 1: agency-b */
    int64_t seen;
    int sev;
};
static struct sorted sorted_v[NSORT];
static int sort_kind; /* 0 oldest, 1 newest, 2 severity */

static int sorted_cmp(const void *pa, const void *pb)
{
    const struct sorted *a = pa, *b = pb;
    int c;
    if (sort_kind == 2 && a->sev != b->sev)
        return b->sev - a->sev;
    c = a->seen < b->seen ? -1 : a->seen > b->seen;
    if (!c)
        c = strcmp(a->id, b->id);
    return sort_kind == 0 ? c : -c;
}

/* Every page of the query (limit per page) in order, ids into got;
 * returns how many. */
static size_t all_pages(uint16_t port, const char *token, const char *query, int limit,
                        char got[][16], size_t cap, size_t *pages)
{
    size_t n = 0;
    char cursor[256] = "";
    *pages = 0;
    for (;;) {
        char path[512];
        snprintf(path, sizeof(path), "/api/v1/incidents?limit=%d%s%s%s", limit, query,
                 cursor[0] ? "&cursor=" : "", cursor);
        struct resp r;
        call(port, "GET", path, token, NULL, &r);
        ck_assert_msg(r.status == 200, "%s: %ld %s", path, r.status, r.body.data);
        json_error_t je;
        json_t *j = json_loads(r.body.data, 0, &je);
        ck_assert_ptr_nonnull(j);
        json_t *a = json_object_get(j, "incidents"), *it;
        size_t i;
        ck_assert_uint_le(json_array_size(a), (size_t)limit);
        json_array_foreach(a, i, it) {
            ck_assert_uint_lt(n, cap);
            snprintf(got[n++], 16, "%s", json_string_value(json_object_get(it, "id")));
        }
        (*pages)++;
        json_t *next = json_object_get(j, "next");
        if (json_is_null(next)) {
            json_decref(j);
            resp_free(&r);
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
        json_decref(j);
        resp_free(&r);
        ck_assert_uint_lt(*pages, 200);
    }
    return n;
}

START_TEST(test_sorted_pages_are_exact_for_every_order)
{
    st_mkdir();
    write_tokens("");
    struct store *s = st_open();
    struct store_txn *t = st_begin(s);
    for (int i = 0; i < NSORT; i++) {
        struct sorted *v = &sorted_v[i];
        snprintf(v->id, sizeof(v->id), "inc-%03d", (i * 37) % NSORT); /* ids not in time order */
        v->tenant = i % 3 == 0;
        v->seen = 1700000000LL * TS_NS_PER_SEC + (i % 41) * TS_NS_PER_SEC; /* many ties */
        v->sev = (i * 7) % 5;
        struct store_incident in = st_incident(v->id, v->tenant ? "agency-b" : "agency-a",
                                               v->seen);
        in.severity = (uint8_t)v->sev;
        ck_assert_int_eq(store_incident_put(t, &in, NULL), 0);
    }
    st_commit(t);
    struct http_server *srv = start(s, NULL, false);
    uint16_t port = http_server_port(srv);
    static char got[NSORT][16];
    static struct sorted want[NSORT];
    static const char *const queries[] = {"", "&sort=oldest", "&sort=newest", "&sort=severity",
                                          "&sort=severity&severity=high,critical,low",
                                          "&sort=newest&severity=medium"};
    static const int kinds[] = {0, 0, 1, 2, 2, 1};
    static const unsigned masks[] = {0, 0, 0, 0, 1u << 3 | 1u << 4 | 1u << 1, 1u << 2};
    for (int tk = 0; tk < 2; tk++) {
        const char *token = tk ? "tok-a" : "tok-lead"; /* tok-a: agency-a, its tenant index */
        for (size_t q = 0; q < TS_ARRAY_LEN(queries); q++) {
            size_t nw = 0;
            for (int i = 0; i < NSORT; i++)
                if ((!tk || sorted_v[i].tenant == 0) &&
                    (!masks[q] || (masks[q] & (1u << sorted_v[i].sev))))
                    want[nw++] = sorted_v[i];
            sort_kind = kinds[q];
            qsort(want, nw, sizeof(want[0]), sorted_cmp);
            /* 20: pages that end exactly where a severity ends (60 of each,
             * 40 of each for agency-a) */
            static const int limits[] = {7, 20};
            for (size_t li = 0; li < 2; li++) {
                size_t pages;
                size_t n = all_pages(port, token, queries[q], limits[li], got, NSORT, &pages);
                ck_assert_msg(n == nw, "%s %s limit %d: %zu incidents over %zu pages, want %zu",
                              token, queries[q], limits[li], n, pages, nw);
                for (size_t i = 0; i < n; i++)
                    ck_assert_msg(!strcmp(got[i], want[i].id), "%s %s: #%zu is %s, want %s",
                                  token, queries[q], i, got[i], want[i].id);
                ck_assert_uint_ge(pages, nw / (size_t)limits[li]);
            }
        }
    }
    /* a cursor belongs to its order */
    struct resp r;
    call(port, "GET", "/api/v1/incidents?limit=2&sort=newest", "tok-lead", NULL, &r);
    json_t *j = json_loads(r.body.data, 0, NULL);
    char path[512];
    snprintf(path, sizeof(path), "/api/v1/incidents?sort=oldest&cursor=%s",
             json_string_value(json_object_get(j, "next")));
    json_decref(j);
    resp_free(&r);
    call(port, "GET", path, "tok-lead", NULL, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_nonnull(strstr(r.body.data, "made for another sort"));
    resp_free(&r);
    call(port, "GET", "/api/v1/incidents?sort=loudest", "tok-lead", NULL, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_nonnull(strstr(r.body.data, "expected oldest, newest or severity"));
    resp_free(&r);
    http_server_destroy(srv);
    store_close(s);
    unlink(tok_path);
    st_rmdir();
}
END_TEST

START_TEST(test_tokens_reload_takes_effect_and_keeps_old_on_error)
{
    st_mkdir();
    write_tokens("");
    struct store *s = st_open();
    struct http_server *srv = start(s, NULL, false);
    uint16_t port = http_server_port(srv);
    struct resp r;
    call(port, "GET", "/api/v1/me", "tok-new", NULL, &r);
    ck_assert_int_eq(r.status, 401);
    resp_free(&r);
    char n[65], extra[256];
    http_token_sha256_hex("tok-new", 7, n);
    snprintf(extra, sizeof(extra), "  - {name: new, sha256: %s, role: viewer, tenants: [b]}\n", n);
    write_tokens(extra);
    struct ts_err err = {0};
    ck_assert_int_eq(http_server_reload_tokens(srv, &err), 0);
    call(port, "GET", "/api/v1/me", "tok-new", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.data, "{\"name\":\"new\",\"role\":\"viewer\",\"tenants\":[\"b\"]}\n");
    resp_free(&r);
    write_tokens("  - {name: broken}\n");
    ck_assert_int_eq(http_server_reload_tokens(srv, &err), TS_E_CONFIG);
    ck_assert_uint_eq(err.line, 4);
    call(port, "GET", "/api/v1/me", "tok-new", NULL, &r);
    ck_assert_int_eq(r.status, 200); /* the old table stays */
    resp_free(&r);
    http_server_destroy(srv);
    store_close(s);
    unlink(tok_path);
    st_rmdir();
}
END_TEST

START_TEST(test_options_are_checked)
{
    struct http_server *srv = NULL;
    struct ts_err err = {0};
    struct http_opts o = {0};
    ck_assert_int_eq(http_server_create(&srv, &o, &err), TS_E_INVAL);
    o.listen = "127.0.0.1";
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(http_server_create(&srv, &o, &err), TS_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "HOST:PORT"));
    o.listen = "127.0.0.1:70000";
    ck_assert_int_eq(http_server_create(&srv, &o, NULL), TS_E_INVAL);
    o.listen = "127.0.0.1:0";
    o.tls_cert = "/nonexistent.pem";
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(http_server_create(&srv, &o, &err), TS_E_INVAL); /* no key */
    o.tls_key = "/nonexistent.key";
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(http_server_create(&srv, &o, &err), TS_E_IO);
    ck_assert_str_eq(err.file, "/nonexistent.pem");
    o.tls_cert = o.tls_key = NULL;
    o.tokens = "/nonexistent/tokens.yml";
    ck_assert_int_eq(http_server_create(&srv, &o, NULL), TS_E_IO);
    ck_assert_ptr_null(srv);
    /* without a store: /api/ is 503, readiness 503 */
    o.tokens = NULL;
    ck_assert_int_eq(http_server_create(&srv, &o, NULL), 0);
    struct resp r;
    call(http_server_port(srv), "GET", "/readyz", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 503);
    resp_free(&r);
    call(http_server_port(srv), "GET", "/api/v1/incidents", "x", NULL, &r);
    ck_assert_int_eq(r.status, 401); /* no tokens file: no token is valid */
    resp_free(&r);
    /* the same port twice: a clear error */
    char busy[32];
    snprintf(busy, sizeof(busy), "127.0.0.1:%u", http_server_port(srv));
    struct http_server *srv2 = NULL;
    o.listen = busy;
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(http_server_create(&srv2, &o, &err), TS_E_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "in use"));
    http_server_destroy(srv);
    http_server_destroy(NULL);
}
END_TEST

static Suite *make_suite(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("http_server");
    TCase *tc = tcase_create("server");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hooks_are_called_and_served);
    tcase_add_test(tc, test_null_hooks_answer_404_and_store_readiness);
    tcase_add_test(tc, test_tenantless_incident_needs_every_tenant);
    tcase_add_test(tc, test_tokens_reload_takes_effect_and_keeps_old_on_error);
    tcase_add_test(tc, test_sorted_pages_are_exact_for_every_order);
    tcase_add_test(tc, test_options_are_checked);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
