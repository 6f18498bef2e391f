/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * scatter.c - equal portions: each rank gets one contiguous share of the
 * items up front (share sizes differ by at most one item), runs it, and the
 * root gathers the results in order.
 *
 * The root counts the items, sends every other rank its share in batches,
 * then runs its own share while the others run theirs. A rank spools the
 * batches it receives and the result sets it makes to an unlinked
 * temporary file, so no rank's memory grows with the size of its share;
 * the root then takes each rank's result sets in rank order.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpimap/mpimap.h>
#include <mpimap/strategy.h>

#define TAG_WORK 7201
#define TAG_RESULT 7202
#define MAX_BATCH_BYTES ((size_t)1 << 20)
#define BATCH_ITEMS ((size_t)4096)

/* ---- spool: length-prefixed byte strings in an unlinked temp file ------- */

static FILE *spool_open(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    size_t n = strlen(dir) + sizeof "/mpimap-scatter-XXXXXX";
    char *path = malloc(n);
    if (!path)
        return NULL;
    snprintf(path, n, "%s/mpimap-scatter-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);
    free(path);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w+b");
    if (!f)
        close(fd);
    return f;
}

static int spool_put(FILE *f, const mpimap_buf *b)
{
    uint64_t n = b->len;
    if (fwrite(&n, sizeof n, 1, f) != 1 || fwrite(b->data, 1, b->len, f) != b->len)
        return MPIMAP_EIO;
    return 0;
}

/* 1 = a record, 0 = end, < 0 = error */
static int spool_get(FILE *f, mpimap_buf *b)
{
    uint64_t n;
    if (fread(&n, sizeof n, 1, f) != 1)
        return feof(f) ? 0 : MPIMAP_EIO;
    if (mpimap_buf_reserve(b, (size_t)n) < 0)
        return MPIMAP_ENOMEM;
    if (fread(b->data, 1, (size_t)n, f) != n)
        return MPIMAP_EIO;
    b->len = (size_t)n;
    return 1;
}

/* ---- the shares ---------------------------------------------------------- */

static uint64_t share_size(uint64_t n, int size, int r)
{
    return n / (uint64_t)size + ((uint64_t)r < n % (uint64_t)size ? 1 : 0);
}

static const unsigned char end_mark[24]; /* a batch/result set with count 0 */

static int send_share(mpimap_engine *e, MPI_Comm comm, int r, uint64_t n,
                      mpimap_buf *b)
{
    int err = 0;
    while (n > 0 && !err) {
        long got = mpimap_engine_read(e, n < BATCH_ITEMS ? (size_t)n : BATCH_ITEMS,
                                      MAX_BATCH_BYTES, b);
        if (got <= 0) {
            err = got < 0 ? (int)got : MPIMAP_EINVAL; /* input shrank */
            break;
        }
        MPI_Send(b->data, (int)b->len, MPI_BYTE, r, TAG_WORK, comm);
        n -= (uint64_t)got;
    }
    MPI_Send(end_mark, 16, MPI_BYTE, r, TAG_WORK, comm);
    return err;
}

static int recv_msg(MPI_Comm comm, int from, int tag, mpimap_buf *b)
{
    MPI_Status st;
    int n = 0;
    MPI_Probe(from, tag, comm, &st);
    MPI_Get_count(&st, MPI_BYTE, &n);
    if (mpimap_buf_reserve(b, n > 24 ? (size_t)n : 24) < 0)
        MPI_Abort(comm, 1); /* cannot take the message: nothing else is safe */
    MPI_Recv(b->data, n, MPI_BYTE, from, tag, comm, MPI_STATUS_IGNORE);
    b->len = (size_t)n;
    uint64_t first, count;
    if (mpimap_batch_range(b->data, b->len, &first, &count) < 0)
        return MPIMAP_EINVAL;
    return count > 0;
}

static int scatter_root(mpimap_engine *e, MPI_Comm comm, int root, int size)
{
    uint64_t n = 0;
    int err = mpimap_engine_count(e, &n);
    uint64_t bn = err < 0 ? UINT64_MAX : n;
    MPI_Bcast(&bn, 1, MPI_UINT64_T, root, comm);
    if (err < 0) {
        fprintf(stderr, "mpimap: strategy scatter needs an input it can count "
                        "and read again: %s\n", mpimap_strerror(err));
        return err;
    }

    mpimap_buf b = {0}, r = {0};
    /* Deal every other rank its share, in rank order. */
    for (int k = 0; k < size; k++) {
        uint64_t share = share_size(n, size, k);
        if (k == root) {
            long s = mpimap_engine_skip(e, share);
            if (s < 0 && !err)
                err = (int)s;
        } else {
            int rc = send_share(e, comm, k, err ? 0 : share, &b);
            if (rc < 0 && !err)
                err = rc;
        }
    }
    MPI_Bcast(&err, 1, MPI_INT, root, comm);
    if (err)
        goto out;

    /* Our own share. */
    uint64_t start = 0;
    for (int k = 0; k < root; k++)
        start += share_size(n, size, k);
    if ((err = mpimap_engine_rewind(e)) < 0)
        goto gather;
    long s = mpimap_engine_skip(e, start);
    if (s < 0) {
        err = (int)s;
        goto gather;
    }
    for (uint64_t left = share_size(n, size, root); left > 0 && !err;) {
        long got = mpimap_engine_read(e, left < BATCH_ITEMS ? (size_t)left : BATCH_ITEMS,
                                      MAX_BATCH_BYTES, &b);
        if (got <= 0) {
            err = got < 0 ? (int)got : MPIMAP_EINVAL;
            break;
        }
        left -= (uint64_t)got;
        err = mpimap_engine_run(e, b.data, b.len, &r);
        if (!err)
            err = mpimap_engine_emit(e, r.data, r.len);
    }
    /* Leave the input where a full read would: at its end. */
    if (!err) {
        s = mpimap_engine_skip(e, UINT64_MAX);
        if (s < 0)
            err = (int)s;
    }

gather:
    /* Every other rank's result sets, in rank order (drained even after an
     * error, so that nobody is left blocked in a send). */
    for (int k = 0; k < size; k++) {
        if (k == root)
            continue;
        int more;
        while ((more = recv_msg(comm, k, TAG_RESULT, &r)) > 0)
            if (!err)
                err = mpimap_engine_emit(e, r.data, r.len);
        if (more < 0 && !err)
            err = more;
    }
out:
    MPI_Bcast(&err, 1, MPI_INT, root, comm);
    mpimap_buf_free(&b);
    mpimap_buf_free(&r);
    return err;
}

static int scatter_worker(mpimap_engine *e, MPI_Comm comm, int root)
{
    uint64_t n = 0;
    MPI_Bcast(&n, 1, MPI_UINT64_T, root, comm);
    if (n == UINT64_MAX)
        return MPIMAP_EINVAL;

    int err = 0, more;
    mpimap_buf b = {0}, r = {0};
    FILE *items = spool_open(), *results = spool_open();
    if (!items || !results)
        err = MPIMAP_EIO;
    while ((more = recv_msg(comm, root, TAG_WORK, &b)) > 0)
        if (!err)
            err = spool_put(items, &b);
    if (more < 0 && !err)
        err = more;
    int root_err = 0;
    MPI_Bcast(&root_err, 1, MPI_INT, root, comm);
    if (root_err)
        goto out;

    if (!err && fseek(items, 0, SEEK_SET) != 0)
        err = MPIMAP_EIO;
    while (!err && (more = spool_get(items, &b)) > 0) {
        err = mpimap_engine_run(e, b.data, b.len, &r);
        if (!err)
            err = spool_put(results, &r);
    }
    if (!err && more < 0)
        err = more;
    if (!err && fseek(results, 0, SEEK_SET) != 0)
        err = MPIMAP_EIO;
    while (!err && (more = spool_get(results, &r)) > 0)
        MPI_Send(r.data, (int)r.len, MPI_BYTE, root, TAG_RESULT, comm);
    if (!err && more < 0)
        err = more;
    MPI_Send(end_mark, 24, MPI_BYTE, root, TAG_RESULT, comm);
    if (err)
        fprintf(stderr, "mpimap: scatter: a rank could not run its share: %s\n",
                mpimap_strerror(err));
out:
    if (items)
        fclose(items);
    if (results)
        fclose(results);
    mpimap_buf_free(&b);
    mpimap_buf_free(&r);
    int final = 0;
    MPI_Bcast(&final, 1, MPI_INT, root, comm);
    return final ? final : err;
}

static int scatter_map(mpimap_engine *e)
{
    MPI_Comm comm = mpimap_engine_comm(e);
    int root = mpimap_engine_root(e);
    int rank = 0, size = 1;
    if (comm != MPI_COMM_NULL) {
        MPI_Comm_rank(comm, &rank);
        MPI_Comm_size(comm, &size);
    }
    if (size == 1)
        return mpimap_engine_serial(e);
    return rank == root ? scatter_root(e, comm, root, size)
                        : scatter_worker(e, comm, root);
}

static const struct mpimap_strategy_ops scatter_ops = {
    sizeof(struct mpimap_strategy_ops),
    scatter_map,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_STRATEGY, "scatter", "1.0.0",
                     "equal portions: one contiguous share per rank, up front",
                     NULL, NULL, NULL, &scatter_ops);
