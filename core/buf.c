/* SPDX-License-Identifier: BSD-3-Clause */
/* buf.c - the growable byte buffer strategies and the engine pass around. */
#include <stdlib.h>

#include <mpimap/mpimap.h>
#include <mpimap/strategy.h>

int mpimap_buf_reserve(mpimap_buf *buf, size_t cap)
{
    if (cap <= buf->cap)
        return 0;
    size_t ncap = buf->cap ? buf->cap : 256;
    while (ncap < cap) {
        if (ncap > SIZE_MAX / 2) {
            ncap = cap;
            break;
        }
        ncap *= 2;
    }
    unsigned char *p = realloc(buf->data, ncap);
    if (!p)
        return MPIMAP_ENOMEM;
    buf->data = p;
    buf->cap = ncap;
    return 0;
}

void mpimap_buf_free(mpimap_buf *buf)
{
    if (!buf)
        return;
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}
