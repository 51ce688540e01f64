/* views.c - the JSON views of stored incidents and evidence (runtime.h),
 * shared by `tocsin incidents` and the HTTP API. Stateless; any thread.
 * Every append goes through one writer that keeps the first error, so a
 * view either is complete or says why not. */
#include <jansson.h>
#include <string.h>

#include "../core/tstime.h"
#include "runtime.h"

/* A ts_buf and the first error of the appends made to it. */
struct view {
    struct ts_buf *b;
    int rc;
};

static void v_puts(struct view *v, const char *s)
{
    if (!v->rc)
        v->rc = ts_buf_puts(v->b, s);
}

static void v_putc(struct view *v, char c)
{
    if (!v->rc)
        v->rc = ts_buf_putc(v->b, c);
}

static void v_json(struct view *v, const char *s, size_t n)
{
    if (!v->rc)
        v->rc = ts_buf_json_str(v->b, s, n);
}

static void v_printf(struct view *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void v_printf(struct view *v, const char *fmt, ...)
{
    if (v->rc)
        return;
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(small))
        v->rc = TS_E_LIMIT; /* every format here is a few numbers and names */
    else
        v->rc = ts_buf_append(v->b, small, (size_t)n);
}

static void put_time(struct view *v, const char *name, int64_t ns)
{
    char t[48];
    ts_format_rfc3339(ns, t, sizeof(t));
    v_printf(v, ",\"%s\":\"%s\"", name, t);
}

static void put_str(struct view *v, const char *name, const char *s)
{
    v_printf(v, ",\"%s\":", name);
    v_json(v, s ? s : "", s ? strlen(s) : 0);
}

static void put_list(struct view *v, const char *const *items, uint32_t n)
{
    v_putc(v, '[');
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            v_putc(v, ',');
        v_json(v, items[i], strlen(items[i]));
    }
    v_putc(v, ']');
}

int rt_view_incident_open(struct ts_buf *b, const struct store_incident *in)
{
    struct view v = {b, 0};
    v_puts(&v, "{\"id\":");
    v_json(&v, in->id, strlen(in->id));
    put_str(&v, "rule_id", in->rule_id);
    put_str(&v, "rule_title", in->rule_title);
    put_str(&v, "level", in->level);
    put_str(&v, "author", in->author);
    v_puts(&v, ",\"tags\":");
    put_list(&v, in->tags, in->ntags);
    put_str(&v, "tenant", in->tenant);
    put_str(&v, "group_key", in->group_key);
    put_time(&v, "first_seen", in->first_seen_ns);
    put_time(&v, "last_seen", in->last_seen_ns);
    v_printf(&v, ",\"count\":%llu", (unsigned long long)in->count);
    if (in->distinct_field && *in->distinct_field) {
        put_str(&v, "distinct_field", in->distinct_field);
        v_puts(&v, ",\"distinct\":");
        put_list(&v, in->distinct, in->ndistinct);
        v_printf(&v, ",\"distinct_truncated\":%s", in->distinct_truncated ? "true" : "false");
    }
    put_str(&v, "severity", store_severity_name(in->severity));
    put_str(&v, "status", store_status_name(in->status));
    put_str(&v, "status_by", in->status_by);
    put_time(&v, "status_at", in->status_ns);
    v_puts(&v, ",\"history\":[");
    for (uint32_t i = 0; i < in->nhistory; i++) {
        v_printf(&v, "%s{\"status\":\"%s\",\"from\":\"%s\",\"by\":", i ? "," : "",
                 store_status_name(in->history[i].status),
                 store_status_name(in->history[i].from));
        const char *by = in->history[i].by ? in->history[i].by : "";
        v_json(&v, by, strlen(by));
        put_time(&v, "at", in->history[i].at_ns);
        const char *cm = in->history[i].comment;
        if (cm && *cm) {
            v_puts(&v, ",\"comment\":");
            v_json(&v, cm, strlen(cm));
        }
        v_putc(&v, '}');
    }
    v_putc(&v, ']');
    v_printf(&v, ",\"revision\":%llu", (unsigned long long)in->revision);
    put_time(&v, "created", in->created_ns);
    put_time(&v, "updated", in->updated_ns);
    v_printf(&v, ",\"evidence\":%u,\"evidence_dropped\":%u", in->evidence_next,
             in->evidence_dropped);
    if (in->details && *in->details) {
        /* embedded as JSON when it is valid JSON, else as a string */
        json_error_t je;
        json_t *j = json_loads(in->details, JSON_DECODE_ANY, &je);
        if (j) {
            v_puts(&v, ",\"details\":");
            v_puts(&v, in->details);
            json_decref(j);
        } else {
            put_str(&v, "details", in->details);
        }
    }
    return v.rc;
}

int rt_view_incident(struct ts_buf *b, const struct store_incident *in)
{
    int rc = rt_view_incident_open(b, in);
    return rc ? rc : ts_buf_putc(b, '}');
}

int rt_view_evidence(struct ts_buf *b, const struct store_evidence *ev)
{
    struct view v = {b, 0};
    v_printf(&v, "{\"seq\":%u", ev->seq);
    put_str(&v, "source", ev->source);
    v_printf(&v, ",\"partition\":%d,\"offset\":%lld", ev->partition, (long long)ev->offset);
    put_time(&v, "event_time", ev->event_ns);
    put_time(&v, "stored", ev->stored_ns);
    if (ev->rule_id && *ev->rule_id)
        put_str(&v, "rule_id", ev->rule_id);
    if (ev->raw) {
        v_puts(&v, ",\"raw\":");
        v_json(&v, ev->raw, ev->raw_len);
    }
    if (ev->raw_truncated)
        v_puts(&v, ",\"raw_truncated\":true");
    if (ev->raw_omitted)
        v_puts(&v, ",\"raw_omitted\":true");
    v_putc(&v, '}');
    return v.rc;
}

struct ev_walk {
    struct ts_buf *b;
    struct ts_arena *arena;
    uint64_t n;
};

static int ev_one(void *ctx, const struct store_evidence *ev)
{
    struct ev_walk *w = ctx;
    int rc = w->n ? ts_buf_putc(w->b, ',') : 0;
    rc = rc ? rc : rt_view_evidence(w->b, ev);
    w->n++;
    ts_arena_reset(w->arena);
    return rc;
}

int rt_view_incident_evidence(struct ts_buf *b, struct store_txn *t,
                              const struct store_incident *in, struct ts_arena *arena)
{
    int rc = rt_view_incident_open(b, in);
    rc = rc ? rc : ts_buf_puts(b, ",\"evidence_records\":[");
    struct ev_walk w = {b, arena, 0};
    rc = rc ? rc : store_evidence_foreach(t, in->id, arena, ev_one, &w);
    return rc ? rc : ts_buf_puts(b, "]}");
}
