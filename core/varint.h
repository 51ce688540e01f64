/* varint.h - Tocsin core: LEB128 unsigned varints, the one codec of the
 * binary records (correlation state, re-keyed detections, the incidents
 * topic, evidence chunks). Reentrant. */
#ifndef TS_VARINT_H
#define TS_VARINT_H

#include <stdbool.h>
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

/* A reader over p[0..n) at i: a read past the end or a bad varint sets bad,
 * and from then on every read returns 0 (the caller checks bad once). */
struct ts_rd {
    const uint8_t *p;
    size_t n, i;
    bool bad;
};

static inline uint64_t ts_rd_var(struct ts_rd *r)
{
    uint64_t v = 0;
    size_t u = r->bad ? 0 : ts_varint_get(r->p + r->i, r->n - r->i, &v);
    if (!u) {
        r->bad = true;
        return 0;
    }
    r->i += u;
    return v;
}

static inline uint8_t ts_rd_u8(struct ts_rd *r)
{
    if (r->bad || r->i >= r->n) {
        r->bad = true;
        return 0;
    }
    return r->p[r->i++];
}

#endif
