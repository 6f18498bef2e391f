/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * engine.h - the map engine's inside (internal): where items come from
 * (a source), what runs them (a handler), where results go (a sink), and
 * the state a strategy drives through <mpimap/strategy.h>.
 *
 * Wire formats (native byte order: every rank of a job runs the same
 * binary on the same kind of machine):
 *   batch:      u64 first, u64 count, then count x { u64 len, len bytes, NUL }
 *   result set: u64 first, u64 count, u32 rank, u32 0, f64 wall0, f64 spt,
 *               f64 busy, then count x { varint (len << 1 | status),
 *               varint gap, varint duration, len bytes }
 *   where status is 0 (ok: the bytes are the result) or 1 (failed: the
 *   bytes are the reason). Times are in ticks of the running rank's item
 *   clock (itemclock.h), spt seconds each, counted from wall0 (wall-clock
 *   seconds since the epoch): an item starts gap ticks after the one
 *   before it ended (the first: gap ticks after wall0) and runs the
 *   handler for duration ticks. busy is the sum of the durations in
 *   seconds. A trivial item's record takes 3 or 4 bytes.
 */
#ifndef MPIMAP_CORE_ENGINE_H
#define MPIMAP_CORE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>
#include <mpimap/strategy.h>

#include "resultset.h"
#include "varint.h"

#define MPIMAP_BATCH_HEADER 16u
/* The most bytes of a result record before its data: three varints. */
#define MPIMAP_RESULT_RECORD_MAX (3 * MPIMAP_VARINT_MAX)

enum { MPIMAP_ITEM_OK = 0, MPIMAP_ITEM_FAILED = 1 };

/* Where the root's items come from. next() returns 1 with an item, 0 at
 * the end, < 0 on a malformed input (error() tells why). rewind and count
 * may be NULL when the source cannot do them. peek and consume (both or
 * neither, optional) are the fast path of mpimap_reader_peek() and
 * mpimap_reader_consume(): peek() returns 0 when the next items must come
 * from next(). */
typedef struct mpimap_source {
    void *self;
    int (*next)(void *self, const void **data, size_t *len);
    int (*rewind)(void *self);
    const char *(*error)(void *self);
    int (*peek)(void *self, const unsigned char **data, size_t *len, int *sep);
    void (*consume)(void *self, size_t nbytes, uint64_t nitems);
} mpimap_source;

/* What runs one item: 0 = ok (result bytes appended to res), non-zero =
 * failed (the engine records the reason), < 0 from the engine's own
 * failures is not distinguished: a handler reports item failures only. */
typedef struct mpimap_handler {
    void *self;
    int (*run)(void *self, const mpimap_item *item, mpimap_result *res);
} mpimap_handler;

/* One finished item as the sink sees it. */
typedef struct mpimap_done {
    uint64_t index;
    int status;          /* MPIMAP_ITEM_OK or MPIMAP_ITEM_FAILED */
    int rank;
    double start;        /* wall clock, seconds since the epoch */
    double duration;     /* seconds */
    const void *data;    /* result bytes (ok) or reason (failed) */
    size_t len;
} mpimap_done;

/* Where the root's results go, in input order (or as they come with
 * unordered). put() returns 0 or a negative code that stops the map.
 * arrive() (optional) sees each result as soon as it reaches the root,
 * before the ordering (the journal keeps it there), always before its
 * put(), and arrived() (optional) is called once after each result set's
 * arrivals (after the set's put()s when the set came in order).
 * arrive_set() (optional) takes arrive()'s place in a pass without runs
 * (mpimap_engine.runs NULL): the whole result set at once, index being
 * its first item's, before any of its put()s. put_set() (optional) is
 * called after each set's put()s, with what can be counted of the set
 * as a whole. */
typedef struct mpimap_set_done {
    int rank;
    uint64_t count;
    double start, end; /* the first item's start, the last one's end */
    double busy;       /* the sum of the durations */
} mpimap_set_done;

typedef struct mpimap_sink {
    void *self;
    int (*put)(void *self, const mpimap_done *d);
    int (*arrive)(void *self, const mpimap_done *d);
    int (*arrived)(void *self);
    int (*arrive_set)(void *self, uint64_t index, const void *set, size_t len);
    int (*put_set)(void *self, const mpimap_set_done *s);
} mpimap_sink;

/* Which items a pass over the input runs, when not all of them (a
 * resumed job, a retry round): runs of consecutive item indices. Pass
 * index p (what batches and result sets count) is item
 * start[k] + (p - first[k]) for the last k with first[k] <= p; first[0]
 * is 0 and len[k] = first[k+1] - first[k] (the last run: to the end). */
typedef struct mpimap_index_runs {
    uint64_t *start, *first;
    size_t n;
} mpimap_index_runs;

/* The item index of pass index p. */
uint64_t mpimap_runs_item(const mpimap_index_runs *r, uint64_t p);

/* The result object a handler writes into (see mpimap_result_write()). */
struct mpimap_result {
    mpimap_buf *buf;   /* the result set being built */
    size_t start;      /* where this item's bytes begin in buf */
    int failed;
    int oom;
    char *reason;      /* malloc'd, when failed with a reason */
};

struct mpimap_engine {
    MPI_Comm comm;
    int rank, size, root;
    size_t chunk;
    int unordered;
    mpimap_source src;  /* root only */
    mpimap_handler handler;
    mpimap_sink sink;   /* root only */
    /* input position (root) */
    uint64_t next_read;
    int input_done;
    /* ordering (root) */
    uint64_t next_emit;
    struct pending_set *pending;
    size_t npending, cappending;
    uint64_t emitted, failed;
    /* the item being run now (UINT64_MAX: none) and when it started
     * (mpimap_now()), for crash reports and the watchdog */
    volatile uint64_t current;
    volatile double started;
    /* the items of this pass, or NULL for all (set after init) */
    const mpimap_index_runs *runs;
};

/* Set up an engine. Every rank: comm, root, chunk, handler. Root: src and
 * sink too (others may pass NULL). */
int mpimap_engine_init(mpimap_engine *e, MPI_Comm comm, int root, size_t chunk,
                       int unordered, const mpimap_source *src,
                       const mpimap_handler *handler, const mpimap_sink *sink);

/* Run the map with a strategy plugin (collective). After it the root has
 * put every item to the sink. Returns 0 or a negative code. */
int mpimap_engine_execute(mpimap_engine *e, const struct mpimap_plugin *strategy);

void mpimap_engine_destroy(mpimap_engine *e);

/* Seconds from a monotonic clock, and the wall clock. */
double mpimap_now(void);
double mpimap_wallclock(void);

#endif /* MPIMAP_CORE_ENGINE_H */
