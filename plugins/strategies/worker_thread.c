/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * worker_thread.c - a rank's compute thread (see worker_thread.h).
 *
 * The ring's counters only grow: pushed (by the main thread), started and
 * finished (by the compute thread), taken (by the main thread); slot i is
 * counter i % nslots. All four are read and written under the mutex. The
 * condition variables are signalled only when the other side sleeps on
 * them (its `*_waits` flag), so a batch handed over costs a lock and an
 * unlock on each side, and a wake-up only when a thread slept. A batch
 * whose items have been quick (WT_INLINE_SECONDS for the whole batch) is
 * left to the main thread's next wt_pump() when the compute thread is
 * idle: waking a thread costs more than a trivial item; wt_idle() hands
 * it to the compute thread if the main thread has nothing else to do.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

#include <mpimap/mpimap.h>

#include "worker_thread.h"

struct slot {
    mpimap_buf batch, results;
    uint64_t count;
    int rc;
    double per_item; /* seconds per item of this batch, as run */
};

struct wt {
    mpimap_engine *e;
    struct slot *slot;
    unsigned nslots;
    int threaded;
    /* under mu */
    pthread_mutex_t mu;
    pthread_cond_t work;   /* compute thread: a batch was pushed, or stop */
    pthread_cond_t done;   /* main thread: a batch finished */
    unsigned pushed, started, finished, taken;
    int work_waits, done_waits, quit;
    double per_item, last_per_item; /* EWMA and last batch's; < 0 unknown */
    double run_start;               /* mono() when the batch running now started */
    pthread_t th;
    /* main thread only */
    uint64_t items;
};

static void lock(struct wt *w)
{
    if (w->threaded)
        pthread_mutex_lock(&w->mu);
}

static void unlock(struct wt *w)
{
    if (w->threaded)
        pthread_mutex_unlock(&w->mu);
}

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Run a batch that started at t0 (mono()). */
static void run_slot(struct wt *w, struct slot *s, double t0)
{
    s->rc = mpimap_engine_run(w->e, s->batch.data, s->batch.len, &s->results);
    s->per_item = (mono() - t0) / (double)(s->count ? s->count : 1);
}

/* A batch ended (mu held when threaded): how long its items took. */
static void note_time(struct wt *w, const struct slot *s)
{
    w->last_per_item = s->per_item;
    w->per_item = w->per_item < 0 ? s->per_item : 0.8 * w->per_item + 0.2 * s->per_item;
}

/* Is the next batch (not started) quick enough for the main thread to run
 * it itself, making no MPI call for that long, while the compute thread
 * has nothing running (mu held)? Only once items have been timed, and only
 * when the recent mean and the last batch both say so. */
static int quick_next(const struct wt *w)
{
    if (w->started == w->pushed || w->finished != w->started || w->per_item < 0 ||
        w->last_per_item < 0)
        return 0;
    double per = w->per_item > w->last_per_item ? w->per_item : w->last_per_item;
    return per * (double)w->slot[w->started % w->nslots].count <= WT_INLINE_SECONDS;
}

/* Run the next batch pushed and not started, without the lock while it
 * runs (mu held on entry and on return, when threaded). */
static void run_next(struct wt *w)
{
    struct slot *s = &w->slot[w->started++ % w->nslots];
    double t0 = w->run_start = mono();
    unlock(w);
    run_slot(w, s, t0);
    lock(w);
    note_time(w, s);
    w->finished++;
}

static void *compute(void *arg)
{
    struct wt *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->quit && w->started == w->pushed) {
            w->work_waits = 1;
            pthread_cond_wait(&w->work, &w->mu);
            w->work_waits = 0;
        }
        if (w->quit)
            break;
        run_next(w);
        if (w->done_waits)
            pthread_cond_signal(&w->done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Whether to run a thread: MPIMAP_COMPUTE_THREAD=0/1 decides; otherwise
 * MPI must allow threads (FUNNELED or more: only the main thread calls
 * MPI; the compute thread never does). */
static int want_thread(void)
{
    const char *env = getenv("MPIMAP_COMPUTE_THREAD");
    if (env && *env)
        return strcmp(env, "0") != 0;
    int init = 0, fin = 0, level = MPI_THREAD_SINGLE;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (!init || fin)
        return 0;
    MPI_Query_thread(&level);
    return level >= MPI_THREAD_FUNNELED;
}

struct wt *wt_start(mpimap_engine *e, unsigned slots)
{
    struct wt *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->e = e;
    w->per_item = w->last_per_item = -1;
    w->nslots = slots ? slots : 1;
    w->slot = calloc(w->nslots, sizeof *w->slot);
    if (!w->slot) {
        free(w);
        return NULL;
    }
    if (!want_thread())
        return w;
    pthread_condattr_t ca;
    int ok = pthread_mutex_init(&w->mu, NULL) == 0;
    if (ok && pthread_condattr_init(&ca) == 0) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        ok = pthread_cond_init(&w->work, &ca) == 0;
        ok = ok && pthread_cond_init(&w->done, &ca) == 0;
        pthread_condattr_destroy(&ca);
        /* The mutex and both condition variables are inited here, or
         * none is used (and, being plain memory, none needs destroying
         * on Linux; the inline mode never touches them). */
        w->threaded = ok && pthread_create(&w->th, NULL, compute, w) == 0;
    }
    return w;
}

void wt_stop(struct wt *w)
{
    if (!w)
        return;
    if (w->threaded) {
        pthread_mutex_lock(&w->mu);
        w->pushed = w->started; /* drop what has not started */
        w->quit = 1;
        pthread_cond_signal(&w->work);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->th, NULL);
        pthread_cond_destroy(&w->work);
        pthread_cond_destroy(&w->done);
        pthread_mutex_destroy(&w->mu);
    }
    for (unsigned i = 0; i < w->nslots; i++) {
        mpimap_buf_free(&w->slot[i].batch);
        mpimap_buf_free(&w->slot[i].results);
    }
    free(w->slot);
    free(w);
}

int wt_threaded(const struct wt *w) { return w->threaded; }

mpimap_buf *wt_next(struct wt *w)
{
    /* pushed - taken only changes here and in wt_take() (main thread);
     * wt_reclaim() lowers pushed, also on the main thread. */
    lock(w);
    unsigned used = w->pushed - w->taken;
    unsigned at = w->pushed;
    unlock(w);
    if (used >= w->nslots)
        return NULL;
    mpimap_buf *b = &w->slot[at % w->nslots].batch;
    b->len = 0;
    return b;
}

void wt_push(struct wt *w, uint64_t count)
{
    lock(w);
    w->slot[w->pushed % w->nslots].count = count;
    w->pushed++;
    /* A quick batch is left for wt_pump() on this thread: waking the
     * compute thread would cost more than its items. */
    if (w->work_waits && !quick_next(w))
        pthread_cond_signal(&w->work);
    unlock(w);
    w->items += count;
}

int wt_pump(struct wt *w)
{
    if (!w->threaded) {
        if (w->started == w->pushed)
            return 0;
        run_next(w);
        return 1;
    }
    pthread_mutex_lock(&w->mu);
    if (!quick_next(w)) {
        /* Not for this thread after all (its items got slower): wake the
         * compute thread if it sleeps on a batch. */
        if (w->started != w->pushed && w->work_waits)
            pthread_cond_signal(&w->work);
        pthread_mutex_unlock(&w->mu);
        return 0;
    }
    /* Taken as started: the compute thread never sees it. */
    run_next(w);
    pthread_mutex_unlock(&w->mu);
    return 1;
}

int wt_take(struct wt *w, mpimap_buf *results, int *rc, uint64_t *count)
{
    lock(w);
    int have = w->taken != w->finished;
    unlock(w);
    if (!have)
        return 0;
    /* The slot is ours until taken is bumped: the compute thread is done
     * with it, and the main thread does not refill it before. */
    struct slot *s = &w->slot[w->taken % w->nslots];
    mpimap_buf t = *results;
    *results = s->results;
    s->results = t;
    *rc = s->rc;
    *count = s->count;
    w->items -= s->count;
    lock(w);
    w->taken++;
    unlock(w);
    return 1;
}

int wt_reclaim(struct wt *w, int (*put)(void *ctx, const mpimap_buf *batch, uint64_t count),
               void *ctx)
{
    lock(w);
    unsigned from = w->started, to = w->pushed;
    w->pushed = w->started; /* the compute thread starts none of them now */
    unlock(w);
    /* Their slots are the main thread's again, untouched until wt_next(). */
    int rc = 0;
    for (unsigned i = from; i != to; i++) {
        struct slot *s = &w->slot[i % w->nslots];
        w->items -= s->count;
        if (rc == 0 && put)
            rc = put(ctx, &s->batch, s->count);
    }
    return rc;
}

unsigned wt_inflight(const struct wt *w)
{
    /* Only the main thread changes pushed and taken: no lock needed. */
    return w->pushed - w->taken;
}

double wt_running_for(struct wt *w)
{
    lock(w);
    double t = w->finished != w->started ? mono() - w->run_start : 0;
    unlock(w);
    return t;
}

unsigned wt_queued(struct wt *w)
{
    lock(w);
    unsigned q = w->pushed - w->started;
    unlock(w);
    return q;
}

uint64_t wt_items(const struct wt *w) { return w->items; }

static void nap(long ns)
{
    struct timespec t = {ns / 1000000000L, ns % 1000000000L};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

void wt_idle(struct wt *w, long *ns, int got, int waiting)
{
    if (got) {
        *ns = WT_NAP_MIN_NS;
        return;
    }
    long wait = *ns < WT_NAP_MIN_NS ? WT_NAP_MIN_NS : *ns;
    if (waiting && wait > WT_NAP_WAITING_NS)
        wait = WT_NAP_WAITING_NS;
    *ns = wait * 2 > WT_NAP_MAX_NS ? WT_NAP_MAX_NS : wait * 2;
    if (!w || !w->threaded) {
        nap(wait);
        return;
    }
    pthread_mutex_lock(&w->mu);
    /* A batch left for wt_pump() never waits for it: hand it over. */
    if (w->started != w->pushed && w->work_waits)
        pthread_cond_signal(&w->work);
    if (w->taken == w->finished && w->pushed != w->taken) {
        /* A batch is in flight: its end wakes us at once. */
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_nsec += wait;
        t.tv_sec += t.tv_nsec / 1000000000L;
        t.tv_nsec %= 1000000000L;
        w->done_waits = 1;
        while (w->taken == w->finished)
            if (pthread_cond_timedwait(&w->done, &w->mu, &t) == ETIMEDOUT)
                break;
        w->done_waits = 0;
        pthread_mutex_unlock(&w->mu);
        return;
    }
    int ready = w->taken != w->finished;
    pthread_mutex_unlock(&w->mu);
    if (!ready)
        nap(wait);
}

/* ---- a rank dealt to: run what comes, send the results back -------------- */

int wt_serve(mpimap_engine *e, MPI_Comm comm, int root, int tag_work, int tag_result,
             unsigned depth)
{
    struct wt *w = wt_start(e, depth);
    mpimap_buf *res = calloc(depth, sizeof *res);
    MPI_Request *req = malloc(depth * sizeof *req);
    if (!w || !res || !req) {
        /* We cannot even take the messages; give up. */
        MPI_Abort(comm, 1);
        return MPIMAP_ENOMEM;
    }
    for (unsigned k = 0; k < depth; k++)
        req[k] = MPI_REQUEST_NULL;
    int err = 0, stopping = 0;
    unsigned sent = 0;
    long nap = WT_NAP_MIN_NS;
    while (!stopping || wt_inflight(w)) {
        int got = 0, flag = 1;
        /* Take what the root sent, straight into the ring. */
        mpimap_buf *in;
        while (!stopping && (in = wt_next(w)) != NULL) {
            MPI_Status st;
            int n = 0;
            MPI_Iprobe(root, tag_work, comm, &flag, &st);
            if (!flag)
                break;
            MPI_Get_count(&st, MPI_BYTE, &n);
            if (mpimap_buf_reserve(in, n > 16 ? (size_t)n : 16) < 0)
                MPI_Abort(comm, 1);
            MPI_Recv(in->data, n, MPI_BYTE, root, tag_work, comm, MPI_STATUS_IGNORE);
            in->len = (size_t)n;
            got = 1;
            uint64_t first = 0, count = 0;
            if (mpimap_batch_range(in->data, in->len, &first, &count) < 0 || count == 0)
                stopping = 1; /* the root sends it once every result is back */
            else
                wt_push(w, count);
        }
        /* Send back what is done, in order. */
        for (;;) {
            unsigned k = sent % depth;
            if (req[k] != MPI_REQUEST_NULL) {
                MPI_Test(&req[k], &flag, MPI_STATUS_IGNORE);
                if (!flag)
                    break;
            }
            int rc;
            uint64_t count;
            if (!wt_take(w, &res[k], &rc, &count))
                break;
            if (rc < 0) {
                /* Answer with an empty result set so the root is not left
                 * waiting; the error is reported by the broadcast below. */
                err = rc;
                if (mpimap_buf_reserve(&res[k], 24) < 0)
                    MPI_Abort(comm, 1);
                memset(res[k].data, 0, 24);
                res[k].len = 24;
            }
            MPI_Isend(res[k].data, (int)res[k].len, MPI_BYTE, root, tag_result, comm, &req[k]);
            sent++;
            got = 1;
        }
        got |= wt_pump(w);
        /* With nothing to run: waiting for the root's next chunk. */
        unsigned inflight = wt_inflight(w);
        if (!stopping || inflight)
            wt_idle(w, &nap, got, !inflight);
    }
    MPI_Waitall((int)depth, req, MPI_STATUSES_IGNORE);
    wt_stop(w);
    for (unsigned k = 0; k < depth; k++)
        mpimap_buf_free(&res[k]);
    free(res);
    free(req);
    int rc = 0;
    MPI_Bcast(&rc, 1, MPI_INT, root, comm);
    return rc ? rc : err;
}
