/* SPDX-License-Identifier: BSD-3-Clause */
/* worker.c - mpimap-worker: the MPI program every launcher starts; runs the
 * map a job directory's spec describes. */
#include <stdio.h>
#include <string.h>

#include <mpimap/mpimap.h>

#include "job.h"
#include "nodelay.h"

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc == 2 ? stdout : stderr,
                "usage: mpimap-worker JOBDIR/spec\n"
                "The MPI program that mpimap's launchers start; run maps with "
                "`mpimap run`.\n");
        return argc == 2 ? 0 : 2;
    }
    /* FUNNELED: the strategies run the handler on a compute thread while
     * the main thread, the only one that calls MPI, handles the messages. */
    int provided = MPI_THREAD_SINGLE;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "mpimap-worker: MPI_Init_thread failed\n");
        return 3;
    }
    /* provided < FUNNELED is no error: the strategies see the level
     * (MPI_Query_thread) and then run the items on the main thread. */
    (void)provided;
    /* Not a message held back 40 ms in MPI_Finalize (nodelay.h). */
    mpimap_tcp_nodelay();
    int rc = mpimap_job_run(argv[1], MPI_COMM_WORLD);
    MPI_Finalize();
    /* 0: the map ran (items may have failed: the status file says);
     * 1: the map could not run (the message is on standard error). */
    return rc == 0 || rc == MPIMAP_EITEMS ? 0 : 1;
}
