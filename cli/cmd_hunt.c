/* cmd_hunt.c - `tocsin hunt` (rules over a time range of the Kafka topics,
 * runtime/hunt.c) and `tocsin hunts` (the hunts kept in a store
 * directory: list, show). Parses and prints only. */
#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../core/tstime.h"
#include "cli.h"
#include "cli_int.h"

static const char hunt_usage[] =
    "usage: tocsin hunt -c FILE --rules PATH --from TIME --to TIME [options]\n"
    "       tocsin hunt --files FILE... --rules PATH --from TIME --to TIME [options]\n"
    "       tocsin hunt --db DIR --resume ID\n"
    "Run Sigma rules over what the config's Kafka topics hold for an event-time range,\n"
    "with a consumer of its own (the live group's offsets are not touched).\n"
    "options:\n"
    "  -c, --config FILE       the config of `run` (kafka, topics, ingest, normalisation);\n"
    "                          optional with --files\n"
    "      --files FILE...     hunt archived log files instead of Kafka (as `replay` reads\n"
    "                          them; .gz too); the arguments after the options are files too\n"
    "  -f, --format FMT        (with --files) the files' format (default auto)\n"
    "  -r, --rules PATH        Sigma rules (file or directory; repeatable)\n"
    "      --from TIME         first event time of the range, RFC 3339 (2026-12-07T10:00:00Z)\n"
    "      --to TIME           end of the range (excluded), RFC 3339\n"
    "      --topics PATTERN    only these topics: a name or an extended regex (^logs-.*$)\n"
    "  -t, --tenant T          only the events of this tenant (with --files: their tenant)\n"
    "      --margin DURATION   Kafka timestamps searched this far around the range\n"
    "                          (default 15m; e.g. 30s, 15m, 2h, 1d)\n"
    "      --db DIR            keep the hunt in DIR/hunts/ID (its own store: incidents,\n"
    "                          state, offsets; detections.jsonl; hunt.json): resumable\n"
    "  -o, --out FILE          (without --db) detections and incidents as JSON lines,\n"
    "                          as `replay` prints them (default: stdout)\n"
    "      --resume ID         (with --db) go on with a stopped or killed hunt\n"
    "      --commit-every N    (with --db) a resume point every N events (default 2000000,\n"
    "                          and at least every 2 s)\n"
    "      --intel SOURCE      report sightings: events matching an indicator of this\n"
    "                          source (tocsin intel load --source SOURCE); --rules optional\n"
    "      --intel-db DIR      the threat-intel database (default: enrich.intel_db)\n"
    "      --threads N         readers in parallel, each over a share of the partitions\n"
    "                          (default: the cores, at most the partitions; 1..64)\n"
    "      --progress MODE     auto (default: a bar on a terminal), tty, plain, none\n"
    "      --progress-interval SECONDS   between plain progress lines (default 10)\n"
    "  -q, --quiet             no rule problems on stderr\n";

static int parse_duration(const char *s, int64_t *ns)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0)
        return -1;
    long long mul = !*end || !strcmp(end, "s") ? 1
                    : !strcmp(end, "m")        ? 60
                    : !strcmp(end, "h")        ? 3600
                    : !strcmp(end, "d")        ? 86400
                                               : 0;
    if (!mul || v > 366LL * 86400 / mul)
        return -1;
    *ns = v * mul * TS_NS_PER_SEC;
    return 0;
}

static int parse_time(const char *opt, const char *s, int64_t *ns)
{
    size_t used;
    if (ts_parse_iso8601(s, strlen(s), 0, ns, &used) || used != strlen(s)) {
        fprintf(stderr, "tocsin hunt: bad %s \"%s\" (expected RFC 3339, e.g. "
                        "2026-12-07T10:00:00Z)\n", opt, s);
        return -1;
    }
    return 0;
}

static void print_err(const struct ts_err *err, int rc)
{
    char buf[1024];
    if (err->code) {
        ts_err_format(err, buf, sizeof(buf));
        fprintf(stderr, "tocsin: %s\n", buf);
    } else {
        fprintf(stderr, "tocsin: error: %s\n", ts_strerror(rc));
    }
}

int cmd_hunt(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"rules", required_argument, NULL, 'r'},
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"topics", required_argument, NULL, 'P'},
        {"tenant", required_argument, NULL, 't'},
        {"margin", required_argument, NULL, 'M'},
        {"db", required_argument, NULL, 'B'},
        {"out", required_argument, NULL, 'o'},
        {"resume", required_argument, NULL, 'R'},
        {"progress", required_argument, NULL, 'g'},
        {"progress-interval", required_argument, NULL, 'i'},
        {"commit-every", required_argument, NULL, 'C'},
        {"quiet", no_argument, NULL, 'q'},
        {"intel", required_argument, NULL, 'I'},
        {"intel-db", required_argument, NULL, 'D'},
        {"threads", required_argument, NULL, 'j'},
        {"files", required_argument, NULL, 'L'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *rules[RT_HUNT_MAX_RULES];
    static const char *files[RT_HUNT_MAX_FILES];
    bool files_mode = false;
    struct rt_hunt_opts o = {.rules = rules, .margin_ns = RT_HUNT_DEFAULT_MARGIN,
                             .progress = stderr};
    bool have_from = false, have_to = false, have_margin = false;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "c:r:t:o:f:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o.config_path = optarg;
            break;
        case 'r':
            if (o.nrules == RT_HUNT_MAX_RULES) {
                fprintf(stderr, "tocsin hunt: at most %d --rules\n", RT_HUNT_MAX_RULES);
                return 2;
            }
            rules[o.nrules++] = optarg;
            break;
        case 'F':
            if (parse_time("--from", optarg, &o.from_ns))
                return 2;
            have_from = true;
            break;
        case 'T':
            if (parse_time("--to", optarg, &o.to_ns))
                return 2;
            have_to = true;
            break;
        case 'P':
            o.topics = optarg;
            break;
        case 't': {
            const char *why = ts_tenant_check(optarg, strlen(optarg));
            if (why) {
                fprintf(stderr, "tocsin hunt: bad --tenant: %s\n", why);
                return 2;
            }
            o.tenant = optarg;
            break;
        }
        case 'M':
            if (parse_duration(optarg, &o.margin_ns)) {
                fprintf(stderr, "tocsin hunt: bad --margin \"%s\" (e.g. 30s, 15m, 2h, 1d; "
                                "up to 366d)\n", optarg);
                return 2;
            }
            have_margin = true;
            break;
        case 'B':
            o.db = optarg;
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'R':
            o.resume = optarg;
            break;
        case 'g':
            if (!strcmp(optarg, "none"))
                o.progress = NULL;
            else if (!strcmp(optarg, "tty"))
                o.progress_mode = RT_HUNT_PROGRESS_TTY;
            else if (!strcmp(optarg, "plain"))
                o.progress_mode = RT_HUNT_PROGRESS_PLAIN;
            else if (strcmp(optarg, "auto")) {
                fprintf(stderr, "tocsin hunt: --progress is auto, tty, plain or none\n");
                return 2;
            }
            break;
        case 'C': {
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 100000000) {
                fprintf(stderr, "tocsin hunt: --commit-every must be 1..100000000 events\n");
                return 2;
            }
            o.commit_every = (uint64_t)v;
            break;
        }
        case 'i': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 86400) {
                fprintf(stderr, "tocsin hunt: --progress-interval must be 1..86400\n");
                return 2;
            }
            o.progress_interval_s = (int)v;
            break;
        }
        case 'q':
            o.quiet = true;
            break;
        case 'I': {
            size_t n = strlen(optarg);
            bool okc = n > 0 && n <= 64;
            for (size_t i = 0; okc && i < n; i++)
                okc = (unsigned char)optarg[i] >= 0x20 && optarg[i] != 0x7f;
            if (!okc) {
                fprintf(stderr, "tocsin hunt: bad --intel \"%.80s\": an intel source name, 1 to "
                                "64 printable bytes, as given to tocsin intel load --source\n",
                        optarg);
                return 2;
            }
            o.intel_source = optarg;
            break;
        }
        case 'D':
            o.intel_db = optarg;
            break;
        case 'L':
            if (o.nfiles == RT_HUNT_MAX_FILES) {
                fprintf(stderr, "tocsin hunt: at most %d files\n", RT_HUNT_MAX_FILES);
                return 2;
            }
            files[o.nfiles++] = optarg;
            files_mode = true;
            break;
        case 'f':
            o.format = optarg;
            break;
        case 'j': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < 1 || v > INGEST_RANGE_MAX_THREADS) {
                fprintf(stderr, "tocsin hunt: --threads must be 1..%d (readers; default: the "
                                "cores, at most the partitions)\n", INGEST_RANGE_MAX_THREADS);
                return 2;
            }
            o.threads = (int)v;
            break;
        }
        case 'h':
            fputs(hunt_usage, stdout);
            return 0;
        default:
            fputs(hunt_usage, stderr);
            return 2;
        }
    }
    while (files_mode && optind < argc) { /* --files A B C */
        if (o.nfiles == RT_HUNT_MAX_FILES) {
            fprintf(stderr, "tocsin hunt: at most %d files\n", RT_HUNT_MAX_FILES);
            return 2;
        }
        files[o.nfiles++] = argv[optind++];
    }
    o.files = files;
    if (files_mode && (o.topics || have_margin)) {
        fprintf(stderr, "tocsin hunt: --topics and --margin are for Kafka, not --files\n");
        return 2;
    }
    if (o.format && !files_mode) {
        fprintf(stderr, "tocsin hunt: --format is for --files (a topic's format is in the "
                        "config)\n");
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "tocsin hunt: unexpected argument \"%s\"\n%s", argv[optind], hunt_usage);
        return 2;
    }
    struct rt_hunt_record rec = {0};
    struct ts_err err = {0};
    if (o.resume) {
        if (!o.db) {
            fprintf(stderr, "tocsin hunt: --resume needs --db (where the hunt is kept)\n");
            return 2;
        }
        if (o.config_path || o.nrules || have_from || have_to || o.topics || o.tenant ||
            have_margin || o.out || o.intel_source || o.intel_db || files_mode) {
            fprintf(stderr, "tocsin hunt: --resume takes the hunt's own parameters; give only "
                            "--db, --resume, --threads and --progress options\n");
            return 2;
        }
        if (rt_hunt_record_load(o.db, o.resume, &rec, &err)) {
            print_err(&err, TS_E_NOTFOUND);
            return 2;
        }
        if (rec.files) {
            fprintf(stderr, "tocsin hunt: hunt %s is over files, which cannot be resumed: run "
                            "it again (tocsin hunts --db %s show %s has its parameters)\n",
                    o.resume, o.db, o.resume);
            rt_hunt_record_free(&rec);
            return 2;
        }
        if (!strcmp(rec.status, "done")) {
            fprintf(stderr, "tocsin hunt: hunt %s is done (tocsin hunts --db %s show %s)\n",
                    o.resume, o.db, o.resume);
            rt_hunt_record_free(&rec);
            return 2;
        }
        o.config_path = rec.config;
        for (size_t i = 0; i < rec.nrules; i++)
            rules[i] = rec.rules[i];
        o.nrules = rec.nrules;
        o.from_ns = rec.from_ns;
        o.to_ns = rec.to_ns;
        o.margin_ns = rec.margin_ns;
        o.topics = rec.topics;
        o.tenant = rec.tenant;
        o.intel_source = rec.intel_source;
        o.intel_db = rec.intel_db;
    } else {
        const char *missing = !o.config_path && !files_mode ? "-c FILE (or --files FILE...)"
                              : !o.nrules && !o.intel_source ? "--rules PATH (or --intel SOURCE)"
                              : !have_from   ? "--from TIME"
                              : !have_to     ? "--to TIME"
                                             : NULL;
        if (missing) {
            fprintf(stderr, "tocsin hunt: %s is required\n%s", missing, hunt_usage);
            return 2;
        }
        if (o.db && o.out) {
            fprintf(stderr, "tocsin hunt: give --db DIR (a kept, resumable hunt) or -o FILE, "
                            "not both\n");
            return 2;
        }
    }
    if (o.to_ns <= o.from_ns) {
        fprintf(stderr, "tocsin hunt: --to must be after --from\n");
        rt_hunt_record_free(&rec);
        return 2;
    }
    cli_install_signals();
    o.stop = &ts_rt.stop;
    struct rt_hunt_result res;
    int rc = rt_hunt_run(&o, &res, &err);
    const struct ingest_range_stats *st = &res.st;
    if (rc && rc != TS_E_STOPPED) {
        print_err(&err, rc);
        if (o.db && res.id[0])
            fprintf(stderr, "tocsin hunt: hunt %s failed; once fixed: tocsin hunt --db %s "
                            "--resume %s\n", res.id, o.db, res.id);
        rt_hunt_record_free(&rec);
        return rc == TS_E_CONFIG || rc == TS_E_INVAL || rc == TS_E_NOTFOUND ? 2 : 1;
    }
    fprintf(stderr, "hunt %s: %s: %llu messages read of %llu planned in %zu %s: "
                    "%llu events in the range, %llu outside it, %llu of other tenants, %llu "
                    "dead letters; detections: %llu, incidents: %zu (%.1f s)\n",
            res.id, rc == TS_E_STOPPED ? "stopped" : "done",
            (unsigned long long)st->in.consumed, (unsigned long long)st->progress.planned,
            st->progress.partitions, files_mode ? "file(s)" : "partition(s)",
            (unsigned long long)st->progress.events,
            (unsigned long long)st->out_of_window, (unsigned long long)st->other_tenant,
            (unsigned long long)st->in.dead_letters, (unsigned long long)res.detections,
            res.incidents, (double)res.wall_ns / 1e9);
    if (rc == TS_E_STOPPED) {
        if (files_mode)
            fprintf(stderr, "hunt %s: stopped; a hunt over files is not resumable: run it "
                            "again\n", res.id);
        else if (o.db)
            fprintf(stderr, "hunt %s: stopped; resume with: tocsin hunt --db %s --resume %s\n",
                    res.id, o.db, res.id);
        else
            fprintf(stderr, "hunt %s: stopped; the output is partial (only a hunt with --db "
                            "can be resumed)\n", res.id);
    }
    if (!st->progress.planned && rc != TS_E_STOPPED && !files_mode)
        fprintf(stderr, "hunt %s: the topics hold no record within the range and its margin "
                        "(by Kafka timestamp): nothing to read. Is the range older than the "
                        "topics' retention (retention.ms, docs/hunting.md)?\n", res.id);
    if (o.intel_source)
        fprintf(stderr, "hunt %s: %llu sighting(s) of indicators of %s\n", res.id,
                (unsigned long long)res.sightings, o.intel_source);
    if (rc != TS_E_STOPPED && o.db) {
        fprintf(stderr, "hunt %s: results in %s/hunts/%s (tocsin hunts --db %s show %s)\n",
                res.id, o.db, res.id, o.db, res.id);
    }
    rt_hunt_record_free(&rec);
    return rc == TS_E_STOPPED ? 130 : 0;
}

/* ------------------------------------------------ intel load --hunt */

int cli_intel_hunt(const char *config, const char *intel_db, const char *source,
                   const char *duration, const char *hunt_db)
{
    int64_t span;
    if (parse_duration(duration, &span) || span == 0) {
        fprintf(stderr, "tocsin intel load: bad --hunt \"%s\" (how far back: e.g. 30d, 12h; "
                        "up to 366d)\n", duration);
        return 2;
    }
    int64_t now = ts_now_ns();
    struct rt_hunt_opts o = {.config_path = config, .intel_source = source,
                             .intel_db = intel_db, .from_ns = now - span, .to_ns = now,
                             .margin_ns = RT_HUNT_DEFAULT_MARGIN, .db = hunt_db,
                             .progress = stderr, .quiet = true};
    cli_install_signals();
    o.stop = &ts_rt.stop;
    struct rt_hunt_result res;
    struct ts_err err = {0};
    fflush(stdout); /* the load's lines before the sightings */
    int rc = rt_hunt_run(&o, &res, &err);
    if (rc && rc != TS_E_STOPPED) {
        print_err(&err, rc);
        return rc == TS_E_CONFIG || rc == TS_E_INVAL || rc == TS_E_NOTFOUND ? 2 : 1;
    }
    char f[48], t[48];
    ts_format_rfc3339(o.from_ns, f, sizeof(f));
    ts_format_rfc3339(o.to_ns, t, sizeof(t));
    fprintf(stderr, "retro-hunt %s: %s: %llu sighting(s) of indicators of %s in %llu events "
                    "from %s to %s (%llu messages read)\n",
            res.id, rc == TS_E_STOPPED ? "stopped" : "done",
            (unsigned long long)res.sightings, source,
            (unsigned long long)res.st.progress.events, f, t,
            (unsigned long long)res.st.in.consumed);
    if (hunt_db)
        fprintf(stderr, "retro-hunt %s: kept in %s/hunts/%s (tocsin hunts --db %s show %s)\n",
                res.id, hunt_db, res.id, hunt_db, res.id);
    return rc == TS_E_STOPPED ? 130 : 0;
}

/* ---------------------------------------------------------------- hunts */

static const char hunts_usage[] =
    "usage: tocsin hunts --db DIR list [--json]\n"
    "       tocsin hunts --db DIR show ID [--json]\n"
    "The hunts kept in DIR/hunts (tocsin hunt --db DIR): list them, or show one with its\n"
    "parameters, counts, detections and incidents.\n";

static json_int_t count_of(json_t *rec, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(rec, "counts"), key));
}

static const char *str_of(json_t *rec, const char *key)
{
    const char *s = json_string_value(json_object_get(rec, key));
    return s ? s : "-";
}

static int hunts_list(const char *db, bool json)
{
    char dir[RT_HUNT_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/hunts", db);
    DIR *d = opendir(dir);
    struct dirent **names = NULL;
    int n = d ? scandir(dir, &names, NULL, alphasort) : 0;
    if (d)
        closedir(d);
    if (!json)
        printf("%-28s  %-8s  %-20s  %-20s  %10s  %9s  %s\n", "ID", "STATUS", "FROM", "TO",
               "DETECTIONS", "INCIDENTS", "READ/PLANNED");
    unsigned shown = 0;
    for (int i = 0; i < n; i++) {
        struct rt_hunt_record rec;
        struct ts_err err = {0};
        if (names[i]->d_name[0] != '.' && rt_hunt_id_ok(names[i]->d_name) &&
            rt_hunt_record_load(db, names[i]->d_name, &rec, &err) == 0) {
            json_t *j = rec.json;
            if (json) {
                char *s = json_dumps(j, JSON_COMPACT);
                if (s)
                    printf("%s\n", s);
                free(s);
            } else {
                char rp[64];
                snprintf(rp, sizeof(rp), "%lld/%lld", (long long)count_of(j, "read"),
                         (long long)count_of(j, "planned"));
                printf("%-28s  %-8s  %-20s  %-20s  %10lld  %9lld  %s\n", rec.id, rec.status,
                       str_of(j, "from"), str_of(j, "to"), (long long)count_of(j, "detections"),
                       (long long)count_of(j, "incidents"), rp);
            }
            shown++;
            rt_hunt_record_free(&rec);
        }
        free(names[i]);
    }
    free(names);
    if (!json)
        printf("%u hunt%s\n", shown, shown == 1 ? "" : "s");
    return 0;
}

static int show_incident(void *ctx, const struct store_incident *inc)
{
    struct ts_buf *b = ctx;
    ts_buf_reset(b);
    int rc = rt_view_incident(b, inc);
    if (!rc)
        printf("%.*s\n", (int)b->len, b->data);
    return rc;
}

static int hunts_show(const char *db, const char *id, bool json)
{
    struct rt_hunt_record rec;
    struct ts_err err = {0};
    if (rt_hunt_record_load(db, id, &rec, &err)) {
        print_err(&err, TS_E_NOTFOUND);
        return 2;
    }
    char *s = json_dumps(rec.json, json ? JSON_COMPACT : JSON_INDENT(2));
    if (s)
        printf(json ? "{\"hunt\":%s}\n" : "%s\n", s);
    free(s);
    char path[RT_HUNT_PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/hunts/%s/detections.jsonl", db, id);
    FILE *f = fopen(path, "r");
    if (!json)
        printf("\ndetections (%s):\n", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (f && (n = getline(&line, &cap, f)) > 0)
        fwrite(line, 1, (size_t)n, stdout);
    free(line);
    if (f)
        fclose(f);
    snprintf(path, sizeof(path), "%s/hunts/%s", db, id);
    struct store *st = NULL;
    int rc = rt_store_open_read(path, 0, &st, &err);
    if (!json)
        printf("\nincidents (tocsin incidents --db %s list):\n", path);
    if (!rc) {
        struct store_txn *t = NULL;
        struct ts_arena *a = NULL;
        struct ts_buf b;
        ts_buf_init(&b, 0);
        struct store_incident_filter filt = {0};
        rc = ts_arena_create(&a, 64 << 10, 64 << 20);
        rc = rc ? rc : store_txn_begin(st, STORE_TXN_RDONLY, &t);
        rc = rc ? rc : store_incident_list(t, &filt, a, show_incident, &b);
        store_txn_abort(t);
        ts_arena_destroy(a);
        ts_buf_free(&b);
        store_close(st);
    }
    if (rc)
        fprintf(stderr, "tocsin hunts: %s: cannot read the hunt's store: %s\n", path,
                err.code ? err.msg : store_strerror(rc));
    rt_hunt_record_free(&rec);
    return rc ? 1 : 0;
}

int cmd_hunts(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'B'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL;
    bool json = false;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'B':
            db = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(hunts_usage, stdout);
            return 0;
        default:
            fputs(hunts_usage, stderr);
            return 2;
        }
    }
    const char *sub = optind < argc ? argv[optind] : NULL;
    if (!db || !sub) {
        fputs(hunts_usage, stderr);
        return 2;
    }
    if (!strcmp(sub, "list") && optind + 1 == argc)
        return hunts_list(db, json);
    if (!strcmp(sub, "show") && optind + 2 == argc)
        return hunts_show(db, argv[optind + 1], json);
    fprintf(stderr, "tocsin hunts: unknown or incomplete command \"%s\"\n%s", sub, hunts_usage);
    return 2;
}
