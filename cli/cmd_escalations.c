/* cmd_escalations.c - `tocsin escalations --db DIR list|retry|send|queue-due`:
 * the escalation outbox kept in LMDB (docs/escalation.md "Delivery").
 *   list       entries by state, or the reports overdue under the regime;
 *   retry      put a failed (dead-letter) entry back, with fresh attempts;
 *   send       queue the due reports the policy's auto_send asks for, then
 *              run the dispatcher in the foreground until no entry is
 *              pending (SIGINT/SIGTERM stop it gracefully), or one pass
 *              with --once;
 *   queue-due  one due-report pass by hand (esc_due_queue), printing the
 *              entries it queued.
 * The engine may be running: LMDB serialises the writers, and the leases
 * keep two dispatchers from delivering the same entry at the same time.
 * Exit: 0 ok, 1 failure (not found, storage, dead letters in `send`),
 * 2 usage/configuration. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/arena.h"
#include "../core/buf.h"
#include "../core/config.h"
#include "../core/log.h"
#include "../core/tstime.h"
#include "../escalate/escalate.h"
#include "../storage/storage.h"
#include "cli.h"
#include "cli_int.h"

static const char esc_usage[] =
    "usage: tocsin escalations --db DIR list [--pending|--failed|--delivered|--overdue] [--json]\n"
    "       tocsin escalations --db DIR retry ID\n"
    "       tocsin escalations --db DIR send --channels FILE [--once] [--threads N]\n"
    "                                  [--summary day|week|month [--at T]]\n"
    "       tocsin escalations --db DIR queue-due [--periodic] [--overdue] [--at T] [--json]\n"
    "       tocsin escalations check [-c CONFIG] [regime options]\n"
    "list: the outbox entries (all, or those of one state), or with --overdue the\n"
    "reports whose deadline passed without a delivery (regime options: --regime NAME,\n"
    "--regimes DIR (default etc/escalation), --taxonomy FILE, --policy FILE, --org FILE,\n"
    "--assets FILE). retry: a failed entry is due again now, with fresh attempts.\n"
    "send: queue the reports that fell due when the policy's auto_send says so (as\n"
    "queue-due; regime options as for list), then deliver through the channels of FILE\n"
    "(etc/escalation/channels.example.yml) until no entry is pending (entries waiting\n"
    "for a back-off are waited for); --once: one pass over the entries due now. Exit 1\n"
    "when an entry was dead-lettered. --summary: first queue the monitoring report of\n"
    "the last full period (before --at T) to the managing body, once per period (as\n"
    "`run` does with escalate.summary).\n"
    "queue-due: one pass that queues the periodic updates whose time came and the\n"
    "required reports overdue with nothing pending or delivered - those the policy's\n"
    "auto_send names, or with --periodic / --overdue those kinds whatever the policy\n"
    "says; each due time once (docs/escalation.md \"Due reports\"). --at T judges at\n"
    "T (RFC 3339, or +DURATION from now, e.g. +169h) instead of now. Prints the ids.\n"
    "check: load the escalation configuration (the escalate: section of CONFIG, or\n"
    "the regime options) and warn about every field a report will miss (\"chưa khai\n"
    "báo\"), a missing inventory, a regime whose basis lapsed. Exit 0 (warnings\n"
    "only), 2 when the configuration does not load.\n";

enum esc_cmd { CMD_NONE, CMD_LIST, CMD_RETRY, CMD_SEND, CMD_QUEUE_DUE, CMD_CHECK };

struct esc_args {
    const char *db, *id, *channels, *config, *summary;
    struct cli_esc_opts esc;
    enum esc_cmd cmd;
    unsigned mask; /* states for list */
    bool overdue, json, once, periodic;
    unsigned threads;
    int64_t at_ns; /* queue-due --at; 0: now */
};

/* --at: RFC 3339, or +DURATION from now. */
static int parse_at(const char *v, int64_t *out)
{
    int64_t ns;
    size_t used = 0;
    if (v[0] == '+') {
        if (ts_duration_parse(v + 1, strlen(v + 1), &ns) != 0)
            return -1;
        *out = ts_now_ns() + ns;
        return 0;
    }
    if (ts_parse_iso8601(v, strlen(v), 0, &ns, &used) != 0 || used != strlen(v))
        return -1;
    *out = ns;
    return 0;
}

static int parse_args(int argc, char **argv, struct esc_args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fputs(esc_usage, stdout);
            return -1;
        }
        if (o[0] != '-') {
            if (a->cmd == CMD_NONE) {
                if (!strcmp(o, "list"))
                    a->cmd = CMD_LIST;
                else if (!strcmp(o, "retry"))
                    a->cmd = CMD_RETRY;
                else if (!strcmp(o, "send"))
                    a->cmd = CMD_SEND;
                else if (!strcmp(o, "queue-due"))
                    a->cmd = CMD_QUEUE_DUE;
                else if (!strcmp(o, "check"))
                    a->cmd = CMD_CHECK;
                else {
                    fprintf(stderr, "tocsin escalations: unknown command \"%s\"\n%s", o,
                            esc_usage);
                    return 2;
                }
            } else if (a->cmd == CMD_RETRY && !a->id) {
                a->id = o;
            } else {
                fprintf(stderr, "tocsin escalations: unexpected argument \"%s\"\n", o);
                return 2;
            }
            continue;
        }
        if (!strcmp(o, "--pending"))
            a->mask |= 1u << STORE_OUTBOX_PENDING;
        else if (!strcmp(o, "--failed"))
            a->mask |= 1u << STORE_OUTBOX_FAILED;
        else if (!strcmp(o, "--delivered"))
            a->mask |= 1u << STORE_OUTBOX_DELIVERED;
        else if (!strcmp(o, "--overdue"))
            a->overdue = true;
        else if (!strcmp(o, "--json"))
            a->json = true;
        else if (!strcmp(o, "--once"))
            a->once = true;
        else if (!strcmp(o, "--periodic"))
            a->periodic = true;
        else {
            const char *v = i + 1 < argc ? argv[i + 1] : NULL;
            const char **dst = !strcmp(o, "--db") || !strcmp(o, "-d") ? &a->db
                               : !strcmp(o, "-c") || !strcmp(o, "--config") ? &a->config
                               : !strcmp(o, "--summary")              ? &a->summary
                               : !strcmp(o, "--channels")             ? &a->channels
                                                                      : cli_esc_opt(&a->esc, o);
            bool threads = !strcmp(o, "--threads"), at = !strcmp(o, "--at");
            if (!dst && !threads && !at) {
                fprintf(stderr, "tocsin escalations: unknown option \"%s\"\n%s", o, esc_usage);
                return 2;
            }
            if (!v) {
                fprintf(stderr, "tocsin escalations: %s needs a value\n", o);
                return 2;
            }
            i++;
            if (threads) {
                char *end;
                unsigned long n = strtoul(v, &end, 10);
                if (*end || n < 1 || n > ESC_THREADS_MAX) {
                    fprintf(stderr, "tocsin escalations: --threads 1..%d\n", ESC_THREADS_MAX);
                    return 2;
                }
                a->threads = (unsigned)n;
            } else if (at) {
                if (parse_at(v, &a->at_ns) != 0) {
                    fprintf(stderr, "tocsin escalations: --at wants an RFC 3339 time or "
                                    "+DURATION, not \"%s\"\n", v);
                    return 2;
                }
            } else {
                *dst = v;
            }
        }
    }
    if (a->cmd == CMD_CHECK)
        return 0;
    if (!a->db || a->cmd == CMD_NONE) {
        fprintf(stderr, "tocsin escalations: --db DIR and a command are required\n%s",
                esc_usage);
        return 2;
    }
    if (a->cmd == CMD_RETRY && !a->id) {
        fprintf(stderr, "tocsin escalations: retry needs an entry ID\n");
        return 2;
    }
    if (a->cmd == CMD_SEND && !a->channels) {
        fprintf(stderr, "tocsin escalations: send needs --channels FILE\n");
        return 2;
    }
    if (a->summary && (a->cmd != CMD_SEND || (strcmp(a->summary, "day") &&
                                              strcmp(a->summary, "week") &&
                                              strcmp(a->summary, "month")))) {
        fprintf(stderr, "tocsin escalations: --summary day|week|month is an option of send\n");
        return 2;
    }
    if (a->at_ns && a->cmd == CMD_SEND && a->summary) {
        /* send --summary --at T: the period before T (tests, catching up) */
    } else if ((a->periodic || a->at_ns) && a->cmd != CMD_QUEUE_DUE) {
        fprintf(stderr, "tocsin escalations: --periodic and --at are options of queue-due\n");
        return 2;
    }
    if (a->overdue && a->cmd != CMD_LIST && a->cmd != CMD_QUEUE_DUE) {
        fprintf(stderr, "tocsin escalations: --overdue is an option of list and queue-due\n");
        return 2;
    }
    if (a->overdue && a->mask) {
        fprintf(stderr, "tocsin escalations: --overdue lists deadlines, not entries: give "
                        "it alone\n");
        return 2;
    }
    return 0;
}

static int open_store(const char *db, bool ro, struct store **st)
{
    struct ts_err err = {0};
    struct store_opts so = {.path = db, .read_only = ro};
    int rc = ro ? rt_store_open_read(db, 0, st, &err) : store_open(st, &so, &err);
    if (rc) {
        char msg[1024];
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin escalations: %s\n", err.code ? msg : store_strerror(rc));
    }
    return rc;
}

static void fmt_time(int64_t ns, char *buf, size_t len)
{
    if (ns <= 0)
        snprintf(buf, len, "-");
    else
        ts_format_rfc3339(ns / 1000000 * 1000000, buf, len);
}

/* --------------------------------------------------------------- list */

struct list_ctx {
    bool json;
    struct ts_buf line;
    struct ts_buf err; /* a cleaned last_error */
    uint64_t n;
};

#define ERROR_SHOW_MAX 2048 /* bytes of a last_error in the text listing */

/* A stored last_error fit to print, into b: every URL without userinfo,
 * query and fragment (esc_text_redact_urls - the dispatcher stores errors
 * redacted, but values stored before that fix may hold a channel's
 * credentials), and for the text listing every control character escaped
 * (ts_buf_term_str: an error may repeat a receiver's answer, which must
 * neither drive the terminal nor forge a line of the listing). */
static int clean_error(struct ts_buf *b, const char *le, bool term)
{
    ts_buf_reset(b);
    size_t n = strlen(le);
    if (n == 0)
        return 0;
    /* whole before anything is cut (a cut URL could lose the '@' that marks
     * its userinfo): redaction adds at most 9 bytes ("***" for an empty
     * userinfo, query and fragment) to a URL of at least 7 */
    size_t cap = 3 * n + 16;
    char *red = malloc(cap);
    if (!red)
        return TS_E_NOMEM;
    esc_text_redact_urls(le, red, cap);
    bool cut = false;
    int rc = term ? ts_buf_term_str(b, red, strlen(red), ERROR_SHOW_MAX, &cut)
                  : ts_buf_append(b, red, strlen(red));
    free(red);
    return rc ? rc : cut ? ts_buf_puts(b, "...") : 0;
}

static int print_entry(void *ctx, const struct store_outbox *e)
{
    struct list_ctx *l = ctx;
    char next[40], done[40], created[40];
    fmt_time(e->state == STORE_OUTBOX_PENDING ? e->next_attempt_ns : 0, next, sizeof(next));
    fmt_time(e->done_ns, done, sizeof(done));
    fmt_time(e->created_ns, created, sizeof(created));
    l->n++;
    int rc = clean_error(&l->err, e->last_error ? e->last_error : "", !l->json);
    if (rc)
        return rc;
    if (!l->json) {
        printf("%-9s %3u  %-20s %-24s %s%s%.*s\n", store_outbox_state_name(e->state), e->attempts,
               e->channel, e->state == STORE_OUTBOX_PENDING ? next : done, e->id,
               l->err.len ? "  " : "", (int)l->err.len, l->err.len ? l->err.data : "");
        return 0;
    }
    struct ts_buf *b = &l->line;
    ts_buf_reset(b);
    rc = ts_buf_puts(b, "{\"id\":");
    rc = rc ? rc : ts_buf_json_str(b, e->id, strlen(e->id));
    rc = rc ? rc : ts_buf_puts(b, ",\"incident_id\":");
    rc = rc ? rc : ts_buf_json_str(b, e->incident_id, strlen(e->incident_id));
    rc = rc ? rc : ts_buf_printf(b, ",\"revision\":%llu,\"recipient\":",
                                 (unsigned long long)e->revision);
    rc = rc ? rc : ts_buf_json_str(b, e->recipient, strlen(e->recipient));
    rc = rc ? rc : ts_buf_puts(b, ",\"channel\":");
    rc = rc ? rc : ts_buf_json_str(b, e->channel, strlen(e->channel));
    rc = rc ? rc : ts_buf_printf(b, ",\"state\":\"%s\",\"attempts\":%u,\"created_at\":\"%s\"",
                                 store_outbox_state_name(e->state), e->attempts, created);
    if (e->state == STORE_OUTBOX_PENDING)
        rc = rc ? rc : ts_buf_printf(b, ",\"next_attempt_at\":\"%s\",\"done_at\":null", next);
    else
        rc = rc ? rc : ts_buf_printf(b, ",\"next_attempt_at\":null,\"done_at\":\"%s\"", done);
    rc = rc ? rc : ts_buf_puts(b, ",\"last_error\":");
    rc = rc ? rc : ts_buf_json_str(b, l->err.len ? l->err.data : "", l->err.len);
    rc = rc ? rc : ts_buf_printf(b, ",\"payload_bytes\":%zu}\n", e->payload_len);
    if (rc)
        return rc;
    fwrite(b->data, 1, b->len, stdout);
    return 0;
}

struct arena_list {
    struct list_ctx *l;
    struct ts_arena *arena;
};

static int print_entry_reset(void *ctx, const struct store_outbox *e)
{
    struct arena_list *al = ctx;
    int rc = print_entry(al->l, e);
    ts_arena_reset(al->arena); /* e's strings are no longer needed */
    return rc;
}

static int print_deadline(void *ctx, const struct esc_deadline *d)
{
    struct list_ctx *l = ctx;
    char due[40];
    fmt_time(d->due->due_ns, due, sizeof(due));
    long long late_min = (long long)(d->late_ns / (60 * TS_NS_PER_SEC));
    l->n++;
    if (!l->json) {
        printf("%s  %-16s %-18s %-7s due %s  late %lldh%02lldm  %s\n", d->incident->id,
               d->due->recipient, d->due->report, esc_stage_name(d->due->stage), due,
               late_min / 60, late_min % 60, esc_delivery_name(d->delivery));
        return 0;
    }
    struct ts_buf *b = &l->line;
    ts_buf_reset(b);
    int rc = ts_buf_puts(b, "{\"incident_id\":");
    rc = rc ? rc : ts_buf_json_str(b, d->incident->id, strlen(d->incident->id));
    rc = rc ? rc : ts_buf_puts(b, ",\"recipient\":");
    rc = rc ? rc : ts_buf_json_str(b, d->due->recipient, strlen(d->due->recipient));
    rc = rc ? rc : ts_buf_puts(b, ",\"report\":");
    rc = rc ? rc : ts_buf_json_str(b, d->due->report, strlen(d->due->report));
    rc = rc ? rc : ts_buf_printf(b,
                                 ",\"stage\":\"%s\",\"due_at\":\"%s\",\"late_seconds\":%lld,"
                                 "\"mandatory\":%s,\"delivery\":\"%s\",\"overdue\":%s}\n",
                                 esc_stage_name(d->due->stage), due,
                                 (long long)(d->late_ns / TS_NS_PER_SEC),
                                 d->due->mandatory ? "true" : "false",
                                 esc_delivery_name(d->delivery), d->overdue ? "true" : "false");
    if (rc)
        return rc;
    fwrite(b->data, 1, b->len, stdout);
    return 0;
}

static int do_list(const struct esc_args *a)
{
    struct rt_esc esc;
    bool esc_open = false;
    if (a->overdue) {
        if (cli_esc_open(&esc, &a->esc) != 0)
            return 2;
        esc_open = true;
    }
    struct store *st = NULL;
    struct store_txn *t = NULL;
    struct ts_arena *arena = NULL;
    struct list_ctx l = {.json = a->json};
    ts_buf_init(&l.line, 1u << 20);
    ts_buf_init(&l.err, 1u << 20);
    int ret = 1, rc;
    if (open_store(a->db, true, &st) != 0)
        goto done;
    if ((rc = ts_arena_create(&arena, 64u << 10, (size_t)64 << 20)) != 0 ||
        (rc = store_txn_begin(st, STORE_TXN_RDONLY, &t)) != 0) {
        fprintf(stderr, "tocsin escalations: %s\n", store_strerror(rc));
        goto done;
    }
    if (a->overdue) {
        rc = esc_deadlines_list(&esc.env, t, ts_now_ns(), 0, ESC_DL_OVERDUE, print_deadline,
                                &l);
    } else {
        unsigned mask = a->mask ? a->mask : 7u;
        struct arena_list al = {&l, arena};
        rc = store_outbox_list(t, mask, arena, print_entry_reset, &al);
    }
    if (rc) {
        fprintf(stderr, "tocsin escalations: %s\n", store_strerror(rc));
        goto done;
    }
    if (fflush(stdout) != 0) {
        perror("tocsin escalations: stdout");
        goto done;
    }
    ret = 0;
done:
    store_txn_abort(t);
    store_close(st);
    ts_arena_destroy(arena);
    ts_buf_free(&l.line);
    ts_buf_free(&l.err);
    if (esc_open)
        rt_esc_close(&esc);
    return ret;
}

/* --------------------------------------------------------------- retry */

struct retry_ctx {
    const char *id;
    struct ts_arena *arena;
    bool was_failed;
};

static int retry_txn(struct store_txn *t, void *ctx)
{
    struct retry_ctx *r = ctx;
    ts_arena_reset(r->arena);
    struct store_outbox e;
    int rc = store_outbox_get(t, r->id, r->arena, &e);
    if (rc)
        return rc;
    if (e.state == STORE_OUTBOX_DELIVERED)
        return TS_E_INVAL;
    r->was_failed = e.state == STORE_OUTBOX_FAILED;
    /* a put replaces the entry: PENDING, attempts 0, due now */
    e.next_attempt_ns = store_txn_now(t);
    e.attempts = 0;
    return store_outbox_put(t, &e);
}

static int do_retry(const struct esc_args *a)
{
    struct store *st = NULL;
    if (open_store(a->db, false, &st) != 0)
        return 1;
    struct retry_ctx r = {a->id, NULL, false};
    int rc = ts_arena_create(&r.arena, 64u << 10, (size_t)64 << 20);
    struct ts_err err = {0};
    if (!rc)
        rc = store_txn_run(st, retry_txn, &r, &err);
    ts_arena_destroy(r.arena);
    store_close(st);
    if (rc == TS_E_NOTFOUND) {
        fprintf(stderr, "tocsin escalations: no outbox entry \"%s\"\n", a->id);
        return 1;
    }
    if (rc == TS_E_INVAL) {
        fprintf(stderr, "tocsin escalations: \"%s\" was delivered already\n", a->id);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "tocsin escalations: %s\n", store_strerror(rc));
        return 1;
    }
    printf("%s: %s, due now\n", a->id, r.was_failed ? "requeued" : "pending (attempts reset)");
    return 0;
}

/* --------------------------------------------------------- due reports */

struct due_ctx {
    const struct esc_env *env;
    struct esc_due_opts o;
    struct esc_due_stats st;
    struct ts_buf out; /* the queued entries, printed after the commit */
    bool json;
    int rc;
};

static void due_queued(void *ctx, const struct store_outbox *e)
{
    struct due_ctx *c = ctx;
    if (c->rc)
        return;
    const char *rep = strrchr(e->id, ':');
    rep = rep ? rep + 1 : "";
    struct ts_buf *b = &c->out;
    int rc;
    if (!c->json) {
        rc = ts_buf_printf(b, "queued  %-20s %s\n", e->channel, e->id);
    } else {
        rc = ts_buf_puts(b, "{\"id\":");
        rc = rc ? rc : ts_buf_json_str(b, e->id, strlen(e->id));
        rc = rc ? rc : ts_buf_puts(b, ",\"incident_id\":");
        rc = rc ? rc : ts_buf_json_str(b, e->incident_id, strlen(e->incident_id));
        rc = rc ? rc : ts_buf_printf(b, ",\"revision\":%llu,\"recipient\":",
                                     (unsigned long long)e->revision);
        rc = rc ? rc : ts_buf_json_str(b, e->recipient, strlen(e->recipient));
        rc = rc ? rc : ts_buf_puts(b, ",\"report\":");
        rc = rc ? rc : ts_buf_json_str(b, rep, strlen(rep));
        rc = rc ? rc : ts_buf_puts(b, ",\"channel\":");
        rc = rc ? rc : ts_buf_json_str(b, e->channel, strlen(e->channel));
        rc = rc ? rc : ts_buf_puts(b, "}\n");
    }
    c->rc = rc;
}

static int due_txn(struct store_txn *t, void *ctx)
{
    struct due_ctx *c = ctx;
    ts_buf_reset(&c->out); /* a redone txn starts over */
    c->rc = 0;
    int rc = esc_due_queue(c->env, t, &c->o, &c->st);
    return rc ? rc : c->rc;
}

/* Due-report passes until none stops at its cap. kinds 0: the policy's.
 * Prints the queued entries on stdout when print. 0 or an error (printed). */
static int run_due(struct store *st, const struct esc_env *env, unsigned kinds, int64_t at_ns,
                   bool json, bool print, uint64_t *queued, uint64_t *existing)
{
    struct due_ctx c = {.env = env, .json = json};
    c.o = (struct esc_due_opts){.kinds = kinds, .now_ns = at_ns, .queued = due_queued, .ctx = &c};
    ts_buf_init(&c.out, 16u << 20);
    *queued = *existing = 0;
    int rc = 0;
    do {
        struct ts_err err = {0};
        rc = store_txn_run(st, due_txn, &c, &err);
        if (rc) {
            char msg[1024];
            ts_err_format(&err, msg, sizeof(msg));
            fprintf(stderr, "tocsin escalations: due reports: %s\n",
                    err.code ? msg : store_strerror(rc));
            break;
        }
        if (print && c.out.len)
            fwrite(c.out.data, 1, c.out.len, stdout);
        *queued += c.st.queued;
        *existing += c.st.existing;
    } while (c.st.more);
    ts_buf_free(&c.out);
    return rc;
}

static int do_queue_due(const struct esc_args *a)
{
    struct rt_esc esc;
    if (cli_esc_open(&esc, &a->esc) !=
        0)
        return 2;
    unsigned kinds = (a->periodic ? ESC_AUTO_PERIODIC : 0) | (a->overdue ? ESC_AUTO_OVERDUE : 0);
    unsigned policy = esc_policy_auto_send(esc.env.policy);
    int ret = 1;
    struct store *st = NULL;
    if (!kinds && !policy) {
        fprintf(stderr, "tocsin escalations: the policy's auto_send is off: nothing to queue "
                        "(--periodic / --overdue queue those kinds anyway)\n");
        ret = 0;
        goto done;
    }
    if (open_store(a->db, false, &st) != 0)
        goto done;
    uint64_t q, ex;
    if (run_due(st, &esc.env, kinds, a->at_ns, a->json, true, &q, &ex) != 0)
        goto done;
    fflush(stdout);
    fprintf(stderr, "tocsin escalations: %llu due report(s) queued, %llu already in the "
                    "outbox\n", (unsigned long long)q, (unsigned long long)ex);
    ret = 0;
done:
    store_close(st);
    rt_esc_close(&esc);
    return ret;
}

/* The configuration of send's due pass: what the options name must load
 * (exit 2 otherwise); without any, the default directory when it exists.
 * *open: esc was opened (close it). */
static int send_esc_open(const struct esc_args *a, struct rt_esc *esc, bool *open)
{
    *open = false;
    char dbuf[PATH_MAX];
    if (!cli_esc_given(&a->esc) &&
        !rt_default_dir("etc/escalation", dbuf, sizeof(dbuf)))
        return 0; /* nothing configured here: delivery only */
    if (cli_esc_open(esc, &a->esc))
        return 2;
    *open = true;
    if (esc_policy_auto_send(esc->env.policy) && !a->esc.assets)
        fprintf(stderr, "tocsin escalations: note: auto_send without --assets: the affected "
                        "systems' security levels are unknown, so few reports are owed\n");
    return 0;
}

/* ---------------------------------------------------------------- send */

struct count_ctx {
    struct ts_arena *arena;
    uint64_t n;
};

static int count_entry(void *ctx, const struct store_outbox *e)
{
    (void)e;
    struct count_ctx *c = ctx;
    c->n++;
    ts_arena_reset(c->arena);
    return 0;
}

/* Pending entries in the store, or -1 on a storage error. */
static long long pending_count(struct store *st, struct ts_arena *arena)
{
    struct store_txn *t = NULL;
    if (store_txn_begin(st, STORE_TXN_RDONLY, &t) != 0)
        return -1;
    struct count_ctx c = {arena, 0};
    int rc = store_outbox_list(t, 1u << STORE_OUTBOX_PENDING, arena, count_entry, &c);
    store_txn_abort(t);
    return rc ? -1 : (long long)c.n;
}

static void print_stats(const struct esc_dispatch_stats *s)
{
    fprintf(stderr,
            "tocsin escalations: %llu attempt(s): %llu delivered, %llu to retry, %llu failed "
            "(dead letters), %llu storage error(s)\n",
            (unsigned long long)s->claimed, (unsigned long long)s->delivered,
            (unsigned long long)s->retried, (unsigned long long)s->failed,
            (unsigned long long)s->errors);
}

static int do_send(const struct esc_args *a)
{
    struct ts_err err = {0};
    struct esc_channels *ch = NULL;
    int rc = esc_channels_load(a->channels, &ch, &err);
    if (rc) {
        char msg[1024];
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin escalations: %s\n", err.code ? msg : ts_strerror(rc));
        return 2;
    }
    struct rt_esc esc;
    bool esc_open = false;
    if (send_esc_open(a, &esc, &esc_open) != 0) {
        esc_channels_free(ch);
        return 2;
    }
    struct store *st = NULL;
    if (open_store(a->db, false, &st) != 0) {
        esc_channels_free(ch);
        if (esc_open)
            rt_esc_close(&esc);
        return 1;
    }
    /* the reports that fell due first, so that this send delivers them */
    bool due_failed = false;
    if (esc_open && esc_policy_auto_send(esc.env.policy)) {
        uint64_t q = 0, ex = 0;
        due_failed = run_due(st, &esc.env, 0, 0, false, false, &q, &ex) != 0;
        if (q)
            fprintf(stderr, "tocsin escalations: %llu due report(s) queued\n",
                    (unsigned long long)q);
    }
    /* the monitoring report of the last full period, once per period */
    if (a->summary && !esc_open) {
        fprintf(stderr, "tocsin escalations: --summary needs the escalation configuration "
                        "(regime options)\n");
        due_failed = true;
    } else if (a->summary) {
        bool queued = false;
        struct ts_err serr = {0};
        if (rt_summary_queue(st, &esc.env, a->summary, a->at_ns ? a->at_ns : ts_now_ns(),
                             7 * 3600, &queued, &serr) != 0) {
            fprintf(stderr, "tocsin escalations: %s\n", serr.msg);
            due_failed = true;
        } else {
            fprintf(stderr, "tocsin escalations: the %s summary %s\n", a->summary,
                    queued ? "queued" : "was queued before (once per period)");
        }
    }
    if (esc_open) {
        rt_esc_close(&esc);
        esc_open = false;
    }
    struct esc_dispatch_opts o;
    esc_channels_dispatch_opts(ch, &o);
    if (a->threads)
        o.threads = a->threads;
    struct esc_dispatch_stats s = {0};
    int ret = 1;
    if (a->once) {
        rc = esc_dispatch_once(st, ch, &o, 0, &s, &err);
        if (rc < 0) {
            char msg[1024];
            ts_err_format(&err, msg, sizeof(msg));
            fprintf(stderr, "tocsin escalations: %s\n", err.code ? msg : store_strerror(rc));
            ret = rc == TS_E_CONFIG ? 2 : 1;
        } else {
            ret = s.failed || due_failed ? 1 : 0;
        }
        print_stats(&s);
        store_close(st);
        esc_channels_free(ch);
        return ret;
    }
    cli_install_signals();
    struct esc_dispatcher *d = NULL;
    struct ts_arena *arena = NULL;
    if ((rc = esc_dispatcher_start(&d, st, ch, &o, &err)) != 0) {
        char msg[1024];
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin escalations: %s\n", err.code ? msg : ts_strerror(rc));
        ret = rc == TS_E_CONFIG ? 2 : 1;
        goto done;
    }
    if (ts_arena_create(&arena, 64u << 10, (size_t)256 << 20) != 0) {
        fprintf(stderr, "tocsin escalations: out of memory\n");
        goto done;
    }
    while (!ts_rt.stop) {
        long long n = pending_count(st, arena);
        if (n == 0)
            break;
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ret = 0;
done:
    esc_dispatcher_stats(d, &s); /* as of the stop request */
    esc_dispatcher_stop(d);
    ts_arena_destroy(arena);
    store_close(st);
    esc_channels_free(ch);
    if (ret == 0 && (s.failed || due_failed))
        ret = 1;
    print_stats(&s);
    return ret;
}

/* ---------------------------------------------------------------- check */

static void print_warning(void *ctx, const char *file, unsigned line, unsigned col,
                          const char *msg)
{
    (void)ctx;
    if (file && line)
        printf("%s:%u:%u: warning: %s\n", file, line, col, msg);
    else
        printf("warning: %s\n", msg);
}

static int do_check(struct esc_args *a)
{
    struct ts_config *cfg = NULL;
    if (a->config) {
        struct ts_err err = {0};
        if (ts_config_load(a->config, &cfg, &err)) {
            fprintf(stderr, "%s:%u:%u: error: %s\n", err.file[0] ? err.file : a->config, err.line,
                    err.col, err.msg);
            return 2;
        }
        if (!cfg->escalate.enabled)
            fprintf(stderr, "tocsin escalations: note: %s has no escalate: section; checking "
                            "the defaults\n", a->config);
#define FROM_CFG(field)                                                                          \
    if (!a->esc.field)                                                                               \
        a->esc.field = cfg->escalate.field;
        FROM_CFG(regime)
        FROM_CFG(taxonomy)
        FROM_CFG(policy)
        FROM_CFG(org)
        FROM_CFG(assets)
#undef FROM_CFG
        if (!a->esc.regimes)
            a->esc.regimes = cfg->escalate.regimes_dir;
    }
    struct rt_esc esc;
    int ret = 2;
    if (cli_esc_open(&esc, &a->esc) ==
        0) {
        size_t n = esc_config_warnings(&esc.env, print_warning, NULL);
        fprintf(stderr, "tocsin escalations: regime %s loaded, %zu warning(s)\n",
                esc_regime_id(esc.env.regime), n);
        rt_esc_close(&esc);
        ret = 0;
    }
    ts_config_free(cfg);
    return ret;
}

int cmd_escalations(int argc, char **argv)
{
    struct esc_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    switch (a.cmd) {
    case CMD_LIST:
        return do_list(&a);
    case CMD_RETRY:
        return do_retry(&a);
    case CMD_SEND:
        return do_send(&a);
    case CMD_QUEUE_DUE:
        return do_queue_due(&a);
    case CMD_CHECK:
        return do_check(&a);
    case CMD_NONE:
        break;
    }
    return 2;
}
