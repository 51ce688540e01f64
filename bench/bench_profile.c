/* bench_profile.c - rate of the mapping profiles (ingest/profile.c) on
 * synthetic events generated in memory: evtx_dump Sysmon 1 (~45 fields),
 * Winlogbeat Sysmon 1 (~30 fields), flat OTRF/NXLog Security 4688, Zeek conn.
 * One thread. For each: the apply rate alone (each event restored from its
 * parsed template, then the profile chosen and applied), parse alone, and
 * parse + apply, with one arena reset per batch of 1000 events as the
 * sources do.
 *
 * Usage: bench_profile [seconds per figure, default 1] [profiles dir, default etc/profiles]
 * Prints one figure a line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/arena.h"
#include "../core/event.h"
#include "../ingest/ingest.h"
#include "../normalise/profile.h"

#define NMSG 1000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int gen(int kind, int i, char *buf, size_t cap)
{
    switch (kind) {
    case 0:
        return snprintf(
            buf, cap,
            "{\"Event\":{\"#attributes\":{\"xmlns\":\"http://schemas.microsoft.com/win/2004/08/"
            "events/event\"},\"System\":{\"Provider\":{\"#attributes\":{\"Name\":\"Microsoft-"
            "Windows-Sysmon\",\"Guid\":\"5770385F-C22A-43E0-BF4C-06F5698FFBD9\"}},\"EventID\":1,"
            "\"Version\":5,\"Level\":4,\"Task\":1,\"Opcode\":0,\"Keywords\":\"0x8000000000000000\","
            "\"TimeCreated\":{\"#attributes\":{\"SystemTime\":\"2025-10-25T13:21:33.116889Z\"}},"
            "\"EventRecordID\":%d,\"Correlation\":null,\"Execution\":{\"#attributes\":"
            "{\"ProcessID\":3308,\"ThreadID\":4008}},\"Channel\":\"Microsoft-Windows-Sysmon/"
            "Operational\",\"Computer\":\"ws-%03d.agency.local\",\"Security\":{\"#attributes\":"
            "{\"UserID\":\"S-1-5-18\"}}},\"EventData\":{\"RuleName\":\"-\",\"UtcTime\":\"2025-10-25 "
            "13:21:33.111\",\"ProcessGuid\":\"5AA13A44-CEDD-68FC-1B30-000000004002\",\"ProcessId\":"
            "%d,\"Image\":\"C:\\\\Windows\\\\System32\\\\cmdkey.exe\",\"FileVersion\":\"10.0.20348.1"
            "\",\"Description\":\"Credential Manager Command Line Utility\",\"Product\":\"Microsoft "
            "Windows Operating System\",\"Company\":\"Microsoft Corporation\",\"OriginalFileName\":"
            "\"cmdkey.exe\",\"CommandLine\":\"cmdkey /list %d\",\"CurrentDirectory\":\"C:\\\\Users\\\\"
            "Administrator\\\\Downloads\\\\\",\"User\":\"AGENCY\\\\user%d\",\"LogonGuid\":\"5AA13A44-"
            "568F-68FB-E39A-520000000000\",\"LogonId\":\"0x529ae3\",\"TerminalSessionId\":2,"
            "\"IntegrityLevel\":\"High\",\"Hashes\":\"SHA1=138CCC1346F17921DC1DF71C88F472ACCC24BC5F,"
            "MD5=8B20EBCF5A2C5410B43765B5CEA17E5B\",\"ParentProcessGuid\":\"5AA13A44-0FEC-68FC-281E-"
            "000000004002\",\"ParentProcessId\":6304,\"ParentImage\":\"C:\\\\Windows\\\\System32\\\\"
            "cmd.exe\",\"ParentCommandLine\":\"\\\"C:\\\\Windows\\\\System32\\\\cmd.exe\\\"\","
            "\"ParentUser\":\"AGENCY\\\\user%d\"}}}",
            100000 + i, i % 500, 1000 + i, i, i % 300, i % 300);
    case 1:
        return snprintf(
            buf, cap,
            "{\"@timestamp\":\"2026-11-20T10:00:%02d.000Z\",\"host\":{\"name\":\"ws-%03d\"},"
            "\"agent\":{\"type\":\"winlogbeat\",\"version\":\"8.11.0\"},\"event\":{\"code\":\"1\","
            "\"kind\":\"event\"},\"winlog\":{\"channel\":\"Microsoft-Windows-Sysmon/Operational\","
            "\"event_id\":\"1\",\"provider_name\":\"Microsoft-Windows-Sysmon\",\"record_id\":%d,"
            "\"computer_name\":\"ws-%03d.agency.local\",\"event_data\":{\"UtcTime\":\"2026-11-20 "
            "10:00:00.000\",\"ProcessGuid\":\"{5770385f-c22a-43e0-bf4c-06f5698ffbd9}\",\"ProcessId\":"
            "\"%d\",\"Image\":\"C:\\\\Windows\\\\System32\\\\cmd.exe\",\"FileVersion\":\"10.0.19041.1"
            "\",\"Description\":\"Windows Command Processor\",\"Product\":\"Microsoft Windows "
            "Operating System\",\"Company\":\"Microsoft Corporation\",\"OriginalFileName\":\"Cmd.Exe"
            "\",\"CommandLine\":\"cmd.exe /c whoami /all > o%d.txt\",\"CurrentDirectory\":\"C:\\\\"
            "Windows\\\\system32\\\\\",\"User\":\"AGENCY\\\\user%d\",\"LogonGuid\":\"{5770385f-c22a-"
            "43e0-0000-0020e7030000}\",\"LogonId\":\"0x3e7\",\"TerminalSessionId\":\"0\","
            "\"IntegrityLevel\":\"High\",\"Hashes\":\"SHA256=2B40C98ED0F7A1D3B091A3E8353132DC\","
            "\"ParentProcessGuid\":\"{5770385f-c22a-43e0-bf4c-06f5698ffbd8}\",\"ParentProcessId\":"
            "\"%d\",\"ParentImage\":\"C:\\\\Windows\\\\explorer.exe\",\"ParentCommandLine\":\"C:\\\\"
            "Windows\\\\Explorer.EXE\"}}}",
            i % 60, i % 500, i, i % 500, 1000 + i, i, i % 300, 900 + i);
    case 2:
        return snprintf(
            buf, cap,
            "{\"EventID\":4688,\"Channel\":\"security\",\"Hostname\":\"WORKSTATION%d\","
            "\"SourceName\":\"Microsoft-Windows-Security-Auditing\",\"ProviderGuid\":"
            "\"{54849625-5478-4994-a5ba-3e3b0328c30d}\",\"TimeCreated\":\"2020-10-19T03:30:55.000Z"
            "\",\"Task\":13312,\"Level\":0,\"Keywords\":\"0x8020000000000000\",\"Message\":\"A new "
            "process has been created.\",\"SubjectUserSid\":\"S-1-5-18\",\"SubjectUserName\":"
            "\"WORKSTATION5$\",\"SubjectDomainName\":\"THESHIRE\",\"SubjectLogonId\":\"0x3e7\","
            "\"NewProcessId\":\"0x%x\",\"NewProcessName\":\"C:\\\\Windows\\\\System32\\\\"
            "whoami.exe\",\"TokenElevationType\":\"%%%%1936\",\"ProcessId\":\"0x%x\",\"CommandLine\":"
            "\"whoami /priv %d\",\"TargetUserSid\":\"S-1-0-0\",\"TargetUserName\":\"-\","
            "\"TargetDomainName\":\"-\",\"TargetLogonId\":\"0x0\",\"ParentProcessName\":\"C:\\\\"
            "Windows\\\\System32\\\\cmd.exe\",\"MandatoryLabel\":\"S-1-16-16384\",\"@timestamp\":"
            "\"2020-10-19T03:30:55.000Z\"}",
            i % 50, 0x1000 + i, 0x800 + i, i);
    default:
        return snprintf(
            buf, cap,
            "{\"@stream\":\"conn\",\"@system\":\"SCRANTON\",\"@proc\":\"zeek\",\"ts\":"
            "\"2020-05-02T03:%02d:%02d.000Z\",\"uid\":\"C%08dxyz\",\"id_orig_h\":\"10.0.1.%d\","
            "\"id_orig_p\":%d,\"id_resp_h\":\"10.0.0.4\",\"id_resp_p\":445,\"proto\":\"tcp\","
            "\"service\":\"smb\",\"duration\":0.%d,\"orig_bytes\":%d,\"resp_bytes\":%d,"
            "\"conn_state\":\"SF\",\"missed_bytes\":0,\"history\":\"ShADadFf\",\"orig_pkts\":%d,"
            "\"orig_ip_bytes\":%d,\"resp_pkts\":%d,\"resp_ip_bytes\":%d,\"orig_l2_addr\":"
            "\"00:50:56:a6:0a:9c\",\"resp_l2_addr\":\"00:50:56:a6:fa:2d\"}",
            i / 60 % 60, i % 60, i, i % 250, 49152 + i % 16000, i % 1000, i * 3, i * 7, i % 90,
            i * 4, i % 70, i * 8);
    }
}

static const char *const kind_name[] = {"evtx_dump Sysmon 1", "winlogbeat Sysmon 1",
                                        "otrf_flat Security 4688", "zeek conn"};
static const char *const kind_profile[] = {"evtx_dump", "winlogbeat", "otrf_flat", "zeek"};

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    const char *dir = argc > 2 ? argv[2] : "etc/profiles";
    if (secs <= 0)
        secs = 1.0;
    struct norm_profile_set *ps = NULL;
    struct ts_err err = {0};
    const char *paths[] = {dir};
    if (norm_profile_set_load(&ps, paths, 1, &err)) {
        char b[1024];
        ts_err_format(&err, b, sizeof(b));
        fprintf(stderr, "bench_profile: %s\n", b);
        return 1;
    }
    struct ts_arena *tmpl_arena, *arena;
    if (ts_arena_create(&tmpl_arena, 1u << 20, (size_t)1 << 30) ||
        ts_arena_create(&arena, 1u << 20, (size_t)1 << 28)) {
        fprintf(stderr, "bench_profile: out of memory\n");
        return 1;
    }
    static char buf[8192];
    static struct ts_event tmpl[NMSG];
    int rc = 0;
    for (int k = 0; k < 4 && !rc; k++) {
        ts_arena_reset(tmpl_arena);
        size_t bytes = 0, fields = 0;
        for (int i = 0; i < NMSG; i++) {
            int n = gen(k, i, buf, sizeof(buf));
            if (n <= 0 || (size_t)n >= sizeof(buf))
                return 1;
            struct ts_event *ev = &tmpl[i];
            ts_event_init(ev, tmpl_arena);
            ev->raw = ts_arena_strndup(tmpl_arena, buf, (size_t)n);
            ev->raw_len = (uint32_t)n;
            ev->ingest_ns = 1;
            struct ingest_diag d = {0};
            if (!ev->raw || ingest_parse(INGEST_FMT_JSON, NULL, ev, &d)) {
                fprintf(stderr, "bench_profile: synthetic event rejected: %s\n",
                        d.reason ? d.reason : "?");
                return 1;
            }
            bytes += (size_t)n;
            fields += ev->nfields;
        }
        /* check once that the right profile fires */
        {
            struct ts_event ev = tmpl[0];
            struct norm_profile_explain ex;
            ts_arena_reset(arena);
            ev.arena = arena;
            ev.fields = ts_arena_alloc(arena, ev.nfields * sizeof(*ev.fields));
            memcpy(ev.fields, tmpl[0].fields, ev.nfields * sizeof(*ev.fields));
            ev.cap = ev.nfields;
            if (norm_profile_apply(ps, NULL, &ev, &ex) || !ex.profile ||
                strcmp(ex.profile, kind_profile[k]) != 0) {
                fprintf(stderr, "bench_profile: %s: profile %s fired\n", kind_name[k],
                        ex.profile ? ex.profile : "none");
                return 1;
            }
        }
        /* apply alone: restore each event from its template */
        uint64_t n = 0;
        double t0 = now(), el;
        do {
            ts_arena_reset(arena);
            for (int i = 0; i < NMSG; i++) {
                struct ts_event ev = tmpl[i];
                ev.arena = arena;
                ev.fields = ts_arena_alloc(arena, ev.nfields * sizeof(*ev.fields));
                if (!ev.fields)
                    return 1;
                memcpy(ev.fields, tmpl[i].fields, ev.nfields * sizeof(*ev.fields));
                ev.cap = ev.nfields;
                if ((rc = norm_profile_apply(ps, NULL, &ev, NULL)))
                    break;
            }
            n += NMSG;
            el = now() - t0;
        } while (el < secs && !rc);
        printf("profile %s (%.0f fields): apply %.0f events/s\n", kind_name[k],
               (double)fields / NMSG, (double)n / el);
        /* parse alone, then parse + apply */
        for (int with = 0; with < 2 && !rc; with++) {
            n = 0;
            t0 = now();
            do {
                ts_arena_reset(arena);
                for (int i = 0; i < NMSG; i++) {
                    struct ts_event ev;
                    ts_event_init(&ev, arena);
                    ev.raw = tmpl[i].raw;
                    ev.raw_len = tmpl[i].raw_len;
                    ev.ingest_ns = 1;
                    struct ingest_diag d = {0};
                    if ((rc = ingest_parse(INGEST_FMT_JSON, NULL, &ev, &d)))
                        break;
                    if (with && (rc = norm_profile_apply(ps, NULL, &ev, NULL)))
                        break;
                }
                n += NMSG;
                el = now() - t0;
            } while (el < secs && !rc);
            printf("profile %s: %s %.0f events/s, %.1f MB/s\n", kind_name[k],
                   with ? "parse+apply" : "parse alone", (double)n / el,
                   (double)bytes / NMSG * (double)n / el / 1e6);
        }
    }
    if (rc)
        fprintf(stderr, "bench_profile: %s\n", ts_strerror(rc));
    norm_profile_set_free(ps);
    ts_arena_destroy(arena);
    ts_arena_destroy(tmpl_arena);
    return rc ? 1 : 0;
}
