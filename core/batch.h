/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * batch.h - run a batch launcher's scheduler commands (internal): submit,
 * query and cancel a job with the commands the plugin renders, and give
 * their output back to the plugin's parsers.
 */
#ifndef MPIMAP_CORE_BATCH_H
#define MPIMAP_CORE_BATCH_H

#include <mpimap/launcher.h>
#include <mpimap/plugin.h>

/* Run argv (no shell) with standard input from stdin_path (NULL =
 * /dev/null), and capture its standard output and error (NUL-terminated,
 * malloc'd; each kept to its last MiB). Returns 0 with *exit_status (a
 * wait status), or a negative code when it could not be started. */
int mpimap_run_capture(const char *const *argv, const char *stdin_path, char **out,
                       char **err, int *exit_status);

/* Submit the script at script_path; *jobid (malloc'd) on success. */
int mpimap_batch_submit(const struct mpimap_plugin *launcher,
                        const struct mpimap_launch_spec *spec, const char *script_path,
                        char **jobid, char **error);

/* Ask the scheduler for the job's state (enum mpimap_job_state) and, when
 * end is not NULL, the time (seconds since the epoch) it will kill the
 * job at its walltime: 0 when the plugin (ABI 1.2's parse_end_time) or
 * the scheduler does not say. */
int mpimap_batch_state(const struct mpimap_plugin *launcher, const char *jobid,
                       int *state, char **detail, int64_t *end, char **error);

/* Ask the scheduler to cancel the job. */
int mpimap_batch_cancel(const struct mpimap_plugin *launcher, const char *jobid,
                        char **error);

/* "queued", "running", ... for enum mpimap_job_state. */
const char *mpimap_job_state_name(int state);

#endif /* MPIMAP_CORE_BATCH_H */
