/* ratelimit.c - token buckets per key (a token's name, or a client
 * address): `rate` tokens per second up to `burst`; a request takes one.
 * One mutex over an open-addressing table of at most HTTP_RATE_KEYS_MAX
 * keys: when it is full, the buckets that have refilled (as good as new)
 * are dropped, else those not throttled (see sweep). Any thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/tstime.h"
#include "http_int.h"

#define SLOTS (HTTP_RATE_KEYS_MAX * 2) /* load factor at most 1/2 */
#define KEY_MAX 80                     /* longer keys are hashed into this */

struct bucket {
    char key[KEY_MAX];  /* "" = free */
    double tokens;
    int64_t at_ns;      /* last refill */
};

struct http_ratelimit {
    pthread_mutex_t mu;
    double rate, burst;
    size_t n;
    struct bucket *slots;
};

int http_ratelimit_create(struct http_ratelimit **out, double rate, double burst)
{
    *out = NULL;
    if (!(rate > 0) || !(burst >= 1))
        return TS_E_INVAL;
    struct http_ratelimit *r = calloc(1, sizeof(*r));
    if (!r || !(r->slots = calloc(SLOTS, sizeof(*r->slots)))) {
        free(r);
        return TS_E_NOMEM;
    }
    pthread_mutex_init(&r->mu, NULL);
    r->rate = rate;
    r->burst = burst;
    *out = r;
    return 0;
}

void http_ratelimit_destroy(struct http_ratelimit *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r->slots);
    free(r);
}

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The key as stored: itself, or for a long one a prefix and its hash. */
static void norm_key(const char *key, char out[KEY_MAX])
{
    size_t n = strlen(key);
    if (n < KEY_MAX) {
        memcpy(out, key, n + 1);
        return;
    }
    snprintf(out, KEY_MAX, "%.*s#%016llx", KEY_MAX - 20, key, (unsigned long long)hash(key));
}

static void refill(const struct http_ratelimit *r, struct bucket *b, int64_t now)
{
    if (now > b->at_ns) {
        b->tokens += (double)(now - b->at_ns) / 1e9 * r->rate;
        if (b->tokens > r->burst)
            b->tokens = r->burst;
        b->at_ns = now;
    }
}

/* Rebuild the table without the buckets that are full again (as good as
 * new); when none is, without every bucket that is not throttled (a
 * throttled key keeps its empty bucket: flooding the table with other keys
 * must not refill it); when all are throttled, without any. Many go at
 * once, so that a stream of new keys sweeps rarely. */
static void sweep(struct http_ratelimit *r, int64_t now)
{
    struct bucket *old = r->slots;
    struct bucket *nw = calloc(SLOTS, sizeof(*nw));
    if (!nw) {
        /* no memory: forget everything rather than refuse everyone */
        memset(r->slots, 0, SLOTS * sizeof(*r->slots));
        r->n = 0;
        return;
    }
    size_t full = 0, open = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        if (!old[i].key[0])
            continue;
        refill(r, &old[i], now);
        full += old[i].tokens >= r->burst;
        open += old[i].tokens >= 1.0;
    }
    double drop_at = full ? r->burst : open ? 1.0 : -1.0; /* drop tokens >= drop_at */
    r->n = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        if (!old[i].key[0] || old[i].tokens >= drop_at)
            continue;
        size_t j = hash(old[i].key) & (SLOTS - 1);
        while (nw[j].key[0])
            j = (j + 1) & (SLOTS - 1);
        nw[j] = old[i];
        r->n++;
    }
    free(old);
    r->slots = nw;
}

bool http_ratelimit_take(struct http_ratelimit *r, const char *key, int64_t now_ns,
                         unsigned *retry_sec)
{
    char k[KEY_MAX];
    norm_key(key && *key ? key : "-", k);
    pthread_mutex_lock(&r->mu);
    size_t j = hash(k) & (SLOTS - 1);
    while (r->slots[j].key[0] && strcmp(r->slots[j].key, k))
        j = (j + 1) & (SLOTS - 1);
    if (!r->slots[j].key[0]) {
        if (r->n >= HTTP_RATE_KEYS_MAX) {
            sweep(r, now_ns);
            j = hash(k) & (SLOTS - 1);
            while (r->slots[j].key[0])
                j = (j + 1) & (SLOTS - 1);
        }
        memcpy(r->slots[j].key, k, sizeof(k));
        r->slots[j].tokens = r->burst;
        r->slots[j].at_ns = now_ns;
        r->n++;
    }
    struct bucket *b = &r->slots[j];
    refill(r, b, now_ns);
    bool ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    else if (retry_sec) {
        double s = (1.0 - b->tokens) / r->rate;
        *retry_sec = s < 1.0 ? 1u : s > 3600.0 ? 3600u : (unsigned)(s + 0.999);
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}
