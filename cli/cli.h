/* cli.h - subcommands of bin/tocsin. Each returns the process exit code:
 * 0 success, 1 failure of the job, 2 usage or configuration error. */
#ifndef TS_CLI_H
#define TS_CLI_H

int cmd_parse(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_logtest(int argc, char **argv);
int cmd_intel(int argc, char **argv);
int cmd_incidents(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_escalations(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_hunt(int argc, char **argv);
int cmd_hunts(int argc, char **argv);

/* The same definition as main.c's (an identical redefinition is allowed; a
 * different one fails the build, so the two cannot drift apart). */
#define TOCSIN_VERSION "0.1.0"

#endif
