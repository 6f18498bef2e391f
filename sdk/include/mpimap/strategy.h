/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mpimap/strategy.h - the ops table of a strategy plugin, and the engine
 * services a strategy calls.
 *
 * A strategy decides how the work list is dealt out over the ranks of a
 * communicator. It never reads input, runs handlers or writes output
 * itself: it moves opaque *batches* (a run of consecutive items, packed)
 * and *result sets* (their results, packed) between ranks, and asks the
 * engine to read, run and emit them:
 *
 *   root:  mpimap_engine_read()  -> batch bytes   (next items of the input)
 *   any:   mpimap_engine_run()   batch -> result bytes (runs the handler)
 *   root:  mpimap_engine_emit()  result bytes -> output (reordered by index)
 *
 * Batches and result sets are self-describing byte strings that can be sent
 * with MPI_BYTE as they are. A strategy's map() returns once every item has
 * been emitted at the root (on every rank), or a negative MPIMAP_E* code.
 *
 * Threads. map() is called on the thread that called mpimap_map() (in
 * mpimap-worker, the main thread, with MPI initialised at
 * MPI_THREAD_FUNNELED). A strategy may call mpimap_engine_run() from one
 * other thread of its own (a compute thread, so that the calling thread
 * stays free to make the MPI calls while a handler runs), at the same time
 * as the calling thread uses every other engine service (read, skip,
 * rewind, count, emit, serial, the accessors): mpimap_engine_run() touches
 * only its own arguments, the handler and the engine's record of the item
 * running (which the crash reporter reads). Never call mpimap_engine_run()
 * from two threads at once, nor any other service from a thread other than
 * the one that called map(). The handler then runs on that other thread:
 * it may call MPI only if MPI was initialised at MPI_THREAD_MULTIPLE. Strategies built here use
 * a compute thread only when MPI_Query_thread() gives at least
 * MPI_THREAD_FUNNELED (a program that called plain MPI_Init() gets its
 * handlers run on its own thread, as before), or when the environment says
 * MPIMAP_COMPUTE_THREAD=1 (=0 turns the thread off).
 */
#ifndef MPIMAP_STRATEGY_H
#define MPIMAP_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include <mpimap/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The engine's state for one map; opaque to strategies. */
typedef struct mpimap_engine mpimap_engine;

/* A growable byte buffer owned by the strategy. Start it zeroed; release
 * it with mpimap_buf_free(). */
typedef struct mpimap_buf {
    unsigned char *data;
    size_t len;
    size_t cap;
} mpimap_buf;

void mpimap_buf_free(mpimap_buf *buf);
/* Make room for at least cap bytes (len unchanged). */
int mpimap_buf_reserve(mpimap_buf *buf, size_t cap);

/* ---- Engine services ---------------------------------------------------- */

MPI_Comm mpimap_engine_comm(const mpimap_engine *e);
int mpimap_engine_root(const mpimap_engine *e);
/* The chunk size the user asked for; 0 = let the strategy choose. */
size_t mpimap_engine_chunk(const mpimap_engine *e);

/* Root only. Replace *batch with the next items of the input, at most
 * max_items of them and about max_bytes (at least one item is always
 * taken, however large). Returns the number of items read, 0 at the end
 * of the input, or a negative code (a malformed input, with the message
 * already reported). */
long mpimap_engine_read(mpimap_engine *e, size_t max_items, size_t max_bytes,
                        mpimap_buf *batch);

/* Root only. Skip the next n items without reading them into a batch.
 * Returns the number skipped (fewer at the end of the input) or < 0. */
long mpimap_engine_skip(mpimap_engine *e, uint64_t n);

/* Root only. Start reading the input again from its first item. */
int mpimap_engine_rewind(mpimap_engine *e);

/* Root only. The number of items in the input (may read it once). */
int mpimap_engine_count(mpimap_engine *e, uint64_t *n);

/* Any rank. Run the handler on every item of a batch and append their
 * result set to *results (which is replaced, not extended). Returns 0, or
 * < 0 when the engine itself failed (an item's failure is not an error:
 * it is recorded in the result set). May be called from one thread other
 * than the one that called map(), while that thread reads and emits (see
 * "Threads" above). */
int mpimap_engine_run(mpimap_engine *e, const void *batch, size_t len,
                      mpimap_buf *results);

/* Root only. Hand a result set (from any rank) to the output. Result sets
 * may arrive in any order; the engine writes them in input order unless
 * the user asked for --unordered. */
int mpimap_engine_emit(mpimap_engine *e, const void *results, size_t len);

/* Root, on a communicator of one rank (or none): read, run and emit every
 * item in this process. The whole map for a strategy with nobody to deal
 * to. */
int mpimap_engine_serial(mpimap_engine *e);

/* Inspect a packed batch or result set: first index and item count. */
int mpimap_batch_range(const void *batch, size_t len, uint64_t *first,
                       uint64_t *count);
int mpimap_results_range(const void *results, size_t len, uint64_t *first,
                         uint64_t *count);
/* The sum of the handler's run time over a result set, in seconds (for
 * strategies that size their chunks by time). */
double mpimap_results_busy(const void *results, size_t len);

/* ---- The ops table ------------------------------------------------------ */

struct mpimap_strategy_ops {
    uint32_t size; /* sizeof(struct mpimap_strategy_ops) as the plugin saw it */
    /* Collective over mpimap_engine_comm(e): run the whole map. */
    int (*map)(mpimap_engine *e);
};

#ifdef __cplusplus
}
#endif

#endif /* MPIMAP_STRATEGY_H */
