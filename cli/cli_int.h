/* cli_int.h - helpers shared by the subcommands. */
#ifndef TS_CLI_INT_H
#define TS_CLI_INT_H

#include <signal.h>
#include <stdbool.h>
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
/* After it, a stop request (SIGINT/SIGTERM) that has not ended the process
 * within secs s - a drain blocked where it cannot see the request: a
 * librdkafka close that never completes, a broker that stopped answering -
 * or a second stop request ends it with exit status 1 and a message on
 * stderr, from the signal handler: tool says nothing after the last
 * committed batch was acknowledged (the next run reads it again). Every
 * commit is atomic (LMDB, the offsets after it), so what it cuts short is
 * only redone. Call once, after cli_install_signals. */
void cli_stop_bound(const char *tool, unsigned secs);

/* The full id of the incident given in full or by a unique prefix in the
 * store db (rt_incident_resolve); prints why not, after "tool: ", and
 * returns non-zero when there is none or several. */
int cli_incident_id(const char *tool, const char *db, const char *given,
                    char out[STORE_ID_MAX + 1]);

/* The escalation configuration options that serve, escalations and summary
 * take alike (--regime NAME, --regimes DIR, --taxonomy FILE, --policy FILE,
 * --org FILE, --assets FILE), loaded by rt_esc_open. */
struct cli_esc_opts {
    const char *regime, *regimes, *taxonomy, *policy, *org, *assets;
};
/* The slot in o of the option called name, NULL when name is none of them. */
const char **cli_esc_opt(struct cli_esc_opts *o, const char *name);
/* Whether any of them was given. */
bool cli_esc_given(const struct cli_esc_opts *o);
/* rt_esc_open with them (NULL ones take rt_esc_open's defaults). */
int cli_esc_open(struct rt_esc *e, const struct cli_esc_opts *o);

/* `tocsin intel load ... --hunt DURATION` (cmd_hunt.c): a retro-hunt of the
 * indicators of source in intel_db over the last DURATION ("30d", "12h")
 * of the topics of config, as `tocsin hunt --intel SOURCE`: the sightings
 * as JSON lines on stdout, or kept in hunt_db/hunts/ID when hunt_db is not
 * NULL. Returns the exit code (0, 1 failed, 2 bad arguments, 130 stopped). */
int cli_intel_hunt(const char *config, const char *intel_db, const char *source,
                   const char *duration, const char *hunt_db);

/* ---- replay's own report (replay_report.c) ---- */

#define CLI_TALLY_MAX 100000u  /* distinct keys counted; more are "other" */
#define CLI_TALLY_KEY_MAX 64u  /* bytes of a key kept */
struct cli_tally_ent {
    char *key;
    size_t len;
    uint64_t hash, count;
};
struct cli_tally {
    const char *label;
    struct cli_tally_ent *ent; /* open addressing, cap a power of two */
    size_t cap, n;
    uint64_t other, total;
};
void cli_tally_add(struct cli_tally *t, const char *key, size_t len);
/* "  by LABEL  k1 n1, k2 n2, ..., other N": the top keys by count. */
void cli_tally_print(struct cli_tally *t, FILE *out, size_t top);
void cli_tally_free(struct cli_tally *t);

struct cli_progress {
    FILE *out;
    bool on, known, drawn;
    uint64_t total, lines, bytes;
    int64_t start_ns, last_ns;
};
/* on: wanted (not -q); drawn only when out is a terminal. */
void cli_progress_start(struct cli_progress *p, FILE *out, bool on, uint64_t total_bytes,
                        bool total_known);
/* From the reading thread, per batch: redrawn at most 5 times a second. */
void cli_progress_add(struct cli_progress *p, uint64_t lines, uint64_t bytes);
/* Clears the bar; returns the seconds since start. */
double cli_progress_end(struct cli_progress *p);

/* Detections per level and per rule (the top ones by count) with their first
 * and last event times. */
void cli_detections_summary(const struct rt_det *d, FILE *out, size_t top);

#endif
