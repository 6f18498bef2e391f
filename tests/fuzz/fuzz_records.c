/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_records.c - libFuzzer target for the record reader (records.c):
 * LINE, NUL and BINARY framing, rewind, seekable and non-seekable input.
 *
 * Input: one mode byte, then the file's bytes.
 *   mode & 3    framing: 0 LINE, 1 NUL, 2 BINARY, 3 LINE
 *   mode & 4    inflate: the next byte d, then the body, which is put
 *               after a filler of F = 1 MiB (the reader's buffer) - 256 +
 *               4 d bytes, so that its records cross the buffer's end.
 *               The filler is one record (LINE, NUL: F - 1 bytes 'f' and
 *               the separator; BINARY: its le64 length and F - 8 bytes)
 *   mode & 8    with inflate: the filler is not terminated: it and the
 *               body are one record larger than the buffer (BINARY: the
 *               length counts the body's bytes too)
 *   mode & 16   with inflate: F is 2 MiB larger (the big buffer grows);
 *               without: read through a pipe (not seekable: rewind must
 *               refuse)
 *
 * Every record is checked against the bytes of the file: the records and
 * their framing give back the file exactly, LINE and NUL records are
 * '\0'-terminated and hold no separator, a BINARY error is real and
 * sticky, the index counts, and a rewind (also in the middle) reads the
 * same records again.
 */
#include <fcntl.h>
#include <stdint.h>

#include <mpimap/mpimap.h>

#include "fuzz_common.h"
#include "records.h"

#define READ_CAP ((size_t)1 << 20) /* records.c's read buffer */

static int memfd = -1;
static char memfd_path[64];
static unsigned char *inflated;
static size_t inflated_cap;

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Read up to stop records (UINT64_MAX: all), checking each against
 * f[0..n). Returns the number read; *done is set when the input ended
 * (at its end or with an error), *err to the final code (0 or < 0). */
static uint64_t pass(mpimap_reader *r, int framing, const unsigned char *f, size_t n,
                     uint64_t stop, int *done, int *err)
{
    uint64_t count = 0;
    size_t off = 0;
    *done = 0;
    *err = 0;
    unsigned char sep = framing == MPIMAP_FRAME_NUL ? '\0' : '\n';
    while (count < stop) {
        FUZZ_CHECK(mpimap_reader_index(r) == count);
        const void *d = NULL;
        size_t len = 0;
        int rc = mpimap_reader_next(r, &d, &len);
        if (rc == 0) {
            FUZZ_CHECK(off == n);
            FUZZ_CHECK(mpimap_reader_next(r, &d, &len) == 0);
            FUZZ_CHECK(mpimap_reader_index(r) == count);
            *done = 1;
            return count;
        }
        if (rc < 0) {
            /* Only a malformed BINARY input may fail (no I/O errors on a
             * memfd or a pipe, no giant allocations). */
            FUZZ_CHECK(framing == MPIMAP_FRAME_BINARY);
            FUZZ_CHECK(rc == MPIMAP_EINVAL);
            size_t rem = n - off;
            FUZZ_CHECK(rem > 0);
            if (rem >= 8)
                FUZZ_CHECK(get_le64(f + off) > rem - 8);
            FUZZ_CHECK(mpimap_reader_error(r) != NULL);
            FUZZ_CHECK(mpimap_reader_next(r, &d, &len) == rc); /* sticky */
            FUZZ_CHECK(mpimap_reader_index(r) == count);
            *done = 1;
            *err = rc;
            return count;
        }
        FUZZ_CHECK(rc == 1);
        FUZZ_CHECK(d != NULL || len == 0);
        if (framing == MPIMAP_FRAME_BINARY) {
            FUZZ_CHECK(n - off >= 8);
            FUZZ_CHECK(get_le64(f + off) == len);
            FUZZ_CHECK(len <= n - off - 8);
            FUZZ_CHECK(len == 0 || memcmp(d, f + off + 8, len) == 0);
            off += 8 + len;
        } else {
            FUZZ_CHECK(len <= n - off);
            FUZZ_CHECK(len == 0 || memcmp(d, f + off, len) == 0);
            FUZZ_CHECK(((const unsigned char *)d)[len] == '\0');
            FUZZ_CHECK(memchr(d, sep, len) == NULL);
            off += len;
            if (off < n) {
                FUZZ_CHECK(f[off] == sep);
                off++;
            } else {
                /* An unterminated last record is never empty. */
                FUZZ_CHECK(len > 0);
            }
        }
        count++;
    }
    return count;
}

/* Open a reader on f[0..n) through a pipe (n must fit the pipe). */
static int open_pipe(mpimap_reader **r, int framing, const unsigned char *f, size_t n)
{
    int p[2];
    FUZZ_SETUP(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    size_t off = 0;
    while (off < n) {
        ssize_t k = write(p[1], f + off, n - off);
        if (k <= 0) {
            close(p[0]);
            close(p[1]);
            return -1; /* does not fit: not this mode */
        }
        off += (size_t)k;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
    int rc = mpimap_reader_open(r, path, framing);
    close(p[1]);
    close(p[0]);
    FUZZ_CHECK(rc == 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    int framing = (mode & 3) == 3 ? MPIMAP_FRAME_LINE : (int)(mode & 3);
    const unsigned char *f = data + 1;
    size_t n = size - 1;

    if ((mode & 4) && n >= 1) {
        size_t fill = READ_CAP - 256 + (size_t)f[0] * 4;
        if (mode & 16)
            fill += 2 * READ_CAP;
        const unsigned char *body = f + 1;
        size_t blen = n - 1;
        size_t total = fill + blen;
        if (total > inflated_cap) {
            unsigned char *p = realloc(inflated, total);
            FUZZ_SETUP(p != NULL);
            inflated = p;
            inflated_cap = total;
        }
        memset(inflated, 'f', fill);
        int joined = (mode & 8) != 0;
        if (framing == MPIMAP_FRAME_BINARY) {
            uint64_t len = fill - 8 + (joined ? blen : 0);
            for (int i = 0; i < 8; i++)
                inflated[i] = (unsigned char)(len >> (8 * i));
        } else if (!joined) {
            inflated[fill - 1] = framing == MPIMAP_FRAME_NUL ? '\0' : '\n';
        }
        if (blen)
            memcpy(inflated + fill, body, blen);
        f = inflated;
        n = total;
    }

    mpimap_reader *r = NULL;
    int seekable = 1;
    if ((mode & 16) && !(mode & 4) && open_pipe(&r, framing, f, n) == 0) {
        seekable = 0;
    } else {
        if (memfd < 0)
            memfd = fuzz_memfd("fuzz_records", memfd_path);
        fuzz_fill(memfd, f, n);
        FUZZ_CHECK(mpimap_reader_open(&r, memfd_path, framing) == 0);
    }
    FUZZ_CHECK(r != NULL);
    FUZZ_CHECK(mpimap_reader_error(r) == NULL);

    int done, err;
    uint64_t count = pass(r, framing, f, n, UINT64_MAX, &done, &err);
    FUZZ_CHECK(done);

    if (!seekable) {
        /* Refused, and the reader is left as it was. */
        FUZZ_CHECK(mpimap_reader_rewind(r) == MPIMAP_EINVAL);
        FUZZ_CHECK(mpimap_reader_error(r) != NULL);
        const void *d;
        size_t len;
        FUZZ_CHECK(mpimap_reader_next(r, &d, &len) == err);
        FUZZ_CHECK(mpimap_reader_index(r) == count);
    } else {
        /* Again from the start: half of the records, then all of them. */
        int done2, err2;
        FUZZ_CHECK(mpimap_reader_rewind(r) == 0);
        FUZZ_CHECK(mpimap_reader_error(r) == NULL);
        uint64_t half = pass(r, framing, f, n, count / 2, &done2, &err2);
        FUZZ_CHECK(half == count / 2);
        FUZZ_CHECK(mpimap_reader_rewind(r) == 0);
        uint64_t again = pass(r, framing, f, n, UINT64_MAX, &done2, &err2);
        FUZZ_CHECK(done2);
        FUZZ_CHECK(again == count);
        FUZZ_CHECK(err2 == err);
    }
    mpimap_reader_close(r);
    return 0;
}
