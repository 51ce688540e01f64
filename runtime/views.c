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
        v_printf(&v, "%s{\"status\":\"%s\",\"by\":", i ? "," : "",
                 store_status_name(in->history[i].status));
        const char *by = in->history[i].by ? in->history[i].by : "";
        v_json(&v, by, strlen(by));
        put_time(&v, "at", in->history[i].at_ns);
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
 * completed a window, not of the entries before it). One file open at a
 * time, read forwards (gzip or plain, as replay reads them); a line is cut
 * at RT_READBACK_LINE bytes, and at most RT_READBACK_LINES lines are read
 * per view. */
#define RT_READBACK_LINE ((size_t)64 << 10)
#define RT_READBACK_LINES 1000000u

struct ev_walk {
    struct ts_buf *b;
    struct ts_arena *arena;
    uint64_t n;
    gzFile f;          /* the source being read back, or NULL */
    char *path;        /* its name as stored (owned) */
    int64_t line;      /* lines read so far */
    uint64_t budget;   /* lines left to read */
    char *buf;         /* RT_READBACK_LINE + 1 bytes, allocated on first use */
    char why[200];     /* why the last read back failed */
};

static void walk_close(struct ev_walk *w)
{
    if (w->f)
        gzclose(w->f);
    w->f = NULL;
    free(w->path);
    w->path = NULL;
    w->line = 0;
}

/* Line `want` (1-based) of source into w->buf; its length, or -1 (w->why). */
static long read_back(struct ev_walk *w, const char *source, int64_t want)
{
    if (!w->buf && !(w->buf = malloc(RT_READBACK_LINE + 1))) {
        snprintf(w->why, sizeof(w->why), "out of memory");
        return -1;
    }
    if (!w->path || strcmp(w->path, source) != 0 || want <= w->line) {
        walk_close(w);
        struct stat sb;
        if (stat(source, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            snprintf(w->why, sizeof(w->why), "not kept, and the source file cannot be read "
                     "here: %s", errno ? strerror(errno) : "not a regular file");
            return -1;
        }
        if (!(w->f = gzopen(source, "rb")) || !(w->path = strdup(source))) {
            snprintf(w->why, sizeof(w->why), "not kept, and the source file cannot be read "
                     "here: %s", strerror(errno));
            walk_close(w);
            return -1;
        }
    }
    while (w->line < want) {
        if (w->budget == 0) {
            snprintf(w->why, sizeof(w->why), "not kept (read-back limit of %u lines reached)",
                     RT_READBACK_LINES);
            return -1;
        }
        w->budget--;
        size_t len = 0;
        bool eol = false;
        /* one line, however long: the first RT_READBACK_LINE bytes kept */
        for (;;) {
            char chunk[4096];
            if (!gzgets(w->f, chunk, sizeof(chunk)))
                break;
            size_t n = strlen(chunk);
            eol = n && chunk[n - 1] == '\n';
            if (w->line + 1 == want && len < RT_READBACK_LINE) {
                size_t take = n > RT_READBACK_LINE - len ? RT_READBACK_LINE - len : n;
                memcpy(w->buf + len, chunk, take);
                len += take;
            }
            if (eol)
                break;
        }
        if (!eol && len == 0 && gzeof(w->f)) {
            snprintf(w->why, sizeof(w->why), "not kept, and the source file has fewer lines "
                     "now (%lld): it changed since", (long long)w->line);
            walk_close(w);
            return -1;
        }
        w->line++;
        if (w->line == want) {
            while (len && (w->buf[len - 1] == '\n' || w->buf[len - 1] == '\r'))
                len--;
            w->buf[len] = '\0';
            return (long)len;
        }
    }
    return -1;
}

static int ev_one(void *ctx, const struct store_evidence *ev)
{
    struct ev_walk *w = ctx;
    int rc = w->n ? ts_buf_putc(w->b, ',') : 0;
    rc = rc ? rc : rt_view_evidence(w->b, ev);
    /* the text the store did not keep: read back from a file source */
    if (!rc && !ev->raw && ev->partition < 0 && ev->source && *ev->source && ev->offset > 0 &&
        strcmp(ev->source, "-") != 0) {
        w->b->len--; /* reopen the object */
        long n = read_back(w, ev->source, ev->offset);
        struct view v = {w->b, 0};
        if (n >= 0) {
            v_puts(&v, ",\"raw\":");
            v_json(&v, w->buf, (size_t)n);
            v_puts(&v, ",\"raw_from_source\":true");
        } else {
            put_str(&v, "raw_unavailable", w->why);
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
    struct ev_walk w = {b, arena, 0, NULL, NULL, 0, RT_READBACK_LINES, NULL, ""};
    rc = rc ? rc : store_evidence_foreach(t, in->id, arena, ev_one, &w);
    walk_close(&w);
    free(w.buf);
    return rc ? rc : ts_buf_puts(b, "]}");
}

/* ------------------------------------------------- ids by unique prefix */

struct prefix_walk {
    const char *given;
    size_t len;
    char first[33];
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

int rt_incident_resolve(struct store_txn *t, const char *given, char out[33], char *msg,
                        size_t msglen)
{
    size_t len = strlen(given);
    if (msglen)
        msg[0] = '\0';
    if (len == 0 || len > 32 || strspn(given, "0123456789abcdefABCDEF") != len) {
        snprintf(msg, msglen, "\"%s\" is not an incident id (32 hex digits, or a unique "
                 "prefix of one)", given);
        return TS_E_INVAL;
    }
    struct ts_arena *a = NULL;
    int rc = ts_arena_create(&a, 16 << 10, 64u << 20);
    if (rc)
        return rc;
    struct store_incident in;
    if (len == 32 && (rc = store_incident_get(t, given, a, &in)) != TS_E_NOTFOUND) {
        if (!rc)
            snprintf(out, 33, "%s", in.id);
        ts_arena_destroy(a);
        return rc;
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
    snprintf(out, 33, "%s", p.first);
    return 0;
}
