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
    int detach;     /* schedulers: return once submitted, leave the job be */
    /* Resume the job in this directory (the items without a result), the
     * failed items too with retry_failed; opts describe it as first run. */
    const char *resume_dir;
    int retry_failed;
    /* The command line, kept in the job directory (cmdline: the working
     * directory, then the arguments, each ending with NUL) for --resume. */
    const char *const *argv;
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
/* After the job (0 or MPIMAP_EITEMS): read the map report the root left in
 * the job directory into *report (report.h; free it with
 * mpimap_report_free() whatever is returned). 0 or a negative code. */
struct mpimap_report;
int mpimap_job_report(const mpimap_job *job, struct mpimap_report *report);

/* Schedulers: leave the job running (and its directory kept); its id; its
 * state now (enum mpimap_job_state) and the scheduler's detail. */
void mpimap_job_detach(mpimap_job *job);
const char *mpimap_job_id(const mpimap_job *job);
int mpimap_job_state(mpimap_job *job, int *state, const char **detail);
/* The state last seen while polling (0 for jobs not on a scheduler), and
 * the scheduler's detail; asks nothing. */
int mpimap_job_last_state(const mpimap_job *job, const char **detail);

/* A scheduler's job that is running: the time (seconds since the epoch)
 * the scheduler will kill it at its walltime, from the scheduler or else
 * from --walltime counted from when the job was first seen running; that
 * moment, and the items done then (for the rate of this run). 1 when
 * known, 0 otherwise. */
int mpimap_job_end_time(const mpimap_job *job, double *end, double *run_start,
                        uint64_t *done_at_start);

/* An item that has run for longer than max(floor, 10 x the median item
 * time): 1 and its details (*host malloc'd), else 0. */
int mpimap_job_straggler(const mpimap_job *job, double floor, uint64_t *index, int *rank,
                         char **host, double *seconds, double *median);

/* Take up a scheduler's job from its directory, as written when it was
 * submitted: for `mpimap status` (peek: never collect) and `mpimap collect`
 * (results to output, or to extra->output_fd). On failure *job may still be
 * set, with its message; free it. */
int mpimap_job_open(const char *dir, const struct mpimap_driver_extra *extra,
                    const char *output, int peek, mpimap_job **job);

#endif /* MPIMAP_CORE_DRIVER_H */
