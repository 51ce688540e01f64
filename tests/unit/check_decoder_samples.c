/* check_decoder_samples.c - the shipped decoders (etc/decoders/) against
 * real log lines from loghub, read at test time from
 * ts_test_events_dir()/loghub/<name>.jsonl ("raw" is the original line; no
 * sample data lives in the repo).
 *
 * sshd acceptance: every line with "Failed password", "Invalid user" or
 * "Accepted" yields src_ip (an IP) and username; 100% is required, and the
 * share per file is printed. Also printed: the share of sshd "authentication
 * failure" PAM lines with a source (src_ip or, when the sample logged a host
 * name, src_host), and Apache error-log lines through the apache-error
 * decoder (all decoded, time from the line, c-ip on every "[client" line).
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../core/arena.h"
#include "../../core/event.h"
#include "../../core/tstime.h"
#include "../../normalise/decoder.h"
#include "../../ingest/ingest.h"
#include "check_util.h"

static struct norm_decoder_set *ds;
static struct norm_decoder_scratch *sc;

static void setup(void)
{
    const char *p = "etc/decoders";
    if (access(p, F_OK) != 0)
        p = "../../etc/decoders";
    struct ts_err err = {0};
    int rc = norm_decoder_set_load(&ds, &p, 1, &err);
    char buf[1024];
    ts_err_format(&err, buf, sizeof(buf));
    ck_assert_msg(rc == 0, "shipped decoders: %s", buf);
    ck_assert_int_eq(norm_decoder_scratch_create(&sc, ds), 0);
}

static void teardown(void)
{
    norm_decoder_scratch_free(sc);
    norm_decoder_set_free(ds);
}

static bool has_type(const struct ts_event *ev, const char *name, uint8_t type)
{
    const struct ts_field *f = ts_event_getz(ev, name);
    return f && f->v.type == type && (type != TS_V_STR || f->v.len > 0);
}

struct tally {
    unsigned lines, decoded;
    unsigned auth, auth_ok;     /* Failed password / Invalid user / Accepted */
    unsigned pam, pam_src;      /* "authentication failure" lines of sshd */
    unsigned client, client_ok; /* Apache "[client " lines with c-ip */
    unsigned time_ok;
    char first_miss[600];
};

/* Every line of loghub/<name>.jsonl: parse (auto), decode, count. */
static void run_file(const char *name, struct tally *t)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/loghub/%s.jsonl", ts_test_events_dir(), name);
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "cannot open %s (set TOCSIN_CORPORA)", path);
    memset(t, 0, sizeof(*t));
    struct ts_arena *a;
    ck_assert_int_eq(ts_arena_create(&a, 64 * 1024, 16u << 20), 0);
    struct ingest_parse_opts opts = {.ref_ns = 1136073600LL * TS_NS_PER_SEC};
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, fp) > 0) {
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        ck_assert_msg(o != NULL, "%s: %s", path, jerr.text);
        const char *raw = json_string_value(json_object_get(o, "raw"));
        ck_assert_ptr_nonnull(raw);
        ts_arena_reset(a);
        struct ts_event ev;
        ts_event_init(&ev, a);
        ev.raw = ts_arena_strndup(a, raw, strlen(raw));
        ev.raw_len = (uint32_t)strlen(raw);
        ev.ingest_ns = opts.ref_ns;
        struct ingest_diag d;
        ck_assert_int_eq(ingest_parse(INGEST_FMT_AUTO, &opts, &ev, &d), 0);
        uint32_t before = ev.nfields;
        struct norm_decoder_explain ex;
        ck_assert_int_eq(norm_decoder_apply(ds, sc, &ev, &ex), 0);
        t->lines++;
        t->decoded += ex.decoder != NULL;
        /* Decoding never removes or changes what the parser produced. */
        ck_assert_uint_ge(ev.nfields, before);

        const struct ts_field *prog = ts_event_getz(&ev, "program");
        bool sshd = prog && prog->v.type == TS_V_STR && prog->v.len >= 4 &&
                    memcmp(prog->v.u.s, "sshd", 4) == 0;
        if (sshd && (strstr(raw, "Failed password") || strstr(raw, "Invalid user") ||
                     strstr(raw, "Accepted"))) {
            t->auth++;
            bool ok = has_type(&ev, "src_ip", TS_V_IP) && has_type(&ev, "username", TS_V_STR);
            t->auth_ok += ok;
            if (!ok && !t->first_miss[0])
                snprintf(t->first_miss, sizeof(t->first_miss), "%s (%s)", raw,
                         ex.why ? ex.why : "?");
        }
        if (sshd && strstr(raw, "authentication failure;")) {
            t->pam++;
            t->pam_src +=
                has_type(&ev, "src_ip", TS_V_IP) || has_type(&ev, "src_host", TS_V_STR);
        }
        if (strstr(raw, "[client ")) {
            t->client++;
            t->client_ok += has_type(&ev, "c-ip", TS_V_IP) && has_type(&ev, "src_ip", TS_V_IP);
        }
        t->time_ok += ev.time_from_event;
        json_decref(o);
    }
    free(line);
    fclose(fp);
    ts_arena_destroy(a);
}

static double pct(unsigned a, unsigned b)
{
    return b ? 100.0 * a / b : 100.0;
}

static void check_sshd_file(const char *name, unsigned min_auth)
{
    struct tally t;
    run_file(name, &t);
    printf("decoders %-12s lines %4u decoded %4u | Failed password/Invalid user/Accepted: "
           "%u, with src_ip+username %u (%.2f%%) | sshd PAM authentication failure: %u, with a "
           "source %u (%.2f%%)\n",
           name, t.lines, t.decoded, t.auth, t.auth_ok, pct(t.auth_ok, t.auth), t.pam, t.pam_src,
           pct(t.pam_src, t.pam));
    fflush(stdout);
    ck_assert_uint_ge(t.auth, min_auth);
    ck_assert_msg(t.auth_ok == t.auth, "%s: %u of %u; first miss: %s", name, t.auth_ok, t.auth,
                  t.first_miss);
    ck_assert_uint_eq(t.pam_src, t.pam);
}

START_TEST(test_openssh_every_auth_line_yields_src_ip_and_username)
{
    TS_NEED_CORPUS(TS_CORPUS_EVENTS, "loghub");
    /* 634 such lines in OpenSSH_2k */
    check_sshd_file("OpenSSH_2k", 600);
}
END_TEST

/* Linux_2k (2005, sshd through pam_unix) has no "Failed password" /
 * "Invalid user" / "Accepted" lines at all: its sshd authentication records
 * are the 300+ PAM "authentication failure" lines, checked for a source. */
START_TEST(test_linux_every_auth_line_yields_src_ip_and_username)
{
    TS_NEED_CORPUS(TS_CORPUS_EVENTS, "loghub");
    check_sshd_file("Linux_2k", 0);
}
END_TEST

START_TEST(test_apache_error_log_lines_through_error_decoder)
{
    TS_NEED_CORPUS(TS_CORPUS_EVENTS, "loghub");
    struct tally t;
    run_file("Apache_2k", &t);
    printf("decoders %-12s lines %4u decoded %4u (%.2f%%) | time from line %u | [client] lines "
           "%u with c-ip %u\n",
           "Apache_2k", t.lines, t.decoded, pct(t.decoded, t.lines), t.time_ok, t.client,
           t.client_ok);
    fflush(stdout);
    ck_assert_uint_eq(t.lines, 2000);
    ck_assert_uint_eq(t.decoded, t.lines);
    ck_assert_uint_eq(t.time_ok, t.lines);
    ck_assert_uint_gt(t.client, 0);
    ck_assert_uint_eq(t.client_ok, t.client);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("decoder_samples");
    TCase *tc = tcase_create("loghub");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_openssh_every_auth_line_yields_src_ip_and_username);
    tcase_add_test(tc, test_linux_every_auth_line_yields_src_ip_and_username);
    tcase_add_test(tc, test_apache_error_log_lines_through_error_decoder);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
