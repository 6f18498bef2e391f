/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * journal.h - the job's journal: every finished item's status and result,
 * made durable before the item counts as done (internal).
 *
 * A job directory holds journal.0, journal.1, ...: one file per run of the
 * job (the first run, each restart after a dead rank, each --resume), each
 * written by one process only, append-only, never rewritten. A file is
 *
 *   "MPIMAPJ1"                                  8 bytes, once
 *   then records, each:
 *     u32 magic, u32 crc, u64 len, len bytes of payload
 *   where crc is the CRC-32C of the 4 bytes of the magic, the 8 of len and
 *   the payload (0x4d4a5233, 0x4d4a5234) or of len and the payload only
 *   (the two older magics, which are still read: a bit flipped in a magic
 *   was not caught by the crc, and 1RJM and 2RJM differ in 2 bits), and the
 *   magic says how the payload holds its one or more entries:
 *
 *   0x4d4a5231 ("1RJM" little-endian; no longer written):
 *     entries, each:
 *       u64 index, u32 status, u32 rank, f64 start, f64 duration,
 *       u64 n, n bytes (the result when status is OK, else the reason)
 *
 *   0x4d4a5233 ("3RJM", compact; the one written) and 0x4d4a5232 ("2RJM",
 *   the same, no longer written):
 *     u64 base_index, f64 base_start, then entries, each:
 *       u8 status, v rank, z index - expected, z start delta (ns),
 *       v duration (ns), v n, n bytes (as above)
 *     v is an unsigned LEB128 varint (at most 10 bytes, below 2^64), z a
 *     zigzag one (x as v (x << 1) ^ (x >> 63)). expected is base_index for
 *     the first entry, the previous index + 1 after it; the start delta is
 *     from the previous entry's, the first's from base_start. An entry's
 *     start is base_start + (its and the earlier deltas summed as int64) /
 *     1e9 seconds, its duration ns / 1e9.
 *
 *   0x4d4a5234 ("4RJM", a result set; written for the sets of a first
 *   pass of MPIMAP_JOURNAL_SET_MIN results or more, one record each):
 *     u64 base_index, then a result set exactly as a rank sent it
 *     (engine.h: a 48-byte header with the rank, wall0 and spt, then a
 *     record of 3 varints and the bytes per item, 3 or 4 bytes for a
 *     trivial one). Its i-th result (from 0) is the entry of item
 *     base_index + i, status 0 OK or 1 FAILED, the set's rank, start and
 *     duration as engine.h counts them from wall0 in ticks of spt seconds.
 *     The flusher copies the set and computes its crc, nothing more.
 *
 * Malformed, any kind: a status other than 0 OK, 1 FAILED, 2 DIED; no
 * entry; entries that do not fill the payload exactly. Compact and result
 * set: a varint longer than 10 bytes or past 2^64 - 1, a rank past
 * INT_MAX, an index that is not in 0 .. 2^64 - 1 (expected plus the
 * difference wraps; base_index + count - 1 past it).
 * Integers are in the machine's byte order (the job runs on one kind of
 * machine). An entry's data is stored as it is, at its offset.
 *
 * The writer counts every start in whole ns from one base_start, the first
 * start it is given, and rounds each once: a start reads back within 0.5
 * ns and the double's rounding. A trivial entry (the next index, the same
 * rank, no result, times under a microsecond) takes 6 to 8 bytes; in a
 * result set it takes 3 or 4. The map's thread only queues what it is
 * given; a thread of the journal's own encodes it as it is handed over,
 * writes what it encoded since the last write as one record (or more: an
 * index 2^63 or more from the one expected starts another; each result
 * set is a record of its own) with one write(), and syncs it with
 * fdatasync(), at most every interval seconds: a crash loses at most the
 * last interval's items, which simply run again. A torn or corrupt record
 * (short, bad magic, bad crc, malformed entries) ends the file: it and
 * everything after it are ignored, never read as results.
 */
#ifndef MPIMAP_CORE_JOURNAL_H
#define MPIMAP_CORE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define MPIMAP_JOURNAL_FILE_MAGIC "MPIMAPJ1"
#define MPIMAP_JOURNAL_RECORD_MAGIC 0x4d4a5231u  /* entries of 40-byte headers */
#define MPIMAP_JOURNAL_RECORD_MAGIC2 0x4d4a5232u /* compact entries */
#define MPIMAP_JOURNAL_RECORD_MAGIC3 0x4d4a5233u /* the same, the crc covers the magic */
#define MPIMAP_JOURNAL_RECORD_MAGIC4 0x4d4a5234u /* a result set */
#define MPIMAP_JOURNAL_RECORD_HEADER 16u
#define MPIMAP_JOURNAL_ENTRY_HEADER 40u   /* of an entry of a 0x4d4a5231 record */
#define MPIMAP_JOURNAL_COMPACT_BASE 16u   /* base_index, base_start */
#define MPIMAP_JOURNAL_SET_BASE 8u        /* base_index */
/* A result set of fewer results is written as compact entries: its 72
 * bytes of headers would outweigh the bytes it saves. */
#define MPIMAP_JOURNAL_SET_MIN 16u

/* An entry's where: its offset in the file * 4 + the kind of its record. */
enum { MPIMAP_JOURNAL_KIND_OLD = 0, MPIMAP_JOURNAL_KIND_COMPACT = 1, MPIMAP_JOURNAL_KIND_SET = 2 };
#define MPIMAP_JOURNAL_KIND_BITS 2

/* An entry's status. DIED is an attempt, not an outcome: the rank died
 * while running the item (the driver writes it from a crash report). */
enum { MPIMAP_JOURNAL_OK = 0, MPIMAP_JOURNAL_FAILED = 1, MPIMAP_JOURNAL_DIED = 2 };

typedef struct mpimap_journal_entry {
    uint64_t index;
    int status;
    int rank;
    double start, duration;
    const void *data;
    size_t len;
    uint64_t offset; /* of data in the file */
    uint64_t where;  /* of the entry in the file, * 4, + its record's kind */
} mpimap_journal_entry;

/* Called for each entry; a non-zero return stops the scan with it. */
typedef int (*mpimap_journal_cb)(void *ctx, const mpimap_journal_entry *e);

/* CRC-32C (Castagnoli) of len bytes, continuing from crc (start with 0):
 * the SSE 4.2 instruction where the CPU has it. */
uint32_t mpimap_crc32c(uint32_t crc, const void *data, size_t len);
/* The same without the CPU's CRC instruction (slicing by 8), for tests. */
uint32_t mpimap_crc32c_portable(uint32_t crc, const void *data, size_t len);

/* Parse a journal file's bytes (file header included). Calls cb for every
 * entry of every intact record, in order. *good is set to the length of
 * the intact prefix (len when the file is whole): bytes past it are a torn
 * or corrupt tail. Returns 0, the callback's non-zero value, or
 * MPIMAP_EINVAL when the file header is missing or wrong (*good = 0). */
int mpimap_journal_parse(const void *buf, size_t len, mpimap_journal_cb cb, void *ctx,
                         size_t *good);

/* The entry at where (an entry's where) of a parsed file's bytes, again:
 * its status, rank, duration, data, len, offset and where;
 * index and start are 0 (a compact entry's depend on the entries before
 * it), and so are an entry's of a result set rank (-1) and duration (0):
 * they are in the set's header. 0, or MPIMAP_EINVAL when no entry is
 * there. */
int mpimap_journal_entry_at(const void *buf, size_t len, uint64_t where,
                            mpimap_journal_entry *e);

/* Read the file at path with mpimap_journal_parse() (mapped, not copied).
 * A missing file is MPIMAP_ENOTFOUND; an unreadable one MPIMAP_EIO. */
int mpimap_journal_scan(const char *path, mpimap_journal_cb cb, void *ctx, size_t *good);

/* ---- writing ------------------------------------------------------------ */

typedef struct mpimap_journal mpimap_journal;

/* Create path (it must not exist) for appending, and its flusher thread,
 * which writes and syncs what is handed over at most every interval
 * seconds (0: at once). */
int mpimap_journal_create(mpimap_journal **j, const char *path, double interval);

/* Call cb(arg, durable) on the flusher thread after each record is made
 * durable (durable: the entries made durable so far; no journal lock is
 * held). Set it before the first mpimap_journal_sync(). */
void mpimap_journal_on_durable(mpimap_journal *j, void (*cb)(void *arg, uint64_t durable),
                               void *arg);

/* Add one entry (memory only, not yet handed over; the flusher encodes it
 * compact). A duration that is negative or NaN is written as 0, one of
 * 2^62 ns or more as 2^62 ns; a start that is not finite as base_start,
 * one 2^62 ns or more from it as that far. MPIMAP_EINVAL: status not one
 * of the three, rank < 0. */
int mpimap_journal_add(mpimap_journal *j, uint64_t index, int status, int rank,
                       double start, double duration, const void *data, size_t len);

/* Add an entry for every result of a result set (engine.h) whose first
 * item is item index, the next index + 1 and so on: the set is copied and
 * written as it is, a 0x4d4a5234 record; one of fewer than
 * MPIMAP_JOURNAL_SET_MIN results as the compact entries
 * mpimap_journal_add() would write for them (none: nothing).
 * MPIMAP_EINVAL when it is shorter than its header; a set malformed
 * further on fails the journal (MPIMAP_EIO from the next sync, errno
 * EINVAL) when the flusher checks it, and is not written. */
int mpimap_journal_add_set(mpimap_journal *j, uint64_t index, const void *set, size_t len);

/* Hand the entries added so far to the flusher (it writes them as one or
 * more records within the interval, also when nothing more comes); with
 * force, wait until everything is durable. Returns 1 after a forced sync,
 * 0 otherwise, or MPIMAP_EIO (errno set) once a write or sync has failed:
 * the entries of that record are not durable, nor any later ones. */
int mpimap_journal_sync(mpimap_journal *j, int force);

/* Entries made durable so far, and entries added but not yet durable. */
uint64_t mpimap_journal_durable(const mpimap_journal *j);
uint64_t mpimap_journal_pending(const mpimap_journal *j);

/* Sync what is left (force), stop the flusher and close. Returns 0 or
 * MPIMAP_EIO. NULL is allowed. */
int mpimap_journal_close(mpimap_journal *j);

#endif /* MPIMAP_CORE_JOURNAL_H */
