/* SPDX-License-Identifier: BSD-3-Clause */
/* cmd_status.c - `mpimap status JOBDIR`: how a job submitted to a scheduler
 * (with --detach, or from another shell) is doing. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <mpimap/mpimap.h>

#include "batch.h"
#include "commands.h"
#include "driver.h"

static const char usage[] =
    "usage: mpimap status JOBDIR\n"
    "\n"
    "Ask the scheduler how the job in JOBDIR (a job directory printed by\n"
    "`mpimap run --launcher SCHEDULER`, for example with --detach) is doing:\n"
    "queued, running, done, failed, cancelled or killed at its walltime, with\n"
    "the items done so far. Nothing is changed; `mpimap collect JOBDIR` writes\n"
    "the results.\n"
    "\n"
    "Exit status: 0 the state was read; 3 JOBDIR is not a scheduler's job\n"
    "directory or the scheduler could not be asked; 2 usage error.\n";

int mpimap_cli_cmd_status(int argc, char **argv)
{
    if (argc == 2 && mpimap_cli_is_help(argv[1])) {
        fputs(usage, stdout);
        return MPIMAP_CLI_OK;
    }
    if (argc != 2 || argv[1][0] == '-')
        return mpimap_cli_usage_error("status", usage,
                                      argc < 2 ? "give a job directory"
                                               : argc > 2 ? "give one job directory"
                                                          : "unknown option '%s'",
                                      argv[argc > 1 ? 1 : 0]);
    mpimap_job *job = NULL;
    int rc = mpimap_job_open(argv[1], NULL, NULL, 1, &job);
    int state = 0;
    const char *detail = NULL;
    if (rc == 0)
        rc = mpimap_job_state(job, &state, &detail);
    if (rc < 0) {
        mpimap_cli_fail("status", "%s", mpimap_job_error(job) ? mpimap_job_error(job)
                                                              : mpimap_strerror(rc));
        mpimap_ezmap_free(job);
        return MPIMAP_CLI_LAUNCH;
    }
    printf("%s job %s: %s", mpimap_job_launcher(job), mpimap_job_id(job),
           mpimap_job_state_name(state));
    if (detail)
        printf(" (%s)", detail);
    putchar('\n');
    uint64_t done, failed, total;
    if (mpimap_ezmap_progress(job, &done, &failed, &total) == 0) {
        printf("items: %" PRIu64, done);
        if (total)
            printf(" of %" PRIu64, total);
        printf(" done, %" PRIu64 " failed\n", failed);
    }
    printf("job directory: %s\n", mpimap_job_dir(job));
    mpimap_ezmap_free(job);
    return MPIMAP_CLI_OK;
}
