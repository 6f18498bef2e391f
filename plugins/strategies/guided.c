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
 *   above by MAX_CHUNK items and DEALER_MAX_BATCH_BYTES, so the root
 *         never holds more than a bounded window of results out of order
 *         (and no-op items ran faster in chunks of 16 Ki than of 64 Ki: the
 *         batch and its result set stay in cache).
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
 * The tail. Once the items left (counted) fit in TAIL_PER_RANK chunks of
 * the minimum size per rank, they are read ahead at once, as such chunks,
 * and dealt last first. Dealing in input order, the last items are the
 * last to start, and when they are the longest (a list sorted by size, a
 * common parameter sweep) ranks sit idle while they run; read from the
 * end, a sorted list's tail goes longest first, as in LPT scheduling, and
 * its shortest items fill the gaps at the end. On lists in no order it
 * changes nothing on average (a given list may do better or worse by
 * chance). Measured on 4 ranks (five lists of each kind, 200 items of
 * 20 ms mean, median of 3 runs each), mean efficiency: ascending lists
 * 0.911 -> 0.984, lognormal 0.937 -> 0.941, Pareto 0.886 -> 0.889.
 * The results come back out of order; the engine puts them in order.
 *
 * The chunks are dealt as pool's are (dealer.c): every rank, the root too,
 * runs its items on a compute thread of its own, and the root's main thread
 * deals while its own items run (before, a handler could not be
 * interrupted, and a worker whose queue was shorter than the root's item
 * ran dry: 0.81 to 0.87 efficiency on skewed items). A rank holds one
 * factoring chunk at a time, and behind it up to DEALER_DEPTH - 1 chunks of
 * the minimum size, so that it does not wait on the root between chunks and
 * no queue holds much more than its share. The root's own chunks follow
 * the same rule as everyone's.
 */
#include <stdint.h>
#include <stdlib.h>

#include <mpimap/mpimap.h>
#include <mpimap/strategy.h>

#include "dealer.h"
#include "worker_thread.h"

#define TAG_WORK 7301
#define TAG_RESULT 7302
#define MIN_SECONDS 0.001
#define MAX_SECONDS 0.01
#define MAX_CHUNK ((size_t)1 << 14)
#define DECIDE_ITEMS 16
#define COUNT_MIN_SECONDS 1e-6
#define TAIL_PER_RANK 6

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

/* ---- the tail, last items first ----------------------------------------- */

/* The last TAIL_PER_RANK chunks per rank of the minimum size, read ahead
 * as separate batches once so few are left, and dealt last first. */
struct tail {
    mpimap_buf *b;
    size_t len;    /* batches held */
    size_t max;    /* at most this many (the count may be out of date) */
    int filled;    /* read ahead already: the map is in its tail */
};

/* The next n items in input order, into batch (as the dealer reads). */
static long read_next(struct guide *g, size_t n, mpimap_buf *batch)
{
    long got = mpimap_engine_read(g->e, n, DEALER_MAX_BATCH_BYTES, batch);
    took(g, got);
    return got;
}

/* Read the tail: min-size chunks until the input ends or max are held. */
static long fill_tail(struct tail *t, struct guide *g)
{
    t->filled = 1;
    while (t->len < t->max) {
        long n = read_next(g, min_chunk(g), &t->b[t->len]);
        if (n <= 0)
            return n;
        t->len++;
    }
    return 0;
}

static void free_tail(struct tail *t)
{
    for (size_t i = 0; t->b && i < t->max; i++)
        mpimap_buf_free(&t->b[i]);
    free(t->b);
}

/* ---- the policy of the dealer (dealer.h) --------------------------------- */

/* What a rank holds: of its chunks dealt and not back, which are factoring
 * chunks (above the minimum), by ring position. */
struct held {
    unsigned char isbig[DEALER_DEPTH];
};

static int holds_big(const struct held *h)
{
    int big = 0;
    for (int k = 0; k < DEALER_DEPTH; k++)
        big |= h->isbig[k];
    return big;
}

struct policy {
    struct guide g;
    struct held *held; /* per rank */
    struct tail tail;
};

/* One factoring chunk at a time per rank; the chunks queued behind it are
 * of the minimum size, so that a queue never holds more than its share.
 * Until an item has been timed, one chunk per rank: nothing is known of
 * the items yet. In the tail, and when items are long (WT_LONG_ITEM_SECONDS
 * or more on average), one chunk queued behind the one running, not two: a
 * chunk queued behind a long one waits there while another rank may run
 * dry. On a list sorted longest first, the rank with the first item had
 * two more queued behind it (0.94 efficiency on 4 ranks on one such list,
 * now 0.997), and on suite.sh's bimodal list (4 ranks) two long items
 * queued on one rank at the end: 0.872, now 0.966. Over other lists (4
 * ranks, five lists each, three runs) it changed lognormal and Pareto
 * lists by less than their noise and exponential ones from 0.979 to 0.968
 * (two short items in a row leave a rank waiting for the dealer). The
 * same rule in pool lost on bimodal lists (0.947 to 0.924, four lists, two
 * runs each), so pool keeps two. Not none everywhere: the dealer's answer
 * took up to a few milliseconds then (naps on both sides; 3 ms measured
 * between a rank's items, 15 % of a 20 ms item), and with none queued
 * ascending lists reached 0.975 instead of 0.985.
 *
 * In the tail of long items, none: on suite.sh's bimodal list (4 ranks)
 * the one queued was a long item behind another long one on one rank
 * while two ranks had run dry, 0.856 in two runs of three (median of 3
 * each); with none, 0.958 to 0.968 in six, ascending lists 0.985 to 0.996,
 * lognormal 0.966 to 0.980. That costs a wait for the dealer between two
 * items, which the dealer and its workers keep short by napping at most
 * WT_NAP_WAITING_NS while a rank may be waiting (1 to 2 ms before, 0.2 to
 * 0.3 ms now, between two items of the tail). */
static size_t guided_chunk(void *self, int w, unsigned k, int held)
{
    struct policy *p = self;
    (void)k;
    int tail = p->tail.filled, long_items = p->g.mean >= WT_LONG_ITEM_SECONDS;
    int most = p->g.mean < 0 || (tail && long_items) ? 1 : tail || long_items ? 2 : DEALER_DEPTH;
    if (held >= most)
        return 0;
    return holds_big(&p->held[w]) ? min_chunk(&p->g) : next_chunk(&p->g);
}

/* The next chunk in input order, until only the tail is left (counted,
 * at most TAIL_PER_RANK minimum chunks per rank); then the tail, read
 * ahead at once, last chunk first. */
static long guided_read(void *self, size_t n, mpimap_buf *batch)
{
    struct policy *p = self;
    struct tail *t = &p->tail;
    struct guide *g = &p->g;
    if (!t->filled && g->mode == COUNTED && g->left <= TAIL_PER_RANK * g->ranks * min_chunk(g)) {
        long rc = fill_tail(t, g);
        if (rc < 0)
            return rc;
    }
    if (t->len) {
        t->len--;
        mpimap_buf tmp = *batch;
        *batch = t->b[t->len];
        t->b[t->len] = tmp;
        uint64_t first, count;
        if (mpimap_batch_range(batch->data, batch->len, &first, &count) < 0)
            return MPIMAP_EINVAL;
        return (long)count;
    }
    return read_next(g, n, batch);
}

static void guided_dealt(void *self, int w, unsigned k, long n)
{
    struct policy *p = self;
    p->held[w].isbig[k] = p->g.mode == COUNTED && (size_t)n > min_chunk(&p->g);
}

static void guided_back(void *self, int w, unsigned k, const mpimap_buf *rb, int dry)
{
    struct policy *p = self;
    if (rb) {
        learn(&p->g, rb);
        decide(&p->g, dry);
    }
    p->held[w].isbig[k] = 0;
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
    if (rank != root)
        return wt_serve(e, comm, root, TAG_WORK, TAG_RESULT, DEALER_DEPTH);
    size_t tail = TAIL_PER_RANK * (size_t)size;
    struct policy p = {{e, UNDECIDED, 0, 0, (uint64_t)size, mpimap_engine_chunk(e), -1.0, 0, 0},
                       calloc((size_t)size, sizeof *p.held),
                       {calloc(tail, sizeof(mpimap_buf)), 0, tail, 0}};
    const struct dealer_policy policy = {&p, guided_chunk, guided_read, guided_dealt, guided_back};
    int ok = p.held && p.tail.b;
    int rc = dealer_root(e, comm, root, size, TAG_WORK, TAG_RESULT, ok ? &policy : NULL);
    free(p.held);
    free_tail(&p.tail);
    return rc;
}

static const struct mpimap_strategy_ops guided_ops = {
    sizeof(struct mpimap_strategy_ops),
    guided_map,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_STRATEGY, "guided", "1.0.0",
                     "adaptive chunks (factoring): large first, shrinking at the end",
                     NULL, NULL, NULL, &guided_ops);
