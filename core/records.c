/* SPDX-License-Identifier: BSD-3-Clause */
/* records.c - item framing: the streaming record reader and writer. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mpimap/mpimap.h>

#include "records.h"

#define READ_CAP ((size_t)1 << 20)  /* the reader's buffer */
#define WRITE_CAP ((size_t)1 << 20) /* the writer's buffer */

static int framing_valid(int framing)
{
    return framing == MPIMAP_FRAME_LINE || framing == MPIMAP_FRAME_NUL ||
           framing == MPIMAP_FRAME_BINARY;
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* ======================================================================== */
/* Reader                                                                   */
/* ======================================================================== */

struct mpimap_reader {
    int fd;              /* -1 when the open failed */
    int close_fd;        /* we opened it */
    int framing;
    unsigned char sep;   /* LINE/NUL separator */
    int eof;             /* read() returned 0 */
    int seekable;
    int status;          /* 0, or the sticky error code */
    char *name;          /* for messages: the path, or "<stdin>" */
    char *error;         /* malloc'd message, or NULL */
    unsigned char *buf;  /* READ_CAP + 1 bytes (room for a final '\0') */
    size_t pos, end;     /* unread bytes are buf[pos..end) */
    unsigned char *big;  /* records larger than the buffer */
    size_t bigcap;
    uint64_t index;      /* of the next record */
    uint64_t off;        /* byte offset of the next record */
    off_t start;         /* file offset at open, for rewind */
};

static void reader_vmsg(mpimap_reader *r, const char *fmt, va_list ap)
{
    char *m = NULL;
    free(r->error);
    r->error = NULL;
    if (vasprintf(&m, fmt, ap) >= 0)
        r->error = m;
}

static void reader_msg(mpimap_reader *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void reader_msg(mpimap_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reader_vmsg(r, fmt, ap);
    va_end(ap);
}

/* Fail the reader for good at the current record, with the prefix
 * "NAME: item I at byte O: ". */
static int reader_fail(mpimap_reader *r, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int reader_fail(mpimap_reader *r, int code, const char *fmt, ...)
{
    char *what = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&what, fmt, ap);
    va_end(ap);
    if (n < 0)
        what = NULL;
    reader_msg(r, "%s: item %" PRIu64 " at byte %" PRIu64 ": %s", r->name,
               r->index, r->off, what ? what : mpimap_strerror(code));
    free(what);
    r->status = code;
    return code;
}

/* read(2) up to max bytes into dst, retrying on EINTR. Returns the count
 * (0 at the end of the input) or a negative code. */
static long reader_read(mpimap_reader *r, unsigned char *dst, size_t max)
{
    for (;;) {
        ssize_t n = read(r->fd, dst, max);
        if (n >= 0) {
            if (n == 0)
                r->eof = 1;
            return (long)n;
        }
        if (errno == EINTR)
            continue;
        return reader_fail(r, MPIMAP_EIO, "read failed: %s", strerror(errno));
    }
}

/* Read more into the buffer after end (requires end < READ_CAP). */
static long reader_fill(mpimap_reader *r)
{
    long n = reader_read(r, r->buf + r->end, READ_CAP - r->end);
    if (n > 0)
        r->end += (size_t)n;
    return n;
}

static void reader_compact(mpimap_reader *r)
{
    if (r->pos == 0)
        return;
    size_t avail = r->end - r->pos;
    if (avail)
        memmove(r->buf, r->buf + r->pos, avail);
    r->pos = 0;
    r->end = avail;
}

static int reader_big_reserve(mpimap_reader *r, size_t need)
{
    if (need <= r->bigcap)
        return 0;
    size_t ncap = r->bigcap ? r->bigcap : READ_CAP;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            ncap = need;
            break;
        }
        ncap *= 2;
    }
    unsigned char *p = realloc(r->big, ncap);
    if (!p)
        return reader_fail(r, MPIMAP_ENOMEM, "out of memory for a record of "
                           "more than %zu bytes", need - 1);
    r->big = p;
    r->bigcap = ncap;
    return 0;
}

/* A LINE/NUL record longer than the buffer: buf[pos..end) is full and holds
 * no separator. Collect the record in the big buffer. */
static int reader_next_big(mpimap_reader *r, const void **data, size_t *len)
{
    size_t n = 0;
    int found = 0;
    for (;;) {
        unsigned char *s = r->buf + r->pos;
        size_t avail = r->end - r->pos;
        unsigned char *p = avail ? memchr(s, r->sep, avail) : NULL;
        size_t take = p ? (size_t)(p - s) : avail;
        if (take > SIZE_MAX - 1 - n)
            return reader_fail(r, MPIMAP_ENOMEM, "record too large");
        int rc = reader_big_reserve(r, n + take + 1);
        if (rc < 0)
            return rc;
        memcpy(r->big + n, s, take);
        n += take;
        if (p) {
            r->pos += take + 1;
            found = 1;
            break;
        }
        r->pos = r->end = 0;
        if (r->eof)
            break;
        long got = reader_fill(r);
        if (got < 0)
            return (int)got;
    }
    r->big[n] = '\0';
    r->off += n + (size_t)found;
    r->index++;
    *data = r->big;
    *len = n;
    return 1;
}

static int reader_next_delim(mpimap_reader *r, const void **data, size_t *len)
{
    size_t checked = 0; /* bytes after pos known to hold no separator */
    for (;;) {
        unsigned char *s = r->buf + r->pos;
        size_t avail = r->end - r->pos;
        unsigned char *p =
            avail > checked ? memchr(s + checked, r->sep, avail - checked) : NULL;
        if (p) {
            size_t n = (size_t)(p - s);
            *p = '\0';
            r->pos += n + 1;
            r->off += n + 1;
            r->index++;
            *data = s;
            *len = n;
            return 1;
        }
        checked = avail;
        if (r->eof) {
            if (!avail)
                return 0;
            s[avail] = '\0'; /* end <= READ_CAP: the spare byte */
            r->pos = r->end;
            r->off += avail;
            r->index++;
            *data = s;
            *len = avail;
            return 1;
        }
        if (r->end == READ_CAP) {
            if (r->pos == 0)
                return reader_next_big(r, data, len);
            reader_compact(r);
        }
        long got = reader_fill(r);
        if (got < 0)
            return (int)got;
    }
}

/* Make at least need bytes (need <= READ_CAP) available after pos, unless
 * the input ends first. Returns 0 or a negative code. */
static int reader_ensure(mpimap_reader *r, size_t need)
{
    while (r->end - r->pos < need && !r->eof) {
        if (r->pos + need > READ_CAP)
            reader_compact(r);
        long got = reader_fill(r);
        if (got < 0)
            return (int)got;
    }
    return 0;
}

static int reader_next_binary(mpimap_reader *r, const void **data, size_t *len)
{
    int rc = reader_ensure(r, 8);
    if (rc < 0)
        return rc;
    size_t avail = r->end - r->pos;
    if (avail == 0)
        return 0;
    if (avail < 8)
        return reader_fail(r, MPIMAP_EINVAL,
                           "truncated record length: %zu of 8 bytes", avail);
    uint64_t n = get_le64(r->buf + r->pos);
    if (n <= READ_CAP - 8) {
        rc = reader_ensure(r, 8 + (size_t)n);
        if (rc < 0)
            return rc;
        avail = r->end - r->pos;
        if (avail - 8 < n)
            return reader_fail(r, MPIMAP_EINVAL,
                               "record claims %" PRIu64 " bytes but only %zu remain",
                               n, avail - 8);
        *data = r->buf + r->pos + 8;
        *len = (size_t)n;
        r->pos += 8 + (size_t)n;
        r->off += 8 + n;
        r->index++;
        return 1;
    }

    /* A record larger than the buffer: read its body straight into the
     * big buffer, growing it as the bytes arrive (so a corrupt length
     * gives a truncation error, not a giant allocation). */
    if (n > (uint64_t)INT64_MAX) /* more than any file holds: corrupt */
        return reader_fail(r, MPIMAP_EINVAL,
                           "record claims %" PRIu64 " bytes: impossibly large", n);
    if (n > SIZE_MAX - 1)
        return reader_fail(r, MPIMAP_ENOMEM,
                           "record claims %" PRIu64 " bytes: too large", n);
    size_t want = (size_t)n;
    size_t got = avail - 8;
    rc = reader_big_reserve(r, got + 1);
    if (rc < 0)
        return rc;
    memcpy(r->big, r->buf + r->pos + 8, got);
    r->pos = r->end = 0;
    while (got < want) {
        if (r->eof)
            return reader_fail(r, MPIMAP_EINVAL,
                               "record claims %" PRIu64 " bytes but only %zu remain",
                               n, got);
        if (got == r->bigcap) {
            rc = reader_big_reserve(r, got + 1); /* doubles */
            if (rc < 0)
                return rc;
        }
        size_t room = r->bigcap - got;
        if (room > want - got)
            room = want - got;
        long k = reader_read(r, r->big + got, room);
        if (k < 0)
            return (int)k;
        got += (size_t)k;
    }
    *data = r->big;
    *len = want;
    r->off += 8 + n;
    r->index++;
    return 1;
}

int mpimap_reader_next(mpimap_reader *r, const void **data, size_t *len)
{
    if (!r || !data || !len)
        return MPIMAP_EINVAL;
    if (r->status)
        return r->status;
    if (r->framing == MPIMAP_FRAME_BINARY)
        return reader_next_binary(r, data, len);
    return reader_next_delim(r, data, len);
}

int mpimap_reader_peek(mpimap_reader *r, const unsigned char **data, size_t *len, int *sep)
{
    if (!r || r->status || r->framing == MPIMAP_FRAME_BINARY || !framing_valid(r->framing))
        return 0;
    *data = r->buf + r->pos;
    *len = r->end - r->pos;
    *sep = r->sep;
    return 1;
}

void mpimap_reader_consume(mpimap_reader *r, size_t nbytes, uint64_t nrecords)
{
    r->pos += nbytes;
    r->off += nbytes;
    r->index += nrecords;
}

int mpimap_reader_open(mpimap_reader **out, const char *path, int framing)
{
    if (!out)
        return MPIMAP_EINVAL;
    *out = NULL;
    mpimap_reader *r = calloc(1, sizeof *r);
    if (!r)
        return MPIMAP_ENOMEM;
    r->fd = -1;
    r->framing = framing;
    r->sep = framing == MPIMAP_FRAME_NUL ? '\0' : '\n';
    int is_stdin = !path || strcmp(path, "-") == 0;
    r->name = strdup(is_stdin ? "<stdin>" : path);
    r->buf = malloc(READ_CAP + 1);
    if (!r->name || !r->buf) {
        mpimap_reader_close(r);
        return MPIMAP_ENOMEM;
    }
    *out = r;

    if (!framing_valid(framing)) {
        reader_msg(r, "%s: invalid framing %d", r->name, framing);
        return r->status = MPIMAP_EINVAL;
    }
    if (is_stdin) {
        r->fd = STDIN_FILENO;
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            int e = errno;
            reader_msg(r, "cannot open '%s': %s", path, strerror(e));
            return r->status = e == ENOENT ? MPIMAP_ENOTFOUND : MPIMAP_EIO;
        }
        r->close_fd = 1;
    }
    struct stat st;
    if (fstat(r->fd, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            reader_msg(r, "cannot read '%s': %s", r->name, strerror(EISDIR));
            return r->status = MPIMAP_EIO;
        }
        if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
            r->start = lseek(r->fd, 0, SEEK_CUR);
            r->seekable = r->start >= 0;
#ifdef POSIX_FADV_SEQUENTIAL
            if (r->seekable)
                (void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
        }
    }
    return 0;
}

const char *mpimap_reader_error(const mpimap_reader *r)
{
    if (!r)
        return NULL;
    if (r->error)
        return r->error;
    return r->status ? mpimap_strerror(r->status) : NULL;
}

uint64_t mpimap_reader_index(const mpimap_reader *r)
{
    return r ? r->index : 0;
}

int mpimap_reader_rewind(mpimap_reader *r)
{
    if (!r)
        return MPIMAP_EINVAL;
    if (r->fd < 0 || !framing_valid(r->framing))
        return r->status ? r->status : MPIMAP_EINVAL;
    if (!r->seekable) {
        reader_msg(r, "%s: cannot rewind: not a seekable file", r->name);
        return MPIMAP_EINVAL;
    }
    if (lseek(r->fd, r->start, SEEK_SET) < 0) {
        reader_msg(r, "%s: cannot rewind: %s", r->name, strerror(errno));
        return MPIMAP_EIO;
    }
    free(r->error);
    r->error = NULL;
    r->status = 0;
    r->eof = 0;
    r->pos = r->end = 0;
    r->index = 0;
    r->off = 0;
    return 0;
}

void mpimap_reader_close(mpimap_reader *r)
{
    if (!r)
        return;
    if (r->close_fd && r->fd >= 0)
        close(r->fd);
    free(r->name);
    free(r->error);
    free(r->buf);
    free(r->big);
    free(r);
}

/* ======================================================================== */
/* Writer                                                                   */
/* ======================================================================== */

enum writer_state { W_OPEN, W_COMMITTED, W_ABORTED };

struct mpimap_writer {
    int fd;              /* -1 when closed or never opened */
    int close_fd;        /* we opened it */
    int framing;
    unsigned char sep;
    int status;          /* 0, or the sticky error code */
    int state;           /* enum writer_state */
    char *name;          /* for messages: the path, "<stdout>", "<fd N>" */
    char *target;        /* where the temporary file goes, or NULL */
    char *tmp;           /* the temporary file, or NULL */
    char *error;
    unsigned char *buf;  /* WRITE_CAP bytes */
    size_t len;
};

static void writer_msg(mpimap_writer *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void writer_msg(mpimap_writer *w, const char *fmt, ...)
{
    char *m = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&m, fmt, ap);
    va_end(ap);
    free(w->error);
    w->error = n >= 0 ? m : NULL;
}

static int writer_write_all(mpimap_writer *w, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            writer_msg(w, "%s: write failed: %s", w->name,
                       strerror(n < 0 ? errno : ENOSPC));
            return w->status = MPIMAP_EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int writer_flush_buf(mpimap_writer *w)
{
    if (!w->len)
        return 0;
    size_t n = w->len;
    w->len = 0;
    return writer_write_all(w, w->buf, n);
}

/* Append bytes: into the buffer, or straight out when they are large. */
static int writer_append(mpimap_writer *w, const void *data, size_t len)
{
    if (len <= WRITE_CAP - w->len) {
        if (len)
            memcpy(w->buf + w->len, data, len);
        w->len += len;
        return 0;
    }
    int rc = writer_flush_buf(w);
    if (rc < 0)
        return rc;
    if (len >= WRITE_CAP)
        return writer_write_all(w, data, len);
    memcpy(w->buf, data, len);
    w->len = len;
    return 0;
}

static int writer_check(const mpimap_writer *w)
{
    if (!w)
        return MPIMAP_EINVAL;
    if (w->status)
        return w->status;
    if (w->state != W_OPEN || w->fd < 0)
        return MPIMAP_EINVAL;
    return 0;
}

int mpimap_writer_put(mpimap_writer *w, const void *data, size_t len)
{
    int rc = writer_check(w);
    if (rc < 0)
        return rc;
    if (len && !data)
        return MPIMAP_EINVAL;
    if (w->framing != MPIMAP_FRAME_BINARY) {
        if (len < WRITE_CAP - w->len) { /* the fast path */
            if (len)
                memcpy(w->buf + w->len, data, len);
            w->buf[w->len + len] = w->sep;
            w->len += len + 1;
            return 0;
        }
        rc = writer_append(w, data, len);
        return rc < 0 ? rc : writer_append(w, &w->sep, 1);
    }
    unsigned char hdr[8];
    put_le64(hdr, (uint64_t)len);
    rc = writer_append(w, hdr, sizeof hdr);
    return rc < 0 ? rc : writer_append(w, data, len);
}

int mpimap_writer_put_indexed(mpimap_writer *w, uint64_t index,
                              const void *data, size_t len)
{
    int rc = writer_check(w);
    if (rc < 0)
        return rc;
    if (len && !data)
        return MPIMAP_EINVAL;
    if (w->framing == MPIMAP_FRAME_BINARY) {
        unsigned char hdr[16];
        put_le64(hdr, index);
        put_le64(hdr + 8, (uint64_t)len);
        rc = writer_append(w, hdr, sizeof hdr);
        return rc < 0 ? rc : writer_append(w, data, len);
    }
    unsigned char num[24]; /* 20 digits and a tab */
    size_t i = sizeof num;
    num[--i] = '\t';
    do {
        num[--i] = (unsigned char)('0' + index % 10);
        index /= 10;
    } while (index);
    rc = writer_append(w, num + i, sizeof num - i);
    if (rc == 0)
        rc = writer_append(w, data, len);
    return rc < 0 ? rc : writer_append(w, &w->sep, 1);
}

int mpimap_writer_flush(mpimap_writer *w)
{
    int rc = writer_check(w);
    return rc < 0 ? rc : writer_flush_buf(w);
}

static mpimap_writer *writer_new(int framing, const char *name)
{
    mpimap_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fd = -1;
    w->framing = framing;
    w->sep = framing == MPIMAP_FRAME_NUL ? '\0' : '\n';
    w->name = strdup(name);
    w->buf = malloc(WRITE_CAP);
    if (!w->name || !w->buf) {
        free(w->name);
        free(w->buf);
        free(w);
        return NULL;
    }
    return w;
}

int mpimap_writer_open_fd(mpimap_writer **out, int fd, int framing)
{
    if (!out)
        return MPIMAP_EINVAL;
    *out = NULL;
    char *name = NULL;
    if (fd == STDOUT_FILENO)
        name = strdup("<stdout>");
    else if (asprintf(&name, "<fd %d>", fd) < 0)
        name = NULL;
    if (!name)
        return MPIMAP_ENOMEM;
    mpimap_writer *w = writer_new(framing, name);
    free(name);
    if (!w)
        return MPIMAP_ENOMEM;
    *out = w;
    if (!framing_valid(framing)) {
        writer_msg(w, "%s: invalid framing %d", w->name, framing);
        return w->status = MPIMAP_EINVAL;
    }
    if (fd < 0) {
        writer_msg(w, "%s: bad file descriptor", w->name);
        return w->status = MPIMAP_EINVAL;
    }
    w->fd = fd;
    return 0;
}

/* Six random characters for a temporary name. */
static void random_suffix(char *out, unsigned attempt)
{
    static const char set[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
                     ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)out ^
                     ((uint64_t)attempt * 0x9E3779B97F4A7C15u);
        for (size_t i = 0; i < sizeof rnd; i++) {
            x ^= x >> 33;
            x *= 0xff51afd7ed558ccdu;
            rnd[i] = (unsigned char)(x >> 56);
        }
    }
    for (size_t i = 0; i < sizeof rnd; i++)
        out[i] = set[rnd[i] % (sizeof set - 1)];
}

int mpimap_writer_open(mpimap_writer **out, const char *path, int framing)
{
    if (!out)
        return MPIMAP_EINVAL;
    if (!path || strcmp(path, "-") == 0)
        return mpimap_writer_open_fd(out, STDOUT_FILENO, framing);
    *out = NULL;
    mpimap_writer *w = writer_new(framing, path);
    if (!w)
        return MPIMAP_ENOMEM;
    *out = w;
    if (!framing_valid(framing)) {
        writer_msg(w, "%s: invalid framing %d", w->name, framing);
        return w->status = MPIMAP_EINVAL;
    }

    struct stat st;
    int exists = stat(path, &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) {
        /* A device, FIFO or directory: write it in place, never rename
         * over it. */
        w->fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (w->fd < 0) {
            int e = errno;
            writer_msg(w, "cannot open '%s' for writing: %s", path, strerror(e));
            return w->status = e == ENOENT ? MPIMAP_ENOTFOUND : MPIMAP_EIO;
        }
        w->close_fd = 1;
        return 0;
    }

    /* Follow a symbolic link so that its target is replaced, not it. */
    struct stat lst;
    if (exists && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
        w->target = realpath(path, NULL);
    if (!w->target)
        w->target = strdup(path);
    size_t tlen = w->target ? strlen(w->target) : 0;
    w->tmp = w->target ? malloc(tlen + sizeof ".tmp.XXXXXX") : NULL;
    if (!w->tmp) {
        mpimap_writer_close(w);
        *out = NULL;
        return MPIMAP_ENOMEM;
    }
    memcpy(w->tmp, w->target, tlen);
    memcpy(w->tmp + tlen, ".tmp.", 5);
    w->tmp[tlen + 11] = '\0';
    int e = EEXIST;
    for (unsigned attempt = 0; attempt < 100 && e == EEXIST; attempt++) {
        random_suffix(w->tmp + tlen + 5, attempt);
        /* 0666 and the umask, as for a file the shell creates. */
        w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        e = w->fd < 0 ? errno : 0;
    }
    if (w->fd < 0) {
        writer_msg(w, "cannot create '%s': %s", path, strerror(e));
        free(w->tmp);
        w->tmp = NULL;
        return w->status = e == ENOENT ? MPIMAP_ENOTFOUND : MPIMAP_EIO;
    }
    w->close_fd = 1;
    if (exists)
        (void)fchmod(w->fd, st.st_mode & 07777);
    return 0;
}

/* fsync the directory holding path, so that a rename survives a crash
 * (best effort: some file systems refuse). */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : strdup(".");
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int mpimap_writer_commit(mpimap_writer *w)
{
    int rc = writer_check(w);
    if (rc < 0)
        return rc;
    rc = writer_flush_buf(w);
    if (rc < 0)
        return rc;
    if (w->tmp) {
        if (fsync(w->fd) < 0) {
            writer_msg(w, "%s: fsync failed: %s", w->name, strerror(errno));
            return w->status = MPIMAP_EIO;
        }
        int fd = w->fd;
        w->fd = -1;
        if (close(fd) < 0) {
            writer_msg(w, "%s: close failed: %s", w->name, strerror(errno));
            return w->status = MPIMAP_EIO;
        }
        if (rename(w->tmp, w->target) < 0) {
            writer_msg(w, "cannot rename '%s' to '%s': %s", w->tmp, w->target,
                       strerror(errno));
            return w->status = MPIMAP_EIO;
        }
        free(w->tmp);
        w->tmp = NULL;
        sync_parent_dir(w->target);
    } else if (w->close_fd) {
        int fd = w->fd;
        w->fd = -1;
        if (close(fd) < 0) {
            writer_msg(w, "%s: close failed: %s", w->name, strerror(errno));
            return w->status = MPIMAP_EIO;
        }
    }
    w->state = W_COMMITTED;
    return 0;
}

int mpimap_writer_abort(mpimap_writer *w)
{
    if (!w || w->state != W_OPEN)
        return 0;
    w->len = 0;
    if (w->close_fd && w->fd >= 0)
        close(w->fd);
    if (w->close_fd)
        w->fd = -1;
    if (w->tmp) {
        (void)unlink(w->tmp);
        free(w->tmp);
        w->tmp = NULL;
    }
    w->state = W_ABORTED;
    return 0;
}

const char *mpimap_writer_error(const mpimap_writer *w)
{
    if (!w)
        return NULL;
    if (w->error)
        return w->error;
    return w->status ? mpimap_strerror(w->status) : NULL;
}

void mpimap_writer_close(mpimap_writer *w)
{
    if (!w)
        return;
    mpimap_writer_abort(w);
    if (w->close_fd && w->fd >= 0)
        close(w->fd);
    free(w->name);
    free(w->target);
    free(w->tmp);
    free(w->error);
    free(w->buf);
    free(w);
}
