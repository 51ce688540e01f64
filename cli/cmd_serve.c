/* cmd_serve.c - `tocsin serve --db DIR --listen HOST:PORT --tokens FILE`:
 * the HTTP API, metrics and health (http/http.h) over an incident store,
 * standalone - over a store filled by `replay --db`, or beside a running
 * `tocsin run` on the same directory (LMDB serialises the writers; this
 * process folds the engine's journal when it reads, docs/storage.md).
 * The store is opened read-write so that acknowledgements work.
 * Parses, opens, prints; SIGINT/SIGTERM stop, SIGHUP reloads the tokens.
 * Also the token helpers: --hash-token (stdin) and --new-token.
 * Exit: 0 stopped by a signal, 1 failure, 2 usage or configuration. */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../core/config.h"
#include "../core/log.h"
#include "../http/http.h"
#include "../storage/storage.h"
#include "cli.h"
#include "cli_int.h"

static const char serve_usage[] =
    "usage: tocsin serve --db DIR --listen HOST:PORT --tokens FILE\n"
    "                    [--tls-cert FILE --tls-key FILE] [--threads N] [--rate N]\n"
    "                    [--burst N] [--body-max BYTES] [--metrics-cache SECONDS]\n"
    "                    [--regime NAME] [--regimes DIR] [--taxonomy FILE] [--policy FILE]\n"
    "                    [--org FILE] [--assets FILE] [--no-reports]\n"
    "                    [--incidents-from CONFIG] [--rules PATH]...\n"
    "       tocsin serve --hash-token      < token   (prints its sha256 for the tokens file)\n"
    "       tocsin serve --new-token                 (prints a new random token and its sha256)\n"
    "The HTTP API v1, /metrics, /healthz and /readyz over the incident store DIR\n"
    "(docs/api.md). HOST:PORT: e.g. 127.0.0.1:8080; port 0 picks a free one (printed).\n"
    "  --tokens        YAML: tokens: [{name, sha256, role, tenants}] (viewer, analyst, admin)\n"
    "  --tls-cert/key  PEM files: HTTPS only\n"
    "  --rate/--burst  requests per second per token (or client address) and bucket size\n"
    "                  (default 50 and twice the rate; --rate 0 turns the cap off)\n"
    "  --body-max      request body cap (default 1048576)\n"
    "  --regime ...    the escalation configuration for reports and deadlines, as for\n"
    "                  `tocsin report` (default: etc/escalation beside the binary, when\n"
    "                  present); --no-reports turns reports off\n"
    "  --incidents-from  the config of `tocsin run` nodes with correlate.distributed:\n"
    "                  the incidents of every node are read from their incidents topic\n"
    "                  into DIR (created when absent) and served (docs/scale.md)\n"
    "  --rules PATH    rule files or directories (repeatable): GET /api/v1/rules lists\n"
    "                  them, so the console names the rules of the evidence by title\n"
    "                  (no hit counts: serve matches nothing)\n"
    "SIGINT/SIGTERM stop; SIGHUP reads the tokens file again.\n";

struct serve_args {
    const char *db, *listen, *tokens, *cert, *key;
    struct cli_esc_opts esc;
    bool no_reports, hash_token, new_token;
    unsigned threads;
    double rate, burst;
    bool rate_set;
    size_t body_max;
    double metrics_cache;
    bool metrics_cache_set;
    const char *incidents_from; /* a distributed run's config: its incidents topic */
    const char *rules[16];      /* --rules: listed for their titles */
    size_t nrules;
};

static int num(const char *o, const char *v, double lo, double hi, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (!*v || *end || !(d >= lo && d <= hi)) {
        fprintf(stderr, "tocsin serve: %s \"%s\": expected a number from %g to %g\n", o, v, lo,
                hi);
        return 2;
    }
    *out = d;
    return 0;
}

static int parse_args(int argc, char **argv, struct serve_args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fputs(serve_usage, stdout);
            return -1;
        }
        if (!strcmp(o, "--no-reports") || !strcmp(o, "--hash-token") ||
            !strcmp(o, "--new-token")) {
            *(o[2] == 'n' && o[3] == 'o' ? &a->no_reports
              : o[2] == 'h'              ? &a->hash_token
                                         : &a->new_token) = true;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (o[0] != '-') {
            fprintf(stderr, "tocsin serve: unexpected argument \"%s\"\n%s", o, serve_usage);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "tocsin serve: %s needs a value\n", o);
            return 2;
        }
        i++;
        double d;
        const char **s = !strcmp(o, "--db") || !strcmp(o, "-d") ? &a->db
                         : !strcmp(o, "--listen")               ? &a->listen
                         : !strcmp(o, "--incidents-from")       ? &a->incidents_from
                         : !strcmp(o, "--tokens")               ? &a->tokens
                         : !strcmp(o, "--tls-cert")             ? &a->cert
                         : !strcmp(o, "--tls-key")              ? &a->key
                                                                : cli_esc_opt(&a->esc, o);
        if (s) {
            *s = v;
        } else if (!strcmp(o, "--rules")) {
            if (a->nrules == sizeof(a->rules) / sizeof(a->rules[0])) {
                fprintf(stderr, "tocsin serve: --rules: at most 16 paths (name directories)\n");
                return 2;
            }
            a->rules[a->nrules++] = v;
        } else if (!strcmp(o, "--threads")) {
            if (num(o, v, 1, 64, &d))
                return 2;
            a->threads = (unsigned)d;
        } else if (!strcmp(o, "--rate")) {
            if (num(o, v, 0, 1e6, &a->rate))
                return 2;
            a->rate_set = true;
        } else if (!strcmp(o, "--burst")) {
            if (num(o, v, 1, 1e6, &a->burst))
                return 2;
        } else if (!strcmp(o, "--body-max")) {
            if (num(o, v, 1, 1 << 30, &d))
                return 2;
            a->body_max = (size_t)d;
        } else if (!strcmp(o, "--metrics-cache")) {
            if (num(o, v, 0, 3600, &a->metrics_cache))
                return 2;
            a->metrics_cache_set = true;
        } else {
            fprintf(stderr, "tocsin serve: unknown option \"%s\"\n%s", o, serve_usage);
            return 2;
        }
    }
    if (a->hash_token || a->new_token)
        return 0;
    if (!a->db || !a->listen || !a->tokens) {
        fprintf(stderr, "tocsin serve: --db, --listen and --tokens are required\n%s",
                serve_usage);
        return 2;
    }
    if (!a->cert != !a->key) {
        fprintf(stderr, "tocsin serve: --tls-cert and --tls-key go together\n");
        return 2;
    }
    return 0;
}

/* --hash-token: the token on stdin (first line, without its newline). */
static int hash_token(void)
{
    char buf[4100];
    size_t n = fread(buf, 1, sizeof(buf) - 1, stdin);
    buf[n] = '\0';
    char *nl = strpbrk(buf, "\r\n");
    if (nl)
        n = (size_t)(nl - buf);
    if (n == 0 || n > 4096) {
        fprintf(stderr, "tocsin serve --hash-token: expected a token (1 to 4096 bytes) on "
                        "stdin\n");
        return 2;
    }
    char hex[65];
    http_token_sha256_hex(buf, n, hex);
    memset(buf, 0, sizeof(buf));
    printf("%s\n", hex);
    return 0;
}

/* --new-token: 32 random bytes as base64url, and the sha256 to put in the
 * tokens file. */
static int new_token(void)
{
    static const char b64u[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[33];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        fprintf(stderr, "tocsin serve --new-token: no randomness from OpenSSL\n");
        return 1;
    }
    char tok[45];
    size_t o = 0;
    for (size_t i = 0; i < sizeof(raw); i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
        tok[o++] = b64u[v >> 18 & 63];
        tok[o++] = b64u[v >> 12 & 63];
        tok[o++] = b64u[v >> 6 & 63];
        tok[o++] = b64u[v & 63];
    }
    tok[o] = '\0';
    char hex[65];
    http_token_sha256_hex(tok, o, hex);
    printf("token:  %s\nsha256: %s\n", tok, hex);
    return 0;
}

/* The hooks' context: the rules of --rules, and for a store that is a copy
 * of the distributed mode's incidents topic the config its status changes
 * are published with. */
struct serve_hooks {
    struct rule_set *rs;
    struct rt_inc_hook inc;
    struct ts_config *own_cfg;
};

static int serve_rules_list(void *ctx, struct ts_buf *out)
{
    const struct serve_hooks *sh = ctx;
    if (!sh->rs)
        return TS_E_NOTFOUND;
    return rt_rules_list_json(sh->rs, NULL, out);
}

static int serve_status_change(void *ctx, const char *id, int to, const char *by,
                               const char *comment, int *now, uint64_t *revision, char *msg,
                               size_t cap)
{
    struct serve_hooks *sh = ctx;
    return rt_inc_status_hook(&sh->inc, id, to, by, comment, now, revision, msg, cap);
}

/* A replica store served without --incidents-from: its changes still go
 * through the topic, with the config its node recorded (never the store
 * alone: the nodes would disagree). */
static bool serve_replica(struct store *s, struct serve_hooks *sh)
{
    struct rt_inc_replica rep;
    if (rt_inc_replica_get(s, &rep) != 0)
        return false;
    struct ts_err err = {0};
    if (rep.config_path && ts_config_load(rep.config_path, &sh->own_cfg, &err) == 0) {
        sh->inc.cfg = sh->own_cfg;
    } else {
        char msg[1024];
        ts_err_format(&err, msg, sizeof(msg));
        ts_warn("serve: the store is a copy of %s and its nodes' config did not load (%s): "
                "status changes are refused; give --incidents-from CONFIG",
                rep.topic, rep.config_path ? msg : "none recorded");
    }
    rt_inc_replica_free(&rep);
    return true;
}

/* --rules: the rule set whose titles GET /api/v1/rules gives; rules that do
 * not load are said (file:line:col) and left out. NULL when none given. */
static int load_rules(const struct serve_args *a, struct rule_set **rs)
{
    *rs = NULL;
    if (!a->nrules)
        return 0;
    struct rule_load_opts lo = {.paths = a->rules, .npaths = a->nrules};
    struct rule_report rr;
    memset(&rr, 0, sizeof(rr));
    struct ts_err err = {0};
    int rc = rule_set_load(rs, &lo, &rr, &err);
    for (size_t i = 0; !rc && i < rr.nproblems; i++)
        fprintf(stderr, "%s:%u:%u: %s\n", rr.problems[i].file, rr.problems[i].line,
                rr.problems[i].col, rr.problems[i].msg);
    rule_report_free(&rr);
    if (rc) {
        char msg[768];
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin serve: --rules: %s\n", err.code ? msg : ts_strerror(rc));
    }
    return rc;
}

int cmd_serve(int argc, char **argv)
{
    struct serve_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (a.hash_token)
        return hash_token();
    if (a.new_token)
        return new_token();
    struct rule_set *rs = NULL;

    /* the escalation configuration: as given, else the defaults when they
     * are there, else none (reports answer 404) */
    struct rt_esc esc;
    memset(&esc, 0, sizeof(esc));
    bool esc_open = false;
    bool esc_given = cli_esc_given(&a.esc);
    char dbuf[1024];
    if (!a.no_reports && (esc_given || rt_default_dir("etc/escalation", dbuf, sizeof(dbuf)))) {
        if (cli_esc_open(&esc, &a.esc) != 0)
            return 2;
        esc_open = true;
    }

    struct stat st;
    char mdb[4096];
    snprintf(mdb, sizeof(mdb), "%s/data.mdb", a.db);
    int ret = 1;
    struct store *s = NULL;
    struct http_server *srv = NULL;
    struct ts_err err = {0};
    char msg[1024];
    struct rt_incmat *mat = NULL;
    struct serve_hooks sh = {0};
    if (load_rules(&a, &rs) != 0) {
        ret = 2;
        goto done;
    }
    if (!a.incidents_from && stat(mdb, &st) != 0) {
        fprintf(stderr, "tocsin serve: no store in %s (fill one with tocsin run, or replay "
                        "--db)\n", a.db);
        goto done;
    }
    struct store_opts so = {0};
    so.path = a.db;
    if ((rc = store_open(&s, &so, &err)) != 0) {
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin serve: %s\n", err.code ? msg : store_strerror(rc));
        goto done;
    }
    if (a.incidents_from &&
        (rc = rt_serve_incidents_start(&mat, a.incidents_from, s, &err)) != 0) {
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin serve: %s\n", err.code ? msg : ts_strerror(rc));
        ret = rc == TS_E_CONFIG ? 2 : 1;
        goto done;
    }
    struct http_opts ho = {0};
    ho.listen = a.listen;
    ho.tls_cert = a.cert;
    ho.tls_key = a.key;
    ho.tokens = a.tokens;
    ho.store = s;
    ho.esc = esc_open ? &esc.env : NULL;
    ho.version = TOCSIN_VERSION;
    ho.threads = a.threads;
    ho.rate = a.rate_set ? (a.rate > 0 ? a.rate : -1) : 0;
    ho.burst = a.burst;
    ho.body_max = a.body_max;
    sh.rs = rs;
    sh.inc.st = s;
    ho.hooks.ctx = &sh;
    if (rs)
        ho.hooks.rules_list = serve_rules_list;
    if (mat) {
        sh.inc.cfg = rt_serve_incidents_config(mat);
        ho.hooks.status_change = serve_status_change;
    } else if (serve_replica(s, &sh)) {
        ho.hooks.status_change = serve_status_change;
    }
    if (a.metrics_cache_set)
        ho.metrics_cache_ns = a.metrics_cache > 0 ? (int64_t)(a.metrics_cache * 1e9) : -1;
    cli_install_signals();
    if ((rc = http_server_create(&srv, &ho, &err)) != 0) {
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin serve: %s\n", err.code ? msg : ts_strerror(rc));
        ret = rc == TS_E_CONFIG || rc == TS_E_PARSE || rc == TS_E_INVAL ? 2 : 1;
        goto done;
    }
    char host[256];
    const char *colon = strrchr(a.listen, ':');
    snprintf(host, sizeof(host), "%.*s", (int)(colon - a.listen), a.listen);
    printf("tocsin serve: listening on %s://%s:%u (store %s%s)\n", a.cert ? "https" : "http",
           host, http_server_port(srv), a.db, esc_open ? "" : ", reports off");
    fflush(stdout);
    while (!ts_rt.stop) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (ts_rt.reload) {
            ts_rt.reload = 0;
            memset(&err, 0, sizeof(err));
            if (http_server_reload_tokens(srv, &err) == 0) {
                ts_info("serve: tokens reloaded from %s", a.tokens);
            } else {
                ts_err_format(&err, msg, sizeof(msg));
                ts_error("serve: tokens not reloaded (the old ones stay): %s", msg);
            }
        }
    }
    ts_info("serve: stopping");
    ret = 0;
done:
    http_server_destroy(srv);
    rt_serve_incidents_stop(mat); /* reads on to the end first */
    ts_config_free(sh.own_cfg);
    store_close(s);
    if (esc_open)
        rt_esc_close(&esc);
    rule_set_unref(rs);
    return ret;
}
