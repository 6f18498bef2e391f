/* SPDX-License-Identifier: BSD-3-Clause */
/* cmd_world.c - `mpimap world` (pyina's mpi_world): start mpimap-world
 * through a launcher and show where each rank runs. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>

#include "commands.h"
#include "config.h" /* MPIMAP_LIBEXECDIR */
#include "registry.h"
#include "shellquote.h"

extern char **environ;

static const char world_usage[] =
    "usage: mpimap world [-n N] [-l NAME] [--launcher-arg ARG]... [--dry-run]\n"
    "\n"
    "Start N ranks of a small MPI program through a launcher, the way\n"
    "`mpimap run` would, and print where each one runs:\n"
    "\n"
    "  RANK HOST PID CPUS\n"
    "\n"
    "one line per rank, in rank order; CPUS is the rank's CPU affinity as\n"
    "ranges (0-1,4). Inside a Slurm, PBS, LSF or Grid Engine job a first line\n"
    "\"# SCHEDULER job JOBID nodes NODES\" gives the job and its nodes.\n"
    "\n"
    "Options:\n"
    "  -n, --np N               number of ranks (default: the CPUs here; 1 with\n"
    "                           the serial launcher)\n"
    "  -l, --launcher NAME      mpirun, srun, serial, ... (default: the best found\n"
    "                           here; `mpimap plugins` lists them)\n"
    "      --launcher-arg ARG   pass ARG to the launcher (repeatable)\n"
    "      --dry-run            print the command that would run; start nothing\n"
    "  -h, --help               show this help and exit\n"
    "\n"
    "The program is $MPIMAP_WORLD, or " MPIMAP_LIBEXECDIR "/mpimap-world.\n"
    "\n"
    "Exit status: 0; 1 the launcher failed; 2 usage error (or a batch\n"
    "launcher, not supported yet); 3 the launcher could not be started;\n"
    "4 it was killed by a signal.\n";

enum { OPT_LAUNCHER_ARG = 256, OPT_DRY_RUN };

static const struct option options[] = {
    {"np", required_argument, NULL, 'n'},
    {"launcher", required_argument, NULL, 'l'},
    {"launcher-arg", required_argument, NULL, OPT_LAUNCHER_ARG},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Run argv (searched on PATH), our standard output and error its own, and
 * wait for it. */
static int run_and_wait(char *const *argv)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return mpimap_cli_fail("world", "%s", mpimap_strerror(MPIMAP_ENOMEM));
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    fflush(NULL);
    pid_t pid;
    int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) {
        mpimap_cli_fail("world", "cannot start %s: %s", argv[0], strerror(e));
        return MPIMAP_CLI_LAUNCH;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            mpimap_cli_fail("world", "waiting for %s: %s", argv[0], strerror(errno));
            return MPIMAP_CLI_FAILURE;
        }
    }
    if (WIFEXITED(status)) {
        if (WEXITSTATUS(status) == 0)
            return MPIMAP_CLI_OK;
        /* Some posix_spawn implementations (and glibc's under valgrind,
         * whose vfork-style child shares no memory) report a failed exec as
         * exit status 127 instead of an error. */
        if (WEXITSTATUS(status) == 127 && strchr(argv[0], '/') && access(argv[0], X_OK) != 0) {
            mpimap_cli_fail("world", "cannot start %s: %s", argv[0], strerror(errno));
            return MPIMAP_CLI_LAUNCH;
        }
        return mpimap_cli_fail("world", "%s exited with status %d", argv[0],
                               WEXITSTATUS(status));
    }
    mpimap_cli_fail("world", "%s was killed by signal %d (%s)", argv[0], WTERMSIG(status),
                    strsignal(WTERMSIG(status)));
    return MPIMAP_CLI_DIED;
}

/* The launcher's command for np ranks of world into *argv. */
static int render(const struct mpimap_plugin *pl, int np, const char *world,
                  const mpimap_strv *largs, mpimap_strv *argv)
{
    const struct mpimap_launcher_ops *ops = pl->ops;
    if (!(ops->flags & MPIMAP_LAUNCHER_DIRECT))
        return mpimap_strv_push(argv, world) < 0
                   ? mpimap_cli_fail("world", "%s", mpimap_strerror(MPIMAP_ENOMEM))
                   : MPIMAP_CLI_OK;

    char *cwd = getcwd(NULL, 0);
    mpimap_strv env = {0};
    const char *ld = getenv("LD_LIBRARY_PATH");
    if (ld && mpimap_strv_pushf(&env, "LD_LIBRARY_PATH=%s", ld) < 0) {
        free(cwd);
        return mpimap_cli_fail("world", "%s", mpimap_strerror(MPIMAP_ENOMEM));
    }
    const char *const none[] = {NULL};
    const char *const wargv[] = {world, NULL};
    struct mpimap_launch_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.size = (uint32_t)sizeof spec;
    spec.np = np;
    spec.slots = cpu_count();
    spec.jobdir = cwd ? cwd : "/";
    spec.worker_argv = wargv;
    spec.env = env.v ? (const char *const *)env.v : none;
    spec.launcher_args = largs->v ? (const char *const *)largs->v : none;
    char *error = NULL;
    int rc = ops->render(&spec, argv, &error);
    if (rc < 0) {
        if (rc == MPIMAP_EINVAL) {
            mpimap_cli_fail("world", "%s", error ? error : mpimap_strerror(rc));
            rc = MPIMAP_CLI_USAGE;
        } else {
            rc = mpimap_cli_fail("world", "launcher %s: %s", pl->name,
                                 error ? error : mpimap_strerror(rc));
        }
    } else if (argv->n == 0) {
        rc = mpimap_cli_fail("world", "launcher %s rendered no command", pl->name);
    }
    free(error);
    free(cwd);
    mpimap_strv_free(&env);
    return rc;
}

/* Find the launcher (named, or the best here) and check it can start
 * mpimap-world. Returns an exit status, or -1 to go on. */
static int pick(mpimap_registry *reg, const char *name, const struct mpimap_plugin **pl)
{
    char *error = NULL;
    int rc = name ? mpimap_registry_find(reg, MPIMAP_KIND_LAUNCHER, name, pl, &error)
                  : mpimap_registry_best(reg, MPIMAP_KIND_LAUNCHER, pl, &error);
    if (rc < 0) {
        mpimap_cli_fail("world", "%s", error ? error : mpimap_strerror(rc));
        free(error);
        return rc == MPIMAP_ENOTFOUND && name ? MPIMAP_CLI_USAGE : MPIMAP_CLI_FAILURE;
    }
    const struct mpimap_launcher_ops *ops = (*pl)->ops;
    if (ops->flags & MPIMAP_LAUNCHER_BATCH) {
        mpimap_cli_fail("world", "launcher %s is a scheduler: not supported yet",
                        (*pl)->name);
        return MPIMAP_CLI_USAGE;
    }
    if (ops->size < offsetof(struct mpimap_launcher_ops, render) + sizeof ops->render ||
        ((ops->flags & MPIMAP_LAUNCHER_DIRECT) && !ops->render))
        return mpimap_cli_fail("world", "launcher %s has no render()", (*pl)->name);
    if (!(ops->flags & (MPIMAP_LAUNCHER_DIRECT | MPIMAP_LAUNCHER_INPROCESS))) {
        mpimap_cli_fail("world", "launcher %s cannot start a program (flags 0x%x)",
                        (*pl)->name, (unsigned)ops->flags);
        return MPIMAP_CLI_USAGE;
    }
    return -1;
}

int mpimap_cli_cmd_world(int argc, char **argv)
{
    int np = 0, dry_run = 0, rc = MPIMAP_CLI_OK;
    const char *launcher = NULL;
    mpimap_strv largs = {0}, cmd = {0};
    mpimap_registry *reg = NULL;

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":n:l:h", options, NULL)) != -1) {
        switch (c) {
        case 'n': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end || errno || v < 1 || v > 1000000) {
                rc = mpimap_cli_usage_error(
                    "world", world_usage, "--np: '%s' is not a whole number from 1 to 1000000",
                    optarg);
                goto out;
            }
            np = (int)v;
            break;
        }
        case 'l': launcher = optarg; break;
        case OPT_LAUNCHER_ARG:
            if (mpimap_strv_push(&largs, optarg) < 0) {
                rc = mpimap_cli_fail("world", "%s", mpimap_strerror(MPIMAP_ENOMEM));
                goto out;
            }
            break;
        case OPT_DRY_RUN: dry_run = 1; break;
        case 'h': fputs(world_usage, stdout); goto out;
        case ':':
            if (optopt > 0 && optopt < 256 && argv[optind - 1][1] != '-')
                rc = mpimap_cli_usage_error("world", world_usage,
                                            "option '-%c' needs a value", optopt);
            else
                rc = mpimap_cli_usage_error("world", world_usage,
                                            "option '%s' needs a value", argv[optind - 1]);
            goto out;
        default:
            if (optopt > 0 && optopt < 256)
                rc = mpimap_cli_usage_error("world", world_usage, "unknown option '-%c'",
                                            optopt);
            else
                rc = mpimap_cli_usage_error("world", world_usage, "unknown option '%s'",
                                            argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        rc = mpimap_cli_usage_error("world", world_usage, "unexpected argument '%s'",
                                    argv[optind]);
        goto out;
    }

    const char *env_world = getenv("MPIMAP_WORLD");
    const char *world = env_world && *env_world ? env_world : MPIMAP_LIBEXECDIR "/mpimap-world";

    int r = mpimap_registry_open(&reg);
    if (r < 0) {
        rc = mpimap_cli_fail("world", "cannot search for plugins: %s", mpimap_strerror(r));
        goto out;
    }
    const struct mpimap_plugin *pl = NULL;
    if ((rc = pick(reg, launcher, &pl)) >= 0)
        goto out;
    const struct mpimap_launcher_ops *ops = pl->ops;
    if (!(ops->flags & MPIMAP_LAUNCHER_DIRECT) && np > 1) {
        rc = mpimap_cli_usage_error("world", world_usage,
                                    "launcher %s runs one rank, not %d", pl->name, np);
        goto out;
    }
    if (np == 0)
        np = ops->flags & MPIMAP_LAUNCHER_DIRECT ? cpu_count() : 1;
    if ((rc = render(pl, np, world, &largs, &cmd)) != MPIMAP_CLI_OK)
        goto out;

    if (dry_run) {
        char *text = mpimap_shell_join((const char *const *)cmd.v);
        if (!text) {
            rc = mpimap_cli_fail("world", "%s", mpimap_strerror(MPIMAP_ENOMEM));
            goto out;
        }
        printf("%s\n", text);
        free(text);
        goto out;
    }
    rc = run_and_wait(cmd.v);
out:
    mpimap_registry_close(reg);
    mpimap_strv_free(&largs);
    mpimap_strv_free(&cmd);
    return rc;
}
