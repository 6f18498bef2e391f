/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_journal.c - libFuzzer target for the journal reader
 * (mpimap_journal_parse of journal.c) and its CRC-32C.
 *
 * Each input is parsed twice: as it is, and as a copy whose file magic,
 * record magics and CRCs are set right (so the fuzzer reaches the entries
 * without having to forge a CRC; a record magic is kept, any other
 * bytes made one of the four). Checked: every entry lies inside the intact
 * prefix, after its record's header, its offset matches its data, its
 * status is known, its rank not negative, and mpimap_journal_entry_at()
 * finds it again at its where; *good
 * is a record boundary (reparsing buf[0..good) gives the same entries and
 * the same good); a callback that stops the scan is obeyed and its value
 * returned; the CRC is the same computed in one piece or two.
 */
#include <stdint.h>

#include <mpimap/mpimap.h>

#include "fuzz_common.h"
#include "journal.h"

struct ctx {
    const unsigned char *buf;
    size_t len;
    uint64_t entries;
    uint64_t stop_at;  /* return 7 from this entry on (0: never) */
    size_t max_end;    /* end of the furthest entry's data */
    uint64_t hash;     /* of every entry seen, for comparisons */
};

static int on_entry(void *vctx, const mpimap_journal_entry *e)
{
    struct ctx *c = vctx;
    const unsigned char *d = e->data;
    FUZZ_CHECK(e != NULL);
    size_t ml = strlen(MPIMAP_JOURNAL_FILE_MAGIC);
    int kind = (int)(e->where & ((1u << MPIMAP_JOURNAL_KIND_BITS) - 1));
    int compact = kind == MPIMAP_JOURNAL_KIND_COMPACT, set = kind == MPIMAP_JOURNAL_KIND_SET;
    FUZZ_CHECK(kind == MPIMAP_JOURNAL_KIND_OLD || compact || set);
    uint64_t at = e->where >> MPIMAP_JOURNAL_KIND_BITS; /* the entry */
    FUZZ_CHECK(at >= ml + MPIMAP_JOURNAL_RECORD_HEADER +
                         (compact ? MPIMAP_JOURNAL_COMPACT_BASE
                          : set   ? MPIMAP_JOURNAL_SET_BASE + 48 /* the set's header */
                                  : 0));
    /* its header: 40 bytes, at least 6 (compact), at least 3 (a set's) */
    FUZZ_CHECK(compact ? e->offset >= at + 6
               : set   ? e->offset >= at + 3
                       : e->offset == at + MPIMAP_JOURNAL_ENTRY_HEADER);
    FUZZ_CHECK(d <= c->buf + c->len);
    FUZZ_CHECK(e->len <= (size_t)(c->buf + c->len - d));
    FUZZ_CHECK(e->offset == (uint64_t)(d - c->buf));
    FUZZ_CHECK(e->status == MPIMAP_JOURNAL_OK || e->status == MPIMAP_JOURNAL_FAILED ||
               e->status == MPIMAP_JOURNAL_DIED);
    FUZZ_CHECK(kind == MPIMAP_JOURNAL_KIND_OLD || e->rank >= 0);
    FUZZ_CHECK(!set || e->status != MPIMAP_JOURNAL_DIED);
    if (kind == MPIMAP_JOURNAL_KIND_OLD) {
        /* The entry header is just before the data, in the buffer. */
        uint64_t index;
        memcpy(&index, d - MPIMAP_JOURNAL_ENTRY_HEADER, 8);
        FUZZ_CHECK(index == e->index);
    }
    /* Found again where it is. */
    mpimap_journal_entry a;
    FUZZ_CHECK(mpimap_journal_entry_at(c->buf, c->len, e->where, &a) == 0);
    FUZZ_CHECK(a.status == e->status && a.data == e->data && a.len == e->len &&
               a.offset == e->offset && a.where == e->where);
    if (set) { /* rank and duration are in the set's header */
        FUZZ_CHECK(a.rank == -1 && a.duration == 0);
    } else {
        FUZZ_CHECK(a.rank == e->rank);
        FUZZ_CHECK(memcmp(&a.duration, &e->duration, sizeof a.duration) == 0);
    }
    /* Touch every byte (ASan checks the reads). */
    uint64_t h = c->hash ^ e->index;
    for (size_t i = 0; i < e->len; i++)
        h = (h ^ d[i]) * 1099511628211u;
    uint64_t t[2];
    memcpy(&t[0], &e->start, 8);
    memcpy(&t[1], &e->duration, 8);
    c->hash = h * 31 + e->len + (uint64_t)e->offset + t[0] * 7 + t[1] * 13 +
              (uint64_t)(unsigned)e->rank * 17 + (uint64_t)e->status;
    size_t end = (size_t)(d - c->buf) + e->len;
    if (end > c->max_end)
        c->max_end = end;
    c->entries++;
    if (c->stop_at && c->entries >= c->stop_at)
        return 7;
    return 0;
}

static void check(const unsigned char *buf, size_t len)
{
    struct ctx c = {.buf = buf, .len = len};
    size_t good = (size_t)-1;
    int rc = mpimap_journal_parse(buf, len, on_entry, &c, &good);
    FUZZ_CHECK(rc == 0 || rc == MPIMAP_EINVAL);
    FUZZ_CHECK(good <= len);
    size_t ml = strlen(MPIMAP_JOURNAL_FILE_MAGIC);
    if (rc == MPIMAP_EINVAL) {
        FUZZ_CHECK(good == 0);
        FUZZ_CHECK(c.entries == 0);
        FUZZ_CHECK(len < ml || memcmp(buf, MPIMAP_JOURNAL_FILE_MAGIC, ml) != 0);
        return;
    }
    FUZZ_CHECK(good >= ml);
    FUZZ_CHECK(c.max_end <= good);

    /* The same without a callback. */
    size_t good0 = (size_t)-1;
    FUZZ_CHECK(mpimap_journal_parse(buf, len, NULL, NULL, &good0) == 0);
    FUZZ_CHECK(good0 == good);

    /* The intact prefix alone parses whole, to the same entries. */
    struct ctx c2 = {.buf = buf, .len = good};
    size_t good2 = (size_t)-1;
    FUZZ_CHECK(mpimap_journal_parse(buf, good, on_entry, &c2, &good2) == 0);
    FUZZ_CHECK(good2 == good);
    FUZZ_CHECK(c2.entries == c.entries);
    FUZZ_CHECK(c2.hash == c.hash);

    /* A callback that stops half way is obeyed. */
    if (c.entries) {
        struct ctx c3 = {.buf = buf, .len = len, .stop_at = c.entries / 2 + 1};
        size_t good3 = (size_t)-1;
        FUZZ_CHECK(mpimap_journal_parse(buf, len, on_entry, &c3, &good3) == 7);
        FUZZ_CHECK(c3.entries == c3.stop_at);
        FUZZ_CHECK(good3 >= ml && good3 <= good);
    }
}

/* Set the magics and CRCs of buf right, record by record, as far as the
 * lengths allow. */
static void fix_up(unsigned char *buf, size_t len)
{
    size_t ml = strlen(MPIMAP_JOURNAL_FILE_MAGIC);
    if (len < ml)
        return;
    memcpy(buf, MPIMAP_JOURNAL_FILE_MAGIC, ml);
    size_t off = ml;
    while (len - off >= MPIMAP_JOURNAL_RECORD_HEADER) {
        unsigned char *h = buf + off;
        /* "1RJM" to "4RJM", by the first byte ('1' to '4' keep theirs) */
        static const uint32_t magics[] = {
            MPIMAP_JOURNAL_RECORD_MAGIC, MPIMAP_JOURNAL_RECORD_MAGIC2,
            MPIMAP_JOURNAL_RECORD_MAGIC3, MPIMAP_JOURNAL_RECORD_MAGIC4};
        uint32_t magic = magics[(unsigned char)(h[0] - '1') % 4];
        memcpy(h, &magic, 4);
        uint64_t rl;
        memcpy(&rl, h + 8, 8);
        if (rl > len - off - MPIMAP_JOURNAL_RECORD_HEADER)
            return;
        /* the newest magics' crc covers the magic */
        int covered =
            magic == MPIMAP_JOURNAL_RECORD_MAGIC3 || magic == MPIMAP_JOURNAL_RECORD_MAGIC4;
        uint32_t crc = covered ? mpimap_crc32c(0, h, 4) : 0;
        crc = mpimap_crc32c(crc, h + 8, 8);
        crc = mpimap_crc32c(crc, h + MPIMAP_JOURNAL_RECORD_HEADER, (size_t)rl);
        memcpy(h + 4, &crc, 4);
        off += MPIMAP_JOURNAL_RECORD_HEADER + (size_t)rl;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The check value of CRC-32C. */
    FUZZ_CHECK(mpimap_crc32c(0, "123456789", 9) == 0xe3069283u);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy: exactly size bytes, so ASan sees any overread. */
    unsigned char *buf = malloc(size ? size : 1);
    FUZZ_SETUP(buf != NULL);
    if (size)
        memcpy(buf, data, size);
    check(buf, size);

    /* CRC in two pieces at every kind of alignment = in one. */
    if (size) {
        size_t cut = data[0] % (size + 1);
        uint32_t whole = mpimap_crc32c(0, buf, size);
        FUZZ_CHECK(mpimap_crc32c(mpimap_crc32c(0, buf, cut), buf + cut, size - cut) == whole);
        if (size > 1)
            FUZZ_CHECK(mpimap_crc32c(0, buf + 1, size - 1) ==
                       mpimap_crc32c(mpimap_crc32c(0, buf + 1, cut ? cut - 1 : 0),
                                     buf + 1 + (cut ? cut - 1 : 0),
                                     size - 1 - (cut ? cut - 1 : 0)));
    }

    fix_up(buf, size);
    check(buf, size);
    free(buf);
    return 0;
}

/* journal.c's writer reads the clock through engine.c's mpimap_now(),
 * which this target does not build; the reader never calls it. */
double mpimap_now(void);
double mpimap_now(void)
{
    return 0;
}
