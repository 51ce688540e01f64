/* common.c - the runtime struct that main's signal handlers share, and the
 * signals. */
#include <string.h>

#include "cli_int.h"

struct ts_runtime ts_rt;

static void on_signal(int sig)
{
    (void)sig;
    ts_rt.stop = 1;
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
