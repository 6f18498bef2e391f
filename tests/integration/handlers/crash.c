/* SPDX-License-Identifier: BSD-3-Clause */
/* crash.c - test handlers that kill their rank: `segv` dies of SIGSEGV on
 * the item "crash", `abort_on` calls abort() on the item "abort"; every
 * other item is given back unchanged. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/mpimap.h>

int segv(const mpimap_item *item, mpimap_result *res, void *arg);
int abort_on(const mpimap_item *item, mpimap_result *res, void *arg);

int segv(const mpimap_item *item, mpimap_result *res, void *arg)
{
    (void)arg;
    if (strcmp(item->data, "crash") == 0) {
        raise(SIGSEGV); /* a real fault, without undefined behaviour */
        return 1;
    }
    return mpimap_result_write(res, item->data, item->len);
}

int abort_on(const mpimap_item *item, mpimap_result *res, void *arg)
{
    (void)arg;
    if (strcmp(item->data, "abort") == 0)
        abort();
    return mpimap_result_write(res, item->data, item->len);
}
