/* fuzz_sigma.c - libFuzzer target for the Sigma rule loader (rules/): loads
 * the input as a rule file from a buffer, and when something compiled,
 * matches one small event against the set and explains every rule, so the
 * compiled structures are walked too. One match scratch (its 1 MiB lowercase
 * buffer and PCRE2 JIT stack) and one arena serve every input: the scratch
 * is rebound to each set (rule_scratch_rebind), as the engine keeps one per
 * thread, instead of being made and freed per input, which cost most of an
 * input's time under ASan. Seeds: tests/fuzz/corpus/sigma/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/arena.h"
#include "../../core/buf.h"
#include "../../rules/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_match(void *ctx, const struct ts_event *ev, size_t idx)
{
    (void)ev;
    (void)idx;
    (*(size_t *)ctx)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rule_load_opts o = {.buf = (const char *)data, .buf_len = size, .buf_name = "fuzz.yml"};
    struct rule_set *rs = NULL;
    struct rule_report rep;
    struct ts_err err = {0};
    if (rule_set_load(&rs, &o, &rep, &err) != 0) {
        rule_report_free(&rep);
        return 0;
    }
    static struct ts_arena *a;
    static struct rule_scratch *s;
    if (!a && ts_arena_create(&a, 4096, 1 << 20) != 0)
        abort();
    int rc = s ? rule_scratch_rebind(s, rs) : rule_scratch_create(&s, rs);
    if (rc != 0) {
        rule_scratch_free(s); /* out of memory: a fresh one next time */
        s = NULL;
    } else {
        ts_arena_reset(a);
        struct ts_event ev;
        ts_event_init(&ev, a);
        ev.logsource.product = "windows";
        ev.logsource.category = "process_creation";
        ev.raw = "event::drop raw";
        ev.raw_len = 15;
        static const char *const kv[][2] = {
            {"Image", "C:\\Windows\\System32\\cmd.exe"}, {"CommandLine", "cmd.exe /c whoami -all"},
            {"User", "NT AUTHORITY\\SYSTEM"}, {"DestinationIp", "10.1.2.3"}, {"message", "hello"}};
        for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
            (void)ts_event_add_str(&ev, kv[i][0], kv[i][1], strlen(kv[i][1]));
        (void)ts_event_add_int(&ev, "EventID", 1);
        size_t n = 0;
        (void)rule_match(rs, s, &ev, on_match, &n);
        struct ts_buf b;
        ts_buf_init(&b, 1 << 20);
        for (size_t i = 0; i < rule_set_count(rs) && i < 64; i++) {
            ts_buf_reset(&b);
            (void)rule_explain(rs, s, i, &ev, &b);
            ts_buf_reset(&b);
            (void)rule_explain_miss(rs, s, i, &ev, &b); /* rules test --explain */
        }
        ts_buf_free(&b);
    }
    rule_report_free(&rep);
    rule_set_unref(rs);
    return 0;
}
