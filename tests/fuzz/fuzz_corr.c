/* fuzz_corr.c - libFuzzer target for correlation rules: loads the input as a
 * rule file from a buffer, compiles its correlation rules (correlate/), and
 * when something compiled feeds a few detections of every detection rule,
 * closes the batch and re-imports the exported state, so windows, incidents
 * and the state codec are walked too. Seeds: tests/fuzz/corpus/corr/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../core/arena.h"
#include "../../correlate/correlate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    rule_report_free(&rep);
    struct corr_engine *c = NULL;
    struct corr_report cr;
    struct ts_arena *a = NULL;
    if (corr_engine_create(&c, rs, NULL, &cr, &err) == 0 && corr_rule_count(c) > 0 &&
        ts_arena_create(&a, 4096, 1 << 20) == 0) {
        static const char *const names[] = {"src_ip", "User", "ComputerName", "username",
                                            "Computer", "bytes", "Image", "host"};
        for (int round = 0; round < 2; round++) {
            corr_batch_begin(c);
            for (size_t r = 0; r < rule_set_count(rs) && r < 32; r++)
                for (int i = 0; i < 6; i++) {
                    ts_arena_reset(a);
                    struct ts_event ev;
                    ts_event_init(&ev, a);
                    ev.time_ns = 1700000000000000000LL + (int64_t)(i * 7 + round * 400) * 1000000000LL;
                    ev.tenant = "t";
                    ev.src.kind = TS_SRC_FILE;
                    ev.src.name = "f";
                    ev.src.line = (uint64_t)i;
                    ev.raw = "raw";
                    ev.raw_len = 3;
                    for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++)
                        (void)ts_event_add_int(&ev, names[f], (int64_t)((size_t)i % (f + 1)));
                    (void)corr_feed(c, r, &ev);
                }
            struct corr_batch b;
            if (corr_batch_end(c, &b) != 0)
                break;
            struct ts_buf j;
            ts_buf_init(&j, 1 << 20);
            for (size_t i = 0; i < b.nincidents; i++)
                (void)corr_incident_json(&b.incidents[i], &j);
            for (size_t i = 0; i < b.nevidence; i++)
                (void)corr_evidence_json(&b.evidence[i], &j);
            ts_buf_free(&j);
            for (size_t i = 0; i < b.nstate; i++)
                if (!b.state[i].deleted)
                    (void)corr_state_import(c, b.state[i].key, b.state[i].key_len, b.state[i].val,
                                            b.state[i].val_len);
        }
    }
    ts_arena_destroy(a);
    corr_report_free(&cr);
    corr_engine_destroy(c);
    rule_set_unref(rs);
    return 0;
}
