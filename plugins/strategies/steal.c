/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * steal.c - work stealing: no central dealer. Every rank starts with one
 * equal contiguous share of the items; a rank that runs dry asks another
 * rank for half of the items it has not started, and runs what it gets.
 * Results go to the root as result sets, in any order.
 *
 * Shares. The root counts the items, sends each other rank its share in
 * batches (a separate phase, before any stealing, as scatter does) and keeps
 * the last share for itself. A rank keeps the batches it holds in memory
 * up to QUEUE_MEM_BYTES, beyond that in an unlinked temporary file (its
 * spool) with only their index (first item, count, offset) in memory, so no
 * rank's memory grows with its share. The root's own share stays in the
 * input, read as it goes. When the input
 * cannot be counted (it cannot be read twice), the root spools all of it
 * as its own share and the others start by stealing.
 *
 * Running. A rank runs its items on a compute thread of its own
 * (worker_thread.c), in runs of about TARGET_SECONDS of handler time (one
 * item when items are long), handed over AHEAD runs ahead of the one
 * running (none while no item has been timed, nor when items are long):
 * the rest of the queue stays with the main thread, which makes every MPI
 * call and answers the messages that come, steal requests above all, while
 * the items run. (Before, a handler could not be interrupted:
 * a victim answered only between two runs, and a thief sat idle behind a
 * long item: 0.89-0.93 efficiency on skewed items.) The root emits result sets
 * in input order; one that comes early waits in memory (up to
 * HELD_MAX_BYTES, then in the root's spool) until those before it are in.
 *
 * Stealing (non-blocking messages only: a blocking send in a stealing
 * protocol is a deadlock waiting for two ranks to steal from each other).
 * A thief asks once it has no more than about ASK_AHEAD_SECONDS of items
 * left (at least ASK_AHEAD_ITEMS), so that the answer is usually there
 * before it runs dry (what it holds counts the runs handed to its compute
 * thread). It asks the rank that last told it had the most items left (a rank not
 * heard from counts as having many; ties are broken at random), sending
 * the number of items it still has and its mean item time; with nothing
 * left to run it keeps up to ASKS requests out, to different ranks. The
 * victim answers every request, with the number of items it has left and
 * half of the difference between its unstarted items (the run going on
 * counts as the items it has run for: running_items()) and the thief's,
 * taken from the end of its queue (from the head of the root's input share, which can
 * only be read in order, until its last TAIL_PER_RANK items per rank are
 * read into the root's queue; a batch is split when needed) and at most
 * LOOT_MAX_BYTES, or with none. After a refusal a thief naps (NAP_MIN_NS,
 * doubling up to NAP_MAX_NS) before it asks again, and a main thread
 * waiting for messages naps (WT_NAP_MIN_NS doubling up to WT_NAP_MAX_NS,
 * woken at once when a run ends), so idle ranks do not spin on a shared
 * core that a compute thread needs.
 *
 * Termination. The root knows the number of items N. It counts the items
 * whose results it holds (its own and those received); when that reaches N
 * (or on the first error) it starts a non-blocking broadcast of the outcome,
 * which every rank posted when stealing began. Then no message may be left
 * in flight, or a later map on the same communicator would receive it:
 *   - every message is sent with MPI_Issend, which completes only once the
 *     receiver has matched it;
 *   - a rank that has seen the outcome starts no more runs (those handed to
 *     its compute thread and not started are dropped, the one running is
 *     waited for and its results dropped) and sends no more results or
 *     requests; it answers requests with nothing, and waits until its own
 *     requests are answered, its receives have completed and its sends have
 *     been matched; only then does it enter a non-blocking barrier, and it
 *     keeps answering requests until the barrier completes.
 * When the barrier completes, every rank has entered it, so every request
 * ever sent has been answered and that answer received, and every result
 * set has been matched: the only messages left are answers sent during the
 * barrier, which have been matched already, since their thieves entered the
 * barrier after receiving them. A rank waits for those sends and returns.
 * On success no stolen items can be in flight when the root stops (all N
 * have run); after an error any are dropped along with the map.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpimap/mpimap.h>
#include <mpimap/strategy.h>

#include "worker_thread.h"

#define TAG_SHARE 7401   /* root -> rank: a batch of its share; count 0 ends it */
#define TAG_ASK 7402     /* thief -> victim: u64 items it still has, f64 mean item time */
#define TAG_LOOT 7403    /* victim -> thief: u64 items it has left, { u64 len, batch }* */
#define TAG_RESULT 7404  /* rank -> root: a result set */
#define TAG_FAIL 7405    /* rank -> root: i32 error code; the map stops */
#define BATCH_ITEMS ((size_t)4096)
#define MAX_BATCH_BYTES ((size_t)1 << 20)
#define LOOT_MAX_BYTES ((size_t)16 << 20)
#define QUEUE_MEM_BYTES ((size_t)32 << 20) /* a rank's batches held in memory */
#define HELD_MAX_BYTES ((size_t)16 << 20) /* results held in memory by the root */
#define LOOT_IN_FLIGHT 2     /* loot sends not yet matched, per rank */
#define RESULTS_IN_FLIGHT 64 /* result sets not yet matched, per rank */
#define RESULT_BYTES_IN_FLIGHT ((size_t)16 << 20)
#define TARGET_SECONDS 0.001
#define MAX_RUN ((size_t)1 << 16)
#define ASK_AHEAD_SECONDS 0.002
#define ASK_AHEAD_ITEMS 2
#define ASKS 2               /* requests out at once while idle */
#define NAP_MIN_NS 50000L
#define NAP_MAX_NS 200000L
#define AHEAD 1              /* runs waiting in the compute thread */
#define TAIL_PER_RANK 6      /* the root's last items spilled into its queue */

/* The wire format of batches (core/engine.h): u64 first, u64 count, then
 * count x { u64 len, len bytes, NUL }. */
#define BATCH_HEADER 16u

static uint64_t get64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, sizeof v); }

/* The offset just past k items that start at off in a batch of end bytes,
 * or 0 when the batch is malformed. */
static size_t skip_items(const unsigned char *b, size_t off, size_t end, uint64_t k)
{
    for (; k > 0; k--) {
        if (off > end || end - off < 9)
            return 0;
        uint64_t n = get64(b + off);
        if (n > end - off - 9)
            return 0;
        off += 9 + (size_t)n;
    }
    return off;
}

/* ---- spool: batches in an unlinked temporary file ------------------------ */

struct spool {
    int fd;
    uint64_t end;
};

static int spool_open(struct spool *s)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    size_t n = strlen(dir) + sizeof "/mpimap-steal-XXXXXX";
    char *path = malloc(n);
    if (!path)
        return MPIMAP_ENOMEM;
    snprintf(path, n, "%s/mpimap-steal-XXXXXX", dir);
    s->fd = mkstemp(path);
    if (s->fd >= 0)
        unlink(path);
    free(path);
    s->end = 0;
    return s->fd < 0 ? MPIMAP_EIO : 0;
}

static void spool_close(struct spool *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static int spool_write(struct spool *s, uint64_t off, const void *p, size_t len)
{
    const unsigned char *c = p;
    while (len > 0) {
        ssize_t w = pwrite(s->fd, c, len, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return MPIMAP_EIO;
        c += w;
        off += (uint64_t)w;
        len -= (size_t)w;
    }
    return 0;
}

static int spool_read(const struct spool *s, uint64_t off, void *p, size_t len)
{
    unsigned char *c = p;
    while (len > 0) {
        ssize_t r = pread(s->fd, c, len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return MPIMAP_EIO;
        c += r;
        off += (uint64_t)r;
        len -= (size_t)r;
    }
    return 0;
}

/* Append a batch (header given apart from the items) at the end. */
static int spool_append(struct spool *s, uint64_t first, uint64_t count,
                        const unsigned char *items, size_t len, uint64_t *off)
{
    unsigned char h[BATCH_HEADER];
    put64(h, first);
    put64(h + 8, count);
    *off = s->end;
    int rc = spool_write(s, s->end, h, sizeof h);
    if (rc == 0)
        rc = spool_write(s, s->end + sizeof h, items, len);
    if (rc == 0)
        s->end += sizeof h + len;
    return rc;
}

/* ---- a rank's queue of unstarted items ------------------------------------ */

/* A batch held in memory (mem.data) or in the spool (at off). len covers
 * its header and items; after a split the header is stale: first and count
 * here are the truth. */
struct seg {
    uint64_t first, count, off, len;
    mpimap_buf mem;
};

struct queue {
    uint64_t input_left;  /* root: items of its share still in the input */
    struct spool sp;
    struct seg *seg;      /* seg[s0 .. s0+ns), in index order */
    size_t s0, ns, cap;
    mpimap_buf cur;       /* the batch being run */
    size_t cur_off, cur_end;
    uint64_t cur_first, cur_left;
    uint64_t items;       /* unstarted: input_left + cur_left + the segs' */
    size_t mem;           /* bytes of the batches held in memory */
};

static int q_push(struct queue *q, uint64_t first, uint64_t count,
                  const unsigned char *items, size_t len)
{
    if (count == 0)
        return 0;
    if (q->s0 + q->ns == q->cap) {
        if (q->s0 > 0) {
            memmove(q->seg, q->seg + q->s0, q->ns * sizeof *q->seg);
            q->s0 = 0;
        } else {
            size_t ncap = q->cap ? q->cap * 2 : 64;
            struct seg *n = realloc(q->seg, ncap * sizeof *n);
            if (!n)
                return MPIMAP_ENOMEM;
            q->seg = n;
            q->cap = ncap;
        }
    }
    struct seg g = {first, count, 0, BATCH_HEADER + len, {NULL, 0, 0}};
    if (q->mem + g.len <= QUEUE_MEM_BYTES && mpimap_buf_reserve(&g.mem, (size_t)g.len) == 0) {
        put64(g.mem.data, first);
        put64(g.mem.data + 8, count);
        memcpy(g.mem.data + BATCH_HEADER, items, len);
        g.mem.len = (size_t)g.len;
        q->mem += (size_t)g.len;
    } else {
        int rc = spool_append(&q->sp, first, count, items, len, &g.off);
        if (rc < 0)
            return rc;
    }
    q->seg[q->s0 + q->ns++] = g;
    q->items += count;
    return 0;
}

/* The bytes of a batch: in memory, or read from the spool into *tmp. */
static int q_load(struct queue *q, const struct seg *g, mpimap_buf *tmp,
                  const unsigned char **p)
{
    if (g->mem.data) {
        *p = g->mem.data;
        return 0;
    }
    int rc = mpimap_buf_reserve(tmp, (size_t)g->len);
    if (rc == 0)
        rc = spool_read(&q->sp, g->off, tmp->data, (size_t)g->len);
    *p = tmp->data;
    return rc;
}

/* A batch leaves the queue: its memory, if any, is given back. */
static void q_drop(struct queue *q, struct seg *g)
{
    if (g->mem.data) {
        q->mem -= g->mem.len;
        mpimap_buf_free(&g->mem);
    }
}

/* ---- the state of one rank ---------------------------------------------- */

struct msg {
    mpimap_buf buf;
    MPI_Request req;  /* MPI_REQUEST_NULL: a free slot */
    int tag;
    int kind;         /* sends: K_LOOT, K_RESULT (counted in flight), or 0 */
};

enum { K_LOOT = 1, K_RESULT = 2 };

struct held {         /* a result set kept by the root until its turn */
    uint64_t first, off, len;
    unsigned char *mem;   /* in memory, or NULL: in the spool at off */
};

struct steal {
    mpimap_engine *e;
    MPI_Comm comm;
    int rank, size, root;
    struct queue q;
    struct msg *out, *in;  /* sends not yet matched, receives not yet done */
    size_t nout, nin;
    int loot_out, results_out;
    size_t results_bytes;  /* in the result sets not yet matched */
    int asking;            /* our requests out whose answers are not here yet */
    unsigned char *asked;  /* per rank: our request to it is out */
    uint64_t *load;        /* items each rank said it had left; UINT64_MAX: unknown */
    uint64_t rng;
    long nap;              /* after a refusal: ns before asking again */
    double ask_after;      /* no request before this time (now()) */
    long idle;             /* ns to nap while waiting for messages */
    struct wt *wt;         /* the compute thread */
    size_t user;           /* the user's chunk: items per run; 0 = by time */
    double mean;           /* handler seconds per item (EWMA), < 0 unknown */
    size_t ramp;
    mpimap_buf run, res, tmp;
    int err;               /* first error seen here */
    int broken;            /* this rank's queue is lost: run and give nothing */
    int stopping;
    int outcome;           /* the root's outcome, broadcast */
    MPI_Request stop;
    /* root only */
    uint64_t total, done, next;  /* items; items whose results are here; frontier */
    struct spool rsp;
    struct held *heap;
    size_t nheap, capheap;
    size_t held_mem;       /* bytes of held result sets in memory */
};

static void die(struct steal *s)
{
    fprintf(stderr, "mpimap: steal: rank %d out of memory for a message\n", s->rank);
    MPI_Abort(s->comm, 1);
}

static struct msg *slot(struct steal *s, struct msg **arr, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        if ((*arr)[i].req == MPI_REQUEST_NULL)
            return &(*arr)[i];
    struct msg *a = realloc(*arr, (*n + 4) * sizeof *a);
    if (!a)
        die(s);
    for (size_t i = *n; i < *n + 4; i++)
        a[i] = (struct msg){{NULL, 0, 0}, MPI_REQUEST_NULL, 0, 0};
    *arr = a;
    *n += 4;
    return &a[*n - 4];
}

/* Send buf (taken over: *buf gets the slot's old buffer back). */
static void post(struct steal *s, int to, int tag, mpimap_buf *buf)
{
    struct msg *m = slot(s, &s->out, &s->nout);
    mpimap_buf t = m->buf;
    m->buf = *buf;
    *buf = t;
    buf->len = 0;
    m->tag = tag;
    m->kind = tag == TAG_RESULT ? K_RESULT : tag == TAG_LOOT && m->buf.len ? K_LOOT : 0;
    MPI_Issend(m->buf.data, (int)m->buf.len, MPI_BYTE, to, tag, s->comm, &m->req);
    s->loot_out += m->kind == K_LOOT;
    s->results_out += m->kind == K_RESULT;
    if (m->kind == K_RESULT)
        s->results_bytes += m->buf.len;
}

static void send_small(struct steal *s, int to, int tag, const void *p, size_t len)
{
    mpimap_buf b = {0};
    if (len && mpimap_buf_reserve(&b, len) < 0)
        die(s);
    if (len)
        memcpy(b.data, p, len);
    b.len = len;
    post(s, to, tag, &b);
    mpimap_buf_free(&b);
}

/* A local failure: stop running and giving; tell the root, which stops the
 * map. */
static void fail(struct steal *s, int rc)
{
    if (s->err)
        return;
    s->err = rc;
    s->broken = 1;
    if (s->rank != s->root && !s->stopping) {
        fprintf(stderr, "mpimap: steal: rank %d could not run or keep its items: %s\n",
                s->rank, mpimap_strerror(rc));
        int32_t code = rc;
        send_small(s, s->root, TAG_FAIL, &code, sizeof code);
    }
}

/* Root: the input has fewer items than it had when counted. */
static int shrank(void)
{
    fprintf(stderr, "mpimap: steal: the input shrank while it was mapped\n");
    return MPIMAP_EINVAL;
}

/* ---- the root's results, emitted in input order ---------------------------
 * A result set that is not next waits in a heap on its first index: in
 * memory up to HELD_MAX_BYTES, beyond that in the root's spool (only its
 * index in memory), so out-of-order results never pile up in memory. */

static void heap_swap(struct held *a, struct held *b)
{
    struct held t = *a;
    *a = *b;
    *b = t;
}

static int heap_push(struct steal *s, struct held h)
{
    if (s->nheap == s->capheap) {
        size_t ncap = s->capheap ? s->capheap * 2 : 64;
        struct held *n = realloc(s->heap, ncap * sizeof *n);
        if (!n)
            return MPIMAP_ENOMEM;
        s->heap = n;
        s->capheap = ncap;
    }
    size_t i = s->nheap++;
    s->heap[i] = h;
    while (i > 0 && s->heap[(i - 1) / 2].first > s->heap[i].first) {
        heap_swap(&s->heap[(i - 1) / 2], &s->heap[i]);
        i = (i - 1) / 2;
    }
    return 0;
}

static void heap_pop(struct steal *s)
{
    s->heap[0] = s->heap[--s->nheap];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->nheap && s->heap[l].first < s->heap[m].first)
            m = l;
        if (r < s->nheap && s->heap[r].first < s->heap[m].first)
            m = r;
        if (m == i)
            break;
        heap_swap(&s->heap[i], &s->heap[m]);
        i = m;
    }
}

static int emit_next(struct steal *s, const unsigned char *set, size_t len, uint64_t count)
{
    int rc = mpimap_engine_emit(s->e, set, len);
    s->next += count;
    while (rc == 0 && s->nheap && s->heap[0].first == s->next) {
        struct held h = s->heap[0];
        heap_pop(s);
        const unsigned char *p = h.mem;
        if (!p) {
            if ((rc = mpimap_buf_reserve(&s->tmp, (size_t)h.len)) < 0)
                break;
            if ((rc = spool_read(&s->rsp, h.off, s->tmp.data, (size_t)h.len)) < 0)
                break;
            p = s->tmp.data;
        }
        uint64_t first = 0, n = 0;
        rc = mpimap_results_range(p, (size_t)h.len, &first, &n);
        if (rc == 0)
            rc = mpimap_engine_emit(s->e, p, (size_t)h.len);
        s->next += n;
        if (h.mem) {
            s->held_mem -= (size_t)h.len;
            free(h.mem);
        }
    }
    return rc;
}

static void deliver(struct steal *s, const unsigned char *set, size_t len)
{
    uint64_t first, count;
    int rc = mpimap_results_range(set, len, &first, &count);
    if (rc == 0 && count > 0) {
        s->done += count;
        struct held h = {first, 0, len, NULL};
        if (first == s->next) {
            rc = emit_next(s, set, len, count);
        } else if (s->held_mem + len <= HELD_MAX_BYTES && (h.mem = malloc(len))) {
            memcpy(h.mem, set, len);
            s->held_mem += len;
            if ((rc = heap_push(s, h)) < 0) {
                s->held_mem -= len;
                free(h.mem);
            }
        } else if (s->rsp.fd < 0 && (rc = spool_open(&s->rsp)) < 0) {
            /* reported below */
        } else {
            h.off = s->rsp.end;
            rc = spool_write(&s->rsp, h.off, set, len);
            if (rc == 0) {
                s->rsp.end += len;
                rc = heap_push(s, h);
            }
        }
    }
    if (rc < 0)
        fail(s, rc);
}

/* ---- taking and giving items --------------------------------------------- */

/* Root: the next items of its share still in the input, at most k, into
 * *b; they leave the count of items left. Returns their number, or < 0. */
static long input_take(struct steal *s, size_t k, mpimap_buf *b)
{
    struct queue *q = &s->q;
    if (k > q->input_left)
        k = (size_t)q->input_left;
    long n = mpimap_engine_read(s->e, k, MAX_BATCH_BYTES, b);
    if (n <= 0)
        return n < 0 ? n : shrank();
    q->input_left -= (uint64_t)n;
    q->items -= (uint64_t)n;
    return n;
}

/* The root's share, once no more than TAIL_PER_RANK items per rank of it
 * are left in the input: into the queue, so that thieves take its last
 * items, from the end, as they do from every other rank. (While it stays in
 * the input, only its head can be given: on a list sorted ascending the
 * root ran its longest items, the list's last, one after another at the
 * end, while thieves took the short ones before them.) */
static int q_spill(struct steal *s)
{
    struct queue *q = &s->q;
    while (q->input_left) {
        long n = input_take(s, BATCH_ITEMS, &s->tmp); /* q_push() counts them again */
        if (n < 0)
            return (int)n;
        int rc = q_push(q, get64(s->tmp.data), (uint64_t)n, s->tmp.data + BATCH_HEADER,
                        s->tmp.len - BATCH_HEADER);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Whether the root's share is to be spilled into the queue now. */
static int spill_due(const struct steal *s)
{
    return s->q.input_left && s->q.input_left <= TAIL_PER_RANK * (uint64_t)s->size;
}

/* The next run of at most k items: a batch at *p, *len bytes. Returns the
 * number of items, or < 0. */
static long q_take(struct steal *s, size_t k, const unsigned char **p, size_t *len)
{
    struct queue *q = &s->q;
    if (spill_due(s)) {
        int rc = q_spill(s);
        if (rc < 0)
            return rc;
    }
    if (q->input_left) {
        long n = input_take(s, k, &s->run);
        if (n < 0)
            return n;
        *p = s->run.data;
        *len = s->run.len;
        return n;
    }
    if (q->cur_left == 0) {
        if (q->ns == 0)
            return 0;
        struct seg g = q->seg[q->s0++];
        q->ns--;
        if (g.mem.data) {
            /* Run it where it is. */
            mpimap_buf t = q->cur;
            q->cur = g.mem;
            g.mem = t;
            q->mem -= q->cur.len;
            mpimap_buf_free(&g.mem);
        } else {
            int rc = mpimap_buf_reserve(&q->cur, (size_t)g.len);
            if (rc == 0)
                rc = spool_read(&q->sp, g.off, q->cur.data, (size_t)g.len);
            if (rc < 0)
                return rc;
        }
        q->cur.len = (size_t)g.len;
        q->cur_off = BATCH_HEADER;
        q->cur_end = (size_t)g.len;
        q->cur_first = g.first;
        q->cur_left = g.count;
    }
    if (k > q->cur_left)
        k = (size_t)q->cur_left;
    size_t end = skip_items(q->cur.data, q->cur_off, q->cur_end, k);
    if (!end)
        return MPIMAP_EINVAL;
    /* A header just before the run, over items already run. */
    size_t start = q->cur_off - BATCH_HEADER;
    put64(q->cur.data + start, q->cur_first);
    put64(q->cur.data + start + 8, k);
    *p = q->cur.data + start;
    *len = end - start;
    q->cur_off = end;
    q->cur_first += k;
    q->cur_left -= k;
    q->items -= k;
    return (long)k;
}

static int loot_add(mpimap_buf *loot, uint64_t first, uint64_t count,
                    const unsigned char *items, size_t len)
{
    size_t at = loot->len, blen = BATCH_HEADER + len;
    int rc = mpimap_buf_reserve(loot, at + 8 + blen);
    if (rc < 0)
        return rc;
    put64(loot->data + at, blen);
    put64(loot->data + at + 8, first);
    put64(loot->data + at + 16, count);
    memcpy(loot->data + at + 8 + BATCH_HEADER, items, len);
    loot->len = at + 8 + blen;
    return 0;
}

/* Give up to want items from the end of the queue (the head of the root's
 * input share): append them to *loot, at most about LOOT_MAX_BYTES. The
 * pieces go in index order. */
static int q_give(struct steal *s, uint64_t want, mpimap_buf *loot)
{
    struct queue *q = &s->q;
    if (spill_due(s)) {
        int rc = q_spill(s);
        if (rc < 0)
            return rc;
    }
    if (q->input_left) {
        /* The root's input: only its head can be read. */
        while (want > 0 && loot->len < LOOT_MAX_BYTES) {
            long n = input_take(s, want < BATCH_ITEMS ? (size_t)want : BATCH_ITEMS, &s->tmp);
            if (n < 0)
                return (int)n;
            want -= (uint64_t)n;
            int rc = loot_add(loot, get64(s->tmp.data), (uint64_t)n,
                              s->tmp.data + BATCH_HEADER, s->tmp.len - BATCH_HEADER);
            if (rc < 0)
                return rc;
            if (!q->input_left)
                break;
        }
        return 0;
    }
    /* Whole batches from the end, then a split one; they are taken last to
     * first, so note where they go and write them in index order. */
    size_t nwhole = 0, bytes = 0;
    while (want > 0 && nwhole < q->ns) {
        const struct seg *g = &q->seg[q->s0 + q->ns - 1 - nwhole];
        if (g->count > want)
            break;
        if (bytes && bytes + g->len > LOOT_MAX_BYTES) {
            want = 0; /* enough for one answer */
            break;
        }
        want -= g->count;
        bytes += (size_t)g->len + 8;
        nwhole++;
    }
    /* Split: the last `want` items of the batch before the whole ones (or of
     * the batch being run). */
    if (want > 0) {
        const unsigned char *b;
        size_t off, end;
        uint64_t first, left;
        struct seg *g = NULL;
        if (nwhole < q->ns) {
            g = &q->seg[q->s0 + q->ns - 1 - nwhole];
            int rc = q_load(q, g, &s->tmp, &b);
            if (rc < 0)
                return rc;
            off = BATCH_HEADER;
            end = (size_t)g->len;
            first = g->first;
            left = g->count;
        } else {
            b = q->cur.data;
            off = q->cur_off;
            end = q->cur_end;
            first = q->cur_first;
            left = q->cur_left;
        }
        if (want > left)
            want = left;
        uint64_t keep = left - want;
        size_t at = skip_items(b, off, end, keep);
        if (!at || (want && !skip_items(b, at, end, want)))
            return MPIMAP_EINVAL;
        if (want) {
            int rc = loot_add(loot, first + keep, want, b + at, end - at);
            if (rc < 0)
                return rc;
            if (g) {
                g->count = keep;
                g->len = at;
                if (g->mem.data) {
                    q->mem -= g->mem.len - at;
                    g->mem.len = at;
                }
            } else {
                q->cur_end = at;
                q->cur_left = keep;
            }
            q->items -= want;
        }
    }
    /* The whole batches, in index order, read from the spool. */
    for (size_t i = nwhole; i > 0; i--) {
        struct seg *g = &q->seg[q->s0 + q->ns - i];
        const unsigned char *b;
        int rc = q_load(q, g, &s->tmp, &b);
        if (rc == 0)
            rc = loot_add(loot, g->first, g->count, b + BATCH_HEADER,
                          (size_t)g->len - BATCH_HEADER);
        if (rc < 0)
            return rc;
        q->items -= g->count;
        q_drop(q, g);
    }
    q->ns -= nwhole;
    return 0;
}

/* ---- messages ------------------------------------------------------------ */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rnd(struct steal *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

/* The victim: the rank that said it had the most items left, where a rank
 * that has not said counts as having many (ties at random). */
static int victim(struct steal *s)
{
    int best = -1;
    uint64_t most = 0, ties = 0;
    for (int v = 0; v < s->size; v++) {
        if (v == s->rank || s->asked[v])
            continue;
        uint64_t has = s->load[v];
        if (best < 0 || has > most) {
            best = v;
            most = has;
            ties = 1;
        } else if (has == most && rnd(s) % ++ties == 0) {
            best = v;
        }
    }
    return best;
}

static void ask(struct steal *s)
{
    int v = victim(s);
    if (v < 0)
        return;
    unsigned char m[16];
    put64(m, s->q.items + wt_items(s->wt));
    memcpy(m + 8, &s->mean, sizeof s->mean);
    send_small(s, v, TAG_ASK, m, sizeof m);
    s->asking++;
    s->asked[v] = 1;
}

/* The run going on here, in items still to run: as many as it has run for
 * already at the mean item time (ours, or the thief's while we have timed
 * none). What is left of a long item is about as long as what has run (on
 * heavy tails), so a victim busy with one gives more than half of its
 * queue: on a list sorted longest first, the rank with the longest item
 * kept the next longest ones queued behind it (on 4 ranks, 0.79 on one
 * such list where dealing in order reached 1.00, now 0.98; suite.sh's
 * heavydesc list 0.954, now 0.988). Of a run of short items it
 * overcounts by at most the run (about TARGET_SECONDS of items). */
static double running_items(struct steal *s, double their_mean)
{
    double mean = s->mean > 0 ? s->mean : their_mean;
    return mean > 0 ? wt_running_for(s->wt) / mean : 0;
}

/* A run taken back from the compute thread: into the queue again. */
static int put_back(void *ctx, const mpimap_buf *b, uint64_t count)
{
    struct steal *s = ctx;
    if (b->len < BATCH_HEADER || get64(b->data + 8) != count)
        return MPIMAP_EINVAL;
    return q_push(&s->q, get64(b->data), count, b->data + BATCH_HEADER,
                  b->len - BATCH_HEADER);
}

/* A run waiting in the compute thread behind one that has run for more
 * than twice as long as a run should (about TARGET_SECONDS, or one item at
 * the mean) is where no thief can take it: take it back into the queue,
 * so that the thief asking now, with nothing left, may (not for a thief
 * asking ahead: a run taken back and fed again at every request would be
 * copied for nothing). On suite.sh's bimodal list (4 ranks,
 * items of 4.8 ms and one in ten of 143 ms; the mean of the short ones
 * under WT_LONG_ITEM_SECONDS, so a run waits behind the running one) two
 * long items ran one after the other on one rank while another had run
 * dry, in two runs of three: 0.890. */
static void reclaim_waiting(struct steal *s)
{
    double run = s->mean > TARGET_SECONDS ? s->mean : TARGET_SECONDS;
    if (!wt_queued(s->wt) || wt_running_for(s->wt) < 2 * run)
        return;
    int rc = wt_reclaim(s->wt, put_back, s);
    if (rc < 0)
        fail(s, rc); /* the runs not put back are lost: the map fails */
}

static void answer(struct steal *s, int thief, const mpimap_buf *m)
{
    uint64_t theirs = m->len >= 8 ? get64(m->data) : 0, want = 0;
    double their_mean = -1;
    if (m->len >= 16)
        memcpy(&their_mean, m->data + 8, sizeof their_mean);
    int can = !s->stopping && !s->broken && s->loot_out < LOOT_IN_FLIGHT;
    if (can && theirs == 0)
        reclaim_waiting(s);
    if (can && s->q.items) {
        double w = ((double)s->q.items + running_items(s, their_mean) - (double)theirs + 1) / 2;
        want = w >= (double)s->q.items ? s->q.items : w >= 1 ? (uint64_t)w : 0;
    }
    mpimap_buf loot = {0};
    if (mpimap_buf_reserve(&loot, 8) < 0)
        die(s);
    loot.len = 8;
    if (want) {
        int rc = q_give(s, want, &loot);
        if (rc < 0) {
            /* Whatever was taken out is lost: the map fails. */
            loot.len = 8;
            fail(s, rc);
        }
    }
    /* What we have left, for the thief's choice of its next victim. */
    put64(loot.data, s->broken || s->stopping ? 0 : s->q.items);
    post(s, thief, TAG_LOOT, &loot);
    mpimap_buf_free(&loot);
}

static void take_loot(struct steal *s, int from, const mpimap_buf *m)
{
    s->asking--;
    s->asked[from] = 0;
    s->load[from] = m->len >= 8 ? get64(m->data) : 0;
    if (m->len <= 8) {
        s->ask_after = now() + (double)s->nap * 1e-9;
        s->nap = s->nap * 2 > NAP_MAX_NS ? NAP_MAX_NS : s->nap * 2;
        return;
    }
    s->nap = NAP_MIN_NS;
    s->ask_after = 0;
    if (s->stopping || s->broken)
        return;
    size_t off = 8;
    while (off < m->len) {
        uint64_t blen = m->len - off >= 8 ? get64(m->data + off) : 0, first, count;
        if (blen < BATCH_HEADER || blen > m->len - off - 8) {
            fail(s, MPIMAP_EINVAL);
            return;
        }
        const unsigned char *b = m->data + off + 8;
        first = get64(b);
        count = get64(b + 8);
        int rc = q_push(&s->q, first, count, b + BATCH_HEADER, (size_t)blen - BATCH_HEADER);
        if (rc < 0) {
            fail(s, rc);
            return;
        }
        off += 8 + (size_t)blen;
    }
}

static void dispatch(struct steal *s, struct msg *m, int from)
{
    switch (m->tag) {
    case TAG_ASK:
        answer(s, from, &m->buf);
        break;
    case TAG_LOOT:
        take_loot(s, from, &m->buf);
        break;
    case TAG_RESULT:
        if (!s->stopping && !s->err)
            deliver(s, m->buf.data, m->buf.len);
        break;
    case TAG_FAIL:
        if (!s->err) {
            int32_t code = MPIMAP_EINVAL;
            if (m->buf.len >= sizeof code)
                memcpy(&code, m->buf.data, sizeof code);
            s->err = code < 0 ? code : MPIMAP_EINVAL;
        }
        break;
    default:
        break;
    }
}

/* Take every message that has come, finish what has completed. Returns
 * the number of messages taken. */
static int progress(struct steal *s)
{
    int got = 0;
    static const int root_tags[] = {TAG_ASK, TAG_LOOT, TAG_RESULT, TAG_FAIL};
    int ntags = s->rank == s->root ? 4 : 2;
    for (int t = 0; t < ntags; t++) {
        for (;;) {
            int flag = 0, n = 0;
            MPI_Status st;
            MPI_Iprobe(MPI_ANY_SOURCE, root_tags[t], s->comm, &flag, &st);
            if (!flag)
                break;
            MPI_Get_count(&st, MPI_BYTE, &n);
            struct msg *m = slot(s, &s->in, &s->nin);
            if (mpimap_buf_reserve(&m->buf, n > 0 ? (size_t)n : 1) < 0)
                die(s);
            m->buf.len = (size_t)n;
            m->tag = root_tags[t];
            MPI_Irecv(m->buf.data, n, MPI_BYTE, st.MPI_SOURCE, root_tags[t], s->comm,
                      &m->req);
        }
    }
    for (size_t i = 0; i < s->nin; i++) {
        struct msg *m = &s->in[i];
        int flag = 0;
        MPI_Status st;
        if (m->req == MPI_REQUEST_NULL)
            continue;
        MPI_Test(&m->req, &flag, &st);
        if (flag) {
            dispatch(s, m, st.MPI_SOURCE); /* may grow s->out, never s->in */
            got++;
        }
    }
    for (size_t i = 0; i < s->nout; i++) {
        struct msg *m = &s->out[i];
        int flag = 0;
        if (m->req == MPI_REQUEST_NULL)
            continue;
        MPI_Test(&m->req, &flag, MPI_STATUS_IGNORE);
        if (flag) {
            s->loot_out -= m->kind == K_LOOT;
            s->results_out -= m->kind == K_RESULT;
            if (m->kind == K_RESULT)
                s->results_bytes -= m->buf.len;
            m->kind = 0;
        }
    }
    if (s->rank != s->root && !s->stopping) {
        int flag = 0;
        MPI_Test(&s->stop, &flag, MPI_STATUS_IGNORE);
        if (flag)
            s->stopping = 1;
    }
    return got;
}

static int busy(const struct steal *s)
{
    for (size_t i = 0; i < s->nin; i++)
        if (s->in[i].req != MPI_REQUEST_NULL)
            return 1;
    for (size_t i = 0; i < s->nout; i++)
        if (s->out[i].req != MPI_REQUEST_NULL)
            return 1;
    return s->asking || s->stop != MPI_REQUEST_NULL || wt_inflight(s->wt);
}

/* ---- running ------------------------------------------------------------- */

static size_t run_size(struct steal *s)
{
    if (s->user)
        return s->user;
    if (s->mean < 0) {
        size_t k = s->ramp;
        if (s->ramp < MAX_RUN)
            s->ramp *= 2;
        return k;
    }
    double k = s->mean > 0 ? TARGET_SECONDS / s->mean : (double)MAX_RUN;
    return k < 1 ? 1 : k > (double)MAX_RUN ? MAX_RUN : (size_t)k;
}

/* Ask for more once no more than this many items are left: the last
 * ASK_AHEAD_ITEMS items, or about ASK_AHEAD_SECONDS of them. */
static uint64_t low_water(const struct steal *s)
{
    if (s->mean < 0)
        return 0;
    double k = s->mean > 0 ? ASK_AHEAD_SECONDS / s->mean : (double)MAX_RUN;
    if (k > (double)MAX_RUN)
        k = (double)MAX_RUN;
    return k > ASK_AHEAD_ITEMS ? (uint64_t)k : ASK_AHEAD_ITEMS;
}

/* Hand the compute thread its next run, while it has fewer than AHEAD runs
 * waiting: the rest of the queue stays here, for thieves. With items of
 * WT_LONG_ITEM_SECONDS or more, none waits: the next one is handed over when
 * the last one ends (the main thread is woken at once; the hand-over costs
 * some 0.1 ms against items of 5 ms and more), so a thief can take every
 * item not yet running. So too while no item has been timed: the first
 * item of a list sorted longest first kept the second queued behind it.
 * Returns whether it handed one. */
static int feed(struct steal *s)
{
    int fed = 0;
    int longish = (s->mean < 0 || s->mean >= WT_LONG_ITEM_SECONDS) && !s->user;
    while (!s->broken && s->q.items && s->results_out < RESULTS_IN_FLIGHT &&
           s->results_bytes < RESULT_BYTES_IN_FLIGHT &&
           (longish ? wt_inflight(s->wt) == 0 : wt_queued(s->wt) < AHEAD)) {
        mpimap_buf *b = wt_next(s->wt);
        if (!b)
            break;
        const unsigned char *p;
        size_t len;
        long n = q_take(s, run_size(s), &p, &len);
        if (n <= 0) {
            if (n < 0)
                fail(s, (int)n);
            break;
        }
        if (mpimap_buf_reserve(b, len) < 0) {
            fail(s, MPIMAP_ENOMEM); /* those items are lost: the map fails */
            break;
        }
        memcpy(b->data, p, len);
        b->len = len;
        wt_push(s->wt, (uint64_t)n);
        fed = 1;
    }
    return fed;
}

/* Take the result sets of the runs that ended: to the root (or, at the
 * root, toward the output). After the outcome, or once this rank is
 * broken, they are dropped. Returns whether any came. */
static int collect(struct steal *s)
{
    int rc, got = 0;
    uint64_t n;
    while (wt_take(s->wt, &s->res, &rc, &n)) {
        got = 1;
        if (rc < 0) {
            fail(s, rc);
            continue;
        }
        if (s->stopping || s->broken)
            continue;
        double per = n ? mpimap_results_busy(s->res.data, s->res.len) / (double)n : 0.0;
        s->mean = s->mean < 0 ? per : 0.7 * s->mean + 0.3 * per;
        if (s->rank == s->root)
            deliver(s, s->res.data, s->res.len);
        else
            post(s, s->root, TAG_RESULT, &s->res);
    }
    return got;
}

/* Ask for items: ahead, once what this rank holds (queued here and in the
 * compute thread) is down to the low water mark, with one request out; or,
 * with nothing at all, with up to ASKS requests out. Not before
 * ask_after (after a refusal). */
static int maybe_ask(struct steal *s)
{
    if (s->broken || s->stopping || now() < s->ask_after)
        return 0;
    uint64_t have = s->q.items + wt_items(s->wt);
    if (have ? s->asking || have > low_water(s)
             : s->asking >= ASKS || s->asking >= s->size - 1)
        return 0;
    int before = s->asking;
    ask(s);
    return s->asking != before;
}

/* Root: the input must end where it was counted. Reading past the end also
 * tells the engine that the whole input was read. */
static int at_end(struct steal *s)
{
    long more = mpimap_engine_read(s->e, 1, MAX_BATCH_BYTES, &s->tmp);
    if (more > 0)
        fprintf(stderr, "mpimap: steal: the input grew while it was mapped\n");
    return more > 0 ? MPIMAP_EINVAL : (int)more;
}

/* The work loop, then the drain (see the top of the file). The main
 * thread never blocks in it: it answers, takes, feeds and asks, and naps
 * when nothing happened (waking at once when a run ends). */
static void work(struct steal *s)
{
    int is_root = s->rank == s->root, got = 0;
    while (!s->stopping) {
        got |= progress(s);
        got |= collect(s);
        if (is_root && (s->err || s->done == s->total)) {
            if (!s->err && s->nheap)
                s->err = MPIMAP_EINVAL; /* a gap: cannot happen */
            if (!s->err)
                s->err = at_end(s);
            s->outcome = s->err;
            s->stopping = 1;
            MPI_Ibcast(&s->outcome, 1, MPI_INT, s->root, s->comm, &s->stop);
            break;
        }
        if (s->stopping)
            break;
        got |= feed(s);
        got |= maybe_ask(s);
        got |= wt_pump(s->wt);
        /* With nothing to run: waiting for a share. */
        wt_idle(s->wt, &s->idle, got, !wt_inflight(s->wt));
        got = 0;
    }
    /* No more runs: drop those not started (on success there are none),
     * wait for the one running, whose results are dropped. */
    wt_reclaim(s->wt, NULL, NULL);
    for (;;) {
        got = progress(s);
        got |= collect(s);
        if (s->stop != MPI_REQUEST_NULL) {
            int flag = 0;
            MPI_Test(&s->stop, &flag, MPI_STATUS_IGNORE);
        }
        if (!busy(s))
            break;
        wt_idle(s->wt, &s->idle, got, 0);
    }
    MPI_Request bar;
    MPI_Ibarrier(s->comm, &bar);
    for (int flag = 0;;) {
        got = progress(s);
        MPI_Test(&bar, &flag, MPI_STATUS_IGNORE);
        if (flag)
            break;
        wt_idle(s->wt, &s->idle, got, 0);
    }
    while (busy(s))
        wt_idle(s->wt, &s->idle, progress(s), 0);
}

/* ---- the shares ------------------------------------------------------------ */

static uint64_t share_size(uint64_t n, int size, int k)
{
    return n / (uint64_t)size + ((uint64_t)k < n % (uint64_t)size ? 1 : 0);
}

static const unsigned char end_mark[BATCH_HEADER];

/* Root: deal the shares. Counted: ranks root+1, root+2, ... get the first
 * shares, in input order, and the root keeps the last one in the input.
 * Not counted: the root spools everything, and the others start with
 * nothing. The workers are always sent their end mark. */
static int deal_shares(struct steal *s)
{
    uint64_t n = 0;
    int counted = mpimap_engine_count(s->e, &n) == 0;
    int err = 0;
    for (int i = 1; i < s->size; i++) {
        int k = (s->root + i) % s->size;
        uint64_t left = counted ? share_size(n, s->size, i - 1) : 0;
        while (left > 0 && !err) {
            long got = mpimap_engine_read(s->e, left < BATCH_ITEMS ? (size_t)left : BATCH_ITEMS,
                                          MAX_BATCH_BYTES, &s->tmp);
            if (got <= 0) {
                err = got < 0 ? (int)got : shrank();
                break;
            }
            MPI_Send(s->tmp.data, (int)s->tmp.len, MPI_BYTE, k, TAG_SHARE, s->comm);
            left -= (uint64_t)got;
        }
        MPI_Send(end_mark, (int)sizeof end_mark, MPI_BYTE, k, TAG_SHARE, s->comm);
    }
    if (err)
        return err;
    if (counted) {
        s->total = n;
        s->q.input_left = share_size(n, s->size, s->size - 1);
        s->q.items = s->q.input_left;
        return 0;
    }
    /* Not counted (not rewindable): everything into our spool. */
    long got;
    while ((got = mpimap_engine_read(s->e, BATCH_ITEMS, MAX_BATCH_BYTES, &s->tmp)) > 0) {
        int rc = q_push(&s->q, get64(s->tmp.data), (uint64_t)got,
                        s->tmp.data + BATCH_HEADER, s->tmp.len - BATCH_HEADER);
        if (rc < 0)
            return rc;
        s->total += (uint64_t)got;
    }
    return got < 0 ? (int)got : 0;
}

/* A worker: take the share into the spool (blocking receives: nothing else
 * runs yet, and the root sends the share before anything else). */
static int take_share(struct steal *s)
{
    int err = 0;
    for (;;) {
        MPI_Status st;
        int n = 0;
        MPI_Probe(s->root, TAG_SHARE, s->comm, &st);
        MPI_Get_count(&st, MPI_BYTE, &n);
        if (mpimap_buf_reserve(&s->tmp, n > 0 ? (size_t)n : 1) < 0)
            die(s);
        MPI_Recv(s->tmp.data, n, MPI_BYTE, s->root, TAG_SHARE, s->comm, MPI_STATUS_IGNORE);
        uint64_t first, count;
        if (mpimap_batch_range(s->tmp.data, (size_t)n, &first, &count) < 0) {
            err = err ? err : MPIMAP_EINVAL;
            continue; /* cannot happen; wait for the end mark */
        }
        if (count == 0)
            break;
        if (!err)
            err = q_push(&s->q, first, count, s->tmp.data + BATCH_HEADER,
                         (size_t)n - BATCH_HEADER);
    }
    return err;
}

static int steal_map(mpimap_engine *e)
{
    struct steal s;
    memset(&s, 0, sizeof s);
    s.e = e;
    s.comm = mpimap_engine_comm(e);
    s.root = mpimap_engine_root(e);
    s.size = 1;
    if (s.comm != MPI_COMM_NULL) {
        MPI_Comm_rank(s.comm, &s.rank);
        MPI_Comm_size(s.comm, &s.size);
    }
    if (s.size == 1)
        return mpimap_engine_serial(e);
    s.q.sp.fd = -1;
    s.rsp.fd = -1;
    s.stop = MPI_REQUEST_NULL;
    s.rng = 0x9e3779b97f4a7c15ull * (uint64_t)(s.rank + 1);
    s.nap = NAP_MIN_NS;
    s.idle = WT_NAP_MIN_NS;
    s.user = mpimap_engine_chunk(e);
    s.mean = -1.0;
    s.ramp = 1;

    int err = spool_open(&s.q.sp);
    s.load = malloc((size_t)s.size * sizeof *s.load);
    s.asked = calloc((size_t)s.size, 1);
    if ((!s.load || !s.asked) && !err)
        err = MPIMAP_ENOMEM;
    for (int v = 0; s.load && v < s.size; v++)
        s.load[v] = UINT64_MAX;
    int is_root = s.rank == s.root;
    if (is_root) {
        int rc = deal_shares(&s);
        s.err = err ? err : rc;
    } else {
        int rc = take_share(&s);
        if (!err)
            err = rc;
        MPI_Ibcast(&s.outcome, 1, MPI_INT, s.root, s.comm, &s.stop);
        if (err)
            fail(&s, err);
    }
    s.wt = wt_start(e, AHEAD + 2);
    if (!s.wt) {
        fprintf(stderr, "mpimap: steal: rank %d out of memory\n", s.rank);
        MPI_Abort(s.comm, 1);
        return MPIMAP_ENOMEM;
    }
    work(&s);
    wt_stop(s.wt);
    int rc = is_root ? s.outcome : (s.outcome ? s.outcome : s.err);
    spool_close(&s.q.sp);
    spool_close(&s.rsp);
    mpimap_buf_free(&s.q.cur);
    for (size_t i = 0; i < s.q.ns; i++)
        q_drop(&s.q, &s.q.seg[s.q.s0 + i]);
    free(s.q.seg);
    for (size_t i = 0; i < s.nout; i++)
        mpimap_buf_free(&s.out[i].buf);
    for (size_t i = 0; i < s.nin; i++)
        mpimap_buf_free(&s.in[i].buf);
    free(s.out);
    free(s.in);
    for (size_t i = 0; i < s.nheap; i++)
        free(s.heap[i].mem);
    free(s.heap);
    free(s.load);
    free(s.asked);
    mpimap_buf_free(&s.run);
    mpimap_buf_free(&s.res);
    mpimap_buf_free(&s.tmp);
    return rc;
}

static const struct mpimap_strategy_ops steal_ops = {
    sizeof(struct mpimap_strategy_ops),
    steal_map,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_STRATEGY, "steal", "1.0.0",
                     "work stealing: equal shares, idle ranks take half of another's",
                     NULL, NULL, NULL, &steal_ops);
