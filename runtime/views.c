/* views.c - the JSON views of stored incidents and evidence (runtime.h),
 * shared by `tocsin incidents` and the HTTP API. Stateless; any thread.
 * Every append goes through one writer that keeps the first error, so a
 * view either is complete or says why not. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

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

/* Reading evidence lines back from their source file when the store did not
 * keep the text (the correlation engine keeps the text of the event that
 * completed a window, not of the entries before it). */
#define RT_READBACK_LINE ((size_t)64 << 10)
#define RT_READBACK_LINES 1000000u

struct rt_readback {
    gzFile f;          /* the source being read back, or NULL */
    char *path;        /* its name (owned) */
    int64_t line;      /* lines read so far */
    uint64_t budget;   /* lines left to read */
    char buf[RT_READBACK_LINE + 1];
    char why[200];     /* why the last read back failed */
};

struct rt_readback *rt_readback_new(void)
{
    struct rt_readback *rb = calloc(1, sizeof(*rb));
    if (rb)
        rb->budget = RT_READBACK_LINES;
    return rb;
}

static void rb_close(struct rt_readback *rb)
{
    if (rb->f)
        gzclose(rb->f);
    rb->f = NULL;
    free(rb->path);
    rb->path = NULL;
    rb->line = 0;
}

void rt_readback_free(struct rt_readback *rb)
{
    if (!rb)
        return;
    rb_close(rb);
    free(rb);
}

const char *rt_readback_line(struct rt_readback *rb, const char *path, int64_t want,
                             size_t *outlen, const char **why)
{
    *why = rb->why;
    if (want <= 0) {
        snprintf(rb->why, sizeof(rb->why), "not kept (no line number)");
        return NULL;
    }
    if (!rb->path || strcmp(rb->path, path) != 0 || want <= rb->line) {
        rb_close(rb);
        struct stat sb;
        errno = 0;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            snprintf(rb->why, sizeof(rb->why), "not kept, and the source file cannot be read "
                     "here: %s", errno ? strerror(errno) : "not a regular file");
            return NULL;
        }
        if (!(rb->f = gzopen(path, "rb")) || !(rb->path = strdup(path))) {
            snprintf(rb->why, sizeof(rb->why), "not kept, and the source file cannot be read "
                     "here: %s", strerror(errno));
            rb_close(rb);
            return NULL;
        }
    }
    while (rb->line < want) {
        if (rb->budget == 0) {
            snprintf(rb->why, sizeof(rb->why), "not kept (read-back limit of %u lines reached)",
                     RT_READBACK_LINES);
            return NULL;
        }
        rb->budget--;
        size_t len = 0;
        bool eol = false, any = false;
        /* one line, however long: the first RT_READBACK_LINE bytes kept */
        for (;;) {
            char chunk[4096];
            if (!gzgets(rb->f, chunk, sizeof(chunk)))
                break;
            any = true;
            size_t n = strlen(chunk);
            eol = n && chunk[n - 1] == '\n';
            if (rb->line + 1 == want && len < RT_READBACK_LINE) {
                size_t take = n > RT_READBACK_LINE - len ? RT_READBACK_LINE - len : n;
                memcpy(rb->buf + len, chunk, take);
                len += take;
            }
            if (eol)
                break;
        }
        if (!any) {
            snprintf(rb->why, sizeof(rb->why), "not kept, and the source file has fewer lines "
                     "now (%lld): it changed since", (long long)rb->line);
            rb_close(rb);
            return NULL;
        }
        rb->line++;
        if (rb->line == want) {
            while (len && (rb->buf[len - 1] == '\n' || rb->buf[len - 1] == '\r'))
                len--;
            rb->buf[len] = '\0';
            *outlen = len;
            return rb->buf;
        }
    }
    return NULL;
}

struct ev_walk {
    struct ts_buf *b;
    struct ts_arena *arena;
    uint64_t n;
    struct rt_readback *rb; /* created on first use */
};

static int ev_one(void *ctx, const struct store_evidence *ev)
{
    struct ev_walk *w = ctx;
    int rc = w->n ? ts_buf_putc(w->b, ',') : 0;
    rc = rc ? rc : rt_view_evidence(w->b, ev);
    /* the text the store did not keep: read back from a file source */
    if (!rc && !ev->raw && ev->partition < 0 && ev->source && *ev->source && ev->offset > 0 &&
        strcmp(ev->source, "-") != 0) {
        w->b->len--; /* reopen the object */
        size_t n = 0;
        const char *why = "out of memory";
        const char *line = NULL;
        if (w->rb || (w->rb = rt_readback_new()) != NULL)
            line = rt_readback_line(w->rb, ev->source, ev->offset, &n, &why);
        struct view v = {w->b, 0};
        if (line) {
            v_puts(&v, ",\"raw\":");
            v_json(&v, line, n);
            v_puts(&v, ",\"raw_from_source\":true");
        } else {
            put_str(&v, "raw_unavailable", why);
        }
        v_putc(&v, '}');
        rc = v.rc;
    } else if (!rc && !ev->raw) {
        w->b->len--;
        struct view v = {w->b, 0};
        put_str(&v, "raw_unavailable", ev->partition < 0 && (!ev->source || !*ev->source ||
                                                             strcmp(ev->source, "-") == 0)
                                           ? "not kept (read from stdin)"
                                           : "not kept by the store (evidence_raw_max)");
        v_putc(&v, '}');
        rc = v.rc;
    }
    w->n++;
    ts_arena_reset(w->arena);
    return rc;
}

int rt_view_incident_evidence(struct ts_buf *b, struct store_txn *t,
                              const struct store_incident *in, struct ts_arena *arena)
{
    int rc = rt_view_incident_open(b, in);
    rc = rc ? rc : ts_buf_puts(b, ",\"evidence_records\":[");
    struct ev_walk w = {b, arena, 0, NULL};
    rc = rc ? rc : store_evidence_foreach(t, in->id, arena, ev_one, &w);
    rt_readback_free(w.rb);
    return rc ? rc : ts_buf_puts(b, "]}");
}

/* ------------------------------------------------- ids by unique prefix */

struct prefix_walk {
    const char *given;
    size_t len;
    char first[STORE_ID_MAX + 1];
    size_t n;
    char *msg;
    size_t msglen, used;
};

static int prefix_one(void *ctx, const struct store_incident *in)
{
    struct prefix_walk *p = ctx;
    if (strncasecmp(in->id, p->given, p->len) != 0)
        return 0;
    if (p->n++ == 0)
        snprintf(p->first, sizeof(p->first), "%s", in->id);
    if (p->n <= 10 && p->used < p->msglen) {
        int k = snprintf(p->msg + p->used, p->msglen - p->used, "%s%s (%s)",
                         p->n == 1 ? "" : ", ", in->id, in->rule_title ? in->rule_title : "");
        if (k > 0)
            p->used += (size_t)k;
    }
    return 0;
}

int rt_incident_resolve(struct store_txn *t, const char *given, char out[STORE_ID_MAX + 1],
                        char *msg, size_t msglen)
{
    size_t len = strlen(given);
    if (msglen)
        msg[0] = '\0';
    if (len == 0 || len > STORE_ID_MAX) {
        snprintf(msg, msglen, "\"%.*s\" is not an incident id (32 hex digits, or a unique "
                 "prefix of one)", 64, given);
        return TS_E_INVAL;
    }
    struct ts_arena *a = NULL;
    int rc = ts_arena_create(&a, 16 << 10, 64u << 20);
    if (rc)
        return rc;
    struct store_incident in;
    /* the id in full (any id the store has) */
    if ((rc = store_incident_get(t, given, a, &in)) != TS_E_NOTFOUND) {
        if (!rc)
            snprintf(out, STORE_ID_MAX + 1, "%s", in.id);
        ts_arena_destroy(a);
        return rc;
    }
    if (len >= 32 || strspn(given, "0123456789abcdefABCDEF") != len) {
        ts_arena_destroy(a);
        snprintf(msg, msglen, "no incident \"%s\"", given);
        return TS_E_NOTFOUND;
    }
    char list[1024] = "";
    struct prefix_walk p = {.given = given, .len = len, .msg = list, .msglen = sizeof(list)};
    struct store_incident_filter f = {0};
    rc = store_incident_list(t, &f, a, prefix_one, &p);
    ts_arena_destroy(a);
    if (rc)
        return rc;
    if (p.n == 0) {
        snprintf(msg, msglen, "no incident \"%s\"", given);
        return TS_E_NOTFOUND;
    }
    if (p.n > 1) {
        snprintf(msg, msglen, "incident id prefix \"%s\" is ambiguous: %zu incidents start "
                 "with it: %s%s; give more digits", given, p.n, list, p.n > 10 ? ", ..." : "");
        return TS_E_INVAL;
    }
    snprintf(out, STORE_ID_MAX + 1, "%s", p.first);
    return 0;
}
