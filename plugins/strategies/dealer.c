/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dealer.c - the card dealer's root (see dealer.h).
 */
#include <stdint.h>
#include <stdlib.h>

#include "dealer.h"
#include "worker_thread.h"

struct slot {
    mpimap_buf out[DEALER_DEPTH];
    MPI_Request req[DEALER_DEPTH];
    unsigned sent;   /* batches sent so far (ring position) */
    unsigned back;   /* result sets come back so far */
    int outstanding; /* batches sent whose results have not come back */
};

struct dealer {
    mpimap_engine *e;
    MPI_Comm comm;
    const struct dealer_policy *p;
    struct slot *slots;
    struct wt *wt; /* the root's own compute thread */
    int size, root, tag_work, tag_result;
    int dry; /* no more input (or an error stopped dealing) */
    int err; /* first error, 0 if none */
};

static void fail(struct dealer *d, int rc)
{
    if (!d->err)
        d->err = rc;
    d->dry = 1;
}

/* Deal rank w its next chunk, if it holds fewer than DEALER_DEPTH. The
 * root deals to itself too: into its compute thread's ring. */
static void deal(struct dealer *d, int w)
{
    struct slot *s = &d->slots[w];
    if (d->dry || s->outstanding >= DEALER_DEPTH)
        return;
    unsigned k = s->sent % DEALER_DEPTH;
    size_t want = d->p->chunk(d->p->self, w, k, s->outstanding);
    if (!want)
        return;
    mpimap_buf *b;
    if (w == d->root) {
        if (!(b = wt_next(d->wt)))
            return;
    } else {
        if (s->req[k] != MPI_REQUEST_NULL)
            MPI_Wait(&s->req[k], MPI_STATUS_IGNORE);
        b = &s->out[k];
    }
    long n = d->p->read ? d->p->read(d->p->self, want, b)
                        : mpimap_engine_read(d->e, want, DEALER_MAX_BATCH_BYTES, b);
    if (n < 0) {
        fail(d, (int)n);
        return;
    }
    if (n == 0) {
        d->dry = 1;
        return;
    }
    if (d->p->dealt)
        d->p->dealt(d->p->self, w, k, n);
    if (w == d->root)
        wt_push(d->wt, (uint64_t)n);
    else
        MPI_Isend(b->data, (int)b->len, MPI_BYTE, w, d->tag_work, d->comm, &s->req[k]);
    s->sent++;
    s->outstanding++;
}

/* A result set is back from rank w (in rb, unless an error came first):
 * the policy sees it, it is emitted, and w is dealt its next chunk. */
static void back(struct dealer *d, int w, const mpimap_buf *rb)
{
    struct slot *s = &d->slots[w];
    d->p->back(d->p->self, w, s->back++ % DEALER_DEPTH, d->err ? NULL : rb, d->dry);
    if (rb && !d->err) {
        int rc = mpimap_engine_emit(d->e, rb->data, rb->len);
        if (rc < 0)
            fail(d, rc);
    }
    s->outstanding--;
    deal(d, w);
}

static void take_result(struct dealer *d, const MPI_Status *st, mpimap_buf *rb)
{
    int n = 0;
    MPI_Get_count(st, MPI_BYTE, &n);
    if (mpimap_buf_reserve(rb, (size_t)n) < 0) {
        fail(d, MPIMAP_ENOMEM);
        MPI_Recv(NULL, 0, MPI_BYTE, st->MPI_SOURCE, d->tag_result, d->comm, MPI_STATUS_IGNORE);
        back(d, st->MPI_SOURCE, NULL);
        return;
    }
    MPI_Recv(rb->data, n, MPI_BYTE, st->MPI_SOURCE, d->tag_result, d->comm, MPI_STATUS_IGNORE);
    rb->len = (size_t)n;
    back(d, st->MPI_SOURCE, rb);
}

int dealer_root(mpimap_engine *e, MPI_Comm comm, int root, int size, int tag_work,
                int tag_result, const struct dealer_policy *policy)
{
    struct dealer d = {e, comm, policy, NULL, NULL, size, root, tag_work, tag_result, 0, 0};
    d.slots = calloc((size_t)size, sizeof *d.slots);
    d.wt = wt_start(e, DEALER_DEPTH);
    if (!d.slots || !d.wt || !policy) {
        /* Every rank still waits for its stop and the outcome. */
        d.err = MPIMAP_ENOMEM;
        d.dry = 1;
    }
    for (int w = 0; d.slots && w < size; w++)
        for (int k = 0; k < DEALER_DEPTH; k++)
            d.slots[w].req[k] = MPI_REQUEST_NULL;

    for (int k = 0; d.slots && k < DEALER_DEPTH; k++)
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
            MPI_Iprobe(MPI_ANY_SOURCE, tag_result, comm, &flag, &st);
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
        /* Top up every queue (one may be short when the input ran short
         * of its chunk). */
        for (int w = 0; w < size && !d.dry; w++)
            deal(&d, w);
        got |= wt_pump(d.wt);
        int busy = 0, thin = 0;
        for (int w = 0; w < size; w++) {
            busy += d.slots[w].outstanding;
            thin |= w != root && d.slots[w].outstanding == 1;
        }
        if (d.dry && !busy)
            break;
        /* A rank with nothing queued behind its chunk waits for us as soon
         * as it ends it. */
        wt_idle(d.wt, &nap, got, thin);
    }

    /* Everyone stops: a batch whose count is zero. */
    static const unsigned char stop[16];
    for (int w = 0; w < size; w++) {
        if (w == root)
            continue;
        for (int k = 0; d.slots && k < DEALER_DEPTH; k++)
            if (d.slots[w].req[k] != MPI_REQUEST_NULL)
                MPI_Wait(&d.slots[w].req[k], MPI_STATUS_IGNORE);
        MPI_Send(stop, (int)sizeof stop, MPI_BYTE, w, tag_work, comm);
    }
    wt_stop(d.wt);
    for (int w = 0; d.slots && w < size; w++)
        for (int k = 0; k < DEALER_DEPTH; k++)
            mpimap_buf_free(&d.slots[w].out[k]);
    free(d.slots);
    mpimap_buf_free(&rb);
    /* Tell every rank whether the map succeeded. */
    int rc = d.err;
    MPI_Bcast(&rc, 1, MPI_INT, root, comm);
    return rc;
}
