/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_map.c - the per-item cost of mpimap_map() next to its floors, from
 * one run: the raw MPI round trip (a ping-pong in this binary), the pool
 * strategy at chunk 1, with fixed chunks and with automatic chunking,
 * scatter, the engine on one rank, and a plain serial loop calling the same
 * no-op handler. Best of REPS repetitions each; figures only, no verdict.
 *
 *   mpirun -np 2 bench_map [N [N_CHUNK1 [REPS]]]
 *
 * N (default 10^6) items for every row; pool at chunk 1 takes N_CHUNK1
 * (default N) items, as one message pair per item makes it the slow row.
 * Exits non-zero only when a map itself fails (a broken build), never on
 * timing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/mpimap.h>

#define PINGPONG_BYTES 32
#define PINGPONG_ITERS 100000
#define PINGPONG_WARMUP 2000

static int rank, nranks;

/* Items run by this process (to tell how the work was shared out). */
static unsigned long long ran;

/* The no-op handler: writes nothing, succeeds (and counts). */
static int noop(const mpimap_item *item, mpimap_result *res, void *arg)
{
    (void)item;
    (void)res;
    (void)arg;
    ran++;
    return 0;
}

/* Called through a volatile pointer so the serial loop cannot inline it. */
static mpimap_fn volatile noop_ptr = noop;

struct row {
    char name[48];
    unsigned long long n;   /* items (or messages) per repetition */
    double best;            /* seconds, best repetition */
    double share;           /* items run off the root, fraction; < 0 = n/a */
    int ref;                /* index of the reference row, -1 = none */
    const char *target;     /* the target on the ratio, or "" */
};

static struct row rows[16];
static int nrows;

/* the worker share of the best repetition of the last best_map() */
static double last_share = -1;

static int add_row(const char *name, unsigned long long n, double best, int ref,
                   const char *target)
{
    struct row *r = &rows[nrows];
    snprintf(r->name, sizeof r->name, "%s", name);
    r->n = n;
    r->best = best;
    r->share = last_share;
    last_share = -1;
    r->ref = ref;
    r->target = target;
    return nrows++;
}

/* a time per item, as "123.4 ns" or "1.234 us" */
static void fmt_per(char *buf, size_t sz, double s)
{
    if (s < 1e-6)
        snprintf(buf, sz, "%8.1f ns", s * 1e9);
    else if (s < 1e-3)
        snprintf(buf, sz, "%8.3f us", s * 1e6);
    else
        snprintf(buf, sz, "%8.3f ms", s * 1e3);
}

/* ---- the raw round trip ------------------------------------------------ */

static double pingpong_once(int iters)
{
    char buf[PINGPONG_BYTES];
    memset(buf, 'x', sizeof buf);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int i = 0; i < iters; i++) {
        if (rank == 0) {
            MPI_Send(buf, PINGPONG_BYTES, MPI_BYTE, 1, 1, MPI_COMM_WORLD);
            MPI_Recv(buf, PINGPONG_BYTES, MPI_BYTE, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
            MPI_Recv(buf, PINGPONG_BYTES, MPI_BYTE, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(buf, PINGPONG_BYTES, MPI_BYTE, 0, 1, MPI_COMM_WORLD);
        }
    }
    double t = MPI_Wtime() - t0;
    MPI_Bcast(&t, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    return t;
}

/* ---- a map, timed at the root ------------------------------------------ */

static double map_once(MPI_Comm comm, const char *strategy, size_t chunk,
                       const mpimap_item *items, size_t n, double *share)
{
    int r;
    MPI_Comm_rank(comm, &r);
    ran = 0;
    mpimap_map_options o = {chunk, 0};
    mpimap_outcome *out = NULL;
    MPI_Barrier(comm);
    double t0 = MPI_Wtime();
    int rc = mpimap_map(comm, strategy, noop, NULL, r == 0 ? items : NULL,
                        r == 0 ? n : 0, &o, &out);
    double t = MPI_Wtime() - t0;
    if (rc != 0) {
        fprintf(stderr, "bench_map: rank %d: mpimap_map(%s, chunk %zu, %zu items): %s\n",
                rank, strategy, chunk, n, mpimap_strerror(rc));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    mpimap_outcomes_free(out, r == 0 ? n : 0);
    MPI_Bcast(&t, 1, MPI_DOUBLE, 0, comm);
    unsigned long long off_root = r == 0 ? 0 : ran, total = 0;
    MPI_Allreduce(&off_root, &total, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, comm);
    *share = n ? (double)total / (double)n : 0.0;
    return t;
}

static double best_map(MPI_Comm comm, const char *strategy, size_t chunk,
                       const mpimap_item *items, size_t n, int reps)
{
    double best = 0, share;
    for (int i = 0; i < reps; i++) {
        double t = map_once(comm, strategy, chunk, items, n, &share);
        if (i == 0 || t < best) {
            best = t;
            last_share = share;
        }
    }
    return best;
}

static unsigned long long arg_count(const char *s, const char *what)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || v == 0) {
        if (rank == 0)
            fprintf(stderr, "bench_map: %s: '%s' is not a positive whole number\n", what, s);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return v;
}

int main(int argc, char **argv)
{
    /* As mpimap-worker does: the strategies then run the handler on a
     * compute thread (MPIMAP_COMPUTE_THREAD=0 measures them without). */
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    if (nranks != 2) {
        if (rank == 0)
            fprintf(stderr, "bench_map: run on exactly 2 ranks (mpirun -np 2)\n");
        MPI_Finalize();
        return 2;
    }
    size_t n = argc > 1 ? (size_t)arg_count(argv[1], "N") : 1000000;
    size_t n1 = argc > 2 ? (size_t)arg_count(argv[2], "N_CHUNK1") : n;
    int reps = argc > 3 ? (int)arg_count(argv[3], "REPS") : 3;
    if (n1 > n)
        n1 = n;

    /* The work list: n one-byte text items. */
    static const char x[] = "x";
    mpimap_item *items = NULL;
    if (rank == 0) {
        items = malloc(n * sizeof *items);
        if (!items) {
            fprintf(stderr, "bench_map: out of memory\n");
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        for (size_t i = 0; i < n; i++)
            items[i] = (mpimap_item){x, 1, i};
    }

    /* Warm up: load the plugins, fault in the pages. */
    double share;
    map_once(MPI_COMM_WORLD, "pool", 0, items, n < 10000 ? n : 10000, &share);
    pingpong_once(PINGPONG_WARMUP);

    double best;
    int rtt, serial;

    best = 0;
    for (int i = 0; i < reps; i++) {
        double t = pingpong_once(PINGPONG_ITERS);
        if (i == 0 || t < best)
            best = t;
    }
    rtt = add_row("MPI ping-pong round trip (32 B)", PINGPONG_ITERS, best, -1, "");

    /* The serial loop: the handler in a plain C loop, root only. */
    best = 0;
    if (rank == 0) {
        for (int i = 0; i < reps; i++) {
            double t0 = MPI_Wtime();
            int acc = 0;
            for (size_t k = 0; k < n; k++)
                acc |= noop_ptr(&items[k], NULL, NULL);
            double t = MPI_Wtime() - t0;
            if (acc)
                MPI_Abort(MPI_COMM_WORLD, 1);
            if (i == 0 || t < best)
                best = t;
        }
    }
    MPI_Bcast(&best, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    serial = add_row("serial loop (1 process)", n, best, -1, "");

    /* The engine on one rank: mpimap_map over MPI_COMM_SELF at the root. */
    best = 0;
    if (rank == 0)
        best = best_map(MPI_COMM_SELF, "pool", 0, items, n, reps);
    MPI_Bcast(&best, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    last_share = -1;
    add_row("engine, 1 rank (pool, COMM_SELF)", n, best, serial, "");

    /* The fixed cost of one call: mpimap_map over a single item. */
    best = best_map(MPI_COMM_WORLD, "pool", 0, items, 1, reps * 10);
    add_row("mpimap_map call, 1 item (pool)", 1, best, -1, "");

    char name[48];
    snprintf(name, sizeof name, "pool, chunk 1 (%zu items)", n1);
    best = best_map(MPI_COMM_WORLD, "pool", 1, items, n1, reps);
    add_row(name, n1, best, rtt, "<= 2x");

    static const size_t fixed[] = {64, 1024, 16384};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        snprintf(name, sizeof name, "pool, chunk %zu", fixed[i]);
        best = best_map(MPI_COMM_WORLD, "pool", fixed[i], items, n, reps);
        add_row(name, n, best, serial, "");
    }
    best = best_map(MPI_COMM_WORLD, "pool", 0, items, n, reps);
    add_row("pool, automatic chunk", n, best, serial, "<= 2x");

    best = best_map(MPI_COMM_WORLD, "scatter", 0, items, n, reps);
    add_row("scatter", n, best, serial, "");

    if (rank == 0) {
        printf("mpimap_map per-item cost: 2 ranks, no-op handler, %zu items "
               "(pool chunk 1: %zu), best of %d\n\n",
               n, n1, reps);
        printf("%-34s %9s %10s %11s %12s %7s %8s  %-10s %s\n", "row", "items", "best (s)",
               "per item", "items/s", "rank 1", "ratio", "vs", "target");
        for (int i = 0; i < nrows; i++) {
            const struct row *r = &rows[i];
            double per = r->best / (double)r->n;
            char pb[32], ratio[16] = "-", share[16] = "-";
            if (r->share >= 0)
                snprintf(share, sizeof share, "%.0f%%", 100.0 * r->share);
            fmt_per(pb, sizeof pb, per);
            const char *vs = "";
            if (r->ref >= 0) {
                double rp = rows[r->ref].best / (double)rows[r->ref].n;
                snprintf(ratio, sizeof ratio, "%.2fx", rp > 0 ? per / rp : 0.0);
                vs = r->ref == rtt ? "round trip" : "serial";
            }
            printf("%-34s %9llu %10.4f %11s %12.0f %7s %8s  %-10s %s\n", r->name, r->n,
                   r->best, pb, per > 0 ? 1.0 / per : 0.0, share, ratio, vs, r->target);
        }
        printf("\nper item = best / items (wall time at the root over both ranks);\n"
               "the round trip row is per message pair. rank 1 = the share of the\n"
               "items the non-root rank ran. ratio = per item / the reference\n"
               "row's per item. Timings are figures, not a pass/fail.\n");
    }
    free(items);
    MPI_Finalize();
    return 0;
}
