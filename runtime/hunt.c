/* hunt.c - `tocsin hunt` as a running thing: rules (and indicators) over
 * a time range of the Kafka topics of a config, through the same parse,
 * normalise, enrich, match and correlate pipeline as `run`, read by a
 * consumer of its own (ingest.h: ingest_kafka_range_run) that never
 * touches the live group's offsets.
 *
 * A hunt with a store (--db DIR) is kept apart from the live incidents, in
 * DIR/hunts/ID/: hunt.json (id, parameters, status, counts), an LMDB store
 * of its own (its incidents, correlation state and the next offset per
 * partition, written in one transaction as for `run`) and detections.jsonl.
 * A hunt resumed after a kill starts each partition at its stored offset
 * and first cuts detections.jsonl back to the detections before those
 * offsets (they were written before the store's commit; the ones after it
 * come again), so a resumed hunt gives the same result as one that was
 * never stopped. Without a store (-o FILE) the output is replay's: one
 * detection per line as it is found, the incidents at the end.
 *
 * A hunt over archived files (o->files) is kept the same way (hunt.json
 * names the files and their format); the files are read as `replay` reads
 * them and the events outside [from, to) dropped before matching. It is
 * not resumable (files carry no offsets the store could seek to by
 * partition): a stopped one is run again.
 *
 * Threads: o->threads readers (ingest_kafka_range_run: each a consumer over
 * a share of the partitions, its batches with their worker index) call the
 * sink concurrently: matching runs on the reader's own rule scratch
 * (rt_det, one per worker), the detections' output and the correlation and
 * store stage (rt_corr_commit) take their mutex once per batch. With one
 * reader, the caller's thread. The hunt owns what it opens; the options
 * are borrowed for the call. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/tstime.h"
#include "../normalise/normalise.h"
#include "runtime_int.h"

struct hunt {
    const struct rt_hunt_opts *o;
    struct rt_hunt_result *res;
    struct rt_det det;
    struct rt_corr corr;
    bool det_open, corr_open;
    FILE *out;          /* detections (and, without a store, incidents) */
    bool out_owned;
    char dir[RT_HUNT_PATH_MAX]; /* DIR/hunts/ID, "" without a store */
    int64_t t0;         /* monotonic start */
    int64_t last_print; /* monotonic ns of the last progress line */
    uint64_t done0;     /* messages done at the start (a resume) */
    uint64_t kept;      /* detections a resume kept */
    uint64_t kept_sightings; /* of them, of the intel rule */
    const char *intel_rule_file; /* its path, NULL without --intel */
    bool tty;
};

/* ------------------------------------------------------------ the record */

static int mkdir_p(const char *path)
{
    char tmp[RT_HUNT_PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) && errno != EEXIST)
                return TS_E_IO;
            *p = '/';
        }
    return mkdir(tmp, 0700) && errno != EEXIST ? TS_E_IO : 0;
}

bool rt_hunt_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
              (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_'))
            return false;
    return true;
}

static void hunt_dir(const char *db, const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "%s/hunts/%s", db, id);
}

static json_t *time_json(int64_t ns)
{
    char t[48];
    ts_format_rfc3339(ns, t, sizeof(t));
    return json_string(t);
}

/* hunt.json, written to a temporary file and renamed over the old one. */
static int record_write(struct hunt *h, const char *status)
{
    const struct rt_hunt_opts *o = h->o;
    const struct rt_hunt_result *r = h->res;
    json_t *rules = json_array();
    for (size_t i = 0; i < o->nrules; i++)
        json_array_append_new(rules, json_string(o->rules[i]));
    json_t *files = NULL;
    if (o->nfiles) {
        files = json_array();
        for (size_t i = 0; i < o->nfiles; i++)
            json_array_append_new(files, json_string(o->files[i]));
    }
    const struct ingest_range_stats *st = &r->st;
    json_t *j = json_pack(
        "{s:s, s:s, s:s*, s:o, s:o, s:o, s:I, s:s*, s:s*, s:s*, s:s*, s:o*, s:s*, s:o, s:o,"
        " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
        "id", r->id, "status", status, "config", o->config_path, "rules", rules,
        "from", time_json(o->from_ns), "to", time_json(o->to_ns),
        "margin_seconds", (json_int_t)(o->margin_ns / TS_NS_PER_SEC),
        "topics", o->topics, "tenant", o->tenant, "intel_source", o->intel_source,
        "intel_db", o->intel_db, "files", files,
        "format", o->nfiles ? (o->format ? o->format : "auto") : NULL,
        "created", time_json(r->created_ns), "updated", time_json(ts_now_ns()),
        "counts",
        "planned", (json_int_t)st->progress.planned, "read", (json_int_t)st->progress.done,
        "events", (json_int_t)st->progress.events, "parsed", (json_int_t)st->in.parsed,
        "out_of_window", (json_int_t)st->out_of_window,
        "other_tenant", (json_int_t)st->other_tenant,
        "dead_letters", (json_int_t)st->in.dead_letters,
        "detections", (json_int_t)r->detections, "sightings", (json_int_t)r->sightings,
        "incidents", (json_int_t)r->incidents,
        "partitions", (json_int_t)st->progress.partitions,
        "partitions_done", (json_int_t)st->progress.partitions_done);
    if (!j)
        return TS_E_NOMEM;
    char path[RT_HUNT_PATH_MAX + 16], tmp[RT_HUNT_PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/hunt.json", h->dir);
    snprintf(tmp, sizeof(tmp), "%s/hunt.json.tmp", h->dir);
    int rc = json_dump_file(j, tmp, JSON_INDENT(2)) ? TS_E_IO : 0;
    json_decref(j);
    if (!rc && rename(tmp, path))
        rc = TS_E_IO;
    return rc;
}

int rt_hunt_record_load(const char *db, const char *id, struct rt_hunt_record *rec,
                        struct ts_err *err)
{
    memset(rec, 0, sizeof(*rec));
    char path[RT_HUNT_PATH_MAX + 16];
    if (!rt_hunt_id_ok(id))
        return ts_err_set(err, TS_E_INVAL, NULL, 0, 0, "bad hunt id \"%.80s\" (letters, "
                          "digits, - and _, up to 64)", id);
    snprintf(path, sizeof(path), "%s/hunts/%s/hunt.json", db, id);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        return ts_err_set(err, TS_E_NOTFOUND, path, (unsigned)je.line, (unsigned)je.column,
                          "no hunt %s here: %s (tocsin hunts --db %s list)", id, je.text, db);
    rec->json = j;
    const char *from = NULL, *to = NULL;
    json_t *rules = NULL;
    json_int_t margin = 0;
    if (json_unpack_ex(j, &je, 0, "{s:s, s:s, s?s, s:o, s:s, s:s, s:I, s?s, s?s, s?s, s?s}",
                       "id", &rec->id, "status", &rec->status, "config", &rec->config,
                       "rules", &rules, "from", &from, "to", &to, "margin_seconds", &margin,
                       "topics", &rec->topics, "tenant", &rec->tenant, "intel_source",
                       &rec->intel_source, "intel_db", &rec->intel_db) ||
        !json_is_array(rules) || json_array_size(rules) > RT_HUNT_MAX_RULES) {
        json_decref(j);
        rec->json = NULL;
        return ts_err_set(err, TS_E_PARSE, path, (unsigned)je.line, (unsigned)je.column,
                          "not a hunt record: %s", je.text);
    }
    size_t used;
    if (ts_parse_iso8601(from, strlen(from), 0, &rec->from_ns, &used) ||
        ts_parse_iso8601(to, strlen(to), 0, &rec->to_ns, &used)) {
        json_decref(j);
        rec->json = NULL;
        return ts_err_set(err, TS_E_PARSE, path, 0, 0, "bad from/to in the hunt record");
    }
    rec->margin_ns = (int64_t)margin * TS_NS_PER_SEC;
    rec->files = json_is_array(json_object_get(j, "files"));
    for (size_t i = 0; i < json_array_size(rules); i++) {
        const char *s = json_string_value(json_array_get(rules, i));
        if (s)
            rec->rules[rec->nrules++] = s;
    }
    return 0;
}

void rt_hunt_record_free(struct rt_hunt_record *rec)
{
    json_decref(rec->json);
    rec->json = NULL;
}

/* ---------------------------------------------------- resume: detections */

/* Keep the detections before the stored offset of their partition; the
 * others are found again. */
static int cut_detections(struct hunt *h, const char *path)
{
    FILE *in = fopen(path, "r");
    if (!in)
        return errno == ENOENT ? 0 : TS_E_IO;
    char tmp[RT_HUNT_PATH_MAX + 64];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fclose(in);
        return TS_E_IO;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t kept = 0, cut = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        json_t *j = json_loadb(line, (size_t)n, 0, NULL);
        const char *topic = NULL;
        json_int_t part = -1, off = -1;
        int64_t next;
        bool keep = j && !json_unpack(j, "{s:{s:s, s:I, s:I}}", "source", "topic", &topic,
                                      "partition", &part, "offset", &off) &&
                    rt_corr_seek(&h->corr, topic, (int32_t)part, &next) == 0 && off < next;
        const char *rf = keep ? json_string_value(json_object_get(j, "rule_file")) : NULL;
        if (rf && h->intel_rule_file && !strcmp(rf, h->intel_rule_file))
            h->kept_sightings++;
        json_decref(j);
        if (keep && fwrite(line, 1, (size_t)n, out) != (size_t)n) {
            free(line);
            fclose(in);
            fclose(out);
            return TS_E_IO;
        }
        keep ? kept++ : cut++;
    }
    free(line);
    fclose(in);
    if (fclose(out) || rename(tmp, path))
        return TS_E_IO;
    h->kept = kept;
    ts_info("hunt %s: resuming: %llu detection(s) kept, %llu after the stored offsets to be "
            "found again", h->res->id, (unsigned long long)kept, (unsigned long long)cut);
    return 0;
}

/* ------------------------------------------------------------ progress */

static void fmt_dur(double s, char *buf, size_t len)
{
    if (s < 0 || s > 99 * 3600.0) {
        snprintf(buf, len, "--:--");
        return;
    }
    unsigned t = (unsigned)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%u:%02u:%02u", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%u:%02u", t / 60, t % 60);
}

/* One line: read/planned (percent), events/s, ETA, detections so far. */
static void progress_line(struct hunt *h, const struct ingest_range_progress *p, bool final)
{
    FILE *f = h->o->progress;
    double el = (double)(ts_mono_ns() - h->t0) / 1e9;
    uint64_t now = p->done > h->done0 ? p->done - h->done0 : 0;
    double rate = el > 0 ? (double)now / el : 0;
    double pct = p->planned ? 100.0 * (double)p->done / (double)p->planned : 100.0;
    char eta[32], ela[32];
    fmt_dur(rate > 0 ? (double)(p->planned - p->done) / rate : -1, eta, sizeof(eta));
    fmt_dur(el, ela, sizeof(ela));
    uint64_t det = 0;
    if (h->det_open) {
        pthread_mutex_lock(&h->det.mu);
        det = h->det.detections;
        pthread_mutex_unlock(&h->det.mu);
    }
    char bar[24] = ""; /* on a terminal: [#####.....] */
    if (h->tty) {
        int full = (int)((pct > 100 ? 100 : pct) / 5);
        bar[0] = '[';
        for (int i = 0; i < 20; i++)
            bar[1 + i] = i < full ? '#' : '.';
        bar[21] = ']';
        bar[22] = ' ';
        bar[23] = '\0';
    }
    fprintf(f, "%shunt %s: %s%llu/%llu messages (%.0f%%), %.0f msg/s, %s %s, detections %llu%s",
            h->tty ? "\r" : "", h->res->id, bar, (unsigned long long)p->done,
            (unsigned long long)p->planned, pct > 100 ? 100.0 : pct, rate,
            final ? "elapsed" : "ETA", final ? ela : eta,
            (unsigned long long)(h->kept + det), h->tty ? "\033[K" : "\n");
    if (final && h->tty)
        fputc('\n', f);
    fflush(f);
}

static void on_progress(void *ctx, const struct ingest_range_progress *p)
{
    struct hunt *h = ctx;
    if (!h->o->progress)
        return;
    int64_t now = ts_mono_ns();
    if (h->last_print == 0) { /* the plan */
        h->done0 = p->done;
        h->last_print = now;
        return;
    }
    int64_t every = h->tty ? 250000000LL
                           : (int64_t)(h->o->progress_interval_s > 0
                                           ? h->o->progress_interval_s : 10) * TS_NS_PER_SEC;
    if (now - h->last_print < every)
        return;
    h->last_print = now;
    progress_line(h, p, false);
}

/* ------------------------------------------------------------ the sink */

static int hunt_process(void *ctx, struct ingest_batch *b)
{
    struct hunt *h = ctx;
    if (h->o->nfiles) { /* the file source has no window: replay's filter */
        struct ingest_range_stats *st = &h->res->st;
        uint32_t dropped = ingest_batch_window(b, h->o->from_ns, h->o->to_ns, NULL, NULL);
        st->out_of_window += dropped;
        st->progress.events += b->n;
    }
    return rt_det_process(&h->det, b);
}

static int hunt_commit(void *ctx, const struct ingest_batch *b)
{
    struct hunt *h = ctx;
    int rc = rt_det_flush(&h->det); /* the detections before the store's offsets */
    return rc ? rc : rt_corr_commit(&h->corr, b);
}

static int hunt_seek(void *ctx, const char *topic, int32_t partition, int64_t *offset)
{
    struct hunt *h = ctx;
    return rt_corr_seek(&h->corr, topic, partition, offset);
}

static int count_incident(void *ctx, const struct store_incident *inc)
{
    TS_UNUSED(inc);
    (*(size_t *)ctx)++;
    return 0;
}

static size_t stored_incidents(struct store *st)
{
    size_t n = 0;
    struct store_txn *t = NULL;
    struct ts_arena *a = NULL;
    struct store_incident_filter f = {0};
    if (ts_arena_create(&a, 64 << 10, 64 << 20) == 0 &&
        store_txn_begin(st, STORE_TXN_RDONLY, &t) == 0)
        (void)store_incident_list(t, &f, a, count_incident, &n);
    store_txn_abort(t);
    ts_arena_destroy(a);
    return n;
}

/* ------------------------------------------------------- intel sightings */

/* A detection rule for the indicators of one intel source: an event that
 * enrichment matched (threat.matched) against an indicator of that source
 * (threat.source). Its id is derived from the source, so a rerun and a
 * resume give the same detections. Written to path, created 0600 unless
 * tmp (then path is a mkstemps template, filled in). */
static int write_intel_rule(char *path, bool tmp, const char *source)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *c = source; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    int fd = tmp ? mkstemps(path, 4) : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return TS_E_IO;
    }
    fprintf(f, "title: 'Indicator sighting: ");
    for (const char *c = source; *c; c++) /* YAML single quotes: '' for ' */
        fputs(*c == '\'' ? "''" : (char[]){*c, 0}, f);
    fprintf(f, "'\nid: %08x-%04x-4%03x-8%03x-%012llx\n", (unsigned)(h >> 32),
            (unsigned)(h >> 16) & 0xffff, (unsigned)h & 0xfff, (unsigned)(h >> 52) & 0xfff,
            (unsigned long long)(h & 0xffffffffffffULL));
    fprintf(f, "status: experimental\n"
               "description: An event matched an indicator of this intel source (tocsin hunt "
               "--intel; threat.indicator, threat.field and threat.type say which).\n"
               "author: tocsin hunt\nlogsource: {}\ndetection:\n    sighting:\n"
               "        threat.matched: true\n        threat.source: '");
    for (const char *c = source; *c; c++)
        fputs(*c == '\'' ? "''" : (char[]){*c, 0}, f);
    fprintf(f, "'\n    condition: sighting\nlevel: high\n");
    return fclose(f) ? TS_E_IO : 0;
}

/* Detections of the intel rule so far (the sightings). */
static uint64_t sightings(struct rt_det *d, const char *rule_path)
{
    struct rule_set *rs = NULL;
    uint64_t *counts = NULL, n = 0;
    size_t nc = 0;
    if (rt_det_hits(d, &rs, &counts, &nc))
        return 0;
    for (size_t i = 0; i < nc; i++) {
        const struct rule_info *ri = rule_set_info(rs, i);
        if (ri && ri->file && !strcmp(ri->file, rule_path))
            n += counts[i];
    }
    free(counts);
    rule_set_unref(rs);
    return n;
}

/* ------------------------------------------------------------ the hunt */

/* Readers: asked for, else the cores (the source caps them at the
 * partitions). */
static int hunt_threads(int asked)
{
    long n = asked > 0 ? asked : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > INGEST_RANGE_MAX_THREADS ? INGEST_RANGE_MAX_THREADS : (int)n;
}

static void make_id(char *buf, size_t len)
{
    char t[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(t, sizeof(t), "%Y%m%dT%H%M%SZ", &tm);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, len, "h-%s-%04x", t, (unsigned)((ts.tv_nsec ^ getpid()) & 0xffff));
}

/* A file only its owner reads (detections quote the events' values):
 * created 0600, truncated (-o: a hunt's whole result) or appended to. */
static FILE *open_private(const char *path, bool trunc)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (trunc ? O_TRUNC : O_APPEND), 0600);
    FILE *f = fd >= 0 ? fdopen(fd, trunc ? "w" : "a") : NULL;
    if (!f && fd >= 0)
        close(fd);
    return f;
}

static int open_output(struct hunt *h, struct ts_err *err)
{
    const struct rt_hunt_opts *o = h->o;
    if (!o->db) {
        if (!o->out || !strcmp(o->out, "-")) {
            h->out = stdout;
            return 0;
        }
        h->out = open_private(o->out, true);
        h->out_owned = h->out != NULL;
        return h->out ? 0 : ts_err_set(err, TS_E_IO, o->out, 0, 0, "cannot create: %s",
                                       strerror(errno));
    }
    char path[RT_HUNT_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/detections.jsonl", h->dir);
    int rc = o->resume ? cut_detections(h, path) : 0;
    if (rc)
        return ts_err_set(err, rc, path, 0, 0, "cannot cut back to the stored offsets: %s",
                          strerror(errno));
    h->out = open_private(path, false);
    h->out_owned = h->out != NULL;
    return h->out ? 0 : ts_err_set(err, TS_E_IO, path, 0, 0, "cannot open: %s",
                                   strerror(errno));
}

static int make_topics(const struct ts_config *cfg, struct ingest_topic **out,
                       struct ingest_host_zone **hz, struct ts_err *err)
{
    *out = calloc(cfg->ntopics + 1, sizeof(**out));
    *hz = calloc(cfg->ingest.nhosts + 1, sizeof(**hz));
    if (!*out || !*hz)
        return TS_E_NOMEM;
    for (size_t i = 0; i < cfg->ingest.nhosts; i++)
        (*hz)[i] = (struct ingest_host_zone){cfg->ingest.hosts[i].pattern,
                                             cfg->ingest.hosts[i].tz};
    for (size_t i = 0; i < cfg->ntopics; i++) {
        const struct ts_config_topic *t = &cfg->topics[i];
        struct ingest_topic *it = &(*out)[i];
        it->name = t->name;
        it->tenant = t->tenant ? t->tenant : cfg->ingest.default_tenant;
        it->dlq_topic = t->dead_letter;
        it->tenants = (const char *const *)t->tenants;
        it->ntenants = t->ntenants;
        it->any_tenant = t->any_tenant;
        it->tz = t->tz;
        if (ingest_format_parse(t->format ? t->format : "auto", &it->format))
            return ts_err_set(err, TS_E_CONFIG, cfg->path, t->line, t->col,
                              "unknown format \"%s\"", t->format);
    }
    return 0;
}

int rt_hunt_run(const struct rt_hunt_opts *o, struct rt_hunt_result *res, struct ts_err *err)
{
    memset(res, 0, sizeof(*res));
    struct hunt h = {.o = o, .res = res, .t0 = ts_mono_ns()};
    h.tty = o->progress && (o->progress_mode == RT_HUNT_PROGRESS_TTY ||
                            (o->progress_mode == RT_HUNT_PROGRESS_AUTO &&
                             isatty(fileno(o->progress))));
    res->created_ns = o->created_ns ? o->created_ns : ts_now_ns();
    if (o->resume)
        snprintf(res->id, sizeof(res->id), "%s", o->resume);
    else
        make_id(res->id, sizeof(res->id));
    struct ts_config *cfg = NULL;
    struct ingest_topic *topics = NULL;
    struct ingest_host_zone *hz = NULL;
    struct norm_set *norm = NULL;
    struct rule_field_alias *al = NULL;
    struct rule_placeholder *ph = NULL;
    struct corr_grouping *groups = NULL;
    char intel_rule[RT_HUNT_PATH_MAX + 64] = "";
    bool intel_tmp = false;
    int rc = o->config_path ? ts_config_load(o->config_path, &cfg, err)
                            : ts_config_load_buffer("(no config)", "{}\n", 3, &cfg, err);
    if (rc)
        return TS_E_CONFIG;
    enum ingest_format ffmt = INGEST_FMT_AUTO;
    if (o->nfiles && ingest_format_parse(o->format ? o->format : "auto", &ffmt)) {
        rc = ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "unknown --format \"%s\" (tocsin "
                        "replay --help lists them)", o->format);
        goto out;
    }
    if (o->nfiles && o->resume) {
        rc = ts_err_set(err, TS_E_UNSUPPORTED, NULL, 0, 0, "a hunt over files is not "
                        "resumable: run it again");
        goto out;
    }
    if (!o->nfiles && (!cfg->ntopics || !cfg->kafka.brokers)) {
        rc = ts_err_set(err, TS_E_CONFIG, o->config_path, 0, 0,
                        "`hunt` needs kafka.brokers and at least one topic");
        goto out;
    }
    if (!o->nfiles && (rc = make_topics(cfg, &topics, &hz, err)) != 0)
        goto out;
    struct rt_norm_args na;
    rt_norm_args_from(cfg, &na);
    if (o->intel_db)
        na.intel_db = o->intel_db;
    if ((rc = rt_norm_build(&na, &norm)) != 0) {
        rc = TS_E_CONFIG;
        goto out;
    }
    if (o->db) {
        hunt_dir(o->db, res->id, h.dir, sizeof(h.dir));
        if (mkdir_p(h.dir)) {
            rc = ts_err_set(err, TS_E_IO, h.dir, 0, 0, "cannot create the hunt's directory: %s",
                            strerror(errno));
            goto out;
        }
    }
    const char *paths[RT_HUNT_MAX_RULES + 1];
    size_t npaths = 0;
    for (size_t i = 0; i < o->nrules && i < RT_HUNT_MAX_RULES; i++)
        paths[npaths++] = o->rules[i];
    if (o->intel_source) {
        if (!na.intel_db) {
            rc = ts_err_set(err, TS_E_CONFIG, o->config_path, 0, 0,
                            "--intel needs the threat-intel database: --intel-db DIR, or "
                            "enrich.intel_db in the config");
            goto out;
        }
        if (o->db) {
            snprintf(intel_rule, sizeof(intel_rule), "%s/intel-sightings.yml", h.dir);
        } else {
            const char *td = getenv("TMPDIR");
            snprintf(intel_rule, sizeof(intel_rule), "%s/tocsin-hunt-XXXXXX.yml",
                     td && *td ? td : "/tmp");
            intel_tmp = true;
        }
        if ((rc = write_intel_rule(intel_rule, intel_tmp, o->intel_source)) != 0) {
            ts_err_set(err, rc, intel_rule, 0, 0, "cannot write the sightings rule: %s",
                       strerror(errno));
            goto out;
        }
        paths[npaths++] = intel_rule;
        h.intel_rule_file = intel_rule;
    }
    if (!npaths) {
        rc = ts_err_set(err, TS_E_CONFIG, NULL, 0, 0, "nothing to hunt: give --rules or --intel");
        goto out;
    }
    struct rule_load_opts lo;
    if ((rc = rt_rule_opts_from(cfg, &lo, &al, &ph)) != 0)
        goto out;
    lo.paths = paths;
    lo.npaths = npaths;
    int nthreads = hunt_threads(o->threads);
    rc = rt_det_open(&h.det, &lo, nthreads, NULL, o->quiet);
    h.det_open = true;
    if (rc) {
        rc = TS_E_CONFIG;
        goto out;
    }
    struct corr_opts co;
    if ((rc = rt_corr_opts_from(cfg, &co, &groups)) != 0)
        goto out;
    /* incidents: at the end, as replay prints them (-o), or in the
     * hunt's own store (--db) */
    rc = rt_corr_open(&h.corr, h.det.rs, &co, o->db ? h.dir : NULL, nthreads, NULL, true);
    h.corr_open = true;
    if (rc) {
        rc = TS_E_CONFIG;
        goto out;
    }
    h.det.corr = &h.corr;
    /* With a store: written every 2 M events or 2 s (the resume points).
     * Without one (-o) nothing is written, and the incidents' "event"
     * (created/updated) of the final list is relative to the last commit:
     * held to the end, so it does not depend on the timing of the batches
     * (nor on --threads). */
    h.corr.commit_events = !o->db ? UINT64_MAX
                           : o->commit_every ? o->commit_every : 2000000;
    h.corr.commit_ns = o->db ? 2000000000LL : 0;
    if ((rc = open_output(&h, err)) != 0)
        goto out;
    h.det.out = h.out;
    h.corr.out = h.out;
    if (o->db && (rc = record_write(&h, "running")) != 0) {
        ts_err_set(err, rc, h.dir, 0, 0, "cannot write hunt.json: %s", strerror(errno));
        goto out;
    }
    struct ingest_kafka_range_opts ko = {
        .brokers = cfg->kafka.brokers,
        .topics = topics,
        .ntopics = cfg->ntopics,
        .topic_filter = o->topics,
        .props = (const char *const *)cfg->kafka.props,
        .nprops = cfg->kafka.nprops,
        .client_id = res->id,
        .from_ns = o->from_ns,
        .to_ns = o->to_ns,
        .margin_ns = o->margin_ns,
        .batch_max = cfg->kafka.batch_size,
        .tenant = o->tenant,
        .parse = {.tz_offset_sec = cfg->ingest.tz_offset_sec,
                  .tz = cfg->ingest.tz,
                  .hosts = hz,
                  .nhosts = cfg->ingest.nhosts,
                  .max_msg_bytes = cfg->ingest.max_message_bytes,
                  .max_future_ns = cfg->ingest.max_future_ns},
        .norm = norm,
        .sink = {.ctx = &h, .process = hunt_process, .commit = hunt_commit,
                 .seek = o->db ? hunt_seek : NULL},
        .stop = o->stop,
        .progress = on_progress,
        .progress_ctx = &h,
        .threads = nthreads,
    };
    if (o->nfiles) {
        struct ingest_file_opts fo = {
            .paths = o->files,
            .npaths = o->nfiles,
            .format = ffmt,
            .tenant = o->tenant,
            .parse = ko.parse,
            .batch_max = cfg->kafka.batch_size,
            .sink = {.ctx = &h, .process = hunt_process, .commit = hunt_commit},
            .stop = o->stop,
            .norm = norm,
        };
        fo.parse.hosts = NULL; /* the config's host zones need make_topics' table */
        fo.parse.nhosts = 0;
        rc = ingest_files_run(&fo, &res->st.in, err);
        if (rc == 0 && o->stop && *o->stop)
            rc = TS_E_STOPPED;
        res->st.threads = 1;
        /* every line read is planned and read: files have no offsets plan */
        res->st.progress.planned = res->st.progress.done = res->st.in.consumed;
        res->st.progress.partitions = o->nfiles;
        res->st.progress.partitions_done = rc ? 0 : o->nfiles;
    } else {
        rc = ingest_kafka_range_run(&ko, &res->st, err);
    }
    int frc = rt_corr_flush(&h.corr); /* what coalescing holds */
    if (frc && (!rc || rc == TS_E_STOPPED)) {
        rc = ts_err_set(err, frc, h.dir, 0, 0, "cannot store the last batches: %s",
                        store_strerror(frc));
    }
    res->detections = h.kept + h.det.detections;
    if (intel_rule[0])
        res->sightings = sightings(&h.det, intel_rule) + h.kept_sightings;
    if (o->db)
        res->incidents = stored_incidents(h.corr.st);
    else
        res->incidents = h.corr.nfinal;
    if (!o->db && (!rc || rc == TS_E_STOPPED))
        rt_corr_print_final(&h.corr);
    if (h.out && fflush(h.out) && !rc)
        rc = ts_err_set(err, TS_E_IO, o->out, 0, 0, "cannot write: %s", strerror(errno));
    res->wall_ns = ts_mono_ns() - h.t0;
    if (o->progress && res->st.progress.planned)
        progress_line(&h, &res->st.progress, true);
    if (o->db) {
        const char *status = !rc ? "done" : rc == TS_E_STOPPED ? "stopped" : "failed";
        int wrc = record_write(&h, status);
        if (wrc && !rc)
            rc = ts_err_set(err, wrc, h.dir, 0, 0, "cannot write hunt.json: %s",
                            strerror(errno));
    }
out:
    if (intel_tmp && !strstr(intel_rule, "XXXXXX"))
        unlink(intel_rule);
    if (h.corr_open)
        rt_corr_close(&h.corr);
    if (h.det_open)
        rt_det_close(&h.det);
    if (h.out_owned)
        fclose(h.out);
    norm_set_free(norm);
    free(groups);
    free(al);
    free(ph);
    free(topics);
    free(hz);
    ts_config_free(cfg);
    return rc;
}
