/* SPDX-License-Identifier: BSD-3-Clause */
/* main.c - the mpimap command: global options and subcommand dispatch. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary; /* one line for `mpimap --help` */
};

/* The subcommands, in the order `mpimap --help` lists them. */
static const struct command commands[] = {
    {"run", mpimap_cli_cmd_run, "map a command or function over a work list"},
    {"status", mpimap_cli_cmd_status, "how a job submitted to a scheduler is doing"},
    {"collect", mpimap_cli_cmd_collect, "wait for a scheduler's job and write its results"},
    {"world", mpimap_cli_cmd_world, "show where the ranks of an MPI job run"},
    {"config", mpimap_cli_cmd_config, "show the settings of the config files in force"},
    {"plugins", mpimap_cli_cmd_plugins, "list the strategy and launcher plugins found"},
    {"version", mpimap_cli_cmd_version, "print the version of mpimap and its plugin ABI"},
    {"license", mpimap_cli_cmd_license, "print the license (BSD-3-Clause)"},
    {"cite", mpimap_cli_cmd_cite, "print how to cite mpimap and the work it builds on"},
};

static const char short_usage[] =
    "usage: mpimap [--help] [--version] <command> [<args>]\n"
    "Run 'mpimap --help' for the list of commands.\n";

static void print_help(FILE *out)
{
    size_t width = 0;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        size_t n = strlen(commands[i].name);
        if (n > width)
            width = n;
    }
    fputs("usage: mpimap [--help] [--version] <command> [<args>]\n"
          "\n"
          "Map a command or a function over a work list across MPI ranks,\n"
          "with pluggable strategies and launchers.\n"
          "\n"
          "Commands:\n",
          out);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-*s  %s\n", (int)width, commands[i].name,
                commands[i].summary);
    fputs("\n"
          "Options:\n"
          "  -h, --help   show this help and exit\n"
          "  --version    show the version and exit\n"
          "\n"
          "Run 'mpimap <command> --help' for the options of a command.\n",
          out);
}

int mpimap_cli_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

static void vreport(const char *cmd, const char *fmt, va_list ap)
{
    if (cmd)
        fprintf(stderr, "mpimap %s: ", cmd);
    else
        fputs("mpimap: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int mpimap_cli_usage_error(const char *cmd, const char *usage,
                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    if (usage && cmd) {
        /* The usage line only, and where to read the rest. */
        size_t n = strcspn(usage, "\n");
        fprintf(stderr, "%.*s\nRun 'mpimap %s --help' for more.\n", (int)n,
                usage, cmd);
    } else if (usage) {
        fputs(usage, stderr);
    }
    return MPIMAP_CLI_USAGE;
}

int mpimap_cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    return MPIMAP_CLI_FAILURE;
}

int mpimap_cli_no_args(int argc, char **argv, const char *usage)
{
    if (argc < 2)
        return -1;
    if (mpimap_cli_is_help(argv[1])) {
        fputs(usage, stdout);
        return MPIMAP_CLI_OK;
    }
    if (argv[1][0] == '-' && argv[1][1] != '\0')
        return mpimap_cli_usage_error(argv[0], usage, "unknown option '%s'",
                                      argv[1]);
    return mpimap_cli_usage_error(argv[0], usage, "unexpected argument '%s'",
                                  argv[1]);
}

/* Whatever a command printed must have reached stdout: a full disk or a
 * closed pipe is a failure, not a silent truncation. */
static int finish_stdout(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int err = errno;
        fprintf(stderr, "mpimap: write error on standard output: %s\n",
                err ? strerror(err) : "unknown error");
        return MPIMAP_CLI_FAILURE;
    }
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return mpimap_cli_usage_error(NULL, short_usage, "no command given");

    const char *word = argv[1];
    if (mpimap_cli_is_help(word)) {
        print_help(stdout);
        return finish_stdout(MPIMAP_CLI_OK);
    }
    if (strcmp(word, "--version") == 0) {
        static char name[] = "version";
        char *args[] = {name, NULL};
        return finish_stdout(mpimap_cli_cmd_version(1, args));
    }
    if (word[0] == '-')
        return mpimap_cli_usage_error(NULL, short_usage, "unknown option '%s'",
                                      word);

    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(word, commands[i].name) == 0)
            return finish_stdout(commands[i].run(argc - 1, argv + 1));
    }
    return mpimap_cli_usage_error(NULL, short_usage, "unknown command '%s'",
                                  word);
}
