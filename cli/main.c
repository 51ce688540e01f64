/* main.c - bin/tocsin: dispatch to subcommands. The only place that exits. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define TOCSIN_VERSION "0.1.0"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

static const struct command commands[] = {
    {"run", cmd_run, "run -c FILE: consume from Kafka per the config and process events"},
    {"replay", cmd_replay, "replay [options] FILE...|-: run the pipeline over files or stdin"},
    {"parse", cmd_parse, "parse [--format F] FILE...|-: print each normalised event as JSON"},
    {"rules", cmd_rules, "rules check|test ...: compile Sigma rules / test them on events"},
    {"logtest", cmd_logtest, "logtest [-r RULES] [-v]: log lines on stdin, each through parse, decoder, profile and every rule"},
    {"hunt", cmd_hunt, "hunt -c FILE --rules PATH --from T --to T [--db DIR|-o FILE]: rules over a Kafka time range"},
    {"hunts", cmd_hunts, "hunts --db DIR list|show ID: the hunts kept in a store directory"},
    {"intel", cmd_intel, "intel load --db DIR FILE...: import threat-intel indicators (CSV, MISP, STIX 2.1)"},
    {"incidents", cmd_incidents, "incidents --db DIR list|show|ack|resolve ...: the incidents in LMDB"},
    {"report", cmd_report, "report --db DIR INCIDENT --stage S --format json|stix|text: an escalation report"},
    {"serve", cmd_serve, "serve --db DIR --listen HOST:PORT --tokens FILE: the HTTP API, metrics and health"},
    {"summary", cmd_summary, "summary --db DIR --period day|week|month|custom: the monitoring report of a period"},
    {"escalations", cmd_escalations, "escalations --db DIR list|retry|send ...: the escalation outbox and its delivery"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: tocsin COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %s\n", commands[i].help);
    fprintf(out, "  version\n\n'tocsin COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("tocsin %s\n", TOCSIN_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tocsin: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
