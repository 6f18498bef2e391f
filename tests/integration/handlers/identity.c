/* SPDX-License-Identifier: BSD-3-Clause */
/* identity.c - test handlers for bytes: `identity` gives the item back
 * unchanged, `reverse` gives its bytes in reverse order (NUL bytes too). */
#include <mpimap/mpimap.h>

int identity(const mpimap_item *item, mpimap_result *res, void *arg);
int reverse(const mpimap_item *item, mpimap_result *res, void *arg);

int identity(const mpimap_item *item, mpimap_result *res, void *arg)
{
    (void)arg;
    return mpimap_result_write(res, item->data, item->len);
}

int reverse(const mpimap_item *item, mpimap_result *res, void *arg)
{
    (void)arg;
    const unsigned char *p = item->data;
    for (size_t i = item->len; i > 0; i--)
        if (mpimap_result_write(res, p + i - 1, 1) < 0)
            return 1;
    return 0;
}
