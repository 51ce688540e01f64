/* cmd_run.c - `tocsin run -c FILE`: parse the arguments, load the config,
 * and run the pipeline (runtime/run.c) until SIGINT/SIGTERM, which drain,
 * commit and exit 0; SIGHUP asks the run for a reload. Exit: 0 stopped,
 * 1 failure, 2 usage or configuration. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../core/config.h"
#include "../core/log.h"
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
    "enrichment; what fails to build leaves the running version in force.\n";

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
        !(det_out = fopen(det_path, "a"))) {
        fprintf(stderr, "tocsin: cannot open %s\n", det_path);
        ts_config_free(cfg);
        return 1;
    }
    struct rt_run_opts ro = {.config_path = cfg_path,
                             .config = cfg,
                             .events_out = events_path,
                             .detections_out = det_out,
                             .stats_interval = interval};
    struct rt_run *r = NULL;
    int code = 0;
    int rc = rt_run_create(&r, &ro, &err);
    if (rc) {
        if (err.code) {
            ts_err_format(&err, msg, sizeof(msg));
            fprintf(stderr, "tocsin: %s\n", msg);
        }
        code = rc == TS_E_CONFIG ? 2 : 1;
    } else {
        ts_rt.run = r;
        cli_install_signals();
        if (ts_rt.stop)
            rt_run_stop(r);
        if (rt_run_main(r, &err)) {
            ts_err_format(&err, msg, sizeof(msg));
            fprintf(stderr, "tocsin: %s\n", msg);
            code = 1;
        }
        ts_rt.run = NULL;
    }
    rt_run_destroy(r);
    if (det_out)
        fclose(det_out);
    ts_config_free(cfg);
    return code;
}
