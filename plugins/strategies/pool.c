/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool.c - the card dealer: the root hands the next chunk of items to
 * whichever rank returns its previous results, and works on items itself
 * between deals, so no core is spent only on dealing.
 *
 * Every worker keeps DEPTH chunks in flight (one running, two already
 * delivered), so it never waits on the root while the root runs an item of
 * its own: with two, a worker starved whenever the root's item ran a little
 * longer than its own (measured: 1.39x instead of 1.8x on 2 ranks). Result sets double as requests for more work. With an automatic
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
    int size;
    int dry;    /* no more input (or an error stopped dealing) */
    int err;    /* first error, 0 if none */
};

static void fail(struct dealer *d, int rc)
{
    if (!d->err)
        d->err = rc;
    d->dry = 1;
}

static void deal(struct dealer *d, int w)
{
    if (d->dry)
        return;
    struct slot *s = &d->slots[w];
    unsigned k = s->sent % DEPTH;
    if (s->req[k] != MPI_REQUEST_NULL)
        MPI_Wait(&s->req[k], MPI_STATUS_IGNORE);
    long n = mpimap_engine_read(d->e, next_chunk(&d->ch), MAX_BATCH_BYTES, &s->out[k]);
    if (n < 0) {
        fail(d, (int)n);
        return;
    }
    if (n == 0) {
        d->dry = 1;
        return;
    }
    MPI_Isend(s->out[k].data, (int)s->out[k].len, MPI_BYTE, w, TAG_WORK, d->comm,
              &s->req[k]);
    s->sent++;
    s->outstanding++;
}

static void take_result(struct dealer *d, const MPI_Status *st, mpimap_buf *rb)
{
    int n = 0;
    MPI_Get_count(st, MPI_BYTE, &n);
    if (mpimap_buf_reserve(rb, (size_t)n) < 0) {
        fail(d, MPIMAP_ENOMEM);
        MPI_Recv(NULL, 0, MPI_BYTE, st->MPI_SOURCE, TAG_RESULT, d->comm,
                 MPI_STATUS_IGNORE);
    } else {
        MPI_Recv(rb->data, n, MPI_BYTE, st->MPI_SOURCE, TAG_RESULT, d->comm,
                 MPI_STATUS_IGNORE);
        rb->len = (size_t)n;
        if (!d->err) {
            learn(&d->ch, rb);
            int rc = mpimap_engine_emit(d->e, rb->data, rb->len);
            if (rc < 0)
                fail(d, rc);
        }
    }
    int w = st->MPI_SOURCE;
    d->slots[w].outstanding--;
    deal(d, w);
}

static int pool_root(mpimap_engine *e, MPI_Comm comm, int root, int size)
{
    struct dealer d = {e, comm, {mpimap_engine_chunk(e), -1.0}, NULL, size, 0, 0};
    d.slots = calloc((size_t)size, sizeof *d.slots);
    if (!d.slots)
        return MPIMAP_ENOMEM;
    for (int w = 0; w < size; w++)
        for (int k = 0; k < DEPTH; k++)
            d.slots[w].req[k] = MPI_REQUEST_NULL;

    for (int k = 0; k < DEPTH; k++)
        for (int w = 0; w < size; w++)
            if (w != root)
                deal(&d, w);

    mpimap_buf mine = {0}, myres = {0}, rb = {0};
    for (;;) {
        int flag = 1;
        MPI_Status st;
        while (size > 1 && flag) {
            MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, comm, &flag, &st);
            if (flag)
                take_result(&d, &st, &rb);
        }
        if (!d.dry) {
            /* The root's own share of the work, one chunk at a time. */
            long n = mpimap_engine_read(e, next_chunk(&d.ch), MAX_BATCH_BYTES, &mine);
            if (n < 0) {
                fail(&d, (int)n);
            } else if (n == 0) {
                d.dry = 1;
            } else {
                int rc = mpimap_engine_run(e, mine.data, mine.len, &myres);
                if (rc == 0) {
                    learn(&d.ch, &myres);
                    rc = mpimap_engine_emit(e, myres.data, myres.len);
                }
                if (rc < 0)
                    fail(&d, rc);
            }
            continue;
        }
        int busy = 0;
        for (int w = 0; w < size; w++)
            busy += d.slots[w].outstanding;
        if (!busy)
            break;
        MPI_Probe(MPI_ANY_SOURCE, TAG_RESULT, comm, &st);
        take_result(&d, &st, &rb);
    }

    /* Everyone stops: a batch whose count is zero. */
    static const unsigned char stop[16];
    for (int w = 0; w < size; w++) {
        if (w == root)
            continue;
        for (int k = 0; k < DEPTH; k++)
            if (d.slots[w].req[k] != MPI_REQUEST_NULL)
                MPI_Wait(&d.slots[w].req[k], MPI_STATUS_IGNORE);
        MPI_Send(stop, (int)sizeof stop, MPI_BYTE, w, TAG_WORK, comm);
    }
    for (int w = 0; w < size; w++)
        for (int k = 0; k < DEPTH; k++)
            mpimap_buf_free(&d.slots[w].out[k]);
    free(d.slots);
    mpimap_buf_free(&mine);
    mpimap_buf_free(&myres);
    mpimap_buf_free(&rb);
    /* Tell every rank whether the map succeeded. */
    int rc = d.err;
    MPI_Bcast(&rc, 1, MPI_INT, root, comm);
    return rc;
}

static int pool_worker(mpimap_engine *e, MPI_Comm comm, int root)
{
    mpimap_buf in = {0}, res[DEPTH] = {{0}};
    MPI_Request req[DEPTH];
    for (int k = 0; k < DEPTH; k++)
        req[k] = MPI_REQUEST_NULL;
    int err = 0;
    for (unsigned k = 0;; k = (k + 1) % DEPTH) {
        MPI_Status st;
        int n = 0;
        MPI_Probe(root, TAG_WORK, comm, &st);
        MPI_Get_count(&st, MPI_BYTE, &n);
        if (mpimap_buf_reserve(&in, n > 16 ? (size_t)n : 16) < 0) {
            /* Out of memory: we cannot even take the message; give up. */
            MPI_Abort(comm, 1);
        }
        MPI_Recv(in.data, n, MPI_BYTE, root, TAG_WORK, comm, MPI_STATUS_IGNORE);
        in.len = (size_t)n;
        uint64_t first = 0, count = 0;
        if (mpimap_batch_range(in.data, in.len, &first, &count) < 0 || count == 0)
            break;
        if (req[k] != MPI_REQUEST_NULL)
            MPI_Wait(&req[k], MPI_STATUS_IGNORE);
        int rc = mpimap_engine_run(e, in.data, in.len, &res[k]);
        if (rc < 0) {
            /* Answer with an empty result set so the root is not left
             * waiting; the error is reported by the broadcast below. */
            err = rc;
            if (mpimap_buf_reserve(&res[k], 24) < 0)
                MPI_Abort(comm, 1);
            memset(res[k].data, 0, 24);
            res[k].len = 24;
        }
        MPI_Isend(res[k].data, (int)res[k].len, MPI_BYTE, root, TAG_RESULT, comm, &req[k]);
    }
    MPI_Waitall(DEPTH, req, MPI_STATUSES_IGNORE);
    for (int k = 0; k < DEPTH; k++)
        mpimap_buf_free(&res[k]);
    mpimap_buf_free(&in);
    int rc = 0;
    MPI_Bcast(&rc, 1, MPI_INT, root, comm);
    return rc ? rc : err;
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
    return rank == root ? pool_root(e, comm, root, size) : pool_worker(e, comm, root);
}

static const struct mpimap_strategy_ops pool_ops = {
    sizeof(struct mpimap_strategy_ops),
    pool_map,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_STRATEGY, "pool", "1.0.0",
                     "card dealer: the next chunk goes to whichever rank is free",
                     NULL, NULL, NULL, &pool_ops);
