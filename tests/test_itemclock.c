/* SPDX-License-Identifier: BSD-3-Clause */
/* test_itemclock.c - the clock that times items (core/itemclock.c): its
 * spans agree with CLOCK_MONOTONIC and its instants with CLOCK_REALTIME,
 * in both kinds of ticks; the time-stamp counter is used where the kernel
 * keeps time with it, and never during a process's first 10 ms. Check
 * forks every test, so each starts in a process that has not used it. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "itemclock.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Whether the kernel keeps time with the time-stamp counter (x86-64). */
static int kernel_uses_tsc(void)
{
    int yes = 0;
#if defined(__x86_64__)
    char name[32];
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    yes = f && fscanf(f, "%31s", name) == 1 && strcmp(name, "tsc") == 0;
    if (f)
        fclose(f);
#endif
    return yes;
}

/* Time a sleep of s seconds with c; the span must lie between what
 * CLOCK_MONOTONIC saw inside and outside the two reads, give or take 1 ms
 * and 1 % (room for valgrind and a loaded machine). */
static void check_span(mpimap_clock *c, double s)
{
    double out0 = clock_s(CLOCK_MONOTONIC);
    uint64_t a = mpimap_clock_read(c);
    double in0 = clock_s(CLOCK_MONOTONIC);
    sleep_s(s);
    double in1 = clock_s(CLOCK_MONOTONIC);
    uint64_t b = mpimap_clock_read(c);
    double out1 = clock_s(CLOCK_MONOTONIC);
    mpimap_clock_end(c);
    double span = mpimap_clock_span(c, a, b);
    ck_assert_msg(span >= (in1 - in0) * 0.99 - 1e-3 && span <= (out1 - out0) * 1.01 + 1e-3,
                  "span %.6f s, CLOCK_MONOTONIC %.6f .. %.6f s (tsc %d)", span, in1 - in0,
                  out1 - out0, c->tsc);
    /* Instants: on CLOCK_MONOTONIC's and CLOCK_REALTIME's time lines. */
    ck_assert_double_eq_tol(mpimap_clock_mono(c, b), out1, 2e-3);
    ck_assert_double_eq_tol(mpimap_clock_wall(c, b), clock_s(CLOCK_REALTIME), 2e-3);
}

START_TEST(first_10ms_are_monotonic_nanoseconds)
{
    mpimap_clock c;
    mpimap_clock_begin(&c);
    ck_assert_int_eq(c.tsc, 0);
    ck_assert(c.spt == 1e-9);
    ck_assert_double_eq_tol(c.mono0, clock_s(CLOCK_MONOTONIC), 1e-3);
    ck_assert_double_eq_tol(c.wall0, clock_s(CLOCK_REALTIME), 1e-3);
    check_span(&c, 0.02);
}
END_TEST

START_TEST(counter_once_the_rate_is_known)
{
    mpimap_clock c;
    mpimap_clock_begin(&c); /* the first use: the counter's anchor */
    sleep_s(0.015);
    mpimap_clock_begin(&c);
    ck_assert_int_eq(c.tsc, kernel_uses_tsc());
    ck_assert(c.spt > 0 && c.spt < 1e-6); /* a counter of 1 MHz to 1 THz */
    check_span(&c, 0.03);
    /* A stretch shorter than 1 ms keeps the rate it began with. */
    mpimap_clock_begin(&c);
    double spt = c.spt;
    mpimap_clock_end(&c);
    ck_assert(c.spt == spt);
    /* A long stretch learns the rate from itself: still right. */
    mpimap_clock_begin(&c);
    check_span(&c, 0.05);
}
END_TEST

START_TEST(backwards_is_zero)
{
    mpimap_clock c;
    mpimap_clock_begin(&c);
    ck_assert(mpimap_clock_span(&c, 10, 5) == 0.0);
    ck_assert(mpimap_clock_span(&c, 5, 5) == 0.0);
    ck_assert_double_eq_tol(mpimap_clock_span(&c, 5, 10), 5 * c.spt, 1e-18);
    ck_assert(mpimap_clock_mono(&c, c.k0) == c.mono0);
    ck_assert(mpimap_clock_wall(&c, c.k0) == c.wall0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("itemclock");
    TCase *tc = tcase_create("clock");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, first_10ms_are_monotonic_nanoseconds);
    tcase_add_test(tc, counter_once_the_rate_is_known);
    tcase_add_test(tc, backwards_is_zero);
    suite_add_tcase(s, tc);
    return s;
}
