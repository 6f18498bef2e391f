/* SPDX-License-Identifier: BSD-3-Clause */
/* bench_hello.c - an MPI hello world: the end-to-end reference of
 * bench_e2e.sh (MPI_Init, one line, MPI_Finalize). */
#include <stdio.h>

#include <mpi.h>

int main(int argc, char **argv)
{
    int rank, size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    printf("hello from rank %d of %d\n", rank, size);
    MPI_Finalize();
    return 0;
}
