/* SPDX-License-Identifier: BSD-3-Clause */
/* square.c - test handler: a decimal integer in, its square out. */
#include <stdio.h>
#include <stdlib.h>

#include <mpimap/mpimap.h>

int square(const mpimap_item *item, mpimap_result *res, void *arg);

int square(const mpimap_item *item, mpimap_result *res, void *arg)
{
    (void)arg;
    char *end;
    long long x = strtoll(item->data, &end, 10);
    if (end == (const char *)item->data || *end)
        return mpimap_result_fail(res, "not a number"), 1;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld", x * x);
    return mpimap_result_write(res, buf, (size_t)n);
}
