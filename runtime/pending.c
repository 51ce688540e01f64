/* pending.c - a batch's output lines held per worker until its commit knows
 * which of its events another worker's batch already took (run's
 * correlation fence, rt_corr.pre_write): then the lines of the others are
 * written, each event's once. Each line keeps the Kafka position of its
 * event. A worker's lines are touched by that worker's process() and by its
 * commit only (the caller's output mutex serialises the file). Each
 * worker's lines are capped (RT_PENDING_MAX bytes: over it, TS_E_LIMIT).
 */
#include <stdlib.h>

#include "runtime.h"

struct pend_mark {
    const char *topic; /* the batch's (valid until its commit); NULL: not Kafka */
    int32_t partition;
    int64_t offset;
    size_t end; /* where the line ends in buf */
};
struct pend_worker {
    struct ts_buf buf;
    struct pend_mark *m;
    size_t n, cap;
};
struct rt_pending {
    struct pend_worker *w;
    size_t n;
};

int rt_pending_create(struct rt_pending **out, size_t workers)
{
    *out = NULL;
    struct rt_pending *p = calloc(1, sizeof(*p));
    if (!p)
        return TS_E_NOMEM;
    p->n = workers ? workers : 1;
    if (!(p->w = calloc(p->n, sizeof(*p->w)))) {
        free(p);
        return TS_E_NOMEM;
    }
    for (size_t i = 0; i < p->n; i++)
        ts_buf_init(&p->w[i].buf, RT_PENDING_MAX);
    *out = p;
    return 0;
}

void rt_pending_destroy(struct rt_pending *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        ts_buf_free(&p->w[i].buf);
        free(p->w[i].m);
    }
    free(p->w);
    free(p);
}

static struct pend_worker *of(struct rt_pending *p, int worker)
{
    return &p->w[worker >= 0 && (size_t)worker < p->n ? (size_t)worker : 0];
}

void rt_pending_reset(struct rt_pending *p, int worker)
{
    struct pend_worker *w = of(p, worker);
    ts_buf_reset(&w->buf);
    w->n = 0;
    if (w->buf.cap > (64u << 20)) /* a batch of very long lines: give it back */
        ts_buf_free(&w->buf);
}

int rt_pending_add(struct rt_pending *p, int worker, const struct ts_event *ev, const void *line,
                   size_t len)
{
    struct pend_worker *w = of(p, worker);
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 256;
        struct pend_mark *nm = realloc(w->m, nc * sizeof(*nm));
        if (!nm)
            return TS_E_NOMEM;
        w->m = nm;
        w->cap = nc;
    }
    int rc = ts_buf_append(&w->buf, line, len);
    if (rc)
        return rc;
    w->m[w->n++] = (struct pend_mark){ev->src.kind == TS_SRC_KAFKA ? ev->src.name : NULL,
                                      ev->src.partition, ev->src.offset, w->buf.len};
    return 0;
}

int rt_pending_write(struct rt_pending *p, int worker, FILE *f,
                     bool (*keep)(void *ctx, const char *topic, int32_t partition,
                                  int64_t offset),
                     void *ctx, uint64_t *written, uint64_t *dropped)
{
    struct pend_worker *w = of(p, worker);
    size_t start = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < w->n; start = w->m[i++].end) {
        const struct pend_mark *m = &w->m[i];
        if (keep && m->topic && !keep(ctx, m->topic, m->partition, m->offset)) {
            (*dropped)++;
            continue;
        }
        size_t len = m->end - start;
        if (fwrite(w->buf.data + start, 1, len, f) != len)
            rc = TS_E_IO;
        else
            (*written)++;
    }
    rt_pending_reset(p, worker);
    return rc;
}
