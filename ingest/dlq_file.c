/* dlq_file.c - dead letters of file/stdin sources as JSON lines:
 * {"reason":..., "source":{"file":..,"line":..}, "tenant":..., "received":...,
 *  "raw":"..."} with "raw_base64" instead of "raw" when raw is not UTF-8.
 * Raw bytes past DLQ_RAW_MAX are left out, marked "raw_truncated":true with
 * the original length in "raw_bytes", so that a line of any size fits the
 * line buffer (JSON escaping can make a byte 6): a dead letter is never lost
 * for its size. A file it creates is 0600 (raw logs). One writer per file,
 * not thread-safe. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/buf.h"
#include "../core/event_json.h"
#include "../core/file.h"
#include "../core/tstime.h"
#include "ingest.h"

#define DLQ_RAW_MAX ((size_t)8 << 20) /* raw bytes written per dead letter */
/* the line: raw escaped (at most 6 bytes per byte), reason, source, tenant */
#define DLQ_LINE_MAX (6 * DLQ_RAW_MAX + ((size_t)1 << 20))

struct ingest_dlq_file {
    FILE *f;
    struct ts_buf line;
};

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
    if (fwrite(b->data, 1, b->len, d->f) != b->len)
        return TS_E_IO;
    return 0;
}

int ingest_dlq_file_flush(struct ingest_dlq_file *d)
{
    if (fflush(d->f) != 0)
        return TS_E_IO;
    if (d->f != stdout)
        (void)fsync(fileno(d->f));
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
    ts_buf_free(&d->line);
    free(d);
}
