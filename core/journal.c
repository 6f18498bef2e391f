/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * journal.c - the job's journal (format and guarantees: journal.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mpimap/mpimap.h>

#include "engine.h"
#include "journal.h"

/* ---- CRC-32C, slicing by 8 ----------------------------------------------- */

static uint32_t crc_table[8][256];
static int have_hw; /* the SSE 4.2 instruction */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    have_hw = __builtin_cpu_supports("sse4.2");
#endif
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] =
                (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* The SSE 4.2 instruction computes CRC-32C: 8 bytes a cycle or so. */
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const unsigned char *p,
                                                         size_t len)
{
    uint64_t c = ~crc;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}
#endif

uint32_t mpimap_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (have_hw)
        return crc_hw(crc, data, len);
#endif
    return mpimap_crc32c_portable(crc, data, len);
}

uint32_t mpimap_crc32c_portable(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    crc = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc; /* little-endian: the crc meets the first four bytes */
        crc = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
              crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
              crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
              crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- reading ------------------------------------------------------------- */

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static double get_f64(const unsigned char *p)
{
    double v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Check a record's entries without calling anyone: 1 when well formed. */
static int entries_ok(const unsigned char *p, uint64_t len)
{
    uint64_t off = 0;
    if (len == 0)
        return 0;
    while (off < len) {
        if (len - off < MPIMAP_JOURNAL_ENTRY_HEADER)
            return 0;
        uint32_t status = get_u32(p + off + 8);
        uint64_t n = get_u64(p + off + 32);
        off += MPIMAP_JOURNAL_ENTRY_HEADER;
        if (status > MPIMAP_JOURNAL_DIED || n > len - off)
            return 0;
        off += n;
    }
    return 1;
}

int mpimap_journal_parse(const void *buf, size_t len, mpimap_journal_cb cb, void *ctx,
                         size_t *good)
{
    const unsigned char *p = buf;
    size_t ml = strlen(MPIMAP_JOURNAL_FILE_MAGIC);
    *good = 0;
    if (len < ml || memcmp(p, MPIMAP_JOURNAL_FILE_MAGIC, ml) != 0)
        return MPIMAP_EINVAL;
    size_t off = ml;
    *good = off;
    while (len - off >= MPIMAP_JOURNAL_RECORD_HEADER) {
        const unsigned char *h = p + off;
        uint64_t rl = get_u64(h + 8);
        if (get_u32(h) != MPIMAP_JOURNAL_RECORD_MAGIC ||
            rl > len - off - MPIMAP_JOURNAL_RECORD_HEADER)
            break;
        const unsigned char *payload = h + MPIMAP_JOURNAL_RECORD_HEADER;
        uint32_t crc = mpimap_crc32c(0, h + 8, 8);
        crc = mpimap_crc32c(crc, payload, (size_t)rl);
        if (crc != get_u32(h + 4) || !entries_ok(payload, rl))
            break;
        if (cb) {
            uint64_t eo = 0;
            while (eo < rl) {
                const unsigned char *e = payload + eo;
                mpimap_journal_entry en;
                en.index = get_u64(e);
                en.status = (int)get_u32(e + 8);
                en.rank = (int)get_u32(e + 12);
                en.start = get_f64(e + 16);
                en.duration = get_f64(e + 24);
                en.len = (size_t)get_u64(e + 32);
                en.data = e + MPIMAP_JOURNAL_ENTRY_HEADER;
                en.offset = (uint64_t)(off + MPIMAP_JOURNAL_RECORD_HEADER + eo +
                                       MPIMAP_JOURNAL_ENTRY_HEADER);
                eo += MPIMAP_JOURNAL_ENTRY_HEADER + en.len;
                int rc = cb(ctx, &en);
                if (rc != 0) {
                    *good = off;
                    return rc;
                }
            }
        }
        off += MPIMAP_JOURNAL_RECORD_HEADER + (size_t)rl;
        *good = off;
    }
    return 0;
}

int mpimap_journal_scan(const char *path, mpimap_journal_cb cb, void *ctx, size_t *good)
{
    *good = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? MPIMAP_ENOTFOUND : MPIMAP_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return MPIMAP_EIO;
    }
    size_t len = (size_t)st.st_size;
    if (len == 0) {
        close(fd);
        return MPIMAP_EINVAL;
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return MPIMAP_EIO;
    madvise(map, len, MADV_SEQUENTIAL);
    int rc = mpimap_journal_parse(map, len, cb, ctx, good);
    munmap(map, len);
    return rc;
}

/* ---- writing ------------------------------------------------------------- */

struct mpimap_journal {
    int fd;
    double interval, last_sync;
    mpimap_buf rec;       /* the record being built, header included */
    uint64_t durable, pending;
};

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            return MPIMAP_EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int mpimap_journal_create(mpimap_journal **out, const char *path, double interval)
{
    *out = NULL;
    mpimap_journal *j = calloc(1, sizeof *j);
    if (!j)
        return MPIMAP_ENOMEM;
    j->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        free(j);
        return MPIMAP_EIO;
    }
    j->interval = interval;
    j->last_sync = mpimap_now();
    const char *m = MPIMAP_JOURNAL_FILE_MAGIC;
    if (write_all(j->fd, m, strlen(m)) < 0 || fdatasync(j->fd) != 0) {
        int saved = errno;
        close(j->fd);
        unlink(path);
        free(j);
        errno = saved;
        return MPIMAP_EIO;
    }
    *out = j;
    return 0;
}

int mpimap_journal_add(mpimap_journal *j, uint64_t index, int status, int rank,
                       double start, double duration, const void *data, size_t len)
{
    size_t at = j->rec.len ? j->rec.len : MPIMAP_JOURNAL_RECORD_HEADER;
    if (len > SIZE_MAX - at - MPIMAP_JOURNAL_ENTRY_HEADER)
        return MPIMAP_ENOMEM;
    int rc = mpimap_buf_reserve(&j->rec, at + MPIMAP_JOURNAL_ENTRY_HEADER + len);
    if (rc < 0)
        return rc;
    unsigned char *e = j->rec.data + at;
    uint32_t st = (uint32_t)status, rk = (uint32_t)rank;
    uint64_t n = len;
    memcpy(e, &index, 8);
    memcpy(e + 8, &st, 4);
    memcpy(e + 12, &rk, 4);
    memcpy(e + 16, &start, 8);
    memcpy(e + 24, &duration, 8);
    memcpy(e + 32, &n, 8);
    if (len)
        memcpy(e + MPIMAP_JOURNAL_ENTRY_HEADER, data, len);
    j->rec.len = at + MPIMAP_JOURNAL_ENTRY_HEADER + len;
    j->pending++;
    return 0;
}

int mpimap_journal_sync(mpimap_journal *j, int force)
{
    double now = mpimap_now();
    if (!force && now - j->last_sync < j->interval)
        return 0;
    j->last_sync = now;
    if (!j->pending)
        return 1;
    {
        unsigned char *h = j->rec.data;
        uint64_t rl = j->rec.len - MPIMAP_JOURNAL_RECORD_HEADER;
        uint32_t magic = MPIMAP_JOURNAL_RECORD_MAGIC;
        memcpy(h, &magic, 4);
        memcpy(h + 8, &rl, 8);
        uint32_t crc = mpimap_crc32c(0, h + 8, 8);
        crc = mpimap_crc32c(crc, h + MPIMAP_JOURNAL_RECORD_HEADER, (size_t)rl);
        memcpy(h + 4, &crc, 4);
        off_t before = lseek(j->fd, 0, SEEK_END);
        if (write_all(j->fd, h, j->rec.len) < 0) {
            /* A partial record is a torn tail: cut it off, so that a later
             * sync appends after intact records only. */
            int saved = errno;
            if (before >= 0 && ftruncate(j->fd, before) != 0) {
                /* the reader ignores a torn tail anyway */
            }
            errno = saved;
            return MPIMAP_EIO;
        }
    }
    if (fdatasync(j->fd) != 0)
        return MPIMAP_EIO;
    j->durable += j->pending;
    j->pending = 0;
    j->rec.len = 0;
    return 1;
}

uint64_t mpimap_journal_durable(const mpimap_journal *j) { return j ? j->durable : 0; }
uint64_t mpimap_journal_pending(const mpimap_journal *j) { return j ? j->pending : 0; }

int mpimap_journal_close(mpimap_journal *j)
{
    if (!j)
        return 0;
    int rc = mpimap_journal_sync(j, 1);
    if (close(j->fd) != 0 && rc >= 0)
        rc = MPIMAP_EIO;
    mpimap_buf_free(&j->rec);
    free(j);
    return rc < 0 ? rc : 0;
}
