/* batch.c - ingest_batch allocation and filling, see batch_int.h. */
#include <stdlib.h>
#include <string.h>

#include "batch_int.h"
#include "../normalise/normalise.h"

int ingest_batch_create(struct ingest_batch **out, uint32_t cap, size_t max_msg)
{
    *out = NULL;
    if (cap == 0 || cap > 1000000)
        return TS_E_INVAL;
    struct ingest_batch *b = calloc(1, sizeof(*b));
    if (!b)
        return TS_E_NOMEM;
    b->events = calloc(cap, sizeof(*b->events));
    /* room for the soft limit plus one worst-case message (raw + copies) */
    size_t arena_cap = INGEST_BATCH_SOFT_BYTES + 8 * max_msg + (1u << 20);
    int rc = b->events ? ts_arena_create(&b->arena, 1u << 20, arena_cap) : TS_E_NOMEM;
    if (rc) {
        free(b->events);
        free(b);
        return rc;
    }
    b->cap = cap;
    *out = b;
    return 0;
}

void ingest_batch_destroy(struct ingest_batch *b)
{
    if (!b)
        return;
    norm_set_free(b->norm);
    ts_arena_destroy(b->arena);
    free(b->events);
    free(b);
}

void ingest_batch_reset(struct ingest_batch *b)
{
    ts_arena_reset(b->arena);
    norm_set_free(b->norm); /* after the arena: nothing points into it any more */
    b->norm = NULL;
    b->n = 0;
    b->noffsets = 0;
    b->consumed = 0;
    b->dead_letters = 0;
    b->no_decoder = 0;
}

bool ingest_batch_full(const struct ingest_batch *b)
{
    return b->n >= b->cap || b->consumed >= b->cap ||
           ts_arena_used(b->arena) >= INGEST_BATCH_SOFT_BYTES;
}

struct ts_event *ingest_batch_slot(struct ingest_batch *b, const void *raw, size_t len)
{
    if (b->n >= b->cap)
        return NULL;
    struct ts_event *ev = &b->events[b->n];
    ts_event_init(ev, b->arena);
    char *copy = ts_arena_strndup(b->arena, raw, len);
    if (!copy)
        return NULL;
    ev->raw = copy;
    ev->raw_len = (uint32_t)len;
    return ev;
}

void ingest_batch_keep(struct ingest_batch *b)
{
    b->n++;
}

static struct ingest_offset *find(struct ingest_batch *b, const char *name, int32_t partition)
{
    for (uint32_t i = 0; i < b->noffsets; i++)
        if (b->offsets[i].partition == partition &&
            (b->offsets[i].topic == name || strcmp(b->offsets[i].topic, name) == 0))
            return &b->offsets[i];
    return NULL;
}

bool ingest_batch_offsets_full(const struct ingest_batch *b, const char *name, int32_t partition)
{
    return b->noffsets >= INGEST_MAX_OFFSETS &&
           !find((struct ingest_batch *)b, name, partition);
}

int ingest_batch_note(struct ingest_batch *b, const char *name, int32_t partition, int64_t offset)
{
    struct ingest_offset *o = find(b, name, partition);
    if (!o) {
        if (b->noffsets >= INGEST_MAX_OFFSETS)
            return TS_E_LIMIT;
        o = &b->offsets[b->noffsets++];
        o->topic = name;
        o->partition = partition;
        o->first = offset - 1; /* offset follows the first message or line */
    }
    o->offset = offset;
    return 0;
}

uint32_t ingest_batch_window(struct ingest_batch *b, int64_t from_ns, int64_t to_ns,
                             const char *tenant, uint32_t *other_tenant)
{
    uint32_t kept = 0, wrong_tenant = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        const struct ts_event *ev = &b->events[i];
        if (tenant && strcmp(ev->tenant ? ev->tenant : "", tenant) != 0) {
            wrong_tenant++;
            continue;
        }
        if (ev->time_ns < from_ns || ev->time_ns >= to_ns)
            continue;
        if (kept != i)
            b->events[kept] = b->events[i];
        kept++;
    }
    uint32_t removed = b->n - kept;
    b->n = kept;
    if (other_tenant)
        *other_tenant = wrong_tenant;
    return removed;
}
