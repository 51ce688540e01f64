/* check_formats.c - the payload formats: CEF (header and extension
 * escaping), LEEF 1.0/2.0 (custom delimiters), key=value (FortiGate-style,
 * after a syslog header), Apache/nginx access logs; their auto-detection,
 * timestamps, and that the existing syslog detection is unchanged. */
#include <check.h>
#include <string.h>

#include "../../core/arena.h"
#include "../../core/event.h"
#include "../../core/tstime.h"
#include "../../normalise/decoder.h"
#include "../../ingest/ingest.h"
#include "check_util.h"

static struct ts_arena *arena;
static struct ts_event ev;
static struct ingest_diag diag;

#define INGEST_NS (ts_epoch_from_utc(2024, 6, 15, 12, 0, 0) * TS_NS_PER_SEC)

static void setup(void)
{
    ck_assert_int_eq(ts_arena_create(&arena, 4096, 1u << 24), 0);
}

static void teardown(void)
{
    ts_arena_destroy(arena);
    arena = NULL;
}

static int parse(enum ingest_format fmt, const char *raw)
{
    size_t len = strlen(raw);
    ts_arena_reset(arena);
    ts_event_init(&ev, arena);
    ev.raw = ts_arena_strndup(arena, raw, len);
    ck_assert_ptr_nonnull(ev.raw);
    ev.raw_len = (uint32_t)len;
    ev.ingest_ns = INGEST_NS;
    memset(&diag, 0xff, sizeof(diag));
    return ingest_parse(fmt, NULL, &ev, &diag);
}

static void assert_str(const char *name, const char *want)
{
    const struct ts_field *f = ts_event_getz(&ev, name);
    ck_assert_msg(f != NULL, "field %s missing", name);
    ck_assert_msg(f->v.type == TS_V_STR, "field %s is not a string", name);
    ck_assert_msg(f->v.len == strlen(want) && memcmp(f->v.u.s, want, f->v.len) == 0,
                  "field %s is \"%.*s\", want \"%s\"", name, (int)f->v.len, f->v.u.s, want);
}

static void assert_int(const char *name, int64_t want)
{
    const struct ts_field *f = ts_event_getz(&ev, name);
    ck_assert_msg(f != NULL, "field %s missing", name);
    ck_assert_msg(f->v.type == TS_V_INT, "field %s is not an int", name);
    ck_assert_int_eq(f->v.u.i, want);
}

static void assert_ip(const char *name, const char *want)
{
    const struct ts_field *f = ts_event_getz(&ev, name);
    ck_assert_msg(f != NULL, "field %s missing", name);
    ck_assert_msg(f->v.type == TS_V_IP, "field %s is not an IP", name);
    char buf[64];
    ck_assert_str_eq(ts_ip_format(&f->v.u.ip, buf, sizeof(buf)), want);
}

static void assert_absent(const char *name)
{
    ck_assert_msg(ts_event_getz(&ev, name) == NULL, "field %s should be absent", name);
}

static void assert_ok(int rc)
{
    ck_assert_msg(rc == 0, "rejected: %s", diag.reason ? diag.reason : "?");
    ck_assert_ptr_null(diag.reason);
}

static void assert_ok_no_warning(int rc)
{
    assert_ok(rc);
    ck_assert_msg(diag.warning == NULL, "warning: %s", diag.warning);
}

static void assert_time(int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
                        int64_t frac_ns)
{
    ck_assert(ev.time_from_event);
    ck_assert_int_eq(ev.time_ns, ts_epoch_from_utc(y, mo, d, h, mi, s) * TS_NS_PER_SEC + frac_ns);
}

/* ------------------------------------------------------------------- names */

START_TEST(test_format_names_round_trip)
{
    static const char *const names[] = {"cef", "leef", "kv", "access"};
    static const enum ingest_format fmts[] = {INGEST_FMT_CEF, INGEST_FMT_LEEF, INGEST_FMT_KV,
                                              INGEST_FMT_ACCESS};
    for (size_t i = 0; i < 4; i++) {
        enum ingest_format f;
        ck_assert_int_eq(ingest_format_parse(names[i], &f), 0);
        ck_assert_int_eq(f, fmts[i]);
        ck_assert_str_eq(ingest_format_name(f), names[i]);
    }
    enum ingest_format f;
    ck_assert_int_eq(ingest_format_parse("CEF", &f), TS_E_INVAL);
}
END_TEST

/* --------------------------------------------------------------------- CEF */

START_TEST(test_cef_header_and_extension_fields)
{
    assert_ok_no_warning(parse(INGEST_FMT_CEF,
                               "CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|"
                               "src=10.0.0.1 dst=2.1.2.2 spt=1232"));
    ck_assert_str_eq(ev.format, "cef");
    assert_str("cef.version", "0");
    assert_str("cef.device_vendor", "Security");
    assert_str("cef.device_product", "threatmanager");
    assert_str("cef.device_version", "1.0");
    assert_str("cef.signature_id", "100");
    assert_str("cef.name", "worm successfully stopped");
    assert_int("cef.severity", 10);
    assert_str("src", "10.0.0.1");
    assert_str("dst", "2.1.2.2");
    assert_str("spt", "1232");
    ck_assert(!ev.time_from_event);
}
END_TEST

START_TEST(test_cef_header_escaped_pipe_and_backslash)
{
    assert_ok(parse(INGEST_FMT_CEF, "CEF:0|Vend\\|or|Prod\\\\uct|1|sig|name with \\| pipe|Low|"));
    assert_str("cef.device_vendor", "Vend|or");
    assert_str("cef.device_product", "Prod\\uct");
    assert_str("cef.name", "name with | pipe");
    assert_str("cef.severity", "Low"); /* not numeric: kept as text */
}
END_TEST

START_TEST(test_cef_extension_values_with_spaces_and_escapes)
{
    assert_ok(parse(INGEST_FMT_CEF,
                    "CEF:0|V|P|1|1|n|5|msg=Detected a threat. No action needed act=blocked a\\=b "
                    "cs1Label=Rule Name cs1=a\\\\b\\nc\\rd fname=C:\\\\x y.exe request=http://"
                    "x/?a=1&b=2 end=1"));
    assert_str("msg", "Detected a threat. No action needed");
    assert_str("act", "blocked a=b");
    assert_str("cs1Label", "Rule Name");
    assert_str("cs1", "a\\b\nc\rd");
    assert_str("fname", "C:\\x y.exe");
    /* an '=' without " key" before it belongs to the value */
    assert_str("request", "http://x/?a=1&b=2");
    assert_str("end", "1");
}
END_TEST

START_TEST(test_cef_backslash_before_other_chars_is_kept)
{
    assert_ok(parse(INGEST_FMT_CEF, "CEF:0|V|P|1|1|n|5|path=C:\\Windows\\temp x=\\|y"));
    assert_str("path", "C:\\Windows\\temp");
    assert_str("x", "\\|y");
}
END_TEST

START_TEST(test_cef_after_rfc3164_header_keeps_host_and_time)
{
    assert_ok_no_warning(parse(INGEST_FMT_AUTO,
                               "<134>Sep 19 08:26:10 fw-01 CEF:0|Check Point|VPN-1|R81|drop|Drop|"
                               "5|src=198.51.100.7 dst=10.1.1.1 dpt=22 proto=TCP"));
    ck_assert_str_eq(ev.format, "cef");
    assert_str("host", "fw-01");
    assert_str("facility", "local0");
    assert_str("dpt", "22");
    assert_str("message", "CEF:0|Check Point|VPN-1|R81|drop|Drop|5|src=198.51.100.7 "
                          "dst=10.1.1.1 dpt=22 proto=TCP");
    ck_assert(ev.time_from_event);
}
END_TEST

START_TEST(test_cef_after_program_tag_and_rfc5424_header)
{
    assert_ok(parse(INGEST_FMT_AUTO, "Jan 10 10:00:00 sensor ids[12]: CEF:1|A|B|C|D|E|3|k=v"));
    ck_assert_str_eq(ev.format, "cef");
    assert_str("program", "ids");
    assert_int("pid", 12);
    assert_str("k", "v");
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, "<14>1 2024-01-02T03:04:05Z h app - - - "
                                                "CEF:0|A|B|C|D|E|3|k=v w"));
    ck_assert_str_eq(ev.format, "cef");
    assert_str("program", "app");
    assert_str("k", "v w");
    assert_time(2024, 1, 2, 3, 4, 5, 0);
}
END_TEST

START_TEST(test_cef_without_host_before_payload)
{
    assert_ok(parse(INGEST_FMT_AUTO, "Jan 10 10:00:00 CEF:0|A|B|C|D|E|3|k=v"));
    ck_assert_str_eq(ev.format, "cef");
    assert_absent("host");
    assert_str("k", "v");
}
END_TEST

START_TEST(test_cef_rt_sets_event_time_epoch_ms_and_text)
{
    assert_ok_no_warning(parse(INGEST_FMT_CEF, "CEF:0|A|B|C|D|E|3|rt=1718445600123 src=1.2.3.4"));
    assert_time(2024, 6, 15, 10, 0, 0, 123000000);
    assert_ok_no_warning(parse(INGEST_FMT_CEF, "CEF:0|A|B|C|D|E|3|rt=Jun 15 2024 10:00:01 UTC"));
    assert_time(2024, 6, 15, 10, 0, 1, 0);
}
END_TEST

START_TEST(test_cef_bad_rt_warns_and_keeps_ingest_time)
{
    assert_ok(parse(INGEST_FMT_CEF, "CEF:0|A|B|C|D|E|3|rt=yesterday"));
    ck_assert_ptr_nonnull(diag.warning);
    ck_assert(strstr(diag.warning, "yesterday") != NULL);
    ck_assert(!ev.time_from_event);
    ck_assert_int_eq(ev.time_ns, INGEST_NS);
}
END_TEST

START_TEST(test_cef_truncated_header_is_rejected_with_reason)
{
    ck_assert_int_eq(parse(INGEST_FMT_CEF, "CEF:0|A|B|C"), TS_E_PARSE);
    ck_assert_ptr_nonnull(diag.reason);
    ck_assert(strstr(diag.reason, "truncated header") != NULL);
    ck_assert_int_eq(parse(INGEST_FMT_CEF, "CEF:x|A|B|C|D|E|1|"), TS_E_PARSE);
    ck_assert(strstr(diag.reason, "version") != NULL);
    ck_assert_int_eq(parse(INGEST_FMT_CEF, "Jun 1 10:00:00 host no payload here"), TS_E_PARSE);
    ck_assert(strstr(diag.reason, "no CEF header") != NULL);
}
END_TEST

START_TEST(test_cef_empty_extension_and_garbage_tokens)
{
    assert_ok(parse(INGEST_FMT_CEF, "CEF:0|A|B|C|D|E|3|"));
    assert_str("cef.name", "E");
    assert_ok(parse(INGEST_FMT_CEF, "CEF:0|A|B|C|D|E|3|  junk =x k=v"));
    assert_str("k", "v");
    /* severity at the very end without a closing bar */
    assert_ok(parse(INGEST_FMT_CEF, "CEF:0|A|B|C|D|E|7"));
    assert_int("cef.severity", 7);
}
END_TEST

/* -------------------------------------------------------------------- LEEF */

START_TEST(test_leef1_tab_delimited_attributes)
{
    assert_ok_no_warning(parse(INGEST_FMT_AUTO,
                               "LEEF:1.0|Microsoft|MSExchange|2013|15345|src=10.50.1.1\t"
                               "dst=2.10.20.20\tspt=1200\tusrName=j doe\tdevTime=1718445600000"));
    ck_assert_str_eq(ev.format, "leef");
    assert_str("leef.version", "1.0");
    assert_str("leef.vendor", "Microsoft");
    assert_str("leef.product", "MSExchange");
    assert_str("leef.product_version", "2013");
    assert_str("leef.event_id", "15345");
    assert_str("src", "10.50.1.1");
    assert_str("usrName", "j doe");
    assert_time(2024, 6, 15, 10, 0, 0, 0);
}
END_TEST

START_TEST(test_leef2_custom_delimiter_char_and_hex)
{
    assert_ok(parse(INGEST_FMT_LEEF, "LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^"
                                     "dst=10.0.0.5^sev=5^url=http://a/?x=1"));
    assert_str("src", "10.0.1.8");
    assert_str("dst", "10.0.0.5");
    assert_str("url", "http://a/?x=1");
    assert_ok(parse(INGEST_FMT_LEEF, "LEEF:2.0|V|P|1|E|x7C|a=1|b=2"));
    assert_str("a", "1");
    assert_str("b", "2");
    assert_ok(parse(INGEST_FMT_LEEF, "LEEF:2.0|V|P|1|E|0x3b|a=1;b=two words;c="));
    assert_str("b", "two words");
    assert_str("c", "");
}
END_TEST

START_TEST(test_leef2_without_delimiter_field_uses_tab)
{
    assert_ok(parse(INGEST_FMT_LEEF, "LEEF:2.0|V|P|1|E|a=1\tb=2"));
    assert_str("a", "1");
    assert_str("b", "2");
    assert_ok(parse(INGEST_FMT_LEEF, "LEEF:2.0|V|P|1|E||a=1\tb=2"));
    assert_str("b", "2");
}
END_TEST

START_TEST(test_leef_after_syslog_header_and_bad_devtime)
{
    assert_ok(parse(INGEST_FMT_AUTO, "<13>Jan 18 11:07:53 qradar-fw LEEF:1.0|IBM|X|1|E|"
                                     "devTime=not a time\tsrc=1.2.3.4"));
    ck_assert_str_eq(ev.format, "leef");
    assert_str("host", "qradar-fw");
    assert_str("src", "1.2.3.4");
    ck_assert_ptr_nonnull(diag.warning);
    ck_assert(strstr(diag.warning, "not a time") != NULL);
}
END_TEST

START_TEST(test_leef_truncated_header_is_rejected)
{
    ck_assert_int_eq(parse(INGEST_FMT_LEEF, "LEEF:1.0|V|P"), TS_E_PARSE);
    ck_assert(strstr(diag.reason, "truncated") != NULL);
    ck_assert_int_eq(parse(INGEST_FMT_LEEF, "LEEF:3.0|V|P|1|E|a=b"), TS_E_PARSE);
    ck_assert(strstr(diag.reason, "version") != NULL);
}
END_TEST

/* ---------------------------------------------------------------- key=value */

static const char fortigate[] =
    "<189>date=2024-06-15 time=10:11:12 devname=\"FGT-HQ\" devid=\"FG100E\" "
    "eventtime=1718446272123456789 tz=\"+0700\" logid=\"0000000013\" type=\"traffic\" "
    "subtype=\"forward\" level=\"notice\" srcip=10.1.100.11 srcport=58012 "
    "dstip=203.0.113.35 dstport=443 action=\"deny\" service=\"HTTPS\" "
    "dstcountry=\"United States\" msg=\"a \\\"quoted\\\" word\" policyid=0";

START_TEST(test_kv_fortigate_pairs_and_quotes)
{
    assert_ok_no_warning(parse(INGEST_FMT_AUTO, fortigate));
    ck_assert_str_eq(ev.format, "kv");
    assert_str("facility", "local7");
    assert_str("devname", "FGT-HQ");
    assert_str("srcip", "10.1.100.11");
    assert_str("dstport", "443");
    assert_str("action", "deny");
    assert_str("dstcountry", "United States");
    assert_str("msg", "a \"quoted\" word");
    /* eventtime (UTC ns) wins over date/time */
    ck_assert(ev.time_from_event);
    ck_assert_int_eq(ev.time_ns, 1718446272123456789LL);
}
END_TEST

START_TEST(test_kv_date_time_with_tz)
{
    assert_ok_no_warning(parse(INGEST_FMT_KV, "date=2024-06-15 time=10:11:12 tz=\"+0700\" a=b"));
    assert_time(2024, 6, 15, 3, 11, 12, 0);
    assert_ok(parse(INGEST_FMT_KV, "date=2024-13-15 time=10:11:12 a=b"));
    ck_assert_ptr_nonnull(diag.warning);
}
END_TEST

START_TEST(test_kv_after_syslog_header_and_bare_tokens)
{
    assert_ok(parse(INGEST_FMT_KV, "Jun 15 10:00:00 gw kernel: [UFW BLOCK] IN=eth0 OUT= "
                                   "SRC=198.51.100.9 DST=10.0.0.2 DF PROTO=TCP SPT=5 DPT=22 SYN"));
    ck_assert_str_eq(ev.format, "kv");
    assert_str("host", "gw");
    assert_str("program", "kernel");
    assert_str("OUT", "");
    assert_str("SRC", "198.51.100.9");
    assert_str("DPT", "22");
    assert_absent("DF");
    assert_time(2024, 6, 15, 10, 0, 0, 0);
}
END_TEST

START_TEST(test_kv_unterminated_quote_takes_rest)
{
    assert_ok(parse(INGEST_FMT_KV, "a=1 b=\"x y"));
    assert_str("b", "x y");
    assert_ok(parse(INGEST_FMT_KV, "a='single q' b=\\"));
    assert_str("a", "single q");
    assert_str("b", "\\");
}
END_TEST

START_TEST(test_kv_without_pairs_is_rejected)
{
    ck_assert_int_eq(parse(INGEST_FMT_KV, "just words here"), TS_E_PARSE);
    ck_assert_str_eq(diag.reason, "no key=value pairs");
}
END_TEST

START_TEST(test_kv_not_detected_in_ordinary_syslog)
{
    assert_ok(parse(INGEST_FMT_AUTO, "Jun 15 10:00:00 gw kernel: IN=eth0 OUT= SRC=1.2.3.4"));
    ck_assert_str_eq(ev.format, "rfc3164");
    assert_str("message", "IN=eth0 OUT= SRC=1.2.3.4");
    assert_ok(parse(INGEST_FMT_AUTO, "a=b but not a second pair"));
    ck_assert_str_eq(ev.format, "rfc3164");
}
END_TEST

/* ------------------------------------------------------------------ access */

START_TEST(test_access_combined_w3c_fields)
{
    assert_ok_no_warning(parse(INGEST_FMT_AUTO,
                               "203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] \"GET "
                               "/apache_pb.gif?a=1&b=../../etc/passwd HTTP/1.0\" 200 2326 "
                               "\"http://www.example.com/start.html\" \"Mozilla/4.08 [en] "
                               "(Win98; I ;Nav)\""));
    ck_assert_str_eq(ev.format, "access");
    assert_ip("c-ip", "203.0.113.9");
    assert_str("cs-username", "frank");
    assert_str("cs-method", "GET");
    assert_str("cs-uri", "/apache_pb.gif?a=1&b=../../etc/passwd");
    assert_str("cs-uri-stem", "/apache_pb.gif");
    assert_str("cs-uri-query", "a=1&b=../../etc/passwd");
    assert_str("cs-version", "HTTP/1.0");
    assert_int("sc-status", 200);
    assert_int("sc-bytes", 2326);
    assert_str("cs-referer", "http://www.example.com/start.html");
    assert_str("cs-user-agent", "Mozilla/4.08 [en] (Win98; I ;Nav)");
    assert_time(2000, 10, 10, 20, 55, 36, 0);
}
END_TEST

START_TEST(test_access_common_dashes_and_ipv6)
{
    assert_ok_no_warning(
        parse(INGEST_FMT_ACCESS, "2001:db8::1 - - [01/Jan/2024:00:00:00 +0000] \"POST /login "
                                 "HTTP/1.1\" 401 -"));
    assert_ip("c-ip", "2001:db8::1");
    assert_absent("cs-username");
    assert_absent("sc-bytes");
    assert_absent("cs-uri-query");
    assert_absent("cs-referer");
    assert_int("sc-status", 401);
}
END_TEST

START_TEST(test_access_escaped_quotes_and_junk_request)
{
    assert_ok(parse(INGEST_FMT_ACCESS, "10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "
                                       "\"\\x16\\x03\\x01\" 400 150 \"-\" \"a \\\"b\\\"\""));
    assert_str("request", "\\x16\\x03\\x01");
    assert_absent("cs-method");
    assert_absent("cs-referer");
    assert_str("cs-user-agent", "a \"b\"");
    /* nginx extra field after the combined ones */
    assert_ok(parse(INGEST_FMT_AUTO, "web.example.org - - [01/Jan/2024:00:00:00 +0000] "
                                     "\"GET / HTTP/2.0\" 304 0 \"-\" \"curl/8\" \"10.9.9.9\""));
    assert_str("c-ip", "web.example.org");
    assert_str("cs-user-agent", "curl/8");
}
END_TEST

START_TEST(test_access_bad_time_warns_and_bad_shape_rejects)
{
    assert_ok(parse(INGEST_FMT_ACCESS, "1.2.3.4 - - [31/Feb/2024:00:00:00 +0000] \"GET / "
                                       "HTTP/1.1\" 200 1"));
    ck_assert_ptr_nonnull(diag.warning);
    ck_assert(!ev.time_from_event);
    ck_assert_int_eq(parse(INGEST_FMT_ACCESS, "1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] GET"),
                     TS_E_PARSE);
    ck_assert(strstr(diag.reason, "request") != NULL);
    ck_assert_int_eq(parse(INGEST_FMT_ACCESS, "1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] \"GET / "
                                              "HTTP/1.1\" OK 1"),
                     TS_E_PARSE);
    ck_assert(strstr(diag.reason, "status") != NULL);
}
END_TEST

START_TEST(test_access_shape_not_confused_with_syslog_or_apache_error)
{
    assert_ok(parse(INGEST_FMT_AUTO, "[Mon Jan 01 10:00:00 2024] [error] [client 10.0.0.1] x"));
    ck_assert_str_eq(ev.format, "rfc3164");
    assert_ok(parse(INGEST_FMT_AUTO, "Jun 15 10:00:00 web nginx[1]: 1.2.3.4 - - [x"));
    ck_assert_str_eq(ev.format, "rfc3164");
}
END_TEST

/* Every public entry point is the same as ingest_parse with its format. */
START_TEST(test_public_parsers_match_ingest_parse)
{
    ts_arena_reset(arena);
    ts_event_init(&ev, arena);
    const char *l = "CEF:0|A|B|C|D|E|3|k=v";
    ev.raw = l;
    ev.raw_len = (uint32_t)strlen(l);
    assert_ok(ingest_parse_cef(NULL, &ev, &diag));
    assert_str("k", "v");
    ts_event_init(&ev, arena);
    l = "LEEF:1.0|A|B|C|D|k=v";
    ev.raw = l;
    ev.raw_len = (uint32_t)strlen(l);
    assert_ok(ingest_parse_leef(NULL, &ev, &diag));
    assert_str("k", "v");
    ts_event_init(&ev, arena);
    l = "k=v k2=v2";
    ev.raw = l;
    ev.raw_len = (uint32_t)strlen(l);
    assert_ok(ingest_parse_kv(NULL, &ev, &diag));
    assert_str("k2", "v2");
    ts_event_init(&ev, arena);
    l = "1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1";
    ev.raw = l;
    ev.raw_len = (uint32_t)strlen(l);
    assert_ok(ingest_parse_access_log(NULL, &ev, &diag));
    assert_int("sc-status", 200);
}
END_TEST

/* The arena cap is hit: a dead letter with a reason, never a crash. */
START_TEST(test_formats_report_arena_full)
{
    struct ts_arena *small;
    ck_assert_int_eq(ts_arena_create(&small, 256, 256), 0);
    static const enum ingest_format fmts[] = {INGEST_FMT_CEF, INGEST_FMT_LEEF, INGEST_FMT_KV,
                                              INGEST_FMT_ACCESS};
    static const char *const lines[] = {
        "CEF:0|A|B|C|D|E|3|a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8 i=9 j=10 k=11 l=12 m=13",
        "LEEF:1.0|A|B|C|D|a=1\tb=2\tc=3\td=4\te=5\tf=6\tg=7\th=8\ti=9\tj=10\tk=11",
        "a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8 i=9 j=10 k=11 l=12 m=13 n=14 o=15 p=16",
        "1.2.3.4 - u [01/Jan/2024:00:00:00 +0000] \"GET /a?b HTTP/1.1\" 200 1 \"r\" \"ua\""};
    for (size_t i = 0; i < 4; i++) {
        ts_arena_reset(small);
        struct ts_event e;
        ts_event_init(&e, small);
        e.raw = lines[i];
        e.raw_len = (uint32_t)strlen(lines[i]);
        int rc = ingest_parse(fmts[i], NULL, &e, &diag);
        ck_assert_msg(rc == TS_E_NOMEM, "format %zu: rc %d", i, rc);
        ck_assert_ptr_nonnull(diag.reason);
    }
    ts_arena_destroy(small);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("formats");
    TCase *tc = tcase_create("formats");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_format_names_round_trip);
    tcase_add_test(tc, test_cef_header_and_extension_fields);
    tcase_add_test(tc, test_cef_header_escaped_pipe_and_backslash);
    tcase_add_test(tc, test_cef_extension_values_with_spaces_and_escapes);
    tcase_add_test(tc, test_cef_backslash_before_other_chars_is_kept);
    tcase_add_test(tc, test_cef_after_rfc3164_header_keeps_host_and_time);
    tcase_add_test(tc, test_cef_after_program_tag_and_rfc5424_header);
    tcase_add_test(tc, test_cef_without_host_before_payload);
    tcase_add_test(tc, test_cef_rt_sets_event_time_epoch_ms_and_text);
    tcase_add_test(tc, test_cef_bad_rt_warns_and_keeps_ingest_time);
    tcase_add_test(tc, test_cef_truncated_header_is_rejected_with_reason);
    tcase_add_test(tc, test_cef_empty_extension_and_garbage_tokens);
    tcase_add_test(tc, test_leef1_tab_delimited_attributes);
    tcase_add_test(tc, test_leef2_custom_delimiter_char_and_hex);
    tcase_add_test(tc, test_leef2_without_delimiter_field_uses_tab);
    tcase_add_test(tc, test_leef_after_syslog_header_and_bad_devtime);
    tcase_add_test(tc, test_leef_truncated_header_is_rejected);
    tcase_add_test(tc, test_kv_fortigate_pairs_and_quotes);
    tcase_add_test(tc, test_kv_date_time_with_tz);
    tcase_add_test(tc, test_kv_after_syslog_header_and_bare_tokens);
    tcase_add_test(tc, test_kv_unterminated_quote_takes_rest);
    tcase_add_test(tc, test_kv_without_pairs_is_rejected);
    tcase_add_test(tc, test_kv_not_detected_in_ordinary_syslog);
    tcase_add_test(tc, test_access_combined_w3c_fields);
    tcase_add_test(tc, test_access_common_dashes_and_ipv6);
    tcase_add_test(tc, test_access_escaped_quotes_and_junk_request);
    tcase_add_test(tc, test_access_bad_time_warns_and_bad_shape_rejects);
    tcase_add_test(tc, test_access_shape_not_confused_with_syslog_or_apache_error);
    tcase_add_test(tc, test_public_parsers_match_ingest_parse);
    tcase_add_test(tc, test_formats_report_arena_full);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
