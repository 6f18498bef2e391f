/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * example.c - the "example" strategy: the smallest complete mpimap strategy.
 *
 * The root reads the input in batches, runs each batch itself and emits its
 * results; the other ranks only wait for the outcome. It does no parallel
 * work at all: it shows the shape of a strategy and the engine services it
 * calls (see <mpimap/strategy.h>), not how to deal items out.
 */
#include <mpi.h>

#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>
#include <mpimap/strategy.h>

/* Items per batch when the user did not ask for a chunk size, and the
 * bytes a batch should stay near. */
#define EXAMPLE_CHUNK 64
#define EXAMPLE_BATCH_BYTES (1u << 20)

/* Root only: read, run and emit every item. Returns 0 or < 0. */
static int run_everything(mpimap_engine *e)
{
    size_t chunk = mpimap_engine_chunk(e);
    mpimap_buf batch = {0};
    mpimap_buf results = {0};
    int rc = 0;

    if (chunk == 0)
        chunk = EXAMPLE_CHUNK;
    for (;;) {
        long n = mpimap_engine_read(e, chunk, EXAMPLE_BATCH_BYTES, &batch);
        if (n <= 0) {
            rc = (int)n; /* 0 at the end of the input */
            break;
        }
        rc = mpimap_engine_run(e, batch.data, batch.len, &results);
        if (rc < 0)
            break;
        rc = mpimap_engine_emit(e, results.data, results.len);
        if (rc < 0)
            break;
    }
    mpimap_buf_free(&batch);
    mpimap_buf_free(&results);
    return rc;
}

/* Collective over the engine's communicator: every rank returns the
 * root's outcome. */
static int example_map(mpimap_engine *e)
{
    MPI_Comm comm = mpimap_engine_comm(e);
    int root = mpimap_engine_root(e);
    int rank;
    int rc = 0;

    if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS)
        return MPIMAP_EMPI;
    if (rank == root)
        rc = run_everything(e);
    if (MPI_Bcast(&rc, 1, MPI_INT, root, comm) != MPI_SUCCESS)
        return MPIMAP_EMPI;
    return rc;
}

static const struct mpimap_strategy_ops example_ops = {
    sizeof(struct mpimap_strategy_ops),
    example_map,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_STRATEGY, "example", "0.1.0",
                     "runs every item on the root (an SDK example)",
                     NULL, NULL, NULL, &example_ops);
