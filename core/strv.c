/* SPDX-License-Identifier: BSD-3-Clause */
/* strv.c - a growable NULL-terminated string vector (argv builder). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>

static int strv_take(mpimap_strv *sv, char *s)
{
    if (!s)
        return MPIMAP_ENOMEM;
    if (sv->n + 2 > sv->cap) {
        size_t ncap = sv->cap ? sv->cap * 2 : 8;
        char **p = realloc(sv->v, ncap * sizeof *p);
        if (!p) {
            free(s);
            return MPIMAP_ENOMEM;
        }
        sv->v = p;
        sv->cap = ncap;
    }
    sv->v[sv->n++] = s;
    sv->v[sv->n] = NULL;
    return 0;
}

int mpimap_strv_push(mpimap_strv *sv, const char *s)
{
    return strv_take(sv, strdup(s));
}

int mpimap_strv_pushf(mpimap_strv *sv, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MPIMAP_ENOMEM;
    return strv_take(sv, s);
}

void mpimap_strv_truncate(mpimap_strv *sv, size_t n)
{
    if (!sv || !sv->v)
        return;
    while (sv->n > n)
        free(sv->v[--sv->n]);
    sv->v[sv->n] = NULL;
}

void mpimap_strv_free(mpimap_strv *sv)
{
    if (!sv)
        return;
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = sv->cap = 0;
}
