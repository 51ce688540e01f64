/* fuzz_leef.c - libFuzzer target for the LEEF parser: the input is
 * parsed with its explicit format and auto-detected, each on a fresh event.
 * Aborts when the parser breaks its contract (error without a reason,
 * invalid UTF-8 in a string value of an accepted event, raw modified).
 * Build with -fsanitize=fuzzer, or link tests/fuzz/replay_main.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/arena.h"
#include "../../core/buf.h"
#include "../../core/event.h"
#include "../../ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_event(const struct ts_event *ev, int rc, const struct ingest_diag *d)
{
    if (rc != 0) {
        if (!d->reason)
            abort();
        return;
    }
    if (d->reason || !ev->format)
        abort();
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct ts_field *f = &ev->fields[i];
        if (!f->name || f->name[f->name_len] != '\0')
            abort();
        if (f->v.type == TS_V_STR && ts_utf8_valid_prefix(f->v.u.s, f->v.len) != f->v.len)
            abort();
        if (f->v.type == TS_V_LIST)
            for (uint32_t j = 0; j < f->v.len; j++) {
                const struct ts_value *it = &f->v.u.items[j];
                if (it->type == TS_V_STR && ts_utf8_valid_prefix(it->u.s, it->len) != it->len)
                    abort();
            }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    struct ts_arena *a;
    if (ts_arena_create(&a, 4096, 64u << 20))
        return 0;
    static const enum ingest_format fmts[] = {INGEST_FMT_LEEF, INGEST_FMT_AUTO};
    for (size_t k = 0; k < sizeof(fmts) / sizeof(fmts[0]); k++) {
        ts_arena_reset(a);
        struct ts_event ev;
        ts_event_init(&ev, a);
        char *raw = ts_arena_strndup(a, (const char *)data, size);
        if (!raw)
            break;
        ev.raw = raw;
        ev.raw_len = (uint32_t)size;
        ev.ingest_ns = 1700000000LL * 1000000000LL;
        struct ingest_parse_opts opts = {.tz_offset_sec = (int)k * 3600};
        struct ingest_diag d;
        int rc = ingest_parse(fmts[k], &opts, &ev, &d);
        check_event(&ev, rc, &d);
        if (memcmp(raw, data, size) != 0) /* raw must stay as received */
            abort();
    }
    ts_arena_destroy(a);
    return 0;
}
