/* summary.c - periodic monitoring reports (issue 13 part 4): what the store
 * holds for a period - incidents by status, severity, type, tenant and
 * rule, the events in them by tenant and evidence source, response times,
 * escalations delivered, pending, failed and overdue, silent-loss counters
 * of the store, top sources and targets - and the same figures as text
 * (vi/en), JSON (keys that say what they count) or HTML with inline SVG
 * charts. One view for `tocsin summary` and, later, the HTTP API.
 * rt_summary_compute reads in one read transaction of the caller's store
 * (any thread); the result owns its memory. Every table has a cap; what
 * goes beyond it is added to an "(other)" row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/tstime.h"
#include "runtime.h"

#define SUM_ROWS 64 /* rows of one table before "(other)" */
#define SUM_KEY 128 /* bytes of a row's key */
#define SUM_TOP 10  /* rows printed of a top list */

struct sum_row {
    char key[SUM_KEY];
    char extra[SUM_KEY]; /* rules: the title; else "" */
    uint64_t n, events;
};

struct sum_table {
    struct sum_row v[SUM_ROWS + 1]; /* + "(other)" */
    size_t n;
};

struct rt_summary {
    struct rt_summary_opts o;
    uint64_t incidents, events, by_status[STORE_STATUS_COUNT], by_severity[5],
        by_type[ESC_TYPE_COUNT];
    struct sum_table tenants, rules, levels, sources, targets, evsources;
    uint64_t acked, resolved;
    double ack_sum_s, res_sum_s;
    uint64_t esc_delivered, esc_pending, esc_failed, esc_overdue;
    bool overdue_known;
    uint64_t evidence_dropped, late_evidence, distinct_truncated;
    /* the per-period counters of the pipeline (storage counters) */
    bool counted;                    /* the store has them */
    int64_t counted_since;           /* they began then on an older store; 0: always */
    uint64_t ev_total, det_total, loss_total;
    struct sum_table c_evsource, c_evtenant, c_detrule, c_detlevel, c_loss, c_losswhere;
};

static void tab_add(struct sum_table *t, const char *key, size_t klen, const char *extra,
                    uint64_t n, uint64_t events)
{
    if (klen >= SUM_KEY)
        klen = SUM_KEY - 1;
    for (size_t i = 0; i < t->n; i++)
        if (strlen(t->v[i].key) == klen && !memcmp(t->v[i].key, key, klen)) {
            t->v[i].n += n;
            t->v[i].events += events;
            return;
        }
    struct sum_row *r;
    if (t->n < SUM_ROWS) {
        r = &t->v[t->n++];
        memcpy(r->key, key, klen);
        r->key[klen] = '\0';
        snprintf(r->extra, sizeof(r->extra), "%s", extra ? extra : "");
    } else {
        r = &t->v[SUM_ROWS];
        if (!r->key[0])
            snprintf(r->key, sizeof(r->key), "(other)");
    }
    r->n += n;
    r->events += events;
}

static int row_cmp(const void *a, const void *b)
{
    const struct sum_row *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    return strcmp(x->key, y->key);
}

static void tab_sort(struct sum_table *t)
{
    qsort(t->v, t->n, sizeof(t->v[0]), row_cmp);
    if (t->v[SUM_ROWS].n) /* the "(other)" row last */
        t->v[t->n++] = t->v[SUM_ROWS];
}

/* Group keys "k=v,k=v": a source is a value of a key naming the origin
 * (src..., source..., user, client), a target one naming what was hit
 * (dst..., dest..., target..., host, computer, server). */
static void group_parts(struct rt_summary *s, const char *g)
{
    while (g && *g) {
        const char *end = strchr(g, ',');
        size_t len = end ? (size_t)(end - g) : strlen(g);
        const char *eq = memchr(g, '=', len);
        if (eq) {
            size_t kl = (size_t)(eq - g);
            const char *v = eq + 1;
            size_t vl = len - kl - 1;
#define KEY_IS(p) (kl >= sizeof(p) - 1 && !strncmp(g, p, sizeof(p) - 1))
            if (KEY_IS("src") || KEY_IS("source") || KEY_IS("user") || KEY_IS("client"))
                tab_add(&s->sources, v, vl, NULL, 1, 0);
            else if (KEY_IS("dst") || KEY_IS("dest") || KEY_IS("target") || KEY_IS("host") ||
                     KEY_IS("computer") || KEY_IS("server"))
                tab_add(&s->targets, v, vl, NULL, 1, 0);
#undef KEY_IS
        }
        g = end ? end + 1 : NULL;
    }
}

struct walk {
    struct rt_summary *s;
    struct store_txn *t;
    struct ts_arena *ev_arena;
    const char *tenant;
    int rc;
};

static int ev_count(void *ctx, const struct store_evidence *e)
{
    struct walk *w = ctx;
    const char *src = e->source && *e->source ? e->source : "(none)";
    tab_add(&w->s->evsources, src, strlen(src), NULL, 1, 0);
    w->s->late_evidence += e->late;
    return 0;
}

static int on_incident(void *ctx, const struct store_incident *inc)
{
    struct walk *w = ctx;
    struct rt_summary *s = w->s;
    if (w->tenant && strcmp(w->tenant, inc->tenant ? inc->tenant : "") != 0)
        return 0;
    s->incidents++;
    s->events += inc->count;
    if ((unsigned)inc->status < STORE_STATUS_COUNT)
        s->by_status[inc->status]++;
    if (inc->severity < 5)
        s->by_severity[inc->severity]++;
    if (s->o.env && s->o.env->taxonomy) {
        struct esc_class c;
        esc_classify(s->o.env->taxonomy, inc->tags, inc->ntags, &c);
        s->by_type[c.type]++;
    } else {
        s->by_type[ESC_TYPE_OTHER]++;
    }
    const char *tn = inc->tenant && *inc->tenant ? inc->tenant : "(none)";
    tab_add(&s->tenants, tn, strlen(tn), NULL, 1, inc->count);
    const char *rid = inc->rule_id ? inc->rule_id : "?";
    tab_add(&s->rules, rid, strlen(rid), inc->rule_title, 1, inc->count);
    const char *lv = inc->level && *inc->level ? inc->level : "(none)";
    tab_add(&s->levels, lv, strlen(lv), NULL, 1, inc->count);
    group_parts(s, inc->group_key);
    s->evidence_dropped += inc->evidence_dropped;
    s->distinct_truncated += inc->distinct_truncated;
    int64_t created = inc->created_ns ? inc->created_ns : inc->first_seen_ns;
    for (uint32_t i = 0; i < inc->nhistory; i++)
        if (inc->history[i].status == STORE_STATUS_ACKNOWLEDGED ||
            inc->history[i].status == STORE_STATUS_RESOLVED) {
            s->acked++;
            s->ack_sum_s += (double)(inc->history[i].at_ns - created) / 1e9;
            break;
        }
    if (inc->status == STORE_STATUS_RESOLVED && inc->status_ns) {
        s->resolved++;
        s->res_sum_s += (double)(inc->status_ns - created) / 1e9;
    }
    int rc = store_evidence_foreach(w->t, inc->id, w->ev_arena, ev_count, w);
    ts_arena_reset(w->ev_arena);
    if (rc && rc != TS_E_NOTFOUND)
        return w->rc = rc;
    return 0;
}

struct ob_walk {
    struct rt_summary *s;
    struct ts_arena *arena;
};

static int on_outbox(void *ctx, const struct store_outbox *e)
{
    struct ob_walk *w = ctx;
    struct rt_summary *s = w->s;
    if (e->created_ns >= s->o.from_ns && e->created_ns < s->o.to_ns) {
        if (e->state == STORE_OUTBOX_DELIVERED)
            s->esc_delivered++;
        else if (e->state == STORE_OUTBOX_PENDING)
            s->esc_pending++;
        else
            s->esc_failed++;
    }
    ts_arena_reset(w->arena);
    return 0;
}

static int on_deadline(void *ctx, const struct esc_deadline *d)
{
    struct rt_summary *s = ctx;
    s->esc_overdue += d->overdue && d->due->mandatory;
    return 0;
}

/* one stored counter of an hour of the period (tenant-scoped: the
 * tenant's events and detections; losses have no tenant and are left out) */
static int on_counter(void *ctx, const struct store_counter *c)
{
    struct rt_summary *s = ctx;
    if (s->o.tenant && strcmp(s->o.tenant, c->tenant) != 0)
        return 0;
    const char *tn = *c->tenant ? c->tenant : "(none)";
    switch (c->kind) {
    case STORE_COUNTER_EVENTS:
        s->ev_total += c->n;
        tab_add(&s->c_evsource, *c->a ? c->a : "(none)", strlen(*c->a ? c->a : "(none)"), NULL,
                c->n, 0);
        tab_add(&s->c_evtenant, tn, strlen(tn), NULL, c->n, 0);
        break;
    case STORE_COUNTER_DETECTIONS:
        s->det_total += c->n;
        tab_add(&s->c_detrule, c->a, strlen(c->a), c->label, c->n, 0);
        tab_add(&s->c_detlevel, *c->b ? c->b : "(none)", strlen(*c->b ? c->b : "(none)"), NULL,
                c->n, 0);
        break;
    case STORE_COUNTER_LOSS: {
        s->loss_total += c->n;
        tab_add(&s->c_loss, c->a, strlen(c->a), NULL, c->n, 0);
        char k[SUM_KEY];
        snprintf(k, sizeof(k), "%s: %s", c->a, *c->b ? c->b : "-");
        tab_add(&s->c_losswhere, k, strlen(k), NULL, c->n, 0);
        break;
    }
    }
    return 0;
}

int rt_summary_compute(struct store *st, const struct rt_summary_opts *o,
                       struct rt_summary **out, struct ts_err *err)
{
    *out = NULL;
    if (!st || !o || o->to_ns <= o->from_ns)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "summary: the period is empty");
    struct rt_summary *s = calloc(1, sizeof(*s));
    struct ts_arena *arena = NULL, *ev = NULL;
    if (!s || ts_arena_create(&arena, 64u << 10, (size_t)64 << 20) != 0 ||
        ts_arena_create(&ev, 64u << 10, (size_t)64 << 20) != 0) {
        free(s);
        ts_arena_destroy(arena);
        return ts_err_set(err, TS_E_NOMEM, NULL, 0, 0, "summary: out of memory");
    }
    s->o = *o;
    struct store_txn *t = NULL;
    int rc = store_txn_begin(st, STORE_TXN_RDONLY, &t);
    if (!rc) {
        /* the incidents seen in the period: last_seen in [from, to) - the
         * same filter as `tocsin incidents list --since FROM --until TO` */
        struct store_incident_filter f = {.since_ns = o->from_ns, .until_ns = o->to_ns,
                                          .tenant = o->tenant};
        struct walk w = {s, t, ev, NULL, 0};
        rc = store_incident_list(t, &f, arena, on_incident, &w);
        rc = rc ? rc : w.rc;
        ts_arena_reset(arena);
    }
    if (!rc) {
        s->counted = store_counters_present(st);
        s->counted_since = store_counters_since(st);
        rc = store_counters_foreach(t, o->from_ns, o->to_ns, on_counter, s);
    }
    if (!rc) {
        struct ob_walk ow = {s, arena};
        rc = store_outbox_list(t, (1u << STORE_OUTBOX_PENDING) | (1u << STORE_OUTBOX_DELIVERED) |
                                      (1u << STORE_OUTBOX_FAILED),
                               arena, on_outbox, &ow);
        ts_arena_reset(arena);
    }
    if (!rc && o->env && o->env->regime) {
        rc = esc_deadlines_list(o->env, t, o->to_ns, 0, ESC_DL_OVERDUE, on_deadline, s);
        s->overdue_known = rc == 0;
    }
    if (t)
        store_txn_abort(t);
    ts_arena_destroy(arena);
    ts_arena_destroy(ev);
    if (rc) {
        free(s);
        return ts_err_set(err, rc, NULL, 0, 0, "summary: reading the store: %s", ts_strerror(rc));
    }
    tab_sort(&s->tenants);
    tab_sort(&s->rules);
    tab_sort(&s->levels);
    tab_sort(&s->sources);
    tab_sort(&s->targets);
    tab_sort(&s->evsources);
    struct sum_table *ct[] = {&s->c_evsource, &s->c_evtenant, &s->c_detrule, &s->c_detlevel,
                              &s->c_loss, &s->c_losswhere};
    for (size_t i = 0; i < TS_ARRAY_LEN(ct); i++)
        tab_sort(ct[i]);
    *out = s;
    return 0;
}

void rt_summary_free(struct rt_summary *s)
{
    free(s);
}

uint64_t rt_summary_incidents(const struct rt_summary *s)
{
    return s->incidents;
}

/* ---------------------------------------------------------------- period */

int rt_summary_period(const char *kind, int64_t now_ns, int off_sec, int64_t *from,
                      int64_t *to)
{
    int64_t sec = now_ns / TS_NS_PER_SEC + off_sec;
    int64_t day = sec / 86400 - (sec % 86400 < 0 ? 1 : 0);
    int64_t d0, d1;
    if (!strcmp(kind, "day")) { /* yesterday */
        d0 = day - 1;
        d1 = day;
    } else if (!strcmp(kind, "week")) { /* the last full week, Monday to Sunday */
        int64_t wd = ((day % 7) + 7 + 3) % 7; /* 1970-01-01 was a Thursday: 0 = Monday */
        d1 = day - wd;
        d0 = d1 - 7;
    } else if (!strcmp(kind, "month")) { /* the last full calendar month */
        int64_t y;
        unsigned m, d;
        ts_civil_from_days(day, &y, &m, &d);
        d1 = day - (d - 1);
        ts_civil_from_days(d1 - 1, &y, &m, &d);
        d0 = d1 - d;
    } else {
        return TS_E_INVAL;
    }
    *from = (d0 * 86400 - off_sec) * TS_NS_PER_SEC;
    *to = (d1 * 86400 - off_sec) * TS_NS_PER_SEC;
    return 0;
}

/* --------------------------------------------------------------- render */

struct l10n2 {
    const char *vi, *en;
};
#define LG(l, x) ((l) == ESC_LANG_VI ? (x).vi : (x).en)

static const struct l10n2 st_names[STORE_STATUS_COUNT] = {
    {"mới", "new"}, {"đã tiếp nhận", "acknowledged"}, {"đã xử lý xong", "resolved"},
    {"mở lại", "reopened"}};
static const struct l10n2 sev_names[5] = {{"thông tin", "informational"},
                                          {"thấp", "low"},
                                          {"trung bình", "medium"},
                                          {"cao", "high"},
                                          {"nghiêm trọng", "critical"}};

static int json_table_n(struct ts_buf *b, const char *key, const struct sum_table *t,
                        bool events, bool rules, size_t max, const char *nkey)
{
    int rc = ts_buf_printf(b, "\"%s\":[", key);
    for (size_t i = 0; !rc && i < t->n && i < max; i++) {
        rc = ts_buf_puts(b, i ? ",{\"key\":" : "{\"key\":");
        rc = rc ? rc : ts_buf_json_str(b, t->v[i].key, strlen(t->v[i].key));
        if (!rc && rules) {
            rc = ts_buf_puts(b, ",\"title\":");
            rc = rc ? rc : ts_buf_json_str(b, t->v[i].extra, strlen(t->v[i].extra));
        }
        rc = rc ? rc : ts_buf_printf(b, ",\"%s\":%llu", nkey, (unsigned long long)t->v[i].n);
        if (!rc && events)
            rc = ts_buf_printf(b, ",\"events\":%llu", (unsigned long long)t->v[i].events);
        rc = rc ? rc : ts_buf_putc(b, '}');
    }
    return rc ? rc : ts_buf_putc(b, ']');
}

static int json_table(struct ts_buf *b, const char *key, const struct sum_table *t, bool events,
                      bool rules, size_t max)
{
    return json_table_n(b, key, t, events, rules, max, "incidents");
}

static int render_json(const struct rt_summary *s, struct ts_buf *b)
{
    char f[32], t[32];
    ts_format_rfc3339(s->o.from_ns, f, sizeof(f));
    ts_format_rfc3339(s->o.to_ns, t, sizeof(t));
    int rc = ts_buf_printf(b, "{\"schema\":\"tocsin-summary/1\",\"period\":{\"kind\":\"%s\","
                              "\"from\":\"%s\",\"to\":\"%s\"},",
                           s->o.kind ? s->o.kind : "custom", f, t);
    rc = rc ? rc
            : ts_buf_printf(b, "\"incidents\":{\"total\":%llu,\"by_status\":{",
                            (unsigned long long)s->incidents);
    for (int i = 0; !rc && i < STORE_STATUS_COUNT; i++)
        rc = ts_buf_printf(b, "%s\"%s\":%llu", i ? "," : "", store_status_name((enum store_status)i),
                           (unsigned long long)s->by_status[i]);
    rc = rc ? rc : ts_buf_puts(b, "},\"by_severity\":{");
    for (uint8_t i = 0; !rc && i < 5; i++)
        rc = ts_buf_printf(b, "%s\"%s\":%llu", i ? "," : "", store_severity_name(i),
                           (unsigned long long)s->by_severity[i]);
    rc = rc ? rc : ts_buf_puts(b, "},\"by_type\":{");
    for (unsigned i = 0; !rc && i < ESC_TYPE_COUNT; i++)
        rc = ts_buf_printf(b, "%s\"%s\":%llu", i ? "," : "", esc_type_name((enum esc_type)i),
                           (unsigned long long)s->by_type[i]);
    rc = rc ? rc : ts_buf_puts(b, "},");
    rc = rc ? rc : json_table(b, "by_tenant", &s->tenants, true, false, SIZE_MAX);
    rc = rc ? rc : ts_buf_putc(b, ',');
    rc = rc ? rc : json_table(b, "by_rule", &s->rules, true, true, SIZE_MAX);
    rc = rc ? rc : ts_buf_putc(b, ',');
    rc = rc ? rc : json_table(b, "by_level", &s->levels, true, false, SIZE_MAX);
    /* the pipeline's counters (null totals: a store without them) */
    if (!rc && s->counted)
        rc = ts_buf_printf(b, "},\"detections\":{\"total\":%llu,",
                           (unsigned long long)s->det_total);
    else
        rc = rc ? rc : ts_buf_puts(b, "},\"detections\":{\"total\":null,");
    rc = rc ? rc : json_table_n(b, "by_rule", &s->c_detrule, false, true, SIZE_MAX, "detections");
    rc = rc ? rc : ts_buf_putc(b, ',');
    rc = rc ? rc : json_table_n(b, "by_level", &s->c_detlevel, false, false, SIZE_MAX, "detections");
    if (!rc && s->counted)
        rc = ts_buf_printf(b, "},\"events\":{\"total\":%llu,", (unsigned long long)s->ev_total);
    else
        rc = rc ? rc : ts_buf_puts(b, "},\"events\":{\"total\":null,");
    rc = rc ? rc : json_table_n(b, "by_source", &s->c_evsource, false, false, SIZE_MAX, "events");
    rc = rc ? rc : ts_buf_putc(b, ',');
    rc = rc ? rc : json_table_n(b, "by_tenant", &s->c_evtenant, false, false, SIZE_MAX, "events");
    rc = rc ? rc
            : ts_buf_printf(b, ",\"in_incidents_total\":%llu,", (unsigned long long)s->events);
    rc = rc ? rc : json_table(b, "in_incidents_by_tenant", &s->tenants, true, false, SIZE_MAX);
    rc = rc ? rc : ts_buf_putc(b, ',');
    rc = rc ? rc : json_table(b, "evidence_by_source", &s->evsources, false, false, SIZE_MAX);
    rc = rc ? rc : ts_buf_puts(b, "},\"response\":{");
    if (!rc && s->acked)
        rc = ts_buf_printf(b, "\"mean_time_to_acknowledge_s\":%.0f,", s->ack_sum_s / (double)s->acked);
    else
        rc = rc ? rc : ts_buf_puts(b, "\"mean_time_to_acknowledge_s\":null,");
    if (!rc && s->resolved)
        rc = ts_buf_printf(b, "\"mean_time_to_resolve_s\":%.0f,", s->res_sum_s / (double)s->resolved);
    else
        rc = rc ? rc : ts_buf_puts(b, "\"mean_time_to_resolve_s\":null,");
    rc = rc ? rc
            : ts_buf_printf(b, "\"acknowledged\":%llu,\"resolved\":%llu},",
                            (unsigned long long)s->acked, (unsigned long long)s->resolved);
    rc = rc ? rc
            : ts_buf_printf(b, "\"escalations\":{\"delivered\":%llu,\"pending\":%llu,"
                               "\"failed\":%llu,\"overdue\":",
                            (unsigned long long)s->esc_delivered,
                            (unsigned long long)s->esc_pending, (unsigned long long)s->esc_failed);
    rc = rc ? rc
            : s->overdue_known ? ts_buf_printf(b, "%llu},", (unsigned long long)s->esc_overdue)
                               : ts_buf_puts(b, "null},");
    rc = rc ? rc
            : ts_buf_printf(b, "\"silent_loss\":{\"evidence_dropped_at_cap\":%llu,"
                               "\"late_evidence\":%llu,\"incidents_with_values_truncated\":%llu,",
                            (unsigned long long)s->evidence_dropped,
                            (unsigned long long)s->late_evidence,
                            (unsigned long long)s->distinct_truncated);
    /* the pipeline's losses: dead_letter, no_decoder, late, left_out, store_refused */
    static const char *const lk[] = {"dead_letter", "no_decoder", "late", "left_out",
                                     "store_refused"};
    for (size_t i = 0; !rc && i < TS_ARRAY_LEN(lk); i++) {
        uint64_t n = 0;
        for (size_t j = 0; j < s->c_loss.n; j++)
            if (!strcmp(s->c_loss.v[j].key, lk[i]))
                n = s->c_loss.v[j].n;
        rc = s->counted && !s->o.tenant
                 ? ts_buf_printf(b, "\"%s\":%llu,", lk[i], (unsigned long long)n)
                 : ts_buf_printf(b, "\"%s\":null,", lk[i]);
    }
    rc = rc ? rc : json_table_n(b, "by_kind_and_source", &s->c_losswhere, false, false, SIZE_MAX,
                                "events");
    /* losses are stored without a tenant: a tenant's summary cannot say
     * them, and says so rather than 0 */
    rc = rc ? rc : ts_buf_printf(b, ",\"per_tenant\":false");
    /* the counters above (events, detections, losses): whether this store
     * keeps them, and since when it does if it held data before (partial:
     * what was processed earlier is not counted, whatever its event time) */
    if (!rc && !s->counted) {
        rc = ts_buf_puts(b, "},\"counters\":{\"kept\":false,\"since\":null,\"partial\":true");
    } else if (!rc) {
        char since[32] = "";
        if (s->counted_since)
            ts_format_rfc3339(s->counted_since, since, sizeof(since));
        rc = ts_buf_printf(b, "},\"counters\":{\"kept\":true,\"since\":%s%s%s,\"partial\":%s",
                           since[0] ? "\"" : "null", since, since[0] ? "\"" : "",
                           s->counted_since ? "true" : "false");
    }
    rc = rc ? rc : ts_buf_puts(b, "},\"top\":{");
    rc = rc ? rc : json_table(b, "sources", &s->sources, false, false, SUM_TOP);
    rc = rc ? rc : ts_buf_putc(b, ',');
    rc = rc ? rc : json_table(b, "targets", &s->targets, false, false, SUM_TOP);
    return rc ? rc : ts_buf_puts(b, "}}\n");
}

struct labels {
    const char *title, *period, *incidents, *by_status, *by_severity, *by_type, *by_tenant,
        *by_rule, *by_level, *events, *evsources, *response, *mtta, *mttr, *none, *esc,
        *delivered, *pending, *failed, *overdue, *unknown, *loss, *dropped, *late, *trunc,
        *top_src, *top_tgt, *note, *ev_total, *ev_src, *ev_ten, *det_total, *det_rule,
        *det_level, *no_counters, *since, *loss_all, *loss_names[5];
};

static const struct labels lab_vi = {
    "BÁO CÁO TÌNH HÌNH GIÁM SÁT AN NINH MẠNG", "Kỳ báo cáo", "Tổng số sự cố",
    "Sự cố theo trạng thái", "Sự cố theo mức độ", "Sự cố theo loại", "Sự cố theo đơn vị",
    "Sự cố theo luật", "Sự cố theo mức độ của luật", "Số sự kiện trong các sự cố",
    "Chứng cứ theo nguồn nhật ký", "Thời gian xử lý", "Thời gian trung bình đến khi tiếp nhận",
    "Thời gian trung bình đến khi xử lý xong", "không có", "Báo cáo, thông báo đã gửi đi",
    "đã gửi", "đang chờ gửi", "gửi thất bại", "quá hạn", "chưa xác định (thiếu cấu hình chế độ)",
    "Dữ liệu bị bỏ qua (đếm được)", "chứng cứ bị bỏ do vượt giới hạn", "chứng cứ đến muộn",
    "sự cố có danh sách giá trị bị cắt", "Nguồn tấn công nhiều nhất",
    "Đối tượng bị tấn công nhiều nhất",
    "Sự kiện và phát hiện được tính theo giờ xảy ra sự kiện; dữ liệu bị bỏ qua được tính theo giờ "
    "xử lý.",
    "Tổng số sự kiện thu nhận", "Sự kiện theo nguồn", "Sự kiện theo đơn vị", "Tổng số phát hiện",
    "Phát hiện theo luật", "Phát hiện theo mức độ của luật",
    "chưa có số liệu (kho dữ liệu được ghi trước khi có bộ đếm theo kỳ)",
    "Lưu ý: số sự kiện, phát hiện và dữ liệu bị bỏ qua chỉ gồm những gì được xử lý sau khi kho "
    "dữ liệu có bộ đếm theo kỳ, từ",
    "chỉ được đếm chung cho mọi đơn vị, không tách theo từng đơn vị (xem báo cáo không lọc theo đơn vị)",
    {"thông điệp không phân tích được", "sự kiện không bộ giải mã nào đọc được",
     "phát hiện đến muộn quá thời gian cho phép", "phát hiện bị bỏ qua khi tương quan",
     "bản ghi bị kho dữ liệu từ chối"}};
static const struct labels lab_en = {
    "CYBERSECURITY MONITORING REPORT", "Period", "Incidents", "Incidents by status",
    "Incidents by severity", "Incidents by type", "Incidents by tenant", "Incidents by rule",
    "Incidents by rule level", "Events in incidents", "Evidence by log source", "Response",
    "Mean time to acknowledge", "Mean time to resolve", "none", "Escalations sent", "delivered",
    "pending", "failed", "overdue", "unknown (no regime configured)", "Counted losses",
    "evidence dropped at the cap", "late evidence", "incidents with truncated value lists",
    "Top sources", "Top targets",
    "Events and detections are counted in the hour of the event; losses in the hour they "
    "happened.",
    "Events received", "Events by source", "Events by tenant", "Detections",
    "Detections by rule", "Detections by rule level",
    "not counted (the store was written before per-period counters)",
    "Note: events, detections and losses count only what was processed once the store had "
    "per-period counters, from",
    "counted for all tenants together only, not per tenant (see the summary without a tenant)",
    {"messages that could not be parsed", "events no decoder read",
     "detections later than the allowance", "detections left out by correlation",
     "records refused by the store"}};

static int dur(struct ts_buf *b, double s, bool known, const char *none)
{
    if (!known)
        return ts_buf_puts(b, none);
    long long m = (long long)(s / 60.0 + 0.5);
    return ts_buf_printf(b, "%lldh%02lldm", m / 60, m % 60);
}

static int text_rows(struct ts_buf *b, const struct sum_table *t, size_t max, bool titles,
                     const char *none)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < t->n && i < max; i++) {
        rc = ts_buf_puts(b, "   - ");
        rc = rc ? rc : esc_text_escape(b, t->v[i].key, strlen(t->v[i].key));
        if (!rc && titles && t->v[i].extra[0]) {
            rc = ts_buf_puts(b, " (");
            rc = rc ? rc : esc_text_escape(b, t->v[i].extra, strlen(t->v[i].extra));
            rc = rc ? rc : ts_buf_putc(b, ')');
        }
        rc = rc ? rc : ts_buf_printf(b, ": %llu\n", (unsigned long long)t->v[i].n);
    }
    if (!rc && !t->n)
        rc = ts_buf_printf(b, "   %s\n", none);
    return rc;
}

/* "2026-11-20 00:00 +07:00" */
static void local_time(int64_t ns, int off, char buf[48])
{
    int64_t sec = ns / TS_NS_PER_SEC + off;
    int64_t days = sec / 86400 - (sec % 86400 < 0 ? 1 : 0), sod = sec - days * 86400, y;
    unsigned m, d;
    ts_civil_from_days(days, &y, &m, &d);
    int a = off < 0 ? -off : off;
    snprintf(buf, 48, "%04lld-%02u-%02u %02u:%02u %c%02d:%02d", (long long)y, m, d,
             (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), off < 0 ? '-' : '+', a / 3600,
             a / 60 % 60);
}

/* Sigma levels, in words */
static int level_rows(struct ts_buf *b, const struct sum_table *t, enum esc_lang l,
                      const char *none)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < t->n; i++) {
        static const char *const sigma[] = {"informational", "low", "medium", "high", "critical"};
        const char *k = t->v[i].key;
        for (int j = 0; j < 5; j++)
            if (!strcmp(k, sigma[j]))
                k = LG(l, sev_names[j]);
        rc = ts_buf_puts(b, "   - ");
        rc = rc ? rc : esc_text_escape(b, k, strlen(k));
        rc = rc ? rc : ts_buf_printf(b, ": %llu\n", (unsigned long long)t->v[i].n);
    }
    if (!rc && !t->n)
        rc = ts_buf_printf(b, "   %s\n", none);
    return rc;
}

static int render_text(const struct rt_summary *s, enum esc_lang l, struct ts_buf *b)
{
    const struct labels *x = l == ESC_LANG_VI ? &lab_vi : &lab_en;
    char f[48], t[48];
    local_time(s->o.from_ns, s->o.utc_offset_sec, f);
    local_time(s->o.to_ns, s->o.utc_offset_sec, t);
    int rc = ts_buf_printf(b, "%s\n%s: %s - %s\n\n%s: %llu\n%s:\n", x->title, x->period, f, t,
                           x->incidents, (unsigned long long)s->incidents, x->by_status);
    for (int i = 0; !rc && i < STORE_STATUS_COUNT; i++)
        rc = ts_buf_printf(b, "   - %s: %llu\n", LG(l, st_names[i]),
                           (unsigned long long)s->by_status[i]);
    rc = rc ? rc : ts_buf_printf(b, "%s:\n", x->by_severity);
    for (int i = 4; !rc && i >= 0; i--)
        rc = ts_buf_printf(b, "   - %s: %llu\n", LG(l, sev_names[i]),
                           (unsigned long long)s->by_severity[i]);
    rc = rc ? rc : ts_buf_printf(b, "%s:\n", x->by_type);
    for (unsigned i = 0; !rc && i < ESC_TYPE_COUNT; i++)
        if (s->by_type[i])
            rc = ts_buf_printf(b, "   - %s: %llu\n",
                               esc_taxonomy_type_label(s->o.env ? s->o.env->taxonomy : NULL,
                                                       (enum esc_type)i, l),
                               (unsigned long long)s->by_type[i]);
    rc = rc ? rc : ts_buf_printf(b, "%s:\n", x->by_tenant);
    rc = rc ? rc : text_rows(b, &s->tenants, SIZE_MAX, false, x->none);
    rc = rc ? rc : ts_buf_printf(b, "%s:\n", x->by_rule);
    rc = rc ? rc : text_rows(b, &s->rules, SIZE_MAX, true, x->none);
    rc = rc ? rc : ts_buf_printf(b, "%s:\n", x->by_level);
    rc = rc ? rc : level_rows(b, &s->levels, l, x->none);
    /* what the pipeline counted in the period */
    if (!rc && !s->counted) {
        rc = ts_buf_printf(b, "%s: %s\n%s: %s\n", x->ev_total, x->no_counters, x->det_total,
                           x->no_counters);
    } else if (!rc) {
        rc = ts_buf_printf(b, "%s: %llu\n%s:\n", x->ev_total, (unsigned long long)s->ev_total,
                           x->ev_src);
        rc = rc ? rc : text_rows(b, &s->c_evsource, SIZE_MAX, false, x->none);
        rc = rc ? rc : ts_buf_printf(b, "%s:\n", x->ev_ten);
        rc = rc ? rc : text_rows(b, &s->c_evtenant, SIZE_MAX, false, x->none);
        rc = rc ? rc
                : ts_buf_printf(b, "%s: %llu\n%s:\n", x->det_total,
                                (unsigned long long)s->det_total, x->det_rule);
        rc = rc ? rc : text_rows(b, &s->c_detrule, SIZE_MAX, true, x->none);
        rc = rc ? rc : ts_buf_printf(b, "%s:\n", x->det_level);
        rc = rc ? rc : level_rows(b, &s->c_detlevel, l, x->none);
    }
    rc = rc ? rc : ts_buf_printf(b, "%s: %llu\n%s:\n", x->events, (unsigned long long)s->events,
                                 x->evsources);
    rc = rc ? rc : text_rows(b, &s->evsources, SIZE_MAX, false, x->none);
    rc = rc ? rc : ts_buf_printf(b, "%s:\n   - %s: ", x->response, x->mtta);
    rc = rc ? rc : dur(b, s->acked ? s->ack_sum_s / (double)s->acked : 0, s->acked, x->none);
    rc = rc ? rc : ts_buf_printf(b, "\n   - %s: ", x->mttr);
    rc = rc ? rc : dur(b, s->resolved ? s->res_sum_s / (double)s->resolved : 0, s->resolved,
                       x->none);
    rc = rc ? rc
            : ts_buf_printf(b, "\n%s: %s %llu, %s %llu, %s %llu, %s ", x->esc, x->delivered,
                            (unsigned long long)s->esc_delivered, x->pending,
                            (unsigned long long)s->esc_pending, x->failed,
                            (unsigned long long)s->esc_failed, x->overdue);
    rc = rc ? rc
            : s->overdue_known ? ts_buf_printf(b, "%llu\n", (unsigned long long)s->esc_overdue)
                               : ts_buf_printf(b, "%s\n", x->unknown);
    rc = rc ? rc
            : ts_buf_printf(b, "%s: %s %llu, %s %llu, %s %llu\n", x->loss, x->dropped,
                            (unsigned long long)s->evidence_dropped, x->late,
                            (unsigned long long)s->late_evidence, x->trunc,
                            (unsigned long long)s->distinct_truncated);
    /* the pipeline's losses */
    static const char *const lk[] = {"dead_letter", "no_decoder", "late", "left_out",
                                     "store_refused"};
    if (!rc && s->counted && s->o.tenant)
        rc = ts_buf_printf(b, "   - %s\n", x->loss_all);
    for (size_t i = 0; !rc && s->counted && !s->o.tenant && i < TS_ARRAY_LEN(lk); i++) {
        uint64_t n = 0;
        for (size_t j = 0; j < s->c_loss.n; j++)
            if (!strcmp(s->c_loss.v[j].key, lk[i]))
                n = s->c_loss.v[j].n;
        rc = ts_buf_printf(b, "   - %s: %llu\n", x->loss_names[i], (unsigned long long)n);
    }
    rc = rc ? rc : ts_buf_printf(b, "%s:\n", x->top_src);
    rc = rc ? rc : text_rows(b, &s->sources, SUM_TOP, false, x->none);
    rc = rc ? rc : ts_buf_printf(b, "%s:\n", x->top_tgt);
    rc = rc ? rc : text_rows(b, &s->targets, SUM_TOP, false, x->none);
    if (!rc && s->counted && s->counted_since) {
        char at[48];
        local_time(s->counted_since, s->o.utc_offset_sec, at);
        rc = ts_buf_printf(b, "\n%s %s\n", x->since, at);
    }
    return rc ? rc : ts_buf_printf(b, "\n%s\n", x->note);
}

/* HTML: escaped text, charts as inline SVG bars (black on white, labels
 * as text: readable when printed in black and white). */
static int html_esc(struct ts_buf *b, const char *s)
{
    int rc = 0;
    for (; !rc && *s; s++) {
        switch (*s) {
        case '<': rc = ts_buf_puts(b, "&lt;"); break;
        case '>': rc = ts_buf_puts(b, "&gt;"); break;
        case '&': rc = ts_buf_puts(b, "&amp;"); break;
        case '"': rc = ts_buf_puts(b, "&quot;"); break;
        default: rc = ts_buf_putc(b, *s);
        }
    }
    return rc;
}

struct bar {
    const char *label;
    uint64_t n;
};

static int svg_bars(struct ts_buf *b, const char *title, const struct bar *v, size_t n)
{
    uint64_t max = 1;
    for (size_t i = 0; i < n; i++)
        if (v[i].n > max)
            max = v[i].n;
    unsigned h = (unsigned)(n ? n : 1) * 22 + 30;
    int rc = ts_buf_puts(b, "<figure><figcaption>");
    rc = rc ? rc : html_esc(b, title);
    rc = rc ? rc
            : ts_buf_printf(b, "</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" "
                               "width=\"640\" height=\"%u\" role=\"img\">",
                            h);
    for (size_t i = 0; !rc && i < n; i++) {
        unsigned y = 8 + (unsigned)i * 22;
        unsigned w = (unsigned)(v[i].n * 360 / max);
        rc = ts_buf_printf(b, "<text x=\"0\" y=\"%u\" font-size=\"12\">", y + 13);
        char lab[64]; /* a label fits left of the bars: 28 bytes, cut at a character */
        size_t ll = strlen(v[i].label);
        size_t keep = ll > 28 ? ts_utf8_valid_prefix(v[i].label, 28) : ll;
        snprintf(lab, sizeof(lab), "%.*s%s", (int)keep, v[i].label, keep < ll ? "…" : "");
        rc = rc ? rc : html_esc(b, lab);
        rc = rc ? rc
                : ts_buf_printf(b, "</text><rect x=\"200\" y=\"%u\" width=\"%u\" height=\"16\" "
                                   "fill=\"#333\" stroke=\"#000\"/><text x=\"%u\" y=\"%u\" "
                                   "font-size=\"12\">%llu</text>",
                                y, w ? w : 1, 206 + w, y + 13, (unsigned long long)v[i].n);
    }
    return rc ? rc : ts_buf_puts(b, "</svg></figure>\n");
}

static int render_html(const struct rt_summary *s, enum esc_lang l, struct ts_buf *b)
{
    const struct labels *x = l == ESC_LANG_VI ? &lab_vi : &lab_en;
    struct ts_buf txt;
    ts_buf_init(&txt, 1u << 20);
    int rc = render_text(s, l, &txt);
    rc = rc ? rc
            : ts_buf_printf(b, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
                               "<title>",
                            l == ESC_LANG_VI ? "vi" : "en");
    rc = rc ? rc : html_esc(b, x->title);
    rc = rc ? rc
            : ts_buf_puts(b, "</title><style>body{font-family:'Noto Sans','DejaVu Sans',sans-serif;"
                             "color:#000;background:#fff;margin:2em;max-width:760px}"
                             "figure{margin:1em 0;break-inside:avoid}figcaption{font-weight:bold}"
                             "pre{white-space:pre-wrap;font-size:12px}"
                             "@media print{body{margin:0}}</style></head><body><h1>");
    rc = rc ? rc : html_esc(b, x->title);
    rc = rc ? rc : ts_buf_puts(b, "</h1>\n");
    struct bar sev[5], st[STORE_STATUS_COUNT], rules[SUM_TOP], src[SUM_TOP], det[SUM_TOP];
    for (int i = 0; i < 5; i++)
        sev[i] = (struct bar){LG(l, sev_names[4 - i]), s->by_severity[4 - i]};
    for (int i = 0; i < STORE_STATUS_COUNT; i++)
        st[i] = (struct bar){LG(l, st_names[i]), s->by_status[i]};
    size_t nr = 0, ns = 0;
    for (; nr < s->rules.n && nr < SUM_TOP; nr++)
        rules[nr] = (struct bar){s->rules.v[nr].extra[0] ? s->rules.v[nr].extra : s->rules.v[nr].key,
                                 s->rules.v[nr].n};
    for (; ns < s->sources.n && ns < SUM_TOP; ns++)
        src[ns] = (struct bar){s->sources.v[ns].key, s->sources.v[ns].n};
    size_t nd = 0; /* the pipeline's detections (counters), when the store has them */
    for (; s->counted && nd < s->c_detrule.n && nd < SUM_TOP; nd++)
        det[nd] = (struct bar){s->c_detrule.v[nd].extra[0] ? s->c_detrule.v[nd].extra
                                                           : s->c_detrule.v[nd].key,
                               s->c_detrule.v[nd].n};
    rc = rc ? rc : svg_bars(b, x->by_severity, sev, 5);
    rc = rc ? rc : svg_bars(b, x->by_status, st, STORE_STATUS_COUNT);
    rc = rc ? rc : svg_bars(b, x->by_rule, rules, nr);
    rc = rc ? rc : svg_bars(b, x->top_src, src, ns);
    if (!rc && s->counted)
        rc = svg_bars(b, x->det_rule, det, nd);
    rc = rc ? rc : ts_buf_puts(b, "<pre>");
    rc = rc ? rc : html_esc(b, txt.data ? txt.data : "");
    rc = rc ? rc : ts_buf_puts(b, "</pre></body></html>\n");
    ts_buf_free(&txt);
    return rc;
}

int rt_summary_render(const struct rt_summary *s, enum rt_summary_format f, enum esc_lang l,
                      struct ts_buf *out)
{
    switch (f) {
    case RT_SUMMARY_JSON:
        return render_json(s, out);
    case RT_SUMMARY_TEXT:
        return render_text(s, l, out);
    case RT_SUMMARY_HTML:
        return render_html(s, l, out);
    }
    return TS_E_INVAL;
}

/* ------------------------------------------------------------- schedule */

struct put_ctx {
    const char *id, *incident, *recipient, *channel;
    const struct ts_buf *payload;
    bool queued;
};

static int put_once(struct store_txn *t, void *ctx)
{
    struct put_ctx *p = ctx;
    struct ts_arena *a = NULL;
    int rc = ts_arena_create(&a, 4096, (size_t)STORE_PAYLOAD_MAX * 2);
    if (rc)
        return rc;
    struct store_outbox have;
    rc = store_outbox_get(t, p->id, a, &have);
    ts_arena_destroy(a);
    p->queued = false;
    if (rc == 0)
        return 0; /* this period's report is in the outbox already */
    if (rc != TS_E_NOTFOUND)
        return rc;
    struct store_outbox e = {.id = p->id, .incident_id = p->incident, .revision = 1,
                             .recipient = p->recipient, .channel = p->channel,
                             .payload = p->payload->data, .payload_len = p->payload->len};
    rc = store_outbox_put(t, &e);
    p->queued = rc == 0;
    return rc;
}

int rt_summary_queue(struct store *st, const struct esc_env *env, const char *kind,
                     int64_t now_ns, int off_sec, bool *queued, struct ts_err *err)
{
    *queued = false;
    if (!st || !env || !env->regime || !kind)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "summary: no escalation configuration");
    struct rt_summary_opts o = {.kind = kind, .utc_offset_sec = off_sec, .env = env};
    if (rt_summary_period(kind, now_ns, off_sec, &o.from_ns, &o.to_ns) != 0)
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "summary: unknown period \"%s\"", kind);
    /* the managing body of the regime (the role, first of them) */
    const char *rcpt = esc_regime_managing_body(env->regime);
    if (!rcpt)
        return ts_err_set(err, TS_E_CONFIG, NULL, 0, 0,
                          "summary: regime %s names no managing body to send it to",
                          esc_regime_id(env->regime));
    char incident[96], id[STORE_ID_MAX + 1];
    snprintf(incident, sizeof(incident), "summary:%s:%lld", kind,
             (long long)(o.from_ns / TS_NS_PER_SEC));
    snprintf(id, sizeof(id), "%s:1:%s:summary", incident, rcpt);
    /* Known already: nothing to compute (checked again under the write lock). */
    struct store_txn *t = NULL;
    int rc = store_txn_begin(st, STORE_TXN_RDONLY, &t);
    if (!rc) {
        struct ts_arena *a = NULL;
        rc = ts_arena_create(&a, 4096, (size_t)STORE_PAYLOAD_MAX * 2);
        struct store_outbox have;
        int g = rc ? rc : store_outbox_get(t, id, a, &have);
        ts_arena_destroy(a);
        store_txn_abort(t);
        if (g == 0)
            return 0;
        if (g != TS_E_NOTFOUND)
            return ts_err_set(err, g, NULL, 0, 0, "summary: outbox: %s", ts_strerror(g));
    } else {
        return ts_err_set(err, rc, NULL, 0, 0, "summary: store: %s", ts_strerror(rc));
    }
    struct rt_summary *s = NULL;
    if ((rc = rt_summary_compute(st, &o, &s, err)) != 0)
        return rc;
    struct ts_buf body, txt;
    ts_buf_init(&body, STORE_PAYLOAD_MAX);
    ts_buf_init(&txt, STORE_PAYLOAD_MAX / 2);
    rc = ts_buf_printf(&body, "{\"schema\":\"tocsin-summary-delivery/1\",\"report_id\":\"%s\","
                              "\"recipient\":\"%s\",\"summary\":",
                       id, rcpt);
    rc = rc ? rc : render_json(s, &body);
    if (!rc && body.len && body.data[body.len - 1] == '\n')
        body.data[--body.len] = '\0';
    rc = rc ? rc : render_text(s, ESC_LANG_VI, &txt);
    rc = rc ? rc : ts_buf_puts(&body, ",\"text_vi\":");
    rc = rc ? rc : ts_buf_json_str(&body, txt.data, txt.len);
    rc = rc ? rc : ts_buf_puts(&body, "}");
    rt_summary_free(s);
    ts_buf_free(&txt);
    if (rc) {
        ts_buf_free(&body);
        return ts_err_set(err, rc, NULL, 0, 0, "summary: the report exceeds the outbox payload "
                                               "cap");
    }
    struct put_ctx p = {id, incident, rcpt, esc_env_channel(env, NULL, rcpt), &body,
                        false};
    rc = store_txn_run(st, put_once, &p, err);
    ts_buf_free(&body);
    *queued = !rc && p.queued;
    return rc;
}
