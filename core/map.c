/* SPDX-License-Identifier: BSD-3-Clause */
/* map.c - mpimap_map(): the collective map "in the raw", over items held in
 * memory at the root, with the results returned in memory at the root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "registry.h"

struct array_source {
    const mpimap_item *items;
    size_t n, next;
};

static int array_next(void *self, const void **data, size_t *len)
{
    struct array_source *a = self;
    if (a->next == a->n)
        return 0;
    *data = a->items[a->next].data;
    *len = a->items[a->next].len;
    a->next++;
    return 1;
}

static int array_rewind(void *self)
{
    ((struct array_source *)self)->next = 0;
    return 0;
}

struct outcome_sink {
    mpimap_outcome *out;
    size_t n;
};

static int outcome_put(void *self, const mpimap_done *d)
{
    struct outcome_sink *s = self;
    if (d->index >= s->n)
        return MPIMAP_EINVAL;
    mpimap_outcome *o = &s->out[d->index];
    void *copy = NULL;
    if (d->len) {
        copy = malloc(d->len + (d->status != MPIMAP_ITEM_OK));
        if (!copy)
            return MPIMAP_ENOMEM;
        memcpy(copy, d->data, d->len);
    }
    if (d->status == MPIMAP_ITEM_OK) {
        o->data = copy;
        o->len = d->len;
        o->status = 0;
    } else {
        if (!copy && !(copy = malloc(1)))
            return MPIMAP_ENOMEM;
        ((char *)copy)[d->len] = '\0';
        o->reason = copy;
        o->status = MPIMAP_EITEMS;
    }
    return 0;
}

struct fn_call {
    mpimap_fn fn;
    void *arg;
};

static int fn_run(void *self, const mpimap_item *item, mpimap_result *res)
{
    const struct fn_call *h = self;
    return h->fn(item, res, h->arg);
}

int mpimap_map(MPI_Comm comm, const char *strategy, mpimap_fn fn, void *arg,
               const mpimap_item *items, size_t nitems,
               const mpimap_map_options *opts, mpimap_outcome **outcomes)
{
    int rank, size;
    if (outcomes)
        *outcomes = NULL;
    if (comm == MPI_COMM_NULL || MPI_Comm_rank(comm, &rank) != MPI_SUCCESS ||
        MPI_Comm_size(comm, &size) != MPI_SUCCESS)
        return MPIMAP_EINVAL;
    int root = opts ? opts->root : 0;
    size_t chunk = opts ? opts->chunk : 0;
    if (root < 0 || root >= size)
        return MPIMAP_EINVAL;

    /* Every rank checks its arguments and finds the strategy; they agree
     * on the outcome before anyone sends a message. */
    int rc = 0;
    char *error = NULL;
    mpimap_registry *reg = NULL;
    const struct mpimap_plugin *plugin = NULL;
    struct outcome_sink sink = {NULL, nitems};
    if (!strategy || !fn || (rank == root && ((nitems && !items) || !outcomes)))
        rc = MPIMAP_EINVAL;
    if (rc == 0 && rank == root && nitems &&
        !(sink.out = calloc(nitems, sizeof *sink.out)))
        rc = MPIMAP_ENOMEM;
    if (rc == 0)
        rc = mpimap_registry_open(&reg);
    if (rc == 0)
        rc = mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, strategy, &plugin, &error);
    if (rc < 0 && rank == root)
        fprintf(stderr, "mpimap_map: %s\n", error ? error : mpimap_strerror(rc));
    free(error);
    int worst = rc;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, comm);

    mpimap_engine e;
    int have_engine = 0;
    if (worst == 0) {
        struct array_source src = {items, nitems, 0};
        struct fn_call h = {fn, arg};
        mpimap_source s = {&src, array_next, array_rewind, NULL, NULL, NULL};
        mpimap_handler hd = {&h, fn_run};
        mpimap_sink sk = {.self = &sink, .put = outcome_put};
        rc = mpimap_engine_init(&e, comm, root, chunk, 0, &s, &hd, &sk);
        have_engine = rc == 0;
        if (rc == 0)
            rc = mpimap_engine_execute(&e, plugin);
        if (rc == 0 && rank == root && e.failed)
            rc = MPIMAP_EITEMS;
    } else {
        rc = rc ? rc : worst;
    }
    if (have_engine)
        mpimap_engine_destroy(&e);
    mpimap_registry_close(reg);
    if (rank == root && (rc == 0 || rc == MPIMAP_EITEMS))
        *outcomes = sink.out;
    else
        mpimap_outcomes_free(sink.out, sink.out ? nitems : 0);
    return rc;
}

void mpimap_outcomes_free(mpimap_outcome *outcomes, size_t n)
{
    if (!outcomes)
        return;
    for (size_t i = 0; i < n; i++) {
        free(outcomes[i].data);
        free(outcomes[i].reason);
    }
    free(outcomes);
}
