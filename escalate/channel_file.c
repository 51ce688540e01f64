/* channel_file.c - the JSON-lines file channel: each delivery appends one
 * line (the entry's ids and the JSON document) with a single write(2) on an
 * O_APPEND descriptor and fsyncs it before reporting success, so a line
 * that was reported delivered survives a crash. Opened per delivery (a
 * rotated file is picked up); any thread, lines from several threads do
 * not interleave (one write per line on a local file system). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../core/tstime.h"
#include "channel_int.h"

int esc_file_line(const struct store_outbox *e, int64_t now_ns, struct ts_buf *out)
{
    char t[40], key[STORE_ID_MAX + 32];
    ts_format_rfc3339(now_ns, t, sizeof(t));
    esc_idempotency_key(e, key, sizeof(key));
    const char *rep = esc_entry_report(e);
    int rc = ts_buf_puts(out, "{\"id\":");
    rc = rc ? rc : ts_buf_json_str(out, e->id, strlen(e->id));
    rc = rc ? rc : ts_buf_puts(out, ",\"idempotency_key\":");
    rc = rc ? rc : ts_buf_json_str(out, key, strlen(key));
    rc = rc ? rc : ts_buf_puts(out, ",\"incident_id\":");
    rc = rc ? rc : ts_buf_json_str(out, e->incident_id, strlen(e->incident_id));
    rc = rc ? rc : ts_buf_printf(out, ",\"revision\":%llu,\"recipient\":",
                                 (unsigned long long)e->revision);
    rc = rc ? rc : ts_buf_json_str(out, e->recipient, strlen(e->recipient));
    rc = rc ? rc : ts_buf_puts(out, ",\"report\":");
    rc = rc ? rc : ts_buf_json_str(out, rep, strlen(rep));
    rc = rc ? rc : ts_buf_puts(out, ",\"channel\":");
    rc = rc ? rc : ts_buf_json_str(out, e->channel, strlen(e->channel));
    rc = rc ? rc : ts_buf_printf(out, ",\"attempt\":%u,\"delivered_at\":\"%s\",\"document\":",
                                 e->attempts, t);
    if (rc)
        return rc;
    /* The payload is a JSON document; raw CR/LF can only be whitespace
     * between its tokens (inside strings JSON escapes them), so they
     * become spaces and the line stays one line. Anything else that does
     * not look like an object is embedded as a string. */
    const char *p = e->payload;
    size_t n = e->payload_len;
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
        i++;
    if (i < n && p[i] == '{' && ts_utf8_valid_prefix(p, n) == n && !memchr(p, '\0', n)) {
        size_t start = out->len;
        if ((rc = ts_buf_append(out, p, n)) != 0)
            return rc;
        for (size_t j = start; j < out->len; j++)
            if (out->data[j] == '\n' || out->data[j] == '\r')
                out->data[j] = ' ';
    } else {
        rc = ts_buf_json_str(out, p ? p : "", n);
    }
    rc = rc ? rc : ts_buf_puts(out, "}\n");
    return rc;
}

enum esc_outcome esc_send_file(struct esc_deliverer *d, size_t idx, const struct store_outbox *e,
                               int64_t now_ns, char *error)
{
    const struct esc_chan *ch = &d->c->v[idx];
    struct ts_buf *b = &d->scratch;
    ts_buf_reset(b);
    int rc = esc_file_line(e, now_ns, b);
    if (rc) {
        snprintf(error, ESC_ERROR_MAX, "file %s: line: %s", ch->path, ts_strerror(rc));
        return ESC_OUT_PERMANENT;
    }
    int fd = open(ch->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(error, ESC_ERROR_MAX, "file %s: open: %s", ch->path, strerror(errno));
        return ESC_OUT_RETRY;
    }
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(fd, b->data + off, b->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(error, ESC_ERROR_MAX, "file %s: write: %s", ch->path,
                     w < 0 ? strerror(errno) : "short write");
            close(fd);
            return ESC_OUT_RETRY;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        snprintf(error, ESC_ERROR_MAX, "file %s: fsync: %s", ch->path, strerror(errno));
        close(fd);
        return ESC_OUT_RETRY;
    }
    if (close(fd) != 0) {
        snprintf(error, ESC_ERROR_MAX, "file %s: close: %s", ch->path, strerror(errno));
        return ESC_OUT_RETRY;
    }
    return ESC_OUT_DELIVERED;
}
