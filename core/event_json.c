/* event_json.c - see event_json.h. */
#include <string.h>

#include "event_json.h"
#include "ts.h"
#include "tstime.h"

static const char *const envelope[] = {"@timestamp", "@time_source", "tenant", "source",
                                       "format",     "logsource",    "raw"};

static bool is_envelope(const char *name, size_t len)
{
    for (size_t i = 0; i < TS_ARRAY_LEN(envelope); i++)
        if (strlen(envelope[i]) == len && memcmp(envelope[i], name, len) == 0)
            return true;
    return false;
}

static int kv_str(struct ts_buf *b, const char *key, const char *val)
{
    int rc = ts_buf_printf(b, ",\"%s\":", key);
    return rc ? rc : ts_buf_json_str(b, val, strlen(val));
}

int ts_srcpos_to_json(const struct ts_srcpos *src, struct ts_buf *b)
{
    const char *name = src->name ? src->name : "";
    bool kafka = src->kind == TS_SRC_KAFKA;
    int rc = ts_buf_puts(b, kafka ? "{\"topic\":" : "{\"file\":");
    rc = rc ? rc : ts_buf_json_str(b, name, strlen(name));
    if (rc)
        return rc;
    if (kafka)
        return ts_buf_printf(b, ",\"partition\":%d,\"offset\":%lld}", (int)src->partition,
                             (long long)src->offset);
    return ts_buf_printf(b, ",\"line\":%llu}", (unsigned long long)src->line);
}

int ts_event_to_json(const struct ts_event *ev, struct ts_buf *b)
{
    char ts[48];
    size_t start = b->len;
    ts_format_rfc3339(ev->time_ns, ts, sizeof(ts));
    int rc = ts_buf_printf(b, "{\"@timestamp\":\"%s\",\"@time_source\":\"%s\"", ts,
                           ev->time_clamped      ? "clamped"
                           : ev->time_from_event ? "event"
                                                 : "ingest");
    rc = rc ? rc : kv_str(b, "tenant", ev->tenant ? ev->tenant : "");
    if (!rc && ev->src.kind != TS_SRC_NONE) {
        rc = ts_buf_puts(b, ",\"source\":");
        rc = rc ? rc : ts_srcpos_to_json(&ev->src, b);
    }
    if (!rc && ev->format)
        rc = kv_str(b, "format", ev->format);
    const struct ts_logsource *ls = &ev->logsource;
    if (!rc && (ls->product || ls->category || ls->service)) {
        rc = ts_buf_puts(b, ",\"logsource\":{");
        bool first = true;
        const char *k[] = {"product", "category", "service"};
        const char *v[] = {ls->product, ls->category, ls->service};
        for (int i = 0; !rc && i < 3; i++) {
            if (!v[i])
                continue;
            rc = ts_buf_printf(b, "%s\"%s\":", first ? "" : ",", k[i]);
            rc = rc ? rc : ts_buf_json_str(b, v[i], strlen(v[i]));
            first = false;
        }
        rc = rc ? rc : ts_buf_putc(b, '}');
    }
    rc = rc ? rc : ts_buf_puts(b, ",\"raw\":");
    rc = rc ? rc : ts_buf_json_str(b, ev->raw ? ev->raw : "", ev->raw ? ev->raw_len : 0);
    for (uint32_t i = 0; !rc && i < ev->nfields; i++) {
        const struct ts_field *f = &ev->fields[i];
        rc = ts_buf_putc(b, ',');
        if (!rc && is_envelope(f->name, f->name_len)) {
            rc = ts_buf_puts(b, "\"field.");
            rc = rc ? rc : ts_buf_append(b, f->name, f->name_len);
            rc = rc ? rc : ts_buf_putc(b, '"');
        } else if (!rc) {
            rc = ts_buf_json_str(b, f->name, f->name_len);
        }
        rc = rc ? rc : ts_buf_putc(b, ':');
        rc = rc ? rc : ts_buf_json_value(b, &f->v);
    }
    rc = rc ? rc : ts_buf_putc(b, '}');
    if (rc) {
        b->len = start;
        if (b->data)
            b->data[start] = '\0';
    }
    return rc;
}
