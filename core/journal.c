/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * journal.c - the job's journal (format and guarantees: journal.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mpimap/mpimap.h>

#include "engine.h"
#include "journal.h"
#include "resultset.h"
#include "varint.h"
#include "wire.h"

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

/* Check an old record's entries without calling anyone: 1 when well formed. */
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

/* An old record's entry whose header is at e, at in the file. */
static void old_entry(const unsigned char *e, uint64_t at, mpimap_journal_entry *en)
{
    en->index = get_u64(e);
    en->status = (int)get_u32(e + 8);
    en->rank = (int)get_u32(e + 12);
    en->start = get_f64(e + 16);
    en->duration = get_f64(e + 24);
    en->len = (size_t)get_u64(e + 32);
    en->data = e + MPIMAP_JOURNAL_ENTRY_HEADER;
    en->offset = at + MPIMAP_JOURNAL_ENTRY_HEADER;
    en->where = at << MPIMAP_JOURNAL_KIND_BITS | MPIMAP_JOURNAL_KIND_OLD;
}

/* Call cb for each entry of a well-formed old record: 0, or what cb
 * returned. */
static int walk_old(const unsigned char *p, uint64_t rl, uint64_t at, mpimap_journal_cb cb,
                    void *ctx)
{
    for (uint64_t eo = 0; eo < rl;) {
        mpimap_journal_entry en;
        old_entry(p + eo, at + eo, &en);
        eo += MPIMAP_JOURNAL_ENTRY_HEADER + en.len;
        int rc = cb(ctx, &en);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Read a compact entry at *pp (before end) into *en but its start (and
 * with over < 0 its index, not checked), its start delta into
 * *start_delta, *pp past it; its index follows expected (+ 2^64 when
 * over). 0, or -1 when malformed. */
static int compact_entry(const unsigned char **pp, const unsigned char *end, uint64_t expected,
                         int over, mpimap_journal_entry *en, uint64_t *start_delta)
{
    const unsigned char *p = *pp;
    uint64_t rank, z, d, n;
    if (p == end || *p > MPIMAP_JOURNAL_DIED)
        return -1;
    en->status = *p++;
    if (get_varint(&p, end, &rank) < 0 || rank > INT_MAX || get_varint(&p, end, &z) < 0)
        return -1;
    if (over < 0) {
        en->index = 0;
    } else if (!(z & 1)) { /* expected + z / 2 */
        if (over || z >> 1 > UINT64_MAX - expected)
            return -1;
        en->index = expected + (z >> 1);
    } else { /* expected - (z / 2 + 1) */
        uint64_t m = (z >> 1) + 1;
        if (!over && m > expected)
            return -1;
        en->index = expected - m; /* over: 2^64 + expected - m, expected = 0 */
    }
    if (get_varint(&p, end, start_delta) < 0 || get_varint(&p, end, &d) < 0 ||
        get_varint(&p, end, &n) < 0 || n > (uint64_t)(end - p))
        return -1;
    en->rank = (int)rank;
    en->duration = (double)d / 1e9;
    en->data = p;
    en->len = (size_t)n;
    *pp = p + n;
    return 0;
}

/* Walk a compact record's payload p (at in the file, rl bytes): with cb
 * NULL check it (0 well formed, -1 not), else call cb for each entry (0,
 * or what cb returned). */
static int walk_compact(const unsigned char *p, uint64_t rl, uint64_t at, mpimap_journal_cb cb,
                        void *ctx)
{
    if (rl <= MPIMAP_JOURNAL_COMPACT_BASE)
        return -1;
    const unsigned char *q = p + MPIMAP_JOURNAL_COMPACT_BASE, *end = p + rl;
    uint64_t expected = get_u64(p), cum = 0;
    double base = get_f64(p + 8);
    int over = 0;
    while (q < end) {
        const unsigned char *e = q;
        mpimap_journal_entry en;
        uint64_t delta;
        if (compact_entry(&q, end, expected, over, &en, &delta) < 0)
            return -1;
        cum += unzigzag(delta);
        if (cb) {
            en.start = base + (double)(int64_t)cum / 1e9;
            en.offset = at + (uint64_t)((const unsigned char *)en.data - p);
            en.where = (at + (uint64_t)(e - p)) << MPIMAP_JOURNAL_KIND_BITS |
                       MPIMAP_JOURNAL_KIND_COMPACT;
            int rc = cb(ctx, &en);
            if (rc != 0)
                return rc;
        }
        over = en.index == UINT64_MAX;
        expected = en.index + 1;
    }
    return 0;
}

/* Walk a result-set record's payload p (at in the file, rl bytes): with
 * cb NULL check it (0 well formed, -1 not), else call cb for each entry
 * (0, or what cb returned). */
static int walk_set(const unsigned char *p, uint64_t rl, uint64_t at, mpimap_journal_cb cb,
                    void *ctx)
{
    mpimap_results_iter it;
    if (rl < MPIMAP_JOURNAL_SET_BASE + MPIMAP_RESULTS_HEADER ||
        mpimap_results_begin(&it, p + MPIMAP_JOURNAL_SET_BASE,
                             (size_t)(rl - MPIMAP_JOURNAL_SET_BASE)) < 0)
        return -1;
    uint64_t base = get_u64(p);
    if (it.count == 0 || it.rank < 0 || it.count - 1 > UINT64_MAX - base)
        return -1;
    for (;;) {
        const unsigned char *e = it.q;
        mpimap_results_rec r;
        int rc = mpimap_results_next(&it, &r);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        if (cb) {
            mpimap_journal_entry en = {
                .index = base + it.i - 1,
                .status = r.status,
                .rank = it.rank,
                .start = r.start,
                .duration = r.duration,
                .data = r.data,
                .len = r.len,
                .offset = at + (uint64_t)(r.data - p),
                .where = (at + (uint64_t)(e - p)) << MPIMAP_JOURNAL_KIND_BITS |
                         MPIMAP_JOURNAL_KIND_SET,
            };
            if ((rc = cb(ctx, &en)) != 0)
                return rc;
        }
    }
    return it.q == it.end ? 0 : -1;
}

/* How a record of magic is read: 0 old, 1 compact, 2 result set, -1 not a
 * record's magic. */
static int record_kind(uint32_t magic)
{
    switch (magic) {
    case MPIMAP_JOURNAL_RECORD_MAGIC:
        return MPIMAP_JOURNAL_KIND_OLD;
    case MPIMAP_JOURNAL_RECORD_MAGIC2:
    case MPIMAP_JOURNAL_RECORD_MAGIC3:
        return MPIMAP_JOURNAL_KIND_COMPACT;
    case MPIMAP_JOURNAL_RECORD_MAGIC4:
        return MPIMAP_JOURNAL_KIND_SET;
    default:
        return -1;
    }
}

/* Walk a record's payload of kind with cb (NULL: check it). */
static int walk_record(int kind, const unsigned char *p, uint64_t rl, uint64_t at,
                       mpimap_journal_cb cb, void *ctx)
{
    if (kind == MPIMAP_JOURNAL_KIND_SET)
        return walk_set(p, rl, at, cb, ctx);
    if (kind == MPIMAP_JOURNAL_KIND_COMPACT)
        return walk_compact(p, rl, at, cb, ctx);
    if (!cb)
        return entries_ok(p, rl) ? 0 : -1;
    return walk_old(p, rl, at, cb, ctx);
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
        uint32_t magic = get_u32(h);
        uint64_t rl = get_u64(h + 8);
        int kind = record_kind(magic);
        if (kind < 0 || rl > len - off - MPIMAP_JOURNAL_RECORD_HEADER)
            break;
        int covered =
            magic == MPIMAP_JOURNAL_RECORD_MAGIC3 || magic == MPIMAP_JOURNAL_RECORD_MAGIC4;
        const unsigned char *payload = h + MPIMAP_JOURNAL_RECORD_HEADER;
        uint64_t at = (uint64_t)off + MPIMAP_JOURNAL_RECORD_HEADER;
        uint32_t crc = mpimap_crc32c(covered ? mpimap_crc32c(0, h, 4) : 0, h + 8, 8);
        crc = mpimap_crc32c(crc, payload, (size_t)rl);
        if (crc != get_u32(h + 4) || walk_record(kind, payload, rl, at, NULL, NULL) != 0)
            break;
        int rc = cb ? walk_record(kind, payload, rl, at, cb, ctx) : 0;
        if (rc != 0) {
            *good = off;
            return rc;
        }
        off += MPIMAP_JOURNAL_RECORD_HEADER + (size_t)rl;
        *good = off;
    }
    return 0;
}

int mpimap_journal_entry_at(const void *buf, size_t len, uint64_t where,
                            mpimap_journal_entry *e)
{
    const unsigned char *p = buf;
    uint64_t at = where >> MPIMAP_JOURNAL_KIND_BITS;
    int kind = (int)(where & ((1u << MPIMAP_JOURNAL_KIND_BITS) - 1));
    memset(e, 0, sizeof *e);
    if (at > len)
        return MPIMAP_EINVAL;
    if (kind == MPIMAP_JOURNAL_KIND_SET) {
        /* One record read without its set's header (wall0, spt 0). */
        mpimap_results_iter it = {.q = p + at, .end = p + len, .count = 1};
        mpimap_results_rec r;
        if (mpimap_results_next(&it, &r) != 1)
            return MPIMAP_EINVAL;
        e->status = r.status;
        e->rank = -1;
        e->data = r.data;
        e->len = r.len;
        e->offset = (uint64_t)(r.data - p);
        e->where = where;
    } else if (kind == MPIMAP_JOURNAL_KIND_OLD) {
        if (len - at < MPIMAP_JOURNAL_ENTRY_HEADER)
            return MPIMAP_EINVAL;
        old_entry(p + at, at, e);
        if ((unsigned)e->status > MPIMAP_JOURNAL_DIED ||
            get_u64(p + at + 32) > len - at - MPIMAP_JOURNAL_ENTRY_HEADER) {
            memset(e, 0, sizeof *e);
            return MPIMAP_EINVAL;
        }
    } else if (kind == MPIMAP_JOURNAL_KIND_COMPACT) {
        const unsigned char *q = p + at;
        uint64_t delta;
        if (compact_entry(&q, p + len, 0, -1, e, &delta) < 0) {
            memset(e, 0, sizeof *e);
            return MPIMAP_EINVAL;
        }
        e->offset = (uint64_t)((const unsigned char *)e->data - p);
        e->where = where;
    } else {
        return MPIMAP_EINVAL;
    }
    e->index = 0;
    e->start = 0;
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

/* ---- writing -------------------------------------------------------------
 *
 * The map's thread queues what it is given (no lock): an entry's fields, or
 * a whole result set as it came from a rank (one memcpy for thousands of
 * items), and hands the queue over once per result set
 * (mpimap_journal_sync(j, 0)). A flusher thread encodes what was handed
 * over as compact entries, writes them as one record (or more) and
 * fdatasyncs it at most every interval seconds, and at once when asked
 * (force). So the map's thread spends a memcpy on an item, not its
 * encoding; results become durable within the interval even when no more
 * results arrive (a long item, a job about to hit its walltime), and the
 * map never waits for the disk. */

/* Handed over and not yet written: past JOURNAL_HURRY the flusher writes
 * without waiting for the interval; past JOURNAL_BACKLOG the map thread
 * waits for it (the memory a journal holds stays under about twice that). */
#define JOURNAL_HURRY ((size_t)8 << 20)
#define JOURNAL_BACKLOG ((size_t)16 << 20)

/* The queue's elements: a tag byte, then
 *   QUEUE_ENTRY: u64 index, u32 status, u32 rank, f64 start,
 *                f64 duration, u64 n, n bytes
 *   QUEUE_SET:   u64 index of its first item, u64 n, n bytes of a result
 *                set (engine.h) */
enum { QUEUE_ENTRY = 'E', QUEUE_SET = 'S' };
#define QUEUE_ENTRY_HEAD 41u
#define QUEUE_SET_HEAD 17u

/* The flusher's encoder: where its records' starts are counted from, the
 * last entry encoded, the open compact record of the buffer being filled
 * (its offset, NO_RECORD when there is none). */
struct encoder {
    double base;
    int have_base;
    uint64_t last_index;
    int64_t last_ns;
    size_t open;
};
#define NO_RECORD SIZE_MAX

struct mpimap_journal {
    int fd;
    double interval;
    /* the map thread only: what was added and not handed over */
    mpimap_buf queue;
    uint64_t nqueue;           /* its items */
    pthread_mutex_t lock;
    pthread_cond_t wake;       /* the flusher: something to do */
    pthread_cond_t done;       /* the map thread: a flush ended */
    pthread_t flusher;
    int stop, force;
    mpimap_buf handed;         /* handed over, not yet taken by the flusher */
    uint64_t pending;          /* items in handed */
    uint64_t writing;          /* items being encoded and written */
    uint64_t durable;
    int error;                 /* errno of a failed write or sync (sticky) */
    void (*on_durable)(void *arg, uint64_t durable);
    void *on_durable_arg;
    struct encoder enc;        /* the flusher only */
};

/* ---- compact entries ------------------------------------------------------ */

/* An entry takes at most this much besides its data: status, rank (5),
 * four varints of up to 10 bytes. */
#define ENTRY_MAX 46u
/* A record's header and base. */
#define RECORD_START (MPIMAP_JOURNAL_RECORD_HEADER + MPIMAP_JOURNAL_COMPACT_BASE)
#define NS_CAP ((int64_t)1 << 62)

/* d rounded to the nearest integer (halves to even), for |d| < 2^63:
 * below 2^51 adding and taking away 1.5 x 2^52 leaves no fraction (the
 * add rounds), above it d is within 0.5 of its truncation. A shorter
 * dependency chain than truncating, converting back and comparing the
 * fraction, done twice an entry. Needs IEEE double arithmetic (no
 * -ffast-math). */
static inline int64_t round_ns(double d)
{
    if (d < 0x1p51 && d > -0x1p51)
        d = (d + 0x1.8p52) - 0x1.8p52;
    return (int64_t)d;
}

/* A start as whole ns from base: a start that is not finite is base;
 * clamped to 2^62 ns either way. */
static inline int64_t start_ns(double base, double start)
{
    if (!isfinite(start))
        return 0;
    double d = (start - base) * 1e9;
    return d >= 0x1p62 ? NS_CAP : d <= -0x1p62 ? -NS_CAP : round_ns(d);
}

/* A duration as whole ns: 0 when negative or NaN, at most 2^62. */
static inline uint64_t duration_ns(double duration)
{
    double d = duration * 1e9;
    return !(d > 0) ? 0 : d >= 0x1p62 ? (uint64_t)NS_CAP : (uint64_t)round_ns(d);
}

/* The z of index after prev (expected prev + 1, maybe 2^64) into *z: 1,
 * or 0 when index is 2^63 or more from expected. */
static inline int index_z(uint64_t prev, uint64_t index, uint64_t *z)
{
    if (index > prev) {
        uint64_t d = index - prev - 1;
        *z = d << 1;
        return d <= (uint64_t)INT64_MAX;
    }
    uint64_t m1 = prev - index; /* the distance below expected, less 1 */
    *z = m1 << 1 | 1;
    return m1 <= (uint64_t)INT64_MAX;
}

/* Fill the header of the record of magic at h, total bytes with it. */
static void close_record(unsigned char *h, size_t total, uint32_t magic)
{
    uint64_t rl = total - MPIMAP_JOURNAL_RECORD_HEADER;
    put_u32(h, magic);
    put_u64(h + 8, rl);
    uint32_t crc = mpimap_crc32c(mpimap_crc32c(0, h, 4), h + 8, 8);
    put_u32(h + 4, mpimap_crc32c(crc, h + MPIMAP_JOURNAL_RECORD_HEADER, (size_t)rl));
}

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

/* Write buf (records, the compact one at open, if any, with its header
 * still to fill) and sync: 0 or errno. */
static int flush_record(int fd, mpimap_buf *buf, size_t open)
{
    unsigned char *h = buf->data;
    if (open != NO_RECORD)
        close_record(h + open, buf->len - open, MPIMAP_JOURNAL_RECORD_MAGIC3);
    off_t before = lseek(fd, 0, SEEK_END);
    if (write_all(fd, h, buf->len) < 0) {
        /* A partial record is a torn tail: cut it off, so that a later
         * record follows intact ones only. */
        int e = errno;
        if (before >= 0 && ftruncate(fd, before) != 0) {
            /* the reader ignores a torn tail anyway */
        }
        return e ? e : EIO;
    }
    return fdatasync(fd) == 0 ? 0 : (errno ? errno : EIO);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Encode one entry at the end of out (a new record when out is empty or
 * index is too far from the last one). 0 or MPIMAP_ENOMEM. */
static int encode_entry(struct encoder *en, mpimap_buf *out, uint64_t index, int status,
                        int rank, double start, double duration, const void *data, size_t len)
{
    if (!en->have_base) {
        en->base = isfinite(start) ? start : wall_now();
        en->have_base = 1;
    }
    int64_t ns = start_ns(en->base, start);
    size_t at = out->len;
    uint64_t z;
    int fresh = en->open == NO_RECORD || !index_z(en->last_index, index, &z);
    size_t need = (fresh ? RECORD_START : 0) + ENTRY_MAX;
    if (len > SIZE_MAX - at - need)
        return MPIMAP_ENOMEM;
    if (at + need + len > out->cap) {
        int rc = mpimap_buf_reserve(out, at + need + len);
        if (rc < 0)
            return rc;
    }
    unsigned char *b = out->data, *p = b + at;
    int64_t prev = en->last_ns;
    if (fresh) {
        if (en->open != NO_RECORD)
            close_record(b + en->open, at - en->open, MPIMAP_JOURNAL_RECORD_MAGIC3);
        en->open = at;
        put_u64(p + MPIMAP_JOURNAL_RECORD_HEADER, index);
        put_f64(p + MPIMAP_JOURNAL_RECORD_HEADER + 8, en->base);
        p += RECORD_START;
        z = 0;
        prev = 0;
    }
    *p++ = (unsigned char)status;
    p = put_varint(p, (uint64_t)rank);
    p = put_varint(p, z);
    p = put_varint(p, zigzag((int64_t)((uint64_t)ns - (uint64_t)prev)));
    p = put_varint(p, duration_ns(duration));
    p = put_varint(p, (uint64_t)len);
    if (len)
        memcpy(p, data, len);
    out->len = (size_t)(p - b) + len;
    en->last_index = index;
    en->last_ns = ns;
    return 0;
}

/* Append the result set of len bytes at set, whose first item is item
 * index, to out: as a record of its own, checked as the reader checks it,
 * or (a small set) as compact entries. 0, MPIMAP_ENOMEM, or MPIMAP_EINVAL. */
static int append_set(struct encoder *en, mpimap_buf *out, uint64_t index, const void *set,
                      size_t len)
{
    mpimap_results_iter it;
    mpimap_results_rec r;
    int rc = mpimap_results_begin(&it, set, len);
    if (rc == 0 && it.count < MPIMAP_JOURNAL_SET_MIN) {
        while ((rc = mpimap_results_next(&it, &r)) == 1)
            rc = encode_entry(en, out, index + it.i - 1, r.status, it.rank, r.start,
                              r.duration, r.data, r.len);
        return rc < 0 ? rc : it.q == it.end ? 0 : MPIMAP_EINVAL;
    }
    size_t at = out->len, head = MPIMAP_JOURNAL_RECORD_HEADER + MPIMAP_JOURNAL_SET_BASE;
    if (len > SIZE_MAX - at - head)
        return MPIMAP_ENOMEM;
    if ((rc = mpimap_buf_reserve(out, at + head + len)) < 0)
        return rc;
    unsigned char *h = out->data + at;
    put_u64(h + MPIMAP_JOURNAL_RECORD_HEADER, index);
    memcpy(h + head, set, len);
    if (walk_set(h + MPIMAP_JOURNAL_RECORD_HEADER, MPIMAP_JOURNAL_SET_BASE + len, 0, NULL,
                 NULL) != 0)
        return MPIMAP_EINVAL;
    if (en->open != NO_RECORD)
        close_record(out->data + en->open, at - en->open, MPIMAP_JOURNAL_RECORD_MAGIC3);
    en->open = NO_RECORD;
    close_record(h, head + len, MPIMAP_JOURNAL_RECORD_MAGIC4);
    out->len = at + head + len;
    return 0;
}

/* Encode a queue of len bytes into out: 0, MPIMAP_ENOMEM, or MPIMAP_EINVAL
 * for a malformed element (a result set the engine would refuse too). */
static int encode_queue(struct encoder *en, mpimap_buf *out, const unsigned char *q, size_t len)
{
    size_t off = 0;
    while (off < len) {
        int rc;
        unsigned char tag = q[off];
        if (tag == QUEUE_ENTRY && len - off >= QUEUE_ENTRY_HEAD) {
            const unsigned char *h = q + off + 1;
            uint64_t n = get_u64(h + 32);
            if (n > len - off - QUEUE_ENTRY_HEAD)
                return MPIMAP_EINVAL;
            rc = encode_entry(en, out, get_u64(h), (int)get_u32(h + 8), (int)get_u32(h + 12),
                              get_f64(h + 16), get_f64(h + 24), h + 40, (size_t)n);
            off += QUEUE_ENTRY_HEAD + n;
        } else if (tag == QUEUE_SET && len - off >= QUEUE_SET_HEAD) {
            uint64_t index = get_u64(q + off + 1), n = get_u64(q + off + 9);
            if (n > len - off - QUEUE_SET_HEAD)
                return MPIMAP_EINVAL;
            rc = append_set(en, out, index, q + off + QUEUE_SET_HEAD, (size_t)n);
            off += QUEUE_SET_HEAD + n;
        } else {
            return MPIMAP_EINVAL;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The flusher: encodes what is handed over as soon as it comes (so that
 * a sync finds little left to do), writes what it encoded and makes it
 * durable at most once an interval, or at once when asked to hurry or
 * when much is waiting. */
static void *flush_loop(void *arg)
{
    mpimap_journal *j = arg;
    mpimap_buf out = {0}, spare = {0};
    uint64_t encoded = 0; /* items in out */
    double last = 0;      /* when the last write ended (wall clock) */
    pthread_mutex_lock(&j->lock);
    for (;;) {
        while (!j->pending && !encoded && !j->stop)
            pthread_cond_wait(&j->wake, &j->lock);
        if (!j->pending && !encoded)
            break; /* stopped, nothing left */
        if (j->error) {
            /* Past a failure nothing is written: drop, and say so. */
            j->pending = 0;
            j->handed.len = 0;
            j->writing = 0;
            encoded = 0;
            out.len = 0;
            j->enc.open = NO_RECORD;
            pthread_cond_broadcast(&j->done);
            continue;
        }
        if (j->pending) {
            /* Take what was handed over; encode it without the lock. */
            mpimap_buf q = j->handed;
            j->handed = spare;
            j->handed.len = 0;
            uint64_t n = j->pending;
            j->pending = 0;
            j->writing += n;
            pthread_mutex_unlock(&j->lock);
            int rc = encode_queue(&j->enc, &out, q.data, q.len);
            spare = q;
            pthread_mutex_lock(&j->lock);
            encoded += n;
            if (rc < 0) {
                j->error = rc == MPIMAP_ENOMEM ? ENOMEM : EINVAL;
                continue;
            }
        }
        /* Write at most once an interval, unless asked to hurry. */
        double now = wall_now();
        if (!j->force && !j->stop && out.len < JOURNAL_HURRY && now < last + j->interval) {
            if (!j->pending) {
                double at = last + j->interval;
                struct timespec ts = {(time_t)at, (long)((at - (double)(time_t)at) * 1e9)};
                pthread_cond_timedwait(&j->wake, &j->lock, &ts);
            }
            continue;
        }
        uint64_t n = encoded;
        j->force = 0;
        pthread_mutex_unlock(&j->lock);
        int e = out.len ? flush_record(j->fd, &out, j->enc.open) : 0;
        out.len = 0;
        j->enc.open = NO_RECORD;
        encoded = 0;
        last = wall_now();
        pthread_mutex_lock(&j->lock);
        j->writing -= n;
        if (e)
            j->error = e;
        else
            j->durable += n;
        pthread_cond_broadcast(&j->done);
        if (!e && j->on_durable) {
            uint64_t durable = j->durable;
            pthread_mutex_unlock(&j->lock);
            j->on_durable(j->on_durable_arg, durable);
            pthread_mutex_lock(&j->lock);
        }
    }
    pthread_mutex_unlock(&j->lock);
    mpimap_buf_free(&out);
    mpimap_buf_free(&spare);
    return NULL;
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
    j->interval = interval > 0 ? interval : 0;
    j->enc.open = NO_RECORD;
    const char *m = MPIMAP_JOURNAL_FILE_MAGIC;
    if (write_all(j->fd, m, strlen(m)) < 0 || fdatasync(j->fd) != 0) {
        int saved = errno;
        close(j->fd);
        unlink(path);
        free(j);
        errno = saved;
        return MPIMAP_EIO;
    }
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->wake, NULL);
    pthread_cond_init(&j->done, NULL);
    if (pthread_create(&j->flusher, NULL, flush_loop, j) != 0) {
        close(j->fd);
        pthread_mutex_destroy(&j->lock);
        pthread_cond_destroy(&j->wake);
        pthread_cond_destroy(&j->done);
        free(j);
        errno = EAGAIN;
        return MPIMAP_EIO;
    }
    *out = j;
    return 0;
}

/* Room at the end of the queue for an element of head + len bytes (its
 * data copied in after the head), or NULL with *rc set. */
static unsigned char *queue_put(mpimap_journal *j, size_t head, const void *data, size_t len,
                                int *rc)
{
    size_t at = j->queue.len;
    if (len > SIZE_MAX - at - head) {
        *rc = MPIMAP_ENOMEM;
        return NULL;
    }
    if ((*rc = mpimap_buf_reserve(&j->queue, at + head + len)) < 0)
        return NULL;
    unsigned char *p = j->queue.data + at;
    if (len)
        memcpy(p + head, data, len);
    j->queue.len = at + head + len;
    return p;
}

int mpimap_journal_add(mpimap_journal *j, uint64_t index, int status, int rank,
                       double start, double duration, const void *data, size_t len)
{
    if ((unsigned)status > MPIMAP_JOURNAL_DIED || rank < 0)
        return MPIMAP_EINVAL;
    int rc;
    unsigned char *p = queue_put(j, QUEUE_ENTRY_HEAD, data, len, &rc);
    if (!p)
        return rc;
    p[0] = QUEUE_ENTRY;
    put_u64(p + 1, index);
    put_u32(p + 9, (uint32_t)status);
    put_u32(p + 13, (uint32_t)rank);
    put_f64(p + 17, start);
    put_f64(p + 25, duration);
    put_u64(p + 33, (uint64_t)len);
    j->nqueue++;
    return 0;
}

int mpimap_journal_add_set(mpimap_journal *j, uint64_t index, const void *set, size_t len)
{
    mpimap_results_iter it;
    if (mpimap_results_begin(&it, set, len) < 0 || it.rank < 0)
        return MPIMAP_EINVAL;
    int rc;
    unsigned char *p = queue_put(j, QUEUE_SET_HEAD, set, len, &rc);
    if (!p)
        return rc;
    p[0] = QUEUE_SET;
    put_u64(p + 1, index);
    put_u64(p + 9, (uint64_t)len);
    j->nqueue += it.count;
    return 0;
}

/* Hand the queue to the flusher (lock held). */
static int hand_over(mpimap_journal *j)
{
    if (!j->queue.len)
        return 0;
    if (!j->handed.len) {
        mpimap_buf t = j->handed;
        j->handed = j->queue;
        j->queue = t;
    } else {
        int rc = mpimap_buf_reserve(&j->handed, j->handed.len + j->queue.len);
        if (rc < 0)
            return rc;
        memcpy(j->handed.data + j->handed.len, j->queue.data, j->queue.len);
        j->handed.len += j->queue.len;
    }
    j->queue.len = 0;
    int was_idle = !j->pending;
    j->pending += j->nqueue;
    j->nqueue = 0;
    /* Much waiting: do not let memory grow until the interval is up. */
    if (j->handed.len > JOURNAL_HURRY)
        j->force = 1;
    if (was_idle || j->force)
        pthread_cond_signal(&j->wake);
    return 0;
}

int mpimap_journal_sync(mpimap_journal *j, int force)
{
    pthread_mutex_lock(&j->lock);
    int rc = hand_over(j);
    /* Results faster than the disk takes them (trivial items by the
     * million): wait for the flusher rather than hold them all in memory. */
    while (rc == 0 && !force && !j->error && j->handed.len > JOURNAL_BACKLOG) {
        j->force = 1;
        pthread_cond_signal(&j->wake);
        pthread_cond_wait(&j->done, &j->lock);
    }
    while (rc == 0 && force && !j->error && (j->pending || j->writing)) {
        j->force = 1;
        pthread_cond_signal(&j->wake);
        pthread_cond_wait(&j->done, &j->lock);
    }
    if (rc == 0 && j->error) {
        errno = j->error;
        rc = MPIMAP_EIO;
    }
    pthread_mutex_unlock(&j->lock);
    return rc < 0 ? rc : force ? 1 : 0;
}

void mpimap_journal_on_durable(mpimap_journal *j, void (*cb)(void *arg, uint64_t durable),
                               void *arg)
{
    pthread_mutex_lock(&j->lock);
    j->on_durable = cb;
    j->on_durable_arg = arg;
    pthread_mutex_unlock(&j->lock);
}

uint64_t mpimap_journal_durable(const mpimap_journal *j)
{
    if (!j)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&j->lock);
    uint64_t d = j->durable;
    pthread_mutex_unlock((pthread_mutex_t *)&j->lock);
    return d;
}

uint64_t mpimap_journal_pending(const mpimap_journal *j)
{
    if (!j)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&j->lock);
    uint64_t p = j->nqueue + j->pending + j->writing;
    pthread_mutex_unlock((pthread_mutex_t *)&j->lock);
    return p;
}

int mpimap_journal_close(mpimap_journal *j)
{
    if (!j)
        return 0;
    int rc = mpimap_journal_sync(j, 1);
    int saved = errno;
    pthread_mutex_lock(&j->lock);
    j->stop = 1;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->flusher, NULL);
    if (close(j->fd) != 0 && rc >= 0) {
        saved = errno;
        rc = MPIMAP_EIO;
    }
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->wake);
    pthread_cond_destroy(&j->done);
    mpimap_buf_free(&j->queue);
    mpimap_buf_free(&j->handed);
    free(j);
    errno = saved;
    return rc < 0 ? rc : 0;
}
