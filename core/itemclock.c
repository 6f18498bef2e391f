/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * itemclock.c - a cheap clock for timing items (see itemclock.h): the
 * choice of ticks, once a process, and the rate of the time-stamp counter.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "itemclock.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int use_tsc;
static uint64_t anchor_k;  /* the counter and CLOCK_MONOTONIC, read together once */
static double anchor_mono;

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void choose(void)
{
#if defined(__x86_64__)
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    char name[32] = "";
    if (f) {
        if (!fgets(name, sizeof name, f))
            name[0] = '\0';
        fclose(f);
    }
    if (strcmp(name, "tsc\n") == 0) {
        use_tsc = 1;
        anchor_mono = mono_seconds();
        anchor_k = __rdtsc();
    }
#endif
}

void mpimap_clock_begin(mpimap_clock *c)
{
    pthread_once(&once, choose);
    c->tsc = 0;
    c->spt = 1e-9;
    if (use_tsc) {
        mpimap_clock probe = {.tsc = 1};
        c->mono0 = mono_seconds();
        c->k0 = mpimap_clock_read(&probe);
        /* The counter's rate over the process's life so far: trusted from
         * 10 ms on (the two reads of a pair are a few tens of ns apart). */
        if (c->mono0 - anchor_mono >= 0.01 && c->k0 > anchor_k) {
            c->tsc = 1;
            c->spt = (c->mono0 - anchor_mono) / (double)(c->k0 - anchor_k);
        }
    }
    if (!c->tsc) {
        c->k0 = mpimap_clock_read(c);
        c->mono0 = (double)c->k0 * 1e-9;
    }
    c->wall0 = wall_seconds();
}

void mpimap_clock_end(mpimap_clock *c)
{
    if (!c->tsc)
        return;
    double mono1 = mono_seconds();
    uint64_t k1 = mpimap_clock_read(c);
    if (mono1 - c->mono0 >= 1e-3 && k1 > c->k0)
        c->spt = (mono1 - c->mono0) / (double)(k1 - c->k0);
}
