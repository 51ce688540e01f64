/* cmd_run.c - `tocsin run -c FILE`: parse the arguments, load the config,
 * and run the pipeline (runtime/run.c) until SIGINT/SIGTERM, which drain,
 * commit and exit 0; SIGHUP asks the run for a reload. With an http:
 * section, the HTTP server (http/) serves the run's store with the run's
 * hooks (runtime/hooks.c) from before the first batch until the run has
 * drained. A run that stopped because a commit found its disk full (LMDB,
 * the events output) is started again after a back-off (1 s doubling to
 * 60 s), in the same process, until there is space or a signal comes; a
 * signal while the disk is still full stops with exit 1 and says that
 * nothing after the last committed batch was acknowledged. A stop request
 * is honoured within RUN_STOP_BOUND_S in every state (cli_stop_bound).
 * Exit: 0 stopped, 1 failure, 2 usage or configuration. */
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/config.h"
#include "../core/log.h"
#include "../http/http.h"
#include "cli.h"
#include "cli_int.h"

static const char run_usage[] =
    "usage: tocsin run -c FILE [options]\n"
    "Consume the Kafka topics of the config and run the pipeline until SIGINT/SIGTERM.\n"
    "options:\n"
    "  -c, --config FILE       the YAML config (required)\n"
    "  -o, --events-out FILE   write every processed event as a JSON line (durable before\n"
    "                          its offset is committed)\n"
    "  -d, --detections-out FILE  where detections go as JSON lines (default: stdout)\n"
    "      --stats-interval S  log counters every S seconds (default 30, 0 = never)\n"
    "SIGHUP re-reads the config and swaps in new rules (correlation state carried\n"
    "over from LMDB), decoders, profiles and\n"
    "enrichment; what fails to build leaves the running version in force.\n"
    "With an http: section (docs/config.md) the process also serves the API, /metrics,\n"
    "/healthz and /readyz (docs/api.md); SIGHUP then re-reads the tokens file too.\n";

/* The HTTP hook for rule tests: http's request, runtime's function. */
static int hook_rule_test(void *ctx, const struct http_rule_test *q, struct ts_buf *out)
{
    struct rt_rule_test_req rq = {q->rule,   q->rule_len, q->events, q->events_len,
                                  q->format, q->profile,  q->tenant, q->by};
    return rt_run_rule_test(ctx, &rq, out);
}

/* After a reload (SIGHUP or POST /api/v1/rules/reload): the tokens too. */
static void reload_tokens(void *ctx)
{
    struct http_server *srv = *(struct http_server *volatile *)ctx;
    struct ts_err err = {0};
    char msg[1024];
    if (!srv)
        return;
    if (http_server_reload_tokens(srv, &err) == 0) {
        ts_info("http: tokens reloaded");
    } else {
        ts_err_format(&err, msg, sizeof(msg));
        ts_error("http: tokens not reloaded (the old ones stay): %s", msg);
    }
}

/* A stop request that the drain has not completed within this long ends the
 * process (exit 1): a healthy drain takes a second or two, a blocked one
 * (a librdkafka close that never completes, a broker that stopped
 * answering) would otherwise wait for the service manager's SIGKILL. */
#define RUN_STOP_BOUND_S 30

/* A stop request came while the disk stayed full: exit 1, saying so. */
static int stopped_on_full_disk(const char *why)
{
    ts_error("run: stopped while %s: nothing after the last committed batch was "
             "acknowledged (nothing is lost: the next run reads it again once there is space)",
             why);
    return 1;
}

/* After a run stopped on a full disk: wait 2^attempt s (at most 60 s)
 * before the next run tries again; non-zero when SIGINT/SIGTERM came. */
static int wait_for_space(const char *why, int attempt)
{
    int secs = attempt < 6 ? 1 << attempt : 60;
    ts_error("run: %s: the pipeline stopped with nothing lost; it starts again in %d s "
             "and resumes from the last committed batch (free space there)", why, secs);
    for (int i = 0; i < secs * 5 && !ts_rt.stop; i++) {
        struct timespec t = {0, 200 * 1000000L};
        nanosleep(&t, NULL);
    }
    return ts_rt.stop ? 1 : 0;
}

static int start_http(const struct ts_config *cfg, struct rt_run *r, struct http_server **srv,
                      struct ts_err *err)
{
    if (!cfg->http.enabled)
        return 0;
    struct http_opts ho = {0};
    ho.listen = cfg->http.listen;
    ho.tls_cert = cfg->http.tls_cert;
    ho.tls_key = cfg->http.tls_key;
    ho.tokens = cfg->http.tokens;
    ho.store = rt_run_store(r);
    ho.esc = rt_run_esc_env(r);
    ho.version = TOCSIN_VERSION;
    ho.body_max = cfg->http.body_max;
    ho.rate = cfg->http.rate < 0 ? 0 : cfg->http.rate > 0 ? (double)cfg->http.rate : -1;
    ho.hooks = (struct http_hooks){.ctx = r,
                                   .metrics = rt_run_metrics,
                                   .ready = rt_run_ready,
                                   .rules_list = rt_run_rules_list,
                                   .rules_reload = rt_run_rules_reload,
                                   .rule_test = hook_rule_test};
    if (rt_run_distributed(r)) /* status changes through the incidents topic */
        ho.hooks.status_change = rt_run_status_change;
    int rc = http_server_create(srv, &ho, err);
    if (rc)
        return rc;
    const char *colon = strrchr(cfg->http.listen, ':');
    fprintf(stderr, "tocsin run: HTTP API, metrics and health on %s://%.*s:%u%s\n",
            cfg->http.tls_cert ? "https" : "http", (int)(colon - cfg->http.listen),
            cfg->http.listen, http_server_port(*srv),
            ho.store ? "" : " (no paths.data_dir: the API answers 503)");
    return 0;
}

/* The detections file quotes the events' values: created 0600, appended to. */
static FILE *open_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (fd >= 0 && !f)
        close(fd);
    return f;
}

int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"events-out", required_argument, NULL, 'o'},
        {"detections-out", required_argument, NULL, 'd'},
        {"stats-interval", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cfg_path = NULL, *events_path = NULL, *det_path = NULL;
    int interval = 30;
    /* first: a SIGTERM at any point of the (slow) set-up - a service manager
     * stopping a unit that has just started - is a clean stop after it, not
     * death by the default action (test_exactly_once's last run was
     * signalled while it read its config: exit -15) */
    cli_install_signals();
    cli_stop_bound("tocsin run", RUN_STOP_BOUND_S);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "c:o:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            det_path = optarg;
            break;
        case 'c':
            cfg_path = optarg;
            break;
        case 'o':
            events_path = optarg;
            break;
        case 's':
            interval = atoi(optarg);
            break;
        case 'h':
            fputs(run_usage, stdout);
            return 0;
        default:
            fputs(run_usage, stderr);
            return 2;
        }
    }
    if (!cfg_path || optind != argc) {
        fputs(run_usage, stderr);
        return 2;
    }
    struct ts_err err = {0};
    struct ts_config *cfg = NULL;
    char msg[1024];
    if (ts_config_load(cfg_path, &cfg, &err)) {
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "tocsin: %s\n", msg);
        return 2;
    }
    if (cfg->log.level) {
        static const char *const lv[] = {"error", "warning", "info", "debug"};
        for (int i = 0; i < 4; i++)
            if (!strcmp(cfg->log.level, lv[i]))
                ts_log_set_level((enum ts_log_level)i);
    }
    FILE *det_out = NULL;
    if (cfg->paths.nrules && det_path && strcmp(det_path, "-") != 0 &&
        !(det_out = open_private(det_path))) {
        fprintf(stderr, "tocsin: cannot open %s\n", det_path);
        ts_config_free(cfg);
        return 1;
    }
    struct http_server *volatile srv = NULL;
    struct rt_run_opts ro = {.config_path = cfg_path,
                             .config = cfg,
                             .events_out = events_path,
                             .detections_out = det_out,
                             .stats_interval = interval,
                             .on_reload = cfg->http.enabled ? reload_tokens : NULL,
                             .on_reload_ctx = (void *)&srv};
    struct rt_run *r = NULL;
    int code = 0;
    int rc = rt_run_create(&r, &ro, &err);
    struct http_server *s = NULL;
    if (!rc && (rc = start_http(cfg, r, &s, &err)) != 0) {
        rc = rc == TS_E_CONFIG || rc == TS_E_PARSE || rc == TS_E_INVAL ||
                     rc == TS_E_UNSUPPORTED
                 ? TS_E_CONFIG
                 : rc;
        if (!err.code)
            ts_err_set(&err, rc, NULL, 0, 0, "http: %s", ts_strerror(rc));
    }
    srv = s;
    if (rc) {
        if (err.code) {
            ts_err_format(&err, msg, sizeof(msg));
            fprintf(stderr, "tocsin: %s\n", msg);
        }
        code = rc == TS_E_CONFIG ? 2 : 1;
    } else {
        for (int attempt = 0;; attempt++) {
            ts_rt.run = r;
            if (ts_rt.stop)
                rt_run_stop(r);
            int mrc = rt_run_main(r, &err);
            ts_rt.run = NULL;
            char why[512];
            if (mrc && ts_rt.stop && rt_run_disk_full(r, why, sizeof(why))) {
                code = stopped_on_full_disk(why);
                break;
            }
            if (mrc && !ts_rt.stop && rt_run_disk_full(r, why, sizeof(why))) {
                /* the pipeline again over the same config once there may be
                 * space: it resumes from the last committed batch */
                srv = NULL;
                http_server_destroy(s);
                s = NULL;
                rt_run_destroy(r);
                r = NULL;
                if (wait_for_space(why, attempt) != 0) {
                    code = stopped_on_full_disk(why); /* SIGINT/SIGTERM while waiting */
                    break;
                }
                bool stopped = false;
                for (;;) {
                    memset(&err, 0, sizeof(err));
                    rc = rt_run_create(&r, &ro, &err);
                    /* opening the store writes too */
                    if (!rc || !rt_path_full("LMDB", cfg->paths.data_dir, why, sizeof(why)))
                        break;
                    if ((stopped = wait_for_space(why, ++attempt) != 0))
                        break;
                }
                if (stopped) {
                    code = stopped_on_full_disk(why);
                    break;
                }
                if (!rc)
                    rc = start_http(cfg, r, &s, &err);
                srv = s;
                if (!rc && !ts_rt.stop)
                    continue;
                if (ts_rt.stop && !r)
                    break;
                mrc = rc;
            }
            if (mrc) {
                if (err.code) {
                    ts_err_format(&err, msg, sizeof(msg));
                    fprintf(stderr, "tocsin: %s\n", msg);
                }
                code = 1;
            }
            break;
        }
    }
    srv = NULL;
    http_server_destroy(s); /* before the run: the hooks and the store are the run's */
    rt_run_destroy(r);
    if (det_out)
        fclose(det_out);
    ts_config_free(cfg);
    return code;
}
