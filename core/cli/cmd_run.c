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
#include "report.h"
#include "resources.h"

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
    "\n";

/* The rest of --help (one string literal may not exceed 4095 bytes). */
static const char usage_options[] =
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
    "Resources and schedulers (for launchers that take them):\n"
    "      --nodes N|N:ppn=P[:cpp=C]  nodes (or pyina's node string)\n"
    "      --ppn P              ranks per node\n"
    "      --cpus-per-rank C    CPUs for each rank\n"
    "      --walltime T         [[H:]M:]S or D-H:M:S\n"
    "      --queue Q            queue or partition\n"
    "      --qos Q, --account A, --job-name NAME, --reservation R, --mem M (per node)\n"
    "      --export VAR[=VALUE] export to the job (repeatable)\n"
    "      --sched-arg ARG      pass ARG to the scheduler as a directive (repeatable)\n"
    "      --via NAME           the launcher inside a scheduler's job (default: srun\n"
    "                           for slurm, mpirun for the others)\n"
    "      --detach             submit, print the job directory, and return; finish\n"
    "                           with `mpimap status DIR` and `mpimap collect DIR`\n"
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
    "      --report             after the map, a table on standard error: items, busy\n"
    "                           and idle time per rank, load-balance efficiency (sum of\n"
    "                           item times / (ranks x makespan)), dispatch overhead\n"
    "                           and imbalance, the 5 slowest items\n"
    "      --report-json FILE   the same as a JSON object in FILE\n"
    "  -h, --help               this help\n"
    "\n"
    "A progress line is shown on standard error when it is a terminal.\n"
    "A failed item keeps its place: its output record is empty.\n"
    "\n"
    "Exit status: 0 every item succeeded; 1 some items failed (all other results\n"
    "are written; the failures are listed on standard error), or the report could\n"
    "not be written; 2 usage error;\n"
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

enum { OPT_REPORT = 512, OPT_REPORT_JSON };
enum {
    OPT_NODES = 768, OPT_PPN, OPT_CPR, OPT_WALLTIME, OPT_QUEUE, OPT_QOS, OPT_ACCOUNT,
    OPT_JOB_NAME, OPT_RESERVATION, OPT_MEM, OPT_EXPORT, OPT_SCHED_ARG, OPT_VIA, OPT_DETACH
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
    {"report", no_argument, NULL, OPT_REPORT},
    {"nodes", required_argument, NULL, OPT_NODES},
    {"ppn", required_argument, NULL, OPT_PPN},
    {"cpus-per-rank", required_argument, NULL, OPT_CPR},
    {"walltime", required_argument, NULL, OPT_WALLTIME},
    {"queue", required_argument, NULL, OPT_QUEUE},
    {"qos", required_argument, NULL, OPT_QOS},
    {"account", required_argument, NULL, OPT_ACCOUNT},
    {"job-name", required_argument, NULL, OPT_JOB_NAME},
    {"reservation", required_argument, NULL, OPT_RESERVATION},
    {"mem", required_argument, NULL, OPT_MEM},
    {"export", required_argument, NULL, OPT_EXPORT},
    {"sched-arg", required_argument, NULL, OPT_SCHED_ARG},
    {"via", required_argument, NULL, OPT_VIA},
    {"detach", no_argument, NULL, OPT_DETACH},
    {"report-json", required_argument, NULL, OPT_REPORT_JSON},
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

/* --report and --report-json FILE: the map report the job left. Returns
 * MPIMAP_CLI_FAILURE when it cannot be read or written, else rc. */
static int show_report(mpimap_job *job, int table, const char *json, int rc)
{
    mpimap_report rep;
    int r = mpimap_job_report(job, &rep);
    if (r < 0) {
        mpimap_report_free(&rep);
        return mpimap_cli_fail("run", "no report in %s: %s", mpimap_job_dir(job),
                               mpimap_strerror(r));
    }
    if (table)
        mpimap_report_print(stderr, &rep);
    if (json && (r = mpimap_report_json_file(&rep, json)) < 0)
        rc = mpimap_cli_fail("run", "cannot write the report to '%s': %s", json,
                             r == MPIMAP_EIO ? strerror(errno) : mpimap_strerror(r));
    mpimap_report_free(&rep);
    return rc;
}

int mpimap_cli_cmd_run(int argc, char **argv)
{
    mpimap_ezmap_options o;
    memset(&o, 0, sizeof o);
    o.input = "-";
    struct mpimap_driver_extra x = {0, STDOUT_FILENO, 0};
    mpimap_strv largs = {0}, exports = {0}, sched_args = {0};
    char *error = NULL;
    int verbose = 0, quiet = 0, c, rc = MPIMAP_CLI_OK;
    unsigned long long num;
    int report = 0;
    const char *report_json = NULL;
    const char *output = NULL;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+:f:n:s:l:i:o:0vqh", options, NULL)) != -1) {
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
        case OPT_REPORT: report = 1; break;
        case OPT_REPORT_JSON: report_json = optarg; break;
        case 'v': verbose = 1; break;
        case 'q': quiet = 1; break;
        case OPT_NODES:
            if (mpimap_parse_nodestring(optarg, &o.nodes, &o.ppn, &o.cpus_per_rank, &error) < 0) {
                rc = mpimap_cli_usage_error("run", usage, "--nodes: %s", error);
                goto out;
            }
            break;
        case OPT_PPN:
        case OPT_CPR:
            if ((rc = parse_count(c == OPT_PPN ? "--ppn" : "--cpus-per-rank", optarg, 1000000,
                                  &num)) != 0)
                goto out;
            *(c == OPT_PPN ? &o.ppn : &o.cpus_per_rank) = (int)num;
            break;
        case OPT_WALLTIME:
            if (mpimap_parse_walltime(optarg, &o.walltime, &error) < 0) {
                rc = mpimap_cli_usage_error("run", usage, "--walltime: %s", error);
                goto out;
            }
            break;
        case OPT_QUEUE: o.queue = optarg; break;
        case OPT_QOS: o.qos = optarg; break;
        case OPT_ACCOUNT: o.account = optarg; break;
        case OPT_JOB_NAME: o.job_name = optarg; break;
        case OPT_RESERVATION: o.reservation = optarg; break;
        case OPT_MEM: o.mem = optarg; break;
        case OPT_EXPORT:
        case OPT_SCHED_ARG:
            if (mpimap_strv_push(c == OPT_EXPORT ? &exports : &sched_args, optarg) < 0) {
                rc = mpimap_cli_fail("run", "out of memory");
                goto out;
            }
            break;
        case OPT_VIA: o.via = optarg; break;
        case OPT_DETACH: x.detach = 1; break;
        case 'h':
            fputs(usage, stdout);
            fputs(usage_options, stdout);
            goto out;
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
    if (exports.n)
        o.exports = (const char *const *)exports.v;
    if (sched_args.n)
        o.sched_args = (const char *const *)sched_args.v;
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
    if (mpimap_job_id(job) && (!quiet || x.detach))
        fprintf(stderr, "mpimap: submitted %s job %s; job directory %s\n",
                mpimap_job_launcher(job), mpimap_job_id(job), mpimap_job_dir(job));
    if (x.detach) {
        printf("%s\n", mpimap_job_dir(job)); /* for scripts: DIR=$(mpimap run --detach ...) */
        fprintf(stderr, "mpimap: detached; `mpimap status %s` tells how it goes and "
                        "`mpimap collect %s` writes the results\n",
                mpimap_job_dir(job), mpimap_job_dir(job));
        mpimap_job_detach(job);
        mpimap_ezmap_free(job);
        goto out;
    }
    if (verbose)
        fprintf(stderr, "mpimap: launcher %s: %s\nmpimap: job directory %s\n",
                mpimap_job_launcher(job), mpimap_job_command(job), mpimap_job_dir(job));
    r = mpimap_cli_wait(job, o.progress);
    if (r == 0 || r == MPIMAP_EITEMS) {
        if (!quiet)
            mpimap_cli_summary(job, r, verbose);
        rc = r == 0 ? MPIMAP_CLI_OK : MPIMAP_CLI_FAILURE;
        if (report || report_json)
            rc = show_report(job, report, report_json, rc);
    } else {
        mpimap_cli_fail("run", "%s", mpimap_job_error(job) ? mpimap_job_error(job)
                                                           : mpimap_strerror(r));
        rc = r == MPIMAP_ECRASH || r == MPIMAP_ECANCELED ? MPIMAP_CLI_DIED : MPIMAP_CLI_LAUNCH;
    }
    mpimap_ezmap_free(job);
out:
    free(error);
    mpimap_strv_free(&exports);
    mpimap_strv_free(&sched_args);
    mpimap_strv_free(&largs);
    return rc;
}
