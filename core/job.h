/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * job.h - run the map a job directory describes, on every rank (internal).
 *
 * A job directory (made by the driver) holds:
 *   spec        the job spec (jobspec.h), written by the driver
 *   progress    present when the driver wants progress: the root rewrites
 *               it about four times a second as "done failed total elapsed\n"
 *               (total is 0 when unknown)
 *   status      written by the root when the map has ended:
 *                   items N
 *                   failed F
 *                   failure INDEX RANK REASON     (at most 100 such lines)
 *   report      written by the root when the map has ended (also when items
 *               failed), before status: items, busy time and span per rank,
 *               the slowest items (format and figures: report.h)
 *   crash.R     "rank R (pid P on HOST) died of signal ..." if rank R died
 * Results go where the spec's output names (the driver points it inside
 * the job directory and moves it into place after success).
 */
#ifndef MPIMAP_CORE_JOB_H
#define MPIMAP_CORE_JOB_H

#include <mpi.h>

/* Run the job whose spec is at spec_path (its directory is the job
 * directory). comm is the job's communicator, or MPI_COMM_NULL to run it
 * in this process without MPI (the serial launcher). Returns 0 when every
 * item succeeded, MPIMAP_EITEMS when some failed (results and status are
 * written either way), or another negative code, with the message already
 * on standard error. */
int mpimap_job_run(const char *spec_path, MPI_Comm comm);

#endif /* MPIMAP_CORE_JOB_H */
