/* SPDX-License-Identifier: BSD-3-Clause */
/* sleepms.c - test handler: sleeps ITEM milliseconds (a decimal number),
 * then gives the item back; items of known durations for --report. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <mpimap/mpimap.h>

int sleep_ms(const mpimap_item *item, mpimap_result *res, void *arg);

int sleep_ms(const mpimap_item *item, mpimap_result *res, void *arg)
{
    (void)arg;
    char *end;
    double ms = strtod(item->data, &end);
    if (end == (const char *)item->data || *end || !(ms >= 0) || ms > 1e7)
        return mpimap_result_fail(res, "not a number of milliseconds"), 1;
    time_t sec = (time_t)(ms / 1000);
    struct timespec ts = {sec, (long)((ms - 1000.0 * (double)sec) * 1e6)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return mpimap_result_write(res, item->data, item->len);
}
