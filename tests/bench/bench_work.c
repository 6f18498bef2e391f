/* SPDX-License-Identifier: BSD-3-Clause */
/* bench_work.c - item handlers for the benchmark suite (suite.sh), for
 * `mpimap run --function bench_work.so:NAME`:
 *   noop     an empty result, success: the cost of the map itself
 *   sleepms  sleeps ITEM milliseconds (a decimal number, fractions allowed):
 *            known item times that leave the CPUs free, so more ranks than
 *            cores do not fight over them
 *   spinms   burns ITEM milliseconds of CPU (a busy loop on the clock)
 * sleepms and spinms give the item back as the result. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <mpimap/mpimap.h>

int noop(const mpimap_item *item, mpimap_result *res, void *arg);
int sleepms(const mpimap_item *item, mpimap_result *res, void *arg);
int spinms(const mpimap_item *item, mpimap_result *res, void *arg);

int noop(const mpimap_item *item, mpimap_result *res, void *arg)
{
    (void)item;
    (void)res;
    (void)arg;
    return 0;
}

/* The item as milliseconds, or < 0 when it is not a number. */
static double item_ms(const mpimap_item *item)
{
    char *end;
    double ms = strtod(item->data, &end);
    if (end == (const char *)item->data || *end || !(ms >= 0) || ms > 1e9)
        return -1;
    return ms;
}

int sleepms(const mpimap_item *item, mpimap_result *res, void *arg)
{
    (void)arg;
    double ms = item_ms(item);
    if (ms < 0)
        return mpimap_result_fail(res, "not a number of milliseconds"), 1;
    time_t sec = (time_t)(ms / 1000);
    struct timespec ts = {sec, (long)((ms - 1000.0 * (double)sec) * 1e6)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return mpimap_result_write(res, item->data, item->len);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int spinms(const mpimap_item *item, mpimap_result *res, void *arg)
{
    (void)arg;
    double ms = item_ms(item);
    if (ms < 0)
        return mpimap_result_fail(res, "not a number of milliseconds"), 1;
    double end = now() + ms * 1e-3;
    while (now() < end)
        ;
    return mpimap_result_write(res, item->data, item->len);
}
