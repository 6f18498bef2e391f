/* SPDX-License-Identifier: BSD-3-Clause */
/* wrongabi.c - test handler library built for another handler ABI: it
 * carries the marker with the value 99 (compiled with
 * -DMPIMAP_NO_ABI_MARKER, without mpimap.h's own marker). */
#include <stddef.h>
#include <stdint.h>

__attribute__((visibility("default"))) const unsigned mpimap_handler_abi = 99;

struct item99 {
    const void *data;
    size_t len;
    uint64_t index;
};

int square(const struct item99 *item, void *res, void *arg);

int square(const struct item99 *item, void *res, void *arg)
{
    (void)item;
    (void)res;
    (void)arg;
    return 0;
}
