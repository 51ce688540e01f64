/* cmd_rules.c - `tocsin rules check|test`: compile Sigma rules and report
 * every problem; test one rule (file or directory) on events read through
 * the ingest file source with the mapping profiles of etc/profiles applied
 * (runtime/rule_test.c runs it; this file parses and prints).
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
#include "../runtime/runtime.h"
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

/* One line per match: {"source":{"file","line"}|null,"explain":{...}}. */
static int print_match(void *ctx, const struct rule_info *ri, const struct ts_event *ev,
                       const char *explain, size_t explain_len)
{
    (void)ri;
    struct ts_buf *b = ctx;
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
        rc = ts_buf_append(b, explain, explain_len);
    if (!rc)
        rc = ts_buf_puts(b, "}\n");
    if (!rc)
        fwrite(b->data, 1, b->len, stdout);
    return rc;
}

static void print_rule_problems(void *ctx, const struct rule_report *rep)
{
    (void)ctx;
    for (size_t i = 0; i < rep->nproblems; i++) {
        const struct rule_problem *p = &rep->problems[i];
        fprintf(stderr, "%s:%u:%u: %s: [%s] %s\n", p->file, p->line, p->col,
                p->kind == RULE_INVALID ? "invalid" : "unsupported", p->rule_id, p->msg);
    }
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
    struct ts_err err = {0};
    char ebuf[1024];
    struct ingest_profile_set *ps = NULL;
    const char *pdirs[1] = {profiles_dir};
    if (ingest_profile_set_load(&ps, pdirs, 1, &err) != 0) {
        ts_err_format(&err, ebuf, sizeof(ebuf));
        fprintf(stderr, "tocsin rules test: %s\n", ebuf);
        return 2;
    }
    struct ts_buf line;
    ts_buf_init(&line, 0);
    struct rt_rule_test_opts o = {
        .rules = {.paths = &rule_path, .npaths = 1},
        .event_paths = &events,
        .nevent_paths = 1,
        .format = fmt,
        .profiles = ps,
        .force_profile = profile,
        .diag = stderr,
        .on_rules = print_rule_problems,
        .on_match = print_match,
        .ctx = &line,
    };
    struct rt_rule_test_result res;
    int rc = rt_rule_test(&o, &res, &err);
    int code = 0;
    if (rc) {
        ts_err_format(&err, ebuf, sizeof(ebuf));
        fprintf(stderr, "tocsin rules test: %s\n",
                err.file[0] ? ebuf : err.code ? err.msg : ts_strerror(rc));
        code = !res.ran || rc == TS_E_NOTFOUND ? 2 : 1;
    }
    fflush(stdout);
    if (res.ran)
        fprintf(stderr, "%llu events, %llu matched\n", (unsigned long long)res.events,
                (unsigned long long)res.matched);
    rule_report_free(&res.report);
    ts_buf_free(&line);
    ingest_profile_set_free(ps);
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
