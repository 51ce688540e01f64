/* cli_int.h - helpers shared by the subcommands. */
#ifndef TS_CLI_INT_H
#define TS_CLI_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include "../core/buf.h"
#include "../ingest/ingest.h"

/* The one runtime struct that main's signal handler shares (STYLE.md). */
struct ts_runtime {
    volatile sig_atomic_t stop;
    struct ingest_kafka *kafka; /* set while `run` consumes */
};
extern struct ts_runtime ts_rt;

/* SIGINT/SIGTERM set ts_rt.stop (and stop the Kafka source). */
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

#endif
