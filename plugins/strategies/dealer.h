/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dealer.h - the card dealer's root, shared by the pool and guided
 * strategies: the root hands the next chunk of items to whichever rank
 * returns its previous results, and works on items itself. Every rank, the
 * root too, runs its items on a compute thread of its own (worker_thread.c)
 * and holds up to DEALER_DEPTH chunks (one running, the others already
 * delivered), so that it never waits on a message between two chunks (with
 * two, a worker starved whenever the root's item ran a little longer than
 * its own: measured 1.39x instead of 1.8x on 2 ranks, when the root ran its
 * items between deals). The root's main thread only deals, takes results
 * and emits them, while its own items run. Result sets double as requests
 * for more work. The workers run wt_serve() (worker_thread.h).
 *
 * What differs between the strategies is the policy's: the size of each
 * chunk (or none for now), and which items go in it (guided reads its last
 * chunks ahead and deals them last first). The dealer asks it for a chunk
 * before each deal, has it read the items (or reads the next ones itself),
 * tells it what was dealt, and hands it every result set that comes back
 * (before the set is emitted), so that it can time the items.
 */
#ifndef MPIMAP_DEALER_H
#define MPIMAP_DEALER_H

#include <stddef.h>

#include <mpimap/mpimap.h>
#include <mpimap/strategy.h>

/* Chunks a rank holds at most, and the bytes of a batch at most. */
#define DEALER_DEPTH 3
#define DEALER_MAX_BATCH_BYTES ((size_t)1 << 20)

struct dealer_policy {
    void *self;
    /* The items of rank w's next chunk; k is its place in the rank's ring
     * of DEALER_DEPTH batches (batches come back in the order dealt), held
     * the chunks w holds now (dealt and not back, 0 to DEALER_DEPTH - 1).
     * 0 = deal w nothing now (only while held > 0: w is asked again when
     * one comes back). */
    size_t (*chunk)(void *self, int w, unsigned k, int held);
    /* Read the next chunk of n items (n > 0) into batch, as
     * mpimap_engine_read() does (with DEALER_MAX_BATCH_BYTES), which is
     * what a NULL read does: the items' count, 0 when there are no more,
     * or < 0. A policy may deal them out of input order. */
    long (*read)(void *self, size_t n, mpimap_buf *batch);
    /* Rank w's chunk at k was dealt: n items (n > 0). May be NULL. */
    void (*dealt)(void *self, int w, unsigned k, long n);
    /* Rank w's chunk at k came back: its result set rb, or NULL when an
     * error came first; dry: the input is used up (or dealing stopped). */
    void (*back)(void *self, int w, unsigned k, const mpimap_buf *rb, int dry);
};

/* The root of a map on comm (size ranks, size > 1): deals every item,
 * emits every result, stops the workers (tag_work, tag_result: the tags
 * of wt_serve()), and tells every rank the outcome, which it returns.
 * policy NULL (there was no memory for its state): the map fails with
 * MPIMAP_ENOMEM, every rank stopped and told. */
int dealer_root(mpimap_engine *e, MPI_Comm comm, int root, int size, int tag_work,
                int tag_result, const struct dealer_policy *policy);

#endif
