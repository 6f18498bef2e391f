/* SPDX-License-Identifier: BSD-3-Clause */
/* cmd_run.c - `mpimap run`: map a command or a function over a work list
 * across MPI ranks, with no MPI code written by the user. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>

#include "commands.h"
#include "driver.h"

static const char usage[] =
    "usage: mpimap run [OPTIONS] -- COMMAND [ARG...]\n"
    "       mpimap run [OPTIONS] --function LIB.so:SYMBOL\n"
    "\n"
    "Run COMMAND (or a function) once per work item, across MPI ranks, and\n"
    "write the results in input order. Work items are read from standard\n"
    "input (or --input), one per line by default.\n"
    "\n"
    "In COMMAND's arguments {} stands for the item, and with --colsep {1} {2} ...\n"
    "for its fields; without any placeholder the item is added as the last\n"
    "argument. No shell is involved unless --shell is given. An item's result\n"
    "is the command's standard output (one trailing newline dropped in line\n"
    "mode); a non-zero exit marks the item failed.\n"
    "\n"
    "Handlers:\n"
    "  -f, --function LIB:SYM   call SYM(item, result, arg) from the shared object LIB\n"
    "                           (see <mpimap/mpimap.h>) instead of a command\n"
    "      --function-init SYM  call SYM(&arg) once per rank first\n"
    "      --shell              run COMMAND as one /bin/sh script, the item as $1\n"
    "                           (with --colsep, the fields as $1 $2 ...)\n"
    "      --colsep SEP         split each item at the string SEP into {1} {2} ...\n"
    "Work:\n"
    "  -n, --np N               number of ranks (default: the CPUs here)\n"
    "  -s, --strategy NAME      how items are dealt: pool (default), scatter, ...\n"
    "      --chunk K            items per deal (default: automatic)\n"
    "  -l, --launcher NAME      how the job starts: mpirun, serial, ... (default: the\n"
    "                           best found here; `mpimap plugins` lists them)\n"
    "      --launcher-arg ARG   pass ARG to the launcher (repeatable)\n"
    "      --hostfile FILE      hosts for launchers that take a host file\n"
    "Input and output:\n"
    "  -i, --input FILE         read items from FILE (default: standard input)\n"
    "  -o, --output FILE        write results to FILE (default: standard output);\n"
    "                           written under a temporary name, renamed when done\n"
    "  -0, --null               items and results end with NUL, not newline\n"
    "      --binary             items and results are binary records: a little-endian\n"
    "                           64-bit length, then that many bytes\n"
    "      --unordered          write results as they complete, each prefixed by its\n"
    "                           item index: \"INDEX<TAB>RESULT\" (line, NUL) or\n"
    "                           le64 index + record (binary)\n"
    "      --joblog FILE        a tab-separated line per item: index, rank, start,\n"
    "                           duration, status, reason\n"
    "      --workdir DIR        where the job directory is made (default: $TMPDIR)\n"
    "Control:\n"
    "      --dry-run            print the command that would start the job; start nothing\n"
    "  -v, --verbose            say what is started, and a summary at the end\n"
    "  -q, --quiet              no progress line and no failure summary\n"
    "  -h, --help               this help\n"
    "\n"
    "A progress line is shown on standard error when it is a terminal.\n"
    "A failed item keeps its place: its output record is empty.\n"
    "\n"
    "Exit status: 0 every item succeeded; 1 some items failed (all other results\n"
    "are written; the failures are listed on standard error); 2 usage error;\n"
    "3 the job could not be set up or started; 4 the job died or was cancelled\n"
    "before the end (the results finished so far are kept in the job directory).\n"
    "\n"
    "Examples:\n"
    "  seq 100 | mpimap run -n 4 -- echo 'item {}'\n"
    "  mpimap run -n 8 -i files.txt -o sums.txt -- sha256sum {}\n"
    "  mpimap run -n 2 -i numbers.txt --function ./libsquare.so:square\n";

enum {
    OPT_CHUNK = 256, OPT_LAUNCHER_ARG, OPT_HOSTFILE, OPT_FUNCTION_INIT, OPT_SHELL,
    OPT_COLSEP, OPT_BINARY, OPT_UNORDERED, OPT_JOBLOG, OPT_WORKDIR, OPT_DRY_RUN
};

static const struct option options[] = {
    {"function", required_argument, NULL, 'f'},
    {"function-init", required_argument, NULL, OPT_FUNCTION_INIT},
    {"shell", no_argument, NULL, OPT_SHELL},
    {"colsep", required_argument, NULL, OPT_COLSEP},
    {"np", required_argument, NULL, 'n'},
    {"strategy", required_argument, NULL, 's'},
    {"chunk", required_argument, NULL, OPT_CHUNK},
    {"launcher", required_argument, NULL, 'l'},
    {"launcher-arg", required_argument, NULL, OPT_LAUNCHER_ARG},
    {"hostfile", required_argument, NULL, OPT_HOSTFILE},
    {"input", required_argument, NULL, 'i'},
    {"output", required_argument, NULL, 'o'},
    {"null", no_argument, NULL, '0'},
    {"binary", no_argument, NULL, OPT_BINARY},
    {"unordered", no_argument, NULL, OPT_UNORDERED},
    {"joblog", required_argument, NULL, OPT_JOBLOG},
    {"workdir", required_argument, NULL, OPT_WORKDIR},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int parse_count(const char *opt, const char *s, unsigned long long max,
                       unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || v < 1 || v > max || s[0] == '-')
        return mpimap_cli_usage_error("run", usage, "%s: '%s' is not a whole number from 1 to %llu",
                                      opt, s, max);
    *out = v;
    return 0;
}

/* "mpimap: 1234/10000 items, 456/s, ETA 0:19, 2 failed" */
static void progress_line(mpimap_job *job, double t0, int *shown)
{
    uint64_t done, failed, total;
    if (mpimap_ezmap_progress(job, &done, &failed, &total) != 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double el = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 - t0;
    double rate = el > 0 ? (double)done / el : 0;
    char eta[32] = "";
    if (total && rate > 0 && done < total) {
        long s = (long)((double)(total - done) / rate + 0.5);
        snprintf(eta, sizeof eta, ", ETA %ld:%02ld", s / 60, s % 60);
    }
    char of[32] = "";
    if (total)
        snprintf(of, sizeof of, "/%" PRIu64, total);
    fprintf(stderr, "\r\033[Kmpimap: %" PRIu64 "%s items, %.0f/s%s", done, of, rate, eta);
    if (failed)
        fprintf(stderr, ", %" PRIu64 " failed", failed);
    fflush(stderr);
    *shown = 1;
}

/* Wait for the job, drawing the progress line; Ctrl-C and SIGTERM stop the
 * job and keep what is done. */
static int wait_job(mpimap_job *job, int show_progress)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, &old);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double t0 = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    int shown = 0, rc;
    while ((rc = mpimap_ezmap_poll(job)) == MPIMAP_EBUSY) {
        struct timespec tick = {0, 250 * 1000 * 1000};
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            if (shown)
                fputs("\r\033[K", stderr);
            fprintf(stderr, "mpimap: %s: stopping the job...\n",
                    sig == SIGINT ? "interrupted" : "terminated");
            mpimap_ezmap_cancel(job);
            rc = mpimap_ezmap_poll(job);
            break;
        }
        if (show_progress)
            progress_line(job, t0, &shown);
    }
    if (shown)
        fputs("\r\033[K", stderr);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static void summary(mpimap_job *job, int rc, int verbose)
{
    uint64_t items, failed;
    mpimap_job_counts(job, &items, &failed);
    if (rc == MPIMAP_EITEMS) {
        fprintf(stderr, "mpimap: %" PRIu64 " of %" PRIu64 " items failed:\n", failed, items);
        size_t n = mpimap_job_nfailures(job);
        for (size_t i = 0; i < n && i < 10; i++) {
            uint64_t idx;
            int rank;
            const char *why;
            mpimap_job_failure(job, i, &idx, &rank, &why);
            fprintf(stderr, "  item %" PRIu64 " (rank %d): %s\n", idx, rank, why);
        }
        if (failed > 10)
            fprintf(stderr, "  ... and %" PRIu64 " more (--joblog lists every item)\n",
                    failed - 10);
    } else if (verbose && rc == 0) {
        fprintf(stderr, "mpimap: %" PRIu64 " items, all succeeded\n", items);
    }
}

int mpimap_cli_cmd_run(int argc, char **argv)
{
    mpimap_ezmap_options o;
    memset(&o, 0, sizeof o);
    o.input = "-";
    struct mpimap_driver_extra x = {0, STDOUT_FILENO};
    mpimap_strv largs = {0};
    int verbose = 0, quiet = 0, c, rc = MPIMAP_CLI_OK;
    unsigned long long num;
    const char *output = NULL;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+f:n:s:l:i:o:0vqh", options, NULL)) != -1) {
        switch (c) {
        case 'f': o.function = optarg; break;
        case OPT_FUNCTION_INIT: o.function_init = optarg; break;
        case OPT_SHELL: o.shell = 1; break;
        case OPT_COLSEP:
            if (!*optarg) {
                rc = mpimap_cli_usage_error("run", usage, "--colsep: the separator is empty");
                goto out;
            }
            o.colsep = optarg;
            break;
        case 'n':
            if ((rc = parse_count("--np", optarg, 1000000, &num)) != 0)
                goto out;
            o.np = (int)num;
            break;
        case 's': o.strategy = optarg; break;
        case OPT_CHUNK:
            if ((rc = parse_count("--chunk", optarg, (unsigned long long)1 << 40, &num)) != 0)
                goto out;
            o.chunk = (size_t)num;
            break;
        case 'l': o.launcher = optarg; break;
        case OPT_LAUNCHER_ARG:
            if (mpimap_strv_push(&largs, optarg) < 0) {
                rc = mpimap_cli_fail("run", "out of memory");
                goto out;
            }
            break;
        case OPT_HOSTFILE: o.hostfile = optarg; break;
        case 'i': o.input = optarg; break;
        case 'o': output = optarg; break;
        case '0': o.framing = MPIMAP_FRAME_NUL; break;
        case OPT_BINARY: o.framing = MPIMAP_FRAME_BINARY; break;
        case OPT_UNORDERED: o.unordered = 1; break;
        case OPT_JOBLOG: o.joblog = optarg; break;
        case OPT_WORKDIR: o.workdir = optarg; break;
        case OPT_DRY_RUN: x.dry_run = 1; break;
        case 'v': verbose = 1; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(usage, stdout); goto out;
        case ':':
            rc = mpimap_cli_usage_error("run", usage, "option '%s' needs a value", argv[optind - 1]);
            goto out;
        default:
            if (optopt)
                rc = mpimap_cli_usage_error("run", usage, "unknown option '-%c'", optopt);
            else
                rc = mpimap_cli_usage_error("run", usage, "unknown option '%s'", argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc)
        o.command = (const char *const *)(argv + optind);
    if (!o.function && !o.command) {
        rc = mpimap_cli_usage_error("run", usage,
                                    "nothing to run: give a COMMAND after -- or --function LIB:SYMBOL");
        goto out;
    }
    if (o.function && o.command) {
        rc = mpimap_cli_usage_error("run", usage, "give --function or a COMMAND, not both");
        goto out;
    }
    if (o.shell && (!o.command || o.command[1])) {
        rc = mpimap_cli_usage_error("run", usage,
                                    "--shell takes exactly one script after -- (the item is $1)");
        goto out;
    }
    if (output && strcmp(output, "-") != 0) {
        o.output = output;
        x.output_fd = -1;
    }
    if (largs.n)
        o.launcher_args = (const char *const *)largs.v;
    int tty = isatty(STDERR_FILENO);
    o.progress = tty && !quiet;

    mpimap_job *job = NULL;
    int r = mpimap_driver_start(&o, &x, NULL, 0, &job);
    if (r < 0) {
        rc = mpimap_cli_fail("run", "%s", mpimap_job_error(job) ? mpimap_job_error(job)
                                                                : mpimap_strerror(r));
        rc = r == MPIMAP_EINVAL && !mpimap_job_dir(job) ? MPIMAP_CLI_USAGE : MPIMAP_CLI_LAUNCH;
        mpimap_ezmap_free(job);
        goto out;
    }
    if (x.dry_run) {
        printf("%s\n", mpimap_job_command(job));
        if (!quiet)
            fprintf(stderr, "mpimap: dry run (launcher %s): nothing started; job directory "
                            "kept: %s\n",
                    mpimap_job_launcher(job), mpimap_job_dir(job));
        mpimap_ezmap_free(job);
        goto out;
    }
    if (verbose)
        fprintf(stderr, "mpimap: launcher %s: %s\nmpimap: job directory %s\n",
                mpimap_job_launcher(job), mpimap_job_command(job), mpimap_job_dir(job));
    r = wait_job(job, o.progress);
    if (r == 0 || r == MPIMAP_EITEMS) {
        if (!quiet)
            summary(job, r, verbose);
        rc = r == 0 ? MPIMAP_CLI_OK : MPIMAP_CLI_FAILURE;
    } else {
        mpimap_cli_fail("run", "%s", mpimap_job_error(job) ? mpimap_job_error(job)
                                                           : mpimap_strerror(r));
        rc = r == MPIMAP_ECRASH || r == MPIMAP_ECANCELED ? MPIMAP_CLI_DIED : MPIMAP_CLI_LAUNCH;
    }
    mpimap_ezmap_free(job);
out:
    mpimap_strv_free(&largs);
    return rc;
}
