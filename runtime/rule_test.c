/* rule_test.c - Sigma rules over a few events, each match explained: the
 * engine of `tocsin rules test` (rules and events from files, mapping
 * profiles alone) and of POST /api/v1/rules/test (a rule and events from
 * the request, the running pipeline's normalisation). Single-threaded: the
 * file source calls the sink on the caller's thread. */
#include <stdlib.h>
#include <string.h>

#include "../normalise/normalise.h"
#include "../normalise/profile.h"
#include "runtime.h"

struct test_ctx {
    const struct rt_rule_test_opts *o;
    struct rule_set *rs;
    struct rule_scratch *scratch;
    struct rt_rule_test_result *res;
    struct ts_buf explain;
    struct ts_err *err;
    struct rt_corr corr; /* incidents_out and correlation rules loaded */
    bool correlate;
    int fail; /* a TS_E_* code that stops the source (err filled) */
};

struct one_match {
    struct test_ctx *t;
    bool any;
};

static int on_match(void *ctx, const struct ts_event *ev, size_t idx)
{
    struct one_match *om = ctx;
    struct test_ctx *t = om->t;
    ts_buf_reset(&t->explain);
    int rc = rule_explain(t->rs, t->scratch, idx, ev, &t->explain);
    om->any = true;
    t->res->matches++;
    if (t->correlate) {
        int crc = rt_corr_collect(&t->corr, 0, idx, ev);
        if (crc)
            return crc;
    }
    if (!rc && t->o->on_match)
        rc = t->o->on_match(t->o->ctx, rule_set_info(t->rs, idx), ev,
                            t->explain.data ? t->explain.data : "", t->explain.len);
    return rc;
}

/* "key":VALUE of the string field name of ev (null when absent, or when
 * "(none)" and none_is_null), after sep. */
static int put_field(struct ts_buf *b, char sep, const char *key, const struct ts_event *ev,
                     const char *name, bool none_is_null)
{
    const struct ts_field *f = ts_event_getz(ev, name);
    int rc = ts_buf_printf(b, "%c\"%s\":", sep, key);
    if (rc)
        return rc;
    if (!f || f->v.type != TS_V_STR || (none_is_null && f->v.len == 6 &&
                                        memcmp(f->v.u.s, "(none)", 6) == 0))
        return ts_buf_puts(b, "null");
    return ts_buf_json_str(b, f->v.u.s, f->v.len);
}

/* Why no rule matched ev: what normalisation did, then each rule's miss. */
static int explain_miss(struct test_ctx *t, const struct ts_event *ev)
{
    struct ts_buf *b = &t->explain;
    ts_buf_reset(b);
    int rc = put_field(b, '{', "decoder", ev, "explain.decoder", true);
    rc = rc ? rc : put_field(b, ',', "decoder_why", ev, "explain.decoder_why", false);
    rc = rc ? rc : put_field(b, ',', "profile", ev, "explain.profile", true);
    rc = rc ? rc : ts_buf_puts(b, ",\"rules\":[");
    size_t n = rule_set_count(t->rs);
    for (size_t i = 0; i < n && !rc; i++) {
        if (i)
            rc = ts_buf_putc(b, ',');
        rc = rc ? rc : rule_explain_miss(t->rs, t->scratch, i, ev, b);
    }
    return rc ? rc : ts_buf_puts(b, "]}");
}

static int test_commit(void *ctx, const struct ingest_batch *batch)
{
    struct test_ctx *t = ctx;
    return t->correlate ? rt_corr_commit(&t->corr, batch) : 0;
}

static int test_process(void *ctx, struct ingest_batch *batch)
{
    struct test_ctx *t = ctx;
    const struct rt_rule_test_opts *o = t->o;
    for (uint32_t i = 0; i < batch->n; i++) {
        struct ts_event *ev = &batch->events[i];
        t->res->events++;
        if (o->profiles) {
            int rc = norm_profile_apply(o->profiles, o->force_profile, ev, NULL);
            if (rc == TS_E_NOTFOUND) {
                t->fail = ts_err_set(t->err, TS_E_NOTFOUND, NULL, 0, 0,
                                     "unknown profile \"%s\"", o->force_profile);
                return rc;
            }
            if (rc)
                continue;
        }
        if (o->on_normalised) {
            int rc = o->on_normalised(o->ctx, ev);
            if (rc)
                return rc;
        }
        uint64_t before = t->res->matches;
        struct one_match om = {.t = t};
        int rc = rule_match(t->rs, t->scratch, ev, on_match, &om);
        if (rc)
            return rc;
        if (om.any)
            t->res->matched++;
        if (o->on_event) {
            const char *why = NULL;
            size_t why_len = 0;
            if (!om.any && o->explain) {
                if ((rc = explain_miss(t, ev)) != 0)
                    return rc;
                why = t->explain.data;
                why_len = t->explain.len;
            }
            rc = o->on_event(o->ctx, ev, t->res->matches - before, why, why_len);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int rt_rule_test(const struct rt_rule_test_opts *o, struct rt_rule_test_result *res,
                 struct ts_err *err)
{
    memset(res, 0, sizeof(*res));
    struct rule_set *rs = NULL;
    int rc = rule_set_load(&rs, &o->rules, &res->report, err);
    if (rc)
        return rc;
    if (o->on_rules)
        o->on_rules(o->ctx, &res->report);
    res->rules = rule_set_count(rs);
    if (res->rules == 0) {
        rule_set_unref(rs);
        return ts_err_set(err, TS_E_NOTFOUND, NULL, 0, 0, "no detection rule loaded from %s",
                          o->rules.npaths == 1 ? o->rules.paths[0]
                          : o->rules.buf_name  ? o->rules.buf_name
                                               : "the rules given");
    }
    struct test_ctx t = {.o = o, .rs = rs, .res = res, .err = err};
    ts_buf_init(&t.explain, 0);
    if ((rc = rule_scratch_create(&t.scratch, rs)) != 0) {
        rule_set_unref(rs);
        return ts_err_set(err, rc, NULL, 0, 0, "out of memory");
    }
    struct ingest_file_opts fo = {
        .paths = o->event_paths,
        .npaths = o->nevent_paths,
        .buf = o->events,
        .buf_len = o->events_len,
        .buf_name = o->events_name,
        .format = o->format,
        .tenant = o->tenant,
        .sink = {.ctx = &t, .process = test_process, .commit = test_commit},
        .diag = o->diag,
        .norm = o->norm,
        .explain = o->explain,
    };
    if (o->incidents_out && rule_set_correlation_count(rs) > 0) {
        if (rt_corr_open(&t.corr, rs, NULL, NULL, 1, o->incidents_out, true)) {
            rt_corr_close(&t.corr);
            ts_buf_free(&t.explain);
            rule_scratch_free(t.scratch);
            rule_set_unref(rs);
            return ts_err_set(err, TS_E_INVAL, NULL, 0, 0,
                              "the correlation rules could not be compiled");
        }
        t.correlate = true;
    }
    struct ingest_stats st = {0};
    res->ran = true;
    rc = ingest_files_run(&fo, &st, err);
    res->dead_letters = st.dead_letters;
    if (t.fail)
        rc = t.fail;
    if (t.correlate) {
        int frc = rt_corr_flush(&t.corr);
        rc = rc ? rc : frc;
        res->incidents = t.corr.nfinal;
        rt_corr_print_final(&t.corr);
        rt_corr_close(&t.corr);
    }
    ts_buf_free(&t.explain);
    rule_scratch_free(t.scratch);
    rule_set_unref(rs);
    return rc;
}
