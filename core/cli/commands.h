/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * commands.h - the subcommands of the mpimap command, and the helpers they
 * share (defined in main.c).
 *
 * A subcommand is a function run as `mpimap NAME ARGS...`. It gets argv
 * with argv[0] set to NAME and the subcommand's own arguments after it,
 * and returns the process exit status (one of enum mpimap_cli_exit), not an
 * MPIMAP_E* code: it has already told the user what went wrong.
 *
 * Adding a subcommand takes one file and one line:
 *   1. core/cli/cmd_NAME.c defines int mpimap_cli_cmd_NAME(int argc, char **argv)
 *      (declare it below, add the file to core/cli/meson.build);
 *   2. one entry in the command table in core/cli/main.c.
 * Every subcommand answers --help (and -h) with its usage on stdout, exit 0,
 * and reports bad usage with mpimap_cli_usage_error() (stderr, exit 2).
 */
#ifndef MPIMAP_CLI_COMMANDS_H
#define MPIMAP_CLI_COMMANDS_H

/* Exit statuses of the mpimap command. */
enum mpimap_cli_exit {
    MPIMAP_CLI_OK = 0,     /* success */
    MPIMAP_CLI_FAILURE = 1,/* the command ran and failed */
    MPIMAP_CLI_USAGE = 2,  /* bad command line */
    MPIMAP_CLI_LAUNCH = 3, /* run: the job could not be set up or started */
    MPIMAP_CLI_DIED = 4    /* run: the job died or was cancelled before the end */
};
/* For `mpimap run`, MPIMAP_CLI_FAILURE means: the map ran, some items failed. */

/* ---- Subcommands (one file each) ---------------------------------------- */

/* cmd_plugins.c: mpimap plugins [--all] [--kind strategy|launcher] */
int mpimap_cli_cmd_plugins(int argc, char **argv);

/* cmd_config.c: mpimap config (the config files' settings in force) */
int mpimap_cli_cmd_config(int argc, char **argv);

/* cmd_world.c: mpimap world [-n N] [-l NAME] [--launcher-arg ARG]... [--dry-run] */
int mpimap_cli_cmd_world(int argc, char **argv);

/* cmd_info.c: mpimap version | license | cite */
int mpimap_cli_cmd_version(int argc, char **argv);
int mpimap_cli_cmd_license(int argc, char **argv);
int mpimap_cli_cmd_cite(int argc, char **argv);

/* cmd_run.c: mpimap run [options] -- COMMAND {} | --function LIB:SYMBOL */
int mpimap_cli_cmd_run(int argc, char **argv);

/* cmd_status.c: mpimap status JOBDIR; cmd_collect.c: mpimap collect JOBDIR */
int mpimap_cli_cmd_status(int argc, char **argv);
int mpimap_cli_cmd_collect(int argc, char **argv);

/* ---- Waiting for a job (jobwait.c) --------------------------------------- */

typedef struct mpimap_job mpimap_job;
/* Wait for the job, drawing a progress line when show_progress, with notes
 * (a scheduler's job that will not finish before its walltime) and the
 * watchdog line (items running longer than max(watchdog s, 10 x the
 * median); 0 = never) on standard error; Ctrl-C and SIGTERM cancel it.
 * Returns what mpimap_ezmap_poll() finally returned. */
int mpimap_cli_wait(mpimap_job *job, int show_progress, int notes, double watchdog);
/* The failed items (or, verbose, a line that all succeeded) on stderr. */
void mpimap_cli_summary(mpimap_job *job, int rc, int verbose);

/* ---- Shared helpers (main.c) -------------------------------------------- */

/* True when arg is "--help" or "-h". */
int mpimap_cli_is_help(const char *arg);

/* Report bad usage of subcommand cmd (NULL for the mpimap command itself)
 * on stderr: "mpimap CMD: MESSAGE", then the first line of usage (the
 * command's --help text; may be NULL) and a pointer to `mpimap CMD --help`.
 * Returns MPIMAP_CLI_USAGE, for `return mpimap_cli_usage_error(...);`. */
int mpimap_cli_usage_error(const char *cmd, const char *usage,
                           const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Report a failure of subcommand cmd on stderr as "mpimap CMD: MESSAGE".
 * Returns MPIMAP_CLI_FAILURE. */
int mpimap_cli_fail(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Handle the arguments of a subcommand that takes none but --help:
 * returns -1 to go on, or the exit status to return right away (after
 * printing usage to stdout for --help, or an error for anything else). */
int mpimap_cli_no_args(int argc, char **argv, const char *usage);

#endif /* MPIMAP_CLI_COMMANDS_H */
