/* SPDX-License-Identifier: BSD-3-Clause */
/* result.c - the result object an item handler writes into. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

int mpimap_result_write(mpimap_result *res, const void *data, size_t len)
{
    if (!res || (!data && len))
        return MPIMAP_EINVAL;
    if (len == 0)
        return 0;
    mpimap_buf *b = res->buf;
    if (len > SIZE_MAX - b->len || mpimap_buf_reserve(b, b->len + len) < 0) {
        res->oom = 1;
        return MPIMAP_ENOMEM;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

int mpimap_result_fail(mpimap_result *res, const char *fmt, ...)
{
    if (!res)
        return MPIMAP_EINVAL;
    res->failed = 1;
    if (!fmt)
        return 0;
    char *why = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&why, fmt, ap);
    va_end(ap);
    if (n < 0) {
        res->oom = 1;
        return MPIMAP_ENOMEM;
    }
    free(res->reason);
    res->reason = why;
    return 0;
}
