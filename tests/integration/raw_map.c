/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * raw_map.c - mpimap_map() inside a real MPI program: every strategy, many
 * input sizes (0, 1, fewer than the ranks, many), fixed and automatic
 * chunks, a 16 MiB item, items with NUL bytes, a handler that fails on some
 * items, an unknown strategy. Each result is compared with a serial loop.
 * Run under mpirun with any number of ranks; exits non-zero on the first
 * mismatch, naming it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/mpimap.h>

static int rank;
static int failures;

#define CHECK(cond, ...)                                            \
    do {                                                            \
        if (!(cond)) {                                              \
            fprintf(stderr, "raw_map: rank %d: FAIL %s:%d: ", rank, \
                    __FILE__, __LINE__);                            \
            fprintf(stderr, __VA_ARGS__);                           \
            fputc('\n', stderr);                                    \
            failures++;                                             \
        }                                                           \
    } while (0)

/* The handler: reverse the bytes and append the index; fail on items whose
 * first byte is '!'. */
static int reverse(const mpimap_item *it, mpimap_result *res, void *arg)
{
    (void)arg;
    const unsigned char *p = it->data;
    if (it->len && p[0] == '!')
        return mpimap_result_fail(res, "bang at %llu", (unsigned long long)it->index), 1;
    if (((const char *)it->data)[it->len] != '\0')
        return mpimap_result_fail(res, "item not NUL-terminated"), 1;
    for (size_t i = it->len; i > 0; i--)
        if (mpimap_result_write(res, p + i - 1, 1) < 0)
            return 1;
    char tail[32];
    int n = snprintf(tail, sizeof tail, "#%llu", (unsigned long long)it->index);
    return mpimap_result_write(res, tail, (size_t)n);
}

static void expect(const mpimap_item *it, char **out, size_t *len, int *failed)
{
    const unsigned char *p = it->data;
    *failed = it->len && p[0] == '!';
    if (*failed) {
        *out = NULL;
        *len = 0;
        return;
    }
    *out = malloc(it->len + 32);
    for (size_t i = 0; i < it->len; i++)
        (*out)[i] = (char)p[it->len - 1 - i];
    *len = it->len + (size_t)sprintf(*out + it->len, "#%llu", (unsigned long long)it->index);
}

static void run_case(const char *strategy, size_t chunk, mpimap_item *items, size_t n,
                     const char *what)
{
    mpimap_map_options o = {chunk, 0};
    mpimap_outcome *out = NULL;
    int rc = mpimap_map(MPI_COMM_WORLD, strategy, reverse, NULL, rank == 0 ? items : NULL,
                        rank == 0 ? n : 0, &o, &out);
    if (rank != 0) {
        CHECK(rc == 0, "%s/%s: worker rc %d", strategy, what, rc);
        CHECK(out == NULL, "%s/%s: worker got outcomes", strategy, what);
        return;
    }
    int any_failed = 0;
    for (size_t i = 0; i < n; i++) {
        char *want;
        size_t wl;
        int wf;
        expect(&items[i], &want, &wl, &wf);
        any_failed |= wf;
        if (wf) {
            CHECK(out[i].status == MPIMAP_EITEMS, "%s/%s chunk %zu: item %zu should fail",
                  strategy, what, chunk, i);
            CHECK(out[i].reason && strstr(out[i].reason, "bang at"),
                  "%s/%s: item %zu reason '%s'", strategy, what, i,
                  out[i].reason ? out[i].reason : "(null)");
            CHECK(out[i].len == 0, "%s/%s: failed item %zu has data", strategy, what, i);
        } else {
            CHECK(out[i].status == 0, "%s/%s chunk %zu: item %zu status %d (%s)", strategy,
                  what, chunk, i, out[i].status, out[i].reason ? out[i].reason : "");
            CHECK(out[i].len == wl && (wl == 0 || memcmp(out[i].data, want, wl) == 0),
                  "%s/%s chunk %zu: item %zu differs", strategy, what, chunk, i);
        }
        free(want);
    }
    CHECK(rc == (any_failed ? MPIMAP_EITEMS : 0), "%s/%s: rc %d", strategy, what, rc);
    mpimap_outcomes_free(out, n);
}

static mpimap_item *make_items(size_t n, char ***store)
{
    mpimap_item *items = calloc(n ? n : 1, sizeof *items);
    *store = calloc(n ? n : 1, sizeof **store);
    for (size_t i = 0; i < n; i++) {
        (*store)[i] = malloc(32);
        int len = snprintf((*store)[i], 32, "%s%zu", i % 17 == 5 ? "!" : "item-", i * 7919);
        items[i] = (mpimap_item){(*store)[i], (size_t)len, i};
    }
    return items;
}

int main(int argc, char **argv)
{
    /* FUNNELED, as mpimap-worker: the strategies run items on a compute
     * thread (the path every `mpimap run` takes). */
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    const char *strategies[] = {"pool", "scatter", "guided", "steal"};
    const size_t nstrategies = sizeof strategies / sizeof *strategies;
    const size_t sizes[] = {0, 1, 2, 3, 4, 7, 100, 5000};
    const size_t chunks[] = {0, 1, 3, 1000};
    for (size_t s = 0; s < nstrategies; s++)
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
            for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
                char **store;
                mpimap_item *items = make_items(sizes[k], &store);
                char what[64];
                snprintf(what, sizeof what, "n=%zu", sizes[k]);
                run_case(strategies[s], chunks[c], items, sizes[k], what);
                for (size_t i = 0; i < sizes[k]; i++)
                    free(store[i]);
                free(store);
                free(items);
            }

    /* A 16 MiB item and items with NUL bytes inside. */
    size_t big = (size_t)16 << 20;
    char *b = malloc(big);
    for (size_t i = 0; i < big; i++)
        b[i] = (char)('a' + i % 23);
    char nul1[] = {'x', '\0', 'y'}, nul2[] = {'\0', '\0'};
    mpimap_item odd[] = {{b, big, 0}, {nul1, 3, 1}, {nul2, 2, 2}, {"", 0, 3}};
    for (size_t s = 0; s < nstrategies; s++)
        run_case(strategies[s], 0, odd, 4, "big+nul");
    free(b);

    /* An unknown strategy: an error on every rank, with the names. */
    mpimap_outcome *out = NULL;
    int rc = mpimap_map(MPI_COMM_WORLD, "pol", reverse, NULL, odd + 1, rank == 0 ? 1 : 0,
                        NULL, &out);
    CHECK(rc == MPIMAP_ENOTFOUND, "unknown strategy rc %d", rc);
    CHECK(out == NULL, "unknown strategy gave outcomes");

    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("raw_map: %s (%d failures)\n", total ? "FAILED" : "ok", total);
    MPI_Finalize();
    return total ? 1 : 0;
}
