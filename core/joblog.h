/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * joblog.h - the joblog (--joblog FILE): a header line, then one
 * tab-separated line per attempt of an item (internal):
 *
 *   index  rank  start  duration  status  reason
 *
 * start is seconds since the epoch, duration seconds; status is ok,
 * failed or died (the rank died while running it); the reason is on one
 * line (tabs and newlines as spaces), empty for ok. Written under a
 * temporary name and renamed into place when the map is done.
 */
#ifndef MPIMAP_CORE_JOBLOG_H
#define MPIMAP_CORE_JOBLOG_H

#include <stddef.h>
#include <stdint.h>

#include "records.h"

typedef struct mpimap_joblog {
    mpimap_writer *w;
    char *line;
    size_t cap;
} mpimap_joblog;

/* Open path and write the header. 0 or a negative code, *error set. */
int mpimap_joblog_open(mpimap_joblog *log, const char *path, char **error);

/* One line; status is a journal status (journal.h). */
int mpimap_joblog_put(mpimap_joblog *log, uint64_t index, int rank, double start,
                      double duration, int status, const void *reason, size_t len);

/* Rename into place. 0 or a negative code (the message: mpimap_joblog_error). */
int mpimap_joblog_commit(mpimap_joblog *log);
const char *mpimap_joblog_error(const mpimap_joblog *log);

/* Abort unless committed, and free. */
void mpimap_joblog_close(mpimap_joblog *log);

/* Replace tabs, newlines and carriage returns in s by spaces. */
void mpimap_one_line(char *s, size_t len);

#endif /* MPIMAP_CORE_JOBLOG_H */
