/* SPDX-License-Identifier: BSD-3-Clause */
/* test_nodelay.c - mpimap_tcp_nodelay() (core/nodelay.c): TCP_NODELAY on
 * each TCP socket of the process that lacks it, once; other descriptors
 * (Unix sockets, pipes, files) untouched. Check forks every test, so the
 * process holds only the descriptors the test opens. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>

#include "nodelay.h"

static int nodelay_of(int fd)
{
    int on = -1;
    socklen_t len = sizeof on;
    ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
    return on;
}

/* A connected pair of TCP sockets on loopback (*c the client, *a the
 * accepted end) and the listening socket *l. */
static void tcp_pair(int *l, int *c, int *a)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *l = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(*l, 0);
    ck_assert_int_eq(bind(*l, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(*l, 1), 0);
    ck_assert_int_eq(getsockname(*l, (struct sockaddr *)&sa, &len), 0);
    *c = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(*c, 0);
    ck_assert_int_eq(connect(*c, (struct sockaddr *)&sa, sizeof sa), 0);
    *a = accept(*l, NULL, NULL);
    ck_assert_int_ge(*a, 0);
}

START_TEST(sets_it_on_tcp_sockets_once)
{
    int l, c, a, u[2], p[2];
    tcp_pair(&l, &c, &a);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, u), 0);
    ck_assert_int_eq(pipe(p), 0);
    int f = open("/dev/null", O_RDONLY);
    ck_assert_int_ge(f, 0);
    ck_assert_int_eq(nodelay_of(c), 0); /* Linux's default */
    ck_assert_int_eq(nodelay_of(a), 0);

    ck_assert_int_eq(mpimap_tcp_nodelay(), 3); /* l, c and a */
    ck_assert_int_eq(nodelay_of(l), 1);
    ck_assert_int_eq(nodelay_of(c), 1);
    ck_assert_int_eq(nodelay_of(a), 1);
    ck_assert_int_eq(mpimap_tcp_nodelay(), 0); /* already set */

    /* The sockets still carry data both ways. */
    char buf[4] = {0};
    ck_assert_int_eq(write(c, "ping", 4), 4);
    ck_assert_int_eq(read(a, buf, 4), 4);
    ck_assert_int_eq(memcmp(buf, "ping", 4), 0);
    ck_assert_int_eq(write(u[0], "x", 1), 1);
    ck_assert_int_eq(read(u[1], buf, 1), 1);
    close(f);
    close(p[0]);
    close(p[1]);
    close(u[0]);
    close(u[1]);
    close(a);
    close(c);
    close(l);
}
END_TEST

START_TEST(leaves_a_socket_that_has_it)
{
    int l, c, a, on = 1;
    tcp_pair(&l, &c, &a);
    ck_assert_int_eq(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on), 0);
    close(l);
    ck_assert_int_eq(mpimap_tcp_nodelay(), 1); /* a only */
    ck_assert_int_eq(nodelay_of(a), 1);
    ck_assert_int_eq(nodelay_of(c), 1);
    close(a);
    close(c);
}
END_TEST

START_TEST(no_tcp_socket_no_change)
{
    int u[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, u), 0);
    ck_assert_int_eq(mpimap_tcp_nodelay(), 0);
    close(u[0]);
    close(u[1]);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("nodelay");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, sets_it_on_tcp_sockets_once);
    tcase_add_test(tc, leaves_a_socket_that_has_it);
    tcase_add_test(tc, no_tcp_socket_no_change);
    suite_add_tcase(s, tc);
    return s;
}
