/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nodelay.c - TCP_NODELAY on the process's TCP sockets (see nodelay.h):
 * the descriptors listed in /proc/self/fd, else 0 to 1023.
 */
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "nodelay.h"

/* 1 when fd is a TCP socket that had no TCP_NODELAY and now has it. */
static int nodelay(int fd)
{
    int type = 0, on = 0;
    socklen_t len = sizeof type;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
        getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0 ||
        (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
        return 0;
    len = sizeof on;
    if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) != 0 || on)
        return 0;
    on = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0;
}

int mpimap_tcp_nodelay(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        for (int fd = 0; fd < 1024; fd++)
            n += nodelay(fd);
        return n;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end == '\0' && end != e->d_name && fd >= 0 && fd != dirfd(d))
            n += nodelay((int)fd);
    }
    closedir(d);
    return n;
}
