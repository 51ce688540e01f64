/* cmd_rules.c - `tocsin rules check|test`: compile Sigma rules and report
 * every problem; test one rule (file or directory) on events read through
 * the ingest file source with the mapping profiles of etc/profiles applied
 * (runtime/rule_test.c runs it; this file parses and prints).
 * Single-threaded; the file source calls the sink on this thread.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/buf.h"
#include "../ingest/ingest.h"
#include "../normalise/normalise.h"
#include "../rules/rules.h"
#include "../runtime/runtime.h"
#include "cli.h"

static const char rules_usage[] =
    "usage: tocsin rules check [--strict] [--taxonomy FILE] PATH...\n"
    "       tocsin rules test RULE --events FILE|- [--explain] [--profile P] [--format F]\n"
    "       tocsin rules test RULE --why LINE [options]    (one line, explained)\n"
    "                         [--profiles DIR] [--decoders DIR] [--no-normalise] [-q]\n"
    "                         [--assets FILE] [--intel-db DIR] [--geoip-city F] [--geoip-asn F]\n"
    "\n"
    "check: compile Sigma rules (files or directories) and print every problem as\n"
    "  file:line:col: invalid|unsupported|warning: [rule-id] message\n"
    "  warnings (rules kept): unknown keys (with \"did you mean\"), ids that are not UUIDs\n"
    "  or not unique across the set, ATT&CK tags outside the taxonomy (--taxonomy FILE,\n"
    "  default etc/attack/taxonomy.txt beside the binary); a misspelt logsource key is\n"
    "  invalid. Exit 1 when a rule is invalid (--strict: or unsupported, or any warning)\n"
    "test: run the events through replay's pipeline (decoders and profiles of etc/ beside\n"
    "  the binary, or --decoders/--profiles) and print one JSON object per event that\n"
    "  matches (source, rule, which selections matched on which values) and 'N events,\n"
    "  M matched' on stderr. --explain: also one object per event no rule matched, with\n"
    "  why (no decoder ran, the logsource does not apply, or the selection that failed on\n"
    "  which field and value), and the reasons in words on stderr as FILE:LINE: no match:\n"
    "See also `tocsin logtest`: one line on stdin, every phase shown.\n";

static void print_problems(const struct rule_report *rep)
{
    for (size_t i = 0; i < rep->nproblems; i++) {
        const struct rule_problem *p = &rep->problems[i];
        printf("%s:%u:%u: %s: [%s] %s\n", p->file, p->line, p->col,
               rule_problem_kind_name(p->kind), p->rule_id, p->msg);
    }
}

/* etc/attack/taxonomy.txt beside the binary (or in the working directory),
 * or NULL. */
static const char *default_taxonomy(char *buf, size_t len)
{
    char dir[4096];
    const char *d = rt_default_dir("etc/attack", dir, sizeof(dir));
    if (!d)
        return NULL;
    snprintf(buf, len, "%s/taxonomy.txt", d);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

static int rules_check(int argc, char **argv)
{
    bool strict = false;
    const char *taxonomy = NULL;
    char tbuf[4200];
    const char **paths = calloc((size_t)argc + 1, sizeof(*paths));
    size_t n = 0;
    if (!paths)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--strict") == 0)
            strict = true;
        else if (strcmp(argv[i], "--taxonomy") == 0 && i + 1 < argc)
            taxonomy = argv[++i];
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
    if (!taxonomy && !(taxonomy = default_taxonomy(tbuf, sizeof(tbuf))))
        fprintf(stderr, "tocsin rules check: no etc/attack/taxonomy.txt found: ATT&CK tags "
                        "not checked (--taxonomy FILE)\n");
    struct rule_load_opts o = {.paths = paths, .npaths = n, .attack_taxonomy = taxonomy};
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
    printf("checked %zu rules: %zu ok, %zu unsupported, %zu invalid; %zu warning%s\n", rep.rules,
           rep.ok, rep.unsupported, rep.invalid, rep.warnings, rep.warnings == 1 ? "" : "s");
    int code = rep.invalid || (strict && (rep.unsupported || rep.warnings)) ? 1 : 0;
    rule_report_free(&rep);
    rule_set_unref(rs);
    return code;
}

static void print_rule_problems(void *ctx, const struct rule_report *rep)
{
    (void)ctx;
    for (size_t i = 0; i < rep->nproblems; i++) {
        const struct rule_problem *p = &rep->problems[i];
        fprintf(stderr, "%s:%u:%u: %s: [%s] %s\n", p->file, p->line, p->col,
                rule_problem_kind_name(p->kind), p->rule_id, p->msg);
    }
}

/* ------------------------------------------------ rules test, logtest */

struct test_print {
    struct ts_buf line;
    bool explain;  /* rules test --explain: a line per event no rule matched */
    bool logtest;  /* tocsin logtest: phases in words */
    bool verbose;  /* logtest -v: why each rule did not match */
};

/* The "why" sentences of a miss object (rule_test.c's explain_miss) on out,
 * one line per rule, each after prefix. */
static void print_why_lines(FILE *out, const char *prefix, const char *why, size_t len)
{
    json_error_t je;
    json_t *j = json_loadb(why, len, 0, &je);
    if (!j)
        return;
    json_t *dec = json_object_get(j, "decoder");
    if (!json_is_string(dec)) {
        const char *dw = json_string_value(json_object_get(j, "decoder_why"));
        fprintf(out, "%sno decoder ran%s%s\n", prefix, dw ? ": " : "", dw ? dw : "");
    }
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(j, "rules"), i, r) {
        json_t *rule = json_object_get(r, "rule");
        const char *t = json_string_value(json_object_get(rule, "title"));
        const char *w = json_string_value(json_object_get(r, "why"));
        fprintf(out, "%s%s: %s\n", prefix, t ? t : "?", w ? w : "?");
    }
    json_decref(j);
}

static void put_source(struct ts_buf *b, const struct ts_event *ev, int *rc)
{
    if (*rc)
        return;
    *rc = ts_buf_puts(b, "{\"source\":");
    if (!*rc && ev->src.kind == TS_SRC_FILE) {
        *rc = ts_buf_puts(b, "{\"file\":");
        if (!*rc)
            *rc = ts_buf_json_str(b, ev->src.name ? ev->src.name : "",
                                  ev->src.name ? strlen(ev->src.name) : 0);
        if (!*rc)
            *rc = ts_buf_printf(b, ",\"line\":%llu}", (unsigned long long)ev->src.line);
    } else if (!*rc) {
        *rc = ts_buf_puts(b, "null");
    }
}

/* rules test: one line per match {"source":{"file","line"}|null,"explain":{...}};
 * logtest: the rule in words. */
static int print_match(void *ctx, const struct rule_info *ri, const struct ts_event *ev,
                       const char *explain, size_t explain_len)
{
    struct test_print *tp = ctx;
    if (tp->logtest) {
        printf("  matched: [%s] %s (%s, %s:%u)\n", ri->level ? ri->level : "-",
               ri->title ? ri->title : "?", ri->id ? ri->id : "no id", ri->file ? ri->file : "-",
               ri->line);
        return 0;
    }
    struct ts_buf *b = &tp->line;
    ts_buf_reset(b);
    int rc = 0;
    put_source(b, ev, &rc);
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

/* rules test --explain: {"source":...,"matched":false,"why":{...}} per
 * event no rule matched, and the sentences on stderr. */
static int print_event(void *ctx, const struct ts_event *ev, uint64_t matched, const char *why,
                       size_t why_len)
{
    struct test_print *tp = ctx;
    if (tp->logtest) {
        if (!matched) {
            printf("  no rule matched\n");
            if (tp->verbose && why)
                print_why_lines(stdout, "    ", why, why_len);
        }
        return 0;
    }
    if (!why)
        return 0;
    struct ts_buf *b = &tp->line;
    ts_buf_reset(b);
    int rc = 0;
    put_source(b, ev, &rc);
    rc = rc ? rc : ts_buf_puts(b, ",\"matched\":false,\"why\":");
    rc = rc ? rc : ts_buf_append(b, why, why_len);
    rc = rc ? rc : ts_buf_puts(b, "}\n");
    if (rc)
        return rc;
    fwrite(b->data, 1, b->len, stdout);
    char prefix[600];
    snprintf(prefix, sizeof(prefix), "%s:%llu: no match: ", ev->src.name ? ev->src.name : "-",
             (unsigned long long)ev->src.line);
    fflush(stdout);
    print_why_lines(stderr, prefix, why, why_len);
    return 0;
}

/* logtest: the event after normalisation, phase by phase, before matching. */
static void print_phases(const struct ts_event *ev)
{
    const struct ts_field *dec = ts_event_getz(ev, "explain.decoder");
    const struct ts_field *dw = ts_event_getz(ev, "explain.decoder_why");
    const struct ts_field *prof = ts_event_getz(ev, "explain.profile");
    const struct ts_field *pw = ts_event_getz(ev, "explain.profile_why");
    struct ts_buf b;
    ts_buf_init(&b, 1 << 20);
    printf("**Phase 1: parsing\n  format: %s\n", ev->format ? ev->format : "?");
    printf("**Phase 2: decoding\n  decoder: %.*s", dec ? (int)dec->v.len : 6,
           dec ? dec->v.u.s : "(none)");
    if (dw)
        printf(" (%.*s)", (int)dw->v.len, dw->v.u.s);
    printf("\n**Phase 3: profile\n  profile: %.*s", prof ? (int)prof->v.len : 6,
           prof ? prof->v.u.s : "(none)");
    if (pw)
        printf(" (%.*s)", (int)pw->v.len, pw->v.u.s);
    printf("\n  logsource: product=%s category=%s service=%s\n  fields:\n",
           ev->logsource.product ? ev->logsource.product : "-",
           ev->logsource.category ? ev->logsource.category : "-",
           ev->logsource.service ? ev->logsource.service : "-");
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct ts_field *f = &ev->fields[i];
        if (strncmp(f->name, "explain.", 8) == 0 || strcmp(f->name, "raw") == 0)
            continue;
        ts_buf_reset(&b);
        if (ts_buf_json_value(&b, &f->v) == 0)
            printf("    %s: %s\n", f->name, b.data ? b.data : "");
    }
    printf("**Phase 4: rules\n");
    ts_buf_free(&b);
}

static int logtest_event(void *ctx, const struct ts_event *ev)
{
    (void)ctx;
    print_phases(ev);
    return 0;
}

/* What rules test and logtest share: the replay pipeline's options. */
struct test_args {
    const char *events, *format;
    const char *why; /* rules test --why LINE: that one line, explained */
    struct rt_norm_args norm;
    bool explain, verbose, quiet;
    const char *rules[64];
    size_t nrules;
};

static int run_test(struct test_args *ta, bool logtest, const char *tool, const char *usage)
{
    enum ingest_format fmt;
    if (ingest_format_parse(ta->format, &fmt) != 0) {
        fprintf(stderr, "%s: unknown format \"%s\"\n", tool, ta->format);
        return 2;
    }
    struct ts_err err = {0};
    char ebuf[1024];
    struct norm_set *norm = NULL;
    /* the normalisation replay builds: decoders, profiles (bin/../etc) */
    if (rt_norm_build_err(&ta->norm, &norm, &err) != 0) {
        ts_err_format(&err, ebuf, sizeof(ebuf));
        fprintf(stderr, "%s: %s\n", tool, err.code ? ebuf : "cannot build the normaliser");
        return 2;
    }
    char rbuf[4096];
    if (ta->nrules == 0) {
        const char *d = rt_default_dir("etc/rules", rbuf, sizeof(rbuf));
        if (!d) {
            fprintf(stderr, "%s: no rules given and no etc/rules found\n%s", tool, usage);
            norm_set_free(norm);
            return 2;
        }
        ta->rules[ta->nrules++] = d;
    }
    struct test_print tp = {.explain = ta->explain, .logtest = logtest, .verbose = ta->verbose};
    ts_buf_init(&tp.line, 0);
    const char *evp[1] = {ta->events};
    struct rt_rule_test_opts o = {
        .rules = {.paths = ta->rules, .npaths = ta->nrules},
        .event_paths = ta->why ? NULL : evp,
        .nevent_paths = ta->why ? 0 : 1,
        .events = ta->why,
        .events_len = ta->why ? strlen(ta->why) : 0,
        .events_name = "--why",
        .format = fmt,
        .norm = norm,
        .diag = ta->quiet ? NULL : stderr,
        .on_rules = print_rule_problems,
        .on_match = print_match,
        .explain = ta->explain || logtest,
        .on_event = ta->explain || logtest ? print_event : NULL,
        .on_normalised = logtest ? logtest_event : NULL,
        .incidents_out = logtest ? NULL : stdout,
        .ctx = &tp,
    };
    struct rt_rule_test_result res;
    int rc = rt_rule_test(&o, &res, &err);
    int code = 0;
    if (rc) {
        ts_err_format(&err, ebuf, sizeof(ebuf));
        fprintf(stderr, "%s: %s\n", tool,
                err.file[0] ? ebuf : err.code ? err.msg : ts_strerror(rc));
        code = !res.ran || rc == TS_E_NOTFOUND ? 2 : 1;
    }
    fflush(stdout);
    if (res.ran && !logtest)
        fprintf(stderr, "%llu events, %llu matched%s", (unsigned long long)res.events,
                (unsigned long long)res.matched, res.incidents ? ", " : "\n");
    if (res.ran && !logtest && res.incidents)
        fprintf(stderr, "%zu incident%s\n", res.incidents, res.incidents == 1 ? "" : "s");
    rule_report_free(&res.report);
    ts_buf_free(&tp.line);
    norm_set_free(norm);
    return code;
}

static int rules_test(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"events", required_argument, NULL, 'e'},   {"profile", required_argument, NULL, 'p'},
        {"format", required_argument, NULL, 'f'},   {"profiles", required_argument, NULL, 'P'},
        {"decoders", required_argument, NULL, 'D'}, {"no-normalise", no_argument, NULL, 'N'},
        {"explain", no_argument, NULL, 'E'},        {"quiet", no_argument, NULL, 'q'},
        {"assets", required_argument, NULL, 'A'},   {"intel-db", required_argument, NULL, 'I'},
        {"geoip-city", required_argument, NULL, 'G'}, {"geoip-asn", required_argument, NULL, 'S'},
        {"why", required_argument, NULL, 'W'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    struct test_args ta = {.format = "auto"};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "e:p:f:P:D:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'A': ta.norm.assets = optarg; break;
        case 'I': ta.norm.intel_db = optarg; break;
        case 'G': ta.norm.geoip_city = optarg; break;
        case 'S': ta.norm.geoip_asn = optarg; break;
        case 'W': ta.why = optarg; ta.explain = true; break;
        case 'e': ta.events = optarg; break;
        case 'p': ta.norm.force_profile = optarg; break;
        case 'f': ta.format = optarg; break;
        case 'P': ta.norm.profiles = optarg; break;
        case 'D': ta.norm.decoders = optarg; break;
        case 'N': ta.norm.none = true; break;
        case 'E': ta.explain = true; break;
        case 'q': ta.quiet = true; break;
        case 'h': printf("%s", rules_usage); return 0;
        default: fprintf(stderr, "%s", rules_usage); return 2;
        }
    }
    if (optind + 1 != argc || !ta.events == !ta.why) {
        fprintf(stderr, "%s", rules_usage);
        return 2;
    }
    ta.rules[ta.nrules++] = argv[optind];
    return run_test(&ta, false, "tocsin rules test", rules_usage);
}

static const char logtest_usage[] =
    "usage: tocsin logtest [-r RULES]... [-v] [--format F] [--profile P] [--profiles DIR]\n"
    "                      [--decoders DIR] [--no-normalise] [--assets FILE] [--intel-db DIR]\n"
    "                      [--geoip-city F] [--geoip-asn F]\n"
    "Read log lines on stdin and show, for each, what replay does with it: parsing, the\n"
    "decoder that ran (or why none did), the mapping profile and the logsource, the\n"
    "event's fields, and every rule that matched. -v: for an event no rule matched, why\n"
    "each rule did not (logsource, failing selection, field and value).\n"
    "  -r, --rules PATH   Sigma rules (file or directory; repeatable); default etc/rules\n"
    "                     beside the binary\n";

int cmd_logtest(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"rules", required_argument, NULL, 'r'},    {"profile", required_argument, NULL, 'p'},
        {"format", required_argument, NULL, 'f'},   {"profiles", required_argument, NULL, 'P'},
        {"decoders", required_argument, NULL, 'D'}, {"no-normalise", no_argument, NULL, 'N'},
        {"verbose", no_argument, NULL, 'v'},        {"help", no_argument, NULL, 'h'},
        {"assets", required_argument, NULL, 'A'},   {"intel-db", required_argument, NULL, 'I'},
        {"geoip-city", required_argument, NULL, 'G'}, {"geoip-asn", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    struct test_args ta = {.format = "auto", .events = "-"};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:p:f:P:D:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'A': ta.norm.assets = optarg; break;
        case 'I': ta.norm.intel_db = optarg; break;
        case 'G': ta.norm.geoip_city = optarg; break;
        case 'S': ta.norm.geoip_asn = optarg; break;
        case 'r':
            if (ta.nrules == TS_ARRAY_LEN(ta.rules)) {
                fprintf(stderr, "tocsin logtest: at most %zu --rules\n", TS_ARRAY_LEN(ta.rules));
                return 2;
            }
            ta.rules[ta.nrules++] = optarg;
            break;
        case 'p': ta.norm.force_profile = optarg; break;
        case 'f': ta.format = optarg; break;
        case 'P': ta.norm.profiles = optarg; break;
        case 'D': ta.norm.decoders = optarg; break;
        case 'N': ta.norm.none = true; break;
        case 'v': ta.verbose = true; break;
        case 'h': printf("%s", logtest_usage); return 0;
        default: fprintf(stderr, "%s", logtest_usage); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s", logtest_usage);
        return 2;
    }
    return run_test(&ta, true, "tocsin logtest", logtest_usage);
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
