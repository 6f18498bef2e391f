/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * itemclock.h - a cheap clock for timing items one by one (internal).
 *
 * A map of trivial items reads the clock once an item; clock_gettime()
 * costs 25 to 60 ns on a virtual machine, more than the item. Where the
 * kernel itself keeps time with the CPU's time-stamp counter (x86-64,
 * clocksource "tsc": the counter is invariant and synchronized across CPUs,
 * or the kernel would not use it), the clock reads the counter (about 10 ns)
 * and converts ticks to seconds with a rate learnt from CLOCK_MONOTONIC:
 * over the stretch being timed when it is long enough, else over the
 * process's life so far. Elsewhere, and during a process's first 10 ms
 * (too short to learn the rate), a tick is a nanosecond of CLOCK_MONOTONIC.
 */
#ifndef MPIMAP_CORE_ITEMCLOCK_H
#define MPIMAP_CORE_ITEMCLOCK_H

#include <stdint.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

/* One stretch of timing (a batch). */
typedef struct mpimap_clock {
    int tsc;       /* ticks are the time-stamp counter, else nanoseconds */
    uint64_t k0;   /* ticks at the start */
    double mono0;  /* CLOCK_MONOTONIC seconds at the start */
    double wall0;  /* CLOCK_REALTIME seconds at the start */
    double spt;    /* seconds per tick */
} mpimap_clock;

/* Start a stretch: read the clocks and choose the ticks. */
void mpimap_clock_begin(mpimap_clock *c);

/* The ticks now. */
static inline uint64_t mpimap_clock_read(const mpimap_clock *c)
{
#if defined(__x86_64__)
    if (c->tsc)
        return __rdtsc();
#endif
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Seconds from tick a to tick b (0 when b is before a). */
static inline double mpimap_clock_span(const mpimap_clock *c, uint64_t a, uint64_t b)
{
    return b > a ? (double)(b - a) * c->spt : 0.0;
}

/* CLOCK_MONOTONIC and wall-clock seconds at tick k of the stretch. */
static inline double mpimap_clock_mono(const mpimap_clock *c, uint64_t k)
{
    return c->mono0 + mpimap_clock_span(c, c->k0, k);
}
static inline double mpimap_clock_wall(const mpimap_clock *c, uint64_t k)
{
    return c->wall0 + mpimap_clock_span(c, c->k0, k);
}

/* End a stretch: learn the rate from the stretch itself when it lasted 1 ms
 * or more (what the conversions above use from then on). */
void mpimap_clock_end(mpimap_clock *c);

#endif /* MPIMAP_CORE_ITEMCLOCK_H */
