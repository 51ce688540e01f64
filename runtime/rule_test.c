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
    if (!rc && t->o->on_match)
        rc = t->o->on_match(t->o->ctx, rule_set_info(t->rs, idx), ev,
                            t->explain.data ? t->explain.data : "", t->explain.len);
    return rc;
}

static int test_process(void *ctx, struct ingest_batch *batch)
{
    struct test_ctx *t = ctx;
    const struct rt_rule_test_opts *o = t->o;
    for (uint32_t i = 0; i < batch->n; i++) {
        struct ts_event *ev = &batch->events[i];
        t->res->events++;
        if (o->profiles) {
            int rc = ingest_profile_apply(o->profiles, o->force_profile, ev, NULL);
            if (rc == TS_E_NOTFOUND) {
                t->fail = ts_err_set(t->err, TS_E_NOTFOUND, NULL, 0, 0,
                                     "unknown profile \"%s\"", o->force_profile);
                return rc;
            }
            if (rc)
                continue;
        }
        struct one_match om = {.t = t};
        int rc = rule_match(t->rs, t->scratch, ev, on_match, &om);
        if (rc)
            return rc;
        if (om.any)
            t->res->matched++;
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
        .sink = {.ctx = &t, .process = test_process},
        .diag = o->diag,
        .norm = o->norm,
    };
    struct ingest_stats st = {0};
    res->ran = true;
    rc = ingest_files_run(&fo, &st, err);
    res->dead_letters = st.dead_letters;
    if (t.fail)
        rc = t.fail;
    ts_buf_free(&t.explain);
    rule_scratch_free(t.scratch);
    rule_set_unref(rs);
    return rc;
}
