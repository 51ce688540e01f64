/* arena.c - chunked bump allocator, see arena.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ts.h"

struct chunk {
    struct chunk *next;
    size_t size; /* usable bytes in data[] */
    size_t used;
    max_align_t data[];
};

struct ts_arena {
    struct chunk *head; /* current chunk; older ones follow */
    size_t chunk_size;
    size_t cap;
    size_t reserved; /* bytes of chunks in use (head list) */
    size_t used;
    struct chunk *spare; /* standard-size chunks kept by reset for reuse */
    size_t nspare;
};

/* Spare chunks kept across resets: reusing them avoids a malloc (often an
 * mmap and its page faults) per chunk per batch. */
#define ARENA_SPARE_BYTES (64u << 20)

static struct chunk *chunk_new(struct ts_arena *a, size_t size)
{
    /* reserved <= cap always; compare without overflowing the sum */
    if (size > a->cap - a->reserved || size > SIZE_MAX - sizeof(struct chunk))
        return NULL;
    struct chunk *c;
    if (size == a->chunk_size && a->spare) {
        c = a->spare;
        a->spare = c->next;
        a->nspare--;
        c->used = 0;
        c->next = NULL;
        a->reserved += size;
        return c;
    }
    c = malloc(sizeof(*c) + size);
    if (!c)
        return NULL;
    c->size = size;
    c->used = 0;
    c->next = NULL;
    a->reserved += size;
    return c;
}

int ts_arena_create(struct ts_arena **out, size_t chunk_size, size_t cap)
{
    *out = NULL;
    if (chunk_size < 64 || cap < chunk_size)
        return TS_E_INVAL;
    struct ts_arena *a = calloc(1, sizeof(*a));
    if (!a)
        return TS_E_NOMEM;
    a->chunk_size = chunk_size;
    a->cap = cap;
    a->head = chunk_new(a, chunk_size);
    if (!a->head) {
        free(a);
        return TS_E_NOMEM;
    }
    *out = a;
    return 0;
}

void ts_arena_destroy(struct ts_arena *a)
{
    if (!a)
        return;
    for (struct chunk *lists[2] = {a->head, a->spare}, **l = lists; l < lists + 2; l++) {
        struct chunk *c = *l;
        while (c) {
            struct chunk *n = c->next;
            free(c);
            c = n;
        }
    }
    free(a);
}

void *ts_arena_alloc(struct ts_arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - 16)
        return NULL;
    n = (n + 7u) & ~(size_t)7u;
    struct chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t sz = n > a->chunk_size ? n : a->chunk_size;
        struct chunk *nc = chunk_new(a, sz);
        if (!nc)
            return NULL;
        if (c && n > a->chunk_size && c->size - c->used >= 256) {
            /* big private chunk: keep filling the current one afterwards */
            nc->next = c->next;
            c->next = nc;
            nc->used = n;
            a->used += n;
            return (char *)nc->data;
        }
        nc->next = c;
        a->head = nc;
        c = nc;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    a->used += n;
    return p;
}

char *ts_arena_strndup(struct ts_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX) /* n + 1 would wrap to 0 */
        return NULL;
    char *p = ts_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void ts_arena_reset(struct ts_arena *a)
{
    /* standard-size chunks go to the spare list (up to ARENA_SPARE_BYTES),
     * the others are freed; then one chunk becomes the head again */
    struct chunk *c = a->head;
    while (c) {
        struct chunk *n = c->next;
        if (c->size == a->chunk_size && (a->nspare + 1) * a->chunk_size <= ARENA_SPARE_BYTES) {
            c->next = a->spare;
            a->spare = c;
            a->nspare++;
        } else {
            free(c);
        }
        c = n;
    }
    a->reserved = 0;
    a->used = 0;
    a->head = chunk_new(a, a->chunk_size); /* if this fails the next alloc fails cleanly */
}

size_t ts_arena_used(const struct ts_arena *a)
{
    return a->used;
}
