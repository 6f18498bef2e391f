/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * guided.c - adaptive chunks: large while much work remains, shrinking
 * toward a small minimum at the end, dealt by the root to whichever rank
 * returns its previous results (as pool does).
 *
 * Chunk sizes follow factoring with the ratio of FAC2 (S. F. Hummel,
 * E. Schonberg and L. E. Flynn, "Factoring: a method for scheduling
 * parallel loops", Communications of the ACM 35(8):90-101, 1992): a chunk
 * is ceil(R / 2P) items, R the items not yet handed out and P the ranks, so
 * that every P chunks hand out about half of what is left. Unlike guided
 * self-scheduling (C. D. Polychronopoulos and D. J. Kuck, IEEE Trans.
 * Computers C-36(12), 1987: ceil(R / P)), the first chunks leave room for
 * the variance of item times. R is taken afresh at every chunk rather than
 * once per round of P chunks (Hummel's batches), so the root's own pieces,
 * dealt to nobody, count too. Chunks are bounded
 *   below by the larger of the user's --chunk and about MIN_SECONDS of
 *         handler time (the mean item time, measured from the result sets
 *         as pool does), so trivial items still amortise a message;
 *   above by about MAX_SECONDS of handler time (at the mean item time):
 *         the dealer answers within a millisecond (see below), so a chunk
 *         need not be longer to amortise its message, and factoring counts
 *         items, not time: on items sorted longest first its first chunks
 *         held more than a rank's share of the time (0.76 efficiency on 4
 *         ranks before this bound);
 *   above by MAX_CHUNK items and MAX_BATCH_BYTES, so the root never holds
 *         more than a bounded window of results out of order (and no-op
 *         items ran faster in chunks of 16 Ki than of 64 Ki: the batch and
 *         its result set stay in cache).
 * The factoring rule needs the item count (mpimap_engine_count(), a second
 * pass over the input). The root counts once the first items are timed
 * (until then it deals one item per chunk). It does not count when the
 * input cannot be counted (it cannot be read twice: a pipe), nor when items
 * take less than COUNT_MIN_SECONDS: the second pass would then cost a
 * noticeable share of the map (a tenth, measured on no-op items), while
 * chunks of the minimum size already end the map within about MIN_SECONDS
 * of each other. Without a count, chunks follow pool's rule: about
 * MIN_SECONDS of handler time.
 *
 * Every rank, the root too, runs its items on a compute thread of its own
 * (worker_thread.c) and holds one factoring chunk at a time, and behind it
 * up to DEPTH - 1 chunks of the minimum size, so that it does not wait on
 * the root between chunks and no queue holds much more than its share. The
 * root's main thread only deals, takes results and emits them: it deals
 * while its own items run (before, a handler could not be interrupted, and
 * a worker whose queue was shorter than the root's item ran dry: 0.81 to
 * 0.87 efficiency on skewed items). Its own chunks are dealt to its
 * compute thread by the same rule as everyone's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/mpimap.h>
#include <mpimap/strategy.h>

#include "worker_thread.h"

#define TAG_WORK 7301
#define TAG_RESULT 7302
#define DEPTH 3
#define MAX_BATCH_BYTES ((size_t)1 << 20)
#define MIN_SECONDS 0.001
#define MAX_SECONDS 0.01
#define MAX_CHUNK ((size_t)1 << 14)
#define DECIDE_ITEMS 16
#define COUNT_MIN_SECONDS 1e-6

/* ---- chunk sizes --------------------------------------------------------- */

enum { UNDECIDED, COUNTED, UNCOUNTED };

struct guide {
    mpimap_engine *e;
    int mode;           /* whether chunks follow factoring (see decide()) */
    uint64_t read;      /* items read so far */
    uint64_t left;      /* COUNTED: items not yet read */
    uint64_t ranks;
    size_t user;        /* the user's chunk, a lower bound; 0 = none */
    double mean;        /* mean handler time per item (EWMA), < 0 = unknown */
    uint64_t timed;     /* items whose handler time came back */
    double busy;        /* and their handler time */
};

static size_t clamp_chunk(double k)
{
    if (k < 1)
        return 1;
    if (k > (double)MAX_CHUNK)
        return MAX_CHUNK;
    return (size_t)k;
}

/* The smallest chunk worth a message: the user's, or about MIN_SECONDS. */
static size_t min_chunk(const struct guide *g)
{
    size_t k = 1;
    if (g->mean >= 0)
        k = clamp_chunk(g->mean > 0 ? MIN_SECONDS / g->mean : (double)MAX_CHUNK);
    return k > g->user ? k : g->user;
}

/* Once the first items have been timed: count the items (factoring needs
 * the number left), unless the items are so short that counting would cost
 * a noticeable share of the map (a second pass over the input) while
 * factoring could not gain anything (every chunk is at its minimum, which
 * already takes MIN_SECONDS), or unless the input cannot be counted (it
 * cannot be read twice: a pipe). Without a count, chunks follow pool's
 * rule: about MIN_SECONDS of handler time each. */
static void decide(struct guide *g, int dry)
{
    if (g->mode != UNDECIDED || (g->timed < DECIDE_ITEMS && g->busy < MIN_SECONDS))
        return;
    uint64_t n = 0;
    g->mode = UNCOUNTED;
    if (!dry && g->mean >= COUNT_MIN_SECONDS && mpimap_engine_count(g->e, &n) == 0) {
        g->mode = COUNTED;
        g->left = n > g->read ? n - g->read : 0;
    }
}

/* The next chunk for a worker: while the items are not timed yet, one (or
 * the user's chunk); with a count, ceil(R / 2P) within [minimum, MAX_CHUNK];
 * without, the minimum. */
static size_t next_chunk(const struct guide *g)
{
    if (g->mode == UNDECIDED)
        return g->user ? g->user : 1;
    size_t lo = min_chunk(g);
    if (g->mode == UNCOUNTED)
        return lo;
    uint64_t f = (g->left + 2 * g->ranks - 1) / (2 * g->ranks);
    size_t hi = g->mean > 0 ? clamp_chunk(MAX_SECONDS / g->mean) : MAX_CHUNK;
    if (f > hi)
        f = hi;
    if (f < lo)
        return lo;
    return f > MAX_CHUNK ? MAX_CHUNK : (size_t)f;
}

static void took(struct guide *g, long n)
{
    if (n <= 0)
        return;
    g->read += (uint64_t)n;
    if (g->mode == COUNTED)
        g->left = (uint64_t)n < g->left ? g->left - (uint64_t)n : 0;
}

static void learn(struct guide *g, const mpimap_buf *res)
{
    uint64_t first, count;
    if (mpimap_results_range(res->data, res->len, &first, &count) < 0 || count == 0)
        return;
    double busy = mpimap_results_busy(res->data, res->len), per = busy / (double)count;
    g->mean = g->mean < 0 ? per : 0.7 * g->mean + 0.3 * per;
    g->timed += count;
    g->busy += busy;
}

/* ---- the root: deal, work, collect ------------------------------------- */

struct slot {
    mpimap_buf out[DEPTH];
    MPI_Request req[DEPTH];
    unsigned sent;       /* batches sent so far (ring position) */
    unsigned back;       /* result sets come back so far */
    int outstanding;     /* batches sent whose results have not come back */
    int big;             /* of those, factoring chunks (above the minimum) */
    unsigned char isbig[DEPTH];
};

struct dealer {
    mpimap_engine *e;
    MPI_Comm comm;
    struct guide g;
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

/* Deal rank w its next chunk, if it holds fewer than DEPTH. The root deals
 * to itself too: into its compute thread's ring. */
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
    /* One factoring chunk at a time; the chunks queued behind it are of the
     * minimum size, so that a queue never holds more than its share. */
    size_t lo = min_chunk(&d->g), want = lo;
    if (s->big == 0)
        want = next_chunk(&d->g);
    long n = mpimap_engine_read(d->e, want, MAX_BATCH_BYTES, b);
    if (n < 0) {
        fail(d, (int)n);
        return;
    }
    if (n == 0) {
        d->dry = 1;
        return;
    }
    took(&d->g, n);
    s->isbig[k] = d->g.mode == COUNTED && (size_t)n > lo;
    s->big += s->isbig[k];
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
        learn(&d->g, rb);
        decide(&d->g, d->dry);
        int rc = mpimap_engine_emit(d->e, rb->data, rb->len);
        if (rc < 0)
            fail(d, rc);
    }
    struct slot *s = &d->slots[w];
    s->big -= s->isbig[s->back++ % DEPTH];
    s->outstanding--;
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

static int guided_root(mpimap_engine *e, MPI_Comm comm, int root, int size)
{
    struct dealer d = {e, comm, {0}, NULL, NULL, size, root, 0, 0};
    d.g.e = e;
    d.g.ranks = (uint64_t)size;
    d.g.user = mpimap_engine_chunk(e);
    d.g.mean = -1.0;
    d.slots = calloc((size_t)size, sizeof *d.slots);
    d.wt = wt_start(e, DEPTH);
    if (!d.slots || !d.wt) {
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
        /* One of our own result sets a turn, then the probe again (why:
         * pool.c's loop). */
        if (wt_take(d.wt, &rb, &rc, &count)) {
            if (rc < 0)
                fail(&d, rc);
            back(&d, root, rc < 0 ? NULL : &rb);
            got = 1;
        }
        /* Top up every queue (one may be below DEPTH when the input ran
         * short of its chunk). */
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

static int guided_map(mpimap_engine *e)
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
    return rank == root ? guided_root(e, comm, root, size)
                        : wt_serve(e, comm, root, TAG_WORK, TAG_RESULT, DEPTH);
}

static const struct mpimap_strategy_ops guided_ops = {
    sizeof(struct mpimap_strategy_ops),
    guided_map,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_STRATEGY, "guided", "1.0.0",
                     "adaptive chunks (factoring): large first, shrinking at the end",
                     NULL, NULL, NULL, &guided_ops);
