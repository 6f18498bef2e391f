/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * driver.h - what `mpimap run` needs of the driver beyond the public
 * mpimap_ezmap_* calls (internal): a dry run, results copied to a file
 * descriptor, and the details of how the job went.
 */
#ifndef MPIMAP_CORE_DRIVER_H
#define MPIMAP_CORE_DRIVER_H

#include <stdint.h>

#include <mpimap/mpimap.h>

struct mpimap_driver_extra {
    int dry_run;    /* set everything up, render the command, start nothing */
    int output_fd;  /* >= 0: copy the results there (opts->output is NULL) */
};

/* mpimap_ezmap_start() with the extras. On failure *job may still be set
 * (with its message in mpimap_job_error()); free it. */
int mpimap_driver_start(const mpimap_ezmap_options *opts,
                        const struct mpimap_driver_extra *extra,
                        const mpimap_item *items, size_t nitems, mpimap_job **job);

/* The message for the user after a failure, or NULL. */
const char *mpimap_job_error(const mpimap_job *job);
/* The job directory (kept after a failure and a dry run). */
const char *mpimap_job_dir(const mpimap_job *job);
/* The command that starts the job, as shell text (NULL for in-process). */
const char *mpimap_job_command(const mpimap_job *job);
/* The launcher and strategy chosen. */
const char *mpimap_job_launcher(const mpimap_job *job);
/* After the job: items done and failed, and up to 100 failures listed. */
void mpimap_job_counts(const mpimap_job *job, uint64_t *items, uint64_t *failed);
size_t mpimap_job_nfailures(const mpimap_job *job);
void mpimap_job_failure(const mpimap_job *job, size_t i, uint64_t *index, int *rank,
                        const char **reason);

#endif /* MPIMAP_CORE_DRIVER_H */
