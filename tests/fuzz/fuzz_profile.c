/* fuzz_profile.c - libFuzzer target for the mapping-profile loader
 * (ingest/profile.c): loads the input as a profile file and, when it loads,
 * applies every profile of it (forced and by selector) to a few fixed events,
 * so that what the loader built is exercised too. Seeds:
 * tests/fuzz/corpus/profile/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../core/arena.h"
#include "../../core/event.h"
#include "../../ingest/ingest.h"
#include "../../normalise/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const events[] = {
    "{\"Event\":{\"System\":{\"EventID\":1,\"Channel\":\"Microsoft-Windows-Sysmon/Operational\"},"
    "\"EventData\":{\"Image\":\"C:\\\\x.exe\",\"CommandLine\":\"x\"}}}",
    "{\"EventID\":\"4688\",\"Channel\":\"security\",\"NewProcessName\":\"x\",\"ProcessId\":\"0x1\","
    "\"tags\":[\"a\",1,true],\"n\":1.5,\"b\":false,\"z\":null}",
    "{\"@stream\":\"conn\",\"uid\":\"C1\",\"id_orig_h\":\"10.0.0.1\",\"id.resp_h\":\"::1\"}",
    "<38>Jun 14 15:16:01 combo sshd[19939]: Failed password for root from 1.2.3.4",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct norm_profile_set *ps = NULL;
    struct ts_err err = {0};
    if (norm_profile_set_load_buffer(&ps, "fuzz.yml", (const char *)data, size, &err) != 0)
        return 0;
    struct ts_arena *a = NULL;
    if (ts_arena_create(&a, 4096, 1u << 22) == 0) {
        size_t np = norm_profile_set_count(ps);
        for (size_t e = 0; e < sizeof(events) / sizeof(events[0]); e++) {
            for (size_t p = 0; p <= np && p < 8; p++) {
                ts_arena_reset(a);
                struct ts_event ev;
                ts_event_init(&ev, a);
                size_t len = strlen(events[e]);
                ev.raw = ts_arena_strndup(a, events[e], len);
                ev.raw_len = (uint32_t)len;
                ev.ingest_ns = 1;
                struct ingest_diag d = {0};
                if (!ev.raw || ingest_parse(INGEST_FMT_AUTO, NULL, &ev, &d) != 0)
                    continue;
                struct norm_profile_explain ex;
                if (p < np)
                    (void)norm_profile_apply_index(ps, p, &ev, &ex);
                else
                    (void)norm_profile_apply(ps, NULL, &ev, &ex);
            }
        }
        ts_arena_destroy(a);
    }
    norm_profile_set_free(ps);
    return 0;
}
