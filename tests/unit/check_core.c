/* check_core.c - unit tests for core/: arena, event, buf, tstime, queue, err.
 *
 * Pins the documented behaviour of each core module. Deterministic: the only
 * threads are in the queue tests, whose assertions do not depend on timing.
 * Everything allocated is freed (the suite runs clean under ASan + UBSan).
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../core/arena.h"
#include "../../core/buf.h"
#include "../../core/event.h"
#include "../../core/event_json.h"
#include "../../core/queue.h"
#include "../../core/ts.h"
#include "../../core/tstime.h"
#include "check_util.h"

static void sleep_ms(long ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

/* ================================================================= arena */

START_TEST(test_arena_create_rejects_bad_sizes)
{
    struct ts_arena *a = (struct ts_arena *)1;
    ck_assert_int_eq(ts_arena_create(&a, 32, 4096), TS_E_INVAL);
    ck_assert_ptr_null(a);
    a = (struct ts_arena *)1;
    ck_assert_int_eq(ts_arena_create(&a, 4096, 1024), TS_E_INVAL);
    ck_assert_ptr_null(a);
}
END_TEST

START_TEST(test_arena_alloc_is_8_byte_aligned)
{
    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 256, 1 << 20), 0);
    static const size_t sizes[] = {1, 3, 5, 7, 8, 9, 13, 17, 0, 31, 250, 1000, 2, 600, 1};
    for (size_t r = 0; r < 20; r++) {
        for (size_t i = 0; i < TS_ARRAY_LEN(sizes); i++) {
            unsigned char *p = ts_arena_alloc(a, sizes[i]);
            ck_assert_ptr_nonnull(p);
            ck_assert_uint_eq((uintptr_t)p % 8, 0);
            memset(p, 0xAB, sizes[i] ? sizes[i] : 1);
        }
    }
    ts_arena_destroy(a);
}
END_TEST

START_TEST(test_arena_strndup_copies_n_bytes_and_terminates)
{
    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 256, 4096), 0);
    char *s = ts_arena_strndup(a, "hello world", 5);
    ck_assert_str_eq(s, "hello");
    char *e = ts_arena_strndup(a, "ignored", 0);
    ck_assert_str_eq(e, "");
    char *z = ts_arena_strndup(a, "a\0b", 3); /* embedded NUL is copied */
    ck_assert_int_eq(z[0], 'a');
    ck_assert_int_eq(z[1], '\0');
    ck_assert_int_eq(z[2], 'b');
    ck_assert_int_eq(z[3], '\0');
    ck_assert_str_eq(s, "hello"); /* earlier copies untouched */
    ts_arena_destroy(a);
}
END_TEST

START_TEST(test_arena_many_allocs_span_chunks_without_overlap)
{
    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 256, 1 << 20), 0);
    enum { N = 1000, SZ = 40 };
    unsigned char *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = ts_arena_alloc(a, SZ);
        ck_assert_ptr_nonnull(p[i]);
        memset(p[i], (unsigned char)i, SZ);
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < SZ; j++)
            if (p[i][j] != (unsigned char)i)
                ck_abort_msg("allocation %d was overwritten", i);
    ck_assert_uint_eq(ts_arena_used(a), (size_t)N * SZ);
    ts_arena_destroy(a);
}
END_TEST

START_TEST(test_arena_alloc_bigger_than_chunk_succeeds)
{
    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 256, 1 << 20), 0);
    /* head chunk has room left (private big chunk case) */
    unsigned char *s1 = ts_arena_alloc(a, 16);
    unsigned char *big = ts_arena_alloc(a, 10000);
    unsigned char *s2 = ts_arena_alloc(a, 16);
    ck_assert_ptr_nonnull(s1);
    ck_assert_ptr_nonnull(big);
    ck_assert_ptr_nonnull(s2);
    memset(s1, 1, 16);
    memset(big, 2, 10000);
    memset(s2, 3, 16);
    ck_assert_uint_eq(s1[15], 1);
    ck_assert_uint_eq(big[0], 2);
    ck_assert_uint_eq(big[9999], 2);
    ck_assert_uint_eq(s2[0], 3);
    /* head chunk nearly full */
    ck_assert_ptr_nonnull(ts_arena_alloc(a, 200));
    unsigned char *big2 = ts_arena_alloc(a, 5000);
    ck_assert_ptr_nonnull(big2);
    memset(big2, 4, 5000);
    unsigned char *s3 = ts_arena_alloc(a, 8);
    ck_assert_ptr_nonnull(s3);
    memset(s3, 5, 8);
    ck_assert_uint_eq(big2[4999], 4);
    ck_assert_uint_eq(big[5000], 2);
    ts_arena_destroy(a);
}
END_TEST

START_TEST(test_arena_alloc_fails_past_cap)
{
    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 256, 1024), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_ptr_nonnull(ts_arena_alloc(a, 256));
    ck_assert_ptr_null(ts_arena_alloc(a, 256));
    ck_assert_ptr_null(ts_arena_alloc(a, 8));
    ck_assert_uint_eq(ts_arena_used(a), 1024);
    ts_arena_destroy(a);
}
END_TEST

START_TEST(test_arena_alloc_bigger_than_cap_fails)
{
    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 256, 4096), 0);
    ck_assert_ptr_null(ts_arena_alloc(a, 5000));
    ck_assert_ptr_null(ts_arena_alloc(a, SIZE_MAX));
    ck_assert_ptr_null(ts_arena_alloc(a, SIZE_MAX - 16));
    ck_assert_ptr_null(ts_arena_alloc(a, SIZE_MAX - 32)); /* must not wrap the cap check */
    ck_assert_ptr_null(ts_arena_alloc(a, SIZE_MAX / 2));
    ck_assert_ptr_null(ts_arena_strndup(a, "x", SIZE_MAX));
    /* the failures above leave the arena usable up to its cap */
    for (int i = 0; i < 16; i++)
        ck_assert_ptr_nonnull(ts_arena_alloc(a, 256));
    ck_assert_ptr_null(ts_arena_alloc(a, 8));
    ts_arena_destroy(a);
}
END_TEST

START_TEST(test_arena_usable_again_after_reset_at_cap)
{
    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 256, 1024), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_ptr_nonnull(ts_arena_alloc(a, 256));
    ck_assert_ptr_null(ts_arena_alloc(a, 1));
    ts_arena_reset(a);
    ck_assert_uint_eq(ts_arena_used(a), 0);
    for (int i = 0; i < 4; i++) {
        unsigned char *p = ts_arena_alloc(a, 256);
        ck_assert_ptr_nonnull(p);
        memset(p, 0x5A, 256);
    }
    ck_assert_ptr_null(ts_arena_alloc(a, 1));
    ts_arena_destroy(a);
}
END_TEST

START_TEST(test_arena_reset_many_cycles_does_not_grow_reserved)
{
    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 256, 4096), 0);
    for (int cycle = 0; cycle < 5000; cycle++) {
        /* mix: small allocs, a big private chunk, sometimes a big first alloc */
        if (cycle % 3 == 0) {
            unsigned char *b0 = ts_arena_alloc(a, 700);
            ck_assert_ptr_nonnull(b0);
            memset(b0, 1, 700);
        }
        for (int i = 0; i < 5; i++) {
            unsigned char *p = ts_arena_alloc(a, 100);
            ck_assert_ptr_nonnull(p);
            memset(p, 2, 100);
        }
        unsigned char *big = ts_arena_alloc(a, 600);
        ck_assert_ptr_nonnull(big);
        memset(big, 3, 600);
        ts_arena_reset(a);
        ck_assert_uint_eq(ts_arena_used(a), 0);
    }
    /* after a reset the arena holds one chunk: the whole cap is available */
    int n = 0;
    while (ts_arena_alloc(a, 256))
        n++;
    ck_assert_int_eq(n, 4096 / 256);
    ts_arena_destroy(a);
}
END_TEST

START_TEST(test_arena_used_counts_bytes_since_reset)
{
    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 256, 4096), 0);
    ck_assert_uint_eq(ts_arena_used(a), 0);
    ck_assert_ptr_nonnull(ts_arena_alloc(a, 3));
    ck_assert_ptr_nonnull(ts_arena_alloc(a, 16));
    size_t u = ts_arena_used(a);
    ck_assert_uint_ge(u, 19);
    ck_assert_uint_eq(u % 8, 0);
    ts_arena_reset(a);
    ck_assert_uint_eq(ts_arena_used(a), 0);
    ts_arena_destroy(a);
}
END_TEST

START_TEST(test_arena_destroy_accepts_null)
{
    ts_arena_destroy(NULL);
}
END_TEST

/* ================================================================= event */

struct evfix {
    struct ts_arena *a;
    struct ts_event ev;
};

static void evfix_init(struct evfix *f, size_t chunk, size_t cap)
{
    ck_assert_int_eq(ts_arena_create(&f->a, chunk, cap), 0);
    ts_event_init(&f->ev, f->a);
}

START_TEST(test_event_init_is_empty)
{
    struct evfix f;
    evfix_init(&f, 4096, 1 << 20);
    ck_assert_uint_eq(f.ev.nfields, 0);
    ck_assert_str_eq(f.ev.tenant, "");
    ck_assert_str_eq(f.ev.raw, "");
    ck_assert_ptr_eq(f.ev.arena, f.a);
    ck_assert_ptr_null(ts_event_getz(&f.ev, "anything"));
    ts_arena_destroy(f.a);
}
END_TEST

START_TEST(test_event_add_get_each_type)
{
    struct evfix f;
    evfix_init(&f, 4096, 1 << 20);
    struct ts_ip ip;
    ck_assert_int_eq(ts_ip_parse("192.0.2.10", 10, &ip), 0);
    ck_assert_int_eq(ts_event_add_str(&f.ev, "user", "root", 4), 0);
    ck_assert_int_eq(ts_event_add_int(&f.ev, "port", -22), 0);
    ck_assert_int_eq(ts_event_add_float(&f.ev, "score", 0.75), 0);
    ck_assert_int_eq(ts_event_add_bool(&f.ev, "ok", true), 0);
    ck_assert_int_eq(ts_event_add_ip(&f.ev, "src_ip", &ip), 0);
    struct ts_value items[2] = {ts_v_int(1), ts_v_str("x", 1)};
    struct ts_value lv = {.type = TS_V_LIST, .len = 2};
    lv.u.items = items;
    ck_assert_int_eq(ts_event_add(&f.ev, "tags", 4, &lv), 0);
    struct ts_value nv = {.type = TS_V_NULL};
    ck_assert_int_eq(ts_event_add(&f.ev, "nothing", 7, &nv), 0);
    ck_assert_uint_eq(f.ev.nfields, 7);

    const struct ts_field *fl = ts_event_getz(&f.ev, "user");
    ck_assert_ptr_nonnull(fl);
    ck_assert_int_eq(fl->v.type, TS_V_STR);
    ck_assert_uint_eq(fl->v.len, 4);
    ck_assert_str_eq(fl->v.u.s, "root");
    ck_assert_uint_eq(fl->name_len, 4);

    fl = ts_event_getz(&f.ev, "port");
    ck_assert_int_eq(fl->v.type, TS_V_INT);
    ck_assert_int_eq(fl->v.u.i, -22);

    fl = ts_event_getz(&f.ev, "score");
    ck_assert_int_eq(fl->v.type, TS_V_FLOAT);
    ck_assert(fl->v.u.f == 0.75);

    fl = ts_event_getz(&f.ev, "ok");
    ck_assert_int_eq(fl->v.type, TS_V_BOOL);
    ck_assert(fl->v.u.b);

    fl = ts_event_getz(&f.ev, "src_ip");
    ck_assert_int_eq(fl->v.type, TS_V_IP);
    ck_assert_uint_eq(fl->v.u.ip.family, 4);
    ck_assert_mem_eq(fl->v.u.ip.addr, "\xC0\x00\x02\x0A", 4);

    fl = ts_event_get(&f.ev, "tags", 4);
    ck_assert_int_eq(fl->v.type, TS_V_LIST);
    ck_assert_uint_eq(fl->v.len, 2);
    ck_assert_int_eq(fl->v.u.items[0].u.i, 1);

    fl = ts_event_getz(&f.ev, "nothing");
    ck_assert_ptr_nonnull(fl);
    ck_assert_int_eq(fl->v.type, TS_V_NULL);

    /* exact name match only */
    ck_assert_ptr_null(ts_event_getz(&f.ev, "use"));
    ck_assert_ptr_null(ts_event_getz(&f.ev, "users"));
    ck_assert_ptr_null(ts_event_getz(&f.ev, "User"));
    ck_assert_ptr_nonnull(ts_event_get(&f.ev, "username", 4)); /* length-bounded */
    ts_arena_destroy(f.a);
}
END_TEST

START_TEST(test_event_get_returns_first_of_duplicates)
{
    struct evfix f;
    evfix_init(&f, 4096, 1 << 20);
    ck_assert_int_eq(ts_event_add_int(&f.ev, "x", 1), 0);
    ck_assert_int_eq(ts_event_add_int(&f.ev, "y", 5), 0);
    ck_assert_int_eq(ts_event_add_int(&f.ev, "x", 2), 0);
    ck_assert_uint_eq(f.ev.nfields, 3);
    ck_assert_int_eq(ts_event_getz(&f.ev, "x")->v.u.i, 1);
    ts_arena_destroy(f.a);
}
END_TEST

START_TEST(test_event_set_replaces_first_or_adds)
{
    struct evfix f;
    evfix_init(&f, 4096, 1 << 20);
    ck_assert_int_eq(ts_event_add_int(&f.ev, "x", 1), 0);
    ck_assert_int_eq(ts_event_add_int(&f.ev, "x", 2), 0);
    struct ts_value v = ts_v_str("new", 3);
    ck_assert_int_eq(ts_event_set(&f.ev, "x", 1, &v), 0);
    ck_assert_uint_eq(f.ev.nfields, 2);
    ck_assert_int_eq(f.ev.fields[0].v.type, TS_V_STR);
    ck_assert_str_eq(f.ev.fields[0].v.u.s, "new");
    ck_assert_int_eq(f.ev.fields[1].v.type, TS_V_INT);
    ck_assert_int_eq(f.ev.fields[1].v.u.i, 2);
    struct ts_value w = ts_v_int(9);
    ck_assert_int_eq(ts_event_set(&f.ev, "z", 1, &w), 0);
    ck_assert_uint_eq(f.ev.nfields, 3);
    ck_assert_int_eq(ts_event_getz(&f.ev, "z")->v.u.i, 9);
    ts_arena_destroy(f.a);
}
END_TEST

START_TEST(test_event_growth_past_16_keeps_earlier_values)
{
    struct evfix f;
    evfix_init(&f, 4096, 1 << 20);
    for (int i = 0; i < 200; i++) {
        char tmp[16];
        int n = snprintf(tmp, sizeof(tmp), "f%d", i);
        const char *name = ts_arena_strndup(f.a, tmp, (size_t)n);
        ck_assert_ptr_nonnull(name);
        struct ts_value v = ts_v_int(i * 7);
        ck_assert_int_eq(ts_event_add(&f.ev, name, (size_t)n, &v), 0);
    }
    ck_assert_uint_eq(f.ev.nfields, 200);
    ck_assert_uint_ge(f.ev.cap, 200);
    for (int i = 0; i < 200; i++) {
        char tmp[16];
        snprintf(tmp, sizeof(tmp), "f%d", i);
        const struct ts_field *fl = ts_event_getz(&f.ev, tmp);
        ck_assert_ptr_nonnull(fl);
        ck_assert_int_eq(fl->v.u.i, i * 7);
    }
    ts_event_clear_fields(&f.ev);
    ck_assert_uint_eq(f.ev.nfields, 0);
    ck_assert_ptr_null(ts_event_getz(&f.ev, "f0"));
    ts_arena_destroy(f.a);
}
END_TEST

START_TEST(test_event_add_past_max_fields_returns_limit)
{
    struct evfix f;
    evfix_init(&f, 64 * 1024, 4u << 20);
    for (int i = 0; i < TS_EVENT_MAX_FIELDS; i++)
        ck_assert_int_eq(ts_event_add_int(&f.ev, "n", i), 0);
    ck_assert_uint_eq(f.ev.nfields, TS_EVENT_MAX_FIELDS);
    ck_assert_int_eq(ts_event_add_int(&f.ev, "n", -1), TS_E_LIMIT);
    ck_assert_int_eq(ts_event_add_str(&f.ev, "s", "x", 1), TS_E_LIMIT);
    ck_assert_uint_eq(f.ev.nfields, TS_EVENT_MAX_FIELDS);
    ck_assert_int_eq(f.ev.fields[TS_EVENT_MAX_FIELDS - 1].v.u.i, TS_EVENT_MAX_FIELDS - 1);
    /* set of an existing name still works at the cap */
    struct ts_value v = ts_v_int(42);
    ck_assert_int_eq(ts_event_set(&f.ev, "n", 1, &v), 0);
    ck_assert_int_eq(ts_event_getz(&f.ev, "n")->v.u.i, 42);
    ts_arena_destroy(f.a);
}
END_TEST

START_TEST(test_event_add_returns_nomem_when_arena_full)
{
    struct evfix f;
    evfix_init(&f, 64, 64); /* too small for the first field array */
    ck_assert_int_eq(ts_event_add_int(&f.ev, "x", 1), TS_E_NOMEM);
    ck_assert_uint_eq(f.ev.nfields, 0);
    ts_arena_destroy(f.a);

    /* room for exactly the first 16 fields: the 17th fails, earlier ones stay */
    size_t sz = 16 * sizeof(struct ts_field) + 64;
    evfix_init(&f, sz, sz);
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(ts_event_add_int(&f.ev, "x", i), 0);
    ck_assert_int_eq(ts_event_add_int(&f.ev, "y", 16), TS_E_NOMEM);
    ck_assert_uint_eq(f.ev.nfields, 16);
    ck_assert_int_eq(f.ev.fields[15].v.u.i, 15);
    ck_assert_ptr_null(ts_event_getz(&f.ev, "y"));
    ts_arena_destroy(f.a);
}
END_TEST

static const char *ip_roundtrip(const char *in, char *out, size_t outlen)
{
    struct ts_ip ip;
    if (ts_ip_parse(in, strlen(in), &ip) != 0)
        return NULL;
    return ts_ip_format(&ip, out, outlen);
}

START_TEST(test_ip_parse_format_v4_v6)
{
    char buf[64];
    struct ts_ip ip;
    ck_assert_int_eq(ts_ip_parse("203.0.113.45", 12, &ip), 0);
    ck_assert_uint_eq(ip.family, 4);
    ck_assert_mem_eq(ip.addr, "\xCB\x00\x71\x2D", 4);
    ck_assert_str_eq(ts_ip_format(&ip, buf, sizeof(buf)), "203.0.113.45");

    ck_assert_int_eq(ts_ip_parse("2001:db8::1", 11, &ip), 0);
    ck_assert_uint_eq(ip.family, 6);
    ck_assert_mem_eq(ip.addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    ck_assert_str_eq(ts_ip_format(&ip, buf, sizeof(buf)), "2001:db8::1");

    ck_assert_str_eq(ip_roundtrip("0.0.0.0", buf, sizeof(buf)), "0.0.0.0");
    ck_assert_str_eq(ip_roundtrip("255.255.255.255", buf, sizeof(buf)), "255.255.255.255");
    ck_assert_str_eq(ip_roundtrip("::", buf, sizeof(buf)), "::");
    ck_assert_str_eq(ip_roundtrip("::1", buf, sizeof(buf)), "::1");
    ck_assert_str_eq(ip_roundtrip("2001:DB8:0:0:0:0:0:AB", buf, sizeof(buf)), "2001:db8::ab");
    ck_assert_str_eq(ip_roundtrip("::ffff:192.0.2.1", buf, sizeof(buf)), "::ffff:192.0.2.1");
    ck_assert_str_eq(
        ip_roundtrip("fe80:1:2:3:4:5:6:7", buf, sizeof(buf)), "fe80:1:2:3:4:5:6:7");

    /* IPv4 is formatted without inet_ntop: every octet value, each position */
    for (unsigned v = 0; v < 256; v++) {
        char want[32];
        snprintf(want, sizeof(want), "%u.%u.%u.%u", v, 255 - v, v / 3, (v * 7) % 256);
        ck_assert_str_eq(ip_roundtrip(want, buf, sizeof(buf)), want);
    }
    ck_assert_int_eq(ts_ip_parse("10.0.0.1", 8, &ip), 0);
    ck_assert_str_eq(ts_ip_format(&ip, buf, 16), "10.0.0.1");

    /* len bounds the input: no NUL terminator needed */
    ck_assert_int_eq(ts_ip_parse("10.0.0.1xyz", 8, &ip), 0);
    ck_assert_str_eq(ts_ip_format(&ip, buf, sizeof(buf)), "10.0.0.1");
}
END_TEST

START_TEST(test_ip_parse_rejects_garbage)
{
    static const char *const bad[] = {
        "",           "256.1.1.1",  "1.2.3",      "1.2.3.4.5",          "abc",
        "1.2.3.4 ",   " 1.2.3.4",   "1.2.3.-4",   "2001:db8::g",        "::1::2",
        "1:2:3:4:5:6:7:8:9",        "fe80::1%eth0", "1.2.3.4/24",       "localhost",
        "12345::",    ":",          "0x7f.0.0.1",
    };
    struct ts_ip ip;
    for (size_t i = 0; i < TS_ARRAY_LEN(bad); i++)
        ck_assert_msg(ts_ip_parse(bad[i], strlen(bad[i]), &ip) == TS_E_PARSE, "accepted \"%s\"",
                      bad[i]);
    char longs[100];
    memset(longs, '1', sizeof(longs));
    ck_assert_int_eq(ts_ip_parse(longs, sizeof(longs), &ip), TS_E_PARSE);
    ck_assert_int_eq(ts_ip_parse("1.2.3.4", 0, &ip), TS_E_PARSE);
}
END_TEST

/* =================================================================== buf */

/* JSON-escape s[0..n) into a fresh buffer and compare with want. */
static void check_json(const char *s, size_t n, const char *want)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(ts_buf_json_str(&b, s, n), 0);
    ck_assert_uint_eq(b.len, strlen(want));
    ck_assert_str_eq(b.data, want);
    ts_buf_free(&b);
}
#define CHECK_JSON(lit, want) check_json((lit), sizeof(lit) - 1, (want))

#define FFFD "\xEF\xBF\xBD"

START_TEST(test_buf_json_escapes_quotes_backslash_controls)
{
    CHECK_JSON("", "\"\"");
    CHECK_JSON("plain text", "\"plain text\"");
    CHECK_JSON("a\"b\\c", "\"a\\\"b\\\\c\"");
    CHECK_JSON("\n\r\t", "\"\\n\\r\\t\"");
    CHECK_JSON("\x01\x1f", "\"\\u0001\\u001f\"");
    CHECK_JSON("\b\f", "\"\\u0008\\u000c\"");
    CHECK_JSON("a\0b", "\"a\\u0000b\"");
    CHECK_JSON("\x7f/", "\"\x7f/\""); /* DEL and slash need no escape */
    CHECK_JSON("C:\\Windows\\System32\\cmd.exe \"/c\"",
               "\"C:\\\\Windows\\\\System32\\\\cmd.exe \\\"/c\\\"\"");
}
END_TEST

START_TEST(test_buf_json_passes_valid_utf8)
{
    CHECK_JSON("caf\xC3\xA9", "\"caf\xC3\xA9\"");                   /* é */
    CHECK_JSON("\xE2\x82\xAC", "\"\xE2\x82\xAC\"");                   /* € */
    CHECK_JSON("K\xE1\xBA\xBF to\xC3\xA1n", "\"K\xE1\xBA\xBF to\xC3\xA1n\""); /* Kế toán */
    CHECK_JSON("\xF0\x9F\x98\x80", "\"\xF0\x9F\x98\x80\"");           /* U+1F600 */
    CHECK_JSON("\xF4\x8F\xBF\xBF", "\"\xF4\x8F\xBF\xBF\"");           /* U+10FFFF */
    CHECK_JSON("\xED\x9F\xBF", "\"\xED\x9F\xBF\"");                   /* U+D7FF */
    CHECK_JSON("\xEE\x80\x80", "\"\xEE\x80\x80\"");                   /* U+E000 */
    CHECK_JSON("\xC2\x80", "\"\xC2\x80\"");                           /* U+0080 */
    CHECK_JSON("\xE0\xA0\x80", "\"\xE0\xA0\x80\"");                   /* U+0800 */
    CHECK_JSON("\xF0\x90\x80\x80", "\"\xF0\x90\x80\x80\"");           /* U+10000 */
}
END_TEST

START_TEST(test_buf_json_replaces_invalid_utf8_with_fffd)
{
    CHECK_JSON("\xff", "\"" FFFD "\"");
    CHECK_JSON("a\x80z", "\"a" FFFD "z\"");                       /* lone continuation */
    CHECK_JSON("\xC0\xAF", "\"" FFFD FFFD "\"");                  /* overlong '/' */
    CHECK_JSON("\xC1\xBF", "\"" FFFD FFFD "\"");                  /* overlong */
    CHECK_JSON("\xE0\x80\xAF", "\"" FFFD FFFD FFFD "\"");         /* overlong 3-byte */
    CHECK_JSON("\xF0\x80\x80\xAF", "\"" FFFD FFFD FFFD FFFD "\""); /* overlong 4-byte */
    CHECK_JSON("\xED\xA0\x80", "\"" FFFD FFFD FFFD "\"");         /* surrogate D800 */
    CHECK_JSON("\xED\xBF\xBF", "\"" FFFD FFFD FFFD "\"");         /* surrogate DFFF */
    CHECK_JSON("\xF4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\""); /* > U+10FFFF */
    CHECK_JSON("\xF5\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD "\""); /* bad lead */
    CHECK_JSON("\xE2\x82", "\"" FFFD FFFD "\"");                  /* truncated at end */
    CHECK_JSON("\xE2\x82x", "\"" FFFD FFFD "x\"");                /* truncated mid-string */
    CHECK_JSON("\xC3\x22", "\"" FFFD "\\\"\"");                   /* lead then quote */
}
END_TEST

/* Terminal-escape s[0..n) (at most max bytes) and compare with want. */
static void check_term(const char *s, size_t n, size_t max, const char *want, bool want_cut)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(ts_buf_puts(&b, ">"), 0);
    bool cut = !want_cut;
    ck_assert_int_eq(ts_buf_term_str(&b, s, n, max, &cut), 0);
    ck_assert_msg(strcmp(b.data + 1, want) == 0, "got \"%s\", want \"%s\"", b.data + 1, want);
    ck_assert_uint_eq(b.len, 1 + strlen(want));
    ck_assert(cut == want_cut);
    ts_buf_free(&b);
}
#define CHECK_TERM(lit, want) check_term((lit), sizeof(lit) - 1, 0, (want), false)

START_TEST(test_buf_term_escapes_controls_so_text_cannot_drive_the_terminal)
{
    CHECK_TERM("", "");
    CHECK_TERM("plain \"text\" C:\\x", "plain \"text\" C:\\x");
    CHECK_TERM("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m");
    CHECK_TERM("ok\r\nFORGED line", "ok\\r\\nFORGED line");
    CHECK_TERM("a\tb\0c\x7f\x07\x08", "a\\tb\\x00c\\x7f\\x07\\x08");
    CHECK_TERM("\xC2\x9B" "2J", "\\u009b2J");             /* C1 CSI as UTF-8 */
    CHECK_TERM("\xC2\x80\xC2\x9F\xC2\xA0", "\\u0080\\u009f\xC2\xA0"); /* NBSP is text */
    CHECK_TERM("\x9b" "2J\xff", "\\x9b2J\\xff");           /* bytes that are not UTF-8 */
    CHECK_TERM("user\xE2\x80\xAEgpj.exe", "user\\u202egpj.exe"); /* bidi override */
    CHECK_TERM("\xE2\x80\x8E\xE2\x81\xA6\xE2\x81\xA9\xD8\x9C\xE2\x80\xA8",
               "\\u200e\\u2066\\u2069\\u061c\\u2028");
    CHECK_TERM("K\xE1\xBA\xBF to\xC3\xA1n \xF0\x9F\x98\x80", "K\xE1\xBA\xBF to\xC3\xA1n \xF0\x9F\x98\x80");
}
END_TEST

START_TEST(test_buf_term_bound_never_cuts_an_escape_or_a_character)
{
    check_term("abcdef", 6, 4, "abcd", true);
    check_term("abcd", 4, 4, "abcd", false);
    check_term("ab\x1b[1m", 6, 4, "ab", true);         /* \x1b needs 4 */
    check_term("ab\x1b[1m", 6, 6, "ab\\x1b", true);
    check_term("a\xC3\xA1", 3, 2, "a", true);           /* never half of á */
    check_term("a\xC3\xA1", 3, 3, "a\xC3\xA1", false);
    /* a full buffer leaves it as it was */
    struct ts_buf b;
    ts_buf_init(&b, 8);
    ck_assert_int_eq(ts_buf_puts(&b, "12345"), 0);
    ck_assert_int_eq(ts_buf_term_str(&b, "\x1b\x1b", 2, 0, NULL), TS_E_LIMIT);
    ck_assert_str_eq(b.data, "12345");
    ts_buf_free(&b);
}
END_TEST

static void check_value(const struct ts_value *v, const char *want)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(ts_buf_json_value(&b, v), 0);
    ck_assert_str_eq(b.data, want);
    ts_buf_free(&b);
}

static struct ts_value v_float(double f)
{
    struct ts_value v = {.type = TS_V_FLOAT};
    v.u.f = f;
    return v;
}

START_TEST(test_buf_json_value_every_type)
{
    struct ts_value v = ts_v_str("a\"b", 3);
    check_value(&v, "\"a\\\"b\"");
    v = ts_v_str("abcdef", 3); /* len, not strlen */
    check_value(&v, "\"abc\"");
    v = ts_v_int(0);
    check_value(&v, "0");
    v = ts_v_int(INT64_MIN);
    check_value(&v, "-9223372036854775808");
    v = ts_v_int(INT64_MAX);
    check_value(&v, "9223372036854775807");
    v = v_float(1.5);
    check_value(&v, "1.5");
    v = v_float(-2.25);
    check_value(&v, "-2.25");
    /* NaN and infinities: test_buf_json_non_finite_floats_are_named_strings */

    struct ts_value t = {.type = TS_V_BOOL};
    t.u.b = true;
    check_value(&t, "true");
    t.u.b = false;
    check_value(&t, "false");

    struct ts_value n = {.type = TS_V_NULL};
    check_value(&n, "null");
    struct ts_value unk = {.type = 200};
    check_value(&unk, "null");

    struct ts_value ip = {.type = TS_V_IP};
    ck_assert_int_eq(ts_ip_parse("198.51.100.7", 12, &ip.u.ip), 0);
    check_value(&ip, "\"198.51.100.7\"");
    ck_assert_int_eq(ts_ip_parse("2001:db8::7", 11, &ip.u.ip), 0);
    check_value(&ip, "\"2001:db8::7\"");

    struct ts_value inner[2] = {ts_v_int(1), ts_v_str("x", 1)};
    struct ts_value empty = {.type = TS_V_LIST, .len = 0};
    struct ts_value innerl = {.type = TS_V_LIST, .len = 2};
    innerl.u.items = inner;
    struct ts_value items[5] = {ts_v_int(7), ts_v_str("q\"", 2), t, innerl, empty};
    items[2].u.b = true;
    struct ts_value l = {.type = TS_V_LIST, .len = 5};
    l.u.items = items;
    check_value(&l, "[7,\"q\\\"\",true,[1,\"x\"],[]]");
    check_value(&empty, "[]");
}
END_TEST

/* JSON has no NaN or infinity: they are written as the strings "NaN",
 * "Infinity", "-Infinity" (as protobuf's JSON mapping does), not as null,
 * which would say "no value". */
START_TEST(test_buf_json_non_finite_floats_are_named_strings)
{
    struct ts_value v = v_float(NAN);
    check_value(&v, "\"NaN\"");
    v = v_float(-NAN);
    check_value(&v, "\"NaN\"");
    v = v_float(INFINITY);
    check_value(&v, "\"Infinity\"");
    v = v_float(-INFINITY);
    check_value(&v, "\"-Infinity\"");
    v = v_float(DBL_MAX);
    check_value(&v, "1.7976931348623157e+308");

    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 4096, 1 << 20), 0);
    struct ts_event ev;
    ts_event_init(&ev, a);
    ev.time_ns = 0;
    ck_assert_int_eq(ts_event_add_float(&ev, "a", strtod("1e999", NULL)), 0);
    ck_assert_int_eq(ts_event_add_float(&ev, "b", -HUGE_VAL), 0);
    ck_assert_int_eq(ts_event_add_float(&ev, "c", NAN), 0);
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(ts_event_to_json(&ev, &b), 0);
    ck_assert_msg(strstr(b.data, ",\"a\":\"Infinity\",\"b\":\"-Infinity\",\"c\":\"NaN\"}") != NULL,
                  "%s", b.data);
    ts_buf_free(&b);
    ts_arena_destroy(a);
}
END_TEST

START_TEST(test_buf_json_float_round_trips)
{
    static const double vals[] = {0.1, 1e300, -1e-300, 123456789.125, 3.0, 5e-324};
    for (size_t i = 0; i < TS_ARRAY_LEN(vals); i++) {
        struct ts_buf b;
        ts_buf_init(&b, 0);
        struct ts_value v = v_float(vals[i]);
        ck_assert_int_eq(ts_buf_json_value(&b, &v), 0);
        ck_assert(strtod(b.data, NULL) == vals[i]);
        ts_buf_free(&b);
    }
}
END_TEST

static void check_b64(const char *in, const char *want)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(ts_buf_puts(&b, ">"), 0);
    ck_assert_int_eq(ts_buf_base64(&b, in, strlen(in)), 0);
    ck_assert_str_eq(b.data + 1, want);
    ck_assert_uint_eq(b.len, 1 + strlen(want));
    ts_buf_free(&b);
}

START_TEST(test_buf_base64_rfc4648_vectors)
{
    check_b64("", "");
    check_b64("f", "Zg==");
    check_b64("fo", "Zm8=");
    check_b64("foo", "Zm9v");
    check_b64("foob", "Zm9vYg==");
    check_b64("fooba", "Zm9vYmE=");
    check_b64("foobar", "Zm9vYmFy");
    /* the two non-alphanumeric symbols of the standard alphabet */
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(ts_buf_base64(&b, "\xFB\xFF\xBF", 3), 0);
    ck_assert_str_eq(b.data, "+/+/");
    ts_buf_reset(&b);
    ck_assert_int_eq(ts_buf_base64(&b, "\0\0\0\xFF", 4), 0);
    ck_assert_str_eq(b.data, "AAAA/w==");
    ts_buf_free(&b);
}
END_TEST

START_TEST(test_utf8_valid_prefix)
{
    ck_assert_uint_eq(ts_utf8_valid_prefix("", 0), 0);
    ck_assert_uint_eq(ts_utf8_valid_prefix("abc", 3), 3);
    ck_assert_uint_eq(ts_utf8_valid_prefix("ab\xff", 3), 2);
    ck_assert_uint_eq(ts_utf8_valid_prefix("caf\xC3\xA9", 5), 5);
    ck_assert_uint_eq(ts_utf8_valid_prefix("caf\xC3", 4), 3); /* truncated */
    ck_assert_uint_eq(ts_utf8_valid_prefix("\xF0\x9F\x98\x80!", 5), 5);
    ck_assert_uint_eq(ts_utf8_valid_prefix("x\xED\xA0\x80", 4), 1); /* surrogate */
    ck_assert_uint_eq(ts_utf8_valid_prefix("xy\xC0\xAF", 4), 2);    /* overlong */
    ck_assert_uint_eq(ts_utf8_valid_prefix("\xF4\x90\x80\x80", 4), 0);
    ck_assert_uint_eq(ts_utf8_valid_prefix("a\0b", 3), 3); /* NUL is valid UTF-8 */
    /* n bounds the scan: a valid sequence cut by n is not valid */
    ck_assert_uint_eq(ts_utf8_valid_prefix("\xE2\x82\xAC", 2), 0);
}
END_TEST

START_TEST(test_buf_append_past_limit_fails_and_keeps_content)
{
    struct ts_buf b;
    ts_buf_init(&b, 8);
    ck_assert_int_eq(ts_buf_append(&b, "12345", 5), 0);
    ck_assert_int_eq(ts_buf_append(&b, "6789", 4), TS_E_LIMIT);
    ck_assert_uint_eq(b.len, 5);
    ck_assert_str_eq(b.data, "12345");
    ck_assert_int_eq(ts_buf_printf(&b, "%d", 1234), TS_E_LIMIT);
    ck_assert_str_eq(b.data, "12345");
    ck_assert_int_eq(ts_buf_json_str(&b, "ab", 2), TS_E_LIMIT);
    ck_assert_str_eq(b.data, "12345");
    ck_assert_int_eq(ts_buf_base64(&b, "ab", 2), TS_E_LIMIT);
    ck_assert_str_eq(b.data, "12345");
    ck_assert_int_eq(ts_buf_append(&b, "678", 3), 0); /* exactly at the limit */
    ck_assert_str_eq(b.data, "12345678");
    ck_assert_int_eq(ts_buf_putc(&b, 'x'), TS_E_LIMIT);
    ck_assert_int_eq(ts_buf_puts(&b, "x"), TS_E_LIMIT);
    ck_assert_int_eq(ts_buf_append(&b, "", 0), 0);
    ck_assert_uint_eq(b.len, 8);
    ck_assert_str_eq(b.data, "12345678");
    ck_assert_int_eq(ts_buf_append(&b, "x", SIZE_MAX), TS_E_LIMIT);
    ts_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_str_eq(b.data, "");
    ck_assert_int_eq(ts_buf_append(&b, "abcdefgh", 8), 0);
    ts_buf_free(&b);
    ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(test_buf_json_past_limit_during_escaping_keeps_content)
{
    struct ts_buf b;
    ts_buf_init(&b, 12);
    ck_assert_int_eq(ts_buf_puts(&b, "ab"), 0);
    /* fits before escaping (4 bytes), not after (14) */
    ck_assert_int_eq(ts_buf_json_str(&b, "\x01\x02", 2), TS_E_LIMIT);
    ck_assert_uint_eq(b.len, 2);
    ck_assert_str_eq(b.data, "ab");
    ck_assert_int_eq(ts_buf_json_str(&b, "\xff\xff\xff", 3), TS_E_LIMIT);
    ck_assert_str_eq(b.data, "ab");
    /* a list that fails half-way leaves nothing behind */
    struct ts_value items[3] = {ts_v_int(1), ts_v_int(2), ts_v_str("long string", 11)};
    struct ts_value l = {.type = TS_V_LIST, .len = 3};
    l.u.items = items;
    ck_assert_int_eq(ts_buf_json_value(&b, &l), TS_E_LIMIT);
    ck_assert_uint_eq(b.len, 2);
    ck_assert_str_eq(b.data, "ab");
    ts_buf_free(&b);
}
END_TEST

START_TEST(test_buf_printf_longer_than_256)
{
    char big[1001];
    for (size_t i = 0; i < 1000; i++)
        big[i] = (char)('a' + i % 26);
    big[1000] = '\0';
    struct ts_buf b;
    ts_buf_init(&b, 0);
    ck_assert_int_eq(ts_buf_printf(&b, "%s", "head:"), 0);
    ck_assert_int_eq(ts_buf_printf(&b, "[%s|%d]", big, 42), 0);
    ck_assert_uint_eq(b.len, 5 + 1 + 1000 + 4);
    ck_assert_uint_eq(strlen(b.data), b.len);
    ck_assert_int_eq(strncmp(b.data, "head:[abc", 9), 0);
    ck_assert_str_eq(b.data + b.len - 4, "|42]");
    ck_assert_int_eq(memcmp(b.data + 6, big, 1000), 0);
    /* exactly 255 and 256 characters (the internal scratch boundary) */
    ts_buf_reset(&b);
    ck_assert_int_eq(ts_buf_printf(&b, "%.255s", big), 0);
    ck_assert_uint_eq(b.len, 255);
    ts_buf_reset(&b);
    ck_assert_int_eq(ts_buf_printf(&b, "%.256s", big), 0);
    ck_assert_uint_eq(b.len, 256);
    ck_assert_uint_eq(strlen(b.data), 256);
    ck_assert_int_eq(ts_buf_printf(&b, "!"), 0);
    ck_assert_uint_eq(b.len, 257);
    ck_assert_int_eq(b.data[256], '!');
    ts_buf_free(&b);

    ts_buf_init(&b, 300);
    ck_assert_int_eq(ts_buf_printf(&b, "%s", big), TS_E_LIMIT);
    ck_assert_uint_eq(b.len, 0);
    ts_buf_free(&b);
}
END_TEST

/* =============================================================== tstime */

START_TEST(test_time_civil_known_dates)
{
    ck_assert_int_eq(ts_days_from_civil(1970, 1, 1), 0);
    ck_assert_int_eq(ts_days_from_civil(1969, 12, 31), -1);
    ck_assert_int_eq(ts_days_from_civil(2000, 3, 1), 11017);
    ck_assert_int_eq(ts_days_from_civil(2024, 2, 29), 19782);
    ck_assert_int_eq(ts_days_from_civil(1900, 3, 1), -25508);
    ck_assert_int_eq(ts_days_from_civil(1600, 1, 1), -135140);
    ck_assert_int_eq(ts_days_from_civil(0, 3, 1), -719468);
    ck_assert_int_eq(ts_days_from_civil(2026, 3, 1) - ts_days_from_civil(2026, 2, 28), 1);
    ck_assert_int_eq(ts_days_from_civil(2024, 3, 1) - ts_days_from_civil(2024, 2, 28), 2);
    ck_assert_int_eq(ts_days_from_civil(2000, 3, 1) - ts_days_from_civil(2000, 2, 28), 2);
    ck_assert_int_eq(ts_days_from_civil(1900, 3, 1) - ts_days_from_civil(1900, 2, 28), 1);
    ck_assert_uint_eq(ts_days_in_month(2024, 2), 29);
    ck_assert_uint_eq(ts_days_in_month(2026, 2), 28);
    ck_assert_uint_eq(ts_days_in_month(1900, 2), 28);
    ck_assert_uint_eq(ts_days_in_month(2000, 2), 29);
    ck_assert_uint_eq(ts_days_in_month(2026, 4), 30);
    ck_assert_uint_eq(ts_days_in_month(2026, 12), 31);
    ck_assert_uint_eq(ts_days_in_month(2026, 0), 0);
    ck_assert_uint_eq(ts_days_in_month(2026, 13), 0);
    ck_assert_int_eq(ts_epoch_from_utc(2026, 3, 14, 8, 15, 30), 1773476130);
}
END_TEST

START_TEST(test_time_civil_round_trip_wide_range)
{
    /* about -3700..+5700 CE, every day: consecutive days are consecutive dates */
    int64_t py = 0;
    unsigned pm = 0, pd = 0;
    for (int64_t z = -2000000; z <= 1400000; z++) {
        int64_t y;
        unsigned m, d;
        ts_civil_from_days(z, &y, &m, &d);
        if (m < 1 || m > 12 || d < 1 || d > ts_days_in_month(y, m))
            ck_abort_msg("bad date for day %lld", (long long)z);
        if (ts_days_from_civil(y, m, d) != z)
            ck_abort_msg("round trip failed for day %lld", (long long)z);
        if (z > -2000000) {
            bool next_day = y == py && m == pm && d == pd + 1;
            bool next_month = y == py && m == pm + 1 && d == 1 && pd == ts_days_in_month(py, pm);
            bool next_year = y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31;
            if (!(next_day || next_month || next_year))
                ck_abort_msg("day %lld is not the day after its predecessor", (long long)z);
        }
        py = y;
        pm = m;
        pd = d;
    }
}
END_TEST

static void check_fmt(int64_t ns, const char *want)
{
    char buf[64];
    size_t n = ts_format_rfc3339(ns, buf, sizeof(buf));
    ck_assert_str_eq(buf, want);
    ck_assert_uint_eq(n, strlen(want));
}

START_TEST(test_time_format_rfc3339_precision_and_negative)
{
    const int64_t t = 1773476130LL * TS_NS_PER_SEC; /* 2026-03-14T08:15:30Z */
    check_fmt(0, "1970-01-01T00:00:00Z");
    check_fmt(t, "2026-03-14T08:15:30Z");
    check_fmt(t + 500000000, "2026-03-14T08:15:30.500Z");
    check_fmt(t + 1000000, "2026-03-14T08:15:30.001Z");
    check_fmt(t + 123456000, "2026-03-14T08:15:30.123456Z");
    check_fmt(t + 1000, "2026-03-14T08:15:30.000001Z");
    check_fmt(t + 123456789, "2026-03-14T08:15:30.123456789Z");
    check_fmt(t + 1, "2026-03-14T08:15:30.000000001Z");
    check_fmt(-1, "1969-12-31T23:59:59.999999999Z");
    check_fmt(-TS_NS_PER_SEC, "1969-12-31T23:59:59Z");
    check_fmt(-1500000000LL, "1969-12-31T23:59:58.500Z");
    check_fmt(-86400LL * TS_NS_PER_SEC, "1969-12-31T00:00:00Z");
    check_fmt(ts_days_from_civil(1900, 3, 1) * 86400 * TS_NS_PER_SEC + 1000,
              "1900-03-01T00:00:00.000001Z");
    check_fmt(ts_days_from_civil(2024, 2, 29) * 86400 * TS_NS_PER_SEC + 86399 * TS_NS_PER_SEC,
              "2024-02-29T23:59:59Z");
    check_fmt(INT64_MAX, "2262-04-11T23:47:16.854775807Z");
    check_fmt(INT64_MIN, "1677-09-21T00:12:43.145224192Z");
    /* a short buffer is truncated and NUL-terminated */
    char small[11];
    ck_assert_uint_eq(ts_format_rfc3339(0, small, sizeof(small)), 10);
    ck_assert_str_eq(small, "1970-01-01");
}
END_TEST

static int64_t parse_ok(const char *s, int tz, size_t *used)
{
    int64_t ns = 0;
    size_t u = 0;
    ck_assert_msg(ts_parse_iso8601(s, strlen(s), tz, &ns, &u) == 0, "rejected \"%s\"", s);
    if (used)
        *used = u;
    return ns;
}

START_TEST(test_time_parse_iso8601_offsets)
{
    const int64_t want = 1773476130LL * TS_NS_PER_SEC; /* 2026-03-14T08:15:30Z */
    ck_assert_int_eq(parse_ok("2026-03-14T08:15:30Z", 0, NULL), want);
    ck_assert_int_eq(parse_ok("2026-03-14T08:15:30z", 3600, NULL), want); /* Z beats tz */
    ck_assert_int_eq(parse_ok("2026-03-14t08:15:30Z", 0, NULL), want);
    ck_assert_int_eq(parse_ok("2026-03-14 08:15:30Z", 0, NULL), want);
    ck_assert_int_eq(parse_ok("2026-03-14T15:15:30+07:00", 0, NULL), want);
    ck_assert_int_eq(parse_ok("2026-03-14T15:15:30+0700", -3600, NULL), want);
    ck_assert_int_eq(parse_ok("2026-03-14T15:15:30+07", 0, NULL), want);
    ck_assert_int_eq(parse_ok("2026-03-14T02:45:30-0530", 0, NULL), want);
    ck_assert_int_eq(parse_ok("2026-03-14T02:45:30-05:30", 0, NULL), want);
    ck_assert_int_eq(parse_ok("2026-03-14T08:15:30+00:00", 0, NULL), want);
    ck_assert_int_eq(parse_ok("2026-03-14T08:15:30-00:00", 0, NULL), want);
    /* no offset: the tz argument (seconds east of UTC) applies */
    ck_assert_int_eq(parse_ok("2026-03-14T08:15:30", 0, NULL), want);
    ck_assert_int_eq(parse_ok("2026-03-14T15:15:30", 7 * 3600, NULL), want);
    ck_assert_int_eq(parse_ok("2026-03-14T03:15:30", -5 * 3600, NULL), want);
    /* across a day boundary */
    ck_assert_int_eq(parse_ok("2026-03-15T01:00:00+07:00", 0, NULL),
                     parse_ok("2026-03-14T18:00:00Z", 0, NULL));
    /* seconds are optional */
    ck_assert_int_eq(parse_ok("2026-03-14T08:15Z", 0, NULL), want - 30 * TS_NS_PER_SEC);
    /* before 1970 */
    ck_assert_int_eq(parse_ok("1969-12-31T23:59:59.5Z", 0, NULL), -500000000LL);
    ck_assert_int_eq(parse_ok("1970-01-01T00:00:00Z", 0, NULL), 0);
    /* leap day and leap second */
    ck_assert_int_eq(parse_ok("2024-02-29T00:00:00Z", 0, NULL),
                     19782LL * 86400 * TS_NS_PER_SEC);
    ck_assert_int_eq(parse_ok("2016-12-31T23:59:60Z", 0, NULL),
                     parse_ok("2016-12-31T23:59:59Z", 0, NULL));
}
END_TEST

START_TEST(test_time_parse_iso8601_fraction_digits)
{
    const int64_t t = 1773476130LL * TS_NS_PER_SEC;
    static const struct {
        const char *s;
        int64_t frac;
    } cases[] = {
        {"2026-03-14T08:15:30.1Z", 100000000},
        {"2026-03-14T08:15:30.12Z", 120000000},
        {"2026-03-14T08:15:30.123Z", 123000000},
        {"2026-03-14T08:15:30.1234Z", 123400000},
        {"2026-03-14T08:15:30.12345Z", 123450000},
        {"2026-03-14T08:15:30.123456Z", 123456000},
        {"2026-03-14T08:15:30.1234567Z", 123456700},
        {"2026-03-14T08:15:30.12345678Z", 123456780},
        {"2026-03-14T08:15:30.123456789Z", 123456789},
        {"2026-03-14T08:15:30.1234567891Z", 123456789},     /* extra digits ignored */
        {"2026-03-14T08:15:30.123456789999999Z", 123456789}, /* truncated, not rounded */
        {"2026-03-14T08:15:30,5Z", 500000000},              /* ISO 8601 comma */
        {"2026-03-14T08:15:30.000000001Z", 1},
        {"2026-03-14T15:15:30.25+07:00", 250000000},
    };
    for (size_t i = 0; i < TS_ARRAY_LEN(cases); i++) {
        size_t used;
        int64_t ns = parse_ok(cases[i].s, 0, &used);
        ck_assert_msg(ns == t + cases[i].frac, "%s: got %lld", cases[i].s, (long long)ns);
        ck_assert_uint_eq(used, strlen(cases[i].s));
    }
}
END_TEST

START_TEST(test_time_parse_iso8601_rejects_invalid)
{
    static const char *const bad[] = {
        "",
        "2026",
        "2026-03-14",
        "2026-02-30T00:00:00Z",
        "2026-02-29T00:00:00Z", /* not a leap year */
        "2100-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-01-32T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T23:60:00Z",
        "2026-01-01T23:59:61Z",
        "2026-1-01T00:00:00Z",
        "2026-01-1T00:00:00Z",
        "2026/01/01T00:00:00Z",
        "2026-01-01X00:00:00Z",
        "2026-01-01T0:00:00Z",
        "2026-01-01T00",
        "2026-01-01T00:0",
        "2026-01-01T00:00:0Z",
        "2026-01-01T00:00:00.Z",
        "2026-01-01T00:00:00+7",
        "2026-01-01T00:00:00+07:0",
        "2026-01-01T00:00:00+24:00",
        "2026-01-01T00:00:00+07:60",
        "Mar 14 08:15:30",
        "abcd-ef-ghT00:00:00Z",
    };
    for (size_t i = 0; i < TS_ARRAY_LEN(bad); i++) {
        int64_t ns = 0;
        size_t used = 0;
        ck_assert_msg(ts_parse_iso8601(bad[i], strlen(bad[i]), 0, &ns, &used) == TS_E_PARSE,
                      "accepted \"%s\"", bad[i]);
    }
    /* len bounds the input: a valid timestamp cut short is invalid */
    int64_t ns;
    ck_assert_int_eq(ts_parse_iso8601("2026-03-14T08:15:30Z", 12, 0, &ns, NULL), TS_E_PARSE);
}
END_TEST

START_TEST(test_time_parse_iso8601_reports_used)
{
    size_t used = 0;
    const char *s = "2026-03-14T08:15:30Z portal-01 sshd[811]: hello";
    parse_ok(s, 0, &used);
    ck_assert_uint_eq(used, 20);
    s = "2026-03-14 08:15:30.5+07:00 rest";
    parse_ok(s, 0, &used);
    ck_assert_uint_eq(used, strlen("2026-03-14 08:15:30.5+07:00"));
    s = "2026-03-14T08:15:30 rest";
    parse_ok(s, 0, &used);
    ck_assert_uint_eq(used, 19);
    s = "2026-03-14T08:15:30-0530x";
    parse_ok(s, 0, &used);
    ck_assert_uint_eq(used, 24);
    /* len shorter than the text: stops at len */
    int64_t ns;
    ck_assert_int_eq(ts_parse_iso8601("2026-03-14T08:15:30.123456Z", 23, 0, &ns, &used), 0);
    ck_assert_uint_eq(used, 23);
    ck_assert_int_eq(ns, 1773476130LL * TS_NS_PER_SEC + 123000000);
    /* used may be NULL */
    ck_assert_int_eq(ts_parse_iso8601("2026-03-14T08:15:30Z", 20, 0, &ns, NULL), 0);
}
END_TEST

START_TEST(test_time_month_from_abbr)
{
    static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (unsigned i = 0; i < 12; i++)
        ck_assert_uint_eq(ts_month_from_abbr(names[i]), i + 1);
    ck_assert_uint_eq(ts_month_from_abbr("jan"), 1);
    ck_assert_uint_eq(ts_month_from_abbr("DEC"), 12);
    ck_assert_uint_eq(ts_month_from_abbr("Mar 14 08:15:30"), 3); /* first 3 chars count */
    ck_assert_uint_eq(ts_month_from_abbr("Foo"), 0);
    ck_assert_uint_eq(ts_month_from_abbr("Ja"), 0);
    ck_assert_uint_eq(ts_month_from_abbr(""), 0);
    ck_assert_uint_eq(ts_month_from_abbr("Sept"), 9);
}
END_TEST

START_TEST(test_time_clocks_advance)
{
    int64_t r = ts_now_ns();
    ck_assert_int_gt(r, 1700000000LL * TS_NS_PER_SEC); /* after 2023 */
    int64_t m1 = ts_mono_ns();
    int64_t m2 = ts_mono_ns();
    ck_assert_int_ge(m2, m1);
}
END_TEST

/* ================================================================= queue */

static void *item(uintptr_t v)
{
    return (void *)v;
}

START_TEST(test_queue_create_rejects_bad_capacity)
{
    struct ts_queue *q = (struct ts_queue *)1;
    ck_assert_int_eq(ts_queue_create(&q, 0), TS_E_INVAL);
    ck_assert_ptr_null(q);
    ck_assert_int_eq(ts_queue_create(&q, (1u << 20) + 1), TS_E_INVAL);
    ts_queue_destroy(NULL);
}
END_TEST

START_TEST(test_queue_fifo_order)
{
    struct ts_queue *q;
    ck_assert_int_eq(ts_queue_create(&q, 4), 0);
    ck_assert_uint_eq(ts_queue_capacity(q), 4);
    /* wrap around the ring several times */
    uintptr_t next_in = 1, next_out = 1;
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 3; i++)
            ck_assert_int_eq(ts_queue_push(q, item(next_in++), -1), 0);
        ck_assert_uint_eq(ts_queue_len(q), 3);
        for (int i = 0; i < 3; i++) {
            void *it = NULL;
            ck_assert_int_eq(ts_queue_pop(q, &it, 0), 0);
            ck_assert_ptr_eq(it, item(next_out++));
        }
    }
    ck_assert_uint_eq(ts_queue_len(q), 0);
    ts_queue_destroy(q);
}
END_TEST

START_TEST(test_queue_try_push_on_full_returns_limit)
{
    struct ts_queue *q;
    ck_assert_int_eq(ts_queue_create(&q, 2), 0);
    ck_assert_int_eq(ts_queue_try_push(q, item(1)), 0);
    ck_assert_int_eq(ts_queue_try_push(q, item(2)), 0);
    ck_assert_int_eq(ts_queue_try_push(q, item(3)), TS_E_LIMIT);
    ck_assert_int_eq(ts_queue_push(q, item(3), 0), TS_E_LIMIT);
    ck_assert_int_eq(ts_queue_push(q, item(3), 30), TS_E_LIMIT);
    ck_assert_uint_eq(ts_queue_len(q), 2);
    void *it;
    ck_assert_int_eq(ts_queue_pop(q, &it, 0), 0);
    ck_assert_ptr_eq(it, item(1));
    ck_assert_int_eq(ts_queue_try_push(q, item(3)), 0);
    ck_assert_int_eq(ts_queue_pop(q, &it, 0), 0);
    ck_assert_ptr_eq(it, item(2));
    ck_assert_int_eq(ts_queue_pop(q, &it, 0), 0);
    ck_assert_ptr_eq(it, item(3));
    ts_queue_destroy(q);
}
END_TEST

START_TEST(test_queue_pop_times_out_with_limit)
{
    struct ts_queue *q;
    ck_assert_int_eq(ts_queue_create(&q, 2), 0);
    void *it = item(77);
    ck_assert_int_eq(ts_queue_pop(q, &it, 0), TS_E_LIMIT);
    int64_t t0 = ts_mono_ns();
    ck_assert_int_eq(ts_queue_pop(q, &it, 50), TS_E_LIMIT);
    int64_t waited = ts_mono_ns() - t0;
    ck_assert_int_ge(waited, 45 * 1000000LL); /* it did wait */
    ck_assert_ptr_eq(it, item(77));              /* untouched on failure */
    ts_queue_destroy(q);
}
END_TEST

struct blocked {
    struct ts_queue *q;
    int rc;
    void *item;
};

static void *pop_forever(void *arg)
{
    struct blocked *b = arg;
    b->rc = ts_queue_pop(b->q, &b->item, -1);
    return NULL;
}

static void *push_forever(void *arg)
{
    struct blocked *b = arg;
    b->rc = ts_queue_push(b->q, b->item, -1);
    return NULL;
}

START_TEST(test_queue_close_wakes_blocked_pop)
{
    struct ts_queue *q;
    ck_assert_int_eq(ts_queue_create(&q, 2), 0);
    struct blocked b = {.q = q, .rc = 1, .item = item(5)};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, pop_forever, &b), 0);
    sleep_ms(50); /* let it block; the outcome is the same if it has not yet */
    ts_queue_close(q);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(b.rc, TS_E_STOPPED);
    ts_queue_destroy(q);
}
END_TEST

START_TEST(test_queue_close_wakes_blocked_push)
{
    struct ts_queue *q;
    ck_assert_int_eq(ts_queue_create(&q, 1), 0);
    ck_assert_int_eq(ts_queue_push(q, item(1), -1), 0);
    struct blocked b = {.q = q, .rc = 1, .item = item(2)};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, push_forever, &b), 0);
    sleep_ms(50);
    ts_queue_close(q);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(b.rc, TS_E_STOPPED);
    void *it;
    ck_assert_int_eq(ts_queue_pop(q, &it, 0), 0);
    ck_assert_ptr_eq(it, item(1));
    ck_assert_int_eq(ts_queue_pop(q, &it, -1), TS_E_STOPPED);
    ts_queue_destroy(q);
}
END_TEST

START_TEST(test_queue_after_close_pushes_fail_and_items_drain)
{
    struct ts_queue *q;
    ck_assert_int_eq(ts_queue_create(&q, 4), 0);
    ck_assert_int_eq(ts_queue_push(q, item(1), -1), 0);
    ck_assert_int_eq(ts_queue_push(q, item(2), -1), 0);
    ts_queue_close(q);
    ck_assert_int_eq(ts_queue_push(q, item(3), -1), TS_E_STOPPED);
    ck_assert_int_eq(ts_queue_push(q, item(3), 0), TS_E_STOPPED);
    ck_assert_int_eq(ts_queue_try_push(q, item(3)), TS_E_STOPPED);
    ck_assert_uint_eq(ts_queue_len(q), 2);
    void *it;
    ck_assert_int_eq(ts_queue_pop(q, &it, -1), 0);
    ck_assert_ptr_eq(it, item(1));
    ck_assert_int_eq(ts_queue_pop(q, &it, 0), 0);
    ck_assert_ptr_eq(it, item(2));
    ck_assert_int_eq(ts_queue_pop(q, &it, -1), TS_E_STOPPED);
    ck_assert_int_eq(ts_queue_pop(q, &it, 10), TS_E_STOPPED);
    ts_queue_close(q); /* closing twice is harmless */
    ts_queue_destroy(q);
}
END_TEST

enum { STRESS_PER_PRODUCER = 50000, STRESS_PRODUCERS = 2, STRESS_CONSUMERS = 2 };
#define STRESS_TOTAL (STRESS_PER_PRODUCER * STRESS_PRODUCERS)

struct stress_prod {
    struct ts_queue *q;
    uintptr_t id;
    int failures;
};

struct stress_cons {
    struct ts_queue *q;
    unsigned char *seen; /* one counter per item, private to this consumer */
    long count;
    int order_errors; /* items of one producer seen out of order */
};

static void *stress_producer(void *arg)
{
    struct stress_prod *p = arg;
    for (uintptr_t i = 0; i < STRESS_PER_PRODUCER; i++) {
        /* item value: producer in the top bits, sequence below; never NULL */
        uintptr_t v = (p->id << 24) | (i + 1);
        int rc = (i % 3 == 0) ? ts_queue_try_push(p->q, item(v)) : ts_queue_push(p->q, item(v), -1);
        if (rc == TS_E_LIMIT)
            rc = ts_queue_push(p->q, item(v), -1);
        if (rc)
            p->failures++;
    }
    return NULL;
}

static void *stress_consumer(void *arg)
{
    struct stress_cons *c = arg;
    uintptr_t last[STRESS_PRODUCERS] = {0};
    for (;;) {
        void *it;
        int rc = ts_queue_pop(c->q, &it, -1);
        if (rc)
            break;
        uintptr_t v = (uintptr_t)it;
        uintptr_t prod = v >> 24, seq = v & 0xFFFFFF;
        if (prod >= STRESS_PRODUCERS || seq == 0 || seq > STRESS_PER_PRODUCER) {
            c->order_errors++;
            continue;
        }
        if (seq <= last[prod])
            c->order_errors++;
        last[prod] = seq;
        size_t idx = prod * STRESS_PER_PRODUCER + (seq - 1);
        if (c->seen[idx] < 255)
            c->seen[idx]++;
        c->count++;
    }
    return NULL;
}

START_TEST(test_queue_stress_2_producers_2_consumers_each_item_once)
{
    struct ts_queue *q;
    ck_assert_int_eq(ts_queue_create(&q, 64), 0);
    struct stress_prod prod[STRESS_PRODUCERS];
    struct stress_cons cons[STRESS_CONSUMERS];
    pthread_t pt[STRESS_PRODUCERS], ct[STRESS_CONSUMERS];
    for (int i = 0; i < STRESS_CONSUMERS; i++) {
        cons[i] = (struct stress_cons){.q = q};
        cons[i].seen = calloc(STRESS_TOTAL, 1);
        ck_assert_ptr_nonnull(cons[i].seen);
        ck_assert_int_eq(pthread_create(&ct[i], NULL, stress_consumer, &cons[i]), 0);
    }
    for (int i = 0; i < STRESS_PRODUCERS; i++) {
        prod[i] = (struct stress_prod){.q = q, .id = (uintptr_t)i};
        ck_assert_int_eq(pthread_create(&pt[i], NULL, stress_producer, &prod[i]), 0);
    }
    for (int i = 0; i < STRESS_PRODUCERS; i++)
        ck_assert_int_eq(pthread_join(pt[i], NULL), 0);
    ts_queue_close(q); /* consumers drain what is left, then see TS_E_STOPPED */
    for (int i = 0; i < STRESS_CONSUMERS; i++)
        ck_assert_int_eq(pthread_join(ct[i], NULL), 0);

    long total = 0;
    for (int i = 0; i < STRESS_PRODUCERS; i++)
        ck_assert_int_eq(prod[i].failures, 0);
    for (int i = 0; i < STRESS_CONSUMERS; i++) {
        ck_assert_int_eq(cons[i].order_errors, 0);
        total += cons[i].count;
    }
    ck_assert_int_eq(total, STRESS_TOTAL);
    for (size_t k = 0; k < STRESS_TOTAL; k++) {
        int n = 0;
        for (int i = 0; i < STRESS_CONSUMERS; i++)
            n += cons[i].seen[k];
        if (n != 1)
            ck_abort_msg("item %zu seen %d times", k, n);
    }
    ck_assert_uint_eq(ts_queue_len(q), 0);
    for (int i = 0; i < STRESS_CONSUMERS; i++)
        free(cons[i].seen);
    ts_queue_destroy(q);
}
END_TEST

/* =================================================================== err */

START_TEST(test_err_first_error_wins)
{
    struct ts_err e;
    ts_err_clear(&e);
    ck_assert_int_eq(e.code, 0);
    ck_assert_int_eq(ts_err_set(&e, TS_E_CONFIG, "etc/tocsin.yml", 3, 7, "bad key \"%s\"", "x"),
                     TS_E_CONFIG);
    ck_assert_int_eq(ts_err_set(&e, TS_E_IO, "other", 9, 9, "second"), TS_E_IO);
    ck_assert_int_eq(e.code, TS_E_CONFIG);
    ck_assert_str_eq(e.file, "etc/tocsin.yml");
    ck_assert_uint_eq(e.line, 3);
    ck_assert_uint_eq(e.col, 7);
    ck_assert_str_eq(e.msg, "bad key \"x\"");
    ts_err_clear(&e);
    ck_assert_int_eq(e.code, 0);
    ck_assert_int_eq(ts_err_set(&e, TS_E_IO, NULL, 0, 0, "third"), TS_E_IO);
    ck_assert_int_eq(e.code, TS_E_IO);
    ck_assert_str_eq(e.file, "");
    ck_assert_str_eq(e.msg, "third");
    /* NULL err: nothing recorded, code passed through */
    ck_assert_int_eq(ts_err_set(NULL, TS_E_PARSE, "f", 1, 1, "m"), TS_E_PARSE);
    ts_err_clear(NULL);
}
END_TEST

START_TEST(test_err_long_message_is_truncated)
{
    struct ts_err e;
    ts_err_clear(&e);
    char longs[2000];
    memset(longs, 'm', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    ts_err_set(&e, TS_E_PARSE, longs, 1, 1, "%s", longs);
    ck_assert_uint_eq(strlen(e.file), sizeof(e.file) - 1);
    ck_assert_uint_eq(strlen(e.msg), sizeof(e.msg) - 1);
    char out[64];
    ts_err_format(&e, out, sizeof(out));
    ck_assert_uint_eq(strlen(out), sizeof(out) - 1);
}
END_TEST

static void check_err_format(const char *file, unsigned line, unsigned col, const char *want)
{
    struct ts_err e;
    ts_err_clear(&e);
    ts_err_set(&e, TS_E_CONFIG, file, line, col, "unknown modifier \"%s\"", "contians");
    char out[256];
    ts_err_format(&e, out, sizeof(out));
    ck_assert_str_eq(out, want);
}

START_TEST(test_err_format_with_and_without_position)
{
    check_err_format("etc/rules/ssh.yml", 12, 5,
                     "etc/rules/ssh.yml:12:5: error: unknown modifier \"contians\"");
    check_err_format("etc/rules/ssh.yml", 12, 0,
                     "etc/rules/ssh.yml:12: error: unknown modifier \"contians\"");
    check_err_format("etc/rules/ssh.yml", 0, 0,
                     "etc/rules/ssh.yml: error: unknown modifier \"contians\"");
    check_err_format(NULL, 0, 0, "error: unknown modifier \"contians\"");
    check_err_format("", 3, 4, "error: unknown modifier \"contians\"");
}
END_TEST

START_TEST(test_strerror_names_every_code)
{
    static const struct {
        int code;
        const char *msg;
    } codes[] = {
        {TS_OK, "success"},
        {TS_E_NOMEM, "out of memory"},
        {TS_E_INVAL, "invalid argument"},
        {TS_E_IO, "I/O error"},
        {TS_E_PARSE, "parse error"},
        {TS_E_LIMIT, "limit reached"},
        {TS_E_NOTFOUND, "not found"},
        {TS_E_KAFKA, "Kafka error"},
        {TS_E_CONFIG, "configuration error"},
        {TS_E_STOPPED, "stopped"},
        {TS_E_UNSUPPORTED, "unsupported"},
        {TS_E_STORE, "storage error"},
    };
    for (size_t i = 0; i < TS_ARRAY_LEN(codes); i++) {
        ck_assert_str_eq(ts_strerror(codes[i].code), codes[i].msg);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(ts_strerror(codes[i].code), ts_strerror(codes[j].code));
    }
    ck_assert_str_eq(ts_strerror(1), "unknown error");
    ck_assert_str_eq(ts_strerror(-12), "unknown error");
    ck_assert_str_eq(ts_strerror(-9999), "unknown error");
}
END_TEST

/* ================================================================= suite */


/* ts_fmt_i64 prints what "%lld" prints: both ends of int64, powers of ten
 * and their neighbours, and a spread of random values. */
START_TEST(test_fmt_i64_equals_printf)
{
    int64_t vals[200];
    size_t n = 0;
    vals[n++] = INT64_MIN;
    vals[n++] = INT64_MIN + 1;
    vals[n++] = INT64_MAX;
    vals[n++] = 0;
    for (int64_t p = 1; p <= INT64_MAX / 10 && n + 4 <= 60; p *= 10) {
        vals[n++] = p;
        vals[n++] = p - 1;
        vals[n++] = -p;
        vals[n++] = -(p + 1);
    }
    uint64_t x = 0x9E3779B97F4A7C15ull;
    while (n < sizeof(vals) / sizeof(vals[0])) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        vals[n++] = (int64_t)(x >> (x % 60));
    }
    for (size_t i = 0; i < n; i++) {
        char a[32], b[32];
        size_t k = ts_fmt_i64(a, vals[i]);
        int m = snprintf(b, sizeof(b), "%lld", (long long)vals[i]);
        ck_assert_str_eq(a, b);
        ck_assert_uint_eq(k, (size_t)m);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("core");

    TCase *tc = tcase_create("arena");
    tcase_add_test(tc, test_arena_create_rejects_bad_sizes);
    tcase_add_test(tc, test_arena_alloc_is_8_byte_aligned);
    tcase_add_test(tc, test_arena_strndup_copies_n_bytes_and_terminates);
    tcase_add_test(tc, test_arena_many_allocs_span_chunks_without_overlap);
    tcase_add_test(tc, test_arena_alloc_bigger_than_chunk_succeeds);
    tcase_add_test(tc, test_arena_alloc_fails_past_cap);
    tcase_add_test(tc, test_arena_alloc_bigger_than_cap_fails);
    tcase_add_test(tc, test_arena_usable_again_after_reset_at_cap);
    tcase_add_test(tc, test_arena_reset_many_cycles_does_not_grow_reserved);
    tcase_add_test(tc, test_arena_used_counts_bytes_since_reset);
    tcase_add_test(tc, test_arena_destroy_accepts_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("event");
    tcase_add_test(tc, test_event_init_is_empty);
    tcase_add_test(tc, test_event_add_get_each_type);
    tcase_add_test(tc, test_event_get_returns_first_of_duplicates);
    tcase_add_test(tc, test_event_set_replaces_first_or_adds);
    tcase_add_test(tc, test_event_growth_past_16_keeps_earlier_values);
    tcase_add_test(tc, test_event_add_past_max_fields_returns_limit);
    tcase_add_test(tc, test_event_add_returns_nomem_when_arena_full);
    tcase_add_test(tc, test_ip_parse_format_v4_v6);
    tcase_add_test(tc, test_ip_parse_rejects_garbage);
    suite_add_tcase(s, tc);

    tc = tcase_create("buf");
    tcase_add_test(tc, test_buf_json_escapes_quotes_backslash_controls);
    tcase_add_test(tc, test_buf_json_passes_valid_utf8);
    tcase_add_test(tc, test_buf_json_replaces_invalid_utf8_with_fffd);
    tcase_add_test(tc, test_buf_json_value_every_type);
    tcase_add_test(tc, test_buf_json_float_round_trips);
    tcase_add_test(tc, test_buf_json_non_finite_floats_are_named_strings);
    tcase_add_test(tc, test_buf_base64_rfc4648_vectors);
    tcase_add_test(tc, test_buf_term_escapes_controls_so_text_cannot_drive_the_terminal);
    tcase_add_test(tc, test_buf_term_bound_never_cuts_an_escape_or_a_character);
    tcase_add_test(tc, test_utf8_valid_prefix);
    tcase_add_test(tc, test_buf_append_past_limit_fails_and_keeps_content);
    tcase_add_test(tc, test_buf_json_past_limit_during_escaping_keeps_content);
    tcase_add_test(tc, test_buf_printf_longer_than_256);
    suite_add_tcase(s, tc);

    tc = tcase_create("tstime");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_time_civil_known_dates);
    tcase_add_test(tc, test_time_civil_round_trip_wide_range);
    tcase_add_test(tc, test_time_format_rfc3339_precision_and_negative);
    tcase_add_test(tc, test_time_parse_iso8601_offsets);
    tcase_add_test(tc, test_time_parse_iso8601_fraction_digits);
    tcase_add_test(tc, test_time_parse_iso8601_rejects_invalid);
    tcase_add_test(tc, test_time_parse_iso8601_reports_used);
    tcase_add_test(tc, test_time_month_from_abbr);
    tcase_add_test(tc, test_time_clocks_advance);
    suite_add_tcase(s, tc);

    tc = tcase_create("queue");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_queue_create_rejects_bad_capacity);
    tcase_add_test(tc, test_queue_fifo_order);
    tcase_add_test(tc, test_queue_try_push_on_full_returns_limit);
    tcase_add_test(tc, test_queue_pop_times_out_with_limit);
    tcase_add_test(tc, test_queue_close_wakes_blocked_pop);
    tcase_add_test(tc, test_queue_close_wakes_blocked_push);
    tcase_add_test(tc, test_queue_after_close_pushes_fail_and_items_drain);
    tcase_add_test(tc, test_queue_stress_2_producers_2_consumers_each_item_once);
    suite_add_tcase(s, tc);

    tc = tcase_create("err");
    tcase_add_test(tc, test_err_first_error_wins);
    tcase_add_test(tc, test_err_long_message_is_truncated);
    tcase_add_test(tc, test_err_format_with_and_without_position);
    tcase_add_test(tc, test_strerror_names_every_code);
    tcase_add_test(tc, test_fmt_i64_equals_printf);
    suite_add_tcase(s, tc);

    return s;
}

TS_CHECK_MAIN(make_suite)
