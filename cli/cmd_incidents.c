/* cmd_incidents.c - `tocsin incidents --db DIR list|show|ack|resolve|reopen`:
 * the incidents kept in the LMDB store (storage/storage.h), read with one
 * read transaction per command, changed with one write transaction.
 * The engine may be running on the same directory: LMDB lets this process
 * read a consistent snapshot and serialises its writes with the engine's.
 * Output: a readable table/report on a terminal, JSON lines otherwise or
 * with --json. Exit: 0 ok, 1 failure (not found, transition not allowed,
 * storage error), 2 usage. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/buf.h"
#include "../core/config.h"
#include "../core/tstime.h"
#include "../runtime/runtime.h"
#include "../storage/storage.h"
#include "cli.h"
#include "cli_int.h"
#include "cli_int.h"

static const char incidents_usage[] =
    "usage: tocsin incidents --db DIR list [--since T] [--until T] [--tenant X] [--status S]\n"
    "                                      [--sort oldest|newest] [--limit N] [--json]\n"
    "       tocsin incidents --db DIR show ID [--json]\n"
    "       tocsin incidents --db DIR ack|resolve|reopen ID [--by WHO] [--comment TEXT]\n"
    "                                      [--config FILE]\n"
    "       tocsin incidents --db DIR late [--since T] [--tenant X] [--json]\n"
    "The incidents in the store DIR (the engine's data directory). list shows those\n"
    "seen (last event) at or after --since and before --until, oldest first (--sort\n"
    "newest: the most recently seen first; the API and console also sort by severity).\n"
    "  T       RFC 3339 time (2026-11-20T10:00:00Z) or an age: 90s, 30m, 24h, 7d\n"
    "  S       new, acknowledged (ack), resolved, reopened, or open (all but resolved);\n"
    "          repeat --status for several\n"
    "  --json  one JSON object per line (the default when stdout is not a terminal)\n"
    "  --by    who made the change (default: $USER)\n"
    "  --comment  why (at most 4096 bytes), kept with the change in the incident's history\n"
    "  --config   the nodes' config, for a store of the distributed mode (default: the\n"
    "          config its node was started with): the change is published to the\n"
    "          incidents topic and every node applies it (refused when Kafka cannot\n"
    "          be reached; docs/scale.md)\n"
    "Lifecycle: new -> acknowledged -> resolved -> reopened -> ...; resolve works\n"
    "from any open state. late lists the events that came beyond the lateness\n"
    "allowance with no incident to amend (kept, not dropped), by event time.\n";

struct inc_args {
    const char *db, *cmd, *id, *tenant, *by, *comment, *config;
    int64_t since, until;
    unsigned status_mask;
    uint32_t limit;
    bool json;
    bool newest;
};

static int parse_time(const char *s, int64_t *out)
{
    char *end;
    if (*s >= '0' && *s <= '9') {
        long long v = strtoll(s, &end, 10);
        int64_t mul = 0;
        if (!strcmp(end, "s"))
            mul = 1;
        else if (!strcmp(end, "m"))
            mul = 60;
        else if (!strcmp(end, "h"))
            mul = 3600;
        else if (!strcmp(end, "d"))
            mul = 86400;
        else if (!strcmp(end, "w"))
            mul = 7 * 86400;
        if (mul && v >= 0 && v < 100LL * 365 * 86400 / mul) {
            *out = ts_now_ns() - (int64_t)v * mul * TS_NS_PER_SEC;
            return 0;
        }
    }
    size_t used;
    int64_t ns;
    if (ts_parse_iso8601(s, strlen(s), 0, &ns, &used) == 0 && used == strlen(s)) {
        *out = ns;
        return 0;
    }
    return TS_E_INVAL;
}

static int parse_args(int argc, char **argv, struct inc_args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = !strcmp(o, "--db") || !strcmp(o, "-d") || !strcmp(o, "--since") ||
                     !strcmp(o, "--until") || !strcmp(o, "--tenant") || !strcmp(o, "--status") ||
                     !strcmp(o, "--limit") || !strcmp(o, "--by") || !strcmp(o, "--comment") ||
                     !strcmp(o, "--sort") || !strcmp(o, "--config");
        if (takes && !v) {
            fprintf(stderr, "tocsin incidents: %s needs a value\n", o);
            return 2;
        }
        if (!strcmp(o, "--db") || !strcmp(o, "-d")) {
            a->db = v;
        } else if (!strcmp(o, "--since") || !strcmp(o, "--until")) {
            int64_t *t = o[2] == 's' ? &a->since : &a->until;
            if (parse_time(v, t) != 0) {
                fprintf(stderr, "tocsin incidents: %s \"%s\": expected RFC 3339 or an age "
                                "like 24h\n", o, v);
                return 2;
            }
        } else if (!strcmp(o, "--tenant")) {
            a->tenant = v;
        } else if (!strcmp(o, "--status")) {
            enum store_status st;
            if (!strcmp(v, "open")) {
                a->status_mask |= STORE_STATUS_OPEN;
            } else if (store_status_parse(v, &st) == 0) {
                a->status_mask |= STORE_STATUS_BIT(st);
            } else {
                fprintf(stderr, "tocsin incidents: --status \"%s\": expected new, "
                                "acknowledged, resolved, reopened or open\n", v);
                return 2;
            }
        } else if (!strcmp(o, "--limit")) {
            char *end;
            unsigned long n = strtoul(v, &end, 10);
            if (*end || n > UINT32_MAX) {
                fprintf(stderr, "tocsin incidents: --limit \"%s\": expected a number\n", v);
                return 2;
            }
            a->limit = (uint32_t)n;
        } else if (!strcmp(o, "--sort")) {
            if (strcmp(v, "oldest") != 0 && strcmp(v, "newest") != 0) {
                fprintf(stderr, "tocsin incidents: --sort \"%s\": expected oldest or newest\n", v);
                return 2;
            }
            a->newest = !strcmp(v, "newest");
        } else if (!strcmp(o, "--by")) {
            a->by = v;
        } else if (!strcmp(o, "--config")) {
            a->config = v;
        } else if (!strcmp(o, "--comment")) {
            if (strlen(v) > STORE_COMMENT_MAX) {
                fprintf(stderr, "tocsin incidents: --comment is longer than %d bytes\n",
                        STORE_COMMENT_MAX);
                return 2;
            }
            a->comment = v;
        } else if (!strcmp(o, "--json")) {
            a->json = true;
            continue;
        } else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fputs(incidents_usage, stdout);
            return -1;
        } else if (o[0] == '-' && o[1]) {
            fprintf(stderr, "tocsin incidents: unknown option \"%s\"\n%s", o, incidents_usage);
            return 2;
        } else if (!a->cmd) {
            a->cmd = o;
            continue;
        } else if (!a->id) {
            a->id = o;
            continue;
        } else {
            fprintf(stderr, "tocsin incidents: unexpected argument \"%s\"\n", o);
            return 2;
        }
        i++;
    }
    return 0;
}

/* ---------------------------------------------------------------- output */

/* -------------------------------------------------------------- terminal */

/* Everything the text (terminal) output shows of a stored incident goes
 * through ts_buf_term_str: group values, distinct values, raw evidence and
 * the rest come from logs and rule files, and must not reach the terminal as
 * control characters (ESC sequences, CR, LF that forge lines). JSON output
 * is JSON-escaped instead. */

/* Print s escaped, at most max bytes (0: all); *cut as ts_buf_term_str. */
static void tputn(const char *s, size_t n, size_t max, bool *cut)
{
    struct ts_buf b;
    ts_buf_init(&b, 0);
    if (ts_buf_term_str(&b, s ? s : "", s ? n : 0, max, cut) == 0)
        fwrite(b.data ? b.data : "", 1, b.len, stdout);
    else
        fputs("[unprintable]", stdout);
    ts_buf_free(&b);
}

static void tput(const char *s)
{
    tputn(s, s ? strlen(s) : 0, 0, NULL);
}

/* "label" then s escaped and a newline. */
static void tline(const char *label, const char *s)
{
    fputs(label, stdout);
    tput(s);
    putchar('\n');
}

/* Append s escaped (at most cap bytes, 0: all) to b, padded with spaces to
 * width; returns the escaped length. */
static size_t term_cell(struct ts_buf *b, const char *s, size_t cap, size_t width)
{
    size_t start = b->len;
    if (ts_buf_term_str(b, s ? s : "", s ? strlen(s) : 0, cap, NULL) != 0)
        ts_buf_puts(b, "?");
    size_t l = b->len - start;
    for (size_t i = l; i < width; i++)
        ts_buf_putc(b, ' ');
    return l;
}

/* ------------------------------------------------------------------ list */

struct list_out {
    bool json;
    bool measure; /* first pass of the table: column widths */
    int w[6];
    uint64_t n;
    struct ts_arena *arena;
    struct ts_buf line;
};

static void short_time(int64_t ns, char *buf, size_t len)
{
    char t[48];
    ts_format_rfc3339(ns, t, sizeof(t));
    snprintf(buf, len, "%.10s %.8s", t, t + 11);
}

static int list_row(void *ctx, const struct store_incident *in)
{
    struct list_out *lo = ctx;
    lo->n++;
    if (lo->json) {
        ts_buf_reset(&lo->line);
        int rc = rt_view_incident(&lo->line, in);
        rc = rc ? rc : ts_buf_putc(&lo->line, '\n');
        if (rc) {
            ts_arena_reset(lo->arena);
            return rc;
        }
        fwrite(lo->line.data, 1, lo->line.len, stdout);
    } else {
        static const size_t cap[6] = {40, 40, 40, 40, 40, 48};
        const char *cols[6] = {in->id, store_status_name(in->status),
                               store_severity_name(in->severity), in->tenant, in->rule_title,
                               in->group_key};
        struct ts_buf *b = &lo->line;
        ts_buf_reset(b);
        if (lo->measure) {
            for (int i = 0; i < 6; i++) {
                int l = (int)term_cell(b, cols[i], cap[i], 0);
                if (l > lo->w[i])
                    lo->w[i] = l;
                ts_buf_reset(b);
            }
        } else {
            char last[32];
            short_time(in->last_seen_ns, last, sizeof(last));
            for (int i = 0; i < 4; i++) {
                term_cell(b, cols[i], cap[i], (size_t)lo->w[i]);
                ts_buf_puts(b, "  ");
            }
            ts_buf_printf(b, "%-19s  %7llu  ", last, (unsigned long long)in->count);
            term_cell(b, cols[4], cap[4], (size_t)lo->w[4]);
            ts_buf_puts(b, "  ");
            term_cell(b, cols[5], cap[5], 0);
            ts_buf_putc(b, '\n');
            fwrite(b->data, 1, b->len, stdout);
        }
    }
    ts_arena_reset(lo->arena);
    return 0;
}

static int open_store(const char *db, bool rw, struct store **s)
{
    struct store_opts o = {0};
    o.path = db;
    o.read_only = !rw;
    o.map_size = 16u << 20; /* an existing store keeps at least its used size */
    struct ts_err err = {0};
    int rc = rw ? store_open(s, &o, &err) : rt_store_open_read(db, o.map_size, s, &err);
    if (rc) {
        char msg[1024];
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin incidents: %s\n", msg);
    }
    return rc;
}

static int do_list(const struct inc_args *a)
{
    struct store *s;
    if (open_store(a->db, false, &s))
        return 1;
    struct list_out lo;
    memset(&lo, 0, sizeof(lo));
    lo.json = a->json || !isatty(STDOUT_FILENO);
    ts_buf_init(&lo.line, 32u << 20);
    int rc = ts_arena_create(&lo.arena, 64 << 10, 64u << 20);
    struct store_txn *t = NULL;
    if (!rc)
        rc = store_txn_begin(s, STORE_TXN_RDONLY, &t);
    struct store_incident_filter f = {a->since, a->until, a->tenant, a->status_mask, a->limit,
                                      a->newest};
    if (!rc && !lo.json) {
        static const char *const hdr[6] = {"ID", "STATUS", "SEVERITY", "TENANT", "RULE", "GROUP"};
        for (int i = 0; i < 6; i++)
            lo.w[i] = (int)strlen(hdr[i]);
        lo.measure = true;
        rc = store_incident_list(t, &f, lo.arena, list_row, &lo);
        lo.measure = false;
        if (!rc && lo.n) {
            printf("%-*s  %-*s  %-*s  %-*s  %-19s  %7s  %-*s  %s\n", lo.w[0], hdr[0], lo.w[1],
                   hdr[1], lo.w[2], hdr[2], lo.w[3], hdr[3], "LAST SEEN (UTC)", "COUNT", lo.w[4],
                   hdr[4], hdr[5]);
        }
        lo.n = 0;
    }
    if (!rc)
        rc = store_incident_list(t, &f, lo.arena, list_row, &lo);
    if (!rc && !lo.json)
        printf("%llu incident%s\n", (unsigned long long)lo.n, lo.n == 1 ? "" : "s");
    if (rc)
        fprintf(stderr, "tocsin incidents: %s: %s\n", a->db,
                t && store_txn_error(t) ? store_txn_errmsg(t) : store_strerror(rc));
    store_txn_abort(t);
    ts_arena_destroy(lo.arena);
    ts_buf_free(&lo.line);
    store_close(s);
    return rc ? 1 : 0;
}

/* ------------------------------------------------------------------ show */

/* The evidence records of the text report, from the JSON view (which reads
 * back from the source the lines the store did not keep): time, where, the
 * sub-rule, then the text. */
static void show_evidence_text(const char *json, size_t len)
{
    json_error_t je;
    json_t *j = json_loadb(json, len, 0, &je);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(j, "evidence_records"), i, r) {
        const char *src = json_string_value(json_object_get(r, "source"));
        const char *t = json_string_value(json_object_get(r, "event_time"));
        const char *rule = json_string_value(json_object_get(r, "rule_id"));
        const char *raw = json_string_value(json_object_get(r, "raw"));
        const char *why = json_string_value(json_object_get(r, "raw_unavailable"));
        json_int_t part = json_integer_value(json_object_get(r, "partition"));
        json_int_t off = json_integer_value(json_object_get(r, "offset"));
        printf("  #%-4lld %s  ", (long long)json_integer_value(json_object_get(r, "seq")),
               t ? t : "?");
        tput(src ? src : "");
        if (part >= 0)
            printf("[%lld]@%lld", (long long)part, (long long)off);
        else
            printf(":%lld", (long long)off);
        if (rule) {
            fputs("  rule ", stdout);
            tput(rule);
        }
        if (raw) {
            bool cut = false;
            fputs("\n        ", stdout);
            tputn(raw, strlen(raw), 400, &cut);
            if (json_is_true(json_object_get(r, "raw_truncated")) || cut)
                fputs(" [...]", stdout);
            if (json_is_true(json_object_get(r, "raw_from_source")))
                fputs("  (read back from the source file: the store did not keep it)",
                      stdout);
        } else if (why) {
            fputs("\n        (no text: ", stdout);
            tput(why);
            putchar(')');
        }
        putchar('\n');
    }
    json_decref(j);
}

static void show_text(const struct store_incident *in)
{
    char f[48], l[48], st[48], cr[48];
    ts_format_rfc3339(in->first_seen_ns, f, sizeof(f));
    ts_format_rfc3339(in->last_seen_ns, l, sizeof(l));
    ts_format_rfc3339(in->status_ns, st, sizeof(st));
    ts_format_rfc3339(in->created_ns, cr, sizeof(cr));
    fputs("incident   ", stdout);
    tput(in->id);
    printf(" (revision %llu)\n", (unsigned long long)in->revision);
    fputs("rule       ", stdout);
    tput(in->rule_title);
    fputs("  [", stdout);
    tput(in->rule_id);
    putchar(']');
    if (in->level && *in->level) {
        fputs("  level ", stdout);
        tput(in->level);
    }
    putchar('\n');
    if (in->author && *in->author)
        tline("author     ", in->author);
    tline("tenant     ", *in->tenant ? in->tenant : "-");
    tline("group      ", in->group_key);
    printf("severity   %s\n", store_severity_name(in->severity));
    printf("status     %s", store_status_name(in->status));
    if (*in->status_by) {
        fputs(" by ", stdout);
        tput(in->status_by);
    }
    printf(" since %s\n", st);
    printf("seen       %s .. %s, %llu events\n", f, l, (unsigned long long)in->count);
    if (in->ntags) {
        fputs("tags      ", stdout);
        for (uint32_t i = 0; i < in->ntags; i++) {
            putchar(' ');
            tput(in->tags[i]);
        }
        putchar('\n');
    }
    if (in->distinct_field && *in->distinct_field) {
        fputs("distinct   ", stdout);
        tput(in->distinct_field);
        printf(" (%u%s):", in->ndistinct, in->distinct_truncated ? "+, truncated" : "");
        for (uint32_t i = 0; i < in->ndistinct && i < 50; i++) {
            putchar(' ');
            tput(in->distinct[i]);
        }
        putchar('\n');
    }
    if (in->details && *in->details)
        tline("details    ", in->details);
    printf("created    %s\n", cr);
    for (uint32_t i = 0; i < in->nhistory; i++) {
        char h[48];
        ts_format_rfc3339(in->history[i].at_ns, h, sizeof(h));
        printf("history    %s  %s -> %s", h, store_status_name(in->history[i].from),
               store_status_name(in->history[i].status));
        if (*in->history[i].by) {
            fputs(" by ", stdout);
            tput(in->history[i].by);
        }
        if (in->history[i].comment && *in->history[i].comment) {
            fputs(": ", stdout);
            tput(in->history[i].comment);
        }
        putchar('\n');
    }
    printf("evidence   %u%s\n", in->evidence_next,
           in->evidence_dropped ? " (more dropped at the cap)" : "");
}

static int do_show(const struct inc_args *a)
{
    struct store *s;
    if (open_store(a->db, false, &s))
        return 1;
    struct ts_arena *arena = NULL, *evarena = NULL;
    struct ts_buf line;
    ts_buf_init(&line, 256u << 20);
    bool json = a->json || !isatty(STDOUT_FILENO);
    struct store_txn *t = NULL;
    struct store_incident in;
    int rc = ts_arena_create(&arena, 64 << 10, 64u << 20);
    if (!rc)
        rc = ts_arena_create(&evarena, 64 << 10, 64u << 20);
    if (!rc)
        rc = store_txn_begin(s, STORE_TXN_RDONLY, &t);
    if (!rc)
        rc = store_incident_get(t, a->id, arena, &in);
    if (rc == TS_E_NOTFOUND) {
        fprintf(stderr, "tocsin incidents: no incident \"%s\" in %s\n", a->id, a->db);
    } else if (!rc) {
        if (json) {
            rc = rt_view_incident_evidence(&line, t, &in, evarena);
            rc = rc ? rc : ts_buf_putc(&line, '\n');
            if (!rc)
                fwrite(line.data, 1, line.len, stdout);
        } else {
            show_text(&in);
            rc = rt_view_incident_evidence(&line, t, &in, evarena);
            if (!rc)
                show_evidence_text(line.data, line.len);
        }
    }
    if (rc && rc != TS_E_NOTFOUND)
        fprintf(stderr, "tocsin incidents: %s: %s\n", a->db,
                t && store_txn_error(t) ? store_txn_errmsg(t) : store_strerror(rc));
    store_txn_abort(t);
    ts_arena_destroy(arena);
    ts_arena_destroy(evarena);
    ts_buf_free(&line);
    store_close(s);
    return rc ? 1 : 0;
}

/* ---------------------------------------------------------------- status */

struct status_ctx {
    const char *id, *by;
    enum store_status to;
    uint64_t revision;
    enum store_status from;
    const char *comment;
};

static int status_txn(struct store_txn *t, void *ctx)
{
    struct status_ctx *sc = ctx;
    int rc = store_incident_set_status_comment(t, sc->id, sc->to, sc->by, sc->comment,
                                               &sc->revision);
    if (rc == TS_E_INVAL) {
        /* find out why for the message */
        struct ts_arena *a;
        if (ts_arena_create(&a, 4096, 16u << 20) == 0) {
            struct store_incident in;
            if (store_incident_get(t, sc->id, a, &in) == 0)
                sc->from = in.status;
            ts_arena_destroy(a);
        }
    }
    return rc;
}

/* The distributed mode: the store is a node's copy of the incidents topic;
 * the change goes to the topic and every node applies it (docs/scale.md). */
static int status_everywhere(const struct inc_args *a, struct store *s,
                             const struct rt_inc_replica *rep, enum store_status to,
                             const char *by)
{
    const char *path = a->config ? a->config : rep->config_path;
    if (!path) {
        fprintf(stderr, "tocsin incidents: %s is a copy of the incidents topic %s: give the "
                        "nodes' config with --config FILE so that the change goes to every "
                        "node\n", a->db, rep->topic);
        return 2;
    }
    struct ts_err err = {0};
    struct ts_config *cfg = NULL;
    char msg[1024];
    if (ts_config_load(path, &cfg, &err) != 0) {
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin incidents: %s%s\n", msg,
                a->config ? "" : " (the config this store's node was started with; give "
                                 "another with --config FILE)");
        return 2;
    }
    struct rt_inc_status c = {.id = a->id, .to = to, .by = by, .comment = a->comment};
    struct rt_inc_status_result res;
    int rc = rt_inc_status_change(s, cfg, &c, RT_INC_APPLY_MS, &res, &err);
    int ret = 1;
    if (!rc && res.pending) {
        printf("%s: %s by %s published to %s (partition %d, offset %lld); not applied to %s "
               "yet - is its node running? Every node applies it when it reads it\n",
               a->id, store_status_name(to), by, rep->topic, (int)res.partition,
               (long long)res.offset, a->db);
        ret = 0;
    } else if (!rc) {
        printf("%s: %s by %s (revision %llu; via %s, applied by every node in its order)\n",
               a->id, store_status_name(to), by, (unsigned long long)res.revision, rep->topic);
        ret = 0;
    } else if (rc == TS_E_NOTFOUND) {
        fprintf(stderr, "tocsin incidents: no incident \"%s\" in %s\n", a->id, a->db);
    } else if (rc == TS_E_INVAL && !err.code) {
        fprintf(stderr, "tocsin incidents: cannot mark %s %s: it is %s%s\n", a->id,
                store_status_name(to), store_status_name(res.now),
                res.partition >= 0 ? " (another change came first in the incidents topic)"
                                   : "");
    } else {
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin incidents: %s not marked %s: %s%s\n", a->id,
                store_status_name(to), err.code ? msg : ts_strerror(rc),
                rc == TS_E_KAFKA ? " - nothing changed on any node (a change is made "
                                   "through Kafka only, so that the nodes agree); try again "
                                   "when Kafka answers"
                                 : "");
        ret = rc == TS_E_CONFIG ? 2 : 1;
    }
    ts_config_free(cfg);
    return ret;
}

static int do_status(const struct inc_args *a, enum store_status to)
{
    const char *by = a->by;
    if (!by)
        by = getenv("SUDO_USER");
    if (!by)
        by = getenv("USER");
    if (!by)
        by = "cli";
    struct store *s;
    if (open_store(a->db, true, &s))
        return 1;
    struct rt_inc_replica rep;
    int rrc = rt_inc_replica_get(s, &rep);
    if (rrc != TS_E_NOTFOUND) {
        int ret = rrc ? (fprintf(stderr, "tocsin incidents: %s: %s\n", a->db,
                                 store_strerror(rrc)), 1)
                      : status_everywhere(a, s, &rep, to, by);
        rt_inc_replica_free(&rep);
        store_close(s);
        return ret;
    }
    struct status_ctx sc = {a->id, by, to, 0, to, a->comment};
    struct ts_err err = {0};
    int rc = store_txn_run(s, status_txn, &sc, &err);
    if (rc == 0) {
        printf("%s: %s by %s (revision %llu)\n", a->id, store_status_name(to), by,
               (unsigned long long)sc.revision);
    } else if (rc == TS_E_NOTFOUND) {
        fprintf(stderr, "tocsin incidents: no incident \"%s\" in %s\n", a->id, a->db);
    } else if (rc == TS_E_INVAL) {
        fprintf(stderr, "tocsin incidents: cannot mark %s %s: it is %s\n", a->id,
                store_status_name(to), store_status_name(sc.from));
    } else {
        char msg[1024];
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin incidents: %s\n", msg);
    }
    store_close(s);
    return rc ? 1 : 0;
}

struct late_out {
    bool json;
    uint64_t n;
    struct ts_buf line;
};

static int late_row(void *ctx, const struct store_late *l)
{
    struct late_out *lo = ctx;
    char when[40];
    ts_format_rfc3339(l->ev.event_ns, when, sizeof(when));
    lo->n++;
    struct ts_buf *b = &lo->line;
    ts_buf_reset(b);
    if (!lo->json) {
        ts_buf_printf(b, "%s  ", when);
        term_cell(b, l->tenant[0] ? l->tenant : "-", 0, 12);
        ts_buf_puts(b, "  ");
        term_cell(b, l->rule_id, 0, 36);
        ts_buf_puts(b, "  ");
        term_cell(b, l->ev.source, 0, 0);
        ts_buf_printf(b, ":%lld  ", (long long)l->ev.offset);
        if (l->ev.raw && ts_buf_term_str(b, l->ev.raw, l->ev.raw_len, 120, NULL) != 0)
            ts_buf_puts(b, "?");
        ts_buf_putc(b, '\n');
        fwrite(b->data, 1, b->len, stdout);
        return 0;
    }
    int rc = ts_buf_puts(b, "{\"event_time\":");
    rc = rc ? rc : ts_buf_json_str(b, when, strlen(when));
    rc = rc ? rc : ts_buf_puts(b, ",\"tenant\":");
    rc = rc ? rc : ts_buf_json_str(b, l->tenant, strlen(l->tenant));
    rc = rc ? rc : ts_buf_puts(b, ",\"rule_id\":");
    rc = rc ? rc : ts_buf_json_str(b, l->rule_id, strlen(l->rule_id));
    rc = rc ? rc : ts_buf_puts(b, ",\"source\":");
    rc = rc ? rc : ts_buf_json_str(b, l->ev.source, strlen(l->ev.source));
    rc = rc ? rc : ts_buf_printf(b, ",\"partition\":%d,\"offset\":%lld,\"raw\":",
                                 l->ev.partition, (long long)l->ev.offset);
    rc = rc ? rc : ts_buf_json_str(b, l->ev.raw ? l->ev.raw : "", l->ev.raw_len);
    rc = rc ? rc : ts_buf_printf(b, ",\"raw_truncated\":%s}\n",
                                 l->ev.raw_truncated ? "true" : "false");
    if (!rc)
        fwrite(b->data, 1, b->len, stdout);
    return rc;
}

static int do_late(const struct inc_args *a)
{
    struct store *s;
    if (open_store(a->db, false, &s))
        return 1;
    struct late_out lo = {.json = a->json || !isatty(STDOUT_FILENO)};
    ts_buf_init(&lo.line, 1u << 20);
    struct ts_arena *arena = NULL;
    int rc = ts_arena_create(&arena, 64 << 10, 64u << 20);
    struct store_txn *t = NULL;
    if (!rc)
        rc = store_txn_begin(s, STORE_TXN_RDONLY, &t);
    if (!rc)
        rc = store_late_foreach(t, a->tenant, a->since, arena, late_row, &lo);
    if (!rc && !lo.json)
        printf("%llu late event%s\n", (unsigned long long)lo.n, lo.n == 1 ? "" : "s");
    if (rc)
        fprintf(stderr, "tocsin incidents: %s: %s\n", a->db, store_strerror(rc));
    store_txn_abort(t);
    ts_arena_destroy(arena);
    ts_buf_free(&lo.line);
    store_close(s);
    return rc ? 1 : 0;
}

int cmd_incidents(int argc, char **argv)
{
    struct inc_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc < 0)
        return 0;
    if (rc)
        return rc;
    if (!a.cmd) {
        fputs(incidents_usage, stderr);
        return 2;
    }
    if (!a.db) {
        fprintf(stderr, "tocsin incidents: --db DIR is required\n%s", incidents_usage);
        return 2;
    }
    if (!strcmp(a.cmd, "list")) {
        if (a.id) {
            fprintf(stderr, "tocsin incidents list: unexpected argument \"%s\"\n", a.id);
            return 2;
        }
        return do_list(&a);
    }
    if (!strcmp(a.cmd, "late")) {
        if (a.id) {
            fprintf(stderr, "tocsin incidents late: unexpected argument \"%s\"\n", a.id);
            return 2;
        }
        return do_late(&a);
    }
    bool known = !strcmp(a.cmd, "show") || !strcmp(a.cmd, "ack") || !strcmp(a.cmd, "resolve") ||
                 !strcmp(a.cmd, "reopen");
    if (!known) {
        fprintf(stderr, "tocsin incidents: unknown subcommand \"%s\"\n%s", a.cmd,
                incidents_usage);
        return 2;
    }
    if (!a.id) {
        fprintf(stderr, "tocsin incidents %s: ID is required\n", a.cmd);
        return 2;
    }
    /* a unique prefix of the id will do, as in git */
    static char full[STORE_ID_MAX + 1];
    if (cli_incident_id("tocsin incidents", a.db, a.id, full))
        return 1;
    a.id = full;
    if (!strcmp(a.cmd, "show"))
        return do_show(&a);
    if (!strcmp(a.cmd, "ack"))
        return do_status(&a, STORE_STATUS_ACKNOWLEDGED);
    if (!strcmp(a.cmd, "resolve"))
        return do_status(&a, STORE_STATUS_RESOLVED);
    return do_status(&a, STORE_STATUS_REOPENED);
}
