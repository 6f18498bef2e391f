/* SPDX-License-Identifier: BSD-3-Clause */
/* bench_noop.c - a no-op item handler for `mpimap run --function
 * bench_noop.so:noop` in bench_e2e.sh: an empty result, success. */
#include <mpimap/mpimap.h>

int noop(const mpimap_item *item, mpimap_result *res, void *arg);

int noop(const mpimap_item *item, mpimap_result *res, void *arg)
{
    (void)item;
    (void)res;
    (void)arg;
    return 0;
}
