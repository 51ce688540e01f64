/* varint.h - Tocsin core: LEB128 unsigned varints, the one codec of the
 * binary records (correlation state, re-keyed detections, the incidents
 * topic, evidence chunks). Reentrant. */
#ifndef TS_VARINT_H
#define TS_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define TS_VARINT_MAX 10 /* bytes of the longest (a uint64_t) */

/* Write v at p (room for TS_VARINT_MAX bytes); the bytes written. */
static inline size_t ts_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Read one from p[0..len): the bytes used, or 0 when it is truncated or
 * longer than TS_VARINT_MAX bytes. */
static inline size_t ts_varint_get(const uint8_t *p, size_t len, uint64_t *v)
{
    uint64_t r = 0;
    for (size_t i = 0; i < len && i < TS_VARINT_MAX; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

#endif
