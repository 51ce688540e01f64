/* check_profile.c - mapping profiles (ingest/profile.c): the YAML format and
 * its errors (exact file:line:col), every rule kind on hand-made events, the
 * selector and the forced profile, caps, each shipped profile of
 * etc/profiles/ on a hand-made event of its source, and one sshd failure in
 * every shape the forwarders ship it (with etc/decoders). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "../../core/arena.h"
#include "../../core/event.h"
#include "../../core/tstime.h"
#include "../../ingest/ingest.h"
#include "../../normalise/normalise.h"
#include "../../normalise/profile.h"
#include "check_util.h"

static struct ts_arena *arena;
static struct ts_event ev;
static struct norm_profile_set *ps;
static struct norm_profile_explain ex;
static struct ts_err err;
static char errbuf[1024];

static void setup(void)
{
    ck_assert_int_eq(ts_arena_create(&arena, 4096, 1u << 24), 0);
    ps = NULL;
    memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
    norm_profile_set_free(ps);
    ps = NULL;
    ts_arena_destroy(arena);
    arena = NULL;
}

/* The repository root, from this file's path as the compiler saw it. */
static const char *shipped_dir(void)
{
    static char dir[1024];
    const char *me = __FILE__;
    const char *tail = strstr(me, "tests/unit/check_profile.c");
    size_t n = tail ? (size_t)(tail - me) : 0;
    snprintf(dir, sizeof(dir), "%.*setc/profiles", (int)n, me);
    return dir;
}

static int load(const char *yaml)
{
    norm_profile_set_free(ps);
    ps = NULL;
    memset(&err, 0, sizeof(err));
    int rc = norm_profile_set_load_buffer(&ps, "t.yml", yaml, strlen(yaml), &err);
    ts_err_format(&err, errbuf, sizeof(errbuf));
    return rc;
}

static void load_ok(const char *yaml)
{
    int rc = load(yaml);
    ck_assert_msg(rc == 0, "load failed: %s", errbuf);
}

static void load_shipped(void)
{
    const char *paths[] = {shipped_dir()};
    int rc = norm_profile_set_load(&ps, paths, 1, &err);
    ts_err_format(&err, errbuf, sizeof(errbuf));
    ck_assert_msg(rc == 0, "shipped profiles: %s", errbuf);
}

/* The error must be exactly "t.yml:LINE:COL: error: ..." containing want. */
static void load_fails(const char *yaml, int code, unsigned line, unsigned col, const char *want)
{
    int rc = load(yaml);
    ck_assert_msg(rc == code, "rc %d, want %d (%s)", rc, code, errbuf);
    ck_assert_ptr_null(ps);
    ck_assert_str_eq(err.file, "t.yml");
    ck_assert_msg(err.line == line && err.col == col, "at %u:%u, want %u:%u (%s)", err.line,
                  err.col, line, col, errbuf);
    ck_assert_msg(strstr(errbuf, want) != NULL, "message \"%s\" lacks \"%s\"", errbuf, want);
}

static void parse_fmt(enum ingest_format fmt, const char *raw)
{
    size_t len = strlen(raw);
    ts_arena_reset(arena);
    ts_event_init(&ev, arena);
    ev.raw = ts_arena_strndup(arena, raw, len);
    ev.raw_len = (uint32_t)len;
    ev.ingest_ns = 1;
    struct ingest_diag d = {0};
    int rc = ingest_parse(fmt, NULL, &ev, &d);
    ck_assert_msg(rc == 0, "parse: %s", d.reason ? d.reason : "?");
}

static void parse(const char *json)
{
    parse_fmt(INGEST_FMT_JSON, json);
}

static int apply(const char *force)
{
    return norm_profile_apply(ps, force, &ev, &ex);
}

static void apply_ok(const char *want_profile)
{
    ck_assert_int_eq(apply(NULL), 0);
    if (!want_profile) {
        ck_assert_ptr_null(ex.profile);
        return;
    }
    ck_assert_msg(ex.profile && strcmp(ex.profile, want_profile) == 0, "profile %s, want %s",
                  ex.profile ? ex.profile : "(none)", want_profile);
}

static const struct ts_field *field(const char *name)
{
    const struct ts_field *f = ts_event_getz(&ev, name);
    ck_assert_msg(f != NULL, "field %s missing", name);
    return f;
}

static void absent(const char *name)
{
    ck_assert_msg(ts_event_getz(&ev, name) == NULL, "field %s should be absent", name);
}

static void str_is(const char *name, const char *want)
{
    const struct ts_field *f = field(name);
    ck_assert_msg(f->v.type == TS_V_STR, "field %s has type %d", name, f->v.type);
    ck_assert_msg(f->v.len == strlen(want) && memcmp(f->v.u.s, want, f->v.len) == 0,
                  "field %s = \"%.*s\", want \"%s\"", name, (int)f->v.len, f->v.u.s, want);
}

static void int_is(const char *name, int64_t want)
{
    const struct ts_field *f = field(name);
    ck_assert_msg(f->v.type == TS_V_INT, "field %s has type %d, want int", name, f->v.type);
    ck_assert_int_eq(f->v.u.i, want);
}

static int count_named(const char *name)
{
    int n = 0;
    for (uint32_t i = 0; i < ev.nfields; i++)
        if (strcmp(ev.fields[i].name, name) == 0)
            n++;
    return n;
}

static void ls_is(const char *product, const char *category, const char *service)
{
    const struct ts_logsource *l = &ev.logsource;
#define LS_EQ(got, want)                                                                        \
    ck_assert_msg((!(got) && !(want)) || ((got) && (want) && strcmp((got), (want)) == 0),       \
                  "logsource %s/%s/%s, want %s/%s/%s", l->product ? l->product : "-",           \
                  l->category ? l->category : "-", l->service ? l->service : "-",               \
                  product ? product : "-", category ? category : "-", service ? service : "-")
    LS_EQ(l->product, product);
    LS_EQ(l->category, category);
    LS_EQ(l->service, service);
#undef LS_EQ
}

/* ------------------------------------------------------------ format errors */

START_TEST(test_error_unknown_top_key_suggests_the_right_one)
{
    load_fails("profile: a\nselect: {format: json}\nrenam: {a: b}\n", TS_E_CONFIG, 3, 1,
               "error: unknown key \"renam\" in a profile (did you mean \"rename\"?)");
}
END_TEST

START_TEST(test_error_missing_profile_name)
{
    load_fails("select: {format: json}\n", TS_E_CONFIG, 1, 1, "needs a name (profile: NAME)");
}
END_TEST

START_TEST(test_error_bad_profile_name_points_at_value)
{
    load_fails("profile: \"a b\"\n", TS_E_CONFIG, 1, 10, "a profile name is 1-64 letters");
}
END_TEST

START_TEST(test_error_duplicate_profile_names_first_location)
{
    load_fails("profile: a\n---\nprofile: a\n", TS_E_CONFIG, 3, 10,
               "profile \"a\" is already defined at t.yml:1");
}
END_TEST

START_TEST(test_error_unknown_convert_type)
{
    load_fails("profile: a\nconvert:\n  EventID: integer\n", TS_E_CONFIG, 3, 12,
               "unknown type \"integer\" (expected int, float, string, ip or bool)");
}
END_TEST

START_TEST(test_error_family_target_without_star)
{
    load_fails("profile: a\nrename:\n  Event.EventData.*: Data\n", TS_E_CONFIG, 3, 22,
               "must end with \"*\"");
}
END_TEST

START_TEST(test_error_star_in_exact_rename_target)
{
    load_fails("profile: a\nrename:\n  Event.Image: \"x*\"\n", TS_E_CONFIG, 3, 16,
               "needs a field family on the left");
}
END_TEST

START_TEST(test_error_star_inside_family_prefix)
{
    load_fails("profile: a\nrename:\n  \"Event.*.Data.*\": \"*\"\n", TS_E_CONFIG, 3, 3,
               "\"*\" may only end a field family");
}
END_TEST

START_TEST(test_error_two_rules_for_one_field)
{
    load_fails("profile: a\nrename: {x: y}\ndrop: [x]\n", TS_E_CONFIG, 3, 8,
               "field \"x\" already has a rule (line 2)");
}
END_TEST

START_TEST(test_error_rename_to_itself)
{
    load_fails("profile: a\nrename:\n  x: x\n", TS_E_CONFIG, 3, 6, "renamed to itself");
}
END_TEST

START_TEST(test_error_case_without_condition)
{
    load_fails("profile: a\ncases:\n  - logsource: {product: windows}\n", TS_E_CONFIG, 3, 5,
               "a case needs when: or has:");
}
END_TEST

START_TEST(test_error_unknown_logsource_key)
{
    load_fails("profile: a\nlogsource:\n  produkt: windows\n", TS_E_CONFIG, 3, 3,
               "unknown key \"produkt\" in logsource (did you mean \"product\"?)");
}
END_TEST

START_TEST(test_error_null_condition_value)
{
    load_fails("profile: a\ncases:\n  - when: {Channel: ~}\n    logsource: {service: x}\n",
               TS_E_CONFIG, 3, 21, "must not be null");
}
END_TEST

START_TEST(test_error_select_wrong_kind)
{
    load_fails("profile: a\nselect: json\n", TS_E_CONFIG, 2, 9, "select must be a mapping");
}
END_TEST

START_TEST(test_error_order_not_integer)
{
    load_fails("profile: a\norder: first\n", TS_E_CONFIG, 2, 8, "order must be an integer");
}
END_TEST

START_TEST(test_error_yaml_syntax_has_position)
{
    int rc = load("profile: a\nrename: {a: b\n");
    ck_assert_int_eq(rc, TS_E_PARSE);
    ck_assert_str_eq(err.file, "t.yml");
    ck_assert_uint_gt(err.line, 0);
}
END_TEST

START_TEST(test_error_duplicate_key_in_case)
{
    load_fails("profile: a\ncases:\n  - when: {a: 1}\n    stop: true\n    stop: false\n",
               TS_E_CONFIG, 5, 5, "duplicate key \"stop\" in a case (first at line 4)");
}
END_TEST

START_TEST(test_error_too_many_condition_values_is_limit)
{
    char *y = malloc(8192);
    ck_assert_ptr_nonnull(y);
    size_t o = (size_t)snprintf(y, 8192, "profile: a\ncases:\n  - when: {x: [");
    for (int i = 0; i < 300; i++)
        o += (size_t)snprintf(y + o, 8192 - o, "%s%d", i ? "," : "", i);
    snprintf(y + o, 8192 - o, "]}\n");
    int rc = load(y);
    free(y);
    ck_assert_int_eq(rc, TS_E_LIMIT);
    ck_assert_uint_eq(err.line, 3);
}
END_TEST

START_TEST(test_error_file_name_in_message_when_loading_a_folder)
{
    char dir[] = "/tmp/tocsin-profile-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char p1[128], p2[128];
    snprintf(p1, sizeof(p1), "%s/a.yml", dir);
    snprintf(p2, sizeof(p2), "%s/b.yml", dir);
    FILE *f = fopen(p1, "w");
    fputs("profile: one\nselect: {format: json}\n", f);
    fclose(f);
    f = fopen(p2, "w");
    fputs("profile: two\n\ncases:\n  - when: {x: 1}\n    logsource: {servise: y}\n", f);
    fclose(f);
    const char *paths[] = {dir};
    int rc = norm_profile_set_load(&ps, paths, 1, &err);
    ts_err_format(&err, errbuf, sizeof(errbuf));
    unlink(p1);
    unlink(p2);
    rmdir(dir);
    ck_assert_int_eq(rc, TS_E_CONFIG);
    ck_assert_ptr_null(ps);
    char want[256];
    snprintf(want, sizeof(want), "%s:5:17: error: unknown key \"servise\"", p2);
    ck_assert_msg(strncmp(errbuf, want, strlen(want)) == 0, "%s", errbuf);
}
END_TEST

START_TEST(test_error_missing_path_is_io)
{
    const char *paths[] = {"/nonexistent/profiles"};
    ck_assert_int_eq(norm_profile_set_load(&ps, paths, 1, &err), TS_E_IO);
    ck_assert_str_eq(err.file, "/nonexistent/profiles");
}
END_TEST

/* ------------------------------------------------------------------- rules */

START_TEST(test_rename_exact_moves_the_field)
{
    load_ok("profile: p\nselect: {format: json}\nrename: {a.b: B}\n");
    parse("{\"a\":{\"b\":\"x\"},\"c\":1}");
    apply_ok("p");
    str_is("B", "x");
    absent("a.b");
    int_is("c", 1);
    ck_assert_uint_eq(ex.renamed, 1);
}
END_TEST

START_TEST(test_family_strips_the_prefix_in_place)
{
    load_ok("profile: p\nselect: {format: json}\nrename: {\"E.D.*\": \"*\"}\n");
    parse("{\"E\":{\"D\":{\"Image\":\"c:\\\\x.exe\",\"CommandLine\":\"x\"},\"S\":1}}");
    size_t used = ts_arena_used(arena);
    apply_ok("p");
    ck_assert_uint_eq(ts_arena_used(arena), used); /* no copy of the names */
    str_is("Image", "c:\\x.exe");
    str_is("CommandLine", "x");
    int_is("E.S", 1);
    absent("E.D.Image");
}
END_TEST

START_TEST(test_family_with_new_prefix)
{
    load_ok("profile: p\nselect: {format: json}\nrename: {\"src.*\": \"source.*\"}\n");
    parse("{\"src\":{\"ip\":\"10.0.0.1\",\"port\":22}}");
    apply_ok("p");
    str_is("source.ip", "10.0.0.1");
    int_is("source.port", 22);
}
END_TEST

START_TEST(test_family_leaf_keeps_the_last_name)
{
    load_ok("profile: p\nselect: {format: json}\nrename: {\"U.*\": {to: \"*\", leaf: true}}\n");
    parse("{\"U\":{\"LogFileCleared\":{\"SubjectUserName\":\"bob\"}}}");
    apply_ok("p");
    str_is("SubjectUserName", "bob");
}
END_TEST

START_TEST(test_family_upper_first_turns_camel_case_into_sigma_names)
{
    load_ok("profile: p\nselect: {format: json}\n"
            "rename: {\"d.*\": {to: \"*\", case: upper_first}}\n");
    parse("{\"d\":{\"commandLine\":\"whoami\",\"image\":\"x\",\"Already\":1}}");
    apply_ok("p");
    str_is("CommandLine", "whoami");
    str_is("Image", "x");
    int_is("Already", 1);
}
END_TEST

START_TEST(test_longest_family_wins)
{
    load_ok("profile: p\nselect: {format: json}\n"
            "rename: {\"a.*\": \"A_*\", \"a.b.*\": \"B_*\"}\n");
    parse("{\"a\":{\"b\":{\"x\":1},\"y\":2}}");
    apply_ok("p");
    int_is("B_x", 1);
    int_is("A_y", 2);
}
END_TEST

START_TEST(test_rename_never_overwrites_an_existing_field)
{
    load_ok("profile: p\nselect: {format: json}\nrename: {NewProcessName: Image}\n"
            "cases:\n  - {has: Image, logsource: {category: c}}\n");
    parse("{\"NewProcessName\":\"new\",\"Image\":\"old\"}");
    apply_ok("p");
    str_is("Image", "old");
    str_is("NewProcessName", "new");
    ck_assert_uint_eq(ex.conflicts, 1);
    ck_assert_int_eq(count_named("Image"), 1);
}
END_TEST

START_TEST(test_exact_rename_wins_over_family_whatever_the_order)
{
    load_ok("profile: p\nselect: {format: json}\n"
            "rename: {S.Channel: Channel, \"U.*\": {to: \"*\", leaf: true}}\n");
    parse("{\"U\":{\"X\":{\"Channel\":\"from-userdata\"}},\"S\":{\"Channel\":\"System\"}}");
    apply_ok("p");
    str_is("Channel", "System");
    str_is("U.X.Channel", "from-userdata");
    ck_assert_int_eq(count_named("Channel"), 1);
}
END_TEST

START_TEST(test_drop_exact_and_family)
{
    load_ok("profile: p\nselect: {format: json}\ndrop: [a, \"junk.*\"]\n");
    parse("{\"a\":1,\"junk\":{\"x\":1,\"y\":2},\"keep\":3}");
    apply_ok("p");
    absent("a");
    absent("junk.x");
    absent("junk.y");
    int_is("keep", 3);
    ck_assert_uint_eq(ev.nfields, 1);
}
END_TEST

START_TEST(test_copy_keeps_the_original_and_yields_to_existing)
{
    load_ok("profile: p\nselect: {format: json}\ncopy: {host.name: Computer, x: y}\n");
    parse("{\"host\":{\"name\":\"pc1\"},\"x\":1,\"y\":2}");
    apply_ok("p");
    str_is("host.name", "pc1");
    str_is("Computer", "pc1");
    int_is("y", 2);
    ck_assert_int_eq(count_named("y"), 1);
}
END_TEST

START_TEST(test_copy_source_may_be_a_renamed_field)
{
    load_ok("profile: p\nselect: {format: json}\nrename: {id_orig_h: id.orig_h}\n"
            "copy: {id.orig_h: src_ip}\n");
    parse("{\"id_orig_h\":\"10.1.1.1\"}");
    apply_ok("p");
    str_is("id.orig_h", "10.1.1.1");
    str_is("src_ip", "10.1.1.1");
}
END_TEST

START_TEST(test_convert_string_to_int_decimal_and_hex)
{
    load_ok("profile: p\nselect: {format: json}\n"
            "convert: {EventID: int, Keywords: int, Bad: int, F: float, S: string, I: ip, B: bool}\n");
    parse("{\"EventID\":\" 4688 \",\"Keywords\":\"0x8020\",\"Bad\":\"12a\",\"F\":\"1.5\","
          "\"S\":42,\"I\":\"10.0.0.1\",\"B\":\"true\"}");
    apply_ok("p");
    int_is("EventID", 4688);
    int_is("Keywords", 0x8020);
    str_is("Bad", "12a");
    ck_assert_uint_eq(ex.convert_failed, 1);
    ck_assert_int_eq(field("F")->v.type, TS_V_FLOAT);
    str_is("S", "42");
    ck_assert_int_eq(field("I")->v.type, TS_V_IP);
    ck_assert_int_eq(field("B")->v.type, TS_V_BOOL);
    ck_assert(field("B")->v.u.b);
}
END_TEST

START_TEST(test_set_overwrites_and_default_only_fills)
{
    load_ok("profile: p\nselect: {format: json}\n"
            "set: {vendor: \"acme\", n: 5}\ndefault: {level: low, present: other}\n");
    parse("{\"vendor\":\"x\",\"present\":\"mine\"}");
    apply_ok("p");
    str_is("vendor", "acme");
    int_is("n", 5);
    str_is("level", "low");
    str_is("present", "mine");
}
END_TEST

START_TEST(test_conditions_compare_case_insensitively)
{
    load_ok("profile: p\nselect: {format: json}\nlogsource: {product: windows}\n"
            "cases:\n  - {when: {Channel: Security}, logsource: {service: security}}\n");
    parse("{\"Channel\":\"security\"}");
    apply_ok("p");
    ls_is("windows", NULL, "security");
    parse("{\"Channel\":\"SECURITY\"}");
    apply_ok("p");
    ls_is("windows", NULL, "security");
    parse("{\"Channel\":\"Securityx\"}");
    apply_ok("p");
    ls_is("windows", NULL, NULL);
}
END_TEST

START_TEST(test_integer_condition_matches_number_and_numeric_string)
{
    load_ok("profile: p\nselect: {format: json}\n"
            "cases:\n  - {when: {EventID: [1, 4688]}, logsource: {category: process_creation}}\n");
    parse("{\"EventID\":4688}");
    apply_ok("p");
    ls_is(NULL, "process_creation", NULL);
    parse("{\"EventID\":\"4688\"}");
    apply_ok("p");
    ls_is(NULL, "process_creation", NULL);
    parse("{\"EventID\":46880}");
    apply_ok("p");
    ls_is(NULL, NULL, NULL);
}
END_TEST

START_TEST(test_prefix_suffix_and_any_values)
{
    load_ok("profile: p\nselect: {format: json}\ncases:\n"
            "  - {when: {program: \"sshd*\"}, logsource: {service: sshd}}\n"
            "  - {when: {file: \"*.EXE\"}, logsource: {category: exe}}\n"
            "  - {when: {x: \"*\"}, logsource: {product: anyx}}\n");
    parse("{\"program\":\"SSHD-session\",\"file\":\"a.exe\",\"x\":null}");
    apply_ok("p");
    ls_is("anyx", "exe", "sshd");
}
END_TEST

START_TEST(test_list_field_matches_any_item)
{
    load_ok("profile: p\nselect: {format: json}\n"
            "cases:\n  - {when: {tags: admin}, logsource: {category: c}}\n");
    parse("{\"tags\":[\"a\",\"Admin\"]}");
    apply_ok("p");
    ls_is(NULL, "c", NULL);
}
END_TEST

START_TEST(test_every_matching_case_applies_in_order_until_stop)
{
    load_ok("profile: p\nselect: {format: json}\ncases:\n"
            "  - {has: a, logsource: {service: one, category: first}}\n"
            "  - {has: a, logsource: {service: two}, stop: true}\n"
            "  - {has: a, logsource: {service: three}}\n");
    parse("{\"a\":1}");
    apply_ok("p");
    ls_is(NULL, "first", "two");
    ck_assert_uint_eq(ex.cases, 2);
    ck_assert_ptr_nonnull(ex.logsource_case);
    ck_assert_str_eq(ex.logsource_case, "t.yml:5");
}
END_TEST

START_TEST(test_case_rename_and_copy_see_earlier_cases)
{
    load_ok("profile: p\nselect: {format: json}\ncases:\n"
            "  - when: {EventID: 4688}\n"
            "    rename: {ProcessId: ParentProcessId}\n"
            "    copy: {NewProcessId: ProcessId}\n"
            "  - {has: ParentProcessId, set: {saw_parent: true}}\n");
    parse("{\"EventID\":4688,\"ProcessId\":\"0x10\",\"NewProcessId\":\"0x20\"}");
    apply_ok("p");
    str_is("ParentProcessId", "0x10");
    str_is("ProcessId", "0x20");
    str_is("NewProcessId", "0x20");
    ck_assert(field("saw_parent")->v.u.b);
}
END_TEST

START_TEST(test_select_format_has_and_when)
{
    load_ok("profile: a\norder: 1\nselect: {format: json, has: Event.System}\n"
            "logsource: {product: a}\n---\n"
            "profile: b\norder: 2\nselect: {format: [rfc3164, rfc5424], when: {program: sudo}}\n"
            "logsource: {product: b}\n---\n"
            "profile: c\n# no select: only when forced\nlogsource: {product: c}\n");
    parse("{\"Event\":{\"System\":{\"EventID\":1}}}");
    apply_ok("a");
    ck_assert_str_eq(ex.why, "format json, has Event.System");
    parse("{\"EventSystem\":1}");
    apply_ok(NULL);
    parse("{\"Event\":{\"Systems\":1}}");
    apply_ok(NULL); /* has matches a field or a dotted family, not a name prefix */
    parse_fmt(INGEST_FMT_RFC3164, "<85>Jun 14 15:16:01 combo sudo: pam_unix(sudo:session): x");
    apply_ok("b");
    ls_is("b", NULL, NULL);
    parse_fmt(INGEST_FMT_RFC3164, "<85>Jun 14 15:16:01 combo su: x");
    apply_ok(NULL);
}
END_TEST

START_TEST(test_order_decides_between_matching_profiles)
{
    load_ok("profile: late\norder: 50\nselect: {format: json}\n---\n"
            "profile: early\norder: 5\nselect: {format: json}\n");
    ck_assert_str_eq(norm_profile_set_name(ps, 0), "early");
    ck_assert_uint_eq(norm_profile_set_count(ps), 2);
    parse("{\"x\":1}");
    apply_ok("early");
}
END_TEST

START_TEST(test_forced_profile_skips_the_selector)
{
    load_ok("profile: a\nselect: {format: rfc5424}\nrename: {x: y}\n");
    parse("{\"x\":1}");
    apply_ok(NULL);
    ck_assert_int_eq(apply("a"), 0);
    ck_assert_str_eq(ex.profile, "a");
    ck_assert_str_eq(ex.why, "forced by --profile");
    int_is("y", 1);
    ck_assert_int_eq(apply("nope"), TS_E_NOTFOUND);
    ck_assert_int_eq(norm_profile_set_find(ps, "a"), 0);
    ck_assert_int_eq(norm_profile_set_find(ps, "nope"), -1);
}
END_TEST

START_TEST(test_many_fields_use_the_arena_scratch)
{
    load_ok("profile: p\nselect: {format: json}\nrename: {\"d.*\": \"*\", f599: last}\n");
    char *j = malloc(64 * 1024);
    ck_assert_ptr_nonnull(j);
    size_t o = (size_t)snprintf(j, 64 * 1024, "{\"d\":{");
    for (int i = 0; i < 600; i++)
        o += (size_t)snprintf(j + o, 64 * 1024 - o, "%s\"f%d\":%d", i ? "," : "", i, i);
    snprintf(j + o, 64 * 1024 - o, "}}");
    parse(j);
    free(j);
    apply_ok("p");
    int_is("f0", 0);
    int_is("f598", 598);
    int_is("f599", 599); /* d.f599 -> f599 by the family; "f599: last" names an input field */
    absent("last");
    ck_assert_uint_eq(ev.nfields, 600);
}
END_TEST

START_TEST(test_full_arena_is_reported_not_crashed)
{
    load_ok("profile: p\nselect: {format: json}\nrename: {\"d.*\": \"x_*\"}\n");
    struct ts_arena *small;
    ck_assert_int_eq(ts_arena_create(&small, 1024, 1024), 0);
    struct ts_event e2;
    ts_event_init(&e2, small);
    static char name[64][32];
    for (int i = 0; i < 40; i++) {
        snprintf(name[i], sizeof(name[i]), "d.field%d", i);
        if (ts_event_add_int(&e2, name[i], i))
            break;
    }
    int rc = norm_profile_apply(ps, NULL, &e2, &ex);
    ck_assert(rc == 0 || rc == TS_E_NOMEM);
    ts_arena_destroy(small);
}
END_TEST

START_TEST(test_null_set_applies_nothing)
{
    parse("{\"x\":1}");
    ck_assert_int_eq(norm_profile_apply(NULL, NULL, &ev, &ex), 0);
    ck_assert_ptr_null(ex.profile);
    ck_assert_int_eq(norm_profile_apply(NULL, "x", &ev, NULL), TS_E_NOTFOUND);
    norm_profile_set_free(NULL);
}
END_TEST

/* --------------------------------------------------------- shipped profiles */

START_TEST(test_shipped_profiles_load)
{
    load_shipped();
    static const char *const want[] = {"evtx_dump", "winlogbeat", "wazuh",       "zeek",
                                       "auditd",    "otrf_flat",  "linux_syslog"};
    for (size_t i = 0; i < TS_ARRAY_LEN(want); i++)
        ck_assert_msg(norm_profile_set_find(ps, want[i]) >= 0, "no profile %s", want[i]);
}
END_TEST

START_TEST(test_evtx_dump_sysmon_1_is_process_creation)
{
    load_shipped();
    parse("{\"Event\":{\"#attributes\":{\"xmlns\":\"x\"},\"System\":{\"Provider\":{\"#attributes\":"
          "{\"Name\":\"Microsoft-Windows-Sysmon\"}},\"EventID\":1,\"Channel\":"
          "\"Microsoft-Windows-Sysmon/Operational\",\"Computer\":\"pc1\",\"Correlation\":null},"
          "\"EventData\":{\"Image\":\"C:\\\\w\\\\cmd.exe\",\"CommandLine\":\"cmd /c x\","
          "\"ParentImage\":\"C:\\\\e.exe\",\"User\":\"D\\\\bob\"}}}");
    apply_ok("evtx_dump");
    ls_is("windows", "process_creation", "sysmon");
    int_is("EventID", 1);
    str_is("Channel", "Microsoft-Windows-Sysmon/Operational");
    str_is("Provider_Name", "Microsoft-Windows-Sysmon");
    str_is("Computer", "pc1");
    str_is("Image", "C:\\w\\cmd.exe");
    str_is("CommandLine", "cmd /c x");
    str_is("User", "D\\bob");
    absent("Event.#attributes.xmlns");
    absent("Event.System.Correlation");
}
END_TEST

START_TEST(test_evtx_dump_event_id_with_qualifiers)
{
    load_shipped();
    parse("{\"Event\":{\"System\":{\"Provider\":{\"#attributes\":{\"Name\":\"Service Control "
          "Manager\"}},\"EventID\":{\"#attributes\":{\"Qualifiers\":16384},\"#text\":7045},"
          "\"Channel\":\"System\"},\"EventData\":{\"ServiceName\":\"x\",\"ImagePath\":\"cmd\"}}}");
    apply_ok("evtx_dump");
    int_is("EventID", 7045);
    int_is("Qualifiers", 16384);
    ls_is("windows", NULL, "system");
    str_is("ImagePath", "cmd");
}
END_TEST

START_TEST(test_evtx_dump_userdata_leaf_names)
{
    load_shipped();
    parse("{\"Event\":{\"System\":{\"EventID\":104,\"Channel\":\"System\"},\"UserData\":"
          "{\"LogFileCleared\":{\"SubjectUserName\":\"bob\",\"Channel\":\"System\"}}}}");
    apply_ok("evtx_dump");
    str_is("SubjectUserName", "bob");
    int_is("EventID", 104);
    ck_assert_int_eq(count_named("Channel"), 1);
}
END_TEST

START_TEST(test_security_4688_gets_sysmon_names_too)
{
    load_shipped();
    parse("{\"Event\":{\"System\":{\"EventID\":4688,\"Channel\":\"Security\"},\"EventData\":"
          "{\"SubjectUserName\":\"bob\",\"NewProcessId\":\"0x1f0\",\"NewProcessName\":"
          "\"C:\\\\w\\\\whoami.exe\",\"ProcessId\":\"0x100\",\"CommandLine\":\"whoami\","
          "\"ParentProcessName\":\"C:\\\\w\\\\cmd.exe\"}}}");
    apply_ok("evtx_dump");
    ls_is("windows", "process_creation", "security");
    str_is("Image", "C:\\w\\whoami.exe");
    str_is("NewProcessName", "C:\\w\\whoami.exe");
    str_is("ParentImage", "C:\\w\\cmd.exe");
    str_is("CommandLine", "whoami");
    str_is("User", "bob");
    str_is("ProcessId", "0x1f0");
    str_is("ParentProcessId", "0x100");
}
END_TEST

START_TEST(test_sysmon_12_delete_is_registry_delete)
{
    load_shipped();
    parse("{\"Event\":{\"System\":{\"EventID\":12,\"Channel\":\"Microsoft-Windows-Sysmon/"
          "Operational\"},\"EventData\":{\"EventType\":\"DeleteKey\",\"TargetObject\":\"HKLM\\\\x\"}}}");
    apply_ok("evtx_dump");
    ls_is("windows", "registry_delete", "sysmon");
    parse("{\"Event\":{\"System\":{\"EventID\":12,\"Channel\":\"Microsoft-Windows-Sysmon/"
          "Operational\"},\"EventData\":{\"EventType\":\"CreateKey\"}}}");
    apply_ok("evtx_dump");
    ls_is("windows", "registry_add", "sysmon");
}
END_TEST

START_TEST(test_powershell_4104_is_ps_script)
{
    load_shipped();
    parse("{\"Event\":{\"System\":{\"EventID\":4104,\"Channel\":\"Microsoft-Windows-PowerShell/"
          "Operational\"},\"EventData\":{\"ScriptBlockText\":\"iex x\"}}}");
    apply_ok("evtx_dump");
    ls_is("windows", "ps_script", "powershell");
}
END_TEST

START_TEST(test_winlogbeat_event)
{
    load_shipped();
    parse("{\"@timestamp\":\"2024-01-01T00:00:00Z\",\"agent\":{\"type\":\"winlogbeat\"},"
          "\"event\":{\"code\":\"1\"},\"host\":{\"name\":\"pc1.corp\"},\"winlog\":{\"channel\":"
          "\"Microsoft-Windows-Sysmon/Operational\",\"event_id\":\"1\",\"provider_name\":"
          "\"Microsoft-Windows-Sysmon\",\"computer_name\":\"PC1\",\"record_id\":77,"
          "\"event_data\":{\"Image\":\"C:\\\\a.exe\",\"CommandLine\":\"a -x\"}}}");
    apply_ok("winlogbeat");
    ls_is("windows", "process_creation", "sysmon");
    int_is("EventID", 1);
    str_is("Computer", "PC1");
    str_is("Provider_Name", "Microsoft-Windows-Sysmon");
    str_is("Image", "C:\\a.exe");
    str_is("CommandLine", "a -x");
    int_is("EventRecordID", 77);
    str_is("host.name", "pc1.corp");
}
END_TEST

START_TEST(test_otrf_flat_channel_in_either_case)
{
    load_shipped();
    parse("{\"EventID\":4624,\"Channel\":\"security\",\"Hostname\":\"WS5\",\"SourceName\":"
          "\"Microsoft-Windows-Security-Auditing\",\"TargetUserName\":\"bob\"}");
    apply_ok("otrf_flat");
    ls_is("windows", NULL, "security");
    str_is("Computer", "WS5");
    str_is("Provider_Name", "Microsoft-Windows-Security-Auditing");
    parse("{\"EventID\":\"1\",\"Channel\":\"microsoft-windows-sysmon/operational\","
          "\"Image\":\"x\",\"CommandLine\":\"y\"}");
    apply_ok("otrf_flat");
    ls_is("windows", "process_creation", "sysmon");
    int_is("EventID", 1);
}
END_TEST

START_TEST(test_wazuh_windows_alert)
{
    load_shipped();
    parse("{\"timestamp\":\"2024-01-01T00:00:00.000+0000\",\"rule\":{\"id\":\"92052\"},"
          "\"agent\":{\"id\":\"001\",\"name\":\"WIN10\"},\"decoder\":{\"name\":"
          "\"windows_eventchannel\"},\"data\":{\"win\":{\"system\":{\"eventID\":\"1\","
          "\"channel\":\"Microsoft-Windows-Sysmon/Operational\",\"providerName\":"
          "\"Microsoft-Windows-Sysmon\",\"computer\":\"win10.corp\"},\"eventdata\":{\"image\":"
          "\"C:\\\\w\\\\cmd.exe\",\"commandLine\":\"cmd /c whoami\",\"parentImage\":\"x\"}}}}");
    apply_ok("wazuh");
    ls_is("windows", "process_creation", "sysmon");
    int_is("EventID", 1);
    str_is("Image", "C:\\w\\cmd.exe");
    str_is("CommandLine", "cmd /c whoami");
    str_is("ParentImage", "x");
    str_is("Computer", "win10.corp");
    str_is("rule.id", "92052");
}
END_TEST

START_TEST(test_wazuh_syslog_alert)
{
    load_shipped();
    parse("{\"rule\":{\"id\":\"5710\"},\"agent\":{\"name\":\"srv1\"},\"predecoder\":"
          "{\"program_name\":\"sshd\",\"hostname\":\"srv1\"},\"decoder\":{\"name\":\"sshd\"},"
          "\"data\":{\"srcip\":\"203.0.113.9\",\"srcport\":\"4242\",\"dstuser\":\"root\"},"
          "\"full_log\":\"Failed password for root from 203.0.113.9 port 4242 ssh2\"}");
    apply_ok("wazuh");
    ls_is("linux", NULL, "sshd");
    str_is("src_ip", "203.0.113.9");
    str_is("src_port", "4242");
    str_is("dst_user", "root");
    str_is("username", "root");
}
END_TEST

START_TEST(test_zeek_dotted_and_underscore_names)
{
    load_shipped();
    parse("{\"@stream\":\"conn\",\"@system\":\"s\",\"ts\":1.5,\"uid\":\"C1\",\"id.orig_h\":"
          "\"10.0.0.1\",\"id.orig_p\":5000,\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":445}");
    apply_ok("zeek");
    ls_is("zeek", NULL, "conn");
    str_is("src_ip", "10.0.0.1");
    str_is("dst_ip", "10.0.0.2");
    int_is("src_port", 5000);
    int_is("dst_port", 445);
    str_is("id.orig_h", "10.0.0.1");
    parse("{\"@stream\":\"dns\",\"uid\":\"C2\",\"id_orig_h\":\"10.0.0.3\",\"id_resp_h\":"
          "\"10.0.0.4\",\"query\":\"x.org\"}");
    apply_ok("zeek");
    ls_is("zeek", NULL, "dns");
    str_is("src_ip", "10.0.0.3");
    str_is("id.resp_h", "10.0.0.4");
    parse("{\"ts\":1.5,\"uid\":\"C3\",\"id.orig_h\":\"10.0.0.1\",\"method\":\"GET\",\"uri\":\"/\"}");
    apply_ok("zeek");
    ls_is("zeek", NULL, "http");
}
END_TEST

START_TEST(test_auditd_record_keeps_its_keys)
{
    load_shipped();
    parse("{\"type\":\"SYSCALL\",\"timestamp\":1604994496.155,\"serial\":92733,\"syscall\":"
          "\"59\",\"exe\":\"/usr/sbin/arp\",\"a0\":\"55d\",\"raw\":\"type=SYSCALL ...\"}");
    apply_ok("auditd");
    ls_is("linux", NULL, "auditd");
    str_is("type", "SYSCALL");
    str_is("exe", "/usr/sbin/arp");
    str_is("a0", "55d");
}
END_TEST

START_TEST(test_linux_syslog_service_by_program)
{
    load_shipped();
    parse_fmt(INGEST_FMT_RFC3164,
              "<38>Jun 14 15:16:01 combo sshd[19939]: Failed password for root from 1.2.3.4");
    apply_ok("linux_syslog");
    ls_is("linux", NULL, "sshd");
    parse_fmt(INGEST_FMT_RFC3164, "<78>Jun 14 15:16:01 combo CRON[1]: (root) CMD (x)");
    apply_ok("linux_syslog");
    ls_is("linux", NULL, "cron");
    parse_fmt(INGEST_FMT_RFC5424, "<86>1 2024-01-01T00:00:00Z h useradd 1 - - new user: name=x");
    apply_ok("linux_syslog");
    ls_is("linux", NULL, "auth");
    parse_fmt(INGEST_FMT_RFC3164, "<85>Jun 14 15:16:01 combo sudo: bob : TTY=pts/0 ; COMMAND=/bin/x");
    apply_ok("linux_syslog");
    ls_is("linux", NULL, "sudo");
    parse_fmt(INGEST_FMT_RFC3164, "<30>Jun 14 15:16:01 combo kernel: x");
    apply_ok("linux_syslog");
    ls_is("linux", NULL, "syslog");
}
END_TEST

/* ------------------------------------------------ forwarders, end to end */

/* One sshd failure as each forwarder really ships it (docs/forwarders.md):
 * after parsing, etc/decoders and etc/profiles, every shape must be the
 * same sshd event, or the brute-force rule counts nothing (issue 10). */
static const char *const fwd_shapes[][2] = {
    {"clean RFC 3164", "<38>Jun 15 10:00:00 vm sshd[1234]: Failed password for root from "
                       "203.0.113.50 port 40001 ssh2"},
    {"rsyslog RFC 5424 out of RFC 3164 in (leading space)",
     "<38>1 2024-06-15T10:00:00+00:00 vm sshd 1234 - -  Failed password for root from "
     "203.0.113.50 port 40001 ssh2\n"},
    {"rsyslog traditional out of RFC 5424 in (no colon)",
     "Jun 15 10:00:00 vm sshd[1234] Failed password for root from 203.0.113.50 port 40001 "
     "ssh2\n"},
    {"rsyslog omkafka default (RSYSLOG_FileFormat)",
     "2024-06-15T10:00:00.000000+00:00 vm sshd[1234] Failed password for root from "
     "203.0.113.50 port 40001 ssh2\n"},
    {"rsyslog jsonmesg",
     "{ \"msg\": \" Failed password for root from 203.0.113.50 port 40001 ssh2\", "
     "\"timereported\": \"2024-06-15T10:00:00+00:00\", \"hostname\": \"vm\", \"syslogtag\": "
     "\"sshd[1234]:\", \"pri\": \"38\", \"syslogfacility\": \"4\", \"syslogseverity\": \"6\", "
     "\"programname\": \"sshd\", \"procid\": \"1234\" }\n"},
    {"syslog-ng kafka-c default", "2024-06-15T10:00:00+00:00 vm sshd[1234]: Failed password for "
                                  "root from 203.0.113.50 port 40001 ssh2"},
    {"syslog-ng format-json selected_macros",
     "{\"TAGS\":\".source.s_net\",\"SOURCEIP\":\"127.0.0.1\",\"PROGRAM\":\"sshd\",\"PRIORITY\":"
     "\"info\",\"PID\":\"1234\",\"MESSAGE\":\"Failed password for root from 203.0.113.50 port "
     "40001 ssh2\",\"LEGACY_MSGHDR\":\"sshd[1234]: \",\"HOST_FROM\":\"127.0.0.1\",\"HOST\":"
     "\"vm\",\"FACILITY\":\"auth\",\"DATE\":\"Jun 15 10:00:00\"}"},
    {"syslog-ng format-json upper-case with ISODATE",
     "{\"PROGRAM\":\"sshd\",\"PRIORITY\":\"info\",\"PID\":\"1234\",\"MESSAGE\":\"Failed password "
     "for root from 203.0.113.50 port 40001 ssh2\",\"ISODATE\":\"2024-06-15T10:00:00+00:00\","
     "\"HOST\":\"vm\",\"FACILITY\":\"auth\"}"},
    {"Fluent Bit syslog parser", "{\"@timestamp\":1718445600.0,\"pri\":\"38\",\"host\":\"vm\","
                                 "\"ident\":\"sshd\",\"pid\":\"1234\",\"message\":\"Failed "
                                 "password for root from 203.0.113.50 port 40001 ssh2\"}"},
    {"NXLog parse_syslog + to_json",
     "{\"EventReceivedTime\":\"2024-06-15T10:00:01Z\",\"SyslogFacility\":\"AUTH\","
     "\"SyslogSeverity\":\"INFO\",\"Hostname\":\"vm\",\"EventTime\":\"2024-06-15T10:00:00Z\","
     "\"SourceName\":\"sshd\",\"ProcessID\":1234,\"Message\":\"Failed password for root from "
     "203.0.113.50 port 40001 ssh2\"}"},
};

START_TEST(test_forwarder_shapes_of_one_sshd_failure_normalise_alike)
{
    char dec[1024];
    const char *pdir = shipped_dir();
    snprintf(dec, sizeof(dec), "%.*sdecoders", (int)(strlen(pdir) - strlen("profiles")), pdir);
    const char *pp[] = {pdir}, *dp[] = {dec};
    struct norm_opts no = {.profile_paths = pp, .nprofile_paths = 1, .decoder_paths = dp,
                                  .ndecoder_paths = 1};
    struct norm_set *norm = NULL;
    struct norm_scratch *sc = NULL;
    ck_assert_msg(norm_set_create(&norm, &no, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(norm_scratch_create(&sc, norm), 0);
    const int64_t t0 = ts_epoch_from_utc(2024, 6, 15, 10, 0, 0) * TS_NS_PER_SEC;
    struct ingest_parse_opts po = {.ref_ns = t0 + 3600 * TS_NS_PER_SEC};
    for (size_t i = 0; i < TS_ARRAY_LEN(fwd_shapes); i++) {
        const char *what = fwd_shapes[i][0], *line = fwd_shapes[i][1];
        ts_arena_reset(arena);
        ts_event_init(&ev, arena);
        ev.raw = line;
        ev.raw_len = (uint32_t)strlen(line);
        ev.ingest_ns = po.ref_ns;
        struct ingest_diag d = {0};
        ck_assert_msg(ingest_parse(INGEST_FMT_AUTO, &po, &ev, &d) == 0, "%s: %s", what, d.reason);
        ck_assert_msg(d.warning == NULL, "%s: %s", what, d.warning);
        struct norm_explain nx;
        ck_assert_int_eq(norm_apply(norm, sc, &ev, &nx), 0);
        ck_assert_msg(ev.time_from_event && ev.time_ns == t0, "%s: time", what);
        const struct ts_field *f = ts_event_getz(&ev, "program");
        ck_assert_msg(f && f->v.type == TS_V_STR && f->v.len == 4 && !memcmp(f->v.u.s, "sshd", 4),
                      "%s: program", what);
        f = ts_event_getz(&ev, "message");
        ck_assert_msg(f && f->v.type == TS_V_STR && f->v.len > 7 &&
                          !memcmp(f->v.u.s, "Failed ", 7),
                      "%s: message", what);
        f = ts_event_getz(&ev, "src_ip");
        char ip[64] = "";
        if (f && f->v.type == TS_V_IP)
            ts_ip_format(&f->v.u.ip, ip, sizeof(ip));
        ck_assert_msg(strcmp(ip, "203.0.113.50") == 0, "%s: src_ip \"%s\"", what, ip);
        f = ts_event_getz(&ev, "outcome");
        ck_assert_msg(f && f->v.len == 7 && !memcmp(f->v.u.s, "failure", 7), "%s: outcome", what);
        ck_assert_msg(nx.decoder && strcmp(nx.decoder, "sshd") == 0, "%s: decoder", what);
        ck_assert_msg(nx.profile && strcmp(nx.profile, "linux_syslog") == 0, "%s: profile %s",
                      what, nx.profile ? nx.profile : "none");
        ck_assert_msg(ev.logsource.product && strcmp(ev.logsource.product, "linux") == 0 &&
                          ev.logsource.service && strcmp(ev.logsource.service, "sshd") == 0,
                      "%s: logsource", what);
        f = ts_event_getz(&ev, "host");
        ck_assert_msg(f && f->v.len == 2 && !memcmp(f->v.u.s, "vm", 2), "%s: host", what);
    }
    norm_scratch_free(sc);
    norm_set_free(norm);
}
END_TEST


/* A decoder's logsource survives the profile chosen after it (issue 16):
 * the shipped postfix, iptables and apache-error decoders keep their
 * service (and product) although linux_syslog sets product linux and
 * service syslog for every syslog line; what the decoder left unset comes
 * from the profile. */
START_TEST(test_decoder_logsource_survives_the_profile)
{
    static const char *const cases[][4] = {
        /* line, product, category, service */
        {"<20>Mar 17 10:01:00 mx-01 postfix/smtpd[2201]: warning: unknown[203.0.113.9]: SASL "
         "LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=bob",
         "linux", NULL, "postfix"},
        {"<4>Mar 17 09:30:01 fw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.7 DST=10.0.0.5 "
         "PROTO=TCP SPT=51515 DPT=3389",
         "linux", "firewall", "iptables"},
        {"<11>Mar 17 10:05:00 web-01 apache2: [Tue Mar 17 10:05:00.123456 2026] [core:error] "
         "[pid 1:tid 2] [client 203.0.113.77:5300] AH00126: Invalid URI in request",
         "apache", "webserver", "error"},
        /* no decoder: the profile's logsource */
        {"<13>Mar 17 10:05:00 h systemd[1]: Started x.", "linux", NULL, "syslog"},
    };
    char dec[1024];
    const char *pdir = shipped_dir();
    snprintf(dec, sizeof(dec), "%.*sdecoders", (int)(strlen(pdir) - strlen("profiles")), pdir);
    const char *pp[] = {pdir}, *dp[] = {dec};
    struct norm_opts no = {.profile_paths = pp, .nprofile_paths = 1, .decoder_paths = dp,
                                  .ndecoder_paths = 1};
    struct norm_set *norm = NULL;
    struct norm_scratch *sc = NULL;
    ck_assert_msg(norm_set_create(&norm, &no, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(norm_scratch_create(&sc, norm), 0);
    struct ingest_parse_opts po = {.ref_ns = ts_epoch_from_utc(2026, 3, 18, 0, 0, 0) *
                                             TS_NS_PER_SEC};
    for (size_t i = 0; i < TS_ARRAY_LEN(cases); i++) {
        ts_arena_reset(arena);
        ts_event_init(&ev, arena);
        ev.raw = cases[i][0];
        ev.raw_len = (uint32_t)strlen(cases[i][0]);
        ev.ingest_ns = po.ref_ns;
        struct ingest_diag d = {0};
        ck_assert_int_eq(ingest_parse(INGEST_FMT_AUTO, &po, &ev, &d), 0);
        struct norm_explain nx;
        ck_assert_int_eq(norm_apply(norm, sc, &ev, &nx), 0);
        const char *got[3] = {ev.logsource.product, ev.logsource.category, ev.logsource.service};
        for (int k = 0; k < 3; k++)
            ck_assert_msg((!got[k] && !cases[i][k + 1]) ||
                              (got[k] && cases[i][k + 1] && !strcmp(got[k], cases[i][k + 1])),
                          "case %zu part %d: got %s, want %s", i, k, got[k] ? got[k] : "(null)",
                          cases[i][k + 1] ? cases[i][k + 1] : "(null)");
    }
    norm_scratch_free(sc);
    norm_set_free(norm);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("profile");
    TCase *tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_error_unknown_top_key_suggests_the_right_one);
    tcase_add_test(tc, test_error_missing_profile_name);
    tcase_add_test(tc, test_error_bad_profile_name_points_at_value);
    tcase_add_test(tc, test_error_duplicate_profile_names_first_location);
    tcase_add_test(tc, test_error_unknown_convert_type);
    tcase_add_test(tc, test_error_family_target_without_star);
    tcase_add_test(tc, test_error_star_in_exact_rename_target);
    tcase_add_test(tc, test_error_star_inside_family_prefix);
    tcase_add_test(tc, test_error_two_rules_for_one_field);
    tcase_add_test(tc, test_error_rename_to_itself);
    tcase_add_test(tc, test_error_case_without_condition);
    tcase_add_test(tc, test_error_unknown_logsource_key);
    tcase_add_test(tc, test_error_null_condition_value);
    tcase_add_test(tc, test_error_select_wrong_kind);
    tcase_add_test(tc, test_error_order_not_integer);
    tcase_add_test(tc, test_error_yaml_syntax_has_position);
    tcase_add_test(tc, test_error_duplicate_key_in_case);
    tcase_add_test(tc, test_error_too_many_condition_values_is_limit);
    tcase_add_test(tc, test_error_file_name_in_message_when_loading_a_folder);
    tcase_add_test(tc, test_error_missing_path_is_io);
    suite_add_tcase(s, tc);

    tc = tcase_create("rules");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_rename_exact_moves_the_field);
    tcase_add_test(tc, test_family_strips_the_prefix_in_place);
    tcase_add_test(tc, test_family_with_new_prefix);
    tcase_add_test(tc, test_family_leaf_keeps_the_last_name);
    tcase_add_test(tc, test_family_upper_first_turns_camel_case_into_sigma_names);
    tcase_add_test(tc, test_longest_family_wins);
    tcase_add_test(tc, test_rename_never_overwrites_an_existing_field);
    tcase_add_test(tc, test_exact_rename_wins_over_family_whatever_the_order);
    tcase_add_test(tc, test_drop_exact_and_family);
    tcase_add_test(tc, test_copy_keeps_the_original_and_yields_to_existing);
    tcase_add_test(tc, test_copy_source_may_be_a_renamed_field);
    tcase_add_test(tc, test_convert_string_to_int_decimal_and_hex);
    tcase_add_test(tc, test_set_overwrites_and_default_only_fills);
    tcase_add_test(tc, test_conditions_compare_case_insensitively);
    tcase_add_test(tc, test_integer_condition_matches_number_and_numeric_string);
    tcase_add_test(tc, test_prefix_suffix_and_any_values);
    tcase_add_test(tc, test_list_field_matches_any_item);
    tcase_add_test(tc, test_every_matching_case_applies_in_order_until_stop);
    tcase_add_test(tc, test_case_rename_and_copy_see_earlier_cases);
    tcase_add_test(tc, test_select_format_has_and_when);
    tcase_add_test(tc, test_order_decides_between_matching_profiles);
    tcase_add_test(tc, test_forced_profile_skips_the_selector);
    tcase_add_test(tc, test_many_fields_use_the_arena_scratch);
    tcase_add_test(tc, test_full_arena_is_reported_not_crashed);
    tcase_add_test(tc, test_null_set_applies_nothing);
    suite_add_tcase(s, tc);

    tc = tcase_create("shipped");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_shipped_profiles_load);
    tcase_add_test(tc, test_evtx_dump_sysmon_1_is_process_creation);
    tcase_add_test(tc, test_evtx_dump_event_id_with_qualifiers);
    tcase_add_test(tc, test_evtx_dump_userdata_leaf_names);
    tcase_add_test(tc, test_security_4688_gets_sysmon_names_too);
    tcase_add_test(tc, test_sysmon_12_delete_is_registry_delete);
    tcase_add_test(tc, test_powershell_4104_is_ps_script);
    tcase_add_test(tc, test_winlogbeat_event);
    tcase_add_test(tc, test_otrf_flat_channel_in_either_case);
    tcase_add_test(tc, test_wazuh_windows_alert);
    tcase_add_test(tc, test_wazuh_syslog_alert);
    tcase_add_test(tc, test_zeek_dotted_and_underscore_names);
    tcase_add_test(tc, test_auditd_record_keeps_its_keys);
    tcase_add_test(tc, test_linux_syslog_service_by_program);
    tcase_add_test(tc, test_forwarder_shapes_of_one_sshd_failure_normalise_alike);
    tcase_add_test(tc, test_decoder_logsource_survives_the_profile);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
