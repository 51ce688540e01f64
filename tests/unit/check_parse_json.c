/* check_parse_json.c - the JSON message parser: flattening, strings and
 * escapes, numbers, lists, errors and caps, event time. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../core/arena.h"
#include "../../core/buf.h"
#include "../../core/event.h"
#include "../../core/tstime.h"
#include "../../ingest/ingest.h"
#include "check_util.h"

static struct ts_arena *arena;
static struct ts_event ev;
static struct ingest_diag diag;

#define INGEST_NS (ts_epoch_from_utc(2024, 6, 15, 12, 0, 0) * TS_NS_PER_SEC)

static void setup(void)
{
    ck_assert_int_eq(ts_arena_create(&arena, 4096, 1u << 26), 0);
}

static void teardown(void)
{
    ts_arena_destroy(arena);
    arena = NULL;
}

static int parse_opts(const struct ingest_parse_opts *opts, const char *raw)
{
    size_t len = strlen(raw);
    ts_arena_reset(arena);
    ts_event_init(&ev, arena);
    ev.raw = ts_arena_strndup(arena, raw, len);
    ck_assert_ptr_nonnull(ev.raw);
    ev.raw_len = (uint32_t)len;
    ev.ingest_ns = INGEST_NS;
    memset(&diag, 0xff, sizeof(diag));
    return ingest_parse(INGEST_FMT_JSON, opts, &ev, &diag);
}

static int parse(const char *raw)
{
    return parse_opts(NULL, raw);
}

static void ok(int rc)
{
    ck_assert_msg(rc == 0, "rejected: %s", rc && diag.reason ? diag.reason : "?");
    ck_assert_ptr_null(diag.reason);
}

static const struct ts_field *get(const char *name, enum ts_vtype type)
{
    const struct ts_field *f = ts_event_getz(&ev, name);
    ck_assert_msg(f != NULL, "field %s missing", name);
    ck_assert_msg(f->v.type == type, "field %s has type %d, want %d", name, f->v.type, type);
    return f;
}

static void assert_str_n(const char *name, const char *want, size_t n)
{
    const struct ts_field *f = get(name, TS_V_STR);
    ck_assert_msg(f->v.len == n && memcmp(f->v.u.s, want, n) == 0,
                  "field %s is \"%.*s\", want \"%.*s\"", name, (int)f->v.len, f->v.u.s, (int)n,
                  want);
}

static void assert_str(const char *name, const char *want)
{
    assert_str_n(name, want, strlen(want));
}

static bool points_into_raw(const char *p)
{
    return p >= ev.raw && p < ev.raw + ev.raw_len;
}

static void assert_reject(const char *raw, const char *reason)
{
    ck_assert_int_eq(parse(raw), TS_E_PARSE);
    ck_assert_ptr_nonnull(diag.reason);
    ck_assert_msg(strcmp(diag.reason, reason) == 0, "input %s: reason \"%s\", want \"%s\"", raw,
                  diag.reason, reason);
}

/* ------------------------------------------------------------ structure */

START_TEST(test_json_scalars_get_their_types)
{
    ok(parse("{\"s\":\"x\",\"i\":42,\"n\":-7,\"z\":0,\"f\":1.5,\"e\":-2e3,\"E\":1E+2,"
             "\"t\":true,\"F\":false,\"u\":null}"));
    ck_assert_str_eq(ev.format, "json");
    ck_assert_uint_eq(ev.nfields, 10);
    assert_str("s", "x");
    ck_assert_int_eq(get("i", TS_V_INT)->v.u.i, 42);
    ck_assert_int_eq(get("n", TS_V_INT)->v.u.i, -7);
    ck_assert_int_eq(get("z", TS_V_INT)->v.u.i, 0);
    ck_assert_double_eq(get("f", TS_V_FLOAT)->v.u.f, 1.5);
    ck_assert_double_eq(get("e", TS_V_FLOAT)->v.u.f, -2000.0);
    ck_assert_double_eq(get("E", TS_V_FLOAT)->v.u.f, 100.0);
    ck_assert(get("t", TS_V_BOOL)->v.u.b);
    ck_assert(!get("F", TS_V_BOOL)->v.u.b);
    get("u", TS_V_NULL);
}
END_TEST

START_TEST(test_json_nested_objects_flatten_to_dotted_names)
{
    ok(parse("{\"Event\":{\"#attributes\":{\"xmlns\":\"x\"},\"System\":{\"EventID\":1,"
             "\"Provider\":{\"#attributes\":{\"Name\":\"Sysmon\"}}},\"EventData\":{"
             "\"Image\":\"C:\\\\Windows\\\\cmd.exe\"},\"empty\":{}},\"winlog\":{\"event_data\":"
             "{\"Image\":\"a\"}},\"top\":1}"));
    ck_assert_int_eq(get("Event.System.EventID", TS_V_INT)->v.u.i, 1);
    assert_str("Event.#attributes.xmlns", "x");
    assert_str("Event.System.Provider.#attributes.Name", "Sysmon");
    assert_str("Event.EventData.Image", "C:\\Windows\\cmd.exe");
    assert_str("winlog.event_data.Image", "a");
    ck_assert_int_eq(get("top", TS_V_INT)->v.u.i, 1);
    ck_assert_ptr_null(ts_event_getz(&ev, "Event.empty"));
    ck_assert_uint_eq(ev.nfields, 6);
    /* names are NUL-terminated */
    const struct ts_field *f = ts_event_getz(&ev, "Event.System.EventID");
    ck_assert_uint_eq(strlen(f->name), f->name_len);
}
END_TEST

START_TEST(test_json_strings_borrow_raw_unless_escaped)
{
    const char *in = "{\"plain\":\"hello\",\"esc\":\"a\\tb\"}";
    ok(parse(in));
    const struct ts_field *p = get("plain", TS_V_STR);
    ck_assert(points_into_raw(p->v.u.s));
    const struct ts_field *e = get("esc", TS_V_STR);
    ck_assert(!points_into_raw(e->v.u.s));
    ck_assert_uint_eq(e->v.len, 3);
    ck_assert_str_eq(e->v.u.s, "a\tb");
    ck_assert_str_eq(ev.raw, in); /* raw is never modified */
}
END_TEST

START_TEST(test_json_escapes_are_decoded)
{
    ok(parse("{\"a\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\",\"u\":\"caf\\u00e9 \\u20AC\","
             "\"k\\u0065y\":1,\"nul\":\"x\\u0000y\"}"));
    assert_str("a", "q\" b\\ s/ \b\f\n\r\t");
    assert_str("u", "caf\xC3\xA9 \xE2\x82\xAC");
    ck_assert_int_eq(get("key", TS_V_INT)->v.u.i, 1);
    assert_str_n("nul", "x\0y", 3);
}
END_TEST

/* unescape copies 16 bytes at a time and cuts the copy at a backslash: an
 * escape at every offset of strings (and keys) 1 to 48 bytes long, twice per
 * string, decodes as byte by byte would */
START_TEST(test_json_escapes_at_every_offset_of_a_16_byte_copy)
{
    static const char *const esc[] = {"\\\\", "\\\"", "\\/", "\\n", "\\t", "\\u00e9", "\\u20ac"};
    static const char *const dec[] = {"\\", "\"", "/", "\n", "\t", "\xC3\xA9", "\xE2\x82\xAC"};
    for (size_t len = 1; len <= 48; len++)
        for (size_t at = 0; at < len; at++) {
            size_t e1 = (len + at) % 7, e2 = (at * 3) % 7, second = (at + 17) % len;
            char raw[512], want[256], key[300];
            size_t r = 0, w = 0;
            for (size_t i = 0; i < len; i++) {
                if (i == at || i == second) {
                    size_t e = i == at ? e1 : e2;
                    r += (size_t)snprintf(raw + r, sizeof(raw) - r, "%s", esc[e]);
                    w += (size_t)snprintf(want + w, sizeof(want) - w, "%s", dec[e]);
                } else {
                    raw[r++] = want[w++] = (char)('a' + i % 26);
                }
            }
            raw[r] = want[w] = '\0';
            char json[1200];
            snprintf(json, sizeof(json), "{\"v\":\"%s\",\"o\":{\"%s\":1}}", raw, raw);
            ok(parse(json));
            assert_str_n("v", want, w);
            snprintf(key, sizeof(key), "o.%s", want);
            const struct ts_field *f = ts_event_get(&ev, key, strlen(key));
            ck_assert_msg(f != NULL, "len %zu, escape at %zu: key not decoded", len, at);
        }
}
END_TEST

START_TEST(test_json_surrogate_pairs_become_utf8)
{
    ok(parse("{\"e\":\"\\ud83d\\ude00!\",\"lone\":\"a\\ud800b\",\"low\":\"\\udc00\","
             "\"raw\":\"\xF0\x9F\x98\x80\"}"));
    assert_str("e", "\xF0\x9F\x98\x80!");
    assert_str("lone", "a\xEF\xBF\xBD" "b"); /* lone surrogate: U+FFFD */
    assert_str("low", "\xEF\xBF\xBD");
    assert_str("raw", "\xF0\x9F\x98\x80");
    for (uint32_t i = 0; i < ev.nfields; i++)
        ck_assert_uint_eq(ts_utf8_valid_prefix(ev.fields[i].v.u.s, ev.fields[i].v.len),
                          ev.fields[i].v.len);
}
END_TEST

START_TEST(test_json_integers_out_of_range_become_float)
{
    ok(parse("{\"max\":9223372036854775807,\"min\":-9223372036854775808,"
             "\"over\":9223372036854775808,\"huge\":123456789012345678901234567890,"
             "\"under\":-9223372036854775809}"));
    ck_assert_int_eq(get("max", TS_V_INT)->v.u.i, INT64_MAX);
    ck_assert_int_eq(get("min", TS_V_INT)->v.u.i, INT64_MIN);
    ck_assert_double_eq(get("over", TS_V_FLOAT)->v.u.f, 9223372036854775808.0);
    ck_assert(fabs(get("huge", TS_V_FLOAT)->v.u.f - 1.2345678901234568e29) < 1e15);
    ck_assert_double_eq(get("under", TS_V_FLOAT)->v.u.f, -9223372036854775808.0);
}
END_TEST

START_TEST(test_json_arrays_of_scalars_become_lists)
{
    ok(parse("{\"l\":[1,\"two\",3.5,true,null],\"e\":[],\"big\":[0,1,2,3,4,5,6,7,8,9,10,11,12,"
             "13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39]}"));
    const struct ts_field *l = get("l", TS_V_LIST);
    ck_assert_uint_eq(l->v.len, 5);
    ck_assert_int_eq(l->v.u.items[0].type, TS_V_INT);
    ck_assert_int_eq(l->v.u.items[0].u.i, 1);
    ck_assert_int_eq(l->v.u.items[1].type, TS_V_STR);
    ck_assert_uint_eq(l->v.u.items[1].len, 3);
    ck_assert(memcmp(l->v.u.items[1].u.s, "two", 3) == 0);
    ck_assert_int_eq(l->v.u.items[2].type, TS_V_FLOAT);
    ck_assert_int_eq(l->v.u.items[3].type, TS_V_BOOL);
    ck_assert_int_eq(l->v.u.items[4].type, TS_V_NULL);
    ck_assert_uint_eq(get("e", TS_V_LIST)->v.len, 0);
    const struct ts_field *b = get("big", TS_V_LIST);
    ck_assert_uint_eq(b->v.len, 40);
    for (uint32_t i = 0; i < 40; i++)
        ck_assert_int_eq(b->v.u.items[i].u.i, i);
}
END_TEST

START_TEST(test_json_arrays_with_containers_keep_raw_text)
{
    ok(parse("{\"a\":[1,{\"x\":[2,3]},[4]] ,\"b\":[[]],\"after\":1}"));
    assert_str("a", "[1,{\"x\":[2,3]},[4]]");
    assert_str("b", "[[]]");
    ck_assert_ptr_null(ts_event_getz(&ev, "a.x"));
    ck_assert_int_eq(get("after", TS_V_INT)->v.u.i, 1);
}
END_TEST

START_TEST(test_json_whitespace_and_trailing_newline_accepted)
{
    ok(parse(" \t{ \"a\" : 1 ,\n \"b\" :\r\n[ 1 , 2 ] } \r\n"));
    ck_assert_int_eq(get("a", TS_V_INT)->v.u.i, 1);
    ck_assert_uint_eq(get("b", TS_V_LIST)->v.len, 2);
}
END_TEST

START_TEST(test_json_duplicate_keys_first_wins_on_get)
{
    ok(parse("{\"a\":1,\"a\":2}"));
    ck_assert_uint_eq(ev.nfields, 2);
    ck_assert_int_eq(get("a", TS_V_INT)->v.u.i, 1);
}
END_TEST

/* --------------------------------------------------------------- errors */

START_TEST(test_json_errors_give_byte_and_reason)
{
    assert_reject("{\"a\" 1}", "invalid JSON at byte 5: expected ':'");
    assert_reject("{\"a\":1} x", "invalid JSON at byte 8: trailing data after the object");
    assert_reject("{\"a\":1}{}", "invalid JSON at byte 7: trailing data after the object");
    assert_reject("{\"a\":\"abc", "invalid JSON at byte 5: unterminated string");
    assert_reject("{\"a\":\"\\x\"}", "invalid JSON at byte 6: bad escape");
    assert_reject("{\"a\":\"\\u12G4\"}", "invalid JSON at byte 6: bad \\u escape");
    assert_reject("[1,2]", "invalid JSON at byte 0: expected '{'");
    assert_reject("\"s\"", "invalid JSON at byte 0: expected '{'");
    assert_reject("{a:1}", "invalid JSON at byte 1: expected a string key");
    assert_reject("{\"a\":1,}", "invalid JSON at byte 7: expected a string key");
    assert_reject("{\"a\":[1,]}", "invalid JSON at byte 8: expected a value");
    assert_reject("{\"a\":tru}", "invalid JSON at byte 5: invalid literal");
    assert_reject("{\"a\":01}", "invalid JSON at byte 6: expected ',' or '}'");
    assert_reject("{\"a\":1.}", "invalid JSON at byte 7: invalid number: digit expected after '.'");
    assert_reject("{\"a\":-}", "invalid JSON at byte 5: invalid number");
    assert_reject("{\"a\":1e}", "invalid JSON at byte 7: invalid number: digit expected in exponent");
    assert_reject("{\"a\":\"x\ty\"}", "invalid JSON at byte 7: control character in string");
    assert_reject("{\"a\":{\"b\":1}", "invalid JSON at byte 12: expected ',' or '}'");
    assert_reject("{\"a\":[{\"b\":1]}", "invalid JSON at byte 12: expected ',' or '}'");
    assert_reject("{", "invalid JSON at byte 1: expected a string key");
    assert_reject("{\"a\":NaN}", "invalid JSON at byte 5: expected a value");
}
END_TEST

/* depth: the top-level object is 1; 64 levels pass, 65 do not. */
static void nest(char *buf, size_t cap, int depth, bool arrays)
{
    size_t n = 0;
    for (int i = 0; i < depth; i++)
        n += (size_t)snprintf(buf + n, cap - n, i == 0 ? "{" : arrays ? "[" : "\"k\":{");
    n += (size_t)snprintf(buf + n, cap - n, arrays ? "1" : "\"v\":1");
    for (int i = depth - 1; i >= 0; i--)
        n += (size_t)snprintf(buf + n, cap - n, i == 0 ? "}" : arrays ? "]" : "}");
    ck_assert_uint_lt(n, cap);
}

START_TEST(test_json_depth_is_capped_at_64)
{
    char buf[1024];
    nest(buf, sizeof(buf), 64, false);
    ok(parse(buf));
    ck_assert_uint_eq(ev.nfields, 1);
    ck_assert_uint_eq(ev.fields[0].name_len, 63 * 2 + 1);
    nest(buf, sizeof(buf), 65, false);
    ck_assert_int_eq(parse(buf), TS_E_PARSE);
    ck_assert_ptr_nonnull(strstr(diag.reason, "nesting deeper than 64"));

    /* arrays count too: {"a":[[...]]} */
    char arr[1024];
    size_t n = (size_t)snprintf(arr, sizeof(arr), "{\"a\":");
    for (int i = 0; i < 63; i++)
        arr[n++] = '[';
    arr[n++] = '1';
    for (int i = 0; i < 63; i++)
        arr[n++] = ']';
    arr[n++] = '}';
    arr[n] = '\0';
    ok(parse(arr));
    n = (size_t)snprintf(arr, sizeof(arr), "{\"a\":");
    for (int i = 0; i < 64; i++)
        arr[n++] = '[';
    arr[n++] = '1';
    for (int i = 0; i < 64; i++)
        arr[n++] = ']';
    arr[n++] = '}';
    arr[n] = '\0';
    ck_assert_int_eq(parse(arr), TS_E_PARSE);
    ck_assert_ptr_nonnull(strstr(diag.reason, "nesting deeper than 64"));
    ck_assert_str_eq(diag.limit, "json_depth");
}
END_TEST

START_TEST(test_json_field_count_is_capped)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(ts_buf_putc(&b, '{'), 0);
    for (int i = 0; i < TS_EVENT_MAX_FIELDS + 1; i++)
        ck_assert_int_eq(ts_buf_printf(&b, "%s\"f%d\":%d", i ? "," : "", i, i), 0);
    ck_assert_int_eq(ts_buf_putc(&b, '}'), 0);
    ck_assert_int_eq(parse(b.data), TS_E_LIMIT);
    ck_assert_ptr_nonnull(diag.reason);
    ck_assert_ptr_nonnull(strstr(diag.reason, "more fields than the limit"));
    ck_assert_str_eq(diag.limit, "fields");
    ts_buf_free(&b);
}
END_TEST

/* Hostile input (issue 15, part 2): a million-deep nesting would overflow
 * the stack of a recursive parser; it stops at the depth limit, and the
 * refusal names the limit it hit (counted as ingest_stats.limit_refused). An
 * ordinary syntax error names none. */
START_TEST(test_json_hostile_nesting_stops_at_the_depth_limit_and_names_it)
{
    size_t depth = 150000; /* 750 KB: under the 1 MiB message limit */
    char *s = malloc(depth * 6 + 16);
    ck_assert_ptr_nonnull(s);
    for (int arrays = 0; arrays < 2; arrays++) {
        size_t n = 0;
        for (size_t i = 0; i < depth; i++) {
            memcpy(s + n, arrays ? "[" : "{\"a\":", arrays ? 1 : 5);
            n += arrays ? 1 : 5;
        }
        s[n] = '\0';
        if (arrays) { /* the top level must be an object */
            memcpy(s, "{\"a\":", 5);
        }
        ck_assert_int_eq(parse(s), TS_E_PARSE);
        ck_assert_ptr_nonnull(strstr(diag.reason, "nesting deeper than 64 (the limit)"));
        ck_assert_str_eq(diag.limit, "json_depth");
    }
    free(s);
    ck_assert_int_eq(parse("{\"a\":1,}"), TS_E_PARSE);
    ck_assert_ptr_null(diag.limit);
    ok(parse("{\"a\":1}"));
    ck_assert_ptr_null(diag.limit);
}
END_TEST

/* A message over max_message_bytes is refused at the size limit (not read). */
START_TEST(test_json_message_over_the_size_limit_names_the_limit)
{
    struct ingest_parse_opts o = {.max_msg_bytes = 64};
    char buf[256];
    snprintf(buf, sizeof(buf), "{\"f\":\"%0100d\"}", 7);
    ck_assert_int_eq(parse_opts(&o, buf), TS_E_PARSE);
    ck_assert_ptr_nonnull(strstr(diag.reason, "exceeds the limit of 64"));
    ck_assert_str_eq(diag.limit, "message_size");
}
END_TEST

/* ------------------------------------------------------------ event time */

START_TEST(test_json_time_from_iso_timestamp)
{
    ok(parse("{\"@timestamp\":\"2024-04-01T12:34:56.123+07:00\",\"time\":\"junk\"}"));
    ck_assert_ptr_null(diag.warning);
    ck_assert(ev.time_from_event);
    ck_assert_int_eq(ev.time_ns,
                     ts_epoch_from_utc(2024, 4, 1, 5, 34, 56) * TS_NS_PER_SEC + 123000000);
}
END_TEST

START_TEST(test_json_time_zoneless_uses_tz_offset)
{
    struct ingest_parse_opts o = {.tz_offset_sec = -5 * 3600};
    ok(parse_opts(&o, "{\"UtcTime\":\"2024-04-01 12:00:00.500\"}"));
    ck_assert_int_eq(ev.time_ns, ts_epoch_from_utc(2024, 4, 1, 17, 0, 0) * TS_NS_PER_SEC +
                                     500000000);
}
END_TEST

START_TEST(test_json_time_field_priority_order)
{
    ok(parse("{\"date\":\"2020-01-01T00:00:00Z\",\"EventTime\":\"2021-01-01T00:00:00Z\","
             "\"timestamp\":\"2022-01-01T00:00:00Z\"}"));
    ck_assert_int_eq(ev.time_ns, ts_epoch_from_utc(2022, 1, 1, 0, 0, 0) * TS_NS_PER_SEC);
    ok(parse("{\"Event\":{\"System\":{\"TimeCreated\":{\"#attributes\":{\"SystemTime\":"
             "\"2019-03-04T05:06:07.123456Z\"}}}}}"));
    ck_assert(ev.time_from_event);
    ck_assert_int_eq(ev.time_ns,
                     ts_epoch_from_utc(2019, 3, 4, 5, 6, 7) * TS_NS_PER_SEC + 123456000);
}
END_TEST

START_TEST(test_json_time_bsd_string_infers_year)
{
    struct ingest_parse_opts o = {.ref_ns = ts_epoch_from_utc(2024, 1, 2, 0, 0, 0) * TS_NS_PER_SEC};
    ok(parse_opts(&o, "{\"timestamp\":\"Dec 30 23:00:00\"}"));
    ck_assert_ptr_null(diag.warning);
    ck_assert_int_eq(ev.time_ns, ts_epoch_from_utc(2023, 12, 30, 23, 0, 0) * TS_NS_PER_SEC);
    ok(parse_opts(&o, "{\"timestamp\":\"Jan 1 10:00:00\"}"));
    ck_assert_int_eq(ev.time_ns, ts_epoch_from_utc(2024, 1, 1, 10, 0, 0) * TS_NS_PER_SEC);
    ok(parse_opts(&o, "{\"timestamp\":\"Sun Dec 04 04:47:44 2005\"}")); /* asctime */
    ck_assert_int_eq(ev.time_ns, ts_epoch_from_utc(2005, 12, 4, 4, 47, 44) * TS_NS_PER_SEC);
}
END_TEST

START_TEST(test_json_time_epoch_numbers_by_magnitude)
{
    const int64_t s = 1700000000;
    ok(parse("{\"time\":1700000000}"));
    ck_assert_int_eq(ev.time_ns, s * TS_NS_PER_SEC);
    ok(parse("{\"time\":1700000000.25}"));
    ck_assert_int_eq(ev.time_ns, s * TS_NS_PER_SEC + 250000000);
    ok(parse("{\"time\":1700000000123}"));
    ck_assert_int_eq(ev.time_ns, s * TS_NS_PER_SEC + 123000000);
    ok(parse("{\"time\":1700000000123456789}"));
    ck_assert_int_eq(ev.time_ns, s * TS_NS_PER_SEC + 123456789);
    ok(parse("{\"time\":1.7e9}"));
    ck_assert_int_eq(ev.time_ns, s * TS_NS_PER_SEC);
    ck_assert(ev.time_from_event);
    ck_assert_ptr_null(diag.warning);
}
END_TEST

START_TEST(test_json_time_unparsable_warns_and_uses_ingest_time)
{
    ok(parse("{\"@timestamp\":\"not a \\\"time\\\" at all, really not one\",\"a\":1}"));
    ck_assert(!ev.time_from_event);
    ck_assert_int_eq(ev.time_ns, INGEST_NS);
    ck_assert_str_eq(diag.warning,
                     "unparsable timestamp \"not a ?time? at all, really not \", using ingest time");
    ok(parse("{\"time\":true}"));
    ck_assert_ptr_nonnull(diag.warning);
    ck_assert(!ev.time_from_event);
    ok(parse("{\"time\":1e300}"));
    ck_assert_ptr_nonnull(diag.warning);
    ok(parse("{\"time\":99999999999}")); /* seconds, but past 2262 */
    ck_assert_ptr_nonnull(diag.warning);
    ok(parse("{\"time\":\"1024-01-01T00:00:00Z\"}")); /* ns would overflow */
    ck_assert_ptr_nonnull(diag.warning);
}
END_TEST

START_TEST(test_json_no_time_field_uses_ingest_time_without_warning)
{
    ok(parse("{\"msg\":\"hello\",\"times\":\"2024-01-01T00:00:00Z\"}"));
    ck_assert_ptr_null(diag.warning);
    ck_assert(!ev.time_from_event);
    ck_assert_int_eq(ev.time_ns, INGEST_NS);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("parse_json");
    TCase *t = tcase_create("structure");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_json_scalars_get_their_types);
    tcase_add_test(t, test_json_nested_objects_flatten_to_dotted_names);
    tcase_add_test(t, test_json_strings_borrow_raw_unless_escaped);
    tcase_add_test(t, test_json_escapes_are_decoded);
    tcase_add_test(t, test_json_escapes_at_every_offset_of_a_16_byte_copy);
    tcase_add_test(t, test_json_surrogate_pairs_become_utf8);
    tcase_add_test(t, test_json_integers_out_of_range_become_float);
    tcase_add_test(t, test_json_arrays_of_scalars_become_lists);
    tcase_add_test(t, test_json_arrays_with_containers_keep_raw_text);
    tcase_add_test(t, test_json_whitespace_and_trailing_newline_accepted);
    tcase_add_test(t, test_json_duplicate_keys_first_wins_on_get);
    suite_add_tcase(s, t);

    TCase *e = tcase_create("errors");
    tcase_add_checked_fixture(e, setup, teardown);
    tcase_add_test(e, test_json_errors_give_byte_and_reason);
    tcase_add_test(e, test_json_depth_is_capped_at_64);
    tcase_add_test(e, test_json_field_count_is_capped);
    tcase_add_test(e, test_json_hostile_nesting_stops_at_the_depth_limit_and_names_it);
    tcase_add_test(e, test_json_message_over_the_size_limit_names_the_limit);
    suite_add_tcase(s, e);

    TCase *tm = tcase_create("time");
    tcase_add_checked_fixture(tm, setup, teardown);
    tcase_add_test(tm, test_json_time_from_iso_timestamp);
    tcase_add_test(tm, test_json_time_zoneless_uses_tz_offset);
    tcase_add_test(tm, test_json_time_field_priority_order);
    tcase_add_test(tm, test_json_time_bsd_string_infers_year);
    tcase_add_test(tm, test_json_time_epoch_numbers_by_magnitude);
    tcase_add_test(tm, test_json_time_unparsable_warns_and_uses_ingest_time);
    tcase_add_test(tm, test_json_no_time_field_uses_ingest_time_without_warning);
    suite_add_tcase(s, tm);
    return s;
}

TS_CHECK_MAIN(make_suite)
