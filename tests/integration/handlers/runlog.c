/* SPDX-License-Identifier: BSD-3-Clause */
/* runlog.c - test handler for the recovery tests: notes every run of an
 * item (its index, one line appended to $MPIMAP_TEST_RUNLOG.<pid>, so that
 * a test can count how often each item ran), spins for about
 * $MPIMAP_TEST_SPIN_US microseconds (default 200), and gives the item back
 * with a '=' in front. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <mpimap/mpimap.h>

int runlog(const mpimap_item *item, mpimap_result *res, void *arg);

static int log_fd = -2;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int runlog(const mpimap_item *item, mpimap_result *res, void *arg)
{
    (void)arg;
    if (log_fd == -2) {
        const char *base = getenv("MPIMAP_TEST_RUNLOG");
        char path[4096];
        log_fd = -1;
        if (base && snprintf(path, sizeof path, "%s.%ld", base, (long)getpid()) <
                        (int)sizeof path)
            log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    }
    if (log_fd >= 0) {
        char line[32];
        int n = snprintf(line, sizeof line, "%llu\n", (unsigned long long)item->index);
        if (write(log_fd, line, (size_t)n) != n)
            return mpimap_result_fail(res, "cannot write the run log"), 1;
    }
    const char *spin = getenv("MPIMAP_TEST_SPIN_US");
    double until = now() + (spin ? atof(spin) : 200.0) * 1e-6;
    while (now() < until)
        ;
    if (mpimap_result_write(res, "=", 1) < 0)
        return 1;
    return mpimap_result_write(res, item->data, item->len);
}
