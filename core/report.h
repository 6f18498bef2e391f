/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * report.h - the map report (internal): how the items fell on the ranks
 * and how busy each rank was, as the root's sink counts it (job.c), the
 * JOBDIR/report file that carries it to the driver, and the table and the
 * JSON that `mpimap run --report` / `--report-json FILE` show.
 *
 * Memory is O(ranks + MPIMAP_REPORT_SLOWEST) whatever the number of items;
 * counting a result set is a few adds and compares
 * (mpimap_report_add_span()), and each of its items one compare
 * (mpimap_report_note_slow()).
 *
 * The file JOBDIR/report, text, one record a line, written by the root
 * after the map has ended (also when items failed), before `status`:
 *   mpimap-report 1                       format version
 *   strategy NAME
 *   ranks R
 *   items N
 *   failed F
 *   span START END                        the first item's start and the last
 *                                         item's end (wall clock, seconds since
 *                                         the epoch; 0 0 without items)
 *   rank K ITEMS BUSY START END           one line per rank K = 0..R-1: items
 *                                         run, sum of their durations (s), the
 *                                         start of its first and the end of its
 *                                         last item (0 0 without items)
 *   slowest INDEX RANK DURATION           up to 5 lines, the slowest first
 * Readers ignore lines they do not know.
 *
 * The figures (mpimap_report_figures()), all from the handlers' own clocks:
 *   makespan     span END - START
 *   busy(K)      rank K's sum of item durations; idle(K) = makespan - busy(K)
 *   efficiency   sum of busy / (ranks x makespan): 1 = every rank ran items
 *                from the first start to the last end
 *   overhead     ranks x makespan - sum of busy (= the sum of idle), split:
 *     dispatch   the gaps between a rank's consecutive items (END(K) -
 *                START(K) - busy(K), summed): waiting for the next chunk,
 *                messages, the root's bookkeeping; also given per item
 *     imbalance  the rest: ranks idle before their first item or after their
 *                last one (uneven shares, a straggler, a late start)
 * Start-up (mpirun, MPI_Init, loading the handler) is before the first
 * item and not in the makespan. Times from different hosts are only as
 * comparable as their clocks.
 */
#ifndef MPIMAP_CORE_REPORT_H
#define MPIMAP_CORE_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MPIMAP_REPORT_SLOWEST 5

struct mpimap_report_rank {
    uint64_t items;
    double busy;         /* sum of item durations, seconds */
    double first, last;  /* first item's start, last item's end (wall clock) */
};

struct mpimap_report_item {
    uint64_t index;
    int rank;
    double duration;
};

typedef struct mpimap_report {
    char *strategy;
    int ranks;
    uint64_t items, failed;
    double first, last;                  /* span of the whole map */
    struct mpimap_report_rank *rank;     /* ranks entries */
    struct mpimap_report_item slowest[MPIMAP_REPORT_SLOWEST]; /* slowest first */
    size_t nslowest;
} mpimap_report;

/* Derived figures (see above); efficiency is < 0 when there is no makespan. */
struct mpimap_report_figures {
    double makespan, busy, idle, efficiency, dispatch, dispatch_per_item, imbalance;
};

/* An empty report for ranks ranks. 0 or MPIMAP_ENOMEM. */
int mpimap_report_init(mpimap_report *r, int ranks, const char *strategy);
void mpimap_report_free(mpimap_report *r);

/* Count n finished items (ok or failed; failed ones are counted by the
 * caller in r->failed) that rank ran from start to end, busy seconds of
 * it in their handlers: one item, or a result set's. A rank out of range
 * counts in the totals only. */
static inline void mpimap_report_add_span(mpimap_report *r, int rank, uint64_t n, double start,
                                          double end, double busy)
{
    if (!n)
        return;
    if (r->items == 0 || start < r->first)
        r->first = start;
    if (r->items == 0 || end > r->last)
        r->last = end;
    r->items += n;
    if (rank >= 0 && rank < r->ranks) {
        struct mpimap_report_rank *k = &r->rank[rank];
        if (k->items == 0 || start < k->first)
            k->first = start;
        if (k->items == 0 || end > k->last)
            k->last = end;
        k->items += n;
        k->busy += busy;
    }
}

/* One item among the slowest, if it is (one compare when it is not). */
static inline void mpimap_report_note_slow(mpimap_report *r, int rank, uint64_t index,
                                           double duration)
{
    if (r->nslowest == MPIMAP_REPORT_SLOWEST &&
        !(duration > r->slowest[MPIMAP_REPORT_SLOWEST - 1].duration))
        return;
    size_t i = r->nslowest < MPIMAP_REPORT_SLOWEST ? r->nslowest++ : MPIMAP_REPORT_SLOWEST - 1;
    for (; i > 0 && duration > r->slowest[i - 1].duration; i--)
        r->slowest[i] = r->slowest[i - 1];
    r->slowest[i] = (struct mpimap_report_item){index, rank, duration};
}

/* Write the report file at path (through path.tmp, renamed into place).
 * 0 or MPIMAP_EIO / MPIMAP_ENOMEM. */
int mpimap_report_save(const mpimap_report *r, const char *path);

/* Read a report file into *r (initialised here; free it with
 * mpimap_report_free() whatever is returned). 0, MPIMAP_ENOTFOUND when
 * there is no such file, MPIMAP_EINVAL when it is malformed, MPIMAP_ENOMEM. */
int mpimap_report_load(mpimap_report *r, const char *path);

void mpimap_report_figures(const mpimap_report *r, struct mpimap_report_figures *f);

/* The table for people. */
void mpimap_report_print(FILE *out, const mpimap_report *r);

/* The same as one JSON object (keys: see mpimap_report_json()). */
void mpimap_report_json(FILE *out, const mpimap_report *r);

/* Write the JSON to path: through a temporary name renamed into place, or
 * straight into it when path is not a regular file (/dev/stdout, a FIFO).
 * 0 or MPIMAP_EIO / MPIMAP_ENOMEM, with errno set. */
int mpimap_report_json_file(const mpimap_report *r, const char *path);

#endif /* MPIMAP_CORE_REPORT_H */
