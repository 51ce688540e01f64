/* arena.h - per-batch bump allocator.
 *
 * An arena hands out memory from large chunks and frees it all at once with
 * ts_arena_reset() (start of the next batch) or ts_arena_destroy(). There is
 * no per-allocation free. Each arena has a hard cap on the bytes it may hold;
 * an allocation past the cap fails with NULL (hostile input cannot grow it
 * without bound). An arena belongs to one thread at a time.
 */
#ifndef TS_ARENA_H
#define TS_ARENA_H

#include <stddef.h>

struct ts_arena;

/* Create an arena whose chunks are chunk_size bytes (larger requests get a
 * chunk of their own) and which holds at most cap bytes in all.
 * Returns 0 or TS_E_NOMEM / TS_E_INVAL. */
int ts_arena_create(struct ts_arena **out, size_t chunk_size, size_t cap);
/* Frees every chunk. NULL is accepted. */
void ts_arena_destroy(struct ts_arena *a);
/* 8-byte aligned memory valid until the next reset/destroy, or NULL when the
 * cap is reached or malloc fails. */
void *ts_arena_alloc(struct ts_arena *a, size_t n);
/* Copy n bytes and a terminating NUL into the arena; NULL on failure. */
char *ts_arena_strndup(struct ts_arena *a, const char *s, size_t n);
/* Release everything allocated; keeps the first chunk for reuse. */
void ts_arena_reset(struct ts_arena *a);
/* Bytes handed out since the last reset. */
size_t ts_arena_used(const struct ts_arena *a);

#endif
