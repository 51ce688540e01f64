/* api.c - the endpoints: API v1 over the incident store (list with
 * filters and cursor pages, one incident with its evidence, status
 * changes, escalations, reports, escalation retry), the runtime's hooks
 * (rules), /metrics, /healthz, /readyz. docs/api.md is the reference.
 *
 * Each handler runs on a request thread with its own struct http_req
 * (arena, output buffer) and its own store transactions: a short read
 * transaction, or one write transaction through store_txn_run (never a
 * read transaction held across a write). Tenancy: an incident the token
 * may not see is answered exactly as one that does not exist (404). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/event.h"
#include "../core/log.h"
#include "../core/tstime.h"
#include "../escalate/escalate.h"
#include "../runtime/runtime.h"
#include "../storage/storage.h"
#include "http_int.h"

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 1000
#define SCAN_MAX 200000u      /* incidents looked at by one list request */
#define COMMENT_MAX STORE_COMMENT_MAX
#define METRIC_TENANTS_MAX 10000 /* distinct tenants in tocsin_incidents */

static const char not_found[] = "no such incident";

/* ------------------------------------------------------------------ util */

/* RFC 3339, or an age before now: 90s, 30m, 24h, 7d, 2w. */
static int parse_time(const char *s, int64_t *out)
{
    if (*s >= '0' && *s <= '9') {
        char *end;
        long long v = strtoll(s, &end, 10);
        int64_t mul = !strcmp(end, "s")   ? 1
                      : !strcmp(end, "m") ? 60
                      : !strcmp(end, "h") ? 3600
                      : !strcmp(end, "d") ? 86400
                      : !strcmp(end, "w") ? 7 * 86400
                                          : 0;
        if (mul && v >= 0 && v < 100LL * 365 * 86400 / mul) {
            *out = ts_now_ns() - (int64_t)v * mul * TS_NS_PER_SEC;
            return 0;
        }
    }
    size_t used, n = strlen(s);
    int64_t ns;
    if (ts_parse_iso8601(s, n, 0, &ns, &used) == 0 && used == n) {
        *out = ns;
        return 0;
    }
    return TS_E_INVAL;
}

static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    return n > 0 && n <= STORE_ID_MAX;
}

/* A store error as a 500 (or 503 when the map is full). */
static int store_fail(struct http_req *r, struct store_txn *t, int rc)
{
    const char *msg = t && store_txn_error(t) ? store_txn_errmsg(t) : store_strerror(rc);
    ts_error("http: %s %s: store: %s", r->method, r->path, msg);
    return http_req_error(r, rc == TS_E_LIMIT ? 503 : 500, "store: %s", store_strerror(rc));
}

static int need_store(struct http_req *r, struct store **s)
{
    *s = http_req_store(r);
    if (!*s)
        http_req_error(r, 503, "no incident store is open in this process");
    return *s ? 0 : TS_E_NOTFOUND;
}

static bool icontains(const char *hay, const char *needle)
{
    if (!hay)
        return false;
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (!strncasecmp(p, needle, n))
            return true;
    return !n;
}

/* Read the incident id as this token may see it: TS_E_NOTFOUND when it
 * does not exist or belongs to another tenant. */
static int get_visible(struct http_req *r, struct store_txn *t, const char *id,
                       struct ts_arena *a, struct store_incident *in)
{
    if (!id_ok(id))
        return TS_E_NOTFOUND;
    int rc = store_incident_get(t, id, a, in);
    if (!rc && !http_token_tenant_ok(r->tok, in->tenant))
        rc = TS_E_NOTFOUND;
    return rc;
}

/* ---------------------------------------------------------- public routes */

static int h_healthz(struct http_req *r)
{
    r->content_type = "text/plain; charset=utf-8";
    return ts_buf_puts(&r->out, "ok\n");
}

static int h_readyz(struct http_req *r)
{
    r->content_type = "text/plain; charset=utf-8";
    const struct http_hooks *h = http_req_hooks(r);
    char reason[256] = "";
    int not_ready;
    if (h->ready) {
        not_ready = h->ready(h->ctx, reason, sizeof(reason));
    } else {
        struct store *s = http_req_store(r);
        struct store_txn *t = NULL;
        not_ready = !s || store_txn_begin(s, STORE_TXN_RDONLY, &t) != 0;
        store_txn_abort(t);
        snprintf(reason, sizeof(reason), "%s", s ? "the store cannot be read" : "no store");
    }
    if (!not_ready)
        return ts_buf_puts(&r->out, "ready\n");
    r->status = 503;
    reason[sizeof(reason) - 1] = '\0';
    return ts_buf_printf(&r->out, "not ready: %s\n", reason[0] ? reason : "(no reason given)");
}

/* --------------------------------------------------------------- metrics */

struct tenant_counts {
    char tenant[TS_TENANT_MAX + 1];
    uint64_t c[STORE_STATUS_COUNT][5]; /* [status][severity] */
    bool used;
};

struct inc_scan {
    struct tenant_counts *v; /* open addressing, cap slots */
    size_t cap, n;
    struct tenant_counts other;
    struct ts_arena *arena;
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int scan_incident(void *ctx, const struct store_incident *in)
{
    struct inc_scan *sc = ctx;
    const char *tn = in->tenant ? in->tenant : "";
    size_t j = fnv(tn) & (sc->cap - 1);
    while (sc->v[j].used && strcmp(sc->v[j].tenant, tn))
        j = (j + 1) & (sc->cap - 1);
    struct tenant_counts *tc = &sc->v[j];
    if (!tc->used) {
        if (sc->n >= METRIC_TENANTS_MAX || strlen(tn) > TS_TENANT_MAX) {
            tc = &sc->other;
        } else {
            tc->used = true;
            snprintf(tc->tenant, sizeof(tc->tenant), "%s", tn);
            sc->n++;
        }
    }
    if ((unsigned)in->status < STORE_STATUS_COUNT && in->severity < 5)
        tc->c[in->status][in->severity]++;
    ts_arena_reset(sc->arena);
    return 0;
}

static int cmp_tenant(const void *a, const void *b)
{
    const struct tenant_counts *x = a, *y = b;
    if (x->used != y->used)
        return x->used ? -1 : 1;
    return strcmp(x->tenant, y->tenant);
}

struct outbox_scan {
    uint64_t by_state[3];
    uint64_t due;
    int64_t oldest_due;
    int64_t now;
    struct ts_arena *arena;
};

static int scan_outbox(void *ctx, const struct store_outbox *e)
{
    struct outbox_scan *o = ctx;
    if ((unsigned)e->state < 3)
        o->by_state[e->state]++;
    if (e->state == STORE_OUTBOX_PENDING && e->next_attempt_ns <= o->now) {
        o->due++;
        if (!o->oldest_due || e->next_attempt_ns < o->oldest_due)
            o->oldest_due = e->next_attempt_ns;
    }
    ts_arena_reset(o->arena);
    return 0;
}

struct overdue_scan {
    struct {
        char recipient[ESC_ID_MAX + 1];
        uint64_t n;
    } v[ESC_RECIPIENTS_MAX + 1];
    size_t n;
};

static int scan_overdue(void *ctx, const struct esc_deadline *d)
{
    struct overdue_scan *o = ctx;
    size_t i = 0;
    while (i < o->n && strcmp(o->v[i].recipient, d->due->recipient))
        i++;
    if (i == o->n) {
        if (o->n == TS_ARRAY_LEN(o->v))
            return 0;
        snprintf(o->v[i].recipient, sizeof(o->v[i].recipient), "%s", d->due->recipient);
        o->n++;
    }
    o->v[i].n++;
    return 0;
}

/* The store-side series: incidents, outbox, overdue reports, LMDB map. */
static int store_series(struct http_req *r, struct ts_buf *b)
{
    struct store *s = http_req_store(r);
    if (!s)
        return 0;
    int64_t t0 = ts_mono_ns();
    struct inc_scan sc = {0};
    struct outbox_scan ob = {0};
    struct overdue_scan od = {0};
    ob.now = ts_now_ns();
    sc.cap = 1u << 15; /* > 2 * METRIC_TENANTS_MAX, a power of two */
    struct store_txn *t = NULL;
    int rc = ts_arena_create(&sc.arena, 64u << 10, (size_t)64 << 20);
    if (!rc && !(sc.v = calloc(sc.cap, sizeof(*sc.v))))
        rc = TS_E_NOMEM;
    rc = rc ? rc : store_txn_begin(s, STORE_TXN_RDONLY, &t);
    struct store_incident_filter f = {0};
    rc = rc ? rc : store_incident_list(t, &f, sc.arena, scan_incident, &sc);
    ob.arena = sc.arena;
    rc = rc ? rc : store_outbox_list(t, 7u, sc.arena, scan_outbox, &ob);
    const struct esc_env *env = http_req_esc(r);
    bool overdue = env && env->regime;
    if (!rc && overdue) {
        ts_arena_reset(sc.arena);
        rc = esc_deadlines_list(env, t, ob.now, 0, ESC_DL_OVERDUE, scan_overdue, &od);
    }
    store_txn_abort(t);
    if (rc) {
        ts_error("http: metrics: store: %s", store_strerror(rc));
        free(sc.v);
        ts_arena_destroy(sc.arena);
        return rc;
    }
    qsort(sc.v, sc.cap, sizeof(*sc.v), cmp_tenant);
    rc = http_metric_family(b, "tocsin_incidents", "gauge",
                            "Incidents in the store by tenant, status and severity");
    for (size_t i = 0; i <= sc.n && !rc; i++) {
        const struct tenant_counts *tc = i < sc.n ? &sc.v[i] : &sc.other;
        const char *tn = i < sc.n ? tc->tenant : "(other)";
        for (unsigned st = 0; st < STORE_STATUS_COUNT && !rc; st++)
            for (uint8_t sv = 0; sv < 5 && !rc; sv++) {
                if (!tc->c[st][sv])
                    continue;
                struct http_label l[] = {{"tenant", tn},
                                         {"status", store_status_name((enum store_status)st)},
                                         {"severity", store_severity_name(sv)}};
                rc = http_metric_u64(b, "tocsin_incidents", l, 3, tc->c[st][sv]);
            }
    }
    free(sc.v);
    ts_arena_destroy(sc.arena);
    rc = rc ? rc : http_metric_family(b, "tocsin_outbox_entries", "gauge",
                                      "Escalation outbox entries by delivery state");
    for (unsigned st = 0; st < 3 && !rc; st++) {
        struct http_label l = {"state", store_outbox_state_name((enum store_outbox_state)st)};
        rc = http_metric_u64(b, "tocsin_outbox_entries", &l, 1, ob.by_state[st]);
    }
    rc = rc ? rc : http_metric_family(b, "tocsin_outbox_due_entries", "gauge",
                                      "Pending outbox entries whose attempt is due now");
    rc = rc ? rc : http_metric_u64(b, "tocsin_outbox_due_entries", NULL, 0, ob.due);
    rc = rc ? rc : http_metric_family(b, "tocsin_outbox_oldest_due_seconds", "gauge",
                                      "How long the oldest due outbox entry has waited");
    rc = rc ? rc : http_metric_double(b, "tocsin_outbox_oldest_due_seconds", NULL, 0,
                                      ob.oldest_due ? (double)(ob.now - ob.oldest_due) / 1e9
                                                    : 0.0);
    if (overdue) {
        rc = rc ? rc : http_metric_family(b, "tocsin_reports_overdue", "gauge",
                                          "Reports owed under the regime, past their deadline "
                                          "and not delivered, by recipient");
        for (size_t i = 0; i < od.n && !rc; i++) {
            struct http_label l = {"recipient", od.v[i].recipient};
            rc = http_metric_u64(b, "tocsin_reports_overdue", &l, 1, od.v[i].n);
        }
    }
    struct store_map_info mi;
    store_map_info(s, &mi);
    rc = rc ? rc : http_metric_family(b, "tocsin_store_map_size_bytes", "gauge",
                                      "LMDB map size (grows on demand up to the max)");
    rc = rc ? rc : http_metric_u64(b, "tocsin_store_map_size_bytes", NULL, 0, mi.map_size);
    rc = rc ? rc : http_metric_family(b, "tocsin_store_map_max_bytes", "gauge",
                                      "LMDB map size cap of this process");
    rc = rc ? rc : http_metric_u64(b, "tocsin_store_map_max_bytes", NULL, 0, mi.map_max);
    rc = rc ? rc : http_metric_family(b, "tocsin_store_map_used_bytes", "gauge",
                                      "LMDB pages in use, in bytes");
    rc = rc ? rc : http_metric_u64(b, "tocsin_store_map_used_bytes", NULL, 0, mi.used);
    rc = rc ? rc : http_metric_family(b, "tocsin_store_readers", "gauge",
                                      "LMDB reader slots in use (all processes)");
    rc = rc ? rc : http_metric_u64(b, "tocsin_store_readers", NULL, 0, mi.readers);
    rc = rc ? rc : http_metric_family(b, "tocsin_store_map_growths_total", "counter",
                                      "LMDB map growths done by this process");
    rc = rc ? rc : http_metric_u64(b, "tocsin_store_map_growths_total", NULL, 0,
                                   store_map_growths(s));
    rc = rc ? rc : http_metric_family(b, "tocsin_metrics_store_scan_seconds", "gauge",
                                      "Time the last scan of the store for these series took");
    rc = rc ? rc : http_metric_double(b, "tocsin_metrics_store_scan_seconds", NULL, 0,
                                      (double)(ts_mono_ns() - t0) / 1e9);
    return rc;
}

static int h_metrics(struct http_req *r)
{
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    int64_t *built;
    pthread_mutex_t *mu = http_req_metrics_mu(r);
    pthread_mutex_lock(mu);
    struct ts_buf *cache = http_req_metrics_cache(r, &built);
    int64_t ttl = http_req_metrics_cache_ns(r), now = ts_mono_ns();
    int rc = 0;
    if (ttl < 0 || !*built || now - *built >= ttl) {
        ts_buf_reset(cache);
        rc = store_series(r, cache);
        *built = rc ? 0 : now;
    }
    rc = rc ? rc : ts_buf_append(&r->out, cache->data ? cache->data : "", cache->len);
    pthread_mutex_unlock(mu);
    rc = rc ? rc : http_server_metrics(r->srv, &r->out);
    struct http_label v = {"version", http_req_version(r)};
    rc = rc ? rc : http_metric_family(&r->out, "tocsin_build_info", "gauge",
                                      "Build information; the value is always 1");
    rc = rc ? rc : http_metric_u64(&r->out, "tocsin_build_info", &v, 1, 1);
    const struct http_hooks *h = http_req_hooks(r);
    if (!rc && h->metrics)
        rc = h->metrics(h->ctx, &r->out);
    if (rc) {
        http_req_error(r, 500, "metrics: %s", ts_strerror(rc));
        return 0;
    }
    return 0;
}

/* ------------------------------------------------------------- incidents */

struct list_ctx {
    struct http_req *r;
    const struct http_token *tok;
    unsigned status_mask;         /* checked here (0: any) */
    unsigned sev_mask;            /* bits 1 << severity (0: any) */
    const char *rule, *text;
    bool have_cursor;
    bool desc;                    /* newest first (sort=newest|severity) */
    int sev_only;                 /* sort=severity: the pass's severity, else -1 */
    int64_t c_seen;
    char c_id[STORE_ID_MAX + 1];
    uint32_t limit, n;
    uint32_t scanned;
    bool more;                    /* a next page exists (or the scan cap stopped us) */
    int64_t last_seen;            /* of the last incident returned / scanned */
    char last_id[STORE_ID_MAX + 1];
    struct ts_arena *arena;
    int rc;                       /* a buffer error */
};

static bool list_match(const struct list_ctx *lc, const struct store_incident *in)
{
    if (!http_token_tenant_ok(lc->tok, in->tenant))
        return false;
    if (lc->status_mask && !(lc->status_mask & STORE_STATUS_BIT(in->status)))
        return false;
    if (lc->sev_mask && !(lc->sev_mask & (1u << in->severity)))
        return false;
    if (lc->sev_only >= 0 && in->severity != lc->sev_only)
        return false;
    if (lc->rule && strcmp(lc->rule, in->rule_id ? in->rule_id : "") &&
        strcmp(lc->rule, in->rule_title ? in->rule_title : ""))
        return false;
    if (lc->text) {
        bool hit = icontains(in->id, lc->text) || icontains(in->rule_title, lc->text) ||
                   icontains(in->rule_id, lc->text) || icontains(in->group_key, lc->text);
        for (uint32_t i = 0; i < in->ndistinct && !hit; i++)
            hit = icontains(in->distinct[i], lc->text);
        if (!hit)
            return false;
    }
    return true;
}

static int list_one(void *ctx, const struct store_incident *in)
{
    struct list_ctx *lc = ctx;
    int rc = 0;
    /* the page starts after the cursor's (last_seen, id), in the walk's order */
    if (lc->have_cursor && in->last_seen_ns == lc->c_seen &&
        (lc->desc ? strcmp(in->id, lc->c_id) >= 0 : strcmp(in->id, lc->c_id) <= 0))
        goto next;
    if (lc->scanned++ >= SCAN_MAX) {
        lc->more = true; /* the next page goes on from the last one looked at */
        rc = 1;
        goto next;
    }
    if (list_match(lc, in)) {
        if (lc->n == lc->limit) {
            lc->more = true;
            rc = 1;
            goto next;
        }
        struct ts_buf *b = &lc->r->out;
        lc->rc = lc->n ? ts_buf_putc(b, ',') : 0;
        lc->rc = lc->rc ? lc->rc : rt_view_incident(b, in);
        if (lc->rc) {
            rc = 1;
            goto next;
        }
        lc->n++;
    }
    lc->last_seen = in->last_seen_ns;
    snprintf(lc->last_id, sizeof(lc->last_id), "%s", in->id);
next:
    ts_arena_reset(lc->arena);
    return rc;
}

static int parse_list(struct http_req *r, const char *arg, const char *what, unsigned *mask,
                      bool status)
{
    char buf[256];
    if (strlen(arg) >= sizeof(buf))
        return http_req_error(r, 400, "%s: too long", what), TS_E_INVAL;
    snprintf(buf, sizeof(buf), "%s", arg);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (status) {
            enum store_status st;
            if (!strcmp(tok, "open"))
                *mask |= STORE_STATUS_OPEN;
            else if (store_status_parse(tok, &st) == 0)
                *mask |= STORE_STATUS_BIT(st);
            else
                return http_req_error(r, 400, "status \"%.64s\": expected new, acknowledged, "
                                              "resolved, reopened or open", tok),
                       TS_E_INVAL;
        } else {
            uint8_t sv;
            if (store_severity_parse(tok, &sv) != 0)
                return http_req_error(r, 400, "severity \"%.64s\": expected informational, "
                                              "low, medium, high or critical", tok),
                       TS_E_INVAL;
            *mask |= 1u << sv;
        }
    }
    return 0;
}

/* The tenant a request is scoped to: ?tenant= (valid, and one the token may
 * see) or, for a token of one tenant, that one; NULL: every tenant the
 * token sees. false: the error response (400, 403) is set. */
static bool req_tenant(struct http_req *r, const char **out)
{
    const char *v = http_req_arg(r, "tenant");
    *out = NULL;
    if (v) {
        const char *why = *v ? ts_tenant_check(v, strlen(v)) : NULL;
        if (why) {
            http_req_error(r, 400, "tenant: %s", why);
            return false;
        }
        if (!http_token_tenant_ok(r->tok, v)) {
            http_req_error(r, 403, "this token may not see tenant \"%s\"", v);
            return false;
        }
        *out = v;
    } else if (!r->tok->all_tenants && r->tok->ntenants == 1) {
        *out = r->tok->tenants[0];
    }
    return true;
}

static int h_list(struct http_req *r)
{
    static const char *const names[] = {"status", "severity", "tenant", "since", "until",
                                        "rule", "text", "limit", "cursor", "sort", NULL};
    struct store *s;
    if (http_req_args_only(r, names) || need_store(r, &s))
        return 0;
    struct list_ctx lc;
    memset(&lc, 0, sizeof(lc));
    lc.r = r;
    lc.tok = r->tok;
    lc.limit = LIMIT_DEFAULT;
    lc.arena = r->arena;
    lc.sev_only = -1;
    struct store_incident_filter f = {0};
    const char *v;
    /* sort: oldest (by last_seen, the default), newest, severity (most
     * severe first, newest first within a severity) */
    uint8_t kind = HTTP_CURSOR_OLDEST;
    if ((v = http_req_arg(r, "sort"))) {
        if (!strcmp(v, "newest") || !strcmp(v, "severity"))
            kind = !strcmp(v, "newest") ? HTTP_CURSOR_NEWEST : HTTP_CURSOR_SEVERITY(4);
        else if (strcmp(v, "oldest"))
            return http_req_error(r, 400, "sort \"%.32s\": expected oldest, newest or severity",
                                  v);
    }
    if ((v = http_req_arg(r, "status")) && parse_list(r, v, "status", &lc.status_mask, true))
        return 0;
    if ((v = http_req_arg(r, "severity")) && parse_list(r, v, "severity", &lc.sev_mask, false))
        return 0;
    if ((v = http_req_arg(r, "since")) && parse_time(v, &f.since_ns))
        return http_req_error(r, 400, "since: expected RFC 3339 or an age like 24h");
    if ((v = http_req_arg(r, "until")) && parse_time(v, &f.until_ns))
        return http_req_error(r, 400, "until: expected RFC 3339 or an age like 24h");
    lc.rule = http_req_arg(r, "rule");
    lc.text = http_req_arg(r, "text");
    if (lc.text && !*lc.text)
        lc.text = NULL;
    if ((v = http_req_arg(r, "limit"))) {
        char *end;
        unsigned long n = strtoul(v, &end, 10);
        if (*end || !*v || n < 1 || n > LIMIT_MAX)
            return http_req_error(r, 400, "limit: 1 to %d", LIMIT_MAX);
        lc.limit = (uint32_t)n;
    }
    if ((v = http_req_arg(r, "cursor"))) {
        uint8_t ck;
        if (http_cursor_decode_kind(v, &ck, &lc.c_seen, lc.c_id, sizeof(lc.c_id)) != 0)
            return http_req_error(r, 400, "cursor: not a cursor of this server");
        bool sev_cursor = ck >= HTTP_CURSOR_SEVERITY(0);
        if (sev_cursor != (kind >= HTTP_CURSOR_SEVERITY(0)) ||
            (!sev_cursor && ck != kind))
            return http_req_error(r, 400, "cursor: made for another sort (ask the next page "
                                          "with the sort of the first)");
        kind = ck;
        lc.have_cursor = true;
    }
    lc.desc = kind != HTTP_CURSOR_OLDEST;
    f.newest_first = lc.desc;
    if (!req_tenant(r, &f.tenant))
        return 0;
    /* The store lists by (last_seen, id) through the time and tenant
     * indexes, but by status time when one status is asked without a
     * tenant: the status is then checked here, so that pages keep one
     * order. */
    unsigned m = lc.status_mask;
    if (f.tenant || (m & (m - 1)))
        f.status_mask = m;
    struct store_txn *t = NULL;
    int rc = ts_buf_puts(&r->out, "{\"incidents\":[");
    if (rc)
        return rc;
    rc = store_txn_begin(s, STORE_TXN_RDONLY, &t);
    /* One walk of the time (or tenant) index; for severity one walk per
     * severity, most severe first, from the cursor's pass. A page that ends
     * in a pass has a cursor in it; one that fills up before the first
     * record of a pass has the cursor "start of that pass". */
    int sev_hi = kind >= HTTP_CURSOR_SEVERITY(0) ? kind - HTTP_CURSOR_SEVERITY(0) : -1;
    int sev_lo = sev_hi >= 0 ? 0 : -1;
    const struct store_incident_filter user = f;
    for (int sev = sev_hi; !rc && sev >= sev_lo && !lc.more && !lc.rc; sev--) {
        if (sev >= 0 && lc.sev_mask && !(lc.sev_mask & (1u << sev))) {
            lc.have_cursor = false;
            continue;
        }
        if (sev >= 0 && sev != sev_hi) {
            lc.last_seen = INT64_MAX;
            snprintf(lc.last_id, sizeof(lc.last_id), "-");
            kind = HTTP_CURSOR_SEVERITY(sev);
        }
        f = user;
        lc.sev_only = sev;
        if (lc.have_cursor && lc.desc && lc.c_seen < INT64_MAX &&
            (!f.until_ns || lc.c_seen + 1 < f.until_ns))
            f.until_ns = lc.c_seen + 1; /* last_seen <= the cursor's */
        else if (lc.have_cursor && !lc.desc && lc.c_seen > f.since_ns)
            f.since_ns = lc.c_seen;
        if (f.until_ns && f.since_ns >= f.until_ns)
            f.until_ns = f.since_ns; /* nothing: since >= until */
        if (!(f.until_ns && f.since_ns >= f.until_ns)) {
            rc = store_incident_list(t, &f, r->arena, list_one, &lc);
            if (rc == 1)
                rc = 0;
        }
        lc.have_cursor = false;
    }
    if (rc) {
        int ret = store_fail(r, t, rc);
        store_txn_abort(t);
        return ret;
    }
    store_txn_abort(t);
    if (lc.rc)
        return lc.rc;
    rc = ts_buf_puts(&r->out, "],\"next\":");
    if (lc.more && lc.last_id[0]) {
        char cur[HTTP_CURSOR_MAX];
        rc = rc ? rc : http_cursor_encode_kind(kind, lc.last_seen, lc.last_id, cur, sizeof(cur));
        rc = rc ? rc : ts_buf_printf(&r->out, "\"%s\"", cur);
    } else {
        rc = rc ? rc : ts_buf_puts(&r->out, "null");
    }
    return rc ? rc : ts_buf_puts(&r->out, "}\n");
}

static int h_get(struct http_req *r)
{
    static const char *const names[] = {NULL};
    struct store *s;
    if (http_req_args_only(r, names) || need_store(r, &s))
        return 0;
    struct ts_arena *eva = NULL;
    struct store_txn *t = NULL;
    struct store_incident in;
    int rc = ts_arena_create(&eva, 64u << 10, (size_t)64 << 20);
    rc = rc ? rc : store_txn_begin(s, STORE_TXN_RDONLY, &t);
    rc = rc ? rc : get_visible(r, t, r->caps[0], r->arena, &in);
    if (rc == TS_E_NOTFOUND) {
        rc = http_req_error(r, 404, not_found);
    } else if (!rc) {
        rc = rt_view_incident_evidence(&r->out, t, &in, eva);
        rc = rc ? rc : ts_buf_putc(&r->out, '\n');
        if (rc && rc != TS_E_LIMIT && rc != TS_E_NOMEM)
            rc = store_fail(r, t, rc);
    } else {
        rc = store_fail(r, t, rc);
    }
    store_txn_abort(t);
    ts_arena_destroy(eva);
    return rc;
}

/* ------------------------------------------------------------ status changes */

struct change {
    struct http_req *r;
    const char *id, *by;
    enum store_status to;
    uint64_t revision;
    enum store_status from;
    const char *comment; /* NULL: none */
};

static int change_txn(struct store_txn *t, void *ctx)
{
    struct change *c = ctx;
    struct http_req *r = c->r;
    struct store_incident in;
    ts_arena_reset(r->arena);
    ts_buf_reset(&r->out);
    int rc = get_visible(r, t, c->id, r->arena, &in);
    if (rc)
        return rc;
    c->from = in.status;
    rc = store_incident_set_status_comment(t, c->id, c->to, c->by, c->comment, &c->revision);
    if (rc)
        return rc;
    ts_arena_reset(r->arena);
    rc = store_incident_get(t, c->id, r->arena, &in);
    rc = rc ? rc : rt_view_incident(&r->out, &in);
    return rc ? rc : ts_buf_putc(&r->out, '\n');
}

/* The distributed mode: through the incidents topic (the hook), after the
 * token's view of the incident was checked here; the incident as this node
 * has it then, or 202 {"status": "published"} when it has not applied the
 * change yet. */
static int change_everywhere(struct http_req *r, struct store *s, const struct http_hooks *h,
                             struct change *c, struct ts_err *err)
{
    struct store_txn *t = NULL;
    struct store_incident in;
    int rc = store_txn_begin(s, STORE_TXN_RDONLY, &t);
    rc = rc ? rc : get_visible(r, t, c->id, r->arena, &in);
    store_txn_abort(t);
    if (rc)
        return rc;
    int now = (int)in.status;
    char msg[400] = "";
    rc = h->status_change(h->ctx, c->id, (int)c->to, c->by, c->comment, &now, &c->revision, msg,
                          sizeof(msg));
    c->from = (enum store_status)now;
    if (rc < 0 && rc != TS_E_NOTFOUND && rc != TS_E_INVAL) {
        ts_err_set(err, rc, NULL, 0, 0, "%s", msg[0] ? msg : ts_strerror(rc));
        return rc;
    }
    if (rc == 1) { /* published, not applied here yet */
        r->status = 202;
        ts_buf_reset(&r->out);
        rc = ts_buf_puts(&r->out, "{\"id\":");
        rc = rc ? rc : ts_buf_json_str(&r->out, c->id, strlen(c->id));
        rc = rc ? rc : ts_buf_printf(&r->out, ",\"status\":\"%s\",\"published\":true,"
                                               "\"applied\":false}\n",
                                     store_status_name(c->to));
        return rc ? rc : 1;
    }
    if (rc)
        return rc;
    ts_arena_reset(r->arena);
    ts_buf_reset(&r->out);
    t = NULL;
    rc = store_txn_begin(s, STORE_TXN_RDONLY, &t);
    rc = rc ? rc : store_incident_get(t, c->id, r->arena, &in);
    rc = rc ? rc : rt_view_incident(&r->out, &in);
    rc = rc ? rc : ts_buf_putc(&r->out, '\n');
    store_txn_abort(t);
    return rc;
}

/* The optional body {"comment": "..."}; *comment borrowed from j. */
static int read_comment(struct http_req *r, json_t **j, const char **comment)
{
    *j = NULL;
    *comment = NULL;
    size_t i = 0;
    while (i < r->body_len && strchr(" \t\r\n", r->body[i]))
        i++;
    if (i == r->body_len)
        return 0;
    json_error_t je;
    *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!*j || !json_is_object(*j))
        return http_req_error(r, 400, "body: expected a JSON object {\"comment\": \"...\"}%s%s",
                              *j ? "" : ": ", *j ? "" : je.text),
               TS_E_INVAL;
    const char *key;
    json_t *val;
    json_object_foreach(*j, key, val) {
        if (strcmp(key, "comment"))
            return http_req_error(r, 400, "body: unknown member \"%.64s\" (expected comment)",
                                  key),
                   TS_E_INVAL;
        if (!json_is_string(val))
            return http_req_error(r, 400, "body: comment must be a string"), TS_E_INVAL;
        if (json_string_length(val) > COMMENT_MAX)
            return http_req_error(r, 400, "body: comment longer than %d bytes", COMMENT_MAX),
                   TS_E_INVAL;
        if (strlen(json_string_value(val)) != json_string_length(val))
            return http_req_error(r, 400, "body: comment must not contain NUL (\\u0000)"),
                   TS_E_INVAL;
        *comment = json_string_value(val);
    }
    return 0;
}

static int status_change(struct http_req *r, enum store_status to, const char *verb)
{
    static const char *const names[] = {NULL};
    struct store *s;
    if (http_req_args_only(r, names) || need_store(r, &s))
        return 0;
    json_t *j;
    const char *comment;
    if (read_comment(r, &j, &comment)) {
        json_decref(j);
        return 0;
    }
    struct change c = {r, r->caps[0], r->tok->name, to, 0, to, comment};
    struct ts_err err = {0};
    const struct http_hooks *h = http_req_hooks(r);
    int rc = h->status_change ? change_everywhere(r, s, h, &c, &err)
                              : store_txn_run(s, change_txn, &c, &err);
    bool pending = rc == 1; /* 202: the body is written */
    if (pending)
        rc = 0;
    if (rc == TS_E_KAFKA || (h->status_change && rc == TS_E_CONFIG)) {
        rc = http_req_error(r, 503, "not changed on any node: %s", err.msg);
    } else if (rc == TS_E_NOTFOUND) {
        rc = http_req_error(r, 404, not_found);
    } else if (rc == TS_E_INVAL) {
        rc = http_req_error(r, 409, "cannot mark the incident %s: it is %s",
                            store_status_name(to), store_status_name(c.from));
    } else if (rc == TS_E_LIMIT || rc == TS_E_NOMEM) {
        /* the view did not fit: the change is committed only when fn
         * returned 0, so nothing happened */
    } else if (rc) {
        char msg[600];
        ts_err_format(&err, msg, sizeof(msg));
        ts_error("http: %s %s: %s", r->method, r->path, msg);
        rc = http_req_error(r, 500, "store: %s", store_strerror(rc));
    } else {
        /* the audit line: who, what, which incident, and the comment */
        struct ts_buf cb;
        ts_buf_init(&cb, 3 * COMMENT_MAX + 16);
        if (comment)
            ts_buf_json_str(&cb, comment, strlen(comment));
        ts_info("http: %s %s incident %s (%s %llu)%s%s", r->tok->name, verb, c.id,
                pending ? "published, not applied here yet; revision" : "revision",
                (unsigned long long)c.revision, comment ? " comment " : "",
                comment && cb.data ? cb.data : "");
        ts_buf_free(&cb);
    }
    json_decref(j);
    return rc;
}

static int h_ack(struct http_req *r)
{
    return status_change(r, STORE_STATUS_ACKNOWLEDGED, "acknowledged");
}

static int h_resolve(struct http_req *r)
{
    return status_change(r, STORE_STATUS_RESOLVED, "resolved");
}

static int h_reopen(struct http_req *r)
{
    return status_change(r, STORE_STATUS_REOPENED, "reopened");
}

/* ------------------------------------------------------------ escalations */

#define ENTRIES_MAX 4096 /* outbox entries shown for one incident */

struct esc_list {
    struct http_req *r;
    const char *id;
    struct ts_buf *b;
    uint32_t n;
    bool truncated;
    /* per plan item: the best delivery state seen (esc_delivery) */
    const struct esc_plan *plan;
    enum esc_delivery *state;
    int rc;
};

static void put_time_or_null(struct ts_buf *b, const char *name, int64_t ns, int *rc)
{
    if (*rc)
        return;
    if (!ns) {
        *rc = ts_buf_printf(b, ",\"%s\":null", name);
        return;
    }
    char t[48];
    ts_format_rfc3339(ns, t, sizeof(t));
    *rc = ts_buf_printf(b, ",\"%s\":\"%s\"", name, t);
}

/* Does the entry id end with ":<recipient>:<report>"? */
static bool entry_is(const char *eid, const char *recipient, const char *report)
{
    size_t el = strlen(eid), rl = strlen(recipient), pl = strlen(report);
    if (el < rl + pl + 2)
        return false;
    const char *p = eid + el - pl;
    return !strcmp(p, report) && p[-1] == ':' && !strncmp(p - 1 - rl, recipient, rl) &&
           p[-2 - rl] == ':';
}

static int esc_entry(void *ctx, const struct store_outbox *e)
{
    struct esc_list *l = ctx;
    if (strcmp(e->incident_id, l->id))
        goto next;
    if (l->plan) {
        enum esc_delivery d = e->state == STORE_OUTBOX_DELIVERED ? ESC_DELIVERY_DONE
                              : e->state == STORE_OUTBOX_PENDING ? ESC_DELIVERY_PENDING
                                                                 : ESC_DELIVERY_FAILED;
        for (size_t i = 0; i < l->plan->n; i++)
            if (entry_is(e->id, l->plan->items[i].recipient, l->plan->items[i].report) &&
                d > l->state[i])
                l->state[i] = d;
    }
    if (l->n == ENTRIES_MAX) {
        l->truncated = true;
        goto next;
    }
    struct ts_buf *b = l->b;
    char err[ESC_ERROR_MAX * 2];
    esc_text_redact_urls(e->last_error ? e->last_error : "", err, sizeof(err));
    int rc = ts_buf_puts(b, l->n ? ",{\"id\":" : "{\"id\":");
    rc = rc ? rc : ts_buf_json_str(b, e->id, strlen(e->id));
    rc = rc ? rc : ts_buf_printf(b, ",\"revision\":%llu,\"recipient\":",
                                 (unsigned long long)e->revision);
    rc = rc ? rc : ts_buf_json_str(b, e->recipient, strlen(e->recipient));
    rc = rc ? rc : ts_buf_puts(b, ",\"channel\":");
    rc = rc ? rc : ts_buf_json_str(b, e->channel, strlen(e->channel));
    rc = rc ? rc : ts_buf_printf(b, ",\"state\":\"%s\",\"attempts\":%u",
                                 store_outbox_state_name(e->state), e->attempts);
    put_time_or_null(b, "created_at", e->created_ns, &rc);
    put_time_or_null(b, "due_at", e->state == STORE_OUTBOX_PENDING ? e->next_attempt_ns : 0,
                     &rc);
    put_time_or_null(b, "done_at", e->state == STORE_OUTBOX_PENDING ? 0 : e->done_ns, &rc);
    rc = rc ? rc : ts_buf_puts(b, ",\"last_error\":");
    rc = rc ? rc : ts_buf_json_str(b, err, strlen(err));
    rc = rc ? rc : ts_buf_printf(b, ",\"payload_bytes\":%zu}", e->payload_len);
    l->n++;
    if (rc) {
        l->rc = rc;
        ts_arena_reset(l->r->arena);
        return 1;
    }
next:
    ts_arena_reset(l->r->arena);
    return 0;
}

struct ev_keep {
    struct store_evidence v[ESC_EVIDENCE_REFS_MAX];
    size_t n;
};

static int ev_keep(void *ctx, const struct store_evidence *ev)
{
    struct ev_keep *k = ctx;
    if (k->n == ESC_EVIDENCE_REFS_MAX)
        return 1;
    k->v[k->n++] = *ev;
    return 0;
}

static int h_escalations(struct http_req *r)
{
    static const char *const names[] = {NULL};
    struct store *s;
    if (http_req_args_only(r, names) || need_store(r, &s))
        return 0;
    const struct esc_env *env = http_req_esc(r);
    struct ts_arena *ia = NULL;
    struct store_txn *t = NULL;
    struct store_incident in;
    struct esc_plan *plan = NULL;
    struct ev_keep *evk = NULL;
    enum esc_delivery state[ESC_PLAN_MAX] = {0};
    const char *id = r->caps[0];
    int rc = ts_arena_create(&ia, 64u << 10, (size_t)64 << 20);
    rc = rc ? rc : store_txn_begin(s, STORE_TXN_RDONLY, &t);
    rc = rc ? rc : get_visible(r, t, id, ia, &in);
    if (rc == TS_E_NOTFOUND) {
        rc = http_req_error(r, 404, not_found);
        goto done;
    }
    if (!rc && env && env->regime) {
        if (!(plan = calloc(1, sizeof(*plan))) || !(evk = calloc(1, sizeof(*evk))))
            rc = TS_E_NOMEM;
        if (!rc && (rc = store_evidence_foreach(t, id, ia, ev_keep, evk)) == 1)
            rc = 0;
        rc = rc ? rc : esc_plan_incident_ev(env, &in, evk->v, evk->n, plan);
    }
    struct esc_list l = {r, id, &r->out, 0, false, plan, state, 0};
    rc = rc ? rc : ts_buf_puts(&r->out, "{\"incident_id\":");
    rc = rc ? rc : ts_buf_json_str(&r->out, id, strlen(id));
    rc = rc ? rc : ts_buf_puts(&r->out, ",\"escalations\":[");
    rc = rc ? rc : store_outbox_list(t, 7u, r->arena, esc_entry, &l);
    if (rc == 1)
        rc = l.rc;
    rc = rc ? rc : ts_buf_printf(&r->out, "],\"truncated\":%s", l.truncated ? "true" : "false");
    if (!rc && plan) {
        int64_t now = ts_now_ns();
        rc = ts_buf_puts(&r->out, ",\"regime\":");
        rc = rc ? rc : ts_buf_json_str(&r->out, esc_regime_id(env->regime),
                                       strlen(esc_regime_id(env->regime)));
        rc = rc ? rc : ts_buf_printf(&r->out, ",\"serious\":%s,\"reports\":[",
                                     plan->facts.serious ? "true" : "false");
        for (size_t i = 0; i < plan->n && !rc; i++) {
            const struct esc_due *d = &plan->items[i];
            bool overdue = d->due_ns && d->due_ns < now && state[i] != ESC_DELIVERY_DONE;
            rc = ts_buf_puts(&r->out, i ? ",{\"recipient\":" : "{\"recipient\":");
            rc = rc ? rc : ts_buf_json_str(&r->out, d->recipient, strlen(d->recipient));
            rc = rc ? rc : ts_buf_puts(&r->out, ",\"report\":");
            rc = rc ? rc : ts_buf_json_str(&r->out, d->report, strlen(d->report));
            rc = rc ? rc : ts_buf_printf(&r->out, ",\"stage\":\"%s\"", esc_stage_name(d->stage));
            put_time_or_null(&r->out, "due_at", d->due_ns, &rc);
            rc = rc ? rc : ts_buf_printf(&r->out, ",\"mandatory\":%s,\"every_seconds\":%lld,"
                                                  "\"delivery\":\"%s\",\"overdue\":%s}",
                                         d->mandatory ? "true" : "false",
                                         (long long)(d->every_ns / TS_NS_PER_SEC),
                                         esc_delivery_name(state[i]), overdue ? "true" : "false");
        }
        rc = rc ? rc : ts_buf_putc(&r->out, ']');
    }
    rc = rc ? rc : ts_buf_puts(&r->out, "}\n");
    if (rc && rc != TS_E_LIMIT && rc != TS_E_NOMEM)
        rc = store_fail(r, t, rc);
done:
    store_txn_abort(t);
    ts_arena_destroy(ia);
    free(plan);
    free(evk);
    return rc;
}

static int h_report(struct http_req *r)
{
    static const char *const names[] = {"stage", "format", "lang", "recipient", NULL};
    struct store *s;
    if (http_req_args_only(r, names) || need_store(r, &s))
        return 0;
    struct esc_report_opts o = {0};
    o.stage = ESC_STAGE_INITIAL;
    o.format = ESC_FORMAT_JSON;
    o.lang = ESC_LANG_VI;
    const char *v;
    if ((v = http_req_arg(r, "stage")) && esc_stage_parse(v, &o.stage) != 0)
        return http_req_error(r, 400, "stage: expected initial, update or final");
    if ((v = http_req_arg(r, "format"))) {
        if (!strcmp(v, "json"))
            o.format = ESC_FORMAT_JSON;
        else if (!strcmp(v, "stix"))
            o.format = ESC_FORMAT_STIX;
        else if (!strcmp(v, "text"))
            o.format = ESC_FORMAT_TEXT;
        else
            return http_req_error(r, 400, "format: expected json, stix or text");
    }
    if ((v = http_req_arg(r, "lang"))) {
        if (!strcmp(v, "vi"))
            o.lang = ESC_LANG_VI;
        else if (!strcmp(v, "en"))
            o.lang = ESC_LANG_EN;
        else
            return http_req_error(r, 400, "lang: expected vi or en");
    }
    o.recipient = http_req_arg(r, "recipient");
    struct ts_arena *ia = NULL;
    struct store_txn *t = NULL;
    struct store_incident in;
    struct ev_keep *evk = NULL;
    int rc = ts_arena_create(&ia, 64u << 10, (size_t)64 << 20);
    rc = rc ? rc : store_txn_begin(s, STORE_TXN_RDONLY, &t);
    rc = rc ? rc : get_visible(r, t, r->caps[0], ia, &in);
    const struct esc_env *env = http_req_esc(r);
    if (rc == TS_E_NOTFOUND) {
        rc = http_req_error(r, 404, not_found);
        goto done;
    }
    if (!rc && (!env || !env->regime)) {
        rc = http_req_error(r, 404, "reports are not configured in this process (a regime: "
                                    "tocsin serve --regime/--regimes, or the escalate section "
                                    "of the configuration)");
        goto done;
    }
    if (!rc && !(evk = calloc(1, sizeof(*evk))))
        rc = TS_E_NOMEM;
    if (!rc && (rc = store_evidence_foreach(t, in.id, ia, ev_keep, evk)) == 1)
        rc = 0;
    if (rc) {
        rc = store_fail(r, t, rc);
        goto done;
    }
    struct esc_sent sent[ESC_SENT_MAX];
    size_t nsent = 0;
    if ((rc = esc_sent_read(t, in.id, ia, sent, ESC_SENT_MAX, &nsent)) != 0) {
        rc = store_fail(r, t, rc);
        goto done;
    }
    o.sent = sent;
    o.nsent = nsent;
    o.evidence = evk->v;
    o.nevidence = evk->n;
    rc = esc_report_render(env, &in, &o, &r->out);
    if (rc == TS_E_INVAL) {
        rc = http_req_error(r, 400, "regime %s has no recipient \"%.64s\"",
                            esc_regime_id(env->regime), o.recipient ? o.recipient : "");
        goto done;
    }
    if (!rc) {
        r->content_type = o.format == ESC_FORMAT_TEXT   ? "text/plain; charset=utf-8"
                          : o.format == ESC_FORMAT_STIX ? "application/stix+json;version=2.1"
                                                        : "application/json";
        if (r->out.len && r->out.data[r->out.len - 1] != '\n')
            rc = ts_buf_putc(&r->out, '\n');
    }
done:
    store_txn_abort(t);
    ts_arena_destroy(ia);
    free(evk);
    return rc;
}

/* ---------------------------------------------------------------- summary */

/* RFC 3339, or a date (its midnight at the offset off). */
static int summary_when(const char *v, int off, int64_t *out)
{
    char day[32];
    size_t n = strlen(v);
    if (n == 10) {
        snprintf(day, sizeof(day), "%sT00:00:00", v);
        v = day;
        n = strlen(v);
    }
    size_t used = 0;
    return ts_parse_iso8601(v, n, off, out, &used) == 0 && used == n ? 0 : TS_E_INVAL;
}

/* GET /api/v1/summary?period=day|week|month|custom&from=&to=&format=json|html|text
 * &lang=vi|en&tenant=&utc_offset=+07:00: the monitoring report of `tocsin
 * summary` (runtime/summary.c), scoped like the incidents: a token of one
 * tenant sees that tenant's figures; a token of several must name one. */
static int h_summary(struct http_req *r)
{
    static const char *const names[] = {"period", "from",   "to",         "format",
                                        "lang",   "tenant", "utc_offset", NULL};
    struct store *s;
    if (http_req_args_only(r, names) || need_store(r, &s))
        return 0;
    const char *period = http_req_arg(r, "period"), *v;
    if (!period)
        period = "week";
    enum rt_summary_format fmt = RT_SUMMARY_JSON;
    if ((v = http_req_arg(r, "format"))) {
        if (!strcmp(v, "json"))
            fmt = RT_SUMMARY_JSON;
        else if (!strcmp(v, "html"))
            fmt = RT_SUMMARY_HTML;
        else if (!strcmp(v, "text"))
            fmt = RT_SUMMARY_TEXT;
        else
            return http_req_error(r, 400, "format: expected json, html or text");
    }
    enum esc_lang lang = ESC_LANG_VI;
    if ((v = http_req_arg(r, "lang"))) {
        if (strcmp(v, "vi") && strcmp(v, "en"))
            return http_req_error(r, 400, "lang: expected vi or en");
        lang = !strcmp(v, "vi") ? ESC_LANG_VI : ESC_LANG_EN;
    }
    int off = 7 * 3600;
    if ((v = http_req_arg(r, "utc_offset"))) {
        char tmp[48];
        int64_t ns = 0;
        if (strlen(v) > 8)
            return http_req_error(r, 400, "utc_offset: expected like +07:00");
        snprintf(tmp, sizeof(tmp), "1970-01-02T00:00:00%s", v);
        if (summary_when(tmp, 0, &ns) != 0)
            return http_req_error(r, 400, "utc_offset: expected like +07:00");
        off = (int)(86400 - ns / TS_NS_PER_SEC);
    }
    struct rt_summary_opts so = {.kind = period, .utc_offset_sec = off, .env = http_req_esc(r)};
    const char *from = http_req_arg(r, "from"), *to = http_req_arg(r, "to");
    if (!strcmp(period, "custom")) {
        if (!from || !to || summary_when(from, off, &so.from_ns) ||
            summary_when(to, off, &so.to_ns) || so.to_ns <= so.from_ns)
            return http_req_error(r, 400, "period custom needs from and to (RFC 3339 or a "
                                          "date), from before to");
    } else if (from || to) {
        return http_req_error(r, 400, "from and to go with period=custom");
    } else if (rt_summary_period(period, ts_now_ns(), off, &so.from_ns, &so.to_ns) != 0) {
        return http_req_error(r, 400, "period: expected day, week, month or custom");
    }
    if (!req_tenant(r, &so.tenant))
        return 0;
    if (!so.tenant && !r->tok->all_tenants)
        return http_req_error(r, 400, "tenant: this token sees several tenants; name one");
    struct rt_summary *sum = NULL;
    struct ts_err err = {0};
    int rc = rt_summary_compute(s, &so, &sum, &err);
    if (rc) {
        ts_error("GET /api/v1/summary: %s", err.msg);
        return rc;
    }
    rc = rt_summary_render(sum, fmt, lang, &r->out);
    rt_summary_free(sum);
    if (!rc)
        r->content_type = fmt == RT_SUMMARY_TEXT   ? "text/plain; charset=utf-8"
                          : fmt == RT_SUMMARY_HTML ? "text/html; charset=utf-8"
                                                   : "application/json";
    return rc;
}

/* ------------------------------------------------------- escalation retry */

struct retry {
    struct http_req *r;
    const char *id;
    bool visible;
};

static int retry_txn(struct store_txn *t, void *ctx)
{
    struct retry *rt = ctx;
    struct http_req *r = rt->r;
    ts_arena_reset(r->arena);
    struct store_outbox e;
    int rc = store_outbox_get(t, rt->id, r->arena, &e);
    if (rc)
        return rc;
    struct store_incident in;
    rc = store_incident_get(t, e.incident_id, r->arena, &in);
    if (rc == TS_E_NOTFOUND) /* aged out: only a token of every tenant may */
        rt->visible = r->tok->all_tenants;
    else if (rc)
        return rc;
    else
        rt->visible = http_token_tenant_ok(r->tok, in.tenant);
    if (!rt->visible)
        return TS_E_NOTFOUND;
    return store_outbox_requeue(t, rt->id, store_txn_now(t));
}

static int h_retry(struct http_req *r)
{
    static const char *const names[] = {NULL};
    struct store *s;
    if (http_req_args_only(r, names) || need_store(r, &s))
        return 0;
    const char *id = r->caps[0];
    if (!id_ok(id))
        return http_req_error(r, 404, "no such escalation");
    struct retry rt = {r, id, false};
    struct ts_err err = {0};
    int rc = store_txn_run(s, retry_txn, &rt, &err);
    if (rc == TS_E_NOTFOUND)
        return http_req_error(r, 404, "no such escalation");
    if (rc == TS_E_INVAL)
        return http_req_error(r, 409, "only a failed or pending escalation can be retried");
    if (rc)
        return store_fail(r, NULL, rc);
    ts_info("http: %s requeued escalation %s", r->tok->name, id);
    rc = ts_buf_puts(&r->out, "{\"id\":");
    rc = rc ? rc : ts_buf_json_str(&r->out, id, strlen(id));
    return rc ? rc : ts_buf_puts(&r->out, ",\"state\":\"pending\"}\n");
}

/* ------------------------------------------------------------------ rules */

static int h_rules(struct http_req *r)
{
    const struct http_hooks *h = http_req_hooks(r);
    if (!h->rules_list)
        return http_req_error(r, 404, "rules are not served by this process (tocsin serve "
                                      "runs over a store without the engine)");
    int rc = h->rules_list(h->ctx, &r->out);
    return rc ? http_req_error(r, 500, "rules: %s", ts_strerror(rc)) : 0;
}

static int hook_status(struct http_req *r, int st)
{
    if (st < 0) {
        http_req_error(r, 500, "%s", ts_strerror(st));
        return 0;
    }
    r->status = st >= 100 && st < 600 ? (unsigned)st : 500;
    if (!r->out.len)
        return ts_buf_puts(&r->out, "{}\n");
    return 0;
}

static int h_rules_reload(struct http_req *r)
{
    const struct http_hooks *h = http_req_hooks(r);
    if (!h->rules_reload)
        return http_req_error(r, 404, "rules are not loaded by this process");
    ts_info("http: %s asked for a rules reload", r->tok->name);
    return hook_status(r, h->rules_reload(h->ctx, r->tok->name, &r->out));
}

static int h_rule_test(struct http_req *r)
{
    const struct http_hooks *h = http_req_hooks(r);
    if (!h->rule_test)
        return http_req_error(r, 404, "rule tests are not served by this process");
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return http_req_error(r, 400, "body: expected a JSON object {\"rule\": YAML, "
                                      "\"events\": TEXT}");
    }
    struct http_rule_test q = {0};
    q.format = "auto";
    q.by = r->tok->name;
    const char *key;
    json_t *val;
    int rc = 0;
    json_object_foreach(j, key, val) {
        if (!json_is_string(val)) {
            rc = http_req_error(r, 400, "body: %.64s must be a string", key);
            goto done;
        }
        const char *sv = json_string_value(val);
        size_t sl = json_string_length(val);
        if (!strcmp(key, "rule"))
            q.rule = sv, q.rule_len = sl;
        else if (!strcmp(key, "events"))
            q.events = sv, q.events_len = sl;
        else if (!strcmp(key, "format"))
            q.format = sv;
        else if (!strcmp(key, "profile"))
            q.profile = sv;
        else if (!strcmp(key, "tenant"))
            q.tenant = sv;
        else {
            rc = http_req_error(r, 400, "body: unknown member \"%.64s\" (expected rule, "
                                        "events, format, profile, tenant)", key);
            goto done;
        }
    }
    if (!q.rule || !q.events) {
        rc = http_req_error(r, 400, "body: \"rule\" and \"events\" are required");
        goto done;
    }
    if (q.tenant && (*q.tenant ? ts_tenant_check(q.tenant, strlen(q.tenant)) : NULL)) {
        rc = http_req_error(r, 400, "tenant: %s", ts_tenant_check(q.tenant, strlen(q.tenant)));
        goto done;
    }
    rc = hook_status(r, h->rule_test(h->ctx, &q, &r->out));
done:
    json_decref(j);
    return rc;
}

/* --------------------------------------------------------------------- me */

static int h_me(struct http_req *r)
{
    const struct http_token *k = r->tok;
    int rc = ts_buf_puts(&r->out, "{\"name\":");
    rc = rc ? rc : ts_buf_json_str(&r->out, k->name, strlen(k->name));
    rc = rc ? rc : ts_buf_printf(&r->out, ",\"role\":\"%s\",\"tenants\":[",
                                 http_role_name(k->role));
    if (k->all_tenants)
        rc = rc ? rc : ts_buf_puts(&r->out, "\"*\"");
    for (size_t i = 0; i < k->ntenants && !rc; i++) {
        rc = i ? ts_buf_putc(&r->out, ',') : 0;
        rc = rc ? rc : ts_buf_json_str(&r->out, k->tenants[i], strlen(k->tenants[i]));
    }
    return rc ? rc : ts_buf_puts(&r->out, "]}\n");
}

/* ----------------------------------------------------------------- table */

const struct http_route http_api_routes[] = {
    {"GET", "/healthz", HTTP_ROLE_NONE, h_healthz},
    {"GET", "/readyz", HTTP_ROLE_NONE, h_readyz},
    {"GET", "/metrics", HTTP_ROLE_NONE, h_metrics},
    {"GET", "/", HTTP_ROLE_NONE, http_console_index},             /* the web console */
    {"GET", "/assets/{name}", HTTP_ROLE_NONE, http_console_asset}, /* (console.c) */
    {"GET", "/api/v1/me", HTTP_ROLE_VIEWER, h_me},
    {"GET", "/api/v1/incidents", HTTP_ROLE_VIEWER, h_list},
    {"GET", "/api/v1/incidents/{id}", HTTP_ROLE_VIEWER, h_get},
    {"GET", "/api/v1/incidents/{id}/escalations", HTTP_ROLE_VIEWER, h_escalations},
    {"GET", "/api/v1/incidents/{id}/report", HTTP_ROLE_VIEWER, h_report},
    {"GET", "/api/v1/summary", HTTP_ROLE_VIEWER, h_summary},
    {"POST", "/api/v1/incidents/{id}/ack", HTTP_ROLE_ANALYST, h_ack},
    {"POST", "/api/v1/incidents/{id}/resolve", HTTP_ROLE_ANALYST, h_resolve},
    {"POST", "/api/v1/incidents/{id}/reopen", HTTP_ROLE_ANALYST, h_reopen},
    {"POST", "/api/v1/escalations/{id}/retry", HTTP_ROLE_ADMIN, h_retry},
    {"GET", "/api/v1/rules", HTTP_ROLE_VIEWER, h_rules},
    {"POST", "/api/v1/rules/test", HTTP_ROLE_ANALYST, h_rule_test},
    {"POST", "/api/v1/rules/reload", HTTP_ROLE_ADMIN, h_rules_reload},
};
const size_t http_api_nroutes = TS_ARRAY_LEN(http_api_routes);
