/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * worker_thread.h - a rank's compute thread, shared by the strategies: the
 * thread that runs the handler (mpimap_engine_run()) on batches the rank's
 * main thread hands it, so that the main thread, which makes every MPI
 * call, stays responsive while an item runs (a dealer deals, a steal
 * victim answers, results are taken and emitted).
 *
 * A small ring of slots, FIFO: the main thread fills the batch of the next
 * free slot (wt_next()) and pushes it (wt_push()); the compute thread runs
 * the slots in order; the main thread takes their result sets back in the
 * same order (wt_take()). Only the main thread calls these functions; the
 * compute thread calls nothing but mpimap_engine_run() (no MPI: the
 * process stays at MPI_THREAD_FUNNELED).
 *
 * The thread is used when MPI was initialised with at least
 * MPI_THREAD_FUNNELED (mpimap-worker asks for it), or when the environment
 * says MPIMAP_COMPUTE_THREAD=1; MPIMAP_COMPUTE_THREAD=0 turns it off. Without
 * it (a program that called plain MPI_Init, which gives MPI_THREAD_SINGLE,
 * or a thread that could not be created) the ring is run inline: wt_pump()
 * runs the next batch on the calling thread, which is the old behaviour of
 * running between two looks at the messages.
 */
#ifndef MPIMAP_WORKER_THREAD_H
#define MPIMAP_WORKER_THREAD_H

#include <stddef.h>
#include <stdint.h>

#include <mpimap/strategy.h>

/* The main thread's naps while it waits for messages: from WT_NAP_MIN_NS,
 * doubling while nothing comes, up to WT_NAP_MAX_NS. */
#define WT_NAP_MIN_NS 10000L
#define WT_NAP_MAX_NS 1000000L
/* At most this long while a rank is (or may be at any moment) waiting for
 * the message it needs to go on: a worker with nothing to run, the dealer
 * while a rank holds no chunk behind the one it runs. Naps of up to 1 ms on
 * both sides made a rank wait 1 to 4 ms for its next chunk (a fifth of a
 * 20 ms item); an idle rank has nothing better to do with the CPU. */
#define WT_NAP_WAITING_NS 100000L
/* A batch expected (from the items timed so far) to take at most this
 * long runs on the main thread, in wt_pump(), when the compute thread is
 * idle. */
#define WT_INLINE_SECONDS 20e-6
/* Items this long on average (seconds) are long: a strategy keeps fewer of
 * them waiting in a rank's queue, where nobody else can take them (guided
 * one chunk behind the one running, steal none). */
#define WT_LONG_ITEM_SECONDS 0.005

struct wt;

/* Start the compute thread of a map with a ring of `slots` batches (>= 1).
 * NULL when out of memory. */
struct wt *wt_start(mpimap_engine *e, unsigned slots);
/* Wait for the batch being run (the ones not started are dropped), stop
 * the thread, free everything. */
void wt_stop(struct wt *w);
/* Whether batches run on a thread of their own (1) or inline (0). */
int wt_threaded(const struct wt *w);

/* The batch buffer of the next free slot, to be filled and pushed; NULL
 * when every slot is in use. Its old contents are a previous batch. */
mpimap_buf *wt_next(struct wt *w);
/* Hand the batch filled in wt_next() to the compute thread. */
void wt_push(struct wt *w, uint64_t count);
/* Run the next batch on this thread when there is no compute thread, or
 * when it is quick and the compute thread is idle. Returns 1 when it ran
 * one. Call it once per turn of the main loop. */
int wt_pump(struct wt *w);
/* Take the oldest finished result set: swapped into *results (its old
 * buffer goes back to the ring), *rc = mpimap_engine_run()'s return code,
 * *count = the count pushed with it. Returns 1 when one was taken, 0 when
 * none is finished yet. */
int wt_take(struct wt *w, mpimap_buf *results, int *rc, uint64_t *count);
/* Take back the batches pushed but not started, oldest first: put(ctx,
 * batch, count) is called for each (its bytes as pushed; put NULL: they
 * are only dropped), then they leave the ring. Returns 0, or the first
 * negative return of put() (the batches after it are not put, and are
 * dropped too). */
int wt_reclaim(struct wt *w, int (*put)(void *ctx, const mpimap_buf *batch, uint64_t count),
               void *ctx);

/* Batches pushed and not yet taken back; of those, not yet started; and
 * the items in the batches pushed and not yet taken back. */
unsigned wt_inflight(const struct wt *w);
unsigned wt_queued(struct wt *w);
uint64_t wt_items(const struct wt *w);
/* How long the batch running now has run, in seconds (0: none runs). */
double wt_running_for(struct wt *w);

/* Nothing to do on the main thread: wait up to *nap ns (waiting: at most
 * WT_NAP_WAITING_NS) for a result set (a finished batch wakes it at once),
 * or nap when none is in flight; then double *nap up to WT_NAP_MAX_NS.
 * With got != 0 (something happened this turn) it only resets *nap to
 * WT_NAP_MIN_NS and returns at once. */
void wt_idle(struct wt *w, long *nap, int got, int waiting);

/* A rank the root deals to (pool, guided): take batches (tag_work) from
 * the root into the ring, at most `depth` at once (the root keeps no more
 * than that in flight per rank), send their result sets back (tag_result)
 * in order, until a batch of no items comes; then the root's broadcast of
 * the outcome. Returns the outcome, or the first local error. */
int wt_serve(mpimap_engine *e, MPI_Comm comm, int root, int tag_work, int tag_result,
             unsigned depth);

#endif /* MPIMAP_WORKER_THREAD_H */
