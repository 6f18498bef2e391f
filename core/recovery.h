/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recovery.h - what the driver does with a job directory between the end
 * of a job that did not finish and the next run of it (internal): blame
 * the items that were running on dead ranks, clear what the dead run left,
 * wait for a running job to let go of the directory, and find items that
 * have run for too long.
 */
#ifndef MPIMAP_CORE_RECOVERY_H
#define MPIMAP_CORE_RECOVERY_H

#include <stdint.h>

/* Journals in dir (journal.0 .. journal.N-1). */
int mpimap_recovery_journals(const char *dir);

/* Turn the crash reports (crash.R: "... while running item I") and
 * timeouts (timeout.R: "I SECONDS") the ranks left into journal entries
 * (died, or failed "timed out after S s"), in a new journal, and remove
 * them, with the streamed results of the dead run. *what (malloc'd, may
 * be NULL) says what happened, one report per line. Returns the number of
 * items blamed, or a negative code. */
int mpimap_recovery_blame(const char *dir, char **what);

/* Wait up to seconds for no process to hold dir/lock (a job that is still
 * stopping). 0 when free, MPIMAP_EBUSY when still held. */
int mpimap_recovery_wait_unlocked(const char *dir, double seconds);

/* An item that has run longer than max(floor, 10 x the median item time),
 * from the ranks' current.R files and the progress file; 1 when found
 * (host is malloc'd), else 0. */
int mpimap_recovery_straggler(const char *dir, double floor, uint64_t *index, int *rank,
                              char **host, double *seconds, double *median);

#endif /* MPIMAP_CORE_RECOVERY_H */
