/* cmd_parse.c - `tocsin parse` and `tocsin replay`: the pipeline over files
 * or stdin. parse prints each normalised event as a JSON line; replay runs
 * the pipeline and reports what it saw (later stages attach here). */
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "../core/config.h"
#include "../core/event_json.h"
#include "../core/log.h"
#include "../core/tstime.h"
#include "../core/tz.h"
#include "cli.h"
#include "cli_int.h"
#include "../normalise/normalise.h"

#define MAX_RULE_PATHS 64

struct file_args {
    struct rt_norm_args norm;
    struct ts_tz *tz;           /* --tz (owned; freed once the files are read) */
    char norm_line[256];        /* normalisation's summary (rt_norm_summary), "" if none */
    struct ingest_host_zone host_tz[64]; /* --host-tz (patterns and zones owned, likewise) */
    struct ts_tz *host_tz_z[64];
    size_t nhost_tz;
    bool explain;
    const char *rules[MAX_RULE_PATHS];
    size_t nrules;
    enum ingest_format format;
    const char *tenant;
    const char *dead_letter;
    const char *events_out;
    const char *db;
    const char *regime; /* --escalate REGIME */
    struct ingest_parse_opts parse;
    uint32_t batch;
    long long commit_every; /* -1: default */
    bool pipeline;          /* replay with rules: commit on a second thread */
    bool quiet;
    bool skip_invalid;      /* --skip-invalid-rules */
    bool evidence;          /* --evidence */
    int64_t from_ns, to_ns; /* replay --from/--to: event-time window (to 0: none) */
};

static const char parse_usage[] =
    "usage: tocsin parse [options] FILE...|-\n"
    "Print each message of the files (or stdin: -) as one normalised JSON event per line.\n"
    "Warnings and rejected lines are reported on stderr as FILE:LINE: ...\n";
static const char replay_usage[] =
    "usage: tocsin replay [options] FILE...|-\n"
    "Run the pipeline over files (or stdin: -), .gz read transparently, and report.\n";
static const char common_usage[] =
    "options:\n"
    "  -f, --format F          auto (default), rfc3164, rfc5424, json, syslog\n"
    "  -t, --tenant T          tenant (agency) of these events\n"
    "      --tz ZONE           zone of timestamps without one: +07:00, UTC or an IANA name\n"
    "                          such as Asia/Ho_Chi_Minh (default UTC)\n"
    "      --host-tz PAT=ZONE  zone of hosts matching the glob PAT (repeatable), e.g.\n"
    "                          'fw-*=UTC': for senders whose clocks keep another zone\n"
    "      --year-ref TIME     reference time (RFC 3339) for year-less timestamps\n"
    "      --max-message-bytes N   longer messages are dead letters (default 1048576); so is\n"
    "                          an event whose JSON is over 4N + 1 MiB (at least 64 MiB)\n"
    "  -d, --dead-letter FILE  write rejected messages there as JSON lines (a new file: 0600)\n"
    "      --profiles DIR      mapping profiles (default: etc/profiles beside the binary)\n"
    "      --decoders DIR      decoders (default: etc/decoders beside the binary)\n"
    "  -p, --profile NAME      force this mapping profile for every event\n"
    "      --no-normalise      events exactly as parsed (no decoders, profiles, enrichment)\n"
    "      --assets FILE       asset inventory (YAML) for asset.* fields\n"
    "      --intel-db DIR      threat-intel LMDB (tocsin intel load) for threat.* fields\n"
    "      --geoip-city FILE, --geoip-asn FILE   MaxMind databases for <ip>.geo.* / .as.*\n"
    "  -q, --quiet             no per-line warnings on stderr\n";
static const char parse_only_usage[] =
    "      --explain           add explain.* fields: which decoder/profile fired, why\n";
static const char replay_only_usage[] =
    "  -o, --events-out FILE   also write every event as JSON lines (a new file: 0600)\n"
    "  -r, --rules PATH        Sigma rules (file or directory; repeatable): print one JSON\n"
    "                          object per detection, and per incident of the correlation\n"
    "                          rules among them (at the end). An invalid rule stops replay\n"
    "                          before it starts (exit 2); unsupported ones are skipped and\n"
    "                          counted\n"
    "      --skip-invalid-rules  run without the invalid rules instead\n"
    "      --evidence          print each incident with its evidence records: where each\n"
    "                          event came from, the sub-rule it matched, its text (lines the\n"
    "                          engine did not keep read back from the file, and said so)\n"
    "      --db DIR            keep correlation state and incidents in this LMDB directory\n"
    "                          (default: in memory)\n"
    "      --commit-every N    (with --db) one LMDB commit per N events (default 2000000,\n"
    "                          and at least every 2 s; 0: every batch). A killed replay run\n"
    "                          again on the same --db resumes each file after its last\n"
    "                          committed line (files are known by their real path, device\n"
    "                          and inode, whatever the path given)\n"
    "      --escalate REGIME   (with --db) write escalations of the incidents to the LMDB\n"
    "                          outbox per REGIME (law116-2025, circular20-2017)\n"
    "      --from TIME, --to TIME  only events whose event time is in [from, to), RFC 3339\n"
    "                          (docs/hunting.md); the others are counted\n";

static int parse_args(int argc, char **argv, struct file_args *a, const char *usage,
                      const char *only)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"tenant", required_argument, NULL, 't'},
        {"tz", required_argument, NULL, 'z'},
        {"host-tz", required_argument, NULL, 'H'},
        {"year-ref", required_argument, NULL, 'y'},
        {"max-message-bytes", required_argument, NULL, 'm'},
        {"dead-letter", required_argument, NULL, 'd'},
        {"events-out", required_argument, NULL, 'o'},
        {"batch", required_argument, NULL, 'b'},
        {"commit-every", required_argument, NULL, 'C'},
        {"quiet", no_argument, NULL, 'q'},
        {"rules", required_argument, NULL, 'r'},
        {"db", required_argument, NULL, 'B'},
        {"escalate", required_argument, NULL, 'X'},
        {"profiles", required_argument, NULL, 'P'},
        {"decoders", required_argument, NULL, 'D'},
        {"profile", required_argument, NULL, 'p'},
        {"no-normalise", no_argument, NULL, 'N'},
        {"explain", no_argument, NULL, 'E'},
        {"assets", required_argument, NULL, 'A'},
        {"intel-db", required_argument, NULL, 'I'},
        {"geoip-city", required_argument, NULL, 'G'},
        {"geoip-asn", required_argument, NULL, 'S'},
        {"skip-invalid-rules", no_argument, NULL, 'K'},
        {"evidence", no_argument, NULL, 'V'},
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof(*a));
    a->tenant = "";
    a->commit_every = -1;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "f:t:d:o:qr:p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (a->nrules == MAX_RULE_PATHS) {
                fprintf(stderr, "tocsin: at most %d --rules\n", MAX_RULE_PATHS);
                return 2;
            }
            a->rules[a->nrules++] = optarg;
            break;
        case 'P':
            a->norm.profiles = optarg;
            break;
        case 'B':
            a->db = optarg;
            break;
        case 'X':
            a->regime = optarg;
            break;
        case 'D':
            a->norm.decoders = optarg;
            break;
        case 'p':
            a->norm.force_profile = optarg;
            break;
        case 'N':
            a->norm.none = true;
            break;
        case 'E':
            a->explain = true;
            break;
        case 'K':
            a->skip_invalid = true;
            break;
        case 'V':
            a->evidence = true;
            break;
        case 'A':
            a->norm.assets = optarg;
            break;
        case 'I':
            a->norm.intel_db = optarg;
            break;
        case 'G':
            a->norm.geoip_city = optarg;
            break;
        case 'S':
            a->norm.geoip_asn = optarg;
            break;
        case 'f':
            if (ingest_format_parse(optarg, &a->format)) {
                fprintf(stderr, "tocsin: unknown format \"%s\" (auto, rfc3164, rfc5424, json, "
                                "syslog)\n", optarg);
                return 2;
            }
            break;
        case 't': {
            const char *why = ts_tenant_check(optarg, strlen(optarg));
            if (why) {
                fprintf(stderr, "tocsin: bad --tenant: %s (use up to %d of A-Z a-z 0-9 . _ - : @)\n",
                        why, TS_TENANT_MAX);
                return 2;
            }
            a->tenant = optarg;
            break;
        }
        case 'z': {
            char why[320];
            ts_tz_free(a->tz);
            a->tz = NULL;
            if (ts_tz_load(optarg, &a->tz, why, sizeof(why))) {
                fprintf(stderr, "tocsin: bad --tz \"%s\": %s\n", optarg, why);
                return 2;
            }
            a->parse.tz = a->tz;
            break;
        }
        case 'H': { /* PATTERN=ZONE */
            const char *eq = strrchr(optarg, '=');
            char why[320];
            struct ts_tz *z = NULL;
            if (!eq || eq == optarg || a->nhost_tz == TS_ARRAY_LEN(a->host_tz) ||
                ts_tz_load(eq + 1, &z, why, sizeof(why))) {
                fprintf(stderr, "tocsin: bad --host-tz \"%s\": %s\n", optarg,
                        !eq || eq == optarg ? "expected PATTERN=ZONE, e.g. 'fw-*=UTC'"
                        : a->nhost_tz == TS_ARRAY_LEN(a->host_tz) ? "too many" : why);
                return 2;
            }
            a->host_tz_z[a->nhost_tz] = z;
            a->host_tz[a->nhost_tz].tz = z;
            a->host_tz[a->nhost_tz].pattern = strndup(optarg, (size_t)(eq - optarg));
            if (!a->host_tz[a->nhost_tz].pattern) {
                ts_tz_free(z);
                return 1;
            }
            a->nhost_tz++;
            a->parse.hosts = a->host_tz;
            a->parse.nhosts = a->nhost_tz;
            break;
        }
        case 'F':
        case 'T': {
            size_t used;
            int64_t *t = c == 'F' ? &a->from_ns : &a->to_ns;
            if (ts_parse_iso8601(optarg, strlen(optarg), 0, t, &used) || used != strlen(optarg)) {
                fprintf(stderr, "tocsin: bad %s \"%s\" (expected RFC 3339, e.g. "
                                "2026-12-07T10:00:00Z)\n", c == 'F' ? "--from" : "--to", optarg);
                return 2;
            }
            if (c == 'F' && !a->to_ns)
                a->to_ns = INT64_MAX;
            break;
        }
        case 'y': {
            size_t used;
            if (ts_parse_iso8601(optarg, strlen(optarg), 0, &a->parse.ref_ns, &used) ||
                used != strlen(optarg)) {
                fprintf(stderr, "tocsin: bad --year-ref \"%s\" (expected RFC 3339)\n", optarg);
                return 2;
            }
            break;
        }
        case 'm': {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || v == 0 || v > (64u << 20)) {
                fprintf(stderr, "tocsin: --max-message-bytes must be 1..67108864\n");
                return 2;
            }
            a->parse.max_msg_bytes = (size_t)v;
            break;
        }
        case 'b': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v == 0 || v > 100000) {
                fprintf(stderr, "tocsin: --batch must be 1..100000\n");
                return 2;
            }
            a->batch = (uint32_t)v;
            break;
        }
        case 'C': {
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (*end || end == optarg || v < 0 || v > 100000000) {
                fprintf(stderr, "tocsin: --commit-every must be 0..100000000 events\n");
                return 2;
            }
            a->commit_every = v;
            break;
        }
        case 'd':
            a->dead_letter = optarg;
            break;
        case 'o':
            a->events_out = optarg;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'h':
            printf("%s%s%s", usage, common_usage, only);
            return 0;
        default:
            fprintf(stderr, "%s%s%s", usage, common_usage, only);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "%s%s%s", usage, common_usage, only);
        return 2;
    }
    return -1;
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

/* Open --dead-letter (when given); returns 0 or the exit code. */
static int open_dlq(const struct file_args *a, struct ingest_dlq_file **dlq)
{
    *dlq = NULL;
    struct ts_err err = {0};
    if (a->dead_letter && ingest_dlq_file_open(dlq, a->dead_letter, &err)) {
        print_err(&err, TS_E_IO);
        return 1;
    }
    return 0;
}

/* Run the file source with a sink; returns the exit code. */
static int run_files(struct file_args *a, int nfiles, char **files, struct ingest_sink sink,
                     struct ingest_dlq_file *dlq, struct ingest_stats *st)
{
    struct ts_err err = {0};
    struct norm_set *norm = NULL;
    memset(st, 0, sizeof(*st));
    if (rt_norm_build(&a->norm, &norm))
        return 2;
    struct ingest_file_opts o = {
        .paths = (const char *const *)files,
        .npaths = (size_t)nfiles,
        .format = a->format,
        .tenant = a->tenant,
        .parse = a->parse,
        .batch_max = a->batch,
        .sink = sink,
        .dlq = dlq,
        .diag = a->quiet ? NULL : stderr,
        .stop = &ts_rt.stop,
        .norm = norm,
        .explain = a->explain,
        .pipeline = a->pipeline,
    };
    int rc = ingest_files_run(&o, st, &err);
    ts_tz_free(a->tz); /* the files are read */
    a->tz = NULL;
    a->parse.tz = NULL;
    for (size_t i = 0; i < a->nhost_tz; i++) {
        free((char *)a->host_tz[i].pattern);
        ts_tz_free(a->host_tz_z[i]);
    }
    a->nhost_tz = 0;
    a->parse.hosts = NULL;
    a->parse.nhosts = 0;
    if (dlq)
        ingest_dlq_file_flush(dlq);
    if (!norm || !rt_norm_summary(norm, a->norm_line, sizeof(a->norm_line)))
        a->norm_line[0] = '\0';
    norm_set_free(norm);
    if (rc && rc != TS_E_STOPPED) {
        print_err(&err, rc);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ events out */

/* The longest event JSON line parse and replay write: 4 bytes per byte of
 * --max-message-bytes and 1 MiB, at least 64 MiB - room for the raw text and
 * the message of a text message, each JSON-escaped, and the other fields. An
 * event over it (a message dense in control characters, which JSON escapes
 * as 6 bytes each) is a dead letter "event JSON over N bytes", reported on
 * stderr as FILE:LINE: rejected: ..., and the run goes on. */
static size_t events_json_max(size_t max_msg)
{
    size_t n = 4 * (max_msg ? max_msg : INGEST_DEFAULT_MAX_MSG) + ((size_t)1 << 20);
    return n > ((size_t)64 << 20) ? n : (size_t)64 << 20;
}

struct events_sink {
    struct rt_events_out eo;
    struct ingest_dlq_file *dlq; /* NULL: too-large events are reported on diag only */
    FILE *diag;                  /* NULL: --quiet */
    uint64_t too_large;
};

static int events_sink_open(struct events_sink *es, const char *path, const struct file_args *a,
                            struct ingest_dlq_file *dlq)
{
    es->dlq = dlq;
    es->diag = a->quiet ? NULL : stderr;
    es->too_large = 0;
    int rc = rt_events_out_open(&es->eo, path);
    if (!rc)
        es->eo.line.limit = events_json_max(a->parse.max_msg_bytes);
    return rc;
}

static int events_sink_reject(struct events_sink *es, const struct ts_event *ev)
{
    char why[64];
    snprintf(why, sizeof(why), "event JSON over %zu bytes", es->eo.line.limit);
    es->too_large++;
    if (es->diag)
        fprintf(es->diag, "%s:%llu: rejected: %s\n", ev->src.name ? ev->src.name : "-",
                (unsigned long long)ev->src.line, why);
    if (!es->dlq)
        return 0;
    int rc = ingest_dlq_file_write(es->dlq, ev, why);
    return rc ? rc : ingest_dlq_file_flush(es->dlq);
}

/* The events of b as JSON lines (the sink's process step; on the reading
 * thread, like the source's dead letters). */
static int events_sink_write(struct events_sink *es, struct ingest_batch *b)
{
    struct rt_events_out *eo = &es->eo;
    int rc = 0;
    pthread_mutex_lock(&eo->mu);
    for (uint32_t i = 0; !rc && i < b->n; i++) {
        ts_buf_reset(&eo->line);
        rc = ts_event_to_json(&b->events[i], &eo->line);
        rc = rc ? rc : ts_buf_putc(&eo->line, '\n');
        if (rc == TS_E_LIMIT)
            rc = events_sink_reject(es, &b->events[i]);
        else if (!rc && fwrite(eo->line.data, 1, eo->line.len, eo->f) != eo->line.len)
            rc = TS_E_IO;
        else if (!rc)
            eo->written++;
        if (eo->line.cap > (16u << 20)) /* do not keep a big event's buffer */
            ts_buf_free(&eo->line);
    }
    pthread_mutex_unlock(&eo->mu);
    return rc;
}

static int parse_process(void *ctx, struct ingest_batch *b)
{
    return events_sink_write(ctx, b);
}

static int parse_commit(void *ctx, const struct ingest_batch *b)
{
    struct events_sink *es = ctx;
    return rt_events_out_commit(&es->eo, b);
}

int cmd_parse(int argc, char **argv)
{
    struct file_args a;
    int rc = parse_args(argc, argv, &a, parse_usage, parse_only_usage);
    if (rc >= 0)
        return rc;
    const char *ro = a.nrules ? "--rules" : a.db ? "--db" : a.evidence ? "--evidence"
                     : a.events_out ? "--events-out"
                     : a.regime ? "--escalate" : a.commit_every >= 0 ? "--commit-every"
                     : a.skip_invalid ? "--skip-invalid-rules"
                     : a.to_ns ? "--from/--to" : NULL;
    if (ro) {
        fprintf(stderr, "tocsin parse: %s is an option of replay (tocsin replay --help)\n", ro);
        return 2;
    }
    cli_install_signals();
    struct ingest_dlq_file *dlq;
    if ((rc = open_dlq(&a, &dlq)) != 0)
        return rc;
    struct events_sink es;
    if (events_sink_open(&es, "-", &a, dlq)) {
        ingest_dlq_file_close(dlq);
        return 1;
    }
    struct ingest_sink sink = {.ctx = &es, .process = parse_process, .commit = parse_commit};
    struct ingest_stats st;
    rc = run_files(&a, argc - optind, argv + optind, sink, dlq, &st);
    rt_events_out_close(&es.eo);
    ingest_dlq_file_close(dlq);
    /* an event too large for its JSON line is not printed: a dead letter */
    st.parsed -= es.too_large;
    st.dead_letters += es.too_large;
    if (st.dead_letters || st.warnings)
        fprintf(stderr,
                "tocsin parse: %llu messages: %llu events (%llu with warnings), %llu rejected "
                "(%llu at a limit)\n",
                (unsigned long long)st.consumed, (unsigned long long)st.parsed,
                (unsigned long long)st.warnings, (unsigned long long)st.dead_letters,
                (unsigned long long)st.limit_refused);
    if (st.regex_cut)
        fprintf(stderr, "tocsin parse: %llu event(s) with a decoder regex search cut short by a "
                        "PCRE2 limit (counted as not matching)\n",
                (unsigned long long)st.regex_cut);
    return rc;
}

/* ---- replay: tallies of what went through (cli/replay_report.c) ---- */

#define REPLAY_TOP 10 /* keys of a tally, rules of the detections summary */

struct replay_ctx {
    struct cli_tally format, host, program, tenant, logsource;
    struct cli_progress progress; /* the bar on a terminal (stderr) */
    struct events_sink out_sink; /* -o */
    bool out;
    struct rt_det det;
    bool rules;
    struct rt_corr corr;
    bool correlate;
    struct rt_esc esc;
    bool escalate;
    int64_t from_ns, to_ns; /* --from/--to (to 0: no window) */
    uint64_t out_of_window;
};

/* Count the first string field of names, or "(none)". */
static void tally_field(struct cli_tally *t, const struct ts_event *ev, const char *const *names,
                        size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct ts_field *f = ts_event_getz(ev, names[i]);
        if (f && f->v.type == TS_V_STR) {
            cli_tally_add(t, f->v.u.s, f->v.len);
            return;
        }
    }
    cli_tally_add(t, "(none)", 6);
}

static void tally_str(struct cli_tally *t, const char *s)
{
    cli_tally_add(t, s, strlen(s));
}

static int replay_process(void *ctx, struct ingest_batch *b)
{
    static const char *const hosts[] = {"host", "host.name", "Hostname", "Computer",
                                        "Event.System.Computer"};
    static const char *const progs[] = {"program", "winlog.channel", "Channel",
                                        "Event.System.Channel"};
    struct replay_ctx *r = ctx;
    uint64_t bytes = 0;
    if (r->to_ns) /* --from/--to: only the window goes on (tallies, -o, rules) */
        r->out_of_window += ingest_batch_window(b, r->from_ns, r->to_ns, NULL, NULL);
    for (uint32_t i = 0; i < b->n; i++) {
        const struct ts_event *ev = &b->events[i];
        bytes += ev->raw_len + 1u;
        tally_str(&r->format, ev->format ? ev->format : "?");
        tally_field(&r->host, ev, hosts, TS_ARRAY_LEN(hosts));
        tally_field(&r->program, ev, progs, TS_ARRAY_LEN(progs));
        tally_str(&r->tenant, ev->tenant[0] ? ev->tenant : "(none)");
        char ls[96]; /* product/category-or-service, without snprintf (per event) */
        const char *a = ev->logsource.product ? ev->logsource.product : "-";
        const char *c = ev->logsource.category  ? ev->logsource.category
                        : ev->logsource.service ? ev->logsource.service
                                                : "-";
        size_t al = strnlen(a, 47), cl = strnlen(c, 47);
        memcpy(ls, a, al);
        ls[al] = '/';
        memcpy(ls + al + 1, c, cl);
        ls[al + 1 + cl] = '\0';
        tally_str(&r->logsource, ls);
    }
    cli_progress_add(&r->progress, b->consumed, bytes);
    /* rule matching runs in replay_commit: on the pipeline's second thread,
     * which would otherwise wait for this one (reading, parsing and
     * normalising take longer than correlating) */
    return r->out ? events_sink_write(&r->out_sink, b) : 0;
}

static int replay_commit(void *ctx, const struct ingest_batch *b)
{
    struct replay_ctx *r = ctx;
    int rc = r->rules ? rt_det_process(&r->det, b) : 0;
    rc = rc ? rc : r->rules ? rt_det_flush(&r->det) : 0;
    if (!rc && r->correlate)
        rc = rt_corr_commit(&r->corr, b);
    return rc ? rc : r->out ? rt_events_out_commit(&r->out_sink.eo, b) : 0;
}

/* replay --db resumes each file after the last line its store holds */
static int replay_seek(void *ctx, const char *topic, int32_t partition, int64_t *offset)
{
    struct replay_ctx *r = ctx;
    return r->correlate ? rt_corr_seek(&r->corr, topic, partition, offset) : TS_E_NOTFOUND;
}

/* Invalid rules stop replay before it reads anything, unless
 * --skip-invalid-rules: a rule the analyst meant to run must not be left
 * out silently. Unsupported rules (Sigma features Tocsin does not have) are
 * skipped with their count, as always. */
static bool refuse_invalid(const struct file_args *a, size_t invalid, const char *what)
{
    if (!invalid || a->skip_invalid)
        return false;
    fprintf(stderr, "tocsin replay: %zu invalid %srule%s (listed above): fix %s, or pass "
                    "--skip-invalid-rules to run without %s\n",
            invalid, what, invalid == 1 ? "" : "s", invalid == 1 ? "it" : "them",
            invalid == 1 ? "it" : "them");
    return true;
}

int cmd_replay(int argc, char **argv)
{
    struct file_args a;
    int rc = parse_args(argc, argv, &a, replay_usage, replay_only_usage);
    if (rc >= 0)
        return rc;
    cli_install_signals();
    struct replay_ctx r;
    memset(&r, 0, sizeof(r));
    r.format.label = "format:";
    r.host.label = "host:";
    r.program.label = "program:";
    r.tenant.label = "tenant:";
    r.logsource.label = "logsource:";
    r.from_ns = a.from_ns;
    r.to_ns = a.to_ns;
    if (a.to_ns && a.to_ns <= a.from_ns) {
        fprintf(stderr, "tocsin replay: --to must be after --from\n");
        return 2;
    }
    for (int i = optind; a.db && i < argc; i++)
        if (strlen(argv[i]) > STORE_SOURCE_MAX) {
            /* the store keys input offsets and evidence by the file's path */
            fprintf(stderr, "tocsin replay: %.60s...: path longer than %d bytes, which --db "
                            "cannot record; give a shorter path (a symbolic link)\n",
                    argv[i], STORE_SOURCE_MAX);
            return 2;
        }
    if (a.nrules) {
        struct rule_load_opts lo = {.paths = a.rules, .npaths = a.nrules};
        /* batches are read, parsed and normalised while earlier ones are
         * matched, correlated and committed (on one thread: one rule
         * scratch; a detection list per batch in flight) */
        a.pipeline = true;
        if (rt_det_open(&r.det, &lo, 1, stdout, a.quiet) ||
            refuse_invalid(&a, r.det.invalid_rules, "")) {
            rt_det_close(&r.det);
            return 2;
        }
        r.rules = true;
        if (rt_corr_open(&r.corr, r.det.rs, NULL, a.db, INGEST_PIPELINE_BATCHES, stdout,
                         true) ||
            refuse_invalid(&a, r.corr.invalid_rules, "correlation ")) {
            rt_corr_close(&r.corr);
            rt_det_close(&r.det);
            return 2;
        }
        r.correlate = true;
        r.det.corr = &r.corr;
        r.corr.keep_evidence = a.evidence;
        /* one LMDB commit per 2 s (or 2M events) rather than per batch: an
         * incident touched by every batch is written once per commit */
        r.corr.commit_events = a.commit_every < 0 ? 2000000 : (uint64_t)a.commit_every;
        r.corr.commit_ns = a.commit_every == 0 ? 0 : 2000000000LL;
        if (a.regime) {
            if (!a.db || rt_esc_open(&r.esc, a.regime, NULL, NULL, NULL, NULL,
                                     a.norm.assets)) {
                if (!a.db)
                    fprintf(stderr, "tocsin: --escalate needs --db (the outbox lives in LMDB)\n");
                rt_corr_close(&r.corr);
                rt_det_close(&r.det);
                return 2;
            }
            r.escalate = true;
            r.corr.esc = &r.esc.env;
        }
    } else if (a.db) {
        fprintf(stderr, "tocsin: --db needs --rules\n");
        return 2;
    }
    struct ingest_dlq_file *dlq = NULL;
    if (open_dlq(&a, &dlq))
        rc = 1;
    else if (a.events_out && events_sink_open(&r.out_sink, a.events_out, &a, dlq))
        rc = 1;
    if (rc > 0) { /* nothing ran yet */
        ingest_dlq_file_close(dlq);
        if (r.correlate)
            rt_corr_close(&r.corr);
        if (r.escalate)
            rt_esc_close(&r.esc);
        if (r.rules)
            rt_det_close(&r.det);
        return rc;
    }
    r.out = a.events_out != NULL;
    struct ingest_sink sink = {.ctx = &r, .process = replay_process, .commit = replay_commit,
                               .seek = a.db ? replay_seek : NULL};
    struct ingest_stats st;
    int nfiles = argc - optind;
    /* the bar's 100%: the files' sizes (unknown with stdin or gzip) */
    uint64_t total = 0;
    bool known = true;
    for (int i = optind; i < argc; i++) {
        struct stat sb;
        size_t l = strlen(argv[i]);
        if (strcmp(argv[i], "-") == 0 || (l > 3 && strcmp(argv[i] + l - 3, ".gz") == 0) ||
            stat(argv[i], &sb) != 0)
            known = false;
        else
            total += (uint64_t)sb.st_size;
    }
    cli_progress_start(&r.progress, stderr, !a.quiet, total, known);
    rc = run_files(&a, nfiles, argv + optind, sink, dlq, &st);
    double elapsed = cli_progress_end(&r.progress);
    bool ran = rc != 2; /* 2: normalisation did not load, nothing was read */
    if (r.correlate) { /* what coalescing holds: what was read is committed */
        int frc = rt_corr_flush(&r.corr);
        rc = rc ? rc : frc;
    }
    if (r.out)
        rt_events_out_close(&r.out_sink.eo);
    ingest_dlq_file_close(dlq);
    uint64_t ndet = r.rules ? r.det.detections : 0;
    size_t ninc = r.correlate ? r.corr.nfinal : 0;
    uint64_t nout = r.correlate ? r.corr.outbox_entries : 0;
    char dropped[512];
    bool ndropped = r.correlate && rt_corr_dropped(&r.corr, dropped, sizeof(dropped));
    uint64_t re_cut = 0, re_long = 0;
    if (r.rules)
        rt_det_re_stats(&r.det, &re_cut, &re_long);
    if (r.correlate) {
        rt_corr_print_final(&r.corr);
        rt_corr_close(&r.corr);
    }
    if (r.escalate)
        rt_esc_close(&r.esc);
    /* the detections' summary, kept until the counters line is out */
    char *dsum = NULL;
    size_t dsum_len = 0;
    if (r.rules && ran) {
        FILE *m = open_memstream(&dsum, &dsum_len);
        if (m) {
            cli_detections_summary(&r.det, m, REPLAY_TOP);
            fclose(m);
        }
    }
    if (r.rules)
        rt_det_close(&r.det);
    FILE *out = r.rules ? stderr : stdout; /* detections own stdout */
    struct cli_tally *tallies[] = {&r.format, &r.logsource, &r.tenant, &r.host, &r.program};
    if (!ran) { /* no summary of a run that did not happen */
        for (size_t i = 0; i < TS_ARRAY_LEN(tallies); i++)
            cli_tally_free(tallies[i]);
        free(dsum);
        return rc;
    }
    fprintf(out, "replay: %d input(s), %llu messages: %llu events (%llu with warnings), "
                 "%llu dead letters\n",
            nfiles, (unsigned long long)st.consumed, (unsigned long long)st.parsed,
            (unsigned long long)st.warnings, (unsigned long long)st.dead_letters);
    fprintf(out, "  elapsed %.2f s: %.0f messages/s, %.1f MB/s\n", elapsed,
            elapsed > 0 ? (double)st.consumed / elapsed : 0.0,
            elapsed > 0 ? (double)r.progress.bytes / elapsed / 1e6 : 0.0);
    if (r.to_ns)
        fprintf(out, "  outside --from/--to: %llu events (dropped)\n",
                (unsigned long long)r.out_of_window);
    if (st.limit_refused)
        fprintf(out, "  dead letters at a limit: %llu (message size, JSON nesting depth, fields "
                     "per event; the dead letter's reason names it)\n",
                (unsigned long long)st.limit_refused);
    if (st.regex_cut)
        fprintf(out, "  decoder regex cut short: %llu event%s (a PCRE2 limit stopped a search; "
                     "counted as not matching)\n",
                (unsigned long long)st.regex_cut, st.regex_cut == 1 ? "" : "s");
    if (st.clamped)
        fprintf(out, "  clamped event times: %llu (too far ahead of ingest time; see "
                     "time_claimed)\n",
                (unsigned long long)st.clamped);
    if (st.no_decoder)
        fprintf(out, "  no decoder: %llu event%s with a program and a message that no decoder "
                     "read (left as parsed: rules on decoded fields cannot see them)\n",
                (unsigned long long)st.no_decoder, st.no_decoder == 1 ? "" : "s");
    if (a.norm_line[0])
        fprintf(out, "  %s\n", a.norm_line);
    if (r.out && r.out_sink.too_large)
        fprintf(out, "  events-out: %llu event%s over %zu bytes of JSON, dead-lettered instead\n",
                (unsigned long long)r.out_sink.too_large, r.out_sink.too_large == 1 ? "" : "s",
                r.out_sink.eo.line.limit);
    if (r.rules)
        fprintf(out, "  detections: %llu, incidents: %zu, escalations queued: %llu\n",
                (unsigned long long)ndet, ninc, (unsigned long long)nout);
    if (ndropped)
        fprintf(out, "  %s\n", dropped);
    if (re_cut)
        fprintf(out, "  Sigma regex searches cut short by the PCRE2 limits: %llu (%llu over the "
                     "length window), treated as not matching\n",
                (unsigned long long)re_cut, (unsigned long long)re_long);
    if (dsum && dsum_len)
        fwrite(dsum, 1, dsum_len, out);
    free(dsum);
    for (size_t i = 0; i < TS_ARRAY_LEN(tallies); i++) {
        cli_tally_print(tallies[i], out, REPLAY_TOP);
        cli_tally_free(tallies[i]);
    }
    return rc;
}
