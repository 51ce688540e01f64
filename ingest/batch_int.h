/* batch_int.h - ingest-internal: allocating and filling ingest_batch.
 * A batch belongs to one thread at a time (source thread, then sink thread). */
#ifndef INGEST_BATCH_INT_H
#define INGEST_BATCH_INT_H

#include "ingest.h"

/* Arena bytes after which a batch is closed even if not full. */
#define INGEST_BATCH_SOFT_BYTES (16u << 20)

/* A batch for up to cap events of messages up to max_msg bytes. */
int ingest_batch_create(struct ingest_batch **out, uint32_t cap, size_t max_msg);
void ingest_batch_destroy(struct ingest_batch *b);
/* Empty it for reuse (arena reset). */
void ingest_batch_reset(struct ingest_batch *b);
/* True when no further message should be added. */
bool ingest_batch_full(const struct ingest_batch *b);
/* A fresh event slot at events[n], initialised, raw copied into the arena
 * (NUL-terminated). NULL when the arena is full. Not counted until
 * ingest_batch_keep(). */
struct ts_event *ingest_batch_slot(struct ingest_batch *b, const void *raw, size_t len);
/* Count the slot from ingest_batch_slot as an event of the batch. */
void ingest_batch_keep(struct ingest_batch *b);
/* Record that the source has consumed up to offset (next offset to read /
 * lines read) for (name, partition). Returns TS_E_LIMIT when the batch
 * already tracks INGEST_MAX_OFFSETS positions (close it first). */
int ingest_batch_note(struct ingest_batch *b, const char *name, int32_t partition, int64_t offset);
/* True when a new (name, partition) would not fit. */
bool ingest_batch_offsets_full(const struct ingest_batch *b, const char *name, int32_t partition);

#endif
