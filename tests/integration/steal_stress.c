/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * steal_stress.c - the termination of the steal strategy under many
 * interleavings: ROUNDS rounds of maps over 0, 1, 2, 7, 100 and 3000 tiny
 * items, each item sleeping 0-200 us (drawn from its index and the round
 * with a seeded generator, so every round interleaves differently; in odd
 * rounds one item in 61 sleeping 4 ms), with
 * the root and the chunk changing from round to round and some items
 * failing. Every result of every map is checked at the root; a map that
 * hangs, loses, repeats or garbles an item, or leaves a message behind for
 * the next map, fails the test (a stray message would be taken by the next
 * map on the same communicator and garble its results).
 * Then one map whose results (1 MiB each) arrive at the root out of order
 * in larger amounts than it keeps in memory, and one whose items (1 MiB
 * each) are more than a rank keeps in memory.
 *
 *   mpirun -np N steal_stress [ROUNDS]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpimap/mpimap.h>

static int rank, size;
static int failures;

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (!(cond)) {                                                   \
            if (failures < 20) {                                         \
                fprintf(stderr, "steal_stress: rank %d: FAIL %s:%d: ",   \
                        rank, __FILE__, __LINE__);                       \
                fprintf(stderr, __VA_ARGS__);                            \
                fputc('\n', stderr);                                     \
            }                                                            \
            failures++;                                                  \
        }                                                                \
    } while (0)

/* splitmix64: the delay of an item from (round, index). */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

struct round {
    unsigned r;
};

/* The handler: sleep a little, then answer "<round>:<index>:<item>", or
 * fail on items whose text starts with '!'. In odd rounds one item in 61
 * sleeps 4 ms: a run waits behind it in the compute thread, and a thief's
 * request takes it back into the queue (steal.c, reclaim_waiting()). */
static int work(const mpimap_item *it, mpimap_result *res, void *arg)
{
    const struct round *rd = arg;
    unsigned us = (unsigned)(mix(((uint64_t)rd->r << 32) ^ it->index) % 201);
    if (rd->r % 2 && it->index % 61 == 5)
        us = 4000;
    if (us)
        usleep(us);
    if (it->len && ((const char *)it->data)[0] == '!')
        return mpimap_result_fail(res, "bang %" PRIu64, it->index), 1;
    char head[48];
    int n = snprintf(head, sizeof head, "%u:%" PRIu64 ":", rd->r, it->index);
    if (mpimap_result_write(res, head, (size_t)n) < 0)
        return 1;
    return mpimap_result_write(res, it->data, it->len);
}

static void one_map(unsigned r, size_t n, int root, size_t chunk)
{
    char (*text)[24] = NULL;
    mpimap_item *items = NULL;
    if (rank == root && n) {
        text = malloc(n * sizeof *text);
        items = malloc(n * sizeof *items);
        if (!text || !items) {
            fprintf(stderr, "steal_stress: out of memory\n");
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        for (size_t i = 0; i < n; i++) {
            int len = snprintf(text[i], sizeof text[i], "%s%zu", i % 97 == 13 ? "!" : "x",
                               i * 31 + r);
            items[i] = (mpimap_item){text[i], (size_t)len, i};
        }
    }
    struct round rd = {r};
    mpimap_map_options o = {chunk, root};
    mpimap_outcome *out = NULL;
    int rc = mpimap_map(MPI_COMM_WORLD, "steal", work, &rd, items, rank == root ? n : 0, &o,
                        &out);
    if (rank != root) {
        CHECK(rc == 0, "round %u n=%zu root %d: worker rc %d", r, n, root, rc);
        return;
    }
    int any_failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i][0] == '!') {
            any_failed = 1;
            CHECK(out && out[i].status == MPIMAP_EITEMS && out[i].reason &&
                      strncmp(out[i].reason, "bang ", 5) == 0,
                  "round %u n=%zu: item %zu should fail", r, n, i);
            continue;
        }
        char want[80];
        int wl = snprintf(want, sizeof want, "%u:%zu:%s", r, i, text[i]);
        CHECK(out && out[i].status == 0 && out[i].len == (size_t)wl &&
                  memcmp(out[i].data, want, (size_t)wl) == 0,
              "round %u n=%zu root %d chunk %zu: item %zu is '%.*s', not '%s'", r, n, root,
              chunk, i, out ? (int)out[i].len : 0, out ? (const char *)out[i].data : "",
              want);
    }
    CHECK(rc == (any_failed ? MPIMAP_EITEMS : 0), "round %u n=%zu: rc %d", r, n, rc);
    mpimap_outcomes_free(out, n);
    free(items);
    free(text);
}

/* A result of 1 MiB: the index, then a pattern drawn from it. */
#define BIG_RESULT ((size_t)1 << 20)

static unsigned char big_byte(uint64_t index, size_t i)
{
    return (unsigned char)(index * 131 + i * 7 + (i >> 12));
}

static int big(const mpimap_item *it, mpimap_result *res, void *arg)
{
    /* The first share is slow, so the root holds the later results. */
    if (it->index < *(const size_t *)arg)
        usleep(2000);
    unsigned char *b = malloc(BIG_RESULT);
    if (!b)
        return 1;
    for (size_t i = 0; i < BIG_RESULT; i++)
        b[i] = big_byte(it->index, i);
    int rc = mpimap_result_write(res, b, BIG_RESULT);
    free(b);
    return rc < 0;
}

static void big_results(void)
{
    size_t n = 24 * (size_t)size, first_share = 24;
    mpimap_item *items = calloc(n, sizeof *items);
    if (!items)
        MPI_Abort(MPI_COMM_WORLD, 1);
    for (size_t i = 0; i < n; i++)
        items[i] = (mpimap_item){"b", 1, i};
    mpimap_map_options o = {1, 0};
    mpimap_outcome *out = NULL;
    int rc = mpimap_map(MPI_COMM_WORLD, "steal", big, &first_share, items,
                        rank == 0 ? n : 0, &o, &out);
    CHECK(rc == 0, "big results: rc %d", rc);
    for (size_t i = 0; rank == 0 && out && i < n; i++) {
        int same = out[i].status == 0 && out[i].len == BIG_RESULT;
        for (size_t k = 0; same && k < BIG_RESULT; k++)
            same = ((const unsigned char *)out[i].data)[k] == big_byte(i, k);
        CHECK(same, "big results: item %zu differs", i);
    }
    mpimap_outcomes_free(out, rank == 0 ? n : 0);
    free(items);
}

/* Items of 1 MiB: each checks its own bytes and answers its index. */
static int big_in(const mpimap_item *it, mpimap_result *res, void *arg)
{
    (void)arg;
    if (it->len != BIG_RESULT)
        return mpimap_result_fail(res, "item %" PRIu64 ": %zu bytes", it->index, it->len), 1;
    const unsigned char *p = it->data;
    for (size_t i = 0; i < it->len; i++)
        if (p[i] != big_byte(it->index, i))
            return mpimap_result_fail(res, "item %" PRIu64 ": byte %zu", it->index, i), 1;
    char b[32];
    int n = snprintf(b, sizeof b, "%" PRIu64, it->index);
    return mpimap_result_write(res, b, (size_t)n) < 0;
}

static void big_items(void)
{
    size_t n = 36 * (size_t)size;
    mpimap_item *items = calloc(n, sizeof *items);
    unsigned char *data = rank == 0 ? malloc(n * BIG_RESULT) : NULL;
    if (!items || (rank == 0 && !data))
        MPI_Abort(MPI_COMM_WORLD, 1);
    for (size_t i = 0; rank == 0 && i < n; i++) {
        for (size_t k = 0; k < BIG_RESULT; k++)
            data[i * BIG_RESULT + k] = big_byte(i, k);
        items[i] = (mpimap_item){data + i * BIG_RESULT, BIG_RESULT, i};
    }
    mpimap_outcome *out = NULL;
    int rc = mpimap_map(MPI_COMM_WORLD, "steal", big_in, NULL, items, rank == 0 ? n : 0,
                        NULL, &out);
    CHECK(rc == 0, "big items: rc %d", rc);
    for (size_t i = 0; rank == 0 && out && i < n; i++) {
        char want[32];
        int wl = snprintf(want, sizeof want, "%zu", i);
        CHECK(out[i].status == 0 && out[i].len == (size_t)wl &&
                  memcmp(out[i].data, want, (size_t)wl) == 0,
              "big items: item %zu: %s", i, out[i].reason ? out[i].reason : "differs");
    }
    mpimap_outcomes_free(out, rank == 0 ? n : 0);
    free(items);
    free(data);
}

int main(int argc, char **argv)
{
    /* FUNNELED, as mpimap-worker: the strategies run items on a compute
     * thread (the path every `mpimap run` takes). */
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    unsigned rounds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 40;
    static const size_t sizes[] = {0, 1, 2, 7, 100, 3000};
    static const size_t chunks[] = {0, 1, 0, 5};
    unsigned maps = 0;
    for (unsigned r = 0; r < rounds; r++)
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            /* The root moves every round; the chunk every other. */
            one_map(r, sizes[k], (int)(r % (unsigned)size), chunks[(r / 2) % 4]);
            maps++;
        }
    big_results();
    big_items();
    maps += 2;
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("steal_stress: %u maps on %d ranks: %s (%d failures)\n", maps, size,
               total ? "FAILED" : "ok", total);
    MPI_Finalize();
    return total ? 1 : 0;
}
