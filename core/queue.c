/* queue.c - see queue.h. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "queue.h"
#include "ts.h"

struct ts_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    void **items;
    size_t cap, head, len;
    bool closed;
};

int ts_queue_create(struct ts_queue **out, size_t capacity)
{
    *out = NULL;
    if (capacity == 0 || capacity > (1u << 20))
        return TS_E_INVAL;
    struct ts_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return TS_E_NOMEM;
    q->items = calloc(capacity, sizeof(void *));
    if (!q->items) {
        free(q);
        return TS_E_NOMEM;
    }
    q->cap = capacity;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &ca);
    pthread_cond_init(&q->not_full, &ca);
    pthread_condattr_destroy(&ca);
    *out = q;
    return 0;
}

void ts_queue_destroy(struct ts_queue *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->items);
    free(q);
}

static void deadline(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int wait_on(pthread_cond_t *c, pthread_mutex_t *mu, const struct timespec *dl)
{
    if (!dl)
        return pthread_cond_wait(c, mu);
    return pthread_cond_timedwait(c, mu, dl);
}

int ts_queue_push(struct ts_queue *q, void *item, int timeout_ms)
{
    struct timespec dl;
    if (timeout_ms >= 0)
        deadline(&dl, timeout_ms);
    pthread_mutex_lock(&q->mu);
    while (!q->closed && q->len == q->cap) {
        if (wait_on(&q->not_full, &q->mu, timeout_ms >= 0 ? &dl : NULL) == ETIMEDOUT) {
            pthread_mutex_unlock(&q->mu);
            return TS_E_LIMIT;
        }
    }
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        return TS_E_STOPPED;
    }
    q->items[(q->head + q->len) % q->cap] = item;
    q->len++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int ts_queue_try_push(struct ts_queue *q, void *item)
{
    pthread_mutex_lock(&q->mu);
    int rc = 0;
    if (q->closed) {
        rc = TS_E_STOPPED;
    } else if (q->len == q->cap) {
        rc = TS_E_LIMIT;
    } else {
        q->items[(q->head + q->len) % q->cap] = item;
        q->len++;
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int ts_queue_pop(struct ts_queue *q, void **item, int timeout_ms)
{
    struct timespec dl;
    if (timeout_ms >= 0)
        deadline(&dl, timeout_ms);
    pthread_mutex_lock(&q->mu);
    while (q->len == 0 && !q->closed) {
        if (wait_on(&q->not_empty, &q->mu, timeout_ms >= 0 ? &dl : NULL) == ETIMEDOUT)
            break;
    }
    if (q->len == 0) {
        int rc = q->closed ? TS_E_STOPPED : TS_E_LIMIT;
        pthread_mutex_unlock(&q->mu);
        return rc;
    }
    *item = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

void ts_queue_close(struct ts_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

size_t ts_queue_len(struct ts_queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t ts_queue_capacity(const struct ts_queue *q)
{
    return q->cap;
}
