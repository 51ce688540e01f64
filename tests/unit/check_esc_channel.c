/* check_esc_channel.c - escalation delivery channels: the Standard Webhooks
 * signature, HTTP outcome classification, back-off with jitter, the
 * channels file loader, the SMTP message and the JSON-lines file channel. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "../../core/buf.h"
#include "../../core/tstime.h"
#include "../../escalate/channel_int.h"
#include "../../escalate/escalate.h"

/* ------------------------------------------------------------ signature */

/* The test vector of the Standard Webhooks reference libraries
 * (standard-webhooks/standard-webhooks, libraries/python/tests/
 * test_webhooks.py, test_sign_function); also reproduced with
 *   python3 -c 'import hmac,hashlib,base64; k=base64.b64decode(
 *     "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); print(base64.b64encode(hmac.new(k,
 *     b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{\"test\": 2432232314}",
 *     hashlib.sha256).digest()))'  ->  g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= */
START_TEST(test_webhook_signature_matches_standard_webhooks_vector)
{
    struct ts_buf b;
    ts_buf_init(&b, 1024);
    const char body[] = "{\"test\": 2432232314}";
    ck_assert_int_eq(esc_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                      "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                      strlen(body), &b, NULL),
                     0);
    ck_assert_str_eq(b.data, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    ts_buf_free(&b);
}
END_TEST

START_TEST(test_webhook_signature_accepts_secret_without_prefix)
{
    struct ts_buf b;
    ts_buf_init(&b, 1024);
    const char body[] = "{\"test\": 2432232314}";
    ck_assert_int_eq(esc_webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                      "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                      strlen(body), &b, NULL),
                     0);
    ck_assert_str_eq(b.data, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    ts_buf_free(&b);
}
END_TEST

START_TEST(test_webhook_signature_changes_with_timestamp_and_body)
{
    struct ts_buf a, b, c;
    ts_buf_init(&a, 1024);
    ts_buf_init(&b, 1024);
    ts_buf_init(&c, 1024);
    const char *k = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    ck_assert_int_eq(esc_webhook_sign(k, "id", 1, "x", 1, &a, NULL), 0);
    ck_assert_int_eq(esc_webhook_sign(k, "id", 2, "x", 1, &b, NULL), 0);
    ck_assert_int_eq(esc_webhook_sign(k, "id", 1, "y", 1, &c, NULL), 0);
    ck_assert_str_ne(a.data, b.data);
    ck_assert_str_ne(a.data, c.data);
    ts_buf_free(&a);
    ts_buf_free(&b);
    ts_buf_free(&c);
}
END_TEST

START_TEST(test_webhook_secret_that_is_not_base64_is_refused)
{
    struct ts_buf b;
    ts_buf_init(&b, 1024);
    struct ts_err err = {0};
    ck_assert_int_eq(esc_webhook_sign("whsec_not base64!", "id", 1, "x", 1, &b, &err),
                     TS_E_INVAL);
    ck_assert_int_eq(esc_webhook_sign("whsec_", "id", 1, "x", 1, &b, NULL), TS_E_INVAL);
    ck_assert_uint_eq(b.len, 0);
    ts_buf_free(&b);
}
END_TEST

/* ------------------------------------------------------- classification */

START_TEST(test_http_2xx_delivered_4xx_permanent_408_429_5xx_retry)
{
    ck_assert_int_eq(esc_http_outcome(200), ESC_OUT_DELIVERED);
    ck_assert_int_eq(esc_http_outcome(202), ESC_OUT_DELIVERED);
    ck_assert_int_eq(esc_http_outcome(204), ESC_OUT_DELIVERED);
    ck_assert_int_eq(esc_http_outcome(400), ESC_OUT_PERMANENT);
    ck_assert_int_eq(esc_http_outcome(401), ESC_OUT_PERMANENT);
    ck_assert_int_eq(esc_http_outcome(404), ESC_OUT_PERMANENT);
    ck_assert_int_eq(esc_http_outcome(409), ESC_OUT_PERMANENT);
    ck_assert_int_eq(esc_http_outcome(422), ESC_OUT_PERMANENT);
    ck_assert_int_eq(esc_http_outcome(408), ESC_OUT_RETRY);
    ck_assert_int_eq(esc_http_outcome(429), ESC_OUT_RETRY);
    ck_assert_int_eq(esc_http_outcome(500), ESC_OUT_RETRY);
    ck_assert_int_eq(esc_http_outcome(503), ESC_OUT_RETRY);
    ck_assert_int_eq(esc_http_outcome(301), ESC_OUT_RETRY);
    ck_assert_int_eq(esc_http_outcome(0), ESC_OUT_RETRY);
    ck_assert_str_eq(esc_outcome_name(ESC_OUT_PERMANENT), "permanent");
}
END_TEST

/* ------------------------------------------------------------- back-off */

START_TEST(test_backoff_doubles_up_to_the_cap_within_jitter_bounds)
{
    const int64_t base = 10 * TS_NS_PER_SEC, cap = 3600 * TS_NS_PER_SEC;
    /* the schedule without jitter: 10 s, 20 s, 40 s ... capped at 1 h */
    int64_t want = base;
    for (uint32_t a = 1; a <= 40; a++) {
        int64_t lo = esc_backoff_ns(a, base, cap, 0);
        ck_assert_int_eq(lo, want / 2);
        uint64_t rnd = 0x243f6a8885a308d3ull;
        for (int i = 0; i < 200; i++) {
            rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
            int64_t d = esc_backoff_ns(a, base, cap, rnd);
            ck_assert_msg(d >= want / 2 && d <= want, "attempt %u: %lld not in [%lld, %lld]", a,
                          (long long)d, (long long)(want / 2), (long long)want);
        }
        want = want * 2 > cap ? cap : want * 2;
    }
    /* the top of the range is reachable */
    ck_assert_int_eq(esc_backoff_ns(1, 10, 100, 5), 10);
    /* cap below base acts as base; attempts of 0 behave as 1 */
    ck_assert_int_eq(esc_backoff_ns(3, 100, 10, 0), 50);
    ck_assert_int_eq(esc_backoff_ns(0, 100, 1000, 0), 50);
}
END_TEST

/* -------------------------------------------------------------- loader */

static const char good[] =
    "dispatch: {threads: 3, lease: 90s, backoff_base: 2s, backoff_cap: 1m, max_attempts: 5,\n"
    "           alerts_file: /tmp/x.jsonl}\n"
    "channels:\n"
    "  default: {type: file, path: /tmp/esc.jsonl}\n"
    "  webhook:national:\n"
    "    type: webhook\n"
    "    url: https://example.org/hook\n"
    "    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"
    "    headers: {X-Org: demo}\n"
    "  kafka:soc: {type: kafka, brokers: 127.0.0.1:9092, topic: esc}\n"
    "  email:mb: {type: smtp, url: smtp://127.0.0.1:2525, from: a@b.vn, to: [c@d.vn]}\n";

START_TEST(test_channels_file_loads_types_and_dispatch_settings)
{
    struct esc_channels *c = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_channels_load_buffer("ch.yml", good, strlen(good), &c, &err), 0);
    ck_assert_uint_eq(esc_channels_count(c), 4);
    ck_assert_str_eq(esc_channels_name(c, 1), "webhook:national");
    ck_assert_int_eq(esc_channels_type(c, 0), ESC_CH_FILE);
    ck_assert_int_eq(esc_channels_type(c, 1), ESC_CH_WEBHOOK);
    ck_assert_int_eq(esc_channels_type(c, 2), ESC_CH_KAFKA);
    ck_assert_int_eq(esc_channels_type(c, 3), ESC_CH_SMTP);
    struct esc_dispatch_opts o;
    esc_channels_dispatch_opts(c, &o);
    ck_assert_uint_eq(o.threads, 3);
    ck_assert_int_eq(o.lease_ns, 90 * TS_NS_PER_SEC);
    ck_assert_int_eq(o.backoff_base_ns, 2 * TS_NS_PER_SEC);
    ck_assert_int_eq(o.backoff_cap_ns, 60 * TS_NS_PER_SEC);
    ck_assert_uint_eq(o.max_attempts, 5);
    ck_assert_str_eq(o.alerts_path, "/tmp/x.jsonl");
    esc_channels_free(c);
}
END_TEST

static void expect_error(const char *yml, unsigned line, const char *needle)
{
    struct esc_channels *c = NULL;
    struct ts_err err = {0};
    int rc = esc_channels_load_buffer("ch.yml", yml, strlen(yml), &c, &err);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err.msg, needle), "\"%s\" not in \"%s\"", needle, err.msg);
    if (line)
        ck_assert_uint_eq(err.line, line);
}

START_TEST(test_channels_file_errors_say_where_and_what)
{
    expect_error("channels:\n  default: {type: file, path: /x, colour: red}\n", 2,
                 "unknown key \"colour\"");
    expect_error("channels:\n  a: {type: pigeon}\n", 2, "unknown channel type");
    expect_error("channels:\n  a: {type: webhook, url: http://x/}\n", 2, "https://");
    expect_error("channels:\n  a: {type: webhook, url: https://x/, secret: \"whsec_$$\"}\n", 2,
                 "base64");
    expect_error("channels:\n  a: {type: smtp, url: smtp://x, from: a@b}\n", 2, "from and to");
    expect_error("channels:\n  a: {type: kafka, brokers: x, topic: t,\n"
                 "      properties: {enable.idempotence: \"false\"}}\n",
                 0, "managed by tocsin");
    expect_error("channels:\n  a: {type: webhook, url: https://x/, secret_env: TOCSIN_NOPE_X}\n",
                 2, "TOCSIN_NOPE_X is not set");
    expect_error("dispatch: {threads: 0}\nchannels:\n  a: {type: file, path: /x}\n", 1,
                 "threads");
    expect_error("channels: {}\n", 1, "channels must be");
    /* through core/yconf: a near miss is named, a bad value is quoted */
    expect_error("dispatch: {threds: 2}\nchannels:\n  a: {type: file, path: /x}\n", 1,
                 "unknown key \"threds\" in dispatch (did you mean \"threads\"?)");
    expect_error("dispatch: {lease: soon}\nchannels:\n  a: {type: file, path: /x}\n", 1,
                 "lease must be a positive duration such as 500ms, 30s, 5m, 1h, got \"soon\"");
    expect_error("channels:\n  a: {type: file, path: \"/x\\ny\"}\n", 2, "path must be one line");
}
END_TEST

START_TEST(test_lease_shorter_than_a_channel_timeout_is_refused)
{
    const char yml[] = "dispatch: {lease: 10s}\n"
                       "channels:\n  a: {type: webhook, url: https://x/, timeout: 30s}\n";
    struct esc_channels *c = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_channels_load_buffer("ch.yml", yml, strlen(yml), &c, &err), 0);
    struct esc_dispatch_stats s = {0};
    /* the check comes before the store is touched; a dummy store pointer is
     * never dereferenced */
    int rc = esc_dispatch_once((struct store *)(void *)&s, c, NULL, 0, &s, &err);
    ck_assert_int_eq(rc, TS_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "lease"));
    esc_channels_free(c);
}
END_TEST

/* What ts_log writes to stderr while fn(arg) runs (static buffer). */
static const char *stderr_of(void (*fn)(const void *), const void *arg)
{
    static char text[16384];
    char path[] = "/tmp/tocsin-esc-log-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn(arg);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    close(fd);
    unlink(path);
    text[n > 0 ? n : 0] = '\0';
    return text;
}

static void load_and_free(const void *yml)
{
    struct esc_channels *c = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_channels_load_buffer("ch.yml", yml, strlen(yml), &c, &err), 0);
    esc_channels_free(c);
}

/* insecure: true turns TLS verification off: said at load, by channel
 * name, without the URL's secrets; a verified channel says nothing. */
START_TEST(test_insecure_channel_is_logged_as_a_warning_at_load)
{
    const char yml[] = "channels:\n"
                       "  webhook:lab:\n"
                       "    type: webhook\n"
                       "    url: \"https://bob:Hunter22@lab.example:8443/in?key=K3Y\"\n"
                       "    insecure: true\n"
                       "  email:lab: {type: smtp, url: \"smtps://mail.example\", from: a@b.vn,\n"
                       "              to: c@d.vn, insecure: true}\n"
                       "  webhook:ok: {type: webhook, url: \"https://ok.example/in\"}\n";
    const char *log = stderr_of(load_and_free, yml);
    ck_assert_msg(strstr(log, "warning: escalation channel webhook:lab: insecure: true") != NULL,
                  "no warning for webhook:lab: \"%s\"", log);
    ck_assert_msg(strstr(log, "warning: escalation channel email:lab: insecure: true") != NULL,
                  "no warning for email:lab: \"%s\"", log);
    ck_assert_msg(strstr(log, "lab.example:8443/in") != NULL, "%s", log);
    ck_assert_msg(!strstr(log, "Hunter22") && !strstr(log, "K3Y") && !strstr(log, "bob"), "%s",
                  log);
    ck_assert_msg(strstr(log, "webhook:ok") == NULL, "%s", log);
}
END_TEST

static void redacts(const char *url, const char *want)
{
    char out[256];
    esc_url_redact(url, out, sizeof(out));
    ck_assert_str_eq(out, want);
}

START_TEST(test_url_redaction_drops_userinfo_query_and_fragment)
{
    redacts("https://alice:S3cr3tPass@intake.example:8443/hook?token=T0KEN#x",
            "https://***@intake.example:8443/hook?***#***");
    redacts("https://intake.example/hook", "https://intake.example/hook");
    redacts("smtp://user@mail.example:25", "smtp://***@mail.example:25");
    redacts("https://h.example?a=1", "https://h.example?***");
    redacts("https://h.example/p#frag", "https://h.example/p#***");
    redacts("https://a@b@h.example/x@y", "https://***@h.example/x@y");
    redacts("not a url", "not a url");
    char small[12];
    esc_url_redact("https://alice:pw@h.example/", small, sizeof(small));
    ck_assert_str_eq(small, "https://***");
    char out[256];
    esc_text_redact_urls("curl: (7) https://u:p@h.example/x?t=1: refused; see http://h/y#f.",
                         out, sizeof(out));
    ck_assert_str_eq(out, "curl: (7) https://***@h.example/x?***: refused; see http://h/y#***.");
}
END_TEST

/* An attempt's error holds a receiver's answer: it reaches logs and
 * `tocsin escalations list` as one line without terminal escapes. */
START_TEST(test_error_text_shows_control_characters_as_escapes)
{
    char e[ESC_ERROR_MAX];
    snprintf(e, sizeof(e), "https://h.example/x: HTTP 500: \x1b[2J\r\nFORGED \xc2\x9b" "31m \xff");
    esc_error_scrub(NULL, e);
    ck_assert_str_eq(e, "https://h.example/x: HTTP 500: \\x1b[2J\\r\\nFORGED \\u009b31m \\xff");
    /* long texts are cut within the size, at a character boundary */
    memset(e, 0x1b, sizeof(e) - 1);
    e[sizeof(e) - 1] = '\0';
    esc_error_scrub(NULL, e);
    ck_assert_uint_lt(strlen(e), ESC_ERROR_MAX);
    ck_assert_ptr_null(strchr(e, 0x1b));
}
END_TEST

/* ---------------------------------------------------------------- smtp */

static struct store_outbox entry(const char *payload)
{
    struct store_outbox e;
    memset(&e, 0, sizeof(e));
    e.id = "0123456789abcdef0123456789abcdef:3:managing_body:initial-notice";
    e.incident_id = "0123456789abcdef0123456789abcdef";
    e.revision = 3;
    e.recipient = "managing_body";
    e.channel = "email:mb";
    e.payload = payload;
    e.payload_len = strlen(payload);
    e.attempts = 2;
    return e;
}

START_TEST(test_smtp_subject_is_tbsc_and_the_report_title)
{
    struct ts_buf b;
    ts_buf_init(&b, 4096);
    struct store_outbox e =
        entry("{\"report\":{\"title_vi\":\"Thông báo ban đầu\",\"title_en\":\"Initial\"}}");
    ck_assert_int_eq(esc_smtp_subject(&e, &b), 0);
    ck_assert_str_eq(b.data, "[TBSC] Thông báo ban đầu");
    ts_buf_reset(&b);
    e = entry("{\"report\":{\"title_vi\":null,\"title_en\":\"Initial notice\"}}");
    ck_assert_int_eq(esc_smtp_subject(&e, &b), 0);
    ck_assert_str_eq(b.data, "[TBSC] Initial notice");
    ts_buf_reset(&b);
    e = entry("not json");
    ck_assert_int_eq(esc_smtp_subject(&e, &b), 0);
    ck_assert_str_eq(b.data, "[TBSC] Báo cáo sự cố an toàn thông tin mạng");
    ts_buf_free(&b);
}
END_TEST

START_TEST(test_smtp_message_has_headers_encoded_subject_and_base64_body)
{
    struct esc_channels *c = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_channels_load_buffer("ch.yml", good, strlen(good), &c, &err), 0);
    size_t idx = 0;
    const struct esc_chan *ch = esc_channels_find(c, "email:mb", &idx);
    ck_assert_ptr_nonnull(ch);
    struct ts_buf b;
    ts_buf_init(&b, 1u << 20);
    struct store_outbox e = entry("{\"report\":{\"title_vi\":\"Thông báo ban đầu\"}}");
    /* 2026-07-01T00:00:00Z was a Wednesday */
    int64_t t = ts_epoch_from_utc(2026, 7, 1, 0, 0, 0) * TS_NS_PER_SEC;
    ck_assert_int_eq(esc_smtp_message(ch, &e, t, &b), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "Date: Wed, 01 Jul 2026 00:00:00 +0000\r\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "From: <a@b.vn>\r\nTo: <c@d.vn>\r\n"));
    /* "[TBSC] Thông báo ban đầu" as one UTF-8 base64 encoded-word */
    ck_assert_ptr_nonnull(
        strstr(b.data, "Subject: =?UTF-8?B?W1RCU0NdIFRow7RuZyBiw6FvIGJhbiDEkeG6p3U=?=\r\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "Message-ID: <0123456789abcdef0123456789abcdef.3."
                                         "managing_body.initial-notice@tocsin>\r\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "Idempotency-Key: 0123456789abcdef0123456789abcdef:3\r\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "Content-Transfer-Encoding: base64\r\n\r\n"));
    /* every line ends with CRLF; body lines (base64) are at most 76
     * characters, header lines within RFC 5322's 998 */
    char *body = strstr(b.data, "\r\n\r\n") + 4;
    for (char *p = b.data, *nl; (nl = strstr(p, "\r\n")); p = nl + 2)
        ck_assert_int_le(nl - p, p >= body ? 76 : 998);
    ck_assert_int_eq(b.data[b.len - 1], '\n');
    ts_buf_free(&b);
    esc_channels_free(c);
}
END_TEST

/* ---------------------------------------------------------------- file */

START_TEST(test_file_line_is_one_json_line_with_the_document)
{
    struct ts_buf b;
    ts_buf_init(&b, 1u << 20);
    struct store_outbox e = entry("{\n  \"a\": \"x\\ny\",\n  \"b\": [1,\r\n2]\n}\n");
    ck_assert_int_eq(esc_file_line(&e, 0, &b), 0);
    ck_assert_ptr_null(memchr(b.data, '\n', b.len - 1));
    ck_assert_int_eq(b.data[b.len - 1], '\n');
    ck_assert_ptr_nonnull(strstr(b.data, "\"idempotency_key\":\"0123456789abcdef0123456789abcdef:3\""));
    ck_assert_ptr_nonnull(strstr(b.data, "\"report\":\"initial-notice\""));
    ck_assert_ptr_nonnull(strstr(b.data, "\"document\":{   \"a\": \"x\\ny\""));
    ts_buf_reset(&b);
    e = entry("plain text\n");
    ck_assert_int_eq(esc_file_line(&e, 0, &b), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "\"document\":\"plain text\\n\"}"));
    ts_buf_free(&b);
}
END_TEST

START_TEST(test_file_channel_appends_a_line_per_delivery)
{
    char dir[] = "/tmp/tocsin-escch-XXXXXX", path[128], yml[512];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/out.jsonl", dir);
    snprintf(yml, sizeof(yml), "channels:\n  email:mb: {type: file, path: %s}\n", path);
    struct esc_channels *c = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_channels_load_buffer("ch.yml", yml, strlen(yml), &c, &err), 0);
    struct esc_deliverer *d = NULL;
    ck_assert_int_eq(esc_deliverer_create(&d, c), 0);
    char error[ESC_ERROR_MAX];
    struct store_outbox e = entry("{\"x\":1}");
    ck_assert_int_eq(esc_deliver(d, &e, 0, error), ESC_OUT_DELIVERED);
    ck_assert_int_eq(esc_deliver(d, &e, 0, error), ESC_OUT_DELIVERED);
    /* a channel that is not configured: retried (the config may be fixed) */
    e.channel = "webhook:nowhere";
    ck_assert_int_eq(esc_deliver(d, &e, 0, error), ESC_OUT_RETRY);
    ck_assert_ptr_nonnull(strstr(error, "not configured"));
    esc_deliverer_destroy(d);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        n++;
    fclose(f);
    ck_assert_int_eq(n, 2);
    unlink(path);
    rmdir(dir);
    esc_channels_free(c);
}
END_TEST

START_TEST(test_file_channel_that_cannot_open_is_transient)
{
    const char yml[] = "channels:\n  email:mb: {type: file, path: /nonexistent-dir/x.jsonl}\n";
    struct esc_channels *c = NULL;
    struct ts_err err = {0};
    ck_assert_int_eq(esc_channels_load_buffer("ch.yml", yml, strlen(yml), &c, &err), 0);
    struct esc_deliverer *d = NULL;
    ck_assert_int_eq(esc_deliverer_create(&d, c), 0);
    char error[ESC_ERROR_MAX];
    struct store_outbox e = entry("{}");
    ck_assert_int_eq(esc_deliver(d, &e, 0, error), ESC_OUT_RETRY);
    ck_assert_ptr_nonnull(strstr(error, "open"));
    esc_deliverer_destroy(d);
    esc_channels_free(c);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("esc_channel");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_webhook_signature_matches_standard_webhooks_vector);
    tcase_add_test(tc, test_webhook_signature_accepts_secret_without_prefix);
    tcase_add_test(tc, test_webhook_signature_changes_with_timestamp_and_body);
    tcase_add_test(tc, test_webhook_secret_that_is_not_base64_is_refused);
    tcase_add_test(tc, test_http_2xx_delivered_4xx_permanent_408_429_5xx_retry);
    tcase_add_test(tc, test_backoff_doubles_up_to_the_cap_within_jitter_bounds);
    tcase_add_test(tc, test_channels_file_loads_types_and_dispatch_settings);
    tcase_add_test(tc, test_channels_file_errors_say_where_and_what);
    tcase_add_test(tc, test_lease_shorter_than_a_channel_timeout_is_refused);
    tcase_add_test(tc, test_insecure_channel_is_logged_as_a_warning_at_load);
    tcase_add_test(tc, test_url_redaction_drops_userinfo_query_and_fragment);
    tcase_add_test(tc, test_error_text_shows_control_characters_as_escapes);
    tcase_add_test(tc, test_smtp_subject_is_tbsc_and_the_report_title);
    tcase_add_test(tc, test_smtp_message_has_headers_encoded_subject_and_base64_body);
    tcase_add_test(tc, test_file_line_is_one_json_line_with_the_document);
    tcase_add_test(tc, test_file_channel_appends_a_line_per_delivery);
    tcase_add_test(tc, test_file_channel_that_cannot_open_is_transient);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
