/* dlq_file.c - dead letters of file/stdin sources as JSON lines:
 * {"reason":..., "source":{"file":..,"line":..}, "tenant":..., "received":...,
 *  "raw":"..."} with "raw_base64" instead of "raw" when raw is not UTF-8.
 * Raw bytes past DLQ_RAW_MAX are left out, marked "raw_truncated":true with
 * the original length in "raw_bytes", so that a line of any size fits the
 * line buffer (JSON escaping can make a byte 6): a dead letter is never lost
 * for its size. A file it creates is 0600 (raw logs). One writer per file,
 * not thread-safe.
 * A write that fails (a full disk) is logged once with the file and the
 * cause; the lines not yet flushed are dropped and the file cut back to its
 * size at the last flush, so that no half line stays and a new run over the
 * same input writes them whole. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdio_ext.h>

#include "../core/buf.h"
#include "../core/event_json.h"
#include "../core/file.h"
#include "../core/log.h"
#include "../core/tstime.h"
#include "ingest.h"

#define DLQ_RAW_MAX ((size_t)8 << 20) /* raw bytes written per dead letter */
/* the line: raw escaped (at most 6 bytes per byte), reason, source, tenant */
#define DLQ_LINE_MAX (6 * DLQ_RAW_MAX + ((size_t)1 << 20))

struct ingest_dlq_file {
    FILE *f;
    char *path;
    bool failed;   /* a write failed: nothing more is written */
    off_t flushed; /* the size of a regular file after the last flush; -1: not one */
    struct ts_buf line;
};

static int dlq_failed(struct ingest_dlq_file *d, int e)
{
    if (d->failed)
        return TS_E_IO;
    d->failed = true;
    __fpurge(d->f);
    clearerr(d->f);
    if (d->flushed >= 0 && ftruncate(fileno(d->f), d->flushed) != 0)
        ts_error("dead-letter file %s: cannot cut it back to its last flush: %s", d->path,
                 strerror(errno));
    ts_error("dead-letter file %s: %s: the dead letters since its last flush are not kept "
             "(the file ends at the last one that was)", d->path,
             e ? strerror(e) : "write failed");
    return TS_E_IO;
}

int ingest_dlq_file_open(struct ingest_dlq_file **out, const char *path, struct ts_err *err)
{
    *out = NULL;
    struct ingest_dlq_file *d = calloc(1, sizeof(*d));
    if (!d)
        return TS_E_NOMEM;
    d->f = strcmp(path, "-") == 0 ? stdout : ts_fopen_private_append(path);
    if (!d->f) {
        int e = errno;
        free(d);
        return ts_err_set(err, TS_E_IO, path, 0, 0, "cannot open dead-letter file: %s",
                          strerror(e));
    }
    struct stat st;
    d->flushed = d->f != stdout && fstat(fileno(d->f), &st) == 0 && S_ISREG(st.st_mode)
                     ? st.st_size
                     : -1;
    if (!(d->path = strdup(path))) {
        ingest_dlq_file_close(d);
        return TS_E_NOMEM;
    }
    ts_buf_init(&d->line, DLQ_LINE_MAX);
    *out = d;
    return 0;
}

int ingest_dlq_file_write(struct ingest_dlq_file *d, const struct ts_event *ev, const char *reason)
{
    struct ts_buf *b = &d->line;
    ts_buf_reset(b);
    char ts[48];
    int rc = ts_buf_puts(b, "{\"reason\":");
    rc = rc ? rc : ts_buf_json_str(b, reason, strlen(reason));
    rc = rc ? rc : ts_buf_puts(b, ",\"source\":");
    rc = rc ? rc : ts_srcpos_to_json(&ev->src, b);
    rc = rc ? rc : ts_buf_puts(b, ",\"tenant\":");
    rc = rc ? rc : ts_buf_json_str(b, ev->tenant, strlen(ev->tenant));
    ts_format_rfc3339(ev->ingest_ns, ts, sizeof(ts));
    rc = rc ? rc : ts_buf_printf(b, ",\"received\":\"%s\"", ts);
    size_t n = ev->raw_len;
    bool cut = n > DLQ_RAW_MAX;
    if (cut)
        n = DLQ_RAW_MAX;
    size_t valid = ts_utf8_valid_prefix(ev->raw, n);
    if (cut && valid < n && n - valid < 4) { /* the cut may split a character */
        size_t rest = ev->raw_len - valid;
        if (ts_utf8_valid_prefix(ev->raw + valid, rest < 4 ? rest : 4) > 0)
            n = valid;
    }
    if (!rc && valid >= n) {
        rc = ts_buf_puts(b, ",\"raw\":");
        rc = rc ? rc : ts_buf_json_str(b, ev->raw, n);
    } else if (!rc) {
        rc = ts_buf_puts(b, ",\"raw_base64\":\"");
        rc = rc ? rc : ts_buf_base64(b, ev->raw, n);
        rc = rc ? rc : ts_buf_putc(b, '"');
    }
    if (!rc && cut)
        rc = ts_buf_printf(b, ",\"raw_truncated\":true,\"raw_bytes\":%zu", (size_t)ev->raw_len);
    rc = rc ? rc : ts_buf_puts(b, "}\n");
    if (rc)
        return rc;
    if (d->failed || fwrite(b->data, 1, b->len, d->f) != b->len)
        return dlq_failed(d, errno);
    return 0;
}

int ingest_dlq_file_flush(struct ingest_dlq_file *d)
{
    if (d->failed || fflush(d->f) != 0)
        return dlq_failed(d, errno);
    if (d->f != stdout && fsync(fileno(d->f)) != 0 && errno != EINVAL)
        return dlq_failed(d, errno);
    struct stat st;
    if (d->flushed >= 0 && fstat(fileno(d->f), &st) == 0)
        d->flushed = st.st_size;
    return 0;
}

void ingest_dlq_file_close(struct ingest_dlq_file *d)
{
    if (!d)
        return;
    if (d->f && d->f != stdout)
        fclose(d->f);
    else if (d->f)
        fflush(d->f);
    free(d->path);
    ts_buf_free(&d->line);
    free(d);
}
