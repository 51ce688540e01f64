/* file.c - the file/stdin source: lines from files ("-" = stdin, .gz read
 * transparently through zlib), parsed into batches, handed to the sink on the
 * caller's thread. Blank lines are not messages and are skipped; a line longer
 * than the message limit is a dead letter (its first max bytes are kept). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../core/log.h"
#include "../core/tstime.h"
#include "batch_int.h"
#include "ingest.h"
#include "../normalise/normalise.h"

#define READ_CHUNK (256u << 10)

struct reader {
    gzFile gz;                /* NULL: reading mem */
    const char *mem;          /* a buffer instead of a file (ingest_file_opts.buf) */
    size_t mem_len, mem_pos;
    const char *name;
    char *buf;
    size_t cap, start, end;
    bool eof;
    bool skip; /* discarding the rest of an over-long line */
    uint64_t line;
};

static int reader_open(struct reader *r, const char *path, size_t max_msg, struct ts_err *err)
{
    memset(r, 0, sizeof(*r));
    r->name = path;
    if (strcmp(path, "-") == 0) {
        int fd = dup(STDIN_FILENO);
        r->gz = fd >= 0 ? gzdopen(fd, "rb") : NULL;
        if (!r->gz && fd >= 0)
            close(fd);
    } else {
        r->gz = gzopen(path, "rb");
    }
    if (!r->gz)
        return ts_err_set(err, TS_E_IO, path, 0, 0, "cannot open: %s",
                          errno ? strerror(errno) : "out of memory");
    gzbuffer(r->gz, 128u << 10);
    r->cap = max_msg + READ_CHUNK + 2;
    r->buf = malloc(r->cap);
    if (!r->buf) {
        gzclose(r->gz);
        return TS_E_NOMEM;
    }
    return 0;
}

/* A reader over mem (len bytes, borrowed), named name in messages. */
static int reader_open_mem(struct reader *r, const char *name, const char *mem, size_t len,
                           size_t max_msg)
{
    memset(r, 0, sizeof(*r));
    r->name = name;
    r->mem = mem;
    r->mem_len = len;
    r->cap = max_msg + READ_CHUNK + 2;
    r->buf = malloc(r->cap);
    return r->buf ? 0 : TS_E_NOMEM;
}

static void reader_close(struct reader *r)
{
    if (r->gz)
        gzclose(r->gz);
    free(r->buf);
    r->gz = NULL;
    r->buf = NULL;
}

static int read_more(struct reader *r, struct ts_err *err)
{
    if (!r->gz) {
        size_t n = r->mem_len - r->mem_pos, room = r->cap - r->end - 1;
        if (n > room)
            n = room;
        memcpy(r->buf + r->end, r->mem + r->mem_pos, n);
        r->mem_pos += n;
        r->end += n;
        r->eof = n == 0;
        return 0;
    }
    int n = gzread(r->gz, r->buf + r->end, (unsigned)(r->cap - r->end - 1));
    if (n < 0) {
        int e;
        const char *m = gzerror(r->gz, &e);
        return ts_err_set(err, TS_E_IO, r->name, 0, 0, "read error after line %llu: %s",
                          (unsigned long long)r->line, m);
    }
    if (n == 0)
        r->eof = true;
    r->end += (size_t)n;
    return 0;
}

static void compact(struct reader *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
}

/* Next line (without the newline), valid until the next call. *truncated
 * when it was longer than max: then *len == max and the rest of the line is
 * skipped. 1 = got a line, 0 = end of input, <0 error. */
static int reader_next(struct reader *r, size_t max, const char **line, size_t *len,
                       bool *truncated, struct ts_err *err)
{
    *truncated = false;
    while (r->skip) { /* the tail of an over-long line */
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl) {
            r->start = (size_t)(nl + 1 - r->buf);
            r->skip = false;
            break;
        }
        r->start = r->end = 0;
        if (r->eof) {
            r->skip = false;
            break;
        }
        int rc = read_more(r, err);
        if (rc)
            return rc;
    }
    for (;;) {
        char *nl = r->end > r->start ? memchr(r->buf + r->start, '\n', r->end - r->start) : NULL;
        if (nl || (r->eof && r->end > r->start)) {
            size_t l = nl ? (size_t)(nl - (r->buf + r->start)) : r->end - r->start;
            *line = r->buf + r->start;
            r->start += l + (nl ? 1 : 0);
            r->line++;
            *len = l;
            if (l > max) {
                *len = max;
                *truncated = true;
            }
            return 1;
        }
        if (r->eof)
            return 0;
        compact(r);
        if (r->end > max) {
            /* no newline within max bytes: hand out the head, skip the rest */
            r->line++;
            *line = r->buf;
            *len = max;
            *truncated = true;
            r->start = r->end;
            r->skip = true;
            return 1;
        }
        int rc = read_more(r, err);
        if (rc)
            return rc;
    }
}

/* The first half of a flush: end the normalisation batch, make the dead
 * letters durable, process(). *empty when the batch holds nothing. */
static int flush_process(const struct ingest_file_opts *o, struct ingest_batch *b,
                         struct norm_scratch *ns, bool *empty)
{
    if (ns)
        norm_set_batch_end(ns);
    *empty = b->consumed == 0;
    if (*empty)
        return 0;
    int rc = 0;
    if (o->dlq && b->dead_letters)
        rc = ingest_dlq_file_flush(o->dlq);
    return rc ? rc : o->sink.process(o->sink.ctx, b);
}

static int flush_batch(const struct ingest_file_opts *o, struct ingest_batch *b,
                       struct ingest_stats *st, struct norm_scratch *ns)
{
    bool empty;
    int rc = flush_process(o, b, ns, &empty);
    if (empty)
        return 0;
    if (!rc && o->sink.commit)
        rc = o->sink.commit(o->sink.ctx, b);
    if (!rc) {
        st->batches++;
        st->commits++;
    }
    ingest_batch_reset(b);
    return rc;
}

static void diag_line(const struct ingest_file_opts *o, const char *name, uint64_t line,
                      const char *kind, const char *msg)
{
    if (o->diag)
        fprintf(o->diag, "%s:%llu: %s: %s\n", name, (unsigned long long)line, kind, msg);
}

static void add_explain(struct ts_event *ev, const char *name, const char *val)
{
    if (val)
        ts_event_add_str(ev, name, val, strlen(val));
}

/* Decoders, profile, enrichment; a step that cannot finish leaves the
 * event as it is, with a warning. */
static void normalise(const struct ingest_file_opts *o, struct norm_scratch *ns,
                      struct ts_event *ev, struct ingest_stats *st, const char *name,
                      uint64_t line)
{
    struct norm_explain ex;
    norm_set_batch_begin(ns);
    int rc = norm_apply(o->norm, ns, ev, o->explain ? &ex : NULL);
    if (rc) {
        st->warnings++;
        diag_line(o, name, line, "warning", "normalisation incomplete (event kept as parsed)");
    }
    if (norm_undecoded(ns))
        st->no_decoder++;
    if (norm_regex_cut(ns))
        st->regex_cut++;
    if (o->explain) {
        add_explain(ev, "explain.decoder", ex.decoder ? ex.decoder : "(none)");
        add_explain(ev, "explain.decoder_why", ex.decoder_why);
        add_explain(ev, "explain.profile", ex.profile ? ex.profile : "(none)");
        add_explain(ev, "explain.profile_why", ex.profile_why);
    }
}

/* ---- pipeline: commit() of batch N on a second thread while the next
 * batches are read, parsed, normalised and process()ed; commits stay in
 * order. What is in flight is bounded by memory, not by a batch count: the
 * batches handed over and not yet committed may hold at most the budget's
 * arena bytes (the reader waits beyond it), and batches are made only when
 * no made one is free, so a fast committer keeps two or three batches alive
 * and a slow one at most the budget's worth (up to PIPE_N batches, workers
 * 0..PIPE_N-1). A long commit (a coalesced LMDB transaction) still does not
 * stall the reader until the budget is used. */
#define PIPE_N INGEST_PIPELINE_BATCHES
struct committer {
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const struct ingest_file_opts *o;
    struct ingest_batch *q[PIPE_N]; /* handed over, not yet taken (FIFO) */
    size_t qhead, qlen;
    bool busy[PIPE_N];      /* batch i is the committer's */
    size_t bytes[PIPE_N];   /* its arena bytes when handed over */
    size_t inflight;        /* sum of bytes[] of the busy batches */
    size_t budget;          /* the reader waits while inflight >= budget */
    size_t peak;            /* highest inflight seen */
    int made;               /* batches made so far (bs[0..made-1]) */
    int n;                  /* at most this many (<= PIPE_N) */
    bool stop;
    int rc;                 /* first commit error */
    uint64_t commits;
};

static void *commit_main(void *arg)
{
    struct committer *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->qlen && !c->stop)
            pthread_cond_wait(&c->cv, &c->mu);
        if (!c->qlen)
            break;
        struct ingest_batch *b = c->q[c->qhead];
        c->qhead = (c->qhead + 1) % PIPE_N;
        c->qlen--;
        int rc = c->rc;
        pthread_mutex_unlock(&c->mu);
        if (!rc)
            rc = c->o->sink.commit(c->o->sink.ctx, b);
        pthread_mutex_lock(&c->mu);
        if (rc && !c->rc)
            c->rc = rc;
        else if (!rc)
            c->commits++;
        c->busy[b->worker] = false;
        c->inflight -= c->bytes[b->worker];
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static bool any_busy(const struct committer *c)
{
    for (int i = 0; i < c->made; i++)
        if (c->busy[i])
            return true;
    return false;
}

/* Flush bs[*cur]: process here, commit there; then make a free batch ours
 * (the lowest free one, a new one while the pool may grow, else wait for
 * one) once what is in flight is under the budget. */
static int flush_pipelined(const struct ingest_file_opts *o, struct ingest_batch **bs, int *cur,
                           struct ingest_stats *st, struct norm_scratch *ns,
                           struct committer *c)
{
    struct ingest_batch *b = bs[*cur];
    bool empty;
    int rc = flush_process(o, b, ns, &empty);
    if (empty)
        return 0;
    size_t bytes = ts_arena_used(b->arena);
    pthread_mutex_lock(&c->mu);
    if (!rc) {
        st->batches++;
        c->busy[*cur] = true;
        c->bytes[*cur] = bytes;
        c->inflight += bytes;
        if (c->inflight > c->peak)
            c->peak = c->inflight;
        c->q[(c->qhead + c->qlen) % PIPE_N] = b;
        c->qlen++;
        pthread_cond_broadcast(&c->cv);
    }
    for (;;) {
        if (rc) {
            while (any_busy(c))
                pthread_cond_wait(&c->cv, &c->mu);
            break;
        }
        if (c->rc) {
            rc = c->rc;
            continue;
        }
        int pick = -1;
        if (c->inflight < c->budget || !c->qlen) {
            for (int i = 0; i < c->made && pick < 0; i++)
                if (!c->busy[i])
                    pick = i;
            if (pick < 0 && c->made < c->n) {
                struct ingest_batch *nb;
                if (ingest_batch_create(&nb, b->cap, o->parse.max_msg_bytes
                                                         ? o->parse.max_msg_bytes
                                                         : INGEST_DEFAULT_MAX_MSG) == 0) {
                    nb->worker = c->made;
                    bs[c->made] = nb;
                    pick = c->made++;
                }
            }
        }
        if (pick >= 0) {
            *cur = pick;
            break;
        }
        pthread_cond_wait(&c->cv, &c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    if (!rc)
        ingest_batch_reset(bs[*cur]);
    return rc;
}

/* A file's key for resume: "<real path>#<device>:<inode>" (the file
 * whichever way its path is written: ../logs/x.log and logs/x.log are one
 * file; a file rotated into its place is another); "#<device>:<inode>"
 * alone when the real path would make the key longer than
 * INGEST_SOURCE_KEY_MAX; the path as given when it cannot be resolved
 * (opening it reports why). NULL: out of memory. */
static char *source_key(const char *path)
{
    struct stat sb;
    char *rp = realpath(path, NULL);
    if (!rp || stat(rp, &sb) != 0) {
        free(rp);
        return strdup(path);
    }
    char id[64];
    snprintf(id, sizeof(id), "#%llu:%llu", (unsigned long long)sb.st_dev,
             (unsigned long long)sb.st_ino);
    size_t rl = strlen(rp), il = strlen(id);
    char *k = rl + il <= INGEST_SOURCE_KEY_MAX ? malloc(rl + il + 1) : strdup(id);
    if (k && rl + il <= INGEST_SOURCE_KEY_MAX) {
        memcpy(k, rp, rl);
        memcpy(k + rl, id, il + 1);
    }
    free(rp);
    return k;
}

static void free_keys(char **keys, size_t n)
{
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
}

int ingest_files_run(const struct ingest_file_opts *o, struct ingest_stats *st, struct ts_err *err)
{
    size_t max = o->parse.max_msg_bytes ? o->parse.max_msg_bytes : INGEST_DEFAULT_MAX_MSG;
    const char *bad = o->tenant && o->tenant[0] ? ts_tenant_check(o->tenant, strlen(o->tenant))
                                                : NULL;
    if (bad)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "%s", bad);
    struct ingest_batch *b;
    uint32_t bmax = o->batch_max ? o->batch_max : 1024;
    int rc = ingest_batch_create(&b, bmax, max);
    if (rc)
        return rc;
    struct ingest_batch *bs[PIPE_N] = {b};
    int cur = 0;
    struct committer cm = {.o = o, .made = 1, .n = PIPE_N};
    cm.budget = o->inflight_bytes ? o->inflight_bytes : INGEST_INFLIGHT_BYTES;
    bool piped = o->pipeline && o->sink.commit;
    if (piped && !rc) {
        pthread_mutex_init(&cm.mu, NULL);
        pthread_cond_init(&cm.cv, NULL);
        if (pthread_create(&cm.tid, NULL, commit_main, &cm) != 0) {
            pthread_mutex_destroy(&cm.mu);
            pthread_cond_destroy(&cm.cv);
            rc = TS_E_NOMEM;
        }
    }
    if (rc) {
        for (int i = 0; i < PIPE_N; i++)
            ingest_batch_destroy(bs[i]);
        return rc;
    }
    /* the key of each file's offsets in a store (resume): its identity,
     * not the path as typed; alive until every batch is committed */
    char **keys = calloc(o->npaths ? o->npaths : 1, sizeof(*keys));
    if (!keys)
        rc = TS_E_NOMEM;
    for (size_t i = 0; !rc && !(!o->npaths && o->buf) && i < o->npaths; i++)
        if (strcmp(o->paths[i], "-") != 0 && !(keys[i] = source_key(o->paths[i])))
            rc = TS_E_NOMEM;
    if (rc) {
        free_keys(keys, o->npaths);
        for (int i = 0; i < PIPE_N; i++)
            ingest_batch_destroy(bs[i]);
        return rc;
    }
#define FLUSH() (piped ? flush_pipelined(o, bs, &cur, st, ns, &cm) : flush_batch(o, b, st, ns))
    const char *tenant = o->tenant ? o->tenant : "";
    struct norm_scratch *ns = NULL;
    if (o->norm && (rc = norm_scratch_create(&ns, o->norm)) != 0) {
        ingest_batch_destroy(b);
        return rc;
    }
    bool mem = !o->npaths && o->buf;
    size_t nsrc = mem ? 1 : o->npaths;
    for (size_t fi = 0; fi < nsrc && !rc; fi++) {
        struct reader r;
        const char *path = mem ? "-" : o->paths[fi];
        const char *name = mem ? (o->buf_name ? o->buf_name : "-")
                           : strcmp(path, "-") == 0 ? "-" : path;
        rc = mem ? reader_open_mem(&r, name, o->buf, o->buf_len, max)
                 : reader_open(&r, path, max, err);
        if (rc)
            break;
        /* "now" of a file is its last modification: no line in it can be
         * younger (a missing year is inferred from it, and an event dated
         * further ahead is clamped by ingest_time_guard); stdin: the clock */
        struct ingest_parse_opts po = o->parse;
        struct stat sb;
        if (!po.ref_ns && !mem && strcmp(name, "-") != 0 && stat(path, &sb) == 0 &&
            S_ISREG(sb.st_mode))
            po.ref_ns = (int64_t)sb.st_mtim.tv_sec * TS_NS_PER_SEC + sb.st_mtim.tv_nsec;
        /* resume: the sink's store may already hold this file up to a line
         * (keyed by its identity; stores written before that keyed files by
         * the path as typed, looked up second) */
        const char *key = mem || !keys[fi] ? name : keys[fi];
        int64_t done = 0;
        if (o->sink.seek && !mem && strcmp(name, "-") != 0 &&
            ((o->sink.seek(o->sink.ctx, key, -1, &done) == 0 && done > 0) ||
             (o->sink.seek(o->sink.ctx, name, -1, &done) == 0 && done > 0))) {
            ts_info("%s: resuming after line %lld (already committed to the store)", name,
                    (long long)done);
            while ((int64_t)r.line < done) {
                const char *line;
                size_t len;
                bool trunc;
                int got = reader_next(&r, max, &line, &len, &trunc, err);
                if (got <= 0) {
                    rc = got;
                    break;
                }
            }
        }
        for (;;) {
            if (o->stop && *o->stop)
                break;
            const char *line = NULL;
            size_t len = 0;
            bool trunc = false;
            int got = reader_next(&r, max, &line, &len, &trunc, err);
            if (got < 0) {
                rc = got;
                break;
            }
            if (got == 0)
                break;
            if (!trunc && len > 0 && line[len - 1] == '\r')
                len--;
            if (!trunc) {
                size_t k = 0;
                while (k < len && (line[k] == ' ' || line[k] == '\t'))
                    k++;
                if (k == len)
                    continue; /* blank line: not a message */
            }
            if (ingest_batch_full(b) && (rc = FLUSH()))
                break;
            b = bs[cur]; /* the pipeline's next batch (always bs[0] without it) */
            struct ts_event *ev = ingest_batch_slot(b, line, len);
            if (!ev && (rc = FLUSH()) == 0) {
                b = bs[cur];
                ev = ingest_batch_slot(b, line, len);
            }
            if (!ev) {
                rc = rc ? rc : TS_E_NOMEM;
                break;
            }
            ev->src.kind = TS_SRC_FILE;
            ev->src.name = name;
            ev->src.line = r.line;
            ev->tenant = tenant;
            ev->ingest_ns = ts_now_ns();
            ev->time_ns = ev->ingest_ns;
            st->consumed++;
            st->bytes += len;
            b->consumed++;
            struct ingest_diag d = {0};
            int prc;
            char reason[128];
            if (trunc) {
                snprintf(reason, sizeof(reason), "line longer than the limit of %zu bytes", max);
                d.reason = reason;
                d.limit = "message_size";
                prc = TS_E_PARSE;
            } else {
                prc = ingest_parse(o->format, &po, ev, &d);
            }
            if (prc == 0) {
                ingest_batch_keep(b);
                st->parsed++;
                if (ns) {
                    uint64_t nodec = st->no_decoder;
                    normalise(o, ns, ev, st, name, r.line);
                    b->no_decoder += st->no_decoder - nodec; /* per-period counters */
                }
                /* after normalisation: a decoder may have set the time */
                if (ingest_diag_warning_holds(&d, ev)) {
                    st->warnings++;
                    diag_line(o, name, r.line, "warning", d.warning);
                }
                if (ingest_time_guard(&po, ev)) {
                    st->clamped++;
                    diag_line(o, name, r.line, "warning",
                              "event time too far ahead of ingest time: clamped (time_claimed "
                              "keeps it)");
                }
            } else {
                const char *why = d.reason ? d.reason : ts_strerror(prc);
                st->dead_letters++;
                b->dead_letters++;
                if (d.limit)
                    st->limit_refused++;
                diag_line(o, name, r.line, "rejected", why);
                if (o->dlq && (rc = ingest_dlq_file_write(o->dlq, ev, why)) != 0) {
                    ts_err_set(err, rc, NULL, 0, 0, "cannot write dead letter: %s",
                               ts_strerror(rc));
                    break;
                }
            }
            ingest_batch_note(b, key, -1, (int64_t)r.line);
        }
        reader_close(&r);
    }
    if (!rc)
        rc = FLUSH();
#undef FLUSH
    if (piped) { /* the last commit, then the thread */
        pthread_mutex_lock(&cm.mu);
        while (any_busy(&cm))
            pthread_cond_wait(&cm.cv, &cm.mu);
        cm.stop = true;
        pthread_cond_broadcast(&cm.cv);
        pthread_mutex_unlock(&cm.mu);
        pthread_join(cm.tid, NULL);
        rc = rc ? rc : cm.rc;
        st->commits += cm.commits;
        pthread_mutex_destroy(&cm.mu);
        pthread_cond_destroy(&cm.cv);
        st->inflight_peak = cm.peak;
        st->batches_made = (uint32_t)cm.made;
        for (int i = 1; i < cm.made; i++)
            ingest_batch_destroy(bs[i]);
        b = bs[0];
    }
    norm_scratch_free(ns);
    ingest_batch_destroy(b);
    free_keys(keys, o->npaths);
    return rc;
}
