/* queue.h - bounded, blocking FIFO of pointers between pipeline stages.
 *
 * Any number of producers and consumers; one mutex per queue, taken once per
 * item (items are batches, never single events). A full queue is how
 * backpressure travels upstream: producers either block in ts_queue_push or
 * use ts_queue_try_push and pause their input. ts_queue_close wakes everyone;
 * after it, pushes fail with TS_E_STOPPED and pops drain what is left.
 */
#ifndef TS_QUEUE_H
#define TS_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct ts_queue;

int ts_queue_create(struct ts_queue **out, size_t capacity);
/* Items still queued are not freed (the queue does not own them). */
void ts_queue_destroy(struct ts_queue *q);
/* Block until there is room (or timeout_ms passes: TS_E_LIMIT; <0 waits
 * forever). TS_E_STOPPED once closed. */
int ts_queue_push(struct ts_queue *q, void *item, int timeout_ms);
/* 0, or TS_E_LIMIT when full, TS_E_STOPPED when closed. */
int ts_queue_try_push(struct ts_queue *q, void *item);
/* Block up to timeout_ms (<0 forever) for an item. 0 and *item, TS_E_LIMIT on
 * timeout, TS_E_STOPPED when closed and empty. */
int ts_queue_pop(struct ts_queue *q, void **item, int timeout_ms);
void ts_queue_close(struct ts_queue *q);
size_t ts_queue_len(struct ts_queue *q);
size_t ts_queue_capacity(const struct ts_queue *q);

#endif
