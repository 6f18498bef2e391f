/* SPDX-License-Identifier: BSD-3-Clause */
/* cmd_collect.c - `mpimap collect JOBDIR`: wait for a job submitted to a
 * scheduler and write its results, as `mpimap run` would have. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mpimap/mpimap.h>

#include "commands.h"
#include "driver.h"

static const char usage[] =
    "usage: mpimap collect [-o FILE] [-q] JOBDIR\n"
    "\n"
    "Wait for the job in JOBDIR (submitted with `mpimap run --launcher\n"
    "SCHEDULER --detach`, or left by an interrupted run) to end, then write its\n"
    "results to standard output or FILE, in input order, and report failed\n"
    "items as `mpimap run` does. The job directory is removed once the results\n"
    "are written. Ctrl-C stops waiting and cancels the job.\n"
    "\n"
    "  -o, --output FILE   write the results to FILE (default: standard output)\n"
    "  -q, --quiet         no progress line and no failure summary\n"
    "  -h, --help          this help\n"
    "\n"
    "Exit status: as mpimap run: 0 every item succeeded; 1 some items failed;\n"
    "2 usage error; 3 JOBDIR is not a scheduler's job or the results could not\n"
    "be written; 4 the job died, was cancelled or was killed at its walltime.\n";

static const struct option options[] = {
    {"output", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int mpimap_cli_cmd_collect(int argc, char **argv)
{
    const char *output = NULL;
    int quiet = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+:o:qh", options, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(usage, stdout); return MPIMAP_CLI_OK;
        case ':':
            return mpimap_cli_usage_error("collect", usage, "option '%s' needs a value",
                                          argv[optind - 1]);
        default:
            return mpimap_cli_usage_error("collect", usage, "unknown option '%s'",
                                          argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return mpimap_cli_usage_error("collect", usage, "give one job directory");
    struct mpimap_driver_extra x = {.output_fd = STDOUT_FILENO};
    if (output && strcmp(output, "-") != 0)
        x.output_fd = -1;
    else
        output = NULL;
    mpimap_job *job = NULL;
    int r = mpimap_job_open(argv[optind], &x, output, 0, &job);
    if (r < 0) {
        mpimap_cli_fail("collect", "%s", mpimap_job_error(job) ? mpimap_job_error(job)
                                                               : mpimap_strerror(r));
        mpimap_ezmap_free(job);
        return MPIMAP_CLI_LAUNCH;
    }
    r = mpimap_cli_wait(job, !quiet && isatty(STDERR_FILENO), !quiet, quiet ? 0 : 60);
    int rc;
    if (r == 0 || r == MPIMAP_EITEMS) {
        if (!quiet)
            mpimap_cli_summary(job, r, 0);
        rc = r == 0 ? MPIMAP_CLI_OK : MPIMAP_CLI_FAILURE;
    } else {
        mpimap_cli_fail("collect", "%s", mpimap_job_error(job) ? mpimap_job_error(job)
                                                               : mpimap_strerror(r));
        rc = r == MPIMAP_ECRASH || r == MPIMAP_ECANCELED ? MPIMAP_CLI_DIED : MPIMAP_CLI_LAUNCH;
    }
    mpimap_ezmap_free(job);
    return rc;
}
