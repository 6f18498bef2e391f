/* SPDX-License-Identifier: BSD-3-Clause */
/* handler_fn.h - the function item handler: `--function lib.so:symbol`
 * (internal). */
#ifndef MPIMAP_CORE_HANDLER_FN_H
#define MPIMAP_CORE_HANDLER_FN_H

#include <mpimap/mpimap.h>

typedef struct mpimap_fn_handler {
    void *dl;
    mpimap_fn fn;
    void *arg;
} mpimap_fn_handler;

/* Load path (dlopen RTLD_NOW), find symbol and, when init_symbol is not
 * NULL, find and call it once to set up the handler's arg. Refuses a
 * shared object built for another handler ABI (see mpimap_handler_abi in
 * <mpimap/mpimap.h>). On failure *error is a malloc'd message naming the
 * file and the symbol. */
int mpimap_fn_handler_open(mpimap_fn_handler *h, const char *path,
                           const char *symbol, const char *init_symbol,
                           char **error);

/* Split "path:symbol" at its last ':' into malloc'd halves. */
int mpimap_fn_spec_split(const char *spec, char **path, char **symbol);

/* The engine's handler callback: self is a mpimap_fn_handler. */
int mpimap_fn_handler_run(void *self, const mpimap_item *item, mpimap_result *res);

void mpimap_fn_handler_close(mpimap_fn_handler *h);

#endif /* MPIMAP_CORE_HANDLER_FN_H */
