/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool.c - the card dealer: the root hands the next chunk of items to
 * whichever rank returns its previous results, and works on items itself
 * (dealer.c: every rank, the root too, runs its items on a compute thread
 * of its own, and the root's main thread deals, takes results and emits
 * them while its own items run, so no core is spent only on dealing and no
 * worker waits for the root to finish an item; before the compute thread,
 * a worker ran dry whenever the root's item outlasted its queue).
 *
 * This file is the chunk size: with an automatic one, chunks start at one
 * item and grow until a chunk takes about TARGET_SECONDS of handler time
 * (measured from the result sets), which amortises the message cost of
 * trivial items while keeping the tail short; before the first timing
 * arrives every deal is a single item.
 */
#include <stdint.h>
#include <stddef.h>

#include <mpimap/mpimap.h>
#include <mpimap/strategy.h>

#include "dealer.h"
#include "worker_thread.h"

#define TAG_WORK 7101
#define TAG_RESULT 7102
#define TARGET_SECONDS 0.002
#define MAX_CHUNK ((size_t)1 << 16)

struct chunker {
    size_t fixed;   /* the user's chunk, or 0 */
    double mean;    /* mean handler time per item (EWMA), < 0 = unknown */
};

/* Until the first result set tells how long an item takes, deal single
 * items: growing chunks blindly (as this did at first) handed a rank 128
 * long items before anyone had timed one. With trivial items the first
 * result comes back within microseconds, so little is lost. */
static size_t next_chunk(struct chunker *c)
{
    if (c->fixed)
        return c->fixed;
    if (c->mean < 0)
        return 1;
    double k = c->mean > 0 ? TARGET_SECONDS / c->mean : (double)MAX_CHUNK;
    if (k < 1)
        return 1;
    if (k > (double)MAX_CHUNK)
        return MAX_CHUNK;
    return (size_t)k;
}

static void learn(struct chunker *c, const mpimap_buf *res)
{
    uint64_t first, count;
    if (c->fixed || mpimap_results_range(res->data, res->len, &first, &count) < 0 ||
        count == 0)
        return;
    double per = mpimap_results_busy(res->data, res->len) / (double)count;
    c->mean = c->mean < 0 ? per : 0.7 * c->mean + 0.3 * per;
}

/* ---- the policy of the dealer (dealer.h) --------------------------------- */

static size_t pool_chunk(void *self, int w, unsigned k, int held)
{
    (void)w, (void)k, (void)held;
    return next_chunk(self);
}

static void pool_back(void *self, int w, unsigned k, const mpimap_buf *rb, int dry)
{
    (void)w, (void)k, (void)dry;
    if (rb)
        learn(self, rb);
}

static int pool_map(mpimap_engine *e)
{
    MPI_Comm comm = mpimap_engine_comm(e);
    int root = mpimap_engine_root(e);
    int rank = 0, size = 1;
    if (comm != MPI_COMM_NULL) {
        MPI_Comm_rank(comm, &rank);
        MPI_Comm_size(comm, &size);
    }
    if (size == 1)
        return mpimap_engine_serial(e);
    if (rank != root)
        return wt_serve(e, comm, root, TAG_WORK, TAG_RESULT, DEALER_DEPTH);
    struct chunker ch = {mpimap_engine_chunk(e), -1.0};
    const struct dealer_policy policy = {&ch, pool_chunk, NULL, NULL, pool_back};
    return dealer_root(e, comm, root, size, TAG_WORK, TAG_RESULT, &policy);
}

static const struct mpimap_strategy_ops pool_ops = {
    sizeof(struct mpimap_strategy_ops),
    pool_map,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_STRATEGY, "pool", "1.0.0",
                     "card dealer: the next chunk goes to whichever rank is free",
                     NULL, NULL, NULL, &pool_ops);
