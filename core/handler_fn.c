/* SPDX-License-Identifier: BSD-3-Clause */
/* handler_fn.c - the function item handler: a symbol in a user's shared
 * object, called once per item. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler_fn.h"

static int failf(char **error, int code, const char *fmt, const char *a,
                 const char *b, const char *c)
{
    if (error && asprintf(error, fmt, a, b, c) < 0)
        *error = NULL;
    return code;
}

int mpimap_fn_spec_split(const char *spec, char **path, char **symbol)
{
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1])
        return MPIMAP_EINVAL;
    *path = strndup(spec, (size_t)(colon - spec));
    *symbol = strdup(colon + 1);
    if (!*path || !*symbol) {
        free(*path);
        free(*symbol);
        *path = *symbol = NULL;
        return MPIMAP_ENOMEM;
    }
    return 0;
}

int mpimap_fn_handler_open(mpimap_fn_handler *h, const char *path,
                           const char *symbol, const char *init_symbol,
                           char **error)
{
    memset(h, 0, sizeof *h);
    if (error)
        *error = NULL;
    /* dlopen() searches the library path for a bare name; a user naming a
     * file in the current directory means that file. */
    char *where = NULL;
    if (!strchr(path, '/') && asprintf(&where, "./%s", path) < 0)
        return MPIMAP_ENOMEM;
    h->dl = dlopen(where ? where : path, RTLD_NOW | RTLD_LOCAL);
    free(where);
    if (!h->dl)
        return failf(error, MPIMAP_ELOAD, "cannot load function library '%s': %s%s",
                     path, dlerror(), "");
    const unsigned *abi = dlsym(h->dl, "mpimap_handler_abi");
    if (abi && *abi != MPIMAP_HANDLER_ABI) {
        char have[32], want[32];
        snprintf(have, sizeof have, "%u", *abi);
        snprintf(want, sizeof want, "%u", (unsigned)MPIMAP_HANDLER_ABI);
        mpimap_fn_handler_close(h);
        return failf(error, MPIMAP_EABI,
                     "function library '%s' was built for mpimap handler ABI %s; "
                     "this mpimap has ABI %s (rebuild it against this <mpimap/mpimap.h>)",
                     path, have, want);
    }
    dlerror();
    void *fn = dlsym(h->dl, symbol);
    if (!fn) {
        mpimap_fn_handler_close(h);
        return failf(error, MPIMAP_ENOTFOUND,
                     "function library '%s' has no symbol '%s'%s", path, symbol, "");
    }
    /* POSIX guarantees that a data pointer from dlsym() converts to a
     * function pointer; ISO C does not, hence the memcpy. */
    memcpy(&h->fn, &fn, sizeof h->fn);
    if (init_symbol) {
        void *in = dlsym(h->dl, init_symbol);
        if (!in) {
            mpimap_fn_handler_close(h);
            return failf(error, MPIMAP_ENOTFOUND,
                         "function library '%s' has no init symbol '%s'%s", path,
                         init_symbol, "");
        }
        mpimap_fn_init init;
        memcpy(&init, &in, sizeof init);
        int rc = init(&h->arg);
        if (rc != 0) {
            char num[32];
            snprintf(num, sizeof num, "%d", rc);
            mpimap_fn_handler_close(h);
            return failf(error, MPIMAP_EINVAL, "init '%s' of '%s' returned %s",
                         init_symbol, path, num);
        }
    }
    return 0;
}

int mpimap_fn_handler_run(void *self, const mpimap_item *item, mpimap_result *res)
{
    mpimap_fn_handler *h = self;
    return h->fn(item, res, h->arg);
}

void mpimap_fn_handler_close(mpimap_fn_handler *h)
{
    if (h && h->dl)
        dlclose(h->dl);
    if (h)
        h->dl = NULL;
}
