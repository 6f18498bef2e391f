/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * watchdog.h - a thread per rank that watches the item being run
 * (internal). About once a second (more often with a short timeout) it
 *   - writes JOBDIR/current.R: "INDEX START HOST PID\n" (START in seconds
 *     since the epoch) while an item runs, "-\n" between items, for the
 *     driver's "item 7 has run 12 min" line and its account of a dead rank;
 *   - with a timeout, when the item has run longer: writes
 *     JOBDIR/timeout.R "INDEX SECONDS\n" and kills its own rank (SIGKILL),
 *     since a function cannot be stopped from outside; the driver marks
 *     the item timed out and restarts the job for the items left;
 *   - with a driver pid (direct launches): when that process is gone, ends
 *     the rank, so that a killed `mpimap run` does not leave its job
 *     running on (what is done is in the journal: --resume goes on).
 */
#ifndef MPIMAP_CORE_WATCHDOG_H
#define MPIMAP_CORE_WATCHDOG_H

#include <sys/types.h>

#include "engine.h"

typedef struct mpimap_watchdog mpimap_watchdog;

int mpimap_watchdog_start(mpimap_watchdog **w, const char *dir, int rank,
                          const mpimap_engine *e, double timeout, pid_t driver);
void mpimap_watchdog_stop(mpimap_watchdog *w);

#endif /* MPIMAP_CORE_WATCHDOG_H */
