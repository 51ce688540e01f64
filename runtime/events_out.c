/* events_out.c - a sink that writes every event as a JSON line to a
 * stream and makes it durable (fflush + fsync unless a tty/pipe) at the
 * commit point; a file it creates is 0600. Workers call it concurrently
 * (a mutex per sink).
 * A write that fails (a full disk) fails this and every later commit: the
 * lines still buffered are dropped and a regular file is cut back to its
 * size after the last durable commit, so that no half line stays and the
 * batches not committed are written again, whole, when the run resumes
 * from its committed offsets.
 * Deferred (run with its correlation fence): process() keeps the batch's
 * lines per worker and the fenced commit writes those of events no other
 * worker's batch took first, so a batch read again after a rebalance is
 * written once (rt_events_out_commit_kept, called by rt_corr_commit under
 * the fence's mutex). Each worker's pending lines are capped
 * (RT_PENDING_MAX): over it the batch fails like a full disk would. */
#include <errno.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/event_json.h"
#include "../core/file.h"
#include "../core/log.h"
#include "runtime.h"

int rt_events_out_defer(struct rt_events_out *eo, size_t workers)
{
    return rt_pending_create(&eo->pend, workers);
}

int rt_events_out_open(struct rt_events_out *eo, const char *path)
{
    memset(eo, 0, sizeof(*eo));
    pthread_mutex_init(&eo->mu, NULL);
    ts_buf_init(&eo->line, 0);
    if (!path || strcmp(path, "-") == 0) {
        eo->f = stdout;
    } else {
        eo->f = ts_fopen_private_append(path);
        if (!eo->f) {
            ts_error("cannot open %s: %s", path, strerror(errno));
            return TS_E_IO;
        }
        eo->owned = true;
    }
    struct stat st;
    eo->sync = fstat(fileno(eo->f), &st) == 0 && S_ISREG(st.st_mode);
    eo->committed = eo->sync ? st.st_size : 0;
    eo->path = path && strcmp(path, "-") != 0 ? path : "stdout";
    return 0;
}

/* Under eo->mu: the first failure is logged with its cause, what was not
 * committed is dropped (buffer and, for a file, its tail). */
static int out_failed(struct rt_events_out *eo, int e)
{
    if (!eo->failed) {
        eo->failed = true;
        __fpurge(eo->f);
        clearerr(eo->f);
        if (eo->sync && ftruncate(fileno(eo->f), eo->committed) != 0)
            ts_error("events output %s: cannot cut it back to its last committed batch "
                     "(%lld bytes): %s", eo->path, (long long)eo->committed, strerror(errno));
        ts_error("events output %s: %s: the batch and the ones after it are not committed "
                 "(the file keeps the committed batches only)",
                 eo->path, e ? strerror(e) : "write failed");
    }
    return TS_E_IO;
}

void rt_events_out_close(struct rt_events_out *eo)
{
    if (eo->f) {
        fflush(eo->f);
        if (eo->owned)
            fclose(eo->f);
    }
    eo->f = NULL;
    ts_buf_free(&eo->line);
    rt_pending_destroy(eo->pend);
    eo->pend = NULL;
    pthread_mutex_destroy(&eo->mu);
}

/* An event whose JSON line is over eo->line's limit (a message dense in
 * control characters: each is escaped as 6 bytes) is left out of the
 * stream with a warning naming its source, and the batch goes on: one
 * message must not stop `run`. (`parse` and `replay` write their events
 * themselves and make such an event a dead letter, cmd_parse.c.) A buffer
 * that grew past 16 MiB for one event is released after it. */
int rt_events_out_process(void *ctx, struct ingest_batch *b)
{
    struct rt_events_out *eo = ctx;
    int rc = 0;
    struct rt_pending *p = eo->pend;
    if (p) /* a batch that failed before its commit left its lines */
        rt_pending_reset(p, b->worker);
    pthread_mutex_lock(&eo->mu);
    for (uint32_t i = 0; !rc && i < b->n; i++) {
        const struct ts_event *ev = &b->events[i];
        ts_buf_reset(&eo->line);
        rc = ts_event_to_json(ev, &eo->line);
        if (!rc)
            rc = ts_buf_putc(&eo->line, '\n');
        if (rc == TS_E_LIMIT) {
            ts_warn("%s:%lld: event JSON over %zu bytes: not written to the events output",
                    ev->src.name ? ev->src.name : "-",
                    (long long)(ev->src.kind == TS_SRC_KAFKA ? ev->src.offset
                                                              : (int64_t)ev->src.line),
                    eo->line.limit);
            rc = 0;
        } else if (!rc && p) {
            if ((rc = rt_pending_add(p, b->worker, ev, eo->line.data, eo->line.len)) ==
                TS_E_LIMIT) {
                ts_error("events output %s: a batch's lines over %zu bytes", eo->path,
                         RT_PENDING_MAX);
                rc = TS_E_IO;
            }
        } else if (!rc && (eo->failed ||
                           fwrite(eo->line.data, 1, eo->line.len, eo->f) != eo->line.len)) {
            rc = out_failed(eo, errno);
        } else if (!rc) {
            eo->written++;
        }
        if (eo->line.cap > (16u << 20))
            ts_buf_free(&eo->line);
    }
    pthread_mutex_unlock(&eo->mu);
    return rc;
}

/* Under eo->mu: make what was written durable. */
static int commit_locked(struct rt_events_out *eo)
{
    int rc = 0;
    if (eo->failed)
        rc = TS_E_IO;
    else if (fflush(eo->f) != 0)
        rc = errno == EPIPE ? TS_E_STOPPED : out_failed(eo, errno);
    else if (eo->sync && fdatasync(fileno(eo->f)) != 0)
        rc = out_failed(eo, errno);
    else if (eo->sync) {
        struct stat st;
        if (fstat(fileno(eo->f), &st) == 0)
            eo->committed = st.st_size;
    }
    return rc;
}

int rt_events_out_commit(void *ctx, const struct ingest_batch *b)
{
    (void)b;
    struct rt_events_out *eo = ctx;
    pthread_mutex_lock(&eo->mu);
    int rc = commit_locked(eo);
    pthread_mutex_unlock(&eo->mu);
    return rc;
}

int rt_events_out_commit_kept(struct rt_events_out *eo, const struct ingest_batch *b,
                              bool (*keep)(void *ctx, const char *topic, int32_t partition,
                                           int64_t offset),
                              void *ctx)
{
    if (!eo->pend)
        return rt_events_out_commit(eo, b);
    int rc = 0;
    pthread_mutex_lock(&eo->mu);
    if (eo->failed)
        rc = TS_E_IO;
    else if (rt_pending_write(eo->pend, b->worker, eo->f, keep, ctx, &eo->written,
                              &eo->dropped) != 0)
        rc = out_failed(eo, errno);
    rc = rc ? rc : commit_locked(eo);
    pthread_mutex_unlock(&eo->mu);
    rt_pending_reset(eo->pend, b->worker); /* also after a failure */
    return rc;
}
