/* check_profile_samples.c - golden tests of the shipped mapping profiles
 * (etc/profiles/) on the real samples in the shared events folder, read at
 * test time from ts_test_events_dir() (never copied into the repository).
 * Prints the share of events that got what they should, per sample file. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "../../core/arena.h"
#include "../../core/event.h"
#include "../../ingest/ingest.h"
#include "../../normalise/profile.h"
#include "check_util.h"

#define MAX_FILES 512
#define MAX_LINE (4u << 20)

static struct norm_profile_set *ps;
static struct ts_arena *arena;

static void setup(void)
{
    static char dir[1024];
    const char *me = __FILE__;
    const char *tail = strstr(me, "tests/unit/check_profile_samples.c");
    snprintf(dir, sizeof(dir), "%.*setc/profiles", tail ? (int)(tail - me) : 0, me);
    const char *paths[] = {dir};
    struct ts_err err = {0};
    int rc = norm_profile_set_load(&ps, paths, 1, &err);
    char b[1024];
    ts_err_format(&err, b, sizeof(b));
    ck_assert_msg(rc == 0, "profiles: %s", b);
    ck_assert_int_eq(ts_arena_create(&arena, 1u << 16, 1u << 26), 0);
}

static void teardown(void)
{
    norm_profile_set_free(ps);
    ps = NULL;
    ts_arena_destroy(arena);
    arena = NULL;
}

/* Every *.jsonl below dir (recursive, sorted), paths malloc'ed into out. */
static void collect(const char *dir, char **out, size_t *n)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    struct dirent *de;
    char *names[MAX_FILES];
    size_t k = 0;
    while ((de = readdir(d)) && k < MAX_FILES) {
        if (de->d_name[0] == '.')
            continue;
        size_t l = strlen(dir) + strlen(de->d_name) + 2;
        names[k] = malloc(l);
        ck_assert_ptr_nonnull(names[k]);
        snprintf(names[k], l, "%s/%s", dir, de->d_name);
        k++;
    }
    closedir(d);
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < k; i++) {
        struct stat st;
        size_t l = strlen(names[i]);
        if (stat(names[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            collect(names[i], out, n);
            free(names[i]);
        } else if (l > 6 && strcmp(names[i] + l - 6, ".jsonl") == 0 && *n < MAX_FILES) {
            out[(*n)++] = names[i];
        } else {
            free(names[i]);
        }
    }
}

static int parse_apply(const char *line, size_t len, struct ts_event *ev,
                       struct norm_profile_explain *ex)
{
    ts_arena_reset(arena);
    ts_event_init(ev, arena);
    ev->raw = ts_arena_strndup(arena, line, len);
    ck_assert_ptr_nonnull(ev->raw);
    ev->raw_len = (uint32_t)len;
    ev->ingest_ns = 1;
    struct ingest_diag d = {0};
    int rc = ingest_parse(INGEST_FMT_JSON, NULL, ev, &d);
    ck_assert_msg(rc == 0, "parse: %s", d.reason ? d.reason : "?");
    return norm_profile_apply(ps, NULL, ev, ex);
}

static bool is_str(const struct ts_event *ev, const char *name)
{
    const struct ts_field *f = ts_event_getz(ev, name);
    return f && f->v.type == TS_V_STR && f->v.len > 0;
}

static bool str_eq(const struct ts_event *ev, const char *name, const char *want)
{
    const struct ts_field *f = ts_event_getz(ev, name);
    return f && f->v.type == TS_V_STR && f->v.len == strlen(want) &&
           strncasecmp(f->v.u.s, want, f->v.len) == 0;
}

static bool eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static const char *short_name(const char *path)
{
    const char *base = ts_test_events_dir();
    size_t l = strlen(base);
    return strncmp(path, base, l) == 0 ? path + l + 1 : path;
}

static double pct(unsigned a, unsigned b)
{
    return b ? 100.0 * a / b : 100.0;
}

/* One kind of sample: how each event is checked. */
enum kind { K_EVTX, K_OTRF, K_ZEEK, K_AUDITD };

struct tally {
    unsigned events, profile, logsource, ids, eid1, eid1_ok, net, net_ok, svc_ok, skipped;
};

static void check_event(enum kind k, const char *file, struct ts_event *ev,
                        const struct norm_profile_explain *ex, struct tally *t)
{
    const struct ts_logsource *ls = &ev->logsource;
    const struct ts_field *eid = ts_event_getz(ev, "EventID");
    switch (k) {
    case K_EVTX:
    case K_OTRF: {
        t->profile += eq(ex->profile, k == K_EVTX ? "evtx_dump" : "otrf_flat");
        t->logsource += eq(ls->product, "windows") && ls->service != NULL;
        t->ids += eid && eid->v.type == TS_V_INT && is_str(ev, "Channel");
        if (eid && eid->v.type == TS_V_INT && eid->v.u.i == 1 &&
            str_eq(ev, "Channel", "Microsoft-Windows-Sysmon/Operational")) {
            t->eid1++;
            t->eid1_ok += eq(ls->category, "process_creation") && is_str(ev, "Image") &&
                          is_str(ev, "CommandLine");
        }
        if (eid && eid->v.type == TS_V_INT && eid->v.u.i == 4688 && str_eq(ev, "Channel", "Security")) {
            t->eid1++;
            t->eid1_ok += eq(ls->category, "process_creation") && is_str(ev, "Image") &&
                          is_str(ev, "CommandLine");
        }
        break;
    }
    case K_ZEEK: {
        t->profile += eq(ex->profile, "zeek");
        t->logsource += eq(ls->product, "zeek");
        /* the service is the log type: the file's name (smb_mapping is smb_files) */
        const char *base = strrchr(file, '/') + 1;
        char want[64];
        snprintf(want, sizeof(want), "%.*s", (int)(strlen(base) - 6), base);
        if (strcmp(want, "smb_mapping") == 0)
            snprintf(want, sizeof(want), "smb_files");
        t->svc_ok += eq(ls->service, want);
        if (ts_event_getz(ev, "id.orig_h")) {
            t->net++;
            t->net_ok += is_str(ev, "src_ip") && is_str(ev, "dst_ip") &&
                         ts_event_getz(ev, "src_port") && ts_event_getz(ev, "dst_port");
        }
        break;
    }
    case K_AUDITD:
        t->profile += eq(ex->profile, "auditd");
        t->logsource += eq(ls->product, "linux") && eq(ls->service, "auditd");
        t->svc_ok += is_str(ev, "type");
        break;
    }
}

/* The Channel value of a flat event's raw line, in another case: the same
 * logsource must come out. Returns false when the line has no "Channel". */
static bool flip_channel_case(char *line, size_t len, bool upper)
{
    char *p = strstr(line, "\"Channel\":\"");
    if (!p)
        return false;
    for (char *q = p + 11; q < line + len && *q != '"'; q++)
        *q = upper ? (char)(*q >= 'a' && *q <= 'z' ? *q - 32 : *q)
                   : (char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q);
    return true;
}

static void run_folder(const char *sub, enum kind k, struct tally *total)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/%s", ts_test_events_dir(), sub);
    char *files[MAX_FILES];
    size_t nfiles = 0;
    collect(dir, files, &nfiles);
    ck_assert_msg(nfiles > 0, "no samples in %s", dir);
    char *line = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < nfiles; i++) {
        FILE *f = fopen(files[i], "r");
        ck_assert_msg(f != NULL, "cannot open %s", files[i]);
        struct tally t = {0};
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) {
            ck_assert_uint_lt((size_t)n, MAX_LINE);
            struct ts_event ev;
            struct norm_profile_explain ex;
            ck_assert_int_eq(parse_apply(line, (size_t)n, &ev, &ex), 0);
            if (k == K_EVTX && !ts_event_getz(&ev, "EventID") && !ex.profile) {
                t.skipped++; /* not an evtx event (the raw Cisco line of one test) */
                continue;
            }
            t.events++;
            check_event(k, files[i], &ev, &ex, &t);
            if (k == K_OTRF) {
                /* the same event with Channel in upper and lower case */
                const char *svc = ev.logsource.service, *cat = ev.logsource.category;
                for (int up = 0; up < 2; up++) {
                    if (!flip_channel_case(line, (size_t)n, up))
                        continue;
                    struct ts_event e2;
                    struct norm_profile_explain x2;
                    ck_assert_int_eq(parse_apply(line, (size_t)n, &e2, &x2), 0);
                    t.svc_ok += eq(e2.logsource.service, svc) &&
                                (cat ? eq(e2.logsource.category, cat) : !e2.logsource.category);
                }
            }
        }
        fclose(f);
        printf("profile-samples: %-100s %4u events: profile %5.1f%%, logsource %5.1f%%",
               short_name(files[i]), t.events, pct(t.profile, t.events),
               pct(t.logsource, t.events));
        if (k == K_EVTX || k == K_OTRF)
            printf(", EventID+Channel %5.1f%%, process_creation(Sysmon 1/4688)+Image+CommandLine "
                   "%u/%u",
                   pct(t.ids, t.events), t.eid1_ok, t.eid1);
        if (k == K_OTRF)
            printf(", Channel case-flipped same logsource %5.1f%%", pct(t.svc_ok, 2 * t.events));
        if (k == K_ZEEK)
            printf(", service %5.1f%%, src_ip+dst_ip+ports %u/%u", pct(t.svc_ok, t.events),
                   t.net_ok, t.net);
        if (t.skipped)
            printf(" (%u non-evtx lines skipped)", t.skipped);
        printf("\n");
        total->events += t.events;
        total->profile += t.profile;
        total->logsource += t.logsource;
        total->ids += t.ids;
        total->eid1 += t.eid1;
        total->eid1_ok += t.eid1_ok;
        total->net += t.net;
        total->net_ok += t.net_ok;
        total->svc_ok += t.svc_ok;
        free(files[i]);
    }
    free(line);
    fflush(stdout);
}

START_TEST(test_every_evtx_event_gets_windows_logsource_and_ids)
{
    TS_NEED_CORPUS(TS_CORPUS_EVENTS, "sigmahq-regression");
    TS_NEED_CORPUS(TS_CORPUS_EVENTS, "windows-evtx");
    struct tally t = {0};
    run_folder("sigmahq-regression/rules", K_EVTX, &t);
    run_folder("windows-evtx", K_EVTX, &t);
    ck_assert_uint_gt(t.events, 1000);
    ck_assert_uint_eq(t.profile, t.events);
    ck_assert_uint_eq(t.logsource, t.events);
    ck_assert_uint_eq(t.ids, t.events);
    ck_assert_uint_ge(t.eid1, 100);
    ck_assert_uint_eq(t.eid1_ok, t.eid1);
}
END_TEST

START_TEST(test_otrf_flat_events_map_channel_in_either_case)
{
    TS_NEED_CORPUS(TS_CORPUS_EVENTS, "otrf-security-datasets/atomic/windows");
    struct tally t = {0};
    run_folder("otrf-security-datasets/atomic/windows", K_OTRF, &t);
    ck_assert_uint_gt(t.events, 500);
    ck_assert_uint_eq(t.profile, t.events);
    ck_assert_uint_eq(t.logsource, t.events);
    ck_assert_uint_eq(t.ids, t.events);
    ck_assert_uint_eq(t.svc_ok, 2 * t.events);
    ck_assert_uint_gt(t.eid1, 0);
    ck_assert_uint_eq(t.eid1_ok, t.eid1);
}
END_TEST

START_TEST(test_zeek_events_get_addresses_and_service)
{
    TS_NEED_CORPUS(TS_CORPUS_EVENTS, "otrf-security-datasets/compound");
    struct tally t = {0};
    run_folder("otrf-security-datasets/compound/apt29/day2/zeek", K_ZEEK, &t);
    ck_assert_uint_gt(t.events, 100);
    ck_assert_uint_eq(t.profile, t.events);
    ck_assert_uint_eq(t.logsource, t.events);
    ck_assert_uint_eq(t.svc_ok, t.events);
    ck_assert_uint_gt(t.net, 100);
    ck_assert_uint_eq(t.net_ok, t.net);
}
END_TEST

START_TEST(test_auditd_records_get_linux_auditd)
{
    TS_NEED_CORPUS(TS_CORPUS_EVENTS, "otrf-security-datasets/atomic/linux");
    struct tally t = {0};
    run_folder("otrf-security-datasets/atomic/linux", K_AUDITD, &t);
    ck_assert_uint_gt(t.events, 0);
    ck_assert_uint_eq(t.profile, t.events);
    ck_assert_uint_eq(t.logsource, t.events);
    ck_assert_uint_eq(t.svc_ok, t.events);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("profile_samples");
    TCase *tc = tcase_create("samples");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_every_evtx_event_gets_windows_logsource_and_ids);
    tcase_add_test(tc, test_otrf_flat_events_map_channel_in_either_case);
    tcase_add_test(tc, test_zeek_events_get_addresses_and_service);
    tcase_add_test(tc, test_auditd_records_get_linux_auditd);
    suite_add_tcase(s, tc);
    return s;
}

TS_CHECK_MAIN(make_suite)
