/* SPDX-License-Identifier: BSD-3-Clause */
/* jobwait.c - waiting for a job in the mpimap command: the progress line,
 * Ctrl-C, and the summary of failed items (run and collect share them). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mpimap/mpimap.h>

#include "commands.h"
#include "batch.h"
#include "driver.h"

/* "1:05:09" or "5:09": seconds as a clock, in buf. */
static const char *clock_text(long s, char *buf, size_t len)
{
    if (s >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, len, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

/* "mpimap: 1234/10000 items, 456/s, ETA 0:19, 2 failed, walltime left 4:10" */
static void progress_line(mpimap_job *job, double t0, int *shown)
{
    uint64_t done, failed, total;
    if (mpimap_ezmap_progress(job, &done, &failed, &total) != 0) {
        /* Nothing done yet: say where a scheduler's job stands. */
        const char *detail;
        int state = mpimap_job_last_state(job, &detail);
        if (state) {
            fprintf(stderr, "\r\033[Kmpimap: %s job %s %s%s%s", mpimap_job_launcher(job),
                    mpimap_job_id(job), mpimap_job_state_name(state), detail ? ": " : "",
                    detail ? detail : "");
            fflush(stderr);
            *shown = 1;
        }
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double el = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 - t0;
    double rate = el > 0 ? (double)done / el : 0;
    char eta[32] = "";
    if (total && rate > 0 && done < total) {
        long s = (long)((double)(total - done) / rate + 0.5);
        snprintf(eta, sizeof eta, ", ETA %ld:%02ld", s / 60, s % 60);
    }
    char of[32] = "";
    if (total)
        snprintf(of, sizeof of, "/%" PRIu64, total);
    fprintf(stderr, "\r\033[Kmpimap: %" PRIu64 "%s items, %.0f/s%s", done, of, rate, eta);
    if (failed)
        fprintf(stderr, ", %" PRIu64 " failed", failed);
    double end, start;
    uint64_t done0;
    if (mpimap_job_end_time(job, &end, &start, &done0) == 1) {
        long left = (long)(end - (double)time(NULL));
        left = left < 0 ? 0 : left;
        fprintf(stderr, ", walltime left %s", clock_text(left, (char[32]){0}, 32));
    }
    fflush(stderr);
    *shown = 1;
}

/* Once per scheduler job, when at this job's rate (once it has finished an
 * item, and run for a minute or a tenth of its walltime) the items left
 * need longer than the walltime has left: "mpimap: slurm job 42 will be
 * killed at its walltime in 4:10, and the 6000 items left need about 12:30
 * at this rate; what finishes is kept, and mpimap will say how to resume". */
static void walltime_line(mpimap_job *job, const char **warned, int *shown)
{
    double end, start;
    uint64_t done0, done, failed, total;
    const char *id = mpimap_job_id(job);
    if (!id || *warned == id || mpimap_job_end_time(job, &end, &start, &done0) != 1 ||
        mpimap_ezmap_progress(job, &done, &failed, &total) != 0 || !total || done >= total ||
        done <= done0)
        return;
    double now = (double)time(NULL), left = end - now, ran = now - start;
    if (ran < 60 && ran < (end - start) / 10)
        return;
    double need = (double)(total - done) * ran / (double)(done - done0);
    if (need <= left)
        return;
    *warned = id;
    char a[32], b[32];
    if (*shown)
        fputs("\r\033[K", stderr);
    fprintf(stderr,
            "mpimap: %s job %s will be killed at its walltime in %s, and the %" PRIu64
            " items left need about %s at this rate; what finishes is kept, and mpimap "
            "will say how to resume\n",
            mpimap_job_launcher(job), id, clock_text((long)(left > 0 ? left : 0), a, sizeof a),
            total - done, clock_text((long)need, b, sizeof b));
}

/* "mpimap: item 7 has run 12m05s on rank 1 (node3), 40x the median 18.2s",
 * once per item. */
static void watchdog_line(mpimap_job *job, double floor, uint64_t *named, int *shown)
{
    uint64_t index;
    int rank;
    char *host = NULL;
    double secs, median;
    if (mpimap_job_straggler(job, floor, &index, &rank, &host, &secs, &median) == 1 &&
        index != *named) {
        *named = index;
        if (*shown)
            fputs("\r\033[K", stderr);
        long s = (long)secs;
        fprintf(stderr, "mpimap: item %" PRIu64 " has run %ldm%02lds on rank %d (%s)", index,
                s / 60, s % 60, rank, host ? host : "?");
        if (median > 0)
            fprintf(stderr, ", %.0fx the median %.3gs", secs / median, median);
        fputs("\n", stderr);
    }
    free(host);
}

/* Wait for the job, drawing the progress line, saying (notes) when a
 * scheduler's job will not finish before its walltime, and naming items
 * that run far longer than the others (watchdog: the floor in seconds,
 * 0 = never); Ctrl-C and SIGTERM stop the job and keep what is done. */
int mpimap_cli_wait(mpimap_job *job, int show_progress, int notes, double watchdog)
{
    uint64_t named = UINT64_MAX;
    const char *warned = NULL;
    int ticks = 0;
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, &old);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double t0 = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    int shown = 0, rc;
    while ((rc = mpimap_ezmap_poll(job)) == MPIMAP_EBUSY) {
        struct timespec tick = {0, 250 * 1000 * 1000};
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            if (shown)
                fputs("\r\033[K", stderr);
            fprintf(stderr, "mpimap: %s: stopping the job...\n",
                    sig == SIGINT ? "interrupted" : "terminated");
            mpimap_ezmap_cancel(job);
            rc = mpimap_ezmap_poll(job);
            break;
        }
        if (++ticks % 8 == 0) { /* every 2 s */
            if (watchdog > 0)
                watchdog_line(job, watchdog, &named, &shown);
            if (notes)
                walltime_line(job, &warned, &shown);
        }
        if (show_progress)
            progress_line(job, t0, &shown);
    }
    if (shown)
        fputs("\r\033[K", stderr);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void mpimap_cli_summary(mpimap_job *job, int rc, int verbose)
{
    uint64_t items, failed;
    mpimap_job_counts(job, &items, &failed);
    if (rc == MPIMAP_EITEMS) {
        fprintf(stderr, "mpimap: %" PRIu64 " of %" PRIu64 " items failed:\n", failed, items);
        size_t n = mpimap_job_nfailures(job);
        for (size_t i = 0; i < n && i < 10; i++) {
            uint64_t idx;
            int rank;
            const char *why;
            mpimap_job_failure(job, i, &idx, &rank, &why);
            fprintf(stderr, "  item %" PRIu64 " (rank %d): %s\n", idx, rank, why);
        }
        if (failed > 10)
            fprintf(stderr, "  ... and %" PRIu64 " more (--joblog lists every item)\n",
                    failed - 10);
    } else if (verbose && rc == 0) {
        fprintf(stderr, "mpimap: %" PRIu64 " items, all succeeded\n", items);
    }
}
