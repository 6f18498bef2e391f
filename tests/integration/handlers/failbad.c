/* SPDX-License-Identifier: BSD-3-Clause */
/* failbad.c - test handler: gives "ok:ITEM", and fails on the item "bad". */
#include <string.h>

#include <mpimap/mpimap.h>

int fail_bad(const mpimap_item *item, mpimap_result *res, void *arg);

int fail_bad(const mpimap_item *item, mpimap_result *res, void *arg)
{
    (void)arg;
    if (strcmp(item->data, "bad") == 0)
        return mpimap_result_fail(res, "refused the bad item"), 1;
    if (mpimap_result_write(res, "ok:", 3) < 0)
        return 1;
    return mpimap_result_write(res, item->data, item->len);
}
