/* cmd_rules.c - `tocsin rules check|test`: compile Sigma rules and report
 * every problem; test one rule (file or directory) on events read through
 * the ingest file source with the mapping profiles of etc/profiles applied.
 * Single-threaded; the file source calls the sink on this thread.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/buf.h"
#include "../ingest/ingest.h"
#include "../normalise/profile.h"
#include "../rules/rules.h"
#include "cli.h"

static const char rules_usage[] =
    "usage: tocsin rules check [--strict] PATH...\n"
    "       tocsin rules test RULE --events FILE [--profile P] [--format F] [--profiles DIR]\n"
    "\n"
    "check: compile Sigma rules (files or directories) and print every problem as\n"
    "  file:line:col: invalid|unsupported: [rule-id] message\n"
    "  exit 1 when a rule is invalid (--strict: or unsupported)\n"
    "test: print one JSON object per event that matches (source, rule, which selections\n"
    "  matched on which values) and 'N events, M matched' on stderr\n";

static void print_problems(const struct rule_report *rep)
{
    for (size_t i = 0; i < rep->nproblems; i++) {
        const struct rule_problem *p = &rep->problems[i];
        printf("%s:%u:%u: %s: [%s] %s\n", p->file, p->line, p->col,
               p->kind == RULE_INVALID ? "invalid" : "unsupported", p->rule_id, p->msg);
    }
}

static int rules_check(int argc, char **argv)
{
    bool strict = false;
    const char **paths = calloc((size_t)argc + 1, sizeof(*paths));
    size_t n = 0;
    if (!paths)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--strict") == 0)
            strict = true;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("%s", rules_usage);
            free(paths);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "tocsin rules check: unknown option %s\n%s", argv[i], rules_usage);
            free(paths);
            return 2;
        } else
            paths[n++] = argv[i];
    }
    if (n == 0) {
        fprintf(stderr, "%s", rules_usage);
        free(paths);
        return 2;
    }
    struct rule_load_opts o = {.paths = paths, .npaths = n};
    struct rule_set *rs = NULL;
    struct rule_report rep;
    struct ts_err err = {0};
    int rc = rule_set_load(&rs, &o, &rep, &err);
    free(paths);
    if (rc) {
        char buf[1024];
        ts_err_format(&err, buf, sizeof(buf));
        fprintf(stderr, "tocsin rules check: %s\n", buf);
        rule_report_free(&rep);
        return 2;
    }
    print_problems(&rep);
    printf("checked %zu rules: %zu ok, %zu unsupported, %zu invalid\n", rep.rules, rep.ok,
           rep.unsupported, rep.invalid);
    int code = rep.invalid || (strict && rep.unsupported) ? 1 : 0;
    rule_report_free(&rep);
    rule_set_unref(rs);
    return code;
}

struct test_ctx {
    const struct rule_set *rs;
    struct rule_scratch *scratch;
    const struct ingest_profile_set *profiles;
    const char *force;
    struct ts_buf line;
    uint64_t events, matched, matches;
    int err;
};

struct one_match {
    struct test_ctx *t;
    bool any;
};

static int on_match(void *ctx, const struct ts_event *ev, size_t idx)
{
    struct one_match *om = ctx;
    struct test_ctx *t = om->t;
    struct ts_buf *b = &t->line;
    ts_buf_reset(b);
    int rc = ts_buf_puts(b, "{\"source\":");
    if (!rc && ev->src.kind == TS_SRC_FILE) {
        rc = ts_buf_puts(b, "{\"file\":");
        if (!rc)
            rc = ts_buf_json_str(b, ev->src.name ? ev->src.name : "", ev->src.name ? strlen(ev->src.name) : 0);
        if (!rc)
            rc = ts_buf_printf(b, ",\"line\":%llu}", (unsigned long long)ev->src.line);
    } else if (!rc) {
        rc = ts_buf_puts(b, "null");
    }
    if (!rc)
        rc = ts_buf_puts(b, ",\"explain\":");
    if (!rc)
        rc = rule_explain(t->rs, t->scratch, idx, ev, b);
    if (!rc)
        rc = ts_buf_puts(b, "}\n");
    if (!rc)
        fwrite(b->data, 1, b->len, stdout);
    om->any = true;
    t->matches++;
    return rc;
}

static int test_process(void *ctx, struct ingest_batch *batch)
{
    struct test_ctx *t = ctx;
    for (uint32_t i = 0; i < batch->n; i++) {
        struct ts_event *ev = &batch->events[i];
        t->events++;
        if (t->profiles) {
            int rc = ingest_profile_apply(t->profiles, t->force, ev, NULL);
            if (rc == TS_E_NOTFOUND) {
                fprintf(stderr, "tocsin rules test: unknown profile \"%s\"\n", t->force);
                t->err = 2;
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
            t->matched++;
    }
    return 0;
}

static int rules_test(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"events", required_argument, NULL, 'e'},   {"profile", required_argument, NULL, 'p'},
        {"format", required_argument, NULL, 'f'},   {"profiles", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *events = NULL, *profile = NULL, *format = "auto", *profiles_dir = "etc/profiles";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "e:p:f:P:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': events = optarg; break;
        case 'p': profile = optarg; break;
        case 'f': format = optarg; break;
        case 'P': profiles_dir = optarg; break;
        case 'h': printf("%s", rules_usage); return 0;
        default: fprintf(stderr, "%s", rules_usage); return 2;
        }
    }
    if (optind + 1 != argc || !events) {
        fprintf(stderr, "%s", rules_usage);
        return 2;
    }
    enum ingest_format fmt;
    if (ingest_format_parse(format, &fmt) != 0) {
        fprintf(stderr, "tocsin rules test: unknown format \"%s\"\n", format);
        return 2;
    }
    const char *rule_path = argv[optind];
    struct rule_load_opts o = {.paths = &rule_path, .npaths = 1};
    struct rule_set *rs = NULL;
    struct rule_report rep;
    struct ts_err err = {0};
    char ebuf[1024];
    int rc = rule_set_load(&rs, &o, &rep, &err);
    if (rc) {
        ts_err_format(&err, ebuf, sizeof(ebuf));
        fprintf(stderr, "tocsin rules test: %s\n", ebuf);
        rule_report_free(&rep);
        return 2;
    }
    for (size_t i = 0; i < rep.nproblems; i++) {
        const struct rule_problem *p = &rep.problems[i];
        fprintf(stderr, "%s:%u:%u: %s: [%s] %s\n", p->file, p->line, p->col,
                p->kind == RULE_INVALID ? "invalid" : "unsupported", p->rule_id, p->msg);
    }
    rule_report_free(&rep);
    if (rule_set_count(rs) == 0) {
        fprintf(stderr, "tocsin rules test: no detection rule loaded from %s\n", rule_path);
        rule_set_unref(rs);
        return 2;
    }
    struct ingest_profile_set *ps = NULL;
    const char *pdirs[1] = {profiles_dir};
    if (ingest_profile_set_load(&ps, pdirs, 1, &err) != 0) {
        ts_err_format(&err, ebuf, sizeof(ebuf));
        fprintf(stderr, "tocsin rules test: %s\n", ebuf);
        rule_set_unref(rs);
        return 2;
    }
    struct test_ctx t = {.rs = rs, .profiles = ps, .force = profile};
    ts_buf_init(&t.line, 0);
    if (rule_scratch_create(&t.scratch, rs) != 0) {
        fprintf(stderr, "tocsin rules test: out of memory\n");
        ingest_profile_set_free(ps);
        rule_set_unref(rs);
        return 1;
    }
    struct ingest_file_opts fo = {
        .paths = &events,
        .npaths = 1,
        .format = fmt,
        .sink = {.ctx = &t, .process = test_process},
        .diag = stderr,
    };
    struct ingest_stats st = {0};
    rc = ingest_files_run(&fo, &st, &err);
    int code = 0;
    if (t.err) {
        code = t.err;
    } else if (rc) {
        ts_err_format(&err, ebuf, sizeof(ebuf));
        fprintf(stderr, "tocsin rules test: %s\n", err.code ? ebuf : ts_strerror(rc));
        code = 1;
    }
    fflush(stdout);
    fprintf(stderr, "%llu events, %llu matched\n", (unsigned long long)t.events,
            (unsigned long long)t.matched);
    ts_buf_free(&t.line);
    rule_scratch_free(t.scratch);
    ingest_profile_set_free(ps);
    rule_set_unref(rs);
    return code;
}

int cmd_rules(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc < 2 ? stderr : stdout, "%s", rules_usage);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "check") == 0)
        return rules_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "test") == 0)
        return rules_test(argc - 1, argv + 1);
    fprintf(stderr, "tocsin rules: unknown subcommand \"%s\"\n%s", argv[1], rules_usage);
    return 2;
}
