/* check_decoder.c - the decoder file format (load errors with exact
 * file:line:col), matching (program, format, prefix, contains, has, first
 * match wins), extraction (named captures, key=value, copy, constants,
 * types), that a non-matching event is left as parsed, and each shipped
 * decoder in etc/decoders/ on hand-made lines. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../core/arena.h"
#include "../../core/event.h"
#include "../../core/tstime.h"
#include "../../normalise/decoder.h"
#include "../../ingest/ingest.h"
#include "check_util.h"

static struct ts_arena *arena;
static struct ts_event ev;
static struct norm_decoder_set *ds;
static struct norm_decoder_scratch *sc;
static struct norm_decoder_explain ex;
static struct ts_err err;
static char tmpdir[64];

#define INGEST_NS (ts_epoch_from_utc(2024, 6, 15, 12, 0, 0) * TS_NS_PER_SEC)

static void setup(void)
{
    ck_assert_int_eq(ts_arena_create(&arena, 4096, 1u << 24), 0);
    ck_assert_int_eq(norm_decoder_scratch_create(&sc, NULL), 0);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tocsin-dec.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    ds = NULL;
    memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
    norm_decoder_set_free(ds);
    ds = NULL;
    norm_decoder_scratch_free(sc);
    ts_arena_destroy(arena);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Write text to tmpdir/name; returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int load_text(const char *text)
{
    const char *p = write_file("d.yml", text);
    norm_decoder_set_free(ds);
    ds = NULL;
    memset(&err, 0, sizeof(err));
    return norm_decoder_set_load(&ds, &p, 1, &err);
}

static void load_ok(const char *text)
{
    int rc = load_text(text);
    char buf[1024];
    ts_err_format(&err, buf, sizeof(buf));
    ck_assert_msg(rc == 0, "load failed: %s", buf);
}

/* The error, formatted, without the temp dir: "d.yml:3:5: error: ...". */
static const char *err_text(void)
{
    static char buf[1024];
    ts_err_format(&err, buf, sizeof(buf));
    size_t n = strlen(tmpdir);
    if (strncmp(buf, tmpdir, n) == 0 && buf[n] == '/')
        return buf + n + 1;
    return buf;
}

static void load_fails_at(const char *text, unsigned line, unsigned col, const char *msg_part)
{
    ck_assert_int_ne(load_text(text), 0);
    ck_assert_ptr_null(ds);
    ck_assert_msg(err.line == line && err.col == col, "want %u:%u, got %s", line, col, err_text());
    ck_assert_msg(strstr(err.msg, msg_part) != NULL, "\"%s\" not in %s", msg_part, err_text());
}

static void load_shipped(void)
{
    const char *p = "etc/decoders";
    if (access(p, F_OK) != 0)
        p = "../../etc/decoders";
    norm_decoder_set_free(ds);
    ds = NULL;
    int rc = norm_decoder_set_load(&ds, &p, 1, &err);
    char buf[1024];
    ts_err_format(&err, buf, sizeof(buf));
    ck_assert_msg(rc == 0, "shipped decoders: %s", buf);
}

/* Parse (auto) and decode one line. */
static int decode(const char *raw)
{
    size_t len = strlen(raw);
    ts_arena_reset(arena);
    ts_event_init(&ev, arena);
    ev.raw = ts_arena_strndup(arena, raw, len);
    ev.raw_len = (uint32_t)len;
    ev.ingest_ns = INGEST_NS;
    struct ingest_diag d;
    ck_assert_int_eq(ingest_parse(INGEST_FMT_AUTO, NULL, &ev, &d), 0);
    return norm_decoder_apply(ds, sc, &ev, &ex);
}

static void assert_str(const char *name, const char *want)
{
    const struct ts_field *f = ts_event_getz(&ev, name);
    ck_assert_msg(f != NULL, "field %s missing (%s)", name, ex.why ? ex.why : "");
    ck_assert_msg(f->v.type == TS_V_STR, "field %s is not a string", name);
    ck_assert_msg(f->v.len == strlen(want) && memcmp(f->v.u.s, want, f->v.len) == 0,
                  "field %s is \"%.*s\", want \"%s\"", name, (int)f->v.len, f->v.u.s, want);
}

static void assert_int(const char *name, int64_t want)
{
    const struct ts_field *f = ts_event_getz(&ev, name);
    ck_assert_msg(f != NULL, "field %s missing (%s)", name, ex.why ? ex.why : "");
    ck_assert_msg(f->v.type == TS_V_INT, "field %s is not an int", name);
    ck_assert_int_eq(f->v.u.i, want);
}

static void assert_ip(const char *name, const char *want)
{
    const struct ts_field *f = ts_event_getz(&ev, name);
    ck_assert_msg(f != NULL, "field %s missing (%s)", name, ex.why ? ex.why : "");
    ck_assert_msg(f->v.type == TS_V_IP, "field %s is not an IP", name);
    char buf[64];
    ck_assert_str_eq(ts_ip_format(&f->v.u.ip, buf, sizeof(buf)), want);
}

static void assert_absent(const char *name)
{
    ck_assert_msg(ts_event_getz(&ev, name) == NULL, "field %s should be absent", name);
}

static void assert_decoder(const char *name)
{
    ck_assert_msg(ex.decoder && strcmp(ex.decoder, name) == 0, "decoder %s, want %s (%s)",
                  ex.decoder ? ex.decoder : "none", name, ex.why ? ex.why : "");
}

/* ------------------------------------------------------------ load errors */

START_TEST(test_load_error_bad_regex_points_at_the_offending_character)
{
    load_fails_at("decoders:\n"
                  "  - name: x\n"
                  "    patterns:\n"
                  "      - regex: 'ab(cd'\n",
                  4, 22, "missing closing parenthesis");
    ck_assert(strstr(err.msg, "at offset 5") != NULL);
    ck_assert_str_eq(err_text(), "d.yml:4:22: error: invalid regex: missing closing parenthesis "
                                 "(at offset 5 of the pattern)");
    /* plain scalar: col + offset */
    load_fails_at("decoders:\n"
                  "  - name: x\n"
                  "    patterns:\n"
                  "      - regex: a[b\n",
                  4, 19, "missing terminating ]");
}
END_TEST

START_TEST(test_load_error_unknown_key_with_suggestion)
{
    load_fails_at("decoders:\n"
                  "  - name: x\n"
                  "    mtach: {program: sshd}\n"
                  "    patterns: [{set: {a: b}}]\n",
                  3, 5, "unknown key \"mtach\" in a decoder (did you mean \"match\"?)");
    load_fails_at("decoders:\n"
                  "  - name: x\n"
                  "    match: {programme: sshd}\n"
                  "    patterns: [{set: {a: b}}]\n",
                  3, 13, "did you mean \"program\"?");
}
END_TEST

START_TEST(test_load_error_unknown_type_and_format)
{
    load_fails_at("decoders:\n"
                  "  - name: x\n"
                  "    types: {src_ip: ipv4}\n"
                  "    patterns: [{set: {a: b}}]\n",
                  3, 21, "unknown type \"ipv4\"");
    load_fails_at("decoders:\n"
                  "  - name: x\n"
                  "    match:\n"
                  "      format: [rfc3164, ceff]\n"
                  "    patterns: [{set: {a: b}}]\n",
                  4, 25, "unknown format \"ceff\" (did you mean \"cef\"?)");
}
END_TEST

START_TEST(test_load_error_structure)
{
    load_fails_at("- name: x\n", 1, 1, "a decoder file is a mapping");
    load_fails_at("decoders:\n  - name: x\n", 2, 5, "needs patterns");
    load_fails_at("decoders:\n  - patterns: [{set: {a: b}}]\n", 2, 5, "needs a name");
    load_fails_at("decoders:\n"
                  "  - name: x\n"
                  "    patterns: [{set: {a: b}}]\n"
                  "  - name: x\n"
                  "    patterns: [{set: {a: b}}]\n",
                  4, 11, "duplicate decoder name \"x\"");
    load_fails_at("decoders:\n  - name: x\n    patterns: [{}]\n", 3, 16,
                  "needs at least one of regex, kv, copy or set");
    load_fails_at("decoders:\n"
                  "  - name: x\n"
                  "    types: {port: int}\n"
                  "    patterns: [{set: {port: eighty}}]\n",
                  4, 29, "\"eighty\" is not an int");
    load_fails_at("decoders:\n"
                  "  - name: x\n"
                  "    match: {program: a, program_regex: b}\n"
                  "    patterns: [{set: {a: b}}]\n",
                  3, 40, "either program or program_regex");
}
END_TEST

START_TEST(test_load_error_yaml_syntax_and_missing_file)
{
    ck_assert_int_ne(load_text("decoders:\n  - name: [x\n"), 0);
    ck_assert_uint_gt(err.line, 0);
    ck_assert(strstr(err.file, "d.yml") != NULL);
    const char *nope = "/nonexistent/decoders.yml";
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(norm_decoder_set_load(&ds, &nope, 1, &err), TS_E_IO);
    ck_assert_str_eq(err.file, nope);
}
END_TEST

START_TEST(test_load_error_too_many_capture_groups)
{
    char text[4096] = "decoders:\n  - name: x\n    patterns:\n      - regex: '";
    for (int i = 0; i < INGEST_DEC_MAX_GROUPS + 1; i++)
        strcat(text, "(a)");
    strcat(text, "'\n");
    load_fails_at(text, 4, 16, "capture groups");
    ck_assert_int_eq(err.code, TS_E_LIMIT);
}
END_TEST

/* A decoder error is a load error: the set is not built, and an event
 * decoded with no set (the old one kept, or none) flows unchanged. */
START_TEST(test_load_error_event_still_flows_unchanged)
{
    ck_assert_int_ne(load_text("decoders:\n  - name: x\n    patterns: [{regex: '('}]\n"), 0);
    ck_assert_ptr_null(ds);
    ck_assert_int_eq(decode("Jun 15 10:00:00 h sshd[1]: Failed password for root from 1.2.3.4 "
                            "port 5 ssh2"),
                     0);
    ck_assert_uint_eq(ev.nfields, 4); /* host, program, pid, message: as parsed */
    assert_str("message", "Failed password for root from 1.2.3.4 port 5 ssh2");
}
END_TEST

/* --------------------------------------------------------------- matching */

static const char basic[] = "decoders:\n"
                            "  - name: first\n"
                            "    match: {program: app, prefix: 'login '}\n"
                            "    types: {port: int, ip: ip, when: time}\n"
                            "    rename: {who: user.name}\n"
                            "    set: {outcome: failure, tag: x}\n"
                            "    patterns:\n"
                            "      - regex: '^login (?<who>\\w+) from (?<ip>\\S+):(?<port>\\S+)'\n"
                            "        set: {tag: y}\n"
                            "      - regex: '^login (?<who>\\w+) at (?<when>.+)$'\n"
                            "  - name: second\n"
                            "    match: {program_regex: '^app\\d?$', format: rfc3164}\n"
                            "    patterns:\n"
                            "      - regex: '(?<word>\\w+)$'\n"
                            "  - name: third\n"
                            "    match: {contains: ['k=', 'q='], has: [host]}\n"
                            "    patterns:\n"
                            "      - kv: {only: [k, q]}\n"
                            "        rename: {k: key}\n";

START_TEST(test_first_decoder_and_first_pattern_win)
{
    load_ok(basic);
    ck_assert_uint_eq(norm_decoder_set_count(ds), 3);
    ck_assert_int_eq(decode("Jun 15 10:00:00 h app: login bob from 10.0.0.1:22"), 0);
    assert_decoder("first");
    ck_assert(strstr(ex.why, "pattern 1 (") != NULL);
    ck_assert(strstr(ex.why, "d.yml:8:16) matched") != NULL);
    assert_str("user.name", "bob");
    assert_ip("ip", "10.0.0.1");
    assert_int("port", 22);
    assert_str("outcome", "failure");
    assert_str("tag", "y"); /* the pattern's constant overrides the decoder's */
    assert_absent("word");
}
END_TEST

START_TEST(test_type_that_does_not_parse_is_kept_as_string)
{
    load_ok(basic);
    ck_assert_int_eq(decode("Jun 15 10:00:00 h app: login bob from host-a:ssh"), 0);
    assert_str("ip", "host-a");
    assert_str("port", "ssh");
    struct norm_decoder_stats st;
    norm_decoder_scratch_stats(sc, &st);
    ck_assert_uint_eq(st.type_errors, 2);
    ck_assert_uint_eq(st.decoded, 1);
}
END_TEST

START_TEST(test_time_type_sets_event_time)
{
    load_ok(basic);
    ck_assert_int_eq(decode("Jun 15 10:00:00 h app: login bob at 2024-01-02T03:04:05Z"), 0);
    assert_decoder("first");
    ck_assert(strstr(ex.why, "pattern 2") != NULL);
    ck_assert_int_eq(ev.time_ns, ts_epoch_from_utc(2024, 1, 2, 3, 4, 5) * TS_NS_PER_SEC);
    assert_absent("when");
}
END_TEST

START_TEST(test_next_decoder_when_prefix_or_patterns_fail)
{
    load_ok(basic);
    /* prefix fails for "first"; "second" takes it (program_regex) */
    ck_assert_int_eq(decode("Jun 15 10:00:00 h app: logout bob"), 0);
    assert_decoder("second");
    assert_str("word", "bob");
    ck_assert_int_eq(decode("Jun 15 10:00:00 h app7: logout bob"), 0);
    assert_decoder("second");
    /* "first" accepts (prefix ok) but no pattern matches: "second" */
    ck_assert_int_eq(decode("Jun 15 10:00:00 h app: login ?? x"), 0);
    assert_decoder("second");
    assert_str("word", "x");
}
END_TEST

START_TEST(test_kv_only_rename_contains_has)
{
    load_ok(basic);
    ck_assert_int_eq(decode("Jun 15 10:00:00 h other: a=1 k=\"v 1\" q=2 z=3"), 0);
    assert_decoder("third");
    assert_str("key", "v 1");
    assert_str("q", "2");
    assert_absent("a");
    assert_absent("z");
    /* has: [host] fails without a host */
    ck_assert_int_eq(decode("Jun 15 10:00:00 other: k=1 q=2"), 0);
    ck_assert_ptr_null(ex.decoder);
}
END_TEST

START_TEST(test_non_matching_event_is_left_as_parsed)
{
    load_ok(basic);
    ck_assert_int_eq(decode("Jun 15 10:00:00 h nothing: here ..."), 0);
    ck_assert_ptr_null(ex.decoder);
    ck_assert_ptr_nonnull(ex.why);
    ck_assert(strstr(ex.why, "no decoder applies to program \"nothing\"") != NULL);
    ck_assert_uint_eq(ev.nfields, 3);
    ck_assert(ev.time_from_event);
    ck_assert_ptr_null(ev.logsource.product);
    /* explain is optional */
    ck_assert_int_eq(norm_decoder_apply(ds, sc, &ev, NULL), 0);
    ck_assert_int_eq(norm_decoder_apply(NULL, sc, &ev, &ex), 0);
    ck_assert_ptr_null(ex.decoder);
}
END_TEST

/* The "no decoder" silent-loss count: a line with a program and a message
 * that no decoder read, not a decoded one, not one without a program. */
START_TEST(test_undecoded_lines_are_flagged_and_counted)
{
    load_shipped();
    struct norm_decoder_stats st0, st1;
    norm_decoder_scratch_stats(sc, &st0);
    ck_assert_int_eq(decode("Jun 15 10:00:00 h nothing: here ..."), 0);
    ck_assert(norm_decoder_scratch_undecoded(sc));
    ck_assert_int_eq(decode("Jun 15 10:00:00 h sshd[1]: whatever sshd says that no pattern "
                            "knows"),
                     0);
    ck_assert(norm_decoder_scratch_undecoded(sc)); /* sshd's decoder applied, no pattern */
    ck_assert_int_eq(decode("Jun 15 10:00:00 web1 sshd[4242]: Failed password for root from "
                            "203.0.113.9 port 50022 ssh2"),
                     0);
    ck_assert_ptr_nonnull(ex.decoder);
    ck_assert(!norm_decoder_scratch_undecoded(sc));
    ck_assert_int_eq(decode("{\"EventID\": 4625, \"message\": \"An account failed\"}"), 0);
    ck_assert(!norm_decoder_scratch_undecoded(sc)); /* no program: nothing expected */
    norm_decoder_scratch_stats(sc, &st1);
    ck_assert_uint_eq(st1.undecoded - st0.undecoded, 2);
    ck_assert_uint_eq(st1.events - st0.events, 4);
    ck_assert(!norm_decoder_scratch_undecoded(NULL));
}
END_TEST

/* ReDoS (issue 15, part 2): a catastrophic pattern, (a+)+$, on a hostile
 * line of 5000 a's and a b stops at PCRE2's limits instead of running for
 * 2^5000 steps; the cut search counts as not matching (the next pattern
 * fires), is counted in regex_cut and flags the event (norm_regex_cut); the
 * scratch goes on matching ordinary lines. */
START_TEST(test_catastrophic_decoder_regex_stops_at_the_limit_and_is_counted)
{
    load_ok("decoders:\n"
            "  - name: redos\n"
            "    match: {program: app}\n"
            "    patterns:\n"
            "      - regex: '(?<as>(a+)+)$'\n"
            "      - regex: '^(?<rest>.*)$'\n");
    static char line[5200];
    int n = snprintf(line, sizeof(line), "Jun 15 10:00:00 h app: ");
    memset(line + n, 'a', 5000);
    memcpy(line + n + 5000, "b", 2);
    ck_assert_int_eq(decode(line), 0);
    assert_decoder("redos");
    ck_assert_ptr_nonnull(ts_event_getz(&ev, "rest"));
    ck_assert_ptr_null(ts_event_getz(&ev, "as"));
    ck_assert(norm_decoder_scratch_cut(sc));
    struct norm_decoder_stats st;
    norm_decoder_scratch_stats(sc, &st);
    ck_assert_uint_eq(st.regex_cut, 1);
    ck_assert_uint_eq(st.match_errors, 1);

    ck_assert_int_eq(decode("Jun 15 10:00:00 h app: aaaa"), 0);
    assert_str("as", "aaaa");
    ck_assert(!norm_decoder_scratch_cut(sc));
    norm_decoder_scratch_stats(sc, &st);
    ck_assert_uint_eq(st.regex_cut, 1);
    ck_assert_uint_eq(st.decoded, 2);
}
END_TEST

START_TEST(test_dupnames_alternatives_and_empty_captures)
{
    load_ok("decoders:\n"
            "  - name: alt\n"
            "    patterns:\n"
            "      - regex: '^(?:a=(?<v>\\d+)|b=(?<v>\\w+))(?<empty>x?)$'\n");
    ck_assert_int_eq(decode("Jun 15 10:00:00 h p: b=word"), 0);
    assert_str("v", "word");
    assert_absent("empty");
}
END_TEST

START_TEST(test_copy_and_logsource_fill_only_unset)
{
    load_ok("decoders:\n"
            "  - name: cp\n"
            "    match: {format: kv}\n"
            "    logsource: {product: fortigate, category: firewall}\n"
            "    types: {src_ip: ip, dst_port: int}\n"
            "    patterns:\n"
            "      - copy: {srcip: src_ip, dstport: dst_port, missing: nothing}\n");
    ck_assert_int_eq(decode("srcip=10.0.0.1 dstport=443"), 0);
    assert_decoder("cp");
    assert_ip("src_ip", "10.0.0.1");
    assert_int("dst_port", 443);
    assert_absent("nothing");
    ck_assert_str_eq(ev.logsource.product, "fortigate");
    ck_assert_str_eq(ev.logsource.category, "firewall");
    ck_assert_ptr_null(ev.logsource.service);
}
END_TEST

START_TEST(test_directory_loads_files_in_name_order)
{
    write_file("b.yml", "decoders:\n  - name: b\n    patterns: [{set: {from: b}}]\n");
    write_file("a.yaml", "decoders:\n  - name: a\n    patterns: [{regex: '^zzz$'}]\n");
    write_file("ignored.txt", "not yaml: [");
    const char *dir = tmpdir;
    ck_assert_int_eq(norm_decoder_set_load(&ds, &dir, 1, &err), 0);
    ck_assert_uint_eq(norm_decoder_set_count(ds), 2);
    ck_assert_int_eq(decode("Jun 15 10:00:00 h p: x"), 0);
    assert_decoder("b");
    assert_str("from", "b");
}
END_TEST

START_TEST(test_set_reference_counting)
{
    load_ok(basic);
    ck_assert_ptr_eq(norm_decoder_set_ref(ds), ds);
    norm_decoder_set_free(ds); /* one reference left */
    ck_assert_int_eq(decode("Jun 15 10:00:00 h app: login bob from 10.0.0.1:22"), 0);
    assert_decoder("first");
    ck_assert_ptr_null(norm_decoder_set_ref(NULL));
}
END_TEST

START_TEST(test_arena_full_returns_error_and_keeps_event)
{
    load_ok(basic);
    struct ts_arena *small;
    ck_assert_int_eq(ts_arena_create(&small, 4096, 4096), 0);
    const char *raw = "Jun 15 10:00:00 h app: login bob from 10.0.0.1:22";
    struct ts_event e;
    ts_event_init(&e, small);
    e.raw = raw;
    e.raw_len = (uint32_t)strlen(raw);
    struct ingest_diag d;
    ck_assert_int_eq(ingest_parse(INGEST_FMT_AUTO, NULL, &e, &d), 0);
    uint32_t n = e.nfields;
    /* use up the arena */
    while (ts_arena_alloc(small, 16))
        ;
    int rc = norm_decoder_apply(ds, sc, &e, &ex);
    ck_assert(rc == TS_E_NOMEM || rc == 0);
    ck_assert_uint_ge(e.nfields, n);
    ts_arena_destroy(small);
}
END_TEST

/* -------------------------------------------------------- shipped decoders */

START_TEST(test_shipped_sshd)
{
    load_shipped();
    decode("Jun 15 10:00:00 bastion sshd[1]: Failed password for invalid user admin from "
           "203.0.113.5 port 4242 ssh2");
    assert_decoder("sshd");
    assert_ip("src_ip", "203.0.113.5");
    assert_int("src_port", 4242);
    assert_str("username", "admin");
    assert_str("auth_method", "password");
    assert_str("outcome", "failure");
    assert_str("reason", "invalid_user");
    ck_assert_str_eq(ev.logsource.service, "sshd");

    decode("Jun 15 10:00:00 bastion sshd[1]: Accepted publickey for deploy from 2001:db8::7 port "
           "5000 ssh2: ED25519 SHA256:AbCd");
    assert_ip("src_ip", "2001:db8::7");
    assert_str("username", "deploy");
    assert_str("auth_method", "publickey");
    assert_str("outcome", "success");
    assert_str("key_type", "ED25519");

    decode("Jun 15 10:00:00 bastion sshd[1]: Invalid user oracle from 198.51.100.1 port 3333");
    assert_str("username", "oracle");
    assert_int("src_port", 3333);
    assert_str("outcome", "failure");

    decode("Jun 15 10:00:00 bastion sshd[1]: pam_unix(sshd:auth): authentication failure; "
           "logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.2  user=root");
    assert_ip("src_ip", "198.51.100.2");
    assert_str("username", "root");
    assert_str("outcome", "failure");

    decode("Jun 15 10:00:00 bastion sshd[1]: Received disconnect from 198.51.100.3 port 40000:11: "
           "Bye Bye [preauth]");
    assert_ip("src_ip", "198.51.100.3");
    assert_int("src_port", 40000);
    assert_str("action", "disconnect");
    assert_str("stage", "preauth");

    decode("Jun 15 10:00:00 bastion sshd[1]: Disconnecting: Too many authentication failures for "
           "root [preauth]");
    assert_str("username", "root");
    assert_str("reason", "too_many_failures");

    decode("Jun 15 10:00:00 bastion sshd[1]: Connection closed by authenticating user root "
           "198.51.100.4 port 22 [preauth]");
    assert_str("username", "root");
    assert_ip("src_ip", "198.51.100.4");
    assert_str("outcome", "failure");
}
END_TEST

START_TEST(test_shipped_sudo_su_pam_accounts)
{
    load_shipped();
    decode("Jun 15 10:00:00 web sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
           "COMMAND=/bin/cat /etc/shadow");
    assert_decoder("sudo");
    assert_str("username", "alice");
    assert_str("target_user", "root");
    assert_str("command", "/bin/cat /etc/shadow");
    decode("Jun 15 10:00:00 web sudo:      bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/ ; "
           "USER=root ; COMMAND=/bin/sh");
    assert_str("username", "bob");
    assert_str("outcome", "failure");
    decode("Jun 15 10:00:00 web su[4]: pam_unix(su:session): session opened for user root(uid=0) "
           "by alice(uid=1000)");
    assert_decoder("su");
    assert_str("target_user", "root");
    assert_str("username", "alice");
    decode("Jun 15 10:00:00 web login[4]: pam_unix(login:auth): authentication failure; logname= "
           "uid=0 euid=0 tty=tty1 ruser= rhost=  user=carol");
    assert_decoder("pam");
    assert_str("username", "carol");
    assert_str("outcome", "failure");
    decode("Jun 15 10:00:00 web useradd[99]: new user: name=backdoor, UID=1001, GID=1001, "
           "home=/home/backdoor, shell=/bin/bash, from=/dev/pts/0");
    assert_decoder("account-management");
    assert_str("target_user", "backdoor");
    assert_int("uid", 1001);
    assert_str("action", "user_add");
    decode("Jun 15 10:00:00 web usermod[9]: add 'backdoor' to group 'sudo'");
    assert_str("group", "sudo");
    assert_str("action", "group_member_add");
    decode("Jun 15 10:00:00 web passwd[9]: pam_unix(passwd:chauthtok): password changed for "
           "alice");
    assert_str("target_user", "alice");
    assert_str("action", "password_change");
}
END_TEST

START_TEST(test_shipped_web_access_and_errors)
{
    load_shipped();
    decode("198.51.100.9 - - [15/Jun/2024:10:00:00 +0000] \"GET /index.php?id=1%27 HTTP/1.1\" "
           "500 12 \"-\" \"sqlmap/1.7\"");
    assert_decoder("web-access");
    assert_ip("src_ip", "198.51.100.9");
    assert_str("cs-uri-query", "id=1%27");
    ck_assert_str_eq(ev.logsource.category, "webserver");
    decode("[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] [client "
           "72.15.99.187:53000] AH00124: File does not exist: /htdocs/favicon.ico");
    assert_decoder("apache-error");
    assert_ip("c-ip", "72.15.99.187");
    assert_int("c_port", 53000);
    assert_str("level", "error");
    assert_str("module", "core");
    assert_str("error_code", "AH00124");
    assert_str("error_message", "File does not exist: /htdocs/favicon.ico");
    ck_assert_int_eq(ev.time_ns,
                     ts_epoch_from_utc(2000, 10, 11, 14, 32, 52) * TS_NS_PER_SEC + 123456000);
    decode("2024/06/15 10:00:00 [error] 1234#1234: *5 open() \"/var/www/x\" failed (2: No such "
           "file or directory), client: 203.0.113.7, server: example.org, request: \"GET /x?y=1 "
           "HTTP/1.1\", host: \"example.org\"");
    assert_decoder("nginx-error");
    assert_ip("c-ip", "203.0.113.7");
    assert_str("cs-method", "GET");
    assert_str("cs-uri-stem", "/x");
    assert_str("cs-uri-query", "y=1");
    assert_str("cs-host", "example.org");
    ck_assert_int_eq(ev.time_ns, ts_epoch_from_utc(2024, 6, 15, 10, 0, 0) * TS_NS_PER_SEC);
}
END_TEST

START_TEST(test_shipped_firewalls)
{
    load_shipped();
    decode("<189>date=2024-06-15 time=10:11:12 devname=\"FGT\" devid=\"FG100E\" "
           "logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" srcip=10.1.100.11 "
           "srcport=58012 dstip=203.0.113.35 dstport=443 action=\"deny\" user=\"bob\"");
    assert_decoder("fortigate");
    assert_ip("src_ip", "10.1.100.11");
    assert_ip("dst_ip", "203.0.113.35");
    assert_int("dst_port", 443);
    assert_str("action", "deny");
    assert_str("username", "bob");
    decode("<189>date=2024-06-15 time=10:11:12 devid=\"FG100E\" logid=\"0100032002\" "
           "type=\"event\" subtype=\"system\" logdesc=\"Admin login failed\" user=\"admin\" "
           "srcip=198.51.100.20");
    assert_str("outcome", "failure");
    assert_str("username", "admin");

    decode("Jun 15 10:00:00 gw kernel: [12345.678] [UFW BLOCK] IN=eth0 OUT= MAC=00:11 "
           "SRC=198.51.100.9 DST=10.0.0.2 LEN=60 PROTO=TCP SPT=5 DPT=22 SYN");
    assert_decoder("iptables");
    assert_ip("src_ip", "198.51.100.9");
    assert_ip("dst_ip", "10.0.0.2");
    assert_int("dst_port", 22);
    assert_str("proto", "TCP");
    assert_str("action", "block");
    assert_absent("out_interface");
    decode("Jun 15 10:00:00 gw kernel: IPTABLES-DROPPED: IN=eth1 OUT= SRC=1.2.3.4 DST=5.6.7.8 "
           "PROTO=UDP SPT=53 DPT=5353");
    assert_str("action", "block");
    assert_str("log_prefix", "IPTABLES-DROPPED:");

    decode("<166>Jan 05 2024 10:00:00 asa-1 : %ASA-6-302013: Built outbound TCP connection 9 for "
           "outside:93.184.216.34/443 (93.184.216.34/443) to inside:10.0.0.5/51000 "
           "(192.0.2.1/51000)");
    assert_decoder("cisco-asa");
    assert_ip("src_ip", "10.0.0.5");
    assert_ip("dst_ip", "93.184.216.34");
    assert_int("dst_port", 443);
    assert_str("direction", "outbound");
    decode("Jan 5 10:00:00 asa-1 %ASA-4-106023: Deny tcp src outside:198.51.100.7/1234 dst "
           "inside:10.0.0.5/22 by access-group \"OUTSIDE_IN\" [0x0, 0x0]");
    assert_ip("src_ip", "198.51.100.7");
    assert_int("dst_port", 22);
    assert_str("action", "deny");
    assert_str("acl", "OUTSIDE_IN");
    assert_int("asa_severity", 4);
    decode("<164>%ASA-4-106023: Deny icmp src outside:1.2.3.4 dst inside:10.0.0.5 (type 8, code "
           "0) by access-group \"X\" [0x0, 0x0]");
    assert_str("proto", "icmp");
    assert_absent("dst_port");
    decode("Jan 5 10:00:00 asa-1 %ASA-6-605004: Login denied from 198.51.100.8/4000 to "
           "outside:192.0.2.1/ssh for user \"admin\"");
    assert_str("username", "admin");
    assert_str("outcome", "failure");
}
END_TEST

START_TEST(test_shipped_mail)
{
    load_shipped();
    decode("Jun 15 10:00:00 mx postfix/smtpd[123]: warning: unknown[203.0.113.5]: SASL LOGIN "
           "authentication failed: UGFzc3dvcmQ6");
    assert_decoder("postfix");
    assert_ip("src_ip", "203.0.113.5");
    assert_str("auth_method", "LOGIN");
    assert_str("outcome", "failure");
    decode("Jun 15 10:00:00 mx postfix/submission/smtpd[123]: warning: mail.example[203.0.113.6]:"
           " SASL PLAIN authentication failed: authentication failure, sasl_username=bob");
    assert_str("username", "bob");
    decode("Jun 15 10:00:00 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 "
           "secs): user=<bob>, method=PLAIN, rip=203.0.113.6, lip=10.0.0.3, session=<abc>");
    assert_decoder("dovecot");
    assert_str("username", "bob");
    assert_ip("src_ip", "203.0.113.6");
    assert_str("outcome", "failure");
    decode("Jun 15 10:00:00 mx dovecot: auth: pam(carol,203.0.113.8,<x>): pam_authenticate() "
           "failed: Authentication failure (password mismatch?)");
    assert_str("username", "carol");
    assert_ip("src_ip", "203.0.113.8");
    assert_str("outcome", "failure");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("decoder");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_load_error_bad_regex_points_at_the_offending_character);
    tcase_add_test(tc, test_load_error_unknown_key_with_suggestion);
    tcase_add_test(tc, test_load_error_unknown_type_and_format);
    tcase_add_test(tc, test_load_error_structure);
    tcase_add_test(tc, test_load_error_yaml_syntax_and_missing_file);
    tcase_add_test(tc, test_load_error_too_many_capture_groups);
    tcase_add_test(tc, test_load_error_event_still_flows_unchanged);
    suite_add_tcase(s, tc);
    tc = tcase_create("apply");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_first_decoder_and_first_pattern_win);
    tcase_add_test(tc, test_type_that_does_not_parse_is_kept_as_string);
    tcase_add_test(tc, test_time_type_sets_event_time);
    tcase_add_test(tc, test_next_decoder_when_prefix_or_patterns_fail);
    tcase_add_test(tc, test_kv_only_rename_contains_has);
    tcase_add_test(tc, test_non_matching_event_is_left_as_parsed);
    tcase_add_test(tc, test_undecoded_lines_are_flagged_and_counted);
    tcase_add_test(tc, test_catastrophic_decoder_regex_stops_at_the_limit_and_is_counted);
    tcase_add_test(tc, test_dupnames_alternatives_and_empty_captures);
    tcase_add_test(tc, test_copy_and_logsource_fill_only_unset);
    tcase_add_test(tc, test_directory_loads_files_in_name_order);
    tcase_add_test(tc, test_set_reference_counting);
    tcase_add_test(tc, test_arena_full_returns_error_and_keeps_event);
    suite_add_tcase(s, tc);
    tc = tcase_create("shipped");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_shipped_sshd);
    tcase_add_test(tc, test_shipped_sudo_su_pam_accounts);
    tcase_add_test(tc, test_shipped_web_access_and_errors);
    tcase_add_test(tc, test_shipped_firewalls);
    tcase_add_test(tc, test_shipped_mail);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
