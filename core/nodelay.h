/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nodelay.h - TCP_NODELAY on the process's TCP sockets (internal).
 *
 * Open MPI 4.1 with PMIx 4 connects every rank to mpirun's PMIx server
 * over loopback TCP without TCP_NODELAY. MPI_Finalize sends that server
 * small messages one after another, and one of them waits under Nagle's
 * algorithm for the server's delayed ACK, 40 ms on Linux (strace: the
 * rank's write, then mpirun reading it 38 ms later). On the 2-core machine
 * of tests/bench MPI_Finalize took 44-46 ms, and 3-4 ms with the option
 * set. The option only stops small writes from being held back, so
 * setting it on sockets that are not ours changes no message, only when
 * it leaves.
 */
#ifndef MPIMAP_CORE_NODELAY_H
#define MPIMAP_CORE_NODELAY_H

/* Set TCP_NODELAY on every TCP socket (IPv4 or IPv6, stream) this process
 * has open without it: after MPI_Init, those are the MPI library's. Other
 * descriptors are left alone, as are sockets that close meanwhile.
 * Returns the number of sockets changed. */
int mpimap_tcp_nodelay(void);

#endif /* MPIMAP_CORE_NODELAY_H */
