/* cli_int.h - helpers shared by the subcommands. */
#ifndef TS_CLI_INT_H
#define TS_CLI_INT_H

#include <signal.h>
#include <stdio.h>

#include "../runtime/runtime.h"

/* The one runtime struct that main's signal handler shares (STYLE.md). */
struct ts_runtime {
    volatile sig_atomic_t stop;
    volatile sig_atomic_t reload; /* SIGHUP: rebuild rules and normalisation */
    struct rt_run *volatile run; /* set while `run` runs: signals go to it */
};
extern struct ts_runtime ts_rt;

/* SIGINT/SIGTERM set ts_rt.stop (and stop the run); SIGHUP sets
 * ts_rt.reload (and asks the run for a reload). */
void cli_install_signals(void);

/* The full id of the incident given in full or by a unique prefix in the
 * store db (rt_incident_resolve); prints why not, after "tool: ", and
 * returns non-zero when there is none or several. */
int cli_incident_id(const char *tool, const char *db, const char *given,
                    char out[STORE_ID_MAX + 1]);

#endif
