/* SPDX-License-Identifier: BSD-3-Clause */
/* withinit.c - test handler with a per-rank set-up: `setup` (for
 * --function-init) makes the argument "init:", `tagged` writes it before
 * the item, and fails every item when the set-up did not run. */
#include <stdlib.h>
#include <string.h>

#include <mpimap/mpimap.h>

int setup(void **arg);
int setup_fails(void **arg);
int tagged(const mpimap_item *item, mpimap_result *res, void *arg);

static char prefix[] = "init:";

int setup(void **arg)
{
    *arg = prefix;
    return 0;
}

int setup_fails(void **arg)
{
    (void)arg;
    return 7;
}

int tagged(const mpimap_item *item, mpimap_result *res, void *arg)
{
    if (arg != prefix)
        return mpimap_result_fail(res, "the init symbol did not run"), 1;
    if (mpimap_result_write(res, arg, strlen(arg)) < 0)
        return 1;
    return mpimap_result_write(res, item->data, item->len);
}
