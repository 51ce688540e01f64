/* fuzz_parse.h - the body shared by the parser fuzz targets: each input is
 * parsed with each of the target's formats on a fresh event, and the target
 * aborts when a parser breaks its contract (an error without a reason, a
 * field name not NUL-terminated, invalid UTF-8 in a string value of an
 * accepted event, raw modified). Build a target with -fsanitize=fuzzer, or
 * link tests/fuzz/replay_main.c. */
#ifndef TS_FUZZ_PARSE_H
#define TS_FUZZ_PARSE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/arena.h"
#include "../../core/buf.h"
#include "../../core/event.h"
#include "../../ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_check_event(const struct ts_event *ev, int rc,
                                    const struct ingest_diag *d)
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

/* Parse data with each format; the zone offset varies per pass starting at
 * tz0_sec so that zone-less timestamps are exercised with several. */
static inline int fuzz_parse_formats(const uint8_t *data, size_t size,
                                     const enum ingest_format *fmts, size_t nfmts, int tz0_sec)
{
    if (size > (1u << 20))
        return 0;
    struct ts_arena *a;
    if (ts_arena_create(&a, 4096, 64u << 20))
        return 0;
    for (size_t k = 0; k < nfmts; k++) {
        ts_arena_reset(a);
        struct ts_event ev;
        ts_event_init(&ev, a);
        char *raw = ts_arena_strndup(a, (const char *)data, size);
        if (!raw)
            break;
        ev.raw = raw;
        ev.raw_len = (uint32_t)size;
        ev.ingest_ns = 1700000000LL * 1000000000LL;
        struct ingest_parse_opts opts = {.tz_offset_sec = (int)k * 3600 + tz0_sec};
        struct ingest_diag d;
        int rc = ingest_parse(fmts[k], &opts, &ev, &d);
        fuzz_check_event(&ev, rc, &d);
        if (memcmp(raw, data, size) != 0) /* raw must stay as received */
            abort();
    }
    ts_arena_destroy(a);
    return 0;
}

#endif
