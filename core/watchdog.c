/* SPDX-License-Identifier: BSD-3-Clause */
/* watchdog.c - the thread that watches a rank's item (watchdog.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpimap/mpimap.h>

#include "watchdog.h"

struct mpimap_watchdog {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    const mpimap_engine *e;
    double timeout, period;
    pid_t driver;
    int fd;                 /* current.R */
    char *timeout_path;
    char host[256];
};

static void show_current(mpimap_watchdog *w, uint64_t cur, double started)
{
    char line[400];
    int n;
    if (cur == UINT64_MAX)
        n = snprintf(line, sizeof line, "-\n");
    else
        n = snprintf(line, sizeof line, "%" PRIu64 " %.3f %s %ld\n", cur,
                     mpimap_wallclock() - (mpimap_now() - started), w->host, (long)getpid());
    if (n > 0 && pwrite(w->fd, line, (size_t)n, 0) == n && ftruncate(w->fd, n) != 0) {
        /* best effort: the driver only reads it for messages */
    }
}

static void timed_out(mpimap_watchdog *w, uint64_t cur)
{
    FILE *f = fopen(w->timeout_path, "w");
    if (f) {
        fprintf(f, "%" PRIu64 " %g\n", cur, w->timeout);
        fflush(f);
        fsync(fileno(f));
        fclose(f);
    }
    fprintf(stderr, "mpimap: item %" PRIu64 " timed out after %g s; stopping its rank\n", cur,
            w->timeout);
    kill(getpid(), SIGKILL);
}

static void *watch(void *arg)
{
    mpimap_watchdog *w = arg;
    uint64_t shown = UINT64_MAX - 1;
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double at = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + w->period;
        ts.tv_sec = (time_t)at;
        ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        if (w->stop)
            break;
        uint64_t cur = w->e->current;
        double started = w->e->started;
        if (cur != shown) {
            show_current(w, cur, started);
            shown = cur;
        }
        if (w->timeout > 0 && cur != UINT64_MAX && mpimap_now() - started > w->timeout &&
            w->e->current == cur)
            timed_out(w, cur);
        if (w->driver > 0 && kill(w->driver, 0) != 0 && errno == ESRCH) {
            fprintf(stderr, "mpimap: the mpimap process that started this job (pid %ld) is "
                            "gone; stopping (what is done is kept: mpimap run --resume)\n",
                    (long)w->driver);
            kill(getpid(), SIGKILL);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int mpimap_watchdog_start(mpimap_watchdog **out, const char *dir, int rank,
                          const mpimap_engine *e, double timeout, pid_t driver)
{
    *out = NULL;
    mpimap_watchdog *w = calloc(1, sizeof *w);
    if (!w)
        return MPIMAP_ENOMEM;
    w->e = e;
    w->timeout = timeout;
    w->driver = driver;
    w->period = 1.0;
    if (timeout > 0 && timeout / 4 < w->period)
        w->period = timeout / 4 < 0.01 ? 0.01 : timeout / 4;
    gethostname(w->host, sizeof w->host - 1);
    char *cur = NULL;
    if (asprintf(&cur, "%s/current.%d", dir, rank) < 0 ||
        asprintf(&w->timeout_path, "%s/timeout.%d", dir, rank) < 0) {
        free(cur);
        free(w);
        return MPIMAP_ENOMEM;
    }
    w->fd = open(cur, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    free(cur);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (w->fd < 0 || pthread_create(&w->thread, NULL, watch, w) != 0) {
        if (w->fd >= 0)
            close(w->fd);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w->timeout_path);
        free(w);
        return MPIMAP_EIO;
    }
    *out = w;
    return 0;
}

void mpimap_watchdog_stop(mpimap_watchdog *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    close(w->fd);
    free(w->timeout_path);
    free(w);
}
