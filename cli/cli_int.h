/* cli_int.h - helpers shared by the subcommands. */
#ifndef TS_CLI_INT_H
#define TS_CLI_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include "../core/buf.h"
#include "../ingest/ingest.h"
#include "../ingest/normalise.h"
#include "../rules/rules.h"

/* The one runtime struct that main's signal handler shares (STYLE.md). */
struct ts_runtime {
    volatile sig_atomic_t stop;
    volatile sig_atomic_t reload; /* SIGHUP: rebuild rules and normalisation */
    struct ingest_kafka *kafka; /* set while `run` consumes */
};
extern struct ts_runtime ts_rt;

/* SIGINT/SIGTERM set ts_rt.stop (and stop the Kafka source); SIGHUP sets
 * ts_rt.reload. */
void cli_install_signals(void);

/* A sink that writes every event as a JSON line to a stream and makes it
 * durable (fflush + fsync unless a tty/pipe) at the commit point. */
struct events_out {
    pthread_mutex_t mu; /* workers call the sink concurrently */
    FILE *f;
    bool owned;
    bool sync;
    struct ts_buf line;
    uint64_t written;
};
int events_out_open(struct events_out *eo, const char *path);
void events_out_close(struct events_out *eo);
int events_out_process(void *ctx, struct ingest_batch *b);
int events_out_commit(void *ctx, const struct ingest_batch *b);


/* Normalisation from CLI options or config. Paths default to etc/profiles
 * and etc/decoders beside the binary (bin/../etc) or in the working dir. */
struct cli_norm_args {
    bool none;                 /* --no-normalise */
    const char *profiles, *decoders, *force_profile; /* one path each (CLI) */
    const char *const *profile_list, *const *decoder_list; /* or lists (config) */
    size_t nprofile_list, ndecoder_list;
    const char *geoip_city, *geoip_asn, *assets, *intel_db;
    const char *const *ip_fields;
    size_t nip_fields;
};
int cli_norm_build(const struct cli_norm_args *a, struct ingest_norm **out);
/* "<exe dir>/../sub" or "sub" when that directory exists, else NULL. */
const char *cli_default_dir(const char *sub, char *buf, size_t len);

/* The detection stage: Sigma rules, one JSON line per detection. */
struct detections {
    struct rule_set *rs;           /* current set, guarded by mu; swapped on reload */
    struct rule_scratch **scratch; /* one per worker */
    struct rule_set **scratch_rs;  /* the set each scratch was made for (a reference,
                                      so a freed set's address cannot come back) */
    size_t nscratch;
    FILE *out;
    pthread_mutex_t mu;
    struct ts_buf line;
    uint64_t detections;
};
int detections_open(struct detections *d, const struct rule_load_opts *lo, int workers,
                    FILE *out, bool quiet);
void detections_close(struct detections *d);
int detections_process(struct detections *d, struct ingest_batch *b);
int detections_on_match_locked(void *ctx, const struct ts_event *ev, size_t idx);
int detections_flush(struct detections *d);
/* Load a new rule set with lo and swap it in (batches in flight finish with
 * the old one). On failure the old set stays and the problems are printed. */
int detections_reload(struct detections *d, const struct rule_load_opts *lo);

#endif
