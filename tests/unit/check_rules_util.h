/* check_rules_util.h - helpers for the rules suites: load a rule from text,
 * build events, ask whether they match. */
#ifndef CHECK_RULES_UTIL_H
#define CHECK_RULES_UTIL_H

#include <stdarg.h>
#include <string.h>

#include "check_util.h"
#include "../../rules/rules.h"

/* The SigmaHQ corpus and the Sigma specification (check_util.h,
 * ts_test_corpus; a test using them begins with TS_NEED_CORPUS). */
static inline const char *ts_test_sigma_dir(void)
{
    return ts_test_corpus(TS_CORPUS_SIGMA);
}

static inline const char *ts_test_spec_dir(void)
{
    return ts_test_corpus(TS_CORPUS_SPEC);
}

static struct rule_report last_report;

/* Load text; returns the set (never NULL); the report stays in last_report. */
static inline struct rule_set *rules_from(const char *text)
{
    struct rule_load_opts o = {.buf = text, .buf_len = strlen(text), .buf_name = "t.yml"};
    struct rule_set *rs = NULL;
    struct ts_err err = {0};
    rule_report_free(&last_report);
    int rc = rule_set_load(&rs, &o, &last_report, &err);
    ck_assert_msg(rc == 0, "rule_set_load: %d %s", rc, err.msg);
    return rs;
}

/* The first problem of the last load that is not a lint warning, or NULL. */
static inline const struct rule_problem *first_error(void)
{
    for (size_t i = 0; i < last_report.nproblems; i++)
        if (last_report.problems[i].kind != RULE_WARNING)
            return &last_report.problems[i];
    return NULL;
}

/* Load text that must compile without problems (lint warnings allowed:
 * check_rules_lint.c pins those). */
static inline struct rule_set *rule_ok(const char *text)
{
    struct rule_set *rs = rules_from(text);
    const struct rule_problem *e = first_error();
    ck_assert_msg(e == NULL, "unexpected problem: %u:%u: %s", e ? e->line : 0, e ? e->col : 0,
                  e ? e->msg : "");
    ck_assert_uint_ge(last_report.ok, 1);
    return rs;
}

/* The one problem a text produces, as "line:col: kind: message". */
static inline const char *rule_problem(const char *text, char *buf, size_t n)
{
    struct rule_set *rs = rules_from(text);
    const struct rule_problem *p = first_error();
    ck_assert_msg(p != NULL, "expected a problem");
    snprintf(buf, n, "%u:%u: %s: %s", p->line, p->col, rule_problem_kind_name(p->kind), p->msg);
    ck_assert_uint_eq(rule_set_count(rs), 0);
    rule_set_unref(rs);
    return buf;
}

#define RULE_HEAD                                                                                  \
    "title: t\nid: 11111111-2222-3333-4444-555555555555\nlogsource:\n  product: windows\n"         \
    "  category: process_creation\n"

/* An event under construction. */
struct tev {
    struct ts_arena *arena;
    struct ts_event ev;
};

static inline void tev_init(struct tev *t)
{
    ck_assert_int_eq(ts_arena_create(&t->arena, 4096, 1 << 20), 0);
    ts_event_init(&t->ev, t->arena);
    t->ev.logsource.product = "windows";
    t->ev.logsource.category = "process_creation";
}

static inline void tev_free(struct tev *t)
{
    ts_arena_destroy(t->arena);
}

static inline void tev_str(struct tev *t, const char *name, const char *val)
{
    ck_assert_int_eq(ts_event_add_str(&t->ev, name, val, strlen(val)), 0);
}

static inline void tev_strn(struct tev *t, const char *name, const char *val, size_t n)
{
    ck_assert_int_eq(ts_event_add_str(&t->ev, name, val, n), 0);
}

static inline void tev_int(struct tev *t, const char *name, int64_t v)
{
    ck_assert_int_eq(ts_event_add_int(&t->ev, name, v), 0);
}

static int count_cb(void *ctx, const struct ts_event *ev, size_t idx)
{
    (void)ev;
    (void)idx;
    (*(int *)ctx)++;
    return 0;
}

static inline int match_count(const struct rule_set *rs, const struct ts_event *ev)
{
    struct rule_scratch *s = NULL;
    ck_assert_int_eq(rule_scratch_create(&s, rs), 0);
    int n = 0;
    ck_assert_int_eq(rule_match(rs, s, ev, count_cb, &n), 0);
    rule_scratch_free(s);
    return n;
}

/* Does the detection (YAML under `detection:`) match an event with the
 * given string fields (name, value pairs, NULL-terminated)? */
static inline bool det_matches(const char *det, ...)
{
    char text[8192];
    snprintf(text, sizeof(text), RULE_HEAD "detection:\n%s", det);
    struct rule_set *rs = rule_ok(text);
    struct tev t;
    tev_init(&t);
    va_list ap;
    va_start(ap, det);
    const char *name;
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *val = va_arg(ap, const char *);
        tev_str(&t, name, val);
    }
    va_end(ap);
    int n = match_count(rs, &t.ev);
    tev_free(&t);
    rule_set_unref(rs);
    return n > 0;
}

#endif
