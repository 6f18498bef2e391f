/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * assemble.h - the final results of a job from its journals (internal):
 * after a resume, a restart or retries, the output is written from the
 * journals, in input order, each item's best entry (ok over failed over
 * died; the latest among equals), so that it is byte for byte what a run
 * that never failed would have written.
 */
#ifndef MPIMAP_CORE_ASSEMBLE_H
#define MPIMAP_CORE_ASSEMBLE_H

#include <stdint.h>

#include "joblog.h"
#include "records.h"

/* Called for each item whose final entry is not ok, in index order. */
typedef int (*mpimap_failure_cb)(void *ctx, uint64_t index, int rank, const void *reason,
                                 size_t len);

/* Write the results of items 0 .. nitems-1 from the journals of dir to out
 * (indexed records when unordered), and every entry of every journal, in
 * order, to log (when not NULL). *failed counts the items that failed.
 * An item without an entry, or an entry for an item past nitems (the input
 * changed), is an error: MPIMAP_EINVAL with *error naming it. */
int mpimap_assemble(const char *dir, uint64_t nitems, int unordered, mpimap_writer *out,
                    mpimap_joblog *log, mpimap_failure_cb failure, void *ctx,
                    uint64_t *failed, char **error);

#endif /* MPIMAP_CORE_ASSEMBLE_H */
