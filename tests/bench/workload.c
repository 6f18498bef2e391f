/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * workload.c - item durations for the benchmark suite (suite.sh): N lines,
 * each a duration in milliseconds ("%.3f"), drawn with a fixed seed so
 * every run and every machine gets the same list, and scaled so that their
 * mean is exactly MEAN_MS (every workload is the same total work).
 *
 *   workload KIND N MEAN_MS [SEED]
 *
 * KIND: const       every item MEAN_MS
 *       lognormal   lognormal, sigma 1 (a few items several times the mean)
 *       pareto      Pareto, alpha 1.5 (heavy tail: infinite variance)
 *       asc, desc   the lognormal list sorted ascending / descending (the
 *                   big items last: worst for dealing in order; first: best)
 *   and, beyond the four (suite.sh's SUITE_KINDS):
 *       heavydesc   lognormal, sigma 1.5, sorted descending: the first items
 *                   are each a large part of a rank's share (worst for a
 *                   queue that takes items before their cost is known)
 *       bimodal     one item in ten 30 times as long as the others
 *       expo        exponential
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: small, fast, and the same everywhere. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static double uniform(uint64_t *s) { return ((double)(next(s) >> 11) + 0.5) / 9007199254740992.0; }

static double normal(uint64_t *s)
{
    const double pi = 3.14159265358979323846;
    double u1 = uniform(s); /* two statements: a fixed order of draws */
    double u2 = uniform(s);
    return sqrt(-2 * log(u1)) * cos(2 * pi * u2);
}

static int ascending(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static int descending(const void *a, const void *b) { return ascending(b, a); }

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: workload const|lognormal|pareto|asc|desc|heavydesc|bimodal|expo"
                        " N MEAN_MS [SEED]\n");
        return 2;
    }
    const char *kind = argv[1];
    char *end;
    unsigned long n = strtoul(argv[2], &end, 10);
    double mean = strtod(argv[3], &end);
    uint64_t seed = argc == 5 ? strtoull(argv[4], NULL, 10) : 20240601u;
    if (n == 0 || n > 100000000 || !(mean > 0)) {
        fprintf(stderr, "workload: N must be 1..10^8 and MEAN_MS > 0\n");
        return 2;
    }
    double *x = malloc(n * sizeof *x);
    if (!x) {
        fprintf(stderr, "workload: out of memory\n");
        return 1;
    }
    int lognormal = !strcmp(kind, "lognormal") || !strcmp(kind, "asc") || !strcmp(kind, "desc");
    int heavy = !strcmp(kind, "heavydesc");
    if (!lognormal && !heavy && strcmp(kind, "pareto") && strcmp(kind, "const") &&
        strcmp(kind, "bimodal") && strcmp(kind, "expo")) {
        fprintf(stderr, "workload: unknown kind '%s'\n", kind);
        free(x);
        return 2;
    }
    double sum = 0;
    for (unsigned long i = 0; i < n; i++) {
        if (lognormal)
            x[i] = exp(normal(&seed)); /* mu 0, sigma 1 */
        else if (heavy)
            x[i] = exp(1.5 * normal(&seed));
        else if (!strcmp(kind, "pareto"))
            x[i] = pow(uniform(&seed), -1 / 1.5); /* x_m 1, alpha 1.5 */
        else if (!strcmp(kind, "bimodal"))
            x[i] = uniform(&seed) < 0.1 ? 30 : 1;
        else if (!strcmp(kind, "expo"))
            x[i] = -log(uniform(&seed));
        else
            x[i] = 1;
        sum += x[i];
    }
    if (!strcmp(kind, "asc"))
        qsort(x, n, sizeof *x, ascending);
    else if (!strcmp(kind, "desc") || heavy)
        qsort(x, n, sizeof *x, descending);
    for (unsigned long i = 0; i < n; i++)
        printf("%.3f\n", x[i] * mean * (double)n / sum);
    free(x);
    return fflush(stdout) == 0 ? 0 : 1;
}
