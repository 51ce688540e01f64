/* report.c - the report document of one incident for one recipient and
 * stage: filled from the incident, the asset inventory and the tenant's
 * organisation; rendered as JSON (docs/report-schema.json) or as readable
 * UTF-8 text in Vietnamese or English. STIX is in stix.c.
 * Output goes to the caller's ts_buf (its cap bounds the document).
 * Reentrant; reads only its arguments. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../core/tstime.h"
#include "esc_int.h"

#define ESC_TEXT_RAW_MAX 300 /* bytes of an evidence log line in a text report */

/* ---------------------------------------------------------- JSON writer */

struct jw {
    struct ts_buf *b;
    int rc;
    int depth;
    bool first[24];
};

static void jw_raw(struct jw *w, const char *s)
{
    if (!w->rc)
        w->rc = ts_buf_puts(w->b, s);
}

static void jw_sep(struct jw *w, const char *key)
{
    if (w->depth > 0) {
        if (!w->first[w->depth])
            jw_raw(w, ",");
        w->first[w->depth] = false;
    }
    if (key && !w->rc) {
        w->rc = ts_buf_json_str(w->b, key, strlen(key));
        jw_raw(w, ":");
    }
}

static void jw_open(struct jw *w, const char *key, const char *br)
{
    jw_sep(w, key);
    jw_raw(w, br);
    if (w->depth + 1 < (int)TS_ARRAY_LEN(w->first))
        w->first[++w->depth] = true;
    else if (!w->rc)
        w->rc = TS_E_LIMIT;
}

static void jw_close(struct jw *w, const char *br)
{
    if (w->depth > 0)
        w->depth--;
    jw_raw(w, br);
}

static void jw_str(struct jw *w, const char *key, const char *v)
{
    jw_sep(w, key);
    if (!v)
        jw_raw(w, "null");
    else if (!w->rc)
        w->rc = ts_buf_json_str(w->b, v, strlen(v));
}

/* A string only when it has one (the STIX extension leaves out the rest). */
static void jw_opt(struct jw *w, const char *key, const char *v)
{
    if (v && *v)
        jw_str(w, key, v);
}

static void jw_strn(struct jw *w, const char *key, const char *v, size_t n)
{
    jw_sep(w, key);
    if (!w->rc)
        w->rc = ts_buf_json_str(w->b, v, n);
}

static void jw_int(struct jw *w, const char *key, long long v)
{
    jw_sep(w, key);
    if (!w->rc)
        w->rc = ts_buf_printf(w->b, "%lld", v);
}

static void jw_bool(struct jw *w, const char *key, bool v)
{
    jw_sep(w, key);
    jw_raw(w, v ? "true" : "false");
}

static void jw_time(struct jw *w, const char *key, int64_t ns)
{
    if (!ns) {
        jw_str(w, key, NULL);
        return;
    }
    char t[32];
    esc_time_ms(ns, t);
    jw_str(w, key, t);
}

static void jw_text(struct jw *w, const char *key, const struct ts_buf *vi, const struct ts_buf *en)
{
    jw_open(w, key, "{");
    jw_str(w, "vi", vi->data ? vi->data : "");
    jw_str(w, "en", en->data ? en->data : "");
    jw_close(w, "}");
}

/* ------------------------------------------------------------- doc set-up */

int esc_doc_init(struct esc_doc *d, const struct esc_env *env, const struct store_incident *inc,
                 const struct esc_report_opts *o)
{
    memset(d, 0, sizeof(*d));
    if (!env || !env->regime || !inc || !o || (unsigned)o->stage > ESC_STAGE_FINAL)
        return TS_E_INVAL;
    d->env = env;
    d->inc = inc;
    d->o = o;
    d->now_ns = o->now_ns ? o->now_ns : ts_now_ns();
    int rc = esc_plan_incident_ev(env, inc, o->evidence, o->nevidence, &d->plan);
    if (rc)
        return rc;
    const struct esc_regime *r = env->regime;
    const char *rid = o->recipient;
    if (!rid) {
        for (size_t i = 0; i < d->plan.n && !rid; i++)
            if (d->plan.items[i].stage == o->stage)
                rid = d->plan.items[i].recipient;
        if (!rid)
            rid = r->recipients[0].id;
    }
    int ri = esc_regime_recipient(r, rid);
    if (ri < 0)
        return TS_E_INVAL;
    d->rcpt = &r->recipients[ri];
    for (size_t i = 0; i < d->plan.n && !d->due; i++)
        if (d->plan.items[i].stage == o->stage && !strcmp(d->plan.items[i].recipient, rid))
            d->due = &d->plan.items[i];
    if (d->due)
        d->report = esc_regime_report(r, d->due->report);
    /* Not owed: a report of the stage for the recipient whose conditions
     * hold for the facts (never one that would contradict them: a heading
     * "serious" over a body "not serious"); none: d->report stays NULL and
     * the document is written as voluntary. */
    const struct esc_facts *f = &d->plan.facts;
    unsigned have = (f->reportable ? ESC_WHEN_INCIDENT : 0) | (f->serious ? ESC_WHEN_SERIOUS : 0) |
                    (f->national_security ? ESC_WHEN_NATSEC : 0) |
                    (f->beyond_capacity ? ESC_WHEN_BEYOND : 0);
    for (size_t i = 0; i < r->nreports && !d->report; i++)
        if (r->reports[i].stage == o->stage && (r->reports[i].to & (1u << ri)) &&
            (r->reports[i].when & have) == r->reports[i].when)
            d->report = &r->reports[i];
    d->org = esc_orgs_find(env->orgs, inc->tenant);
    return 0;
}

int esc_report_id(const struct esc_doc *d, struct ts_buf *out)
{
    if (d->report_id)
        return ts_buf_puts(out, d->report_id);
    return ts_buf_printf(out, "%s:%llu:%s:%s", d->inc->id, (unsigned long long)d->inc->revision,
                         d->rcpt->id, d->report ? d->report->id : esc_stage_name(d->o->stage));
}

/* ------------------------------------------------------------ vocabulary */

struct l10n {
    const char *vi, *en;
};
#define L(l, x) ((l) == ESC_LANG_VI ? (x).vi : (x).en)

static const struct l10n impact_labels[ESC_IMPACT_COUNT] = {
    {"Gián đoạn hoạt động của hệ thống", "Service outage"},
    {"Lộ, lọt, mất cắp dữ liệu", "Data leak or theft"},
    {"Mất quyền kiểm soát hệ thống", "Loss of control over the system"},
    {"Mất, hỏng dữ liệu (bị xóa hoặc mã hóa)", "Data loss (deleted or encrypted)"},
    {"Thay đổi trái phép thông tin, giao diện", "Unauthorised change of content"},
};

static const struct l10n status_labels[STORE_STATUS_COUNT] = {
    {"Mới phát hiện, đang xử lý", "Newly detected, being handled"},
    {"Đã tiếp nhận, đang ứng cứu", "Acknowledged, response in progress"},
    {"Đã xử lý xong, kết thúc ứng cứu", "Resolved, response ended"},
    {"Mở lại, đang ứng cứu", "Reopened, response in progress"},
};

static const struct l10n sev_labels[5] = {
    {"thông tin", "informational"}, {"thấp", "low"},         {"trung bình", "medium"},
    {"cao", "high"},                {"nghiêm trọng", "critical"},
};

static const char *sev_label(uint8_t s, enum esc_lang l)
{
    return s < 5 ? L(l, sev_labels[s]) : "?";
}

/* ------------------------------------------------------------ generated text */

int esc_describe(const struct esc_doc *d, enum esc_lang l, struct ts_buf *out)
{
    const struct store_incident *inc = d->inc;
    int off = d->org ? d->org->utc_offset_sec : 7 * 3600;
    char t1[48], t2[48];
    esc_time_local(inc->first_seen_ns, off, t1);
    esc_time_local(inc->last_seen_ns, off, t2);
    const char *title = inc->rule_title && *inc->rule_title ? inc->rule_title : inc->rule_id;
    int rc;
    if (l == ESC_LANG_VI)
        rc = ts_buf_printf(out,
                           "Luật phát hiện \"%s\" (mức %s) ghi nhận %llu sự kiện liên quan "
                           "từ %s đến %s",
                           title ? title : "", sev_label(inc->severity, l),
                           (unsigned long long)inc->count, t1, t2);
    else
        rc = ts_buf_printf(out,
                           "Detection rule \"%s\" (%s) matched %llu related event(s) between "
                           "%s and %s",
                           title ? title : "", sev_label(inc->severity, l),
                           (unsigned long long)inc->count, t1, t2);
    if (!rc && inc->group_key && *inc->group_key)
        rc = ts_buf_printf(out, l == ESC_LANG_VI ? "; nhóm theo %s" : "; grouped by %s",
                           inc->group_key);
    if (!rc && d->plan.facts.system)
        rc = ts_buf_printf(out, l == ESC_LANG_VI ? "; hệ thống bị ảnh hưởng: %s"
                                                 : "; affected system: %s",
                           d->plan.facts.system->name);
    return rc ? rc : ts_buf_puts(out, ".");
}

static int symptoms_text(const struct esc_doc *d, enum esc_lang l, struct ts_buf *out)
{
    const struct esc_taxonomy *t = d->env->taxonomy;
    const struct esc_class *c = &d->plan.facts.cls;
    int rc = 0;
    bool any = false;
    for (unsigned b = 0; t && !rc && b < ESC_TYPE_COUNT; b++)
        if ((c->types & (1u << b)) && (t->types[b].symptoms.vi || t->types[b].symptoms.en)) {
            rc = ts_buf_printf(out, "%s%s", any ? "; " : "",
                               esc_text_get(&t->types[b].symptoms, l));
            any = true;
        }
    if (!rc && d->inc->ndistinct) {
        rc = ts_buf_printf(out, "%s%s%s%s: ", any ? "; " : "",
                           l == ESC_LANG_VI ? "Giá trị ghi nhận" : "Observed values",
                           d->inc->distinct_field ? " " : "",
                           d->inc->distinct_field ? d->inc->distinct_field : "");
        for (uint32_t i = 0; !rc && i < d->inc->ndistinct && i < 16; i++)
            rc = ts_buf_printf(out, "%s%s", i ? ", " : "", d->inc->distinct[i]);
        if (!rc && (d->inc->ndistinct > 16 || d->inc->distinct_truncated))
            rc = ts_buf_puts(out, ", ...");
        any = true;
    }
    if (!rc && !any)
        rc = ts_buf_puts(out, l == ESC_LANG_VI ? "Các sự kiện khớp luật phát hiện nêu tại mục "
                                                 "phương thức phát hiện"
                                               : "Events matching the detection rule named "
                                                 "under detection method");
    return rc;
}

static int impact_text(const struct esc_doc *d, enum esc_lang l, struct ts_buf *out)
{
    int rc = 0;
    bool any = false;
    /* What the incident shows (tags whose technique is the impact), not what
     * its type may cause: that is printed apart as a possibility. */
    for (unsigned b = 0; !rc && b < ESC_IMPACT_COUNT; b++)
        if (d->plan.facts.cls.tag_impacts & (1u << b)) {
            rc = ts_buf_printf(out, "%s%s", any ? "; " : "", L(l, impact_labels[b]));
            any = true;
        }
    if (!rc && !any)
        rc = ts_buf_puts(out, l == ESC_LANG_VI ? "Chưa xác định" : "Not yet determined");
    return rc;
}

static int actions_text(const struct esc_doc *d, enum esc_lang l, struct ts_buf *out)
{
    const struct store_incident *inc = d->inc;
    int off = d->org ? d->org->utc_offset_sec : 7 * 3600;
    int rc = ts_buf_puts(out, l == ESC_LANG_VI ? "Sự cố được hệ thống giám sát phát hiện tự động"
                                               : "Detected automatically by the monitoring "
                                                 "system");
    for (uint32_t i = 0; !rc && i < inc->nhistory; i++) {
        const struct store_status_change *h = &inc->history[i];
        char t[48];
        esc_time_local(h->at_ns, off, t);
        const char *by = h->by && *h->by ? h->by : "?";
        static const struct l10n verbs[STORE_STATUS_COUNT] = {
            {"ghi nhận", "recorded"},
            {"tiếp nhận xử lý", "acknowledged"},
            {"xác nhận đã xử lý xong", "resolved"},
            {"mở lại để xử lý tiếp", "reopened"},
        };
        if ((unsigned)h->status >= STORE_STATUS_COUNT)
            continue;
        rc = l == ESC_LANG_VI
                 ? ts_buf_printf(out, "; %s: %s %s", t, by, verbs[h->status].vi)
                 : ts_buf_printf(out, "; %s: %s by %s", t, verbs[h->status].en, by);
    }
    if (!rc && d->org && (d->org->actions_taken.vi || d->org->actions_taken.en))
        rc = ts_buf_printf(out, "; %s", esc_text_get(&d->org->actions_taken, l));
    return rc ? rc : ts_buf_puts(out, ".");
}

static int support_text(const struct esc_doc *d, enum esc_lang l, struct ts_buf *out)
{
    if (d->org && (d->org->support_requested.vi || d->org->support_requested.en))
        return ts_buf_puts(out, esc_text_get(&d->org->support_requested, l));
    if (d->plan.facts.beyond_capacity)
        return ts_buf_puts(out, l == ESC_LANG_VI
                                    ? "Đề nghị hỗ trợ ứng cứu: sự cố vượt quá khả năng xử lý "
                                      "của đơn vị vận hành"
                                    : "Response support requested: the incident is beyond the "
                                      "operator's capacity");
    return ts_buf_puts(out, l == ESC_LANG_VI ? "Chưa đề nghị hỗ trợ" : "None requested");
}

static const char *recipient_name(const struct esc_doc *d, enum esc_lang l)
{
    for (size_t i = 0; d->org && i < d->org->nrecipients; i++)
        if (!strcmp(d->org->recipients[i].id, d->rcpt->id) && d->org->recipients[i].name)
            return d->org->recipients[i].name;
    if (d->rcpt->role == ESC_ROLE_MANAGING_BODY && d->plan.facts.system &&
        d->plan.facts.system->managing_body)
        return d->plan.facts.system->managing_body;
    return esc_text_get(&d->rcpt->name, l);
}

/* ----------------------------------------------------------------- JSON */

struct texts {
    struct ts_buf v[2];
};

static void texts_init(struct texts *t)
{
    ts_buf_init(&t->v[0], 64u << 10);
    ts_buf_init(&t->v[1], 64u << 10);
}

static void texts_free(struct texts *t)
{
    ts_buf_free(&t->v[0]);
    ts_buf_free(&t->v[1]);
}

static int texts_fill(const struct esc_doc *d, struct texts *t,
                      int (*fn)(const struct esc_doc *, enum esc_lang, struct ts_buf *))
{
    int rc = fn(d, ESC_LANG_VI, &t->v[0]);
    return rc ? rc : fn(d, ESC_LANG_EN, &t->v[1]);
}

static void json_contact(struct jw *w, const char *key, const struct esc_contact *c)
{
    jw_open(w, key, "{");
    jw_str(w, "name", c ? c->name : NULL);
    jw_str(w, "role", c ? c->role : NULL);
    jw_str(w, "phone", c ? c->phone : NULL);
    jw_str(w, "email", c ? c->email : NULL);
    jw_close(w, "}");
}

static void json_strs(struct jw *w, const char *key, const char *const *v, size_t n)
{
    jw_open(w, key, "[");
    for (size_t i = 0; i < n; i++)
        jw_str(w, NULL, v[i]);
    jw_close(w, "]");
}

/* The reporting organisation's and the affected system's fields that the
 * form JSON and the STIX extension (esc_form_ext_json) both carry, written
 * in one place. The form (ext false) writes every key, null when unknown;
 * the extension only those known, the signer flat and two keys renamed
 * (system_id, operating_system). Into the object the caller opened. */
static void jw_field(struct jw *w, bool ext, const char *key, const char *v)
{
    if (ext)
        jw_opt(w, key, v);
    else
        jw_str(w, key, v);
}

static void json_org_fields(struct jw *w, const struct esc_org *o, bool ext)
{
    jw_field(w, ext, "place", o ? o->place : NULL);
    jw_field(w, ext, "security_provider", o ? o->security_provider : NULL);
    jw_field(w, ext, "network_provider", o ? o->network_provider : NULL);
    if (ext) {
        if (o && o->confidential >= 0)
            jw_bool(w, "confidential", o->confidential != 0);
        jw_opt(w, "signer_name", o ? o->signer.name : NULL);
        jw_opt(w, "signer_role", o ? o->signer.role : NULL);
        return;
    }
    jw_sep(w, "confidential");
    jw_raw(w, !o || o->confidential < 0 ? "null" : o->confidential ? "true" : "false");
    jw_open(w, "signer", "{");
    jw_str(w, "name", o ? o->signer.name : NULL);
    jw_str(w, "role", o ? o->signer.role : NULL);
    jw_close(w, "}");
}

static void json_system_fields(struct jw *w, const struct esc_system *s,
                               const struct esc_org *o, bool ext)
{
    jw_field(w, ext, ext ? "system_id" : "id", s ? s->id : NULL);
    jw_field(w, ext, "name", s ? s->name : NULL);
    jw_field(w, ext, "operator", s ? s->operator_ : NULL);
    jw_field(w, ext, "managing_body", s ? s->managing_body : NULL);
    if (s)
        jw_int(w, "security_level", s->level);
    else if (!ext)
        jw_str(w, "security_level", NULL);
    if (!ext) {
        json_strs(w, "domains", s ? s->domains : NULL, s ? s->ndomains : 0);
        json_strs(w, "public_ips", s ? s->public_ips : NULL, s ? s->npublic_ips : 0);
        json_strs(w, "hostnames", s ? s->hostnames : NULL, s ? s->nhostnames : 0);
        jw_open(w, "contacts", "[");
        for (size_t i = 0; s && i < s->ncontacts; i++)
            json_contact(w, NULL, &s->contacts[i]);
        jw_close(w, "]");
    }
    jw_field(w, ext, "purpose", o ? o->system_purpose : NULL);
    jw_field(w, ext, ext ? "operating_system" : "os", o ? o->os : NULL);
    jw_field(w, ext, "services", o ? o->services : NULL);
    jw_field(w, ext, "security_measures", o ? o->security_measures : NULL);
}

/* "notified": the recipients other than this report's that the incident's
 * reports were delivered to, and when (ext: no delivered_at when unknown;
 * the form: null). */
static void json_notified(struct jw *w, const struct esc_doc *d, bool ext)
{
    jw_open(w, "notified", "[");
    for (size_t i = 0; i < d->o->nsent; i++) {
        const struct esc_sent *x = &d->o->sent[i];
        if (!x->recipient || (d->rcpt && !strcmp(x->recipient, d->rcpt->id)))
            continue;
        jw_open(w, NULL, "{");
        jw_str(w, "recipient", x->recipient);
        if (x->at_ns || !ext)
            jw_time(w, "delivered_at", x->at_ns);
        jw_close(w, "}");
    }
    jw_close(w, "]");
}

#define NOTIFIED_NONE_VI "chưa gửi"
#define NOTIFIED_NONE_EN "not sent yet"
static bool report_holds(const struct esc_doc *d);
static int notified_text(const struct esc_doc *d, enum esc_lang l, const char *none,
                         struct ts_buf *out);
static int outcome_text(const struct esc_doc *d, enum esc_lang l, struct ts_buf *out);

int esc_render_json(const struct esc_doc *d, struct ts_buf *out)
{
    const struct store_incident *inc = d->inc;
    const struct esc_regime *r = d->env->regime;
    const struct esc_facts *f = &d->plan.facts;
    const struct esc_system *s = f->system;
    struct texts desc, sym, imp, act, sup, notv, outc;
    texts_init(&notv);
    texts_init(&outc);
    texts_init(&desc);
    texts_init(&sym);
    texts_init(&imp);
    texts_init(&act);
    texts_init(&sup);
    struct ts_buf rid;
    ts_buf_init(&rid, 1024);
    int rc = texts_fill(d, &desc, esc_describe);
    rc = rc ? rc : texts_fill(d, &sym, symptoms_text);
    rc = rc ? rc : texts_fill(d, &imp, impact_text);
    rc = rc ? rc : texts_fill(d, &act, actions_text);
    rc = rc ? rc : texts_fill(d, &sup, support_text);
    rc = rc ? rc : notified_text(d, ESC_LANG_VI, NOTIFIED_NONE_VI, &notv.v[0]);
    rc = rc ? rc : notified_text(d, ESC_LANG_EN, NOTIFIED_NONE_EN, &notv.v[1]);
    rc = rc ? rc : texts_fill(d, &outc, outcome_text);
    rc = rc ? rc : esc_report_id(d, &rid);
    struct jw w = {.b = out, .rc = rc};
    jw_open(&w, NULL, "{");
    jw_str(&w, "schema", "https://tocsin.example/schemas/escalation-report/1");
    jw_str(&w, "report_id", rid.data);
    jw_time(&w, "generated_at", d->now_ns);

    jw_open(&w, "regime", "{");
    jw_str(&w, "id", r->id);
    jw_str(&w, "title_vi", esc_text_get(&r->title, ESC_LANG_VI));
    jw_str(&w, "title_en", esc_text_get(&r->title, ESC_LANG_EN));
    json_strs(&w, "basis", r->basis, r->nbasis);
    jw_close(&w, "}");

    jw_open(&w, "report", "{");
    jw_str(&w, "id", d->report ? d->report->id : NULL);
    jw_str(&w, "stage", esc_stage_name(d->o->stage));
    jw_str(&w, "form", d->report ? d->report->form : NULL);
    jw_str(&w, "title_vi", d->report ? esc_text_get(&d->report->title, ESC_LANG_VI) : NULL);
    jw_str(&w, "title_en", d->report ? esc_text_get(&d->report->title, ESC_LANG_EN) : NULL);
    jw_bool(&w, "mandatory", d->due ? d->due->mandatory : false);
    jw_time(&w, "due_at", d->due ? d->due->due_ns : 0);
    /* forms 03/04 (issue 13): the same decision as the text's heading */
    jw_bool(&w, "voluntary", !report_holds(d));
    jw_str(&w, "basis", report_holds(d) ? d->report->basis : NULL);
    jw_text(&w, "notified_to", &notv.v[0], &notv.v[1]);
    json_notified(&w, d, false); /* the same, as data: confirmed deliveries */
    jw_str(&w, "initial_ref", d->o->initial_ref);
    jw_time(&w, "initial_at", d->o->initial_at_ns);
    jw_close(&w, "}");

    jw_open(&w, "recipient", "{");
    jw_str(&w, "id", d->rcpt->id);
    static const char *const roles[] = {"managing_body", "response_unit", "national", "other"};
    jw_str(&w, "role", roles[d->rcpt->role]);
    jw_str(&w, "name_vi", recipient_name(d, ESC_LANG_VI));
    jw_str(&w, "name_en", recipient_name(d, ESC_LANG_EN));
    jw_close(&w, "}");

    jw_open(&w, "reporting_organisation", "{");
    jw_str(&w, "tenant", inc->tenant ? inc->tenant : "");
    jw_str(&w, "name", d->org ? d->org->name : NULL);
    jw_str(&w, "address", d->org ? d->org->address : NULL);
    jw_str(&w, "phone", d->org ? d->org->phone : NULL);
    jw_str(&w, "email", d->org ? d->org->email : NULL);
    json_contact(&w, "contact", d->org ? &d->org->contact : NULL);
    json_org_fields(&w, d->org, false);
    jw_close(&w, "}");

    jw_open(&w, "affected_system", "{");
    json_system_fields(&w, s, d->org, false);
    jw_close(&w, "}");

    jw_open(&w, "incident", "{");
    jw_str(&w, "id", inc->id);
    jw_int(&w, "revision", (long long)inc->revision);
    jw_str(&w, "tenant", inc->tenant ? inc->tenant : "");
    jw_str(&w, "severity", store_severity_name(inc->severity));
    jw_str(&w, "group_key", inc->group_key ? inc->group_key : "");
    jw_int(&w, "event_count", (long long)inc->count);
    jw_time(&w, "first_seen", inc->first_seen_ns);
    jw_time(&w, "last_seen", inc->last_seen_ns);
    jw_close(&w, "}");

    jw_text(&w, "description", &desc.v[0], &desc.v[1]);
    jw_open(&w, "type", "{");
    jw_str(&w, "id", esc_type_name(f->cls.type));
    jw_str(&w, "name_vi", esc_type_label(d->env->taxonomy, f->cls.type, ESC_LANG_VI));
    jw_str(&w, "name_en", esc_type_label(d->env->taxonomy, f->cls.type, ESC_LANG_EN));
    jw_str(&w, "primary", esc_type_name(f->cls.primary));
    jw_open(&w, "all", "[");
    for (unsigned b = 0; b < ESC_TYPE_COUNT; b++)
        if (f->cls.types & (1u << b))
            jw_str(&w, NULL, esc_type_name((enum esc_type)b));
    jw_close(&w, "]");
    jw_close(&w, "}");
    jw_text(&w, "symptoms", &sym.v[0], &sym.v[1]);

    jw_open(&w, "impact", "{");
    jw_open(&w, "categories", "[");
    for (unsigned b = 0; b < ESC_IMPACT_COUNT; b++)
        if (f->cls.impacts & (1u << b))
            jw_str(&w, NULL, esc_impact_name(b));
    jw_close(&w, "]");
    jw_bool(&w, "serious", f->serious);
    jw_bool(&w, "national_security", f->national_security);
    jw_bool(&w, "beyond_capacity", f->beyond_capacity);
    jw_text(&w, "description", &imp.v[0], &imp.v[1]);
    jw_close(&w, "}");

    jw_time(&w, "detected_at", f->detected_ns);
    jw_open(&w, "status", "{");
    jw_str(&w, "incident", store_status_name(inc->status));
    jw_bool(&w, "contained", !f->open);
    jw_str(&w, "response", f->open ? "ongoing" : "ended");
    jw_time(&w, "response_ended_at", f->response_end_ns);
    jw_text(&w, "outcome", &outc.v[0], &outc.v[1]);
    jw_str(&w, "changed_by", inc->status_by ? inc->status_by : "");
    jw_time(&w, "changed_at", inc->status_ns);
    jw_close(&w, "}");

    jw_open(&w, "detection", "{");
    jw_str(&w, "method", "sigma");
    jw_str(&w, "rule_id", inc->rule_id);
    jw_str(&w, "rule_title", inc->rule_title);
    jw_str(&w, "rule_level", inc->level);
    jw_str(&w, "author", inc->author);
    json_strs(&w, "tags", inc->tags, inc->ntags);
    jw_close(&w, "}");

    jw_text(&w, "actions_taken", &act.v[0], &act.v[1]);
    jw_text(&w, "support_requested", &sup.v[0], &sup.v[1]);

    jw_open(&w, "evidence", "{");
    jw_int(&w, "count", (long long)(inc->evidence_next ? inc->evidence_next : d->o->nevidence));
    jw_int(&w, "dropped", (long long)inc->evidence_dropped);
    jw_open(&w, "references", "[");
    size_t nraw = 0;
    for (size_t i = 0; i < d->o->nevidence && i < ESC_EVIDENCE_REFS_MAX; i++) {
        const struct store_evidence *e = &d->o->evidence[i];
        jw_open(&w, NULL, "{");
        jw_int(&w, "seq", e->seq);
        jw_str(&w, "source", e->source ? e->source : "");
        jw_int(&w, "partition", e->partition);
        jw_int(&w, "offset", e->offset);
        jw_time(&w, "event_time", e->event_ns);
        jw_bool(&w, "late", e->late);
        if (e->raw && e->raw_len && nraw < ESC_EVIDENCE_RAW_MAX) {
            size_t n = e->raw_len > ESC_RAW_EXCERPT_MAX ? ESC_RAW_EXCERPT_MAX : e->raw_len;
            jw_strn(&w, "raw_excerpt", e->raw, ts_utf8_valid_prefix(e->raw, n));
            jw_bool(&w, "raw_truncated", n < e->raw_len || e->raw_truncated);
            nraw++;
        }
        jw_close(&w, "}");
    }
    jw_close(&w, "]");
    jw_bool(&w, "references_truncated", d->o->nevidence > ESC_EVIDENCE_REFS_MAX);
    jw_close(&w, "}");
    jw_close(&w, "}");
    texts_free(&desc);
    texts_free(&sym);
    texts_free(&imp);
    texts_free(&act);
    texts_free(&sup);
    texts_free(&notv);
    texts_free(&outc);
    ts_buf_free(&rid);
    return w.rc;
}

/* ----------------------------------------------------------------- text */

/* Code points a text report never writes as they are: C0 and DEL, C1, the
 * line and paragraph separators and the bidirectional controls (which
 * reorder what a reader sees). */
static bool hidden_cp(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
           cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

int esc_text_escape(struct ts_buf *out, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    int rc = 0;
    size_t i = 0;
    while (!rc && i < n) {
        size_t run = i;
        while (run < n && u[run] >= 0x20 && u[run] < 0x7f)
            run++;
        if (run > i) {
            rc = ts_buf_append(out, s + i, run - i);
            i = run;
            continue;
        }
        unsigned c = u[i];
        size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
        if (len == 0 || len > n - i || ts_utf8_valid_prefix(s + i, len) != len) {
            rc = ts_buf_printf(out, "\\x%02x", c); /* not UTF-8 */
            i++;
            continue;
        }
        uint32_t cp = len == 1 ? c : c & (0x7fu >> len);
        for (size_t k = 1; k < len; k++)
            cp = cp << 6 | (u[i + k] & 0x3fu);
        if (!hidden_cp(cp))
            rc = ts_buf_append(out, s + i, len);
        else if (cp == '\r' || cp == '\n' || cp == '\t')
            rc = ts_buf_puts(out, cp == '\r' ? "\\r" : cp == '\n' ? "\\n" : "\\t");
        else if (cp < 0x80)
            rc = ts_buf_printf(out, "\\x%02x", (unsigned)cp);
        else
            rc = ts_buf_printf(out, "\\u%04x", (unsigned)cp);
        i += len;
    }
    return rc;
}

static int put_esc(struct ts_buf *out, const char *s)
{
    return s ? esc_text_escape(out, s, strlen(s)) : 0;
}

struct txt_labels {
    const char *heading[3]; /* by stage, for a report without its own heading */
    const char *nation, *motto, *number, *basis, *form, *to, *due, *written_at,
        *confidential, *voluntary, *not_final;
    const char *unset, *none, *yes, *no;
    const char *sec_org, *org_name, *address, *phone, *email, *contact, *sec_provider,
        *net_provider;
    const char *sec_sys, *sys_name, *op, *mb, *level, *purpose, *os, *services, *measures,
        *domains, *ips;
    const char *sec_inc, *desc, *type, *symptoms, *impact, *potential, *detected, *status,
        *serious, *natsec, *beyond, *incident_id, *notified, *notified_none;
    const char *initial_ref, *result;
    const char *sec_det, *rule, *author, *rule_level, *tags;
    const char *sec_act, *sec_sup, *sec_ev, *ev_count, *ev_log, *sign_for, *sign_how;
};

static const struct txt_labels labels_vi = {
    {"BÁO CÁO BAN ĐẦU SỰ CỐ MẠNG", "BÁO CÁO CẬP NHẬT SỰ CỐ MẠNG",
     "BÁO CÁO KẾT THÚC ỨNG PHÓ SỰ CỐ MẠNG"},
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "Số",
    "Căn cứ", "Mẫu báo cáo", "Kính gửi",
    "Thời hạn báo cáo", "Thời gian thực hiện báo cáo", "Giữ bí mật",
    "Báo cáo tự nguyện theo chính sách của đơn vị, không thuộc diện bắt buộc của chế độ báo cáo",
    "LƯU Ý: sự cố chưa kết thúc ứng phó; văn bản này chưa phải báo cáo kết thúc",
    "chưa khai báo", "không có", "Có", "Không",
    "1. THÔNG TIN TỔ CHỨC BÁO CÁO", "Tên tổ chức", "Địa chỉ", "Điện thoại", "Thư điện tử",
    "Người liên hệ", "Nhà cung cấp dịch vụ an ninh mạng", "Nhà cung cấp dịch vụ kết nối mạng",
    "2. THÔNG TIN HỆ THỐNG BỊ SỰ CỐ", "Tên hệ thống", "Đơn vị vận hành", "Cơ quan chủ quản",
    "Cấp độ hệ thống thông tin", "Mục đích, chức năng của hệ thống", "Hệ điều hành, phiên bản",
    "Các dịch vụ đang chạy", "Các biện pháp bảo đảm an ninh mạng đã triển khai", "Tên miền",
    "Địa chỉ IP công khai",
    "3. THÔNG TIN VỀ SỰ CỐ", "Mô tả sự cố", "Loại sự cố", "Dấu hiệu phát hiện",
    "Ảnh hưởng, thiệt hại đã ghi nhận", "Nguy cơ theo loại sự cố (chưa ghi nhận)",
    "Thời điểm phát hiện", "Tình trạng hiện tại", "Sự cố nghiêm trọng",
    "Có dấu hiệu xâm phạm an ninh quốc gia, trật tự, an toàn xã hội",
    "Vượt quá khả năng xử lý", "Mã sự cố", "Đã gửi thông báo sự cố cho", NOTIFIED_NONE_VI,
    "Tham chiếu báo cáo ban đầu (số, ngày)", "Kết quả xử lý sự cố",
    "4. PHƯƠNG THỨC PHÁT HIỆN", "Luật phát hiện", "Tác giả luật", "Mức độ của luật",
    "Nhãn kỹ thuật",
    "5. CÁC BIỆN PHÁP ĐÃ THỰC HIỆN", "6. ĐỀ NGHỊ HỖ TRỢ", "7. TÀI LIỆU, CHỨNG CỨ KÈM THEO",
    "Số sự kiện làm chứng cứ", "nhật ký", "ĐẠI DIỆN TỔ CHỨC BÁO CÁO",
    "(Ký, ghi rõ họ tên, chức danh và đóng dấu)",
};

static const struct txt_labels labels_en = {
    {"INITIAL REPORT OF A NETWORK INCIDENT", "UPDATE REPORT OF A NETWORK INCIDENT",
     "FINAL REPORT ON THE RESPONSE TO A NETWORK INCIDENT"},
    "SOCIALIST REPUBLIC OF VIET NAM", "Independence - Freedom - Happiness", "No.",
    "Legal basis", "Form", "To", "Due", "Written at", "Confidential",
    "Voluntary report under the organisation's policy, not required by the regime",
    "NOTE: the response to this incident has not ended; this is not yet the final report",
    "not configured", "none", "Yes", "No",
    "1. REPORTING ORGANISATION", "Name", "Address", "Phone", "Email", "Contact person",
    "Security service provider", "Network provider",
    "2. AFFECTED SYSTEM", "System name", "Operator", "Managing body", "Security level",
    "Purpose of the system", "Operating system and version", "Services running",
    "Security measures in place", "Domains", "Public IP addresses",
    "3. INCIDENT", "Description", "Incident type", "Symptoms", "Impact observed",
    "Possible impact of this type (not observed)", "Detected at", "Current status",
    "Serious incident", "Signs of harm to national security or public order",
    "Beyond the operator's capacity", "Incident id", "Incident notice already sent to",
    NOTIFIED_NONE_EN,
    "Initial report referred to (number, date)", "Outcome of the response",
    "4. DETECTION METHOD", "Detection rule", "Rule author", "Rule level", "Technique tags",
    "5. ACTIONS TAKEN", "6. SUPPORT REQUESTED", "7. EVIDENCE ATTACHED",
    "Evidence events", "log", "FOR THE REPORTING ORGANISATION",
    "(Signature, full name, title and seal)",
};

/* Values (configuration, incident, event text) are written escaped: one
 * line each, whatever they hold. Labels and layout are ours. */
static int kv_line(struct ts_buf *b, const char *indent, const char *label, const char *value)
{
    int rc = ts_buf_printf(b, "%s%s: ", indent, label);
    rc = rc ? rc : put_esc(b, value);
    return rc ? rc : ts_buf_putc(b, '\n');
}

/* A field of the form: its value, or "chưa khai báo" (never a dropped line). */
static int line(struct ts_buf *b, const char *label, const char *value, const char *unset)
{
    return kv_line(b, "   ", label, value && *value ? value : unset);
}

static int list_line(struct ts_buf *b, const char *label, const char *const *v, size_t n,
                     const char *none)
{
    int rc = ts_buf_printf(b, "   %s: ", label);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = i ? ts_buf_puts(b, ", ") : 0;
        rc = rc ? rc : put_esc(b, v[i]);
    }
    if (!rc && n == 0)
        rc = ts_buf_puts(b, none);
    return rc ? rc : ts_buf_putc(b, '\n');
}

/* A paragraph of generated text (fn) under a heading, escaped. */
static int para(struct ts_buf *out, struct ts_buf *tmp, const struct esc_doc *d, enum esc_lang l,
                int (*fn)(const struct esc_doc *, enum esc_lang, struct ts_buf *))
{
    ts_buf_reset(tmp);
    int rc = fn(d, l, tmp);
    rc = rc ? rc : ts_buf_puts(out, "   ");
    rc = rc ? rc : esc_text_escape(out, tmp->data ? tmp->data : "", tmp->len);
    return rc ? rc : ts_buf_putc(out, '\n');
}

/* ATT&CK tactics (the tags Sigma rules carry as attack.<tactic>) by name. */
static const struct {
    const char *tag;
    struct l10n name;
} tactics[] = {
    {"reconnaissance", {"trinh sát", "reconnaissance"}},
    {"resource_development", {"chuẩn bị hạ tầng tấn công", "resource development"}},
    {"initial_access", {"truy cập ban đầu", "initial access"}},
    {"execution", {"thực thi mã", "execution"}},
    {"persistence", {"duy trì hiện diện", "persistence"}},
    {"privilege_escalation", {"leo thang đặc quyền", "privilege escalation"}},
    {"defense_evasion", {"né tránh phòng thủ", "defense evasion"}},
    {"credential_access", {"đánh cắp thông tin xác thực", "credential access"}},
    {"discovery", {"dò quét, khám phá hệ thống", "discovery"}},
    {"lateral_movement", {"di chuyển ngang trong mạng", "lateral movement"}},
    {"collection", {"thu thập dữ liệu", "collection"}},
    {"command_and_control", {"điều khiển từ xa", "command and control"}},
    {"exfiltration", {"đánh cắp dữ liệu ra ngoài", "exfiltration"}},
    {"impact", {"gây tác động, phá hoại", "impact"}},
};

/* One rule tag in words: attack.t1110.001 -> "kỹ thuật ATT&CK T1110.001",
 * attack.credential_access -> "chiến thuật ATT&CK: đánh cắp thông tin xác
 * thực"; other tags (cve..., car..., detection...) are identifiers, kept. */
static int tag_words(struct ts_buf *b, const char *tag, enum esc_lang l)
{
    if (strncasecmp(tag, "attack.", 7) == 0) {
        const char *t = tag + 7;
        if ((t[0] == 't' || t[0] == 'T') && t[1] >= '0' && t[1] <= '9') {
            int rc = ts_buf_puts(b, l == ESC_LANG_VI ? "kỹ thuật ATT&CK " : "ATT&CK technique ");
            for (; !rc && *t; t++)
                rc = ts_buf_putc(b, (char)(*t >= 'a' && *t <= 'z' ? *t - 32 : *t));
            return rc;
        }
        for (size_t i = 0; i < TS_ARRAY_LEN(tactics); i++)
            if (!strcasecmp(t, tactics[i].tag))
                return ts_buf_printf(b, "%s%s",
                                     l == ESC_LANG_VI ? "chiến thuật ATT&CK: "
                                                      : "ATT&CK tactic: ",
                                     L(l, tactics[i].name));
        if ((t[0] == 'g' || t[0] == 'G' || t[0] == 's' || t[0] == 'S') && t[1] >= '0' &&
            t[1] <= '9')
            return ts_buf_printf(b, "%s%s",
                                 l == ESC_LANG_VI ? "nhóm/phần mềm ATT&CK " : "ATT&CK group/software ",
                                 t);
    }
    return esc_text_escape(b, tag, strlen(tag));
}

/* The rule's level ("high"...) in the language; an unknown word is kept. */
static const char *level_words(const char *level, enum esc_lang l)
{
    static const char *const names[] = {"informational", "low", "medium", "high", "critical"};
    for (uint8_t i = 0; level && i < 5; i++)
        if (!strcasecmp(level, names[i]))
            return sev_label(i, l);
    return level;
}

/* The regime's conditions the report needs all hold for the facts: the
 * heading and the body then say the same thing. A report sent though its
 * conditions do not hold (a policy's voluntary escalation) is written
 * under the stage's plain heading and marked voluntary. */
static bool report_holds(const struct esc_doc *d)
{
    const struct esc_facts *f = &d->plan.facts;
    if (!d->report)
        return false;
    unsigned have = (f->reportable ? ESC_WHEN_INCIDENT : 0) | (f->serious ? ESC_WHEN_SERIOUS : 0) |
                    (f->national_security ? ESC_WHEN_NATSEC : 0) |
                    (f->beyond_capacity ? ESC_WHEN_BEYOND : 0);
    return (d->report->when & have) == d->report->when;
}

/* Who was already told (form 03 "Đã gửi thông báo sự cố cho"): the
 * recipients the outbox confirmed a delivery to (o->sent), other than this
 * report's own, each with the time of that delivery - not the planned
 * ones, which may still be waiting or failing. */
static int notified_text(const struct esc_doc *d, enum esc_lang l, const char *none,
                         struct ts_buf *out)
{
    int rc = 0;
    size_t n = 0;
    int off = d->org ? d->org->utc_offset_sec : 7 * 3600;
    for (size_t i = 0; !rc && i < d->o->nsent; i++) {
        const struct esc_sent *x = &d->o->sent[i];
        if (!x->recipient || (d->rcpt && !strcmp(x->recipient, d->rcpt->id)))
            continue;
        int ri = esc_regime_recipient(d->env->regime, x->recipient);
        struct esc_doc other = *d;
        if (ri >= 0)
            other.rcpt = &d->env->regime->recipients[ri];
        char t[48];
        esc_time_local(x->at_ns, off, t);
        rc = ts_buf_printf(out, "%s%s (%s %s)", n++ ? "; " : "",
                           ri >= 0 ? recipient_name(&other, l) : x->recipient,
                           l == ESC_LANG_VI ? "lúc" : "at", t);
    }
    if (!rc && !n)
        rc = ts_buf_puts(out, none);
    return rc;
}

struct sent_walk {
    struct esc_sent *out;
    size_t max, n;
    struct ts_arena *arena; /* the caller's: the recipients' names */
    struct ts_arena *scratch; /* each entry's record (payloads), reset */
    int rc;
};

static int on_sent(void *ctx, const struct store_outbox *e)
{
    struct sent_walk *w = ctx;
    if (!e->recipient || !*e->recipient)
        return 0;
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->out[i].recipient, e->recipient)) {
            if (e->done_ns && e->done_ns < w->out[i].at_ns)
                w->out[i].at_ns = e->done_ns;
            return 0;
        }
    if (w->n == w->max)
        return 0;
    char *r = ts_arena_strndup(w->arena, e->recipient, strlen(e->recipient));
    if (!r)
        return w->rc = TS_E_NOMEM;
    w->out[w->n++] = (struct esc_sent){r, e->done_ns};
    return 0;
}

static int on_sent_entry(void *ctx, const struct store_outbox *e)
{
    struct sent_walk *w = ctx;
    int rc = on_sent(ctx, e);
    ts_arena_reset(w->scratch); /* the entry's payload is not kept */
    return rc;
}

int esc_sent_read(struct store_txn *t, const char *incident_id, struct ts_arena *arena,
                  struct esc_sent *out, size_t max, size_t *n)
{
    *n = 0;
    char prefix[STORE_ID_MAX + 2];
    int w = snprintf(prefix, sizeof(prefix), "%s:", incident_id ? incident_id : "");
    if (w <= 1 || (size_t)w >= sizeof(prefix))
        return TS_E_INVAL;
    struct sent_walk sw = {out, max, 0, arena, NULL, 0};
    if (ts_arena_create(&sw.scratch, 64u << 10, (size_t)STORE_PAYLOAD_MAX * 2) != 0)
        return TS_E_NOMEM;
    int rc = store_outbox_list_prefix(t, prefix, 1u << STORE_OUTBOX_DELIVERED, sw.scratch,
                                      on_sent_entry, &sw);
    ts_arena_destroy(sw.scratch);
    *n = sw.n;
    /* by delivery time */
    for (size_t i = 1; i < sw.n; i++)
        for (size_t j = i; j > 0 && out[j].at_ns < out[j - 1].at_ns; j--) {
            struct esc_sent tmp = out[j];
            out[j] = out[j - 1];
            out[j - 1] = tmp;
        }
    return rc;
}

static int outcome_text(const struct esc_doc *d, enum esc_lang l, struct ts_buf *out)
{
    const struct store_incident *inc = d->inc;
    int off = d->org ? d->org->utc_offset_sec : 7 * 3600;
    char t[48];
    if (d->plan.facts.open)
        return ts_buf_printf(out, "%s",
                             l == ESC_LANG_VI ? "Chưa kết thúc: sự cố đang được xử lý"
                                              : "Not ended: the incident is being handled");
    esc_time_local(d->plan.facts.response_end_ns, off, t);
    return ts_buf_printf(out,
                         l == ESC_LANG_VI ? "Đã xử lý xong, kết thúc ứng phó lúc %s (xác nhận: %s)"
                                          : "Resolved, response ended at %s (confirmed by %s)",
                         t, inc->status_by && *inc->status_by ? inc->status_by : "?");
}

int esc_render_text(const struct esc_doc *d, struct ts_buf *out)
{
    enum esc_lang l = d->o->lang;
    const struct txt_labels *x = l == ESC_LANG_VI ? &labels_vi : &labels_en;
    const struct store_incident *inc = d->inc;
    const struct esc_facts *f = &d->plan.facts;
    const struct esc_system *s = f->system;
    const struct esc_regime *r = d->env->regime;
    const struct esc_org *org = d->org;
    const char *U = x->unset;
    int off = org ? org->utc_offset_sec : 7 * 3600;
    bool holds = report_holds(d);
    char t[48];
    struct ts_buf tmp, rid;
    ts_buf_init(&tmp, 64u << 10);
    ts_buf_init(&rid, 1024);
    int rc = esc_report_id(d, &rid);

    /* Letterhead: the organisation, the national motto, number, place and date. */
    rc = rc ? rc : ts_buf_puts(out, "");
    rc = rc ? rc : put_esc(out, org && org->name ? org->name : U);
    rc = rc ? rc : ts_buf_printf(out, "\n%s\n%s\n%s: ", x->nation, x->motto, x->number);
    rc = rc ? rc : put_esc(out, rid.data);
    if (!rc) {
        int64_t sec = d->now_ns / TS_NS_PER_SEC + off;
        int64_t days = sec / 86400 - (sec % 86400 < 0 ? 1 : 0), y;
        unsigned m, dd;
        ts_civil_from_days(days, &y, &m, &dd);
        ts_buf_reset(&tmp);
        const char *place = org && org->place ? org->place : U;
        rc = l == ESC_LANG_VI
                 ? ts_buf_printf(&tmp, "%s, ngày %02u tháng %02u năm %04lld", place, dd, m,
                                 (long long)y)
                 : ts_buf_printf(&tmp, "%s, %04lld-%02u-%02u", place, (long long)y, m, dd);
        rc = rc ? rc : ts_buf_putc(out, '\n');
        rc = rc ? rc : put_esc(out, tmp.data);
        rc = rc ? rc : ts_buf_puts(out, "\n\n");
    }

    /* Heading and title: from the same decision as the body's facts. */
    const char *heading = holds && (d->report->heading.vi || d->report->heading.en)
                              ? esc_text_get(&d->report->heading, l)
                              : x->heading[d->o->stage];
    rc = rc ? rc : put_esc(out, heading);
    rc = rc ? rc : ts_buf_putc(out, '\n');
    if (!rc && holds && (d->report->title.vi || d->report->title.en)) {
        rc = ts_buf_putc(out, '(');
        rc = rc ? rc : put_esc(out, esc_text_get(&d->report->title, l));
        rc = rc ? rc : ts_buf_puts(out, ")\n");
    }
    if (!rc && !holds)
        rc = ts_buf_printf(out, "(%s)\n", x->voluntary);
    if (!rc && d->o->stage == ESC_STAGE_FINAL && f->open)
        rc = ts_buf_printf(out, "%s\n", x->not_final);
    rc = rc ? rc : ts_buf_puts(out, "\n");

    /* The legal basis, once: the report's article, else the regime's texts. */
    ts_buf_reset(&tmp);
    if (holds && d->report->basis)
        rc = rc ? rc : ts_buf_puts(&tmp, d->report->basis);
    for (size_t i = 0; !rc && !(holds && d->report->basis) && i < r->nbasis; i++)
        rc = ts_buf_printf(&tmp, "%s%s", i ? "; " : "", r->basis[i]);
    rc = rc ? rc : kv_line(out, "", x->basis, tmp.len ? tmp.data : U);
    if (!rc && r->lapsed)
        rc = kv_line(out, "", l == ESC_LANG_VI ? "Lưu ý" : "Note", r->lapsed);
    if (!rc && holds && d->report->form)
        rc = kv_line(out, "", x->form, d->report->form);
    rc = rc ? rc : kv_line(out, "", x->to, recipient_name(d, l));
    if (!rc && d->due && d->due->due_ns) {
        esc_time_local(d->due->due_ns, off, t);
        rc = kv_line(out, "", x->due, t);
    }
    esc_time_local(d->now_ns, off, t);
    rc = rc ? rc : kv_line(out, "", x->written_at, t);
    rc = rc ? rc
            : kv_line(out, "", x->confidential,
                      !org || org->confidential < 0 ? U : org->confidential ? x->yes : x->no);

    rc = rc ? rc : ts_buf_printf(out, "\n%s\n", x->sec_org);
    rc = rc ? rc : line(out, x->org_name, org ? org->name : NULL, U);
    rc = rc ? rc : line(out, x->address, org ? org->address : NULL, U);
    rc = rc ? rc : line(out, x->phone, org ? org->phone : NULL, U);
    rc = rc ? rc : line(out, x->email, org ? org->email : NULL, U);
    ts_buf_reset(&tmp);
    if (!rc && org && (org->contact.name || org->contact.email || org->contact.phone)) {
        const struct esc_contact *c = &org->contact;
        rc = ts_buf_printf(&tmp, "%s%s%s%s%s%s%s%s", c->name ? c->name : "",
                           c->role ? " (" : "", c->role ? c->role : "", c->role ? ")" : "",
                           c->phone ? ", " : "", c->phone ? c->phone : "",
                           c->email ? ", " : "", c->email ? c->email : "");
    }
    rc = rc ? rc : line(out, x->contact, tmp.data, U);
    rc = rc ? rc : line(out, x->sec_provider, org ? org->security_provider : NULL, U);
    rc = rc ? rc : line(out, x->net_provider, org ? org->network_provider : NULL, U);

    rc = rc ? rc : ts_buf_printf(out, "\n%s\n", x->sec_sys);
    rc = rc ? rc : line(out, x->sys_name, s ? s->name : NULL, U);
    rc = rc ? rc : line(out, x->op, s ? s->operator_ : NULL, U);
    rc = rc ? rc : line(out, x->mb, s ? s->managing_body : NULL, U);
    if (!rc) {
        char lv[8];
        snprintf(lv, sizeof(lv), "%d", s ? s->level : 0);
        rc = line(out, x->level, s ? lv : NULL, U);
    }
    rc = rc ? rc : line(out, x->purpose, org ? org->system_purpose : NULL, U);
    rc = rc ? rc : line(out, x->os, org ? org->os : NULL, U);
    rc = rc ? rc : line(out, x->services, org ? org->services : NULL, U);
    rc = rc ? rc : line(out, x->measures, org ? org->security_measures : NULL, U);
    rc = rc ? rc : list_line(out, x->domains, s ? s->domains : NULL, s ? s->ndomains : 0,
                             s ? x->none : U);
    rc = rc ? rc : list_line(out, x->ips, s ? s->public_ips : NULL, s ? s->npublic_ips : 0,
                             s ? x->none : U);

    rc = rc ? rc : ts_buf_printf(out, "\n%s\n", x->sec_inc);
    rc = rc ? rc : line(out, x->incident_id, inc->id, U);
    ts_buf_reset(&tmp);
    rc = rc ? rc : esc_describe(d, l, &tmp);
    rc = rc ? rc : line(out, x->desc, tmp.data, U);
    rc = rc ? rc : line(out, x->type, esc_type_label(d->env->taxonomy, f->cls.type, l), U);
    ts_buf_reset(&tmp);
    rc = rc ? rc : symptoms_text(d, l, &tmp);
    rc = rc ? rc : line(out, x->symptoms, tmp.data, U);
    ts_buf_reset(&tmp);
    rc = rc ? rc : impact_text(d, l, &tmp);
    rc = rc ? rc : line(out, x->impact, tmp.data, U);
    if (!rc && (f->cls.impacts & ~f->cls.tag_impacts)) {
        ts_buf_reset(&tmp);
        bool any = false;
        for (unsigned b = 0; !rc && b < ESC_IMPACT_COUNT; b++)
            if ((f->cls.impacts & ~f->cls.tag_impacts) & (1u << b)) {
                rc = ts_buf_printf(&tmp, "%s%s", any ? "; " : "", L(l, impact_labels[b]));
                any = true;
            }
        rc = rc ? rc : line(out, x->potential, tmp.data, U);
    }
    esc_time_local(f->detected_ns, off, t);
    rc = rc ? rc : line(out, x->detected, t, U);
    rc = rc ? rc
            : line(out, x->status,
                   (unsigned)inc->status < STORE_STATUS_COUNT ? L(l, status_labels[inc->status])
                                                              : "?",
                   U);
    rc = rc ? rc : line(out, x->serious, f->serious ? x->yes : x->no, U);
    rc = rc ? rc : line(out, x->natsec, f->national_security ? x->yes : x->no, U);
    rc = rc ? rc : line(out, x->beyond, f->beyond_capacity ? x->yes : x->no, U);
    ts_buf_reset(&tmp);
    rc = rc ? rc : notified_text(d, l, x->notified_none, &tmp);
    rc = rc ? rc : line(out, x->notified, tmp.data, U);
    if (!rc && d->o->stage == ESC_STAGE_FINAL) {
        ts_buf_reset(&tmp);
        if (d->o->initial_ref || d->o->initial_at_ns) {
            esc_time_local(d->o->initial_at_ns, off, t);
            rc = ts_buf_printf(&tmp, "%s, %s", d->o->initial_ref ? d->o->initial_ref : U,
                               d->o->initial_at_ns ? t : U);
        }
        rc = rc ? rc : line(out, x->initial_ref, tmp.data, U);
        ts_buf_reset(&tmp);
        rc = rc ? rc : outcome_text(d, l, &tmp);
        rc = rc ? rc : line(out, x->result, tmp.data, U);
    }

    rc = rc ? rc : ts_buf_printf(out, "\n%s\n", x->sec_det);
    ts_buf_reset(&tmp);
    rc = rc ? rc
            : ts_buf_printf(&tmp, "%s%s%s%s", inc->rule_title ? inc->rule_title : "",
                            inc->rule_id ? " (" : "", inc->rule_id ? inc->rule_id : "",
                            inc->rule_id ? ")" : "");
    rc = rc ? rc : line(out, x->rule, tmp.data, U);
    rc = rc ? rc : line(out, x->author, inc->author, U);
    rc = rc ? rc : line(out, x->rule_level, level_words(inc->level, l), U);
    rc = rc ? rc : ts_buf_printf(out, "   %s: ", x->tags);
    for (size_t i = 0; !rc && i < inc->ntags; i++) {
        rc = i ? ts_buf_puts(out, "; ") : 0;
        rc = rc ? rc : tag_words(out, inc->tags[i] ? inc->tags[i] : "", l);
    }
    rc = rc ? rc : ts_buf_printf(out, "%s\n", inc->ntags ? "" : x->none);

    rc = rc ? rc : ts_buf_printf(out, "\n%s\n", x->sec_act);
    rc = rc ? rc : para(out, &tmp, d, l, actions_text);
    rc = rc ? rc : ts_buf_printf(out, "\n%s\n", x->sec_sup);
    rc = rc ? rc : para(out, &tmp, d, l, support_text);
    rc = rc ? rc : ts_buf_printf(out, "\n%s\n", x->sec_ev);
    if (!rc) {
        char n[24];
        snprintf(n, sizeof(n), "%llu",
                 (unsigned long long)(inc->evidence_next ? inc->evidence_next : d->o->nevidence));
        rc = line(out, x->ev_count, n, U);
    }
    for (size_t i = 0; !rc && i < d->o->nevidence && i < 20; i++) {
        const struct store_evidence *e = &d->o->evidence[i];
        esc_time_local(e->event_ns, off, t);
        rc = ts_buf_printf(out, "   - #%u ", e->seq);
        rc = rc ? rc : put_esc(out, e->source ? e->source : "");
        if (rc)
            break;
        if (e->partition >= 0)
            rc = ts_buf_printf(out,
                               l == ESC_LANG_VI ? ", phân vùng %d, vị trí %lld, %s\n"
                                                : " [%d] offset %lld, %s\n",
                               e->partition, (long long)e->offset, t);
        else
            rc = ts_buf_printf(out, l == ESC_LANG_VI ? ", dòng %lld, %s\n" : ":%lld, %s\n",
                               (long long)e->offset, t);
        if (!rc && e->raw && e->raw_len && i < ESC_EVIDENCE_RAW_MAX) {
            size_t len = e->raw_len > ESC_TEXT_RAW_MAX ? ESC_TEXT_RAW_MAX : e->raw_len;
            len = ts_utf8_valid_prefix(e->raw, len);
            rc = ts_buf_printf(out, "     %s: ", x->ev_log);
            rc = rc ? rc : esc_text_escape(out, e->raw, len);
            rc = rc ? rc : ts_buf_puts(out, len < e->raw_len || e->raw_truncated ? " ...\n" : "\n");
        }
    }
    if (!rc && d->o->nevidence > 20) {
        rc = ts_buf_puts(out, "   ");
        rc = rc ? rc
                : ts_buf_printf(out, l == ESC_LANG_VI ? "và %zu tham chiếu khác\n"
                                                      : "and %zu more reference(s)\n",
                                d->o->nevidence - 20);
    }

    /* Signature block. */
    rc = rc ? rc : ts_buf_printf(out, "\n%s\n%s\n", x->sign_for, x->sign_how);
    ts_buf_reset(&tmp);
    if (!rc && org && (org->signer.name || org->signer.role))
        rc = ts_buf_printf(&tmp, "%s%s%s", org->signer.role ? org->signer.role : "",
                           org->signer.role && org->signer.name ? ": " : "",
                           org->signer.name ? org->signer.name : "");
    rc = rc ? rc : put_esc(out, tmp.len ? tmp.data : U);
    rc = rc ? rc : ts_buf_putc(out, '\n');
    ts_buf_free(&tmp);
    ts_buf_free(&rid);
    return rc;
}

/* ------------------------------------------------ STIX property extension */

int esc_form_ext_json(const struct esc_doc *d, struct ts_buf *out)
{
    const struct esc_facts *f = &d->plan.facts;
    struct ts_buf nvi, nen, ovi, oen, rid;
    ts_buf_init(&nvi, 1u << 16);
    ts_buf_init(&nen, 1u << 16);
    ts_buf_init(&ovi, 4096);
    ts_buf_init(&oen, 4096);
    ts_buf_init(&rid, 1024);
    int rc = notified_text(d, ESC_LANG_VI, NOTIFIED_NONE_VI, &nvi);
    rc = rc ? rc : notified_text(d, ESC_LANG_EN, NOTIFIED_NONE_EN, &nen);
    rc = rc ? rc : outcome_text(d, ESC_LANG_VI, &ovi);
    rc = rc ? rc : outcome_text(d, ESC_LANG_EN, &oen);
    rc = rc ? rc : esc_report_id(d, &rid);
    struct jw w = {.b = out, .rc = rc};
    jw_open(&w, NULL, "{");
    jw_str(&w, "extension_type", "property-extension");
    /* the national form (Circular 20 forms 03/04, Law 116): the report */
    jw_open(&w, "form_report", "{");
    jw_opt(&w, "report_id", rid.data);
    jw_opt(&w, "report", d->report ? d->report->id : NULL);
    jw_str(&w, "stage", esc_stage_name(d->o->stage));
    jw_opt(&w, "form", d->report ? d->report->form : NULL);
    jw_opt(&w, "recipient", d->rcpt ? d->rcpt->id : NULL);
    jw_bool(&w, "voluntary", !report_holds(d));
    jw_opt(&w, "basis", report_holds(d) ? d->report->basis : NULL);
    jw_opt(&w, "notified_to_vi", nvi.data);
    jw_opt(&w, "notified_to_en", nen.data);
    json_notified(&w, d, true);
    jw_opt(&w, "initial_ref", d->o->initial_ref);
    if (d->o->initial_at_ns)
        jw_time(&w, "initial_at", d->o->initial_at_ns);
    jw_close(&w, "}");
    jw_open(&w, "reporting_organisation", "{");
    json_org_fields(&w, d->org, true);
    jw_close(&w, "}");
    jw_open(&w, "affected_system", "{");
    json_system_fields(&w, f->system, d->org, true);
    jw_close(&w, "}");
    jw_open(&w, "assessment", "{");
    jw_bool(&w, "serious", f->serious);
    jw_bool(&w, "national_security", f->national_security);
    jw_bool(&w, "beyond_capacity", f->beyond_capacity);
    jw_str(&w, "response", f->open ? "ongoing" : "ended");
    jw_opt(&w, "outcome_vi", ovi.data);
    jw_opt(&w, "outcome_en", oen.data);
    jw_close(&w, "}");
    jw_close(&w, "}");
    ts_buf_free(&nvi);
    ts_buf_free(&nen);
    ts_buf_free(&ovi);
    ts_buf_free(&oen);
    ts_buf_free(&rid);
    return w.rc;
}

/* --------------------------------------------------------------- entry */

int esc_report_render(const struct esc_env *env, const struct store_incident *inc,
                      const struct esc_report_opts *o, struct ts_buf *out)
{
    struct esc_doc d;
    int rc = esc_doc_init(&d, env, inc, o);
    if (rc)
        return rc;
    switch (o->format) {
    case ESC_FORMAT_JSON:
        return esc_render_json(&d, out);
    case ESC_FORMAT_STIX:
        return esc_render_stix(&d, out);
    case ESC_FORMAT_TEXT:
        return esc_render_text(&d, out);
    }
    return TS_E_INVAL;
}
