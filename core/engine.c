/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * engine.c - the map engine: the services strategies call (read, run,
 * emit), the packing of batches and result sets, and the ordering of
 * results at the root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "itemclock.h"
#include "wire.h"

struct pending_set {
    uint64_t first, count;
    unsigned char *data;
    size_t len;
};


double mpimap_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double mpimap_wallclock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t mpimap_runs_item(const mpimap_index_runs *r, uint64_t p)
{
    if (!r || !r->n)
        return p;
    size_t lo = 0, hi = r->n; /* the answer is in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->first[mid] <= p)
            lo = mid;
        else
            hi = mid;
    }
    return r->start[lo] + (p - r->first[lo]);
}

/* ---- accessors ---------------------------------------------------------- */

MPI_Comm mpimap_engine_comm(const mpimap_engine *e) { return e->comm; }
int mpimap_engine_root(const mpimap_engine *e) { return e->root; }
size_t mpimap_engine_chunk(const mpimap_engine *e) { return e->chunk; }

int mpimap_batch_range(const void *batch, size_t len, uint64_t *first,
                       uint64_t *count)
{
    if (!batch || len < MPIMAP_BATCH_HEADER)
        return MPIMAP_EINVAL;
    *first = get_u64(batch);
    *count = get_u64((const unsigned char *)batch + 8);
    return 0;
}

int mpimap_results_range(const void *results, size_t len, uint64_t *first,
                         uint64_t *count)
{
    if (!results || len < MPIMAP_RESULTS_HEADER)
        return MPIMAP_EINVAL;
    *first = get_u64(results);
    *count = get_u64((const unsigned char *)results + 8);
    return 0;
}

double mpimap_results_busy(const void *results, size_t len)
{
    if (!results || len < MPIMAP_RESULTS_HEADER)
        return 0.0;
    return get_f64((const unsigned char *)results + 40);
}

/* ---- input (root) ------------------------------------------------------- */

static int source_next(mpimap_engine *e, const void **data, size_t *len)
{
    int rc = e->src.next(e->src.self, data, len);
    if (rc < 0 && e->src.error)
        fprintf(stderr, "mpimap: %s\n", e->src.error(e->src.self));
    return rc;
}

/* Append an item to batch at *off: its length (u64), its bytes, a NUL. */
static inline int put_item(mpimap_buf *batch, size_t *off, const void *data, size_t len)
{
    size_t o = *off;
    if (len > SIZE_MAX - o - 9)
        return MPIMAP_ENOMEM;
    if (o + 9 + len > batch->cap) {
        int rc = mpimap_buf_reserve(batch, o + 9 + len);
        if (rc < 0)
            return rc;
    }
    unsigned char *d = batch->data + o;
    put_u64(d, len);
    if (len)
        memcpy(d + 8, data, len);
    d[8 + len] = '\0';
    *off = o + 9 + len;
    return 0;
}

/* The fast path of mpimap_engine_read(): pack up to max items whose
 * separators the source has buffered into batch at *off, while the batch's
 * items stay under max_bytes, without a call per item (on trivial items
 * the root's reading was a fifth of its time). Returns the count: 0 when
 * the next item is not whole in the buffer. */
static long pack_buffered(mpimap_engine *e, uint64_t max, size_t max_bytes, mpimap_buf *batch,
                          size_t *off)
{
    const unsigned char *p;
    size_t avail;
    int sep;
    if (!e->src.peek(e->src.self, &p, &avail, &sep))
        return 0;
    const unsigned char *s = p, *end = p + avail;
    uint64_t n = 0;
    int rc = 0;
    while (n < max && (n == 0 || *off - MPIMAP_BATCH_HEADER < max_bytes)) {
        const unsigned char *q = memchr(s, sep, (size_t)(end - s));
        if (!q || (rc = put_item(batch, off, s, (size_t)(q - s))) < 0)
            break;
        s = q + 1;
        n++;
    }
    e->src.consume(e->src.self, (size_t)(s - p), n);
    return rc < 0 ? rc : (long)n;
}

long mpimap_engine_read(mpimap_engine *e, size_t max_items, size_t max_bytes,
                        mpimap_buf *batch)
{
    if (!e->src.next || !batch)
        return MPIMAP_EINVAL;
    if (max_items == 0)
        max_items = 1;
    batch->len = 0;
    int rc = mpimap_buf_reserve(batch, MPIMAP_BATCH_HEADER);
    if (rc < 0)
        return rc;
    size_t off = MPIMAP_BATCH_HEADER;
    uint64_t count = 0;
    while (!e->input_done && count < max_items &&
           (count == 0 || off - MPIMAP_BATCH_HEADER < max_bytes)) {
        const void *data;
        size_t len;
        if (e->src.peek) {
            long got = pack_buffered(e, max_items - count, max_bytes, batch, &off);
            if (got < 0)
                return got;
            count += (uint64_t)got;
            if (got)
                continue;
        }
        rc = source_next(e, &data, &len);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            e->input_done = 1;
            break;
        }
        if ((rc = put_item(batch, &off, data, len)) < 0)
            return rc;
        count++;
    }
    put_u64(batch->data, e->next_read);
    put_u64(batch->data + 8, count);
    batch->len = off;
    e->next_read += count;
    return (long)count;
}

long mpimap_engine_skip(mpimap_engine *e, uint64_t n)
{
    if (!e->src.next)
        return MPIMAP_EINVAL;
    uint64_t done = 0;
    while (done < n && !e->input_done) {
        const void *data;
        size_t len;
        int rc = source_next(e, &data, &len);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            e->input_done = 1;
            break;
        }
        done++;
    }
    e->next_read += done;
    return (long)done;
}

int mpimap_engine_rewind(mpimap_engine *e)
{
    if (!e->src.rewind)
        return MPIMAP_EINVAL;
    int rc = e->src.rewind(e->src.self);
    if (rc < 0)
        return rc;
    e->next_read = 0;
    e->input_done = 0;
    return 0;
}

int mpimap_engine_count(mpimap_engine *e, uint64_t *n)
{
    uint64_t pos = e->next_read;
    int rc = mpimap_engine_rewind(e);
    if (rc < 0)
        return rc;
    long got;
    uint64_t total = 0;
    do {
        got = mpimap_engine_skip(e, UINT64_MAX);
        if (got < 0)
            return (int)got;
        total += (uint64_t)got;
    } while (!e->input_done);
    if ((rc = mpimap_engine_rewind(e)) < 0)
        return rc;
    if (pos && (got = mpimap_engine_skip(e, pos)) < 0)
        return (int)got;
    *n = total;
    return 0;
}

/* ---- running items (any rank) ------------------------------------------- */

int mpimap_engine_run(mpimap_engine *e, const void *batch, size_t len,
                      mpimap_buf *results)
{
    uint64_t first, count;
    if (mpimap_batch_range(batch, len, &first, &count) < 0 || !results)
        return MPIMAP_EINVAL;
    const unsigned char *p = batch;
    results->len = 0;
    int rc = mpimap_buf_reserve(results, MPIMAP_RESULTS_HEADER);
    if (rc < 0)
        return rc;
    put_u64(results->data, first);
    put_u64(results->data + 8, count);
    put_u32(results->data + 16, (uint32_t)e->rank);
    put_u32(results->data + 20, 0);
    results->len = MPIMAP_RESULTS_HEADER;

    /* One clock read per item: an item's end is the next one's start
     * (a clock read costs about as much as a trivial item). The clock is
     * read afresh after anything slow between two items: a failure's
     * reason, or a reallocation of the result set. A record's varints are
     * known only once its handler has written the result after the room
     * kept for them: the result then moves back over what was not used
     * (nothing, for a trivial item). */
    mpimap_clock clk;
    mpimap_clock_begin(&clk);
    uint64_t t0 = clk.k0, ended = clk.k0, busy = 0;
    int stale = 0;
    size_t off = MPIMAP_BATCH_HEADER;
    for (uint64_t i = 0; i < count; i++) {
        if (len - off < 8)
            return MPIMAP_EINVAL;
        uint64_t n = get_u64(p + off);
        if (n > len - off - 8 - 1)
            return MPIMAP_EINVAL;
        mpimap_item item = {p + off + 8, (size_t)n,
                            e->runs ? mpimap_runs_item(e->runs, first + i) : first + i};
        off += 8 + n + 1;

        size_t rec = results->len;
        if (results->cap - rec < MPIMAP_RESULT_RECORD_MAX) {
            if ((rc = mpimap_buf_reserve(results, rec + MPIMAP_RESULT_RECORD_MAX)) < 0)
                return rc;
            stale = 1;
        }
        results->len = rec + MPIMAP_RESULT_RECORD_MAX;
        mpimap_result res = {results, results->len, 0, 0, NULL};
        if (stale) {
            t0 = mpimap_clock_read(&clk);
            stale = 0;
        }
        e->started = mpimap_clock_mono(&clk, t0);
        e->current = item.index;
        int hrc = e->handler.run(e->handler.self, &item, &res);
        uint64_t t1 = mpimap_clock_read(&clk);
        if (res.oom) {
            free(res.reason);
            return MPIMAP_ENOMEM;
        }
        uint64_t status = MPIMAP_ITEM_OK;
        if (hrc != 0 || res.failed) {
            status = MPIMAP_ITEM_FAILED;
            stale = 1;
            results->len = res.start;
            char *why = res.reason;
            if (!why && asprintf(&why, "handler returned %d", hrc) < 0)
                why = NULL;
            if (!why)
                return MPIMAP_ENOMEM;
            size_t wl = strlen(why);
            rc = mpimap_buf_reserve(results, results->len + wl);
            if (rc == 0) {
                memcpy(results->data + results->len, why, wl);
                results->len += wl;
            }
            free(why);
            if (rc < 0)
                return rc;
        }
        size_t rl = results->len - res.start;
        uint64_t took = t1 > t0 ? t1 - t0 : 0;
        unsigned char *h = results->data + rec;
        unsigned char *q = put_varint(h, (uint64_t)rl << 1 | status);
        q = put_varint(q, t0 > ended ? t0 - ended : 0);
        q = put_varint(q, took);
        if (rl && q != results->data + res.start)
            memmove(q, results->data + res.start, rl);
        results->len = (size_t)(q - results->data) + rl;
        busy += took;
        ended = (t0 > ended ? t0 : ended) + took;
        t0 = t1;
    }
    e->current = UINT64_MAX;
    mpimap_clock_end(&clk);
    put_f64(results->data + 24, clk.wall0);
    put_f64(results->data + 32, clk.spt);
    put_f64(results->data + 40, (double)busy * clk.spt);
    return 0;
}

/* ---- results (root) ----------------------------------------------------- */

/* Call fn (then fn2, unless NULL) for each result of the set p (well
 * formed: checked as it goes); the set as a whole into *sd (unless NULL). */
static int each_result(const mpimap_engine *e, const unsigned char *p, size_t len,
                       int (*fn)(void *self, const mpimap_done *d),
                       int (*fn2)(void *self, const mpimap_done *d), void *self,
                       uint64_t *failed, mpimap_set_done *sd)
{
    mpimap_results_iter it;
    mpimap_results_rec r = {0, 0, 0, NULL, 0};
    int rc = mpimap_results_begin(&it, p, len);
    double start = 0;
    while (rc == 0 && (rc = mpimap_results_next(&it, &r)) == 1) {
        uint64_t pos = it.first + it.i - 1;
        uint64_t idx = e->runs ? mpimap_runs_item(e->runs, pos) : pos;
        mpimap_done d = {idx, r.status, it.rank, r.start, r.duration, r.data, r.len};
        if (it.i == 1)
            start = r.start;
        if (failed && d.status != MPIMAP_ITEM_OK)
            (*failed)++;
        rc = fn(self, &d);
        if (rc == 0 && fn2)
            rc = fn2(self, &d);
    }
    if (rc == 0 && sd)
        *sd = (mpimap_set_done){it.rank, it.count, start, r.start + r.duration,
                                mpimap_results_busy(p, len)};
    return rc;
}

/* A set arriving from a rank: to the sink's arrive_set() whole (a pass
 * without runs), else result by result to arrive(), with put() too when
 * put (one pass over the set, not two). */
static int arrive(mpimap_engine *e, const unsigned char *p, size_t len, int put,
                  uint64_t *failed, mpimap_set_done *sd)
{
    if (e->sink.arrive_set && !e->runs) {
        int rc = e->sink.arrive_set(e->sink.self, get_u64(p), p, len);
        if (rc == 0 && put)
            rc = each_result(e, p, len, e->sink.put, NULL, e->sink.self, failed, sd);
        return rc;
    }
    return each_result(e, p, len, e->sink.arrive, put ? e->sink.put : NULL, e->sink.self,
                       failed, sd);
}

/* Put the set p to the sink, in order; arriving (arrive(), then arrived()
 * after the set) when it comes straight from a rank. */
static int deliver(mpimap_engine *e, const unsigned char *p, size_t len, int arriving)
{
    uint64_t first = get_u64(p), count = get_u64(p + 8);
    uint64_t failed = 0;
    mpimap_set_done sd;
    int rc = arriving ? arrive(e, p, len, 1, &failed, &sd)
                      : each_result(e, p, len, e->sink.put, NULL, e->sink.self, &failed, &sd);
    if (rc == 0 && e->sink.put_set)
        rc = e->sink.put_set(e->sink.self, &sd);
    if (rc == 0 && arriving && e->sink.arrived)
        rc = e->sink.arrived(e->sink.self);
    e->failed += failed;
    if (rc < 0)
        return rc;
    e->emitted += count;
    if (!e->unordered)
        e->next_emit = first + count;
    return 0;
}

int mpimap_engine_emit(mpimap_engine *e, const void *results, size_t len)
{
    uint64_t first, count;
    if (!e->sink.put || mpimap_results_range(results, len, &first, &count) < 0)
        return MPIMAP_EINVAL;
    if (count == 0)
        return 0;
    int arriving = e->sink.arrive || (e->sink.arrive_set && !e->runs);
    if (e->unordered)
        return deliver(e, results, len, arriving);
    if (first < e->next_emit)
        return MPIMAP_EINVAL; /* a strategy emitted an item twice */
    if (first == e->next_emit) {
        int rc = deliver(e, results, len, arriving);
        while (rc == 0 && e->npending && e->pending[0].first == e->next_emit) {
            struct pending_set ps = e->pending[0];
            memmove(e->pending, e->pending + 1, (e->npending - 1) * sizeof *e->pending);
            e->npending--;
            rc = deliver(e, ps.data, ps.len, 0);
            free(ps.data);
        }
        return rc;
    }
    if (arriving) {
        int rc = arrive(e, results, len, 0, NULL, NULL);
        if (rc == 0 && e->sink.arrived)
            rc = e->sink.arrived(e->sink.self);
        if (rc < 0)
            return rc;
    }
    /* Out of order: keep a copy until the sets before it have come. */
    if (e->npending == e->cappending) {
        size_t ncap = e->cappending ? e->cappending * 2 : 16;
        struct pending_set *np = realloc(e->pending, ncap * sizeof *np);
        if (!np)
            return MPIMAP_ENOMEM;
        e->pending = np;
        e->cappending = ncap;
    }
    unsigned char *copy = malloc(len);
    if (!copy)
        return MPIMAP_ENOMEM;
    memcpy(copy, results, len);
    size_t at = e->npending;
    while (at > 0 && e->pending[at - 1].first > first)
        at--;
    if (at < e->npending && e->pending[at].first == first) {
        free(copy);
        return MPIMAP_EINVAL;
    }
    memmove(e->pending + at + 1, e->pending + at, (e->npending - at) * sizeof *e->pending);
    e->pending[at] = (struct pending_set){first, count, copy, len};
    e->npending++;
    return 0;
}

int mpimap_engine_serial(mpimap_engine *e)
{
    mpimap_buf b = {0}, r = {0};
    long n;
    int rc = 0;
    size_t chunk = e->chunk ? e->chunk : 4096;
    while (rc == 0 && (n = mpimap_engine_read(e, chunk, (size_t)1 << 20, &b)) > 0) {
        rc = mpimap_engine_run(e, b.data, b.len, &r);
        if (rc == 0)
            rc = mpimap_engine_emit(e, r.data, r.len);
    }
    if (rc == 0 && n < 0)
        rc = (int)n;
    mpimap_buf_free(&b);
    mpimap_buf_free(&r);
    return rc;
}

/* ---- life cycle --------------------------------------------------------- */

int mpimap_engine_init(mpimap_engine *e, MPI_Comm comm, int root, size_t chunk,
                       int unordered, const mpimap_source *src,
                       const mpimap_handler *handler, const mpimap_sink *sink)
{
    memset(e, 0, sizeof *e);
    e->comm = comm;
    e->root = root;
    e->chunk = chunk;
    e->unordered = unordered;
    e->current = UINT64_MAX;
    if (comm == MPI_COMM_NULL) {
        e->rank = 0;
        e->size = 1;
    } else {
        if (MPI_Comm_rank(comm, &e->rank) != MPI_SUCCESS ||
            MPI_Comm_size(comm, &e->size) != MPI_SUCCESS)
            return MPIMAP_EMPI;
    }
    if (root < 0 || root >= e->size || !handler || !handler->run)
        return MPIMAP_EINVAL;
    e->handler = *handler;
    if (e->rank == root) {
        if (!src || !src->next || !sink || !sink->put)
            return MPIMAP_EINVAL;
        e->src = *src;
        e->sink = *sink;
    }
    return 0;
}

int mpimap_engine_execute(mpimap_engine *e, const struct mpimap_plugin *strategy)
{
    const struct mpimap_strategy_ops *ops = strategy->ops;
    if (!ops || ops->size < offsetof(struct mpimap_strategy_ops, map) + sizeof ops->map ||
        !ops->map)
        return MPIMAP_EABI;
    int rc = ops->map(e);
    if (rc == 0 && e->rank == e->root) {
        /* Never lose a result: every item read must have reached the sink. */
        if (!e->input_done || e->npending || e->emitted != e->next_read) {
            fprintf(stderr,
                    "mpimap: strategy '%s' ended with %llu of %llu items emitted%s\n",
                    strategy->name, (unsigned long long)e->emitted,
                    (unsigned long long)e->next_read,
                    e->input_done ? "" : " and input left unread");
            rc = MPIMAP_EINVAL;
        }
    }
    return rc;
}

void mpimap_engine_destroy(mpimap_engine *e)
{
    for (size_t i = 0; i < e->npending; i++)
        free(e->pending[i].data);
    free(e->pending);
    e->pending = NULL;
    e->npending = e->cappending = 0;
}
