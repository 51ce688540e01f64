/* common.c - the runtime struct that main's signal handlers share, and the
 * signals. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"

struct ts_runtime ts_rt;

/* cli_stop_bound's message and bound (set before the handlers can run) */
static char bound_msg[512];
static size_t bound_len;
static unsigned bound_secs;

/* The bound passed, or a second SIGINT/SIGTERM: leave at once. Only
 * async-signal-safe calls (write, _exit). */
static void stop_now(void)
{
    ssize_t w = write(STDERR_FILENO, bound_msg, bound_len);
    (void)w;
    _exit(1);
}

static void on_alarm(int sig)
{
    (void)sig;
    stop_now();
}

static void on_signal(int sig)
{
    (void)sig;
    if (ts_rt.stop && bound_secs)
        stop_now();
    ts_rt.stop = 1;
    if (bound_secs)
        alarm(bound_secs); /* async-signal-safe */
    if (ts_rt.run)
        rt_run_stop(ts_rt.run); /* atomic stores: async-signal-safe */
}

static void on_hup(int sig)
{
    (void)sig;
    ts_rt.reload = 1;
    if (ts_rt.run)
        rt_run_reload(ts_rt.run); /* an atomic store: async-signal-safe */
}

int cli_incident_id(const char *tool, const char *db, const char *given,
                    char out[STORE_ID_MAX + 1])
{
    struct store *s = NULL;
    struct store_txn *t = NULL;
    struct ts_err err = {0};
    int rc = rt_store_open_read(db, 0, &s, &err);
    if (rc) {
        char msg[1024];
        ts_err_format(&err, msg, sizeof(msg));
        fprintf(stderr, "%s: %s\n", tool, err.code ? msg : store_strerror(rc));
        return rc;
    }
    char msg[1400];
    rc = store_txn_begin(s, STORE_TXN_RDONLY, &t);
    if (!rc)
        rc = rt_incident_resolve(t, given, out, msg, sizeof(msg));
    else
        snprintf(msg, sizeof(msg), "%s", store_strerror(rc));
    if (rc)
        fprintf(stderr, "%s: %s%s%s\n", tool, msg, rc == TS_E_NOTFOUND ? " in " : "",
                rc == TS_E_NOTFOUND ? db : "");
    store_txn_abort(t);
    store_close(s);
    return rc;
}

void cli_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void cli_stop_bound(const char *tool, unsigned secs)
{
    int n = snprintf(bound_msg, sizeof(bound_msg),
                     "%s: not stopped within %u s of the stop request (or a second one came): "
                     "exiting now, exit 1; nothing after the last committed batch was "
                     "acknowledged (nothing is lost: the next run reads it again)\n",
                     tool, secs);
    bound_len = n < 0 ? 0 : (size_t)n < sizeof(bound_msg) ? (size_t)n : sizeof(bound_msg) - 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    bound_secs = secs;
    if (ts_rt.stop)
        alarm(secs); /* the stop came before the bound was set */
}

const char **cli_esc_opt(struct cli_esc_opts *o, const char *name)
{
    return !strcmp(name, "--regime")     ? &o->regime
           : !strcmp(name, "--regimes")  ? &o->regimes
           : !strcmp(name, "--taxonomy") ? &o->taxonomy
           : !strcmp(name, "--policy")   ? &o->policy
           : !strcmp(name, "--org")      ? &o->org
           : !strcmp(name, "--assets")   ? &o->assets
                                         : NULL;
}

bool cli_esc_given(const struct cli_esc_opts *o)
{
    return o->regime || o->regimes || o->taxonomy || o->policy || o->org || o->assets;
}

int cli_esc_open(struct rt_esc *e, const struct cli_esc_opts *o)
{
    return rt_esc_open(e, o->regime, o->regimes, o->taxonomy, o->policy, o->org, o->assets);
}
