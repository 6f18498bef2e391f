/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool.c - the card dealer: the root hands the next chunk of items to
 * whichever rank returns its previous results, and works on items itself:
 * every rank, the root too, runs its items on a compute thread of its own
 * (worker_thread.c), and the root's main thread deals, takes results and
 * emits them while its own items run, so no core is spent only on dealing
 * and no worker waits for the root to finish an item (before the compute
 * thread, a worker ran dry whenever the root's item outlasted its queue).
 *
 * Every rank keeps DEPTH chunks in flight (one running, two already
 * delivered), so it never waits on a message between two chunks (with two,
 * a worker starved whenever the root's item ran a little longer than its
 * own: measured 1.39x instead of 1.8x on 2 ranks, when the root ran its
 * items between deals). Result sets double as requests for more work. With an automatic
 * chunk size, chunks start at one item and grow until a chunk takes about
 * TARGET_SECONDS of handler time (measured from the result sets), which
 * amortises the message cost of trivial items while keeping the tail short;
 * before the first timing arrives every deal is a single item.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/mpimap.h>
#include <mpimap/strategy.h>

#include "worker_thread.h"

#define TAG_WORK 7101
#define TAG_RESULT 7102
#define DEPTH 3
#define MAX_BATCH_BYTES ((size_t)1 << 20)
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

struct slot {
    mpimap_buf out[DEPTH];
    MPI_Request req[DEPTH];
    unsigned sent;       /* batches sent so far (ring position) */
    int outstanding;     /* batches sent whose results have not come back */
};

struct dealer {
    mpimap_engine *e;
    MPI_Comm comm;
    struct chunker ch;
    struct slot *slots;
    struct wt *wt;  /* the root's own compute thread */
    int size, root;
    int dry;    /* no more input (or an error stopped dealing) */
    int err;    /* first error, 0 if none */
};

static void fail(struct dealer *d, int rc)
{
    if (!d->err)
        d->err = rc;
    d->dry = 1;
}

/* Deal rank w its next chunk, if it holds fewer than DEPTH; the root's own
 * go to its compute thread. */
static void deal(struct dealer *d, int w)
{
    struct slot *s = &d->slots[w];
    if (d->dry || s->outstanding >= DEPTH)
        return;
    unsigned k = s->sent % DEPTH;
    mpimap_buf *b;
    if (w == d->root) {
        if (!(b = wt_next(d->wt)))
            return;
    } else {
        if (s->req[k] != MPI_REQUEST_NULL)
            MPI_Wait(&s->req[k], MPI_STATUS_IGNORE);
        b = &s->out[k];
    }
    long n = mpimap_engine_read(d->e, next_chunk(&d->ch), MAX_BATCH_BYTES, b);
    if (n < 0) {
        fail(d, (int)n);
        return;
    }
    if (n == 0) {
        d->dry = 1;
        return;
    }
    if (w == d->root)
        wt_push(d->wt, (uint64_t)n);
    else
        MPI_Isend(b->data, (int)b->len, MPI_BYTE, w, TAG_WORK, d->comm, &s->req[k]);
    s->sent++;
    s->outstanding++;
}

/* A result set is back from rank w (in rb, unless an error came first). */
static void back(struct dealer *d, int w, const mpimap_buf *rb)
{
    if (rb && !d->err) {
        learn(&d->ch, rb);
        int rc = mpimap_engine_emit(d->e, rb->data, rb->len);
        if (rc < 0)
            fail(d, rc);
    }
    d->slots[w].outstanding--;
    deal(d, w);
}

static void take_result(struct dealer *d, const MPI_Status *st, mpimap_buf *rb)
{
    int n = 0;
    MPI_Get_count(st, MPI_BYTE, &n);
    if (mpimap_buf_reserve(rb, (size_t)n) < 0) {
        fail(d, MPIMAP_ENOMEM);
        MPI_Recv(NULL, 0, MPI_BYTE, st->MPI_SOURCE, TAG_RESULT, d->comm,
                 MPI_STATUS_IGNORE);
        back(d, st->MPI_SOURCE, NULL);
        return;
    }
    MPI_Recv(rb->data, n, MPI_BYTE, st->MPI_SOURCE, TAG_RESULT, d->comm, MPI_STATUS_IGNORE);
    rb->len = (size_t)n;
    back(d, st->MPI_SOURCE, rb);
}

static int pool_root(mpimap_engine *e, MPI_Comm comm, int root, int size)
{
    struct dealer d = {e, comm, {mpimap_engine_chunk(e), -1.0}, NULL, NULL, size, root, 0, 0};
    d.slots = calloc((size_t)size, sizeof *d.slots);
    d.wt = wt_start(e, DEPTH);
    if (!d.slots || !d.wt) {
        /* Every rank still waits for its stop and the outcome. */
        d.err = MPIMAP_ENOMEM;
        d.dry = 1;
    }
    for (int w = 0; d.slots && w < size; w++)
        for (int k = 0; k < DEPTH; k++)
            d.slots[w].req[k] = MPI_REQUEST_NULL;

    for (int k = 0; d.slots && k < DEPTH; k++)
        for (int w = 0; w < size; w++)
            deal(&d, w);

    /* The main loop never blocks: it takes what came (results of the
     * workers, of our own compute thread), deals again, and naps when
     * nothing happened (waking at once when our own batch ends). */
    mpimap_buf rb = {0};
    long nap = WT_NAP_MIN_NS;
    while (d.slots && d.wt) {
        int got = 0, flag = 1;
        MPI_Status st;
        while (flag) {
            MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, comm, &flag, &st);
            if (flag) {
                take_result(&d, &st, &rb);
                got = 1;
            }
        }
        int rc;
        uint64_t count;
        /* One of our own result sets a turn, then the probe again: back()
         * deals us the next batch, and when our compute thread ran its
         * batches faster than this thread took them (trivial items), a
         * loop here never ended, so no other rank's results were taken
         * and no other rank was dealt to (on 10^7 trivial items rank 1 sat
         * idle with its results unread until the input ran dry, and every
         * later result set waited, copied, for them). */
        if (wt_take(d.wt, &rb, &rc, &count)) {
            if (rc < 0)
                fail(&d, rc);
            back(&d, root, rc < 0 ? NULL : &rb);
            got = 1;
        }
        for (int w = 0; w < size && !d.dry; w++)
            deal(&d, w);
        got |= wt_pump(d.wt);
        if (d.dry) {
            int busy = 0;
            for (int w = 0; w < size; w++)
                busy += d.slots[w].outstanding;
            if (!busy)
                break;
        }
        wt_idle(d.wt, &nap, got);
    }

    /* Everyone stops: a batch whose count is zero. */
    static const unsigned char stop[16];
    for (int w = 0; w < size; w++) {
        if (w == root)
            continue;
        for (int k = 0; d.slots && k < DEPTH; k++)
            if (d.slots[w].req[k] != MPI_REQUEST_NULL)
                MPI_Wait(&d.slots[w].req[k], MPI_STATUS_IGNORE);
        MPI_Send(stop, (int)sizeof stop, MPI_BYTE, w, TAG_WORK, comm);
    }
    wt_stop(d.wt);
    for (int w = 0; d.slots && w < size; w++)
        for (int k = 0; k < DEPTH; k++)
            mpimap_buf_free(&d.slots[w].out[k]);
    free(d.slots);
    mpimap_buf_free(&rb);
    /* Tell every rank whether the map succeeded. */
    int rc = d.err;
    MPI_Bcast(&rc, 1, MPI_INT, root, comm);
    return rc;
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
    return rank == root ? pool_root(e, comm, root, size)
                        : wt_serve(e, comm, root, TAG_WORK, TAG_RESULT, DEPTH);
}

static const struct mpimap_strategy_ops pool_ops = {
    sizeof(struct mpimap_strategy_ops),
    pool_map,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_STRATEGY, "pool", "1.0.0",
                     "card dealer: the next chunk goes to whichever rank is free",
                     NULL, NULL, NULL, &pool_ops);
