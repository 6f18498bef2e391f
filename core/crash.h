/* SPDX-License-Identifier: BSD-3-Clause */
/* crash.h - report which item a rank was running when it died (internal). */
#ifndef MPIMAP_CORE_CRASH_H
#define MPIMAP_CORE_CRASH_H

#include <stdint.h>
#include <sys/types.h>

/* From now on, when this process dies of SIGSEGV, SIGBUS, SIGFPE, SIGILL or
 * SIGABRT, write "rank R (pid P on HOST) died of signal N (NAME) while
 * running item I" to standard error and to JOBDIR/crash.R, then die of the
 * same signal. *current is the index of the item being run (UINT64_MAX for
 * none). jobdir may be NULL (standard error only). */
int mpimap_crash_arm(const char *jobdir, int rank, const volatile uint64_t *current);

/* Restore the signal dispositions mpimap_crash_arm() replaced. */
void mpimap_crash_disarm(void);

/* The process group of the command this rank runs now (0: none). While
 * armed, a rank that dies, or is stopped by SIGTERM, SIGINT or SIGHUP (those
 * still at their default action when armed), first kills that group, so
 * that no command outlives its job. */
void mpimap_crash_child(pid_t pgid);

/* Call before starting a command, then mpimap_crash_child() with its group
 * (or 0 when none was started) in any case: a rank stopped in between
 * waits for it, then kills the group. Returns non-zero when the rank is
 * already stopping (start nothing; still call mpimap_crash_child(0)). */
int mpimap_crash_spawning(void);

/* Non-zero once this rank is dying: a command started after
 * mpimap_crash_child() must then be killed by its starter (the signal may
 * have been handled on another thread just before). */
int mpimap_crash_stopping(void);

#endif /* MPIMAP_CORE_CRASH_H */
